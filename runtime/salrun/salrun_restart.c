/*
 * salrun --restart-from ID (key restart_from, docs/checkpoints.md): what salrun checks on its own
 * host before the first launch, and when the relaunches stop restoring ID. The job itself checks
 * and restores ID on every host (ckpt/src/restore_chosen.c); salrun only refuses early what this
 * host's job directory already shows.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <salamander/sal_error.h>

#include "manifest.h"
#include "salrun.h"
#include "salrun_job.h"

/* The newest `latest` of the node-local and the L4 job directory: [OUT] *id (-1: none). SAL_OK,
 * SAL_ERR_NO_CKPT when neither has one, else the error of the one that cannot be read. */
static int newest_latest(const salrun_job_t *j, int64_t *id)
{
    int64_t mine = -1, pfs = -1;
    int rc = sal_latest_read(j->job_dir, &mine), rcp = SAL_ERR_NO_CKPT;

    if (j->pfs_job[0])
        rcp = sal_latest_read(j->pfs_job, &pfs);
    *id = mine > pfs ? mine : pfs;
    if (rc != SAL_OK && rc != SAL_ERR_NO_CKPT)
        return rc;
    if (rcp != SAL_OK && rcp != SAL_ERR_NO_CKPT)
        return rcp;
    return *id >= 0 ? SAL_OK : SAL_ERR_NO_CKPT;
}

/* Whether <dir>/ckpt.<id> is a directory. */
static int has_ckpt(const char *dir, long long id)
{
    char path[PATH_MAX + 32];
    struct stat sb;

    if (!dir[0])
        return 0;
    snprintf(path, sizeof(path), "%s/ckpt.%lld", dir, id);
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int salrun_restart_check(salrun_job_t *j)
{
    long long id = j->restart_from;
    int64_t latest = -1;
    int rc;

    j->latest0 = -1;
    if (id < 0)
        return SAL_OK;
    rc = newest_latest(j, &latest);
    if (rc == SAL_OK)
        j->latest0 = (long long)latest;
    if (rc == SAL_OK && id > latest)
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "--restart-from %lld: checkpoint %lld of job '%s' was never committed: "
                           "the newest committed one is %lld (salrun ckpt list %s)",
                           id, id, j->name, (long long)latest, j->job_dir);
    /* Ranks on other hosts may hold what this one lacks (node-local directories): the job checks.
     */
    if (salrun_hosts_remote(&j->hosts))
        return SAL_OK;
    if (rc == SAL_ERR_NO_CKPT)
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "--restart-from %lld: job '%s' has no committed checkpoint in %s%s%s: "
                           "nothing to restart from",
                           id, j->name, j->job_dir, j->pfs_job[0] ? " or " : "", j->pfs_job);
    if (rc == SAL_OK && !has_ckpt(j->job_dir, id) && !has_ckpt(j->pfs_job, id))
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "--restart-from %lld: checkpoint %lld of job '%s' is not in %s%s%s "
                           "(deleted by retention or salrun ckpt prune?)",
                           id, id, j->name, j->job_dir, j->pfs_job[0] ? " nor in " : "",
                           j->pfs_job);
    return SAL_OK;
}

void salrun_restart_relaunch(salrun_job_t *j)
{
    int64_t latest = -1;
    char json[96];

    if (j->restart_from < 0)
        return;
    if (j->st.ckpts == 0 &&
        !(newest_latest(j, &latest) == SAL_OK && (long long)latest != j->latest0)) {
        snprintf(json, sizeof(json), "\"restart_from\":%lld", j->restart_from);
        salrun_say(&j->out, "restart_from", json,
                   "the job has committed no checkpoint since it restarted: the relaunch restores "
                   "checkpoint %lld again",
                   j->restart_from);
        return;
    }
    if (setenv("SAL_RESTART_FROM", "-1", 1) != 0) {
        salrun_say(&j->out, "restart_from", "\"restart_from\":-1", "setenv SAL_RESTART_FROM: %s",
                   strerror(errno));
        return;
    }
    salrun_say(&j->out, "restart_from", "\"restart_from\":-1",
               "the job has committed checkpoints since it restarted from checkpoint %lld: "
               "relaunches restore its newest committed one",
               j->restart_from);
    j->restart_from = -1;
}
