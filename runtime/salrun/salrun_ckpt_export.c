/*
 * `salrun ckpt export [--force] DIR ID FILE`: one self-contained HDF5 file of a checkpoint, each
 * array a plain dataset of its global shape read through the manifest (sal_manifest_read_block),
 * each scalar a [nranks] dataset, and the root attributes id, step, time and nranks: no virtual
 * dataset, no other file needed, readable by h5dump alone. Written as FILE.tmp.<pid>, then renamed.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>
#include <salamander/sal_error.h>

#include "h5io.h"
#include "inspect.h"
#include "log.h"
#include "manifest.h"
#include "salrun.h"
#include "salrun_ckpt.h"

static const char export_help[] =
    "usage: salrun ckpt export [--force] DIR ID FILE\n\n"
    "Writes checkpoint ID of the job directory DIR (<ckpt_dir>/<job>) as one HDF5 file FILE:\n"
    "each array a dataset of its global shape, each scalar a dataset of one value per rank, and\n"
    "the attributes id, step, time and nranks. Every rank file is read and verified first. Long\n"
    "exports print progress lines on the standard error stream.\n\n"
    "  --force   overwrite FILE when it exists\n"
    "  --help    this text\n\n"
    "Exit status: 0 written, 1 the checkpoint cannot be read or FILE cannot be written (nothing\n"
    "is left at FILE's name), 2 usage error.\n";

enum { SLAB_BYTES = 64 << 20 }; /* largest piece read through the manifest at once */

/* Where an export stands, for its progress lines. */
typedef struct export_run {
    const char *dir; /* the ckpt.<id> directory */
    const sal_manifest_t *m;
    hid_t file;
    const char *path;
    int index;        /* the region being written, 0-based */
    double last_line; /* when the export began or the last progress line was printed */
    int printed;      /* 1 once a progress line was printed */
} export_run_t;

/* A progress line at most once per second, the first one a second after the export began; a
 * region's last line (100%) only when the export printed any. */
static void progress(export_run_t *e, int64_t done, int64_t total)
{
    double t = salrun_now();

    if (done < total ? t - e->last_line < 1.0 : !e->printed)
        return;
    e->last_line = t;
    e->printed = 1;
    fprintf(stderr, "export: region %s (%d/%d), %d%%\n", e->m->regions[e->index].name, e->index + 1,
            e->m->nregions, total > 0 ? (int)(100 * done / total) : 100);
}

/* Writes rows [row0, row0 + n) of dimension 0 of the region's global array. */
static int copy_slab(export_run_t *e, const sal_manifest_region_t *mr, hid_t dset, int64_t row0,
                     int64_t n, void *buf)
{
    int nd = mr->scalar ? 1 : mr->ndims;
    int64_t off[SAL_MAX_DIMS] = {0}, cnt[SAL_MAX_DIMS];
    hsize_t hoff[SAL_MAX_DIMS], hcnt[SAL_MAX_DIMS];
    hid_t fspace, mspace;
    herr_t st;
    int rc;

    for (int d = 0; d < nd; d++) {
        cnt[d] = mr->scalar ? e->m->nranks : mr->gdims[d];
        hoff[d] = 0;
    }
    off[0] = row0;
    cnt[0] = n;
    hoff[0] = (hsize_t)row0;
    for (int d = 0; d < nd; d++)
        hcnt[d] = (hsize_t)cnt[d];
    rc = sal_manifest_read_block(e->dir, mr->name, mr->type, nd, off, cnt, buf);
    if (rc != SAL_OK)
        return rc;
    fspace = H5Dget_space(dset);
    mspace = H5Screate_simple(nd, hcnt, NULL);
    st = fspace < 0 || mspace < 0
             ? -1
             : H5Sselect_hyperslab(fspace, H5S_SELECT_SET, hoff, NULL, hcnt, NULL);
    if (st >= 0)
        st = H5Dwrite(dset, sal_h5_mem_type(mr->type), mspace, fspace, H5P_DEFAULT, buf);
    if (st < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot write region %s", e->path, mr->name);
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return rc;
}

/* The rows of dimension 0 of each piece, and their count. */
static void slab_rows(const sal_manifest_region_t *mr, int nranks, int64_t *rows, int64_t *per)
{
    int64_t row_bytes = (int64_t)sal_type_size(mr->type);
    int nd = mr->scalar ? 1 : mr->ndims;

    *rows = mr->scalar ? nranks : mr->gdims[0];
    for (int d = 1; d < nd; d++)
        row_bytes *= mr->gdims[d];
    *per = row_bytes > 0 ? SLAB_BYTES / row_bytes : *rows;
    if (*per < 1)
        *per = 1;
    if (*per > *rows)
        *per = *rows;
}

static int copy_region(export_run_t *e, const sal_manifest_region_t *mr, hid_t dset)
{
    int64_t rows, per, inner = 1;
    int nd = mr->scalar ? 1 : mr->ndims;
    void *buf;
    int rc = SAL_OK;

    slab_rows(mr, e->m->nranks, &rows, &per);
    for (int d = 1; d < nd; d++)
        inner *= mr->gdims[d];
    if (rows == 0 || inner == 0)
        return SAL_OK;
    buf = malloc((size_t)(per * inner) * sal_type_size(mr->type));
    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "buffer of %lld rows of region %s", (long long)per,
                         mr->name);
    for (int64_t r0 = 0; r0 < rows && rc == SAL_OK; r0 += per) {
        rc = copy_slab(e, mr, dset, r0, rows - r0 < per ? rows - r0 : per, buf);
        progress(e, r0 + per < rows ? r0 + per : rows, rows);
    }
    free(buf);
    return rc;
}

static int export_region(export_run_t *e, const sal_manifest_region_t *mr)
{
    hsize_t dims[SAL_MAX_DIMS];
    int nd = mr->scalar ? 1 : mr->ndims;
    char where[PATH_MAX + SAL_NAME_MAX + 2];
    hid_t space, dset = H5I_INVALID_HID;
    int rc;

    for (int d = 0; d < nd; d++)
        dims[d] = (hsize_t)(mr->scalar ? e->m->nranks : mr->gdims[d]);
    snprintf(where, sizeof(where), "%s %s", e->path, mr->name);
    space = H5Screate_simple(nd, dims, NULL);
    if (space >= 0)
        dset = H5Dcreate2(e->file, mr->name, sal_h5_file_type(mr->type), space, H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT);
    rc = dset < 0 ? sal_h5_error(SAL_ERR_HDF5, "%s: cannot create dataset %s", e->path, mr->name)
                  : SAL_OK;
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "type", (int64_t)mr->type);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "scalar", mr->scalar);
    if (rc == SAL_OK)
        rc = copy_region(e, mr, dset);
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int write_export(export_run_t *e, const char *tmp)
{
    const sal_manifest_t *m = e->m;
    int rc = sal_h5_put_i64(e->file, tmp, "id", m->id);

    if (rc == SAL_OK)
        rc = sal_h5_put_i64(e->file, tmp, "step", m->step);
    if (rc == SAL_OK)
        rc = sal_h5_put_f64(e->file, tmp, "time", m->time);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64(e->file, tmp, "nranks", m->nranks);
    for (e->index = 0; e->index < m->nregions && rc == SAL_OK; e->index++)
        rc = export_region(e, &m->regions[e->index]);
    return rc;
}

/* Writes FILE from the checkpoint in dir (manifest m, rank files verified). */
static int export_file(const char *dir, const sal_manifest_t *m, const char *path)
{
    char tmp[PATH_MAX];
    export_run_t e = {
        .dir = dir, .m = m, .path = path, .file = H5I_INVALID_HID, .last_line = salrun_now()};
    sal_h5_quiet_t quiet;
    int rc;

    sal_h5_quiet(&quiet);
    rc = sal_h5_create_tmp(path, m->bytes, tmp, sizeof(tmp), &e.file);
    if (rc == SAL_OK)
        rc = write_export(&e, tmp);
    if (rc == SAL_OK)
        rc = sal_h5_commit_tmp(e.file, tmp, path);
    else if (e.file >= 0)
        sal_h5_discard_tmp(e.file, tmp);
    sal_h5_restore(&quiet);
    return rc;
}

static int run_export(const salrun_ckpt_args_t *a, FILE *out)
{
    char dir[PATH_MAX];
    struct stat st;
    sal_manifest_t m;
    int64_t id;
    int rc = salrun_parse_id(a->pos[1], &id);

    if (rc != SAL_OK)
        return SALRUN_CKPT_USAGE;
    if (!a->force && lstat(a->pos[2], &st) == 0) {
        salrun_fail(SAL_ERR_INVALID_ARG, "%s exists: give --force to overwrite it", a->pos[2]);
        return SALRUN_CKPT_FAILED;
    }
    memset(&m, 0, sizeof(m));
    rc = salrun_ckpt_path(dir, sizeof(dir), a->pos[0], id, NULL);
    if (rc == SAL_OK)
        rc = sal_manifest_read(dir, &m);
    if (rc == SAL_OK && m.id != id)
        rc = sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5 has id %" PRId64, dir, m.id);
    if (rc == SAL_OK)
        rc = sal_inspect_rank_files(dir, &m);
    if (rc == SAL_OK)
        rc = export_file(dir, &m, a->pos[2]);
    if (rc == SAL_OK)
        fprintf(out,
                "exported checkpoint %" PRId64 " (step %" PRId64 ", %d regions, %" PRId64
                " bytes) to %s\n",
                id, m.step, m.nregions, m.bytes, a->pos[2]);
    else
        salrun_fail(rc, "%s", sal_last_error());
    sal_manifest_free(&m);
    return rc == SAL_OK ? SALRUN_CKPT_OK : SALRUN_CKPT_FAILED;
}

int salrun_ckpt_export(int argc, char **argv, FILE *out)
{
    salrun_ckpt_args_t a;
    int ex;

    ex = salrun_ckpt_begin(argc, argv, SALRUN_CKPT_OPT_FORCE, 3, 3, export_help, out, &a);
    if (ex >= 0)
        return ex;
    ex = run_export(&a, out);
    return ex == SALRUN_CKPT_OK ? ex : salrun_ckpt_report("export", ex);
}
