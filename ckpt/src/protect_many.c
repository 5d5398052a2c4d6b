/*
 * sal_ckpt_protect_many: a table of regions registered all or nothing. The regions of one call are
 * appended to the handle's table in order, so a failure takes them back by restoring the table's
 * length; the regions protected before the call stay as they were.
 */
#include <stdio.h>
#include <string.h>

#include <salamander/sal_ckpt.h>

#include "ckpt_impl.h"
#include "log.h"

static int protect_one(sal_ckpt_t ck, const sal_region_spec_t *s)
{
    switch (s->kind) {
    case SAL_REGION_ARRAY:
        return sal_ckpt_protect(ck, s->name, s->base, s->type, s->ndims, s->gdims, s->offset,
                                s->count);
    case SAL_REGION_SCALAR:
        return sal_ckpt_protect_scalar(ck, s->name, s->base, s->type);
    case SAL_REGION_LOCAL:
        return sal_ckpt_protect_local(ck, s->name, s->base, s->bytes);
    default:
        return sal_error(SAL_ERR_INVALID_ARG, "unknown region kind %d", (int)s->kind);
    }
}

int sal_ckpt_protect_many(sal_ckpt_t ck, const sal_region_spec_t *specs, int n)
{
    char cause[512];
    int before, rc = SAL_OK, i = 0;

    if (!ck || n < 0 || (!specs && n > 0))
        return sal_error(SAL_ERR_INVALID_ARG, "protect_many: NULL handle or specs, or %d specs", n);
    before = ck->nregions;
    for (; i < n && rc == SAL_OK; i++)
        rc = protect_one(ck, &specs[i]);
    if (rc == SAL_OK)
        return SAL_OK;
    ck->nregions = before; /* the table keeps its allocation; the entries past it are unused */
    snprintf(cause, sizeof(cause), "%s", sal_last_error());
    return sal_error(rc,
                     "protect_many: spec %d (region \"%.*s\") failed, none of the %d specs is "
                     "protected: %s",
                     i - 1, SAL_NAME_MAX, specs[i - 1].name ? specs[i - 1].name : "(null)", n,
                     cause);
}
