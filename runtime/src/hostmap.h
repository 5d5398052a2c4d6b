/*
 * The job's host map and the placement of replacements (hostmap.c). State is process-wide, like
 * sal_rt; none of these functions is thread-safe.
 */
#ifndef SAL_HOSTMAP_H
#define SAL_HOSTMAP_H

#include <mpi.h>

/* Local: loads this machine's hwloc topology and reads this process's binding. Idempotent. */
int sal_hostmap_init(void);

/* Collective over comm: every rank's host name (sal_rt.host) and cpuset, indexed by rank in comm.
 * Called at start and after every repair (survivors and replacements alike). */
int sal_hostmap_exchange(MPI_Comm comm);

/* Host name of rank in the last exchanged map, or "?". The pointer is valid until the next
 * exchange. */
const char *sal_hostmap_host(int rank);

/* Every survivor of a repair, local: records as dead the hosts whose every rank in the map is
 * among the nfailed ranks in failed[] (when other hosts remain); placements of this and every later
 * repair leave them out. SAL_ERR_NOMEM only. */
int sal_hostmap_note_failed(const int *failed, int nfailed);

/* Repair leader, local: decides a host and a cpuset for each of the nfailed ranks in failed[]
 * (docs/placement.md) and emits one "placement" event each. [OUT] hosts[i], cpusets[i]: strings the
 * caller frees (arrays of nfailed entries provided by the caller). SAL_ERR_RECOVERY when no host
 * can take them. */
int sal_hostmap_place(const int *failed, int nfailed, char **hosts, char **cpusets);

/* In a replacement: binds this process to cpuset (a warning, not an error, when it cannot). */
void sal_hostmap_bind(const char *cpuset);

/* Releases the map and the topology. */
void sal_hostmap_free(void);

#endif
