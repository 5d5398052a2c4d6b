#!/usr/bin/env python3
"""Relaunch mode with an MPI that has no ULFM (Debian's Open MPI 4.1).

1. Configures and builds a second Salamander tree (heat2d and salrun only) with Debian's compiler
   wrapper and mpiexec, and asserts that SAL_WITH_ULFM=AUTO came out OFF.
2. Runs heat2d under that salrun without failures (the reference checksum), then with one rank
   SIGKILLed and --max-restarts 2: mpiexec ends the job, salrun relaunches it, sal_init restores
   the latest committed checkpoint, and the final checksum must equal the reference bit for bit.
   The event log must show two "start" events of rank 0, the second with "restart": true, and a
   restore.
3. When given the ULFM build's salrun and heat2d (--ulfm-salrun, --ulfm-program), recovers the
   same failure in-job with them and prints both recovery times: from the kill to the resumed
   computation.

Exit status 0 on success, 1 on a failed check, with the reason on stderr.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import kill_session, read_events, session_members  # noqa: E402


CHECKSUM = re.compile(r"^heat2d: .*checksum=[0-9a-f]{16}.*$", re.M)
ULFM_STATUS = re.compile(r"Salamander: ULFM (ON|OFF) \(MPI: ([^,]*),")
RELAUNCH_LINE = re.compile(r"^salrun: .*; relaunching in [0-9.]+ s \(restart 1 of 2\)$")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def show(cmd):
    print("+ " + " ".join(cmd), flush=True)


def check_prerequisites(args):
    for path, what in ((args.mpicc, "compiler wrapper"), (args.mpiexec, "mpiexec")):
        if not os.access(path, os.X_OK):
            fail("Debian's Open MPI %s %s is missing: install libopenmpi-dev and openmpi-bin "
                 "(scripts/setup.sh does)" % (what, path))


def configure_and_build(args):
    """Configures args.build_dir against Debian's Open MPI and builds heat2d and salrun."""
    cmd = [args.cmake, "-S", args.source, "-B", args.build_dir,
           "-DMPI_C_COMPILER=" + args.mpicc, "-DMPIEXEC_EXECUTABLE=" + args.mpiexec,
           "-DSAL_WITH_ULFM=AUTO", "-DSAL_BUILD_TESTS=OFF", "-DSAL_BUILD_BENCH=OFF",
           "-DSAL_BUILD_EXAMPLES=ON", "-DSAL_WERROR=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
    show(cmd)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=debian_env(), timeout=120)
    if r.returncode != 0:
        fail("configuring the Debian Open MPI tree failed:\n" + r.stdout)
    m = ULFM_STATUS.search(r.stdout)
    if not m:
        fail("the configure output has no 'Salamander: ULFM ...' line:\n" + r.stdout)
    print(m.group(0).rstrip(",") + ")")
    if m.group(1) != "OFF":
        fail("SAL_WITH_ULFM=AUTO with %s gave ULFM %s; Open MPI 4.1 has no ULFM"
             % (args.mpicc, m.group(1)))
    if os.path.realpath(m.group(2)) != os.path.realpath(args.mpicc):
        fail("the tree was configured with %s, not %s (remove %s and retry)"
             % (m.group(2), args.mpicc, args.build_dir))
    t0 = time.time()
    cmd = [args.cmake, "--build", args.build_dir, "--target", "heat2d", "salrun", "-j2"]
    show(cmd)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=debian_env(), timeout=300)
    if r.returncode != 0:
        fail("building heat2d and salrun against Debian's Open MPI failed:\n" + r.stdout[-6000:])
    print("built heat2d and salrun in %.1f s" % (time.time() - t0))
    salrun = os.path.join(args.build_dir, "runtime", "salrun", "salrun")
    heat2d = os.path.join(args.build_dir, "examples", "heat2d", "heat2d")
    r = subprocess.run([salrun, "--version"], stdout=subprocess.PIPE, text=True, timeout=30)
    if r.returncode != 0 or "ULFM: no" not in r.stdout or args.mpiexec not in r.stdout:
        fail("%s --version should report 'ULFM: no' and %s:\n%s" % (salrun, args.mpiexec, r.stdout))
    return salrun, heat2d


def debian_env():
    """The caller's environment without Salamander's settings, without Open MPI 5's variables and
    without another Open MPI's bin directory on PATH, so nothing of the ULFM build leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SAL_", "PRTE_", "PMIX_", "OMPI_MCA_", "OPAL_"))}
    path = [d for d in env.get("PATH", "").split(":")
            if d and not os.path.exists(os.path.join(d, "prterun"))]
    env["PATH"] = ":".join(path)
    return env


def ulfm_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("SAL_")}


def run(salrun, heat2d, tmp, job, env, extra, timeout):
    """Runs heat2d under salrun; returns (checksum line, stderr lines with arrival times)."""
    cmd = [salrun, "-n", "4", "--job", job, "--ckpt-dir", os.path.join(tmp, job),
           "--interval", "20"] + extra + ["--", heat2d]
    show(cmd)
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        watchdog = threading.Timer(timeout, kill_session, (proc.pid, signal.SIGKILL))
        watchdog.start()
        lines = []
        for line in proc.stderr:
            lines.append((time.time(), line.rstrip("\n")))
            sys.stdout.write(line)
        status = proc.wait()
        expired = not watchdog.is_alive()
        watchdog.cancel()
        out.seek(0)
        stdout = out.read()
    sys.stdout.write(stdout)
    sys.stdout.flush()
    if expired:
        fail("salrun (job %s) did not end within %d s and was killed" % (job, timeout))
    left = session_members(proc.pid)
    if left:
        kill_session(proc.pid, signal.SIGKILL)
        fail("processes outlived salrun (job %s): %s" % (job, left))
    if status != 0:
        fail("salrun (job %s) exited with status %d" % (job, status))
    sums = CHECKSUM.findall(stdout)
    if len(sums) != 1:
        fail("job %s: expected one checksum line, found %d" % (job, len(sums)))
    return sums[0], lines


def events(tmp, job):
    path = os.path.join(tmp, job, job + ".events.jsonl")
    return sorted(read_events(path, fail), key=lambda e: e["ts"])


def only(evs, kind, what):
    found = [e for e in evs if e["event"] == kind]
    if len(found) != 1:
        fail("expected one %s event (%s), found %d" % (kind, what, len(found)))
    return found[0]


def check_relaunch(evs, lines):
    """Checks the log and stderr of the relaunched job; returns its timings in seconds."""
    kill = only(evs, "inject", "the injected SIGKILL")
    starts = [e for e in evs if e["event"] == "start" and e["rank"] == 0]
    if len(starts) != 2:
        fail("expected two start events of rank 0 (launch and relaunch), found %d" % len(starts))
    if starts[0].get("restart") is not False or starts[1].get("restart") is not True:
        fail("rank 0's start events should say restart false, then true: %s"
             % [s.get("restart") for s in starts])
    if any(e["event"] in ("failure", "resume") for e in evs):
        fail("a build without ULFM recorded an in-job recovery")
    restore = only(evs, "restore", "the relaunched job loading its checkpoint")
    if not starts[1]["ts"] <= restore["ts"]:
        fail("the restore event comes before the relaunched job started")
    fin = [e for e in evs if e["event"] == "finish"]
    if len(fin) != 4 or any(e.get("status") != "ok" or e["pid"] == starts[0]["pid"] for e in fin):
        fail("expected four finish events with status ok from the relaunched processes: %s" % fin)
    relaunch = [t for t, line in lines if RELAUNCH_LINE.match(line)]
    if len(relaunch) != 1:
        fail("salrun printed %d relaunch lines, expected one matching %r"
             % (len(relaunch), RELAUNCH_LINE.pattern))
    print("restored checkpoint %d (step %d); injected kill at step %d"
          % (restore["id"], restore["step"], kill["step"]))
    return {"kill_to_relaunch_line": relaunch[0] - kill["ts"],
            "kill_to_start": starts[1]["ts"] - kill["ts"],
            "kill_to_restored": restore["ts"] - kill["ts"]}


def check_in_job(evs):
    """Checks the log of the in-job recovery; returns its timings in seconds."""
    kill = only(evs, "inject", "the injected SIGKILL")
    failure = only(evs, "failure", "the detected failure")
    resume = only(evs, "resume", "the end of the in-job recovery")
    if any(e["event"] == "start" and e.get("restart") and not e.get("replacement") for e in evs):
        fail("the ULFM build relaunched the job instead of recovering in-job")
    detect = failure["detected"] - kill["ts"]
    return {"detect": detect, "total_seconds": resume["total_seconds"],
            "kill_to_resumed": resume["ts"] - kill["ts"],
            "detect_plus_total": detect + resume["total_seconds"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--source", required=True)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--cmake", default="cmake")
    p.add_argument("--mpicc", default="/usr/bin/mpicc.openmpi")
    p.add_argument("--mpiexec", default="/usr/bin/mpiexec.openmpi")
    p.add_argument("--inject", default="rank=1,step=70,signal=KILL")
    p.add_argument("--ulfm-salrun")
    p.add_argument("--ulfm-program")
    p.add_argument("--timeout", type=int, default=60)
    args = p.parse_args()
    check_prerequisites(args)
    salrun, heat2d = configure_and_build(args)
    tmp = tempfile.mkdtemp(prefix="sal-relaunch-")
    try:
        ompi4 = debian_env()
        if os.geteuid() == 0:
            ompi4.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        ref, _ = run(salrun, heat2d, tmp, "reference", ompi4,
                     ["--max-restarts", "0", "--oversubscribe"], args.timeout)
        got, lines = run(salrun, heat2d, tmp, "relaunch", ompi4,
                         ["--max-restarts", "2", "--inject", args.inject, "--oversubscribe"],
                         args.timeout)
        if got != ref:
            fail("the relaunched job's checksum differs from the failure-free run:\n"
                 "  got       %s\n  reference %s" % (got, ref))
        print("IDENTICAL to the failure-free run after a relaunch: " + got)
        rl = check_relaunch(events(tmp, "relaunch"), lines)
        print("relaunch (Open MPI 4.1, no ULFM): kill -> salrun's relaunch line %.3f s, "
              "-> rank 0 started again %.3f s, -> checkpoint restored %.3f s "
              "(includes the 1 s --restart-delay)"
              % (rl["kill_to_relaunch_line"], rl["kill_to_start"], rl["kill_to_restored"]))
        if args.ulfm_salrun and args.ulfm_program:
            got, _ = run(args.ulfm_salrun, args.ulfm_program, tmp, "injob", ulfm_env(),
                         ["--max-restarts", "0", "--inject", args.inject], args.timeout)
            if got != ref:
                fail("the in-job recovery's checksum differs from the failure-free run:\n"
                     "  got       %s\n  reference %s" % (got, ref))
            ij = check_in_job(events(tmp, "injob"))
            print("in-job (Open MPI 5 with ULFM): detection %.3f s + recovery %.3f s "
                  "(resume total_seconds) = %.3f s; kill -> resume event %.3f s"
                  % (ij["detect"], ij["total_seconds"], ij["detect_plus_total"],
                     ij["kill_to_resumed"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
