/*
 * The MPI interposition layer (runtime/interpose): the depth marker and the dispatch of the
 * generated wrappers to the hooks. The program links the layer's wrappers, generated from the list,
 * with a table of test hooks in place of the runtime's (hooks.c): "all" sees every call of the
 * functions switched on for SAL_HOOK_WATCHDOG, as the hang watchdog does; "app" the same functions
 * but only the application's calls, as a future message-logging hook would; "fin" MPI_Finalize.
 * MPI is not initialised: the program defines the PMPI_ functions it calls, so the wrappers call
 * these instead of the MPI library's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <string.h>

#include <mpi.h>

#include <CUnit/Basic.h>

#include "hooks.h"
#include "interpose.h"
#include "unit_main.h"

enum { ALL, APP, FIN, NHOOKS };

typedef struct seen {
    int before, after, reset;
    sal_mpi_fn_t fn; /* of the last before or after */
    int rc;          /* of the last after */
} seen_t;

static seen_t seen[NHOOKS];

#define TEST_HOOK(h)                                                                               \
    static void h##_before(sal_mpi_fn_t fn)                                                        \
    {                                                                                              \
        seen[h].before++;                                                                          \
        seen[h].fn = fn;                                                                           \
    }                                                                                              \
    static void h##_after(sal_mpi_fn_t fn, int rc)                                                 \
    {                                                                                              \
        seen[h].after++;                                                                           \
        seen[h].fn = fn;                                                                           \
        seen[h].rc = rc;                                                                           \
    }                                                                                              \
    static void h##_reset(void)                                                                    \
    {                                                                                              \
        seen[h].reset++;                                                                           \
    }

TEST_HOOK(ALL)
TEST_HOOK(APP)
TEST_HOOK(FIN)

const sal_hook_t sal_interpose_hooks[] = {
    {"all", SAL_HOOK_WATCHDOG, 1, ALL_before, ALL_after, ALL_reset},
    {"app", SAL_HOOK_WATCHDOG, 0, APP_before, APP_after, APP_reset},
    {"fin", SAL_HOOK_FINALIZE, 1, FIN_before, FIN_after, FIN_reset},
};
const size_t sal_interpose_nhooks = sizeof(sal_interpose_hooks) / sizeof(sal_interpose_hooks[0]);

/* ---- the implementations the wrappers call ---- */

static int impl_rc;         /* what PMPI_Barrier returns */
static int impl_calls;      /* PMPI_Barrier calls */
static int impl_depth = -1; /* the depth PMPI_Barrier ran at */
static void (*impl_action)(void);
static jmp_buf unwind;

int PMPI_Barrier(MPI_Comm comm)
{
    (void)comm;
    impl_calls++;
    impl_depth = sal_interpose_depth();
    if (impl_action)
        impl_action();
    return impl_rc;
}

int PMPI_Finalize(void)
{
    return MPI_SUCCESS;
}

/* What the failure handler does inside a failed call of the application's step. */
static void jump_out(void)
{
    longjmp(unwind, 1);
}

static void enter_internal(void)
{
    sal_interpose_internal_begin();
}

/* Every test starts at depth 0 with no call seen. */
static void reset(void)
{
    impl_rc = MPI_SUCCESS;
    impl_calls = 0;
    impl_depth = -1;
    impl_action = NULL;
    sal_interpose_unwound();
    memset(seen, 0, sizeof(seen));
}

/* ---- tests ---- */

/* An application's call (depth 0) reaches both hooks, with the function and the return code. */
static void test_application_call(void)
{
    reset();
    impl_rc = MPI_ERR_COMM;
    CU_ASSERT_EQUAL(sal_interpose_depth(), 0);
    CU_ASSERT_EQUAL(MPI_Barrier(MPI_COMM_SELF), MPI_ERR_COMM);
    CU_ASSERT_EQUAL(impl_calls, 1);
    CU_ASSERT_EQUAL(impl_depth, 0);
    for (int h = ALL; h <= APP; h++) {
        CU_ASSERT_EQUAL(seen[h].before, 1);
        CU_ASSERT_EQUAL(seen[h].after, 1);
        CU_ASSERT_EQUAL(seen[h].fn, SAL_FN_MPI_Barrier);
        CU_ASSERT_EQUAL(seen[h].rc, MPI_ERR_COMM);
    }
    CU_ASSERT_EQUAL(seen[FIN].before + seen[FIN].after, 0);
}

/* A call inside internal_begin/end is Salamander's: the application-only hook does not see it. */
static void test_internal_call(void)
{
    reset();
    sal_interpose_internal_begin();
    CU_ASSERT_EQUAL(sal_interpose_depth(), 1);
    CU_ASSERT_EQUAL(MPI_Barrier(MPI_COMM_SELF), MPI_SUCCESS);
    sal_interpose_internal_end();
    CU_ASSERT_EQUAL(impl_depth, 1);
    CU_ASSERT_EQUAL(seen[ALL].before, 1);
    CU_ASSERT_EQUAL(seen[ALL].after, 1);
    CU_ASSERT_EQUAL(seen[APP].before, 0);
    CU_ASSERT_EQUAL(seen[APP].after, 0);
    CU_ASSERT_EQUAL(sal_interpose_depth(), 0);
}

/* Brackets nest; an end at depth 0 leaves it at 0. */
static void test_nesting(void)
{
    reset();
    sal_interpose_internal_begin();
    sal_interpose_internal_begin();
    CU_ASSERT_EQUAL(sal_interpose_depth(), 2);
    sal_interpose_internal_end();
    MPI_Barrier(MPI_COMM_SELF);
    CU_ASSERT_EQUAL(seen[APP].before, 0);
    sal_interpose_internal_end();
    sal_interpose_internal_end();
    CU_ASSERT_EQUAL(sal_interpose_depth(), 0);
    MPI_Barrier(MPI_COMM_SELF);
    CU_ASSERT_EQUAL(seen[APP].before, 1);
    CU_ASSERT_EQUAL(seen[ALL].before, 2);
}

/* The list's hook bits choose the hooks: MPI_Finalize runs the finalize hook only, at any depth. */
static void test_bits(void)
{
    reset();
    sal_interpose_internal_begin();
    CU_ASSERT_EQUAL(MPI_Finalize(), MPI_SUCCESS);
    sal_interpose_internal_end();
    CU_ASSERT_EQUAL(seen[FIN].before, 1);
    CU_ASSERT_EQUAL(seen[FIN].after, 1);
    CU_ASSERT_EQUAL(seen[FIN].fn, SAL_FN_MPI_Finalize);
    CU_ASSERT_EQUAL(seen[ALL].before + seen[ALL].after + seen[APP].before + seen[APP].after, 0);
    CU_ASSERT_STRING_EQUAL(sal_interpose_name(SAL_FN_MPI_Finalize), "MPI_Finalize");
    CU_ASSERT_STRING_EQUAL(sal_interpose_name(SAL_FN_MPI_Barrier), "MPI_Barrier");
    CU_ASSERT_STRING_EQUAL(sal_interpose_name(SAL_FN_COUNT), "?");
}

/* A hook whose before ran gets its after, even when the depth changes during the call. */
static void test_pairing(void)
{
    reset();
    impl_action = enter_internal;
    MPI_Barrier(MPI_COMM_SELF);
    CU_ASSERT_EQUAL(sal_interpose_depth(), 1);
    CU_ASSERT_EQUAL(seen[APP].before, 1);
    CU_ASSERT_EQUAL(seen[APP].after, 1);
    sal_interpose_internal_end();
}

/* A failure handler's longjmp out of a call inside a bracket skips the afters and the end:
 * sal_interpose_unwound puts the depth back to 0 and resets every hook. */
static void test_unwound(void)
{
    reset();
    impl_action = jump_out;
    if (setjmp(unwind) == 0) {
        sal_interpose_internal_begin();
        sal_interpose_internal_begin();
        MPI_Barrier(MPI_COMM_SELF);
        CU_FAIL("the call returned");
    }
    CU_ASSERT_EQUAL(sal_interpose_depth(), 2);
    CU_ASSERT_EQUAL(seen[ALL].before, 1);
    CU_ASSERT_EQUAL(seen[ALL].after, 0);
    sal_interpose_unwound();
    CU_ASSERT_EQUAL(sal_interpose_depth(), 0);
    for (int h = 0; h < NHOOKS; h++)
        CU_ASSERT_EQUAL(seen[h].reset, 1);
    impl_action = NULL;
    MPI_Barrier(MPI_COMM_SELF);
    CU_ASSERT_EQUAL(seen[APP].before, 1);
    CU_ASSERT_EQUAL(seen[APP].after, 1);
}

static void *other_thread(void *arg)
{
    int *depths = arg;

    depths[0] = sal_interpose_depth();
    sal_interpose_internal_begin();
    depths[1] = sal_interpose_depth();
    sal_interpose_internal_end();
    return NULL;
}

/* The depth is per thread: another thread is at 0 while this one is inside a bracket. */
static void test_per_thread(void)
{
    int depths[2] = {-1, -1};
    pthread_t t;

    reset();
    sal_interpose_internal_begin();
    CU_ASSERT_FATAL(pthread_create(&t, NULL, other_thread, depths) == 0);
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(depths[0], 0);
    CU_ASSERT_EQUAL(depths[1], 1);
    CU_ASSERT_EQUAL(sal_interpose_depth(), 1);
    sal_interpose_internal_end();
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"application call", test_application_call},
        {"internal call", test_internal_call},
        {"nesting", test_nesting},
        {"hook bits", test_bits},
        {"before and after pair", test_pairing},
        {"unwound", test_unwound},
        {"per thread", test_per_thread},
    };

    return SAL_UNIT_MAIN("interpose", NULL, NULL, tests);
}
