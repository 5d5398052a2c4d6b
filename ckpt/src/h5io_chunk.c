/*
 * Direct chunk writes of rank-file datasets: each chunk is assembled with its Fletcher32 checksum,
 * computed bit-identically to HDF5's filter, and written with H5Dwrite_chunk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <salamander/sal_error.h>

#include "dirty.h"
#include "h5io.h"
#include "h5io_rank.h"
#include "log.h"

/* ---- Fletcher32, bit-identical to HDF5's filter ---------------------------------------------- */

/* HDF5's checksum (H5_checksum_fletcher32): big-endian 16-bit words w_i; after every run of 360
 * words (and after the last, possibly shorter, run) both sums are folded with
 * (x & 0xffff) + (x >> 16); an odd trailing byte is a word with a zero low byte; a final fold of
 * both sums gives (sum2 << 16) | sum1. The folds keep every intermediate value below 2^32, so
 * computing a run of n words as
 *   sum2 += n * sum1 + sum over i of (n - i) * w_i,   sum1 += sum over i of w_i
 * gives exactly HDF5's bits. The filter appends the value little-endian. */
enum { F32_RUN = 360, F32_RUN_BYTES = 2 * F32_RUN };

struct f32 {
    uint32_t s1, s2;
};

static inline uint32_t f32_fold(uint32_t x)
{
    return (x & 0xffff) + (x >> 16);
}

static void f32_add(struct f32 *f, uint32_t n, uint64_t s, uint64_t t)
{
    f->s2 = f32_fold((uint32_t)(f->s2 + (uint64_t)n * f->s1 + t));
    f->s1 = f32_fold((uint32_t)(f->s1 + s));
}

/* One run of n <= F32_RUN words. */
static void f32_run(struct f32 *f, const unsigned char *p, uint32_t n)
{
    uint32_t s = 0, t = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t w = (uint32_t)p[2 * (size_t)i] << 8 | p[2 * (size_t)i + 1];
        s += w;
        t += (n - i) * w;
    }
    f32_add(f, n, s, t);
}

typedef uint16_t sal_v8u16 __attribute__((vector_size(16)));
typedef uint32_t sal_v4u32 __attribute__((vector_size(16)));

/* A full run, 8 words at a time, on a little-endian host, copied to dst on the way (dst may be
 * NULL). Word 8g + k, k = 2j (even lanes) or 2j + 1 (odd lanes), has weight 8 (45 - g) - k: the b
 * vectors (running sums of the running sums a) hold sum over g of (45 - g) w. Lanes stay below
 * 2^27. */
static void f32_full_run(struct f32 *f, const unsigned char *p, unsigned char *dst)
{
    sal_v4u32 ae = {0}, ao = {0}, be = {0}, bo = {0};
    uint64_t s = 0, t = 0;

    for (int g = 0; g < F32_RUN / 8; g++) {
        sal_v8u16 x;
        sal_v4u32 y;
        memcpy(&x, p + 16 * (size_t)g, 16);
        if (dst)
            memcpy(dst + 16 * (size_t)g, &x, 16);
        x = (x << 8) | (x >> 8);
        memcpy(&y, &x, 16);
        ae += y & 0xffff;
        ao += y >> 16;
        be += ae;
        bo += ao;
    }
    for (int j = 0; j < 4; j++) {
        s += (uint64_t)ae[j] + ao[j];
        t += 8 * ((uint64_t)be[j] + bo[j]) - (uint64_t)(2 * j) * ae[j] -
             (uint64_t)(2 * j + 1) * ao[j];
    }
    f32_add(f, F32_RUN, s, t);
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;

    memcpy(&b, &one, 1);
    return b == 1;
}

/* Adds len bytes of p, copying them to dst unless dst is NULL. Every call but the last must pass
 * a multiple of F32_RUN_BYTES. */
static void f32_copy(struct f32 *f, unsigned char *dst, const unsigned char *p, size_t len)
{
    int le = host_little_endian();

    for (; len >= F32_RUN_BYTES; p += F32_RUN_BYTES, len -= F32_RUN_BYTES) {
        if (le) {
            f32_full_run(f, p, dst);
        } else {
            if (dst)
                memcpy(dst, p, F32_RUN_BYTES);
            f32_run(f, p, F32_RUN);
        }
        dst = dst ? dst + F32_RUN_BYTES : NULL;
    }
    if (dst)
        memcpy(dst, p, len);
    if (len >= 2)
        f32_run(f, p, (uint32_t)(len / 2));
    if (len % 2) {
        f->s1 = f32_fold(f->s1 + ((uint32_t)p[len - 1] << 8));
        f->s2 = f32_fold(f->s2 + f->s1);
    }
}

static uint32_t f32_final(const struct f32 *f)
{
    return f32_fold(f->s2) << 16 | f32_fold(f->s1);
}

/* ---- XXH64, the hash of differential writes (libxxhash) ---------------------------------------
 */

uint64_t sal_h5_chunk_hash(const void *data, size_t len)
{
    return (uint64_t)XXH64(data, len, 0);
}

/* ---- direct chunk writes --------------------------------------------------------------------- */

/* Assembles one chunk in buf (data, zero padding of a partial last slab, the Fletcher32 value)
 * and returns its stored size. */
static size_t fill_chunk(const unsigned char *src, size_t rows, size_t row, size_t slab,
                         unsigned char *buf)
{
    size_t data = rows * row, full = slab * row;
    struct f32 f = {0, 0};
    uint32_t v;

    if (data == full) {
        f32_copy(&f, buf, src, full);
    } else {
        memcpy(buf, src, data);
        memset(buf + data, 0, full - data);
        f32_copy(&f, NULL, buf, full);
    }
    v = f32_final(&f);
    for (int b = 0; b < 4; b++)
        buf[full + (size_t)b] = (unsigned char)(v >> (8 * b));
    return full + 4;
}

int64_t sal_h5_chunk_count(const sal_h5_stored_t *s, const hsize_t *chunk, int cut)
{
    int64_t n = (int64_t)((s->count[cut] + chunk[cut] - 1) / chunk[cut]);

    for (int d = 0; d < cut; d++)
        n *= (int64_t)s->count[d];
    return n;
}

/* Whether chunk k (data bytes at src) must be written: always without diff; with it, unless its
 * memory was not written since the reused dataset's checkpoint (diff->dirty), or its hash equals
 * the one the reused dataset records. Records the hash and the bytes skipped. */
static int chunk_needed(sal_h5_diff_t *diff, int64_t k, const unsigned char *src, size_t bytes)
{
    if (!diff)
        return 1;
    if (diff->old && diff->dirty && sal_dirty_clean_since(diff->dirty, src, bytes, diff->since)) {
        diff->hash[k] = diff->old[k]; /* the same data as when old[k] was computed */
        diff->skipped += (int64_t)bytes;
        diff->unread += (int64_t)bytes;
        return 0;
    }
    diff->hash[k] = (int64_t)sal_h5_chunk_hash(src, bytes);
    if (diff->old && diff->old[k] == diff->hash[k]) {
        diff->skipped += (int64_t)bytes;
        return 0;
    }
    return 1;
}

int sal_h5_write_chunks(hid_t dset, const char *where, const sal_h5_stored_t *s,
                        const hsize_t *chunk, int cut, size_t esize, const void *base,
                        sal_h5_diff_t *diff)
{
    hsize_t off[SAL_MAX_DIMS] = {0};
    size_t row = esize, slab = (size_t)chunk[cut];
    uint64_t nouter = 1;
    unsigned char *buf;
    int64_t k = 0;
    int rc = SAL_OK;

    for (int d = cut + 1; d < s->ndims; d++)
        row *= (size_t)s->count[d];
    for (int d = 0; d < cut; d++)
        nouter *= s->count[d];
    buf = malloc(slab * row + 4);
    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "%s: chunk buffer of %zu bytes", where, slab * row + 4);
    for (uint64_t o = 0; o < nouter && rc == SAL_OK; o++) {
        uint64_t rest = o;
        for (int d = cut - 1; d >= 0; d--) {
            off[d] = rest % s->count[d];
            rest /= s->count[d];
        }
        for (hsize_t r0 = 0; r0 < s->count[cut] && rc == SAL_OK; r0 += slab, k++) {
            size_t rows = s->count[cut] - r0 < slab ? (size_t)(s->count[cut] - r0) : slab, n;
            const unsigned char *src =
                (const unsigned char *)base + ((size_t)o * s->count[cut] + r0) * row;
            if (!chunk_needed(diff, k, src, rows * row))
                continue;
            n = fill_chunk(src, rows, row, slab, buf);
            off[cut] = r0;
            if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, off, n, buf) < 0)
                rc = sal_h5_error(SAL_ERR_HDF5, "cannot write %s", where);
        }
    }
    free(buf);
    return rc;
}
