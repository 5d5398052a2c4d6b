/* The one monotonic clock of Salamander (base: no MPI). Durations and deadlines use it; wall-clock
 * time only stamps events. */
#ifndef SAL_CLOCK_H
#define SAL_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC (a clock step changes neither durations nor deadlines). */
double sal_clock_mono(void);

/* t seconds as a struct timespec (for CLOCK_MONOTONIC condition variables). */
struct timespec sal_clock_timespec(double t);

#endif
