/*
 * The per-rank records of the commit (commit.c, steps 4 to 6): what each rank reports to rank 0
 * once its file is written (status, bytes, a signature of its regions, whether it reused a file,
 * the block of each region), rank 0's check of them and the manifest it builds from them.
 */
#ifndef SAL_COMMIT_RECORDS_H
#define SAL_COMMIT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "ckpt_impl.h"
#include "manifest.h"

/* Number of int64_t in one rank's record. */
size_t sal_commit_record_len(const struct sal_ckpt *ck);
/* This rank's record into rec (sal_commit_record_len elements): ok, bytes and its regions. */
void sal_commit_fill_record(const struct sal_ckpt *ck, int ok, int64_t bytes, int64_t *rec);
/* Rank 0: 1 when every rank of recs wrote its file and protects the same regions as rank 0 (an
 * error line names a rank that does not); [OUT] *bytes: the total; counts the reused files. */
int sal_commit_records_ok(struct sal_ckpt *ck, const int64_t *recs, int nranks, int64_t *bytes);
/* Rank 0: the manifest's regions and their layout from the gathered records. SAL_OK or
 * SAL_ERR_NOMEM (m's regions are then freed by sal_manifest_free). */
int sal_commit_build_manifest(const struct sal_ckpt *ck, const int64_t *recs, int nranks,
                              sal_manifest_t *m);

#endif
