/* Partner choice by rendezvous hashing over host names (ckpt/src/partner.c). */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "redundancy.h"
#include "unit_main.h"

#define MAX_RANKS 256
#define NAME_LEN  32

/* A job layout: the host name of every rank. */
struct layout {
    int n;
    char names[MAX_RANKS][NAME_LEN];
    const char *hosts[MAX_RANKS];
};

static void layout_add(struct layout *l, const char *host)
{
    snprintf(l->names[l->n], NAME_LEN, "%s", host);
    l->hosts[l->n] = l->names[l->n];
    l->n++;
}

/* Host names of a few real-world naming schemes, i counting from 1. */
enum { NODE, CN, RACK, NID, SOLO, NSCHEMES };

static void host_name(char *buf, int scheme, int i)
{
    switch (scheme) {
    case NODE:
        snprintf(buf, NAME_LEN, "node%02d", i);
        break;
    case CN:
        snprintf(buf, NAME_LEN, "cn%03d.cluster", i);
        break;
    case RACK:
        snprintf(buf, NAME_LEN, "r%dn1", i);
        break;
    case NID:
        snprintf(buf, NAME_LEN, "nid%05d", i);
        break;
    default:
        snprintf(buf, NAME_LEN, "solo%d", i);
        break;
    }
}

/* nhosts hosts of a naming scheme, per_host ranks each, ranks numbered host by host; the host with
 * index skip (-1: none) is left out. */
static void layout_block(struct layout *l, int scheme, int nhosts, int per_host, int skip)
{
    char name[NAME_LEN];

    l->n = 0;
    for (int h = 0; h < nhosts; h++) {
        if (h == skip)
            continue;
        host_name(name, scheme, h + 1);
        for (int i = 0; i < per_host; i++)
            layout_add(l, name);
    }
}

/* Identity of a rank independent of numbering: its host name and its position on that host. */
static int local_index(const struct layout *l, int r)
{
    int local = 0;

    for (int q = 0; q < r; q++)
        local += strcmp(l->hosts[q], l->hosts[r]) == 0;
    return local;
}

/* The rank of l on host `host` with local index `local`, or -1. */
static int rank_of(const struct layout *l, const char *host, int local)
{
    for (int r = 0; r < l->n; r++)
        if (strcmp(l->hosts[r], host) == 0 && local-- == 0)
            return r;
    return -1;
}

static sal_partner_map_t *make_map(const struct layout *l, uint64_t salt)
{
    sal_partner_map_t *m = NULL;

    CU_ASSERT_EQUAL_FATAL(sal_partner_map_create(l->n, l->hosts, salt, &m), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    return m;
}

/* Every structural property of a map with two hosts or more; returns the number of violations. */
static int check_map(const struct layout *l, const sal_partner_map_t *m)
{
    int bad = 0, total = 0;

    bad += sal_partner_map_nranks(m) != l->n;
    bad += sal_partner_map_scope(m) != SAL_PARTNER_OTHER_HOST;
    for (int r = 0; r < l->n; r++) {
        int p = sal_partner_of(m, r), found = 0;
        const int *src;
        int ns;
        if (p < 0 || p >= l->n || p == r || strcmp(l->hosts[p], l->hosts[r]) == 0) {
            bad++;
            continue;
        }
        ns = sal_partner_sources(m, p, &src);
        for (int i = 0; i < ns; i++)
            found += src[i] == r;
        bad += found != 1;
        ns = sal_partner_sources(m, r, &src);
        total += ns;
        for (int i = 0; i < ns; i++)
            bad += sal_partner_of(m, src[i]) != r || (i > 0 && src[i] <= src[i - 1]);
    }
    bad += total != l->n;
    return bad;
}

static void test_hash_golden(void)
{
    /* published FNV-1a and splitmix64 values: the hashes are the same on every machine */
    CU_ASSERT_EQUAL(sal_hash_str(""), 14695981039346656037ULL);
    CU_ASSERT_EQUAL(sal_hash_str("a"), 0xaf63dc4c8601ec8cULL);
    CU_ASSERT_EQUAL(sal_hash_str("foobar"), 0x85944171f73967e8ULL);
    CU_ASSERT_EQUAL(sal_hash_mix64(0), 0xe220a8397b1dcdafULL);
    CU_ASSERT_NOT_EQUAL(sal_hrw_weight(1, 2, 0), sal_hrw_weight(2, 1, 0));
    CU_ASSERT_NOT_EQUAL(sal_hrw_weight(1, 2, 0), sal_hrw_weight(1, 2, 1));
}

/* A recorded map: a change of the hash or the rule changes it (and breaks restarts that rely on
 * partner copies written by the previous version). */
static void test_golden_map(void)
{
    static const int expected[12] = {10, 11, 9, 9, 10, 11, 3, 4, 5, 4, 5, 3};
    struct layout l;
    sal_partner_map_t *m;

    layout_block(&l, NODE, 4, 3, -1);
    m = make_map(&l, 0);
    for (int r = 0; r < l.n; r++)
        CU_ASSERT_EQUAL(sal_partner_of(m, r), expected[r]);
    sal_partner_map_destroy(&m);
    CU_ASSERT_PTR_NULL(m);
}

static void test_structure(void)
{
    struct layout l;

    for (int f = NODE; f <= RACK; f++)
        for (int nh = 2; nh <= 16; nh++)
            for (int per = 1; per <= 5; per++) {
                sal_partner_map_t *m;
                layout_block(&l, f, nh, per, -1);
                m = make_map(&l, (uint64_t)f);
                CU_ASSERT_EQUAL(check_map(&l, m), 0);
                CU_ASSERT_EQUAL(sal_partner_map_nhosts(m), nh);
                sal_partner_map_destroy(&m);
            }
    /* uneven: host k has k ranks, ranks interleaved */
    l.n = 0;
    for (int round = 0; round < 6; round++)
        for (int h = 1; h <= 6; h++)
            if (round < h) {
                char name[NAME_LEN];
                snprintf(name, sizeof(name), "h%d", h);
                layout_add(&l, name);
            }
    {
        sal_partner_map_t *m = make_map(&l, 0);
        CU_ASSERT_EQUAL(check_map(&l, m), 0);
        sal_partner_map_destroy(&m);
    }
}

/* Removes host `lost` (index) from an nhosts x per_host job; returns the number of surviving ranks
 * whose partner changed, asserting each of them had its partner on the lost host. */
static int moved_after_loss(int scheme, int nhosts, int per_host, int lost, uint64_t salt,
                            int *affected)
{
    static struct layout before, after;
    sal_partner_map_t *mb, *ma;
    char lost_name[NAME_LEN];
    int changed = 0;

    layout_block(&before, scheme, nhosts, per_host, -1);
    layout_block(&after, scheme, nhosts, per_host, lost);
    host_name(lost_name, scheme, lost + 1);
    mb = make_map(&before, salt);
    ma = make_map(&after, salt);
    *affected = 0;
    for (int r = 0; r < after.n; r++) {
        int rb = rank_of(&before, after.hosts[r], local_index(&after, r));
        int pb = sal_partner_of(mb, rb), pa = sal_partner_of(ma, r);
        int was_on_lost = strcmp(before.hosts[pb], lost_name) == 0;
        int same = strcmp(before.hosts[pb], after.hosts[pa]) == 0 &&
                   local_index(&before, pb) == local_index(&after, pa);
        *affected += was_on_lost;
        changed += !same;
        CU_ASSERT(same || was_on_lost);
    }
    sal_partner_map_destroy(&mb);
    sal_partner_map_destroy(&ma);
    return changed;
}

static void test_host_loss(void)
{
    int total = 0, affected;

    printf("\n    8 hosts x 4 ranks, moved assignments per lost host:");
    for (int lost = 0; lost < 8; lost++) {
        int moved = moved_after_loss(NODE, 8, 4, lost, 0, &affected);
        CU_ASSERT_EQUAL(moved, affected);
        printf(" %d", moved);
        total += moved;
    }
    printf(" (of 28 survivors; mean %.1f)\n", total / 8.0);
    for (uint64_t salt = 1; salt < 4; salt++)
        for (int lost = 0; lost < 13; lost += 3) {
            int moved = moved_after_loss(CN, 13, 3, lost, salt, &affected);
            CU_ASSERT_EQUAL(moved, affected);
        }
}

/* Same hosts listed in another order, ranks dealt round-robin instead of by block: the map must be
 * the same once expressed as (host, local index) pairs. */
static void test_order_independence(void)
{
    static const int perm[8] = {5, 2, 7, 0, 3, 6, 1, 4};
    static struct layout a, b;
    sal_partner_map_t *ma, *mb;
    char name[NAME_LEN];

    layout_block(&a, NODE, 8, 4, -1);
    b.n = 0;
    for (int i = 0; i < 4; i++)
        for (int h = 0; h < 8; h++) {
            host_name(name, NODE, perm[h] + 1);
            layout_add(&b, name);
        }
    ma = make_map(&a, 7);
    mb = make_map(&b, 7);
    for (int r = 0; r < b.n; r++) {
        int ra = rank_of(&a, b.hosts[r], local_index(&b, r));
        int pa = sal_partner_of(ma, ra), pb = sal_partner_of(mb, r);
        CU_ASSERT_STRING_EQUAL(a.hosts[pa], b.hosts[pb]);
        CU_ASSERT_EQUAL(local_index(&a, pa), local_index(&b, pb));
    }
    sal_partner_map_destroy(&ma);
    sal_partner_map_destroy(&mb);
}

/* Copies received per host, for 16 hosts x 4 ranks: at most 3x the average (4). */
static void test_load_spread(void)
{
    static const int schemes[] = {NODE, CN, NID};
    char name[NAME_LEN];
    struct layout l;

    for (int f = 0; f < 3; f++) {
        int recv[16] = {0}, max = 0;
        sal_partner_map_t *m;
        layout_block(&l, schemes[f], 16, 4, -1);
        m = make_map(&l, 0);
        for (int r = 0; r < l.n; r++)
            recv[sal_partner_of(m, r) / 4]++;
        host_name(name, schemes[f], 1);
        printf("\n    %s..: copies received per host:", name);
        for (int h = 0; h < 16; h++) {
            printf(" %d", recv[h]);
            max = recv[h] > max ? recv[h] : max;
        }
        CU_ASSERT(max <= 3 * 4);
        sal_partner_map_destroy(&m);
    }
    printf("\n");
}

static void test_single_host_and_rank(void)
{
    struct layout l;
    sal_partner_map_t *m;
    const int *src;

    layout_block(&l, SOLO, 1, 4, -1);
    m = make_map(&l, 0);
    CU_ASSERT_EQUAL(sal_partner_map_scope(m), SAL_PARTNER_SAME_HOST);
    for (int r = 0; r < 4; r++) {
        CU_ASSERT_EQUAL(sal_partner_of(m, r), (r + 1) % 4);
        CU_ASSERT_EQUAL(sal_partner_sources(m, r, &src), 1);
        CU_ASSERT_EQUAL(src[0], (r + 3) % 4);
    }
    sal_partner_map_destroy(&m);

    layout_block(&l, SOLO, 1, 1, -1);
    m = make_map(&l, 0);
    CU_ASSERT_EQUAL(sal_partner_map_scope(m), SAL_PARTNER_NONE);
    CU_ASSERT_EQUAL(sal_partner_of(m, 0), -1);
    CU_ASSERT_EQUAL(sal_partner_sources(m, 0, &src), 0);
    sal_partner_map_destroy(&m);
}

static void test_invalid(void)
{
    const char *hosts[3] = {"a", "", "b"};
    sal_partner_map_t *m = NULL;
    const int *src = NULL;
    struct layout l;

    CU_ASSERT_EQUAL(sal_partner_map_create(0, hosts, 0, &m), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_partner_map_create(3, NULL, 0, &m), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_partner_map_create(3, hosts, 0, &m), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "rank 1"));
    hosts[1] = NULL;
    CU_ASSERT_EQUAL(sal_partner_map_create(3, hosts, 0, &m), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_partner_map_create(1, hosts, 0, NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(m);

    layout_block(&l, RACK, 2, 2, -1);
    m = make_map(&l, 0);
    CU_ASSERT_EQUAL(sal_partner_of(m, -1), -1);
    CU_ASSERT_EQUAL(sal_partner_of(m, 4), -1);
    CU_ASSERT_EQUAL(sal_partner_of(NULL, 0), -1);
    CU_ASSERT_EQUAL(sal_partner_sources(m, 0, &src), 1);
    CU_ASSERT_EQUAL(sal_partner_sources(m, 4, &src), -1);
    CU_ASSERT_PTR_NULL(src);
    sal_partner_map_destroy(&m);
    sal_partner_map_destroy(&m);
    sal_partner_map_destroy(NULL);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"hash golden values", test_hash_golden},
        {"recorded map", test_golden_map},
        {"no self, other host, inverse", test_structure},
        {"host loss moves only its assignments", test_host_loss},
        {"independent of host order", test_order_independence},
        {"load spread", test_load_spread},
        {"single host, single rank", test_single_host_and_rank},
        {"invalid arguments", test_invalid},
    };

    return SAL_UNIT_MAIN("partner", NULL, NULL, tests);
}
