/* Typed view of a validated configuration, generated from config_keys.def. */
#ifndef SAL_CONFIG_INTERNAL_H
#define SAL_CONFIG_INTERNAL_H

#include <stdint.h>

#include <salamander/sal_config.h>

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
#define SAL_KEY_FIELD_STR(name) const char *name;
#define SAL_KEY_FIELD_DIR(name) const char *name;
#define SAL_KEY_FIELD_ENUM(name) const char *name;
#define SAL_KEY_FIELD_INT(name) int64_t name;
#define SAL_KEY_FIELD_BOOL(name) int64_t name;
#define SAL_KEY_FIELD_DOUBLE(name) double name;
#define SAL_KEY_FIELD_INTERVAL(name) sal_interval_t name;
#define SAL_KEY(kind, name, def, min, max, choices, help) SAL_KEY_FIELD_##kind(name)
#include "config_keys.def"
#undef SAL_KEY
} sal_settings_t;

/* The typed values of cfg, current as of the last successful set/load. Never NULL for a valid cfg. */
const sal_settings_t *sal_config_settings(sal_config_t cfg);

/* Parses an interval value ("10", "30s", "0", "auto"). SAL_OK or SAL_ERR_CONFIG. */
int sal_interval_parse(const char *text, sal_interval_t *out);

/* The effective checkpoint directory (ckpt_dir, or the per-user default) and job name (job, or the
 * base name of argv0 / "job" when argv0 is NULL), written into buf. */
int sal_config_resolve_ckpt_dir(sal_config_t cfg, char *buf, unsigned long size);
int sal_config_resolve_job(sal_config_t cfg, const char *argv0, char *buf, unsigned long size);

#endif
