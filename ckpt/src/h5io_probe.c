/*
 * The child-process probe of untrusted files (sal_h5_probe): HDF5 1.10 overruns buffers or loops
 * on some damaged files, so the readers of rank files and manifests first read the file in a forked
 * child and only then in this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "h5io.h"
#include "log.h"

/* Exit statuses of a probe that returned (a sanitizer or the C library ends a crashing one with
 * a signal, or with another status such as AddressSanitizer's 1). */
enum { PROBE_VALID = 90, PROBE_INVALID = 91 };
/* A probe that has not finished after probe_timeout seconds is taken for HDF5 looping on the file
 * (reading the metadata of a valid file takes milliseconds). */
#define PROBE_POLL_S 0.001
static double probe_timeout = 60.0;

static int probing = 1; /* sal_h5_set_probing */

void sal_h5_set_probing(int on)
{
    probing = on != 0;
}

int sal_h5_probing(void)
{
    return probing;
}

void sal_h5_probe_set_timeout(double seconds)
{
    probe_timeout = seconds > 0 ? seconds : 60.0;
}

/* Blocks until the child pid has ended or probe_timeout has passed, without polling where Linux
 * has pidfd_open (5.3+). Returns 1 when it ended, 0 after the timeout, -1 when it cannot tell (the
 * caller then polls). */
static int wait_child(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0U), n;
    struct pollfd pfd;

    if (fd < 0)
        return -1;
    pfd.fd = fd;
    pfd.events = POLLIN;
    while ((n = poll(&pfd, 1, (int)(probe_timeout * 1000))) < 0 && errno == EINTR)
        ;
    close(fd);
    return n > 0 ? 1 : n == 0 ? 0 : -1;
#else
    (void)pid;
    return -1;
#endif
}

int sal_h5_probe(const char *path, int (*probe)(const void *arg), const void *arg)
{
    int status = 0;
    pid_t pid;

    (void)fflush(NULL);
    pid = fork();
    if (pid < 0) {
        SAL_LOG_D("cannot fork to probe %s (%s): reading it in this process", path,
                  strerror(errno));
        return SAL_OK;
    }
    if (pid == 0) {
        /* No atexit handlers, no MPI, no messages (the parent reports): only the verdict leaves
         * the child. */
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0)
            (void)dup2(devnull, STDERR_FILENO);
        _exit(probe(arg) == SAL_OK ? PROBE_VALID : PROBE_INVALID);
    }
    int ended = wait_child(pid);
    for (long polls = 0;; polls++) {
        struct timespec nap = {0, (long)(PROBE_POLL_S * 1e9)};
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return SAL_OK;
        if (ended == 0 || (double)polls * PROBE_POLL_S >= probe_timeout) { /* HDF5 looping */
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return sal_error(SAL_ERR_CORRUPT,
                             "%s is damaged: the HDF5 library did not finish reading it in %g s",
                             path, probe_timeout);
        }
        nanosleep(&nap, NULL);
    }
    if (WIFSIGNALED(status))
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is damaged: the HDF5 library crashed (signal %d, %s) while reading it",
                         path, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) ||
        (WEXITSTATUS(status) != PROBE_VALID && WEXITSTATUS(status) != PROBE_INVALID))
        return sal_error(SAL_ERR_CORRUPT,
                         "%s is damaged: the HDF5 library crashed while reading it (the reading "
                         "process exited with status %d)",
                         path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return SAL_OK;
}
