// SPDX-License-Identifier: GPL-2.0
/*
 * rmap_item.c - the lifecycle of rmap_items, and deferred reaping.
 *
 * Each page xksmd has looked at has an rmap_item, listed in its mm_slot's
 * rmap_list in address order.  An rmap_item is in one of these states,
 * told by the flags in the low bits of its address:
 *
 *   none		seen, with a checksum to compare on the next pass
 *   XKSM_UNSTABLE_FLAG	a node of this pass's unstable tree
 *   XKSM_STABLE_FLAG	one mapping of a KSM page, on the page's stable
 *			node: on its hlist, holding a reference on an
 *			anon_vma the kernel's rmap walk searches; or, with
 *			XKSM_COVERED_FLAG, on its covered list (below)
 *   XKSM_ZERO_FLAG	its page was merged with the zero page
 *   XKSM_DEFERRED_FLAG	off its slot, on the reap list (below)
 *
 * The scan walks each rmap_list in step with the page tables: items for
 * addresses that no longer hold a page are removed as the cursor passes
 * them (xksm_find_rmap_item()), and everything after the last page at the
 * end of a pass (xksm_remove_trailing_rmap_items()).
 *
 * Routes.  The kernel finds the ptes of a KSM page by searching, for each
 * rmap_item on the node's hlist, the tree of vmas of its anon_vma at its
 * address: first in its own mm, then in any other (mms forked since).  An
 * rmap_item is therefore a route to every pte of the page at that address
 * in any vma of that tree, not only to its own.  Three rules follow.
 *
 * 1. The anon_vma of a stable rmap_item is the page's own, taken under the
 *    page lock before the merge, as it was the oldest: its tree holds every
 *    vma that maps the page, forks included.  (Mainline takes the vma's
 *    anon_vma, the youngest, and misses the page's mappings in the mm the
 *    vma was forked from.)  Only a page that already is a KSM page (a
 *    forked one) gets the vma's.
 *
 * 2. Deferred reaping.  An rmap_item may be the only route to ptes of other
 *    mms: children forked after the merge that xksm never scanned (not
 *    registered, or not yet).  So when a stable rmap_item leaves (its mm
 *    exited, its range was unregistered or unmapped, its page was CoWed)
 *    while its page is still mapped or in the swapcache, the route stays:
 *    the rmap_item itself (or a copy, when the item stays for the new page
 *    at its address) remains on the node's hlist, flagged deferred, keeping
 *    its anon_vma reference and an mmgrab() on its mm, on xksm_reap_list.
 *    xksmd frees it once proven unneeded: no vma of its anon_vma's tree
 *    maps the page at its address (nor holds the page's swap entry there),
 *    or the node is gone.  (Mainline frees it at once: reclaim and
 *    migration then fail on those ptes until ksmd scans the children.)
 *
 * 3. One search per route.  A fork duplicates every mapping: its rmap_items
 *    would lead into the same tree at the same address, and every rmap walk
 *    (page_referenced() on each reclaim pass) would search it again, once
 *    per child.  An rmap_item whose mapping a search on the hlist already
 *    finds - an item of the same address whose anon_vma's tree holds the
 *    mapping's vma - is "covered": it goes on the node's covered list, with
 *    no anon_vma, and counts as sharing the page but is never searched.  Its
 *    cover cannot be reaped while the covered mapping still maps the page,
 *    by rule 2.  (The kernel's walk searches each tree over all offsets,
 *    0-ULONG_MAX; that cannot be narrowed from a module, so this is where a
 *    module can save.)
 *
 * Everything here runs under xksm_thread_mutex.  The node's lists change
 * with its page locked, as the kernel's rmap walk holds that lock.
 */

#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "xksm.h"
#include "compat.h"
#include "profile.h"
#include "trace.h"

static struct kmem_cache *xksm_rmap_item_cache;

/* Number of rmap_items in existence (the metadata xksm spends). */
unsigned long xksm_rmap_items;

/*
 * Deferred rmap_items, linked through @rmap_list, and their number; under
 * xksm_thread_mutex.
 */
static struct xksm_rmap_item *xksm_reap_list;
unsigned long xksm_rmap_items_deferred;

/* Routes dropped because no copy could be allocated to defer them. */
unsigned long xksm_routes_lost;

/* Rule 3 above; switched off only to measure what it saves. */
bool xksm_dedup_routes = true;
module_param_named(dedup_routes, xksm_dedup_routes, bool, 0644);
MODULE_PARM_DESC(dedup_routes,
		 "list mappings that another rmap_item's search finds as covered (default Y)");

/*
 * Spare rmap_items, zeroed, for the pages new to xksmd in its next chunk:
 * xksm_refill_spare_rmap_items() makes them in one kmem_cache_alloc_bulk()
 * before xksmd takes an mmap_lock, xksm_get_next_rmap_item() takes them.
 * Mainline allocates each rmap_item on its own, under the mmap_lock; this
 * way a new page costs no call into the allocator under the lock, and the
 * allocator is entered once a chunk, not once a page: on a first pass,
 * where every page is new, that was a third of xksmd's time in the guests,
 * whose slab debugging records a stack trace at every call.  They are not
 * counted in xksm_rmap_items (nothing uses them yet).
 *
 * Spares are made only where pages are new: after a refill, only once a
 * new page has taken one (or had to be allocated on its own, when none
 * was left).  A pass that met no new page frees them at its end, so a
 * scanner in steady state keeps none, and its metadata is the rmap_items
 * it uses.  They are also freed when xksmd has nothing to scan (scan.c),
 * by run=2, and at unload.  All of it under xksm_thread_mutex.
 */
static void *xksm_spare_rmap_items[XKSM_SPARE_RMAP_ITEMS];
unsigned int xksm_nr_spare_rmap_items;
/* A new page met since the spares were last refilled or freed. */
static bool xksm_spares_wanted = true;
/* A new page met in this pass. */
static bool xksm_pass_met_new_page;

void xksm_refill_spare_rmap_items(void)
{
	unsigned int nr = xksm_nr_spare_rmap_items, got;
	u64 t;

	lockdep_assert_held(&xksm_thread_mutex);
	if (!xksm_spares_wanted || nr > XKSM_SPARE_RMAP_ITEMS / 2)
		return;
	t = xksm_prof_begin();
	got = kmem_cache_alloc_bulk(xksm_rmap_item_cache,
				    GFP_KERNEL | __GFP_ZERO | __GFP_NORETRY |
				    __GFP_NOWARN, XKSM_SPARE_RMAP_ITEMS - nr,
				    xksm_spare_rmap_items + nr);
	xksm_prof_end_n(XKSM_PH_ALLOC, t, got);
	xksm_nr_spare_rmap_items = nr + got;
	xksm_spares_wanted = false;
}

static void __xksm_drain_spare_rmap_items(void)
{
	kmem_cache_free_bulk(xksm_rmap_item_cache, xksm_nr_spare_rmap_items,
			     xksm_spare_rmap_items);
	xksm_nr_spare_rmap_items = 0;
	xksm_spares_wanted = false;
}

void xksm_drain_spare_rmap_items(void)
{
	lockdep_assert_held(&xksm_thread_mutex);
	__xksm_drain_spare_rmap_items();
}

/* The end of a full scan: keep spares only while passes meet new pages. */
void xksm_spare_rmap_items_pass_end(void)
{
	lockdep_assert_held(&xksm_thread_mutex);
	if (!xksm_pass_met_new_page)
		__xksm_drain_spare_rmap_items();
	xksm_pass_met_new_page = false;
}

static struct xksm_rmap_item *xksm_alloc_rmap_item(gfp_t gfp)
{
	struct xksm_rmap_item *rmap_item;

	rmap_item = kmem_cache_zalloc(xksm_rmap_item_cache, gfp | __GFP_NOWARN);
	if (rmap_item)
		xksm_rmap_items++;
	return rmap_item;
}

static void __xksm_free_rmap_item(struct xksm_rmap_item *rmap_item)
{
	xksm_rmap_items--;
	rmap_item->mm = NULL;	/* debug safety */
	kmem_cache_free(xksm_rmap_item_cache, rmap_item);
}

static void xksm_free_rmap_item(struct xksm_rmap_item *rmap_item,
				struct xksm_mm_slot *slot)
{
	slot->rmap_items--;
	__xksm_free_rmap_item(rmap_item);
}

/*
 * Whether a KSM page may be mapped, now or when swapped back in: then its
 * routes may be needed.  The page is locked.
 */
static bool xksm_folio_in_use(struct folio *folio)
{
	return folio_mapped(folio) || folio_test_swapcache(folio);
}

/*
 * Whether @mm maps @folio at @addr of @vma, or holds its swap entry there.
 * Under the anon_vma lock, as the kernel's rmap walks: the vma and its page
 * tables stay.
 */
static bool xksm_pte_holds_folio(struct vm_area_struct *vma, unsigned long addr,
				 struct folio *folio)
{
	pte_t pte;

	if (!xksm_read_pte(vma->vm_mm, addr, &pte))
		return false;
	if (pte_present(pte))
		return pte_pfn(pte) == folio_pfn(folio);
	return !pte_none(pte) && folio_test_swapcache(folio) &&
	       xksm_pte_is_swap_of(pte, folio);
}

/*
 * The search a route leads to: the vmas of its anon_vma's tree, in mms
 * other than @skip_mm, that map @folio (locked) at the route's address, or
 * hold its swap entry there.  Counts them, up to @max; with @mms, it keeps
 * those whose mm it could mmget() (an exiting one loses its ptes anyway)
 * and counts only those.
 */
static int xksm_route_search(struct xksm_rmap_item *route, struct folio *folio,
			     struct mm_struct *skip_mm, struct mm_struct **mms,
			     int max)
{
	unsigned long addr = route->address & PAGE_MASK;
	struct anon_vma *anon_vma = route->anon_vma;
	struct anon_vma_chain *vmac;
	int nr = 0;

	anon_vma_lock_read(anon_vma);
	xksm_anon_vma_tree_foreach(vmac, &anon_vma->rb_root, 0, ULONG_MAX) {
		struct vm_area_struct *vma = vmac->vma;

		if (addr < vma->vm_start || addr >= vma->vm_end ||
		    vma->vm_mm == skip_mm)
			continue;
		if (!xksm_pte_holds_folio(vma, addr, folio))
			continue;
		if (mms) {
			if (!mmget_not_zero(vma->vm_mm))
				continue;
			mms[nr] = vma->vm_mm;
		}
		if (++nr == max)
			break;
		cond_resched();
	}
	anon_vma_unlock_read(anon_vma);
	return nr;
}

/* Whether a route still finds @folio in an mm other than @skip_mm. */
static bool xksm_route_finds(struct xksm_rmap_item *route, struct folio *folio,
			     struct mm_struct *skip_mm)
{
	return xksm_route_search(route, folio, skip_mm, NULL, 1);
}

/* Put a route, listed on its node's hlist, on the reap list. */
static void xksm_defer(struct xksm_rmap_item *route)
{
	route->address = (route->address & PAGE_MASK) | XKSM_STABLE_FLAG |
			 XKSM_DEFERRED_FLAG;
	mmgrab(route->mm);
	route->rmap_list = xksm_reap_list;
	xksm_reap_list = route;
	xksm_rmap_items_deferred++;
	trace_xksm_defer_rmap_item(route->head->kpfn, route, route->mm,
				   route->address & PAGE_MASK,
				   xksm_rmap_items_deferred);
}

/*
 * Take a stable rmap_item off its node.  @leaving: the item is to be freed
 * (rather than reused for a new page at its address).  If the page is
 * still in use, the route is deferred: the item itself when @leaving, else
 * a copy in its place.  Returns true if the item itself was deferred.
 * The page lock is taken: the caller holds no mmap_lock of another mm.
 */
static bool xksm_remove_stable(struct xksm_rmap_item *rmap_item, bool leaving)
{
	struct xksm_stable_node *stable_node = rmap_item->head;
	bool covered = rmap_item->address & XKSM_COVERED_FLAG;
	struct anon_vma *put = NULL;
	struct xksm_rmap_item *copy = NULL;
	bool deferred = false;
	struct folio *folio;

	/* Allocate before locking the page: it may be needed. */
	if (!leaving && !covered)
		copy = xksm_alloc_rmap_item(GFP_KERNEL);

	folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_LOCK);
	if (!folio) {
		/* The node went stale, and reset us to state none. */
		if (copy)
			__xksm_free_rmap_item(copy);
		return false;
	}

	/*
	 * The item leaves because its own mapping of the page is gone or
	 * going (CoW, unmerge, munmap, exit): the route is needed if it leads
	 * to the page in another mm.
	 */
	if (covered) {
		hlist_del(&rmap_item->hlist);
	} else if (!xksm_folio_in_use(folio) ||
		   !xksm_route_finds(rmap_item, folio, rmap_item->mm)) {
		hlist_del(&rmap_item->hlist);
		put = rmap_item->anon_vma;
	} else if (leaving) {
		deferred = true;	/* it stays where it is on the hlist */
	} else if (copy) {
		/* The copy takes over the route and the anon_vma reference. */
		copy->anon_vma = rmap_item->anon_vma;
		copy->mm = rmap_item->mm;
		copy->address = rmap_item->address;
		copy->head = stable_node;
		hlist_add_before(&copy->hlist, &rmap_item->hlist);
		hlist_del(&rmap_item->hlist);
		xksm_defer(copy);
		copy = NULL;
	} else {
		/* Out of memory: the route is lost, as mainline loses it. */
		hlist_del(&rmap_item->hlist);
		put = rmap_item->anon_vma;
		xksm_routes_lost++;
	}
	folio_unlock(folio);
	folio_put(folio);

	xksm_stable_node_unaccount(stable_node, rmap_item);
	if (put)
		xksm_put_anon_vma(put);
	if (copy)
		__xksm_free_rmap_item(copy);
	if (deferred) {
		xksm_defer(rmap_item);
	} else {
		rmap_item->head = NULL;
		rmap_item->address &= PAGE_MASK;
	}
	return deferred;
}

/*
 * Take an rmap_item out of whichever tree it is in, back to state none, to
 * be reused for the page now at its address.
 */
void xksm_remove_rmap_item_from_tree(struct xksm_rmap_item *rmap_item)
{
	lockdep_assert_held(&xksm_thread_mutex);

	if (rmap_item->address & XKSM_STABLE_FLAG) {
		xksm_remove_stable(rmap_item, false);
	} else if (rmap_item->address & XKSM_UNSTABLE_FLAG) {
		unsigned char age;

		/*
		 * Usually xksmd can and must skip the rb_erase, because the
		 * unstable tree was already reset to empty.  But be careful
		 * when an mm is exiting: do the rb_erase if this rmap_item
		 * was inserted by this scan, rather than left over from
		 * before.
		 */
		age = (xksm_scan.seqnr - rmap_item->address) & XKSM_SEQNR_MASK;
		WARN_ON_ONCE(age > 1);
		if (!age)
			rb_erase(&rmap_item->node,
				 xksm_root_unstable_tree + rmap_item->nid);
		xksm_pages_unshared--;
		rmap_item->address &= PAGE_MASK;

	} else if (rmap_item->address & XKSM_ZERO_FLAG) {
		struct xksm_mm_slot *slot = xksm_get_mm_slot(rmap_item->mm);

		if (slot)
			slot->zero_pages--;
		atomic_long_dec(&xksm_zero_pages);
		rmap_item->address &= PAGE_MASK;
	}
	cond_resched();		/* we're called from many long loops */
}

/*
 * Forget the zero pages of @slot's mm that are no longer mapped.
 *
 * The kernel's KSM marks its zero ptes dirty, and the fault and zap paths
 * uncount them at once (ksm_might_unmap_zero_page()).  xksm's zero ptes are
 * plain (merge.c), so the kernel cannot tell them from any other zero page,
 * and xksm only learns that one was written to or unmapped when xksmd
 * passes its rmap_item again.  Before an mm's figures are reported, this
 * settles its rmap_items now, so they count as the kernel's would.  (A zero
 * pte that was zapped and faulted in again by a read still counts: the
 * kernel's KSM would not count it.)
 *
 * xksm_thread_mutex held (for the rmap_list and the counters), and the
 * mm's mmap_lock for read.
 */
void xksm_settle_zero_pages(struct xksm_mm_slot *slot)
{
	struct xksm_rmap_item *rmap_item;

	lockdep_assert_held(&xksm_thread_mutex);
	mmap_assert_locked(slot->mm);
	if (!slot->zero_pages)
		return;
	for (rmap_item = slot->rmap_list; rmap_item; rmap_item = rmap_item->rmap_list)
		if (rmap_item->address & XKSM_ZERO_FLAG &&
		    !xksm_maps_zero_page(slot->mm, rmap_item->address & PAGE_MASK))
			xksm_remove_rmap_item_from_tree(rmap_item);
}

/*
 * An rmap_item leaves @slot for good: it is freed, unless it goes on the
 * reap list as the route to its page.  The caller unlinks it.
 */
static void xksm_drop_rmap_item(struct xksm_rmap_item *rmap_item,
				struct xksm_mm_slot *slot)
{
	if ((rmap_item->address & XKSM_STABLE_FLAG) &&
	    xksm_remove_stable(rmap_item, true)) {
		slot->rmap_items--;
		cond_resched();
		return;
	}
	xksm_remove_rmap_item_from_tree(rmap_item);
	xksm_free_rmap_item(rmap_item, slot);
}

/*
 * Free every rmap_item from *@rmap_list to the end of the list: there is no
 * page for them any more.
 */
void xksm_remove_trailing_rmap_items(struct xksm_rmap_item **rmap_list)
{
	struct xksm_mm_slot *slot = NULL;

	while (*rmap_list) {
		struct xksm_rmap_item *rmap_item = *rmap_list;

		if (!slot)
			slot = xksm_get_mm_slot(rmap_item->mm);
		*rmap_list = rmap_item->rmap_list;
		xksm_drop_rmap_item(rmap_item, slot);
	}
}

/*
 * Free the rmap_items of [start, end) of @slot's mm, just unregistered and
 * unmerged, so that the counters are right at once rather than after
 * xksmd's next pass.  xksmd's cursor may point into the list: it is moved
 * to the link before a freed item.
 */
void xksm_remove_rmap_items_range(struct xksm_mm_slot *slot, unsigned long start,
				  unsigned long end)
{
	struct xksm_rmap_item **link = &slot->rmap_list;

	lockdep_assert_held(&xksm_thread_mutex);
	while (*link) {
		struct xksm_rmap_item *rmap_item = *link;
		unsigned long addr = rmap_item->address & PAGE_MASK;

		if (addr >= end)
			break;
		if (addr < start) {
			link = &rmap_item->rmap_list;
			continue;
		}
		*link = rmap_item->rmap_list;
		if (xksm_scan.rmap_list == &rmap_item->rmap_list)
			xksm_scan.rmap_list = link;
		xksm_drop_rmap_item(rmap_item, slot);
	}
}

/*
 * The rmap_item for @addr in @slot's list, at or after *@rmap_list, or
 * NULL; items for lower addresses, whose pages have gone, are freed on the
 * way.
 */
struct xksm_rmap_item *xksm_find_rmap_item(struct xksm_mm_slot *slot,
					   struct xksm_rmap_item **rmap_list,
					   unsigned long addr)
{
	struct xksm_rmap_item *rmap_item;

	lockdep_assert_held(&xksm_thread_mutex);
	while (*rmap_list) {
		rmap_item = *rmap_list;
		if ((rmap_item->address & PAGE_MASK) == addr)
			return rmap_item;
		if (rmap_item->address > addr)
			break;
		*rmap_list = rmap_item->rmap_list;
		xksm_drop_rmap_item(rmap_item, slot);
	}
	return NULL;
}

/*
 * As xksm_find_rmap_item(), but a new rmap_item is made if there is none.
 * Returns NULL when out of memory.
 */
struct xksm_rmap_item *xksm_get_next_rmap_item(struct xksm_mm_slot *slot,
					       struct xksm_rmap_item **rmap_list,
					       unsigned long addr)
{
	struct xksm_rmap_item *rmap_item;
	u64 t;

	rmap_item = xksm_find_rmap_item(slot, rmap_list, addr);
	if (rmap_item)
		return rmap_item;

	xksm_spares_wanted = true;
	xksm_pass_met_new_page = true;
	if (xksm_nr_spare_rmap_items) {
		rmap_item = xksm_spare_rmap_items[--xksm_nr_spare_rmap_items];
		xksm_rmap_items++;
	} else {
		t = xksm_prof_begin();
		rmap_item = xksm_alloc_rmap_item(GFP_KERNEL | __GFP_NORETRY);
		xksm_prof_end(XKSM_PH_ALLOC, t);
	}
	if (rmap_item) {
		/* It has already been zeroed */
		rmap_item->mm = slot->mm;
		slot->rmap_items++;
		rmap_item->address = addr;
		rmap_item->rmap_list = *rmap_list;
		*rmap_list = rmap_item;
	}
	return rmap_item;
}

/*
 * Whether a deferred rmap_item is still needed; if not, it is taken off its
 * node (if any is left), ready to be freed.
 */
static bool xksm_route_needed(struct xksm_rmap_item *route)
{
	struct folio *folio;
	bool needed;

	if (!(route->address & XKSM_STABLE_FLAG))
		return false;	/* its node is gone (remove_node_from_stable_tree) */
	folio = xksm_get_ksm_folio(route->head, XKSM_GET_FOLIO_LOCK);
	if (!folio)
		return false;	/* the node was stale: now it is gone */

	needed = xksm_folio_in_use(folio) && xksm_route_finds(route, folio, NULL);
	if (!needed)
		hlist_del(&route->hlist);
	folio_unlock(folio);
	folio_put(folio);

	if (!needed) {
		xksm_put_anon_vma(route->anon_vma);
		route->head = NULL;
		route->address &= ~XKSM_STABLE_FLAG;
	}
	return needed;
}

static void xksm_free_deferred(struct xksm_rmap_item *route)
{
	trace_xksm_reap_rmap_item(route, route->mm, route->address & PAGE_MASK,
				  xksm_rmap_items_deferred - 1);
	mmdrop(route->mm);
	xksm_rmap_items_deferred--;
	__xksm_free_rmap_item(route);
}

/*
 * Free the deferred rmap_items no pte needs any more: xksmd, at the start
 * of a full pass and when idle (at most once a second, scan.c), and run=2.
 */
void xksm_reap_deferred(void)
{
	struct xksm_rmap_item **link = &xksm_reap_list, *route;

	lockdep_assert_held(&xksm_thread_mutex);
	while ((route = *link)) {
		if (xksm_route_needed(route)) {
			link = &route->rmap_list;
		} else {
			*link = route->rmap_list;
			xksm_free_deferred(route);
		}
		cond_resched();
	}
}

bool xksm_reap_pending(void)
{
	return READ_ONCE(xksm_reap_list);
}

/* The first deferred rmap_item, for debugfs: the rest follow @rmap_list. */
struct xksm_rmap_item *xksm_reap_list_first(void)
{
	lockdep_assert_held(&xksm_thread_mutex);
	return xksm_reap_list;
}

/*
 * Unload: every stable node has been removed or orphaned, which took the
 * deferred rmap_items off them; free them all.
 */
void xksm_reap_all(void)
{
	struct xksm_rmap_item *route;

	lockdep_assert_held(&xksm_thread_mutex);
	while ((route = xksm_reap_list)) {
		xksm_reap_list = route->rmap_list;
		WARN_ON_ONCE(route->address & XKSM_STABLE_FLAG);
		xksm_free_deferred(route);
	}
}

#define XKSM_ROUTE_BATCH	16

/*
 * Break the KSM page of @route where it still maps it, batch by batch.
 * Returns 0, -EINTR or -ENOMEM.
 */
static int xksm_break_route(struct xksm_rmap_item *route)
{
	unsigned long addr = route->address & PAGE_MASK;
	struct mm_struct *mms[XKSM_ROUTE_BATCH];
	int nr, i, err = 0;
	struct folio *folio;

	do {
		if (!(route->address & XKSM_STABLE_FLAG))
			return 0;	/* its node is gone */
		folio = xksm_get_ksm_folio(route->head, XKSM_GET_FOLIO_LOCK);
		if (!folio)
			return 0;
		nr = xksm_route_search(route, folio, NULL, mms,
				       XKSM_ROUTE_BATCH);
		folio_unlock(folio);
		folio_put(folio);

		for (i = 0; i < nr; i++) {
			struct mm_struct *mm = mms[i];
			struct vm_area_struct *vma;

			if (!err && fatal_signal_pending(current))
				err = -EINTR;
			if (!err) {
				mmap_read_lock(mm);
				vma = vma_lookup(mm, addr);
				if (vma && vma->anon_vma)
					err = xksm_break_ksm(vma, addr, false);
				mmap_read_unlock(mm);
			}
			mmput(mm);
		}
	} while (nr == XKSM_ROUTE_BATCH && !err);
	return err;
}

/*
 * run=2 (after unmerging every registered mm), and switching
 * merge_across_nodes: what is still merged is mapped only by mms xksm does
 * not scan, reached through the deferred routes.  Copy those pages back
 * too, then reap.  Returns 0, -EINTR or -ENOMEM.
 */
int xksm_break_deferred(void)
{
	struct xksm_rmap_item *route;
	int err = 0;

	lockdep_assert_held(&xksm_thread_mutex);
	for (route = xksm_reap_list; route && !err; route = route->rmap_list) {
		err = xksm_break_route(route);
		cond_resched();
	}
	xksm_reap_deferred();
	return err;
}

/*
 * Whether @vma's anon_vma is its own alone: @vma was never forked from
 * another mm nor split (its chain holds only its anon_vma), and its mm
 * never forked it (that anon_vma, a root, has no child anon_vma and no
 * other vma).
 * A route that finds such a mapping goes through that anon_vma at the
 * mapping's address: the mm's own rmap_item there, or a deferred one of a
 * forked child that has exited since.  Then xksm_rmap_item_covered_by()
 * need not walk the stable node's list (merging pages of unrelated
 * processes into one KSM page was O(n) in the mappings it had already).
 *
 * Read without the anon_vma lock: the chain and the counts change under
 * the mmap_lock for write (fork, vma split, merge, move), which the
 * caller's mmap_lock excludes, but for num_children falling as a child
 * exits.  Either answer is safe: true only gives the mapping a route of
 * its own, as dedup_routes=N does.
 */
static bool xksm_anon_vma_unshared(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	/* A root counts itself among its children (__anon_vma_prepare()). */
	return anon_vma && anon_vma->root == anon_vma &&
	       list_is_singular(&vma->anon_vma_chain) &&
	       READ_ONCE(anon_vma->num_children) == 1 &&
	       READ_ONCE(anon_vma->num_active_vmas) == 1;
}

/**
 * xksm_rmap_item_covered_by - whether a mapping is found without a route
 * @stable_node: the KSM page's node
 * @vma: the vma that maps the page, mmap_lock held (its anon_vma chain is
 *	stable under it)
 * @addr: where
 *
 * True if a search listed on @stable_node's hlist, live or deferred, finds
 * the mapping: same address, and an anon_vma whose tree holds @vma.
 */
bool xksm_rmap_item_covered_by(struct xksm_stable_node *stable_node,
			       struct vm_area_struct *vma, unsigned long addr)
{
	struct xksm_rmap_item *route;
	struct anon_vma_chain *avc;

	lockdep_assert_held(&xksm_thread_mutex);
	mmap_assert_locked(vma->vm_mm);
	if (!READ_ONCE(xksm_dedup_routes))
		return false;
	if (xksm_anon_vma_unshared(vma))
		return false;
	hlist_for_each_entry(route, &stable_node->hlist, hlist) {
		if ((route->address & PAGE_MASK) != addr)
			continue;
		list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
			if (avc->anon_vma == route->anon_vma)
				return true;
	}
	return false;
}

int xksm_rmap_item_init(void)
{
	xksm_rmap_item_cache = KMEM_CACHE(xksm_rmap_item, 0);
	return xksm_rmap_item_cache ? 0 : -ENOMEM;
}

void xksm_rmap_item_exit(void)
{
	WARN_ON_ONCE(xksm_reap_list);
	__xksm_drain_spare_rmap_items();
	kmem_cache_destroy(xksm_rmap_item_cache);
}
