/*
 * agree_kill: plain ULFM (Open MPI, no Salamander) reproducer for a hang of MPIX_Comm_agree when a
 * rank dies just before the agreement (project issue: mpi.kill_in_ckpt_agree hung past 60 s).
 *
 * Every iteration: a little work, MPI_Allreduce (optionally MPI_Gather to rank 0, as Salamander's
 * checkpoint commit does), then an agreement on the communicator. On iteration K the victim rank
 * raises SIGKILL on itself right before the agreement. Survivors agree (variant below); on any
 * error or a failed vote they revoke, shrink and agree again on the shrunk communicator, then go on
 * with the remaining iterations there. Every MPI call of the repair path is timed and printed.
 *
 * Variants (-v):
 *   a  blocking MPIX_Comm_agree
 *   b  MPIX_Comm_iagree + MPI_Test loop with a deadline (-D seconds); on expiry the request is left
 *      pending and the rank goes on to the repair (revoke, shrink)
 *   c  MPIX_Comm_failure_ack, then MPIX_Comm_agree on "no acknowledged failure" (a uniform vote)
 *   d  MPIX_Comm_ack_failed (the MPI-4.x-ULFM name), then agree as c
 *
 * Bench mode (-B N, agree_bench.h): failure-free, N calls each of MPIX_Comm_agree,
 * MPIX_Comm_iagree + MPI_Wait, MPIX_Comm_iagree + MPI_Test loop, MPI_Barrier and MPI_Allreduce
 * (1 int); prints microseconds.
 *
 * Options: -g adds MPI_Gather to rank 0 before the agreement (Salamander's commit does gather, then
 * agree); -E uses Salamander's communicators and error handler (see on_error); -P (implies -E):
 * the repair revokes both and shrinks the parent communicator full, not the one the agreement ran
 * on, as Salamander's repair does (repair_ulfm.c attempt()); -H: each iteration also does
 * heat2d's communication (halo exchange with MPI_Sendrecv on a 2-D grid of ranks, MPI_Allreduce on
 * row and column communicators split from comm, revoked by the -E handler); -V US: the victim
 * sleeps US microseconds (no MPI call) before SIGKILL, so that the survivors are already inside
 * the agreement when it dies (Salamander's victim writes an event and a log line first); -S US:
 * survivors compute US microseconds between the kill and the agreement (failure already known when
 * they acknowledge and agree; without it they enter the agreement microseconds after the kill).
 *
 * Output: per-rank lines "[r<world rank>] ..." and, from rank 0 of the final communicator, one line
 * "SUMMARY ..." ; exit status 0 when every survivor finished and reported, 1 otherwise.
 *
 * Build: mpicc -O2 -g -o agree_kill agree_kill.c (includes agree_bench.h, next to it)
 * Run:   mpiexec --with-ft ulfm -n 4 ./agree_kill -v a -k 5 -i 10
 */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <mpi-ext.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agree_bench.h" /* -B: bench(), failure-free timings */

static int wrank = -1; /* rank in MPI_COMM_WORLD */
static int quiet = 0;

/* -E: Salamander's pattern (runtime.c on_mpi_error): the communicators are full = dup(WORLD) and
 * comm = dup(full); an error handler revokes both as soon as any call reports a process failure,
 * i.e. inside the MPIX_Comm_agree that returns MPIX_ERR_PROC_FAILED, while slower survivors may
 * still be in the agreement. */
static MPI_Comm g_comm = MPI_COMM_NULL, g_full = MPI_COMM_NULL;
static MPI_Comm g_row = MPI_COMM_NULL, g_col = MPI_COMM_NULL; /* -H: derived communicators */
static int eh_calls = 0;

static void on_error(MPI_Comm *comm, int *err, ...)
{
    int cls;
    (void)comm;
    MPI_Error_class(*err, &cls);
    eh_calls++;
    if (cls != MPIX_ERR_PROC_FAILED && cls != MPIX_ERR_PROC_FAILED_PENDING &&
        cls != MPIX_ERR_REVOKED)
        return;
    if (g_comm != MPI_COMM_NULL)
        MPIX_Comm_revoke(g_comm);
    if (g_full != MPI_COMM_NULL)
        MPIX_Comm_revoke(g_full);
    if (g_row != MPI_COMM_NULL)
        MPIX_Comm_revoke(g_row);
    if (g_col != MPI_COMM_NULL)
        MPIX_Comm_revoke(g_col);
}

/* -H: heat2d's step on a px x py grid of ranks: halo exchange with the four neighbours
 * (MPI_Sendrecv, MPI_PROC_NULL at the edges) and an MPI_Allreduce over the row and over the column
 * communicators (MPI_Comm_split of comm). Returns the first error. */
static int halo_step(MPI_Comm comm, int make)
{
    static double sbuf[4][256], rbuf[4][256];
    int me, size, px, py, x, y, rc = MPI_SUCCESS, r2;
    double v = 1.0, sum;

    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    for (px = 1; (px + 1) * (px + 1) <= size; px++)
        ;
    while (size % px)
        px--;
    py = size / px;
    x = me % px;
    y = me / px;
    if (make) {
        if (g_row != MPI_COMM_NULL) {
            MPI_Comm_free(&g_row);
            MPI_Comm_free(&g_col);
        }
        MPI_Comm_split(comm, y, x, &g_row);
        MPI_Comm_split(comm, x, y, &g_col);
        MPI_Errhandler e;
        MPI_Comm_get_errhandler(comm, &e); /* the -E handler or MPI_ERRORS_RETURN */
        MPI_Comm_set_errhandler(g_row, e);
        MPI_Comm_set_errhandler(g_col, e);
        MPI_Errhandler_free(&e);
    }
    {
        int nb[4] = {x > 0 ? me - 1 : MPI_PROC_NULL, x < px - 1 ? me + 1 : MPI_PROC_NULL,
                     y > 0 ? me - px : MPI_PROC_NULL, y < py - 1 ? me + px : MPI_PROC_NULL};
        for (int d = 0; d < 4 && rc == MPI_SUCCESS; d++)
            rc = MPI_Sendrecv(sbuf[d], 256, MPI_DOUBLE, nb[d], 7, rbuf[d ^ 1], 256, MPI_DOUBLE,
                              nb[d ^ 1], 7, comm, MPI_STATUS_IGNORE);
    }
    if (rc == MPI_SUCCESS)
        rc = MPI_Allreduce(&v, &sum, 1, MPI_DOUBLE, MPI_MAX, g_row);
    r2 = rc == MPI_SUCCESS ? MPI_Allreduce(&v, &sum, 1, MPI_DOUBLE, MPI_MAX, g_col) : rc;
    return r2;
}

struct opts {
    int iters, kill_iter, victim, work_us, gather, bench, verbose_iters, eh, settle_us, parent,
        halo, victim_delay_us;
    char variant;
    double deadline;
};

/* Per survivor, gathered by rank 0 of the final communicator. */
struct stats {
    int wrank;
    int agree1_cls; /* error class of the agreement in the kill iteration (-1: not reached) */
    int agree1_flag;
    int repaired;     /* repairs done */
    int repair_it;    /* iteration of the first repair */
    int repair_cause; /* 1 agree rc, 2 agree vote, 3 allreduce, 4 gather */
    int agree2_cls;   /* agreement on the shrunk communicator */
    int deadline_expired;
    int nacked; /* variants c/d: failures acknowledged before the first failed agreement */
    double agree1_ms, revoke_ms, shrink_ms, agree2_ms, max_agree_ok_us;
};

static const char *cls_name(int cls)
{
    switch (cls) {
    case -1:
        return "none";
    case MPI_SUCCESS:
        return "SUCCESS";
    case MPIX_ERR_PROC_FAILED:
        return "PROC_FAILED";
    case MPIX_ERR_PROC_FAILED_PENDING:
        return "PROC_FAILED_PENDING";
    case MPIX_ERR_REVOKED:
        return "REVOKED";
    default:
        return "OTHER";
    }
}

static int rc_class(int rc)
{
    int cls = rc;
    if (rc != MPI_SUCCESS)
        MPI_Error_class(rc, &cls);
    return cls;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    char buf[512];

    if (quiet)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("[r%d %.6f] %s\n", wrank, MPI_Wtime(), buf);
    fflush(stdout);
}

static void work(int us)
{
    double t = MPI_Wtime() + us * 1e-6;
    volatile double x = 1.0;
    while (MPI_Wtime() < t)
        x = x * 1.0000001 + 1e-9;
}

/* One agreement with the chosen variant. *flag in/out. Returns the MPI return code. */
static int agree(const struct opts *o, MPI_Comm comm, int *flag, int *expired, int *nacked,
                 double *ms)
{
    double t0 = MPI_Wtime();
    int rc;

    *expired = 0;
    if (o->variant == 'b') {
        MPI_Request req = MPI_REQUEST_NULL;
        int done = 0;
        double end = t0 + o->deadline;

        rc = MPIX_Comm_iagree(comm, flag, &req);
        while (rc == MPI_SUCCESS && !done) {
            rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (!done && MPI_Wtime() > end) {
                *expired = 1;
                break;
            }
        }
        /* req stays pending when the deadline expired: MPI cannot cancel an agreement. */
    } else {
        if (o->variant == 'c' || o->variant == 'd') {
            MPI_Group g;
            int n = 0;
            if (o->variant == 'c') {
                MPIX_Comm_failure_ack(comm);
                MPIX_Comm_failure_get_acked(comm, &g);
                MPI_Group_size(g, &n);
                MPI_Group_free(&g);
            } else {
                int size;
                MPI_Comm_size(comm, &size);
                MPIX_Comm_ack_failed(comm, size, &n);
            }
            *nacked = n;
            /* Vote on it: the result of the agreement is uniform, the local ack is not. */
            if (n > 0)
                *flag = 0;
        }
        rc = MPIX_Comm_agree(comm, flag);
    }
    *ms = (MPI_Wtime() - t0) * 1e3;
    return rc;
}

/* revoke, shrink, agree on the shrunk communicator; replaces *comm. */
static int repair(const struct opts *o, MPI_Comm *comm, struct stats *st, int it, int cause)
{
    MPI_Comm nc = MPI_COMM_NULL;
    double t0;
    int rc, flag = 1, expired = 0, nacked = 0, nsize = 0;
    double ms;

    MPI_Comm target = o->parent && g_full != MPI_COMM_NULL ? g_full : *comm;

    say("it %d: repair (cause %d): revoke", it, cause);
    t0 = MPI_Wtime();
    rc = MPIX_Comm_revoke(*comm);
    if (target != *comm)
        MPIX_Comm_revoke(target);
    ms = (MPI_Wtime() - t0) * 1e3;
    say("it %d: revoke rc=%s %.3f ms; shrink %s", it, cls_name(rc_class(rc)), ms,
        target != *comm ? "the parent communicator (full)" : "the communicator");
    if (!st->repaired)
        st->revoke_ms = ms;
    t0 = MPI_Wtime();
    rc = MPIX_Comm_shrink(target, &nc);
    ms = (MPI_Wtime() - t0) * 1e3;
    if (rc == MPI_SUCCESS)
        MPI_Comm_size(nc, &nsize);
    say("it %d: shrink rc=%s %.3f ms size=%d; agree on shrunk comm", it, cls_name(rc_class(rc)), ms,
        nsize);
    if (!st->repaired)
        st->shrink_ms = ms;
    if (rc != MPI_SUCCESS)
        return rc;
    if (o->eh) {
        MPI_Errhandler eh;
        MPI_Comm_create_errhandler(on_error, &eh);
        MPI_Comm_set_errhandler(nc, eh);
        MPI_Errhandler_free(&eh);
        g_comm = nc;
        g_full = MPI_COMM_NULL;
    } else {
        MPI_Comm_set_errhandler(nc, MPI_ERRORS_RETURN);
    }
    rc = agree(o, nc, &flag, &expired, &nacked, &ms);
    say("it %d: agree(shrunk) rc=%s flag=%d %.3f ms%s", it, cls_name(rc_class(rc)), flag, ms,
        expired ? " DEADLINE EXPIRED" : "");
    if (!st->repaired) {
        st->agree2_cls = rc_class(rc);
        st->agree2_ms = ms;
        st->repair_it = it;
        st->repair_cause = cause;
    }
    st->deadline_expired += expired;
    st->repaired++;
    MPI_Comm_free(comm); /* local on a revoked communicator */
    *comm = nc;
    return MPI_SUCCESS;
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: agree_kill [-v a|b|c|d] [-i iters] [-k kill_iter] [-r victim|-1] "
        "[-w work_us] [-D deadline_s] [-g] [-E] [-P] [-H] [-S settle_us] [-V victim_delay_us] [-q] "
        "[-B bench_calls]\n");
}

int main(int argc, char **argv)
{
    struct opts o = {20, 5, -2, 200, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 10.0};
    struct stats st;
    MPI_Comm comm;
    int wsize, c, status = 0, me, size, killed_seen = 0, halo_made = 0;
    double tstart;

    while ((c = getopt(argc, argv, "v:i:k:r:w:D:gqB:ES:PHV:")) != -1) {
        switch (c) {
        case 'v':
            o.variant = optarg[0];
            break;
        case 'i':
            o.iters = atoi(optarg);
            break;
        case 'k':
            o.kill_iter = atoi(optarg);
            break;
        case 'r':
            o.victim = atoi(optarg);
            break;
        case 'w':
            o.work_us = atoi(optarg);
            break;
        case 'D':
            o.deadline = atof(optarg);
            break;
        case 'g':
            o.gather = 1;
            break;
        case 'E':
            o.eh = 1;
            break;
        case 'P':
            o.parent = o.eh = 1;
            break;
        case 'H':
            o.halo = 1;
            break;
        case 'V':
            o.victim_delay_us = atoi(optarg);
            break;
        case 'S':
            o.settle_us = atoi(optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'B':
            o.bench = atoi(optarg);
            break;
        default:
            usage();
            return 2;
        }
    }
    if (!strchr("abcd", o.variant)) {
        usage();
        return 2;
    }
    MPI_Init(&argc, &argv);
    tstart = MPI_Wtime();
    MPI_Comm_rank(MPI_COMM_WORLD, &wrank);
    MPI_Comm_size(MPI_COMM_WORLD, &wsize);
    if (o.victim == -2)
        o.victim = wsize - 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (o.eh) {
        MPI_Errhandler eh;
        MPI_Comm_create_errhandler(on_error, &eh);
        MPI_Comm_dup(MPI_COMM_WORLD, &g_full);
        MPI_Comm_set_errhandler(g_full, eh);
        MPI_Comm_dup(g_full, &comm);
        MPI_Comm_set_errhandler(comm, eh);
        MPI_Errhandler_free(&eh);
        g_comm = comm;
    } else {
        MPI_Comm_dup(MPI_COMM_WORLD, &comm);
        MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    }
    say("pid %d", (int)getpid());

    if (o.bench > 0) {
        bench(o.bench, comm);
        MPI_Comm_free(&comm);
        MPI_Finalize();
        return 0;
    }

    memset(&st, 0, sizeof(st));
    st.wrank = wrank;
    st.agree1_cls = -1;
    st.agree2_cls = -1;
    st.repair_it = -1;
    for (int it = 0; it < o.iters; it++) {
        int x = wrank + 1, sum = 0, flag = 1, expired = 0, nacked = 0, rc;
        double ms;
        int kill_it = it == o.kill_iter;

        work(o.work_us);
        rc = o.halo ? halo_step(comm, it == 0 || st.repaired != halo_made) : MPI_SUCCESS;
        if (o.halo)
            halo_made = st.repaired;
        if (rc == MPI_SUCCESS)
            rc = MPI_Allreduce(&x, &sum, 1, MPI_INT, MPI_SUM, comm);
        if (rc != MPI_SUCCESS || kill_it)
            say("it %d: allreduce rc=%s sum=%d", it, cls_name(rc_class(rc)), sum);
        if (rc != MPI_SUCCESS) {
            if (repair(&o, &comm, &st, it, 3) != MPI_SUCCESS) {
                status = 1;
                break;
            }
            continue;
        }
        if (o.gather) {
            MPI_Comm_rank(comm, &me);
            MPI_Comm_size(comm, &size);
            int *all = me == 0 ? malloc(sizeof(int) * (size_t)size) : NULL;
            rc = MPI_Gather(&x, 1, MPI_INT, all, 1, MPI_INT, 0, comm);
            free(all);
            if (rc != MPI_SUCCESS) {
                say("it %d: gather rc=%s", it, cls_name(rc_class(rc)));
                if (repair(&o, &comm, &st, it, 4) != MPI_SUCCESS) {
                    status = 1;
                    break;
                }
                continue;
            }
        }
        if (kill_it && wrank == o.victim) {
            say("it %d: raising SIGKILL before the agreement%s", it,
                o.victim_delay_us > 0 ? " after a delay" : "");
            fflush(NULL);
            if (o.victim_delay_us > 0) {
                struct timespec ts = {o.victim_delay_us / 1000000,
                                      (o.victim_delay_us % 1000000) * 1000L};
                nanosleep(&ts, NULL); /* the survivors are in the agreement by now */
            }
            raise(SIGKILL);
        }
        if (kill_it && o.settle_us > 0) {
            /* MPI progress (not plain computation, which does not let the failure be noticed):
             * the failure is then usually known before the agreement starts. */
            double end = MPI_Wtime() + o.settle_us * 1e-6;
            while (MPI_Wtime() < end) {
                int pf = 0;
                MPI_Iprobe(MPI_ANY_SOURCE, 4242, comm, &pf, MPI_STATUS_IGNORE);
            }
        }
        if (kill_it)
            say("it %d: enter agreement (variant %c)", it, o.variant);
        rc = agree(&o, comm, &flag, &expired, &nacked, &ms);
        if (kill_it || rc != MPI_SUCCESS || flag != 1 || expired) {
            say("it %d: agree rc=%s flag=%d nacked=%d %.3f ms%s", it, cls_name(rc_class(rc)), flag,
                nacked, ms, expired ? " DEADLINE EXPIRED" : "");
        }
        if (kill_it) {
            st.agree1_cls = rc_class(rc);
            st.agree1_flag = flag;
            st.agree1_ms = ms;
            st.nacked = nacked;
            killed_seen = 1;
        } else if (ms * 1e3 > st.max_agree_ok_us && rc == MPI_SUCCESS) {
            st.max_agree_ok_us = ms * 1e3;
        }
        st.deadline_expired += expired;
        if (rc != MPI_SUCCESS || flag != 1 || expired) {
            if (repair(&o, &comm, &st, it, rc != MPI_SUCCESS || expired ? 1 : 2) != MPI_SUCCESS) {
                status = 1;
                break;
            }
        }
    }
    (void)killed_seen;

    /* Report: every survivor to rank 0 of the final communicator. */
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    {
        struct stats *all = me == 0 ? calloc((size_t)size, sizeof(st)) : NULL;
        int rc =
            MPI_Gather(&st, (int)sizeof(st), MPI_BYTE, all, (int)sizeof(st), MPI_BYTE, 0, comm);
        if (rc != MPI_SUCCESS) {
            say("final gather rc=%s", cls_name(rc_class(rc)));
            status = 1;
        } else if (me == 0) {
            char a1[256] = "", a2[256] = "";
            double a1max = 0, shmax = 0, a2max = 0, okmax = 0;
            int dl = 0, rep = 0,
                expected = o.victim >= 0 && o.victim < wsize && o.kill_iter < o.iters;
            for (int i = 0; i < size; i++) {
                size_t l1 = strlen(a1), l2 = strlen(a2);
                snprintf(a1 + l1, sizeof(a1) - l1, "%s%d:%s/%d", i ? "," : "", all[i].wrank,
                         cls_name(all[i].agree1_cls), all[i].agree1_flag);
                snprintf(a2 + l2, sizeof(a2) - l2, "%s%d:%s", i ? "," : "", all[i].wrank,
                         cls_name(all[i].agree2_cls));
                if (all[i].agree1_ms > a1max)
                    a1max = all[i].agree1_ms;
                if (all[i].shrink_ms > shmax)
                    shmax = all[i].shrink_ms;
                if (all[i].agree2_ms > a2max)
                    a2max = all[i].agree2_ms;
                if (all[i].max_agree_ok_us > okmax)
                    okmax = all[i].max_agree_ok_us;
                dl += all[i].deadline_expired;
                rep += all[i].repaired ? 1 : 0;
            }
            if (expected && (size != wsize - 1 || rep != size))
                status = 1;
            printf(
                "SUMMARY variant=%c np=%d victim=%d kill_iter=%d iters=%d gather=%d eh=%d "
                "parent=%d halo=%d victim_delay_us=%d "
                "survivors=%d repaired=%d repair_it=%d cause=%d agree1=[%s] agree1_ms_max=%.3f "
                "revoke_ms=%.3f shrink_ms_max=%.3f agree2=[%s] agree2_ms_max=%.3f "
                "deadline_expired=%d nacked0=%d settle_us=%d max_ok_agree_us=%.1f wall_s=%.3f %s\n",
                o.variant, wsize, o.victim, o.kill_iter, o.iters, o.gather, o.eh, o.parent, o.halo,
                o.victim_delay_us, size, rep, all[0].repair_it, all[0].repair_cause, a1, a1max,
                all[0].revoke_ms, shmax, a2, a2max, dl, all[0].nacked, o.settle_us, okmax,
                MPI_Wtime() - tstart, status ? "BAD" : "OK");
            fflush(stdout);
        }
        free(all);
    }
    MPI_Comm_free(&comm);
    say("MPI_Finalize");
    MPI_Finalize();
    if (!quiet) {
        printf("[r%d] finalized, status %d\n", wrank, status);
        fflush(stdout);
    }
    return status;
}
