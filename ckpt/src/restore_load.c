/*
 * Restore, one checkpoint: every rank tries to obtain its data of checkpoint id into the staging
 * copy (restore.c proposes the checkpoints and agrees on the outcome). Per rank L1 (own file), then
 * the fetch of every level of the table in order (level_ops.h: L2, the partner sends its copy back
 * over MPI; L3, XOR reduction over MPI), then L4 (the PFS copy of the checkpoint directory); a
 * rank without a node-local manifest receives it from one that has it; on another rank count (N ->
 * M) the missing old rank files are rebuilt first and every rank reads its block through the
 * manifest's virtual datasets. Every read is validated and each fallback logged with the file and
 * the reason.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "bound.h"
#include "ckpt_impl.h"
#include "ckpt_internal.h"
#include "clock.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "restore.h"

/* What one rank knows about the checkpoint being tried. */
typedef struct attempt {
    int64_t id;
    char dir[PATH_MAX];  /* node-local ckpt.<id> */
    char pdir[PATH_MAX]; /* L4 ckpt.<id>, "" when L4 is off */
    const char *mdir;    /* where the manifest was read: dir or pdir */
    sal_region_t *stage; /* the regions' staging copy that the reads fill (ck->nregions) */
    sal_levels_info_t info;
    sal_manifest_t m;
} attempt_t;

static const sal_manifest_region_t *find_region(const sal_manifest_t *m, const sal_region_t *r,
                                                const char *dir)
{
    for (int i = 0; i < m->nregions; i++) {
        const sal_manifest_region_t *mr = &m->regions[i];
        if (strcmp(mr->name, r->name) != 0)
            continue;
        /* Per-rank data: the manifest's shape is the sum of every rank's size; this rank's own
         * size is checked against its file. */
        if (mr->type != r->type || mr->scalar != r->scalar || mr->local != r->local ||
            mr->ndims != r->ndims ||
            (!r->scalar && !r->local &&
             memcmp(mr->gdims, r->gdims, (size_t)r->ndims * sizeof(int64_t)) != 0)) {
            sal_error(SAL_ERR_CORRUPT,
                      "%s/manifest.h5: region \"%s\" has another kind, type or shape than "
                      "the protected one",
                      dir, r->name);
            return NULL;
        }
        return mr;
    }
    sal_error(SAL_ERR_CORRUPT, "%s/manifest.h5: protected region \"%s\" is not in the checkpoint",
              dir, r->name);
    return NULL;
}

/* N->M path: each region's block read through the manifest's virtual datasets into the staging
 * copy. A scalar takes the value of the old rank with the same number, or of the last old rank. */
static int load_through_manifest(const struct sal_ckpt *ck, const attempt_t *a, const char *dir,
                                 int me)
{
    const sal_manifest_t *m = &a->m;
    double t0 = sal_clock_mono();

    for (int i = 0; i < ck->nregions; i++) {
        sal_region_t *r = &a->stage[i];
        int rc;
        if (r->scalar) {
            int64_t off = me < m->nranks ? me : m->nranks - 1, one = 1;
            rc = sal_manifest_read_block(dir, r->name, r->type, 1, &off, &one, r->base);
        } else {
            rc = sal_manifest_read_block(dir, r->name, r->type, r->ndims, r->offset, r->count,
                                         r->base);
        }
        if (rc != SAL_OK)
            return rc;
    }
    sal_bound_credit_since(t0);
    return SAL_OK;
}

/* Collective: the lowest rank that can read the levels record (node-local, else L4; every host
 * keeps one) broadcasts it; every rank parses it into a->info. Without a record a->info.mask is L1
 * only. */
static int share_levels(struct sal_ckpt *ck, int me, attempt_t *a)
{
    char *text = NULL;
    size_t len = 0;
    int64_t n = -1;
    int rc, src;
    double t0 = sal_clock_mono();

    if (sal_levels_load_text(a->dir, &text, &len) == SAL_OK ||
        (a->pdir[0] && sal_levels_load_text(a->pdir, &text, &len) == SAL_OK))
        n = (int64_t)len;
    sal_bound_credit_since(t0);
    src = n >= 0 ? me : INT_MAX;
    rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, &src, 1, MPI_INT, MPI_MIN, ck->comm));
    if (rc == SAL_OK && src != INT_MAX)
        rc = sal_mpi_status(MPI_Bcast(&n, 1, MPI_INT64_T, src, ck->comm));
    else
        n = -1;
    if (rc == SAL_OK && me != src && n > 0) {
        free(text);
        text = malloc((size_t)n + 1);
        rc = text ? SAL_OK : sal_error(SAL_ERR_NOMEM, "levels record");
    }
    if (rc == SAL_OK && n > 0) {
        rc = sal_mpi_status(MPI_Bcast(text, (int)n, MPI_CHAR, src, ck->comm));
        text[n] = '\0';
    }
    a->info.mask = SAL_LVL_L1;
    if (rc == SAL_OK && n > 0 && sal_levels_parse_text(a->dir, text, &a->info) != SAL_OK) {
        if (me == 0)
            SAL_LOG_W("ignoring the levels record: %s; restoring from L1/L4 only",
                      sal_last_error());
        a->info.mask = SAL_LVL_L1;
    }
    free(text);
    return rc;
}

/* Collective: rank src (the lowest rank with a valid node-local manifest) sends its file to every
 * rank; those without one store it as their node-local <dir>/manifest.h5 and read it. Rank 0
 * publishes the manifest on its own host only, so with node-local directories the other hosts
 * obtain it here. [INOUT] *have. */
static int receive_manifest(struct sal_ckpt *ck, int me, int src, attempt_t *a, int *have)
{
    char path[PATH_MAX], *buf = NULL;
    size_t len = 0;
    int64_t n = -1;
    int rc = sal_path_join(path, sizeof(path), "%s/manifest.h5", a->dir);

    if (me == src && rc == SAL_OK && sal_slurp(path, &buf, &len) == SAL_OK && len < INT_MAX)
        n = (int64_t)len;
    rc = sal_mpi_status(MPI_Bcast(&n, 1, MPI_INT64_T, src, ck->comm));
    if (rc == SAL_OK && me != src && n > 0 && !(buf = malloc((size_t)n)))
        rc = sal_error(SAL_ERR_NOMEM, "manifest of %lld bytes", (long long)n);
    if (rc == SAL_OK && n > 0)
        rc = sal_mpi_status(MPI_Bcast(buf, (int)n, MPI_BYTE, src, ck->comm));
    if (rc == SAL_OK && !*have && n > 0 && sal_mkdir_p(a->dir, 0700) == SAL_OK &&
        sal_write_file_atomic(path, buf, (size_t)n, 0600) == SAL_OK) {
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        *have = sal_manifest_read(a->dir, &a->m) == SAL_OK;
        if (*have)
            SAL_LOG_I("checkpoint %lld: manifest received from rank %d", (long long)a->id, src);
    }
    free(buf);
    return rc;
}

/* Collective: every rank reads the manifest (node-local, else received from another rank, else
 * L4) and checks the protected regions against it. [OUT] *mok. */
static int share_manifest(struct sal_ckpt *ck, int me, attempt_t *a, int *mok)
{
    char why[512] = "";
    double t0 = sal_clock_mono();
    int have = sal_manifest_read(a->dir, &a->m) == SAL_OK, v[2], rc;

    sal_bound_credit_since(t0);
    if (!have)
        snprintf(why, sizeof(why), "%s", sal_last_error());
    v[0] = have ? me : INT_MAX; /* lowest rank holding a manifest */
    v[1] = have ? 0 : -1;       /* -1: some rank lacks one */
    rc = sal_mpi_status(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MIN, ck->comm));
    if (rc == SAL_OK && v[1] < 0 && v[0] != INT_MAX)
        rc = receive_manifest(ck, me, v[0], a, &have);
    a->mdir = a->dir;
    if (rc == SAL_OK && !have && a->pdir[0]) {
        SAL_LOG_W("%s; using the L4 copy in %s", why, a->pdir);
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        have = sal_manifest_read(a->pdir, &a->m) == SAL_OK;
        a->mdir = a->pdir;
    } else if (!have) {
        sal_error(SAL_ERR_CORRUPT, "%s", why);
    }
    for (int i = 0; have && i < ck->nregions; i++)
        if (!find_region(&a->m, &ck->regions[i], a->mdir))
            have = 0;
    *mok = have;
    return rc;
}

/* Local: reads rank file r of dir into the regions, logging the reason of a failure. */
static int read_own(struct sal_ckpt *ck, const attempt_t *a, const char *dir, const char *level)
{
    char path[PATH_MAX];
    sal_rank_meta_t expect = {.id = a->id,
                              .step = a->m.step,
                              .rank = sal_comm_rank(ck->comm),
                              .nranks = sal_comm_size(ck->comm)};
    int rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", dir, expect.rank);
    double t0 = sal_clock_mono();

    /* A missing L1 file is what the loss of a host (or a relaunch on another one) leaves: the
     * other levels are there for it, and it is no damage worth a warning. */
    if (rc == SAL_OK && strcmp(level, "L1") == 0 && access(path, F_OK) != 0 && errno == ENOENT) {
        SAL_LOG_I("checkpoint %lld: no node-local file %s on this host; trying the other levels",
                  (long long)a->id, path);
        return sal_error(SAL_ERR_NOT_FOUND, "%s does not exist", path);
    }
    if (rc == SAL_OK)
        rc = sal_h5_read_rank(path, &expect, a->stage, ck->nregions);
    sal_bound_credit_since(t0);
    if (rc != SAL_OK)
        SAL_LOG_W("checkpoint %lld, %s: %s", (long long)a->id, level, sal_last_error());
    else if (strcmp(level, "L1") != 0)
        SAL_LOG_I("checkpoint %lld: rank file restored from %s", (long long)a->id, level);
    return rc;
}

/* Collective: [OUT] need[r] = !ok of every rank; returns the number of ranks in need (< 0: MPI). */
static int gather_need(MPI_Comm comm, int ok, int *need, int size)
{
    int mine = !ok, count = 0;

    if (MPI_Allgather(&mine, 1, MPI_INT, need, 1, MPI_INT, comm) != MPI_SUCCESS)
        return -1;
    for (int r = 0; r < size; r++)
        count += need[r];
    return count;
}

/* Whether a level after position i of the table can fetch. */
static int fetch_follows(int i)
{
    while (++i < SAL_LEVEL_COUNT)
        if (sal_level_table[i]->fetch)
            return 1;
    return 0;
}

/* Collective: every level of the checkpoint that fetches, in table order, while a rank is in need
 * (n of them, need[] as gathered). After a fetch, the ranks gather their need again when a later
 * level of the table can fetch. [INOUT] *ok, *n (< 0: an exchange failed). */
static int fetch_levels(struct sal_ckpt *ck, attempt_t *a, int *need, int *n, int *ok)
{
    int size = sal_comm_size(ck->comm), got = 0, rc = SAL_OK;
    const sal_level_ctx_t ctx = {ck->comm, &a->info.topo, a->dir, NULL, NULL, 0};

    for (int i = 0; i < SAL_LEVEL_COUNT && rc == SAL_OK && *n > 0; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        if (!l->fetch || !(a->info.mask & l->bit) || a->info.topo.nranks != size)
            continue;
        /* A fetch that returned counts as local work: the copies it moved are read and written
         * by the ranks that go on to the next exchange. */
        double t0 = sal_clock_mono();
        rc = l->fetch(&ctx, need, &got);
        sal_bound_credit_since(t0);
        if (rc == SAL_OK && got)
            *ok = read_own(ck, a, a->dir, l->restored) == SAL_OK;
        if (rc != SAL_OK)
            *n = -1;
        else if (fetch_follows(i))
            *n = gather_need(ck->comm, *ok, need, size);
    }
    return rc;
}

/* Collective, after the own reads (n ranks in need): the files of ranks that a relaunch put on
 * other hosts, from the hosts that hold them (sal_fetch_moved). [INOUT] *ok, *n. */
static int fetch_moved(struct sal_ckpt *ck, attempt_t *a, int *need, int *n, int *ok)
{
    char host[SAL_HOST_LEN], what[SAL_HOST_LEN + 64], from[SAL_HOST_LEN];
    const char *how;
    double t0 = sal_clock_mono();
    int got = 0, rc;

    sal_ckpt_host_name(ck, host, sizeof(host));
    rc = sal_fetch_moved(ck->comm, &a->info.topo, a->info.mask, host, a->dir, need, &got, &how,
                         from, sizeof(from));
    sal_bound_credit_since(t0);
    if (rc != SAL_OK) {
        *n = -1;
        return rc;
    }
    if (got) {
        snprintf(what, sizeof(what), "%s on host %s", how, from);
        *ok = read_own(ck, a, a->dir, what) == SAL_OK;
    }
    *n = gather_need(ck->comm, *ok, need, sal_comm_size(ck->comm));
    return SAL_OK;
}

/* Collective, same rank count: L1 (here, then where the rank ran when it wrote it), the levels
 * that fetch, L4, for every rank. [OUT] *ok. */
static int load_same_n(struct sal_ckpt *ck, attempt_t *a, int *ok)
{
    int size = sal_comm_size(ck->comm), rc = SAL_OK;
    int *need = calloc((size_t)size, sizeof(int)), n;

    if (!need)
        return sal_error(SAL_ERR_NOMEM, "restore status");
    *ok = read_own(ck, a, a->dir, "L1") == SAL_OK;
    if (!*ok && sal_mkdir_p(a->dir, 0700) != SAL_OK) /* the host's directory may be gone */
        SAL_LOG_W("checkpoint %lld: %s", (long long)a->id, sal_last_error());
    n = gather_need(ck->comm, *ok, need, size);
    if (n > 0)
        rc = fetch_moved(ck, a, need, &n, ok);
    if (rc == SAL_OK)
        rc = fetch_levels(ck, a, need, &n, ok);
    if (!*ok && a->pdir[0])
        *ok = read_own(ck, a, a->pdir, "L4") == SAL_OK;
    free(need);
    if (n < 0 || rc != SAL_OK)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                         (long long)a->id);
    return SAL_OK;
}

/* "L2 or L3": the names of the levels of the table that rebuild locally, into buf. */
static const char *rebuilding_levels(char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < SAL_LEVEL_COUNT && used < size; i++)
        if (sal_level_table[i]->rebuild_local)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " or " : "",
                                     sal_level_table[i]->name);
    return buf;
}

/* Local: makes <dir>/rank.<r>.h5 readable, rebuilding it with the levels of the checkpoint that
 * rebuild locally, in table order, when it is not. */
static int ensure_rank_file(const attempt_t *a, int r)
{
    const sal_level_ctx_t ctx = {MPI_COMM_NULL, &a->info.topo, a->dir, NULL, NULL, 0};
    char path[PATH_MAX], names[64];
    hid_t f;
    int rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", a->dir, r);

    if (rc == SAL_OK && sal_h5_open_input(path, &f) == SAL_OK) {
        H5Fclose(f);
        return SAL_OK;
    }
    SAL_LOG_W("checkpoint %lld: %s", (long long)a->id, sal_last_error());
    for (int i = 0; i < SAL_LEVEL_COUNT; i++) {
        const sal_level_ops_t *l = sal_level_table[i];
        if (l->rebuild_local && (a->info.mask & l->bit) && l->rebuild_local(&ctx, r) == SAL_OK &&
            sal_h5_open_input(path, &f) == SAL_OK) {
            H5Fclose(f);
            SAL_LOG_I("checkpoint %lld: %s %s", (long long)a->id, path, l->rebuilt);
            return SAL_OK;
        }
    }
    return sal_error(SAL_ERR_CORRUPT,
                     "checkpoint %lld: %s is missing and could not be rebuilt from "
                     "%s",
                     (long long)a->id, path, rebuilding_levels(names, sizeof(names)));
}

/* Whether the block [off, off + cnt) of ndims dimensions meets [o2, o2 + c2). */
static int blocks_meet(int ndims, const int64_t *off, const int64_t *cnt, const int64_t *o2,
                       const int64_t *c2)
{
    for (int d = 0; d < ndims; d++)
        if (cnt[d] <= 0 || c2[d] <= 0 || off[d] >= o2[d] + c2[d] || o2[d] >= off[d] + cnt[d])
            return 0;
    return 1;
}

/* [OUT] want[r] = 1 for every old rank file the manifest reads for this rank's blocks (and its
 * scalars' old rank). */
static void wanted_files(const struct sal_ckpt *ck, const attempt_t *a, int me, unsigned char *want)
{
    const sal_manifest_t *m = &a->m;

    memset(want, 0, (size_t)m->nranks);
    for (int i = 0; i < ck->nregions; i++) {
        const sal_region_t *r = &a->stage[i];
        const sal_manifest_region_t *mr = find_region(m, r, a->mdir);

        if (r->scalar || !mr) {
            want[me < m->nranks ? me : m->nranks - 1] = 1;
            continue;
        }
        for (int q = 0; q < m->nranks; q++)
            if (blocks_meet(r->ndims, r->offset, r->count, mr->offsets + (size_t)q * r->ndims,
                            mr->counts + (size_t)q * r->ndims))
                want[q] = 1;
    }
}

/* Collective, another rank count: the old rank files each host's ranks read, from the hosts that
 * hold them (sal_fetch_spread), verified and rebuilt when missing, spread over the ranks of each
 * host; then every rank reads through the manifest, falling back to the L4 copy. [OUT] *ok. */
static int load_n_to_m(struct sal_ckpt *ck, attempt_t *a, int *ok)
{
    int me = sal_comm_rank(ck->comm), all = 1, rc;

    if (a->mdir == a->dir) {
        char host[SAL_HOST_LEN];
        unsigned char *want = calloc((size_t)a->m.nranks, 1),
                      *check = calloc((size_t)a->m.nranks, 1);
        double t0 = sal_clock_mono();

        if (!want || !check) {
            free(want);
            free(check);
            return sal_error(SAL_ERR_NOMEM, "file lists of checkpoint %lld", (long long)a->id);
        }
        wanted_files(ck, a, me, want);
        sal_ckpt_host_name(ck, host, sizeof(host));
        rc = sal_fetch_spread(ck->comm, &a->info.topo, a->info.mask, host, a->dir, a->m.nranks,
                              want, check);
        for (int r = 0; rc == SAL_OK && r < a->m.nranks; r++)
            if (check[r] && ensure_rank_file(a, r) != SAL_OK)
                all = 0;
        free(want);
        free(check);
        sal_bound_credit_since(t0);
        if (rc != SAL_OK)
            return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                             (long long)a->id);
        if (MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, ck->comm) != MPI_SUCCESS)
            return sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                             (long long)a->id);
        *ok = all && load_through_manifest(ck, a, a->dir, me) == SAL_OK;
        if (*ok || !a->pdir[0])
            return SAL_OK;
        SAL_LOG_W("checkpoint %lld: %s; trying the L4 copy", (long long)a->id, sal_last_error());
        sal_manifest_free(&a->m);
        memset(&a->m, 0, sizeof(a->m));
        if (sal_manifest_read(a->pdir, &a->m) != SAL_OK) {
            *ok = 0;
            return SAL_OK;
        }
    }
    *ok = load_through_manifest(ck, a, a->pdir, me) == SAL_OK;
    return SAL_OK;
}

/* The first protected region of per-rank data (sal_protect_local), or NULL. */
static const sal_region_t *first_local(const struct sal_ckpt *ck)
{
    for (int i = 0; i < ck->nregions; i++)
        if (ck->regions[i].local)
            return &ck->regions[i];
    return NULL;
}

/* Per-rank data belongs to a rank number: a checkpoint of another number of ranks cannot restore
 * it, whichever checkpoint is tried. */
static int refuse_n_to_m(const struct sal_ckpt *ck, int from, int size)
{
    const sal_region_t *r = first_local(ck);

    return sal_error(SAL_ERR_UNRESTORABLE,
                     "region \"%s\" is per-rank data (sal_protect_local) and cannot be restored on "
                     "%d ranks from a checkpoint of %d ranks; use a global array (sal_protect) for "
                     "data that must be redistributed",
                     r ? r->name : "(another rank's)", size, from);
}

/* Collective: tries checkpoint id, reading into stage. [OUT] *ok (this rank's data is staged),
 * *tried (its step and levels, for the report when it cannot be restored). */
int sal_restore_load(struct sal_ckpt *ck, int64_t id, sal_region_t *stage, int *ok,
                     sal_tried_t *tried)
{
    int me = sal_comm_rank(ck->comm), size = sal_comm_size(ck->comm), rc, mok;
    int range[3];
    attempt_t a;

    memset(&a, 0, sizeof(a));
    a.id = id;
    a.stage = stage;
    rc = sal_ckpt_dir_path(ck, id, a.dir, sizeof(a.dir));
    if (rc == SAL_OK && ck->pfs_job[0])
        rc = sal_path_join(a.pdir, sizeof(a.pdir), "%s/ckpt.%lld", ck->pfs_job, (long long)id);
    if (rc != SAL_OK)
        return rc;
    /* Files of a checkpoint this process committed in this run are its own: no child-process probe
     * (docs/format.md, "What a reader checks"). */
    sal_h5_set_probing(!(ck->own_first_id >= 0 && id >= ck->own_first_id));
    rc = share_levels(ck, me, &a);
    mok = 0;
    if (rc == SAL_OK)
        rc = share_manifest(ck, me, &a, &mok);
    if (rc != SAL_OK)
        rc = sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                       (long long)id);
    if (rc == SAL_OK && !mok)
        SAL_LOG_E("checkpoint %lld: %s", (long long)id, sal_last_error());
    range[0] = mok ? -a.m.nranks : 1;
    range[1] = mok ? a.m.nranks : -1;
    range[2] = first_local(ck) != NULL;
    if (rc == SAL_OK &&
        MPI_Allreduce(MPI_IN_PLACE, range, 3, MPI_INT, MPI_MAX, ck->comm) != MPI_SUCCESS)
        rc = sal_error(SAL_ERR_PROC_FAILED, "exchange while restoring checkpoint %lld failed",
                       (long long)id);
    *ok = 0;
    if (rc == SAL_OK && range[0] == -range[1] && range[1] == size)
        rc = load_same_n(ck, &a, ok);
    else if (rc == SAL_OK && range[0] == -range[1] && range[1] > 0 && range[2])
        rc = refuse_n_to_m(ck, range[1], size);
    else if (rc == SAL_OK && range[0] == -range[1] && range[1] > 0)
        rc = load_n_to_m(ck, &a, ok);
    sal_h5_set_probing(1);
    tried->step = mok ? a.m.step : -1;
    tried->mask = a.info.mask;
    free(tried->hosts);
    tried->hosts = NULL;
    if (me == 0 && a.info.topo.names && a.info.topo.nranks == size &&
        (tried->hosts = malloc((size_t)size * SAL_HOST_LEN)) != NULL) {
        memcpy(tried->hosts, a.info.topo.names, (size_t)size * SAL_HOST_LEN);
        tried->nranks = size;
    }
    sal_manifest_free(&a.m);
    sal_levels_info_free(&a.info);
    return rc;
}
