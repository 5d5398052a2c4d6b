/*
 * sal_init and the process-wide runtime state: configuration, the resilient communicator and its
 * failure handler, the host table, the checkpoint handle and the fault-injection plan.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/salamander.h>

#include "bound.h"
#include "ckpt_internal.h"
#include "clock.h"
#include "events.h"
#include "fsutil.h"
#include "hostmap.h"
#include "interpose.h"
#include "log.h"
#include "runtime.h"
#include "watchdog.h"

/* ---- sal_init ---- */

/* Seconds from this process's exec to sal_init (MPI_Init and the application's own start-up: for
 * a replacement, the spawn's connect too); -1 when unknown. In the event start. */
static double age_at_init = -1;

/* The process's own arguments from /proc/self/cmdline (for callers that pass no argv, e.g. the
 * Fortran binding): argv[1..] as a NULL-terminated array. SAL_ERR_IO when unreadable. */
static int args_from_proc(char ***args)
{
    char *data = NULL, *p, *end;
    size_t len = 0;
    int n = 0, rc = sal_read_file("/proc/self/cmdline", 1 << 20, &data, &len);

    if (rc != SAL_OK)
        return rc;
    end = data + len;
    for (p = data; p < end; p += strlen(p) + 1)
        n++;
    *args = calloc((size_t)n + 1, sizeof(char *));
    n = 0;
    for (p = data; *args && p < end; p += strlen(p) + 1)
        if (p != data && !((*args)[n++] = strdup(p)))
            rc = sal_error(SAL_ERR_NOMEM, "argument copy");
    free(data);
    return *args ? rc : sal_error(SAL_ERR_NOMEM, "argument copy");
}

/* Program path and arguments, spawned again to replace a failed rank. */
static int save_command(int *argc, char ***argv)
{
    ssize_t n = readlink("/proc/self/exe", sal_rt.exe, sizeof(sal_rt.exe) - 1);
    int nargs = (argc && argv && *argv && *argc > 1) ? *argc - 1 : 0;

    if (n <= 0)
        snprintf(sal_rt.exe, sizeof(sal_rt.exe), "%s", (argv && *argv) ? (*argv)[0] : "");
    else
        sal_rt.exe[n] = '\0';
    if (!(argc && argv && *argv) && args_from_proc(&sal_rt.args) == SAL_OK)
        return SAL_OK;
    sal_rt.args = calloc((size_t)nargs + 1, sizeof(char *));
    if (!sal_rt.args)
        return sal_error(SAL_ERR_NOMEM, "argument copy");
    for (int i = 0; i < nargs; i++)
        if (!(sal_rt.args[i] = strdup((*argv)[i + 1])))
            return sal_error(SAL_ERR_NOMEM, "argument copy");
    return SAL_OK;
}

/* Configuration: defaults < SAL_CONFIG file < SAL_* environment; the resolved job name and
 * checkpoint directory are written back so a replacement receives the same values. */
static int load_config(const char *argv0)
{
    char buf[PATH_MAX];
    int rc = sal_config_create(&sal_rt.cfg);

    if (rc == SAL_OK)
        rc = sal_config_load_env(sal_rt.cfg);
    if (rc == SAL_OK)
        rc = sal_config_resolve_job(sal_rt.cfg, argv0, sal_rt.job, sizeof(sal_rt.job));
    if (rc == SAL_OK)
        rc = sal_config_set(sal_rt.cfg, "job", sal_rt.job);
    if (rc == SAL_OK)
        rc = sal_config_resolve_ckpt_dir(sal_rt.cfg, buf, sizeof(buf));
    if (rc == SAL_OK)
        rc = sal_config_set(sal_rt.cfg, "ckpt_dir", buf);
    return rc;
}

static int apply_config(void)
{
    int rc = sal_config_validate(sal_rt.cfg), level;
    char logdir[PATH_MAX];

    if (rc != SAL_OK)
        return rc;
    sal_rt.set = sal_config_settings(sal_rt.cfg);
    snprintf(sal_rt.job, sizeof(sal_rt.job), "%s", sal_rt.set->job);
    level = sal_log_level_parse(sal_rt.set->log_level);
    if (level >= 0)
        sal_log_set_level((sal_log_level_t)level);
    snprintf(logdir, sizeof(logdir), "%s",
             sal_rt.set->log_dir[0] ? sal_rt.set->log_dir : sal_rt.set->ckpt_dir);
    rc = sal_events_open(logdir, sal_rt.job);
    if (rc != SAL_OK)
        SAL_LOG_W("no event log: %s", sal_last_error());
    rc = sal_path_join(sal_rt.marker_dir, sizeof(sal_rt.marker_dir), "%s/%s.inject", logdir,
                       sal_rt.job);
    if (rc == SAL_OK)
        rc = sal_inject_parse(sal_rt.set->inject, &sal_rt.inject);
    if (rc == SAL_OK && sal_inject_count(sal_rt.inject) > 0)
        rc = sal_mkdir_p(sal_rt.marker_dir, 0700);
    if (rc == SAL_OK)
        rc = sal_inject_set_marker_dir(sal_rt.inject, sal_rt.marker_dir);
    return rc;
}

/* Removes the fired-markers of a previous job with the same name, so a fresh start injects again.
 */
static void reset_inject_markers(const char *dir)
{
    char path[PATH_MAX];

    for (int i = 0; i < sal_inject_count(sal_rt.inject); i++)
        if (sal_path_join(path, sizeof(path), "%s/inject.%d.fired", dir, i) == SAL_OK)
            unlink(path);
}

/* Collective (not in a replacement): restart when restart=auto|required finds a committed
 * checkpoint of an unfinished job, or restart_from names one (finished or not: the restore says
 * when it cannot). Any host's `latest` counts (rank 0's host may be a new one); rank 0 decides
 * whether the job had finished. */
static int decide_restart(void)
{
    int finished = 0, flag = 0, any = 0;

    if (strcmp(sal_rt.set->restart, "never") != 0 &&
        sal_ckpt_any_committed(sal_rt.ck, &any) != SAL_OK)
        return sal_error(SAL_ERR_MPI, "exchange of the restart decision failed");
    if (sal_rt.rank == 0 && strcmp(sal_rt.set->restart, "never") != 0) {
        sal_ckpt_finished(sal_rt.ck, &finished);
        flag = (any && !finished) || sal_rt.set->restart_from >= 0;
        if (!flag && strcmp(sal_rt.set->restart, "required") == 0)
            flag = -1;
    }
    if (MPI_Bcast(&flag, 1, MPI_INT, 0, sal_rt.world) != MPI_SUCCESS)
        return sal_error(SAL_ERR_MPI, "broadcast of the restart decision failed");
    if (flag < 0)
        return sal_error(SAL_ERR_NO_CKPT,
                         "restart=required but job '%s' has no committed checkpoint "
                         "to restore in %s",
                         sal_rt.job, sal_rt.set->ckpt_dir);
    if (!flag && sal_rt.rank == 0)
        reset_inject_markers(sal_rt.marker_dir);
    sal_rt.needs_restore = flag;
    return SAL_OK;
}

static int setup_ckpt(void)
{
    int rc = sal_ckpt_create(sal_rt.world, sal_rt.cfg, sal_rt.job, &sal_rt.ck);

    if (rc == SAL_OK)
        sal_ckpt_set_inject(sal_rt.ck, sal_rt.inject);
    return rc;
}

/* A fresh start: full = every process of comm; the last `spares` of them park, the others form the
 * application's communicator. */
static int split_job(MPI_Comm comm)
{
    int64_t spares = sal_config_settings(sal_rt.cfg)->spares;
    int me = 0, n = 0;

    if (MPI_Comm_dup(comm, &sal_rt.full) != MPI_SUCCESS)
        return sal_error(SAL_ERR_MPI, "cannot duplicate the communicator");
    MPI_Comm_set_errhandler(sal_rt.full, MPI_ERRORS_RETURN);
    MPI_Comm_rank(sal_rt.full, &me);
    MPI_Comm_size(sal_rt.full, &n);
    if (spares >= n) {
        MPI_Comm_dup(sal_rt.full, &sal_rt.world);
        return sal_error(SAL_ERR_CONFIG,
                         "spares=%lld leaves no rank for the application among %d "
                         "processes: launch more (salrun --spares S adds S to -n)",
                         (long long)spares, n);
    }
    sal_rt.is_spare = me >= n - (int)spares;
    if (MPI_Comm_split(sal_rt.full, sal_rt.is_spare, me, &sal_rt.world) != MPI_SUCCESS)
        return sal_error(SAL_ERR_MPI, "cannot split off the spares");
    return SAL_OK;
}

/* Collective over comm: SAL_OK when rc is SAL_OK on every rank; else every rank fails, the ranks
 * whose own rc was SAL_OK with a message naming the ranks that failed (their own message says why).
 */
static int start_agreed(MPI_Comm comm, int rc)
{
    int size = 0, me = 0, nbad = 0, *all;
    char ranks[256] = "";
    size_t used = 0;

    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &me);
    all = calloc((size_t)size, sizeof(int));
    if (!all)
        return sal_error(SAL_ERR_NOMEM, "start-up status of %d ranks", size);
    if (MPI_Allgather(&rc, 1, MPI_INT, all, 1, MPI_INT, comm) != MPI_SUCCESS) {
        free(all);
        return sal_error(SAL_ERR_MPI, "exchange of the start-up status failed");
    }
    for (int r = 0; r < size; r++) {
        if (all[r] == SAL_OK)
            continue;
        if (nbad++ < 16 && used < sizeof(ranks))
            used +=
                (size_t)snprintf(ranks + used, sizeof(ranks) - used, "%s%d", used ? "," : "", r);
    }
    free(all);
    if (rc != SAL_OK || nbad == 0)
        return rc;
    return sal_error(SAL_ERR_CONFIG,
                     "rank%s %s%s of %d could not start (%s own message%s why); every rank stops",
                     nbad == 1 ? "" : "s", ranks, nbad > 16 ? ",..." : "", size,
                     nbad == 1 ? "its" : "their", nbad == 1 ? " says" : "s say");
}

/* From the configuration on, every step of sal_init waits for the other ranks (a fresh start for
 * its peers, a replacement for the survivors): bounded (bound.h) with this rank's configuration,
 * or with the defaults when it could not be read. Left by sal_init. */
static void bound_start(void)
{
    const sal_settings_t *set = sal_rt.cfg ? sal_config_settings(sal_rt.cfg) : NULL;

    if (set && sal_bound_configure(set->protocol_timeout, set->protocol_timeout_factor) != SAL_OK)
        SAL_LOG_W("%s", sal_last_error());
    sal_bound_enter("the start-up protocol of sal_init", 0);
}

/* A replacement whose join failed: the survivors' repair attempt failed with it (they agree on
 * its outcome, and their next attempt spawns anew), so this process has nothing left to do. It
 * ends here, before the application's MPI_Abort, which in Open MPI 5.0.11 ended the survivors'
 * whole launch too, and finalizes (an exit without it did the same). sal_rt_join freed every
 * communicator that linked it to the survivors. */
static void leave_given_up(void)
{
    SAL_LOG_W("%s: the survivors repair without this replacement; it ends", sal_last_error());
    sal_events_close();
    MPI_Finalize();
    exit(0);
}

/* Every step of sal_init that runs before the ranks agree on the outcome. */
static int init_steps(int *argc, char ***argv, MPI_Comm comm, MPI_Comm parent)
{
    int len = 0, rc, launch_rank = -1;

    MPI_Get_processor_name(sal_rt.host, &len);
    if (parent == MPI_COMM_NULL) { /* messages name the launch rank until the job is split */
        MPI_Comm_rank(comm, &launch_rank);
        sal_log_set_identity(launch_rank, sal_rt.host);
        sal_events_set_identity(launch_rank, sal_rt.host);
    }
    rc = save_command(argc, argv);
    if (rc == SAL_OK)
        rc = load_config(sal_rt.exe);
    if (rc == SAL_OK)
        rc = apply_config();
    bound_start();
    if (rc == SAL_OK && launch_rank >= 0)
        sal_inject_point(sal_rt.inject, launch_rank, 0, SAL_INJ_INIT);
    /* A fresh start agrees on the configuration before the first collective of its own: a rank
     * whose configuration failed (a config file that exists on some hosts only) would otherwise
     * leave the others waiting forever in split_job. A replacement's failure is seen by the
     * survivors' repair. */
    if (parent == MPI_COMM_NULL && (rc = start_agreed(comm, rc)) != SAL_OK)
        return rc;
    if (rc == SAL_OK && parent != MPI_COMM_NULL) {
        sal_rt.is_replacement = 1;
        rc = sal_rt_join(parent);
        if (rc != SAL_OK)
            leave_given_up();
    } else if (rc == SAL_OK) {
        rc = split_job(comm);
    }
    if (sal_rt.world == MPI_COMM_NULL)
        return rc;
    sal_rt_identity();
    if (rc == SAL_OK)
        rc = sal_rt_set_errhandler(sal_rt.world);
    if (rc == SAL_OK) {
        double t0 = sal_clock_mono(); /* the topology: local work every rank does */
        rc = sal_hostmap_init();
        sal_bound_credit(sal_clock_mono() - t0);
    }
    if (rc == SAL_OK)
        rc = sal_hostmap_exchange(sal_rt.full);
    if (rc == SAL_OK)
        rc = setup_ckpt();
    return rc;
}

/* A spare: parks until a repair makes it an application rank (then it goes on like a spawned
 * replacement) or the job finishes without it (then it never returns: see salamander.h). */
static int park_spare(void)
{
    int rc;

    sal_event("spare", "\"nranks\":%d", sal_rt_napp());
    rc = sal_rt_park();
    if (rc == SAL_OK)
        return SAL_OK;
    if (rc == SAL_ERR_STATE) {
        sal_event("spare_exit", "\"repairs\":%d", sal_rt.repairs);
        sal_events_close();
        if (sal_rt.repairs > 0)
            sal_rt_arm_finalize_watchdog(sal_rt.set->finalize_timeout);
        MPI_Finalize();
        exit(0);
    }
    SAL_LOG_E("%s", sal_last_error());
    return rc;
}

/* A write to the socket of a peer that died raises SIGPIPE in the writer, and its default action
 * kills the process: a survivor would die of its peer's failure instead of seeing an MPI error
 * (seen between the job and its spawned replacements, which talk over TCP). Ignored unless the
 * application installed a handler of its own. */
static void ignore_sigpipe(void)
{
    struct sigaction old;

    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO))
        (void)signal(SIGPIPE, SIG_IGN);
}

/* sal_init's work: every MPI call in it is Salamander's own (sal_init brackets it). */
static int init(int *argc, char ***argv, MPI_Comm comm)
{
    MPI_Comm parent = MPI_COMM_NULL;
    int flag = 0, rc, ok;

    MPI_Initialized(&flag);
    if (!flag || sal_rt.initialized)
        return sal_error(SAL_ERR_STATE, "sal_init must be called once, after MPI_Init");
    ignore_sigpipe();
    MPI_Comm_get_parent(&parent);
    rc = init_steps(argc, argv, comm, parent);
    ok = rc == SAL_OK;
    /* A replacement's survivors already agreed on the repaired communicator (sal_rt_join) and wait
     * in the restore: only a fresh start agrees on the outcome of initialisation here. */
    if (sal_rt.world != MPI_COMM_NULL && !sal_rt.is_replacement &&
        MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, sal_rt.world) != MPI_SUCCESS)
        ok = 0;
    sal_bound_leave();
    if (sal_rt.world == MPI_COMM_NULL) {
        SAL_LOG_E("%s", sal_last_error());
        return rc;
    }
    if (rc != SAL_OK)
        SAL_LOG_E("%s", sal_last_error());
    if (!ok)
        return rc != SAL_OK ? rc : sal_error(SAL_ERR_CONFIG, "another rank failed to initialise");
    if (sal_rt.is_spare && (rc = park_spare()) != SAL_OK)
        return rc;
    if (sal_rt.is_replacement)
        sal_rt.needs_restore = 1;
    else {
        sal_bound_enter("the restart decision of sal_init", 0);
        rc = decide_restart();
        sal_bound_leave();
        if (rc != SAL_OK)
            return rc;
    }
    sal_rt.initialized = 1;
    if (sal_rt.set->map_world)
        sal_interpose_map_world_to(&sal_rt.world);
    sal_interpose_watch_errors(sal_rt_is_failure); /* for sal_step_done (return-code mode) */
    if (sal_rt_stop_signal_install() != SAL_OK)
        SAL_LOG_W("%s", sal_last_error());
    /* Suspended until sal_run: the application's own set-up is not watched. */
    if (sal_watchdog_start_mpi(sal_rt.set->hang_timeout, sal_rt.set->mpi_hang_timeout) != SAL_OK)
        SAL_LOG_W("%s", sal_last_error());
    sal_event("start", "\"nranks\":%d,\"restart\":%s,\"replacement\":%s,\"age_at_init\":%.3f",
              sal_rt.size, sal_rt.needs_restore ? "true" : "false",
              sal_rt.is_replacement ? "true" : "false", age_at_init);
    if (sal_rt.rank == 0 && !sal_rt.is_replacement)
        SAL_LOG_I("job '%s' on %d ranks, checkpoints in %s%s", sal_rt.job, sal_rt.size,
                  sal_ckpt_job_dir(sal_rt.ck), sal_rt.needs_restore ? ", restarting" : "");
    return SAL_OK;
}

int sal_init(int *argc, char ***argv, MPI_Comm comm)
{
    int rc;

    age_at_init = sal_clock_process_age();
    sal_interpose_internal_begin();
    rc = init(argc, argv, comm);
    sal_interpose_internal_end();
    return rc;
}

/* ---- protection and accessors ---- */

int sal_protect(const char *name, void *base, sal_type_t type, int ndims, const int64_t *gdims,
                const int64_t *offset, const int64_t *count)
{
    int rc = sal_rt_check(__func__);

    return rc != SAL_OK
               ? rc
               : sal_ckpt_protect(sal_rt.ck, name, base, type, ndims, gdims, offset, count);
}

int sal_protect_scalar(const char *name, void *addr, sal_type_t type)
{
    int rc = sal_rt_check(__func__);

    return rc != SAL_OK ? rc : sal_ckpt_protect_scalar(sal_rt.ck, name, addr, type);
}

int sal_protect_local(const char *name, void *base, size_t bytes)
{
    int rc = sal_rt_check(__func__);

    return rc != SAL_OK ? rc : sal_ckpt_protect_local(sal_rt.ck, name, base, bytes);
}

int sal_protect_many(const sal_region_spec_t *specs, int n)
{
    int rc = sal_rt_check(__func__);

    return rc != SAL_OK ? rc : sal_ckpt_protect_many(sal_rt.ck, specs, n);
}

int sal_unprotect(const char *name)
{
    int rc = sal_rt_check(__func__);

    return rc != SAL_OK ? rc : sal_ckpt_unprotect(sal_rt.ck, name);
}

int sal_on_resize(sal_resize_fn fn, void *arg)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    sal_rt.resize_fn = fn;
    sal_rt.resize_arg = arg;
    return SAL_OK;
}

int sal_on_setup(sal_setup_fn fn, void *arg)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    sal_rt.setup_fn = fn;
    sal_rt.setup_arg = arg;
    return SAL_OK;
}

MPI_Comm sal_comm(void)
{
    return sal_rt.initialized && !sal_rt.finalized ? sal_rt.world : MPI_COMM_NULL;
}

int sal_is_restart(int *flag)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    if (!flag)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL flag");
    *flag = sal_rt.needs_restore || sal_rt.is_replacement;
    return SAL_OK;
}

int64_t sal_step(void)
{
    return sal_rt.step;
}
