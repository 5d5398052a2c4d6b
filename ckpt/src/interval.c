/* Young/Daly optimum checkpoint interval and its running estimate. */
#include <math.h>

#include "interval.h"

double sal_interval_young(double cost, double mtbf)
{
    if (!(cost > 0) || !(mtbf > 0))
        return 0;
    return sqrt(2.0 * cost * mtbf);
}

double sal_interval_daly(double cost, double mtbf)
{
    double r;

    if (!(cost > 0) || !(mtbf > 0))
        return 0;
    if (cost >= 2.0 * mtbf)
        return mtbf;
    r = cost / (2.0 * mtbf);
    return sqrt(2.0 * cost * mtbf) * (1.0 + sqrt(r) / 3.0 + r / 9.0) - cost;
}

void sal_interval_auto_init(sal_interval_auto_t *s, double mtbf_cfg, int in_use, double now)
{
    s->in_use = in_use;
    s->mtbf_cfg = mtbf_cfg > 0 ? mtbf_cfg : 0;
    s->t_start = now;
    s->cost = 0;
    s->ncost = 0;
    s->failures = 0;
    s->period = 0;
}

double sal_interval_auto_mtbf(const sal_interval_auto_t *s, double now)
{
    if (s->mtbf_cfg > 0)
        return s->mtbf_cfg;
    if (s->failures > 0 && now > s->t_start)
        return (now - s->t_start) / s->failures;
    return SAL_MTBF_DEFAULT;
}

static int recompute(sal_interval_auto_t *s, double now)
{
    double old = s->period;

    if (s->ncost == 0)
        return 0;
    s->period = sal_interval_daly(s->cost, sal_interval_auto_mtbf(s, now));
    return s->in_use && (old <= 0 || fabs(s->period - old) > 0.1 * old);
}

int sal_interval_auto_cost(sal_interval_auto_t *s, double seconds, double now)
{
    if (!(seconds >= 0))
        return 0;
    s->ncost++;
    if (s->ncost <= 4)
        s->cost += (seconds - s->cost) / s->ncost;
    else
        s->cost += 0.25 * (seconds - s->cost);
    return recompute(s, now);
}

int sal_interval_auto_failure(sal_interval_auto_t *s, double now)
{
    s->failures++;
    return recompute(s, now);
}
