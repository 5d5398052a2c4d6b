/* The parity file of L3 (parity_file.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "log.h"
#include "parity_file.h"

#define MAGIC_V1 "SALXOR01"
#define MAGIC_V2 "SALXOR02"
enum { HDR_WORDS = 5 };

#define FNV_BASIS 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* FNV-1a 64 over bytes: the checksum of format 1. */
static uint64_t fnv_bytes(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* A 64-bit little-endian word at p: one load on little-endian hosts. */
static inline uint64_t load_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
#else
    return get64(p);
#endif
}

uint64_t sal_parity_sum(const unsigned char *p, size_t n)
{
    uint64_t a = FNV_BASIS, b = FNV_BASIS, c = FNV_BASIS, d = FNV_BASIS;
    unsigned char tail[32] = {0};
    size_t i = 0;

    for (; i + 32 <= n; i += 32) { /* four independent chains: the multiplications overlap */
        a = (a ^ load_le64(p + i)) * FNV_PRIME;
        b = (b ^ load_le64(p + i + 8)) * FNV_PRIME;
        c = (c ^ load_le64(p + i + 16)) * FNV_PRIME;
        d = (d ^ load_le64(p + i + 24)) * FNV_PRIME;
    }
    if (i < n) {
        memcpy(tail, p + i, n - i);
        a = (a ^ get64(tail)) * FNV_PRIME;
        b = i + 8 < n ? (b ^ get64(tail + 8)) * FNV_PRIME : b;
        c = i + 16 < n ? (c ^ get64(tail + 16)) * FNV_PRIME : c;
        d = i + 24 < n ? (d ^ get64(tail + 24)) * FNV_PRIME : d;
    }
    put64(tail, a);
    put64(tail + 8, b);
    put64(tail + 16, c);
    put64(tail + 24, d);
    return fnv_bytes(FNV_BASIS, tail, sizeof(tail));
}

size_t sal_parity_head_len(int64_t size)
{
    return 8 + 8 * (HDR_WORDS + (size_t)size);
}

size_t sal_parity_len(int64_t size, int64_t chunk)
{
    return sal_parity_head_len(size) + (size_t)chunk + 8;
}

void sal_parity_put_head(unsigned char *buf, const sal_parity_t *p)
{
    unsigned char *q = buf + 8;

    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the 8-byte magic of a binary file */
    memcpy(buf, MAGIC_V2, 8);
    put64(q, (uint64_t)p->nranks);
    put64(q + 8, (uint64_t)p->group);
    put64(q + 16, (uint64_t)p->size);
    put64(q + 24, (uint64_t)p->member);
    put64(q + 32, (uint64_t)p->chunk);
    q += 8 * (size_t)HDR_WORDS;
    for (int64_t i = 0; i < p->size; i++, q += 8)
        put64(q, (uint64_t)p->lens[i]);
}

void sal_parity_seal(unsigned char *buf, size_t n)
{
    put64(buf + n - 8, sal_parity_sum(buf, n - 8));
}

int sal_parity_parse(const char *path, const unsigned char *buf, size_t n, sal_parity_t *p)
{
    const unsigned char *q = buf + 8;
    int v1;

    if (n < 8 + 8 * HDR_WORDS + 8 ||
        (memcmp(buf, MAGIC_V1, 8) != 0 && memcmp(buf, MAGIC_V2, 8) != 0))
        return sal_error(SAL_ERR_CORRUPT, "%s: not a parity file (bad magic or too short)", path);
    v1 = memcmp(buf, MAGIC_V1, 8) == 0;
    p->nranks = (int64_t)get64(q);
    p->group = (int64_t)get64(q + 8);
    p->size = (int64_t)get64(q + 16);
    p->member = (int64_t)get64(q + 24);
    p->chunk = (int64_t)get64(q + 32);
    if (p->size < 2 || p->size > SAL_XOR_MAX_GROUP || p->chunk < 0 || p->chunk > (int64_t)n ||
        sal_parity_len(p->size, p->chunk) != n)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: inconsistent header (size %lld, chunk %lld, %zu bytes)", path,
                         (long long)p->size, (long long)p->chunk, n);
    if ((v1 ? fnv_bytes(FNV_BASIS, buf, n - 8) : sal_parity_sum(buf, n - 8)) != get64(buf + n - 8))
        return sal_error(SAL_ERR_CORRUPT, "%s: checksum mismatch (the file is damaged)", path);
    q += 8 * (size_t)HDR_WORDS;
    for (int64_t i = 0; i < p->size; i++, q += 8)
        p->lens[i] = (int64_t)get64(q);
    p->stripe = q;
    return SAL_OK;
}

int sal_parity_write(const char *dir, int r, const sal_parity_t *p)
{
    size_t n = sal_parity_len(p->size, p->chunk), head = sal_parity_head_len(p->size);
    unsigned char *buf = malloc(n);
    char path[PATH_MAX];
    int rc;

    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "parity file of %zu bytes", n);
    sal_parity_put_head(buf, p);
    memcpy(buf + head, p->stripe, (size_t)p->chunk);
    sal_parity_seal(buf, n);
    rc = sal_path_join(path, sizeof(path), "%s/parity.%d.xor", dir, r);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(path, buf, n, 0600);
    free(buf);
    return rc;
}
