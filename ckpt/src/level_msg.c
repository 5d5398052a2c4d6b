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

/* One send of an exchange: synchronous and persistent (MPI_Ssend_init + MPI_Start), so that its
 * request completes only once the receiver matched it, and that a wait leaves it inactive instead
 * of freeing it. A send that failed is then never freed (sal_msg_end): Open MPI's ob1 ends the
 * whole process ("Send error after request freed", MPI_ERRORS_ARE_FATAL on a NULL communicator)
 * when a freed send request meets a transport error later, which is what a send to a rank that just
 * died does (open-mpi/ompi#208). */
int sal_msg_send(const void *buf, int count, MPI_Datatype type, int peer, int tag, MPI_Comm comm,
                 MPI_Request *req)
{
    int rc = MPI_Ssend_init(buf, count, type, peer, tag, comm, req);

    if (rc == MPI_SUCCESS && (rc = MPI_Start(req)) != MPI_SUCCESS)
        MPI_Request_free(req); /* never started: nothing of it is in flight */
    return sal_mpi_status(rc);
}

/* Posts the messages of a buffer of len bytes to/from peer into req (sal_msg_pieces(len) requests).
 */
int sal_msg_post(int send, void *buf, int64_t len, int peer, int tag, MPI_Comm comm,
                 MPI_Request *req)
{
    int k = 0;

    for (int64_t off = 0; off < len; off += PIECE, k++) {
        int n = (int)(len - off < PIECE ? len - off : PIECE);
        int rc = send ? sal_msg_send((char *)buf + off, n, MPI_BYTE, peer, tag + k, comm, &req[k])
                      : sal_mpi_status(MPI_Irecv((char *)buf + off, n, MPI_BYTE, peer, tag + k,
                                                 comm, &req[k]));
        if (rc != SAL_OK)
            return rc;
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

/* The sends of an exchange (req[nrecv..nreq), from sal_msg_send) after the wait: inactive. After a
 * success each completed at its receiver and is freed; after a failure they are left to MPI (a few
 * requests per failure), because freeing one whose transport still holds a fragment for a dead
 * rank ends the process (sal_msg_send). */
static void end_sends(MPI_Request *req, int nreq, int nrecv, int ok)
{
    for (int i = nrecv; i < nreq; i++) {
        if (ok && req[i] != MPI_REQUEST_NULL)
            MPI_Request_free(&req[i]);
        req[i] = MPI_REQUEST_NULL;
    }
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
    if (rc == SAL_OK || nreq == 0) {
        end_sends(req, nreq, nrecv, rc == SAL_OK);
        return rc;
    }
    if (sal_revoke(comm) == SAL_OK) {
        MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
        end_sends(req, nreq, nrecv, 0);
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

int sal_msg_abandon(MPI_Comm comm, MPI_Request *req, int nreq, int nrecv, int rc)
{
    if (req && nreq > 0)
        return sal_msg_end(comm, req, nreq, nrecv, rc);
    sal_revoke(comm); /* nothing of its own to end: the peers' waits end (ULFM) */
    return rc;
}
