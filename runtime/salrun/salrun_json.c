/* A strict parser for one JSON object per line, keeping the top-level members (salrun_json.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salrun_json.h"

#define DEPTH_MAX 32

typedef struct cursor {
    const char *start, *p, *end;
    int depth;
    char *err;
    size_t errsize;
} cursor_t;

static int fail(cursor_t *c, const char *what)
{
    if (c->err && c->errsize)
        snprintf(c->err, c->errsize, "%s at column %ld", what, (long)(c->p - c->start) + 1);
    return -1;
}

static void skip_ws(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char h = p[i];
        unsigned d;

        if (h >= '0' && h <= '9')
            d = (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            d = (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            d = (unsigned)(h - 'A' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Output buffer that silently truncates (keeping room for the NUL); out may be NULL. */
typedef struct sink {
    char *buf;
    size_t size, n;
} sink_t;

static void put(sink_t *s, unsigned char ch)
{
    if (s->buf && s->n + 1 < s->size)
        s->buf[s->n++] = (char)ch;
}

static void put_utf8(sink_t *s, unsigned cp)
{
    if (cp < 0x80) {
        put(s, (unsigned char)cp);
    } else if (cp < 0x800) {
        put(s, (unsigned char)(0xC0 | (cp >> 6)));
        put(s, (unsigned char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        put(s, (unsigned char)(0xE0 | (cp >> 12)));
        put(s, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
        put(s, (unsigned char)(0x80 | (cp & 0x3F)));
    } else {
        put(s, (unsigned char)(0xF0 | (cp >> 18)));
        put(s, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)));
        put(s, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
        put(s, (unsigned char)(0x80 | (cp & 0x3F)));
    }
}

/* \uXXXX at c->p (after the backslash and 'u'), with surrogate pairs; lone surrogates become
 * U+FFFD. */
static int unicode_escape(cursor_t *c, sink_t *s)
{
    unsigned cp, lo;

    if (c->end - c->p < 4 || hex4(c->p, &cp) != 0)
        return fail(c, "bad \\u escape");
    c->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u' &&
        hex4(c->p + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        c->p += 6;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    put_utf8(s, cp);
    return 0;
}

static int escape(cursor_t *c, sink_t *s)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit;

    if (c->p >= c->end)
        return fail(c, "unterminated string");
    if (*c->p == 'u') {
        c->p++;
        return unicode_escape(c, s);
    }
    hit = strchr(from, *c->p);
    if (!hit || !*c->p)
        return fail(c, "bad escape in string");
    put(s, (unsigned char)to[hit - from]);
    c->p++;
    return 0;
}

/* A string at c->p (which must be '"'), unescaped into out (may be NULL: validate only). */
static int parse_string(cursor_t *c, char *out, size_t size)
{
    sink_t s = {out, size, 0};

    if (c->p >= c->end || *c->p != '"')
        return fail(c, "expected a string");
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;

        if (ch < 0x20)
            return fail(c, "control character in string");
        c->p++;
        if (ch != '\\')
            put(&s, ch);
        else if (escape(c, &s) != 0)
            return -1;
    }
    if (c->p >= c->end)
        return fail(c, "unterminated string");
    c->p++;
    if (out && size)
        out[s.n] = '\0';
    return 0;
}

static int digits(cursor_t *c)
{
    const char *p0 = c->p;

    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > p0 ? 0 : fail(c, "bad number");
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(cursor_t *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (digits(c) != 0)
        return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (digits(c) != 0)
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (digits(c) != 0)
            return -1;
    }
    return 0;
}

static int parse_literal(cursor_t *c, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return fail(c, "unexpected character");
    c->p += n;
    return 0;
}

static int parse_value(cursor_t *c, salrun_json_type_t *type);

/* Members of an object whose '{' was consumed; stored into obj when it is not NULL. */
/* NOLINTNEXTLINE(misc-no-recursion): parse_nested stops at DEPTH_MAX levels */
static int parse_members(cursor_t *c, salrun_json_t *obj)
{
    char key[SALRUN_JSON_KEY_MAX * 4];
    salrun_json_type_t type;
    const char *v0;

    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (parse_string(c, key, sizeof(key)) != 0)
            return -1;
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':')
            return fail(c, "expected ':'");
        c->p++;
        skip_ws(c);
        v0 = c->p;
        if (parse_value(c, &type) != 0)
            return -1;
        if (obj && obj->n < SALRUN_JSON_MAX_MEMBERS) {
            salrun_json_member_t *m = &obj->m[obj->n++];

            size_t klen = strlen(key);

            klen = klen < sizeof(m->key) ? klen : 0;
            memcpy(m->key, key, klen);
            m->key[klen] = '\0';
            m->type = type;
            m->val = v0;
            m->len = (size_t)(c->p - v0);
        }
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return 0;
        }
        return fail(c, "expected ',' or '}'");
    }
}

/* NOLINTNEXTLINE(misc-no-recursion): parse_nested stops at DEPTH_MAX levels */
static int parse_elements(cursor_t *c)
{
    salrun_json_type_t type;

    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (parse_value(c, &type) != 0)
            return -1;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return 0;
        }
        return fail(c, "expected ',' or ']'");
    }
}

/* NOLINTNEXTLINE(misc-no-recursion): stops at DEPTH_MAX levels */
static int parse_nested(cursor_t *c, int object)
{
    int rc;

    if (++c->depth > DEPTH_MAX)
        return fail(c, "nesting too deep");
    c->p++;
    rc = object ? parse_members(c, NULL) : parse_elements(c);
    c->depth--;
    return rc;
}

/* NOLINTNEXTLINE(misc-no-recursion): parse_nested stops at DEPTH_MAX levels */
static int parse_value(cursor_t *c, salrun_json_type_t *type)
{
    if (c->p >= c->end)
        return fail(c, "expected a value");
    switch (*c->p) {
    case '"':
        *type = SALRUN_JSON_STRING;
        return parse_string(c, NULL, 0);
    case '{':
        *type = SALRUN_JSON_OBJECT;
        return parse_nested(c, 1);
    case '[':
        *type = SALRUN_JSON_ARRAY;
        return parse_nested(c, 0);
    case 't':
        *type = SALRUN_JSON_TRUE;
        return parse_literal(c, "true");
    case 'f':
        *type = SALRUN_JSON_FALSE;
        return parse_literal(c, "false");
    case 'n':
        *type = SALRUN_JSON_NULL;
        return parse_literal(c, "null");
    default:
        *type = SALRUN_JSON_NUMBER;
        return parse_number(c);
    }
}

int salrun_json_parse(const char *text, size_t len, salrun_json_t *obj, char *err, size_t errsize)
{
    cursor_t c = {text, text, text + len, 0, err, errsize};

    obj->n = 0;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{')
        return fail(&c, "not a JSON object (expected '{')");
    c.p++;
    c.depth = 1;
    if (parse_members(&c, obj) != 0)
        return -1;
    skip_ws(&c);
    if (c.p != c.end)
        return fail(&c, "trailing characters after the object");
    return 0;
}

const salrun_json_member_t *salrun_json_find(const salrun_json_t *obj, const char *key)
{
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->m[i].key, key) == 0)
            return &obj->m[i];
    return NULL;
}

int salrun_json_str(const salrun_json_t *obj, const char *key, char *buf, size_t size)
{
    const salrun_json_member_t *m = salrun_json_find(obj, key);
    cursor_t c;

    if (!m || m->type != SALRUN_JSON_STRING || size == 0)
        return 0;
    c = (cursor_t){m->val, m->val, m->val + m->len, 0, NULL, 0};
    return parse_string(&c, buf, size) == 0;
}

int salrun_json_num(const salrun_json_t *obj, const char *key, double *value)
{
    const salrun_json_member_t *m = salrun_json_find(obj, key);
    char num[64];

    if (!m || m->type != SALRUN_JSON_NUMBER || m->len >= sizeof(num))
        return 0;
    memcpy(num, m->val, m->len);
    num[m->len] = '\0';
    *value = strtod(num, NULL);
    return 1;
}

int salrun_json_int(const salrun_json_t *obj, const char *key, long long *value)
{
    double d;

    if (!salrun_json_num(obj, key, &d) || d < -9.0e15 || d > 9.0e15 || (double)(long long)d != d)
        return 0;
    *value = (long long)d;
    return 1;
}

int salrun_json_bool(const salrun_json_t *obj, const char *key, int *value)
{
    const salrun_json_member_t *m = salrun_json_find(obj, key);

    if (!m || (m->type != SALRUN_JSON_TRUE && m->type != SALRUN_JSON_FALSE))
        return 0;
    *value = m->type == SALRUN_JSON_TRUE;
    return 1;
}

/* Appends the scalar at c->p to s (strings unescaped); other values are skipped. */
static int list_item(cursor_t *c, sink_t *s, int *count)
{
    char item[512];
    salrun_json_type_t type;
    const char *v0 = c->p;

    if (c->p < c->end && *c->p == '"') {
        if (parse_string(c, item, sizeof(item)) != 0)
            return -1;
    } else {
        if (parse_value(c, &type) != 0)
            return -1;
        if (type != SALRUN_JSON_NUMBER)
            return 0;
        snprintf(item, sizeof(item), "%.*s", (int)(c->p - v0), v0);
    }
    if ((*count)++ > 0)
        put(s, ',');
    for (const char *p = item; *p; p++)
        put(s, (unsigned char)*p);
    return 0;
}

int salrun_json_list(const salrun_json_t *obj, const char *key, char *buf, size_t size)
{
    const salrun_json_member_t *m = salrun_json_find(obj, key);
    sink_t s = {buf, size, 0};
    cursor_t c;
    int count = 0;

    if (!m || size == 0 || m->type == SALRUN_JSON_OBJECT)
        return 0;
    c = (cursor_t){m->val, m->val, m->val + m->len, 0, NULL, 0};
    if (m->type != SALRUN_JSON_ARRAY) {
        if (list_item(&c, &s, &count) != 0)
            return 0;
    } else {
        for (c.p++, skip_ws(&c); c.p < c.end && *c.p != ']';) {
            if (list_item(&c, &s, &count) != 0)
                return 0;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ',')
                c.p++;
            skip_ws(&c);
        }
    }
    buf[s.n] = '\0';
    return 1;
}
