/*
 * Unit tests of the configuration, the second program: INI files, SAL_* environment layering, job
 * and directory resolution, serialization and validation. The shared helpers are in
 * config_fixture.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>
#include <salamander/sal_types.h>

#include "config_fixture.h"
#include "config_internal.h"
#include "fsutil.h"
#include "unit_main.h"

#define DATA SAL_TEST_DATA_DIR "/config/"

extern char **environ;

static char tmpdir[PATH_MAX];

/* Removes every SAL_* variable except the SAL_TEST_* ones, so the environment tests are hermetic.
 */
static void clear_sal_env(void)
{
    char name[256];
    int again = 1;

    while (again) {
        again = 0;
        for (char **e = environ; *e; e++) {
            size_t len = strcspn(*e, "=");

            if (strncmp(*e, "SAL_", 4) != 0 || strncmp(*e, "SAL_TEST_", 9) == 0 ||
                len >= sizeof(name))
                continue;
            memcpy(name, *e, len);
            name[len] = '\0';
            unsetenv(name);
            again = 1;
            break;
        }
    }
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* ---- INI files ------------------------------------------------------------------------------- */

static void test_file_good(void)
{
    sal_config_t cfg = new_config();
    const sal_settings_t *s = sal_config_settings(cfg);

    CU_ASSERT_EQUAL_FATAL(sal_config_load_file(cfg, DATA "good.ini"), SAL_OK);
    CU_ASSERT_STRING_EQUAL(s->job, "heat2d");
    CU_ASSERT_EQUAL(s->keep, 4);
    CU_ASSERT_EQUAL(s->interval.kind, SAL_INTERVAL_SECONDS);
    CU_ASSERT_DOUBLE_EQUAL(s->interval.value, 30, 0);
    CU_ASSERT_STRING_EQUAL(s->ckpt_dir, "/tmp/sal test dir");
    CU_ASSERT_STRING_EQUAL(s->policy, "shrink");
    CU_ASSERT_EQUAL(s->max_repairs, 5);
    CU_ASSERT_STRING_EQUAL(s->restart, "auto"); /* untouched keys keep their defaults */
    sal_config_destroy(&cfg);
}

static void test_file_errors(void)
{
    sal_config_t cfg = new_config();
    const sal_settings_t *s = sal_config_settings(cfg);

    CU_ASSERT_EQUAL(sal_config_load_file(cfg, DATA "bad_value.ini"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("bad_value.ini:4: invalid value \"-1\" for key max_repairs (out of range)");
    ASSERT_ERR_HAS("an integer from 0 to 100000");
    CU_ASSERT_EQUAL(s->keep, 3);                  /* read before the error: applied */
    CU_ASSERT_STRING_EQUAL(s->policy, "respawn"); /* after the error: not applied */

    CU_ASSERT_EQUAL(sal_config_load_file(cfg, DATA "bad_key.ini"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("bad_key.ini:2: unknown key \"intervall\" (did you mean \"interval\"?)");

    CU_ASSERT_EQUAL(sal_config_load_file(cfg, DATA "bad_syntax.ini"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("bad_syntax.ini:3: expected key = value");
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, DATA "bad_section.ini"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("bad_section.ini:2: section header without a closing ']'");
    CU_ASSERT_EQUAL(s->interval.kind, SAL_INTERVAL_STEPS);
    CU_ASSERT_DOUBLE_EQUAL(s->interval.value, 10, 0);

    CU_ASSERT_EQUAL(sal_config_load_file(cfg, DATA "missing.ini"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("missing.ini: No such file or directory");
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, SAL_TEST_DATA_DIR "/config"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("is a directory");
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, "/dev/null"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("/dev/null is not a regular file");
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, NULL), SAL_ERR_INVALID_ARG);
    sal_config_destroy(&cfg);
}

/* Files that cannot be shipped as data: a NUL byte and an over-long line. */
static void test_file_binary_and_long(void)
{
    sal_config_t cfg = new_config();
    char path[PATH_MAX + 16], line[400];
    static const char nul[] = "keep = 3\nkeep\0 = 4\n";

    snprintf(path, sizeof(path), "%s/nul.ini", tmpdir);
    write_file(path, nul, sizeof(nul) - 1);
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, path), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("nul.ini:2: contains a NUL byte");

    snprintf(path, sizeof(path), "%s/long.ini", tmpdir);
    memset(line, 'x', sizeof(line));
    memcpy(line, "inject = ", 9);
    line[sizeof(line) - 1] = '\n';
    write_file(path, line, sizeof(line));
    CU_ASSERT_EQUAL(sal_config_load_file(cfg, path), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("long.ini:1: line longer than");
    CU_ASSERT_STRING_EQUAL(sal_config_settings(cfg)->inject, "");
    sal_config_destroy(&cfg);
}

/* ---- environment ----------------------------------------------------------------------------- */

static void test_env_layering(void)
{
    sal_config_t cfg = new_config();
    const sal_settings_t *s = sal_config_settings(cfg);

    clear_sal_env();
    setenv("SAL_CONFIG", DATA "good.ini", 1);
    setenv("SAL_KEEP", "7", 1);               /* the environment beats the file */
    setenv("SAL_LOG_LEVEL", "debug", 1);      /* not in the file */
    setenv("SAL_MPIEXEC", "/opt/mpiexec", 1); /* allowed: not a key */
    setenv("SAL_TEST_WHATEVER", "1", 1);      /* allowed prefix */
    setenv("SAL_SALRUN_CHILD", "1", 1);       /* allowed prefix */
    CU_ASSERT_EQUAL_FATAL(sal_config_load_env(cfg), SAL_OK);
    CU_ASSERT_EQUAL(s->keep, 7);
    CU_ASSERT_STRING_EQUAL(s->log_level, "debug");
    CU_ASSERT_STRING_EQUAL(s->policy, "shrink");               /* from the file */
    CU_ASSERT_EQUAL(sal_config_set(cfg, "keep", "9"), SAL_OK); /* an explicit set beats both */
    CU_ASSERT_EQUAL(s->keep, 9);

    setenv("SAL_KEEP", "0", 1);
    CU_ASSERT_EQUAL(sal_config_load_env(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("environment variable SAL_KEEP: invalid value \"0\" for key keep");
    unsetenv("SAL_KEEP");

    setenv("SAL_KEPP", "3", 1);
    CU_ASSERT_EQUAL(sal_config_load_env(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("unknown environment variable SAL_KEPP (did you mean SAL_KEEP?)");
    unsetenv("SAL_KEPP");
    setenv("SAL_NONSENSE_VARIABLE", "3", 1);
    CU_ASSERT_EQUAL(sal_config_load_env(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("unknown environment variable SAL_NONSENSE_VARIABLE:");
    unsetenv("SAL_NONSENSE_VARIABLE");

    setenv("SAL_CONFIG", DATA "missing.ini", 1);
    CU_ASSERT_EQUAL(sal_config_load_env(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("missing.ini");
    ASSERT_ERR_HAS("SAL_CONFIG");
    clear_sal_env();
    unsetenv("SAL_TEST_WHATEVER");
    sal_config_destroy(&cfg);
}

/* ---- resolution ------------------------------------------------------------------------------ */

static void check_job(sal_config_t cfg, const char *argv0, const char *expected)
{
    char buf[128];

    CU_ASSERT_EQUAL(sal_config_resolve_job(cfg, argv0, buf, sizeof(buf)), SAL_OK);
    CU_ASSERT_STRING_EQUAL(buf, expected);
    if (strcmp(buf, expected) != 0)
        fprintf(stderr, "\n    job of \"%s\": \"%s\", expected \"%s\"\n", argv0 ? argv0 : "(null)",
                buf, expected);
    CU_ASSERT(sal_name_valid(buf));
}

static void test_resolve_job(void)
{
    sal_config_t cfg = new_config();
    char longname[200], expected[SAL_NAME_MAX], small[4];

    check_job(cfg, "/usr/local/bin/heat2d", "heat2d");
    check_job(cfg, "./my prog+v2", "my_prog_v2");
    check_job(cfg, "/opt/.hidden", "hidden");
    check_job(cfg, "--.-x", "x");
    check_job(cfg, "dir/trailing/", "trailing");
    check_job(cfg, "h\xc3\xa9llo", "h__llo");
    check_job(cfg, NULL, "job");
    check_job(cfg, "", "job");
    check_job(cfg, "/", "job");
    check_job(cfg, "...", "job");
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    memset(expected, 'a', sizeof(expected) - 1);
    expected[sizeof(expected) - 1] = '\0';
    check_job(cfg, longname, expected);
    CU_ASSERT_EQUAL(sal_config_resolve_job(cfg, "heat2d", small, sizeof(small)),
                    SAL_ERR_INVALID_ARG);

    CU_ASSERT_EQUAL(sal_config_set(cfg, "job", "run-42"), SAL_OK);
    check_job(cfg, "/usr/bin/heat2d", "run-42");
    CU_ASSERT_EQUAL(sal_config_set(cfg, "job", "a/b"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_resolve_job(cfg, "x", longname, sizeof(longname)), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("invalid value \"a/b\" for key job");
    sal_config_destroy(&cfg);
}

static void test_resolve_ckpt_dir(void)
{
    sal_config_t cfg = new_config();
    char buf[PATH_MAX];

    CU_ASSERT_EQUAL_FATAL(sal_config_resolve_ckpt_dir(cfg, buf, sizeof(buf)), SAL_OK);
    CU_ASSERT(strncmp(buf, "/dev/shm/salamander-", 20) == 0 || strstr(buf, "/salamander-") != NULL);
    CU_ASSERT(buf[0] == '/');
    CU_ASSERT_EQUAL(sal_config_set(cfg, "ckpt_dir", "/scratch/ck"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_resolve_ckpt_dir(cfg, buf, sizeof(buf)), SAL_OK);
    CU_ASSERT_STRING_EQUAL(buf, "/scratch/ck");
    CU_ASSERT_EQUAL(sal_config_resolve_ckpt_dir(cfg, buf, 5), SAL_ERR_INVALID_ARG);
    sal_config_destroy(&cfg);
}

/* ---- serialization --------------------------------------------------------------------------- */

static void test_serialize_round_trip(void)
{
    sal_config_t a = new_config(), b = new_config();
    const char *va, *vb;
    char *text = NULL;

    CU_ASSERT_EQUAL(sal_config_set(a, "keep", "9"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_set(a, "interval", "2.5s"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_set(a, "ckpt_dir", "/tmp/a=b dir"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_set(a, "inject", "rank=1,step=4"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_set(a, "hostname", "node-a"), SAL_OK); /* process-local */
    CU_ASSERT_EQUAL_FATAL(sal_config_serialize(a, &text), SAL_OK);
    CU_ASSERT_STRING_EQUAL(text, "ckpt_dir=/tmp/a=b dir\ninterval=2.5s\nkeep=9\n"
                                 "inject=rank=1,step=4\n");

    CU_ASSERT_EQUAL(sal_config_set(b, "policy", "shrink"), SAL_OK);   /* reset by deserialize */
    CU_ASSERT_EQUAL(sal_config_set(b, "hostname", "node-b"), SAL_OK); /* kept */
    CU_ASSERT_EQUAL_FATAL(sal_config_deserialize(b, text), SAL_OK);
    for (size_t i = 0; i < NKEYS; i++) {
        CU_ASSERT_EQUAL(sal_config_get(a, key_names[i], &va), SAL_OK);
        CU_ASSERT_EQUAL(sal_config_get(b, key_names[i], &vb), SAL_OK);
        if (strcmp(key_names[i], "hostname") != 0)
            CU_ASSERT_STRING_EQUAL(va, vb);
    }
    ASSERT_VALUE(b, "hostname", "node-b");
    ASSERT_VALUE(b, "policy", "respawn");
    CU_ASSERT_DOUBLE_EQUAL(sal_config_settings(b)->interval.value, 2.5, 0);
    free(text);
    CU_ASSERT_EQUAL(sal_config_serialize(a, NULL), SAL_ERR_INVALID_ARG);
    sal_config_destroy(&a);
    sal_config_destroy(&b);
}

static void test_serialize_defaults_empty(void)
{
    sal_config_t cfg = new_config();
    char *text = NULL;

    CU_ASSERT_EQUAL_FATAL(sal_config_serialize(cfg, &text), SAL_OK);
    CU_ASSERT_STRING_EQUAL(text, "");
    free(text);
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, ""), SAL_OK);
    ASSERT_VALUE(cfg, "keep", "2");
    sal_config_destroy(&cfg);
}

/* Bad shipped text is rejected as a whole: the target keeps its values. */
static void test_deserialize_rejects(void)
{
    sal_config_t cfg = new_config();

    CU_ASSERT_EQUAL(sal_config_set(cfg, "keep", "5"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, "keep=7\nkeep=1\n"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("serialized configuration line 2: invalid value \"1\" for key keep");
    ASSERT_VALUE(cfg, "keep", "5");
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, "keep=7\n\ngarbage\n"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("serialized configuration line 3: expected key=value");
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, "kepe=7\n"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("unknown key \"kepe\" (did you mean \"keep\"?)");
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, "job=x\r\n"), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("control character");
    ASSERT_VALUE(cfg, "keep", "5");
    ASSERT_VALUE(cfg, "job", "");
    CU_ASSERT_EQUAL(sal_config_deserialize(cfg, NULL), SAL_ERR_INVALID_ARG);
    sal_config_destroy(&cfg);
}

/* ---- validation ------------------------------------------------------------------------------ */

static void test_validate(void)
{
    sal_config_t cfg = new_config();
    char dir[PATH_MAX + 32], file[PATH_MAX + 32], under[PATH_MAX + 64];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s/ck/a/b", tmpdir);
    snprintf(file, sizeof(file), "%s/plain", tmpdir);
    snprintf(under, sizeof(under), "%s/x", file);
    write_file(file, "x", 1);

    CU_ASSERT_EQUAL(sal_config_set(cfg, "ckpt_dir", dir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_config_validate(cfg), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(stat(dir, &st), 0);
    CU_ASSERT(S_ISDIR(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    CU_ASSERT_EQUAL(sal_config_validate(cfg), SAL_OK); /* an existing directory is fine */

    CU_ASSERT_EQUAL(sal_config_set(cfg, "log_dir", under), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_validate(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("log_dir = \"");
    ASSERT_ERR_HAS("/plain/x\" is not a writable directory");
    ASSERT_ERR_HAS("set log_dir (or SAL_LOG_DIR)");
    CU_ASSERT_EQUAL(sal_config_set(cfg, "log_dir", ""), SAL_OK);

    CU_ASSERT_EQUAL(sal_config_set(cfg, "ckpt_dir", file), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_validate(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("ckpt_dir = \"");
    ASSERT_ERR_HAS("set ckpt_dir (or SAL_CKPT_DIR)");

    CU_ASSERT_EQUAL(sal_config_set(cfg, "ckpt_dir", dir), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_set(cfg, "job", ".hidden"), SAL_OK);
    CU_ASSERT_EQUAL(sal_config_validate(cfg), SAL_ERR_CONFIG);
    ASSERT_ERR_HAS("invalid value \".hidden\" for key job");
    CU_ASSERT_EQUAL(sal_config_validate(NULL), SAL_ERR_INVALID_ARG);
    sal_config_destroy(&cfg);
}

/* ---- driver ---------------------------------------------------------------------------------- */

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-test-config.XXXXXX",
             getenv("TMPDIR") && getenv("TMPDIR")[0] == '/' ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"INI file", test_file_good},
        {"INI file errors", test_file_errors},
        {"INI NUL byte and long line", test_file_binary_and_long},
        {"environment layering", test_env_layering},
        {"resolve job", test_resolve_job},
        {"resolve ckpt_dir", test_resolve_ckpt_dir},
        {"serialize round trip", test_serialize_round_trip},
        {"serialize defaults", test_serialize_defaults_empty},
        {"deserialize rejects", test_deserialize_rejects},
        {"validate", test_validate},
    };

    return SAL_UNIT_MAIN("config files", suite_init, suite_clean, tests);
}
