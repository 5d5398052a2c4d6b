/*
 * The command line of salrun: one table of options drives the parser and --help.
 *
 * Rule for mpiexec options (docs/salrun.md, "Passing options to mpiexec"): a word before the
 * program that starts with '-' and is not a salrun option is passed to mpiexec unchanged,
 * "--opt=value" as
 * "--opt value". When the command line contains "--", the words after such an option up to the next
 * word starting with '-' are its values ("--mca btl tcp,self -- ./app"); without "--" the first
 * word not starting with '-' is the program.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_config.h>
#include <salamander/sal_error.h>

#include "salrun.h"
#include "salrun_build.h"

const char *const salrun_cfg_keys[SALRUN_NCFG] = {
    "job",    "ckpt_dir", "log_dir",      "interval",     "policy",  "inject",
    "spares", "pfs_dir",  "prrte_prefix", "restart_from", "rollback"};

typedef enum opt_id {
    O_NP,
    O_CFG, /* a configuration key: cfg_index says which */
    O_CONFIG,
    O_MAX_RESTARTS,
    O_RESTART_DELAY,
    O_HOSTFILE,
    O_PROBE_TIMEOUT,
    O_RELAUNCH_RANKS,
    O_START_TIMEOUT,
    O_MPIEXEC,
    O_LAUNCHER,
    O_NO_ULFM,
    O_TRUST_EXIT,
    O_QUIET,
    O_JSON,
    O_DRY_RUN,
    O_HELP,
    O_HELP_CONFIG,
    O_VERSION
} opt_id_t;

typedef struct option_def {
    const char *name, *alias; /* alias may be NULL */
    const char *arg;          /* metavariable; NULL for a flag */
    opt_id_t id;
    int cfg_index; /* SALRUN_CFG_* for O_CFG */
    const char *help;
    const char *def; /* default shown by --help; NULL = none, or the registry's for O_CFG */
} option_def_t;

static const option_def_t options[] = {
    {"-n", "-np", "N", O_NP, 0, "number of ranks", "one per slot, as mpiexec decides"},
    {"--job", NULL, "NAME", O_CFG, SALRUN_CFG_JOB,
     "job name: names the checkpoint directory and the event log", "the program's base name"},
    {"--ckpt-dir", NULL, "DIR", O_CFG, SALRUN_CFG_CKPT_DIR, "node-local checkpoint directory",
     "/dev/shm/salamander-USER"},
    {"--log-dir", NULL, "DIR", O_CFG, SALRUN_CFG_LOG_DIR,
     "directory of the event log JOB.events.jsonl", "the checkpoint directory"},
    {"--interval", NULL, "SPEC", O_CFG, SALRUN_CFG_INTERVAL,
     "checkpoint every N steps, every Ns seconds, or 0 = never", NULL},
    {"--policy", NULL, "P", O_CFG, SALRUN_CFG_POLICY,
     "recovery after a process failure: respawn, spares, shrink or a chain like spares,respawn",
     NULL},
    {"--rollback", NULL, "R", O_CFG, SALRUN_CFG_ROLLBACK,
     "what a failure rolls back: global (every rank, to the last checkpoint) or local (only the "
     "replacement re-executes, from the survivors' message logs; docs/recovery.md)",
     NULL},
    {"--spares", NULL, "S", O_CFG, SALRUN_CFG_SPARES,
     "launch S more ranks that park as spares (policy spares); -n N runs N + S processes", "0"},
    {"--pfs-dir", NULL, "DIR", O_CFG, SALRUN_CFG_PFS_DIR,
     "parallel-file-system directory for level-4 copies of the checkpoints", "none"},
    {"--inject", NULL, "SPEC", O_CFG, SALRUN_CFG_INJECT,
     "fault injection, e.g. 'rank=1,step=40,signal=KILL' (docs/inject.md)", "none"},
    {"--restart-from", NULL, "ID", O_CFG, SALRUN_CFG_RESTART_FROM,
     "restore checkpoint ID instead of the newest committed one, or fail; the newer ones are set "
     "aside until salrun ckpt prune; relaunches resume from the job's own checkpoints once it has "
     "committed one (docs/checkpoints.md)",
     "off"},
    {"--config", NULL, "FILE", O_CONFIG, 0, "INI configuration file (becomes SAL_CONFIG)", "none"},
    {"--max-restarts", NULL, "N", O_MAX_RESTARTS, 0,
     "relaunches after the job dies (0 = never relaunch)", "3"},
    {"--restart-delay", NULL, "SECONDS", O_RESTART_DELAY, 0,
     "wait before the first relaunch; doubles each time, at most 30 s", "1"},
    {"--hostfile", "--machinefile", "FILE", O_HOSTFILE, 0,
     "hosts for mpiexec, one per line with optional slots=N (docs/salrun.md, \"Hostfiles\"); a "
     "relaunch leaves out the hosts that failed",
     "the local host, or the Slurm allocation"},
    {"--probe-timeout", NULL, "SECONDS", O_PROBE_TIMEOUT, 0,
     "before a relaunch, each host of the job must start a process within this time or it is "
     "left out (0 = no probe)",
     "20"},
    {"--relaunch-ranks", NULL, "R", O_RELAUNCH_RANKS, 0,
     "same: a relaunch without failed hosts runs -n ranks (oversubscribing the hosts left); fit: "
     "as many as the slots=N of the hosts left, if fewer (the job restores its checkpoint on "
     "that many ranks)",
     "same"},
    {"--prrte", NULL, "PREFIX", O_CFG, SALRUN_CFG_PRRTE_PREFIX,
     "run mpiexec over the PRRTE >= 5 + PMIx >= 7 installed in PREFIX (scripts/prrte.sh): a ULFM "
     "job then survives the loss of a host other than salrun's (docs/cluster.md)",
     "Open MPI's own PRRTE"},
    {"--start-timeout", NULL, "SECONDS", O_START_TIMEOUT, 0,
     "a relaunch none of whose ranks has started (written its first event) within this time is "
     "ended and counts as failed (0 = wait for ever)",
     "120"},
    {"--mpiexec", NULL, "PATH", O_MPIEXEC, 0, "the mpiexec to run",
     "$SAL_MPIEXEC, else " SALRUN_MPIEXEC},
    {"--launcher", NULL, "L", O_LAUNCHER, 0,
     "mpiexec, srun (relaunch mode only: ULFM needs mpiexec), or auto: srun inside a Slurm "
     "allocation when the job runs without ULFM, else mpiexec",
     "auto"},
    {"--no-ulfm", NULL, NULL, O_NO_ULFM, 0,
     "run without ULFM fault tolerance: any failure ends the launch, salrun relaunches", NULL},
    {"--trust-exit", NULL, NULL, O_TRUST_EXIT, 0,
     "for a program that does not use Salamander: mpiexec's exit status 0 means success (else "
     "success needs every rank's finish in the event log)",
     NULL},
    {"--quiet", NULL, NULL, O_QUIET, 0, "no progress lines, only errors", NULL},
    {"--json", NULL, NULL, O_JSON, 0, "progress lines on stderr as JSON objects", NULL},
    {"--dry-run", NULL, NULL, O_DRY_RUN, 0,
     "check everything, print the mpiexec command line on stdout, launch nothing", NULL},
    {"--help", "-h", NULL, O_HELP, 0, "this help", NULL},
    {"--help-config", NULL, NULL, O_HELP_CONFIG, 0,
     "every configuration key with its default and SAL_* variable", NULL},
    {"--version", NULL, NULL, O_VERSION, 0, "version, ULFM support and the mpiexec used", NULL},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* The option named by word (up to '=' for long options), or NULL; [OUT] *value after '=' or NULL.
 */
static const option_def_t *lookup(const char *word, const char **value)
{
    size_t len = strlen(word);
    const char *eq = strncmp(word, "--", 2) == 0 ? strchr(word, '=') : NULL;

    if (eq)
        len = (size_t)(eq - word);
    *value = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_def_t *d = &options[i];

        if ((strlen(d->name) == len && strncmp(d->name, word, len) == 0) ||
            (d->alias && strlen(d->alias) == len && strncmp(d->alias, word, len) == 0))
            return d;
    }
    return NULL;
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    /* Not NULL: parse_args gives every option that takes an argument its value. */
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return salrun_fail(SAL_ERR_INVALID_ARG,
                           "invalid value \"%s\" for %s: expected an integer "
                           "from %ld to %ld",
                           text, opt, min, max);
    *out = v;
    return SAL_OK;
}

static int parse_seconds(const char *opt, const char *text, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    /* Not NULL: parse_args gives every option that takes an argument its value. */
    /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
    v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= 0 && v <= max))
        return salrun_fail(SAL_ERR_INVALID_ARG,
                           "invalid value \"%s\" for %s: expected seconds "
                           "from 0 to %g",
                           text, opt, max);
    *out = v;
    return SAL_OK;
}

/* Applies option d with value v (NULL for a flag). */
static int apply(salrun_opts_t *o, const option_def_t *d, const char *v, salrun_action_t *action)
{
    switch (d->id) {
    case O_NP:
        return parse_long(d->name, v, 1, INT_MAX, &o->np);
    case O_CFG:
        o->cfg[d->cfg_index] = v;
        return SAL_OK;
    case O_CONFIG:
        o->config_file = v;
        return SAL_OK;
    case O_MAX_RESTARTS:
        return parse_long(d->name, v, 0, 1000000, &o->max_restarts);
    case O_RESTART_DELAY:
        return parse_seconds(d->name, v, 3600, &o->restart_delay);
    case O_HOSTFILE:
        o->hostfile = v;
        return SAL_OK;
    case O_PROBE_TIMEOUT:
        return parse_seconds(d->name, v, 3600, &o->probe_timeout);
    case O_START_TIMEOUT:
        return parse_seconds(d->name, v, 86400, &o->start_timeout);
    case O_RELAUNCH_RANKS:
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): it takes an argument */
        if (strcmp(v, "same") != 0 && strcmp(v, "fit") != 0)
            return salrun_fail(SAL_ERR_INVALID_ARG,
                               "invalid value \"%s\" for --relaunch-ranks: expected same or fit",
                               v);
        o->relaunch_fit = strcmp(v, "fit") == 0;
        return SAL_OK;
    case O_MPIEXEC:
        o->mpiexec = v;
        return SAL_OK;
    case O_LAUNCHER:
        /* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): --launcher takes an argument */
        if (strcmp(v, "auto") != 0 && strcmp(v, "mpiexec") != 0 && strcmp(v, "srun") != 0)
            return salrun_fail(SAL_ERR_INVALID_ARG,
                               "invalid value \"%s\" for --launcher: expected auto, mpiexec or "
                               "srun",
                               v);
        o->launcher = v;
        return SAL_OK;
    case O_NO_ULFM:
        o->no_ulfm = 1;
        return SAL_OK;
    case O_TRUST_EXIT:
        o->trust_exit = 1;
        return SAL_OK;
    case O_QUIET:
        o->quiet = 1;
        return SAL_OK;
    case O_JSON:
        o->json = 1;
        return SAL_OK;
    case O_DRY_RUN:
        o->dry_run = 1;
        return SAL_OK;
    case O_HELP:
        *action = SALRUN_DO_HELP;
        return SAL_OK;
    case O_HELP_CONFIG:
        *action = SALRUN_DO_HELP_CONFIG;
        return SAL_OK;
    case O_VERSION:
        *action = SALRUN_DO_VERSION;
        return SAL_OK;
    }
    return salrun_fail(SAL_ERR_INVALID_ARG, "internal error: option %s", d->name);
}

/* An mpiexec option at argv[*i]; with has_dashdash, the following words not starting with '-' are
 * its values. Advances *i past what it consumed. */
static int pass_through(salrun_opts_t *o, int argc, char **argv, int *i, int has_dashdash)
{
    const char *w = argv[*i], *eq = strncmp(w, "--", 2) == 0 ? strchr(w, '=') : NULL;
    int rc = eq ? salrun_argv_pushf(&o->mpi_args, "%.*s", (int)(eq - w), w)
                : salrun_argv_push(&o->mpi_args, w);

    if (rc == SAL_OK && eq)
        rc = salrun_argv_push(&o->mpi_args, eq + 1);
    for (++*i; rc == SAL_OK && has_dashdash && *i < argc && argv[*i][0] != '-'; ++*i)
        rc = salrun_argv_push(&o->mpi_args, argv[*i]);
    return rc;
}

static void opts_init(salrun_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->np = -1;
    o->max_restarts = 3;
    o->restart_delay = 1.0;
    o->probe_timeout = 20.0;
    o->start_timeout = 120.0;
}

static int parse_report(int argc, char **argv, salrun_opts_t *o, salrun_action_t *action)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        *action = SALRUN_DO_HELP;
        return SAL_OK;
    }
    if (argc != 2 || argv[1][0] == '\0')
        return salrun_fail(SAL_ERR_INVALID_ARG, "usage: salrun report EVENTLOG");
    *action = SALRUN_DO_REPORT;
    o->prog = argv + 1;
    return SAL_OK;
}

int salrun_parse_args(int argc, char **argv, salrun_opts_t *o, salrun_action_t *action)
{
    int has_dashdash = 0, i = 0, rc = SAL_OK;

    opts_init(o);
    *action = SALRUN_DO_RUN;
    if (argc > 0 && strcmp(argv[0], "report") == 0)
        return parse_report(argc, argv, o, action);
    if (argc > 0 && strcmp(argv[0], "ckpt") == 0) {
        *action = SALRUN_DO_CKPT;
        o->prog = argv + 1;
        return SAL_OK;
    }
    for (int j = 0; j < argc; j++)
        has_dashdash |= strcmp(argv[j], "--") == 0;
    while (rc == SAL_OK && *action == SALRUN_DO_RUN && i < argc) {
        const char *w = argv[i], *value;
        const option_def_t *d;

        if (strcmp(w, "--") == 0 || w[0] != '-' || w[1] == '\0') {
            i += strcmp(w, "--") == 0;
            o->prog = i < argc ? argv + i : NULL;
            break;
        }
        d = lookup(w, &value);
        if (!d) {
            rc = pass_through(o, argc, argv, &i, has_dashdash);
            continue;
        }
        if (d->arg && !value && i + 1 >= argc)
            return salrun_fail(SAL_ERR_INVALID_ARG, "option %s needs a value (%s)", d->name,
                               d->arg);
        if (!d->arg && value)
            return salrun_fail(SAL_ERR_INVALID_ARG, "option %s takes no value", d->name);
        if (d->arg && !value)
            value = argv[++i];
        rc = apply(o, d, value, action);
        i++;
    }
    if (rc == SAL_OK && *action == SALRUN_DO_RUN && !o->prog)
        rc = salrun_fail(SAL_ERR_INVALID_ARG,
                         "no program to run: salrun [OPTIONS] [--] PROGRAM [ARGS]");
    return rc;
}

void salrun_opts_free(salrun_opts_t *o)
{
    salrun_argv_free(&o->mpi_args);
}

/* The default shown for option d: its own text, else the configuration registry's default. */
static const char *shown_default(const option_def_t *d, sal_config_t cfg)
{
    const char *v = NULL;

    if (d->def || d->id != O_CFG || !cfg)
        return d->def;
    if (sal_config_get(cfg, salrun_cfg_keys[d->cfg_index], &v) != SAL_OK || !v || !*v)
        return NULL;
    return v;
}

/* Prints "  left  text" with text wrapped at 100 columns under itself. */
static void print_wrapped(FILE *out, const char *left, const char *text)
{
    enum { INDENT = 26, WIDTH = 100 };
    int col = fprintf(out, "  %-*s", INDENT - 3, left);

    if (col >= INDENT) {
        fprintf(out, "\n%*s", INDENT - 1, "");
        col = INDENT - 1;
    }
    while (*text) {
        size_t word = strcspn(text, " ");

        if (col + 1 + (int)word > WIDTH && col > INDENT) {
            fprintf(out, "\n%*s", INDENT - 1, "");
            col = INDENT - 1;
        }
        col += fprintf(out, " %.*s", (int)word, text);
        text += word;
        text += strspn(text, " ");
    }
    fputc('\n', out);
}

void salrun_print_help(FILE *out)
{
    sal_config_t cfg = NULL;

    sal_config_create(&cfg);
    fputs(
        "Usage: salrun [OPTIONS] [MPIEXEC OPTIONS] [--] PROGRAM [ARGS...]\n"
        "       salrun report EVENTLOG\n"
        "       salrun ckpt list|verify|prune|export ... (salrun ckpt --help)\n\n"
        "Runs PROGRAM under mpiexec with fault tolerance, prints one line per checkpoint, failure\n"
        "and recovery on stderr, and relaunches the job from its last committed checkpoint when\n"
        "it dies. `salrun report` prints the summary of a job's event log.\n\nOptions:\n",
        out);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_def_t *d = &options[i];
        const char *def = shown_default(d, cfg);
        char left[64], text[512];
        int n;

        snprintf(left, sizeof(left), "%s%s%s%s%s", d->name, d->alias ? ", " : "",
                 d->alias ? d->alias : "", d->arg ? " " : "", d->arg ? d->arg : "");
        n = snprintf(text, sizeof(text), "%s", d->help);
        if (d->id == O_CFG)
            n += snprintf(text + n, sizeof(text) - (size_t)n, " [key %s]",
                          salrun_cfg_keys[d->cfg_index]);
        if (def)
            snprintf(text + n, sizeof(text) - (size_t)n, " (default: %s)", def);
        print_wrapped(out, left, text);
    }
    fputs("\nMPIEXEC OPTIONS: any other word starting with '-' before PROGRAM goes to mpiexec;\n"
          "--opt=value is passed as --opt value. Options whose values are separate words need\n"
          "`--` before PROGRAM:  salrun -n 4 --mca btl tcp,self -- ./app\n\n"
          "Configuration: flags > SAL_<KEY> environment > --config/SAL_CONFIG file > defaults\n"
          "(salrun --help-config lists every key). Environment: SAL_MPIEXEC overrides the "
          "mpiexec.\n\n"
          "Exit status: 0 the job finished; 1 it failed and no restart was left; 2 usage or\n"
          "configuration error (nothing launched); 127 PROGRAM or mpiexec not found; 128+N salrun\n"
          "was stopped by signal N (forwarded to the job). See docs/salrun.md.\n",
          out);
    sal_config_destroy(&cfg);
}
