#!/usr/bin/env python3
"""slurm/salamander.sbatch without Slurm: its checkpoint signal (USR1) arriving as salrun ends.

A stand-in salrun sends SIGUSR1 to the template's shell (as Slurm's --signal=B:USR1 does) and exits
at once with a given status: the signal and the end of the job meet, as when Slurm's time-limit signal comes while the job
finishes. The template must act on salrun's own status, never on the 138 of the wait the
trap interrupted: status 0 ends the script with 0 and no requeue; status 138 (salrun stopped at
the signal) requeues. A stand-in scontrol records its calls. Each case runs ROUNDS times: a
wrong status was taken in most rounds before the fix.
"""
import os
import subprocess
import sys
import tempfile
import time

ROUNDS = 10

# It signals the template itself and exits at once: the signal and salrun's end reach the
# template's wait together, as Slurm's signal did when it came as the job finished.
FAKE_SALRUN = """#!/bin/bash
trap '' USR1
while [ ! -s "{template_pid}" ]; do sleep 0.05; done
sleep 0.2
kill -USR1 "$(cat "{template_pid}")"
exit {status}
"""

FAKE_SCONTROL = """#!/bin/sh
echo "$@" >> "{calls}"
"""


def run_case(template, tmp, salrun_status, rnd):
    d = os.path.join(tmp, "%d-%d" % (salrun_status, rnd))
    os.makedirs(d)
    calls, template_pid = os.path.join(d, "calls"), os.path.join(d, "template.pid")
    fake = os.path.join(d, "salrun")
    with open(fake, "w") as f:
        f.write(FAKE_SALRUN.format(status=salrun_status, template_pid=template_pid))
    with open(os.path.join(d, "scontrol"), "w") as f:
        f.write(FAKE_SCONTROL.format(calls=calls))
    for name in ("salrun", "scontrol"):
        os.chmod(os.path.join(d, name), 0o755)
    env = dict(os.environ, SALRUN=fake, SLURM_JOB_ID="42", SLURM_JOB_NODELIST="n1",
               SLURM_NTASKS="1", SAL_CKPT_DIR=os.path.join(d, "ck"), LOST_NODE_WAIT="0",
               PATH=d + os.pathsep + os.environ["PATH"])
    p = subprocess.Popen(["bash", template, "--", "true"], env=env, cwd=d,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(template_pid + ".tmp", "w") as f:
        f.write("%d\n" % p.pid)
    os.rename(template_pid + ".tmp", template_pid)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return "round %d, salrun status %d: the template did not end:\n%s" % (rnd, salrun_status,
                                                                              out)
    requeued = os.path.exists(calls) and "requeue 42" in open(calls).read()
    if salrun_status == 0 and (p.returncode != 0 or requeued):
        return ("round %d: salrun finished (status 0) as the signal came, yet the template exited "
                "%d%s:\n%s" % (rnd, p.returncode, " and requeued the job" if requeued else "", out))
    if salrun_status == 138 and not requeued:
        return ("round %d: salrun stopped at the signal (status 138) but the job was not "
                "requeued:\n%s" % (rnd, out))
    return None


def main():
    template = os.path.abspath(sys.argv[1])
    failures = []
    with tempfile.TemporaryDirectory(prefix="sal-template-") as tmp:
        for status in (0, 138):
            for rnd in range(ROUNDS):
                why = run_case(template, tmp, status, rnd)
                if why:
                    failures.append(why)
    for f in failures:
        print("FAIL: " + f, file=sys.stderr)
    if failures:
        return 1
    print("PASS: the template acts on salrun's own status when its signal meets salrun's end "
          "(%d rounds each for status 0 and 138)" % ROUNDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
