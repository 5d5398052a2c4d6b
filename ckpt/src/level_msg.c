/* Messages of the redundancy levels: whole files cut into pieces of at most 1 GiB (an MPI count
 * is an int), their requests, and ending an exchange that may have failed. Used by L2
 * (level_partner.c) and by the fetch of files from the hosts that hold them (level_moved.c). */
#include <stdlib.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "levels.h"

#define PIECE ((int64_t)1 << 30) /* largest single message */

int sal_msg_pieces(int64_t len)
{
    return len <= 0 ? 0 : (int)((len + PIECE - 1) / PIECE);
}

/* Posts the messages of a buffer of len bytes to/from peer into req (sal_msg_pieces(len) requests).
 */
int sal_msg_post(int send, void *buf, int64_t len, int peer, int tag, MPI_Comm comm,
                 MPI_Request *req)
{
    int k = 0;

    for (int64_t off = 0; off < len; off += PIECE, k++) {
        int n = (int)(len - off < PIECE ? len - off : PIECE);
        int rc = send ? MPI_Isend((char *)buf + off, n, MPI_BYTE, peer, tag + k, comm, &req[k])
                      : MPI_Irecv((char *)buf + off, n, MPI_BYTE, peer, tag + k, comm, &req[k]);
        if (rc != MPI_SUCCESS)
            return sal_mpi_status(rc);
    }
    return SAL_OK;
}

MPI_Request *sal_msg_requests(int n)
{
    MPI_Request *req = malloc(((size_t)n + 1) * sizeof(MPI_Request));

    for (int i = 0; req && i <= n; i++)
        req[i] = MPI_REQUEST_NULL;
    return req;
}

/* A failed exchange may leave requests pending, and a receive that completes after its buffer was
 * freed writes into freed memory: with ULFM the communicator is revoked, which completes every
 * pending operation on it on every rank (the failure is repaired next, and the repair revokes it
 * anyway); without ULFM the receives are cancelled, which completes them locally, and the sends
 * are released. */
int sal_msg_end(MPI_Comm comm, MPI_Request *req, int nreq, int nrecv, int rc)
{
    if (rc == SAL_OK)
        rc = sal_mpi_status(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
    if (rc == SAL_OK || nreq == 0)
        return rc;
    if (sal_revoke(comm) == SAL_OK) {
        MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
        return rc;
    }
    for (int i = 0; i < nreq; i++) {
        if (req[i] == MPI_REQUEST_NULL)
            continue;
        if (i < nrecv) {
            MPI_Cancel(&req[i]);
            MPI_Wait(&req[i], MPI_STATUS_IGNORE);
        } else {
            MPI_Request_free(&req[i]);
        }
    }
    return rc;
}
