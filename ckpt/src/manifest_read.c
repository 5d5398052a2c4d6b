/*
 * Reading the manifest (sal_manifest_read, sal_manifest_free), whose layout manifest.c describes.
 * The reader validates all of it, including that the virtual mappings agree with the layout,
 * before trusting any number, and reads the file in a child process first (h5io_probe.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "manifest_internal.h"

int sal_manifest_read_head(hid_t file, const char *path, sal_manifest_t *m, int64_t *nregions)
{
    int64_t version, nranks;
    int rc = sal_h5_get_version(file, path, &version);

    if (rc != SAL_OK)
        return rc;
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
    if (m->id < 0 || m->bytes < 0 || nranks < 1 || nranks > SAL_MANIFEST_MAX_NRANKS ||
        *nregions < 0 || *nregions > SAL_MAX_REGIONS)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: id %lld, bytes %lld, nranks %lld (1..%d) or "
                         "nregions %lld (0..%d) out of range",
                         path, (long long)m->id, (long long)m->bytes, (long long)nranks,
                         SAL_MANIFEST_MAX_NRANKS, (long long)*nregions, SAL_MAX_REGIONS);
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
    snprintf(name, sizeof(name), "%s/%s", SAL_LAYOUT_GROUP, mr->name);
    if (H5Lexists(file, SAL_LAYOUT_GROUP, H5P_DEFAULT) <= 0 ||
        H5Lexists(file, name, H5P_DEFAULT) <= 0)
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
    nd = sal_manifest_block_of(mr, r, off, cnt);
    vs = H5Pget_virtual_vspace(dcpl, i);
    ss = H5Pget_virtual_srcspace(dcpl, i);
    /* The source extent is not stored with an "all" selection: the rank file's shape is checked
     * when a block read opens it. */
    ok = vs >= 0 && ss >= 0 && H5Sget_select_type(ss) == H5S_SEL_ALL &&
         H5Sget_simple_extent_ndims(vs) == nd &&
         H5Sget_select_npoints(vs) == sal_manifest_volume(nd, cnt) &&
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
        want += sal_manifest_volume(sal_manifest_block_of(mr, r, off, cnt), cnt) > 0;
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
    if (rc == SAL_OK)
        rc = sal_h5_get_flag(dset, where, "local", &mr->local);
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

int sal_manifest_read_region(hid_t file, const char *path, const char *name, int nranks,
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
        rc = sal_manifest_check_region(mr, nranks, SAL_ERR_CORRUPT, path);
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
    if (info.nlinks != (hsize_t)nregions + 1 || H5Lexists(file, SAL_LAYOUT_GROUP, H5P_DEFAULT) <= 0)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: the root group holds %llu objects, expected %lld "
                         "regions and the group %s",
                         path, (unsigned long long)info.nlinks, (long long)nregions,
                         SAL_LAYOUT_GROUP);
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
        else if (strcmp(name, SAL_LAYOUT_GROUP) != 0 && k >= nregions)
            rc = sal_error(SAL_ERR_CORRUPT, "%s: more regions than the %lld declared", path,
                           (long long)nregions);
        else if (strcmp(name, SAL_LAYOUT_GROUP) != 0)
            rc = sal_manifest_read_region(file, path, name, m->nranks, &m->regions[k++], NULL);
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
    rc = sal_manifest_read_head(file, path, m, &nregions);
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
    rc = sal_path_join(path, sizeof(path), "%s/%s", ckpt_dir, SAL_MANIFEST_FILE);
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
