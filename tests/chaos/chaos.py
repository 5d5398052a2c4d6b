#!/usr/bin/env python3
"""Randomized, reproducible fault-injection campaign over the examples (see docs/reliability.md).

Each run draws, from --seed and its index: a program (heat2d, heat2d_f90 when built), a loop
(run or rc), a recovery policy, the rollback mode (global or local), 1 to 3 failures, each at a random step and injection point
(compute, ckpt_write, ckpt_copy, ckpt_agree, ckpt_publish, recovery, restore, repair (a survivor
killed in the repair of an earlier failure, before the lost ranks are replaced), a just-respawned
rank, the leader rank 0, and a hang when the configuration has hang_timeout), and the checkpoint
levels (auto = L1 on one host, L1,L2 or L1,L3; ckpt_copy only fires with L2 or L3) and, with
--async-levels no,yes, whether L2/L3 are encoded behind the steps (async_levels; the point
ckpt_async, a step boundary while they travel, is then drawn too and only fires with them). Local rollback
applies when a single rank is lost in sal_run and is replaced; any other case falls back to a global
rollback, which the run must survive as well; the summary counts the local rollbacks made. The run is launched under salrun with
relaunches allowed; it must end with the failure-free answer bit for bit ("identical"), or fail
with a clear fatal message while `latest` names a complete checkpoint that a relaunch restores to
the failure-free answer ("fatal-by-design"). Anything else counts as "lost". After every run,
every process of that run still alive once salrun has exited counts in "leaked" (and is killed).
With --load, busy loops keep every core busy for the whole campaign. Exit status 1 when lost > 0
or leaked > 0.
"""
import argparse
import collections
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import run  # noqa: E402

RESULT = re.compile(r"^heat2d: .*checksum=([0-9a-f]{16}) sum=(\S+)$", re.M)
CRASH = re.compile(r"AddressSanitizer|runtime error:|Segmentation fault|Signal: Segmentation")
POINTS = ["compute", "ckpt_write", "ckpt_copy", "ckpt_agree", "ckpt_publish", "recovery", "restore",
          "repair", "respawned", "leader", "hang", "stop", "sleep", "pair", "full", "mpiexec"]
# Relative weights of the kinds (1 when not listed). A frozen rank costs a bound of protocol_timeout
# (20 s by default) and a relaunch: drawn less often, and at most one per run.
WEIGHTS = {"stop": 0.3}
STOP_POINTS = ["ckpt_write", "ckpt_agree", "restore", "init"]
SLEEPS = [1, 3, 8]  # seconds of a slow file system under one rank's checkpoint
FS_SIZE = "16m"     # the size-limited tmpfs of a run with the "full" kind
FULL_PAUSE = 2      # seconds the rank of a "full" kind pauses at ckpt_write
LEVELS = ["auto", "L1,L2", "L1,L3"]
ROLLBACKS = ["global", "local"]
A = None
LEAKED = []  # processes that outlived their run's salrun


def result(out):
    m = RESULT.findall(out)
    return m[0] if len(m) == 1 else None


def launch(prog, tmp, policy, inject, loop, env_extra=None, restart=None, actions=(),
           rollback="global"):
    logdir = tmp + ".log"
    os.makedirs(logdir, exist_ok=True)
    cmd = [A.salrun, "-n", str(A.np), "--job", "c", "--ckpt-dir", tmp, "--log-dir", logdir,
           "--interval",
           str(A.interval), "--max-restarts", str(A.max_restarts), "--restart-delay", "0",
           "--policy", policy, "--quiet"]
    if policy.startswith("spares"):
        cmd += ["--spares", "2"]
    if inject:
        cmd += ["--inject", inject]
    if rollback != "global":
        cmd += ["--rollback", rollback]
    cmd += ["--", prog, "-n", str(A.grid), "-s", str(A.steps)]
    if loop == "rc":
        cmd += ["--loop", "rc"]
    env = dict(os.environ)
    env.update(env_extra or {})
    if restart:
        env["SAL_RESTART"] = restart
    workers = [Harness(kind, arg, tmp, logdir) for kind, arg in actions]
    for w in workers:
        w.start()
    try:
        p = run(cmd, timeout=A.timeout, env=env)
    finally:
        for w in workers:
            w.finish()
    out = p.output + "".join(w.note for w in workers)
    if p.timed_out:
        out += "\n[chaos: timeout after %d s]" % A.timeout
    if p.leftovers:
        LEAKED.extend(p.leftovers)
        out += "\n[chaos: %d processes outlived salrun: %s]" % (len(p.leftovers),
                                                              "; ".join(p.leftovers))
    return p.returncode, out, cmd


def events(tmp):
    path = os.path.join(tmp + ".log", "c.events.jsonl")
    out = []
    if os.path.exists(path):
        for line in open(path, errors="replace"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


class Harness(threading.Thread):
    """A fault the harness causes while the run goes on. "full": once rank arg[0] paused at
    ckpt_write (its inject event), fills the run's size-limited file system (a tmpfs at the
    checkpoint directory) for arg[1] seconds. "mpiexec": once the job has begun checkpoint arg[0],
    kills the launch's mpiexec (SIGKILL)."""

    def __init__(self, kind, arg, tmp, logdir):
        super().__init__(daemon=True)
        self.kind, self.arg, self.tmp, self.logdir = kind, arg, tmp, logdir
        self.stop = threading.Event()
        self.note = ""
        self.done = False

    def run(self):
        while not self.stop.wait(0.02):
            if any(self.due(e) for e in events(self.tmp)):
                break
        else:
            return
        if self.kind == "full":
            self.fill()
        else:
            self.kill_mpiexec()

    def due(self, e):
        if self.kind == "full":
            return (e.get("event") == "inject" and e.get("action") == "sleep" and
                    e.get("rank") == self.arg[0])
        return e.get("event") == "ckpt_begin" and e.get("id", -1) >= self.arg[0]

    def fill(self):
        path = os.path.join(self.tmp, "filler")
        try:
            with open(path, "wb") as f:
                chunk = b"\0" * (1 << 20)
                while True:
                    f.write(chunk)
                    f.flush()
        except OSError as e:
            if e.errno != errno.ENOSPC:
                self.note += "\n[chaos: filling %s: %s]" % (self.tmp, e)
                return
        self.done = True
        self.note += "\n[chaos: file system of %s full for %.1f s from the pause of rank %d]" % (
            self.tmp, self.arg[1], self.arg[0])
        self.stop.wait(self.arg[1])
        if os.path.exists(path):  # finish() may have removed it
            os.unlink(path)

    def kill_mpiexec(self):
        for pid in launchers(self.tmp):
            try:
                os.kill(pid, signal.SIGKILL)
                self.done = True
                self.note += "\n[chaos: mpiexec %d killed at checkpoint %d]" % (pid, self.arg[0])
            except ProcessLookupError:
                pass

    def finish(self):
        self.stop.set()
        self.join()
        path = os.path.join(self.tmp, "filler")
        if os.path.exists(path):
            os.unlink(path)


def launchers(tmp):
    """pids of the mpiexec (prterun) processes started by the salrun whose command names tmp."""
    sal, out = [], []
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        procs[int(d)] = (argv, ppid)
        if argv and argv[0].endswith(b"salrun") and tmp.encode() in argv:
            sal.append(int(d))
    for pid, (argv, ppid) in procs.items():
        if ppid in sal and argv and os.path.basename(argv[0]) in (b"prterun", b"mpiexec",
                                                                   b"mpirun"):
            out.append(pid)
    return out


def fired(tmp):
    return [e for e in events(tmp) if e.get("event") == "inject"]


def draw(rng, has_hang, policies, progs):
    """One run's plan: (program, loop, policy, inject text, point labels, levels, harness actions,
    rollback mode)."""
    prog = rng.choice(progs)
    loop = rng.choice(["run", "rc"])
    policy = rng.choice(policies)
    # Shrinking needs the program's resize function (sal_on_resize); the Fortran binding has none,
    # so heat2d_f90 is only drawn with policies that keep the number of ranks.
    if "shrink" in policy.split(",") and prog.endswith("_f90"):
        prog = next((p for p in progs if not p.endswith("_f90")), prog)
    specs, labels, actions = [], [], []
    asyncs = A.async_levels.split(",")
    every = POINTS + (["ckpt_async"] if "yes" in asyncs else [])
    points = [p for p in (A.points.split(",") if A.points else every)
              if (p != "hang" or has_hang) and (p != "full" or A.can_mount)]
    weights = [WEIGHTS.get(p, 1) for p in points]
    for _ in range(rng.randint(1, 3)):
        label = rng.choices(points, weights)[0]
        step = rng.randint(1, A.steps - 2)
        rank = rng.randrange(A.np)
        if label in labels and label in ("stop", "full", "mpiexec"):
            label = "compute"  # at most one of each per run
        action = ""
        if label == "leader":
            rank, point = 0, rng.choice(["compute", "recovery", "ckpt_write", "restore"])
        elif label == "respawned" and specs:
            prev = specs[-1]
            rank, point = prev[0], "compute"
            step = min(prev[1] + rng.randint(1, 15), A.steps - 1)
        elif label == "respawned":
            point = "restore"
        elif label == "ckpt_publish":
            rank, point = 0, "ckpt_publish"
        elif label == "hang":
            point, action = "compute", ",action=hang"
        elif label == "stop":
            point, action = rng.choice(STOP_POINTS), ",signal=STOP"
            step = 0 if point == "init" else step
        elif label == "sleep":
            point, action = "ckpt_write", ",action=sleep,seconds=%d" % rng.choice(SLEEPS)
        elif label == "pair":
            other = rng.choice([r for r in range(A.np) if r != rank])
            specs.append((other, step, "rank=%d,step=%d,point=compute" % (other, step), label))
            labels.append(label)
            point = "compute"
        elif label == "full":
            # The rank pauses before writing its file; the harness fills the file system during
            # the pause and frees it hold seconds later: the rank's write meets a full disk.
            point, action = "ckpt_write", ",action=sleep,seconds=%d" % FULL_PAUSE
            actions.append(("full", (rank, rng.choice([FULL_PAUSE + 1, FULL_PAUSE + 4]))))
        elif label == "mpiexec":
            actions.append(("mpiexec", (rng.randint(1, A.steps // A.interval - 2), 0)))
            labels.append(label)
            continue
        else:
            point = label
        spec = "rank=%d,step=%d,point=%s%s" % (rank, step, point, action)
        specs.append((rank, step, spec, label))
        labels.append(label)
    copies = "ckpt_copy" in labels or "ckpt_async" in labels
    levels = rng.choice(LEVELS[1:] if copies else LEVELS)
    # Drawn last, so that a seed's earlier draws are those of the campaigns before the mode.
    rollback = rng.choice(A.rollbacks.split(","))
    # ... and the same for async_levels, drawn only when both values are asked for
    asyn = rng.choice(asyncs) if len(asyncs) > 1 else asyncs[0]
    asyn = "yes" if "ckpt_async" in labels else asyn
    return (prog, loop, policy, [(s[2], s[3]) for s in specs], labels, levels, actions, rollback,
            asyn)


def kinds_fired(events_fired, specs):
    """The kind of every inject event: the label of the first spec not yet matched with the same
    rank, point and action (a "full" pause is left out: the harness counts the full disk)."""
    left = list(specs)
    out = []
    for e in events_fired:
        for k, (text, label) in enumerate(left):
            items = dict(x.split("=", 1) for x in text.split(","))
            action = items.get("action", "signal")
            if (int(items["rank"]) == e.get("rank") and items.get("point", "compute") ==
                    e.get("point") and action == e.get("action")):
                if label != "full":
                    out.append(label)
                del left[k]
                break
        else:
            out.append(e.get("point", "?"))
    return out


def check_restorable(prog, tmp, policy, loop, ref):
    """A fatal run: `latest` must name a complete checkpoint that restores to the right answer."""
    job = os.path.join(tmp, "c")
    if not os.path.exists(os.path.join(job, "latest")):
        return True, "no checkpoint committed yet"
    p = subprocess.run([A.tool, "check", job], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if p.returncode != 0:
        return False, "latest is not a complete checkpoint: " + p.stdout.strip()
    if os.path.exists(os.path.join(job, "finished")):
        return True, p.stdout.strip() + " (job finished)"
    rc, out, _ = launch(prog, tmp, "respawn", "", loop, restart="required")
    if rc != 0 or result(out) != ref:
        return False, "the restore of %s did not give the failure-free answer" % p.stdout.strip()
    return True, "restored " + p.stdout.strip()


def one_run(i, rng, refs, has_hang, policies, progs, stats):
    prog, loop, policy, specs, labels, levels, actions, rollback, asyn = draw(
        rng, has_hang, policies, progs)
    inject = ";".join(text for text, _ in specs)
    tmp = tempfile.mkdtemp(prefix="sal-chaos-")
    mounted = any(k == "full" for k, _ in actions) and mount_small(tmp)
    # Default settings unless --mpi-hang-timeout is given: the protocol bounds (protocol_timeout)
    # must turn every hang of Salamander's own steps into a recovery or a relaunch.
    env = {"SAL_LEVELS": levels, "SAL_ASYNC_LEVELS": asyn}
    if A.mpi_hang_timeout > 0:
        env["SAL_MPI_HANG_TIMEOUT"] = str(A.mpi_hang_timeout)
    if "hang" in labels:
        env["SAL_HANG_TIMEOUT"] = "3"
    t0 = time.time()
    keep = False
    leaked_before = len(LEAKED)
    try:
        rc, out, cmd = launch(prog, tmp, policy, inject, loop, env, actions=actions,
                              rollback=rollback)
        local = [e for e in events(tmp) if e.get("event") == "rollback" and
                 e.get("mode") == "local"]
        stats["rollback:" + rollback] += 1
        stats["async:" + asyn] += 1
        stats["async:yes:levels"] += asyn == "yes" and levels != "auto"
        stats["local rollbacks"] += len(local)
        ev = kinds_fired(fired(tmp), specs)
        ev += [k for k, _ in actions if "[chaos: " + ("mpiexec" if k == "mpiexec" else "file system")
               in out]
        got = result(out)
        ref = refs[(prog, policy)]
        crash = CRASH.search(out)
        if rc == 0 and got == ref and not crash:
            outcome = "identical"
        elif rc == 0 and got is not None and got != ref:
            outcome, why = "lost", "WRONG ANSWER %s, expected %s" % (got, ref)
        elif rc is None:
            outcome, why = "lost", "timeout"
        elif crash:
            outcome, why = "lost", "crash: " + crash.group(0)
        else:
            clear = re.search(r"salrun: .*(failed|error|not relaunched)|salamander error|: error:",
                              out)
            ok, why = check_restorable(prog, tmp, policy, loop, ref)
            outcome = "fatal-by-design" if ok and clear else "lost"
            if not clear:
                why = "no clear fatal message; " + why
        if len(LEAKED) > leaked_before:
            outcome, why = "lost", "processes outlived salrun: %s" % "; ".join(
                LEAKED[leaked_before:])
            stats["leaked"] += len(LEAKED) - leaked_before
        for e in ev:
            stats["fired:%s/%s" % (e, policy)] += 1
        stats["fired"] += len(ev)
        stats[outcome] += 1
        if outcome == "identical" and ev:
            stats["recovered"] += 1
        for lab in labels:
            stats["planned:%s/%s" % (lab, policy)] += 1
        line = ("run %3d %-10s loop=%-3s policy=%-16s levels=%-5s%s rollback=%-6s fired=%d/%d "
                "%-15s %5.1fs  %s") % (
            i, os.path.basename(prog), loop, policy, levels, "+async" if asyn == "yes" else "",
            rollback, len(ev), len(labels), outcome,
            time.time() - t0, ";".join([inject] + ["%s:%s" % (k, a[0]) for k, a in actions]))
        print(line, flush=True)
        if outcome != "identical":
            print("        %s" % why, flush=True)
        if outcome == "lost":
            print("        command: %s" % " ".join(cmd))
            print("\n".join("        | " + ln for ln in out.splitlines()[-25:]), flush=True)
            if A.keep_lost:
                print("        kept: %s" % tmp)
                keep = True
    finally:
        if mounted:
            subprocess.run(["umount", "-l", tmp], check=False)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(tmp + ".log", ignore_errors=True)


def mount_small(tmp):
    """A tmpfs of FS_SIZE at tmp (root only): the file system the "full" kind fills."""
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % FS_SIZE, "tmpfs", tmp],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        print("chaos: cannot mount a tmpfs at %s: %s" % (tmp, p.stdout.strip()), flush=True)
    return p.returncode == 0


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--policies", default=None,
                   help="';'-separated list (a policy may be a chain such as spares,respawn); "
                        "default: every policy that works")
    p.add_argument("--salrun", required=True)
    p.add_argument("--program", action="append", required=True)
    p.add_argument("--tool", required=True)
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--grid", type=int, default=64)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--interval", type=int, default=10)
    p.add_argument("--max-restarts", type=int, default=2)
    p.add_argument("--timeout", type=int, default=90)
    p.add_argument("--config-def", default=None, help="config_keys.def, to detect hang_timeout")
    p.add_argument("--keep-lost", action="store_true")
    p.add_argument("--mpi-hang-timeout", type=float, default=0,
                   help="SAL_MPI_HANG_TIMEOUT of every run (default 0: the library's default)")
    p.add_argument("--points", default=None,
                   help="comma-separated injection points to draw from (default: all of %s)"
                        % ",".join(POINTS))
    p.add_argument("--rollbacks", default=",".join(ROLLBACKS),
                   help="comma-separated rollback modes to draw from (default: %s)"
                        % ",".join(ROLLBACKS))
    p.add_argument("--async-levels", default="no",
                   help="comma-separated values of async_levels to draw from: no, yes (default: "
                        "no; with yes the point ckpt_async is drawn too)")
    p.add_argument("--load", type=int, nargs="?", const=os.cpu_count() or 2, default=0,
                   metavar="N", help="N busy loops (default: one per core) compete with the runs "
                                     "for the whole campaign")
    A = p.parse_args()
    if not A.rollbacks or set(A.rollbacks.split(",")) - set(ROLLBACKS):
        p.error("--rollbacks: a comma-separated list of %s" % ", ".join(ROLLBACKS))
    if not A.async_levels or set(A.async_levels.split(",")) - {"no", "yes"}:
        p.error("--async-levels: a comma-separated list of no, yes")
    # SIGTERM (a timeout, kill) unwinds like an exception, so that the busy loops, the run in
    # progress and its mounts are ended below and in one_run: nothing the campaign started
    # outlives it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(A.load)]
    try:
        campaign()
    finally:
        for b in busy:
            b.kill()
            b.wait()


def campaign():
    seed = A.seed if A.seed is not None else random.SystemRandom().randrange(1 << 31)
    print("chaos: seed %d, %d runs, %d ranks, heat2d -n %d -s %d, interval %d, %d busy loops" % (
        seed, A.runs, A.np, A.grid, A.steps, A.interval, A.load), flush=True)
    has_hang = bool(A.config_def and "hang_timeout" in open(A.config_def).read())
    probe = tempfile.mkdtemp(prefix="sal-chaos-mount-")
    A.can_mount = os.geteuid() == 0 and mount_small(probe)
    if A.can_mount:
        subprocess.run(["umount", probe], check=False)
    else:
        print("chaos: SKIPPING the kind 'full' (a full file system during a checkpoint): it "
              "mounts a size-limited tmpfs, which needs root", flush=True)
    os.rmdir(probe)
    policies = A.policies.split(";") if A.policies else ["respawn", "spares,respawn", "shrink"]
    progs = [x for x in A.program if os.access(x, os.X_OK)]
    refs = {}
    for prog in progs:
        for pol in policies:
            tmp = tempfile.mkdtemp(prefix="sal-chaos-ref-")
            rc, out, _ = launch(prog, tmp, pol, "", "run")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(tmp + ".log", ignore_errors=True)
            if rc != 0 or result(out) is None:
                print("chaos: the failure-free run of %s with policy %s failed:\n%s"
                      % (prog, pol, out), file=sys.stderr)
                sys.exit(1)
            refs[(prog, pol)] = result(out)
    answers = set(refs.values())
    if len(answers) != 1:
        print("chaos: failure-free answers differ between programs/policies: %s" % refs)
        sys.exit(1)
    stats = collections.Counter()
    t0 = time.time()
    for i in range(A.runs):
        one_run(i, random.Random("%d:%d" % (seed, i)), refs, has_hang, policies, progs, stats)
    summary(seed, stats, time.time() - t0, policies)
    sys.exit(1 if stats["lost"] or stats["leaked"] else 0)


def summary(seed, stats, secs, policies):
    print("\nchaos summary (seed %d, %.0f s)" % (seed, secs))
    print("%-16s %s" % ("injection point", " ".join("%16s" % p for p in policies)))
    for pt in POINTS + (["ckpt_async"] if "yes" in A.async_levels.split(",") else []):
        cells = ["%7d/%-8d" % (stats["fired:%s/%s" % (pt, pol)],
                               stats["planned:%s/%s" % (pt, pol)]) for pol in policies]
        print("%-16s %s" % (pt, " ".join("%16s" % c for c in cells)))
    print("(fired/planned: the failures that happened / the failures drawn, by kind; a kind that "
          "needs a later step, a restore or a respawn does not fire when the run never gets there; "
          "pair counts each of its two ranks)")
    if "yes" in A.async_levels.split(","):
        print("async_levels drawn: yes %d (with L2 or L3: %d), no %d"
              % (stats["async:yes"], stats["async:yes:levels"], stats["async:no"]))
    print("rollback drawn: global %d, local %d (local rollbacks made: %d; the other failures of "
          "those runs rolled back globally, each with its reason)"
          % (stats["rollback:global"], stats["rollback:local"], stats["local rollbacks"]))
    for k in ["runs", "fired", "recovered", "identical", "fatal-by-design", "lost", "leaked"]:
        v = A.runs if k == "runs" else stats[k]
        print("%s: %d" % (k, v))


if __name__ == "__main__":
    main()
