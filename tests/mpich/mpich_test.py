#!/usr/bin/env python3
"""Relaunch mode under MPICH's Hydra mpiexec (docs/salrun.md, "Launcher families").

Runs heat2d of a Salamander tree built against MPICH under that tree's salrun, one case per ctest
test (relaunch.mpich_<case>):

  reference     no failure: writes the checksum the other cases must reproduce (--reference FILE)
  command       --dry-run: Hydra's options only (-genv, -f with Hydra's host:N lines), none of Open
                MPI's (--with-ft, -x, --mca, --map-by, OMPI_/PRTE_ variables); user@host, relative
                hostfile entries and --prrte refused with status 2
  kill          rank 1 SIGKILLed at step 70: Hydra ends the job, salrun relaunches, the job restores
                checkpoint 3 (step 60) and ends with the reference checksum, bit for bit; salrun
                removes the shared-memory file the ranks Hydra ended left in /dev/shm
  two_kills     ranks 1 and 3 killed at steps 50 and 90: two relaunches, the same answer, the
                files of both failed launches removed
  kill_in_ckpt  rank 2 killed while writing checkpoint 3: it is never committed, the relaunch
                restores checkpoint 2, the same answer
  fewer_ranks   two hosts through a stand-in for ssh (fake_ssh.sh): nodeb is lost with rank 3 of 4;
                its probe fails, salrun leaves it out (-f of the host left) and, with
                --relaunch-ranks fit, restores the 4-rank checkpoint on the 2 ranks of nodea
  hostfile      --hostfile with this host and one that does not exist: the launch fails, the
                probe leaves the host out, the relaunch on the host left finishes
  signal        SIGTERM to salrun during the run: exit status 143, the job ended

Every case checks that no process of the run outlived salrun. Hydra's proxies and ranks each call
setsid, so they leave salrun's session and process group: the processes of a run are found by a
marker variable in their environment (SAL_TEST_MARK, which Hydra passes to every rank).

Exit status 0 on success, 1 on a failed check, with the reason on stderr.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import marked, read_events  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=[0-9a-f]{16}.*$", re.M)
# The answer, whatever the number of ranks: heat2d computes the same field on any decomposition.
ANSWER = re.compile(r"checksum=[0-9a-f]{16} sum=\S+")
STEPS = "120"
NO_HOST = "no-such-host.invalid"
OMPI_ONLY = ("--with-ft", "-x", "--mca", "--map-by", "--hostfile", "--oversubscribe", "--prefix")


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def kill_marked(mark):
    for pid, _ in marked(mark):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Run:
    def __init__(self, status, stdout, stderr, job, tmp):
        self.status, self.stdout, self.stderr, self.job, self.tmp = status, stdout, stderr, job, tmp

    def checksum(self):
        """The answer: "checksum=<hex> sum=<value>" of heat2d's one checksum line."""
        sums = CHECKSUM.findall(self.stdout)
        if len(sums) != 1 or not ANSWER.search(sums[0]):
            fail("job %s: expected one checksum line on the standard output, found %d:\n%s"
                 % (self.job, len(sums), self.stdout[-3000:]))
        return ANSWER.search(sums[0]).group(0)

    def events(self):
        path = os.path.join(self.tmp, self.job, self.job + ".events.jsonl")
        return sorted(read_events(path, fail), key=lambda e: e["ts"])


def base_env(mark, extra=None):
    """The caller's environment without Salamander's settings and without Open MPI's, plus the
    marker of this run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SAL_", "PRTE_", "PMIX_", "OMPI_", "OPAL_"))}
    env["SAL_TEST_MARK"] = mark
    env.update(extra or {})
    return env


def run(args, tmp, job, extra, timeout, np=4, env_extra=None, on_start=None):
    """Runs heat2d under salrun; fails the test on a timeout or a leftover process."""
    mark = uuid.uuid4().hex
    cmd = [args.salrun, "-n", str(np), "--job", job, "--ckpt-dir", os.path.join(tmp, job),
           "--interval", "20", "--restart-delay", "0.2"] + extra + ["--", args.heat2d, "-s", STEPS]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=base_env(mark, env_extra), start_new_session=True)
    if on_start:
        on_start(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        kill_marked(mark)
        sys.stdout.write(out + err)
        fail("salrun (job %s) did not end within %d s and was killed" % (job, timeout))
    sys.stdout.write(err)
    sys.stdout.write(out)
    sys.stdout.flush()
    left = marked(mark)
    for _ in range(20):  # ranks and proxies that are still exiting
        if not left:
            break
        time.sleep(0.1)
        left = marked(mark)
    if left:
        kill_marked(mark)
        fail("processes of job %s outlived salrun: %s" % (job, left))
    print("no process of job %s outlived salrun" % job)
    return Run(proc.returncode, out, err, job, tmp)


def reference(args):
    try:
        with open(args.reference) as f:
            return f.read().strip()
    except OSError as e:
        fail("no reference checksum in %s (%s): relaunch.mpich_reference must pass first"
             % (args.reference, e.strerror))


def check_finished(r, what):
    if r.status != 0:
        fail("salrun (job %s) exited with status %d, expected 0 (%s)" % (r.job, r.status, what))
    if "(mpiexec of MPICH's Hydra: relaunch mode)" not in r.stderr:
        fail("the launch line does not name Hydra's mpiexec:\n" + r.stderr[:2000])


def check_relaunched(r, args, launches, restored_ids, nranks=4):
    """The job started `launches` times, each relaunch restored the given checkpoint, the answer is
    the reference, and every rank of the last launch finished."""
    got, ref = r.checksum(), reference(args)
    if got != ref:
        fail("the relaunched job's checksum differs from the failure-free run:\n"
             "  got       %s\n  reference %s" % (got, ref))
    print("IDENTICAL to the failure-free run: " + got)
    evs = r.events()
    starts = [e for e in evs if e["event"] == "start" and e["rank"] == 0]
    if len(starts) != launches:
        fail("expected %d start events of rank 0, found %d" % (launches, len(starts)))
    if starts[0].get("restart") is not False or any(s.get("restart") is not True
                                                    for s in starts[1:]):
        fail("rank 0's start events should say restart false, then true: %s"
             % [s.get("restart") for s in starts])
    if any(e["event"] in ("failure", "resume", "shrink", "spawn") for e in evs):
        fail("a job under Hydra recorded an in-job recovery: %s"
             % [e for e in evs if e["event"] in ("failure", "resume", "shrink", "spawn")])
    restores = [e["id"] for e in evs if e["event"] == "restore" and e.get("rank", 0) == 0]
    if restores != restored_ids:
        fail("rank 0 restored checkpoints %s, expected %s" % (restores, restored_ids))
    last = starts[-1]["ts"]
    fin = [e for e in evs if e["event"] == "finish" and e["ts"] >= last]
    if len(fin) != nranks or any(e.get("status") != "ok" for e in fin):
        fail("expected %d finish events with status ok from the last launch: %s" % (nranks, fin))
    relaunches = re.findall(r"^salrun: mpiexec exited with status \d+; relaunching in .*$",
                            r.stderr, re.M)
    if len(relaunches) != launches - 1:
        fail("salrun printed %d relaunch lines after Hydra ended the job, expected %d"
             % (len(relaunches), launches - 1))


def check_shm_removed(r, launches):
    """The ranks Hydra ended after each kill left their MPICH shared-memory file, which salrun
    removed (a launch that finishes leaves none)."""
    removed = re.findall(r"^salrun: removed (\d+) MPI shared-memory files? in /dev/shm that ranks "
                         r"of the launch left", r.stderr, re.M)
    if len(removed) != launches - 1 or any(int(n) < 1 for n in removed):
        fail("expected a line of removed shared-memory files after each of the %d failed launches, "
             "found %s:\n%s" % (launches - 1, removed, r.stderr[-3000:]))
    print("REMOVED the shared-memory files of the ended ranks: %s" % removed)


def case_reference(args, tmp):
    r = run(args, tmp, "reference", ["--max-restarts", "0"], args.timeout)
    check_finished(r, "failure-free run")
    if len([e for e in r.events() if e["event"] == "ckpt_commit" and e.get("rank", 0) == 0]) < 5:
        fail("the failure-free run committed fewer than 5 checkpoints")
    with open(args.reference, "w") as f:
        f.write(r.checksum() + "\n")
    print("reference: " + r.checksum())


def dry_run(args, tmp, extra, expect=0):
    cmd = [args.salrun, "--dry-run", "-n", "4", "--ckpt-dir", tmp] + extra + ["--", args.heat2d]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=base_env("dry"), timeout=30)
    print("+ %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    if r.returncode != expect:
        fail("salrun --dry-run exited with status %d, expected %d" % (r.returncode, expect))
    return r


def case_command(args, tmp):
    hostfile = os.path.join(tmp, "hosts")
    with open(hostfile, "w") as f:
        f.write("# two hosts\nlocalhost slots=2 max_slots=4\n%s  slots = 3\n"
                % socket.gethostname())
    r = dry_run(args, tmp, ["--hostfile", hostfile, "--inject", "rank=1,step=5,signal=KILL",
                            "-ppn", "2"])
    words = r.stdout.split()
    i = next((k for k, w in enumerate(words) if w == args.mpiexec), -1)
    if i < 0:
        fail("the command does not run %s" % args.mpiexec)
    env, cmd = words[:i], words[i + 1:]
    bad = [w for w in cmd if w in OMPI_ONLY] + [w for w in env if w.startswith(("OMPI_", "PRTE_"))]
    if bad:
        fail("Open MPI's options or variables in Hydra's command line: %s" % bad)
    for name in ("SAL_CKPT_DIR", "SAL_INJECT", "SAL_JOB"):
        k = cmd.index(name) if name in cmd else -1
        if k < 1 or cmd[k - 1] != "-genv" or k + 1 >= len(cmd):
            fail("%s is not passed with -genv NAME VALUE: %s" % (name, cmd))
    if cmd[cmd.index("SAL_CKPT_DIR") + 1] != tmp or cmd[cmd.index("SAL_JOB") + 1] != "heat2d":
        fail("-genv should carry the values of SAL_CKPT_DIR and SAL_JOB: %s" % cmd)
    path = os.path.join(tmp, "heat2d.hosts")
    if cmd[cmd.index("-f") + 1] != path or cmd[-1] != args.heat2d or "-ppn" not in cmd:
        fail("expected -f %s, the pass-through -ppn 2 and the program last: %s" % (path, cmd))
    with open(path) as f:
        lines = [ln.strip() for ln in f if not ln.startswith("#")]
    if lines != ["localhost:2", "%s:3" % socket.gethostname()]:
        fail("Hydra's hostfile should hold host:N lines: %r" % lines)
    r = dry_run(args, tmp, ["-hosts", "localhost:3,%s" % socket.gethostname()])
    if "-hosts" in r.stdout.split() or "-f" not in r.stdout.split():
        fail("-hosts should become -f with salrun's hostfile")
    with open(path) as f:
        lines = [ln.strip() for ln in f if not ln.startswith("#")]
    if lines != ["localhost:3", "%s:1" % socket.gethostname()]:
        fail("-hosts a:3,b should give the lines a:3 and b:1: %r" % lines)
    with open(hostfile, "w") as f:
        f.write("admin@localhost slots=2\n")
    r = dry_run(args, tmp, ["--hostfile", hostfile], expect=2)
    if "Hydra's hostfile has no user@host" not in r.stderr:
        fail("user@host is not refused with its reason")
    with open(hostfile, "w") as f:
        f.write("localhost\n+n0\n")
    r = dry_run(args, tmp, ["--hostfile", hostfile], expect=2)
    if "no relative entries" not in r.stderr:
        fail("a relative entry is not refused with its reason")
    r = dry_run(args, tmp, ["--prrte", tmp], expect=2)
    if "MPICH's Hydra" not in r.stderr:
        fail("--prrte is not refused for Hydra")


def case_kill(args, tmp):
    r = run(args, tmp, "kill", ["--max-restarts", "2", "--inject", "rank=1,step=70,signal=KILL"],
            args.timeout)
    check_finished(r, "one kill")
    check_relaunched(r, args, 2, [3])
    check_shm_removed(r, 2)


def case_two_kills(args, tmp):
    r = run(args, tmp, "twokills",
            ["--max-restarts", "3", "--inject",
             "rank=1,step=50,signal=KILL;rank=3,step=90,signal=KILL"], args.timeout)
    check_finished(r, "two kills")
    check_relaunched(r, args, 3, [2, 4])
    check_shm_removed(r, 3)


def case_kill_in_ckpt(args, tmp):
    r = run(args, tmp, "inckpt",
            ["--max-restarts", "2", "--inject", "rank=2,step=60,point=ckpt_write,signal=KILL"],
            args.timeout)
    check_finished(r, "a kill during a checkpoint")
    check_relaunched(r, args, 2, [2])
    evs = r.events()
    relaunched = [e for e in evs if e["event"] == "start" and e["rank"] == 0][1]["ts"]
    if any(e["event"] == "ckpt_commit" and e["id"] == 3 and e["ts"] < relaunched for e in evs):
        fail("checkpoint 3, whose writing was killed, was committed by the first launch")


def case_fewer_ranks(args, tmp):
    state = os.path.join(tmp, "ssh")
    os.mkdir(state)
    log = os.path.join(state, "log")
    hostfile = os.path.join(tmp, "hosts")
    with open(hostfile, "w") as f:
        f.write("nodea slots=2\nnodeb slots=2\n")
    r = run(args, tmp, "fewer",
            ["--max-restarts", "2", "--hostfile", hostfile, "--relaunch-ranks", "fit",
             "--inject", "rank=3,step=70,signal=KILL", "-launcher", "ssh", "-launcher-exec",
             args.fake_ssh],
            args.timeout, env_extra={"FAKE_SSH_STATE": state, "FAKE_SSH_DIES": "nodeb",
                                     "FAKE_SSH_LOG": log})
    check_finished(r, "a lost host")
    check_relaunched(r, args, 2, [3], nranks=2)
    with open(log) as f:
        conn = f.read().splitlines()
    # Hydra connects to the hosts in parallel, and again to clean up after a failure.
    down = conn.index("nodeb down") if "nodeb down" in conn else len(conn)
    if down == len(conn) or not {"nodea ok", "nodeb ok"} <= set(conn[:down]) \
            or "nodeb ok" in conn[down:]:
        fail("the first launch should reach nodea and nodeb, the probe find nodeb down and no "
             "later launch reach it: %s" % conn)
    for line in ("salrun: host nodeb left out of the relaunches: its probe `mpiexec -hosts nodeb "
                 "-n 1 echo salrun-probe` exited with status",
                 "salrun: relaunching on 2 ranks instead of 4: the slots of the hosts left "
                 "(--relaunch-ranks fit)",
                 "salrun: the relaunches run on 1 host: nodea (hostfile %s/fewer/fewer.hosts)" % tmp,
                 "salrun: job restarted on 2 ranks"):
        if line not in r.stderr:
            fail("missing line: " + line)
    with open(os.path.join(tmp, "fewer", "fewer.hosts")) as f:
        lines = [ln.strip() for ln in f if not ln.startswith("#")]
    if lines != ["nodea:2"]:
        fail("the hostfile of the relaunch should name nodea alone: %r" % lines)
    starts = [e for e in r.events() if e["event"] == "start" and e["rank"] == 0]
    if [s.get("nranks") for s in starts] != [4, 2]:
        fail("the job should start on 4 ranks, then restart on 2: %s"
             % [s.get("nranks") for s in starts])


def case_hostfile(args, tmp):
    hostfile = os.path.join(tmp, "hosts")
    with open(hostfile, "w") as f:
        f.write("localhost slots=2\n%s slots=2\n" % NO_HOST)
    r = run(args, tmp, "hostfile", ["--max-restarts", "2", "--hostfile", hostfile], args.timeout)
    check_finished(r, "a host that does not exist")
    if not re.search(r"salrun: host %s left out of the relaunches: its probe `mpiexec -hosts %s "
                     r"-n 1 echo salrun-probe` exited with status \d+" % (NO_HOST, NO_HOST),
                     r.stderr):
        fail("no line names the host left out and its probe")
    with open(os.path.join(tmp, "hostfile", "hostfile.hosts")) as f:
        lines = [ln.strip() for ln in f if not ln.startswith("#")]
    if lines != ["localhost:2"]:
        fail("the hostfile of the relaunch should name localhost alone: %r" % lines)
    if r.checksum() != reference(args):
        fail("the checksum differs from the failure-free run")
    if not re.search(r"job 'hostfile' finished: .*1 restart, host %s left out" % NO_HOST,
                     r.stderr):
        fail("the summary does not name the host left out")


def case_signal(args, tmp):
    def stop_later(proc):
        # SIGTERM once the job has committed checkpoint 2 (its event log shows it): mid-run.
        path = os.path.join(tmp, "signal", "signal.events.jsonl")
        t0 = time.time()
        while time.time() - t0 < args.timeout / 2:
            try:
                with open(path) as f:
                    if any(e.get("event") == "ckpt_commit" and e.get("id") == 2
                           for e in map(json.loads, f.read().splitlines())):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)

    r = run(args, tmp, "signal", ["--max-restarts", "2"], args.timeout, on_start=stop_later)
    if r.status != 128 + signal.SIGTERM:
        fail("salrun exited with status %d after SIGTERM, expected %d"
             % (r.status, 128 + signal.SIGTERM))
    if "salrun: stopped by signal 15" not in r.stderr or "relaunching" in r.stderr:
        fail("salrun should say it was stopped by signal 15 and not relaunch")
    if "job finished" in r.stderr or CHECKSUM.search(r.stdout):
        fail("the job finished before salrun's SIGTERM: nothing was stopped")


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--salrun", required=True)
    p.add_argument("--heat2d", required=True)
    p.add_argument("--mpiexec", required=True)
    p.add_argument("--reference", required=True)
    p.add_argument("--fake-ssh", required=True)
    p.add_argument("--timeout", type=int, default=90)
    args = p.parse_args()
    v = subprocess.run([args.mpiexec, "--version"], stdout=subprocess.PIPE, text=True,
                       timeout=30).stdout
    if "HYDRA" not in v:
        fail("%s is not MPICH's Hydra mpiexec (its --version does not say HYDRA): the "
             "relaunch.mpich tests need a build against MPICH (scripts/test.sh, stage 3)"
             % args.mpiexec)
    tmp = tempfile.mkdtemp(prefix="sal-mpich-")
    try:
        CASES[args.case](args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS: relaunch.mpich_" + args.case)


if __name__ == "__main__":
    main()
