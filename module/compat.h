/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every difference between the kernels xksm builds for.
 *
 * This is the only file that tests LINUX_VERSION_CODE.  The rest of xksm is
 * written against one vocabulary, the xksm_* helpers below; where a kernel
 * lacks a word, it is defined here.  Today's targets are Debian's 6.1
 * (bookworm) and 6.12 (bookworm-backports).
 *
 * The helpers also re-implement the header inlines that expand to
 * unexported functions (put_anon_vma(), the mmu notifier range calls,
 * pte_offset_map_lock() on 6.12, ...): they call the kernel's function
 * through its static call (kernel_api.h).
 *
 * The unexported kernel functions xksm binds are listed in kernel_syms.h,
 * which picks between versions through the XKSM_HAVE_* names below.
 */
#ifndef _XKSM_COMPAT_H
#define _XKSM_COMPAT_H

#include <linux/version.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pid.h>
#include <linux/pagemap.h>
#include <linux/pagewalk.h>
#include <linux/rmap.h>
#include <linux/sched/cputime.h>
#include <linux/sched/mm.h>
#include <linux/swap.h>
#include <linux/swapops.h>
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
 * What the kernel offers, by version; kernel_syms.h and the helpers below
 * test these names, never the version.
 *
 * XKSM_HAVE_FOLIO_WALK: folio_walk_start() and the folio rmap calls
 *	(folio_add_anon_rmap_ptes() ...) replace follow_page() and
 *	page_add_anon_rmap(); the mmu notifier's change_pte is gone; page
 *	walks name their mmap_lock mode; pte_offset_map_lock() may fail
 *	(6.12).
 * XKSM_HAVE_KSM_MERGE_ANY: the kernel's KSM has a merge-any mode,
 *	ksm_enable_merge_any() (prctl(PR_SET_MEMORY_MERGE), 6.4).
 * XKSM_HAVE_FOLIO_SWAP: a swapcache folio's entry is folio->swap, not
 *	folio_swap_entry() (6.6).
 * XKSM_HAVE_MADVISE_SELF_NO_NICE: process_madvise() on a pidfd of the
 *	caller's own process needs no CAP_SYS_NICE (so on Debian's 6.12, not
 *	on its 6.1); xksm's XKSM_PIDFD does as process_madvise() does.
 * XKSM_HAVE_SWAP_CACHE_INDEX: each 64 MiB address space of the swapcache
 *	indexes its folios by the offset within it, swap_cache_index() (as
 *	on 6.12, since about 6.10); on 6.1 by the whole offset.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define XKSM_HAVE_FOLIO_WALK	1
#define XKSM_HAVE_KSM_MERGE_ANY	1
#define XKSM_HAVE_FOLIO_SWAP	1
#define XKSM_HAVE_MADVISE_SELF_NO_NICE	1
#define XKSM_HAVE_SWAP_CACHE_INDEX	1
#endif

#include "kernel_api.h"

#ifndef VM_DROPPABLE
#define VM_DROPPABLE		VM_NONE
#endif
/* Is @mm in the kernel's own KSM merge-any mode (PR_SET_MEMORY_MERGE)? */
static inline bool xksm_kernel_merge_any(struct mm_struct *mm)
{
#ifdef MMF_VM_MERGE_ANY
	return test_bit(MMF_VM_MERGE_ANY, &mm->flags);
#else
	return false;
#endif
}

/*
 * DEFINE_FOLIO_VMA_WALK() without its hugetlb case, which on 6.1 calls the
 * unexported hugetlb_basepage_index(): xksm never merges hugetlb pages.
 */
#define XKSM_DEFINE_FOLIO_VMA_WALK(name, _folio, _vma)			\
	struct page_vma_mapped_walk name = {				\
		.pfn = folio_pfn(_folio),				\
		.nr_pages = folio_nr_pages(_folio),			\
		.pgoff = (_folio)->index,				\
		.vma = _vma,						\
	}

/* Make an ftrace callback return into @ip instead of the traced function. */
static inline void xksm_ftrace_set_ip(struct ftrace_regs *fregs, unsigned long ip)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	ftrace_regs_set_instruction_pointer(fregs, ip);
#else
	ftrace_instruction_pointer_set(fregs, ip);
#endif
}

/* put_anon_vma() */
static inline void xksm_put_anon_vma(struct anon_vma *anon_vma)
{
	if (atomic_dec_and_test(&anon_vma->refcount))
		xksm_call(__put_anon_vma)(anon_vma);
}

/*
 * mmu_notifier_range_init() + invalidate_range_start(), and _end(), for a
 * change of one pte of @vma at @addr.  The kernel's inlines also take a
 * lockdep map that is not exported: only that annotation is lost.
 */
static inline void xksm_mmu_notifier_start(struct mmu_notifier_range *range,
					   struct vm_area_struct *vma,
					   unsigned long addr)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, vma->vm_mm, addr,
				addr + PAGE_SIZE);
#else
	mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, vma, vma->vm_mm,
				addr, addr + PAGE_SIZE);
#endif
	might_sleep();
	if (mm_has_notifiers(range->mm)) {
		range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
		xksm_call(__mmu_notifier_invalidate_range_start)(range);
	}
}

static inline void xksm_mmu_notifier_end(struct mmu_notifier_range *range)
{
	might_sleep();
	if (mm_has_notifiers(range->mm))
#ifdef XKSM_HAVE_FOLIO_WALK
		xksm_call(__mmu_notifier_invalidate_range_end)(range);
#else
		xksm_call(__mmu_notifier_invalidate_range_end)(range, false);
#endif
}

/* set_pte_at_notify() on 6.1; a plain set_pte_at() since change_pte went. */
static inline void xksm_set_pte_notify(struct mm_struct *mm, unsigned long addr,
				       pte_t *ptep, pte_t pte)
{
#ifndef XKSM_HAVE_FOLIO_WALK
	if (mm_has_notifiers(mm))
		xksm_call(__mmu_notifier_change_pte)(mm, addr, pte);
#endif
	set_pte_at(mm, addr, ptep, pte);
}

/* pte_offset_map_lock(): NULL when the page table went away (6.12). */
static inline pte_t *xksm_pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd,
					      unsigned long addr,
					      spinlock_t **ptlp)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	pte_t *pte;

	__cond_lock(*ptlp, pte = xksm_call(__pte_offset_map_lock)(mm, pmd, addr,
								   ptlp));
	return pte;
#else
	return pte_offset_map_lock(mm, pmd, addr, ptlp);
#endif
}

/* pmdp_get_lockless(): a stable snapshot of a pmd without its lock. */
static inline pmd_t xksm_pmdp_get_lockless(pmd_t *pmdp)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	return pmdp_get_lockless(pmdp);
#else
	pmd_t pmd = READ_ONCE(*pmdp);

	barrier();
	return pmd;
#endif
}

/* The mmap_lock mode a page walk runs under (a field since 6.5). */
#ifdef XKSM_HAVE_FOLIO_WALK
#define XKSM_WALK_RDLOCK	.walk_lock = PGWALK_RDLOCK,
#else
#define XKSM_WALK_RDLOCK
#endif

/* dec_mm_counter() */
static inline void xksm_dec_mm_counter(struct mm_struct *mm, int member)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	percpu_counter_dec(&mm->rss_stat[member]);
	xksm_call(mm_trace_rss_stat)(mm, member);
#else
	long count = atomic_long_dec_return(&mm->rss_stat.count[member]);

	xksm_call(mm_trace_rss_stat)(mm, member, count);
#endif
}

/* folio_add_anon_rmap_pte(..., RMAP_NONE) / page_add_anon_rmap() */
static inline void xksm_add_anon_rmap_pte(struct page *page,
					  struct vm_area_struct *vma,
					  unsigned long addr)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	xksm_call(folio_add_anon_rmap_ptes)(page_folio(page), page, 1, vma, addr,
					    RMAP_NONE);
#else
	xksm_call(page_add_anon_rmap)(page, vma, addr, RMAP_NONE);
#endif
}

/* folio_remove_rmap_pte() / page_remove_rmap() */
static inline void xksm_remove_rmap_pte(struct page *page,
					struct vm_area_struct *vma)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	xksm_call(folio_remove_rmap_ptes)(page_folio(page), page, 1, vma);
#else
	xksm_call(page_remove_rmap)(page, vma, false);
#endif
}

/*
 * folio_try_share_anon_rmap_pte() / page_try_share_anon_rmap(): drop the
 * page's exclusive marking before it is shared; fails (non-zero) if the page
 * may be pinned.  The pte must have been cleared and flushed first.
 */
static inline int xksm_try_share_anon_rmap(struct page *page)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	return folio_try_share_anon_rmap_pte(page_folio(page), page);
#else
	return page_try_share_anon_rmap(page);
#endif
}

/* page_mapcount() of an order-0 page */
static inline int xksm_mapcount(struct page *page)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	return folio_mapcount(page_folio(page));
#else
	return page_mapcount(page);
#endif
}

/* Write-protect and clean a pte that is being made read-only for sharing. */
static inline pte_t xksm_pte_wrprotect_clean(pte_t entry)
{
#ifndef XKSM_HAVE_FOLIO_WALK
	if (pte_protnone(entry))
		return pte_mkclean(pte_clear_savedwrite(entry));
#endif
	return pte_mkclean(pte_wrprotect(entry));
}

/* Whether a pte must be write-protected before its page can be shared. */
static inline bool xksm_pte_needs_wrprotect(pte_t entry)
{
#ifndef XKSM_HAVE_FOLIO_WALK
	if (pte_protnone(entry) && pte_savedwrite(entry))
		return true;
#endif
	return pte_write(entry) || pte_dirty(entry);
}

/* split_huge_page() */
static inline int xksm_split_huge_page(struct page *page)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	return xksm_call(split_huge_page_to_list_to_order)(page, NULL, 0);
#else
	return xksm_call(split_huge_page_to_list)(page, NULL);
#endif
}

/*
 * The anonymous page mapped by a pte at @addr of @vma, with a reference
 * held, or NULL (nothing mapped, not anonymous, zone device, or mapped by a
 * huge pmd on 6.1).  mmap_lock must be held.
 */
static inline struct page *xksm_get_anon_page(struct vm_area_struct *vma,
					      unsigned long addr)
{
	struct page *page = NULL;
#ifdef XKSM_HAVE_FOLIO_WALK
	struct folio_walk fw;
	struct folio *folio;

	folio = xksm_call(folio_walk_start)(&fw, vma, addr, 0);
	if (folio) {
		if (!folio_is_zone_device(folio) && folio_test_anon(folio)) {
			folio_get(folio);
			page = fw.page;
		}
		spin_unlock(fw.ptl);
		if (fw.level == FW_LEVEL_PTE)
			pte_unmap(fw.ptep);
		xksm_call(vma_pgtable_walk_end)(vma);
	}
#else
	/*
	 * FOLL_FORCE: without it, 6.1's follow_page() fails on a PROT_NONE
	 * pte, of a PROT_NONE vma or of NUMA balancing's hinting, and such
	 * pages would never merge (6.12's folio_walk finds them, as mainline
	 * KSM has since 6.5).
	 */
	page = xksm_call(follow_page)(vma, addr, FOLL_GET | FOLL_FORCE);
	if (IS_ERR_OR_NULL(page))
		return NULL;
	if (is_zone_device_page(page) || !PageAnon(page)) {
		put_page(page);
		return NULL;
	}
#endif
	return page;
}

/*
 * What a pte at @addr of @vma maps, for unmerging: XKSM_PTE_KSM for a KSM
 * page, XKSM_PTE_ZERO for the zero page, XKSM_PTE_OTHER otherwise.  Waits for
 * a migration entry to resolve.  mmap_lock must be held.
 */
enum xksm_pte_kind { XKSM_PTE_OTHER, XKSM_PTE_KSM, XKSM_PTE_ZERO };

static inline enum xksm_pte_kind xksm_pte_kind(struct vm_area_struct *vma,
					       unsigned long addr)
{
	enum xksm_pte_kind kind = XKSM_PTE_OTHER;
#ifdef XKSM_HAVE_FOLIO_WALK
	struct folio_walk fw;
	struct folio *folio;

	folio = xksm_call(folio_walk_start)(&fw, vma, addr,
					    FW_MIGRATION | FW_ZEROPAGE);
	if (folio) {
		/* A small folio implies FW_LEVEL_PTE. */
		if (!folio_test_large(folio)) {
			if (folio_test_ksm(folio))
				kind = XKSM_PTE_KSM;
			else if (is_zero_pfn(pte_pfn(fw.pte)))
				kind = XKSM_PTE_ZERO;
		}
		spin_unlock(fw.ptl);
		if (fw.level == FW_LEVEL_PTE)
			pte_unmap(fw.ptep);
		xksm_call(vma_pgtable_walk_end)(vma);
	}
#else
	struct page *page;

	/*
	 * FOLL_FORCE: without it, 6.1's follow_page() fails on a PROT_NONE
	 * pte (NUMA balancing's hinting faults), and unmerging would skip a
	 * KSM page mapped there, silently.
	 */
	page = xksm_call(follow_page)(vma, addr, FOLL_GET | FOLL_MIGRATION |
				      FOLL_REMOTE | FOLL_FORCE);
	if (IS_ERR_OR_NULL(page))
		return kind;
	if (PageKsm(page))
		kind = XKSM_PTE_KSM;
	else if (is_zero_pfn(page_to_pfn(page)))
		kind = XKSM_PTE_ZERO;
	put_page(page);
#endif
	return kind;
}

/*
 * The fault that copies a KSM (or zero) page at @addr into a private page:
 * an unshare fault where the kernel has one for KSM and zero pages, a write
 * fault on 6.1 (which also works in a read-only vma: the copy is simply
 * mapped read-only).
 */
static inline vm_fault_t xksm_unshare_fault(struct vm_area_struct *vma,
					    unsigned long addr)
{
#ifdef XKSM_HAVE_FOLIO_WALK
	return handle_mm_fault(vma, addr, FAULT_FLAG_UNSHARE | FAULT_FLAG_REMOTE,
			       NULL);
#else
	return handle_mm_fault(vma, addr, FAULT_FLAG_WRITE | FAULT_FLAG_REMOTE,
			       NULL);
#endif
}

/* anon_vma_interval_tree_foreach(), whose iterators are not exported */
#define xksm_anon_vma_tree_foreach(avc, root, start, last)		\
	for (avc = xksm_call(anon_vma_interval_tree_iter_first)(root, start, last); \
	     avc;							\
	     avc = xksm_call(anon_vma_interval_tree_iter_next)(avc, start, last))

/* mm/swap.h (private): one swapcache address space for each 64 MiB of swap. */
#define XKSM_SWAP_ADDRESS_SPACE_SHIFT	14

/*
 * The folio the swapcache holds for swap @entry, with a reference, or NULL:
 * filemap_get_folio(swap_address_space(entry), index), as the kernel's
 * swap_cache_get_folio() looks it up, less its readahead accounting (and as
 * mincore does under the page table lock).  Does not sleep.
 *
 * The caller must keep swapoff from freeing the address spaces: by holding
 * the page table lock of a pte that holds @entry, say (swapoff ends only
 * once every such pte is gone, each cleared under that lock).  Nothing
 * else protects them: swapoff frees them before it clears the pointer,
 * with no grace period, so the pointer's test below is no such guard.
 */
static inline struct folio *xksm_swap_cache_folio(swp_entry_t entry)
{
	struct address_space *spaces;
	pgoff_t offset = swp_offset(entry), index;
	struct folio *folio;

	spaces = READ_ONCE(xksm_var_swapper_spaces[swp_type(entry)]);
	if (!spaces)
		return NULL;
#ifdef XKSM_HAVE_SWAP_CACHE_INDEX
	index = offset & ((1UL << XKSM_SWAP_ADDRESS_SPACE_SHIFT) - 1);
#else
	index = offset;
#endif
	folio = filemap_get_folio(&spaces[offset >> XKSM_SWAP_ADDRESS_SPACE_SHIFT],
				  index);
	return IS_ERR_OR_NULL(folio) ? NULL : folio;
}

/* Whether a non-present, non-none @pte holds the swap entry of @folio. */
static inline bool xksm_pte_is_swap_of(pte_t pte, struct folio *folio)
{
	swp_entry_t entry = pte_to_swp_entry(pte);

	if (non_swap_entry(entry))
		return false;
#ifdef XKSM_HAVE_FOLIO_SWAP
	return entry.val == folio->swap.val;
#else
	return entry.val == folio_swap_entry(folio).val;
#endif
}

/*
 * Does acting on @mm through a pidfd need CAP_SYS_NICE, as
 * process_madvise() requires on this kernel?
 */
static inline bool xksm_pidfd_needs_nice(struct mm_struct *mm)
{
#ifdef XKSM_HAVE_MADVISE_SELF_NO_NICE
	return mm != current->mm;
#else
	return true;
#endif
}

#endif /* _XKSM_COMPAT_H */
