"""Runs a command under test so that nothing it starts outlives the test.

The command gets a session of its own (setsid): Open MPI's launcher gives every rank a process group
of its own, but ranks, daemons and their children stay in the session. When the command ends, or
when its time is up (SIGTERM first, so that salrun forwards it and ends its job; SIGKILL to the
whole session `grace` seconds later), every process still in the session is a leftover: it is
killed and reported, and the caller fails the test on it.

    from procs import run
    r = run(cmd, timeout=60, env=env)
    r.returncode   # None when the time ran out
    r.output       # stdout and stderr together (or stdout only with stderr=subprocess.PIPE)
    r.leftovers    # ["1234 prterun --with-ft ...", ...]: processes that outlived the command
"""
import json
import os
import signal
import subprocess
import sys
import time


class Result:
    def __init__(self, returncode, output, stderr, leftovers, timed_out):
        self.returncode = returncode
        self.output = output
        self.stdout = output
        self.stderr = stderr
        self.leftovers = leftovers
        self.timed_out = timed_out


def live_processes(keep):
    """(pid, command line) of every live process (zombies left out) other than this one for which
    keep(pid, stat fields after the command name) is true."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" or not keep(int(name), fields):
                continue
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        found.append((int(name), cmd))
    return found


def session_members(sid):
    """(pid, command line) of every live process of session sid."""
    return live_processes(lambda pid, fields: int(fields[3]) == sid)


def marked(mark):
    """(pid, command line) of every live process whose environment holds SAL_TEST_MARK=mark (for
    processes that leave the session, as Hydra's proxies do)."""
    needle = ("SAL_TEST_MARK=" + mark).encode()

    def has_mark(pid, fields):
        with open("/proc/%d/environ" % pid, "rb") as f:
            return needle in f.read().split(b"\0")
    return live_processes(has_mark)


def read_events(path, fail):
    """The events of the JSON Lines event log at path, in file order; fail(message) on a line that
    is not JSON or a log that cannot be read."""
    out = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    fail("%s line %d is not JSON: %r" % (path, n, line))
    except OSError as e:
        fail("cannot read the event log %s: %s" % (path, e.strerror))
    return out


def kill_session(sid, sig):
    for pid, _ in session_members(sid):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def launcher_cmd(cmd):
    """cmd (an Open MPI mpiexec launch) run by a shell that first removes the session directory
    that a killed launcher of the same pid left behind, ${TMPDIR:-/tmp}/ompi.<pid>, and then
    becomes cmd: Open MPI 5's mpiexec refuses to start on it ("The PMIx server's listener thread
    failed to start", status 213), as salrun and tests/common/mpi_launch.sh know
    (docs/reliability.md)."""
    return ["/bin/sh", "-c", 'rm -rf -- "${TMPDIR:-/tmp}/ompi.$$"; exec "$@"', "launch"] + list(cmd)


def run(cmd, timeout, env=None, cwd=None, stderr=subprocess.STDOUT, grace=15, settle=2):
    """Runs cmd (a list) in a new session; see the module's docstring. settle: seconds the session
    may take to empty after the command exited (an mpiexec's ranks exiting) before what is left
    counts as leftovers."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            errors="replace", env=env, cwd=cwd, start_new_session=True)
    sid = proc.pid
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException as e:  # a timeout, or SIGTERM / Ctrl-C of the caller
        if not isinstance(e, subprocess.TimeoutExpired):
            kill_session(sid, signal.SIGKILL)
            proc.wait()
            raise
        timed_out = True
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            kill_session(sid, signal.SIGKILL)
            out, err = proc.communicate()
    end = time.monotonic() + (0 if timed_out else settle)
    left = session_members(sid)
    while left and time.monotonic() < end:
        time.sleep(0.1)
        left = session_members(sid)
    if left:
        kill_session(sid, signal.SIGKILL)
    leftovers = ["%d %s" % (pid, cmdline[:200]) for pid, cmdline in left]
    return Result(None if timed_out else proc.returncode, out or "", err or "", leftovers,
                  timed_out)


def run_checked(cmd, timeout, env, fail, want=0):
    """run() of a salrun command line, printed with its output; calls fail(message) when it did not
    end in time, left a process behind, or exited with another status than want (None: any)."""
    print("+ " + " ".join(cmd), flush=True)
    p = run(cmd, timeout=timeout, env=env)
    sys.stdout.write(p.output)
    if p.timed_out:
        fail("%s did not end within %g s" % (os.path.basename(cmd[0]), timeout))
    if p.leftovers:
        fail("processes outlived %s: %s" % (os.path.basename(cmd[0]), "; ".join(p.leftovers)))
    if want is not None and p.returncode != want:
        fail("%s exited with status %d, not %d" % (os.path.basename(cmd[0]), p.returncode, want))
    return p
