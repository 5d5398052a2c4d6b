/*
 * The relay of mpiexec's standard error: salrun reads it from a pipe, copies it to its own standard
 * error as it arrives and keeps the last bytes, so that a launch that ends before the job started
 * can be told apart by what mpiexec said (a start race of Open MPI 5's launcher against a mapping
 * error, both status 213). The launch loop pumps the relay instead of sleeping between two looks at
 * the event log, so that output is passed on at once and mpiexec never blocks on a full pipe while
 * salrun waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "salrun.h"

int salrun_relay_open(salrun_relay_t *r)
{
    int fd[2];

    memset(r, 0, sizeof(*r));
    r->fd = r->child_fd = -1;
    if (pipe(fd) != 0)
        return salrun_fail(SAL_ERR_IO, "pipe for mpiexec's standard error: %s", strerror(errno));
    /* Neither end leaks into the processes salrun starts: the child's dup2 onto its standard
     * error makes a copy without the flag. */
    (void)fcntl(fd[0], F_SETFD, FD_CLOEXEC);
    (void)fcntl(fd[1], F_SETFD, FD_CLOEXEC);
    r->fd = fd[0];
    r->child_fd = fd[1];
    return SAL_OK;
}

/* Keeps data in the tail: the last SALRUN_RELAY_TAIL - 1 bytes relayed, NUL-terminated, with any
 * NUL byte of the output made a space so that the tail stays one string. */
static void keep(salrun_relay_t *r, const char *data, size_t n)
{
    size_t cap = sizeof(r->tail) - 1;

    if (n >= cap) {
        data += n - cap;
        n = cap;
    }
    if (r->len + n > cap) {
        size_t drop = r->len + n - cap;

        memmove(r->tail, r->tail + drop, r->len - drop);
        r->len -= drop;
    }
    for (size_t i = 0; i < n; i++) {
        char c = data[i];

        if (c == '\0')
            c = ' ';
        r->tail[r->len++] = c;
    }
    r->tail[r->len] = '\0';
}

/* Copies what can be read now to standard error. 1 at end of file, 0 otherwise. */
static int drain(salrun_relay_t *r)
{
    char buf[4096];

    for (;;) {
        ssize_t n = read(r->fd, buf, sizeof(buf));

        if (n == 0)
            return 1;
        if (n < 0)
            return errno == EINTR ? 0 : errno == EAGAIN ? 0 : 1;
        keep(r, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* standard error closed: the tail is still kept */
            off += w;
        }
        if ((size_t)n < sizeof(buf))
            return 0;
    }
}

int salrun_relay_pump(salrun_relay_t *r, double seconds)
{
    struct pollfd p;
    int ms = (int)(seconds * 1000);

    if (r->fd < 0 || r->eof) {
        struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};

        nanosleep(&ts, NULL);
        return r->eof;
    }
    p.fd = r->fd;
    p.events = POLLIN;
    if (poll(&p, 1, ms) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
        r->eof = drain(r);
    return r->eof;
}

void salrun_relay_parent_started(salrun_relay_t *r)
{
    if (r->child_fd >= 0)
        close(r->child_fd);
    r->child_fd = -1;
    if (r->fd >= 0)
        (void)fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
}

void salrun_relay_close(salrun_relay_t *r, double grace)
{
    double end = salrun_now() + grace;

    /* A process mpiexec left behind may still hold the pipe: wait for the end of file at most
     * grace seconds, then stop relaying. */
    while (r->fd >= 0 && !r->eof && salrun_now() < end)
        salrun_relay_pump(r, 0.05);
    if (r->fd >= 0)
        close(r->fd);
    if (r->child_fd >= 0)
        close(r->child_fd);
    r->fd = r->child_fd = -1;
}

int salrun_relay_said(const salrun_relay_t *r, const char *text)
{
    return strstr(r->tail, text) != NULL;
}
