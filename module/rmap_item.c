// SPDX-License-Identifier: GPL-2.0
/*
 * rmap_item.c - the lifecycle of rmap_items.
 *
 * Each page xksmd has looked at has an rmap_item, listed in its mm_slot's
 * rmap_list in address order.  An rmap_item is in one of three states,
 * told by the flags in the low bits of its address:
 *
 *   none		seen, with a checksum to compare on the next pass
 *   XKSM_UNSTABLE_FLAG	a node of this pass's unstable tree
 *   XKSM_STABLE_FLAG	one mapping of a KSM page: listed on the page's
 *			stable node, holding a reference on its anon_vma
 *
 * (XKSM_ZERO_FLAG marks one whose page was merged with the zero page; it
 * combines with none of the others.)
 *
 * The scan walks each rmap_list in step with the page tables: items for
 * addresses that no longer hold a page are removed as the cursor passes
 * them (xksm_get_next_rmap_item()), and everything after the last page at
 * the end of a pass (xksm_remove_trailing_rmap_items()).
 *
 * Everything here runs under xksm_thread_mutex.
 */

#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>

#include "xksm.h"
#include "compat.h"

static struct kmem_cache *xksm_rmap_item_cache;

/* Number of rmap_items in existence (the metadata xksm spends). */
unsigned long xksm_rmap_items;

static struct xksm_rmap_item *xksm_alloc_rmap_item(void)
{
	struct xksm_rmap_item *rmap_item;

	rmap_item = kmem_cache_zalloc(xksm_rmap_item_cache, GFP_KERNEL |
				      __GFP_NORETRY | __GFP_NOWARN);
	if (rmap_item)
		xksm_rmap_items++;
	return rmap_item;
}

static void xksm_free_rmap_item(struct xksm_rmap_item *rmap_item,
				struct xksm_mm_slot *slot)
{
	xksm_rmap_items--;
	slot->rmap_items--;
	rmap_item->mm = NULL;	/* debug safety */
	kmem_cache_free(xksm_rmap_item_cache, rmap_item);
}

/*
 * Take an rmap_item out of whichever tree it is in, back to state none.
 */
void xksm_remove_rmap_item_from_tree(struct xksm_rmap_item *rmap_item)
{
	lockdep_assert_held(&xksm_thread_mutex);

	if (rmap_item->address & XKSM_STABLE_FLAG) {
		struct xksm_stable_node *stable_node = rmap_item->head;
		struct xksm_mm_slot *slot;
		struct folio *folio;

		folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_LOCK);
		if (!folio)	/* the node went stale, and took us off */
			goto out;

		/*
		 * Unlink under the page lock: the kernel's rmap walk, which
		 * holds it, must not see the list change under it.
		 */
		hlist_del(&rmap_item->hlist);
		folio_unlock(folio);
		folio_put(folio);

		if (!hlist_empty(&stable_node->hlist))
			xksm_pages_sharing--;
		else
			xksm_pages_shared--;
		slot = xksm_get_mm_slot(rmap_item->mm);
		if (slot)
			slot->merging_pages--;

		WARN_ON_ONCE(stable_node->rmap_hlist_len <= 0);
		stable_node->rmap_hlist_len--;

		xksm_put_anon_vma(rmap_item->anon_vma);
		rmap_item->head = NULL;
		rmap_item->address &= PAGE_MASK;

	} else if (rmap_item->address & XKSM_UNSTABLE_FLAG) {
		unsigned char age;

		/*
		 * Usually xksmd can and must skip the rb_erase, because the
		 * unstable tree was already reset to empty.  But be careful
		 * when an mm is exiting: do the rb_erase if this rmap_item
		 * was inserted by this scan, rather than left over from
		 * before.
		 */
		age = (unsigned char)(xksm_scan.seqnr - rmap_item->address);
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
out:
	cond_resched();		/* we're called from many long loops */
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
		xksm_remove_rmap_item_from_tree(rmap_item);
		xksm_free_rmap_item(rmap_item, slot);
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
		xksm_remove_rmap_item_from_tree(rmap_item);
		xksm_free_rmap_item(rmap_item, slot);
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
		xksm_remove_rmap_item_from_tree(rmap_item);
		xksm_free_rmap_item(rmap_item, slot);
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

	rmap_item = xksm_find_rmap_item(slot, rmap_list, addr);
	if (rmap_item)
		return rmap_item;

	rmap_item = xksm_alloc_rmap_item();
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

int xksm_rmap_item_init(void)
{
	xksm_rmap_item_cache = KMEM_CACHE(xksm_rmap_item, 0);
	return xksm_rmap_item_cache ? 0 : -ENOMEM;
}

void xksm_rmap_item_exit(void)
{
	kmem_cache_destroy(xksm_rmap_item_cache);
}
