/*
 * Unit tests of differential rank files (h5io_write.c, h5io_chunk.c): the chunk hash is XXH64,
 * a reused file keeps exactly the chunks whose data did not change, a change that Fletcher32
 * cannot see is written, the file reads back as the data, and hashes never outlive the chunks
 * they describe.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <hdf5.h>

#include <salamander/sal_error.h>

#include "h5io.h"
#include "h5io_fixture.h"
#include "h5io_rank.h"
#include "unit_main.h"

/* 4 chunks of 1 MiB (128 rows of 1024 doubles each) and a last one of 10 rows. */
enum { ROWS = 4 * 128 + 10, COLS = 1024, CHUNK_ROWS = 128 };
#define CHUNK_BYTES ((int64_t)CHUNK_ROWS * COLS * 8)

static void test_hash_vectors(void)
{
    unsigned char buf[100];

    /* XXH64 with seed 0, from the xxHash specification's reference implementation */
    CU_ASSERT_EQUAL(sal_h5_chunk_hash("", 0), 0xEF46DB3751D8E999ULL);
    CU_ASSERT_EQUAL(sal_h5_chunk_hash("abc", 3), 0x44BC2CF5AD770999ULL);
    for (int i = 0; i < 100; i++)
        buf[i] = (unsigned char)i;
    /* every length path (32-byte stripes, 8-, 4- and 1-byte tails) sees every byte */
    for (size_t n = 1; n <= 100; n++) {
        uint64_t h = sal_h5_chunk_hash(buf, n);
        buf[n - 1] ^= 1;
        CU_ASSERT_NOT_EQUAL(sal_h5_chunk_hash(buf, n), h);
        buf[n - 1] ^= 1;
    }
}

/* Whether dataset name of path has the chunk_hashes attribute. */
static int has_hashes(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d;
    int has = 0;

    if (f < 0)
        return -1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        has = H5Aexists(d, "chunk_hashes") > 0;
        H5Dclose(d);
    }
    H5Fclose(f);
    return has;
}

/* Writes r to out over the file old (NULL: a new file). [OUT] the bytes left as they were. */
static int write_diff(const char *out, const char *old, int diff, sal_region_t *r, int64_t id,
                      int64_t *skipped)
{
    sal_rank_meta_t m = {.id = id, .step = id, .rank = 0, .nranks = 1};
    sal_h5_write_opts_t o = {.reuse = old, .differential = diff};
    int rc = sal_h5_write_rank_opts(out, &m, r, 1, NULL, &o);

    *skipped = o.skipped;
    CU_ASSERT_EQUAL(o.reused, old != NULL);
    return rc;
}

/* Reads path (checkpoint id) and compares it with v. */
static int reads_back(const char *path, int64_t id, sal_region_t *r, const double *v, double *w)
{
    sal_rank_meta_t m = {.id = id, .step = id, .rank = 0, .nranks = 1};
    sal_region_t rr = *r;

    memset(w, 0, sizeof(double) * ROWS * COLS);
    rr.base = w;
    return sal_h5_read_rank(path, &m, &rr, 1) == SAL_OK &&
           memcmp(v, w, sizeof(double) * ROWS * COLS) == 0;
}

static void test_unchanged_chunks_kept(void)
{
    char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
    double *v = malloc(sizeof(double) * ROWS * COLS), *w = malloc(sizeof(double) * ROWS * COLS);
    int64_t skipped = -1;
    sal_region_t r;

    CU_ASSERT_FATAL(v && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)i / 3.0;
    set_region(&r, "u", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    path_of(a, "diff.a.h5");
    path_of(b, "diff.b.h5");
    path_of(c, "diff.c.h5");
    CU_ASSERT_EQUAL_FATAL(write_diff(a, NULL, 1, &r, 1, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 0);
    CU_ASSERT_EQUAL(has_hashes(a, "u"), 1);
    /* chunk 1 changes: the other three whole chunks and the last one stay */
    v[(size_t)CHUNK_ROWS * COLS + 5] += 1.0;
    CU_ASSERT_EQUAL_FATAL(write_diff(b, a, 1, &r, 2, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 3 * CHUNK_BYTES + 10 * COLS * 8);
    CU_ASSERT_TRUE(reads_back(b, 2, &r, v, w));
    /* one 16-bit word of chunk 2 from 0x0000 to 0xffff, a change that Fletcher32's sums modulo
     * 65535 may not see, is written: the hash decides, not the checksum (element 9 of chunk 2,
     * 262153 / 3, has non-zero low bytes) */
    memset((char *)v + 2 * CHUNK_BYTES + 72, 0, 2);
    CU_ASSERT_EQUAL_FATAL(write_diff(c, b, 1, &r, 3, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 3 * CHUNK_BYTES + 10 * COLS * 8);
    memset((char *)v + 2 * CHUNK_BYTES + 72, 0xff, 2);
    CU_ASSERT_EQUAL_FATAL(write_diff(a, c, 1, &r, 4, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 3 * CHUNK_BYTES + 10 * COLS * 8);
    CU_ASSERT_TRUE(reads_back(a, 4, &r, v, w));
    /* every chunk changed: nothing skipped */
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = -v[i];
    CU_ASSERT_EQUAL_FATAL(write_diff(b, a, 1, &r, 5, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 0);
    CU_ASSERT_TRUE(reads_back(b, 5, &r, v, w));
    free(v);
    free(w);
}

/* Hashes are dropped by a write that does not keep them (they would describe old chunks), and a
 * file without hashes is written whole. */
static void test_hashes_follow_the_chunks(void)
{
    char a[PATH_MAX], b[PATH_MAX];
    double *v = malloc(sizeof(double) * ROWS * COLS), *w = malloc(sizeof(double) * ROWS * COLS);
    int64_t skipped = -1;
    sal_region_t r;

    CU_ASSERT_FATAL(v && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)i;
    set_region(&r, "u", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    path_of(a, "hashes.a.h5");
    path_of(b, "hashes.b.h5");
    CU_ASSERT_EQUAL_FATAL(write_diff(a, NULL, 1, &r, 1, &skipped), SAL_OK);
    v[0] = -1.0;
    CU_ASSERT_EQUAL_FATAL(write_diff(b, a, 0, &r, 2, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(has_hashes(b, "u"), 0);
    v[0] = 0.0; /* back to the data of checkpoint 1: chunk 0 must be written all the same */
    CU_ASSERT_EQUAL_FATAL(write_diff(a, b, 1, &r, 3, &skipped), SAL_OK);
    CU_ASSERT_EQUAL(skipped, 0);
    CU_ASSERT_EQUAL(has_hashes(a, "u"), 1);
    CU_ASSERT_TRUE(reads_back(a, 3, &r, v, w));
    free(v);
    free(w);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"chunk hash is XXH64", test_hash_vectors},
        {"unchanged chunks are kept", test_unchanged_chunks_kept},
        {"hashes follow the chunks", test_hashes_follow_the_chunks},
    };

    return SAL_UNIT_MAIN("h5io_diff", suite_init, suite_clean, tests);
}
