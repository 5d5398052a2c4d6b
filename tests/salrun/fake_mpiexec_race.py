#!/usr/bin/env python3
"""A stand-in for mpiexec that loses Open MPI 5's start race once: the first launch (no file
$FAKE_RACE_MARKER yet) prints the launcher's message for it on standard error and exits with status
213 before any rank ran; later launches run the program (the first word after the options salrun
adds)."""
import os
import subprocess
import sys

# salrun asks `mpiexec --version` which launcher family it runs: answer as Open MPI's does.
if sys.argv[1:] == ["--version"]:
    print("mpiexec (Open MPI) 5.0.11")
    sys.exit(0)

marker = os.environ["FAKE_RACE_MARKER"]
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.stderr.write("--------------------------------------------------------------------------\n"
                     "The PMIx server's listener thread failed to start. We cannot\ncontinue.\n"
                     "--------------------------------------------------------------------------\n")
    sys.exit(213)
args = sys.argv[1:]
while args and args[0] in ("--with-ft", "-n", "-x"):
    args = args[2:]
sys.exit(subprocess.run(args).returncode)
