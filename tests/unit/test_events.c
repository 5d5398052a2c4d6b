/* Unit tests of the JSON Lines event log (events.c). Lines are validated with Python's json module.
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "fsutil.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];
static char logdir[PATH_MAX];
static char checker[PATH_MAX];

/* Usage: checker FILE COUNT. Every line must be a whole JSON object with the standard members;
 * COUNT (>= 0) is the number of lines expected. Prints the offending line on failure. */
static const char checker_py[] =
    "import json, sys\n"
    "n = 0\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    for line in f:\n"
    "        n += 1\n"
    "        try:\n"
    "            assert line.endswith('\\n'), 'no newline'\n"
    "            o = json.loads(line)\n"
    "            assert isinstance(o, dict), 'not an object'\n"
    "            assert isinstance(o['ts'], float) and o['ts'] > 1e9, 'ts'\n"
    "            for k in ('event', 'job', 'host'):\n"
    "                assert isinstance(o[k], str), k\n"
    "            for k in ('rank', 'pid'):\n"
    "                assert isinstance(o[k], int), k\n"
    "            assert list(o)[:6] == ['ts', 'event', 'job', 'rank', 'host', 'pid'], 'order'\n"
    "        except Exception as e:\n"
    "            print('line %d: %r: %r' % (n, e, line[:300]))\n"
    "            sys.exit(1)\n"
    "want = int(sys.argv[2])\n"
    "if want >= 0 and n != want:\n"
    "    print('%d lines, expected %d' % (n, want))\n"
    "    sys.exit(1)\n";

static int suite_init(void)
{
    FILE *f;

    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-events-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    if (sal_path_join(logdir, sizeof(logdir), "%s/logs/nested", tmpdir) != SAL_OK ||
        sal_path_join(checker, sizeof(checker), "%s/check.py", tmpdir) != SAL_OK)
        return -1;
    f = fopen(checker, "w");
    if (!f)
        return -1;
    fputs(checker_py, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int suite_clean(void)
{
    sal_events_close();
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

/* Runs the Python checker on the log of job; returns its exit status (0 = every line valid). */
static int check_log(const char *job, int want_lines)
{
    char cmd[3 * PATH_MAX];
    int st;

    snprintf(cmd, sizeof(cmd), "python3 '%s' '%s/%s.events.jsonl' %d", checker, logdir, job,
             want_lines);
    st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000;
}

/* Reads the whole log of job (caller frees). */
static char *read_log(const char *job)
{
    char path[PATH_MAX], *data = NULL;
    size_t len;

    if (sal_path_join(path, sizeof(path), "%s/%s.events.jsonl", logdir, job) != SAL_OK ||
        sal_read_file(path, 1 << 24, &data, &len) != SAL_OK)
        return NULL;
    return data;
}

/* The n-th line (0-based) of text, copied into buf. */
static const char *nth_line(const char *text, int n, char *buf, size_t size)
{
    const char *end;

    for (; n > 0 && text; n--) {
        text = strchr(text, '\n');
        text = text ? text + 1 : NULL;
    }
    if (!text || !*text)
        return "";
    end = strchr(text, '\n');
    snprintf(buf, size, "%.*s", (int)(end ? end - text : (long)strlen(text)), text);
    return buf;
}

static void test_open_and_standard_members(void)
{
    char esc[64], line[SAL_EVENT_LINE_MAX], *log;
    struct stat st;

    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "basic"), SAL_OK);
    sal_events_set_identity(3, "node\"7\\b\n");
    sal_event("start", "\"nranks\":%d,\"restart\":%s", 4, "false");
    sal_event("finish", NULL);
    sal_event("empty", "%s", "");
    sal_event("ckpt_abort", "\"id\":%lld,\"reason\":\"%s\"", 7LL,
              sal_json_escape(esc, sizeof(esc), "tab\there \"q\" \x01"));
    sal_events_close();
    CU_ASSERT_EQUAL(check_log("basic", 4), 0);

    log = read_log("basic");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    nth_line(log, 0, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"event\":\"start\",\"job\":\"basic\",\"rank\":3,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"host\":\"node\\\"7\\\\b\\n\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"nranks\":4,\"restart\":false}"));
    /* No dangling comma when there are no caller fields. */
    nth_line(log, 1, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"event\":\"finish\""));
    CU_ASSERT_EQUAL(line[strlen(line) - 1], '}');
    CU_ASSERT_PTR_NULL(strstr(line, ",}"));
    nth_line(log, 2, line, sizeof(line));
    CU_ASSERT_PTR_NULL(strstr(line, ",}"));
    nth_line(log, 3, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"reason\":\"tab\\there \\\"q\\\" \\u0001\"}"));
    free(log);

    CU_ASSERT_EQUAL(stat(logdir, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0700);
    CU_ASSERT_EQUAL(sal_path_join(line, sizeof(line), "%s/basic.events.jsonl", logdir), SAL_OK);
    CU_ASSERT_EQUAL(stat(line, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
}

static void test_closed_log_is_noop(void)
{
    char *before, *after;

    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "closed"), SAL_OK);
    sal_event("one", NULL);
    sal_events_close();
    sal_event("after_close", "\"x\":1");
    before = read_log("closed");
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    CU_ASSERT_PTR_NULL(strstr(before, "after_close"));
    /* Reopening appends. */
    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "closed"), SAL_OK);
    sal_event("two", NULL);
    sal_events_close();
    after = read_log("closed");
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    CU_ASSERT_EQUAL(strncmp(before, after, strlen(before)), 0);
    CU_ASSERT_EQUAL(check_log("closed", 2), 0);
    free(before);
    free(after);
}

static void test_open_errors(void)
{
    char file[PATH_MAX];
    FILE *f;

    CU_ASSERT_EQUAL(sal_events_open(logdir, "a/b"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_events_open(logdir, ""), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_events_open(NULL, "x"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_path_join(file, sizeof(file), "%s/notadir", tmpdir), SAL_OK);
    f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(sal_events_open(file, "x"), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), file));
}

static void test_truncation_keeps_valid_json(void)
{
    char *big = malloc(3 * SAL_EVENT_LINE_MAX), line[SAL_EVENT_LINE_MAX + 16], *log;

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'a', 3 * SAL_EVENT_LINE_MAX - 1);
    big[3 * SAL_EVENT_LINE_MAX - 1] = '\0';
    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "trunc"), SAL_OK);
    sal_event("big", "\"a\":1,\"b\":\"x,y\",\"big\":\"%s\",\"c\":2", big);
    sal_event("bigarray", "\"a\":[1,2],\"ranks\":[%s]", "1,2,3");
    sal_event("onlybig", "\"big\":\"%s\"", big);
    big[SAL_EVENT_LINE_MAX - 700] = '\0';
    sal_event("fits", "\"big\":\"%s\"", big);
    sal_events_close();
    CU_ASSERT_EQUAL(check_log("trunc", 4), 0);

    log = read_log("trunc");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    nth_line(log, 0, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"a\":1,\"b\":\"x,y\",\"truncated\":true}"));
    CU_ASSERT_PTR_NULL(strstr(line, "\"big\":"));
    CU_ASSERT_TRUE(strlen(line) < SAL_EVENT_LINE_MAX);
    nth_line(log, 1, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "\"ranks\":[1,2,3]}"));
    CU_ASSERT_PTR_NULL(strstr(line, "truncated"));
    nth_line(log, 2, line, sizeof(line));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, ",\"truncated\":true}"));
    CU_ASSERT_PTR_NULL(strstr(line, "\"big\":"));
    nth_line(log, 3, line, sizeof(line));
    CU_ASSERT_PTR_NULL(strstr(line, "truncated"));
    free(log);
    free(big);
}

/* Each child appends lines longer than PIPE_BUF; none may interleave or be cut. */
static void test_concurrent_children_write_whole_lines(void)
{
    enum { CHILDREN = 4, EVENTS = 150 };
    char payload[6000];
    int ok = 1;

    memset(payload, 'z', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "concurrent"), SAL_OK);
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            sal_events_set_identity(c, "child");
            for (int i = 0; i < EVENTS; i++)
                sal_event("tick", "\"i\":%d,\"pad\":\"%s\"", i, payload);
            _exit(0);
        }
    }
    for (int c = 0; c < CHILDREN; c++) {
        int st = 0;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            ok = 0;
    }
    sal_events_close();
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_EQUAL(check_log("concurrent", CHILDREN * EVENTS), 0);
}

static void test_escape_edge_cases(void)
{
    char buf[64];

    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "a\"b\\c\x01\x1f\n\r\t\b\f"),
                           "a\\\"b\\\\c\\u0001\\u001f\\n\\r\\t\\b\\f");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), NULL), "");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\x7f"), "\x7f");
    /* Truncation keeps whole escapes and whole UTF-8 sequences. */
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 5, "abcdefg"), "abcd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 4, "ab\"c"), "ab");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 5, "ab\"c"), "ab\\\"");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 6, "a\x01"), "a");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 3, "a\xc3\xa9"), "a");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 4, "a\xc3\xa9"), "a\xc3\xa9");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 3, "\xe2\x82\xac"), "");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 5, "\xf0\x9f\x90\x8d!"), "\xf0\x9f\x90\x8d");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, 1, "abc"), "");
    buf[0] = 'q';
    CU_ASSERT_PTR_EQUAL(sal_json_escape(buf, 0, "abc"), buf);
    CU_ASSERT_EQUAL(buf[0], 'q');
    /* Invalid UTF-8 becomes U+FFFD: stray byte, cut sequence, overlong, surrogate, > U+10FFFF. */
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\xff"), "\\ufffd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "x\xc3"), "x\\ufffd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\xc0\xaf"), "\\ufffd\\ufffd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\xed\xa0\x80"),
                           "\\ufffd\\ufffd\\ufffd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\xf4\x90\x80\x80"),
                           "\\ufffd\\ufffd\\ufffd\\ufffd");
    CU_ASSERT_STRING_EQUAL(sal_json_escape(buf, sizeof(buf), "\xe2\x82"), "\\ufffd\\ufffd");
}

/* Escaped arbitrary bytes in a host name still give valid JSON lines. */
static void test_escaped_bytes_parse(void)
{
    char raw[256];

    for (int i = 0; i < 255; i++)
        raw[i] = (char)(i + 1);
    raw[255] = '\0';
    CU_ASSERT_EQUAL_FATAL(sal_events_open(logdir, "bytes"), SAL_OK);
    sal_events_set_identity(0, raw);
    sal_event("bytes", NULL);
    sal_events_close();
    CU_ASSERT_EQUAL(check_log("bytes", 1), 0);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"open and standard members", test_open_and_standard_members},
        {"closed log is a no-op", test_closed_log_is_noop},
        {"open errors", test_open_errors},
        {"truncation keeps valid JSON", test_truncation_keeps_valid_json},
        {"concurrent children", test_concurrent_children_write_whole_lines},
        {"escape edge cases", test_escape_edge_cases},
        {"escaped bytes parse", test_escaped_bytes_parse},
    };

    return SAL_UNIT_MAIN("events", suite_init, suite_clean, tests);
}
