#!/usr/bin/env python3
"""Runs one scenario of heat2d (or of another program that prints the same checksum line, e.g.
world_app) under salrun and checks it.

reference mode: a failure-free run; writes its checksum line to --reference.
check mode:     a run with injected failures (salrun --max-restarts 0, so only in-job recovery counts);
                asserts the checksum equals the reference bit for bit, that every injected failure was
                repaired (one "resume" event each), that no survivor was restarted (its pid is the same
                in its "start" and "finish" events), that each killed rank finished in a replacement
                and that each injected hang was ended by the watchdog (one "hang" event each).
Exit status 0 on success, 1 on a failed check, with the reason on stderr.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import read_events, run as run_cmd  # noqa: E402

# The result line, '<name>: ... checksum=<16 hex digits> ...': heat2d's and heat2d_f90's say
# "heat2d:", world_app's "world_app:".
CHECKSUM = re.compile(r"^[A-Za-z0-9_.-]+: .*checksum=[0-9a-f]{16}.*$", re.M)


# The upstream races a scenario may run again for, once, when its CMake line names them
# (--upstream-retry KIND; docs/reliability.md, "Every test runs once"). Any other failure, and a
# second occurrence, fails the scenario.
# abort: Open MPI 5.0.11 ends a survivor of a failure with this message when a send request that
# ULFM completed with an error gets its fragment back.
UPSTREAM_ABORT = "An error occurred in Send error after request freed"
# spawn: a repair's MPI_Comm_spawn_multiple of two replacements that never returns, because one
# replacement stays in PMIx_Init (its connection to the launcher's PMIx server never answered):
# the repair overran its bound, and no replacement wrote its start event after the placements.
# the spawn's own bound (half the repair's) fires first; the repair's, before the spawn had one
UPSTREAM_SPAWN = ("the spawn of the replacements has not ended",
                  "the repair after a process failure has not ended")
UPSTREAM_WHAT = {
    "abort": "Open MPI ended a survivor with \"%s\"" % UPSTREAM_ABORT,
    "spawn": "the spawn of the replacements never returned (a replacement stayed in PMIx_Init)",
}


def spawn_never_started(output, tmp):
    """True when the run is the upstream spawn hang: the bound overran, and after the last placement
    no replacement started."""
    if not any(what in output for what in UPSTREAM_SPAWN):
        return False
    path = os.path.join(tmp, "scenario.events.jsonl")
    if not os.path.exists(path):
        return False
    evs = read_events(path, fail)
    last = max((i for i, e in enumerate(evs) if e.get("event") == "placement"), default=None)
    if last is None:
        return False
    return not any(e.get("event") == "start" and e.get("replacement") for e in evs[last + 1:])


def upstream_race(kind, output, tmp):
    if kind == "abort":
        return UPSTREAM_ABORT in output
    if kind == "spawn":
        return spawn_never_started(output, tmp)
    return False


class UpstreamRace(Exception):
    pass


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(args, tmp, inject):
    cmd = [args.salrun, "-n", str(args.np), "--job", "scenario", "--ckpt-dir", tmp,
           "--log-dir", tmp, "--interval", str(args.interval), "--max-restarts", "0"]
    if inject:
        cmd += ["--inject", inject]
    cmd += args.salrun_arg
    cmd += ["--", args.program] + args.program_args
    print("+ " + " ".join(cmd), flush=True)
    env = dict(os.environ)
    for kv in args.env:
        key, _, value = kv.partition("=")
        env[key] = value
    proc = run_cmd(cmd, timeout=args.timeout, env=env)
    sys.stdout.write(proc.output)
    if proc.timed_out:
        log = os.path.join(tmp, "scenario.events.jsonl")
        if os.path.exists(log):
            with open(log) as f:
                sys.stdout.write("---- last events\n" + "".join(f.readlines()[-12:]))
        fail("salrun did not end within %g s" % args.timeout)
    if proc.leftovers:
        fail("processes outlived salrun: %s" % "; ".join(proc.leftovers))
    if proc.returncode != 0:
        if args.upstream_retry and upstream_race(args.upstream_retry, proc.output, tmp):
            raise UpstreamRace()
        fail("salrun exited with status %d" % proc.returncode)
    for pattern in args.expect:
        if not re.search(pattern, proc.output, re.M):
            fail("no line matches %r in the output above" % pattern)
    lines = CHECKSUM.findall(proc.stdout)
    if len(lines) != 1:
        fail("expected one checksum line, found %d" % len(lines))
    return lines[0]


def events(tmp):
    path = os.path.join(tmp, "scenario.events.jsonl")
    if not os.path.exists(path):
        fail("no event log at " + path)
    return read_events(path, fail)


def killed_ranks(inject):
    return sorted({int(m) for m in re.findall(r"rank=(\d+)", inject)})


def check_events(evs, inject, recoveries, np):
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
    hangs = len(re.findall(r"action=hang", inject))
    if len([e for e in evs if e["event"] == "hang"]) != hangs:
        fail("expected %d hang events (the watchdog killing a hung rank)" % hangs)
    # Processes are told apart by pid: rank numbers change under the shrink policy.
    killed_pids = {e["pid"] for e in fired}
    started = [e for e in evs if e["event"] == "start"]
    finished = [e for e in evs if e["event"] == "finish"]
    fin_pids = [e["pid"] for e in finished]
    if len(set(fin_pids)) != len(fin_pids):
        fail("a process finished twice: pids %s" % fin_pids)
    for e in finished:
        if e.get("status") != "ok":
            fail("rank %d (pid %d) finished with status %r" % (e["rank"], e["pid"], e.get("status")))
    final = finished[0].get("nranks") if finished else None
    if final is None or len(finished) != final or sorted(e["rank"] for e in finished) != list(range(final)):
        fail("the job ended with finish events of ranks %s, expected ranks 0..%s"
             % (sorted(e["rank"] for e in finished), final))
    for e in started:
        if not 0 <= e.get("age_at_init", -1) < 60:
            fail("start of rank %d (pid %d): age_at_init %r, expected the seconds from its exec to "
                 "sal_init" % (e["rank"], e["pid"], e.get("age_at_init")))
    lost = [e for e in started if e["pid"] not in killed_pids and e["pid"] not in fin_pids]
    for e in lost:
        fail("process %d (rank %d at its start) was lost without an injected failure"
             % (e["pid"], e["rank"]))
    if not killed:
        return
    # Every lost rank got a decision, and every respawned one a placement (host, cores, reason).
    decided = [e for e in evs if e["event"] == "policy"]
    placed = {e["lost_rank"] for e in evs if e["event"] == "placement"}
    for d in decided:
        if d["action"] == "respawn" and d["lost_rank"] not in placed:
            fail("lost rank %d was respawned without a placement event" % d["lost_rank"])
    replacements = [e for e in started if e.get("replacement")]
    shrunk = final < np
    if not shrunk and len(replacements) < len(killed):
        fail("%d replacement start(s) for killed ranks %s" % (len(replacements), killed))
    for r in resumes:
        print("recovered in %.3f s, resumed at step %d" % (r["total_seconds"], r["step"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--interval", default="20")
    p.add_argument("--inject", default="")
    p.add_argument("--salrun-arg", action="append", default=[], metavar="ARG",
                   help="one more argument for salrun (repeat), e.g. --salrun-arg=--spares")
    p.add_argument("--reference", required=True)
    # A scenario takes 1-3 s; 60 s leaves room for a loaded machine and keeps a hang cheap.
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="set in the environment of salrun and the ranks, e.g. SAL_HANG_TIMEOUT=2")
    p.add_argument("--recoveries", type=int, default=None,
                   help="expected in-job recoveries (default: one per injection)")
    p.add_argument("--expect", action="append", default=[], metavar="REGEX",
                   help="a line the run must print (repeat), e.g. the renumbering after a shrink")
    p.add_argument("--upstream-retry", choices=sorted(UPSTREAM_WHAT), default=None,
                   help="run once more when, and only when, the run failed by this upstream race "
                        "(UPSTREAM_WHAT); says so on a 'RETRY upstream' line")
    p.add_argument("program_args", nargs="*")
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="sal-scenario-")
    ok = False
    try:
        try:
            line = run(args, tmp, args.inject)
        except UpstreamRace:
            print("scenario: RETRY upstream: %s (docs/reliability.md); running the scenario once "
                  "more" % UPSTREAM_WHAT[args.upstream_retry], flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            args.upstream_retry = None
            line = run(args, tmp, args.inject)
        if not args.inject:
            with open(args.reference, "w") as f:
                f.write(line + "\n")
            print("reference: " + line)
            ok = True
            return
        with open(args.reference) as f:
            ref = f.read().strip()
        check_events(events(tmp), args.inject, args.recoveries, args.np)
        # The number of ranks may differ (policy shrink); the field may not, to the last bit.
        if line.split("checksum=")[1] != ref.split("checksum=")[1]:
            fail("checksum differs from the failure-free run:\n  got       %s\n  reference %s"
                 % (line, ref))
        print("IDENTICAL to the failure-free run: " + line)
        ok = True
    finally:
        # A failed check keeps the run's event and rank logs for its analysis.
        if ok or os.environ.get("SCENARIO_KEEP_FILES") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept the run's files in " + tmp, file=sys.stderr)


if __name__ == "__main__":
    main()
