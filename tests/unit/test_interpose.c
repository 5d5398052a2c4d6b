/*
 * The MPI interposition layer (runtime/interpose): the depth marker and the dispatch of the
 * generated wrappers to the hooks. The program links the layer's wrappers, generated from the list,
 * with a table of test hooks in place of the runtime's (hooks.c): "all" sees every call of the
 * functions switched on for SAL_HOOK_WATCHDOG, as the hang watchdog does; "app" the same functions
 * but only the application's calls, as a future message-logging hook would; "fin" MPI_Finalize.
 * MPI is not initialised: the program defines the PMPI_ functions it calls, so the wrappers call
 * these instead of the MPI library's. The job's world that MPI_COMM_WORLD is mapped to is
 * fake_world (MPI_COMM_SELF).
 */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
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

static MPI_Comm fake_world = MPI_COMM_SELF;

/* ---- the implementations the wrappers call ---- */

static MPI_Comm passed[2]; /* the communicators the last implementation received */

int PMPI_Comm_rank(MPI_Comm comm, int *rank)
{
    passed[0] = comm;
    *rank = 7;
    return MPI_SUCCESS;
}

int PMPI_Intercomm_create(MPI_Comm local_comm, int local_leader, MPI_Comm bridge_comm,
                          int remote_leader, int tag, MPI_Comm *newintercomm)
{
    (void)local_leader, (void)remote_leader, (void)tag;
    passed[0] = local_comm;
    passed[1] = bridge_comm;
    *newintercomm = MPI_COMM_NULL;
    return MPI_SUCCESS;
}

int PMPI_Comm_free(MPI_Comm *comm)
{
    passed[0] = *comm;
    return MPI_SUCCESS;
}

int PMPI_Comm_get_attr(MPI_Comm comm, int comm_keyval, void *attribute_val, int *flag)
{
    (void)comm_keyval, (void)attribute_val;
    passed[0] = comm;
    *flag = 0;
    return MPI_SUCCESS;
}

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
    sal_interpose_map_world_to(NULL);
    passed[0] = passed[1] = MPI_COMM_NULL;
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

/* ---- the mapping of MPI_COMM_WORLD ---- */

/* The application's MPI_COMM_WORLD reaches the implementation as the current world; any other
 * communicator as it is. A row without hooks runs none. */
static void test_map_world(void)
{
    int rank = -1, flag = 1;

    reset();
    sal_interpose_map_world_to(&fake_world);
    CU_ASSERT_EQUAL(MPI_Comm_rank(MPI_COMM_WORLD, &rank), MPI_SUCCESS);
    CU_ASSERT_EQUAL(rank, 7);
    CU_ASSERT(passed[0] == MPI_COMM_SELF);
    CU_ASSERT_EQUAL(seen[ALL].before + seen[APP].before, 0);
    MPI_Comm_rank(MPI_COMM_NULL, &rank);
    CU_ASSERT(passed[0] == MPI_COMM_NULL);
    MPI_Intercomm_create(MPI_COMM_WORLD, 0, MPI_COMM_WORLD, 1, 5, &(MPI_Comm){MPI_COMM_NULL});
    CU_ASSERT(passed[0] == MPI_COMM_SELF && passed[1] == MPI_COMM_SELF);
    /* SAL_KEEP: freeing MPI_COMM_WORLD stays erroneous; its attributes are the launch's world's. */
    MPI_Comm_free(&(MPI_Comm){MPI_COMM_WORLD});
    CU_ASSERT(passed[0] == MPI_COMM_WORLD);
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &rank, &flag);
    CU_ASSERT(passed[0] == MPI_COMM_WORLD);
}

/* Salamander's own calls, and every call while the runtime does not map, keep MPI_COMM_WORLD. */
static void test_world_unmapped(void)
{
    int rank;

    reset();
    sal_interpose_map_world_to(&fake_world);
    sal_interpose_internal_begin();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    CU_ASSERT(passed[0] == MPI_COMM_WORLD);
    MPI_Intercomm_create(MPI_COMM_WORLD, 0, MPI_COMM_WORLD, 1, 5, &(MPI_Comm){MPI_COMM_NULL});
    CU_ASSERT(passed[0] == MPI_COMM_WORLD && passed[1] == MPI_COMM_WORLD);
    sal_interpose_internal_end();
    sal_interpose_map_world_to(&(MPI_Comm){MPI_COMM_NULL});
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    CU_ASSERT(passed[0] == MPI_COMM_WORLD);
    sal_interpose_map_world_to(NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    CU_ASSERT(passed[0] == MPI_COMM_WORLD);
}

/* The next identifier of *s (skipping blanks, commas and parentheses) into out; 0 at the end. */
static int next_word(const char **s, char *out, size_t size)
{
    size_t n = 0;

    while (**s && !(isalnum((unsigned char)**s) || **s == '_' || **s == '*'))
        (*s)++;
    while (**s && (isalnum((unsigned char)**s) || **s == '_' || **s == '*') && n + 1 < size)
        out[n++] = *(*s)++;
    out[n] = '\0';
    return n > 0;
}

/* 1 when the comms column names word (between its parentheses). */
static int names_param(const char *comms, const char *word)
{
    char w[64];
    const char *s = strchr(comms, '(');

    while (s && next_word(&s, w, sizeof(w)))
        if (strcmp(w, word) == 0)
            return 1;
    return 0;
}

/* The roles of one row: every MPI_Comm parameter passed by value is named in comms, and SAL_MAP
 * names only those. Returns the number of faults (each printed). */
static int check_roles(const char *fn, const char *params, const char *comms)
{
    char copy[1024], *save = NULL, w[64], v[64], prev[64];
    int faults = 0, maps = 0, keeps = strncmp(comms, "SAL_KEEP(", 9) == 0;

    snprintf(copy, sizeof(copy), "%s", params);
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        const char *s = p;
        int by_value = next_word(&s, w, sizeof(w)) && strcmp(w, "MPI_Comm") == 0 &&
                       next_word(&s, v, sizeof(v)) && v[0] != '*' && !next_word(&s, prev, 1);

        if (by_value && !names_param(comms, v))
            faults += printf("\n    %s: MPI_Comm %s has no role in %s", fn, v, comms) > 0;
        maps += by_value && strncmp(comms, "SAL_MAP(", 8) == 0 && names_param(comms, v);
        keeps += by_value;
    }
    if (strncmp(comms, "SAL_MAP(", 8) == 0 && maps == 0)
        faults += printf("\n    %s: %s maps no MPI_Comm parameter", fn, comms) > 0;
    if (strcmp(comms, "SAL_NO_COMM") == 0 && keeps)
        faults += printf("\n    %s: SAL_NO_COMM, but it takes a communicator", fn) > 0;
    return faults;
}

/* Every communicator parameter of the list has a role, and MPI_Comm_rank, the collectives and the
 * point-to-point calls map theirs. */
static void test_roles(void)
{
    static const struct {
        const char *name, *params, *comms;
    } rows[] = {
#define SAL_MPI_FN(prefix, name, params, args, comms, impl, hooks, build)                          \
    {#prefix "_" #name, #params, #comms},
#include "mpi_functions.def"
#undef SAL_MPI_FN
    };
    int faults = 0, mapped = 0;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        faults += check_roles(rows[i].name, rows[i].params, rows[i].comms);
        mapped += strncmp(rows[i].comms, "SAL_MAP(", 8) == 0;
    }
    CU_ASSERT_EQUAL(faults, 0);
    CU_ASSERT(mapped >= 100);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (!strcmp(rows[i].name, "MPI_Comm_rank") || !strcmp(rows[i].name, "MPI_Allreduce") ||
            !strcmp(rows[i].name, "MPI_Isend") || !strcmp(rows[i].name, "MPI_Comm_split"))
            CU_ASSERT_STRING_EQUAL(rows[i].comms, "SAL_MAP(comm)");
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
        {"MPI_COMM_WORLD mapped", test_map_world},
        {"MPI_COMM_WORLD unmapped", test_world_unmapped},
        {"communicator roles", test_roles},
    };

    return SAL_UNIT_MAIN("interpose", NULL, NULL, tests);
}
