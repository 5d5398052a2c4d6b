/*
 * Placement of replacements for failed ranks: the host map (validation of host names and cpuset
 * strings, the handle's lifecycle and the calls that describe the job). The rules are in
 * placement_rules.c, the hostfile reader in placement_hostfile.c, the binding helpers in
 * placement_bind.c. Contract in placement.h, with the internals these files share.
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "placement.h"

#define PU_INDEX_MAX (1 << 20) /* PU indexes in a cpuset string are below this */

/* ---- validation of names and cpuset strings ---- */

/* ASCII only, whatever the locale. */
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Host names follow the hostfile grammar's rule (hostfile.h), wherever they come from. */
static int check_host(const char *func, const char *host)
{
    if (sal_hostfile_valid_name(host))
        return SAL_OK;
    return sal_error_at(SAL_ERR_INVALID_ARG, func,
                        "host name \"%.64s\" is invalid: expected 1 to %d letters, digits, '-', "
                        "'.' or '_', starting with a letter or digit",
                        host ? host : "(null)", SAL_PLACEMENT_HOST_MAX);
}

/* Reads a decimal below limit at *c and advances *c past it; -1 (and *c unchanged) otherwise. */
static int parse_index(const char **c, long limit, long *v)
{
    const char *s = *c;
    long x = 0;

    if (!is_digit(*s))
        return -1;
    for (; is_digit(*s); s++) {
        x = x * 10 + (*s - '0');
        if (x >= limit)
            return -1;
    }
    *c = s;
    *v = x;
    return 0;
}

int sal_placement_parse_cpuset(const char *s, hwloc_bitmap_t set)
{
    const char *c = s;
    long lo, hi;

    if (!s || !*s)
        return sal_error(SAL_ERR_INVALID_ARG, "empty cpuset: expected hwloc's list format of PU "
                                              "indexes, e.g. \"0-3,8\"");
    hwloc_bitmap_zero(set);
    for (;;) {
        if (parse_index(&c, PU_INDEX_MAX, &lo) != 0)
            break;
        hi = lo;
        if (*c == '-' && (c++, parse_index(&c, PU_INDEX_MAX, &hi) != 0 || hi < lo))
            break;
        if (hwloc_bitmap_set_range(set, (unsigned)lo, (int)hi) < 0)
            return sal_error(SAL_ERR_NOMEM, "cpuset \"%.64s\"", s);
        if (*c == '\0')
            return SAL_OK;
        if (*c++ != ',')
            break;
    }
    return sal_error(SAL_ERR_INVALID_ARG,
                     "cpuset \"%.64s\" is malformed at offset %d: expected hwloc's list format of "
                     "PU indexes below %d, e.g. \"0-3,8\"",
                     s, (int)(c - s), PU_INDEX_MAX);
}

/* ---- the description: hosts and ranks ---- */

void sal_placement_discard_results(sal_placement_t p)
{
    for (size_t i = 0; i < p->nranks; i++) {
        free(p->ranks[i].dest_cpuset);
        p->ranks[i].dest_cpuset = NULL;
        p->ranks[i].reason[0] = '\0';
    }
    p->computed = 0;
}

size_t sal_placement_find_host(const struct sal_placement *p, const char *name)
{
    for (size_t i = 0; i < p->nhosts; i++)
        if (strcmp(p->hosts[i].name, name) == 0)
            return i;
    return NO_HOST;
}

/* [OUT] *idx: the host called name, declared now if it was not. name is valid. */
static int get_host(sal_placement_t p, const char *name, size_t *idx)
{
    size_t i = sal_placement_find_host(p, name);
    place_host_t *h;

    if (i == NO_HOST) {
        if (p->nhosts == p->cap_hosts) {
            size_t cap = p->cap_hosts ? 2 * p->cap_hosts : 16;
            place_host_t *n = realloc(p->hosts, cap * sizeof(*n));
            if (!n)
                return sal_error(SAL_ERR_NOMEM, "host table of %zu hosts", cap);
            p->hosts = n;
            p->cap_hosts = cap;
        }
        h = &p->hosts[p->nhosts];
        memset(h, 0, sizeof(*h));
        h->name = strdup(name);
        if (!h->name)
            return sal_error(SAL_ERR_NOMEM, "host name %s", name);
        i = p->nhosts++;
    }
    *idx = i;
    return SAL_OK;
}

int sal_placement_find_rank(const struct sal_placement *p, int rank, size_t *pos)
{
    size_t lo = 0, hi = p->nranks;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->ranks[mid].rank < rank)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return lo < p->nranks && p->ranks[lo].rank == rank;
}

int sal_placement_create(sal_placement_t *p)
{
    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    *p = calloc(1, sizeof(**p));
    if (!*p)
        return sal_error(SAL_ERR_NOMEM, "placement handle");
    return SAL_OK;
}

void sal_placement_destroy(sal_placement_t *p)
{
    if (!p || !*p)
        return;
    sal_placement_discard_results(*p);
    for (size_t i = 0; i < (*p)->nranks; i++)
        hwloc_bitmap_free((*p)->ranks[i].cpuset);
    for (size_t i = 0; i < (*p)->nhosts; i++)
        free((*p)->hosts[i].name);
    free((*p)->ranks);
    free((*p)->hosts);
    free(*p);
    *p = NULL;
}

int sal_placement_set_default_topology(sal_placement_t p, hwloc_topology_t topo)
{
    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    sal_placement_discard_results(p);
    p->default_topo = topo;
    return SAL_OK;
}

int sal_placement_add_host(sal_placement_t p, const char *host, hwloc_topology_t topo)
{
    size_t i;
    int rc;

    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    if ((rc = check_host(__func__, host)) != SAL_OK)
        return rc;
    i = sal_placement_find_host(p, host);
    if (i != NO_HOST && topo && p->hosts[i].topo && p->hosts[i].topo != topo)
        return sal_error(SAL_ERR_EXISTS, "host %s already has another topology: give it once",
                         host);
    if (i == NO_HOST && (rc = get_host(p, host, &i)) != SAL_OK)
        return rc;
    sal_placement_discard_results(p);
    if (topo)
        p->hosts[i].topo = topo;
    return SAL_OK;
}

int sal_placement_add_rank(sal_placement_t p, int rank, const char *host, const char *cpuset)
{
    hwloc_bitmap_t set;
    place_rank_t *r;
    size_t pos, hi;
    int rc;

    if (!p || rank < 0)
        return sal_error(SAL_ERR_INVALID_ARG, "%s", !p ? "p is NULL" : "rank is negative");
    if ((rc = check_host(__func__, host)) != SAL_OK)
        return rc;
    if (sal_placement_find_rank(p, rank, &pos))
        return sal_error(SAL_ERR_EXISTS, "rank %d was already added (on host %s)", rank,
                         p->hosts[p->ranks[pos].host].name);
    set = hwloc_bitmap_alloc();
    if (!set)
        return sal_error(SAL_ERR_NOMEM, "cpuset of rank %d", rank);
    if ((rc = sal_placement_parse_cpuset(cpuset, set)) != SAL_OK)
        goto out_free_set;
    if (p->nranks == p->cap_ranks) {
        size_t cap = p->cap_ranks ? 2 * p->cap_ranks : 64;
        place_rank_t *n = realloc(p->ranks, cap * sizeof(*n));
        if (!n) {
            rc = sal_error(SAL_ERR_NOMEM, "rank table of %zu ranks", cap);
            goto out_free_set;
        }
        p->ranks = n;
        p->cap_ranks = cap;
    }
    if ((rc = get_host(p, host, &hi)) != SAL_OK)
        goto out_free_set;
    sal_placement_discard_results(p);
    memmove(&p->ranks[pos + 1], &p->ranks[pos], (p->nranks - pos) * sizeof(*r));
    r = &p->ranks[pos];
    memset(r, 0, sizeof(*r));
    r->rank = rank;
    r->host = hi;
    r->cpuset = set;
    p->nranks++;
    p->hosts[hi].nranks++;
    return SAL_OK;
out_free_set:
    hwloc_bitmap_free(set);
    return rc;
}

int sal_placement_mark_failed(sal_placement_t p, int rank)
{
    size_t pos;

    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    if (!sal_placement_find_rank(p, rank, &pos))
        return sal_error(SAL_ERR_NOT_FOUND, "rank %d is not in the host map: add it first", rank);
    sal_placement_discard_results(p);
    p->ranks[pos].failed = 1;
    return SAL_OK;
}

int sal_placement_mark_host_dead(sal_placement_t p, const char *host)
{
    size_t i;

    if (!p || !host)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !p ? "p" : "host");
    if ((i = sal_placement_find_host(p, host)) == NO_HOST)
        return sal_error(SAL_ERR_NOT_FOUND, "host %.64s is not in the host map", host);
    sal_placement_discard_results(p);
    p->hosts[i].dead = 1;
    return SAL_OK;
}

int sal_placement_add_spare_host(sal_placement_t p, const char *host, int slots)
{
    size_t i;
    int rc;

    if (!p || slots < 0 || slots > SLOTS_MAX)
        return sal_error(SAL_ERR_INVALID_ARG, "%s", !p ? "p is NULL" : "slots out of range");
    if ((rc = check_host(__func__, host)) != SAL_OK)
        return rc;
    i = sal_placement_find_host(p, host);
    if (i != NO_HOST && p->hosts[i].spare)
        return sal_error(SAL_ERR_EXISTS, "host %s was already offered as a spare", host);
    if (i == NO_HOST && (rc = get_host(p, host, &i)) != SAL_OK)
        return rc;
    sal_placement_discard_results(p);
    p->hosts[i].spare = 1;
    p->hosts[i].slots = slots;
    return SAL_OK;
}
