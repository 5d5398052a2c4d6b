#!/usr/bin/env python3
"""Hostile files, hostile environments and security checks, run against heat2d under salrun.

hostile.py --salrun S --program P --tool T --case NAME   runs one case; --list prints the names.

File cases: a failure-free run leaves committed checkpoints 10 (step 100) and 11 (step 110) of an
unfinished job (its `finished` marker is removed); the case damages one file of the newest one (or
`latest`, or the configuration) and relaunches with restart=required. Each must print a message
naming the file and the cause, fall back to the older checkpoint where one exists, end with the
failure-free checksum, never crash, and leave every file of checkpoint 10 unchanged. Afterwards
`latest` must name a complete checkpoint (ckpt_tool check reads it with the library's readers).

Environment and security cases are described at their functions. Exit status 0 on success, 1 on a
failed check with the reason on stderr.
"""
import argparse
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from procs import run  # noqa: E402

CHECKSUM = re.compile(r"^heat2d: .*checksum=[0-9a-f]{16}.*$", re.M)
CRASH = re.compile(r"AddressSanitizer|runtime error:|Segmentation fault|SIGSEGV|signal 11|"
                   r"core dumped|Traceback|Assertion .* failed|Aborted")
HEAT = ["-n", "64", "-s", "120"]
A = None  # parsed arguments


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def salrun(tmp, extra=(), env=None, prog_args=None, timeout=120):
    cmd = A.salrun_prefix + [A.salrun, "-n", str(A.np), "--job", "j", "--ckpt-dir", tmp,
                             "--interval", "10", "--max-restarts", "0"] + list(extra) + \
        ["--", A.program] + (prog_args or HEAT)
    full_env = dict(os.environ)
    full_env.update(env or {})
    print("+ " + " ".join(cmd), flush=True)
    p = run(cmd, timeout=timeout, env=full_env)
    sys.stdout.write(p.stdout)
    if p.timed_out:
        fail("salrun did not end within %g s" % timeout)
    if p.leftovers:
        fail("processes outlived salrun: %s" % "; ".join(p.leftovers))
    print("exit status %d" % p.returncode, flush=True)
    if CRASH.search(p.stdout):
        fail("crash signature in the output: %r" % CRASH.search(p.stdout).group(0))
    return p.returncode, p.stdout


def checksum(out):
    """The result of the one heat2d line: checksum and sum (the same on any number of ranks)."""
    lines = CHECKSUM.findall(out)
    return re.search(r"checksum=\S+ sum=\S+", lines[0]).group(0) if len(lines) == 1 else None


def hashes(d):
    return {f: hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
            for f in sorted(os.listdir(d)) if os.path.isfile(os.path.join(d, f))}


def tool_check(job_dir):
    p = subprocess.run([A.tool, "check", job_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    print("ckpt_tool check: " + p.stdout.strip())
    if p.returncode != 0:
        fail("latest does not name a complete, valid checkpoint: " + p.stdout.strip())
    return p.stdout


def expect_in(out, words):
    for w in words:
        if w.lower() not in out.lower():
            fail("the output does not mention %r" % w)


def base_run(tmp):
    """Failure-free run; returns (reference checksum, job dir)."""
    rc, out = salrun(tmp)
    ref = checksum(out)
    if rc != 0 or ref is None:
        fail("the failure-free run failed")
    job = os.path.join(tmp, "j")
    os.unlink(os.path.join(job, "finished"))
    for d in ("ckpt.10", "ckpt.11"):
        if not os.path.isfile(os.path.join(job, d, "manifest.h5")):
            fail("the failure-free run left no " + d)
    return ref, job


# ---- file damage ------------------------------------------------------------------------------

def truncate(path):
    os.truncate(path, os.path.getsize(path) // 2)


def zero(path):
    os.truncate(path, 0)


def bitflip(path):
    """Inverts 8 bytes 300 bytes before the end: inside the last chunk of a rank file's data."""
    with open(path, "r+b") as f:
        f.seek(-300, os.SEEK_END)
        b = f.read(8)
        f.seek(-300, os.SEEK_END)
        f.write(bytes(x ^ 0xFF for x in b))


def setattr_(name, value):
    def damage(path):
        subprocess.run([A.tool, "setattr", path, name, str(value)], check=True)
    return damage


def symlink_elsewhere(path):
    other = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(path))), "elsewhere")
    os.makedirs(other, exist_ok=True)
    moved = os.path.join(other, os.path.basename(path))
    shutil.move(path, moved)
    os.symlink(moved, path)


def missing(path):
    os.unlink(path)


def directory(path):
    os.unlink(path)
    os.mkdir(path)


def not_a_directory_component(path):
    """The checkpoint directory becomes a regular file: every path below it is ENOTDIR."""
    d = os.path.dirname(path)
    shutil.rmtree(d)
    with open(d, "w") as f:
        f.write("not a directory\n")


DAMAGE = {"truncated": (truncate, "truncated"), "zero": (zero, "empty"),
          "bitflip": (bitflip, ""), "version": (setattr_("format_version", 2), "format version"),
          "nranks": (setattr_("nranks", 8), "8"),
          "symlink": (symlink_elsewhere, "symbolic link"), "missing": (missing, ""),
          "directory": (directory, "directory")}


def file_case(target, kind, np=None):
    """Damages <target> of checkpoint 11; the relaunch (on np ranks: a manifest is read when the
    number of ranks changes) must fall back to checkpoint 10."""
    def run(tmp):
        ref, job = base_run(tmp)
        A.np = np or A.np
        good = os.path.join(job, "ckpt.10")
        before = hashes(good)
        path = os.path.join(job, "ckpt.11", target)
        damage, cause = DAMAGE[kind]
        damage(path)
        rc, out = salrun(tmp, env={"SAL_RESTART": "required", "SAL_KEEP": "100"})
        if rc != 0 or checksum(out) != ref:
            fail("the relaunch did not end with the failure-free checksum (status %d)" % rc)
        if kind == "bitflip" and "restored checkpoint 11 (step 110)" in out:
            print("the flipped bytes are not used by the restore: checkpoint 11 restored, same "
                  "answer")
            return
        expect_in(out, [target] + ([cause] if cause else []))
        if "restored checkpoint 10 (step 100)" not in out:
            fail("the relaunch did not fall back to checkpoint 10")
        if hashes(good) != before:
            fail("the last good checkpoint (ckpt.10) was modified")
        tool_check(job)
    return run


def perm_case(tmp):
    """Rank file of checkpoint 11 unreadable (mode 000): the job runs as 'nobody', which the mode
    stops (root is not stopped by modes). Falls back to checkpoint 10."""
    os.chmod(tmp, 0o755)
    ref, job = base_run(tmp)
    for root, dirs, files in os.walk(tmp):
        for n in dirs + files:
            os.chown(os.path.join(root, n), 65534, 65534)
    os.chown(tmp, 65534, 65534)
    os.chmod(os.path.join(job, "ckpt.11", "rank.1.h5"), 0)
    good = os.path.join(job, "ckpt.10")
    before = hashes(good)
    A.salrun_prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    home = tempfile.mkdtemp(prefix="sal-nobody-")
    os.chown(home, 65534, 65534)
    rc, out = salrun(tmp, env={"SAL_RESTART": "required", "SAL_KEEP": "100", "HOME": home,
                               "TMPDIR": home})
    shutil.rmtree(home, ignore_errors=True)
    if rc != 0 or checksum(out) != ref:
        fail("the relaunch as nobody did not end with the failure-free checksum (status %d)" % rc)
    expect_in(out, ["rank.1.h5", "permission denied"])
    if "restored checkpoint 10 (step 100)" not in out or hashes(good) != before:
        fail("no fallback to checkpoint 10, or checkpoint 10 modified")


def latest_case(content, restored, symlink=False):
    """`latest` replaced by content (or a symbolic link to a file holding it)."""
    def run(tmp):
        ref, job = base_run(tmp)
        good = os.path.join(job, "ckpt.%d" % restored)
        before = hashes(good)
        latest = os.path.join(job, "latest")
        os.unlink(latest)
        if symlink:
            other = os.path.join(tmp, "other-latest")
            with open(other, "wb") as f:
                f.write(content)
            os.symlink(other, latest)
        else:
            with open(latest, "wb") as f:
                f.write(content)
        rc, out = salrun(tmp, env={"SAL_RESTART": "required", "SAL_KEEP": "100"})
        if rc != 0 or checksum(out) != ref:
            fail("the relaunch did not end with the failure-free checksum (status %d)" % rc)
        if restored != 11 or content != b"ckpt.99\n":
            expect_in(out, ["latest"])
        if "restored checkpoint %d " % restored not in out:
            fail("the relaunch did not restore checkpoint %d" % restored)
        if hashes(good) != before:
            fail("checkpoint %d was modified" % restored)
    return run


def config_garbage(tmp):
    """SAL_CONFIG names a binary file: salrun stops before launching (status 2), naming it."""
    ref, job = base_run(tmp)
    before = hashes(os.path.join(job, "ckpt.11"))
    cfg = os.path.join(tmp, "garbage.ini")
    with open(cfg, "wb") as f:
        f.write(b"\x7fELF\x00\xff\xfe[[[=\n==\nkeep\n\x00\x01\x02" * 20)
    rc, out = salrun(tmp, env={"SAL_CONFIG": cfg})
    if rc != 2:
        fail("expected exit status 2, got %d" % rc)
    expect_in(out, [cfg])
    if hashes(os.path.join(job, "ckpt.11")) != before:
        fail("checkpoint 11 was modified")
    tool_check(job)


# ---- hostile environment ----------------------------------------------------------------------

def env_dir_missing(tmp):
    """ckpt_dir does not exist: it is created (mode 0700) and the run succeeds."""
    d = os.path.join(tmp, "a", "b", "c")
    rc, out = salrun(d)
    if rc != 0 or checksum(out) is None:
        fail("the run failed")
    if stat.S_IMODE(os.stat(d).st_mode) != 0o700:
        fail("%s was created with mode %o, expected 0700" % (d, stat.S_IMODE(os.stat(d).st_mode)))
    tool_check(os.path.join(d, "j"))


def env_dir_not_writable(tmp):
    """ckpt_dir lies under a regular file: status 2 before launching, naming the directory."""
    f = os.path.join(tmp, "plainfile")
    open(f, "w").close()
    d = os.path.join(f, "ckpt")
    rc, out = salrun(d)
    if rc != 2:
        fail("expected exit status 2, got %d" % rc)
    expect_in(out, [d, "ckpt_dir"])


def env_enospc(tmp):
    """ckpt_dir on a 96 KiB tmpfs: checkpoints fail with ENOSPC; whatever happens, the message says
    so, nothing crashes and `latest` (if any) names a complete checkpoint."""
    mnt = os.path.join(tmp, "small")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k,mode=0700", "tmpfs", mnt]).returncode:
        fail("cannot mount a tmpfs (this test needs root)")
    try:
        rc, out = salrun(mnt, extra=["--log-dir", tmp])
        expect_in(out, ["No space left on device"])
        if rc == 0 and checksum(out) is None:
            fail("status 0 without a result")
        if rc != 0 and "error" not in out.lower():
            fail("non-zero status without an error message")
        job = os.path.join(mnt, "j")
        if os.path.exists(os.path.join(job, "latest")):
            tool_check(job)
        leftovers = [os.path.join(r, n) for r, _, fs in os.walk(job) for n in fs if ".tmp." in n]
        print("temporary files left: %s" % leftovers)
    finally:
        subprocess.run(["umount", mnt])


def env_removed_midrun(tmp):
    """The job directory is deleted while the job runs: a clear error or a correct result, never a
    crash, and `latest` (if it was recreated) names a complete checkpoint."""
    cmd_env = dict(os.environ)
    cmd = [A.salrun, "-n", str(A.np), "--job", "j", "--ckpt-dir", tmp, "--interval", "10",
           "--max-restarts", "0", "--", A.program, "-n", "64", "-s", "120", "--sleep-ms", "15"]
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace", env=cmd_env)
    job = os.path.join(tmp, "j")
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(job, "ckpt.3")) and time.time() < deadline:
        time.sleep(0.05)
    shutil.rmtree(job, ignore_errors=True)
    print("removed %s" % job, flush=True)
    out, _ = p.communicate(timeout=120)
    sys.stdout.write(out)
    print("exit status %d" % p.returncode)
    if CRASH.search(out):
        fail("crash signature in the output")
    if p.returncode == 0:
        if checksum(out) is None:
            fail("status 0 without a result")
    elif not re.search(r"salamander error|error:", out):
        fail("non-zero status without an error message")
    if os.path.exists(os.path.join(job, "latest")):
        tool_check(job)


def expect_refused(tmp, extra=(), env=None, prog_args=None, words=(), status=2):
    rc, out = salrun(tmp, extra=extra, env=env, prog_args=prog_args)
    if rc != status:
        fail("expected exit status %d, got %d" % (status, rc))
    expect_in(out, list(words))
    if os.path.exists(os.path.join(tmp, "j", "latest")):
        fail("a refused run published a checkpoint")


def env_unknown_env_key(tmp):
    expect_refused(tmp, env={"SAL_NO_SUCH_KEY": "1"}, words=["SAL_NO_SUCH_KEY"])


def env_unknown_config_key(tmp):
    cfg = os.path.join(tmp, "c.ini")
    with open(cfg, "w") as f:
        f.write("[salamander]\ninterval = 5\nno_such_key = 1\n")
    expect_refused(tmp, extra=["--config", cfg], words=[cfg, "no_such_key"])


def env_bad_value(tmp):
    expect_refused(tmp, extra=["--interval", "often"], words=["interval", "often"])


def env_bad_policy(tmp):
    expect_refused(tmp, extra=["--policy", "pray"], words=["policy", "pray"])


def env_unknown_program_flag(tmp):
    """heat2d with an unknown flag: non-zero status and a usage message, no checkpoint."""
    rc, out = salrun(tmp, prog_args=["--no-such-flag"])
    if rc == 0:
        fail("an unknown program flag was accepted")
    expect_in(out, ["--no-such-flag"])


def env_inject_garbage(tmp):
    for text in ["rank=x", "rank=1,,step=2", ";;", "rank=1,point=nowhere", "rank=1,signal=NOPE",
                 "rank=-1", "rank=1,step=99999999999999999999", "\x01\x02=\x03", "rank=1" * 800]:
        expect_refused(tmp, extra=["--inject", text], words=["inject"])
    expect_refused(tmp, env={"SAL_INJECT": "rank=1;garbage"}, words=["inject", "garbage"])


# ---- security ---------------------------------------------------------------------------------

def sec_modes(tmp):
    """Every checkpoint file is 0600 and every directory 0700, whatever the umask."""
    old = os.umask(0)
    try:
        rc, out = salrun(tmp)
    finally:
        os.umask(old)
    if rc != 0:
        fail("the run failed")
    for root, dirs, files in os.walk(tmp):
        for n in dirs:
            m = stat.S_IMODE(os.stat(os.path.join(root, n)).st_mode)
            if m != 0o700:
                fail("directory %s has mode %o" % (os.path.join(root, n), m))
        for n in files:
            m = stat.S_IMODE(os.stat(os.path.join(root, n)).st_mode)
            if m != 0o600:
                fail("file %s has mode %o" % (os.path.join(root, n), m))


def sec_no_shell(tmp):
    """Program arguments reach the program literally: no shell runs them."""
    marker = os.path.join(tmp, "pwned")
    args = ["$(touch %s)" % marker, ";", "touch", marker, "`touch %s`" % marker, "|", "&&"]
    cmd = [A.salrun, "-n", "1", "--job", "sh", "--ckpt-dir", tmp, "--max-restarts", "0", "--",
           "/bin/echo"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    print(p.stdout + p.stderr)
    if os.path.exists(marker):
        fail("a shell ran the program's arguments")
    if p.stdout.strip() != " ".join(args):
        fail("arguments not passed literally: %r" % p.stdout)


def sec_no_env_dump(tmp):
    """A secret in the environment appears neither in the output nor in the event log."""
    secret = "s3cr3t-" + hashlib.sha256(tmp.encode()).hexdigest()[:16]
    rc, out = salrun(tmp, env={"MY_API_TOKEN": secret, "SAL_LOG_LEVEL": "debug"},
                     extra=["--inject", "rank=1,step=30"])
    if rc != 0:
        fail("the run failed")
    logs = "".join(open(os.path.join(tmp, n), errors="replace").read()
                   for n in os.listdir(tmp) if n.endswith(".jsonl"))
    if secret in out or secret in logs:
        fail("the secret value appears in the output or the event log")
    if "MY_API_TOKEN" in out or "MY_API_TOKEN" in logs:
        fail("the environment is dumped")


def sec_region_names(tmp):
    env = dict(os.environ, SAL_CKPT_DIR=tmp, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # Open MPI 5's mpiexec sometimes fails to start when launches start together (status 213,
    # docs/reliability.md): launched again at most twice, as salrun does.
    for attempt in (1, 2, 3):
        p = subprocess.run([A.mpiexec, "--oversubscribe", "-n", "1", A.protect_names],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60,
                           env=env)
        if p.returncode != 213 or "listener thread failed to start" not in p.stdout:
            break
        print("mpiexec did not start; launching again (attempt %d of 3)" % (attempt + 1))
    print(p.stdout)
    if p.returncode != 0:
        fail("protect_names failed")


CASES = {}
for tgt, prefix in (("rank.2.h5", "rank"), ("manifest.h5", "manifest")):
    for k in DAMAGE:
        CASES["%s_%s" % (prefix, k)] = file_case(tgt, k, 3 if prefix == "manifest" else None)
CASES["ckpt_dir_is_file"] = lambda tmp: file_case_dir_file(tmp)
CASES["rank_permission"] = perm_case
CASES["latest_garbage"] = latest_case(b"\x00\xffckpt.zz\n\n", 11)
CASES["latest_missing_dir"] = latest_case(b"ckpt.99\n", 11)
CASES["latest_empty"] = latest_case(b"", 11)
CASES["latest_huge"] = latest_case(b"ckpt.11\n" + b" " * 100000, 11)
CASES["latest_symlink"] = latest_case(b"ckpt.10\n", 11, symlink=True)
CASES["config_garbage"] = config_garbage
CASES["env_dir_missing"] = env_dir_missing
CASES["env_dir_not_writable"] = env_dir_not_writable
CASES["env_enospc"] = env_enospc
CASES["env_removed_midrun"] = env_removed_midrun
CASES["env_unknown_env_key"] = env_unknown_env_key
CASES["env_unknown_config_key"] = env_unknown_config_key
CASES["env_bad_value"] = env_bad_value
CASES["env_bad_policy"] = env_bad_policy
CASES["env_unknown_program_flag"] = env_unknown_program_flag
CASES["env_inject_garbage"] = env_inject_garbage
CASES["sec_modes"] = sec_modes
CASES["sec_no_shell"] = sec_no_shell
CASES["sec_no_env_dump"] = sec_no_env_dump
CASES["sec_region_names"] = sec_region_names


def file_case_dir_file(tmp):
    """ckpt.11 replaced by a regular file: every path below it is ENOTDIR; falls back to 10."""
    ref, job = base_run(tmp)
    good = os.path.join(job, "ckpt.10")
    before = hashes(good)
    not_a_directory_component(os.path.join(job, "ckpt.11", "rank.0.h5"))
    rc, out = salrun(tmp, env={"SAL_RESTART": "required", "SAL_KEEP": "100"})
    if rc != 0 or checksum(out) != ref:
        fail("the relaunch did not end with the failure-free checksum (status %d)" % rc)
    expect_in(out, ["ckpt.11"])
    if "restored checkpoint 10 (step 100)" not in out or hashes(good) != before:
        fail("no fallback to checkpoint 10, or checkpoint 10 modified")


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--salrun")
    p.add_argument("--program")
    p.add_argument("--tool")
    p.add_argument("--protect-names")
    p.add_argument("--mpiexec")
    p.add_argument("--np", type=int, default=4)
    p.add_argument("--case")
    p.add_argument("--list", action="store_true")
    A = p.parse_args()
    A.salrun_prefix = []
    if A.list:
        print("\n".join(CASES))
        return
    if A.case not in CASES:
        fail("unknown case %r; --list prints them" % A.case)
    tmp = tempfile.mkdtemp(prefix="sal-hostile-")
    try:
        CASES[A.case](tmp)
        print("PASS: " + A.case)
    finally:
        subprocess.run(["umount", os.path.join(tmp, "small")], stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
