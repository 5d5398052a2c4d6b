/*
 * How a region is stored in a rank file: shared by the writer (h5io_write.c), its direct chunk
 * writes (h5io_chunk.c) and the reader (h5io_read.c).
 */
#ifndef SAL_H5IO_RANK_H
#define SAL_H5IO_RANK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "region.h"

/* Size of the "<file> dataset <region>" prefix of messages. */
enum { SAL_H5_WHERE_MAX = PATH_MAX + SAL_NAME_MAX + 16 };

/* A region as stored: a scalar is a [1] block at offset [rank] of global shape [nranks]. */
typedef struct sal_h5_stored {
    int ndims;
    hsize_t count[SAL_MAX_DIMS];
    int64_t gdims[SAL_MAX_DIMS];
    int64_t offset[SAL_MAX_DIMS];
} sal_h5_stored_t;

/* [OUT] *s: how region r of rank `rank` of nranks is stored. */
void sal_h5_stored_shape(const sal_region_t *r, int rank, int nranks, sal_h5_stored_t *s);

/* Writes a non-empty block chunk by chunk with H5Dwrite_chunk: exactly the bytes HDF5's
 * Fletcher32 filter would store, without HDF5's per-chunk allocations and copies. The chunks are
 * those of chunk_shape in h5io_write.c (chunk, slab dimension cut); base holds the block in the
 * file's byte order. */
int sal_h5_write_chunks(hid_t dset, const char *where, const sal_h5_stored_t *s,
                        const hsize_t *chunk, int cut, size_t esize, const void *base);

#endif
