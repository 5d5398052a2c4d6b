/* The one clock of Salamander (base: no MPI). Durations and deadlines use the monotonic clock;
 * wall-clock time only stamps events. */
#ifndef SAL_CLOCK_H
#define SAL_CLOCK_H

#include <time.h>

#include "private_api.h"

/* Seconds on CLOCK_MONOTONIC (a clock step changes neither durations nor deadlines). */
SAL_PRIVATE double sal_clock_mono(void);

/* Seconds on CLOCK_REALTIME: only to stamp events. */
SAL_PRIVATE double sal_clock_wall(void);

/* t seconds as a struct timespec (for CLOCK_MONOTONIC condition variables). */
SAL_PRIVATE struct timespec sal_clock_timespec(double t);

#endif
