/*
 * agree_kill's bench mode (-B N), included by agree_kill.c: failure-free, N calls each of
 * MPIX_Comm_agree, MPIX_Comm_iagree + MPI_Wait, MPIX_Comm_iagree + MPI_Test loop, MPI_Barrier and
 * MPI_Allreduce (1 int), after 10 warm-up calls; rank 0 prints one "BENCH ..." line per kind
 * (median, mean and min in microseconds, with the maximum over ranks).
 */
#ifndef AGREE_BENCH_H
#define AGREE_BENCH_H

#include <mpi.h>
#include <mpi-ext.h>

#include <stdio.h>
#include <stdlib.h>

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? v[n / 2] : 0;
}

static void bench(int n, MPI_Comm comm)
{
    const char *names[] = {"agree", "iagree+wait", "iagree+test", "barrier", "allreduce"};
    int me, size;
    double *t = malloc(sizeof(double) * (size_t)n);

    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    for (int kind = 0; kind < 5; kind++) {
        double sum = 0, med, maxmean, maxmed, mn = 1e30;
        for (int i = -10; i < n; i++) { /* 10 warm-up calls */
            int flag = 1, done = 0, x = 1, y;
            MPI_Request req;
            double t0;
            MPI_Barrier(comm);
            t0 = MPI_Wtime();
            switch (kind) {
            case 0:
                MPIX_Comm_agree(comm, &flag);
                break;
            case 1:
                MPIX_Comm_iagree(comm, &flag, &req);
                MPI_Wait(&req, MPI_STATUS_IGNORE);
                break;
            case 2:
                MPIX_Comm_iagree(comm, &flag, &req);
                while (!done)
                    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
                break;
            case 3:
                MPI_Barrier(comm);
                break;
            default:
                MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_SUM, comm);
                break;
            }
            if (i >= 0) {
                t[i] = (MPI_Wtime() - t0) * 1e6;
                sum += t[i];
                if (t[i] < mn)
                    mn = t[i];
            }
        }
        med = median(t, n);
        sum /= n;
        MPI_Reduce(&sum, &maxmean, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
        MPI_Reduce(&med, &maxmed, 1, MPI_DOUBLE, MPI_MAX, 0, comm);
        if (me == 0)
            printf("BENCH np=%d calls=%d %-12s median_us=%.1f (max over ranks %.1f) "
                   "mean_us=%.1f (max over ranks %.1f) min_us=%.1f\n",
                   size, n, names[kind], med, maxmed, sum, maxmean, mn);
    }
    fflush(stdout);
    free(t);
}

#endif
