/*
 * cg: a conjugate-gradient solve of the 2-D Poisson equation protected by Salamander. The second
 * kernel of the examples, with the communication of a Krylov solver rather than a stencil's: each
 * step is one CG iteration, a halo exchange with the ranks above and below (MPI_Sendrecv) and two
 * MPI_Allreduce (MPI_SUM) dot products whose results every rank uses.
 *
 * The system is A x = b, A the 5-point Laplacian of an n x n grid with zero Dirichlet edges
 * (4 x(i,j) - x(i-1,j) - x(i+1,j) - x(i,j-1) - x(i,j+1)), b = 1 inside a square and 0 outside,
 * x0 = 0. Rank k owns a band of whole rows, the protected regions "x", "r" and "p" (2-D, the same
 * global n x n layout), and the two scalars the iteration carries ("rho" = r.r, "bb" = b.b), which
 * every rank holds and protects as per-rank data.
 *
 * Every rank computes its partial dot products in the same order and MPI_Allreduce adds them in an
 * order fixed by the number of ranks: the result is bitwise reproducible for a given number of
 * ranks (not across numbers of ranks, as the sums are then made in another order), and after any
 * number of recoveries.
 *
 * Usage: cg [-n N] [-s ITERATIONS] [--sleep-ms MS] [--tol T]
 * Defaults 256, 300, 0 and 0. --tol T > 0 ends the run after the first iteration whose relative
 * residual |r| / |b| is below T (at most ITERATIONS). Rank 0 prints one line, checksum being the
 * 64-bit FNV-1a hash of the solution's bytes in row-major order:
 *     cg: N=<n> iterations=<k> ranks=<p> checksum=<16 hex digits> residual=<%.17g>
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <salamander/salamander.h>

enum { SC_RHO, SC_BB, SC_ITERS, SC_N }; /* the protected scalars */

struct cg {
    int n;             /* the grid is n x n */
    int64_t iters;     /* most iterations */
    long sleep_ms;     /* pause after each iteration */
    double tol;        /* > 0: stop once |r| / |b| < tol */
    int nranks, rank;  /* the layout is valid for this size and rank only */
    int rows, row0;    /* this rank's band: rows [row0, row0 + rows) */
    double *x, *r, *p; /* rows x n each, protected */
    double *q;         /* A p, rows x n */
    double *above;     /* p of the row above the band (zeros at the top edge) */
    double *below;     /* ... and below it */
    double sc[SC_N];   /* rho, b.b and the iterations done, protected (per rank) */
};

static int usage(void)
{
    fprintf(stderr, "usage: cg [-n N] [-s ITERATIONS] [--sleep-ms MS] [--tol T]\n");
    return -1;
}

/* Reads the flags into c. Returns 0, or -1 after a message. */
static int parse_args(struct cg *c, int argc, char **argv)
{
    c->n = 256;
    c->iters = 300;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!v)
            return usage();
        if (strcmp(argv[i], "-n") == 0)
            c->n = (int)strtol(v, &end, 10);
        else if (strcmp(argv[i], "-s") == 0)
            c->iters = strtoll(v, &end, 10);
        else if (strcmp(argv[i], "--sleep-ms") == 0)
            c->sleep_ms = strtol(v, &end, 10);
        else if (strcmp(argv[i], "--tol") == 0)
            c->tol = strtod(v, &end);
        else
            return usage();
        if (!end || *end || end == v) {
            fprintf(stderr, "cg: %s needs a number, not '%s'\n", argv[i], v);
            return usage();
        }
        i++;
    }
    if (c->n < 2 || c->iters < 0 || c->sleep_ms < 0 || !(c->tol >= 0)) {
        fprintf(stderr, "cg: N must be at least 2, ITERATIONS, MS and T at least 0\n");
        return -1;
    }
    return 0;
}

/* Band of rank k: rows [*off, *off + *len) of n split as evenly as possible. */
static void band(int n, int parts, int k, int *len, int *off)
{
    int q = n / parts, rem = n % parts;

    *len = q + (k < rem);
    *off = k * q + (k < rem ? k : rem);
}

static double rhs(int n, int i, int j)
{
    return i >= n / 4 && i < n / 2 && j >= n / 3 && j < (2 * n) / 3 ? 1.0 : 0.0;
}

/* Local: the band of this rank for comm's size, its buffers and the initial state (x = 0,
 * r = p = b; the scalars are computed by the first iteration). Returns 0, or -1 after a message. */
static int cg_setup(struct cg *c, MPI_Comm comm)
{
    MPI_Comm_size(comm, &c->nranks);
    MPI_Comm_rank(comm, &c->rank);
    if (c->n < c->nranks) {
        fprintf(stderr, "cg: N=%d is too small for %d ranks\n", c->n, c->nranks);
        return -1;
    }
    band(c->n, c->nranks, c->rank, &c->rows, &c->row0);
    size_t cells = (size_t)c->rows * (size_t)c->n;
    c->x = calloc(cells, sizeof(double));
    c->r = malloc(cells * sizeof(double));
    c->p = malloc(cells * sizeof(double));
    c->q = malloc(cells * sizeof(double));
    c->above = calloc((size_t)c->n, sizeof(double));
    c->below = calloc((size_t)c->n, sizeof(double));
    if (!c->x || !c->r || !c->p || !c->q || !c->above || !c->below) {
        fprintf(stderr, "cg: rank %d: no memory for %zu points\n", c->rank, cells);
        return -1;
    }
    for (int i = 0; i < c->rows; i++)
        for (int j = 0; j < c->n; j++)
            c->r[(size_t)i * c->n + j] = c->p[(size_t)i * c->n + j] = rhs(c->n, c->row0 + i, j);
    memset(c->sc, 0, sizeof(c->sc));
    return 0;
}

static void cg_release(struct cg *c)
{
    free(c->x);
    free(c->r);
    free(c->p);
    free(c->q);
    free(c->above);
    free(c->below);
    c->x = c->r = c->p = c->q = c->above = c->below = NULL;
}

/* Collective over comm: p's rows above and below the band from the neighbouring ranks (the edges
 * of the grid stay zero). */
static int halo(struct cg *c, MPI_Comm comm)
{
    int up = c->rank > 0 ? c->rank - 1 : MPI_PROC_NULL;
    int down = c->rank < c->nranks - 1 ? c->rank + 1 : MPI_PROC_NULL;
    const double *first = c->p, *last = c->p + (size_t)(c->rows - 1) * c->n;
    int rc = MPI_Sendrecv(first, c->n, MPI_DOUBLE, up, 0, c->below, c->n, MPI_DOUBLE, down, 0, comm,
                          MPI_STATUS_IGNORE);

    if (rc == MPI_SUCCESS)
        rc = MPI_Sendrecv(last, c->n, MPI_DOUBLE, down, 1, c->above, c->n, MPI_DOUBLE, up, 1, comm,
                          MPI_STATUS_IGNORE);
    return rc;
}

/* Local: q = A p on the band (halos filled); returns p.q over the band. */
static double apply(struct cg *c)
{
    double pq = 0;
    int n = c->n;

    for (int i = 0; i < c->rows; i++) {
        const double *row = c->p + (size_t)i * n;
        const double *n_row = i > 0 ? row - n : c->above;
        const double *s_row = i < c->rows - 1 ? row + n : c->below;
        double *out = c->q + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            double w = j > 0 ? row[j - 1] : 0.0, e = j < n - 1 ? row[j + 1] : 0.0;
            out[j] = 4.0 * row[j] - ((n_row[j] + s_row[j]) + (w + e));
            pq += row[j] * out[j];
        }
    }
    return pq;
}

static double dot(const double *a, const double *b, size_t len)
{
    double s = 0;

    for (size_t k = 0; k < len; k++)
        s += a[k] * b[k];
    return s;
}

static int sum_all(double *v, int count, MPI_Comm comm)
{
    return MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, comm);
}

static int mpi_failed(int mpi_rc)
{
    return sal_is_proc_failure(mpi_rc) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI;
}

/* The step function for sal_run: CG iteration number step + 1. The first one also computes
 * rho = r.r and b.b (r = b then). */
static int cg_step(MPI_Comm comm, int64_t step, void *arg, int *done)
{
    struct cg *c = arg;
    size_t cells = (size_t)c->rows * (size_t)c->n;
    int size, rank, mrc = MPI_SUCCESS;

    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    if (size != c->nranks || rank != c->rank) {
        fprintf(stderr, "cg: rank %d of %d is now rank %d of %d\n", c->rank, c->nranks, rank, size);
        return SAL_ERR_UNSUPPORTED;
    }
    if (step == 0) {
        double rr = dot(c->r, c->r, cells);
        if ((mrc = sum_all(&rr, 1, comm)) != MPI_SUCCESS)
            return mpi_failed(mrc);
        c->sc[SC_RHO] = c->sc[SC_BB] = rr;
    }
    if (step >= c->iters || c->sc[SC_RHO] == 0.0) {
        *done = 1;
        return SAL_OK;
    }
    if ((mrc = halo(c, comm)) != MPI_SUCCESS)
        return mpi_failed(mrc);
    double pq = apply(c);
    if ((mrc = sum_all(&pq, 1, comm)) != MPI_SUCCESS)
        return mpi_failed(mrc);
    double alpha = c->sc[SC_RHO] / pq;
    for (size_t k = 0; k < cells; k++) {
        c->x[k] += alpha * c->p[k];
        c->r[k] -= alpha * c->q[k];
    }
    double rr = dot(c->r, c->r, cells);
    if ((mrc = sum_all(&rr, 1, comm)) != MPI_SUCCESS)
        return mpi_failed(mrc);
    double beta = rr / c->sc[SC_RHO];
    for (size_t k = 0; k < cells; k++)
        c->p[k] = c->r[k] + beta * c->p[k];
    c->sc[SC_RHO] = rr;
    c->sc[SC_ITERS] = (double)(step + 1);
    if (c->sleep_ms > 0) {
        struct timespec ts = {c->sleep_ms / 1000, (c->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* A convergence test on a collective result: sal_run agrees on the step that reports done. */
    *done = step + 1 >= c->iters || (c->tol > 0 && sqrt(rr / c->sc[SC_BB]) < c->tol);
    return SAL_OK;
}

/* 64-bit FNV-1a of len bytes. */
static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint64_t h = UINT64_C(14695981039346656037);

    for (size_t k = 0; k < len; k++)
        h = (h ^ b[k]) * UINT64_C(1099511628211);
    return h;
}

/* Collective over comm: x gathered on rank 0, which prints the result line. Returns 0 or -1. */
static int report(const struct cg *c, MPI_Comm comm)
{
    int *counts = NULL, *displs = NULL, mine = c->rows * c->n, rc = 0;
    double *all = NULL;

    if (c->rank == 0) {
        counts = malloc((size_t)c->nranks * sizeof(int));
        displs = malloc((size_t)c->nranks * sizeof(int));
        all = malloc((size_t)c->n * (size_t)c->n * sizeof(double));
        if (!counts || !displs || !all)
            rc = -1;
        for (int k = 0; rc == 0 && k < c->nranks; k++) {
            int len, off;
            band(c->n, c->nranks, k, &len, &off);
            counts[k] = len * c->n;
            displs[k] = off * c->n;
        }
    }
    if (MPI_Gatherv(c->x, mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, comm) !=
        MPI_SUCCESS)
        rc = -1;
    if (c->rank == 0 && rc == 0) {
        printf("cg: N=%d iterations=%.0f ranks=%d checksum=%016" PRIx64 " residual=%.17g\n", c->n,
               c->sc[SC_ITERS], c->nranks, fnv1a(all, (size_t)c->n * (size_t)c->n * sizeof(double)),
               sqrt(c->sc[SC_RHO] / c->sc[SC_BB]));
        fflush(stdout);
    }
    if (rc != 0)
        fprintf(stderr, "cg: rank %d: the result could not be gathered\n", c->rank);
    free(counts);
    free(displs);
    free(all);
    return rc;
}

static int sal_failed(const char *call, int rc)
{
    fprintf(stderr, "cg: %s: %s: %s\n", call, sal_strerror(rc), sal_last_error());
    return 1;
}

/* Local: protects the band of x, r and p and the scalars. Returns 0, or 1 after a message. */
static int protect(struct cg *c)
{
    int64_t gdims[2] = {c->n, c->n}, offset[2] = {c->row0, 0}, count[2] = {c->rows, c->n};
    const char *names[3] = {"x", "r", "p"};
    double *bufs[3] = {c->x, c->r, c->p};
    int rc = SAL_OK;

    for (int k = 0; rc == SAL_OK && k < 3; k++)
        rc = sal_protect(names[k], bufs[k], SAL_DOUBLE, 2, gdims, offset, count);
    if (rc != SAL_OK)
        return sal_failed("sal_protect", rc);
    if ((rc = sal_protect_local("scalars", c->sc, sizeof(c->sc))) != SAL_OK)
        return sal_failed("sal_protect_local", rc);
    return 0;
}

int main(int argc, char **argv)
{
    struct cg c = {0};
    int rc;

    MPI_Init(&argc, &argv);
    if (parse_args(&c, argc, argv) != 0) {
        MPI_Finalize();
        return 2;
    }
    rc = sal_init(&argc, &argv, MPI_COMM_WORLD);
    if (rc != SAL_OK) {
        sal_failed("sal_init", rc);
        goto out_abort;
    }
    /* Local only: a replacement for a failed rank runs this alone. */
    if (cg_setup(&c, sal_comm()) != 0 || protect(&c) != 0)
        goto out_abort;
    rc = sal_run(cg_step, &c);
    if (rc == SAL_ERR_STOPPED) {
        cg_release(&c);
        MPI_Finalize();
        return 3; /* checkpointed on the checkpoint signal: an unfinished job (docs/slurm.md) */
    }
    if (rc != SAL_OK) {
        sal_failed("sal_run", rc);
        goto out_abort;
    }
    if (report(&c, sal_comm()) != 0)
        goto out_abort;
    rc = sal_finalize();
    if (rc != SAL_OK) {
        sal_failed("sal_finalize", rc);
        goto out_abort;
    }
    cg_release(&c);
    MPI_Finalize();
    return 0;

out_abort:
    cg_release(&c);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}
