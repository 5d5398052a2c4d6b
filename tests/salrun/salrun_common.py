"""What every salrun command-line case uses: running salrun, checking, the environment."""
import os
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import run  # noqa: E402

FAILURES = []
SKIP = 77  # exit status of a case that cannot run with this build's MPI (ctest SKIP_RETURN_CODE)



def check(cond, what, result=None):
    if not cond:
        detail = ""
        if result is not None:
            detail = "\n  exit status %s\n  stdout: %r\n  stderr: %r" % (
                result.returncode, result.stdout[-2000:], result.stderr[-2000:])
        FAILURES.append(what + detail)
    return cond


def clean_env(**extra):
    """The caller's environment without SAL_* and the defaults salrun adds, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SAL_") and not k.startswith("OMPI_MCA_mpi_ft_detector")
           and k not in ("PRTE_MCA_rmaps_default_mapping_policy", "OMPI_MCA_btl",
                         "UCX_MEM_EVENTS")}
    env.update(extra)
    return env


def salrun(args, cmd, env=None, cwd=None, timeout=25):
    full = [args.salrun] + cmd
    print("+ " + " ".join(shlex.quote(c) for c in full), flush=True)
    r = run(full, timeout=timeout, env=env if env is not None else clean_env(), cwd=cwd,
            stderr=subprocess.PIPE)
    check(not r.timed_out, "salrun ends within %g s" % timeout, r)
    check(not r.leftovers, "no process outlives salrun: %s" % r.leftovers, r)
    return r


def signalled(cmd, env, sig, ready, timeout=15, settle=0.0):
    """Starts salrun's command line cmd, sends it sig settle seconds after ready(process) is true
    (or after 10 s), and waits for it (killed after timeout); returns (CompletedProcess, seconds
    from sig to the end)."""
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 10
    while time.time() < deadline and not ready(p):
        time.sleep(0.1)
    time.sleep(settle)
    t0 = time.time()
    p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return subprocess.CompletedProcess(cmd, p.returncode, out, err), time.time() - t0


def check_stuck_ended(pids):
    """The one stuck stand-in mpiexec (fake_mpiexec_stuck.py) recorded its pid in file pids, and
    salrun ended it."""
    with open(pids) as f:
        stuck = [int(q) for q in f.read().split()]
    check(len(stuck) == 1 and not os.path.exists("/proc/%d" % stuck[0]),
          "the stuck mpiexec was ended: %r" % stuck)


def dry_run(args, cmd, env=None):
    """Runs salrun --dry-run; returns (result, {assigned variables}, [command words])."""
    r = salrun(args, ["--dry-run"] + cmd, env=env)
    words = shlex.split(r.stdout) if r.returncode == 0 else []
    assigned = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        assigned[name] = value
    return r, assigned, words


def exported(words):
    return [words[i + 1] for i in range(len(words) - 1) if words[i] == "-x"]
