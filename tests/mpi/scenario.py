#!/usr/bin/env python3
"""Runs one heat2d scenario under salrun and checks it.

reference mode: a failure-free run; writes its checksum line to --reference.
check mode:     a run with injected failures (salrun --max-restarts 0, so only in-job recovery counts);
                asserts the checksum equals the reference bit for bit, that every injected failure was
                repaired (one "resume" event each), that no survivor was restarted (its pid is the same
                in its "start" and "finish" events) and that each killed rank finished in a replacement.
Exit status 0 on success, 1 on a failed check, with the reason on stderr.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

CHECKSUM = re.compile(r"^heat2d: .*checksum=[0-9a-f]{16}.*$", re.M)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, tmp, inject):
    cmd = [args.salrun, "-n", str(args.np), "--job", "scenario", "--ckpt-dir", tmp,
           "--log-dir", tmp, "--interval", str(args.interval), "--max-restarts", "0"]
    if inject:
        cmd += ["--inject", inject]
    cmd += ["--", args.program] + args.program_args
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=args.timeout)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        fail("salrun exited with status %d" % proc.returncode)
    lines = CHECKSUM.findall(proc.stdout)
    if len(lines) != 1:
        fail("expected one checksum line, found %d" % len(lines))
    return lines[0]


def events(tmp):
    path = os.path.join(tmp, "scenario.events.jsonl")
    if not os.path.exists(path):
        fail("no event log at " + path)
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                out.append(json.loads(line))
            except ValueError:
                fail("%s line %d is not JSON: %r" % (path, n, line))
    return out


def killed_ranks(inject):
    return sorted({int(m) for m in re.findall(r"rank=(\d+)", inject)})


def check_events(evs, inject, recoveries):
    killed = killed_ranks(inject)
    fired = [e for e in evs if e["event"] == "inject"]
    resumes = [e for e in evs if e["event"] == "resume"]
    if len(fired) != len(inject.split(";")):
        fail("%d injections fired, expected %d" % (len(fired), len(inject.split(";"))))
    # Failures at the same moment, or during a repair, are recovered together.
    expected = len(fired) if recoveries is None else recoveries
    if len(resumes) != expected:
        fail("%d recoveries (resume events) for %d failures, expected %d"
             % (len(resumes), len(fired), expected))
    starts, finishes = {}, {}
    for e in evs:
        if e["event"] == "start":
            starts.setdefault(e["rank"], []).append(e)
        elif e["event"] == "finish":
            finishes.setdefault(e["rank"], []).append(e)
    for rank in sorted(finishes):
        if len(finishes[rank]) != 1:
            fail("rank %d finished %d times" % (rank, len(finishes[rank])))
        fin = finishes[rank][0]
        if fin.get("status") != "ok":
            fail("rank %d finished with status %r" % (rank, fin.get("status")))
        first = starts[rank][0]
        if rank in killed:
            repl = [s for s in starts[rank] if s.get("replacement")]
            if not repl or fin["pid"] != repl[-1]["pid"]:
                fail("killed rank %d did not finish in its replacement" % rank)
        elif len(starts[rank]) != 1 or fin["pid"] != first["pid"]:
            fail("survivor rank %d was restarted (pids %s then %d)"
                 % (rank, [s["pid"] for s in starts[rank]], fin["pid"]))
    for r in resumes:
        print("recovered in %.3f s, resumed at step %d" % (r["total_seconds"], r["step"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--interval", default="20")
    p.add_argument("--inject", default="")
    p.add_argument("--reference", required=True)
    p.add_argument("--timeout", type=float, default=150)
    p.add_argument("--recoveries", type=int, default=None,
                   help="expected in-job recoveries (default: one per injection)")
    p.add_argument("program_args", nargs="*")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sal-scenario-")
    try:
        line = run(args, tmp, args.inject)
        if not args.inject:
            with open(args.reference, "w") as f:
                f.write(line + "\n")
            print("reference: " + line)
            return
        with open(args.reference) as f:
            ref = f.read().strip()
        check_events(events(tmp), args.inject, args.recoveries)
        if line != ref:
            fail("checksum differs from the failure-free run:\n  got       %s\n  reference %s"
                 % (line, ref))
        print("IDENTICAL to the failure-free run: " + line)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
