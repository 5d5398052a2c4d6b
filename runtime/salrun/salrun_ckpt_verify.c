/*
 * `salrun ckpt verify [--pfs PFS_DIR] DIR [ID]`: reads the manifest and every rank file of one
 * checkpoint with the library's readers (every chunk's Fletcher32 checksum included) and says,
 * rank by rank, where a good copy of its file is, in the order a restore tries them
 * (docs/levels.md, "Restore search order"): its own rank.<r>.h5 (L1), its partner copy
 * partner.<r>.h5 (L2), a rebuild from the parity of its XOR group (L3) or the PFS copy (L4).
 * Nothing in the checkpoint is changed: an L3 rebuild is done and read in a scratch directory under
 * $TMPDIR.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "inspect.h"
#include "level_ops.h"
#include "log.h"
#include "levels.h"
#include "manifest.h"
#include "salrun.h"
#include "salrun_ckpt.h"

static const char verify_help[] =
    "usage: salrun ckpt verify [--pfs PFS_DIR] DIR [ID]\n\n"
    "Reads checkpoint ID (default: the one `latest` of DIR names) of the job directory DIR\n"
    "(<ckpt_dir>/<job>) with the library's readers, every checksum included, checks the rank\n"
    "files against the manifest and says for each rank where a good copy of its file is: L1 its\n"
    "rank.<r>.h5, L2 its partner copy partner.<r>.h5, L3 a rebuild from its XOR group's parity\n"
    "(done and read in a scratch directory under $TMPDIR), L4 the copy in PFS_DIR\n"
    "(<pfs_dir>/<job>). Nothing is changed.\n\n"
    "  --pfs PFS_DIR   also consider the L4 copy of the job\n"
    "  --help          this text\n\n"
    "Exit status: 0 the checkpoint is committed and restorable, 1 it is not (damaged, a rank\n"
    "without a good copy, never committed) or cannot be read, 2 usage error.\n";

/* One verification: the checkpoint, its sources and what is known of each rank's own file. */
typedef struct verify {
    FILE *out;
    const salrun_jobdir_t *loc, *pfs; /* pfs NULL without --pfs */
    int64_t id;
    char dir[PATH_MAX]; /* node-local ckpt.<id> */
    int pfs_ok;         /* the PFS copy of id is committed */
    sal_manifest_t m;
    int have_levels;
    sal_levels_info_t lv;
    signed char *own; /* [nranks] 1 own file good, 0 bad, -1 not read yet */
    FILE *notes;      /* the problems found for the rank being verified */
} verify_t;

static void problem(const verify_t *v, const char *level, const char *cause)
{
    fprintf(v->notes ? v->notes : v->out, "    %s: %s\n", level, cause);
}

/* 1 when rank r's own rank file is good (read once, cached); reports the cause when printing. */
static int own_good(verify_t *v, int r, int print)
{
    char path[PATH_MAX];

    if (v->own[r] < 0) {
        v->own[r] = 0;
        if (salrun_member_path(path, sizeof(path), v->dir, SALRUN_FILE_RANK, r) == SAL_OK)
            v->own[r] = (signed char)(sal_inspect_rank_file(path, &v->m, r) == SAL_OK);
        if (!v->own[r] && print)
            problem(v, "L1", sal_last_error());
    } else if (!v->own[r] && print) {
        problem(v, "L1", "rank file not good (reported above)");
    }
    return v->own[r];
}

/* 1 when the checkpoint has L2 and rank r's partner copy is good (read without reporting). */
static int partner_good(verify_t *v, int r)
{
    char path[PATH_MAX];

    return v->have_levels && (v->lv.mask & SAL_LVL_L2) &&
           salrun_member_path(path, sizeof(path), v->dir, SALRUN_FILE_PARTNER, r) == SAL_OK &&
           sal_inspect_rank_file(path, &v->m, r) == SAL_OK;
}

static int try_file(verify_t *v, const char *dir, salrun_file_kind_t kind, int r, const char *level)
{
    char path[PATH_MAX];

    if (salrun_member_path(path, sizeof(path), dir, kind, r) != SAL_OK)
        return 0;
    if (sal_inspect_rank_file(path, &v->m, r) == SAL_OK)
        return 1;
    problem(v, level, sal_last_error());
    return 0;
}

/* Hard link (same file system) or copy of rank r's file of kind in dir into scratch, as its rank
 * file (a partner copy is byte-identical to it) or its parity file. */
static int stage(const char *dir, const char *scratch, salrun_file_kind_t kind, int r)
{
    char src[PATH_MAX], dst[PATH_MAX];
    int64_t bytes;
    int rc = salrun_member_path(src, sizeof(src), dir, kind, r);

    if (rc == SAL_OK)
        rc = salrun_member_path(dst, sizeof(dst), scratch,
                                kind == SALRUN_FILE_PARITY ? kind : SALRUN_FILE_RANK, r);
    if (rc == SAL_OK && link(src, dst) != 0)
        rc = sal_copy_file(src, dst, &bytes);
    return rc;
}

/* Rebuilds r's file from its group's files and parity in a scratch directory, and reads it. */
static int rebuild_in_scratch(verify_t *v, int r, const int *members, int size)
{
    const char *tmp = getenv("TMPDIR");
    char scratch[PATH_MAX], path[PATH_MAX];
    sal_level_ctx_t c;
    int rc = sal_path_join(scratch, sizeof(scratch), "%s/salrun-ckpt.XXXXXX",
                           tmp && *tmp ? tmp : "/tmp");

    if (rc == SAL_OK && !mkdtemp(scratch))
        rc = sal_error(SAL_ERR_IO, "cannot create a scratch directory %s: %s", scratch,
                       strerror(errno));
    if (rc != SAL_OK)
        return rc;
    for (int i = 0; i < size && rc == SAL_OK; i++)
        if (members[i] != r) {
            rc = stage(v->dir, scratch, v->own[members[i]] ? SALRUN_FILE_RANK : SALRUN_FILE_PARTNER,
                       members[i]);
            if (rc == SAL_OK)
                rc = stage(v->dir, scratch, SALRUN_FILE_PARITY, members[i]);
        }
    memset(&c, 0, sizeof(c));
    c.topo = &v->lv.topo;
    c.dir = scratch;
    if (rc == SAL_OK)
        rc = sal_level_xor.rebuild_local(&c, r);
    if (rc == SAL_OK)
        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", scratch, r);
    if (rc == SAL_OK)
        rc = sal_inspect_rank_file(path, &v->m, r);
    sal_remove_tree(scratch);
    return rc;
}

static int try_parity(verify_t *v, int r)
{
    const int *members;
    int member, group, size, rc = SAL_OK;
    char why[160];

    if (!v->lv.topo.groups || r >= v->lv.topo.nranks)
        return 0;
    group = sal_xor_group_of(v->lv.topo.groups, r, &member);
    size = sal_xor_group_members(v->lv.topo.groups, group, &members);
    for (int i = 0; i < size && rc == SAL_OK; i++)
        if (members[i] != r && !own_good(v, members[i], 0) && !partner_good(v, members[i])) {
            snprintf(why, sizeof(why),
                     "cannot rebuild: rank %d of its parity group has no good rank file or "
                     "partner copy",
                     members[i]);
            problem(v, "L3", why);
            return 0;
        }
    rc = rebuild_in_scratch(v, r, members, size);
    if (rc != SAL_OK)
        problem(v, "L3", sal_last_error());
    return rc == SAL_OK;
}

/* Prints where rank r's good copy is, then the problems found on the way; returns 1 when there is
 * one. */
static int verify_rank(verify_t *v, int r)
{
    int mask = v->have_levels ? v->lv.mask : SAL_LVL_L1;
    const char *where = NULL;
    char pdir[PATH_MAX], *notes = NULL;
    size_t len = 0;

    v->notes = open_memstream(&notes, &len);
    if (own_good(v, r, 1))
        where = "L1 (rank file)";
    else if ((mask & SAL_LVL_L2) && try_file(v, v->dir, SALRUN_FILE_PARTNER, r, "L2"))
        where = "L2 (partner copy)";
    else if ((mask & SAL_LVL_L3) && try_parity(v, r))
        where = "L3 (rebuild from XOR parity)";
    else if (v->pfs_ok &&
             salrun_ckpt_path(pdir, sizeof(pdir), v->pfs->path, v->id, NULL) == SAL_OK &&
             try_file(v, pdir, SALRUN_FILE_RANK, r, "L4"))
        where = "L4 (PFS copy)";
    if (v->notes)
        (void)fclose(v->notes);
    v->notes = NULL;
    fprintf(v->out, "rank %d: %s\n%s", r, where ? where : "NO GOOD COPY", notes ? notes : "");
    free(notes);
    return where != NULL;
}

/* The manifest: node-local, else the PFS copy's. SAL_OK or the cause (salrun_fail). */
static int load_manifest(verify_t *v)
{
    char pdir[PATH_MAX], first[1024];
    int rc = sal_manifest_read(v->dir, &v->m);

    if (rc != SAL_OK && v->pfs_ok) {
        snprintf(first, sizeof(first), "%s", sal_last_error());
        sal_manifest_free(&v->m);
        fprintf(v->out, "manifest: node-local copy unusable, using the PFS copy: %s\n", first);
        rc = salrun_ckpt_path(pdir, sizeof(pdir), v->pfs->path, v->id, NULL);
        if (rc == SAL_OK)
            rc = sal_manifest_read(pdir, &v->m);
    }
    if (rc != SAL_OK)
        return salrun_fail(rc, "%s", sal_last_error());
    if (v->m.id != v->id)
        return salrun_fail(SAL_ERR_CORRUPT, "%s/manifest.h5 has id %" PRId64 ", not %" PRId64,
                           v->dir, v->m.id, v->id);
    return SAL_OK;
}

static void print_head(verify_t *v)
{
    char when[32], lv[32];

    fprintf(v->out, "manifest: ok: step %" PRId64 ", %s, %d ranks, %d regions, %" PRId64 " bytes\n",
            v->m.step, salrun_iso_time(v->m.time, when, sizeof(when)), v->m.nranks, v->m.nregions,
            v->m.bytes);
    if (v->have_levels)
        fprintf(v->out, "levels: %s (xor_group_size %d)\n",
                sal_levels_name(v->lv.mask, lv, sizeof(lv)), v->lv.xor_size);
    else
        fprintf(v->out, "levels: record unusable, only L1 and L4 count: %s\n", sal_last_error());
}

static void load_levels(verify_t *v)
{
    char *text = NULL;
    size_t len;

    v->have_levels = sal_levels_load_text(v->dir, &text, &len) == SAL_OK &&
                     sal_levels_parse_text(v->dir, text, &v->lv) == SAL_OK;
    if (v->have_levels && v->lv.topo.nranks != v->m.nranks) {
        sal_error(SAL_ERR_CORRUPT, "%s/levels: %d ranks, the manifest %d", v->dir,
                  v->lv.topo.nranks, v->m.nranks);
        sal_levels_info_free(&v->lv);
        v->have_levels = 0;
    }
    free(text);
}

/* Verifies every rank; returns the exit status. */
static int verify_ranks(verify_t *v, int committed)
{
    int bad = 0;

    load_levels(v);
    print_head(v);
    v->own = malloc((size_t)v->m.nranks);
    if (!v->own) {
        salrun_fail(SAL_ERR_NOMEM, "out of memory");
        return SALRUN_CKPT_FAILED;
    }
    memset(v->own, -1, (size_t)v->m.nranks);
    for (int r = 0; r < v->m.nranks; r++)
        bad += !verify_rank(v, r);
    free(v->own);
    if (bad)
        fprintf(v->out, "restorable: no: %d of %d ranks have no good copy\n", bad, v->m.nranks);
    else if (!committed)
        fprintf(v->out, "restorable: no: every rank has a good copy, but the checkpoint was never "
                        "committed (a restore does not use it)\n");
    else
        fprintf(v->out, "restorable: yes\n");
    return bad || !committed ? SALRUN_CKPT_FAILED : SALRUN_CKPT_OK;
}

/* The id to verify: given, else the one `latest` names (node-local, else the PFS copy's). */
static int pick_id(const salrun_ckpt_args_t *a, verify_t *v)
{
    if (a->npos > 1)
        return salrun_parse_id(a->pos[1], &v->id);
    if (v->loc->has_latest || (v->pfs && v->pfs->has_latest)) {
        v->id = v->loc->has_latest ? v->loc->latest : v->pfs->latest;
        return SAL_OK;
    }
    return salrun_fail(SAL_ERR_NO_CKPT, "%s: no checkpoint to verify: %s; give an ID", v->loc->path,
                       v->loc->latest_error[0] ? v->loc->latest_error : "no latest");
}

static int run_verify(const salrun_ckpt_args_t *a, salrun_jobdir_t *j, FILE *out)
{
    verify_t v;
    int committed, ex, rc;

    memset(&v, 0, sizeof(v));
    v.out = out;
    v.loc = &j[0];
    v.pfs = a->pfs ? &j[1] : NULL;
    rc = pick_id(a, &v);
    if (rc != SAL_OK)
        return rc == SAL_ERR_INVALID_ARG ? SALRUN_CKPT_USAGE : SALRUN_CKPT_FAILED;
    v.pfs_ok = v.pfs && salrun_jobdir_committed(v.pfs, v.id);
    committed = salrun_jobdir_committed(v.loc, v.id) || v.pfs_ok;
    if (salrun_ckpt_path(v.dir, sizeof(v.dir), v.loc->path, v.id, NULL) != SAL_OK)
        return SALRUN_CKPT_FAILED;
    fprintf(out, "checkpoint %" PRId64 " in %s: %s\n", v.id, v.dir,
            committed ? "committed" : "NOT committed (newer than latest, or no latest)");
    if (load_manifest(&v) != SAL_OK) {
        fprintf(out, "manifest: %s\nrestorable: no\n", salrun_errmsg());
        ex = SALRUN_CKPT_FAILED;
    } else {
        ex = verify_ranks(&v, committed);
    }
    sal_manifest_free(&v.m);
    if (v.have_levels)
        sal_levels_info_free(&v.lv);
    return ex;
}

int salrun_ckpt_verify(int argc, char **argv, FILE *out)
{
    salrun_ckpt_args_t a;
    salrun_jobdir_t *j;
    int64_t id;
    int ex;

    ex = salrun_ckpt_begin(argc, argv, SALRUN_CKPT_OPT_PFS, 1, 2, verify_help, out, &a);
    if (ex >= 0)
        return ex;
    if (a.npos > 1 && salrun_parse_id(a.pos[1], &id) != SAL_OK)
        return salrun_ckpt_report("verify", SALRUN_CKPT_USAGE);
    ex = SALRUN_CKPT_FAILED;
    j = calloc(2, sizeof(*j));
    if (!j)
        salrun_fail(SAL_ERR_NOMEM, "out of memory");
    else if (salrun_jobdir_read(a.pos[0], &j[0]) == SAL_OK &&
             (!a.pfs || salrun_jobdir_read(a.pfs, &j[1]) == SAL_OK))
        ex = run_verify(&a, j, out);
    free(j);
    if (ex != SALRUN_CKPT_OK && salrun_errmsg()[0])
        salrun_ckpt_report("verify", ex);
    return ex;
}
