/* The logging module: level filter, identity stamp, one fprintf per line. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_rank = -1;
static int log_was = -1; /* the rank this process had before a shrink renumbered it, else -1 */
static char log_host[64] = "?";
static sal_log_level_t log_level = SAL_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sal_log_set_identity(int rank, const char *host)
{
    pthread_mutex_lock(&log_lock);
    log_rank = rank;
    snprintf(log_host, sizeof(log_host), "%s", host ? host : "?");
    pthread_mutex_unlock(&log_lock);
}

int sal_log_renumbered(int old_rank)
{
    int was;

    pthread_mutex_lock(&log_lock);
    if (log_was < 0)
        log_was = old_rank;
    was = log_was;
    pthread_mutex_unlock(&log_lock);
    return was;
}

void sal_log_set_level(sal_log_level_t level)
{
    if (level >= SAL_LOG_ERROR && level <= SAL_LOG_DEBUG)
        log_level = level;
}

sal_log_level_t sal_log_get_level(void)
{
    return log_level;
}

int sal_log_level_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void sal_log_msg(sal_log_level_t level, const char *func, const char *fmt, ...)
{
    char msg[1024];
    char who[96];
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_rank >= 0 && log_was >= 0 && log_was != log_rank)
        snprintf(who, sizeof(who), "r%d(was r%d)@%s", log_rank, log_was, log_host);
    else if (log_rank >= 0)
        snprintf(who, sizeof(who), "r%d@%s", log_rank, log_host);
    else
        snprintf(who, sizeof(who), "%s", log_host);
    /* One call per line so that lines of concurrent processes sharing stderr stay whole. */
    fprintf(stderr, "[salamander %s %s %s] %s\n", level_names[level], who, func, msg);
    pthread_mutex_unlock(&log_lock);
}
