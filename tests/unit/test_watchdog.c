/*
 * The hang watchdog (runtime/src/watchdog.c): each case that can fire runs in a forked child, which
 * must be killed by SIGKILL within a bound (a hang) or exit with status 0 (no hang).
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "watchdog.h"
#include "unit_main.h"

#define TIMEOUT 0.3  /* the watchdog timeout of the children, seconds */
#define LATEST  10.0 /* a hung child must be dead this many seconds after it started (valgrind) */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Runs child() in a forked process; returns its wait status, and in *elapsed the seconds until it
 * ended. A child still alive after LATEST seconds is killed with SIGTERM (a distinct status). */
static int run_child(void (*child)(void), double *elapsed)
{
    double t0 = now();
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        child();
        _exit(0);
    }
    CU_ASSERT_FATAL(pid > 0);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now() - t0 > LATEST) {
            kill(pid, SIGTERM);
            waitpid(pid, &status, 0);
            break;
        }
        nap(0.005);
    }
    *elapsed = now() - t0;
    return status;
}

static int killed_by_watchdog(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static int exited_ok(int status)
{
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void start_or_fail(double timeout)
{
    if (sal_watchdog_start(timeout) != SAL_OK)
        _exit(3);
}

static void child_hangs(void)
{
    start_or_fail(TIMEOUT);
    sal_watchdog_resume();
    for (;;)
        pause();
}

static void child_progresses(void)
{
    start_or_fail(TIMEOUT);
    sal_watchdog_resume();
    for (int i = 0; i < 60; i++) { /* 1.2 s, four timeouts */
        sal_watchdog_progress(i);
        nap(0.02);
    }
    sal_watchdog_stop();
}

/* Suspended at start, and while suspended again later: never fires. Each resume restarts the clock,
 * so two idle stretches of half the timeout separated by a suspension do not add up. */
static void child_suspended(void)
{
    start_or_fail(TIMEOUT);
    nap(3 * TIMEOUT);
    sal_watchdog_resume();
    nap(TIMEOUT / 2);
    sal_watchdog_suspend();
    sal_watchdog_suspend(); /* nested */
    nap(3 * TIMEOUT);
    sal_watchdog_resume();
    nap(3 * TIMEOUT); /* still suspended once */
    sal_watchdog_resume();
    nap(TIMEOUT / 2);
    sal_watchdog_stop();
}

/* Waiting inside a blocking MPI call is not a hang. */
static void child_waits_in_mpi(void)
{
    start_or_fail(TIMEOUT);
    sal_watchdog_resume();
    sal_watchdog_mpi_enter();
    nap(4 * TIMEOUT);
    sal_watchdog_mpi_leave();
    sal_watchdog_progress(1);
    sal_watchdog_stop();
}

/* A longjmp out of an MPI call (sal_watchdog_unwound) does not leave the process "inside MPI". */
static void child_unwound_then_hangs(void)
{
    start_or_fail(TIMEOUT);
    sal_watchdog_resume();
    sal_watchdog_mpi_enter();
    sal_watchdog_unwound();
    for (;;)
        pause();
}

/* mpi_hang_timeout alone: one MPI call that lasts longer kills the process. */
static void child_stuck_in_mpi(void)
{
    if (sal_watchdog_start_mpi(0, TIMEOUT) != SAL_OK)
        _exit(3);
    sal_watchdog_resume();
    sal_watchdog_mpi_enter();
    for (;;)
        pause();
}

/* mpi_hang_timeout: many short MPI calls add up to more than it, and a suspended long one, are
 * fine; with hang_timeout 0 time outside MPI is not watched. */
static void child_short_mpi_calls(void)
{
    if (sal_watchdog_start_mpi(0, TIMEOUT) != SAL_OK)
        _exit(3);
    sal_watchdog_resume();
    for (int i = 0; i < 40; i++) { /* 1.2 s inside MPI in calls of 30 ms */
        sal_watchdog_mpi_enter();
        nap(0.03);
        sal_watchdog_mpi_leave();
    }
    nap(3 * TIMEOUT); /* outside MPI, no progress: not watched */
    sal_watchdog_suspend();
    sal_watchdog_mpi_enter();
    nap(3 * TIMEOUT);
    sal_watchdog_mpi_leave();
    sal_watchdog_resume();
    sal_watchdog_stop();
}

/* child is killed by the watchdog between TIMEOUT and LATEST seconds after its start. */
static void expect_killed_in_time(void (*child)(void))
{
    double elapsed = 0;
    int status = run_child(child, &elapsed);

    CU_ASSERT(killed_by_watchdog(status));
    CU_ASSERT(elapsed >= TIMEOUT);
    CU_ASSERT(elapsed < LATEST);
}

static void expect_survives(void (*child)(void))
{
    double elapsed = 0;

    CU_ASSERT(exited_ok(run_child(child, &elapsed)));
}

static void test_stuck_in_mpi_is_killed(void)
{
    expect_killed_in_time(child_stuck_in_mpi);
}

static void test_short_mpi_calls_survive(void)
{
    expect_survives(child_short_mpi_calls);
}

static void test_hang_is_killed(void)
{
    expect_killed_in_time(child_hangs);
}

static void test_progress_survives(void)
{
    expect_survives(child_progresses);
}

static void test_suspend_survives(void)
{
    expect_survives(child_suspended);
}

static void test_mpi_wait_survives(void)
{
    expect_survives(child_waits_in_mpi);
}

static void test_unwound_is_killed(void)
{
    double elapsed = 0;
    int status = run_child(child_unwound_then_hangs, &elapsed);

    CU_ASSERT(killed_by_watchdog(status));
    CU_ASSERT(elapsed >= TIMEOUT);
}

static void test_arguments_and_lifecycle(void)
{
    CU_ASSERT_EQUAL(sal_watchdog_start(-1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_watchdog_start(NAN), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_watchdog_start(INFINITY), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_watchdog_start_mpi(0, -1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_watchdog_start_mpi(1, NAN), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_watchdog_start_mpi(0, 0), SAL_OK); /* both off: nothing starts */
    /* Off: every call is a no-op. */
    CU_ASSERT_EQUAL(sal_watchdog_start(0), SAL_OK);
    sal_watchdog_resume();
    sal_watchdog_suspend();
    sal_watchdog_stop();
    sal_watchdog_stop();
    /* Started (suspended) twice: refused; stop joins; it can start again. */
    CU_ASSERT_EQUAL(sal_watchdog_start(100), SAL_OK);
    CU_ASSERT_EQUAL(sal_watchdog_start(100), SAL_ERR_STATE);
    sal_watchdog_stop();
    CU_ASSERT_EQUAL(sal_watchdog_start(100), SAL_OK);
    sal_watchdog_stop();
}

/* In a forked child the calls neither touch the parent's thread nor block on its lock. */
static void child_of_running_watchdog(void)
{
    sal_watchdog_suspend();
    sal_watchdog_resume();
    sal_watchdog_progress(7);
    sal_watchdog_stop();
}

static void test_fork_child_is_inert(void)
{
    double elapsed = 0;

    CU_ASSERT_EQUAL_FATAL(sal_watchdog_start(100), SAL_OK);
    sal_watchdog_resume();
    CU_ASSERT(exited_ok(run_child(child_of_running_watchdog, &elapsed)));
    sal_watchdog_suspend();
    sal_watchdog_stop();
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"a hung process is killed with SIGKILL", test_hang_is_killed},
        {"progress points keep it alive", test_progress_survives},
        {"suspensions nest and restart the clock", test_suspend_survives},
        {"waiting inside MPI is not a hang", test_mpi_wait_survives},
        {"unwinding out of MPI forgets the call", test_unwound_is_killed},
        {"mpi_hang_timeout: a process stuck in one MPI call is killed",
         test_stuck_in_mpi_is_killed},
        {"mpi_hang_timeout: short calls and suspensions are fine", test_short_mpi_calls_survive},
        {"arguments and lifecycle", test_arguments_and_lifecycle},
        {"a forked child is inert", test_fork_child_is_inert},
    };

    return SAL_UNIT_MAIN("watchdog", NULL, NULL, tests);
}
