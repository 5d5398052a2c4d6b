/*
 * A plain MPI code ported to Salamander without replacing MPI_COMM_WORLD (docs/mpi.md,
 * "MPI_COMM_WORLD"): a 1-D explicit diffusion over N points in blocks of MPI_COMM_WORLD's ranks,
 * whose every MPI call -- rank and size, the halo exchange (MPI_Sendrecv), the largest change
 * (MPI_Allreduce), the layout after a shrink, the final gather -- names MPI_COMM_WORLD, and which
 * never calls sal_comm(). The interposition layer makes MPI_COMM_WORLD the job's current world, so
 * a replacement computes the block of the rank it replaces and the answer is the failure-free one.
 *
 *     world_app [-n N] [-s STEPS] [--probe]
 *
 * Rank 0 prints one line, checksum being the 64-bit FNV-1a hash of the global field's bytes:
 *     world_app: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> maxchange=<%a>
 * A process whose MPI_COMM_WORLD rank differs from the launch's (a replacement, an activated spare)
 * says so with both. --probe: rank 0 prints what MPI_COMM_WORLD is after sal_init, nothing else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/salamander.h>

struct world_app {
    int n, steps;      /* global points, steps to compute */
    int rank, size;    /* in MPI_COMM_WORLD, as the layout was made */
    int count, offset; /* this rank's block of the global field */
    double *u, *tmp;   /* count + 2 points: the block between two halo cells */
    double max_change; /* of the last step, over every rank */
    uint64_t seed;     /* of the initial field, from this rank's number */
};

/* This rank's block for the current MPI_COMM_WORLD, with the initial field. 0, or -1. */
static int layout(struct world_app *w)
{
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->size);
    w->count = w->n / w->size + (w->rank < w->n % w->size);
    w->offset = w->rank * (w->n / w->size) + (w->rank < w->n % w->size ? w->rank : w->n % w->size);
    free(w->u);
    free(w->tmp);
    w->u = calloc((size_t)w->count + 2, sizeof(double));
    w->tmp = calloc((size_t)w->count + 2, sizeof(double));
    w->seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->rank + 1);
    for (int i = 1; w->u && i <= w->count; i++) {
        w->seed ^= w->seed << 13, w->seed ^= w->seed >> 7, w->seed ^= w->seed << 17;
        w->u[i] = (double)(w->seed >> 11) / (double)(1ull << 53);
    }
    return w->u && w->tmp ? 0 : -1;
}

static int protect(struct world_app *w)
{
    int64_t gdims = w->n, offset = w->offset, count = w->count;

    return sal_protect("u", &w->u[1], SAL_DOUBLE, 1, &gdims, &offset, &count);
}

/* sal_on_resize (policy shrink): the layout for the smaller MPI_COMM_WORLD. */
static int resize(MPI_Comm comm, void *arg)
{
    struct world_app *w = arg;
    int rc;

    (void)comm;
    rc = sal_unprotect("u");
    if (rc == SAL_OK && layout(w) != 0)
        rc = SAL_ERR_NOMEM;
    return rc == SAL_OK ? protect(w) : rc;
}

/* One diffusion step on MPI_COMM_WORLD; comm (sal_run's) is left unused on purpose. */
static int step_fn(MPI_Comm comm, int64_t step, void *arg, int *done)
{
    struct world_app *w = arg;
    int left = w->rank > 0 ? w->rank - 1 : MPI_PROC_NULL;
    int right = w->rank + 1 < w->size ? w->rank + 1 : MPI_PROC_NULL;
    double change = 0;

    (void)comm;
    MPI_Sendrecv(&w->u[1], 1, MPI_DOUBLE, left, 0, &w->u[w->count + 1], 1, MPI_DOUBLE, right, 0,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(&w->u[w->count], 1, MPI_DOUBLE, right, 1, &w->u[0], 1, MPI_DOUBLE, left, 1,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    for (int i = 1; i <= w->count; i++) {
        w->tmp[i] = w->u[i] + 0.25 * (w->u[i - 1] - 2 * w->u[i] + w->u[i + 1]);
        change = change > w->tmp[i] - w->u[i] ? change : w->tmp[i] - w->u[i];
    }
    memcpy(&w->u[1], &w->tmp[1], (size_t)w->count * sizeof(double));
    /* MPI_MAX is exact in any order: the same value on any number of ranks. */
    MPI_Allreduce(&change, &w->max_change, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    *done = step + 1 >= w->steps;
    return SAL_OK;
}

/* The global field gathered on rank 0, hashed and printed. 0, or -1. */
static int report(struct world_app *w)
{
    int *counts = calloc((size_t)w->size, sizeof(int)),
        *displs = calloc((size_t)w->size, sizeof(int));
    double *all = w->rank == 0 ? malloc((size_t)w->n * sizeof(double)) : NULL;
    uint64_t h = 0xcbf29ce484222325ull;
    int rc = counts && displs && (w->rank != 0 || all) ? 0 : -1;

    if (rc == 0)
        rc = MPI_Allgather(&w->count, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
    for (int r = 1; rc == 0 && r < w->size; r++)
        displs[r] = displs[r - 1] + counts[r - 1];
    if (rc == 0)
        rc = MPI_Gatherv(&w->u[1], w->count, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0,
                         MPI_COMM_WORLD);
    for (size_t i = 0; rc == 0 && all && i < (size_t)w->n * sizeof(double); i++)
        h = (h ^ ((const unsigned char *)all)[i]) * 0x100000001b3ull;
    if (rc == 0 && w->rank == 0)
        printf("world_app: N=%d steps=%d ranks=%d checksum=%016llx maxchange=%a\n", w->n, w->steps,
               w->size, (unsigned long long)h, w->max_change);
    free(all);
    free(displs);
    free(counts);
    return rc;
}

/* What MPI_COMM_WORLD is here, against the launch's (PMPI_: the unmapped calls). */
static void print_identity(int probe)
{
    int rank, size, launch_rank, launch_size;

    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    PMPI_Comm_rank(MPI_COMM_WORLD, &launch_rank);
    PMPI_Comm_size(MPI_COMM_WORLD, &launch_size);
    if (rank != launch_rank || (probe && rank == 0))
        printf("world_app: MPI_COMM_WORLD is rank %d of %d here (the launch's: rank %d of %d)\n",
               rank, size, launch_rank, launch_size);
    fflush(stdout);
}

static int failed(const char *call, int rc)
{
    fprintf(stderr, "world_app: %s: %s: %s\n", call, sal_strerror(rc), sal_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}

int main(int argc, char **argv)
{
    struct world_app w = {.n = 4096, .steps = 200};
    int rc, probe = 0;

    MPI_Init(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            w.n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            w.steps = atoi(argv[++i]);
        else
            probe |= !strcmp(argv[i], "--probe");
    }
    if ((rc = sal_init(&argc, &argv, MPI_COMM_WORLD)) != SAL_OK)
        return failed("sal_init", rc);
    print_identity(probe);
    if (!probe) {
        if (layout(&w) != 0)
            return failed("layout", SAL_ERR_NOMEM);
        if ((rc = protect(&w)) != SAL_OK || (rc = sal_on_resize(resize, &w)) != SAL_OK)
            return failed("sal_protect", rc);
        if ((rc = sal_run(step_fn, &w)) != SAL_OK)
            return failed("sal_run", rc);
        if (report(&w) != 0)
            return failed("report", SAL_ERR_MPI);
    }
    sal_finalize();
    free(w.u);
    free(w.tmp);
    MPI_Finalize();
    return 0;
}
