/* Whole files mapped into memory for the redundancy levels (fmap.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fmap.h"
#include "fsutil.h"
#include "log.h"

#ifndef MAP_POPULATE
#define MAP_POPULATE 0 /* only a hint: the pages are then faulted in on first use */
#endif

static void init(sal_fmap_t *m)
{
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

/* Maps fd's first m->len bytes with prot (flags: SAL_FMAP_*); 0 when the system cannot (the caller
 * falls back). */
static int map_fd(sal_fmap_t *m, int prot, int flags)
{
    int populate = (flags & SAL_FMAP_LAZY) ? 0 : MAP_POPULATE;
    void *p = mmap(NULL, m->len, prot, MAP_SHARED | populate, m->fd, 0);

    if (p == MAP_FAILED)
        return 0;
    m->data = p;
    m->mapped = 1;
    return 1;
}

void sal_fmap_populate(sal_fmap_t *m, int write)
{
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
    if (m->mapped && m->len > 0)
        madvise(m->data, m->len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#else
    (void)m;
    (void)write;
#endif
}

/* Reads all of m->fd into heap memory (a file system that cannot map files). */
static int read_heap(sal_fmap_t *m)
{
    size_t off = 0;

    m->data = malloc(m->len);
    if (!m->data)
        return sal_error(SAL_ERR_NOMEM, "%zu bytes for %s", m->len, m->path);
    while (off < m->len) {
        ssize_t n = pread(m->fd, m->data + off, m->len - off, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return sal_error(SAL_ERR_IO, "read %s: %s", m->path,
                             n < 0 ? strerror(errno) : "the file shrank while it was read");
        off += (size_t)n;
    }
    return SAL_OK;
}

int sal_fmap_read(const char *path, int flags, sal_fmap_t *m)
{
    struct stat st;
    int rc;

    init(m);
    rc = sal_path_join(m->path, sizeof(m->path), "%s", path);
    if (rc != SAL_OK)
        return rc;
    m->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (m->fd < 0)
        return sal_error(SAL_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    m->live = 1;
    if (fstat(m->fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = sal_error(SAL_ERR_IO, "%s is not a regular file", path);
    else if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX)
        rc = sal_error(SAL_ERR_IO, "%s is too large to map", path);
    m->len = rc == SAL_OK ? (size_t)st.st_size : 0;
    if (rc == SAL_OK && m->len > 0 && !map_fd(m, PROT_READ, flags))
        rc = read_heap(m);
    if (rc != SAL_OK)
        sal_fmap_close(m);
    return rc;
}

/* Reserves m->len bytes of m->fd and maps them (flags: SAL_FMAP_*), or takes a heap buffer where
 * the file system cannot reserve space or map files. SAL_ERR_IO when there is no room. */
static int reserve_and_map(sal_fmap_t *m, int flags)
{
    int err = posix_fallocate(m->fd, 0, (off_t)m->len);

    if (err == ENOSPC || err == EDQUOT || err == EFBIG)
        return sal_error(SAL_ERR_IO,
                         "cannot write %s: %s (%zu bytes; free space there, or point ckpt_dir "
                         "elsewhere)",
                         m->path, strerror(err), m->len);
    if (err == 0 && map_fd(m, PROT_READ | PROT_WRITE, flags))
        return SAL_OK;
    m->data = malloc(m->len);
    return m->data ? SAL_OK : sal_error(SAL_ERR_NOMEM, "%zu bytes for %s", m->len, m->path);
}

/* Takes over the file reuse as m->tmp (opened for writing): a regular file of this user with one
 * link. 0 when it cannot (nothing changed, or reuse is gone). */
static int take_over(const char *reuse, sal_fmap_t *m)
{
    struct stat st;

    if (lstat(reuse, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_nlink != 1 || rename(reuse, m->tmp) != 0)
        return 0;
    m->fd = open(m->tmp, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (m->fd >= 0 && ftruncate(m->fd, (off_t)m->len) == 0)
        return 1;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    unlink(m->tmp);
    return 0;
}

int sal_fmap_create(const char *path, size_t len, const char *reuse, int flags, sal_fmap_t *m)
{
    int rc;

    init(m);
    m->len = len;
    rc = sal_path_join(m->path, sizeof(m->path), "%s", path);
    if (rc == SAL_OK)
        rc = sal_tmp_name(path, m->tmp, sizeof(m->tmp));
    if (rc != SAL_OK)
        return rc;
    unlink(m->tmp); /* a leftover of a crashed process that had our pid */
    m->reused = reuse && take_over(reuse, m);
    if (!m->reused)
        m->fd = open(m->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (m->fd < 0)
        return sal_error(SAL_ERR_IO, "create %s: %s", m->tmp, strerror(errno));
    m->live = m->created = 1;
    rc = fchmod(m->fd, 0600) == 0
             ? SAL_OK
             : sal_error(SAL_ERR_IO, "cannot set mode 0600 on %s: %s", m->tmp, strerror(errno));
    if (rc == SAL_OK && len > 0)
        rc = reserve_and_map(m, flags);
    if (rc != SAL_OK)
        sal_fmap_close(m);
    return rc;
}

int sal_fmap_commit(sal_fmap_t *m)
{
    char dir[PATH_MAX];
    int rc = SAL_OK;

    if (!m->live || !m->created)
        return sal_error(SAL_ERR_INVALID_ARG, "%s: not a file being created", m->path);
    if (m->mapped) {
        munmap(m->data, m->len);
        m->mapped = 0;
        m->data = NULL;
    } else if (m->len > 0) {
        rc = sal_write_all(m->fd, m->tmp, m->data, m->len);
    }
    if (rc == SAL_OK && fsync(m->fd) != 0)
        rc = sal_error(SAL_ERR_IO, "fsync %s: %s", m->tmp, strerror(errno));
    if (close(m->fd) != 0 && rc == SAL_OK)
        rc = sal_error(SAL_ERR_IO, "close %s: %s", m->tmp, strerror(errno));
    m->fd = -1;
    if (rc == SAL_OK && rename(m->tmp, m->path) != 0)
        rc = sal_error(SAL_ERR_IO, "rename %s to %s: %s", m->tmp, m->path, strerror(errno));
    if (rc == SAL_OK) {
        m->created = 0; /* published: nothing to remove */
        rc = sal_parent_dir(m->path, dir, sizeof(dir));
        if (rc == SAL_OK)
            rc = sal_fsync_dir(dir);
    }
    sal_fmap_close(m);
    return rc;
}

void sal_fmap_close(sal_fmap_t *m)
{
    if (!m->live)
        return;
    if (m->mapped)
        munmap(m->data, m->len);
    else
        free(m->data);
    if (m->fd >= 0)
        close(m->fd);
    if (m->created)
        unlink(m->tmp);
    m->data = NULL;
    m->fd = -1;
    m->live = m->mapped = m->created = m->reused = 0;
}
