/* The placement tests' shared helpers (placement_fixture.h). */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "placement_fixture.h"

hwloc_topology_t synth(const char *desc)
{
    hwloc_topology_t t = NULL;

    if (hwloc_topology_init(&t) != 0)
        return NULL;
    if (hwloc_topology_set_synthetic(t, desc) != 0 || hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return NULL;
    }
    return t;
}

sal_placement_t start(const char *desc, hwloc_topology_t *topo)
{
    sal_placement_t p = NULL;

    *topo = synth(desc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*topo);
    CU_ASSERT_EQUAL_FATAL(sal_placement_create(&p), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_set_default_topology(p, *topo), SAL_OK);
    return p;
}

void done(sal_placement_t *p, hwloc_topology_t topo)
{
    sal_placement_destroy(p);
    CU_ASSERT_PTR_NULL(*p);
    hwloc_topology_destroy(topo);
}

void add(sal_placement_t p, int rank, const char *host, const char *cpuset)
{
    CU_ASSERT_EQUAL_FATAL(sal_placement_add_rank(p, rank, host, cpuset), SAL_OK);
}

void fail(sal_placement_t p, int rank)
{
    CU_ASSERT_EQUAL_FATAL(sal_placement_mark_failed(p, rank), SAL_OK);
}

void expect(sal_placement_t p, int rank, const char *host, const char *cpuset, const char *reason)
{
    const char *h = NULL, *c = NULL, *r = NULL;
    int ok;

    CU_ASSERT_EQUAL_FATAL(sal_placement_result(p, rank, &h, &c, &r), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    ok = strcmp(h, host) == 0 && strcmp(c, cpuset) == 0 && strcmp(r, reason) == 0;
    if (!ok)
        printf("\n  rank %d: got %s [%s] \"%s\", expected %s [%s] \"%s\"\n", rank, h, c, r, host,
               cpuset, reason);
    CU_ASSERT_TRUE(ok);
}
