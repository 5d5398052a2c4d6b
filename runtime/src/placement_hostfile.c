/*
 * The hostfile reader of the placement (sal_placement_load_hostfile): Open MPI's format, read as
 * untrusted input, every host offered as a spare. Contract in placement.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "placement.h"

#define HOSTFILE_LINE  4096  /* longest hostfile line, in bytes */
#define HOSTFILE_HOSTS 65536 /* most hosts in one hostfile */
#define WHERE_LEN      288   /* "hostfile <path> line <n>" in messages */

typedef struct hostfile_entry {
    char name[SAL_PLACEMENT_HOST_MAX + 1];
    int slots;
} hostfile_entry_t;

/* Reads N in "key=N" (1 <= N <= SLOTS_MAX); -1 when malformed or out of range. */
static int parse_slots(const char *s)
{
    long v;

    if (sal_placement_parse_index(&s, SLOTS_MAX + 1L, &v) != 0 || *s != '\0' || v < 1)
        return -1;
    return (int)v;
}

/* Parses one line (modified in place). [OUT] *e and *has (0 for a blank or comment line). */
static int parse_hostfile_line(char *line, const char *where, hostfile_entry_t *e, int *has)
{
    static const char *const blank = " \t\r\n\v\f";
    char *save = NULL, *tok, *hash = strchr(line, '#');
    int max_slots = 0;

    if (hash)
        *hash = '\0';
    *has = 0;
    if ((tok = strtok_r(line, blank, &save)) == NULL)
        return SAL_OK;
    if (!sal_placement_valid_host_name(tok))
        return sal_error(SAL_ERR_CONFIG,
                         "%s: \"%.64s\" is not a host name (1 to %d letters, digits, '-', '.', "
                         "'_'): fix the line or comment it out with '#'",
                         where, tok, SAL_PLACEMENT_HOST_MAX);
    snprintf(e->name, sizeof(e->name), "%s", tok);
    e->slots = 0;
    while ((tok = strtok_r(NULL, blank, &save)) != NULL) {
        int *dst = strncmp(tok, "slots=", 6) == 0        ? &e->slots
                   : strncmp(tok, "max_slots=", 10) == 0 ? &max_slots
                                                         : NULL;
        if (!dst)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: unknown attribute \"%.64s\": expected slots=N or max_slots=N",
                             where, tok);
        if (*dst != 0 || (*dst = parse_slots(strchr(tok, '=') + 1)) < 0)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: \"%.64s\": give each attribute once, as a whole number from 1 "
                             "to %d",
                             where, tok, SLOTS_MAX);
    }
    if (max_slots > 0 && e->slots > max_slots)
        return sal_error(SAL_ERR_CONFIG, "%s: slots=%d exceeds max_slots=%d: lower slots", where,
                         e->slots, max_slots);
    *has = 1;
    return SAL_OK;
}

/* Appends the entry of one line, refusing a host listed twice or already offered. */
static int add_entry(sal_placement_t p, hostfile_entry_t **list, size_t *n,
                     const hostfile_entry_t *e, const char *where)
{
    size_t i = sal_placement_find_host(p, e->name);
    hostfile_entry_t *grown;

    for (size_t k = 0; k < *n; k++)
        if (strcmp((*list)[k].name, e->name) == 0)
            return sal_error(SAL_ERR_CONFIG,
                             "%s: host %s is listed again: list each host once, with slots=N",
                             where, e->name);
    if (i != NO_HOST && p->hosts[i].spare)
        return sal_error(SAL_ERR_CONFIG, "%s: host %s was already offered as a spare", where,
                         e->name);
    if (*n >= HOSTFILE_HOSTS)
        return sal_error(SAL_ERR_CONFIG, "%s: more than %d hosts", where, HOSTFILE_HOSTS);
    grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (!grown)
        return sal_error(SAL_ERR_NOMEM, "%s: host list", where);
    grown[(*n)++] = *e;
    *list = grown;
    return SAL_OK;
}

/* Reads every entry of the open hostfile f into the array *list of *n entries. */
static int read_hostfile(sal_placement_t p, FILE *f, const char *path, hostfile_entry_t **list,
                         size_t *n)
{
    char *line = NULL, where[WHERE_LEN];
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = SAL_OK, has;
    hostfile_entry_t e;

    while (rc == SAL_OK && (len = getline(&line, &cap, f)) >= 0) {
        snprintf(where, sizeof(where), "hostfile %.200s line %ld", path, ++lineno);
        if (len > HOSTFILE_LINE)
            rc = sal_error(SAL_ERR_CONFIG, "%s: longer than %d bytes", where, HOSTFILE_LINE);
        else if (strlen(line) != (size_t)len)
            rc = sal_error(SAL_ERR_CONFIG, "%s: contains a NUL byte: is this a text file?", where);
        else if ((rc = parse_hostfile_line(line, where, &e, &has)) == SAL_OK && has)
            rc = add_entry(p, list, n, &e, where);
    }
    if (rc == SAL_OK && ferror(f))
        rc = sal_error(SAL_ERR_IO, "read hostfile %s: %s", path, strerror(errno));
    free(line);
    return rc;
}

int sal_placement_load_hostfile(sal_placement_t p, const char *path)
{
    hostfile_entry_t *list = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    if (!p || !path)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !p ? "p" : "path");
    f = fopen(path, "r");
    if (!f)
        return sal_error(SAL_ERR_IO, "open hostfile %s: %s: check the path", path, strerror(errno));
    rc = read_hostfile(p, f, path, &list, &n);
    for (size_t i = 0; rc == SAL_OK && i < n; i++)
        rc = sal_placement_add_spare_host(p, list[i].name, list[i].slots);
    if (rc == SAL_OK)
        SAL_LOG_D("hostfile %s: %zu spare host(s)", path, n);
    free(list);
    (void)fclose(f); /* read only */
    return rc;
}
