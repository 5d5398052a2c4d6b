/* L3: XOR parity. Encoding is one reduce-scatter per group at commit; the rebuild of a lost rank
 * file reads the other members' files and parity from the checkpoint directory.
 *
 * parity.<r>.xor (all integers 64-bit little-endian):
 *   "SALXOR01" | nranks | group | size | member | chunk | lens[size] | stripe (chunk bytes) |
 * fnv1a64 where the final FNV-1a covers every byte before it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "fsutil.h"
#include "levels.h"
#include "log.h"

#define XOR_MAGIC "SALXOR01"
enum { HDR_WORDS = 5 };

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

typedef struct parity {
    int64_t nranks, group, size, member, chunk;
    int64_t lens[SAL_XOR_MAX_GROUP];
    const unsigned char *stripe;
} parity_t;

static size_t parity_len(int64_t size, int64_t chunk)
{
    return 8 + 8 * (HDR_WORDS + (size_t)size) + (size_t)chunk + 8;
}

static int parity_write(const char *dir, int r, const parity_t *p)
{
    size_t n = parity_len(p->size, p->chunk);
    unsigned char *buf = malloc(n), *q;
    char path[PATH_MAX];
    int rc;

    if (!buf)
        return sal_error(SAL_ERR_NOMEM, "parity file of %zu bytes", n);
    memcpy(buf, XOR_MAGIC, 8);
    q = buf + 8;
    put64(q, (uint64_t)p->nranks);
    put64(q + 8, (uint64_t)p->group);
    put64(q + 16, (uint64_t)p->size);
    put64(q + 24, (uint64_t)p->member);
    put64(q + 32, (uint64_t)p->chunk);
    q += 8 * HDR_WORDS;
    for (int64_t i = 0; i < p->size; i++, q += 8)
        put64(q, (uint64_t)p->lens[i]);
    memcpy(q, p->stripe, (size_t)p->chunk);
    put64(q + p->chunk, fnv(buf, n - 8));
    rc = sal_path_join(path, sizeof(path), "%s/parity.%d.xor", dir, r);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(path, buf, n, 0600);
    free(buf);
    return rc;
}

/* Parses buf (n bytes of path) into *p, whose stripe points into buf. */
static int parity_parse(const char *path, const unsigned char *buf, size_t n, parity_t *p)
{
    const unsigned char *q = buf + 8;

    if (n < 8 + 8 * HDR_WORDS + 8 || memcmp(buf, XOR_MAGIC, 8) != 0)
        return sal_error(SAL_ERR_CORRUPT, "%s: not a parity file (bad magic or too short)", path);
    p->nranks = (int64_t)get64(q);
    p->group = (int64_t)get64(q + 8);
    p->size = (int64_t)get64(q + 16);
    p->member = (int64_t)get64(q + 24);
    p->chunk = (int64_t)get64(q + 32);
    if (p->size < 2 || p->size > SAL_XOR_MAX_GROUP || p->chunk < 0 || p->chunk > (int64_t)n ||
        parity_len(p->size, p->chunk) != n)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s: inconsistent header (size %lld, chunk %lld, %zu bytes)", path,
                         (long long)p->size, (long long)p->chunk, n);
    if (fnv(buf, n - 8) != get64(buf + n - 8))
        return sal_error(SAL_ERR_CORRUPT, "%s: checksum mismatch (the file is damaged)", path);
    q += 8 * HDR_WORDS;
    for (int64_t i = 0; i < p->size; i++, q += 8)
        p->lens[i] = (int64_t)get64(q);
    p->stripe = q;
    return SAL_OK;
}

static int encode_group(MPI_Comm gcomm, int size, int member, const void *data, int64_t len,
                        parity_t *p, unsigned char **stripe)
{
    size_t lens[SAL_XOR_MAX_GROUP], chunk = 0;
    int64_t mylen = len < 0 ? 0 : len;
    unsigned char *send;
    int rc;

    rc = sal_mpi_status(MPI_Allgather(&mylen, 1, MPI_INT64_T, p->lens, 1, MPI_INT64_T, gcomm));
    if (rc != SAL_OK)
        return sal_error(rc, "L3: exchange of parity lengths failed");
    for (int i = 0; i < size; i++)
        lens[i] = (size_t)p->lens[i];
    rc = sal_xor_chunk_size(size, lens, &chunk);
    if (rc == SAL_OK && chunk > (size_t)INT_MAX)
        rc = sal_error(SAL_ERR_INVALID_ARG,
                       "L3: parity stripe of %zu bytes exceeds one message; "
                       "use a larger xor_group_size",
                       chunk);
    if (rc != SAL_OK)
        return rc;
    send = malloc((size_t)size * chunk + 1);
    *stripe = malloc(chunk + 1);
    if (!send || !*stripe) {
        free(send);
        return sal_error(SAL_ERR_NOMEM, "L3 parity buffers");
    }
    rc = sal_xor_pack_encode(data, (size_t)mylen, size, member, chunk, send);
    if (rc == SAL_OK)
        rc = sal_mpi_status(
            MPI_Reduce_scatter_block(send, *stripe, (int)chunk, MPI_BYTE, MPI_BXOR, gcomm));
    free(send);
    p->size = size;
    p->member = member;
    p->chunk = (int64_t)chunk;
    p->stripe = *stripe;
    return rc;
}

int sal_l3_encode(MPI_Comm comm, const sal_topo_t *t, const char *dir, const void *data,
                  int64_t len, int *ok)
{
    int me = 0, member = -1, group, size, rc;
    const int *members;
    MPI_Comm gcomm = MPI_COMM_NULL;
    unsigned char *stripe = NULL;
    parity_t p;

    MPI_Comm_rank(comm, &me);
    *ok = len >= 0;
    if (!t->groups)
        return SAL_OK;
    group = sal_xor_group_of(t->groups, me, &member);
    size = sal_xor_group_members(t->groups, group, &members);
    rc = sal_mpi_status(MPI_Comm_split(comm, group, member, &gcomm));
    if (rc != SAL_OK)
        return sal_error(rc, "L3: cannot split the parity groups");
    memset(&p, 0, sizeof(p));
    p.nranks = t->nranks;
    p.group = group;
    rc = encode_group(gcomm, size, member, data, len, &p, &stripe);
    MPI_Comm_free(&gcomm);
    if (rc == SAL_OK && parity_write(dir, me, &p) != SAL_OK) {
        SAL_LOG_E("L3: %s", sal_last_error());
        *ok = 0;
    }
    free(stripe);
    if (rc == SAL_ERR_INVALID_ARG || rc == SAL_ERR_NOMEM) {
        SAL_LOG_E("%s", sal_last_error());
        *ok = 0;
        rc = SAL_OK;
    }
    return rc;
}

/* ---- rebuild from files ------------------------------------------------------------------------
 */

typedef struct member_files {
    char *data, *par;
    size_t dlen, plen;
    parity_t p;
} member_files_t;

static int load_member(const char *dir, int r, int want_data, member_files_t *m)
{
    char path[PATH_MAX];
    int rc = sal_path_join(path, sizeof(path), "%s/parity.%d.xor", dir, r);

    if (rc == SAL_OK)
        rc = sal_slurp(path, &m->par, &m->plen);
    if (rc == SAL_OK)
        rc = parity_parse(path, (const unsigned char *)m->par, m->plen, &m->p);
    if (rc == SAL_OK && want_data)
        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, r);
    if (rc == SAL_OK && want_data)
        rc = sal_slurp(path, &m->data, &m->dlen);
    return rc;
}

/* The rebuild proper once every survivor is loaded. */
static int rebuild_group(const char *dir, int r, int size, int lost, const int *members,
                         member_files_t *mf)
{
    const void *data[SAL_XOR_MAX_GROUP], *stripes[SAL_XOR_MAX_GROUP];
    size_t lens[SAL_XOR_MAX_GROUP];
    const parity_t *ref = &mf[lost == 0 ? 1 : 0].p;
    char path[PATH_MAX];
    int got = -1, rc;
    char *out;
    parity_t np = *ref;

    for (int i = 0; i < size; i++) {
        lens[i] = (size_t)ref->lens[i];
        data[i] = i == lost ? NULL : mf[i].data;
        stripes[i] = i == lost ? NULL : mf[i].p.stripe;
        if (i != lost &&
            (mf[i].p.size != size || mf[i].p.member != i || mf[i].p.chunk != ref->chunk ||
             memcmp(mf[i].p.lens, ref->lens, (size_t)size * 8) != 0 || mf[i].dlen != lens[i]))
            return sal_error(SAL_ERR_CORRUPT,
                             "L3: parity or file of rank %d does not belong to the "
                             "group of rank %d (sizes or lengths differ)",
                             members[i], r);
    }
    out = malloc(lens[lost] + (size_t)ref->chunk + 1);
    if (!out)
        return sal_error(SAL_ERR_NOMEM, "L3 rebuild buffer");
    rc = sal_xor_rebuild(size, data, lens, stripes, &got, out, out + lens[lost]);
    if (rc == SAL_OK)
        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, r);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(path, out, lens[lost], 0600);
    np.member = lost;
    np.stripe = (const unsigned char *)out + lens[lost];
    if (rc == SAL_OK && parity_write(dir, r, &np) != SAL_OK)
        SAL_LOG_W("L3: rank %d rebuilt, but its parity could not be rewritten: %s", r,
                  sal_last_error());
    free(out);
    return rc;
}

int sal_l3_rebuild_file(const char *dir, const sal_topo_t *t, int r)
{
    member_files_t mf[SAL_XOR_MAX_GROUP];
    const int *members;
    int lost = -1, group, size, rc = SAL_OK;

    if (!t->groups || r < 0 || r >= t->nranks)
        return sal_error(SAL_ERR_RECOVERY, "L3: rank %d has no parity group", r);
    group = sal_xor_group_of(t->groups, r, &lost);
    size = sal_xor_group_members(t->groups, group, &members);
    memset(mf, 0, sizeof(mf));
    for (int i = 0; i < size && rc == SAL_OK; i++)
        if (i != lost) {
            rc = load_member(dir, members[i], 1, &mf[i]);
            if (rc != SAL_OK)
                rc = sal_error(SAL_ERR_RECOVERY,
                               "L3: cannot rebuild rank %d: another member of its "
                               "group is missing too (%s)",
                               r, sal_last_error());
        }
    if (rc == SAL_OK)
        rc = rebuild_group(dir, r, size, lost, members, mf);
    for (int i = 0; i < size; i++) {
        free(mf[i].data);
        free(mf[i].par);
    }
    return rc;
}
