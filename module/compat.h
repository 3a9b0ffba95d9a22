/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every difference between the kernels xksm builds for.
 *
 * This is the only file that tests LINUX_VERSION_CODE.  The rest of xksm is
 * written against one vocabulary; where a kernel lacks a word, it is
 * defined here.  Today's targets are Debian's 6.1 (bookworm) and 6.12
 * (bookworm-backports).
 *
 * The unexported kernel functions xksm binds are listed in kernel_syms.h,
 * which picks between versions through the XKSM_HAVE_* names below.
 */
#ifndef _XKSM_COMPAT_H
#define _XKSM_COMPAT_H

#include <linux/version.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/huge_mm.h>
#include <linux/kallsyms.h>
#include <asm/tlbflush.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#warning "xksm is developed and tested on 6.1 and 6.12 only"
#endif

/*
 * Functions the kernel defines out of line and does not export, but whose
 * prototype lives in a private header (mm/internal.h).  Declared here only
 * to give their static call a type: nothing references the symbols.
 */
pmd_t *mm_find_pmd(struct mm_struct *mm, unsigned long address);

/*
 * What the kernel offers, by version; kernel_syms.h and the code test these
 * names, never the version.
 *
 * XKSM_HAVE_FOLIO_WALK: folio_walk_start() and the folio rmap calls
 *	(folio_add_anon_rmap_ptes() ...) replace follow_page() and
 *	page_add_anon_rmap(); the mmu notifier's change_pte is gone (6.12).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define XKSM_HAVE_FOLIO_WALK	1
#endif

#endif /* _XKSM_COMPAT_H */
