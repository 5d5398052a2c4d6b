/*
 * The compute kernel of heat2d, shared by the Salamander example (heat2d.c) and the plain-MPI
 * baseline of the benchmarks (bench/heat2d_plain.c), so that both compute, communicate and report
 * exactly the same way and differ only by Salamander.
 *
 * The grid has N x N points; the values just outside it are fixed (100.0 above the top row, 0.0 on
 * the other three sides) and the initial field is 0.0 except for a hot disc. Each step is one
 * Jacobi sweep, u'(i,j) = 0.25 * ((north + south) + (west + east)), followed by two MPI_Allreduce
 * of the largest change, along the row and then the column of ranks. Every point is computed from
 * the same values in the same order whatever the decomposition, so the final field is bitwise
 * identical on any number of ranks.
 *
 * The ranks form a dims[0] x dims[1] grid (MPI_Dims_create), rank = row * dims[1] + column; each
 * rank owns one contiguous block of the field. Neighbours are computed from the rank and dims on
 * the communicator passed to each call, so the communicator may be replaced between steps.
 */
#ifndef HEAT2D_CORE_H
#define HEAT2D_CORE_H

#include <stddef.h>

#include <mpi.h>
#include <stdint.h>

enum { HEAT_NORTH, HEAT_SOUTH, HEAT_WEST, HEAT_EAST };

struct heat {
    int n;                /* the global grid is n x n */
    int64_t steps;        /* number of sweeps */
    long sleep_ms;        /* pause after each sweep, to make runs long enough for injection tests */
    int nranks, rank;     /* the layout below is valid for this size and rank only */
    int dims[2];          /* process grid: dims[0] rows of ranks, dims[1] columns */
    int rows, cols;       /* size of this rank's block */
    int row0, col0;       /* global index of its first point */
    double *u;            /* this rank's block, rows x cols, row-major; its address never changes */
    double *next;         /* the sweep writes here, then copies into u */
    double *halo[4];      /* received neighbour values: NORTH/SOUTH hold cols, WEST/EAST rows */
    double *side[2];      /* this block's west and east columns, packed for sending */
    double residual;      /* largest change of the last sweep, over all ranks */
    double tol;           /* > 0: the run ends after the first sweep whose residual is below it */
    int setup;            /* --setup (heat2d only): a setup function that communicates */
    int64_t setup_points; /* what it computed: the grid points of every rank, summed */
    int local;            /* --local (heat2d only): per-rank bytes of a rank-dependent size */
    int nonblocking;      /* --nonblocking (heat2d only): heat_exchange_halos_nb each step */
    int waitany;          /* --waitany (heat2d only): ... completing its requests by MPI_Waitany */
    unsigned char *hist;  /* ... (rank + 1) * 1000 + 17 of them, a function of (rank, step) */
    size_t hist_len;
};

/* Reads n, steps and sleep_ms from HEAT2D_N, HEAT2D_STEPS and HEAT2D_SLEEP_MS, then from the flags
 * -n, -s and --sleep-ms (defaults 256, 300, 0), and tol from --tol (default 0: run every step).
 * When loop is not NULL, *loop is set from HEAT2D_LOOP and then from --loop (unchecked text), and
 * --setup sets setup, --local local, --nonblocking nonblocking and --waitany both nonblocking and
 * waitany; when it is NULL, --loop, --setup, --local, --nonblocking and --waitany are not
 * accepted. Returns 0, or -1 after
 * printing a message with the usage. */
int heat_parse_args(struct heat *h, int argc, char **argv, const char **loop);

/* Local: lays out this rank's block for the size and rank of comm, allocates its buffers and sets
 * the initial field. Buffers of an earlier layout must have been released. Returns 0, or -1 after
 * printing a message (the buffers allocated so far are left for heat_release). */
int heat_setup(struct heat *h, MPI_Comm comm);

/* Frees the buffers and sets their pointers to NULL; safe to call twice. */
void heat_release(struct heat *h);

/* Collective over comm (the communicator of heat_setup's layout): fills the four halos from the
 * neighbours or from the fixed boundary values. Returns MPI_SUCCESS or the first failed call's
 * code. */
int heat_exchange_halos(struct heat *h, MPI_Comm comm);

/* heat_exchange_halos with nonblocking calls: the four MPI_Irecv, then the four MPI_Isend, then one
 * MPI_Waitall (h->waitany: eight MPI_Waitany, in whatever order the requests complete). The halos
 * received are the same, so is the field. */
int heat_exchange_halos_nb(struct heat *h, MPI_Comm comm);

/* Local: one Jacobi sweep of the block (halos filled), copied back into u. Returns the largest
 * change. */
double heat_sweep(struct heat *h);

/* Collective over row and then col (the ranks of this rank's row and column of the process grid):
 * h->residual = the largest change over all ranks. Returns MPI_SUCCESS or an MPI error code. */
int heat_reduce_change(struct heat *h, double change, MPI_Comm row, MPI_Comm col);

/* Sleeps sleep_ms milliseconds (nothing when 0). */
void heat_pause(const struct heat *h);

/* Collective over comm: gathers the blocks on rank 0, which prints the result line, checksum being
 * the 64-bit FNV-1a hash of the global field's bytes in row-major order and sum the sum of its
 * values in that order:
 *     heat2d: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
 * Returns 0, or -1 after printing a message. */
int heat_report(const struct heat *h, MPI_Comm comm);
/* Rank 0 prints "heat2d: step loop <seconds> s" on stderr: the time of the loop of sweeps, which
 * bench/recovery compares between heat2d and heat2d_plain. */
void heat_print_loop_time(const struct heat *h, double seconds);

#endif
