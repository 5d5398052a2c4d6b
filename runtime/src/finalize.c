/*
 * sal_finalize: the last agreement, the finish marker and event, and the release of the runtime's
 * state. The MPI_Finalize watchdog it arms is in finalize_wd.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <salamander/salamander.h>

#include "agree.h"
#include "bound.h"
#include "events.h"
#include "hostmap.h"
#include "interpose.h"
#include "log.h"
#include "runtime.h"
#include "watchdog.h"

static void release_state(void)
{
    MPI_Comm_free(&sal_rt.world);
    if (sal_rt.full != MPI_COMM_NULL)
        MPI_Comm_free(&sal_rt.full);
    if (sal_rt.errh != MPI_ERRHANDLER_NULL)
        MPI_Errhandler_free(&sal_rt.errh);
    sal_ckpt_destroy(&sal_rt.ck);
    sal_inject_free(&sal_rt.inject);
    sal_hostmap_free();
    sal_rt_free_derived();
    for (int i = 0; sal_rt.args && sal_rt.args[i]; i++)
        free(sal_rt.args[i]);
    free(sal_rt.args);
    sal_rt.args = NULL;
    sal_events_close();
    sal_config_destroy(&sal_rt.cfg);
    sal_rt.set = NULL;
}

static int finalize(void)
{
    int ok = 1, rc = sal_rt_check("sal_finalize");

    if (rc != SAL_OK)
        return rc;
    sal_watchdog_stop();
    /* The ranks arrive here a step, a checkpoint or a restore apart at most; marking the job
     * finished ends the levels still encoded behind the steps (async_levels), which costs less
     * than a checkpoint. */
    sal_bound_enter("the agreement of sal_finalize", sal_rt.longest_work);
    rc = sal_agree(sal_rt.world, &ok);
    if (rc == SAL_OK)
        rc = sal_ckpt_mark_finished(sal_rt.ck);
    sal_bound_leave();
    if (rc != SAL_OK)
        SAL_LOG_W(
            "a process failed after the computation ended; the job is not marked finished: %s",
            sal_last_error());
    sal_rt_local_report();
    sal_event("finish", "\"steps\":%lld,\"repairs\":%d,\"nranks\":%d,\"status\":\"%s\"",
              (long long)sal_rt.step, sal_rt.repairs, sal_rt.size, rc == SAL_OK ? "ok" : "failed");
    if (sal_rt.repairs > 0)
        sal_rt_arm_finalize_watchdog(sal_rt.set->finalize_timeout);
    sal_rt_release_spares();
    release_state();
    sal_rt.finalized = 1;
    return rc;
}

int sal_finalize(void)
{
    int rc;

    sal_interpose_map_world_to(NULL);
    sal_interpose_watch_errors(NULL);
    sal_interpose_internal_begin();
    rc = finalize();
    sal_interpose_internal_end();
    return rc;
}
