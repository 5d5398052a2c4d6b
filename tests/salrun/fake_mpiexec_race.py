#!/usr/bin/env python3
"""A stand-in for mpiexec that fails to start as Open MPI 5's launcher does ("The PMIx server's
listener thread failed to start", status 213, before any rank ran), then runs the program (the
first word after the options salrun adds). With $FAKE_RACE_MARKER: the first launch (no such file
yet) fails. With $FAKE_SESSION_DIRS=1: a launch fails when the session directory of its pid,
$TMPDIR/ompi.<pid>, exists already, as the real one does when a killed launcher of the same pid left
it behind."""
import os
import subprocess
import sys

# salrun asks `mpiexec --version` which launcher family it runs: answer as Open MPI's does.
if sys.argv[1:] == ["--version"]:
    print("mpiexec (Open MPI) 5.0.11")
    sys.exit(0)

marker = os.environ.get("FAKE_RACE_MARKER")
session = os.path.join(os.environ.get("TMPDIR") or "/tmp", "ompi.%d" % os.getpid())
if os.environ.get("FAKE_SESSION_DIRS") == "1":
    fails = os.path.isdir(session)
else:
    fails = not os.path.exists(marker)
    if fails:
        open(marker, "w").close()
if fails:
    sys.stderr.write("--------------------------------------------------------------------------\n"
                     "The PMIx server's listener thread failed to start. We cannot\ncontinue.\n"
                     "--------------------------------------------------------------------------\n")
    sys.exit(213)
args = sys.argv[1:]
while args and args[0] in ("--with-ft", "-n", "-x"):
    args = args[2:]
sys.exit(subprocess.run(args).returncode)
