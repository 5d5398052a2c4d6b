#!/usr/bin/env python3
"""A start that fails on some ranks ends every rank, with the same clear error, in bounded time.

4 ranks of heat2d under salrun; the configuration file (SAL_CONFIG) exists for ranks 0-1 only, as
when it lies on the launch host only. Every rank must stop within 30 s: ranks 2-3 naming the
missing file, ranks 0-1 naming the ranks that could not start; salrun fails without a relaunch
(--max-restarts 0). No process may be left behind (before the fix, ranks 0-1 waited forever in the
first collective of sal_init).
Exit status 0 when every check holds, 1 with the reasons on stderr.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import run  # noqa: E402

CHOOSE = ('if [ "${OMPI_COMM_WORLD_RANK:-0}" -lt 2 ]; then export SAL_CONFIG="$0/ok.ini"; '
          'else export SAL_CONFIG="$0/missing.ini"; fi; exec "$@"')


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sal-start-") as tmp:
        with open(os.path.join(tmp, "ok.ini"), "w") as f:
            f.write("interval = 20\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAL_")}
        env["SAL_CKPT_DIR"] = os.path.join(tmp, "ckpt")
        cmd = [args.salrun, "-n", "4", "--job", "start", "--max-restarts", "0", "--", "/bin/sh",
               "-c", CHOOSE, tmp, args.program, "-n", "64", "-s", "50"]
        print("+ " + " ".join(cmd), flush=True)
        t0 = time.monotonic()
        r = run(cmd, timeout=30, env=env, settle=3)
        secs = time.monotonic() - t0
        sys.stdout.write(r.output)
        if r.timed_out:
            fail("the job did not end within 30 s")
        if r.leftovers:
            fail("ranks outlived mpiexec: %s" % "; ".join(r.leftovers))
        if r.returncode != 1:
            fail("salrun exited with status %s, not 1" % r.returncode)
        missing = os.path.join(tmp, "missing.ini")
        if r.output.count("cannot open configuration file %s" % missing) < 2:
            fail("ranks 2-3 do not name the missing file")
        if r.output.count("ranks 2,3 of 4 could not start") < 2:
            fail("ranks 0-1 do not name the ranks that could not start")
    print("PASSED: every rank stopped in %.1f s with the error" % secs)


if __name__ == "__main__":
    main()
