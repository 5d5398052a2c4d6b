/*
 * heat2d_plain: the heat2d example without Salamander, the baseline of `ratio overhead/plain` in
 * bench/recovery. Same kernel (examples/heat2d/heat2d_core.c), same arguments except --loop, same
 * result line and checksum; the row and column communicators of the residual are split once from
 * MPI_COMM_WORLD. No checkpoint, no failure handling.
 *
 * Usage: heat2d_plain [-n N] [-s STEPS] [--sleep-ms MS]    (environment as heat2d)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>

#include <mpi.h>

#include "heat2d_core.h"

/* Collective: the sweeps, on MPI_COMM_WORLD. Returns MPI_SUCCESS or an MPI error code. */
static int run(struct heat *h)
{
    MPI_Comm row = MPI_COMM_NULL, col = MPI_COMM_NULL;
    int prow = h->rank / h->dims[1], pcol = h->rank % h->dims[1];
    int rc = MPI_Comm_split(MPI_COMM_WORLD, prow, pcol, &row);

    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_split(MPI_COMM_WORLD, pcol, prow, &col);
    for (int64_t step = 0; rc == MPI_SUCCESS && step < h->steps; step++) {
        rc = heat_exchange_halos(h, MPI_COMM_WORLD);
        if (rc == MPI_SUCCESS)
            rc = heat_reduce_change(h, heat_sweep(h), row, col);
        heat_pause(h);
    }
    if (col != MPI_COMM_NULL)
        MPI_Comm_free(&col);
    if (row != MPI_COMM_NULL)
        MPI_Comm_free(&row);
    return rc;
}

int main(int argc, char **argv)
{
    struct heat h = {0};

    MPI_Init(&argc, &argv);
    if (heat_parse_args(&h, argc, argv, NULL) != 0) {
        MPI_Finalize();
        return 2;
    }
    if (heat_setup(&h, MPI_COMM_WORLD) != 0)
        goto out_abort;
    double t_loop = MPI_Wtime();
    if (run(&h) != MPI_SUCCESS) {
        fprintf(stderr, "heat2d_plain: an MPI call of the sweeps failed\n");
        goto out_abort;
    }
    t_loop = MPI_Wtime() - t_loop;
    if (heat_report(&h, MPI_COMM_WORLD) != 0)
        goto out_abort;
    heat_print_loop_time(&h, t_loop);
    heat_release(&h);
    MPI_Finalize();
    return 0;

out_abort:
    heat_release(&h);
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
}
