/*
 * Redundancy building blocks of the checkpoint engine (levels 2 and 3, see docs/levels.md):
 *
 *   partner.c  host hashing, the host table and the partner map (level 2): every rank chooses
 *              one rank on another host by rendezvous (highest-random-weight) hashing over
 *              host names.
 *   xor.c      XOR parity (level 3): groups of ranks on distinct hosts; parity distributed
 *              RAID-5 style over each group's members; encode/rebuild maths and the buffer
 *              layouts of the MPI exchange.
 *
 * Everything here is pure: no MPI, no files, no logging (failures are recorded for
 * sal_last_error() only). Results depend only on the arguments, so every rank computes the same
 * map from the same allgathered host list, on any machine.
 *
 * Host lists: hosts[r] is the host name of rank r (non-empty, NUL-terminated, borrowed for the
 * duration of the call only). Two ranks share a host exactly when their names compare equal.
 */
#ifndef SAL_REDUNDANCY_H
#define SAL_REDUNDANCY_H

#include <stddef.h>
#include <stdint.h>

/* ---- hashing (partner.c) ------------------------------------------------------------------ */

/* 64-bit FNV-1a of the bytes of s (without the NUL). Independent of endianness and word size. */
uint64_t sal_hash_str(const char *s);

/* The splitmix64 finaliser: a bijective mix in which every input bit affects every output bit. */
uint64_t sal_hash_mix64(uint64_t x);

/* Rendezvous weight of candidate for key: mix64(mix64(key ^ salt) ^ candidate). Not symmetric. */
uint64_t sal_hrw_weight(uint64_t key, uint64_t candidate, uint64_t salt);

/* ---- partner map (partner.c) -------------------------------------------------------------- */

typedef struct sal_partner_map sal_partner_map_t;

typedef enum sal_partner_scope {
    SAL_PARTNER_OTHER_HOST = 0, /* every rank's partner lives on another host */
    SAL_PARTNER_SAME_HOST = 1,  /* one host: partner copies protect against process loss only */
    SAL_PARTNER_NONE = 2        /* one rank: there is nobody to copy to (partners are -1) */
} sal_partner_scope_t;

/*
 * Computes the partner of every rank.
 *   [IN]  nranks  > 0
 *   [IN]  hosts   nranks host names
 *   [IN]  salt    selects one of many independent arrangements; 0 unless another is wanted
 *   [OUT] *out    new map, owned by the caller (sal_partner_map_destroy); untouched on failure
 * Rule: all ranks of host H send their copies to the host P != H of highest weight
 * w = sal_hrw_weight(sal_hash_str(H), sal_hash_str(P), salt). The rank of local index i on H
 * (its position among H's ranks in increasing rank order) chooses the rank of local index
 * (i + w mod n_P) mod n_P on P, n_P being the rank count of P. With one host, each rank chooses
 * the next rank of that host (cyclically). Consequences, tested in tests/unit/test_partner.c:
 *   - no rank is its own partner; partners are on another host whenever there are 2+ hosts;
 *   - removing a host changes only the partners of its own ranks and of the ranks whose
 *     partner was on it;
 *   - the map depends on the host names and on the order of ranks within each host, not on the
 *     order of hosts in the list: renumbering ranks while keeping their order within each host
 *     renumbers the map the same way.
 * Returns SAL_OK, SAL_ERR_INVALID_ARG (nranks, NULL or empty host name) or SAL_ERR_NOMEM.
 * Cost: O(nranks log nranks + nhosts^2) time, O(nranks) memory.
 */
int sal_partner_map_create(int nranks, const char *const hosts[], uint64_t salt,
                           sal_partner_map_t **out);

/* Frees *map and sets it to NULL; accepts NULL and *map == NULL. */
void sal_partner_map_destroy(sal_partner_map_t **map);

int sal_partner_map_nranks(const sal_partner_map_t *map);
int sal_partner_map_nhosts(const sal_partner_map_t *map);
sal_partner_scope_t sal_partner_map_scope(const sal_partner_map_t *map);

/* The rank that holds rank's copy, or -1 (scope SAL_PARTNER_NONE, or rank out of range). */
int sal_partner_of(const sal_partner_map_t *map, int rank);

/* The ranks whose copies rank holds (those that chose it), in increasing order: sets *sources to
 * an array owned by map (valid until it is destroyed) and returns its length, 0 when none;
 * returns -1 and sets *sources = NULL when rank is out of range. */
int sal_partner_sources(const sal_partner_map_t *map, int rank, const int **sources);

/* ---- host table, shared by the partner map and the XOR groups (partner.c) ----------------- */

/* Ranks grouped by host. Hosts are numbered in strcmp order of their names; within a host,
 * ranks are in increasing order. The table does not keep the names. */
typedef struct sal_host_table {
    int nranks;
    int nhosts;
    int *host_of;   /* [nranks] host index of each rank */
    int *local_of;  /* [nranks] position of each rank among its host's ranks */
    int *first;     /* [nhosts + 1] host h holds ranks[first[h] .. first[h + 1]) */
    int *ranks;     /* [nranks] ranks ordered by host, then by rank */
    uint64_t *hash; /* [nhosts] sal_hash_str of each host name */
} sal_host_table_t;

/* Fills *t (caller-provided) from a host list. Returns SAL_OK, SAL_ERR_INVALID_ARG or
 * SAL_ERR_NOMEM; on failure *t is zeroed. */
int sal_host_table_build(int nranks, const char *const hosts[], sal_host_table_t *t);

/* Releases the arrays of *t and zeroes it; accepts a zeroed table. */
void sal_host_table_free(sal_host_table_t *t);

/* ---- XOR parity groups (xor.c) ------------------------------------------------------------ */

#define SAL_XOR_MAX_GROUP 64 /* largest group size accepted */

typedef struct sal_xor_groups sal_xor_groups_t;

/*
 * Splits the ranks into parity groups whose members are on distinct hosts.
 *   [IN]  nranks    >= 2
 *   [IN]  hosts     nranks host names
 *   [IN]  max_size  2 .. SAL_XOR_MAX_GROUP; 4 is a good default (parity costs 1/(size-1))
 *   [OUT] *out      new grouping, owned by the caller (sal_xor_groups_destroy); untouched on
 *                   failure
 * Rule: G = max(ceil(nranks / max_size), largest rank count of one host), capped at nranks / 2
 * so that no group has a single member. List the ranks host by host (hosts in name order, ranks
 * increasing); the rank at position p joins group p mod G. Group sizes thus differ by at most
 * one (the first nranks mod G groups are the larger), and stay <= max_size except for one
 * group of 3 when max_size is 2 and nranks is odd. A host's ranks are contiguous in the list,
 * so they land in distinct groups whenever the host has at most G ranks: every group spans
 * distinct hosts unless one host holds more than nranks / 2 ranks. Then
 * sal_xor_groups_shared() > 0: warn that such a group survives the loss of a process, not of
 * that host. Members of a group are in increasing rank order. The grouping depends on the host
 * names and the order of ranks within each host, not on the order of hosts in the list.
 * Returns SAL_OK, SAL_ERR_INVALID_ARG or SAL_ERR_NOMEM.
 */
int sal_xor_groups_create(int nranks, const char *const hosts[], int max_size,
                          sal_xor_groups_t **out);

/* Frees *groups and sets it to NULL; accepts NULL and *groups == NULL. */
void sal_xor_groups_destroy(sal_xor_groups_t **groups);

int sal_xor_groups_count(const sal_xor_groups_t *groups);

/* Number of groups with two members on one host (0 when every group spans distinct hosts). */
int sal_xor_groups_shared(const sal_xor_groups_t *groups);

/* Group of rank and, if member != NULL, rank's index within it (-1 and *member = -1 when rank
 * is out of range). The member index is the natural key of
 * MPI_Comm_split(comm, group, member, &group_comm). */
int sal_xor_group_of(const sal_xor_groups_t *groups, int rank, int *member);

/* The members of group (increasing ranks): sets *ranks to an array owned by groups and returns
 * the group size; returns -1 and sets *ranks = NULL when group is out of range. */
int sal_xor_group_members(const sal_xor_groups_t *groups, int group, const int **ranks);

/* ---- XOR parity maths (xor.c) ------------------------------------------------------------- */

/*
 * Layout of a group of `size` members (2 .. SAL_XOR_MAX_GROUP), payload lengths lens[]:
 *   chunk   C = ceil(max(lens) / (size - 1)). Member i's payload, zero-padded to
 *           (size - 1) * C bytes, is cut into size - 1 data chunks D_i[0 .. size - 2].
 *   stripe  P_k (C bytes, 0 <= k < size) is stored on member k:
 *           P_k = XOR over i != k of D_i[(k - i - 1) mod size].
 * Every data chunk enters exactly one stripe, never the one its own member stores, so the loss
 * of one member (its payload and its stripe) is repaired from the others; two losses are not.
 * Each member keeps its payload, its stripe and the lengths of all members.
 */

/* dst[i] ^= src[i] for i < len. dst and src must not overlap. No alignment requirement. */
void sal_xor_accumulate(void *restrict dst, const void *restrict src, size_t len);

/* [OUT] *chunk = C for these lengths (0 when every length is 0). Returns SAL_OK or
 * SAL_ERR_INVALID_ARG (size out of range, NULL pointer, or size * C overflows size_t). */
int sal_xor_chunk_size(int size, const size_t lens[], size_t *chunk);

/* Index of member's data chunk that enters stripe, or -1 when member == stripe or either is out
 * of range. */
int sal_xor_chunk_index(int size, int member, int stripe);

/*
 * Send buffer of member me for the encoding exchange: size blocks of C bytes; block k is me's
 * data chunk for stripe k, block me is zeros. XOR-reducing these buffers over the group and
 * scattering block k to member k leaves P_k on member k:
 *     MPI_Reduce_scatter_block(send, stripe, C, MPI_BYTE, MPI_BXOR, group_comm)
 *   [IN]  data, len  me's payload (data may be NULL when len is 0); len <= (size - 1) * chunk
 *   [OUT] send       size * chunk bytes
 */
int sal_xor_pack_encode(const void *data, size_t len, int size, int me, size_t chunk, void *send);

/*
 * Send buffer of surviving member me for rebuilding member lost: size - 1 blocks of C bytes;
 * block c is P_me when me stores the stripe that holds lost's chunk c, else me's data chunk for
 * that stripe. XOR-reducing the survivors' buffers onto the lost member (which contributes
 * zeros) yields its zero-padded payload, whose first lens[lost] bytes are the payload:
 *     MPI_Reduce(send, out, (size - 1) * C, MPI_BYTE, MPI_BXOR, lost, group_comm)
 *   [IN]  data, len  me's payload;   stripe  me's C-byte stripe
 *   [OUT] send       (size - 1) * chunk bytes
 */
int sal_xor_pack_rebuild(const void *data, size_t len, const void *stripe, int size, int me,
                         int lost, size_t chunk, void *send);

/*
 * All stripes of a group at once (what the encoding exchange computes).
 *   [IN]  data[i], lens[i]  payload of member i (data[i] may be NULL when lens[i] is 0)
 *   [OUT] stripes[i]        C bytes each, C from sal_xor_chunk_size; NULL entries are skipped
 */
int sal_xor_encode(int size, const void *const data[], const size_t lens[], void *const stripes[]);

/*
 * Repairs at most one lost member from the others.
 *   [IN]  data[i]     payload of member i; NULL marks it lost (so a present empty payload needs
 *                     a non-NULL pointer)
 *   [IN]  lens[i]     payload lengths of all members, the lost one included
 *   [IN]  stripes[i]  C-byte stripe of member i, NULL when lost; the lost member's is ignored
 *   [OUT] *lost       the member rebuilt, or -1 when no payload was missing
 *   [OUT] out         lens[*lost] bytes: the lost payload, bit for bit (NULL allowed when
 *                     nothing is lost or the lost payload is empty)
 *   [OUT] out_stripe  C bytes: the lost member's stripe, recomputed (may be NULL)
 * Returns SAL_OK; SAL_ERR_RECOVERY when two payloads, or a payload and another member's stripe,
 * are missing (the message names the members); SAL_ERR_CORRUPT when the rebuilt zero padding is
 * not zero (stripes, payloads or lengths differ from those encoded; out is then garbage);
 * SAL_ERR_INVALID_ARG on bad arguments. The padding check is no checksum of the payload itself.
 */
int sal_xor_rebuild(int size, const void *const data[], const size_t lens[],
                    const void *const stripes[], int *lost, void *out, void *out_stripe);

#endif
