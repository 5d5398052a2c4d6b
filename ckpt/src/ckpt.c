/*
 * The checkpoint handle: regions, job directory, listing of checkpoints on disk, the finish marker.
 * The commit protocol is in commit.c, restore in restore.c.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "agree.h"
#include "bound.h"
#include "clock.h"
#include "ckpt_internal.h"
#include "config_internal.h"
#include "events.h"
#include "fsutil.h"
#include "h5io.h"
#include "log.h"
#include "manifest.h"
#include "ckpt_impl.h"

int sal_comm_rank(MPI_Comm comm)
{
    int r = -1;

    MPI_Comm_rank(comm, &r);
    return r;
}

int sal_comm_size(MPI_Comm comm)
{
    int s = 0;

    MPI_Comm_size(comm, &s);
    return s;
}

/* Levels, host name, L4 thread and the adaptive interval from the settings. */
static int setup_levels(struct sal_ckpt *c, const sal_settings_t *set, const char *job)
{
    int len = 0, rc = sal_levels_parse(set->levels, &c->levels, &c->levels_auto);

    if (rc != SAL_OK)
        return rc;
    c->xor_size = (int)set->xor_group_size;
    c->fake_host_ranks = (int)set->fake_host_ranks;
    if (set->hostname[0]) {
        rc = sal_path_join(c->host, sizeof(c->host), "%s", set->hostname);
    } else {
        char name[MPI_MAX_PROCESSOR_NAME];
        MPI_Get_processor_name(name, &len);
        rc = sal_path_join(c->host, sizeof(c->host), "%s", name);
    }
    if (rc == SAL_OK && set->pfs_dir[0])
        rc = sal_path_join(c->pfs_job, sizeof(c->pfs_job), "%s/%s", set->pfs_dir, job);
    if (rc == SAL_OK) {
        sal_level_setup_t setup = {c->job_dir, c->pfs_job, c->keep, (int)set->pfs_every};
        rc = sal_levels_start(&setup, &c->async);
    }
    sal_interval_auto_init(&c->iauto, set->mtbf, set->interval.kind == SAL_INTERVAL_AUTO,
                           sal_clock_mono());
    return rc;
}

void sal_ckpt_host_name(const struct sal_ckpt *ck, char *buf, size_t size)
{
    if (ck->fake_host_ranks > 0)
        snprintf(buf, size, "%.200s.fake%d", ck->host,
                 sal_comm_rank(ck->comm) / ck->fake_host_ranks);
    else
        snprintf(buf, size, "%s", ck->host);
}

double sal_ckpt_auto_interval(sal_ckpt_t ck)
{
    return ck ? ck->iauto.period : 0;
}

void sal_ckpt_flush_wait(sal_ckpt_t ck)
{
    if (ck)
        sal_levels_drain(&ck->async);
}

/* differential_tracking=pages: the written-page tracker, or (where the kernel cannot track) a
 * warning and the hashes of every chunk. */
static void open_dirty(struct sal_ckpt *c)
{
    if (sal_dirty_open(&c->dirty) == SAL_OK)
        return;
    if (sal_comm_rank(c->comm) == 0)
        SAL_LOG_W("differential_tracking=pages: %s; every chunk is hashed instead",
                  sal_last_error());
}

int sal_ckpt_create(MPI_Comm comm, sal_config_t cfg, const char *job, sal_ckpt_t *ck)
{
    char dir[PATH_MAX];
    struct sal_ckpt *c;
    int rc;

    if (!cfg || !ck || !sal_name_valid(job))
        return sal_error(SAL_ERR_INVALID_ARG, "invalid configuration, job name or output pointer");
    rc = sal_config_resolve_ckpt_dir(cfg, dir, sizeof(dir));
    if (rc != SAL_OK)
        return rc;
    c = calloc(1, sizeof(*c));
    if (!c)
        return sal_error(SAL_ERR_NOMEM, "checkpoint handle");
    c->comm = comm;
    c->own_first_id = -1;
    c->last_committed = -1;
    c->id_floor = -1;
    c->keep = (int)sal_config_settings(cfg)->keep;
    c->reuse_files = sal_config_settings(cfg)->reuse_files != 0;
    c->differential = sal_config_settings(cfg)->differential != 0;
    c->restart_from = sal_config_settings(cfg)->restart_from;
    c->async_levels = sal_config_settings(cfg)->async_levels != 0;
    c->pending.id = -1;
    c->pending.file.fd = -1;
    c->levels_comm = MPI_COMM_NULL;
    rc = sal_h5_compression(sal_config_settings(cfg)->compression, &c->compression);
    if (rc == SAL_OK)
        rc = sal_path_join(c->job_dir, sizeof(c->job_dir), "%s/%s", dir, job);
    if (rc == SAL_OK)
        rc = sal_mkdir_p(c->job_dir, 0700);
    if (rc == SAL_OK)
        rc = setup_levels(c, sal_config_settings(cfg), job);
    if (rc == SAL_OK)
        rc = sal_bound_configure(sal_config_settings(cfg)->protocol_timeout,
                                 sal_config_settings(cfg)->protocol_timeout_factor);
    if (rc == SAL_OK && c->differential &&
        strcmp(sal_config_settings(cfg)->differential_tracking, "pages") == 0)
        open_dirty(c);
    if (rc != SAL_OK) {
        sal_levels_stop(&c->async);
        free(c);
        return rc;
    }
    *ck = c;
    return SAL_OK;
}

void sal_ckpt_destroy(sal_ckpt_t *ck)
{
    if (!ck || !*ck)
        return;
    sal_bound_shutdown();
    /* Every peer ends its part here too (or has failed): at most 10 s, and never a hang */
    sal_pending_release(*ck, 10.0);
    sal_levels_stop(&(*ck)->async);
    sal_topo_free(&(*ck)->topo);
    sal_dirty_close((*ck)->dirty);
    free((*ck)->regions);
    free(*ck);
    *ck = NULL;
}

int sal_ckpt_set_comm(sal_ckpt_t ck, MPI_Comm comm)
{
    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    if (comm != ck->comm) /* a repair: the encoding in flight on the old one is lost */
        sal_pending_release(ck, -1.0);
    ck->comm = comm;
    return SAL_OK;
}

void sal_ckpt_set_inject(sal_ckpt_t ck, sal_inject_t *plan)
{
    if (ck)
        ck->inject = plan;
}

void sal_ckpt_set_step_hint(sal_ckpt_t ck, int64_t step)
{
    if (ck)
        ck->step_hint = step;
}

const char *sal_ckpt_job_dir(sal_ckpt_t ck)
{
    return ck ? ck->job_dir : "";
}

static int add_region(sal_ckpt_t ck, const sal_region_t *r)
{
    sal_region_t *grown;
    int rc;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    rc = sal_region_check(r);
    if (rc != SAL_OK)
        return rc;
    if (!r->base && sal_region_elems(r) > 0)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": NULL base address", r->name);
    for (int i = 0; i < ck->nregions; i++)
        if (strcmp(ck->regions[i].name, r->name) == 0)
            return sal_error(SAL_ERR_EXISTS, "region \"%s\" is already protected", r->name);
    if (ck->nregions >= SAL_MAX_REGIONS)
        return sal_error(SAL_ERR_INVALID_ARG, "more than %d protected regions", SAL_MAX_REGIONS);
    grown = realloc(ck->regions, (size_t)(ck->nregions + 1) * sizeof(*grown));
    if (!grown)
        return sal_error(SAL_ERR_NOMEM, "region table");
    ck->regions = grown;
    ck->regions[ck->nregions++] = *r;
    return SAL_OK;
}

int sal_ckpt_protect(sal_ckpt_t ck, const char *name, void *base, sal_type_t type, int ndims,
                     const int64_t *gdims, const int64_t *offset, const int64_t *count)
{
    sal_region_t r;

    memset(&r, 0, sizeof(r));
    if (!name || strlen(name) >= sizeof(r.name) || !gdims || !offset || !count || ndims < 1 ||
        ndims > SAL_MAX_DIMS)
        return sal_error(SAL_ERR_INVALID_ARG, "region \"%s\": bad name, ndims %d or NULL dims",
                         name ? name : "(null)", ndims);
    strcpy(r.name, name);
    r.base = base;
    r.type = type;
    r.ndims = ndims;
    memcpy(r.gdims, gdims, (size_t)ndims * sizeof(int64_t));
    memcpy(r.offset, offset, (size_t)ndims * sizeof(int64_t));
    memcpy(r.count, count, (size_t)ndims * sizeof(int64_t));
    return add_region(ck, &r);
}

int sal_ckpt_unprotect(sal_ckpt_t ck, const char *name)
{
    if (!ck || !name)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle or name");
    for (int i = 0; i < ck->nregions; i++) {
        if (strcmp(ck->regions[i].name, name) != 0)
            continue;
        memmove(&ck->regions[i], &ck->regions[i + 1],
                (size_t)(ck->nregions - i - 1) * sizeof(*ck->regions));
        ck->nregions--;
        return SAL_OK;
    }
    return sal_error(SAL_ERR_NOT_FOUND, "region \"%s\" is not protected", name);
}

int sal_ckpt_protect_scalar(sal_ckpt_t ck, const char *name, void *addr, sal_type_t type)
{
    sal_region_t r;

    memset(&r, 0, sizeof(r));
    if (!name || strlen(name) >= sizeof(r.name) || !addr)
        return sal_error(SAL_ERR_INVALID_ARG, "scalar \"%s\": bad name or NULL address",
                         name ? name : "(null)");
    strcpy(r.name, name);
    r.base = addr;
    r.type = type;
    r.scalar = 1;
    return add_region(ck, &r);
}

int sal_ckpt_protect_local(sal_ckpt_t ck, const char *name, void *base, size_t bytes)
{
    sal_region_t r;

    memset(&r, 0, sizeof(r));
    if (!name || strlen(name) >= sizeof(r.name) || bytes > (size_t)INT64_MAX)
        return sal_error(SAL_ERR_INVALID_ARG, "per-rank data \"%s\": bad name or %zu bytes",
                         name ? name : "(null)", bytes);
    strcpy(r.name, name);
    r.base = base;
    r.type = SAL_CHAR;
    r.local = 1;
    r.ndims = 1;
    r.gdims[0] = r.count[0] = (int64_t)bytes;
    return add_region(ck, &r);
}

int sal_ckpt_dir_path(const struct sal_ckpt *ck, int64_t id, char *buf, size_t size)
{
    return sal_path_join(buf, size, "%s/ckpt.%lld", ck->job_dir, (long long)id);
}

int sal_ckpt_latest(sal_ckpt_t ck, int64_t *id)
{
    int rc;

    if (!ck || !id)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL argument");
    rc = sal_latest_read(ck->job_dir, id);
    if (rc == SAL_ERR_NO_CKPT) {
        *id = -1;
        return SAL_OK;
    }
    return rc;
}

int sal_ckpt_finished(sal_ckpt_t ck, int *finished)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = sal_path_join(path, sizeof(path), "%s/finished", ck->job_dir);

    if (rc != SAL_OK)
        return rc;
    *finished = lstat(path, &st) == 0;
    return SAL_OK;
}

int sal_ckpt_host_leader(const struct sal_ckpt *ck, int me)
{
    const sal_topo_t *t = &ck->topo;

    return me == 0 || (t->first && me < t->nranks && t->first[me]);
}

void sal_ckpt_record_settled(struct sal_ckpt *ck, const sal_settled_t *s, int agreed, int me)
{
    char dir[PATH_MAX];
    int have = s->id >= 0 && sal_ckpt_dir_path(ck, s->id, dir, sizeof(dir)) == SAL_OK;

    if (s->id >= 0 && !have)
        SAL_LOG_E("checkpoint %lld: %s", (long long)s->id, sal_last_error());
    sal_pending_record(s, have ? dir : NULL, agreed, sal_ckpt_host_leader(ck, me), me);
}

/* Collective (the end of the job): ends the encoding in flight behind the application, agrees on
 * it and records it (level_async.h). SAL_OK (also when a rank could not store its part: the
 * checkpoint stays L1, logged), or SAL_ERR_PROC_FAILED. */
static int settle(struct sal_ckpt *ck)
{
    sal_settled_t s;
    int me = sal_comm_rank(ck->comm), flag, rc;

    if (ck->pending.id < 0)
        return SAL_OK;
    sal_pending_finish(ck, &s);
    flag = s.ok;
    rc = sal_agree(ck->comm, &flag);
    sal_ckpt_record_settled(ck, &s, rc == SAL_OK && !s.lost && flag, me);
    if (rc != SAL_OK || s.lost)
        return sal_error(SAL_ERR_PROC_FAILED,
                         "a process failed while the levels of checkpoint %lld were encoded",
                         (long long)s.id);
    return SAL_OK;
}

int sal_ckpt_mark_finished(sal_ckpt_t ck)
{
    char path[PATH_MAX];
    int rc = SAL_OK;

    if (!ck)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL checkpoint handle");
    rc = settle(ck);
    if (rc != SAL_OK)
        return rc;
    if (sal_comm_rank(ck->comm) == 0) {
        rc = sal_path_join(path, sizeof(path), "%s/finished", ck->job_dir);
        if (rc == SAL_OK)
            rc = sal_write_file_atomic(path, "finished\n", 9, 0600);
    }
    if (MPI_Bcast(&rc, 1, MPI_INT, 0, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "broadcast of the finish marker status failed");
    return rc;
}
