/* The rank-file tests' shared helpers (h5io_fixture.h). */
#include <stdlib.h>
#include <unistd.h>

#include "fsutil.h"
#include "h5io_fixture.h"

char tmpdir[PATH_MAX];
struct state orig, back;
sal_region_t regs[NREG];

void set_region(sal_region_t *r, const char *name, void *base, sal_type_t type, int ndims,
                const int64_t *gdims, const int64_t *offset, const int64_t *count)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->base = base;
    r->type = type;
    r->ndims = ndims;
    r->scalar = ndims == 0;
    for (int d = 0; d < ndims; d++) {
        r->gdims[d] = gdims[d];
        r->offset[d] = offset[d];
        r->count[d] = count[d];
    }
}

void set_local(sal_region_t *r, const char *name, void *base, int64_t bytes)
{
    set_region(r, name, base, SAL_CHAR, 1, &bytes, (int64_t[]){0}, &bytes);
    r->local = 1;
}

void make_regions(struct state *s, sal_region_t *r)
{
    set_region(&r[0], "u.2d", s->u, SAL_DOUBLE, 2, (int64_t[]){8, 10}, (int64_t[]){4, 0},
               (int64_t[]){4, 10});
    set_region(&r[1], "grid-3", s->g, SAL_FLOAT, 3, (int64_t[]){4, 6, 8}, (int64_t[]){0, 3, 0},
               (int64_t[]){4, 3, 8});
    set_region(&r[2], "L", s->l, SAL_INT64, 2, (int64_t[]){2, 6}, (int64_t[]){0, 3},
               (int64_t[]){2, 3});
    set_region(&r[3], "iv", s->iv, SAL_INT, 1, (int64_t[]){10}, (int64_t[]){5}, (int64_t[]){5});
    set_region(&r[4], "chars", s->c, SAL_CHAR, 1, (int64_t[]){14}, (int64_t[]){7}, (int64_t[]){7});
    set_region(&r[5], "t", &s->t, SAL_DOUBLE, 0, NULL, NULL, NULL);
    set_region(&r[6], "n", &s->n, SAL_INT64, 0, NULL, NULL, NULL);
    set_region(&r[7], "empty", NULL, SAL_INT64, 2, (int64_t[]){10, 5}, (int64_t[]){10, 0},
               (int64_t[]){0, 5});
}

static void fill_state(struct state *s)
{
    double *u = &s->u[0][0];
    float *g = &s->g[0][0][0];

    for (int i = 0; i < 40; i++)
        u[i] = 0.5 + i;
    for (int i = 0; i < 96; i++)
        g[i] = -1.25f * (float)i;
    for (int i = 0; i < 6; i++)
        (&s->l[0][0])[i] = INT64_C(1) << (10 * (i % 6));
    for (int i = 0; i < 5; i++)
        s->iv[i] = -i * 1000;
    memcpy(s->c, "abcdefg", 7);
    s->t = 3.25;
    s->n = -77;
}

const sal_rank_meta_t meta = {.id = 7, .step = 42, .time = 1.7e9, .rank = 1, .nranks = 2};

int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sal_test_h5io.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    fill_state(&orig);
    return 0;
}

int suite_clean(void)
{
    return sal_remove_tree(tmpdir) == SAL_OK ? 0 : -1;
}

void path_of(char *buf, const char *name)
{
    CU_ASSERT_EQUAL_FATAL(sal_path_join(buf, PATH_MAX, "%s/%s", tmpdir, name), SAL_OK);
}

int count_temps(void)
{
    char cmd[PATH_MAX + 64];
    FILE *p;
    int n = -1;

    snprintf(cmd, sizeof(cmd), "ls -a '%s' | grep -c '\\.tmp\\.'", tmpdir);
    p = popen(cmd, "r");
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

/* Writes the standard rank file at path. */
void write_standard(const char *path)
{
    int64_t bytes = 0;

    make_regions(&orig, regs);
    CU_ASSERT_EQUAL_FATAL(sal_h5_write_rank(path, &meta, regs, NREG, &bytes), SAL_OK);
}

/* Reads path with the standard regions pointed at `back`. */
int read_standard(const char *path, const sal_rank_meta_t *expect)
{
    sal_region_t r[NREG];

    memset(&back, 0, sizeof(back));
    make_regions(&back, r);
    return sal_h5_read_rank(path, expect, r, NREG);
}
