/*
 * L4: the flush thread. After a commit each rank queues the checkpoint; its thread copies
 * rank.<r>.h5 to <pfs_dir>/<job>/ckpt.<id>/ and then writes rank.<r>.done (its byte count). Rank
 * 0's thread then waits for every rank's .done marker, copies the levels record and the manifest
 * (last), replaces the PFS `latest`, writes <job_dir>/ckpt.<id>/flushed locally, logs a "flush"
 * event and applies retention in the PFS directory. No MPI and no HDF5 call runs on this thread.
 *
 * The thread yields to the application: it runs at the lowest CPU priority (nice 19) and, on
 * Linux, in the idle I/O scheduling class, and it copies with copy_file_range(2) (no user-space
 * buffer) in pieces, so the kernel can schedule the application between them.
 *
 * The descriptor sal_level_pfs (level_ops.h) is the only way in: its asynchronous operations start
 * and stop the thread, queue a checkpoint and wait for the queue to empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "aside.h"
#include "ckpt_impl.h"
#include "events.h"
#include "fsutil.h"
#include "level_ops.h"
#include "levels.h"
#include "log.h"
#include "manifest.h"

#define WAIT_OTHERS_S  300.0 /* rank 0 waits this long for the other ranks' copies */
#define WAIT_AT_EXIT_S 10.0  /* ... and this long once the handle is being destroyed */

enum {
    FLUSH_NICE = 19,       /* CPU priority of the flush thread (lowest) */
    IOPRIO_CLASS_IDLE = 3, /* linux/ioprio.h, not exported by libc */
    IOPRIO_CLASS_SHIFT = 13,
    IOPRIO_WHO_PROCESS = 1, /* a "process" is a thread id here */
};

struct sal_pfs {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t pending; /* -1: nothing queued */
    int rank, nranks, busy, stop, keep;
    int every; /* pfs_every: the ids copied are its multiples */
    char job_dir[PATH_MAX], pfs_job[PATH_MAX];
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Lowers the calling thread's CPU and I/O priority (Linux: both apply per thread). Failure only
 * costs the application some speed, so it is logged, not returned. */
static void lower_priority(void)
{
#ifdef SYS_gettid
    long tid = syscall(SYS_gettid);

    if (setpriority(PRIO_PROCESS, (id_t)tid, FLUSH_NICE) != 0)
        SAL_LOG_D("L4: cannot lower the flush thread's CPU priority: %s", strerror(errno));
#ifdef SYS_ioprio_set
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)tid,
                IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) != 0)
        SAL_LOG_D("L4: cannot set the idle I/O class on the flush thread: %s", strerror(errno));
#endif
#endif
}

static int copy_named(const struct sal_pfs *p, int64_t id, const char *name, int64_t *bytes)
{
    char src[PATH_MAX], dst[PATH_MAX];
    int rc = sal_path_join(src, sizeof(src), "%s/ckpt.%lld/%s", p->job_dir, (long long)id, name);

    if (rc == SAL_OK)
        rc = sal_path_join(dst, sizeof(dst), "%s/ckpt.%lld/%s", p->pfs_job, (long long)id, name);
    return rc == SAL_OK ? sal_copy_file(src, dst, bytes) : rc;
}

/* Rank 0: waits for every rank's marker; [OUT] *bytes = their sum. Gives up when a newer
 * checkpoint is queued: a rank whose thread was still busy skipped id for it. */
static int wait_markers(struct sal_pfs *p, int64_t id, int64_t *bytes)
{
    double t0 = now_s();

    *bytes = 0;
    for (int r = 0; r < p->nranks;) {
        char path[PATH_MAX], *text = NULL;
        size_t len;
        int stop;
        int64_t newer;
        if (sal_path_join(path, sizeof(path), "%s/ckpt.%lld/rank.%d.done", p->pfs_job,
                          (long long)id, r) != SAL_OK)
            return SAL_ERR_INVALID_ARG;
        if (sal_read_file(path, 64, &text, &len) == SAL_OK) {
            *bytes += strtoll(text, NULL, 10);
            free(text);
            r++;
            continue;
        }
        pthread_mutex_lock(&p->mu);
        stop = p->stop;
        newer = p->pending;
        pthread_mutex_unlock(&p->mu);
        if (newer > id) /* the other ranks may have skipped id for the newer one, as rank 0 will */
            return sal_error(SAL_ERR_ABORTED,
                             "L4: checkpoint %lld superseded by %lld before rank %d copied it",
                             (long long)id, (long long)newer, r);
        if (now_s() - t0 > (stop ? WAIT_AT_EXIT_S : WAIT_OTHERS_S))
            return sal_error(SAL_ERR_IO, "L4: rank %d did not copy checkpoint %lld to %s", r,
                             (long long)id, p->pfs_job);
        usleep(5000);
    }
    return SAL_OK;
}

/* Rank 0, PFS side: deletes all but the keep newest checkpoints not newer than `latest`, and
 * abandoned ones older than it; never those the node-local set-aside record names (aside.h). */
static void pfs_retain(const struct sal_pfs *p, int64_t latest)
{
    int64_t ids[SAL_MAX_LISTED];
    char path[PATH_MAX];
    int n, kept = 0;
    sal_aside_t aside;

    if (sal_aside_load(p->job_dir, &aside) != SAL_OK) {
        SAL_LOG_W("L4: %s; deleting no old checkpoint in %s", sal_last_error(), p->pfs_job);
        return;
    }
    if (sal_ckpt_list_dirs(p->pfs_job, ids, SAL_MAX_LISTED, &n) != SAL_OK)
        return;
    for (int i = 0; i < n; i++) {
        if (ids[i] > latest || sal_aside_has(&aside, ids[i]) || kept++ < p->keep)
            continue;
        if (sal_path_join(path, sizeof(path), "%s/ckpt.%lld", p->pfs_job, (long long)ids[i]) ==
            SAL_OK)
            sal_remove_tree(path);
    }
}

static int publish_pfs(struct sal_pfs *p, int64_t id, double t0)
{
    int64_t bytes = 0, b;
    char path[PATH_MAX];
    int rc = wait_markers(p, id, &bytes);

    if (rc == SAL_OK)
        rc = copy_named(p, id, "levels", &b);
    if (rc == SAL_OK)
        rc = copy_named(p, id, "manifest.h5", &b);
    if (rc == SAL_OK)
        rc = sal_latest_write(p->pfs_job, id);
    if (rc != SAL_OK)
        return rc;
    if (sal_path_join(path, sizeof(path), "%s/ckpt.%lld/flushed", p->job_dir, (long long)id) ==
        SAL_OK)
        sal_write_file_atomic(path, "flushed\n", 8, 0600);
    pfs_retain(p, id);
    sal_event("flush", "\"id\":%lld,\"bytes\":%lld,\"seconds\":%.6f,\"level\":\"L4\"",
              (long long)id, (long long)bytes, now_s() - t0);
    return SAL_OK;
}

static void flush_one(struct sal_pfs *p, int64_t id)
{
    char dir[PATH_MAX], name[64], text[32];
    double t0 = now_s();
    int64_t bytes = 0;
    int rc = sal_path_join(dir, sizeof(dir), "%s/ckpt.%lld", p->pfs_job, (long long)id);

    if (rc == SAL_OK)
        rc = sal_mkdir_p(dir, 0700);
    snprintf(name, sizeof(name), "rank.%d.h5", p->rank);
    if (rc == SAL_OK)
        rc = copy_named(p, id, name, &bytes);
    snprintf(text, sizeof(text), "%lld\n", (long long)bytes);
    if (rc == SAL_OK)
        rc = sal_path_join(dir, sizeof(dir), "%s/ckpt.%lld/rank.%d.done", p->pfs_job, (long long)id,
                           p->rank);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(dir, text, strlen(text), 0600);
    if (rc == SAL_OK && p->rank == 0)
        rc = publish_pfs(p, id, t0);
    if (rc == SAL_ERR_ABORTED)
        SAL_LOG_I("%s", sal_last_error());
    else if (rc != SAL_OK)
        SAL_LOG_W("L4: flush of checkpoint %lld abandoned (the node-local copy stays valid): %s",
                  (long long)id, sal_last_error());
}

static void *flush_main(void *arg)
{
    struct sal_pfs *p = arg;

    lower_priority();
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->pending < 0 && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->pending < 0)
            break;
        int64_t id = p->pending;
        p->pending = -1;
        p->busy = 1;
        pthread_mutex_unlock(&p->mu);
        flush_one(p, id);
        pthread_mutex_lock(&p->mu);
        p->busy = 0;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Starts the flush thread of this rank when s->pfs_job is set: job_dir is the node-local job
 * directory, pfs_job <pfs_dir>/<job> (created 0700), keep the checkpoints retained there. */
static int l4_start(const sal_level_setup_t *s, sal_level_async_t *as)
{
    struct sal_pfs *p;
    int rc;

    as->pfs = NULL;
    if (!s->pfs_job[0])
        return SAL_OK;
    rc = sal_mkdir_p(s->pfs_job, 0700);
    if (rc != SAL_OK)
        return rc;
    p = calloc(1, sizeof(*p));
    if (!p)
        return sal_error(SAL_ERR_NOMEM, "flush thread state");
    p->pending = -1;
    p->keep = s->keep;
    p->every = s->pfs_every;
    snprintf(p->job_dir, sizeof(p->job_dir), "%s", s->job_dir);
    snprintf(p->pfs_job, sizeof(p->pfs_job), "%s", s->pfs_job);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    rc = pthread_create(&p->thread, NULL, flush_main, p);
    if (rc != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return sal_error(SAL_ERR_IO, "cannot start the L4 flush thread: %s", strerror(rc));
    }
    as->pfs = p;
    return SAL_OK;
}

static int l4_due(const sal_level_async_t *as, int64_t id)
{
    return as->pfs && id % as->pfs->every == 0;
}

/* A checkpoint still queued is replaced by the newer one. */
static void l4_submit(sal_level_async_t *as, int64_t id, int rank, int nranks)
{
    struct sal_pfs *p = as->pfs;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->pending >= 0)
        SAL_LOG_I("L4: checkpoint %lld replaced by %lld in the flush queue", (long long)p->pending,
                  (long long)id);
    p->pending = id;
    p->rank = rank;
    p->nranks = nranks;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void l4_drain(sal_level_async_t *as)
{
    struct sal_pfs *p = as->pfs;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    while (p->pending >= 0 || p->busy)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static int l4_idle(sal_level_async_t *as)
{
    struct sal_pfs *p = as->pfs;
    int idle;

    if (!p)
        return 1;
    pthread_mutex_lock(&p->mu);
    idle = p->pending < 0 && !p->busy;
    pthread_mutex_unlock(&p->mu);
    return idle;
}

/* Finishes the copy in progress and the queued one (rank 0 waits at most WAIT_AT_EXIT_S for the
 * other ranks' files), joins the thread and frees it. */
static void l4_stop(sal_level_async_t *as)
{
    struct sal_pfs *p = as->pfs;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    as->pfs = NULL;
}

const sal_level_ops_t sal_level_pfs = {
    .bit = SAL_LVL_L4,
    .name = "L4",
    .covers = "L4 (a copy in pfs_dir)",
    .start = l4_start,
    .stop = l4_stop,
    .due = l4_due,
    .submit = l4_submit,
    .drain = l4_drain,
    .idle = l4_idle,
};
