/*
 * Salamander: fault-tolerant runtime for MPI jobs. Include this header only.
 *
 * Application model:
 *
 *     MPI_Init(&argc, &argv);
 *     sal_init(&argc, &argv, MPI_COMM_WORLD);
 *     sal_protect("u", u, SAL_DOUBLE, 2, gdims, offset, count);
 *     sal_protect_scalar("iter", &iter, SAL_INT);
 *     sal_run(step, &state);
 *     sal_finalize();
 *     MPI_Finalize();
 *
 * Lifecycle: sal_init -> sal_protect* -> sal_run (or sal_checkpoint/sal_restore) -> sal_finalize.
 * Calls out of order return SAL_ERR_STATE. Between sal_init and sal_run the application must not
 * call collective operations on sal_comm(): a replacement process spawned after a failure runs that
 * code alone while the survivors wait inside sal_run. Setup that communicates goes in a function
 * registered with sal_on_setup, which every rank runs together before the first step and again
 * after every rollback.
 *
 * Failures: with ULFM, a process failure in a collective on sal_comm() unwinds the survivors back
 * into sal_run, which repairs the communicator (policy respawn by default), restores the last
 * committed checkpoint into the protected regions and calls step() again. sal_comm() changes after
 * a repair.
 */
#ifndef SALAMANDER_SALAMANDER_H
#define SALAMANDER_SALAMANDER_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include <salamander/sal_ckpt.h>
#include <salamander/sal_config.h>
#include <salamander/sal_error.h>
#include <salamander/sal_export.h>
#include <salamander/sal_types.h>
#include <salamander/sal_version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One step of the application. comm is the current resilient communicator (equal to sal_comm()),
 * step counts completed steps since the start of the job (restored with the checkpoint). Set *done
 * = 1 when the computation is complete. Return SAL_OK, or an error code to stop sal_run with that
 * code. */
typedef int (*sal_step_fn)(MPI_Comm comm, int64_t step, void *arg, int *done);

/* Collective over comm (normally MPI_COMM_WORLD) after MPI_Init. Reads the configuration (defaults
 * < SAL_CONFIG file < SAL_* environment), validates it, installs the failure handler on a duplicate
 * of comm and, in a process spawned to replace a failed rank, joins the repaired communicator.
 * argc/argv may be NULL. */
SAL_API int sal_init(int *argc, char ***argv, MPI_Comm comm);

/* Protect a distributed array / a per-rank scalar (see sal_ckpt_protect). Local. */
SAL_API int sal_protect(const char *name, void *base, sal_type_t type, int ndims,
                        const int64_t *gdims, const int64_t *offset, const int64_t *count);
SAL_API int sal_protect_scalar(const char *name, void *addr, sal_type_t type);
/* Protect per-rank bytes of any size, restored to the same rank number only (see
 * sal_ckpt_protect_local). Local. */
SAL_API int sal_protect_local(const char *name, void *base, size_t bytes);
/* Protect n regions at once, all or nothing (see sal_ckpt_protect_many). Local. */
SAL_API int sal_protect_many(const sal_region_spec_t *specs, int n);

/* Forgets a protected region (see sal_ckpt_unprotect). Local. */
SAL_API int sal_unprotect(const char *name);

/* Called on every application rank after a repair that changed the number of ranks (policy shrink),
 * before the last checkpoint is restored: comm is the new sal_comm(), with fewer ranks and rank
 * numbers closed up in the old order. The function lays out the application's data for the new
 * size and protects it again (sal_unprotect + sal_protect with the new blocks); the restore then
 * reads each block from the checkpoint, whatever layout it was written with. Local: no collective
 * calls. Return SAL_OK, or an error code to stop the job. */
typedef int (*sal_resize_fn)(MPI_Comm comm, void *arg);

/* Registers the resize function (NULL removes it). Without one, the shrink policy is refused at
 * repair time. Local. */
SAL_API int sal_on_resize(sal_resize_fn fn, void *arg);

/* Why the setup function runs (its why argument): SAL_SETUP_START (a fresh start: step 0, nothing
 * restored), SAL_SETUP_RESTART (a relaunch of an unfinished job: the protected data are those of
 * its last checkpoint) or SAL_SETUP_ROLLBACK (after an in-job repair: every rank's protected data
 * were rolled back to the last checkpoint, survivors included), plus SAL_SETUP_NEW_PROCESS in a
 * process that has just joined the job (a spawned replacement or a spare taking a lost rank's
 * place: only its protected data are set, everything else it holds is as after sal_init). */
enum {
    SAL_SETUP_START = 1,
    SAL_SETUP_RESTART = 2,
    SAL_SETUP_ROLLBACK = 4,
    SAL_SETUP_NEW_PROCESS = 8
};

/* The application's setup that communicates: building neighbour maps, exchanging initial values.
 * Collective over comm (the current sal_comm()) on every application rank: sal_run (and sal_begin,
 * sal_repair) calls it before the first step, once the protected data are restored or the step-0
 * checkpoint is taken, and again after every rollback, with step the step the loop continues from.
 * It may use comm and the communicators of sal_comm_split / sal_comm_dup. A process failure inside
 * it is repaired as one inside a step, and the function runs again after the rollback. Return
 * SAL_OK, or an error code to stop the job (in the return-code mode, an MPI error code that
 * reports a failed process makes sal_begin / sal_repair repair and run it again). */
typedef int (*sal_setup_fn)(MPI_Comm comm, int64_t step, int why, void *arg);

/* Registers the setup function (NULL removes it). Local; call it before sal_run or sal_begin. */
SAL_API int sal_on_setup(sal_setup_fn fn, void *arg);

/* The resilient loop: restores the latest checkpoint if this is a restart, then calls step() until
 * it sets *done, checkpointing at the configured interval and recovering from process failures.
 * Returns SAL_OK when done, SAL_ERR_RECOVERY when a failure could not be repaired, or step()'s
 * error. */
SAL_API int sal_run(sal_step_fn step, void *arg);

/* ---- Return-code resume mode: for codes that keep their own loop (and for Fortran, where the
 * unwinding of sal_run is not safe). Outside sal_run a process failure is not unwound: the MPI call
 * on sal_comm() returns an error code (the communicator is revoked so that every rank sees one),
 * and the application calls sal_repair(). sal_step_done also reports a process failure that any
 * MPI call of the step returned, so a code may leave MPI's return codes unchecked and test
 * sal_step_done's alone. The loop reads:
 *
 *     int64_t step;
 *     int rc = sal_begin(&step);                  restore if this is a restart or a replacement
 *     while (rc == SAL_OK && step < nsteps) {
 *         int err = compute_one_step(sal_comm());  MPI calls on sal_comm() only
 *         if (sal_is_proc_failure(err))
 *             rc = SAL_ERR_PROC_FAILED;
 *         else
 *             rc = sal_step_done(&step);           counts the step, checkpoints when due
 *         if (rc == SAL_ERR_PROC_FAILED)
 *             rc = sal_repair(&step);              repaired and rolled back: step is the restored
 * one
 *     }
 *
 * Data the application keeps outside the protected regions must be recomputed from them after
 * sal_repair, and communicators derived from sal_comm() must be created again. */

/* Collective: restores the latest checkpoint if this process is a restart or a replacement, else
 * takes the step-0 checkpoint; a process failure meanwhile is repaired here. [OUT] *step: the step
 * to continue from. SAL_OK, or SAL_ERR_RECOVERY (or another error) when the job cannot go on. */
SAL_API int sal_begin(int64_t *step);

/* Collective: the application completed one step. Counts it ([OUT] *step, may be NULL, receives the
 * new count) and takes a checkpoint when the interval says so. SAL_ERR_PROC_FAILED, without
 * counting the step, when an MPI call the application made since the last step boundary returned a
 * process failure or one happens here: call sal_repair. */
SAL_API int sal_step_done(int64_t *step);

/* Collective over the surviving ranks (and the replacements, which take part through sal_begin):
 * repairs sal_comm() by the configured policy and restores the last committed checkpoint. [OUT]
 * *step (may be NULL): the restored step to continue from. SAL_ERR_RECOVERY when the job cannot be
 * repaired.
 */
SAL_API int sal_repair(int64_t *step);

/* 1 when mpi_rc (the return code of an MPI call on sal_comm()) reports a failed process or a
 * revoked communicator, 0 otherwise. */
SAL_API int sal_is_proc_failure(int mpi_rc);

/* Collective: take a checkpoint now (outside sal_run, or from step()). */
SAL_API int sal_checkpoint(void);

/* Collective: restore the latest committed checkpoint into the protected regions. */
SAL_API int sal_restore(void);

/* The current resilient communicator (MPI_COMM_NULL before sal_init). */
SAL_API MPI_Comm sal_comm(void);

/* Communicators derived from sal_comm(), cached under a name ([A-Za-z0-9_.-], like region names):
 * the first call creates it with MPI_Comm_split(sal_comm(), color, key) / MPI_Comm_dup (collective
 * over sal_comm()), later calls return the cached one (local). A failure revokes them with
 * sal_comm(); a repair frees them, and the next call -- which every rank, replacements included,
 * makes at the same point of its step -- creates them again from the repaired sal_comm(). So call
 * it where the communicator is used (e.g. inside step()), never keep the handle across steps, and
 * never free it (sal_finalize does). [OUT] *comm (MPI_COMM_NULL for color MPI_UNDEFINED).
 * SAL_ERR_EXISTS when name was created with another recipe; SAL_ERR_PROC_FAILED when a process
 * failed meanwhile. */
SAL_API int sal_comm_split(const char *name, int color, int key, MPI_Comm *comm);
SAL_API int sal_comm_dup(const char *name, MPI_Comm *comm);

/* [OUT] *flag = 1 when this process will resume from a checkpoint: a relaunch of an unfinished job
 * or a replacement for a failed rank. Valid after sal_init. */
SAL_API int sal_is_restart(int *flag);

/* A figure this process measured, by name ([OUT] *value). Local. Names: steps, ranks (current
 * number of application ranks), checkpoints (committed), checkpoint_seconds (their total time),
 * checkpoints_aborted, restores, restore_seconds, repairs (in-job recoveries this process took part
 * in), recovery_seconds (detection to resumption, summed), last_recovery_seconds, revoke_seconds,
 * shrink_seconds, replace_seconds (spawning or taking spares, and rebuilding the communicators).
 * SAL_ERR_NOT_FOUND for another name. */
SAL_API int sal_stats(const char *name, double *value);

/* The current step counter of sal_run. */
SAL_API int64_t sal_step(void);

/* Collective: marks the job finished, closes logs and releases resources. The application calls
 * MPI_Finalize afterwards. */
SAL_API int sal_finalize(void);

#ifdef __cplusplus
}
#endif
#endif
