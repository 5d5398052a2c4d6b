/*
 * The shared-memory files of a launch's processes (docs/salrun.md, "A launch that does not end").
 * Open MPI's shared-memory transport keeps a file per process in /dev/shm (sm_segment.<host>.<uid>.
 * <job>.<local rank>; vader_segment.* before Open MPI 5) and has the launcher remove it when the
 * job ends; MPICH keeps mpich_shm_* files. A launch whose mpiexec was killed leaves them behind
 * (16 MiB each for Open MPI 5), and so does a job whose launcher ended its ranks itself (Hydra,
 * after a rank died). salrun notes the files the launch's processes on this host map while the job
 * runs, and those of orphans it ends, and removes them once every process it started is gone, each
 * only if the path still names the very file a process mapped (same device and inode) and it
 * belongs to this user. A rank that ended before any note (killed with its launcher, or exiting
 * as salrun looked: an exiting process maps nothing) leaves a file no note names; Open MPI's
 * files carry the job's id, whose upper half names the launcher's jobs, so the other files of
 * the same host, user and launcher (siblings) are removed with the noted ones.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "salrun.h"

static const char *const SHM_DIR = "/dev/shm/";
static const char *const MPI_SHM_PREFIXES[] = {"sm_segment.", "vader_segment.", "mpich_shm_"};

/* Whether path names a file of an MPI library's shared-memory transport in /dev/shm. */
static int mpi_shm_file(const char *path)
{
    size_t dir = strlen(SHM_DIR);

    if (strncmp(path, SHM_DIR, dir) != 0 || strchr(path + dir, '/'))
        return 0;
    for (size_t i = 0; i < sizeof(MPI_SHM_PREFIXES) / sizeof(MPI_SHM_PREFIXES[0]); i++)
        if (strncmp(path + dir, MPI_SHM_PREFIXES[i], strlen(MPI_SHM_PREFIXES[i])) == 0)
            return 1;
    return 0;
}

/* Whether s holds the file path with inode ino. */
static int noted(const salrun_shm_t *s, const char *path, ino_t ino)
{
    for (int i = 0; i < s->n; i++)
        if (s->f[i].ino == ino && strcmp(s->f[i].path, path) == 0)
            return 1;
    return 0;
}

/* Adds the file of one line of /proc/<pid>/maps ("addr perms offset MAJ:MIN inode path") to s
 * when it is an MPI shared-memory file not yet noted. */
static void note_line(salrun_shm_t *s, char *line)
{
    char *p = line;
    char *end, *path;
    unsigned long maj, min;
    unsigned long long ino;

    for (int field = 0; field < 3 && p; field++) {
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    if (!p)
        return;
    maj = strtoul(p, &end, 16);
    if (*end != ':')
        return;
    min = strtoul(end + 1, &end, 16);
    ino = strtoull(end, &end, 10);
    path = strchr(end, '/');
    if (!path || ino == 0)
        return;
    path[strcspn(path, "\n")] = '\0';
    if (!mpi_shm_file(path) || strlen(path) >= sizeof(s->f[0].path))
        return;
    if (noted(s, path, (ino_t)ino) || s->n >= SALRUN_SHM_MAX)
        return;
    snprintf(s->f[s->n].path, sizeof(s->f[s->n].path), "%s", path);
    s->f[s->n].dev = makedev(maj, min);
    s->f[s->n].ino = (ino_t)ino;
    s->n++;
}

void salrun_shm_note(salrun_shm_t *s, pid_t pid)
{
    char maps[64], line[PATH_MAX + 128];
    FILE *f;

    snprintf(maps, sizeof(maps), "/proc/%ld/maps", (long)pid);
    if (!(f = fopen(maps, "r")))
        return;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, SHM_DIR) && !strstr(line, " (deleted)"))
            note_line(s, line);
    (void)fclose(f);
}

void salrun_children_of(pid_t pid, pid_t *pids, int *n, int max)
{
    char path[96], buf[32];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    if (!(d = opendir(path)))
        return;
    while (*n < max && (de = readdir(d))) {
        FILE *f;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/children", (long)pid, de->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        while (*n < max && fscanf(f, "%31s", buf) == 1)
            pids[(*n)++] = (pid_t)strtol(buf, NULL, 10);
        (void)fclose(f);
    }
    (void)closedir(d);
}

void salrun_shm_note_tree(salrun_shm_t *s, pid_t root)
{
    enum { MAX_PROCS = 1024 };
    static pid_t pids[MAX_PROCS]; /* breadth first: mpiexec, its daemons or proxies, the ranks */
    int n = 1;

    pids[0] = root;
    for (int i = 0; i < n; i++) {
        salrun_shm_note(s, pids[i]);
        salrun_children_of(pids[i], pids, &n, MAX_PROCS);
    }
}

/* Open MPI's file name <prefix>.<host>.<uid>.<job>.<local rank>, job in hex, its last 4 digits the
 * job's number under its launcher and the others the launcher's: the length of the name up to and
 * including the launcher's digits, or 0 for another name (MPICH's files carry no job). */
static size_t launcher_part(const char *name)
{
    const char *dot = strrchr(name, '.'), *job;
    size_t digits;

    if (strncmp(name, "mpich_shm_", 10) == 0 || !dot || dot == name || !dot[1] ||
        strspn(dot + 1, "0123456789") != strlen(dot + 1))
        return 0;
    for (job = dot - 1; job > name && job[-1] != '.'; job--)
        ;
    digits = (size_t)(dot - job);
    if (job == name || digits < 5 || digits > 8 || strspn(job, "0123456789abcdef") < digits)
        return 0;
    return (size_t)(job - name) + digits - 4;
}

/* Whether name is a sibling of a noted file: an Open MPI file of the same launcher. */
static int sibling(const salrun_shm_t *s, const char *name)
{
    size_t dir = strlen(SHM_DIR), n = launcher_part(name);

    for (int i = 0; n && i < s->n; i++)
        if (launcher_part(s->f[i].path + dir) == n && strncmp(s->f[i].path + dir, name, n) == 0)
            return 1;
    return 0;
}

/* Notes in inuse the MPI shared-memory files every process on this host maps (the launcher's half
 * of a job id has 16 bits: another launch of this user may share it while it runs, and its ranks
 * map their files). 0 when that cannot be told: /proc unreadable, or more files than inuse holds.
 */
static int note_all(salrun_shm_t *inuse)
{
    struct dirent *de;
    DIR *d = opendir("/proc");

    inuse->n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (strspn(de->d_name, "0123456789") == strlen(de->d_name))
            salrun_shm_note(inuse, (pid_t)strtol(de->d_name, NULL, 10));
    (void)closedir(d);
    return inuse->n < SALRUN_SHM_MAX;
}

int salrun_shm_remove(const salrun_shm_t *s)
{
    static salrun_shm_t inuse; /* 140 KiB: not on the stack */
    int removed = 0, known = -1;
    struct stat st;
    struct dirent *de;
    DIR *d;

    for (int i = 0; i < s->n; i++)
        if (lstat(s->f[i].path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            st.st_dev == s->f[i].dev && st.st_ino == s->f[i].ino && unlink(s->f[i].path) == 0)
            removed++;
    if (s->n == 0 || !(d = opendir(SHM_DIR)))
        return removed;
    while ((de = readdir(d))) {
        char path[PATH_MAX];

        if (strlen(SHM_DIR) + strlen(de->d_name) >= sizeof(path))
            continue;
        snprintf(path, sizeof(path), "%s%s", SHM_DIR, de->d_name);
        if (!mpi_shm_file(path) || !sibling(s, de->d_name) || lstat(path, &st) != 0 ||
            !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (known < 0) /* one look at every process, for the first sibling only */
            known = note_all(&inuse);
        if (known && !noted(&inuse, path, st.st_ino) && unlink(path) == 0)
            removed++;
    }
    (void)closedir(d);
    return removed;
}
