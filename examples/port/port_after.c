/*
 * The port example (docs/porting.md): port_before.c is a plain MPI code, port_after.c the same code
 * made fault tolerant with Salamander.
 *
 * 1-D explicit diffusion of N points over the ranks in contiguous blocks, with a conductivity that
 * depends on the global index of each point; the value left of the first point is held at 1.0,
 * right of the last at 0.0. The setup communicates (each rank learns the global index of its first
 * point with MPI_Exscan), every MPI call uses MPI_COMM_WORLD, and each rank keeps its block with
 * its two halo values (data of its own, not a block of a global array). Rank 0 gathers the field
 * and prints one line, checksum being the 64-bit FNV-1a hash of its bytes:
 *     port: N=<n> steps=<s> ranks=<p> checksum=<16 hex digits> sum=<%.17g>
 *
 * Usage: port_before [STEPS] or port_after [STEPS]   (default 400)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <salamander/salamander.h>

#define N 4096

struct state {
    int rank, size, n;   /* this rank, the number of ranks, the number of its points */
    double *u, *tmp, *k; /* u[0] and u[n + 1] are the halos; k[i]: the conductivity of point i */
};

/* Collective: the conductivity of this rank's points, from the global index of its first point.
 * Returns the MPI error code. */
static int setup(struct state *s)
{
    int first = 0, rc = MPI_Exscan(&s->n, &first, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    if (s->rank == 0)
        first = 0; /* MPI_Exscan leaves rank 0's result undefined */
    for (int i = 1; i <= s->n; i++)
        s->k[i] = 0.125 + 0.0625 * ((first + i - 1) % 3);
    return rc;
}

/* Collective: fills u[0] and u[n + 1] from the neighbours (a receive from MPI_PROC_NULL leaves the
 * boundary value as it is). Returns the first MPI error code. */
static int exchange(struct state *s)
{
    int left = s->rank > 0 ? s->rank - 1 : MPI_PROC_NULL;
    int right = s->rank < s->size - 1 ? s->rank + 1 : MPI_PROC_NULL;
    int rc = MPI_Sendrecv(&s->u[1], 1, MPI_DOUBLE, left, 0, &s->u[s->n + 1], 1, MPI_DOUBLE, right,
                          0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);

    if (rc == MPI_SUCCESS)
        rc = MPI_Sendrecv(&s->u[s->n], 1, MPI_DOUBLE, right, 1, &s->u[0], 1, MPI_DOUBLE, left, 1,
                          MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return rc;
}

/* sal_on_setup: every rank runs the setup again after a rollback (a replacement has none of it). */
static int setup_again(MPI_Comm comm, int64_t step, int why, void *arg)
{
    (void)comm, (void)step, (void)why;
    return setup(arg);
}

static void update(struct state *s)
{
    for (int i = 1; i <= s->n; i++)
        s->tmp[i] = s->u[i] + s->k[i] * ((s->u[i - 1] - s->u[i]) + (s->u[i + 1] - s->u[i]));
    for (int i = 1; i <= s->n; i++)
        s->u[i] = s->tmp[i];
}

/* Collective: gathers the N points on rank 0, which prints the result line. */
static void report(const struct state *s, int steps)
{
    int *counts = malloc((size_t)s->size * sizeof(int));
    int *displs = malloc((size_t)s->size * sizeof(int));
    double *field = s->rank == 0 ? malloc(N * sizeof(double)) : NULL;

    for (int r = 0; r < s->size; r++) {
        counts[r] = N / s->size + (r < N % s->size);
        displs[r] = r * (N / s->size) + (r < N % s->size ? r : N % s->size);
    }
    MPI_Gatherv(&s->u[1], s->n, MPI_DOUBLE, field, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (s->rank == 0) {
        const unsigned char *p = (const unsigned char *)field;
        uint64_t hash = UINT64_C(14695981039346656037);
        double sum = 0.0;
        for (size_t k = 0; k < N * sizeof(double); k++)
            hash = (hash ^ p[k]) * UINT64_C(1099511628211);
        for (int k = 0; k < N; k++)
            sum += field[k];
        printf("port: N=%d steps=%d ranks=%d checksum=%016" PRIx64 " sum=%.17g\n", N, steps,
               s->size, hash, sum);
    }
    free(field);
    free(displs);
    free(counts);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 400;
    struct state s;

    MPI_Init(&argc, &argv);
    if (sal_init(&argc, &argv, MPI_COMM_WORLD) != SAL_OK)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Comm_rank(MPI_COMM_WORLD, &s.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &s.size);
    s.n = N / s.size + (s.rank < N % s.size);
    s.u = calloc((size_t)s.n + 2, sizeof(double));
    s.tmp = calloc((size_t)s.n + 2, sizeof(double));
    s.k = calloc((size_t)s.n + 2, sizeof(double));
    if (s.rank == 0)
        s.u[0] = 1.0;
    if (sal_protect_local("u", s.u, ((size_t)s.n + 2) * sizeof(double)) != SAL_OK ||
        sal_on_setup(setup_again, &s) != SAL_OK)
        MPI_Abort(MPI_COMM_WORLD, 1);

    int64_t step;
    int rc = sal_begin(&step); /* restores u and runs the setup */
    while (rc == SAL_OK && step < steps) {
        exchange(&s);
        update(&s);
        rc = sal_step_done(&step); /* SAL_ERR_PROC_FAILED: an MPI call of the step saw a failure */
        if (rc == SAL_ERR_PROC_FAILED)
            rc = sal_repair(&step); /* repairs, rolls back, runs the setup again */
    }
    if (rc != SAL_OK)
        MPI_Abort(MPI_COMM_WORLD, 1);

    report(&s, steps);
    sal_finalize();
    free(s.k);
    free(s.tmp);
    free(s.u);
    MPI_Finalize();
    return 0;
}
