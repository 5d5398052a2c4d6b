/*
 * The one hostfile grammar (contract and grammar in hostfile.h, for users in docs/salrun.md,
 * "Hostfiles"). The text is untrusted: every bound is checked before it is relied on, and a refusal
 * names the file, the line and the cause.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "hostfile.h"
#include "log.h"

#define BLANKS    " \t\r\v\f"
#define WHERE_LEN 480 /* "hostfile <name>, line <n>" in messages */
#define INDEX_LEN 9   /* most digits of the index of a relative entry */

_Static_assert(SAL_HOSTFILE_NAME_MAX == 255, "NAME_RULE spells the bound out");
#define NAME_RULE "1 to 255 letters, digits, '-', '.' or '_', starting with a letter or digit"

typedef struct record {
    sal_hostfile_entry_t entry; /* its text and host point into mem */
    char *mem;
} record_t;

struct sal_hostfile {
    record_t *v;
    size_t n, cap;
};

/* ASCII only, whatever the locale. */
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The name rule on the n bytes at s. */
static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > SAL_HOSTFILE_NAME_MAX || !is_alnum(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
            return 0;
    return 1;
}

int sal_hostfile_valid_name(const char *s)
{
    return s != NULL && valid_name(s, strnlen(s, SAL_HOSTFILE_NAME_MAX + 1));
}

/* 1 when s is 1 to max decimal digits and nothing else. */
static int all_digits(const char *s, size_t max)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && n <= max && s[n] == '\0';
}

/* Open MPI's relative entries: +nI (the I-th node of the allocation), +e and +e:N (empty nodes). */
static int is_relative(const char *s)
{
    if (s[0] != '+')
        return 0;
    if (s[1] == 'n')
        return all_digits(s + 2, INDEX_LEN);
    if (s[1] == 'e' || s[1] == 'E')
        return s[2] == '\0' || (s[2] == ':' && all_digits(s + 3, INDEX_LEN));
    return 0;
}

/* Why word, which fails the name rule, is not a host name: what the user probably meant. */
static const char *name_hint(const char *word)
{
    if (word[0] == '^')
        return "exclusions (^host) are not accepted: leave the host out of the file";
    if (strpbrk(word, "[]"))
        return "ranges are not expanded: list one host per line (`scontrol show hostnames` "
               "expands a Slurm node list)";
    if (strchr(word, ':'))
        return "write the slots as \"host slots=N\" (host:N is the syntax of --host; IPv6 "
               "addresses are not accepted)";
    return "expected [user@]host, each part " NAME_RULE "; fix the line or comment it out "
           "with '#'";
}

/* The name of an entry: [OUT] *host (into word, "" for a relative entry). */
static int parse_name(const char *word, const char *where, const char **host)
{
    const char *at = strchr(word, '@');

    if (word[0] == '+') {
        *host = "";
        if (is_relative(word))
            return SAL_OK;
        return sal_error(SAL_ERR_CONFIG,
                         "%s: \"%.64s\" is not a relative entry: expected +nI, +e or +e:N", where,
                         word);
    }
    *host = at ? at + 1 : word;
    if (sal_hostfile_valid_name(*host) && (!at || valid_name(word, (size_t)(at - word))))
        return SAL_OK;
    return sal_error(SAL_ERR_CONFIG, "%s: \"%.64s\" is not a host name: %s", where, word,
                     name_hint(word));
}

/* 1 when the n bytes at s are decimal digits making a number from 1 to SAL_HOSTFILE_SLOTS_MAX;
 * [OUT] *v. */
static int parse_count(const char *s, size_t n, int *v)
{
    long x = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        x = x * 10 + (s[i] - '0');
        if (x > SAL_HOSTFILE_SLOTS_MAX)
            return 0;
    }
    *v = (int)x;
    return x >= 1;
}

/* At most 64 bytes of n in a message. */
#define SHOWN(n) ((int)((n) < 64 ? (n) : 64))

/* The attributes after the name, s: "key=N" separated by blanks (Open MPI also allows blanks
 * around '='), into e->slots and e->max_slots. */
static int parse_attrs(const char *s, const char *where, sal_hostfile_entry_t *e)
{
    while (*(s += strspn(s, BLANKS))) {
        size_t klen = strcspn(s, BLANKS "=");
        const char *eq = s + klen + strspn(s + klen, BLANKS);
        const char *v = *eq == '=' ? eq + 1 + strspn(eq + 1, BLANKS) : s + klen;
        size_t vlen = strcspn(v, BLANKS), len = (size_t)(v + vlen - s); /* s[0..len): as written */
        int *dst = NULL;

        if (klen == 5 && strncmp(s, "slots", klen) == 0)
            dst = &e->slots;
        else if (klen == 9 && strncmp(s, "max_slots", klen) == 0)
            dst = &e->max_slots;
        if (!dst)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: unknown attribute \"%.*s\": expected slots=N or max_slots=M",
                             where, SHOWN(len), s);
        if (*eq != '=')
            return sal_error(SAL_ERR_CONFIG, "%s: \"%.*s\" has no value: expected %.*s=N", where,
                             SHOWN(len), s, (int)klen, s);
        if (*dst != 0)
            return sal_error(SAL_ERR_CONFIG, "%s: %.*s is given twice: give it once", where,
                             (int)klen, s);
        if (!parse_count(v, vlen, dst))
            return sal_error(SAL_ERR_CONFIG, "%s: \"%.*s\": expected a whole number from 1 to %d",
                             where, SHOWN(len), s, SAL_HOSTFILE_SLOTS_MAX);
        s = v + vlen;
    }
    return SAL_OK;
}

/* Appends e to hf, copying e->text and e->host into one allocation. */
static int append(sal_hostfile_t *hf, const sal_hostfile_entry_t *e, const char *where)
{
    size_t tlen = strlen(e->text), hlen = strlen(e->host);
    record_t *r;

    if (hf->n >= SAL_HOSTFILE_ENTRIES_MAX)
        return sal_error(SAL_ERR_CONFIG, "%s: more than %d hosts", where, SAL_HOSTFILE_ENTRIES_MAX);
    if (hf->n == hf->cap) {
        size_t cap = hf->cap ? 2 * hf->cap : 16;
        record_t *v = realloc(hf->v, cap * sizeof(*v));

        if (!v)
            return sal_error(SAL_ERR_NOMEM, "%s: host list", where);
        hf->v = v;
        hf->cap = cap;
    }
    r = &hf->v[hf->n];
    r->mem = malloc(tlen + hlen + 2);
    if (!r->mem)
        return sal_error(SAL_ERR_NOMEM, "%s: host list", where);
    memcpy(r->mem, e->text, tlen + 1);
    memcpy(r->mem + tlen + 1, e->host, hlen + 1);
    r->entry = *e;
    r->entry.text = r->mem;
    r->entry.host = r->mem + tlen + 1;
    hf->n++;
    return SAL_OK;
}

/* The entry of one line, s[0..n) without its newline: appended to hf unless blank or a comment. */
static int parse_line(sal_hostfile_t *hf, const char *name, long lineno, const char *s, size_t n)
{
    char line[SAL_HOSTFILE_LINE_MAX + 1], words[SAL_HOSTFILE_LINE_MAX + 1], where[WHERE_LEN];
    char *text, *rest;
    sal_hostfile_entry_t e = {.line = lineno};
    size_t end;
    int rc;

    snprintf(where, sizeof(where), "hostfile %.400s, line %ld", name, lineno);
    if (n > SAL_HOSTFILE_LINE_MAX)
        return sal_error(SAL_ERR_CONFIG, "%s: longer than %d bytes", where, SAL_HOSTFILE_LINE_MAX);
    if (memchr(s, '\0', n))
        return sal_error(SAL_ERR_CONFIG, "%s: contains a NUL byte: is this a text file?", where);
    memcpy(line, s, n);
    line[n] = '\0';
    line[strcspn(line, "#")] = '\0';
    text = line + strspn(line, BLANKS);
    for (end = strlen(text); end > 0 && strchr(BLANKS, text[end - 1]);)
        text[--end] = '\0';
    if (end == 0)
        return SAL_OK;
    e.text = text;
    /* words: the name, cut from the attributes */
    memcpy(words, text, end + 1);
    rest = words + strcspn(words, BLANKS);
    if (*rest)
        *rest++ = '\0';
    rc = parse_name(words, where, &e.host);
    if (rc == SAL_OK)
        rc = parse_attrs(rest, where, &e);
    if (rc == SAL_OK && e.max_slots > 0 && e.slots > e.max_slots)
        rc = sal_error(SAL_ERR_CONFIG, "%s: slots=%d exceeds max_slots=%d: lower slots", where,
                       e.slots, e.max_slots);
    return rc == SAL_OK ? append(hf, &e, where) : rc;
}

int sal_hostfile_parse(const char *name, const char *text, size_t len, sal_hostfile_t **hf)
{
    sal_hostfile_t *out;
    long lineno = 0;
    int rc = SAL_OK;

    if (!name || (!text && len > 0) || !hf)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !hf ? "hf" : !name ? "name" : "text");
    *hf = NULL;
    if (len > SAL_HOSTFILE_SIZE_MAX)
        return sal_error(SAL_ERR_CONFIG, "hostfile %.400s: %zu bytes, more than %d", name, len,
                         SAL_HOSTFILE_SIZE_MAX);
    out = calloc(1, sizeof(*out));
    if (!out)
        return sal_error(SAL_ERR_NOMEM, "hostfile %.400s", name);
    for (size_t pos = 0; rc == SAL_OK && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

        rc = parse_line(out, name, ++lineno, text + pos, n);
        pos += n + 1;
    }
    if (rc == SAL_OK)
        *hf = out;
    else
        sal_hostfile_destroy(&out);
    return rc;
}

/* The whole regular file at path: [OUT] *data (caller frees), *len. */
static int read_text(const char *path, char **data, size_t *len)
{
    struct stat st;
    size_t used = 0;
    int rc = SAL_OK;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it afterwards. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return sal_error(SAL_ERR_IO, "open hostfile %s: %s: check the path", path, strerror(errno));
    if (fstat(fd, &st) != 0)
        rc = sal_error(SAL_ERR_IO, "stat hostfile %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = sal_error(SAL_ERR_IO, "hostfile %s is not a regular file", path);
    else if (st.st_size > SAL_HOSTFILE_SIZE_MAX)
        rc = sal_error(SAL_ERR_CONFIG, "hostfile %s: %lld bytes, more than %d", path,
                       (long long)st.st_size, SAL_HOSTFILE_SIZE_MAX);
    else if (!(*data = malloc((size_t)st.st_size + 1)))
        rc = sal_error(SAL_ERR_NOMEM, "hostfile %s", path);
    while (rc == SAL_OK && used < (size_t)st.st_size) {
        ssize_t got = read(fd, *data + used, (size_t)st.st_size - used);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = sal_error(SAL_ERR_IO, "read hostfile %s: %s", path, strerror(errno));
        if (got <= 0)
            break; /* an error, or the file shrank: parse what was there */
        used += (size_t)got;
    }
    *len = used;
    close(fd);
    return rc;
}

int sal_hostfile_load(const char *path, sal_hostfile_t **hf)
{
    char *data = NULL;
    size_t len = 0;
    int rc;

    if (!path || !hf)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !path ? "path" : "hf");
    *hf = NULL;
    rc = read_text(path, &data, &len);
    if (rc == SAL_OK)
        rc = sal_hostfile_parse(path, data, len, hf);
    free(data);
    return rc;
}

size_t sal_hostfile_count(const sal_hostfile_t *hf)
{
    return hf ? hf->n : 0;
}

const sal_hostfile_entry_t *sal_hostfile_entry(const sal_hostfile_t *hf, size_t i)
{
    return hf && i < hf->n ? &hf->v[i].entry : NULL;
}

void sal_hostfile_destroy(sal_hostfile_t **hf)
{
    if (!hf || !*hf)
        return;
    for (size_t i = 0; i < (*hf)->n; i++)
        free((*hf)->v[i].mem);
    free((*hf)->v);
    free(*hf);
    *hf = NULL;
}
