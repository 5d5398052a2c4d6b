/*
 * Redundancy behind the application (async_levels, docs/levels.md#asynchronous-redundancy): the
 * L2 and L3 encoding of the newest committed checkpoint runs after its commit, while the
 * application computes. The checkpoint commits at L1 (its `levels` record says L1, and a `pending`
 * file beside it names the levels still being encoded); the messages progress in the
 * application's own MPI calls and at each step boundary (sal_ckpt_progress); the next checkpoint
 * ends what is left before it writes, and its commit agreement also agrees that the levels of the
 * previous one are complete everywhere, which then rewrites that record and removes `pending`.
 * sal_finalize does the same through sal_ckpt_mark_finished. Until then a restore sees an L1
 * checkpoint, and retention keeps the newest one without `pending`.
 *
 * The messages travel on the levels' duplicate of the checkpoint communicator (sal_levels_comm),
 * as those of a synchronous encoding do. A process failure ends the encoding as a failed exchange
 * (that duplicate is revoked): the checkpoint stays L1.
 */
#ifndef SAL_LEVEL_ASYNC_H
#define SAL_LEVEL_ASYNC_H

#include <limits.h>
#include <stdint.h>

#include "fmap.h"
#include "level_ops.h"

/* The encoding in flight, held by the checkpoint handle. */
typedef struct sal_pending {
    int64_t id;      /* the checkpoint being encoded, -1: none */
    int mask;        /* its levels being encoded, SAL_LVL_* */
    int ok;          /* 0 once this rank could not store its part */
    sal_fmap_t file; /* this rank's rank file, mapped: what the messages send */
    int populated;   /* its pages are mapped (sal_fmap_populate) */
    sal_level_work_t *work[SAL_LEVEL_COUNT]; /* sal_level_table order, NULL when done */
    sal_level_times_t times[SAL_LEVEL_COUNT];
    double t0;          /* its commit, monotonic */
    char dir[PATH_MAX]; /* its node-local directory */
} sal_pending_t;

/* What the previous checkpoint's encoding left for the next commit to agree on. */
typedef struct sal_settled {
    int64_t id; /* -1: nothing */
    int mask;
    int ok;         /* this rank's part is stored */
    int lost;       /* its exchange failed (a process failure) */
    double seconds; /* from its commit to the end of this rank's part */
} sal_settled_t;

struct sal_ckpt;

/* Collective, at the commit of checkpoint id (directory dir) in place of the synchronous encoding:
 * begins the levels of mask on this rank's file (file: mapped, taken over; len < 0 when this
 * rank's file is missing); reuse_dir as sal_level_ctx_t's. [INOUT] *ok: cleared when this rank's
 * data is missing (the commit fails then). Returns SAL_OK, or the status of the exchange that
 * failed (what was begun is abandoned). */
int sal_pending_begin(struct sal_ckpt *ck, int64_t id, int mask, const char *dir,
                      const char *reuse_dir, sal_fmap_t *file, int64_t len, int *ok);

/* Local: ends the encoding in flight, waiting for its messages, into *s (s->id = -1 when there is
 * none). */
void sal_pending_finish(struct sal_ckpt *ck, sal_settled_t *s);

/* After the agreement that covered s (agreed: every rank's part is stored and no process failed):
 * the lowest rank of each host (leader) rewrites the levels record in dir, the directory of s->id
 * (NULL: its path was too long, logged), and removes its `pending` file; rank 0 (me) logs the
 * outcome (a `levels_complete` event, or a warning that the checkpoint stays L1). */
void sal_pending_record(const sal_settled_t *s, const char *dir, int agreed, int leader, int me);

/* Local: ends the encoding in flight without publishing it: abandoned as failed (wait = 0, after a
 * process failure: the communicator is revoked) or waited for (wait = 1, every rank alive and
 * doing the same). The checkpoint stays L1. */
void sal_pending_drop(struct sal_ckpt *ck, int wait);

/* Collective: ck->levels_comm, the communicator of the levels' encoding, made at the first one: a
 * duplicate of the checkpoint communicator, on which the application's own messages travel (a
 * receive it posted from any source or with any tag must not take a partner copy, nor a receive
 * of ours one of its messages; with async_levels they travel at the same time). Errors are
 * returned, whatever handler comm has. SAL_OK or the status of the duplication. */
int sal_levels_comm(struct sal_ckpt *ck);

/* Local: ends the encoding in flight and frees the communicator of the levels (the next encoding
 * duplicates the communicator of that time). seconds < 0 (a repair): abandoned as failed, as
 * sal_pending_drop(ck, 0). seconds >= 0 (sal_ckpt_destroy of a job whose peers are alive and end
 * theirs the same way): advanced without blocking for at most that long, without a revoke (a
 * revoked exchange can leave a matched synchronous send waiting for a peer that stopped
 * progressing it), then, if still unfinished, left as it is: nothing it may touch is freed. */
void sal_pending_release(struct sal_ckpt *ck, double seconds);

/* The `pending` file of a checkpoint directory: written by the lowest rank of each host at commit
 * (the names of the levels, one line). SAL_OK or the write's status. */
int sal_pending_mark(const char *dir, int mask);

/* 1 when checkpoint directory dir has a `pending` file. */
int sal_pending_marked(const char *dir);

#endif
