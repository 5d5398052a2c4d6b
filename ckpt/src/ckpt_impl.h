/* The checkpoint handle's representation, shared by ckpt.c, commit.c and restore.c. */
#ifndef SAL_CKPT_IMPL_H
#define SAL_CKPT_IMPL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "inject.h"
#include "region.h"

#define SAL_MAX_LISTED 4096 /* checkpoint directories considered in one job directory */

struct sal_ckpt {
    MPI_Comm comm;
    char job_dir[PATH_MAX];
    int keep;               /* committed checkpoints retained, >= 2 */
    int nregions;
    sal_region_t *regions;  /* owned array; the memory they describe is the application's */
    sal_inject_t *inject;   /* not owned; may be NULL */
    int64_t step_hint;      /* application step for injection at the restore point */
};

double sal_wall_now(void);
int sal_comm_rank(MPI_Comm comm);
int sal_comm_size(MPI_Comm comm);

/* Ids of every ckpt.<id> directory of the job directory, newest first, at most max. [OUT] *n. */
int sal_ckpt_list_dirs(const char *job_dir, int64_t *ids, int max, int *n);
/* <job_dir>/ckpt.<id> into buf. */
int sal_ckpt_dir_path(const struct sal_ckpt *ck, int64_t id, char *buf, size_t size);

#endif
