/*
 * A minimal JSON reader for one line of an event log: a complete, strict parse of one JSON object
 * (RFC 8259 syntax, nesting up to 32 levels) that keeps the top-level members for lookup. Values
 * are not copied: members point into the parsed text, which must outlive the salrun_json_t.
 */
#ifndef SALRUN_JSON_H
#define SALRUN_JSON_H

#include <stddef.h>

typedef enum salrun_json_type {
    SALRUN_JSON_STRING,
    SALRUN_JSON_NUMBER,
    SALRUN_JSON_TRUE,
    SALRUN_JSON_FALSE,
    SALRUN_JSON_NULL,
    SALRUN_JSON_ARRAY,
    SALRUN_JSON_OBJECT
} salrun_json_type_t;

#define SALRUN_JSON_KEY_MAX     64 /* longer keys are parsed but cannot be looked up */
#define SALRUN_JSON_MAX_MEMBERS 48 /* further members are parsed but cannot be looked up */

typedef struct salrun_json_member {
    char key[SALRUN_JSON_KEY_MAX]; /* unescaped; "" when too long */
    salrun_json_type_t type;
    const char *val; /* the value's text, quotes and brackets included */
    size_t len;
} salrun_json_member_t;

typedef struct salrun_json {
    salrun_json_member_t m[SALRUN_JSON_MAX_MEMBERS];
    int n;
} salrun_json_t;

/* Parses text[0..len) as exactly one JSON object (surrounding white space allowed). Returns 0, or
 * -1 with the cause and the 1-based column written into err. */
int salrun_json_parse(const char *text, size_t len, salrun_json_t *obj, char *err, size_t errsize);

/* The first member named key, or NULL. */
const salrun_json_member_t *salrun_json_find(const salrun_json_t *obj, const char *key);

/* Lookups return 1 when key exists with the right type (the value is stored), 0 otherwise. */
int salrun_json_str(const salrun_json_t *obj, const char *key, char *buf, size_t size);
int salrun_json_num(const salrun_json_t *obj, const char *key, double *value);
int salrun_json_int(const salrun_json_t *obj, const char *key, long long *value);
int salrun_json_bool(const salrun_json_t *obj, const char *key, int *value);
/* An array of strings/numbers (or a single one) as text joined with ",", strings unescaped. */
int salrun_json_list(const salrun_json_t *obj, const char *key, char *buf, size_t size);

#endif
