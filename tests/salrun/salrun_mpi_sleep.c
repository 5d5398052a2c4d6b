/* An MPI program that only waits: MPI_Init, then sleep argv[1] seconds, then MPI_Finalize. Its
 * ranks on one host map each other's shared-memory files (Open MPI's /dev/shm/sm_segment.*), which
 * is what salrun.mpiexec_killed_shm needs. The remaining arguments only mark its command line. */
#include <stdlib.h>
#include <unistd.h>

#include <mpi.h>

int main(int argc, char **argv)
{
    int rank;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    /* a word on the shared-memory path, so that every rank maps its peers' files */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Bcast(&rank, 1, MPI_INT, 0, MPI_COMM_WORLD);
    sleep(argc > 1 ? (unsigned)atoi(argv[1]) : 30);
    MPI_Finalize();
    return 0;
}
