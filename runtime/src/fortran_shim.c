/*
 * The C side of the Fortran module (fortran/salamander.f90): communicators cross the language
 * boundary as Fortran INTEGER handles (MPI_Fint), converted with MPI_Comm_f2c / MPI_Comm_c2f, so
 * the module needs neither mpif.h nor the mpi / mpi_f08 modules. Everything else the module binds
 * directly (iso_c_binding) to the functions of salamander.h.
 */
#include <salamander/salamander.h>

/* Declared here only: these are called from Fortran, not from C. */
int sal_init_f(MPI_Fint comm);
MPI_Fint sal_comm_f(void);

/* sal_init on the communicator whose Fortran handle is comm (argc/argv are not available). */
int sal_init_f(MPI_Fint comm)
{
    return sal_init(NULL, NULL, MPI_Comm_f2c(comm));
}

/* Fortran handle of sal_comm(): that of MPI_COMM_NULL before sal_init and after sal_finalize. */
MPI_Fint sal_comm_f(void)
{
    return MPI_Comm_c2f(sal_comm());
}
