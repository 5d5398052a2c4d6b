/* Internal hooks of the checkpoint engine used by the runtime (part of the private interface,
 * private_api.h). */
#ifndef SAL_CKPT_INTERNAL_H
#define SAL_CKPT_INTERNAL_H

#include <stddef.h>

#include <salamander/sal_ckpt.h>

#include "inject.h"
#include "private_api.h"

/* Fault-injection plan consulted at the ckpt_write/ckpt_agree/ckpt_publish/restore points (not
 * owned). */
SAL_PRIVATE void sal_ckpt_set_inject(sal_ckpt_t ck, sal_inject_t *plan);

/* The application's current step, compared with injection specs at the restore point. */
SAL_PRIVATE void sal_ckpt_set_step_hint(sal_ckpt_t ck, int64_t step);

/* Local: *finished = 1 when the job's last run completed (sal_ckpt_mark_finished) and no checkpoint
 * was taken since. */
SAL_PRIVATE int sal_ckpt_finished(sal_ckpt_t ck, int *finished);

/* Collective: *any = 1 when a host of the job (or L4) holds a `latest` pointer, readable or not:
 * the job committed a checkpoint, even when rank 0's host lost its own. SAL_OK or
 * SAL_ERR_PROC_FAILED. */
SAL_PRIVATE int sal_ckpt_any_committed(sal_ckpt_t ck, int *any);

/* The job directory <ckpt_dir>/<job>. */
SAL_PRIVATE const char *sal_ckpt_job_dir(sal_ckpt_t ck);

/* interval=auto: the current optimum interval in seconds (Young/Daly from the measured cost of
 * sal_ckpt_write on this rank and the configured or observed MTBF); 0 before the first
 * checkpoint was measured. Local. */
SAL_PRIVATE double sal_ckpt_auto_interval(sal_ckpt_t ck);

/* Local: the bytes of this rank's protected regions, all together. */
SAL_PRIVATE size_t sal_ckpt_regions_size(sal_ckpt_t ck);

/* Local: copies the protected regions, in order, into buf (into_regions 0) or buf into them
 * (into_regions 1). len must be sal_ckpt_regions_size(ck): else SAL_ERR_STATE, nothing copied. */
SAL_PRIVATE int sal_ckpt_regions_copy(sal_ckpt_t ck, void *buf, size_t len, int into_regions);

#endif
