/* Agreement without ULFM: a plain allreduce. A process failure is fatal to the job (relaunch mode).
 */
#include <mpi.h>

#include <salamander/sal_error.h>

#include "agree.h"

int sal_have_ulfm(void)
{
    return 0;
}

int sal_mpi_status(int mpi_rc)
{
    return mpi_rc == MPI_SUCCESS ? SAL_OK : SAL_ERR_MPI;
}

int sal_agree(MPI_Comm comm, int *flag)
{
    int in = *flag;

    return sal_mpi_status(MPI_Allreduce(&in, flag, 1, MPI_INT, MPI_BAND, comm));
}

int sal_revoke(MPI_Comm comm)
{
    (void)comm;
    return SAL_ERR_UNSUPPORTED;
}
