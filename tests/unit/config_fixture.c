/* The configuration tests' shared helpers (config_fixture.h). */
#include "config_fixture.h"

const char *const key_names[] = {
#define SAL_KEY(kind, name, def, min, max, choices, help) #name,
#include "config_keys.def"
#undef SAL_KEY
};
const size_t nkeys = sizeof(key_names) / sizeof(key_names[0]);

sal_config_t new_config(void)
{
    sal_config_t cfg = NULL;

    CU_ASSERT_EQUAL_FATAL(sal_config_create(&cfg), SAL_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    return cfg;
}
