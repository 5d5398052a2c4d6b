/* Unit tests of fault injection (inject.c): the parser and once-per-job firing in forked children.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "fsutil.h"
#include "inject.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-inject-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    sal_events_close();
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

static sal_inject_t *parse_ok(const char *text)
{
    sal_inject_t *plan = NULL;
    int rc = sal_inject_parse(text, &plan);

    CU_ASSERT_EQUAL(rc, SAL_OK);
    if (rc != SAL_OK)
        fprintf(stderr, "unexpected parse failure of '%s': %s\n", text, sal_last_error());
    return plan;
}

static void test_parse_full_specs(void)
{
    sal_inject_t *plan = parse_ok("rank=2,step=40,point=compute,signal=KILL;"
                                  "rank=1,step=80,point=ckpt_write");
    const sal_inject_spec_t *s;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    CU_ASSERT_EQUAL(sal_inject_count(plan), 2);
    s = sal_inject_get(plan, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->rank, 2);
    CU_ASSERT_EQUAL(s->step, 40);
    CU_ASSERT_EQUAL(s->point, SAL_INJ_COMPUTE);
    CU_ASSERT_EQUAL(s->action, SAL_INJ_SIGNAL);
    CU_ASSERT_EQUAL(s->signal, SIGKILL);
    s = sal_inject_get(plan, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->rank, 1);
    CU_ASSERT_EQUAL(s->step, 80);
    CU_ASSERT_EQUAL(s->point, SAL_INJ_CKPT_WRITE);
    CU_ASSERT_PTR_NULL(sal_inject_get(plan, 2));
    CU_ASSERT_PTR_NULL(sal_inject_get(plan, -1));
    sal_inject_free(&plan);
    CU_ASSERT_PTR_NULL(plan);
}

static void test_parse_defaults_and_spacing(void)
{
    sal_inject_t *plan = parse_ok("  rank = 3 , point=recovery , action=hang ;\n"
                                  "rank=0;rank=7,signal=SIGTERM,step=9223372036854775807;"
                                  "rank=1,signal=10,action=signal;rank=4,action=exit;");
    const sal_inject_spec_t *s;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    CU_ASSERT_EQUAL_FATAL(sal_inject_count(plan), 5);
    s = sal_inject_get(plan, 0);
    CU_ASSERT_EQUAL(s->rank, 3);
    CU_ASSERT_EQUAL(s->step, 0);
    CU_ASSERT_EQUAL(s->point, SAL_INJ_RECOVERY);
    CU_ASSERT_EQUAL(s->action, SAL_INJ_HANG);
    s = sal_inject_get(plan, 1);
    CU_ASSERT_EQUAL(s->rank, 0);
    CU_ASSERT_EQUAL(s->step, 0);
    CU_ASSERT_EQUAL(s->point, SAL_INJ_COMPUTE);
    CU_ASSERT_EQUAL(s->action, SAL_INJ_SIGNAL);
    CU_ASSERT_EQUAL(s->signal, SIGKILL);
    s = sal_inject_get(plan, 2);
    CU_ASSERT_EQUAL(s->signal, SIGTERM);
    CU_ASSERT_EQUAL(s->step, INT64_MAX);
    CU_ASSERT_EQUAL(sal_inject_get(plan, 3)->signal, 10);
    CU_ASSERT_EQUAL(sal_inject_get(plan, 4)->action, SAL_INJ_EXIT);
    sal_inject_free(&plan);
}

static void test_parse_names(void)
{
    static const char *const signals[] = {"KILL", "TERM", "SEGV", "ABRT", "BUS",
                                          "INT",  "USR1", "USR2", "HUP"};
    static const int numbers[] = {SIGKILL, SIGTERM, SIGSEGV, SIGABRT, SIGBUS,
                                  SIGINT,  SIGUSR1, SIGUSR2, SIGHUP};
    char text[128];
    sal_inject_t *plan;

    for (int p = 0; p < SAL_INJ_NPOINTS; p++) {
        snprintf(text, sizeof(text), "rank=1,point=%s", sal_inject_point_name(p));
        plan = parse_ok(text);
        CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
        CU_ASSERT_EQUAL(sal_inject_get(plan, 0)->point, p);
        sal_inject_free(&plan);
    }
    CU_ASSERT_STRING_EQUAL(sal_inject_point_name(SAL_INJ_CKPT_PUBLISH), "ckpt_publish");
    CU_ASSERT_STRING_EQUAL(sal_inject_point_name(SAL_INJ_RESTORE), "restore");
    CU_ASSERT_STRING_EQUAL(sal_inject_point_name(SAL_INJ_INIT), "init");
    CU_ASSERT_STRING_EQUAL(sal_inject_point_name(SAL_INJ_DONE), "done");
    CU_ASSERT_STRING_EQUAL(sal_inject_point_name(SAL_INJ_CKPT_COPY), "ckpt_copy");
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        snprintf(text, sizeof(text), "rank=1,signal=%s", signals[i]);
        plan = parse_ok(text);
        CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
        CU_ASSERT_EQUAL(sal_inject_get(plan, 0)->signal, numbers[i]);
        sal_inject_free(&plan);
    }
}

static void test_parse_empty(void)
{
    const char *empty[] = {NULL, "", "   ", " ; "};
    sal_inject_t *plan;

    for (size_t i = 0; i < 3; i++) {
        plan = parse_ok(empty[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
        CU_ASSERT_EQUAL(sal_inject_count(plan), 0);
        sal_inject_free(&plan);
    }
    plan = (sal_inject_t *)1;
    CU_ASSERT_EQUAL(sal_inject_parse(empty[3], &plan), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(plan);
    CU_ASSERT_EQUAL(sal_inject_count(NULL), 0);
    CU_ASSERT_EQUAL(sal_inject_parse("rank=1", NULL), SAL_ERR_INVALID_ARG);
    sal_inject_free(NULL);
    sal_inject_free(&plan);
}

/* Each bad text is rejected with SAL_ERR_CONFIG and a message containing both strings. */
static void test_parse_rejects_garbage(void)
{
    static const char *const bad[][3] = {
        {"rank=1,foo=2", "'foo=2'", "rank, step, point, signal, action"},
        {"rank=1,rank=2", "'rank=2'", "twice"},
        {"step=3", "'step=3'", "rank=<n> is required"},
        {"point=compute", "'point=compute'", "required"},
        {"rank=-1", "'rank=-1'", "negative"},
        {"rank=1,step=-5", "'step=-5'", "negative"},
        {"rank=1x", "'rank=1x'", "integer"},
        {"rank=+1", "'rank=+1'", "integer"},
        {"rank=0x10", "'rank=0x10'", "integer"},
        {"rank=1 2", "'rank=1 2'", "integer"},
        {"rank=2147483648", "'rank=2147483648'", "larger than 2147483647"},
        {"rank=1,step=99999999999999999999", "'step=99999999999999999999'", "larger than"},
        {"rank=1,point=nowhere", "'point=nowhere'", "compute, ckpt_write, ckpt_copy, ckpt_agree"},
        {"rank=1,point=COMPUTE", "'point=COMPUTE'", "recovery, restore"},
        {"rank=1,signal=FOO", "'signal=FOO'", "KILL, TERM"},
        {"rank=1,signal=0", "'signal=0'", "1..64"},
        {"rank=1,signal=65", "'signal=65'", "1..64"},
        {"rank=1,signal=-9", "'signal=-9'", "1..64"},
        {"rank=1,action=explode", "'action=explode'", "signal, hang, exit, sleep"},
        {"rank=1,seconds=3", "'rank=1,seconds=3'", "action=sleep"},
        {"rank=1,action=sleep,seconds=86401", "'seconds=86401'", "larger than 86400"},
        {"rank=1,action=sleep,seconds=-1", "'seconds=-1'", "negative"},
        {"rank=1,action=exit,signal=TERM", "'rank=1,action=exit,signal=TERM'", "action=signal"},
        {"rank=1,,step=2", "'rank=1,,step=2'", "empty item"},
        {"rank=1,", "'rank=1,'", "empty item"},
        {"rank=1;;rank=2", "empty failure spec", "';'"},
        {";rank=1", "empty failure spec", "';'"},
        {"rank", "'rank'", "key=value"},
        {"rank=", "'rank='", "empty value"},
        {"=1", "'=1'", "unknown key"},
        {"rank=1,step=2;rank=2,bogus", "'bogus'", "key=value"},
        {"host=n1,rank=1", "'host=n1'", "unknown key"},
    };
    sal_inject_t *plan;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        plan = (sal_inject_t *)1;
        rc = sal_inject_parse(bad[i][0], &plan);
        CU_ASSERT_EQUAL(rc, SAL_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(plan);
        if (rc != SAL_ERR_CONFIG || !strstr(sal_last_error(), bad[i][1]) ||
            !strstr(sal_last_error(), bad[i][2])) {
            fprintf(stderr, "\n'%s' -> %d: %s\n", bad[i][0], rc, sal_last_error());
            CU_FAIL("message does not quote the item or list the accepted values");
        }
        if (rc == SAL_OK)
            sal_inject_free(&plan);
    }
}

static void test_parse_limits(void)
{
    size_t size = 8000;
    char *text = malloc(size);
    sal_inject_t *plan = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[0] = '\0';
    for (int i = 0; i < SAL_INJECT_MAX_SPECS; i++)
        snprintf(text + strlen(text), size - strlen(text), "rank=%d;", i);
    plan = parse_ok(text);
    CU_ASSERT_EQUAL(sal_inject_count(plan), SAL_INJECT_MAX_SPECS);
    sal_inject_free(&plan);
    snprintf(text + strlen(text), size - strlen(text), "rank=99");
    CU_ASSERT_EQUAL(sal_inject_parse(text, &plan), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "more than 64"));
    memset(text, ' ', 7000);
    memcpy(text + 6990, "rank=1", 7);
    CU_ASSERT_EQUAL(sal_inject_parse(text, &plan), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "longer than"));
    free(text);
}

/* Forks a child that calls sal_inject_point and exits 0 when it returns. Returns its pid. */
static pid_t spawn_point(sal_inject_t *plan, int rank, int64_t step, sal_inject_point_t point)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        sal_inject_point(plan, rank, step, point);
        _exit(0);
    }
    return pid;
}

/* spawn_point, then the child's raw wait status (-1 on error). */
static int run_point(sal_inject_t *plan, int rank, int64_t step, sal_inject_point_t point)
{
    pid_t pid = spawn_point(plan, rank, step, point);
    int st = -1;

    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return st;
}

static int marker_exists(const char *dir, int i)
{
    char path[PATH_MAX];
    struct stat st;

    if (sal_path_join(path, sizeof(path), "%s/inject.%d.fired", dir, i) != SAL_OK)
        return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600;
}

static void make_dir(char *dir, size_t size, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(dir, size, "%s/%s", tmpdir, name), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(dir, 0700), SAL_OK);
}

static void test_fires_once_with_marker(void)
{
    char dir[PATH_MAX], path[PATH_MAX], *log = NULL;
    size_t len;
    sal_inject_t *plan = parse_ok("rank=1,step=5,point=ckpt_write,action=exit");
    int st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    make_dir(dir, sizeof(dir), "once");
    CU_ASSERT_EQUAL(sal_inject_set_marker_dir(plan, dir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_events_open(dir, "once"), SAL_OK);
    /* Wrong rank, earlier step, other point: nothing fires, in this very process. */
    sal_inject_point(plan, 0, 5, SAL_INJ_CKPT_WRITE);
    sal_inject_point(plan, 1, 4, SAL_INJ_CKPT_WRITE);
    sal_inject_point(plan, 1, 5, SAL_INJ_COMPUTE);
    sal_inject_point(plan, 1, 5, SAL_INJ_CKPT_AGREE);
    sal_inject_point(NULL, 1, 5, SAL_INJ_CKPT_WRITE);
    CU_ASSERT_FALSE(marker_exists(dir, 0));

    st = run_point(plan, 1, 5, SAL_INJ_CKPT_WRITE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CU_ASSERT_TRUE(marker_exists(dir, 0));
    /* A replacement re-running the same step does not fail again. */
    st = run_point(plan, 1, 5, SAL_INJ_CKPT_WRITE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = run_point(plan, 1, 6, SAL_INJ_CKPT_WRITE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sal_events_close();

    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/once.events.jsonl", dir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_read_file(path, 1 << 20, &log, &len), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "\"event\":\"inject\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        log,
        "\"point\":\"ckpt_write\",\"step\":5,\"signal\":0,\"action\":\"exit\",\"seconds\":0}"));
    /* Exactly one inject line. */
    CU_ASSERT_PTR_NULL(strstr(strstr(log, "\"inject\"") + 1, "\"inject\""));
    free(log);
    sal_inject_free(&plan);
}

static void test_signal_and_step_semantics(void)
{
    char dir[PATH_MAX];
    sal_inject_t *plan = parse_ok("rank=2,step=3,signal=TERM;rank=0,point=restore");
    int st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    make_dir(dir, sizeof(dir), "signals");
    CU_ASSERT_EQUAL(sal_inject_set_marker_dir(plan, dir), SAL_OK);
    st = run_point(plan, 2, 2, SAL_INJ_COMPUTE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* step >= spec.step: the first opportunity at or after step 3 fires. */
    st = run_point(plan, 2, 7, SAL_INJ_COMPUTE);
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
    CU_ASSERT_TRUE(marker_exists(dir, 0));
    CU_ASSERT_FALSE(marker_exists(dir, 1));
    st = run_point(plan, 0, 0, SAL_INJ_RESTORE);
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CU_ASSERT_TRUE(marker_exists(dir, 1));
    st = run_point(plan, 0, 0, SAL_INJ_RESTORE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sal_inject_free(&plan);
}

static void test_hang_stops_progress(void)
{
    char dir[PATH_MAX];
    sal_inject_t *plan = parse_ok("rank=0,point=recovery,action=hang");
    struct timespec pause = {0, 300 * 1000 * 1000};
    pid_t pid;
    int st = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    make_dir(dir, sizeof(dir), "hang");
    CU_ASSERT_EQUAL(sal_inject_set_marker_dir(plan, dir), SAL_OK);
    pid = spawn_point(plan, 0, 1, SAL_INJ_RECOVERY);
    CU_ASSERT_FATAL(pid > 0);
    nanosleep(&pause, NULL);
    CU_ASSERT_EQUAL(waitpid(pid, &st, WNOHANG), 0);
    kill(pid, SIGKILL);
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CU_ASSERT_TRUE(marker_exists(dir, 0));
    sal_inject_free(&plan);
}

/* action=sleep pauses the given seconds and returns: the process goes on (exit 0 here). */
static void test_sleep_goes_on(void)
{
    sal_inject_t *plan = parse_ok("rank=2,point=ckpt_write,action=sleep,seconds=1;rank=3,"
                                  "action=sleep");
    struct timespec t0, t1;
    int st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    CU_ASSERT_EQUAL(sal_inject_get(plan, 0)->seconds, 1);
    CU_ASSERT_EQUAL(sal_inject_get(plan, 1)->seconds, 10); /* the default */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = run_point(plan, 2, 0, SAL_INJ_CKPT_WRITE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_TRUE((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >=
                   0.99);
    sal_inject_free(&plan);
}

static void test_without_marker_dir(void)
{
    sal_inject_t *plan = parse_ok("rank=1,action=exit");
    int st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    CU_ASSERT_EQUAL(sal_inject_set_marker_dir(NULL, "/tmp"), SAL_ERR_INVALID_ARG);
    /* Without a marker directory every process fires. */
    st = run_point(plan, 1, 0, SAL_INJ_COMPUTE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    st = run_point(plan, 1, 0, SAL_INJ_COMPUTE);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    sal_inject_free(&plan);
}

/* sal_inject_pending says whether sal_inject_point would fire, without firing. */
static void test_pending(void)
{
    sal_inject_t *plan = parse_ok("rank=2,step=60,point=replay,action=sleep,seconds=0");

    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    CU_ASSERT_FALSE(sal_inject_pending(NULL, 2, 60, SAL_INJ_REPLAY));
    CU_ASSERT_FALSE(sal_inject_pending(plan, 2, 59, SAL_INJ_REPLAY));  /* too early */
    CU_ASSERT_FALSE(sal_inject_pending(plan, 1, 60, SAL_INJ_REPLAY));  /* another rank */
    CU_ASSERT_FALSE(sal_inject_pending(plan, 2, 60, SAL_INJ_COMPUTE)); /* another point */
    CU_ASSERT_TRUE(sal_inject_pending(plan, 2, 70, SAL_INJ_REPLAY));
    CU_ASSERT_TRUE(sal_inject_pending(plan, 2, 70, SAL_INJ_REPLAY)); /* asking fires nothing */
    sal_inject_point(plan, 2, 70, SAL_INJ_REPLAY);                   /* a pause of 0 s: returns */
    CU_ASSERT_FALSE(sal_inject_pending(plan, 2, 70, SAL_INJ_REPLAY));
    sal_inject_free(&plan);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"parse full specs", test_parse_full_specs},
        {"parse defaults and spacing", test_parse_defaults_and_spacing},
        {"parse point and signal names", test_parse_names},
        {"parse empty text", test_parse_empty},
        {"parse rejects garbage", test_parse_rejects_garbage},
        {"parse limits", test_parse_limits},
        {"fires once with a marker", test_fires_once_with_marker},
        {"signal and step semantics", test_signal_and_step_semantics},
        {"hang stops progress", test_hang_stops_progress},
        {"without a marker directory", test_without_marker_dir},
        {"sleep goes on", test_sleep_goes_on},
        {"pending", test_pending},
    };

    return SAL_UNIT_MAIN("inject", suite_init, suite_clean, tests);
}
