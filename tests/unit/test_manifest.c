/*
 * Unit tests of the manifest and the `latest` pointer (manifest.c): four rank files of a 6x8 array
 * split 2x2, a 1-D array with empty blocks and a scalar; the manifest read back field by field;
 * block reads through the virtual datasets spanning several rank files (the N->M path) from another
 * working directory and after moving the checkpoint; damaged manifests and rank files; `latest`
 * parsing.
 */
#include <errno.h>
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
#include "h5io.h"
#include "manifest.h"
#include "unit_main.h"

#define ASSERT_ERR_HAS(needle)                                                                     \
    do {                                                                                           \
        int found_ = strstr(sal_last_error(), (needle)) != NULL;                                   \
        if (!found_)                                                                               \
            fprintf(stderr, "\n    last error \"%s\" lacks \"%s\"\n", sal_last_error(), (needle)); \
        CU_ASSERT(found_);                                                                         \
    } while (0)

enum { ROWS = 6, COLS = 8, NR = 4, NREG = 3, WLEN = 6, CKPT_ID = 3, STEP = 30 };

static char tmpdir[PATH_MAX], ckdir[PATH_MAX], startdir[PATH_MAX];
static double global[ROWS][COLS];
static int wglobal[WLEN];
static int64_t total_bytes;

/* Rank r's blocks: u rows [3*(r/2), +3) x cols [4*(r%2), +4); w [3r, +3) for r < 2, empty after. */
static void rank_blocks(int r, int64_t *uoff, int64_t *ucnt, int64_t *woff, int64_t *wcnt)
{
    uoff[0] = 3 * (r / 2);
    uoff[1] = 4 * (r % 2);
    ucnt[0] = 3;
    ucnt[1] = 4;
    *woff = r < 2 ? 3 * r : WLEN;
    *wcnt = r < 2 ? 3 : 0;
}

static void make_rank_regions(int r, double *u, int *w, int64_t *t, sal_region_t *reg)
{
    int64_t uoff[2], ucnt[2], woff, wcnt;

    rank_blocks(r, uoff, ucnt, &woff, &wcnt);
    memset(reg, 0, NREG * sizeof(*reg));
    snprintf(reg[0].name, SAL_NAME_MAX, "u.field");
    reg[0].base = u;
    reg[0].type = SAL_DOUBLE;
    reg[0].ndims = 2;
    reg[0].gdims[0] = ROWS;
    reg[0].gdims[1] = COLS;
    memcpy(reg[0].offset, uoff, sizeof(uoff));
    memcpy(reg[0].count, ucnt, sizeof(ucnt));
    snprintf(reg[1].name, SAL_NAME_MAX, "w");
    reg[1].base = wcnt ? w : NULL;
    reg[1].type = SAL_INT;
    reg[1].ndims = 1;
    reg[1].gdims[0] = WLEN;
    reg[1].offset[0] = woff;
    reg[1].count[0] = wcnt;
    snprintf(reg[2].name, SAL_NAME_MAX, "t");
    reg[2].base = t;
    reg[2].type = SAL_INT64;
    reg[2].scalar = 1;
}

static void write_rank_files(void)
{
    for (int r = 0; r < NR; r++) {
        sal_rank_meta_t meta = {
            .id = CKPT_ID, .step = STEP, .time = 1.5e9, .rank = r, .nranks = NR};
        double u[3][4];
        int w[3];
        int64_t t = 1000 + r, bytes = 0, uoff[2], ucnt[2], woff, wcnt;
        sal_region_t reg[NREG];
        char path[PATH_MAX];

        rank_blocks(r, uoff, ucnt, &woff, &wcnt);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                u[i][j] = global[uoff[0] + i][uoff[1] + j];
        for (int i = 0; i < wcnt; i++)
            w[i] = wglobal[woff + i];
        make_rank_regions(r, &u[0][0], w, &t, reg);
        CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/rank.%d.h5", ckdir, r), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, reg, NREG, &bytes), SAL_OK);
        total_bytes += bytes;
    }
}

/* The manifest commit.c would build from the four ranks. [OUT] m (free with sal_manifest_free). */
static void build_manifest(sal_manifest_t *m)
{
    sal_region_t reg[NREG];

    memset(m, 0, sizeof(*m));
    m->id = CKPT_ID;
    m->step = STEP;
    m->time = 1.5e9;
    m->nranks = NR;
    m->format_version = SAL_FORMAT_VERSION;
    m->bytes = total_bytes;
    m->nregions = NREG;
    m->regions = calloc(NREG, sizeof(*m->regions));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->regions);
    make_rank_regions(0, NULL, NULL, NULL, reg);
    for (int i = 0; i < NREG; i++) {
        sal_manifest_region_t *mr = &m->regions[i];
        memcpy(mr->name, reg[i].name, sizeof(mr->name));
        mr->type = reg[i].type;
        mr->scalar = reg[i].scalar;
        mr->ndims = reg[i].ndims;
        memcpy(mr->gdims, reg[i].gdims, sizeof(mr->gdims));
        if (mr->scalar)
            continue;
        mr->offsets = calloc(NR * (size_t)mr->ndims, sizeof(int64_t));
        mr->counts = calloc(NR * (size_t)mr->ndims, sizeof(int64_t));
        CU_ASSERT_FATAL(mr->offsets && mr->counts);
        for (int r = 0; r < NR; r++) {
            make_rank_regions(r, NULL, NULL, NULL, reg);
            memcpy(mr->offsets + r * mr->ndims, reg[i].offset, (size_t)mr->ndims * sizeof(int64_t));
            memcpy(mr->counts + r * mr->ndims, reg[i].count, (size_t)mr->ndims * sizeof(int64_t));
        }
    }
}

static void write_manifest(void)
{
    sal_manifest_t m;

    build_manifest(&m);
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_OK);
    sal_manifest_free(&m);
}

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_manifest.XXXXXX");
    if (!mkdtemp(tmpdir) || !getcwd(startdir, sizeof(startdir)))
        return -1;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++)
            global[i][j] = 100.0 * i + j + 0.5;
    for (int i = 0; i < WLEN; i++)
        wglobal[i] = -7 * i;
    return 0;
}

static int suite_clean(void)
{
    if (chdir(startdir) != 0)
        return -1;
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

/* A fresh checkpoint directory <tmpdir>/<name>/ckpt.3 with rank files and manifest. */
static void fresh_checkpoint(const char *name)
{
    CU_ASSERT_EQUAL_FATAL(
        sal_path_join(ckdir, sizeof(ckdir), "%s/%s/ckpt.%d", tmpdir, name, CKPT_ID), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(ckdir, 0700), SAL_OK);
    total_bytes = 0;
    write_rank_files();
    write_manifest();
}

static void ck_path(char *buf, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(buf, PATH_MAX, "%s/%s", ckdir, name), SAL_OK);
}

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

/* Reads u rows [r0, r0+nr) x cols [c0, c0+nc) through the manifest of dir and compares. */
static void check_u_block(const char *dir, int64_t r0, int64_t c0, int64_t nr, int64_t nc)
{
    int64_t off[2] = {r0, c0}, cnt[2] = {nr, nc};
    double buf[ROWS * COLS];
    int bad = 0;

    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL_FATAL(sal_manifest_read_block(dir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                          SAL_OK);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            bad += buf[i * nc + j] != global[r0 + i][c0 + j];
    CU_ASSERT_EQUAL(bad, 0);
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

/* Overwrites element idx of an int64 dataset. */
static void set_elem_i64(hid_t f, const char *dset, hsize_t idx, int64_t v)
{
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT), fs, ms;
    hsize_t one = 1;

    CU_ASSERT_FATAL(d >= 0);
    fs = H5Dget_space(d);
    ms = H5Screate_simple(1, &one, NULL);
    CU_ASSERT(H5Sselect_elements(fs, H5S_SELECT_SET, 1, (hsize_t[]){idx / 2, idx % 2}) >= 0);
    CU_ASSERT(H5Dwrite(d, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, &v) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
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

/* Every file, dataset, group, datatype and attribute the code under test opened was closed again
 * (run last). */
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
        {"corrupt attributes", test_corrupt_attributes},
        {"corrupt layout and names", test_corrupt_layout},
        {"truncated, empty, symlinked, missing", test_damaged_manifest_files},
        {"missing and damaged rank files", test_damaged_rank_files},
        {"latest pointer", test_latest},
        {"a manifest that crashes HDF5", test_manifest_crashing_hdf5},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("manifest", suite_init, suite_clean, tests);
}
