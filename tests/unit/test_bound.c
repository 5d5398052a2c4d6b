/* Time bounds of protocol steps (ckpt/src/bound.c): the bound's formula, nesting, the no-op when
 * off, and a process that overruns a bound is killed with SIGKILL after an error naming the step
 * and a "bound" event. The killing cases run in a forked child that configures its own bounds. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "bound.h"
#include "events.h"
#include "fsutil.h"
#include "levels.h"
#include "unit_main.h"

static void test_off(void)
{
    CU_ASSERT_EQUAL(sal_bound_configure(0, 10), SAL_OK);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter("nothing", 5), 0.0, 0.0);
    sal_bound_leave();
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_of(5), 0.0, 0.0);
    sal_bound_shutdown();
}

static void test_formula_and_nesting(void)
{
    CU_ASSERT_EQUAL(sal_bound_configure(20, 10), SAL_OK);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_of(0.5), 25.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_of(-3), 20.0, 1e-12); /* a negative cost counts as 0 */
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter("outer", 1), 30.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter("inner", 0), 20.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter_part("half of one", 0.5, 1), 15.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter_part("no share", 0, 0), 20.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_enter_part("too large a share", 2, 0), 20.0, 1e-12);
    for (int i = 0; i < 3; i++)
        sal_bound_leave();
    sal_bound_leave();
    sal_bound_leave();
    sal_bound_leave(); /* one leave too many is ignored */
    sal_bound_unwound();
    sal_bound_shutdown();
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_of(1), 0.0, 0.0);
}

static void test_invalid(void)
{
    CU_ASSERT_EQUAL(sal_bound_configure(-1, 1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_bound_configure(1, 1.0 / 0.0), SAL_ERR_INVALID_ARG);
    CU_ASSERT_DOUBLE_EQUAL(sal_bound_of(1), 0.0, 0.0);
}

/* Runs body in a child whose stderr goes to err_path; returns its wait status. */
static int in_child(void (*body)(const char *), const char *dir, const char *err_path)
{
    pid_t pid;
    int status = 0;

    (void)fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, STDERR_FILENO);
        body(dir);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    return status;
}

static void overrun(const char *dir)
{
    struct timespec ts = {5, 0};

    sal_events_open(dir, "b");
    sal_bound_configure(0.2, 1);
    sal_bound_enter("outer step", 10); /* 10.2 s: not the one that fires */
    sal_bound_enter("the test agreement", 0);
    nanosleep(&ts, NULL); /* killed after 0.2 s */
}

/* The part fires first: half of the enclosing step's bound. */
static void overrun_part(const char *dir)
{
    struct timespec ts = {5, 0};

    sal_events_open(dir, "b");
    sal_bound_configure(2, 1);
    sal_bound_enter("the whole repair", 0);                /* 2 s */
    sal_bound_enter_part("the spawn at its root", 0.5, 0); /* 1 s */
    nanosleep(&ts, NULL);
}

/* Margins of seconds, not of a tenth: on a loaded machine (the suite beside other work on 2
 * cores) a child can wait that long for a core, and the bounds measure wall time. */
static void within(const char *dir)
{
    struct timespec ts = {0, 300000000L};

    (void)dir;
    sal_bound_configure(0.5, 1);
    sal_bound_enter("a step that ends in time", 3); /* 3.5 s */
    nanosleep(&ts, NULL);
    sal_bound_leave();
    /* 0.5 s, grown by (1 + 1) x 1 s of local work to 2.5 s: it outlasts 0.5 s and survives. */
    sal_bound_enter("a step with local work", 0);
    ts.tv_nsec = 100000000L;
    nanosleep(&ts, NULL);
    sal_bound_credit(1);
    ts.tv_nsec = 600000000L;
    nanosleep(&ts, NULL);
    sal_bound_leave();
    ts.tv_nsec = 700000000L;
    sal_bound_enter("left by a longjmp", 0);
    sal_bound_unwound();
    nanosleep(&ts, NULL);
    sal_bound_shutdown();
}

/* Runs body in a child that must die of SIGKILL after an error naming step and its bound. */
static void killed(void (*body)(const char *), const char *dir, const char *step, const char *bound)
{
    char err[64], *text = NULL;
    size_t len = 0;
    int status;

    snprintf(err, sizeof(err), "%s/stderr", dir);
    status = in_child(body, dir, err);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT_EQUAL(sal_slurp(err, &text, &len), SAL_OK);
    CU_ASSERT(text && strstr(text, step) && strstr(text, "has not ended after") &&
              strstr(text, bound));
    free(text);
}

static void test_kill(void)
{
    char dir[] = "/tmp/sal-test-bound.XXXXXX", err[64], ev[64], *text = NULL;
    size_t len = 0;
    int status;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(err, sizeof(err), "%s/stderr", dir);
    snprintf(ev, sizeof(ev), "%s/b.events.jsonl", dir);
    killed(overrun, dir, "the test agreement", "beyond its bound of 0.200 s");
    CU_ASSERT_EQUAL(sal_slurp(ev, &text, &len), SAL_OK);
    CU_ASSERT(text && strstr(text, "\"event\":\"bound\"") &&
              strstr(text, "\"step\":\"the test agreement\""));
    free(text);
    killed(overrun_part, dir, "the spawn at its root", "beyond its bound of 1.000 s");
    status = in_child(within, dir, err);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sal_remove_tree(dir);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"off", test_off},
        {"formula and nesting", test_formula_and_nesting},
        {"invalid values", test_invalid},
        {"a process that overruns its bound is killed", test_kill},
    };

    return SAL_UNIT_MAIN("protocol bounds", NULL, NULL, tests);
}
