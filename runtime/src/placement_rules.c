/*
 * The rules of docs/placement.md: one sal_placement_compute round over the host map (which host and
 * which cores each failed rank's replacement gets, in which tier) and its results. Contract in
 * placement.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "placement.h"

/* How close a candidate unit (core or PU) is to the lost rank's cores: smaller is closer. */
enum locality { LOC_SAME_CORES, LOC_SAME_NUMA, LOC_SAME_PACKAGE, LOC_ELSEWHERE, LOC_NCLASSES };

enum tier { TIER_SAME, TIER_SPARE, TIER_LEAST, TIER_OVER };

/* What a replacement needs, derived from the lost rank's binding on its own host. */
typedef struct want {
    const place_rank_t *r;
    /* HWLOC_OBJ_CORE when the lost cpuset is made of whole cores, else HWLOC_OBJ_PU */
    hwloc_obj_type_t unit;
    int count;   /* number of units */
    int numa;    /* logical index of the NUMA node holding the lost cpuset, or -1 */
    int package; /* same for the package */
} want_t;

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

int sal_placement_container_index(hwloc_topology_t t, hwloc_obj_type_t type,
                                  hwloc_const_bitmap_t set)
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
    w->numa = sal_placement_container_index(h->t, HWLOC_OBJ_NUMANODE, r->cpuset);
    w->package = sal_placement_container_index(h->t, HWLOC_OBJ_PACKAGE, r->cpuset);
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
    sal_placement_discard_results(p);
    rc = begin_round(p);
    /* First every replacement that fits on its own host, so that the cores it left are not taken
     * by one that has to move; then the others. Both passes in increasing rank order. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; rc == SAL_OK && i < p->nranks; i++)
            if (p->ranks[i].failed && !p->ranks[i].dest_cpuset)
                rc = place_one(p, &p->ranks[i], pass == 0);
    end_round(p);
    if (rc != SAL_OK)
        sal_placement_discard_results(p);
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
    if (!sal_placement_find_rank(p, rank, &pos) || !p->ranks[pos].failed)
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
