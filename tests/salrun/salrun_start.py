"""salrun's cases of a launch that does not start: a stuck mpiexec (--start-timeout), Open MPI's
start race (status 213, launched again) and a launch that cannot start (status 213, final)."""
import os
import re
import signal
import time

from salrun_common import SKIP, check, check_stuck_ended, clean_env, salrun, signalled


def case_start_timeout(args, tmp):
    """A relaunch whose mpiexec never starts the job is ended after --start-timeout and counts as
    a failed launch; nothing of it is left."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_stuck.py")
    pids = os.path.join(tmp, "stuck.pids")
    t0 = time.time()
    r = salrun(args, ["-n", "1", "--mpiexec", fake, "--log-dir", tmp, "--job", "fake",
                      "--ckpt-dir", tmp, "--restart-delay", "0", "--max-restarts", "1",
                      "--start-timeout", "2", "--", args.flaky, "fakejob",
                      os.path.join(tmp, "marker")],
               env=clean_env(FAKE_STUCK_MARKER=os.path.join(tmp, "stuck"), FAKE_PROBE_PIDS=pids))
    check(r.returncode == 1, "the stuck relaunch was the last restart: exit 1", r)
    check("no rank of the launch started within 2 s (--start-timeout)" in r.stderr,
          "one line says why the launch was ended", r)
    check(time.time() - t0 < 20, "ended within the start timeout and the grace of the ending")
    check_stuck_ended(pids)


def case_start_timeout_first(args, tmp):
    """The first launch's mpiexec never starts the job: ended after --start-timeout with the two
    possible causes named, relaunched, and the relaunch finishes the job; nothing of it is left."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_stuck.py")
    pids = os.path.join(tmp, "stuck.pids")
    marker = os.path.join(tmp, "marker")
    open(marker, "w").close()  # the job's runs are later runs: they finish
    r = salrun(args, ["-n", "1", "--mpiexec", fake, "--log-dir", tmp, "--job", "fake",
                      "--ckpt-dir", tmp, "--restart-delay", "0", "--max-restarts", "1",
                      "--start-timeout", "2", "--", args.flaky, "fakejob", marker],
               env=clean_env(FAKE_STUCK_MARKER=os.path.join(tmp, "stuck"), FAKE_STUCK_FIRST="1",
                             FAKE_PROBE_PIDS=pids))
    check(r.returncode == 0, "the relaunch finished the job: exit 0", r)
    check("no rank of the launch started within 2 s (--start-timeout): its mpiexec is stuck "
          "before the job, or the event log is not readable from salrun's host" in r.stderr,
          "one line says why the launch was ended and what else it can mean", r)
    check(re.search(r"job 'fake' finished: .*1 restart", r.stderr), "one restart", r)
    check_stuck_ended(pids)


def case_signal_before_start(args, tmp):
    """The checkpoint signal (SIGUSR1, Slurm's --signal before a time limit) while the launch has
    not started: salrun ends the stuck launch at once rather than at --start-timeout, and stops
    with status 138; nothing of the launch is left."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_stuck.py")
    pids = os.path.join(tmp, "stuck.pids")
    cmd = [args.salrun, "-n", "1", "--mpiexec", fake, "--log-dir", tmp, "--job", "fake",
           "--ckpt-dir", tmp, "--restart-delay", "0", "--start-timeout", "600", "--",
           args.flaky, "fakejob", os.path.join(tmp, "marker")]
    env = clean_env(FAKE_STUCK_MARKER=os.path.join(tmp, "stuck"), FAKE_STUCK_FIRST="1",
                    FAKE_PROBE_PIDS=pids)
    r, took = signalled(cmd, env, signal.SIGUSR1, lambda p: os.path.exists(pids), timeout=20)
    check(r.returncode == 128 + signal.SIGUSR1, "SIGUSR1 stops salrun with status 138", r)
    check("asked to checkpoint and stop before any rank of the launch started" in r.stderr,
          "one line says why the launch was ended", r)
    check("stopped by signal 10 (salrun ended the launch before any rank started; the job "
          "resumes from its last checkpoint)" in r.stderr and "relaunching" not in r.stderr,
          "stopped, not relaunched", r)
    check(took < 12, "stopped within the grace of the ending, not at the timeout")
    check_stuck_ended(pids)


def case_start_race(args, tmp):
    """mpiexec lost the start race (status 213 and its message): launched again, not a restart."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_race.py")
    r = salrun(args, ["-n", "1", "--mpiexec", fake, "--ckpt-dir", tmp, "--restart-delay", "0",
                      "--trust-exit", "--", args.flaky, "sleep", "0"],
               env=clean_env(FAKE_RACE_MARKER=os.path.join(tmp, "race")))
    check(r.returncode == 0, "the second launch runs the job: exit 0", r)
    check("listener thread failed to start" in r.stderr, "mpiexec's message is passed on", r)
    check("mpiexec exited with status 213 before the job started; launching again (attempt 2 of 3)"
          in r.stderr, "one line says the launch is made again", r)
    check(re.search(r"job 'salrun_flaky' finished: .*0 restarts", r.stderr),
          "a launch again is not a restart", r)


def case_stale_session(args, tmp):
    """The session directories that killed launchers left behind, one for each of the next 4000
    pids: salrun removes the one of its launcher's pid before it becomes mpiexec, so the launch
    starts the first time (Open MPI's launcher would fail with status 213 otherwise)."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_race.py")
    tmpdir = os.path.join(tmp, "tmpdir")
    os.makedirs(tmpdir)
    with open("/proc/sys/kernel/ns_last_pid") as f:
        last = int(f.read())
    for pid in range(last + 1, last + 4001):
        os.makedirs(os.path.join(tmpdir, "ompi.%d" % pid))
        open(os.path.join(tmpdir, "ompi.%d" % pid, "pmix.vm.tool.%d" % pid), "w").close()
    r = salrun(args, ["-n", "1", "--mpiexec", fake, "--ckpt-dir", tmp, "--restart-delay", "0",
                      "--max-restarts", "0", "--trust-exit", "--", args.flaky, "sleep", "0"],
               env=clean_env(TMPDIR=tmpdir, FAKE_SESSION_DIRS="1"))
    check(r.returncode == 0, "the first launch runs the job: exit 0", r)
    check("listener thread failed to start" not in r.stderr, "no launch failed to start", r)
    left = len(os.listdir(tmpdir))
    check(left < 4000, "the launcher's stale session directory was removed (%d of 4000 left)" % left)


def case_start_failed(args, tmp):
    """mpiexec could not start the job for another reason (here a mapping the host cannot satisfy,
    status 213 too): the job fails at once, not launched again nor relaunched."""
    if not args.ulfm:
        print("SKIPPED: start_failed needs Open MPI 5's mpiexec (status 213 for a mapping error); "
              "this build's MPI has no ULFM", flush=True)
        return SKIP
    r = salrun(args, ["-n", "4", "--map-by", "ppr:1:node", "--ckpt-dir", tmp, "--restart-delay",
                      "0", "--", args.flaky, "sleep", "0"])
    check(r.returncode == 1, "exit 1", r)
    check("more processes than the ppr" in r.stderr, "mpiexec's message is passed on", r)
    check("job failed: mpiexec exited with status 213 before the job started, and not for the "
          "start race of Open MPI's launcher" in r.stderr, "one line says why it is final", r)
    # A launch made again after Open MPI's start race (its message before each) is allowed: the
    # mapping error itself is neither launched again nor relaunched.
    check(r.stderr.count("launching again") == r.stderr.count("listener thread failed to start")
          and "relaunching" not in r.stderr, "neither launched again nor relaunched", r)
    check(re.search(r"job 'salrun_flaky' failed: .*0 restarts", r.stderr), "summary line", r)
