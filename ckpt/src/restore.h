/* Restore internals shared by restore.c (the proposal and the agreement) and restore_load.c (one
 * checkpoint's data). */
#ifndef SAL_RESTORE_H
#define SAL_RESTORE_H

#include <stdint.h>

#include "ckpt_impl.h"

/* What rank 0 reports of a checkpoint that could not be restored. */
typedef struct sal_tried {
    int64_t step; /* -1: unknown (no manifest) */
    int mask;     /* levels written, SAL_LVL_* */
    char *hosts;  /* rank 0, same rank count: where each rank wrote it (nranks * SAL_HOST_LEN, from
                     the levels record), else NULL; freed by the caller */
    int nranks;
} sal_tried_t;

/* Collective: tries checkpoint id, reading into stage (ck->nregions regions). [OUT] *ok (this
 * rank's data is staged), *tried (its step and levels, for the report when it cannot be restored).
 * SAL_OK, SAL_ERR_PROC_FAILED when an exchange failed, or SAL_ERR_UNRESTORABLE on every rank when
 * the checkpoint has another number of ranks and per-rank data is protected (no checkpoint can
 * restore it: the restore ends). */
int sal_restore_load(struct sal_ckpt *ck, int64_t id, sal_region_t *stage, int *ok,
                     sal_tried_t *tried);

#endif
