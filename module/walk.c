// SPDX-License-Identifier: GPL-2.0
/*
 * walk.c - finding the next page worth looking at, fast.
 *
 * Registered ranges may be huge and sparse (a 1 TiB reservation with a few
 * pages touched): xksmd and unmerging must not visit every address.  The
 * kernel's page walker skips absent page tables whole; our pmd_entry
 * callback then scans one page table under its lock.  Mainline's
 * ksm_next_page_pmd_entry() stops at the first pte of interest, and ksmd
 * walks again from the top for the next page, taking the mmap_lock and the
 * page table lock again each time.  xksmd asks for several pages at once
 * (xksm_walk_pages()): one walk, one page table lock per table, collects
 * them all in order.
 *
 * xksm_find_pte_pmd() finds the page table of one address, for the rmap
 * side: replacing a pte, and checking where a route leads.
 */

#include <linux/mm.h>
#include <linux/pagewalk.h>
#include <linux/swap.h>
#include <linux/swapops.h>

#include "xksm.h"
#include "compat.h"

struct xksm_walk_arg {
	struct xksm_walk_result *res;	/* the results so far */
	unsigned int nr;		/* how many */
	unsigned int room;		/* room for */
	unsigned int taken;		/* of them pages with a reference */
	unsigned int max;		/* of those, at most */
	struct xksm_walk_skip *ws;	/* pages to pass over, or NULL */
	unsigned long next;		/* where the walk stopped */
	bool ksm_only;		/* looking for KSM and zero ptes only */
	bool migrating;		/* and migration entries of KSM pages */
};

/*
 * Whether swap @entry leads to a KSM page that waits in the swapcache:
 * reclaim has unmapped it (every pte that mapped it holds its swap entry)
 * but not freed it, being unable to (a reference held elsewhere) or not
 * yet (writeback), or a swap-in has mapped it again for some ptes only.
 * A swap-in maps that very page again, merged, as long as it has a stable
 * node: the kernel's ksm_might_need_to_copy() copies it only while the
 * kernel's own KSM unmerges, which knows nothing of xksm.  So unmerging
 * must not pass over such an entry, or the page would come back merged
 * where nothing tracks it (in a range just unregistered, or in an mm that
 * run=2 has passed, whose page then keeps its stable node).  Mainline's
 * break_ksm() passes over swap entries: its ksm_run flag copies instead.
 * Under the page table lock of the pte holding @entry, which keeps swapoff
 * away (xksm_swap_cache_folio()).
 */
static bool xksm_swapcache_ksm(swp_entry_t entry)
{
	struct folio *folio = xksm_swap_cache_folio(entry);
	bool ksm;

	if (!folio)
		return false;
	ksm = folio_test_ksm(folio);
	folio_put(folio);
	return ksm;
}

/*
 * Does this pte hold what the walk is looking for?  If so, fills in the
 * next result but for its folio reference.
 */
static bool xksm_pte_wanted(struct vm_area_struct *vma, unsigned long addr,
			    pte_t pte, struct xksm_walk_arg *arg)
{
	struct xksm_walk_result *res = arg->res + arg->nr;
	struct folio *folio = NULL;
	struct page *page;

	if (!pte_present(pte)) {
		swp_entry_t entry;

		/*
		 * A KSM page being migrated: unmerging waits for the
		 * migration to end (as mainline's break_ksm() does), and
		 * breaks it then.  No reference: the walk is under the page
		 * table lock, which the migration's entry removal takes.
		 * Or a KSM page waiting in the swapcache: unmerging swaps it
		 * in, and breaks it then (xksm_swapcache_ksm()).
		 */
		if (!arg->migrating || pte_none(pte))
			return false;
		entry = pte_to_swp_entry(pte);
		if (is_migration_entry(entry)) {
			if (!folio_test_ksm(page_folio(pfn_swap_entry_to_page(entry))))
				return false;
		} else if (non_swap_entry(entry) || !xksm_swapcache_ksm(entry)) {
			return false;
		}
		memset(res, 0, sizeof(*res));
		res->addr = addr;
		return true;
	}
	if (is_zero_pfn(pte_pfn(pte))) {
		page = NULL;
	} else {
		page = xksm_call(vm_normal_page)(vma, addr, pte);
		if (!page)
			return false;
		folio = page_folio(page);
		if (folio_is_zone_device(folio) || !folio_test_anon(folio))
			return false;
		if (arg->ksm_only && !folio_test_ksm(folio))
			return false;
	}
	res->page = page;
	res->folio = NULL;
	res->addr = addr;
	res->zero = !page;
	res->skipped = folio && arg->ws && xksm_scan_skip(arg->ws, addr, folio);
	return true;
}

static int xksm_walk_pmd_entry(pmd_t *pmdp, unsigned long addr,
			       unsigned long end, struct mm_walk *walk)
{
	struct xksm_walk_arg *arg = walk->private;
	struct xksm_walk_result *res = arg->res + arg->nr;
	struct vm_area_struct *vma = walk->vma;
	struct mm_struct *mm = walk->mm;
	pte_t *start_ptep, *ptep;
	spinlock_t *ptl;	/* the page table (or pmd) lock */
	pmd_t pmd;

	if (xksm_test_exit(mm))
		return 0;

	cond_resched();

	pmd = xksm_pmdp_get_lockless(pmdp);
	if (!pmd_present(pmd))
		return 0;

	if (pmd_trans_huge(pmd)) {
		struct page *page;
		struct folio *folio;

		/* A THP is never a KSM page. */
		if (arg->ksm_only)
			return 0;
		ptl = pmd_lock(mm, pmdp);
		pmd = *pmdp;
		if (pmd_present(pmd) && pmd_trans_huge(pmd)) {
			page = xksm_call(vm_normal_page_pmd)(vma, addr, pmd);
			if (!page)
				goto not_found_unlock_pmd;
			folio = page_folio(page);
			if (folio_is_zone_device(folio) || !folio_test_anon(folio))
				goto not_found_unlock_pmd;
			page += (addr & (PMD_SIZE - 1)) >> PAGE_SHIFT;
			folio_get(folio);
			spin_unlock(ptl);
			memset(res, 0, sizeof(*res));
			res->page = page;
			res->folio = folio;
			res->addr = addr;
			/*
			 * One page of a THP, and stop: merging splits the THP,
			 * which a reference on another of its pages would
			 * fail.
			 */
			arg->nr++;
			arg->taken++;
			arg->next = addr + PAGE_SIZE;
			return 1;
		}
		spin_unlock(ptl);
		if (!pmd_present(pmd) || pmd_trans_huge(pmd))
			return 0;
	}

	start_ptep = xksm_pte_offset_map_lock(mm, pmdp, addr, &ptl);
	if (!start_ptep)
		return 0;
	for (ptep = start_ptep; addr < end; ptep++, addr += PAGE_SIZE) {
		if (!xksm_pte_wanted(vma, addr, ptep_get(ptep), arg))
			continue;
		res = arg->res + arg->nr++;
		if (res->page && !res->skipped) {
			res->folio = page_folio(res->page);
			folio_get(res->folio);
			arg->taken++;
		}
		if (arg->nr == arg->room || arg->taken == arg->max) {
			arg->next = addr + PAGE_SIZE;
			pte_unmap_unlock(start_ptep, ptl);
			return 1;
		}
	}
	pte_unmap_unlock(start_ptep, ptl);
	return 0;

not_found_unlock_pmd:
	spin_unlock(ptl);
	return 0;
}

static const struct mm_walk_ops xksm_walk_ops = {
	.pmd_entry = xksm_walk_pmd_entry,
	XKSM_WALK_RDLOCK
};

/**
 * xksm_walk_pages - the next anonymous pages in [start, end) of @vma
 * @vma: the vma; its mm's mmap_lock held for read
 * @start: where to start (page aligned)
 * @end: where to stop
 * @res: room for @room results, filled in address order: an anonymous page
 *	(->page, with a reference on ->folio), a page @ws passed over
 *	(->skipped, ->page but no reference), or a zero-page pte (->zero)
 * @room: how many results at most
 * @max: how many of them pages with a reference, at most; a page of a
 *	THP is the last one
 * @ws: which pages to pass over, or NULL
 * @ksm_only: only KSM pages and zero-page ptes
 * @next: where to go on from: after the last result, or @end
 *
 * Returns the number of results.
 */
unsigned int xksm_walk_pages(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, struct xksm_walk_result *res,
			     unsigned int room, unsigned int max,
			     struct xksm_walk_skip *ws, bool ksm_only,
			     unsigned long *next)
{
	struct xksm_walk_arg arg = {
		.res = res, .room = room, .max = max, .ws = ws,
		.ksm_only = ksm_only, .next = end,
	};

	if (xksm_call(walk_page_range_vma)(vma, start, end, &xksm_walk_ops,
					   &arg) < 0)
		arg.nr = 0;	/* nothing found: no reference taken */
	*next = arg.next;
	return arg.nr;
}

/* Drop the references of @nr results of xksm_walk_pages(). */
void xksm_walk_put(struct xksm_walk_result *res, unsigned int nr)
{
	for (; nr; res++, nr--)
		if (res->folio)
			folio_put(res->folio);
}

/**
 * xksm_walk_next - the next KSM page or zero-page pte in [start, end)
 * @vma: the vma; its mm's mmap_lock held for read
 * @start: where to start (page aligned)
 * @end: where to stop
 * @res: the result: ->zero, or ->page (no reference taken), or neither
 *	(a KSM page being migrated)
 *
 * For unmerging.  Returns true if something was found at @res->addr.
 */
bool xksm_walk_next(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end, struct xksm_walk_result *res)
{
	struct xksm_walk_arg arg = {
		.res = res, .room = 1, .max = 1, .ksm_only = true,
		.migrating = true,
	};
	int found;

	memset(res, 0, sizeof(*res));
	found = xksm_call(walk_page_range_vma)(vma, start, end, &xksm_walk_ops,
					       &arg);
	if (found <= 0)
		return false;
	if (res->folio) {
		folio_put(res->folio);
		res->folio = NULL;
		res->page = NULL;
	}
	return true;
}

/*
 * Whether the pte at @addr of @vma holds a KSM page that is not mapped
 * there right now: being migrated, or waiting in the swapcache
 * (xksm_pte_wanted()).  A fault brings it back (and then a second one
 * copies it).  mmap_lock held for read.
 */
bool xksm_pte_ksm_unmapped(struct vm_area_struct *vma, unsigned long addr)
{
	struct xksm_walk_result res;

	return xksm_walk_next(vma, addr, addr + PAGE_SIZE, &res) &&
	       !res.page && !res.zero;
}

/*
 * The pmd of @mm that maps @addr through a page table, or NULL (none, or a
 * huge page: KSM pages are never mapped by a pmd).  Some THP functions use
 * the sequence pmdp_huge_clear_flush(), set_pmd_at() without holding the
 * anon_vma lock for write: so test present and !THP together, on one
 * snapshot of the pmd.
 */
pmd_t *xksm_find_pte_pmd(struct mm_struct *mm, unsigned long addr)
{
	pmd_t *pmd, pmde;

	pmd = xksm_call(mm_find_pmd)(mm, addr);
	if (!pmd)
		return NULL;
	pmde = xksm_pmdp_get_lockless(pmd);
	if (!pmd_present(pmde) || pmd_trans_huge(pmde))
		return NULL;
	return pmd;
}

/*
 * A snapshot of @mm's pte at @addr, read under its page table lock, in
 * *@ptep; false when no page table maps @addr.  The caller holds what keeps
 * the page tables: the mmap_lock, or the anon_vma lock of a vma there.
 */
bool xksm_read_pte(struct mm_struct *mm, unsigned long addr, pte_t *ptep)
{
	pmd_t *pmd = xksm_find_pte_pmd(mm, addr);
	spinlock_t *ptl;	/* the page table lock */
	pte_t *pte;

	if (!pmd)
		return false;
	pte = xksm_pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!pte)
		return false;
	*ptep = ptep_get(pte);
	pte_unmap_unlock(pte, ptl);
	return true;
}

/* Does @mm map the zero page at @addr?  mmap_lock held. */
bool xksm_maps_zero_page(struct mm_struct *mm, unsigned long addr)
{
	pte_t pte;

	return xksm_read_pte(mm, addr, &pte) && pte_present(pte) &&
	       is_zero_pfn(pte_pfn(pte));
}
