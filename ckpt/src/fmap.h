/*
 * Whole files mapped into memory, for the redundancy levels: a rank file is sent to its partner
 * or XOR-ed into parity straight from its pages, and a partner copy or a parity file is received
 * straight into the pages of its new file, so that no byte is copied through a buffer of the
 * process (docs/performance.md). No MPI, no HDF5.
 *
 * Lifecycle: sal_fmap_read or sal_fmap_create fill a handle; sal_fmap_commit (created files only)
 * publishes it; sal_fmap_close releases it in every case (after a commit, or instead of one).
 *
 * A created file has its space reserved before it is mapped (fallocate), so that a full file
 * system is an error of sal_fmap_create, never a SIGBUS on a store into the mapping. A file
 * system that cannot reserve space or map files gets a buffer on the heap instead, written out by
 * sal_fmap_commit: the callers see the same contract.
 */
#ifndef SAL_FMAP_H
#define SAL_FMAP_H

#include <limits.h>
#include <stddef.h>

typedef struct sal_fmap {
    unsigned char *data; /* len bytes; NULL when len is 0 */
    size_t len;
    int fd;      /* open while live */
    int live;    /* holds a file: fd open (and data, when len > 0) */
    int mapped;  /* data is a mapping (munmap), else heap memory (free) */
    int created; /* a temp file beside path, renamed to path by sal_fmap_commit */
    int reused;  /* created: the temp file is an older file taken over (sal_fmap_create) */
    char path[PATH_MAX];
    char tmp[PATH_MAX];
} sal_fmap_t;

/* flags of sal_fmap_read and sal_fmap_create. */
enum {
    SAL_FMAP_LAZY = 1 /* the pages are mapped as they are touched, not all at once (MAP_POPULATE):
                       * for a file whose bytes are moved later, behind the application */
};

/* Maps the regular file path for reading. [OUT] *m (zeroed first). The file must not shrink
 * while it is mapped: only for files this process wrote and nobody else changes. SAL_OK,
 * SAL_ERR_IO (cannot open, read or map it), SAL_ERR_NOMEM. */
int sal_fmap_read(const char *path, int flags, sal_fmap_t *m);

/* Creates the temp file of path (mode 0600) with len bytes reserved, mapped for writing. reuse
 * (NULL: none): a file of an older checkpoint that may serve as the storage of the new one: when
 * it is a regular file of this user with one link, it is renamed to the temp name and resized
 * (m->reused = 1), so that its pages are overwritten rather than allocated anew (as the rank
 * files of reuse_files, docs/format.md); else (also when it is gone) a new file is created.
 * [OUT] *m (zeroed first); m->data holds unspecified bytes. SAL_OK, SAL_ERR_IO (cannot create
 * it, or no room: the message says which), SAL_ERR_NOMEM. On error nothing is left behind (a
 * reused file is then gone). */
int sal_fmap_create(const char *path, size_t len, const char *reuse, int flags, sal_fmap_t *m);

/* Maps every page of m at once (a mapping made with SAL_FMAP_LAZY, before its bytes are moved:
 * one pass is cheaper than a fault per page); write: for writing. Nothing for heap memory or
 * where the system cannot (then the pages fault in as they are touched). */
void sal_fmap_populate(sal_fmap_t *m, int write);

/* A created file: writes it out (heap buffer) or unmaps it, fsyncs it, renames it to m->path and
 * fsyncs the directory. On error the temp file is removed. In every case m is then released
 * (sal_fmap_close is still allowed). */
int sal_fmap_commit(sal_fmap_t *m);

/* Releases m: unmaps or frees, closes, removes a temp file not committed. Accepts a zeroed
 * handle and one already released. */
void sal_fmap_close(sal_fmap_t *m);

#endif
