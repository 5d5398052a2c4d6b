/*
 * The hooks of the MPI interposition layer (docs/architecture.md, "MPI interposition").
 *
 * A hook is one concern that runs around MPI calls: the hang watchdog, the MPI_Finalize watchdog.
 * It owns one SAL_HOOK_* bit; the list (mpi_functions.def) switches the bits on per function, and
 * the table sal_interpose_hooks (hooks.c) says, for each hook, its bit, its functions and whether
 * it also sees Salamander's own calls (interpose.h: the depth marker).
 *
 * Contract of a hook's functions: they run on the thread that makes the MPI call, inside the
 * wrapper, and must not call an interposed MPI function (call PMPI_* instead). before and after may
 * be NULL; after runs exactly when before ran for the same call (a hook whose before ran sees its
 * after even if the depth changed during the call), unless a failure handler unwound out of the
 * call: then reset runs instead, from sal_interpose_unwound.
 */
#ifndef SAL_INTERPOSE_HOOKS_H
#define SAL_INTERPOSE_HOOKS_H

#include <stddef.h>

/* One bit per hook. A new hook takes the next bit. */
enum {
    SAL_HOOK_WATCHDOG = 1u << 0, /* the hang watchdog: the process waits inside MPI (watchdog.h) */
    SAL_HOOK_FINALIZE = 1u << 1, /* the MPI_Finalize watchdog, stopped when MPI_Finalize returns */
};

/* At most this many hooks (the wrappers record the ones that ran in one unsigned). */
#define SAL_HOOK_MAX 32

/* Every function of the list, in its order (SAL_FN_MPI_Send, ..., SAL_FN_MPIX_Comm_shrink), in
 * every build: the ULFM ones too. */
typedef enum sal_mpi_fn {
#define SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, build) SAL_FN_##prefix##_##name,
#include "mpi_functions.def"
#undef SAL_MPI_FN
    SAL_FN_COUNT
} sal_mpi_fn_t;

typedef struct sal_hook {
    const char *name; /* for messages */
    unsigned bit;     /* its SAL_HOOK_* bit */
    int internal;     /* 1: also Salamander's own calls (depth > 0); 0: the application's only */
    void (*before)(sal_mpi_fn_t fn);
    void (*after)(sal_mpi_fn_t fn, int rc); /* rc: what the call returns */
    void (*reset)(void);                    /* forget the calls in progress (unwound) */
} sal_hook_t;

/* The hooks of the build, in the order their before functions run (hooks.c). */
extern const sal_hook_t sal_interpose_hooks[];
extern const size_t sal_interpose_nhooks;

/* "MPI_Send" for SAL_FN_MPI_Send; "?" outside the list. */
const char *sal_interpose_name(sal_mpi_fn_t fn);

#endif
