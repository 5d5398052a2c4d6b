#!/usr/bin/env python3
"""salrun --restart-from ID (docs/checkpoints.md, "Restarting from an older checkpoint").

test_restart_from.py --salrun S --program P CASE   runs one case; --list prints the names.

Every case first runs heat2d on 4 ranks under salrun (no ULFM) with a checkpoint every 20 of 100
steps: checkpoints 0 to 4 (steps 0 to 80), of which keep=2 leaves 2, 3 and 4. The reference answer
is that run's checksum line. Exit status 0 on success, 1 on a failed check with the reason on
stderr.
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import types
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from cases import run_cases  # noqa: E402
from procs import run  # noqa: E402

A = types.SimpleNamespace()  # salrun, program: set by run_cases


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def salrun(tmp, *extra, interval="20", restarts="0", expect=0):
    """One salrun of heat2d (job j in tmp/ck); returns (stdout, stderr)."""
    cmd = [A.salrun, "-n", "4", "--job", "j", "--ckpt-dir", os.path.join(tmp, "ck"),
           "--interval", interval, "--max-restarts", restarts, "--restart-delay", "0", "--no-ulfm"]
    p = run(cmd + list(extra) + ["--", A.program, "-n", "64", "-s", "100"], timeout=120)
    print("+ %s -> %s\n%s" % (" ".join(cmd + list(extra)), p.returncode, p.stdout[-3000:]))
    if p.leftovers or re.search(r"Segmentation|AddressSanitizer|runtime error", p.stdout):
        fail("leftover processes or a crash")
    if p.returncode != expect:
        fail("salrun exit status %s, expected %d" % (p.returncode, expect))
    return p.stdout


def answer(out):
    m = re.search(r"^heat2d: N=.*checksum=\w+ sum=\S+$", out, re.M)
    return m.group(0) if m else fail("no checksum line")


def reference(tmp):
    """The failure-free run: its answer; the job is then marked unfinished."""
    ref = answer(salrun(tmp))
    job = os.path.join(tmp, "ck", "j")
    os.remove(os.path.join(job, "finished"))
    if ids(job) != [2, 3, 4] or latest(job) != 4:
        fail("checkpoints of the reference run: %s, latest %s" % (ids(job), latest(job)))
    return ref, job


def ids(job):
    return sorted(int(d[5:]) for d in os.listdir(job) if re.match(r"ckpt\.\d+$", d))


def latest(job):
    with open(os.path.join(job, "latest")) as f:
        return int(f.read().strip()[5:])


def hashes(job, only=None):
    """sha256 of every file of the checkpoint directories (ids in only, else all), and latest."""
    out = {}
    for path in sorted(glob.glob(os.path.join(job, "ckpt.*", "*")) + [os.path.join(job, "latest")]):
        m = re.search(r"ckpt\.(\d+)/", path)
        if only is None or (m and int(m.group(1)) in only):
            with open(path, "rb") as f:
                out[os.path.relpath(path, job)] = hashlib.sha256(f.read()).hexdigest()
    return out


def events(tmp, kind):
    with open(os.path.join(tmp, "ck", "j.events.jsonl")) as f:
        evs = [json.loads(l) for l in f if l.strip()]
    return [e for e in evs if e.get("event") == kind]


def ckpt_list(job):
    p = subprocess.run([A.salrun, "ckpt", "list", "--json", job], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    if p.returncode != 0:
        fail("salrun ckpt list: %s" % p.stderr)
    return {o["id"]: o for o in map(json.loads, p.stdout.splitlines())}


def case_restart(tmp):
    """Restart from 3 with checkpoints every 5 steps (7 new ones: retention and file reuse run):
    the answer of the failure-free run, 3's step restored, 4 untouched and set aside."""
    ref, job = reference(tmp)
    before = hashes(job, only={4})
    n_restores = len(events(tmp, "restore"))
    out = salrun(tmp, "--restart-from", "3", interval="5")
    if answer(out) != ref:
        fail("answer %r differs from the failure-free %r" % (answer(out), ref))
    rest = events(tmp, "restore")[n_restores:]
    if [(e["id"], e["step"]) for e in rest] != [(3, 60)]:
        fail("restores of the restarted run: %s" % rest)
    after = hashes(job, only={4})
    if before != after or not before:
        fail("checkpoint 4 changed: %s -> %s" % (before, after))
    commits = [e["id"] for e in events(tmp, "ckpt_commit")][-7:]
    if commits != list(range(5, 12)):
        fail("new checkpoint ids %s, expected 5 to 11" % commits)
    # keep=2 plus the one whose files the next checkpoint reuses: 9, 10, 11 of the job's chain
    # (3 included, which the chain began with); 4 neither counted, reused nor deleted.
    if latest(job) != 11 or ids(job) != [4, 9, 10, 11]:
        fail("latest %d, directories %s (expected 11; 4, 9, 10, 11)" % (latest(job), ids(job)))
    lst = ckpt_list(job)
    if not lst[4]["set_aside"] or any(lst[i]["set_aside"] for i in (9, 10, 11)):
        fail("set_aside flags of salrun ckpt list: %s" % lst)
    if "restart_from = 3: restored checkpoint 3 (step 60)" not in out:
        fail("no line naming the restart")


def case_relaunch(tmp):
    """A kill in the restarted run after its own commits: the relaunch restores the newest of
    them, not 3; a kill before any: the relaunch restores 3 again."""
    ref, job = reference(tmp)
    n = len(events(tmp, "restore"))
    out = salrun(tmp, "--restart-from", "3", "--inject", "rank=1,step=87,signal=KILL",
                 interval="5", restarts="1")
    rest = [(e["id"], e["step"]) for e in events(tmp, "restore")[n:]]
    if answer(out) != ref or len(rest) != 2 or rest[0] != (3, 60) or rest[1][0] <= 4 \
            or rest[1][1] < 65:
        fail("restores %s (expected 3 at step 60, then an own checkpoint above 4)" % rest)
    if "relaunches restore its newest committed one" not in out:
        fail("no line saying that the relaunch resumes from the job's own checkpoint")
    ref2, job = reference(tempfile.mkdtemp(dir=tmp))
    tmp2 = os.path.dirname(os.path.dirname(job))
    out = salrun(tmp2, "--restart-from", "3", "--inject", "rank=2,step=63,signal=KILL",
                 interval="5", restarts="1")
    rest = [(e["id"], e["step"]) for e in events(tmp2, "restore")]
    if answer(out) != ref2 or rest != [(3, 60), (3, 60)]:
        fail("restores %s (expected checkpoint 3 twice)" % rest)
    if "restores checkpoint 3 again" not in out:
        fail("no line saying that the relaunch restores 3 again")


def case_refused(tmp):
    """Missing, never committed, malformed, contradictory: refused before any launch, nothing
    touched."""
    _, job = reference(tmp)
    before = hashes(job)
    n_starts = len(events(tmp, "start"))
    for arg, status, words in (("99", 1, ["--restart-from 99", "never committed",
                                           "newest committed one is 4"]),
                               ("1", 1, ["--restart-from 1", "is not in", "deleted by retention"]),
                               ("x", 2, ["restart_from", "invalid value"]),
                               ("-2", 2, ["restart_from", "out of range"])):
        out = salrun(tmp, "--restart-from", arg, expect=status)
        if not all(w in out for w in words):
            fail("--restart-from %s: message lacks %s" % (arg, words))
    p = run([A.salrun, "-n", "4", "--job", "j", "--ckpt-dir", os.path.join(tmp, "ck"),
             "--restart-from", "3", "--no-ulfm", "--", A.program], timeout=60,
            env=dict(os.environ, SAL_RESTART="never"))
    if p.returncode != 2 or "contradict" not in p.stdout:
        fail("restart=never with --restart-from 3: %s %s" % (p.returncode, p.stdout))
    if hashes(job) != before or len(events(tmp, "start")) != n_starts:
        fail("a refused restart launched the job or changed a checkpoint")


def case_damaged(tmp):
    """A damaged chosen checkpoint: the job fails naming it, exit 1, no fallback, nothing
    touched."""
    _, job = reference(tmp)
    path = os.path.join(job, "ckpt.3", "rank.2.h5")
    data = bytearray(open(path, "rb").read())
    data[-200] ^= 0x10
    with open(path, "wb") as f:
        f.write(data)
    before = hashes(job)
    n_restores = len(events(tmp, "restore"))
    out = salrun(tmp, "--restart-from", "3", restarts="2", expect=1)
    if not re.search(r"restart_from = 3: checkpoint 3 of job directory \S+ cannot be restored", out) \
            or "no other checkpoint is tried" not in out or "checksum mismatch" not in out \
            or "no data for rank 2" not in out:
        fail("no clear message naming checkpoint 3, rank 2 and the cause")
    if "not relaunched" not in out or len(events(tmp, "restore")) != n_restores:
        fail("relaunched, or fell back to another checkpoint")
    if hashes(job) != before or os.path.exists(os.path.join(job, "ckpt.5")):
        fail("the failed restart changed the checkpoints")


CASES = {"restart": case_restart, "relaunch": case_relaunch, "refused": case_refused,
         "damaged": case_damaged}


if __name__ == "__main__":
    run_cases(CASES, "sal-restart-from-", A)
