/*
 * The adaptive checkpoint interval (interval=auto): the Young/Daly optimum from the measured cost
 * of a checkpoint and the mean time between failures. Pure arithmetic, no MPI.
 */
#ifndef SAL_INTERVAL_H
#define SAL_INTERVAL_H

#define SAL_MTBF_DEFAULT 86400.0 /* assumed until a failure is observed when mtbf = 0 */

/* Young's first-order optimum sqrt(2 C M) (seconds of computation between checkpoints).
 * 0 when cost <= 0 or mtbf <= 0. */
double sal_interval_young(double cost, double mtbf);

/* Daly's higher-order optimum: sqrt(2CM) (1 + sqrt(C/(2M))/3 + C/(18M)) - C for C < 2M, else M.
 * 0 when cost <= 0 or mtbf <= 0. */
double sal_interval_daly(double cost, double mtbf);

/* Running state of the adaptive interval. */
typedef struct sal_interval_auto {
    double mtbf_cfg; /* configured MTBF, 0 = observed */
    double t_start;  /* when the measurement began (seconds, any clock) */
    double cost;     /* smoothed checkpoint cost, seconds; 0 before the first measurement */
    int ncost;       /* measurements so far */
    int failures;    /* failures observed */
    double period;   /* the current interval, seconds; 0 before the first measurement */
    int in_use;      /* 1: the job's interval is "auto" (its changes are worth reporting) */
} sal_interval_auto_t;

/* in_use: whether the job's interval is "auto"; the estimate is kept either way, and the cost and
 * failure functions below return 0 (nothing to report) when it is not. */
void sal_interval_auto_init(sal_interval_auto_t *s, double mtbf_cfg, int in_use, double now);

/* Adds a measured checkpoint cost: the mean of the first 4, then an exponential average with
 * weight 1/4 on the new value. Recomputes period; returns 1 when it changed by more than 10%. */
int sal_interval_auto_cost(sal_interval_auto_t *s, double seconds, double now);

/* Records one failure and recomputes period (as sal_interval_auto_cost). */
int sal_interval_auto_failure(sal_interval_auto_t *s, double now);

/* The MTBF in use: the configured one, else elapsed time / failures, else SAL_MTBF_DEFAULT. */
double sal_interval_auto_mtbf(const sal_interval_auto_t *s, double now);

#endif
