/* Status codes and the per-thread last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include <salamander/sal_error.h>

#include "log.h"

static _Thread_local char last_error[1024];

const char *sal_strerror(int status)
{
    switch (status) {
    case SAL_OK:
        return "success";
    case SAL_ERR_INVALID_ARG:
        return "invalid argument";
    case SAL_ERR_NOMEM:
        return "out of memory";
    case SAL_ERR_IO:
        return "I/O error";
    case SAL_ERR_CORRUPT:
        return "corrupt or invalid checkpoint data";
    case SAL_ERR_NO_CKPT:
        return "no committed checkpoint";
    case SAL_ERR_PROC_FAILED:
        return "a process failed";
    case SAL_ERR_MPI:
        return "MPI error";
    case SAL_ERR_CONFIG:
        return "invalid configuration";
    case SAL_ERR_STATE:
        return "call not allowed in this state";
    case SAL_ERR_UNSUPPORTED:
        return "not supported by this build";
    case SAL_ERR_RECOVERY:
        return "recovery impossible";
    case SAL_ERR_ABORTED:
        return "checkpoint aborted";
    case SAL_ERR_HDF5:
        return "HDF5 error";
    case SAL_ERR_EXISTS:
        return "already exists";
    case SAL_ERR_NOT_FOUND:
        return "not found";
    case SAL_ERR_STOPPED:
        return "stopped by the checkpoint signal";
    case SAL_ERR_UNRESTORABLE:
        return "committed checkpoints exist but none can be restored";
    default:
        return "unknown status";
    }
}

const char *sal_last_error(void)
{
    return last_error;
}

void sal_error_clear(void)
{
    last_error[0] = '\0';
}

int sal_error_at(int code, const char *func, const char *fmt, ...)
{
    char msg[sizeof(last_error) - 80];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof(last_error), "%s: %s (%s)", func, msg, sal_strerror(code));
    sal_log_msg(SAL_LOG_DEBUG, func, "%s (%s)", msg, sal_strerror(code));
    return code;
}
