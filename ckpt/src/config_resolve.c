/*
 * The resolved job name and checkpoint directory (with their defaults taken from the program name,
 * the user and the machine's temporary directories) and the cross-key checks of
 * sal_config_validate. Contract in sal_config.h and config_internal.h.
 */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>
#include <salamander/sal_types.h>

#include "config_internal.h"
#include "fsutil.h"
#include "log.h"

static int job_check(const char *job)
{
    char buf[SAL_SHOWN_MAX + 4];

    if (!*job || sal_name_valid(job))
        return SAL_OK;
    return sal_error(SAL_ERR_CONFIG,
                     "invalid value \"%s\" for key job: expected 1 to %d letters, "
                     "digits, '_', '.' or '-', not starting with '.' or '-'",
                     sal_config_shown(job, buf), SAL_NAME_MAX - 1);
}

/* Login name of the effective user when it is a plain name, else the uid in decimal. */
static void user_name(char *buf, size_t size)
{
    char pwbuf[4096];
    struct passwd pw, *res = NULL;

    if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
        sal_name_valid(res->pw_name))
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%lu", (unsigned long)geteuid());
}

static int writable_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && access(path, W_OK | X_OK) == 0;
}

int sal_config_resolve_ckpt_dir(sal_config_t cfg, char *buf, unsigned long size)
{
    const sal_settings_t *set = sal_config_settings(cfg);
    const char *tmp = getenv("TMPDIR");
    char user[SAL_NAME_MAX];

    if (!cfg || !buf || size == 0)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration or empty buffer");
    if (set->ckpt_dir[0])
        return sal_path_join(buf, size, "%s", set->ckpt_dir);
    user_name(user, sizeof(user));
    if (writable_dir("/dev/shm"))
        return sal_path_join(buf, size, "/dev/shm/salamander-%s", user);
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    return sal_path_join(buf, size, "%s/salamander-%s", tmp, user);
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* The base name of argv0 as a valid name: other characters become '_', leading '.'/'-' dropped. */
static void job_from_argv0(const char *argv0, char out[SAL_NAME_MAX])
{
    size_t end = argv0 ? strlen(argv0) : 0, start, n = 0;

    while (end > 0 && argv0[end - 1] == '/')
        end--;
    for (start = end; start > 0 && argv0[start - 1] != '/'; start--)
        ;
    for (size_t i = start; i < end && n < SAL_NAME_MAX - 1; i++) {
        if (n == 0 && (argv0[i] == '.' || argv0[i] == '-'))
            continue;
        out[n++] = (char)(name_char(argv0[i]) ? argv0[i] : '_');
    }
    out[n] = '\0';
    if (n == 0)
        strcpy(out, "job");
}

int sal_config_resolve_job(sal_config_t cfg, const char *argv0, char *buf, unsigned long size)
{
    const sal_settings_t *set = sal_config_settings(cfg);
    char name[SAL_NAME_MAX];
    int rc;

    if (!cfg || !buf || size == 0)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration or empty buffer");
    if (set->job[0]) {
        rc = job_check(set->job);
        return rc == SAL_OK ? sal_path_join(buf, size, "%s", set->job) : rc;
    }
    job_from_argv0(argv0, name);
    return sal_path_join(buf, size, "%s", name);
}

/* Creates dir (mode 0700) when missing and checks that it is writable. */
static int dir_check(const char *key, const char *dir)
{
    char cause[512], buf[SAL_SHOWN_MAX + 4], env[SAL_ENV_NAME_MAX];
    int rc = sal_mkdir_p(dir, 0700);

    if (rc == SAL_OK)
        rc = sal_dir_writable(dir);
    if (rc == SAL_OK)
        return SAL_OK;
    snprintf(cause, sizeof(cause), "%s", sal_last_error());
    sal_config_env_name(sal_config_find_key(key), env, sizeof(env));
    return sal_error(SAL_ERR_CONFIG,
                     "%s = \"%s\" is not a writable directory (%s); set %s (or %s) "
                     "to a directory this user can create and write",
                     key, sal_config_shown(dir, buf), cause, key, env);
}

int sal_config_validate(sal_config_t cfg)
{
    const sal_settings_t *set = sal_config_settings(cfg);
    char dir[PATH_MAX];
    int rc;

    if (!cfg)
        return sal_error(SAL_ERR_INVALID_ARG, "NULL configuration");
    rc = job_check(set->job);
    if (rc == SAL_OK)
        rc = sal_config_resolve_ckpt_dir(cfg, dir, sizeof(dir));
    if (rc == SAL_OK)
        rc = dir_check("ckpt_dir", dir);
    if (rc == SAL_OK && set->log_dir[0])
        rc = dir_check("log_dir", set->log_dir);
    if (rc == SAL_OK && set->restart_from >= 0 && strcmp(set->restart, "never") == 0)
        rc = sal_error(SAL_ERR_CONFIG,
                       "restart = never and restart_from = %lld contradict each other: the job "
                       "either starts over from step 0 or restores checkpoint %lld",
                       (long long)set->restart_from, (long long)set->restart_from);
    return rc;
}
