/*
 * The hooks of libsalamander-runtime (hooks.h): one row per concern. Each concern keeps its state
 * and logic in its own file; a hook here only adapts its calls to the hook's signature.
 *
 * Both hooks see Salamander's own calls too (internal = 1): a rank that waits inside an agreement
 * of a commit or a repair for a hung peer is not hung itself, and a spare that ends in sal_init
 * calls MPI_Finalize itself. Hooks that concern the application's messages only (message logging)
 * would set internal = 0. The mapping of MPI_COMM_WORLD changes arguments, which a hook cannot: it
 * is a column of the list (wrap.h, interpose.c).
 */
#include <stddef.h>

#include "hooks.h"
#include "runtime.h"
#include "watchdog.h"

static void watchdog_before(sal_mpi_fn_t fn)
{
    (void)fn;
    sal_watchdog_mpi_enter();
}

static void watchdog_after(sal_mpi_fn_t fn, int rc)
{
    (void)fn;
    (void)rc;
    sal_watchdog_mpi_leave();
}

static void finalize_after(sal_mpi_fn_t fn, int rc)
{
    (void)fn;
    (void)rc;
    sal_rt_finalize_returned();
}

const sal_hook_t sal_interpose_hooks[] = {
    {"hang watchdog", SAL_HOOK_WATCHDOG, 1, watchdog_before, watchdog_after, sal_watchdog_unwound},
    {"MPI_Finalize watchdog", SAL_HOOK_FINALIZE, 1, NULL, finalize_after, NULL},
};

const size_t sal_interpose_nhooks = sizeof(sal_interpose_hooks) / sizeof(sal_interpose_hooks[0]);

_Static_assert(sizeof(sal_interpose_hooks) / sizeof(sal_interpose_hooks[0]) <= SAL_HOOK_MAX,
               "more hooks than the wrappers can record");
