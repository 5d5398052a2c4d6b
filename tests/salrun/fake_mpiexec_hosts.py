#!/usr/bin/env python3
"""A stand-in for mpiexec on a cluster where host "slow-host" hangs: salrun's probe of it
(`--host slow-host ... echo salrun-probe`) never ends, and a launch whose hostfile names it fails
with status 1. The first probe of host "race-host" loses Open MPI's start race (status 213 at once;
$FAKE_RACE_MARKER is the file that records it). Any other launch runs the program (the first word
after the options salrun adds). With $FAKE_PROBE_PIDS set, each probe appends its pid to that file,
so that the test can check salrun killed it; with $FAKE_PROBE_ARGS set, its arguments, one line per
probe; with $FAKE_LAUNCH_HOSTS set, each launch (not a probe) appends its -n and the lines of its
hostfile, without comments, as one line separated by "|". A launch whose hostfile names "lost-host" says what PRRTE says when it loses a daemon, naming
that host, and exits with status 1; a probe of lost-host never ends."""
import os
import subprocess
import sys
import time

# salrun asks `mpiexec --version` which launcher family it runs: answer as Open MPI's does.
if sys.argv[1:] == ["--version"]:
    print("mpiexec (Open MPI) 5.0.11")
    sys.exit(0)

args = sys.argv[1:]
if "--host" in args and os.environ.get("FAKE_PROBE_ARGS"):
    with open(os.environ["FAKE_PROBE_ARGS"], "a") as f:
        f.write(" ".join(args) + "\n")
if "--host" in args and args[args.index("--host") + 1] in ("slow-host", "lost-host"):
    if os.environ.get("FAKE_PROBE_PIDS"):
        with open(os.environ["FAKE_PROBE_PIDS"], "a") as f:
            f.write("%d\n" % os.getpid())
    while True:
        time.sleep(60)
if "--host" in args and args[args.index("--host") + 1] == "race-host":
    marker = os.environ["FAKE_RACE_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        sys.exit(213)
if "--hostfile" in args and "--host" not in args and os.environ.get("FAKE_LAUNCH_HOSTS"):
    with open(args[args.index("--hostfile") + 1]) as f:
        lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    with open(os.environ["FAKE_LAUNCH_HOSTS"], "a") as f:
        f.write("|".join([args[args.index("-n") + 1]] + lines) + "\n")
if "--hostfile" in args:
    with open(args[args.index("--hostfile") + 1]) as f:
        if any(line.split()[:1] == ["slow-host"] for line in f):
            print("fake mpiexec: cannot start a daemon on slow-host", file=sys.stderr)
            sys.exit(1)
    with open(args[args.index("--hostfile") + 1]) as f:
        if any(line.split()[:1] == ["lost-host"] for line in f):
            sys.stderr.write(
                "-" * 74 + "\nPRTE has lost communication with a remote daemon.\n\n"
                "  HNP daemon   : [prterun-here-1234@0,0] on node here\n"
                "  Remote daemon: [prterun-here-1234@0,1] on node lost-host\n\n"
                "This is usually due to either a failure of the TCP network\n" + "-" * 74 + "\n")
            sys.exit(1)
WORDS = {"--with-ft": 2, "-n": 2, "-x": 2, "--hostfile": 2, "--host": 2, "--prefix": 2,
         "--pmixmca": 3, "--prtemca": 3}
while args and args[0] in WORDS:
    args = args[WORDS[args[0]]:]
sys.exit(subprocess.run(args).returncode)
