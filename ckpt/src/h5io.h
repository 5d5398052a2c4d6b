/*
 * Per-rank checkpoint files (HDF5): one chunked dataset per region with the Fletcher32 filter,
 * attributes id, step, time, rank, nranks, version on the root group and global_dims/offset on each
 * dataset.
 */
#ifndef SAL_H5IO_H
#define SAL_H5IO_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "log.h"
#include "region.h"

typedef struct sal_rank_meta {
    int64_t id;
    int64_t step;
    double time; /* wall-clock seconds since the epoch when the checkpoint began */
    int rank;
    int nranks;
} sal_rank_meta_t;

/* Writes regions into path (temp name, fsync, rename; file mode 0600). [OUT] *bytes (may be NULL)
 * receives the payload size. SAL_ERR_IO / SAL_ERR_HDF5 with the path in the message on failure; no
 * file at path is created or replaced on failure. */
int sal_h5_write_rank(const char *path, const sal_rank_meta_t *meta, const sal_region_t *regions,
                      int nregions, int64_t *bytes);
/* Like sal_h5_write_rank, but first tries to take over the rank file reuse (an old checkpoint's,
 * about to be deleted): when it holds the same datasets with the same types, shapes and chunks,
 * its chunks are overwritten in place, so the file system neither allocates nor frees storage.
 * reuse is renamed away in any case; when it does not fit, a new file is written. [OUT] *reused
 * (may be NULL): 1 when reuse was used. */
int sal_h5_write_rank_reusing(const char *path, const char *reuse, const sal_rank_meta_t *meta,
                              const sal_region_t *regions, int nregions, int64_t *bytes,
                              int *reused);

/* What sal_h5_write_rank_opts does beyond sal_h5_write_rank, and what it did. */
typedef struct sal_h5_write_opts {
    const char *reuse; /* [IN] the rank file to take over, as sal_h5_write_rank_reusing; NULL */
    int differential;  /* [IN] keep each dataset's chunk hashes (attribute chunk_hashes) and, in a
                        * reused file, leave the chunks whose hash is unchanged as they are */
    int reused;        /* [OUT] 1 when reuse was taken over */
    int64_t skipped;   /* [OUT] bytes of data in chunks left as they were (not written) */
    int64_t unread;    /* [OUT] of those, the bytes left without being read (dirty) */
    int compression;   /* [IN] HDF5 filter of the data before Fletcher32 (sal_h5_compression),
                        * 0: none; then reuse and differential are ignored */
    const struct sal_dirty *dirty; /* [INOUT] with differential, the written-page tracker
                                    * (differential_tracking=pages), NULL: every chunk is hashed.
                                    * Set to NULL when the reused file is not checkpoint
                                    * dirty_since */
    int64_t dirty_since; /* [IN] the checkpoint the reused file holds: a chunk none of whose pages
                          * was written since is left as it is without being hashed */
} sal_h5_write_opts_t;

/* The HDF5 filter of the compression key's value name ("none": *filter = 0, "lz4", "bzip2").
 * SAL_ERR_CONFIG when the name is unknown or HDF5 cannot load the filter's plugin (the message
 * names the plugin package and HDF5_PLUGIN_PATH). */
int sal_h5_compression(const char *name, int *filter);

/* sal_h5_write_rank with the options of o (docs/format.md, "Differential checkpoints"). */
int sal_h5_write_rank_opts(const char *path, const sal_rank_meta_t *meta,
                           const sal_region_t *regions, int nregions, int64_t *bytes,
                           sal_h5_write_opts_t *o);

/* Reads a rank file written by sal_h5_write_rank into the regions' memory. Every region must exist
 * with the same type, global dims, offset and count; the file's id/rank/nranks must match *expect.
 * Returns SAL_ERR_CORRUPT (checksum, truncation, mismatch) or SAL_ERR_IO naming path and cause. On
 * failure the regions' memory may be partly overwritten: the caller restores from another source.
 * The step is checked too when expect->step >= 0 (pass -1 to accept any step). */
int sal_h5_read_rank(const char *path, const sal_rank_meta_t *expect, sal_region_t *regions,
                     int nregions);

/* Validates a rank file exactly like sal_h5_read_rank (attributes, datasets, types, shapes) without
 * reading the data; the regions' base pointers are not used. */
int sal_h5_check_rank(const char *path, const sal_rank_meta_t *expect, const sal_region_t *regions,
                      int nregions);

/* ---- Helpers shared by the rank files and the manifest --------------------------------------- */

/* HDF5's automatic error printing, saved by sal_h5_quiet() (which turns it off for this thread) and
 * put back by sal_h5_restore(). Every entry point of this layer brackets its HDF5 calls with them.
 */
typedef struct sal_h5_quiet {
    H5E_auto2_t func;
    void *data;
} sal_h5_quiet_t;

void sal_h5_quiet(sal_h5_quiet_t *saved);
void sal_h5_restore(const sal_h5_quiet_t *saved);

/* Copies the innermost message of this thread's HDF5 error stack into buf ("no detail" when empty).
 * Returns 1 when a Fletcher32 checksum failure is on the stack, else 0. Call right after the
 * failure: every later HDF5 call (even a close) clears the stack. */
int sal_h5_cause(char *buf, size_t size);
/* A size of buf that holds any cause. */
enum { SAL_H5_CAUSE_MAX = 256 };

/* sal_error() with ": <innermost HDF5 cause>" appended; returns code. */
int sal_h5_error_at(int code, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Evaluates to code, as sal_error() does. */
#define sal_h5_error(code, ...) sal_error_via(sal_h5_error_at, code, __VA_ARGS__)

/* File (little-endian) and native memory types of t; H5I_INVALID_HID for an unknown type. */
hid_t sal_h5_file_type(sal_type_t t);
hid_t sal_h5_mem_type(sal_type_t t);
/* 1 when the stored type tid has the class, size and signedness of t's native type. */
int sal_h5_type_matches(hid_t tid, sal_type_t t);

/* Checks a file before HDF5 opens it: it must exist (SAL_ERR_CORRUPT: a checkpoint lacks it), be a
 * regular file and not a symbolic link (SAL_ERR_CORRUPT), be readable (SAL_ERR_IO: permission
 * denied, a path component is not a directory) and not be empty (SAL_ERR_CORRUPT). */
int sal_h5_check_input(const char *path);
/* File access properties of every file this layer opens or creates (the caller closes them):
 * close every object with the file (so a close really releases it before fsync), and no flock():
 * files are private until renamed, and some parallel file systems refuse locks.
 * H5I_INVALID_HID on failure. */
hid_t sal_h5_fapl(void);
/* sal_h5_check_input, then opens path read-only. [OUT] *file. SAL_ERR_CORRUPT with HDF5's cause
 * when the file is not HDF5 or is truncated. */
int sal_h5_open_input(const char *path, hid_t *file);
/* sal_h5_open_input for a path that sal_h5_check_input has just accepted (no second check). */
int sal_h5_open_checked(const char *path, hid_t *file);

/* Root attributes every checkpoint file carries: format_version, id, step, time, nranks,
 * library_version. */
int sal_h5_put_head(hid_t file, const char *path, int64_t id, int64_t step, double time,
                    int64_t nranks);
/* Reads the root attribute format_version of file (path names it in messages) into *version and
 * checks it: SAL_OK, the attribute's read error, or SAL_ERR_CORRUPT for another version. */
int sal_h5_get_version(hid_t file, const char *path, int64_t *version);

/* Runs probe(arg) in a forked child process and waits for it: SAL_OK when it returned (whatever it
 * returned: the caller then reads the file itself and gets the same verdict with its message),
 * SAL_ERR_CORRUPT naming path and the cause when the child died (HDF5 crashing on a damaged file:
 * a signal, or an exit status other than the probe's) or did not finish in 60 s (HDF5 looping),
 * SAL_OK also when fork is impossible (the read then runs unprotected). For untrusted files: HDF5
 * 1.10 itself overruns buffers on some damaged ones (found by fuzzing). */
int sal_h5_probe(const char *path, int (*probe)(const void *arg), const void *arg);
/* Seconds after which sal_h5_probe kills a probe and reports the file as damaged (default 60; a
 * value <= 0 restores it). For tests. */
void sal_h5_probe_set_timeout(double seconds);
/* Whether the readers of rank files and manifests probe them in a child process first (default 1).
 * The restore turns it off for checkpoints this process committed itself in this run, whose files
 * it wrote moments ago: an in-job recovery then costs no fork. */
void sal_h5_set_probing(int on);
int sal_h5_probing(void);

/* Creates an empty HDF5 file "<path>.tmp.<pid>" with mode 0600 (the name goes to tmp). [OUT] *file.
 * need: the bytes the caller will write; SAL_ERR_IO naming the file system when it has less room
 * (HDF5 cannot be relied on to fail cleanly when a write hits ENOSPC). */
int sal_h5_create_tmp(const char *path, int64_t need, char *tmp, size_t tmp_size, hid_t *file);
/* Closes file, fsyncs tmp, sets mode 0600, renames it over path and fsyncs the directory. On
 * failure tmp is removed and path is left as it was (unless only the directory fsync failed after
 * the rename). */
int sal_h5_commit_tmp(hid_t file, const char *tmp, const char *path);
/* Failure path of a writer: closes file (when valid) and removes tmp. */
void sal_h5_discard_tmp(hid_t file, const char *tmp);

/* Attributes. Writers return SAL_ERR_HDF5 naming where (a file or "file dataset"). Readers return
 * SAL_ERR_CORRUPT naming where when the attribute is missing, of another class or of another size.
 */
int sal_h5_put_i64(hid_t obj, const char *where, const char *name, int64_t v);
int sal_h5_put_i64v(hid_t obj, const char *where, const char *name, const int64_t *v, int n);
int sal_h5_put_f64(hid_t obj, const char *where, const char *name, double v);
int sal_h5_put_str(hid_t obj, const char *where, const char *name, const char *v);
int sal_h5_get_i64(hid_t obj, const char *where, const char *name, int64_t *v);
/* Exactly n integers in a 1-D attribute. */
int sal_h5_get_i64v(hid_t obj, const char *where, const char *name, int64_t *v, int n);
int sal_h5_get_f64(hid_t obj, const char *where, const char *name, double *v);
/* An optional int64 0/1 attribute: [OUT] *flag = its value, 0 when it is absent (files written
 * before it existed). SAL_ERR_CORRUPT naming where when it holds anything else. */
int sal_h5_get_flag(hid_t obj, const char *where, const char *name, int *flag);

/* Opens the dataset `name` of loc, refusing a missing name, soft and external links and objects
 * that are not datasets (SAL_ERR_CORRUPT naming where). [OUT] *dset. */
int sal_h5_open_dataset(hid_t loc, const char *where, const char *name, hid_t *dset);

#endif
