/* A program built against an installed Salamander: protects a counter and a small array, runs a few
 * steps in sal_run with a checkpoint after each, and prints the result. */
#include <stdio.h>

#include <salamander/salamander.h>

struct state {
    double v[4];
    int64_t steps;
};

static int step(MPI_Comm comm, int64_t done_steps, void *arg, int *done)
{
    struct state *s = arg;
    double sum = 0.0;

    for (int i = 0; i < 4; i++)
        s->v[i] += 1.0;
    MPI_Allreduce(&s->v[0], &sum, 1, MPI_DOUBLE, MPI_SUM, comm);
    *done = done_steps + 1 >= s->steps;
    return SAL_OK;
}

int main(int argc, char **argv)
{
    struct state s = {{0, 0, 0, 0}, 5};
    int rank, size, rc;

    MPI_Init(&argc, &argv);
    rc = sal_init(&argc, &argv, MPI_COMM_WORLD);
    if (rc != SAL_OK) {
        fprintf(stderr, "consumer: sal_init: %s: %s\n", sal_strerror(rc), sal_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_rank(sal_comm(), &rank);
    MPI_Comm_size(sal_comm(), &size);
    int64_t gdims[1] = {4 * (int64_t)size}, off[1] = {4 * (int64_t)rank}, cnt[1] = {4};
    rc = sal_protect("v", s.v, SAL_DOUBLE, 1, gdims, off, cnt);
    if (rc == SAL_OK)
        rc = sal_run(step, &s);
    if (rc == SAL_OK && rank == 0)
        printf("consumer: salamander %s ulfm=%d v0=%g\n", SAL_VERSION_STRING, SAL_HAVE_ULFM,
               s.v[0]);
    if (rc == SAL_OK)
        rc = sal_finalize();
    if (rc != SAL_OK) {
        fprintf(stderr, "consumer: %s: %s\n", sal_strerror(rc), sal_last_error());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Finalize();
    return 0;
}
