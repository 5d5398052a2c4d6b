/*
 * The manifest (ckpt.<id>/manifest.h5): published by rank 0 after every rank's file is written and
 * the ranks agreed. It holds the checkpoint's attributes and, for each distributed array, a virtual
 * dataset (HDF5 VDS) of the global shape mapping each rank's block from rank.<r>.h5 by relative
 * file name, so h5dump/h5py show the global array. Scalars become a [nranks] virtual dataset of
 * per-rank values, and per-rank data (sal_protect_local) a 1-D byte array concatenating the bytes
 * of every rank. The `latest` file in the job directory names the newest published checkpoint
 * ("ckpt.<id>\n").
 *
 * Everything read here is untrusted: readers validate and return SAL_ERR_CORRUPT naming file and
 * cause.
 */
#ifndef SAL_MANIFEST_H
#define SAL_MANIFEST_H

#include <stdint.h>

#include <salamander/sal_types.h>

#define SAL_FORMAT_VERSION 1

typedef struct sal_manifest_region {
    char name[SAL_NAME_MAX];
    sal_type_t type;
    int scalar;
    int local; /* per-rank data: a 1-D byte array, the concatenation of every rank's bytes in rank
                * order (offsets: the prefix sums of the counts, the per-rank sizes) */
    int ndims;
    int64_t gdims[SAL_MAX_DIMS];
    int64_t *offsets; /* nranks * ndims, rank-major (NULL for scalars) */
    int64_t *counts;  /* nranks * ndims */
} sal_manifest_region_t;

typedef struct sal_manifest {
    int64_t id;
    int64_t step;
    double time;
    int nranks;
    int format_version;
    int64_t bytes; /* total payload of all rank files */
    int nregions;
    sal_manifest_region_t *regions;
} sal_manifest_t;

/* Writes <ckpt_dir>/manifest.h5 (temp name, fsync, rename; mode 0600). */
int sal_manifest_write(const char *ckpt_dir, const sal_manifest_t *m);

/* Reads and validates <ckpt_dir>/manifest.h5 into *m (caller frees with sal_manifest_free). Checks
 * format version, nranks >= 1, region names, types, dims, and that the blocks of every array lie
 * inside its global shape. SAL_ERR_CORRUPT / SAL_ERR_IO with the file and cause. */
int sal_manifest_read(const char *ckpt_dir, sal_manifest_t *m);

/* Reads the block [offset, offset+count) of a distributed array through the manifest's virtual
 * dataset into buf (row-major, prod(count) elements of the region's type): the N->M restore path.
 */
int sal_manifest_read_block(const char *ckpt_dir, const char *region, sal_type_t type, int ndims,
                            const int64_t *offset, const int64_t *count, void *buf);

void sal_manifest_free(sal_manifest_t *m);

/* Atomically replaces <job_dir>/latest with "ckpt.<id>\n" (mode 0600). */
int sal_latest_write(const char *job_dir, int64_t id);
/* Reads <job_dir>/latest. SAL_ERR_NO_CKPT if absent, SAL_ERR_CORRUPT if malformed. */
int sal_latest_read(const char *job_dir, int64_t *id);

#endif
