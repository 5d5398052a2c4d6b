/*
 * Per-rank checkpoint files, and the HDF5 helpers shared with manifest.c (quiet error stacks, error
 * causes, element types, input checks, temp-file publication, attributes).
 *
 * A rank file (docs/format.md) has the root attributes format_version, id, step, time, rank,
 * nranks, library_version and one dataset per region: chunked with Fletcher32 when it holds
 * elements, contiguous and unfiltered when a dimension of the block is 0 (HDF5 chunks cannot have a
 * 0 dimension). Each dataset carries the attributes type, scalar, global_dims and offset. A scalar
 * is a 1-element dataset with global_dims [nranks] and offset [rank]: element <rank> of the
 * manifest's per-rank vector.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>
#include <salamander/sal_version.h>

#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"

/* Largest chunk in bytes. Blocks above it are split along their leading dimensions, which keeps
 * every chunk far below HDF5's 4 GiB limit and bounds what a partial (N->M) read must read and
 * verify. The writer assembles each chunk in a buffer of this size, so it is kept small enough to
 * stay in the processor's cache between the copy, the checksum and the write(2). */
#define SAL_H5_CHUNK_MAX ((uint64_t)1 << 20)

enum { WHERE_MAX = PATH_MAX + SAL_NAME_MAX + 16, CAUSE_MAX = 256 };

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
    char cause[CAUSE_MAX], msg[768];
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

/* File access: close every object with the file (so a close really releases it before fsync), and
 * no flock(): files are private until renamed, and some parallel file systems refuse locks. */
static hid_t make_fapl(void)
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
    hid_t fapl = make_fapl();
    int rc = SAL_OK;

    if (fapl < 0)
        return sal_h5_error(SAL_ERR_HDF5, "cannot open %s", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (*file < 0)
        rc = sal_h5_error(SAL_ERR_CORRUPT, "%s is not a readable HDF5 file", path);
    H5Pclose(fapl);
    return rc;
}

/* Exit statuses of a probe that returned (a sanitizer or the C library ends a crashing one with
 * a signal, or with another status such as AddressSanitizer's 1). */
enum { PROBE_VALID = 90, PROBE_INVALID = 91 };
/* A probe that has not finished after probe_timeout seconds is taken for HDF5 looping on the file
 * (reading the metadata of a valid file takes milliseconds). */
#define PROBE_POLL_S 0.001
static double probe_timeout = 60.0;

static int probing = 1; /* sal_h5_set_probing */

void sal_h5_set_probing(int on)
{
    probing = on != 0;
}

int sal_h5_probing(void)
{
    return probing;
}

void sal_h5_probe_set_timeout(double seconds)
{
    probe_timeout = seconds > 0 ? seconds : 60.0;
}

/* Blocks until the child pid has ended or probe_timeout has passed, without polling where Linux
 * has pidfd_open (5.3+). Returns 1 when it ended, 0 after the timeout, -1 when it cannot tell (the
 * caller then polls). */
static int wait_child(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0U), n;
    struct pollfd pfd;

    if (fd < 0)
        return -1;
    pfd.fd = fd;
    pfd.events = POLLIN;
    while ((n = poll(&pfd, 1, (int)(probe_timeout * 1000))) < 0 && errno == EINTR)
        ;
    close(fd);
    return n > 0 ? 1 : n == 0 ? 0 : -1;
#else
    (void)pid;
    return -1;
#endif
}

int sal_h5_probe(const char *path, int (*probe)(const void *arg), const void *arg)
{
    int status = 0;
    pid_t pid;

    (void)fflush(NULL);
    pid = fork();
    if (pid < 0) {
        SAL_LOG_D("cannot fork to probe %s (%s): reading it in this process", path,
                  strerror(errno));
        return SAL_OK;
    }
    if (pid == 0) {
        /* No atexit handlers, no MPI, no messages (the parent reports): only the verdict leaves
         * the child. */
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            (void)dup2(devnull, STDERR_FILENO);
        _exit(probe(arg) == SAL_OK ? PROBE_VALID : PROBE_INVALID);
    }
    int ended = wait_child(pid);
    for (long polls = 0;; polls++) {
        struct timespec nap = {0, (long)(PROBE_POLL_S * 1e9)};
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return SAL_OK;
        if (ended == 0 || (double)polls * PROBE_POLL_S >= probe_timeout) { /* HDF5 looping */
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return sal_error(SAL_ERR_CORRUPT,
                             "%s is damaged: the HDF5 library did not finish reading it in %g s",
                             path, probe_timeout);
        }
        nanosleep(&nap, NULL);
    }
    if (WIFSIGNALED(status))
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is damaged: the HDF5 library crashed (signal %d, %s) while reading it",
                         path, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) ||
        (WEXITSTATUS(status) != PROBE_VALID && WEXITSTATUS(status) != PROBE_INVALID))
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is damaged: the HDF5 library crashed while reading it (the reading "
                         "process exited with status %d)",
                         path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return SAL_OK;
}

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
    fapl = make_fapl();
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

/* ---- attributes ------------------------------------------------------------------------------ */

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

/* ---- rank files: writing --------------------------------------------------------------------- */

/* A region as stored: a scalar is a [1] block at offset [rank] of global shape [nranks]. */
struct stored {
    int ndims;
    hsize_t count[SAL_MAX_DIMS];
    int64_t gdims[SAL_MAX_DIMS];
    int64_t offset[SAL_MAX_DIMS];
};

static void stored_shape(const sal_region_t *r, int rank, int nranks, struct stored *s)
{
    memset(s, 0, sizeof(*s));
    if (r->scalar) {
        s->ndims = 1;
        s->count[0] = 1;
        s->gdims[0] = nranks;
        s->offset[0] = rank;
        return;
    }
    s->ndims = r->ndims;
    for (int d = 0; d < r->ndims; d++) {
        s->count[d] = (hsize_t)r->count[d];
        s->gdims[d] = r->gdims[d];
        s->offset[d] = r->offset[d];
    }
}

/* Chunk of a non-empty block: the whole block, or the innermost dimensions that fit in
 * SAL_H5_CHUNK_MAX and a slab of the next one (the outer dimensions then have chunk size 1).
 * Returns the slab dimension: the dimensions after it are whole in the chunk, the ones before it
 * have chunk size 1 (0 when the whole block is one chunk). A chunk is thus one contiguous run of
 * the block in row-major order. */
static int chunk_shape(const struct stored *s, size_t esize, hsize_t *chunk)
{
    uint64_t inner = esize;
    int cut = -1;

    for (int d = s->ndims - 1; d >= 0; d--) {
        if (cut >= 0) {
            chunk[d] = 1;
        } else if (s->count[d] <= SAL_H5_CHUNK_MAX / inner) {
            chunk[d] = s->count[d];
            inner *= s->count[d];
        } else {
            chunk[d] = SAL_H5_CHUNK_MAX / inner;
            cut = d;
        }
    }
    return cut >= 0 ? cut : 0;
}

/* ---- Fletcher32, bit-identical to HDF5's filter ---------------------------------------------- */

/* HDF5's checksum (H5_checksum_fletcher32): big-endian 16-bit words w_i; after every run of 360
 * words (and after the last, possibly shorter, run) both sums are folded with
 * (x & 0xffff) + (x >> 16); an odd trailing byte is a word with a zero low byte; a final fold of
 * both sums gives (sum2 << 16) | sum1. The folds keep every intermediate value below 2^32, so
 * computing a run of n words as
 *   sum2 += n * sum1 + sum over i of (n - i) * w_i,   sum1 += sum over i of w_i
 * gives exactly HDF5's bits. The filter appends the value little-endian. */
enum { F32_RUN = 360, F32_RUN_BYTES = 2 * F32_RUN };

struct f32 {
    uint32_t s1, s2;
};

static inline uint32_t f32_fold(uint32_t x)
{
    return (x & 0xffff) + (x >> 16);
}

static void f32_add(struct f32 *f, uint32_t n, uint64_t s, uint64_t t)
{
    f->s2 = f32_fold((uint32_t)(f->s2 + (uint64_t)n * f->s1 + t));
    f->s1 = f32_fold((uint32_t)(f->s1 + s));
}

/* One run of n <= F32_RUN words. */
static void f32_run(struct f32 *f, const unsigned char *p, uint32_t n)
{
    uint32_t s = 0, t = 0;

    for (uint32_t i = 0; i < n; i++) {
        uint32_t w = (uint32_t)p[2 * (size_t)i] << 8 | p[2 * (size_t)i + 1];
        s += w;
        t += (n - i) * w;
    }
    f32_add(f, n, s, t);
}

typedef uint16_t sal_v8u16 __attribute__((vector_size(16)));
typedef uint32_t sal_v4u32 __attribute__((vector_size(16)));

/* A full run, 8 words at a time, on a little-endian host, copied to dst on the way (dst may be
 * NULL). Word 8g + k, k = 2j (even lanes) or 2j + 1 (odd lanes), has weight 8 (45 - g) - k: the b
 * vectors (running sums of the running sums a) hold sum over g of (45 - g) w. Lanes stay below
 * 2^27. */
static void f32_full_run(struct f32 *f, const unsigned char *p, unsigned char *dst)
{
    sal_v4u32 ae = {0}, ao = {0}, be = {0}, bo = {0};
    uint64_t s = 0, t = 0;

    for (int g = 0; g < F32_RUN / 8; g++) {
        sal_v8u16 x;
        sal_v4u32 y;
        memcpy(&x, p + 16 * (size_t)g, 16);
        if (dst)
            memcpy(dst + 16 * (size_t)g, &x, 16);
        x = (x << 8) | (x >> 8);
        memcpy(&y, &x, 16);
        ae += y & 0xffff;
        ao += y >> 16;
        be += ae;
        bo += ao;
    }
    for (int j = 0; j < 4; j++) {
        s += (uint64_t)ae[j] + ao[j];
        t += 8 * ((uint64_t)be[j] + bo[j]) - (uint64_t)(2 * j) * ae[j] -
             (uint64_t)(2 * j + 1) * ao[j];
    }
    f32_add(f, F32_RUN, s, t);
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;

    memcpy(&b, &one, 1);
    return b == 1;
}

/* Adds len bytes of p, copying them to dst unless dst is NULL. Every call but the last must pass
 * a multiple of F32_RUN_BYTES. */
static void f32_copy(struct f32 *f, unsigned char *dst, const unsigned char *p, size_t len)
{
    int le = host_little_endian();

    for (; len >= F32_RUN_BYTES; p += F32_RUN_BYTES, len -= F32_RUN_BYTES) {
        if (le) {
            f32_full_run(f, p, dst);
        } else {
            if (dst)
                memcpy(dst, p, F32_RUN_BYTES);
            f32_run(f, p, F32_RUN);
        }
        dst = dst ? dst + F32_RUN_BYTES : NULL;
    }
    if (dst)
        memcpy(dst, p, len);
    if (len >= 2)
        f32_run(f, p, (uint32_t)(len / 2));
    if (len % 2) {
        f->s1 = f32_fold(f->s1 + ((uint32_t)p[len - 1] << 8));
        f->s2 = f32_fold(f->s2 + f->s1);
    }
}

static uint32_t f32_final(const struct f32 *f)
{
    return f32_fold(f->s2) << 16 | f32_fold(f->s1);
}

/* ---- direct chunk writes --------------------------------------------------------------------- */

/* Assembles one chunk in buf (data, zero padding of a partial last slab, the Fletcher32 value)
 * and returns its stored size. */
static size_t fill_chunk(const unsigned char *src, size_t rows, size_t row, size_t slab,
                         unsigned char *buf)
{
    size_t data = rows * row, full = slab * row;
    struct f32 f = {0, 0};
    uint32_t v;

    if (data == full) {
        f32_copy(&f, buf, src, full);
    } else {
        memcpy(buf, src, data);
        memset(buf + data, 0, full - data);
        f32_copy(&f, NULL, buf, full);
    }
    v = f32_final(&f);
    for (int b = 0; b < 4; b++)
        buf[full + (size_t)b] = (unsigned char)(v >> (8 * b));
    return full + 4;
}

/* Writes a non-empty block chunk by chunk with H5Dwrite_chunk: exactly the bytes HDF5's
 * Fletcher32 filter would store, without HDF5's per-chunk allocations and copies. The chunks are
 * those of chunk_shape (chunk, slab dimension cut); base holds the block in the file's byte order.
 */
static int write_chunks(hid_t dset, const char *where, const struct stored *s, const hsize_t *chunk,
                        int cut, size_t esize, const void *base)
{
    hsize_t off[SAL_MAX_DIMS] = {0};
    size_t row = esize, slab = (size_t)chunk[cut];
    uint64_t nouter = 1;
    unsigned char *buf;
    int rc = SAL_OK;

    for (int d = cut + 1; d < s->ndims; d++)
        row *= (size_t)s->count[d];
    for (int d = 0; d < cut; d++)
        nouter *= s->count[d];
    buf = malloc(slab * row + 4);
    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "%s: chunk buffer of %zu bytes", where, slab * row + 4);
    for (uint64_t o = 0; o < nouter && rc == SAL_OK; o++) {
        uint64_t rest = o;
        for (int d = cut - 1; d >= 0; d--) {
            off[d] = rest % s->count[d];
            rest /= s->count[d];
        }
        for (hsize_t r0 = 0; r0 < s->count[cut] && rc == SAL_OK; r0 += slab) {
            size_t rows = s->count[cut] - r0 < slab ? (size_t)(s->count[cut] - r0) : slab;
            const unsigned char *src =
                (const unsigned char *)base + ((size_t)o * s->count[cut] + r0) * row;
            size_t n = fill_chunk(src, rows, row, slab, buf);
            off[cut] = r0;
            if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, off, n, buf) < 0)
                rc = sal_h5_error(SAL_ERR_HDF5, "cannot write %s", where);
        }
    }
    free(buf);
    return rc;
}

/* Dataset creation: chunked + Fletcher32 when the block has elements, else contiguous (default). */
static hid_t make_dcpl(const struct stored *s, const hsize_t *chunk, int64_t elems)
{
    hid_t dcpl;

    if (elems == 0)
        return H5Pcreate(H5P_DATASET_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && (H5Pset_chunk(dcpl, s->ndims, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0)) {
        H5Pclose(dcpl);
        return H5I_INVALID_HID;
    }
    return dcpl;
}

static int put_region_attrs(hid_t dset, const char *where, const sal_region_t *r,
                            const struct stored *s)
{
    int rc = sal_h5_put_i64(dset, where, "type", r->type);

    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "scalar", r->scalar ? 1 : 0);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64v(dset, where, "global_dims", s->gdims, s->ndims);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64v(dset, where, "offset", s->offset, s->ndims);
    return rc;
}

/* The data of a non-empty region: direct chunk writes when memory already has the file's byte
 * order (every little-endian machine), else through HDF5's conversion and filter pipeline. */
static int write_data(hid_t dset, const char *where, const sal_region_t *r, const struct stored *s,
                      const hsize_t *chunk, int cut)
{
    if (H5Tequal(sal_h5_file_type(r->type), sal_h5_mem_type(r->type)) > 0)
        return write_chunks(dset, where, s, chunk, cut, sal_type_size(r->type), r->base);
    if (H5Dwrite(dset, sal_h5_mem_type(r->type), H5S_ALL, H5S_ALL, H5P_DEFAULT, r->base) < 0)
        return sal_h5_error(SAL_ERR_HDF5, "cannot write %s", where);
    return SAL_OK;
}

static hid_t create_dataset(hid_t file, const sal_region_t *r, const struct stored *s,
                            const hsize_t *chunk, int64_t elems)
{
    hid_t space = H5Screate_simple(s->ndims, s->count, NULL), dcpl = make_dcpl(s, chunk, elems);
    hid_t dset = H5I_INVALID_HID;

    if (space >= 0 && dcpl >= 0)
        dset = H5Dcreate2(file, r->name, sal_h5_file_type(r->type), space, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return dset;
}

/* Whether the dataset of a reused file has the region's file type and shape s->count and, when
 * it has elements, is chunked exactly as chunk with the Fletcher32 filter only: then every chunk
 * HDF5 overwrites keeps its size and its place in the file. */
static int dataset_reusable(hid_t dset, const sal_region_t *r, const struct stored *s,
                            const hsize_t *chunk, int64_t elems)
{
    hid_t type = H5Dget_type(dset), space = H5Dget_space(dset), dcpl = H5Dget_create_plist(dset);
    hsize_t dims[SAL_MAX_DIMS], cdims[SAL_MAX_DIMS] = {0};
    unsigned flags;
    size_t nelem = 0;
    int ok = type >= 0 && space >= 0 && dcpl >= 0 &&
             H5Tequal(type, sal_h5_file_type(r->type)) > 0 &&
             H5Sget_simple_extent_ndims(space) == s->ndims &&
             H5Sget_simple_extent_dims(space, dims, NULL) == s->ndims;

    if (ok && elems > 0)
        ok = H5Pget_layout(dcpl) == H5D_CHUNKED &&
             H5Pget_chunk(dcpl, SAL_MAX_DIMS, cdims) == s->ndims && H5Pget_nfilters(dcpl) == 1 &&
             H5Pget_filter2(dcpl, 0, &flags, &nelem, NULL, 0, NULL, NULL) == H5Z_FILTER_FLETCHER32;
    for (int d = 0; ok && d < s->ndims; d++)
        ok = dims[d] == s->count[d] && (elems == 0 || cdims[d] == chunk[d]);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    return ok;
}

/* The dataset of region r: created, or (reuse) the reused file's, when it is laid out exactly as a
 * new one would be; H5I_INVALID_HID with *mismatch set otherwise. */
static hid_t region_dataset(hid_t file, int reuse, const sal_region_t *r, const struct stored *s,
                            const hsize_t *chunk, int64_t elems, int *mismatch)
{
    hid_t dset;

    if (!reuse)
        return create_dataset(file, r, s, chunk, elems);
    dset = H5Lexists(file, r->name, H5P_DEFAULT) > 0 ? H5Dopen2(file, r->name, H5P_DEFAULT)
                                                     : H5I_INVALID_HID;
    if (dset >= 0 && dataset_reusable(dset, r, s, chunk, elems))
        return dset;
    if (dset >= 0)
        H5Dclose(dset);
    *mismatch = 1;
    return H5I_INVALID_HID;
}

static int write_region(hid_t file, int reuse, const char *path, const sal_rank_meta_t *meta,
                        const sal_region_t *r, int *mismatch)
{
    char where[WHERE_MAX];
    struct stored s;
    hsize_t chunk[SAL_MAX_DIMS];
    int64_t elems = sal_region_elems(r);
    hid_t dset;
    int rc = SAL_OK, cut = 0;

    snprintf(where, sizeof(where), "%s dataset %s", path, r->name);
    stored_shape(r, meta->rank, meta->nranks, &s);
    if (elems > 0)
        cut = chunk_shape(&s, sal_type_size(r->type), chunk);
    dset = region_dataset(file, reuse, r, &s, chunk, elems, mismatch);
    if (dset < 0)
        return *mismatch ? SAL_ERR_HDF5 : sal_h5_error(SAL_ERR_HDF5, "cannot create %s", where);
    rc = put_region_attrs(dset, where, r, &s);
    if (rc == SAL_OK && elems > 0)
        rc = write_data(dset, where, r, &s, chunk, cut);
    if (H5Dclose(dset) < 0 && rc == SAL_OK)
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot close %s", where);
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

static int put_root_attrs(hid_t file, const char *path, const sal_rank_meta_t *meta)
{
    int rc = sal_h5_put_head(file, path, meta->id, meta->step, meta->time, meta->nranks);

    return rc == SAL_OK ? sal_h5_put_i64(file, path, "rank", meta->rank) : rc;
}

static int check_write_args(const char *path, const sal_rank_meta_t *meta,
                            const sal_region_t *regions, int nregions)
{
    if (!path || !meta || nregions < 0 || nregions > SAL_MAX_REGIONS || (!regions && nregions > 0))
        return sal_error(SAL_ERR_INVALID_ARG, "rank file %s: NULL argument or %d regions",
                         path ? path : "(null)", nregions);
    if (meta->id < 0 || meta->nranks < 1 || meta->rank < 0 || meta->rank >= meta->nranks)
        return sal_error(SAL_ERR_INVALID_ARG, "rank file %s: id %lld, rank %d of %d", path,
                         (long long)meta->id, meta->rank, meta->nranks);
    for (int i = 0; i < nregions; i++) {
        int rc = sal_region_check(&regions[i]);
        if (rc != SAL_OK)
            return rc;
        if (!regions[i].base && sal_region_elems(&regions[i]) > 0)
            return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": NULL base address",
                             regions[i].name);
    }
    return SAL_OK;
}

/* Takes over the rank file `reuse` as tmp and opens it for writing, when it is a regular file of
 * ours holding exactly nregions objects. SAL_OK, or an error after which reuse may be gone. */
static int open_reused(const char *reuse, const char *tmp, int nregions, hid_t *file)
{
    struct stat st;
    H5G_info_t info;
    hid_t fapl;

    if (lstat(reuse, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_nlink != 1 || rename(reuse, tmp) != 0)
        return SAL_ERR_IO;
    fapl = make_fapl();
    *file = fapl < 0 ? H5I_INVALID_HID : H5Fopen(tmp, H5F_ACC_RDWR, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (*file < 0)
        return SAL_ERR_HDF5;
    if (H5Gget_info(*file, &info) < 0 || info.nlinks != (hsize_t)nregions) {
        H5Fclose(*file);
        *file = H5I_INVALID_HID;
        return SAL_ERR_HDF5;
    }
    return SAL_OK;
}

/* Writes the attributes and regions into the open file; *mismatch is set when a reused file's
 * dataset does not have the region's layout. */
static int write_contents(hid_t file, int reuse, const char *path, const sal_rank_meta_t *meta,
                          const sal_region_t *regions, int nregions, int *mismatch)
{
    int rc = put_root_attrs(file, path, meta);

    for (int i = 0; i < nregions && rc == SAL_OK; i++)
        rc = write_region(file, reuse, path, meta, &regions[i], mismatch);
    return rc;
}

/* One attempt: into the file reuse (when not NULL) or a new one. *mismatch (reuse only): reuse
 * could not be used, nothing was reported, the caller writes a new file. */
static int write_rank_once(const char *path, const char *reuse, const sal_rank_meta_t *meta,
                           const sal_region_t *regions, int nregions, int64_t need, int *mismatch)
{
    char tmp[PATH_MAX];
    hid_t file = H5I_INVALID_HID;
    int rc;

    if (!reuse)
        rc = sal_h5_create_tmp(path, need, tmp, sizeof(tmp), &file);
    else if ((rc = sal_tmp_name(path, tmp, sizeof(tmp))) == SAL_OK &&
             open_reused(reuse, tmp, nregions, &file) != SAL_OK) {
        unlink(tmp);
        *mismatch = 1;
        return SAL_ERR_HDF5;
    }
    if (rc != SAL_OK)
        return rc;
    rc = write_contents(file, reuse != NULL, path, meta, regions, nregions, mismatch);
    if (rc == SAL_OK)
        return sal_h5_commit_tmp(file, tmp, path);
    sal_h5_discard_tmp(file, tmp);
    return rc;
}

int sal_h5_write_rank_reusing(const char *path, const char *reuse, const sal_rank_meta_t *meta,
                              const sal_region_t *regions, int nregions, int64_t *bytes,
                              int *reused)
{
    sal_h5_quiet_t quiet;
    int64_t need = 0;
    int mismatch = 0, rc = check_write_args(path, meta, regions, nregions);

    if (reused)
        *reused = 0;
    if (rc != SAL_OK)
        return rc;
    for (int i = 0; i < nregions; i++)
        need += sal_region_elems(&regions[i]) * (int64_t)sal_type_size(regions[i].type);
    sal_h5_quiet(&quiet);
    if (reuse) {
        rc = write_rank_once(path, reuse, meta, regions, nregions, need, &mismatch);
        if (rc != SAL_OK && mismatch)
            SAL_LOG_D("%s: not reused for %s (another layout), writing a new file", reuse, path);
        else if (rc == SAL_OK && reused)
            *reused = 1;
    }
    if (!reuse || mismatch)
        rc = write_rank_once(path, NULL, meta, regions, nregions, need, &mismatch);
    if (rc == SAL_OK && bytes)
        *bytes = need; /* the bytes of every region, all written */
    sal_h5_restore(&quiet);
    return rc;
}

int sal_h5_write_rank(const char *path, const sal_rank_meta_t *meta, const sal_region_t *regions,
                      int nregions, int64_t *bytes)
{
    return sal_h5_write_rank_reusing(path, NULL, meta, regions, nregions, bytes, NULL);
}

/* ---- rank files: reading --------------------------------------------------------------------- */

static int check_root(hid_t file, const char *path, const sal_rank_meta_t *expect)
{
    int64_t version, id, step, rank, nranks;
    int rc = sal_h5_get_i64(file, path, "format_version", &version);

    if (rc != SAL_OK)
        return rc;
    if (version != SAL_FORMAT_VERSION)
        return sal_error(SAL_ERR_CORRUPT, "%s: format version %lld, this library reads %d", path,
                         (long long)version, SAL_FORMAT_VERSION);
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

static int check_shape(hid_t dset, const char *where, const struct stored *want)
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

/* Type, shape and attributes of an open dataset against the region as it would be stored. */
static int check_dataset(hid_t dset, const char *where, const sal_region_t *r,
                         const struct stored *want)
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
    rc = check_shape(dset, where, want);
    if (rc == SAL_OK)
        rc = check_vector(dset, where, "global_dims", want->gdims, want->ndims);
    if (rc == SAL_OK)
        rc = check_vector(dset, where, "offset", want->offset, want->ndims);
    return rc;
}

static int read_data(hid_t dset, const char *path, const sal_region_t *r)
{
    char cause[CAUSE_MAX];

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
    char where[WHERE_MAX];
    struct stored want;
    hid_t dset = H5I_INVALID_HID;
    int rc;

    if (!sal_name_valid(r->name) || sal_type_size(r->type) == 0 ||
        (!r->scalar && (r->ndims < 1 || r->ndims > SAL_MAX_DIMS)))
        return sal_error(SAL_ERR_INVALID_ARG, "%s: invalid region \"%.*s\" (name, type or ndims)",
                         path, SAL_NAME_MAX, r->name);
    if (with_data && !r->base && sal_region_elems(r) > 0)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": NULL base address", r->name);
    snprintf(where, sizeof(where), "%s dataset %s", path, r->name);
    stored_shape(r, expect->rank, expect->nranks, &want);
    rc = sal_h5_open_dataset(file, path, r->name, &dset);
    if (rc != SAL_OK)
        return rc;
    rc = check_dataset(dset, where, r, &want);
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
    if (rc == SAL_OK && probe && probing) {
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
