/*
 * The `latest` pointer: <job_dir>/latest names the newest published checkpoint ("ckpt.<id>\n").
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "log.h"
#include "manifest.h"

#define LATEST_MAX 64

int sal_latest_write(const char *job_dir, int64_t id)
{
    char path[PATH_MAX], text[LATEST_MAX];
    int rc, len;

    if (!job_dir || id < 0)
        return sal_error(SAL_ERR_INVALID_ARG, "latest pointer: NULL job directory or id %lld",
                         (long long)id);
    rc = sal_path_join(path, sizeof(path), "%s/latest", job_dir);
    if (rc != SAL_OK)
        return rc;
    len = snprintf(text, sizeof(text), "ckpt.%lld\n", (long long)id);
    return sal_write_file_atomic(path, text, (size_t)len, 0600);
}

/* "ckpt.<digits>" with an optional final newline; no sign, no leading zero, no overflow. */
static int parse_latest(const char *s, size_t len, int64_t *id)
{
    int64_t v = 0;
    size_t i = 5;

    if (len < 6 || strncmp(s, "ckpt.", 5) != 0 || (s[5] == '0' && len > 6 && s[6] != '\n'))
        return 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return 0;
    if (i == 5 || (i < len && !(s[i] == '\n' && i + 1 == len)))
        return 0;
    *id = v;
    return 1;
}

int sal_latest_read(const char *job_dir, int64_t *id)
{
    char path[PATH_MAX], *text = NULL;
    struct stat st;
    size_t len = 0;
    int rc;

    if (!job_dir || !id)
        return sal_error(SAL_ERR_INVALID_ARG, "latest pointer: NULL argument");
    rc = sal_path_join(path, sizeof(path), "%s/latest", job_dir);
    if (rc != SAL_OK)
        return rc;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? sal_error(SAL_ERR_NO_CKPT,
                                           "%s does not exist: no checkpoint was committed", path)
                               : sal_error(SAL_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is a symbolic link, not a checkpoint pointer", path);
    if (!S_ISREG(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is not a regular file", path);
    rc = sal_read_file(path, LATEST_MAX, &text, &len);
    if (rc == SAL_OK && (strlen(text) != len || !parse_latest(text, len, id)))
        rc = sal_error(SAL_ERR_CORRUPT, "%s is malformed: it must hold \"ckpt.<id>\" and a newline",
                       path);
    free(text);
    return rc;
}
