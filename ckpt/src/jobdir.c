/*
 * The job directory's layout on disk (docs/format.md): the ckpt.<id> directories and the `latest`
 * pointer as one rank sees them. Used by the commit, the restore and the PFS level alike; depends
 * on no other file of the checkpoint engine but the manifest reader of `latest`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "ckpt_impl.h"
#include "log.h"
#include "manifest.h"

static int parse_ckpt_name(const char *name, int64_t *id)
{
    char *end;
    long long v;

    if (strncmp(name, "ckpt.", 5) != 0 || name[5] < '0' || name[5] > '9')
        return 0;
    errno = 0;
    v = strtoll(name + 5, &end, 10);
    if (errno || *end || v < 0)
        return 0;
    *id = v;
    return 1;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x < y) - (x > y);
}

/* Ids of every ckpt.<id> directory in the job directory, newest first. [OUT] *n. */
int sal_ckpt_list_dirs(const char *job_dir, int64_t *ids, int max, int *n)
{
    DIR *d = opendir(job_dir);
    struct dirent *e;

    *n = 0;
    if (!d)
        return sal_error(SAL_ERR_IO, "cannot list %s: %s", job_dir, strerror(errno));
    while ((e = readdir(d)) != NULL && *n < max) {
        int64_t id;
        if (parse_ckpt_name(e->d_name, &id))
            ids[(*n)++] = id;
    }
    closedir(d);
    qsort(ids, (size_t)*n, sizeof(int64_t), cmp_desc);
    return SAL_OK;
}

/* Local: this rank's view of one job directory: [OUT] *limit = its `latest` (-1 when there is
 * none; INT64_MAX when it exists but cannot be read: every directory may be committed), *newest =
 * its newest ckpt.<id> directory (-1 when none). */
void sal_job_view(const char *job_dir, int64_t *limit, int64_t *newest)
{
    int64_t ids[SAL_MAX_LISTED];
    int rc = sal_latest_read(job_dir, limit), n = 0;

    if (rc == SAL_ERR_NO_CKPT) {
        *limit = -1;
    } else if (rc != SAL_OK) {
        SAL_LOG_W("%s; considering every checkpoint directory of %s", sal_last_error(), job_dir);
        *limit = INT64_MAX;
    }
    *newest = sal_ckpt_list_dirs(job_dir, ids, SAL_MAX_LISTED, &n) == SAL_OK && n > 0 ? ids[0] : -1;
}
