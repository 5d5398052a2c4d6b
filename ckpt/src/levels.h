/*
 * Redundancy levels of the checkpoint engine (docs/levels.md), on top of the pure maths of
 * redundancy.h:
 *
 *   level_topo.c     the levels mask, the exchanged host list (topology) and the `levels` file
 *                    that records, per checkpoint, which levels were written and with which hosts
 *   level_partner.c  L2: partner copies sent over MPI at commit and fetched back at restore
 *   level_xor.c      L3: XOR parity encoded over MPI at commit, rebuilt over MPI at restore
 *   level_pfs.c      L4: the background thread that copies committed checkpoints (pfs_dir)
 *
 * Collective functions take the checkpoint communicator and must be called by every rank of it;
 * they agree on nothing themselves: the commit's agreement covers them.
 */
#ifndef SAL_LEVELS_H
#define SAL_LEVELS_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "redundancy.h"

enum { SAL_LVL_L1 = 1, SAL_LVL_L2 = 2, SAL_LVL_L3 = 4, SAL_LVL_L4 = 8 };
enum { SAL_HOST_LEN = 256 }; /* longest host name, NUL included */

/* Parses the `levels` key: "auto" (*is_auto = 1, *mask = L1) or a comma list of L1, L2, L3 (L1 is
 * always added). SAL_ERR_CONFIG naming the value otherwise. */
int sal_levels_parse(const char *text, int *mask, int *is_auto);

/* "L1+L2+..." for a mask, into buf. Returns buf. */
const char *sal_levels_name(int mask, char *buf, size_t size);

/* Who runs where, as of one exchange of host names over a communicator. */
typedef struct sal_topo {
    int nranks;
    char *names;          /* nranks * SAL_HOST_LEN bytes */
    const char **hosts;   /* [nranks] into names */
    unsigned char *first; /* [nranks] 1 for the lowest rank of each host */
    int nhosts;
    sal_partner_map_t *pmap;  /* NULL when nranks == 1 */
    sal_xor_groups_t *groups; /* NULL when nranks == 1 */
} sal_topo_t;

/* Collective: allgathers each rank's host name (my_host) over comm and builds the partner map
 * and the XOR groups of at most xor_size members. *t is replaced (freed first). */
int sal_topo_exchange(MPI_Comm comm, const char *my_host, int xor_size, sal_topo_t *t);

/* Builds *t from a host list read from a `levels` file (local). */
int sal_topo_from_hosts(int nranks, const char *const hosts[], int xor_size, sal_topo_t *t);

/* Releases *t and zeroes it; accepts a zeroed topology. */
void sal_topo_free(sal_topo_t *t);

/* The per-checkpoint record <ckpt dir>/levels (text, see docs/format.md). */
typedef struct sal_levels_info {
    int mask;     /* levels written, SAL_LVL_* */
    int xor_size; /* xor_group_size at write time */
    sal_topo_t topo;
} sal_levels_info_t;

/* Writes <dir>/levels atomically (mode 0600). */
int sal_levels_write(const char *dir, int mask, int xor_size, const sal_topo_t *t);

/* Serialized form of <dir>/levels: [OUT] *text (caller frees), *len. */
int sal_levels_load_text(const char *dir, char **text, size_t *len);

/* Parses and validates the text of a levels file named path (messages name it). */
int sal_levels_parse_text(const char *path, const char *text, sal_levels_info_t *info);

void sal_levels_info_free(sal_levels_info_t *info);

/* ---- L2 (level_partner.c) ------------------------------------------------------------------- */

/* Collective: each rank sends its file (data, len; len < 0 when its write failed) to its partner,
 * which stores it as <dir>/partner.<src>.h5. [OUT] *ok = 0 when this rank failed to store a copy
 * it received or its own data was missing. SAL_OK, or SAL_ERR_PROC_FAILED/SAL_ERR_MPI. */
int sal_l2_send(MPI_Comm comm, const sal_topo_t *t, const char *dir, const void *data, int64_t len,
                int *ok);

/* Collective (same rank count as at write time): every rank with need[r] != 0 receives its copy
 * from its partner, which reads <dir>/partner.<r>.h5, and stores it as <dir>/rank.<r>.h5.
 * [OUT] *got = 1 when this rank needed and obtained a copy. Messages name missing copies. */
int sal_l2_fetch(MPI_Comm comm, const sal_topo_t *t, const char *dir, const int *need, int *got);

/* Local (shared directory): <dir>/partner.<r>.h5 copied to <dir>/rank.<r>.h5. */
int sal_l2_restore_file(const char *dir, int r);

/* ---- L3 (level_xor.c) ----------------------------------------------------------------------- */

/* Collective: XOR parity of the members' files within each group (reduce-scatter); each rank
 * stores <dir>/parity.<r>.xor. Arguments as sal_l2_send. */
int sal_l3_encode(MPI_Comm comm, const sal_topo_t *t, const char *dir, const void *data,
                  int64_t len, int *ok);

/* Collective (same rank count as at write time): every rank with need[r] != 0 whose parity group
 * has no other member in need rebuilds <dir>/rank.<r>.h5 (and parity.<r>.xor) from one XOR
 * reduction over the group: each other member contributes its own <dir>/rank.<m>.h5 and
 * parity.<m>.xor, so dir may be node-local. The survivors' parity checksums and recorded lengths
 * are checked and must agree, the rebuilt zero padding must be zero. [OUT] *got = 1 when this rank
 * needed and rebuilt its file. Problems are logged (two members of a group lost, a damaged or
 * foreign parity file) and leave *got = 0; returns SAL_OK, or SAL_ERR_PROC_FAILED/SAL_ERR_MPI. */
int sal_l3_fetch(MPI_Comm comm, const sal_topo_t *t, const char *dir, const int *need, int *got);

/* Local (shared directory): rebuilds <dir>/rank.<r>.h5 (and parity.<r>.xor) from the files and
 * parity of the other members of r's group in dir. SAL_ERR_RECOVERY when another member is missing
 * too, SAL_ERR_CORRUPT when a parity file is damaged or does not belong to the group. */
int sal_l3_rebuild_file(const char *dir, const sal_topo_t *t, int r);

/* ---- L4 (level_pfs.c) ----------------------------------------------------------------------- */

typedef struct sal_pfs sal_pfs_t;

/* Starts the flush thread of this rank. job_dir: the node-local job directory; pfs_job_dir:
 * <pfs_dir>/<job> (created 0700). keep: checkpoints retained in pfs_job_dir. */
int sal_pfs_create(const char *job_dir, const char *pfs_job_dir, int keep, sal_pfs_t **out);

/* Queues checkpoint id (committed, written by nranks ranks) for copying; returns at once. A
 * checkpoint still queued is replaced by the newer one. */
void sal_pfs_submit(sal_pfs_t *p, int64_t id, int rank, int nranks);

/* Blocks until the queue is empty and no copy is running. */
void sal_pfs_wait_idle(sal_pfs_t *p);
/* Whether the flush thread has nothing queued or running (1 when p is NULL). */
int sal_pfs_idle(sal_pfs_t *p);

/* Finishes the copy in progress and the queued one (rank 0 waits at most a few seconds for the
 * other ranks' files), joins the thread, frees *p and sets it to NULL. Accepts NULL. */
void sal_pfs_destroy(sal_pfs_t **p);

/* Copies src to dst (temp name, fsync, rename, directory fsync; mode 0600), with
 * copy_file_range where the kernel supports it, else read/write. [OUT] *bytes. */
int sal_copy_file(const char *src, const char *dst, int64_t *bytes);

/* Reads the whole file path into memory. [OUT] *data (caller frees), *len. */
int sal_slurp(const char *path, char **data, size_t *len);

#endif
