/*
 * What the rank-file tests share (test_h5io.c, test_h5io_damaged.c): a temporary directory, the
 * standard set of test regions over a struct state (every type, 1-D to 3-D, two scalars and an
 * empty block) with its identity, and the helpers that write and read it back.
 */
#ifndef SAL_TEST_H5IO_FIXTURE_H
#define SAL_TEST_H5IO_FIXTURE_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <salamander/sal_error.h>

#include "unit_main.h"

#include "h5io.h"

enum { NREG = 8 };

/* Application memory of the test regions, and a zeroed copy to read into. */
struct state {
    double u[4][10];
    float g[4][3][8];
    int64_t l[2][3];
    int iv[5];
    unsigned char c[7];
    double t;
    int64_t n;
};

/* The suite's temporary directory (made by suite_init, removed by suite_clean). */
extern char tmpdir[PATH_MAX];
/* orig: the data written (filled by suite_init); back: what read_standard reads into. */
extern struct state orig, back;
extern sal_region_t regs[NREG];
/* The identity of the standard rank file. */
extern const sal_rank_meta_t meta;

void set_region(sal_region_t *r, const char *name, void *base, sal_type_t type, int ndims,
                const int64_t *gdims, const int64_t *offset, const int64_t *count);

/* Per-rank data of `bytes` bytes at base (sal_ckpt_protect_local's region). */
void set_local(sal_region_t *r, const char *name, void *base, int64_t bytes);

/* Regions over s: every type, 1-D to 3-D, two scalars and an empty block (NULL base). */
void make_regions(struct state *s, sal_region_t *r);

/* Makes tmpdir and fills orig; removes tmpdir. */
int suite_init(void);
int suite_clean(void);

/* buf (PATH_MAX bytes) = tmpdir/name. */
void path_of(char *buf, const char *name);

/* Temporary files (".tmp.") left in tmpdir, or -1. */
int count_temps(void);

/* Writes the standard rank file at path. */
void write_standard(const char *path);

/* Reads path with the standard regions pointed at `back`. */
int read_standard(const char *path, const sal_rank_meta_t *expect);

#endif
