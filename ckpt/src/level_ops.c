/* The table of the levels beyond L1 and the loops over their asynchronous stages (level_ops.h). */
#include <salamander/sal_error.h>

#include "level_ops.h"

const sal_level_ops_t *const sal_level_table[SAL_LEVEL_COUNT] = {
    &sal_level_partner, /* L2: one copy back from one partner */
    &sal_level_xor,     /* L3: a reduction over the group */
    &sal_level_pfs,     /* L4: the shared file system */
};

int sal_level_encode(const sal_level_ops_t *l, const sal_level_ctx_t *c, const void *data,
                     int64_t len, int *ok)
{
    sal_level_work_t *w = NULL;
    int rc = l->begin(c, data, len, &w, ok);

    return rc == SAL_OK && w ? l->advance(&w, 1, ok) : rc;
}

int sal_levels_start(const sal_level_setup_t *s, sal_level_async_t *as)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        int rc = l->start ? l->start(s, as) : SAL_OK;
        if (rc != SAL_OK) {
            sal_levels_stop(as);
            return rc;
        }
    }
    return SAL_OK;
}

void sal_levels_stop(sal_level_async_t *as)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->stop)
            sal_level_table[i]->stop(as);
}

int sal_levels_due(const sal_level_async_t *as, int64_t id)
{
    int mask = 0;

    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->due && sal_level_table[i]->due(as, id))
            mask |= sal_level_table[i]->bit;
    return mask;
}

void sal_levels_submit(sal_level_async_t *as, int mask, int64_t id, int rank, int nranks)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->submit && (mask & sal_level_table[i]->bit))
            sal_level_table[i]->submit(as, id, rank, nranks);
}

void sal_levels_drain(sal_level_async_t *as)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->drain)
            sal_level_table[i]->drain(as);
}

int sal_levels_idle(sal_level_async_t *as)
{
    for (int i = 0; i < SAL_LEVEL_COUNT; i++)
        if (sal_level_table[i]->idle && !sal_level_table[i]->idle(as))
            return 0;
    return 1;
}
