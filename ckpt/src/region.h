/* Protected regions as the checkpoint engine sees them. */
#ifndef SAL_REGION_H
#define SAL_REGION_H

#include <stdint.h>

#include <salamander/sal_types.h>

typedef struct sal_region {
    char name[SAL_NAME_MAX];
    void *base; /* application memory, prod(count) elements */
    sal_type_t type;
    int scalar; /* 1: per-rank scalar (ndims 0) */
    int local;  /* 1: per-rank bytes (sal_protect_local): type SAL_CHAR, ndims 1, gdims = count =
                 * the size on this rank, offset 0; restored to the same rank number only */
    int ndims;
    int64_t gdims[SAL_MAX_DIMS];
    int64_t offset[SAL_MAX_DIMS];
    int64_t count[SAL_MAX_DIMS];
} sal_region_t;

/* Number of elements of this rank's block (1 for a scalar). */
int64_t sal_region_elems(const sal_region_t *r);
/* Validates name, type, ndims and that offset+count lies inside gdims. SAL_OK or
 * SAL_ERR_INVALID_ARG. */
int sal_region_check(const sal_region_t *r);

#endif
