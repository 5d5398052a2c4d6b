/*
 * The checkpoint signal (key checkpoint_signal, docs/slurm.md): a batch system announces the end
 * of an allocation with a signal (Slurm: sbatch --signal=B:USR1@T, forwarded by salrun and mpiexec
 * to the ranks). The handler only records it; at the next step boundary the ranks agree on whether
 * any of them received it, take a checkpoint and stop with SAL_ERR_STOPPED, so that the job resumes
 * from that checkpoint in its next allocation.
 *
 * Invariant: sal_rt_stop_check is called at the same step boundary by every rank of sal_rt.world
 * (it is collective when the key is not "none").
 */
#include <signal.h>
#include <string.h>

#include "ckpt_internal.h"
#include "events.h"
#include "log.h"
#include "runtime.h"

static volatile sig_atomic_t stop_seen;
static int stop_signo; /* 0: checkpoint_signal=none */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_seen = 1;
}

int sal_rt_stop_signal_install(void)
{
    const char *name = sal_rt.set->checkpoint_signal;
    struct sigaction sa;

    stop_signo = strcmp(name, "USR1") == 0 ? SIGUSR1 : strcmp(name, "USR2") == 0 ? SIGUSR2 : 0;
    if (!stop_signo)
        return SAL_OK;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(stop_signo, &sa, NULL) != 0)
        return sal_error(SAL_ERR_INVALID_ARG, "checkpoint_signal=%s: cannot install its handler",
                         name);
    return SAL_OK;
}

int sal_rt_stop_check(void)
{
    int any = stop_seen, rc;

    if (!stop_signo)
        return SAL_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, sal_rt.world) != MPI_SUCCESS)
        return SAL_ERR_PROC_FAILED;
    if (!any)
        return SAL_OK;
    rc = sal_checkpoint();
    if (rc == SAL_ERR_PROC_FAILED)
        return rc; /* recovered first; the ranks that saw the signal still hold stop_seen */
    stop_seen = 0;
    if (sal_rt.rank == 0) {
        sal_event("stop", "\"signal\":\"%s\",\"step\":%lld,\"checkpoint\":%s",
                  sal_rt.set->checkpoint_signal, (long long)sal_rt.step,
                  rc == SAL_OK ? "true" : "false");
        SAL_LOG_I("SIG%s received: checkpoint at step %lld %s; stopping",
                  sal_rt.set->checkpoint_signal, (long long)sal_rt.step,
                  rc == SAL_OK ? "committed" : "aborted (the previous one stays valid)");
    }
    return sal_error(SAL_ERR_STOPPED,
                     "stopped by SIG%s at step %lld after a checkpoint; relaunch "
                     "the job to resume from it",
                     sal_rt.set->checkpoint_signal, (long long)sal_rt.step);
}
