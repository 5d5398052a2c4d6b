/*
 * The MPI functions of the list (mpi_functions.def) that every build defines. Each wrapper runs
 * the hooks its row switches on around the implementation its row names (wrap.h). The application
 * and Salamander's own code reach these definitions through the PMPI profiling interface:
 * libsalamander-runtime comes before libmpi in a program's search order (docs/mpi.md).
 */
#include <mpi.h>

#include "wrap.h"

#define SAL_WRAP_ANY(prefix, name, params, args, comms, impl, hooks)                               \
    SAL_WRAP(prefix, name, params, args, comms, impl, hooks)
/* The MPI 4.0 functions: MPI_VERSION says 4 in MPICH 4, but 3 in Open MPI 5, which has them. */
#if MPI_VERSION >= 4 || (defined(OMPI_MAJOR_VERSION) && OMPI_MAJOR_VERSION >= 5)
#define SAL_WRAP_MPI4(prefix, name, params, args, comms, impl, hooks)                              \
    SAL_WRAP(prefix, name, params, args, comms, impl, hooks)
#else
#define SAL_WRAP_MPI4(prefix, name, params, args, comms, impl, hooks)
#endif
#define SAL_WRAP_ULFM(prefix, name, params, args, comms, impl, hooks)
#define SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, build)                          \
    SAL_WRAP_ROW(prefix, name, params, args, comms, impl, hooks, build)
#include "mpi_functions.def"
#undef SAL_MPI_FN
