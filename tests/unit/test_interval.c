/* Young/Daly interval maths and the running estimate of interval=auto (ckpt/src/interval.c). */
#include <math.h>

#include <CUnit/Basic.h>

#include "interval.h"
#include "unit_main.h"

static void test_young(void)
{
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_young(2.0, 3600.0), sqrt(2.0 * 2.0 * 3600.0), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_young(0.0, 3600.0), 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_young(1.0, -1.0), 0.0, 0.0);
}

static void test_daly(void)
{
    double c = 10.0, m = 86400.0, r = c / (2 * m);
    double want = sqrt(2 * c * m) * (1 + sqrt(r) / 3 + r / 9) - c;

    CU_ASSERT_DOUBLE_EQUAL(sal_interval_daly(c, m), want, 1e-9);
    /* close to Young when C << M, and below it by about C */
    CU_ASSERT(fabs(sal_interval_daly(c, m) - sal_interval_young(c, m)) < 2 * c);
    /* C >= 2M: checkpoint once per MTBF */
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_daly(300.0, 100.0), 100.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_daly(0.0, 100.0), 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_daly(NAN, 100.0), 0.0, 0.0);
}

static void test_auto_configured(void)
{
    sal_interval_auto_t s;

    sal_interval_auto_init(&s, 3600.0, 1, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(s.period, 0.0, 0.0);
    CU_ASSERT_EQUAL(sal_interval_auto_cost(&s, 2.0, 1.0), 1);
    CU_ASSERT_DOUBLE_EQUAL(s.period, sal_interval_daly(2.0, 3600.0), 1e-9);
    /* the same cost again: no significant change */
    CU_ASSERT_EQUAL(sal_interval_auto_cost(&s, 2.0, 2.0), 0);
    /* mean of the first four, then an exponential average */
    sal_interval_auto_cost(&s, 4.0, 3.0);
    sal_interval_auto_cost(&s, 4.0, 4.0);
    CU_ASSERT_DOUBLE_EQUAL(s.cost, 3.0, 1e-12);
    sal_interval_auto_cost(&s, 7.0, 5.0);
    CU_ASSERT_DOUBLE_EQUAL(s.cost, 4.0, 1e-12);
    /* a configured MTBF ignores observed failures */
    sal_interval_auto_failure(&s, 10.0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_auto_mtbf(&s, 10.0), 3600.0, 0.0);
    CU_ASSERT_EQUAL(sal_interval_auto_cost(&s, -1.0, 11.0), 0);
}

static void test_auto_observed(void)
{
    sal_interval_auto_t s;

    sal_interval_auto_init(&s, 0.0, 1, 100.0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_auto_mtbf(&s, 200.0), SAL_MTBF_DEFAULT, 0.0);
    sal_interval_auto_cost(&s, 1.0, 150.0);
    CU_ASSERT_DOUBLE_EQUAL(s.period, sal_interval_daly(1.0, SAL_MTBF_DEFAULT), 1e-9);
    /* two failures in 600 s: MTBF 300 s, the interval shrinks and the change is reported */
    CU_ASSERT_EQUAL(sal_interval_auto_failure(&s, 400.0), 1);
    CU_ASSERT_EQUAL(sal_interval_auto_failure(&s, 700.0), 0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_auto_mtbf(&s, 700.0), 300.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(s.period, sal_interval_daly(1.0, 300.0), 1e-9);
}

/* A job whose interval is not "auto": the estimate is kept, but nothing is worth reporting (no
 * "MTBF estimate now" line, no interval event) on a failure or a checkpoint. */
static void test_auto_not_in_use(void)
{
    sal_interval_auto_t s;

    sal_interval_auto_init(&s, 0.0, 0, 100.0);
    CU_ASSERT_EQUAL(sal_interval_auto_cost(&s, 1.0, 150.0), 0);
    CU_ASSERT_DOUBLE_EQUAL(s.period, sal_interval_daly(1.0, SAL_MTBF_DEFAULT), 1e-9);
    CU_ASSERT_EQUAL(sal_interval_auto_failure(&s, 400.0), 0);
    CU_ASSERT_DOUBLE_EQUAL(sal_interval_auto_mtbf(&s, 400.0), 300.0, 1e-9);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"young", test_young},
        {"daly", test_daly},
        {"auto_configured", test_auto_configured},
        {"auto_observed", test_auto_observed},
        {"auto_not_in_use", test_auto_not_in_use},
    };

    return SAL_UNIT_MAIN("interval", NULL, NULL, tests);
}
