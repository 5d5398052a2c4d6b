/*
 * Placement of replacements for failed ranks: the host map, the rules of docs/placement.md, the
 * hostfile reader and the binding helpers. Contract in placement.h.
 *
 * Invariants: p->ranks is sorted by rank number with no duplicates; p->hosts holds each name once;
 * results exist (p->computed) only for the description they were computed from -- every call that
 * changes the description discards them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "placement.h"

#define PU_INDEX_MAX   (1 << 20) /* PU indexes in a cpuset string are below this */
#define SLOTS_MAX      (1 << 20)
#define HOSTFILE_LINE  4096  /* longest hostfile line, in bytes */
#define HOSTFILE_HOSTS 65536 /* most hosts in one hostfile */
#define REASON_LEN     192
#define WHERE_LEN      288 /* "hostfile <path> line <n>" in messages */
#define NO_HOST        ((size_t)-1)

/* How close a candidate unit (core or PU) is to the lost rank's cores: smaller is closer. */
enum locality { LOC_SAME_CORES, LOC_SAME_NUMA, LOC_SAME_PACKAGE, LOC_ELSEWHERE, LOC_NCLASSES };

enum tier { TIER_SAME, TIER_SPARE, TIER_LEAST, TIER_OVER };

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

struct sal_placement {
    place_host_t *hosts;
    size_t nhosts, cap_hosts;
    place_rank_t *ranks;
    size_t nranks, cap_ranks;
    hwloc_topology_t default_topo;
    int computed;
};

/* What a replacement needs, derived from the lost rank's binding on its own host. */
typedef struct want {
    const place_rank_t *r;
    /* HWLOC_OBJ_CORE when the lost cpuset is made of whole cores, else HWLOC_OBJ_PU */
    hwloc_obj_type_t unit;
    int count;   /* number of units */
    int numa;    /* logical index of the NUMA node holding the lost cpuset, or -1 */
    int package; /* same for the package */
} want_t;

/* ---- validation of names and cpuset strings ---- */

/* ASCII only, whatever the locale. */
static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int valid_host_name(const char *s)
{
    size_t n = 0;

    if (!s || !is_alnum(s[0]))
        return 0;
    for (; s[n]; n++)
        if (n >= SAL_PLACEMENT_HOST_MAX ||
            !(is_alnum(s[n]) || s[n] == '-' || s[n] == '.' || s[n] == '_'))
            return 0;
    return 1;
}

static int check_host(const char *func, const char *host)
{
    if (valid_host_name(host))
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

/* Parses hwloc's list format ("0-3,8"): indexes below PU_INDEX_MAX, ranges lo-hi with lo <= hi,
 * separated by single commas, nothing else; the result is never empty. */
static int parse_cpuset(const char *s, hwloc_bitmap_t set)
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

/* Parses cpuset and checks that it lies within topo. */
static int parse_in_topology(hwloc_topology_t topo, const char *cpuset, hwloc_bitmap_t set)
{
    hwloc_const_bitmap_t all = hwloc_topology_get_topology_cpuset(topo);
    char *list = NULL;
    int rc = parse_cpuset(cpuset, set);

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

/* ---- the description: hosts and ranks ---- */

static void discard_results(sal_placement_t p)
{
    for (size_t i = 0; i < p->nranks; i++) {
        free(p->ranks[i].dest_cpuset);
        p->ranks[i].dest_cpuset = NULL;
        p->ranks[i].reason[0] = '\0';
    }
    p->computed = 0;
}

static size_t find_host(const struct sal_placement *p, const char *name)
{
    for (size_t i = 0; i < p->nhosts; i++)
        if (strcmp(p->hosts[i].name, name) == 0)
            return i;
    return NO_HOST;
}

/* [OUT] *idx: the host called name, declared now if it was not. name is valid. */
static int get_host(sal_placement_t p, const char *name, size_t *idx)
{
    size_t i = find_host(p, name);
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

/* Binary search: 1 when rank is present (at *pos), else 0 with *pos its insertion point. */
static int find_rank(const struct sal_placement *p, int rank, size_t *pos)
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
    discard_results(*p);
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
    discard_results(p);
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
    i = find_host(p, host);
    if (i != NO_HOST && topo && p->hosts[i].topo && p->hosts[i].topo != topo)
        return sal_error(SAL_ERR_EXISTS, "host %s already has another topology: give it once",
                         host);
    if (i == NO_HOST && (rc = get_host(p, host, &i)) != SAL_OK)
        return rc;
    discard_results(p);
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
    if (find_rank(p, rank, &pos))
        return sal_error(SAL_ERR_EXISTS, "rank %d was already added (on host %s)", rank,
                         p->hosts[p->ranks[pos].host].name);
    set = hwloc_bitmap_alloc();
    if (!set)
        return sal_error(SAL_ERR_NOMEM, "cpuset of rank %d", rank);
    if ((rc = parse_cpuset(cpuset, set)) != SAL_OK)
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
    discard_results(p);
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
    if (!find_rank(p, rank, &pos))
        return sal_error(SAL_ERR_NOT_FOUND, "rank %d is not in the host map: add it first", rank);
    discard_results(p);
    p->ranks[pos].failed = 1;
    return SAL_OK;
}

int sal_placement_mark_host_dead(sal_placement_t p, const char *host)
{
    size_t i;

    if (!p || !host)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !p ? "p" : "host");
    if ((i = find_host(p, host)) == NO_HOST)
        return sal_error(SAL_ERR_NOT_FOUND, "host %.64s is not in the host map", host);
    discard_results(p);
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
    i = find_host(p, host);
    if (i != NO_HOST && p->hosts[i].spare)
        return sal_error(SAL_ERR_EXISTS, "host %s was already offered as a spare", host);
    if (i == NO_HOST && (rc = get_host(p, host, &i)) != SAL_OK)
        return rc;
    discard_results(p);
    p->hosts[i].spare = 1;
    p->hosts[i].slots = slots;
    return SAL_OK;
}

/* ---- one compute round ---- */

static void end_round(sal_placement_t p)
{
    for (size_t i = 0; i < p->nhosts; i++) {
        hwloc_bitmap_free(p->hosts[i].used);
        p->hosts[i].used = NULL;
        p->hosts[i].t = NULL;
        p->hosts[i].load = 0;
    }
}

/* Resolves topologies, checks the description, and marks the cores of live ranks as used. */
static int begin_round(sal_placement_t p)
{
    for (size_t i = 0; i < p->nhosts; i++) {
        place_host_t *h = &p->hosts[i];
        h->t = h->topo ? h->topo : p->default_topo;
        h->used = hwloc_bitmap_alloc();
        if (!h->used)
            return sal_error(SAL_ERR_NOMEM, "cpuset of host %s", h->name);
        if (!h->t && (h->nranks > 0 || h->spare))
            return sal_error(SAL_ERR_STATE,
                             "host %s has no topology: give it one with sal_placement_add_host or "
                             "set a default with sal_placement_set_default_topology",
                             h->name);
    }
    for (size_t i = 0; i < p->nranks; i++) {
        const place_rank_t *r = &p->ranks[i];
        place_host_t *h = &p->hosts[r->host];
        if (!hwloc_bitmap_isincluded(r->cpuset, hwloc_topology_get_topology_cpuset(h->t))) {
            char *list = NULL;
            int rc;
            hwloc_bitmap_list_asprintf(&list, r->cpuset);
            rc = sal_error(SAL_ERR_INVALID_ARG,
                           "rank %d: cpuset %s names PUs that the topology of host %s does not "
                           "have: give that host its own topology with sal_placement_add_host",
                           r->rank, list ? list : "?", h->name);
            free(list);
            return rc;
        }
        if (r->failed)
            continue;
        if (h->dead)
            return sal_error(SAL_ERR_INVALID_ARG,
                             "host %s is marked dead but rank %d on it is alive: mark a host dead "
                             "only when every rank on it failed",
                             h->name, r->rank);
        hwloc_bitmap_or(h->used, h->used, r->cpuset);
        h->load++;
    }
    return SAL_OK;
}

/* Logical index of the object of type that contains all of set, or -1. */
static int container_index(hwloc_topology_t t, hwloc_obj_type_t type, hwloc_const_bitmap_t set)
{
    hwloc_obj_t o = NULL;

    while ((o = hwloc_get_next_obj_by_type(t, type, o)) != NULL)
        if (o->cpuset && hwloc_bitmap_isincluded(set, o->cpuset))
            return (int)o->logical_index;
    return -1;
}

/* cpuset of the object of type with logical index idx in t, or NULL when there is none. */
static hwloc_const_bitmap_t object_set(hwloc_topology_t t, hwloc_obj_type_t type, int idx)
{
    hwloc_obj_t o = idx >= 0 ? hwloc_get_obj_by_type(t, type, (unsigned)idx) : NULL;

    return o ? o->cpuset : NULL;
}

/* The replacement gets as many whole cores as the lost rank had when it was bound to whole cores,
 * else as many PUs. */
static void want_of(const place_host_t *h, const place_rank_t *r, want_t *w)
{
    hwloc_obj_t core = NULL;
    int whole = 1, cores = 0;

    while ((core = hwloc_get_next_obj_by_type(h->t, HWLOC_OBJ_CORE, core)) != NULL) {
        if (!hwloc_bitmap_intersects(core->cpuset, r->cpuset))
            continue;
        if (!hwloc_bitmap_isincluded(core->cpuset, r->cpuset))
            whole = 0;
        cores++;
    }
    w->r = r;
    w->unit = whole && cores > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
    w->count = w->unit == HWLOC_OBJ_CORE ? cores : hwloc_bitmap_weight(r->cpuset);
    w->numa = container_index(h->t, HWLOC_OBJ_NUMANODE, r->cpuset);
    w->package = container_index(h->t, HWLOC_OBJ_PACKAGE, r->cpuset);
}

static enum locality unit_class(hwloc_const_bitmap_t unit, hwloc_const_bitmap_t lost,
                                hwloc_const_bitmap_t numa, hwloc_const_bitmap_t pkg)
{
    if (lost && hwloc_bitmap_isincluded(unit, lost))
        return LOC_SAME_CORES;
    if (numa && hwloc_bitmap_isincluded(unit, numa))
        return LOC_SAME_NUMA;
    if (pkg && hwloc_bitmap_isincluded(unit, pkg))
        return LOC_SAME_PACKAGE;
    return LOC_ELSEWHERE;
}

/* Chooses w->count free units of host h, closest first (then by logical index), into out; *loc is
 * the farthest class taken. own: h is the lost rank's host, so its old cores count as closest. 1
 * when h has room (slots not exhausted, enough free units), else 0. */
static int pick_units(const want_t *w, const place_host_t *h, int own, hwloc_bitmap_t out,
                      enum locality *loc)
{
    hwloc_const_bitmap_t numa = object_set(h->t, HWLOC_OBJ_NUMANODE, w->numa);
    hwloc_const_bitmap_t pkg = object_set(h->t, HWLOC_OBJ_PACKAGE, w->package);
    hwloc_obj_type_t type = w->unit;
    int n, got = 0;

    if (h->slots > 0 && h->load >= h->slots)
        return 0;
    if (type == HWLOC_OBJ_CORE && hwloc_get_nbobjs_by_type(h->t, type) <= 0)
        type = HWLOC_OBJ_PU;
    n = hwloc_get_nbobjs_by_type(h->t, type);
    hwloc_bitmap_zero(out);
    for (int cls = LOC_SAME_CORES; cls < LOC_NCLASSES && got < w->count; cls++) {
        for (int i = 0; i < n && got < w->count; i++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(h->t, type, (unsigned)i);
            if (hwloc_bitmap_intersects(o->cpuset, h->used) ||
                unit_class(o->cpuset, own ? w->r->cpuset : NULL, numa, pkg) != (enum locality)cls)
                continue;
            hwloc_bitmap_or(out, out, o->cpuset);
            *loc = (enum locality)cls;
            got++;
        }
    }
    return got == w->count;
}

static int eligible(const place_host_t *h, enum tier tier)
{
    if (h->dead)
        return 0;
    if (tier == TIER_SPARE)
        return h->spare && h->nranks == 0;
    return h->nranks > 0 || h->spare;
}

/* 1 when host a comes before host b: less loaded, then (own != NO_HOST) the lost rank's own host,
 * then by name. */
static int preferred(const struct sal_placement *p, size_t a, size_t b, size_t own)
{
    const place_host_t *ha = &p->hosts[a], *hb = &p->hosts[b];

    if (ha->load != hb->load)
        return ha->load < hb->load;
    if (own != NO_HOST && (a == own || b == own))
        return a == own;
    return strcmp(ha->name, hb->name) < 0;
}

/* The preferred eligible host of tier, other than the lost rank's, with room; NO_HOST if none. */
static size_t best_with_room(sal_placement_t p, const want_t *w, enum tier tier, hwloc_bitmap_t out,
                             hwloc_bitmap_t tmp, enum locality *loc)
{
    size_t best = NO_HOST;
    enum locality l = LOC_ELSEWHERE;

    for (size_t i = 0; i < p->nhosts; i++) {
        if (i == w->r->host || !eligible(&p->hosts[i], tier))
            continue;
        if (best != NO_HOST && !preferred(p, i, best, NO_HOST))
            continue;
        if (!pick_units(w, &p->hosts[i], 0, tmp, &l))
            continue;
        best = i;
        hwloc_bitmap_copy(out, tmp);
        *loc = l;
    }
    return best;
}

/* The least-loaded live host, room or not; NO_HOST when every host is dead. */
static size_t least_loaded(sal_placement_t p, size_t own)
{
    size_t best = NO_HOST;

    for (size_t i = 0; i < p->nhosts; i++)
        if (eligible(&p->hosts[i], TIER_OVER) && (best == NO_HOST || preferred(p, i, best, own)))
            best = i;
    return best;
}

static const char *locality_name(enum locality loc, const want_t *w)
{
    switch (loc) {
    case LOC_SAME_CORES:
        return "same cores";
    case LOC_SAME_NUMA:
        return "same NUMA node";
    case LOC_SAME_PACKAGE:
        return "same package";
    default:
        return w->numa >= 0 ? "other NUMA node" : "any NUMA node";
    }
}

static int no_live_host(sal_placement_t p, const place_rank_t *r)
{
    size_t dead = 0;

    for (size_t i = 0; i < p->nhosts; i++)
        dead += p->hosts[i].dead && (p->hosts[i].nranks > 0 || p->hosts[i].spare);
    return sal_error(SAL_ERR_RECOVERY,
                     "cannot place failed rank %d (was on host %s): all %zu host(s) of the job are "
                     "dead and no spare host is alive; offer spare hosts (a hostfile or the Slurm "
                     "node list) or let salrun relaunch the job",
                     r->rank, p->hosts[r->host].name, dead);
}

/* Oversubscription: the lost rank's NUMA node on host h when it has one of that index, else every
 * PU of h. */
static void oversubscribe(sal_placement_t p, const want_t *w, size_t h, hwloc_bitmap_t out,
                          char *reason)
{
    hwloc_const_bitmap_t numa = object_set(p->hosts[h].t, HWLOC_OBJ_NUMANODE, w->numa);
    char where[48];

    hwloc_bitmap_copy(out, numa ? numa : hwloc_topology_get_topology_cpuset(p->hosts[h].t));
    if (numa)
        snprintf(where, sizeof(where), "NUMA node %d", w->numa);
    else
        snprintf(where, sizeof(where), "whole machine");
    if (h == w->r->host)
        snprintf(reason, REASON_LEN, "oversubscribed: no free core on any host; same host, %s",
                 where);
    else
        snprintf(reason, REASON_LEN,
                 "oversubscribed: no free core on any host; least-loaded host %s, %s",
                 p->hosts[h].name, where);
}

/* Places failed rank r by the tiers of docs/placement.md into out/reason; [OUT] *dest. With
 * same_only, only the first tier is tried and *dest is NO_HOST when it does not fit. */
static int decide(sal_placement_t p, const want_t *w, int same_only, hwloc_bitmap_t out,
                  hwloc_bitmap_t tmp, size_t *dest, char *reason)
{
    const place_host_t *own = &p->hosts[w->r->host];
    const char *why = own->dead ? "dead" : "full";
    enum locality loc = LOC_ELSEWHERE;
    size_t h;

    if (!own->dead && pick_units(w, own, 1, out, &loc)) {
        *dest = w->r->host;
        snprintf(reason, REASON_LEN, "same host, %s", locality_name(loc, w));
    } else if (same_only) {
        *dest = NO_HOST;
    } else if ((h = best_with_room(p, w, TIER_SPARE, out, tmp, &loc)) != NO_HOST) {
        *dest = h;
        snprintf(reason, REASON_LEN, "spare host %s, %s (%s %s)", p->hosts[h].name,
                 locality_name(loc, w), own->name, why);
    } else if ((h = best_with_room(p, w, TIER_LEAST, out, tmp, &loc)) != NO_HOST) {
        *dest = h;
        snprintf(reason, REASON_LEN, "least-loaded host %s, %s (%s %s)", p->hosts[h].name,
                 locality_name(loc, w), own->name, why);
    } else if ((h = least_loaded(p, w->r->host)) != NO_HOST) {
        *dest = h;
        oversubscribe(p, w, h, out, reason);
    } else {
        return no_live_host(p, w->r);
    }
    return SAL_OK;
}

/* Decides failed rank r (see decide() for same_only) and occupies its cores. */
static int place_one(sal_placement_t p, place_rank_t *r, int same_only)
{
    hwloc_bitmap_t out = hwloc_bitmap_alloc(), tmp = hwloc_bitmap_alloc();
    place_host_t *h;
    want_t w;
    int rc;

    if (!out || !tmp) {
        rc = sal_error(SAL_ERR_NOMEM, "cpusets for rank %d", r->rank);
        goto out_free_sets;
    }
    want_of(&p->hosts[r->host], r, &w);
    if ((rc = decide(p, &w, same_only, out, tmp, &r->dest, r->reason)) != SAL_OK ||
        r->dest == NO_HOST)
        goto out_free_sets;
    h = &p->hosts[r->dest];
    hwloc_bitmap_or(h->used, h->used, out);
    h->load++;
    if (hwloc_bitmap_list_asprintf(&r->dest_cpuset, out) < 0) {
        r->dest_cpuset = NULL;
        rc = sal_error(SAL_ERR_NOMEM, "cpuset string of rank %d", r->rank);
        goto out_free_sets;
    }
    SAL_LOG_D("rank %d -> host %s cpuset %s: %s", r->rank, h->name, r->dest_cpuset, r->reason);
out_free_sets:
    hwloc_bitmap_free(tmp);
    hwloc_bitmap_free(out);
    return rc;
}

int sal_placement_compute(sal_placement_t p)
{
    int rc;

    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    discard_results(p);
    rc = begin_round(p);
    /* First every replacement that fits on its own host, so that the cores it left are not taken
     * by one that has to move; then the others. Both passes in increasing rank order. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; rc == SAL_OK && i < p->nranks; i++)
            if (p->ranks[i].failed && !p->ranks[i].dest_cpuset)
                rc = place_one(p, &p->ranks[i], pass == 0);
    end_round(p);
    if (rc != SAL_OK)
        discard_results(p);
    else
        p->computed = 1;
    return rc;
}

int sal_placement_result(sal_placement_t p, int rank, const char **host, const char **cpuset,
                         const char **reason)
{
    const place_rank_t *r;
    size_t pos;

    if (!p)
        return sal_error(SAL_ERR_INVALID_ARG, "p is NULL");
    if (!p->computed)
        return sal_error(SAL_ERR_STATE, "no placement computed: call sal_placement_compute after "
                                        "describing the job");
    if (!find_rank(p, rank, &pos) || !p->ranks[pos].failed)
        return sal_error(SAL_ERR_NOT_FOUND, "rank %d is not a failed rank of the host map", rank);
    r = &p->ranks[pos];
    if (host)
        *host = p->hosts[r->dest].name;
    if (cpuset)
        *cpuset = r->dest_cpuset;
    if (reason)
        *reason = r->reason;
    return SAL_OK;
}

/* ---- hostfile ---- */

typedef struct hostfile_entry {
    char name[SAL_PLACEMENT_HOST_MAX + 1];
    int slots;
} hostfile_entry_t;

/* Reads N in "key=N" (1 <= N <= SLOTS_MAX); -1 when malformed or out of range. */
static int parse_slots(const char *s)
{
    long v;

    if (parse_index(&s, SLOTS_MAX + 1L, &v) != 0 || *s != '\0' || v < 1)
        return -1;
    return (int)v;
}

/* Parses one line (modified in place). [OUT] *e and *has (0 for a blank or comment line). */
static int parse_hostfile_line(char *line, const char *where, hostfile_entry_t *e, int *has)
{
    static const char *const blank = " \t\r\n\v\f";
    char *save = NULL, *tok, *hash = strchr(line, '#');
    int max_slots = 0;

    if (hash)
        *hash = '\0';
    *has = 0;
    if ((tok = strtok_r(line, blank, &save)) == NULL)
        return SAL_OK;
    if (!valid_host_name(tok))
        return sal_error(SAL_ERR_CONFIG,
                         "%s: \"%.64s\" is not a host name (1 to %d letters, digits, '-', '.', "
                         "'_'): fix the line or comment it out with '#'",
                         where, tok, SAL_PLACEMENT_HOST_MAX);
    snprintf(e->name, sizeof(e->name), "%s", tok);
    e->slots = 0;
    while ((tok = strtok_r(NULL, blank, &save)) != NULL) {
        int *dst = strncmp(tok, "slots=", 6) == 0        ? &e->slots
                   : strncmp(tok, "max_slots=", 10) == 0 ? &max_slots
                                                         : NULL;
        if (!dst)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: unknown attribute \"%.64s\": expected slots=N or max_slots=N",
                             where, tok);
        if (*dst != 0 || (*dst = parse_slots(strchr(tok, '=') + 1)) < 0)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: \"%.64s\": give each attribute once, as a whole number from 1 "
                             "to %d",
                             where, tok, SLOTS_MAX);
    }
    if (max_slots > 0 && e->slots > max_slots)
        return sal_error(SAL_ERR_CONFIG, "%s: slots=%d exceeds max_slots=%d: lower slots", where,
                         e->slots, max_slots);
    *has = 1;
    return SAL_OK;
}

/* Appends the entry of one line, refusing a host listed twice or already offered. */
static int add_entry(sal_placement_t p, hostfile_entry_t **list, size_t *n,
                     const hostfile_entry_t *e, const char *where)
{
    size_t i = find_host(p, e->name);
    hostfile_entry_t *grown;

    for (size_t k = 0; k < *n; k++)
        if (strcmp((*list)[k].name, e->name) == 0)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: host %s is listed again: list each host once, with slots=N",
                             where, e->name);
    if (i != NO_HOST && p->hosts[i].spare)
        return sal_error(SAL_ERR_CONFIG, "%s: host %s was already offered as a spare", where,
                         e->name);
    if (*n >= HOSTFILE_HOSTS)
        return sal_error(SAL_ERR_CONFIG, "%s: more than %d hosts", where, HOSTFILE_HOSTS);
    grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (!grown)
        return sal_error(SAL_ERR_NOMEM, "%s: host list", where);
    grown[(*n)++] = *e;
    *list = grown;
    return SAL_OK;
}

/* Reads every entry of the open hostfile f into the array *list of *n entries. */
static int read_hostfile(sal_placement_t p, FILE *f, const char *path, hostfile_entry_t **list,
                         size_t *n)
{
    char *line = NULL, where[WHERE_LEN];
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = SAL_OK, has;
    hostfile_entry_t e;

    while (rc == SAL_OK && (len = getline(&line, &cap, f)) >= 0) {
        snprintf(where, sizeof(where), "hostfile %.200s line %ld", path, ++lineno);
        if (len > HOSTFILE_LINE)
            rc = sal_error(SAL_ERR_CONFIG, "%s: longer than %d bytes", where, HOSTFILE_LINE);
        else if (strlen(line) != (size_t)len)
            rc = sal_error(SAL_ERR_CONFIG, "%s: contains a NUL byte: is this a text file?", where);
        else if ((rc = parse_hostfile_line(line, where, &e, &has)) == SAL_OK && has)
            rc = add_entry(p, list, n, &e, where);
    }
    if (rc == SAL_OK && ferror(f))
        rc = sal_error(SAL_ERR_IO, "read hostfile %s: %s", path, strerror(errno));
    free(line);
    return rc;
}

int sal_placement_load_hostfile(sal_placement_t p, const char *path)
{
    hostfile_entry_t *list = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    if (!p || !path)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !p ? "p" : "path");
    f = fopen(path, "r");
    if (!f)
        return sal_error(SAL_ERR_IO, "open hostfile %s: %s: check the path", path, strerror(errno));
    rc = read_hostfile(p, f, path, &list, &n);
    for (size_t i = 0; rc == SAL_OK && i < n; i++)
        rc = sal_placement_add_spare_host(p, list[i].name, list[i].slots);
    if (rc == SAL_OK)
        SAL_LOG_D("hostfile %s: %zu spare host(s)", path, n);
    free(list);
    (void)fclose(f); /* read only */
    return rc;
}

/* ---- binding helpers ---- */

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
        *numa = container_index(topo, HWLOC_OBJ_NUMANODE, set);
    hwloc_bitmap_free(set);
    return rc;
}
