/*
 * ulfm_trace: LD_PRELOAD shim that logs every ULFM call of a process (enter, leave, return code,
 * duration) to $ULFM_TRACE_DIR/trace.<pid> (unbuffered), to see where each rank of a hung job is
 * and what the ranks that left an agreement got from it, without changing the program.
 * Failed MPI_Gather, MPI_Bcast and MPI_Allreduce calls (and every one with ULFM_TRACE_ALL set) are
 * logged too. It interposes the PMPIX_ entry points (Salamander's watchdog wrappers call PMPIX_*,
 * plain programs call MPIX_*, which are aliases inside libmpi, so both are wrapped).
 *
 * Build: gcc -shared -fPIC -O2 -I$REPO/.venv/include -o libulfm_trace.so ulfm_trace.c -ldl
 *        (not linked to libmpi, so that LD_PRELOAD is harmless in processes without MPI)
 * Use:   ULFM_TRACE_DIR=/tmp/t LD_PRELOAD=/path/libulfm_trace.so mpiexec ... (inherited by ranks)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>
#include <mpi-ext.h>

static int fd = -2;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void out(const char *fmt, ...)
{
    char buf[512];
    int n;
    va_list ap;

    if (fd == -2) {
        const char *d = getenv("ULFM_TRACE_DIR");
        char path[400];
        fd = -1;
        if (d) {
            snprintf(path, sizeof(path), "%s/trace.%d", d, (int)getpid());
            fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        }
    }
    if (fd < 0)
        return;
    n = snprintf(buf, sizeof(buf), "%.6f ", now());
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    (void)!write(fd, buf, (size_t)n);
}

static int cls(int rc)
{
    int c = rc;
    if (rc != MPI_SUCCESS)
        PMPI_Error_class(rc, &c);
    return c;
}

static int crank(MPI_Comm c)
{
    int r = -1;
    PMPI_Comm_rank(c, &r);
    return r;
}

#define REAL(name, type)                                                                           \
    static type real_##name;                                                                       \
    if (!real_##name)                                                                              \
    real_##name = (type)dlsym(RTLD_NEXT, #name)

typedef int (*agree_t)(MPI_Comm, int *);
typedef int (*iagree_t)(MPI_Comm, int *, MPI_Request *);
typedef int (*shrink_t)(MPI_Comm, MPI_Comm *);
typedef int (*comm_t)(MPI_Comm);

static int do_agree(agree_t f, const char *name, MPI_Comm comm, int *flag)
{
    int in = *flag, rc;
    double t0 = now();
    out("enter %s comm=%p rank=%d flag=%d", name, (void *)comm, crank(comm), in);
    rc = f(comm, flag);
    out("leave %s comm=%p rc=%d class=%d flag=%d %.3f ms", name, (void *)comm, rc, cls(rc), *flag,
        (now() - t0) * 1e3);
    return rc;
}

int PMPIX_Comm_agree(MPI_Comm comm, int *flag)
{
    REAL(PMPIX_Comm_agree, agree_t);
    return do_agree(real_PMPIX_Comm_agree, "PMPIX_Comm_agree", comm, flag);
}

int MPIX_Comm_agree(MPI_Comm comm, int *flag)
{
    REAL(MPIX_Comm_agree, agree_t);
    return do_agree(real_MPIX_Comm_agree, "MPIX_Comm_agree", comm, flag);
}

int PMPIX_Comm_iagree(MPI_Comm comm, int *flag, MPI_Request *req)
{
    int rc;
    REAL(PMPIX_Comm_iagree, iagree_t);
    rc = real_PMPIX_Comm_iagree(comm, flag, req);
    out("PMPIX_Comm_iagree comm=%p rank=%d rc=%d", (void *)comm, crank(comm), rc);
    return rc;
}

static int do_shrink(shrink_t f, const char *name, MPI_Comm comm, MPI_Comm *nc)
{
    int rc;
    double t0 = now();
    out("enter %s comm=%p rank=%d", name, (void *)comm, crank(comm));
    rc = f(comm, nc);
    out("leave %s comm=%p rc=%d class=%d %.3f ms", name, (void *)comm, rc, cls(rc),
        (now() - t0) * 1e3);
    return rc;
}

int PMPIX_Comm_shrink(MPI_Comm comm, MPI_Comm *nc)
{
    REAL(PMPIX_Comm_shrink, shrink_t);
    return do_shrink(real_PMPIX_Comm_shrink, "PMPIX_Comm_shrink", comm, nc);
}

int MPIX_Comm_shrink(MPI_Comm comm, MPI_Comm *nc)
{
    REAL(MPIX_Comm_shrink, shrink_t);
    return do_shrink(real_MPIX_Comm_shrink, "MPIX_Comm_shrink", comm, nc);
}

int PMPIX_Comm_revoke(MPI_Comm comm)
{
    int rc;
    REAL(PMPIX_Comm_revoke, comm_t);
    rc = real_PMPIX_Comm_revoke(comm);
    out("PMPIX_Comm_revoke comm=%p rc=%d", (void *)comm, rc);
    return rc;
}

int MPIX_Comm_revoke(MPI_Comm comm)
{
    int rc;
    REAL(MPIX_Comm_revoke, comm_t);
    rc = real_MPIX_Comm_revoke(comm);
    out("MPIX_Comm_revoke comm=%p rc=%d", (void *)comm, rc);
    return rc;
}

/* The collectives of Salamander's checkpoint commit before its agreement (agree_on_id, gather). */
typedef int (*gather_t)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, int, MPI_Comm);
typedef int (*bcast_t)(void *, int, MPI_Datatype, int, MPI_Comm);
typedef int (*allreduce_t)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);

#define TRACE_RC(name, call)                                                                       \
    do {                                                                                           \
        double t0 = now();                                                                         \
        int rc_ = (call);                                                                          \
        if (rc_ != MPI_SUCCESS || getenv("ULFM_TRACE_ALL"))                                        \
            out("%s comm=%p rc=%d class=%d %.3f ms (entered %.6f)", name, (void *)comm, rc_,       \
                cls(rc_), (now() - t0) * 1e3, t0);                                                 \
        return rc_;                                                                                \
    } while (0)

int PMPI_Gather(const void *s, int sc, MPI_Datatype st, void *r, int rcount, MPI_Datatype rt,
                int root, MPI_Comm comm)
{
    REAL(PMPI_Gather, gather_t);
    TRACE_RC("PMPI_Gather", real_PMPI_Gather(s, sc, st, r, rcount, rt, root, comm));
}

int MPI_Gather(const void *s, int sc, MPI_Datatype st, void *r, int rcount, MPI_Datatype rt,
               int root, MPI_Comm comm)
{
    REAL(MPI_Gather, gather_t);
    TRACE_RC("MPI_Gather", real_MPI_Gather(s, sc, st, r, rcount, rt, root, comm));
}

int PMPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm comm)
{
    REAL(PMPI_Bcast, bcast_t);
    TRACE_RC("PMPI_Bcast", real_PMPI_Bcast(b, n, t, root, comm));
}

int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm comm)
{
    REAL(MPI_Bcast, bcast_t);
    TRACE_RC("MPI_Bcast", real_MPI_Bcast(b, n, t, root, comm));
}

int PMPI_Allreduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm comm)
{
    REAL(PMPI_Allreduce, allreduce_t);
    TRACE_RC("PMPI_Allreduce", real_PMPI_Allreduce(s, r, n, t, op, comm));
}

int MPI_Allreduce(const void *s, void *r, int n, MPI_Datatype t, MPI_Op op, MPI_Comm comm)
{
    REAL(MPI_Allreduce, allreduce_t);
    TRACE_RC("MPI_Allreduce", real_MPI_Allreduce(s, r, n, t, op, comm));
}
