// SPDX-License-Identifier: GPL-2.0
/*
 * scan.c - xksmd, the scanner thread, and its cursor.
 *
 * xksmd wakes every sleep_millisecs, takes xksm_thread_mutex, and looks at
 * pages_to_scan pages: the next registered pages after its cursor
 * (xksm_scan), mm by mm in the order of the slot list, address by address
 * in each mm.  A pass over every registered mm is a full scan.
 *
 * Besides finding the next page, the cursor keeps each mm's rmap_list in
 * step with the page tables (rmap_item.c), notices exited mms and slots
 * with nothing registered any more, and frees them.
 *
 * The scan_time advisor (advisor_mode "scan-time", mainline 6.7's) tunes
 * pages_to_scan after every full scan so that one takes about
 * advisor_target_scan_time seconds, within a CPU budget.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/sched.h>
#include <linux/wait.h>

#include "xksm.h"
#include "compat.h"
#include "profile.h"
#include "trace.h"

/*
 * xksm_thread_mutex serializes xksmd's work with everything that changes
 * the trees behind its back: run=2, merge_across_nodes, max_page_sharing,
 * unregistering (which unmerges and frees rmap_items) and unload.
 */
DEFINE_MUTEX(xksm_thread_mutex);

/* The one scan cursor; starts between passes. */
struct xksm_scan xksm_scan = {
	.mm_slot = &xksm_mm_head,
};

/* XKSM_RUN_STOP, _MERGE or _UNMERGE (sysfs run) */
unsigned long xksm_run = XKSM_RUN_STOP;

#define XKSM_DEFAULT_PAGES_TO_SCAN 100

/* Number of pages xksmd should scan in one batch */
unsigned int xksm_thread_pages_to_scan = XKSM_DEFAULT_PAGES_TO_SCAN;

/* Milliseconds xksmd should sleep between batches */
unsigned int xksm_thread_sleep_millisecs = 20;

/* Skip pages that failed to merge many times (smart_scan) */
bool xksm_smart_scan = true;

/* The number of page slots scanned */
unsigned long xksm_pages_scanned;

/* The number of pages skipped by smart_scan */
unsigned long xksm_pages_skipped;

/* xksm_pages_scanned at the start of the current full scan (tracing) */
static unsigned long xksm_pass_start_scanned;

/* The advisor (advisor_mode) and its knobs, as mainline's */
enum xksm_advisor_type xksm_advisor = XKSM_ADVISOR_NONE;
unsigned long xksm_advisor_max_pages_to_scan = 30000;
unsigned long xksm_advisor_min_pages_to_scan = 500;
unsigned int xksm_advisor_max_cpu = 70;
unsigned long xksm_advisor_target_scan_time = 200;

#define XKSM_ADVISOR_MIN_CPU	10	/* percent */
#define XKSM_EWMA_WEIGHT	30	/* percent */

/*
 * The advisor's state: start of the current scan, time of the previous
 * one, the smoothed change, and xksmd's CPU time at the previous scan.
 * Under xksm_thread_mutex.
 */
static struct {
	ktime_t start_scan;
	unsigned long scan_time;
	unsigned long change;
	unsigned long long cpu_time;
} xksm_advisor_ctx;

static struct task_struct *xksmd;
static DECLARE_WAIT_QUEUE_HEAD(xksm_thread_wait);	/* run or mms appear */
static DECLARE_WAIT_QUEUE_HEAD(xksm_iter_wait);	/* sleep_millisecs changed */

void xksm_wake_xksmd(void)
{
	wake_up_interruptible(&xksm_thread_wait);
}

void xksm_sleep_changed(void)
{
	wake_up_interruptible(&xksm_iter_wait);
}

/* Reset pages_to_scan for the advisor mode; xksm_thread_mutex held. */
void xksm_set_advisor_defaults(void)
{
	lockdep_assert_held(&xksm_thread_mutex);
	if (xksm_advisor == XKSM_ADVISOR_NONE) {
		xksm_thread_pages_to_scan = XKSM_DEFAULT_PAGES_TO_SCAN;
	} else {
		memset(&xksm_advisor_ctx, 0, sizeof(xksm_advisor_ctx));
		/* pages_to_scan is an unsigned int: no wrapping to 0. */
		xksm_thread_pages_to_scan = min_t(unsigned long, UINT_MAX,
						  xksm_advisor_min_pages_to_scan);
	}
}

static unsigned long xksm_ewma(unsigned long prev, unsigned long curr)
{
	return ((100 - XKSM_EWMA_WEIGHT) * prev + XKSM_EWMA_WEIGHT * curr) / 100;
}

/*
 * Mainline's scan time advisor:
 *
 *	new_pages_to_scan = pages_to_scan * (scan_time / target_scan_time)
 *
 * smoothed by a moving average of the changes, and capped by the CPU
 * budget (the cost per page of the last scan times advisor_max_cpu) and
 * by advisor_min/max_pages_to_scan.
 */
static void xksm_scan_time_advisor(void)
{
	unsigned long cpu_time_diff_ms, per_page_cost, last_scan_time;
	unsigned long scan_time, factor, change, pages;
	unsigned long long cpu_time;
	unsigned int cpu_percent;

	scan_time = div_s64(ktime_ms_delta(ktime_get(),
					   xksm_advisor_ctx.start_scan),
			    MSEC_PER_SEC);
	scan_time = scan_time ?: 1;

	cpu_time = xksm_call(task_sched_runtime)(current);
	cpu_time_diff_ms = (cpu_time - xksm_advisor_ctx.cpu_time) / NSEC_PER_MSEC;
	cpu_percent = (cpu_time_diff_ms * 100) / (scan_time * 1000);
	cpu_percent = cpu_percent ?: 1;
	last_scan_time = xksm_advisor_ctx.scan_time ?: scan_time;

	factor = xksm_advisor_target_scan_time * 100 / scan_time;
	factor = factor ?: 1;

	change = scan_time * 100 / last_scan_time;
	change = change ?: 1;
	change = xksm_ewma(xksm_advisor_ctx.change, change);

	pages = xksm_thread_pages_to_scan * 100 / factor;
	pages = pages * change / 100;

	per_page_cost = xksm_thread_pages_to_scan / cpu_percent;
	per_page_cost = per_page_cost ?: 1;
	pages = min(pages, per_page_cost * xksm_advisor_max_cpu);
	pages = max(pages, per_page_cost * XKSM_ADVISOR_MIN_CPU);
	pages = min(pages, xksm_advisor_max_pages_to_scan);
	pages = min_t(unsigned long, pages, UINT_MAX);

	xksm_advisor_ctx.change = change;
	xksm_advisor_ctx.scan_time = scan_time;
	xksm_advisor_ctx.cpu_time = cpu_time;
	xksm_thread_pages_to_scan = pages;

	trace_xksm_advisor(scan_time, pages, cpu_percent);
}

/*
 * Smart scan: a page that failed to merge on several passes is looked at
 * less and less often (every 2nd, 4th, 8th pass).
 */
static unsigned int xksm_skip_age(u8 age)
{
	if (age <= 3)
		return 1;
	if (age <= 5)
		return 2;
	if (age <= 8)
		return 4;
	return 8;
}

/*
 * Whether smart_scan skips @rmap_item's page this pass; @ksm: the page is a
 * KSM page.  Changes nothing: xksm_walk_pages() asks it under the page
 * table lock, before taking a reference.
 */
static bool xksm_rmap_item_skipped(struct xksm_rmap_item *rmap_item, bool ksm)
{
	/*
	 * Never skip pages that are already KSM; pages cmp_and_merge_page()
	 * will essentially ignore them, but we still have to process them
	 * properly.  Young pages get their chance to go through the merging
	 * phases.
	 */
	return xksm_smart_scan && !ksm && rmap_item->age >= 3 &&
	       rmap_item->remaining_skips;
}

/* One more pass that saw this page unmerged. */
static void xksm_rmap_item_age(struct xksm_rmap_item *rmap_item)
{
	if (rmap_item->age != U8_MAX)
		rmap_item->age++;
}

/* Skip @rmap_item's page this pass (xksm_rmap_item_skipped() said so). */
static void xksm_skip_rmap_item(struct xksm_rmap_item *rmap_item)
{
	xksm_rmap_item_age(rmap_item);
	xksm_pages_skipped++;
	rmap_item->remaining_skips--;
	xksm_remove_rmap_item_from_tree(rmap_item);
}

/*
 * Smart scan: skip the page, or age it and, if it is old, set how many
 * passes to skip next.
 */
static bool xksm_should_skip_rmap_item(struct page *page,
				       struct xksm_rmap_item *rmap_item)
{
	bool ksm = PageKsm(page);
	u8 age = rmap_item->age;

	if (xksm_rmap_item_skipped(rmap_item, ksm)) {
		xksm_skip_rmap_item(rmap_item);
		return true;
	}
	if (!xksm_smart_scan || ksm)
		return false;
	xksm_rmap_item_age(rmap_item);
	if (age >= 3)		/* and so remaining_skips is 0 */
		rmap_item->remaining_skips = xksm_skip_age(age);
	return false;
}

/*
 * The walk's question (struct xksm_walk_skip): the rmap_items of the
 * addresses ahead of the cursor, looked up in address order without
 * freeing any (the cursor does that, after the walk).
 */
bool xksm_scan_skip(struct xksm_walk_skip *ws, unsigned long addr,
		    struct folio *folio)
{
	struct xksm_rmap_item *rmap_item = ws->peek;

	while (rmap_item && (rmap_item->address & PAGE_MASK) < addr)
		rmap_item = rmap_item->rmap_list;
	ws->peek = rmap_item;
	return rmap_item && (rmap_item->address & PAGE_MASK) == addr &&
	       xksm_rmap_item_skipped(rmap_item, folio_test_ksm(folio));
}

/*
 * The first address in [addr, limit) of @slot's mm and what xksmd does
 * there: *@span_end is where that ends, *@kept is false where it merges
 * (registered, or merge-any), true where it only tracks merged pages.
 *
 * Tracked are the ranges unregistered with XKSM_KEEP_MERGED, and every
 * other address too: a KSM page may turn up anywhere in the mm, moved by
 * mremap() from where it was merged (the kernel's move_vma() unmerges only
 * its own KSM's pages, in VM_MERGEABLE vmas), and the kernel's rmap walk
 * needs a route to it.  Unregistered memory is walked for KSM pages only,
 * under the page table locks, taking no page that is not one.  mmap_lock
 * held.
 */
static unsigned long xksm_next_span(struct xksm_mm_slot *slot, unsigned long addr,
				    unsigned long limit, unsigned long *span_end,
				    bool *kept)
{
	MA_STATE(mas, &slot->ranges, addr, addr);
	void *entry;

	if (addr >= limit)
		return limit;
	rcu_read_lock();
	entry = mas_find(&mas, limit - 1);
	rcu_read_unlock();
	if (!entry || mas.index > addr) {
		/* A gap in the tree, up to the next range or @limit. */
		*span_end = entry ? mas.index : limit;
		*kept = !slot->merge_any;
		return addr;
	}
	*span_end = mas.last >= limit - 1 ? limit : mas.last + 1;
	*kept = entry != XKSM_RANGE_ON;
	return addr;
}

/*
 * Step the rmap_list cursor to @addr, freeing the items of addresses
 * passed, and keep the item there if @keep says so (a zero page xksm
 * merged, or a merged page in a kept range).  Returns whether it did.
 */
static bool xksm_keep_rmap_item(struct xksm_mm_slot *slot, unsigned long addr,
				bool (*keep)(struct xksm_rmap_item *, void *),
				void *arg)
{
	struct xksm_rmap_item *rmap_item;

	rmap_item = xksm_find_rmap_item(slot, xksm_scan.rmap_list, addr);
	if (!rmap_item || !keep(rmap_item, arg))
		return false;
	xksm_scan.rmap_list = &rmap_item->rmap_list;
	return true;
}

static bool xksm_keep_zero(struct xksm_rmap_item *rmap_item, void *arg)
{
	return rmap_item->address & XKSM_ZERO_FLAG;
}

static bool xksm_keep_stable(struct xksm_rmap_item *rmap_item, void *arg)
{
	struct page *page = arg;

	return (rmap_item->address & XKSM_STABLE_FLAG) &&
	       rmap_item->head == xksm_folio_stable_node(page_folio(page));
}

/*
 * Move the cursor past @slot, whose mm's mmap_lock is held for read, and
 * drop that lock; and free the slot if @forget.  Its rmap_items must be
 * gone then.
 */
static void xksm_scan_next_slot(struct xksm_mm_slot *slot, bool forget)
{
	spin_lock(&xksm_mmlist_lock);
	xksm_scan.mm_slot = list_entry(slot->mm_node.next, struct xksm_mm_slot,
				       mm_node);
	if (forget) {
		hash_del(&slot->hash);
		list_del(&slot->mm_node);
	}
	spin_unlock(&xksm_mmlist_lock);
	mmap_read_unlock(slot->mm);
	if (forget)
		xksm_free_mm_slot(slot);
}

/*
 * Reap the deferred routes at the start of a full pass, but at most once a
 * second: each check locks the route's page and holds a reference on it,
 * which would fail migrations of those pages again and again when passes
 * are short (sleep_millisecs=0 on a small registration).
 */
static void xksm_reap_paced(void)
{
	static unsigned long last;

	if (!xksm_reap_pending() || time_before(jiffies, last + HZ))
		return;
	xksm_reap_deferred();
	last = jiffies;
}

/* Prune the nodes of migrated pages, once before each full scan. */
static void xksm_prune_migrate_nodes(void)
{
	struct xksm_stable_node *stable_node, *next;
	struct folio *folio;

	list_for_each_entry_safe(stable_node, next, &xksm_migrate_nodes, list) {
		folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_NOLOCK);
		if (folio)
			folio_put(folio);
		cond_resched();
	}
}

/*
 * Room for what one walk finds: up to XKSM_SCAN_CHUNK pages to merge, and
 * the pages smart_scan skips among them, which the walk passes over
 * without a reference (most pages, in a steady state of unique ones).
 * xksmd's own, under xksm_thread_mutex.
 */
#define XKSM_SCAN_ROOM	256
static struct xksm_walk_result xksm_scan_results[XKSM_SCAN_ROOM];

struct xksm_scan_page {
	struct xksm_rmap_item *rmap_item;
	struct page *page;		/* a reference held */
	u64 salt;			/* of its mm's merge domain */
	bool adopt;			/* a KSM page outside registrations */
};

/* The end of a full scan: the advisor, spares, and the pass number. */
static void xksm_scan_end_pass(void)
{
	xksm_spare_rmap_items_pass_end();
	if (xksm_advisor == XKSM_ADVISOR_SCAN_TIME)
		xksm_scan_time_advisor();
	trace_xksm_stop_scan(xksm_scan.seqnr,
			     xksm_pages_scanned - xksm_pass_start_scanned,
			     xksm_rmap_items, xksm_pages_shared,
			     xksm_pages_sharing, xksm_pages_unshared);
	xksm_scan.seqnr++;
}

/*
 * The start of a full scan: what is done once a pass, before the first
 * page.  Returns the first slot, or &xksm_mm_head if none.
 */
static struct xksm_mm_slot *xksm_scan_start_pass(void)
{
	struct xksm_mm_slot *slot;

	if (xksm_advisor == XKSM_ADVISOR_SCAN_TIME)
		xksm_advisor_ctx.start_scan = ktime_get();
	/* One store a pass, for xksm_stop_scan's count of pages. */
	xksm_pass_start_scanned = xksm_pages_scanned;
	trace_xksm_start_scan(xksm_scan.seqnr, xksm_rmap_items,
			      xksm_rmap_items_deferred,
			      atomic_long_read(&xksm_mm_slots));
	/*
	 * Pages held in per-cpu LRU caches have a raised count that stops
	 * merge_pte() from merging them: drain them once per pass,
	 * as mainline does.
	 */
	xksm_call(lru_add_drain_all)();
	if (!xksm_merge_across_nodes)
		xksm_prune_migrate_nodes();
	xksm_reap_paced();
	xksm_stable_tree_prune();
	xksm_unstable_tree_reset();

	spin_lock(&xksm_mmlist_lock);
	slot = list_entry(xksm_mm_head.mm_node.next, struct xksm_mm_slot,
			  mm_node);
	xksm_scan.mm_slot = slot;
	spin_unlock(&xksm_mmlist_lock);
	return slot;
}

/*
 * One page (or zero pte) the walk found at the cursor, in a range that is
 * registered (or only @kept): its rmap_item if it is to be merged, with
 * the reference on the page kept; else NULL, the reference dropped (if
 * one was taken: not for a page the walk passed over); or
 * ERR_PTR(-ENOMEM), the reference kept.  Moves the rmap_list cursor.
 */
static struct xksm_rmap_item *xksm_scan_result(struct xksm_mm_slot *slot,
					       struct vm_area_struct *vma,
					       struct xksm_walk_result *r,
					       bool kept, bool *adopt)
{
	struct xksm_rmap_item *rmap_item;

	*adopt = false;
	if (r->zero) {
		/* Keep the rmap_item of a zero page we merged. */
		xksm_keep_rmap_item(slot, r->addr, xksm_keep_zero, NULL);
		return NULL;
	}
	if (kept) {
		/*
		 * No merging here (the walk took KSM pages only), but the
		 * rmap_item of a page still merged stays; and a KSM page with
		 * no route here, moved here by mremap(), gets one.
		 */
		struct xksm_stable_node *stable_node;

		if (xksm_keep_rmap_item(slot, r->addr, xksm_keep_stable, r->page)) {
			folio_put(r->folio);
			return NULL;
		}
		/*
		 * A page forked from another mm is found through that mm's
		 * routes, live or deferred: it needs none of its own.
		 */
		stable_node = xksm_folio_stable_node(r->folio);
		if (!stable_node ||
		    xksm_rmap_item_covered_by(stable_node, vma, r->addr)) {
			folio_put(r->folio);
			return NULL;
		}
		*adopt = true;
	}

	rmap_item = xksm_get_next_rmap_item(slot, xksm_scan.rmap_list, r->addr);
	if (!rmap_item)
		return ERR_PTR(-ENOMEM);
	xksm_scan.rmap_list = &rmap_item->rmap_list;
	if (r->skipped) {
		/* Passed over by the walk, with no reference taken. */
		xksm_skip_rmap_item(rmap_item);
		cond_resched();
		return NULL;
	}
	flush_anon_page(vma, r->page, r->addr);
	flush_dcache_page(r->page);
	if (xksm_should_skip_rmap_item(r->page, rmap_item)) {
		folio_put(r->folio);
		cond_resched();
		return NULL;
	}
	return rmap_item;
}

/**
 * xksm_scan_next_pages - advance the cursor over the next registered pages
 * @pages: room for @max pages to merge, returned with their rmap_items
 * @max: at most how many (XKSM_SCAN_CHUNK at most)
 * @pass_end: set when the cursor reached the end of a full scan; the
 *	caller ends the pass (xksm_scan_end_pass()) after these pages
 *
 * Returns how many pages were found: fewer than @max at the end of a full
 * scan, after a page of a THP, or when out of memory; 0 if nothing is
 * registered.
 */
static unsigned int xksm_scan_next_pages(struct xksm_scan_page *pages,
					 unsigned int max, bool *pass_end)
{
	struct xksm_walk_result *res = xksm_scan_results;
	struct xksm_walk_skip ws;
	struct xksm_rmap_item *rmap_item;
	struct xksm_mm_slot *slot;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	struct mm_struct *mm;
	unsigned int n = 0, taken;
	bool thp = false;
	u64 salt;

	*pass_end = false;
	if (list_empty(&xksm_mm_head.mm_node))
		return 0;

	slot = xksm_scan.mm_slot;
	if (slot == &xksm_mm_head) {
		slot = xksm_scan_start_pass();
		if (slot == &xksm_mm_head)
			return 0;
next_mm:
		xksm_scan.address = 0;
		xksm_scan.rmap_list = &slot->rmap_list;
	}

	mm = slot->mm;
	taken = n;
	vma_iter_init(&vmi, mm, xksm_scan.address);

	/* The new pages' rmap_items, before the lock (rmap_item.c). */
	xksm_refill_spare_rmap_items();
	mmap_read_lock(mm);
	if (xksm_test_exit(mm))
		goto no_vmas;
	/* The identity changes under the mmap_lock for write (mm_slot.c). */
	salt = xksm_domain_salt(&slot->ident);

	for_each_vma(vmi, vma) {
		if (!xksm_vma_compatible(vma))
			continue;
		if (xksm_scan.address < vma->vm_start)
			xksm_scan.address = vma->vm_start;
		if (!vma->anon_vma)
			xksm_scan.address = vma->vm_end;

		while (xksm_scan.address < vma->vm_end) {
			unsigned long addr, span_end, next;
			unsigned int i, found;
			bool kept;

			if (xksm_test_exit(mm))
				break;
			addr = xksm_next_span(slot, xksm_scan.address,
					      vma->vm_end, &span_end, &kept);
			if (addr >= vma->vm_end) {
				xksm_scan.address = vma->vm_end;
				break;
			}
			ws.peek = *xksm_scan.rmap_list;
			found = xksm_walk_pages(vma, addr, span_end, res,
						XKSM_SCAN_ROOM, max - n,
						kept ? NULL : &ws, kept, &next);
			xksm_scan.address = next;

			for (i = 0; i < found; i++) {
				struct xksm_walk_result *r = res + i;

				rmap_item = xksm_scan_result(slot, vma, r, kept,
							     &pages[n].adopt);
				if (IS_ERR(rmap_item)) {
					/* Out of memory: back here next time. */
					xksm_scan.address = r->addr;
					xksm_walk_put(r, found - i);
					mmap_read_unlock(mm);
					return n;
				}
				if (!rmap_item)
					continue;
				pages[n].rmap_item = rmap_item;
				pages[n].page = r->page;
				pages[n].salt = salt;
				n++;
				thp = folio_test_large(r->folio);
			}
			/*
			 * Full, or a page of a THP came last (xksm_walk_pages()
			 * stops there): merging may split the THP, so xksmd
			 * must hold no other reference on it.
			 */
			if (n == max || thp) {
				mmap_read_unlock(mm);
				return n;
			}
		}
	}

	if (xksm_test_exit(mm)) {
		/*
		 * The mm exited under the walk: its rmap_items all go, but
		 * not before the pages taken from it are done with.  Come
		 * back to it next time.
		 */
		if (n != taken) {
			mmap_read_unlock(mm);
			return n;
		}
no_vmas:
		xksm_scan.address = 0;
		xksm_scan.rmap_list = &slot->rmap_list;
	}
	/* Nuke the rmap_items above the last registered page. */
	xksm_remove_trailing_rmap_items(xksm_scan.rmap_list);

	/*
	 * Forget the mm if it has exited, or has nothing registered any more
	 * (the ioctls change the ranges under mmap_lock for write, so none
	 * can be racing); but only with no rmap_item left: an mm that exited
	 * during the walk above kept those before the cursor, and is
	 * forgotten on the next pass.
	 */
	xksm_scan_next_slot(slot, !slot->rmap_list &&
			    (xksm_test_exit(mm) || !xksm_slot_has_ranges(slot)));

	/* Repeat until we've completed scanning the whole list */
	slot = xksm_scan.mm_slot;
	if (slot != &xksm_mm_head)
		goto next_mm;

	*pass_end = true;
	return n;
}

/* One batch: look at up to @scan_npages pages. */
static void xksm_do_scan(unsigned int scan_npages)
{
	struct xksm_scan_page pages[XKSM_SCAN_CHUNK];
	u64 batch = xksm_prof_begin();

	lockdep_assert_held(&xksm_thread_mutex);
	while (scan_npages && likely(!freezing(current)) &&
	       !kthread_should_stop()) {
		unsigned int i, n;
		bool pass_end;
		u64 t;

		cond_resched();
		t = xksm_prof_begin();
		n = xksm_scan_next_pages(pages, min(scan_npages, XKSM_SCAN_CHUNK),
					 &pass_end);
		xksm_prof_end(XKSM_PH_NEXT, t);

		for (i = 0; i < n; i++) {
			/* Stopping: drop the rest; the next pass sees them. */
			if (unlikely(freezing(current) || kthread_should_stop())) {
				put_page(pages[i].page);
				continue;
			}
			if (pages[i].adopt)
				xksm_adopt_ksm_page(pages[i].page,
						    pages[i].rmap_item);
			else
				xksm_cmp_and_merge_page(pages[i].page,
							pages[i].rmap_item,
							pages[i].salt);
			put_page(pages[i].page);
			xksm_pages_scanned++;
			cond_resched();
		}
		scan_npages -= n;
		if (pass_end)
			xksm_scan_end_pass();
		if (!n || pass_end)
			break;
	}
	xksm_prof_end(XKSM_PH_BATCH, batch);
}

/*
 * xksmd runs while something is registered, and also while routes wait on
 * the reap list (rmap_item.c): with nothing registered it only reaps.
 */
static bool xksmd_should_run(void)
{
	return (xksm_run & XKSM_RUN_MERGE) &&
	       (!list_empty(&xksm_mm_head.mm_node) || xksm_reap_pending());
}

static int xksm_scan_thread(void *nothing)
{
	unsigned int sleep_ms;

	set_freezable();
	set_user_nice(current, 5);

	while (!kthread_should_stop()) {
		mutex_lock(&xksm_thread_mutex);
		xksm_wait_while_offlining();
		if (xksmd_should_run()) {
			if (list_empty(&xksm_mm_head.mm_node))
				xksm_reap_paced();
			else
				xksm_do_scan(xksm_thread_pages_to_scan);
		}
		/*
		 * Nothing to scan (stopped, or nothing registered), maybe
		 * for long: keep no spare rmap_items meanwhile.
		 */
		if (!xksmd_should_run() || list_empty(&xksm_mm_head.mm_node))
			xksm_drain_spare_rmap_items();
		mutex_unlock(&xksm_thread_mutex);

		if (xksmd_should_run()) {
			sleep_ms = READ_ONCE(xksm_thread_sleep_millisecs);
			wait_event_freezable_timeout(xksm_iter_wait,
				sleep_ms != READ_ONCE(xksm_thread_sleep_millisecs) ||
				kthread_should_stop(),
				msecs_to_jiffies(sleep_ms));
		} else {
			wait_event_freezable(xksm_thread_wait,
				xksmd_should_run() || kthread_should_stop());
		}
	}
	return 0;
}

/*
 * Whether xksm_unmerge_all() is walking the slots; under xksm_mmlist_lock.
 * Meanwhile xksm_enter() adds new slots ahead of the walk, at the tail of
 * the list, and restarts a walk that already reached the end: else the
 * children of an mm forked while (or just before) it is unmerged, which
 * map its KSM pages, would be missed.
 */
bool xksm_scan_unmerging;

/*
 * run=2, and unload: unmerge every page xksm merged, free every rmap_item,
 * and empty the stable tree (leaving the registrations, for run=1 to merge
 * again).  Slots of exited mms are freed.  xksm_thread_mutex held.
 *
 * Pages still mapped by mms xksm does not scan (a child that unregistered
 * keeping its merged pages) are found through their routes on the reap
 * list, and broken too.
 */
int xksm_unmerge_all(void)
{
	struct xksm_mm_slot *slot;
	struct mm_struct *mm;
	int err = 0;

	lockdep_assert_held(&xksm_thread_mutex);
	spin_lock(&xksm_mmlist_lock);
	xksm_scan_unmerging = true;
	xksm_scan.mm_slot = list_entry(xksm_mm_head.mm_node.next,
				       struct xksm_mm_slot, mm_node);
	spin_unlock(&xksm_mmlist_lock);

	for (;;) {
		spin_lock(&xksm_mmlist_lock);
		slot = xksm_scan.mm_slot;
		spin_unlock(&xksm_mmlist_lock);
		if (slot == &xksm_mm_head) {
			/*
			 * The end.  But a fork of an mm unmerged above may
			 * still wait to register its child (fork.c): let it,
			 * and go on with that child if it came.
			 */
			xksm_fork_flush();
			spin_lock(&xksm_mmlist_lock);
			slot = xksm_scan.mm_slot;
			if (slot == &xksm_mm_head)
				xksm_scan_unmerging = false;
			spin_unlock(&xksm_mmlist_lock);
			if (slot == &xksm_mm_head)
				break;
		}

		/*
		 * Unmerging faults: pinned, so that the mm cannot exit under
		 * it (mm_slot.c).  Then, with the pin dropped, forget the mm
		 * if it has exited by now (no page of it is mapped any more,
		 * or soon not).
		 */
		mm = slot->mm;
		if (xksm_mmap_read_lock_pinned(mm)) {
			err = xksm_unmerge_vmas(slot, mm);
			xksm_mmap_read_unlock_pinned(mm);
			if (err)
				goto error;
		}
		mmap_read_lock(mm);
		xksm_remove_trailing_rmap_items(&slot->rmap_list);
		xksm_scan_next_slot(slot, xksm_test_exit(mm));
	}

	err = xksm_break_deferred();
	if (err)
		return err;

	/* Clean up stable nodes, but don't worry if some are still busy */
	xksm_remove_all_stable_nodes();
	xksm_reap_deferred();
	/* Nor any spare rmap_item: run=2 leaves no object of xksm's. */
	xksm_drain_spare_rmap_items();
	xksm_scan.seqnr = 0;
	return 0;

error:
	spin_lock(&xksm_mmlist_lock);
	xksm_scan.mm_slot = &xksm_mm_head;
	xksm_scan_unmerging = false;
	spin_unlock(&xksm_mmlist_lock);
	return err;
}

/*
 * Before a knob changes what the stable tree means (merge_across_nodes,
 * merge_scope): only with nothing merged (-EBUSY otherwise, as mainline's
 * merge_across_nodes: run=2 first).  The old tree goes completely: pages
 * still merged only through deferred routes are broken, and a node whose
 * page is no longer mapped (but still held, by the swapcache or a pin) is
 * cleared from its page.  xksm_thread_mutex held.
 */
int xksm_clear_stable_tree(void)
{
	int err;

	lockdep_assert_held(&xksm_thread_mutex);
	if (xksm_pages_shared)
		return -EBUSY;
	/* A child forked just before is copied back by fork.c's work. */
	xksm_fork_flush();
	err = xksm_break_deferred();
	if (err)
		return err;
	if (xksm_remove_all_stable_nodes())
		return -EBUSY;
	xksm_reap_deferred();
	return 0;
}

/* merge_across_nodes: switch between one tree and one per NUMA node. */
int xksm_set_merge_across_nodes(bool across)
{
	int err;

	lockdep_assert_held(&xksm_thread_mutex);
	if (xksm_merge_across_nodes == across)
		return 0;
	err = xksm_clear_stable_tree();
	if (err)
		return err;
	xksm_merge_across_nodes = across;
	xksm_nr_node_ids = across ? 1 : nr_node_ids;
	return 0;
}

int xksm_scan_init(void)
{
	xksmd = kthread_run(xksm_scan_thread, NULL, "xksmd");
	if (IS_ERR(xksmd)) {
		pr_err("cannot start xksmd: %ld\n", PTR_ERR(xksmd));
		return PTR_ERR(xksmd);
	}
	return 0;
}

/*
 * Stop xksmd, then unmerge everything and free every slot: after unload no
 * page may point at module memory.  What cannot be unmerged (out of memory,
 * or an mm between its last user and exit_mmap()) is orphaned: see
 * xksm_orphan_all_stable_nodes().
 */
void xksm_scan_exit(void)
{
	struct xksm_mm_slot *slot, *next;

	kthread_stop(xksmd);

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	if (xksm_unmerge_all())
		pr_warn("could not unmerge every page; the rest are orphaned\n");
	list_for_each_entry_safe(slot, next, &xksm_mm_head.mm_node, mm_node) {
		/* run=2 left their rmap_items freed; drop the slots too. */
		xksm_remove_trailing_rmap_items(&slot->rmap_list);
		spin_lock(&xksm_mmlist_lock);
		hash_del(&slot->hash);
		list_del(&slot->mm_node);
		spin_unlock(&xksm_mmlist_lock);
		xksm_free_mm_slot(slot);
	}
	xksm_scan.mm_slot = &xksm_mm_head;
	xksm_orphan_all_stable_nodes();
	xksm_reap_all();
	mutex_unlock(&xksm_thread_mutex);
}
