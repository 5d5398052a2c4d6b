/*
 * The resilient loop. sal_run calls the application's step() until it reports done, takes
 * checkpoints at the configured interval and, when a process fails, repairs the communicator, rolls
 * every rank back to the last committed checkpoint and goes on. Failures inside step() unwind
 * through the failure handler's longjmp to the setjmp in sal_run; failures inside Salamander's own
 * collectives come back as SAL_ERR_PROC_FAILED.
 *
 * The depth marker (interpose.h): sal_run, sal_begin and sal_repair call the application back (its
 * step, its sal_on_resize function), which must run at depth 0, so they bracket their own phases
 * (between_steps, repair) rather than the whole call; sal_checkpoint, sal_restore (and so start)
 * and sal_step_done bracket the whole call. The setjmp in sal_run and every call of recover() are
 * at depth 0, the depth sal_interpose_unwound restores.
 */
#include <string.h>

#include <salamander/salamander.h>

#include "agree.h"
#include "bound.h"
#include "ckpt_internal.h"
#include "clock.h"
#include "events.h"
#include "interpose.h"
#include "log.h"
#include "runtime.h"
#include "watchdog.h"

static double last_ckpt_time;
static int unwound; /* the failure being recovered unwound out of a step (sal_run) */

/* The application's setup function when one is due (start, relaunch, rollback): collective, at
 * depth 0. In sal_run (unwind = 1) a process failure inside it unwinds as one in a step does; in
 * the return-code mode it comes back as an error code: SAL_ERR_PROC_FAILED then. */
static int run_setup(int unwind)
{
    int why = sal_rt.setup_due, rc;

    if (!why || !sal_rt.setup_fn)
        return SAL_OK;
    if (!sal_rt.setup_ran && sal_rt.is_replacement)
        why |= SAL_SETUP_NEW_PROCESS;
    sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_SETUP);
    sal_rt.in_step = unwind;
    rc = sal_rt.setup_fn(sal_rt.world, sal_rt.step, why, sal_rt.setup_arg);
    sal_rt.in_step = 0;
    if (rc == SAL_ERR_PROC_FAILED || (rc > 0 && sal_rt_is_failure(rc)))
        return SAL_ERR_PROC_FAILED;
    if (rc != SAL_OK)
        return sal_error(rc < 0 ? rc : SAL_ERR_MPI,
                         "the setup function (sal_on_setup) at step %lld returned %d (%s)",
                         (long long)sal_rt.step, rc, rc < 0 ? sal_strerror(rc) : "an MPI error");
    sal_rt.setup_due = 0;
    sal_rt.setup_ran = 1;
    return SAL_OK;
}

/* Records the cost of a step, checkpoint or restore for the protocol bounds (bound.h). */
static void see_work(double seconds)
{
    if (seconds > sal_rt.longest_work)
        sal_rt.longest_work = seconds;
}

static int checkpoint(void)
{
    int64_t id = -1;
    int rc = sal_rt_check("sal_checkpoint");

    if (rc != SAL_OK)
        return rc;
    double t0 = sal_clock_mono();
    rc = sal_ckpt_write(sal_rt.ck, sal_rt.step, &id);
    last_ckpt_time = sal_clock_mono();
    see_work(last_ckpt_time - t0);
    if (rc == SAL_OK) {
        sal_rt_local_committed();
        sal_rt_stats.checkpoints++;
        sal_rt_stats.checkpoint_seconds += last_ckpt_time - t0;
    } else if (rc == SAL_ERR_ABORTED) {
        sal_rt_stats.checkpoints_aborted++;
    }
    if (rc == SAL_OK)
        SAL_LOG_D("checkpoint %lld committed at step %lld", (long long)id, (long long)sal_rt.step);
    else if (rc == SAL_ERR_ABORTED && sal_rt.rank == 0)
        SAL_LOG_W("checkpoint at step %lld aborted, the previous one stays valid: %s",
                  (long long)sal_rt.step, sal_last_error());
    return rc;
}

int sal_checkpoint(void)
{
    int rc;

    sal_interpose_internal_begin();
    rc = checkpoint();
    sal_interpose_internal_end();
    return rc;
}

static int restore(void)
{
    double t0 = sal_clock_mono();
    int64_t step = 0, id = -1;
    int rc = sal_rt_check("sal_restore");

    if (rc != SAL_OK)
        return rc;
    sal_ckpt_set_step_hint(sal_rt.ck, sal_rt.step);
    rc = sal_ckpt_restore(sal_rt.ck, &step, &id);
    if (rc != SAL_OK)
        return rc;
    sal_rt.step = step;
    sal_rt_stats.restores++;
    sal_rt_stats.restore_seconds += sal_clock_mono() - t0;
    see_work(sal_clock_mono() - t0);
    sal_rt.needs_restore = 0;
    if (sal_rt.rank == 0)
        sal_event("restore", "\"id\":%lld,\"step\":%lld,\"seconds\":%.6f", (long long)id,
                  (long long)step, sal_clock_mono() - t0);
    return SAL_OK;
}

int sal_restore(void)
{
    int rc;

    sal_interpose_internal_begin();
    rc = restore();
    sal_interpose_internal_end();
    return rc;
}

/* Collective at a step boundary: when any rank received the checkpoint signal, takes a checkpoint
 * and returns SAL_ERR_STOPPED; SAL_OK when none did. */
static int stop_check(void)
{
    int stop = 0, rc = sal_rt_stop_requested(&stop);

    if (rc != SAL_OK || !stop)
        return rc;
    rc = sal_checkpoint();
    if (rc == SAL_ERR_PROC_FAILED)
        return rc; /* recovered first; the ranks that saw the signal still hold it */
    sal_rt_stop_done();
    if (sal_rt.rank == 0) {
        sal_event("stop", "\"signal\":\"%s\",\"step\":%lld,\"checkpoint\":%s",
                  sal_rt.set->checkpoint_signal, (long long)sal_rt.step,
                  rc == SAL_OK ? "true" : "false");
        SAL_LOG_I("SIG%s received: checkpoint at step %lld %s; stopping",
                  sal_rt.set->checkpoint_signal, (long long)sal_rt.step,
                  rc == SAL_OK ? "committed" : "aborted (the previous one stays valid)");
    }
    return sal_error(SAL_ERR_STOPPED,
                     "stopped by SIG%s at step %lld after a checkpoint; relaunch "
                     "the job to resume from it",
                     sal_rt.set->checkpoint_signal, (long long)sal_rt.step);
}

/* Collective: 1 when a checkpoint is due after sal_rt.step completed steps. Time-based intervals
 * are decided by rank 0 so that every rank takes the same decision. */
static int checkpoint_due(int *due)
{
    const sal_interval_t *iv = &sal_rt.set->interval;
    double period = iv->kind == SAL_INTERVAL_AUTO ? sal_ckpt_auto_interval(sal_rt.ck) : iv->value;

    *due = 0;
    if (iv->kind == SAL_INTERVAL_STEPS)
        *due = sal_rt.step % (int64_t)iv->value == 0;
    if (iv->kind != SAL_INTERVAL_SECONDS && iv->kind != SAL_INTERVAL_AUTO)
        return SAL_OK;
    if (sal_rt.rank == 0)
        *due = sal_clock_mono() - last_ckpt_time >= period;
    if (MPI_Bcast(due, 1, MPI_INT, 0, sal_rt.world) != MPI_SUCCESS)
        return SAL_ERR_PROC_FAILED;
    return SAL_OK;
}

/* After a step: the checkpoint signal, then a checkpoint when one is due. SAL_OK to go on (a
 * checkpoint that failed otherwise than by a process failure leaves the previous one valid);
 * SAL_ERR_PROC_FAILED or SAL_ERR_STOPPED to leave the loop. */
static int between_steps(void)
{
    int due = 0, rc;

    sal_interpose_internal_begin();
    sal_ckpt_set_step_hint(sal_rt.ck, sal_rt.step);
    rc = sal_ckpt_progress(sal_rt.ck);
    if (rc == SAL_OK)
        rc = stop_check();
    if (rc == SAL_OK) {
        rc = checkpoint_due(&due);
        if (rc == SAL_OK && due)
            rc = sal_checkpoint();
        if (rc != SAL_ERR_PROC_FAILED)
            rc = SAL_OK;
    }
    sal_interpose_internal_end();
    return rc;
}

/* The step said done. A done computed from a collective that a failure corrupted must not end the
 * run: Open MPI 5.0.11's HAN collectives returned MPI_SUCCESS with a wrong result from the
 * allreduce in flight when a peer died (docs/recovery.md). An agreement confirms it: a process that
 * failed during the step shows here as SAL_ERR_PROC_FAILED, and the run rolls back as after a
 * failure in a checkpoint. The ranks arrive within one step of each other. */
static int confirm_done(void)
{
    int flag = 1, rc;

    sal_interpose_internal_begin();
    sal_bound_enter("the agreement that the computation is done", sal_rt.longest_work);
    rc = sal_agree(sal_rt.world, &flag);
    sal_bound_leave();
    sal_interpose_internal_end();
    if (rc == SAL_ERR_PROC_FAILED)
        SAL_LOG_W("a process failed by the end of step %lld, which reported done: its result is "
                  "not trusted; rolling back",
                  (long long)sal_rt.step);
    return rc;
}

/* Runs steps until done. SAL_OK when done, SAL_ERR_PROC_FAILED when a checkpoint met a failure, or
 * the application's error. A failure inside step() does not return here (see the failure handler).
 * step() runs at depth 0, between_steps() bracketed.
 */
static int run_steps(sal_step_fn fn, void *arg)
{
    int src = run_setup(1);

    if (src != SAL_OK)
        return src;
    for (;;) {
        int done = 0, rc;

        sal_watchdog_progress(sal_rt.step);
        sal_ckpt_set_step_hint(sal_rt.ck, sal_rt.step);
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_COMPUTE);
        sal_rt_local_step_begin();
        double t0 = sal_clock_mono();
        sal_rt.in_step = 1;
        rc = fn(sal_rt.world, sal_rt.step, arg, &done);
        sal_rt.in_step = 0;
        sal_rt_local_step_end();
        see_work(sal_clock_mono() - t0);
        if (rc != SAL_OK) {
            SAL_LOG_E("step %lld returned %s; stopping", (long long)sal_rt.step, sal_strerror(rc));
            return rc;
        }
        sal_rt.step++;
        sal_watchdog_progress(sal_rt.step);
        if (done) {
            sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_DONE);
            return confirm_done();
        }
        /* A replacement re-executing steps the survivors completed (rollback=local) takes no
         * checkpoint: none was committed in those steps. */
        rc = sal_rt_local_replaying() ? SAL_OK : between_steps();
        if (rc != SAL_OK)
            return rc;
    }
}

/* Before the first step: restore (relaunch or replacement) or take the step-0 checkpoint that a
 * failure before the first interval rolls back to. */
static int start(void)
{
    int rc;

    last_ckpt_time = sal_clock_mono();
    sal_rt.setup_due = SAL_SETUP_START;
    if (sal_rt.needs_restore) {
        sal_rt.setup_due = sal_rt.is_replacement ? SAL_SETUP_ROLLBACK : SAL_SETUP_RESTART;
        rc = sal_restore();
        if (rc == SAL_OK && sal_rt.is_replacement)
            rc = sal_rt_local_settle(1);
        /* Only a launch's own start may call the checkpoints unrestorable for good (salrun then
         * does not relaunch). A replacement's verdict is the repaired job's: the data it lacks can
         * live on a host that is up but has no process of the job left (its ranks all ended), which
         * a relaunch on every live host reads; so it fails the run like any failed rollback. */
        if (rc == SAL_ERR_UNRESTORABLE && sal_rt.rank == 0 && !sal_rt.is_replacement) {
            char esc[2 * 1024];
            sal_event("unrestorable", "\"reason\":\"%s\"",
                      sal_json_escape(esc, sizeof(esc), sal_last_error()));
        }
        if (rc == SAL_ERR_NO_CKPT && !sal_rt.is_replacement) {
            SAL_LOG_W("no checkpoint can be restored; starting job '%s' from step 0", sal_rt.job);
            sal_rt.needs_restore = 0;
            sal_rt.setup_due = SAL_SETUP_START;
            rc = SAL_OK;
        }
        return rc;
    }
    if (sal_rt.set->interval.kind == SAL_INTERVAL_NEVER)
        return SAL_OK;
    rc = sal_checkpoint();
    return rc == SAL_ERR_ABORTED ? SAL_OK : rc;
}

/* The repair of the communicator, Salamander's own MPI work. A repair may spawn processes: it is
 * watched by ULFM, not by the hang watchdog. The survivors wait in it for each other and for the
 * replacements to start: bounded. */
static int repair(void)
{
    double t0;
    int rc;

    sal_interpose_internal_begin();
    sal_watchdog_suspend();
    t0 = sal_clock_mono();
    sal_bound_enter("the repair after a process failure", sal_rt.longest_repair);
    rc = sal_rt_repair();
    sal_bound_leave();
    if (sal_clock_mono() - t0 > sal_rt.longest_repair)
        sal_rt.longest_repair = sal_clock_mono() - t0;
    sal_watchdog_resume();
    sal_interpose_internal_end();
    return rc;
}

/* After a failure: repair, roll back, report. SAL_OK when the loop can go on. Called at depth 0:
 * the application's sal_on_resize function runs here. */
static int recover(void)
{
    int rc;

    if (sal_rt.repairs >= sal_rt.set->max_repairs)
        return sal_error(SAL_ERR_RECOVERY,
                         "process failure after %d in-job repairs (max_repairs=%lld):"
                         " giving up; relaunch the job to restart from the last checkpoint",
                         sal_rt.repairs, (long long)sal_rt.set->max_repairs);
    if (sal_rt.t_detect == 0)
        sal_rt.t_detect = sal_clock_mono();
    /* The calls and bounded steps the failure interrupted (a longjmp out of the step) end here. */
    sal_interpose_unwound();
    sal_bound_unwound();
    sal_rt_local_failed(unwound);
    unwound = 0;
    rc = repair();
    if (rc != SAL_OK)
        return rc;
    if (sal_rt.resized) {
        sal_rt.resized = 0;
        rc = sal_rt.resize_fn
                 ? sal_rt.resize_fn(sal_rt.world, sal_rt.resize_arg)
                 : sal_error(SAL_ERR_RECOVERY,
                             "the job continues on %d ranks (policy %s) but the "
                             "application registered no sal_on_resize function to lay out its "
                             "data for the new size",
                             sal_rt.size, sal_rt.set->policy);
        if (rc != SAL_OK)
            return rc;
    }
    sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_RECOVERY);
    rc = sal_restore();
    if (rc == SAL_ERR_NO_CKPT)
        return sal_error(SAL_ERR_RECOVERY,
                         "no committed checkpoint to roll back to (interval=0, or "
                         "the failure hit the first checkpoint); relaunch the job to start again");
    if (rc == SAL_OK)
        rc = sal_rt_local_settle(0); /* rollback=local: the survivors may keep their work */
    if (rc != SAL_OK)
        return rc;
    sal_rt.setup_due = SAL_SETUP_ROLLBACK;
    (void)sal_interpose_take_failure(); /* what the steps before the rollback saw is repaired */
    sal_rt_stats.repairs++;
    sal_rt_stats.last_recovery_seconds = sal_clock_mono() - sal_rt.t_detect;
    sal_rt_stats.recovery_seconds += sal_rt_stats.last_recovery_seconds;
    if (sal_rt.repair_leader) {
        double total = sal_clock_mono() - sal_rt.t_detect;
        sal_event("resume", "\"step\":%lld,\"total_seconds\":%.6f", (long long)sal_rt.step, total);
        SAL_LOG_I("recovered in %.3f s; resuming at step %lld", total, (long long)sal_rt.step);
    }
    sal_rt.t_detect = 0;
    return SAL_OK;
}

/* ---- the return-code resume mode (docs/recovery.md): the application keeps its loop ---- */

/* After start() or recover() returned rc: repairs every further failure, then runs the setup
 * function, again after each failure inside it. */
static int settle(int rc)
{
    for (;;) {
        while (rc == SAL_ERR_PROC_FAILED)
            rc = recover();
        if (rc != SAL_OK)
            return rc;
        rc = run_setup(0);
        if (rc != SAL_ERR_PROC_FAILED)
            return rc;
    }
}

int sal_is_proc_failure(int mpi_rc)
{
    return sal_rt_is_failure(mpi_rc);
}

int sal_begin(int64_t *step)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    if (!step)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL step");
    /* From here the application's loop is watched, as sal_run's is (sal_finalize stops it). */
    sal_watchdog_resume();
    /* A failure during the first restore or checkpoint, or in the setup function, is repaired
     * here, as sal_run does. */
    rc = settle(start());
    *step = sal_rt.step;
    sal_watchdog_progress(sal_rt.step);
    if (rc == SAL_OK)
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_COMPUTE);
    return rc;
}

static int step_done(int64_t *step)
{
    int due = 0, rc = sal_rt_check("sal_step_done");

    if (rc != SAL_OK)
        return rc;
    /* A process failure an MPI call of the step returned, whether the application passed the code
     * on or not: the step does not count. */
    if (sal_interpose_take_failure())
        return SAL_ERR_PROC_FAILED;
    sal_rt.step++;
    sal_watchdog_progress(sal_rt.step);
    if (step)
        *step = sal_rt.step;
    sal_ckpt_set_step_hint(sal_rt.ck, sal_rt.step);
    rc = sal_ckpt_progress(sal_rt.ck);
    if (rc == SAL_OK)
        rc = stop_check();
    if (rc == SAL_OK)
        rc = checkpoint_due(&due);
    if (rc == SAL_OK && due)
        rc = sal_checkpoint();
    if (rc == SAL_ERR_ABORTED)
        rc = SAL_OK;
    if (rc == SAL_OK) {
        /* The next step begins: the same injection point as in sal_run. */
        sal_ckpt_set_step_hint(sal_rt.ck, sal_rt.step);
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_COMPUTE);
    }
    return rc;
}

int sal_step_done(int64_t *step)
{
    int rc;

    sal_interpose_internal_begin();
    rc = step_done(step);
    sal_interpose_internal_end();
    return rc;
}

int sal_repair(int64_t *step)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    rc = settle(recover()); /* a further failure during the repair, the restore or the setup */
    if (rc != SAL_OK)
        SAL_LOG_E("%s", sal_last_error());
    if (step)
        *step = sal_rt.step;
    if (rc == SAL_OK)
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_COMPUTE);
    return rc;
}

int sal_run(sal_step_fn fn, void *arg)
{
    volatile int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    if (!fn)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL step function");
    sal_watchdog_resume();
    sal_rt_local_arm();
    rc = start();
    for (;;) {
        if (rc == SAL_OK) {
            if (setjmp(sal_rt.unwind) == 0) {
                rc = run_steps(fn, arg);
            } else {
                rc = SAL_ERR_PROC_FAILED;
                unwound = 1;
            }
        }
        if (rc != SAL_ERR_PROC_FAILED)
            break;
        rc = recover();
    }
    sal_watchdog_suspend();
    if (rc != SAL_OK && rc != SAL_ERR_PROC_FAILED && rc != SAL_ERR_STOPPED)
        SAL_LOG_E("%s", sal_last_error());
    return rc;
}
