/*
 * The message log of local rollback (docs/recovery.md, "Local rollback"): what one process keeps
 * of the messages it sent and of the collective results it got since the last committed checkpoint,
 * so that a replacement for a lost peer can re-execute its steps without the survivors rolling
 * back. No MPI here: entries are bytes with a header, appended in step order, so that dropping the
 * entries of the steps after a given one is a truncation.
 *
 * Lifecycle: sal_msglog_init -> any number of append / drop / truncate / find / next ->
 * sal_msglog_free. Not thread-safe (the thread that calls MPI owns it).
 */
#ifndef SAL_INTERPOSE_MSGLOG_H
#define SAL_INTERPOSE_MSGLOG_H

#include <stddef.h>
#include <stdint.h>

enum { SAL_MSGLOG_P2P = 1, SAL_MSGLOG_COLL = 2 };

/* One entry: a point-to-point message (src sent it to dst: ranks of the job's world) or the result
 * of a collective call on comm. seq counts the entries of the same kind, step, comm and, for a
 * message, src, dst and tag: 0 for the first of the step. */
typedef struct sal_msglog_hdr {
    int64_t step;  /* the step being computed (completed steps + 1) */
    uint32_t comm; /* the communicator's key (logging.h) */
    int32_t kind;  /* SAL_MSGLOG_P2P or SAL_MSGLOG_COLL */
    int32_t src, dst, tag;
    uint32_t seq;
    uint64_t len; /* payload bytes that follow the header */
} sal_msglog_hdr_t;

typedef struct sal_msglog {
    unsigned char *buf; /* headers and payloads, back to back */
    size_t len, cap;
    size_t bound;   /* most bytes held; 0 = no bound */
    int overflow;   /* an append went past bound since the last drop: the log is incomplete */
    int64_t base;   /* the step of the last drop: the log covers the steps after it */
    size_t entries; /* entries held */
    size_t hint;    /* where the last find stopped (a replay reads in step order) */
    size_t last;    /* offset of the last entry appended, while shrink_last may use it */
} sal_msglog_t;

/* An empty log that holds at most bound bytes (0 = unbounded), covering the steps after base. */
void sal_msglog_init(sal_msglog_t *log, size_t bound, int64_t base);

/* Appends an entry with room for h->len payload bytes and returns where they go (the caller fills
 * them; payload may be NULL and then nothing is copied) in *room. When the log would exceed its
 * bound, every entry is freed, overflow is set, *room is NULL and SAL_OK is returned: the caller
 * goes on without the log until the next drop. SAL_ERR_NOMEM (nothing appended). */
int sal_msglog_append(sal_msglog_t *log, const sal_msglog_hdr_t *h, const void *payload,
                      void **room);

/* Shortens the payload of the last entry appended to len (<= its length). */
void sal_msglog_shrink_last(sal_msglog_t *log, uint64_t len);

/* A checkpoint of step base was committed: forgets every entry and the overflow. */
void sal_msglog_drop(sal_msglog_t *log, int64_t base);

/* Forgets the entries of the steps after step (entries are appended in step order). */
void sal_msglog_truncate_after(sal_msglog_t *log, int64_t step);

/* Iteration: *pos = 0 first; returns 1 with the entry at *pos (header copied into *h, payload
 * pointer into *payload) and advances *pos, or 0 at the end. */
int sal_msglog_next(const sal_msglog_t *log, size_t *pos, sal_msglog_hdr_t *h,
                    const void **payload);

/* The entry whose kind, step, comm, src, dst, tag and seq equal key's (len ignored), searched
 * from where the last find stopped, then from the start. 1 and *h, *payload set, or 0. */
int sal_msglog_find(sal_msglog_t *log, const sal_msglog_hdr_t *key, sal_msglog_hdr_t *h,
                    const void **payload);

/* Appends a copy of the entries of src that keep(h, arg) accepts. SAL_OK or SAL_ERR_NOMEM. The
 * bound of dst applies (overflow as for append). */
int sal_msglog_copy_if(sal_msglog_t *dst, const sal_msglog_t *src,
                       int (*keep)(const sal_msglog_hdr_t *h, void *arg), void *arg);

/* Appends entries serialized by another log (its buf/len, as a copy_if into a fresh log makes
 * them). SAL_OK, SAL_ERR_CORRUPT (a truncated entry: nothing of it appended) or SAL_ERR_NOMEM. */
int sal_msglog_absorb(sal_msglog_t *log, const void *bytes, size_t len);

void sal_msglog_free(sal_msglog_t *log);

#endif
