/*
 * Host hashing, the host table and the partner map (level 2). The rule and its properties are
 * stated in redundancy.h and docs/levels.md; the functions here only implement them.
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "redundancy.h"

struct sal_partner_map {
    int nranks;
    int nhosts;
    sal_partner_scope_t scope;
    int *partner; /* [nranks] */
    int *first;   /* [nranks + 1] rank r holds the copies of sources[first[r] .. first[r + 1]) */
    int *sources; /* [nranks] */
};

uint64_t sal_hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

uint64_t sal_hash_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t sal_hrw_weight(uint64_t key, uint64_t candidate, uint64_t salt)
{
    return sal_hash_mix64(sal_hash_mix64(key ^ salt) ^ candidate);
}

/* ---- host table -------------------------------------------------------------------------- */

struct named_rank {
    const char *name;
    int rank;
};

static int cmp_named_rank(const void *a, const void *b)
{
    const struct named_rank *x = a, *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static int check_hosts(int nranks, const char *const hosts[])
{
    if (nranks <= 0)
        return sal_error(SAL_ERR_INVALID_ARG, "rank count %d: need at least one rank", nranks);
    if (!hosts)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL host list");
    for (int r = 0; r < nranks; r++)
        if (!hosts[r] || !hosts[r][0])
            return sal_error(SAL_ERR_INVALID_ARG,
                             "rank %d has %s host name: every rank must report its host (set the "
                             "hostname key or fix MPI_Get_processor_name)",
                             r, hosts[r] ? "an empty" : "no");
    return SAL_OK;
}

/* Fills host_of/local_of/first/ranks/hash from the name-sorted list. */
static void index_sorted(sal_host_table_t *t, const struct named_rank *sorted)
{
    int h = -1;

    for (int i = 0; i < t->nranks; i++) {
        if (i == 0 || strcmp(sorted[i].name, sorted[i - 1].name) != 0) {
            h++;
            t->first[h] = i;
            t->hash[h] = sal_hash_str(sorted[i].name);
        }
        t->ranks[i] = sorted[i].rank;
        t->host_of[sorted[i].rank] = h;
        t->local_of[sorted[i].rank] = i - t->first[h];
    }
    t->nhosts = h + 1;
    t->first[t->nhosts] = t->nranks;
}

int sal_host_table_build(int nranks, const char *const hosts[], sal_host_table_t *t)
{
    struct named_rank *sorted;
    size_t n = (size_t)nranks;
    int rc;

    if (!t)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL host table");
    memset(t, 0, sizeof(*t));
    rc = check_hosts(nranks, hosts);
    if (rc != SAL_OK)
        return rc;
    sorted = malloc(n * sizeof(*sorted));
    t->host_of = malloc(n * sizeof(int));
    t->local_of = malloc(n * sizeof(int));
    t->first = malloc((n + 1) * sizeof(int));
    t->ranks = malloc(n * sizeof(int));
    t->hash = malloc(n * sizeof(uint64_t));
    if (!sorted || !t->host_of || !t->local_of || !t->first || !t->ranks || !t->hash) {
        rc = sal_error(SAL_ERR_NOMEM, "host table for %d ranks", nranks);
        sal_host_table_free(t);
        goto out_free_sorted;
    }
    t->nranks = nranks;
    for (int r = 0; r < nranks; r++)
        sorted[r] = (struct named_rank){.name = hosts[r], .rank = r};
    qsort(sorted, n, sizeof(*sorted), cmp_named_rank);
    index_sorted(t, sorted);
out_free_sorted:
    free(sorted);
    return rc;
}

void sal_host_table_free(sal_host_table_t *t)
{
    if (!t)
        return;
    free(t->host_of);
    free(t->local_of);
    free(t->first);
    free(t->ranks);
    free(t->hash);
    memset(t, 0, sizeof(*t));
}

/* ---- partner map ------------------------------------------------------------------------- */

/* The host of highest weight for host h (never h itself; ties, which need a 64-bit collision, go to
 * the lower index, i.e. the smaller name). Requires t->nhosts >= 2. [OUT] *weight. */
static int choose_host(const sal_host_table_t *t, int h, uint64_t salt, uint64_t *weight)
{
    int best = -1;
    uint64_t best_w = 0;

    for (int p = 0; p < t->nhosts; p++) {
        uint64_t w;
        if (p == h)
            continue;
        w = sal_hrw_weight(t->hash[h], t->hash[p], salt);
        if (best < 0 || w > best_w) {
            best = p;
            best_w = w;
        }
    }
    *weight = best_w;
    return best;
}

/* Several hosts: every rank goes to the chosen host, at its local index shifted by the weight. */
static void assign_other_hosts(const sal_host_table_t *t, uint64_t salt, int *partner)
{
    for (int h = 0; h < t->nhosts; h++) {
        uint64_t w;
        int p = choose_host(t, h, salt, &w);
        int np = t->first[p + 1] - t->first[p];
        int shift = (int)(w % (uint64_t)np);
        for (int i = t->first[h]; i < t->first[h + 1]; i++) {
            int local = i - t->first[h];
            partner[t->ranks[i]] = t->ranks[t->first[p] + (local % np + shift) % np];
        }
    }
}

/* One host with several ranks: the next rank in local order, cyclically. */
static void assign_same_host(const sal_host_table_t *t, int *partner)
{
    for (int i = 0; i < t->nranks; i++)
        partner[t->ranks[i]] = t->ranks[(i + 1) % t->nranks];
}

/* Builds the inverse by a counting sort on the partner, so sources come out in increasing order.
 * first[p] serves as the fill cursor of p's segment, then is shifted back. */
static void build_sources(sal_partner_map_t *m)
{
    memset(m->first, 0, ((size_t)m->nranks + 1) * sizeof(int));
    for (int r = 0; r < m->nranks; r++)
        if (m->partner[r] >= 0)
            m->first[m->partner[r] + 1]++;
    for (int r = 0; r < m->nranks; r++)
        m->first[r + 1] += m->first[r];
    for (int r = 0; r < m->nranks; r++)
        if (m->partner[r] >= 0)
            m->sources[m->first[m->partner[r]]++] = r;
    for (int r = m->nranks; r > 0; r--)
        m->first[r] = m->first[r - 1];
    m->first[0] = 0;
}

static void assign(sal_partner_map_t *m, const sal_host_table_t *t, uint64_t salt)
{
    if (t->nhosts >= 2) {
        m->scope = SAL_PARTNER_OTHER_HOST;
        assign_other_hosts(t, salt, m->partner);
    } else if (t->nranks >= 2) {
        m->scope = SAL_PARTNER_SAME_HOST;
        assign_same_host(t, m->partner);
    } else {
        m->scope = SAL_PARTNER_NONE;
        m->partner[0] = -1;
    }
    build_sources(m);
}

int sal_partner_map_create(int nranks, const char *const hosts[], uint64_t salt,
                           sal_partner_map_t **out)
{
    sal_host_table_t t;
    sal_partner_map_t *m;
    int rc;

    if (!out)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL output pointer");
    rc = sal_host_table_build(nranks, hosts, &t);
    if (rc != SAL_OK)
        return rc;
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = sal_error(SAL_ERR_NOMEM, "partner map for %d ranks", nranks);
        goto out_free_table;
    }
    m->nranks = nranks;
    m->nhosts = t.nhosts;
    m->partner = calloc((size_t)nranks, sizeof(int));
    m->first = malloc(((size_t)nranks + 1) * sizeof(int));
    m->sources = malloc((size_t)nranks * sizeof(int));
    if (!m->partner || !m->first || !m->sources) {
        rc = sal_error(SAL_ERR_NOMEM, "partner map for %d ranks", nranks);
        sal_partner_map_destroy(&m);
        goto out_free_table;
    }
    assign(m, &t, salt);
    *out = m;
out_free_table:
    sal_host_table_free(&t);
    return rc;
}

void sal_partner_map_destroy(sal_partner_map_t **map)
{
    if (!map || !*map)
        return;
    free((*map)->partner);
    free((*map)->first);
    free((*map)->sources);
    free(*map);
    *map = NULL;
}

int sal_partner_map_nranks(const sal_partner_map_t *map)
{
    return map ? map->nranks : 0;
}

int sal_partner_map_nhosts(const sal_partner_map_t *map)
{
    return map ? map->nhosts : 0;
}

sal_partner_scope_t sal_partner_map_scope(const sal_partner_map_t *map)
{
    return map ? map->scope : SAL_PARTNER_NONE;
}

int sal_partner_of(const sal_partner_map_t *map, int rank)
{
    if (!map || rank < 0 || rank >= map->nranks)
        return -1;
    return map->partner[rank];
}

int sal_partner_sources(const sal_partner_map_t *map, int rank, const int **sources)
{
    if (!sources)
        return -1;
    if (!map || rank < 0 || rank >= map->nranks) {
        *sources = NULL;
        return -1;
    }
    *sources = map->sources + map->first[rank];
    return map->first[rank + 1] - map->first[rank];
}
