/*
 * A subset of the MPI Fortran bindings (mpif.h calling convention of gfortran: lower case, one
 * trailing underscore, every argument by reference) implemented over the C API, for MPI libraries
 * built without Fortran support. Communicators are real Fortran handles (MPI_Comm_f2c), so they mix
 * with those of the salamander module; datatypes and reduction operations are the subset's own
 * numbers from mpif/mpif.h. Statuses are not filled in. Error codes are the C ones, which the MPI
 * standard makes equal to the Fortran ones.
 *
 * Part of the interposition layer (the only place that defines MPI entry points) but not generated
 * from its list: each entry point converts its arguments by hand. Their MPI_* calls are the
 * application's and reach the list's wrappers like any other. A static library of the build tree,
 * linked into the Fortran examples only when the MPI has no Fortran bindings
 * (fortran/CMakeLists.txt).
 */
#include <mpi.h>

/* The values of mpif/mpif.h. */
enum { F_COMM_WORLD = 0, F_PROC_NULL = -2 };
enum { F_INTEGER = 1, F_DOUBLE_PRECISION = 2, F_REAL = 3, F_INTEGER8 = 4 };
enum { F_MAX = 1, F_MIN = 2, F_SUM = 3 };

void mpi_init_(MPI_Fint *ierr);
void mpi_finalize_(MPI_Fint *ierr);
void mpi_abort_(MPI_Fint *comm, MPI_Fint *code, MPI_Fint *ierr);
void mpi_barrier_(MPI_Fint *comm, MPI_Fint *ierr);
void mpi_comm_size_(MPI_Fint *comm, MPI_Fint *size, MPI_Fint *ierr);
void mpi_comm_rank_(MPI_Fint *comm, MPI_Fint *rank, MPI_Fint *ierr);
void mpi_dims_create_(MPI_Fint *nnodes, MPI_Fint *ndims, MPI_Fint *dims, MPI_Fint *ierr);
void mpi_sendrecv_(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, MPI_Fint *dest, MPI_Fint *stag,
                   void *rbuf, MPI_Fint *rcount, MPI_Fint *rtype, MPI_Fint *source, MPI_Fint *rtag,
                   MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr);
void mpi_allreduce_(void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op,
                    MPI_Fint *comm, MPI_Fint *ierr);
void mpi_gatherv_(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts,
                  MPI_Fint *displs, MPI_Fint *rtype, MPI_Fint *root, MPI_Fint *comm,
                  MPI_Fint *ierr);

static MPI_Datatype type_of(MPI_Fint t)
{
    switch (t) {
    case F_INTEGER:
        return MPI_INT;
    case F_DOUBLE_PRECISION:
        return MPI_DOUBLE;
    case F_REAL:
        return MPI_FLOAT;
    case F_INTEGER8:
        return MPI_INT64_T;
    default:
        return MPI_DATATYPE_NULL;
    }
}

static MPI_Op op_of(MPI_Fint op)
{
    switch (op) {
    case F_MAX:
        return MPI_MAX;
    case F_MIN:
        return MPI_MIN;
    case F_SUM:
        return MPI_SUM;
    default:
        return MPI_OP_NULL;
    }
}

static int peer_of(MPI_Fint r)
{
    return r == F_PROC_NULL ? MPI_PROC_NULL : (int)r;
}

/* The subset's MPI_COMM_WORLD is a constant: it must be this library's handle of MPI_COMM_WORLD. */
void mpi_init_(MPI_Fint *ierr)
{
    *ierr = MPI_Init(NULL, NULL);
    if (*ierr == MPI_SUCCESS && MPI_Comm_c2f(MPI_COMM_WORLD) != F_COMM_WORLD)
        *ierr = MPI_ERR_INTERN;
}

void mpi_finalize_(MPI_Fint *ierr)
{
    *ierr = MPI_Finalize();
}

void mpi_abort_(MPI_Fint *comm, MPI_Fint *code, MPI_Fint *ierr)
{
    *ierr = MPI_Abort(MPI_Comm_f2c(*comm), *code);
}

void mpi_barrier_(MPI_Fint *comm, MPI_Fint *ierr)
{
    *ierr = MPI_Barrier(MPI_Comm_f2c(*comm));
}

void mpi_comm_size_(MPI_Fint *comm, MPI_Fint *size, MPI_Fint *ierr)
{
    int n = 0;

    *ierr = MPI_Comm_size(MPI_Comm_f2c(*comm), &n);
    *size = n;
}

void mpi_comm_rank_(MPI_Fint *comm, MPI_Fint *rank, MPI_Fint *ierr)
{
    int r = 0;

    *ierr = MPI_Comm_rank(MPI_Comm_f2c(*comm), &r);
    *rank = r;
}

void mpi_dims_create_(MPI_Fint *nnodes, MPI_Fint *ndims, MPI_Fint *dims, MPI_Fint *ierr)
{
    int d[8];

    if (*ndims < 1 || *ndims > 8) {
        *ierr = MPI_ERR_DIMS;
        return;
    }
    for (int k = 0; k < *ndims; k++)
        d[k] = dims[k];
    *ierr = MPI_Dims_create(*nnodes, *ndims, d);
    for (int k = 0; k < *ndims; k++)
        dims[k] = d[k];
}

void mpi_sendrecv_(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, MPI_Fint *dest, MPI_Fint *stag,
                   void *rbuf, MPI_Fint *rcount, MPI_Fint *rtype, MPI_Fint *source, MPI_Fint *rtag,
                   MPI_Fint *comm, MPI_Fint *status, MPI_Fint *ierr)
{
    (void)status;
    if (type_of(*stype) == MPI_DATATYPE_NULL || type_of(*rtype) == MPI_DATATYPE_NULL) {
        *ierr = MPI_ERR_TYPE;
        return;
    }
    /* Irecv + Send + Wait rather than MPI_Sendrecv: Open MPI 5.0.11's MPI_Sendrecv was seen to
     * crash (SIGSEGV inside PMPI_Sendrecv) on a survivor when the peer of the receive had failed.
     */
    MPI_Comm c = MPI_Comm_f2c(*comm);
    MPI_Request req = MPI_REQUEST_NULL;
    int rc = MPI_Irecv(rbuf, *rcount, type_of(*rtype), peer_of(*source), *rtag, c, &req);
    int rc_send = MPI_Send(sbuf, *scount, type_of(*stype), peer_of(*dest), *stag, c);
    /* A receive that MPI_Irecv did not post left req MPI_REQUEST_NULL: MPI_Wait returns at once. */
    int rc_wait = MPI_Wait(&req, MPI_STATUS_IGNORE);

    *ierr = rc != MPI_SUCCESS ? rc : rc_send != MPI_SUCCESS ? rc_send : rc_wait;
}

void mpi_allreduce_(void *sbuf, void *rbuf, MPI_Fint *count, MPI_Fint *type, MPI_Fint *op,
                    MPI_Fint *comm, MPI_Fint *ierr)
{
    if (type_of(*type) == MPI_DATATYPE_NULL || op_of(*op) == MPI_OP_NULL) {
        *ierr = type_of(*type) == MPI_DATATYPE_NULL ? MPI_ERR_TYPE : MPI_ERR_OP;
        return;
    }
    *ierr = MPI_Allreduce(sbuf, rbuf, *count, type_of(*type), op_of(*op), MPI_Comm_f2c(*comm));
}

/* recvcounts and displs are read on the root only, as MPI says; MPI_Fint is int here. */
void mpi_gatherv_(void *sbuf, MPI_Fint *scount, MPI_Fint *stype, void *rbuf, MPI_Fint *rcounts,
                  MPI_Fint *displs, MPI_Fint *rtype, MPI_Fint *root, MPI_Fint *comm, MPI_Fint *ierr)
{
    if (type_of(*stype) == MPI_DATATYPE_NULL || type_of(*rtype) == MPI_DATATYPE_NULL) {
        *ierr = MPI_ERR_TYPE;
        return;
    }
    *ierr = MPI_Gatherv(sbuf, *scount, type_of(*stype), rbuf, rcounts, displs, type_of(*rtype),
                        *root, MPI_Comm_f2c(*comm));
}
