/*
 * Unit tests of the per-rank checkpoint files (h5io.c): round trip of every element type (2-D and
 * 3-D blocks, scalars, an empty block, a block split into several chunks), stored chunks
 * byte-identical to those of HDF5's Fletcher32 filter, file mode and temp files, the probe run in a
 * child process, and the reuse of an old rank file in place (same inode and size, new contents) or
 * its refusal. Mismatches and damaged files are in test_h5io_damaged.c; the shared helpers in
 * h5io_fixture.c.
 */
#include <limits.h>
#include <signal.h>
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

enum { BIG_ROWS = 2100, BIG_COLS = 1024 };

static void test_round_trip(void)
{
    char path[PATH_MAX];
    int64_t bytes = -1, want = 40 * 8 + 96 * 4 + 6 * 8 + 5 * 4 + 7 + 8 + 8;
    sal_rank_meta_t any_step = meta;
    struct stat st;

    path_of(path, "rank.1.h5");
    make_regions(&orig, regs);
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, regs, NREG, &bytes), SAL_OK);
    CU_ASSERT_EQUAL(bytes, want);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(count_temps(), 0);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(&orig, &back, sizeof(orig)), 0);
    any_step.step = -1;
    CU_ASSERT_EQUAL(read_standard(path, &any_step), SAL_OK);
    CU_ASSERT_EQUAL(sal_h5_check_rank(path, &meta, regs, NREG), SAL_OK);
    /* Rewriting replaces the file atomically; bytes may be NULL. */
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, regs, NREG, NULL), SAL_OK);
    CU_ASSERT_EQUAL(count_temps(), 0);
}

static off_t size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* A file taken over with sal_h5_write_rank_reusing keeps its inode and size (after a little
 * metadata growth, once) over many rewrites and reads back as the new data and identity, with the
 * old name gone. */
static void test_reuse_in_place(void)
{
    char a[PATH_MAX], b[PATH_MAX];
    sal_rank_meta_t m = meta;
    struct state next;
    struct stat st0, st;
    off_t size0, size1 = 0;
    int reused = -1;

    path_of(a, "reuse.a.h5");
    path_of(b, "reuse.b.h5");
    write_standard(a);
    CU_ASSERT_EQUAL_FATAL(stat(a, &st0), 0);
    size0 = st0.st_size;
    next = orig;
    for (int round = 0; round < 6; round++) {
        const char *from = round % 2 ? b : a, *to = round % 2 ? a : b;
        sal_region_t r[NREG];
        int64_t bytes = 0;
        next.u[round % 4][round] += 1.0 + round;
        next.n = round;
        m.id = meta.id + 1 + round;
        m.step = meta.step + 10 * (round + 1);
        make_regions(&next, r);
        CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank_reusing(to, from, &m, r, NREG, &bytes, &reused),
                              SAL_OK);
        CU_ASSERT_EQUAL(reused, 1);
        CU_ASSERT_EQUAL(access(from, F_OK), -1);
        CU_ASSERT_EQUAL_FATAL(stat(to, &st), 0);
        CU_ASSERT_EQUAL(st.st_ino, st0.st_ino);
        /* the chunks stay where they were: at most a little metadata (replaced attributes) is
         * added, once */
        CU_ASSERT(st.st_size >= size0 && st.st_size <= size0 + 4096);
        if (round == 0)
            size1 = st.st_size;
        CU_ASSERT_EQUAL(st.st_size, size1);
        CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
        CU_ASSERT_EQUAL(read_standard(to, &m), SAL_OK);
        CU_ASSERT_EQUAL(memcmp(&next, &back, sizeof(next)), 0);
        CU_ASSERT_EQUAL(read_standard(to, &meta), SAL_ERR_CORRUPT); /* the old identity is gone */
    }
    CU_ASSERT_EQUAL(count_temps(), 0);
}

/* A multi-chunk block rewritten in place keeps the file's size (give or take some metadata). */
static void test_reuse_big_block(void)
{
    enum { ROWS = 300, COLS = 1024 };
    char a[PATH_MAX], b[PATH_MAX];
    double *v = malloc(sizeof(double) * ROWS * COLS), *w = calloc(ROWS * COLS, sizeof(double));
    const sal_rank_meta_t m0 = {.id = 1, .step = 1, .rank = 0, .nranks = 1};
    sal_rank_meta_t m1 = m0;
    sal_region_t r;
    int reused = 0;
    off_t size0;

    CU_ASSERT_FATAL(v && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)i / 7.0;
    set_region(&r, "big", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    path_of(a, "reuse.big.a.h5");
    path_of(b, "reuse.big.b.h5");
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(a, &m0, &r, 1, NULL), SAL_OK);
    size0 = size_of(a);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = -v[i];
    m1.id = 2;
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank_reusing(b, a, &m1, &r, 1, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 1);
    CU_ASSERT(size_of(b) >= size0 && size_of(b) <= size0 + 4096); /* no chunk moved */
    r.base = w;
    CU_ASSERT_EQUAL(sal_h5_read_rank(b, &m1, &r, 1), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(v, w, sizeof(double) * ROWS * COLS), 0);
    free(v);
    free(w);
}

/* A file that cannot be taken over (other regions, another shape, garbage, missing, a symlink)
 * gives a new file with the right contents; a symlink's target is left alone. */
static void test_reuse_falls_back(void)
{
    char old[PATH_MAX], out[PATH_MAX], target[PATH_MAX];
    sal_region_t r[NREG];
    int reused = -1;
    FILE *f;

    path_of(old, "reuse.old.h5");
    path_of(out, "reuse.out.h5");
    path_of(target, "reuse.target");
    make_regions(&orig, r);
    /* fewer regions in the old file */
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(old, &meta, r, NREG - 1, NULL), SAL_OK);
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(out, old, &meta, r, NREG, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    CU_ASSERT_EQUAL(access(old, F_OK), -1);
    CU_ASSERT_EQUAL(read_standard(out, &meta), SAL_OK);
    /* same names, one block of another shape */
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(old, &meta, r, NREG, NULL), SAL_OK);
    r[3].count[0] = 4;
    r[3].gdims[0] = 9;
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(out, old, &meta, r, NREG, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    make_regions(&orig, r);
    /* garbage, then nothing at all */
    f = fopen(old, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("not an HDF5 file", f);
    fclose(f);
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(out, old, &meta, r, NREG, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    CU_ASSERT_EQUAL(read_standard(out, &meta), SAL_OK);
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(out, old, &meta, r, NREG, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    /* a symlink to a valid rank file elsewhere: never written through */
    write_standard(target);
    CU_ASSERT_EQUAL_FATAL(symlink(target, old), 0);
    orig.n = 12345;
    make_regions(&orig, r);
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(out, old, &meta, r, NREG, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    CU_ASSERT_EQUAL(read_standard(target, &meta), SAL_OK);
    CU_ASSERT_EQUAL(back.n, -77);
    CU_ASSERT_EQUAL(read_standard(out, &meta), SAL_OK);
    CU_ASSERT_EQUAL(back.n, 12345);
    orig.n = -77;
    unlink(old);
    CU_ASSERT_EQUAL(count_temps(), 0);
}

static int probe_ok(const void *arg)
{
    (void)arg;
    return SAL_OK;
}

static int probe_invalid(const void *arg)
{
    (void)arg;
    return SAL_ERR_CORRUPT;
}

static int probe_killed(const void *arg)
{
    (void)arg;
    raise(SIGKILL); /* a signal no sanitizer turns into an exit status */
    return SAL_OK;
}

static int probe_exits(const void *arg)
{
    (void)arg;
    _exit(1); /* what AddressSanitizer does after a report */
}

static int probe_loops(const void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return SAL_OK;
}

/* sal_h5_probe: a probe that returns (either verdict) is fine; one that dies, exits on its own or
 * does not finish makes the file damaged, named in the message. */
static void test_probe(void)
{
    const char *path = "/some/file.h5";

    CU_ASSERT_EQUAL(sal_h5_probe(path, probe_ok, NULL), SAL_OK);
    CU_ASSERT_EQUAL(sal_h5_probe(path, probe_invalid, NULL), SAL_OK);
    CU_ASSERT_EQUAL(sal_h5_probe(path, probe_killed, NULL), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("crashed (signal 9");
    CU_ASSERT_EQUAL(sal_h5_probe(path, probe_exits, NULL), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("exited with status 1");
    sal_h5_probe_set_timeout(0.2);
    CU_ASSERT_EQUAL(sal_h5_probe(path, probe_loops, NULL), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("did not finish reading it in 0.2 s");
    sal_h5_probe_set_timeout(0);
}

/* The umask must not change the final mode. */
static void test_mode_with_umask(void)
{
    char path[PATH_MAX];
    struct stat st;
    mode_t old = umask(0277);

    path_of(path, "umask.h5");
    make_regions(&orig, regs);
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, regs, NREG, NULL), SAL_OK);
    umask(old);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(read_standard(path, &meta), SAL_OK);
}

/* Chunk dims of dataset name in path, via HDF5 directly. */
static int chunk_of(const char *path, const char *name, hsize_t *chunk)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d, p;
    int nd = -1;

    if (f < 0)
        return -1;
    d = H5Dopen2(f, name, H5P_DEFAULT);
    p = d < 0 ? -1 : H5Dget_create_plist(d);
    if (p >= 0 && H5Pget_layout(p) == H5D_CHUNKED && H5Pget_nfilters(p) == 1)
        nd = H5Pget_chunk(p, SAL_MAX_DIMS, chunk);
    if (p >= 0)
        H5Pclose(p);
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(f);
    return nd;
}

static void test_big_block_is_split(void)
{
    char path[PATH_MAX];
    size_t n = (size_t)BIG_ROWS * BIG_COLS;
    double *a = malloc(n * sizeof(double)), *b = calloc(n, sizeof(double));
    hsize_t chunk[SAL_MAX_DIMS];
    sal_region_t r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    for (size_t i = 0; i < n; i++)
        a[i] = (double)i * 0.25;
    path_of(path, "big.h5");
    set_region(&r, "big", a, SAL_DOUBLE, 2, (int64_t[]){BIG_ROWS, BIG_COLS}, (int64_t[]){0, 0},
               (int64_t[]){BIG_ROWS, BIG_COLS});
    CU_ASSERT_EQUAL(sal_h5_write_rank(path, &meta, &r, 1, NULL), SAL_OK);
    /* 2100 rows of 8 KiB exceed the 1 MiB chunk cap: 128 rows per chunk (the last chunk holds 52),
     * Fletcher32 on. */
    CU_ASSERT_EQUAL(chunk_of(path, "big", chunk), 2);
    CU_ASSERT_EQUAL(chunk[0], 128);
    CU_ASSERT_EQUAL(chunk[1], BIG_COLS);
    r.base = b;
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, &r, 1), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(a, b, n * sizeof(double)), 0);
    unlink(path);
    free(a);
    free(b);
}

/* Every stored chunk of dataset name in a (written directly, with a precomputed checksum) is
 * byte-identical to the chunk HDF5's own filter pipeline stores for the same data in b. */
static void compare_chunks(hid_t a, hid_t b, const char *name)
{
    hid_t da = H5Dopen2(a, name, H5P_DEFAULT), db = H5Dopen2(b, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(da);
    hsize_t n = 0;

    CU_ASSERT_FATAL(da >= 0 && db >= 0 && space >= 0);
    CU_ASSERT_EQUAL(H5Dget_num_chunks(da, space, &n), 0);
    CU_ASSERT(n > 0);
    for (hsize_t i = 0; i < n; i++) {
        hsize_t off[SAL_MAX_DIMS], sa = 0, sb = 0;
        haddr_t addr;
        unsigned mask = 1;
        uint32_t fa = 1, fb = 1;
        CU_ASSERT_EQUAL(H5Dget_chunk_info(da, space, i, off, &mask, &addr, &sa), 0);
        CU_ASSERT_EQUAL(mask, 0);
        CU_ASSERT_EQUAL(H5Dget_chunk_storage_size(db, off, &sb), 0);
        CU_ASSERT_EQUAL(sa, sb);
        if (sa == 0 || sa != sb)
            continue;
        unsigned char *ba = malloc(sa), *bb = malloc(sb);
        CU_ASSERT_FATAL(ba && bb);
        CU_ASSERT_EQUAL(H5Dread_chunk(da, H5P_DEFAULT, off, &fa, ba), 0);
        CU_ASSERT_EQUAL(H5Dread_chunk(db, H5P_DEFAULT, off, &fb, bb), 0);
        CU_ASSERT_EQUAL(fa, 0);
        CU_ASSERT_EQUAL(fb, 0);
        CU_ASSERT_EQUAL(memcmp(ba, bb, sa), 0);
        free(ba);
        free(bb);
    }
    H5Sclose(space);
    H5Dclose(da);
    H5Dclose(db);
}

/* Writes r with sal_h5_write_rank and again with H5Dwrite through the filter pipeline, using the
 * dataset creation properties of the first file, and compares the stored chunks. */
static void check_direct_chunks(const sal_region_t *r)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    hid_t fa, fb, da, dcpl, space, db;

    path_of(pa, "direct.h5");
    path_of(pb, "filter.h5");
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(pa, &meta, r, 1, NULL), SAL_OK);
    fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT);
    fb = H5Fcreate(pb, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(fa >= 0 && fb >= 0);
    da = H5Dopen2(fa, r->name, H5P_DEFAULT);
    dcpl = H5Dget_create_plist(da);
    space = H5Dget_space(da);
    db = H5Dcreate2(fb, r->name, sal_h5_file_type(r->type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CU_ASSERT_FATAL(db >= 0);
    CU_ASSERT(H5Dwrite(db, sal_h5_mem_type(r->type), H5S_ALL, H5S_ALL, H5P_DEFAULT, r->base) >= 0);
    H5Dclose(db);
    H5Sclose(space);
    H5Pclose(dcpl);
    H5Dclose(da);
    H5Fclose(fb);
    fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    compare_chunks(fa, fb, r->name);
    H5Fclose(fa);
    H5Fclose(fb);
    unlink(pa);
    unlink(pb);
}

/* The Fletcher32 values the writer computes itself match HDF5's: odd byte counts, partial last
 * chunks (zero padding), 1- to 3-D blocks, random and all-ones data. */
static void test_direct_chunks_match_filter(void)
{
    size_t n = (size_t)3 << 20;
    unsigned char *m = malloc(n);
    sal_region_t r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    srand(7);
    for (size_t i = 0; i < n; i++)
        m[i] = (unsigned char)rand();
    set_region(&r, "c", m, SAL_CHAR, 1, (int64_t[]){1001}, (int64_t[]){0}, (int64_t[]){1001});
    check_direct_chunks(&r);
    set_region(&r, "c", m, SAL_CHAR, 1, (int64_t[]){2500001}, (int64_t[]){0}, (int64_t[]){2500001});
    check_direct_chunks(&r);
    set_region(&r, "f", m, SAL_FLOAT, 3, (int64_t[]){5, 500, 700}, (int64_t[]){0, 0, 0},
               (int64_t[]){2, 500, 700});
    check_direct_chunks(&r);
    set_region(&r, "i", m, SAL_INT, 2, (int64_t[]){9, 7}, (int64_t[]){1, 0}, (int64_t[]){8, 7});
    check_direct_chunks(&r);
    memset(m, 0xff, n);
    set_region(&r, "d", m, SAL_DOUBLE, 1, (int64_t[]){300000}, (int64_t[]){0}, (int64_t[]){300000});
    check_direct_chunks(&r);
    free(m);
}

/* The attributes local, global_dims and offset of dataset name of path. */
static void stored_local(const char *path, const char *name, int64_t *local, int64_t *g, int64_t *o)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t a = H5Aopen(d, "local", H5P_DEFAULT), b = H5Aopen(d, "global_dims", H5P_DEFAULT);
    hid_t c = H5Aopen(d, "offset", H5P_DEFAULT);

    CU_ASSERT_FATAL(f >= 0 && d >= 0 && a >= 0 && b >= 0 && c >= 0);
    CU_ASSERT(H5Aread(a, H5T_NATIVE_INT64, local) >= 0);
    CU_ASSERT(H5Aread(b, H5T_NATIVE_INT64, g) >= 0);
    CU_ASSERT(H5Aread(c, H5T_NATIVE_INT64, o) >= 0);
    H5Aclose(c);
    H5Aclose(b);
    H5Aclose(a);
    H5Dclose(d);
    H5Fclose(f);
}

/* Per-rank data (sal_ckpt_protect_local): a byte dataset marked local = 1 whose global_dims and
 * offset describe the rank's own bytes, read back with its size checked against the registered
 * one; a file whose local flag differs is not reused. */
static void test_local_round_trip(void)
{
    enum { LEN = 3017 };
    char path[PATH_MAX], again[PATH_MAX];
    unsigned char *a = malloc(LEN), *b = calloc(LEN, 1);
    int64_t local = 0, g = 0, o = -1, bytes = 0;
    sal_region_t r[2], x[2];
    int reused = -1;

    CU_ASSERT_FATAL(a && b);
    for (int i = 0; i < LEN; i++)
        a[i] = (unsigned char)(i * 7 + 3);
    set_local(&r[0], "hist", a, LEN);
    set_local(&r[1], "none", NULL, 0); /* an empty one: a rank with nothing to keep */
    path_of(path, "local.h5");
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, r, 2, &bytes), SAL_OK);
    CU_ASSERT_EQUAL(bytes, LEN);
    stored_local(path, "hist", &local, &g, &o);
    CU_ASSERT(local == 1 && g == LEN && o == 0);
    memcpy(x, r, sizeof(x));
    x[0].base = b;
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, x, 2), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(a, b, LEN), 0);
    set_local(&x[0], "hist", b, LEN - 1000);
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, x, 2), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS(path);
    ASSERT_ERR_HAS("per-rank data \"hist\" of rank 1 holds 3017 bytes in the file, 2017 bytes are "
                   "registered");
    set_region(&x[0], "hist", b, SAL_CHAR, 1, (int64_t[]){LEN}, (int64_t[]){0}, (int64_t[]){LEN});
    CU_ASSERT_EQUAL(sal_h5_read_rank(path, &meta, x, 2), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("stored as per-rank data, the protected region is an array");
    /* The same shape as an array: another kind, so a new file is written. */
    path_of(again, "local.again.h5");
    CU_ASSERT_EQUAL(sal_h5_write_rank_reusing(again, path, &meta, x, 2, NULL, &reused), SAL_OK);
    CU_ASSERT_EQUAL(reused, 0);
    CU_ASSERT_EQUAL(sal_h5_read_rank(again, &meta, r, 2), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("stored as an array, the protected region is per-rank data (sal_protect_local)");
    free(a);
    free(b);
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
        {"round trip of every type", test_round_trip},
        {"mode 0600 under umask 0277", test_mode_with_umask},
        {"probes in a child process", test_probe},
        {"a file reused in place", test_reuse_in_place},
        {"a multi-chunk block reused in place", test_reuse_big_block},
        {"files that cannot be reused", test_reuse_falls_back},
        {"big block split into chunks", test_big_block_is_split},
        {"direct chunks equal HDF5's filter output", test_direct_chunks_match_filter},
        {"per-rank data round trip and size check", test_local_round_trip},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("h5io", suite_init, suite_clean, tests);
}
