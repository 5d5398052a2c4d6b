/*
 * In-memory copies of the protected regions (ckpt_internal.h): what local rollback keeps at the
 * start of each step so that the survivors of a failure can go back one step without a checkpoint.
 */
#include <string.h>

#include "ckpt_impl.h"
#include "ckpt_internal.h"
#include "log.h"

static size_t region_bytes(const sal_region_t *r)
{
    return (size_t)sal_region_elems(r) * sal_type_size(r->type);
}

size_t sal_ckpt_regions_size(sal_ckpt_t ck)
{
    size_t total = 0;

    for (int i = 0; ck && i < ck->nregions; i++)
        total += region_bytes(&ck->regions[i]);
    return total;
}

int sal_ckpt_regions_copy(sal_ckpt_t ck, void *buf, size_t len, int into_regions)
{
    unsigned char *p = buf;
    size_t need = sal_ckpt_regions_size(ck);

    if (!ck || (need && !buf))
        return sal_error(SAL_ERR_INVALID_ARG, "regions copy: NULL handle or buffer");
    if (len != need)
        return sal_error(SAL_ERR_STATE,
                         "regions copy: the protected regions hold %zu bytes, the copy %zu "
                         "(a region was protected or unprotected since)",
                         need, len);
    for (int i = 0; i < ck->nregions; i++) {
        const sal_region_t *r = &ck->regions[i];
        size_t n = region_bytes(r);

        if (n == 0)
            continue;
        if (into_regions)
            memcpy(r->base, p, n);
        else
            memcpy(p, r->base, n);
        p += n;
    }
    return SAL_OK;
}
