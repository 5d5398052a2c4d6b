/* Fuzzes the configuration parsers: the input as an INI file (sal_config_load_file) and as the
 * serialized form shipped to replacement processes (sal_config_deserialize). */
#include <stdlib.h>
#include <string.h>

#include <salamander/sal_config.h>

#include "config_internal.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sal_config_t cfg = NULL;
    char *text;

    if (fuzz_write("config.ini", data, size) != 0 || sal_config_create(&cfg) != 0)
        return 0;
    sal_config_load_file(cfg, fuzz_path("config.ini"));
    text = malloc(size + 1);
    if (text != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
        sal_config_deserialize(cfg, text);
        free(text);
    }
    sal_config_destroy(&cfg);
    return 0;
}
