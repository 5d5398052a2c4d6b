/*
 * The set-aside record <job_dir>/set_aside: see aside.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <salamander/sal_error.h>

#include "aside.h"
#include "fsutil.h"
#include "log.h"

#define ASIDE_NAME "set_aside"
#define LINE_MAX_  48 /* two ids of at most 19 digits, a blank and the newline */

/* One "<from> <to>" line of len bytes (no newline): decimal ids, no sign, from < to. */
static int parse_line(const char *s, size_t len, int64_t *from, int64_t *to)
{
    char buf[LINE_MAX_], *end;
    long long a, b;

    if (len == 0 || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    a = strtoll(buf, &end, 10);
    if (errno || *end != ' ' || end[1] < '0' || end[1] > '9')
        return 0;
    b = strtoll(end + 1, &end, 10);
    if (errno || *end || a < 0 || b <= a)
        return 0;
    *from = a;
    *to = b;
    return 1;
}

static int parse_text(const char *path, const char *text, size_t len, sal_aside_t *a)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (text + pos)) : len - pos;

        if (!nl || a->n >= SAL_ASIDE_MAX ||
            !parse_line(text + pos, l, &a->from[a->n], &a->to[a->n]))
            return sal_error(SAL_ERR_CORRUPT,
                             "%s is malformed at byte %zu: each line must hold \"<from> <to>\" "
                             "(decimal checkpoint ids, from < to), at most %d lines",
                             path, pos, SAL_ASIDE_MAX);
        a->n++;
        pos += l + 1;
    }
    return SAL_OK;
}

int sal_aside_load(const char *job_dir, sal_aside_t *a)
{
    char path[PATH_MAX], *text = NULL;
    struct stat st;
    size_t len = 0;
    int rc;

    memset(a, 0, sizeof(*a));
    rc = sal_path_join(path, sizeof(path), "%s/" ASIDE_NAME, job_dir);
    if (rc == SAL_OK && lstat(path, &st) != 0 && errno == ENOENT)
        return SAL_OK;
    if (rc == SAL_OK)
        rc = sal_read_file(path, (size_t)SAL_ASIDE_MAX * LINE_MAX_, &text, &len);
    if (rc == SAL_OK)
        rc = parse_text(path, text, len, a);
    free(text);
    if (rc != SAL_OK) {
        a->n = 0;
        a->unknown = 1;
    }
    return rc;
}

int sal_aside_has(const sal_aside_t *a, int64_t id)
{
    if (a->unknown)
        return 1;
    for (int i = 0; i < a->n; i++)
        if (id > a->from[i] && id <= a->to[i])
            return 1;
    return 0;
}

int sal_aside_record(const char *job_dir, int64_t from, int64_t to)
{
    char path[PATH_MAX], text[SAL_ASIDE_MAX * LINE_MAX_ + LINE_MAX_];
    size_t used = 0;
    sal_aside_t a;
    int rc, kept = 0;

    if (from < 0 || to <= from)
        return sal_error(SAL_ERR_INVALID_ARG, "set-aside record: ids %lld to %lld", (long long)from,
                         (long long)to);
    rc = sal_aside_load(job_dir, &a);
    if (rc != SAL_OK)
        return rc; /* never overwrite what cannot be read: it may protect checkpoints */
    for (int i = 0; i < a.n; i++) {
        if (a.to[i] > from)
            continue;
        if (++kept >= SAL_ASIDE_MAX)
            return sal_error(SAL_ERR_INVALID_ARG,
                             "%s/" ASIDE_NAME " already records %d restarts: prune the "
                             "checkpoints set aside (salrun ckpt prune) and delete it",
                             job_dir, kept);
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%lld %lld\n",
                                 (long long)a.from[i], (long long)a.to[i]);
    }
    used += (size_t)snprintf(text + used, sizeof(text) - used, "%lld %lld\n", (long long)from,
                             (long long)to);
    rc = sal_path_join(path, sizeof(path), "%s/" ASIDE_NAME, job_dir);
    return rc == SAL_OK ? sal_write_file_atomic(path, text, used, 0600) : rc;
}
