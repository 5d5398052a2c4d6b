/*
 * The hosts a job runs on, and keeping the ones that failed out of its relaunches (docs/salrun.md,
 * "Hosts that fail").
 *
 * The hosts come from salrun's --hostfile, else from mpiexec's --host passed through, else from
 * the Slurm allocation (`scontrol show hostnames $SLURM_JOB_NODELIST`); with none of them the job
 * runs on the local host and there is nothing to leave out.
 *
 * Before each relaunch every host still in use is checked: a host Slurm reports down, drained,
 * failing or not responding (sinfo) is excluded; every other host but salrun's own is probed with
 * the job's launcher, `mpiexec --host H -n 1 sh -c 'echo salrun-probe "$(uname -n)"'` or srun's,
 * PROBE_PARALLEL at a time, and excluded when its probe fails or does not end within
 * --probe-timeout. Excluded hosts stay excluded for the rest of salrun's run. The relaunches then
 * use a hostfile of the hosts left, written next to the event log (mpiexec), or --exclude (srun).
 * The checks and probes are in salrun_probe.c.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "hostfile.h"
#include "salrun.h"

/* Runs argv (no shell) and reads up to size - 1 bytes of its standard output into buf. 0 when it
 * exited with status 0. */
int salrun_capture(char *const argv[], char *buf, size_t size)
{
    int fd[2], status = 0;
    size_t used = 0;
    pid_t pid;

    buf[0] = '\0';
    if (pipe(fd) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    for (;;) {
        ssize_t n = read(fd[0], buf + used, size - 1 - used);
        if (n > 0 && used + (size_t)n < size - 1) {
            used += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    buf[used] = '\0';
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the host list ---- */

int salrun_hosts_index(const salrun_hosts_t *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int add_host(salrun_hosts_t *h, const char *name)
{
    salrun_host_t *v;

    if (!name[0] || salrun_hosts_index(h, name) >= 0)
        return SAL_OK;
    v = realloc(h->v, (h->n + 1) * sizeof(*v));
    if (!v)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    h->v = v;
    memset(&v[h->n], 0, sizeof(*v));
    v[h->n].name = strdup(name);
    if (!v[h->n].name)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    h->n++;
    return SAL_OK;
}

/* A line of the hostfile of relaunches, its host ("" for "+n0", or for "^host" of --host) and its
 * slots (0 = not given). */
static int add_line(salrun_hosts_t *h, const char *line, const char *host, long slots)
{
    long *v = realloc(h->line_slots, (h->lines.n + 1) * sizeof(*v));
    int rc;

    if (!v)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    h->line_slots = v;
    v[h->lines.n] = slots;
    rc = salrun_argv_push(&h->lines, line);
    if (rc == SAL_OK)
        rc = salrun_argv_push(&h->line_host, host);
    if (rc == SAL_OK)
        rc = add_host(h, host);
    h->line_user |= host[0] && strchr(line, '@') != NULL;
    return rc;
}

/* The host of a --host entry: without "user@"; "" for an exclusion ("^host") or a relative entry
 * ("+n0", "+e"), which name no host of their own. (Hostfiles are read by hostfile.h.) */
static void entry_host(const char *entry, size_t len, char *host, size_t size)
{
    const char *at = memchr(entry, '@', len);

    if (at) {
        len -= (size_t)(at + 1 - entry);
        entry = at + 1;
    }
    if (len == 0 || entry[0] == '^' || entry[0] == '+')
        len = 0;
    snprintf(host, size, "%.*s", (int)len, entry);
}

/* salrun's --hostfile, read by the one hostfile grammar (docs/salrun.md, "Hostfiles"): each entry's
 * text becomes a line of the hostfile of relaunches. A host on several lines is kept on each (Open
 * MPI counts one slot per line). */
static int load_hostfile(salrun_hosts_t *h, const char *path)
{
    sal_hostfile_t *hf = NULL;
    int rc = sal_hostfile_load(path, &hf);

    if (rc != SAL_OK)
        return salrun_fail(rc == SAL_ERR_CONFIG ? SAL_ERR_INVALID_ARG : rc, "--hostfile: %s",
                           sal_last_error());
    for (size_t i = 0; rc == SAL_OK && i < sal_hostfile_count(hf); i++) {
        const sal_hostfile_entry_t *e = sal_hostfile_entry(hf, i);

        rc = add_line(h, e->text, e->host, e->slots);
    }
    sal_hostfile_destroy(&hf);
    if (rc == SAL_OK && h->n == 0)
        rc = salrun_fail(SAL_ERR_INVALID_ARG, "hostfile %s names no host", path);
    return rc;
}

/* mpiexec's "--host a:2,b" passed through: the entries become hostfile lines with their slots. */
static int load_host_option(salrun_hosts_t *h, const char *value)
{
    int rc = SAL_OK;

    for (const char *p = value; rc == SAL_OK && *p;) {
        size_t len = strcspn(p, ","), name_len = strcspn(p, ":,");
        char host[256], line[300];

        if (name_len > 0 && name_len < sizeof(host)) {
            long slots = name_len < len ? strtol(p + name_len + 1, NULL, 10) : 1;

            entry_host(p, name_len, host, sizeof(host));
            if (host[0] && slots > 0)
                snprintf(line, sizeof(line), "%.*s slots=%ld", (int)name_len, p, slots);
            else
                snprintf(line, sizeof(line), "%.*s", (int)len, p);
            rc = add_line(h, line, host, host[0] && slots > 0 ? slots : 0);
        }
        p += len + (p[len] == ',');
    }
    return rc;
}

/* --host, -host, -H (Open MPI) and -hosts (Hydra), each with the same "a:2,b" list. */
static int is_host_option(const char *w)
{
    return strcmp(w, "--host") == 0 || strcmp(w, "-host") == 0 || strcmp(w, "-H") == 0 ||
           strcmp(w, "-hosts") == 0;
}

/* The nodes of the Slurm allocation, in order. Nothing when scontrol cannot tell. */
static int load_slurm(salrun_hosts_t *h)
{
    const char *nodes = getenv("SLURM_JOB_NODELIST");
    char scontrol[PATH_MAX], list[4096], raw[65536];
    char *argv[] = {scontrol, "show", "hostnames", list, NULL};
    int rc = SAL_OK;

    if (!nodes || !nodes[0] || salrun_find_exe("scontrol", scontrol, sizeof(scontrol)) != SAL_OK)
        return SAL_OK;
    snprintf(list, sizeof(list), "%s", nodes);
    if (salrun_capture(argv, raw, sizeof(raw)) != 0)
        return SAL_OK;
    for (char *save = NULL, *line = strtok_r(raw, "\n", &save); rc == SAL_OK && line;
         line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, " \t")] = '\0';
        if (line[0])
            rc = add_line(h, line, line, 0);
    }
    snprintf(h->source, sizeof(h->source), "the Slurm allocation %s", nodes);
    return rc;
}

int salrun_hosts_load(salrun_hosts_t *h, const salrun_opts_t *o, int use_srun, const char *path)
{
    int rc = SAL_OK;

    memset(h, 0, sizeof(*h));
    snprintf(h->path, sizeof(h->path), "%s", path);
    if (o->hostfile) {
        if (use_srun)
            return salrun_fail(SAL_ERR_INVALID_ARG,
                               "--hostfile is for mpiexec; with srun the Slurm allocation decides "
                               "(give srun's --nodelist=... to choose nodes)");
        snprintf(h->source, sizeof(h->source), "hostfile %s", o->hostfile);
        h->listed = 1;
        return load_hostfile(h, o->hostfile);
    }
    for (size_t i = 0; !use_srun && i + 1 < o->mpi_args.n; i++)
        if (is_host_option(o->mpi_args.v[i])) {
            snprintf(h->source, sizeof(h->source), "--host %s", o->mpi_args.v[i + 1]);
            h->listed = 1;
            rc = load_host_option(h, o->mpi_args.v[++i]);
        }
    if (rc == SAL_OK && h->n == 0)
        rc = load_slurm(h);
    return rc;
}

void salrun_hosts_free(salrun_hosts_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].why);
        free(h->v[i].alias);
    }
    free(h->v);
    free(h->line_slots);
    salrun_argv_free(&h->lines);
    salrun_argv_free(&h->line_host);
    memset(h, 0, sizeof(*h));
}

int salrun_host_is_address(const char *name)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

int salrun_hosts_by_address(const salrun_hosts_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (salrun_host_is_address(h->v[i].name))
            return 1;
    return 0;
}

const char *salrun_host_label(const salrun_hosts_t *h, size_t i, char *buf, size_t size)
{
    if (h->v[i].alias)
        snprintf(buf, size, "%s (%s)", h->v[i].name, h->v[i].alias);
    else
        snprintf(buf, size, "%s", h->v[i].name);
    return buf;
}

/* ---- the hostfile of relaunches ---- */

long salrun_hosts_slots_left(const salrun_hosts_t *h)
{
    long total = 0;

    if (h->lines.n == 0)
        return -1;
    for (size_t i = 0; i < h->lines.n; i++) {
        int k = h->line_host.v[i][0] ? salrun_hosts_index(h, h->line_host.v[i]) : -1;
        const char *s = strstr(h->lines.v[i], "slots=");
        char *end;
        long n;

        if (k >= 0 && h->v[k].why)
            continue;
        if (!s)
            return -1;
        n = strtol(s + 6, &end, 10);
        if (end == s + 6 || n < 0)
            return -1;
        total += n;
    }
    return total;
}

/* The number of the " slots=N" attribute of a hostfile line: *at points to N and *len is its
 * length. -1 when the line has none in that form, or has max_slots (which more slots would
 * exceed). */
static long slots_attr(const char *line, const char **at, size_t *len)
{
    const char *s = strstr(line, " slots=");
    char *end;
    long n;

    if (!s || strstr(line, "max_slots"))
        return -1;
    s += strlen(" slots=");
    n = strtol(s, &end, 10);
    if (end == s || n < 1)
        return -1;
    *at = s;
    *len = (size_t)(end - s);
    return n;
}

/* The last line of the hostfile whose host is still in use, or -1 (none, or a relative entry). */
static long last_line_left(const salrun_hosts_t *h)
{
    for (size_t i = h->lines.n; i-- > 0;) {
        int k = h->line_host.v[i][0] ? salrun_hosts_index(h, h->line_host.v[i]) : -1;

        if (k >= 0 && h->v[k].why)
            continue;
        return k >= 0 ? (long)i : -1;
    }
    return -1;
}

/* Line i of the hostfile of the launches, in the grammar of family's mpiexec, the spares' slots
 * added when it is line last: into text + *used (size bytes in all). */
static void hostfile_line(const salrun_hosts_t *h, size_t i, long last, salrun_family_t family,
                          char *text, size_t size, size_t *used)
{
    const char *line = h->lines.v[i], *at = NULL;
    long extra = (long)i == last ? h->spare_slots : 0;
    size_t len = 0;
    int n;

    if (family == SALRUN_FAMILY_HYDRA && h->line_slots[i] > 0) /* Hydra's form: host[:processes] */
        n = snprintf(text + *used, size - *used, "%s:%ld\n", h->line_host.v[i],
                     h->line_slots[i] + extra);
    else if (family == SALRUN_FAMILY_HYDRA)
        n = snprintf(text + *used, size - *used, "%s\n", h->line_host.v[i]);
    else if (extra > 0 && slots_attr(line, &at, &len) > 0)
        n = snprintf(text + *used, size - *used, "%.*s%ld%s\n", (int)(at - line), line,
                     slots_attr(line, &at, &len) + extra, at + len);
    else
        n = snprintf(text + *used, size - *used, "%s\n", line);
    *used += n > 0 ? (size_t)n : 0;
}

/* Hydra's hostfile has neither relative entries nor user@host: SAL_ERR_INVALID_ARG, said. */
static int hydra_lines_ok(const salrun_hosts_t *h)
{
    for (size_t i = 0; i < h->lines.n; i++)
        if (!h->line_host.v[i][0])
            return salrun_fail(SAL_ERR_INVALID_ARG,
                               "%s: \"%s\" names no host, and Hydra's mpiexec has no relative "
                               "entries: list the hosts",
                               h->source, h->lines.v[i]);
    if (h->line_user)
        return salrun_fail(SAL_ERR_INVALID_ARG,
                           "%s: Hydra's hostfile has no user@host: give the user in "
                           "~/.ssh/config and the host alone",
                           h->source);
    return SAL_OK;
}

int salrun_hosts_write(const salrun_hosts_t *h, salrun_family_t family)
{
    size_t size = 256, used = 0;
    long last = h->spare_slots > 0 ? last_line_left(h) : -1;
    char *text, dir[PATH_MAX], *slash;
    int rc, n;

    if (family == SALRUN_FAMILY_HYDRA && (rc = hydra_lines_ok(h)) != SAL_OK)
        return rc;
    for (size_t i = 0; i < h->lines.n; i++)
        size += strlen(h->lines.v[i]) + 24;
    text = malloc(size);
    if (!text)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    n = snprintf(text, size, "# written by salrun%s: %s%s%s\n",
                 family == SALRUN_FAMILY_HYDRA ? " for Hydra's mpiexec -f" : "", h->source,
                 h->nexcluded > 0 ? " without the hosts that failed" : "",
                 last >= 0 ? ", the spares' slots on the last host" : "");
    used = n > 0 && (size_t)n < size ? (size_t)n : 0;
    for (size_t i = 0; i < h->lines.n; i++) {
        int k = h->line_host.v[i][0] ? salrun_hosts_index(h, h->line_host.v[i]) : -1;

        if (k < 0 || !h->v[k].why)
            hostfile_line(h, i, last, family, text, size, &used);
    }
    snprintf(dir, sizeof(dir), "%s", h->path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    /* before the first launch the log directory may not exist yet (the ranks create it) */
    rc = slash && slash != dir ? sal_mkdir_p(dir, 0700) : SAL_OK;
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(h->path, text, used, 0644);
    free(text);
    return rc == SAL_OK ? SAL_OK : salrun_fail(rc, "%s", sal_last_error());
}

int salrun_hosts_place_spares(salrun_hosts_t *h, long np, long spares, salrun_family_t family)
{
    long slots = salrun_hosts_slots_left(h), last = last_line_left(h), was = h->spare_slots;
    const char *at;
    size_t len;

    h->spare_slots = 0;
    if (spares > 0 && np > 0 && h->listed && slots >= 0 && slots < np && np - spares <= slots &&
        last >= 0 && slots_attr(h->lines.v[last], &at, &len) > 0)
        h->spare_slots = np - slots;
    /* (a hostfile written for earlier hosts may hold slots the spares no longer need) */
    return h->spare_slots > 0 || was > 0 ? salrun_hosts_write(h, family) : SAL_OK;
}

/* ---- checks before a relaunch ---- */

int salrun_hosts_args(const salrun_hosts_t *h, const salrun_opts_t *o, salrun_argv_t *args)
{
    int hydra = o->family == SALRUN_FAMILY_HYDRA;
    /* Hydra reads no hostfile of Open MPI's grammar: salrun always gives it its own (-f). */
    int rc = SAL_OK, rewritten = h->nexcluded > 0 || h->spare_slots > 0 || (hydra && h->listed);

    for (size_t i = 0; rc == SAL_OK && i < o->mpi_args.n; i++) {
        if (rewritten && is_host_option(o->mpi_args.v[i])) {
            i += i + 1 < o->mpi_args.n; /* its value is in the hostfile */
            continue;
        }
        rc = salrun_argv_push(args, o->mpi_args.v[i]);
    }
    if (rc == SAL_OK && (rewritten || o->hostfile)) {
        rc = salrun_argv_push(args, hydra ? "-f" : "--hostfile");
        if (rc == SAL_OK)
            rc = salrun_argv_push(args, rewritten ? h->path : o->hostfile);
    }
    return rc;
}
