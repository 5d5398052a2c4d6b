/*
 * sal_stats: what this process's runtime measured, by name. Names rather than a struct keep the
 * ABI stable when figures are added; docs/api.md lists them.
 */
#include <stddef.h>
#include <string.h>

#include <salamander/salamander.h>

#include "log.h"
#include "runtime.h"

sal_stats_t sal_rt_stats;

typedef struct stat_def {
    const char *name;
    size_t offset; /* of a double in sal_stats_t */
} stat_def_t;

#define STAT(field)                                                                                \
    {                                                                                              \
#field, offsetof(sal_stats_t, field)                                                       \
    }
static const stat_def_t stats[] = {
    STAT(checkpoints),      STAT(checkpoint_seconds),    STAT(checkpoints_aborted),
    STAT(restores),         STAT(restore_seconds),       STAT(repairs),
    STAT(recovery_seconds), STAT(last_recovery_seconds), STAT(revoke_seconds),
    STAT(shrink_seconds),   STAT(replace_seconds),
};
#undef STAT

int sal_stats(const char *name, double *value)
{
    int rc = sal_rt_check(__func__);

    if (rc != SAL_OK)
        return rc;
    if (!name || !value)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL name or value");
    if (strcmp(name, "steps") == 0) {
        *value = (double)sal_rt.step;
        return SAL_OK;
    }
    if (strcmp(name, "ranks") == 0) {
        *value = (double)sal_rt.size;
        return SAL_OK;
    }
    for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++) {
        if (strcmp(stats[i].name, name) == 0) {
            *value = *(const double *)((const char *)&sal_rt_stats + stats[i].offset);
            return SAL_OK;
        }
    }
    return sal_error(SAL_ERR_NOT_FOUND, "no statistic \"%s\" (see docs/api.md, sal_stats)", name);
}
