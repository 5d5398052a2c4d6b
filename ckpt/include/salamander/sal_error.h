/*
 * Salamander error contract.
 *
 * Every function of the public API that can fail returns an int status: SAL_OK (0) on success, or
 * one of the negative codes below. Codes are stable across releases; new codes are only appended.
 * sal_strerror() names a code; sal_last_error() returns the detailed message (file, rank, host,
 * cause) of the most recent failure recorded by the calling thread.
 */
#ifndef SALAMANDER_SAL_ERROR_H
#define SALAMANDER_SAL_ERROR_H

#include <salamander/sal_export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sal_status {
    SAL_OK = 0,
    SAL_ERR_INVALID_ARG = -1,  /* a parameter is NULL, out of range or malformed */
    SAL_ERR_NOMEM = -2,        /* an allocation failed */
    SAL_ERR_IO = -3,           /* a file or directory operation failed (see sal_last_error) */
    SAL_ERR_CORRUPT = -4,      /* a checkpoint file failed validation or its checksum */
    SAL_ERR_NO_CKPT = -5,      /* no committed checkpoint can be restored */
    SAL_ERR_PROC_FAILED = -6,  /* a process of the communicator failed: call sal_repair() */
    SAL_ERR_MPI = -7,          /* an MPI call failed for another reason */
    SAL_ERR_CONFIG = -8,       /* a configuration key or value is invalid */
    SAL_ERR_STATE = -9,        /* the call is not allowed at this point of the lifecycle */
    SAL_ERR_UNSUPPORTED = -10, /* the feature is not available in this build */
    SAL_ERR_RECOVERY = -11,    /* recovery is impossible (retries exhausted, too few ranks) */
    SAL_ERR_ABORTED = -12,     /* the checkpoint was aborted; the previous one is still valid */
    SAL_ERR_HDF5 = -13,        /* the HDF5 library reported an error */
    SAL_ERR_EXISTS = -14,      /* a name is already in use (e.g. a protected region) */
    SAL_ERR_NOT_FOUND = -15,   /* a named object does not exist */
    SAL_ERR_STOPPED = -16,     /* stopped by the checkpoint signal after a checkpoint: relaunch */
    SAL_ERR_UNRESTORABLE = -17 /* the job has committed checkpoints but none can be restored */
} sal_status_t;

/* Short constant description of a status code; never NULL ("unknown status" for foreign values). */
SAL_API const char *sal_strerror(int status);

/* Detailed message of the last failure recorded by this thread, or "" when there was none. The
 * pointer stays valid until the next failing Salamander call on the same thread. */
SAL_API const char *sal_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
