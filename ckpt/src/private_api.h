/*
 * The private interface between Salamander's libraries (docs/architecture.md, "What is
 * exported"). The libraries are compiled with -fvisibility=hidden; besides the public API (SAL_API)
 * they export only:
 *
 * SAL_PRIVATE: a function of libsalamander-ckpt that libsalamander-runtime calls, or one of
 * libsalamander-runtime that libsalamander-fortran calls. It marks the declaration in the private
 * header that declares the function; the marked declarations, listed by `scripts/abi.py --list`,
 * are the whole interface. Not installed, not documented for users, free to change between
 * releases. Programs of the build tree that test other internal functions link
 * salamander-ckpt-static.
 *
 * SAL_INTERPOSE: a definition of an MPI function that replaces the MPI library's through the PMPI
 * profiling interface: the wrappers the interposition layer generates from its list
 * (runtime/interpose/wrap.h, mpi_functions.def). It must be exported whatever visibility mpi.h
 * gives the declaration.
 */
#ifndef SAL_PRIVATE_API_H
#define SAL_PRIVATE_API_H

#include <salamander/sal_export.h>

/* The same attribute as SAL_API; the names tell the three sets apart for scripts/abi.py. */
#define SAL_PRIVATE   SAL_API
#define SAL_INTERPOSE SAL_API

#endif
