/*
 * MPI_Sendrecv for the hang watchdog in builds without ULFM (in ULFM builds ompi_workarounds.c
 * defines MPI_Sendrecv and brackets it the same way). See watchdog_pmpi.c.
 */
#include <mpi.h>

#include "private_api.h"
#include "watchdog.h"

SAL_INTERPOSE int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                               int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                               int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    int rc;

    sal_watchdog_mpi_enter();
    rc = PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype,
                       source, recvtag, comm, status);
    sal_watchdog_mpi_leave();
    return rc;
}
