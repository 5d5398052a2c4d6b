/*
 * The set-aside record <job_dir>/set_aside (docs/format.md, "Restart from a chosen checkpoint"):
 * the committed checkpoints a restart from an older one (key restart_from) left newer than it. They
 * belong to no chain the job continues: a restore never falls back to them, retention neither
 * deletes nor counts them, and their files are never reused. Only `salrun ckpt prune` deletes them.
 *
 * Text, one line per restart: "<from> <to>\n", decimal ids, from < to: the checkpoints with
 * from < id <= to are set aside. Part of the MPI-free base: salrun-ckpt reads it as well.
 */
#ifndef SAL_ASIDE_H
#define SAL_ASIDE_H

#include <stdint.h>

#define SAL_ASIDE_MAX 64 /* lines kept; a record with more is refused as malformed */

typedef struct sal_aside {
    int n;
    int unknown; /* the record exists but cannot be read: every checkpoint may be set aside */
    int64_t from[SAL_ASIDE_MAX], to[SAL_ASIDE_MAX];
} sal_aside_t;

/* Local: reads the record of job_dir into *a. SAL_OK with a->n = 0 when there is none; on any other
 * failure (SAL_ERR_IO, SAL_ERR_CORRUPT, naming the file and the cause) a->unknown is set. */
int sal_aside_load(const char *job_dir, sal_aside_t *a);

/* Whether checkpoint id is set aside by a (1 for every id when a->unknown). */
int sal_aside_has(const sal_aside_t *a, int64_t id);

/* Local: records a restart from checkpoint `from` when `to` (> from) was the newest committed one.
 * Lines of earlier restarts that end above `from` are dropped: `from` and the checkpoints it was
 * written after form the job's chain again, and those above it are in the new line. Idempotent, so
 * that every rank of a host may call it (each write is atomic, of the same text). */
int sal_aside_record(const char *job_dir, int64_t from, int64_t to);

#endif
