/*
 * The PRRTE >= 5 + PMIx >= 7 launcher stack (key prrte_prefix, salrun --prrte P; docs/cluster.md,
 * "Two launcher stacks"): Open MPI 5's mpiexec runs the prterun installed in P instead of its own,
 * and under it a ULFM job survives the loss of a host (its daemon included) other than mpiexec's
 * own. What salrun adds to the launch of salrun_launch.c:
 *   OMPI_PRTERUN=P/bin/prterun  the prterun Open MPI 5's mpiexec executes instead of its own.
 *   PRTE_MCA_mapby, PRTE_MCA_personality=ompi  (unless set) PRRTE 5's names of
 *                   PRTE_MCA_rmaps_default_mapping_policy (with its value) and of the
 *                   PRTE_MCA_schizo_proxy=ompi that mpiexec sets: given the old name alone, PRRTE 5
 *                   prints a deprecation notice at every launch; both names with the same value,
 *                   it does not.
 *   --prefix P      the daemons on other hosts are started from P (bin/prted, lib/).
 *   --pmixmca gds hash  PMIx's shmem3 data store lost the data of a spawned job on other hosts
 *                   (openpmix issue 4225, fixed after the pinned snapshot): a respawn failed.
 *   --prtemca prte_keepalive_time T --prtemca prte_keepalive_intvl I --prtemca
 *   prte_keepalive_probes N  (keys prrte_keepalive_*, 2/1/3 by default, T = 0: none) TCP
 *                   keepalive between the daemons: a host that vanishes without closing its
 *                   connections (power loss, cut link) is declared lost after about T + I x N s
 *                   (3.7 s measured) instead of minutes.
 * Each option is left out when the user's own options or PRTE_MCA_/PMIX_MCA_ variables set it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "salrun.h"

#define BUILD_HINT "scripts/prrte.sh builds PRRTE 5 + PMIx 7 into a prefix"

int salrun_prrte_check(salrun_prrte_t *p, const char *prefix)
{
    char given[PATH_MAX], prterun[PATH_MAX + 16], found[PATH_MAX + 16];

    snprintf(given, sizeof(given), "%s", prefix); /* prefix may be p->prefix */
    if (!realpath(given, p->prefix))
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "PRRTE prefix %s (--prrte, key prrte_prefix): %s (" BUILD_HINT ")",
                           given, strerror(errno));
    snprintf(prterun, sizeof(prterun), "%s/bin/prterun", p->prefix);
    if (salrun_find_exe(prterun, found, sizeof(found)) != SAL_OK) {
        snprintf(found, sizeof(found), "%s", salrun_errmsg());
        return salrun_fail(SAL_ERR_NOT_FOUND,
                           "PRRTE prefix %s (--prrte, key prrte_prefix): %s (" BUILD_HINT ")",
                           given, found);
    }
    return SAL_OK;
}

int salrun_prrte_env(const salrun_prrte_t *p, salrun_argv_t *added)
{
    const char *map = getenv("PRTE_MCA_rmaps_default_mapping_policy");
    char prterun[PATH_MAX + 16];
    int rc;

    snprintf(prterun, sizeof(prterun), "%s/bin/prterun", p->prefix);
    if (setenv("OMPI_PRTERUN", prterun, 1) != 0)
        return salrun_fail(SAL_ERR_NOMEM, "setenv OMPI_PRTERUN: %s", strerror(errno));
    rc = salrun_argv_pushf(added, "OMPI_PRTERUN=%s", prterun);
    if (rc == SAL_OK && map)
        rc = salrun_env_default("PRTE_MCA_mapby", map, added);
    if (rc == SAL_OK)
        rc = salrun_env_default("PRTE_MCA_personality", "ompi", added);
    return rc;
}

/* Whether the user already sets what "opt [param]" sets: the word opt (followed by param when
 * param is not NULL) among the pass-through options, or the variable env_var (may be NULL). */
static int user_sets(const salrun_opts_t *o, const char *opt, const char *param,
                     const char *env_var)
{
    if (env_var && getenv(env_var))
        return 1;
    for (size_t i = 0; i < o->mpi_args.n; i++)
        if (strcmp(o->mpi_args.v[i], opt) == 0 &&
            (!param || (i + 1 < o->mpi_args.n && strcmp(o->mpi_args.v[i + 1], param) == 0)))
            return 1;
    return 0;
}

/* Appends "opt [param] value" (param may be NULL) unless the user sets it already (user_sets). */
static int push_unless_set(salrun_argv_t *args, const salrun_opts_t *o, const char *opt,
                           const char *param, const char *value, const char *env_var)
{
    int rc;

    if (user_sets(o, opt, param, env_var))
        return SAL_OK;
    rc = salrun_argv_push(args, opt);
    if (rc == SAL_OK && param)
        rc = salrun_argv_push(args, param);
    if (rc == SAL_OK)
        rc = salrun_argv_push(args, value);
    return rc;
}

int salrun_prrte_args(const salrun_prrte_t *p, const salrun_opts_t *o, salrun_argv_t *args)
{
    static const char *const keepalive[] = {"prte_keepalive_time", "prte_keepalive_intvl",
                                            "prte_keepalive_probes"};
    long values[3] = {p->keepalive_time, p->keepalive_intvl, p->keepalive_probes};
    char value[32], env_var[64];
    int rc = push_unless_set(args, o, "--prefix", NULL, p->prefix, NULL);

    if (rc == SAL_OK)
        rc = push_unless_set(args, o, "--pmixmca", "gds", "hash", "PMIX_MCA_gds");
    for (int i = 0; rc == SAL_OK && p->keepalive_time > 0 && i < 3; i++) {
        snprintf(value, sizeof(value), "%ld", values[i]);
        snprintf(env_var, sizeof(env_var), "PRTE_MCA_%s", keepalive[i]);
        rc = push_unless_set(args, o, "--prtemca", keepalive[i], value, env_var);
    }
    return rc;
}
