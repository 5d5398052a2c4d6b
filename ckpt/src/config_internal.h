/* Typed view of a validated configuration, generated from config_keys.def. */
#ifndef SAL_CONFIG_INTERNAL_H
#define SAL_CONFIG_INTERNAL_H

#include <stdint.h>

#include <salamander/sal_config.h>

#include "private_api.h"

typedef enum sal_interval_kind {
    SAL_INTERVAL_NEVER = 0,
    SAL_INTERVAL_STEPS,
    SAL_INTERVAL_SECONDS,
    SAL_INTERVAL_AUTO
} sal_interval_kind_t;

typedef struct sal_interval {
    sal_interval_kind_t kind;
    double value; /* steps or seconds */
} sal_interval_t;

/* One field per key: STR/DIR/ENUM -> const char * (owned by the config; "" when empty),
 * INT/BOOL -> int64_t, DOUBLE -> double, INTERVAL -> sal_interval_t. */
typedef struct sal_settings {
#define SAL_KEY_FIELD_STR(name)                           const char *name;
#define SAL_KEY_FIELD_DIR(name)                           const char *name;
#define SAL_KEY_FIELD_ENUM(name)                          const char *name;
#define SAL_KEY_FIELD_INT(name)                           int64_t name;
#define SAL_KEY_FIELD_BOOL(name)                          int64_t name;
#define SAL_KEY_FIELD_DOUBLE(name)                        double name;
#define SAL_KEY_FIELD_INTERVAL(name)                      sal_interval_t name;
#define SAL_KEY(kind, name, def, min, max, choices, help) SAL_KEY_FIELD_##kind(name)
#include "config_keys.def"
#undef SAL_KEY
} sal_settings_t;

/* The typed values of cfg, current as of the last successful set/load; NULL only for a NULL cfg. */
SAL_PRIVATE const sal_settings_t *sal_config_settings(sal_config_t cfg);

/* Parses an interval value ("10", "30s", "0", "auto"). SAL_OK or SAL_ERR_CONFIG. */
int sal_interval_parse(const char *text, sal_interval_t *out);

/* Parses a boolean (1/0, true/false, yes/no, on/off, any case) into 1 or 0. SAL_OK or
 * SAL_ERR_CONFIG. */
int sal_bool_parse(const char *text, int *out);

/* The effective checkpoint directory (ckpt_dir, or the per-user default) and job name (job, or the
 * base name of argv0 made a valid name, or "job"), written into buf. SAL_ERR_INVALID_ARG when buf
 * is too small; SAL_ERR_CONFIG when job is set to an invalid name. */
SAL_PRIVATE int sal_config_resolve_ckpt_dir(sal_config_t cfg, char *buf, unsigned long size);
SAL_PRIVATE int sal_config_resolve_job(sal_config_t cfg, const char *argv0, char *buf,
                                       unsigned long size);

/* Serialized form shipped to a replacement process: one "key=value\n" line per key whose value
 * differs from its default (process-local keys such as hostname are left out). [OUT] *text: caller
 * frees. SAL_OK, SAL_ERR_INVALID_ARG or SAL_ERR_NOMEM. */
SAL_PRIVATE int sal_config_serialize(sal_config_t cfg, char **text);

/* Makes cfg exactly the configuration serialized in text (defaults plus its lines; the
 * process-local keys of cfg are kept). Every line is validated like sal_config_set; on any error
 * SAL_ERR_CONFIG is returned naming the line and cfg is left unchanged. Empty lines are ignored.
 * On success, strings obtained earlier from cfg (sal_config_get, the settings) are freed. */
SAL_PRIVATE int sal_config_deserialize(sal_config_t cfg, const char *text);

/* ---- the key registry (config_keys.def), shared by config.c, config_load.c, config_help.c,
 * config_resolve.c ---- */

typedef enum sal_key_kind {
    SAL_KIND_STR,
    SAL_KIND_DIR,
    SAL_KIND_ENUM,
    SAL_KIND_INT,
    SAL_KIND_BOOL,
    SAL_KIND_DOUBLE,
    SAL_KIND_INTERVAL
} sal_key_kind_t;

typedef struct sal_key_info {
    const char *name;
    sal_key_kind_t kind;
    const char *def;
    int64_t imin, imax;  /* bounds of INT */
    double dmin, dmax;   /* bounds of DOUBLE */
    const char *choices; /* "a|b|c" for ENUM, else NULL */
    const char *help;
    unsigned long offset; /* of the key's field in sal_settings_t */
} sal_key_info_t;

extern const sal_key_info_t sal_config_keys[];
extern const unsigned long sal_config_nkeys;

enum { SAL_ENV_NAME_MAX = 80 }; /* room for "SAL_" + the longest key name */

/* The key called name, or NULL. */
const sal_key_info_t *sal_config_find_key(const char *name);

/* The key whose name is closest to name (case-insensitive edit distance), or NULL when none is
 * close enough to be what was meant. */
const sal_key_info_t *sal_config_closest_key(const char *name);

/* The environment variable of k: "SAL_" + the name upper-cased. */
void sal_config_env_name(const sal_key_info_t *k, char *buf, unsigned long size);

/* Lower-case type name of a kind ("integer", "choice", ...). */
const char *sal_config_kind_name(sal_key_kind_t kind);

/* sal_config_set whose error messages start with origin (e.g. "file.ini:3" or "environment variable
 * SAL_KEEP"); origin may be NULL. */
int sal_config_set_from(sal_config_t cfg, const char *key, const char *value, const char *origin);

enum { SAL_SHOWN_MAX = 120 }; /* longest excerpt of a value quoted in an error message */

/* Copies value into buf for an error message: at most SAL_SHOWN_MAX characters, control characters
 * as '?', "..." appended when cut. Returns buf. */
const char *sal_config_shown(const char *value, char buf[SAL_SHOWN_MAX + 4]);

#endif
