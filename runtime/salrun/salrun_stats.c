/*
 * The meaning of the job's events (the format of ckpt/src/events.h, the types in docs/events.md):
 * counts for the summary and `salrun report`, and the notable moments that deserve a progress line.
 * Checkpoint, recovery-phase and restore events come from rank 0 (the repair leader); start, finish
 * and inject from every rank concerned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "salrun.h"

const char *const salrun_phase_names[SALRUN_NPHASES] = {"revoke", "shrink", "spawn", "restore"};

char *salrun_fmt_bytes(char *buf, size_t size, double bytes)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    size_t u = 0;

    while (bytes >= 1000.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        bytes /= 1000.0;
        u++;
    }
    snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

static void reset_phases(salrun_stats_t *st)
{
    for (int i = 0; i < SALRUN_NPHASES; i++)
        st->cur_phase[i] = -1.0;
    st->in_recovery = 0;
}

void salrun_stats_init(salrun_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    reset_phases(st);
}

void salrun_stats_new_attempt(salrun_stats_t *st)
{
    st->attempt_events = 0;
    st->attempt_finish_ok = 0;
    st->attempt_finish_failed = 0;
    st->attempt_unrestorable = 0;
    st->attempt_bound = 0;
    reset_phases(st);
}

void salrun_stats_launch_failed(salrun_stats_t *st)
{
    if (st->attempt_events > 0 && st->nfailures > 0 &&
        st->failures[st->nfailures - 1].launch == st->launches)
        return; /* a rank of this launch reported the failure */
    st->launch_failures++;
}

int salrun_stats_attempt_finished(const salrun_stats_t *st)
{
    if (st->attempt_events == 0)
        return -1;
    return st->attempt_finish_ok > 0 && st->attempt_finish_ok >= st->nranks &&
           st->attempt_finish_failed == 0;
}

void salrun_stats_free(salrun_stats_t *st)
{
    free(st->failures);
    free(st->recoveries);
    st->failures = NULL;
    st->recoveries = NULL;
    st->nfailures = st->nrecoveries = 0;
}

static void see_step(salrun_stats_t *st, long long step)
{
    if (step > st->steps)
        st->steps = step;
}

static void on_start(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    int replacement = 0, restart = 0;

    salrun_json_bool(ev, "replacement", &replacement);
    salrun_json_bool(ev, "restart", &restart);
    if (note->rank != 0 || replacement)
        return;
    salrun_json_int(ev, "nranks", &st->nranks);
    st->launches++;
    reset_phases(st); /* a recovery the previous launch left unfinished never completes */
    note->kind = SALRUN_NOTE_START;
    note->nranks = st->nranks;
    note->flag = restart;
}

static void on_ckpt(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note, int commit)
{
    salrun_json_int(ev, "id", &note->id);
    salrun_json_int(ev, "step", &note->step);
    see_step(st, note->step);
    if (!commit) {
        st->ckpt_aborts++;
        salrun_json_str(ev, "reason", note->text, sizeof(note->text));
        note->kind = SALRUN_NOTE_CKPT_ABORT;
        return;
    }
    salrun_json_int(ev, "bytes", &note->bytes);
    salrun_json_num(ev, "seconds", &note->seconds);
    st->ckpts++;
    st->ckpt_bytes += note->bytes;
    st->ckpt_seconds += note->seconds;
    note->kind = SALRUN_NOTE_CKPT;
}

static void on_bound(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    st->attempt_bound++;
    if (!salrun_json_str(ev, "step", note->text, sizeof(note->text)))
        snprintf(note->text, sizeof(note->text), "a protocol step");
    salrun_json_num(ev, "bound_seconds", &note->seconds);
    note->kind = SALRUN_NOTE_BOUND;
}

static void on_inject(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    char point[64] = "?", action[64] = "signal";
    long long sig = 0, secs = 0;

    salrun_json_int(ev, "step", &note->step);
    salrun_json_str(ev, "point", point, sizeof(point));
    salrun_json_str(ev, "action", action, sizeof(action));
    salrun_json_int(ev, "signal", &sig);
    if (strcmp(action, "signal") == 0)
        snprintf(note->text, sizeof(note->text), "signal %lld at point %s", sig, point);
    else if (strcmp(action, "sleep") == 0 && salrun_json_int(ev, "seconds", &secs))
        snprintf(note->text, sizeof(note->text), "a pause of %lld s at point %s", secs, point);
    else
        snprintf(note->text, sizeof(note->text), "%s at point %s", action, point);
    st->injects++;
    note->kind = SALRUN_NOTE_INJECT;
}

static int on_failure(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    salrun_failure_t *f = realloc(st->failures, (size_t)(st->nfailures + 1) * sizeof(*f));

    if (!f)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    st->failures = f;
    f = &st->failures[st->nfailures++];
    if (!salrun_json_list(ev, "ranks", note->ranks, sizeof(note->ranks)))
        snprintf(note->ranks, sizeof(note->ranks), "?");
    if (!salrun_json_list(ev, "hosts", note->hosts, sizeof(note->hosts)))
        snprintf(note->hosts, sizeof(note->hosts), "?");
    f->ts = note->ts;
    f->launch = st->launches;
    f->recovery = -1;
    snprintf(f->ranks, sizeof(f->ranks), "%s", note->ranks);
    snprintf(f->hosts, sizeof(f->hosts), "%s", note->hosts);
    st->in_recovery = 1;
    note->kind = SALRUN_NOTE_FAILURE;
    return SAL_OK;
}

/* A recovery phase (possibly repeated when a repair is retried: the times add up). */
static void on_phase(salrun_stats_t *st, const salrun_json_t *ev, int phase)
{
    double s = 0;

    salrun_json_num(ev, "seconds", &s);
    st->cur_phase[phase] = (st->cur_phase[phase] < 0 ? 0 : st->cur_phase[phase]) + s;
    st->in_recovery = 1;
}

static void on_restore(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    salrun_json_int(ev, "id", &note->id);
    salrun_json_int(ev, "step", &note->step);
    salrun_json_num(ev, "seconds", &note->seconds);
    see_step(st, note->step);
    if (st->in_recovery) {
        on_phase(st, ev, SALRUN_PHASE_RESTORE);
        return;
    }
    note->kind = SALRUN_NOTE_RESTORED;
}

static int on_resume(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    salrun_recovery_t *r = realloc(st->recoveries, (size_t)(st->nrecoveries + 1) * sizeof(*r));

    if (!r)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    st->recoveries = r;
    r = &st->recoveries[st->nrecoveries++];
    salrun_json_int(ev, "step", &note->step);
    salrun_json_num(ev, "total_seconds", &note->seconds);
    see_step(st, note->step);
    memcpy(note->phase, st->cur_phase, sizeof(note->phase));
    r->ts = note->ts;
    r->total = note->seconds;
    r->step = note->step;
    r->launch = st->launches;
    for (int i = st->nfailures - 1; i >= 0 && st->failures[i].launch == st->launches; i--)
        if (st->failures[i].recovery < 0)
            st->failures[i].recovery = st->nrecoveries - 1;
    memcpy(r->phase, st->cur_phase, sizeof(r->phase));
    reset_phases(st);
    note->kind = SALRUN_NOTE_RECOVERED;
    return SAL_OK;
}

static void on_finish(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    char status[32] = "";
    int ok;

    salrun_json_str(ev, "status", status, sizeof(status));
    ok = strcmp(status, "ok") == 0;
    st->finish_ok += ok;
    st->finish_failed += !ok;
    st->attempt_finish_ok += ok;
    st->attempt_finish_failed += !ok;
    salrun_json_int(ev, "steps", &note->step);
    /* The job may end on fewer ranks than it started with (policy shrink). */
    salrun_json_int(ev, "nranks", &st->nranks);
    see_step(st, note->step);
    if (note->rank == 0) {
        note->kind = SALRUN_NOTE_FINISH;
        note->flag = ok;
    }
}

/* Printed by salrun when the launch ends (it decides that launch's outcome), not as a note. */
static void on_unrestorable(salrun_stats_t *st, const salrun_json_t *ev)
{
    st->attempt_unrestorable = 1;
    if (!salrun_json_str(ev, "reason", st->unrestorable, sizeof(st->unrestorable)))
        snprintf(st->unrestorable, sizeof(st->unrestorable), "(no reason in the event)");
}

int salrun_stats_add(salrun_stats_t *st, const salrun_json_t *ev, salrun_note_t *note)
{
    char type[64];

    memset(note, 0, sizeof(*note));
    note->rank = -1;
    if (!salrun_json_str(ev, "event", type, sizeof(type)))
        return salrun_fail(SAL_ERR_CORRUPT, "no \"event\" member");
    salrun_json_num(ev, "ts", &note->ts);
    salrun_json_int(ev, "rank", &note->rank);
    if (st->t_first == 0 || (note->ts > 0 && note->ts < st->t_first))
        st->t_first = note->ts;
    if (note->ts > st->t_last)
        st->t_last = note->ts;
    if (!st->job[0])
        salrun_json_str(ev, "job", st->job, sizeof(st->job));
    st->attempt_events++;
    if (strcmp(type, "start") == 0)
        on_start(st, ev, note);
    else if (strcmp(type, "ckpt_commit") == 0 || strcmp(type, "ckpt_abort") == 0)
        on_ckpt(st, ev, note, type[5] == 'c');
    else if (strcmp(type, "inject") == 0)
        on_inject(st, ev, note);
    else if (strcmp(type, "bound") == 0)
        on_bound(st, ev, note);
    else if (strcmp(type, "failure") == 0)
        return on_failure(st, ev, note);
    else if (strcmp(type, "revoke") == 0)
        on_phase(st, ev, SALRUN_PHASE_REVOKE);
    else if (strcmp(type, "shrink") == 0)
        on_phase(st, ev, SALRUN_PHASE_SHRINK);
    else if (strcmp(type, "spawn") == 0)
        on_phase(st, ev, SALRUN_PHASE_SPAWN);
    else if (strcmp(type, "restore") == 0)
        on_restore(st, ev, note);
    else if (strcmp(type, "resume") == 0)
        return on_resume(st, ev, note);
    else if (strcmp(type, "finish") == 0)
        on_finish(st, ev, note);
    else if (strcmp(type, "unrestorable") == 0)
        on_unrestorable(st, ev);
    return SAL_OK;
}
