/*
 * Shared by the fuzz harnesses: one private temporary directory per process, and a helper that
 * writes the input into a file of it. The library's log is silenced (level error) so that runs
 * over a corpus print nothing but findings.
 */
#ifndef SAL_FUZZ_COMMON_H
#define SAL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Path of <name> in the process's temporary directory (created on the first call, 0700). */
const char *fuzz_path(const char *name);
/* The directory itself. */
const char *fuzz_dir(void);
/* Writes data to fuzz_path(name), replacing it. 0 on success. */
int fuzz_write(const char *name, const uint8_t *data, size_t size);

#endif
