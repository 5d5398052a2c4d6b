/* The one clock of Salamander (base: no MPI). Durations and deadlines use the monotonic clock;
 * wall-clock time only stamps events. */
#ifndef SAL_CLOCK_H
#define SAL_CLOCK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "private_api.h"

/* Seconds on CLOCK_MONOTONIC (a clock step changes neither durations nor deadlines). */
SAL_PRIVATE double sal_clock_mono(void);

/* Seconds on CLOCK_REALTIME: only to stamp events. */
SAL_PRIVATE double sal_clock_wall(void);

/* Seconds since this process started (exec), from /proc/self/stat on Linux, in clock ticks
 * (usually 10 ms); -1 where that cannot be read. Only to describe a start-up in an event. Inline:
 * one caller (the event start), and not one more exported private function. */
static inline double sal_clock_process_age(void)
{
#ifdef CLOCK_BOOTTIME
    char buf[1024], *p, *end;
    unsigned long long start;
    long hz = sysconf(_SC_CLK_TCK);
    struct timespec now;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[n] = '\0';
    /* pid (comm) state ...: comm may hold spaces and parentheses; starttime is field 22, the 20th
     * after the last ')' */
    p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &now) != 0)
        return -1;
    start = strtoull(p + 1, &end, 10);
    if (end == p + 1)
        return -1;
    double age = (double)now.tv_sec + (double)now.tv_nsec * 1e-9 - (double)start / (double)hz;
    return age >= 0 ? age : -1;
#else
    return -1;
#endif
}

/* t seconds as a struct timespec (for CLOCK_MONOTONIC condition variables). */
SAL_PRIVATE struct timespec sal_clock_timespec(double t);

#endif
