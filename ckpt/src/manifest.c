/*
 * The manifest (ckpt.<id>/manifest.h5): its geometry and its writer. Layout (docs/format.md):
 *   /                        attributes format_version, id, step, time, nranks, nregions, bytes,
 *                            library_version
 *   /<region>                virtual dataset of the global shape (a scalar: [nranks]) mapping
 *                            each rank's block from "rank.<r>.h5" by relative name; attributes
 *                            type, scalar, and local = 1 on per-rank data (sal_protect_local):
 *                            a [sum of the sizes] byte array concatenating every rank's bytes
 *   /.layout/<region>/offsets, /.layout/<region>/counts
 *                            int64 [nranks][ndims]: each rank's block (arrays only; element r of
 *                            a scalar is rank r's value). ".layout" starts with '.', so no region
 *                            can take its name.
 * The reader is manifest_read.c, the N->M block reads manifest_block.c, the `latest` pointer
 * latest.c.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "manifest_internal.h"

/* ---- geometry -------------------------------------------------------------------------------- */

int sal_manifest_block_of(const sal_manifest_region_t *mr, int r, int64_t *off, int64_t *cnt)
{
    if (mr->scalar) {
        off[0] = r;
        cnt[0] = 1;
        return 1;
    }
    memcpy(off, mr->offsets + (size_t)r * (size_t)mr->ndims, (size_t)mr->ndims * sizeof(int64_t));
    memcpy(cnt, mr->counts + (size_t)r * (size_t)mr->ndims, (size_t)mr->ndims * sizeof(int64_t));
    return mr->ndims;
}

int64_t sal_manifest_volume(int nd, const int64_t *cnt)
{
    int64_t v = 1;

    for (int d = 0; d < nd; d++)
        v *= cnt[d];
    return v;
}

/* Per-rank data: bytes, one dimension, every rank's block right after the previous one's and the
 * blocks filling the whole array. */
static int check_local(const sal_manifest_region_t *mr, int nranks, int code, const char *where)
{
    int64_t end = 0;

    if (mr->type != SAL_CHAR || mr->ndims != 1)
        return sal_error(code, "%s region %s: per-rank data of type %d with %d dims (bytes, 1 dim)",
                         where, mr->name, (int)mr->type, mr->ndims);
    for (int r = 0; r < nranks; r++) {
        if (mr->counts[r] < 0 || mr->offsets[r] != end || mr->counts[r] > INT64_MAX - end)
            return sal_error(code,
                             "%s region %s: per-rank data of rank %d at %lld with %lld bytes, "
                             "expected at %lld (the sizes of the ranks before it) with a size >= 0",
                             where, mr->name, r, (long long)mr->offsets[r],
                             (long long)mr->counts[r], (long long)end);
        end += mr->counts[r];
    }
    if (end != mr->gdims[0])
        return sal_error(code,
                         "%s region %s: the per-rank sizes add up to %lld bytes, the array has "
                         "%lld",
                         where, mr->name, (long long)end, (long long)mr->gdims[0]);
    return SAL_OK;
}

int sal_manifest_check_region(const sal_manifest_region_t *mr, int nranks, int code,
                              const char *where)
{
    int64_t bytes = (int64_t)sal_type_size(mr->type), off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS];

    if (!sal_name_valid(mr->name))
        return sal_error(code, "%s: \"%.*s\" is not a valid region name", where, SAL_NAME_MAX,
                         mr->name);
    if (bytes == 0)
        return sal_error(code, "%s region %s: unknown type code %d", where, mr->name,
                         (int)mr->type);
    if (mr->scalar)
        return mr->ndims == 0 && !mr->local
                   ? SAL_OK
                   : sal_error(code, "%s region %s: a scalar with %d dims or the local flag", where,
                               mr->name, mr->ndims);
    if (mr->ndims < 1 || mr->ndims > SAL_MAX_DIMS || !mr->offsets || !mr->counts)
        return sal_error(code, "%s region %s: ndims %d not in [1, %d] or no layout", where,
                         mr->name, mr->ndims, SAL_MAX_DIMS);
    if (mr->local)
        return check_local(mr, nranks, code, where);
    for (int d = 0; d < mr->ndims; d++)
        if (mr->gdims[d] < 0 || __builtin_mul_overflow(bytes, mr->gdims[d], &bytes))
            return sal_error(code,
                             "%s region %s: global dimension %d is %lld (negative or too "
                             "large)",
                             where, mr->name, d, (long long)mr->gdims[d]);
    for (int r = 0; r < nranks; r++) {
        sal_manifest_block_of(mr, r, off, cnt);
        for (int d = 0; d < mr->ndims; d++)
            if (off[d] < 0 || cnt[d] < 0 || off[d] > mr->gdims[d] || cnt[d] > mr->gdims[d] - off[d])
                return sal_error(code,
                                 "%s region %s: block of rank %d, dimension %d, [%lld, +%lld) "
                                 "lies outside the global size %lld",
                                 where, mr->name, r, d, (long long)off[d], (long long)cnt[d],
                                 (long long)mr->gdims[d]);
    }
    return SAL_OK;
}

/* ---- writing --------------------------------------------------------------------------------- */

static int put_head(hid_t file, const char *path, const sal_manifest_t *m)
{
    int rc = sal_h5_put_head(file, path, m->id, m->step, m->time, m->nranks);

    if (rc == SAL_OK)
        rc = sal_h5_put_i64(file, path, "nregions", m->nregions);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(file, path, "bytes", m->bytes);
    return rc;
}

/* Adds the mapping of every non-empty rank block to dcpl. */
static int add_mappings(hid_t dcpl, hid_t vspace, const sal_manifest_region_t *mr, int nranks)
{
    int64_t off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS];
    hsize_t hoff[SAL_MAX_DIMS], hcnt[SAL_MAX_DIMS];
    char src[32];
    int mapped = 0;

    for (int r = 0; r < nranks; r++) {
        int nd = sal_manifest_block_of(mr, r, off, cnt);
        hid_t sspace;
        herr_t err;
        if (sal_manifest_volume(nd, cnt) == 0)
            continue;
        for (int d = 0; d < nd; d++) {
            hoff[d] = (hsize_t)off[d];
            hcnt[d] = (hsize_t)cnt[d];
        }
        snprintf(src, sizeof(src), "rank.%d.h5", r);
        sspace = H5Screate_simple(nd, hcnt, NULL);
        err = sspace < 0 ? -1 : H5Sselect_hyperslab(vspace, H5S_SELECT_SET, hoff, NULL, hcnt, NULL);
        if (err >= 0)
            err = H5Pset_virtual(dcpl, vspace, src, mr->name, sspace);
        if (sspace >= 0)
            H5Sclose(sspace);
        if (err < 0)
            return -1;
        mapped++;
    }
    /* A region without elements has no mapping: it is still a (virtual) dataset of its shape. */
    return mapped > 0 ? 0 : (int)H5Pset_layout(dcpl, H5D_VIRTUAL);
}

static int put_layout_array(hid_t grp, const char *where, const char *name, const int64_t *v,
                            int nranks, int ndims)
{
    hsize_t dims[2] = {(hsize_t)nranks, (hsize_t)ndims};
    hid_t space = H5Screate_simple(2, dims, NULL), dset = H5I_INVALID_HID;
    int rc = SAL_OK;

    if (space >= 0)
        dset = H5Dcreate2(grp, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (dset < 0 || H5Dwrite(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot write layout %s", where, name);
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int put_layout(hid_t layout, const char *path, const sal_manifest_region_t *mr, int nranks)
{
    char where[PATH_MAX + SAL_NAME_MAX + 16];
    hid_t grp;
    int rc;

    snprintf(where, sizeof(where), "%s layout of %s", path, mr->name);
    grp = H5Gcreate2(layout, mr->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (grp < 0)
        return sal_h5_error(SAL_ERR_HDF5, "%s: cannot create group", where);
    rc = put_layout_array(grp, where, "offsets", mr->offsets, nranks, mr->ndims);
    if (rc == SAL_OK)
        rc = put_layout_array(grp, where, "counts", mr->counts, nranks, mr->ndims);
    H5Gclose(grp);
    return rc;
}

static int put_region(hid_t file, hid_t layout, const char *path, const sal_manifest_region_t *mr,
                      int nranks)
{
    char where[PATH_MAX + SAL_NAME_MAX + 16];
    hsize_t dims[SAL_MAX_DIMS];
    int nd = mr->scalar ? 1 : mr->ndims, rc = SAL_OK;
    hid_t vspace, dcpl = H5Pcreate(H5P_DATASET_CREATE), dset = H5I_INVALID_HID;

    snprintf(where, sizeof(where), "%s dataset %s", path, mr->name);
    for (int d = 0; d < nd; d++)
        dims[d] = (hsize_t)(mr->scalar ? nranks : mr->gdims[d]);
    vspace = H5Screate_simple(nd, dims, NULL);
    if (vspace >= 0 && dcpl >= 0 && add_mappings(dcpl, vspace, mr, nranks) >= 0 &&
        H5Sselect_all(vspace) >= 0)
        dset = H5Dcreate2(file, mr->name, sal_h5_file_type(mr->type), vspace, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT);
    if (dset < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot create virtual %s", where);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "type", mr->type);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "scalar", mr->scalar ? 1 : 0);
    if (rc == SAL_OK && mr->local)
        rc = sal_h5_put_i64(dset, where, "local", 1);
    if (dset >= 0 && H5Dclose(dset) < 0 && rc == SAL_OK)
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot close %s", where);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (vspace >= 0)
        H5Sclose(vspace);
    if (rc == SAL_OK && !mr->scalar)
        rc = put_layout(layout, path, mr, nranks);
    return rc;
}

static int check_manifest_arg(const char *ckpt_dir, const sal_manifest_t *m)
{
    if (!ckpt_dir || !m || m->nranks < 1 || m->nranks > SAL_MANIFEST_MAX_NRANKS ||
        m->nregions < 0 || m->nregions > SAL_MAX_REGIONS || (!m->regions && m->nregions > 0) ||
        m->id < 0 || m->bytes < 0)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "manifest for %s: NULL argument, or nranks %d, "
                         "nregions %d, id or bytes out of range",
                         ckpt_dir ? ckpt_dir : "(null)", m ? m->nranks : 0, m ? m->nregions : 0);
    for (int i = 0; i < m->nregions; i++) {
        int rc =
            sal_manifest_check_region(&m->regions[i], m->nranks, SAL_ERR_INVALID_ARG, ckpt_dir);
        if (rc != SAL_OK)
            return rc;
        for (int j = 0; j < i; j++)
            if (strcmp(m->regions[i].name, m->regions[j].name) == 0)
                return sal_error(SAL_ERR_INVALID_ARG, "manifest for %s: region %s appears twice",
                                 ckpt_dir, m->regions[i].name);
    }
    return SAL_OK;
}

int sal_manifest_write(const char *ckpt_dir, const sal_manifest_t *m)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    sal_h5_quiet_t quiet;
    hid_t file = H5I_INVALID_HID, layout;
    int rc = check_manifest_arg(ckpt_dir, m);

    if (rc == SAL_OK)
        rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, SAL_MANIFEST_FILE);
    if (rc != SAL_OK)
        return rc;
    sal_h5_quiet(&quiet);
    rc = sal_h5_create_tmp(path, 0, tmp, sizeof(tmp), &file);
    if (rc != SAL_OK)
        goto out_restore_errors;
    rc = put_head(file, path, m);
    layout = rc == SAL_OK
                 ? H5Gcreate2(file, SAL_LAYOUT_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                 : H5I_INVALID_HID;
    if (rc == SAL_OK && layout < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot create group %s", path, SAL_LAYOUT_GROUP);
    for (int i = 0; i < m->nregions && rc == SAL_OK; i++)
        rc = put_region(file, layout, path, &m->regions[i], m->nranks);
    if (layout >= 0)
        H5Gclose(layout);
    if (rc == SAL_OK)
        rc = sal_h5_commit_tmp(file, tmp, path);
    else
        sal_h5_discard_tmp(file, tmp);
out_restore_errors:
    sal_h5_restore(&quiet);
    return rc;
}
