/*
 * Communicators derived from sal_comm() (sal_comm_split, sal_comm_dup). Each is cached under a name
 * with its recipe. A failure revokes all of them along with the resilient communicator, so that no
 * rank stays blocked on one; a repair frees them, and the first call after the repair -- made by
 * every rank, replacements included, at the same point of the application's step -- creates them
 * again from the repaired communicator with the same recipe.
 */
#include <stdlib.h>
#include <string.h>

#include <salamander/salamander.h>

#include "interpose.h"
#include "log.h"
#include "runtime.h"

enum { MAX_DERIVED = 64 };

typedef struct derived {
    char name[SAL_NAME_MAX];
    int color, key, dup; /* dup: MPI_Comm_dup, else MPI_Comm_split(color, key) */
    int created;         /* comm is current (it may be MPI_COMM_NULL for MPI_UNDEFINED) */
    MPI_Comm comm;
} derived_t;

static derived_t table[MAX_DERIVED];
static int ntable;

static derived_t *find(const char *name)
{
    for (int i = 0; i < ntable; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

int sal_rt_is_derived(MPI_Comm comm)
{
    for (int i = 0; i < ntable; i++)
        if (comm != MPI_COMM_NULL && table[i].comm == comm)
            return 1;
    return 0;
}

void sal_rt_revoke_derived(void)
{
    for (int i = 0; i < ntable; i++)
        sal_rt_revoke(table[i].comm);
}

void sal_rt_reset_derived(void)
{
    for (int i = 0; i < ntable; i++) {
        if (table[i].comm != MPI_COMM_NULL)
            MPI_Comm_free(&table[i].comm);
        table[i].comm = MPI_COMM_NULL;
        table[i].created = 0;
    }
}

void sal_rt_free_derived(void)
{
    sal_rt_reset_derived();
    ntable = 0;
}

/* Collective over sal_rt.world: creates d's communicator. */
static int create(derived_t *d)
{
    int mrc = d->dup ? MPI_Comm_dup(sal_rt.world, &d->comm)
                     : MPI_Comm_split(sal_rt.world, d->color, d->key, &d->comm);

    if (mrc != MPI_SUCCESS) {
        d->comm = MPI_COMM_NULL;
        return sal_error(sal_rt_is_failure(mrc) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI,
                         "creating the derived communicator \"%s\" failed", d->name);
    }
    d->created = 1;
    if (d->comm != MPI_COMM_NULL)
        /* the handler sal_init created for the resilient communicator (errors.c) */
        return MPI_Comm_set_errhandler(d->comm, sal_rt.errh) == MPI_SUCCESS
                   ? SAL_OK
                   : sal_error(SAL_ERR_MPI, "cannot install the failure handler");
    return SAL_OK;
}

/* The cached communicator of name, created (collectively) when missing. Until the next repair, a
 * second call with the same name must give the same recipe. */
static int find_or_create(const char *name, int dup, int color, int key, MPI_Comm *comm)
{
    derived_t *d;
    int rc = sal_rt_check("sal_comm_split");

    if (rc != SAL_OK)
        return rc;
    if (!comm || !sal_name_valid(name))
        return sal_error(SAL_ERR_INVALID_ARG,
                         "derived communicator: NULL output or invalid name "
                         "\"%s\" (1-%d characters from [A-Za-z0-9_.-])",
                         name ? name : "(null)", SAL_NAME_MAX - 1);
    d = find(name);
    if (d && !d->created) {
        /* First use since the last repair: the recipe may follow a new layout (policy shrink). */
        d->dup = dup;
        d->color = color;
        d->key = key;
    }
    if (d && (d->dup != dup || d->color != color || d->key != key))
        return sal_error(SAL_ERR_EXISTS,
                         "derived communicator \"%s\" was created with another "
                         "recipe (color %d, key %d%s)",
                         name, d->color, d->key, d->dup ? ", dup" : "");
    if (!d) {
        if (ntable >= MAX_DERIVED)
            return sal_error(SAL_ERR_INVALID_ARG, "more than %d derived communicators",
                             MAX_DERIVED);
        d = &table[ntable++];
        memset(d, 0, sizeof(*d));
        strcpy(d->name, name);
        d->dup = dup;
        d->color = color;
        d->key = key;
        d->comm = MPI_COMM_NULL;
    }
    if (!d->created && (rc = create(d)) != SAL_OK)
        return rc;
    *comm = d->comm;
    return SAL_OK;
}

/* find_or_create, Salamander's own MPI work even when the application's step calls it. */
static int derive(const char *name, int dup, int color, int key, MPI_Comm *comm)
{
    int rc;

    sal_interpose_internal_begin();
    rc = find_or_create(name, dup, color, key, comm);
    sal_interpose_internal_end();
    return rc;
}

int sal_comm_split(const char *name, int color, int key, MPI_Comm *comm)
{
    return derive(name, 0, color, key, comm);
}

int sal_comm_dup(const char *name, MPI_Comm *comm)
{
    return derive(name, 1, 0, 0, comm);
}
