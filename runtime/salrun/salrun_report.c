/*
 * `salrun report EVENTLOG`: the summary of a job's event log. The log is untrusted input: a line
 * that is not a JSON object with an "event" member is an error naming the file and line, except a
 * last line cut short without its newline (a writer killed mid-line), which is skipped with a
 * warning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "salrun.h"

static const char *status_text(const salrun_stats_t *st, char *buf, size_t size)
{
    int fin = salrun_stats_attempt_finished(st);

    if (fin == 1)
        snprintf(buf, size, "finished: %lld steps on %lld ranks", st->steps, st->nranks);
    else if (st->attempt_finish_failed > 0)
        snprintf(buf, size, "failed: the last launch ended with status failed at step %lld",
                 st->steps);
    else
        snprintf(buf, size,
                 "not finished: no finish event after the last launch (the job was "
                 "killed or is still running); last step seen %lld",
                 st->steps);
    return buf;
}

static void print_ckpts(FILE *out, const salrun_stats_t *st)
{
    char total[32], mean[32], rate[32];

    if (st->ckpts == 0) {
        fprintf(out, "%-14s 0 committed, %lld aborted\n", "Checkpoints", st->ckpt_aborts);
        return;
    }
    salrun_fmt_bytes(total, sizeof(total), (double)st->ckpt_bytes);
    salrun_fmt_bytes(mean, sizeof(mean), (double)st->ckpt_bytes / (double)st->ckpts);
    salrun_fmt_bytes(rate, sizeof(rate),
                     st->ckpt_seconds > 0 ? (double)st->ckpt_bytes / st->ckpt_seconds : 0);
    fprintf(out,
            "%-14s %lld committed, %lld aborted; %s in all, %s and %.3f s each on average "
            "(%s/s)\n",
            "Checkpoints", st->ckpts, st->ckpt_aborts, total, mean,
            st->ckpt_seconds / (double)st->ckpts, rate);
}

static void print_failures(FILE *out, const salrun_stats_t *st)
{
    char outcome[96];

    fprintf(out, "%-14s %d\n", "Failures", st->nfailures);
    if (st->nfailures == 0)
        return;
    fprintf(out, "  %3s  %8s  %6s  %-12s %-16s %s\n", "#", "at (s)", "launch", "ranks", "hosts",
            "outcome");
    for (int i = 0; i < st->nfailures; i++) {
        const salrun_failure_t *f = &st->failures[i];

        if (f->recovery >= 0)
            snprintf(outcome, sizeof(outcome), "recovered in-job (recovery %d)", f->recovery + 1);
        else if (f->launch < st->launches)
            snprintf(outcome, sizeof(outcome), "not recovered in-job; relaunched");
        else
            snprintf(outcome, sizeof(outcome), "not recovered");
        fprintf(out, "  %3d  %8.3f  %6d  %-12s %-16s %s\n", i + 1, f->ts - st->t_first, f->launch,
                f->ranks, f->hosts, outcome);
    }
}

static void print_recoveries(FILE *out, const salrun_stats_t *st)
{
    fprintf(out, "%-14s %d\n", "Recoveries", st->nrecoveries);
    if (st->nrecoveries == 0)
        return;
    fprintf(out, "  %3s  %8s  %6s  %9s", "#", "at (s)", "launch", "total (s)");
    for (int p = 0; p < SALRUN_NPHASES; p++)
        fprintf(out, "  %8s", salrun_phase_names[p]);
    fprintf(out, "  %s\n", "resumed at step");
    for (int i = 0; i < st->nrecoveries; i++) {
        const salrun_recovery_t *r = &st->recoveries[i];

        fprintf(out, "  %3d  %8.3f  %6d  %9.3f", i + 1, r->ts - st->t_first, r->launch, r->total);
        for (int p = 0; p < SALRUN_NPHASES; p++) {
            if (r->phase[p] < 0)
                fprintf(out, "  %8s", "-");
            else
                fprintf(out, "  %8.3f", r->phase[p]);
        }
        fprintf(out, "  %lld\n", r->step);
    }
}

static void print_summary(FILE *out, const char *path, const salrun_stats_t *st, long nevents)
{
    char status[256];

    fprintf(out, "%-14s %s (%ld events)\n", "Event log", path, nevents);
    fprintf(out, "%-14s %s\n", "Job", st->job[0] ? st->job : "?");
    fprintf(out, "%-14s %s\n", "Status", status_text(st, status, sizeof(status)));
    fprintf(out, "%-14s %.3f s from the first event to the last\n", "Wall time",
            st->t_last - st->t_first);
    fprintf(out, "%-14s %d (%d restart%s)\n", "Launches", st->launches,
            st->launches > 0 ? st->launches - 1 : 0, st->launches == 2 ? "" : "s");
    print_ckpts(out, st);
    fprintf(out, "%-14s %d fault%s\n", "Injected", st->injects, st->injects == 1 ? "" : "s");
    print_failures(out, st);
    print_recoveries(out, st);
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* Accounts one line; returns 1 for an event, 0 for a skipped line, -1 on error (message printed).
 */
static int report_line(const char *path, long lineno, char *line, size_t n, int last,
                       salrun_stats_t *st)
{
    int terminated = n > 0 && line[n - 1] == '\n';
    size_t len = n - (size_t)terminated;
    salrun_json_t ev;
    salrun_note_t note;
    char err[128];

    if (blank(line, len))
        return 0;
    if (salrun_json_parse(line, len, &ev, err, sizeof(err)) != 0) {
        if (!terminated && last) {
            fprintf(stderr, "salrun: warning: %s:%ld: skipped the last line, cut short (%s)\n",
                    path, lineno, err);
            return 0;
        }
        fprintf(stderr,
                "salrun: error: %s:%ld: %s; expected a Salamander event log "
                "(JSON Lines, <job>.events.jsonl)\n",
                path, lineno, err);
        return -1;
    }
    if (salrun_stats_add(st, &ev, &note) != SAL_OK) {
        fprintf(stderr, "salrun: error: %s:%ld: %s\n", path, lineno, salrun_errmsg());
        return -1;
    }
    if (note.kind == SALRUN_NOTE_START)
        salrun_stats_new_attempt(st);
    return 1;
}

int salrun_report(const char *path, FILE *out)
{
    salrun_stats_t st;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, nevents = 0;
    int rc = SALRUN_EXIT_OK;
    FILE *f = fopen(path, "r");

    if (!f) {
        fprintf(stderr, "salrun: error: cannot open %s: %s\n", path, strerror(errno));
        return SALRUN_EXIT_FAILED;
    }
    salrun_stats_init(&st);
    while (rc == SALRUN_EXIT_OK && (n = getline(&line, &cap, f)) != -1) {
        int c = getc(f), got;

        if (c != EOF)
            (void)ungetc(c, f); /* one character back always fits */
        got = report_line(path, ++lineno, line, (size_t)n, c == EOF, &st);
        if (got < 0)
            rc = SALRUN_EXIT_FAILED;
        nevents += got > 0;
    }
    if (rc == SALRUN_EXIT_OK && ferror(f)) {
        fprintf(stderr, "salrun: error: reading %s: %s\n", path, strerror(errno));
        rc = SALRUN_EXIT_FAILED;
    }
    if (rc == SALRUN_EXIT_OK && nevents == 0) {
        fprintf(stderr, "salrun: error: %s: no events\n", path);
        rc = SALRUN_EXIT_FAILED;
    }
    if (rc == SALRUN_EXIT_OK)
        print_summary(out, path, &st, nevents);
    free(line);
    (void)fclose(f); /* read only */
    salrun_stats_free(&st);
    return rc;
}
