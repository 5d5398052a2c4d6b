/*
 * N->M block reads through the manifest's virtual datasets (sal_manifest_read_block): the restore
 * on another number of ranks. A block read checks the rank files it needs, because HDF5 fills the
 * blocks of missing or unreadable source files with the fill value instead of failing.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "manifest_internal.h"

/* Rank file r of the checkpoint, validated for the region without reading its data. */
static int check_source(const char *ckpt_dir, const sal_manifest_t *head,
                        const sal_manifest_region_t *mr, int r)
{
    sal_rank_meta_t expect = {
        .id = head->id, .step = head->step, .rank = r, .nranks = head->nranks};
    sal_region_t reg;
    char path[PATH_MAX];
    int rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", ckpt_dir, r);

    if (rc != SAL_OK)
        return rc;
    memset(&reg, 0, sizeof(reg));
    memcpy(reg.name, mr->name, sizeof(reg.name));
    reg.type = mr->type;
    reg.scalar = mr->scalar;
    reg.ndims = mr->ndims;
    memcpy(reg.gdims, mr->gdims, sizeof(reg.gdims));
    if (!mr->scalar)
        sal_manifest_block_of(mr, r, reg.offset, reg.count);
    if (mr->local) { /* the rank file describes its own bytes only */
        reg.local = 1;
        reg.gdims[0] = reg.count[0];
        reg.offset[0] = 0;
    }
    return sal_h5_check_rank(path, &expect, &reg, 1);
}

/* Checks every rank file whose block meets the request, and that those blocks cover it. */
static int check_sources(const char *ckpt_dir, const char *path, const sal_manifest_t *head,
                         const sal_manifest_region_t *mr, int nd, const int64_t *offset,
                         const int64_t *count)
{
    int64_t off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS], covered = 0,
                                                  want = sal_manifest_volume(nd, count);

    for (int r = 0; r < head->nranks; r++) {
        int64_t v = 1;
        int rc;
        sal_manifest_block_of(mr, r, off, cnt);
        for (int d = 0; d < nd; d++) {
            int64_t lo = off[d] > offset[d] ? off[d] : offset[d];
            int64_t hi =
                off[d] + cnt[d] < offset[d] + count[d] ? off[d] + cnt[d] : offset[d] + count[d];
            v *= hi > lo ? hi - lo : 0;
        }
        if (v == 0)
            continue;
        rc = check_source(ckpt_dir, head, mr, r);
        if (rc != SAL_OK)
            return rc;
        covered += v;
    }
    if (covered < want)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s region %s: the rank blocks cover %lld of the %lld "
                         "requested elements",
                         path, mr->name, (long long)covered, (long long)want);
    return SAL_OK;
}

static int read_hyperslab(hid_t dset, const char *path, const sal_manifest_region_t *mr, int nd,
                          const int64_t *offset, const int64_t *count, void *buf)
{
    hsize_t hoff[SAL_MAX_DIMS], hcnt[SAL_MAX_DIMS];
    char cause[256];
    hid_t fspace = H5Dget_space(dset), mspace;
    herr_t err = -1;
    int sum;

    for (int d = 0; d < nd; d++) {
        hoff[d] = (hsize_t)offset[d];
        hcnt[d] = (hsize_t)count[d];
    }
    mspace = H5Screate_simple(nd, hcnt, NULL);
    if (fspace >= 0 && mspace >= 0 &&
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, hoff, NULL, hcnt, NULL) >= 0)
        err = H5Dread(dset, sal_h5_mem_type(mr->type), mspace, fspace, H5P_DEFAULT, buf);
    sum = err < 0 ? sal_h5_cause(cause, sizeof(cause)) : 0;
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (err >= 0)
        return SAL_OK;
    if (sum)
        return sal_error(SAL_ERR_CORRUPT, "checksum mismatch in a rank file of %s, region %s: %s",
                         path, mr->name, cause);
    return sal_error(SAL_ERR_CORRUPT, "cannot read region %s through %s: %s", mr->name, path,
                     cause);
}

static int check_request(const char *path, const sal_manifest_region_t *mr, int nranks,
                         sal_type_t type, int ndims, const int64_t *offset, const int64_t *count)
{
    int nd = mr->scalar ? 1 : mr->ndims;

    if (type != mr->type || ndims != nd)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s region %s: stored with type %d and %d dims, "
                         "requested type %d and %d dims",
                         path, mr->name, (int)mr->type, nd, (int)type, ndims);
    for (int d = 0; d < nd; d++) {
        int64_t g = mr->scalar ? nranks : mr->gdims[d];
        if (offset[d] < 0 || count[d] < 0 || offset[d] > g || count[d] > g - offset[d])
            return sal_error(SAL_ERR_CORRUPT,
                             "%s region %s: requested [%lld, +%lld) in dimension "
                             "%d lies outside the global size %lld",
                             path, mr->name, (long long)offset[d], (long long)count[d], d,
                             (long long)g);
    }
    return SAL_OK;
}

static int read_block_in(hid_t file, const char *ckpt_dir, const char *path, const char *region,
                         sal_type_t type, int ndims, const int64_t *offset, const int64_t *count,
                         void *buf)
{
    sal_manifest_t head;
    sal_manifest_region_t mr;
    int64_t nregions;
    hid_t dset = H5I_INVALID_HID;
    int rc;

    memset(&head, 0, sizeof(head));
    memset(&mr, 0, sizeof(mr));
    rc = sal_manifest_read_head(file, path, &head, &nregions);
    if (rc == SAL_OK)
        rc = sal_manifest_read_region(file, path, region, head.nranks, &mr, &dset);
    if (rc == SAL_OK)
        rc = check_request(path, &mr, head.nranks, type, ndims, offset, count);
    if (rc == SAL_OK && sal_manifest_volume(ndims, count) > 0) {
        rc = check_sources(ckpt_dir, path, &head, &mr, ndims, offset, count);
        if (rc == SAL_OK)
            rc = read_hyperslab(dset, path, &mr, ndims, offset, count, buf);
    }
    if (dset >= 0)
        H5Dclose(dset);
    free(mr.offsets);
    free(mr.counts);
    return rc;
}

int sal_manifest_read_block(const char *ckpt_dir, const char *region, sal_type_t type, int ndims,
                            const int64_t *offset, const int64_t *count, void *buf)
{
    char path[PATH_MAX];
    sal_h5_quiet_t quiet;
    hid_t file = H5I_INVALID_HID;
    int rc, empty = 0;

    for (int d = 0; offset && count && d < ndims && d < SAL_MAX_DIMS; d++)
        empty |= count[d] == 0;
    if (!ckpt_dir || !sal_name_valid(region) || sal_type_size(type) == 0 || ndims < 1 ||
        ndims > SAL_MAX_DIMS || !offset || !count || (!buf && !empty))
        return sal_error(SAL_ERR_INVALID_ARG,
                         "block read of region \"%s\": NULL argument, invalid "
                         "name, type %d or ndims %d",
                         region ? region : "(null)", (int)type, ndims);
    rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, SAL_MANIFEST_FILE);
    if (rc != SAL_OK)
        return rc;
    if (getenv("HDF5_VDS_PREFIX"))
        SAL_LOG_W("HDF5_VDS_PREFIX is set: HDF5 looks for rank files there before %s", ckpt_dir);
    sal_h5_quiet(&quiet);
    rc = sal_h5_open_input(path, &file);
    if (rc == SAL_OK) {
        rc = read_block_in(file, ckpt_dir, path, region, type, ndims, offset, count, buf);
        H5Fclose(file);
    }
    sal_h5_restore(&quiet);
    return rc;
}
