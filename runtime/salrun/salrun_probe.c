/*
 * Checking the hosts of a job before each relaunch (docs/salrun.md, "Hosts that fail"): a host
 * Slurm reports down, drained, failing or not responding (sinfo) is excluded; every other host but
 * salrun's own is probed with the job's launcher, PROBE_PARALLEL at a time, and excluded when its
 * probe fails or does not end within --probe-timeout. The relaunches then use a hostfile of the
 * hosts left (mpiexec) or --exclude (srun). Loading the hosts is in salrun_hosts.c.
 *
 * A probe runs `sh -c 'echo salrun-probe "$(uname -n)"'` on the host and succeeds as soon as that
 * word comes back on its standard output: the host started a process. The name after the word is
 * the host's own, the one its ranks report: a host the hostfile names by address is then shown
 * with it ("10.251.0.13 (node3)"), and a job whose hostfile holds addresses probes its hosts once
 * before the first launch to learn them. The launcher is not waited for after that: Open
 * MPI 5.0.11's mpiexec sometimes never returns after a remote job has completed (the hang that
 * openpmix/prrte pull request 2711 fixes; about 1 launch in 10 on the emulated cluster), which
 * would make a healthy host's probe time out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "fsutil.h"
#include "salrun.h"

#define PROBE_PARALLEL 16             /* probes running at once */
#define PROBE_WORD     "salrun-probe" /* what a probe prints on the host, then its name */
#define PROBE_SCRIPT   "echo " PROBE_WORD " \"$(uname -n)\""
#define PROBE_RETRIES  2 /* new launches of a probe whose mpiexec lost the start race */

/* Appends name to the comma list buf unless it is there already. */
static void add_node(char *buf, size_t size, const char *name)
{
    size_t used = strlen(buf), len = strlen(name);
    const char *p = buf;

    for (; (p = strstr(p, name)) != NULL; p += len)
        if ((p == buf || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return;
    if (len && used + len + 2 <= size)
        snprintf(buf + used, size - used, "%s%s", used ? "," : "", name);
}

/* sinfo's view of the allocation's nodes that cannot run the job: "node state" lines into raw.
 * 0 on success. */
static int slurm_bad_lines(char *raw, size_t size)
{
    const char *nodes = getenv("SLURM_JOB_NODELIST");
    char sinfo[PATH_MAX], list[4096];
    char *argv[] = {
        sinfo,     "--noheader", "--Node", "--states=down,drain,fail,no_respond", "--format=%N %T",
        "--nodes", list,         NULL};

    raw[0] = '\0';
    if (!nodes || !nodes[0] || salrun_find_exe("sinfo", sinfo, sizeof(sinfo)) != SAL_OK)
        return -1;
    snprintf(list, sizeof(list), "%s", nodes);
    return salrun_capture(argv, raw, size);
}

static int exclude(salrun_hosts_t *h, size_t i, const salrun_out_t *out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int exclude(salrun_hosts_t *h, size_t i, const salrun_out_t *out, const char *fmt, ...)
{
    char why[512], json[1400], e_host[300], e_alias[300], e_why[600], label[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    h->v[i].why = strdup(why);
    if (!h->v[i].why)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    h->nexcluded++;
    snprintf(
        json, sizeof(json), "\"host\":\"%s\",\"name\":\"%s\",\"reason\":\"%s\"",
        sal_json_escape(e_host, sizeof(e_host), h->v[i].name),
        sal_json_escape(e_alias, sizeof(e_alias), h->v[i].alias ? h->v[i].alias : h->v[i].name),
        sal_json_escape(e_why, sizeof(e_why), why));
    salrun_say(out, "exclude", json, "host %s left out of the relaunches: %s",
               salrun_host_label(h, i, label, sizeof(label)), why);
    return SAL_OK;
}

/* Hosts Slurm reports unusable. */
static int check_slurm(salrun_hosts_t *h, const salrun_out_t *out)
{
    char raw[8192];
    int rc = SAL_OK;

    if (slurm_bad_lines(raw, sizeof(raw)) != 0)
        return SAL_OK;
    for (char *save = NULL, *line = strtok_r(raw, "\n", &save); rc == SAL_OK && line;
         line = strtok_r(NULL, "\n", &save)) {
        char *state = line + strcspn(line, " \t");
        size_t slen;
        int i, nr;

        if (*state)
            *state++ = '\0';
        i = salrun_hosts_index(h, line);
        if (i < 0 || h->v[i].why)
            continue;
        slen = strlen(state);
        nr = slen > 0 && state[slen - 1] == '*'; /* sinfo marks a node not responding with '*' */
        if (nr)
            state[slen - 1] = '\0';
        rc = exclude(h, (size_t)i, out, "Slurm reports it %s%s", state[0] ? state : "unusable",
                     nr ? " and not responding" : "");
    }
    return rc;
}

/* Whether name is the host salrun runs on (never probed: it is alive). */
static int is_local(const char *name)
{
    const char *slurm = getenv("SLURMD_NODENAME");
    char self[256];
    size_t len;

    if (strcmp(name, "localhost") == 0 || strcmp(name, "127.0.0.1") == 0 ||
        (slurm && strcmp(name, slurm) == 0))
        return 1;
    if (gethostname(self, sizeof(self)) != 0)
        return 0;
    self[sizeof(self) - 1] = '\0';
    len = strcspn(self, ".");
    return strcmp(name, self) == 0 ||
           (strlen(name) == len && strncmp(name, self, len) == 0); /* short name of this host */
}

/* The options of the job that can matter for reaching a host: --mca and friends, --prefix; for
 * Hydra its launcher's (how it starts its proxies on other hosts) and network interface options. */
static int is_reach_option(salrun_family_t family, const char *w)
{
    static const char *const keep[] = {"--mca", "-mca",     "--prtemca",      "--pmixmca", "--gmca",
                                       "-gmca", "--prefix", "--launch-agent", "--tune"};
    static const char *const keep_hydra[] = {"-launcher", "-launcher-exec", "-bootstrap",
                                             "-bootstrap-exec", "-iface"};
    int hydra = family == SALRUN_FAMILY_HYDRA;
    size_t n = hydra ? sizeof(keep_hydra) / sizeof(keep_hydra[0]) : sizeof(keep) / sizeof(keep[0]);

    for (size_t k = 0; k < n; k++)
        if (strcmp(w, hydra ? keep_hydra[k] : keep[k]) == 0)
            return 1;
    return 0;
}

/* Whether the user passes mpiexec's --prefix. */
static int has_prefix_option(const salrun_opts_t *o)
{
    for (size_t i = 0; i < o->mpi_args.n; i++)
        if (strcmp(o->mpi_args.v[i], "--prefix") == 0)
            return 1;
    return 0;
}

/* The probe of host: [OUT] cmd, `LAUNCHER --host HOST -n 1 [--prefix PRRTE] [--mca ...] SH -c
 * PROBE_SCRIPT` (Hydra: `-hosts HOST -n 1 [-launcher ...]`) or srun's. prrte: the prefix of the
 * PRRTE 5 stack ("" = none), whose daemons the probe starts like the job's. */
static int probe_command(const salrun_opts_t *o, const char *launcher, const char *prrte,
                         int use_srun, const char *sh, const char *host, salrun_argv_t *cmd)
{
    int rc = salrun_argv_push(cmd, launcher);

    if (rc == SAL_OK && use_srun) {
        rc = salrun_argv_pushf(cmd, "--nodelist=%s", host);
        for (const char *const *a =
                 (const char *const[]){"--nodes=1", "--ntasks=1", "--overlap", "--quiet", NULL};
             rc == SAL_OK && *a; a++)
            rc = salrun_argv_push(cmd, *a);
    } else if (rc == SAL_OK) {
        rc = salrun_argv_push(cmd, o->family == SALRUN_FAMILY_HYDRA ? "-hosts" : "--host");
        if (rc == SAL_OK)
            rc = salrun_argv_push(cmd, host);
        if (rc == SAL_OK)
            rc = salrun_argv_push(cmd, "-n");
        if (rc == SAL_OK)
            rc = salrun_argv_push(cmd, "1");
        if (rc == SAL_OK && prrte[0] && !has_prefix_option(o)) {
            rc = salrun_argv_push(cmd, "--prefix");
            if (rc == SAL_OK)
                rc = salrun_argv_push(cmd, prrte);
        }
        for (size_t i = 0; rc == SAL_OK && i < o->mpi_args.n; i++) {
            if (!is_reach_option(o->family, o->mpi_args.v[i]))
                continue;
            rc = salrun_argv_push(cmd, o->mpi_args.v[i]);
            for (; rc == SAL_OK && i + 1 < o->mpi_args.n && o->mpi_args.v[i + 1][0] != '-'; i++)
                rc = salrun_argv_push(cmd, o->mpi_args.v[i + 1]);
        }
    }
    if (rc == SAL_OK)
        rc = salrun_argv_push(cmd, sh);
    if (rc == SAL_OK)
        rc = salrun_argv_push(cmd, "-c");
    if (rc == SAL_OK)
        rc = salrun_argv_push(cmd, PROBE_SCRIPT);
    return rc;
}

typedef struct probe {
    pid_t pid;
    int fd; /* the read end of its standard output */
    size_t host;
    double t0;
    int tries; /* launches again after Open MPI's start race */
    size_t len;
    char said[320]; /* the start of its output */
    char what[160]; /* the probe's command, shortened, for the messages */
} probe_t;

/* "mpiexec --host H -n 1 echo salrun-probe" (Hydra: -hosts H): cmd with the paths of the launcher
 * cut to its base name and the options that only help to reach hosts left out. */
static void describe(const salrun_argv_t *cmd, int use_srun, char *buf, size_t size)
{
    const char *l = strrchr(cmd->v[0], '/') ? strrchr(cmd->v[0], '/') + 1 : cmd->v[0];

    snprintf(buf, size, "%s %s%s%s%s", l, use_srun ? "" : cmd->v[1], use_srun ? "" : " ",
             use_srun ? cmd->v[1] : cmd->v[2],
             use_srun ? " -N 1 -n 1 echo " PROBE_WORD : " -n 1 echo " PROBE_WORD);
}

/* Starts the probe cmd with its standard output on a pipe. */
static int probe_start(const salrun_argv_t *cmd, probe_t *p)
{
    int fd[2], rc;

    if (pipe(fd) != 0)
        return salrun_fail(SAL_ERR_IO, "pipe for a probe: %s", strerror(errno));
    (void)fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    rc = salrun_spawn_io(cmd, SALRUN_SPAWN_PROBE, fd[1], -1, &p->pid);
    close(fd[1]);
    if (rc != SAL_OK) {
        close(fd[0]);
        return rc;
    }
    (void)fcntl(fd[0], F_SETFL, fcntl(fd[0], F_GETFL) | O_NONBLOCK);
    p->fd = fd[0];
    p->len = 0;
    p->said[0] = '\0';
    return SAL_OK;
}

/* Whether probe p's host has printed the probe word and its name (a whole line). */
static int probe_answered(probe_t *p)
{
    const char *word;
    ssize_t n;

    while (p->len + 1 < sizeof(p->said) &&
           (n = read(p->fd, p->said + p->len, sizeof(p->said) - 1 - p->len)) > 0) {
        p->len += (size_t)n;
        p->said[p->len] = '\0';
    }
    word = strstr(p->said, PROBE_WORD);
    return word && (strchr(word, '\n') || p->len + 1 >= sizeof(p->said));
}

/* Keeps the name probe p's host gave after the probe word, unless the hostfile names the host by
 * it already (or by its short form, or it by the hostfile's short form). */
static int learn_name(salrun_hosts_t *h, const probe_t *p)
{
    const char *word = strstr(p->said, PROBE_WORD), *name;
    salrun_host_t *host = &h->v[p->host];
    size_t len, short_len, entry_short;

    if (!word)
        return SAL_OK;
    name = word + strlen(PROBE_WORD);
    name += strspn(name, " \t");
    len = strcspn(name, " \t\r\n");
    short_len = strcspn(name, ".");
    short_len = short_len < len ? short_len : len;
    entry_short = strcspn(host->name, ".");
    if (len == 0 || (!salrun_host_is_address(host->name) && short_len == entry_short &&
                     strncmp(name, host->name, short_len) == 0))
        return SAL_OK;
    free(host->alias);
    host->alias = strndup(name, len);
    return host->alias ? SAL_OK : salrun_fail(SAL_ERR_NOMEM, "out of memory");
}

/* Kills probe p with whatever it started here, reaps it and closes its pipe. The killed launcher
 * leaves its session directory (<TMPDIR or /tmp>/ompi.<pid>), removed once it has exited and
 * before it is reaped, while its pid cannot name another process. */
static void probe_end(probe_t *p)
{
    siginfo_t si;

    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL);
    while (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
        ;
    salrun_session_clear(p->pid);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(p->fd);
}

/* Ends probe p (killing it after timeout) when it is done; returns 1 once it has ended, 2 when
 * its mpiexec failed to start (status 213 at once: Open MPI's start race when several launches
 * start together, which is not the host's fault) and it is to be launched again. */
static int probe_poll(salrun_hosts_t *h, probe_t *p, double timeout, const salrun_out_t *out,
                      int *rc)
{
    double t = salrun_now() - p->t0;
    int status = 0, answered = probe_answered(p);
    pid_t r = answered ? 0 : waitpid(p->pid, &status, WNOHANG);

    if (answered) { /* the host ran it: do not wait for the launcher to return */
        *rc = learn_name(h, p);
        probe_end(p);
        return 1;
    }
    if (r == p->pid)
        (void)probe_answered(p); /* what it printed before exiting */
    if (r == p->pid && strstr(p->said, PROBE_WORD)) {
        *rc = learn_name(h, p);
        close(p->fd);
        kill(-p->pid, SIGKILL);
        return 1;
    }
    if (r == 0 && t <= timeout)
        return 0;
    if (r == 0) {
        probe_end(p);
        *rc = exclude(h, p->host, out, "its probe `%s` did not end within %g s", p->what, timeout);
        return 1;
    }
    close(p->fd);
    kill(-p->pid, SIGKILL); /* whatever the probe left behind */
    if (r < 0)
        return 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == SALRUN_PRTE_STARTUP_FAILED &&
        p->tries < PROBE_RETRIES) {
        p->tries++;
        return 2;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        *rc = exclude(h, p->host, out,
                      "its probe `%s` exited with status 0 after %.2f s without "
                      "printing %s",
                      p->what, t, PROBE_WORD);
        return 1;
    }
    if (WIFSIGNALED(status))
        *rc = exclude(h, p->host, out, "its probe `%s` was killed by signal %d after %.2f s",
                      p->what, WTERMSIG(status), t);
    else
        *rc = exclude(h, p->host, out, "its probe `%s` exited with status %d after %.2f s", p->what,
                      WEXITSTATUS(status), t);
    return 1;
}

typedef struct probe_set {
    salrun_hosts_t *h;
    const salrun_opts_t *o;
    const char *launcher, *prrte;
    int use_srun;
    char sh[PATH_MAX];
} probe_set_t;

/* Launches the probe of host i into p (p->tries kept). */
static int launch(const probe_set_t *s, size_t i, probe_t *p)
{
    salrun_argv_t cmd = {0};
    int rc = probe_command(s->o, s->launcher, s->prrte, s->use_srun, s->sh, s->h->v[i].name, &cmd);

    if (rc == SAL_OK) {
        describe(&cmd, s->use_srun, p->what, sizeof(p->what));
        rc = probe_start(&cmd, p);
    }
    salrun_argv_free(&cmd);
    p->host = i;
    p->t0 = salrun_now();
    return rc;
}

/* Probes the hosts in todo[0..n), PROBE_PARALLEL at a time. Stops early on a stop signal. */
static int probe_all(salrun_hosts_t *h, const salrun_opts_t *o, const char *launcher,
                     const char *prrte, int use_srun, const size_t *todo, size_t n,
                     const salrun_out_t *out)
{
    probe_t run[PROBE_PARALLEL];
    probe_set_t s = {h, o, launcher, prrte, use_srun, ""};
    size_t next = 0, nrun = 0;
    int rc = SAL_OK;

    if (salrun_find_exe("sh", s.sh, sizeof(s.sh)) != SAL_OK)
        snprintf(s.sh, sizeof(s.sh), "/bin/sh");
    while (rc == SAL_OK && (next < n || nrun > 0)) {
        struct timespec nap = {0, 20000000L};

        while (rc == SAL_OK && nrun < PROBE_PARALLEL && next < n) {
            run[nrun].tries = 0;
            if ((rc = launch(&s, todo[next++], &run[nrun])) == SAL_OK)
                nrun++;
        }
        for (size_t k = 0; k < nrun && rc == SAL_OK;) {
            int done = probe_poll(h, &run[k], o->probe_timeout, out, &rc);

            if (done == 2)
                rc = launch(&s, run[k].host, &run[k]);
            if (done == 1 || rc != SAL_OK) /* ended, or not launched again */
                run[k] = run[--nrun];
            else
                k++;
        }
        if (salrun_signals_forward(0)) /* the user stops salrun: no more probing */
            break;
        nanosleep(&nap, NULL);
    }
    for (size_t k = 0; k < nrun; k++) /* stopped, or an error: no probe outlives the check */
        probe_end(&run[k]);
    return rc;
}

/* The comma list of the hosts left into buf; returns how many. */
static size_t hosts_left(const salrun_hosts_t *h, char *buf, size_t size)
{
    size_t left = 0;

    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < h->n; i++)
        if (!h->v[i].why) {
            left++;
            add_node(buf, size, h->v[i].name);
        }
    return left;
}

const char *salrun_hosts_excluded(const salrun_hosts_t *h, int labels, char *buf, size_t size)
{
    char label[600];

    if (size)
        buf[0] = '\0';
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].why)
            add_node(buf, size,
                     labels ? salrun_host_label(h, i, label, sizeof(label)) : h->v[i].name);
    return buf;
}

int salrun_hosts_remote(const salrun_hosts_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (!h->v[i].why && !is_local(h->v[i].name))
            return 1;
    return 0;
}

/* The hosts whose daemon the launcher reported lost, in what it said (PRRTE's "PRTE has lost
 * communication with a remote daemon." block names it: "Remote daemon: [NSPACE,VPID] on node
 * NAME"): left out without a probe, which on a lost host only ends when the launcher's own
 * connection attempt gives up (3 s or more on an unreachable ssh host). */
static int exclude_reported(salrun_hosts_t *h, const char *said, const salrun_out_t *out)
{
    static const char lost[] = "lost communication with a remote daemon";
    static const char key[] = "Remote daemon:";
    const char *p = said ? strstr(said, lost) : NULL;
    int rc = SAL_OK;

    while (rc == SAL_OK && p && (p = strstr(p, key)) != NULL) {
        const char *line_end = strchr(p, '\n'), *on = strstr(p, " on node ");
        char name[256];
        size_t n = 0;
        int i;

        if (!on || (line_end && on > line_end))
            break;
        on += strlen(" on node ");
        while (n + 1 < sizeof(name) && on[n] && strchr(" \t\r\n", on[n]) == NULL)
            n++;
        memcpy(name, on, n);
        name[n] = '\0';
        p = on + n;
        i = salrun_hosts_index(h, name);
        for (size_t k = 0; i < 0 && k < h->n; k++)
            if (h->v[k].alias && strcmp(h->v[k].alias, name) == 0)
                i = (int)k;
        if (i >= 0 && !h->v[i].why && !is_local(h->v[i].name))
            rc = exclude(h, (size_t)i, out,
                         "the launcher reported its daemon there lost (\"PRTE has lost "
                         "communication with a remote daemon\"); not probed");
    }
    return rc;
}

int salrun_hosts_check(salrun_hosts_t *h, const salrun_opts_t *o, const char *launcher,
                       const char *prrte, int use_srun, const char *said, const salrun_out_t *out,
                       size_t *changed)
{
    size_t before = h->nexcluded, n = 0, nprobed, *todo;
    char left[4096], bad[4096], json[8400], esc[8200];
    double t0 = salrun_now();
    int rc;

    *changed = 0;
    if (h->n == 0)
        return SAL_OK;
    rc = check_slurm(h, out);
    if (rc == SAL_OK)
        rc = exclude_reported(h, said, out);
    todo = calloc(h->n, sizeof(*todo));
    if (!todo)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < h->n; i++)
        if (!h->v[i].why && !is_local(h->v[i].name))
            todo[n++] = i;
    nprobed = o->probe_timeout > 0 ? n : 0;
    if (rc == SAL_OK && nprobed > 0)
        rc = probe_all(h, o, launcher, prrte, use_srun, todo, n, out);
    free(todo);
    if (rc != SAL_OK)
        return rc;
    *changed = h->nexcluded - before;
    n = hosts_left(h, left, sizeof(left));
    snprintf(json, sizeof(json),
             "\"hosts\":%zu,\"probed\":%zu,\"left\":\"%s\",\"excluded\":%zu,\"seconds\":%.3f", h->n,
             nprobed, sal_json_escape(esc, sizeof(esc), left), h->nexcluded, salrun_now() - t0);
    if (n == 0)
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "every host of %s failed (see the lines above): no host is left to "
                           "relaunch the job on",
                           h->source);
    if (*changed == 0 && o->probe_timeout <= 0)
        salrun_say(out, "hosts", json, "%zu host%s, not probed (--probe-timeout 0)", h->n,
                   h->n == 1 ? "" : "s");
    else if (*changed == 0 && nprobed > 0)
        salrun_say(out, "hosts", json, "%zu host%s probed in %.2f s: none failed", nprobed,
                   nprobed == 1 ? "" : "s", salrun_now() - t0);
    if (*changed == 0)
        return SAL_OK;
    if (!use_srun && (rc = salrun_hosts_write(h, o->family)) != SAL_OK)
        return rc;
    if (use_srun)
        snprintf(esc, sizeof(esc), "--exclude=%s", salrun_hosts_excluded(h, 0, bad, sizeof(bad)));
    else
        snprintf(esc, sizeof(esc), "hostfile %s", h->path);
    salrun_say(out, "hosts", json, "the relaunches run on %zu host%s: %s (%s)", n,
               n == 1 ? "" : "s", left, esc);
    return SAL_OK;
}
