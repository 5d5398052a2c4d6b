/* Raw ULFM floor: kill one rank, then detect -> revoke -> shrink -> spawn -> merge -> split,
 * with no Salamander code. Prints the time of each phase on the leader. */
#include <mpi.h>
#include <mpi-ext.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double now(void)
{
    return MPI_Wtime();
}

/* Survivors of a failure may hang in MPI_Finalize with Open MPI 5.0.x (ompi issue 11404). */
static void finalize_expired(int sig)
{
    (void)sig;
    _exit(0);
}

static void finalize_with_timeout(void)
{
    signal(SIGALRM, finalize_expired);
    alarm(5);
    MPI_Finalize();
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm parent, world = MPI_COMM_WORLD;
    MPI_Comm_get_parent(&parent);
    int victim = argc > 1 ? atoi(argv[1]) : 1;
    if (parent != MPI_COMM_NULL) {
        /* replacement: receive old rank, merge, split */
        int oldrank;
        MPI_Comm merged, fixed;
        MPI_Intercomm_merge(parent, 1, &merged);
        MPI_Recv(&oldrank, 1, MPI_INT, 0, 7, parent, MPI_STATUS_IGNORE);
        MPI_Comm_split(merged, 0, oldrank, &fixed);
        int r, s, sum = 0, one = 1;
        MPI_Comm_rank(fixed, &r);
        MPI_Comm_size(fixed, &s);
        MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, fixed);
        printf("replacement: old rank %d now rank %d of %d, allreduce=%d\n", oldrank, r, s, sum);
        fflush(stdout); /* finalize_with_timeout may _exit */
        MPI_Comm_free(&fixed);
        MPI_Comm_free(&merged);
        MPI_Comm_free(&parent);
        finalize_with_timeout();
        return 0;
    }
    int rank, size;
    MPI_Comm_rank(world, &rank);
    MPI_Comm_size(world, &size);
    MPI_Comm_set_errhandler(world, MPI_ERRORS_RETURN);
    MPI_Barrier(world);
    if (rank == victim)
        raise(SIGKILL);
    double t0 = now();
    int one = 1, sum = 0;
    int rc = MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, world);
    double t_detect = now();
    int eclass;
    MPI_Error_class(rc, &eclass);
    MPIX_Comm_revoke(world);
    double t_revoke = now();
    MPI_Comm shrunk;
    MPIX_Comm_shrink(world, &shrunk);
    double t_shrink = now();
    MPI_Comm inter, merged, fixed;
    MPI_Info info;
    MPI_Info_create(&info);
    char host[MPI_MAX_PROCESSOR_NAME];
    int hl;
    MPI_Get_processor_name(host, &hl);
    MPI_Info_set(info, "host", host);
    int errs;
    MPI_Comm_spawn(argv[0], MPI_ARGV_NULL, 1, info, 0, shrunk, &inter, &errs);
    MPI_Intercomm_merge(inter, 0, &merged);
    int srank;
    MPI_Comm_rank(shrunk, &srank);
    if (srank == 0)
        MPI_Send(&victim, 1, MPI_INT, 0, 7, inter);
    MPI_Comm_split(merged, 0, rank, &fixed);
    double t_spawn = now();
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, fixed);
    int r2;
    MPI_Comm_rank(fixed, &r2);
    if (srank == 0)
        printf("rc class %d detect %.3f revoke %.5f shrink %.3f spawn+merge+split %.3f total %.3f "
               "sum=%d\n",
               eclass, t_detect - t0, t_revoke - t_detect, t_shrink - t_revoke, t_spawn - t_shrink,
               t_spawn - t0, sum);
    printf("survivor old %d new %d\n", rank, r2);
    fflush(stdout); /* finalize_with_timeout may _exit, which drops buffered output */
    MPI_Comm_free(&fixed);
    MPI_Comm_free(&merged);
    MPI_Comm_free(&inter);
    MPI_Comm_free(&shrunk);
    MPI_Info_free(&info);
    finalize_with_timeout();
    return 0;
}
