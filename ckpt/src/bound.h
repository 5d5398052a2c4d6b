/*
 * Time bounds of Salamander's own protocol steps.
 *
 * A protocol step (the commit agreement of a checkpoint, the agreement that ends a restore, a
 * repair, the start-up exchanges) waits for its peers. A fault can leave it waiting forever: a
 * peer that died where the MPI library does not report it (seen with Open MPI 5.0.11 in
 * MPIX_Comm_agree, docs/reliability.md), a peer stuck elsewhere. Each such step runs between
 * sal_bound_enter and sal_bound_leave with a bound of
 *
 *     protocol_timeout + protocol_timeout_factor x cost
 *
 * seconds, where cost is the measured cost of the work the step waits for (this rank's own part of
 * it, measured in this run: its write time for the commit agreement, its read time for a restore,
 * the longest earlier repair for a repair). When the step has not left by then, a thread of this
 * process logs an error naming the step, the rank and the bound, writes a "bound" event and kills
 * the process with SIGKILL: the other ranks see an ordinary process failure and repair it, and when
 * every rank was stuck the launch ends and salrun relaunches the job from its last checkpoint.
 *
 * Lifecycle: sal_bound_configure (starts the thread when protocol_timeout > 0; again to change the
 * values) -> sal_bound_enter / sal_bound_leave pairs (they nest; every armed deadline is checked)
 * -> sal_bound_shutdown (joins the thread). With protocol_timeout 0 every call is a no-op. enter
 * and leave only take a mutex; the thread checks the deadlines every protocol_timeout / 10 seconds
 * (10 ms to 1 s), so a step ends its process at most that long after its bound. fork: a child has
 * no thread; its calls are no-ops.
 */
#ifndef SAL_BOUND_H
#define SAL_BOUND_H

#include "private_api.h"

/* floor_s: protocol_timeout (0 = off); factor: protocol_timeout_factor. SAL_OK, SAL_ERR_INVALID_ARG
 * for a negative or non-finite value, SAL_ERR_NOMEM when the thread cannot be started. */
SAL_PRIVATE int sal_bound_configure(double floor_s, double factor);

/* sal_bound_enter for a part of a bounded step that must end well before the step's own bound:
 * bound share x (protocol_timeout + protocol_timeout_factor x cost_s), 0 < share <= 1 (any other
 * share counts as 1). */
SAL_PRIVATE double sal_bound_enter_part(const char *step, double share, double cost_s);
/* Arms the bound of the step named step (copied; e.g. "commit agreement of checkpoint 4") whose
 * measured cost is cost_s seconds. Returns the bound in seconds (0 when bounds are off). */
static inline double sal_bound_enter(const char *step, double cost_s)
{
    return sal_bound_enter_part(step, 1, cost_s);
}
/* This process spent local_s seconds of its own local work (reading its files, listing a directory)
 * inside the armed steps, work its peers do too before they reach the exchanges the steps wait in:
 * every armed bound grows by (1 + protocol_timeout_factor) x local_s, so that a peer may take the
 * factor times as long for its share. */
SAL_PRIVATE void sal_bound_credit(double local_s);
/* sal_bound_credit of the CLOCK_MONOTONIC seconds since t0 (sal_clock_mono). */
void sal_bound_credit_since(double t0);
/* Disarms the innermost armed step. */
SAL_PRIVATE void sal_bound_leave(void);
/* Disarms every step: the caller left them without returning (a failure handler's longjmp). */
SAL_PRIVATE void sal_bound_unwound(void);

/* The bound a step of cost cost_s would get (0 when bounds are off). */
double sal_bound_of(double cost_s);

/* Stops and joins the thread; bounds are off until the next sal_bound_configure. */
void sal_bound_shutdown(void);

#endif
