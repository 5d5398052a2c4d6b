/*
 * The MPI functions of the list (mpi_functions.def) that only builds with ULFM define: its ULFM
 * rows, generated as in wrappers.c. Compiled only when the MPI has ULFM (SAL_HAVE_ULFM).
 */
#include <mpi.h>
#include <mpi-ext.h>

#include "wrap.h"

#define SAL_WRAP_ANY(prefix, name, params, args, comms, impl, hooks)
#define SAL_WRAP_MPI4(prefix, name, params, args, comms, impl, hooks)
#define SAL_WRAP_ULFM(prefix, name, params, args, comms, impl, hooks)                              \
    SAL_WRAP(prefix, name, params, args, comms, impl, hooks)
#define SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, build)                          \
    SAL_WRAP_ROW(prefix, name, params, args, comms, impl, hooks, build)
#include "mpi_functions.def"
#undef SAL_MPI_FN
