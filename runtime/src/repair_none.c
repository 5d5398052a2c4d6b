/*
 * Without ULFM a process failure cannot be survived inside the job: MPI ends it, and salrun
 * relaunches the job, which restores the last committed checkpoint (restart=auto).
 */
#include <mpi.h>

#include "log.h"
#include "runtime.h"

int sal_rt_repair(void)
{
    return sal_error(SAL_ERR_RECOVERY,
                     "this MPI has no ULFM, so a failed process cannot be replaced "
                     "in the job; relaunch it (salrun does) to restart from the last checkpoint");
}

int sal_rt_join(MPI_Comm parent)
{
    (void)parent;
    return sal_error(SAL_ERR_UNSUPPORTED, "spawned as a replacement, but this build has no ULFM");
}

int sal_rt_park(void)
{
    return sal_error(SAL_ERR_UNSUPPORTED,
                     "spares=%lld needs in-job recovery, and this build has "
                     "no ULFM: set spares=0 (salrun relaunches the job after a failure)",
                     (long long)sal_rt.set->spares);
}

void sal_rt_release_spares(void)
{
}
