/* The compute kernel of heat2d (heat2d_core.h): layout, halo exchange, sweep, residual, report. */
#define _POSIX_C_SOURCE 200809L

#include "heat2d_core.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOP_EDGE 100.0 /* fixed temperature above row 0; the other edges are 0.0 */
#define HOT_SPOT 80.0  /* initial temperature inside the hot disc */

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

int heat_setup(struct heat *h, MPI_Comm comm)
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
    h->halo[HEAT_NORTH] = malloc((size_t)h->cols * sizeof(double));
    h->halo[HEAT_SOUTH] = malloc((size_t)h->cols * sizeof(double));
    for (int k = HEAT_WEST; k <= HEAT_EAST; k++)
        h->halo[k] = malloc((size_t)h->rows * sizeof(double));
    for (int k = 0; k < 2; k++)
        h->side[k] = malloc((size_t)h->rows * sizeof(double));
    if (!h->u || !h->next || !h->halo[HEAT_NORTH] || !h->halo[HEAT_SOUTH] || !h->halo[HEAT_WEST] ||
        !h->halo[HEAT_EAST] || !h->side[0] || !h->side[1]) {
        fprintf(stderr, "heat2d: out of memory for a %d x %d block\n", h->rows, h->cols);
        return -1;
    }
    for (int i = 0; i < h->rows; i++)
        for (int j = 0; j < h->cols; j++)
            h->u[(size_t)i * h->cols + j] = initial(h->n, h->row0 + i, h->col0 + j);
    return 0;
}

void heat_release(struct heat *h)
{
    free(h->u);
    free(h->next);
    h->u = h->next = NULL;
    for (int k = 0; k < 4; k++) {
        free(h->halo[k]);
        h->halo[k] = NULL;
    }
    for (int k = 0; k < 2; k++) {
        free(h->side[k]);
        h->side[k] = NULL;
    }
}

static void fill(double *v, int len, double value)
{
    for (int k = 0; k < len; k++)
        v[k] = value;
}

/* The neighbours of this rank (MPI_PROC_NULL at the edges) in the order NORTH, SOUTH, WEST, EAST;
 * the halos set to the fixed boundary values and this block's sides packed for sending. */
static void prepare_exchange(struct heat *h, int nb[4])
{
    int pr = h->rank / h->dims[1], pc = h->rank % h->dims[1];

    nb[HEAT_NORTH] = pr > 0 ? h->rank - h->dims[1] : MPI_PROC_NULL;
    nb[HEAT_SOUTH] = pr < h->dims[0] - 1 ? h->rank + h->dims[1] : MPI_PROC_NULL;
    nb[HEAT_WEST] = pc > 0 ? h->rank - 1 : MPI_PROC_NULL;
    nb[HEAT_EAST] = pc < h->dims[1] - 1 ? h->rank + 1 : MPI_PROC_NULL;
    fill(h->halo[HEAT_NORTH], h->cols, TOP_EDGE);
    fill(h->halo[HEAT_SOUTH], h->cols, 0.0);
    fill(h->halo[HEAT_WEST], h->rows, 0.0);
    fill(h->halo[HEAT_EAST], h->rows, 0.0);
    for (int i = 0; i < h->rows; i++) {
        h->side[0][i] = h->u[(size_t)i * h->cols];
        h->side[1][i] = h->u[(size_t)i * h->cols + h->cols - 1];
    }
}

/* A receive from MPI_PROC_NULL leaves the buffer as it is: the boundary values filled first stay.
 */
int heat_exchange_halos(struct heat *h, MPI_Comm comm)
{
    int nb[4];
    const double *last_row = h->u + (size_t)(h->rows - 1) * h->cols;
    int rc[4];

    prepare_exchange(h, nb);
    int north = nb[HEAT_NORTH], south = nb[HEAT_SOUTH], west = nb[HEAT_WEST], east = nb[HEAT_EAST];
    /* Tags name the direction of travel. */
    rc[0] = MPI_Sendrecv(h->u, h->cols, MPI_DOUBLE, north, 0, h->halo[HEAT_SOUTH], h->cols,
                         MPI_DOUBLE, south, 0, comm, MPI_STATUS_IGNORE);
    rc[1] = MPI_Sendrecv(last_row, h->cols, MPI_DOUBLE, south, 1, h->halo[HEAT_NORTH], h->cols,
                         MPI_DOUBLE, north, 1, comm, MPI_STATUS_IGNORE);
    rc[2] = MPI_Sendrecv(h->side[0], h->rows, MPI_DOUBLE, west, 2, h->halo[HEAT_EAST], h->rows,
                         MPI_DOUBLE, east, 2, comm, MPI_STATUS_IGNORE);
    rc[3] = MPI_Sendrecv(h->side[1], h->rows, MPI_DOUBLE, east, 3, h->halo[HEAT_WEST], h->rows,
                         MPI_DOUBLE, west, 3, comm, MPI_STATUS_IGNORE);
    for (int k = 0; k < 4; k++)
        if (rc[k] != MPI_SUCCESS)
            return rc[k];
    return MPI_SUCCESS;
}

int heat_exchange_halos_nb(struct heat *h, MPI_Comm comm)
{
    int nb[4], rc = MPI_SUCCESS;
    const double *last_row = h->u + (size_t)(h->rows - 1) * h->cols;
    MPI_Request req[8];

    prepare_exchange(h, nb);
    /* Tags name the direction of travel, as in heat_exchange_halos. */
    const void *out[4] = {h->u, last_row, h->side[0], h->side[1]};
    const int out_to[4] = {nb[HEAT_NORTH], nb[HEAT_SOUTH], nb[HEAT_WEST], nb[HEAT_EAST]};
    const int in_from[4] = {nb[HEAT_SOUTH], nb[HEAT_NORTH], nb[HEAT_EAST], nb[HEAT_WEST]};
    double *in[4] = {h->halo[HEAT_SOUTH], h->halo[HEAT_NORTH], h->halo[HEAT_EAST],
                     h->halo[HEAT_WEST]};
    for (int k = 0; k < 8; k++)
        req[k] = MPI_REQUEST_NULL;
    for (int t = 0; t < 4 && rc == MPI_SUCCESS; t++)
        rc = MPI_Irecv(in[t], t < 2 ? h->cols : h->rows, MPI_DOUBLE, in_from[t], t, comm, &req[t]);
    for (int t = 0; t < 4 && rc == MPI_SUCCESS; t++)
        rc = MPI_Isend(out[t], t < 2 ? h->cols : h->rows, MPI_DOUBLE, out_to[t], t, comm,
                       &req[4 + t]);
    /* After a failed post, the requests posted still complete (or fail) before the buffers are
     * reused. */
    int wrc = MPI_SUCCESS;
    if (!h->waitany)
        wrc = MPI_Waitall(8, req, MPI_STATUSES_IGNORE);
    for (int k = 0, idx; h->waitany && k < 8 && wrc == MPI_SUCCESS; k++)
        wrc = MPI_Waitany(8, req, &idx, MPI_STATUS_IGNORE);
    return rc != MPI_SUCCESS ? rc : wrc;
}

double heat_sweep(struct heat *h)
{
    const int rows = h->rows, cols = h->cols;
    const double *u = h->u;
    double change = 0.0;

    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            size_t k = (size_t)i * cols + j;
            double n = i > 0 ? u[k - cols] : h->halo[HEAT_NORTH][j];
            double s = i < rows - 1 ? u[k + cols] : h->halo[HEAT_SOUTH][j];
            double w = j > 0 ? u[k - 1] : h->halo[HEAT_WEST][i];
            double e = j < cols - 1 ? u[k + 1] : h->halo[HEAT_EAST][i];

            h->next[k] = 0.25 * ((n + s) + (w + e));
            change = fmax(change, fabs(h->next[k] - u[k]));
        }
    }
    memcpy(h->u, h->next, (size_t)rows * cols * sizeof(double));
    return change;
}

int heat_reduce_change(struct heat *h, double change, MPI_Comm row, MPI_Comm col)
{
    double row_max = 0.0;
    int rc = MPI_Allreduce(&change, &row_max, 1, MPI_DOUBLE, MPI_MAX, row);

    if (rc == MPI_SUCCESS)
        rc = MPI_Allreduce(&row_max, &h->residual, 1, MPI_DOUBLE, MPI_MAX, col);
    return rc;
}

void heat_pause(const struct heat *h)
{
    if (h->sleep_ms > 0) {
        struct timespec ts = {h->sleep_ms / 1000, (h->sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
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

/* Rank 0: the blocks, as gathered rank by rank, into the global row-major field. */
static void assemble(const struct heat *h, const double *blocks, const int *displs, double *field)
{
    for (int r = 0; r < h->nranks; r++) {
        int rows, cols, row0, col0;
        block_of(h, r, &rows, &cols, &row0, &col0);
        for (int i = 0; i < rows; i++)
            memcpy(field + (size_t)(row0 + i) * h->n + col0, blocks + displs[r] + (size_t)i * cols,
                   (size_t)cols * sizeof(double));
    }
}

static void print_result(const struct heat *h, const double *field)
{
    size_t cells = (size_t)h->n * (size_t)h->n;
    double sum = 0.0;

    for (size_t k = 0; k < cells; k++)
        sum += field[k];
    uint64_t hash = fnv1a(UINT64_C(14695981039346656037), field, cells * sizeof(double));
    printf("heat2d: N=%d steps=%" PRId64 " ranks=%d checksum=%016" PRIx64 " sum=%.17g\n", h->n,
           h->steps, h->nranks, hash, sum);
    fflush(stdout);
}

void heat_print_loop_time(const struct heat *h, double seconds)
{
    if (h->rank == 0)
        fprintf(stderr, "heat2d: step loop %.6f s\n", seconds);
}

int heat_report(const struct heat *h, MPI_Comm comm)
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
    if (h->rank == 0) {
        assemble(h, blocks, displs, field);
        print_result(h, field);
    }
out_free:
    free(field);
    free(blocks);
    free(displs);
    free(counts);
    return rc;
}

/* Parses a decimal integer in [lo, hi]; NULL text leaves *out. Returns 0, or -1 with a message. */
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

/* --tol: a number >= 0. Returns 0, or -1 after a message. */
static int parse_tol(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || *end != '\0' || !(v >= 0.0) || v > 1e300) {
        fprintf(stderr, "heat2d: --tol must be a number >= 0, not '%s'\n", text);
        return -1;
    }
    *out = v;
    return 0;
}

int heat_parse_args(struct heat *h, int argc, char **argv, const char **loop)
{
    long n = 256, steps = 300, sleep_ms = 0;
    int rc = 0;

    h->tol = 0.0;
    if (loop)
        *loop = getenv("HEAT2D_LOOP");
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
        else if (strcmp(argv[k], "--tol") == 0 && value)
            rc = parse_tol(value, &h->tol);
        else if (loop && strcmp(argv[k], "--loop") == 0 && value)
            *loop = value;
        else if (loop && strcmp(argv[k], "--setup") == 0) {
            h->setup = 1;
            continue; /* no value */
        } else if (loop && strcmp(argv[k], "--local") == 0) {
            h->local = 1;
            continue;
        } else if (loop && strcmp(argv[k], "--nonblocking") == 0) {
            h->nonblocking = 1;
            continue;
        } else if (loop && strcmp(argv[k], "--waitany") == 0) {
            h->nonblocking = h->waitany = 1;
            continue;
        } else {
            fprintf(stderr,
                    "heat2d: bad argument '%s'\nusage: heat2d [-n N] [-s STEPS] "
                    "[--sleep-ms MS] [--tol T]%s\n",
                    argv[k],
                    loop ? " [--loop run|rc] [--setup] [--local] [--nonblocking] [--waitany]" : "");
            rc = -1;
        }
        k++;
    }
    h->n = (int)n;
    h->steps = steps;
    h->sleep_ms = sleep_ms;
    return rc;
}
