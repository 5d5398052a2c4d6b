/* The manifest tests' shared helpers (manifest_fixture.h). */
#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "h5io.h"
#include "manifest_fixture.h"

char tmpdir[PATH_MAX], ckdir[PATH_MAX], startdir[PATH_MAX];
double global[ROWS][COLS];
int wglobal[WLEN];
unsigned char lglobal[LOCAL_TOTAL];
static int64_t total_bytes;

/* Rank r's blocks: u rows [3*(r/2), +3) x cols [4*(r%2), +4); w [3r, +3) for r < 2, empty after. */
static void rank_blocks(int r, int64_t *uoff, int64_t *ucnt, int64_t *woff, int64_t *wcnt)
{
    uoff[0] = 3 * (r / 2);
    uoff[1] = 4 * (r % 2);
    ucnt[0] = 3;
    ucnt[1] = 4;
    *woff = r < 2 ? 3 * r : WLEN;
    *wcnt = r < 2 ? 3 : 0;
}

static void make_rank_regions(int r, double *u, int *w, int64_t *t, sal_region_t *reg)
{
    int64_t uoff[2], ucnt[2], woff, wcnt;

    rank_blocks(r, uoff, ucnt, &woff, &wcnt);
    memset(reg, 0, NREG * sizeof(*reg));
    snprintf(reg[0].name, SAL_NAME_MAX, "u.field");
    reg[0].base = u;
    reg[0].type = SAL_DOUBLE;
    reg[0].ndims = 2;
    reg[0].gdims[0] = ROWS;
    reg[0].gdims[1] = COLS;
    memcpy(reg[0].offset, uoff, sizeof(uoff));
    memcpy(reg[0].count, ucnt, sizeof(ucnt));
    snprintf(reg[1].name, SAL_NAME_MAX, "w");
    reg[1].base = wcnt ? w : NULL;
    reg[1].type = SAL_INT;
    reg[1].ndims = 1;
    reg[1].gdims[0] = WLEN;
    reg[1].offset[0] = woff;
    reg[1].count[0] = wcnt;
    snprintf(reg[2].name, SAL_NAME_MAX, "t");
    reg[2].base = t;
    reg[2].type = SAL_INT64;
    reg[2].scalar = 1;
}

void write_rank_files(void)
{
    for (int r = 0; r < NR; r++) {
        sal_rank_meta_t meta = {
            .id = CKPT_ID, .step = STEP, .time = 1.5e9, .rank = r, .nranks = NR};
        double u[3][4];
        int w[3];
        int64_t t = 1000 + r, bytes = 0, uoff[2], ucnt[2], woff, wcnt;
        sal_region_t reg[NREG];
        char path[PATH_MAX];

        rank_blocks(r, uoff, ucnt, &woff, &wcnt);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                u[i][j] = global[uoff[0] + i][uoff[1] + j];
        for (int i = 0; i < wcnt; i++)
            w[i] = wglobal[woff + i];
        make_rank_regions(r, &u[0][0], w, &t, reg);
        CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/rank.%d.h5", ckdir, r), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, reg, NREG, &bytes), SAL_OK);
        total_bytes += bytes;
    }
}

/* The manifest commit.c would build from the four ranks. [OUT] m (free with sal_manifest_free). */
void build_manifest(sal_manifest_t *m)
{
    sal_region_t reg[NREG];

    memset(m, 0, sizeof(*m));
    m->id = CKPT_ID;
    m->step = STEP;
    m->time = 1.5e9;
    m->nranks = NR;
    m->format_version = SAL_FORMAT_VERSION;
    m->bytes = total_bytes;
    m->nregions = NREG;
    m->regions = calloc(NREG, sizeof(*m->regions));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->regions);
    make_rank_regions(0, NULL, NULL, NULL, reg);
    for (int i = 0; i < NREG; i++) {
        sal_manifest_region_t *mr = &m->regions[i];
        memcpy(mr->name, reg[i].name, sizeof(mr->name));
        mr->type = reg[i].type;
        mr->scalar = reg[i].scalar;
        mr->ndims = reg[i].ndims;
        memcpy(mr->gdims, reg[i].gdims, sizeof(mr->gdims));
        if (mr->scalar)
            continue;
        mr->offsets = calloc(NR * (size_t)mr->ndims, sizeof(int64_t));
        mr->counts = calloc(NR * (size_t)mr->ndims, sizeof(int64_t));
        CU_ASSERT_FATAL(mr->offsets && mr->counts);
        for (int r = 0; r < NR; r++) {
            make_rank_regions(r, NULL, NULL, NULL, reg);
            memcpy(mr->offsets + r * mr->ndims, reg[i].offset, (size_t)mr->ndims * sizeof(int64_t));
            memcpy(mr->counts + r * mr->ndims, reg[i].count, (size_t)mr->ndims * sizeof(int64_t));
        }
    }
}

void write_manifest(void)
{
    sal_manifest_t m;

    build_manifest(&m);
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_OK);
    sal_manifest_free(&m);
}

int64_t local_size(int r)
{
    return 100 * (r + 1) + 3;
}

int64_t local_start(int r)
{
    int64_t at = 0;

    for (int q = 0; q < r; q++)
        at += local_size(q);
    return at;
}

void build_local_manifest(sal_manifest_t *m)
{
    sal_manifest_region_t *mr;

    memset(m, 0, sizeof(*m));
    m->id = CKPT_ID;
    m->step = STEP;
    m->nranks = NR;
    m->format_version = SAL_FORMAT_VERSION;
    m->bytes = LOCAL_TOTAL;
    m->nregions = 1;
    m->regions = calloc(1, sizeof(*m->regions));
    CU_ASSERT_PTR_NOT_NULL_FATAL(m->regions);
    mr = &m->regions[0];
    snprintf(mr->name, sizeof(mr->name), "hist");
    mr->type = SAL_CHAR;
    mr->local = 1;
    mr->ndims = 1;
    mr->gdims[0] = LOCAL_TOTAL;
    mr->offsets = calloc(NR, sizeof(int64_t));
    mr->counts = calloc(NR, sizeof(int64_t));
    CU_ASSERT_FATAL(mr->offsets && mr->counts);
    for (int r = 0; r < NR; r++) {
        mr->offsets[r] = local_start(r);
        mr->counts[r] = local_size(r);
    }
}

void fresh_local_checkpoint(const char *name)
{
    sal_manifest_t m;

    CU_ASSERT_EQUAL_FATAL(
        sal_path_join(ckdir, sizeof(ckdir), "%s/%s/ckpt.%d", tmpdir, name, CKPT_ID), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(ckdir, 0700), SAL_OK);
    for (int r = 0; r < NR; r++) {
        sal_rank_meta_t meta = {.id = CKPT_ID, .step = STEP, .rank = r, .nranks = NR};
        sal_region_t reg;
        char path[PATH_MAX];

        memset(&reg, 0, sizeof(reg));
        snprintf(reg.name, sizeof(reg.name), "hist");
        reg.base = lglobal + local_start(r);
        reg.type = SAL_CHAR;
        reg.local = 1;
        reg.ndims = 1;
        reg.gdims[0] = reg.count[0] = local_size(r);
        CU_ASSERT_EQUAL_FATAL(sal_path_join(path, sizeof(path), "%s/rank.%d.h5", ckdir, r), SAL_OK);
        CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, &reg, 1, NULL), SAL_OK);
    }
    build_local_manifest(&m);
    CU_ASSERT_EQUAL(sal_manifest_write(ckdir, &m), SAL_OK);
    sal_manifest_free(&m);
}

int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_manifest.XXXXXX");
    if (!mkdtemp(tmpdir) || !getcwd(startdir, sizeof(startdir)))
        return -1;
    for (int i = 0; i < ROWS; i++)
        for (int j = 0; j < COLS; j++)
            global[i][j] = 100.0 * i + j + 0.5;
    for (int i = 0; i < WLEN; i++)
        wglobal[i] = -7 * i;
    for (int i = 0; i < LOCAL_TOTAL; i++)
        lglobal[i] = (unsigned char)(i * 31 + 5);
    return 0;
}

int suite_clean(void)
{
    if (chdir(startdir) != 0)
        return -1;
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

/* A fresh checkpoint directory <tmpdir>/<name>/ckpt.3 with rank files and manifest. */
void fresh_checkpoint(const char *name)
{
    CU_ASSERT_EQUAL_FATAL(
        sal_path_join(ckdir, sizeof(ckdir), "%s/%s/ckpt.%d", tmpdir, name, CKPT_ID), SAL_OK);
    CU_ASSERT_EQUAL_FATAL(sal_mkdir_p(ckdir, 0700), SAL_OK);
    total_bytes = 0;
    write_rank_files();
    write_manifest();
}

void ck_path(char *buf, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(buf, PATH_MAX, "%s/%s", ckdir, name), SAL_OK);
}

void check_u_block(const char *dir, int64_t r0, int64_t c0, int64_t nr, int64_t nc)
{
    int64_t off[2] = {r0, c0}, cnt[2] = {nr, nc};
    double buf[ROWS * COLS];
    int bad = 0;

    memset(buf, 0, sizeof(buf));
    CU_ASSERT_EQUAL_FATAL(sal_manifest_read_block(dir, "u.field", SAL_DOUBLE, 2, off, cnt, buf),
                          SAL_OK);
    for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc; j++)
            bad += buf[i * nc + j] != global[r0 + i][c0 + j];
    CU_ASSERT_EQUAL(bad, 0);
}
