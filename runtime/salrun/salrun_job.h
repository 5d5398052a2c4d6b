/* The state of one salrun run, shared by salrun.c (the launch loop) and salrun_prepare.c (the
 * configuration, the launcher and the hosts before the first launch). */
#ifndef SALRUN_JOB_H
#define SALRUN_JOB_H

#include <limits.h>

#include "salrun.h"

typedef struct salrun_job {
    salrun_opts_t *o;
    char mpiexec[PATH_MAX], program[PATH_MAX];
    char name[256], log_path[PATH_MAX + 300];
    salrun_argv_t env_added; /* NAME=value set by salrun, shown by --dry-run */
    salrun_argv_t cmd;
    salrun_out_t out;
    salrun_stats_t st;
    int restarts;
    double t0;
    long spares;                  /* ranks added to -n, parked by sal_init */
    int launch_retries;           /* launches of mpiexec that failed to start */
    int log_seen;                 /* an earlier launch wrote events salrun could read */
    double hb_period, hb_timeout; /* Open MPI's failure detector, 0 = its default */
    double protocol_timeout;      /* key protocol_timeout: 0 = no protocol bounds */
    double finalize_timeout;      /* key finalize_timeout: the ranks' MPI_Finalize watchdog */
    int use_srun;                 /* relaunch mode inside Slurm: srun instead of mpiexec */
    salrun_prrte_t prrte;         /* key prrte_prefix: mpiexec over PRRTE 5 + PMIx 7 */
    salrun_hosts_t hosts;         /* where the job runs, and the hosts its relaunches avoid */
    salrun_relay_t relay;         /* mpiexec's standard error, its last bytes kept */
    long long restart_from;       /* key restart_from while it applies, else -1 */
    long long latest0;            /* the job's `latest` on this host before the launch, -1: none */
    char job_dir[PATH_MAX];       /* <ckpt_dir>/<job> on this host */
    char pfs_job[PATH_MAX];       /* <pfs_dir>/<job>, "" without L4 */
} salrun_job_t;

/* SAL_MPIEXEC (the mpiexec to run) out of the environment into o. */
void salrun_take_mpiexec_env(salrun_opts_t *o);
/* Everything before the first launch. Returns -1 to go on, else the exit status. */
int salrun_job_prepare(salrun_job_t *j);
/* The launch command of j (mpiexec's on the hosts left, or srun's avoiding the excluded nodes). */
int salrun_job_build_launch(salrun_job_t *j);
/* Before a relaunch: leaves the hosts that failed out of the launch command. */
int salrun_job_exclude_failed_hosts(salrun_job_t *j);

/* salrun_restart.c: --restart-from ID (key restart_from, docs/checkpoints.md). */

/* Before the first launch, what this host's job directory shows: SAL_OK, or SAL_ERR_NOT_FOUND
 * naming ID and why it cannot be restored (never committed; with every rank on this host, no
 * committed checkpoint or no directory ckpt.<ID> here nor in L4). */
int salrun_restart_check(salrun_job_t *j);
/* Before a relaunch: once the job has committed a checkpoint since it restarted from ID (a
 * ckpt_commit event, or this host's `latest` changed), the relaunches restore the newest committed
 * one (SAL_RESTART_FROM=-1), with a line saying so; before that they restore ID again. */
void salrun_restart_relaunch(salrun_job_t *j);

#endif
