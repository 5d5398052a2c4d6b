/*
 * What the configuration tests share (test_config.c, test_config_files.c): the names of every key
 * of the registry, assertions on the last error message and on a key's value, and a new
 * configuration that must be created.
 */
#ifndef SAL_TEST_CONFIG_FIXTURE_H
#define SAL_TEST_CONFIG_FIXTURE_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "unit_main.h"

/* Every key of ckpt/src/config_keys.def, in its order. */
extern const char *const key_names[];
extern const size_t nkeys;
#define NKEYS nkeys

#define ASSERT_VALUE(cfg, key, expected)                                                           \
    do {                                                                                           \
        const char *v_ = NULL;                                                                     \
        CU_ASSERT_EQUAL_FATAL(sal_config_get((cfg), (key), &v_), SAL_OK);                          \
        CU_ASSERT_STRING_EQUAL(v_, (expected));                                                    \
    } while (0)

/* A new configuration (fails the test when it cannot be created). */
sal_config_t new_config(void);

#endif
