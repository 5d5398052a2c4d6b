/*
 * salrun before its first launch (docs/salrun.md): the configuration built and validated exactly as
 * sal_init will see it and exported as SAL_* variables, the launcher (mpiexec or srun), the
 * program, the hosts, and the launch command, rebuilt before a relaunch without the hosts that
 * failed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "config_internal.h"
#include "inject.h"
#include "salrun.h"
#include "salrun_build.h"
#include "salrun_job.h"

#define MPIEXEC_ENV_VAR "SAL_MPIEXEC"

/* SAL_MPIEXEC names salrun's mpiexec, not a configuration key: it is taken out of the environment
 * so that neither the configuration check below nor the ranks see it. */
void salrun_take_mpiexec_env(salrun_opts_t *o)
{
    static char from_env[PATH_MAX];
    const char *v = getenv(MPIEXEC_ENV_VAR);

    if (v && v[0] && !o->mpiexec) {
        snprintf(from_env, sizeof(from_env), "%s", v);
        o->mpiexec = from_env;
    }
    unsetenv(MPIEXEC_ENV_VAR);
}

static int export_var(salrun_job_t *j, const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0)
        return salrun_fail(SAL_ERR_NOMEM, "setenv %s: %s", name, strerror(errno));
    return salrun_argv_pushf(&j->env_added, "%s=%s", name, value);
}

/* The configuration flags on top of the user's SAL_CONFIG file and SAL_* environment. */
static int apply_flags(salrun_job_t *j, sal_config_t cfg)
{
    for (int k = 0; k < SALRUN_NCFG; k++) {
        const char *v = j->o->cfg[k];

        if (v && sal_config_set(cfg, salrun_cfg_keys[k], v) != SAL_OK)
            return salrun_fail(SAL_ERR_CONFIG, "%s", sal_last_error());
    }
    return SAL_OK;
}

/* Checks the configuration the ranks will load and resolves the job name and the event log path. */
static int check_config(salrun_job_t *j, sal_config_t cfg)
{
    const sal_settings_t *set;
    sal_inject_t *plan = NULL;
    char dir[PATH_MAX];
    int rc;

    if (sal_config_load_env(cfg) != SAL_OK)
        return salrun_fail(SAL_ERR_CONFIG, "%s", sal_last_error());
    rc = apply_flags(j, cfg);
    if (rc != SAL_OK)
        return rc;
    if (sal_config_resolve_job(cfg, j->o->prog[0], j->name, sizeof(j->name)) != SAL_OK ||
        sal_config_set(cfg, "job", j->name) != SAL_OK || sal_config_validate(cfg) != SAL_OK)
        return salrun_fail(SAL_ERR_CONFIG, "%s", sal_last_error());
    set = sal_config_settings(cfg);
    if (sal_inject_parse(set->inject, &plan) != SAL_OK)
        return salrun_fail(SAL_ERR_CONFIG, "%s", sal_last_error());
    sal_inject_free(&plan);
    j->spares = (long)set->spares;
    j->hb_period = set->heartbeat_period;
    j->hb_timeout = set->heartbeat_timeout;
    j->protocol_timeout = set->protocol_timeout;
    j->finalize_timeout = set->finalize_timeout;
    snprintf(j->prrte.prefix, sizeof(j->prrte.prefix), "%s", set->prrte_prefix);
    j->prrte.keepalive_time = (long)set->prrte_keepalive_time;
    j->prrte.keepalive_intvl = (long)set->prrte_keepalive_intvl;
    j->prrte.keepalive_probes = (long)set->prrte_keepalive_probes;
    j->restart_from = (long long)set->restart_from;
    if (sal_config_resolve_ckpt_dir(cfg, dir, sizeof(dir)) != SAL_OK)
        return salrun_fail(SAL_ERR_CONFIG, "%s", sal_last_error());
    snprintf(j->job_dir, sizeof(j->job_dir), "%.*s/%s", PATH_MAX - 300, dir, j->name);
    if (set->pfs_dir[0])
        snprintf(j->pfs_job, sizeof(j->pfs_job), "%.*s/%s", PATH_MAX - 300, set->pfs_dir, j->name);
    if (set->log_dir[0])
        snprintf(dir, sizeof(dir), "%s", set->log_dir);
    snprintf(j->log_path, sizeof(j->log_path), "%s/%s.events.jsonl", dir, j->name);
    return SAL_OK;
}

/* heartbeat_period / heartbeat_timeout: Open MPI's heartbeat failure detector (docs/recovery.md),
 * through its MCA parameters, which mpiexec forwards to every rank. A ULFM job on several hosts
 * of the user's --hostfile or --host gets the detector by default, with a period of 5 s and a
 * timeout of 30 s: a host that stops answering without its processes ending (a cut link, a hung
 * node) is otherwise never reported, and the job waits for it forever (docs/cluster.md). The
 * timeout is long because heartbeats come from MPI's progress engine: a rank that computes that
 * long without an MPI call is declared failed. (The detector's own thread, mpi_ft_detector_thread,
 * crashed Open MPI 5.0.11 in ompi_comm_revoke_local on the emulated cluster.) The user's own
 * OMPI_MCA_mpi_ft_detector wins. */
static int export_detector(salrun_job_t *j)
{
    char v[64];
    int rc = SAL_OK;
    int several =
        j->hosts.listed && j->hosts.n > 1 && SALRUN_HAVE_ULFM && !j->o->no_ulfm && !j->use_srun;

    if (j->hb_period <= 0 && j->hb_timeout <= 0) {
        if (!several || getenv("OMPI_MCA_mpi_ft_detector"))
            return SAL_OK;
        rc = export_var(j, "OMPI_MCA_mpi_ft_detector", "true");
        if (rc == SAL_OK && !getenv("OMPI_MCA_mpi_ft_detector_period"))
            rc = export_var(j, "OMPI_MCA_mpi_ft_detector_period", "5");
        if (rc == SAL_OK && !getenv("OMPI_MCA_mpi_ft_detector_timeout"))
            rc = export_var(j, "OMPI_MCA_mpi_ft_detector_timeout", "30");
        return rc;
    }
    rc = export_var(j, "OMPI_MCA_mpi_ft_detector", "true");
    if (rc == SAL_OK && j->hb_period > 0) {
        snprintf(v, sizeof(v), "%g", j->hb_period);
        rc = export_var(j, "OMPI_MCA_mpi_ft_detector_period", v);
    }
    if (rc == SAL_OK && j->hb_timeout > 0) {
        snprintf(v, sizeof(v), "%g", j->hb_timeout);
        rc = export_var(j, "OMPI_MCA_mpi_ft_detector_timeout", v);
    }
    return rc;
}

/* Validates the configuration, then exports it: SAL_CONFIG (absolute), one SAL_<KEY> per flag, and
 * SAL_JOB always, so that the ranks and salrun agree on the event log even when the program is
 * reached through a link with another name. */
static int configure(salrun_job_t *j)
{
    sal_config_t cfg = NULL;
    char path[PATH_MAX], name[64];
    int rc = SAL_OK;

    if (j->o->config_file)
        rc = export_var(j, "SAL_CONFIG",
                        realpath(j->o->config_file, path) ? path : j->o->config_file);
    if (rc == SAL_OK && sal_config_create(&cfg) != SAL_OK)
        rc = salrun_fail(SAL_ERR_NOMEM, "%s", sal_last_error());
    if (rc == SAL_OK)
        rc = check_config(j, cfg);
    for (int k = 0; rc == SAL_OK && k < SALRUN_NCFG; k++) {
        if (!j->o->cfg[k] || k == SALRUN_CFG_JOB)
            continue;
        snprintf(name, sizeof(name), "SAL_%s", salrun_cfg_keys[k]);
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        rc = export_var(j, name, j->o->cfg[k]);
    }
    if (rc == SAL_OK)
        rc = export_var(j, "SAL_JOB", j->name);
    sal_config_destroy(&cfg);
    return rc;
}

/* srun or mpiexec (docs/salrun.md, "Inside a Slurm allocation"). [OUT] j->use_srun. Returns -1 to
 * go on, else the exit status. */
static int choose_launcher(salrun_job_t *j)
{
    const char *l = j->o->launcher ? j->o->launcher : "auto";
    int ulfm = SALRUN_HAVE_ULFM && !j->o->no_ulfm;
    char srun[PATH_MAX];

    if (strcmp(l, "srun") == 0 && ulfm) {
        salrun_fail(SAL_ERR_INVALID_ARG,
                    "--launcher srun runs without ULFM (Open MPI's fault tolerance needs its "
                    "mpiexec): add --no-ulfm, or use --launcher mpiexec");
        return SALRUN_EXIT_USAGE;
    }
    /* auto: srun for an MPI without ULFM only. Open MPI 5 (the MPI with ULFM) keeps its own
     * mpiexec even with --no-ulfm: its PMIx client fails in MPI_Init under Slurm's pmix plugin
     * when a node runs more tasks than it has cores (docs/salrun.md), and mpiexec works. */
    j->use_srun = strcmp(l, "srun") == 0;
    if (strcmp(l, "auto") == 0 && !SALRUN_HAVE_ULFM) {
        const char *slurm = getenv("SLURM_JOB_ID");
        j->use_srun = slurm && slurm[0] && salrun_find_exe("srun", srun, sizeof(srun)) == SAL_OK;
    }
    if (j->use_srun && salrun_find_exe("srun", j->mpiexec, sizeof(j->mpiexec)) != SAL_OK) {
        snprintf(srun, sizeof(srun), "%s", salrun_errmsg());
        salrun_fail(SAL_ERR_NOT_FOUND, "--launcher srun: %s", srun);
        return SALRUN_EXIT_NOTFOUND;
    }
    return -1;
}

/* The launch command: mpiexec's on the hosts left, or srun's avoiding the excluded nodes. */
int salrun_job_build_launch(salrun_job_t *j)
{
    char exclude[4096];
    salrun_argv_t args = {0};
    int rc;

    salrun_argv_free(&j->cmd);
    if (j->use_srun)
        return salrun_build_srun(j->o, j->mpiexec,
                                 salrun_hosts_excluded(&j->hosts, 0, exclude, sizeof(exclude)),
                                 &j->cmd);
    rc = j->prrte.prefix[0] ? salrun_prrte_args(&j->prrte, j->o, &args) : SAL_OK;
    if (rc == SAL_OK && !j->o->dry_run)
        rc = salrun_hosts_place_spares(&j->hosts, j->o->np, j->spares, j->o->family);
    if (rc == SAL_OK)
        rc = salrun_hosts_args(&j->hosts, j->o, &args);
    if (rc == SAL_OK)
        rc = salrun_build_command(j->o, j->mpiexec, &args, &j->cmd);
    salrun_argv_free(&args);
    return rc;
}

/* --relaunch-ranks fit, after hosts were left out: -n becomes the slots of the hosts left (spares
 * included) when they are fewer; the job then restores its checkpoint on that many ranks. */
static void fit_ranks(salrun_job_t *j)
{
    long slots = salrun_hosts_slots_left(&j->hosts), ranks = slots - j->spares;
    char json[128];

    if (!j->o->relaunch_fit || j->o->np <= 0)
        return;
    if (slots < 0) {
        salrun_say(&j->out, "ranks", "\"ranks\":-1",
                   "--relaunch-ranks fit: the hosts left do not all give slots=N; relaunching on "
                   "%ld ranks",
                   j->o->np - j->spares);
        return;
    }
    if (ranks < 1 || slots >= j->o->np)
        return;
    snprintf(json, sizeof(json), "\"ranks\":%ld,\"was\":%ld", ranks, j->o->np - j->spares);
    salrun_say(&j->out, "ranks", json,
               "relaunching on %ld rank%s instead of %ld: the slots of the hosts left "
               "(--relaunch-ranks fit); the job restores its checkpoint on that many",
               ranks, ranks == 1 ? "" : "s", j->o->np - j->spares);
    j->o->np = slots;
}

/* Before a relaunch: the hosts that failed are left out (salrun_hosts.c), those the launch that
 * ended reported lost without a probe. */
int salrun_job_exclude_failed_hosts(salrun_job_t *j)
{
    size_t changed = 0;
    int rc = salrun_hosts_check(&j->hosts, j->o, j->mpiexec, j->prrte.prefix, j->use_srun,
                                j->relay.tail, &j->out, &changed);

    if (rc == SAL_OK && changed > 0)
        fit_ranks(j);
    return rc == SAL_OK && changed > 0 ? salrun_job_build_launch(j) : rc;
}

/* The hosts of the job; the hostfile of relaunches goes next to the event log. */
static int load_hosts(salrun_job_t *j)
{
    char path[sizeof(j->log_path)];
    const char *slash = strrchr(j->log_path, '/');

    snprintf(path, sizeof(path), "%.*s/%s.hosts", slash ? (int)(slash - j->log_path) : 1,
             slash ? j->log_path : ".", j->name);
    return salrun_hosts_load(&j->hosts, j->o, j->use_srun, path);
}

/* The dialect of the mpiexec (salrun_family.c), asked once per run: Hydra has no ULFM (the job
 * runs in relaunch mode) and reads its own hostfile, which salrun writes from the hosts listed.
 * An mpiexec that names neither family gets Open MPI's options, with a line saying so. Returns -1
 * to go on, else the exit status. */
static int prepare_family(salrun_job_t *j)
{
    char why[PATH_MAX + 400];

    if (j->use_srun)
        return -1;
    if (salrun_family_detect(j->mpiexec, &j->o->family) != SAL_OK) {
        snprintf(why, sizeof(why), "%s", salrun_errmsg());
        salrun_say(&j->out, "note", NULL, "%s; using Open MPI's options", why);
    }
    if (j->o->family != SALRUN_FAMILY_HYDRA)
        return -1;
    j->o->no_ulfm = 1;
    if (j->hosts.listed && salrun_hosts_write(&j->hosts, j->o->family) != SAL_OK)
        return SALRUN_EXIT_USAGE;
    return -1;
}

/* The PRRTE 5 + PMIx 7 launcher stack when the key prrte_prefix names one: its prterun must be
 * there, and Open MPI's mpiexec must be the launcher. Returns -1 to go on, else the exit status. */
static int prepare_prrte(salrun_job_t *j)
{
    if (!j->prrte.prefix[0])
        return -1;
    if (j->o->family == SALRUN_FAMILY_HYDRA) {
        salrun_fail(SAL_ERR_INVALID_ARG,
                    "--prrte (key prrte_prefix) runs Open MPI's mpiexec over PRRTE 5, and %s is "
                    "MPICH's Hydra: leave prrte_prefix empty",
                    j->mpiexec);
        return SALRUN_EXIT_USAGE;
    }
    if (j->use_srun) {
        salrun_fail(SAL_ERR_INVALID_ARG,
                    "--prrte (key prrte_prefix) needs mpiexec as the launcher, not srun: use "
                    "--launcher mpiexec, or leave prrte_prefix empty");
        return SALRUN_EXIT_USAGE;
    }
    return salrun_prrte_check(&j->prrte, j->prrte.prefix) == SAL_OK ? -1 : SALRUN_EXIT_NOTFOUND;
}

/* Everything before the first launch. Returns -1 to go on, else the exit status. */
int salrun_job_prepare(salrun_job_t *j)
{
    char what[PATH_MAX];
    int ex = choose_launcher(j);

    if (ex >= 0)
        return ex;
    if (!j->use_srun &&
        salrun_find_exe(salrun_mpiexec_path(j->o), j->mpiexec, sizeof(j->mpiexec)) != SAL_OK) {
        snprintf(what, sizeof(what), "%s", salrun_errmsg());
        salrun_fail(SAL_ERR_NOT_FOUND, "mpiexec %s (use --mpiexec PATH or SAL_MPIEXEC)", what);
        return SALRUN_EXIT_NOTFOUND;
    }
    if (salrun_find_exe(j->o->prog[0], j->program, sizeof(j->program)) != SAL_OK) {
        snprintf(what, sizeof(what), "%s", salrun_errmsg());
        salrun_fail(SAL_ERR_NOT_FOUND, "program %s%s", what,
                    j->o->mpi_args.n > 0 ? "; mpiexec options whose values are separate words "
                                           "need `--` before the program (see salrun --help)"
                                         : "");
        return SALRUN_EXIT_NOTFOUND;
    }
    if (configure(j) != SAL_OK || load_hosts(j) != SAL_OK)
        return SALRUN_EXIT_USAGE;
    if (salrun_restart_check(j) != SAL_OK)
        return SALRUN_EXIT_FAILED;
    ex = prepare_family(j);
    if (ex < 0)
        ex = prepare_prrte(j);
    if (ex >= 0)
        return ex;
    if (j->o->np > 0)
        j->o->np += j->spares; /* the spares park in sal_init: the application sees -n ranks */
    /* By slot on several hosts, listed or a Slurm allocation's nodes: oversubscription alone puts
     * every rank on the first one. */
    if (export_detector(j) != SAL_OK ||
        salrun_env_defaults(j->o, j->hosts.n > 1, &j->env_added) != SAL_OK ||
        (j->prrte.prefix[0] && salrun_prrte_env(&j->prrte, &j->env_added) != SAL_OK) ||
        salrun_job_build_launch(j) != SAL_OK)
        return SALRUN_EXIT_USAGE;
    /* Hosts named by address: their own names, which their ranks report, come from a probe, so
     * that a failure and the exclusion name the same host ("10.251.0.13 (node3)"). */
    if (!j->o->dry_run && j->hosts.listed && j->hosts.n > 1 && j->o->probe_timeout > 0 &&
        salrun_hosts_by_address(&j->hosts) && salrun_job_exclude_failed_hosts(j) != SAL_OK)
        return SALRUN_EXIT_FAILED;
    return -1;
}
