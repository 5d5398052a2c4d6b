/*
 * Follows <log_dir>/<job>.events.jsonl while the job runs and prints a progress line per notable
 * event on stderr. The ranks append whole lines with one write(2) each; salrun reads from the
 * offset the file had when it started, consumes complete lines only and keeps the offset across
 * relaunches (a file that shrinks or is replaced is read again from its start).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "salrun.h"

#define CHUNK        65536 /* longest line accepted; longer ones are skipped with a warning */
#define MAX_WARNINGS 5

struct salrun_watch {
    char *path;
    off_t off;
    dev_t dev;
    ino_t ino;
    int known;    /* dev/ino describe the file being followed */
    int skipping; /* inside an over-long line: drop bytes up to the next newline */
    int warnings;
    const salrun_out_t *out;
    salrun_stats_t *st;
    char buf[CHUNK];
};

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void vsay(const salrun_out_t *out, double ts, const char *kind, const char *json_fields,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

static void vsay(const salrun_out_t *out, double ts, const char *kind, const char *json_fields,
                 const char *fmt, va_list ap)
{
    char text[2048];

    /* --quiet keeps the lines that say why salrun ends without success. */
    if (out->quiet && strcmp(kind, "failed") != 0 && strcmp(kind, "stopped") != 0)
        return;
    if (out->json) {
        fprintf(out->fp, "{\"salrun\":\"%s\",\"ts\":%.6f%s%s}\n", kind, ts,
                json_fields && *json_fields ? "," : "", json_fields ? json_fields : "");
        return;
    }
    vsnprintf(text, sizeof(text), fmt, ap);
    fprintf(out->fp, "salrun: %s\n", text);
}

void salrun_say(const salrun_out_t *out, const char *kind, const char *json_fields, const char *fmt,
                ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(out, now(), kind, json_fields, fmt, ap);
    va_end(ap);
}

/* A progress line for an event of the log, stamped with the event's time. */
static void say_note(const salrun_out_t *out, const salrun_note_t *n, const char *kind,
                     const char *json_fields, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void say_note(const salrun_out_t *out, const salrun_note_t *n, const char *kind,
                     const char *json_fields, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(out, n->ts > 0 ? n->ts : now(), kind, json_fields, fmt, ap);
    va_end(ap);
}

static void say_ckpt(const salrun_out_t *out, const salrun_note_t *n)
{
    char json[512], size[32], bps[44], rate[48] = "";

    snprintf(json, sizeof(json), "\"id\":%lld,\"step\":%lld,\"bytes\":%lld,\"seconds\":%.6f", n->id,
             n->step, n->bytes, n->seconds);
    salrun_fmt_bytes(size, sizeof(size), (double)n->bytes);
    if (n->seconds > 0) {
        salrun_fmt_bytes(bps, sizeof(bps), (double)n->bytes / n->seconds);
        snprintf(rate, sizeof(rate), ", %s/s", bps);
    }
    say_note(out, n, "checkpoint", json, "checkpoint %lld committed at step %lld (%s, %.3f s%s)",
             n->id, n->step, size, n->seconds, rate);
}

static void say_recovered(const salrun_out_t *out, const salrun_note_t *n)
{
    char json[512], phases[256] = "";
    size_t lj, lp = 0;

    lj =
        (size_t)snprintf(json, sizeof(json), "\"seconds\":%.6f,\"step\":%lld", n->seconds, n->step);
    for (int i = 0; i < SALRUN_NPHASES; i++) {
        if (n->phase[i] < 0)
            continue;
        lj += (size_t)snprintf(json + lj, sizeof(json) - lj, ",\"%s\":%.6f", salrun_phase_names[i],
                               n->phase[i]);
        lp += (size_t)snprintf(phases + lp, sizeof(phases) - lp, "%s%s %.3f", lp ? ", " : " (",
                               salrun_phase_names[i], n->phase[i]);
    }
    if (lp)
        snprintf(phases + lp, sizeof(phases) - lp, ")");
    say_note(out, n, "recovered", json, "recovered in %.3f s%s; resuming at step %lld", n->seconds,
             phases, n->step);
}

static void say_failure(const salrun_out_t *out, const salrun_note_t *n)
{
    char json[1024], r[300], h[600];
    int many = strchr(n->ranks, ',') != NULL;

    snprintf(json, sizeof(json), "\"ranks\":\"%s\",\"hosts\":\"%s\"",
             sal_json_escape(r, sizeof(r), n->ranks), sal_json_escape(h, sizeof(h), n->hosts));
    say_note(out, n, "failure", json, "rank%s %s (host%s %s) failed", many ? "s" : "", n->ranks,
             strchr(n->hosts, ',') ? "s" : "", n->hosts);
}

void salrun_note_print(const salrun_out_t *out, const salrun_note_t *n)
{
    char json[1024], esc[600];

    switch (n->kind) {
    case SALRUN_NOTE_START:
        snprintf(json, sizeof(json), "\"nranks\":%lld,\"restart\":%s", n->nranks,
                 n->flag ? "true" : "false");
        say_note(out, n, "start", json, "job %s on %lld rank%s", n->flag ? "restarted" : "started",
                 n->nranks, n->nranks == 1 ? "" : "s");
        break;
    case SALRUN_NOTE_CKPT:
        say_ckpt(out, n);
        break;
    case SALRUN_NOTE_CKPT_ABORT:
        snprintf(json, sizeof(json), "\"id\":%lld,\"step\":%lld,\"reason\":\"%s\"", n->id, n->step,
                 sal_json_escape(esc, sizeof(esc), n->text));
        say_note(out, n, "checkpoint_aborted", json,
                 "checkpoint %lld at step %lld aborted (%s); the previous one stays valid", n->id,
                 n->step, n->text);
        break;
    case SALRUN_NOTE_BOUND:
        snprintf(json, sizeof(json), "\"rank\":%lld,\"step\":\"%s\",\"bound_seconds\":%.3f",
                 n->rank, sal_json_escape(esc, sizeof(esc), n->text), n->seconds);
        say_note(out, n, "bound", json,
                 "rank %lld: %s overran its bound of %.3g s; the rank ended itself so that the "
                 "job recovers or is relaunched",
                 n->rank, n->text, n->seconds);
        break;
    case SALRUN_NOTE_INJECT:
        snprintf(json, sizeof(json), "\"rank\":%lld,\"step\":%lld,\"what\":\"%s\"", n->rank,
                 n->step, sal_json_escape(esc, sizeof(esc), n->text));
        say_note(out, n, "inject", json, "fault injected on rank %lld at step %lld (%s)", n->rank,
                 n->step, n->text);
        break;
    case SALRUN_NOTE_FAILURE:
        say_failure(out, n);
        break;
    case SALRUN_NOTE_RECOVERED:
        say_recovered(out, n);
        break;
    case SALRUN_NOTE_RESTORED:
        snprintf(json, sizeof(json), "\"id\":%lld,\"step\":%lld,\"seconds\":%.6f", n->id, n->step,
                 n->seconds);
        say_note(out, n, "restored", json, "restored checkpoint %lld (step %lld) in %.3f s", n->id,
                 n->step, n->seconds);
        break;
    case SALRUN_NOTE_FINISH:
        snprintf(json, sizeof(json), "\"steps\":%lld,\"status\":\"%s\"", n->step,
                 n->flag ? "ok" : "failed");
        say_note(out, n, "finish", json, "job %s after %lld steps",
                 n->flag ? "finished" : "ended with status failed", n->step);
        break;
    case SALRUN_NOTE_NONE:
        break;
    }
}

int salrun_watch_open(const char *path, const salrun_out_t *out, salrun_stats_t *st,
                      salrun_watch_t **w)
{
    struct stat sb;
    salrun_watch_t *x = calloc(1, sizeof(*x));

    if (!x || !(x->path = strdup(path))) {
        free(x);
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    }
    x->out = out;
    x->st = st;
    if (stat(path, &sb) == 0) {
        x->off = sb.st_size;
        x->dev = sb.st_dev;
        x->ino = sb.st_ino;
        x->known = 1;
    }
    *w = x;
    return SAL_OK;
}

static void warn(salrun_watch_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(salrun_watch_t *w, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (w->warnings++ >= MAX_WARNINGS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(w->out->fp, "salrun: warning: %s: %s%s\n", w->path, msg,
            w->warnings == MAX_WARNINGS ? " (further warnings suppressed)" : "");
}

static void handle_line(salrun_watch_t *w, const char *line, size_t len)
{
    salrun_json_t ev;
    salrun_note_t note;
    char err[128];

    if (len == 0)
        return;
    if (salrun_json_parse(line, len, &ev, err, sizeof(err)) != 0) {
        warn(w, "skipped a line that is not a JSON object (%s)", err);
        return;
    }
    if (salrun_stats_add(w->st, &ev, &note) != SAL_OK) {
        warn(w, "skipped an event: %s", salrun_errmsg());
        return;
    }
    salrun_note_print(w->out, &note);
}

/* Consumes the complete lines of buf[0..n); returns the bytes consumed. */
static size_t handle_chunk(salrun_watch_t *w, size_t n)
{
    size_t done = 0;
    char *nl;

    while (done < n && (nl = memchr(w->buf + done, '\n', n - done))) {
        size_t len = (size_t)(nl - (w->buf + done));

        if (!w->skipping)
            handle_line(w, w->buf + done, len);
        w->skipping = 0;
        done += len + 1;
    }
    if (done == 0 && n == CHUNK) {
        if (!w->skipping)
            warn(w, "skipped a line longer than %d bytes", CHUNK);
        w->skipping = 1;
        return n;
    }
    return done;
}

void salrun_watch_poll(salrun_watch_t *w)
{
    struct stat sb;
    ssize_t n;
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &sb) == 0) {
        if ((w->known && (sb.st_dev != w->dev || sb.st_ino != w->ino)) || sb.st_size < w->off)
            w->off = 0;
        w->dev = sb.st_dev;
        w->ino = sb.st_ino;
        w->known = 1;
    }
    while ((n = pread(fd, w->buf, CHUNK, w->off)) > 0) {
        size_t used = handle_chunk(w, (size_t)n);

        if (used == 0)
            break;
        w->off += (off_t)used;
    }
    close(fd);
}

void salrun_watch_close(salrun_watch_t **w)
{
    if (!w || !*w)
        return;
    free((*w)->path);
    free(*w);
    *w = NULL;
}
