/* String arrays and the error message of salrun. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <salamander/sal_error.h>

#include "salrun.h"

static char errmsg[2048];

int salrun_fail(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
    va_end(ap);
    return code;
}

const char *salrun_errmsg(void)
{
    return errmsg;
}

int salrun_argv_push(salrun_argv_t *a, const char *s)
{
    char *copy;

    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **v = realloc(a->v, cap * sizeof(char *));

        if (!v)
            return salrun_fail(SAL_ERR_NOMEM, "out of memory");
        a->v = v;
        a->cap = cap;
    }
    copy = strdup(s);
    if (!copy)
        return salrun_fail(SAL_ERR_NOMEM, "out of memory");
    a->v[a->n++] = copy;
    a->v[a->n] = NULL;
    return SAL_OK;
}

int salrun_argv_pushf(salrun_argv_t *a, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return salrun_fail(SAL_ERR_INVALID_ARG, "argument too long: %.60s...", buf);
    return salrun_argv_push(a, buf);
}

void salrun_argv_free(salrun_argv_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

double salrun_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
