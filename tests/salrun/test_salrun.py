#!/usr/bin/env python3
"""Command-line tests of salrun, one case per ctest test: test_salrun.py [paths...] CASE.

Each case runs salrun in a fresh temporary directory and checks its exit status and what it prints.
Exit status 0 when the case passes, 1 with the reasons on stderr when it fails.
"""
import argparse
import json
import mmap
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from salrun_common import (FAILURES, SKIP, check, clean_env, dry_run, exported, salrun,  # noqa: E402
                           signalled)
import salrun_hosts  # noqa: E402
import salrun_start  # noqa: E402

OPTIONS = ["-n", "-np", "--job", "--ckpt-dir", "--log-dir", "--interval", "--policy", "--inject",
           "--config", "--max-restarts", "--restart-delay", "--hostfile", "--machinefile",
           "--probe-timeout", "--prrte", "--mpiexec", "--launcher", "--no-ulfm", "--trust-exit",
           "--quiet",
           "--json", "--dry-run", "--help", "--help-config", "--version"]

# Event logs under data/, each with the expected `salrun report` table (<name>.report.txt) and
# progress lines (<name>.progress.txt):
#   recorded     heat2d on 4 ranks, recorded with
#                SAL_MAX_REPAIRS=1 salrun -n 4 --job heat --interval 40 --restart-delay 0.1
#                --inject 'rank=1,step=70,signal=KILL;rank=2,step=130,signal=KILL' -- heat2d
#                (one in-job recovery; the second failure exceeds max_repairs, the job dies, salrun
#                ends the hung mpiexec and relaunches from checkpoint 3)
#   constructed  written by hand in the library's format: a recovery, an aborted checkpoint, a
#                failure of two ranks that ends the launch, and a relaunch that restores
DATA_LOGS = ("recorded", "constructed")


# ---- cases ----------------------------------------------------------------------------------------

def case_help(args, tmp):
    r = salrun(args, ["--help"])
    check(r.returncode == 0, "--help exits 0", r)
    for opt in OPTIONS:
        check(re.search(r"(^|[\s,])%s([\s,=]|$)" % re.escape(opt), r.stdout, re.M),
              "--help lists %s" % opt, r)
    check("salrun report EVENTLOG" in r.stdout, "--help shows the report command", r)
    check("(default: 3)" in r.stdout, "--help shows the default of --max-restarts", r)


def case_help_config(args, tmp):
    r = salrun(args, ["--help-config"])
    check(r.returncode == 0, "--help-config exits 0", r)
    for word in ("interval", "SAL_INTERVAL", "ckpt_dir", "SAL_CKPT_DIR", "policy"):
        check(word in r.stdout, "--help-config lists %s" % word, r)


def case_version(args, tmp):
    r = salrun(args, ["--version"])
    check(r.returncode == 0, "--version exits 0", r)
    check(r.stdout.startswith("salrun (Salamander) "), "--version names salrun", r)
    check(("ULFM: yes" if args.ulfm else "ULFM: no") in r.stdout, "--version tells ULFM support", r)
    check(args.mpiexec in r.stdout, "--version shows the built-in mpiexec", r)
    r = salrun(args, ["--version"], env=clean_env(SAL_MPIEXEC="/opt/x/bin/mpiexec"))
    check("mpiexec: /opt/x/bin/mpiexec" in r.stdout, "--version shows SAL_MPIEXEC", r)


def case_usage(args, tmp):
    for cmd, msg in (([], "no program"),
                     (["--interval"], "needs a value"),
                     (["--max-restarts", "x", "/bin/true"], "--max-restarts"),
                     (["--restart-delay", "-1", "/bin/true"], "--restart-delay"),
                     (["-n", "0", "/bin/true"], "-n"),
                     (["--quiet=1", "/bin/true"], "takes no value"),
                     (["report"], "usage: salrun report EVENTLOG")):
        r = salrun(args, cmd)
        check(r.returncode == 2, "%s exits 2" % cmd, r)
        check("salrun: error:" in r.stderr and msg in r.stderr, "%s says %r" % (cmd, msg), r)


def case_dry_run(args, tmp):
    ckpt = os.path.join(tmp, "ck")
    env = clean_env(SAL_LOG_LEVEL="debug", OMPI_MCA_btl="tcp,self")
    r, assigned, words = dry_run(args, ["-n", "3", "--job", "demo", "--ckpt-dir", ckpt,
                                        "--interval", "5", "/bin/true", "a", "b c"], env=env)
    check(r.returncode == 0, "--dry-run exits 0", r)
    check(assigned.get("SAL_JOB") == "demo" and assigned.get("SAL_INTERVAL") == "5"
          and assigned.get("SAL_CKPT_DIR") == ckpt, "flags become SAL_* variables", r)
    check(assigned.get("PRTE_MCA_rmaps_default_mapping_policy") == ":oversubscribe",
          "oversubscription is on by default", r)
    check("OMPI_MCA_btl" not in assigned, "a user's OMPI_MCA_btl is kept", r)
    check(words[:1] == [args.mpiexec], "the command starts with mpiexec", r)
    check(("--with-ft" in words) == bool(args.ulfm), "--with-ft ulfm iff built with ULFM", r)
    check(words[-3:] == ["/bin/true", "a", "b c"], "program and arguments come last", r)
    check(exported(words) == ["SAL_CKPT_DIR", "SAL_INTERVAL", "SAL_JOB", "SAL_LOG_LEVEL"]
          + (["UCX_MEM_EVENTS"] if args.ulfm else []),
          "every SAL_* variable (and, ULFM, UCX_MEM_EVENTS) is exported with -x, sorted", r)
    i = words.index("-n") if "-n" in words else -1
    check(i > 0 and words[i + 1] == "3", "-n 3 reaches mpiexec", r)
    r, assigned, words = dry_run(args, ["--ckpt-dir", ckpt, "/bin/true"])
    check(assigned.get("SAL_JOB") == "true", "the job name defaults to the program's name", r)
    check(("OMPI_MCA_btl" in assigned) == bool(args.ulfm), "ULFM launches exclude the ofi BTL", r)
    check(assigned.get("OMPI_MCA_coll") == ("^han" if args.ulfm else None),
          "ULFM launches exclude the HAN collectives", r)
    want = "1" if args.ulfm else None
    check(assigned.get("PRTE_MCA_state_base_recoverable") == want
          and assigned.get("PRTE_MCA_state_base_notify_errors") == want,
          "ULFM launches make every job recoverable, the spawned replacements included", r)
    check(assigned.get("UCX_MEM_EVENTS") == ("no" if args.ulfm else None),
          "ULFM launches start processes without UCX's memory hooks", r)
    r, assigned, words = dry_run(args, ["--no-ulfm", "--ckpt-dir", ckpt, "/bin/true"])
    check(not {"PRTE_MCA_state_base_recoverable", "PRTE_MCA_state_base_notify_errors"}
          & set(assigned), "--no-ulfm jobs stay unrecoverable (a dead rank ends the launch)", r)
    check("UCX_MEM_EVENTS" not in assigned and "UCX_MEM_EVENTS" not in exported(words),
          "--no-ulfm jobs keep UCX's memory hooks (UCX's PML may carry them)", r)
    r, assigned, words = dry_run(args, ["--ckpt-dir", ckpt, "/bin/true"],
                                 env=clean_env(UCX_MEM_EVENTS="yes"))
    check("UCX_MEM_EVENTS" not in assigned and "UCX_MEM_EVENTS" in exported(words),
          "a user's UCX_MEM_EVENTS is kept and exported", r)
    r, assigned, _ = dry_run(args, ["--ckpt-dir", ckpt, "/bin/true"],
                             env=clean_env(PRTE_MCA_state_base_notify_errors="0"))
    check("PRTE_MCA_state_base_notify_errors" not in assigned
          and assigned.get("PRTE_MCA_state_base_recoverable") == want,
          "a user's PRTE_MCA_state_base_notify_errors is kept", r)


def case_passthrough(args, tmp):
    ckpt = os.path.join(tmp, "ck")
    r, _, words = dry_run(args, ["--ckpt-dir", ckpt, "--report-bindings", "--map-by=core", "--mca",
                                 "btl", "tcp,self", "-n", "2", "--", "/bin/true", "x"])
    check(r.returncode == 0, "pass-through with -- exits 0", r)
    tail = ["--report-bindings", "--map-by", "core", "--mca", "btl", "tcp,self", "/bin/true", "x"]
    check(words[-len(tail):] == tail, "mpiexec options keep their values and order", r)
    r, _, words = dry_run(args, ["--ckpt-dir", ckpt, "--report-bindings", "/bin/true", "x"])
    check(words[-3:] == ["--report-bindings", "/bin/true", "x"],
          "without --, the first word that is not an option is the program", r)
    r = salrun(args, ["--dry-run", "--ckpt-dir", ckpt, "--mca", "btl", "tcp", "/bin/true"])
    check(r.returncode == 127 and "`--`" in r.stderr,
          "a separate option value without -- is taken for the program, with a hint", r)
    r = salrun(args, ["-n", "1", "--ckpt-dir", ckpt, "--quiet", "--trust-exit", "--map-by=slot",
                      "--", "/bin/true"])
    check(r.returncode == 0, "mpiexec accepts the passed options (real launch)", r)


def case_launcher(args, tmp):
    """--launcher: srun only without ULFM; auto picks srun inside an allocation without ULFM."""
    r = salrun(args, ["--launcher", "pbs", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 2 and "--launcher" in r.stderr and "auto, mpiexec or srun" in r.stderr,
          "an unknown launcher is a usage error naming the choices", r)
    r = salrun(args, ["--dry-run", "--launcher", "srun", "--ckpt-dir", tmp, "/bin/true"])
    if args.ulfm:
        check(r.returncode == 2 and "--no-ulfm" in r.stderr,
              "--launcher srun with ULFM is refused with the fix", r)
    r, assigned, words = dry_run(args, ["--launcher", "srun", "--no-ulfm", "-n", "3", "--ckpt-dir",
                                        tmp, "--nodes=1", "--", "/bin/true", "x"])
    check(r.returncode == 0 and words[:1] and words[0].endswith("/srun"),
          "--launcher srun --no-ulfm runs srun", r)
    check(words[1:6] == ["--ntasks=3", "--kill-on-bad-exit=1", "--mpi=pmix", "--nodes", "1"]
          and words[-2:] == ["/bin/true", "x"], "srun's options, pass-through, program", r)
    r, _, words = dry_run(args, ["--launcher", "srun", "--no-ulfm", "--ckpt-dir", tmp,
                                 "--mpi=pmi2", "/bin/true"])
    check("--mpi=pmix" not in words and words[-3:-1] == ["--mpi", "pmi2"], "a user's --mpi wins", r)
    env = clean_env(SLURM_JOB_ID="12345", SLURM_JOB_NODELIST="n1")
    r, _, words = dry_run(args, ["--no-ulfm", "--ckpt-dir", tmp, "/bin/true"], env=env)
    if args.ulfm:
        check(r.returncode == 0 and not words[0].endswith("/srun"),
              "auto: Open MPI 5 keeps its mpiexec inside a Slurm allocation, --no-ulfm too", r)
    else:
        check(r.returncode == 0 and words[0].endswith("/srun"),
              "auto: srun inside a Slurm allocation for an MPI without ULFM", r)
    if args.ulfm:
        r, _, words = dry_run(args, ["--ckpt-dir", tmp, "/bin/true"], env=env)
        check(r.returncode == 0 and words[0] == args.mpiexec,
              "auto: mpiexec inside a Slurm allocation with ULFM", r)
    r, _, words = dry_run(args, ["--no-ulfm", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 0 and words[0] == args.mpiexec, "auto: mpiexec outside Slurm", r)


def case_no_ulfm(args, tmp):
    r, assigned, words = dry_run(args, ["--no-ulfm", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 0 and "--with-ft" not in words and "OMPI_MCA_btl" not in assigned,
          "--no-ulfm launches without --with-ft and without the BTL choice", r)


PRRTE_WORDS = ["--pmixmca", "gds", "hash", "--prtemca", "prte_keepalive_time", "2", "--prtemca",
               "prte_keepalive_intvl", "1", "--prtemca", "prte_keepalive_probes", "3"]


def fake_prrte(tmp, name="prrte", mode=0o755):
    """A prefix whose bin/prterun is a file with the given mode; returns the prefix."""
    prefix = os.path.join(tmp, name)
    os.makedirs(os.path.join(prefix, "bin"))
    with open(os.path.join(prefix, "bin", "prterun"), "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(os.path.join(prefix, "bin", "prterun"), mode)
    return prefix


def case_prrte(args, tmp):
    """--prrte / SAL_PRRTE_PREFIX: the PRRTE 5 + PMIx 7 stack's variable and options, and only then."""
    ckpt = os.path.join(tmp, "ck")
    prefix = fake_prrte(tmp)
    r, assigned, words = dry_run(args, ["--ckpt-dir", ckpt, "/bin/true"])
    check(r.returncode == 0 and not {"OMPI_PRTERUN", "PRTE_MCA_mapby", "PRTE_MCA_personality"}
          & set(assigned) and not {"--prefix", "--pmixmca", "--prtemca"} & set(words),
          "without --prrte: no OMPI_PRTERUN, no PRRTE 5 names, no --prefix/--pmixmca/--prtemca", r)
    for how, cmd, env in (("--prrte", ["--prrte", prefix], clean_env()),
                          ("SAL_PRRTE_PREFIX", [], clean_env(SAL_PRRTE_PREFIX=prefix))):
        r, assigned, words = dry_run(args, cmd + ["--ckpt-dir", ckpt, "-n", "2", "/bin/true"],
                                     env=env)
        check(r.returncode == 0, "%s: --dry-run exits 0" % how, r)
        check(assigned.get("OMPI_PRTERUN") == os.path.join(prefix, "bin", "prterun"),
              "%s: OMPI_PRTERUN names PREFIX/bin/prterun" % how, r)
        check(assigned.get("PRTE_MCA_mapby") == ":oversubscribe"
              and assigned.get("PRTE_MCA_personality") == "ompi",
              "%s: PRRTE 5's names of the mapping policy and of the personality" % how, r)
        i = words.index("--prefix") if "--prefix" in words else 0
        check(i > words.index("SAL_PRRTE_PREFIX")
              and words[i:] == ["--prefix", prefix] + PRRTE_WORDS + ["/bin/true"],
              "%s: --prefix, gds hash and the keepalive options follow the -x exports" % how, r)
        check("SAL_PRRTE_PREFIX" in exported(words), "%s: SAL_PRRTE_PREFIX is exported" % how, r)
    env = clean_env(SAL_PRRTE_KEEPALIVE_TIME="0", PMIX_MCA_gds="shmem3",
                    PRTE_MCA_rmaps_default_mapping_policy="slot", PRTE_MCA_personality="x")
    r, assigned, words = dry_run(args, ["--prrte", prefix, "--ckpt-dir", ckpt,
                                        "--prtemca=plm_ssh_agent", "ssh", "--", "/bin/true"],
                                 env=env)
    check(r.returncode == 0 and "--pmixmca" not in words and "prte_keepalive_time" not in words
          and words[-4:] == ["--prtemca", "plm_ssh_agent", "ssh", "/bin/true"],
          "keepalive time 0 and a user's PMIX_MCA_gds leave those options out", r)
    check(assigned.get("PRTE_MCA_mapby") == "slot" and "PRTE_MCA_personality" not in assigned,
          "PRTE_MCA_mapby takes the user's mapping policy; a user's PRTE_MCA_personality stays", r)
    r, _, words = dry_run(args, ["--prrte", prefix, "--ckpt-dir", ckpt, "--prtemca",
                                 "prte_keepalive_time", "7", "--prefix", "/opt/p", "--",
                                 "/bin/true"])
    check(r.returncode == 0 and words.count("prte_keepalive_time") == 1
          and words.count("prte_keepalive_probes") == 1 and words.count("--prefix") == 1
          and words[-6:] == ["--prtemca", "prte_keepalive_time", "7", "--prefix", "/opt/p",
                             "/bin/true"],
          "a user's --prtemca prte_keepalive_time and --prefix replace salrun's", r)


def case_prrte_missing(args, tmp):
    """A --prrte prefix without an executable bin/prterun: exit 127 naming the path, no launch."""
    ckpt = os.path.join(tmp, "ck")
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    noexec = fake_prrte(tmp, "noexec", 0o644)
    for prefix, path, why in (
            (os.path.join(tmp, "nowhere"), os.path.join(tmp, "nowhere"), "No such file"),
            (empty, os.path.join(empty, "bin", "prterun"), "No such file"),
            (noexec, os.path.join(noexec, "bin", "prterun"), "not an executable file")):
        r = salrun(args, ["--dry-run", "--prrte", prefix, "--ckpt-dir", ckpt, "/bin/true"])
        check(r.returncode == 127 and "salrun: error:" in r.stderr and path in r.stderr
              and why in r.stderr and "scripts/prrte.sh" in r.stderr and not r.stdout,
              "--prrte %s: exit 127 naming %s (%s)" % (prefix, path, why), r)
    r = salrun(args, ["--dry-run", "--prrte", noexec, "--launcher", "srun", "--no-ulfm",
                      "--ckpt-dir", ckpt, "/bin/true"])
    check(r.returncode == 2 and "--prrte" in r.stderr and "srun" in r.stderr,
          "--prrte with --launcher srun: a usage error", r)


def case_program_missing(args, tmp):
    r = salrun(args, ["-n", "1", "--ckpt-dir", tmp, "--", "/nonexistent/prog"])
    check(r.returncode == 127 and "/nonexistent/prog" in r.stderr, "missing program: 127, named", r)
    r = salrun(args, ["--ckpt-dir", tmp, "no_such_program_xyz"])
    check(r.returncode == 127 and "no_such_program_xyz" in r.stderr and "PATH" in r.stderr,
          "program not in PATH: 127, named", r)
    plain = os.path.join(tmp, "plain.txt")
    with open(plain, "w") as f:
        f.write("not a program\n")
    r = salrun(args, ["--ckpt-dir", tmp, plain])
    check(r.returncode == 127 and "not an executable" in r.stderr, "non-executable file: 127", r)


def case_mpiexec_missing(args, tmp):
    r = salrun(args, ["--mpiexec", "/nonexistent/mpiexec", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 127 and "/nonexistent/mpiexec" in r.stderr and "mpiexec" in r.stderr,
          "--mpiexec missing: 127, named", r)
    r = salrun(args, ["--ckpt-dir", tmp, "/bin/true"], env=clean_env(SAL_MPIEXEC="/nonexistent/mpx"))
    check(r.returncode == 127 and "/nonexistent/mpx" in r.stderr, "SAL_MPIEXEC missing: 127", r)
    r, _, words = dry_run(args, ["--ckpt-dir", tmp, "/bin/true"],
                          env=clean_env(SAL_MPIEXEC=args.mpiexec))
    check(r.returncode == 0 and "SAL_MPIEXEC" not in exported(words),
          "SAL_MPIEXEC is salrun's, not a configuration key, and not exported", r)


def case_bad_interval(args, tmp):
    r = salrun(args, ["--interval", "bogus", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 2 and "interval" in r.stderr and "bogus" in r.stderr,
          "--interval bogus: exit 2 naming key and value", r)
    r = salrun(args, ["--ckpt-dir", tmp, "/bin/true"], env=clean_env(SAL_INTERVAL="-3"))
    check(r.returncode == 2 and "SAL_INTERVAL" in r.stderr and "-3" in r.stderr,
          "SAL_INTERVAL=-3: exit 2 naming the variable and value", r)


def case_unwritable_ckpt_dir(args, tmp):
    plain = os.path.join(tmp, "file")
    with open(plain, "w") as f:
        f.write("x\n")
    bad = os.path.join(plain, "sub")
    r = salrun(args, ["--ckpt-dir", bad, "/bin/true"])
    check(r.returncode == 2 and "ckpt_dir" in r.stderr and bad in r.stderr,
          "a checkpoint directory under a regular file: exit 2 naming key and path", r)


def case_bad_config_file(args, tmp):
    ini = os.path.join(tmp, "bad.ini")
    with open(ini, "w") as f:
        f.write("interval = 5\nbogus_key = 1\n")
    r = salrun(args, ["--config", ini, "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 2 and "bad.ini:2" in r.stderr and "bogus_key" in r.stderr,
          "unknown key in --config: exit 2 naming file, line and key", r)
    r = salrun(args, ["--config", os.path.join(tmp, "none.ini"), "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 2 and "none.ini" in r.stderr, "missing --config file: exit 2, named", r)


def case_bad_inject(args, tmp):
    for spec in ("garbage", "rank=x", "rank=1,point=nowhere"):
        r = salrun(args, ["--inject", spec, "--ckpt-dir", tmp, "/bin/true"])
        check(r.returncode == 2 and "inject" in r.stderr, "--inject %r: exit 2" % spec, r)


def flaky_run(args, tmp, mode, extra):
    """salrun on salrun_flaky MODE; modes that write no events run with --trust-exit."""
    marker = os.path.join(tmp, "marker")
    trust = ["--trust-exit"] if mode == "exit" else []
    return salrun(args, extra + trust + ["--ckpt-dir", tmp, "--restart-delay", "0.1", "--",
                                         args.flaky, mode, marker])


def case_relaunch(args, tmp):
    r = flaky_run(args, tmp, "exit", ["-n", "2"])
    check(r.returncode == 0, "the job finishes after a relaunch: exit 0", r)
    check(len(re.findall(r"relaunching in 0\.1 s \(restart 1 of 3\)", r.stderr)) == 1,
          "one relaunch line", r)
    check("mpiexec exited with status 1" in r.stderr, "the relaunch line gives the cause", r)
    check(re.search(r"job 'salrun_flaky' finished: .*1 restart, ", r.stderr), "summary line", r)


def case_max_restarts_zero(args, tmp):
    r = flaky_run(args, tmp, "exit", ["-n", "2", "--max-restarts", "0"])
    check(r.returncode == 1, "--max-restarts 0: the first failure is final, exit 1", r)
    check("relaunching" not in r.stderr and "no restart left" in r.stderr, "no relaunch", r)
    check(re.search(r"job 'salrun_flaky' failed: .*1 failure, 0 recoveries, 0 restarts", r.stderr),
          "summary line", r)


def case_killed_without_finish(args, tmp):
    r = flaky_run(args, tmp, "fakejob", ["-n", "1", "--log-dir", tmp, "--job", "fake"])
    check(r.returncode == 0, "a job killed on its first run finishes after a relaunch", r)
    check(r.stderr.count("checkpoint 1 committed at step 10 (1.0 MB, 0.010 s, 100.0 MB/s)") == 2,
          "a progress line per committed checkpoint", r)
    if args.ulfm:
        check("mpiexec exited with status 0 but the job did not finish" in r.stderr,
              "under ULFM a killed job is recognised by its missing finish event", r)
    check("job restarted on 1 rank" in r.stderr,
          "the relaunch restarts from the checkpoint", r)
    check("job finished after 20 steps" in r.stderr, "finish line", r)
    check(re.search(r"job 'fake' finished: 20 steps, 2 checkpoints, 1 failure, 0 recoveries, "
                    r"1 restart, ", r.stderr), "summary line: the killed launch is a failure", r)


def case_no_events(args, tmp):
    """A launch that exits 0 without a single event (a log salrun cannot see, ranks killed by a
    launcher that exits 0) is not a success: relaunched, then a failure naming the log."""
    r = salrun(args, ["-n", "1", "--ckpt-dir", tmp, "--restart-delay", "0.1", "--max-restarts",
                      "1", "--", "/bin/true"])
    check(r.returncode == 1, "no event and exit status 0: exit 1", r)
    check("exited with status 0 but this launch wrote no event to %s/true.events.jsonl: salrun "
          "cannot tell whether the job finished" % tmp in r.stderr, "the reason names the log", r)
    check("restart 1 of 1" in r.stderr and "no restart left" in r.stderr,
          "relaunched as a failure", r)
    r = salrun(args, ["-n", "1", "--ckpt-dir", tmp, "--trust-exit", "--", "/bin/true"])
    check(r.returncode == 0 and "finished" in r.stderr, "--trust-exit: exit status 0 is success", r)


def case_finished_then_failed(args, tmp):
    r = flaky_run(args, tmp, "finishfail", ["-n", "1", "--log-dir", tmp, "--job", "fake"])
    check(r.returncode == 1, "a job that finished but exits non-zero: exit 1", r)
    check("relaunching" not in r.stderr and "not relaunched" in r.stderr
          and "mpiexec exited with status 3" in r.stderr, "no relaunch of a finished job", r)
    # --quiet drops progress lines ("salrun: checkpoint 3 committed ..."), not the reason of a
    # failure (which names the last checkpoint).
    r = flaky_run(args, tmp, "finishfail", ["-n", "1", "--log-dir", tmp, "--job", "fake2",
                                            "--quiet"])
    # Only salrun's own lines count: mpiexec's standard error passes through (Open MPI's message
    # when a launch lost its start race and was made again, which --quiet does not announce).
    own = [l for l in r.stderr.splitlines() if l.startswith("salrun")]
    check(r.returncode == 1 and "not relaunched" in r.stderr and len(own) == 1,
          "--quiet: the failure and nothing else of salrun's: %r" % own, r)


def case_json_progress(args, tmp):
    r = flaky_run(args, tmp, "fakejob", ["-n", "1", "--log-dir", tmp, "--job", "fake", "--json"])
    check(r.returncode == 0, "--json run exits 0", r)
    kinds = []
    for line in r.stderr.splitlines():
        if line.startswith("{"):
            try:
                kinds.append(json.loads(line)["salrun"])
            except (ValueError, KeyError) as e:
                check(False, "progress line is JSON with a salrun member: %r (%s)" % (line, e))
        else:
            check(not line.startswith("salrun: ") or line.startswith("salrun: warning"),
                  "no text progress line with --json: %r" % line)
    for kind in ("launch", "start", "checkpoint", "relaunch", "finish", "summary"):
        check(kind in kinds, "a %s line in JSON" % kind, r)
    summary = [json.loads(l) for l in r.stderr.splitlines() if '"salrun":"summary"' in l]
    check(summary and summary[-1]["exit"] == 0 and summary[-1]["restarts"] == 1,
          "the JSON summary has the exit status and restart count", r)


def case_progress_lines(args, tmp):
    for name in DATA_LOGS:
        log = os.path.join(args.data, name + ".events.jsonl")
        logdir = os.path.join(tmp, name)
        os.mkdir(logdir)
        r = salrun(args, ["-n", "1", "--job", "heat", "--ckpt-dir", tmp, "--log-dir", logdir, "--",
                          args.flaky, "replay", log])
        check(r.returncode == 0, "the replayed job %s finishes" % name, r)
        with open(os.path.join(args.data, name + ".progress.txt")) as f:
            want = f.read().splitlines()
        # Open MPI 5's mpiexec sometimes fails to start when launches start together (status 213,
        # docs/salrun.md); salrun's line about launching again is not one of the job's events.
        got = [l for l in r.stderr.splitlines() if l.startswith("salrun: ")
               and "before the job started; launching again" not in l][1:-1]
        check(got == want, "one progress line per notable event of %s:\n--- got\n%s\n--- want\n%s"
              % (name, "\n".join(got), "\n".join(want)))


def case_mpiexec_hang(args, tmp):
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec.py")
    r = salrun(args, ["-n", "1", "--mpiexec", fake, "--ckpt-dir", tmp, "--restart-delay", "0",
                      "--max-restarts", "1", "--", args.flaky, "sleep", "1"],
               env=clean_env(SAL_SALRUN_HANG_SECONDS="1"))
    check(r.returncode == 1, "an mpiexec that outlives its program is ended, and the launch counts "
          "as failed (the fake never exits, so the relaunch fails too): exit 1", r)
    check(r.stderr.count("every local process of the job is gone but mpiexec has not exited "
                         "for 1 s; ending it") == 2, "one line per hung launch", r)
    check("mpiexec outlived the processes of its job and was ended; relaunching in 0 s "
          "(restart 1 of 1)" in r.stderr, "the hung launch is relaunched", r)


def processes_with(text):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


def case_signal_stops(args, tmp):
    cmd = [args.salrun, "-n", "1", "--ckpt-dir", tmp, "--", args.flaky, "sleep", "20", tmp]
    r, _ = signalled(cmd, clean_env(), signal.SIGTERM,
                     lambda p: [q for q in processes_with(tmp) if q != p.pid], settle=0.5)
    check(r.returncode == 128 + signal.SIGTERM, "SIGTERM stops salrun with status 143", r)
    check("stopped by signal 15" in r.stderr and "relaunching" not in r.stderr,
          "no relaunch after SIGTERM", r)
    deadline = time.time() + 5
    while time.time() < deadline and processes_with(tmp):
        time.sleep(0.1)
    check(not processes_with(tmp), "the job's processes are gone after SIGTERM")


def kill_launcher_under_job(cmd, env, tmp, nranks, ready=lambda ranks: True):
    """Starts salrun (cmd), waits until nranks processes whose command line holds tmp run under
    one mpiexec and ready(ranks) holds, SIGKILLs that mpiexec and waits for salrun. Returns the
    result, the ranks and the launcher's pid (None when there was no single launcher)."""
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    deadline = time.time() + 20
    ranks = []
    while time.time() < deadline:
        ranks = [q for q in processes_with(tmp) if q != p.pid and q not in children_of(p.pid)]
        if len(ranks) == nranks and ready(ranks):
            break
        time.sleep(0.1)
    launcher = children_of(p.pid)
    check(len(ranks) == nranks and len(launcher) == 1 and ready(ranks),
          "%d ranks under one mpiexec: %r %r" % (nranks, ranks, launcher))
    for pid in launcher:
        os.kill(pid, signal.SIGKILL)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    check(not [q for q in processes_with(tmp) if q in ranks], "the orphaned ranks are gone")
    return (subprocess.CompletedProcess(cmd, p.returncode, out, err), ranks,
            launcher[0] if len(launcher) == 1 else None)


def case_mpiexec_killed(args, tmp):
    """mpiexec SIGKILLed under a running job: its ranks are orphans, which salrun adopts (child
    subreaper), ends and reaps; nothing of the job is left, not even the session directory the
    killed launcher kept in TMPDIR (ompi.<pid> for Open MPI 5), which salrun removes before it
    reaps the launcher."""
    tmpdir = os.path.join(tmp, "tmpdir")
    os.makedirs(tmpdir)
    cmd = [args.salrun, "-n", "2", "--ckpt-dir", tmp, "--max-restarts", "0", "--trust-exit", "--",
           args.flaky, "sleep", "30", tmp]
    r, _, launcher = kill_launcher_under_job(cmd, clean_env(TMPDIR=tmpdir), tmp, 2)
    check(r.returncode == 1, "the launch failed and no restart is left: exit 1", r)
    check(re.search(r"salrun: 2 processes of the launch outlived mpiexec \(pids \d+ \d+\); ended",
                    r.stderr), "one line names the ranks salrun ended", r)
    left = [d for d in os.listdir(tmpdir) if d.endswith(".%s" % launcher)]
    check(not left, "the killed launcher's session directory is removed: %r left in %s"
          % (left, tmpdir))


def mpi_shm_files(pid):
    """The MPI shared-memory files in /dev/shm that process pid maps."""
    found = set()
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                fields = line.split(None, 5)
                path = fields[5].strip() if len(fields) == 6 else ""
                if path.startswith("/dev/shm/") and os.path.basename(path).startswith(
                        ("sm_segment.", "vader_segment.", "mpich_shm_")):
                    found.add(path)
    except OSError:
        pass
    return found


def case_mpiexec_killed_shm(args, tmp):
    """mpiexec SIGKILLed under running MPI ranks that share memory: the launcher that would have
    removed their shared-memory files at the job's end is gone, so salrun, which ends the orphaned
    ranks, removes the files they mapped (/dev/shm/sm_segment.* for Open MPI), also those of ranks
    that ended by themselves once their launcher was gone, even before salrun saw them: the other
    files of the same launcher (its half of the job id in the name), unless a live process maps
    them. The test adds three files next to the ranks' own: one of the same job that no process
    maps (a rank that exited before salrun looked: removed), one of the same launcher that this
    test maps (kept), one of another launcher (kept)."""
    cmd = [args.salrun, "-n", "3", "--ckpt-dir", tmp, "--max-restarts", "0", "--trust-exit", "--",
           args.mpi_sleep, "30", tmp]
    files, extra = set(), {}

    def mapping(ranks):
        # each rank's own file, once mapped: the ranks are past MPI_Init's shared-memory set-up
        files.update(*[mpi_shm_files(q) for q in ranks])
        if len(files) >= len(ranks) and not extra:
            # the job id in hex without leading zeros: the launcher's 1-4 digits, the job's 4
            m = re.match(r"(.*\.)([0-9a-f]{1,4})([0-9a-f]{4})\.\d+$", sorted(files)[0])
            if not check(m, "an Open MPI file name with a job id: %r" % sorted(files)):
                return True  # the launcher is killed at once, and the case fails
            other = "%x" % (int(m.group(2), 16) ^ 0x8000)
            extra["gone"] = "%s%s%s.97" % m.groups()
            extra["mapped"] = "%s%s%04x.96" % (m.group(1), m.group(2), int(m.group(3), 16) + 1)
            extra["other"] = "%s%s%s.95" % (m.group(1), other, m.group(3))
            for path in extra.values():
                with open(path, "wb") as f:
                    f.write(b"\0" * 4096)
            f = open(extra["mapped"], "r+b")
            extra["map"] = (f, mmap.mmap(f.fileno(), 4096))
        return len(files) >= len(ranks)

    def noted(ranks):
        # salrun notes a launch's files once a second (SHM_NOTE_PERIOD): ranks that all end on
        # their own before its next look are only known from that note
        if not mapping(ranks):
            return False
        extra.setdefault("t_mapped", time.time())
        return time.time() - extra["t_mapped"] >= 2.5

    try:
        r, _, _ = kill_launcher_under_job(cmd, clean_env(), tmp, 3, noted)
        kept = {k: os.path.exists(extra[k]) for k in ("gone", "mapped", "other") if k in extra}
    finally:
        if "map" in extra:
            extra["map"][1].close()
            extra["map"][0].close()
        for k in ("gone", "mapped", "other"):
            if k in extra and os.path.exists(extra[k]):
                os.unlink(extra[k])
    check(kept == {"gone": False, "mapped": True, "other": True},
          "of the added files, the unmapped one of the launch is removed, the mapped one and the "
          "other launcher's kept: %r" % kept, r)
    left = sorted(f for f in files if os.path.exists(f))
    check(not left, "the shared-memory files the ranks mapped are removed: %r left" % left, r)
    # those of the ranks salrun ends, on its line about them; those of ranks that ended on their
    # own once their launcher was gone (noted when salrun saw mpiexec exit), on a line of their own
    ended = re.search(r"; ended, and the (\d+) MPI shared-memory files? in /dev/shm that (?:it|they) "
                      r"left removed", r.stderr)
    alone = re.search(r"^salrun: removed (\d+) MPI shared-memory files? in /dev/shm", r.stderr, re.M)
    total = sum(int(m.group(1)) for m in (ended, alone) if m)
    check(total == len(files) + 1, "salrun's lines count the %d files it removed" % (len(files) + 1),
          r)


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def case_report(args, tmp):
    for name in DATA_LOGS:
        with open(os.path.join(args.data, name + ".report.txt")) as f:
            want = f.read()
        r = salrun(args, ["report", name + ".events.jsonl"], cwd=args.data)
        check(r.returncode == 0, "report of %s exits 0" % name, r)
        check(r.stdout == want, "report prints the expected table:\n--- got\n%s--- want\n%s"
              % (r.stdout, want))
    with open(os.path.join(args.data, "recorded.events.jsonl")) as f:
        log = f.read()
    cut = os.path.join(tmp, "cut.events.jsonl")
    with open(cut, "w") as f:
        f.write(log + '{"ts":1,"event":"ckpt_be')
    r = salrun(args, ["report", cut])
    check(r.returncode == 0 and "cut short" in r.stderr, "a last line cut short is skipped", r)


def case_report_missing(args, tmp):
    path = os.path.join(tmp, "none.events.jsonl")
    r = salrun(args, ["report", path])
    check(r.returncode == 1 and path in r.stderr and "No such file" in r.stderr,
          "report of a missing file: exit 1 naming it", r)
    empty = os.path.join(tmp, "empty.events.jsonl")
    open(empty, "w").close()
    r = salrun(args, ["report", empty])
    check(r.returncode == 1 and "no events" in r.stderr, "report of an empty file: exit 1", r)


def case_report_not_jsonl(args, tmp):
    r = salrun(args, ["report", "not_jsonl.txt"], cwd=args.data)
    check(r.returncode == 1 and "not_jsonl.txt:2:" in r.stderr, "report names file and line", r)
    noev = os.path.join(tmp, "noevent.jsonl")
    with open(noev, "w") as f:
        f.write('{"ts":1}\n')
    r = salrun(args, ["report", noev])
    check(r.returncode == 1 and "noevent.jsonl:1:" in r.stderr and '"event"' in r.stderr,
          "a line without an event member is an error", r)


CASES = {name[5:]: fn for name, fn in list(globals().items()) + list(vars(salrun_hosts).items())
         + list(vars(salrun_start).items())
         if name.startswith("case_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--salrun", required=True)
    p.add_argument("--flaky", required=True)
    p.add_argument("--mpi-sleep", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--mpiexec", required=True)
    p.add_argument("--ulfm", type=int, required=True)
    p.add_argument("case", choices=sorted(CASES))
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="sal-salrun-") as tmp:
        if CASES[args.case](args, tmp) == SKIP:
            return SKIP
    for f in FAILURES:
        print("FAIL: " + f, file=sys.stderr)
    if not FAILURES:
        print("PASS: " + args.case)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
