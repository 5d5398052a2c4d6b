/* Fuzzes the `latest` pointer reader (sal_latest_read) with the input as the file's content. */
#include "fuzz_common.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t id;

    if (fuzz_write("latest", data, size) == 0)
        sal_latest_read(fuzz_dir(), &id);
    return 0;
}
