/*
 * The parity file of L3, parity.<r>.xor (docs/format.md), all integers 64-bit little-endian:
 *   magic | nranks | group | size | member | chunk | lens[size] | stripe (chunk bytes) | checksum
 * where the checksum covers every byte before it. Magic "SALXOR02": the checksum is
 * sal_parity_sum (below); files of magic "SALXOR01" (earlier versions) carry FNV-1a 64 over the
 * bytes and are still read. No MPI, no HDF5.
 */
#ifndef SAL_PARITY_FILE_H
#define SAL_PARITY_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "redundancy.h"

typedef struct sal_parity {
    int64_t nranks, group, size, member, chunk;
    int64_t lens[SAL_XOR_MAX_GROUP];
    const unsigned char *stripe; /* chunk bytes */
} sal_parity_t;

/* Bytes of a parity file of a group of size members and chunk bytes per stripe. */
size_t sal_parity_len(int64_t size, int64_t chunk);

/* Bytes before the stripe. */
size_t sal_parity_head_len(int64_t size);

/* Writes the magic and header of p into buf (sal_parity_head_len(p->size) bytes). */
void sal_parity_put_head(unsigned char *buf, const sal_parity_t *p);

/* The checksum of format 2 over n bytes: FNV-1a 64 steps on four lanes, lane j taking the 64-bit
 * little-endian words j, j + 4, j + 8, ... (a last partial word zero-padded), all lanes starting
 * from FNV's offset basis; then FNV-1a 64 over the bytes of the four lanes, little-endian. Four
 * independent multiplications per four words run several times as fast as FNV-1a's one per byte. */
uint64_t sal_parity_sum(const unsigned char *p, size_t n);

/* Writes the checksum of the n - 8 bytes of buf into its last 8 (a whole file's bytes, n =
 * sal_parity_len). */
void sal_parity_seal(unsigned char *buf, size_t n);

/* Parses and verifies the n bytes of a parity file read from path (named in messages): magic,
 * header consistency, checksum. [OUT] *p, whose stripe points into buf. SAL_OK or
 * SAL_ERR_CORRUPT. */
int sal_parity_parse(const char *path, const unsigned char *buf, size_t n, sal_parity_t *p);

/* Writes p as <dir>/parity.<r>.xor (temp name, fsync, rename). */
int sal_parity_write(const char *dir, int r, const sal_parity_t *p);

#endif
