/*
 * Restore: the ranks pool what their hosts hold (every host keeps a `latest` pointer and its
 * checkpoint directories; L4 has its own), and rank 0 proposes the checkpoints not newer than the
 * newest `latest` of any host, newest first; every rank tries to obtain its data from the proposal
 * and the ranks agree; the first checkpoint every rank could load wins.
 *
 * Per rank the search is L1 (own file) -> L2 (the partner sends its copy back over MPI) -> L3 (XOR
 * reduction of the group's files and parity over MPI) -> L4 (the PFS copy), every read verified by
 * HDF5's Fletcher32. A rank without a node-local manifest receives it from one that has it. On
 * another rank count (N -> M) the missing rank files of the old layout are first rebuilt into the
 * (shared) checkpoint directory from partner copies or parity, then every rank reads its new block
 * through the manifest's virtual datasets (from L4 when the node-local manifest is gone).
 * Everything read is validated; each fallback is logged with the file and the reason.
 *
 * All or nothing: every read goes into a staging copy of the protected regions, and the
 * application's memory is written only after every rank agreed that it holds the same checkpoint.
 * A job with committed checkpoints none of which can be restored fails with SAL_ERR_UNRESTORABLE,
 * naming the checkpoints, the ranks whose data is missing and the levels that would have covered
 * them, and leaves the protected regions as they were.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "bound.h"
#include "ckpt_impl.h"
#include "ckpt_internal.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"

/* What one rank knows about the checkpoint being tried. */
typedef struct attempt {
    int64_t id;
    char dir[PATH_MAX];  /* node-local ckpt.<id> */
    char pdir[PATH_MAX]; /* L4 ckpt.<id>, "" when L4 is off */
    const char *mdir;    /* where the manifest was read: dir or pdir */
    sal_region_t *stage; /* the regions' staging copy that the reads fill (ck->nregions) */
    sal_levels_info_t info;
    sal_manifest_t m;
} attempt_t;

/* What rank 0 reports of a checkpoint that could not be restored. */
typedef struct tried {
    int64_t step; /* -1: unknown (no manifest) */
    int mask;     /* levels written, SAL_LVL_* */
} tried_t;

/* End markers of the proposal broadcast by rank 0. */
enum { END_NONE = -1, END_ALL_FAILED = -2 };

/* Checkpoint ids considered by a restore: the WINDOW newest at or below the newest `latest` of any
 * host. Retention keeps far fewer (keep, 2 by default). */
#define WINDOW 64

/* Local: sets bit (top - id) of *bits for every ckpt.<id> directory of job_dir in (top-WINDOW,
 * top]. */
static void mark_dirs(const char *job_dir, int64_t top, uint64_t *bits)
{
    int64_t ids[SAL_MAX_LISTED];
    int n = 0;

    if (sal_ckpt_list_dirs(job_dir, ids, SAL_MAX_LISTED, &n) != SAL_OK)
        return;
    for (int i = 0; i < n; i++)
        if (ids[i] <= top && top - ids[i] < WINDOW)
            *bits |= (uint64_t)1 << (top - ids[i]);
}

/* Collective: the committed checkpoints of the job as every host sees them together, newest
 * first: the directories of any host (node-local, and L4) not newer than the newest `latest` of
 * any host, so that the loss of one host, rank 0's included, loses no committed checkpoint.
 * [OUT] ids, *n; *had = 1 when the job committed a checkpoint (a `latest` exists somewhere).
 * SAL_OK or SAL_ERR_PROC_FAILED. */
static int candidates(struct sal_ckpt *ck, int64_t *ids, int *n, int *had)
{
    int64_t v[2], w[2], top;
    uint64_t bits = 0;
    double t0 = sal_mono_now();

    sal_job_view(ck->job_dir, &v[0], &v[1]);
    if (ck->pfs_job[0]) {
        sal_job_view(ck->pfs_job, &w[0], &w[1]);
        v[0] = w[0] > v[0] ? w[0] : v[0];
        v[1] = w[1] > v[1] ? w[1] : v[1];
    }
    sal_bound_credit_since(t0);
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    *had = v[0] >= 0;
    /* A `latest` may name a directory that is gone: the window starts at the newest that exists. */
    top = v[0] < v[1] ? v[0] : v[1];
    t0 = sal_mono_now();
    if (top >= 0) {
        mark_dirs(ck->job_dir, top, &bits);
        if (ck->pfs_job[0])
            mark_dirs(ck->pfs_job, top, &bits);
    }
    sal_bound_credit_since(t0);
    if (MPI_Allreduce(MPI_IN_PLACE, &bits, 1, MPI_UINT64_T, MPI_BOR, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    *n = 0;
    for (int k = 0; k < WINDOW; k++)
        if (bits & ((uint64_t)1 << k))
            ids[(*n)++] = top - k;
    return SAL_OK;
}

int sal_ckpt_any_committed(sal_ckpt_t ck, int *any)
{
    int64_t v[2], w[2];

    if (!ck || !any)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL argument");
    sal_job_view(ck->job_dir, &v[0], &v[1]);
    if (ck->pfs_job[0]) {
        sal_job_view(ck->pfs_job, &w[0], &w[1]);
        v[0] = w[0] > v[0] ? w[0] : v[0];
    }
    if (MPI_Allreduce(MPI_IN_PLACE, v, 1, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the committed checkpoints failed");
    *any = v[0] >= 0;
    return SAL_OK;
}

static const sal_manifest_region_t *find_region(const sal_manifest_t *m, const sal_region_t *r,
                                                const char *dir)
{
    for (int i = 0; i < m->nregions; i++) {
        const sal_manifest_region_t *mr = &m->regions[i];
        if (strcmp(mr->name, r->name) != 0)
            continue;
        if (mr->type != r->type || mr->scalar != r->scalar || mr->ndims != r->ndims ||
            (!r->scalar && memcmp(mr->gdims, r->gdims, (size_t)r->ndims * sizeof(int64_t)) != 0)) {
            sal_error(SAL_ERR_CORRUPT,
                      "%s/manifest.h5: region \"%s\" has another type or shape than "
                      "the protected one",
                      dir, r->name);
            return NULL;
        }
        return mr;
    }
    sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5: protected region \"%s\" is not in the checkpoint",
              dir, r->name);
    return NULL;
}

/* N->M path: each region's block read through the manifest's virtual datasets into the staging
 * copy. A scalar takes the value of the old rank with the same number, or of the last old rank. */
static int load_through_manifest(const struct sal_ckpt *ck, const attempt_t *a, const char *dir,
                                 int me)
{
    const sal_manifest_t *m = &a->m;
    double t0 = sal_mono_now();

    for (int i = 0; i < ck->nregions; i++) {
        sal_region_t *r = &a->stage[i];
        int rc;
        if (r->scalar) {
            int64_t off = me < m->nranks ? me : m->nranks - 1, one = 1;
            rc = sal_manifest_read_block(dir, r->name, r->type, 1, &off, &one, r->base);
        } else {
            rc = sal_manifest_read_block(dir, r->name, r->type, r->ndims, r->offset, r->count,
                                         r->base);
        }
        if (rc != SAL_OK)
            return rc;
    }
    sal_bound_credit_since(t0);
    return SAL_OK;
}

/* Collective: the lowest rank that can read the levels record (node-local, else L4; every host
 * keeps one) broadcasts it; every rank parses it into a->info. Without a record a->info.mask is L1
 * only. */
static int share_levels(struct sal_ckpt *ck, int me, attempt_t *a)
{
    char *text = NULL;
    size_t len = 0;
    int64_t n = -1;
    int rc, src;
    double t0 = sal_mono_now();

    if (sal_levels_load_text(a->dir, &text, &len) == SAL_OK ||
        (a->pdir[0] && sal_levels_load_text(a->pdir, &text, &len) == SAL_OK))
        n = (int64_t)len;
    sal_bound_credit_since(t0);
    src = n >= 0 ? me : INT_MAX;
    rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, &src, 1, MPI_INT, MPI_MIN, ck->comm));
    if (rc == SAL_OK && src != INT_MAX)
        rc = sal_mpi_status(MPI_Bcast(&n, 1, MPI_INT64_T, src, ck->comm));
    else
        n = -1;
    if (rc == SAL_OK && me != src && n > 0) {
        free(text);
        text = malloc((size_t)n + 1);
        rc = text ? SAL_OK : sal_error(SAL_ERR_NOMEM, "levels record");
    }
    if (rc == SAL_OK && n > 0) {
        rc = sal_mpi_status(MPI_Bcast(text, (int)n, MPI_CHAR, src, ck->comm));
        text[n] = '\0';
    }
    a->info.mask = SAL_LVL_L1;
    if (rc == SAL_OK && n > 0 && sal_levels_parse_text(a->dir, text, &a->info) != SAL_OK) {
        if (me == 0)
            SAL_LOG_W("ignoring the levels record: %s; restoring from L1/L4 only",
                      sal_last_error());
        a->info.mask = SAL_LVL_L1;
    }
    free(text);
    return rc;
}

/* Collective: rank src (the lowest rank with a valid node-local manifest) sends its file to every
 * rank; those without one store it as their node-local <dir>/manifest.h5 and read it. Rank 0
 * publishes the manifest on its own host only, so with node-local directories the other hosts
 * obtain it here. [INOUT] *have. */
static int receive_manifest(struct sal_ckpt *ck, int me, int src, attempt_t *a, int *have)
{
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    int64_t n = -1;
    int rc = sal_path_join(path, sizeof(path), "%s/manifest.h5", a->dir);

    if (me == src && rc == SAL_OK && sal_slurp(path, &buf, &len) == SAL_OK && len < INT_MAX)
        n = (int64_t)len;
    rc = sal_mpi_status(MPI_Bcast(&n, 1, MPI_INT64_T, src, ck->comm));
    if (rc == SAL_OK && me != src && n > 0 && !(buf = malloc((size_t)n)))
        rc = sal_error(SAL_ERR_NOMEM, "manifest of %lld bytes", (long long)n);
    if (rc == SAL_OK && n > 0)
        rc = sal_mpi_status(MPI_Bcast(buf, (int)n, MPI_BYTE, src, ck->comm));
    if (rc == SAL_OK && !*have && n > 0 && sal_mkdir_p(a->dir, 0700) == SAL_OK &&
        sal_write_file_atomic(path, buf, (size_t)n, 0600) == SAL_OK) {
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        *have = sal_manifest_read(a->dir, &a->m) == SAL_OK;
        if (*have)
            SAL_LOG_I("checkpoint %lld: manifest received from rank %d", (long long)a->id, src);
    }
    free(buf);
    return rc;
}

/* Collective: every rank reads the manifest (node-local, else received from another rank, else
 * L4) and checks the protected regions against it. [OUT] *mok. */
static int share_manifest(struct sal_ckpt *ck, int me, attempt_t *a, int *mok)
{
    char why[512] = "";
    double t0 = sal_mono_now();
    int have = sal_manifest_read(a->dir, &a->m) == SAL_OK, v[2], rc;

    sal_bound_credit_since(t0);
    if (!have)
        snprintf(why, sizeof(why), "%s", sal_last_error());
    v[0] = have ? me : INT_MAX; /* lowest rank holding a manifest */
    v[1] = have ? 0 : -1;       /* -1: some rank lacks one */
    rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MIN, ck->comm));
    if (rc == SAL_OK && v[1] < 0 && v[0] != INT_MAX)
        rc = receive_manifest(ck, me, v[0], a, &have);
    a->mdir = a->dir;
    if (rc == SAL_OK && !have && a->pdir[0]) {
        SAL_LOG_W("%s; using the L4 copy in %s", why, a->pdir);
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        have = sal_manifest_read(a->pdir, &a->m) == SAL_OK;
        a->mdir = a->pdir;
    } else if (!have) {
        sal_error(SAL_ERR_CORRUPT, "%s", why);
    }
    for (int i = 0; have && i < ck->nregions; i++)
        if (!find_region(&a->m, &ck->regions[i], a->mdir))
            have = 0;
    *mok = have;
    return rc;
}

/* Local: reads rank file r of dir into the regions, logging the reason of a failure. */
static int read_own(struct sal_ckpt *ck, const attempt_t *a, const char *dir, const char *level)
{
    char path[PATH_MAX];
    sal_rank_meta_t expect = {.id = a->id,
                              .step = a->m.step,
                              .rank = sal_comm_rank(ck->comm),
                              .nranks = sal_comm_size(ck->comm)};
    int rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, expect.rank);
    double t0 = sal_mono_now();

    /* A missing L1 file is what the loss of a host (or a relaunch on another one) leaves: the
     * other levels are there for it, and it is no damage worth a warning. */
    if (rc == SAL_OK && strcmp(level, "L1") == 0 && access(path, F_OK) != 0 && errno == ENOENT) {
        SAL_LOG_I("checkpoint %lld: no node-local file %s on this host; trying the other levels",
                  (long long)a->id, path);
        return sal_error(SAL_ERR_NOT_FOUND, "%s does not exist", path);
    }
    if (rc == SAL_OK)
        rc = sal_h5_read_rank(path, &expect, a->stage, ck->nregions);
    sal_bound_credit_since(t0);
    if (rc != SAL_OK)
        SAL_LOG_W("checkpoint %lld, %s: %s", (long long)a->id, level, sal_last_error());
    else if (strcmp(level, "L1") != 0)
        SAL_LOG_I("checkpoint %lld: rank file restored from %s", (long long)a->id, level);
    return rc;
}

/* Collective: [OUT] need[r] = !ok of every rank; returns the number of ranks in need (< 0: MPI). */
static int gather_need(MPI_Comm comm, int ok, int *need, int size)
{
    int mine = !ok, count = 0;

    if (MPI_Allgather(&mine, 1, MPI_INT, need, 1, MPI_INT, comm) != MPI_SUCCESS)
        return -1;
    for (int r = 0; r < size; r++)
        count += need[r];
    return count;
}

/* Collective, same rank count: L1 -> L2 -> L3 -> L4 for every rank. [OUT] *ok. */
static int load_same_n(struct sal_ckpt *ck, attempt_t *a, int *ok)
{
    int size = sal_comm_size(ck->comm), got = 0, rc = SAL_OK;
    int *need = calloc((size_t)size, sizeof(int)), n;
    const sal_topo_t *t = &a->info.topo;

    if (!need)
        return sal_error(SAL_ERR_NOMEM, "restore status");
    *ok = read_own(ck, a, a->dir, "L1") == SAL_OK;
    if (!*ok && sal_mkdir_p(a->dir, 0700) != SAL_OK) /* the host's directory may be gone */
        SAL_LOG_W("checkpoint %lld: %s", (long long)a->id, sal_last_error());
    n = gather_need(ck->comm, *ok, need, size);
    if (n > 0 && (a->info.mask & SAL_LVL_L2) && t->nranks == size) {
        /* A fetch that returned counts as local work: the copies it moved are read and written
         * by the ranks that go on to the next exchange. */
        double t0 = sal_mono_now();
        rc = sal_l2_fetch(ck->comm, t, a->dir, need, &got);
        sal_bound_credit_since(t0);
        if (rc == SAL_OK && got)
            *ok = read_own(ck, a, a->dir, "L2 (partner copy)") == SAL_OK;
        n = rc == SAL_OK ? gather_need(ck->comm, *ok, need, size) : -1;
    }
    if (rc == SAL_OK && n > 0 && (a->info.mask & SAL_LVL_L3) && t->nranks == size) {
        double t0 = sal_mono_now();
        rc = sal_l3_fetch(ck->comm, t, a->dir, need, &got);
        sal_bound_credit_since(t0);
        if (rc == SAL_OK && got)
            *ok = read_own(ck, a, a->dir, "L3 (XOR rebuild)") == SAL_OK;
    }
    if (!*ok && a->pdir[0])
        *ok = read_own(ck, a, a->pdir, "L4") == SAL_OK;
    free(need);
    if (n < 0 || rc != SAL_OK)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                         (long long)a->id);
    return SAL_OK;
}

/* Local: makes <dir>/rank.<r>.h5 readable, rebuilding it from L2 or L3 when it is not. */
static int ensure_rank_file(const attempt_t *a, int r)
{
    char path[PATH_MAX];
    hid_t f;
    int rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", a->dir, r);

    if (rc == SAL_OK && sal_h5_open_input(path, &f) == SAL_OK) {
        H5Fclose(f);
        return SAL_OK;
    }
    SAL_LOG_W("checkpoint %lld: %s", (long long)a->id, sal_last_error());
    if ((a->info.mask & SAL_LVL_L2) && sal_l2_restore_file(a->dir, r) == SAL_OK &&
        sal_h5_open_input(path, &f) == SAL_OK) {
        H5Fclose(f);
        SAL_LOG_I("checkpoint %lld: %s restored from its partner copy", (long long)a->id, path);
        return SAL_OK;
    }
    if ((a->info.mask & SAL_LVL_L3) && sal_l3_rebuild_file(a->dir, &a->info.topo, r) == SAL_OK &&
        sal_h5_open_input(path, &f) == SAL_OK) {
        H5Fclose(f);
        SAL_LOG_I("checkpoint %lld: %s rebuilt from XOR parity", (long long)a->id, path);
        return SAL_OK;
    }
    return sal_error(SAL_ERR_CORRUPT,
                     "checkpoint %lld: %s is missing and could not be rebuilt from "
                     "L2 or L3",
                     (long long)a->id, path);
}

/* Collective, another rank count: rebuild missing old rank files (old rank r by new rank r mod
 * size), then read through the manifest, falling back to the L4 copy. [OUT] *ok. */
static int load_n_to_m(struct sal_ckpt *ck, attempt_t *a, int *ok)
{
    int me = sal_comm_rank(ck->comm), size = sal_comm_size(ck->comm), all = 1;

    if (a->mdir == a->dir) {
        double t0 = sal_mono_now();
        for (int r = me; r < a->m.nranks; r += size)
            if (ensure_rank_file(a, r) != SAL_OK)
                all = 0;
        sal_bound_credit_since(t0);
        if (MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, ck->comm) != MPI_SUCCESS)
            return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                             (long long)a->id);
        *ok = all && load_through_manifest(ck, a, a->dir, me) == SAL_OK;
        if (*ok || !a->pdir[0])
            return SAL_OK;
        SAL_LOG_W("checkpoint %lld: %s; trying the L4 copy", (long long)a->id, sal_last_error());
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        if (sal_manifest_read(a->pdir, &a->m) != SAL_OK) {
            *ok = 0;
            return SAL_OK;
        }
    }
    *ok = load_through_manifest(ck, a, a->pdir, me) == SAL_OK;
    return SAL_OK;
}

/* Collective: tries checkpoint id, reading into stage. [OUT] *ok (this rank's data is staged),
 * *tried (its step and levels, for the report when it cannot be restored). */
static int load(struct sal_ckpt *ck, int64_t id, sal_region_t *stage, int *ok, tried_t *tried)
{
    int me = sal_comm_rank(ck->comm), size = sal_comm_size(ck->comm), rc, mok;
    int range[2];
    attempt_t a;

    memset(&a, 0, sizeof(a));
    a.id = id;
    a.stage = stage;
    rc = sal_ckpt_dir_path(ck, id, a.dir, sizeof(a.dir));
    if (rc == SAL_OK && ck->pfs_job[0])
        rc = sal_path_join(a.pdir, sizeof(a.pdir), "%s/ckpt.%lld", ck->pfs_job, (long long)id);
    if (rc != SAL_OK)
        return rc;
    /* Files of a checkpoint this process committed in this run are its own: no child-process probe
     * (docs/format.md, "What a reader checks"). */
    sal_h5_set_probing(!(ck->own_first_id >= 0 && id >= ck->own_first_id));
    rc = share_levels(ck, me, &a);
    mok = 0;
    if (rc == SAL_OK)
        rc = share_manifest(ck, me, &a, &mok);
    if (rc != SAL_OK)
        rc = sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                       (long long)id);
    if (rc == SAL_OK && !mok)
        SAL_LOG_E("checkpoint %lld: %s", (long long)id, sal_last_error());
    range[0] = mok ? -a.m.nranks : 1;
    range[1] = mok ? a.m.nranks : -1;
    if (rc == SAL_OK &&
        MPI_Allreduce(MPI_IN_PLACE, range, 2, MPI_INT, MPI_MAX, ck->comm) != MPI_SUCCESS)
        rc = sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                       (long long)id);
    *ok = 0;
    if (rc == SAL_OK && range[0] == -range[1] && range[1] == size)
        rc = load_same_n(ck, &a, ok);
    else if (rc == SAL_OK && range[0] == -range[1] && range[1] > 0)
        rc = load_n_to_m(ck, &a, ok);
    sal_h5_set_probing(1);
    tried->step = mok ? a.m.step : -1;
    tried->mask = a.info.mask;
    sal_manifest_free(&a.m);
    sal_levels_info_free(&a.info);
    return rc;
}

static void stage_free(const struct sal_ckpt *ck, sal_region_t **stage)
{
    for (int i = 0; *stage && i < ck->nregions; i++)
        free((*stage)[i].base);
    free(*stage);
    *stage = NULL;
}

/* The staging copy of the protected regions: the same descriptors over buffers of the same size.
 * [OUT] *stage (free with stage_free). */
static int stage_alloc(const struct sal_ckpt *ck, sal_region_t **stage)
{
    sal_region_t *s = calloc((size_t)(ck->nregions > 0 ? ck->nregions : 1), sizeof(*s));
    size_t bytes = 0;
    int i = 0;

    *stage = s;
    if (!s)
        return sal_error(SAL_ERR_NOMEM, "restore staging descriptors");
    for (; i < ck->nregions; i++) {
        bytes = (size_t)sal_region_elems(&ck->regions[i]) * sal_type_size(ck->regions[i].type);
        s[i] = ck->regions[i];
        s[i].base = malloc(bytes ? bytes : 1);
        if (!s[i].base)
            goto out_free;
    }
    return SAL_OK;

out_free:
    stage_free(ck, stage);
    return sal_error(SAL_ERR_NOMEM,
                     "restore staging buffer of %zu bytes for region \"%s\" (a restore needs "
                     "the protected memory twice)",
                     bytes, ck->regions[i].name);
}

/* The agreed checkpoint into the application's memory. */
static void stage_commit(struct sal_ckpt *ck, const sal_region_t *stage)
{
    for (int i = 0; i < ck->nregions; i++)
        memcpy(ck->regions[i].base, stage[i].base,
               (size_t)sal_region_elems(&ck->regions[i]) * sal_type_size(ck->regions[i].type));
}

/* "2-3,7" of the ranks r with !ok[r], into buf. */
static void rank_ranges(const int *ok, int size, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int r = 0; r < size && used < len; r++) {
        int e = r;
        if (ok[r])
            continue;
        while (e + 1 < size && !ok[e + 1])
            e++;
        used += (size_t)snprintf(buf + used, len - used, e > r ? "%s%d-%d" : "%s%d",
                                 used ? "," : "", r, e);
        r = e;
    }
}

/* Collective, after the ranks disagreed on checkpoint id: rank 0 appends "ckpt <id> (step S, levels
 * L): no data for ranks R" to report (len bytes). SAL_OK or SAL_ERR_PROC_FAILED. */
static int report_missing(struct sal_ckpt *ck, int me, int ok, int64_t id, const tried_t *t,
                          char *report, size_t len)
{
    int size = sal_comm_size(ck->comm), *all = me == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    char ranks[256], lv[64], step[48] = "";
    size_t used = strlen(report);

    if (me == 0 && !all)
        return sal_error(SAL_ERR_NOMEM, "restore report");
    if (MPI_Gather(&ok, 1, MPI_INT, all, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS) {
        free(all);
        return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                         (long long)id);
    }
    if (me == 0 && used + 1 < len) {
        rank_ranges(all, size, ranks, sizeof(ranks));
        if (t->step >= 0)
            snprintf(step, sizeof(step), "step %lld, ", (long long)t->step);
        snprintf(report + used, len - used,
                 "%scheckpoint %lld (%slevels %s): no data for rank%s %s", used ? "; " : "",
                 (long long)id, step, sal_levels_name(t->mask, lv, sizeof(lv)),
                 strchr(ranks, ',') || strchr(ranks, '-') ? "s" : "", ranks);
    }
    free(all);
    return SAL_OK;
}

/* Rank 0: the levels a checkpoint written with mask lacked that would have covered the loss of
 * node-local files, or a note that every written level failed, into buf. */
static void uncovered(const struct sal_ckpt *ck, int mask, char *buf, size_t len)
{
    const char *l2 = (mask & SAL_LVL_L2) ? "" : ", L2 (a partner copy on another host)";
    const char *l3 = (mask & SAL_LVL_L3) ? "" : ", L3 (XOR parity across hosts)";
    const char *l4 = ck->pfs_job[0] ? "" : ", L4 (a copy in pfs_dir)";
    char list[192];

    snprintf(list, sizeof(list), "%s%s%s", l2, l3, l4);
    if (list[0])
        snprintf(buf, len, "levels that would have covered them: %s", list + 2);
    else
        snprintf(buf, len, "every level written failed for them (see the warnings above)");
}

/* Every rank: the SAL_ERR_UNRESTORABLE error, with rank 0's report shared so that each rank's
 * sal_last_error() names the checkpoints and the ranks. */
static int unrestorable(struct sal_ckpt *ck, int me, int count, int newest_mask, char *report,
                        size_t len)
{
    char cover[256] = "";

    if (me == 0)
        uncovered(ck, newest_mask, cover, sizeof(cover));
    if (MPI_Bcast(&count, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS ||
        MPI_Bcast(report, (int)len, MPI_CHAR, 0, ck->comm) != MPI_SUCCESS ||
        MPI_Bcast(cover, (int)sizeof(cover), MPI_CHAR, 0, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "broadcast of the restore report failed");
    report[len - 1] = '\0';
    cover[sizeof(cover) - 1] = '\0';
    return sal_error(SAL_ERR_UNRESTORABLE,
                     "job directory %s%s%s: none of the %d committed checkpoint%s can be restored "
                     "on every rank, and no protected region was changed: %s%s%s%s; bring the "
                     "lost files back and relaunch, or set restart=never to start over from step 0",
                     ck->job_dir, ck->pfs_job[0] ? " (L4: " : "", ck->pfs_job[0] ? ck->pfs_job : "",
                     count, count == 1 ? "" : "s",
                     report[0] ? report : "no checkpoint directory is left", cover[0] ? " (" : "",
                     cover, cover[0] ? ")" : "");
}

static int restore(struct sal_ckpt *ck, int64_t *step_out, int64_t *id_out);

int sal_ckpt_restore(sal_ckpt_t ck, int64_t *step_out, int64_t *id_out)
{
    int rc;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    /* Every exchange of the restore waits for peers that do the same local work as this rank: the
     * bound starts at protocol_timeout and grows with this rank's own reads
     * (sal_bound_credit_since). */
    sal_bound_enter("the protocol of the restore", 0);
    rc = restore(ck, step_out, id_out);
    sal_bound_leave();
    return rc;
}

static int restore(struct sal_ckpt *ck, int64_t *step_out, int64_t *id_out)
{
    int64_t ids[SAL_MAX_LISTED], cand = END_NONE;
    int n = 0, me, next = 0, had = 0, newest_mask = SAL_LVL_L1, rc, ok;
    char report[640] = "", what[96];
    double t0;
    sal_region_t *stage = NULL;
    tried_t tried = {-1, SAL_LVL_L1};

    me = sal_comm_rank(ck->comm);
    if (candidates(ck, ids, &n, &had) != SAL_OK)
        return SAL_ERR_PROC_FAILED;
    t0 = sal_mono_now();
    rc = stage_alloc(ck, &stage);
    sal_bound_credit_since(t0);
    ok = rc == SAL_OK;
    if (sal_agree(ck->comm, &ok) != SAL_OK) {
        stage_free(ck, &stage);
        return sal_error(SAL_ERR_PROC_FAILED, "agreement on the restore's staging memory failed");
    }
    if (!ok) {
        stage_free(ck, &stage);
        return rc != SAL_OK ? rc
                            : sal_error(SAL_ERR_NOMEM, "another rank could not allocate "
                                                       "its restore staging memory");
    }
    for (;;) {
        int mine, failed;
        if (me == 0)
            cand = next < n ? ids[next++] : had ? END_ALL_FAILED : END_NONE;
        if (MPI_Bcast(&cand, 1, MPI_INT64_T, 0, ck->comm) != MPI_SUCCESS) {
            rc = sal_error(SAL_ERR_PROC_FAILED, "broadcast of the checkpoint to restore failed");
            break;
        }
        if (cand == END_NONE) {
            rc = sal_error(SAL_ERR_NO_CKPT, "no committed checkpoint in %s%s%s", ck->job_dir,
                           ck->pfs_job[0] ? " or " : "", ck->pfs_job);
            break;
        }
        if (cand == END_ALL_FAILED) {
            rc = unrestorable(ck, me, n, newest_mask, report, sizeof(report));
            break;
        }
        sal_inject_point(ck->inject, me, ck->step_hint, SAL_INJ_RESTORE);
        t0 = sal_mono_now();
        /* Every rank reaches the agreement, whatever load's exchanges returned (commit.c says
         * why); a failure seen in them votes 0. */
        failed = load(ck, cand, stage, &ok, &tried) == SAL_ERR_PROC_FAILED;
        ok = ok && !failed;
        if (!ok && !failed)
            SAL_LOG_E("cannot restore checkpoint %lld on this rank", (long long)cand);
        mine = ok;
        snprintf(what, sizeof(what), "the agreement on restoring checkpoint %lld", (long long)cand);
        sal_bound_enter(what, sal_mono_now() - t0); /* peers read as much as this rank */
        rc = sal_agree(ck->comm, &ok);
        sal_bound_leave();
        if (rc != SAL_OK || failed) {
            rc = sal_error(SAL_ERR_PROC_FAILED, "agreement on restoring checkpoint %lld failed",
                           (long long)cand);
            break;
        }
        if (ok) {
            stage_commit(ck, stage);
            ck->last_committed = cand > ck->last_committed ? cand : ck->last_committed;
            break;
        }
        if (next == 1)
            newest_mask = tried.mask;
        rc = report_missing(ck, me, mine, cand, &tried, report, sizeof(report));
        if (rc != SAL_OK)
            break;
        if (me == 0)
            SAL_LOG_W("checkpoint %lld is not readable by every rank; trying an older one",
                      (long long)cand);
    }
    stage_free(ck, &stage);
    if (rc != SAL_OK)
        return rc;
    if (sal_interval_auto_failure(&ck->iauto, sal_mono_now()) && me == 0)
        SAL_LOG_I("interval=auto: MTBF estimate now %.0f s",
                  sal_interval_auto_mtbf(&ck->iauto, sal_mono_now()));
    if (step_out)
        *step_out = tried.step;
    if (id_out)
        *id_out = cand;
    return SAL_OK;
}
