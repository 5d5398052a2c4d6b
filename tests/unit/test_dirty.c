/*
 * Unit tests of written-page tracking (dirty.c) and of differential writes that use it
 * (differential_tracking=pages, h5io_chunk.c): every way this process's memory can change (a
 * store, a read() into it, MADV_DONTNEED, a peer's process_vm_writev, unmapping and mapping again,
 * regions that change) counts as written, pages not written stay clean, a rank file written
 * with the tracker leaves exactly the chunks of untouched memory, unread, and the tracker is not
 * trusted where devices may write memory unseen (their device files, pinned memory).
 *
 * valgrind does not implement userfaultfd, and a host with an RDMA device or a GPU refuses the
 * tracker: there it must refuse with SAL_ERR_UNSUPPORTED (what checkpoints then do: hash every
 * chunk), which is what is tested, and the test says loudly that the tracker itself was not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <hdf5.h>
#include <valgrind/valgrind.h>

#include <salamander/sal_error.h>

#include "dirty.h"
#include "h5io.h"
#include "h5io_fixture.h"
#include "h5io_rank.h"
#include "unit_main.h"

enum { NPAGES = 32 };

static size_t page;

/* A tracker, or NULL under valgrind (then its refusal is checked). */
static sal_dirty_t *open_tracker(void)
{
    sal_dirty_t *d = NULL;
    char dev[PATH_MAX];
    int rc = sal_dirty_open(&d);

    if (sal_dirty_device_blocks("", dev, sizeof(dev))) {
        CU_ASSERT_EQUAL(rc, SAL_ERR_UNSUPPORTED);
        CU_ASSERT_PTR_NULL(d);
        fprintf(stderr,
                "\n*** test_dirty: written-page tracking NOT tested on this host: %s "
                "refuses it (%s) ***\n",
                dev, sal_last_error());
        return NULL;
    }
    if (RUNNING_ON_VALGRIND) {
        CU_ASSERT_EQUAL(rc, SAL_ERR_UNSUPPORTED);
        CU_ASSERT_PTR_NULL(d);
        fprintf(stderr,
                "\n*** test_dirty under valgrind: written-page tracking NOT tested here "
                "(valgrind has no userfaultfd: %s); only the fallback to hashing is ***\n",
                sal_last_error());
        return NULL;
    }
    CU_ASSERT_EQUAL(rc, SAL_OK);
    if (rc != SAL_OK)
        fprintf(stderr, "written-page tracking unavailable on this kernel: %s\n", sal_last_error());
    return d;
}

/* Whether page i of base is clean since checkpoint since. */
static int clean(const sal_dirty_t *d, const char *base, size_t i, int64_t since)
{
    return sal_dirty_clean_since(d, base + i * page, page, since);
}

/* The pages of base (n of them) written since `since`, as a bit mask. */
static unsigned long written(const sal_dirty_t *d, const char *base, size_t n, int64_t since)
{
    unsigned long m = 0;

    for (size_t i = 0; i < n; i++)
        if (!clean(d, base, i, since))
            m |= 1UL << i;
    return m;
}

static void test_writes_are_seen(void)
{
    sal_dirty_t *d = open_tracker();
    char *p = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sal_region_t r;
    int fds[2];
    pid_t child;
    int status = -1;

    CU_ASSERT_FATAL(p != MAP_FAILED);
    memset(p, 1, NPAGES * page / 2); /* the upper half never touched */
    set_region(&r, "m", p, SAL_CHAR, 1, (int64_t[]){NPAGES * (int64_t)page}, (int64_t[]){0},
               (int64_t[]){NPAGES * (int64_t)page});
    if (!d) {
        CU_ASSERT_EQUAL(sal_dirty_clean_since(NULL, p, page, 0), 0);
        munmap(p, NPAGES * page);
        return;
    }
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 1), SAL_OK);
    /* registered at checkpoint 1: clean since 1, not since 0 (before it was tracked) */
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 1), 0);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 0), (1UL << NPAGES) - 1);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p, page, -1), 0);
    /* a store, into a page that held data and into one never touched */
    p[3 * page + 17] = 2;
    p[20 * page] = 2;
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 2), SAL_OK);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 1), 1UL << 3 | 1UL << 20);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 2), 0);
    /* the kernel on our behalf (read() from a pipe), MADV_DONTNEED (the page reads 0 now), a
     * peer's process_vm_writev (how Open MPI's shared-memory transport copies large messages) */
    CU_ASSERT_FATAL(pipe(fds) == 0);
    CU_ASSERT_EQUAL(write(fds[1], "abc", 3), 3);
    CU_ASSERT_EQUAL(read(fds[0], p + 5 * page + 100, 3), 3);
    close(fds[0]);
    close(fds[1]);
    CU_ASSERT_EQUAL(madvise(p + 7 * page, page, MADV_DONTNEED), 0);
    child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        char v = 9;
        struct iovec local = {&v, 1}, remote = {p + 9 * page + 1, 1};
        _exit(process_vm_writev(getppid(), &local, 1, &remote, 1, 0) == 1 ? 0 : 1);
    }
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(p[9 * page + 1], 9);
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 3), SAL_OK);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 2), 1UL << 5 | 1UL << 7 | 1UL << 9);
    /* since checkpoint 1: the union */
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 1),
                    1UL << 3 | 1UL << 20 | 1UL << 5 | 1UL << 7 | 1UL << 9);
    /* a range across pages is clean only when all of them are */
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 10 * page, 4 * page, 1), 1);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 8 * page + 1, 2 * page, 2), 0);
    /* unmapped and mapped again at the same address: the kernel no longer protects it, and the
     * tracker starts it over (everything written at 4) */
    CU_ASSERT_EQUAL(munmap(p + 12 * page, page), 0);
    CU_ASSERT_FATAL(mmap(p + 12 * page, page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + 12 * page);
    p[12 * page] = 1;
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 4), SAL_OK);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 3), (1UL << NPAGES) - 1);
    p[14 * page] = 3;
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 5), SAL_OK);
    CU_ASSERT_EQUAL(written(d, p, NPAGES, 4), 1UL << 14);
    /* memory outside every region is never clean */
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, &status, sizeof(status), 4), 0);
    sal_dirty_close(d);
    munmap(p, NPAGES * page);
}

/* A new region, or one that moved, is tracked anew: everything counts as written at that scan. */
static void test_regions_change(void)
{
    sal_dirty_t *d = open_tracker();
    char *p = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sal_region_t r[2];

    CU_ASSERT_FATAL(p != MAP_FAILED);
    if (!d) {
        munmap(p, NPAGES * page);
        return;
    }
    /* two regions sharing a page (bytes 100.. of page 0 to 3.5 pages, and from there on) */
    set_region(&r[0], "a", p + 100, SAL_CHAR, 1, (int64_t[]){(int64_t)(3 * page + page / 2)},
               (int64_t[]){0}, (int64_t[]){(int64_t)(3 * page + page / 2)});
    set_region(&r[1], "b", p + 100 + 3 * page + page / 2, SAL_CHAR, 1,
               (int64_t[]){(int64_t)(4 * page)}, (int64_t[]){0}, (int64_t[]){(int64_t)(4 * page)});
    CU_ASSERT_EQUAL(sal_dirty_scan(d, r, 1, 1), SAL_OK);
    CU_ASSERT_EQUAL(sal_dirty_scan(d, r, 2, 2), SAL_OK); /* b added: all anew at 2 */
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, r[0].base, 10, 1), 0);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, r[0].base, 10, 2), 1);
    p[100 + 3 * page + page / 2 + 1] = 1; /* b's first byte + 1, in the page a shares */
    CU_ASSERT_EQUAL(sal_dirty_scan(d, r, 2, 3), SAL_OK);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 3 * page, 1, 2), 0);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 2 * page, page, 2), 1);
    r[1].base = p + 16 * page; /* b moved */
    CU_ASSERT_EQUAL(sal_dirty_scan(d, r, 2, 4), SAL_OK);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 2 * page, page, 3), 0);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 16 * page, page, 4), 1);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p + 3 * page + page / 2 + 200, 1, 4), 1);
    /* a second tracker cannot register memory the first one holds: it trusts nothing there */
    {
        sal_dirty_t *e = NULL;
        CU_ASSERT_EQUAL_FATAL(sal_dirty_open(&e), SAL_OK);
        CU_ASSERT_EQUAL(sal_dirty_scan(e, r, 2, 5), SAL_OK);
        CU_ASSERT_EQUAL(sal_dirty_clean_since(e, p + 16 * page, page, 5), 0);
        sal_dirty_close(e);
    }
    sal_dirty_close(d);
    munmap(p, NPAGES * page);
}

/* 4 chunks of 1 MiB (128 rows of 1024 doubles each) and a last one of 10 rows. */
enum { ROWS = 4 * 128 + 10, COLS = 1024, CHUNK_ROWS = 128 };
#define CHUNK_BYTES ((int64_t)CHUNK_ROWS * COLS * 8)
#define DATA_BYTES  ((size_t)ROWS * COLS * 8)

static int write_pages(const char *out, const char *old, sal_region_t *r, int64_t id,
                       const sal_dirty_t *d, int64_t since, int64_t *skipped)
{
    sal_rank_meta_t m = {.id = id, .step = id, .rank = 0, .nranks = 1};
    sal_h5_write_opts_t o = {.reuse = old, .differential = 1, .dirty = d, .dirty_since = since};
    int rc = sal_h5_write_rank_opts(out, &m, r, 1, NULL, &o);

    *skipped = o.skipped;
    return rc;
}

/* Sets the hash the file records for chunk k of dataset "u" to a wrong value. */
static void spoil_hash(const char *path, int k)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), ds = H5Dopen2(f, "u", H5P_DEFAULT);
    hid_t a = H5Aopen(ds, "chunk_hashes", H5P_DEFAULT);
    int64_t h[5];

    CU_ASSERT_FATAL(f >= 0 && ds >= 0 && a >= 0);
    CU_ASSERT_EQUAL(H5Aread(a, H5T_NATIVE_INT64, h), 0);
    h[k] ^= 1;
    CU_ASSERT_EQUAL(H5Awrite(a, H5T_NATIVE_INT64, h), 0);
    H5Aclose(a);
    H5Dclose(ds);
    H5Fclose(f);
}

/* A chunk whose memory was not written is left unread: a (deliberately) wrong hash the reused file
 * records for it is not even looked at, where hashing would have rewritten the chunk. So the test
 * tells the two ways apart, and shows that the tracker is trusted only for the checkpoint the
 * reused file holds. */
static void test_rank_file_with_pages(void)
{
    sal_dirty_t *d = open_tracker();
    double *v = mmap(NULL, DATA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double *w = malloc(DATA_BYTES);
    char a[PATH_MAX], b[PATH_MAX];
    int64_t skipped = -1;
    sal_rank_meta_t m = {.id = 3, .step = 3, .rank = 0, .nranks = 1};
    sal_region_t r, rr;

    CU_ASSERT_FATAL(v != MAP_FAILED && w);
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++)
        v[i] = (double)i / 7.0;
    set_region(&r, "u", v, SAL_DOUBLE, 2, (int64_t[]){ROWS, COLS}, (int64_t[]){0, 0},
               (int64_t[]){ROWS, COLS});
    path_of(a, "pages.a.h5");
    path_of(b, "pages.b.h5");
    if (d)
        CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 1), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(write_pages(a, NULL, &r, 1, d, -1, &skipped), SAL_OK);
    spoil_hash(a, 2);
    v[(size_t)CHUNK_ROWS * COLS + 5] += 1.0; /* chunk 1 changes */
    if (d)
        CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 2), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(write_pages(b, a, &r, 2, d, 1, &skipped), SAL_OK);
    /* with the tracker: chunks 0, 2, 3 and the last one left; hashing: chunk 2 rewritten too */
    CU_ASSERT_EQUAL(skipped, (d ? 3 : 2) * CHUNK_BYTES + 10 * COLS * 8);
    rr = r;
    rr.base = w;
    m.id = m.step = 2;
    CU_ASSERT_EQUAL(sal_h5_read_rank(b, &m, &rr, 1), SAL_OK);
    CU_ASSERT_EQUAL(memcmp(v, w, DATA_BYTES), 0);
    /* the reused file is not the checkpoint the tracker is asked about: every chunk hashed, and
     * chunk 2's wrong hash (b carried it over from a, as the hash of data it did not read) makes
     * it rewritten */
    if (d) {
        CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 3), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(write_pages(a, b, &r, 3, d, 1, &skipped), SAL_OK);
        CU_ASSERT_EQUAL(skipped, 4 * CHUNK_BYTES + 10 * COLS * 8 - CHUNK_BYTES);
        m.id = m.step = 3;
        CU_ASSERT_EQUAL(sal_h5_read_rank(a, &m, &rr, 1), SAL_OK);
        CU_ASSERT_EQUAL(memcmp(v, w, DATA_BYTES), 0);
        sal_dirty_close(d);
    }
    munmap(v, DATA_BYTES);
    free(w);
}

/* Makes the directories of path (relative to root) and, with file, an empty file there. */
static void make(const char *root, const char *path, int file)
{
    char p[PATH_MAX];
    int n = snprintf(p, sizeof(p), "%s/%s", root, path);

    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof(p));
    for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        (void)mkdir(p, 0700);
        *s = '/';
    }
    if (file) {
        FILE *f = fopen(p, "w");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fclose(f);
    } else {
        CU_ASSERT_EQUAL(mkdir(p, 0700), 0);
    }
}

/* The host's devices that write memory behind the page tables, under a pretend root each. */
static void test_devices_block(void)
{
    static const char *const blocking[][2] = {
        {"sys/class/infiniband/mlx5_0", "d"},
        {"dev/xpmem", "f"},
        {"dev/cxi0", "f"},
        {"dev/hfi1_0", "f"},
        {"dev/nvidiactl", "f"},
        {"dev/kfd", "f"},
        {"dev/dri/renderD128", "f"},
    };
    char root[PATH_MAX], what[PATH_MAX] = "";

    path_of(root, "host0");
    CU_ASSERT_EQUAL_FATAL(mkdir(root, 0700), 0);
    make(root, "dev/dri/card0", 1); /* a display, no render node: not a blocker */
    make(root, "dev/null", 1);
    make(root, "sys/class/net/eth0", 0);
    CU_ASSERT_EQUAL(sal_dirty_device_blocks(root, what, sizeof(what)), 0);
    for (size_t i = 0; i < sizeof(blocking) / sizeof(blocking[0]); i++) {
        char r[PATH_MAX + 32];
        snprintf(r, sizeof(r), "%s.%zu", root, i + 1);
        CU_ASSERT_EQUAL_FATAL(mkdir(r, 0700), 0);
        make(r, blocking[i][0], blocking[i][1][0] == 'f');
        what[0] = '\0';
        CU_ASSERT_EQUAL(sal_dirty_device_blocks(r, what, sizeof(what)), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(what, blocking[i][0]));
    }
}

/* Memory pinned for a device (here io_uring's fixed buffers, which the kernel accounts as VmPin
 * like RDMA registrations) can be written by DMA without a page fault: from then on the tracker
 * trusts nothing, and says so. Last test of the program: the pin outlives it. */
static void test_pinned_memory_ends_tracking(void)
{
    sal_dirty_t *d = open_tracker();
    char *p = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct io_uring_params params;
    struct iovec iov = {p, NPAGES * page};
    sal_region_t r;
    int ring;

    CU_ASSERT_FATAL(p != MAP_FAILED);
    memset(p, 1, NPAGES * page);
    set_region(&r, "m", p, SAL_CHAR, 1, (int64_t[]){NPAGES * (int64_t)page}, (int64_t[]){0},
               (int64_t[]){NPAGES * (int64_t)page});
    if (!d) {
        munmap(p, NPAGES * page);
        return;
    }
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 1), SAL_OK);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p, NPAGES * page, 1), 1);
    memset(&params, 0, sizeof(params));
    ring = (int)syscall(__NR_io_uring_setup, 4, &params);
    if (ring < 0)
        fprintf(stderr, "io_uring_setup: %s: cannot pin memory for this test\n", strerror(errno));
    CU_ASSERT_FATAL(ring >= 0);
    CU_ASSERT_EQUAL_FATAL(syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1),
                          0);
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 2), SAL_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "pinned"));
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p, page, 1), 0);
    CU_ASSERT_EQUAL(sal_dirty_scan(d, &r, 1, 3), SAL_ERR_UNSUPPORTED);
    CU_ASSERT_EQUAL(sal_dirty_clean_since(d, p, page, 3), 0);
    close(ring);
    sal_dirty_close(d);
    munmap(p, NPAGES * page);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"writes of every kind are seen", test_writes_are_seen},
        {"regions that change are tracked anew", test_regions_change},
        {"rank file with written-page tracking", test_rank_file_with_pages},
        {"devices that write unseen block it", test_devices_block},
        {"pinned memory ends the tracking", test_pinned_memory_ends_tracking},
    };

    page = (size_t)sysconf(_SC_PAGESIZE);
    return SAL_UNIT_MAIN("dirty", suite_init, suite_clean, tests);
}
