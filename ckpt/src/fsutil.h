/* File-system helpers with the durability rules of the commit protocol. All return SAL_OK or an
 * SAL_ERR_* code with the path and errno text recorded by sal_error(). */
#ifndef SAL_FSUTIL_H
#define SAL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "private_api.h"

/* mkdir -p with the given mode for every created component; an existing directory is accepted. */
SAL_PRIVATE int sal_mkdir_p(const char *path, mode_t mode);

/* Fails with SAL_ERR_IO unless path is a directory this process can create files in. */
int sal_dir_writable(const char *path);

/* fsync() of a directory (makes a rename inside it durable). */
int sal_fsync_dir(const char *path);

/* Writes len bytes to path atomically: path.tmp.<pid>, fsync, rename over path, fsync the
 * directory. Never leaves a partially written path. mode applies to the new file. */
int sal_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Reads at most max bytes of a regular file (not following a final symlink) into a NUL-terminated
 * buffer. [OUT] *data (caller frees), *len. SAL_ERR_IO if missing/unreadable/not regular,
 * SAL_ERR_CORRUPT if larger than max. */
SAL_PRIVATE int sal_read_file(const char *path, size_t max, char **data, size_t *len);

/* rm -r without following symlinks; a missing path is SAL_OK. */
int sal_remove_tree(const char *path);

/* The directory part of path into buf ("." when it has none, "/" for a file in the root). */
int sal_parent_dir(const char *path, char *buf, size_t size);

/* sscanf(line, "<key> %d", v) == 1 for the text records this library writes, but an out-of-range
 * number fails instead of being undefined: line starts with key, then an int (blanks before it
 * skipped, anything after it ignored). Returns 1 with *v set, else 0. */
SAL_PRIVATE int sal_scan_int(const char *line, const char *key, int *v);

/* The temporary name every durable writer uses for path: "<path>.tmp.<pid>". */
int sal_tmp_name(const char *path, char *buf, size_t size);

/* Writes all of data to fd, retrying after EINTR and short writes; ENOSPC is named as a full file
 * system. SAL_ERR_IO naming path otherwise. */
int sal_write_all(int fd, const char *path, const void *data, size_t len);

/* snprintf into buf that fails with SAL_ERR_INVALID_ARG instead of truncating. */
SAL_PRIVATE int sal_path_join(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
