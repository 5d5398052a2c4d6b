/*
 * Written-page tracking of the protected regions, for differential checkpoints with
 * differential_tracking=pages (docs/format.md, "Differential checkpoints"). The kernel keeps the
 * record: the regions' pages are registered with a userfaultfd in asynchronous write-protect mode
 * (UFFD_FEATURE_WP_ASYNC), so that the first write to a page after a checkpoint only clears its
 * protection, without a signal or a thread; the ioctl PAGEMAP_SCAN of /proc/self/pagemap returns
 * the pages written since and protects them again, in one step. Both need Linux >= 6.7.
 *
 * Writes by the CPU of this process, by the kernel on its behalf (read(), recv(), the MPI
 * library's process_vm_writev from a peer) and MADV_DONTNEED are seen. Writes that do not go
 * through this process's page tables are not: a device's DMA into memory pinned for it (RDMA
 * registrations, io_uring fixed buffers, GPU transfers) or a peer writing through an XPMEM
 * mapping. So the tracker refuses to start on a host with such devices, and gives up for good as
 * soon as the process has pinned memory (VmPin in /proc/self/status).
 */
#ifndef SAL_DIRTY_H
#define SAL_DIRTY_H

#include <stddef.h>
#include <stdint.h>

#include "region.h"

typedef struct sal_dirty sal_dirty_t;

/* A tracker with nothing registered. SAL_ERR_UNSUPPORTED (the reason in sal_last_error: no
 * userfaultfd, no asynchronous write protection, no PAGEMAP_SCAN, a device of
 * sal_dirty_device_blocks) when it cannot be trusted here. */
int sal_dirty_open(sal_dirty_t **out);

/* 1 when the host under root ("" for this host, or a test's directory) has a device that can write
 * this process's memory behind its page tables: an RDMA device (/sys/class/infiniband/...), XPMEM,
 * Slingshot CXI, Omni-Path hfi1, an NVIDIA or AMD compute GPU, a DRM render node; its path in
 * what. 0 otherwise. */
int sal_dirty_device_blocks(const char *root, char *what, size_t size);
void sal_dirty_close(sal_dirty_t *d);

/* At checkpoint id, just before the regions' data is copied: the pages written since the previous
 * call are recorded as written at id and protected again. Memory not tracked yet (a new region, a
 * region that moved, memory unmapped and mapped again) is registered now and counts as written at
 * id. SAL_OK; any other status leaves nothing trusted (every page counts as written) and says why:
 * SAL_ERR_UNSUPPORTED once the process has pinned memory, for good (the caller closes the
 * tracker). */
int sal_dirty_scan(sal_dirty_t *d, const sal_region_t *regions, int nregions, int64_t id);

/* 1 when no byte of [addr, addr + len) was written after checkpoint `since` was copied (the
 * memory was tracked from that checkpoint's scan on, and no later scan found a page of it
 * written); 0 otherwise, also for memory that is not tracked. */
int sal_dirty_clean_since(const sal_dirty_t *d, const void *addr, size_t len, int64_t since);

#endif
