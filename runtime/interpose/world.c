/*
 * What MPI_COMM_WORLD stands for in the application's MPI calls (hooks.h,
 * sal_interpose_current_world): the runtime's side of the mapping that the list's comms column
 * switches on (wrap.h, docs/mpi.md "MPI_COMM_WORLD"). Like the hooks, a table of the build that
 * the unit test test_interpose replaces with its own.
 *
 * A parked spare is not an application rank: its MPI_COMM_WORLD stays the launch's. Before
 * sal_init and after sal_finalize there is no current world.
 */
#include <mpi.h>

#include "config_internal.h"
#include "hooks.h"
#include "runtime.h"

MPI_Comm sal_interpose_current_world(void)
{
    const sal_settings_t *set = sal_rt.set;

    if (!sal_rt.initialized || sal_rt.finalized || sal_rt.is_spare || !set || !set->map_world)
        return MPI_COMM_NULL;
    return sal_rt.world;
}
