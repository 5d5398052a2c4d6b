/*
 * The INI file and SAL_* environment layers of the configuration. Both feed every value through
 * sal_config_set_from, so they validate exactly like sal_config_set and name where a bad value came
 * from (file and line, or the variable).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "config_internal.h"
#include "log.h"

extern char **environ;

enum { SHOWN_MAX = 120 }; /* longest excerpt of a variable name quoted in an error message */

/* SAL_* variables that are not keys: used by the launcher, or prefixes reserved for tools. */
static const char *const env_allowed[] = {"SAL_CONFIG", "SAL_MPIEXEC"};
static const char *const env_allowed_prefixes[] = {"SAL_TEST_", "SAL_SALRUN_"};

/* ---- INI file -------------------------------------------------------------------------------- */

typedef struct ini_ctx {
    sal_config_t cfg;
    const char *path;
    FILE *fp;
    char *line; /* getline buffer */
    size_t cap;
    int lineno;
    int rc; /* the first failure; parsing stops there */
} ini_ctx_t;

static int open_config_file(const char *path, FILE **fp)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc = SAL_OK;

    if (fd < 0)
        return sal_error(SAL_ERR_CONFIG,
                         "cannot open configuration file %s: %s; check the path "
                         "given by --config or SAL_CONFIG",
                         path, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = sal_error(SAL_ERR_CONFIG, "cannot stat configuration file %s: %s", path,
                       strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = sal_error(SAL_ERR_CONFIG, "configuration file %s is a directory; name an INI file",
                       path);
    else if (!S_ISREG(st.st_mode))
        rc = sal_error(SAL_ERR_CONFIG,
                       "configuration file %s is not a regular file; name an INI "
                       "file",
                       path);
    else if (!(*fp = fdopen(fd, "r")))
        rc = sal_error(SAL_ERR_NOMEM, "open %s: %s", path, strerror(errno));
    if (rc != SAL_OK)
        close(fd);
    return rc;
}

static char *ini_fail(ini_ctx_t *c, const char *why)
{
    c->rc = sal_error(SAL_ERR_CONFIG, "%s:%d: %s", c->path, c->lineno, why);
    return NULL;
}

/* Why line s (leading blanks removed) is not a comment, section or key = value pair, or NULL. */
static const char *line_syntax(const char *s)
{
    if (!*s || strchr(";#\r\n", *s))
        return NULL;
    if (*s == '[')
        return strchr(s, ']') ? NULL : "section header without a closing ']'";
    if (*s == '=' || *s == ':')
        return "missing key name before '='";
    return strpbrk(s, "=:") ? NULL : "expected key = value, [section] or a comment (; or #)";
}

/* inih's line reader: counts lines, rejects NUL bytes and over-long lines (inih would silently
 * split them), removes leading blanks (inih would read an indented line as the continuation of the
 * previous value) and ends the parse at the first error, so that later lines are not applied. */
static char *ini_read_line(char *str, int num, void *stream)
{
    ini_ctx_t *c = stream;
    char why[64];
    const char *s, *bad;
    ssize_t n;

    if (c->rc != SAL_OK)
        return NULL;
    n = getline(&c->line, &c->cap, c->fp);
    if (n < 0) {
        if (ferror(c->fp))
            c->rc = sal_error(SAL_ERR_CONFIG, "read %s: %s", c->path, strerror(errno));
        return NULL;
    }
    c->lineno++;
    if ((size_t)n != strlen(c->line))
        return ini_fail(c, "contains a NUL byte; a configuration file is text");
    s = c->line + (c->lineno == 1 && strncmp(c->line, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0);
    s += strspn(s, " \t");
    if (strlen(s) + 1 >= (size_t)num) {
        snprintf(why, sizeof(why), "line longer than %d characters", num - 3);
        return ini_fail(c, why);
    }
    bad = line_syntax(s);
    if (bad)
        return ini_fail(c, bad);
    memcpy(str, s, strlen(s) + 1);
    return str;
}

/* One key = value pair; a value enclosed in double quotes loses the quotes. */
static int ini_on_pair(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx_t *c = user;
    char where[PATH_MAX + 32], unquoted[1024];
    size_t n = strlen(value);

    (void)section;
    if (c->rc != SAL_OK)
        return 0;
    if (n >= 2 && n < sizeof(unquoted) && value[0] == '"' && value[n - 1] == '"') {
        memcpy(unquoted, value + 1, n - 2);
        unquoted[n - 2] = '\0';
        value = unquoted;
    }
    snprintf(where, sizeof(where), "%s:%d", c->path, c->lineno);
    c->rc = sal_config_set_from(c->cfg, name, value, where);
    return c->rc == SAL_OK;
}

int sal_config_load_file(sal_config_t cfg, const char *path)
{
    ini_ctx_t c = {.cfg = cfg, .path = path, .rc = SAL_OK};
    int r;

    if (!cfg || !path)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration or path");
    r = open_config_file(path, &c.fp);
    if (r != SAL_OK)
        return r;
    r = ini_parse_stream(ini_read_line, &c, ini_on_pair, &c);
    free(c.line);
    (void)fclose(c.fp); /* read only */
    if (c.rc != SAL_OK)
        return c.rc;
    if (r == -2)
        return sal_error(SAL_ERR_NOMEM, "parsing %s", path);
    if (r != 0)
        return sal_error(SAL_ERR_CONFIG,
                         "%s:%d: syntax error; expected key = value, [section] or "
                         "a comment (; or #)",
                         path, r);
    return SAL_OK;
}

/* ---- environment ----------------------------------------------------------------------------- */

/* The key whose variable is var[0..len), or NULL. */
static const sal_key_info_t *env_key(const char *var, size_t len)
{
    char name[SAL_ENV_NAME_MAX];

    for (unsigned long i = 0; i < sal_config_nkeys; i++) {
        sal_config_env_name(&sal_config_keys[i], name, sizeof(name));
        if (strlen(name) == len && strncmp(name, var, len) == 0)
            return &sal_config_keys[i];
    }
    return NULL;
}

static int env_allowed_name(const char *var, size_t len)
{
    for (size_t i = 0; i < sizeof(env_allowed) / sizeof(env_allowed[0]); i++)
        if (strlen(env_allowed[i]) == len && strncmp(env_allowed[i], var, len) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(env_allowed_prefixes) / sizeof(env_allowed_prefixes[0]); i++)
        if (strncmp(env_allowed_prefixes[i], var, strlen(env_allowed_prefixes[i])) == 0)
            return 1;
    return 0;
}

/* var[0..len) starts with "SAL_" and is neither a key's variable nor allowed. */
static int unknown_env(const char *var, size_t len)
{
    char shown_var[SHOWN_MAX + 4], key[SHOWN_MAX + 1], hint[SAL_ENV_NAME_MAX + 32] = "";
    char env[SAL_ENV_NAME_MAX];
    size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;
    const sal_key_info_t *near;

    for (size_t i = 0; i < n; i++)
        shown_var[i] = iscntrl((unsigned char)var[i]) ? '?' : var[i];
    strcpy(shown_var + n, n < len ? "..." : "");
    for (size_t i = 4; i < n; i++)
        key[i - 4] = (char)tolower((unsigned char)var[i]);
    key[n - 4] = '\0';
    near = n == len ? sal_config_closest_key(key) : NULL;
    if (near) {
        sal_config_env_name(near, env, sizeof(env));
        snprintf(hint, sizeof(hint), " (did you mean %s?)", env);
    }
    return sal_error(SAL_ERR_CONFIG,
                     "unknown environment variable %s%s: SAL_* variables set "
                     "configuration keys (salrun --help-config lists them); unset it or fix its "
                     "name",
                     shown_var, hint);
}

/* Fails on the first SAL_* variable that is neither a key's variable nor allowed. */
static int check_env_names(void)
{
    for (char **e = environ; e && *e; e++) {
        size_t len = strcspn(*e, "=");

        if (strncmp(*e, "SAL_", 4) != 0 || env_key(*e, len) || env_allowed_name(*e, len))
            continue;
        return unknown_env(*e, len);
    }
    return SAL_OK;
}

int sal_config_load_env(sal_config_t cfg)
{
    const char *file = getenv("SAL_CONFIG");
    int rc;

    if (!cfg)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration");
    rc = check_env_names();
    if (rc == SAL_OK && file && *file)
        rc = sal_config_load_file(cfg, file);
    for (unsigned long i = 0; i < sal_config_nkeys && rc == SAL_OK; i++) {
        char name[SAL_ENV_NAME_MAX], origin[SAL_ENV_NAME_MAX + 32];
        const char *v;

        sal_config_env_name(&sal_config_keys[i], name, sizeof(name));
        v = getenv(name);
        snprintf(origin, sizeof(origin), "environment variable %s", name);
        if (v)
            rc = sal_config_set_from(cfg, sal_config_keys[i].name, v, origin);
    }
    return rc;
}
