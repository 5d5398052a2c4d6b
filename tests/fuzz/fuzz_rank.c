/* Fuzzes the rank-file reader (sal_h5_read_rank) with the input as rank.0.h5, expecting the
 * layout of the seeds: rank 0 of 4 of checkpoint 11, region "u", a 32 x 32 block of doubles at
 * (0, 0) of a 64 x 64 array (heat2d -n 64 on 4 ranks). */
#include <string.h>

#include "fuzz_common.h"
#include "h5io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static double u[32 * 32];
    sal_rank_meta_t expect = {.id = 11, .step = -1, .rank = 0, .nranks = 4};
    sal_region_t r;

    memset(&r, 0, sizeof(r));
    strcpy(r.name, "u");
    r.base = u;
    r.type = SAL_DOUBLE;
    r.ndims = 2;
    r.gdims[0] = r.gdims[1] = 64;
    r.count[0] = r.count[1] = 32;
    if (fuzz_write("rank.0.h5", data, size) == 0)
        sal_h5_read_rank(fuzz_path("rank.0.h5"), &expect, &r, 1);
    return 0;
}
