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

/* Differential writes (docs/format.md, "Differential checkpoints"): the 64-bit hash of each
 * chunk's data, kept in the dataset's attribute chunk_hashes, decides whether a chunk of a reused
 * file already holds the data. */
typedef struct sal_h5_diff {
    const int64_t *old; /* [IN] hashes stored in the reused dataset, NULL: write every chunk */
    int64_t *hash;      /* [OUT] the hash of every chunk now in the dataset */
    int64_t nchunks;    /* entries of old (when not NULL) and hash */
    int64_t skipped;    /* [INOUT] bytes of data in chunks left as they were, added to */
    int64_t unread;     /* [INOUT] of those, the bytes left unread (dirty), added to */
    const struct sal_dirty *dirty; /* [IN] written-page tracker, NULL: hash every chunk */
    int64_t since; /* [IN] with dirty: the checkpoint old describes; a chunk whose memory was not
                    * written since keeps its old hash, unread */
} sal_h5_diff_t;

/* Chunks of a dataset above which no hashes are kept (their attribute stays below HDF5's 64 KiB
 * limit for an attribute stored in the object header). */
enum { SAL_H5_DIFF_MAX_CHUNKS = 4096 };

/* The hash of a chunk's data: XXH64 with seed 0 (the xxHash specification), on every host. */
uint64_t sal_h5_chunk_hash(const void *data, size_t len);

/* Number of chunks of a non-empty block (chunk, slab dimension cut as below). */
int64_t sal_h5_chunk_count(const sal_h5_stored_t *s, const hsize_t *chunk, int cut);

/* Writes a non-empty block chunk by chunk with H5Dwrite_chunk: exactly the bytes HDF5's
 * Fletcher32 filter would store, without HDF5's per-chunk allocations and copies. The chunks are
 * those of chunk_shape in h5io_write.c (chunk, slab dimension cut); base holds the block in the
 * file's byte order. diff (NULL: none): the hash of every chunk is computed, and a chunk whose
 * hash equals diff->old's is not written again. */
int sal_h5_write_chunks(hid_t dset, const char *where, const sal_h5_stored_t *s,
                        const hsize_t *chunk, int cut, size_t esize, const void *base,
                        sal_h5_diff_t *diff);

#endif
