/*
 * The shared-memory files of a launch's processes (docs/salrun.md, "A launch that does not end").
 * Open MPI's shared-memory transport keeps a file per process in /dev/shm (sm_segment.<host>.<uid>.
 * <job>.<local rank>; vader_segment.* before Open MPI 5) and has the launcher remove it when the
 * job ends; MPICH keeps mpich_shm_* files. A launch whose mpiexec was killed leaves them behind
 * (16 MiB each for Open MPI 5): salrun, which ends the orphaned processes, notes the files they map
 * first and removes them once the processes are gone, each only if the path still names the very
 * file a process mapped (same device and inode) and it belongs to this user.
 */
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
