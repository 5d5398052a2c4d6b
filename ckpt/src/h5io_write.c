/*
 * Writing per-rank checkpoint files (sal_h5_write_rank, sal_h5_write_rank_reusing).
 *
 * A rank file (docs/format.md) has the root attributes format_version, id, step, time, rank,
 * nranks, library_version and one dataset per region: chunked with Fletcher32 when it holds
 * elements, contiguous and unfiltered when a dimension of the block is 0 (HDF5 chunks cannot have a
 * 0 dimension). Each dataset carries the attributes type, scalar, global_dims and offset. A scalar
 * is a 1-element dataset with global_dims [nranks] and offset [rank]: element <rank> of the
 * manifest's per-rank vector. Per-rank data (sal_protect_local) is a 1-D byte dataset whose
 * global_dims and offset describe the rank's own bytes only ([size], [0]), marked with the
 * attribute local = 1. The chunks themselves are written by h5io_chunk.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "h5io_rank.h"
#include "log.h"

/* Largest chunk in bytes. Blocks above it are split along their leading dimensions, which keeps
 * every chunk far below HDF5's 4 GiB limit and bounds what a partial (N->M) read must read and
 * verify. The writer assembles each chunk in a buffer of this size, so it is kept small enough to
 * stay in the processor's cache between the copy, the checksum and the write(2). */
#define SAL_H5_CHUNK_MAX ((uint64_t)1 << 20)

void sal_h5_stored_shape(const sal_region_t *r, int rank, int nranks, sal_h5_stored_t *s)
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
static int chunk_shape(const sal_h5_stored_t *s, size_t esize, hsize_t *chunk)
{
    /* inner stays >= 1: every count of a non-empty block is >= 1 (sal_region_check validated the
     * region); the guards only make that visible here. */
    uint64_t inner = esize > 0 ? esize : 1;
    int cut = -1;

    for (int d = s->ndims - 1; d >= 0; d--) {
        if (cut >= 0) {
            chunk[d] = 1;
        } else if (s->count[d] <= SAL_H5_CHUNK_MAX / inner) {
            chunk[d] = s->count[d];
            inner *= s->count[d] > 0 ? s->count[d] : 1;
        } else {
            chunk[d] = SAL_H5_CHUNK_MAX / inner;
            cut = d;
        }
    }
    return cut >= 0 ? cut : 0;
}

/* Dataset creation: chunked + (compression filter) + Fletcher32 when the block has elements, else
 * contiguous (default). The checksum is the last filter, so it covers the bytes stored. */
static hid_t make_dcpl(const sal_h5_stored_t *s, const hsize_t *chunk, int64_t elems, int comp)
{
    hid_t dcpl;

    if (elems == 0)
        return H5Pcreate(H5P_DATASET_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 &&
        (H5Pset_chunk(dcpl, s->ndims, chunk) < 0 ||
         (comp && H5Pset_filter(dcpl, (H5Z_filter_t)comp, H5Z_FLAG_MANDATORY, 0, NULL) < 0) ||
         H5Pset_fletcher32(dcpl) < 0)) {
        H5Pclose(dcpl);
        return H5I_INVALID_HID;
    }
    return dcpl;
}

static int put_region_attrs(hid_t dset, const char *where, const sal_region_t *r,
                            const sal_h5_stored_t *s)
{
    int rc = sal_h5_put_i64(dset, where, "type", r->type);

    if (rc == SAL_OK)
        rc = sal_h5_put_i64(dset, where, "scalar", r->scalar ? 1 : 0);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64v(dset, where, "global_dims", s->gdims, s->ndims);
    if (rc == SAL_OK)
        rc = sal_h5_put_i64v(dset, where, "offset", s->offset, s->ndims);
    /* Written only on per-rank data: files without it read as before (absent = 0). */
    if (rc == SAL_OK && r->local)
        rc = sal_h5_put_i64(dset, where, "local", 1);
    return rc;
}

#define CHUNK_HASHES "chunk_hashes"

/* The data of a non-empty region: direct chunk writes when memory already has the file's byte
 * order (every little-endian machine), else through HDF5's conversion and filter pipeline (then
 * without chunk hashes: diff is ignored and diff->hash left unset). */
static int write_data(hid_t dset, const char *where, const sal_region_t *r,
                      const sal_h5_stored_t *s, const hsize_t *chunk, int cut, sal_h5_diff_t *diff,
                      int comp)
{
    if (!comp && H5Tequal(sal_h5_file_type(r->type), sal_h5_mem_type(r->type)) > 0)
        return sal_h5_write_chunks(dset, where, s, chunk, cut, sal_type_size(r->type), r->base,
                                   diff);
    if (H5Dwrite(dset, sal_h5_mem_type(r->type), H5S_ALL, H5S_ALL, H5P_DEFAULT, r->base) < 0)
        return sal_h5_error(SAL_ERR_HDF5, "cannot write %s", where);
    return SAL_OK;
}

/* Differential writes of one dataset: hashes for nchunks chunks, and (reuse) the ones its reused
 * dataset records, when it records them for as many chunks. *use = 0 when the region keeps no
 * hashes (too many chunks, or a byte order that goes through HDF5's pipeline). */
static int diff_prepare(hid_t dset, const char *where, const sal_region_t *r, int reuse,
                        const sal_h5_write_opts_t *o, int64_t nchunks, sal_h5_diff_t *d,
                        int64_t **old, int *use)
{
    *use = nchunks <= SAL_H5_DIFF_MAX_CHUNKS && !o->compression &&
           H5Tequal(sal_h5_file_type(r->type), sal_h5_mem_type(r->type)) > 0;
    *old = NULL;
    memset(d, 0, sizeof(*d));
    if (!*use)
        return SAL_OK;
    d->nchunks = nchunks;
    d->dirty = o->dirty;
    d->since = o->dirty_since;
    d->hash = malloc((size_t)nchunks * sizeof(int64_t));
    *old = reuse && H5Aexists(dset, CHUNK_HASHES) > 0 ? malloc((size_t)nchunks * sizeof(int64_t))
                                                      : NULL;
    if (!d->hash || (reuse && H5Aexists(dset, CHUNK_HASHES) > 0 && !*old))
        return sal_error(SAL_ERR_NOMEM, "%s: chunk hashes", where);
    /* hashes of another chunk count, or unreadable: every chunk is written */
    if (*old && sal_h5_get_i64v(dset, where, CHUNK_HASHES, *old, (int)nchunks) == SAL_OK)
        d->old = *old;
    return SAL_OK;
}

/* The data of a non-empty region and, with o->differential, its chunk hashes. A reused dataset's
 * hashes that would no longer describe its chunks are deleted before any chunk is written. */
static int write_region_data(hid_t dset, const char *where, int reuse, const sal_region_t *r,
                             const sal_h5_stored_t *s, const hsize_t *chunk, int cut,
                             sal_h5_write_opts_t *o)
{
    sal_h5_diff_t d;
    int64_t *old = NULL;
    int use = 0, rc = SAL_OK;

    if (o->differential)
        rc = diff_prepare(dset, where, r, reuse, o, sal_h5_chunk_count(s, chunk, cut), &d, &old,
                          &use);
    if (rc == SAL_OK && reuse && H5Aexists(dset, CHUNK_HASHES) > 0 &&
        H5Adelete(dset, CHUNK_HASHES) < 0)
        rc = sal_h5_error(SAL_ERR_HDF5, "%s: cannot remove attribute %s", where, CHUNK_HASHES);
    if (rc == SAL_OK)
        rc = write_data(dset, where, r, s, chunk, cut, use ? &d : NULL, o->compression);
    if (rc == SAL_OK && use)
        rc = sal_h5_put_i64v(dset, where, CHUNK_HASHES, d.hash, (int)d.nchunks);
    if (use) {
        o->skipped += d.skipped;
        o->unread += d.unread;
    }
    free(old);
    free(use ? d.hash : NULL);
    return rc;
}

static hid_t create_dataset(hid_t file, const sal_region_t *r, const sal_h5_stored_t *s,
                            const hsize_t *chunk, int64_t elems, int comp)
{
    hid_t space = H5Screate_simple(s->ndims, s->count, NULL);
    hid_t dcpl = make_dcpl(s, chunk, elems, comp);
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
static int dataset_reusable(hid_t dset, const sal_region_t *r, const sal_h5_stored_t *s,
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
static hid_t region_dataset(hid_t file, int reuse, int comp, const sal_region_t *r,
                            const sal_h5_stored_t *s, const hsize_t *chunk, int64_t elems,
                            int *mismatch)
{
    hid_t dset;

    if (!reuse)
        return create_dataset(file, r, s, chunk, elems, comp);
    dset = H5Lexists(file, r->name, H5P_DEFAULT) > 0 ? H5Dopen2(file, r->name, H5P_DEFAULT)
                                                     : H5I_INVALID_HID;
    /* The `local` attribute is only ever added: a file whose flag differs is not reused. */
    if (dset >= 0 && dataset_reusable(dset, r, s, chunk, elems) &&
        (H5Aexists(dset, "local") > 0) == (r->local != 0))
        return dset;
    if (dset >= 0)
        H5Dclose(dset);
    *mismatch = 1;
    return H5I_INVALID_HID;
}

static int write_region(hid_t file, int reuse, const char *path, const sal_rank_meta_t *meta,
                        const sal_region_t *r, int *mismatch, sal_h5_write_opts_t *o)
{
    char where[SAL_H5_WHERE_MAX];
    sal_h5_stored_t s;
    hsize_t chunk[SAL_MAX_DIMS];
    int64_t elems = sal_region_elems(r);
    hid_t dset;
    int rc = SAL_OK, cut = 0;

    snprintf(where, sizeof(where), "%s dataset %s", path, r->name);
    sal_h5_stored_shape(r, meta->rank, meta->nranks, &s);
    if (elems > 0)
        cut = chunk_shape(&s, sal_type_size(r->type), chunk);
    dset = region_dataset(file, reuse, o->compression, r, &s, chunk, elems, mismatch);
    if (dset < 0)
        return *mismatch ? SAL_ERR_HDF5 : sal_h5_error(SAL_ERR_HDF5, "cannot create %s", where);
    rc = put_region_attrs(dset, where, r, &s);
    if (rc == SAL_OK && elems > 0)
        rc = write_region_data(dset, where, reuse, r, &s, chunk, cut, o);
    if (H5Dclose(dset) < 0 && rc == SAL_OK)
        rc = sal_h5_error(SAL_ERR_HDF5, "cannot close %s", where);
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
    fapl = sal_h5_fapl();
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
                          const sal_region_t *regions, int nregions, int *mismatch,
                          sal_h5_write_opts_t *o)
{
    int rc = put_root_attrs(file, path, meta);

    for (int i = 0; i < nregions && rc == SAL_OK; i++)
        rc = write_region(file, reuse, path, meta, &regions[i], mismatch, o);
    return rc;
}

/* Whether the file (NULL: a new one) is of checkpoint id, by its attribute id. */
static int holds_checkpoint(hid_t file, const char *reuse, int64_t id)
{
    int64_t v = -1;

    return reuse && sal_h5_get_i64(file, reuse, "id", &v) == SAL_OK && v == id;
}

/* One attempt: into the file reuse (when not NULL) or a new one. *mismatch (reuse only): reuse
 * could not be used, nothing was reported, the caller writes a new file. */
static int write_rank_once(const char *path, const char *reuse, const sal_rank_meta_t *meta,
                           const sal_region_t *regions, int nregions, int64_t need, int *mismatch,
                           sal_h5_write_opts_t *o)
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
    o->skipped = o->unread = 0;
    if (o->dirty && !holds_checkpoint(file, reuse, o->dirty_since))
        o->dirty = NULL;
    rc = write_contents(file, reuse != NULL, path, meta, regions, nregions, mismatch, o);
    if (rc == SAL_OK)
        return sal_h5_commit_tmp(file, tmp, path);
    sal_h5_discard_tmp(file, tmp);
    return rc;
}

int sal_h5_write_rank_opts(const char *path, const sal_rank_meta_t *meta,
                           const sal_region_t *regions, int nregions, int64_t *bytes,
                           sal_h5_write_opts_t *o)
{
    sal_h5_quiet_t quiet;
    int64_t need = 0;
    int mismatch = 0, rc = check_write_args(path, meta, regions, nregions);

    o->reused = 0;
    o->skipped = o->unread = 0;
    if (o->compression)
        o->reuse = NULL; /* compressed chunks change size: always a new file */
    if (rc != SAL_OK)
        return rc;
    for (int i = 0; i < nregions; i++)
        need += sal_region_elems(&regions[i]) * (int64_t)sal_type_size(regions[i].type);
    sal_h5_quiet(&quiet);
    if (o->reuse) {
        rc = write_rank_once(path, o->reuse, meta, regions, nregions, need, &mismatch, o);
        if (rc != SAL_OK && mismatch)
            SAL_LOG_D("%s: not reused for %s (another layout), writing a new file", o->reuse, path);
        else if (rc == SAL_OK)
            o->reused = 1;
    }
    if (!o->reuse || mismatch)
        rc = write_rank_once(path, NULL, meta, regions, nregions, need, &mismatch, o);
    if (rc == SAL_OK && bytes)
        *bytes = need; /* the bytes of every region, all in the file */
    sal_h5_restore(&quiet);
    return rc;
}

int sal_h5_write_rank_reusing(const char *path, const char *reuse, const sal_rank_meta_t *meta,
                              const sal_region_t *regions, int nregions, int64_t *bytes,
                              int *reused)
{
    sal_h5_write_opts_t o = {.reuse = reuse};
    int rc = sal_h5_write_rank_opts(path, meta, regions, nregions, bytes, &o);

    if (reused)
        *reused = o.reused;
    return rc;
}

int sal_h5_write_rank(const char *path, const sal_rank_meta_t *meta, const sal_region_t *regions,
                      int nregions, int64_t *bytes)
{
    return sal_h5_write_rank_reusing(path, NULL, meta, regions, nregions, bytes, NULL);
}
