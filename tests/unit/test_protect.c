/*
 * Unit tests of the registration of protected regions on a checkpoint handle: per-rank data
 * (sal_ckpt_protect_local) and tables of regions (sal_ckpt_protect_many), all or nothing. The
 * handle is created on MPI_COMM_NULL with a fixed host name: registration does not communicate.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_ckpt.h>
#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "fsutil.h"
#include "unit_main.h"

static char tmpdir[PATH_MAX];
static sal_ckpt_t ck;

static int suite_init(void)
{
    sal_config_t cfg = NULL;
    int rc;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_protect.XXXXXX");
    if (!mkdtemp(tmpdir) || sal_config_create(&cfg) != SAL_OK)
        return -1;
    rc = sal_config_set(cfg, "ckpt_dir", tmpdir);
    if (rc == SAL_OK)
        rc = sal_config_set(cfg, "hostname", "unit");
    if (rc == SAL_OK)
        rc = sal_ckpt_create(MPI_COMM_NULL, cfg, "job", &ck);
    sal_config_destroy(&cfg);
    return rc == SAL_OK ? 0 : -1;
}

static int suite_clean(void)
{
    sal_ckpt_destroy(&ck);
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

/* 1 when name is protected on the handle (probed by protecting it again). */
static int is_protected(const char *name)
{
    static char probe;
    int rc = sal_ckpt_protect_local(ck, name, &probe, 1);

    if (rc == SAL_OK)
        CU_ASSERT_EQUAL(sal_ckpt_unprotect(ck, name), SAL_OK);
    return rc == SAL_ERR_EXISTS;
}

static void test_protect_local(void)
{
    unsigned char bytes[17];

    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, "hist", bytes, sizeof(bytes)), SAL_OK);
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, "hist", bytes, 3), SAL_ERR_EXISTS);
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, "none", NULL, 0), SAL_OK); /* nothing to keep */
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, "null", NULL, 5), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("NULL base address");
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, "huge", bytes, (size_t)INT64_MAX + 1),
                    SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, ".bad", bytes, 1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_ckpt_protect_local(ck, NULL, bytes, 1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_ckpt_unprotect(ck, "hist"), SAL_OK);
    CU_ASSERT_EQUAL(sal_ckpt_unprotect(ck, "none"), SAL_OK);
}

static double u[4][5], t;
static unsigned char hist[123];

/* An array, a scalar and per-rank data. */
static void three_specs(sal_region_spec_t *s)
{
    static const int64_t g[2] = {8, 5}, o[2] = {4, 0}, c[2] = {4, 5};

    memset(s, 0, 3 * sizeof(*s));
    s[0] = (sal_region_spec_t){.kind = SAL_REGION_ARRAY,
                               .name = "u",
                               .base = u,
                               .type = SAL_DOUBLE,
                               .ndims = 2,
                               .gdims = g,
                               .offset = o,
                               .count = c};
    s[1] =
        (sal_region_spec_t){.kind = SAL_REGION_SCALAR, .name = "t", .base = &t, .type = SAL_DOUBLE};
    s[2] = (sal_region_spec_t){
        .kind = SAL_REGION_LOCAL, .name = "hist", .base = hist, .bytes = sizeof(hist)};
}

static void test_protect_many(void)
{
    sal_region_spec_t s[3];

    three_specs(s);
    CU_ASSERT_EQUAL_FATAL(sal_ckpt_protect_many(ck, s, 3), SAL_OK);
    CU_ASSERT(is_protected("u") && is_protected("t") && is_protected("hist"));
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(sal_ckpt_unprotect(ck, s[i].name), SAL_OK);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 0), SAL_OK);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, NULL, 0), SAL_OK);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, NULL, 1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, -1), SAL_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(NULL, s, 3), SAL_ERR_INVALID_ARG);
}

/* A failing spec leaves none of the call's regions protected, and the regions protected before
 * the call as they were. */
static void test_protect_many_all_or_nothing(void)
{
    static const int64_t bad[2] = {4, 1};
    sal_region_spec_t s[3];
    unsigned char keep[4];

    CU_ASSERT_EQUAL_FATAL(sal_ckpt_protect_local(ck, "keep", keep, sizeof(keep)), SAL_OK);
    three_specs(s);
    s[2].name = "bad name";
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("spec 2 (region \"bad name\") failed, none of the 3 specs is protected");
    CU_ASSERT(!is_protected("u") && !is_protected("t") && is_protected("keep"));
    three_specs(s);
    s[1].name = "u"; /* twice in one table */
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_ERR_EXISTS);
    ASSERT_ERR_HAS("spec 1 (region \"u\")");
    ASSERT_ERR_HAS("already protected");
    CU_ASSERT(!is_protected("u") && !is_protected("hist"));
    three_specs(s);
    s[0].offset = bad; /* 4 + 4 rows > 8 */
    s[0].gdims = (const int64_t[]){8, 5};
    s[0].count = (const int64_t[]){5, 5};
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("spec 0 (region \"u\")");
    three_specs(s);
    s[1].name = "keep"; /* taken before the call: it stays */
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_ERR_EXISTS);
    CU_ASSERT(!is_protected("u") && is_protected("keep"));
    three_specs(s);
    s[2].kind = (sal_region_kind_t)9;
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_ERR_INVALID_ARG);
    ASSERT_ERR_HAS("spec 2 (region \"hist\") failed");
    ASSERT_ERR_HAS("unknown region kind 9");
    CU_ASSERT(!is_protected("u") && !is_protected("t"));
    /* The table still works after the failures. */
    three_specs(s);
    CU_ASSERT_EQUAL(sal_ckpt_protect_many(ck, s, 3), SAL_OK);
    CU_ASSERT(is_protected("u") && is_protected("hist") && is_protected("keep"));
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"per-rank data", test_protect_local},
        {"a table of regions", test_protect_many},
        {"a table of regions, all or nothing", test_protect_many_all_or_nothing},
    };

    return SAL_UNIT_MAIN("protect", suite_init, suite_clean, tests);
}
