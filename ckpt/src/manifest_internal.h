/*
 * Internals of the manifest shared by its geometry and writer (manifest.c), its reader
 * (manifest_read.c) and the N->M block reads (manifest_block.c). The file's layout is described in
 * manifest.c.
 */
#ifndef SAL_MANIFEST_INTERNAL_H
#define SAL_MANIFEST_INTERNAL_H

#include <stdint.h>

#include <hdf5.h>

#include "manifest.h"

#define SAL_MANIFEST_FILE       "manifest.h5"
#define SAL_LAYOUT_GROUP        ".layout"
#define SAL_MANIFEST_MAX_NRANKS (1 << 24)

/* Block of rank r as mapped in the virtual dataset: a scalar's is element [r] of [nranks]. [OUT]
 * off, cnt. Returns its number of dimensions. */
int sal_manifest_block_of(const sal_manifest_region_t *mr, int r, int64_t *off, int64_t *cnt);
/* Number of elements of a block of nd dimensions with counts cnt. */
int64_t sal_manifest_volume(int nd, const int64_t *cnt);
/* Names, type, dims, and every block inside the global shape; code is the status of a violation.
 */
int sal_manifest_check_region(const sal_manifest_region_t *mr, int nranks, int code,
                              const char *where);

/* Root attributes. [OUT] m's scalar fields, *nregions (declared count). */
int sal_manifest_read_head(hid_t file, const char *path, sal_manifest_t *m, int64_t *nregions);
/* Reads and validates region `name` into mr (whose arrays the caller frees). [OUT] *dset_out: the
 * open virtual dataset when not NULL. */
int sal_manifest_read_region(hid_t file, const char *path, const char *name, int nranks,
                             sal_manifest_region_t *mr, hid_t *dset_out);

#endif
