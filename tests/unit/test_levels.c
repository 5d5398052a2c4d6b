/* The level interface (ckpt/src/level_ops.h): the table of descriptors, their order, names and
 * operations, the loops over the asynchronous stages, and the local operations of each level. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "level_ops.h"
#include "levels.h"
#include "manifest.h"
#include "unit_main.h"

#define REDUNDANT (SAL_LVL_L2 | SAL_LVL_L3 | SAL_LVL_L4)

static char tmpdir[PATH_MAX];

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/sal-levels-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

static int has_sync(const sal_level_ops_t *l)
{
    return l->warn_topology && l->begin && l->advance && l->abandon && l->fetch && l->rebuild_local;
}

static int has_no_sync(const sal_level_ops_t *l)
{
    return !l->warn_topology && !l->begin && !l->advance && !l->abandon && !l->fetch &&
           !l->rebuild_local;
}

static int has_async(const sal_level_ops_t *l)
{
    return l->start && l->stop && l->due && l->submit && l->drain && l->idle;
}

static int has_no_async(const sal_level_ops_t *l)
{
    return !l->start && !l->stop && !l->due && !l->submit && !l->drain && !l->idle;
}

/* Every redundancy level has exactly one descriptor; L1 (the write itself) has none. */
static void test_every_level_has_one_descriptor(void)
{
    int seen = 0;

    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        CU_ASSERT_PTR_NOT_NULL_FATAL(l);
        CU_ASSERT_EQUAL(l->bit & (l->bit - 1), 0); /* one bit */
        CU_ASSERT_EQUAL(l->bit & ~REDUNDANT, 0);
        CU_ASSERT_EQUAL(seen & l->bit, 0);
        seen |= l->bit;
    }
    CU_ASSERT_EQUAL(seen, REDUNDANT);
}

/* Cheapest first: a copy back from one partner, a reduction over a group, the shared file system.
 */
static void test_order_of_preference(void)
{
    CU_ASSERT_PTR_EQUAL(sal_level_table[0], &sal_level_partner);
    CU_ASSERT_PTR_EQUAL(sal_level_table[1], &sal_level_xor);
    CU_ASSERT_PTR_EQUAL(sal_level_table[2], &sal_level_pfs);
    for (int i = 1; i < SAL_LEVEL_COUNT; i++)
        CU_ASSERT(sal_level_table[i - 1]->bit < sal_level_table[i]->bit);
}

static void test_names_match_the_mask(void)
{
    char buf[32];

    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        CU_ASSERT_STRING_EQUAL(l->name, sal_levels_name(l->bit, buf, sizeof(buf)));
    }
}

/* A level has all the synchronous operations or none, all the asynchronous ones or none, and the
 * texts of the operations it has. */
static void test_operations_come_in_sets(void)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        CU_ASSERT(has_sync(l) || has_no_sync(l));
        CU_ASSERT(has_async(l) || has_no_async(l));
        CU_ASSERT(has_sync(l) || has_async(l));
        CU_ASSERT_EQUAL(l->restored != NULL, l->fetch != NULL);
        CU_ASSERT_EQUAL(l->rebuilt != NULL, l->rebuild_local != NULL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(l->covers);
        CU_ASSERT_EQUAL(strncmp(l->covers, l->name, strlen(l->name)), 0);
    }
    CU_ASSERT(has_sync(&sal_level_partner) && has_no_async(&sal_level_partner));
    CU_ASSERT(has_sync(&sal_level_xor) && has_no_async(&sal_level_xor));
    CU_ASSERT(has_no_sync(&sal_level_pfs) && has_async(&sal_level_pfs));
}

/* The texts the restore logs and reports (tests/ckpt/levels_test.sh and docs/levels.md quote
 * them). */
static void test_messages(void)
{
    CU_ASSERT_STRING_EQUAL(sal_level_partner.restored, "L2 (partner copy)");
    CU_ASSERT_STRING_EQUAL(sal_level_xor.restored, "L3 (XOR rebuild)");
    CU_ASSERT_STRING_EQUAL(sal_level_partner.rebuilt, "restored from its partner copy");
    CU_ASSERT_STRING_EQUAL(sal_level_xor.rebuilt, "rebuilt from XOR parity");
    CU_ASSERT_STRING_EQUAL(sal_level_partner.covers, "L2 (a partner copy on another host)");
    CU_ASSERT_STRING_EQUAL(sal_level_xor.covers, "L3 (XOR parity across hosts)");
    CU_ASSERT_STRING_EQUAL(sal_level_pfs.covers, "L4 (a copy in pfs_dir)");
}

/* Without pfs_dir no stage runs: nothing is due, everything is idle. */
static void test_async_off(void)
{
    sal_level_setup_t setup = {tmpdir, "", 2, 1};
    sal_level_async_t as;

    memset(&as, 0, sizeof(as));
    CU_ASSERT_EQUAL(sal_levels_start(&setup, &as), SAL_OK);
    CU_ASSERT_PTR_NULL(as.pfs);
    CU_ASSERT_EQUAL(sal_levels_due(&as, 1), 0);
    CU_ASSERT_EQUAL(sal_levels_idle(&as), 1);
    sal_levels_submit(&as, sal_levels_due(&as, 1), 1, 0, 1);
    sal_levels_drain(&as);
    sal_levels_stop(&as);
    sal_levels_stop(&as);
}

/* A pfs_dir that cannot be created: the error is returned and nothing runs. */
static void test_async_start_fails(void)
{
    char file[PATH_MAX], pfs[PATH_MAX];
    sal_level_setup_t setup = {tmpdir, pfs, 2, 1};
    sal_level_async_t as;

    memset(&as, 0, sizeof(as));
    CU_ASSERT_EQUAL(sal_path_join(file, sizeof(file), "%s/plain", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(file, "x", 1, 0600), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(pfs, sizeof(pfs), "%s/job", file), SAL_OK);
    CU_ASSERT_NOT_EQUAL(sal_levels_start(&setup, &as), SAL_OK);
    CU_ASSERT_PTR_NULL(as.pfs);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];

    CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/%s", dir, name), SAL_OK);
    CU_ASSERT_EQUAL(sal_write_file_atomic(path, text, strlen(text), 0600), SAL_OK);
}

/* L4 through the table: due every pfs_every-th id; a queued checkpoint of one rank is copied,
 * published (the PFS `latest`) and marked flushed once the stage drained. */
static void test_async_l4_flush(void)
{
    char job[PATH_MAX], pfs[PATH_MAX], ck[PATH_MAX], path[PATH_MAX];
    sal_level_setup_t setup = {job, pfs, 2, 2};
    sal_level_async_t as;
    int64_t latest = -1;

    memset(&as, 0, sizeof(as));
    CU_ASSERT_EQUAL(sal_path_join(job, sizeof(job), "%s/local/job", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(pfs, sizeof(pfs), "%s/pfs/job", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(ck, sizeof(ck), "%s/ckpt.4", job), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(ck, 0700), SAL_OK);
    put(ck, "rank.0.h5", "rank file");
    put(ck, "levels", "levels record");
    put(ck, "manifest.h5", "manifest");
    CU_ASSERT_EQUAL_FATAL(sal_levels_start(&setup, &as), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL(as.pfs);
    CU_ASSERT_EQUAL(sal_levels_due(&as, 3), 0);
    CU_ASSERT_EQUAL(sal_levels_due(&as, 4), SAL_LVL_L4);
    sal_levels_submit(&as, sal_levels_due(&as, 4), 4, 0, 1);
    sal_levels_drain(&as);
    CU_ASSERT_EQUAL(sal_levels_idle(&as), 1);
    CU_ASSERT_EQUAL(sal_latest_read(pfs, &latest), SAL_OK);
    CU_ASSERT_EQUAL(latest, 4);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/ckpt.4/rank.0.h5", pfs), SAL_OK);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/flushed", ck), SAL_OK);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    sal_levels_stop(&as);
    CU_ASSERT_PTR_NULL(as.pfs);
}

/* L2's local rebuild: the partner copy in a shared directory becomes the rank file. */
static void test_l2_rebuild_local(void)
{
    char dir[PATH_MAX], path[PATH_MAX], *data = NULL;
    const sal_level_ctx_t ctx = {MPI_COMM_NULL, NULL, dir, NULL, NULL, 0};
    size_t len = 0;

    CU_ASSERT_EQUAL(sal_path_join(dir, sizeof(dir), "%s/l2", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(dir, 0700), SAL_OK);
    put(dir, "partner.3.h5", "copy of rank 3");
    CU_ASSERT_EQUAL(sal_level_partner.rebuild_local(&ctx, 3), SAL_OK);
    CU_ASSERT_EQUAL(sal_path_join(path, sizeof(path), "%s/rank.3.h5", dir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_slurp(path, &data, &len), SAL_OK);
    CU_ASSERT_EQUAL(len, strlen("copy of rank 3"));
    CU_ASSERT_EQUAL(memcmp(data, "copy of rank 3", len), 0);
    free(data);
    CU_ASSERT_NOT_EQUAL(sal_level_partner.rebuild_local(&ctx, 5), SAL_OK);
}

/* L3's local rebuild needs the group's other members: a job of one rank has no group, and a
 * member whose peers left nothing cannot be rebuilt. */
static void test_l3_rebuild_local(void)
{
    const char *one[] = {"node01"};
    const char *four[] = {"node01", "node02", "node03", "node04"};
    char dir[PATH_MAX];
    sal_topo_t t;
    sal_level_ctx_t ctx = {MPI_COMM_NULL, &t, dir, NULL, NULL, 0};

    memset(&t, 0, sizeof(t));
    CU_ASSERT_EQUAL(sal_path_join(dir, sizeof(dir), "%s/l3", tmpdir), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(dir, 0700), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_topo_from_hosts(1, one, 4, &t), SAL_OK);
    CU_ASSERT_EQUAL(sal_level_xor.rebuild_local(&ctx, 0), SAL_ERR_RECOVERY);
    sal_topo_free(&t);
    CU_ASSERT_EQUAL_FATAL(sal_topo_from_hosts(4, four, 4, &t), SAL_OK);
    CU_ASSERT_EQUAL(sal_level_xor.rebuild_local(&ctx, 2), SAL_ERR_RECOVERY);
    ASSERT_ERR_HAS("another member of its group is missing too");
    sal_topo_free(&t);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"every level has one descriptor", test_every_level_has_one_descriptor},
        {"order of preference", test_order_of_preference},
        {"names match the mask", test_names_match_the_mask},
        {"operations come in sets", test_operations_come_in_sets},
        {"messages", test_messages},
        {"asynchronous stages off", test_async_off},
        {"asynchronous stage that cannot start", test_async_start_fails},
        {"L4 flush through the table", test_async_l4_flush},
        {"L2 rebuild_local", test_l2_rebuild_local},
        {"L3 rebuild_local", test_l3_rebuild_local},
    };

    return SAL_UNIT_MAIN("levels", suite_init, suite_clean, tests);
}
