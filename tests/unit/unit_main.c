/* The runner of the CUnit test programs (unit_main.h). */
#include "unit_main.h"

static unsigned expected;
static int broken;

int sal_unit_add(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
                 const sal_unit_test_t *tests, size_t n)
{
    CU_pSuite suite;

    if (!CU_get_registry() && CU_initialize_registry() != CUE_SUCCESS)
        return broken = -1;
    suite = CU_add_suite(name, init, clean);
    for (size_t i = 0; suite && i < n; i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            suite = NULL;
    if (!suite)
        return broken = -1;
    expected += (unsigned)n;
    return 0;
}

int sal_unit_run(void)
{
    int failed;

    if (broken || !CU_get_registry()) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* A suite whose set-up failed runs none of its tests: that is a failure, not a pass. */
    failed = CU_get_number_of_failures() != 0 || CU_get_number_of_suites_failed() != 0 ||
             CU_get_number_of_tests_run() != expected;
    CU_cleanup_registry();
    return failed;
}
