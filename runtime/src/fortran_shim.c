/*
 * The C side of the Fortran module (fortran/salamander.f90): communicators cross the language
 * boundary as Fortran INTEGER handles (MPI_Fint), converted with MPI_Comm_f2c / MPI_Comm_c2f, so
 * the module needs neither mpif.h nor the mpi / mpi_f08 modules. Everything else the module binds
 * directly (iso_c_binding) to the functions of salamander.h.
 */
#include <salamander/salamander.h>

#include "fortran_shim.h"

int sal_init_f(MPI_Fint comm)
{
    return sal_init(NULL, NULL, MPI_Comm_f2c(comm));
}

MPI_Fint sal_comm_f(void)
{
    return MPI_Comm_c2f(sal_comm());
}
