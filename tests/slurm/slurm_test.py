#!/usr/bin/env python3
"""Runs heat2d through slurm/salamander.sbatch on the private cluster of scripts/slurm-cluster.sh.

Scenarios (one per invocation; each compares heat2d's checksum line with the failure-free one):
  reference  no failure; writes the checksum line to --reference
  injob      a rank SIGKILLed at step 70, repaired inside the job (no requeue)
  requeue    `scontrol requeue` while the job runs: it starts again (SLURM_RESTART_COUNT=1) from its
             last committed checkpoint
  signal     SIGUSR1 to the batch shell, as --signal=B:USR1@T sends it before the time limit: the
             ranks checkpoint and stop, the script requeues the job, which resumes and finishes
  timelimit  the same with Slurm's own signal: --time=1 --signal=B:USR1@50, no help from the test
  lost_node  the node running the job is lost (its slurmd and every process of the job SIGKILLed):
             Slurm marks it DOWN and requeues the job (--requeue) on the other node, which resumes
             from the checkpoint
  lost_other_node  a job on n1 and n2 (--no-kill) loses n2, which does not run the batch script:
             Open MPI ends the job, the script waits for Slurm to declare n2 DOWN and requeues the
             job with n2 excluded; it resumes on n1 alone
  relaunch_other_node  the same loss of n2, recovered by salrun inside the allocation: it probes
             the nodes, leaves n2 out and relaunches on n1 alone with a hostfile (no requeue)
  srun_relaunch  Salamander built with Open MPI 4.1 (no ULFM) inside a two-node allocation: salrun
             launches with srun (on n1); n1 is drained and a rank killed; salrun relaunches with
             srun --exclude=n1, on n2, from the last checkpoint
  salrun_signal  without Slurm: SIGUSR1 to salrun stops the job after a checkpoint (status 138),
             a second salrun resumes from it
Prints the measured times; exit status 0 on success, 1 with the reason on stderr.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

CHECKSUM = re.compile(r"^heat2d: .*checksum=[0-9a-f]{16}.*$", re.M)
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")
HEAT_ARGS = ["-n", "128", "-s", "200", "--sleep-ms", "25"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def sh(cmd, env, check=True):
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    if check and proc.returncode != 0:
        fail("%s exited with status %d:\n%s" % (" ".join(cmd), proc.returncode, proc.stdout))
    return proc.stdout


def job_state(jid, env):
    out = sh(["scontrol", "-o", "show", "job", jid], env, check=False)
    m = re.search(r"JobState=(\S+)", out)
    return m.group(1) if m else "UNKNOWN"


def events(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return out


class Job:
    def __init__(self, args, name):
        self.args = args
        self.work = os.path.join(args.work, name)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.ckpt = os.path.join(self.work, "ckpt")
        self.log = os.path.join(self.ckpt, "heat.events.jsonl")
        self.env = dict(os.environ, SLURM_CONF=os.path.join(args.cluster, "slurm.conf"),
                        SALRUN=args.salrun, SAL_CKPT_DIR=self.ckpt,
                        # The emulated nodes claim more CPUs than the host has: without this, Open
                        # MPI believes it is not oversubscribed and its ranks spin (5x slower).
                        OMPI_MCA_mpi_yield_when_idle="1")
        self.env.pop("SAL_CONFIG", None)
        self.jid = None

    def submit(self, sbatch_opts, salrun_opts):
        cmd = (["sbatch", "--parsable", "--chdir", self.work, "--output",
                os.path.join(self.work, "job-%j.out")] + sbatch_opts +
               [self.args.template, "--job", "heat", "--interval", "20"] + salrun_opts +
               ["--", self.args.program] + HEAT_ARGS)
        print("+ " + " ".join(cmd), flush=True)
        self.t_submit = time.time()
        self.jid = sh(cmd, self.env).strip().split(";")[0]
        return self.jid

    def wait_step(self, step, timeout=60):
        """Waits for a committed checkpoint at a step >= step; returns the time it was seen."""
        end = time.time() + timeout
        while time.time() < end:
            if any(e.get("event") == "ckpt_commit" and e.get("step", -1) >= step
                   for e in events(self.log)):
                return time.time()
            if job_state(self.jid, self.env) in TERMINAL:
                break
            time.sleep(0.1)
        self.dump()
        fail("no checkpoint at step >= %d within %d s" % (step, timeout))

    def wait_end(self, timeout=120):
        end = time.time() + timeout
        state = "UNKNOWN"
        while time.time() < end:
            state = job_state(self.jid, self.env)
            if state in TERMINAL:
                break
            time.sleep(0.2)
        self.t_end = time.time()
        print("job %s: %s after %.1f s" % (self.jid, state, self.t_end - self.t_submit))
        if state != "COMPLETED":
            self.dump()
            fail("job %s ended in state %s, expected COMPLETED" % (self.jid, state))

    def output(self):
        path = os.path.join(self.work, "job-%s.out" % self.jid)
        if not os.path.exists(path):
            fail("no job output at " + path)
        with open(path) as f:
            return f.read()

    def dump(self):
        for path in glob.glob(os.path.join(self.work, "job-*.out")):
            sys.stdout.write("---- %s\n%s" % (path, open(path, errors="replace").read()))
        # What Slurm itself said: a step that could not be created, a node set DOWN.
        logs = os.path.join(os.path.dirname(self.env["SLURM_CONF"]), "log")
        for path in sorted(glob.glob(os.path.join(logs, "slurm*.log"))):
            with open(path, errors="replace") as f:
                lines = [ln for ln in f if re.search(r"error|step|[Rr]equeue|DOWN", ln)]
            sys.stdout.write("---- %s (errors, steps, requeues; last 25)\n%s"
                             % (path, "".join(lines[-25:])))

    def checksum(self):
        lines = CHECKSUM.findall(self.output())
        if len(lines) != 1:
            self.dump()
            fail("expected one checksum line in the job output, found %d" % len(lines))
        return lines[0]

    def check(self, reference, restarts):
        out = self.output()
        counts = [int(c) for c in re.findall(r"SLURM_RESTART_COUNT=(\d+)", out)]
        if restarts not in counts or max(counts) != restarts:
            self.dump()
            fail("expected SLURM_RESTART_COUNT up to %d in the job output, saw %s" % (restarts, counts))
        line = self.checksum()
        with open(reference) as f:
            ref = f.read().strip()
        # heat2d's field does not depend on the number of ranks: compare all but "ranks=".
        if re.sub(r"ranks=\d+ ", "", line) != re.sub(r"ranks=\d+ ", "", ref):
            fail("checksum differs from the failure-free run:\n  got       %s\n  reference %s"
                 % (line, ref))
        print("IDENTICAL to the failure-free run: " + line)

    def restart_after(self, t):
        """Seconds from t to the first rank-0 start of a restarted run, and its restored step."""
        evs = events(self.log)
        starts = [e for e in evs if e.get("event") == "start" and e.get("rank") == 0
                  and e.get("restart") and not e.get("replacement") and e["ts"] >= t]
        restores = [e for e in evs if e.get("event") == "restore" and e["ts"] >= t]
        if not starts or not restores:
            fail("no restart from a checkpoint in the event log after the interruption")
        return starts[0]["ts"] - t, restores[0]["step"], restores[-1]["ts"] - t


def reference(args):
    j = Job(args, "reference")
    j.submit([], [])
    j.wait_end()
    line = j.checksum()
    with open(args.reference, "w") as f:
        f.write(line + "\n")
    print("reference: " + line)


def injob(args):
    j = Job(args, "injob")
    # The emulated node is called n1 while MPI_Get_processor_name gives the host's name, and Open
    # MPI places a replacement only on a node of the allocation, by name: offer n1 as the spare
    # host (key spare_hostfile), and run the job on n1 (the scheduler may otherwise choose n2,
    # whose allocation does not have n1: the spawn then fails, seen once in six suite runs). On a
    # real cluster the two names agree and nothing is needed.
    spares = os.path.join(j.work, "spares")
    with open(spares, "w") as f:
        f.write("n1 slots=8\n")
    j.env["SAL_SPARE_HOSTFILE"] = spares
    j.submit(["--nodelist", "n1"], ["--inject", "rank=1,step=70,signal=KILL"])
    j.wait_end()
    j.check(args.reference, 0)
    resumes = [e for e in events(j.log) if e.get("event") == "resume"]
    if len(resumes) != 1:
        j.dump()
        sys.stdout.write("---- events: %s\n" % " ".join(
            "%s@r%s" % (e.get("event"), e.get("rank")) for e in events(j.log)))
        fail("expected one in-job recovery (resume event), found %d" % len(resumes))
    print("MEASURED in-job recovery: %.3f s (failure to resumed step %d)"
          % (resumes[0]["total_seconds"], resumes[0]["step"]))


def requeue(args):
    j = Job(args, "requeue")
    j.submit([], [])
    j.wait_step(60)
    t = time.time()
    sh(["scontrol", "requeue", j.jid], j.env)
    j.wait_end()
    j.check(args.reference, 1)
    start, step, restored = j.restart_after(t)
    print("MEASURED requeue: %.2f s from scontrol requeue to the restarted job's sal_init, "
          "%.2f s to the restored checkpoint (step %d)" % (start, restored, step))


def signal_stop(args):
    j = Job(args, "signal")
    # The template's --signal=B:USR1@120 would need a time limit above 2 minutes: the test sends
    # the same signal to the batch shell itself instead of waiting for the time limit.
    j.submit(["--time=5", "--signal=B:USR1@60"], [])
    j.wait_step(60)
    t = time.time()
    sh(["scancel", "--batch", "--signal=USR1", j.jid], j.env)
    j.wait_end()
    j.check(args.reference, 1)
    stops = [e for e in events(j.log) if e.get("event") == "stop"]
    if len(stops) != 1 or not stops[0].get("checkpoint"):
        fail("expected one stop event with a committed checkpoint, found %s" % stops)
    start, step, restored = j.restart_after(t)
    if step != stops[0]["step"]:
        fail("restored step %d, but the stop checkpoint was at step %d" % (step, stops[0]["step"]))
    print("MEASURED signal: checkpoint and stop at step %d %.2f s after the signal; restarted "
          "%.2f s after it, checkpoint restored at %.2f s"
          % (step, stops[0]["ts"] - t, start, restored))


def node_pids(node, jid):
    """PIDs of the processes of job jid that run on emulated node `node` (SLURMD_NODENAME)."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(d + "/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if (b"SLURM_JOB_ID=" + jid.encode()) in env and \
                (b"SLURMD_NODENAME=" + node.encode()) in env:
            pids.append(int(os.path.basename(d)))
    return pids


def tcp_over_loopback(j):
    """Open MPI across the two emulated nodes of one host: TCP over the loopback interface (and
    not the exclusion scripts/env.sh sets: Open MPI refuses both)."""
    j.env.pop("OMPI_MCA_btl_tcp_if_exclude", None)
    j.env.update(OMPI_MCA_btl="self,tcp", OMPI_MCA_btl_tcp_if_include="lo")


def lost_other_node(args):
    j = Job(args, "lost_other_node")
    tcp_over_loopback(j)
    j.env.update(LOST_NODE_WAIT="40")
    # --ntasks=4 (not per node): after the loss the job fits on n1 alone; 8 ranks either way
    # (-n 8), so the checkpoint of 8 ranks is restored by 8 ranks. --max-restarts 0: salrun gives up
    # at once, so that the template's requeue path is tested (relaunch_other_node tests salrun's
    # own relaunch without the lost node).
    t = lose_n2(args, j, ["-n", "8", "--max-restarts", "0"], 150)
    j.check(args.reference, 1)
    out = j.output()
    if "requeueing job %s (lost node(s) n2)" % j.jid not in out or \
            "on n1, SLURM_RESTART_COUNT=1" not in out:
        j.dump()
        fail("the job was not requeued onto n1 without the lost n2")
    excluded = sh(["scontrol", "-o", "show", "job", j.jid], j.env)
    if "ExcNodeList=n2" not in excluded:
        fail("n2 is not in the job's ExcNodeList")
    start, step, restored = j.restart_after(t)
    print("MEASURED lost node (not the batch node): restarted on n1 alone %.2f s after the loss, "
          "checkpoint of step %d restored at %.2f s" % (start, step, restored))


def kill_node(args, j, node):
    """SIGKILLs the slurmd of the emulated node and every process of job j on it; returns the time."""
    pidfile = os.path.join(args.cluster, "run", "slurmd.%s.pid" % node)
    with open(pidfile) as f:
        slurmd = int(f.read().strip())
    t = time.time()
    os.kill(slurmd, signal.SIGKILL)
    victims = node_pids(node, j.jid)
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("killed slurmd %s (pid %d) and the %d processes of job %s on %s"
          % (node, slurmd, len(victims), j.jid, node))
    return t


def lose_n2(args, j, salrun_opts, timeout):
    """Runs job j on n1 and n2 (--ntasks=4 in total, so that it fits on n1 alone), loses n2 after the
    checkpoint of step 60 and waits for the job's end; n2 is brought back. Returns the loss time."""
    j.submit(["--nodes=1-2", "--ntasks=4"], salrun_opts)
    j.wait_step(60, timeout=90)
    if "on n[1-2], SLURM_RESTART_COUNT=0" not in j.output():
        j.dump()
        fail("the job did not start on both nodes")
    t = kill_node(args, j, "n2")
    try:
        j.wait_end(timeout=timeout)
    finally:
        sh(["slurmd", "-N", "n2", "-f", j.env["SLURM_CONF"]], j.env, check=False)
    return t


def relaunch_other_node(args):
    j = Job(args, "relaunch_other_node")
    tcp_over_loopback(j)
    t = lose_n2(args, j, ["-n", "8"], 120)
    j.check(args.reference, 0)
    out = j.output()
    # mpiexec reports n2's daemon lost (no probe then), else n2's probe fails. A host is named with
    # the name its probe gave when that differs ("n2 (vm)": every emulated node is this machine),
    # which happens when a launch that failed to start made salrun probe the hosts first.
    probe = re.search(r"salrun: host n2(?: \([^)]*\))? left out of the relaunches: (the launcher "
                      r"reported its daemon there lost|"
                      r"its probe `mpiexec --host n2 -n 1 echo salrun-probe` "
                      r"(exited with status \d+ after|did not end within) [0-9.]+ s)", out)
    if not probe or "salrun: the relaunches run on 1 host: n1 (hostfile " not in out:
        j.dump()
        fail("salrun did not leave the lost n2 out of its relaunch")
    if "requeueing" in out:
        j.dump()
        fail("the job was requeued: salrun should have recovered inside the allocation")
    hosts = open(os.path.join(j.ckpt, "heat.hosts")).read()
    if [l for l in hosts.splitlines() if not l.startswith("#")] != ["n1"]:
        fail("the hostfile of the relaunches should name n1 alone:\n" + hosts)
    if not re.search(r"job 'heat' finished: .*1 restart, host n2(?: \([^)]*\))? left out", out):
        j.dump()
        fail("the summary line does not name the excluded n2")
    start, step, restored = j.restart_after(t)
    print("MEASURED lost node, relaunch inside the allocation: n2 left out (%s); restarted on n1 "
          "%.2f s after the loss, checkpoint of step %d restored at %.2f s"
          % (probe.group(1), start, step, restored))


def salrun_signal(args):
    """Without Slurm: SIGUSR1 to salrun (as the template's trap sends it) stops the job after a
    checkpoint with exit status 138; a second salrun resumes from that checkpoint."""
    work = os.path.join(args.work, "salrun_signal")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = os.path.join(work, "heat.events.jsonl")
    env = dict(os.environ, SAL_CHECKPOINT_SIGNAL="USR1", OMPI_MCA_mpi_yield_when_idle="1")
    for k in [k for k in env if k.startswith("SLURM_") or k == "SAL_CONFIG"]:
        del env[k]
    cmd = [args.salrun, "-n", "4", "--job", "heat", "--ckpt-dir", work, "--interval", "20", "--",
           args.program] + HEAT_ARGS
    ref = subprocess.run(cmd[:4] + ["reference"] + cmd[5:], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60)
    reference_line = CHECKSUM.findall(ref.stdout)
    if ref.returncode != 0 or len(reference_line) != 1:
        fail("failure-free run: status %d\n%s" % (ref.returncode, ref.stdout))
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    end = time.time() + 60
    while not any(e.get("event") == "ckpt_commit" and e.get("step", -1) >= 60
                  for e in events(log)):
        if time.time() > end or proc.poll() is not None:
            proc.kill()
            fail("no checkpoint at step >= 60:\n" + proc.communicate()[0])
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    out = proc.communicate(timeout=60)[0]
    sys.stdout.write(out)
    if proc.returncode != 128 + signal.SIGUSR1:
        fail("salrun exited with status %d after SIGUSR1, expected 138" % proc.returncode)
    stops = [e for e in events(log) if e.get("event") == "stop"]
    if len(stops) != 1 or not stops[0].get("checkpoint") or CHECKSUM.search(out):
        fail("expected one stop event with a committed checkpoint and no result, got %s" % stops)
    again = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
    sys.stdout.write(again.stdout)
    restores = [e for e in events(log) if e.get("event") == "restore"]
    line = CHECKSUM.findall(again.stdout)
    if again.returncode != 0 or len(line) != 1 or not restores:
        fail("the second run did not finish from a restored checkpoint (status %d)"
             % again.returncode)
    if restores[0]["step"] != stops[0]["step"]:
        fail("restored step %d, stopped at step %d" % (restores[0]["step"], stops[0]["step"]))
    if line[0] != reference_line[0]:
        fail("checksum differs from the failure-free run:\n  got       %s\n  reference %s"
             % (line[0], reference_line[0]))
    print("IDENTICAL to the failure-free run after a stop at step %d: %s"
          % (stops[0]["step"], line[0]))


def timelimit(args):
    j = Job(args, "timelimit")
    global HEAT_ARGS
    # 200 steps of 250 ms: longer than the 1-minute limit. Slurm sends SIGUSR1 50 s before it, but
    # it checks time limits only every 30 s or so: the signal comes 10 to 40 s after the start.
    HEAT_ARGS = ["-n", "128", "-s", "200", "--sleep-ms", "250"]
    j.submit(["--time=1", "--signal=B:USR1@50"], [])
    j.wait_end(timeout=140)
    evs = events(j.log)
    stops = [e for e in evs if e.get("event") == "stop"]
    first = [e for e in evs if e.get("event") == "start" and e.get("rank") == 0]
    # The requeued run has the same limit: it may be stopped and requeued again.
    if not stops or not all(e.get("checkpoint") for e in stops) or len(first) != len(stops) + 1:
        fail("expected a stop event with a committed checkpoint before each requeue, got %s"
             % stops)
    j.check(args.reference, len(stops))
    print("MEASURED time limit: SIGUSR1 from Slurm %.1f s after the start (--time=1, "
          "--signal=B:USR1@50), checkpoint at step %d, next run started %.1f s later; %d requeue(s)"
          % (stops[0]["ts"] - first[0]["ts"], stops[0]["step"], first[1]["ts"] - stops[0]["ts"],
             len(stops)))


def job_pids(jid):
    """PIDs of every process of job jid (its environment names it) and of its slurmstepd. Only
    this machine's network namespace: the emulated hosts of slurm.hosts_* (running beside) hold
    the jobs of another Slurm cluster, whose job ids are the same small numbers."""
    pids = []
    own_net = os.readlink("/proc/self/ns/net")
    for d in glob.glob("/proc/[0-9]*"):
        pid = int(os.path.basename(d))
        if pid == os.getpid():
            continue
        try:
            if os.readlink(d + "/ns/net") != own_net:
                continue
            with open(d + "/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(d + "/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if (b"SLURM_JOB_ID=" + jid.encode()) in env or \
                (cmd.startswith(b"slurmstepd") and (b"[" + jid.encode() + b".") in cmd):
            pids.append(pid)
    return pids


MPI_SHM = re.compile(r"^/dev/shm/(sm_segment\.|vader_segment\.|mpich_shm_)[^/]*$")


def shm_files(pids):
    """The MPI shared-memory files in /dev/shm that processes pids map: {path: (dev, inode)}."""
    files = {}
    for pid in pids:
        try:
            with open("/proc/%d/maps" % pid) as f:
                for line in f:
                    fields = line.split(None, 5)
                    if len(fields) == 6 and MPI_SHM.match(fields[5].strip()):
                        st = os.stat(fields[5].strip())
                        files[fields[5].strip()] = (st.st_dev, st.st_ino)
        except OSError:
            pass
    return files


def lose_shm(files):
    """What a lost node's memory held goes with it: removes the files (the same ones) that its
    processes mapped. Returns how many were removed."""
    removed = 0
    for path, ident in files.items():
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) == ident:
                os.unlink(path)
                removed += 1
        except OSError:
            pass
    return removed


def lost_node(args):
    j = Job(args, "lost_node")
    j.submit([], [])
    j.wait_step(60)
    pidfile = os.path.join(args.cluster, "run", "slurmd.n1.pid")
    with open(pidfile) as f:
        slurmd = int(f.read().strip())
    t = time.time()
    os.kill(slurmd, signal.SIGKILL)
    victims = job_pids(j.jid)
    shm = shm_files(victims)
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("killed slurmd n1 (pid %d) and %d processes of job %s; %d MPI shared-memory files of "
          "theirs gone with n1's memory" % (slurmd, len(victims), j.jid, lose_shm(shm)))
    try:
        j.wait_end(timeout=150)
    finally:
        # Bring n1 back for the next tests (ReturnToService=2 makes it idle once registered).
        sh(["slurmd", "-N", "n1", "-f", j.env["SLURM_CONF"]], j.env, check=False)
    j.check(args.reference, 1)
    if "on n2, SLURM_RESTART_COUNT=1" not in j.output():
        j.dump()
        fail("the requeued job did not run on n2")
    start, step, restored = j.restart_after(t)
    print("MEASURED lost node: restarted on n2 %.2f s after the node was lost (SlurmdTimeout=6), "
          "checkpoint of step %d restored at %.2f s" % (start, step, restored))


def srun_relaunch(args):
    """Relaunch mode inside an allocation: Salamander built with Open MPI 4.1 (no ULFM) launches with
    srun. The first launch runs on n1; the test drains n1 and a rank is killed: salrun relaunches
    with srun --exclude=n1, on n2, from the last checkpoint."""
    if not args.debian_salrun or not args.debian_program:
        fail("srun_relaunch needs --debian-salrun and --debian-program (the Open MPI 4.1 tree)")
    j = Job(args, "srun_relaunch")
    j.env["SALRUN"] = args.debian_salrun
    cmd = (["sbatch", "--parsable", "--chdir", j.work, "--output",
            os.path.join(j.work, "job-%j.out"), "--nodes=2", "--exclusive", args.template, "--job", "heat",
            "--interval", "20", "--nodes=1", "--inject", "rank=1,step=90,signal=KILL",
            "--", args.debian_program] + HEAT_ARGS)
    print("+ " + " ".join(cmd), flush=True)
    j.t_submit = time.time()
    j.jid = sh(cmd, j.env).strip().split(";")[0]
    step_nodes = set()
    drained = False
    end = time.time() + 120
    try:
        while time.time() < end and job_state(j.jid, j.env) not in TERMINAL:
            for line in sh(["squeue", "-h", "-s", "-j", j.jid, "-o", "%i %N"], j.env,
                           check=False).splitlines():
                parts = line.split()
                if len(parts) == 2 and not parts[0].endswith(".batch"):
                    step_nodes.add(parts[1])
            if not drained and any(e.get("event") == "ckpt_commit" for e in events(j.log)):
                sh(["scontrol", "update", "nodename=n1", "state=drain", "reason=srun_relaunch"],
                   j.env)
                drained = True
            time.sleep(0.1)
        j.wait_end()
    finally:
        sh(["scontrol", "update", "nodename=n1", "state=resume"], j.env, check=False)
    out = j.output()
    j.check(args.reference, 0)
    if '(srun)' not in out:
        j.dump()
        fail("salrun did not launch with srun")
    if not re.search(r"host n1 left out of the relaunches: Slurm reports it drain(ing|ed)", out):
        j.dump()
        fail("salrun did not exclude the drained node n1")
    if "n1" not in step_nodes or "n2" not in step_nodes:
        j.dump()
        fail("expected job steps on n1, then on n2; saw %s" % sorted(step_nodes))
    kill = [e["ts"] for e in events(j.log) if e.get("event") == "inject"]
    start, step, restored = j.restart_after(kill[0] if kill else j.t_submit)
    print("srun steps ran on %s; the relaunch avoided the drained n1" % sorted(step_nodes))
    print("MEASURED relaunch by srun: rank 0 restarted %.2f s after the kill, checkpoint of step %d "
          "restored at %.2f s" % (start, step, restored))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cluster", required=True, help="the directory of scripts/slurm-cluster.sh up")
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True, help="heat2d")
    p.add_argument("--template", required=True, help="slurm/salamander.sbatch")
    p.add_argument("--reference", required=True)
    p.add_argument("--work", required=True, help="working directory (shared by the nodes)")
    p.add_argument("--debian-salrun", help="salrun built with Open MPI 4.1 (srun_relaunch)")
    p.add_argument("--debian-program", help="heat2d built with Open MPI 4.1 (srun_relaunch)")
    p.add_argument("scenario",
                   choices=["reference", "injob", "requeue", "signal", "lost_node",
                            "salrun_signal", "lost_other_node", "relaunch_other_node",
                            "timelimit", "srun_relaunch"])
    args = p.parse_args()
    os.environ["PATH"] += os.pathsep + "/usr/sbin"
    {"reference": reference, "injob": injob, "requeue": requeue, "signal": signal_stop,
     "lost_node": lost_node, "salrun_signal": salrun_signal,
     "lost_other_node": lost_other_node, "relaunch_other_node": relaunch_other_node,
     "timelimit": timelimit, "srun_relaunch": srun_relaunch}[args.scenario](args)


if __name__ == "__main__":
    main()
