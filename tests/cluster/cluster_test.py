#!/usr/bin/env python3
"""heat2d on the emulated cluster of scripts/cluster.sh (4 hosts x 2 ranks), compared bit for bit
with a failure-free run on the same hosts:

  reference  the failure-free run (written to --work/reference)
  rank_kill  rank 5 (host node3) SIGKILLed at step 70: in-job respawn, identical
  host_lost  host node3 lost (every process on it, its /dev/shm) once checkpoint 3 is committed:
             Open MPI 5.0.11's launcher ends the job (mpiexec exits 0), salrun sees no finish,
             leaves node3 out (mpiexec reported its daemon lost) and relaunches on the 3 hosts
             left; ranks 4-5 are restored from their L2 partner copies on other hosts;
             identical. Its hostfile names the hosts by address: the exclusion names node3 both
             ways
  host0_lost the same with the host of rank 0 (node1), which held `latest`, the manifest and the
             levels record: every other host keeps them, nothing committed is lost; with levels
             L1+L3, the lost ranks are rebuilt from XOR parity, read where each member of their
             group runs now (its parity fetched from its old host when it moved)
  host_silent the link of node3 cut once checkpoint 3 is committed (its processes live on): Open
             MPI's heartbeat detector, on by default for several hosts, reports it, the repair
             cannot reach node3, and salrun relaunches on the 3 hosts left; identical
  host_frozen every process of node3 stopped (SIGSTOP) once checkpoint 3 is committed: the same
  spares     rank 5 SIGKILLed at step 70 with --policy spares --spares 2: a spare on another host
             takes its place and receives its file from the host that holds it; identical
  shrink     rank 5 (host node3) SIGKILLed at step 70 with --policy shrink: the 7 survivors read
             checkpoint 3 of 8 ranks through its manifest; each host first receives the old rank
             files its ranks' blocks overlap from the hosts that hold them; identical
  host_lost_l1 node3 lost after checkpoint 3 with levels L1 only: its ranks' data is gone with
             it, so the relaunch must stop with the message that names the checkpoints, the ranks
             without data and the levels that would have covered them: no answer, status 1
  two_hosts  two hosts that do not hold each other's partner copies (from the l2_partners event)
             lost at once after checkpoint 3: relaunch on the 2 hosts left, the lost ranks from
             their partner copies; identical
  two_hosts_partners node3 and the host of its partner copies lost at once: ranks of node3 have
             no data left (default levels L1+L2): the relaunch stops with the message naming them
  host_lost_fit node3 lost after checkpoint 3 with --relaunch-ranks fit: the relaunch runs 6
             ranks on the 6 slots left and restores the checkpoint of 8 ranks from node-local L1
             and L2 across hosts (N -> M); identical
  injob_host_lost (with --prrte) node3 lost once checkpoint 3 is committed: the job lives on
             under PRRTE 5, the survivors repair it in-job (replacements for ranks 4-5 on the hosts
             left, never node3), which restore from the partner copies on other hosts: one
             recovery, no relaunch (--max-restarts 0); identical
  injob_silent (with --prrte) node3's link cut after checkpoint 3: PRRTE's keepalive (salrun
             --prrte) reports the host lost, then as injob_host_lost
  injob_two_hosts (with --prrte) node3 lost after checkpoint 3, then, after that recovery and
             checkpoint 5, a second host (one that did not hold node3's copies, which also holds
             a replacement spawned for node3's ranks): both repaired in-job by respawn, two
             recoveries, no relaunch; identical. A relaunch passes only when every survivor
             overran the spawn's bound (the second spawn hung in 2 runs of 28 inside PRRTE:
             docs/cluster.md, open problems)
  injob_in_repair (with --prrte) node3 lost after checkpoint 3 and a second host (not holding
             node3's copies nor holding its own on node3) while rank 0 pauses 2 s in that repair
             (REPAIR_PAUSE, after the `failure` event): an in-job recovery (when the spawn's root waits for a
             replacement that died, it overruns the spawn's bound, half the repair's, and is
             repaired with the rest); a relaunch on the 2 hosts left passes only when every
             survivor overran the spawn's bound (Open MPI's hang, docs/cluster.md); identical
  injob_in_restore (with --prrte) node3 lost after checkpoint 3; the replacement spawned for
             rank 4 pauses 3 s before it loads the checkpoint, and a second host (not holding
             node3's copies nor its own on node3) is lost during that pause: its ranks are
             respawned too, in the same recovery or a second one, no relaunch; identical
  injob_in_ckpt (with --prrte) node3 lost as checkpoint 4 begins: the checkpoint is
             aborted, the job repaired in-job from checkpoint 3; identical
  injob_spares_host_lost (with --prrte) node3 lost once checkpoint 3 is committed, --policy
             spares --spares 2: salrun gives the spares slots on the hostfile's last host (node4),
             two of them take ranks 4-5 and restore from the partner copies on other hosts: no
             spawn (so no PRRTE fence after the loss), one recovery, no relaunch; identical
  injob_spares_two_hosts (with --prrte) the same with --spares 4, then, after that recovery and
             checkpoint 5, a second host (not node4, not holding node3's copies nor its own on
             node3): its ranks are taken by the two spares left; two in-job recoveries, no
             relaunch; identical
  launcher_lost (with --prrte) the launch's prterun SIGKILLed after checkpoint 3 (the launcher's
             host, where the job's PRRTE runs, lost: no in-job repair survives that): salrun
             relaunches from checkpoint 3; identical
  lost_in_restore node3 lost after checkpoint 3, then a second host (not holding node3's copies
             nor holding its own on node3) as the relaunched job starts and restores: a second
             relaunch on the 2 hosts left; identical
  host_lost_async host_lost with async_levels: checkpoint 3 commits at L1 while its partner copies
             travel behind the steps, so the relaunch finds node3's files of it gone and restores
             the newest checkpoint whose copies were agreed complete (2, or 3 when checkpoint 4
             committed before the loss), node3's ranks from their partner copies; identical
  host_lost_l4 the same with L1 and L4 (pfs_dir in --work, shared like a parallel file system):
             the lost ranks come back from L4; identical

Every case checks that the lines of a failed launch (its ranks' failures, read from the shared
event log) come before salrun's lines about the relaunch.

Each run: salrun with the hostfile and the options of `cluster.sh mpiexec-args`, --map-by
slot:oversubscribe, the event log in --work (shared by every host, like a cluster's shared file
system), checkpoints in each host's own /dev/shm. No process may outlive salrun.
Exit status 0 when the case passes, 1 with the reason on stderr.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import run_checked  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=([0-9a-f]{16})", re.M)
HEAT = ["-n", "128", "-s", "120", "--sleep-ms", "20"]


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def cluster(a, *args):
    return subprocess.run([a.cluster] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)


def salrun(a, job, extra, during=None, by_address=False, want=0, env_extra=None):
    work = os.path.join(a.work, job)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    hostfile = os.path.join(work, "hosts")
    with open(hostfile, "w") as f:
        f.write(cluster(a, "hostfile", "2", *(["--addresses"] if by_address else [])).stdout)
    mpi = cluster(a, "mpiexec-args").stdout.split()
    prrte = ["--prrte", a.prrte] if a.prrte else []
    cmd = ([a.salrun, "-n", "8", "--job", job, "--log-dir", work, "--interval", "20",
            "--restart-delay", "0", "--hostfile", hostfile, "--probe-timeout", "30",
            "--start-timeout", "30"] + prrte
           + extra + mpi
           + ["--map-by", "slot:oversubscribe", "--", a.program] + HEAT)
    # the cluster's network is named by btl_tcp_if_include (mpiexec-args): Open MPI refuses both
    # that and the exclusion scripts/env.sh sets for jobs of this host
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SAL_") and k != "OMPI_MCA_btl_tcp_if_exclude"}
    env["SAL_CKPT_DIR"] = CKPT_DIR
    # The 4 emulated hosts share this machine's cores, but each sees as many cores as ranks: Open
    # MPI does not know it is oversubscribed and its ranks spin while they wait, 8 of them on 2
    # cores (a 120-step run took 11.8 s; yielding, 0.08 s). The 20 ms per step then keeps a run
    # long enough to lose a host in the middle of it.
    env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    env.update(a.env)
    env.update(env_extra or {})
    if during:
        threading.Thread(target=during, args=(os.path.join(work, job + ".events.jsonl"),),
                         daemon=True).start()
    p = run_checked(cmd, a.timeout, env, fail, want)
    check_line_order(p.output)
    sums = CHECKSUM.findall(p.output)
    if want != 0:
        if sums:
            fail("a checksum was printed: %r" % sums)
        sums = [None]
    elif len(sums) != 1:
        fail("expected one checksum line, found %d" % len(sums))
    with open(os.path.join(work, job + ".events.jsonl")) as f:
        return sums[0], p.output, [json.loads(line) for line in f]


def check_line_order(out):
    """What a launch's ranks reported (failure and bound lines, read from the shared event log)
    comes before salrun's lines about the relaunch: none between a "relaunching in" line and the
    next "job restarted" line."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if "relaunching in" not in line:
            continue
        end = next((k for k in range(i + 1, len(lines)) if "job restarted" in lines[k]),
                   len(lines))
        late = [l for l in lines[i + 1:end] if re.match(r"salrun: ranks? \d", l)]
        if late:
            fail("a line of the failed launch came after its relaunch line: %r" % late[0])


def wait_committed(a, log, ckpt_id):
    """True once the event log shows checkpoint ckpt_id committed, False after a.timeout."""
    deadline = time.time() + a.timeout
    while time.time() < deadline:
        if os.path.exists(log):
            with open(log) as f:
                if any('"ckpt_commit"' in l and '"id":%d,' % ckpt_id in l for l in f):
                    return True
        time.sleep(0.05)
    return False


def lose_host_after(a, k, ckpt_id, how=("kill",)):
    def watch(log):
        if wait_committed(a, log, ckpt_id):
            print(cluster(a, how[0], str(k), *how[1:]).stdout, flush=True)
    return watch


def lose_two_after(a, ckpt_id, partners, chosen):
    """Loses two hosts once checkpoint ckpt_id is committed, chosen from the l2_partners event
    (host -> the host of its partner copies): partners=False, two hosts that do not hold each
    other's copies; True, node3 and the host of its copies. chosen gets the two host numbers."""
    def watch(log):
        deadline = time.time() + a.timeout
        while time.time() < deadline:
            if os.path.exists(log):
                with open(log) as f:
                    evs = [json.loads(line) for line in f if line.strip()]
                pm = [e["hosts"] for e in evs if e["event"] == "l2_partners"]
                if pm and any(e["event"] == "ckpt_commit" and e["id"] == ckpt_id for e in evs):
                    p = pm[0]
                    if partners:
                        pair = ["node3", p["node3"]]
                    else:
                        pair = next([x, y] for x in sorted(p) for y in sorted(p)
                                    if x < y and p[x] != y and p[y] != x)
                    chosen.extend(int(h[4:]) for h in pair)
                    for k in chosen:
                        print(cluster(a, "kill", str(k)).stdout, flush=True)
                    return
            time.sleep(0.05)
    return watch


lost_at = {}  # host name -> when lose_in_sequence lost it
CKPT_DIR = "/dev/shm/sal-cluster-test"


def lose_in_sequence(a, steps, chosen):
    """Loses hosts one at a time: steps is a list of (condition, pick) where condition(events) says
    when and pick(l2_partners map, hosts lost so far) names the host number. chosen gets them, and
    lost_at the time of each loss."""
    def watch(log):
        deadline = time.time() + a.timeout
        k = 0
        while time.time() < deadline and k < len(steps):
            if os.path.exists(log):
                with open(log) as f:
                    evs = [json.loads(line) for line in f if line.strip().endswith("}")]
                cond, pick = steps[k]
                if cond(evs):
                    pm = next((e["hosts"] for e in evs if e["event"] == "l2_partners"), {})
                    host = pick(pm, chosen)
                    chosen.append(host)
                    lost_at["node%d" % host] = time.time()
                    print(cluster(a, "kill", str(host)).stdout, flush=True)
                    k += 1
                    continue
            time.sleep(0.05)
    return watch


def kill_launcher_after(a, ckpt_id, work):
    """SIGKILLs the launch's prterun (mpiexec's PRRTE, on this machine: the launcher's host) once
    checkpoint ckpt_id is committed: what the loss of the launcher's host does to the job's
    daemons (salrun, which would go with that host, stands for the batch system's requeue)."""
    def watch(log):
        if not wait_committed(a, log, ckpt_id):
            return
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and os.path.basename(cmd[0]) == b"prterun" and \
                    any(work.encode() in w for w in cmd):
                os.kill(int(pid), 9)
                print("killed prterun %s" % pid, flush=True)
    return watch


def committed(ckpt_id, after_resumes=0):
    return lambda evs: (sum(e["event"] == "resume" for e in evs) >= after_resumes and
                        any(e["event"] == "ckpt_commit" and e["id"] == ckpt_id for e in evs))


def other_than_partners(pm, lost):
    """A host that neither holds the copies of a host lost so far nor has its copies on one."""
    lost_names = ["node%d" % k for k in lost]
    for name in sorted(pm):
        if name in lost_names or pm[name] in lost_names:
            continue
        if any(pm.get(l) == name for l in lost_names):
            continue
        return int(name[4:])
    fail("no host fits: partners %r, lost %r" % (pm, lost))


def repairing(evs):
    """The first repair has begun (its failure event) and not ended (no resume)."""
    return any(e["event"] == "failure" for e in evs) and not any(e["event"] == "resume"
                                                                 for e in evs)


def restoring(evs):
    """The process that took rank 4 (a spare or a replacement) paused in its restore (the inject
    event of RESTORE_PAUSE)."""
    return any(e["event"] == "inject" and e.get("point") == "restore" for e in evs)


def check_lost_in_restore(evs, who):
    """fail() unless a failure was seen after the process that took rank 4 (who: "spare",
    "replacement") began its restore (the inject event of RESTORE_PAUSE)."""
    pause = next((e for e in evs if e["event"] == "inject"), None)
    if not pause or not any(e["event"] == "failure" and e["ts"] > pause["ts"] for e in evs):
        fail("no failure was seen after the %s of rank 4 began its restore" % who)


# injob_spares_in_restore, injob_in_restore: the spare or the replacement that takes rank 4 pauses
# 3 s before it loads the checkpoint, so that the second host is lost while that restore is under
# way, whatever the machine's speed.
RESTORE_PAUSE = "rank=4,point=restore,action=sleep,seconds=3"
# injob_spares_in_repair, injob_in_repair: rank 0 pauses 2 s in the repair of the first loss, after
# its failure event and before the lost ranks are replaced, so that the second host is lost while
# that repair is under way (a spares repair otherwise ends in about 0.1 s, before a watcher polling
# the event log can act).
REPAIR_PAUSE = "rank=0,point=repair,action=sleep,seconds=2"


def injob_spares(a):
    """The in-job cases of --policy spares (with --prrte), the spares on a host of their own kind
    (--spares 2, or 4 for two hosts): node3 lost after checkpoint 3, and with
      injob_spares_two_hosts   then, after that recovery and checkpoint 5,
      injob_spares_in_repair   then, while rank 0 pauses in the repair of node3 (REPAIR_PAUSE),
      injob_spares_in_restore  then, while the spare taking rank 4 restores (RESTORE_PAUSE),
    a host holding neither node3's copies nor its own on node3. Every lost rank is taken by a
    parked spare on a live host, which restores from the copies on other hosts: no spawn, no
    relaunch (--max-restarts 0), one in-job recovery per lost host (a loss during a repair or its
    restore may join that repair: one or two), the failure-free answer. Returns the checksum."""
    if not a.prrte:
        fail("%s needs --prrte PREFIX (the PRRTE 5 + PMIx 7 stack)" % a.case)
    second = {"injob_spares_two_hosts": committed(5, 1), "injob_spares_in_repair": repairing,
              "injob_spares_in_restore": restoring}.get(a.case)
    lost = []
    steps = [(committed(3), lambda pm, l: 3)]
    if second:  # not node4, the spares' host
        steps.append((second, lambda pm, l: other_than_partners(
            {h: t for h, t in pm.items() if h != "node4"}, l)))
    extra = {"injob_spares_in_restore": ["--inject", RESTORE_PAUSE],
             "injob_spares_in_repair": ["--inject", REPAIR_PAUSE]}.get(a.case, [])
    got, out, evs = salrun(a, a.case, ["--max-restarts", "0", "--policy", "spares",
                                       "--spares", "4" if second else "2"] + extra,
                           lose_in_sequence(a, steps, lost))
    if len(lost) != len(steps):
        fail("%d host(s) lost instead of %d" % (len(lost), len(steps)))
    parked = sorted(set(e["host"] for e in evs if e["event"] == "spare"))
    if parked != ["node4"]:
        fail("the spares did not all park on the hostfile's last host node4: %r" % parked)
    resumes = [e for e in evs if e["event"] == "resume"]
    merged = a.case in ("injob_spares_in_repair", "injob_spares_in_restore")
    if not (len(resumes) == len(steps) or (merged and len(resumes) == 1)):
        fail("expected %d in-job recoveries, found %d" % (len(steps), len(resumes)))
    # a repair that a second loss interrupts plans again with every rank lost so far: the ranks
    # of each lost host have a policy event, some two
    actions = [e for e in evs if e["event"] == "policy"]
    taken = set(e["lost_rank"] for e in actions)
    if len(taken) != 2 * len(steps) or any(e["action"] != "spare" for e in actions):
        fail("the lost ranks were not all taken by spares: %r" % actions)
    if any(e["event"] in ("spawn", "placement") for e in evs):
        fail("a process was spawned")
    dead = ["node%d" % k for k in lost]
    took = [e for e in evs if e["event"] == "start" and e.get("replacement")]
    on_dead = [e for e in took if e["host"] in dead]
    if len(took) != 2 * len(steps) or on_dead:
        fail("spares that took a lost rank: %r" % took)
    for e in actions:
        m = re.search(r"r%d@(node\d) \w+\] checkpoint \d+: rank file restored from (L2|its "
                      r"partner copy on host (node\d)|its own file on host (node\d))"
                      % e["lost_rank"], out)
        if not m or m.group(1) in dead or (m.group(3) or m.group(4) or "") in dead:
            fail("rank %d was not restored from a copy on a live host" % e["lost_rank"])
    if "job restarted" in out:
        fail("the job was relaunched")
    fails = [e for e in evs if e["event"] == "failure"]
    print("hosts lost: %s; spares on %s took ranks %s; %d recoveries (%s s)" % (
        ",".join(dead), ",".join(e["host"] for e in took),
        ",".join(str(e["lost_rank"]) for e in actions), len(resumes),
        ", ".join("%.2f" % e["total_seconds"] for e in resumes)))
    if a.case == "injob_spares_in_restore":
        check_lost_in_restore(evs, "spare")
    for host, f, r in zip(dead, fails, resumes):  # from the kill (cluster.sh kill started)
        print("%s: failure seen %.3f s after the kill, repair began %.3f s, resumed %.3f s" % (
            host, f["detected"] - lost_at[host], f["ts"] - lost_at[host], r["ts"] - lost_at[host]))
    return got


def reference(a):
    path = os.path.join(a.work, "reference")
    if not os.path.exists(path):
        fail("no reference: run the reference case first (fixture cluster_ref)")
    with open(path) as f:
        return f.read().strip()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cluster", required=True)
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--timeout", type=float, default=150)
    p.add_argument("--prrte", default=None, metavar="PREFIX",
                   help="salrun --prrte PREFIX: the PRRTE 5 + PMIx 7 launcher stack")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="a variable for salrun (e.g. SAL_HEARTBEAT_TIMEOUT=5)")
    p.add_argument("case", choices=["reference", "rank_kill", "host_lost", "host0_lost",
                                    "host_silent", "host_frozen", "spares", "shrink", "two_hosts", "two_hosts_partners", "host_lost_l1",
                                    "host_lost_l4", "host_lost_fit", "host_lost_async", "injob_host_lost",
                                    "injob_silent", "injob_two_hosts", "injob_in_repair",
                                    "injob_in_ckpt", "injob_in_restore", "launcher_lost",
                                    "lost_in_restore", "injob_spares_host_lost",
                                    "injob_spares_two_hosts", "injob_spares_in_repair",
                                    "injob_spares_in_restore"])
    a = p.parse_args()
    a.env = dict(e.split("=", 1) for e in a.env)
    os.makedirs(a.work, exist_ok=True)
    # fresh hosts: every node-local /dev/shm empty, no host marked lost
    up = cluster(a, "up", "4")
    if up.returncode != 0:
        fail("scripts/cluster.sh up 4 failed:\n" + up.stdout)
    if a.case == "reference":
        got, _, _ = salrun(a, "ref", ["--max-restarts", "0"])
        with open(os.path.join(a.work, "reference"), "w") as f:
            f.write(got + "\n")
        print("PASSED: reference %s" % got)
        return
    ref = reference(a)
    if a.case == "rank_kill":
        got, _, evs = salrun(a, "kill", ["--max-restarts", "0", "--inject", "rank=5,step=70"])
        resumes = [e for e in evs if e["event"] == "resume"]
        if len(resumes) != 1:
            fail("expected one in-job recovery, found %d" % len(resumes))
        place = [e for e in evs if e["event"] == "placement"]
        print("replacement placed on %s, cores %s (%s)" % (
            place[0]["to_host"], place[0]["cpuset"], place[0]["reason"]) if place else "")
    elif a.case == "injob_host_lost":
        if not a.prrte:
            fail("injob_host_lost needs --prrte PREFIX (the PRRTE 5 + PMIx 7 stack)")
        got, out, evs = salrun(a, a.case, ["--max-restarts", "0"], lose_host_after(a, 3, 3))
        resumes = [e for e in evs if e["event"] == "resume"]
        if len(resumes) != 1:
            fail("expected one in-job recovery, found %d" % len(resumes))
        place = [e for e in evs if e["event"] == "placement"]
        if any(e.get("to_host") == "node3" for e in place):
            fail("a replacement was placed on the lost host: %r" % place)
        print("replacements on %s; recovered in %.2f s" % (
            ",".join(e.get("to_host", "?") for e in place), resumes[0]["total_seconds"]))
    elif a.case.startswith("injob_spares_"):
        got = injob_spares(a)
    elif a.case == "lost_in_restore":
        lost = []
        restarted = lambda evs: any(e["event"] == "start" and e.get("restart") for e in evs)
        got, out, evs = salrun(a, a.case, ["--max-restarts", "3"],
                               lose_in_sequence(a, [(committed(3), lambda pm, l: 3),
                                                    (restarted, other_than_partners)], lost))
        if len(lost) != 2:
            fail("the two hosts were not lost")
        for k in lost:
            if not re.search(r"host node%d left out of the relaunches" % k, out):
                fail("node%d was not left out" % k)
        print("lost node3, then node%d as the relaunched job started" % lost[1])
    elif a.case == "launcher_lost":
        if not a.prrte:
            fail("launcher_lost needs --prrte PREFIX (the PRRTE 5 + PMIx 7 stack)")
        work = os.path.join(a.work, a.case)
        got, out, evs = salrun(a, a.case, ["--max-restarts", "2"],
                               kill_launcher_after(a, 3, work))
        if "job restarted" not in out:
            fail("the loss of the launcher did not end in a relaunch")
        restores = [e for e in evs if e["event"] == "restore"]
        if not restores or restores[-1]["id"] < 3:
            fail("the relaunch did not restore checkpoint 3 or newer: %r" % restores)
    elif a.case in ("injob_silent", "injob_two_hosts", "injob_in_repair", "injob_in_ckpt",
                    "injob_in_restore"):
        if not a.prrte:
            fail("%s needs --prrte PREFIX (the PRRTE 5 + PMIx 7 stack)" % a.case)
        lost = []
        if a.case == "injob_silent":
            during, want = lose_host_after(a, 3, 3, ("kill", "--silent")), 1
        elif a.case == "injob_two_hosts":
            during = lose_in_sequence(a, [(committed(3), lambda pm, l: 3),
                                          (committed(5, 1), other_than_partners)], lost)
            want = 2
        elif a.case == "injob_in_ckpt":
            during = lose_in_sequence(a, [(lambda evs: any(e["event"] == "ckpt_begin" and
                                                           e["id"] == 4 for e in evs),
                                           lambda pm, l: 3)], lost)
            want = 1
        elif a.case == "injob_in_restore":
            during = lose_in_sequence(a, [(committed(3), lambda pm, l: 3),
                                          (restoring, other_than_partners)], lost)
            want = None
        else:
            during = lose_in_sequence(a, [(committed(3), lambda pm, l: 3),
                                          (lambda evs: any(e["event"] == "failure" for e in evs),
                                           other_than_partners)], lost)
            want = None
        # want None: one recovery, or two when the second loss came after the first repair
        restarts = "2" if want is None else "0"
        if a.case == "injob_two_hosts":
            restarts = "1"
        extra = {"injob_in_restore": ["--inject", RESTORE_PAUSE],
                 "injob_in_repair": ["--inject", REPAIR_PAUSE]}.get(a.case, [])
        got, out, evs = salrun(a, a.case, ["--max-restarts", restarts] + extra, during)
        resumes = [e for e in evs if e["event"] == "resume"]
        if "job restarted" in out:
            # A relaunch passes only with the sign of the hang of every survivor inside a spawn
            # (Open MPI's allocation of the new communicator's id, PRRTE's fence of the spawned
            # job: docs/cluster.md, open problems): each ended by the spawn's own bound, none by
            # another.
            bounds = [e for e in evs if e["event"] == "bound"]
            if not bounds or any(e["step"] != "the spawn of the replacements" for e in bounds):
                fail("relaunched, and not after the known hang of the spawn: bounds %r" % bounds)
            print("NOTE: relaunched after every survivor overran the spawn's bound (the hang of "
                  "Open MPI 5.0.11 / PRRTE inside the spawn, docs/cluster.md), not in-job")
        elif want is None and not 1 <= len(resumes) <= 2:
            fail("expected one or two in-job recoveries, found %d" % len(resumes))
        elif want is not None and len(resumes) != want:
            fail("expected %d in-job recoveries, found %d" % (want, len(resumes)))
        if a.case == "injob_in_restore":
            check_lost_in_restore(evs, "replacement")
        place = [e for e in evs if e["event"] == "placement"]
        dead = ["node%d" % k for k in lost] or ["node3"]
        # Every failure of these cases is a lost host: a placement after a failure event that named
        # a host (the repair knew its ranks were gone) must not go there, in that repair or a later
        # one (the hosts taken for dead are kept, docs/placement.md).
        fails = [e for e in evs if e["event"] == "failure"]
        late = [e for e in place
                if any(f["ts"] < e["ts"] and e.get("to_host") in f.get("hosts", []) for f in fails)]
        if late:
            fail("a replacement was placed on a host already reported lost: %r" % late)
        print("hosts lost: %s; %d recoveries (%s s)" % (
            ",".join(dead), len(resumes), ", ".join("%.2f" % e["total_seconds"] for e in resumes)))
    elif a.case == "spares":
        got, out, evs = salrun(a, "spares", ["--max-restarts", "0", "--policy", "spares",
                                             "--spares", "2", "--inject", "rank=5,step=70"])
        resumes = [e for e in evs if e["event"] == "resume"]
        if len(resumes) != 1:
            fail("expected one in-job recovery, found %d" % len(resumes))
        m = re.search(r"r5@(node\d) read_own\] checkpoint \d+: rank file restored from its own "
                      r"file on host (node\d)", out)
        if not m or m.group(1) == m.group(2):
            fail("the spare did not receive rank 5's file from another host")
        print("the spare on %s received rank 5's file from %s" % (m.group(1), m.group(2)))
    elif a.case == "shrink":
        got, out, evs = salrun(a, "shrink", ["--max-restarts", "0", "--policy", "shrink",
                                             "--inject", "rank=5,step=70"])
        resumes = [e for e in evs if e["event"] == "resume"]
        if len(resumes) != 1:
            fail("expected one in-job recovery, found %d" % len(resumes))
        if not re.search(r"ranks=7 checksum", out):
            fail("the job did not end on 7 ranks")
        if not re.search(r"old rank files? moved to the hosts whose ranks read them", out):
            fail("no old rank file was moved between hosts")
    elif a.case in ("two_hosts", "two_hosts_partners"):
        lost = []
        partners = a.case == "two_hosts_partners"
        got, out, evs = salrun(a, a.case, ["--max-restarts", "2"],
                               lose_two_after(a, 3, partners, lost), want=1 if partners else 0)
        if len(lost) != 2:
            fail("the two hosts were not lost")
        for k in lost:
            if not re.search(r"host node%d left out of the relaunches" % k, out):
                fail("node%d was not left out of the relaunch" % k)
        if partners:
            if not re.search(r"checkpoint 3 \(step 60, levels L1\+L2\): no data for ranks", out):
                fail("the message does not name checkpoint 3 and the ranks without data")
            print("PASSED: two_hosts_partners (nodes %d and %d) stopped with the message" % tuple(lost))
            return
        restores = [e for e in evs if e["event"] == "restore"]
        if not restores or restores[-1]["id"] < 3:
            fail("the relaunch did not restore checkpoint 3 or newer: %r" % restores)
        print("lost nodes %d and %d" % tuple(lost))
    elif a.case == "host_lost_l1":
        _, out, evs = salrun(a, a.case, ["--max-restarts", "2"], lose_host_after(a, 3, 3),
                             want=1, env_extra={"SAL_LEVELS": "L1"})
        need = ["none of the 3 committed checkpoints can be restored",
                "checkpoint 3 (step 60, levels L1): no data for ranks 4-5",
                "levels that would have covered them", "not relaunched"]
        missing = [n for n in need if n not in out]
        if missing:
            fail("the message does not say: %s" % "; ".join(missing))
        if any(e["event"] == "finish" and e.get("status") == "ok" for e in evs):
            fail("a rank finished")
        print("PASSED: host_lost_l1 stopped with the message, no answer")
        return
    else:
        k = 1 if a.case == "host0_lost" else 3
        how = {"host_silent": ["kill", "--silent"], "host_frozen": ["freeze"]}.get(a.case, ["kill"])
        env = {"SAL_LEVELS": "L1,L3"} if a.case == "host0_lost" else {}
        if a.case == "host_lost_async":
            env = {"SAL_ASYNC_LEVELS": "yes"}
        if a.case == "host_lost_l4":
            pfs = os.path.join(a.work, "pfs")
            shutil.rmtree(pfs, ignore_errors=True)
            env = {"SAL_LEVELS": "L1", "SAL_PFS_DIR": pfs}
        # host_lost names the hosts by address in its hostfile: salrun learns their names by
        # probing them before the first launch and names both ("10.254.0.13 (node3)")
        extra = ["--relaunch-ranks", "fit"] if a.case == "host_lost_fit" else []
        got, out, evs = salrun(a, a.case, ["--max-restarts", "2"] + extra,
                               lose_host_after(a, k, 3, how), by_address=a.case == "host_lost",
                               env_extra=env)
        name = r"[0-9.]+ \(node%d\)" % k if a.case == "host_lost" else "node%d" % k
        if not re.search(r"host %s left out of the relaunches" % name, out):
            fail("node%d was not left out of the relaunch (as '%s')" % (k, name))
        restores = [e for e in evs if e["event"] == "restore"]
        # (L4 is copied in the background after the commit: the loss may come before checkpoint
        # 3's copy is complete, and then checkpoint 2 is the newest every rank can read)
        oldest = 2 if a.case in ("host_lost_l4", "host_lost_async") else 3
        if not restores or restores[-1]["id"] < oldest:
            fail("the relaunch did not restore checkpoint %d or newer: %r" % (oldest, restores))
        if a.case == "host_lost_async":
            # the checkpoint restored had its partner copies agreed complete before the loss
            done = [e["id"] for e in evs if e["event"] == "levels_complete"]
            if restores[-1]["id"] not in done:
                fail("checkpoint %d was restored, but its levels were never complete: %r"
                     % (restores[-1]["id"], done))
        # the lost host's ranks come back from partner copies on other hosts: by rank (L2) when
        # the relaunch kept the others in place, else from the hosts that hold them; from L4
        if a.case == "host_lost_l4":
            if "rank file restored from L4" not in out:
                fail("no rank was restored from L4")
        elif a.case == "host_lost_fit":
            if "relaunching on 6 ranks instead of 8" not in out or "ranks=6 checksum" not in out:
                fail("the relaunch did not run on the 6 slots left")
            if not re.search(r"old rank files? moved to the hosts whose ranks read them", out):
                fail("no old rank file was moved between hosts")
        elif a.case == "host0_lost":
            if "rank file restored from L3 (XOR rebuild)" not in out:
                fail("no rank was rebuilt from XOR parity")
        elif not re.search(r"rank file restored from (L2|its partner copy on host node)", out):
            fail("no rank was restored from a partner copy")
    if got != ref:
        fail("checksum %s, failure-free %s" % (got, ref))
    print("PASSED: %s identical to the failure-free run (%s)" % (a.case, ref))


if __name__ == "__main__":
    try:
        main()
    finally:
        # salrun checks that the checkpoint directory is writable on its own host, creating it
        # there; the ranks' copies live in the emulated hosts' own /dev/shm
        try:
            os.rmdir(CKPT_DIR)
        except OSError:
            pass
