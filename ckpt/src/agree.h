/*
 * Fault-tolerant agreement, compiled from agree_ulfm.c (MPIX_Comm_agree) or agree_mpi.c
 * (MPI_Allreduce with MPI_BAND) depending on SAL_WITH_ULFM.
 */
#ifndef SAL_AGREE_H
#define SAL_AGREE_H

#include <mpi.h>

#include "private_api.h"

/* Collective: *flag becomes the bitwise AND of every live rank's *flag. Returns SAL_OK, or
 * SAL_ERR_PROC_FAILED when a process of comm failed (the result then still holds among survivors
 * with ULFM), or SAL_ERR_MPI. */
SAL_PRIVATE int sal_agree(MPI_Comm comm, int *flag);

/* Revokes comm: with ULFM every pending and later operation on it completes with an error, on
 * every rank (the runtime's repair revokes and replaces it next), SAL_OK; without ULFM nothing
 * happens and SAL_ERR_UNSUPPORTED is returned. */
int sal_revoke(MPI_Comm comm);

/* 1 when this build has ULFM (MPIX_* available), else 0. */
int sal_have_ulfm(void);

/* Maps an MPI return code to SAL_OK / SAL_ERR_PROC_FAILED (process failed or communicator revoked)
 * / SAL_ERR_MPI. */
int sal_mpi_status(int mpi_rc);

#endif
