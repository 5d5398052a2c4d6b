/*
 * The level interface (docs/architecture.md, "The level interface"): every redundancy level beyond
 * L1 is one descriptor of the same operations, and the commit, the restore and the handle iterate
 * over one table of them instead of calling a level by name.
 *
 *   level_partner.c  sal_level_partner  L2: partner copies over MPI
 *   level_xor.c      sal_level_xor      L3: XOR parity over MPI
 *   level_pfs.c      sal_level_pfs      L4: the background copy to the parallel file system
 *   level_ops.c      sal_level_table    the descriptors in order of preference at restore, and the
 *                                       loops over the asynchronous stages
 *
 * An operation a level does not have is NULL. The operations of levels recorded in a checkpoint's
 * `levels` mask (warn_topology, begin, advance, abandon, fetch, rebuild_local) run at commit and
 * restore; the encoding (begin, then advance until it ends) runs inside the commit, or with
 * async_levels behind the application's next steps (level_async.c). The stage operations (start
 * ... idle) belong to levels whose stage the handle runs beside the application. A level has
 * either all six operations of the first kind or none, and either all six stage operations or
 * none.
 */
#ifndef SAL_LEVEL_OPS_H
#define SAL_LEVEL_OPS_H

#include <stdint.h>

#include <mpi.h>

#include "levels.h"

/* Where the time of one encode went on this rank, in seconds (the `phases` of the ckpt_commit
 * event, docs/events.md). */
typedef struct sal_level_times {
    double exchange; /* in MPI calls: sizes, data, XOR reductions (waiting for peers included) */
    double store;    /* creating and publishing what this rank keeps for others, XOR included */
} sal_level_times_t;

/* The checkpoint a synchronous operation works on. */
typedef struct sal_level_ctx {
    MPI_Comm comm;            /* the checkpoint communicator; unused by local operations */
    const sal_topo_t *topo;   /* the arrangement the checkpoint is (or was) written with */
    const char *dir;          /* this rank's node-local ckpt.<id> directory (rebuild_local: one
                               * every rank sees) */
    sal_level_times_t *times; /* encode: [OUT] added to when not NULL; unused otherwise */
    const char *reuse_dir;    /* encode: the node-local directory of the committed checkpoint whose
                               * files this one overwrites (reuse_files), whose files of this
                               * level may serve as storage; NULL: none. Unused otherwise */
    int fmap_flags;           /* begin: SAL_FMAP_* of the files it maps (SAL_FMAP_LAZY behind the
                               * application: pages touched when the bytes arrive) */
} sal_level_ctx_t;

/* What a level's encoding still has to do on this rank (its messages in flight, the files they
 * go into), between begin and the end of advance; opaque, owned by the level. */
typedef void sal_level_work_t;

/* L4's flush thread (level_pfs.c). */
typedef struct sal_pfs sal_pfs_t;

/* The asynchronous stages, held by the checkpoint handle: one member per level that has one. */
typedef struct sal_level_async {
    sal_pfs_t *pfs; /* L4: the flush thread, NULL when pfs_dir is empty */
} sal_level_async_t;

/* What the asynchronous stages are started with: the handle's settings. */
typedef struct sal_level_setup {
    const char *job_dir; /* node-local <ckpt_dir>/<job> */
    const char *pfs_job; /* <pfs_dir>/<job>, "" when L4 is off */
    int keep;            /* committed checkpoints retained */
    int pfs_every;       /* every Nth checkpoint (by id) goes to L4 */
} sal_level_setup_t;

typedef struct sal_level_ops {
    int bit;          /* SAL_LVL_*: one bit */
    const char *name; /* "L2", as sal_levels_name spells the bit */
    /* How a restore names a rank file this level fetched ("checkpoint 7: rank file restored from
     * <restored>"), what rebuild_local did to a file ("checkpoint 7: <path> <rebuilt>"), and what
     * the level would have added to a checkpoint that lacked it (the SAL_ERR_UNRESTORABLE report).
     * restored is NULL for a level without fetch, rebuilt for one without rebuild_local. */
    const char *restored;
    const char *rebuilt;
    const char *covers;

    /* Local, on rank 0 once per handle, at a commit: logs a warning when the arrangement t cannot
     * give this level's protection against the loss of a host. */
    void (*warn_topology)(const sal_topo_t *t);
    /* Collective, at commit, after every rank wrote its L1 file: begins to make this rank's file
     * (data, len; len < 0 when its write failed) redundant and to store what this rank keeps for
     * others in c->dir, and returns once this rank's messages are posted. data, c->dir and
     * c->times must stay valid until the work ends. [OUT] *w: the work (NULL when this rank has
     * nothing left to do); *ok = 0 when this rank's own data was missing or it could not store
     * what it keeps (logged). Returns SAL_OK (also when *ok = 0), else *w is NULL and the levels
     * after it are skipped: SAL_ERR_PROC_FAILED / SAL_ERR_MPI when an exchange failed (the commit
     * reports a failed process), another error when this rank could not take part (its vote is
     * no). */
    int (*begin)(const sal_level_ctx_t *c, const void *data, int64_t len, sal_level_work_t **w,
                 int *ok);
    /* Local: advances *w without blocking (wait = 0) or until it ends (wait = 1). When it ends,
     * *w becomes NULL and what this rank keeps is published (or, after a failure, not). [INOUT]
     * *ok cleared as by begin. Returns SAL_OK (also while the work goes on), or the status of the
     * exchange that failed (SAL_ERR_PROC_FAILED / SAL_ERR_MPI; the work is then ended as failed:
     * sal_msg_end). Its times go to the c->times given to begin. */
    int (*advance)(sal_level_work_t **w, int wait, int *ok);
    /* Local, after a process failure elsewhere: ends *w as a failed exchange (sal_msg_end: with
     * ULFM the communicator is revoked), publishes nothing and sets *w to NULL. */
    void (*abandon)(sal_level_work_t **w);
    /* Collective, at restore on the rank count the checkpoint was written with: every rank r with
     * need[r] != 0 that this level can serve obtains its file as c->dir/rank.<r>.h5; the others
     * help. [OUT] *got = 1 when this rank needed its file and obtained it (the caller reads and
     * verifies it). What cannot be served is logged and leaves *got = 0. Returns SAL_OK, else
     * (an exchange or its buffers failed) the restore skips the levels after it and counts this
     * checkpoint's attempt as failed by a process (SAL_ERR_PROC_FAILED). */
    int (*fetch)(const sal_level_ctx_t *c, const int *need, int *got);
    /* Local (c->dir shared by the ranks, the N -> M restore): recreates c->dir/rank.<r>.h5 from
     * what this level stored there for rank r. SAL_OK, or the reason it cannot. */
    int (*rebuild_local)(const sal_level_ctx_t *c, int r);

    /* Local: starts this level's stage, or leaves it off (SAL_OK) when the settings do not ask
     * for it. On error nothing is started. */
    int (*start)(const sal_level_setup_t *s, sal_level_async_t *as);
    /* Local: finishes the work queued and in progress, and stops the stage; accepts a stage that
     * is off. */
    void (*stop)(sal_level_async_t *as);
    /* Local: 1 when committed checkpoint id goes to this level (the stage is on and id is one of
     * those it copies), else 0. */
    int (*due)(const sal_level_async_t *as, int64_t id);
    /* Local: queues committed checkpoint id, written by nranks ranks, and returns at once. */
    void (*submit)(sal_level_async_t *as, int64_t id, int rank, int nranks);
    /* Local: blocks until nothing is queued or in progress. */
    void (*drain)(sal_level_async_t *as);
    /* Local: 1 when nothing is queued or in progress (also when the stage is off), else 0. */
    int (*idle)(sal_level_async_t *as);
} sal_level_ops_t;

/* The descriptors, one per level file; reach them through sal_level_table. */
extern const sal_level_ops_t sal_level_partner;
extern const sal_level_ops_t sal_level_xor;
extern const sal_level_ops_t sal_level_pfs;

enum { SAL_LEVEL_COUNT = 3 };

/* Every level beyond L1, in the order a restore tries them (cheapest first: L2, L3, L4), which is
 * also the order in which a commit encodes them. */
extern const sal_level_ops_t *const sal_level_table[SAL_LEVEL_COUNT];

/* Collective: level l's whole encoding (begin, then advance until it ends), as level_ops' begin
 * describes it. */
int sal_level_encode(const sal_level_ops_t *l, const sal_level_ctx_t *c, const void *data,
                     int64_t len, int *ok);

/* Local: starts the stage of every asynchronous level (*as zeroed before). On error the stages
 * started are stopped, and the error is returned. */
int sal_levels_start(const sal_level_setup_t *s, sal_level_async_t *as);

/* Local: stops every stage (finishing their work); accepts stages that are off. */
void sal_levels_stop(sal_level_async_t *as);

/* Local: the SAL_LVL_* bits of the asynchronous levels committed checkpoint id goes to. */
int sal_levels_due(const sal_level_async_t *as, int64_t id);

/* Local: queues committed checkpoint id to the asynchronous levels of mask (from sal_levels_due).
 */
void sal_levels_submit(sal_level_async_t *as, int mask, int64_t id, int rank, int nranks);

/* Local: blocks until every stage is idle. */
void sal_levels_drain(sal_level_async_t *as);

/* Local: 1 when every stage is idle, else 0. */
int sal_levels_idle(sal_level_async_t *as);

#endif
