/*
 * How salrun starts a job: the mpiexec command line and environment (this file is the one place
 * that knows them; docs/salrun.md explains every flag), fork + execv without a shell, and signals.
 *
 * The command, for Open MPI 5 (PRRTE's mpiexec):
 *   mpiexec [--with-ft ulfm] [-n N] -x SAL_... [MPIEXEC OPTIONS] PROGRAM [ARGS]
 *   --with-ft ulfm  ULFM builds unless --no-ulfm: loads the ft-mpi parameter set (mpi_ft_enable,
 * pml ob1, no MTL) and keeps the job alive when a rank dies. Without it the first dead rank ends
 * the whole job. -x SAL_...      every SAL_* variable, so ranks on other nodes get the same
 * configuration. Environment defaults, each set only when the user has not set it (so a user's
 * --mca/--map-by on the command line or their own variable wins, without the "conflicting values"
 * error duplicate --mca flags cause): PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe  more
 * ranks than cores work, and a respawned rank finds a slot: PRRTE does not give back a dead rank's
 * slot, so without oversubscription MPI_Comm_spawn of the replacement fails ("All nodes which are
 *                   allocated for this job are already filled").
 *   OMPI_MCA_btl=^ofi  (ULFM launches) the ofi BTL is not among ULFM's tested components and its
 *                   probe costs about 1 s per launch on hosts without a libfabric network.
 *   OMPI_MCA_coll=^han  (ULFM launches) Open MPI 5.0.11's hierarchical collectives returned
 *                   MPI_SUCCESS with a wrong result from the allreduce in flight when a peer on
 *                   another host died (6 of 6 runs; 0 of 3 without HAN).
 *   UCX_MEM_EVENTS=no  (ULFM launches, also passed with -x) UCX's memory hooks, which libmpi's
 *                   load installs, cost every process start about 40 ms (a 2-process spawn took
 *                   0.08 s with them, 0.04 s without). ULFM disables UCX's PML; UCX then caches
 *                   no memory registration (UCX's rcache refuses to start without the hooks).
 *   PRTE_MCA_state_base_recoverable=1, PRTE_MCA_state_base_notify_errors=1  (ULFM launches) what
 *                   --with-ft ulfm sets for the job mpiexec starts, made the default of every job
 *                   of the launch: the replacements MPI_Comm_spawn starts form a job of their own,
 *                   which PRRTE otherwise ends as a whole when one of its processes is lost (the
 *                   sibling replacements killed, an abort, no in-job repair), and under the PRRTE 5
 *                   stack then forgets while the survivors' next spawn still names it (the repair
 *                   hung in PRRTE's fence after a second lost host).
 *   OMPI_ALLOW_RUN_AS_ROOT=1, OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1  when salrun runs as root
 * (containers, CI): Open MPI refuses to start otherwise.
 *
 * With the key prrte_prefix, salrun_prrte.c adds the options and variables of the PRRTE 5 + PMIx 7
 * launcher stack.
 *
 * The command, for MPICH's Hydra (salrun_family.c tells which mpiexec it is):
 *   mpiexec [-n N] -genv SAL_... VALUE [MPIEXEC OPTIONS] [-f HOSTFILE] PROGRAM [ARGS]
 *   -genv  every SAL_* variable with its value, to every rank on every host. Hydra passes its
 * whole environment by default, but not under the user's -genvnone; -genvlist would be a
 * "duplicate setting" beside the user's -genvall/-genvnone and would drop every other variable.
 * No --with-ft (Hydra has no ULFM: a dead rank ends the job and salrun relaunches) and no
 * environment defaults: Hydra oversubscribes without being asked and runs as root, and the
 * OMPI_/PRTE_ variables mean nothing to it.
 */
/* nftw: the feature macro of its standard, which the build's _POSIX_C_SOURCE does not cover */
/* NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "salrun.h"
#include "salrun_build.h"

extern char **environ;

const char *salrun_mpiexec_path(const salrun_opts_t *o)
{
    return o->mpiexec && o->mpiexec[0] ? o->mpiexec : SALRUN_MPIEXEC;
}

/* 0 when path is an executable regular file, else errno (EISDIR for a directory). */
static int check_exe(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return EACCES;
    return 0;
}

int salrun_find_exe(const char *name, char *path, size_t size)
{
    const char *dirs = getenv("PATH"), *p;
    int err;

    if (!name || !name[0])
        return salrun_fail(SAL_ERR_NOT_FOUND, "empty name");
    if (strchr(name, '/')) {
        err = check_exe(name);
        if (err)
            return salrun_fail(SAL_ERR_NOT_FOUND, "%s: %s", name,
                               err == EACCES ? "not an executable file" : strerror(err));
        snprintf(path, size, "%s", name);
        return SAL_OK;
    }
    if (!dirs)
        dirs = "/usr/local/bin:/usr/bin:/bin";
    for (p = dirs;; p++) {
        const char *colon = strchr(p, ':');
        int len = colon ? (int)(colon - p) : (int)strlen(p);

        /* An empty PATH element means the current directory, as for execvp. */
        if ((size_t)snprintf(path, size, "%.*s/%s", len ? len : 1, len ? p : ".", name) < size &&
            check_exe(path) == 0)
            return SAL_OK;
        if (!colon)
            break;
        p = colon;
    }
    return salrun_fail(SAL_ERR_NOT_FOUND, "%s: not found in PATH (%s)", name, dirs);
}

int salrun_env_default(const char *name, const char *value, salrun_argv_t *added)
{
    if (getenv(name))
        return SAL_OK;
    if (setenv(name, value, 1) != 0)
        return salrun_fail(SAL_ERR_NOMEM, "setenv %s: %s", name, strerror(errno));
    return salrun_argv_pushf(added, "%s=%s", name, value);
}

int salrun_env_defaults(const salrun_opts_t *o, int by_slot, salrun_argv_t *added)
{
    int rc;

    if (o->family == SALRUN_FAMILY_HYDRA)
        return SAL_OK;
    /* Oversubscription alone maps every rank onto the first host of a hostfile or allocation,
     * whatever its slots; by slot fills each host's slots in order first (docs/salrun.md). */
    rc = salrun_env_default("PRTE_MCA_rmaps_default_mapping_policy",
                            by_slot ? "slot:oversubscribe" : ":oversubscribe", added);

    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm)
        rc = salrun_env_default("OMPI_MCA_btl", "^ofi", added);
    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm)
        rc = salrun_env_default("OMPI_MCA_coll", "^han", added);
    /* UCX's memory hooks cost every process start about 40 ms (a replacement's too); ULFM runs
     * ob1, not UCX's PML, and UCX falls back to uncached registration without them. */
    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm)
        rc = salrun_env_default("UCX_MEM_EVENTS", "no", added);
    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm)
        rc = salrun_env_default("PRTE_MCA_state_base_recoverable", "1", added);
    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm)
        rc = salrun_env_default("PRTE_MCA_state_base_notify_errors", "1", added);
    if (rc == SAL_OK && geteuid() == 0)
        rc = salrun_env_default("OMPI_ALLOW_RUN_AS_ROOT", "1", added);
    if (rc == SAL_OK && geteuid() == 0)
        rc = salrun_env_default("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", added);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "-x NAME" for every SAL_* variable and UCX_MEM_EVENTS (Hydra: "-genv NAME VALUE"), so that
 * ranks on other hosts and replacements spawned later get them. In name order so the command
 * line is reproducible. */
static int export_sal_vars(salrun_family_t family, salrun_argv_t *cmd)
{
    salrun_argv_t names = {0};
    int rc = SAL_OK;

    for (char **e = environ; e && *e && rc == SAL_OK; e++) {
        const char *eq = strchr(*e, '=');

        if ((strncmp(*e, "SAL_", 4) == 0 || strncmp(*e, "UCX_MEM_EVENTS=", 15) == 0) && eq)
            rc = salrun_argv_pushf(&names, "%.*s", (int)(eq - *e), *e);
    }
    if (names.n > 1)
        qsort(names.v, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; rc == SAL_OK && i < names.n; i++) {
        const char *value = getenv(names.v[i]);

        rc = salrun_argv_push(cmd, family == SALRUN_FAMILY_HYDRA ? "-genv" : "-x");
        if (rc == SAL_OK)
            rc = salrun_argv_push(cmd, names.v[i]);
        if (rc == SAL_OK && family == SALRUN_FAMILY_HYDRA)
            rc = salrun_argv_push(cmd, value ? value : "");
    }
    salrun_argv_free(&names);
    return rc;
}

int salrun_build_command(const salrun_opts_t *o, const char *mpiexec, const salrun_argv_t *args,
                         salrun_argv_t *cmd)
{
    int rc = salrun_argv_push(cmd, mpiexec);

    if (rc == SAL_OK && SALRUN_HAVE_ULFM && !o->no_ulfm && o->family == SALRUN_FAMILY_OMPI) {
        rc = salrun_argv_push(cmd, "--with-ft");
        if (rc == SAL_OK)
            rc = salrun_argv_push(cmd, "ulfm");
    }
    if (rc == SAL_OK && o->np > 0) {
        rc = salrun_argv_push(cmd, "-n");
        if (rc == SAL_OK)
            rc = salrun_argv_pushf(cmd, "%ld", o->np);
    }
    if (rc == SAL_OK)
        rc = export_sal_vars(o->family, cmd);
    for (size_t i = 0; rc == SAL_OK && i < args->n; i++)
        rc = salrun_argv_push(cmd, args->v[i]);
    for (char **p = o->prog; rc == SAL_OK && p && *p; p++)
        rc = salrun_argv_push(cmd, *p);
    return rc;
}

/* Whether the pass-through options already choose srun's MPI plugin. */
static int has_mpi_option(const salrun_opts_t *o)
{
    for (size_t i = 0; i < o->mpi_args.n; i++)
        if (strncmp(o->mpi_args.v[i], "--mpi", 5) == 0)
            return 1;
    return 0;
}

int salrun_build_srun(const salrun_opts_t *o, const char *srun, const char *exclude,
                      salrun_argv_t *cmd)
{
    int rc = salrun_argv_push(cmd, srun);

    if (rc == SAL_OK && o->np > 0)
        rc = salrun_argv_pushf(cmd, "--ntasks=%ld", o->np);
    if (rc == SAL_OK) /* one dead task ends the step at once: salrun relaunches */
        rc = salrun_argv_push(cmd, "--kill-on-bad-exit=1");
    if (rc == SAL_OK && !has_mpi_option(o))
        rc = salrun_argv_push(cmd, "--mpi=pmix");
    if (rc == SAL_OK && exclude && exclude[0])
        rc = salrun_argv_pushf(cmd, "--exclude=%s", exclude);
    for (size_t i = 0; rc == SAL_OK && i < o->mpi_args.n; i++)
        rc = salrun_argv_push(cmd, o->mpi_args.v[i]);
    for (char **p = o->prog; rc == SAL_OK && p && *p; p++)
        rc = salrun_argv_push(cmd, *p);
    return rc;
}

/* Writes s for a POSIX shell: as is when it holds only safe characters, else in single quotes. */
static void put_quoted(FILE *out, const char *s)
{
    if (*s &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") ==
            strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

void salrun_print_command(FILE *out, const salrun_argv_t *env, const salrun_argv_t *cmd)
{
    for (size_t i = 0; i < env->n; i++) {
        const char *eq = strchr(env->v[i], '=');

        fprintf(out, "%.*s=", (int)(eq - env->v[i]), env->v[i]);
        put_quoted(out, eq + 1);
        fputc(' ', out);
    }
    for (size_t i = 0; i < cmd->n; i++) {
        if (i)
            fputc(' ', out);
        put_quoted(out, cmd->v[i]);
    }
    fputc('\n', out);
}

/* ---- signals ---- */

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))
static volatile sig_atomic_t pending[NFORWARDED];
static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t user_signal; /* last SIGUSR1/SIGUSR2 not yet consumed */

/* Records the signal. A signal the terminal sent (Ctrl-C: si_code SI_KERNEL) already reached
 * mpiexec, which shares salrun's process group, so it is not sent a second time. */
static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < NFORWARDED; i++)
        if (forwarded[i] == sig && !(info && info->si_code == SI_KERNEL))
            pending[i] = 1;
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
        stop_signal = sig;
    if (sig == SIGUSR1 || sig == SIGUSR2)
        user_signal = sig;
}

int salrun_signals_user(void)
{
    int sig = user_signal;

    user_signal = 0;
    return sig;
}

int salrun_signals_user_pending(void)
{
    return user_signal;
}

int salrun_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFORWARDED; i++)
        if (sigaction(forwarded[i], &sa, NULL) != 0)
            return salrun_fail(SAL_ERR_INVALID_ARG, "sigaction: %s", strerror(errno));
    return SAL_OK;
}

int salrun_signals_forward(pid_t pid)
{
    for (size_t i = 0; i < NFORWARDED; i++) {
        if (!pending[i])
            continue;
        pending[i] = 0;
        if (pid > 0)
            kill(pid, forwarded[i]);
    }
    return stop_signal;
}

/* ---- fork + exec ---- */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    (void)remove(path);
    return 0;
}

/* Open MPI 5's launcher (prterun, its daemons) keeps its session in <TMPDIR or /tmp>/<name>.<pid>
 * and refuses to start when that directory already holds a rendezvous file: "The PMIx server's
 * listener thread failed to start", status 213. A launcher killed with SIGKILL leaves its
 * directory, and pids are reused. */
void salrun_session_clear(pid_t pid)
{
    static const char *const names[] = {"ompi", "prterun", "prte", "prted"};
    const char *base = getenv("TMPDIR");
    char path[4096];
    struct stat st;

    if (!base || !base[0])
        base = "/tmp";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int n = snprintf(path, sizeof(path), "%s/%s.%ld", base, names[i], (long)pid);
        if (n > 0 && (size_t)n < sizeof(path) && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
            st.st_uid == getuid())
            (void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

int salrun_spawn(const salrun_argv_t *cmd, int flags, pid_t *pid)
{
    return salrun_spawn_io(cmd, flags, -1, -1, pid);
}

int salrun_spawn_io(const salrun_argv_t *cmd, int flags, int out_fd, int err_fd, pid_t *pid)
{
    pid_t parent = getpid(), child;

    (void)fflush(NULL);
    child = fork();
    if (child < 0)
        return salrun_fail(SAL_ERR_IO, "fork: %s", strerror(errno));
    if (child == 0) {
        struct sigaction dfl;
        int null;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (size_t i = 0; i < NFORWARDED; i++)
            sigaction(forwarded[i], &dfl, NULL);
        if (flags & SALRUN_SPAWN_PROBE)
            setpgid(0, 0);
        /* mpiexec must not outlive salrun (which would then neither stop nor relaunch it). */
        prctl(PR_SET_PDEATHSIG, flags & SALRUN_SPAWN_PROBE ? SIGKILL : SIGTERM);
        if (getppid() != parent)
            _exit(SALRUN_EXIT_FAILED);
        if ((flags & SALRUN_SPAWN_PROBE) && (null = open("/dev/null", O_RDWR)) >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        if (out_fd >= 0)
            dup2(out_fd, STDOUT_FILENO);
        if (err_fd >= 0)
            dup2(err_fd, STDERR_FILENO);
        /* A directory named after this process's pid belongs to no live process: this one is
         * not the launcher yet. */
        salrun_session_clear(getpid());
        execv(cmd->v[0], cmd->v);
        fprintf(stderr, "salrun: error: cannot execute %s: %s\n", cmd->v[0], strerror(errno));
        _exit(SALRUN_EXIT_NOTFOUND);
    }
    if (flags & SALRUN_SPAWN_PROBE)
        (void)setpgid(child, child); /* also here: the caller may signal the group at once */
    *pid = child;
    return SAL_OK;
}

/* ---- supervision of a running mpiexec ---- */

#define STOP_GRACE      10.0 /* seconds mpiexec may take to end after a forwarded stop signal */
#define CHILDLESS_GRACE 3.0  /* default seconds mpiexec may live on without any child process */
#define TERM_GRACE      5.0  /* seconds between salrun's SIGTERM and SIGKILL */
#define CHECK_PERIOD    0.5  /* seconds between two looks at mpiexec's children */
#define UNSEEN_GRACE                                                                               \
    10.0 /* seconds after which a launch whose ranks were never seen counts as                     \
          * having had them (they can start and die between two looks) */

/* Whether process pid is a zombie (exited, not yet collected by its parent). */
static int is_zombie(long pid)
{
    char path[64], buf[256], *close_paren;
    FILE *f;
    int zombie = 0;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 1; /* gone meanwhile */
    /* "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses). */
    if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')) != NULL)
        zombie = close_paren[1] == ' ' && close_paren[2] == 'Z';
    (void)fclose(f);
    return zombie;
}

/* 1 when pid has a live child process, 0 when it has none (or only zombies: an mpiexec that no
 * longer collects its exited ranks is as good as childless), -1 when Linux's
 * /proc/<pid>/task/<tid>/children cannot tell. */
static int has_children(pid_t pid)
{
    char path[64], buf[512];
    struct dirent *de;
    int found = -1;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    d = opendir(path);
    if (!d)
        return -1;
    while (found != 1 && (de = readdir(d))) {
        FILE *f;

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/children", (long)pid, de->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (found < 0)
            found = 0;
        while (found != 1 && fscanf(f, "%511s", buf) == 1) {
            char *end;
            long child = strtol(buf, &end, 10);
            if (*end == '\0' && child > 0 && !is_zombie(child))
                found = 1;
        }
        (void)fclose(f);
    }
    closedir(d);
    return found;
}

/* Seconds mpiexec may live on without a child: $SAL_SALRUN_HANG_SECONDS (> 0) or CHILDLESS_GRACE.
 */
static double childless_grace(void)
{
    const char *v = getenv("SAL_SALRUN_HANG_SECONDS");
    char *end;
    double d = v ? strtod(v, &end) : 0;

    return v && end != v && !*end && d > 0 ? d : CHILDLESS_GRACE;
}

/* Ends mpiexec when it lives on without any process of its job (see salrun_keeper_t). */
static void end_childless(salrun_keeper_t *k, const salrun_out_t *out, double now)
{
    int c = k->remote ? 1 : has_children(k->pid);
    double grace;

    k->t_check = now;
    if (k->t_launch > 0 && now - k->t_launch >= UNSEEN_GRACE)
        k->seen_children = 1;
    if (c != 0 || !k->seen_children) {
        k->seen_children |= c == 1;
        k->t_childless = 0;
        return;
    }
    if (k->t_childless == 0)
        k->t_childless = now;
    grace = childless_grace();
    if (!k->ended && now - k->t_childless >= grace) {
        salrun_say(out, "mpiexec_hung", NULL,
                   "every local process of the job is gone but mpiexec has not exited for %.3g s; "
                   "ending it",
                   grace);
        kill(k->pid, SIGTERM);
        k->ended = 1;
        k->t_term = now;
    }
}

void salrun_keeper_end(salrun_keeper_t *k, const salrun_out_t *out, const char *why)
{
    double now = salrun_now();

    salrun_say(out, "mpiexec_ended", NULL, "%s: ending mpiexec", why);
    kill(k->pid, SIGTERM);
    k->ended = 1;
    k->t_term = now;
}

void salrun_keeper_tick(salrun_keeper_t *k, const salrun_out_t *out)
{
    int stop = salrun_signals_forward(k->pid);
    double now = salrun_now();

    if (stop && k->t_stop == 0)
        k->t_stop = now;
    if (now - k->t_check >= CHECK_PERIOD)
        end_childless(k, out, now);
    if (k->killed)
        return;
    if (stop && now - k->t_stop >= STOP_GRACE) {
        salrun_say(out, "mpiexec_killed", NULL,
                   "mpiexec has not exited %.0f s after signal %d; killing it", STOP_GRACE, stop);
        kill(k->pid, SIGKILL);
        k->killed = 1;
    } else if (k->ended && now - k->t_term >= TERM_GRACE) {
        kill(k->pid, SIGKILL);
        k->killed = 1;
    }
}

/* ---- processes left behind ---- */

int salrun_adopt_orphans(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        return salrun_fail(SAL_ERR_IO, "prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    return SAL_OK;
}

/* The live children of this process into kids (at most max); returns their number. */
static int own_children(pid_t *kids, int max)
{
    int n = 0;

    salrun_children_of(getpid(), kids, &n, max);
    return n;
}

/* Reaps every child that has exited; returns how many are still alive. */
static int reap_exited(void)
{
    pid_t kids[256];
    int status;

    while (waitpid(-1, &status, WNOHANG) > 0)
        ;
    return own_children(kids, 256);
}

int salrun_shm_sweep(salrun_shm_t *s)
{
    int removed = reap_exited() == 0 ? salrun_shm_remove(s) : 0;

    s->n = 0;
    return removed;
}

int salrun_end_leftovers(double grace, char *pids, size_t size, int *shm_removed)
{
    pid_t kids[256], seen[256];
    int ended = 0, n;
    size_t used = 0;
    double t0 = salrun_now();
    static salrun_shm_t shm; /* 33 KiB: not on the stack */

    shm.n = 0;

    if (size)
        pids[0] = '\0';
    /* Each round ends the current children; their own children are adopted and ended next. */
    for (int round = 0; round < 16 && reap_exited() > 0; round++) {
        n = own_children(kids, 256);
        for (int i = 0; i < n; i++) {
            int known = 0;
            for (int k = 0; k < ended && k < 256; k++)
                known |= seen[k] == kids[i];
            if (!known && ended < 256)
                seen[ended] = kids[i];
            if (!known && used < size)
                used += (size_t)snprintf(pids + used, size - used, "%s%ld", used ? " " : "",
                                         (long)kids[i]);
            ended += !known;
            if (!known)
                salrun_shm_note(&shm, kids[i]);
            kill(kids[i], known ? SIGKILL : SIGTERM);
        }
        while (reap_exited() > 0 && salrun_now() - t0 < grace * (round + 1)) {
            struct timespec ts = {0, 20000000L};
            nanosleep(&ts, NULL);
        }
    }
    /* The files of processes still alive (more than 16 rounds) stay: they may still use them. */
    *shm_removed = reap_exited() == 0 ? salrun_shm_remove(&shm) : 0;
    return ended;
}
