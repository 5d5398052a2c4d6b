/*
 * The hang watchdog (contract in watchdog.h).
 *
 * The hot paths (progress points, MPI enter/leave) only touch relaxed atomic counters. The thread
 * samples them every `period` seconds (timeout/10, between 1 ms and 1 s) on CLOCK_MONOTONIC: a
 * sample that finds the process suspended, inside MPI, or with a counter changed since the previous
 * sample moves the time of the last activity to now. It fires when a sample finds no activity for
 * timeout seconds, so a hung process dies between timeout and timeout + period after it stopped.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "clock.h"
#include "events.h"
#include "log.h"
#include "watchdog.h"

static atomic_uint_fast64_t progress_count;
static atomic_int_fast64_t progress_step;
static atomic_uint_fast64_t mpi_calls;
static atomic_int mpi_depth;

/* Everything below is guarded by lock, except owner (written and read by the owning thread only).
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static int running;        /* the thread exists and has not been told to stop */
static int suspended;      /* nesting depth of sal_watchdog_suspend */
static double timeout;     /* seconds outside MPI without progress; 0 = not watched */
static double mpi_timeout; /* seconds inside one blocking MPI call; 0 = not watched */
static double period;      /* seconds between samples */
static double last_active; /* CLOCK_MONOTONIC seconds of the last sample that saw activity */
static pid_t owner;        /* the process that started the thread; 0 when none runs */

/* 1 in the process that started the watchdog (not in a forked child, not when none runs). */
static int is_owner(void)
{
    return owner != 0 && owner == getpid();
}

/* Reports the hang and kills this process (in_mpi: stuck in one MPI call). Does not return. */
static void fire(double idle, int in_mpi)
{
    long long step = (long long)atomic_load_explicit(&progress_step, memory_order_relaxed);

    if (in_mpi)
        SAL_LOG_E("hang: inside one MPI call for %.3f s (mpi_hang_timeout=%g) at step %lld; "
                  "killing this process with SIGKILL so that the job recovers from it as from a "
                  "crash, or is relaunched (raise mpi_hang_timeout if a rank legitimately waits "
                  "longer for its peers)",
                  idle, mpi_timeout, step);
    else
        SAL_LOG_E("hang: no progress for %.3f s (hang_timeout=%g) at step %lld, outside MPI; "
                  "killing this process with SIGKILL so that the job recovers from it as from a "
                  "crash (raise hang_timeout if a step, checkpoint or restore legitimately takes "
                  "longer)",
                  idle, timeout, step);
    sal_event("hang", "\"step\":%lld,\"idle_seconds\":%.6f,\"hang_timeout\":%.6f,\"in_mpi\":%s",
              step, idle, in_mpi ? mpi_timeout : timeout, in_mpi ? "true" : "false");
    (void)fflush(NULL);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

static void *watch(void *arg)
{
    uint_fast64_t seen_progress = 0, seen_calls = 0;
    double mpi_since = 0; /* when the MPI call in progress at the last samples was first seen */

    (void)arg;
    pthread_mutex_lock(&lock);
    while (running) {
        double now = sal_clock_mono();
        uint_fast64_t p = atomic_load_explicit(&progress_count, memory_order_relaxed);
        uint_fast64_t c = atomic_load_explicit(&mpi_calls, memory_order_relaxed);
        int in_mpi = atomic_load_explicit(&mpi_depth, memory_order_relaxed) > 0;
        struct timespec deadline;

        /* One MPI call in progress since the last sample (no other call entered meanwhile). */
        mpi_since = in_mpi && c == seen_calls && !suspended ? (mpi_since > 0 ? mpi_since : now) : 0;
        if (mpi_timeout > 0 && mpi_since > 0 && now - mpi_since >= mpi_timeout) {
            pthread_mutex_unlock(&lock);
            fire(now - mpi_since, 1);
        }
        if (suspended || in_mpi || p != seen_progress || c != seen_calls) {
            last_active = now;
            seen_progress = p;
            seen_calls = c;
        } else if (timeout > 0 && now - last_active >= timeout) {
            pthread_mutex_unlock(&lock);
            fire(now - last_active, 0);
        }
        deadline = sal_clock_timespec(now + period);
        pthread_cond_timedwait(&wake, &lock, &deadline);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Initialises wake on CLOCK_MONOTONIC, so that wall-clock jumps neither fire nor delay the
 * watchdog. */
static int init_wake(void)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);

    if (rc == 0) {
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (rc == 0)
            rc = pthread_cond_init(&wake, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (rc != 0)
        return sal_error(SAL_ERR_NOMEM,
                         "hang watchdog: cannot create a monotonic condition variable: "
                         "%s",
                         strerror(rc));
    return SAL_OK;
}

int sal_watchdog_start(double timeout_s)
{
    return sal_watchdog_start_mpi(timeout_s, 0);
}

int sal_watchdog_start_mpi(double timeout_s, double mpi_timeout_s)
{
    sigset_t all, old;
    double shortest;
    int rc;

    if (!isfinite(timeout_s) || timeout_s < 0)
        return sal_error(SAL_ERR_INVALID_ARG, "hang_timeout=%g: expected seconds >= 0 (0 = off)",
                         timeout_s);
    if (!isfinite(mpi_timeout_s) || mpi_timeout_s < 0)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "mpi_hang_timeout=%g: expected seconds >= 0 (0 = off)", mpi_timeout_s);
    if (timeout_s == 0 && mpi_timeout_s == 0)
        return SAL_OK;
    if (is_owner())
        return sal_error(SAL_ERR_STATE,
                         "the hang watchdog already runs; stop it before starting it "
                         "again");
    rc = init_wake();
    if (rc != SAL_OK)
        return rc;
    timeout = timeout_s;
    mpi_timeout = mpi_timeout_s;
    shortest = timeout_s == 0       ? mpi_timeout_s
               : mpi_timeout_s == 0 ? timeout_s
                                    : (timeout_s < mpi_timeout_s ? timeout_s : mpi_timeout_s);
    period = shortest / 10 < 0.001 ? 0.001 : shortest / 10 > 1.0 ? 1.0 : shortest / 10;
    suspended = 1;
    running = 1;
    last_active = sal_clock_mono();
    atomic_store(&mpi_depth, 0);
    /* The thread blocks every signal: asynchronous signals stay with the application's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&thread, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        running = 0;
        pthread_cond_destroy(&wake);
        return sal_error(SAL_ERR_NOMEM,
                         "cannot start the hang watchdog thread: %s; hang detection "
                         "is off (set hang_timeout=0 to silence this)",
                         strerror(rc));
    }
    owner = getpid();
    return SAL_OK;
}

void sal_watchdog_stop(void)
{
    if (!is_owner())
        return;
    pthread_mutex_lock(&lock);
    running = 0;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    pthread_cond_destroy(&wake);
    owner = 0;
}

void sal_watchdog_suspend(void)
{
    if (!is_owner())
        return;
    pthread_mutex_lock(&lock);
    suspended++;
    pthread_mutex_unlock(&lock);
}

void sal_watchdog_resume(void)
{
    if (!is_owner())
        return;
    pthread_mutex_lock(&lock);
    if (suspended > 0 && --suspended == 0)
        last_active = sal_clock_mono();
    pthread_mutex_unlock(&lock);
}

void sal_watchdog_progress(int64_t step)
{
    atomic_store_explicit(&progress_step, step, memory_order_relaxed);
    atomic_fetch_add_explicit(&progress_count, 1, memory_order_relaxed);
}

void sal_watchdog_mpi_enter(void)
{
    atomic_fetch_add_explicit(&mpi_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mpi_depth, 1, memory_order_relaxed);
}

void sal_watchdog_mpi_leave(void)
{
    atomic_fetch_sub_explicit(&mpi_depth, 1, memory_order_relaxed);
}

void sal_watchdog_unwound(void)
{
    atomic_store_explicit(&mpi_depth, 0, memory_order_relaxed);
}
