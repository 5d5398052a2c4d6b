#!/usr/bin/env python3
"""A stand-in for mpiexec whose relaunch is stuck before the job starts (seen once with Open MPI
5.0.11 on the emulated cluster): the first launch runs the program (the first word after the
options salrun adds), the next ones never start it and never exit. $FAKE_STUCK_MARKER is the file
that records the first launch; with $FAKE_STUCK_FIRST=1 it is the other way round (the first launch
is stuck, the next ones run the program). With $FAKE_PROBE_PIDS set, the stuck launch appends its
pid there so that the test can check salrun ended it."""
import os
import signal
import subprocess
import sys
import time

# salrun asks `mpiexec --version` which launcher family it runs: answer as Open MPI's does.
if sys.argv[1:] == ["--version"]:
    print("mpiexec (Open MPI) 5.0.11")
    sys.exit(0)

args = sys.argv[1:]
while args and args[0] in ("--with-ft", "-n", "-x"):
    args = args[2:]
marker = os.environ["FAKE_STUCK_MARKER"]
first = not os.path.exists(marker)
if first:
    open(marker, "w").close()
if first != (os.environ.get("FAKE_STUCK_FIRST") == "1"):
    sys.exit(subprocess.run(args).returncode)
# Open MPI's mpiexec passes SIGUSR1/SIGUSR2 on to the ranks (here none) and keeps running.
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
if os.environ.get("FAKE_PROBE_PIDS"):
    with open(os.environ["FAKE_PROBE_PIDS"], "a") as f:
        f.write("%d\n" % os.getpid())
while True:
    time.sleep(60)
