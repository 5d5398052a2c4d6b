/* Agreement with ULFM: MPIX_Comm_agree completes among survivors even when processes failed. */
#include <stdlib.h>

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

/* Seconds a rank still waits for its agreement after it saw the communicator revoked. */
#define REVOKED_GRACE 1.0

/*
 * MPIX_Comm_iagree completed by a test loop that also watches for the revocation of comm.
 * An agreement needs every live rank of comm; a rank that skips it (it saw a process failure in an
 * earlier collective that the others completed, revoked comm and went on to the repair) leaves the
 * others waiting forever, because a revoke does not end an agreement already in progress (seen in
 * the commit agreement: docs/reliability.md). Salamander's protocols make every rank reach each of
 * their agreements; as a second line of defence, a rank that sees comm revoked while its
 * agreement is still pending REVOKED_GRACE seconds later leaves it with SAL_ERR_PROC_FAILED and
 * joins the repair. MPI forbids freeing or cancelling the request of a pending nonblocking
 * collective: the abandoned request and its flag are left to the library (one int leaked per
 * abandoned agreement; Open MPI prints "ERRONEOUS: Agreement ID ... was started by some processor,
 * but I never completed to it" at MPI_Finalize). Failure-free, iagree and a test loop cost the same
 * as the blocking agreement (tests/upstream/RESULTS.md).
 */
int sal_agree(MPI_Comm comm, int *flag)
{
    int *f = malloc(sizeof(int)), done = 0, revoked = 0, rc;
    double seen = 0;
    MPI_Request req;

    if (!f)
        return sal_mpi_status(MPIX_Comm_agree(comm, flag));
    *f = *flag;
    rc = MPIX_Comm_iagree(comm, f, &req);
    while (rc == MPI_SUCCESS) {
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            break;
        if (!revoked && MPIX_Comm_is_revoked(comm, &revoked) == MPI_SUCCESS && revoked)
            seen = MPI_Wtime();
        /* f belongs to the abandoned request, which still points to it */
        if (revoked && MPI_Wtime() - seen > REVOKED_GRACE)
            return SAL_ERR_PROC_FAILED; /* NOLINT(clang-analyzer-unix.Malloc): see above */
    }
    *flag = *f;
    free(f);
    return sal_mpi_status(rc);
}

int sal_revoke(MPI_Comm comm)
{
    return sal_mpi_status(MPIX_Comm_revoke(comm)) == SAL_ERR_MPI ? SAL_ERR_MPI : SAL_OK;
}
