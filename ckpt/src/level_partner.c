/* L2: partner copies. At commit every rank sends its file to its partner over MPI (encode); at
 * restore a rank that lost its file receives it back from the partner (fetch), or, in a directory
 * every rank sees, the copy is renamed into place (rebuild_local). The descriptor sal_level_partner
 * (level_ops.h) is the only way in. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "clock.h"
#include "events.h"
#include "fmap.h"
#include "fsutil.h"
#include "level_ops.h"
#include "levels.h"
#include "log.h"

enum { TAG_LEN = 7301, TAG_DATA = 7302 };

/* Adds the seconds since *t0 to *acc (when acc is not NULL) and restarts *t0. */
static void lap(double *acc, double *t0)
{
    double t = sal_clock_mono();

    if (acc)
        *acc += t - *t0;
    *t0 = t;
}

/* Exchange of sizes: this rank sends len to dst (-1: none) and receives one from each of nsrc
 * sources. [OUT] lens[i] (-1 when the source had nothing). */
static int exchange_sizes(MPI_Comm comm, int dst, int64_t len, const int *srcs, int nsrc,
                          int64_t *lens)
{
    MPI_Request *req = sal_msg_requests(nsrc);
    int rc = SAL_OK, nreq = 0, nrecv;

    if (!req)
        return sal_error(SAL_ERR_NOMEM, "partner requests");
    for (int i = 0; i < nsrc && rc == SAL_OK; i++, nreq++)
        rc = sal_mpi_status(MPI_Irecv(&lens[i], 1, MPI_INT64_T, srcs[i], TAG_LEN, comm, &req[i]));
    nrecv = nreq;
    if (rc == SAL_OK && dst >= 0)
        rc = sal_msg_send(&len, 1, MPI_INT64_T, dst, TAG_LEN, comm, &req[nreq++]);
    rc = sal_msg_end(comm, req, nreq, nrecv, rc);
    free(req);
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "exchange of partner copy sizes failed");
}

/* The encoding of this rank in flight: the data messages of its copy to its partner and of the
 * copies it receives, and the files these go into. */
typedef struct l2_work {
    MPI_Comm comm;
    int nsrc, nreq, nrecv, ok;
    int dst, posted;  /* this rank's partner (-1: none); the data messages are posted */
    const void *data; /* this rank's file, len bytes */
    int64_t len;
    const int *srcs;
    int64_t *lens;
    sal_fmap_t *maps;
    MPI_Request *req;
    sal_level_times_t *tm;
} l2_work_t;

/* Posts the data: this rank sends (data, len) to dst (-1: none) and receives w->lens[i] bytes from
 * each source into w->maps[i].data (nothing for lens[i] <= 0). On failure the exchange is ended
 * (sal_msg_end). */
static int post_data(l2_work_t *w, int dst, const void *data, int64_t len)
{
    int total = dst >= 0 ? sal_msg_pieces(len) : 0, rc = SAL_OK;

    for (int i = 0; i < w->nsrc; i++)
        total += sal_msg_pieces(w->lens[i]);
    w->req = sal_msg_requests(total);
    if (!w->req) {
        sal_msg_abandon(w->comm, NULL, 0, 0, SAL_ERR_NOMEM);
        return sal_error(SAL_ERR_NOMEM, "partner requests");
    }
    for (int i = 0; i < w->nsrc && rc == SAL_OK; i++) {
        rc = sal_msg_post(0, w->maps[i].data, w->lens[i], w->srcs[i], TAG_DATA, w->comm,
                          w->req + w->nreq);
        w->nreq += sal_msg_pieces(w->lens[i]);
    }
    w->nrecv = w->nreq;
    if (rc == SAL_OK && dst >= 0)
        rc = sal_msg_post(1, (void *)data, len, dst, TAG_DATA, w->comm, w->req + w->nreq);
    w->nreq += dst >= 0 ? sal_msg_pieces(len) : 0;
    if (rc != SAL_OK)
        rc = sal_msg_end(w->comm, w->req, w->nreq, w->nrecv, rc);
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "transfer of partner copies failed");
}

/* Where each copy this rank receives goes: the temp file of <dir>/partner.<src>.h5, mapped, so
 * that the bytes go from the sender's file straight into it (docs/performance.md); its copy in
 * c->reuse_dir, when there is one, is overwritten instead of a new file. A copy whose
 * file cannot be created is logged, clears *ok and is received into heap memory and dropped
 * (its sender must not wait forever). SAL_OK, or SAL_ERR_NOMEM when not even that memory is
 * there (this rank cannot take part). */
static int create_copies(const sal_level_ctx_t *c, const int *srcs, int nsrc, const int64_t *lens,
                         sal_fmap_t *maps, int *ok)
{
    char path[PATH_MAX], old[PATH_MAX];

    for (int i = 0; i < nsrc; i++) {
        int rc = sal_path_join(path, sizeof(path), "%s/partner.%d.h5", c->dir, srcs[i]);
        int reuse = c->reuse_dir && sal_path_join(old, sizeof(old), "%s/partner.%d.h5",
                                                  c->reuse_dir, srcs[i]) == SAL_OK;
        if (lens[i] < 0)
            continue;
        if (rc == SAL_OK)
            rc =
                sal_fmap_create(path, (size_t)lens[i], reuse ? old : NULL, c->fmap_flags, &maps[i]);
        if (rc == SAL_OK && maps[i].reused)
            SAL_LOG_D("L2: the partner copy of rank %d overwrites %s", srcs[i], old);
        if (rc == SAL_OK)
            continue;
        SAL_LOG_E("L2: cannot store the partner copy of rank %d: %s", srcs[i], sal_last_error());
        *ok = 0;
        maps[i].data = lens[i] > 0 ? malloc((size_t)lens[i]) : NULL;
        maps[i].len = (size_t)lens[i];
        maps[i].fd = -1;
        maps[i].live = 1; /* heap memory only: released by sal_fmap_close */
        if (lens[i] > 0 && !maps[i].data)
            return sal_error(SAL_ERR_NOMEM, "partner copy of %lld bytes", (long long)lens[i]);
    }
    return SAL_OK;
}

/* Publishes the copies received (those with a file). */
static void commit_copies(const int *srcs, int nsrc, const int64_t *lens, sal_fmap_t *maps, int *ok)
{
    for (int i = 0; i < nsrc; i++) {
        if (lens[i] < 0) {
            *ok = 0;
        } else if (maps[i].created && sal_fmap_commit(&maps[i]) != SAL_OK) {
            SAL_LOG_E("L2: cannot store the partner copy of rank %d: %s", srcs[i],
                      sal_last_error());
            *ok = 0;
        }
    }
}

static int store(const char *dir, const char *kind, int r, const char *buf, int64_t len)
{
    char path[PATH_MAX];
    int rc = sal_path_join(path, sizeof(path), "%s/%s.%d.h5", dir, kind, r);

    return rc == SAL_OK ? sal_write_file_atomic(path, buf, (size_t)len, 0600) : rc;
}

/* Releases w (its files closed: the temp files of copies not published are removed). */
static void free_work(l2_work_t *w)
{
    for (int i = 0; i < w->nsrc; i++)
        sal_fmap_close(&w->maps[i]);
    free(w->lens);
    free(w->maps);
    free(w->req);
    free(w);
}

/* Begin (level_ops.h): each rank sends its file (data, len; len < 0 when its write failed) to its
 * partner, which stores it as <dir>/partner.<src>.h5. The sizes travel here and the files of the
 * copies are made; l2_advance posts the data messages (with async_levels, after the commit, so
 * that the commit's own exchanges do not carry the copies) and ends them. *ok = 0 when this rank
 * failed to store a copy it received or its own data was missing. SAL_OK, or
 * SAL_ERR_PROC_FAILED/SAL_ERR_MPI. */
static int l2_begin(const sal_level_ctx_t *c, const void *data, int64_t len, sal_level_work_t **out,
                    int *ok)
{
    const sal_topo_t *t = c->topo;
    double t0 = sal_clock_mono();
    l2_work_t *w;
    int me = 0, dst, rc;

    *out = NULL;
    MPI_Comm_rank(c->comm, &me);
    *ok = len >= 0;
    if (!t->pmap)
        return SAL_OK;
    w = calloc(1, sizeof(*w));
    if (!w)
        return sal_error(SAL_ERR_NOMEM, "partner copies");
    w->comm = c->comm;
    w->tm = c->times;
    w->ok = 1;
    w->data = data;
    w->len = len;
    w->dst = dst = sal_partner_of(t->pmap, me);
    w->nsrc = sal_partner_sources(t->pmap, me, &w->srcs);
    w->lens = calloc((size_t)w->nsrc + 1, sizeof(*w->lens));
    w->maps = calloc((size_t)w->nsrc + 1, sizeof(*w->maps));
    if (!w->lens || !w->maps) {
        w->nsrc = 0;
        free_work(w);
        return sal_error(SAL_ERR_NOMEM, "partner copies");
    }
    rc = exchange_sizes(c->comm, dst, len, w->srcs, w->nsrc, w->lens);
    lap(w->tm ? &w->tm->exchange : NULL, &t0);
    if (rc == SAL_OK)
        rc = create_copies(c, w->srcs, w->nsrc, w->lens, w->maps, &w->ok);
    lap(w->tm ? &w->tm->store : NULL, &t0);
    if (rc != SAL_OK) /* no peer waits for this rank's messages */
        rc = sal_msg_abandon(c->comm, NULL, 0, 0, rc);
    lap(w->tm ? &w->tm->exchange : NULL, &t0);
    if (rc != SAL_OK) {
        free_work(w);
        return rc;
    }
    *out = w;
    return SAL_OK;
}

/* Advance (level_ops.h): the data messages, then the copies received are published. */
static int l2_advance(sal_level_work_t **wp, int wait, int *ok)
{
    l2_work_t *w = *wp;
    sal_level_times_t *tm = w->tm;
    double t0 = sal_clock_mono();
    int rc = SAL_OK, done = 1;

    if (!w->posted) {
        w->posted = 1;
        for (int i = 0; i < w->nsrc; i++)
            sal_fmap_populate(&w->maps[i], 1);
        rc = post_data(w, w->dst, w->data, w->len); /* a failure ends the exchange */
    }
    if (rc == SAL_OK && !wait)
        rc = sal_mpi_status(MPI_Testall(w->nreq, w->req, &done, MPI_STATUSES_IGNORE));
    if (rc == SAL_OK && !wait && !done) {
        lap(tm ? &tm->exchange : NULL, &t0);
        return SAL_OK;
    }
    if (w->req) /* waits (rc: SAL_OK), or ends a failed exchange once more (a no-op) */
        rc = sal_msg_end(w->comm, w->req, w->nreq, w->nrecv, rc);
    lap(tm ? &tm->exchange : NULL, &t0);
    if (rc == SAL_OK)
        commit_copies(w->srcs, w->nsrc, w->lens, w->maps, &w->ok);
    *ok = *ok && w->ok;
    free_work(w);
    lap(tm ? &tm->store : NULL, &t0);
    *wp = NULL;
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "transfer of partner copies failed");
}

/* Abandon (level_ops.h). */
static void l2_abandon(sal_level_work_t **wp)
{
    l2_work_t *w = *wp;

    if (!w)
        return;
    sal_msg_abandon(w->comm, w->posted ? w->req : NULL, w->nreq, w->nrecv, SAL_ERR_PROC_FAILED);
    free_work(w);
    *wp = NULL;
}

/* The partner copy of rank src as held by this rank: bytes, or len -1 when unusable. */
static void read_copy(const char *dir, int src, char **buf, int64_t *len)
{
    char path[PATH_MAX];
    size_t n = 0;

    *buf = NULL;
    *len = -1;
    if (sal_path_join(path, sizeof(path), "%s/partner.%d.h5", dir, src) == SAL_OK &&
        sal_slurp(path, buf, &n) == SAL_OK)
        *len = (int64_t)n;
    else
        SAL_LOG_W("L2: partner copy of rank %d unavailable: %s", src, sal_last_error());
}

/* Holder side of a fetch: reads the copies the needing sources ask for. [OUT] dsts, lens, bufs. */
static int gather_copies(const sal_topo_t *t, const char *dir, int me, const int *need, int *dsts,
                         int64_t *lens, char **bufs)
{
    const int *srcs = NULL;
    int nsrc = sal_partner_sources(t->pmap, me, &srcs), k = 0;

    for (int i = 0; i < nsrc; i++)
        if (need[srcs[i]]) {
            dsts[k] = srcs[i];
            read_copy(dir, srcs[i], &bufs[k], &lens[k]);
            k++;
        }
    return k;
}

/* Collective (same rank count as at write time): every rank with need[r] != 0 receives its copy
 * from its partner, which reads <dir>/partner.<r>.h5, and stores it as <dir>/rank.<r>.h5.
 * [OUT] *got = 1 when this rank needed and obtained a copy. Messages name missing copies.
 * Two phases so that no rank blocks in a send while its own receive is not posted: sizes
 * (receive posted before the sends), then the data (every receive and send posted, one wait). */
static int l2_fetch(const sal_level_ctx_t *c, const int *need, int *got)
{
    const sal_topo_t *t = c->topo;
    const char *dir = c->dir;
    MPI_Comm comm = c->comm;
    int me = 0, from, nd, nreq = 0, nlen = 0, nrecv, total, rc;
    int dsts[SAL_XOR_MAX_GROUP * 64];
    int64_t lens[SAL_XOR_MAX_GROUP * 64], len = -1;
    char *bufs[SAL_XOR_MAX_GROUP * 64], *mine = NULL;
    MPI_Request *lreq, *req;
    const int *srcs;

    MPI_Comm_rank(comm, &me);
    *got = 0;
    if (!t->pmap)
        return SAL_OK;
    if (sal_partner_sources(t->pmap, me, &srcs) > (int)(sizeof(dsts) / sizeof(dsts[0])))
        return sal_error(SAL_ERR_INVALID_ARG, "L2: rank %d holds too many partner copies", me);
    from = need[me] ? sal_partner_of(t->pmap, me) : -1;
    nd = gather_copies(t, dir, me, need, dsts, lens, bufs);
    lreq = sal_msg_requests(1 + nd);
    rc = lreq ? SAL_OK : sal_error(SAL_ERR_NOMEM, "L2 restore requests");
    if (rc == SAL_OK && from >= 0) {
        rc = sal_mpi_status(MPI_Irecv(&len, 1, MPI_INT64_T, from, TAG_LEN, comm, &lreq[0]));
        nlen = rc == SAL_OK;
    }
    nrecv = nlen;
    for (int i = 0; rc == SAL_OK && i < nd; i++)
        rc = sal_msg_send(&lens[i], 1, MPI_INT64_T, dsts[i], TAG_LEN, comm, &lreq[nlen++]);
    if (lreq) /* after a failure, the size receive must not write len after return */
        rc = sal_msg_end(comm, lreq, nlen, nrecv, rc);
    free(lreq);
    total = sal_msg_pieces(len);
    for (int i = 0; i < nd; i++)
        total += sal_msg_pieces(lens[i]);
    req = sal_msg_requests(total);
    mine = len > 0 ? malloc((size_t)len) : NULL;
    if (rc == SAL_OK && (!req || (len > 0 && !mine)))
        rc = sal_error(SAL_ERR_NOMEM, "L2 restore buffers");
    if (rc == SAL_OK && len > 0)
        rc = sal_msg_post(0, mine, len, from, TAG_DATA, comm, req);
    nreq = sal_msg_pieces(len);
    for (int i = 0; rc == SAL_OK && i < nd; i++) {
        rc = sal_msg_post(1, bufs[i], lens[i], dsts[i], TAG_DATA, comm, req + nreq);
        nreq += sal_msg_pieces(lens[i]);
    }
    if (req)
        rc = sal_msg_end(comm, req, nreq, sal_msg_pieces(len), rc);
    if (rc == SAL_OK && len > 0 && store(dir, "rank", me, mine, len) == SAL_OK)
        *got = 1;
    else if (rc == SAL_OK && from >= 0)
        SAL_LOG_W("L2: partner rank %d has no usable copy of rank %d's file", from, me);
    for (int i = 0; i < nd; i++)
        free(bufs[i]);
    free(mine);
    free(req);
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "L2: exchange of partner copies failed");
}

/* Local (shared directory): <dir>/partner.<r>.h5 copied to <dir>/rank.<r>.h5. */
static int l2_rebuild_local(const sal_level_ctx_t *c, int r)
{
    char src[PATH_MAX], dst[PATH_MAX];
    int64_t bytes;
    int rc = sal_path_join(src, sizeof(src), "%s/partner.%d.h5", c->dir, r);

    if (rc == SAL_OK)
        rc = sal_path_join(dst, sizeof(dst), "%s/rank.%d.h5", c->dir, r);
    return rc == SAL_OK ? sal_copy_file(src, dst, &bytes) : rc;
}

/* Once per process: where each host's partner copies go (every rank of a host sends to the same
 * host, redundancy.h). A log line and an `l2_partners` event: a host lost together with the host
 * that holds its copies loses data without L3 or L4. */
static void l2_warn_topology(const sal_topo_t *t)
{
    char line[2048] = "", json[4096] = "", a[2 * SAL_HOST_LEN], b[2 * SAL_HOST_LEN];
    size_t ul = 0, uj = 0;

    if (sal_partner_map_scope(t->pmap) == SAL_PARTNER_SAME_HOST) {
        SAL_LOG_W("L2: every rank runs on host %s, so partner copies protect against the loss of a "
                  "process only, not of the host",
                  t->hosts[0]);
        return;
    }
    if (sal_partner_map_scope(t->pmap) != SAL_PARTNER_OTHER_HOST)
        return;
    for (int r = 0; r < t->nranks && ul < sizeof(line) && uj < sizeof(json); r++) {
        const char *to;

        if (!t->first[r])
            continue;
        to = t->hosts[sal_partner_of(t->pmap, r)];
        ul += (size_t)snprintf(line + ul, sizeof(line) - ul, "%s%s -> %s", ul ? ", " : "",
                               t->hosts[r], to);
        uj += (size_t)snprintf(json + uj, sizeof(json) - uj, "%s\"%s\":\"%s\"", uj ? "," : "",
                               sal_json_escape(a, sizeof(a), t->hosts[r]),
                               sal_json_escape(b, sizeof(b), to));
    }
    if (ul >= sizeof(line) || uj >= sizeof(json))
        return; /* too many hosts for one line: nothing half written */
    SAL_LOG_I("L2: the partner copies of each host's ranks go to %s; a host lost together with "
              "the host of its copies loses data unless L3 or L4 covers it",
              line);
    sal_event("l2_partners", "\"hosts\":{%s}", json);
}

const sal_level_ops_t sal_level_partner = {
    .bit = SAL_LVL_L2,
    .name = "L2",
    .restored = "L2 (partner copy)",
    .rebuilt = "restored from its partner copy",
    .covers = "L2 (a partner copy on another host)",
    .warn_topology = l2_warn_topology,
    .begin = l2_begin,
    .advance = l2_advance,
    .abandon = l2_abandon,
    .fetch = l2_fetch,
    .rebuild_local = l2_rebuild_local,
};
