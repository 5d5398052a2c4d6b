"""What every salrun command-line case uses: running salrun, checking, the environment."""
import os
import re
import shlex
import subprocess
import sys

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
           and k not in ("PRTE_MCA_rmaps_default_mapping_policy", "OMPI_MCA_btl")}
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
