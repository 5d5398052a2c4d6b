/*
 * Unit tests of the manifest (manifest.c), the second program: damaged manifests (attributes,
 * layout and names edited with HDF5 directly; truncated, empty, symlinked, missing files) and
 * missing or damaged rank files read through the virtual datasets. The shared helpers are in
 * manifest_fixture.c.
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

#include "manifest.h"
#include "manifest_fixture.h"
#include "unit_main.h"

/* ---- damaged manifests: edited with HDF5 directly -------------------------------------------- */

static hid_t open_rw(const char *name)
{
    char path[PATH_MAX];
    hid_t f;

    ck_path(path, name);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    return f;
}

static void set_attr_i64(hid_t obj, const char *name, int64_t v)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);

    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT(H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
}

/* Overwrites element [row][col] of a 2-D int64 dataset. */
static void set_cell_i64(hid_t f, const char *dset, hsize_t row, hsize_t col, int64_t v)
{
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT), fs, ms;
    hsize_t one = 1;

    CU_ASSERT_FATAL(d >= 0);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &one, NULL);
    CU_ASSERT(H5Sselect_elements(fs, H5S_SELECT_SET, 1, (hsize_t[]){row, col}) >= 0);
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
}

/* Overwrites element idx of an int64 [n][2] dataset. */
static void set_elem_i64(hid_t f, const char *dset, hsize_t idx, int64_t v)
{
    set_cell_i64(f, dset, idx / 2, idx % 2, v);
}

static void expect_manifest_corrupt(const char *needle)
{
    sal_manifest_t m;

    memset(&m, 0xff, sizeof(m));
    CU_ASSERT_EQUAL(sal_manifest_read(ckdir, &m), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(needle);
    ASSERT_ERR_HAS("manifest.h5");
    CU_ASSERT_PTR_NULL(m.regions);
    CU_ASSERT_EQUAL(m.nregions, 0);
    sal_manifest_free(&m);
}

static void test_corrupt_attributes(void)
{
    hid_t f;

    fresh_checkpoint("attrs");
    f = open_rw("manifest.h5");
    set_attr_i64(f, "format_version", 2);
    H5Fclose(f);
    expect_manifest_corrupt("format version 2, this library reads 1");
    write_manifest();
    f = open_rw("manifest.h5");
    set_attr_i64(f, "nranks", 0);
    H5Fclose(f);
    expect_manifest_corrupt("nranks 0");
    write_manifest();
    f = open_rw("manifest.h5");
    set_attr_i64(f, "nregions", 2);
    H5Fclose(f);
    expect_manifest_corrupt("holds 4 objects, expected 2 regions");
    write_manifest();
    f = open_rw("manifest.h5");
    CU_ASSERT(H5Adelete(f, "id") >= 0);
    H5Fclose(f);
    expect_manifest_corrupt("attribute id is missing");
    write_manifest();
    f = open_rw("manifest.h5");
    {
        hid_t d = H5Dopen2(f, "w", H5P_DEFAULT);
        set_attr_i64(d, "type", 99);
        H5Dclose(d);
    }
    H5Fclose(f);
    expect_manifest_corrupt("unknown type code 99");
}

static void test_corrupt_layout(void)
{
    hid_t f;

    fresh_checkpoint("layout");
    /* Rank 1's u block moved to column 5: 5 + 4 > 8. */
    f = open_rw("manifest.h5");
    set_elem_i64(f, ".layout/u.field/offsets", 3, 5);
    H5Fclose(f);
    expect_manifest_corrupt("block of rank 1, dimension 1, [5, +4) lies outside the global size 8");
    /* Inside the shape but not what the virtual dataset maps. */
    write_manifest();
    f = open_rw("manifest.h5");
    set_elem_i64(f, ".layout/u.field/offsets", 3, 3);
    H5Fclose(f);
    expect_manifest_corrupt("does not map a rank file's whole block");
    /* A negative count. */
    write_manifest();
    f = open_rw("manifest.h5");
    set_elem_i64(f, ".layout/w/counts", 0, -1);
    H5Fclose(f);
    expect_manifest_corrupt("block of rank 0");
    /* A region whose name is not a valid region name. */
    write_manifest();
    f = open_rw("manifest.h5");
    CU_ASSERT(H5Lmove(f, "w", f, "bad name", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_manifest_corrupt("\"bad name\" is not a valid region name");
    /* A soft link instead of a dataset. */
    write_manifest();
    f = open_rw("manifest.h5");
    CU_ASSERT(H5Ldelete(f, "w", H5P_DEFAULT) >= 0);
    CU_ASSERT(H5Lcreate_soft("/u.field", f, "w", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_manifest_corrupt("soft or external link");
}

static void test_damaged_manifest_files(void)
{
    char path[PATH_MAX], good[PATH_MAX], cmd[5 * PATH_MAX];
    struct stat st;

    fresh_checkpoint("damaged");
    ck_path(path, "manifest.h5");
    ck_path(good, "manifest.good");
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && head -c %lld '%s' > '%s'", path, good,
             (long long)st.st_size / 2, good, path);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    expect_manifest_corrupt("truncated");
    CU_ASSERT_EQUAL_FATAL(truncate(path, 0), 0);
    expect_manifest_corrupt("is empty (zero length)");
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    CU_ASSERT_EQUAL_FATAL(symlink(good, path), 0);
    expect_manifest_corrupt("is a symbolic link");
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    expect_manifest_corrupt("does not exist");
}

static void test_damaged_rank_files(void)
{
    char path[PATH_MAX];
    int64_t off[2], cnt[2];
    double buf[ROWS * COLS];
    unsigned char byte;
    int fd;

    fresh_checkpoint("ranks");
    /* Rank 2 missing: HDF5 alone would return fill values; the read must fail and name it. */
    ck_path(path, "rank.2.h5");
    CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
    off[0] = 1, off[1] = 2, cnt[0] = 4, cnt[1] = 5;
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("rank.2.h5 does not exist");
    check_u_block(ckdir, 0, 0, 3, 8); /* ranks 0 and 1 only */
    /* Rank 2 replaced by garbage. */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "not an HDF5 file, just text\n", 28), 28);
    close(fd);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("rank.2.h5 is not a readable HDF5 file");
    /* Rank 2 from another checkpoint id. */
    write_rank_files();
    {
        hid_t f = open_rw("rank.2.h5");
        set_attr_i64(f, "id", 4);
        H5Fclose(f);
    }
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("rank.2.h5 belongs to checkpoint 4, expected 3");
    /* A flipped bit in rank 1's data: the checksum fails through the virtual dataset. */
    write_rank_files();
    {
        double first = global[0][4];
        char cmd[2 * PATH_MAX];
        FILE *p;
        long at = -1;
        ck_path(path, "rank.1.h5");
        snprintf(cmd, sizeof(cmd),
                 "python3 -c \"import sys,struct;d=open(sys.argv[1],'rb').read();"
                 "print(d.find(struct.pack('<d',%.17g)))\" '%s'",
                 first, path);
        p = popen(cmd, "r");
        CU_ASSERT_FATAL(p != NULL && fscanf(p, "%ld", &at) == 1);
        pclose(p);
        CU_ASSERT_FATAL(at > 0);
        fd = open(path, O_RDWR);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(pread(fd, &byte, 1, at + 2), 1);
        byte ^= 1;
        CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, at + 2), 1);
        close(fd);
    }
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("checksum mismatch");
    check_u_block(ckdir, 3, 0, 3, 8); /* ranks 2 and 3 are intact */
}

/* Adds (or replaces) the int64 attribute local of dataset dset of the manifest. */
static void set_local_flag(const char *dset, int64_t v)
{
    hid_t f = open_rw("manifest.h5"), d = H5Dopen2(f, dset, H5P_DEFAULT), s, a;

    CU_ASSERT_FATAL(d >= 0);
    if (H5Aexists(d, "local") > 0)
        CU_ASSERT(H5Adelete(d, "local") >= 0);
    s = H5Screate(H5S_SCALAR);
    a = H5Acreate2(d, "local", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
}

/* Per-rank data (sal_ckpt_protect_local) in a damaged manifest: sizes that do not add up, a
 * negative size, the flag on an array of doubles or with another value; and a rank file whose
 * per-rank dataset claims a negative size. */
static void test_corrupt_local(void)
{
    unsigned char buf[LOCAL_TOTAL];
    int64_t off = 0, cnt = LOCAL_TOTAL;
    hid_t f;

    fresh_local_checkpoint("localbad");
    f = open_rw("manifest.h5");
    set_cell_i64(f, ".layout/hist/counts", 1, 0, 204);
    H5Fclose(f);
    expect_manifest_corrupt("per-rank data of rank 2 at 306 with 303 bytes, expected at 307");
    fresh_local_checkpoint("localbad");
    f = open_rw("manifest.h5");
    set_cell_i64(f, ".layout/hist/counts", 0, 0, -5);
    H5Fclose(f);
    expect_manifest_corrupt("per-rank data of rank 0 at 0 with -5 bytes");
    fresh_local_checkpoint("localbad");
    set_local_flag("hist", 3);
    expect_manifest_corrupt("dataset hist: attribute local is 3, not 0 or 1");
    fresh_checkpoint("localflag");
    set_local_flag("u.field", 1);
    expect_manifest_corrupt("region u.field: per-rank data of type 5 with 2 dims");
    fresh_checkpoint("localflag");
    set_local_flag("t", 1);
    expect_manifest_corrupt("region t: a scalar with 0 dims or the local flag");
    /* Rank 1's file says its bytes are -203 long: the read through the manifest names it. */
    fresh_local_checkpoint("localbad");
    {
        hid_t d;
        f = open_rw("rank.1.h5");
        d = H5Dopen2(f, "hist", H5P_DEFAULT);
        set_attr_i64(d, "global_dims", -203);
        H5Dclose(d);
        H5Fclose(f);
    }
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "hist", SAL_CHAR, 1, &off, &cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("rank.1.h5 dataset hist: global_dims is [-203], the protected region has [203]");
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
        {"corrupt attributes", test_corrupt_attributes},
        {"corrupt layout and names", test_corrupt_layout},
        {"truncated, empty, symlinked, missing", test_damaged_manifest_files},
        {"missing and damaged rank files", test_damaged_rank_files},
        {"damaged per-rank data", test_corrupt_local},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("manifest damaged", suite_init, suite_clean, tests);
}
