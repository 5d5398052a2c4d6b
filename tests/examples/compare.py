#!/usr/bin/env python3
"""Runs an example twice and compares its result line bit for bit.

The reference is --before run with mpiexec (a plain MPI program), or else --program under salrun
without failures. The checked run is --program under salrun (--max-restarts 0, so only in-job
recovery counts, with the --salrun-arg words) with the failures of --inject; each injection must
have been repaired (one "resume" event each). With --relaunch the checked run has no in-job
recovery (--no-ulfm --max-restarts 1) and must end after exactly one relaunch. The result line is the one line of the output starting with "<prefix>: ".
Exit status 0 when identical, 1 otherwise, with the reason on stderr.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import launcher_cmd, run  # noqa: E402


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def result_line(cmd, prefix, timeout, env=None, want=None):
    print("+ " + " ".join(cmd), flush=True)
    # A plain mpiexec launch removes the session directory of a killed launcher of its pid first
    # (launcher_cmd); salrun does so itself.
    launch = launcher_cmd(cmd) if os.path.basename(cmd[0]).startswith("mpiexec") else cmd
    proc = run(launch, timeout=timeout, env=env)
    # Open MPI 5's mpiexec that still fails to start ("The PMIx server's listener thread failed to
    # start", status 213, before any rank ran) is launched again, at most twice, exactly as salrun
    # does (docs/salrun.md).
    for attempt in (2, 3):
        if proc.returncode != 213 or "listener thread failed to start" not in proc.stdout:
            break
        sys.stdout.write(proc.stdout + "compare: mpiexec did not start; launching again "
                         "(attempt %d of 3)\n" % attempt)
        proc = run(launch, timeout=timeout, env=env)
    sys.stdout.write(proc.stdout)
    if proc.timed_out:
        fail("%s did not end within %g s" % (cmd[0], timeout))
    if proc.leftovers:
        fail("processes outlived %s: %s" % (cmd[0], "; ".join(proc.leftovers)))
    if proc.returncode != 0:
        fail("%s exited with status %d" % (cmd[0], proc.returncode))
    if want and not re.search(want, proc.stdout, re.M):
        fail("no line matches %r in the output above" % want)
    lines = re.findall(r"^%s: .*$" % re.escape(prefix), proc.stdout, re.M)
    if len(lines) != 1:
        fail("expected one '%s:' line, found %d" % (prefix, len(lines)))
    return lines[0]


def resumes(tmp, job):
    path = os.path.join(tmp, job + ".events.jsonl")
    if not os.path.exists(path):
        fail("no event log at " + path)
    with open(path) as f:
        return [e for e in map(json.loads, f) if e.get("event") == "resume"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--before", help="plain MPI program giving the reference, run with --mpiexec")
    p.add_argument("--mpiexec")
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--interval", default="20")
    p.add_argument("--inject", default="")
    p.add_argument("--timeout", type=float, default=150)
    p.add_argument("--salrun-arg", action="append", default=[], metavar="ARG",
                   help="one more salrun argument for the checked run (repeat)")
    p.add_argument("--relaunch", action="store_true",
                   help="the checked run recovers by a relaunch (--no-ulfm), not in-job")
    p.add_argument("program_args", nargs="*")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sal-example-")
    try:
        def salrun(job, inject, extra=(), want=None):
            cmd = [args.salrun, "-n", str(args.np), "--job", job, "--ckpt-dir", tmp, "--log-dir", tmp,
                   "--interval", args.interval, "--max-restarts", "0"] + list(extra)
            if inject:
                cmd += ["--inject", inject]
            return result_line(cmd + ["--", args.program] + args.program_args, args.prefix,
                               args.timeout, want=want)

        if args.before:
            if not args.mpiexec:
                fail("--before needs --mpiexec")
            env = dict(os.environ, PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
            ref = result_line([args.mpiexec, "-n", str(args.np), args.before] + args.program_args,
                              args.prefix, args.timeout, env)
        else:
            ref = salrun("reference", "")
        if args.relaunch:
            got = salrun("checked", args.inject,
                         args.salrun_arg + ["--no-ulfm", "--max-restarts", "1", "--restart-delay", "0"],
                         want=r"^salrun: job 'checked' finished: .*, 1 restart, ")
        else:
            got = salrun("checked", args.inject, args.salrun_arg)
        if args.inject and not args.relaunch:
            n = len(resumes(tmp, "checked"))
            if n != len(args.inject.split(";")):
                fail("%d recoveries for %d injected failures" % (n, len(args.inject.split(";"))))
        if got != ref:
            fail("results differ:\n  got       %s\n  reference %s" % (got, ref))
        print("IDENTICAL: " + got)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
