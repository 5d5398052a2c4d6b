/*
 * Which mpiexec salrun runs (docs/salrun.md, "Launcher families"). Open MPI's (PRRTE's) and
 * MPICH's Hydra (also under Intel MPI and MVAPICH) share the name and little else:
 *
 *   what                      Open MPI 5                     Hydra
 *   pass SAL_* to every rank  -x NAME                        -genv NAME VALUE
 *   hosts                     --hostfile F (host slots=N)    -f F (host:N), -hosts a:2,b
 *   fault tolerance           --with-ft ulfm                 none: a dead rank ends the job
 *   its own settings          OMPI_MCA_*, PRTE_MCA_*         HYDRA_* (none needed)
 *
 * salrun asks `mpiexec --version` once per run, before the first launch, and builds every launch
 * and probe in that dialect (salrun_launch.c, salrun_hosts.c, salrun_probe.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "salrun.h"

#define VERSION_TIMEOUT 10.0 /* seconds `mpiexec --version` may take */

const char *salrun_family_name(salrun_family_t family)
{
    return family == SALRUN_FAMILY_HYDRA ? "Hydra" : "Open MPI";
}

/* Reads the standard output of pid from fd into buf (at most size - 1 bytes) until the end of
 * file or VERSION_TIMEOUT; returns 1 when it timed out. */
static int read_version(int fd, char *buf, size_t size)
{
    double t0 = salrun_now();
    size_t used = 0;
    char sink[512];

    buf[0] = '\0';
    for (;;) {
        double left = VERSION_TIMEOUT - (salrun_now() - t0);
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t n;

        if (left <= 0)
            return 1;
        if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
            return 0;
        if (!(pfd.revents & (POLLIN | POLLHUP)))
            continue;
        /* Past size - 1 bytes the rest is read and dropped, so that mpiexec is never blocked. */
        n = used + 1 < size ? read(fd, buf + used, size - 1 - used) : read(fd, sink, sizeof(sink));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (used + 1 < size) {
            used += (size_t)n;
            buf[used] = '\0';
        }
    }
}

int salrun_family_detect(const char *mpiexec, salrun_family_t *family)
{
    salrun_argv_t cmd = {0};
    char said[2048], first[200];
    int fd[2], rc, timed_out;
    pid_t pid;

    *family = SALRUN_FAMILY_OMPI;
    rc = salrun_argv_push(&cmd, mpiexec);
    if (rc == SAL_OK)
        rc = salrun_argv_push(&cmd, "--version");
    if (rc != SAL_OK)
        goto out_free_cmd;
    if (pipe(fd) != 0) {
        rc = salrun_fail(SAL_ERR_IO, "pipe for %s --version: %s", mpiexec, strerror(errno));
        goto out_free_cmd;
    }
    (void)fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    /* A process group of its own and no input: whatever it starts ends with it. */
    rc = salrun_spawn_io(&cmd, SALRUN_SPAWN_PROBE, fd[1], -1, &pid);
    close(fd[1]);
    if (rc != SAL_OK)
        goto out_close_pipe;
    timed_out = read_version(fd[0], said, sizeof(said));
    kill(-pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (strstr(said, "HYDRA")) {
        *family = SALRUN_FAMILY_HYDRA;
    } else if (!strstr(said, "Open MPI") && !strstr(said, "OpenRTE") && !strstr(said, "PRRTE") &&
               !strstr(said, "prterun") && !strstr(said, "open-mpi.org")) {
        snprintf(first, sizeof(first), "%.*s", (int)strcspn(said, "\n"), said);
        rc = salrun_fail(SAL_ERR_NOT_FOUND,
                         "`%s --version` %s (\"%s\"): neither Open MPI's nor MPICH's Hydra",
                         mpiexec, timed_out ? "did not end within 10 s" : "printed", first);
    }
out_close_pipe:
    close(fd[0]);
out_free_cmd:
    salrun_argv_free(&cmd);
    return rc;
}
