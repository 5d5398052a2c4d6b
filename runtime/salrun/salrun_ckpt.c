/*
 * salrun-ckpt: the checkpoint manager behind `salrun ckpt` (docs/checkpoints.md). main, the
 * subcommand table, the option parser every subcommand shares, and the job directory as the
 * commit protocol leaves it.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <salamander/sal_error.h>

#include "ckpt_impl.h"
#include "fsutil.h"
#include "log.h"
#include "manifest.h"
#include "salrun.h"
#include "salrun_ckpt.h"

int salrun_ckpt_report(const char *cmd, int status)
{
    fprintf(stderr, "salrun ckpt %s: error: %s\n", cmd, salrun_errmsg());
    if (status == SALRUN_CKPT_USAGE)
        fprintf(stderr, "Try 'salrun ckpt %s --help'.\n", cmd);
    return status;
}

int salrun_parse_id(const char *text, int64_t *id)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || text[0] == '+' || text[0] == ' ')
        return salrun_fail(SAL_ERR_INVALID_ARG, "'%s' is not a checkpoint id (0, 1, 2, ...)", text);
    *id = v;
    return SAL_OK;
}

/* The value of option word argv[*i] (--opt VALUE or --opt=VALUE). */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);

    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return SAL_OK;
    }
    if (*i + 1 >= argc)
        return salrun_fail(SAL_ERR_INVALID_ARG, "%s needs a value", name);
    *value = argv[++*i];
    return SAL_OK;
}

static int is_opt(const char *word, const char *name, int with_value)
{
    size_t n = strlen(name);

    return strncmp(word, name, n) == 0 && (word[n] == '\0' || (with_value && word[n] == '='));
}

static int parse_keep(const char *text, long *keep)
{
    char *end;

    errno = 0;
    *keep = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return salrun_fail(SAL_ERR_INVALID_ARG, "--keep '%s' is not a whole number", text);
    return SAL_OK;
}

/* One option word; SAL_ERR_INVALID_ARG when it is none of the allowed ones. */
static int parse_option(int argc, char **argv, int *i, unsigned allowed, salrun_ckpt_args_t *a)
{
    const char *w = argv[*i], *v = NULL;
    int rc = SAL_OK;

    if ((allowed & SALRUN_CKPT_OPT_JSON) && is_opt(w, "--json", 0))
        a->json = 1;
    else if ((allowed & SALRUN_CKPT_OPT_DRY_RUN) && is_opt(w, "--dry-run", 0))
        a->dry_run = 1;
    else if ((allowed & SALRUN_CKPT_OPT_FORCE) && is_opt(w, "--force", 0))
        a->force = 1;
    else if ((allowed & SALRUN_CKPT_OPT_UNCOMMITTED) && is_opt(w, "--uncommitted", 0))
        a->uncommitted = 1;
    else if ((allowed & SALRUN_CKPT_OPT_KEEP) && is_opt(w, "--keep", 1)) {
        rc = option_value(argc, argv, i, "--keep", &v);
        if (rc == SAL_OK && v)
            rc = parse_keep(v, &a->keep);
    } else if ((allowed & SALRUN_CKPT_OPT_PFS) && is_opt(w, "--pfs", 1)) {
        rc = option_value(argc, argv, i, "--pfs", &a->pfs);
    } else
        rc = salrun_fail(SAL_ERR_INVALID_ARG, "unknown option '%s'", w);
    return rc;
}

int salrun_ckpt_parse(int argc, char **argv, unsigned allowed, int minpos, int maxpos,
                      salrun_ckpt_args_t *a)
{
    int dashdash = 0, rc = SAL_OK;

    memset(a, 0, sizeof(*a));
    a->keep = LONG_MIN;
    for (int i = 1; i < argc; i++)
        a->help |= !dashdash && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0);
    for (int i = 1; i < argc && rc == SAL_OK && !a->help; i++) {
        if (!dashdash && strcmp(argv[i], "--") == 0)
            dashdash = 1;
        else if (!dashdash && argv[i][0] == '-' && argv[i][1] != '\0')
            rc = parse_option(argc, argv, &i, allowed, a);
        else if (a->npos < maxpos && argv[i][0] != '\0')
            a->pos[a->npos++] = argv[i];
        else
            rc = salrun_fail(SAL_ERR_INVALID_ARG, "unexpected argument '%s'", argv[i]);
    }
    if (rc == SAL_OK && !a->help && a->npos < minpos)
        rc = salrun_fail(SAL_ERR_INVALID_ARG, "missing argument (%d given, %d needed)", a->npos,
                         minpos);
    return rc == SAL_OK ? SAL_OK : SAL_ERR_INVALID_ARG;
}

int salrun_ckpt_begin(int argc, char **argv, unsigned allowed, int minpos, int maxpos,
                      const char *help, FILE *out, salrun_ckpt_args_t *a)
{
    if (salrun_ckpt_parse(argc, argv, allowed, minpos, maxpos, a) != SAL_OK)
        return salrun_ckpt_report(argv[0], SALRUN_CKPT_USAGE);
    if (a->help) {
        fputs(help, out);
        return SALRUN_CKPT_OK;
    }
    return -1;
}

int salrun_ckpt_path(char *buf, size_t size, const char *job, int64_t id, const char *name)
{
    int rc = name ? sal_path_join(buf, size, "%s/ckpt.%" PRId64 "/%s", job, id, name)
                  : sal_path_join(buf, size, "%s/ckpt.%" PRId64, job, id);

    return rc == SAL_OK ? SAL_OK : salrun_fail(rc, "%s", sal_last_error());
}

int salrun_member_path(char *buf, size_t size, const char *dir, salrun_file_kind_t kind, int r)
{
    static const char *const prefix[] = {"rank", "partner", "parity"};
    int rc = sal_path_join(buf, size, "%s/%s.%d.%s", dir, prefix[kind], r,
                           kind == SALRUN_FILE_PARITY ? "xor" : "h5");

    return rc == SAL_OK ? SAL_OK : salrun_fail(rc, "%s", sal_last_error());
}

const char *salrun_iso_time(double t, char *buf, size_t size)
{
    time_t s = (time_t)t;
    struct tm tm;

    if (t < 0 || t > 253402300799.0 || !gmtime_r(&s, &tm) ||
        strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "?");
    return buf;
}

int salrun_file_present(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

int salrun_jobdir_read(const char *path, salrun_jobdir_t *j)
{
    int rc;

    memset(j, 0, sizeof(*j));
    j->path = path;
    j->latest = -1;
    rc = sal_latest_read(path, &j->latest);
    if (rc == SAL_OK)
        j->has_latest = 1;
    else if (rc != SAL_ERR_NO_CKPT)
        snprintf(j->latest_error, sizeof(j->latest_error), "%s", sal_last_error());
    if (rc != SAL_OK)
        j->latest = -1;
    if (sal_aside_load(path, &j->aside) != SAL_OK)
        snprintf(j->aside_error, sizeof(j->aside_error), "%s", sal_last_error());
    rc = sal_ckpt_list_dirs(path, j->ids, SALRUN_CKPT_MAX, &j->n);
    return rc == SAL_OK ? SAL_OK : salrun_fail(rc, "%s", sal_last_error());
}

int salrun_jobdir_committed(const salrun_jobdir_t *j, int64_t id)
{
    return j->has_latest && id <= j->latest;
}

int salrun_jobdir_aside(const salrun_jobdir_t *j, int64_t id)
{
    return !j->aside.unknown && sal_aside_has(&j->aside, id);
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv, FILE *out);
} commands[] = {
    {"list", salrun_ckpt_list},
    {"verify", salrun_ckpt_verify},
    {"prune", salrun_ckpt_prune},
    {"export", salrun_ckpt_export},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: salrun ckpt list [--json] DIR [PFS_DIR]\n"
            "       salrun ckpt verify [--pfs PFS_DIR] DIR [ID]\n"
            "       salrun ckpt prune [--dry-run] [--uncommitted] DIR --keep N\n"
            "       salrun ckpt export [--force] DIR ID FILE\n\n"
            "Lists, verifies, prunes and exports the checkpoints of a job directory\n"
            "(<ckpt_dir>/<job>) without an MPI launch. 'salrun ckpt COMMAND --help' describes\n"
            "each command (docs/checkpoints.md).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SALRUN_CKPT_USAGE : SALRUN_CKPT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1, stdout);
    fprintf(stderr, "salrun ckpt: error: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return SALRUN_CKPT_USAGE;
}
