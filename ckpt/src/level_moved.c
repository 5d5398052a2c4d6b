/* A rank's file from the host that holds it. Node-local files stay on the host that wrote them;
 * a relaunch on fewer hosts (the loss of rank 0's host, say) maps ranks onto other hosts, where
 * their own reads find nothing. Every rank's file is still on its old host (its own file) or on
 * its partner's old host (the L2 copy): the lowest rank now running on that host reads it and
 * sends it over MPI (levels.h, sal_fetch_moved). The hosts are compared by name, as recorded in the
 * checkpoint's `levels` file and as exchanged now. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "fsutil.h"
#include "levels.h"
#include "log.h"
#include "redundancy.h"

enum { TAG_LEN = 7401, TAG_DATA = 7402 };
enum { FROM_OWN = 0, FROM_PARTNER = 1 };

typedef struct plan {
    int size, me;
    char *now;   /* size * SAL_HOST_LEN: where each rank runs now */
    int *holder; /* [size]: the rank that provides r's file, -1 none, r itself: a local copy */
    int *kind;   /* [size]: FROM_OWN or FROM_PARTNER */
} plan_t;

static const char *now_host(const plan_t *p, int r)
{
    return p->now + (size_t)r * SAL_HOST_LEN;
}

/* The lowest rank now on host, -1 when none. */
static int first_on(const plan_t *p, const char *host)
{
    for (int q = 0; q < p->size; q++)
        if (strcmp(now_host(p, q), host) == 0)
            return q;
    return -1;
}

/* Who provides rank r's file: its old host, unless r runs there itself (then its own read failed:
 * the file is bad), else its partner's old host (L2). */
static void choose(plan_t *p, const sal_topo_t *old, int mask, int r)
{
    p->holder[r] = -1;
    if (strcmp(now_host(p, r), old->hosts[r]) != 0 &&
        (p->holder[r] = first_on(p, old->hosts[r])) >= 0) {
        p->kind[r] = FROM_OWN;
        return;
    }
    if (!(mask & SAL_LVL_L2) || !old->pmap)
        return;
    p->kind[r] = FROM_PARTNER;
    p->holder[r] = first_on(p, old->hosts[sal_partner_of(old->pmap, r)]);
}

/* Collective: exchanges the host names and, when a rank runs on another host than when the
 * checkpoint was written, plans every rank in need. Returns the number of ranks that have a holder
 * (< 0: the exchange failed or out of memory). */
static int make_plan(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                     const int *need, plan_t *p)
{
    char mine[SAL_HOST_LEN] = {0};
    int served = 0, moved = 0;

    MPI_Comm_size(comm, &p->size);
    MPI_Comm_rank(comm, &p->me);
    p->now = calloc((size_t)p->size, SAL_HOST_LEN);
    p->holder = calloc((size_t)p->size, sizeof(int));
    p->kind = calloc((size_t)p->size, sizeof(int));
    if (!p->now || !p->holder || !p->kind)
        return -1;
    strncpy(mine, my_host, SAL_HOST_LEN - 1);
    if (MPI_Allgather(mine, SAL_HOST_LEN, MPI_CHAR, p->now, SAL_HOST_LEN, MPI_CHAR, comm) !=
        MPI_SUCCESS)
        return -1;
    for (int r = 0; r < p->size; r++)
        moved += strcmp(now_host(p, r), old->hosts[r]) != 0;
    for (int r = 0; r < p->size; r++) {
        p->holder[r] = -1;
        if (need[r] && moved) /* nobody moved: L2 and L3 are the way */
            choose(p, old, mask, r);
        served += p->holder[r] >= 0;
    }
    return served;
}

static int file_path(char *path, const char *dir, int kind, int r)
{
    return sal_path_join(path, PATH_MAX, "%s/%s.%d.h5", dir, kind == FROM_OWN ? "rank" : "partner",
                         r);
}

/* Holder side: reads the file of every rank this rank provides to another. [OUT] dsts, lens, bufs
 * (len -1 when unreadable). Returns how many. */
static int read_provided(const plan_t *p, const char *dir, int *dsts, int64_t *lens, char **bufs)
{
    char path[PATH_MAX];
    int k = 0;

    for (int r = 0; r < p->size; r++) {
        size_t n = 0;

        if (p->holder[r] != p->me || r == p->me)
            continue;
        dsts[k] = r;
        bufs[k] = NULL;
        lens[k] = -1;
        if (file_path(path, dir, p->kind[r], r) == SAL_OK &&
            sal_slurp(path, &bufs[k], &n) == SAL_OK)
            lens[k] = (int64_t)n;
        else
            SAL_LOG_W("cannot provide the file of rank %d (now on %s): %s", r, now_host(p, r),
                      sal_last_error());
        k++;
    }
    return k;
}

/* Sizes: the receive of this rank's (from its holder, when it needs one from another rank)
 * posted before the sends of those it provides. [OUT] *len (-1: none). */
static int exchange_sizes(MPI_Comm comm, const plan_t *p, int nd, const int *dsts,
                          const int64_t *lens, int64_t *len)
{
    int from = p->holder[p->me], nrecv = from >= 0 && from != p->me, nreq = 0, rc = SAL_OK;
    MPI_Request *req = sal_msg_requests(nd + 1);

    *len = -1;
    if (!req)
        return sal_error(SAL_ERR_NOMEM, "requests of a file exchange");
    if (nrecv)
        rc = sal_mpi_status(MPI_Irecv(len, 1, MPI_INT64_T, from, TAG_LEN, comm, &req[nreq++]));
    for (int k = 0; rc == SAL_OK && k < nd; k++)
        rc = sal_mpi_status(
            MPI_Isend(&lens[k], 1, MPI_INT64_T, dsts[k], TAG_LEN, comm, &req[nreq++]));
    rc = sal_msg_end(comm, req, nreq, nrecv, rc);
    free(req);
    return rc;
}

/* Data: this rank's file (len bytes from its holder) into *mine, and those it provides. */
static int exchange_data(MPI_Comm comm, const plan_t *p, int nd, const int *dsts,
                         const int64_t *lens, char **bufs, int64_t len, char **mine)
{
    int total = sal_msg_pieces(len), nreq = 0, rc = SAL_OK;
    MPI_Request *req;

    for (int k = 0; k < nd; k++)
        total += sal_msg_pieces(lens[k]);
    req = sal_msg_requests(total);
    *mine = len > 0 ? malloc((size_t)len) : NULL;
    if (!req || (len > 0 && !*mine))
        rc = sal_error(SAL_ERR_NOMEM, "buffers of a file exchange");
    if (rc == SAL_OK && len > 0)
        rc = sal_msg_post(0, *mine, len, p->holder[p->me], TAG_DATA, comm, req);
    nreq = sal_msg_pieces(len);
    for (int k = 0; rc == SAL_OK && k < nd; k++) {
        rc = sal_msg_post(1, bufs[k], lens[k], dsts[k], TAG_DATA, comm, req + nreq);
        nreq += sal_msg_pieces(lens[k]);
    }
    if (req)
        rc = sal_msg_end(comm, req, nreq, sal_msg_pieces(len), rc);
    free(req);
    return rc;
}

/* This rank's part once the plan is made: provide, receive or copy, store. */
static int serve(MPI_Comm comm, const plan_t *p, const char *dir, int *got)
{
    int from = p->holder[p->me], nd, rc, cap = 0;
    int *dsts;
    int64_t *lens, len = -1;
    char **bufs, *mine = NULL, path[PATH_MAX], dst[PATH_MAX];

    for (int r = 0; r < p->size; r++)
        cap += p->holder[r] == p->me && r != p->me;
    dsts = calloc((size_t)cap + 1, sizeof(int));
    lens = calloc((size_t)cap + 1, sizeof(int64_t));
    bufs = calloc((size_t)cap + 1, sizeof(char *));
    if (!dsts || !lens || !bufs)
        rc = sal_error(SAL_ERR_NOMEM, "file exchange");
    else
        rc = SAL_OK;
    nd = rc == SAL_OK ? read_provided(p, dir, dsts, lens, bufs) : 0;
    if (rc == SAL_OK)
        rc = exchange_sizes(comm, p, nd, dsts, lens, &len);
    if (rc == SAL_OK)
        rc = exchange_data(comm, p, nd, dsts, lens, bufs, len, &mine);
    if (rc == SAL_OK && sal_path_join(dst, sizeof(dst), "%s/rank.%d.h5", dir, p->me) == SAL_OK) {
        int64_t bytes;

        if (from == p->me) /* this rank runs where its partner copy is */
            *got = file_path(path, dir, FROM_PARTNER, p->me) == SAL_OK &&
                   sal_copy_file(path, dst, &bytes) == SAL_OK;
        else if (len > 0)
            *got = sal_write_file_atomic(dst, mine, (size_t)len, 0600) == SAL_OK;
    }
    for (int k = 0; k < nd; k++)
        free(bufs[k]);
    free(mine);
    free(dsts);
    free(lens);
    free(bufs);
    return rc;
}

int sal_fetch_moved(MPI_Comm comm, const sal_topo_t *old, int mask, const char *my_host,
                    const char *dir, const int *need, int *got, const char **how, const char **from)
{
    static char from_host[SAL_HOST_LEN];
    plan_t p = {0};
    int served, rc = SAL_OK, size;

    *got = 0;
    *how = *from = "";
    MPI_Comm_size(comm, &size);
    if (!old->hosts || old->nranks != size)
        return SAL_OK;
    served = make_plan(comm, old, mask, my_host, need, &p);
    if (served < 0)
        rc = sal_error(SAL_ERR_PROC_FAILED, "exchange of host names while restoring failed");
    else if (served > 0)
        rc = serve(comm, &p, dir, got);
    if (*got) {
        int h = p.holder[p.me];

        *how = p.kind[p.me] == FROM_OWN ? "its own file" : "its partner copy";
        snprintf(from_host, sizeof(from_host), "%s", now_host(&p, h));
        *from = from_host;
    }
    free(p.now);
    free(p.holder);
    free(p.kind);
    return rc;
}
