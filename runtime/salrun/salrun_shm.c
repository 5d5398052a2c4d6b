/*
 * The shared-memory files of a launch's processes (docs/salrun.md, "A launch that does not end").
 * Open MPI's shared-memory transport keeps a file per process in /dev/shm (sm_segment.<host>.<uid>.
 * <job>.<local rank>; vader_segment.* before Open MPI 5) and has the launcher remove it when the
 * job ends; MPICH keeps mpich_shm_* files. A launch whose mpiexec was killed leaves them behind
 * (16 MiB each for Open MPI 5), and so does a job whose launcher ended its ranks itself (Hydra,
 * after a rank died). salrun notes the files the launch's processes on this host map while the job
 * runs, and those of orphans it ends, and removes them once every process it started is gone, each
 * only if the path still names the very file a process mapped (same device and inode) and it
 * belongs to this user.
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
    for (int i = 0; i < s->n; i++)
        if (s->f[i].ino == (ino_t)ino && strcmp(s->f[i].path, path) == 0)
            return;
    if (s->n >= SALRUN_SHM_MAX)
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

int salrun_shm_remove(const salrun_shm_t *s)
{
    int removed = 0;
    struct stat st;

    for (int i = 0; i < s->n; i++)
        if (lstat(s->f[i].path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            st.st_dev == s->f[i].dev && st.st_ino == s->f[i].ino && unlink(s->f[i].path) == 0)
            removed++;
    return removed;
}
