/*
 * port_before: a plain MPI code before Salamander; port_after.c is the same code after, and
 * docs/porting.md walks through the difference.
 *
 * 1-D explicit diffusion of N points over the ranks in contiguous blocks; the value left of the
 * first point is held at 1.0, right of the last at 0.0. Rank 0 gathers the field and prints one
 * line, checksum being the 64-bit FNV-1a hash of its bytes:
 *     port: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
 *
 * Usage: port_before [STEPS]   (default 400)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <mpi.h>

#define N 4096

/* Collective: fills u[0] and u[n + 1] from the neighbours (a receive from MPI_PROC_NULL leaves the
 * boundary value as it is). Returns the first MPI error code. */
static int exchange(double *u, int n, int rank, int size, MPI_Comm comm)
{
    int left = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    int right = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
    int rc = MPI_Sendrecv(&u[1], 1, MPI_DOUBLE, left, 0, &u[n + 1], 1, MPI_DOUBLE, right, 0, comm,
                          MPI_STATUS_IGNORE);

    if (rc == MPI_SUCCESS)
        rc = MPI_Sendrecv(&u[n], 1, MPI_DOUBLE, right, 1, &u[0], 1, MPI_DOUBLE, left, 1, comm,
                          MPI_STATUS_IGNORE);
    return rc;
}

static void update(double *u, double *tmp, int n)
{
    for (int i = 1; i <= n; i++)
        tmp[i] = u[i] + 0.25 * ((u[i - 1] - u[i]) + (u[i + 1] - u[i]));
    for (int i = 1; i <= n; i++)
        u[i] = tmp[i];
}

/* Collective: gathers the N points on rank 0, which prints the result line. */
static void report(const double *u, int n, int rank, int size, int steps, MPI_Comm comm)
{
    int *counts = malloc((size_t)size * sizeof(int)), *displs = malloc((size_t)size * sizeof(int));
    double *field = rank == 0 ? malloc(N * sizeof(double)) : NULL;

    for (int r = 0; r < size; r++) {
        counts[r] = N / size + (r < N % size);
        displs[r] = r * (N / size) + (r < N % size ? r : N % size);
    }
    MPI_Gatherv(&u[1], n, MPI_DOUBLE, field, counts, displs, MPI_DOUBLE, 0, comm);
    if (rank == 0) {
        const unsigned char *p = (const unsigned char *)field;
        uint64_t hash = UINT64_C(14695981039346656037);
        double sum = 0.0;
        for (size_t k = 0; k < N * sizeof(double); k++)
            hash = (hash ^ p[k]) * UINT64_C(1099511628211);
        for (int k = 0; k < N; k++)
            sum += field[k];
        printf("port: N=%d steps=%d ranks=%d checksum=%016" PRIx64 " sum=%.17g\n", N, steps, size,
               hash, sum);
    }
    free(field);
    free(displs);
    free(counts);
}

int main(int argc, char **argv)
{
    int rank, size, steps = argc > 1 ? atoi(argv[1]) : 400;

    MPI_Init(&argc, &argv);
    MPI_Comm comm = MPI_COMM_WORLD;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int n = N / size + (rank < N % size);
    double *u = calloc((size_t)n + 2, sizeof(double)), *tmp = calloc((size_t)n + 2, sizeof(double));
    if (rank == 0)
        u[0] = 1.0;

    for (int step = 0; step < steps; step++) {
        exchange(u, n, rank, size, comm);
        update(u, tmp, n);
    }

    report(u, n, rank, size, steps, comm);
    free(tmp);
    free(u);
    MPI_Finalize();
    return 0;
}
