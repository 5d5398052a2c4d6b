/* Element types of protected regions and limits shared by the whole API. */
#ifndef SALAMANDER_SAL_TYPES_H
#define SALAMANDER_SAL_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include <salamander/sal_export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sal_type {
    SAL_CHAR = 1, /* 1-byte opaque data */
    SAL_INT = 2,  /* C int (32 bit on all supported platforms) */
    SAL_INT64 = 3,
    SAL_FLOAT = 4,
    SAL_DOUBLE = 5
} sal_type_t;

enum {
    SAL_MAX_DIMS = 8,     /* maximum rank of a protected array */
    SAL_NAME_MAX = 64,    /* maximum length of a region name, including the terminating NUL */
    SAL_MAX_REGIONS = 256 /* maximum number of protected regions per process */
};

/* Size in bytes of one element of type t, or 0 for an unknown type. */
SAL_API size_t sal_type_size(sal_type_t t);

/* Region names are 1..SAL_NAME_MAX-1 characters from [A-Za-z0-9_.-], not starting with '.' or '-':
 * they become HDF5 dataset names. Returns 1 when valid. */
SAL_API int sal_name_valid(const char *name);

#ifdef __cplusplus
}
#endif
#endif
