/*
 * The manifest (ckpt.<id>/manifest.h5) and the `latest` pointer. Layout (docs/format.md):
 *   /                        attributes format_version, id, step, time, nranks, nregions, bytes,
 *                            library_version
 *   /<region>                virtual dataset of the global shape (a scalar: [nranks]) mapping
 *                            each rank's block from "rank.<r>.h5" by relative name; attributes
 *                            type, scalar
 *   /.layout/<region>/offsets, /.layout/<region>/counts
 *                            int64 [nranks][ndims]: each rank's block (arrays only; element r of
 *                            a scalar is rank r's value). ".layout" starts with '.', so no region
 *                            can take its name.
 * Readers validate all of it, including that the virtual mappings agree with the layout, before
 * trusting any number; a block read checks the rank files it needs, because HDF5 fills the blocks
 * of missing or unreadable source files with the fill value instead of failing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <salamander/sal_error.h>
#include <salamander/sal_version.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"

#define MANIFEST_FILE "manifest.h5"
#define LAYOUT_GROUP  ".layout"
#define MAX_NRANKS    (1 << 24)
#define LATEST_MAX    64

/* ---- geometry -------------------------------------------------------------------------------- */

/* Block of rank r as mapped in the virtual dataset: a scalar's is element [r] of [nranks]. */
static int block_of(const sal_manifest_region_t *mr, int r, int64_t *off, int64_t *cnt)
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

static int64_t volume(int nd, const int64_t *cnt)
{
    int64_t v = 1;

    for (int d = 0; d < nd; d++)
        v *= cnt[d];
    return v;
}

/* Names, type, dims, and every block inside the global shape; code is the status of a violation. */
static int check_region(const sal_manifest_region_t *mr, int nranks, int code, const char *where)
{
    int64_t bytes = (int64_t)sal_type_size(mr->type), off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS];

    if (!sal_name_valid(mr->name))
        return sal_error(code, "%s: \"%.*s\" is not a valid region name", where, SAL_NAME_MAX,
                         mr->name);
    if (bytes == 0)
        return sal_error(code, "%s region %s: unknown type code %d", where, mr->name,
                         (int)mr->type);
    if (mr->scalar)
        return mr->ndims == 0 ? SAL_OK
                              : sal_error(code, "%s region %s: a scalar with %d dims", where,
                                          mr->name, mr->ndims);
    if (mr->ndims < 1 || mr->ndims > SAL_MAX_DIMS || !mr->offsets || !mr->counts)
        return sal_error(code, "%s region %s: ndims %d not in [1, %d] or no layout", where,
                         mr->name, mr->ndims, SAL_MAX_DIMS);
    for (int d = 0; d < mr->ndims; d++)
        if (mr->gdims[d] < 0 || __builtin_mul_overflow(bytes, mr->gdims[d], &bytes))
            return sal_error(code,
                             "%s region %s: global dimension %d is %lld (negative or too "
                             "large)",
                             where, mr->name, d, (long long)mr->gdims[d]);
    for (int r = 0; r < nranks; r++) {
        block_of(mr, r, off, cnt);
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
        int nd = block_of(mr, r, off, cnt);
        hid_t sspace;
        herr_t err;
        if (volume(nd, cnt) == 0)
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
    if (!ckpt_dir || !m || m->nranks < 1 || m->nranks > MAX_NRANKS || m->nregions < 0 ||
        m->nregions > SAL_MAX_REGIONS || (!m->regions && m->nregions > 0) || m->id < 0 ||
        m->bytes < 0)
        return sal_error(SAL_ERR_INVALID_ARG,
                         "manifest for %s: NULL argument, or nranks %d, "
                         "nregions %d, id or bytes out of range",
                         ckpt_dir ? ckpt_dir : "(null)", m ? m->nranks : 0, m ? m->nregions : 0);
    for (int i = 0; i < m->nregions; i++) {
        int rc = check_region(&m->regions[i], m->nranks, SAL_ERR_INVALID_ARG, ckpt_dir);
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
        rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, MANIFEST_FILE);
    if (rc != SAL_OK)
        return rc;
    sal_h5_quiet(&quiet);
    rc = sal_h5_create_tmp(path, 0, tmp, sizeof(tmp), &file);
    if (rc != SAL_OK)
        goto out_restore_errors;
    rc = put_head(file, path, m);
    layout = rc == SAL_OK ? H5Gcreate2(file, LAYOUT_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                          : H5I_INVALID_HID;
    if (rc == SAL_OK && layout < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot create group %s", path, LAYOUT_GROUP);
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

/* ---- reading --------------------------------------------------------------------------------- */

/* Root attributes. [OUT] m's scalar fields, *nregions (declared count). */
static int read_head(hid_t file, const char *path, sal_manifest_t *m, int64_t *nregions)
{
    int64_t version, nranks;
    int rc = sal_h5_get_i64(file, path, "format_version", &version);

    if (rc != SAL_OK)
        return rc;
    if (version != SAL_FORMAT_VERSION)
        return sal_error(SAL_ERR_CORRUPT, "%s: format version %lld, this library reads %d", path,
                         (long long)version, SAL_FORMAT_VERSION);
    m->format_version = (int)version;
    rc = sal_h5_get_i64(file, path, "id", &m->id);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "step", &m->step);
    if (rc == SAL_OK)
        rc = sal_h5_get_f64(file, path, "time", &m->time);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "nranks", &nranks);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "nregions", nregions);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "bytes", &m->bytes);
    if (rc != SAL_OK)
        return rc;
    if (m->id < 0 || m->bytes < 0 || nranks < 1 || nranks > MAX_NRANKS || *nregions < 0 ||
        *nregions > SAL_MAX_REGIONS)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: id %lld, bytes %lld, nranks %lld (1..%d) or "
                         "nregions %lld (0..%d) out of range",
                         path, (long long)m->id, (long long)m->bytes, (long long)nranks, MAX_NRANKS,
                         (long long)*nregions, SAL_MAX_REGIONS);
    m->nranks = (int)nranks;
    return SAL_OK;
}

/* Reads /.layout/<name>/<what> ([nranks][ndims] int64) into a new array. */
static int read_layout_array(hid_t grp, const char *where, const char *what, int nranks, int ndims,
                             int64_t **out)
{
    hsize_t dims[2];
    hid_t dset, space, type;
    int rc = sal_h5_open_dataset(grp, where, what, &dset), ok;

    if (rc != SAL_OK)
        return rc;
    space = H5Dget_space(dset);
    type = H5Dget_type(dset);
    ok = space >= 0 && type >= 0 && H5Sget_simple_extent_ndims(space) == 2 &&
         H5Sget_simple_extent_dims(space, dims, NULL) == 2 && dims[0] == (hsize_t)nranks &&
         dims[1] == (hsize_t)ndims && H5Tget_class(type) == H5T_INTEGER;
    if (!ok)
        rc = sal_error(SAL_ERR_CORRUPT, "%s: %s is not an integer [%d][%d] dataset", where, what,
                       nranks, ndims);
    if (rc == SAL_OK && !(*out = malloc((size_t)nranks * (size_t)ndims * sizeof(int64_t))))
        rc = sal_error(SAL_ERR_NOMEM, "%s: %s", where, what);
    if (rc == SAL_OK && H5Dread(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
        rc = sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot read %s", where, what);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(dset);
    return rc;
}

static int read_layout(hid_t file, const char *path, sal_manifest_region_t *mr, int nranks)
{
    char where[PATH_MAX + SAL_NAME_MAX + 16], name[SAL_NAME_MAX + 16];
    hid_t grp;
    int rc;

    snprintf(where, sizeof(where), "%s layout of %s", path, mr->name);
    snprintf(name, sizeof(name), "%s/%s", LAYOUT_GROUP, mr->name);
    if (H5Lexists(file, LAYOUT_GROUP, H5P_DEFAULT) <= 0 || H5Lexists(file, name, H5P_DEFAULT) <= 0)
        return sal_error(SAL_ERR_CORRUPT, "%s: group /%s is missing", where, name);
    grp = H5Gopen2(file, name, H5P_DEFAULT);
    if (grp < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot open group /%s", where, name);
    rc = read_layout_array(grp, where, "offsets", nranks, mr->ndims, &mr->offsets);
    if (rc == SAL_OK)
        rc = read_layout_array(grp, where, "counts", nranks, mr->ndims, &mr->counts);
    H5Gclose(grp);
    return rc;
}

/* Rank number of a mapping's source file name "rank.<r>.h5", or -1. */
static int parse_source(const char *s, int nranks)
{
    long r = 0;
    const char *p = s + 5;

    if (strncmp(s, "rank.", 5) != 0 || *p < '0' || *p > '9' || (*p == '0' && p[1] != '.'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((r = r * 10 + (*p - '0')) >= nranks)
            return -1;
    return strcmp(p, ".h5") == 0 ? (int)r : -1;
}

/* Mapping i of dcpl must copy all of rank r's block (as the layout says) from rank.<r>.h5:/name. */
static int check_mapping(hid_t dcpl, size_t i, const sal_manifest_region_t *mr, int nranks,
                         unsigned char *seen)
{
    char file[64], dset[SAL_NAME_MAX + 1];
    int64_t off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS];
    hsize_t start[SAL_MAX_DIMS], end[SAL_MAX_DIMS];
    ssize_t flen = H5Pget_virtual_filename(dcpl, i, file, sizeof(file));
    ssize_t dlen = H5Pget_virtual_dsetname(dcpl, i, dset, sizeof(dset));
    int r = flen > 0 && (size_t)flen < sizeof(file) ? parse_source(file, nranks) : -1, nd, ok;
    hid_t vs, ss;

    if (r < 0 || seen[r] || dlen <= 0 || (size_t)dlen >= sizeof(dset) ||
        strcmp(dset, mr->name) != 0)
        return 0;
    seen[r] = 1;
    nd = block_of(mr, r, off, cnt);
    vs = H5Pget_virtual_vspace(dcpl, i);
    ss = H5Pget_virtual_srcspace(dcpl, i);
    /* The source extent is not stored with an "all" selection: the rank file's shape is checked
     * when a block read opens it. */
    ok = vs >= 0 && ss >= 0 && H5Sget_select_type(ss) == H5S_SEL_ALL &&
         H5Sget_simple_extent_ndims(vs) == nd && H5Sget_select_npoints(vs) == volume(nd, cnt) &&
         H5Sget_select_bounds(vs, start, end) >= 0;
    for (int d = 0; ok && d < nd; d++)
        ok = start[d] == (hsize_t)off[d] && end[d] + 1 == (hsize_t)off[d] + (hsize_t)cnt[d];
    if (vs >= 0)
        H5Sclose(vs);
    if (ss >= 0)
        H5Sclose(ss);
    return ok;
}

/* The virtual dataset maps exactly the non-empty blocks of the layout, each from its rank's file.
 */
static int check_mappings(hid_t dset, const char *where, const sal_manifest_region_t *mr,
                          int nranks)
{
    int64_t off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS];
    hid_t dcpl = H5Dget_create_plist(dset);
    size_t n = 0, want = 0;
    unsigned char *seen = calloc((size_t)nranks, 1);
    int rc = SAL_OK;

    for (int r = 0; r < nranks; r++)
        want += volume(block_of(mr, r, off, cnt), cnt) > 0;
    if (!seen)
        rc = sal_error(SAL_ERR_NOMEM, "%s: mapping table", where);
    else if (dcpl < 0 || H5Pget_layout(dcpl) != H5D_VIRTUAL || H5Pget_virtual_count(dcpl, &n) < 0)
        rc = sal_error(SAL_ERR_CORRUPT, "%s is not a virtual dataset", where);
    else if (n != want)
        rc =
            sal_error(SAL_ERR_CORRUPT, "%s maps %zu rank blocks, the layout has %zu non-empty ones",
                      where, n, want);
    for (size_t i = 0; rc == SAL_OK && i < n; i++)
        if (!check_mapping(dcpl, i, mr, nranks, seen))
            rc = sal_error(SAL_ERR_CORRUPT,
                           "%s: virtual mapping %zu does not map a rank file's "
                           "whole block as the layout says",
                           where, i);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    free(seen);
    return rc;
}

/* Type, scalar flag and shape of an open region dataset into mr. */
static int read_region_head(hid_t dset, const char *where, sal_manifest_region_t *mr, int nranks)
{
    int64_t type, scalar;
    hsize_t dims[SAL_MAX_DIMS];
    hid_t space, t;
    int rc = sal_h5_get_i64(dset, where, "type", &type), nd, ok;

    if (rc == SAL_OK)
        rc = sal_h5_get_i64(dset, where, "scalar", &scalar);
    if (rc != SAL_OK)
        return rc;
    if (type != (int)type || sal_type_size((sal_type_t)(int)type) == 0 ||
        (scalar != 0 && scalar != 1))
        return sal_error(SAL_ERR_CORRUPT, "%s: unknown type code %lld or scalar flag %lld", where,
                         (long long)type, (long long)scalar);
    mr->type = (sal_type_t)type;
    mr->scalar = (int)scalar;
    t = H5Dget_type(dset);
    space = H5Dget_space(dset);
    nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    ok = t >= 0 && sal_h5_type_matches(t, mr->type) && nd >= 1 && nd <= SAL_MAX_DIMS &&
         H5Sget_simple_extent_dims(space, dims, NULL) == nd &&
         (!scalar || (nd == 1 && dims[0] == (hsize_t)nranks));
    for (int d = 0; ok && d < nd; d++)
        ok = dims[d] <= (hsize_t)INT64_MAX;
    if (t >= 0)
        H5Tclose(t);
    if (space >= 0)
        H5Sclose(space);
    if (!ok)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: element type or dataspace does not match its "
                         "attributes (type %lld, scalar %lld, %d dims, %d ranks)",
                         where, (long long)type, (long long)scalar, nd, nranks);
    mr->ndims = scalar ? 0 : nd;
    for (int d = 0; !scalar && d < nd; d++)
        mr->gdims[d] = (int64_t)dims[d];
    return SAL_OK;
}

/* Reads and validates region `name` into mr (whose arrays the caller frees). [OUT] *dset_out: the
 * open virtual dataset when not NULL. */
static int read_region(hid_t file, const char *path, const char *name, int nranks,
                       sal_manifest_region_t *mr, hid_t *dset_out)
{
    char where[PATH_MAX + SAL_NAME_MAX + 16];
    hid_t dset = H5I_INVALID_HID;
    int rc;

    if (!sal_name_valid(name))
        return sal_error(SAL_ERR_CORRUPT, "%s: \"%.*s\" is not a valid region name", path,
                         SAL_NAME_MAX, name);
    snprintf(mr->name, sizeof(mr->name), "%s", name);
    snprintf(where, sizeof(where), "%s dataset %s", path, name);
    rc = sal_h5_open_dataset(file, path, name, &dset);
    if (rc != SAL_OK)
        return rc;
    rc = read_region_head(dset, where, mr, nranks);
    if (rc == SAL_OK && !mr->scalar)
        rc = read_layout(file, path, mr, nranks);
    if (rc == SAL_OK)
        rc = check_region(mr, nranks, SAL_ERR_CORRUPT, path);
    if (rc == SAL_OK)
        rc = check_mappings(dset, where, mr, nranks);
    if (rc == SAL_OK && dset_out)
        *dset_out = dset;
    else
        H5Dclose(dset);
    return rc;
}

/* Every member of the root group but the layout group is a region. */
static int read_regions(hid_t file, const char *path, sal_manifest_t *m, int64_t nregions)
{
    H5G_info_t info;
    char name[256];
    int k = 0, rc = SAL_OK;

    if (H5Gget_info(file, &info) < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot list the root group", path);
    if (info.nlinks != (hsize_t)nregions + 1 || H5Lexists(file, LAYOUT_GROUP, H5P_DEFAULT) <= 0)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: the root group holds %llu objects, expected %lld "
                         "regions and the group %s",
                         path, (unsigned long long)info.nlinks, (long long)nregions, LAYOUT_GROUP);
    if (nregions > 0 && !(m->regions = calloc((size_t)nregions, sizeof(*m->regions))))
        return sal_error(SAL_ERR_NOMEM, "%s: %lld regions", path, (long long)nregions);
    m->nregions = (int)nregions;
    for (hsize_t i = 0; i < info.nlinks && rc == SAL_OK; i++) {
        ssize_t len = H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                         sizeof(name), H5P_DEFAULT);
        if (len < 0)
            rc = sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot read the name of member %llu", path,
                              (unsigned long long)i);
        else if ((size_t)len >= SAL_NAME_MAX)
            rc = sal_error(SAL_ERR_CORRUPT,
                           "%s: member \"%.40s...\" has a name longer than a "
                           "region name can be",
                           path, name);
        else if (strcmp(name, LAYOUT_GROUP) != 0 && k >= nregions)
            rc = sal_error(SAL_ERR_CORRUPT, "%s: more regions than the %lld declared", path,
                           (long long)nregions);
        else if (strcmp(name, LAYOUT_GROUP) != 0)
            rc = read_region(file, path, name, m->nranks, &m->regions[k++], NULL);
    }
    return rc;
}

/* Opens and reads the manifest at path, which sal_h5_check_input accepted, into m (the caller
 * frees it). */
static int read_manifest_file(const char *path, sal_manifest_t *m)
{
    int64_t nregions = 0;
    hid_t file = H5I_INVALID_HID;
    int rc = sal_h5_open_checked(path, &file);

    if (rc != SAL_OK)
        return rc;
    rc = read_head(file, path, m, &nregions);
    if (rc == SAL_OK)
        rc = read_regions(file, path, m, nregions);
    H5Fclose(file);
    return rc;
}

/* The probe of sal_h5_probe: the whole read, in the child process. */
static int probe_manifest(const void *arg)
{
    const char *path = arg;
    sal_manifest_t m;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = read_manifest_file(path, &m);
    sal_manifest_free(&m);
    return rc;
}

int sal_manifest_read(const char *ckpt_dir, sal_manifest_t *m)
{
    char path[PATH_MAX];
    sal_h5_quiet_t quiet;
    int rc;

    if (!ckpt_dir || !m)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint directory or manifest");
    memset(m, 0, sizeof(*m));
    rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, MANIFEST_FILE);
    if (rc != SAL_OK)
        return rc;
    sal_h5_quiet(&quiet);
    /* HDF5 1.10 aborts on some damaged virtual-dataset mappings (a buffer overflow caught by
     * _FORTIFY_SOURCE while it decodes a selection): read the file in a child process first. */
    rc = sal_h5_check_input(path);
    if (rc == SAL_OK && sal_h5_probing())
        rc = sal_h5_probe(path, probe_manifest, path);
    if (rc == SAL_OK)
        rc = read_manifest_file(path, m);
    if (rc != SAL_OK)
        sal_manifest_free(m);
    sal_h5_restore(&quiet);
    return rc;
}

void sal_manifest_free(sal_manifest_t *m)
{
    if (!m)
        return;
    for (int i = 0; m->regions && i < m->nregions; i++) {
        free(m->regions[i].offsets);
        free(m->regions[i].counts);
    }
    free(m->regions);
    memset(m, 0, sizeof(*m));
}

/* ---- N->M block reads ------------------------------------------------------------------------ */

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
        block_of(mr, r, reg.offset, reg.count);
    return sal_h5_check_rank(path, &expect, &reg, 1);
}

/* Checks every rank file whose block meets the request, and that those blocks cover it. */
static int check_sources(const char *ckpt_dir, const char *path, const sal_manifest_t *head,
                         const sal_manifest_region_t *mr, int nd, const int64_t *offset,
                         const int64_t *count)
{
    int64_t off[SAL_MAX_DIMS], cnt[SAL_MAX_DIMS], covered = 0, want = volume(nd, count);

    for (int r = 0; r < head->nranks; r++) {
        int64_t v = 1;
        int rc;
        block_of(mr, r, off, cnt);
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
    rc = read_head(file, path, &head, &nregions);
    if (rc == SAL_OK)
        rc = read_region(file, path, region, head.nranks, &mr, &dset);
    if (rc == SAL_OK)
        rc = check_request(path, &mr, head.nranks, type, ndims, offset, count);
    if (rc == SAL_OK && volume(ndims, count) > 0) {
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
    rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, MANIFEST_FILE);
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

/* ---- the latest pointer ---------------------------------------------------------------------- */

int sal_latest_write(const char *job_dir, int64_t id)
{
    char path[PATH_MAX], text[LATEST_MAX];
    int rc, len;

    if (!job_dir || id < 0)
        return sal_error(SAL_ERR_INVALID_ARG, "latest pointer: NULL job directory or id %lld",
                         (long long)id);
    rc = sal_path_join(path, sizeof(path), "%s/latest", job_dir);
    if (rc != SAL_OK)
        return rc;
    len = snprintf(text, sizeof(text), "ckpt.%lld\n", (long long)id);
    return sal_write_file_atomic(path, text, (size_t)len, 0600);
}

/* "ckpt.<digits>" with an optional final newline; no sign, no leading zero, no overflow. */
static int parse_latest(const char *s, size_t len, int64_t *id)
{
    int64_t v = 0;
    size_t i = 5;

    if (len < 6 || strncmp(s, "ckpt.", 5) != 0 || (s[5] == '0' && len > 6 && s[6] != '\n'))
        return 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return 0;
    if (i == 5 || (i < len && !(s[i] == '\n' && i + 1 == len)))
        return 0;
    *id = v;
    return 1;
}

int sal_latest_read(const char *job_dir, int64_t *id)
{
    char path[PATH_MAX], *text = NULL;
    struct stat st;
    size_t len = 0;
    int rc;

    if (!job_dir || !id)
        return sal_error(SAL_ERR_INVALID_ARG, "latest pointer: NULL argument");
    rc = sal_path_join(path, sizeof(path), "%s/latest", job_dir);
    if (rc != SAL_OK)
        return rc;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? sal_error(SAL_ERR_NO_CKPT,
                                           "%s does not exist: no checkpoint was committed", path)
                               : sal_error(SAL_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
    if (S_ISLNK(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is a symbolic link, not a checkpoint pointer", path);
    if (!S_ISREG(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is not a regular file", path);
    rc = sal_read_file(path, LATEST_MAX, &text, &len);
    if (rc == SAL_OK && (strlen(text) != len || !parse_latest(text, len, id)))
        rc = sal_error(SAL_ERR_CORRUPT, "%s is malformed: it must hold \"ckpt.<id>\" and a newline",
                       path);
    free(text);
    return rc;
}
