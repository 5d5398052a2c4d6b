#!/usr/bin/env python3
"""A rank frozen (SIGSTOP) at the commit agreement of a checkpoint: nothing in the job can end it.

Its peers wait in the agreement until their protocol bound (protocol_timeout, set short here) and
kill themselves with a "bound" event; the frozen rank keeps the launch alive, so salrun, seeing no
event for protocol_timeout seconds after the bound, ends the launch and relaunches the job, which
restores the last committed checkpoint and ends with the failure-free answer. Nothing of the first
launch may be left behind. Exit status 0 when every check holds, 1 with the reasons on stderr.
"""
import argparse
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--timeout", type=float, default=90)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sal-stopped-") as tmp:
        ref, _ = salrun(args, tmp, "ref", ["--max-restarts", "0"], {})
        got, out = salrun(args, tmp, "j", ["--max-restarts", "1", "--inject",
                                           "rank=3,step=100,point=ckpt_agree,signal=STOP"],
                          {"SAL_PROTOCOL_TIMEOUT": "3"})
        if got != ref:
            fail("checksum %s, failure-free %s" % (got, ref))
        for what in ("overran its bound of", "has written no event since: ending mpiexec",
                     "relaunching", "job restarted on 4 ranks"):
            if what not in out:
                fail("missing from the output: %r" % what)
        with open(os.path.join(tmp, "j.events.jsonl")) as f:
            bounds = [e for e in map(json.loads, f) if e["event"] == "bound"]
        if not bounds or any("commit agreement of checkpoint 5" not in e["step"] for e in bounds):
            fail("expected bound events of the commit agreement of checkpoint 5: %r" % bounds)
    print("PASSED: %d ranks overran their bound, the launch was ended and relaunched; %s"
          % (len(bounds), ref))


if __name__ == "__main__":
    main()
