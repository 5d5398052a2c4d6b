/* The clock (ckpt/src/clock.c): the monotonic clock, seconds as a timespec, and the age of the
 * process that the event start reports (age_at_init). */
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "clock.h"
#include "unit_main.h"

static void sleep_seconds(double s)
{
    struct timespec ts = sal_clock_timespec(s);

    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void test_mono_and_timespec(void)
{
    double t0 = sal_clock_mono();
    struct timespec ts = sal_clock_timespec(2.5);

    CU_ASSERT(ts.tv_sec == 2 && ts.tv_nsec == 500000000L);
    ts = sal_clock_timespec(1.9999999999);
    CU_ASSERT(ts.tv_nsec < 1000000000L);
    sleep_seconds(0.02);
    CU_ASSERT(sal_clock_mono() - t0 >= 0.02);
}

/* Its start stays where it is: two readings differ by the time between them. */
static void test_process_age_advances(void)
{
    double a1 = sal_clock_process_age();

    CU_ASSERT(a1 >= 0 && a1 < 3600);
    sleep_seconds(0.12);
    double a2 = sal_clock_process_age();
    CU_ASSERT(a2 - a1 > 0.11 && a2 - a1 < 1.0);
}

/* A new process is young: a forked child, made to wait 0.1 s, is 0.1-1 s old. */
static void test_process_age_of_a_child(void)
{
    int status = -1;

    sleep_seconds(0.05); /* this process is older than its child by at least this */
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        sleep_seconds(0.1);
        double age = sal_clock_process_age();
        _exit(age >= 0.09 && age < 1.0 ? 0 : 1);
    }
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"monotonic clock and timespec", test_mono_and_timespec},
        {"the age of this process advances with time", test_process_age_advances},
        {"a new process is young", test_process_age_of_a_child},
    };

    return SAL_UNIT_MAIN("clock", NULL, NULL, tests);
}
