/* Internal hooks of the checkpoint engine used by the runtime. */
#ifndef SAL_CKPT_INTERNAL_H
#define SAL_CKPT_INTERNAL_H

#include <salamander/sal_ckpt.h>

#include "inject.h"

/* Fault-injection plan consulted at the ckpt_write/ckpt_agree/ckpt_publish/restore points (not
 * owned). */
void sal_ckpt_set_inject(sal_ckpt_t ck, sal_inject_t *plan);

/* The application's current step, compared with injection specs at the restore point. */
void sal_ckpt_set_step_hint(sal_ckpt_t ck, int64_t step);

/* Local: *finished = 1 when the job's last run completed (sal_ckpt_mark_finished) and no checkpoint
 * was taken since. */
int sal_ckpt_finished(sal_ckpt_t ck, int *finished);

/* Collective: *any = 1 when a host of the job (or L4) holds a `latest` pointer, readable or not:
 * the job committed a checkpoint, even when rank 0's host lost its own. SAL_OK or
 * SAL_ERR_PROC_FAILED. */
int sal_ckpt_any_committed(sal_ckpt_t ck, int *any);

/* The job directory <ckpt_dir>/<job>. */
const char *sal_ckpt_job_dir(sal_ckpt_t ck);

#endif
