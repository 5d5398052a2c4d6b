/*
 * Restart from a chosen checkpoint (key restart_from, docs/checkpoints.md): which checkpoint a
 * restore must take, why it cannot, and the record of the checkpoints the restart sets aside
 * (aside.h). restore.c proposes the chosen checkpoint alone: the user asked for that one, so a
 * failure to restore it is never answered with another.
 */
#include <stdio.h>

#include <salamander/sal_ckpt.h>

#include "aside.h"
#include "ckpt_impl.h"
#include "log.h"
#include "restore.h"

int sal_restore_choice(struct sal_ckpt *ck, int64_t *chosen)
{
    int64_t v[2] = {ck->own_first_id >= 0, ck->restart_from};

    /* A rank that committed a checkpoint of its own (a survivor of an in-job failure) makes the
     * job roll back to its own newest one, as usual. */
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT64_T, MPI_MAX, ck->comm) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "exchange of the checkpoint to restore failed");
    *chosen = v[0] ? -1 : v[1];
    return SAL_OK;
}

int sal_restore_chosen_check(const struct sal_ckpt *ck, int64_t chosen, int64_t newest, int present)
{
    char where[2 * PATH_MAX + 16];

    snprintf(where, sizeof(where), "%s%s%s%s", ck->job_dir, ck->pfs_job[0] ? " (L4: " : "",
             ck->pfs_job, ck->pfs_job[0] ? ")" : "");
    if (newest < 0)
        return sal_error(SAL_ERR_UNRESTORABLE,
                         "restart_from = %lld: job directory %s has no committed checkpoint: "
                         "nothing to restart from",
                         (long long)chosen, where);
    if (chosen > newest)
        return sal_error(SAL_ERR_UNRESTORABLE,
                         "restart_from = %lld: checkpoint %lld of job directory %s was never "
                         "committed (the newest committed one is %lld)",
                         (long long)chosen, (long long)chosen, where, (long long)newest);
    if (!present)
        return sal_error(SAL_ERR_UNRESTORABLE,
                         "restart_from = %lld: checkpoint %lld is not in job directory %s on any "
                         "host (deleted by retention or salrun ckpt prune?)",
                         (long long)chosen, (long long)chosen, where);
    return SAL_OK;
}

void sal_restore_chosen_done(const struct sal_ckpt *ck, int64_t chosen, int64_t step,
                             int64_t newest)
{
    int me = sal_comm_rank(ck->comm);

    if (newest > chosen && sal_aside_record(ck->job_dir, chosen, newest) != SAL_OK)
        SAL_LOG_W("the checkpoints %lld to %lld are not recorded as set aside: %s; the job's "
                  "retention may delete them",
                  (long long)chosen + 1, (long long)newest, sal_last_error());
    if (me != 0)
        return;
    if (newest > chosen)
        SAL_LOG_I("restart_from = %lld: restored checkpoint %lld (step %lld); the committed "
                  "checkpoints newer than it, up to %lld, are set aside (never restored, counted "
                  "by keep or deleted by the job: salrun ckpt prune deletes them)",
                  (long long)chosen, (long long)chosen, (long long)step, (long long)newest);
    else
        SAL_LOG_I("restart_from = %lld: restored checkpoint %lld (step %lld), the newest "
                  "committed one",
                  (long long)chosen, (long long)chosen, (long long)step);
}
