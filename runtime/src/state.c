/*
 * The process-wide runtime state (runtime.h) and the accessors every runtime file uses. Depends on
 * no other runtime file: the bottom of the runtime's layers (docs/architecture.md).
 */
#include <mpi.h>

#include <salamander/salamander.h>

#include "events.h"
#include "log.h"
#include "runtime.h"

sal_runtime_t sal_rt = {.world = MPI_COMM_NULL, .full = MPI_COMM_NULL, .errh = MPI_ERRHANDLER_NULL};

int sal_rt_check(const char *func)
{
    if (!sal_rt.initialized || sal_rt.finalized)
        return sal_error_at(SAL_ERR_STATE, func, "called %s sal_init",
                            sal_rt.finalized ? "after sal_finalize; call it between sal_init and"
                                             : "before");
    return SAL_OK;
}

void sal_rt_identity(void)
{
    MPI_Comm_rank(sal_rt.world, &sal_rt.rank);
    MPI_Comm_size(sal_rt.world, &sal_rt.size);
    sal_log_set_identity(sal_rt.rank, sal_rt.host);
    sal_events_set_identity(sal_rt.rank, sal_rt.host);
}

int sal_rt_napp(void)
{
    int nfull = 0, nspare = 0;

    if (!sal_rt.is_spare)
        return sal_rt.size;
    MPI_Comm_size(sal_rt.full, &nfull);
    MPI_Comm_size(sal_rt.world, &nspare);
    return nfull - nspare;
}
