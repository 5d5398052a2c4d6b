/*
 * HDF5 attributes for the rank files and the manifest: typed writers and checked readers, and the
 * root attributes every checkpoint file carries.
 */
#include <stdint.h>
#include <string.h>

#include <salamander/sal_error.h>
#include <salamander/sal_version.h>

#include "h5io.h"
#include "log.h"
#include "manifest.h"

static int put_attr(hid_t obj, const char *where, const char *name, hid_t ftype, hid_t mtype,
                    hid_t space, const void *v)
{
    hid_t a;
    int rc = SAL_OK;

    if (space < 0)
        return sal_h5_error(SAL_ERR_HDF5, "%s: dataspace of attribute %s", where, name);
    if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0) { /* a reused file's old value */
        H5Sclose(space);
        return sal_h5_error(SAL_ERR_HDF5, "%s: cannot replace attribute %s", where, name);
    }
    a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot create attribute %s", where, name);
    else if (H5Awrite(a, mtype, v) < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot write attribute %s", where, name);
    if (a >= 0 && H5Aclose(a) < 0 && rc == SAL_OK)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot close attribute %s", where, name);
    H5Sclose(space);
    return rc;
}

int sal_h5_put_i64(hid_t obj, const char *where, const char *name, int64_t v)
{
    return put_attr(obj, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64, H5Screate(H5S_SCALAR), &v);
}

int sal_h5_put_i64v(hid_t obj, const char *where, const char *name, const int64_t *v, int n)
{
    hsize_t dim = (hsize_t)n;

    return put_attr(obj, where, name, H5T_STD_I64LE, H5T_NATIVE_INT64,
                    H5Screate_simple(1, &dim, NULL), v);
}

int sal_h5_put_f64(hid_t obj, const char *where, const char *name, double v)
{
    return put_attr(obj, where, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, H5Screate(H5S_SCALAR), &v);
}

/* A fixed-length, NUL-terminated ASCII string. */
int sal_h5_put_str(hid_t obj, const char *where, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    int rc;

    if (t < 0 || H5Tset_size(t, strlen(v) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: string type of attribute %s", where, name);
        if (t >= 0)
            H5Tclose(t);
        return rc;
    }
    rc = put_attr(obj, where, name, t, t, H5Screate(H5S_SCALAR), v);
    H5Tclose(t);
    return rc;
}

/* Opens attribute name of obj when it is of class cls with n elements (1-D when n > 1). */
static int open_attr(hid_t obj, const char *where, const char *name, H5T_class_t cls, int n,
                     hid_t *attr)
{
    htri_t exists = H5Aexists(obj, name);
    hid_t a, t, s;
    int ok;

    if (exists < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot look up attribute %s", where, name);
    if (!exists)
        return sal_error(SAL_ERR_CORRUPT, "%s: attribute %s is missing", where, name);
    a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot open attribute %s", where, name);
    t = H5Aget_type(a);
    s = H5Aget_space(a);
    ok = t >= 0 && s >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_npoints(s) == n &&
         (n == 1 || H5Sget_simple_extent_ndims(s) == 1);
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    if (!ok) {
        H5Aclose(a);
        return sal_error(SAL_ERR_CORRUPT, "%s: attribute %s is not %d %s value%s", where, name, n,
                         cls == H5T_INTEGER ? "integer" : "floating-point", n == 1 ? "" : "s");
    }
    *attr = a;
    return SAL_OK;
}

static int get_attr(hid_t obj, const char *where, const char *name, H5T_class_t cls, hid_t mtype,
                    int n, void *v)
{
    hid_t a = H5I_INVALID_HID;
    int rc = open_attr(obj, where, name, cls, n, &a);

    if (rc != SAL_OK)
        return rc;
    if (H5Aread(a, mtype, v) < 0)
        rc = sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot read attribute %s", where, name);
    H5Aclose(a);
    return rc;
}

int sal_h5_get_i64(hid_t obj, const char *where, const char *name, int64_t *v)
{
    return get_attr(obj, where, name, H5T_INTEGER, H5T_NATIVE_INT64, 1, v);
}

int sal_h5_get_i64v(hid_t obj, const char *where, const char *name, int64_t *v, int n)
{
    return get_attr(obj, where, name, H5T_INTEGER, H5T_NATIVE_INT64, n, v);
}

int sal_h5_get_f64(hid_t obj, const char *where, const char *name, double *v)
{
    return get_attr(obj, where, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, v);
}

int sal_h5_get_flag(hid_t obj, const char *where, const char *name, int *flag)
{
    int64_t v = 0;
    htri_t has = H5Aexists(obj, name);
    int rc = SAL_OK;

    if (has < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot look up attribute %s", where, name);
    if (has > 0)
        rc = sal_h5_get_i64(obj, where, name, &v);
    if (rc == SAL_OK && v != 0 && v != 1)
        rc = sal_error(SAL_ERR_CORRUPT, "%s: attribute %s is %lld, not 0 or 1", where, name,
                       (long long)v);
    *flag = rc == SAL_OK && v == 1;
    return rc;
}

int sal_h5_put_head(hid_t file, const char *path, int64_t id, int64_t step, double time,
                    int64_t nranks)
{
    int rc = sal_h5_put_i64(file, path, "format_version", SAL_FORMAT_VERSION);

    if (rc == SAL_OK)
        rc = sal_h5_put_i64(file, path, "id", id);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(file, path, "step", step);
    if (rc == SAL_OK)
        rc = sal_h5_put_f64(file, path, "time", time);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(file, path, "nranks", nranks);
    if (rc == SAL_OK)
        rc = sal_h5_put_str(file, path, "library_version", SAL_VERSION_STRING);
    return rc;
}

int sal_h5_get_version(hid_t file, const char *path, int64_t *version)
{
    int rc = sal_h5_get_i64(file, path, "format_version", version);

    if (rc != SAL_OK)
        return rc;
    if (*version != SAL_FORMAT_VERSION)
        return sal_error(SAL_ERR_CORRUPT, "%s: format version %lld, this library reads %d", path,
                         (long long)*version, SAL_FORMAT_VERSION);
    return SAL_OK;
}
