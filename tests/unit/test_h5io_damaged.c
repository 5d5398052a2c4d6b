/*
 * Unit tests of the per-rank checkpoint files (h5io.c), the second program: detection of every
 * mismatch against the expected identity and regions, of damaged files (flipped data bit,
 * truncation, zero length, garbage, symlink, directory, unreadable) and foreign HDF5 files, and
 * write failures that keep the target. The shared helpers are in h5io_fixture.c.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <hdf5.h>

#include <salamander/sal_error.h>

#include "h5io.h"
#include "h5io_fixture.h"
#include "unit_main.h"

static void test_identity_mismatch(void)
{
    char path[PATH_MAX];
    sal_rank_meta_t e;

    path_of(path, "ident.h5");
    write_standard(path);
    e = meta;
    e.rank = 0;
    CU_ASSERT_EQUAL(read_standard(path, &e), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("written by rank 1 of 2, expected rank 0 of 2");
    ASSERT_ERR_HAS(path);
    e = meta;
    e.nranks = 3;
    CU_ASSERT_EQUAL(read_standard(path, &e), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("expected rank 1 of 3");
    e = meta;
    e.id = 8;
    CU_ASSERT_EQUAL(read_standard(path, &e), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("belongs to checkpoint 7, expected 8");
    e = meta;
    e.step = 41;
    CU_ASSERT_EQUAL(read_standard(path, &e), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("holds step 42, expected 41");
}

/* Reads path with region i of the standard set replaced by *r. */
static int read_with(const char *path, int i, const sal_region_t *r)
{
    sal_region_t rr[NREG];

    make_regions(&back, rr);
    rr[i] = *r;
    return sal_h5_read_rank(path, &meta, rr, NREG);
}

static void test_region_mismatch(void)
{
    char path[PATH_MAX];
    sal_region_t r[NREG], x;
    float fbuf[40];

    path_of(path, "regions.h5");
    write_standard(path);
    make_regions(&back, r);
    x = r[0];
    snprintf(x.name, sizeof(x.name), "nope");
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("has no dataset \"nope\"");
    x = r[0];
    x.type = SAL_FLOAT;
    x.base = fbuf;
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("stored as double, the protected region is float");
    x = r[0];
    x.count[0] = 3;
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("block shape [4x10]");
    x = r[0];
    x.ndims = 3;
    x.gdims[2] = 1;
    x.count[2] = 1;
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("block shape [4x10] (2 dims) differs from the protected block [4x10x1]");
    x = r[0];
    x.offset[0] = 3;
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("offset is [4x0]");
    x = r[0];
    x.gdims[0] = 9;
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("global_dims is [8x10]");
    x = r[5];
    x.scalar = 0;
    x.ndims = 1;
    x.gdims[0] = 2;
    x.offset[0] = 1;
    x.count[0] = 1;
    CU_ASSERT_EQUAL(read_with(path, 5, &x), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("stored as a scalar");
    x = r[0];
    snprintf(x.name, sizeof(x.name), "bad/name");
    CU_ASSERT_EQUAL(read_with(path, 0, &x), SAL_ERR_INVALID_ARG);
}

/* Offset of the first occurrence of pat in path's bytes, or -1. */
static long find_bytes(const char *path, const void *pat, size_t len)
{
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 20];
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(buf + i, pat, len) == 0)
            return (long)i;
    return -1;
}

static void flip_bit(const char *path, long at)
{
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(pread(fd, &byte, 1, at), 1);
    byte ^= 0x10;
    CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, at), 1);
    close(fd);
}

static void test_flipped_bit(void)
{
    char path[PATH_MAX];
    int64_t pat[16], in[16];
    sal_region_t r;
    long at;

    for (int i = 0; i < 16; i++)
        pat[i] = INT64_C(0x5A17C0DE00000000) + i;
    path_of(path, "flip.h5");
    set_region(&r, "pattern", pat, SAL_INT64, 1, (int64_t[]){16}, (int64_t[]){0}, (int64_t[]){16});
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, &r, 1, NULL), SAL_OK);
    at = find_bytes(path, pat, sizeof(pat));
    CU_ASSERT_FATAL(at > 0);
    flip_bit(path, at + 8 * 5 + 3);
    r.base = in;
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, &r, 1), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("checksum mismatch in");
    ASSERT_ERR_HAS("dataset pattern");
    ASSERT_ERR_HAS(path);
    /* Validation without reading the data does not see it. */
    CU_ASSERT_EQUAL(sal_h5_check_rank(path, &meta, &r, 1), SAL_OK);
}

static void copy_prefix(const char *from, const char *to, off_t len)
{
    char cmd[3 * PATH_MAX];

    snprintf(cmd, sizeof(cmd), "head -c %lld '%s' > '%s'", (long long)len, from, to);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_damaged_files(void)
{
    char good[PATH_MAX], path[PATH_MAX];
    struct stat st;
    FILE *f;

    path_of(good, "good.h5");
    write_standard(good);
    CU_ASSERT_EQUAL_FATAL(stat(good, &st), 0);
    path_of(path, "truncated.h5");
    copy_prefix(good, path, st.st_size / 2);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("truncated");
    path_of(path, "zero.h5");
    copy_prefix(good, path, 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("is empty (zero length)");
    path_of(path, "garbage.h5");
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("is not a readable HDF5 file");
    ASSERT_ERR_HAS("signature");
    path_of(path, "missing.h5");
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("does not exist");
}

static void test_not_regular_files(void)
{
    char good[PATH_MAX], path[PATH_MAX];

    path_of(good, "good2.h5");
    write_standard(good);
    path_of(path, "link.h5");
    CU_ASSERT_EQUAL_FATAL(symlink(good, path), 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("is a symbolic link");
    path_of(path, "dir.h5");
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("is a directory");
    /* A path whose parent is a regular file cannot be opened by anyone, root included. */
    path_of(path, "good2.h5/rank.0.h5");
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_IO);
    ASSERT_ERR_HAS("Not a directory");
}

static void test_permission_denied(void)
{
    char path[PATH_MAX];

    path_of(path, "noperm.h5");
    write_standard(path);
    CU_ASSERT_EQUAL_FATAL(chmod(path, 0), 0);
    if (geteuid() == 0) {
        printf("\n    running as root: a mode 000 file stays readable, so only the not-a-directory "
               "case (test_not_regular_files) covers unreadable paths here ... ");
        CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_OK);
    } else {
        CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_IO);
        ASSERT_ERR_HAS("permission denied");
    }
    chmod(path, 0600);
}

/* Writes a plain HDF5 file with one integer root attribute (or none when name is NULL). */
static void write_foreign(const char *path, const char *name, int64_t value)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), s, a;

    CU_ASSERT_FATAL(f >= 0);
    if (name) {
        s = H5Screate(H5S_SCALAR);
        a = H5Acreate2(f, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
        CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &value) >= 0);
        H5Aclose(a);
        H5Sclose(s);
    }
    H5Fclose(f);
}

static void test_foreign_files(void)
{
    char path[PATH_MAX];

    path_of(path, "foreign.h5");
    write_foreign(path, NULL, 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("attribute format_version is missing");
    write_foreign(path, "format_version", 2);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("format version 2, this library reads 1");
}

/* Sets attribute name of dataset dset of path to v (created, or replaced with another type). */
static void put_attr(const char *path, const char *dset, const char *name, hid_t type, double v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, dset, H5P_DEFAULT);
    hid_t s = H5Screate(H5S_SCALAR), a;
    int64_t i = (int64_t)v;

    CU_ASSERT_FATAL(f >= 0 && d >= 0);
    if (H5Aexists(d, name) > 0)
        CU_ASSERT(H5Adelete(d, name) >= 0);
    a = H5Acreate2(d, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(a >= 0 &&
              H5Awrite(a, H5Tget_class(type) == H5T_FLOAT ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64,
                       H5Tget_class(type) == H5T_FLOAT ? (void *)&v : (void *)&i) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
}

/* A hostile `local` attribute (per-rank data, sal_ckpt_protect_local): on a dataset that is not
 * bytes, on an array's bytes, with another value or type, and a per-rank dataset of a negative
 * size: SAL_ERR_CORRUPT naming the file and the cause. */
static void test_hostile_local(void)
{
    static const struct {
        const char *dset;
        double value;
        int as_float;
        const char *cause;
    } cases[] = {
        {"u.2d", 1, 0, "dataset u.2d: attribute local = 1 on a dataset that is not a 1-D array"},
        {"chars", 1, 0, "stored as per-rank data, the protected region is an array"},
        {"iv", 2, 0, "dataset iv: attribute local is 2, not 0 or 1"},
        {"L", 1, 1, "dataset L"},
    };
    char path[PATH_MAX];
    unsigned char bytes[50] = {0};
    sal_region_t r;

    path_of(path, "local.hostile.h5");
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        write_standard(path);
        put_attr(path, cases[k].dset, "local", cases[k].as_float ? H5T_IEEE_F64LE : H5T_STD_I64LE,
                 cases[k].value);
        CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_ERR_CORRUPT);
        ASSERT_ERR_HAS(path);
        ASSERT_ERR_HAS(cases[k].cause);
    }
    set_local(&r, "hist", bytes, sizeof(bytes));
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, &r, 1, NULL), SAL_OK);
    {
        hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), d = H5Dopen2(f, "hist", H5P_DEFAULT);
        hid_t a = H5Aopen(d, "global_dims", H5P_DEFAULT);
        int64_t neg = -50;
        CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &neg) >= 0);
        H5Aclose(a);
        H5Dclose(d);
        H5Fclose(f);
    }
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, &r, 1), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("global_dims is [-50], the protected region has [50]");
}

static void test_write_failures_keep_target(void)
{
    char path[PATH_MAX];
    sal_region_t r[NREG];
    sal_rank_meta_t bad = meta;

    path_of(path, "keep.h5");
    write_standard(path);
    make_regions(&orig, r);
    /* An HDF5 failure in the middle (two datasets with one name): the old file stays. */
    r[1] = r[0];
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, r, NREG, NULL), SAL_ERR_HDF5);
    ASSERT_ERR_HAS(path);
    CU_ASSERT_EQUAL(count_temps(), 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_OK);
    make_regions(&orig, r);
    snprintf(r[2].name, sizeof(r[2].name), "no spaces");
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, r, NREG, NULL), SAL_ERR_INVALID_ARG);
    make_regions(&orig, r);
    bad.rank = 2;
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &bad, r, NREG, NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_OK);
    path_of(path, "no/such/dir/rank.0.h5");
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, r, NREG, NULL), SAL_ERR_IO);
    ASSERT_ERR_HAS("no/such/dir/rank.0.h5.tmp.");
    CU_ASSERT_EQUAL(count_temps(), 0);
}

/* Every file, dataset, group, datatype and attribute the code under test opened was closed again
 * (run last). */
static void test_no_hdf5_handles_left(void)
{
    CU_ASSERT_EQUAL(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"id/rank/nranks/step mismatch", test_identity_mismatch},
        {"region mismatch", test_region_mismatch},
        {"flipped data bit", test_flipped_bit},
        {"truncated, empty, garbage, missing", test_damaged_files},
        {"symlink, directory, not a directory", test_not_regular_files},
        {"permission denied", test_permission_denied},
        {"foreign HDF5 files", test_foreign_files},
        {"write failures keep the target", test_write_failures_keep_target},
        {"hostile local attribute", test_hostile_local},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("h5io damaged", suite_init, suite_clean, tests);
}
