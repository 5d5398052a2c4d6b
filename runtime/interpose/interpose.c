/*
 * The depth marker (interpose.h), the dispatch of the wrappers to the hooks (wrap.h, hooks.h) and
 * the decision to map an argument MPI_COMM_WORLD (wrap.h: the comms column of the list).
 *
 * The depth is per thread (C11 _Thread_local): a thread that Salamander does not bracket (the
 * application's own threads, the watchdog threads) is at depth 0 whatever another thread does.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "hooks.h"
#include "interpose.h"
#include "wrap.h"

static _Thread_local int depth;
static const MPI_Comm *job_world;          /* sal_interpose_map_world_to */
static int (*volatile failure_of)(int rc); /* sal_interpose_watch_errors */
static atomic_int failed;                  /* an application's call returned a process failure */

static const char *const names[SAL_FN_COUNT] = {
#define SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, build) #prefix "_" #name,
#include "mpi_functions.def"
#undef SAL_MPI_FN
};

void sal_interpose_internal_begin(void)
{
    depth++;
}

void sal_interpose_internal_end(void)
{
    if (depth > 0)
        depth--;
}

int sal_interpose_depth(void)
{
    return depth;
}

void sal_interpose_unwound(void)
{
    depth = 0;
    for (size_t i = 0; i < sal_interpose_nhooks; i++)
        if (sal_interpose_hooks[i].reset)
            sal_interpose_hooks[i].reset();
}

const char *sal_interpose_name(sal_mpi_fn_t fn)
{
    return (size_t)fn < (size_t)SAL_FN_COUNT ? names[fn] : "?";
}

void sal_interpose_map_world_to(const MPI_Comm *world)
{
    job_world = world;
}

/* Salamander's own calls (depth > 0) name the communicators they mean, MPI_COMM_WORLD included.
 * The process-wide state is read before the thread-local depth: cheaper when nothing is mapped. */
MPI_Comm sal_interpose_map_world(MPI_Comm comm)
{
    const MPI_Comm *world = job_world;

    if (!world || *world == MPI_COMM_NULL || depth > 0)
        return comm;
    return *world;
}

void sal_interpose_watch_errors(int (*is_failure)(int rc))
{
    failure_of = is_failure;
    atomic_store(&failed, 0);
}

void sal_interpose_error(int rc)
{
    int (*is_failure)(int) = failure_of;

    if (is_failure && depth == 0 && is_failure(rc))
        atomic_store(&failed, 1);
}

int sal_interpose_take_failure(void)
{
    return atomic_exchange(&failed, 0);
}

/* The depth is read only for the hooks that skip Salamander's own calls. */
unsigned sal_interpose_before(sal_mpi_fn_t fn, unsigned mask)
{
    unsigned ran = 0;

    for (size_t i = 0; i < sal_interpose_nhooks && i < SAL_HOOK_MAX; i++) {
        const sal_hook_t *h = &sal_interpose_hooks[i];

        if (!(h->bit & mask) || (!h->internal && depth > 0))
            continue;
        if (h->before)
            h->before(fn);
        ran |= 1u << i;
    }
    return ran;
}

void sal_interpose_after(sal_mpi_fn_t fn, unsigned ran, int rc)
{
    for (size_t i = sal_interpose_nhooks; i-- > 0;)
        if (i < SAL_HOOK_MAX && (ran & (1u << i)) && sal_interpose_hooks[i].after)
            sal_interpose_hooks[i].after(fn, rc);
}
