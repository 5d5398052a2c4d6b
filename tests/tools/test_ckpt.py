#!/usr/bin/env python3
"""`salrun ckpt` (list, verify, prune, export) on the checkpoints of a real heat2d run.

test_ckpt.py --salrun S --program P CASE   runs one case; --list prints the names.

Every case runs heat2d on 4 ranks under salrun (no ULFM, one launch) with a checkpoint every 10 of
60 steps, keep=10 (checkpoints 0 to 5 stay), then damages or inspects them. Exit status 0 on
success, 1 on a failed check with the reason on stderr.
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from cases import run_cases  # noqa: E402
from procs import run  # noqa: E402

A = types.SimpleNamespace()  # salrun, program: set by run_cases


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def make_job(tmp, levels="L1,L2,L3", pfs=False):
    """Runs heat2d; returns the job directory (and the PFS one)."""
    env = dict(os.environ, SAL_LEVELS=levels, SAL_KEEP="10")
    cmd = [A.salrun, "-n", "4", "--job", "j", "--ckpt-dir", os.path.join(tmp, "ck"),
           "--interval", "10", "--max-restarts", "0", "--no-ulfm"]
    if pfs:
        cmd += ["--pfs-dir", os.path.join(tmp, "pfs")]
    p = run(cmd + ["--", A.program, "-n", "64", "-s", "60"], timeout=90, env=env)
    if p.returncode != 0 or p.leftovers:
        fail("the heat2d run failed (%s): %s" % (p.returncode, p.stdout[-2000:]))
    return os.path.join(tmp, "ck", "j"), os.path.join(tmp, "pfs", "j")


def ckpt(*args, expect=None):
    p = subprocess.run([A.salrun, "ckpt"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    print("+ salrun ckpt %s -> %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    if re.search(r"Segmentation|Aborted|AddressSanitizer|runtime error", p.stderr):
        fail("crash signature")
    if expect is not None and p.returncode != expect:
        fail("exit status %d, expected %d" % (p.returncode, expect))
    return p


def rank_line(out, r):
    m = re.search(r"^rank %d: (.*)$" % r, out, re.M)
    return m.group(1) if m else fail("no line for rank %d" % r)


def case_list(tmp):
    job, _ = make_job(tmp)
    os.makedirs(os.path.join(job, "ckpt.9"))
    out = ckpt("list", job, expect=0).stdout
    rows = [l.split() for l in out.splitlines() if re.match(r"^\s+\d+\s", l)]
    if [r[0] for r in rows] != ["9", "5", "4", "3", "2", "1", "0"]:
        fail("ids listed: %s" % [r[0] for r in rows])
    if rows[1][1] != "50" or rows[1][3] != "4" or rows[1][4] != "32768":
        fail("step, ranks or bytes of checkpoint 5: %s" % rows[1])
    if rows[1][5:9] != ["L1+L2+L3", "4/4", "4/4", "4/4"] or rows[1][-1] != "latest":
        fail("levels or latest of checkpoint 5: %s" % rows[1])
    if "uncommitted" not in " ".join(rows[0]) or "uncommitted" in " ".join(rows[2]):
        fail("committed states: %s" % rows)
    if not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out):
        fail("no ISO time")


def case_list_json(tmp):
    job, pfs = make_job(tmp, pfs=True)
    os.remove(os.path.join(job, "ckpt.4", "partner.2.h5"))
    objs = [json.loads(l) for l in ckpt("list", "--json", job, pfs, expect=0).stdout.splitlines()]
    by_id = {o["id"]: o for o in objs}
    if sorted(by_id) != [0, 1, 2, 3, 4, 5] or not by_id[5]["latest"] or by_id[4]["latest"]:
        fail("ids or latest: %s" % objs)
    if by_id[4]["l2"] != 3 or by_id[5]["l2"] != 4 or by_id[5]["step"] != 50:
        fail("partner copies counted: %s" % by_id[4])
    if not all(o["committed"] and o["nranks"] == 4 for o in objs):
        fail("committed / nranks: %s" % objs)
    # The L4 thread copies in the background and skips a checkpoint that a newer one superseded
    # before it got to it (docs/levels.md, a queue of one): "pfs" must say what the PFS directory holds, and the
    # last checkpoint, which sal_finalize waits for, is always there.
    for o in objs:
        there = os.path.exists(os.path.join(pfs, "ckpt.%d" % o["id"], "manifest.h5"))
        if o["pfs"] != there:
            fail("checkpoint %d: pfs %s, but its PFS manifest %s" % (o["id"], o["pfs"],
                                                                 "exists" if there else "does not"))
    if not by_id[5]["pfs"]:
        fail("the last checkpoint has no L4 copy: %s" % by_id[5])


def case_list_async(tmp):
    """async_levels: a job killed after checkpoint 5 (step 50) leaves it L1 with its copies
    pending; checkpoint 4's were agreed complete by checkpoint 5's commit."""
    env = dict(os.environ, SAL_LEVELS="L1,L2", SAL_KEEP="10", SAL_ASYNC_LEVELS="yes")
    cmd = [A.salrun, "-n", "4", "--job", "j", "--ckpt-dir", os.path.join(tmp, "ck"),
           "--interval", "10", "--max-restarts", "0", "--no-ulfm",
           "--inject", "rank=1,step=55,signal=KILL", "--", A.program, "-n", "64", "-s", "60"]
    p = run(cmd, timeout=90, env=env)
    if p.returncode == 0 or p.leftovers:
        fail("the killed run (%s, leftovers %s): %s" % (p.returncode, p.leftovers,
                                                       p.stdout[-2000:]))
    job = os.path.join(tmp, "ck", "j")
    by_id = {o["id"]: o for o in (json.loads(l) for l in
                                  ckpt("list", "--json", job, expect=0).stdout.splitlines())}
    if not by_id[5]["pending"] or by_id[5]["levels"] != "L1" or not by_id[5]["latest"]:
        fail("checkpoint 5 is not L1 with its levels pending: %s" % by_id[5])
    if by_id[4]["pending"] or by_id[4]["levels"] != "L1+L2" or by_id[4]["l2"] != 4:
        fail("checkpoint 4 is not complete: %s" % by_id[4])
    row = [l for l in ckpt("list", job, expect=0).stdout.splitlines() if re.match(r"^\s+5\s", l)]
    if not row or not row[0].endswith("latest, levels pending"):
        fail("the text line of checkpoint 5: %s" % row)


def case_verify_good(tmp):
    job, _ = make_job(tmp)
    out = ckpt("verify", job, expect=0).stdout
    if "checkpoint 5 " not in out or "restorable: yes" not in out:
        fail("not the latest or not restorable")
    for r in range(4):
        if rank_line(out, r) != "L1 (rank file)":
            fail("rank %d" % r)
    ckpt("verify", job, "3", expect=0)


def case_verify_l2(tmp):
    job, _ = make_job(tmp, levels="L1,L2")
    os.remove(os.path.join(job, "ckpt.5", "rank.1.h5"))
    out = ckpt("verify", job, expect=0).stdout
    if rank_line(out, 1) != "L2 (partner copy)" or "rank.1.h5 does not exist" not in out:
        fail("rank 1 is not restored from its partner copy")
    os.remove(os.path.join(job, "ckpt.5", "partner.1.h5"))
    out = ckpt("verify", job, expect=1).stdout
    if rank_line(out, 1) != "NO GOOD COPY" or "restorable: no" not in out:
        fail("rank 1 without a copy")


def case_verify_l3(tmp):
    job, _ = make_job(tmp)
    d = os.path.join(job, "ckpt.5")
    before = sorted(os.listdir(d))
    os.remove(os.path.join(d, "rank.2.h5"))
    os.remove(os.path.join(d, "partner.2.h5"))
    out = ckpt("verify", job, expect=0).stdout
    if rank_line(out, 2) != "L3 (rebuild from XOR parity)":
        fail("rank 2 is not rebuilt from parity")
    if sorted(os.listdir(d)) != [f for f in before if f not in ("rank.2.h5", "partner.2.h5")]:
        fail("verify changed the checkpoint directory")
    with open(os.path.join(d, "parity.0.xor"), "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 0x40]))
    out = ckpt("verify", job, expect=1).stdout
    if "parity.0.xor: checksum mismatch" not in out or rank_line(out, 2) != "NO GOOD COPY":
        fail("damaged parity not named")


def flip_data_bit(path):
    """Flips one bit of dataset u's data (its chunk lies at the end of the file)."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 2000)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 1]))


def case_verify_bitflip(tmp):
    job, _ = make_job(tmp, levels="L1")
    flip_data_bit(os.path.join(job, "ckpt.5", "rank.3.h5"))
    out = ckpt("verify", job, expect=1).stdout
    if not re.search(r"checksum mismatch in \S+/ckpt\.5/rank\.3\.h5", out):
        fail("the Fletcher32 error does not name rank.3.h5")
    if rank_line(out, 3) != "NO GOOD COPY":
        fail("rank 3")


def case_verify_truncated(tmp):
    job, _ = make_job(tmp, levels="L1")
    p = os.path.join(job, "ckpt.5", "rank.0.h5")
    os.truncate(p, os.path.getsize(p) // 2)
    out = ckpt("verify", job, expect=1).stdout
    if "rank.0.h5" not in out.split("rank 1:")[0] or rank_line(out, 0) != "NO GOOD COPY":
        fail("the truncated rank.0.h5 is not named")


def case_verify_hostile(tmp):
    job, _ = make_job(tmp, levels="L1")
    d = os.path.join(job, "ckpt.5")
    with open(os.path.join(d, "rank.1.h5"), "wb") as f:
        f.write(random.Random(7).randbytes(13000))
    os.remove(os.path.join(d, "rank.2.h5"))
    os.symlink(os.path.join(job, "ckpt.4", "rank.2.h5"), os.path.join(d, "rank.2.h5"))
    out = ckpt("verify", job, expect=1).stdout
    if "rank.1.h5" not in rank_line(out, 1) + out or "symbolic link" not in out:
        fail("random bytes or symlink not reported")
    os.remove(os.path.join(d, "manifest.h5"))
    p = ckpt("verify", job, expect=1)
    if "manifest.h5" not in p.stdout or "restorable: no" not in p.stdout:
        fail("missing manifest not named")


def case_verify_pfs(tmp):
    job, pfs = make_job(tmp, levels="L1", pfs=True)
    os.remove(os.path.join(job, "ckpt.5", "rank.2.h5"))
    ckpt("verify", job, expect=1)
    out = ckpt("verify", "--pfs", pfs, job, expect=0).stdout
    if rank_line(out, 2) != "L4 (PFS copy)":
        fail("rank 2 not from the PFS copy")


def case_prune(tmp):
    job, _ = make_job(tmp)
    os.makedirs(os.path.join(job, "ckpt.7"))
    ckpt("prune", job, "--keep", "0", expect=2)
    ckpt("prune", job, expect=2)
    out = ckpt("prune", "--dry-run", job, "--keep", "2", expect=0).stdout
    if len(re.findall(r"^would remove ", out, re.M)) != 4 or len(os.listdir(job)) != 9:
        fail("dry run")
    out = ckpt("prune", job, "--keep", "2", expect=0).stdout
    left = sorted(n for n in os.listdir(job) if n.startswith("ckpt."))
    if left != ["ckpt.4", "ckpt.5", "ckpt.7"] or len(re.findall(r"^removed ", out, re.M)) != 4:
        fail("prune --keep 2 left %s" % left)
    out = ckpt("prune", job, "--keep", "1", "--uncommitted", expect=0).stdout
    left = sorted(n for n in os.listdir(job) if n.startswith("ckpt."))
    if left != ["ckpt.5"] or "uncommitted" not in out:
        fail("prune --keep 1 --uncommitted left %s" % left)
    os.remove(os.path.join(job, "latest"))
    ckpt("prune", job, "--keep", "1", expect=1)
    if not os.path.isdir(os.path.join(job, "ckpt.5")):
        fail("pruned without latest")


def h5values(path, dset):
    out = subprocess.run(["h5dump", "-d", dset, "-y", "-w", "0", path], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    body = out[out.index("DATA {"):]
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", body.split("}")[0])]


def case_export(tmp):
    if not shutil.which("h5dump"):
        fail("h5dump is missing: install hdf5-tools (scripts/setup.sh)")
    job, _ = make_job(tmp)
    f = os.path.join(tmp, "out.h5")
    ckpt("export", job, "4", f, expect=0)
    hdr = subprocess.run(["h5dump", "-p", "-H", f], stdout=subprocess.PIPE, text=True).stdout
    if "( 64, 64 )" not in hdr or "VIRTUAL" in hdr or "CONTIGUOUS" not in hdr:
        fail("layout of the exported u: %s" % hdr)
    got, want = h5values(f, "/u"), h5values(os.path.join(job, "ckpt.4", "manifest.h5"), "/u")
    if len(got) != 64 * 64 or got != want or not any(got):
        fail("exported values differ from the manifest's (%d values)" % len(got))
    attrs = subprocess.run(["h5dump", "-a", "/step", f], stdout=subprocess.PIPE, text=True).stdout
    if "(0): 40" not in attrs:
        fail("step attribute: %s" % attrs)
    ckpt("export", job, "4", f, expect=1)
    ckpt("export", "--force", job, "5", f, expect=0)
    flip_data_bit(os.path.join(job, "ckpt.3", "rank.1.h5"))
    p = ckpt("export", job, "3", os.path.join(tmp, "bad.h5"), expect=1)
    if "rank.1.h5" not in p.stderr or os.listdir(tmp).count("bad.h5"):
        fail("export of a damaged checkpoint")


def case_usage(tmp):
    for args in (["list"], ["verify"], ["export", "d", "1"], ["bogus"], ["list", "--nope", "d"],
                 ["verify", "d", "x"]):
        ckpt(*args, expect=2)
    for sub in ("list", "verify", "prune", "export"):
        if "usage: salrun ckpt " + sub not in ckpt(sub, "--help", expect=0).stdout:
            fail(sub + " --help")
    p = ckpt("list", os.path.join(tmp, "missing"), expect=1)
    if "missing" not in p.stderr:
        fail("a missing directory is not named")


CASES = {n[5:]: f for n, f in globals().items() if n.startswith("case_")}


if __name__ == "__main__":
    run_cases(CASES, "ckpt-test-", A)
