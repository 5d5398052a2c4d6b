/*
 * The failure handler of the resilient communicators: turns an MPI error that reports a failed
 * process or a revoked communicator into a revocation of every communicator of the job and, inside
 * the application's step, an unwind to sal_run.
 */
#include <setjmp.h>

#include <mpi.h>

#include <salamander/salamander.h>

#include "clock.h"
#include "interpose.h"
#include "log.h"
#include "runtime.h"

/* The failure handler of the resilient communicator. A failed peer or a revoked communicator is
 * recorded and the communicator revoked so every survivor notices; inside the application's step
 * the survivor then unwinds to sal_run (the MPI call never returns to the application). Elsewhere
 * the MPI call returns its error code to Salamander's own code, which reports SAL_ERR_PROC_FAILED.
 * Its own MPI calls are Salamander's (interpose.h), whoever made the call that failed; the unwind
 * happens outside that bracket and sal_run resets the rest (sal_interpose_unwound).
 */
static void on_mpi_error(MPI_Comm *comm, int *err, ...)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;

    if (!sal_rt_is_failure(*err)) {
        MPI_Error_string(*err, text, &len);
        SAL_LOG_E("MPI error on the resilient communicator: %s", text);
        return;
    }
    if (sal_rt.t_detect == 0)
        sal_rt.t_detect = sal_clock_mono();
    sal_interpose_internal_begin();
    sal_rt_revoke(sal_rt.world);
    sal_rt_revoke(sal_rt.full); /* wakes the parked spares */
    sal_rt_revoke_derived();
    sal_interpose_internal_end();
    if (sal_rt.in_step && (*comm == sal_rt.world || sal_rt_is_derived(*comm))) {
        sal_rt.in_step = 0;
        longjmp(sal_rt.unwind, 1);
    }
}

int sal_rt_set_errhandler(MPI_Comm comm)
{
    if (sal_rt.errh == MPI_ERRHANDLER_NULL &&
        MPI_Comm_create_errhandler(on_mpi_error, &sal_rt.errh) != MPI_SUCCESS)
        return sal_error(SAL_ERR_MPI, "cannot create the failure handler");
    if (MPI_Comm_set_errhandler(comm, sal_rt.errh) != MPI_SUCCESS)
        return sal_error(SAL_ERR_MPI, "cannot install the failure handler");
    return SAL_OK;
}
