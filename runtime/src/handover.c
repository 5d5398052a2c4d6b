/*
 * The state a repair leader ships to a replacement, and its parsing in the replacement:
 * "rank R\nrepairs K\nbind CPUSET\n<config lines>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/salamander.h>

#include "config_internal.h"
#include "fsutil.h"
#include "hostmap.h"
#include "log.h"
#include "runtime.h"

int sal_rt_pack_state(int oldrank, const char *cpuset, char **buf, int *len)
{
    char *cfgtext = NULL, *out;
    size_t need;
    int rc = sal_config_serialize(sal_rt.cfg, &cfgtext), used;

    if (rc != SAL_OK)
        return rc;
    need = strlen(cfgtext) + strlen(cpuset ? cpuset : "") + 64;
    out = malloc(need);
    if (!out) {
        free(cfgtext);
        return sal_error(SAL_ERR_NOMEM, "replacement state");
    }
    used = snprintf(out, need, "rank %d\nrepairs %d\nbind %s\n%s", oldrank, sal_rt.repairs,
                    cpuset ? cpuset : "", cfgtext);
    free(cfgtext);
    *buf = out;
    *len = used + 1;
    return SAL_OK;
}

/* Splits off the next line of *p (NUL-terminating it in place). */
static char *next_line(char **p)
{
    char *line = *p, *nl;

    if (!line || !*line)
        return NULL;
    nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

int sal_rt_unpack_state(const char *buf, int len, int *oldrank)
{
    char *copy, *p, *line;
    int rc = SAL_OK;

    if (len < 1 || buf[len - 1] != '\0')
        return sal_error(SAL_ERR_CORRUPT, "malformed state from the repair leader");
    copy = strdup(buf);
    if (!copy)
        return sal_error(SAL_ERR_NOMEM, "replacement state");
    p = copy;
    line = next_line(&p);
    if (!line || !sal_scan_int(line, "rank", oldrank))
        rc = sal_error(SAL_ERR_CORRUPT, "state from the repair leader lacks the rank");
    line = rc == SAL_OK ? next_line(&p) : NULL;
    if (rc == SAL_OK && (!line || !sal_scan_int(line, "repairs", &sal_rt.repairs)))
        rc = sal_error(SAL_ERR_CORRUPT, "state from the repair leader lacks the repair count");
    line = rc == SAL_OK ? next_line(&p) : NULL;
    if (rc == SAL_OK && (!line || strncmp(line, "bind ", 5) != 0))
        rc = sal_error(SAL_ERR_CORRUPT, "state from the repair leader lacks the cpuset");
    if (rc == SAL_OK)
        sal_hostmap_bind(line + 5);
    if (rc == SAL_OK)
        rc = sal_config_deserialize(sal_rt.cfg, p);
    free(copy);
    return rc;
}
