/*
 * heat2d: 2-D Jacobi heat diffusion protected by Salamander. The example to copy.
 *
 * The grid has N x N points; the values just outside it are fixed (100.0 above the top row, 0.0 on
 * the other three sides) and the initial field is 0.0 except for a hot disc. Each step is one
 * Jacobi sweep, u'(i,j) = 0.25 * ((north + south) + (west + east)), followed by two MPI_Allreduce
 * of the largest change, along the row and then the column of ranks (derived communicators). Every
 * point is computed from the same values in the same order whatever the decomposition, so the final
 * field is bitwise identical on any number of ranks and after any number of recoveries.
 *
 * The ranks form a dims[0] x dims[1] grid (MPI_Dims_create), rank = row * dims[1] + column. Each
 * rank owns one contiguous block of the field, the protected region "u". The communicator is not a
 * Cartesian one because it is replaced after a repair: neighbours are computed from the rank and
 * dims in every step, on the communicator that sal_run passes in.
 *
 * Usage: heat2d [-n N] [-s STEPS] [--sleep-ms MS] [--loop run|rc]
 * Defaults come from HEAT2D_N, HEAT2D_STEPS, HEAT2D_SLEEP_MS and HEAT2D_LOOP, else 256, 300, 0 and
 * run. --loop run hands the loop to sal_run (failures unwind into it); --loop rc keeps the loop in
 * main and repairs in the return-code resume mode (sal_begin / sal_step_done / sal_repair).
 * Rank 0 prints one line, checksum being the 64-bit FNV-1a hash of the global field's bytes in
 * row-major order and sum the sum of its values in that order:
 *     heat2d: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <salamander/salamander.h>

#define TOP_EDGE 100.0 /* fixed temperature above row 0; the other edges are 0.0 */
#define HOT_SPOT 80.0  /* initial temperature inside the hot disc */

enum { NORTH, SOUTH, WEST, EAST };

struct heat {
    int n;            /* the global grid is n x n */
    int64_t steps;    /* number of sweeps */
    long sleep_ms;    /* pause after each sweep, to make runs long enough for injection tests */
    int rc_loop;      /* 1: the return-code resume mode, 0: sal_run */
    int nranks, rank; /* the layout below is valid for this size and rank only */
    int dims[2];      /* process grid: dims[0] rows of ranks, dims[1] columns */
    int rows, cols;   /* size of this rank's block */
    int row0, col0;   /* global index of its first point */
    double *u;        /* protected block, rows x cols, row-major; its address never changes */
    double *next;     /* the sweep writes here, then copies into u */
    double *halo[4];  /* received neighbour values: NORTH/SOUTH hold cols, WEST/EAST rows */
    double *side[2];  /* this block's west and east columns, packed for sending */
    double residual;  /* largest change of the last sweep, over all ranks */
};

/* Part i of n points split into parts nearly equal blocks: [*off, *off + *len). */
static void split(int n, int parts, int i, int *len, int *off)
{
    int q = n / parts, r = n % parts;

    *len = q + (i < r);
    *off = i * q + (i < r ? i : r);
}

/* Block of rank r in the process grid of h. */
static void block_of(const struct heat *h, int r, int *rows, int *cols, int *row0, int *col0)
{
    split(h->n, h->dims[0], r / h->dims[1], rows, row0);
    split(h->n, h->dims[1], r % h->dims[1], cols, col0);
}

/* Initial value at global point (i, j): a hot disc of radius n/8 centred at (n/2, n/3). */
static double initial(int n, int i, int j)
{
    long di = i - n / 2, dj = j - n / 3, r = n / 8;

    return di * di + dj * dj <= r * r ? HOT_SPOT : 0.0;
}

/* Local: lays out this rank's block and allocates its buffers. Returns 0, or -1 with a message. */
static int setup(struct heat *h, MPI_Comm comm)
{
    MPI_Comm_size(comm, &h->nranks);
    MPI_Comm_rank(comm, &h->rank);
    h->dims[0] = h->dims[1] = 0;
    MPI_Dims_create(h->nranks, 2, h->dims);
    if (h->n < h->dims[0] || h->n < h->dims[1]) {
        fprintf(stderr, "heat2d: N=%d is too small for a %d x %d process grid\n", h->n, h->dims[0],
                h->dims[1]);
        return -1;
    }
    block_of(h, h->rank, &h->rows, &h->cols, &h->row0, &h->col0);

    size_t cells = (size_t)h->rows * (size_t)h->cols;
    h->u = malloc(cells * sizeof(double));
    h->next = malloc(cells * sizeof(double));
    h->halo[NORTH] = malloc((size_t)h->cols * sizeof(double));
    h->halo[SOUTH] = malloc((size_t)h->cols * sizeof(double));
    for (int k = WEST; k <= EAST; k++)
        h->halo[k] = malloc((size_t)h->rows * sizeof(double));
    for (int k = 0; k < 2; k++)
        h->side[k] = malloc((size_t)h->rows * sizeof(double));
    if (!h->u || !h->next || !h->halo[NORTH] || !h->halo[SOUTH] || !h->halo[WEST] ||
        !h->halo[EAST] || !h->side[0] || !h->side[1]) {
        fprintf(stderr, "heat2d: out of memory for a %d x %d block\n", h->rows, h->cols);
        return -1;
    }
    for (int i = 0; i < h->rows; i++)
        for (int j = 0; j < h->cols; j++)
            h->u[(size_t)i * h->cols + j] = initial(h->n, h->row0 + i, h->col0 + j);
    return 0;
}

static void release(struct heat *h)
{
    free(h->u);
    free(h->next);
    for (int k = 0; k < 4; k++)
        free(h->halo[k]);
    for (int k = 0; k < 2; k++)
        free(h->side[k]);
}

static void fill(double *v, int len, double value)
{
    for (int k = 0; k < len; k++)
        v[k] = value;
}

/* Collective over comm: fills the four halos, from the neighbours or from the fixed boundary values
 * (a receive from MPI_PROC_NULL leaves the buffer as it is). */
static int exchange_halos(struct heat *h, MPI_Comm comm)
{
    int pr = h->rank / h->dims[1], pc = h->rank % h->dims[1];
    int north = pr > 0 ? h->rank - h->dims[1] : MPI_PROC_NULL;
    int south = pr < h->dims[0] - 1 ? h->rank + h->dims[1] : MPI_PROC_NULL;
    int west = pc > 0 ? h->rank - 1 : MPI_PROC_NULL;
    int east = pc < h->dims[1] - 1 ? h->rank + 1 : MPI_PROC_NULL;
    const double *last_row = h->u + (size_t)(h->rows - 1) * h->cols;
    int rc[4];

    fill(h->halo[NORTH], h->cols, TOP_EDGE);
    fill(h->halo[SOUTH], h->cols, 0.0);
    fill(h->halo[WEST], h->rows, 0.0);
    fill(h->halo[EAST], h->rows, 0.0);
    for (int i = 0; i < h->rows; i++) {
        h->side[0][i] = h->u[(size_t)i * h->cols];
        h->side[1][i] = h->u[(size_t)i * h->cols + h->cols - 1];
    }
    /* Tags name the direction of travel. */
    rc[0] = MPI_Sendrecv(h->u, h->cols, MPI_DOUBLE, north, 0, h->halo[SOUTH], h->cols, MPI_DOUBLE,
                         south, 0, comm, MPI_STATUS_IGNORE);
    rc[1] = MPI_Sendrecv(last_row, h->cols, MPI_DOUBLE, south, 1, h->halo[NORTH], h->cols,
                         MPI_DOUBLE, north, 1, comm, MPI_STATUS_IGNORE);
    rc[2] = MPI_Sendrecv(h->side[0], h->rows, MPI_DOUBLE, west, 2, h->halo[EAST], h->rows,
                         MPI_DOUBLE, east, 2, comm, MPI_STATUS_IGNORE);
    rc[3] = MPI_Sendrecv(h->side[1], h->rows, MPI_DOUBLE, east, 3, h->halo[WEST], h->rows,
                         MPI_DOUBLE, west, 3, comm, MPI_STATUS_IGNORE);
    for (int k = 0; k < 4; k++)
        if (rc[k] != MPI_SUCCESS)
            return rc[k];
    return MPI_SUCCESS;
}

/* SAL_ERR_PROC_FAILED when an MPI error code reports a failed process (only seen in the return-code
 * mode: under sal_run such a call never returns), else SAL_ERR_MPI. */
static int mpi_failed(int mpi_rc)
{
    return sal_is_proc_failure(mpi_rc) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI;
}

/* One Jacobi sweep of the block into next, copied back into u. Returns the largest change. */
static double sweep(struct heat *h)
{
    const int rows = h->rows, cols = h->cols;
    const double *u = h->u;
    double change = 0.0;

    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            size_t k = (size_t)i * cols + j;
            double n = i > 0 ? u[k - cols] : h->halo[NORTH][j];
            double s = i < rows - 1 ? u[k + cols] : h->halo[SOUTH][j];
            double w = j > 0 ? u[k - 1] : h->halo[WEST][i];
            double e = j < cols - 1 ? u[k + 1] : h->halo[EAST][i];

            h->next[k] = 0.25 * ((n + s) + (w + e));
            change = fmax(change, fabs(h->next[k] - u[k]));
        }
    }
    memcpy(h->u, h->next, (size_t)rows * cols * sizeof(double));
    return change;
}

/* The step function for sal_run. step is the number of sweeps already completed (and restored with
 * the checkpoint), so this call computes sweep number step + 1 and reports done after the last one.
 * A process failure inside the MPI calls below never returns here: sal_run repairs, restores u and
 * calls again with the step of the restored checkpoint: nothing is allocated here for that
 * reason. */
static int heat_step(MPI_Comm comm, int64_t step, void *arg, int *done)
{
    struct heat *h = arg;
    int size, rank;

    if (step >= h->steps) {
        *done = 1;
        return SAL_OK;
    }
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    if (size != h->nranks || rank != h->rank) {
        fprintf(stderr, "heat2d: rank %d of %d is now rank %d of %d, without a resize\n", h->rank,
                h->nranks, rank, size);
        return SAL_ERR_UNSUPPORTED;
    }
    int mrc = exchange_halos(h, comm);
    if (mrc != MPI_SUCCESS)
        return mpi_failed(mrc);
    double change = sweep(h), row_max = 0.0;
    /* The largest change, over the row of ranks and then over the column: derived communicators,
     * which Salamander creates again after a repair. */
    MPI_Comm row, col;
    int prow = h->rank / h->dims[1], pcol = h->rank % h->dims[1];
    int src = sal_comm_split("row", prow, pcol, &row);
    if (src == SAL_OK)
        src = sal_comm_split("col", pcol, prow, &col);
    if (src != SAL_OK)
        return src;
    mrc = MPI_Allreduce(&change, &row_max, 1, MPI_DOUBLE, MPI_MAX, row);
    if (mrc == MPI_SUCCESS)
        mrc = MPI_Allreduce(&row_max, &h->residual, 1, MPI_DOUBLE, MPI_MAX, col);
    if (mrc != MPI_SUCCESS)
        return mpi_failed(mrc);
    if (h->sleep_ms > 0) {
        struct timespec ts = {h->sleep_ms / 1000, (h->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    *done = step + 1 >= h->steps;
    return SAL_OK;
}

/* 64-bit FNV-1a over len bytes, continuing from hash. */
static uint64_t fnv1a(uint64_t hash, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t k = 0; k < len; k++) {
        hash ^= p[k];
        hash *= UINT64_C(1099511628211);
    }
    return hash;
}

/* Collective over comm: gathers the blocks on rank 0, which prints the result line.
 * Returns 0 or -1. */
static int report(const struct heat *h, MPI_Comm comm)
{
    int *counts = NULL, *displs = NULL, rc = -1;
    double *blocks = NULL, *field = NULL;

    if (h->rank == 0) {
        size_t cells = (size_t)h->n * (size_t)h->n;
        counts = malloc((size_t)h->nranks * sizeof(int));
        displs = malloc((size_t)h->nranks * sizeof(int));
        blocks = malloc(cells * sizeof(double));
        field = malloc(cells * sizeof(double));
        if (!counts || !displs || !blocks || !field) {
            fprintf(stderr, "heat2d: out of memory for the %d x %d result\n", h->n, h->n);
            goto out_free;
        }
        for (int r = 0, off = 0; r < h->nranks; r++) {
            int rows, cols, row0, col0;
            block_of(h, r, &rows, &cols, &row0, &col0);
            counts[r] = rows * cols;
            displs[r] = off;
            off += counts[r];
        }
    }
    if (MPI_Gatherv(h->u, h->rows * h->cols, MPI_DOUBLE, blocks, counts, displs, MPI_DOUBLE, 0,
                    comm) != MPI_SUCCESS) {
        fprintf(stderr, "heat2d: MPI_Gatherv of the result failed\n");
        goto out_free;
    }
    rc = 0;
    if (h->rank != 0)
        goto out_free;

    /* Blocks arrive rank by rank; the checksum and the sum run over the global row-major field. */
    for (int r = 0; r < h->nranks; r++) {
        int rows, cols, row0, col0;
        block_of(h, r, &rows, &cols, &row0, &col0);
        for (int i = 0; i < rows; i++)
            memcpy(field + (size_t)(row0 + i) * h->n + col0, blocks + displs[r] + (size_t)i * cols,
                   (size_t)cols * sizeof(double));
    }
    size_t cells = (size_t)h->n * (size_t)h->n;
    double sum = 0.0;
    for (size_t k = 0; k < cells; k++)
        sum += field[k];
    uint64_t hash = fnv1a(UINT64_C(14695981039346656037), field, cells * sizeof(double));
    printf("heat2d: N=%d steps=%" PRId64 " ranks=%d checksum=%016" PRIx64 " sum=%.17g\n", h->n,
           h->steps, h->nranks, hash, sum);
    fflush(stdout);
out_free:
    free(field);
    free(blocks);
    free(displs);
    free(counts);
    return rc;
}

/* Parses a decimal integer in [lo, hi]. Returns 0, or -1 with a message naming what. */
static int parse_long(const char *what, const char *text, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!text)
        return 0;
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "heat2d: %s must be an integer in [%ld, %ld], not '%s'\n", what, lo, hi,
                text);
        return -1;
    }
    *out = v;
    return 0;
}

/* Environment first, then flags. Returns 0, or -1 after printing a message. */
static int parse_args(struct heat *h, int argc, char **argv)
{
    long n = 256, steps = 300, sleep_ms = 0;
    const char *loop = getenv("HEAT2D_LOOP");
    int rc = 0;

    rc |= parse_long("HEAT2D_N", getenv("HEAT2D_N"), 1, 32768, &n);
    rc |= parse_long("HEAT2D_STEPS", getenv("HEAT2D_STEPS"), 0, 1000000000L, &steps);
    rc |= parse_long("HEAT2D_SLEEP_MS", getenv("HEAT2D_SLEEP_MS"), 0, 3600000L, &sleep_ms);
    for (int k = 1; k < argc && rc == 0; k++) {
        const char *value = k + 1 < argc ? argv[k + 1] : NULL;

        if (strcmp(argv[k], "-n") == 0 && value)
            rc = parse_long("-n", value, 1, 32768, &n);
        else if (strcmp(argv[k], "-s") == 0 && value)
            rc = parse_long("-s", value, 0, 1000000000L, &steps);
        else if (strcmp(argv[k], "--sleep-ms") == 0 && value)
            rc = parse_long("--sleep-ms", value, 0, 3600000L, &sleep_ms);
        else if (strcmp(argv[k], "--loop") == 0 && value)
            loop = value;
        else {
            fprintf(stderr,
                    "heat2d: bad argument '%s'\nusage: heat2d [-n N] [-s STEPS] "
                    "[--sleep-ms MS] [--loop run|rc]\n",
                    argv[k]);
            rc = -1;
        }
        k++;
    }
    h->n = (int)n;
    h->steps = steps;
    h->sleep_ms = sleep_ms;
    h->rc_loop = loop && strcmp(loop, "rc") == 0;
    if (rc == 0 && loop && !h->rc_loop && strcmp(loop, "run") != 0) {
        fprintf(stderr, "heat2d: --loop must be run or rc, not '%s'\n", loop);
        rc = -1;
    }
    return rc;
}

/* sal_on_resize: the job continues on fewer ranks (policy shrink). Lays the field out again for the
 * new process grid and protects the new block; the restore then fills it from the checkpoint. */
static int heat_resize(MPI_Comm comm, void *arg)
{
    struct heat *h = arg;
    int rc;

    release(h);
    memset(h->halo, 0, sizeof(h->halo));
    memset(h->side, 0, sizeof(h->side));
    h->u = h->next = NULL;
    if (setup(h, comm) != 0)
        return SAL_ERR_NOMEM;
    int64_t gdims[2] = {h->n, h->n}, offset[2] = {h->row0, h->col0}, count[2] = {h->rows, h->cols};
    rc = sal_unprotect("u");
    if (rc == SAL_OK)
        rc = sal_protect("u", h->u, SAL_DOUBLE, 2, gdims, offset, count);
    return rc;
}

/* The return-code resume mode: the loop stays here; after a failure sal_repair rolls every rank
 * back to the last committed checkpoint and says which step to continue from. */
static int run_rc_loop(struct heat *h)
{
    int64_t step = 0;
    int rc = sal_begin(&step);

    while (rc == SAL_OK && step < h->steps) {
        int done = 0;
        rc = heat_step(sal_comm(), step, h, &done);
        if (rc == SAL_OK)
            rc = sal_step_done(&step);
        if (rc == SAL_ERR_PROC_FAILED)
            rc = sal_repair(&step);
    }
    return rc;
}

/* What Salamander measured in this process (sal_stats), one line on stderr from rank 0. */
static void print_stats(int rank)
{
    double ck = 0, ck_s = 0, rep = 0, rec_s = 0;

    if (rank != 0 || sal_stats("checkpoints", &ck) != SAL_OK ||
        sal_stats("checkpoint_seconds", &ck_s) != SAL_OK || sal_stats("repairs", &rep) != SAL_OK ||
        sal_stats("recovery_seconds", &rec_s) != SAL_OK)
        return;
    fprintf(stderr, "heat2d: rank 0 took %.0f checkpoints (%.3f s) and %.0f repairs (%.3f s)\n", ck,
            ck_s, rep, rec_s);
}

static int sal_failed(const char *call, int rc)
{
    fprintf(stderr, "heat2d: %s: %s: %s\n", call, sal_strerror(rc), sal_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    struct heat h = {0};
    int rc;

    MPI_Init(&argc, &argv);
    if (parse_args(&h, argc, argv) != 0) {
        MPI_Finalize();
        return 2;
    }
    rc = sal_init(&argc, &argv, MPI_COMM_WORLD);
    if (rc != SAL_OK) {
        sal_failed("sal_init", rc);
        goto out_abort;
    }
    /* Local only: a replacement for a failed rank runs this alone. */
    if (setup(&h, sal_comm()) != 0)
        goto out_abort;
    int64_t gdims[2] = {h.n, h.n}, offset[2] = {h.row0, h.col0}, count[2] = {h.rows, h.cols};
    rc = sal_protect("u", h.u, SAL_DOUBLE, 2, gdims, offset, count);
    if (rc != SAL_OK) {
        sal_failed("sal_protect", rc);
        goto out_abort;
    }
    if (rc == SAL_OK)
        rc = sal_on_resize(heat_resize, &h);
    if (rc != SAL_OK) {
        sal_failed("sal_on_resize", rc);
        goto out_abort;
    }
    rc = h.rc_loop ? run_rc_loop(&h) : sal_run(heat_step, &h);
    if (rc == SAL_ERR_STOPPED) {
        /* Checkpointed on the checkpoint signal (docs/slurm.md): end without sal_finalize, which
         * would mark the job finished, and with status 3 so the launcher sees an unfinished job. */
        release(&h);
        MPI_Finalize();
        return 3;
    }
    if (rc != SAL_OK) {
        sal_failed(h.rc_loop ? "the return-code loop" : "sal_run", rc);
        goto out_abort;
    }
    if (report(&h, sal_comm()) != 0)
        goto out_abort;
    print_stats(h.rank);
    rc = sal_finalize();
    if (rc != SAL_OK) {
        sal_failed("sal_finalize", rc);
        goto out_abort;
    }
    release(&h);
    MPI_Finalize();
    return 0;

out_abort:
    /* Other ranks may be waiting in a collective: end the whole job, with a failure status that a
     * launcher in relaunch mode answers by restarting from the last committed checkpoint. */
    release(&h);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}
