/* Unit tests of the file-system helpers (fsutil.c). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-fsutil-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_mkdir_p_nested(void)
{
    char path[PATH_MAX], top[PATH_MAX];
    struct stat st;
    mode_t old = umask(022);

    CU_ASSERT_EQUAL(sal_path_join(top, sizeof(top), "%s/mk", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/a//b/c/", top), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(path, 0750), SAL_OK);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(S_ISDIR(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0750);
    CU_ASSERT_EQUAL(stat(top, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0750);
    /* An existing directory is fine. */
    CU_ASSERT_EQUAL(sal_mkdir_p(path, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p("", 0700), SAL_ERR_INVALID_ARG);
    umask(old);
}

static void test_mkdir_p_file_component(void)
{
    char file[PATH_MAX], path[PATH_MAX];

    CU_ASSERT_EQUAL(sal_path_join(file, sizeof(file), "%s/plainfile", tmpdir), SAL_OK);
    put(file, "x");
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/sub/dir", file), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(path, 0700), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), file));
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "not a directory"));
    CU_ASSERT_EQUAL(sal_mkdir_p(file, 0700), SAL_ERR_IO);
}

static void test_dir_writable(void)
{
    char file[PATH_MAX], missing[PATH_MAX];

    CU_ASSERT_EQUAL(sal_dir_writable(tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(file, sizeof(file), "%s/wfile", tmpdir), SAL_OK);
    put(file, "x");
    CU_ASSERT_EQUAL(sal_dir_writable(file), SAL_ERR_IO);
    CU_ASSERT_EQUAL(sal_path_join(missing, sizeof(missing), "%s/missing", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_dir_writable(missing), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), missing));
    CU_ASSERT_EQUAL(sal_fsync_dir(tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_fsync_dir(missing), SAL_ERR_IO);
}

/* Number of entries of dir whose name starts with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    char cmd[PATH_MAX * 2];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '^%s' ", dir, prefix);
    p = popen(cmd, "r");
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static void test_write_atomic_replaces(void)
{
    char dir[PATH_MAX], path[PATH_MAX], *data = NULL;
    size_t len = 0;
    struct stat st;

    CU_ASSERT_EQUAL(sal_path_join(dir, sizeof(dir), "%s/atomic", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(dir, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/latest", dir), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, "first version\n", 14, 0600), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, "2\n", 2, 0600), SAL_OK);
    CU_ASSERT_EQUAL(sal_read_file(path, 100, &data, &len), SAL_OK);
    CU_ASSERT_EQUAL(len, 2);
    CU_ASSERT_STRING_EQUAL(data, "2\n");
    free(data);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(count_prefixed(dir, "latest.tmp"), 0);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, "", 0, 0600), SAL_OK);
    CU_ASSERT_EQUAL(sal_read_file(path, 100, &data, &len), SAL_OK);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(data, "");
    free(data);
}

static void test_write_atomic_failure_leaves_no_temp(void)
{
    char dir[PATH_MAX], path[PATH_MAX];

    /* Renaming over a non-empty directory fails after the temporary file was written. */
    CU_ASSERT_EQUAL(sal_path_join(dir, sizeof(dir), "%s/atomic2", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/target/inner", dir), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(path, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/target", dir), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, "data", 4, 0600), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "rename"));
    CU_ASSERT_EQUAL(count_prefixed(dir, "target.tmp"), 0);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/no/such/dir/file", dir), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, "data", 4, 0600), SAL_ERR_IO);
}

static void test_read_file_rules(void)
{
    char file[PATH_MAX], link[PATH_MAX], *data = (char *)"unchanged";
    size_t len = 7;

    CU_ASSERT_EQUAL(sal_path_join(file, sizeof(file), "%s/readme", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(link, sizeof(link), "%s/readme.link", tmpdir), SAL_OK);
    put(file, "0123456789");
    CU_ASSERT_EQUAL_FATAL(symlink(file, link), 0);
    CU_ASSERT_EQUAL(sal_read_file(link, 100, &data, &len), SAL_ERR_IO);
    CU_ASSERT_PTR_NULL(data);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "symbolic link"));
    /* Size cap: exactly max is fine, one byte more is corrupt. */
    CU_ASSERT_EQUAL(sal_read_file(file, 9, &data, &len), SAL_ERR_CORRUPT);
    CU_ASSERT_PTR_NULL(data);
    CU_ASSERT_EQUAL(sal_read_file(file, 10, &data, &len), SAL_OK);
    CU_ASSERT_EQUAL(len, 10);
    CU_ASSERT_STRING_EQUAL(data, "0123456789");
    free(data);
    CU_ASSERT_EQUAL(sal_read_file(tmpdir, 100, &data, &len), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "not a regular file"));
    CU_ASSERT_EQUAL(sal_read_file("/nonexistent/salamander", 100, &data, &len), SAL_ERR_IO);
}

static void test_read_file_fifo(void)
{
    char fifo[PATH_MAX], *data = NULL;
    size_t len = 0;

    CU_ASSERT_EQUAL(sal_path_join(fifo, sizeof(fifo), "%s/fifo", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    /* Must not block waiting for a writer. */
    CU_ASSERT_EQUAL(sal_read_file(fifo, 100, &data, &len), SAL_ERR_IO);
    unlink(fifo);
}

static void test_remove_tree_keeps_symlink_targets(void)
{
    char outside[PATH_MAX], keep[PATH_MAX], tree[PATH_MAX], path[PATH_MAX];
    struct stat st;

    CU_ASSERT_EQUAL(sal_path_join(outside, sizeof(outside), "%s/outside", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(outside, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(keep, sizeof(keep), "%s/precious", outside), SAL_OK);
    put(keep, "keep me");
    CU_ASSERT_EQUAL(sal_path_join(tree, sizeof(tree), "%s/tree", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/a/b/c", tree), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(path, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/a/b/c/file", tree), SAL_OK);
    put(path, "x");
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/a/dirlink", tree), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(symlink(outside, path), 0);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/a/filelink", tree), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(symlink(keep, path), 0);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/dangling", tree), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(symlink("/nonexistent/salamander", path), 0);

    CU_ASSERT_EQUAL(sal_remove_tree(tree), SAL_OK);
    CU_ASSERT_EQUAL(lstat(tree, &st), -1);
    CU_ASSERT_EQUAL(stat(keep, &st), 0);
    /* A missing path is fine. */
    CU_ASSERT_EQUAL(sal_remove_tree(tree), SAL_OK);
}

static void test_remove_tree_top_symlink(void)
{
    char outside[PATH_MAX], keep[PATH_MAX], link[PATH_MAX], slashed[PATH_MAX];
    struct stat st;

    CU_ASSERT_EQUAL(sal_path_join(outside, sizeof(outside), "%s/outside2", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_mkdir_p(outside, 0700), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(keep, sizeof(keep), "%s/precious", outside), SAL_OK);
    put(keep, "keep me");
    CU_ASSERT_EQUAL(sal_path_join(link, sizeof(link), "%s/toplink", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(symlink(outside, link), 0);
    /* The trailing slash must not make it follow the link. */
    CU_ASSERT_EQUAL(sal_path_join(slashed, sizeof(slashed), "%s/", link), SAL_OK);
    CU_ASSERT_EQUAL(sal_remove_tree(slashed), SAL_OK);
    CU_ASSERT_EQUAL(lstat(link, &st), -1);
    CU_ASSERT_EQUAL(stat(keep, &st), 0);
    CU_ASSERT_EQUAL(sal_remove_tree("/"), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_remove_tree(""), SAL_ERR_INVALID_ARG);
}

static void test_path_join(void)
{
    char buf[16];

    CU_ASSERT_EQUAL(sal_path_join(buf, sizeof(buf), "%s/%d", "abc", 42), SAL_OK);
    CU_ASSERT_STRING_EQUAL(buf, "abc/42");
    /* 15 characters fit in 16 bytes, 16 do not. */
    CU_ASSERT_EQUAL(sal_path_join(buf, sizeof(buf), "%s", "123456789012345"), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(buf, sizeof(buf), "%s/%s", "12345678", "1234567"),
                    SAL_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "longer than 15"));
    CU_ASSERT_EQUAL(sal_path_join(buf, 0, "%s", "x"), SAL_ERR_INVALID_ARG);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"mkdir_p nested and mode", test_mkdir_p_nested},
        {"mkdir_p through a file", test_mkdir_p_file_component},
        {"dir_writable and fsync_dir", test_dir_writable},
        {"atomic write replaces", test_write_atomic_replaces},
        {"atomic write failure", test_write_atomic_failure_leaves_no_temp},
        {"read_file symlink and cap", test_read_file_rules},
        {"read_file fifo", test_read_file_fifo},
        {"remove_tree symlinks", test_remove_tree_keeps_symlink_targets},
        {"remove_tree top symlink", test_remove_tree_top_symlink},
        {"path_join overflow", test_path_join},
    };

    return SAL_UNIT_MAIN("fsutil", suite_init, suite_clean, tests);
}
