"""The command line of a test script whose cases run a program under salrun:

    SCRIPT --salrun S --program P CASE   runs one case in a fresh temporary directory;
    SCRIPT --list                        prints the case names (one ctest test each).
"""
import argparse
import shutil
import tempfile


def run_cases(cases, prefix, into):
    """Parses the command line into the namespace into (its salrun and program), then runs the
    case it names: cases[name](tmp)."""
    p = argparse.ArgumentParser()
    p.add_argument("--salrun")
    p.add_argument("--program")
    p.add_argument("--list", action="store_true")
    p.add_argument("case", nargs="?", choices=sorted(cases))
    args = p.parse_args()
    if args.list:
        print("\n".join(cases))
        return
    vars(into).update(vars(args))
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        cases[args.case](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


def salrun_args(timeout):
    """The command line of a test script that runs a program under salrun in one piece:
    --salrun S --program P [--timeout SECONDS] (default timeout)."""
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--timeout", type=float, default=timeout)
    return p.parse_args()
