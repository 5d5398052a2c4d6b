/*
 * The message log of local rollback (runtime/interpose/msglog.c): append and find, the drop at a
 * commit, the truncation to a step, the bound, and the shipping form (copy_if, absorb).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "msglog.h"
#include "unit_main.h"

static sal_msglog_hdr_t msg(int64_t step, int dst, int tag, uint32_t seq, uint64_t len)
{
    return (sal_msglog_hdr_t){step, 1, SAL_MSGLOG_P2P, 0, dst, tag, seq, len};
}

static void add(sal_msglog_t *log, sal_msglog_hdr_t h, unsigned char fill)
{
    unsigned char data[64];
    void *room;

    memset(data, fill, sizeof(data));
    CU_ASSERT_EQUAL_FATAL(sal_msglog_append(log, &h, data, &room), SAL_OK);
}

static void test_append_find(void)
{
    sal_msglog_t log;
    sal_msglog_hdr_t h, key = msg(2, 3, 7, 1, 0);
    const void *payload;

    sal_msglog_init(&log, 0, 0);
    add(&log, msg(1, 3, 7, 0, 24), 0xa1);
    add(&log, msg(2, 3, 7, 0, 24), 0xa2);
    add(&log, msg(2, 3, 7, 1, 5), 0xa3);
    CU_ASSERT_EQUAL(log.entries, 3);
    CU_ASSERT_EQUAL_FATAL(sal_msglog_find(&log, &key, &h, &payload), 1);
    CU_ASSERT_EQUAL(h.len, 5);
    CU_ASSERT_EQUAL(((const unsigned char *)payload)[4], 0xa3);
    key.seq = 2;
    CU_ASSERT_EQUAL(sal_msglog_find(&log, &key, &h, &payload), 0);
    key = msg(1, 3, 7, 0, 0); /* before the hint: found from the start */
    CU_ASSERT_EQUAL_FATAL(sal_msglog_find(&log, &key, &h, &payload), 1);
    CU_ASSERT_EQUAL(((const unsigned char *)payload)[0], 0xa1);
    key.tag = 8;
    CU_ASSERT_EQUAL(sal_msglog_find(&log, &key, &h, &payload), 0);
    sal_msglog_free(&log);
}

static void test_shrink_last(void)
{
    sal_msglog_t log;
    sal_msglog_hdr_t h, key = msg(1, 0, 0, 0, 0);
    const void *payload;

    sal_msglog_init(&log, 0, 0);
    add(&log, msg(1, 0, 0, 0, 40), 0x11);
    sal_msglog_shrink_last(&log, 16);
    add(&log, msg(1, 0, 0, 1, 8), 0x22);
    CU_ASSERT_EQUAL_FATAL(sal_msglog_find(&log, &key, &h, &payload), 1);
    CU_ASSERT_EQUAL(h.len, 16);
    key.seq = 1;
    CU_ASSERT_EQUAL_FATAL(sal_msglog_find(&log, &key, &h, &payload), 1);
    CU_ASSERT_EQUAL(((const unsigned char *)payload)[7], 0x22);
    sal_msglog_free(&log);
}

static void test_drop_truncate(void)
{
    sal_msglog_t log;
    size_t pos = 0;
    sal_msglog_hdr_t h;
    const void *payload;

    sal_msglog_init(&log, 0, 0);
    for (int s = 1; s <= 5; s++)
        add(&log, msg(s, 1, 0, 0, 8), (unsigned char)s);
    sal_msglog_truncate_after(&log, 3);
    CU_ASSERT_EQUAL(log.entries, 3);
    while (sal_msglog_next(&log, &pos, &h, &payload))
        CU_ASSERT(h.step <= 3);
    add(&log, msg(4, 1, 0, 0, 8), 4);
    CU_ASSERT_EQUAL(log.entries, 4);
    sal_msglog_drop(&log, 4);
    CU_ASSERT_EQUAL(log.entries, 0);
    CU_ASSERT_EQUAL(log.len, 0);
    CU_ASSERT_EQUAL(log.base, 4);
    pos = 0;
    CU_ASSERT_EQUAL(sal_msglog_next(&log, &pos, &h, &payload), 0);
    sal_msglog_free(&log);
}

static void test_bound(void)
{
    sal_msglog_t log;
    sal_msglog_hdr_t h = msg(1, 0, 0, 0, 64);
    void *room;

    sal_msglog_init(&log, 3 * (sizeof(sal_msglog_hdr_t) + 64), 0);
    for (uint32_t i = 0; i < 3; i++)
        add(&log, msg(1, 0, 0, i, 64), 1);
    CU_ASSERT_EQUAL(log.overflow, 0);
    CU_ASSERT_EQUAL(sal_msglog_append(&log, &h, NULL, &room), SAL_OK);
    CU_ASSERT_PTR_NULL(room);
    CU_ASSERT_EQUAL(log.overflow, 1);
    CU_ASSERT_EQUAL(log.entries, 0); /* the memory is given back */
    CU_ASSERT_EQUAL(sal_msglog_append(&log, &h, NULL, &room), SAL_OK);
    CU_ASSERT_PTR_NULL(room);
    sal_msglog_drop(&log, 10); /* a commit: logging starts again */
    CU_ASSERT_EQUAL(log.overflow, 0);
    add(&log, msg(11, 0, 0, 0, 64), 2);
    CU_ASSERT_EQUAL(log.entries, 1);
    sal_msglog_free(&log);
}

static int to_rank_2(const sal_msglog_hdr_t *h, void *arg)
{
    (void)arg;
    return h->dst == 2;
}

static void test_ship(void)
{
    sal_msglog_t src, part, dst;
    sal_msglog_hdr_t h, key = msg(3, 2, 0, 0, 0);
    const void *payload;

    sal_msglog_init(&src, 0, 0);
    sal_msglog_init(&part, 0, 0);
    sal_msglog_init(&dst, 0, 0);
    add(&src, msg(3, 1, 0, 0, 12), 0x31);
    add(&src, msg(3, 2, 0, 0, 13), 0x32);
    add(&src, msg(4, 2, 0, 0, 3), 0x42);
    CU_ASSERT_EQUAL(sal_msglog_copy_if(&part, &src, to_rank_2, NULL), SAL_OK);
    CU_ASSERT_EQUAL(part.entries, 2);
    CU_ASSERT_EQUAL(sal_msglog_absorb(&dst, part.buf, part.len), SAL_OK);
    CU_ASSERT_EQUAL(dst.entries, 2);
    CU_ASSERT_EQUAL_FATAL(sal_msglog_find(&dst, &key, &h, &payload), 1);
    CU_ASSERT_EQUAL(h.len, 13);
    CU_ASSERT_EQUAL(((const unsigned char *)payload)[12], 0x32);
    /* a cut entry is refused */
    CU_ASSERT_EQUAL(sal_msglog_absorb(&dst, part.buf, sizeof(sal_msglog_hdr_t) + 4),
                    SAL_ERR_CORRUPT);
    sal_msglog_free(&src);
    sal_msglog_free(&part);
    sal_msglog_free(&dst);
}

int main(void)
{
    static const sal_unit_test_t tests[] = {
        {"append and find", test_append_find},
        {"shrink the last entry", test_shrink_last},
        {"drop at a commit, truncate to a step", test_drop_truncate},
        {"the bound", test_bound},
        {"shipping: copy_if and absorb", test_ship},
    };
    return SAL_UNIT_MAIN("msglog", NULL, NULL, tests);
}
