/*
 * Unit tests of the per-rank checkpoint files (h5io.c): round trip of every element type (2-D and
 * 3-D blocks, scalars, an empty block, a block split into several chunks), stored chunks
 * byte-identical to those of HDF5's Fletcher32 filter, file mode and temp
 * files, detection of every mismatch against the expected identity and regions, and of damaged
 * files (flipped data bit, truncation, zero length, garbage, symlink, directory, unreadable), and
 * the reuse of an old rank file in place (same inode and size, new contents) or its refusal.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "fsutil.h"
#include "h5io.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];

#define ASSERT_ERR_HAS(needle)                                                                     \
    do {                                                                                           \
        int found_ = strstr(sal_last_error(), (needle)) != NULL;                                   \
        if (!found_)                                                                               \
            fprintf(stderr, "\n    last error \"%s\" lacks \"%s\"\n", sal_last_error(), (needle)); \
        CU_ASSERT(found_);                                                                         \
    } while (0)

enum { NREG = 8, BIG_ROWS = 2100, BIG_COLS = 1024 };

/* Application memory of the test regions, and a zeroed copy to read into. */
struct state {
    double u[4][10];
    float g[4][3][8];
    int64_t l[2][3];
    int iv[5];
    unsigned char c[7];
    double t;
    int64_t n;
};

static struct state orig, back;
static sal_region_t regs[NREG];

static void set_region(sal_region_t *r, const char *name, void *base, sal_type_t type, int ndims,
                       const int64_t *gdims, const int64_t *offset, const int64_t *count)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->base = base;
    r->type = type;
    r->ndims = ndims;
    r->scalar = ndims == 0;
    for (int d = 0; d < ndims; d++) {
        r->gdims[d] = gdims[d];
        r->offset[d] = offset[d];
        r->count[d] = count[d];
    }
}

/* Regions over s: every type, 1-D to 3-D, two scalars and an empty block (NULL base). */
static void make_regions(struct state *s, sal_region_t *r)
{
    set_region(&r[0], "u.2d", s->u, SAL_DOUBLE, 2, (int64_t[]){8, 10}, (int64_t[]){4, 0},
               (int64_t[]){4, 10});
    set_region(&r[1], "grid-3", s->g, SAL_FLOAT, 3, (int64_t[]){4, 6, 8}, (int64_t[]){0, 3, 0},
               (int64_t[]){4, 3, 8});
    set_region(&r[2], "L", s->l, SAL_INT64, 2, (int64_t[]){2, 6}, (int64_t[]){0, 3},
               (int64_t[]){2, 3});
    set_region(&r[3], "iv", s->iv, SAL_INT, 1, (int64_t[]){10}, (int64_t[]){5}, (int64_t[]){5});
    set_region(&r[4], "chars", s->c, SAL_CHAR, 1, (int64_t[]){14}, (int64_t[]){7}, (int64_t[]){7});
    set_region(&r[5], "t", &s->t, SAL_DOUBLE, 0, NULL, NULL, NULL);
    set_region(&r[6], "n", &s->n, SAL_INT64, 0, NULL, NULL, NULL);
    set_region(&r[7], "empty", NULL, SAL_INT64, 2, (int64_t[]){10, 5}, (int64_t[]){10, 0},
               (int64_t[]){0, 5});
}

static void fill_state(struct state *s)
{
    double *u = &s->u[0][0];
    float *g = &s->g[0][0][0];

    for (int i = 0; i < 40; i++)
        u[i] = 0.5 + i;
    for (int i = 0; i < 96; i++)
        g[i] = -1.25f * (float)i;
    for (int i = 0; i < 6; i++)
        (&s->l[0][0])[i] = INT64_C(1) << (10 * (i % 6));
    for (int i = 0; i < 5; i++)
        s->iv[i] = -i * 1000;
    memcpy(s->c, "abcdefg", 7);
    s->t = 3.25;
    s->n = -77;
}

static const sal_rank_meta_t meta = {.id = 7, .step = 42, .time = 1.7e9, .rank = 1, .nranks = 2};

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_h5io.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    fill_state(&orig);
    return 0;
}

static int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

static void path_of(char *buf, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(buf, PATH_MAX, "%s/%s", tmpdir, name), SAL_OK);
}

static int count_temps(void)
{
    char cmd[PATH_MAX + 64];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '\\.tmp\\.'", tmpdir);
    p = popen(cmd, "r");
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

/* Writes the standard rank file at path. */
static void write_standard(const char *path)
{
    int64_t bytes = 0;

    make_regions(&orig, regs);
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, regs, NREG, &bytes), SAL_OK);
}

/* Reads path with the standard regions pointed at `back`. */
static int read_standard(const char *path, const sal_rank_meta_t *expect)
{
    sal_region_t r[NREG];

    memset(&back, 0, sizeof(back));
    make_regions(&back, r);
    return sal_h5_read_rank(path, expect, r, NREG);
}

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
        {"round trip of every type", test_round_trip},
        {"mode 0600 under umask 0277", test_mode_with_umask},
        {"probes in a child process", test_probe},
        {"a file reused in place", test_reuse_in_place},
        {"a multi-chunk block reused in place", test_reuse_big_block},
        {"files that cannot be reused", test_reuse_falls_back},
        {"big block split into chunks", test_big_block_is_split},
        {"direct chunks equal HDF5's filter output", test_direct_chunks_match_filter},
        {"id/rank/nranks/step mismatch", test_identity_mismatch},
        {"region mismatch", test_region_mismatch},
        {"flipped data bit", test_flipped_bit},
        {"truncated, empty, garbage, missing", test_damaged_files},
        {"symlink, directory, not a directory", test_not_regular_files},
        {"permission denied", test_permission_denied},
        {"foreign HDF5 files", test_foreign_files},
        {"write failures keep the target", test_write_failures_keep_target},
        {"no HDF5 identifiers left", test_no_hdf5_handles_left},
    };

    return SAL_UNIT_MAIN("h5io", suite_init, suite_clean, tests);
}
