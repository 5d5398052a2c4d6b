/*
 * Local rollback (rollback=local, docs/recovery.md "Local rollback"): after a failure only the
 * replacement re-executes the steps since the last checkpoint, fed from the survivors' message
 * logs (interpose/logging.h), while the survivors go back at most to the start of the step they
 * were in, from an in-memory copy of their protected regions.
 *
 * State of this process: the copies of the regions at the start of the last two steps (the ring),
 * the position a failure found it at, and the replay in progress in a replacement.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt_internal.h"
#include "events.h"
#include "interpose.h"
#include "log.h"
#include "logging.h"
#include "runtime.h"

enum { RING = 2, TAG_RECIPES = 0, TAG_DONE = 1 };

typedef struct copy {
    int64_t step; /* the regions after this many steps; -1: empty */
    void *buf;
    size_t len;
} copy_t;

static struct {
    int armed;     /* sal_run with rollback=local */
    int replaying; /* this process re-executes steps up to target */
    int64_t target;
    int pending; /* a failure was seen and its protocol has not completed */
    int64_t pos; /* ... the completed steps of this process when it was seen */
    copy_t ring[RING];
    MPI_Request done; /* a survivor's last message of the protocol (done_send) */
} L = {.ring = {{-1, NULL, 0}, {-1, NULL, 0}}, .done = MPI_REQUEST_NULL};

/* What the message log held at the end of each interval (a commit, sal_finalize), for the event
 * msglog: intervals whose log overflowed are not counted. */
static struct {
    uint64_t bytes_max, bytes_sum;
    int64_t steps;
} M;

int sal_rt_local_armed(void)
{
    return L.armed;
}

int sal_rt_local_replaying(void)
{
    return L.armed && L.replaying;
}

void sal_rt_local_arm(void)
{
    if (L.armed || !sal_rt.set || strcmp(sal_rt.set->rollback, "local") != 0)
        return;
    L.armed = 1;
    sal_logging_setup(&sal_rt.world, (size_t)sal_rt.set->rollback_log_max, sal_rt.step);
}

static copy_t *find_copy(int64_t step)
{
    for (int i = 0; i < RING; i++)
        if (L.ring[i].step == step && step >= 0)
            return &L.ring[i];
    return NULL;
}

/* Copies the regions (the state after `step` steps) into the oldest slot of the ring. A copy that
 * cannot be made leaves that slot empty: a failure then rolls back globally. */
static void keep_copy(int64_t step)
{
    copy_t *c = find_copy(step);
    size_t len = sal_ckpt_regions_size(sal_rt.ck);

    if (!c)
        c = L.ring[0].step <= L.ring[1].step ? &L.ring[0] : &L.ring[1];
    c->step = -1;
    if (len != c->len) {
        void *p = realloc(c->buf, len ? len : 1);
        if (!p)
            return;
        c->buf = p;
        c->len = len;
    }
    if (sal_ckpt_regions_copy(sal_rt.ck, c->buf, c->len, 0) == SAL_OK)
        c->step = step;
}

void sal_rt_local_step_begin(void)
{
    if (!L.armed)
        return;
    if (L.replaying && sal_rt.step >= L.target) {
        L.replaying = 0;
        sal_msglog_free(sal_logging_replay_log());
        SAL_LOG_I("local rollback: replay done at step %lld", (long long)sal_rt.step);
    }
    if (L.replaying)
        sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_REPLAY);
    keep_copy(sal_rt.step);
    sal_logging_step_begin(sal_rt.step + 1, L.replaying ? SAL_LOGGING_REPLAY : SAL_LOGGING_LOG);
}

void sal_rt_local_step_end(void)
{
    sal_logging_step_end();
}

/* Adds the log of the interval ending now to M. */
static void measure(void)
{
    const sal_msglog_t *own = sal_logging_log();
    int64_t steps = sal_rt.step - own->base;

    if (own->overflow || steps <= 0)
        return;
    M.bytes_sum += own->len;
    M.steps += steps;
    if (own->len > M.bytes_max)
        M.bytes_max = own->len;
}

/* The survivor's message that ended the last protocol: freed once its receiver matched it (a
 * commit follows the replacement's replay, so it has long been matched). */
static void done_end(void)
{
    int flag = 0;

    if (L.done != MPI_REQUEST_NULL && MPI_Test(&L.done, &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS &&
        flag)
        MPI_Request_free(&L.done);
}

void sal_rt_local_committed(void)
{
    if (!L.armed)
        return;
    done_end();
    measure();
    sal_logging_drop(sal_rt.step);
}

void sal_rt_local_report(void)
{
    if (!L.armed)
        return;
    measure();
    sal_event("msglog",
              "\"steps\":%lld,\"bytes_max\":%llu,\"bytes_per_step\":%.1f,\"copy_bytes\":%llu",
              (long long)M.steps, (unsigned long long)M.bytes_max,
              M.steps > 0 ? (double)M.bytes_sum / (double)M.steps : 0.0,
              (unsigned long long)L.ring[0].len + (unsigned long long)L.ring[1].len);
}

void sal_rt_local_failed(int mid_step)
{
    if (!L.armed)
        return;
    sal_logging_step_end();
    L.replaying = 0;
    /* Left to MPI, never freed: freeing a send whose receiver died may end this process (the
     * level exchanges' sal_msg_send). */
    L.done = MPI_REQUEST_NULL;
    if (L.pending)
        return; /* an earlier attempt of the protocol was interrupted: its position holds */
    L.pending = 1;
    L.pos = sal_rt.step;
    if (!mid_step)
        keep_copy(sal_rt.step); /* at a step boundary the regions hold that state */
}

/* What every rank contributes to the decision, reduced with MPI_MAX. */
enum { V_NEWMAX, V_NEWMIN, V_POSMAX, V_POSMIN, V_FULL, V_UNSUP, V_BASE, V_N };

typedef struct decision {
    int local;
    int newrank;        /* the replacement */
    int64_t ckpt, upto; /* the checkpoint's step, the survivors' step */
    const char *why;    /* why not local */
} decision_t;

static int reduce(int64_t *v, int n, MPI_Op op)
{
    return MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, op, sal_rt.world) == MPI_SUCCESS
               ? SAL_OK
               : sal_error(SAL_ERR_PROC_FAILED, "local rollback: the decision failed");
}

static int decide(int newcomer, decision_t *d)
{
    sal_msglog_t *own = sal_logging_log();
    int64_t v[V_N], w[3];
    int rc;

    memset(d, 0, sizeof(*d));
    d->ckpt = sal_rt.step;
    v[V_NEWMAX] = newcomer ? sal_rt.rank : -1;
    v[V_NEWMIN] = newcomer ? -(int64_t)sal_rt.rank : -(int64_t)INT_MAX;
    v[V_POSMAX] = newcomer ? -1 : L.pos;
    v[V_POSMIN] = newcomer ? INT64_MIN + 1 : -L.pos;
    v[V_FULL] = !newcomer && own->overflow;
    v[V_UNSUP] = !newcomer && sal_logging_unsupported();
    v[V_BASE] = newcomer ? -1 : own->base;
    if (!newcomer && sal_logging_unsupported())
        SAL_LOG_W("local rollback: %s since the last checkpoint", sal_logging_unsupported());
    if ((rc = reduce(v, V_N, MPI_MAX)) != SAL_OK)
        return rc;
    d->upto = -v[V_POSMIN];
    d->newrank = (int)v[V_NEWMAX];
    d->why = v[V_NEWMAX] < 0 || v[V_NEWMAX] != -v[V_NEWMIN]
                 ? "it needs exactly one lost rank, replaced by policy respawn or spares"
             : v[V_FULL]                 ? "a rank's message log reached rollback_log_max"
             : v[V_UNSUP]                ? "a rank made a call the message log does not record"
             : v[V_POSMAX] > d->upto + 1 ? "the survivors stand more than one step apart"
             : v[V_BASE] > d->ckpt || d->upto < d->ckpt
                 ? "the survivors' logs do not reach back to the checkpoint restored"
                 : NULL;
    /* Every survivor holds the regions of the step the survivors go back to. */
    w[0] = !newcomer && !d->why && !find_copy(d->upto);
    w[1] = newcomer ? 0 : L.pos - d->upto;
    w[2] = newcomer ? 0 : L.pos - d->ckpt;
    if ((rc = reduce(w, 3, MPI_SUM)) != SAL_OK)
        return rc;
    if (!d->why && w[0])
        d->why = "a survivor has no copy of its regions at that step";
    d->local = d->why == NULL;
    if (d->local && sal_rt.repair_leader) {
        long long local = d->upto - d->ckpt + w[1];
        long long global = w[2] + d->upto - d->ckpt;
        sal_event("rollback",
                  "\"mode\":\"local\",\"replacement\":%d,\"checkpoint_step\":%lld,\"step\":%lld,"
                  "\"recomputed_rank_steps\":%lld,\"global_rank_steps\":%lld",
                  d->newrank, (long long)d->ckpt, (long long)d->upto, local, global);
        SAL_LOG_I("local rollback: rank %d replays steps %lld-%lld from the checkpoint of step "
                  "%lld, the survivors go back to step %lld: recomputed rank-steps: local %lld, "
                  "global %lld",
                  d->newrank, (long long)d->ckpt + 1, (long long)d->upto, (long long)d->ckpt,
                  (long long)d->upto, local, global);
    }
    return SAL_OK;
}

static int keep_for(const sal_msglog_hdr_t *h, void *arg)
{
    const decision_t *d = arg;

    return h->step > d->ckpt && h->step <= d->upto &&
           (h->kind == SAL_MSGLOG_COLL || (h->kind == SAL_MSGLOG_P2P && h->dst == d->newrank));
}

/* At the replacement: the recipes the lowest survivor sends, adopted. */
static int take_recipes(int leader)
{
    MPI_Status st;
    int n = 0, rc = SAL_OK;
    void *buf;

    if (MPI_Probe(leader, TAG_RECIPES, sal_rt.world, &st) != MPI_SUCCESS)
        return SAL_ERR_PROC_FAILED;
    MPI_Get_count(&st, MPI_BYTE, &n);
    buf = malloc((size_t)n + 1);
    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "local rollback: no memory for %d bytes", n);
    if (MPI_Recv(buf, n, MPI_BYTE, leader, TAG_RECIPES, sal_rt.world, MPI_STATUS_IGNORE) !=
        MPI_SUCCESS)
        rc = SAL_ERR_PROC_FAILED;
    if (rc == SAL_OK)
        rc = sal_rt_derived_adopt(buf, (size_t)n);
    free(buf);
    return rc;
}

/* Collective: every survivor sends the replacement what it logged for it (its messages, every
 * collective result) since the checkpoint; the lowest survivor adds the recipes of its derived
 * communicators. Into *all, *len at the replacement (caller frees). */
static int ship(decision_t *d, void **all, size_t *len)
{
    int leader = d->newrank == 0 ? 1 : 0, me = sal_rt.rank, rc = SAL_OK;
    sal_msglog_t part;
    void *recipes = NULL;
    size_t nrecipes = 0;
    int mine = 0, *counts = NULL, *displs = NULL;
    long total = 0;

    *all = NULL;
    *len = 0;
    sal_msglog_init(&part, 0, d->ckpt);
    if (me != d->newrank)
        rc = sal_msglog_copy_if(&part, sal_logging_log(), keep_for, d);
    if (rc == SAL_OK && me == leader)
        rc = sal_rt_derived_recipes(d->newrank, &recipes, &nrecipes);
    if (rc != SAL_OK || part.len > INT_MAX / (size_t)sal_rt.size || nrecipes > INT_MAX)
        rc = rc != SAL_OK ? rc : sal_error(SAL_ERR_NOMEM, "local rollback: a log too large");
    mine = rc == SAL_OK ? (int)part.len : 0;
    if (me == d->newrank) {
        counts = calloc((size_t)sal_rt.size, sizeof(int));
        displs = calloc((size_t)sal_rt.size, sizeof(int));
        if (!counts || !displs)
            rc = sal_error(SAL_ERR_NOMEM, "local rollback: no memory");
    }
    /* An error above still takes part in the exchanges (with nothing to give): the replay then
     * fails on what it lacks and says so. */
    if (MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, d->newrank, sal_rt.world) != MPI_SUCCESS)
        rc = SAL_ERR_PROC_FAILED;
    for (int r = 0; counts && rc == SAL_OK && r < sal_rt.size; r++) {
        displs[r] = (int)total;
        total += counts[r];
    }
    if (me == d->newrank && rc == SAL_OK && !(*all = malloc((size_t)total + 1)))
        rc = sal_error(SAL_ERR_NOMEM, "local rollback: no memory for %ld bytes", total);
    if (rc != SAL_ERR_PROC_FAILED && MPI_Gatherv(part.buf, mine, MPI_BYTE, *all, counts, displs,
                                                 MPI_BYTE, d->newrank, sal_rt.world) != MPI_SUCCESS)
        rc = SAL_ERR_PROC_FAILED;
    *len = (size_t)total;
    if (rc == SAL_OK && me == leader)
        rc = MPI_Send(recipes, (int)nrecipes, MPI_BYTE, d->newrank, TAG_RECIPES, sal_rt.world) ==
                     MPI_SUCCESS
                 ? SAL_OK
                 : SAL_ERR_PROC_FAILED;
    if (rc == SAL_OK && me == d->newrank)
        rc = take_recipes(leader);
    free(recipes);
    free(counts);
    free(displs);
    sal_msglog_free(&part);
    return rc;
}

/* The end of the protocol. The replacement starts its replay only once every survivor has made its
 * last call of the protocol that a failure can interrupt: each survivor starts a message to it and
 * does not wait for it (freed at the next commit), the replacement receives them all. Otherwise a
 * replacement that dies early in its replay (nothing in a replay waits for a peer) can fail a
 * survivor still in the protocol's last collective, which then runs the protocol again as part of
 * the same recovery, instead of seeing a failure after its recovery. */
static int done_send(const decision_t *d, int newcomer)
{
    int rc = SAL_OK;

    if (!newcomer) {
        done_end();
        L.done = MPI_REQUEST_NULL; /* an earlier one not yet matched: left to MPI */
        /* synchronous and persistent, as the level exchanges' sal_msg_send */
        if (MPI_Ssend_init(NULL, 0, MPI_BYTE, d->newrank, TAG_DONE, sal_rt.world, &L.done) !=
            MPI_SUCCESS)
            return SAL_ERR_PROC_FAILED;
        if (MPI_Start(&L.done) != MPI_SUCCESS) {
            MPI_Request_free(&L.done); /* never started: nothing of it is in flight */
            return SAL_ERR_PROC_FAILED;
        }
        return SAL_OK;
    }
    for (int r = 0; rc == SAL_OK && r < sal_rt.size; r++)
        if (r != d->newrank && MPI_Recv(NULL, 0, MPI_BYTE, r, TAG_DONE, sal_rt.world,
                                        MPI_STATUS_IGNORE) != MPI_SUCCESS)
            rc = SAL_ERR_PROC_FAILED;
    return rc;
}

/* The decision is local: the survivors take back their regions, the replacement its replay. */
static int go_local(decision_t *d, int newcomer)
{
    void *all = NULL;
    size_t len = 0;
    int rc;

    if (!newcomer) {
        copy_t *c = find_copy(d->upto);
        if (!c || sal_ckpt_regions_copy(sal_rt.ck, c->buf, c->len, 1) != SAL_OK)
            return sal_error(SAL_ERR_RECOVERY, "local rollback: the copy of step %lld is gone",
                             (long long)d->upto);
        sal_rt.step = d->upto;
        sal_msglog_truncate_after(sal_logging_log(), d->upto);
    }
    rc = ship(d, &all, &len);
    if (rc == SAL_OK && newcomer) {
        sal_msglog_t *replay = sal_logging_replay_log();
        sal_logging_drop(d->ckpt);
        sal_msglog_drop(replay, d->ckpt);
        rc = sal_msglog_absorb(replay, all, len);
        L.replaying = rc == SAL_OK;
        L.target = d->upto;
    }
    free(all);
    if (rc == SAL_OK)
        rc = sal_rt_derived_create_all();
    if (rc == SAL_OK)
        rc = done_send(d, newcomer);
    return rc;
}

/* point=replay at a survivor (docs/inject.md): fires once the replacement received this survivor's
 * last message of the protocol, so that the survivor is lost while the replacement replays. The
 * wait happens only when such a spec is pending. */
static void survivor_replay_point(void)
{
    if (!sal_inject_pending(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_REPLAY))
        return;
    /* L.done is persistent, started in done_send (the checker does not follow MPI_Start) */
    if (L.done != MPI_REQUEST_NULL)
        MPI_Wait(&L.done, MPI_STATUS_IGNORE); /* NOLINT(clang-analyzer-optin.mpi.MPI-Checker) */
    sal_inject_point(sal_rt.inject, sal_rt.rank, sal_rt.step, SAL_INJ_REPLAY);
}

int sal_rt_local_settle(int newcomer)
{
    decision_t d;
    int rc;

    if (!L.armed || sal_rt.resized)
        return SAL_OK;
    sal_interpose_internal_begin();
    rc = decide(newcomer, &d);
    if (rc == SAL_OK && d.local)
        rc = go_local(&d, newcomer);
    if (rc == SAL_OK && !d.local) {
        if (sal_rt.repair_leader) {
            sal_event("rollback", "\"mode\":\"global\",\"checkpoint_step\":%lld,\"reason\":\"%s\"",
                      (long long)d.ckpt, d.why);
            SAL_LOG_W("local rollback not possible (%s): every rank rolls back to the checkpoint "
                      "of step %lld",
                      d.why, (long long)d.ckpt);
        }
        sal_logging_drop(d.ckpt);
    }
    if (rc == SAL_OK && d.local && !newcomer)
        survivor_replay_point();
    sal_interpose_internal_end();
    if (rc == SAL_OK)
        L.pending = 0;
    return rc;
}
