"""salrun's command-line cases with hostfiles: hosts left out of relaunches, probes, grammar."""
import os
import re
import socket

from salrun_common import check, clean_env, dry_run, salrun



NO_HOST = "salrun-no-such-host"


def hosts_run(args, tmp, hostfile_text, extra, env=None):
    """salrun with a hostfile (written into tmp) on salrun_flaky sleep 0; returns the result and
    the hostfile of relaunches salrun wrote (None when it wrote none)."""
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write(hostfile_text)
    r = salrun(args, ["-n", "2", "--hostfile", hosts, "--ckpt-dir", tmp, "--restart-delay", "0.1",
                      "--trust-exit"] + extra + ["--", args.flaky, "sleep", "0"], env=env)
    with open(hosts) as f:
        check(f.read() == hostfile_text, "the user's hostfile is left as it was")
    written = os.path.join(tmp, "salrun_flaky.hosts")
    if not os.path.exists(written):
        return r, None
    with open(written) as f:
        return r, [l for l in f.read().splitlines() if not l.startswith("#")]


def case_host_left_out(args, tmp):
    """A host of the hostfile that cannot be reached: the launch fails, its probe fails, and the
    relaunch runs on the hosts left, from a hostfile next to the event log."""
    me = socket.gethostname()
    r, lines = hosts_run(args, tmp, "# this host and one that does not exist\n%s slots=2  \n"
                         "%s slots=2\n" % (me, NO_HOST), [])
    check(r.returncode == 0, "the job finishes on the host left: exit 0", r)
    check(re.search(r"salrun: host %s left out of the relaunches: its probe `mpiexec --host %s -n 1 "
                    r"echo salrun-probe` exited with status \d+ after [0-9.]+ s" % (NO_HOST, NO_HOST),
                    r.stderr),
          "one line names the host left out, the probe and how it failed", r)
    check("salrun: the relaunches run on 1 host: %s (hostfile %s/salrun_flaky.hosts)" % (me, tmp)
          in r.stderr, "one line names the hosts left and the hostfile", r)
    check(lines == ["%s slots=2" % me], "the hostfile of relaunches keeps the line of the host "
          "left, slots included: %r" % lines)
    # 1 restart, or 0 when the first launch lost Open MPI's start race (status 213, launched again
    # without counting a restart, docs/salrun.md) and the hosts were checked before that launch
    check(re.search(r"job 'salrun_flaky' finished: .*\b[01] restarts?, host %s left out" % NO_HOST,
                    r.stderr), "the summary names the host left out", r)


def case_relaunch_fit(args, tmp):
    """--relaunch-ranks fit: the relaunch without a failed host runs on the slots left; a bad value
    is refused."""
    me = socket.gethostname()
    r, _ = hosts_run(args, tmp, "%s slots=1\n%s slots=2\n" % (me, NO_HOST),
                     ["--relaunch-ranks", "fit"])
    check(r.returncode == 0, "the job finishes on the host left: exit 0", r)
    check("salrun: relaunching on 1 rank instead of 2: the slots of the hosts left "
          "(--relaunch-ranks fit)" in r.stderr, "one line says the relaunch runs on 1 rank", r)
    r = salrun(args, ["--relaunch-ranks", "some", "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 2 and 'invalid value "some" for --relaunch-ranks: expected same or fit'
          in r.stderr, "a bad value is refused with status 2", r)


def case_host_option(args, tmp):
    """mpiexec's --host passed through: the same, the relaunch gets a hostfile instead."""
    me = socket.gethostname()
    r = salrun(args, ["-n", "2", "--ckpt-dir", tmp, "--restart-delay", "0.1", "--trust-exit",
                      "--host=%s:2,%s:2" % (me, NO_HOST), "--", args.flaky, "sleep", "0"])
    check(r.returncode == 0, "the job finishes on the host left: exit 0", r)
    check("salrun: host %s left out of the relaunches" % NO_HOST in r.stderr, "host left out", r)
    with open(os.path.join(tmp, "salrun_flaky.hosts")) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith("#")]
    check(lines == ["%s slots=2" % me], "--host a:2 becomes the hostfile line a slots=2: %r" % lines)


def case_no_host_left(args, tmp):
    r, _ = hosts_run(args, tmp, "%s-1\n%s-2\n" % (NO_HOST, NO_HOST), [])
    check(r.returncode == 1, "every host failed: exit 1", r)
    check(r.stderr.count("left out of the relaunches: its probe") == 2, "both hosts left out", r)
    check("every host of hostfile %s/hosts failed" % tmp in r.stderr
          and "no host is left to relaunch the job on" in r.stderr, "the reason is given", r)
    check(re.search(r"job 'salrun_flaky' failed: ", r.stderr), "summary line", r)


def case_probe_timeout(args, tmp):
    """A probe that hangs is killed after --probe-timeout and its host left out."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    pids = os.path.join(tmp, "probe.pids")
    r, lines = hosts_run(args, tmp, "%s\nslow-host\n" % socket.gethostname(),
                         ["--mpiexec", fake, "--probe-timeout", "1"],
                         env=clean_env(FAKE_PROBE_PIDS=pids))
    check(r.returncode == 0, "the job finishes without the hung host: exit 0", r)
    check("salrun: host slow-host left out of the relaunches: its probe `fake_mpiexec_hosts.py "
          "--host slow-host -n 1 echo salrun-probe` did not end within 1 s" in r.stderr, "timeout line", r)
    check(lines == [socket.gethostname()], "hostfile of relaunches: %r" % lines)
    with open(pids) as f:
        probes = [int(p) for p in f.read().split()]
    check(len(probes) == 1 and not os.path.exists("/proc/%d" % probes[0]),
          "the hung probe was killed: %r" % probes)


def case_reported_lost(args, tmp):
    """A host whose daemon the launcher reported lost is left out without a probe (whose end, on a
    lost host, would only come with --probe-timeout); the other hosts are still probed."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    probes = os.path.join(tmp, "probe.args")
    r, lines = hosts_run(args, tmp, "%s slots=1\nlost-host slots=1\nother-host slots=1\n"
                         % socket.gethostname(), ["--mpiexec", fake, "--probe-timeout", "60"],
                         env=clean_env(FAKE_PROBE_ARGS=probes))
    check(r.returncode == 0, "the job finishes without the lost host: exit 0", r)
    check("salrun: host lost-host left out of the relaunches: the launcher reported its daemon "
          "there lost (\"PRTE has lost communication with a remote daemon\"); not probed"
          in r.stderr, "one line names the host and why it was not probed", r)
    with open(probes) as f:
        probed = [l.split()[l.split().index("--host") + 1] for l in f.read().splitlines()]
    check(probed == ["other-host"], "only other-host was probed: %r" % probed)
    check(lines == ["%s slots=1" % socket.gethostname(), "other-host slots=1"],
          "hostfile of relaunches: %r" % lines)


def case_probe_race(args, tmp):
    """A probe whose mpiexec lost the start race (status 213 at once) is launched again: the host
    is not left out."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    marker, hosts = os.path.join(tmp, "race"), os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("%s\nrace-host\n" % socket.gethostname())
    # salrun_flaky exit: the first run fails, so the hosts are probed before the relaunch
    r = salrun(args, ["-n", "2", "--hostfile", hosts, "--ckpt-dir", tmp, "--restart-delay", "0.1",
                      "--trust-exit", "--mpiexec", fake, "--", args.flaky, "exit",
                      os.path.join(tmp, "flaky")], env=clean_env(FAKE_RACE_MARKER=marker))
    check(r.returncode == 0, "the job finishes after one relaunch: exit 0", r)
    check(os.path.exists(marker), "the first probe of race-host lost the race")
    check("left out" not in r.stderr, "no host left out", r)
    check("salrun: 1 host probed in" in r.stderr, "race-host probed, none failed", r)


def case_host_address(args, tmp):
    """A hostfile that names a host by address: salrun probes the hosts before the first launch
    and learns the host's own name (what its probe prints), so that its lines can name it both
    ways. (The stand-in mpiexec runs the probe here: no traffic to the documentation address.)"""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("%s\n192.0.2.7 slots=1\n" % socket.gethostname())
    r = salrun(args, ["-n", "2", "--hostfile", hosts, "--ckpt-dir", tmp, "--trust-exit",
                      "--mpiexec", fake, "--", args.flaky, "sleep", "0"])
    check(r.returncode == 0, "the job finishes: exit 0", r)
    probed = r.stderr.find("salrun: 1 host probed in")
    check(0 <= probed < r.stderr.find("job 'salrun_flaky' on"),
          "the host named by address is probed once, before the first launch", r)
    r = salrun(args, ["-n", "2", "--hostfile", hosts, "--ckpt-dir", tmp, "--trust-exit",
                      "--mpiexec", fake, "--dry-run", "--", args.flaky, "sleep", "0"])
    check("probed" not in r.stderr, "--dry-run probes nothing", r)
    r, _ = hosts_run(args, tmp, "%s\nnode-a\n" % socket.gethostname(), ["--mpiexec", fake])
    check("probed" not in r.stderr, "hosts named by name are not probed before the first launch",
          r)


def case_spare_slots(args, tmp):
    """--spares S on hosts whose slots take the application's ranks but not the spares: the launch's
    hostfile gives the last host the slots the spares lack (mapping by slot then puts them there);
    the user's hostfile is used as it is when the slots suffice, when the ranks do not fit either,
    or when the last host has max_slots."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    hosts, seen = os.path.join(tmp, "hosts"), os.path.join(tmp, "launches")
    for text, n, spares, want in (
            ("a slots=2\nb slots=2   # spare host\n", "4", "2", "6|a slots=2|b slots=4"),
            ("a slots=2\nb  slots=1\nc slots=1\n", "3", "3", "6|a slots=2|b  slots=1|c slots=3"),
            ("a slots=2\nb slots=4\n", "4", "2", "6|a slots=2|b slots=4"),
            ("a slots=2\nb slots=2\n", "6", "2", "8|a slots=2|b slots=2"),
            ("a slots=2\nb slots=2 max_slots=2\n", "4", "1", "5|a slots=2|b slots=2 max_slots=2")):
        with open(hosts, "w") as f:
            f.write(text)
        if os.path.exists(seen):
            os.unlink(seen)
        r = salrun(args, ["-n", n, "--spares", spares, "--policy", "spares", "--hostfile", hosts,
                          "--ckpt-dir", tmp, "--trust-exit", "--probe-timeout", "0", "--mpiexec",
                          fake, "--", args.flaky, "sleep", "0"],
                   env=clean_env(FAKE_LAUNCH_HOSTS=seen))
        check(r.returncode == 0, "%r, -n %s --spares %s: the job finishes" % (text, n, spares), r)
        with open(seen) as f:
            got = f.read().strip()
        check(got == want, "%r, -n %s --spares %s: the launch's hostfile %r, expected %r"
              % (text, n, spares, got, want), r)
        with open(hosts) as f:
            check(f.read() == text, "the user's hostfile is left as it was")


def case_probe_prrte(args, tmp):
    """With --prrte, a probe starts its daemon from the PRRTE prefix too (--prefix), unless the
    user's own --prefix is passed."""
    fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_mpiexec_hosts.py")
    prefix, hosts = os.path.join(tmp, "prrte"), os.path.join(tmp, "hosts")
    os.makedirs(os.path.join(prefix, "bin"))
    with open(os.path.join(prefix, "bin", "prterun"), "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(os.path.join(prefix, "bin", "prterun"), 0o755)
    with open(hosts, "w") as f:
        f.write("%s\nprobe-host\n" % socket.gethostname())
    for extra, expected in (([], prefix), (["--prefix", "/opt/p"], "/opt/p")):
        log, flaky = os.path.join(tmp, "probe%d.args" % len(extra)), os.path.join(tmp, "f%d" % len(extra))
        # salrun_flaky exit: the first run fails, so the hosts are probed before the relaunch
        r = salrun(args, ["-n", "2", "--hostfile", hosts, "--ckpt-dir", tmp, "--restart-delay",
                          "0.1", "--trust-exit", "--mpiexec", fake, "--prrte", prefix] + extra
                   + ["--", args.flaky, "exit", flaky], env=clean_env(FAKE_PROBE_ARGS=log))
        check(r.returncode == 0 and "salrun: 1 host probed in" in r.stderr,
              "%s: the job finishes after one relaunch, probe-host probed" % extra, r)
        check("with ULFM (mpiexec over the PRRTE of %s)" % os.path.realpath(prefix) in r.stderr
              or "without ULFM (mpiexec over the PRRTE of" in r.stderr,
              "%s: the launch line names the PRRTE prefix" % extra, r)
        with open(log) as f:
            probes = [l.split() for l in f.read().splitlines()]
        check(len(probes) == 1 and probes[0].count("--prefix") == 1
              and probes[0][probes[0].index("--prefix") + 1] == expected,
              "%s: the probe gets --prefix %s: %r" % (extra, expected, probes))


def case_probe_off(args, tmp):
    r, lines = hosts_run(args, tmp, "%s\n%s\n" % (socket.gethostname(), NO_HOST),
                         ["--probe-timeout", "0", "--max-restarts", "1"])
    check(r.returncode == 1, "--probe-timeout 0: the relaunch uses the same hosts and fails", r)
    check("left out" not in r.stderr and lines is None, "no host left out, no hostfile written", r)
    check("salrun: 2 hosts, not probed (--probe-timeout 0)" in r.stderr, "the check line says so", r)


def case_hostfile_errors(args, tmp):
    """The one hostfile grammar (docs/salrun.md, "Hostfiles"): every form is accepted, anything
    else is refused with the file, the line and the cause."""
    bad = os.path.join(tmp, "bad")
    cases = ((None, "/nonexistent/hosts", "/nonexistent/hosts"),
             ("good-host slots=2\n\n# a comment\nbad!host slots=1\n", bad,
              'hostfile %s, line 4: "bad!host" is not a host name' % bad),
             ("# only a comment\n\n", bad, "hostfile %s names no host" % bad),
             ("n1\nn2 slots=2 cpus=4\n", bad,
              'hostfile %s, line 2: unknown attribute "cpus=4"' % bad),
             ("n1 slots=abc\n", bad, 'hostfile %s, line 1: "slots=abc": expected a whole number'
              % bad),
             ("n1 slots=4 max_slots=2\n", bad,
              "hostfile %s, line 1: slots=4 exceeds max_slots=2" % bad),
             ("n1\nnode[2-4]\n", bad, 'hostfile %s, line 2: "node[2-4]" is not a host name: '
              "ranges are not expanded" % bad),
             ("n1\n^n2\n", bad, 'hostfile %s, line 2: "^n2" is not a host name: exclusions'
              % bad),
             ("n1:2\n", bad, 'hostfile %s, line 1: "n1:2" is not a host name' % bad),
             ("n1\n\0\n", bad, "hostfile %s, line 2: contains a NUL byte" % bad))
    for text, path, msg in cases:
        if text is not None:
            with open(path, "w") as f:
                f.write(text)
        r = salrun(args, ["--hostfile", path, "--ckpt-dir", tmp, "/bin/true"])
        check(r.returncode == 2 and msg in r.stderr, "%r: exit 2 saying %r" % (text, msg), r)
    with open(bad, "w") as f:
        f.write("n1\n")
    r = salrun(args, ["--launcher", "srun", "--no-ulfm", "--hostfile", bad, "--ckpt-dir", tmp,
                      "/bin/true"])
    check(r.returncode == 2 and "--hostfile is for mpiexec" in r.stderr,
          "--hostfile with srun is refused", r)
    r, _, words = dry_run(args, ["--machinefile", bad, "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 0 and words[-3:] == ["--hostfile", bad, "/bin/true"],
          "--machinefile FILE reaches mpiexec as --hostfile FILE", r)
    with open(bad, "w") as f:
        f.write("# every form\nn1\n  admin@n2 slots=2\t# a comment\nn3 max_slots=4\r\n"
                "n4 slots=1 max_slots=2\n+n0\nn1\n")
    r, _, words = dry_run(args, ["--hostfile", bad, "--ckpt-dir", tmp, "/bin/true"])
    check(r.returncode == 0 and words[-3:] == ["--hostfile", bad, "/bin/true"],
          "every form of the grammar is accepted", r)


def case_hostfile_mapping(args, tmp):
    """Several hosts listed, or a Slurm allocation of several nodes: ranks fill each host's slots in
    order (by slot), not all on the first."""
    hosts = os.path.join(tmp, "hosts")
    for text, policy in (("n1 slots=2\nn2 slots=2\n", "slot:oversubscribe"),
                         ("n1 slots=2\n", ":oversubscribe")):
        with open(hosts, "w") as f:
            f.write(text)
        r, assigned, _ = dry_run(args, ["-n", "4", "--hostfile", hosts, "--ckpt-dir", tmp,
                                        "/bin/true"])
        check(assigned.get("PRTE_MCA_rmaps_default_mapping_policy") == policy,
              "hostfile %r: mapping policy %s: %r" % (text, policy, assigned), r)
    r, assigned, _ = dry_run(args, ["-n", "4", "--host", "n1:2,n2:2", "--ckpt-dir", tmp, "--",
                                    "/bin/true"])
    check(assigned.get("PRTE_MCA_rmaps_default_mapping_policy") == "slot:oversubscribe",
          "--host with two hosts: by slot: %r" % assigned, r)
    r, assigned, _ = dry_run(args, ["-n", "4", "--hostfile", hosts, "--ckpt-dir", tmp, "/bin/true"],
                             env=clean_env(PRTE_MCA_rmaps_default_mapping_policy="core"))
    check("PRTE_MCA_rmaps_default_mapping_policy" not in assigned, "the user's variable wins", r)
    # the nodes of a Slurm allocation (from `scontrol show hostnames`, here a stand-in): the
    # same rule; oversubscription alone put every rank on the first node
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir, exist_ok=True)
    with open(os.path.join(bindir, "scontrol"), "w") as f:
        f.write('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && echo "$3" | tr , "\\n"\n')
    os.chmod(os.path.join(bindir, "scontrol"), 0o755)
    for nodes, policy in (("n1,n2", "slot:oversubscribe"), ("n1", ":oversubscribe")):
        env = clean_env(SLURM_JOB_ID="12345", SLURM_JOB_NODELIST=nodes,
                        PATH=bindir + os.pathsep + os.environ["PATH"])
        r, assigned, _ = dry_run(args, ["-n", "4", "--launcher", "mpiexec", "--ckpt-dir", tmp,
                                        "/bin/true"], env=env)
        check(assigned.get("PRTE_MCA_rmaps_default_mapping_policy") == policy,
              "Slurm allocation %s: mapping policy %s: %r" % (nodes, policy, assigned), r)


def case_hostfile_detector(args, tmp):
    """A ULFM job on several hosts gets Open MPI's heartbeat detector (period 5 s, timeout 30 s)."""
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("n1 slots=2\nn2 slots=2\n")
    on = {"OMPI_MCA_mpi_ft_detector": "true", "OMPI_MCA_mpi_ft_detector_period": "5",
          "OMPI_MCA_mpi_ft_detector_timeout": "30"}
    r, assigned, _ = dry_run(args, ["-n", "4", "--hostfile", hosts, "--ckpt-dir", tmp, "/bin/true"])
    got = {k: v for k, v in assigned.items() if "ft_detector" in k}
    check(got == (on if args.ulfm else {}), "several hosts: the detector on, when the build has "
          "ULFM: %r" % got, r)
    r, assigned, _ = dry_run(args, ["-n", "4", "--ckpt-dir", tmp, "/bin/true"])
    check(not [k for k in assigned if "ft_detector" in k], "one host: Open MPI's default", r)
    r, assigned, _ = dry_run(args, ["-n", "4", "--no-ulfm", "--hostfile", hosts, "--ckpt-dir", tmp,
                                    "/bin/true"])
    check(not [k for k in assigned if "ft_detector" in k], "--no-ulfm: no detector", r)
    r, assigned, _ = dry_run(args, ["-n", "4", "--hostfile", hosts, "--ckpt-dir", tmp, "/bin/true"],
                             env=clean_env(OMPI_MCA_mpi_ft_detector="false"))
    check(not [k for k in assigned if "ft_detector" in k], "the user's variable wins", r)
