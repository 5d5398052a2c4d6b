/*
 * The checkpoint signal (key checkpoint_signal, docs/slurm.md): a batch system announces the end
 * of an allocation with a signal (Slurm: sbatch --signal=B:USR1@T, forwarded by salrun and mpiexec
 * to the ranks). The handler only records it; at the next step boundary the ranks agree on whether
 * any of them received it, take a checkpoint and stop with SAL_ERR_STOPPED, so that the job resumes
 * from that checkpoint in its next allocation.
 *
 * Invariant: sal_rt_stop_requested is called at the same step boundary by every rank of
 * sal_rt.world (it is collective when the key is not "none"); run.c takes the checkpoint.
 */
#include <signal.h>
#include <string.h>

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

int sal_rt_stop_requested(int *stop)
{
    int any = stop_seen;

    *stop = 0;
    if (!stop_signo)
        return SAL_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, sal_rt.world) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED,
                         "a process failed while the ranks checked for the checkpoint signal");
    *stop = any;
    return SAL_OK;
}

void sal_rt_stop_done(void)
{
    stop_seen = 0;
}
