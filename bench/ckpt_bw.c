/*
 * Checkpoint bandwidth of the levels against a raw write + fsync of the same bytes to the same
 * directory, measured in the same run (not a test).
 *
 *   mpiexec -n 4 ckpt_bw [--sizes 16,64] [--dir /dev/shm/ckpt_bw] [--reps 5] [--compute 0.5]
 *                        [--only NAME[,NAME...]] [--events DIR] [--help]
 *
 * For each per-rank size (MiB):
 *  - L1, L1-newfiles (reuse_files=no: new files every time, the oldest checkpoint deleted in the
 *    commit), L1+L2, L1+L3 (every rank its own pretend host), L1-diff100 and L1-diff10
 *    (differential=yes, one value changed in every chunk or in every tenth chunk before each
 *    checkpoint), L1-pages100 and L1-pages10 (the same with differential_tracking=pages; in
 *    L1-pages100 every value changes, and the first pass that changes them after a checkpoint is
 *    timed against a second one: ratio pages-first-write/write, the page faults the tracking
 *    costs the application), L1-lz4 and L1-bzip2 (compression, new files): each repetition writes
 * the raw file and then the checkpoint, back to back, so both see the same machine load, after
 * WARMUP unmeasured checkpoints (a running job's steady state: keep + 1 checkpoints exist). A time
 * is the slowest rank's; a ratio is the median over the repetitions of raw time / checkpoint time,
 * a bandwidth the median bandwidth.
 *  - L4, the application-visible cost of the asynchronous flush. Each repetition runs, on two
 *    handles (one without L4, one with it), a checkpoint followed by the same compute phase (sweeps
 *    over the protected array, --compute seconds when nothing else runs). The visible cost of a
 *    checkpoint is the time sal_ckpt_write takes plus the slowdown of that compute phase against
 *    the median compute phase after the checkpoint without L4 (the flush runs during it). The
 *    flush is then awaited outside the timed part. "L1+L4sync" is a checkpoint followed at once
 *    by waiting for the flush: what a synchronous L4 would cost.
 *  - async-L2, async-L3 (async_levels=yes): the application-visible cost of an L1+L2 (L1+L3)
 *    checkpoint whose partner copies (parity) are encoded behind the compute phase, against an L1
 *    handle: each repetition runs a checkpoint and a compute phase on each of the three handles;
 *    each compute sweep is a step, after which the handle advances the encoding
 *    (sal_ckpt_progress), and the next checkpoint ends what is left, inside its timed part. The
 *    visible cost is the time in sal_ckpt_write plus the slowdown of the compute phase against
 *    the L1 handle's of the same repetition; "-write" ratios compare the time in sal_ckpt_write
 *    alone.
 * Ends with machine-readable lines "ratio <name> <value>" and the load average (other processes
 * compete for the cores: compare ratios within one run, not across runs). Ratios between two
 * configurations (L1+L2/L1-newfiles, L1-diff10/L1, ...) divide their ratios to raw, so that the
 * raw writes beside each cancel the load's changes between the configurations.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mpi.h>
#include <salamander/sal_ckpt.h>

#include "ckpt_impl.h"
#include "events.h"
#include "fsutil.h"

enum { MAX_SIZES = 16, MAX_REPS = 64, NSYNC = 10, WARMUP = 3 };
/* L1-newfiles: L1 with reuse_files=no, every checkpoint in new files (and the oldest deleted). */
/* L1-diffP: L1 with differential=yes, P% of the chunks changed between two checkpoints (the same
 * ones every time, so that P% differ from the checkpoint overwritten too). */
/* L1-pagesP: the same with differential_tracking=pages (the kernel's record of written pages). */
static const char *const sync_name[NSYNC] = {"L1",          "L1-newfiles", "L1+L2",  "L1+L3",
                                             "L1-diff100",  "L1-diff10",   "L1-lz4", "L1-bzip2",
                                             "L1-pages100", "L1-pages10"};
static const char *const sync_levels[NSYNC] = {"L1", "L1", "L1,L2", "L1,L3", "L1",
                                               "L1", "L1", "L1",    "L1",    "L1"};
static const char *const sync_reuse[NSYNC] = {"yes", "no", "yes", "yes", "yes",
                                              "yes", "no", "no",  "yes", "yes"};
static const int sync_changed[NSYNC] = {0, 0, 0, 0, 100, 10, 0, 0, 100, 10}; /* % of chunks */
/* differential: 0 no, 1 hash, 2 pages */
static const int sync_diff[NSYNC] = {0, 0, 0, 0, 1, 1, 0, 0, 2, 2};
/* L1-lz4, L1-bzip2: L1 with compression (new files, as compression always writes them) */
static const char *const sync_comp[NSYNC] = {"none", "none", "none",  "none", "none",
                                             "none", "lz4",  "bzip2", "none", "none"};
enum { DIFF_CHUNK = (1 << 20) / sizeof(double) }; /* elements per chunk (1 MiB) */

struct opts {
    int sizes[MAX_SIZES], nsizes, reps;
    double compute;
    const char *dir;
    const char *only;   /* --only NAME[,NAME]: the configurations to run, NULL: all */
    int help;           /* --help: usage printed, nothing run */
    const char *events; /* --events DIR: rank 0 logs every checkpoint's events in
                         * DIR/ckpt_bw.events.jsonl (the ckpt_commit phases), NULL: none */
};

/* One size: the per-rank buffer and what was measured. */
struct run {
    double *buf;
    size_t len;
    int rank, size;
    long sweeps;        /* compute phase: sweeps over buf */
    double first_write; /* L1-pages100: the first write of every value after a checkpoint over
                         * the next one (the page faults of the tracking), median; 0: not run */
};

static double now(void)
{
    return MPI_Wtime();
}

static double slowest(double t)
{
    MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];

    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double raw_write(const char *dir, const struct run *u)
{
    char path[4096];
    double t0;
    int fd;

    snprintf(path, sizeof(path), "%s/raw.%d", dir, u->rank);
    MPI_Barrier(MPI_COMM_WORLD);
    t0 = now();
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    for (size_t off = 0; fd >= 0 && off < u->len;) {
        ssize_t w = write(fd, (const char *)u->buf + off, u->len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    t0 = slowest(now() - t0);
    unlink(path);
    return t0;
}

/* The modelled compute phase: memory-bound sweeps over the protected array; each sweep is a step,
 * after which ck (when not NULL) advances the levels encoded behind it. */
static double compute_steps(const struct run *u, sal_ckpt_t ck)
{
    size_t n = u->len / sizeof(double);
    double t0;

    MPI_Barrier(MPI_COMM_WORLD);
    t0 = now();
    for (long s = 0; s < u->sweeps; s++) {
        for (size_t i = 0; i < n; i++)
            u->buf[i] = u->buf[i] * 0.5 + 1.0;
        if (ck && sal_ckpt_progress(ck) != SAL_OK)
            fprintf(stderr, "progress: %s\n", sal_last_error());
    }
    return slowest(now() - t0);
}

static double compute(const struct run *u)
{
    return compute_steps(u, NULL);
}

/* Sweeps for about `seconds` of compute, decided by rank 0 and the same on every rank. */
static void calibrate(struct run *u, double seconds)
{
    double t;

    u->sweeps = 1;
    t = compute(u);
    u->sweeps = t > 0 ? (long)(seconds / t + 0.5) : 1;
    if (u->sweeps < 1)
        u->sweeps = 1;
    MPI_Bcast(&u->sweeps, 1, MPI_LONG, 0, MPI_COMM_WORLD);
}

/* A checkpoint handle of the benchmark; async: async_levels. */
static int open_ckpt(const char *dir, const char *job, const char *levels, const char *reuse,
                     int l4, int diff, const char *comp, int async, struct run *u,
                     sal_config_t *cfg, sal_ckpt_t *ck)
{
    char pfs[4096];
    int64_t n = (int64_t)(u->len / sizeof(double)), gd = n * u->size, off = n * u->rank;

    snprintf(pfs, sizeof(pfs), "%s/pfs", dir);
    if (sal_config_create(cfg) || sal_config_set(*cfg, "ckpt_dir", dir) ||
        sal_config_set(*cfg, "levels", levels) || sal_config_set(*cfg, "reuse_files", reuse) ||
        sal_config_set(*cfg, "fake_host_ranks", "1") ||
        sal_config_set(*cfg, "differential", diff ? "yes" : "no") ||
        sal_config_set(*cfg, "differential_tracking", diff == 2 ? "pages" : "hash") ||
        sal_config_set(*cfg, "compression", comp) || (l4 && sal_config_set(*cfg, "pfs_dir", pfs)) ||
        sal_config_set(*cfg, "log_level", "warn") ||
        sal_config_set(*cfg, "async_levels", async ? "yes" : "no") ||
        sal_ckpt_create(MPI_COMM_WORLD, *cfg, job, ck) ||
        sal_ckpt_protect(*ck, "data", u->buf, SAL_DOUBLE, 1, &gd, &off, &n)) {
        fprintf(stderr, "setup: %s\n", sal_last_error());
        return 1;
    }
    return 0;
}

static void close_ckpt(const char *dir, const char *job, sal_config_t *cfg, sal_ckpt_t *ck)
{
    char path[4096];
    int rank;

    sal_ckpt_destroy(ck);
    sal_config_destroy(cfg);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        snprintf(path, sizeof(path), "%s/%s", dir, job);
        sal_remove_tree(path);
        snprintf(path, sizeof(path), "%s/pfs", dir);
        sal_remove_tree(path);
    }
}

/* Application-visible time of one checkpoint (the slowest rank's). */
static double ckpt_once(sal_ckpt_t ck, int64_t step)
{
    double t0;

    MPI_Barrier(MPI_COMM_WORLD);
    t0 = now();
    if (sal_ckpt_write(ck, step, NULL) != SAL_OK)
        fprintf(stderr, "checkpoint: %s\n", sal_last_error());
    return slowest(now() - t0);
}

/* Changes one value in pct% of the chunks of the checkpoint files (every (100 / pct)-th chunk, the
 * same ones every time). */
static void change(struct run *u, int pct)
{
    size_t n = u->len / sizeof(double);

    for (size_t k = 0; pct > 0 && k * DIFF_CHUNK < n; k += (size_t)(100 / pct))
        u->buf[k * DIFF_CHUNK] += 1.0;
}

/* Adds 1 to every value: the slowest rank's time. After a checkpoint with
 * differential_tracking=pages, each page's first write is a page fault. */
static double rewrite(struct run *u)
{
    size_t n = u->len / sizeof(double);
    double t0;

    MPI_Barrier(MPI_COMM_WORLD);
    t0 = now();
    for (size_t i = 0; i < n; i++)
        u->buf[i] += 1.0;
    return slowest(now() - t0);
}

/* A synchronous configuration, paired with raw writes. [OUT] *ratio, *secs (medians). */
/* Rank 0: the bytes of the rank files of the newest checkpoint of ck, or -1. */
static double stored_bytes(sal_ckpt_t ck, int nranks)
{
    int64_t ids[4];
    char path[4096];
    struct stat st;
    double sum = 0;
    int n = 0;

    if (sal_ckpt_list_dirs(ck->job_dir, ids, 4, &n) != SAL_OK || n < 1)
        return -1;
    for (int r = 0; r < nranks; r++) {
        if (sal_path_join(path, sizeof(path), "%s/ckpt.%lld/rank.%d.h5", ck->job_dir,
                          (long long)ids[0], r) != SAL_OK ||
            stat(path, &st) != 0)
            return -1;
        sum += (double)st.st_size;
    }
    return sum;
}

static int sync_level(const struct opts *o, struct run *u, int c, double *ratio, double *secs,
                      double *stored)
{
    double r[MAX_REPS], t[MAX_REPS], f[MAX_REPS];
    sal_config_t cfg;
    sal_ckpt_t ck;

    if (open_ckpt(o->dir, "bw_sync", sync_levels[c], sync_reuse[c], 0, sync_diff[c], sync_comp[c],
                  0, u, &cfg, &ck))
        return 1;
    for (int i = 0; i < WARMUP; i++) { /* a job's steady state: keep + 1 checkpoints exist */
        change(u, sync_changed[c]);
        ckpt_once(ck, i);
    }
    for (int i = 0; i < o->reps; i++) {
        double raw = raw_write(o->dir, u);
        if (sync_diff[c] == 2 && sync_changed[c] == 100)
            f[i] = rewrite(u) / rewrite(u);
        else
            change(u, sync_changed[c]);
        t[i] = ckpt_once(ck, WARMUP + i);
        r[i] = raw / t[i];
    }
    if (sync_diff[c] == 2 && sync_changed[c] == 100)
        u->first_write = median(f, o->reps);
    *stored = u->rank == 0 ? stored_bytes(ck, u->size) : 0;
    close_ckpt(o->dir, "bw_sync", &cfg, &ck);
    *ratio = median(r, o->reps);
    *secs = median(t, o->reps);
    return 0;
}

/* The L4 comparison. [OUT] v[0] visible cost without L4, v[1] with the asynchronous flush,
 * v[2] synchronous L4, v[3] the flush's remaining time after the compute phase (medians). */
static int l4_level(const struct opts *o, struct run *u, double v[4])
{
    double w1[MAX_REPS], c1[MAX_REPS], w4[MAX_REPS], c4[MAX_REPS], s4[MAX_REPS], lag[MAX_REPS];
    double vis1[MAX_REPS], vis4[MAX_REPS], base;
    sal_config_t cf1, cf4;
    sal_ckpt_t k1, k4;

    if (open_ckpt(o->dir, "bw_nol4", "L1", "yes", 0, 0, "none", 0, u, &cf1, &k1) ||
        open_ckpt(o->dir, "bw_l4", "L1", "yes", 1, 0, "none", 0, u, &cf4, &k4))
        return 1;
    for (int i = 0; i < WARMUP; i++) { /* both in their steady state */
        ckpt_once(k1, 2 * o->reps + i);
        ckpt_once(k4, 2 * o->reps + i);
        sal_ckpt_flush_wait(k4);
    }
    for (int i = 0; i < o->reps; i++) {
        double t0;
        w1[i] = ckpt_once(k1, 2 * i);
        c1[i] = compute(u);
        w4[i] = ckpt_once(k4, 2 * i);
        c4[i] = compute(u);
        t0 = now();
        sal_ckpt_flush_wait(k4);
        lag[i] = slowest(now() - t0);
        t0 = now();
        s4[i] = ckpt_once(k4, 2 * i + 1);
        sal_ckpt_flush_wait(k4);
        s4[i] += slowest(now() - t0);
    }
    base = median(c1, o->reps);
    for (int i = 0; i < o->reps; i++) {
        vis1[i] = w1[i] + c1[i] - base;
        vis4[i] = w4[i] + c4[i] - base;
    }
    v[0] = median(vis1, o->reps);
    v[1] = median(vis4, o->reps);
    v[2] = median(s4, o->reps);
    v[3] = median(lag, o->reps);
    close_ckpt(o->dir, "bw_l4", &cf4, &k4);
    close_ckpt(o->dir, "bw_nol4", &cf1, &k1);
    return 0;
}

/* The asynchronous redundancy. [OUT] v[0] visible cost of an L1 checkpoint, v[1] of an async
 * L1+L2 one, v[2] of an async L1+L3 one (medians; see the head of this file); v[3 + k]: the
 * median time in sal_ckpt_write of the same, v[6 + k]: the median slowdown of the compute phase
 * after it. */
static int async_levels(const struct opts *o, struct run *u, double v[9])
{
    static const char *const levels[3] = {"L1", "L1,L2", "L1,L3"};
    static const char *const job[3] = {"bw_a1", "bw_a2", "bw_a3"};
    double w[3][MAX_REPS], c[3][MAX_REPS], vis[MAX_REPS], slow[MAX_REPS];
    sal_config_t cfg[3];
    sal_ckpt_t ck[3];

    for (int k = 0; k < 3; k++)
        if (open_ckpt(o->dir, job[k], levels[k], "yes", 0, 0, "none", k > 0, u, &cfg[k], &ck[k]))
            return 1;
    for (int i = 0; i < WARMUP; i++) /* their steady state: an encoding in flight at each start */
        for (int k = 0; k < 3; k++) {
            ckpt_once(ck[k], i);
            compute_steps(u, ck[k]);
        }
    for (int i = 0; i < o->reps; i++)
        for (int k = 0; k < 3; k++) {
            w[k][i] = ckpt_once(ck[k], WARMUP + i);
            c[k][i] = compute_steps(u, ck[k]);
        }
    /* each repetition's compute phases ran side by side: the slowdown is against the L1 handle's
     * of the same repetition */
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < o->reps; i++) {
            slow[i] = c[k][i] - c[0][i];
            vis[i] = w[k][i] + slow[i];
        }
        v[k] = median(vis, o->reps);
        v[3 + k] = median(w[k], o->reps);
        v[6 + k] = median(slow, o->reps);
    }
    for (int k = 2; k >= 0; k--)
        close_ckpt(o->dir, job[k], &cfg[k], &ck[k]);
    return 0;
}

static int parse_sizes(const char *s, int *sizes)
{
    int n = 0;
    char *end;

    while (*s && n < MAX_SIZES) {
        sizes[n++] = (int)strtol(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return n;
}

static void parse_opts(int argc, char **argv, struct opts *o, int rank)
{
    *o = (struct opts){
        .sizes = {16, 64}, .nsizes = 2, .reps = 5, .compute = 0.5, .dir = "/dev/shm/ckpt_bw"};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (rank == 0)
                printf(
                    "usage: mpiexec -n N ckpt_bw [--sizes MiB,MiB...] [--dir DIR] [--reps R] "
                    "[--compute S] [--only NAME[,NAME...]]\n"
                    "  --sizes    per-rank sizes in MiB (default 16,64)\n"
                    "  --dir      directory of the checkpoints and raw files (default "
                    "/dev/shm/ckpt_bw)\n"
                    "  --reps     measured repetitions, 1..%d (default 5)\n"
                    "  --compute  seconds of the compute phase of the L4 and async comparisons "
                    "(default 0.5)\n"
                    "  --only     configurations among L1, L1-newfiles, L1+L2, L1+L3, L1-diff100, "
                    "L1-diff10, L1-lz4, L1-bzip2, L1-pages100, L1-pages10, L4, async (default all "
                    "but "
                    "L1-bzip2; the "
                    "ratios to "
                    "L1-newfiles and L1 need them)\n"
                    "  --events   directory of an event log ckpt_bw.events.jsonl (the phases "
                    "of every checkpoint)\n",
                    MAX_REPS);
            o->help = 1;
        }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--sizes") == 0)
            o->nsizes = parse_sizes(argv[i + 1], o->sizes);
        else if (strcmp(argv[i], "--dir") == 0)
            o->dir = argv[i + 1];
        else if (strcmp(argv[i], "--reps") == 0)
            o->reps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--compute") == 0)
            o->compute = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            o->only = argv[i + 1];
        else if (strcmp(argv[i], "--events") == 0)
            o->events = argv[i + 1];
    }
    if (o->reps < 1 || o->reps > MAX_REPS)
        o->reps = 5;
}

static void print_load(const char *when)
{
    char text[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");

    if (f && fgets(text, sizeof(text), f))
        text[strcspn(text, "\n")] = '\0';
    if (f)
        fclose(f);
    printf("load average %s: %s\n", when, text);
}

/* --only NAME: one configuration; --only A,B: several. */
static int wanted(const struct opts *o, int c)
{
    size_t n = strlen(sync_name[c]);
    const char *p = o->only;

    if (!p) /* every configuration but L1-bzip2, which takes a minute per checkpoint at 256 MiB */
        return strcmp(sync_name[c], "L1-bzip2") != 0;
    for (; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, sync_name[c], n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

/* One size; rank 0 prints and appends the ratio lines to ratios. */
static void one_size(const struct opts *o, struct run *u, int mib, char *ratios, size_t cap)
{
    double gib = (double)u->len * u->size / (1 << 30), ratio[NSYNC], secs[NSYNC], v[4] = {0};
    double stored[NSYNC], av[9] = {0};
    size_t used = strlen(ratios);

    for (size_t i = 0; i < u->len / sizeof(double); i++)
        u->buf[i] = (double)i * 0.5 + u->rank;
    int l4 = !o->only || strstr(o->only, "L4") != NULL;
    int async = !o->only || strstr(o->only, "async") != NULL;

    for (int c = 0; c < NSYNC; c++) {
        ratio[c] = secs[c] = stored[c] = 0;
        if (wanted(o, c) && sync_level(o, u, c, &ratio[c], &secs[c], &stored[c]))
            return;
    }
    if (l4 || async)
        calibrate(u, o->compute);
    if (l4 && l4_level(o, u, v))
        return;
    if (async && async_levels(o, u, av))
        return;
    if (u->rank != 0)
        return;
    printf("%4d MiB/rank x %d ranks (medians of %d):\n", mib, u->size, o->reps);
    for (int c = 0; c < NSYNC; c++) {
        if (!wanted(o, c))
            continue;
        printf("    %-11s %7.3f s  %6.2f GiB/s  %.2fx raw\n", sync_name[c], secs[c], gib / secs[c],
               ratio[c]);
        used += (size_t)snprintf(ratios + used, cap - used, "ratio %s/raw@%dMiB %.3f\n",
                                 sync_name[c], mib, ratio[c]);
    }
    /* The redundancy levels against a checkpoint that writes new files, as theirs do. Each
     * configuration runs seconds after the other, and the load of the machine changes in
     * between: the time of each is taken relative to the raw writes measured beside it, i.e.
     * the ratio is (L1-newfiles / raw) / (level / raw). */
    for (int c = 2; c < 4 && wanted(o, 1); c++)
        if (wanted(o, c) && ratio[c] > 0)
            used += (size_t)snprintf(ratios + used, cap - used, "ratio %s/L1-newfiles@%dMiB %.3f\n",
                                     sync_name[c], mib, ratio[1] / ratio[c]);
    /* Differential checkpoints against L1 (every chunk written), the same way. */
    for (int c = 4; c < NSYNC && wanted(o, 0); c++)
        if (sync_diff[c] && wanted(o, c) && ratio[c] > 0)
            used += (size_t)snprintf(ratios + used, cap - used, "ratio %s/L1@%dMiB %.3f\n",
                                     sync_name[c], mib, ratio[0] / ratio[c]);
    /* The cost the tracking moves into the application: its first write of each page */
    if (u->first_write > 0)
        used += (size_t)snprintf(ratios + used, cap - used,
                                 "ratio pages-first-write/write@%dMiB %.3f\n", mib, u->first_write);
    /* Compression: its time against L1-newfiles (both write new files), and the bytes of the
     * rank files against those of the data. */
    for (int c = 6; c < 8; c++) {
        if (wanted(o, c) && ratio[c] > 0 && wanted(o, 1))
            used += (size_t)snprintf(ratios + used, cap - used, "ratio %s/L1-newfiles@%dMiB %.3f\n",
                                     sync_name[c], mib, ratio[1] / ratio[c]);
        if (wanted(o, c) && stored[c] > 0)
            used += (size_t)snprintf(ratios + used, cap - used, "ratio %s-size/data@%dMiB %.3f\n",
                                     sync_name[c], mib, stored[c] / ((double)u->len * u->size));
    }
    if (l4) {
        printf("    visible cost: no L4 %.3f s, async L4 %.3f s, sync L4 %.3f s "
               "(compute phase %ld sweeps; flush still running after it: %.3f s)\n",
               v[0], v[1], v[2], u->sweeps, v[3]);
        used +=
            (size_t)snprintf(ratios + used, cap - used,
                             "ratio async-L4/no-L4@%dMiB %.3f\nratio async-L4/sync-L4@%dMiB %.3f\n",
                             mib, v[1] / v[0], mib, v[1] / v[2]);
    }
    if (!async)
        return;
    printf("    visible cost: L1 %.3f s, async L1+L2 %.3f s, async L1+L3 %.3f s (compute phase %ld "
           "sweeps, each a step)\n"
           "      in sal_ckpt_write %.3f / %.3f / %.3f s, compute phase slowed by %.3f / %.3f / "
           "%.3f s\n",
           av[0], av[1], av[2], u->sweeps, av[3], av[4], av[5], av[6], av[7], av[8]);
    snprintf(ratios + used, cap - used,
             "ratio async-L2/L1@%dMiB %.3f\nratio async-L3/L1@%dMiB %.3f\n"
             "ratio async-L2-write/L1@%dMiB %.3f\nratio async-L3-write/L1@%dMiB %.3f\n",
             mib, av[1] / av[0], mib, av[2] / av[0], mib, av[4] / av[3], mib, av[5] / av[3]);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct run u;
    char ratios[8192] = "";

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &u.rank);
    parse_opts(argc, argv, &o, u.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &u.size);
    if (o.help) {
        MPI_Finalize();
        return 0;
    }
    if (u.rank == 0 && o.events && sal_events_open(o.events, "ckpt_bw") != SAL_OK)
        fprintf(stderr, "event log: %s\n", sal_last_error());
    if (u.rank == 0) {
        sal_mkdir_p(o.dir, 0700);
        print_load("at start");
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (int s = 0; s < o.nsizes; s++) {
        u.len = (size_t)o.sizes[s] << 20;
        u.first_write = 0;
        u.buf = malloc(u.len);
        if (!u.buf) {
            fprintf(stderr, "out of memory for %d MiB\n", o.sizes[s]);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        one_size(&o, &u, o.sizes[s], ratios, sizeof(ratios));
        free(u.buf);
    }
    if (u.rank == 0) {
        print_load("at end");
        fputs(ratios, stdout);
    }
    sal_events_close();
    MPI_Finalize();
    return 0;
}
