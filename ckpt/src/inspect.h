/*
 * Whole-checkpoint checks shared by the tools that inspect a checkpoint without running a job
 * (`salrun ckpt verify`, the tests' ckpt_tool): a rank file read with the library's reader against
 * the manifest's layout, data and Fletcher32 checksums included. Local; no MPI call.
 */
#ifndef SAL_INSPECT_H
#define SAL_INSPECT_H

#include "manifest.h"

/* Reads path as rank r's file of the checkpoint m describes: every region of the manifest, with
 * the block the manifest's layout gives rank r, its data read and verified (Fletcher32), and the
 * root attributes id, step, rank and nranks compared with m. SAL_OK, else SAL_ERR_CORRUPT /
 * SAL_ERR_IO / SAL_ERR_NOMEM naming path and the cause (sal_last_error()). */
int sal_inspect_rank_file(const char *path, const sal_manifest_t *m, int r);

/* sal_inspect_rank_file for every <ckpt_dir>/rank.<r>.h5, r = 0 .. m->nranks - 1; stops at the
 * first failure. */
int sal_inspect_rank_files(const char *ckpt_dir, const sal_manifest_t *m);

#endif
