/*
 * Test driver of the checkpoint engine's levels (tests/ckpt/CMakeLists.txt). Configuration comes
 * from the SAL_* environment. Every rank owns a block of rows of a g0 x G1 array of doubles whose
 * value at step s is s * 10000 + i * G1 + j, independent of the decomposition, and a scalar
 * s * 10 + rank. g0 is 24, or the environment's DRV_ROWS (rank files of several MiB); rows below
 * DRV_STATIC_ROWS (default 0) keep the values of step 1.
 *
 *   ckpt_driver write <k>              k checkpoints at steps 1..k (waits for the L4 flush);
 *                                      with DRV_RESTORE_AT=s, the newest checkpoint is restored
 *                                      before step s (in the same process)
 *   ckpt_driver restore <id> <step> <old_nranks>
 *                                      restores; fails unless checkpoint <id> of step <step> was
 *                                      restored and every value is the one written
 *   ckpt_driver unrestorable <text>    fills the arrays with the values of step 999, restores;
 * fails unless the restore returns SAL_ERR_UNRESTORABLE, its message holds <text> on every rank and
 * no value changed ckpt_driver expect <file> <step>   writes the expected global array
 * (little-endian doubles) ckpt_driver damage <ckpt dir> <what> [arg] what = host <k>: delete what
 * fake host k held (rank files, parity, the partner copies it stored); rank <r>: delete
 *                                      rank.<r>.h5; corrupt <r>: flip bytes in rank.<r>.h5's data;
 *                                      level <L1|L2|L3>: delete every file of that level
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <salamander/sal_ckpt.h>

#include "ckpt_impl.h"
#include "ckpt_internal.h"
#include "config_internal.h"
#include "events.h"
#include "fsutil.h"
#include "levels.h"
#include "log.h"

enum { G1 = 10 };

/* Rows of the global array: 24, or DRV_ROWS from the environment (large checkpoints). */
static int64_t g0 = 24;

/* Rows below this one keep the values of step 1 at every step (DRV_STATIC_ROWS, default 0): the
 * chunks a differential checkpoint does not write again. */
static int64_t g_static = 0;

static double value(int64_t step, int64_t i, int64_t j)
{
    return (double)(i < g_static ? 1 : step) * 10000.0 + (double)(i * G1 + j);
}

typedef struct app {
    sal_config_t cfg;
    sal_ckpt_t ck;
    double *u;
    int64_t scalar, off[2], cnt[2];
    int rank, size;
    int app_got;         /* DRV_APP_MSGS: the application's receive */
    MPI_Request app_req; /* ... and its request */
} app_t;

static int app_open(app_t *a)
{
    int64_t gd[2] = {g0, G1};

    MPI_Comm_rank(MPI_COMM_WORLD, &a->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &a->size);
    a->off[0] = (int64_t)a->rank * g0 / a->size;
    a->cnt[0] = (int64_t)(a->rank + 1) * g0 / a->size - a->off[0];
    a->off[1] = 0;
    a->cnt[1] = G1;
    a->u = calloc((size_t)(a->cnt[0] * G1) + 1, sizeof(double));
    if (sal_config_create(&a->cfg) || sal_config_load_env(a->cfg) || sal_config_validate(a->cfg) ||
        sal_ckpt_create(MPI_COMM_WORLD, a->cfg, "drv", &a->ck) ||
        sal_ckpt_protect(a->ck, "u", a->u, SAL_DOUBLE, 2, gd, a->off, a->cnt) ||
        sal_ckpt_protect_scalar(a->ck, "s", &a->scalar, SAL_INT64) ||
        sal_events_open(sal_config_settings(a->cfg)->log_dir, "drv")) {
        fprintf(stderr, "setup: %s\n", sal_last_error());
        return 1;
    }
    /* The log level, as sal_init applies it (log_level) */
    if (sal_log_level_parse(sal_config_settings(a->cfg)->log_level) >= 0)
        sal_log_set_level(
            (sal_log_level_t)sal_log_level_parse(sal_config_settings(a->cfg)->log_level));
    return 0;
}

static void fill(app_t *a, int64_t step)
{
    for (int64_t i = 0; i < a->cnt[0]; i++)
        for (int64_t j = 0; j < G1; j++) {
            double v = value(step, a->off[0] + i, j);
            if (a->u[i * G1 + j] != v) /* memory that keeps its value is not written */
                a->u[i * G1 + j] = v;
        }
    a->scalar = step * 10 + a->rank;
}

/* DRV_APP_MSGS: the application's own messages across a checkpoint (on the checkpoint's
 * communicator): a receive from any source with any tag posted before sal_ckpt_write, and a message
 * with a tag of L2's sent after it, while (async_levels) the levels' messages may still travel. */
static int app_post(app_t *a)
{
    a->app_got = -1;
    return MPI_Irecv(&a->app_got, 1, MPI_INT, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD,
                     &a->app_req) != MPI_SUCCESS;
}

static int app_message(app_t *a)
{
    int mine = a->rank, from = (a->rank + a->size - 1) % a->size;
    int rc = MPI_Send(&mine, 1, MPI_INT, (a->rank + 1) % a->size, 7302, MPI_COMM_WORLD);

    if (rc == MPI_SUCCESS)
        rc = MPI_Wait(&a->app_req, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS && a->app_got == from)
        return 0;
    fprintf(stderr, "rank %d: the application's message: MPI status %d, got %d, not %d\n", a->rank,
            rc, a->app_got, from);
    return 1;
}

static int do_write(app_t *a, int k)
{
    int msgs = getenv("DRV_APP_MSGS") != NULL;
    int restore_at = getenv("DRV_RESTORE_AT") ? atoi(getenv("DRV_RESTORE_AT")) : 0;

    for (int s = 1; s <= k; s++) {
        int64_t id;
        if (s == restore_at && sal_ckpt_restore(a->ck, NULL, NULL) != SAL_OK) {
            fprintf(stderr, "restore before step %d: %s\n", s, sal_last_error());
            return 1;
        }
        fill(a, s);
        if (msgs && app_post(a) != 0)
            return 1;
        if (sal_ckpt_write(a->ck, s, &id) != SAL_OK) {
            fprintf(stderr, "write step %d: %s\n", s, sal_last_error());
            return 1;
        }
        if (a->rank == 0)
            printf("committed %lld step %d\n", (long long)id, s);
        if (msgs && app_message(a) != 0)
            return 1;
        /* the step boundary of an application (async_levels: the levels progress) */
        if (sal_ckpt_progress(a->ck) != SAL_OK) {
            fprintf(stderr, "progress after step %d: %s\n", s, sal_last_error());
            return 1;
        }
    }
    /* DRV_FINISH: the job ends as sal_finalize ends it (async_levels: the levels agreed) */
    if (getenv("DRV_FINISH") && sal_ckpt_mark_finished(a->ck) != SAL_OK) {
        fprintf(stderr, "finish: %s\n", sal_last_error());
        return 1;
    }
    sal_ckpt_flush_wait(a->ck);
    return 0;
}

static int do_restore(app_t *a, int64_t want_id, int64_t want_step, int old_n)
{
    int64_t id = -1, step = -1;
    int bad = 0;

    memset(a->u, 0, (size_t)(a->cnt[0] * G1) * sizeof(double));
    if (sal_ckpt_restore(a->ck, &step, &id) != SAL_OK) {
        fprintf(stderr, "restore: %s\n", sal_last_error());
        return 1;
    }
    for (int64_t i = 0; i < a->cnt[0]; i++)
        for (int64_t j = 0; j < G1; j++)
            bad += a->u[i * G1 + j] != value(want_step, a->off[0] + i, j);
    bad += a->scalar != want_step * 10 + (a->rank < old_n ? a->rank : old_n - 1);
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (a->rank == 0)
        printf("restored %lld step %lld on %d ranks: %d wrong values\n", (long long)id,
               (long long)step, a->size, bad);
    return bad || id != want_id || step != want_step;
}

/* Every committed checkpoint lacks data of some rank: the restore must fail as a whole and leave
 * every rank's memory as it was, including on the ranks whose own files were intact. */
static int do_unrestorable(app_t *a, const char *text)
{
    int rc, bad = 0;

    fill(a, 999);
    rc = sal_ckpt_restore(a->ck, NULL, NULL);
    if (rc != SAL_ERR_UNRESTORABLE || !strstr(sal_last_error(), text)) {
        fprintf(stderr, "rank %d: restore returned %s, not SAL_ERR_UNRESTORABLE with '%s': %s\n",
                a->rank, sal_strerror(rc), text, sal_last_error());
        bad++;
    } else if (a->rank == 0)
        fprintf(stderr, "restore: %s\n", sal_last_error());
    for (int64_t i = 0; i < a->cnt[0]; i++)
        for (int64_t j = 0; j < G1; j++)
            bad += a->u[i * G1 + j] != value(999, a->off[0] + i, j);
    bad += a->scalar != 999 * 10 + a->rank;
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (a->rank == 0)
        printf("unrestorable on %d ranks: %d wrong values or statuses\n", a->size, bad);
    return bad != 0;
}

static int do_expect(const char *file, int64_t step)
{
    FILE *f = fopen(file, "wb");

    if (!f)
        return 1;
    for (int64_t i = 0; i < g0; i++)
        for (int64_t j = 0; j < G1; j++) {
            double v = value(step, i, j);
            fwrite(&v, sizeof(v), 1, f);
        }
    return fclose(f) != 0;
}

static void rm(const char *dir, const char *kind, int r, const char *ext)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/%s.%d.%s", dir, kind, r, ext);
    if (unlink(path) == 0)
        printf("deleted %s\n", path);
}

static int damage_host(const char *dir, int host)
{
    sal_levels_info_t info;
    char *text;
    size_t len;
    int lost = 0;

    if (sal_levels_load_text(dir, &text, &len) || sal_levels_parse_text(dir, text, &info)) {
        fprintf(stderr, "%s\n", sal_last_error());
        return 1;
    }
    free(text);
    for (int r = 0; r < info.topo.nranks; r++) {
        const char *h = info.topo.hosts[r];
        const char *dot = strrchr(h, '.');
        if (!dot || atoi(dot + 5) != host)
            continue;
        lost++;
        rm(dir, "rank", r, "h5");
        rm(dir, "parity", r, "xor");
        for (int s = 0; info.topo.pmap && s < info.topo.nranks; s++)
            if (sal_partner_of(info.topo.pmap, s) == r)
                rm(dir, "partner", s, "h5");
    }
    sal_levels_info_free(&info);
    return lost == 0;
}

/* Flips a byte of the first stored array value found in rank.<r>.h5 (the chunk data). */
static int damage_corrupt(const char *dir, int r)
{
    char path[PATH_MAX], *buf;
    size_t len;
    int rc;

    snprintf(path, sizeof(path), "%s/rank.%d.h5", dir, r);
    if (sal_slurp(path, &buf, &len) != SAL_OK)
        return 1;
    /* the first element of the data: an integral value followed by the next two of its row */
    for (size_t p = 0; p + 3 * sizeof(double) <= len; p++) {
        double v, w[2];
        memcpy(&v, buf + p, sizeof(v));
        memcpy(w, buf + p + sizeof(v), sizeof(w));
        if (v >= 10000.0 && v < 1e9 && v == (double)(int64_t)v && w[0] == v + 1 && w[1] == v + 2) {
            buf[p + 3] ^= 0x5a;
            rc = sal_write_file_atomic(path, buf, len, 0600);
            free(buf);
            printf("corrupted %s at byte %zu\n", path, p + 3);
            return rc != SAL_OK;
        }
    }
    free(buf);
    return 1;
}

static int damage_level(const char *dir, const char *lvl)
{
    const char *kind = strcmp(lvl, "L1") == 0   ? "rank"
                       : strcmp(lvl, "L2") == 0 ? "partner"
                                                : "parity";
    const char *ext = strcmp(lvl, "L3") == 0 ? "xor" : "h5";

    for (int r = 0; r < 4096; r++)
        rm(dir, kind, r, ext);
    return 0;
}

static int damage(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    if (strcmp(argv[3], "host") == 0 && argc > 4)
        return damage_host(argv[2], atoi(argv[4]));
    if (strcmp(argv[3], "rank") == 0 && argc > 4) {
        rm(argv[2], "rank", atoi(argv[4]), "h5");
        return 0;
    }
    if (strcmp(argv[3], "corrupt") == 0 && argc > 4)
        return damage_corrupt(argv[2], atoi(argv[4]));
    if (strcmp(argv[3], "level") == 0 && argc > 4)
        return damage_level(argv[2], argv[4]);
    return 2;
}

int main(int argc, char **argv)
{
    app_t a;
    int rc = 2;

    if (getenv("DRV_ROWS") && atoll(getenv("DRV_ROWS")) > 0)
        g0 = atoll(getenv("DRV_ROWS"));
    if (getenv("DRV_STATIC_ROWS"))
        g_static = atoll(getenv("DRV_STATIC_ROWS"));
    if (argc > 1 && strcmp(argv[1], "damage") == 0)
        return damage(argc, argv);
    if (argc > 3 && strcmp(argv[1], "expect") == 0)
        return do_expect(argv[2], atoll(argv[3]));
    MPI_Init(&argc, &argv);
    memset(&a, 0, sizeof(a));
    if (app_open(&a) != 0)
        rc = 1;
    else if (argc > 2 && strcmp(argv[1], "write") == 0)
        rc = do_write(&a, atoi(argv[2]));
    else if (argc > 4 && strcmp(argv[1], "restore") == 0)
        rc = do_restore(&a, atoll(argv[2]), atoll(argv[3]), atoi(argv[4]));
    else if (argc > 2 && strcmp(argv[1], "unrestorable") == 0)
        rc = do_unrestorable(&a, argv[2]);
    sal_ckpt_destroy(&a.ck);
    sal_events_close();
    sal_config_destroy(&a.cfg);
    free(a.u);
    MPI_Finalize();
    return rc;
}
