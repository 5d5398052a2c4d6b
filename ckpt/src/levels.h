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

/* ---- Messages of the levels (level_msg.c) --------------------------------------------------- */

/* How many messages carry len bytes (0 for len <= 0). */
int sal_msg_pieces(int64_t len);

/* Starts one send of an exchange into *req (synchronous and persistent: ended by sal_msg_end, never
 * freed after a failure). */
int sal_msg_send(const void *buf, int count, MPI_Datatype type, int peer, int tag, MPI_Comm comm,
                 MPI_Request *req);

/* Posts the messages of a buffer of len bytes to (send) or from peer, tags tag, tag + 1, ..., into
 * req (sal_msg_pieces(len) requests). */
int sal_msg_post(int send, void *buf, int64_t len, int peer, int tag, MPI_Comm comm,
                 MPI_Request *req);

/* n + 1 requests, all MPI_REQUEST_NULL (so that ending an exchange may wait on the unposted ones);
 * NULL when out of memory. */
MPI_Request *sal_msg_requests(int n);

/* Ends an exchange whose requests are req[0..nreq), receives first (nrecv of them): waits for them
 * when everything so far succeeded (rc); after a failure, revokes comm (ULFM) or cancels the
 * receives, so that no pending receive writes into a freed buffer. Returns rc, or the wait's
 * status. */
int sal_msg_end(MPI_Comm comm, MPI_Request *req, int nreq, int nrecv, int rc);

/* Ends an exchange this rank leaves after a failure (rc, not SAL_OK) as sal_msg_end does, also
 * when it has no request of its own (req NULL or nreq 0): the communicator is revoked all the same
 * (ULFM), so that no peer waits for this rank's messages. Returns rc. */
int sal_msg_abandon(MPI_Comm comm, MPI_Request *req, int nreq, int nrecv, int rc);

/* ---- Rank files from the hosts that hold them (level_moved.c) ------------------------------- */

/* Collective, at restore on the rank count the checkpoint was written with (old: its arrangement,
 * mask: its levels), after the ranks' own reads: when a relaunch put ranks on other hosts than
 * those that wrote the checkpoint, every rank r with need[r] != 0 obtains its file from the host
 * that holds it, as <dir>/rank.<r>.h5: its own file from its old host, else (L2) its partner copy
 * from its partner's old host, sent by the lowest rank now running there (or copied, when r runs
 * there itself). my_host: this rank's host now. [OUT] *got = 1 when this rank needed its file and
 * obtained one (the caller verifies it); *how: "its own file" or "its partner copy", and from
 * (from_size bytes): the host it came from. SAL_OK, or the status of a failed exchange. */
int sal_fetch_moved(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                    const char *dir, const int *need, int *got, const char **how, char *from,
                    size_t from_size);

/* Collective, at restore on another rank count than the checkpoint's nfiles ranks (old: their
 * arrangement, from the levels record, zeroed without one; mask: the levels): want[nfiles], r
 * != 0 when this rank's blocks overlap old rank r's,
 * whose file the manifest's virtual datasets read from <dir>/rank.<r>.h5. The lowest rank now on
 * each host receives the wanted files its host lacks from the hosts that hold them (as
 * sal_fetch_moved: the old host, else the partner's old host). [OUT] check[nfiles]: the
 * wanted files of this host that this rank verifies (and rebuilds locally when it can), spread
 * over the host's ranks. SAL_OK, or the status of a failed exchange. */
int sal_fetch_spread(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                     const char *dir, int nfiles, const unsigned char *want, unsigned char *check);

/* ---- Whole-file helpers of the levels (level_io.c) ------------------------------------------ */

/* Copies src to dst (temp name, fsync, rename, directory fsync; mode 0600), with
 * copy_file_range where the kernel supports it, else read/write. [OUT] *bytes. */
int sal_copy_file(const char *src, const char *dst, int64_t *bytes);

/* Reads the whole file path into memory. [OUT] *data (caller frees), *len. */
int sal_slurp(const char *path, char **data, size_t *len);

#endif
