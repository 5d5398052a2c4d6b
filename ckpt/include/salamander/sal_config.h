/*
 * Configuration.
 *
 * Every key is declared once in a registry (name, type, default, bounds, help). Values are layered:
 * defaults < INI file (sal_config_load_file; the file named by SAL_CONFIG) < SAL_<KEY> environment
 * variables (sal_config_load_env) < explicit sal_config_set() calls (salrun flags, the API).
 *
 * Lifecycle: sal_config_create() -> load/set any number of times -> sal_config_validate() -> read
 * the values -> sal_config_destroy(). A config is not thread-safe; it is read-only once validated.
 */
#ifndef SALAMANDER_SAL_CONFIG_H
#define SALAMANDER_SAL_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include <salamander/sal_export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sal_config *sal_config_t;

/* [OUT] cfg: a new config holding every key's default. Returns SAL_OK or SAL_ERR_NOMEM. */
SAL_API int sal_config_create(sal_config_t *cfg);

/* Reads an INI file (sections are accepted and ignored; keys are the registry's names). An unknown
 * key, a bad value or an unreadable file returns SAL_ERR_CONFIG with a message naming file, line,
 * key, value and the fix; values read before the error stay applied. */
SAL_API int sal_config_load_file(sal_config_t cfg, const char *path);

/* Applies SAL_<KEY> environment variables (key upper-cased). If SAL_CONFIG names a file it is
 * loaded first. An SAL_* variable that matches no key is reported as SAL_ERR_CONFIG. */
SAL_API int sal_config_load_env(sal_config_t cfg);

/* Sets one key from its textual form, validating type and bounds. SAL_ERR_CONFIG on an unknown key
 * or bad value (see sal_last_error). */
SAL_API int sal_config_set(sal_config_t cfg, const char *key, const char *value);

/* Textual value of a key ([OUT] *value is owned by cfg, valid until the key is set again or cfg is
 * destroyed). SAL_ERR_NOT_FOUND for an unknown key. */
SAL_API int sal_config_get(sal_config_t cfg, const char *key, const char **value);

/* Cross-key checks (e.g. directories creatable and writable). SAL_ERR_CONFIG naming the key on
 * failure. */
SAL_API int sal_config_validate(sal_config_t cfg);

/* Lists every key with type, default, bounds, environment variable and help text. format: 0 = text
 * for a terminal, 1 = the Markdown table of docs/config.md. */
SAL_API int sal_config_print_help(FILE *out, int format);

/* [INOUT] cfg: freed and set to NULL; NULL or *cfg == NULL is accepted. */
SAL_API void sal_config_destroy(sal_config_t *cfg);

#ifdef __cplusplus
}
#endif
#endif
