/* L3: XOR parity. Encoding exchanges the chunks of each group point to point, in pieces XOR-ed as
 * they arrive, at commit or behind the application (async_levels). At restore (same rank count)
 * a lost rank file is rebuilt by one XOR reduction onto its owner over the group's communicator:
 * each surviving member contributes only its own node-local rank file and parity, so no directory
 * needs to be shared. The rebuild into another rank's directory (N -> M restore) reads the other
 * members' files and parity from one shared checkpoint directory instead. The descriptor
 * sal_level_xor (level_ops.h) is the only way in.
 *
 * The encoding exchanges the chunks point to point, straight from the pages of each member's
 * rank file into the pages of the others' parity files (fmap.h); the parity file's format is
 * parity_file.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "clock.h"
#include "fmap.h"
#include "fsutil.h"
#include "level_ops.h"
#include "levels.h"
#include "log.h"
#include "parity_file.h"

enum { TAG_XOR = 7401 };
#define XOR_PIECE ((size_t)8 << 20) /* bytes of a stripe received and XOR-ed at a time */

/* Adds the seconds since *t0 to *acc (when acc is not NULL) and restarts *t0. */
static void lap(double *acc, double *t0)
{
    double t = sal_clock_mono();

    if (acc)
        *acc += t - *t0;
    *t0 = t;
}

/* How many bytes of [off, off + n) of data chunk c are payload (the rest is zero padding) for a
 * payload of len bytes and chunks of chunk bytes. */
static size_t payload_in(int64_t len, size_t chunk, int c, size_t off, size_t n)
{
    size_t start = (size_t)c * chunk + off;

    if (c < 0 || start >= (size_t)len)
        return 0;
    return (size_t)len - start < n ? (size_t)len - start : n;
}

/* The encoding of this rank in flight: its group's communicator, the parity file the stripe goes
 * into, and the piece [off, off + n) of every stripe whose messages are posted. */
typedef struct l3_work {
    MPI_Comm gcomm;
    sal_parity_t p;
    sal_fmap_t m; /* the parity file (or heap memory when it cannot be created) */
    const unsigned char *data;
    unsigned char *scratch; /* size - 2 buffers of XOR_PIECE bytes */
    size_t chunk, piece, off, n;
    size_t have[SAL_XOR_MAX_GROUP]; /* bytes of the piece received from each member */
    unsigned char *into[SAL_XOR_MAX_GROUP];
    MPI_Request req[2 * SAL_XOR_MAX_GROUP];
    int nreq, nrecv, first, ok;
    int posted;     /* the messages of the piece at off are posted */
    int fmap_flags; /* of the parity file (sal_level_ctx_t) */
    sal_level_times_t *tm;
} l3_work_t;

/* The stripe this member computes, in the parity file after its header. */
static unsigned char *stripe_of(l3_work_t *w)
{
    return w->m.data + sal_parity_head_len(w->p.size);
}

/* Posts the piece at w->off of every stripe of the group: member k receives from every other
 * member i the payload bytes of its chunk for stripe k (no padding is sent), the first straight
 * into the stripe, the others into scratch. Sends come straight from the data. On failure the
 * exchange is ended (sal_msg_end). */
static int post_piece(l3_work_t *w)
{
    const sal_parity_t *p = &w->p;
    int size = (int)p->size, me = (int)p->member, nscratch = 0, rc = SAL_OK;

    w->n = w->chunk - w->off < w->piece ? w->chunk - w->off : w->piece;
    w->first = -1;
    w->nreq = 0;
    for (int i = 0; i < size; i++) {
        w->have[i] = i == me ? 0
                             : payload_in(p->lens[i], w->chunk, sal_xor_chunk_index(size, i, me),
                                          w->off, w->n);
        w->into[i] = w->have[i] == 0 ? NULL
                     : w->first < 0  ? stripe_of(w) + w->off
                                     : w->scratch + (size_t)nscratch * XOR_PIECE;
        if (w->have[i] > 0 && w->first >= 0)
            nscratch++;
        if (w->have[i] > 0 && w->first < 0)
            w->first = i;
    }
    for (int i = 0; i < size && rc == SAL_OK; i++)
        if (w->have[i] > 0)
            rc = sal_mpi_status(MPI_Irecv(w->into[i], (int)w->have[i], MPI_BYTE, i, TAG_XOR,
                                          w->gcomm, &w->req[w->nreq++]));
    w->nrecv = w->nreq;
    for (int k = 0; k < size && rc == SAL_OK; k++) {
        int c = sal_xor_chunk_index(size, me, k);
        size_t mine = k == me ? 0 : payload_in(p->lens[me], w->chunk, c, w->off, w->n);
        if (mine > 0)
            rc = sal_msg_send(w->data + (size_t)c * w->chunk + w->off, (int)mine, MPI_BYTE, k,
                              TAG_XOR, w->gcomm, &w->req[w->nreq++]);
    }
    if (rc != SAL_OK)
        rc = sal_msg_end(w->gcomm, w->req, w->nreq, w->nrecv, rc);
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "L3: exchange of parity chunks failed");
}

/* The piece posted has arrived: zero padding, then the XOR of the other members' pieces. */
static void xor_piece(l3_work_t *w)
{
    unsigned char *at = stripe_of(w) + w->off;
    size_t lead = w->first < 0 ? 0 : w->have[w->first];

    memset(at + lead, 0, w->n - lead);
    for (int i = 0; i < (int)w->p.size; i++)
        if (w->have[i] > 0 && i != w->first)
            sal_xor_accumulate(at, w->into[i], w->have[i]);
}

/* The parity file of n bytes at path, created (or taken over from reuse, when not NULL) and
 * mapped; one that cannot be created is logged,
 * clears *ok and becomes heap memory (the stripe is still computed: the peers need this member's
 * chunks). SAL_ERR_NOMEM when not even that memory is there. */
static int prepare_file(const char *path, size_t n, const char *reuse, int flags, sal_fmap_t *m,
                        int *ok)
{
    if (sal_fmap_create(path, n, reuse, flags, m) == SAL_OK) {
        if (m->reused)
            SAL_LOG_D("L3: %s overwrites %s", path, reuse);
        return SAL_OK;
    }
    SAL_LOG_E("L3: %s", sal_last_error());
    *ok = 0;
    m->data = malloc(n);
    m->len = n;
    m->fd = -1;
    m->live = 1; /* heap memory only: released by sal_fmap_close */
    return m->data ? SAL_OK : sal_error(SAL_ERR_NOMEM, "L3 parity of %zu bytes", n);
}

/* Releases w: its group's communicator, buffers and file (removed when not published). */
static void free_work(l3_work_t *w)
{
    if (w->gcomm != MPI_COMM_NULL)
        MPI_Comm_free(&w->gcomm);
    free(w->scratch);
    sal_fmap_close(&w->m);
    free(w);
}

/* Collective over the group: the lengths and the parity file (created at path, or taken over from
 * reuse); l3_advance posts the pieces. [INOUT] w->p: lengths and chunk filled in; w->ok cleared
 * when the file cannot be created. SAL_ERR_INVALID_ARG (the same on every member) or
 * SAL_ERR_NOMEM when this member cannot take part (then no piece is posted anywhere), or the
 * status of a failed exchange. */
static int begin_group(l3_work_t *w, const char *path, const char *reuse, int64_t len)
{
    size_t lens[SAL_XOR_MAX_GROUP];
    int64_t mylen = len < 0 ? 0 : len;
    sal_parity_t *p = &w->p;
    double t0 = sal_clock_mono();
    int rc;

    rc = sal_mpi_status(MPI_Allgather(&mylen, 1, MPI_INT64_T, p->lens, 1, MPI_INT64_T, w->gcomm));
    lap(w->tm ? &w->tm->exchange : NULL, &t0);
    if (rc != SAL_OK)
        return sal_error(rc, "L3: exchange of parity lengths failed");
    for (int i = 0; i < p->size; i++)
        lens[i] = (size_t)p->lens[i];
    rc = sal_xor_chunk_size((int)p->size, lens, &w->chunk);
    if (rc == SAL_OK && w->chunk > (size_t)INT_MAX)
        rc = sal_error(SAL_ERR_INVALID_ARG,
                       "L3: parity stripe of %zu bytes exceeds one message; "
                       "use a larger xor_group_size",
                       w->chunk);
    if (rc != SAL_OK) /* the same on every member: none takes part in the exchange */
        return rc;
    p->chunk = (int64_t)w->chunk;
    w->piece = w->chunk < XOR_PIECE ? w->chunk : XOR_PIECE;
    rc = prepare_file(path, sal_parity_len(p->size, p->chunk), reuse, w->fmap_flags, &w->m, &w->ok);
    if (rc == SAL_OK && p->size > 2 && w->piece > 0 &&
        !(w->scratch = malloc((size_t)(p->size - 2) * XOR_PIECE)))
        rc = sal_error(SAL_ERR_NOMEM, "L3 parity buffers");
    lap(w->tm ? &w->tm->store : NULL, &t0);
    /* A member that cannot take part ends the exchange as failed (revoked), so that no peer
     * waits for it. */
    return rc == SAL_OK ? SAL_OK : sal_msg_abandon(w->gcomm, NULL, 0, 0, rc);
}

/* Begin (level_ops.h): XOR parity of the members' files within each group; each rank stores
 * <dir>/parity.<r>.xor. The group's communicator, the lengths and the file are made here;
 * l3_advance posts the pieces (with async_levels, after the commit) and XORs them. */
static int l3_begin(const sal_level_ctx_t *c, const void *data, int64_t len, sal_level_work_t **out,
                    int *ok)
{
    const sal_topo_t *t = c->topo;
    int me = 0, member = -1, group, rc, reuse;
    char path[PATH_MAX], old[PATH_MAX];
    const int *members;
    double t0;
    l3_work_t *w;

    *out = NULL;
    MPI_Comm_rank(c->comm, &me);
    *ok = len >= 0;
    if (!t->groups)
        return SAL_OK;
    w = calloc(1, sizeof(*w));
    if (!w)
        return sal_error(SAL_ERR_NOMEM, "L3 parity");
    w->gcomm = MPI_COMM_NULL;
    w->m.fd = -1;
    w->data = data;
    w->fmap_flags = c->fmap_flags;
    w->tm = c->times;
    w->ok = 1;
    group = sal_xor_group_of(t->groups, me, &member);
    w->p.member = member;
    w->p.size = sal_xor_group_members(t->groups, group, &members);
    w->p.nranks = t->nranks;
    w->p.group = group;
    t0 = sal_clock_mono();
    rc = sal_mpi_status(MPI_Comm_split(c->comm, group, member, &w->gcomm));
    lap(w->tm ? &w->tm->exchange : NULL, &t0);
    if (rc != SAL_OK) {
        w->gcomm = MPI_COMM_NULL;
        free_work(w);
        return sal_error(rc, "L3: cannot split the parity groups");
    }
    rc = sal_path_join(path, sizeof(path), "%s/parity.%d.xor", c->dir, me);
    reuse = c->reuse_dir &&
            sal_path_join(old, sizeof(old), "%s/parity.%d.xor", c->reuse_dir, me) == SAL_OK;
    if (rc == SAL_OK)
        rc = begin_group(w, path, reuse ? old : NULL, len);
    if (rc == SAL_OK) {
        *out = w;
        return SAL_OK;
    }
    free_work(w);
    if (rc == SAL_ERR_INVALID_ARG || rc == SAL_ERR_NOMEM) {
        SAL_LOG_E("%s", sal_last_error());
        *ok = 0;
        rc = SAL_OK;
    }
    return rc;
}

/* Advance (level_ops.h): each piece that arrived is XOR-ed and the next one posted; after the
 * last, the parity's header and checksum, and the file is published. The requests of a piece
 * posted here are ended by a later call (or l3_abandon), which the MPI checker cannot follow. */
/* NOLINTBEGIN(clang-analyzer-optin.mpi.MPI-Checker) */
static int l3_advance(sal_level_work_t **wp, int wait, int *ok)
{
    l3_work_t *w = *wp;
    sal_level_times_t *tm = w->tm;
    double t0 = sal_clock_mono();
    int rc = SAL_OK;

    if (!w->posted && w->off < w->chunk) { /* the first piece: a failure ends the exchange */
        sal_fmap_populate(&w->m, 1);
        w->posted = 1;
        rc = post_piece(w);
    }
    while (rc == SAL_OK && w->off < w->chunk) {
        int done = 1;
        if (!wait)
            rc = sal_mpi_status(MPI_Testall(w->nreq, w->req, &done, MPI_STATUSES_IGNORE));
        if (rc == SAL_OK && !done)
            break;
        rc = sal_msg_end(w->gcomm, w->req, w->nreq, w->nrecv, rc);
        lap(tm ? &tm->exchange : NULL, &t0);
        if (rc != SAL_OK)
            break;
        xor_piece(w);
        w->off += w->n;
        w->posted = w->off < w->chunk;
        if (w->posted)
            rc = post_piece(w);
        lap(tm ? &tm->store : NULL, &t0);
    }
    if (rc == SAL_OK && w->off < w->chunk) { /* a piece still travels */
        lap(tm ? &tm->exchange : NULL, &t0);
        return SAL_OK;
    }
    if (rc == SAL_OK && w->m.created) {
        sal_parity_put_head(w->m.data, &w->p);
        sal_parity_seal(w->m.data, w->m.len);
        if (sal_fmap_commit(&w->m) != SAL_OK) {
            SAL_LOG_E("L3: %s", sal_last_error());
            w->ok = 0;
        }
    }
    *ok = *ok && w->ok;
    free_work(w);
    lap(tm ? &tm->store : NULL, &t0);
    *wp = NULL;
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "L3: exchange of parity chunks failed");
}
/* NOLINTEND(clang-analyzer-optin.mpi.MPI-Checker) */

/* Abandon (level_ops.h). */
static void l3_abandon(sal_level_work_t **wp)
{
    l3_work_t *w = *wp;

    if (!w)
        return;
    sal_msg_abandon(w->gcomm, w->posted ? w->req : NULL, w->nreq, w->nrecv, SAL_ERR_PROC_FAILED);
    free_work(w);
    *wp = NULL;
}

/* ---- rebuild from files ------------------------------------------------------------------------
 */

typedef struct member_files {
    char *data, *par;
    size_t dlen, plen;
    sal_parity_t p;
} member_files_t;

static int load_member(const char *dir, int r, int want_data, member_files_t *m)
{
    char path[PATH_MAX];
    int rc = sal_path_join(path, sizeof(path), "%s/parity.%d.xor", dir, r);

    if (rc == SAL_OK)
        rc = sal_slurp(path, &m->par, &m->plen);
    if (rc == SAL_OK)
        rc = sal_parity_parse(path, (const unsigned char *)m->par, m->plen, &m->p);
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
    size_t lens[SAL_XOR_MAX_GROUP] = {0};
    const sal_parity_t *ref = &mf[lost == 0 ? 1 : 0].p;
    char path[PATH_MAX];
    int got = -1, rc;
    char *out;
    sal_parity_t np = *ref;

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
    if (rc == SAL_OK && sal_parity_write(dir, r, &np) != SAL_OK)
        SAL_LOG_W("L3: rank %d rebuilt, but its parity could not be rewritten: %s", r,
                  sal_last_error());
    free(out);
    return rc;
}

/* Local (shared directory): rebuilds <dir>/rank.<r>.h5 (and parity.<r>.xor) from the files and
 * parity of the other members of r's group in dir. SAL_ERR_RECOVERY when another member is missing
 * too, SAL_ERR_CORRUPT when a parity file is damaged or does not belong to the group. */
static int l3_rebuild_local(const sal_level_ctx_t *c, int r)
{
    const sal_topo_t *t = c->topo;
    const char *dir = c->dir;
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

/* ---- rebuild over MPI --------------------------------------------------------------------------
 */

enum { REDUCE_PIECE = 1 << 30 }; /* largest single reduction, bytes */

/* Where this rank stands in the rebuild of the one lost member of its group. */
typedef struct l3_role {
    const sal_topo_t *t;
    const char *dir;
    const int *members;
    int me, group, size, member, lost;
} l3_role_t;

/* Survivor: loads its own parity and rank file and checks them against its place in the group. */
static int load_own(const l3_role_t *g, member_files_t *mf)
{
    size_t lens[SAL_XOR_MAX_GROUP], chunk = 0;
    int rc = load_member(g->dir, g->me, 1, mf);

    if (rc != SAL_OK)
        return rc;
    if (mf->p.nranks != g->t->nranks || mf->p.group != g->group || mf->p.size != g->size ||
        mf->p.member != g->member)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s/parity.%d.xor records member %lld of group %lld (%lld members, "
                         "%lld ranks), the levels record member %d of group %d (%d members, "
                         "%d ranks)",
                         g->dir, g->me, (long long)mf->p.member, (long long)mf->p.group,
                         (long long)mf->p.size, (long long)mf->p.nranks, g->member, g->group,
                         g->size, g->t->nranks);
    for (int i = 0; i < g->size; i++)
        lens[i] = mf->p.lens[i] < 0 ? SIZE_MAX : (size_t)mf->p.lens[i];
    rc = sal_xor_chunk_size(g->size, lens, &chunk);
    if (rc != SAL_OK || chunk != (size_t)mf->p.chunk || chunk > (size_t)INT_MAX)
        return sal_error(SAL_ERR_CORRUPT,
                         "%s/parity.%d.xor: stripe of %lld bytes does not match the lengths "
                         "it records",
                         g->dir, g->me, (long long)mf->p.chunk);
    if (mf->dlen != lens[g->member])
        return sal_error(SAL_ERR_CORRUPT,
                         "%s/rank.%d.h5 has %zu bytes, its parity records %zu: the file changed "
                         "after the checkpoint",
                         g->dir, g->me, mf->dlen, lens[g->member]);
    return SAL_OK;
}

/* Collective over gcomm: the survivors' chunk size and lengths must be equal. Each contributes
 * v = [ok, chunk, lens...] and -v to one MIN reduction (the lost member contributes neutral
 * values), which yields the minimum and the maximum of every entry. [OUT] *ok = 1 when every
 * survivor could contribute and all agree; then p->chunk and p->lens hold the agreed values. */
static int agree_header(MPI_Comm gcomm, const l3_role_t *g, sal_parity_t *p, int *ok)
{
    int64_t v[2 * (2 + SAL_XOR_MAX_GROUP)];
    int n = 2 + g->size, rc;

    for (int i = 0; i < 2 * n; i++)
        v[i] = INT64_MAX;
    v[0] = *ok;
    if (g->member != g->lost && *ok) {
        v[1] = p->chunk;
        for (int i = 0; i < g->size; i++)
            v[2 + i] = p->lens[i];
        for (int i = 1; i < n; i++)
            v[n + i] = -v[i];
    }
    rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, v, 2 * n, MPI_INT64_T, MPI_MIN, gcomm));
    *ok = rc == SAL_OK && v[0] == 1;
    for (int i = 1; *ok && i < n; i++)
        *ok = v[i] == -v[n + i];
    if (*ok) {
        p->chunk = v[1];
        memcpy(p->lens, v + 2, (size_t)g->size * sizeof(int64_t));
    }
    return rc;
}

/* Survivor's contribution, size blocks of chunk bytes: the size - 1 blocks that rebuild the lost
 * member's data (sal_xor_pack_rebuild), then this member's data chunk of the lost member's
 * stripe, from which the root recomputes that stripe. */
static int pack(const l3_role_t *g, const member_files_t *mf, size_t chunk, unsigned char *send)
{
    int rc = sal_xor_pack_rebuild(mf->data, mf->dlen, mf->p.stripe, g->size, g->member, g->lost,
                                  chunk, send);
    size_t off = (size_t)sal_xor_chunk_index(g->size, g->member, g->lost) * chunk, n = 0;
    unsigned char *last = send + (size_t)(g->size - 1) * chunk;

    if (rc != SAL_OK)
        return rc;
    memset(last, 0, chunk);
    if (off < mf->dlen)
        n = mf->dlen - off < chunk ? mf->dlen - off : chunk;
    if (n > 0)
        memcpy(last, mf->data + off, n);
    return SAL_OK;
}

/* Collective over gcomm: XOR of every member's buffer onto member root, in pieces. */
static int reduce_pieces(MPI_Comm gcomm, unsigned char *buf, size_t n, int root, int is_root)
{
    for (size_t off = 0; off < n; off += REDUCE_PIECE) {
        int k = (int)(n - off < REDUCE_PIECE ? n - off : REDUCE_PIECE);
        int rc = sal_mpi_status(MPI_Reduce(is_root ? MPI_IN_PLACE : buf + off,
                                           is_root ? buf + off : NULL, k, MPI_BYTE, MPI_BXOR, root,
                                           gcomm));
        if (rc != SAL_OK)
            return rc;
    }
    return SAL_OK;
}

/* Root: checks the zero padding of the rebuilt data and stores rank.<r>.h5 and parity.<r>.xor. */
static int store_rebuilt(const l3_role_t *g, const sal_parity_t *agreed, const unsigned char *buf)
{
    size_t chunk = (size_t)agreed->chunk, len = (size_t)agreed->lens[g->lost];
    size_t end = (size_t)(g->size - 1) * chunk;
    char path[PATH_MAX];
    sal_parity_t np = *agreed;
    int rc;

    for (size_t i = len; i < end; i++)
        if (buf[i] != 0)
            return sal_error(SAL_ERR_CORRUPT,
                             "L3: the rebuilt file of rank %d is not zero beyond its %zu bytes: "
                             "the parity and rank files of its group do not belong together",
                             g->me, len);
    rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", g->dir, g->me);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(path, buf, len, 0600);
    if (rc != SAL_OK)
        return rc;
    np.nranks = g->t->nranks;
    np.group = g->group;
    np.size = g->size;
    np.member = g->lost;
    np.stripe = buf + end;
    if (sal_parity_write(g->dir, g->me, &np) != SAL_OK)
        SAL_LOG_W("L3: rank %d rebuilt, but its parity could not be rewritten: %s", g->me,
                  sal_last_error());
    return SAL_OK;
}

/* Collective over the group's communicator (member index = rank in gcomm). [OUT] *got. */
static int rebuild_over(MPI_Comm gcomm, const l3_role_t *g, int *got)
{
    member_files_t mf;
    int root = g->member == g->lost, ok = 1, rc;
    unsigned char *buf = NULL;
    size_t n = 0;

    memset(&mf, 0, sizeof(mf));
    if (!root && load_own(g, &mf) != SAL_OK) {
        SAL_LOG_W("L3: rank %d cannot help rebuild rank %d: %s", g->me, g->members[g->lost],
                  sal_last_error());
        ok = 0;
    }
    rc = agree_header(gcomm, g, &mf.p, &ok);
    if (rc == SAL_OK && ok) {
        n = (size_t)g->size * (size_t)mf.p.chunk;
        buf = root ? calloc(n + 1, 1) : malloc(n + 1);
        ok = buf && (root || pack(g, &mf, (size_t)mf.p.chunk, buf) == SAL_OK);
        rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, gcomm));
    }
    if (rc == SAL_OK && ok)
        rc = reduce_pieces(gcomm, buf, n, g->lost, root);
    if (rc == SAL_OK && root && !ok)
        SAL_LOG_W("L3: cannot rebuild rank %d: the parity or rank file of another member of its "
                  "group is missing, damaged or does not match the group (see that rank's "
                  "warning)",
                  g->me);
    else if (rc == SAL_OK && root && buf && store_rebuilt(g, &mf.p, buf) == SAL_OK)
        *got = 1;
    else if (rc == SAL_OK && root)
        SAL_LOG_W("L3: %s", sal_last_error());
    free(buf);
    free(mf.data);
    free(mf.par);
    return rc;
}

/* The lost members of the group of g, as a list for a message. */
static void lost_list(const l3_role_t *g, const int *need, char *buf, size_t size)
{
    size_t k = 0;

    buf[0] = '\0';
    for (int i = 0; i < g->size && k < size; i++)
        if (need[g->members[i]]) {
            int w = snprintf(buf + k, size - k, "%s%d", k ? ", " : "", g->members[i]);
            k += w > 0 ? (size_t)w : 0;
        }
}

/* Collective (same rank count as at write time): every rank with need[r] != 0 whose parity group
 * has no other member in need rebuilds <dir>/rank.<r>.h5 (and parity.<r>.xor) from one XOR
 * reduction over the group: each other member contributes its own <dir>/rank.<m>.h5 and
 * parity.<m>.xor, so dir may be node-local. The survivors' parity checksums and recorded lengths
 * are checked and must agree, the rebuilt zero padding must be zero. [OUT] *got = 1 when this rank
 * needed and rebuilt its file. Problems are logged (two members of a group lost, a damaged or
 * foreign parity file) and leave *got = 0; returns SAL_OK, or SAL_ERR_PROC_FAILED/SAL_ERR_MPI. */
static int l3_fetch(const sal_level_ctx_t *c, const int *need, int *got)
{
    const sal_topo_t *t = c->topo;
    l3_role_t g = {.t = t, .dir = c->dir, .lost = -1};
    MPI_Comm gcomm = MPI_COMM_NULL;
    int nlost = 0, rc;

    MPI_Comm_rank(c->comm, &g.me);
    *got = 0;
    if (!t->groups)
        return SAL_OK;
    g.group = sal_xor_group_of(t->groups, g.me, &g.member);
    g.size = sal_xor_group_members(t->groups, g.group, &g.members);
    for (int i = 0; i < g.size; i++)
        if (need[g.members[i]]) {
            nlost++;
            g.lost = g.lost < 0 ? i : g.lost;
        }
    if (need[g.me] && nlost > 1) {
        char list[256];
        lost_list(&g, need, list, sizeof(list));
        SAL_LOG_W("L3: cannot rebuild rank %d: %d members of its parity group are lost (ranks %s) "
                  "and parity repairs one",
                  g.me, nlost, list);
    }
    rc = sal_mpi_status(
        MPI_Comm_split(c->comm, nlost == 1 ? g.group : MPI_UNDEFINED, g.member, &gcomm));
    if (rc != SAL_OK)
        return sal_error(rc, "L3: cannot split the parity groups");
    if (gcomm == MPI_COMM_NULL)
        return SAL_OK;
    rc = rebuild_over(gcomm, &g, got);
    MPI_Comm_free(&gcomm);
    return rc == SAL_OK ? SAL_OK : sal_error(rc, "L3: exchange of parity failed");
}

static void l3_warn_topology(const sal_topo_t *t)
{
    if (sal_xor_groups_shared(t->groups) > 0)
        SAL_LOG_W("L3: %d parity group(s) have two members on one host: they survive the loss of a "
                  "process, not of that host",
                  sal_xor_groups_shared(t->groups));
}

const sal_level_ops_t sal_level_xor = {
    .bit = SAL_LVL_L3,
    .name = "L3",
    .restored = "L3 (XOR rebuild)",
    .rebuilt = "rebuilt from XOR parity",
    .covers = "L3 (XOR parity across hosts)",
    .warn_topology = l3_warn_topology,
    .begin = l3_begin,
    .advance = l3_advance,
    .abandon = l3_abandon,
    .fetch = l3_fetch,
    .rebuild_local = l3_rebuild_local,
};
