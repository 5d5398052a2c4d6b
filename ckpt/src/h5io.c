/*
 * The HDF5 helpers shared by the rank files (h5io_write.c, h5io_read.c) and the manifest: quiet
 * error stacks, error causes, element types, checks and opening of input files, temp-file
 * publication. Attributes are in h5io_attr.c, the child-process probe in h5io_probe.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"

/* ---- errors ---------------------------------------------------------------------------------- */

void sal_h5_quiet(sal_h5_quiet_t *saved)
{
    saved->func = NULL;
    saved->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &saved->func, &saved->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void sal_h5_restore(const sal_h5_quiet_t *saved)
{
    H5Eset_auto2(H5E_DEFAULT, saved->func, saved->data);
}

struct cause_walk {
    char *buf;
    size_t size;
    int checksum;
};

/* Walked from the API call down: the last entry seen is the innermost (the actual cause). */
static herr_t cause_visit(unsigned n, const H5E_error2_t *e, void *arg)
{
    struct cause_walk *w = arg;

    (void)n;
    if (e->desc && e->desc[0])
        snprintf(w->buf, w->size, "%s", e->desc);
    if ((e->desc && strstr(e->desc, "Fletcher32")) ||
        (e->func_name && strstr(e->func_name, "fletcher32")))
        w->checksum = 1;
    return 0;
}

int sal_h5_cause(char *buf, size_t size)
{
    struct cause_walk w = {buf, size, 0};

    snprintf(buf, size, "no detail from HDF5");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, cause_visit, &w);
    return w.checksum;
}

int sal_h5_error_at(int code, const char *func, const char *fmt, ...)
{
    char cause[SAL_H5_CAUSE_MAX], msg[768];
    va_list ap;

    sal_h5_cause(cause, sizeof(cause));
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sal_error_at(code, func, "%s: %s", msg, cause);
}

/* ---- element types --------------------------------------------------------------------------- */

hid_t sal_h5_file_type(sal_type_t t)
{
    switch (t) {
    case SAL_CHAR:
        return H5T_STD_U8LE;
    case SAL_INT:
        return H5T_STD_I32LE;
    case SAL_INT64:
        return H5T_STD_I64LE;
    case SAL_FLOAT:
        return H5T_IEEE_F32LE;
    case SAL_DOUBLE:
        return H5T_IEEE_F64LE;
    default:
        return H5I_INVALID_HID;
    }
}

hid_t sal_h5_mem_type(sal_type_t t)
{
    switch (t) {
    case SAL_CHAR:
        return H5T_NATIVE_UCHAR;
    case SAL_INT:
        return H5T_NATIVE_INT;
    case SAL_INT64:
        return H5T_NATIVE_INT64;
    case SAL_FLOAT:
        return H5T_NATIVE_FLOAT;
    case SAL_DOUBLE:
        return H5T_NATIVE_DOUBLE;
    default:
        return H5I_INVALID_HID;
    }
}

int sal_h5_type_matches(hid_t tid, sal_type_t t)
{
    hid_t mem = sal_h5_mem_type(t);
    H5T_class_t cls;

    if (mem < 0)
        return 0;
    cls = H5Tget_class(tid);
    if (cls != H5Tget_class(mem) || H5Tget_size(tid) != H5Tget_size(mem))
        return 0;
    return cls != H5T_INTEGER || H5Tget_sign(tid) == H5Tget_sign(mem);
}

/* ---- compression ----------------------------------------------------------------------------- */

int sal_h5_compression(const char *name, int *filter)
{
    static const struct {
        const char *name;
        int filter;
    } known[] = {{"none", 0}, {"lz4", 32004}, {"bzip2", 307}};

    for (size_t i = 0; name && i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(name, known[i].name) != 0)
            continue;
        *filter = known[i].filter;
        if (*filter == 0 || H5Zfilter_avail((H5Z_filter_t)*filter) > 0)
            return SAL_OK;
        return sal_error(SAL_ERR_CONFIG,
                         "compression=%s: HDF5 cannot load its filter (%d); install the filter "
                         "plugins (Debian: hdf5-filter-plugin) or point HDF5_PLUGIN_PATH at them, "
                         "or set compression=none",
                         name, *filter);
    }
    return sal_error(SAL_ERR_CONFIG, "compression=%s: not one of none, lz4, bzip2",
                     name ? name : "(null)");
}

/* ---- files ----------------------------------------------------------------------------------- */

static int input_error(const char *path, int err)
{
    struct stat st;

    if (err == ENOENT)
        return sal_error(SAL_ERR_CORRUPT, "%s does not exist: the checkpoint is incomplete", path);
    if (err == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is a symbolic link: checkpoint files must be regular files", path);
    if (err == EACCES)
        return sal_error(SAL_ERR_IO,
                         "cannot open %s: permission denied (check the permissions of "
                         "the file and its directories)",
                         path);
    return sal_error(SAL_ERR_IO, "cannot open %s: %s", path, strerror(err));
}

int sal_h5_check_input(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), err;

    if (fd < 0)
        return input_error(path, errno);
    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return sal_error(SAL_ERR_IO, "cannot stat %s: %s", path, strerror(err));
    }
    close(fd);
    if (S_ISDIR(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is a directory, not a checkpoint file", path);
    if (!S_ISREG(st.st_mode))
        return sal_error(SAL_ERR_CORRUPT, "%s is not a regular file", path);
    if (st.st_size == 0)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is empty (zero length): it was truncated or never "
                         "written",
                         path);
    return SAL_OK;
}

hid_t sal_h5_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);

    if (fapl < 0)
        return fapl;
    if (H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 || H5Pset_file_locking(fapl, 0, 1) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

int sal_h5_open_input(const char *path, hid_t *file)
{
    int rc = sal_h5_check_input(path);

    return rc == SAL_OK ? sal_h5_open_checked(path, file) : rc;
}

int sal_h5_open_checked(const char *path, hid_t *file)
{
    hid_t fapl = sal_h5_fapl();
    int rc = SAL_OK;

    if (fapl < 0)
        return sal_h5_error(SAL_ERR_HDF5, "cannot open %s", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (*file < 0)
        rc = sal_h5_error(SAL_ERR_CORRUPT, "%s is not a readable HDF5 file", path);
    H5Pclose(fapl);
    return rc;
}

int sal_h5_open_dataset(hid_t loc, const char *where, const char *name, hid_t *dset)
{
    H5L_info_t info;
    htri_t exists = H5Lexists(loc, name, H5P_DEFAULT);
    hid_t obj;

    if (exists < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot look up \"%s\"", where, name);
    if (!exists)
        return sal_error(SAL_ERR_CORRUPT, "%s has no dataset \"%s\"", where, name);
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot inspect link \"%s\"", where, name);
    if (info.type != H5L_TYPE_HARD)
        return sal_error(SAL_ERR_CORRUPT, "%s: \"%s\" is a soft or external link, not a dataset",
                         where, name);
    obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0)
        return sal_h5_error(SAL_ERR_CORRUPT, "%s: cannot open \"%s\"", where, name);
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return sal_error(SAL_ERR_CORRUPT, "%s: \"%s\" is not a dataset", where, name);
    }
    *dset = obj;
    return SAL_OK;
}

/* ---- temp files ------------------------------------------------------------------------------ */

/* Room for need bytes plus HDF5's metadata in the file system of path's directory. */
static int check_room(const char *path, int64_t need)
{
    char dir[PATH_MAX];
    struct statvfs fs;
    int64_t avail, want = need + (need >> 6) + (1 << 20);

    if (sal_parent_dir(path, dir, sizeof(dir)) != SAL_OK || statvfs(dir, &fs) != 0)
        return SAL_OK; /* unknown: the writes themselves will tell */
    avail = (int64_t)fs.f_bavail * (int64_t)fs.f_frsize;
    if (avail >= want)
        return SAL_OK;
    return sal_error(SAL_ERR_IO,
                     "cannot write %s: %s (the file system of %s has %lld bytes free, the file "
                     "needs about %lld; free space there, or point ckpt_dir elsewhere)",
                     path, strerror(ENOSPC), dir, (long long)avail, (long long)want);
}

int sal_h5_create_tmp(const char *path, int64_t need, char *tmp, size_t tmp_size, hid_t *file)
{
    hid_t fapl;
    int fd, rc = sal_tmp_name(path, tmp, tmp_size);

    if (rc == SAL_OK)
        rc = check_room(path, need);
    if (rc != SAL_OK)
        return rc;
    if (unlink(tmp) != 0 && errno != ENOENT)
        return sal_error(SAL_ERR_IO, "cannot remove stale %s: %s", tmp, strerror(errno));
    /* Created here with 0600 (whatever the umask) so that HDF5 only truncates an existing file. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return sal_error(SAL_ERR_IO,
                         "cannot create %s: %s (the checkpoint directory must exist and "
                         "be writable)",
                         tmp, strerror(errno));
    if (fchmod(fd, 0600) != 0) {
        rc = sal_error(SAL_ERR_IO, "cannot set mode 0600 on %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return rc;
    }
    close(fd);
    fapl = sal_h5_fapl();
    *file = fapl < 0 ? H5I_INVALID_HID : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (*file < 0) {
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot create HDF5 file %s", tmp);
        unlink(tmp);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    return rc;
}

static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = SAL_OK;

    if (fd < 0)
        return sal_error(SAL_ERR_IO, "cannot reopen %s for fsync: %s", path, strerror(errno));
    if (fchmod(fd, 0600) != 0)
        rc = sal_error(SAL_ERR_IO, "cannot set mode 0600 on %s: %s", path, strerror(errno));
    else if (fsync(fd) != 0)
        rc = sal_error(SAL_ERR_IO, "fsync %s: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == SAL_OK)
        rc = sal_error(SAL_ERR_IO, "close %s: %s", path, strerror(errno));
    return rc;
}

int sal_h5_commit_tmp(hid_t file, const char *tmp, const char *path)
{
    char dir[PATH_MAX];
    int rc;

    if (H5Fclose(file) < 0) {
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot close %s", tmp);
        unlink(tmp);
        return rc;
    }
    rc = sync_file(tmp);
    if (rc == SAL_OK && rename(tmp, path) != 0)
        rc = sal_error(SAL_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != SAL_OK) {
        unlink(tmp);
        return rc;
    }
    rc = sal_parent_dir(path, dir, sizeof(dir));
    return rc == SAL_OK ? sal_fsync_dir(dir) : rc;
}

void sal_h5_discard_tmp(hid_t file, const char *tmp)
{
    if (file >= 0)
        H5Fclose(file);
    unlink(tmp);
}
