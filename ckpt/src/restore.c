/*
 * Restore: the ranks pool what their hosts hold (every host keeps a `latest` pointer and its
 * checkpoint directories; L4 has its own), and rank 0 proposes the checkpoints not newer than the
 * newest `latest` of any host, newest first; every rank tries to obtain its data from the proposal
 * and the ranks agree; the first checkpoint every rank could load wins.
 *
 * How one rank obtains its data of a proposed checkpoint (L1 -> L2 -> L3 -> L4, N -> M) is in
 * restore_load.c.
 *
 * All or nothing: every read goes into a staging copy of the protected regions, and the
 * application's memory is written only after every rank agreed that it holds the same checkpoint.
 * A job with committed checkpoints none of which can be restored fails with SAL_ERR_UNRESTORABLE,
 * naming the checkpoints, the ranks whose data is missing and the levels that would have covered
 * them, and leaves the protected regions as they were.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "aside.h"
#include "bound.h"
#include "ckpt_impl.h"
#include "ckpt_internal.h"
#include "clock.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "restore.h"

/* End markers of the proposal broadcast by rank 0. */
enum { END_NONE = -1, END_ALL_FAILED = -2 };

/* Checkpoint ids considered by a restore: the WINDOW newest at or below the newest `latest` of any
 * host. Retention keeps far fewer (keep, 2 by default). */
#define WINDOW 64

/* Local: sets bit (top - id) of *bits for every ckpt.<id> directory of job_dir in (top-WINDOW,
 * top]. */
static void mark_dirs(const char *job_dir, int64_t top, uint64_t *bits)
{
    int64_t ids[SAL_MAX_LISTED];
    int n = 0;

    if (sal_ckpt_list_dirs(job_dir, ids, SAL_MAX_LISTED, &n) != SAL_OK)
        return;
    for (int i = 0; i < n; i++)
        if (ids[i] <= top && top - ids[i] < WINDOW)
            *bits |= (uint64_t)1 << (top - ids[i]);
}

/* Local: sets bit (top - id) of *bits for every id in (top-WINDOW, top] that this host's set-aside
 * record names. A record that cannot be read is ignored here: the restore must not lose every
 * checkpoint to it (retention keeps everything instead). */
static void mark_aside(const char *job_dir, int64_t top, uint64_t *bits)
{
    sal_aside_t a;

    if (sal_aside_load(job_dir, &a) != SAL_OK) {
        SAL_LOG_W("%s; restoring as if no checkpoint were set aside", sal_last_error());
        return;
    }
    for (int64_t k = 0; k < WINDOW && k <= top; k++)
        if (sal_aside_has(&a, top - k))
            *bits |= (uint64_t)1 << k;
}

/* Collective: the committed checkpoints of the job as every host sees them together, newest
 * first: the directories of any host (node-local, and L4) not newer than the newest `latest` of
 * any host, so that the loss of one host, rank 0's included, loses no committed checkpoint, and
 * not set aside by a restart from an older one. With chosen >= 0 (restart_from) the list starts at
 * chosen when it is committed and present, set aside or not. [OUT] ids, *n; *had = 1 when the job
 * committed a checkpoint (a `latest` exists somewhere); *newest: the newest committed id (-1:
 * none). SAL_OK or SAL_ERR_PROC_FAILED. */
static int candidates(struct sal_ckpt *ck, int64_t chosen, int64_t *ids, int *n, int *had,
                      int64_t *newest)
{
    int64_t v[2], w[2], top;
    uint64_t bits[2] = {0, 0}; /* present, set aside */
    double t0 = sal_clock_mono();

    sal_job_view(ck->job_dir, &v[0], &v[1]);
    if (ck->pfs_job[0]) {
        sal_job_view(ck->pfs_job, &w[0], &w[1]);
        v[0] = w[0] > v[0] ? w[0] : v[0];
        v[1] = w[1] > v[1] ? w[1] : v[1];
    }
    sal_bound_credit_since(t0);
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    *had = v[0] >= 0;
    *newest = v[0] == INT64_MAX ? v[1] : v[0];
    /* A `latest` may name a directory that is gone: the window starts at the newest that exists. */
    top = v[0] < v[1] ? v[0] : v[1];
    if (chosen >= 0)
        top = chosen <= *newest ? chosen : -1;
    t0 = sal_clock_mono();
    if (top >= 0) {
        mark_dirs(ck->job_dir, top, &bits[0]);
        if (ck->pfs_job[0])
            mark_dirs(ck->pfs_job, top, &bits[0]);
        mark_aside(ck->job_dir, top, &bits[1]);
    }
    sal_bound_credit_since(t0);
    if (MPI_Allreduce(MPI_IN_PLACE, bits, 2, MPI_UINT64_T, MPI_BOR, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    if (chosen < 0)
        bits[0] &= ~bits[1];
    *n = 0;
    for (int k = 0; k < WINDOW; k++)
        if (bits[0] & ((uint64_t)1 << k))
            ids[(*n)++] = top - k;
    return SAL_OK;
}

int sal_ckpt_any_committed(sal_ckpt_t ck, int *any)
{
    int64_t v[2], w[2];

    if (!ck || !any)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL argument");
    sal_job_view(ck->job_dir, &v[0], &v[1]);
    if (ck->pfs_job[0]) {
        sal_job_view(ck->pfs_job, &w[0], &w[1]);
        v[0] = w[0] > v[0] ? w[0] : v[0];
    }
    if (MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    *any = v[0] >= 0;
    return SAL_OK;
}

static void stage_free(const struct sal_ckpt *ck, sal_region_t **stage)
{
    for (int i = 0; *stage && i < ck->nregions; i++)
        free((*stage)[i].base);
    free(*stage);
    *stage = NULL;
}

/* The staging copy of the protected regions: the same descriptors over buffers of the same size.
 * [OUT] *stage (free with stage_free). */
static int stage_alloc(const struct sal_ckpt *ck, sal_region_t **stage)
{
    sal_region_t *s = calloc((size_t)(ck->nregions > 0 ? ck->nregions : 1), sizeof(*s));
    size_t bytes = 0;
    int i = 0;

    *stage = s;
    if (!s)
        return sal_error(SAL_ERR_NOMEM, "restore staging descriptors");
    for (; i < ck->nregions; i++) {
        bytes = (size_t)sal_region_elems(&ck->regions[i]) * sal_type_size(ck->regions[i].type);
        s[i] = ck->regions[i];
        s[i].base = malloc(bytes ? bytes : 1);
        if (!s[i].base)
            goto out_free;
    }
    return SAL_OK;

out_free:
    stage_free(ck, stage);
    return sal_error(SAL_ERR_NOMEM,
                     "restore staging buffer of %zu bytes for region \"%s\" (a restore needs "
                     "the protected memory twice)",
                     bytes, ck->regions[i].name);
}

/* The agreed checkpoint into the application's memory. */
static void stage_commit(struct sal_ckpt *ck, const sal_region_t *stage)
{
    for (int i = 0; i < ck->nregions; i++)
        memcpy(ck->regions[i].base, stage[i].base,
               (size_t)sal_region_elems(&ck->regions[i]) * sal_type_size(ck->regions[i].type));
}

/* "2-3,7" of the ranks r with !ok[r], into buf. */
static void rank_ranges(const int *ok, int size, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int r = 0; r < size && used < len; r++) {
        int e = r;
        if (ok[r])
            continue;
        while (e + 1 < size && !ok[e + 1])
            e++;
        used += (size_t)snprintf(buf + used, len - used, e > r ? "%s%d-%d" : "%s%d",
                                 used ? "," : "", r, e);
        r = e;
    }
}

/* " (written on hosts node3,node4)": the distinct hosts where the ranks r with !ok[r] wrote their
 * files, into buf; "" when unknown. */
static void lost_hosts(const sal_tried_t *t, const int *ok, int size, char *buf, size_t len)
{
    size_t used = 0;
    int n = 0;

    buf[0] = '\0';
    if (!t->hosts || t->nranks != size)
        return;
    for (int r = 0; r < size && used < len; r++) {
        const char *h = t->hosts + (size_t)r * SAL_HOST_LEN;
        int seen = 0;

        for (int q = 0; q < r && !seen; q++)
            seen = !ok[q] && strcmp(t->hosts + (size_t)q * SAL_HOST_LEN, h) == 0;
        if (ok[r] || seen)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", n++ ? "," : "", h);
    }
    if (n > 0 && used < len) {
        char hosts[128];

        snprintf(hosts, sizeof(hosts), "%s", buf);
        snprintf(buf, len, " (written on host%s %s)", n > 1 ? "s" : "", hosts);
    }
}

/* Collective, after the ranks disagreed on checkpoint id: rank 0 appends "ckpt <id> (step S, levels
 * L): no data for ranks R (written on host H)" to report (len bytes). SAL_OK or
 * SAL_ERR_PROC_FAILED. */
static int report_missing(struct sal_ckpt *ck, int me, int ok, int64_t id, const sal_tried_t *t,
                          char *report, size_t len)
{
    int size = sal_comm_size(ck->comm), *all = me == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    char ranks[256], lv[64], step[48] = "", hosts[160];
    size_t used = strlen(report);

    if (me == 0 && !all)
        return sal_error(SAL_ERR_NOMEM, "restore report");
    if (MPI_Gather(&ok, 1, MPI_INT, all, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS) {
        free(all);
        return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                         (long long)id);
    }
    if (me == 0 && used + 1 < len) {
        rank_ranges(all, size, ranks, sizeof(ranks));
        lost_hosts(t, all, size, hosts, sizeof(hosts));
        if (t->step >= 0)
            snprintf(step, sizeof(step), "step %lld, ", (long long)t->step);
        snprintf(report + used, len - used,
                 "%scheckpoint %lld (%slevels %s): no data for rank%s %s%s", used ? "; " : "",
                 (long long)id, step, sal_levels_name(t->mask, lv, sizeof(lv)),
                 strchr(ranks, ',') || strchr(ranks, '-') ? "s" : "", ranks, hosts);
    }
    free(all);
    return SAL_OK;
}

/* Rank 0: the levels of the table a checkpoint written with mask lacked that would have covered
 * the loss of node-local files, or a note that every written level failed, into buf. L4 is there
 * when pfs_dir is set, whatever the mask says. */
static void uncovered(const struct sal_ckpt *ck, int mask, char *buf, size_t len)
{
    int have = (mask & ~SAL_LVL_L4) | (ck->pfs_job[0] ? SAL_LVL_L4 : 0);
    char list[192] = "";
    size_t used = 0;

    for (int i = 0; i < SAL_LEVEL_COUNT && used < sizeof(list); i++)
        if (!(have & sal_level_table[i]->bit))
            used += (size_t)snprintf(list + used, sizeof(list) - used, ", %s",
                                     sal_level_table[i]->covers);
    if (list[0])
        snprintf(buf, len, "levels that would have covered them: %s", list + 2);
    else
        snprintf(buf, len, "every level written failed for them (see the warnings above)");
}

/* Every rank: the SAL_ERR_UNRESTORABLE error, with rank 0's report shared so that each rank's
 * sal_last_error() names the checkpoints and the ranks. */
static int unrestorable(struct sal_ckpt *ck, int me, int count, int newest_mask, int64_t chosen,
                        char *report, size_t len)
{
    char cover[256] = "";

    if (me == 0)
        uncovered(ck, newest_mask, cover, sizeof(cover));
    if (MPI_Bcast(&count, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS ||
        MPI_Bcast(report, (int)len, MPI_CHAR, 0, ck->comm) != MPI_SUCCESS ||
        MPI_Bcast(cover, (int)sizeof(cover), MPI_CHAR, 0, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "broadcast of the restore report failed");
    report[len - 1] = '\0';
    cover[sizeof(cover) - 1] = '\0';
    if (chosen >= 0)
        return sal_error(
            SAL_ERR_UNRESTORABLE,
            "restart_from = %lld: checkpoint %lld of job directory %s cannot be "
            "restored on every rank, and no other checkpoint is tried (the one asked "
            "for); no protected region was changed: %s%s%s%s; bring the lost files "
            "back, or choose another checkpoint (salrun ckpt list, salrun ckpt verify)",
            (long long)chosen, (long long)chosen, ck->job_dir, report, cover[0] ? " (" : "", cover,
            cover[0] ? ")" : "");
    return sal_error(SAL_ERR_UNRESTORABLE,
                     "job directory %s%s%s: none of the %d committed checkpoint%s can be restored "
                     "on every rank, and no protected region was changed: %s%s%s%s; bring the "
                     "lost files back and relaunch, or set restart=never to start over from step 0",
                     ck->job_dir, ck->pfs_job[0] ? " (L4: " : "", ck->pfs_job[0] ? ck->pfs_job : "",
                     count, count == 1 ? "" : "s",
                     report[0] ? report : "no checkpoint directory is left", cover[0] ? " (" : "",
                     cover, cover[0] ? ")" : "");
}

/* Collective: the staging copy, allocated on every rank or on none. [OUT] *stage. */
static int stage_agreed(struct sal_ckpt *ck, sal_region_t **stage)
{
    double t0 = sal_clock_mono();
    int rc = stage_alloc(ck, stage), ok = rc == SAL_OK;

    sal_bound_credit_since(t0);
    if (sal_agree(ck->comm, &ok) != SAL_OK) {
        stage_free(ck, stage);
        return sal_error(SAL_ERR_PROC_FAILED, "agreement on the restore's staging memory failed");
    }
    if (ok)
        return SAL_OK;
    stage_free(ck, stage);
    return rc != SAL_OK ? rc
                        : sal_error(SAL_ERR_NOMEM, "another rank could not allocate its restore "
                                                   "staging memory");
}

/* Collective: [OUT] the candidates (candidates()), checked against restart_from (*chosen >= 0:
 * exactly that one, *n = 1). */
static int proposal(struct sal_ckpt *ck, int64_t *ids, int *n, int *had, int64_t *chosen,
                    int64_t *newest)
{
    int rc = sal_restore_choice(ck, chosen);

    if (rc == SAL_OK)
        rc = candidates(ck, *chosen, ids, n, had, newest);
    if (rc != SAL_OK)
        return SAL_ERR_PROC_FAILED;
    if (*chosen < 0)
        return SAL_OK;
    rc = sal_restore_chosen_check(ck, *chosen, *newest, *n > 0 && ids[0] == *chosen);
    *n = 1;
    return rc;
}

static int restore(struct sal_ckpt *ck, int64_t *step_out, int64_t *id_out);

int sal_ckpt_restore(sal_ckpt_t ck, int64_t *step_out, int64_t *id_out)
{
    int rc;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    sal_pending_drop(ck, 1); /* a restore without a failure: every rank ends its part */
    /* Every exchange of the restore waits for peers that do the same local work as this rank: the
     * bound starts at protocol_timeout and grows with this rank's own reads
     * (sal_bound_credit_since). */
    sal_bound_enter("the protocol of the restore", 0);
    rc = restore(ck, step_out, id_out);
    sal_bound_leave();
    return rc;
}

static int restore(struct sal_ckpt *ck, int64_t *step_out, int64_t *id_out)
{
    int64_t ids[SAL_MAX_LISTED], cand = END_NONE, chosen = -1, newest = -1;
    int n = 0, me, next = 0, had = 0, newest_mask = SAL_LVL_L1, rc, ok;
    char report[1024] = "", what[96];
    double t0;
    sal_region_t *stage = NULL;
    sal_tried_t tried = {-1, SAL_LVL_L1, NULL, 0};

    me = sal_comm_rank(ck->comm);
    rc = proposal(ck, ids, &n, &had, &chosen, &newest);
    if (rc == SAL_OK)
        rc = stage_agreed(ck, &stage);
    if (rc != SAL_OK)
        return rc;
    for (;;) {
        int mine, failed;
        if (me == 0)
            cand = next < n ? ids[next++] : had ? END_ALL_FAILED : END_NONE;
        if (MPI_Bcast(&cand, 1, MPI_INT64_T, 0, ck->comm) != MPI_SUCCESS) {
            rc = sal_error(SAL_ERR_PROC_FAILED, "broadcast of the checkpoint to restore failed");
            break;
        }
        if (cand == END_NONE) {
            rc = sal_error(SAL_ERR_NO_CKPT, "no committed checkpoint in %s%s%s", ck->job_dir,
                           ck->pfs_job[0] ? " or " : "", ck->pfs_job);
            break;
        }
        if (cand == END_ALL_FAILED) {
            rc = unrestorable(ck, me, n, newest_mask, chosen, report, sizeof(report));
            break;
        }
        sal_inject_point(ck->inject, me, ck->step_hint, SAL_INJ_RESTORE);
        t0 = sal_clock_mono();
        /* Every rank reaches the agreement, whatever load's exchanges returned (commit.c says
         * why); a failure seen in them votes 0. */
        rc = sal_restore_load(ck, cand, stage, &ok, &tried);
        if (rc == SAL_ERR_UNRESTORABLE) /* the same verdict on every rank */
            break;
        failed = rc == SAL_ERR_PROC_FAILED;
        ok = ok && !failed;
        if (!ok && !failed)
            SAL_LOG_E("cannot restore checkpoint %lld on this rank", (long long)cand);
        mine = ok;
        snprintf(what, sizeof(what), "the agreement on restoring checkpoint %lld", (long long)cand);
        sal_bound_enter(what, sal_clock_mono() - t0); /* peers read as much as this rank */
        rc = sal_agree(ck->comm, &ok);
        sal_bound_leave();
        if (rc != SAL_OK || failed) {
            rc = sal_error(SAL_ERR_PROC_FAILED, "agreement on restoring checkpoint %lld failed",
                           (long long)cand);
            break;
        }
        if (ok) {
            stage_commit(ck, stage);
            ck->last_committed = cand > ck->last_committed ? cand : ck->last_committed;
            break;
        }
        if (next == 1)
            newest_mask = tried.mask;
        rc = report_missing(ck, me, mine, cand, &tried, report, sizeof(report));
        if (rc != SAL_OK)
            break;
        if (me == 0 && chosen < 0)
            SAL_LOG_W("checkpoint %lld is not readable by every rank; trying an older one",
                      (long long)cand);
    }
    stage_free(ck, &stage);
    free(tried.hosts);
    if (rc != SAL_OK)
        return rc;
    if (chosen >= 0)
        sal_restore_chosen_done(ck, chosen, tried.step, newest);
    if (sal_interval_auto_failure(&ck->iauto, sal_clock_mono()) && me == 0)
        SAL_LOG_I("interval=auto: MTBF estimate now %.0f s",
                  sal_interval_auto_mtbf(&ck->iauto, sal_clock_mono()));
    if (step_out)
        *step_out = tried.step;
    if (id_out)
        *id_out = cand;
    return SAL_OK;
}
