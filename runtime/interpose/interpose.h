/*
 * The depth marker of the MPI interposition layer: which MPI calls are Salamander's own
 * (docs/architecture.md, "MPI interposition").
 *
 * Every thread has a depth, 0 when it starts. Salamander's entry points that make MPI calls of
 * their own (sal_init, sal_checkpoint, sal_restore, the repair, sal_finalize, sal_comm_split /
 * sal_comm_dup, the failure handler) bracket that work with sal_interpose_internal_begin / _end;
 * brackets nest. A call made at depth 0 is the application's: hooks that skip Salamander's own
 * calls (sal_hook_t.internal == 0) see only those. Application code that Salamander calls back
 * (sal_run's step function, the sal_on_resize function) runs outside every bracket, at depth 0.
 *
 * The checkpoint engine (libsalamander-ckpt) knows nothing of the depth: the runtime brackets its
 * calls into it, and the engine used without the runtime has no interposition at all.
 *
 * Private to libsalamander-runtime; lock-free, without system calls.
 */
#ifndef SAL_INTERPOSE_H
#define SAL_INTERPOSE_H

#include <mpi.h>

/* Salamander's own MPI work begins / ends on this thread. _end at depth 0 leaves it at 0. */
void sal_interpose_internal_begin(void);
void sal_interpose_internal_end(void);

/* This thread's depth: 0 while the application's code runs. */
int sal_interpose_depth(void);

/* A failure handler unwound (longjmp) out of MPI calls and out of the brackets around them, back
 * to where the application's code runs: sets this thread's depth to 0 and runs every hook's reset.
 * Called once after each such unwind, at depth 0 by construction (run.c, before a repair). */
void sal_interpose_unwound(void);

/* What the application's MPI_COMM_WORLD stands for in its MPI calls (docs/mpi.md, "MPI_COMM_WORLD";
 * the comms column of the list): *world from now on, read at each call, so that it follows the
 * runtime's current world through repairs; NULL: MPI_COMM_WORLD itself (the initial state).
 * sal_init sets it once the process is an application rank (map_world on), sal_finalize clears it
 * first. While *world is MPI_COMM_NULL nothing is mapped. Process-wide. */
void sal_interpose_map_world_to(const MPI_Comm *world);

/* The process failures the application's MPI calls returned (the return-code mode,
 * docs/recovery.md): from sal_interpose_watch_errors(is_failure) on, a call at depth 0 whose return
 * code is_failure accepts sets a process-wide flag, which sal_interpose_take_failure reads and
 * clears. NULL stops watching. So the application need not pass MPI codes up: sal_step_done asks
 * here. */
void sal_interpose_watch_errors(int (*is_failure)(int rc));
int sal_interpose_take_failure(void);

#endif
