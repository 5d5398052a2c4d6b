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

/* Restart from a chosen checkpoint (restore_chosen.c). */

/* Collective: [OUT] *chosen = the key restart_from while no rank has committed a checkpoint of its
 * own (the start of the job and its rollbacks before its first commit), else -1: the newest
 * committed one, as usual. SAL_OK or SAL_ERR_PROC_FAILED. */
int sal_restore_choice(struct sal_ckpt *ck, int64_t *chosen);

/* Local, with the same arguments on every rank: SAL_OK when checkpoint chosen can be tried, else
 * SAL_ERR_UNRESTORABLE naming it and why. newest: the newest committed checkpoint of any host (-1:
 * none); present: a ckpt.<chosen> directory exists on some host. */
int sal_restore_chosen_check(const struct sal_ckpt *ck, int64_t chosen, int64_t newest,
                             int present);

/* Every rank, after checkpoint chosen (its step) was restored: records the committed checkpoints
 * up to newest as set aside in its host's job directory (aside.h); rank 0 logs the restart. */
void sal_restore_chosen_done(const struct sal_ckpt *ck, int64_t chosen, int64_t step,
                             int64_t newest);

#endif
