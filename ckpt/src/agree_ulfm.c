/* Agreement with ULFM: MPIX_Comm_agree completes among survivors even when processes failed. */
#include <mpi.h>
#include <mpi-ext.h>

#include <salamander/sal_error.h>

#include "agree.h"

int sal_have_ulfm(void)
{
    return 1;
}

int sal_mpi_status(int mpi_rc)
{
    int cls;

    if (mpi_rc == MPI_SUCCESS)
        return SAL_OK;
    MPI_Error_class(mpi_rc, &cls);
    if (cls == MPIX_ERR_PROC_FAILED || cls == MPIX_ERR_PROC_FAILED_PENDING ||
        cls == MPIX_ERR_REVOKED)
        return SAL_ERR_PROC_FAILED;
    return SAL_ERR_MPI;
}

int sal_agree(MPI_Comm comm, int *flag)
{
    return sal_mpi_status(MPIX_Comm_agree(comm, flag));
}

int sal_revoke(MPI_Comm comm)
{
    return sal_mpi_status(MPIX_Comm_revoke(comm)) == SAL_ERR_MPI ? SAL_ERR_MPI : SAL_OK;
}
