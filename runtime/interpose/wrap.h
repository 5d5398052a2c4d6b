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
#include "logging.h"
#include "private_api.h"

/* The implementations the list names besides PMPI_*. */

/* MPI_Sendrecv's, under the message logging of logging.c (which names the others:
 * sal_interpose_send,
 * ...): the Open MPI 5.0.x work-around in ULFM builds (sendrecv_ulfm.c), PMPI_Sendrecv in the
 * others (sendrecv_none.c). */
int sal_interpose_sendrecv_mpi(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                               int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                               int source, int recvtag, MPI_Comm comm, MPI_Status *status);

/* The mapping of MPI_COMM_WORLD (the list's comms column). */

/* comm (equal to MPI_COMM_WORLD) as the wrapper passes it on: the job's current world when the
 * call is the application's (depth 0) and the runtime maps (sal_interpose_map_world_to), comm
 * otherwise. The slow path: the wrappers call it only for an argument equal to MPI_COMM_WORLD. */
MPI_Comm sal_interpose_map_world(MPI_Comm comm);

/* The roles of a row's MPI_Comm parameters, each an expression. SAL_MAP(a) or SAL_MAP(a, b): one
 * compare per parameter on the fast path. SAL_KEEP(...): passed through, named so that every
 * communicator parameter of the list has a role. SAL_NO_COMM: the function takes none. */
#define SAL_MAP_ONE(c)                  ((c) = (c) == MPI_COMM_WORLD ? sal_interpose_map_world(c) : (c))
#define SAL_MAP_1(a)                    SAL_MAP_ONE(a)
#define SAL_MAP_2(a, b)                 (SAL_MAP_ONE(a), SAL_MAP_ONE(b))
#define SAL_MAP_PICK(a, b, chosen, ...) chosen
#define SAL_MAP(...)                    SAL_MAP_PICK(__VA_ARGS__, SAL_MAP_2, SAL_MAP_1, none)(__VA_ARGS__)
#define SAL_KEEP(...)                   ((void)0)
#define SAL_NO_COMM                     ((void)0)

/* Dispatch to the hooks. */

/* Runs the before of every hook of the mask that applies at this depth; returns the set of hooks
 * that ran (bit i: sal_interpose_hooks[i]), for sal_interpose_after. */
unsigned sal_interpose_before(sal_mpi_fn_t fn, unsigned mask);
/* Runs the after of the hooks of ran, in reverse order. */
void sal_interpose_after(sal_mpi_fn_t fn, unsigned ran, int rc);
/* Notes a return code other than MPI_SUCCESS (interpose.h, sal_interpose_watch_errors). */
void sal_interpose_error(int rc);

/* The definition of prefix_name: the communicators mapped, then the hooks of the mask around impl,
 * and a return code other than MPI_SUCCESS noted (sal_interpose_error). A row without hooks (0)
 * calls neither dispatch function. With message logging off (logging.h) the only other cost is one
 * predictable branch; on, a call the log cannot replay is noted, and not made during a replay. */
#define SAL_WRAP(prefix, name, params, args, comms, impl, hooks)                                   \
    SAL_INTERPOSE int prefix##_##name params                                                       \
    {                                                                                              \
        unsigned ran_;                                                                             \
        int rc_;                                                                                   \
                                                                                                   \
        comms;                                                                                     \
        if (__builtin_expect(sal_logging_mode != 0, 0) &&                                          \
            sal_logging_note(SAL_FN_##prefix##_##name))                                            \
            return MPI_ERR_OTHER;                                                                  \
        ran_ = (hooks) ? sal_interpose_before(SAL_FN_##prefix##_##name, (hooks)) : 0u;             \
        rc_ = impl args;                                                                           \
        if (rc_ != MPI_SUCCESS)                                                                    \
            sal_interpose_error(rc_);                                                              \
        if (ran_)                                                                                  \
            sal_interpose_after(SAL_FN_##prefix##_##name, ran_, rc_);                              \
        return rc_;                                                                                \
    }

/* One row of the list: SAL_WRAP_ANY or SAL_WRAP_ULFM, after its build column. */
#define SAL_WRAP_ROW(prefix, name, params, args, comms, impl, hooks, build)                        \
    SAL_WRAP_##build(prefix, name, params, args, comms, impl, hooks)

#endif
