/*
 * Redundancy levels of the checkpoint engine (docs/levels.md), on top of the pure maths of
 * redundancy.h:
 *
 *   level_topo.c     the levels mask, the exchanged host list (topology) and the `levels` file
 *                    that records, per checkpoint, which levels were written and with which hosts
 *   level_io.c       whole-file helpers of the levels
 *
 * The levels themselves (L2 partner copies, L3 XOR parity, L4 the copy to the parallel file
 * system) are descriptors of one interface, level_ops.h.
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

/* ---- Whole-file helpers of the levels (level_io.c) ------------------------------------------ */

/* Copies src to dst (temp name, fsync, rename, directory fsync; mode 0600), with
 * copy_file_range where the kernel supports it, else read/write. [OUT] *bytes. */
int sal_copy_file(const char *src, const char *dst, int64_t *bytes);

/* Reads the whole file path into memory. [OUT] *data (caller frees), *len. */
int sal_slurp(const char *path, char **data, size_t *len);

#endif
