/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xksm - Kernel Samepage Merging as a loadable module.
 *
 * DOC: overview
 *
 * xksm finds identical private anonymous pages in memory that processes
 * registered through /dev/xksm, and maps them all to one write-protected
 * copy, as mainline KSM (mm/ksm.c) does for MADV_MERGEABLE memory.  It is a
 * module: it builds against a distro kernel's headers and needs no patch.
 *
 * The core mm reaches a KSM page's private data only through a few
 * out-of-line functions (rmap_walk_ksm, folio_migrate_ksm, ...), which read
 * the stable node that page->mapping points to.  xksm lays its stable nodes
 * and rmap_items out exactly as the kernel's own, so merged pages stay real
 * KSM pages for swap, migration, compaction and CoW (see DESIGN in the
 * README and stable_tree.c).
 *
 * Files, one concern each:
 *   main.c		module init/exit wiring
 *   kernel_api.c	binds the unexported kernel functions xksm calls
 *   compat.h		every kernel-version difference, and nothing else
 *   dev.c		/dev/xksm and its ioctls (include/uapi/linux/xksm.h)
 *   sysfs.c		/sys/kernel/mm/xksm/
 *   debugfs.c		/sys/kernel/debug/xksm/
 *
 * Lock order (outermost first), in the manner of mm/rmap.c: xksm takes no
 * lock of its own yet.  Each lock is added here where it nests among the
 * kernel's (mmap_lock, anon_vma->rwsem, page lock, page table lock).
 */
#ifndef _XKSM_H
#define _XKSM_H

#include <linux/types.h>

struct seq_file;

#define XKSM_NAME	"xksm"

/* XKSM_VERSION comes from dkms.conf through Kbuild: one place to bump. */
#if !defined(XKSM_VERSION) || !defined(XKSM_VERSION_CODE)
#error "XKSM_VERSION and XKSM_VERSION_CODE are set by Kbuild from dkms.conf"
#endif

/* kernel_api.c */
int xksm_kernel_api_init(void);
void xksm_kernel_api_show(struct seq_file *m);

/* dev.c */
int xksm_dev_init(void);
void xksm_dev_exit(void);

/* sysfs.c */
int xksm_sysfs_init(void);
void xksm_sysfs_exit(void);

/* debugfs.c */
void xksm_debugfs_init(void);
void xksm_debugfs_exit(void);

#endif /* _XKSM_H */
