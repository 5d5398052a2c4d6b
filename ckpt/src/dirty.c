/*
 * Written-page tracking with asynchronous userfaultfd write protection and PAGEMAP_SCAN (dirty.h).
 * The memory tracked is the union of the regions' pages, as spans of whole pages; each page has
 * the id of the last checkpoint whose scan found it written (or that registered it).
 */
#include "dirty.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "log.h"

#ifdef __linux__
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

/* The kernel interface of Linux 6.7 (include/uapi/linux/fs.h and userfaultfd.h), for C libraries
 * whose headers predate it. The values are the kernel's ABI. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#define UFFD_FEATURE_WP_ASYNC       (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WRITTEN       (1 << 1)
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
struct page_region {
    __u64 start, end, categories;
};
struct pm_scan_arg {
    __u64 size, flags, start, end, walk_end, vec, vec_len, max_pages;
    __u64 category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif
#define SAL_HAVE_UFFD_WP 1
#endif

struct span {
    uintptr_t lo, hi; /* page-aligned, lo < hi */
    int64_t *last;    /* per page: the checkpoint that last found it written */
    int tracked;      /* registered and protected: last[] is trusted */
};

struct sal_dirty {
    int uffd, pagemap;
    int pinned; /* the process was seen with pinned memory: nothing is trusted any more */
    uintptr_t page;
    struct span *spans;
    int nspans;
};

enum { SCAN_VEC = 512 }; /* written runs returned by one PAGEMAP_SCAN */

/* Whether directory dir has an entry whose name begins with prefix ("" : any); its path in what. */
static int has_entry(const char *dir, const char *prefix, char *what, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(what, size, "%s/%s", dir, e->d_name);
        found = 1;
    }
    (void)closedir(d);
    return found;
}

int sal_dirty_device_blocks(const char *root, char *what, size_t size)
{
    /* directory under root, prefix of an entry that is such a device */
    static const char *const devices[][2] = {
        {"sys/class/infiniband", ""}, /* verbs: InfiniBand, RoCE, iWARP, EFA, Omni-Path */
        {"dev", "xpmem"},             /* a peer's mapping of this process's pages */
        {"dev", "cxi"},               /* HPE Slingshot */
        {"dev", "hfi1"},              /* Omni-Path's own driver */
        {"dev", "nvidia"},            /* NVIDIA GPUs: copies into pinned host memory */
        {"dev", "kfd"},               /* AMD ROCm GPUs */
        {"dev/dri", "renderD"},       /* other GPUs (DRM render nodes) */
    };
    char dir[PATH_MAX];

    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        snprintf(dir, sizeof(dir), "%s/%s", root, devices[i][0]);
        if (has_entry(dir, devices[i][1], what, size))
            return 1;
    }
    return 0;
}

/* The kB of this process's memory pinned for devices (VmPin of /proc/self/status: RDMA
 * registrations, io_uring fixed buffers, ...), 0 where it cannot be read. */
static long long pinned_kb(void)
{
    char line[256];
    long long kb = 0;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmPin:", 6) == 0) {
            kb = strtoll(line + 6, NULL, 10);
            break;
        }
    (void)fclose(f);
    return kb;
}

static void free_spans(sal_dirty_t *d)
{
    for (int i = 0; i < d->nspans; i++)
        free(d->spans[i].last);
    free(d->spans);
    d->spans = NULL;
    d->nspans = 0;
}

#ifdef SAL_HAVE_UFFD_WP

int sal_dirty_open(sal_dirty_t **out)
{
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
    struct pm_scan_arg probe = {0};
    char path[PATH_MAX];
    sal_dirty_t *d;
    long ps = sysconf(_SC_PAGESIZE);
    int uffd, pm;

    *out = NULL;
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (uffd < 0)
        return sal_error(SAL_ERR_UNSUPPORTED, "userfaultfd: %s", strerror(errno));
    if (ioctl(uffd, UFFDIO_API, &api) != 0) {
        int e = errno;
        (void)close(uffd);
        return sal_error(SAL_ERR_UNSUPPORTED,
                         "userfaultfd without asynchronous write protection (Linux >= 6.7): %s",
                         strerror(e));
    }
    if (sal_dirty_device_blocks("", path, sizeof(path))) {
        (void)close(uffd);
        return sal_error(SAL_ERR_UNSUPPORTED,
                         "%s can write memory behind the page tables, where no write is seen",
                         path);
    }
    pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    /* A known ioctl refuses a zero size with EINVAL; a kernel without it answers ENOTTY. */
    if (pm < 0 || (ioctl(pm, PAGEMAP_SCAN, &probe) != 0 && errno == ENOTTY)) {
        int e = errno;
        (void)close(uffd);
        if (pm >= 0)
            (void)close(pm);
        return sal_error(SAL_ERR_UNSUPPORTED, "/proc/self/pagemap without PAGEMAP_SCAN: %s",
                         strerror(e));
    }
    d = calloc(1, sizeof(*d));
    if (!d) {
        (void)close(uffd);
        (void)close(pm);
        return sal_error(SAL_ERR_NOMEM, "written-page tracker");
    }
    d->uffd = uffd;
    d->pagemap = pm;
    d->page = ps > 0 ? (uintptr_t)ps : 4096;
    *out = d;
    return SAL_OK;
}

static void unregister(sal_dirty_t *d, struct span *s)
{
    struct uffdio_range r = {.start = s->lo, .len = s->hi - s->lo};

    if (s->tracked)
        (void)ioctl(d->uffd, UFFDIO_UNREGISTER, &r);
    s->tracked = 0;
}

/* Registers and protects span s; every page counts as written at id. A span the kernel will not
 * register (memory another tracker holds, a mapping it cannot protect) stays untracked. */
static void track(sal_dirty_t *d, struct span *s, int64_t id)
{
    struct uffdio_register reg = {.range = {.start = s->lo, .len = s->hi - s->lo},
                                  .mode = UFFDIO_REGISTER_MODE_WP};
    struct uffdio_writeprotect wp = {.range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP};

    for (uintptr_t p = 0; p < (s->hi - s->lo) / d->page; p++)
        s->last[p] = id;
    if (ioctl(d->uffd, UFFDIO_REGISTER, &reg) != 0) {
        SAL_LOG_D("written-page tracking: cannot register %#lx-%#lx (%s): its chunks are hashed",
                  (unsigned long)s->lo, (unsigned long)s->hi, strerror(errno));
        return;
    }
    s->tracked = 1;
    if (ioctl(d->uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
        SAL_LOG_D("written-page tracking: cannot protect %#lx-%#lx (%s): its chunks are hashed",
                  (unsigned long)s->lo, (unsigned long)s->hi, strerror(errno));
        unregister(d, s);
    }
}

/* The pages of s written since its last scan get id, and are protected again. -1 when the kernel
 * refuses (the memory is no longer the registered mapping). */
static int scan_span(sal_dirty_t *d, struct span *s, int64_t id)
{
    struct page_region v[SCAN_VEC];
    uintptr_t at = s->lo;

    while (at < s->hi) {
        struct pm_scan_arg a = {.size = sizeof(a),
                                .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                                .start = at,
                                .end = s->hi,
                                .vec = (uintptr_t)v,
                                .vec_len = SCAN_VEC,
                                .category_mask = PAGE_IS_WRITTEN,
                                .return_mask = PAGE_IS_WRITTEN};
        long n = ioctl(d->pagemap, PAGEMAP_SCAN, &a);

        if (n < 0 || a.walk_end <= at)
            return -1;
        for (long i = 0; i < n; i++)
            for (uintptr_t p = v[i].start; p < v[i].end && p < s->hi; p += d->page)
                if (p >= s->lo)
                    s->last[(p - s->lo) / d->page] = id;
        at = (uintptr_t)a.walk_end;
    }
    return 0;
}

void sal_dirty_close(sal_dirty_t *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nspans; i++)
        unregister(d, &d->spans[i]);
    free_spans(d);
    (void)close(d->uffd);
    (void)close(d->pagemap);
    free(d);
}

#else /* no userfaultfd */

int sal_dirty_open(sal_dirty_t **out)
{
    *out = NULL;
    return sal_error(SAL_ERR_UNSUPPORTED, "written-page tracking needs Linux >= 6.7");
}

void sal_dirty_close(sal_dirty_t *d)
{
    if (d)
        free_spans(d);
    free(d);
}

static void track(sal_dirty_t *d, struct span *s, int64_t id)
{
    (void)d, (void)s, (void)id;
}

static void unregister(sal_dirty_t *d, struct span *s)
{
    (void)d;
    s->tracked = 0;
}

static int scan_span(sal_dirty_t *d, struct span *s, int64_t id)
{
    (void)d, (void)s, (void)id;
    return -1;
}

#endif

static int by_lo(const void *a, const void *b)
{
    const struct span *x = a, *y = b;

    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The union of the regions' pages, sorted, in *out (n entries, last[] not allocated). */
static int wanted_spans(const sal_dirty_t *d, const sal_region_t *regions, int nregions,
                        struct span **out, int *n)
{
    struct span *w = calloc((size_t)(nregions > 0 ? nregions : 1), sizeof(*w));
    int k = 0;

    if (!w)
        return sal_error(SAL_ERR_NOMEM, "written-page tracker: %d regions", nregions);
    for (int i = 0; i < nregions; i++) {
        uintptr_t b = (uintptr_t)regions[i].base;
        size_t len = (size_t)sal_region_elems(&regions[i]) * sal_type_size(regions[i].type);

        if (!regions[i].base || len == 0)
            continue;
        w[k].lo = b & ~(d->page - 1);
        w[k].hi = (b + len + d->page - 1) & ~(d->page - 1);
        k++;
    }
    qsort(w, (size_t)k, sizeof(*w), by_lo);
    *n = 0;
    for (int i = 0; i < k; i++) {
        if (*n > 0 && w[i].lo <= w[*n - 1].hi) {
            if (w[i].hi > w[*n - 1].hi)
                w[*n - 1].hi = w[i].hi;
        } else {
            w[(*n)++] = w[i];
        }
    }
    *out = w;
    return SAL_OK;
}

static int same_spans(const sal_dirty_t *d, const struct span *w, int n)
{
    if (n != d->nspans)
        return 0;
    for (int i = 0; i < n; i++)
        if (w[i].lo != d->spans[i].lo || w[i].hi != d->spans[i].hi)
            return 0;
    return 1;
}

int sal_dirty_scan(sal_dirty_t *d, const sal_region_t *regions, int nregions, int64_t id)
{
    struct span *w = NULL;
    int n = 0, rc;

    long long pinned;

    if (!d || (nregions > 0 && !regions))
        return sal_error(SAL_ERR_INVALID_ARG, "written-page tracker: NULL argument");
    pinned = d->pinned ? 1 : pinned_kb();
    if (pinned > 0) { /* a device may have written pages since, unseen: trust nothing again */
        for (int i = 0; i < d->nspans; i++)
            unregister(d, &d->spans[i]);
        d->pinned = 1;
        return sal_error(SAL_ERR_UNSUPPORTED,
                         "this process has pinned memory (VmPin %lld kB: RDMA, io_uring, ...), "
                         "which devices write unseen: written-page tracking is off",
                         pinned);
    }
    rc = wanted_spans(d, regions, nregions, &w, &n);
    if (rc != SAL_OK)
        return rc;
    if (!same_spans(d, w, n)) { /* regions added, removed or moved: track them anew */
        for (int i = 0; i < d->nspans; i++)
            unregister(d, &d->spans[i]);
        free_spans(d);
        for (int i = 0; i < n; i++) {
            size_t pages = (size_t)((w[i].hi - w[i].lo) / d->page);
            w[i].last = malloc(pages * sizeof(int64_t));
            if (!w[i].last) {
                for (int j = 0; j < i; j++)
                    free(w[j].last);
                free(w);
                return sal_error(SAL_ERR_NOMEM, "written-page tracker: %zu pages", pages);
            }
        }
        d->spans = w;
        d->nspans = n;
        for (int i = 0; i < n; i++)
            track(d, &d->spans[i], id);
        return SAL_OK;
    }
    free(w);
    for (int i = 0; i < d->nspans; i++) {
        struct span *s = &d->spans[i];
        if (!s->tracked || scan_span(d, s, id) != 0) {
            /* never registered, or the mapping changed under it (unmapped and mapped again):
             * nothing about its past is known */
            unregister(d, s);
            track(d, s, id);
        }
    }
    return SAL_OK;
}

int sal_dirty_clean_since(const sal_dirty_t *d, const void *addr, size_t len, int64_t since)
{
    uintptr_t a = (uintptr_t)addr;

    if (!d || since < 0 || len == 0)
        return 0;
    for (int i = 0; i < d->nspans; i++) {
        const struct span *s = &d->spans[i];
        if (a < s->lo || a + len > s->hi)
            continue;
        if (!s->tracked)
            return 0;
        for (uintptr_t p = (a - s->lo) / d->page; p <= (a + len - 1 - s->lo) / d->page; p++)
            if (s->last[p] > since)
                return 0;
        return 1;
    }
    return 0;
}
