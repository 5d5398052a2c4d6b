/*
 * salrun: runs an MPI program under mpiexec with fault tolerance, follows its event log, and
 * relaunches it from its last committed checkpoint when it dies (docs/salrun.md).
 *
 * Order of work: parse the command line; find mpiexec and the program (127 when missing); build and
 * validate the configuration exactly as sal_init will see it (2 on any error, before launching);
 * export it as SAL_* variables; then launch, follow, and relaunch with backoff until the job
 * finishes, the restarts run out, or a signal stops salrun.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "config_internal.h"
#include "events.h"
#include "inject.h"
#include "salrun.h"
#include "salrun_build.h"
#include "salrun_job.h"

#define POLL_NS           150000000L /* event log poll period: 150 ms */
#define FINISHED_GRACE    10.0       /* seconds after finalize_timeout for mpiexec to exit */
#define MAX_DELAY         30.0       /* backoff cap, seconds */
#define LAUNCH_RETRIES    2          /* new launches after mpiexec failed to start */
#define PRTE_STARTUP_RACE "listener thread failed to start" /* its message for the start race */
#define LEFTOVER_GRACE    2.0 /* seconds a leftover process has between SIGTERM and SIGKILL */
#define RELAY_GRACE       1.0 /* seconds to relay what mpiexec's leftovers still write */
#define SHM_NOTE_PERIOD   1.0 /* seconds between two notes of a launch's shared-memory files */

/* The MPI shared-memory files the processes of the current launch map on this host (salrun_shm.c):
 * 140 KiB, not on the stack. */
static salrun_shm_t launch_shm;

static void sleep_poll(void)
{
    struct timespec ts = {0, POLL_NS};

    nanosleep(&ts, NULL);
}

/* Seconds without an event after a "bound" event before salrun ends the launch. */
static double stuck_quiet(double protocol_timeout)
{
    double q = protocol_timeout / 2;

    return q < 2 ? 2 : q > 10 ? 10 : q;
}

/* waitpid(pid, status, WNOHANG) that removes the session directory an exited launcher left (a
 * launcher killed with SIGKILL does) before reaping it, while its pid cannot be reused: the
 * directories of killed launchers would otherwise pile up and refuse a later launcher that gets
 * the same pid. */
static pid_t exited_reaped(pid_t pid, int *status)
{
    siginfo_t info;

    memset(&info, 0, sizeof(info));
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid)
        return waitpid(pid, status, WNOHANG);
    salrun_session_clear(pid);
    return waitpid(pid, status, 0);
}

/* Runs one launch to its end, following the event log. [OUT] *status from waitpid, *ended when
 * salrun ended an mpiexec that outlived its job. */
static int run_once(salrun_job_t *j, salrun_watch_t *w, int *status, int *ended)
{
    salrun_keeper_t k;
    long long seen = -1;
    double t_event = salrun_now(), t_noted = 0;
    int rc;

    memset(&k, 0, sizeof(k));
    k.remote = salrun_hosts_remote(&j->hosts);
    k.t_launch = salrun_now();
    if ((rc = salrun_relay_open(&j->relay)) != SAL_OK)
        return rc;
    rc = salrun_spawn_io(&j->cmd, 0, -1, j->relay.child_fd, &k.pid);
    salrun_relay_parent_started(&j->relay);
    if (rc != SAL_OK) {
        salrun_relay_close(&j->relay, 0);
        return rc;
    }
    for (;;) {
        pid_t r;

        if (j->st.attempt_events != seen) {
            seen = j->st.attempt_events;
            t_event = salrun_now();
        }
        /* Ranks that overran a protocol bound killed themselves; the survivors of such a loss
         * write their failure event within a second. When nothing of the job has written an event
         * for half the bound since (2 to 10 s), what is left of it is stuck (e.g. a stopped rank
         * that the others waited for): end the launch, which relaunches. */
        if (j->st.attempt_bound && j->protocol_timeout > 0 && !k.ended &&
            salrun_now() - t_event >= stuck_quiet(j->protocol_timeout))
            salrun_keeper_end(&k, &j->out,
                              "a protocol step overran its bound and the job has "
                              "written no event since");
        /* Every rank finished, yet mpiexec still runs after the ranks' own MPI_Finalize watchdog
         * had time to end them: what keeps it alive never joined the job (seen: a replacement
         * stuck in MPI_Init after the repair that spawned it failed). End the launch. */
        if (!k.ended && salrun_stats_attempt_finished(&j->st) == 1 &&
            salrun_now() - t_event >= j->finalize_timeout + FINISHED_GRACE)
            salrun_keeper_end(&k, &j->out,
                              "every rank finished but a process of the launch has not ended");
        /* A launch whose ranks have not started after --start-timeout: its mpiexec is stuck
         * before the job (seen on the emulated cluster under load, at a first launch and at a
         * relaunch on 2 hosts left), or the event log is not readable from here, in which case the
         * job's end could not be confirmed either. End it: it relaunches. */
        if (!k.ended && j->o->start_timeout > 0 && j->st.attempt_events == 0 &&
            salrun_now() - k.t_launch >= j->o->start_timeout) {
            char why[512];

            snprintf(why, sizeof(why),
                     "no rank of the launch started within %g s (--start-timeout)%s",
                     j->o->start_timeout,
                     j->log_seen ? ""
                                 : ": its mpiexec is stuck before the job, or the event log is "
                                   "not readable from salrun's host (give --log-dir a directory "
                                   "every host shares)");
            salrun_keeper_end(&k, &j->out, why);
        }
        salrun_keeper_tick(&k, &j->out);
        salrun_watch_poll(w);
        /* The launch's shared-memory files, once a second: ranks that passed MPI_Init
         * (replacements too) map theirs by now, also in a program that writes no event, whose
         * ranks can all end on their own between mpiexec's loss and salrun's last look */
        if (salrun_now() - t_noted >= SHM_NOTE_PERIOD) {
            salrun_shm_note_tree(&launch_shm, k.pid);
            t_noted = salrun_now();
        }
        /* Asked to checkpoint and stop (checkpoint_signal) before any rank of the launch started:
         * no rank holds anything newer than the last checkpoint, and a launch that is slow to
         * start (or stuck) could outlast the time limit the signal announces. End it: salrun
         * stops, the job resumes from its last checkpoint. */
        if (!k.ended && j->st.attempt_events == 0 && salrun_signals_user_pending())
            salrun_keeper_end(&k, &j->out,
                              "asked to checkpoint and stop before any rank of the launch "
                              "started: nothing to checkpoint, the last checkpoint stands");
        /* A rank that wrote an event existed, even when every look at mpiexec's children came
         * before the ranks started or after they had exited (a short launch on a busy host). */
        k.seen_children |= j->st.attempt_events > 0;
        r = exited_reaped(k.pid, status);
        if (r == k.pid) {
            /* its processes still alive are salrun's children now: their files, before they end */
            salrun_shm_note_tree(&launch_shm, getpid());
            break;
        }
        if (r < 0 && errno != EINTR) {
            salrun_relay_close(&j->relay, 0);
            return salrun_fail(SAL_ERR_IO, "waitpid: %s", strerror(errno));
        }
        salrun_relay_pump(&j->relay, POLL_NS / 1e9);
    }
    salrun_relay_close(&j->relay, RELAY_GRACE);
    salrun_watch_poll(w);
    j->log_seen |= j->st.attempt_events > 0;
    *ended = k.ended;
    return SAL_OK;
}

static void describe_exit(const salrun_job_t *j, int status, int ended, char *buf, size_t size)
{
    const char *l = j->use_srun ? "srun" : "mpiexec";

    if (ended)
        snprintf(buf, size, "%s outlived the processes of its job and was ended", l);
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "%s was killed by signal %d", l, WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(buf, size, "%s exited with status %d", l, WEXITSTATUS(status));
    else if (salrun_stats_attempt_finished(&j->st) == 0)
        snprintf(buf, size,
                 "%s exited with status 0 but the job did not finish (no clean "
                 "finish event: ranks died)",
                 l);
    else if (salrun_stats_attempt_finished(&j->st) < 0 && !j->o->trust_exit)
        snprintf(buf, size,
                 "%s exited with status 0 but this launch wrote no event to %s: salrun cannot "
                 "tell whether the job finished (give --log-dir on a file system this host "
                 "shares; --trust-exit for a program that does not use Salamander)",
                 l, j->log_path);
    else
        snprintf(buf, size, "%s exited with status 0", l);
}

static const char *plural(long long n)
{
    return n == 1 ? "" : "s";
}

static void summary(const salrun_job_t *j, const char *how, int exit_status)
{
    char json[768 + 2 * 4096], job[300], steps[48] = "", bad[4096], esc[2 * 4096], hosts[4200] = "";
    double wall = salrun_now() - j->t0;
    const salrun_stats_t *st = &j->st;
    int failures = st->nfailures + st->launch_failures;

    if (st->steps > 0)
        snprintf(steps, sizeof(steps), "%lld steps, ", st->steps);
    salrun_hosts_excluded(&j->hosts, 1, bad, sizeof(bad));
    if (bad[0])
        snprintf(hosts, sizeof(hosts), ", host%s %s left out", strchr(bad, ',') ? "s" : "", bad);
    snprintf(
        json, sizeof(json),
        "\"job\":\"%s\",\"status\":\"%s\",\"exit\":%d,\"steps\":%lld,\"checkpoints\":%lld,"
        "\"failures\":%d,\"recoveries\":%d,\"restarts\":%d,\"excluded\":\"%s\",\"seconds\":%.3f",
        sal_json_escape(job, sizeof(job), j->name), how, exit_status, st->steps, st->ckpts,
        failures, st->nrecoveries, j->restarts, sal_json_escape(esc, sizeof(esc), bad), wall);
    salrun_say(&j->out, "summary", json,
               "job '%s' %s: %s%lld checkpoint%s, %d failure%s, %d recover%s, %d restart%s%s, "
               "%.2f s",
               j->name, how, steps, st->ckpts, plural(st->ckpts), failures, plural(failures),
               st->nrecoveries, st->nrecoveries == 1 ? "y" : "ies", j->restarts,
               plural(j->restarts), hosts, wall);
}

/* Waits seconds, forwarding signals; returns the stop signal if one arrived, else 0. */
static int backoff(double seconds)
{
    double end = salrun_now() + seconds;
    int stop;

    while (!(stop = salrun_signals_forward(0)) && salrun_now() < end)
        sleep_poll();
    return stop;
}

/* The JSON members of a launch's end: the exit status or signal of mpiexec and the reason. */
static void exit_json(int status, const char *why, char *buf, size_t size)
{
    char esc[2 * (PATH_MAX + 600)];

    snprintf(buf, size, "\"%s\":%d,\"reason\":\"%s\"", WIFSIGNALED(status) ? "signal" : "status",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
             sal_json_escape(esc, sizeof(esc), why));
}

static int stopped(salrun_job_t *j, int sig, const char *why)
{
    char json[512], esc[300];

    snprintf(json, sizeof(json), "\"signal\":%d,\"reason\":\"%s\"", sig,
             sal_json_escape(esc, sizeof(esc), why));
    salrun_say(&j->out, "stopped", json, "stopped by signal %d (%s)", sig, why);
    summary(j, "stopped", 128 + sig);
    return 128 + sig;
}

/* A launch whose ranks all wrote a clean "finish" (the job is marked finished) although mpiexec did
 * not end cleanly: the exit status to end with (never a relaunch, which would start the finished
 * job again from step 0). */
static int finished_anyway(salrun_job_t *j, int status, int ended, const char *why,
                           const char *json)
{
    /* Open MPI's mpiexec reports, at exit, a replacement process that was itself lost and
     * replaced during the run when the replacements' job is not recoverable (the failure of a
     * spawned process is not covered by --with-ft ulfm's exit status; salrun's default
     * PRTE_MCA_state_base_recoverable=1 covers it, a user's own value may not), so a non-zero
     * status then describes a failure the job already recovered from. */
    /* A killed mpiexec is no such report: the job's output may not have reached salrun. */
    if (ended || (j->st.nrecoveries > 0 && !WIFSIGNALED(status))) {
        salrun_say(&j->out, "note", json, "every rank finished%s, but %s%s; the result is complete",
                   ended ? "" : " after in-job recoveries", why,
                   ended ? "" : " (Open MPI reports processes lost and replaced during the run)");
        summary(j, "finished", SALRUN_EXIT_OK);
        return SALRUN_EXIT_OK;
    }
    salrun_say(&j->out, "failed", json,
               "the job finished its steps but %s%s; not relaunched (a relaunch would start the "
               "finished job again; its last checkpoint holds the final state)",
               why, WIFSIGNALED(status) ? ", and its output may be incomplete" : "");
    summary(j, "failed", SALRUN_EXIT_FAILED);
    return SALRUN_EXIT_FAILED;
}

/* One launch's outcome: an exit status to end with, or -1 to relaunch. */
static int outcome(salrun_job_t *j, int status, int ended)
{
    char why[PATH_MAX + 600], json[2 * (PATH_MAX + 600) + 128], more[128];
    int stop = salrun_signals_forward(0), fin = salrun_stats_attempt_finished(&j->st);
    double delay;

    describe_exit(j, status, ended, why, sizeof(why));
    exit_json(status, why, json, sizeof(json));
    if (stop)
        return stopped(j, stop, why);
    if (!ended && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        (fin == 1 || (fin < 0 && j->o->trust_exit))) {
        summary(j, "finished", SALRUN_EXIT_OK);
        return SALRUN_EXIT_OK;
    }
    if (fin == 1)
        return finished_anyway(j, status, ended, why, json);
    if (j->st.attempt_unrestorable) {
        salrun_say(&j->out, "failed", json,
                   "job failed: %s; not relaunched (a relaunch would find the same checkpoints)",
                   j->st.unrestorable);
        summary(j, "failed", SALRUN_EXIT_FAILED);
        return SALRUN_EXIT_FAILED;
    }
    /* Asked to checkpoint and stop (key checkpoint_signal, docs/slurm.md): the batch system's next
     * allocation resumes the job, not a relaunch. */
    if ((stop = salrun_signals_user()) != 0)
        return stopped(j, stop,
                       ended && j->st.attempt_events == 0
                           ? "salrun ended the launch before any rank started; the job resumes "
                             "from its last checkpoint"
                           : why);
    /* Open MPI 5's mpiexec sometimes fails to start at all ("The PMIx server's listener thread
     * failed to start", exit status 213) when several launches start together: no rank ran, so
     * launching again is not a restart. */
    if (!ended && WIFEXITED(status) && WEXITSTATUS(status) == SALRUN_PRTE_STARTUP_FAILED &&
        j->st.attempt_events == 0 && !salrun_relay_said(&j->relay, PRTE_STARTUP_RACE)) {
        salrun_say(
            &j->out, "failed", json,
            "job failed: %s before the job started, and not for the start race of Open MPI's "
            "launcher: its message above says why (for example a --map-by that the hosts "
            "cannot satisfy; docs/cluster.md, mapping); not relaunched: the same command "
            "would fail again",
            why);
        summary(j, "failed", SALRUN_EXIT_FAILED);
        return SALRUN_EXIT_FAILED;
    }
    if (!ended && WIFEXITED(status) && WEXITSTATUS(status) == SALRUN_PRTE_STARTUP_FAILED &&
        j->st.attempt_events == 0 && j->launch_retries < LAUNCH_RETRIES) {
        j->launch_retries++;
        salrun_say(&j->out, "relaunch", json,
                   "%s before the job started; launching again "
                   "(attempt %d of %d)",
                   why, j->launch_retries + 1, LAUNCH_RETRIES + 1);
        if ((stop = backoff(0.5 * j->launch_retries)) != 0)
            return stopped(j, stop, "during the wait before a new launch");
        return -1;
    }
    salrun_stats_launch_failed(&j->st);
    if (j->restarts >= j->o->max_restarts) {
        salrun_say(&j->out, "failed", json, "job failed: %s; no restart left (--max-restarts %ld)",
                   why, j->o->max_restarts);
        summary(j, "failed", SALRUN_EXIT_FAILED);
        return SALRUN_EXIT_FAILED;
    }
    delay = j->o->restart_delay * (double)(1L << (j->restarts < 16 ? j->restarts : 16));
    delay = delay > MAX_DELAY ? MAX_DELAY : delay;
    snprintf(more, sizeof(more), ",\"restart\":%d,\"max_restarts\":%ld,\"delay\":%.3f",
             j->restarts + 1, j->o->max_restarts, delay);
    strncat(json, more, sizeof(json) - strlen(json) - 1);
    salrun_say(&j->out, "relaunch", json, "%s; relaunching in %.3g s (restart %d of %ld)", why,
               delay, j->restarts + 1, j->o->max_restarts);
    if ((stop = backoff(delay)) != 0)
        return stopped(j, stop, "during the wait before a relaunch");
    j->restarts++;
    return -1;
}

static void say_launch(const salrun_job_t *j)
{
    char ranks[48] = "mpiexec's default number of", json[3 * PATH_MAX + 600];
    char esc[PATH_MAX + 300], prrte[2 * PATH_MAX + 32] = "", launcher[PATH_MAX + 48];
    int ulfm = SALRUN_HAVE_ULFM && !j->o->no_ulfm;

    if (j->o->np > 0)
        snprintf(ranks, sizeof(ranks), "%ld", j->o->np);
    snprintf(launcher, sizeof(launcher), "%s",
             j->use_srun                           ? "srun"
             : j->o->family == SALRUN_FAMILY_HYDRA ? "mpiexec of MPICH's Hydra: relaunch mode"
                                                   : "mpiexec");
    if (j->prrte.prefix[0]) {
        snprintf(prrte, sizeof(prrte), ",\"prrte\":\"%s\"",
                 sal_json_escape(esc, sizeof(esc), j->prrte.prefix));
        snprintf(launcher, sizeof(launcher), "mpiexec over the PRRTE of %s", j->prrte.prefix);
    }
    /* Job names hold only [A-Za-z0-9_.-] (sal_config_resolve_job): no escaping needed. */
    snprintf(json, sizeof(json),
             "\"job\":\"%s\",\"nranks\":%ld,\"ulfm\":%s,\"launcher\":\"%s\",\"family\":\"%s\"%s,"
             "\"log\":\"%s\"",
             j->name, j->o->np, ulfm ? "true" : "false", j->use_srun ? "srun" : "mpiexec",
             j->use_srun                           ? "slurm"
             : j->o->family == SALRUN_FAMILY_HYDRA ? "hydra"
                                                   : "openmpi",
             prrte, sal_json_escape(esc, sizeof(esc), j->log_path));
    salrun_say(&j->out, "launch", json, "job '%s' on %s rank%s %s ULFM (%s); events in %s", j->name,
               ranks, j->o->np == 1 ? "" : "s", ulfm ? "with" : "without", launcher, j->log_path);
}

/* Inside a Slurm allocation (docs/slurm.md): mpiexec runs inside it (ULFM needs mpiexec, not a
 * direct srun launch) and SLURM_RESTART_COUNT, set once Slurm has requeued the job, is shown. */
static void say_slurm(const salrun_job_t *j)
{
    const char *id = getenv("SLURM_JOB_ID"), *count = getenv("SLURM_RESTART_COUNT");
    const char *nodes = getenv("SLURM_JOB_NODELIST");
    char json[1024], e_id[128], e_nodes[512];
    long restarts = count ? strtol(count, NULL, 10) : 0;

    if (!id || !id[0])
        return;
    snprintf(json, sizeof(json), "\"slurm_job_id\":\"%s\",\"restart_count\":%ld,\"nodes\":\"%s\"",
             sal_json_escape(e_id, sizeof(e_id), id), restarts,
             sal_json_escape(e_nodes, sizeof(e_nodes), nodes ? nodes : ""));
    salrun_say(&j->out, "slurm", json, "inside Slurm job %s on %s; SLURM_RESTART_COUNT=%ld%s", id,
               nodes ? nodes : "?", restarts,
               restarts > 0 ? " (requeued: the job resumes from its last checkpoint)" : "");
}

/* Removes the shared-memory files of the launch that are left once all its processes are gone
 * (ranks that a launcher ended, or that died with it, cannot remove theirs), with a line. */
static void sweep_shm(salrun_job_t *j)
{
    char json[64];
    int removed = salrun_shm_sweep(&launch_shm);

    if (removed == 0)
        return;
    snprintf(json, sizeof(json), "\"removed\":%d", removed);
    salrun_say(&j->out, "shm", json,
               "removed %d MPI shared-memory file%s in /dev/shm that ranks of the launch left "
               "(they ended without MPI_Finalize)",
               removed, removed == 1 ? "" : "s");
}

/* Ends what a launch left behind (ranks whose mpiexec died are salrun's children: it is their
 * subreaper), with a line naming them. */
static void end_leftovers(salrun_job_t *j)
{
    char pids[512], json[640], shm[128] = "";
    int removed = 0, n = salrun_end_leftovers(LEFTOVER_GRACE, pids, sizeof(pids), &removed);

    if (n == 0)
        return;
    if (removed > 0)
        snprintf(shm, sizeof(shm),
                 ", and the %d MPI shared-memory file%s in /dev/shm that %s left "
                 "removed",
                 removed, removed == 1 ? "" : "s", n == 1 ? "it" : "they");
    snprintf(json, sizeof(json), "\"count\":%d,\"pids\":\"%s\",\"shm_removed\":%d", n, pids,
             removed);
    salrun_say(&j->out, "leftovers", json,
               "%d process%s of the launch outlived mpiexec (pid%s %s); ended%s", n,
               n == 1 ? "" : "es", n == 1 ? "" : "s", pids, shm);
}

static int run_job(salrun_job_t *j)
{
    salrun_watch_t *w = NULL;
    int status = 0, ended = 0, ex = -1, stop;

    if (salrun_adopt_orphans() != SAL_OK || salrun_signals_install() != SAL_OK ||
        salrun_watch_open(j->log_path, &j->out, &j->st, &w) != SAL_OK) {
        fprintf(stderr, "salrun: error: %s\n", salrun_errmsg());
        return SALRUN_EXIT_FAILED;
    }
    j->t0 = salrun_now();
    say_launch(j);
    say_slurm(j);
    while (ex < 0) {
        salrun_stats_new_attempt(&j->st);
        if (run_once(j, w, &status, &ended) != SAL_OK) {
            fprintf(stderr, "salrun: error: %s\n", salrun_errmsg());
            ex = SALRUN_EXIT_FAILED;
            break;
        }
        end_leftovers(j);
        sweep_shm(j);
        /* What the leftovers wrote before they were ended (on several hosts, the failure lines of
         * survivors) comes before the lines about the relaunch. */
        salrun_watch_poll(w);
        ex = outcome(j, status, ended);
        if (ex < 0)
            salrun_restart_relaunch(j);
        if (ex < 0 && salrun_job_exclude_failed_hosts(j) != SAL_OK) {
            fprintf(stderr, "salrun: error: %s\n", salrun_errmsg());
            summary(j, "failed", SALRUN_EXIT_FAILED);
            ex = SALRUN_EXIT_FAILED;
        } else if (ex < 0 && (stop = salrun_signals_forward(0)) != 0) {
            ex = stopped(j, stop, "while the hosts were checked before a relaunch");
        }
    }
    end_leftovers(j);
    sweep_shm(j);
    salrun_watch_close(&w);
    return ex;
}

/* `salrun ckpt ...`: replaces this process with salrun-ckpt from salrun's own directory (a separate
 * executable, so that salrun loads neither libhdf5 nor libmpi). Returns only on failure. */
static int run_ckpt_tool(char **args)
{
    char self[PATH_MAX], tool[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;
    salrun_argv_t cmd = {0};

    if (n <= 0)
        return salrun_fail(SAL_ERR_IO, "cannot find salrun's own path: %s", strerror(errno));
    self[n] = '\0';
    slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(tool, sizeof(tool), "%s/salrun-ckpt", self);
    if (salrun_argv_push(&cmd, tool) != SAL_OK)
        return SAL_ERR_NOMEM;
    for (char **a = args; *a; a++)
        if (salrun_argv_push(&cmd, *a) != SAL_OK)
            return SAL_ERR_NOMEM;
    execv(tool, cmd.v);
    salrun_fail(SAL_ERR_NOT_FOUND, "cannot run %s: %s", tool, strerror(errno));
    salrun_argv_free(&cmd);
    return SAL_ERR_NOT_FOUND;
}

static void print_version(const salrun_opts_t *o)
{
    printf("salrun (Salamander) %s\n", SALRUN_VERSION);
    printf("ULFM: %s\n", SALRUN_HAVE_ULFM ? "yes (jobs run with mpiexec --with-ft ulfm; in-job "
                                            "recovery and relaunch)"
                                          : "no (relaunch mode only)");
    printf("mpiexec: %s%s\n", salrun_mpiexec_path(o),
           o->mpiexec ? "" : " (found at build time; override with --mpiexec or SAL_MPIEXEC)");
}

static int run(salrun_opts_t *o)
{
    salrun_job_t j;
    int ex;

    memset(&j, 0, sizeof(j));
    j.o = o;
    j.out = (salrun_out_t){stderr, o->quiet, o->json};
    salrun_stats_init(&j.st);
    ex = salrun_job_prepare(&j);
    if (ex >= 0) {
        fprintf(stderr, "salrun: error: %s\n", salrun_errmsg());
    } else if (o->dry_run) {
        salrun_print_command(stdout, &j.env_added, &j.cmd);
        ex = SALRUN_EXIT_OK;
    } else {
        ex = run_job(&j);
    }
    salrun_argv_free(&j.env_added);
    salrun_argv_free(&j.cmd);
    salrun_hosts_free(&j.hosts);
    salrun_stats_free(&j.st);
    return ex;
}

int main(int argc, char **argv)
{
    salrun_opts_t o;
    salrun_action_t action;
    int ex;

    if (salrun_parse_args(argc - 1, argv + 1, &o, &action) != SAL_OK) {
        fprintf(stderr, "salrun: error: %s\nTry 'salrun --help'.\n", salrun_errmsg());
        salrun_opts_free(&o);
        return SALRUN_EXIT_USAGE;
    }
    salrun_take_mpiexec_env(&o);
    switch (action) {
    case SALRUN_DO_HELP:
        salrun_print_help(stdout);
        ex = SALRUN_EXIT_OK;
        break;
    case SALRUN_DO_HELP_CONFIG:
        ex = sal_config_print_help(stdout, 0) == SAL_OK ? SALRUN_EXIT_OK : SALRUN_EXIT_FAILED;
        break;
    case SALRUN_DO_VERSION:
        print_version(&o);
        ex = SALRUN_EXIT_OK;
        break;
    case SALRUN_DO_REPORT:
        ex = salrun_report(o.prog[0], stdout);
        break;
    case SALRUN_DO_CKPT:
        run_ckpt_tool(o.prog);
        fprintf(stderr, "salrun: error: %s\n", salrun_errmsg());
        ex = SALRUN_EXIT_NOTFOUND;
        break;
    default:
        ex = run(&o);
    }
    salrun_opts_free(&o);
    return ex;
}
