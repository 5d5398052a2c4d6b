/* The JSON Lines event log: one line per event, built in memory and appended with one write(2). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "fsutil.h"
#include "log.h"

/* Room kept at the end of a line for ,"truncated":true}\n and the NUL. */
#define EVENT_TAIL_RESERVE 32

/* Everything below is guarded by ev_lock. job and host are stored already escaped. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int ev_fd = -1;
static int ev_rank = -1;
static int ev_warned;
static char ev_job[512];
static char ev_host[512] = "?";
static int ev_host_set;

/* Length of the valid UTF-8 sequence at p (at most n bytes available), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (p[0] == 0xE0)
        lo = 0xA0; /* overlong */
    else if (p[0] == 0xED)
        hi = 0x9F; /* UTF-16 surrogates */
    else if (p[0] == 0xF0)
        lo = 0x90; /* overlong */
    else if (p[0] == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/* The two-character JSON escape of c, or NULL. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

/* Writes the escaped form of the byte sequence at p into out (at least 7 bytes); returns the number
 * of input bytes consumed (*outlen gets the output length). Invalid UTF-8 becomes U+FFFD. */
static size_t escape_one(const unsigned char *p, size_t n, char *out, size_t *outlen)
{
    static const char hex[] = "0123456789abcdef";
    const char *esc = short_escape(p[0]);
    size_t len;

    if (esc) {
        memcpy(out, esc, 2);
        *outlen = 2;
        return 1;
    }
    if (p[0] < 0x20) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): out is counted (*outlen), no NUL */
        memcpy(out, "\\u00", 4);
        out[4] = hex[p[0] >> 4];
        out[5] = hex[p[0] & 0xF];
        *outlen = 6;
        return 1;
    }
    if (p[0] < 0x80) {
        out[0] = (char)p[0];
        *outlen = 1;
        return 1;
    }
    len = utf8_len(p, n);
    if (len == 0) {
        /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): out is counted (*outlen), no NUL */
        memcpy(out, "\\ufffd", 6);
        *outlen = 6;
        return 1;
    }
    memcpy(out, p, len);
    *outlen = len;
    return len;
}

char *sal_json_escape(char *buf, unsigned long size, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p), o = 0;
    char piece[8];

    if (!buf || size == 0)
        return buf;
    /* Each piece (an escape or a whole UTF-8 sequence) is copied only if it fits entirely. */
    while (n > 0) {
        size_t plen, used = escape_one(p, n, piece, &plen);
        if (o + plen >= size)
            break;
        memcpy(buf + o, piece, plen);
        o += plen;
        p += used;
        n -= used;
    }
    buf[o] = '\0';
    return buf;
}

int sal_events_open(const char *log_dir, const char *job)
{
    char path[PATH_MAX];
    int fd, rc;

    if (!log_dir || !log_dir[0] || !job || !job[0] || strchr(job, '/'))
        return sal_error(SAL_ERR_INVALID_ARG,
                         "event log needs a directory and a job name without "
                         "'/' (got '%s', '%s')",
                         log_dir ? log_dir : "(null)", job ? job : "(null)");
    rc = sal_mkdir_p(log_dir, 0700);
    if (rc == SAL_OK)
        rc = sal_path_join(path, sizeof(path), "%s/%s.events.jsonl", log_dir, job);
    if (rc != SAL_OK)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sal_error(SAL_ERR_IO, "open event log %s: %s; set log_dir to a writable directory",
                         path, strerror(errno));
    pthread_mutex_lock(&ev_lock);
    if (ev_fd >= 0)
        close(ev_fd);
    ev_fd = fd;
    ev_warned = 0;
    sal_json_escape(ev_job, sizeof(ev_job), job);
    if (!ev_host_set) {
        char host[256];
        if (gethostname(host, sizeof(host)) == 0) {
            host[sizeof(host) - 1] = '\0';
            sal_json_escape(ev_host, sizeof(ev_host), host);
        }
    }
    pthread_mutex_unlock(&ev_lock);
    return SAL_OK;
}

void sal_events_set_identity(int rank, const char *host)
{
    pthread_mutex_lock(&ev_lock);
    ev_rank = rank;
    sal_json_escape(ev_host, sizeof(ev_host), host ? host : "?");
    ev_host_set = 1;
    pthread_mutex_unlock(&ev_lock);
}

/* Keeps the whole members of the first len bytes of fields, a sequence of "key":value members:
 * returns the offset of the last top-level ',' outside strings, or 0 when no member is whole. */
static size_t cut_fields(const char *fields, size_t len)
{
    size_t cut = 0;
    int depth = 0, in_string = 0, escaped = 0;

    for (size_t i = 0; i < len; i++) {
        char c = fields[i];
        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == ',' && depth == 0) {
            cut = i;
        }
    }
    return cut;
}

/* Writes the standard members into line; returns their length. */
static size_t format_header(char *line, size_t size, const char *type)
{
    struct timespec ts;
    char etype[128];
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(line, size,
                 "{\"ts\":%lld.%06ld,\"event\":\"%s\",\"job\":\"%s\",\"rank\":%d,"
                 "\"host\":\"%s\",\"pid\":%ld",
                 (long long)ts.tv_sec, ts.tv_nsec / 1000L,
                 sal_json_escape(etype, sizeof(etype), type ? type : "?"), ev_job, ev_rank, ev_host,
                 (long)getpid());
    return n < 0 ? 0 : (size_t)n;
}

/* Appends ",<fields>" (cut to whole members when too long) and the closing brace to line. */
__attribute__((format(printf, 3, 0))) static size_t format_fields(char *line, size_t len,
                                                                  const char *fmt, va_list ap)
{
    size_t avail = SAL_EVENT_LINE_MAX - EVENT_TAIL_RESERVE - len - 1;
    char *fields = line + len + 1;
    int n;

    if (!fmt || !fmt[0])
        return len + (size_t)snprintf(line + len, SAL_EVENT_LINE_MAX - len, "}\n");
    n = vsnprintf(fields, avail, fmt, ap);
    if (n <= 0)
        return len + (size_t)snprintf(line + len, SAL_EVENT_LINE_MAX - len, "}\n");
    if ((size_t)n < avail) {
        line[len] = ',';
        len += 1 + (size_t)n;
        return len + (size_t)snprintf(line + len, SAL_EVENT_LINE_MAX - len, "}\n");
    }
    n = (int)cut_fields(fields, avail - 1);
    if (n > 0) {
        line[len] = ',';
        len += 1 + (size_t)n;
    }
    return len + (size_t)snprintf(line + len, SAL_EVENT_LINE_MAX - len, ",\"truncated\":true}\n");
}

/* Called with ev_lock held. One write(2) per line; O_APPEND keeps lines of processes whole. */
static void write_line(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(ev_fd, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            if (!ev_warned)
                SAL_LOG_W("cannot append to the event log: %s; further events may be lost",
                          strerror(errno));
            ev_warned = 1;
            return;
        }
        line += w;
        len -= (size_t)w;
    }
}

void sal_event(const char *type, const char *fields_fmt, ...)
{
    char line[SAL_EVENT_LINE_MAX];
    size_t len;
    va_list ap;

    pthread_mutex_lock(&ev_lock);
    if (ev_fd < 0)
        goto out_unlock;
    len = format_header(line, sizeof(line), type);
    va_start(ap, fields_fmt);
    len = format_fields(line, len, fields_fmt, ap);
    va_end(ap);
    write_line(line, len);

out_unlock:
    pthread_mutex_unlock(&ev_lock);
}

void sal_events_close(void)
{
    pthread_mutex_lock(&ev_lock);
    if (ev_fd >= 0)
        close(ev_fd);
    ev_fd = -1;
    pthread_mutex_unlock(&ev_lock);
}
