/* Fuzzes the manifest reader (sal_manifest_read) with the input as <dir>/manifest.h5. */
#include <string.h>

#include "fuzz_common.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sal_manifest_t m;

    memset(&m, 0, sizeof(m));
    if (fuzz_write("manifest.h5", data, size) == 0 && sal_manifest_read(fuzz_dir(), &m) == 0)
        sal_manifest_free(&m);
    return 0;
}
