/*
 * SAL_API marks the functions of the public API, the only symbols the Salamander libraries export
 * besides the MPI functions the runtime interposes (runtime/interpose). The libraries are compiled
 * with -fvisibility=hidden: a function declared without SAL_API in a public header would not be
 * found by a program linked against them (the lint.abi test fails on it). Every public header
 * includes this one; SAL_API has no effect on the programs that include them.
 */
#ifndef SALAMANDER_SAL_EXPORT_H
#define SALAMANDER_SAL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SAL_API __attribute__((visibility("default")))
#else
#define SAL_API
#endif

#endif
