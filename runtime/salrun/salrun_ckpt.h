/*
 * `salrun ckpt`, the checkpoint manager: the executable salrun-ckpt, which salrun runs for
 * `salrun ckpt ...` (docs/checkpoints.md). It reads checkpoints with the checkpoint library's own
 * readers and never calls MPI: salrun itself loads neither libmpi nor libhdf5.
 *
 *   salrun_ckpt.c         main, the subcommand table, the job directory's checkpoints
 *   salrun_ckpt_list.c    `list`: one line (or JSON object) per checkpoint
 *   salrun_ckpt_verify.c  `verify`: where a good copy of every rank's file is, restorable or not
 *   salrun_ckpt_prune.c   `prune`: all but the N newest committed checkpoints go
 *   salrun_ckpt_export.c  `export`: one plain HDF5 file of the global arrays
 *
 * Functions returning int return SAL_OK or a negative SAL_ERR_* code with the message for the user
 * recorded by salrun_fail().
 */
#ifndef SALRUN_CKPT_H
#define SALRUN_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aside.h"

/* Exit statuses of every subcommand. */
enum {
    SALRUN_CKPT_OK = 0,     /* done; verify: the checkpoint is restorable */
    SALRUN_CKPT_FAILED = 1, /* verify: not restorable or damaged; others: the operation failed */
    SALRUN_CKPT_USAGE = 2   /* usage error: nothing was read or changed */
};

/* Largest number of ckpt.<id> directories one job directory may hold for these commands. */
enum { SALRUN_CKPT_MAX = 4096 };

/* A job directory as the commit protocol left it (docs/format.md). */
typedef struct salrun_jobdir {
    const char *path;
    int has_latest;               /* 1: `latest` exists and names latest */
    int64_t latest;               /* the id `latest` names, -1 when none */
    char latest_error[512];       /* why `latest` is unusable, "" when fine or absent */
    int n;                        /* number of ckpt.<id> directories */
    int64_t ids[SALRUN_CKPT_MAX]; /* their ids, newest first */
    sal_aside_t aside;            /* the set-aside record (aside.h) */
    char aside_error[512];        /* why it is unusable, "" when fine or absent */
} salrun_jobdir_t;

/* Reads path's `latest` and lists its ckpt.<id> directories. SAL_ERR_IO when path cannot be
 * listed; a missing or unreadable `latest` is not an error (has_latest = 0, latest_error). */
int salrun_jobdir_read(const char *path, salrun_jobdir_t *j);
/* 1 when checkpoint id was committed: `latest` exists and names id or a newer one. */
int salrun_jobdir_committed(const salrun_jobdir_t *j, int64_t id);
/* 1 when the set-aside record names checkpoint id (0 when the record is unusable). */
int salrun_jobdir_aside(const salrun_jobdir_t *j, int64_t id);
/* <job dir>/ckpt.<id>[/name] into buf (name NULL: the directory). */
int salrun_ckpt_path(char *buf, size_t size, const char *job, int64_t id, const char *name);
/* The per-rank files of a checkpoint directory (docs/format.md). */
typedef enum salrun_file_kind {
    SALRUN_FILE_RANK,    /* rank.<r>.h5 */
    SALRUN_FILE_PARTNER, /* partner.<r>.h5 */
    SALRUN_FILE_PARITY   /* parity.<r>.xor */
} salrun_file_kind_t;
/* <dir>/<file of kind for rank r> into buf. */
int salrun_member_path(char *buf, size_t size, const char *dir, salrun_file_kind_t kind, int r);
/* Seconds since 1970 as "2025-01-31T12:00:00Z" into buf. */
const char *salrun_iso_time(double t, char *buf, size_t size);
/* 1 when path exists as a regular file (not a symbolic link) of at least one byte. */
int salrun_file_present(const char *path);
/* Parses a checkpoint id (decimal, >= 0). SAL_ERR_INVALID_ARG naming it otherwise. */
int salrun_parse_id(const char *text, int64_t *id);

/* The options of the subcommands; each accepts a subset (SALRUN_CKPT_OPT_*) and --help. */
enum {
    SALRUN_CKPT_OPT_JSON = 1,
    SALRUN_CKPT_OPT_DRY_RUN = 2,
    SALRUN_CKPT_OPT_FORCE = 4,
    SALRUN_CKPT_OPT_KEEP = 8,
    SALRUN_CKPT_OPT_PFS = 16,
    SALRUN_CKPT_OPT_UNCOMMITTED = 32
};
enum { SALRUN_CKPT_MAXPOS = 8 };

typedef struct salrun_ckpt_args {
    int help, json, dry_run, force, uncommitted;
    long keep;       /* --keep N, LONG_MIN when not given */
    const char *pfs; /* --pfs DIR, NULL when not given */
    int npos;        /* positional arguments */
    char *pos[SALRUN_CKPT_MAXPOS];
} salrun_ckpt_args_t;

/* Parses argv[1..argc) (argv[0] is the subcommand) into *a: the options in allowed, and from
 * minpos to maxpos positional arguments (a word after "--" is always positional).
 * SAL_ERR_INVALID_ARG with the offending word otherwise; with --help, SAL_OK and a->help = 1
 * whatever else is given. */
int salrun_ckpt_parse(int argc, char **argv, unsigned allowed, int minpos, int maxpos,
                      salrun_ckpt_args_t *a);

/* salrun_ckpt_parse, then: -1 when the subcommand goes on, else the exit status it returns at
 * once (usage error reported, or help printed on out). */
int salrun_ckpt_begin(int argc, char **argv, unsigned allowed, int minpos, int maxpos,
                      const char *help, FILE *out, salrun_ckpt_args_t *a);

/* The subcommands: argv[0] is the subcommand's name. They print their results on out and
 * return an exit status (SALRUN_CKPT_*), with the message of a failure printed on stderr. */
int salrun_ckpt_list(int argc, char **argv, FILE *out);
int salrun_ckpt_verify(int argc, char **argv, FILE *out);
int salrun_ckpt_prune(int argc, char **argv, FILE *out);
int salrun_ckpt_export(int argc, char **argv, FILE *out);

/* Prints "salrun ckpt <cmd>: error: <salrun_errmsg()>" and the hint to --help on stderr; returns
 * status. */
int salrun_ckpt_report(const char *cmd, int status);

#endif
