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
#include "logging.h"
#include "runtime.h"

enum { MAX_DERIVED = 64 };

typedef struct derived {
    char name[SAL_NAME_MAX];
    int color, key, dup; /* dup: MPI_Comm_dup, else MPI_Comm_split(color, key) */
    int created;         /* comm is current (it may be MPI_COMM_NULL for MPI_UNDEFINED) */
    MPI_Comm comm;
    int *all; /* rollback=local: the recipe (color, key, dup) of every rank of the world */
    int nall; /* ... of that many ranks */
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
    sal_logging_forget_all();
}

void sal_rt_free_derived(void)
{
    sal_rt_reset_derived();
    for (int i = 0; i < ntable; i++)
        free(table[i].all);
    ntable = 0;
}

static int local_rollback(void)
{
    return sal_rt.set && strcmp(sal_rt.set->rollback, "local") == 0;
}

/* The message log's key of d's communicator: the same on every rank of it, different for the
 * other colors of the same name. */
static uint32_t log_key(const derived_t *d)
{
    uint32_t h = 2166136261u;

    for (const char *p = d->name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ (uint32_t)d->color) * 16777619u;
    h = (h ^ (uint32_t)d->dup) * 16777619u;
    return h | 0x80000000u; /* never SAL_LOGGING_WORLD */
}

/* rollback=local, collective over sal_rt.world after d's communicator was created: every rank
 * learns every rank's recipe (so that a survivor can hand a replacement its own), and the message
 * log learns the communicator. */
static int share_recipe(derived_t *d)
{
    int mine[3] = {d->color, d->key, d->dup}, n = sal_rt.size;
    int *all = realloc(d->all, (size_t)n * 3 * sizeof(int));

    if (!all)
        return sal_error(SAL_ERR_NOMEM, "derived communicator \"%s\": no memory", d->name);
    d->all = all;
    d->nall = n;
    if (MPI_Allgather(mine, 3, MPI_INT, all, 3, MPI_INT, sal_rt.world) != MPI_SUCCESS)
        return sal_error(SAL_ERR_PROC_FAILED, "sharing the recipe of \"%s\" failed", d->name);
    if (d->comm == MPI_COMM_NULL)
        return SAL_OK;

    int size = 0;
    MPI_Group g, wg;
    MPI_Comm_size(d->comm, &size);
    int *in = malloc((size_t)size * 2 * sizeof(int)), rc = SAL_OK;
    if (!in)
        return sal_error(SAL_ERR_NOMEM, "derived communicator \"%s\": no memory", d->name);
    for (int i = 0; i < size; i++)
        in[i] = i;
    MPI_Comm_group(d->comm, &g);
    MPI_Comm_group(sal_rt.world, &wg);
    MPI_Group_translate_ranks(g, size, in, wg, in + size);
    MPI_Group_free(&g);
    MPI_Group_free(&wg);
    rc = sal_logging_register(d->comm, log_key(d), size, in + size);
    free(in);
    return rc;
}

/* Collective over sal_rt.world: creates d's communicator. Into a local first: when the call fails,
 * Open MPI runs the failure handler before it returns, and the handler revokes every derived
 * communicator, which must not include what a failed call left in its output (sal_rt_made). */
static int create(derived_t *d)
{
    MPI_Comm made = MPI_COMM_NULL;
    int mrc = d->dup ? MPI_Comm_dup(sal_rt.world, &made)
                     : MPI_Comm_split(sal_rt.world, d->color, d->key, &made);

    d->comm = MPI_COMM_NULL;
    if (sal_rt_made(mrc, &made) != MPI_SUCCESS)
        return sal_error(sal_rt_is_failure(mrc) ? SAL_ERR_PROC_FAILED : SAL_ERR_MPI,
                         "creating the derived communicator \"%s\" failed", d->name);
    d->comm = made;
    d->created = 1;
    if (d->comm != MPI_COMM_NULL && MPI_Comm_set_errhandler(d->comm, sal_rt.errh) != MPI_SUCCESS)
        /* the handler sal_init created for the resilient communicator (errors.c) */
        return sal_error(SAL_ERR_MPI, "cannot install the failure handler");
    return local_rollback() ? share_recipe(d) : SAL_OK;
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

/* ---- local rollback: the derived communicators of a replacement (runtime.h) ---- */

/* One entry of a recipe list: the name, then color, key, dup. */
typedef struct recipe {
    char name[SAL_NAME_MAX];
    int color, key, dup;
} recipe_t;

int sal_rt_derived_recipes(int rank, void **buf, size_t *len)
{
    recipe_t *list = NULL;
    int n = 0;

    *buf = NULL;
    *len = 0;
    if (ntable == 0)
        return SAL_OK;
    list = calloc((size_t)ntable, sizeof(*list));
    if (!list)
        return sal_error(SAL_ERR_NOMEM, "no memory for %d recipes", ntable);
    for (int i = 0; i < ntable; i++) {
        const derived_t *d = &table[i];
        if (!d->all || rank < 0 || rank >= d->nall) {
            free(list);
            return sal_error(SAL_ERR_STATE,
                             "the recipe of rank %d for the derived communicator \"%s\" is "
                             "unknown",
                             rank, d->name);
        }
        memcpy(list[n].name, d->name, sizeof(list[n].name));
        list[n].color = d->all[(size_t)3 * rank];
        list[n].key = d->all[(size_t)3 * rank + 1];
        list[n].dup = d->all[(size_t)3 * rank + 2];
        n++;
    }
    *buf = list;
    *len = (size_t)n * sizeof(*list);
    return SAL_OK;
}

int sal_rt_derived_adopt(const void *buf, size_t len)
{
    const recipe_t *list = buf;
    size_t n = len / sizeof(*list);

    if (len % sizeof(*list) != 0 || n > MAX_DERIVED)
        return sal_error(SAL_ERR_CORRUPT, "a list of recipes of %zu bytes", len);
    sal_rt_free_derived();
    for (size_t i = 0; i < n; i++) {
        derived_t *d = &table[ntable++];
        memset(d, 0, sizeof(*d));
        memcpy(d->name, list[i].name, sizeof(d->name));
        d->name[SAL_NAME_MAX - 1] = '\0';
        d->color = list[i].color;
        d->key = list[i].key;
        d->dup = list[i].dup;
        d->comm = MPI_COMM_NULL;
    }
    return SAL_OK;
}

int sal_rt_derived_create_all(void)
{
    int rc = SAL_OK;

    sal_interpose_internal_begin();
    for (int i = 0; rc == SAL_OK && i < ntable; i++)
        if (!table[i].created)
            rc = create(&table[i]);
    sal_interpose_internal_end();
    return rc;
}
