// SPDX-License-Identifier: GPL-2.0
/*
 * merge.c - merging pages into KSM pages, and copying them back.
 *
 * To merge a page with a KSM page (or the zero page), xksm clears the
 * page's pte and flushes it, checks that nothing but its ptes holds a
 * reference (no O_DIRECT or other pin in flight), compares the contents
 * with the pte clear, and puts in a pte mapping the KSM page: all in one
 * step, under one page table lock (merge_pte()), where mainline
 * write-protects the pte in one and replaces it in another.  The first
 * page of a new KSM page is merged "with itself": its pte is write-
 * protected (merge_pte() without a KSM page) and it becomes PageKsm in
 * place.
 *
 * Unmerging is a fault: the kernel's CoW code copies a KSM page (or the
 * zero page) to a private page when asked to unshare it.
 *
 * The pages touched here are locked with trylock: xksmd prefers to move on
 * and come back than to wait.  Everything but xksm_unmerge_range() runs in
 * xksmd under xksm_thread_mutex.
 */

#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/swap.h>

#include "xksm.h"
#include "compat.h"
#include "profile.h"
#include "trace.h"

/* Whether to merge empty pages with the zero page (use_zero_pages) */
bool xksm_use_zero_pages __read_mostly;

/* How many pages xksm has mapped to the zero page (ksm_zero_pages) */
atomic_long_t xksm_zero_pages = ATOMIC_LONG_INIT(0);

static bool xksm_pages_identical(struct page *page1, struct page *page2)
{
	u64 t = xksm_prof_begin();
	bool same = !xksm_memcmp_pages(page1, page2);

	xksm_prof_end(XKSM_PH_MEMCMP, t);
	return same;
}

/*
 * The anonymous page at an rmap_item's address, with a reference, if xksm
 * may still merge there.
 */
struct page *xksm_get_mergeable_page(struct xksm_rmap_item *rmap_item)
{
	struct mm_struct *mm = rmap_item->mm;
	unsigned long addr = rmap_item->address & PAGE_MASK;
	struct vm_area_struct *vma;
	struct page *page = NULL;
	u64 t = xksm_prof_begin();

	mmap_read_lock(mm);
	vma = xksm_find_mergeable_vma(mm, addr);
	if (vma)
		page = xksm_get_anon_page(vma, addr);
	if (page) {
		flush_anon_page(vma, page, addr);
		flush_dcache_page(page);
	}
	mmap_read_unlock(mm);
	xksm_prof_end(XKSM_PH_LOOKUP, t);
	return page;
}

/* Swap-in faults xksm_break_ksm() makes at most for one pte. */
#define XKSM_BREAK_SWAPINS	4

/*
 * Copy the KSM (or zero) page at @addr of @vma back into a private page,
 * as mainline's break_ksm().  Loops because the fault may back out on a
 * racing pte update.  mmap_lock held, and the mm's exit held off: by a
 * reference on its users (xksm_mmap_read_lock_pinned()), by being the
 * mm's own task, or by the mmap_lock held for write.
 */
int xksm_break_ksm(struct vm_area_struct *vma, unsigned long addr, bool zero_too)
{
	enum xksm_pte_kind first = XKSM_PTE_OTHER;
	unsigned int swapins = 0;
	bool swapin = false;
	vm_fault_t ret = 0;
	int err;

	do {
		enum xksm_pte_kind kind;

		cond_resched();
		kind = xksm_pte_kind(vma, addr);
		/*
		 * A KSM page in the swapcache (walk.c): one fault swaps it in,
		 * the next copies it.  Asked at the first look, and again
		 * after a swap-in fault that left no KSM page mapped (it
		 * backed out on a racing change, or reclaim took the page
		 * again): a few times, not forever (the caller may hold the
		 * mmap_lock for write).  After a copy, a pte that holds no
		 * KSM page is done.
		 */
		if (kind == XKSM_PTE_OTHER &&
		    (first == XKSM_PTE_OTHER || swapin) &&
		    swapins < XKSM_BREAK_SWAPINS &&
		    xksm_pte_ksm_unmapped(vma, addr)) {
			kind = XKSM_PTE_KSM;
			swapin = true;
			swapins++;
		} else {
			swapin = false;
		}
		if (kind == XKSM_PTE_OTHER ||
		    (kind == XKSM_PTE_ZERO && !zero_too))
			goto out;
		if (first == XKSM_PTE_OTHER)
			first = kind;
		ret = xksm_unshare_fault(vma, addr);
	} while (!(ret & (VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_OOM)));
out:
	/*
	 * VM_FAULT_SIGBUS could occur if we race with truncation of the
	 * backing file, which also invalidates anonymous pages: that's okay,
	 * that truncation will have unmapped the KSM page for us.
	 * VM_FAULT_OOM: a memory cgroup at its limit; report it.
	 */
	err = (ret & VM_FAULT_OOM) ? -ENOMEM : 0;
	if (first != XKSM_PTE_OTHER)	/* there was something to unmerge */
		trace_xksm_unmerge(vma->vm_mm, addr, first == XKSM_PTE_ZERO, err);
	return err;
}

/*
 * Copy back the KSM page at the rmap_item's address, if it is still
 * registered there.  The mm is pinned: xksmd holds no reference on its
 * users, and a fault must not race its exit (mm_slot.c).
 */
static void xksm_break_rmap_item(struct xksm_rmap_item *rmap_item)
{
	struct mm_struct *mm = rmap_item->mm;
	unsigned long addr = rmap_item->address & PAGE_MASK;
	struct vm_area_struct *vma;

	if (!xksm_mmap_read_lock_pinned(mm))
		return;
	vma = xksm_find_mergeable_vma(mm, addr);
	if (vma)
		xksm_break_ksm(vma, addr, false);
	xksm_mmap_read_unlock_pinned(mm);
}

/*
 * Undo a merge that was just made: the rmap_item's page is a KSM page
 * mapped only here.  Drops the anon_vma reference the merge took.
 */
void xksm_break_cow(struct xksm_rmap_item *rmap_item)
{
	/* Whenever we break COW to undo a merge, we drop the anon_vma too. */
	if (rmap_item->anon_vma)
		xksm_put_anon_vma(rmap_item->anon_vma);
	xksm_break_rmap_item(rmap_item);
}

/*
 * Map @kpage (a KSM page, or the zero page) where @vma mapped @page, at
 * @ptep, which the caller cleared and flushed, and let go of @page.  Page
 * table lock held.
 */
static void install_kpage(struct vm_area_struct *vma, unsigned long addr,
			  pte_t *ptep, struct page *page, struct page *kpage)
{
	struct mm_struct *mm = vma->vm_mm;
	struct folio *folio = page_folio(page);
	pte_t newpte;

	if (!is_zero_pfn(page_to_pfn(kpage))) {
		get_page(kpage);
		xksm_add_anon_rmap_pte(kpage, vma, addr);
		newpte = mk_pte(kpage, vma->vm_page_prot);
	} else {
		/*
		 * The zero page is mapped clean, as any read fault maps it:
		 * the kernel's own KSM marks its zero pages dirty and counts
		 * them (6.12), and must not count xksm's.  xksm counts them
		 * through its rmap_items.
		 *
		 * An anonymous page is replaced by one that is not: fix the
		 * counter, else /proc is wrong and exit_mmap() complains.
		 */
		newpte = pte_mkspecial(pfn_pte(page_to_pfn(kpage),
					       vma->vm_page_prot));
		xksm_dec_mm_counter(mm, MM_ANONPAGES);
	}
	xksm_set_pte_notify(mm, addr, ptep, newpte);

	xksm_remove_rmap_pte(page, vma);
	if (!folio_mapped(folio))
		xksm_call(folio_free_swap)(folio);
	folio_put(folio);
}

/*
 * The pte of a page about to merge.  Without @kpage: write-protect it, for
 * the page to become a KSM page in place.  With @kpage (a KSM page or the
 * zero page): write-protect it, compare the bytes and map @kpage there
 * instead, all in one step, under one page table lock and with one TLB
 * flush, where mainline's write_protect_page() and replace_page() take a
 * walk, a lock and a flush each.
 *
 * get_user_pages_fast() takes no lock, so the check of the page count
 * against the mapcount would be racy with O_DIRECT starting right after
 * it: the pte is cleared and flushed first, and no new GUP can start then.
 * The bytes are compared with the pte clear: nothing writes the page
 * meanwhile, not through this pte, nor through another (an anonymous page
 * mapped twice is mapped read-only), nor by I/O (pinning it to write needs
 * it exclusive, and the count check sees such pins).  @kpage then goes in
 * without another flush: nothing cached the cleared pte.  If the bytes
 * differ, the pte stays write-protected and clean, as mainline leaves it.
 * Page locked, mmap_lock held.  Returns 0 or -EFAULT.
 */
static int merge_pte(struct vm_area_struct *vma, struct page *page,
		     struct page *kpage)
{
	struct folio *folio = page_folio(page);
	XKSM_DEFINE_FOLIO_VMA_WALK(pvmw, folio, vma);
	struct mm_struct *mm = vma->vm_mm;
	struct mmu_notifier_range range;
	bool anon_exclusive, check, mapped;
	int err = -EFAULT;
	pte_t entry;
	int swapped;

	if (WARN_ON_ONCE(folio_test_large(folio)))
		return err;

	pvmw.address = xksm_call(page_address_in_vma)(page, vma);
	if (pvmw.address == -EFAULT)
		return err;

	xksm_mmu_notifier_start(&range, vma, pvmw.address);

	mapped = xksm_call(page_vma_mapped_walk)(&pvmw);
	if (!mapped)
		goto out_mn;
	if (WARN_ONCE(!pvmw.pte, "Unexpected PMD mapping?"))
		goto out_unlock;

	/*
	 * If this anonymous page is mapped only here, its pte may need to be
	 * write-protected.  If it's mapped elsewhere, all of its ptes are
	 * necessarily already write-protected.  But in either case, we need
	 * to lock and check page_count is not raised.
	 */
	anon_exclusive = PageAnonExclusive(page);
	entry = ptep_get(pvmw.pte);
	check = xksm_pte_needs_wrprotect(entry) || anon_exclusive ||
		mm_tlb_flush_pending(mm);
	if (!check && !kpage) {
		err = 0;	/* read-only already, and nothing to replace */
		goto out_unlock;
	}

	swapped = folio_test_swapcache(folio);
	flush_cache_page(vma, pvmw.address, folio_pfn(folio));
	entry = xksm_call(ptep_clear_flush)(vma, pvmw.address, pvmw.pte);
	if (check) {
		/* Check that no O_DIRECT or similar I/O is in flight. */
		if (xksm_mapcount(page) + 1 + swapped != folio_ref_count(folio))
			goto restore;
		/* See folio_try_share_anon_rmap_pte(): clear PTE first. */
		if (anon_exclusive && xksm_try_share_anon_rmap(page))
			goto restore;
	}
	if (pte_dirty(entry))
		folio_mark_dirty(folio);
	entry = xksm_pte_wrprotect_clean(entry);

	if (!kpage) {
		/*
		 * No need to notify: the pte is only downgraded to read-only,
		 * still pointing to the same page.
		 */
		xksm_set_pte_notify(mm, pvmw.address, pvmw.pte, entry);
		err = 0;
		goto out_unlock;
	}
	if (xksm_pages_identical(page, kpage)) {
		install_kpage(vma, pvmw.address, pvmw.pte, page, kpage);
		err = 0;
		goto out_unlock;
	}
restore:
	set_pte_at(mm, pvmw.address, pvmw.pte, entry);
out_unlock:
	page_vma_mapped_walk_done(&pvmw);
out_mn:
	xksm_mmu_notifier_end(&range);
	return err;
}

/*
 * Merge @page (mapped by @vma) into @kpage, a KSM page or the zero page; or,
 * with @kpage NULL, make @page itself a KSM page (its stable node is set
 * later by xksm_stable_tree_insert()).  Returns 0 or -EFAULT.
 *
 * On success *@anon_vmap (if asked for) holds a reference on the anon_vma
 * @page had before the merge: the oldest of its mappings', whose tree holds
 * every vma that maps it (rmap_item.c).  NULL if @page already was @kpage.
 */
static int try_to_merge_one_page(struct vm_area_struct *vma, struct page *page,
				 struct page *kpage,
				 struct anon_vma **anon_vmap)
{
	struct anon_vma *anon_vma = NULL;
	int err = -EFAULT;
	bool protected;
	u64 t;

	if (anon_vmap)
		*anon_vmap = NULL;
	if (page == kpage)			/* ksm page forked */
		return 0;

	if (!PageAnon(page))
		return err;

	/*
	 * We need the page lock to read a stable swapcache flag in
	 * merge_pte().  trylock: rather than wait, scan on and come
	 * back to this page when it is unlocked.
	 */
	if (!trylock_page(page))
		return err;

	if (PageTransCompound(page)) {
		if (xksm_split_huge_page(page))
			goto out_unlock;
	}

	/*
	 * The page is locked and mapped by @vma (whose mm's mmap_lock is
	 * held): its anon_vma cannot change or go now.  Take it before the
	 * page becomes a KSM page, or is replaced by one, and loses it.
	 */
	if (anon_vmap) {
		anon_vma = xksm_call(folio_get_anon_vma)(page_folio(page));
		if (!anon_vma)
			goto out_unlock;
	}

	if (kpage) {
		t = xksm_prof_begin();
		err = merge_pte(vma, page, kpage);
		xksm_prof_end(XKSM_PH_REPLACE, t);
		goto out_unlock;
	}

	t = xksm_prof_begin();
	protected = !merge_pte(vma, page, NULL);
	xksm_prof_end(XKSM_PH_WRPROTECT, t);
	if (protected) {
		/*
		 * While we hold the page lock, upgrade the page from
		 * PageAnon+anon_vma to PageKsm with a NULL stable node:
		 * xksm_stable_tree_insert() sets the node.
		 */
		page_folio(page)->mapping = (void *)PAGE_MAPPING_KSM;
		mark_page_accessed(page);
		/*
		 * Page reclaim just frees a clean page with no dirty ptes:
		 * make sure that the ksm page would be swapped.
		 */
		if (!PageDirty(page))
			SetPageDirty(page);
		err = 0;
	}

out_unlock:
	unlock_page(page);
	if (anon_vma) {
		if (err)
			xksm_put_anon_vma(anon_vma);
		else
			*anon_vmap = anon_vma;
	}
	return err;
}

/*
 * An empty page (@hash, its unsalted key, is the zero page's): merge it
 * with the zero page, if use_zero_pages, and merge domains let every
 * domain share it (domain.c).  Returns 0 if merged, 1 if there is nothing
 * to do (the address is no longer mergeable), -EFAULT if it could not be
 * merged.
 */
static int try_to_merge_with_zero_page(struct xksm_rmap_item *rmap_item,
				       struct page *page, u64 hash)
{
	struct mm_struct *mm = rmap_item->mm;
	unsigned long addr = rmap_item->address & PAGE_MASK;
	struct vm_area_struct *vma;
	int err = -EFAULT;

	if (hash != xksm_zero_key || !xksm_zero_page_allowed())
		return err;

	mmap_read_lock(mm);
	vma = xksm_find_mergeable_vma(mm, addr);
	if (vma) {
		err = try_to_merge_one_page(vma, page, ZERO_PAGE(addr), NULL);
		trace_xksm_merge_one_page(page_to_pfn(ZERO_PAGE(addr)),
					  rmap_item, mm, addr, err);
	} else {
		err = 1;
	}
	mmap_read_unlock(mm);

	if (!err) {
		struct xksm_mm_slot *slot = xksm_get_mm_slot(mm);

		rmap_item->address |= XKSM_ZERO_FLAG;
		if (slot)
			slot->zero_pages++;
		atomic_long_inc(&xksm_zero_pages);
	}
	return err;
}

/*
 * Merge the rmap_item's page into @kpage (NULL: make it a KSM page).  On
 * success the rmap_item, out of the unstable tree, is ready for
 * xksm_stable_tree_append(): either it holds a reference on the anon_vma
 * in which the kernel is to search for its mapping, or it is covered by
 * the search of an rmap_item already on @kpage's node (rmap_item.c).
 * Returns 0 or -EFAULT.
 */
static int try_to_merge_with_ksm_page(struct xksm_rmap_item *rmap_item,
				      struct page *page, struct page *kpage)
{
	unsigned long addr = rmap_item->address & PAGE_MASK;
	struct mm_struct *mm = rmap_item->mm;
	struct xksm_stable_node *stable_node;
	struct anon_vma *anon_vma;
	struct vm_area_struct *vma;
	int err = -EFAULT;

	mmap_read_lock(mm);
	vma = xksm_find_mergeable_vma(mm, addr);
	if (!vma)
		goto out;

	err = try_to_merge_one_page(vma, page, kpage, &anon_vma);
	trace_xksm_merge_one_page(page_to_pfn(kpage ? kpage : page), rmap_item,
				  mm, addr, err);
	if (err)
		goto out;

	/* Unstable nid is in union with stable anon_vma: remove first */
	xksm_remove_rmap_item_from_tree(rmap_item);

	stable_node = kpage ? xksm_folio_stable_node(page_folio(kpage)) : NULL;
	if (stable_node && xksm_rmap_item_covered_by(stable_node, vma, addr)) {
		if (anon_vma)
			xksm_put_anon_vma(anon_vma);
		rmap_item->anon_vma = NULL;
		rmap_item->address |= XKSM_COVERED_FLAG;
	} else {
		/*
		 * A forked KSM page has no anon_vma of its own any more: the
		 * vma's leads to this mapping (and to its mm's forks).  Take
		 * it while still holding mmap_lock.
		 */
		if (!anon_vma) {
			anon_vma = vma->anon_vma;
			get_anon_vma(anon_vma);
		}
		rmap_item->anon_vma = anon_vma;
	}
out:
	mmap_read_unlock(mm);
	trace_xksm_merge_with_ksm_page(page_to_pfn(kpage ? kpage : page),
				       page_to_pfn(page), rmap_item, mm, addr,
				       err);
	return err;
}

/*
 * Merge two identical pages into a new KSM page: @page becomes it, and
 * @tree_page is replaced by it.  Returns the KSM page, or NULL.
 */
static struct page *try_to_merge_two_pages(struct xksm_rmap_item *rmap_item,
					   struct page *page,
					   struct xksm_rmap_item *tree_rmap_item,
					   struct page *tree_page)
{
	int err;

	err = try_to_merge_with_ksm_page(rmap_item, page, NULL);
	if (!err) {
		err = try_to_merge_with_ksm_page(tree_rmap_item, tree_page, page);
		/*
		 * If that fails, we have a ksm page with only one pte
		 * pointing to it: so break it.
		 */
		if (err)
			xksm_break_cow(rmap_item);
	}
	return err ? NULL : page;
}

/**
 * xksm_adopt_ksm_page - a route to a KSM page found where none leads
 * @page: a KSM page found outside the registered ranges (a reference held)
 * @rmap_item: the rmap_item for its address, new or left from before
 *
 * xksm merged the page elsewhere, and mremap() moved it here: the kernel
 * moves xksm's KSM pages as they are (move_vma() unmerges only the pages of
 * its own KSM).  The rmap_item made where it was merged now leads nowhere,
 * so the kernel's rmap walk would miss this mapping: migration and reclaim
 * of the page would fail while it stays mapped here.  Give it a route, as
 * for a KSM page forked (the vma's anon_vma leads here: mremap() links the
 * moved vma into the same anon_vmas).  Nothing is merged.
 */
void xksm_adopt_ksm_page(struct page *page, struct xksm_rmap_item *rmap_item)
{
	unsigned long addr = rmap_item->address & PAGE_MASK;
	struct mm_struct *mm = rmap_item->mm;
	struct folio *folio = page_folio(page);
	struct xksm_stable_node *stable_node;
	struct vm_area_struct *vma;
	pte_t pte;

	lockdep_assert_held(&xksm_thread_mutex);
	mmap_read_lock(mm);
	vma = xksm_test_exit(mm) ? NULL : vma_lookup(mm, addr);
	if (!vma || !vma->anon_vma || !xksm_vma_compatible(vma))
		goto out;
	/* The walk dropped the page table lock: is the page still here? */
	if (!xksm_read_pte(mm, addr, &pte) || !pte_present(pte) ||
	    pte_pfn(pte) != page_to_pfn(page))
		goto out;

	/* The page lock keeps it a KSM page, and its node's list still. */
	folio_lock(folio);
	stable_node = xksm_folio_stable_node(folio);
	if (!stable_node || rmap_item->head == stable_node)
		goto out_unlock;
	xksm_remove_rmap_item_from_tree(rmap_item);
	/* A route finds it after all (xksm_scan_result() looked first). */
	if (xksm_rmap_item_covered_by(stable_node, vma, addr))
		goto out_unlock;
	rmap_item->anon_vma = vma->anon_vma;
	get_anon_vma(vma->anon_vma);
	/* Mapped already: the sharing limit does not apply. */
	xksm_stable_tree_append(rmap_item, stable_node, true);
	trace_xksm_merge_with_ksm_page(page_to_pfn(page), page_to_pfn(page),
				       rmap_item, mm, addr, 0);
out_unlock:
	folio_unlock(folio);
out:
	mmap_read_unlock(mm);
}

/*
 * Merge @page into @kpage, the KSM page xksm_stable_tree_search() found for
 * it (its reference is dropped here), and list its rmap_item on the node.
 * Returns 0 if merged.
 */
static int merge_with_stable_match(struct xksm_rmap_item *rmap_item,
				   struct page *page, struct page *kpage,
				   bool max_page_sharing_bypass)
{
	int err;
	u64 t;

	t = xksm_prof_begin();
	err = try_to_merge_with_ksm_page(rmap_item, page, kpage);
	xksm_prof_end(XKSM_PH_MERGE_KSM, t);
	if (!err) {
		/*
		 * The page was successfully merged: add its rmap_item to the
		 * stable tree.
		 */
		t = xksm_prof_begin();
		lock_page(kpage);
		xksm_stable_tree_append(rmap_item,
					xksm_folio_stable_node(page_folio(kpage)),
					max_page_sharing_bypass);
		unlock_page(kpage);
		xksm_prof_end(XKSM_PH_STABLE_ADD, t);
	}
	put_page(kpage);
	return err;
}

/**
 * xksm_cmp_and_merge_page - the heart of a scan step
 * @page: the page at the rmap_item's address (a reference held)
 * @rmap_item: its rmap_item
 * @salt: the salt of its mm's merge domain (domain.c), mixed into its key
 *
 * First see if the page can be merged into the stable tree; if not, compare
 * its checksum to the last one and, if it is unchanged, see if it can be
 * inserted into the unstable tree, or merged with a page already there and
 * both moved to the stable tree.
 */
void xksm_cmp_and_merge_page(struct page *page, struct xksm_rmap_item *rmap_item,
			     u64 salt)
{
	struct xksm_rmap_item *tree_rmap_item;
	bool max_page_sharing_bypass = false;
	struct xksm_stable_node *stable_node;
	struct page *tree_page = NULL;
	u64 hash, key = 0, prev_key = 0;
	bool prev_matched = false;
	struct page *kpage;
	u64 t;

	lockdep_assert_held(&xksm_thread_mutex);
	stable_node = xksm_folio_stable_node(page_folio(page));
	if (stable_node) {
		if (stable_node->head != &xksm_migrate_nodes &&
		    xksm_get_kpfn_nid(READ_ONCE(stable_node->kpfn)) !=
		    stable_node->nid)
			/* Migrated to another node: re-place it. */
			xksm_stable_node_to_migrate_list(stable_node);
		if (stable_node->head != &xksm_migrate_nodes &&
		    rmap_item->head == stable_node)
			return;
		/*
		 * A mapping new to the node (forked, or moved by mremap())
		 * must be in the page's merge domain: the page's key says
		 * which (xor of the salts: a dup's key is its chain's).  A
		 * child forked as its parent moved to another domain (after
		 * dup_mmap(), before the fork probe: fork.c) maps the old
		 * domain's page: copy it back now.
		 */
		if (salt && rmap_item->head != stable_node &&
		    (xksm_page_key(page) ^ salt) != stable_node->key) {
			xksm_remove_rmap_item_from_tree(rmap_item);
			xksm_break_rmap_item(rmap_item);
			return;
		}
		/* A KSM fork may go over the sharing limit without warnings. */
		if (!xksm_is_page_sharing_candidate(stable_node))
			max_page_sharing_bypass = true;
		/*
		 * Only a node to re-place searches the tree, by its key:
		 * every mm mapping a KSM page is in the domain it was
		 * merged in (domain.c), so this one's salt is the node's.
		 */
		if (stable_node->head == &xksm_migrate_nodes)
			key = xksm_page_key(page) ^ salt;
	} else {
		xksm_remove_rmap_item_from_tree(rmap_item);

		/*
		 * A KSM page of no stable node: a merge undone whose copy
		 * back failed (xksm_break_cow() out of memory).  Nothing can
		 * merge it (merge_pte() finds no anon_vma) nor find
		 * it: copy it back now, and merge it on a later pass.
		 */
		if (PageKsm(page)) {
			xksm_break_rmap_item(rmap_item);
			return;
		}

		/*
		 * Mainline 6.1 searches the stable tree before it checksums
		 * the page, so that a page merging into a KSM page costs no
		 * checksum (6.12 checksums first).  xksm's search needs the
		 * page's key, a hash as dear as the checksum; but a page
		 * unchanged since the last pass still has the key it had
		 * then, which its rmap_item kept: try that first.  If the page changed since, the
		 * merge's memcmp() says so (a key is only ever a hint), and
		 * the page is hashed as usual.  Only in domain 0 (salt 0,
		 * merge_scope "all"): elsewhere a key kept from before a
		 * change of scope may be salted for another domain.  0: no
		 * key kept, or not searched with.
		 */
		prev_key = salt ? 0 : xksm_rmap_item_key(rmap_item);
		if (prev_key) {
			t = xksm_prof_begin();
			kpage = xksm_stable_tree_search(page, prev_key);
			xksm_prof_end(XKSM_PH_STABLE, t);
			if (PTR_ERR(kpage) == -EBUSY)
				return;
			if (kpage) {
				if (!merge_with_stable_match(rmap_item, page,
							     kpage, false))
					return;
				prev_matched = true;
			}
		}

		/*
		 * If the page's key (its checksum) has changed since the last
		 * time, this page is changing frequently: don't insert it in
		 * the unstable tree, nor waste time searching for something
		 * identical to it there.  The low half is kept from pass to
		 * pass, as mainline's 32-bit checksum; the whole key too, for
		 * the search above.
		 */
		t = xksm_prof_begin();
		hash = xksm_page_key(page);
		xksm_prof_end(XKSM_PH_HASH, t);
		key = hash ^ salt;
		if (rmap_item->oldchecksum != (u32)key) {
			xksm_rmap_item_set_key(rmap_item, key);
			return;
		}
		/*
		 * Unchanged, and a KSM page has its bytes, but the merge
		 * failed (the page was locked, or pinned): try again next
		 * pass, as mainline does; not the unstable tree.
		 */
		if (prev_matched && key == prev_key)
			return;

		if (try_to_merge_with_zero_page(rmap_item, page, hash) >= 0)
			return;
	}

	/* We first start with searching the page inside the stable tree */
	if (prev_key && key == prev_key) {
		kpage = NULL;	/* searched for above */
	} else {
		t = xksm_prof_begin();
		kpage = xksm_stable_tree_search(page, key);
		xksm_prof_end(XKSM_PH_STABLE, t);
	}
	if (kpage == page && rmap_item->head == stable_node) {
		put_page(kpage);
		return;
	}

	xksm_remove_rmap_item_from_tree(rmap_item);

	if (kpage) {
		if (PTR_ERR(kpage) != -EBUSY)
			merge_with_stable_match(rmap_item, page, kpage,
						max_page_sharing_bypass);
		return;
	}

	t = xksm_prof_begin();
	tree_rmap_item = xksm_unstable_tree_search_insert(rmap_item, page, key,
							   salt, &tree_page);
	xksm_prof_end(XKSM_PH_UNSTABLE, t);
	if (tree_rmap_item) {
		bool split;

		t = xksm_prof_begin();
		kpage = try_to_merge_two_pages(rmap_item, page, tree_rmap_item,
					       tree_page);
		xksm_prof_end(XKSM_PH_MERGE_TWO, t);
		/*
		 * If both pages belong to the same compound page, the
		 * reference count was raised twice and split_huge_page()
		 * failed: note it, to split again once the reference is
		 * dropped.
		 */
		split = PageTransCompound(page) &&
			compound_head(page) == compound_head(tree_page);
		put_page(tree_page);
		if (kpage) {
			/*
			 * The pages were successfully merged: insert a new
			 * node in the stable tree and add both rmap_items.
			 */
			t = xksm_prof_begin();
			lock_page(kpage);
			stable_node = xksm_stable_tree_insert(page_folio(kpage),
							      key);
			if (stable_node) {
				xksm_stable_tree_append(tree_rmap_item,
							stable_node, false);
				xksm_stable_tree_append(rmap_item, stable_node,
							false);
			}
			unlock_page(kpage);
			xksm_prof_end(XKSM_PH_STABLE_ADD, t);

			/*
			 * If the page could not go into the stable tree, two
			 * addresses map a KSM page outside it: break both.
			 */
			if (!stable_node) {
				xksm_break_cow(tree_rmap_item);
				xksm_break_cow(rmap_item);
			}
		} else if (split) {
			/*
			 * Both pages belonged to one compound page: split it
			 * now, and merge on a later pass.  Not worth waiting
			 * for the lock.
			 */
			if (!trylock_page(page))
				return;
			xksm_split_huge_page(page);
			unlock_page(page);
		}
	}
}

/*
 * Copy back every page xksm merged in [start, end) of @vma: every KSM page
 * (the kernel's own KSM never maps its pages where xksm merges), and the
 * zero pages this mm's rmap_items recorded as merged.  mmap_lock held, and
 * xksm_thread_mutex (for the rmap_list).  A @slot of NULL is a child that
 * has no rmap_items yet (xksm_unmerge_vmas()): only its KSM pages.
 */
int xksm_unmerge_range(struct xksm_mm_slot *slot, struct vm_area_struct *vma,
		       unsigned long start, unsigned long end)
{
	struct xksm_rmap_item *rmap_item = NULL;
	struct xksm_walk_result res;
	unsigned long addr = start;
	int err = 0;

	if (slot) {
		lockdep_assert_held(&xksm_thread_mutex);
		rmap_item = slot->rmap_list;
	}
	mmap_assert_locked(vma->vm_mm);
	while (addr < end && !err) {
		bool zero = false;

		if (xksm_test_exit(vma->vm_mm))
			break;
		if (fatal_signal_pending(current))
			return -EINTR;
		if (!xksm_walk_next(vma, addr, end, &res))
			break;
		addr = res.addr;
		if (res.zero) {
			/* Only the zero pages xksm put there. */
			while (rmap_item && (rmap_item->address & PAGE_MASK) < addr)
				rmap_item = rmap_item->rmap_list;
			zero = rmap_item &&
			       (rmap_item->address & PAGE_MASK) == addr &&
			       (rmap_item->address & XKSM_ZERO_FLAG);
		}
		if (!res.zero || zero)
			err = xksm_break_ksm(vma, addr, zero);
		addr += PAGE_SIZE;
	}
	return err;
}

/*
 * Copy back every page xksm merged anywhere in @mm (xksm_unmerge_range()
 * on each vma; a @slot of NULL as there): only in vmas xksm may merge, the
 * kernel's KSM keeps its pages in the others.  Stops at the first error.
 * mmap_lock held.
 */
int xksm_unmerge_vmas(struct xksm_mm_slot *slot, struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	int err;

	VMA_ITERATOR(vmi, mm, 0);

	mmap_assert_locked(mm);
	for_each_vma(vmi, vma) {
		if (!vma->anon_vma || !xksm_vma_compatible(vma))
			continue;
		err = xksm_unmerge_range(slot, vma, vma->vm_start, vma->vm_end);
		if (err)
			return err;
	}
	return 0;
}
