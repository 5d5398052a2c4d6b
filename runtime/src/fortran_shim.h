/* The C entry points of the Fortran module (fortran/salamander.f90 binds them by name): the part of
 * libsalamander-runtime's private interface (private_api.h) that libsalamander-fortran calls. */
#ifndef SAL_FORTRAN_SHIM_H
#define SAL_FORTRAN_SHIM_H

#include <mpi.h>

#include "private_api.h"

/* sal_init on the communicator whose Fortran handle is comm (argc/argv are not available). */
SAL_PRIVATE int sal_init_f(MPI_Fint comm);

/* Fortran handle of sal_comm(): that of MPI_COMM_NULL before sal_init and after sal_finalize. */
SAL_PRIVATE MPI_Fint sal_comm_f(void);

#endif
