#!/usr/bin/env python3
"""A relaunch that finds committed checkpoints none of which every rank can read must fail loudly.

What the loss of the host of ranks 2-3 does to node-local L1, on one host:
  1. heat2d runs without ULFM and is killed at step 170 (checkpoints at steps 50, 100, 150);
  2. the node-local files of ranks 2 and 3 are deleted from every checkpoint;
  3. the relaunch must not start over from step 0 with the data of a later step in the arrays of
     ranks 0-1 (the silent wrong answer): it fails with the checkpoints and ranks named, salrun
     does not relaunch it, and no checksum is printed;
  4. with restart=never the user starts over on purpose and gets the failure-free answer;
  5. in-job (ULFM): rank 0 is killed at step 170 and its replacement pauses in its restore while
     rank 0's node-local files are deleted. The repaired job cannot restore, but that verdict is
     not final (on a cluster the data can live on a host with no process of the job left): salrun
     relaunches, and it is the relaunch's own start that finds the checkpoints unrestorable, writes
     the only `unrestorable` event and stops.
Exit status 0 when every check holds, 1 with the reasons on stderr.
"""
import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from ckpt_files import lose_ranks  # noqa: E402
from cases import salrun_args  # noqa: E402
from procs import read_events, run_checked  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=([0-9a-f]{16})", re.M)
HEAT = ["-n", "256", "-s", "400"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def salrun(args, tmp, job, extra, env_extra=None, want=None):
    cmd = [args.salrun, "-n", "4", "--job", job, "--ckpt-dir", tmp, "--interval", "50",
           "--restart-delay", "0"] + extra + ["--", args.program] + HEAT
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAL_")}
    env.update(env_extra or {})
    proc = run_checked(cmd, args.timeout, env, fail, want)
    return proc


def checksum(proc):
    sums = CHECKSUM.findall(proc.stdout)
    if len(sums) != 1:
        fail("expected one checksum line, found %d" % len(sums))
    return sums[0]


def lose_rank0_in_restore(tmp, job, done):
    """Deletes rank 0's node-local files once its replacement paused in its restore (the inject
    event of point restore); sets done[0] when it did."""
    path = os.path.join(tmp, job + ".events.jsonl")
    end = time.monotonic() + 50
    while time.monotonic() < end:
        try:
            with open(path) as f:
                evs = [json.loads(line) for line in f if line.strip()]
        except (OSError, ValueError):
            evs = []
        if any(e.get("event") == "inject" and e.get("point") == "restore" for e in evs):
            lose_ranks(os.path.join(tmp, job), (0,), print)
            done[0] = True
            return
        time.sleep(0.05)


def in_job(args, tmp):
    done = [False]
    watch = threading.Thread(target=lose_rank0_in_restore, args=(tmp, "k", done))
    watch.start()
    out = salrun(args, tmp, "k", ["--max-restarts", "3", "--log-dir", tmp, "--inject",
                                  "rank=0,step=170;rank=0,point=restore,action=sleep,seconds=3"],
                 want=1).stdout
    watch.join()
    if not done[0]:
        fail("rank 0's replacement never paused in its restore")
    evs = read_events(os.path.join(tmp, "k.events.jsonl"), fail)
    if not any(e["event"] == "start" and e.get("replacement") for e in evs):
        fail("no replacement was spawned: the kill was not repaired in-job")
    if out.count("salrun: job restarted on 4 ranks") != 1:
        fail("expected one relaunch after the in-job restore failed, found %d"
             % out.count("salrun: job restarted on 4 ranks"))
    unrestorable = [e for e in evs if e["event"] == "unrestorable"]
    if len(unrestorable) != 1:
        fail("expected one unrestorable event (the relaunch's), found %d" % len(unrestorable))
    for what in ("no data for rank 0",
                 "not relaunched (a relaunch would find the same checkpoints)"):
        if what not in out:
            fail("missing from the output: %r" % what)
    if CHECKSUM.search(out):
        fail("a checksum was printed from a job without rank 0's data")


def main():
    args = salrun_args(timeout=60)
    with tempfile.TemporaryDirectory(prefix="sal-partial-") as tmp:
        ref = checksum(salrun(args, tmp, "ref", ["--max-restarts", "0"], want=0))
        salrun(args, tmp, "j", ["--max-restarts", "0", "--no-ulfm", "--inject", "rank=2,step=170"],
               want=1)
        lose_ranks(os.path.join(tmp, "j"), (2, 3), fail)
        out = salrun(args, tmp, "j", ["--max-restarts", "3"], want=1).stdout
        if CHECKSUM.search(out):
            fail("the relaunch printed a checksum: it computed from lost checkpoints")
        if "starting job 'j' from step 0" in out:
            fail("the relaunch started over from step 0 without being asked to")
        for what in ("none of the 3 committed checkpoints can be restored",
                     "checkpoint 3 (step 150, levels L1): no data for ranks 2-3",
                     "checkpoint 1 (step 50, levels L1): no data for ranks 2-3",
                     "levels that would have covered them: L2",
                     "not relaunched (a relaunch would find the same checkpoints)"):
            if what not in out:
                fail("missing from the output: %r" % what)
        if out.count("salrun: job restarted on 4 ranks") != 1:
            fail("expected exactly one launch of the unrestorable job")
        fresh = checksum(salrun(args, tmp, "j", ["--max-restarts", "0"],
                                env_extra={"SAL_RESTART": "never"}, want=0))
        if fresh != ref:
            fail("restart=never: checksum %s, failure-free %s" % (fresh, ref))
        in_job(args, tmp)
    print("PASSED: unrestorable checkpoints fail the relaunch; restart=never gives %s; an "
          "in-job restore without data is relaunched, and the relaunch stops" % ref)


if __name__ == "__main__":
    main()
