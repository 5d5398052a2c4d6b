#!/usr/bin/env python3
"""A rank frozen (SIGSTOP) at the commit agreement of a checkpoint, in a restore and in sal_init:
nothing in the job can end it.

Its peers wait in the agreement until their protocol bound (protocol_timeout, set short here) and
kill themselves with a "bound" event; the frozen rank keeps the launch alive, so salrun, seeing no
event for protocol_timeout seconds after the bound, ends the launch and relaunches the job, which
restores the last committed checkpoint and ends with the failure-free answer. Nothing of the first
launch may be left behind. Exit status 0 when every check holds, 1 with the reasons on stderr.
"""
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from cases import salrun_args  # noqa: E402
from procs import run_checked  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=([0-9a-f]{16})", re.M)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def salrun(args, tmp, job, extra, env_extra):
    cmd = [args.salrun, "-n", "4", "--job", job, "--ckpt-dir", tmp, "--interval", "20",
           "--restart-delay", "0"] + extra + ["--", args.program]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAL_")}
    env.update(env_extra)
    p = run_checked(cmd, args.timeout, env, fail)
    sums = CHECKSUM.findall(p.output)
    if len(sums) != 1:
        fail("expected one checksum line, found %d" % len(sums))
    return sums[0], p.output


ENDED = "has written no event since: ending mpiexec"
# (job, injected faults, the step the bound events must name, lines the output must have)
CASES = [
    ("agree", "rank=3,step=100,point=ckpt_agree,signal=STOP", "of checkpoint 5",
     [ENDED, "job restarted on 4 ranks"]),
    # rank 1 dies; rank 2 freezes in the restore that follows the repair: the others wait in the
    # restore's exchanges.
    ("restore", "rank=1,step=50;rank=2,point=restore,signal=STOP",
     "the protocol of the restore", [ENDED, "job restarted on 4 ranks"]),
    # rank 2 freezes in sal_init before its first exchange: the others wait in start-up. That
    # exchange runs on the application's MPI_COMM_WORLD, whose default handler is fatal: a rank that
    # sees its peer's bound kill there aborts the launch (mpiexec exits by itself), or salrun ends
    # it; either way the job is relaunched.
    ("init", "rank=2,point=init,signal=STOP", "the start-up protocol of sal_init", []),
]


def main():
    args = salrun_args(timeout=90)
    with tempfile.TemporaryDirectory(prefix="sal-stopped-") as tmp:
        ref, _ = salrun(args, tmp, "ref", ["--max-restarts", "0"], {})
        for job, inject, step, lines in CASES:
            got, out = salrun(args, tmp, job, ["--max-restarts", "1", "--inject", inject],
                              {"SAL_PROTOCOL_TIMEOUT": "3"})
            if got != ref:
                fail("%s: checksum %s, failure-free %s" % (job, got, ref))
            for what in ["overran its bound of", "relaunching"] + lines:
                if what not in out:
                    fail("%s: missing from the output: %r\n%s" % (job, what, out))
            with open(os.path.join(tmp, job + ".events.jsonl")) as f:
                bounds = [e for e in map(json.loads, f) if e["event"] == "bound"]
            if not bounds or any(step not in e["step"] for e in bounds):
                fail("%s: expected bound events of %r: %r" % (job, step, bounds))
            print("%s: %d ranks overran their bound (%s), the launch was ended and relaunched; %s"
                  % (job, len(bounds), step, ref), flush=True)
    print("PASSED")


if __name__ == "__main__":
    main()
