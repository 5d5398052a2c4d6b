/*
 * Restore: rank 0 proposes committed checkpoints newest first (the one `latest` names, then older
 * ones); every rank loads the proposal and the ranks agree; the first checkpoint every rank could load
 * wins. Everything read is validated; a bad file makes the ranks fall back to the previous checkpoint.
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "ckpt_impl.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"

/* Rank 0: committed checkpoint ids, newest first: those not newer than `latest`. Without a readable
 * `latest`, every directory whose manifest exists is a candidate (the pointer may be the damaged part). */
static int candidates(struct sal_ckpt *ck, int64_t *ids, int *n)
{
    int64_t latest = -1;
    int rc = sal_latest_read(ck->job_dir, &latest), all, k = 0;

    if (rc == SAL_ERR_NO_CKPT) {
        *n = 0;
        return SAL_OK;
    }
    if (rc != SAL_OK) {
        SAL_LOG_W("%s; considering every checkpoint directory with a manifest", sal_last_error());
        latest = INT64_MAX;
    }
    rc = sal_ckpt_list_dirs(ck->job_dir, ids, SAL_MAX_LISTED, &all);
    if (rc != SAL_OK)
        return rc;
    for (int i = 0; i < all; i++)
        if (ids[i] <= latest)
            ids[k++] = ids[i];
    *n = k;
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
            sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5: region \"%s\" has another type or shape than "
                      "the protected one", dir, r->name);
            return NULL;
        }
        return mr;
    }
    sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5: protected region \"%s\" is not in the checkpoint", dir,
              r->name);
    return NULL;
}

/* N->M path: each region's block read through the manifest's virtual datasets. A scalar takes the value
 * of the old rank with the same number, or of the last old rank. */
static int load_through_manifest(struct sal_ckpt *ck, const sal_manifest_t *m, const char *dir, int me)
{
    for (int i = 0; i < ck->nregions; i++) {
        sal_region_t *r = &ck->regions[i];
        int rc;
        if (r->scalar) {
            int64_t off = me < m->nranks ? me : m->nranks - 1, one = 1;
            rc = sal_manifest_read_block(dir, r->name, r->type, 1, &off, &one, r->base);
        } else {
            rc = sal_manifest_read_block(dir, r->name, r->type, r->ndims, r->offset, r->count, r->base);
        }
        if (rc != SAL_OK)
            return rc;
    }
    return SAL_OK;
}

/* Local: loads checkpoint id into the protected regions. [OUT] *step. */
static int load(struct sal_ckpt *ck, int64_t id, int64_t *step)
{
    char dir[PATH_MAX], path[PATH_MAX];
    sal_manifest_t m;
    int me = sal_comm_rank(ck->comm), size = sal_comm_size(ck->comm), rc;

    memset(&m, 0, sizeof(m));
    rc = sal_ckpt_dir_path(ck, id, dir, sizeof(dir));
    if (rc == SAL_OK)
        rc = sal_manifest_read(dir, &m);
    for (int i = 0; rc == SAL_OK && i < ck->nregions; i++)
        if (!find_region(&m, &ck->regions[i], dir))
            rc = SAL_ERR_CORRUPT;
    if (rc == SAL_OK && m.nranks == size) {
        sal_rank_meta_t expect = {.id = id, .step = m.step, .rank = me, .nranks = size};
        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, me);
        if (rc == SAL_OK)
            rc = sal_h5_read_rank(path, &expect, ck->regions, ck->nregions);
    } else if (rc == SAL_OK) {
        rc = load_through_manifest(ck, &m, dir, me);
    }
    if (rc == SAL_OK)
        *step = m.step;
    sal_manifest_free(&m);
    return rc;
}

int sal_ckpt_restore(sal_ckpt_t ck, int64_t *step_out, int64_t *id_out)
{
    int64_t ids[SAL_MAX_LISTED], cand = -1, step = 0;
    int n = 0, me, next = 0;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    me = sal_comm_rank(ck->comm);
    if (me == 0 && candidates(ck, ids, &n) != SAL_OK)
        SAL_LOG_E("%s", sal_last_error());
    for (;;) {
        int ok, rc;
        if (me == 0)
            cand = next < n ? ids[next++] : -1;
        if (MPI_Bcast(&cand, 1, MPI_INT64_T, 0, ck->comm) != MPI_SUCCESS)
            return sal_error(SAL_ERR_PROC_FAILED, "broadcast of the checkpoint to restore failed");
        if (cand < 0)
            return sal_error(SAL_ERR_NO_CKPT, "no committed checkpoint in %s can be restored",
                             ck->job_dir);
        sal_inject_point(ck->inject, me, ck->step_hint, SAL_INJ_RESTORE);
        ok = load(ck, cand, &step) == SAL_OK;
        if (!ok)
            SAL_LOG_E("cannot restore checkpoint %lld: %s", (long long)cand, sal_last_error());
        rc = sal_agree(ck->comm, &ok);
        if (rc != SAL_OK)
            return sal_error(SAL_ERR_PROC_FAILED, "agreement on restoring checkpoint %lld failed",
                             (long long)cand);
        if (ok)
            break;
        if (me == 0)
            SAL_LOG_W("checkpoint %lld is not readable by every rank; trying an older one",
                      (long long)cand);
    }
    if (step_out)
        *step_out = step;
    if (id_out)
        *id_out = cand;
    return SAL_OK;
}
