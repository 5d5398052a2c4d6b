/*
 * MPI_Sendrecv's implementation in builds without ULFM (the list, mpi_functions.def): the MPI
 * library's own. The work-around of sendrecv_ulfm.c concerns survivors of a failure, which only
 * ULFM builds have.
 */
#include <mpi.h>

#include "wrap.h"

int sal_interpose_sendrecv_mpi(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                               int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                               int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype,
                         source, recvtag, comm, status);
}
