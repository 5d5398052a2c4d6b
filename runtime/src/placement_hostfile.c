/*
 * The spare hosts of a hostfile (sal_placement_load_hostfile): the file is read by the one hostfile
 * grammar of the base library (hostfile.h); this file adds the placement's own rules. Contract in
 * placement.h.
 */
#include <string.h>

#include <salamander/sal_error.h>

#include "hostfile.h"
#include "log.h"
#include "placement.h"

/* Entry i of hf as a spare: refused when its host is on an earlier line (the placement takes
 * slots=N, not one line per slot) or was offered before; a relative entry names no host and is
 * only logged. */
static int check_spare(sal_placement_t p, const sal_hostfile_t *hf, size_t i, const char *path)
{
    const sal_hostfile_entry_t *e = sal_hostfile_entry(hf, i);
    size_t k;

    if (!e->host[0]) {
        SAL_LOG_I("hostfile %s, line %ld: \"%s\" names no host: not offered as a spare", path,
                  e->line, e->text);
        return SAL_OK;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(sal_hostfile_entry(hf, j)->host, e->host) == 0)
            return sal_error(SAL_ERR_CONFIG,
                             "hostfile %s, line %ld: host %s is listed again: list each host once, "
                             "with slots=N",
                             path, e->line, e->host);
    k = sal_placement_find_host(p, e->host);
    if (k != NO_HOST && p->hosts[k].spare)
        return sal_error(SAL_ERR_CONFIG,
                         "hostfile %s, line %ld: host %s was already offered as a spare", path,
                         e->line, e->host);
    return SAL_OK;
}

int sal_placement_load_hostfile(sal_placement_t p, const char *path)
{
    sal_hostfile_t *hf = NULL;
    size_t n, offered = 0;
    int rc;

    if (!p || !path)
        return sal_error(SAL_ERR_INVALID_ARG, "%s is NULL", !p ? "p" : "path");
    rc = sal_hostfile_load(path, &hf);
    n = sal_hostfile_count(hf);
    /* Every entry is checked before the first is offered: a refused file adds no host. */
    for (size_t i = 0; rc == SAL_OK && i < n; i++)
        rc = check_spare(p, hf, i, path);
    for (size_t i = 0; rc == SAL_OK && i < n; i++) {
        const sal_hostfile_entry_t *e = sal_hostfile_entry(hf, i);

        if (e->host[0] && (rc = sal_placement_add_spare_host(p, e->host, e->slots)) == SAL_OK)
            offered++;
    }
    if (rc == SAL_OK)
        SAL_LOG_D("hostfile %s: %zu spare host(s)", path, offered);
    sal_hostfile_destroy(&hf);
    return rc;
}
