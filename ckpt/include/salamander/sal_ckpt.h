/*
 * Coordinated application-level checkpoints to HDF5, usable without the recovery runtime
 * (restart-by-relaunch).
 *
 * Lifecycle: sal_ckpt_create() (local) -> sal_ckpt_protect() for each region (local, no
 * communication) -> any number of sal_ckpt_write() / sal_ckpt_restore() (collective) ->
 * sal_ckpt_destroy(). After the communicator was repaired, sal_ckpt_set_comm() (local) before the
 * next collective call. Collective calls agree on their outcome: they return the same status on
 * every rank.
 *
 * On disk: <ckpt_dir>/<job>/ckpt.<id>/rank.<r>.h5 plus manifest.h5, and <ckpt_dir>/<job>/latest
 * naming the newest committed checkpoint. See docs/format.md.
 */
#ifndef SALAMANDER_SAL_CKPT_H
#define SALAMANDER_SAL_CKPT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>
#include <salamander/sal_export.h>
#include <salamander/sal_types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sal_ckpt *sal_ckpt_t;

/* Local (no communication, so a replacement process can call it alone). [IN] cfg is read, not kept.
 * [IN] job: job name (directory name under ckpt_dir). [OUT] ck. Creates <ckpt_dir>/<job> (0700).
 * Partial checkpoints left by a crashed run are removed by the next sal_ckpt_write. */
SAL_API int sal_ckpt_create(MPI_Comm comm, sal_config_t cfg, const char *job, sal_ckpt_t *ck);

/* Registers a distributed array: this rank owns the block [offset, offset+count) of an array of
 * global shape gdims (ndims dimensions, row-major). base must stay valid and hold prod(count)
 * elements until the handle is destroyed. Names follow sal_name_valid(). SAL_ERR_EXISTS if the name
 * is taken. Local. */
SAL_API int sal_ckpt_protect(sal_ckpt_t ck, const char *name, void *base, sal_type_t type,
                             int ndims, const int64_t *gdims, const int64_t *offset,
                             const int64_t *count);

/* Registers a per-rank scalar (each rank saves and restores its own value). Local. */
SAL_API int sal_ckpt_protect_scalar(sal_ckpt_t ck, const char *name, void *addr, sal_type_t type);

/* Registers per-rank data: `bytes` bytes at base (0 allowed; the size may differ between ranks),
 * saved in this rank's file and restored to the same rank number. base is kept like
 * sal_ckpt_protect's. A restore on another number of ranks is refused (SAL_ERR_UNRESTORABLE naming
 * the region): the data belongs to no global array that could be redistributed. Local. */
SAL_API int sal_ckpt_protect_local(sal_ckpt_t ck, const char *name, void *base, size_t bytes);

/* What one entry of sal_ckpt_protect_many registers. */
typedef enum sal_region_kind {
    SAL_REGION_ARRAY = 1,  /* sal_ckpt_protect: type, ndims, gdims, offset, count */
    SAL_REGION_SCALAR = 2, /* sal_ckpt_protect_scalar: type */
    SAL_REGION_LOCAL = 3   /* sal_ckpt_protect_local: bytes */
} sal_region_kind_t;

typedef struct sal_region_spec {
    sal_region_kind_t kind;
    const char *name;      /* copied */
    void *base;            /* kept, as by the call of its kind */
    sal_type_t type;       /* ARRAY, SCALAR */
    int ndims;             /* ARRAY */
    const int64_t *gdims;  /* ARRAY: ndims values each, copied */
    const int64_t *offset; /* ARRAY */
    const int64_t *count;  /* ARRAY */
    size_t bytes;          /* LOCAL */
} sal_region_spec_t;

/* Registers the n regions of specs, all or nothing: on an error none of them stays protected (the
 * regions protected before the call are untouched) and the message names the index and the name of
 * the spec that failed. Returns as the call of that spec's kind, or SAL_ERR_INVALID_ARG (specs NULL
 * with n > 0, n < 0, an unknown kind). Local. */
SAL_API int sal_ckpt_protect_many(sal_ckpt_t ck, const sal_region_spec_t *specs, int n);

/* Forgets a protected region (its memory is the application's; checkpoints on disk are kept), e.g.
 * to protect it again with another layout after the job shrank. SAL_ERR_NOT_FOUND. Local. */
SAL_API int sal_ckpt_unprotect(sal_ckpt_t ck, const char *name);

/* Collective two-phase commit of every protected region, labelled with the application's step.
 * SAL_OK: committed and published, [OUT] *id (may be NULL) is its id. SAL_ERR_ABORTED or
 * SAL_ERR_PROC_FAILED: nothing was published, the previous checkpoint is intact. */
SAL_API int sal_ckpt_write(sal_ckpt_t ck, int64_t step, int64_t *id);

/* Collective. Restores the newest committed checkpoint every rank can read into the protected
 * regions. [OUT] *step, *id (either may be NULL). SAL_ERR_NO_CKPT when there is none. */
SAL_API int sal_ckpt_restore(sal_ckpt_t ck, int64_t *step, int64_t *id);

/* With async_levels: advances the L2/L3 encoding of the newest checkpoint, which runs behind the
 * application, without blocking; call it at step boundaries (sal_run and sal_step_done do). SAL_OK
 * (also when there is nothing to advance), or SAL_ERR_PROC_FAILED when a process failed (the
 * communicator is revoked with ULFM; that checkpoint stays L1). Local. */
SAL_API int sal_ckpt_progress(sal_ckpt_t ck);

/* Replaces the communicator after a repair (same size and rank numbers unless the shrink policy is
 * in use). comm is not duplicated: it must outlive its use by ck. Local. */
SAL_API int sal_ckpt_set_comm(sal_ckpt_t ck, MPI_Comm comm);

/* Id of the newest committed checkpoint visible on disk, or -1. Local. */
SAL_API int sal_ckpt_latest(sal_ckpt_t ck, int64_t *id);

/* Marks the job finished: a later start with restart=auto begins from step 0. Collective. */
SAL_API int sal_ckpt_mark_finished(sal_ckpt_t ck);

/* [INOUT] ck: freed and set to NULL. Checkpoints on disk are kept. */
SAL_API void sal_ckpt_destroy(sal_ckpt_t *ck);

#ifdef __cplusplus
}
#endif
#endif
