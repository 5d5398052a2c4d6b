/*
 * The one logging module. Every line goes to stderr as
 *     [salamander <level> r<rank>@<host> <function>] message
 * and error details are recorded for sal_last_error().
 */
#ifndef SAL_LOG_H
#define SAL_LOG_H

#include <stdarg.h>

#include "private_api.h"

typedef enum sal_log_level {
    SAL_LOG_ERROR = 0,
    SAL_LOG_WARN = 1,
    SAL_LOG_INFO = 2,
    SAL_LOG_DEBUG = 3
} sal_log_level_t;

/* Identity stamped on every line: rank -1 means "not known yet"; host NULL means "?". Thread-safe.
 */
SAL_PRIVATE void sal_log_set_identity(int rank, const char *host);
/* A shrink renumbered this process: from now on its lines say "r2(was r3)@host", r3 being its
 * number before the first renumbering (the one the launch and the user know), which it returns. */
SAL_PRIVATE int sal_log_renumbered(int old_rank);
SAL_PRIVATE void sal_log_set_level(sal_log_level_t level);
sal_log_level_t sal_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 when not a level name. */
SAL_PRIVATE int sal_log_level_parse(const char *name);

SAL_PRIVATE void sal_log_msg(sal_log_level_t level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SAL_LOG_E(...) sal_log_msg(SAL_LOG_ERROR, __func__, __VA_ARGS__)
#define SAL_LOG_W(...) sal_log_msg(SAL_LOG_WARN, __func__, __VA_ARGS__)
#define SAL_LOG_I(...) sal_log_msg(SAL_LOG_INFO, __func__, __VA_ARGS__)
#define SAL_LOG_D(...) sal_log_msg(SAL_LOG_DEBUG, __func__, __VA_ARGS__)

/* Records "<function>: message" as this thread's last error, logs it at debug level, and returns
 * code unchanged, so that a failure path reads `return sal_error(SAL_ERR_IO, "open %s: %s", p,
 * strerror(e));`. The caller decides whether the user also sees it (SAL_LOG_E). */
SAL_PRIVATE int sal_error_at(int code, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Calls fn(code, __func__, fmt, ...) and evaluates to code itself, evaluated once, rather than to
 * what fn returns (the same), so that static analysis sees that a failure path returns a failure.
 * sal_error() and the other error recorders (sal_h5_error) are built on it. */
#define sal_error_via(fn, code, ...)                                                               \
    __extension__({                                                                                \
        const int sal_error_code_ = (code);                                                        \
        (void)fn(sal_error_code_, __func__, __VA_ARGS__);                                          \
        sal_error_code_;                                                                           \
    })
#define sal_error(code, ...) sal_error_via(sal_error_at, code, __VA_ARGS__)

/* Clears this thread's last error. */
void sal_error_clear(void);

#endif
