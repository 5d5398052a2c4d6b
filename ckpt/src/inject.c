/* Fault injection: a strict parser of the SAL_INJECT grammar and the once-per-job firing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "fsutil.h"
#include "inject.h"
#include "log.h"

#define INJECT_TEXT_MAX 4096

struct sal_inject {
    int n;
    sal_inject_spec_t specs[SAL_INJECT_MAX_SPECS];
    int fired[SAL_INJECT_MAX_SPECS]; /* fired or skipped by this process */
    char *marker_dir;                /* NULL: fire without a marker */
};

static const char *const point_names[SAL_INJ_NPOINTS] = {
    "compute", "ckpt_write", "ckpt_agree", "ckpt_publish", "recovery",   "restore", "ckpt_copy",
    "init",    "done",       "setup",      "replay",       "ckpt_async", "repair"};
static const char *const action_names[] = {"signal", "hang", "exit", "sleep"};

static const struct {
    const char *name;
    int sig;
} signal_names[] = {{"KILL", SIGKILL}, {"TERM", SIGTERM}, {"SEGV", SIGSEGV}, {"ABRT", SIGABRT},
                    {"BUS", SIGBUS},   {"INT", SIGINT},   {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
                    {"HUP", SIGHUP},   {"STOP", SIGSTOP}};

#define N_SIGNAL_NAMES (sizeof(signal_names) / sizeof(signal_names[0]))
#define KEYS_ACCEPTED  "rank, step, point, signal, action, seconds"
#define POINTS_ACCEPTED                                                                            \
    "compute, ckpt_write, ckpt_copy, ckpt_agree, ckpt_publish, recovery, restore, init, done, "    \
    "setup, replay, ckpt_async, repair"
#define SIGNALS_ACCEPTED "KILL, TERM, SEGV, ABRT, BUS, INT, USR1, USR2, HUP or a number 1..64"
#define ACTIONS_ACCEPTED "signal, hang, exit, sleep"

enum { KEY_RANK, KEY_STEP, KEY_POINT, KEY_SIGNAL, KEY_ACTION, KEY_SECONDS, NKEYS };
static const char *const key_names[NKEYS] = {"rank",   "step",   "point",
                                             "signal", "action", "seconds"};

const char *sal_inject_point_name(sal_inject_point_t p)
{
    return p >= 0 && p < SAL_INJ_NPOINTS ? point_names[p] : "?";
}

static const char *action_name(sal_inject_action_t a)
{
    return a >= SAL_INJ_SIGNAL && a <= SAL_INJ_SLEEP ? action_names[a] : "?";
}

/* Strips leading and trailing blanks in place. */
static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Decimal integer in [0, max]: digits only, no sign, no trailing characters, no overflow. */
static int parse_count(const char *item, const char *v, long long max, long long *out)
{
    char *end;
    long long x;

    if (v[0] == '-' && v[1] >= '0' && v[1] <= '9')
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': the value must not be negative", item);
    if (v[0] < '0' || v[0] > '9')
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': expected a non-negative integer", item);
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*end != '\0')
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': expected a non-negative integer", item);
    if (errno == ERANGE || x > max)
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': the value is larger than %lld", item, max);
    *out = x;
    return SAL_OK;
}

static int parse_point(const char *item, const char *v, sal_inject_point_t *out)
{
    for (int p = 0; p < SAL_INJ_NPOINTS; p++) {
        if (strcmp(v, point_names[p]) == 0) {
            *out = (sal_inject_point_t)p;
            return SAL_OK;
        }
    }
    return sal_error(SAL_ERR_CONFIG, "inject: '%s': unknown point; accepted: " POINTS_ACCEPTED,
                     item);
}

/* A signal name (optionally prefixed with SIG) or a number 1..64. */
static int parse_signal(const char *item, const char *v, int *out)
{
    const char *name = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
    long long x;

    for (size_t i = 0; i < N_SIGNAL_NAMES; i++) {
        if (strcmp(name, signal_names[i].name) == 0) {
            *out = signal_names[i].sig;
            return SAL_OK;
        }
    }
    if (v[0] >= '0' && v[0] <= '9' && parse_count(item, v, 64, &x) == SAL_OK && x >= 1) {
        *out = (int)x;
        return SAL_OK;
    }
    return sal_error(SAL_ERR_CONFIG, "inject: '%s': unknown signal; accepted: " SIGNALS_ACCEPTED,
                     item);
}

static int parse_action(const char *item, const char *v, sal_inject_action_t *out)
{
    for (int a = SAL_INJ_SIGNAL; a <= SAL_INJ_SLEEP; a++) {
        if (strcmp(v, action_names[a]) == 0) {
            *out = (sal_inject_action_t)a;
            return SAL_OK;
        }
    }
    return sal_error(SAL_ERR_CONFIG, "inject: '%s': unknown action; accepted: " ACTIONS_ACCEPTED,
                     item);
}

/* Sets one key of spec from value; item is the whole "key=value" text for messages. */
static int parse_value(int key, const char *item, const char *v, sal_inject_spec_t *spec)
{
    long long x = 0;
    int rc;

    switch (key) {
    case KEY_RANK:
        rc = parse_count(item, v, INT_MAX, &x);
        spec->rank = (int)x;
        return rc;
    case KEY_STEP:
        rc = parse_count(item, v, INT64_MAX, &x);
        spec->step = (int64_t)x;
        return rc;
    case KEY_POINT:
        return parse_point(item, v, &spec->point);
    case KEY_SIGNAL:
        return parse_signal(item, v, &spec->signal);
    case KEY_SECONDS:
        rc = parse_count(item, v, 86400, &x);
        spec->seconds = (int)x;
        return rc;
    default:
        return parse_action(item, v, &spec->action);
    }
}

/* Parses one "key=value" item (already trimmed, non-empty); seen[] tracks duplicate keys. */
static int parse_item(char *item, int *seen, sal_inject_spec_t *spec)
{
    char shown[128], *eq = strchr(item, '='), *key, *v;
    int k;

    snprintf(shown, sizeof(shown), "%s", item);
    if (!eq)
        return sal_error(SAL_ERR_CONFIG,
                         "inject: '%s': expected key=value with a key among " KEYS_ACCEPTED, shown);
    *eq = '\0';
    key = trim(item);
    v = trim(eq + 1);
    for (k = 0; k < NKEYS && strcmp(key, key_names[k]) != 0; k++)
        ;
    if (k == NKEYS)
        return sal_error(SAL_ERR_CONFIG,
                         "inject: '%s': unknown key '%s'; accepted keys: " KEYS_ACCEPTED, shown,
                         key);
    if (seen[k])
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': key '%s' given twice in one failure spec",
                         shown, key);
    if (!v[0])
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': empty value", shown);
    seen[k] = 1;
    return parse_value(k, shown, v, spec);
}

/* Parses one spec (items separated by ','), applying the defaults. */
static int parse_spec(char *text, sal_inject_spec_t *spec)
{
    char shown[160], *item = text, *next;
    int seen[NKEYS] = {0}, rc;

    snprintf(shown, sizeof(shown), "%s", text);
    *spec = (sal_inject_spec_t){.rank = -1,
                                .step = 0,
                                .point = SAL_INJ_COMPUTE,
                                .action = SAL_INJ_SIGNAL,
                                .signal = SIGKILL,
                                .seconds = 10};
    for (; item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        item = trim(item);
        if (!item[0])
            return sal_error(SAL_ERR_CONFIG,
                             "inject: empty item in '%s'; items are separated by "
                             "one ',' (keys: " KEYS_ACCEPTED ")",
                             shown);
        rc = parse_item(item, seen, spec);
        if (rc != SAL_OK)
            return rc;
    }
    if (!seen[KEY_RANK])
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': rank=<n> is required", shown);
    if (seen[KEY_SIGNAL] && spec->action != SAL_INJ_SIGNAL)
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': signal= applies only to action=signal",
                         shown);
    if (seen[KEY_SECONDS] && spec->action != SAL_INJ_SLEEP)
        return sal_error(SAL_ERR_CONFIG, "inject: '%s': seconds= applies only to action=sleep",
                         shown);
    return SAL_OK;
}

/* Splits text on ';' into plan->specs. A trailing ';' is accepted; other empty specs are not. */
static int parse_specs(char *text, sal_inject_t *plan)
{
    char *spec = text, *next;
    int rc;

    for (; spec; spec = next) {
        next = strchr(spec, ';');
        if (next)
            *next++ = '\0';
        spec = trim(spec);
        if (!spec[0] && !next)
            break;
        if (!spec[0])
            return sal_error(SAL_ERR_CONFIG, "inject: empty failure spec; specs are separated by "
                                             "one ';', e.g. rank=1,step=10;rank=2,step=20");
        if (plan->n == SAL_INJECT_MAX_SPECS)
            return sal_error(SAL_ERR_CONFIG, "inject: more than %d failure specs",
                             SAL_INJECT_MAX_SPECS);
        rc = parse_spec(spec, &plan->specs[plan->n]);
        if (rc != SAL_OK)
            return rc;
        plan->n++;
    }
    return SAL_OK;
}

int sal_inject_parse(const char *text, sal_inject_t **plan)
{
    sal_inject_t *p;
    char *copy;
    int rc;

    if (!plan)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL plan");
    *plan = NULL;
    if (text && strlen(text) > INJECT_TEXT_MAX)
        return sal_error(SAL_ERR_CONFIG, "inject: the text is longer than %d characters",
                         INJECT_TEXT_MAX);
    p = calloc(1, sizeof(*p));
    copy = strdup(text ? text : "");
    if (!p || !copy) {
        rc = sal_error(SAL_ERR_NOMEM, "inject plan");
        goto out_free_plan;
    }
    rc = parse_specs(copy, p);
    if (rc != SAL_OK)
        goto out_free_plan;
    free(copy);
    *plan = p;
    return SAL_OK;

out_free_plan:
    free(copy);
    free(p);
    return rc;
}

int sal_inject_count(const sal_inject_t *plan)
{
    return plan ? plan->n : 0;
}

const sal_inject_spec_t *sal_inject_get(const sal_inject_t *plan, int i)
{
    return plan && i >= 0 && i < plan->n ? &plan->specs[i] : NULL;
}

int sal_inject_set_marker_dir(sal_inject_t *plan, const char *dir)
{
    char *copy = NULL;

    if (!plan)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL inject plan");
    if (dir && dir[0] && !(copy = strdup(dir)))
        return sal_error(SAL_ERR_NOMEM, "inject marker directory");
    free(plan->marker_dir);
    plan->marker_dir = copy;
    return SAL_OK;
}

/* Claims spec i for this process: 1 when it must fire, 0 when another process already fired it. */
static int claim(sal_inject_t *plan, int i, int64_t step)
{
    char path[PATH_MAX], text[64];
    int fd, n;

    if (!plan->marker_dir)
        return 1;
    if (sal_path_join(path, sizeof(path), "%s/inject.%d.fired", plan->marker_dir, i) != SAL_OK) {
        SAL_LOG_W("inject: %s; firing without a marker", sal_last_error());
        return 1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0) {
        SAL_LOG_W(
            "inject: cannot create marker %s: %s; firing anyway, so a re-run of this step may "
            "fire again",
            path, strerror(errno));
        return 1;
    }
    n = snprintf(text, sizeof(text), "pid=%ld step=%lld\n", (long)getpid(), (long long)step);
    if (write(fd, text, (size_t)n) != n)
        SAL_LOG_D("inject: short write to marker %s", path);
    close(fd);
    return 1;
}

/* Does what spec asks; returns only for a signal that is caught or ignored. */
static void fire(const sal_inject_spec_t *s, int64_t step)
{
    sal_event("inject",
              "\"point\":\"%s\",\"step\":%lld,\"signal\":%d,\"action\":\"%s\",\"seconds\":%d",
              sal_inject_point_name(s->point), (long long)step,
              s->action == SAL_INJ_SIGNAL ? s->signal : 0, action_name(s->action),
              s->action == SAL_INJ_SLEEP ? s->seconds : 0);
    if (s->action == SAL_INJ_SIGNAL)
        SAL_LOG_W("inject: rank %d raises signal %d at point %s, step %lld", s->rank, s->signal,
                  sal_inject_point_name(s->point), (long long)step);
    else
        SAL_LOG_W("inject: rank %d takes action %s at point %s, step %lld", s->rank,
                  action_name(s->action), sal_inject_point_name(s->point), (long long)step);
    (void)fflush(NULL);
    switch (s->action) {
    case SAL_INJ_EXIT:
        _exit(1);
    case SAL_INJ_HANG:
        for (;;)
            sleep(3600);
    case SAL_INJ_SLEEP: {
        struct timespec left = {s->seconds, 0};
        while (nanosleep(&left, &left) != 0 && errno == EINTR)
            ;
        return;
    }
    default:
        (void)raise(s->signal);
        return;
    }
}

static int matches(const sal_inject_t *plan, int i, int rank, int64_t step,
                   sal_inject_point_t point)
{
    const sal_inject_spec_t *s = &plan->specs[i];

    return !plan->fired[i] && s->rank == rank && s->point == point && step >= s->step;
}

int sal_inject_pending(const sal_inject_t *plan, int rank, int64_t step, sal_inject_point_t point)
{
    for (int i = 0; plan && i < plan->n; i++)
        if (matches(plan, i, rank, step, point))
            return 1;
    return 0;
}

void sal_inject_point(sal_inject_t *plan, int rank, int64_t step, sal_inject_point_t point)
{
    if (!plan)
        return;
    for (int i = 0; i < plan->n; i++) {
        const sal_inject_spec_t *s = &plan->specs[i];
        if (!matches(plan, i, rank, step, point))
            continue;
        plan->fired[i] = 1;
        if (claim(plan, i, step))
            fire(s, step);
    }
}

void sal_inject_free(sal_inject_t **plan)
{
    if (!plan || !*plan)
        return;
    free((*plan)->marker_dir);
    free(*plan);
    *plan = NULL;
}
