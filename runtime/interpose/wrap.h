/*
 * The generator of the MPI wrappers, for the files that define them from the list
 * (wrappers.c: the rows of every build; wrappers_ulfm.c: the ULFM rows, after mpi-ext.h). Define
 * SAL_WRAP_ANY and SAL_WRAP_ULFM as SAL_WRAP or as nothing, then include "mpi_functions.def" with
 * SAL_MPI_FN defined as SAL_WRAP_ROW.
 */
#ifndef SAL_INTERPOSE_WRAP_H
#define SAL_INTERPOSE_WRAP_H

#include <mpi.h>

#include "hooks.h"
#include "private_api.h"

/* The implementations the list names besides PMPI_*. */

/* MPI_Sendrecv's: the Open MPI 5.0.x work-around in ULFM builds (sendrecv_ulfm.c), PMPI_Sendrecv
 * in the others (sendrecv_none.c). */
int sal_interpose_sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                           int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                           int source, int recvtag, MPI_Comm comm, MPI_Status *status);

/* Dispatch to the hooks. */

/* Runs the before of every hook of the mask that applies at this depth; returns the set of hooks
 * that ran (bit i: sal_interpose_hooks[i]), for sal_interpose_after. */
unsigned sal_interpose_before(sal_mpi_fn_t fn, unsigned mask);
/* Runs the after of the hooks of ran, in reverse order. */
void sal_interpose_after(sal_mpi_fn_t fn, unsigned ran, int rc);

/* The definition of prefix_name: the hooks of the mask around impl. */
#define SAL_WRAP(prefix, name, params, args, impl, hooks)                                          \
    SAL_INTERPOSE int prefix##_##name params                                                       \
    {                                                                                              \
        unsigned ran_ = sal_interpose_before(SAL_FN_##prefix##_##name, (hooks));                   \
        int rc_ = impl args;                                                                       \
                                                                                                   \
        sal_interpose_after(SAL_FN_##prefix##_##name, ran_, rc_);                                  \
        return rc_;                                                                                \
    }

/* One row of the list: SAL_WRAP_ANY or SAL_WRAP_ULFM, after its build column. */
#define SAL_WRAP_ROW(prefix, name, params, args, impl, hooks, build)                               \
    SAL_WRAP_##build(prefix, name, params, args, impl, hooks)

#endif
