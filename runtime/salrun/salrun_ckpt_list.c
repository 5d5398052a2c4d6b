/*
 * `salrun ckpt list [--json] DIR [PFS_DIR]`: one line per checkpoint of a job directory (and of
 * its copy on the parallel file system): id, step, time, ranks, bytes, the files of each level
 * present, committed or not, and the one `latest` names. Files are counted, not read: `verify`
 * reads them.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "events.h"
#include "levels.h"
#include "manifest.h"
#include "salrun.h"
#include "salrun_ckpt.h"

static const char list_help[] =
    "usage: salrun ckpt list [--json] DIR [PFS_DIR]\n\n"
    "One line per checkpoint of the job directory DIR (<ckpt_dir>/<job>) and, when given, of its\n"
    "copy PFS_DIR (<pfs_dir>/<job>): id, step, time (UTC), ranks, bytes, the files present of\n"
    "each level (L1 rank.<r>.h5, L2 partner.<r>.h5, L3 parity.<r>.xor, as present/ranks; L4 yes\n"
    "when the PFS copy is complete), whether it was committed, and which one `latest` names.\n\n"
    "  --json   one JSON object per line and checkpoint (JSON Lines), newest first\n"
    "  --help   this text\n\n"
    "Exit status: 0 listed, 1 a directory cannot be read, 2 usage error.\n";

/* What list shows of one checkpoint. */
typedef struct ckpt_row {
    int64_t id;
    int have_manifest;
    sal_manifest_t m;
    char manifest_error[512];
    int mask;   /* levels written, from the levels record; 0 when it is unreadable */
    int nranks; /* from the manifest, else the levels record, else 0 */
    int l1, l2, l3;
    int flushed, pfs, local;
    int pending; /* async_levels: a `pending` file names levels still being encoded */
    int committed, latest, aside;
} ckpt_row_t;

static int count_files(const char *job, int64_t id, salrun_file_kind_t kind, int nranks)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int n = 0;

    if (salrun_ckpt_path(dir, sizeof(dir), job, id, NULL) != SAL_OK)
        return 0;
    for (int r = 0; r < nranks; r++)
        if (salrun_member_path(path, sizeof(path), dir, kind, r) == SAL_OK)
            n += salrun_file_present(path);
    return n;
}

static void read_levels(const char *job, int64_t id, ckpt_row_t *row)
{
    char dir[PATH_MAX], *text = NULL;
    size_t len;
    sal_levels_info_t info;

    if (salrun_ckpt_path(dir, sizeof(dir), job, id, NULL) != SAL_OK ||
        sal_levels_load_text(dir, &text, &len) != SAL_OK)
        return;
    if (sal_levels_parse_text(dir, text, &info) == SAL_OK) {
        row->mask = info.mask;
        if (row->nranks == 0)
            row->nranks = info.topo.nranks;
        sal_levels_info_free(&info);
    }
    free(text);
}

static void read_manifest(const char *job, int64_t id, ckpt_row_t *row)
{
    char dir[PATH_MAX];

    if (row->have_manifest || salrun_ckpt_path(dir, sizeof(dir), job, id, NULL) != SAL_OK)
        return;
    memset(&row->m, 0, sizeof(row->m));
    if (sal_manifest_read(dir, &row->m) == SAL_OK) {
        row->have_manifest = 1;
        row->nranks = row->m.nranks;
        row->manifest_error[0] = '\0';
    } else {
        sal_manifest_free(&row->m);
        if (row->manifest_error[0] == '\0')
            snprintf(row->manifest_error, sizeof(row->manifest_error), "%s", sal_last_error());
    }
}

static int has_id(const salrun_jobdir_t *j, int64_t id)
{
    for (int i = 0; j && i < j->n; i++)
        if (j->ids[i] == id)
            return 1;
    return 0;
}

static void fill_row(const salrun_jobdir_t *loc, const salrun_jobdir_t *pfs, int64_t id,
                     ckpt_row_t *row)
{
    char path[PATH_MAX];

    memset(row, 0, sizeof(*row));
    row->id = id;
    row->local = has_id(loc, id);
    if (row->local)
        read_manifest(loc->path, id, row);
    if (pfs && has_id(pfs, id)) {
        row->pfs = salrun_jobdir_committed(pfs, id) &&
                   salrun_ckpt_path(path, sizeof(path), pfs->path, id, "manifest.h5") == SAL_OK &&
                   salrun_file_present(path);
        read_manifest(pfs->path, id, row);
    }
    read_levels(row->local || !pfs ? loc->path : pfs->path, id, row);
    if (row->local) {
        row->l1 = count_files(loc->path, id, SALRUN_FILE_RANK, row->nranks);
        row->l2 = count_files(loc->path, id, SALRUN_FILE_PARTNER, row->nranks);
        row->l3 = count_files(loc->path, id, SALRUN_FILE_PARITY, row->nranks);
        row->flushed = salrun_ckpt_path(path, sizeof(path), loc->path, id, "flushed") == SAL_OK &&
                       salrun_file_present(path);
        row->pending = salrun_ckpt_path(path, sizeof(path), loc->path, id, "pending") == SAL_OK &&
                       salrun_file_present(path);
    }
    row->committed = salrun_jobdir_committed(loc, id) || (pfs && salrun_jobdir_committed(pfs, id));
    row->latest =
        (loc->has_latest && loc->latest == id) || (pfs && pfs->has_latest && pfs->latest == id);
    row->aside = salrun_jobdir_aside(loc, id);
}

static const char *level_cell(int present, int nranks, char *buf, size_t size)
{
    if (present == 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%d/%d", present, nranks);
    return buf;
}

static void print_text(FILE *out, const ckpt_row_t *r)
{
    char when[32] = "?", step[24] = "?", bytes[24] = "?", c1[24], c2[24], c3[24], lv[32] = "?";

    if (r->have_manifest) {
        salrun_iso_time(r->m.time, when, sizeof(when));
        snprintf(step, sizeof(step), "%" PRId64, r->m.step);
        snprintf(bytes, sizeof(bytes), "%" PRId64, r->m.bytes);
    }
    if (r->mask)
        sal_levels_name(r->mask, lv, sizeof(lv));
    fprintf(out, "%6" PRId64 " %8s  %-20s %5d %12s  %-8s %-5s %-5s %-5s %-3s  %s%s%s%s%s%s\n",
            r->id, step, when, r->nranks, bytes, lv, level_cell(r->l1, r->nranks, c1, sizeof(c1)),
            level_cell(r->l2, r->nranks, c2, sizeof(c2)),
            level_cell(r->l3, r->nranks, c3, sizeof(c3)), r->pfs || r->flushed ? "yes" : "-",
            r->committed ? "committed" : "uncommitted", r->latest ? ", latest" : "",
            r->aside ? ", set aside" : "", r->have_manifest ? "" : ", no valid manifest",
            r->local ? "" : ", PFS only", r->pending ? ", levels pending" : "");
}

static void print_json(FILE *out, const ckpt_row_t *r)
{
    char when[32] = "", lv[32] = "", err[1200] = "";

    if (r->have_manifest)
        salrun_iso_time(r->m.time, when, sizeof(when));
    if (r->mask)
        sal_levels_name(r->mask, lv, sizeof(lv));
    sal_json_escape(err, sizeof(err), r->manifest_error);
    fprintf(out,
            "{\"id\":%" PRId64 ",\"step\":%" PRId64 ",\"time\":%.6f,\"utc\":\"%s\","
            "\"nranks\":%d,\"bytes\":%" PRId64 ",\"levels\":\"%s\",\"l1\":%d,\"l2\":%d,\"l3\":%d,"
            "\"flushed\":%s,\"pfs\":%s,\"local\":%s,\"committed\":%s,\"latest\":%s,"
            "\"set_aside\":%s,\"pending\":%s,\"manifest\":%s%s%s}\n",
            r->id, r->have_manifest ? r->m.step : -1, r->have_manifest ? r->m.time : 0.0, when,
            r->nranks, r->have_manifest ? r->m.bytes : -1, lv, r->l1, r->l2, r->l3,
            r->flushed ? "true" : "false", r->pfs ? "true" : "false", r->local ? "true" : "false",
            r->committed ? "true" : "false", r->latest ? "true" : "false",
            r->aside ? "true" : "false", r->pending ? "true" : "false",
            r->have_manifest ? "" : "\"", r->have_manifest ? "\"ok\"" : err,
            r->have_manifest ? "" : "\"");
}

/* The ids of both directories, newest first, without repeats. [OUT] ids, *n. */
static void merge_ids(const salrun_jobdir_t *loc, const salrun_jobdir_t *pfs, int64_t *ids, int *n)
{
    int i = 0, k = 0;

    *n = 0;
    if (!loc)
        return;
    while (i < loc->n || (pfs && k < pfs->n)) {
        int64_t a = i < loc->n ? loc->ids[i] : -1, b = pfs && k < pfs->n ? pfs->ids[k] : -1;
        int64_t v = a > b ? a : b;
        i += a == v;
        k += b == v;
        if (*n < SALRUN_CKPT_MAX)
            ids[(*n)++] = v;
    }
}

static void print_header(FILE *out, const salrun_jobdir_t *j)
{
    if (j->has_latest)
        fprintf(out, "%s: latest names ckpt.%" PRId64 "\n", j->path, j->latest);
    else if (j->latest_error[0])
        fprintf(out, "%s: latest is unusable: %s\n", j->path, j->latest_error);
    else
        fprintf(out, "%s: no latest (no checkpoint was committed)\n", j->path);
    for (int i = 0; i < j->aside.n; i++) {
        char range[64];
        int64_t lo = j->aside.from[i] + 1, hi = j->aside.to[i];

        snprintf(range, sizeof(range),
                 hi > lo ? "ckpt.%" PRId64 " to ckpt.%" PRId64 : "ckpt.%" PRId64, lo, hi);
        fprintf(out, "%s: a restart from ckpt.%" PRId64 " set aside %s\n", j->path,
                j->aside.from[i], range);
    }
    if (j->aside_error[0])
        fprintf(out, "%s: the set-aside record is unusable: %s\n", j->path, j->aside_error);
}

static int list_dirs(const salrun_ckpt_args_t *a, salrun_jobdir_t *j, FILE *out)
{
    int64_t *ids = malloc(sizeof(int64_t) * SALRUN_CKPT_MAX);
    int n = 0;

    if (!ids)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    merge_ids(&j[0], a->npos > 1 ? &j[1] : NULL, ids, &n);
    for (int k = 0; k < a->npos && !a->json; k++)
        print_header(out, &j[k]);
    if (!a->json)
        fprintf(out, "%6s %8s  %-20s %5s %12s  %-8s %-5s %-5s %-5s %-3s  %s\n", "ID", "STEP",
                "TIME (UTC)", "RANKS", "BYTES", "LEVELS", "L1", "L2", "L3", "L4", "STATE");
    for (int i = 0; i < n; i++) {
        ckpt_row_t row;
        fill_row(&j[0], a->npos > 1 ? &j[1] : NULL, ids[i], &row);
        if (a->json)
            print_json(out, &row);
        else
            print_text(out, &row);
        sal_manifest_free(&row.m);
    }
    free(ids);
    return SAL_OK;
}

int salrun_ckpt_list(int argc, char **argv, FILE *out)
{
    salrun_ckpt_args_t a;
    salrun_jobdir_t *j;
    int rc;

    rc = salrun_ckpt_begin(argc, argv, SALRUN_CKPT_OPT_JSON, 1, 2, list_help, out, &a);
    if (rc >= 0)
        return rc;
    j = calloc(2, sizeof(*j));
    if (!j) {
        salrun_fail(SAL_ERR_NOMEM, "out of memory");
        return salrun_ckpt_report("list", SALRUN_CKPT_FAILED);
    }
    rc = salrun_jobdir_read(a.pos[0], &j[0]);
    if (rc == SAL_OK && a.npos > 1)
        rc = salrun_jobdir_read(a.pos[1], &j[1]);
    if (rc == SAL_OK)
        rc = list_dirs(&a, j, out);
    free(j);
    return rc == SAL_OK ? SALRUN_CKPT_OK : salrun_ckpt_report("list", SALRUN_CKPT_FAILED);
}
