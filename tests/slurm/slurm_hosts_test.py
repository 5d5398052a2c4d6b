#!/usr/bin/env python3
"""heat2d through slurm/salamander.sbatch on a real Slurm across the emulated hosts: one slurmd
inside each host of scripts/cluster.sh (its own network, hostname and /dev/shm), slurmctld and
munged on this machine (scripts/slurm-cluster.sh up DIR N --hosts). Checkpoints stay in each
host's own /dev/shm, with partner copies (L2) on the other host; the event log is in --work,
shared by every host like a cluster's shared file system.

Scenarios (one per invocation, each from fresh hosts and a fresh Slurm, torn down at the end):
  reference  2 hosts, no failure: writes heat2d's checksum line to --reference
  relaunch   2 hosts, 4 ranks (2 on each); host node2 lost (`cluster.sh kill 2`: its slurmd and
             every process of the job on it SIGKILLed, its /dev/shm emptied) once checkpoint 3 is
             committed: Open MPI ends the job, salrun leaves node2 out and relaunches inside the
             same allocation on node1, where ranks 2-3 come back from their partner copies; no
             requeue; identical to the reference
  requeue    3 hosts, the job on node1 and node2 with --max-restarts 0; node2 lost the same way:
             the template waits for Slurm to declare node2 DOWN and requeues the job with
             ExcNodeList=node2; the next run is on node1 and node3, whose ranks 2-3 fetch their
             partner copies from node1; identical to the reference

Every node claims CPUS_PER_NODE=2 CPUs (this machine's cores): `--nodes=2 --ntasks=4` then puts
2 tasks on each node, and salrun maps its ranks by slot onto them. The Open MPI options that
reach the hosts (the bridge's network for PRRTE's and MPI's TCP) are passed through salrun, as
`cluster.sh mpiexec-args --slurm` prints them; PRRTE starts its daemons with srun. After the
teardown no process of the job or of the cluster may be left. Prints the measured times; exit
status 0 on success, 1 with the reason on stderr.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slurm_test  # noqa: E402
from slurm_test import Job, events, fail  # noqa: E402

CPUS_PER_NODE = "2"


def script(a, *args, check=True, timeout=60):
    env = dict(os.environ, SALNS_INSTANCE=str(a.instance), CPUS_PER_NODE=CPUS_PER_NODE)
    p = subprocess.run(list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        fail("%s exited with status %d:\n%s" % (" ".join(args), p.returncode, p.stdout))
    return p.stdout


def leftovers(a):
    """Processes of the Slurm cluster in --cluster or of its jobs: their command line names the
    directory, or their environment its slurm.conf."""
    conf = ("SLURM_CONF=" + os.path.join(a.cluster, "slurm.conf")).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ")
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if a.cluster.encode() in cmd or conf in env:
            found.append("%s %s" % (name, cmd.decode(errors="replace").strip()))
    return found


class Hosts:
    """The emulated hosts with a slurmd each, for the time of one scenario."""

    def __init__(self, a, n):
        self.a = a
        t = time.time()
        print(script(a, a.slurm_cluster, "up", a.cluster, str(n), "--hosts").strip())
        print("MEASURED bring-up of %d hosts with their slurmd: %.2f s" % (n, time.time() - t))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        t = time.time()
        out = script(self.a, self.a.slurm_cluster, "down", self.a.cluster, check=False)
        print(out.strip())
        print("MEASURED teardown: %.2f s" % (time.time() - t))
        left = leftovers(self.a)
        netns = subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, text=True).stdout
        hosts = re.findall(r"^sal%dn\d+" % self.a.instance, netns, re.M)
        if (left or hosts) and exc[0] is None:
            fail("left after the teardown: processes %s, namespaces %s" % (left, hosts))


def job(a, name):
    j = Job(a, name)
    # Checkpoints node-local, in each host's own /dev/shm; the event log (and the hostfile of the
    # relaunches) in the shared work directory, where salrun and the test read it.
    j.env["SAL_CKPT_DIR"] = "/dev/shm/sal-slurm-hosts-%s" % name
    j.log = os.path.join(j.work, "heat.events.jsonl")
    # The jobs of this host keep off the emulated networks (scripts/env.sh); these name the
    # bridge's network instead, and Open MPI refuses both. Without env.sh's mapping policy salrun
    # chooses its own: by slot over the nodes of the allocation.
    j.env.pop("OMPI_MCA_btl_tcp_if_exclude", None)
    j.env.pop("PRTE_MCA_rmaps_default_mapping_policy", None)
    j.salrun_opts = (["--log-dir", j.work] +
                     script(a, a.cluster_sh, "mpiexec-args", "--slurm").split())
    return j


def lose_after(a, j, host, ckpt_id, timeout=90):
    """Loses host `host` once checkpoint ckpt_id is committed; returns the time of the loss."""
    end = time.time() + timeout
    while time.time() < end:
        if any(e.get("event") == "ckpt_commit" and e.get("id") == ckpt_id for e in events(j.log)):
            t = time.time()
            print(script(a, a.cluster_sh, "kill", str(host)).strip(), flush=True)
            return t
        if slurm_test.job_state(j.jid, j.env) in slurm_test.TERMINAL:
            break
        time.sleep(0.05)
    j.dump()
    fail("no checkpoint %d within %d s" % (ckpt_id, timeout))


def ranks_on(evs, restart):
    """{rank: host} of the start events of the first launch (restart False) or of the restarts."""
    return {e["rank"]: e["host"] for e in evs if e.get("event") == "start"
            and not e.get("replacement") and bool(e.get("restart")) == restart}


def check_first_launch(j):
    evs = events(j.log)
    first = ranks_on(evs, False)
    if first != {0: "node1", 1: "node1", 2: "node2", 3: "node2"}:
        j.dump()
        fail("the first launch should put ranks 0-1 on node1 and 2-3 on node2: %s" % first)
    partners = [e["hosts"] for e in evs if e.get("event") == "l2_partners"]
    if not partners or partners[0] != {"node1": "node2", "node2": "node1"}:
        fail("the partner copies (L2) should go to the other host: %s" % partners)
    # node-local: nothing of the checkpoints on this machine's own /dev/shm
    if os.path.exists(j.env["SAL_CKPT_DIR"]):
        fail("%s exists on this machine: the checkpoints were not node-local"
             % j.env["SAL_CKPT_DIR"])


def node_files(j, node):
    """The rank files of the newest checkpoint in node's own /dev/shm, listed through srun."""
    d = os.path.join(j.env["SAL_CKPT_DIR"], "heat")
    out = slurm_test.sh(["srun", "--nodelist", node, "--nodes=1", "--ntasks=1", "sh", "-c",
                         'cd %s && ls "$(cat latest)"' % d], j.env, check=False)
    return sorted(f for f in out.split() if f.startswith("rank."))


def reference(a):
    with Hosts(a, 2):
        j = job(a, "hosts_reference")
        j.submit(["--nodes=2", "--ntasks=4"], j.salrun_opts)
        j.wait_end()
        check_first_launch(j)
        line = j.checksum()
        for node in ("node1", "node2"):
            print("%s holds %s (own files and partner copies)"
                  % (node, " ".join(node_files(j, node))))
    with open(a.reference, "w") as f:
        f.write(line + "\n")
    print("reference: " + line)


def relaunch(a):
    with Hosts(a, 2):
        j = job(a, "hosts_relaunch")
        j.submit(["--nodes=2", "--ntasks=4"], j.salrun_opts)
        t = lose_after(a, j, 2, 3)
        j.wait_end(timeout=120)
        check_first_launch(j)
        j.check(a.reference, 0)
        out = j.output()
        probe = re.search(r"salrun: host node2(?: \([^)]*\))? left out of the relaunches: "
                          r"(the launcher reported its daemon there lost|Slurm reports it [a-z_ ]+|"
                          r"its probe `mpiexec --host node2 -n 1 echo salrun-probe` "
                          r"(exited with status \d+ after|"
                          r"did not end within) ([0-9.]+) s)", out)
        if not probe or "salrun: the relaunches run on 1 host: node1 (hostfile " not in out:
            j.dump()
            fail("salrun did not leave the lost node2 out of its relaunch")
        if "requeueing" in out:
            j.dump()
            fail("the job was requeued: salrun should have recovered inside the allocation")
        again = ranks_on(events(j.log), True)
        if sorted(again) != [0, 1, 2, 3] or set(again.values()) != {"node1"}:
            fail("the relaunch should run ranks 0-3 on node1: %s" % again)
        start, step, restored = restored_from_partners(j, out, t, "node1")
        print("MEASURED lost host, relaunch inside the allocation: %s; restarted on node1 %.2f s "
              "after the loss, checkpoint of step %d restored at %.2f s"
              % (probe.group(1), start, step, restored))


def restored_from_partners(j, out, t, node):
    """Ranks 2-3 now on node restored from their partner copies on node1; returns the restart's
    (start, step, restored) after the loss at t."""
    for r in (2, 3):
        if not re.search(r"r%d@%s read_own\] checkpoint \d+: rank file restored from its "
                         r"partner copy on host node1" % (r, node), out):
            j.dump()
            fail("rank %d was not restored on %s from its partner copy on node1" % (r, node))
    print("%s holds %s" % (node, " ".join(node_files(j, node))))
    return j.restart_after(t)


def requeue(a):
    with Hosts(a, 3):
        j = job(a, "hosts_requeue")
        j.env["LOST_NODE_WAIT"] = "40"
        j.submit(["--nodes=2", "--ntasks=4"], ["--max-restarts", "0"] + j.salrun_opts)
        t = lose_after(a, j, 2, 3)
        j.wait_end(timeout=150)
        check_first_launch(j)
        j.check(a.reference, 1)
        out = j.output()
        if "requeueing job %s (lost node(s) node2)" % j.jid not in out or \
                "on node[1,3], SLURM_RESTART_COUNT=1" not in out:
            j.dump()
            fail("the job was not requeued onto node1 and node3 without the lost node2")
        shown = slurm_test.sh(["scontrol", "-o", "show", "job", j.jid], j.env)
        if "ExcNodeList=node2" not in shown:
            fail("node2 is not in the job's ExcNodeList")
        again = ranks_on(events(j.log), True)
        if again != {0: "node1", 1: "node1", 2: "node3", 3: "node3"}:
            fail("the requeued run should put ranks 0-1 on node1 and 2-3 on node3: %s" % again)
        start, step, restored = restored_from_partners(j, out, t, "node3")
        print("MEASURED lost host, requeue without it: restarted on node1 and node3 %.2f s after "
              "the loss, checkpoint of step %d restored at %.2f s" % (start, step, restored))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cluster", required=True, help="the Slurm directory (made and removed here)")
    p.add_argument("--instance", type=int, default=1, help="SALNS_INSTANCE of the emulated hosts")
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True, help="heat2d")
    p.add_argument("--template", required=True, help="slurm/salamander.sbatch")
    p.add_argument("--reference", required=True)
    p.add_argument("--work", required=True, help="working directory (shared by the hosts)")
    p.add_argument("scenario", choices=["reference", "relaunch", "requeue"])
    a = p.parse_args()
    a.cluster = os.path.abspath(a.cluster)
    scripts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")
    a.slurm_cluster = os.path.normpath(os.path.join(scripts, "slurm-cluster.sh"))
    a.cluster_sh = os.path.normpath(os.path.join(scripts, "cluster.sh"))
    os.environ["PATH"] += os.pathsep + "/usr/sbin"
    os.makedirs(a.work, exist_ok=True)
    {"reference": reference, "relaunch": relaunch, "requeue": requeue}[a.scenario](a)
    print("PASSED: hosts_%s" % a.scenario)


if __name__ == "__main__":
    main()
