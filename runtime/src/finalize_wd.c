/*
 * The MPI_Finalize watchdog.
 *
 * Open MPI 5.0.x survivors of a process failure sometimes never return from MPI_Finalize (they spin
 * in the runtime's final fence: open-mpi/ompi issues 11404, 9434). After this process took part in
 * a repair, sal_finalize arms a watchdog: MPI_Finalize starts it (through the deletion of an
 * attribute on MPI_COMM_SELF, the first thing MPI_Finalize does), and if MPI_Finalize has not
 * returned after finalize_timeout seconds the process exits with status 0 — every result was
 * produced before. The MPI_Finalize wrapper of the interposition layer stops the watchdog when
 * MPI_Finalize returns (its finalize hook, runtime/interpose/hooks.c, calls
 * sal_rt_finalize_returned).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "events.h"
#include "log.h"
#include "runtime.h"

enum { WD_OFF, WD_READY, WD_RUNNING, WD_DONE };

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static int wd_state = WD_OFF;
static double wd_timeout;

static void *watchdog(void *arg)
{
    struct timespec deadline;
    int expired = 0;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)wd_timeout;
    deadline.tv_nsec += (long)((wd_timeout - (double)(time_t)wd_timeout) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wd_lock);
    while (wd_state == WD_RUNNING && !expired)
        expired = pthread_cond_timedwait(&wd_cond, &wd_lock, &deadline) == ETIMEDOUT;
    expired = wd_state == WD_RUNNING;
    pthread_mutex_unlock(&wd_lock);
    if (expired) {
        SAL_LOG_W("MPI_Finalize has not returned after %.1f s (Open MPI issue 11404); exiting with "
                  "status 0",
                  wd_timeout);
        (void)fflush(stdout);
        (void)fflush(stderr);
        _exit(0);
    }
    return NULL;
}

/* Delete callback of the MPI_COMM_SELF attribute: MPI_Finalize has begun. */
static int finalize_started(MPI_Comm comm, int key, void *val, void *extra)
{
    pthread_t tid;

    (void)comm;
    (void)key;
    (void)val;
    (void)extra;
    pthread_mutex_lock(&wd_lock);
    if (wd_state == WD_READY && pthread_create(&tid, NULL, watchdog, NULL) == 0) {
        wd_state = WD_RUNNING;
        pthread_detach(tid);
    }
    pthread_mutex_unlock(&wd_lock);
    return MPI_SUCCESS;
}

void sal_rt_finalize_returned(void)
{
    pthread_mutex_lock(&wd_lock);
    wd_state = WD_DONE;
    pthread_cond_broadcast(&wd_cond);
    pthread_mutex_unlock(&wd_lock);
}

void sal_rt_arm_finalize_watchdog(double timeout)
{
    static int key = MPI_KEYVAL_INVALID; /* created once, however often this is called */

    if (timeout <= 0 || (key == MPI_KEYVAL_INVALID &&
                         MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, finalize_started, &key,
                                                NULL) != MPI_SUCCESS))
        return;
    wd_timeout = timeout;
    wd_state = WD_READY;
    /* PMPI_: the finalize hook calls into this file, so it calls no interposed MPI function. */
    PMPI_Comm_set_attr(MPI_COMM_SELF, key, NULL);
}
