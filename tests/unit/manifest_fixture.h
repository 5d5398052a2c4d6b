/*
 * What the manifest tests share (test_manifest.c, test_manifest_damaged.c): a checkpoint of four
 * rank files of a 6x8 array split 2x2 ("u.field"), a 1-D array with empty blocks ("w") and a scalar
 * ("t"), its manifest, and block reads through it compared with the global data.
 */
#ifndef SAL_TEST_MANIFEST_FIXTURE_H
#define SAL_TEST_MANIFEST_FIXTURE_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "unit_main.h"

#include "manifest.h"

enum { ROWS = 6, COLS = 8, NR = 4, NREG = 3, WLEN = 6, CKPT_ID = 3, STEP = 30 };

/* The suite's temporary directory, the current checkpoint directory (set by fresh_checkpoint) and
 * the working directory the suite started in. */
extern char tmpdir[PATH_MAX], ckdir[PATH_MAX], startdir[PATH_MAX];
/* The global arrays the rank files hold blocks of (filled by suite_init). */
extern double global[ROWS][COLS];
extern int wglobal[WLEN];

/* Writes the four rank files into ckdir. */
void write_rank_files(void);

/* The manifest commit.c would build from the four ranks. [OUT] m (free with sal_manifest_free). */
void build_manifest(sal_manifest_t *m);

/* Writes that manifest into ckdir. */
void write_manifest(void);

/* Per-rank data "hist" (sal_ckpt_protect_local): rank r keeps local_size(r) bytes, those of lglobal
 * from local_start(r) on, LOCAL_TOTAL in all. */
enum { LOCAL_TOTAL = 100 * (1 + 2 + 3 + 4) + 3 * NR };
extern unsigned char lglobal[LOCAL_TOTAL];
int64_t local_size(int r);
int64_t local_start(int r);

/* The manifest of a checkpoint whose only region is "hist": a byte array concatenating the
 * ranks' bytes. [OUT] m (free with sal_manifest_free). */
void build_local_manifest(sal_manifest_t *m);

/* A fresh checkpoint directory <tmpdir>/<name>/ckpt.3 of "hist" alone: rank files and manifest. */
void fresh_local_checkpoint(const char *name);

/* Makes tmpdir and fills the global arrays; goes back to startdir and removes tmpdir. */
int suite_init(void);
int suite_clean(void);

/* A fresh checkpoint directory <tmpdir>/<name>/ckpt.3 with rank files and manifest. */
void fresh_checkpoint(const char *name);

/* buf (PATH_MAX bytes) = ckdir/name. */
void ck_path(char *buf, const char *name);

/* Reads u rows [r0, r0+nr) x cols [c0, c0+nc) through the manifest of dir and compares. */
void check_u_block(const char *dir, int64_t r0, int64_t c0, int64_t nr, int64_t nc);

#endif
