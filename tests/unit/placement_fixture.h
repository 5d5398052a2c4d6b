/*
 * What the placement tests share (test_placement.c, test_placement_hostfile.c): synthetic hwloc
 * topologies and short helpers that fail the test on an unexpected status. Nothing here depends on
 * the machine running the test.
 *
 * Topologies (PU indexes):
 *   T_2PKG   "pack:2 numa:1 core:4 pu:1"  NUMA 0 = package 0 = 0-3, NUMA 1 = package 1 = 4-7
 *   T_4NUMA  "pack:2 numa:2 core:2 pu:1"  package 0 = NUMA 0 (0-1) + NUMA 1 (2-3), package 1 = 4-7
 *   T_SMT    "node:2 core:4 pu:2"         NUMA 0 = 0-7, NUMA 1 = 8-15, core k = PUs 2k-2k+1
 *   T_SMALL  "pack:1 numa:1 core:2 pu:1"  one NUMA node, PUs 0-1
 * Every description names its NUMA level: without one, hwloc 2.9 synthetic loading makes an
 * overlapping memcpy that valgrind reports.
 */
#ifndef SAL_TEST_PLACEMENT_FIXTURE_H
#define SAL_TEST_PLACEMENT_FIXTURE_H

#include <hwloc.h>

#include "placement.h"

#define T_2PKG  "pack:2 numa:1 core:4 pu:1"
#define T_4NUMA "pack:2 numa:2 core:2 pu:1"
#define T_SMT   "node:2 core:4 pu:2"
#define T_SMALL "pack:1 numa:1 core:2 pu:1"

/* A loaded synthetic topology of desc, or NULL. */
hwloc_topology_t synth(const char *desc);

/* A placement whose default topology is a new synthetic one of desc (*topo, destroyed by done()).
 */
sal_placement_t start(const char *desc, hwloc_topology_t *topo);

/* Destroys *p (checking that it is set to NULL) and topo. */
void done(sal_placement_t *p, hwloc_topology_t topo);

/* sal_placement_add_rank and sal_placement_mark_failed, which must succeed. */
void add(sal_placement_t p, int rank, const char *host, const char *cpuset);
void fail(sal_placement_t p, int rank);

/* Checks the result of rank; prints what was found when it differs. */
void expect(sal_placement_t p, int rank, const char *host, const char *cpuset, const char *reason);

#endif
