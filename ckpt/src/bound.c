/*
 * Time bounds of Salamander's own protocol steps (contract in bound.h).
 *
 * One thread per process wakes every `period` seconds (protocol_timeout / 10, between 10 ms and
 * 1 s) on a CLOCK_MONOTONIC condition variable and checks the armed deadlines: entering or leaving
 * a step only takes the lock, it never wakes the thread (a wake per step cost a context switch per
 * rank and checkpoint on oversubscribed cores). A step therefore ends its process between its bound
 * and its bound + period. Deadlines live in a small stack: steps nest (a repair contains
 * agreements), and every armed deadline is checked.
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "bound.h"
#include "clock.h"
#include "events.h"
#include "log.h"

#define MAX_NESTED 8

typedef struct armed {
    char step[160];
    double start, bound; /* CLOCK_MONOTONIC seconds; seconds */
} armed_t;

/* Everything below is guarded by lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;
static pthread_t thread;
static int running; /* the thread exists and has not been told to stop */
static pid_t owner; /* the process that started the thread */
static double floor_s, factor = 1;
static armed_t stack[MAX_NESTED];
static int depth; /* entered steps; only the first MAX_NESTED are armed */

/* Reports the step that overran its bound and kills this process. Does not return. */
static void fire(const armed_t *a, double now)
{
    char esc[2 * sizeof(a->step)];

    SAL_LOG_E("%s has not ended after %.3f s, beyond its bound of %.3f s (protocol_timeout=%g + "
              "protocol_timeout_factor=%g x its measured cost): a peer is lost or stuck; killing "
              "this process with SIGKILL so that the job recovers from it as from a crash, or is "
              "relaunched from its last checkpoint (raise protocol_timeout if this step "
              "legitimately takes longer)",
              a->step, now - a->start, a->bound, floor_s, factor);
    sal_event("bound", "\"step\":\"%s\",\"bound_seconds\":%.6f,\"elapsed_seconds\":%.6f",
              sal_json_escape(esc, sizeof(esc), a->step), a->bound, now - a->start);
    (void)fflush(NULL);
    kill(getpid(), SIGKILL);
    for (;;)
        pause();
}

static void *watch(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (running) {
        double now = sal_clock_mono(), period = floor_s / 10;
        int n = depth < MAX_NESTED ? depth : MAX_NESTED;
        struct timespec deadline;

        for (int i = 0; i < n; i++) {
            if (now >= stack[i].start + stack[i].bound) {
                armed_t a = stack[i];
                pthread_mutex_unlock(&lock);
                fire(&a, now);
            }
        }
        period = period < 0.01 ? 0.01 : period > 1 ? 1 : period;
        deadline = sal_clock_timespec(now + period);
        pthread_cond_timedwait(&wake, &lock, &deadline);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int start_thread(void)
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
        return sal_error(SAL_ERR_NOMEM, "protocol bounds: condition variable: %s", strerror(rc));
    running = 1;
    rc = pthread_create(&thread, NULL, watch, NULL);
    if (rc != 0) {
        running = 0;
        pthread_cond_destroy(&wake);
        return sal_error(SAL_ERR_NOMEM, "protocol bounds: thread: %s", strerror(rc));
    }
    owner = getpid();
    return SAL_OK;
}

int sal_bound_configure(double floor_in, double factor_in)
{
    int rc = SAL_OK;

    if (!isfinite(floor_in) || floor_in < 0 || !isfinite(factor_in) || factor_in < 0)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "protocol bounds: protocol_timeout %g and protocol_timeout_factor %g "
                         "must be finite and >= 0",
                         floor_in, factor_in);
    pthread_mutex_lock(&lock);
    floor_s = floor_in;
    factor = factor_in;
    if (floor_s > 0 && !running)
        rc = start_thread();
    pthread_mutex_unlock(&lock);
    return rc;
}

/* 1 when bounds are on in this process (not in a forked child). Called with lock held. */
static int active(void)
{
    return running && floor_s > 0 && owner == getpid();
}

double sal_bound_of(double cost_s)
{
    double b;

    pthread_mutex_lock(&lock);
    b = active() ? floor_s + factor * (cost_s > 0 ? cost_s : 0) : 0;
    pthread_mutex_unlock(&lock);
    return b;
}

double sal_bound_enter_part(const char *step, double share, double cost_s)
{
    double b = 0;

    if (!(share > 0 && share <= 1))
        share = 1;
    pthread_mutex_lock(&lock);
    if (active()) {
        b = share * (floor_s + factor * (cost_s > 0 ? cost_s : 0));
        if (depth < MAX_NESTED) {
            armed_t *a = &stack[depth];
            snprintf(a->step, sizeof(a->step), "%s", step);
            a->start = sal_clock_mono();
            a->bound = b;
        }
        depth++;
    }
    pthread_mutex_unlock(&lock);
    return b;
}

void sal_bound_credit(double local_s)
{
    pthread_mutex_lock(&lock);
    if (active() && local_s > 0) {
        int n = depth < MAX_NESTED ? depth : MAX_NESTED;
        for (int i = 0; i < n; i++)
            stack[i].bound += (1 + factor) * local_s;
    }
    pthread_mutex_unlock(&lock);
}

void sal_bound_credit_since(double t0)
{
    sal_bound_credit(sal_clock_mono() - t0);
}

void sal_bound_leave(void)
{
    pthread_mutex_lock(&lock);
    if (active() && depth > 0)
        depth--;
    pthread_mutex_unlock(&lock);
}

void sal_bound_unwound(void)
{
    pthread_mutex_lock(&lock);
    depth = 0;
    pthread_mutex_unlock(&lock);
}

void sal_bound_shutdown(void)
{
    int joined;

    pthread_mutex_lock(&lock);
    joined = running && owner == getpid();
    if (joined) {
        running = 0;
        pthread_cond_signal(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (!joined)
        return;
    pthread_join(thread, NULL);
    pthread_mutex_lock(&lock);
    pthread_cond_destroy(&wake);
    depth = 0;
    floor_s = 0;
    owner = 0;
    pthread_mutex_unlock(&lock);
}
