/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every difference between the kernels xksm builds for.
 *
 * This is the only file that tests LINUX_VERSION_CODE.  The rest of xksm is
 * written against one vocabulary; where a kernel lacks a word, it is
 * defined here.  Today's targets are Debian's 6.1 (bookworm) and 6.12
 * (bookworm-backports).
 *
 * It also lists the unexported kernel functions xksm calls (bound at load by
 * kernel_api.c): their names differ between versions.
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
 * XKSM_KERNEL_FUNCS(F) expands F(name) for every unexported function xksm
 * calls.  kernel_api.c defines a static call xksm_<name> of the type of the
 * kernel's own declaration of <name>, and binds it at load; call sites use
 * static_call(xksm_<name>)(...) through the wrappers in kernel_api.h.
 */
#define XKSM_KERNEL_FUNCS_COMMON(F)					\
	F(kallsyms_lookup_name)		/* bound first, from a kprobe */ \
	F(walk_page_range_vma)		/* the scanner's page-table walk */ \
	F(vm_normal_page)						\
	F(vm_normal_page_pmd)						\
	F(lru_add_drain_all)		/* once per full scan */	\
	F(page_address_in_vma)		/* write_protect_page, replace_page */ \
	F(page_vma_mapped_walk)		/* write_protect_page */	\
	F(ptep_clear_flush)		/* write_protect_page, replace_page */ \
	F(mm_find_pmd)			/* replace_page */		\
	F(folio_free_swap)		/* replace_page: old page unmapped */ \
	F(mm_trace_rss_stat)		/* dec_mm_counter() inline */	\
	F(__mmu_notifier_invalidate_range_start) /* mmu_notifier inlines */ \
	F(__mmu_notifier_invalidate_range_end)				\
	F(__put_anon_vma)		/* put_anon_vma() inline */	\
	F(folio_get_anon_vma)		/* the page's own anon_vma */	\
	F(anon_vma_interval_tree_iter_first) /* reaping: is a pte left? */ \
	F(anon_vma_interval_tree_iter_next)

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define XKSM_KERNEL_FUNCS_VERSIONED(F)					\
	F(folio_walk_start)		/* get_mergeable_page, break_ksm */ \
	F(vma_pgtable_walk_end)		/* folio_walk_end() inline */	\
	F(__pte_offset_map_lock)	/* pte_offset_map_lock() inline */ \
	F(folio_add_anon_rmap_ptes)	/* replace_page */		\
	F(folio_remove_rmap_ptes)					\
	F(split_huge_page_to_list_to_order) /* split_huge_page() */
#else
#define XKSM_KERNEL_FUNCS_VERSIONED(F)					\
	F(follow_page)			/* get_mergeable_page, break_ksm */ \
	F(__mmu_notifier_change_pte)	/* set_pte_at_notify() inline */ \
	F(page_add_anon_rmap)		/* replace_page */		\
	F(page_remove_rmap)						\
	F(split_huge_page_to_list)	/* split_huge_page() */
#endif

#define XKSM_KERNEL_FUNCS(F)						\
	XKSM_KERNEL_FUNCS_COMMON(F)					\
	XKSM_KERNEL_FUNCS_VERSIONED(F)

/*
 * XKSM_KERNEL_VARS(V) expands V(type, name) for every unexported kernel
 * variable xksm reads; kernel_api.c binds a pointer xksm_var_<name> to it.
 */
#define XKSM_KERNEL_VARS(V)						\
	V(struct kobject *, mm_kobj)	/* parent of /sys/kernel/mm/xksm */

#endif /* _XKSM_COMPAT_H */
