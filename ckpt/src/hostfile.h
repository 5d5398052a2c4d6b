/*
 * The one hostfile grammar: Open MPI's hostfile format as Salamander reads it, for salrun's
 * --hostfile and the placement's spare_hostfile (docs/salrun.md, "Hostfiles"). MPI-free: part of
 * the base library.
 *
 *     file  = { line "\n" }              a last line without "\n" counts too
 *     line  = [ blanks ] [ entry [ blanks ] ] [ "#" comment ]
 *     entry = name { blanks attr }
 *     name  = [ user "@" ] host          host and user: 1 to SAL_HOSTFILE_NAME_MAX ASCII letters,
 *                                        digits, '-', '.' or '_', starting with a letter or digit
 *           | "+n" I | "+e" [ ":" N ]    relative entries of Open MPI ('E' too): they name no
 *                                        host; I and N are 1 to 9 digits
 *     attr  = key [ blanks ] "=" [ blanks ] N
 *     key   = "slots" | "max_slots"      each at most once; N from 1 to SAL_HOSTFILE_SLOTS_MAX;
 *                                        slots <= max_slots when both are given
 *     blanks: spaces, tabs, '\r', '\v', '\f'
 *
 * Anything else is refused: an unknown attribute, a malformed or out-of-range number, a word that
 * is not a host name (exclusions "^host", ranges "node[1-4]", "host:N", IPv6 addresses), a line
 * longer than SAL_HOSTFILE_LINE_MAX bytes, a NUL byte, more than SAL_HOSTFILE_ENTRIES_MAX entries
 * or a file larger than SAL_HOSTFILE_SIZE_MAX. The grammar says nothing about a host listed twice:
 * each caller decides (Open MPI counts one slot per line; the placement refuses it).
 *
 * Lifecycle: sal_hostfile_load (or sal_hostfile_parse) -> sal_hostfile_count and
 * sal_hostfile_entry -> sal_hostfile_destroy. Errors: SAL_OK or a negative SAL_ERR_* code, with
 * sal_last_error() naming the file, and for a refused line its number and the cause.
 */
#ifndef SAL_HOSTFILE_H
#define SAL_HOSTFILE_H

#include <stddef.h>

#include "private_api.h"

#define SAL_HOSTFILE_NAME_MAX    255        /* longest host name, and longest user name */
#define SAL_HOSTFILE_SLOTS_MAX   (1 << 20)  /* largest slots= and max_slots= */
#define SAL_HOSTFILE_LINE_MAX    4096       /* longest line in bytes, without its newline */
#define SAL_HOSTFILE_ENTRIES_MAX 65536      /* most entries in one file */
#define SAL_HOSTFILE_SIZE_MAX    (16 << 20) /* largest file in bytes */

/* One entry: a line that is neither blank nor only a comment. */
typedef struct sal_hostfile_entry {
    const char *host; /* the host, without "user@"; "" for a relative entry ("+n0", "+e", "+e:2") */
    const char *text; /* the entry as written: its line without the comment and outer blanks */
    int slots;        /* slots=N; 0 = not given */
    int max_slots;    /* max_slots=M; 0 = not given */
    long line;        /* its line number, from 1 */
} sal_hostfile_entry_t;

typedef struct sal_hostfile sal_hostfile_t;

/* Reads the hostfile at path (a regular file; a final symbolic link is followed). [OUT] *hf: the
 * entries, or NULL on failure. SAL_ERR_INVALID_ARG for a NULL argument, SAL_ERR_IO when the file
 * cannot be opened or read or is not a regular file, SAL_ERR_CONFIG when its text is refused
 * (sal_hostfile_parse), SAL_ERR_NOMEM. */
SAL_PRIVATE int sal_hostfile_load(const char *path, sal_hostfile_t **hf);

/* Parses len bytes of text (no terminating NUL needed; any NUL byte is refused), naming it name in
 * messages ("hostfile <name>, line <n>: <cause>"). [OUT] *hf: the entries, or NULL on failure.
 * SAL_ERR_INVALID_ARG for a NULL argument, SAL_ERR_CONFIG when the text is refused, SAL_ERR_NOMEM.
 */
int sal_hostfile_parse(const char *name, const char *text, size_t len, sal_hostfile_t **hf);

/* Number of entries of hf (0 for NULL). */
SAL_PRIVATE size_t sal_hostfile_count(const sal_hostfile_t *hf);

/* Entry i of hf, in file order; NULL when i >= sal_hostfile_count(hf). Valid until hf is
 * destroyed. */
SAL_PRIVATE const sal_hostfile_entry_t *sal_hostfile_entry(const sal_hostfile_t *hf, size_t i);

/* [INOUT] *hf: frees the entries and sets the pointer to NULL; NULL or *hf NULL is a no-op. */
SAL_PRIVATE void sal_hostfile_destroy(sal_hostfile_t **hf);

/* 1 when s is a host name of the grammar (1 to SAL_HOSTFILE_NAME_MAX ASCII letters, digits, '-',
 * '.' or '_', starting with a letter or digit), else 0; s may be NULL. */
SAL_PRIVATE int sal_hostfile_valid_name(const char *s);

#endif
