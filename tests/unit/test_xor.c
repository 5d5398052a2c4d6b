/* XOR parity groups, parity maths and exchange layouts (ckpt/src/xor.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "redundancy.h"
#include "unit_main.h"

#define MAX_RANKS 128
#define NAME_LEN  16

static uint64_t rng_state = 0x5a1a3a4d2024ULL; /* fixed seed: every run tests the same buffers */

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rng() >> 24);
}

static int is_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* ---- a group of payloads with their stripes ---------------------------------------------- */

struct group {
    int size;
    size_t chunk;
    size_t lens[SAL_XOR_MAX_GROUP];
    unsigned char *data[SAL_XOR_MAX_GROUP];
    unsigned char *stripes[SAL_XOR_MAX_GROUP];
};

/* Payloads of the given lengths, random content; stripes computed by sal_xor_encode. */
static void group_init(struct group *g, int size, const size_t *lens)
{
    memset(g, 0, sizeof(*g));
    g->size = size;
    memcpy(g->lens, lens, (size_t)size * sizeof(size_t));
    CU_ASSERT_EQUAL_FATAL(sal_xor_chunk_size(size, lens, &g->chunk), SAL_OK);
    for (int i = 0; i < size; i++) {
        g->data[i] = malloc(lens[i] + 1); /* +1: a present empty payload has a non-NULL pointer */
        g->stripes[i] = malloc(g->chunk + 1);
        CU_ASSERT_FATAL(g->data[i] && g->stripes[i]);
        fill_random(g->data[i], lens[i]);
    }
    CU_ASSERT_EQUAL_FATAL(
        sal_xor_encode(size, (const void *const *)g->data, g->lens, (void *const *)g->stripes),
        SAL_OK);
}

static void group_free(struct group *g)
{
    for (int i = 0; i < g->size; i++) {
        free(g->data[i]);
        free(g->stripes[i]);
    }
}

/* Rebuilds member j after dropping its payload and stripe; checks the result bit for bit. */
static void check_rebuild_one(const struct group *g, int j)
{
    const void *data[SAL_XOR_MAX_GROUP], *stripes[SAL_XOR_MAX_GROUP];
    unsigned char *out = malloc(g->lens[j] + 1), *out_stripe = malloc(g->chunk + 1);
    int lost = -2;

    CU_ASSERT_FATAL(out && out_stripe);
    for (int i = 0; i < g->size; i++) {
        data[i] = i == j ? NULL : g->data[i];
        stripes[i] = i == j ? NULL : g->stripes[i];
    }
    CU_ASSERT_EQUAL(sal_xor_rebuild(g->size, data, g->lens, stripes, &lost, out, out_stripe),
                    SAL_OK);
    CU_ASSERT_EQUAL(lost, j);
    CU_ASSERT(memcmp(out, g->data[j], g->lens[j]) == 0);
    CU_ASSERT(memcmp(out_stripe, g->stripes[j], g->chunk) == 0);
    free(out);
    free(out_stripe);
}

/* ---- parity maths ------------------------------------------------------------------------ */

static void test_accumulate(void)
{
    unsigned char a[200], b[200], ref[200];

    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= 150; len += 7) {
            fill_random(a, sizeof(a));
            fill_random(b, sizeof(b));
            memcpy(ref, a, sizeof(a));
            for (size_t i = 0; i < len; i++)
                ref[off + i] = a[off + i] ^ b[3 + off % 5 + i];
            sal_xor_accumulate(a + off, b + 3 + off % 5, len); /* unaligned both sides */
            CU_ASSERT(memcmp(a, ref, sizeof(a)) == 0);
        }
}

static void test_chunk_index(void)
{
    for (int size = 2; size <= 9; size++)
        for (int i = 0; i < size; i++) {
            int seen[SAL_XOR_MAX_GROUP] = {0};
            CU_ASSERT_EQUAL(sal_xor_chunk_index(size, i, i), -1);
            for (int k = 0; k < size; k++) {
                int c = sal_xor_chunk_index(size, i, k);
                if (k == i)
                    continue;
                CU_ASSERT(c >= 0 && c < size - 1);
                if (c >= 0 && c < size - 1)
                    seen[c]++;
            }
            for (int c = 0; c < size - 1; c++)
                CU_ASSERT_EQUAL(seen[c], 1); /* each data chunk enters exactly one stripe */
        }
    CU_ASSERT_EQUAL(sal_xor_chunk_index(4, 4, 0), -1);
    CU_ASSERT_EQUAL(sal_xor_chunk_index(4, 0, -1), -1);
}

static void test_chunk_size(void)
{
    size_t lens[4] = {10, 0, 31, 7}, c = 99;

    CU_ASSERT_EQUAL(sal_xor_chunk_size(4, lens, &c), SAL_OK);
    CU_ASSERT_EQUAL(c, 11);
    CU_ASSERT_EQUAL(sal_xor_chunk_size(2, lens, &c), SAL_OK);
    CU_ASSERT_EQUAL(c, 10);
    lens[0] = lens[2] = lens[3] = 0;
    CU_ASSERT_EQUAL(sal_xor_chunk_size(4, lens, &c), SAL_OK);
    CU_ASSERT_EQUAL(c, 0);
    lens[2] = SIZE_MAX;
    CU_ASSERT_EQUAL(sal_xor_chunk_size(4, lens, &c), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_chunk_size(1, lens, &c), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_chunk_size(SAL_XOR_MAX_GROUP + 1, lens, &c), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_chunk_size(4, NULL, &c), SAL_ERR_INVALID_ARG);
}

/* Every single loss in groups of 2..8 with random lengths, zeros included. */
static void test_every_single_loss(void)
{
    for (int size = 2; size <= 8; size++)
        for (int trial = 0; trial < 6; trial++) {
            size_t lens[SAL_XOR_MAX_GROUP];
            struct group g;
            for (int i = 0; i < size; i++)
                lens[i] = trial == 0 ? 0 : (rng() % 5 == 0 ? 0 : (size_t)(rng() % 5000));
            if (trial == 1)
                lens[size - 1] = 1;
            group_init(&g, size, lens);
            for (int j = 0; j < size; j++)
                check_rebuild_one(&g, j);
            group_free(&g);
        }
}

static void test_nothing_lost(void)
{
    size_t lens[3] = {5, 9, 2};
    struct group g;
    int lost = 7;

    group_init(&g, 3, lens);
    CU_ASSERT_EQUAL(sal_xor_rebuild(3, (const void *const *)g.data, g.lens,
                                    (const void *const *)g.stripes, &lost, NULL, NULL),
                    SAL_OK);
    CU_ASSERT_EQUAL(lost, -1);
    group_free(&g);
}

static void test_two_losses(void)
{
    size_t lens[5] = {100, 200, 0, 50, 300};
    const void *data[5], *stripes[5];
    unsigned char out[300];
    struct group g;
    int lost;

    group_init(&g, 5, lens);
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++) {
            char want[64];
            for (int i = 0; i < 5; i++) {
                data[i] = i == a || i == b ? NULL : g.data[i];
                stripes[i] = i == a || i == b ? NULL : g.stripes[i];
            }
            CU_ASSERT_EQUAL(sal_xor_rebuild(5, data, g.lens, stripes, &lost, out, NULL),
                            SAL_ERR_RECOVERY);
            snprintf(want, sizeof(want), "members %d and %d", a, b);
            CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), want));
            /* a payload lost on one member and a stripe on another is a double loss too */
            data[b] = g.data[b];
            CU_ASSERT_EQUAL(sal_xor_rebuild(5, data, g.lens, stripes, &lost, out, NULL),
                            SAL_ERR_RECOVERY);
            CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "stripe"));
        }
    group_free(&g);
}

/* Stripes, payloads or lengths that disagree with the encoding are detected through the padding. */
static void test_inconsistent(void)
{
    size_t lens[3] = {100, 100, 10}, bad_lens[3];
    const void *data[3], *stripes[3];
    unsigned char out[100];
    struct group g;
    int lost;

    group_init(&g, 3, lens); /* C = 50: member 2 has 10 payload bytes and 90 padding bytes */
    for (int i = 0; i < 3; i++) {
        data[i] = i == 2 ? NULL : g.data[i];
        stripes[i] = i == 2 ? NULL : g.stripes[i];
    }
    g.stripes[1][30] ^= 0x10; /* stripe 1 holds member 2's second (all padding) chunk */
    CU_ASSERT_EQUAL(sal_xor_rebuild(3, data, g.lens, stripes, &lost, out, NULL), SAL_ERR_CORRUPT);
    g.stripes[1][30] ^= 0x10;
    memcpy(bad_lens, lens, sizeof(lens));
    bad_lens[2] = 9;
    CU_ASSERT_EQUAL(sal_xor_rebuild(3, data, bad_lens, stripes, &lost, out, NULL), SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sal_xor_rebuild(3, data, g.lens, stripes, &lost, out, NULL), SAL_OK);
    CU_ASSERT(memcmp(out, g.data[2], 10) == 0);
    group_free(&g);
}

/* The MPI exchange done by hand: XOR of every member's encode buffer, block k = stripe k; XOR of
 * the survivors' rebuild buffers = the lost payload, zero-padded. */
static void test_exchange_layout(void)
{
    for (int size = 2; size <= 8; size++) {
        size_t lens[SAL_XOR_MAX_GROUP];
        unsigned char *send, *sum;
        struct group g;
        for (int i = 0; i < size; i++)
            lens[i] = (size_t)(rng() % 3000);
        group_init(&g, size, lens);
        send = malloc((size_t)size * g.chunk + 1);
        sum = calloc((size_t)size * g.chunk + 1, 1);
        CU_ASSERT_FATAL(send && sum);
        for (int me = 0; me < size; me++) {
            CU_ASSERT_EQUAL(sal_xor_pack_encode(g.data[me], lens[me], size, me, g.chunk, send),
                            SAL_OK);
            sal_xor_accumulate(sum, send, (size_t)size * g.chunk);
        }
        for (int k = 0; k < size; k++)
            CU_ASSERT(memcmp(sum + (size_t)k * g.chunk, g.stripes[k], g.chunk) == 0);
        for (int lost = 0; lost < size; lost++) {
            memset(sum, 0, (size_t)size * g.chunk);
            for (int me = 0; me < size; me++) {
                if (me == lost)
                    continue;
                CU_ASSERT_EQUAL(sal_xor_pack_rebuild(g.data[me], lens[me], g.stripes[me], size, me,
                                                     lost, g.chunk, send),
                                SAL_OK);
                sal_xor_accumulate(sum, send, (size_t)(size - 1) * g.chunk);
            }
            CU_ASSERT(memcmp(sum, g.data[lost], lens[lost]) == 0);
            CU_ASSERT(is_zero(sum + lens[lost], (size_t)(size - 1) * g.chunk - lens[lost]));
        }
        free(send);
        free(sum);
        group_free(&g);
    }
}

static void test_invalid_math(void)
{
    unsigned char buf[64] = {0}, send[64];
    size_t lens[2] = {10, 10};
    const void *data[2] = {buf, buf};
    void *stripes[2] = {send, send + 32};
    int lost;

    CU_ASSERT_EQUAL(sal_xor_pack_encode(buf, 40, 3, 0, 10, send), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "does not fit"));
    CU_ASSERT_EQUAL(sal_xor_pack_encode(buf, 10, 3, 3, 10, send), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_pack_encode(NULL, 10, 3, 0, 10, send), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_pack_encode(NULL, 0, 3, 0, 0, NULL), SAL_OK);
    CU_ASSERT_EQUAL(sal_xor_pack_rebuild(buf, 10, buf, 3, 1, 1, 10, send), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_pack_rebuild(buf, 10, NULL, 3, 0, 1, 10, send), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_encode(1, data, lens, stripes), SAL_ERR_INVALID_ARG);
    data[1] = NULL;
    CU_ASSERT_EQUAL(sal_xor_encode(2, data, lens, stripes), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_rebuild(2, data, lens, (const void *const *)stripes, NULL, buf, NULL),
                    SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_rebuild(2, data, lens, (const void *const *)stripes, &lost, NULL, NULL),
                    SAL_ERR_INVALID_ARG);
}

/* 16 MiB payloads: one rebuild, and the accumulate throughput. */
static void test_large(void)
{
    const size_t mib16 = (size_t)16 << 20;
    size_t lens[4] = {mib16, mib16, mib16 - 12345, mib16};
    struct timespec t0, t1;
    struct group g;
    double secs;
    const int reps = 20;

    group_init(&g, 4, lens);
    check_rebuild_one(&g, 2);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_ASSERT_EQUAL(
        sal_xor_encode(4, (const void *const *)g.data, g.lens, (void *const *)g.stripes), SAL_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("\n    sal_xor_encode, 4 x 16 MiB: %.2f GB/s of payload",
           4.0 * (double)mib16 / secs / 1e9);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int r = 0; r < reps; r++)
        sal_xor_accumulate(g.data[0], g.data[1], mib16);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("\n    sal_xor_accumulate, 16 MiB: %.2f GB/s of source data (%.2f ms per call)\n",
           (double)reps * (double)mib16 / secs / 1e9, 1e3 * secs / reps);
    group_free(&g);
}

/* ---- groups ------------------------------------------------------------------------------ */

struct layout {
    int n;
    char names[MAX_RANKS][NAME_LEN];
    const char *hosts[MAX_RANKS];
};

static void layout_add(struct layout *l, int host)
{
    snprintf(l->names[l->n], NAME_LEN, "host%03d", host);
    l->hosts[l->n] = l->names[l->n];
    l->n++;
}

static sal_xor_groups_t *make_groups(const struct layout *l, int max_size)
{
    sal_xor_groups_t *x = NULL;

    CU_ASSERT_EQUAL_FATAL(sal_xor_groups_create(l->n, l->hosts, max_size, &x), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    return x;
}

/* Partition, sizes, member indices and host distinctness; returns the number of groups found with
 * a host twice (checked independently of sal_xor_groups_shared). */
static int check_groups(const struct layout *l, const sal_xor_groups_t *x, int max_size)
{
    int seen[MAX_RANKS] = {0}, ng = sal_xor_groups_count(x), shared = 0, minsz = l->n, maxsz = 0;

    for (int gi = 0; gi < ng; gi++) {
        const int *m;
        int n = sal_xor_group_members(x, gi, &m), dup = 0;
        CU_ASSERT(n >= 2);
        minsz = n < minsz ? n : minsz;
        maxsz = n > maxsz ? n : maxsz;
        for (int i = 0; i < n; i++) {
            int member = -1;
            CU_ASSERT_EQUAL(sal_xor_group_of(x, m[i], &member), gi);
            CU_ASSERT_EQUAL(member, i);
            CU_ASSERT(i == 0 || m[i] > m[i - 1]);
            seen[m[i]]++;
            for (int j = 0; j < i; j++)
                dup |= strcmp(l->hosts[m[i]], l->hosts[m[j]]) == 0;
        }
        shared += dup;
    }
    for (int r = 0; r < l->n; r++)
        CU_ASSERT_EQUAL(seen[r], 1);
    CU_ASSERT(maxsz - minsz <= 1);
    CU_ASSERT(maxsz <= max_size || (max_size == 2 && maxsz == 3 && l->n % 2 == 1));
    CU_ASSERT_EQUAL(shared, sal_xor_groups_shared(x));
    return shared;
}

static void test_groups_regular(void)
{
    struct layout l = {0};
    sal_xor_groups_t *x;

    for (int h = 0; h < 8; h++)
        for (int i = 0; i < 4; i++)
            layout_add(&l, h);
    x = make_groups(&l, 4);
    CU_ASSERT_EQUAL(sal_xor_groups_count(x), 8);
    CU_ASSERT_EQUAL(check_groups(&l, x, 4), 0);
    sal_xor_groups_destroy(&x);
    CU_ASSERT_PTR_NULL(x);
    x = make_groups(&l, 8); /* 8 hosts: groups of 8 are possible */
    CU_ASSERT_EQUAL(sal_xor_groups_count(x), 4);
    CU_ASSERT_EQUAL(check_groups(&l, x, 8), 0);
    sal_xor_groups_destroy(&x);
    x = make_groups(&l, 16); /* only 8 hosts: 4 groups of 8 */
    CU_ASSERT_EQUAL(sal_xor_groups_count(x), 4);
    CU_ASSERT_EQUAL(check_groups(&l, x, 16), 0);
    sal_xor_groups_destroy(&x);
}

/* Random uneven layouts: distinct hosts in every group exactly when no host has more than half
 * of the ranks. */
static void test_groups_random(void)
{
    struct layout l;

    for (int trial = 0; trial < 300; trial++) {
        int nhosts = 1 + (int)(rng() % 12), cmax = 0, count[12] = {0};
        l.n = 0;
        for (int h = 0; h < nhosts; h++)
            count[h] = 1 + (int)(rng() % 6);
        for (int round = 0; round < 6; round++) /* ranks interleaved across hosts */
            for (int h = 0; h < nhosts; h++)
                if (round < count[h])
                    layout_add(&l, (h * 7) % 12);
        for (int h = 0; h < nhosts; h++)
            cmax = count[h] > cmax ? count[h] : cmax;
        if (l.n < 2)
            continue;
        for (int size = 2; size <= 8; size++) {
            sal_xor_groups_t *x = make_groups(&l, size);
            int shared = check_groups(&l, x, size);
            CU_ASSERT_EQUAL(shared == 0, cmax <= l.n / 2);
            sal_xor_groups_destroy(&x);
        }
    }
}

static void test_groups_one_host(void)
{
    struct layout l = {0};
    sal_xor_groups_t *x;

    for (int i = 0; i < 5; i++)
        layout_add(&l, 1);
    x = make_groups(&l, 4);
    CU_ASSERT_EQUAL(sal_xor_groups_count(x), 2); /* 3 + 2, both on one host */
    CU_ASSERT_EQUAL(sal_xor_groups_shared(x), 2);
    CU_ASSERT_EQUAL(check_groups(&l, x, 4), 2);
    sal_xor_groups_destroy(&x);
}

/* Rank of layout a (6 hosts x 3 ranks, by block) on the host and at the position of rank rb of b.
 */
static int block_rank(const struct layout *b, int rb)
{
    int host = 0, local = 0;

    CU_ASSERT_EQUAL(sscanf(b->hosts[rb], "host%d", &host), 1);
    for (int q = 0; q < rb; q++)
        local += strcmp(b->hosts[q], b->hosts[rb]) == 0;
    return host * 3 + local;
}

/* Hosts listed in another order, ranks dealt round-robin: the same groups, once ranks are
 * identified by (host, position on host). */
static void test_groups_order(void)
{
    static const int perm[6] = {3, 0, 5, 1, 4, 2};
    struct layout a = {0}, b = {0};
    sal_xor_groups_t *xa, *xb;

    for (int h = 0; h < 6; h++)
        for (int i = 0; i < 3; i++)
            layout_add(&a, h);
    for (int i = 0; i < 3; i++)
        for (int h = 0; h < 6; h++)
            layout_add(&b, perm[h]);
    xa = make_groups(&a, 4);
    xb = make_groups(&b, 4);
    for (int r1 = 0; r1 < b.n; r1++)
        for (int r2 = 0; r2 < b.n; r2++) {
            int same_a = sal_xor_group_of(xa, block_rank(&b, r1), NULL) ==
                         sal_xor_group_of(xa, block_rank(&b, r2), NULL);
            CU_ASSERT_EQUAL(same_a,
                            sal_xor_group_of(xb, r1, NULL) == sal_xor_group_of(xb, r2, NULL));
        }
    sal_xor_groups_destroy(&xa);
    sal_xor_groups_destroy(&xb);
}

static void test_groups_invalid(void)
{
    const char *hosts[2] = {"a", "b"};
    sal_xor_groups_t *x = NULL;
    static const int dummy;
    const int *m = &dummy;
    int member = 5;

    CU_ASSERT_EQUAL(sal_xor_groups_create(1, hosts, 4, &x), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "at least 2 ranks"));
    CU_ASSERT_EQUAL(sal_xor_groups_create(2, hosts, 1, &x), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_groups_create(2, hosts, SAL_XOR_MAX_GROUP + 1, &x),
                    SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_groups_create(2, NULL, 4, &x), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_xor_groups_create(2, hosts, 4, NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(x);
    CU_ASSERT_EQUAL(sal_xor_groups_create(2, hosts, 4, &x), SAL_OK);
    CU_ASSERT_EQUAL(sal_xor_group_of(x, 2, &member), -1);
    CU_ASSERT_EQUAL(member, -1);
    CU_ASSERT_EQUAL(sal_xor_group_members(x, 1, &m), -1);
    CU_ASSERT_PTR_NULL(m);
    sal_xor_groups_destroy(&x);
    sal_xor_groups_destroy(&x);
    sal_xor_groups_destroy(NULL);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"accumulate", test_accumulate},
        {"chunk index", test_chunk_index},
        {"chunk size", test_chunk_size},
        {"every single loss, groups of 2..8", test_every_single_loss},
        {"nothing lost", test_nothing_lost},
        {"two losses are unrecoverable", test_two_losses},
        {"inconsistent parity", test_inconsistent},
        {"exchange layouts", test_exchange_layout},
        {"invalid arguments", test_invalid_math},
        {"16 MiB payloads", test_large},
        {"groups: 8 hosts x 4", test_groups_regular},
        {"groups: random layouts", test_groups_random},
        {"groups: one host", test_groups_one_host},
        {"groups: host order", test_groups_order},
        {"groups: invalid arguments", test_groups_invalid},
    };

    return SAL_UNIT_MAIN("xor", NULL, NULL, tests);
}
