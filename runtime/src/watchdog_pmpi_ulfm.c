/*
 * The ULFM calls that wait for other processes, wrapped for the hang watchdog like the standard MPI
 * calls in watchdog_pmpi.c (built only with an MPI that has ULFM). Agreement runs in every
 * checkpoint commit: a rank waiting there for a hung peer is not hung itself.
 */
#include <mpi.h>
#include <mpi-ext.h>

#include "private_api.h"
#include "watchdog.h"

SAL_INTERPOSE int MPIX_Comm_agree(MPI_Comm comm, int *flag)
{
    int rc;

    sal_watchdog_mpi_enter();
    rc = PMPIX_Comm_agree(comm, flag);
    sal_watchdog_mpi_leave();
    return rc;
}

SAL_INTERPOSE int MPIX_Comm_shrink(MPI_Comm comm, MPI_Comm *newcomm)
{
    int rc;

    sal_watchdog_mpi_enter();
    rc = PMPIX_Comm_shrink(comm, newcomm);
    sal_watchdog_mpi_leave();
    return rc;
}
