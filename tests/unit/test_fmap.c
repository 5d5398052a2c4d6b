/* Unit tests of the mapped files of the levels (fmap.c) and of the parity file (parity_file.c). */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fmap.h"
#include "fsutil.h"
#include "parity_file.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-fmap-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

static void path_of(char *buf, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(buf, PATH_MAX, "%s/%s", tmpdir, name), SAL_OK);
}

/* Whether path holds exactly the n bytes of want. */
static int holds(const char *path, const void *want, size_t n)
{
    char *data = NULL;
    size_t len = 0;
    int same = sal_read_file(path, (size_t)1 << 30, &data, &len) == SAL_OK && len == n &&
               (n == 0 || memcmp(data, want, n) == 0);

    free(data);
    return same;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed);
}

static void test_create_commit(void)
{
    char path[PATH_MAX];
    unsigned char want[10000];
    struct stat st;
    sal_fmap_t m;

    path_of(path, "new.bin");
    fill(want, sizeof(want), 1);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, sizeof(want), NULL, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.reused, 0);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* nothing published before the commit */
    memcpy(m.data, want, sizeof(want));
    CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_OK);
    sal_fmap_close(&m); /* allowed after a commit */
    CU_ASSERT_TRUE(holds(path, want, sizeof(want)));
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_NOT_EQUAL(access(m.tmp, F_OK), 0);
}

/* A lazy mapping, populated before its bytes arrive (async_levels), holds and publishes them like
 * any other; a lazy read sees the file. */
static void test_lazy_populate(void)
{
    char path[PATH_MAX];
    unsigned char want[70000];
    sal_fmap_t m, r;

    path_of(path, "lazy.bin");
    fill(want, sizeof(want), 3);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, sizeof(want), NULL, SAL_FMAP_LAZY, &m), SAL_OK);
    sal_fmap_populate(&m, 1);
    memcpy(m.data, want, sizeof(want));
    CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_OK);
    CU_ASSERT_TRUE(holds(path, want, sizeof(want)));
    CU_ASSERT_EQUAL_FATAL(sal_fmap_read(path, SAL_FMAP_LAZY, &r), SAL_OK);
    sal_fmap_populate(&r, 0);
    CU_ASSERT_EQUAL(r.len, sizeof(want));
    CU_ASSERT_EQUAL(memcmp(r.data, want, sizeof(want)), 0);
    sal_fmap_close(&r);
}

static void test_close_without_commit(void)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    sal_fmap_t m;

    path_of(path, "dropped.bin");
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, 4096, NULL, SAL_FMAP_LAZY, &m), SAL_OK);
    snprintf(tmp, sizeof(tmp), "%s", m.tmp);
    CU_ASSERT_EQUAL(access(tmp, F_OK), 0);
    memset(m.data, 7, 4096);
    sal_fmap_close(&m);
    sal_fmap_close(&m); /* twice is harmless */
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

/* An older file serves as storage, shorter or longer than the new contents. */
static void test_reuse_resizes(void)
{
    static const size_t old_len[] = {100000, 50};
    char path[PATH_MAX], old[PATH_MAX];
    unsigned char want[3000], junk[100000];
    sal_fmap_t m;

    path_of(path, "reused.bin");
    path_of(old, "older.bin");
    fill(want, sizeof(want), 2);
    fill(junk, sizeof(junk), 3);
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(old, junk, old_len[k], 0600), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, sizeof(want), old, 0, &m), SAL_OK);
        CU_ASSERT_EQUAL(m.reused, 1);
        CU_ASSERT_NOT_EQUAL(access(old, F_OK), 0); /* taken over */
        memcpy(m.data, want, sizeof(want));
        CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_OK);
        CU_ASSERT_TRUE(holds(path, want, sizeof(want)));
    }
}

/* What is not a plain file of ours is never taken over: a symbolic link stays as it is. */
static void test_reuse_refuses_links(void)
{
    char path[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
    unsigned char want[64], keep[16] = "do not touch";
    sal_fmap_t m;

    path_of(path, "fresh.bin");
    path_of(link, "link.bin");
    path_of(target, "target.bin");
    fill(want, sizeof(want), 4);
    CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(target, keep, sizeof(keep), 0600), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(symlink(target, link), 0);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, sizeof(want), link, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.reused, 0);
    memcpy(m.data, want, sizeof(want));
    CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_OK);
    CU_ASSERT_TRUE(holds(path, want, sizeof(want)));
    CU_ASSERT_TRUE(holds(target, keep, sizeof(keep)));
    /* a reuse candidate that is gone: a new file */
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, 8, target, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.reused, 1);
    sal_fmap_close(&m); /* not committed: the reused file is gone too */
    CU_ASSERT_NOT_EQUAL(access(target, F_OK), 0);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, 8, target, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.reused, 0);
    sal_fmap_close(&m);
}

static void test_read(void)
{
    char path[PATH_MAX], empty[PATH_MAX];
    unsigned char want[70000];
    sal_fmap_t m;

    path_of(path, "read.bin");
    path_of(empty, "empty.bin");
    fill(want, sizeof(want), 5);
    CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(path, want, sizeof(want), 0600), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_read(path, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.len, sizeof(want));
    CU_ASSERT_EQUAL(memcmp(m.data, want, sizeof(want)), 0);
    sal_fmap_close(&m);
    CU_ASSERT_EQUAL_FATAL(sal_write_file_atomic(empty, want, 0, 0600), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_fmap_read(empty, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(m.len, 0);
    sal_fmap_close(&m);
    path_of(path, "missing.bin");
    CU_ASSERT_EQUAL(sal_fmap_read(path, 0, &m), SAL_ERR_IO);
    ASSERT_ERR_HAS("missing.bin");
    CU_ASSERT_EQUAL(sal_fmap_read(tmpdir, 0, &m), SAL_ERR_IO);
    ASSERT_ERR_HAS("not a regular file");
    sal_fmap_close(&m);
}

static void test_create_zero_and_bad_dir(void)
{
    char path[PATH_MAX];
    sal_fmap_t m;

    path_of(path, "zero.bin");
    CU_ASSERT_EQUAL_FATAL(sal_fmap_create(path, 0, NULL, 0, &m), SAL_OK);
    CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_OK);
    CU_ASSERT_TRUE(holds(path, "", 0));
    path_of(path, "no/such/dir/x.bin");
    CU_ASSERT_EQUAL(sal_fmap_create(path, 10, NULL, 0, &m), SAL_ERR_IO);
    ASSERT_ERR_HAS("x.bin");
    CU_ASSERT_EQUAL(sal_fmap_commit(&m), SAL_ERR_INVALID_ARG);
}

/* The checksum of format 2 as docs/format.md defines it, written the slow way. */
static uint64_t reference_sum(const unsigned char *p, size_t n)
{
    const uint64_t prime = 1099511628211ULL, basis = 14695981039346656037ULL;
    uint64_t lane[4] = {basis, basis, basis, basis}, h = basis;
    size_t words = (n + 7) / 8;

    for (size_t w = 0; w < words; w++) {
        uint64_t v = 0;
        for (size_t b = 0; b < 8; b++)
            v |= (uint64_t)(8 * w + b < n ? p[8 * w + b] : 0) << (8 * b);
        lane[w % 4] = (lane[w % 4] ^ v) * prime;
    }
    for (int j = 0; j < 4; j++)
        for (int b = 0; b < 8; b++)
            h = (h ^ (unsigned char)(lane[j] >> (8 * b))) * prime;
    return h;
}

static void test_parity_sum(void)
{
    static const size_t lens[] = {0, 1, 7, 8, 9, 24, 31, 32, 33, 63, 64, 65, 1000};
    unsigned char buf[1000];

    fill(buf, sizeof(buf), 6);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        CU_ASSERT_EQUAL(sal_parity_sum(buf, lens[i]), reference_sum(buf, lens[i]));
    /* every byte counts, in every lane */
    for (size_t i = 0; i < 65; i++) {
        uint64_t before = sal_parity_sum(buf, 65);
        buf[i] ^= 0x10;
        CU_ASSERT_NOT_EQUAL(sal_parity_sum(buf, 65), before);
        buf[i] ^= 0x10;
    }
}

static uint64_t fnv_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void test_parity_round_trip(void)
{
    unsigned char stripe[333], *buf = NULL;
    sal_parity_t p = {.nranks = 8, .group = 1, .size = 3, .member = 2, .chunk = sizeof(stripe)};
    sal_parity_t q;
    char path[PATH_MAX];
    size_t n = 0;
    uint64_t h;

    fill(stripe, sizeof(stripe), 7);
    p.lens[0] = 600;
    p.lens[1] = 666;
    p.lens[2] = 0;
    p.stripe = stripe;
    CU_ASSERT_EQUAL_FATAL(sal_parity_write(tmpdir, 5, &p), SAL_OK);
    path_of(path, "parity.5.xor");
    CU_ASSERT_EQUAL_FATAL(sal_read_file(path, 1 << 20, (char **)&buf, &n), SAL_OK);
    CU_ASSERT_EQUAL(n, sal_parity_len(3, sizeof(stripe)));
    CU_ASSERT_EQUAL(memcmp(buf, "SALXOR02", 8), 0);
    CU_ASSERT_EQUAL_FATAL(sal_parity_parse(path, buf, n, &q), SAL_OK);
    CU_ASSERT_EQUAL(q.nranks, 8);
    CU_ASSERT_EQUAL(q.member, 2);
    CU_ASSERT_EQUAL(q.lens[1], 666);
    CU_ASSERT_EQUAL(memcmp(q.stripe, stripe, sizeof(stripe)), 0);
    /* one flipped bit of the stripe */
    buf[n - 20] ^= 4;
    CU_ASSERT_EQUAL(sal_parity_parse(path, buf, n, &q), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("checksum mismatch");
    buf[n - 20] ^= 4;
    /* a file of format 1 (FNV-1a over the bytes) is still read; its magic with the other
     * checksum is not */
    memcpy(buf, "SALXOR01", 8);
    CU_ASSERT_EQUAL(sal_parity_parse(path, buf, n, &q), SAL_ERR_CORRUPT);
    h = fnv_bytes(buf, n - 8);
    for (int b = 0; b < 8; b++)
        buf[n - 8 + (size_t)b] = (unsigned char)(h >> (8 * b));
    CU_ASSERT_EQUAL(sal_parity_parse(path, buf, n, &q), SAL_OK);
    /* truncated, and a header that does not match the length */
    CU_ASSERT_EQUAL(sal_parity_parse(path, buf, n - 1, &q), SAL_ERR_CORRUPT);
    CU_ASSERT_EQUAL(sal_parity_parse(path, buf, 20, &q), SAL_ERR_CORRUPT);
    ASSERT_ERR_HAS("not a parity file");
    free(buf);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"create and commit", test_create_commit},
        {"close without commit", test_close_without_commit},
        {"lazy mapping, populated", test_lazy_populate},
        {"reuse resizes an older file", test_reuse_resizes},
        {"reuse refuses links", test_reuse_refuses_links},
        {"read", test_read},
        {"zero length and missing directory", test_create_zero_and_bad_dir},
        {"parity checksum", test_parity_sum},
        {"parity file round trip", test_parity_round_trip},
    };

    return SAL_UNIT_MAIN("fmap", suite_init, suite_clean, tests);
}
