#!/usr/bin/env python3
"""A stand-in for mpiexec that reproduces a hang seen with Open MPI 5 under --with-ft ulfm: it runs
the program (the first word after the options salrun adds: --with-ft X, -n X, -x X), waits for it,
then never exits. Used with salrun --mpiexec to test that salrun ends such an mpiexec."""
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
subprocess.run(args)
while True:
    time.sleep(60)
