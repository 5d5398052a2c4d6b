/*
 * Unit tests of the spare hosts of a hostfile (sal_placement_load_hostfile,
 * runtime/src/placement_hostfile.c): the placement's own rules on top of the one hostfile grammar,
 * whose every case is in test_hostfile.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <hwloc.h>

#include <salamander/sal_error.h>

#include "placement.h"
#include "placement_fixture.h"
#include "unit_main.h"

static char tmpdir[64];

static int make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_placement.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/hostfile", tmpdir);
    unlink(path);
    return rmdir(tmpdir) == 0 ? 0 : -1;
}

/* Writes len bytes of text to the hostfile and returns its path (static buffer). */
static const char *hostfile(const char *text, size_t len)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/hostfile", tmpdir);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

#define HOSTFILE(text) hostfile((text), sizeof(text) - 1)

static void test_hostfile_good(void)
{
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMALL, &t);

    add(p, 0, "n1", "0");
    add(p, 1, "n1", "1");
    add(p, 2, "n1", "0");
    fail(p, 0);
    fail(p, 1);
    fail(p, 2);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_load_hostfile(p, HOSTFILE("# the allocation\n"
                                                                  "n1 slots=2\n"
                                                                  "\n"
                                                                  "   s-b.example.org slots=1 "
                                                                  "max_slots=4 # spare\n"
                                                                  "s_a\tslots=1\r\n"
                                                                  "s-c\n")),
                          SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s-b.example.org", "0", "spare host s-b.example.org, same NUMA node (n1 dead)");
    expect(p, 1, "s-c", "0", "spare host s-c, same NUMA node (n1 dead)");
    expect(p, 2, "s_a", "0", "spare host s_a, same NUMA node (n1 dead)");
    done(&p, t);

    p = start(T_SMALL, &t);
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, HOSTFILE("")), SAL_OK);
    done(&p, t);

    /* The one grammar (hostfile.h): "user@" is dropped; a relative entry names no spare. */
    p = start(T_SMALL, &t);
    add(p, 0, "n1", "0");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_load_hostfile(p, HOSTFILE("+n0\nadmin@s9 slots = 1\n")),
                          SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s9", "0", "spare host s9, same NUMA node (n1 dead)");
    done(&p, t);
}

static void test_hostfile_bad(void)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"n1\nn2 slots=2 cpus=4\n", "line 2: unknown attribute \"cpus=4\""},
        {"n1 slots=0\n", "line 1"},
        {"n1 slots=abc\n", "line 1"},
        {"n1 slots=\n", "line 1"},
        {"n1 slots=2 slots=3\n", "line 1"},
        {"n1 slots=99999999999\n", "line 1"},
        {"n1 slots=4 max_slots=2\n", "exceeds max_slots"},
        {"n1\n# n2\nn3:2\n", "line 3: \"n3:2\" is not a host name"},
        {"n1\nn2\nn1 slots=2\n", "line 3: host n1 is listed again"},
        {"\xff\xfe binary\n", "line 1"},
    };
    hwloc_topology_t t;
    sal_placement_t p = start(T_SMALL, &t);

    add(p, 0, "n1", "0");
    fail(p, 0);
    CU_ASSERT_EQUAL(sal_placement_mark_host_dead(p, "n1"), SAL_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *path = hostfile(bad[i].text, strlen(bad[i].text));
        CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, path), SAL_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), path));
        if (!strstr(sal_last_error(), bad[i].msg))
            printf("\n  case %zu: %s\n", i, sal_last_error());
        CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), bad[i].msg));
    }
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, hostfile("n2\n\0n3\n", 7)), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "NUL"));
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, "/nonexistent/hostfile"), SAL_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "/nonexistent/hostfile"));
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, tmpdir), SAL_ERR_IO);
    /* None of the rejected files added a host: still nowhere to go. */
    CU_ASSERT_EQUAL(sal_placement_compute(p), SAL_ERR_RECOVERY);
    /* A host offered twice across files is refused too. */
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, HOSTFILE("s1\n")), SAL_OK);
    CU_ASSERT_EQUAL(sal_placement_load_hostfile(p, HOSTFILE("s2\ns1\n")), SAL_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(sal_last_error(), "line 2: host s1 was already offered"));
    CU_ASSERT_EQUAL_FATAL(sal_placement_compute(p), SAL_OK);
    expect(p, 0, "s1", "0", "spare host s1, same NUMA node (n1 dead)");
    done(&p, t);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"hostfile: good", test_hostfile_good},
        {"hostfile: bad", test_hostfile_bad},
    };

    return SAL_UNIT_MAIN("hostfile", make_tmpdir, remove_tmpdir, tests);
}
