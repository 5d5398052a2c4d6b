/*
 * Placement of replacement processes for failed ranks (DESIGN.md, recovery step 4, policy respawn).
 *
 * A pure module: no MPI, no I/O except sal_placement_load_hostfile, no dependence on the machine it
 * runs on except through the topologies the caller passes, and deterministic (the same host map
 * gives the same placement, whatever order it was described in). docs/placement.md states the
 * rules.
 *
 * Lifecycle of a sal_placement_t:
 *   sal_placement_create
 *   -> describe the job, in any order: sal_placement_set_default_topology, sal_placement_add_host,
 *      sal_placement_add_rank, sal_placement_add_spare_host, sal_placement_load_hostfile,
 *      sal_placement_mark_failed, sal_placement_mark_host_dead
 *   -> sal_placement_compute (decides a host and a cpuset for every failed rank)
 *   -> sal_placement_result for each failed rank
 *   -> sal_placement_destroy.
 * Describing more after sal_placement_compute is allowed: it discards the results, and
 * sal_placement_result returns SAL_ERR_STATE until sal_placement_compute runs again.
 *
 * Cpusets are strings in hwloc's list format (hwloc_bitmap_list_asprintf: "0-3,8,10-11") of PU
 * (hardware thread) OS indexes. Topologies are borrowed: the caller keeps them loaded until
 * sal_placement_destroy. A handle is not thread-safe; distinct handles are independent.
 *
 * Error contract: every int function returns SAL_OK or a negative SAL_ERR_* code and records the
 * detail for sal_last_error(); on error an [OUT] parameter is left NULL (pointers) or unchanged
 * (integers) and the handle is as before the call.
 */
#ifndef SAL_PLACEMENT_H
#define SAL_PLACEMENT_H

#include <stddef.h>

#include <hwloc.h>

#include "hostfile.h"

/* Longest host name accepted (bytes, without the terminating NUL): the hostfile grammar's. */
#define SAL_PLACEMENT_HOST_MAX SAL_HOSTFILE_NAME_MAX

typedef struct sal_placement *sal_placement_t;

/* [OUT] *p: a new, empty placement. SAL_ERR_NOMEM. */
int sal_placement_create(sal_placement_t *p);

/* [INOUT] *p: releases everything the handle owns (not the borrowed topologies); sets *p to NULL.
 * Accepts NULL and a pointer to NULL. */
void sal_placement_destroy(sal_placement_t *p);

/* [IN] topo: the topology of every host not given its own with sal_placement_add_host (normally the
 * calling process's own, loaded with hwloc_topology_load: hosts of a job are assumed identical).
 * Borrowed. NULL removes the default. */
int sal_placement_set_default_topology(sal_placement_t p, hwloc_topology_t topo);

/* Declares host with its own topology ([IN] topo, borrowed; NULL = the default one). A host is also
 * declared implicitly by sal_placement_add_rank and sal_placement_add_spare_host; declaring it here
 * as well, before or after, is allowed. SAL_ERR_EXISTS when host already has a different topology.
 */
int sal_placement_add_host(sal_placement_t p, const char *host, hwloc_topology_t topo);

/* Records that rank (>= 0) of the job ran on host, bound to cpuset (its binding as reported by
 * sal_placement_my_cpuset; an unbound process reports every PU of its machine). The cpuset is
 * checked against the host's topology by sal_placement_compute. SAL_ERR_INVALID_ARG for a malformed
 * host name or cpuset, SAL_ERR_EXISTS when rank was already added. */
int sal_placement_add_rank(sal_placement_t p, int rank, const char *host, const char *cpuset);

/* Marks an added rank as failed: it needs a replacement and its cores are free. SAL_ERR_NOT_FOUND.
 */
int sal_placement_mark_failed(sal_placement_t p, int rank);

/* Marks a host as dead: nothing is placed on it. The caller reports a host dead only when it is
 * known to be unusable and every rank on it failed; sal_placement_compute rejects a dead host that
 * still has a live rank. The host must be known (declared by any of the calls above);
 * SAL_ERR_NOT_FOUND. */
int sal_placement_mark_host_dead(sal_placement_t p, const char *host);

/* Offers host as a spare for replacements, with room for slots processes (slots >= 0; 0 = one per
 * core of its topology). A listed host that also runs ranks of the job is not a spare: its slots
 * only cap the number of processes placed on it. SAL_ERR_EXISTS when host was already offered. */
int sal_placement_add_spare_host(sal_placement_t p, const char *host, int slots);

/* Reads an Open MPI hostfile (untrusted input) in the one grammar of hostfile.h (docs/salrun.md,
 * "Hostfiles"): every host is offered with sal_placement_add_spare_host and its slots (max_slots
 * is checked, not used; "user@" is dropped); a relative entry ("+n0") names no host and is left
 * out. SAL_ERR_IO when path cannot be read, SAL_ERR_CONFIG for content the grammar refuses, a host
 * listed twice or one already offered (the message names the file and line); after either error
 * no host of the file has been added. */
int sal_placement_load_hostfile(sal_placement_t p, const char *path);

/* Decides a host and a cpuset for every failed rank, in increasing rank order, by the rules of
 * docs/placement.md; ranks placed earlier in the round occupy their cores for the later ones.
 * SAL_ERR_STATE when a host has no topology (neither its own nor a default), SAL_ERR_INVALID_ARG
 * when a rank's cpuset does not fit its host's topology or a dead host has a live rank,
 * SAL_ERR_RECOVERY when no host is alive to take a failed rank. No failed rank is not an error. On
 * error no result is kept. */
int sal_placement_compute(sal_placement_t p);

/* Result for failed rank after sal_placement_compute: [OUT] *host, *cpuset, *reason (a short phrase
 * for the event log, e.g. "same host, same NUMA node"); each out pointer may be NULL when not
 * wanted. The strings belong to p and stay valid until the next call that modifies p or
 * sal_placement_destroy. SAL_ERR_STATE before sal_placement_compute, SAL_ERR_NOT_FOUND when rank is
 * not a failed rank. */
int sal_placement_result(sal_placement_t p, int rank, const char **host, const char **cpuset,
                         const char **reason);

/* ---- helpers for the processes themselves ---- */

/* [OUT] *cpuset: the binding of the calling process in topo (loaded from this machine), as a list
 * string to release with free(). SAL_ERR_UNSUPPORTED when the binding cannot be read (the caller
 * may then report every PU of topo, i.e. unbound). */
int sal_placement_my_cpuset(hwloc_topology_t topo, char **cpuset);

/* Binds the calling process (all its threads) to cpuset. SAL_ERR_INVALID_ARG when cpuset is
 * malformed, empty or has PUs outside topo; SAL_ERR_UNSUPPORTED when the operating system refuses
 * the binding. The caller of a failed binding logs a warning and runs unbound. */
int sal_placement_bind(hwloc_topology_t topo, const char *cpuset);

/* [OUT] *numa: the logical index of the NUMA node of topo that contains every PU of cpuset, or -1
 * when cpuset spans several NUMA nodes. SAL_ERR_INVALID_ARG when cpuset is malformed, empty or has
 * PUs outside topo. */
int sal_placement_numa_of(hwloc_topology_t topo, const char *cpuset, int *numa);

/* ---- internals shared by placement.c (the host map), placement_rules.c, placement_hostfile.c and
 * placement_bind.c; not for other callers ---- */

#define SLOTS_MAX  SAL_HOSTFILE_SLOTS_MAX
#define REASON_LEN 192
#define NO_HOST    ((size_t)-1)

typedef struct place_host {
    char *name;
    hwloc_topology_t topo; /* borrowed; NULL = the default */
    int dead;
    int spare;  /* offered with sal_placement_add_spare_host */
    int slots;  /* 0 = one per core of the topology */
    int nranks; /* ranks of the job on this host, alive or failed */
    /* state of one sal_placement_compute round */
    hwloc_topology_t t;  /* the resolved topology */
    hwloc_bitmap_t used; /* PUs of live ranks and of replacements placed so far */
    int load;            /* live ranks + replacements placed so far */
} place_host_t;

typedef struct place_rank {
    int rank;
    size_t host;
    hwloc_bitmap_t cpuset;
    int failed;
    size_t dest;       /* result: index of the chosen host */
    char *dest_cpuset; /* result: list string */
    char reason[REASON_LEN];
} place_rank_t;

/* Invariants: p->ranks is sorted by rank number with no duplicates; p->hosts holds each name once;
 * results exist (p->computed) only for the description they were computed from -- every call that
 * changes the description discards them. */
struct sal_placement {
    place_host_t *hosts;
    size_t nhosts, cap_hosts;
    place_rank_t *ranks;
    size_t nranks, cap_ranks;
    hwloc_topology_t default_topo;
    int computed;
};

/* Parses hwloc's list format ("0-3,8") into set: indexes below PU_INDEX_MAX (placement.c), ranges
 * lo-hi with lo <= hi, separated by single commas, nothing else; the result is never empty.
 * SAL_ERR_INVALID_ARG or SAL_ERR_NOMEM. */
int sal_placement_parse_cpuset(const char *s, hwloc_bitmap_t set);

/* Logical index of the object of type in t that contains all of set, or -1. */
int sal_placement_container_index(hwloc_topology_t t, hwloc_obj_type_t type,
                                  hwloc_const_bitmap_t set);

/* Drops the results of the last sal_placement_compute (p->computed becomes 0). */
void sal_placement_discard_results(sal_placement_t p);

/* Index in p->hosts of the host called name, or NO_HOST. */
size_t sal_placement_find_host(const struct sal_placement *p, const char *name);

/* Binary search: 1 when rank is present (at *pos), else 0 with *pos its insertion point. */
int sal_placement_find_rank(const struct sal_placement *p, int rank, size_t *pos);

#endif
