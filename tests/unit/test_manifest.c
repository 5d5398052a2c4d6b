/*
 * Unit tests of the manifest and the `latest` pointer (manifest.c): four rank files of a 6x8 array
 * split 2x2, a 1-D array with empty blocks and a scalar; the manifest read back field by field;
 * block reads through the virtual datasets spanning several rank files (the N->M path) from another
 * working directory and after moving the checkpoint; `latest` parsing; a manifest that crashes
 * HDF5. Damaged manifests and rank files are in test_manifest_damaged.c; the shared helpers in
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

#include "fsutil.h"
#include "manifest.h"
#include "manifest_fixture.h"
#include "unit_main.h"

static void test_write_and_read_back(void)
{
    sal_manifest_t want, got;
    char path[PATH_MAX];
    struct stat st;

    fresh_checkpoint("basic");
    ck_path(path, "manifest.h5");
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    build_manifest(&want);
    CU_ASSERT_EQUAL_FATAL(sal_manifest_read(ckdir, &got), SAL_OK);
    CU_ASSERT_EQUAL(got.id, want.id);
    CU_ASSERT_EQUAL(got.step, want.step);
    CU_ASSERT_DOUBLE_EQUAL(got.time, want.time, 0.0);
    CU_ASSERT_EQUAL(got.nranks, NR);
    CU_ASSERT_EQUAL(got.format_version, SAL_FORMAT_VERSION);
    CU_ASSERT_EQUAL(got.bytes, want.bytes);
    CU_ASSERT_EQUAL(got.bytes, (6 * 8) * 8 + 6 * 4 + 4 * 8);
    CU_ASSERT_EQUAL_FATAL(got.nregions, NREG);
    /* Regions come back in name order: "t", "u.field", "w". */
    for (int i = 0; i < NREG; i++) {
        const sal_manifest_region_t *a = NULL, *b = &want.regions[i];
        for (int k = 0; k < got.nregions; k++)
            if (strcmp(got.regions[k].name, b->name) == 0)
                a = &got.regions[k];
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_EQUAL(a->type, b->type);
        CU_ASSERT_EQUAL(a->scalar, b->scalar);
        CU_ASSERT_EQUAL(a->ndims, b->ndims);
        CU_ASSERT_EQUAL(memcmp(a->gdims, b->gdims, sizeof(a->gdims)), 0);
        if (b->scalar) {
            CU_ASSERT_PTR_NULL(a->offsets);
            CU_ASSERT_PTR_NULL(a->counts);
            continue;
        }
        CU_ASSERT_EQUAL(memcmp(a->offsets, b->offsets, NR * (size_t)b->ndims * 8), 0);
        CU_ASSERT_EQUAL(memcmp(a->counts, b->counts, NR * (size_t)b->ndims * 8), 0);
    }
    sal_manifest_free(&got);
    sal_manifest_free(&got); /* safe twice: the first call zeroes the struct */
    sal_manifest_free(&want);
}

static void test_read_block_n_to_m(void)
{
    char moved[PATH_MAX], other[PATH_MAX];
    int64_t off = 2, cnt = 3, t = 0, none = 0;
    int w[3] = {0};

    fresh_checkpoint("n2m");
    check_u_block(ckdir, 0, 0, ROWS, COLS);
    check_u_block(ckdir, 1, 2, 4, 5); /* spans all four rank files */
    check_u_block(ckdir, 3, 4, 3, 4); /* exactly rank 3's block */
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "w", SAL_INT, 1, &off, &cnt, w), SAL_OK);
    CU_ASSERT(w[0] == wglobal[2] && w[1] == wglobal[3] && w[2] == wglobal[4]);
    off = 2;
    cnt = 1;
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "t", SAL_INT64, 1, &off, &cnt, &t), SAL_OK);
    CU_ASSERT_EQUAL(t, 1002);
    /* An empty request needs no buffer. */
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "w", SAL_INT, 1, &off, &none, NULL), SAL_OK);
    /* From another working directory, with a relative checkpoint path. */
    CU_ASSERT_EQUAL_FATAL(sal_path_join(other, sizeof(other), "%s/elsewhere", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(other, 0700), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(chdir(other), 0);
    check_u_block("../n2m/ckpt.3", 1, 2, 4, 5);
    check_u_block(ckdir, 0, 3, 6, 2);
    /* The whole checkpoint directory moved: the rank files are found by relative name. */
    CU_ASSERT_EQUAL_FATAL(sal_path_join(moved, sizeof(moved), "%s/n2m/moved", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(rename(ckdir, moved), 0);
    check_u_block("../n2m/moved", 1, 2, 4, 5);
    CU_ASSERT_EQUAL_FATAL(chdir(startdir), 0);
}

static void test_read_block_bad_requests(void)
{
    int64_t off[2] = {0, 0}, cnt[2] = {7, 8}, one = 1, five = 5;
    double buf[64];
    float fbuf[64];

    fresh_checkpoint("requests");
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("outside the global size 6");
    cnt[0] = 6;
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_FLOAT, 2, off, cnt, fbuf),
                    SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 1, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "nothing", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("has no dataset \"nothing\"");
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "t", SAL_INT64, 1, &five, &one, buf),
                    SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "bad name", SAL_DOUBLE, 2, off, cnt, buf),
                    SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "u.field", SAL_DOUBLE, 2, off, cnt, NULL),
                    SAL_ERR_INVALID_ARG);
}

static void test_write_rejects_bad_manifest(void)
{
    sal_manifest_t m;

    fresh_checkpoint("badwrite");
    build_manifest(&m);
    snprintf(m.regions[1].name, SAL_NAME_MAX, "a b");
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    snprintf(m.regions[1].name, SAL_NAME_MAX, "u.field");
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("appears twice");
    snprintf(m.regions[1].name, SAL_NAME_MAX, "w");
    m.regions[1].counts[0] = 7;
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("lies outside the global size 6");
    m.regions[1].counts[0] = 3;
    m.nranks = 0;
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    m.nranks = NR;
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_OK);
    sal_manifest_free(&m);
}

/* A global array with no element: a virtual dataset without mappings, readable as such. */
static void test_empty_global_array(void)
{
    int64_t offsets[NR * 2] = {0}, counts[NR * 2] = {0}, off[2] = {0, 1}, cnt[2] = {0, 3};
    sal_manifest_region_t reg;
    sal_manifest_t m, got;

    CU_ASSERT_EQUAL_FATAL(sal_path_join(ckdir, sizeof(ckdir), "%s/empty/ckpt.0", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(ckdir, 0700), SAL_OK);
    memset(&reg, 0, sizeof(reg));
    snprintf(reg.name, sizeof(reg.name), "nothing");
    reg.type = SAL_FLOAT;
    reg.ndims = 2;
    reg.gdims[1] = 4;
    reg.offsets = offsets;
    reg.counts = counts;
    memset(&m, 0, sizeof(m));
    m.nranks = NR;
    m.nregions = 1;
    m.regions = &reg;
    CU_ASSERT_EQUAL_FATAL(sal_manifest_write(ckdir, &m), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_manifest_read(ckdir, &got), SAL_OK);
    CU_ASSERT_EQUAL(got.nregions, 1);
    CU_ASSERT_EQUAL(got.regions[0].gdims[0], 0);
    CU_ASSERT_EQUAL(got.regions[0].gdims[1], 4);
    sal_manifest_free(&got);
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "nothing", SAL_FLOAT, 2, off, cnt, NULL),
                    SAL_OK);
}

/* ---- latest ---------------------------------------------------------------------------------- */

static void put_latest(const char *dir, const char *text, size_t len)
{
    char path[PATH_MAX];
    int fd;

    CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/latest", dir), SAL_OK);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_latest(void)
{
    static const char *const bad[] = {"",
                                      "ckpt.",
                                      "ckpt.\n",
                                      "ckpt.-1\n",
                                      "ckpt.+1\n",
                                      "ckpt.12x\n",
                                      "ckpt.12\n\n",
                                      "ckpt.012\n",
                                      "ckpt. 1\n",
                                      "latest\n",
                                      "ckpt.99999999999999999999\n",
                                      "CKPT.1\n",
                                      "ckpt.9223372036854775808\n",
                                      "\nckpt.1"};
    char dir[PATH_MAX], path[PATH_MAX], text[80];
    int64_t id = -5;
    struct stat st;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(sal_path_join(dir, sizeof(dir), "%s/job", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(dir, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_NO_CKPT);
    CU_ASSERT_EQUAL(sal_latest_write(dir, 12), SAL_OK);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_OK);
    CU_ASSERT_EQUAL(id, 12);
    CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/latest", dir), SAL_OK);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(text, sizeof(text), f));
    fclose(f);
    CU_ASSERT_STRING_EQUAL(text, "ckpt.12\n");
    CU_ASSERT_EQUAL(sal_latest_write(dir, -1), SAL_ERR_INVALID_ARG);
    put_latest(dir, "ckpt.7", 6);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_OK);
    CU_ASSERT_EQUAL(id, 7);
    put_latest(dir, "ckpt.0\n", 7);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_OK);
    CU_ASSERT_EQUAL(id, 0);
    put_latest(dir, "ckpt.9223372036854775807\n", 25);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_OK);
    CU_ASSERT_EQUAL(id, INT64_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_latest(dir, bad[i], strlen(bad[i]));
        id = -5;
        CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_CORRUPT);
        CU_ASSERT_EQUAL(id, -5);
        ASSERT_ERR_HAS(path);
    }
    put_latest(dir, "ckpt.1\0\n", 8);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_CORRUPT);
    memset(text, '1', sizeof(text));
    memcpy(text, "ckpt.", 5);
    put_latest(dir, text, sizeof(text));
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(symlink("/dev/null", path), 0);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("symbolic link");
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(mkdir(path, 0700), 0);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_ERR_CORRUPT);
    /* Replacing works even over a directory-free path after cleanup. */
    CU_ASSERT_EQUAL(rmdir(path), 0);
    CU_ASSERT_EQUAL(sal_latest_write(dir, 13), SAL_OK);
    CU_ASSERT_EQUAL(sal_latest_read(dir, &id), SAL_OK);
    CU_ASSERT_EQUAL(id, 13);
}

/* A manifest on which HDF5 1.10 itself aborts (a damaged virtual-dataset selection, found by
 * fuzzing): the reader reports it as damaged instead of taking the process down. */
static void test_manifest_crashing_hdf5(void)
{
    char dir[PATH_MAX], path[PATH_MAX], *data = NULL;
    size_t len = 0;
    sal_manifest_t m;

    CU_ASSERT_EQUAL_FATAL(sal_read_file(SAL_SOURCE_DIR
                                        "/tests/fuzz/crashes/manifest/hdf5-vds-selection-overflow",
                                        1 << 20, &data, &len),
                          SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_path_join(dir, sizeof(dir), "%s/crashing", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(dir, 0700), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/manifest.h5", dir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(path, data, len, 0600), SAL_OK);
    free(data);
    CU_ASSERT_EQUAL(sal_manifest_read(dir, &m), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("HDF5 library crashed");
    CU_ASSERT_EQUAL(m.nregions, 0);
}

/* Per-rank data: the manifest's byte array concatenates the ranks' bytes (offsets = prefix sums of
 * the sizes), read back with its layout and through the virtual dataset like any array. */
static void test_local_concatenation(void)
{
    unsigned char buf[LOCAL_TOTAL];
    int64_t off = 0, cnt = LOCAL_TOTAL, o1 = local_start(1) - 5, c1 = local_size(1) + 10;
    sal_manifest_t m;

    fresh_local_checkpoint("local");
    CU_ASSERT_EQUAL_FATAL(sal_manifest_read(ckdir, &m), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(m.nregions, 1);
    CU_ASSERT_EQUAL(m.regions[0].local, 1);
    CU_ASSERT_EQUAL(m.regions[0].type, SAL_CHAR);
    CU_ASSERT_EQUAL(m.regions[0].ndims, 1);
    CU_ASSERT_EQUAL(m.regions[0].gdims[0], LOCAL_TOTAL);
    for (int r = 0; r < NR; r++) {
        CU_ASSERT_EQUAL(m.regions[0].offsets[r], local_start(r));
        CU_ASSERT_EQUAL(m.regions[0].counts[r], local_size(r));
    }
    sal_manifest_free(&m);
    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "hist", SAL_CHAR, 1, &off, &cnt, buf), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(buf, lglobal, LOCAL_TOTAL), 0);
    memset(buf, 0, sizeof(buf)); /* across three rank files */
    CU_ASSERT_EQUAL(sal_manifest_read_block(ckdir, "hist", SAL_CHAR, 1, &o1, &c1, buf), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(buf, lglobal + o1, (size_t)c1), 0);
    /* A writer is refused sizes that do not add up. */
    build_local_manifest(&m);
    m.regions[0].offsets[2] += 1;
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("per-rank data of rank 2 at 307 with 303 bytes, expected at 306");
    m.regions[0].offsets[2] -= 1;
    m.regions[0].gdims[0] += 1;
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("the per-rank sizes add up to 1012 bytes, the array has 1013");
    sal_manifest_free(&m);
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
        {"write and read back", test_write_and_read_back},
        {"block reads across rank files (N->M)", test_read_block_n_to_m},
        {"bad block requests", test_read_block_bad_requests},
        {"writer rejects bad manifests", test_write_rejects_bad_manifest},
        {"empty global array", test_empty_global_array},
        {"latest pointer", test_latest},
        {"a manifest that crashes HDF5", test_manifest_crashing_hdf5},
        {"per-rank data: the concatenation of the ranks' bytes", test_local_concatenation},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("manifest", suite_init, suite_clean, tests);
}
