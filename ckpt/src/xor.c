/*
 * XOR parity (level 3): grouping of ranks on distinct hosts, and the parity maths and buffer
 * layouts of redundancy.h. No MPI here: the exchange sends the buffers that sal_xor_pack_* prepare.
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "redundancy.h"

struct sal_xor_groups {
    int nranks;
    int ngroups;
    int nshared;
    int *group_of;  /* [nranks] */
    int *member_of; /* [nranks] */
    int *first;     /* [ngroups + 1] group g is members[first[g] .. first[g + 1]) */
    int *members;   /* [nranks] */
};

/* ---- grouping ---------------------------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* Group count: enough groups of at most max_size, at least as many as the largest host has ranks
 * (so that host's ranks can go to distinct groups), at most nranks / 2 (no group of one). */
static int group_count(const sal_host_table_t *t, int max_size)
{
    int g = (t->nranks + max_size - 1) / max_size;

    for (int h = 0; h < t->nhosts; h++)
        if (t->first[h + 1] - t->first[h] > g)
            g = t->first[h + 1] - t->first[h];
    return g > t->nranks / 2 ? t->nranks / 2 : g;
}

/* Rank at position p of the host-ordered list goes to group p mod G. A host's ranks are contiguous
 * in that list, so they land in distinct groups whenever the host has at most G ranks; group sizes
 * differ by at most one, the first nranks mod G groups being the larger ones. */
static void deal(sal_xor_groups_t *x, const sal_host_table_t *t)
{
    int G = x->ngroups, q = x->nranks / G, rem = x->nranks % G;

    for (int g = 0; g <= G; g++)
        x->first[g] = g * q + (g < rem ? g : rem);
    for (int p = 0; p < x->nranks; p++) {
        int g = p % G;
        x->members[x->first[g] + p / G] = t->ranks[p];
    }
    for (int g = 0; g < G; g++) {
        int n = x->first[g + 1] - x->first[g];
        qsort(x->members + x->first[g], (size_t)n, sizeof(int), cmp_int);
        for (int m = 0; m < n; m++) {
            x->group_of[x->members[x->first[g] + m]] = g;
            x->member_of[x->members[x->first[g] + m]] = m;
        }
    }
}

static int count_shared(const sal_xor_groups_t *x, const sal_host_table_t *t)
{
    int shared = 0;

    for (int g = 0; g < x->ngroups; g++) {
        int dup = 0;
        for (int a = x->first[g]; a < x->first[g + 1] && !dup; a++)
            for (int b = a + 1; b < x->first[g + 1] && !dup; b++)
                dup = t->host_of[x->members[a]] == t->host_of[x->members[b]];
        shared += dup;
    }
    return shared;
}

int sal_xor_groups_create(int nranks, const char *const hosts[], int max_size,
                          sal_xor_groups_t **out)
{
    sal_host_table_t t;
    sal_xor_groups_t *x;
    int rc;

    if (!out)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL output pointer");
    if (nranks < 2)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "XOR parity needs at least 2 ranks, the job has %d: use a lower level",
                         nranks);
    if (max_size < 2 || max_size > SAL_XOR_MAX_GROUP)
        return sal_error(SAL_ERR_INVALID_ARG, "XOR group size %d is outside 2..%d", max_size,
                         SAL_XOR_MAX_GROUP);
    rc = sal_host_table_build(nranks, hosts, &t);
    if (rc != SAL_OK)
        return rc;
    x = calloc(1, sizeof(*x));
    if (!x) {
        rc = sal_error(SAL_ERR_NOMEM, "XOR groups for %d ranks", nranks);
        goto out_free_table;
    }
    x->nranks = nranks;
    x->ngroups = group_count(&t, max_size);
    x->group_of = malloc((size_t)nranks * sizeof(int));
    x->member_of = malloc((size_t)nranks * sizeof(int));
    x->first = calloc((size_t)x->ngroups + 1, sizeof(int));
    x->members = malloc((size_t)nranks * sizeof(int));
    if (!x->group_of || !x->member_of || !x->first || !x->members) {
        rc = sal_error(SAL_ERR_NOMEM, "XOR groups for %d ranks", nranks);
        sal_xor_groups_destroy(&x);
        goto out_free_table;
    }
    deal(x, &t);
    x->nshared = count_shared(x, &t);
    *out = x;
out_free_table:
    sal_host_table_free(&t);
    return rc;
}

void sal_xor_groups_destroy(sal_xor_groups_t **groups)
{
    if (!groups || !*groups)
        return;
    free((*groups)->group_of);
    free((*groups)->member_of);
    free((*groups)->first);
    free((*groups)->members);
    free(*groups);
    *groups = NULL;
}

int sal_xor_groups_count(const sal_xor_groups_t *groups)
{
    return groups ? groups->ngroups : 0;
}

int sal_xor_groups_shared(const sal_xor_groups_t *groups)
{
    return groups ? groups->nshared : 0;
}

int sal_xor_group_of(const sal_xor_groups_t *groups, int rank, int *member)
{
    if (!groups || rank < 0 || rank >= groups->nranks) {
        if (member)
            *member = -1;
        return -1;
    }
    if (member)
        *member = groups->member_of[rank];
    return groups->group_of[rank];
}

int sal_xor_group_members(const sal_xor_groups_t *groups, int group, const int **ranks)
{
    if (!ranks)
        return -1;
    if (!groups || group < 0 || group >= groups->ngroups) {
        *ranks = NULL;
        return -1;
    }
    *ranks = groups->members + groups->first[group];
    return groups->first[group + 1] - groups->first[group];
}

/* ---- parity maths ------------------------------------------------------------------------ */

/* The unit of sal_xor_accumulate: with GCC and Clang a 32-byte vector, which they compile to SIMD
 * instructions even at -O2 (where a byte loop is not vectorised); a 64-bit word elsewhere. */
#if defined(__GNUC__)
typedef uint64_t xor_word_t __attribute__((vector_size(32)));
#else
typedef uint64_t xor_word_t;
#endif

void sal_xor_accumulate(void *restrict dst, const void *restrict src, size_t len)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    size_t i = 0;

    /* memcpy: no alignment or aliasing assumption; compilers turn it into plain (unaligned) loads
     */
    for (; i + 2 * sizeof(xor_word_t) <= len; i += 2 * sizeof(xor_word_t)) {
        xor_word_t a[2], b[2];
        memcpy(a, d + i, sizeof(a));
        memcpy(b, s + i, sizeof(b));
        a[0] ^= b[0];
        a[1] ^= b[1];
        memcpy(d + i, a, sizeof(a));
    }
    for (; i < len; i++)
        d[i] ^= s[i];
}

static int check_size(int size)
{
    if (size < 2 || size > SAL_XOR_MAX_GROUP)
        return sal_error(SAL_ERR_INVALID_ARG, "XOR group size %d is outside 2..%d", size,
                         SAL_XOR_MAX_GROUP);
    return SAL_OK;
}

int sal_xor_chunk_size(int size, const size_t lens[], size_t *chunk)
{
    size_t max = 0, c;
    int rc = check_size(size);

    if (rc != SAL_OK)
        return rc;
    if (!lens || !chunk)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL lengths or chunk pointer");
    for (int i = 0; i < size; i++)
        if (lens[i] > max)
            max = lens[i];
    c = max / (size_t)(size - 1) + (max % (size_t)(size - 1) != 0);
    if (c > SIZE_MAX / (size_t)size)
        return sal_error(SAL_ERR_INVALID_ARG, "XOR payload of %zu bytes is too large", max);
    *chunk = c;
    return SAL_OK;
}

int sal_xor_chunk_index(int size, int member, int stripe)
{
    if (size < 2 || member < 0 || member >= size || stripe < 0 || stripe >= size ||
        member == stripe)
        return -1;
    return ((stripe - member - 1) % size + size) % size;
}

/* dst[0 .. n) ^= bytes [start, start + n) of the payload of len bytes, zero-padded. */
static void xor_payload_range(unsigned char *dst, size_t n, const unsigned char *data, size_t len,
                              size_t start)
{
    if (start < len)
        sal_xor_accumulate(dst, data + start, len - start < n ? len - start : n);
}

/* dst = data chunk c (chunk bytes) of the payload of len bytes, zero-padded. */
static void copy_data_chunk(unsigned char *dst, const unsigned char *data, size_t len, int c,
                            size_t chunk)
{
    size_t start = (size_t)c * chunk;
    size_t have = start < len ? (len - start < chunk ? len - start : chunk) : 0;

    if (have > 0)
        memcpy(dst, data + start, have);
    memset(dst + have, 0, chunk - have);
}

static int check_payload(const void *data, size_t len, int size, size_t chunk, const char *who)
{
    if (len > 0 && !data)
        return sal_error(SAL_ERR_INVALID_ARG, "%s: NULL payload of %zu bytes", who, len);
    if (len > (size_t)(size - 1) * chunk)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "%s: payload of %zu bytes does not fit in %d chunks of %zu bytes (compute "
                         "the chunk with sal_xor_chunk_size over every member's length)",
                         who, len, size - 1, chunk);
    return SAL_OK;
}

int sal_xor_pack_encode(const void *data, size_t len, int size, int me, size_t chunk, void *send)
{
    unsigned char *out = send;
    int rc = check_size(size);

    if (rc == SAL_OK && (me < 0 || me >= size))
        rc = sal_error(SAL_ERR_INVALID_ARG, "member %d outside a group of %d", me, size);
    if (rc == SAL_OK && chunk > SIZE_MAX / (size_t)size)
        rc = sal_error(SAL_ERR_INVALID_ARG, "chunk of %zu bytes is too large", chunk);
    if (rc == SAL_OK)
        rc = check_payload(data, len, size, chunk, "encode");
    if (rc == SAL_OK && chunk > 0 && !send)
        rc = sal_error(SAL_ERR_INVALID_ARG, "NULL send buffer");
    if (rc != SAL_OK || chunk == 0)
        return rc;
    for (int k = 0; k < size; k++) {
        if (k == me)
            memset(out + (size_t)k * chunk, 0, chunk);
        else
            copy_data_chunk(out + (size_t)k * chunk, data, len, sal_xor_chunk_index(size, me, k),
                            chunk);
    }
    return SAL_OK;
}

int sal_xor_pack_rebuild(const void *data, size_t len, const void *stripe, int size, int me,
                         int lost, size_t chunk, void *send)
{
    unsigned char *out = send;
    int rc = check_size(size);

    if (rc == SAL_OK && (me < 0 || me >= size || lost < 0 || lost >= size || me == lost))
        rc = sal_error(SAL_ERR_INVALID_ARG,
                       "member %d cannot help rebuild member %d in a group of %d", me, lost, size);
    if (rc == SAL_OK && chunk > SIZE_MAX / (size_t)size)
        rc = sal_error(SAL_ERR_INVALID_ARG, "chunk of %zu bytes is too large", chunk);
    if (rc == SAL_OK)
        rc = check_payload(data, len, size, chunk, "rebuild");
    if (rc == SAL_OK && chunk > 0 && (!send || !stripe))
        rc = sal_error(SAL_ERR_INVALID_ARG, "NULL stripe or send buffer");
    if (rc != SAL_OK || chunk == 0)
        return rc;
    for (int c = 0; c < size - 1; c++) {
        int k = (lost + 1 + c) % size;
        if (k == me)
            memcpy(out + (size_t)c * chunk, stripe, chunk);
        else
            copy_data_chunk(out + (size_t)c * chunk, data, len, sal_xor_chunk_index(size, me, k),
                            chunk);
    }
    return SAL_OK;
}

/* Checks the arrays common to encode and rebuild; [OUT] *chunk. */
static int check_group(int size, const void *const data[], const size_t lens[], const void *stripes,
                       size_t *chunk)
{
    int rc = check_size(size);

    if (rc != SAL_OK)
        return rc;
    if (!data || !lens || !stripes)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL payload, length or stripe array");
    return sal_xor_chunk_size(size, lens, chunk);
}

/* stripe = XOR over members i != k of their data chunk for stripe k (no member may be lost). */
static void compute_stripe(int size, const void *const data[], const size_t lens[], int k,
                           size_t chunk, unsigned char *stripe)
{
    memset(stripe, 0, chunk);
    for (int i = 0; i < size; i++)
        if (i != k)
            xor_payload_range(stripe, chunk, data[i], lens[i],
                              (size_t)sal_xor_chunk_index(size, i, k) * chunk);
}

int sal_xor_encode(int size, const void *const data[], const size_t lens[], void *const stripes[])
{
    size_t chunk;
    int rc = check_group(size, data, lens, stripes, &chunk);

    if (rc != SAL_OK)
        return rc;
    for (int i = 0; i < size; i++)
        if (lens[i] > 0 && !data[i])
            return sal_error(SAL_ERR_INVALID_ARG, "member %d: NULL payload of %zu bytes", i,
                             lens[i]);
    for (int k = 0; k < size; k++)
        if (stripes[k] && chunk > 0)
            compute_stripe(size, data, lens, k, chunk, stripes[k]);
    return SAL_OK;
}

/* The payload-less member, if any. Returns SAL_ERR_RECOVERY when more than one member is lost. */
static int find_lost(int size, const void *const data[], const void *const stripes[], int *lost)
{
    *lost = -1;
    for (int i = 0; i < size; i++) {
        if (data[i])
            continue;
        if (*lost >= 0)
            return sal_error(
                SAL_ERR_RECOVERY,
                "members %d and %d of the XOR group lost their payloads: parity rebuilds "
                "at most one member per group; restore from a partner copy or from the "
                "parallel file system",
                *lost, i);
        *lost = i;
    }
    for (int k = 0; *lost >= 0 && k < size; k++)
        if (k != *lost && !stripes[k])
            return sal_error(SAL_ERR_RECOVERY,
                             "member %d of the XOR group lost its payload and member %d its parity "
                             "stripe: parity rebuilds at most one member per group; restore from a "
                             "partner copy or from the parallel file system",
                             *lost, k);
    return SAL_OK;
}

/* dst[0 .. n) = bytes [off, off + n) of the lost member's chunk in stripe k, rebuilt from the
 * stripe and the other members' chunks of that stripe. */
static void rebuild_range(int size, const void *const data[], const size_t lens[],
                          const void *const stripes[], int lost, int k, size_t chunk, size_t off,
                          size_t n, unsigned char *dst)
{
    memcpy(dst, (const unsigned char *)stripes[k] + off, n);
    for (int i = 0; i < size; i++)
        if (i != lost && i != k)
            xor_payload_range(dst, n, data[i], lens[i],
                              (size_t)sal_xor_chunk_index(size, i, k) * chunk + off);
}

/* 1 when the bytes the lost member's chunk in stripe k rebuilds beyond its payload, [from, chunk),
 * are zero, as the zero padding was when encoding: otherwise stripes, payloads or lengths disagree.
 */
static int padding_is_zero(int size, const void *const data[], const size_t lens[],
                           const void *const stripes[], int lost, int k, size_t chunk, size_t from)
{
    unsigned char buf[4096];

    for (size_t off = from; off < chunk; off += sizeof(buf)) {
        size_t n = chunk - off < sizeof(buf) ? chunk - off : sizeof(buf);
        rebuild_range(size, data, lens, stripes, lost, k, chunk, off, n, buf);
        for (size_t b = 0; b < n; b++)
            if (buf[b])
                return 0;
    }
    return 1;
}

int sal_xor_rebuild(int size, const void *const data[], const size_t lens[],
                    const void *const stripes[], int *lost, void *out, void *out_stripe)
{
    unsigned char *dst = out;
    size_t chunk;
    int rc = check_group(size, data, lens, stripes, &chunk), j;

    if (rc == SAL_OK && !lost)
        rc = sal_error(SAL_ERR_INVALID_ARG, "NULL lost-member pointer");
    if (rc == SAL_OK)
        rc = find_lost(size, data, stripes, &j);
    if (rc != SAL_OK)
        return rc;
    *lost = j;
    if (j < 0)
        return SAL_OK;
    if (lens[j] > 0 && !out)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL output for the %zu bytes of member %d", lens[j],
                         j);
    for (int c = 0; c < size - 1 && chunk > 0; c++) {
        int k = (j + 1 + c) % size;
        size_t start = (size_t)c * chunk;
        size_t n = start < lens[j] ? (lens[j] - start < chunk ? lens[j] - start : chunk) : 0;
        if (n > 0)
            rebuild_range(size, data, lens, stripes, j, k, chunk, 0, n, dst + start);
        if (!padding_is_zero(size, data, lens, stripes, j, k, chunk, n))
            return sal_error(
                SAL_ERR_CORRUPT,
                "XOR parity does not match the payloads: rebuilding member %d gave "
                "non-zero padding in stripe %d (a stripe, a payload or a length differs "
                "from what was encoded)",
                j, k);
    }
    if (out_stripe && chunk > 0)
        compute_stripe(size, data, lens, j, chunk, out_stripe);
    return SAL_OK;
}
