/*
 * The job's host map -- where every rank of the resilient communicator runs (host name and cpuset)
 * -- and the placement of replacements for failed ranks (docs/placement.md): the repair leader
 * describes the map to a sal_placement_t, which picks a host and the free cores nearest to each
 * lost rank's NUMA node; the replacement binds itself to the cpuset it is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#include "events.h"
#include "hostmap.h"
#include "log.h"
#include "placement.h"
#include "runtime.h"

#define CPUSET_MAX 256 /* longest cpuset list string exchanged; longer ones are sent as unbound */

static hwloc_topology_t topo;
static char my_cpuset[CPUSET_MAX] = "";
static char **map_hosts, **map_cpusets;
static int map_size;
/* Hosts taken for dead by this and every earlier repair (sal_hostmap_note_failed): kept for the
 * whole run, since a repair interrupted by a second loss plans the next attempt on the map
 * exchanged before it, where the first lost host's ranks are not all failed any more (its
 * replacements live elsewhere) and it would look like the least-loaded host. */
static char **dead_hosts;
static int ndead;

static void free_table(char ***table, int n)
{
    for (int i = 0; *table && i < n; i++)
        free((*table)[i]);
    free(*table);
    *table = NULL;
}

void sal_hostmap_free(void)
{
    free_table(&map_hosts, map_size);
    free_table(&map_cpusets, map_size);
    free_table(&dead_hosts, ndead);
    map_size = ndead = 0;
    if (topo) {
        hwloc_topology_destroy(topo);
        topo = NULL;
    }
}

int sal_hostmap_init(void)
{
    char *cpuset = NULL;
    int rc;

    if (topo)
        return SAL_OK;
    /* Cores and NUMA nodes are all placement needs: no I/O device discovery (PCI, GPUs). */
    if (hwloc_topology_init(&topo) != 0 ||
        hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE) != 0 ||
        hwloc_topology_load(topo) != 0) {
        if (topo)
            hwloc_topology_destroy(topo);
        topo = NULL;
        return sal_error(SAL_ERR_RECOVERY, "cannot load this machine's hwloc topology");
    }
    rc = sal_placement_my_cpuset(topo, &cpuset);
    if (rc == SAL_OK && strlen(cpuset) < sizeof(my_cpuset))
        snprintf(my_cpuset, sizeof(my_cpuset), "%s", cpuset);
    else
        my_cpuset[0] = '\0'; /* unknown binding: treated as unbound by the placement */
    free(cpuset);
    return SAL_OK;
}

/* Every PU of this machine, for ranks whose binding is unknown. */
static void whole_machine(char *buf, size_t size)
{
    char *s = NULL;

    buf[0] = '\0';
    if (topo && hwloc_bitmap_list_asprintf(&s, hwloc_topology_get_topology_cpuset(topo)) >= 0 &&
        s && strlen(s) < size)
        snprintf(buf, size, "%s", s);
    free(s);
}

int sal_hostmap_exchange(MPI_Comm comm)
{
    enum { REC = SAL_HOST_MAX + CPUSET_MAX };
    char mine[REC], *all = NULL;
    int n = 0, rc = SAL_OK;

    MPI_Comm_size(comm, &n);
    memset(mine, 0, sizeof(mine));
    snprintf(mine, SAL_HOST_MAX, "%s", sal_rt.host);
    if (my_cpuset[0])
        snprintf(mine + SAL_HOST_MAX, CPUSET_MAX, "%s", my_cpuset);
    else
        whole_machine(mine + SAL_HOST_MAX, CPUSET_MAX);
    all = malloc((size_t)n * REC);
    if (!all)
        return sal_error(SAL_ERR_NOMEM, "host map of %d ranks", n);
    if (MPI_Allgather(mine, REC, MPI_CHAR, all, REC, MPI_CHAR, comm) != MPI_SUCCESS) {
        free(all);
        return sal_error(SAL_ERR_PROC_FAILED, "exchanging host names and cpusets failed");
    }
    free_table(&map_hosts, map_size);
    free_table(&map_cpusets, map_size);
    map_size = n;
    map_hosts = calloc((size_t)n, sizeof(char *));
    map_cpusets = calloc((size_t)n, sizeof(char *));
    for (int i = 0; rc == SAL_OK && i < n; i++) {
        char *rec = all + (size_t)i * REC;
        rec[SAL_HOST_MAX - 1] = rec[REC - 1] = '\0';
        if (!map_hosts || !map_cpusets || !(map_hosts[i] = strdup(rec)) ||
            !(map_cpusets[i] = strdup(rec + SAL_HOST_MAX)))
            rc = sal_error(SAL_ERR_NOMEM, "host map of %d ranks", n);
    }
    free(all);
    return rc;
}

const char *sal_hostmap_host(int rank)
{
    return rank >= 0 && rank < map_size && map_hosts ? map_hosts[rank] : "?";
}

static int is_dead(const char *host)
{
    for (int i = 0; i < ndead; i++)
        if (strcmp(dead_hosts[i], host) == 0)
            return 1;
    return 0;
}

/* A host is taken for dead when every rank it ran failed and other hosts remain: a host whose
 * processes all died at once is the signature of a node loss. */
int sal_hostmap_note_failed(const int *failed, int nfailed)
{
    for (int i = 0; i < nfailed; i++) {
        const char *h = sal_hostmap_host(failed[i]);
        int live = 0, other = 0;
        char **grown;

        for (int r = 0; r < map_size; r++) {
            int is_failed = 0;
            for (int k = 0; k < nfailed; k++)
                is_failed |= failed[k] == r;
            if (strcmp(map_hosts[r], h) == 0)
                live += !is_failed;
            else
                other++;
        }
        if (live || !other || strcmp(h, "?") == 0 || is_dead(h))
            continue;
        grown = realloc(dead_hosts, (size_t)(ndead + 1) * sizeof(char *));
        if (!grown)
            return sal_error(SAL_ERR_NOMEM, "list of lost hosts");
        dead_hosts = grown;
        if (!(dead_hosts[ndead] = strdup(h)))
            return sal_error(SAL_ERR_NOMEM, "list of lost hosts");
        ndead++;
    }
    return SAL_OK;
}

/* Describes the job to p: every rank, the failed ones, spare hosts, and the hosts taken for dead
 * (last, so that a spare hostfile that names one does not offer it). */
static int describe(sal_placement_t p, const int *failed, int nfailed)
{
    int rc = sal_placement_set_default_topology(p, topo);

    for (int r = 0; rc == SAL_OK && r < map_size; r++)
        rc = sal_placement_add_rank(p, r, map_hosts[r], map_cpusets[r]);
    for (int i = 0; rc == SAL_OK && i < nfailed; i++)
        rc = sal_placement_mark_failed(p, failed[i]);
    if (rc == SAL_OK && sal_rt.set->spare_hostfile[0])
        rc = sal_placement_load_hostfile(p, sal_rt.set->spare_hostfile);
    for (int i = 0; rc == SAL_OK && i < ndead; i++)
        if (sal_placement_find_host(p, dead_hosts[i]) != NO_HOST)
            rc = sal_placement_mark_host_dead(p, dead_hosts[i]);
    return rc;
}

static void report(int rank, const char *host, const char *cpuset, const char *reason)
{
    char eh[SAL_HOST_MAX * 2], er[512];

    sal_event("placement",
              "\"lost_rank\":%d,\"to_host\":\"%s\",\"cpuset\":\"%s\",\"reason\":\"%s\"", rank,
              sal_json_escape(eh, sizeof(eh), host), cpuset,
              sal_json_escape(er, sizeof(er), reason));
    SAL_LOG_I("replacement for rank %d: host %s, cores %s (%s)", rank, host, cpuset, reason);
}

int sal_hostmap_place(const int *failed, int nfailed, char **hosts, char **cpusets)
{
    sal_placement_t p = NULL;
    int rc;

    if (!topo || map_size == 0)
        return sal_error(SAL_ERR_STATE, "the host map is not initialised");
    rc = sal_placement_create(&p);
    if (rc == SAL_OK)
        rc = describe(p, failed, nfailed);
    if (rc == SAL_OK)
        rc = sal_placement_compute(p);
    for (int i = 0; rc == SAL_OK && i < nfailed; i++) {
        const char *h = NULL, *c = NULL, *why = NULL;
        rc = sal_placement_result(p, failed[i], &h, &c, &why);
        if (rc == SAL_OK && (!(hosts[i] = strdup(h)) || !(cpusets[i] = strdup(c))))
            rc = sal_error(SAL_ERR_NOMEM, "placement result");
        if (rc == SAL_OK)
            report(failed[i], h, c, why);
    }
    sal_placement_destroy(&p);
    return rc;
}

void sal_hostmap_bind(const char *cpuset)
{
    int rc;

    if (!cpuset || !cpuset[0])
        return;
    rc = sal_hostmap_init();
    if (rc == SAL_OK)
        rc = sal_placement_bind(topo, cpuset);
    if (rc != SAL_OK) {
        SAL_LOG_W("running unbound: cannot bind to cores %s: %s", cpuset, sal_last_error());
        return;
    }
    snprintf(my_cpuset, sizeof(my_cpuset), "%s", cpuset);
    SAL_LOG_D("bound to cores %s", cpuset);
}
