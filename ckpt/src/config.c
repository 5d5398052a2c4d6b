/*
 * The configuration: the key registry (config_keys.def), typed validation of values, set/get and
 * the serialized form shipped to replacement processes. The INI file and SAL_* environment layers
 * are in config_load.c, the generated key reference in config_help.c, the resolved job name and
 * checkpoint directory and the cross-key checks in config_resolve.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "config_internal.h"
#include "log.h"

enum {
    VALUE_MAX = 4096, /* longest accepted value, including the terminating NUL */
    SUGGEST_MAX = 64  /* names longer than this get no "did you mean" */
};

static const char *const kind_names[] = {"string",  "directory", "choice",  "integer",
                                         "boolean", "number",    "interval"};

/* Macro parameters are suffixed so that they do not replace the designators. */
const sal_key_info_t sal_config_keys[] = {
#define SAL_KEY(kind_, name_, def_, min_, max_, choices_, help_)                                   \
    {.name = #name_,                                                                               \
     .kind = SAL_KIND_##kind_,                                                                     \
     .def = (def_),                                                                                \
     .imin = (int64_t)(min_),                                                                      \
     .imax = (int64_t)(max_),                                                                      \
     .dmin = (double)(min_),                                                                       \
     .dmax = (double)(max_),                                                                       \
     .choices = (choices_),                                                                        \
     .help = (help_),                                                                              \
     .offset = offsetof(sal_settings_t, name_)},
#include "config_keys.def"
#undef SAL_KEY
};

#define NKEYS (sizeof(sal_config_keys) / sizeof(sal_config_keys[0]))

const unsigned long sal_config_nkeys = NKEYS;

/* Keys that describe one process rather than the job: never shipped to a replacement. */
static const char *const process_local_keys[] = {"hostname"};

/* text[i] is the value of sal_config_keys[i] (never NULL); string fields of set point into text. */
struct sal_config {
    char *text[NKEYS];
    sal_settings_t set;
};

typedef union typed_value {
    const char *s;
    int64_t i;
    double d;
    sal_interval_t iv;
} typed_value_t;

/* ---- the registry ---------------------------------------------------------------------------- */

const sal_key_info_t *sal_config_find_key(const char *name)
{
    for (size_t i = 0; name && i < NKEYS; i++)
        if (strcmp(sal_config_keys[i].name, name) == 0)
            return &sal_config_keys[i];
    return NULL;
}

void sal_config_env_name(const sal_key_info_t *k, char *buf, unsigned long size)
{
    snprintf(buf, size, "SAL_%s", k->name);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static int is_process_local(const sal_key_info_t *k)
{
    for (size_t i = 0; i < sizeof(process_local_keys) / sizeof(process_local_keys[0]); i++)
        if (strcmp(k->name, process_local_keys[i]) == 0)
            return 1;
    return 0;
}

const char *sal_config_kind_name(sal_key_kind_t kind)
{
    return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

/* Case-insensitive optimal-string-alignment distance (edits and adjacent transpositions). */
static size_t edit_distance(const char *a, const char *b)
{
    unsigned char d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            unsigned v = d[i - 1][j - 1] + (ca != cb);

            if (d[i - 1][j] + 1u < v)
                v = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < v)
                v = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1u < v)
                v = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)v;
        }
    }
    return d[la][lb];
}

/* A key within max(2, len/3) edits is taken as meant. */
const sal_key_info_t *sal_config_closest_key(const char *name)
{
    const sal_key_info_t *best = NULL;
    size_t best_d = SIZE_MAX, len = name ? strlen(name) : 0;

    if (len == 0 || len > SUGGEST_MAX)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t d = edit_distance(name, sal_config_keys[i].name);

        if (d < best_d) {
            best_d = d;
            best = &sal_config_keys[i];
        }
    }
    return best_d <= (len / 3 > 2 ? len / 3 : 2) ? best : NULL;
}

const char *sal_config_shown(const char *value, char buf[SAL_SHOWN_MAX + 4])
{
    size_t n = 0;

    for (; n < SAL_SHOWN_MAX && value[n]; n++)
        buf[n] = iscntrl((unsigned char)value[n]) ? '?' : value[n];
    strcpy(buf + n, value[n] ? "..." : "");
    return buf;
}

static int unknown_key(const char *name, const char *origin, int code)
{
    char shown_name[SAL_SHOWN_MAX + 4], hint[SUGGEST_MAX + 32] = "";
    const sal_key_info_t *near = sal_config_closest_key(name);

    if (near)
        snprintf(hint, sizeof(hint), " (did you mean \"%s\"?)", near->name);
    return sal_error(code, "%s%sunknown key \"%s\"%s; salrun --help-config lists every key",
                     origin ? origin : "", origin ? ": " : "", sal_config_shown(name, shown_name),
                     hint);
}

/* ---- values ---------------------------------------------------------------------------------- */

static const char *parse_int(const sal_key_info_t *k, const char *v, int64_t *out)
{
    char *end;
    long long x;

    if (!*v || isspace((unsigned char)*v))
        return "not an integer";
    errno = 0;
    x = strtoll(v, &end, 10);
    if (*end)
        return "not an integer";
    if (errno == ERANGE || x < k->imin || x > k->imax)
        return "out of range";
    *out = x;
    return NULL;
}

static const char *parse_double(const sal_key_info_t *k, const char *v, double *out)
{
    char *end;
    double x;

    if (!*v || isspace((unsigned char)*v))
        return "not a number";
    errno = 0;
    x = strtod(v, &end);
    if (*end)
        return "not a number";
    if (!isfinite(x) || errno == ERANGE)
        return "not a finite number";
    if (x < k->dmin || x > k->dmax)
        return "out of range";
    *out = x;
    return NULL;
}

static const char *parse_bool(const char *v, int64_t *out)
{
    static const char *const words[] = {"0", "1", "false", "true", "no", "yes", "off", "on"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(v, words[i]) == 0) {
            *out = (int64_t)(i % 2);
            return NULL;
        }
    }
    return "not a boolean";
}

int sal_bool_parse(const char *text, int *out)
{
    char buf[SAL_SHOWN_MAX + 4];
    int64_t v;

    if (!text || !out)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL boolean text or output");
    if (parse_bool(text, &v))
        return sal_error(SAL_ERR_CONFIG,
                         "invalid boolean \"%s\"; expected 1/0, true/false, yes/no "
                         "or on/off",
                         sal_config_shown(text, buf));
    *out = (int)v;
    return SAL_OK;
}

/* Matches v case-insensitively against the choices "a|b|c". [OUT] *choice: the match as declared
 * (inside k->choices, as long as v). */
static const char *parse_enum(const sal_key_info_t *k, const char *v, const char **choice)
{
    const char *c = k->choices;

    while (c && *c) {
        size_t n = strcspn(c, "|");

        if (n == strlen(v) && strncasecmp(c, v, n) == 0) {
            *choice = c;
            return NULL;
        }
        c += n + (c[n] == '|');
    }
    return "not one of the choices";
}

static const char *parse_interval(const char *v, sal_interval_t *out)
{
    size_t n = strlen(v);
    long long steps;
    char *end;

    if (strcmp(v, "auto") == 0) {
        *out = (sal_interval_t){SAL_INTERVAL_AUTO, 0};
        return NULL;
    }
    if (n == 0 || isspace((unsigned char)*v) || *v == '+' || *v == '-')
        return *v == '-' ? "negative" : "not an interval";
    errno = 0;
    if (v[n - 1] == 's') {
        double s = strtod(v, &end);

        if (end != v + n - 1 || n == 1 || !isfinite(s) || errno == ERANGE)
            return "not a number of seconds";
        if (s <= 0)
            return "must be > 0; write 0 for never";
        *out = (sal_interval_t){SAL_INTERVAL_SECONDS, s};
        return NULL;
    }
    steps = strtoll(v, &end, 10);
    if (*end)
        return "not a whole number of steps";
    if (errno == ERANGE || steps > (1LL << 53))
        return "too many steps";
    *out = steps == 0 ? (sal_interval_t){SAL_INTERVAL_NEVER, 0}
                      : (sal_interval_t){SAL_INTERVAL_STEPS, (double)steps};
    return NULL;
}

static const char interval_accepted[] = "N (every N steps, N >= 1), Ns (every N seconds, N > 0, "
                                        "e.g. 30s or 0.5s), 0 (never) or auto";

int sal_interval_parse(const char *text, sal_interval_t *out)
{
    char buf[SAL_SHOWN_MAX + 4];
    const char *why;

    if (!text || !out)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL interval text or output");
    why = parse_interval(text, out);
    if (why)
        return sal_error(SAL_ERR_CONFIG, "invalid interval \"%s\" (%s); expected %s",
                         sal_config_shown(text, buf), why, interval_accepted);
    return SAL_OK;
}

static const char *check_text(const char *v)
{
    size_t n = strlen(v);

    if (n >= VALUE_MAX)
        return "too long";
    for (size_t i = 0; i < n; i++)
        if (iscntrl((unsigned char)v[i]))
            return "contains a control character";
    return NULL;
}

/* Validates v for key k. [OUT] t: the typed value; for ENUM t->s is the matching choice. */
static const char *parse_value(const sal_key_info_t *k, const char *v, typed_value_t *t)
{
    const char *why = check_text(v);

    if (why)
        return why;
    switch (k->kind) {
    case SAL_KIND_INT:
        return parse_int(k, v, &t->i);
    case SAL_KIND_BOOL:
        return parse_bool(v, &t->i);
    case SAL_KIND_DOUBLE:
        return parse_double(k, v, &t->d);
    case SAL_KIND_ENUM:
        return parse_enum(k, v, &t->s);
    case SAL_KIND_INTERVAL:
        return parse_interval(v, &t->iv);
    default:
        return NULL;
    }
}

/* What key k accepts, in words. */
static void accepted(const sal_key_info_t *k, char *buf, size_t size)
{
    switch (k->kind) {
    case SAL_KIND_INT:
        snprintf(buf, size, "an integer from %lld to %lld", (long long)k->imin, (long long)k->imax);
        break;
    case SAL_KIND_DOUBLE:
        snprintf(buf, size, "a number from %g to %g", k->dmin, k->dmax);
        break;
    case SAL_KIND_BOOL:
        snprintf(buf, size, "1/0, true/false, yes/no or on/off");
        break;
    case SAL_KIND_ENUM:
        snprintf(buf, size, "one of %s", k->choices);
        break;
    case SAL_KIND_INTERVAL:
        snprintf(buf, size, "%s", interval_accepted);
        break;
    case SAL_KIND_DIR:
        snprintf(buf, size, "a directory path of at most %d characters", VALUE_MAX - 1);
        break;
    default:
        snprintf(buf, size, "text of at most %d characters, without control characters",
                 VALUE_MAX - 1);
    }
}

static void store_typed(struct sal_config *cfg, const sal_key_info_t *k, const typed_value_t *t)
{
    char *field = (char *)&cfg->set + k->offset;

    switch (k->kind) {
    case SAL_KIND_INT:
    case SAL_KIND_BOOL:
        memcpy(field, &t->i, sizeof(t->i));
        break;
    case SAL_KIND_DOUBLE:
        memcpy(field, &t->d, sizeof(t->d));
        break;
    case SAL_KIND_INTERVAL:
        memcpy(field, &t->iv, sizeof(t->iv));
        break;
    default:
        memcpy(field, &t->s, sizeof(t->s));
    }
}

/* Sets key k from text; origin ("file:line", "environment variable X") prefixes error messages. */
static int set_key(struct sal_config *cfg, const sal_key_info_t *k, const char *value,
                   const char *origin)
{
    char what[256], buf[SAL_SHOWN_MAX + 4];
    typed_value_t t = {0};
    const char *why = parse_value(k, value, &t);
    char *copy;

    if (why) {
        accepted(k, what, sizeof(what));
        return sal_error(SAL_ERR_CONFIG, "%s%sinvalid value \"%s\" for key %s (%s); expected %s",
                         origin ? origin : "", origin ? ": " : "", sal_config_shown(value, buf),
                         k->name, why, what);
    }
    copy = strdup(value);
    if (!copy)
        return sal_error(SAL_ERR_NOMEM, "value of key %s", k->name);
    if (k->kind == SAL_KIND_ENUM)
        memcpy(copy, t.s, strlen(copy)); /* the choice's spelling */
    free(cfg->text[k - sal_config_keys]);
    cfg->text[k - sal_config_keys] = copy;
    if (k->kind == SAL_KIND_STR || k->kind == SAL_KIND_DIR || k->kind == SAL_KIND_ENUM)
        t.s = copy;
    store_typed(cfg, k, &t);
    return SAL_OK;
}

int sal_config_set_from(sal_config_t cfg, const char *key, const char *value, const char *origin)
{
    const sal_key_info_t *k = sal_config_find_key(key);

    if (!cfg || !key || !value)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration, key or value");
    return k ? set_key(cfg, k, value, origin) : unknown_key(key, origin, SAL_ERR_CONFIG);
}

/* ---- lifecycle, set, get --------------------------------------------------------------------- */

int sal_config_create(sal_config_t *cfg)
{
    struct sal_config *c;
    int rc = SAL_OK;

    if (!cfg)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL output pointer");
    *cfg = NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return sal_error(SAL_ERR_NOMEM, "configuration");
    for (size_t i = 0; i < NKEYS && rc == SAL_OK; i++)
        rc = set_key(c, &sal_config_keys[i], sal_config_keys[i].def, "default");
    if (rc != SAL_OK) {
        sal_config_destroy(&c);
        return rc;
    }
    *cfg = c;
    return SAL_OK;
}

void sal_config_destroy(sal_config_t *cfg)
{
    if (!cfg || !*cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        free((*cfg)->text[i]);
    free(*cfg);
    *cfg = NULL;
}

int sal_config_set(sal_config_t cfg, const char *key, const char *value)
{
    return sal_config_set_from(cfg, key, value, NULL);
}

int sal_config_get(sal_config_t cfg, const char *key, const char **value)
{
    const sal_key_info_t *k = sal_config_find_key(key);

    if (!cfg || !key || !value)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration, key or output");
    if (!k)
        return unknown_key(key, NULL, SAL_ERR_NOT_FOUND);
    *value = cfg->text[k - sal_config_keys];
    return SAL_OK;
}

const sal_settings_t *sal_config_settings(sal_config_t cfg)
{
    return cfg ? &cfg->set : NULL;
}

/* ---- serialized form ------------------------------------------------------------------------- */

static int shipped(const struct sal_config *cfg, size_t i)
{
    return !is_process_local(&sal_config_keys[i]) &&
           strcmp(cfg->text[i], sal_config_keys[i].def) != 0;
}

int sal_config_serialize(sal_config_t cfg, char **text)
{
    size_t need = 1, used = 0;
    char *out;

    if (!cfg || !text)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration or output");
    for (size_t i = 0; i < NKEYS; i++)
        if (shipped(cfg, i))
            need += strlen(sal_config_keys[i].name) + strlen(cfg->text[i]) + 2;
    out = malloc(need);
    if (!out)
        return sal_error(SAL_ERR_NOMEM, "serialized configuration");
    for (size_t i = 0; i < NKEYS; i++)
        if (shipped(cfg, i))
            used += (size_t)snprintf(out + used, need - used, "%s=%s\n", sal_config_keys[i].name,
                                     cfg->text[i]);
    out[used] = '\0';
    *text = out;
    return SAL_OK;
}

/* Applies the "key=value" lines of text (a modifiable copy) to cfg. */
static int apply_lines(struct sal_config *cfg, char *text)
{
    char origin[64];
    int lineno = 0, rc = SAL_OK;

    for (char *line = text, *next; rc == SAL_OK && line && *line; line = next) {
        char *eq;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (!*line)
            continue;
        snprintf(origin, sizeof(origin), "serialized configuration line %d", lineno);
        eq = strchr(line, '=');
        if (!eq)
            return sal_error(SAL_ERR_CONFIG, "%s: expected key=value", origin);
        *eq = '\0';
        rc = sal_config_set_from(cfg, line, eq + 1, origin);
    }
    return rc;
}

int sal_config_deserialize(sal_config_t cfg, const char *text)
{
    struct sal_config *fresh = NULL, swap;
    char *copy;
    int rc;

    if (!cfg || !text)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration or text");
    copy = strdup(text);
    if (!copy)
        return sal_error(SAL_ERR_NOMEM, "serialized configuration");
    rc = sal_config_create(&fresh);
    for (size_t i = 0; rc == SAL_OK && i < NKEYS; i++)
        if (is_process_local(&sal_config_keys[i]))
            rc = set_key(fresh, &sal_config_keys[i], cfg->text[i], NULL);
    if (rc == SAL_OK)
        rc = apply_lines(fresh, copy);
    if (rc == SAL_OK) {
        swap = *cfg;
        *cfg = *fresh;
        *fresh = swap;
    }
    sal_config_destroy(&fresh);
    free(copy);
    return rc;
}
