/* The checkpoint handle's representation, shared by ckpt.c, commit.c and restore.c. */
#ifndef SAL_CKPT_IMPL_H
#define SAL_CKPT_IMPL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "dirty.h"
#include "inject.h"
#include "interval.h"
#include "level_async.h"
#include "level_ops.h"
#include "levels.h"
#include "region.h"

#define SAL_MAX_LISTED 4096 /* checkpoint directories considered in one job directory */

/* Where the time of the checkpoint being written went on this rank, in seconds (the `phases` of
 * the ckpt_commit event, docs/events.md). */
typedef struct sal_phases {
    double write;   /* this rank's rank file: HDF5, checksums, fsync, rename */
    double hosts;   /* the exchange of host names (the levels' arrangement) */
    double map;     /* mapping this rank's file for the levels that encode */
    double agree;   /* the gather of the records and the agreement */
    double publish; /* rank 0: manifest and `latest`; every rank: the outcome's broadcast */
    sal_level_times_t level[SAL_LEVEL_COUNT]; /* sal_level_table order */
} sal_phases_t;

struct sal_ckpt {
    MPI_Comm comm;
    char job_dir[PATH_MAX];
    int keep;         /* committed checkpoints retained, >= 2 */
    int reuse_files;  /* one more retained: its rank files are the next checkpoint's storage */
    int64_t reuse_id; /* during sal_ckpt_write: the checkpoint whose files are overwritten, or -1 */
    int reused_mine;  /* during sal_ckpt_write: this rank overwrote its file of reuse_id */
    int reused_ranks; /* ... rank 0: how many ranks did */
    int differential; /* key differential: unchanged chunks of a reused file are not rewritten */
    int compression;  /* key compression: the HDF5 filter of the data, 0: none */
    sal_dirty_t *dirty;      /* differential_tracking=pages: the written-page tracker, or NULL */
    int64_t unchanged_mine;  /* during sal_ckpt_write: bytes this rank left as they were */
    int64_t unchanged_bytes; /* ... rank 0: the sum over the ranks */
    int64_t unread_mine;     /* during sal_ckpt_write: of those, bytes the tracker said were not
                              * written (left without being read) */
    int64_t unread_bytes;    /* ... rank 0: the sum over the ranks */
    int64_t own_first_id;    /* the first checkpoint this handle committed, -1 before: from it on,
                              * the files are this run's own and read without a probe */
    int64_t last_committed;  /* the newest checkpoint this handle committed or restored, or -1:
                              * committed whatever this host's `latest` says */
    int64_t id_floor;        /* ids below it were used on some host (learnt at the first
                              * checkpoint of the handle): new checkpoints take higher ones */
    int64_t restart_from;    /* key restart_from: the checkpoint the restores take until the job
                              * commits one of its own, or -1 (restore_chosen.c) */
    int nregions;
    sal_region_t *regions;   /* owned array; the memory they describe is the application's */
    sal_inject_t *inject;    /* not owned; may be NULL */
    int64_t step_hint;       /* application step for injection at the restore point */
    int levels;              /* SAL_LVL_* requested by the levels key (L1 always) */
    int levels_auto;         /* levels=auto: L2 added when the ranks span two hosts or more */
    int xor_size;            /* xor_group_size */
    int fake_host_ranks;     /* > 0: ranks r / fake_host_ranks form one pretend host */
    char host[SAL_HOST_LEN]; /* hostname key, else MPI_Get_processor_name */
    char pfs_job[PATH_MAX];  /* <pfs_dir>/<job>, "" when L4 is off */
    sal_level_async_t async; /* the levels' asynchronous stages (L4's flush thread) */
    int async_levels;        /* key async_levels: L2/L3 encoded behind the application */
    sal_pending_t pending;   /* ... the encoding in flight (level_async.h) */
    MPI_Comm levels_comm;    /* ... a duplicate of comm for its messages, or MPI_COMM_NULL */
    sal_topo_t topo;         /* host list of the last collective call */
    int warned;              /* the one-host redundancy warning was given */
    sal_interval_auto_t iauto;
    sal_phases_t phases; /* of the checkpoint being written */
};

/* The host name this rank reports to the levels (host, or host.fake<k> with fake_host_ranks). */
void sal_ckpt_host_name(const struct sal_ckpt *ck, char *buf, size_t size);

/* Whether this rank looks after its host's checkpoint directory: the lowest rank of each host (as
 * of the last host exchange). Hosts that share a directory (pretend hosts, a shared file system)
 * remove the same old checkpoints side by side, which sal_remove_tree tolerates. */
int sal_ckpt_host_leader(const struct sal_ckpt *ck, int me);

/* sal_pending_record for the settled encoding s of ck (level_async.h). */
void sal_ckpt_record_settled(struct sal_ckpt *ck, const sal_settled_t *s, int agreed, int me);

/* Blocks until the L4 flush thread of this rank is idle (no-op without L4). Local. */
void sal_ckpt_flush_wait(struct sal_ckpt *ck);

int sal_comm_rank(MPI_Comm comm);
int sal_comm_size(MPI_Comm comm);

/* Ids of every ckpt.<id> directory of the job directory, newest first, at most max. [OUT] *n. */
int sal_ckpt_list_dirs(const char *job_dir, int64_t *ids, int max, int *n);
/* Local: this rank's view of one job directory: [OUT] *limit = its `latest` (-1 when there is
 * none; INT64_MAX when it exists but cannot be read), *newest = its newest ckpt.<id> directory
 * (-1 when none). */
void sal_job_view(const char *job_dir, int64_t *limit, int64_t *newest);
/* <job_dir>/ckpt.<id> into buf. */
int sal_ckpt_dir_path(const struct sal_ckpt *ck, int64_t id, char *buf, size_t size);

#endif
