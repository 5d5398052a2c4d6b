/*
 * Message logging for local rollback, the hook of the interposition layer that needs the calls'
 * arguments (docs/recovery.md, "Local rollback"; docs/architecture.md, "MPI interposition").
 *
 * Off (the default, and always outside the application's steps) the wrappers pay one predictable
 * branch on sal_logging_mode. Inside a step of sal_run with rollback=local:
 *   LOG     every message the application sends (MPI_Send, MPI_Isend, MPI_Sendrecv) is copied into
 *           this process's log before it leaves, and every result of MPI_Allreduce / MPI_Bcast
 * after it arrives; requests complete through MPI_Wait, MPI_Waitall, MPI_Test, MPI_Testall; any
 *           other communicating call (other nonblocking calls, MPI_Waitany / _some, MPI_Testany /
 *           _some, other collectives, communicator or
 *           window or file creation, ANY_SOURCE / ANY_TAG receives, a communicator Salamander did
 *           not make) marks the interval since the last commit unsupported: a failure in it rolls
 *           back globally.
 *   REPLAY  a replacement re-executes steps the survivors completed: its receives and collective
 *           results come from the entries the survivors shipped (sal_logging_replay_log), its sends
 *           are only logged, a barrier returns at once, a nonblocking call returns a request
 *           already complete; any other communicating call fails with
 *           MPI_ERR_OTHER and marks the replay failed.
 * Salamander's own calls (depth > 0) are never logged nor replayed.
 *
 * Communicators are named by a key that every process computes alike: SAL_LOGGING_WORLD for the
 * job's world, and a key given at registration for derived communicators (derived.c).
 */
#ifndef SAL_INTERPOSE_LOGGING_H
#define SAL_INTERPOSE_LOGGING_H

#include <mpi.h>
#include <stdint.h>

#include "msglog.h"

enum { SAL_LOGGING_OFF = 0, SAL_LOGGING_LOG = 1, SAL_LOGGING_REPLAY = 2 };
enum { SAL_LOGGING_WORLD = 1 };

/* The mode of the calls made now; written by the thread that calls MPI only. */
extern volatile int sal_logging_mode;

/* Process-wide set-up: *world is the job's world (read at each call, it follows repairs), bound
 * the most bytes the log holds (0 = unbounded). The log starts empty, covering the steps after
 * base. */
void sal_logging_setup(const MPI_Comm *world, size_t bound, int64_t base);

/* A step of the application begins: step is the one computed (completed + 1); mode LOG or REPLAY.
 * The per-step sequence numbers start again from 0. */
void sal_logging_step_begin(int64_t step, int mode);
/* The step returned: calls are neither logged nor replayed until the next step_begin. */
void sal_logging_step_end(void);

/* Derived communicators: comm is known under key (not SAL_LOGGING_WORLD) with n ranks whose world
 * ranks are ranks[0..n-1] (copied). SAL_OK or SAL_ERR_NOMEM. forget_all: after a repair freed them.
 */
int sal_logging_register(MPI_Comm comm, uint32_t key, int n, const int *ranks);
void sal_logging_forget_all(void);

/* This process's log (sends and collective results since the last commit), for the protocol. */
sal_msglog_t *sal_logging_log(void);
/* The entries a replay reads (shipped by the survivors). */
sal_msglog_t *sal_logging_replay_log(void);

/* The interval since the last drop used a call the log cannot replay: its description (a constant
 * or static text), or NULL. Cleared by sal_logging_drop. */
const char *sal_logging_unsupported(void);
/* A replay met a call or a message it could not serve: its description, or NULL. */
const char *sal_logging_replay_failed(void);

/* A checkpoint of step base was committed (or every rank rolled back to it): the log and the
 * unsupported mark are forgotten. */
void sal_logging_drop(int64_t base);

/* The wrappers' hook for the rows that are not logged (wrap.h): when the mode is on and the call is
 * the application's, marks the interval unsupported (LOG) or the replay failed (REPLAY). Returns 1
 * when the wrapper must not call MPI (REPLAY). */
int sal_logging_note(int fn);

/* The implementations the list names for the logged rows (mpi_functions.def). */
int sal_interpose_send(const void *buf, int count, MPI_Datatype type, int dest, int tag,
                       MPI_Comm comm);
int sal_interpose_recv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                       MPI_Status *status);
int sal_interpose_isend(const void *buf, int count, MPI_Datatype type, int dest, int tag,
                        MPI_Comm comm, MPI_Request *request);
int sal_interpose_irecv(void *buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                        MPI_Request *request);
int sal_interpose_sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest,
                           int sendtag, void *recvbuf, int recvcount, MPI_Datatype recvtype,
                           int source, int recvtag, MPI_Comm comm, MPI_Status *status);
int sal_interpose_allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype type,
                            MPI_Op op, MPI_Comm comm);
int sal_interpose_bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm);
int sal_interpose_barrier(MPI_Comm comm);

#endif
