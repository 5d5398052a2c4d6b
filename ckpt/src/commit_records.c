/* The per-rank records of the commit and the manifest rank 0 builds from them (commit_records.h).
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "commit_records.h"
#include "log.h"

/* Per-rank record gathered by rank 0: status, bytes, signature, then offset/count per region. */
enum {
    REC_OK = 0,
    REC_BYTES = 1,
    REC_SIG = 2,
    REC_REUSED = 3,
    REC_UNCHANGED = 4,
    REC_UNREAD = 5,
    REC_HEAD = 6
};

size_t sal_commit_record_len(const struct sal_ckpt *ck)
{
    return REC_HEAD + (size_t)ck->nregions * 2 * SAL_MAX_DIMS;
}

/* FNV-1a over the regions' names, types and global shapes: equal on every rank of a sane program.
 */
static int64_t region_signature(const struct sal_ckpt *ck)
{
    uint64_t h = 1469598103934665603ULL;

    for (int i = 0; i < ck->nregions; i++) {
        const sal_region_t *r = &ck->regions[i];
        int64_t words[2 + SAL_MAX_DIMS] = {r->type, r->scalar ? -1 : r->local ? -2 : r->ndims};
        const unsigned char *p;
        for (int d = 0; !r->local && d < r->ndims; d++) /* per-rank sizes may differ */
            words[2 + d] = r->gdims[d];
        for (p = (const unsigned char *)r->name; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        for (p = (const unsigned char *)words;
             p < (const unsigned char *)(words + 2 + SAL_MAX_DIMS); p++)
            h = (h ^ *p) * 1099511628211ULL;
    }
    return (int64_t)(h >> 1);
}

void sal_commit_fill_record(const struct sal_ckpt *ck, int ok, int64_t bytes, int64_t *rec)
{
    memset(rec, 0, sal_commit_record_len(ck) * sizeof(int64_t));
    rec[REC_OK] = ok;
    rec[REC_BYTES] = bytes;
    rec[REC_SIG] = region_signature(ck);
    rec[REC_REUSED] = ck->reused_mine;
    rec[REC_UNCHANGED] = ck->unchanged_mine;
    rec[REC_UNREAD] = ck->unread_mine;
    for (int i = 0; i < ck->nregions; i++) {
        int64_t *blk = rec + REC_HEAD + (size_t)i * 2 * SAL_MAX_DIMS;
        memcpy(blk, ck->regions[i].offset, SAL_MAX_DIMS * sizeof(int64_t));
        memcpy(blk + SAL_MAX_DIMS, ck->regions[i].count, SAL_MAX_DIMS * sizeof(int64_t));
    }
}

/* Per-rank data in the manifest: every rank's bytes one after the other, in rank order (the
 * gathered offsets, 0 on every rank, become the prefix sums of the sizes). */
static void concatenate(sal_manifest_region_t *mr, int nranks)
{
    int64_t end = 0;

    mr->local = 1;
    for (int p = 0; p < nranks; p++) {
        mr->offsets[p] = end;
        end += mr->counts[p];
    }
    mr->gdims[0] = end;
}

/* Rank 0: builds the manifest from the gathered records. Returns SAL_OK or an error. */
int sal_commit_build_manifest(const struct sal_ckpt *ck, const int64_t *recs, int nranks,
                              sal_manifest_t *m)
{
    size_t len = sal_commit_record_len(ck);

    m->nregions = ck->nregions;
    m->regions = calloc((size_t)ck->nregions + 1, sizeof(*m->regions));
    if (!m->regions)
        return sal_error(SAL_ERR_NOMEM, "manifest regions");
    for (int i = 0; i < ck->nregions; i++) {
        const sal_region_t *r = &ck->regions[i];
        sal_manifest_region_t *mr = &m->regions[i];
        memcpy(mr->name, r->name, sizeof(mr->name));
        mr->type = r->type;
        mr->scalar = r->scalar;
        mr->ndims = r->ndims;
        memcpy(mr->gdims, r->gdims, sizeof(mr->gdims));
        if (r->scalar)
            continue;
        mr->offsets = calloc((size_t)nranks * (size_t)r->ndims, sizeof(int64_t));
        mr->counts = calloc((size_t)nranks * (size_t)r->ndims, sizeof(int64_t));
        if (!mr->offsets || !mr->counts)
            return sal_error(SAL_ERR_NOMEM, "manifest layout");
        for (int p = 0; p < nranks; p++) {
            const int64_t *blk = recs + (size_t)p * len + REC_HEAD + (size_t)i * 2 * SAL_MAX_DIMS;
            memcpy(mr->offsets + (size_t)p * r->ndims, blk, (size_t)r->ndims * sizeof(int64_t));
            memcpy(mr->counts + (size_t)p * r->ndims, blk + SAL_MAX_DIMS,
                   (size_t)r->ndims * sizeof(int64_t));
        }
        if (r->local)
            concatenate(mr, nranks);
    }
    return SAL_OK;
}

/* Rank 0: checks the gathered records. Returns 1 when every rank wrote its file and the regions
 * match. */
int sal_commit_records_ok(struct sal_ckpt *ck, const int64_t *recs, int nranks, int64_t *bytes)
{
    size_t len = sal_commit_record_len(ck);
    int ok = 1;

    *bytes = 0;
    for (int p = 0; p < nranks; p++) {
        const int64_t *rec = recs + (size_t)p * len;
        *bytes += rec[REC_BYTES];
        ck->reused_ranks += rec[REC_REUSED] != 0;
        ck->unchanged_bytes += rec[REC_UNCHANGED];
        ck->unread_bytes += rec[REC_UNREAD];
        if (!rec[REC_OK])
            ok = 0;
        if (rec[REC_SIG] != recs[REC_SIG]) {
            SAL_LOG_E(
                "rank %d protects different regions than rank 0 (names, types or global shapes "
                "differ): every rank must protect the same regions in the same order",
                p);
            ok = 0;
        }
    }
    return ok;
}
