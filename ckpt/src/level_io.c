/* Whole-file helpers of the redundancy levels: reading a file into memory and durable copies. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "levels.h"
#include "log.h"

enum { COPY_PIECE = 8 << 20 }; /* bytes per copy_file_range or read + write call */

int sal_slurp(const char *path, char **data, size_t *len)
{
    return sal_read_file(path, (size_t)1 << 40, data, len);
}

/* Copies with read/write from the current offsets to the end of in. [INOUT] *bytes. */
static int copy_rw(int in, int out, const char *src, const char *tmp, int64_t *bytes)
{
    char *buf = malloc(COPY_PIECE);
    int rc = SAL_OK;

    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "copy buffer");
    for (;;) {
        ssize_t n = read(in, buf, COPY_PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sal_error(SAL_ERR_IO, "read %s: %s", src, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        rc = sal_write_all(out, tmp, buf, (size_t)n);
        if (rc != SAL_OK)
            break;
        *bytes += n;
    }
    free(buf);
    return rc;
}

/* Copies all of in to out: copy_file_range(2) piece by piece where the kernel supports it for
 * these two files (no copy through user space), else (or for what remains) read/write. [OUT]
 * *bytes. */
static int copy_data(int in, int out, const char *src, const char *tmp, int64_t *bytes)
{
    *bytes = 0;
#ifdef SYS_copy_file_range
    for (;;) {
        long n = syscall(SYS_copy_file_range, in, NULL, out, NULL, (size_t)COPY_PIECE, 0U);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
                      errno == EBADF))
            break; /* not between these files: read/write from the offsets reached */
        if (n < 0)
            return sal_error(SAL_ERR_IO, "copy %s to %s: %s", src, tmp, strerror(errno));
        if (n == 0)
            return SAL_OK;
        *bytes += n;
    }
#endif
    return copy_rw(in, out, src, tmp, bytes);
}

int sal_copy_file(const char *src, const char *dst, int64_t *bytes)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    int in, out, rc = sal_tmp_name(dst, tmp, sizeof(tmp));

    if (rc == SAL_OK)
        rc = sal_parent_dir(dst, dir, sizeof(dir));
    if (rc != SAL_OK)
        return rc;
    in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return sal_error(SAL_ERR_IO, "open %s: %s", src, strerror(errno));
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = sal_error(SAL_ERR_IO, "create %s: %s", tmp, strerror(errno));
        goto out_close_in;
    }
    rc = copy_data(in, out, src, tmp, bytes);
    if (rc == SAL_OK && fchmod(out, 0600) != 0)
        rc = sal_error(SAL_ERR_IO, "chmod %s: %s", tmp, strerror(errno));
    if (rc == SAL_OK && fsync(out) != 0)
        rc = sal_error(SAL_ERR_IO, "fsync %s: %s", tmp, strerror(errno));
    if (close(out) != 0 && rc == SAL_OK)
        rc = sal_error(SAL_ERR_IO, "close %s: %s", tmp, strerror(errno));
    if (rc == SAL_OK && rename(tmp, dst) != 0)
        rc = sal_error(SAL_ERR_IO, "rename %s to %s: %s", tmp, dst, strerror(errno));
    if (rc != SAL_OK) {
        unlink(tmp);
        goto out_close_in;
    }
    rc = sal_fsync_dir(dir);
out_close_in:
    close(in);
    return rc;
}
