/* Fuzzes the SAL_INJECT parser (sal_inject_parse) with the input as a NUL-terminated text. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "inject.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    sal_inject_t *plan = NULL;

    if (text == NULL)
        return 0;
    fuzz_dir();
    memcpy(text, data, size);
    text[size] = '\0';
    if (sal_inject_parse(text, &plan) == 0)
        sal_inject_free(&plan);
    free(text);
    return 0;
}
