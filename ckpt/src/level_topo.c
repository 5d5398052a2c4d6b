/* Levels mask, exchanged host list and the per-checkpoint `levels` record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "agree.h"
#include "fsutil.h"
#include "levels.h"
#include "log.h"

#define LEVELS_MAGIC "salamander-levels 1"
#define LEVELS_MAX   (64u << 20) /* largest levels file accepted */

int sal_levels_parse(const char *text, int *mask, int *is_auto)
{
    char buf[128], *save = NULL, *tok;

    *mask = SAL_LVL_L1;
    *is_auto = 0;
    if (!text || !*text || strcmp(text, "auto") == 0) {
        *is_auto = 1;
        return SAL_OK;
    }
    if (strlen(text) >= sizeof(buf))
        return sal_error(SAL_ERR_CONFIG, "levels=\"%s\": too long; use e.g. L1,L2", text);
    strcpy(buf, text);
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "L1") == 0)
            *mask |= SAL_LVL_L1;
        else if (strcmp(tok, "L2") == 0)
            *mask |= SAL_LVL_L2;
        else if (strcmp(tok, "L3") == 0)
            *mask |= SAL_LVL_L3;
        else
            return sal_error(SAL_ERR_CONFIG,
                             "levels=\"%s\": unknown level \"%s\"; use auto or a "
                             "comma list of L1, L2, L3 (L4 is on when pfs_dir is set)",
                             text, tok);
    }
    return SAL_OK;
}

const char *sal_levels_name(int mask, char *buf, size_t size)
{
    static const char *const names[] = {"L1", "L2", "L3", "L4"};
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < 4; i++)
        if (mask & (1 << i))
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
                                     used ? "+" : "", names[i]);
    return buf;
}

void sal_topo_free(sal_topo_t *t)
{
    if (!t)
        return;
    sal_partner_map_destroy(&t->pmap);
    sal_xor_groups_destroy(&t->groups);
    free(t->names);
    free(t->hosts);
    free(t->first);
    memset(t, 0, sizeof(*t));
}

/* Builds the maps of a topology whose names are filled in. */
static int topo_build(sal_topo_t *t, int xor_size)
{
    int rc;

    t->hosts = calloc((size_t)t->nranks, sizeof(*t->hosts));
    t->first = calloc((size_t)t->nranks + 1, 1);
    if (!t->hosts || !t->first)
        return sal_error(SAL_ERR_NOMEM, "host list");
    for (int r = 0; r < t->nranks; r++)
        t->hosts[r] = t->names + (size_t)r * SAL_HOST_LEN;
    t->nhosts = 0;
    for (int r = 0; r < t->nranks; r++) {
        int seen = 0;
        for (int q = 0; q < r && !seen; q++)
            seen = strcmp(t->hosts[q], t->hosts[r]) == 0;
        t->first[r] = !seen;
        t->nhosts += !seen;
    }
    if (t->nranks < 2)
        return SAL_OK;
    rc = sal_partner_map_create(t->nranks, t->hosts, 0, &t->pmap);
    if (rc == SAL_OK)
        rc = sal_xor_groups_create(t->nranks, t->hosts, xor_size, &t->groups);
    return rc;
}

int sal_topo_exchange(MPI_Comm comm, const char *my_host, int xor_size, sal_topo_t *t)
{
    char mine[SAL_HOST_LEN];
    int n = 0, rc;

    sal_topo_free(t);
    MPI_Comm_size(comm, &n);
    memset(mine, 0, sizeof(mine));
    snprintf(mine, sizeof(mine), "%s", my_host);
    t->nranks = n;
    t->names = malloc((size_t)n * SAL_HOST_LEN);
    if (!t->names)
        return sal_error(SAL_ERR_NOMEM, "host list of %d ranks", n);
    rc = sal_mpi_status(
        MPI_Allgather(mine, SAL_HOST_LEN, MPI_CHAR, t->names, SAL_HOST_LEN, MPI_CHAR, comm));
    if (rc != SAL_OK) {
        sal_topo_free(t);
        return sal_error(rc, "exchange of host names failed");
    }
    rc = topo_build(t, xor_size);
    if (rc != SAL_OK)
        sal_topo_free(t);
    return rc;
}

int sal_topo_from_hosts(int nranks, const char *const hosts[], int xor_size, sal_topo_t *t)
{
    int rc;

    memset(t, 0, sizeof(*t));
    t->nranks = nranks;
    t->names = calloc((size_t)nranks, SAL_HOST_LEN);
    if (!t->names)
        return sal_error(SAL_ERR_NOMEM, "host list of %d ranks", nranks);
    for (int r = 0; r < nranks; r++)
        snprintf(t->names + (size_t)r * SAL_HOST_LEN, SAL_HOST_LEN, "%s", hosts[r]);
    rc = topo_build(t, xor_size);
    if (rc != SAL_OK)
        sal_topo_free(t);
    return rc;
}

int sal_levels_write(const char *dir, int mask, int xor_size, const sal_topo_t *t)
{
    size_t cap = 128 + (size_t)t->nranks * (SAL_HOST_LEN + 1), used;
    char *text = malloc(cap), path[4096];
    int rc;

    if (!text)
        return sal_error(SAL_ERR_NOMEM, "levels record");
    used = (size_t)snprintf(text, cap, "%s\nlevels %d\nxor_group_size %d\nnranks %d\n",
                            LEVELS_MAGIC, mask, xor_size, t->nranks);
    for (int r = 0; r < t->nranks; r++)
        used += (size_t)snprintf(text + used, cap - used, "%s\n", t->hosts[r]);
    rc = sal_path_join(path, sizeof(path), "%s/levels", dir);
    if (rc == SAL_OK)
        rc = sal_write_file_atomic(path, text, used, 0600);
    free(text);
    return rc;
}

int sal_levels_load_text(const char *dir, char **text, size_t *len)
{
    char path[4096];
    int rc = sal_path_join(path, sizeof(path), "%s/levels", dir);

    return rc == SAL_OK ? sal_read_file(path, LEVELS_MAX, text, len) : rc;
}

/* Next line of *cur (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cur)
{
    char *s = *cur, *nl;

    if (!s || !*s)
        return NULL;
    nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *cur = nl + 1;
    } else {
        *cur = NULL;
    }
    return s;
}

/* Checks a host name read from disk: non-empty, printable, no blanks, fits. */
static int host_name_ok(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n >= SAL_HOST_LEN)
        return 0;
    for (; *h; h++)
        if (*h <= ' ' || *h == 127)
            return 0;
    return 1;
}

static int parse_body(const char *path, char *cur, sal_levels_info_t *info, int *n,
                      const char ***hosts)
{
    char *line = next_line(&cur);

    if (!line || strcmp(line, LEVELS_MAGIC) != 0)
        return sal_error(SAL_ERR_CORRUPT, "%s: not a levels record (first line is not \"%s\")",
                         path, LEVELS_MAGIC);
    line = next_line(&cur);
    if (!line || !sal_scan_int(line, "levels", &info->mask) || info->mask < 1 || info->mask > 15)
        return sal_error(SAL_ERR_CORRUPT, "%s: bad \"levels\" line", path);
    line = next_line(&cur);
    if (!line || !sal_scan_int(line, "xor_group_size", &info->xor_size) || info->xor_size < 2 ||
        info->xor_size > SAL_XOR_MAX_GROUP)
        return sal_error(SAL_ERR_CORRUPT, "%s: bad \"xor_group_size\" line", path);
    line = next_line(&cur);
    if (!line || !sal_scan_int(line, "nranks", n) || *n < 1 || *n > (1 << 24))
        return sal_error(SAL_ERR_CORRUPT, "%s: bad \"nranks\" line", path);
    *hosts = calloc((size_t)*n, sizeof(**hosts));
    if (!*hosts)
        return sal_error(SAL_ERR_NOMEM, "host list of %d ranks", *n);
    for (int r = 0; r < *n; r++) {
        line = next_line(&cur);
        if (!line || !host_name_ok(line))
            return sal_error(SAL_ERR_CORRUPT, "%s: host name of rank %d missing or invalid", path,
                             r);
        (*hosts)[r] = line;
    }
    return SAL_OK;
}

int sal_levels_parse_text(const char *path, const char *text, sal_levels_info_t *info)
{
    char *copy = strdup(text ? text : "");
    const char **hosts = NULL;
    int n = 0, rc;

    memset(info, 0, sizeof(*info));
    if (!copy)
        return sal_error(SAL_ERR_NOMEM, "levels record");
    rc = parse_body(path, copy, info, &n, &hosts);
    if (rc == SAL_OK)
        rc = sal_topo_from_hosts(n, hosts, info->xor_size, &info->topo);
    free(hosts);
    free(copy);
    return rc;
}

void sal_levels_info_free(sal_levels_info_t *info)
{
    if (info) {
        sal_topo_free(&info->topo);
        memset(info, 0, sizeof(*info));
    }
}
