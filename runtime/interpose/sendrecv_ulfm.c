/*
 * MPI_Sendrecv's implementation in ULFM builds (the list, mpi_functions.def): a work-around for an
 * Open MPI 5.0.x fault-tolerance bug that an application would otherwise hit inside its own
 * MPI_Sendrecv after a failure. Compiled only into ULFM builds (sendrecv_none.c otherwise).
 *
 * Open MPI 5.0.x (ompi/mpi/c/sendrecv.c) posts the receive only when source is not MPI_PROC_NULL,
 * but when the send then fails with any error other than MPIX_ERR_PROC_FAILED -- e.g.
 * MPIX_ERR_REVOKED once a survivor revoked the communicator -- it cancels that receive request
 * unconditionally, calling through an uninitialised pointer: the process dies with SIGSEGV instead
 * of reporting the failure. The halo exchange of every stencil code at the domain edge has that
 * shape. With one side MPI_PROC_NULL the call is a plain send or receive, so it is made as one.
 */
#include <mpi.h>

#include "wrap.h"

int sal_interpose_sendrecv_mpi(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                               int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                               int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    int rc;

    if (source != MPI_PROC_NULL || dest == MPI_PROC_NULL)
        return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount,
                             recvtype, source, recvtag, comm, status);
    rc = PMPI_Send(sendbuf, sendcount, sendtype, dest, sendtag, comm);
    if (status != MPI_STATUS_IGNORE) {
        /* What a receive from MPI_PROC_NULL reports (MPI 4.1, section 3.11). */
        status->MPI_SOURCE = MPI_PROC_NULL;
        status->MPI_TAG = MPI_ANY_TAG;
        status->MPI_ERROR = rc;
        MPI_Status_set_elements(status, MPI_BYTE, 0);
    }
    return rc;
}
