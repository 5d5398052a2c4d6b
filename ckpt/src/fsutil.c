/* File-system helpers: mkdir -p, writability probe, atomic replace, bounded reads, rm -r. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "log.h"

/* Directories nested deeper than this below the argument of sal_remove_tree are refused. */
#define SAL_REMOVE_DEPTH_MAX 128

/* Creates one component; an existing directory (or a symlink to one) is accepted, whatever error
 * mkdir reports for it (EEXIST, or EROFS/EACCES on some file systems). */
static int mkdir_one(const char *path, mode_t mode)
{
    struct stat st;
    int err;

    if (mkdir(path, mode) == 0)
        return SAL_OK;
    err = errno;
    if (stat(path, &st) != 0)
        return sal_error(SAL_ERR_IO, "mkdir %s: %s", path, strerror(err));
    if (!S_ISDIR(st.st_mode))
        return sal_error(SAL_ERR_IO,
                         "%s exists and is not a directory; remove it or choose another "
                         "directory",
                         path);
    return SAL_OK;
}

int sal_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n;
    int rc;

    if (!path || !path[0])
        return sal_error(SAL_ERR_INVALID_ARG, "empty directory path");
    n = strlen(path);
    if (n >= sizeof(buf))
        return sal_error(SAL_ERR_INVALID_ARG, "directory path longer than %d bytes: %.64s...",
                         PATH_MAX - 1, path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        rc = mkdir_one(buf, mode);
        if (rc != SAL_OK)
            return rc;
        if (i < n)
            buf[i] = '/';
    }
    return SAL_OK;
}

/* Creates and removes a uniquely named file in dir: access() says yes to root on read-only mounts.
 */
static int probe_create(const char *dir)
{
    char path[PATH_MAX];
    int fd = -1, rc;

    for (unsigned attempt = 0; fd < 0 && attempt < 16; attempt++) {
        rc =
            sal_path_join(path, sizeof(path), "%s/.sal-probe.%ld.%u", dir, (long)getpid(), attempt);
        if (rc != SAL_OK)
            return rc;
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return sal_error(SAL_ERR_IO, "cannot create files in %s: %s", dir, strerror(errno));
    }
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "cannot create a probe file in %s: names in use", dir);
    close(fd);
    if (unlink(path) != 0)
        return sal_error(SAL_ERR_IO, "unlink %s: %s", path, strerror(errno));
    return SAL_OK;
}

int sal_dir_writable(const char *path)
{
    struct stat st;

    if (!path || !path[0])
        return sal_error(SAL_ERR_INVALID_ARG, "empty directory path");
    if (stat(path, &st) != 0)
        return sal_error(SAL_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sal_error(SAL_ERR_IO, "%s is not a directory", path);
    if (access(path, W_OK | X_OK) != 0)
        return sal_error(SAL_ERR_IO, "%s is not writable: %s", path, strerror(errno));
    return probe_create(path);
}

int sal_fsync_dir(const char *path)
{
    int fd, rc = SAL_OK;

    if (!path || !path[0])
        return sal_error(SAL_ERR_INVALID_ARG, "empty directory path");
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "open directory %s: %s", path, strerror(errno));
    /* EINVAL: the file system does not support syncing directories; there is nothing more to do. */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = sal_error(SAL_ERR_IO, "fsync directory %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int sal_parent_dir(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return sal_path_join(buf, size, ".");
    if (slash == path)
        return sal_path_join(buf, size, "/");
    return sal_path_join(buf, size, "%.*s", (int)(slash - path), path);
}

static int write_error(const char *path, int err)
{
    if (err == ENOSPC || err == EDQUOT)
        return sal_error(SAL_ERR_IO,
                         "write %s: the file system is full (%s); free space or choose "
                         "another directory",
                         path, strerror(err));
    return sal_error(SAL_ERR_IO, "write %s: %s", path, strerror(err));
}

int sal_tmp_name(const char *path, char *buf, size_t size)
{
    return sal_path_join(buf, size, "%s.tmp.%ld", path, (long)getpid());
}

int sal_write_all(int fd, const char *path, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return write_error(path, errno);
        p += w;
        len -= (size_t)w;
    }
    return SAL_OK;
}

/* sal_write_all, then fsync. */
static int write_all(int fd, const char *path, const void *data, size_t len)
{
    int rc = sal_write_all(fd, path, data, len);

    if (rc == SAL_OK && fsync(fd) != 0)
        return write_error(path, errno);
    return SAL_OK;
}

int sal_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int fd, rc;

    if (!path || !path[0] || (!data && len > 0))
        return sal_error(SAL_ERR_INVALID_ARG, "empty path or NULL data");
    rc = sal_tmp_name(path, tmp, sizeof(tmp));
    if (rc == SAL_OK)
        rc = sal_parent_dir(path, dir, sizeof(dir));
    if (rc != SAL_OK)
        return rc;
    unlink(tmp); /* a leftover of a crashed process that had our pid */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "create %s: %s", tmp, strerror(errno));
    rc = write_all(fd, tmp, data, len);
    if (close(fd) != 0 && rc == SAL_OK)
        rc = write_error(tmp, errno);
    if (rc != SAL_OK)
        goto out_unlink_tmp;
    if (rename(tmp, path) != 0) {
        rc = sal_error(SAL_ERR_IO, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto out_unlink_tmp;
    }
    return sal_fsync_dir(dir);

out_unlink_tmp:
    unlink(tmp);
    return rc;
}

/* Reads fd to its end into a growing buffer; SAL_ERR_CORRUPT once more than max bytes arrive. */
static int read_all(int fd, const char *path, size_t hint, size_t max, char **data, size_t *len)
{
    size_t cap = (hint < max ? hint : max) + 1, got = 0;
    char *buf = malloc(cap + 1), *grown;

    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "%zu bytes to read %s", cap + 1, path);
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return sal_error(SAL_ERR_IO, "read %s: %s", path, strerror(errno));
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > max) {
            free(buf);
            return sal_error(SAL_ERR_CORRUPT, "%s is larger than the limit of %zu bytes", path,
                             max);
        }
        if (got == cap) {
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            grown = realloc(buf, cap + 1);
            if (!grown) {
                free(buf);
                return sal_error(SAL_ERR_NOMEM, "%zu bytes to read %s", cap + 1, path);
            }
            buf = grown;
        }
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return SAL_OK;
}

int sal_read_file(const char *path, size_t max, char **data, size_t *len)
{
    struct stat st;
    int fd, rc;

    if (!path || !data || !len)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL path or output");
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat rejects it afterwards. */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return sal_error(SAL_ERR_IO, "%s is a symbolic link; expected a regular file", path);
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = sal_error(SAL_ERR_IO, "stat %s: %s", path, strerror(errno));
        goto out_close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = sal_error(SAL_ERR_IO, "%s is not a regular file", path);
        goto out_close_fd;
    }
    if ((unsigned long long)st.st_size > (unsigned long long)max) {
        rc = sal_error(SAL_ERR_CORRUPT, "%s has %lld bytes, more than the limit of %zu", path,
                       (long long)st.st_size, max);
        goto out_close_fd;
    }
    rc = read_all(fd, path, (size_t)st.st_size, max, data, len);

out_close_fd:
    close(fd);
    return rc;
}

/* Path of the entry being removed, kept for messages; one buffer shared by every level. top is the
 * argument of sal_remove_tree, apart from path because path changes during the walk. */
typedef struct remove_walk {
    char top[PATH_MAX];
    char path[PATH_MAX];
    size_t len;
} remove_walk_t;

static int remove_at(int dirfd, const char *name, remove_walk_t *w, int depth);

/* Removes every entry of the open directory fd (consumed). */
/* NOLINTNEXTLINE(misc-no-recursion): at most SAL_REMOVE_DEPTH_MAX levels deep (remove_at) */
static int remove_entries(int fd, remove_walk_t *w, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;
    size_t base = w->len;
    int rc = SAL_OK;

    if (!d) {
        close(fd);
        return sal_error(SAL_ERR_IO, "opendir %s: %s", w->path, strerror(errno));
    }
    while (rc == SAL_OK && (errno = 0, e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = sal_path_join(w->path + base, sizeof(w->path) - base, "/%s", e->d_name);
        if (rc != SAL_OK)
            break;
        w->len = base + strlen(w->path + base);
        rc = remove_at(dirfd(d), e->d_name, w, depth + 1);
        w->len = base;
        w->path[base] = '\0';
    }
    if (rc == SAL_OK && errno != 0)
        rc = sal_error(SAL_ERR_IO, "readdir %s: %s", w->path, strerror(errno));
    closedir(d);
    return rc;
}

/* Removes name (relative to dirfd) without following symlinks; a missing entry is fine. */
/* NOLINTNEXTLINE(misc-no-recursion): fails beyond SAL_REMOVE_DEPTH_MAX levels */
static int remove_at(int dirfd, const char *name, remove_walk_t *w, int depth)
{
    int fd, rc, unlink_errno;

    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return SAL_OK;
    unlink_errno = errno;
    if (unlink_errno != EISDIR && unlink_errno != EPERM)
        return sal_error(SAL_ERR_IO, "unlink %s: %s", w->path, strerror(unlink_errno));
    if (depth >= SAL_REMOVE_DEPTH_MAX)
        return sal_error(SAL_ERR_IO, "%s: directories nested deeper than %d levels", w->path,
                         SAL_REMOVE_DEPTH_MAX);
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) /* removed meanwhile by another process */
        return SAL_OK;
    if (fd < 0 && errno == ENOTDIR) /* EPERM was about a file, not a directory */
        return sal_error(SAL_ERR_IO, "unlink %s: %s", w->path, strerror(unlink_errno));
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "open directory %s: %s", w->path, strerror(errno));
    rc = remove_entries(fd, w, depth);
    if (rc == SAL_OK && unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = sal_error(SAL_ERR_IO, "rmdir %s: %s", w->path, strerror(errno));
    return rc;
}

int sal_remove_tree(const char *path)
{
    remove_walk_t *w;
    int rc;

    if (!path || !path[0])
        return sal_error(SAL_ERR_INVALID_ARG, "empty path to remove");
    w = malloc(sizeof(*w));
    if (!w)
        return sal_error(SAL_ERR_NOMEM, "removing %s", path);
    rc = sal_path_join(w->path, sizeof(w->path), "%s", path);
    if (rc != SAL_OK)
        goto out_free_walk;
    /* A trailing slash would make the kernel follow a final symlink. */
    w->len = strlen(w->path);
    while (w->len > 1 && w->path[w->len - 1] == '/')
        w->path[--w->len] = '\0';
    if (strcmp(w->path, "/") == 0) {
        rc = sal_error(SAL_ERR_INVALID_ARG, "refusing to remove /");
        goto out_free_walk;
    }
    memcpy(w->top, w->path, w->len + 1);
    rc = remove_at(AT_FDCWD, w->top, w, 0);

out_free_walk:
    free(w);
    return rc;
}

int sal_path_join(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (!buf || size == 0 || !fmt)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL path buffer or format");
    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return sal_error(SAL_ERR_INVALID_ARG, "path longer than %zu bytes (format \"%s\")",
                         size - 1, fmt);
    }
    return SAL_OK;
}

int sal_scan_int(const char *line, const char *key, int *v)
{
    size_t k = strlen(key);
    char *end;
    long x;

    if (strncmp(line, key, k) != 0)
        return 0;
    errno = 0;
    x = strtol(line + k, &end, 10);
    if (end == line + k || errno == ERANGE || x < INT_MIN || x > INT_MAX)
        return 0;
    *v = (int)x;
    return 1;
}
