/* Process failures as ULFM reports them (the no-ULFM build compiles failure_none.c instead). */
#include <mpi.h>
#include <mpi-ext.h>

#include "runtime.h"

int sal_rt_is_failure(int err)
{
    int cls = MPI_SUCCESS;

    if (err == MPI_SUCCESS)
        return 0;
    MPI_Error_class(err, &cls);
    return cls == MPIX_ERR_PROC_FAILED || cls == MPIX_ERR_PROC_FAILED_PENDING ||
           cls == MPIX_ERR_REVOKED;
}

void sal_rt_revoke(MPI_Comm comm)
{
    if (comm != MPI_COMM_NULL)
        MPIX_Comm_revoke(comm);
}
