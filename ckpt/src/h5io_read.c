/*
 * Reading and validating per-rank checkpoint files (sal_h5_read_rank, sal_h5_check_rank): the
 * root attributes, then each region's dataset (type, shape, global_dims, offset) against the
 * protected region as h5io_write.c would store it, the metadata first in a child process
 * (h5io_probe.c).
 */
#include <stdio.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "h5io.h"
#include "h5io_rank.h"
#include "log.h"
#include "manifest.h"

static const char *type_name(int64_t t)
{
    switch (t) {
    case SAL_CHAR:
        return "char";
    case SAL_INT:
        return "int";
    case SAL_INT64:
        return "int64";
    case SAL_FLOAT:
        return "float";
    case SAL_DOUBLE:
        return "double";
    default:
        return "unknown";
    }
}

static int check_root(hid_t file, const char *path, const sal_rank_meta_t *expect)
{
    int64_t version, id, step, rank, nranks;
    int rc = sal_h5_get_version(file, path, &version);

    if (rc != SAL_OK)
        return rc;
    rc = sal_h5_get_i64(file, path, "id", &id);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "step", &step);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "rank", &rank);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(file, path, "nranks", &nranks);
    if (rc != SAL_OK)
        return rc;
    if (id != expect->id)
        return sal_error(SAL_ERR_CORRUPT, "%s belongs to checkpoint %lld, expected %lld", path,
                         (long long)id, (long long)expect->id);
    if (rank != expect->rank || nranks != expect->nranks)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s was written by rank %lld of %lld, expected rank %d of %d", path,
                         (long long)rank, (long long)nranks, expect->rank, expect->nranks);
    if (expect->step >= 0 && step != expect->step)
        return sal_error(SAL_ERR_CORRUPT, "%s holds step %lld, expected %lld", path,
                         (long long)step, (long long)expect->step);
    return SAL_OK;
}

static void format_dims(char *buf, size_t size, int n, const int64_t *v)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int d = 0; d < n && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? "x" : "", (long long)v[d]);
}

static int check_shape(hid_t dset, const char *where, const sal_h5_stored_t *want)
{
    hsize_t dims[SAL_MAX_DIMS];
    int64_t got[SAL_MAX_DIMS], exp[SAL_MAX_DIMS];
    char a[160], b[160];
    hid_t space = H5Dget_space(dset);
    int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space), same;

    if (nd < 0 || nd > SAL_MAX_DIMS || H5Sget_simple_extent_dims(space, dims, NULL) != nd)
        nd = -1;
    if (space >= 0)
        H5Sclose(space);
    same = nd == want->ndims;
    for (int d = 0; d < nd; d++) {
        got[d] = (int64_t)dims[d];
        same = same && dims[d] == want->count[d];
    }
    if (same)
        return SAL_OK;
    for (int d = 0; d < want->ndims; d++)
        exp[d] = (int64_t)want->count[d];
    format_dims(a, sizeof(a), nd > 0 ? nd : 0, got);
    format_dims(b, sizeof(b), want->ndims, exp);
    return sal_error(SAL_ERR_CORRUPT,
                     "%s: block shape [%s] (%d dims) differs from the protected block [%s]", where,
                     a, nd, b);
}

static int check_vector(hid_t dset, const char *where, const char *name, const int64_t *want, int n)
{
    int64_t got[SAL_MAX_DIMS];
    char a[160], b[160];
    int rc = sal_h5_get_i64v(dset, where, name, got, n);

    if (rc != SAL_OK || memcmp(got, want, (size_t)n * sizeof(int64_t)) == 0)
        return rc;
    format_dims(a, sizeof(a), n, got);
    format_dims(b, sizeof(b), n, want);
    return sal_error(SAL_ERR_CORRUPT, "%s: %s is [%s], the protected region has [%s]", where, name,
                     a, b);
}

/* The `local` flag of a dataset whose type and scalar attributes were read: per-rank data must be
 * a 1-D byte dataset, stored as such exactly when the region is, and of the size registered. */
static int check_local(hid_t dset, const char *where, const sal_region_t *r, int rank, int64_t type,
                       int64_t scalar)
{
    hsize_t dims[SAL_MAX_DIMS];
    hid_t t = H5Dget_type(dset), space = H5Dget_space(dset);
    int local = 0, rc = sal_h5_get_flag(dset, where, "local", &local);
    int nd = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int bytes = t >= 0 && sal_h5_type_matches(t, SAL_CHAR) && type == SAL_CHAR && !scalar &&
                nd == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1;

    if (t >= 0)
        H5Tclose(t);
    if (space >= 0)
        H5Sclose(space);
    if (rc != SAL_OK || (!local && !r->local))
        return rc;
    if (local && !bytes)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: attribute local = 1 on a dataset that is not a 1-D array of bytes "
                         "(type %s, scalar %lld, %d dims)",
                         where, type_name(type), (long long)scalar, nd);
    if (local != r->local)
        return sal_error(SAL_ERR_CORRUPT, "%s: stored as %s, the protected region is %s", where,
                         local ? "per-rank data" : "an array",
                         r->local ? "per-rank data (sal_protect_local)" : "an array");
    if ((int64_t)dims[0] != r->count[0])
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: per-rank data \"%s\" of rank %d holds %lld bytes in the file, "
                         "%lld bytes are registered (sal_protect_local with another size)",
                         where, r->name, rank, (long long)dims[0], (long long)r->count[0]);
    return SAL_OK;
}

/* Type, shape and attributes of an open dataset against the region as it would be stored. */
static int check_dataset(hid_t dset, const char *where, const sal_region_t *r, int rank,
                         const sal_h5_stored_t *want)
{
    int64_t type = 0, scalar = 0;
    hid_t t = H5Dget_type(dset);
    int match = t >= 0 && sal_h5_type_matches(t, r->type), rc;

    if (t >= 0)
        H5Tclose(t);
    rc = sal_h5_get_i64(dset, where, "type", &type);
    if (rc == SAL_OK)
        rc = sal_h5_get_i64(dset, where, "scalar", &scalar);
    if (rc != SAL_OK)
        return rc;
    if (!match || type != r->type)
        return sal_error(SAL_ERR_CORRUPT, "%s: stored as %s, the protected region is %s", where,
                         type_name(type), type_name(r->type));
    if ((scalar != 0) != (r->scalar != 0))
        return sal_error(SAL_ERR_CORRUPT, "%s: stored as %s, the protected region is %s", where,
                         scalar ? "a scalar" : "an array", r->scalar ? "a scalar" : "an array");
    rc = check_local(dset, where, r, rank, type, scalar);
    if (rc == SAL_OK)
        rc = check_shape(dset, where, want);
    if (rc == SAL_OK)
        rc = check_vector(dset, where, "global_dims", want->gdims, want->ndims);
    if (rc == SAL_OK)
        rc = check_vector(dset, where, "offset", want->offset, want->ndims);
    return rc;
}

static int read_data(hid_t dset, const char *path, const sal_region_t *r)
{
    char cause[SAL_H5_CAUSE_MAX];

    if (sal_region_elems(r) == 0 ||
        H5Dread(dset, sal_h5_mem_type(r->type), H5S_ALL, H5S_ALL, H5P_DEFAULT, r->base) >= 0)
        return SAL_OK;
    if (sal_h5_cause(cause, sizeof(cause)))
        return sal_error(SAL_ERR_CORRUPT, "checksum mismatch in %s dataset %s: the file is damaged",
                         path, r->name);
    return sal_error(SAL_ERR_CORRUPT, "cannot read %s dataset %s: %s", path, r->name, cause);
}

static int load_region(hid_t file, const char *path, const sal_rank_meta_t *expect,
                       const sal_region_t *r, int with_data)
{
    char where[SAL_H5_WHERE_MAX];
    sal_h5_stored_t want;
    hid_t dset = H5I_INVALID_HID;
    int rc;

    if (!sal_name_valid(r->name) || sal_type_size(r->type) == 0 ||
        (!r->scalar && (r->ndims < 1 || r->ndims > SAL_MAX_DIMS)))
        return sal_error(SAL_ERR_INVALID_ARG, "%s: invalid region \"%.*s\" (name, type or ndims)",
                         path, SAL_NAME_MAX, r->name);
    if (with_data && !r->base && sal_region_elems(r) > 0)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": NULL base address", r->name);
    snprintf(where, sizeof(where), "%s dataset %s", path, r->name);
    sal_h5_stored_shape(r, expect->rank, expect->nranks, &want);
    rc = sal_h5_open_dataset(file, path, r->name, &dset);
    if (rc != SAL_OK)
        return rc;
    rc = check_dataset(dset, where, r, expect->rank, &want);
    if (rc == SAL_OK && with_data)
        rc = read_data(dset, path, r);
    H5Dclose(dset);
    return rc;
}

static int load_rank(const char *path, const sal_rank_meta_t *expect, const sal_region_t *regions,
                     int nregions, int with_data, int probe);

struct rank_probe {
    const char *path;
    const sal_rank_meta_t *expect;
    const sal_region_t *regions;
    int nregions;
};

/* The probe of sal_h5_read_rank: the validation of the file's metadata, in a child process. */
static int probe_rank(const void *arg)
{
    const struct rank_probe *p = arg;

    return load_rank(p->path, p->expect, p->regions, p->nregions, 0, 0);
}

static int load_rank(const char *path, const sal_rank_meta_t *expect, const sal_region_t *regions,
                     int nregions, int with_data, int probe)
{
    sal_h5_quiet_t quiet;
    hid_t file = H5I_INVALID_HID;
    int rc;

    if (!path || !expect || nregions < 0 || nregions > SAL_MAX_REGIONS ||
        (!regions && nregions > 0))
        return sal_error(SAL_ERR_INVALID_ARG, "rank file %s: NULL argument or %d regions",
                         path ? path : "(null)", nregions);
    sal_h5_quiet(&quiet);
    /* The probe (probe = 0) runs in a child forked after its parent's check. */
    rc = probe ? sal_h5_check_input(path) : SAL_OK;
    if (rc == SAL_OK && probe && sal_h5_probing()) {
        /* HDF5 1.10 overruns buffers on some damaged object headers: validate the metadata in a
         * child process first, then read here. */
        struct rank_probe p = {path, expect, regions, nregions};
        rc = sal_h5_probe(path, probe_rank, &p);
    }
    if (rc == SAL_OK)
        rc = sal_h5_open_checked(path, &file);
    if (rc != SAL_OK)
        goto out_restore_errors;
    rc = check_root(file, path, expect);
    for (int i = 0; i < nregions && rc == SAL_OK; i++)
        rc = load_region(file, path, expect, &regions[i], with_data);
    H5Fclose(file);
out_restore_errors:
    sal_h5_restore(&quiet);
    return rc;
}

int sal_h5_read_rank(const char *path, const sal_rank_meta_t *expect, sal_region_t *regions,
                     int nregions)
{
    return load_rank(path, expect, regions, nregions, 1, 1);
}

int sal_h5_check_rank(const char *path, const sal_rank_meta_t *expect, const sal_region_t *regions,
                      int nregions)
{
    return load_rank(path, expect, regions, nregions, 0, 1);
}
