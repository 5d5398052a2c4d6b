/*
 * The runtime's process-wide state and the interfaces between its files:
 *   runtime.c   sal_init, protection, accessors, the failure handler
 *   run.c       sal_run, sal_checkpoint, sal_restore
 *   repair_*.c  detection and repair (ULFM, or none: failures end the job and salrun relaunches)
 *   finalize.c  sal_finalize; finalize_wd.c the MPI_Finalize watchdog
 */
#ifndef SAL_RUNTIME_H
#define SAL_RUNTIME_H

#include <setjmp.h>
#include <stdint.h>

#include <salamander/salamander.h>

#include "config_internal.h"
#include "inject.h"

#define SAL_HOST_MAX 256

typedef struct sal_runtime {
    int initialized;
    int finalized;
    sal_config_t cfg;
    const sal_settings_t *set;
    char job[SAL_NAME_MAX];
    char host[SAL_HOST_MAX]; /* MPI_Get_processor_name of this process (where replacements go) */
    char exe[4096];          /* absolute path of the program, spawned as replacement */
    char **args;             /* argv[1..], NULL-terminated, for replacements */
    MPI_Comm world; /* the application's resilient communicator; replaced by every repair */
    MPI_Comm full;  /* world's ranks in order, then the parked spares (repair_ulfm.c) */
    MPI_Errhandler errh;
    sal_ckpt_t ck;
    sal_inject_t *inject;
    int rank;
    int size;
    int is_replacement;      /* spawned, or a spare activated, to replace a failed rank */
    int is_spare;            /* parked in sal_init, not (yet) an application rank */
    int resized;             /* the last repair changed the number of application ranks */
    sal_resize_fn resize_fn; /* sal_on_resize */
    void *resize_arg;
    sal_setup_fn setup_fn; /* sal_on_setup */
    void *setup_arg;
    int setup_due;     /* SAL_SETUP_START/RESTART/ROLLBACK: the setup runs before the next step */
    int setup_ran;     /* this process has run the setup function once */
    int needs_restore; /* sal_run restores before the first step */
    int64_t step;      /* completed steps */
    int repairs;       /* repairs completed by this process's communicator */
    int repair_leader; /* this process led the last repair (reports its outcome) */
    volatile int in_step; /* the application's step() is running: failures unwind with longjmp */
    jmp_buf unwind;
    double t_detect; /* monotonic time the current failure was first seen, 0 when none */
    /* Measured costs that protocol bounds scale with (bound.h): the longest step, checkpoint or
     * restore of this process, and the longest repair, in seconds. */
    double longest_work, longest_repair;
    /* <log_dir>/<job>.inject: the fired-markers of fault injection, where every host sees them
     * (the log directory is on a file system salrun's host shares), so that a spec fires once per
     * job whichever host its rank runs on */
    char marker_dir[4096];
} sal_runtime_t;

extern sal_runtime_t sal_rt;

/* Figures for sal_stats (stats.c), all per process; counts are doubles too. */
typedef struct sal_stats {
    double checkpoints, checkpoint_seconds, checkpoints_aborted;
    double restores, restore_seconds;
    double repairs, recovery_seconds, last_recovery_seconds;
    double revoke_seconds, shrink_seconds, replace_seconds; /* summed over repairs */
} sal_stats_t;

extern sal_stats_t sal_rt_stats;

/* SAL_OK when sal_init has completed and sal_finalize has not. */
int sal_rt_check(const char *func);

/* Installs the failure handler on comm. */
int sal_rt_set_errhandler(MPI_Comm comm);

/* Refreshes rank/size and the identity stamped on log lines and events. */
void sal_rt_identity(void);

/* What a replacement needs to join: its old rank, the cpuset to bind to (may be NULL), the
 * configuration. [OUT] *buf (caller frees), *len including the terminating NUL. */
int sal_rt_pack_state(int oldrank, const char *cpuset, char **buf, int *len);
int sal_rt_unpack_state(const char *buf, int len, int *oldrank);

/* ---- derived.c: communicators derived from sal_comm() ---- */

/* 1 when comm is one of the derived communicators. */
int sal_rt_is_derived(MPI_Comm comm);
/* Revokes every derived communicator (on failure). */
void sal_rt_revoke_derived(void);
/* Frees every derived communicator; the next sal_comm_split/dup call creates it again (repair). */
void sal_rt_reset_derived(void);
/* Forgets them all (finalize). */
void sal_rt_free_derived(void);
/* rollback=local: [OUT] *buf (caller frees), *len: the recipes of world rank `rank` for every
 * derived communicator, in the order of creation (SAL_ERR_STATE when one is unknown). */
int sal_rt_derived_recipes(int rank, void **buf, size_t *len);
/* In a replacement: the derived communicators are those of buf (sal_rt_derived_recipes), not yet
 * created. */
int sal_rt_derived_adopt(const void *buf, size_t len);
/* Collective over sal_rt.world: creates, in order, every derived communicator not created since
 * the last repair (a replacement's come from sal_rt_derived_adopt, in the survivors' order). */
int sal_rt_derived_create_all(void);

/* ---- repair_ulfm.c / repair_none.c ---- */

/* 1 when err reports a failed process or a revoked communicator. */
int sal_rt_is_failure(int err);

/* Revokes comm so that every survivor leaves its pending operations on it. */
void sal_rt_revoke(MPI_Comm comm);

/* After an MPI call that creates *out: when it failed (mrc not MPI_SUCCESS), *out becomes
 * MPI_COMM_NULL. Open MPI 5.0's MPI_Comm_split stores a half-made communicator in its output when
 * the allocation of the new context id or its activation fails (ompi_comm_split_with_info), and
 * neither MPIX_Comm_revoke nor MPI_Comm_free survives it (a segmentation fault in
 * mca_pml_ob1_revoke_comm, seen with a host lost during a repair). Returns mrc. */
static inline int sal_rt_made(int mrc, MPI_Comm *out)
{
    if (mrc != MPI_SUCCESS)
        *out = MPI_COMM_NULL;
    return mrc;
}

/* Collective over the survivors of sal_rt.world: revoke, shrink, replace the failed ranks according
 * to the policy and install the repaired communicator in sal_rt.world and the checkpoint handle.
 * Retries when further failures interrupt it. SAL_OK, or SAL_ERR_RECOVERY when the job cannot be
 * repaired. */
int sal_rt_repair(void);

/* In a process spawned as a replacement (parent != MPI_COMM_NULL): receives its rank and state and
 * joins the repaired communicators (sal_rt.full, sal_rt.world). */
int sal_rt_join(MPI_Comm parent);

/* In a spare, collective with the repairs of the job: waits for a failure, takes part in its repair
 * and returns SAL_OK when this process became an application rank (sal_rt.is_spare == 0), or
 * SAL_ERR_STATE when the job finished without needing it (sal_rt_release_spares). */
int sal_rt_park(void);

/* Application rank 0 at sal_finalize: tells every parked spare that the job is over. */
void sal_rt_release_spares(void);

/* finalize_wd.c: after a recovered failure, MPI_Finalize may never return (Open MPI issue 11404):
 * end the process with status 0 when it has not returned after timeout seconds (<= 0: never). */
void sal_rt_arm_finalize_watchdog(double timeout);
/* MPI_Finalize returned (the finalize hook of the interposition layer): the watchdog stands down.
 * Any thread; harmless when the watchdog was never armed. */
void sal_rt_finalize_returned(void);

/* Number of application ranks of the job (world's size, also known to the spares). */
int sal_rt_napp(void);

/* ---- rollback_local.c: local rollback (rollback=local, docs/recovery.md) ---- */

/* sal_run with rollback=local: the message log starts (nothing otherwise). */
void sal_rt_local_arm(void);
/* 1 after sal_rt_local_arm. */
int sal_rt_local_armed(void);
/* Before / after each call of the step function: an in-memory copy of the regions, the log's step;
 * in a replacement, the end of its replay once it reached the survivors' step. */
void sal_rt_local_step_begin(void);
void sal_rt_local_step_end(void);
/* 1 while this process re-executes steps from the survivors' logs: no checkpoint, no collective
 * of Salamander's between its steps. */
int sal_rt_local_replaying(void);
/* A checkpoint of sal_rt.step was committed: the logs are dropped. */
void sal_rt_local_committed(void);
/* sal_finalize: the event msglog (the log's size per step, its largest interval, the copies of the
 * regions) when armed; nothing otherwise. */
void sal_rt_local_report(void);
/* A survivor saw a failure, before the restore of the recovery: mid_step 1 when it unwound out of
 * a step (its regions are then not a step's state). */
void sal_rt_local_failed(int mid_step);
/* Collective over sal_rt.world after the restore of a recovery, in the survivors (newcomer 0) and
 * in the process that replaces a lost rank (newcomer 1): decides local or global rollback (event
 * rollback) and, when local, brings the survivors back to their common step and starts the
 * replacement's replay. SAL_OK (either way) or SAL_ERR_PROC_FAILED. */
int sal_rt_local_settle(int newcomer);

/* ---- stop_signal.c (key checkpoint_signal) ---- */

/* Installs the handler of the checkpoint signal (nothing when the key is "none"). */
int sal_rt_stop_signal_install(void);

/* Collective over sal_rt.world at a step boundary (when the key is not "none"): [OUT] *stop = 1
 * when any rank received the checkpoint signal. SAL_OK, or SAL_ERR_PROC_FAILED with a message. */
int sal_rt_stop_requested(int *stop);
/* Forgets the signal once the stop it asked for was handled (run.c). */
void sal_rt_stop_done(void);

#endif
