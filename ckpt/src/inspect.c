/* Whole-checkpoint checks for the inspection tools (inspect.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_error.h>

#include "fsutil.h"
#include "h5io.h"
#include "inspect.h"
#include "log.h"
#include "region.h"

static void free_regions(sal_region_t *regs, int n)
{
    for (int i = 0; i < n; i++) {
        free(regs[i].base);
        regs[i].base = NULL;
    }
}

/* Builds rank r's regions from the manifest's layout, each with a buffer for its block. On failure
 * the buffers allocated so far are left for free_regions. */
static int regions_of_rank(const sal_manifest_t *m, int r, sal_region_t *regs)
{
    for (int i = 0; i < m->nregions; i++) {
        const sal_manifest_region_t *mr = &m->regions[i];
        sal_region_t *g = &regs[i];
        int64_t elems = 1;

        memset(g, 0, sizeof(*g));
        memcpy(g->name, mr->name, sizeof(g->name));
        g->type = mr->type;
        g->scalar = mr->scalar;
        g->ndims = mr->scalar ? 0 : mr->ndims;
        for (int d = 0; d < g->ndims; d++) {
            g->gdims[d] = mr->gdims[d];
            g->offset[d] = mr->offsets[(int64_t)r * mr->ndims + d];
            g->count[d] = mr->counts[(int64_t)r * mr->ndims + d];
            elems *= g->count[d];
        }
        g->base = calloc((size_t)(elems > 0 ? elems : 1), sal_type_size(g->type));
        if (g->base == NULL)
            return sal_error(SAL_ERR_NOMEM, "buffer of region %s of rank %d (%lld elements)",
                             g->name, r, (long long)elems);
    }
    return SAL_OK;
}

int sal_inspect_rank_file(const char *path, const sal_manifest_t *m, int r)
{
    sal_rank_meta_t expect = {.id = m->id, .step = m->step, .rank = r, .nranks = m->nranks};
    sal_region_t *regs = calloc((size_t)(m->nregions > 0 ? m->nregions : 1), sizeof(*regs));
    int rc;

    if (regs == NULL)
        return sal_error(SAL_ERR_NOMEM, "regions of %d arrays", m->nregions);
    rc = regions_of_rank(m, r, regs);
    if (rc == SAL_OK)
        rc = sal_h5_read_rank(path, &expect, regs, m->nregions);
    free_regions(regs, m->nregions);
    free(regs);
    return rc;
}

int sal_inspect_rank_files(const char *ckpt_dir, const sal_manifest_t *m)
{
    int rc = SAL_OK;

    for (int r = 0; rc == SAL_OK && r < m->nranks; r++) {
        char path[PATH_MAX];

        rc = sal_path_join(path, sizeof(path), "%s/rank.%d.h5", ckpt_dir, r);
        if (rc == SAL_OK)
            rc = sal_inspect_rank_file(path, m, r);
    }
    return rc;
}
