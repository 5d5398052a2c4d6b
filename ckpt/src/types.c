/* Element types, region names and region geometry. */
#include <string.h>

#include <salamander/sal_error.h>
#include <salamander/sal_types.h>

#include "log.h"
#include "region.h"

size_t sal_type_size(sal_type_t t)
{
    switch (t) {
    case SAL_CHAR:
        return 1;
    case SAL_INT:
        return sizeof(int);
    case SAL_INT64:
        return sizeof(int64_t);
    case SAL_FLOAT:
        return sizeof(float);
    case SAL_DOUBLE:
        return sizeof(double);
    default:
        return 0;
    }
}

int sal_name_valid(const char *name)
{
    size_t n;

    if (!name)
        return 0;
    n = strlen(name);
    if (n == 0 || n >= SAL_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

int64_t sal_region_elems(const sal_region_t *r)
{
    int64_t n = 1;

    if (r->scalar)
        return 1;
    for (int d = 0; d < r->ndims; d++)
        n *= r->count[d];
    return n;
}

int sal_region_check(const sal_region_t *r)
{
    if (!sal_name_valid(r->name))
        return sal_error(SAL_ERR_INVALID_ARG,
                         "region name \"%s\" is invalid: use 1-%d characters from [A-Za-z0-9_.-], "
                         "not starting with '.' or '-'",
                         r->name, SAL_NAME_MAX - 1);
    if (sal_type_size(r->type) == 0)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": unknown type %d", r->name,
                         (int)r->type);
    if (r->scalar)
        return r->local ? sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": a scalar cannot be local",
                                    r->name)
                        : SAL_OK;
    if (r->local && (r->type != SAL_CHAR || r->ndims != 1 || r->offset[0] != 0 || r->count[0] < 0 ||
                     r->gdims[0] != r->count[0]))
        return sal_error(SAL_ERR_INVALID_ARG,
                         "region \"%s\": per-rank data must be one block of bytes (type %d, "
                         "%d dims, %lld bytes at %lld of %lld)",
                         r->name, (int)r->type, r->ndims, (long long)r->count[0],
                         (long long)r->offset[0], (long long)r->gdims[0]);
    if (r->ndims < 1 || r->ndims > SAL_MAX_DIMS)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": ndims %d not in [1, %d]", r->name,
                         r->ndims, SAL_MAX_DIMS);
    for (int d = 0; d < r->ndims; d++) {
        if (r->gdims[d] < 0 || r->offset[d] < 0 || r->count[d] < 0 || r->offset[d] > r->gdims[d] ||
            r->count[d] > r->gdims[d] - r->offset[d])
            return sal_error(
                SAL_ERR_INVALID_ARG,
                "region \"%s\": dimension %d block [%lld, +%lld) outside global size %lld", r->name,
                d, (long long)r->offset[d], (long long)r->count[d], (long long)r->gdims[d]);
    }
    return SAL_OK;
}
