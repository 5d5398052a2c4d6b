/*
 * Fault injection (SAL_INJECT / config key inject / salrun --inject). Inactive unless set.
 *
 * Grammar: spec (';' spec)*, spec = item (',' item)*, item = key '=' value with keys
 *   rank=<int>                 rank that fails (required)
 *   step=<int>                 the step at which it fails (default 0 = first opportunity)
 *   point=compute|ckpt_write|ckpt_copy|ckpt_agree|ckpt_publish|recovery|restore|init|done|setup|
 *         replay|ckpt_async|repair
 *                              (default compute)
 *   signal=KILL|TERM|SEGV|ABRT|BUS|INT|USR1|USR2|HUP|<number 1..64>   (default KILL; also SIGKILL
 *                              etc.; only with action=signal)
 *   action=signal|hang|exit|sleep  (default signal; hang = stop making progress, exit = _exit(1),
 *                              sleep = pause `seconds` and go on)
 *   seconds=<int 0..86400>     the pause of action=sleep (default 10)
 * Each spec fires at most once per job: a marker file in the job directory records that it fired,
 * so a replacement or a relaunched process re-running the same step does not fail again.
 */
#ifndef SAL_INJECT_H
#define SAL_INJECT_H

#include <stdint.h>

#include "private_api.h"

/* Most failure specs in one plan. */
#define SAL_INJECT_MAX_SPECS 64

typedef enum sal_inject_point {
    SAL_INJ_COMPUTE = 0,
    SAL_INJ_CKPT_WRITE,
    SAL_INJ_CKPT_AGREE,
    SAL_INJ_CKPT_PUBLISH,
    SAL_INJ_RECOVERY,
    SAL_INJ_RESTORE,
    SAL_INJ_CKPT_COPY, /* before the partner copy / parity exchange (L2, L3) */
    SAL_INJ_INIT,      /* in sal_init of a fresh start, before its first exchange (step 0) */
    SAL_INJ_DONE,      /* in sal_run after the step that reported done, before the agreement */
    SAL_INJ_SETUP,     /* before the application's sal_on_setup function runs */
    SAL_INJ_REPLAY, /* rollback=local: before a step a replacement re-executes from the logs; at a
                     * survivor, once the replacement holds the survivor's last message of the
                     * protocol, that is while the replacement replays */
    SAL_INJ_CKPT_ASYNC, /* async_levels: at a step boundary while the levels of the newest
                         * checkpoint are encoded behind the application (not yet agreed) */
    SAL_INJ_REPAIR,     /* in an in-job repair, after the shrink and the plan (the failure event),
                         * before the lost ranks are replaced */
    SAL_INJ_NPOINTS
} sal_inject_point_t;

typedef enum sal_inject_action {
    SAL_INJ_SIGNAL = 0,
    SAL_INJ_HANG,
    SAL_INJ_EXIT,
    SAL_INJ_SLEEP /* pause `seconds`, then go on: a slow file system or a slow rank */
} sal_inject_action_t;

typedef struct sal_inject_spec {
    int rank;
    int64_t step;
    sal_inject_point_t point;
    sal_inject_action_t action;
    int signal;
    int seconds; /* action=sleep */
} sal_inject_spec_t;

typedef struct sal_inject sal_inject_t;

/* Parses text (NULL or "" gives an empty plan). [OUT] *plan. SAL_ERR_CONFIG with a message naming
 * the offending item on a syntax error. */
SAL_PRIVATE int sal_inject_parse(const char *text, sal_inject_t **plan);
SAL_PRIVATE int sal_inject_count(const sal_inject_t *plan);
const sal_inject_spec_t *sal_inject_get(const sal_inject_t *plan, int i);
const char *sal_inject_point_name(sal_inject_point_t p);

/* Directory where "inject.<i>.fired" markers are created (the job directory). Copied. */
SAL_PRIVATE int sal_inject_set_marker_dir(sal_inject_t *plan, const char *dir);

/* Fires every matching, not yet fired spec for (rank, step >= spec.step, point): creates its marker
 * with O_EXCL (if the marker exists, the spec is skipped), emits an "inject" event, then
 * kills/hangs/exits this process. Returns only if nothing fired, or if the raised signal is caught
 * or ignored. plan may be NULL. */
SAL_PRIVATE void sal_inject_point(sal_inject_t *plan, int rank, int64_t step,
                                  sal_inject_point_t point);

/* 1 when sal_inject_point(plan, rank, step, point) would fire a spec not yet fired in this process
 * (its marker may still say that another process fired it), else 0. plan may be NULL. */
SAL_PRIVATE int sal_inject_pending(const sal_inject_t *plan, int rank, int64_t step,
                                   sal_inject_point_t point);

SAL_PRIVATE void sal_inject_free(sal_inject_t **plan);

#endif
