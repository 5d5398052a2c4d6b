/*
 * Unit tests of compressed rank files (compression key; h5io.c, h5io_write.c): the filter names,
 * a round trip through each filter plugin with the Fletcher32 check after it, smaller files for
 * compressible data, a damaged compressed file refused, and no reuse of an uncompressed file.
 * The plugins come from scripts/setup.sh (Debian package hdf5-filter-plugin).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <CUnit/Basic.h>
#include <hdf5.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "h5io_fixture.h"
#include "unit_main.h"

enum { ROWS = 300, COLS = 1024 };

static void test_names(void)
{
    int f = -1;

    CU_ASSERT_EQUAL(sal_h5_compression("none", &f), SAL_OK);
    CU_ASSERT_EQUAL(f, 0);
    CU_ASSERT_EQUAL(sal_h5_compression("lz4", &f), SAL_OK);
    CU_ASSERT_EQUAL(f, 32004);
    CU_ASSERT_EQUAL(sal_h5_compression("bzip2", &f), SAL_OK);
    CU_ASSERT_EQUAL(f, 307);
    CU_ASSERT_EQUAL(sal_h5_compression("zip", &f), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("not one of none, lz4, bzip2");
}

static off_t size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Writes v (compressible) with filter comp to path over reuse; returns its size, -1 on error. */
static off_t write_with(const char *path, const char *reuse, int comp, sal_region_t *r, int *reused)
{
    const sal_rank_meta_t m = {.id = 1, .step = 1, .rank = 0, .nranks = 1};
    sal_h5_write_opts_t o = {.reuse = reuse, .compression = comp, .differential = 1};
    int rc = sal_h5_write_rank_opts(path, &m, r, 1, NULL, &o);

    *reused = o.reused;
    return rc == SAL_OK ? size_of(path) : -1;
}

static void test_round_trips(void)
{
    static const char *const names[] = {"lz4", "bzip2"};
    const sal_rank_meta_t m = {.id = 1, .step = 1, .rank = 0, .nranks = 1};
    double *v = malloc(sizeof(double) * ROWS * COLS), *w = malloc(sizeof(double) * ROWS * COLS);
    char plain[PATH_MAX], path[PATH_MAX];
    off_t full;
    sal_region_t r, rd;
    int reused = -1, f = 0;

    CU_ASSERT_FATAL(v && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)(i % 1000);
    set_region(&r, "u", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    rd = r;
    rd.base = w;
    path_of(plain, "plain.h5");
    full = write_with(plain, NULL, 0, &r, &reused);
    CU_ASSERT_FATAL(full > (off_t)sizeof(double) * ROWS * COLS);
    for (size_t k = 0; k < 2; k++) {
        off_t n;
        CU_ASSERT_EQUAL_FATAL(sal_h5_compression(names[k], &f), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/%s.h5", tmpdir, names[k]),
                              SAL_OK);
        /* an uncompressed file is never taken over: a new one is written */
        n = write_with(path, plain, f, &r, &reused);
        CU_ASSERT(n > 0 && n < full / 4);
        CU_ASSERT_EQUAL(reused, 0);
        CU_ASSERT_EQUAL(size_of(plain), full);
        memset(w, 0, sizeof(double) * ROWS * COLS);
        CU_ASSERT_EQUAL(sal_h5_read_rank(path, &m, &rd, 1), SAL_OK);
        CU_ASSERT_EQUAL(memcmp(v, w, sizeof(double) * ROWS * COLS), 0);
    }
    free(v);
    free(w);
}

/* One byte of a compressed chunk changed: the read fails (checksum), it never returns data. */
static void test_damage_found(void)
{
    const sal_rank_meta_t m = {.id = 1, .step = 1, .rank = 0, .nranks = 1};
    double *v = malloc(sizeof(double) * ROWS * COLS), *w = malloc(sizeof(double) * ROWS * COLS);
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    sal_region_t r, rd;
    int reused, f = 0;

    CU_ASSERT_FATAL(v && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)(i % 977) * 0.25;
    set_region(&r, "u", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    rd = r;
    rd.base = w;
    path_of(path, "damaged.lz4.h5");
    CU_ASSERT_EQUAL_FATAL(sal_h5_compression("lz4", &f), SAL_OK);
    CU_ASSERT_FATAL(write_with(path, NULL, f, &r, &reused) > 0);
    CU_ASSERT_EQUAL_FATAL(sal_read_file(path, 1 << 30, &buf, &len), SAL_OK);
    buf[len - 64] ^= 0x21; /* in the last chunk written (the data follow the metadata) */
    CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(path, buf, len, 0600), SAL_OK);
    CU_ASSERT_NOT_EQUAL(sal_h5_read_rank(path, &m, &rd, 1), SAL_OK);
    free(buf);
    free(v);
    free(w);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"compression names and plugins", test_names},
        {"lz4 and bzip2 round trips", test_round_trips},
        {"a damaged compressed chunk is refused", test_damage_found},
    };

    return SAL_UNIT_MAIN("h5io_compress", suite_init, suite_clean, tests);
}
