/*
 * Hang detection: one watchdog thread per process.
 *
 * A process is hung when it spends hang_timeout seconds outside MPI without reaching a progress
 * point (a step boundary, the start or end of a checkpoint or restore). The watchdog then logs an
 * error, writes a "hang" event and kills its own process with SIGKILL, so that ULFM reports an
 * ordinary process failure to the survivors and they repair the job. Time spent inside a blocking
 * MPI call counts as activity (the functions of the interposition layer's list that switch on the
 * hook SAL_HOOK_WATCHDOG, runtime/interpose/mpi_functions.def; the application's calls and
 * Salamander's own alike): a rank waiting for a hung peer is not hung itself, and only the peer
 * that stopped is killed. A job in which every rank waits inside MPI (a deadlock, or a hang inside
 * the MPI library) is detected only with mpi_hang_timeout, which kills a process that stays inside
 * one MPI call that long.
 *
 * Lifecycle: sal_watchdog_start (the thread runs, suspended once) -> sal_watchdog_resume /
 * sal_watchdog_suspend pairs around the phases it watches -> sal_watchdog_stop (joins the thread).
 * With a timeout of 0 every call is a cheap no-op. Suspensions nest.
 *
 * Threads: sal_watchdog_progress and the MPI enter/leave hooks may be called from any thread; the
 * other functions from the thread that called sal_watchdog_start.
 *
 * fork: the child of a fork has no watchdog thread. In the child, suspend/resume/stop return
 * without touching the parent's lock or thread and the hooks only update counters nobody reads; a
 * child that needs hang detection must exec a program that starts its own watchdog.
 */
#ifndef SAL_WATCHDOG_H
#define SAL_WATCHDOG_H

#include <stdint.h>

/* Starts the watchdog thread, suspended once, with a timeout of timeout_s seconds (0 = off: nothing
 * is started). SAL_OK; SAL_ERR_INVALID_ARG for a negative or non-finite timeout; SAL_ERR_STATE when
 * it already runs; SAL_ERR_NOMEM when the thread or its condition variable cannot be created. */
int sal_watchdog_start(double timeout_s);
/* The same, and also fires when the process stays inside one blocking MPI call for mpi_timeout_s
 * seconds (0 = never), outside suspensions: a safety net for hangs inside the MPI library itself
 * (key mpi_hang_timeout). The watchdog runs when either timeout is > 0. */
int sal_watchdog_start_mpi(double timeout_s, double mpi_timeout_s);

/* Stops and joins the thread. Safe when the watchdog never started, or in a forked child. */
void sal_watchdog_stop(void);

/* The watchdog does not fire between sal_watchdog_suspend and the matching sal_watchdog_resume
 * (legitimately long phases: a repair with spawn, MPI_Finalize, the application outside sal_run).
 * Resuming restarts the clock: the process then has a full timeout before it can be declared hung.
 */
void sal_watchdog_suspend(void);
void sal_watchdog_resume(void);

/* A progress point: step is the number of completed steps (reported when the watchdog fires).
 * Lock-free and without system calls. */
void sal_watchdog_progress(int64_t step);

/* Called around every blocking MPI call: the before and after of the interposition layer's hang
 * watchdog hook (runtime/interpose/hooks.c). Lock-free and without system calls. */
void sal_watchdog_mpi_enter(void);
void sal_watchdog_mpi_leave(void);

/* The caller left MPI calls without returning from them (the failure handler's longjmp out of the
 * application's step): forget the calls that were in progress. The reset of the hang watchdog
 * hook, run by sal_interpose_unwound. */
void sal_watchdog_unwound(void);

#endif
