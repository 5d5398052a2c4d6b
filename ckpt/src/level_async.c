/* Redundancy behind the application (level_async.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>
#include <salamander/sal_error.h>

#include "ckpt_impl.h"
#include "clock.h"
#include "events.h"
#include "fsutil.h"
#include "level_async.h"
#include "levels.h"
#include "agree.h"
#include "log.h"

/* Abandons or waits for every work still in flight (see sal_pending_drop); [INOUT] *ok. Returns
 * SAL_OK, or the status of the first exchange that failed. */
static int end_works(sal_pending_t *p, int wait, int *ok)
{
    int rc = SAL_OK;

    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        if (!p->work[i])
            continue;
        if (wait && rc == SAL_OK)
            rc = l->advance(&p->work[i], 1, ok);
        else
            l->abandon(&p->work[i]);
    }
    return rc;
}

/* Forgets the pending state without touching what it holds (see sal_pending_release). */
static void forget(sal_pending_t *p)
{
    memset(p, 0, sizeof(*p));
    p->file.fd = -1;
    p->id = -1;
}

static void clear(sal_pending_t *p)
{
    sal_fmap_close(&p->file);
    forget(p);
}

int sal_levels_comm(struct sal_ckpt *ck)
{
    int rc;

    if (ck->levels_comm != MPI_COMM_NULL)
        return SAL_OK;
    rc = sal_mpi_status(MPI_Comm_dup(ck->comm, &ck->levels_comm));
    if (rc != SAL_OK) {
        ck->levels_comm = MPI_COMM_NULL;
        return sal_error(rc, "cannot duplicate the checkpoint communicator for the levels");
    }
    MPI_Comm_set_errhandler(ck->levels_comm, MPI_ERRORS_RETURN);
    return SAL_OK;
}

void sal_pending_release(struct sal_ckpt *ck, double seconds)
{
    sal_pending_t *p = &ck->pending;
    double end = sal_clock_mono() + seconds;
    struct timespec pause = {0, 1000000};
    int ok = 1, busy = p->id >= 0;

    while (busy && seconds >= 0 && sal_clock_mono() < end) {
        busy = 0;
        for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
            if (p->work[i])
                sal_level_table[i]->advance(&p->work[i], 0, &ok);
            busy = busy || p->work[i];
        }
        if (busy)
            nanosleep(&pause, NULL);
    }
    if (busy && seconds >= 0) {
        /* Left as it is: no revoke, no wait, nothing freed that a message may still touch (the
         * process is ending); the checkpoint stays L1 and its directory keeps the temp files. */
        SAL_LOG_W("checkpoint %lld: the encoding of its levels did not end within %.0f s; left "
                  "unfinished (the checkpoint stays L1)",
                  (long long)p->id, seconds);
        forget(p);
    } else {
        sal_pending_drop(ck, 0);
    }
    if (ck->levels_comm != MPI_COMM_NULL)
        MPI_Comm_free(&ck->levels_comm);
}

int sal_pending_begin(struct sal_ckpt *ck, int64_t id, int mask, const char *dir,
                      const char *reuse_dir, sal_fmap_t *file, int64_t len, int *ok)
{
    sal_pending_t *p = &ck->pending;
    int rc = sal_levels_comm(ck);

    clear(p);
    p->id = id;
    p->mask = mask;
    p->ok = 1;
    p->t0 = sal_clock_mono();
    p->file = *file; /* taken over: the works send from its pages until they end */
    memset(file, 0, sizeof(*file));
    file->fd = -1;
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    for (int i = 0; i < SAL_LEVEL_COUNT && rc == SAL_OK; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        const sal_level_ctx_t ctx = {ck->levels_comm, &ck->topo, p->dir,
                                     &p->times[i],    reuse_dir, SAL_FMAP_LAZY};
        if (!l->begin || !(mask & l->bit))
            continue;
        rc = l->begin(&ctx, p->file.data, *ok ? len : -1, &p->work[i], &p->ok);
    }
    *ok = *ok && len >= 0;
    if (rc != SAL_OK) {
        end_works(p, 0, &p->ok);
        clear(p);
    }
    return rc;
}

int sal_ckpt_progress(sal_ckpt_t ck)
{
    sal_pending_t *p;
    int rc = SAL_OK, me = 0;

    if (!ck || ck->pending.id < 0)
        return SAL_OK;
    p = &ck->pending;
    MPI_Comm_rank(ck->comm, &me);
    sal_inject_point(ck->inject, me, ck->step_hint, SAL_INJ_CKPT_ASYNC);
    if (!p->populated) { /* the pages the messages send from, mapped lazily at the commit */
        p->populated = 1;
        sal_fmap_populate(&p->file, 0);
    }
    for (int i = 0; i < SAL_LEVEL_COUNT && rc == SAL_OK; i++)
        if (p->work[i])
            rc = sal_level_table[i]->advance(&p->work[i], 0, &p->ok);
    if (rc == SAL_OK)
        return SAL_OK;
    SAL_LOG_W("checkpoint %lld: its redundancy in the background failed (%s); it stays L1",
              (long long)p->id, sal_last_error());
    end_works(p, 0, &p->ok);
    clear(p);
    return SAL_ERR_PROC_FAILED;
}

void sal_pending_finish(struct sal_ckpt *ck, sal_settled_t *s)
{
    sal_pending_t *p = &ck->pending;

    memset(s, 0, sizeof(*s));
    s->id = p->id;
    if (p->id < 0)
        return;
    s->mask = p->mask;
    s->ok = p->ok;
    s->lost = end_works(p, 1, &s->ok) != SAL_OK; /* a failure abandons the works after it */
    s->ok = s->ok && !s->lost;
    s->seconds = sal_clock_mono() - p->t0;
    clear(p);
}

/* The levels record of dir with the levels of mask added. */
static int record_levels(const char *dir, int mask)
{
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    sal_levels_info_t info;
    int rc = sal_path_join(path, sizeof(path), "%s/levels", dir);

    memset(&info, 0, sizeof(info));
    if (rc == SAL_OK)
        rc = sal_levels_load_text(dir, &text, &len);
    if (rc == SAL_OK)
        rc = sal_levels_parse_text(path, text, &info);
    if (rc == SAL_OK)
        rc = sal_levels_write(dir, info.mask | mask, info.xor_size, &info.topo);
    /* Hosts that share the directory (pretend hosts, a shared file system) remove it side by side
     */
    if (rc == SAL_OK && sal_path_join(path, sizeof(path), "%s/pending", dir) == SAL_OK &&
        unlink(path) != 0 && errno != ENOENT)
        rc = sal_error(SAL_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    sal_levels_info_free(&info);
    free(text);
    return rc;
}

void sal_pending_record(const sal_settled_t *s, const char *dir, int agreed, int leader, int me)
{
    char lv[32];

    if (s->id < 0)
        return;
    sal_levels_name(s->mask, lv, sizeof(lv));
    if (agreed && leader && (!dir || record_levels(dir, s->mask) != SAL_OK))
        SAL_LOG_W("checkpoint %lld: its levels are complete, but this host's record of them "
                  "could not be updated (a restore uses it as L1): %s",
                  (long long)s->id, sal_last_error());
    if (me != 0)
        return;
    if (agreed)
        sal_event("levels_complete", "\"id\":%lld,\"levels\":\"%s\",\"seconds\":%.6f",
                  (long long)s->id, lv, s->seconds);
    else
        SAL_LOG_W("checkpoint %lld: its %s in the background did not complete on every rank; it "
                  "stays an L1 checkpoint, and the previous complete one is kept",
                  (long long)s->id, lv);
}

void sal_pending_drop(struct sal_ckpt *ck, int wait)
{
    sal_pending_t *p = &ck->pending;
    int ok = 1;

    if (p->id < 0)
        return;
    end_works(p, wait, &ok);
    clear(p);
}

int sal_pending_mark(const char *dir, int mask)
{
    char path[PATH_MAX], text[40];
    int n, rc = sal_path_join(path, sizeof(path), "%s/pending", dir);

    sal_levels_name(mask, text, sizeof(text) - 1);
    n = (int)strlen(text);
    text[n++] = '\n';
    return rc == SAL_OK ? sal_write_file_atomic(path, text, (size_t)n, 0600) : rc;
}

int sal_pending_marked(const char *dir)
{
    char path[PATH_MAX];

    return sal_path_join(path, sizeof(path), "%s/pending", dir) == SAL_OK &&
           access(path, F_OK) == 0;
}
