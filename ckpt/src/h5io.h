/*
 * Per-rank checkpoint files (HDF5): one chunked dataset per region with the Fletcher32 filter, attributes
 * id, step, time, rank, nranks, version on the root group and global_dims/offset on each dataset.
 */
#ifndef SAL_H5IO_H
#define SAL_H5IO_H

#include <stdint.h>

#include "region.h"

typedef struct sal_rank_meta {
    int64_t id;
    int64_t step;
    double time; /* wall-clock seconds since the epoch when the checkpoint began */
    int rank;
    int nranks;
} sal_rank_meta_t;

/* Writes regions into path (temp name, fsync, rename; file mode 0600). [OUT] *bytes (may be NULL)
 * receives the payload size. SAL_ERR_IO / SAL_ERR_HDF5 with the path in the message on failure; no file
 * at path is created or replaced on failure. */
int sal_h5_write_rank(const char *path, const sal_rank_meta_t *meta, const sal_region_t *regions,
                      int nregions, int64_t *bytes);

/* Reads a rank file written by sal_h5_write_rank into the regions' memory. Every region must exist with
 * the same type, global dims, offset and count; the file's id/rank/nranks must match *expect.
 * Returns SAL_ERR_CORRUPT (checksum, truncation, mismatch) or SAL_ERR_IO naming path and cause. On
 * failure the regions' memory may be partly overwritten: the caller restores from another source. */
int sal_h5_read_rank(const char *path, const sal_rank_meta_t *expect, sal_region_t *regions,
                     int nregions);

#endif
