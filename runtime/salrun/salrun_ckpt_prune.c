/*
 * `salrun ckpt prune [--dry-run] [--uncommitted] DIR --keep N`: deletes every committed checkpoint
 * of a job directory but the N newest. The one `latest` names is always among them (N >= 1), and
 * nothing is deleted while `latest` is missing or unreadable: without it committed and uncommitted
 * checkpoints cannot be told apart (docs/format.md, "The commit point"). The checkpoints a restart
 * from an older one set aside (aside.h) are deleted and not counted among the N; so is then their
 * record.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "salrun.h"
#include "salrun_ckpt.h"

static const char prune_help[] =
    "usage: salrun ckpt prune [--dry-run] [--uncommitted] DIR --keep N\n\n"
    "Deletes every committed checkpoint of the job directory DIR (<ckpt_dir>/<job>, or the\n"
    "job's PFS directory) but the N newest; the one `latest` names is always kept. Refuses N < 1,\n"
    "and deletes nothing when `latest` is missing or unreadable or names a checkpoint that is not\n"
    "there. The checkpoints a restart from an older one set aside (salrun --restart-from) are\n"
    "deleted, not counted among the N. Prints one line per checkpoint deleted. Prune a job that\n"
    "is not running: a running job's next checkpoint reuses the files of its oldest one.\n\n"
    "  --keep N        committed checkpoints to keep (N >= 1)\n"
    "  --uncommitted   also delete the directories newer than `latest` (never committed; a\n"
    "                  running job may be writing one)\n"
    "  --dry-run       print what would be deleted, delete nothing\n"
    "  --help          this text\n\n"
    "Exit status: 0 done, 1 refused or a deletion failed, 2 usage error.\n";

static int has_id(const salrun_jobdir_t *j, int64_t id)
{
    for (int i = 0; i < j->n; i++)
        if (j->ids[i] == id)
            return 1;
    return 0;
}

static int remove_one(const salrun_jobdir_t *j, int64_t id, int dry_run, const char *why, FILE *out)
{
    char dir[PATH_MAX];
    int rc = salrun_ckpt_path(dir, sizeof(dir), j->path, id, NULL);

    if (rc != SAL_OK)
        return rc;
    if (!dry_run && sal_remove_tree(dir) != SAL_OK)
        return salrun_fail(SAL_ERR_IO, "%s", sal_last_error());
    fprintf(out, "%s %s (%s)\n", dry_run ? "would remove" : "removed", dir, why);
    return SAL_OK;
}

/* After every checkpoint set aside was deleted: their record, which could otherwise name the ids
 * of a job started over in the same directory. */
static int remove_aside_record(const salrun_jobdir_t *j, int dry_run)
{
    char path[PATH_MAX];
    int rc = dry_run || j->aside.n == 0
                 ? SAL_OK
                 : sal_path_join(path, sizeof(path), "%s/set_aside", j->path);

    if (rc == SAL_OK && !dry_run && j->aside.n > 0 && remove(path) != 0)
        rc = salrun_fail(SAL_ERR_IO, "cannot delete %s: %s", path, strerror(errno));
    return rc;
}

static int prune(const salrun_ckpt_args_t *a, const salrun_jobdir_t *j, FILE *out)
{
    char why[64];
    int kept = 0, rc = SAL_OK;

    if (j->aside_error[0])
        return salrun_fail(SAL_ERR_CORRUPT,
                           "%s: %s: cannot tell which checkpoints a restart set aside, nothing "
                           "deleted",
                           j->path, j->aside_error);

    if (!j->has_latest)
        return salrun_fail(SAL_ERR_NO_CKPT,
                           "%s: %s: cannot tell committed checkpoints from uncommitted ones, "
                           "nothing deleted",
                           j->path, j->latest_error[0] ? j->latest_error : "no latest");
    if (!has_id(j, j->latest))
        return salrun_fail(SAL_ERR_CORRUPT,
                           "%s: latest names ckpt.%" PRId64 ", which is not there: nothing "
                           "deleted",
                           j->path, j->latest);
    snprintf(why, sizeof(why), "older than the %ld newest committed", a->keep);
    for (int i = 0; i < j->n && rc == SAL_OK; i++) {
        if (j->ids[i] > j->latest) {
            if (a->uncommitted)
                rc = remove_one(j, j->ids[i], a->dry_run, "uncommitted: newer than latest", out);
            else
                fprintf(out, "kept %s/ckpt.%" PRId64 " (uncommitted: --uncommitted deletes it)\n",
                        j->path, j->ids[i]);
        } else if (salrun_jobdir_aside(j, j->ids[i]) && j->ids[i] != j->latest) {
            rc = remove_one(j, j->ids[i], a->dry_run, "set aside by a restart from an older one",
                            out);
        } else if (kept < a->keep) {
            kept++;
        } else {
            rc = remove_one(j, j->ids[i], a->dry_run, why, out);
        }
    }
    return rc == SAL_OK ? remove_aside_record(j, a->dry_run) : rc;
}

int salrun_ckpt_prune(int argc, char **argv, FILE *out)
{
    unsigned opts = SALRUN_CKPT_OPT_KEEP | SALRUN_CKPT_OPT_DRY_RUN | SALRUN_CKPT_OPT_UNCOMMITTED;
    salrun_ckpt_args_t a;
    salrun_jobdir_t j; /* 33 kB */
    int rc;

    rc = salrun_ckpt_begin(argc, argv, opts, 1, 1, prune_help, out, &a);
    if (rc >= 0)
        return rc;
    if (a.keep < 1) {
        salrun_fail(SAL_ERR_INVALID_ARG, a.keep == LONG_MIN
                                             ? "--keep N is required"
                                             : "--keep must be at least 1 (the "
                                               "checkpoint latest names is never deleted)");
        return salrun_ckpt_report("prune", SALRUN_CKPT_USAGE);
    }
    rc = salrun_jobdir_read(a.pos[0], &j);
    if (rc == SAL_OK)
        rc = prune(&a, &j, out);
    return rc == SAL_OK ? SALRUN_CKPT_OK : salrun_ckpt_report("prune", SALRUN_CKPT_FAILED);
}
