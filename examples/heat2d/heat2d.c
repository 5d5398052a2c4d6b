/*
 * heat2d: 2-D Jacobi heat diffusion protected by Salamander. The example to copy.
 *
 * The kernel (layout, halo exchange, sweep, residual, result line) is in heat2d_core.c, shared with
 * the plain-MPI baseline bench/heat2d_plain.c; this file is the Salamander glue. The field is
 * described in heat2d_core.h: every point is computed from the same values in the same order
 * whatever the decomposition, so the final field is bitwise identical on any number of ranks and
 * after any number of recoveries.
 *
 * Each rank owns one contiguous block of the field, the protected region "u". The communicator is
 * not a Cartesian one because it is replaced after a repair: neighbours are computed from the rank
 * and dims in every step, on the communicator that sal_run passes in. The largest change of each
 * sweep is reduced over the row and the column of ranks, derived communicators (sal_comm_split)
 * that Salamander creates again after a repair.
 *
 * Usage: heat2d [-n N] [-s STEPS] [--sleep-ms MS] [--tol T] [--loop run|rc] [--setup] [--local]
 *               [--nonblocking] [--waitany]
 * Defaults come from HEAT2D_N, HEAT2D_STEPS, HEAT2D_SLEEP_MS and HEAT2D_LOOP, else 256, 300, 0 and
 * run. --tol T > 0 ends the run after the first sweep whose residual (the largest change, an
 * allreduce) is below T, at most STEPS sweeps (--loop run only). --loop run hands the loop to
 * sal_run (failures unwind into it); --loop rc keeps the loop in main and repairs in the
 * return-code resume mode (sal_begin / sal_step_done / sal_repair). --setup registers a setup
 * function that communicates (sal_on_setup), which every step relies on. --local protects per-rank
 * bytes of a size that depends on the rank (sal_protect_local), checked before every step.
 * --nonblocking exchanges the halos with MPI_Irecv / MPI_Isend / MPI_Waitall instead of
 * MPI_Sendrecv (the same field); --waitany as well, completing them with MPI_Waitany, whose order
 * local rollback does not record (a failure then rolls back globally).
 * Rank 0 prints one line, checksum being the 64-bit FNV-1a hash of the global field's bytes in
 * row-major order and sum the sum of its values in that order:
 *     heat2d: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/salamander.h>

#include "heat2d_core.h"

/* SAL_ERR_PROC_FAILED when an MPI error code reports a failed process (only seen in the return-code
 * mode: under sal_run such a call never returns), else SAL_ERR_MPI. */
static int mpi_failed(int mpi_rc)
{
    return sal_is_proc_failure(mpi_rc) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI;
}

/* --local: byte i of the per-rank data of `rank` after `step` sweeps (a splitmix64 mix). */
static unsigned char hist_byte(int rank, int64_t step, size_t i)
{
    uint64_t x = ((uint64_t)rank << 40) ^ ((uint64_t)step << 20) ^ (uint64_t)i;

    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (unsigned char)(x ^ (x >> 31));
}

/* --local: sets the per-rank data to its value after `step` sweeps. */
static void hist_set(struct heat *h, int64_t step)
{
    for (size_t i = 0; i < h->hist_len; i++)
        h->hist[i] = hist_byte(h->rank, step, i);
}

/* --local: 0 when the per-rank data holds its value after `step` sweeps (a restore put back the
 * bytes this rank saved at that step), else -1 after a message. */
static int hist_check(const struct heat *h, int64_t step)
{
    for (size_t i = 0; i < h->hist_len; i++) {
        if (h->hist[i] == hist_byte(h->rank, step, i))
            continue;
        fprintf(stderr,
                "heat2d: rank %d: per-rank data wrong at step %lld: byte %zu of %zu is %u, "
                "expected %u\n",
                h->rank, (long long)step, i, h->hist_len, h->hist[i], hist_byte(h->rank, step, i));
        return -1;
    }
    return 0;
}

/* --local: allocates this rank's (rank + 1) * 1000 + 17 bytes, sets them for step 0 and protects
 * them. Local. */
static int hist_protect(struct heat *h)
{
    h->hist_len = (size_t)(h->rank + 1) * 1000 + 17;
    h->hist = malloc(h->hist_len);
    if (!h->hist)
        return SAL_ERR_NOMEM;
    hist_set(h, 0);
    return sal_protect_local("hist", h->hist, h->hist_len);
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
    if (h->setup && h->setup_points != (int64_t)h->n * h->n) {
        fprintf(stderr, "heat2d: rank %d: the setup has not run at step %lld (%lld points known)\n",
                h->rank, (long long)step, (long long)h->setup_points);
        return SAL_ERR_STATE;
    }
    if (h->hist && hist_check(h, step) != 0)
        return SAL_ERR_CORRUPT;
    int mrc = h->nonblocking ? heat_exchange_halos_nb(h, comm) : heat_exchange_halos(h, comm);
    if (mrc != MPI_SUCCESS)
        return mpi_failed(mrc);
    double change = heat_sweep(h);
    /* The largest change, over the row of ranks and then over the column: derived communicators,
     * which Salamander creates again after a repair. */
    MPI_Comm row, col;
    int prow = h->rank / h->dims[1], pcol = h->rank % h->dims[1];
    int src = sal_comm_split("row", prow, pcol, &row);
    if (src == SAL_OK)
        src = sal_comm_split("col", pcol, prow, &col);
    if (src != SAL_OK)
        return src;
    mrc = heat_reduce_change(h, change, row, col);
    if (mrc != MPI_SUCCESS)
        return mpi_failed(mrc);
    heat_pause(h);
    if (h->hist)
        hist_set(h, step + 1);
    /* A convergence test on a collective result (the residual): sal_run confirms the step that
     * reports done with an agreement, so a residual a failure corrupted cannot end the run. */
    *done = step + 1 >= h->steps || (h->tol > 0 && h->residual < h->tol);
    return SAL_OK;
}

/* sal_on_resize: the job continues on fewer ranks (policy shrink). Lays the field out again for the
 * new process grid and protects the new block; the restore then fills it from the checkpoint. */
static int heat_resize(MPI_Comm comm, void *arg)
{
    struct heat *h = arg;
    int rc;

    heat_release(h);
    if (heat_setup(h, comm) != 0)
        return SAL_ERR_NOMEM;
    int64_t gdims[2] = {h->n, h->n}, offset[2] = {h->row0, h->col0}, count[2] = {h->rows, h->cols};
    rc = sal_unprotect("u");
    if (rc == SAL_OK)
        rc = sal_protect("u", h->u, SAL_DOUBLE, 2, gdims, offset, count);
    return rc;
}

/* sal_on_setup (--setup): setup that communicates, as a code builds its halo map. The points of
 * every rank's block are summed over the communicator; the step checks that they cover the grid,
 * so a process that did not run the setup (a replacement, where nothing but the protected data is
 * restored) stops the run instead of computing with a value it does not have. Rank 0 and the new
 * processes say why it ran. */
static int heat_on_setup(MPI_Comm comm, int64_t step, int why, void *arg)
{
    struct heat *h = arg;
    long long mine = (long long)h->rows * h->cols, all = 0;
    int mrc = MPI_Allreduce(&mine, &all, 1, MPI_LONG_LONG, MPI_SUM, comm);

    if (mrc != MPI_SUCCESS)
        return mpi_failed(mrc);
    h->setup_points = all;
    if (h->rank == 0 || (why & SAL_SETUP_NEW_PROCESS))
        fprintf(stderr, "heat2d: rank %d set up at step %lld (%s%s)\n", h->rank, (long long)step,
                (why & SAL_SETUP_START)     ? "start"
                : (why & SAL_SETUP_RESTART) ? "restart"
                                            : "rollback",
                (why & SAL_SETUP_NEW_PROCESS) ? ", new process" : "");
    return SAL_OK;
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

/* Local, after the layout: protects the field (and the per-rank data of --local), registers the
 * resize function and the setup function of --setup. Returns 0, or 1 after a message. */
static int register_state(struct heat *h)
{
    int64_t gdims[2] = {h->n, h->n}, offset[2] = {h->row0, h->col0};
    int64_t count[2] = {h->rows, h->cols};
    int rc = sal_protect("u", h->u, SAL_DOUBLE, 2, gdims, offset, count);

    if (rc != SAL_OK)
        return sal_failed("sal_protect", rc);
    if (h->local && (rc = hist_protect(h)) != SAL_OK)
        return sal_failed("sal_protect_local", rc);
    if ((rc = sal_on_resize(heat_resize, h)) != SAL_OK)
        return sal_failed("sal_on_resize", rc);
    if (h->setup && (rc = sal_on_setup(heat_on_setup, h)) != SAL_OK)
        return sal_failed("sal_on_setup", rc);
    return 0;
}

int main(int argc, char **argv)
{
    struct heat h = {0};
    const char *loop = NULL;
    int rc, rc_loop = 0;

    MPI_Init(&argc, &argv);
    rc = heat_parse_args(&h, argc, argv, &loop);
    rc_loop = loop && strcmp(loop, "rc") == 0;
    if (rc == 0 && loop && !rc_loop && strcmp(loop, "run") != 0) {
        fprintf(stderr, "heat2d: --loop must be run or rc, not '%s'\n", loop);
        rc = -1;
    }
    if (rc == 0 && rc_loop && h.tol > 0) {
        fprintf(stderr, "heat2d: --tol needs --loop run: the return-code loop ends on its step "
                        "count only\n");
        rc = -1;
    }
    if (rc != 0) {
        MPI_Finalize();
        return 2;
    }
    rc = sal_init(&argc, &argv, MPI_COMM_WORLD);
    if (rc != SAL_OK) {
        sal_failed("sal_init", rc);
        goto out_abort;
    }
    /* Local only: a replacement for a failed rank runs this alone. */
    if (heat_setup(&h, sal_comm()) != 0)
        goto out_abort;
    if (register_state(&h) != 0)
        goto out_abort;
    double t_loop = MPI_Wtime();
    rc = rc_loop ? run_rc_loop(&h) : sal_run(heat_step, &h);
    t_loop = MPI_Wtime() - t_loop;
    if (rc == SAL_ERR_STOPPED) {
        /* Checkpointed on the checkpoint signal (docs/slurm.md): end without sal_finalize, which
         * would mark the job finished, and with status 3 so the launcher sees an unfinished job. */
        heat_release(&h);
        free(h.hist);
        MPI_Finalize();
        return 3;
    }
    if (rc != SAL_OK) {
        sal_failed(rc_loop ? "the return-code loop" : "sal_run", rc);
        goto out_abort;
    }
    if (heat_report(&h, sal_comm()) != 0)
        goto out_abort;
    heat_print_loop_time(&h, t_loop);
    print_stats(h.rank);
    rc = sal_finalize();
    if (rc != SAL_OK) {
        sal_failed("sal_finalize", rc);
        goto out_abort;
    }
    heat_release(&h);
    free(h.hist);
    MPI_Finalize();
    return 0;

out_abort:
    /* Other ranks may be waiting in a collective: end the whole job, with a failure status that a
     * launcher in relaunch mode answers by restarting from the last committed checkpoint. */
    heat_release(&h);
    free(h.hist);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}
