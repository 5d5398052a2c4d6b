/*
 * The helpers for the processes themselves: read the calling process's binding, bind it to a
 * cpuset, find the NUMA node of a cpuset. They do not use a sal_placement_t. Contract in
 * placement.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "placement.h"

/* Parses cpuset and checks that it lies within topo. */
static int parse_in_topology(hwloc_topology_t topo, const char *cpuset, hwloc_bitmap_t set)
{
    hwloc_const_bitmap_t all = hwloc_topology_get_topology_cpuset(topo);
    char *list = NULL;
    int rc = sal_placement_parse_cpuset(cpuset, set);

    if (rc != SAL_OK || hwloc_bitmap_isincluded(set, all))
        return rc;
    hwloc_bitmap_list_asprintf(&list, all);
    rc = sal_error(SAL_ERR_INVALID_ARG,
                   "cpuset \"%.64s\" names PUs that the topology does not have (it has %s): pass "
                   "the binding reported on that machine",
                   cpuset, list ? list : "?");
    free(list);
    return rc;
}

int sal_placement_my_cpuset(hwloc_topology_t topo, char **cpuset)
{
    hwloc_bitmap_t set;
    int rc = SAL_OK;

    if (!topo || !cpuset)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !topo ? "topo" : "cpuset");
    *cpuset = NULL;
    if (!(set = hwloc_bitmap_alloc()))
        return sal_error(SAL_ERR_NOMEM, "cpuset");
    if (hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
        rc = sal_error(SAL_ERR_UNSUPPORTED, "hwloc_get_cpubind: %s: treat the process as unbound",
                       strerror(errno));
    else if (hwloc_bitmap_iszero(set) || hwloc_bitmap_weight(set) < 0)
        rc = sal_error(SAL_ERR_UNSUPPORTED, "hwloc_get_cpubind returned an empty or infinite set: "
                                            "treat the process as unbound");
    else if (hwloc_bitmap_list_asprintf(cpuset, set) < 0) {
        *cpuset = NULL;
        rc = sal_error(SAL_ERR_NOMEM, "cpuset string");
    }
    hwloc_bitmap_free(set);
    return rc;
}

int sal_placement_bind(hwloc_topology_t topo, const char *cpuset)
{
    hwloc_bitmap_t set;
    int rc;

    if (!topo)
        return sal_error(SAL_ERR_INVALID_ARG, "topo is NULL");
    if (!(set = hwloc_bitmap_alloc()))
        return sal_error(SAL_ERR_NOMEM, "cpuset");
    rc = parse_in_topology(topo, cpuset, set);
    if (rc == SAL_OK && hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) != 0)
        rc = sal_error(SAL_ERR_UNSUPPORTED, "binding to cpuset %.64s: %s", cpuset, strerror(errno));
    hwloc_bitmap_free(set);
    return rc;
}

int sal_placement_numa_of(hwloc_topology_t topo, const char *cpuset, int *numa)
{
    hwloc_bitmap_t set;
    int rc;

    if (!topo || !numa)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !topo ? "topo" : "numa");
    if (!(set = hwloc_bitmap_alloc()))
        return sal_error(SAL_ERR_NOMEM, "cpuset");
    rc = parse_in_topology(topo, cpuset, set);
    if (rc == SAL_OK)
        *numa = sal_placement_container_index(topo, HWLOC_OBJ_NUMANODE, set);
    hwloc_bitmap_free(set);
    return rc;
}
