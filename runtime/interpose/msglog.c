/* The message log of local rollback (msglog.h). Entries are a header followed by the payload,
 * padded to 8 bytes so that every header is aligned. */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "log.h"
#include "msglog.h"

#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

static size_t entry_size(uint64_t len)
{
    return sizeof(sal_msglog_hdr_t) + PAD8((size_t)len);
}

void sal_msglog_init(sal_msglog_t *log, size_t bound, int64_t base)
{
    memset(log, 0, sizeof(*log));
    log->bound = bound;
    log->base = base;
}

void sal_msglog_free(sal_msglog_t *log)
{
    free(log->buf);
    log->buf = NULL;
    log->len = log->cap = log->entries = log->hint = log->last = 0;
}

static void empty(sal_msglog_t *log)
{
    log->len = log->entries = log->hint = log->last = 0;
}

static int grow(sal_msglog_t *log, size_t need)
{
    size_t cap = log->cap ? log->cap : 4096;
    unsigned char *p;

    while (cap < need)
        cap *= 2;
    if (cap == log->cap)
        return SAL_OK;
    p = realloc(log->buf, cap);
    if (!p)
        return sal_error(SAL_ERR_NOMEM, "message log: cannot grow to %zu bytes", cap);
    log->buf = p;
    log->cap = cap;
    return SAL_OK;
}

int sal_msglog_append(sal_msglog_t *log, const sal_msglog_hdr_t *h, const void *payload,
                      void **room)
{
    size_t need = log->len + entry_size(h->len);
    int rc;

    *room = NULL;
    if (log->overflow)
        return SAL_OK;
    if (log->bound && need > log->bound) {
        sal_msglog_free(log);
        log->overflow = 1;
        return SAL_OK;
    }
    if ((rc = grow(log, need)) != SAL_OK)
        return rc;
    memcpy(log->buf + log->len, h, sizeof(*h));
    log->last = log->len;
    *room = log->buf + log->len + sizeof(*h);
    if (payload && h->len)
        memcpy(*room, payload, (size_t)h->len);
    log->len = need;
    log->entries++;
    return SAL_OK;
}

void sal_msglog_shrink_last(sal_msglog_t *log, uint64_t len)
{
    size_t at = log->last;
    sal_msglog_hdr_t h;

    if (log->entries == 0 || at >= log->len)
        return;
    memcpy(&h, log->buf + at, sizeof(h));
    if (len >= h.len || at + entry_size(h.len) != log->len)
        return;
    h.len = len;
    memcpy(log->buf + at, &h, sizeof(h));
    log->len = at + entry_size(len);
}

void sal_msglog_drop(sal_msglog_t *log, int64_t base)
{
    empty(log);
    log->overflow = 0;
    log->base = base;
}

void sal_msglog_truncate_after(sal_msglog_t *log, int64_t step)
{
    size_t pos = 0, n = 0;
    sal_msglog_hdr_t h;

    while (pos < log->len) {
        memcpy(&h, log->buf + pos, sizeof(h));
        if (h.step > step)
            break;
        pos += entry_size(h.len);
        n++;
    }
    log->len = pos;
    log->entries = n;
    log->hint = log->last = 0; /* shrink_last applies to the next append only */
}

int sal_msglog_next(const sal_msglog_t *log, size_t *pos, sal_msglog_hdr_t *h, const void **payload)
{
    if (*pos + sizeof(*h) > log->len)
        return 0;
    memcpy(h, log->buf + *pos, sizeof(*h));
    *payload = log->buf + *pos + sizeof(*h);
    *pos += entry_size(h->len);
    return 1;
}

static int same_key(const sal_msglog_hdr_t *a, const sal_msglog_hdr_t *b)
{
    return a->kind == b->kind && a->step == b->step && a->comm == b->comm && a->src == b->src &&
           a->dst == b->dst && a->tag == b->tag && a->seq == b->seq;
}

int sal_msglog_find(sal_msglog_t *log, const sal_msglog_hdr_t *key, sal_msglog_hdr_t *h,
                    const void **payload)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t pos = pass == 0 ? log->hint : 0, end = pass == 0 ? log->len : log->hint;

        while (pos < end && sal_msglog_next(log, &pos, h, payload)) {
            if (same_key(h, key)) {
                log->hint = pos;
                return 1;
            }
        }
    }
    return 0;
}

int sal_msglog_copy_if(sal_msglog_t *dst, const sal_msglog_t *src,
                       int (*keep)(const sal_msglog_hdr_t *h, void *arg), void *arg)
{
    size_t pos = 0;
    sal_msglog_hdr_t h;
    const void *payload;

    while (sal_msglog_next(src, &pos, &h, &payload)) {
        void *room;
        int rc;

        if (!keep(&h, arg))
            continue;
        if ((rc = sal_msglog_append(dst, &h, payload, &room)) != SAL_OK)
            return rc;
    }
    return SAL_OK;
}

int sal_msglog_absorb(sal_msglog_t *log, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    size_t pos = 0;

    while (pos < len) {
        sal_msglog_hdr_t h;
        void *room;
        int rc;

        if (len - pos < sizeof(h))
            return sal_error(SAL_ERR_CORRUPT, "message log: %zu stray bytes", len - pos);
        memcpy(&h, p + pos, sizeof(h));
        if (h.len > len - pos - sizeof(h))
            return sal_error(SAL_ERR_CORRUPT, "message log: an entry of %llu bytes is cut",
                             (unsigned long long)h.len);
        if ((rc = sal_msglog_append(log, &h, p + pos + sizeof(h), &room)) != SAL_OK)
            return rc;
        pos += entry_size(h.len) < len - pos ? entry_size(h.len) : len - pos;
    }
    return SAL_OK;
}
