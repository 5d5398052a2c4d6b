/* Rank files from the hosts that hold them. Node-local files stay on the host that wrote them:
 *
 * - a relaunch on fewer hosts (the loss of rank 0's host, say) maps ranks onto other hosts, where
 *   their own reads find nothing (sal_fetch_moved). Every rank's file is still on its old host
 *   (its own file) or on its partner's old host (the L2 copy).
 * - a restore on another rank count (a shrink, N -> M) reads every rank's block through the
 *   manifest's virtual datasets, which name the old rank files of the same directory: each host
 *   needs the old files that overlap the blocks of the ranks it runs now (sal_fetch_spread).
 *
 * Both make a list of transfers, the same on every rank: the lowest rank now running on the host
 * that holds a file reads it and sends it over MPI to the rank that stores it (transfer()). The
 * hosts are compared by name, as recorded in the checkpoint's `levels` file and as exchanged now.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "fsutil.h"
#include "levels.h"
#include "log.h"
#include "redundancy.h"

enum { TAG_LEN = 7401, TAG_DATA = 7402 };
enum { FROM_OWN = 0, FROM_PARTNER = 1, PARITY = 2 };

/* One file moved: rank from reads <dir>/<rank|partner>.<r>.h5 and rank to stores it as
 * <dir>/rank.<r>.h5 (from == to: a local copy of the partner copy), or (PARITY)
 * <dir>/parity.<r>.xor as the same name. Every rank holds the same list in the same order, so the
 * messages between two ranks match in that order. */
typedef struct xfer {
    int r, kind, from, to;
} xfer_t;

/* Where the ranks run now. */
typedef struct hosts_now {
    int size, me;
    char *now; /* size * SAL_HOST_LEN */
} hosts_now_t;

static const char *now_host(const hosts_now_t *h, int r)
{
    return h->now + (size_t)r * SAL_HOST_LEN;
}

/* The lowest rank now on host, -1 when none. */
static int first_on(const hosts_now_t *h, const char *host)
{
    for (int q = 0; q < h->size; q++)
        if (strcmp(now_host(h, q), host) == 0)
            return q;
    return -1;
}

/* Collective: every rank's host now into *h (h->now is freed by the caller, also after an error).
 * A rank that cannot allocate the list fails before the exchange; the others then wait in it until
 * the restore's protocol bound ends them (bound.h). */
static int gather_hosts(MPI_Comm comm, const char *my_host, hosts_now_t *h)
{
    char mine[SAL_HOST_LEN] = {0};

    MPI_Comm_size(comm, &h->size);
    MPI_Comm_rank(comm, &h->me);
    h->now = calloc((size_t)h->size, SAL_HOST_LEN);
    if (!h->now)
        return sal_error(SAL_ERR_NOMEM, "host names of %d ranks", h->size);
    strncpy(mine, my_host, SAL_HOST_LEN - 1);
    return sal_mpi_status(
        MPI_Allgather(mine, SAL_HOST_LEN, MPI_CHAR, h->now, SAL_HOST_LEN, MPI_CHAR, comm));
}

static int file_path(char *path, const char *dir, int kind, int r)
{
    if (kind == PARITY)
        return sal_path_join(path, PATH_MAX, "%s/parity.%d.xor", dir, r);
    return sal_path_join(path, PATH_MAX, "%s/%s.%d.h5", dir, kind == FROM_OWN ? "rank" : "partner",
                         r);
}

/* Where transfer t is stored: the rank file, or the parity under its own name. */
static int dest_path(char *path, const char *dir, const xfer_t *t)
{
    return t->kind == PARITY ? file_path(path, dir, PARITY, t->r)
                             : file_path(path, dir, FROM_OWN, t->r);
}

/* The requests of this rank's part of the transfers: receives first. [OUT] *nrecv. */
static int count_mine(const xfer_t *t, int n, int me, int *nrecv)
{
    int total = 0;

    *nrecv = 0;
    for (int k = 0; k < n; k++) {
        if (t[k].from == t[k].to)
            continue;
        *nrecv += t[k].to == me;
        total += t[k].to == me || t[k].from == me;
    }
    return total;
}

/* Sizes: lens[k] of the files this rank sends (read into bufs[k], -1 when unreadable) go to
 * their receivers, which get theirs in lens[k]. */
static int exchange_sizes(MPI_Comm comm, int me, const char *dir, const xfer_t *t, int n,
                          int64_t *lens, char **bufs)
{
    int nrecv, nreq = 0, rc = SAL_OK;
    MPI_Request *req = sal_msg_requests(count_mine(t, n, me, &nrecv));
    char path[PATH_MAX];

    if (!req)
        return sal_error(SAL_ERR_NOMEM, "requests of a file exchange");
    for (int k = 0; k < n && rc == SAL_OK; k++)
        if (t[k].to == me && t[k].from != me)
            rc = sal_mpi_status(
                MPI_Irecv(&lens[k], 1, MPI_INT64_T, t[k].from, TAG_LEN, comm, &req[nreq++]));
    for (int k = 0; k < n && rc == SAL_OK; k++) {
        size_t len = 0;

        if (t[k].from != me || t[k].to == me)
            continue;
        lens[k] = -1;
        if (file_path(path, dir, t[k].kind, t[k].r) == SAL_OK &&
            sal_slurp(path, &bufs[k], &len) == SAL_OK)
            lens[k] = (int64_t)len;
        else
            SAL_LOG_W("cannot provide the file of old rank %d to rank %d: %s", t[k].r, t[k].to,
                      sal_last_error());
        rc = sal_msg_send(&lens[k], 1, MPI_INT64_T, t[k].to, TAG_LEN, comm, &req[nreq++]);
    }
    rc = sal_msg_end(comm, req, nreq, nrecv, rc);
    free(req);
    return rc;
}

/* Data: every file of known size, received into bufs[k] or sent from it. */
static int exchange_data(MPI_Comm comm, int me, const xfer_t *t, int n, const int64_t *lens,
                         char **bufs)
{
    int total = 0, nrecv = 0, nreq = 0, rc = SAL_OK;
    MPI_Request *req;

    for (int k = 0; k < n; k++) {
        if (t[k].from == t[k].to || (t[k].to != me && t[k].from != me))
            continue;
        total += sal_msg_pieces(lens[k]);
        nrecv += t[k].to == me ? sal_msg_pieces(lens[k]) : 0;
    }
    req = sal_msg_requests(total);
    if (!req)
        return sal_error(SAL_ERR_NOMEM, "requests of a file exchange");
    for (int pass = 0; pass < 2; pass++) /* receives, then sends */
        for (int k = 0; k < n && rc == SAL_OK; k++) {
            int recv = t[k].to == me;

            if (t[k].from == t[k].to || (pass == 0) != recv || (!recv && t[k].from != me) ||
                lens[k] <= 0)
                continue;
            if (recv && !(bufs[k] = malloc((size_t)lens[k]))) {
                rc = sal_error(SAL_ERR_NOMEM, "file of old rank %d (%lld bytes)", t[k].r,
                               (long long)lens[k]);
                break;
            }
            rc = sal_msg_post(!recv, bufs[k], lens[k], recv ? t[k].from : t[k].to, TAG_DATA, comm,
                              req + nreq);
            nreq += sal_msg_pieces(lens[k]);
        }
    rc = sal_msg_end(comm, req, nreq, nrecv, rc);
    free(req);
    return rc;
}

/* Collective over the ranks of the list: performs the transfers t[0..n). [OUT] stored[k] = 1 for
 * each transfer k this rank stored. SAL_OK, or the status of a failed exchange. */
static int transfer(MPI_Comm comm, int me, const char *dir, const xfer_t *t, int n, int *stored)
{
    int64_t *lens = calloc((size_t)n + 1, sizeof(int64_t));
    char **bufs = calloc((size_t)n + 1, sizeof(char *)), path[PATH_MAX], dst[PATH_MAX];
    int rc = lens && bufs ? SAL_OK : sal_error(SAL_ERR_NOMEM, "file exchange");

    if (rc == SAL_OK)
        rc = exchange_sizes(comm, me, dir, t, n, lens, bufs);
    if (rc == SAL_OK)
        rc = exchange_data(comm, me, t, n, lens, bufs);
    for (int k = 0; rc == SAL_OK && k < n; k++) {
        int64_t bytes;

        stored[k] = 0;
        if (t[k].to != me || dest_path(dst, dir, &t[k]) != SAL_OK)
            continue;
        if (t[k].from == me) /* this rank runs where the partner copy is */
            stored[k] = file_path(path, dir, t[k].kind, t[k].r) == SAL_OK &&
                        sal_copy_file(path, dst, &bytes) == SAL_OK;
        else if (lens[k] > 0)
            stored[k] = sal_write_file_atomic(dst, bufs[k], (size_t)lens[k], 0600) == SAL_OK;
        if (!stored[k])
            SAL_LOG_W("the %s of old rank %d did not arrive: %s",
                      t[k].kind == PARITY ? "parity" : "file", t[k].r,
                      lens[k] > 0 || t[k].from == me ? sal_last_error() : "its holder had none");
    }
    for (int k = 0; bufs && k < n; k++)
        free(bufs[k]);
    free(lens);
    free(bufs);
    return rc;
}

/* Who provides old rank r's file to a rank on host to_host: the lowest rank now on its old host,
 * unless that is to_host itself (then the file there is missing or bad), else (L2) the lowest rank
 * now on its partner's old host. [OUT] *t. 0 when nobody can. */
static int choose(const hosts_now_t *h, const sal_topo_t *old, int mask, int r, const char *to_host,
                  xfer_t *t)
{
    t->r = r;
    t->kind = FROM_OWN;
    if (strcmp(to_host, old->hosts[r]) != 0 && (t->from = first_on(h, old->hosts[r])) >= 0)
        return 1;
    if (!(mask & SAL_LVL_L2) || !old->pmap)
        return 0;
    t->kind = FROM_PARTNER;
    t->from = first_on(h, old->hosts[sal_partner_of(old->pmap, r)]);
    return t->from >= 0;
}

int sal_fetch_moved(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                    const char *dir, const int *need, int *got, const char **how, char *from,
                    size_t from_size)
{
    hosts_now_t h = {0};
    xfer_t *t = NULL;
    int *stored = NULL, n = 0, moved = 0, size, rc;

    *got = 0;
    *how = "";
    if (from_size)
        from[0] = '\0';
    MPI_Comm_size(comm, &size);
    if (!old->hosts || old->nranks != size)
        return SAL_OK;
    rc = gather_hosts(comm, my_host, &h);
    for (int r = 0; rc == SAL_OK && r < size; r++)
        moved += strcmp(now_host(&h, r), old->hosts[r]) != 0;
    if (rc == SAL_OK && moved) { /* nobody moved: L2 and L3 are the way */
        t = calloc(2 * (size_t)size, sizeof(*t));
        stored = calloc(2 * (size_t)size + 1, sizeof(int));
        /* Every rank makes the same list: failing here alone would leave the others waiting. */
        if (!t || !stored)
            rc = sal_error(SAL_ERR_NOMEM, "list of %d file transfers", size);
        for (int r = 0; rc == SAL_OK && r < size; r++)
            if (need[r] && choose(&h, old, mask, r, now_host(&h, r), &t[n])) {
                t[n].to = r;
                n++;
            }
        /* L3 rebuilds a lost rank from the files and parity of the other members of its group,
         * each read where that member runs now: a member that moved needs its parity there. */
        for (int r = 0; rc == SAL_OK && (mask & SAL_LVL_L3) && r < size; r++) {
            int holder =
                strcmp(now_host(&h, r), old->hosts[r]) != 0 ? first_on(&h, old->hosts[r]) : -1;
            if (holder >= 0)
                t[n++] = (xfer_t){.r = r, .kind = PARITY, .from = holder, .to = r};
        }
    }
    if (rc == SAL_OK && n > 0)
        rc = transfer(comm, h.me, dir, t, n, stored);
    for (int k = 0; rc == SAL_OK && k < n; k++)
        if (t[k].to == h.me && stored[k] && t[k].kind != PARITY) {
            *got = 1;
            *how = t[k].kind == FROM_OWN ? "its own file" : "its partner copy";
            snprintf(from, from_size, "%s", now_host(&h, t[k].from));
        }
    free(h.now);
    free(t);
    free(stored);
    return rc;
}

/* Whether a rank on this rank's host wants old file r (all: every rank's want, rank-major). */
static int wanted_here(const hosts_now_t *h, const unsigned char *all, int nfiles, int r)
{
    for (int q = 0; q < h->size; q++)
        if (all[(size_t)q * nfiles + r] && strcmp(now_host(h, q), now_host(h, h->me)) == 0)
            return 1;
    return 0;
}

/* Collective: each rank's want[] into all (size * nfiles bytes, rank-major). */
static int gather_bytes(MPI_Comm comm, const unsigned char *mine, int nfiles, unsigned char *all)
{
    return sal_mpi_status(
        MPI_Allgather(mine, nfiles, MPI_UNSIGNED_CHAR, all, nfiles, MPI_UNSIGNED_CHAR, comm));
}

int sal_fetch_spread(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                     const char *dir, int nfiles, const unsigned char *want, unsigned char *check)
{
    hosts_now_t h = {0};
    int rc, n = 0, index = 0, on_host = 0;
    unsigned char *all = NULL, *missing = NULL, *mine = NULL;
    xfer_t *t = NULL;
    int *stored = NULL;
    char path[PATH_MAX];

    memset(check, 0, (size_t)nfiles);
    rc = gather_hosts(comm, my_host, &h);
    /* (An allocation failure ends this rank's part before an exchange, as in gather_hosts.) */
    if (rc == SAL_OK) {
        all = calloc((size_t)h.size * (size_t)nfiles + 1, 1);
        missing = calloc((size_t)h.size * (size_t)nfiles + 1, 1);
        mine = calloc((size_t)nfiles + 1, 1);
        if (!all || !missing || !mine)
            rc = sal_error(SAL_ERR_NOMEM, "file lists of %d ranks", h.size);
    }
    if (rc == SAL_OK)
        rc = gather_bytes(comm, want, nfiles, all);
    /* The lowest rank of each host: the files its host wants and lacks. */
    if (rc == SAL_OK && first_on(&h, now_host(&h, h.me)) == h.me)
        for (int r = 0; r < nfiles; r++) {
            mine[r] = wanted_here(&h, all, nfiles, r) &&
                      file_path(path, dir, FROM_OWN, r) == SAL_OK && access(path, F_OK) != 0;
        }
    if (rc == SAL_OK)
        rc = gather_bytes(comm, mine, nfiles, missing);
    if (rc == SAL_OK && old->hosts && old->nranks == nfiles) {
        t = calloc((size_t)h.size * (size_t)nfiles + 1, sizeof(*t));
        stored = calloc((size_t)h.size * (size_t)nfiles + 1, sizeof(int));
        if (!t || !stored)
            rc = sal_error(SAL_ERR_NOMEM, "list of file transfers");
        for (int q = 0; rc == SAL_OK && q < h.size; q++)
            for (int r = 0; r < nfiles; r++)
                if (missing[(size_t)q * nfiles + r] &&
                    choose(&h, old, mask, r, now_host(&h, q), &t[n])) {
                    t[n].to = q;
                    n++;
                }
    }
    if (rc == SAL_OK && n > 0)
        rc = transfer(comm, h.me, dir, t, n, stored);
    /* The other ranks of a receiver's host check what it stored: after it is stored. */
    if (rc == SAL_OK && n > 0)
        rc = sal_mpi_status(MPI_Barrier(comm));
    /* Which wanted files this rank checks (and rebuilds when it can): the ranks of a host share
     * its files, one check each, spread over them. */
    for (int q = 0; rc == SAL_OK && q < h.size; q++)
        if (strcmp(now_host(&h, q), now_host(&h, h.me)) == 0) {
            index += q < h.me;
            on_host++;
        }
    for (int r = 0, k = 0; rc == SAL_OK && r < nfiles; r++)
        if (wanted_here(&h, all, nfiles, r))
            check[r] = on_host > 0 && k++ % on_host == index;
    if (rc == SAL_OK && n > 0 && h.me == 0)
        SAL_LOG_I("%d old rank file%s moved to the hosts whose ranks read them", n,
                  n == 1 ? "" : "s");
    free(h.now);
    free(all);
    free(missing);
    free(mine);
    free(t);
    free(stored);
    return rc;
}
