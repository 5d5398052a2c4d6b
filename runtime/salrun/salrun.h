/*
 * salrun internals, shared by the launcher's source files:
 *   salrun.c         main, the relaunch loop and the exit status
 *   salrun_cli.c     the option table, parsing, --help
 *   salrun_launch.c  the mpiexec command line and environment (the one place), fork/exec, signals
 *   salrun_prrte.c   what the PRRTE 5 + PMIx 7 launcher stack adds to them (--prrte)
 *   salrun_family.c  which mpiexec it is (Open MPI's or MPICH's Hydra) and Hydra's hostfile
 *   salrun_stats.c   what each event of the job's event log means (counts, notable moments)
 *   salrun_watch.c   following the event log while the job runs, progress lines on stderr
 *   salrun_report.c  `salrun report EVENTLOG`
 *   salrun_json.c    a minimal parser for one JSON Lines object
 *   salrun_util.c    string arrays and the error message
 * Functions returning int return SAL_OK or a negative SAL_ERR_* code with the message for the user
 * recorded by salrun_fail() (a library failure's sal_last_error() is recorded the same way).
 */
#ifndef SALRUN_H
#define SALRUN_H

#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "salrun_json.h"

/* Exit statuses of salrun (docs/salrun.md, "Exit status"). */
enum {
    SALRUN_EXIT_OK = 0,        /* the job finished */
    SALRUN_EXIT_FAILED = 1,    /* the job failed and no restart is left (report: unreadable log) */
    SALRUN_EXIT_USAGE = 2,     /* bad option or configuration: nothing was launched */
    SALRUN_EXIT_NOTFOUND = 127 /* the program or mpiexec is missing or not executable */
};

/* Records the message main prints as "salrun: error: <message>"; returns code. */
int salrun_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *salrun_errmsg(void);

/* Seconds on CLOCK_MONOTONIC: every delay and duration salrun measures. */
double salrun_now(void);

/* A growable NULL-terminated array of owned strings. */
typedef struct salrun_argv {
    char **v;
    size_t n, cap;
} salrun_argv_t;

int salrun_argv_push(salrun_argv_t *a, const char *s);
int salrun_argv_pushf(salrun_argv_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void salrun_argv_free(salrun_argv_t *a);

/* The dialect of the mpiexec salrun runs (docs/salrun.md, "Launcher families"), told by its
 * --version once per run (salrun_family_detect). */
typedef enum salrun_family {
    SALRUN_FAMILY_OMPI =
        0,              /* Open MPI's (PRRTE's): --with-ft, -x, --hostfile, OMPI_/PRTE_ variables */
    SALRUN_FAMILY_HYDRA /* MPICH's Hydra (MPICH, Intel MPI, MVAPICH): -genvlist, -f, -hosts; no
                           ULFM, a dead rank ends the job: relaunch mode */
} salrun_family_t;

/* Configuration keys that have a salrun flag; the flag's value becomes SAL_<KEY> in the job's
 * environment. */
enum {
    SALRUN_CFG_JOB,
    SALRUN_CFG_CKPT_DIR,
    SALRUN_CFG_LOG_DIR,
    SALRUN_CFG_INTERVAL,
    SALRUN_CFG_POLICY,
    SALRUN_CFG_INJECT,
    SALRUN_CFG_SPARES,
    SALRUN_CFG_PFS_DIR,
    SALRUN_CFG_PRRTE_PREFIX,
    SALRUN_CFG_RESTART_FROM,
    SALRUN_CFG_ROLLBACK,
    SALRUN_NCFG
};

typedef struct salrun_opts {
    long np;                      /* -n; -1 = not given (mpiexec decides) */
    const char *cfg[SALRUN_NCFG]; /* config flag values, NULL = not given */
    const char *config_file;      /* --config, NULL = not given */
    long max_restarts;            /* --max-restarts, default 3 */
    double restart_delay;         /* --restart-delay, default 1 s */
    const char *hostfile;         /* --hostfile, NULL = not given */
    double probe_timeout;         /* --probe-timeout, default 20 s, 0 = no probe */
    int relaunch_fit;       /* --relaunch-ranks fit: relaunch on the slots of the hosts left */
    double start_timeout;   /* --start-timeout, default 120 s, 0 = none */
    const char *mpiexec;    /* --mpiexec, NULL = SAL_MPIEXEC or the built-in path */
    salrun_family_t family; /* the mpiexec's dialect (detected before the first launch) */
    int no_ulfm, quiet, json, dry_run;
    int trust_exit;         /* --trust-exit: a launch without events that exits 0 succeeded */
    const char *launcher;   /* --launcher: "auto" (default), "mpiexec" or "srun" */
    salrun_argv_t mpi_args; /* options passed through to mpiexec, in order */
    char **prog;            /* program and its arguments (points into argv), or NULL */
} salrun_opts_t;

/* Config key names of the SALRUN_CFG_* flags. */
extern const char *const salrun_cfg_keys[SALRUN_NCFG];

/* ---- salrun_cli.c ---- */

/* What the command line asks for besides running a job. */
typedef enum salrun_action {
    SALRUN_DO_RUN = 0,
    SALRUN_DO_HELP,
    SALRUN_DO_HELP_CONFIG,
    SALRUN_DO_VERSION,
    SALRUN_DO_REPORT,
    SALRUN_DO_CKPT /* `salrun ckpt ...`: o->prog holds the words after "ckpt" */
} salrun_action_t;

/* Parses argv (argv[0] excluded) into o (which it initialises). [OUT] *action. SAL_ERR_INVALID_ARG
 * with the offending word on a usage error. o->mpi_args must be freed with salrun_opts_free. */
int salrun_parse_args(int argc, char **argv, salrun_opts_t *o, salrun_action_t *action);
void salrun_opts_free(salrun_opts_t *o);
void salrun_print_help(FILE *out);

/* ---- salrun_launch.c ---- */

/* The mpiexec salrun runs: --mpiexec, else $SAL_MPIEXEC, else the one found at configure time. */
const char *salrun_mpiexec_path(const salrun_opts_t *o);

/* Resolves name like execvp: a name with '/' is checked as is, otherwise searched in $PATH. [OUT]
 * path. SAL_ERR_NOT_FOUND naming what was searched when it is missing or not an executable file. */
int salrun_find_exe(const char *name, char *path, size_t size);

/* Sets the environment variables every launch needs that the user has not set (oversubscription,
 * by slot when by_slot: several hosts, listed or a Slurm allocation's; running as root, the
 * fault-tolerant BTL choice); each one set is appended to added as NAME=value. */
int salrun_env_defaults(const salrun_opts_t *o, int by_slot, salrun_argv_t *added);

/* Sets the variable name to value unless it is set, and then appends NAME=value to added. */
int salrun_env_default(const char *name, const char *value, salrun_argv_t *added);

/* The full mpiexec command line with the pass-through options args (salrun_prrte_args,
 * salrun_hosts_args): [OUT] cmd (cmd->v[0] is mpiexec). */
int salrun_build_command(const salrun_opts_t *o, const char *mpiexec, const salrun_argv_t *args,
                         salrun_argv_t *cmd);
/* The srun command line of relaunch mode inside a Slurm allocation: [OUT] cmd (cmd->v[0] is srun).
 * exclude: comma-separated nodes the launch must avoid ("" = none). */
int salrun_build_srun(const salrun_opts_t *o, const char *srun, const char *exclude,
                      salrun_argv_t *cmd);

/* Prints cmd preceded by the variables in env as one shell command line (quoted as needed). */
void salrun_print_command(FILE *out, const salrun_argv_t *env, const salrun_argv_t *cmd);

/* Installs the handlers that record SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 for forwarding. */
int salrun_signals_install(void);
/* Forwards recorded signals to pid (when pid > 0). Returns the last terminating signal received
 * (SIGINT/SIGTERM/SIGHUP), 0 when none: the user asked the job to stop, so it is not relaunched. */
int salrun_signals_forward(pid_t pid);
/* The last SIGUSR1/SIGUSR2 received since the previous call (0 when none), which it consumes: a
 * launch that then ends unfinished was stopped on its checkpoint signal (docs/slurm.md). */
int salrun_signals_user(void);
/* The same signal without consuming it. */
int salrun_signals_user_pending(void);

/* fork + execv of cmd->v (no shell); the child dies with SIGTERM when salrun dies. [OUT] *pid. */
enum {
    SALRUN_SPAWN_PROBE = 1 /* a process group of its own, no input or output, SIGKILL (not SIGTERM)
                              when salrun dies */
};
int salrun_spawn(const salrun_argv_t *cmd, int flags, pid_t *pid);
/* The same with the child's standard output on out_fd and its standard error on err_fd (-1:
 * salrun's own, or /dev/null for a probe). */
int salrun_spawn_io(const salrun_argv_t *cmd, int flags, int out_fd, int err_fd, pid_t *pid);
/* Removes the session directories of Open MPI's launcher named after pid
 * (<TMPDIR or /tmp>/{ompi,prterun,prte,prted}.<pid>, when they are this user's). Call it only
 * while no live process can own them: in a child before it becomes the launcher, or for a
 * launcher that exited and is not yet reaped (its pid cannot be reused meanwhile). */
void salrun_session_clear(pid_t pid);

/* The relay of mpiexec's standard error (salrun_relay.c): copied to salrun's standard error as it
 * arrives, its last bytes kept to tell why a launch ended before its job started. Lifecycle:
 * salrun_relay_open, spawn with child_fd, salrun_relay_parent_started, salrun_relay_pump between
 * two looks at the job, salrun_relay_close once mpiexec has exited. */
enum { SALRUN_RELAY_TAIL = 8192 };
typedef struct salrun_relay {
    int fd, child_fd; /* read end, write end (the child's standard error) */
    int eof;
    size_t len;
    char tail[SALRUN_RELAY_TAIL];
} salrun_relay_t;
int salrun_relay_open(salrun_relay_t *r);
/* Closes salrun's copy of the write end once the child has it. */
void salrun_relay_parent_started(salrun_relay_t *r);
/* Relays what arrives within seconds (sleeps that long when the relay is closed or at its end).
 * Returns 1 once the end of file was reached. */
int salrun_relay_pump(salrun_relay_t *r, double seconds);
/* Relays what is left, waiting at most grace seconds for the end of file, and closes the relay. */
void salrun_relay_close(salrun_relay_t *r, double grace);
/* Whether the kept tail contains text. */
int salrun_relay_said(const salrun_relay_t *r, const char *text);

typedef struct salrun_out salrun_out_t;

/* Supervision of one running mpiexec, called every poll period until it exits:
 *  - forwards the signals salrun received;
 *  - when a stop signal (SIGINT/SIGTERM/SIGHUP) has not ended mpiexec within 10 s, kills it;
 *  - when mpiexec has had no child process for 3 s ($SAL_SALRUN_HANG_SECONDS) after it had some
 *    (seen_children: a child was seen, or a rank wrote an event) (every local process of the job
 *    is gone, yet mpiexec waits: seen with Open MPI 5 under --with-ft ulfm after MPI_Abort), sends
 *    it SIGTERM, then SIGKILL 5 s later; the launch then counts as failed.
 * Zero-initialise, then set pid. */
typedef struct salrun_keeper {
    pid_t pid;
    double t_stop, t_childless, t_term, t_check;
    int seen_children, killed;
    int ended;       /* salrun ended mpiexec because its job's processes were gone */
    int remote;      /* the job has ranks on other hosts: mpiexec's own children prove nothing */
    double t_launch; /* when mpiexec was started (salrun_now), 0 = unknown */
} salrun_keeper_t;

void salrun_keeper_tick(salrun_keeper_t *k, const salrun_out_t *out);
/* Ends mpiexec now (SIGTERM, SIGKILL 5 s later), with a line giving why; the launch counts as
 * failed. */
void salrun_keeper_end(salrun_keeper_t *k, const salrun_out_t *out, const char *why);

/* Makes salrun the child subreaper of everything it starts: a process whose parent dies (a rank of
 * an mpiexec that was killed) becomes salrun's child instead of init's, so that
 * salrun_end_leftovers can end it. SAL_OK or SAL_ERR_IO. */
int salrun_adopt_orphans(void);

/* Ends every child process salrun still has (SIGTERM, SIGKILL after grace seconds) and reaps it,
 * with the children those leave behind in turn; call it when no launch or probe runs. Returns how
 * many processes were ended; [OUT] pids lists them ("123 456", truncated to size); [OUT]
 * shm_removed: how many MPI shared-memory files of theirs were left in /dev/shm and removed
 * (salrun_shm.c). */
int salrun_end_leftovers(double grace, char *pids, size_t size, int *shm_removed);

/* ---- salrun_shm.c ---- */

/* The MPI shared-memory files (/dev/shm/sm_segment.*, vader_segment.*, mpich_shm_*) that processes
 * of a launch map (those about to be ended, and every one on this host while the job runs), to
 * remove those nobody else will: their launcher was killed, or it ended the ranks itself. */
enum { SALRUN_SHM_MAX = 512 };
typedef struct salrun_shm {
    int n;
    struct {
        char path[256];
        dev_t dev;
        ino_t ino;
    } f[SALRUN_SHM_MAX];
} salrun_shm_t;

/* Notes in s the MPI shared-memory files process pid maps (none when it cannot be read). */
void salrun_shm_note(salrun_shm_t *s, pid_t pid);
/* Adds the children of process pid (those of every thread) to pids[*n..max). */
void salrun_children_of(pid_t pid, pid_t *pids, int *n, int max);
/* Notes in s the files that root and every process below it map. */
void salrun_shm_note_tree(salrun_shm_t *s, pid_t root);
/* Removes the noted files that are still there (the same file, this user's); returns how many. */
int salrun_shm_remove(const salrun_shm_t *s);
/* At the end of a launch: when no process salrun started is left, removes the files s noted
 * (salrun_shm_remove) and returns how many; 0 otherwise. s is emptied either way. */
int salrun_shm_sweep(salrun_shm_t *s);

/* ---- salrun_prrte.c ---- */

/* The launcher stack of PRRTE >= 5 + PMIx >= 7 that Open MPI's mpiexec runs instead of its own
 * PRRTE (key prrte_prefix, docs/cluster.md, "Two launcher stacks"). */
typedef struct salrun_prrte {
    char prefix[PATH_MAX]; /* absolute once checked; "" = Open MPI's own PRRTE */
    long keepalive_time;   /* seconds, 0 = PRRTE's default keepalive */
    long keepalive_intvl, keepalive_probes;
} salrun_prrte_t;

/* Makes prefix (which may be p->prefix) absolute into p->prefix and checks that
 * PREFIX/bin/prterun is an executable file: SAL_ERR_NOT_FOUND naming the path otherwise. */
int salrun_prrte_check(salrun_prrte_t *p, const char *prefix);
/* Call after salrun_env_defaults. Sets OMPI_PRTERUN=PREFIX/bin/prterun, the prterun Open MPI's
 * mpiexec runs, and, unless set, PRRTE 5's names of the variables that salrun_env_defaults and
 * mpiexec set under PRRTE 3's names, with the same values; each one set is appended to added as
 * NAME=value. */
int salrun_prrte_env(const salrun_prrte_t *p, salrun_argv_t *added);
/* The mpiexec options of the stack (--prefix, --pmixmca gds hash, the keepalive settings), those
 * the user sets already left out: [OUT] args (appended). */
int salrun_prrte_args(const salrun_prrte_t *p, const salrun_opts_t *o, salrun_argv_t *args);

/* mpiexec's (PRRTE's) exit status when it could not start the job; with its message "listener
 * thread failed to start", Open MPI's start race when several launches start together. */
#define SALRUN_PRTE_STARTUP_FAILED 213

/* ---- salrun_family.c ---- */

/* Runs `mpiexec --version` (no shell, ended after 10 s) and tells its family from what it prints
 * on its standard output: "HYDRA" is MPICH's Hydra; "Open MPI", "OpenRTE" (Open MPI 4), "PRRTE",
 * "prterun" or "open-mpi.org" Open MPI's.
 * [OUT] *family. SAL_ERR_NOT_FOUND, with the start of what mpiexec printed, when it names
 * neither; *family is then SALRUN_FAMILY_OMPI (salrun's dialect before Hydra). */
int salrun_family_detect(const char *mpiexec, salrun_family_t *family);
/* The name of family for messages: "Open MPI" or "Hydra". */
const char *salrun_family_name(salrun_family_t family);

/* ---- salrun_hosts.c ---- */

typedef struct salrun_host {
    char *name;
    char *why;   /* NULL while the job may use it, else why the relaunches leave it out */
    char *alias; /* the host's own name (uname -n) from its probe when it differs from name (an
                    address in the hostfile), else NULL */
} salrun_host_t;

/* The hosts of a job (docs/salrun.md, "Hosts that fail"). */
typedef struct salrun_hosts {
    salrun_host_t *v; /* every host named, once, in order */
    size_t n, nexcluded;
    int listed;                 /* 1: from the user's --hostfile or --host (not Slurm) */
    salrun_argv_t lines;        /* the hostfile of relaunches before exclusions, one line each */
    salrun_argv_t line_host;    /* the host of each line ("" for "^host" and relative entries) */
    long *line_slots;           /* the slots=N of each line, 0 = not given */
    int line_user;              /* a line names its host as user@host */
    char source[PATH_MAX + 64]; /* "hostfile F", "--host LIST" or "the Slurm allocation LIST" */
    char path[PATH_MAX];        /* where the hostfile of relaunches is written */
    long spare_slots;           /* slots added to the last host left for the spares that the
                                   hosts' own slots do not take (salrun_hosts_place_spares) */
} salrun_hosts_t;

/* The hosts of the job from --hostfile, a passed-through --host, or the Slurm allocation (none:
 * h->n == 0). path: the hostfile that relaunches will use once a host is excluded.
 * SAL_ERR_IO / SAL_ERR_INVALID_ARG naming the file and line for an unreadable or invalid
 * hostfile. */
int salrun_hosts_load(salrun_hosts_t *h, const salrun_opts_t *o, int use_srun, const char *path);
void salrun_hosts_free(salrun_hosts_t *h);
/* The index of host name in h, or -1. */
int salrun_hosts_index(const salrun_hosts_t *h, const char *name);
/* Runs argv (no shell) and reads up to size - 1 bytes of its standard output into buf. 0 when it
 * exited with status 0. */
int salrun_capture(char *const argv[], char *buf, size_t size);
/* Before a relaunch: excludes the hosts Slurm reports unusable and those whose probe fails or
 * outlasts o->probe_timeout, one progress line each, then writes the hostfile of relaunches.
 * prrte: the prefix of the PRRTE 5 stack the job runs over ("" = none). said: what the launch
 * that just ended wrote on its standard error (or NULL): a host whose daemon it reports lost is
 * excluded without a probe. [OUT] *changed: hosts newly excluded. SAL_ERR_NOT_FOUND when no host
 * is left. */
int salrun_hosts_check(salrun_hosts_t *h, const salrun_opts_t *o, const char *launcher,
                       const char *prrte, int use_srun, const char *said, const salrun_out_t *out,
                       size_t *changed);
/* Where the spares of a launch of np processes (spares of them the last) go: when the
 * application's np - spares ranks fit the slots of the hosts left (every line with slots=N, none
 * with max_slots) and the spares do not, the last host left gets the slots they lack
 * (h->spare_slots), so that mapping by slot keeps the ranks on the hosts' slots in order and puts
 * the spares there instead of spreading every process over the hosts (which put a spare on every
 * host, where the loss of a host takes a spare with its ranks). Otherwise h->spare_slots = 0.
 * Writes the hostfile of relaunches when the spares need it (SAL_ERR_IO when it cannot). */
int salrun_hosts_place_spares(salrun_hosts_t *h, long np, long spares, salrun_family_t family);
/* mpiexec's pass-through options: o->mpi_args, with --host replaced by --hostfile PATH once a
 * host is excluded or the spares need slots, and salrun's --hostfile. Hydra (o->family): the host
 * options (-hosts, -host,
 * --host) replaced by -f PATH, the hostfile salrun writes in Hydra's form, whenever hosts are
 * listed. [OUT] args (appended). */
int salrun_hosts_args(const salrun_hosts_t *h, const salrun_opts_t *o, salrun_argv_t *args);
/* Writes the hostfile of the launches to h->path: the lines whose host is still in use, the last
 * one with h->spare_slots more slots, in the grammar of family's mpiexec. SAL_ERR_INVALID_ARG for
 * Hydra when a line has "user@" or is a relative entry (Hydra's hostfile has neither); SAL_ERR_IO
 * when it cannot be written. */
int salrun_hosts_write(const salrun_hosts_t *h, salrun_family_t family);
/* 1 when the job uses a host other than salrun's own: its ranks there are not mpiexec's children.
 */
int salrun_hosts_remote(const salrun_hosts_t *h);
/* 1 when a host of h is named by an IP address: its own name (the one its ranks report) is learnt
 * by probing it before the first launch. */
int salrun_hosts_by_address(const salrun_hosts_t *h);
/* 1 when name is an IPv4 or IPv6 address. */
int salrun_host_is_address(const char *name);
/* "NAME" or "ADDRESS (NAME)" for host i, into buf; returns buf. */
const char *salrun_host_label(const salrun_hosts_t *h, size_t i, char *buf, size_t size);
/* The slots of the hosts still in use (their hostfile lines' slots=N), or -1 when a line has no
 * slots= (mpiexec then decides) or no host was listed. */
long salrun_hosts_slots_left(const salrun_hosts_t *h);
/* The comma list of the hosts left out into buf, by label (salrun_host_label) for messages or by
 * name; returns buf. */
const char *salrun_hosts_excluded(const salrun_hosts_t *h, int labels, char *buf, size_t size);

/* ---- salrun_stats.c ---- */

/* A notable moment of the job, one progress line. */
typedef enum salrun_note_kind {
    SALRUN_NOTE_NONE = 0,
    SALRUN_NOTE_START,      /* rank 0 started (nranks, flag = restarting from a checkpoint) */
    SALRUN_NOTE_CKPT,       /* checkpoint committed (id, step, bytes, seconds) */
    SALRUN_NOTE_CKPT_ABORT, /* checkpoint aborted (id, step, text = reason) */
    SALRUN_NOTE_INJECT,     /* fault injected (rank, step, text = point/action) */
    SALRUN_NOTE_BOUND,      /* a protocol step overran its bound (rank, text = step, seconds) */
    SALRUN_NOTE_FAILURE,    /* ranks failed (ranks, hosts) */
    SALRUN_NOTE_RECOVERED,  /* in-job recovery done (phase[], seconds = total, step) */
    SALRUN_NOTE_RESTORED,   /* checkpoint restored at start (id, step, seconds) */
    SALRUN_NOTE_FINISH      /* rank 0 finished (step = steps, flag = ok) */
} salrun_note_kind_t;

enum {
    SALRUN_PHASE_REVOKE,
    SALRUN_PHASE_SHRINK,
    SALRUN_PHASE_SPAWN,
    SALRUN_PHASE_RESTORE,
    SALRUN_NPHASES
};
extern const char *const salrun_phase_names[SALRUN_NPHASES];

typedef struct salrun_note {
    salrun_note_kind_t kind;
    double ts;
    long long rank, id, step, nranks, bytes;
    double seconds;
    double phase[SALRUN_NPHASES]; /* < 0 = phase absent */
    int flag;
    char ranks[256], hosts[512], text[256];
} salrun_note_t;

typedef struct salrun_failure {
    double ts;
    int launch;   /* 1-based launch number (0: before any start event) */
    int recovery; /* index into recoveries of the in-job recovery that repaired it, or -1 */
    char ranks[256], hosts[512];
} salrun_failure_t;

typedef struct salrun_recovery {
    double ts, total;
    double phase[SALRUN_NPHASES];
    long long step;
    int launch;
} salrun_recovery_t;

/* What a job's events add up to. salrun_stats_init, feed with salrun_stats_add, salrun_stats_free.
 */
typedef struct salrun_stats {
    char job[256];
    double t_first, t_last;  /* timestamps of the first and last event (0 = none) */
    long long nranks, steps; /* steps: the largest step seen */
    int launches;            /* non-replacement starts of rank 0 */
    long long ckpts, ckpt_aborts, ckpt_bytes;
    double ckpt_seconds;
    int injects;
    salrun_failure_t *failures;
    int nfailures;
    int launch_failures; /* launches that ended without finishing and without a failure event */
    salrun_recovery_t *recoveries;
    int nrecoveries;
    int finish_ok, finish_failed;     /* finish events (any rank) with status ok / failed */
    double cur_phase[SALRUN_NPHASES]; /* recovery in progress: phases summed until "resume" */
    int in_recovery;
    long long attempt_events; /* events since salrun_stats_new_attempt */
    int attempt_finish_ok, attempt_finish_failed;
    int attempt_unrestorable; /* an "unrestorable" event: a relaunch would fail the same way */
    int attempt_bound;        /* "bound" events: ranks that overran a protocol bound */
    char unrestorable[1024];  /* ... its reason */
} salrun_stats_t;

void salrun_stats_init(salrun_stats_t *st);
/* Accounts one event; [OUT] note->kind is SALRUN_NOTE_NONE unless it deserves a progress line.
 * SAL_ERR_CORRUPT (with the reason) when ev lacks the "event" member. */
int salrun_stats_add(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note);
/* Starts counting the events of a new launch (see salrun_stats_attempt_finished). */
void salrun_stats_new_attempt(salrun_stats_t *st);
/* 1 when the events of the current launch show the job finished (a "finish" event with status ok
 * and none with status failed), 0 when they show it did not (a Salamander job that started but did
 * not finish cleanly), -1 when this launch wrote no event (not a Salamander program). */
int salrun_stats_attempt_finished(const salrun_stats_t *st);
/* The current launch ended without finishing: counted as a failure unless one of its ranks reported
 * one (a relaunch-mode kill, a lost host, ranks that died with the launcher). */
void salrun_stats_launch_failed(salrun_stats_t *st);
void salrun_stats_free(salrun_stats_t *st);

/* Formats bytes as "1.2 MB" (decimal units) into buf; returns buf. */
char *salrun_fmt_bytes(char *buf, size_t size, double bytes);

/* ---- salrun_watch.c ---- */

struct salrun_out {
    FILE *fp;  /* stderr */
    int quiet; /* no progress lines at all */
    int json;  /* progress lines as JSON objects */
};

/* salrun's own progress line: text is a sentence; json_fields (may be NULL) the same facts as JSON
 * members without braces. Printed as "salrun: <text>" or {"salrun":"<kind>",...}. */
void salrun_say(const salrun_out_t *out, const char *kind, const char *json_fields, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
void salrun_note_print(const salrun_out_t *out, const salrun_note_t *note);

typedef struct salrun_watch salrun_watch_t;

/* Follows path from its current end (events already in it belong to earlier runs). */
int salrun_watch_open(const char *path, const salrun_out_t *out, salrun_stats_t *st,
                      salrun_watch_t **w);
/* Reads the complete lines appended since the last call, accounts and prints them. A line that is
 * not a JSON object is reported once on stderr and skipped. Never fails: a missing file is "no
 * events". */
void salrun_watch_poll(salrun_watch_t *w);
void salrun_watch_close(salrun_watch_t **w);

/* ---- salrun_report.c ---- */

/* `salrun report EVENTLOG`: prints the summary table of the log on out. Returns an exit status. */
int salrun_report(const char *path, FILE *out);

#endif
