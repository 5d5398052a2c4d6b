/*
 * Unit tests of the placement of replacements (runtime/src/placement.c) on synthetic hwloc
 * topologies (placement_fixture.h) and fake host names: nothing here depends on the machine
 * running the test. The hostfile reader is tested in test_placement_hostfile.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <hwloc.h>

#include <salamander/sal_error.h>

#include "placement.h"
#include "placement_fixture.h"
#include "unit_main.h"

static void test_same_host_numa_preference(void)
{
    /* The live rank 1 overlaps the lost rank's core, leaving less and less of its neighbourhood. */
    static const struct {
        const char *live, *want, *reason;
    } cases[] = {
        {"1", "0", "same host, same cores"},
        {"0", "1", "same host, same NUMA node"},
        {"0-1", "2", "same host, same package"},
        {"0-3", "4", "same host, other NUMA node"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hwloc_topology_t t;
        sal_placement_t p = start(T_4NUMA, &t);
        add(p, 0, "n1", "0");
        add(p, 1, "n1", cases[i].live);
        fail(p, 0);
        CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_OK);
        expect(p, 0, "n1", cases[i].want, cases[i].reason);
        done(&p, t);
    }
}

static void test_units_core_or_pu(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMT, &t);

    /* Rank 0 was bound to one PU of core 0 (PU granularity); rank 2 to the whole core 1 whose PU 3
     * is now taken by live rank 3: it gets the next whole free core of its NUMA node. */
    add(p, 0, "n1", "0");
    add(p, 1, "n1", "1");
    add(p, 2, "n1", "2-3");
    add(p, 3, "n1", "3");
    add(p, 4, "n1", "8-11"); /* two whole cores of NUMA node 1 */
    add(p, 5, "n1", "9");
    fail(p, 0);
    fail(p, 2);
    fail(p, 4);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "n1", "0", "same host, same cores");
    expect(p, 2, "n1", "4-5", "same host, same NUMA node");
    /* Core 4 (8-9) is partly taken: cores 5 (10-11) and 6 (12-13), nearest first. */
    expect(p, 4, "n1", "10-13", "same host, same NUMA node");
    done(&p, t);
}

static void test_full_host_moves(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    add(p, 0, "n1", "5");
    add(p, 1, "n1", "0-7"); /* overlaps every core of n1 */
    add(p, 2, "n2", "0");
    add(p, 3, "n2", "1");
    add(p, 4, "n3", "0");
    add(p, 5, "n3", "4");
    add(p, 6, "n3", "5");
    fail(p, 0);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    /* n2 and n3 both have free cores; n2 carries 2 ranks, n3 3. Lost rank was on NUMA node 1. */
    expect(p, 0, "n2", "4", "least-loaded host n2, same NUMA node (n1 full)");
    done(&p, t);
}

static void test_dead_host_spare_then_least_loaded(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    for (int r = 0; r < 4; r++)
        add(p, r, "n1", (const char *[]){"0", "1", "4", "5"}[r]);
    add(p, 4, "n2", "0");
    add(p, 5, "n3", "0");
    add(p, 6, "n3", "1");
    for (int r = 0; r < 4; r++)
        fail(p, r);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    /* Two spares: the emptier goes first, ties by name; s2 takes one process only. */
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s2", 1), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 0), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s1", "0", "spare host s1, same NUMA node (n1 dead)");
    expect(p, 1, "s2", "0", "spare host s2, same NUMA node (n1 dead)");
    expect(p, 2, "s1", "4", "spare host s1, same NUMA node (n1 dead)");
    expect(p, 3, "s1", "5", "spare host s1, same NUMA node (n1 dead)");
    done(&p, t);

    /* Without spares: the least-loaded live host with a free core, ties by name. */
    p = start(T_SMALL, &t);
    add(p, 0, "n1", "0");
    add(p, 1, "n1", "1");
    add(p, 2, "n3", "0");
    add(p, 3, "n2", "0");
    fail(p, 0);
    fail(p, 1);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "n2", "1", "least-loaded host n2, same NUMA node (n1 dead)");
    expect(p, 1, "n3", "1", "least-loaded host n3, same NUMA node (n1 dead)");
    done(&p, t);
}

static void test_spare_that_runs_ranks_is_not_spare(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMALL, &t);

    add(p, 0, "n1", "0");
    add(p, 1, "n2", "0");
    add(p, 2, "n3", "0");
    add(p, 3, "n3", "1");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    /* n2 is listed (as in a hostfile of the whole allocation) but runs rank 1: not a spare. */
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "n2", 2), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "n2", "1", "least-loaded host n2, same NUMA node (n1 dead)");
    done(&p, t);
}

static void test_multi_core_rank(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    add(p, 0, "n1", "4-5"); /* two cores of NUMA node 1 */
    add(p, 1, "n2", "0-3");
    add(p, 2, "n2", "4-6");
    add(p, 3, "n3", "0-3");
    add(p, 4, "n3", "4-5");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    /* n2 and n3 carry two ranks each; n2, first by name, has one free core only (7), too few; n3
     * has two (6-7). */
    expect(p, 0, "n3", "6-7", "least-loaded host n3, same NUMA node (n1 dead)");
    done(&p, t);
}

/* Results on one host must not share a PU unless oversubscribed. */
static void check_disjoint(sal_placement_t p, const int *ranks, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            const char *hi, *ci, *ri, *hj, *cj, *rj;
            hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
            CU_ASSERT_EQUAL_FATAL(sal_placement_result(p, ranks[i], &hi, &ci, &ri), SAL_OK);
            CU_ASSERT_EQUAL_FATAL(sal_placement_result(p, ranks[j], &hj, &cj, &rj), SAL_OK);
            CU_ASSERT_EQUAL(hwloc_bitmap_list_sscanf(a, ci), 0);
            CU_ASSERT_EQUAL(hwloc_bitmap_list_sscanf(b, cj), 0);
            if (strcmp(hi, hj) == 0 && strncmp(ri, "oversubscribed", 14) != 0 &&
                strncmp(rj, "oversubscribed", 14) != 0)
                CU_ASSERT_FALSE(hwloc_bitmap_intersects(a, b));
            hwloc_bitmap_free(a);
            hwloc_bitmap_free(b);
        }
    }
}

static void test_round_never_shares_cores(void)
{
    static const int failed[] = {0, 1, 2, 3, 8, 9, 10};
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    /* n1 (dead) ran ranks 0-3, n2 ranks 4-10 (8-10 failed), n3 rank 11. Replacements that fit on
     * their own host are placed first and keep their cores; the others spread over free cores. */
    for (int r = 0; r < 4; r++)
        add(p, r, "n1", (const char *[]){"0", "1", "2", "3"}[r]);
    for (int r = 4; r < 11; r++)
        add(p, r, "n2", (const char *[]){"0", "1", "2", "3", "4", "5", "6"}[r - 4]);
    add(p, 11, "n3", "0");
    for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++)
        fail(p, failed[i]);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    check_disjoint(p, failed, (int)(sizeof(failed) / sizeof(failed[0])));
    expect(p, 8, "n2", "4", "same host, same cores");
    expect(p, 9, "n2", "5", "same host, same cores");
    expect(p, 10, "n2", "6", "same host, same cores");
    expect(p, 0, "n3", "1", "least-loaded host n3, same NUMA node (n1 dead)");
    expect(p, 3, "n3", "4", "least-loaded host n3, other NUMA node (n1 dead)");
    done(&p, t);
}

static void test_oversubscribed(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMALL, &t);

    add(p, 0, "n1", "0");
    add(p, 1, "n1", "1");
    add(p, 2, "n2", "0");
    add(p, 3, "n2", "1");
    add(p, 4, "n3", "0");
    fail(p, 0);
    fail(p, 2);
    fail(p, 3);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n2"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "n1", "0", "same host, same cores");
    expect(p, 2, "n3", "1", "least-loaded host n3, same NUMA node (n2 dead)");
    /* n1 and n3 both full with 2 processes: tie broken by name. */
    expect(p, 3, "n1", "0-1",
           "oversubscribed: no free core on any host; least-loaded host n1, NUMA node 0");
    done(&p, t);

    /* An unbound rank (every PU, two NUMA nodes) stays on its host, on the whole machine. */
    p = start(T_SMT, &t);
    add(p, 0, "n1", "0-15");
    add(p, 1, "n1", "0-15");
    add(p, 2, "n2", "0-15");
    add(p, 3, "n2", "0-15");
    fail(p, 1);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 1, "n1", "0-15",
           "oversubscribed: no free core on any host; same host, whole machine");
    done(&p, t);
}

static void test_no_live_host(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMALL, &t);
    const char *h = NULL;

    add(p, 0, "n1", "0");
    add(p, 1, "n2", "0");
    fail(p, 0);
    fail(p, 1);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n2"), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_RECOVERY);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "cannot place failed rank 0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "no spare host"));
    CU_ASSERT_EQUAL(sal_placement_result(p, 0, &h, NULL, NULL), SAL_ERR_STATE);
    CU_ASSERT_PTR_NULL(h);
    /* A dead spare does not help; a live one does. */
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 0), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "s1"), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_RECOVERY);
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s2", 0), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s2", "0", "spare host s2, same NUMA node (n1 dead)");
    expect(p, 1, "s2", "1", "spare host s2, same NUMA node (n2 dead)");
    done(&p, t);
}

/* The same job described in two orders; the results are compared as text. */
static void describe(sal_placement_t p, int reversed)
{
    static const struct {
        int rank;
        const char *host, *cpuset;
    } map[] = {{0, "n1", "0"}, {1, "n1", "4"}, {2, "n2", "0"}, {3, "n2", "1"},
               {4, "n3", "0"}, {5, "n3", "5"}, {6, "n4", "1"}, {7, "n4", "6"}};
    static const int failed[] = {0, 1, 3, 6};
    const int n = (int)(sizeof(map) / sizeof(map[0]));

    for (int i = 0; i < n; i++) {
        int k = reversed ? n - 1 - i : i;
        add(p, map[k].rank, map[k].host, map[k].cpuset);
    }
    if (!reversed)
        CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 1), SAL_OK);
    for (int i = 0; i < 4; i++)
        fail(p, failed[reversed ? 3 - i : i]);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    if (reversed)
        CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 1), SAL_OK);
}

static void render(sal_placement_t p, char *out, size_t len)
{
    static const int failed[] = {0, 1, 3, 6};
    size_t used = 0;

    out[0] = '\0';
    for (int i = 0; i < 4; i++) {
        const char *h = "", *c = "", *r = "";
        CU_ASSERT_EQUAL(sal_placement_result(p, failed[i], &h, &c, &r), SAL_OK);
        used += (size_t)snprintf(out + used, len - used, "%d:%s[%s]%s;", failed[i], h, c, r);
    }
}

static void test_deterministic(void)
{
    char a[2048], b[2048], c[2048];
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    describe(p, 0);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    render(p, a, sizeof(a));
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK); /* recomputing changes nothing */
    render(p, c, sizeof(c));
    done(&p, t);
    p = start(T_2PKG, &t);
    describe(p, 1);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    render(p, b, sizeof(b));
    done(&p, t);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_EQUAL(a, c);
    CU_ASSERT_STRING_EQUAL(a, "0:s1[0]spare host s1, same NUMA node (n1 dead);"
                              "1:n2[4]least-loaded host n2, same NUMA node (n1 dead);"
                              "3:n2[1]same host, same cores;"
                              "6:n4[1]same host, same cores;");
}

static void test_invalid_cpusets(void)
{
    static const char *const bad[] = {"",   "abc", "3-1",      "1,,2", "0-",    "1 ", "-1",
                                      ",1", "1,",  "99999999", "0x3",  "1-2-3", "+1"};
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);
    int numa = 42;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(sal_placement_add_rank(p, (int)i, "n1", bad[i]), SAL_ERR_INVALID_ARG);
        CU_ASSERT_EQUAL(sal_placement_numa_of(t, bad[i], &numa), SAL_ERR_INVALID_ARG);
        CU_ASSERT_EQUAL(sal_placement_bind(t, bad[i]), SAL_ERR_INVALID_ARG);
    }
    CU_ASSERT_EQUAL(sal_placement_add_rank(p, 0, "n1", NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "cpuset"));
    CU_ASSERT_EQUAL(numa, 42);
    /* Well formed but beyond the 8 PUs of the topology. */
    CU_ASSERT_EQUAL(sal_placement_numa_of(t, "8", &numa), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_bind(t, "0,8"), SAL_ERR_INVALID_ARG);
    add(p, 0, "n1", "2,9");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "rank 0"));
    done(&p, t);
}

static void test_numa_of_and_bind(void)
{
    hwloc_topology_t t = synth(T_4NUMA);
    char *mine = NULL;
    int numa = 42;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(sal_placement_numa_of(t, "0-1", &numa), SAL_OK);
    CU_ASSERT_EQUAL(numa, 0);
    CU_ASSERT_EQUAL(sal_placement_numa_of(t, "6,7", &numa), SAL_OK);
    CU_ASSERT_EQUAL(numa, 3);
    CU_ASSERT_EQUAL(sal_placement_numa_of(t, "1-2", &numa), SAL_OK);
    CU_ASSERT_EQUAL(numa, -1);
    /* On a synthetic topology hwloc's binding calls do nothing and report the whole machine. */
    CU_ASSERT_EQUAL(sal_placement_bind(t, "2-3"), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_my_cpuset(t, &mine), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
    CU_ASSERT_EQUAL(sal_placement_numa_of(t, mine, &numa), SAL_OK);
    free(mine);
    CU_ASSERT_EQUAL(sal_placement_my_cpuset(NULL, &mine), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_bind(NULL, "0"), SAL_ERR_INVALID_ARG);
    hwloc_topology_destroy(t);
}

static void test_api_contract(void)
{
    hwloc_topology_t t, other = synth(T_SMALL);
    sal_placement_t p = start(T_2PKG, &t), none = NULL;
    const char *h = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    sal_placement_destroy(NULL);
    sal_placement_destroy(&none);
    CU_ASSERT_EQUAL(sal_placement_create(NULL), SAL_ERR_INVALID_ARG);
    add(p, 0, "n1", "0");
    CU_ASSERT_EQUAL(sal_placement_add_rank(p, 0, "n2", "1"), SAL_ERR_EXISTS);
    CU_ASSERT_EQUAL(sal_placement_add_rank(p, -1, "n1", "1"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_add_rank(p, 1, "bad host", "1"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_add_rank(p, 1, "-n1", "1"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_mark_failed(p, 7), SAL_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n9"), SAL_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", -1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 2), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_add_spare_host(p, "s1", 2), SAL_ERR_EXISTS);
    CU_ASSERT_EQUAL(sal_placement_result(p, 0, &h, NULL, NULL), SAL_ERR_STATE);
    /* No failed rank: nothing to do, and rank 0 has no result. */
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_result(p, 0, &h, NULL, NULL), SAL_ERR_NOT_FOUND);
    /* A dead host with a live rank is a caller error. */
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "n1"));
    fail(p, 0);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s1", "0", "spare host s1, same NUMA node (n1 dead)");
    /* Changing the description discards the results. */
    CU_ASSERT_EQUAL(sal_placement_add_host(p, "s1", other), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_result(p, 0, &h, NULL, NULL), SAL_ERR_STATE);
    CU_ASSERT_EQUAL(sal_placement_add_host(p, "s1", t), SAL_ERR_EXISTS);
    CU_ASSERT_EQUAL(sal_placement_add_host(p, "s1", NULL), SAL_OK);
    /* Without any topology for a host that matters: state error. */
    CU_ASSERT_EQUAL(sal_placement_set_default_topology(p, NULL), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_STATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "n1"));
    CU_ASSERT_EQUAL(sal_placement_add_host(p, "n1", t), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s1", "0", "spare host s1, same NUMA node (n1 dead)");
    done(&p, t);
    hwloc_topology_destroy(other);
}

static void test_host_topologies(void)
{
    hwloc_topology_t big = synth("pack:2 numa:1 core:8 pu:1");
    hwloc_topology_t t;
    sal_placement_t p = start(T_2PKG, &t);

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    CU_ASSERT_EQUAL(sal_placement_add_host(p, "big", big), SAL_OK);
    add(p, 0, "big", "12");
    add(p, 1, "n1", "0");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "big"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    /* NUMA node 1 of big; on n1 the NUMA node of the same index is 4-7. */
    expect(p, 0, "n1", "4", "least-loaded host n1, same NUMA node (big dead)");
    done(&p, t);
    hwloc_topology_destroy(big);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"same host: same cores, NUMA node, package, elsewhere", test_same_host_numa_preference},
        {"whole cores or single PUs", test_units_core_or_pu},
        {"full host: least-loaded other host", test_full_host_moves},
        {"dead host: spare hosts, then least-loaded", test_dead_host_spare_then_least_loaded},
        {"listed host running ranks is not a spare", test_spare_that_runs_ranks_is_not_spare},
        {"rank bound to several cores", test_multi_core_rank},
        {"one round never shares cores", test_round_never_shares_cores},
        {"oversubscription", test_oversubscribed},
        {"no live host: SAL_ERR_RECOVERY", test_no_live_host},
        {"deterministic", test_deterministic},
        {"invalid cpusets", test_invalid_cpusets},
        {"numa_of, bind, my_cpuset", test_numa_of_and_bind},
        {"API contract", test_api_contract},
        {"per-host topologies", test_host_topologies},
    };

    return SAL_UNIT_MAIN("placement", NULL, NULL, tests);
}
