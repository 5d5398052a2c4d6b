#!/usr/bin/env python3
"""Per-rank data (heat2d --local: sal_protect_local, (rank + 1) * 1000 + 17 bytes on each rank, a
function of the rank and the step checked before every step) across the restores that keep the
number of ranks, and refused by the one that does not:
  1. a relaunch without ULFM after a kill at step 170 restores every rank's bytes from its own file
     and gives the failure-free answer;
  2. the same with the node-local files of ranks 2-3 deleted (their pretend host lost) restores
     them from the partner copies (L2);
  3. a shrink (policy shrink, a kill at step 70) cannot give rank 1's bytes to anyone: the job
     fails, naming the region and both numbers of ranks, without a result.
Exit status 0 when every check holds, 1 with the reasons on stderr.
"""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from ckpt_files import lose_ranks  # noqa: E402
from cases import salrun_args  # noqa: E402
from procs import run_checked  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=([0-9a-f]{16})", re.M)
HEAT = ["-n", "256", "-s", "400", "--local"]
REFUSED = ('region "hist" is per-rank data (sal_protect_local) and cannot be restored on 3 ranks '
           'from a checkpoint of 4 ranks; use a global array (sal_protect) for data that must be '
           'redistributed')


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def salrun(args, tmp, job, extra, env_extra=None, want=0):
    cmd = [args.salrun, "-n", "4", "--job", job, "--ckpt-dir", tmp, "--log-dir", tmp,
           "--interval", "50", "--restart-delay", "0"] + extra + ["--", args.program] + HEAT
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAL_")}
    env.update(env_extra or {})
    return run_checked(cmd, args.timeout, env, fail, want)


def checksum(proc, what):
    sums = CHECKSUM.findall(proc.stdout)
    if len(sums) != 1:
        fail("%s: expected one checksum line, found %d" % (what, len(sums)))
    return sums[0]


def restored(proc, what):
    if "per-rank data wrong" in proc.stdout:
        fail("%s: a rank found other bytes than it saved" % what)
    if "from step 0" in proc.stdout:
        fail("%s: the relaunch started over from step 0" % what)


def main():
    args = salrun_args(timeout=60)
    kill = ["--no-ulfm", "--inject", "rank=2,step=170"]
    l2 = {"SAL_LEVELS": "L1,L2", "SAL_FAKE_HOST_RANKS": "2"}
    with tempfile.TemporaryDirectory(prefix="sal-local-") as tmp:
        ref = checksum(salrun(args, tmp, "ref", ["--max-restarts", "0"]), "failure-free run")

        out = salrun(args, tmp, "relaunch", ["--max-restarts", "1"] + kill)
        restored(out, "relaunch")
        if "job restarted on 4 ranks" not in out.stdout:
            fail("relaunch: the job was not relaunched")
        if checksum(out, "relaunch") != ref:
            fail("relaunch: another checksum than the failure-free run")

        salrun(args, tmp, "partner", ["--max-restarts", "0"] + kill, l2, want=None)
        lose_ranks(os.path.join(tmp, "partner"), (2, 3), fail)
        out = salrun(args, tmp, "partner", ["--max-restarts", "0"], l2)
        restored(out, "relaunch from L2")
        if checksum(out, "relaunch from L2") != ref:
            fail("relaunch from L2: another checksum than the failure-free run")

        out = salrun(args, tmp, "shrink", ["--max-restarts", "0", "--policy", "shrink",
                                           "--inject", "rank=1,step=70"], want=None)
        if out.returncode == 0:
            fail("shrink: the job succeeded")
        if CHECKSUM.search(out.stdout):
            fail("shrink: a result was printed")
        if REFUSED not in out.stdout:
            fail("shrink: missing from the output: %r" % REFUSED)
    print("PASSED: per-rank data restored by a relaunch and from L2 (%s); a shrink refused" % ref)


if __name__ == "__main__":
    main()
