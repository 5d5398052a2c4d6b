/* The one runner of the CUnit test programs: registers a suite, runs it verbosely and turns the
 * outcome into the exit status ctest reads. */
#ifndef SAL_UNIT_MAIN_H
#define SAL_UNIT_MAIN_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

typedef struct sal_unit_test {
    const char *name;
    CU_TestFunc fn;
} sal_unit_test_t;

/* Adds the suite name (init and clean may be NULL) with tests[0..n) to the registry. Returns 0 or
 * -1; call sal_unit_run afterwards. */
int sal_unit_add(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean,
                 const sal_unit_test_t *tests, size_t n);

/* Runs every registered suite. Returns 0 when every test ran and passed, 1 when one failed or a
 * suite could not be set up, 2 when the registry could not be built. */
int sal_unit_run(void);

/* The common case: one suite. */
#define SAL_UNIT_MAIN(name, init, clean, tests)                                                    \
    (sal_unit_add((name), (init), (clean), (tests), sizeof(tests) / sizeof((tests)[0])) == 0       \
         ? sal_unit_run()                                                                          \
         : 2)

/* Asserts that the last error message contains needle, printing the message when it does not. */
#define ASSERT_ERR_HAS(needle)                                                                     \
    do {                                                                                           \
        int found_ = strstr(sal_last_error(), (needle)) != NULL;                                   \
        if (!found_)                                                                               \
            fprintf(stderr, "\n    last error \"%s\" lacks \"%s\"\n", sal_last_error(), (needle)); \
        CU_ASSERT(found_);                                                                         \
    } while (0)

#endif
