/*
 * The coordinated two-phase commit:
 * 1. prepare: rank 0 removes uncommitted leftovers, picks id = newest + 1, creates ckpt.<id>,
 *    and broadcasts the id and the checkpoint whose rank files this one overwrites (reuse_files).
 * 2. write: every rank writes rank.<r>.h5 (temp name, fsync, rename).
 * 3. redundancy: host exchange; every level of the table that encodes (L2 partner copies, L3
 *    parity: level_ops.h), in table order; the lowest rank of each host writes `levels`.
 * 4. gather: rank 0 collects each rank's status, bytes, region signature and block layout.
 * 5. agree: sal_agree() on the AND of every rank's status; any failure aborts this checkpoint.
 * 6. publish: rank 0 writes manifest.h5, then atomically replaces `latest` (the commit point).
 * 7. outcome: rank 0 broadcasts the result, so every rank returns the same status.
 * 8. retain: the lowest rank of each host deletes all but the `keep` newest checkpoints there
 *    (keep + 1 with reuse_files), only after publication.
 * 9. flush: every rank queues the committed checkpoint for the asynchronous levels it is due to
 *    (L4's thread: every pfs_every-th).
 * With async_levels, step 3 only begins L2 and L3 (level_async.h): the checkpoint commits at L1,
 * and the next one ends their messages before step 2 and agrees on them in its step 5.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "aside.h"
#include "bound.h"
#include "commit_records.h"
#include "ckpt_impl.h"
#include "clock.h"
#include "events.h"
#include "fmap.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"

/* With async_levels: the newest of the committed checkpoints ids[0..n) (newest first) whose levels
 * are complete (no `pending` file), which retention keeps and the next checkpoint does not
 * overwrite while newer ones are still L1 (level_async.h); -1 without async_levels or when the
 * newest is complete itself. */
static int64_t newest_complete(const struct sal_ckpt *ck, const int64_t *ids, int n)
{
    char dir[PATH_MAX];

    for (int i = 0; ck->async_levels && i < n; i++)
        if (sal_ckpt_dir_path(ck, ids[i], dir, sizeof(dir)) == SAL_OK && !sal_pending_marked(dir))
            return i == 0 ? -1 : ids[i];
    return -1;
}

/* The committed checkpoint whose rank files the next one overwrites (reuse_files): the one after
 * the keep newest of ids[from..n) that are not set aside (aside.h), or -1, also when the set-aside
 * record cannot be read. */
static int64_t reuse_candidate(const struct sal_ckpt *ck, const int64_t *ids, int from, int n)
{
    int64_t complete = newest_complete(ck, ids + from, n - from);
    sal_aside_t a;
    int k = 0;

    if (!ck->reuse_files)
        return -1;
    sal_aside_load(ck->job_dir, &a); /* unreadable: every checkpoint counts as set aside */
    for (int i = from; i < n; i++)
        if (!sal_aside_has(&a, ids[i]) && k++ == ck->keep)
            return ids[i] == complete ? -1 : ids[i];
    return -1;
}

/* Rank 0: removes checkpoint directories newer than `latest` (never committed), drops the finish
 * marker, creates ckpt.<id> for the next id. Returns the id or a negative status. [OUT] *reuse: the
 * committed checkpoint whose rank files the next one overwrites (reuse_files: the oldest beyond
 * keep, which retention deletes after the next commit), or -1. */
static int64_t prepare_id(struct sal_ckpt *ck, int64_t *reuse)
{
    int64_t ids[SAL_MAX_LISTED], latest = -1, next;
    char path[PATH_MAX];
    int n, rc, keep_all;

    rc = sal_latest_read(ck->job_dir, &latest);
    if (rc != SAL_OK && rc != SAL_ERR_NO_CKPT)
        SAL_LOG_W("ignoring unreadable latest pointer in %s: %s", ck->job_dir, sal_last_error());
    keep_all = rc != SAL_OK && rc != SAL_ERR_NO_CKPT; /* which ones were committed is unknown */
    /* This host's pointer may be older than what the job committed (a relaunch on a host that
     * replaced a lost one): what this handle restored or committed is committed too. */
    latest = ck->last_committed > latest ? ck->last_committed : latest;
    rc = sal_ckpt_list_dirs(ck->job_dir, ids, SAL_MAX_LISTED, &n);
    if (rc != SAL_OK)
        return rc;
    next = (n > 0 && ids[0] > latest ? ids[0] : latest) + 1;
    next = next > ck->id_floor ? next : ck->id_floor;
    int i = 0;
    for (; !keep_all && i < n && ids[i] > latest; i++) {
        if (sal_ckpt_dir_path(ck, ids[i], path, sizeof(path)) == SAL_OK) {
            SAL_LOG_I("removing uncommitted checkpoint %s", path);
            sal_remove_tree(path);
        }
    }
    *reuse = keep_all ? -1 : reuse_candidate(ck, ids, i, n);
    if (sal_path_join(path, sizeof(path), "%s/finished", ck->job_dir) == SAL_OK)
        unlink(path);
    rc = sal_ckpt_dir_path(ck, next, path, sizeof(path));
    if (rc == SAL_OK)
        rc = sal_mkdir_p(path, 0700);
    return rc == SAL_OK ? next : rc;
}

/* The file this rank's next rank file may overwrite: its own file of checkpoint reuse (NULL
 * when there is none, or while the L4 thread may still be copying an older checkpoint). */
static const char *reusable_file(struct sal_ckpt *ck, int64_t reuse, int rank, char *buf,
                                 size_t size)
{
    char dir[PATH_MAX];

    if (reuse < 0 || !sal_levels_idle(&ck->async) ||
        sal_ckpt_dir_path(ck, reuse, dir, sizeof(dir)) != SAL_OK ||
        sal_path_join(buf, size, "%s/rank.%d.h5", dir, rank) != SAL_OK)
        return NULL;
    return buf;
}

/* The wall-clock time (seconds since 1970, the `time` attribute of docs/format.md) of t0, a moment
 * on the monotonic clock. */
static double wall_time_of(double t0)
{
    return sal_clock_wall() - (sal_clock_mono() - t0);
}

static int write_own_file(struct sal_ckpt *ck, int64_t id, int64_t step, double t0, int64_t *bytes)
{
    char dir[PATH_MAX], path[PATH_MAX], old[PATH_MAX];
    const char *from;
    int reused = 0;
    sal_rank_meta_t meta = {.id = id, .step = step, .time = wall_time_of(t0)};
    int rc;

    meta.rank = sal_comm_rank(ck->comm);
    meta.nranks = sal_comm_size(ck->comm);
    rc = sal_ckpt_dir_path(ck, id, dir, sizeof(dir));
    if (rc == SAL_OK) /* node-local directories: rank 0 created ckpt.<id> on its host only */
        rc = sal_mkdir_p(dir, 0700);
    if (rc == SAL_OK)
        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, meta.rank);
    if (rc == SAL_OK) {
        sal_h5_write_opts_t o = {.differential = ck->differential, .compression = ck->compression};
        from = reusable_file(ck, ck->reuse_id, meta.rank, old, sizeof(old));
        o.reuse = from;
        /* the pages written since the last checkpoint, just before the data is copied (at every
         * checkpoint: the files this one writes are those later ones overwrite) */
        if (ck->dirty) {
            if (sal_dirty_scan(ck->dirty, ck->regions, ck->nregions, id) == SAL_OK) {
                o.dirty = from ? ck->dirty : NULL;
                o.dirty_since = ck->reuse_id;
            } else { /* from now on every chunk is hashed */
                SAL_LOG_W("checkpoint %lld: %s; every chunk is hashed from now on", (long long)id,
                          sal_last_error());
                sal_dirty_close(ck->dirty);
                ck->dirty = NULL;
            }
        }
        rc = sal_h5_write_rank_opts(path, &meta, ck->regions, ck->nregions, bytes, &o);
        reused = o.reused;
        ck->reused_mine = reused;
        ck->unchanged_mine = o.skipped;
        ck->unread_mine = o.unread;
        if (from)
            SAL_LOG_D("checkpoint %lld: %s %s", (long long)id,
                      reused ? "overwrote the storage of" : "could not reuse", from);
    }
    if (rc != SAL_OK)
        SAL_LOG_E("checkpoint %lld: %s", (long long)id, sal_last_error());
    return rc;
}

/* Warns once when the redundancy levels cannot survive the loss of a host. */
static void warn_topology(struct sal_ckpt *ck, int me, int mask)
{
    if (me != 0 || ck->warned || !ck->topo.pmap)
        return;
    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->warn_topology && (mask & sal_level_table[i]->bit))
            sal_level_table[i]->warn_topology(&ck->topo);
    ck->warned = 1;
}

/* The levels of mask that encode at commit. */
static int encoding(int mask)
{
    int enc = 0;

    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->begin)
            enc |= sal_level_table[i]->bit;
    return mask & enc;
}

/* Collective: every level of mask that encodes, in table order, on this rank's file (data, len;
 * len < 0 when it is missing). [INOUT] *ok: cleared by a level that failed on this rank. Returns
 * SAL_OK, or the status of the exchange that failed (the levels after it are skipped). */
/* The directory whose files the levels keep for others the files of this checkpoint overwrite in
 * place, like the rank files and under the same conditions (reusable_file), or NULL. */
static const char *reuse_dir(struct sal_ckpt *ck, char *buf, size_t size)
{
    if (ck->reuse_id >= 0 && sal_levels_idle(&ck->async) &&
        sal_ckpt_dir_path(ck, ck->reuse_id, buf, size) == SAL_OK)
        return buf;
    return NULL;
}

static int encode_levels(struct sal_ckpt *ck, int mask, const char *dir, const void *data,
                         int64_t len, int *ok)
{
    char old[PATH_MAX];
    const char *reuse = reuse_dir(ck, old, sizeof(old));
    int rc = SAL_OK;

    for (int i = 0; i < SAL_LEVEL_COUNT && rc == SAL_OK; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        const sal_level_ctx_t ctx = {ck->levels_comm,      &ck->topo, dir,
                                     &ck->phases.level[i], reuse,     0};
        int lok = 1;
        if (!l->begin || !(mask & l->bit))
            continue;
        rc = sal_level_encode(l, &ctx, data, *ok ? len : -1, &lok);
        *ok = *ok && lok;
    }
    return rc;
}

/* Collective: the redundancy levels of checkpoint id after the rank files are written. [INOUT] *ok
 * (this rank's status so far). [OUT] *mask: the levels written. SAL_ERR_PROC_FAILED when a
 * collective failed; every other problem clears *ok. */
static int redundancy(struct sal_ckpt *ck, int me, int64_t id, int64_t step, int *ok, int *mask)
{
    char dir[PATH_MAX], path[PATH_MAX], old[PATH_MAX], host[SAL_HOST_LEN];
    sal_fmap_t file = {.fd = -1};
    int64_t dlen = -1;
    int rc, later = 0;
    double t0 = sal_clock_mono();

    sal_ckpt_host_name(ck, host, sizeof(host));
    rc = sal_topo_exchange(ck->comm, host, ck->xor_size, &ck->topo);
    ck->phases.hosts = sal_clock_mono() - t0;
    if (rc != SAL_OK)
        return rc == SAL_ERR_PROC_FAILED || rc == SAL_ERR_MPI ? SAL_ERR_PROC_FAILED : rc;
    *mask = ck->levels | (ck->levels_auto && ck->topo.nhosts >= 2 ? SAL_LVL_L2 : 0);
    warn_topology(ck, me, *mask);
    rc = sal_ckpt_dir_path(ck, id, dir, sizeof(dir));
    t0 = sal_clock_mono();
    /* The levels read this rank's file from its pages (mapped, not copied): it was just written
     * by this process and nothing changes it until the next checkpoint. */
    if (rc == SAL_OK && *ok && encoding(*mask) &&
        sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, me) == SAL_OK) {
        if (sal_fmap_read(path, ck->async_levels ? SAL_FMAP_LAZY : 0, &file) == SAL_OK &&
            file.len <= INT64_MAX)
            dlen = (int64_t)file.len;
        else
            SAL_LOG_E("checkpoint %lld: %s", (long long)id, sal_last_error());
    }
    ck->phases.map = sal_clock_mono() - t0;
    sal_bound_credit_since(t0);
    if (rc == SAL_OK && encoding(*mask))
        sal_inject_point(ck->inject, me, step, SAL_INJ_CKPT_COPY);
    /* An exchange that returned counts as local work, as in a restore: the copies it moved are
     * written by the ranks that go on to the next exchange. */
    t0 = sal_clock_mono();
    if (rc == SAL_OK && encoding(*mask))
        rc = sal_levels_comm(ck);
    if (rc == SAL_OK && ck->async_levels && encoding(*mask)) {
        later = encoding(*mask);
        *mask &= ~later;
        rc =
            sal_pending_begin(ck, id, later, dir, reuse_dir(ck, old, sizeof(old)), &file, dlen, ok);
    } else if (rc == SAL_OK) {
        rc = encode_levels(ck, *mask, dir, file.data, dlen, ok);
    }
    sal_bound_credit_since(t0);
    sal_fmap_close(&file);
    /* The levels record is on every host, like `latest` and the manifest (after_commit); so is
     * the `pending` file of levels still being encoded. */
    if (rc == SAL_OK && sal_ckpt_host_leader(ck, me) &&
        (sal_levels_write(dir, *mask, ck->xor_size, &ck->topo) != SAL_OK ||
         (later && sal_pending_mark(dir, later) != SAL_OK))) {
        SAL_LOG_E("checkpoint %lld: %s", (long long)id, sal_last_error());
        *ok = 0;
    }
    if (rc == SAL_ERR_PROC_FAILED || rc == SAL_ERR_MPI)
        return SAL_ERR_PROC_FAILED;
    if (rc != SAL_OK)
        *ok = 0;
    return SAL_OK;
}

/* Rank 0: manifest, then the `latest` pointer (the commit point). */
static int publish(struct sal_ckpt *ck, int64_t id, int64_t step, double t0, const int64_t *recs,
                   int64_t bytes)
{
    sal_manifest_t m;
    char dir[PATH_MAX];
    int rc;

    memset(&m, 0, sizeof(m));
    m.id = id;
    m.step = step;
    m.time = wall_time_of(t0);
    m.nranks = sal_comm_size(ck->comm);
    m.format_version = SAL_FORMAT_VERSION;
    m.bytes = bytes;
    rc = sal_commit_build_manifest(ck, recs, m.nranks, &m);
    if (rc == SAL_OK)
        rc = sal_ckpt_dir_path(ck, id, dir, sizeof(dir));
    if (rc == SAL_OK)
        rc = sal_manifest_write(dir, &m);
    if (rc == SAL_OK)
        rc = sal_latest_write(ck->job_dir, id);
    if (rc != SAL_OK)
        SAL_LOG_E("checkpoint %lld not published: %s", (long long)id, sal_last_error());
    sal_manifest_free(&m);
    return rc;
}

/* The lowest rank of each host, after publication: keeps the `keep` newest checkpoint directories
 * there (one more with reuse_files: the next checkpoint overwrites its files), not counting those
 * set aside by a restart from an older one, which it never deletes. */
static void retain(struct sal_ckpt *ck, int64_t committed)
{
    int64_t ids[SAL_MAX_LISTED];
    char path[PATH_MAX];
    int n, kept = 0, from = 0;
    int64_t complete;
    sal_aside_t aside;

    if (sal_aside_load(ck->job_dir, &aside) != SAL_OK) {
        SAL_LOG_W("%s; deleting no old checkpoint", sal_last_error());
        return;
    }
    if (sal_ckpt_list_dirs(ck->job_dir, ids, SAL_MAX_LISTED, &n) != SAL_OK)
        return;
    while (from < n && ids[from] > committed)
        from++;
    complete = newest_complete(ck, ids + from, n - from);
    for (int i = 0; i < n; i++) {
        /* newer directories belong to the next checkpoint, already begun by faster ranks */
        if (ids[i] > committed || sal_aside_has(&aside, ids[i]) || ids[i] == complete ||
            kept++ < ck->keep + ck->reuse_files)
            continue;
        if (sal_ckpt_dir_path(ck, ids[i], path, sizeof(path)) == SAL_OK &&
            sal_remove_tree(path) != SAL_OK)
            SAL_LOG_W("could not delete old checkpoint %s: %s", path, sal_last_error());
    }
}

/* Rank 0: removes the directory of an aborted checkpoint. */
static void discard(struct sal_ckpt *ck, int64_t id)
{
    char path[PATH_MAX];

    if (sal_ckpt_dir_path(ck, id, path, sizeof(path)) == SAL_OK)
        sal_remove_tree(path);
}

/* Collective, after publication: every host keeps the manifest and the `latest` pointer of the
 * commit, so that the loss of any one host, rank 0's included, loses no committed checkpoint (the
 * restore pools what the hosts hold). Rank 0 broadcasts its manifest file; the lowest rank of each
 * other host writes it, then the pointer. A failure here is logged: the commit stands. */
static void replicate_commit(struct sal_ckpt *ck, int me, int64_t id)
{
    char dir[PATH_MAX], path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    int64_t n = -1;
    int mine = me != 0 && sal_ckpt_host_leader(ck, me), have;

    if (ck->topo.nhosts < 2) /* one directory: rank 0's copies are everyone's */
        return;
    if (sal_ckpt_dir_path(ck, id, dir, sizeof(dir)) != SAL_OK ||
        sal_path_join(path, sizeof(path), "%s/manifest.h5", dir) != SAL_OK)
        path[0] = '\0';
    if (me == 0 && path[0] && sal_slurp(path, &buf, &len) == SAL_OK && len < INT_MAX)
        n = (int64_t)len;
    if (MPI_Bcast(&n, 1, MPI_INT64_T, 0, ck->comm) != MPI_SUCCESS || n <= 0)
        goto out;
    if (me != 0)
        buf = malloc((size_t)n);
    have = buf != NULL;
    if (MPI_Allreduce(MPI_IN_PLACE, &have, 1, MPI_INT, MPI_MIN, ck->comm) != MPI_SUCCESS || !have ||
        MPI_Bcast(buf, (int)n, MPI_BYTE, 0, ck->comm) != MPI_SUCCESS)
        goto out;
    if (mine && buf && path[0] && sal_write_file_atomic(path, buf, (size_t)n, 0600) != SAL_OK)
        SAL_LOG_W("checkpoint %lld: this host's copy of the manifest: %s", (long long)id,
                  sal_last_error());
out:
    if (mine && sal_latest_write(ck->job_dir, id) != SAL_OK)
        SAL_LOG_W("checkpoint %lld: this host's copy of latest: %s", (long long)id,
                  sal_last_error());
    free(buf);
}

/* The members of the `phases` object of the ckpt_commit event (docs/events.md): p's times, the
 * levels' for the levels of mask that encode. Returns buf. */
static const char *phases_json(const sal_phases_t *p, int mask, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size,
                                "\"write\":%.6f,\"hosts\":%.6f,\"map\":%.6f,\"agree\":%.6f,"
                                "\"publish\":%.6f",
                                p->write, p->hosts, p->map, p->agree, p->publish);

    for (int i = 0; i < SAL_LEVEL_COUNT && n < size; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        if (l->begin && (mask & l->bit))
            n += (size_t)snprintf(buf + n, size - n, ",\"%s_exchange\":%.6f,\"%s_store\":%.6f",
                                  l->name, p->level[i].exchange, l->name, p->level[i].store);
    }
    return buf;
}

/* Every rank, after a commit: retention (one rank per host), the commit event (rank 0), L4 queue,
 * interval update. */
static void after_commit(struct sal_ckpt *ck, int me, int64_t id, int64_t step, int64_t bytes,
                         int mask, double t0)
{
    char lv[32], pv[32];
    double secs = sal_clock_mono() - t0;
    int due = sal_levels_due(&ck->async, id);

    if (ck->own_first_id < 0)
        ck->own_first_id = id;
    ck->last_committed = id;
    replicate_commit(ck, me, id);
    if (sal_ckpt_host_leader(ck, me))
        retain(ck, id);
    if (me == 0) {
        char ph[512];
        sal_event("ckpt_commit",
                  "\"id\":%lld,\"step\":%lld,\"bytes\":%lld,\"seconds\":%.6f,"
                  "\"level\":\"%s\",\"pending\":\"%s\",\"l4\":\"%s\",\"reused_files\":%d,"
                  "\"unchanged_bytes\":%lld,\"unread_bytes\":%lld,\"phases\":{%s}",
                  (long long)id, (long long)step, (long long)bytes, secs,
                  sal_levels_name(mask, lv, sizeof(lv)),
                  ck->pending.id == id ? sal_levels_name(ck->pending.mask, pv, sizeof(pv)) : "",
                  (due & SAL_LVL_L4) ? "queued" : "no", ck->reused_ranks,
                  (long long)ck->unchanged_bytes, (long long)ck->unread_bytes,
                  phases_json(&ck->phases, mask, ph, sizeof(ph)));
    }
    sal_levels_submit(&ck->async, due, id, me, sal_comm_size(ck->comm));
    if (sal_interval_auto_cost(&ck->iauto, secs, sal_clock_mono()) && me == 0)
        sal_event("interval", "\"cost\":%.6f,\"mtbf\":%.1f,\"seconds\":%.3f", ck->iauto.cost,
                  sal_interval_auto_mtbf(&ck->iauto, sal_clock_mono()), ck->iauto.period);
}

/* Collective: rank 0 prepares the id; every rank learns it (or the failure) and the checkpoint
 * whose files it may overwrite. */
static int agree_on_id(struct sal_ckpt *ck, int me, int64_t *id, int64_t *reuse)
{
    int64_t v[2] = {0, -1};

    /* Rank 0's host may be new (its directory empty) while other hosts hold an earlier run's
     * checkpoints: ids must not go back, or a later restore would take the earlier run's
     * checkpoint for the newest. A handle looks at its directory once (a fresh process: at the
     * start, or a replacement); the exchange itself runs every time, on every rank alike. */
    if (ck->id_floor < 0) {
        int64_t limit, newest;
        sal_job_view(ck->job_dir, &limit, &newest);
        v[0] = (limit == INT64_MAX || newest > limit ? newest : limit) + 1;
    }
    v[0] = v[0] > ck->id_floor ? v[0] : ck->id_floor;
    if (MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the checkpoint ids failed");
    ck->id_floor = v[0];
    v[0] = 0;
    if (me == 0)
        v[0] = prepare_id(ck, &v[1]);
    if (MPI_Bcast(v, 2, MPI_INT64_T, 0, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "broadcast of the checkpoint id failed");
    if (v[0] < 0)
        return sal_error(SAL_ERR_ABORTED, "rank 0 could not prepare the checkpoint directory in %s",
                         ck->job_dir);
    *id = v[0];
    *reuse = v[1];
    return SAL_OK;
}

/* The bits of the commit agreement's flag (sal_agree ANDs them bitwise). */
enum { VOTE_COMMIT = 1, VOTE_PREVIOUS = 2 };

/* Collective: write, gather, agree; the agreement also covers the levels of the previous checkpoint
 * encoded behind the application (*prev, ended here first: level_async.h). [OUT] *recs (rank 0
 * only, caller frees); *prev_agreed: every rank stored its part of *prev. Returns SAL_OK when
 * every rank wrote its file; SAL_ERR_ABORTED or SAL_ERR_PROC_FAILED otherwise. */
static int write_and_agree(struct sal_ckpt *ck, int me, int64_t id, int64_t step, double t0,
                           int64_t **recs, int64_t *bytes, int *mask, sal_settled_t *prev,
                           int *prev_agreed)
{
    size_t len = sal_commit_record_len(ck);
    int64_t *mine = calloc(len, sizeof(int64_t)), mybytes = 0;
    char what[96];
    int nranks = sal_comm_size(ck->comm), ok, rc, failed, vote;
    double t1;

    /* The rank files this checkpoint overwrites are not those the previous one's levels send
     * (on the error path below as well: ended, unrecorded). */
    sal_pending_finish(ck, prev);
    *prev_agreed = 0;
    *recs = me == 0 ? calloc(len * (size_t)nranks, sizeof(int64_t)) : NULL;
    if (!mine || (me == 0 && !*recs)) {
        free(mine);
        return sal_error(SAL_ERR_NOMEM, "checkpoint layout records");
    }
    sal_inject_point(ck->inject, me, step, SAL_INJ_CKPT_WRITE);
    t1 = sal_clock_mono();
    ok = write_own_file(ck, id, step, t0, &mybytes) == SAL_OK;
    ck->phases.write = sal_clock_mono() - t1;
    sal_bound_credit_since(t1);
    /* Every rank reaches the agreement, whatever its exchanges returned: under ULFM a collective
     * can fail on one rank and succeed on the others, which then wait in the agreement for it
     * (they would wait forever: a revoke does not end an agreement). A failure seen here votes
     * 0 and is reported after the agreement. */
    failed = redundancy(ck, me, id, step, &ok, mask) != SAL_OK || prev->lost;
    t1 = sal_clock_mono();
    sal_commit_fill_record(ck, ok, mybytes, mine);
    if (!failed)
        failed = MPI_Gather(mine, (int)len, MPI_INT64_T, *recs, (int)len, MPI_INT64_T, 0,
                            ck->comm) != MPI_SUCCESS;
    free(mine);
    ok = ok && !failed;
    if (me == 0 && ok)
        ok = sal_commit_records_ok(ck, *recs, nranks, bytes);
    sal_inject_point(ck->inject, me, step, SAL_INJ_CKPT_AGREE);
    snprintf(what, sizeof(what), "the commit agreement of checkpoint %lld", (long long)id);
    /* Peers write as much as this rank: its own time so far is the cost the wait scales with. */
    sal_bound_enter(what, sal_clock_mono() - t0);
    vote = (ok ? VOTE_COMMIT : 0) | (prev->ok ? VOTE_PREVIOUS : 0);
    rc = sal_agree(ck->comm, &vote);
    sal_bound_leave();
    ok = (vote & VOTE_COMMIT) != 0;
    *prev_agreed = rc == SAL_OK && !failed && (vote & VOTE_PREVIOUS) != 0;
    ck->phases.agree = sal_clock_mono() - t1;
    if (rc != SAL_OK || failed)
        return sal_error(SAL_ERR_PROC_FAILED, "checkpoint %lld: a process failed during its %s",
                         (long long)id, failed ? "exchanges" : "agreement");
    if (!ok)
        return sal_error(SAL_ERR_ABORTED,
                         "checkpoint %lld: a rank could not write its file or its "
                         "redundancy (partner copy, parity)",
                         (long long)id);
    return SAL_OK;
}

static int write_checkpoint(struct sal_ckpt *ck, int me, int64_t id, int64_t step, double t0);

int sal_ckpt_write(sal_ckpt_t ck, int64_t step, int64_t *id_out)
{
    double t0 = sal_clock_mono();
    int64_t id = -1;
    char what[64];
    int me, rc;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    me = sal_comm_rank(ck->comm);
    ck->reused_mine = ck->reused_ranks = 0;
    ck->unchanged_mine = ck->unchanged_bytes = 0;
    ck->unread_mine = ck->unread_bytes = 0;
    rc = agree_on_id(ck, me, &id, &ck->reuse_id);
    if (rc != SAL_OK)
        return rc;
    /* From here on the ranks have all arrived (the id exchange): every exchange of the checkpoint
     * waits for peers that do the same local work as this rank (bound.h). */
    snprintf(what, sizeof(what), "the protocol of checkpoint %lld", (long long)id);
    sal_bound_enter(what, 0);
    rc = write_checkpoint(ck, me, id, step, t0);
    sal_bound_leave();
    if (rc == SAL_OK && id_out)
        *id_out = id;
    return rc;
}

static int write_checkpoint(struct sal_ckpt *ck, int me, int64_t id, int64_t step, double t0)
{
    int64_t bytes = 0, *recs = NULL;
    int rc, mask = SAL_LVL_L1, prev_agreed = 0;
    sal_settled_t prev;
    double t1;

    memset(&ck->phases, 0, sizeof(ck->phases));
    if (me == 0)
        sal_event("ckpt_begin", "\"id\":%lld,\"step\":%lld", (long long)id, (long long)step);
    rc = write_and_agree(ck, me, id, step, t0, &recs, &bytes, &mask, &prev, &prev_agreed);
    sal_ckpt_record_settled(ck, &prev, prev_agreed, me);
    t1 = sal_clock_mono();
    if (rc == SAL_OK && me == 0) {
        sal_inject_point(ck->inject, me, step, SAL_INJ_CKPT_PUBLISH);
        rc = publish(ck, id, step, t0, recs, bytes);
    }
    free(recs);
    if (rc != SAL_ERR_PROC_FAILED && MPI_Bcast(&rc, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS)
        rc = sal_error(SAL_ERR_PROC_FAILED, "broadcast of checkpoint %lld outcome failed",
                       (long long)id);
    ck->phases.publish = sal_clock_mono() - t1;
    if (rc == SAL_OK)
        after_commit(ck, me, id, step, bytes, mask, t0);
    else /* after a process failure the repair revokes the communicator anyway */
        sal_pending_drop(ck, rc != SAL_ERR_PROC_FAILED);
    if (me == 0 && rc != SAL_OK) {
        if (rc == SAL_ERR_ABORTED)
            discard(ck, id);
        sal_event("ckpt_abort", "\"id\":%lld,\"step\":%lld,\"reason\":\"%s\"", (long long)id,
                  (long long)step, sal_strerror(rc));
    }
    return rc == SAL_OK ? SAL_OK : (rc == SAL_ERR_PROC_FAILED ? rc : SAL_ERR_ABORTED);
}
