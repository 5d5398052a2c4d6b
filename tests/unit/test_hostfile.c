/*
 * Unit tests of the one hostfile grammar (ckpt/src/hostfile.c, hostfile.h): good and bad files,
 * every refusal naming the file, the line and the cause, the bounds of untrusted input, and the
 * API contract. Files are written into a fresh directory under /tmp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "hostfile.h"
#include "unit_main.h"

static char tmpdir[64];
static char path[128]; /* tmpdir/hostfile */

static int make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_hostfile.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof(path), "%s/hostfile", tmpdir);
    return 0;
}

static int remove_tmpdir(void)
{
    static const char *const names[] = {"hostfile", "dir", "fifo", "link"};
    char p[160];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        if (unlink(p) != 0)
            (void)rmdir(p);
    }
    return rmdir(tmpdir) == 0 ? 0 : -1;
}

/* Writes len bytes of text to the hostfile. */
static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* Entry i of hf is host, text, slots, max_slots on line. */
static void check_entry(const sal_hostfile_t *hf, size_t i, const char *host, const char *text,
                        int slots, int max_slots, long line)
{
    const sal_hostfile_entry_t *e = sal_hostfile_entry(hf, i);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    if (strcmp(e->host, host) != 0 || strcmp(e->text, text) != 0 || e->slots != slots ||
        e->max_slots != max_slots || e->line != line)
        printf("\n  entry %zu: got \"%s\" \"%s\" %d %d line %ld\n", i, e->host, e->text, e->slots,
               e->max_slots, e->line);
    CU_ASSERT_STRING_EQUAL(e->host, host);
    CU_ASSERT_STRING_EQUAL(e->text, text);
    CU_ASSERT_EQUAL(e->slots, slots);
    CU_ASSERT_EQUAL(e->max_slots, max_slots);
    CU_ASSERT_EQUAL(e->line, line);
}

static void test_good(void)
{
    static const char text[] = "# the allocation\n"
                               "n1\n"
                               "  n2 slots=4   # four cores\n"
                               "n3 max_slots=8\n"
                               "admin@n4.example.org\tslots=2 max_slots=2\r\n"
                               "n_5 slots = 3\n"
                               " \t \n"
                               "+n0\n"
                               "+e\n"
                               "+E:2 slots=1\n"
                               "n1#no blank before the comment\n"
                               "10.0.0.7 slots=1048576\n"
                               "last slots=1";
    sal_hostfile_t *hf = NULL;

    write_file(text, sizeof(text) - 1);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_load(path, &hf), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_count(hf), 11);
    check_entry(hf, 0, "n1", "n1", 0, 0, 2);
    check_entry(hf, 1, "n2", "n2 slots=4", 4, 0, 3);
    check_entry(hf, 2, "n3", "n3 max_slots=8", 0, 8, 4);
    check_entry(hf, 3, "n4.example.org", "admin@n4.example.org\tslots=2 max_slots=2", 2, 2, 5);
    check_entry(hf, 4, "n_5", "n_5 slots = 3", 3, 0, 6);
    check_entry(hf, 5, "", "+n0", 0, 0, 8);
    check_entry(hf, 6, "", "+e", 0, 0, 9);
    check_entry(hf, 7, "", "+E:2 slots=1", 1, 0, 10);
    check_entry(hf, 8, "n1", "n1", 0, 0, 11); /* a host may repeat: the caller decides */
    check_entry(hf, 9, "10.0.0.7", "10.0.0.7 slots=1048576", 1048576, 0, 12);
    check_entry(hf, 10, "last", "last slots=1", 1, 0, 13);
    CU_ASSERT_PTR_NULL(sal_hostfile_entry(hf, 11));
    sal_hostfile_destroy(&hf);
    CU_ASSERT_PTR_NULL(hf);

    /* Empty, and only comments: no entry, no error (whether that is enough is the caller's call).
     */
    write_file("", 0);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_load(path, &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), 0);
    sal_hostfile_destroy(&hf);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_parse("memory", "# none\n\n", 8, &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), 0);
    sal_hostfile_destroy(&hf);
}

static void test_bad(void)
{
    static const struct {
        const char *text;
        const char *cause; /* after "hostfile <path>, line " */
    } bad[] = {
        {"n1\nn2 slots=2 cpus=4\n", "2: unknown attribute \"cpus=4\""},
        {"n1 slots=2 max-slots=4\n", "1: unknown attribute \"max-slots=4\""},
        {"n1 slots=0\n", "1: \"slots=0\": expected a whole number from 1 to 1048576"},
        {"n1 slots=abc\n", "1: \"slots=abc\": expected a whole number"},
        {"n1 slots=\n", "1: \"slots=\": expected a whole number"},
        {"n1 slots=-2\n", "1: \"slots=-2\": expected a whole number"},
        {"n1 slots=1048577\n", "1: \"slots=1048577\": expected a whole number"},
        {"n1 slots=99999999999999999999\n", "1: \"slots=99999999999999999999\": expected"},
        {"n1 max_slots=0x10\n", "1: \"max_slots=0x10\": expected a whole number"},
        {"n1 slots=2 slots=3\n", "1: slots is given twice"},
        {"n1 max_slots=2 max_slots=2\n", "1: max_slots is given twice"},
        {"n1 slots\n", "1: \"slots\" has no value: expected slots=N"},
        {"n1 slots=4 max_slots=2\n", "1: slots=4 exceeds max_slots=2"},
        {"n1\n# n2\nbad!host\n", "3: \"bad!host\" is not a host name: expected [user@]host"},
        {"-n1\n", "1: \"-n1\" is not a host name"},
        {"@n1\n", "1: \"@n1\" is not a host name"},
        {"user@\n", "1: \"user@\" is not a host name"},
        {"a@b@c\n", "1: \"a@b@c\" is not a host name"},
        {"bad/user@n1\n", "1: \"bad/user@n1\" is not a host name"},
        {"^n1\n", "1: \"^n1\" is not a host name: exclusions (^host) are not accepted"},
        {"n1\nnode[2-4]\n", "2: \"node[2-4]\" is not a host name: ranges are not expanded"},
        {"n1:2\n", "1: \"n1:2\" is not a host name: write the slots as \"host slots=N\""},
        {"fe80::1\n", "1: \"fe80::1\" is not a host name"},
        {"+x\n", "1: \"+x\" is not a relative entry"},
        {"+n\n", "1: \"+n\" is not a relative entry"},
        {"+e:\n", "1: \"+e:\" is not a relative entry"},
        {"+n1234567890\n", "1: \"+n1234567890\" is not a relative entry"},
        {"\xff\xfe binary\n", "1: \"\xff\xfe\" is not a host name"},
        {"n1\r\n\"n2\"\n", "2: \"\"n2\"\" is not a host name"},
    };
    char want[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sal_hostfile_t *hf = NULL;

        write_file(bad[i].text, strlen(bad[i].text));
        snprintf(want, sizeof(want), "hostfile %s, line %s", path, bad[i].cause);
        CU_ASSERT_EQUAL(sal_hostfile_load(path, &hf), SAL_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(hf);
        if (!strstr(sal_last_error(), want))
            printf("\n  case %zu: got %s\n  expected %s\n", i, sal_last_error(), want);
        CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), want));
    }
}

/* Names of 255 bytes pass, of 256 do not, for the host and for the user. */
static void test_name_bounds(void)
{
    char name[300], text[700];
    sal_hostfile_t *hf = NULL;

    memset(name, 'h', sizeof(name));
    name[SAL_HOSTFILE_NAME_MAX] = '\0';
    CU_ASSERT_TRUE(sal_hostfile_valid_name(name));
    snprintf(text, sizeof(text), "%s@%s slots=1\n", name, name);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_parse("memory", text, strlen(text), &hf), SAL_OK);
    CU_ASSERT_STRING_EQUAL(sal_hostfile_entry(hf, 0)->host, name);
    sal_hostfile_destroy(&hf);

    name[SAL_HOSTFILE_NAME_MAX] = 'h';
    name[SAL_HOSTFILE_NAME_MAX + 1] = '\0';
    CU_ASSERT_FALSE(sal_hostfile_valid_name(name));
    snprintf(text, sizeof(text), "%s\n", name);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, strlen(text), &hf), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "hostfile memory, line 1: \"hhhh"));
    snprintf(text, sizeof(text), "%s@n1\n", name);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, strlen(text), &hf), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "is not a host name"));

    CU_ASSERT_FALSE(sal_hostfile_valid_name(NULL));
    CU_ASSERT_FALSE(sal_hostfile_valid_name(""));
    CU_ASSERT_FALSE(sal_hostfile_valid_name("_n1"));
    CU_ASSERT_TRUE(sal_hostfile_valid_name("9n-1.a_b"));
}

/* Untrusted input: NUL bytes, long lines, many entries, a large file. */
static void test_input_bounds(void)
{
    size_t n = SAL_HOSTFILE_LINE_MAX + 2, many = (size_t)SAL_HOSTFILE_ENTRIES_MAX + 1;
    char *text = malloc(many * 2 > n ? many * 2 : n);
    sal_hostfile_t *hf = NULL;
    char want[256];

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    write_file("n2\n\0n3\n", 7);
    CU_ASSERT_EQUAL(sal_hostfile_load(path, &hf), SAL_ERR_CONFIG);
    snprintf(want, sizeof(want), "hostfile %s, line 2: contains a NUL byte", path);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), want));

    /* A line of exactly SAL_HOSTFILE_LINE_MAX bytes (a long comment) passes; one more does not. */
    memset(text, ' ', n);
    memcpy(text, "n1 #", 4);
    text[SAL_HOSTFILE_LINE_MAX] = '\n';
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, SAL_HOSTFILE_LINE_MAX + 1, &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), 1);
    sal_hostfile_destroy(&hf);
    text[SAL_HOSTFILE_LINE_MAX] = ' ';
    text[SAL_HOSTFILE_LINE_MAX + 1] = '\n';
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, n, &hf), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "hostfile memory, line 1: longer than 4096"));

    /* SAL_HOSTFILE_ENTRIES_MAX entries pass; one more does not. */
    for (size_t i = 0; i < many; i++)
        memcpy(text + 2 * i, "n\n", 2);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, 2 * (many - 1), &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), SAL_HOSTFILE_ENTRIES_MAX);
    sal_hostfile_destroy(&hf);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", text, 2 * many, &hf), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "hostfile memory, line 65537: more than"));
    CU_ASSERT_PTR_NULL(hf);
    free(text);

    /* A file larger than SAL_HOSTFILE_SIZE_MAX is refused before it is read (sparse: no disk). */
    write_file("", 0);
    CU_ASSERT_EQUAL_FATAL(truncate(path, (off_t)SAL_HOSTFILE_SIZE_MAX + 1), 0);
    CU_ASSERT_EQUAL(sal_hostfile_load(path, &hf), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "more than 16777216"));
    CU_ASSERT_PTR_NULL(hf);
}

/* Files that cannot be read: SAL_ERR_IO naming the path; a symbolic link is followed. */
static void test_io(void)
{
    sal_hostfile_t *hf = NULL;
    char p[160];

    CU_ASSERT_EQUAL(sal_hostfile_load("/nonexistent/hostfile", &hf), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "open hostfile /nonexistent/hostfile"));
    snprintf(p, sizeof(p), "%s/dir", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(p, 0700), 0);
    CU_ASSERT_EQUAL(sal_hostfile_load(p, &hf), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "is not a regular file"));
    snprintf(p, sizeof(p), "%s/fifo", tmpdir); /* no writer: must not block */
    CU_ASSERT_EQUAL_FATAL(mkfifo(p, 0600), 0);
    CU_ASSERT_EQUAL(sal_hostfile_load(p, &hf), SAL_ERR_IO);
    CU_ASSERT_PTR_NULL(hf);

    write_file("n1 slots=2\n", 11);
    snprintf(p, sizeof(p), "%s/link", tmpdir);
    CU_ASSERT_EQUAL_FATAL(symlink(path, p), 0);
    CU_ASSERT_EQUAL_FATAL(sal_hostfile_load(p, &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), 1);
    sal_hostfile_destroy(&hf);
}

static void test_api_contract(void)
{
    sal_hostfile_t *hf = NULL;

    CU_ASSERT_EQUAL(sal_hostfile_load(NULL, &hf), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_hostfile_load(path, NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_hostfile_parse(NULL, "n1", 2, &hf), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", NULL, 2, &hf), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", "n1", 2, NULL), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_hostfile_parse("memory", NULL, 0, &hf), SAL_OK);
    CU_ASSERT_EQUAL(sal_hostfile_count(hf), 0);
    sal_hostfile_destroy(&hf);
    CU_ASSERT_EQUAL(sal_hostfile_count(NULL), 0);
    CU_ASSERT_PTR_NULL(sal_hostfile_entry(NULL, 0));
    sal_hostfile_destroy(NULL);
    sal_hostfile_destroy(&hf);
    CU_ASSERT_PTR_NULL(hf);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"every form of the grammar", test_good},
        {"refusals name the file, the line and the cause", test_bad},
        {"host and user names of 255 bytes, not 256", test_name_bounds},
        {"NUL bytes, long lines, many entries, large files", test_input_bounds},
        {"unreadable files", test_io},
        {"API contract", test_api_contract},
    };

    return SAL_UNIT_MAIN("hostfile", make_tmpdir, remove_tmpdir, tests);
}
