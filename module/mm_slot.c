// SPDX-License-Identifier: GPL-2.0
/*
 * mm_slot.c - the mms registered with xksm, and what of each is registered.
 *
 * The kernel's KSM marks mergeable memory with VM_MERGEABLE on each vma and
 * hooks fork and exit.  A module can do neither, so xksm keeps, per
 * registered mm, a maple tree of address ranges with their state:
 *
 *   XKSM_RANGE_ON	registered: xksmd merges here
 *   XKSM_RANGE_OFF	excluded from merge-any (XKSM_IOC_UNMERGEABLE on a
 *			merge-any mm)
 *   XKSM_RANGE_KEEP	unregistered with XKSM_KEEP_MERGED: nothing new is
 *			merged, but the pages already merged stay tracked
 *
 * and a merge_any flag under which every range that is not OFF or KEEP
 * counts as ON.  Only vmas xksm can merge count (xksm_vma_compatible()):
 * not shared or special mappings, and not memory the kernel's own KSM
 * manages (VM_MERGEABLE, or an mm in the kernel's merge-any mode), so that
 * the kernel's ksmd and xksmd never meet on a page.
 *
 * Exit is noticed lazily: a slot holds mmgrab() on its mm, and xksmd frees
 * the slot once it finds mm_users at zero (scan.c), as mainline's ksmd does
 * after ksm_exit().
 *
 * Registration changes take the mm's mmap_lock for write; xksmd reads the
 * ranges, and merges, under it for read.  So once an unregister has
 * updated the tree, no merge can start in that range, and it can then
 * unmerge what is there with the lock downgraded to read.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hashtable.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/xksm.h>

#include "xksm.h"
#include "compat.h"
#include "trace.h"

/*
 * xksm_mmlist_lock protects xksm_mm_head's list, xksm_mm_slots_hash, and
 * xksm_scan.mm_slot when read outside xksm_thread_mutex.  A spinlock: it is
 * the innermost lock, taken under mmap_lock and xksm_thread_mutex.
 */
DEFINE_SPINLOCK(xksm_mmlist_lock);

/* The head of the scan list of registered mms; never a real mm. */
struct xksm_mm_slot xksm_mm_head = {
	.mm_node = LIST_HEAD_INIT(xksm_mm_head.mm_node),
};

#define XKSM_MM_SLOTS_HASH_BITS 10
static DEFINE_HASHTABLE(xksm_mm_slots_hash, XKSM_MM_SLOTS_HASH_BITS);

static struct kmem_cache *xksm_mm_slot_cache;

/*
 * The number of slots allocated (debugfs objects); atomic, as slots are
 * made without xksm_thread_mutex.
 */
atomic_long_t xksm_mm_slots = ATOMIC_LONG_INIT(0);

/*
 * xksmd and the unmerge paths must not touch an mm's page tables once its
 * last user has gone: exit_mmap() is tearing them down, and the slot's
 * mmgrab() keeps only the mm_struct itself.
 */
bool xksm_test_exit(struct mm_struct *mm)
{
	return atomic_read(&mm->mm_users) == 0;
}

/*
 * Take @mm's mmap_lock for read to fault pages into it (to unmerge), when
 * the caller holds no reference on its users: with one taken, so that the
 * mm cannot begin to exit meanwhile.  False, with nothing taken, if it has
 * exited already.  Undo with xksm_mmap_read_unlock_pinned().
 *
 * xksm_test_exit() under the lock is not enough for a fault.  exit_mmap()
 * zaps the page tables with the mmap_lock held only for read (6.1 and
 * 6.12), and frees them later, under the lock for write, without looking
 * at what they still map.  If the last user goes just after the check, the
 * zap runs beside us; should it clear a pte between our look at it and
 * the fault, the fault finds none and maps a new page (6.1's write fault:
 * do_anonymous_page()) that no one unmaps again.  That page stays mapped
 * after its anon_vma is freed (the next rmap walk on it, by compaction say,
 * reads freed memory), and the mm is freed with "BUG: Bad rss-counter
 * state".  Mainline's ksmd is kept out by ksm_exit(), which __mmput() calls
 * before exit_mmap(): it takes and drops the mmap_lock for write, so ksmd,
 * which checks ksm_test_exit() under the lock, is gone before the zap.  A
 * module has no hook there; holding mm_users instead, exit_mmap() cannot
 * start until our mmput().
 *
 * Merging needs no pin: it only replaces a pte it found present, under the
 * page table lock, and checks it is unchanged (merge.c); a zapped pte stays
 * zapped.
 */
bool xksm_mmap_read_lock_pinned(struct mm_struct *mm)
{
	if (!mmget_not_zero(mm))
		return false;
	mmap_read_lock(mm);
	return true;
}

/*
 * Drop what xksm_mmap_read_lock_pinned() took.  Should ours be the last
 * reference, the mm is torn down here and now, as mainline's exiting
 * process does right after ksm_exit(): so that run=2 (and unload) leave no
 * page of it mapped behind them.  No lock but xksm_thread_mutex may be
 * held: __mmput() takes the mmap_lock for write, and nothing it does
 * waits for xksm (the mutex is outermost: xksm.h).
 */
void xksm_mmap_read_unlock_pinned(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
	mmput(mm);
}

struct xksm_mm_slot *xksm_get_mm_slot_locked(struct mm_struct *mm)
{
	struct xksm_mm_slot *slot;

	lockdep_assert_held(&xksm_mmlist_lock);
	hash_for_each_possible(xksm_mm_slots_hash, slot, hash, (unsigned long)mm)
		if (slot->mm == mm)
			return slot;
	return NULL;
}

/*
 * The slot of @mm, or NULL.  The caller keeps it valid by holding @mm's
 * mmap_lock, or xksm_thread_mutex (see struct xksm_mm_slot).
 */
struct xksm_mm_slot *xksm_get_mm_slot(struct mm_struct *mm)
{
	struct xksm_mm_slot *slot;

	spin_lock(&xksm_mmlist_lock);
	slot = xksm_get_mm_slot_locked(mm);
	spin_unlock(&xksm_mmlist_lock);
	return slot;
}

/*
 * Free a slot that has been taken off the hash and the list.  Its
 * rmap_items must be gone already.
 */
void xksm_free_mm_slot(struct xksm_mm_slot *slot)
{
	struct mm_struct *mm = slot->mm;

	WARN_ON_ONCE(slot->rmap_list);
	trace_xksm_exit(mm);
	mtree_destroy(&slot->ranges);
	kmem_cache_free(xksm_mm_slot_cache, slot);
	atomic_long_dec(&xksm_mm_slots);
	mmdrop(mm);
}

/*
 * Can xksm merge in this vma at all?  As mainline's vma_ksm_compatible(),
 * plus: never in memory the kernel's own KSM manages.
 */
bool xksm_vma_compatible(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_SHARED  | VM_MAYSHARE   | VM_PFNMAP  |
			     VM_IO      | VM_DONTEXPAND | VM_HUGETLB |
			     VM_MIXEDMAP | VM_DROPPABLE | VM_MERGEABLE))
		return false;
	if (vma_is_dax(vma))
		return false;
	if (xksm_kernel_merge_any(vma->vm_mm))
		return false;
	return true;
}

static void *xksm_range_state(struct xksm_mm_slot *slot, unsigned long addr)
{
	return mtree_load(&slot->ranges, addr);
}

/* May xksmd merge the page at @addr of @vma?  mmap_lock held. */
bool xksm_addr_registered(struct xksm_mm_slot *slot, struct vm_area_struct *vma,
			  unsigned long addr)
{
	void *state;

	mmap_assert_locked(vma->vm_mm);
	if (!xksm_vma_compatible(vma))
		return false;
	state = xksm_range_state(slot, addr);
	return state == XKSM_RANGE_ON || (slot->merge_any && !state);
}

/* Must xksmd keep tracking what is merged at @addr, without merging more? */
bool xksm_addr_kept(struct xksm_mm_slot *slot, unsigned long addr)
{
	return xksm_range_state(slot, addr) == XKSM_RANGE_KEEP;
}

/*
 * The vma at @addr if xksm may merge there, as mainline's
 * find_mergeable_vma(): the mm is alive, the address registered, and the
 * vma has an anon_vma.  mmap_lock held.
 */
struct vm_area_struct *xksm_find_mergeable_vma(struct mm_struct *mm,
					       unsigned long addr)
{
	struct xksm_mm_slot *slot;
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	if (xksm_test_exit(mm))
		return NULL;
	vma = vma_lookup(mm, addr);
	if (!vma || !vma->anon_vma)
		return NULL;
	slot = xksm_get_mm_slot(mm);
	if (!slot || !xksm_addr_registered(slot, vma, addr))
		return NULL;
	return vma;
}

/* Is anything of this slot's mm registered or kept?  mmap_lock held. */
bool xksm_slot_has_ranges(struct xksm_mm_slot *slot)
{
	unsigned long index = 0;
	void *entry;

	if (slot->merge_any)
		return true;
	mt_for_each(&slot->ranges, entry, index, ULONG_MAX)
		if (entry == XKSM_RANGE_ON || entry == XKSM_RANGE_KEEP)
			return true;
	return false;
}

/*
 * Bytes of address space registered by XKSM_IOC_MERGEABLE (merge-any
 * covers the rest, and is reported on its own).
 */
unsigned long xksm_registered_bytes(struct xksm_mm_slot *slot)
{
	MA_STATE(mas, &slot->ranges, 0, 0);
	unsigned long bytes = 0;
	void *entry;

	rcu_read_lock();
	mas_for_each(&mas, entry, ULONG_MAX)
		if (entry == XKSM_RANGE_ON)
			bytes += mas.last - mas.index + 1;
	rcu_read_unlock();
	return bytes;
}

/*
 * The slot of @mm, created if need be, with the identity @ident if new;
 * mmap_lock held for write.  A new slot goes just behind the scan cursor,
 * as mainline's __ksm_enter() does: the memory gets a moment to settle
 * before xksmd reaches it, and a fork followed at once by exec costs no
 * scanning.
 */
static struct xksm_mm_slot *xksm_enter(struct mm_struct *mm,
				       const struct xksm_identity *ident)
{
	struct xksm_mm_slot *slot, *new;

	mmap_assert_write_locked(mm);
	slot = xksm_get_mm_slot(mm);
	if (slot)
		return slot;

	new = kmem_cache_zalloc(xksm_mm_slot_cache, GFP_KERNEL_ACCOUNT);
	if (!new)
		return NULL;
	atomic_long_inc(&xksm_mm_slots);
	new->mm = mm;
	new->ident = *ident;
	mt_init(&new->ranges);
	mmgrab(mm);

	spin_lock(&xksm_mmlist_lock);
	hash_add(xksm_mm_slots_hash, &new->hash, (unsigned long)mm);
	/*
	 * Insert just behind the scanning cursor, to let the area settle
	 * down a little (when fork is followed by immediate exec, xksmd
	 * should not waste time setting up and tearing down an rmap_list).
	 * But while run=2 unmerges, insert ahead of its cursor, at the end
	 * of the list, and restart a walk that already reached the end:
	 * else a child forked with merged pages would be missed.
	 */
	if (xksm_scan_unmerging) {
		list_add_tail(&new->mm_node, &xksm_mm_head.mm_node);
		if (xksm_scan.mm_slot == &xksm_mm_head)
			xksm_scan.mm_slot = new;
	} else {
		list_add_tail(&new->mm_node, &xksm_scan.mm_slot->mm_node);
	}
	spin_unlock(&xksm_mmlist_lock);
	trace_xksm_enter(mm);
	xksm_wake_xksmd();
	return new;
}

/*
 * Set [start, end) to @state in the parts of it mapped by vmas xksm can
 * merge in (with @slot NULL, only look for holes).  Returns -ENOMEM if part
 * of the range was not mapped at all (as madvise does, after doing the
 * rest), or if the tree could not grow.
 */
static int xksm_set_ranges(struct mm_struct *mm, struct xksm_mm_slot *slot,
			   unsigned long start, unsigned long end, void *state)
{
	struct vm_area_struct *vma;
	unsigned long addr = start;
	bool hole = false;
	int err;

	VMA_ITERATOR(vmi, mm, start);

	mmap_assert_write_locked(mm);
	/*
	 * Unregistering also clears the holes: what was registered there
	 * was unmapped (or moved away by mremap()), and xksmd would only
	 * forget it when it passes.
	 */
	if (slot && state != XKSM_RANGE_ON &&
	    mtree_store_range(&slot->ranges, start, end - 1, NULL,
			      GFP_KERNEL_ACCOUNT))
		return -ENOMEM;
	for_each_vma_range(vmi, vma, end) {
		unsigned long s = max(addr, vma->vm_start);
		unsigned long e = min(end, vma->vm_end);

		if (vma->vm_start > addr)
			hole = true;
		addr = vma->vm_end;
		/*
		 * Unsuitable vmas are skipped silently when registering; any
		 * state is cleared from them when unregistering.
		 */
		if (!slot || (state == XKSM_RANGE_ON && !xksm_vma_compatible(vma)))
			continue;
		err = mtree_store_range(&slot->ranges, s, e - 1, state,
					GFP_KERNEL_ACCOUNT);
		if (err)
			return -ENOMEM;
	}
	if (addr < end)
		hole = true;
	return hole ? -ENOMEM : 0;
}

static int xksm_rehome(struct mm_struct *mm, const struct xksm_identity *ident);

/*
 * The slot of @mm for a registration by @who of [@start, @end) (or of the
 * whole mm: @start == @end), created if need be, with the mmap_lock held
 * for write; NULL with it dropped and *@errp set.  A registration takes
 * the identity afresh (the domain id only if @set_id: else the mm keeps
 * its own); if that moves the mm to another domain, it is rehomed first,
 * and we start again.
 */
static struct xksm_mm_slot *xksm_enter_as(struct mm_struct *mm,
					  const struct xksm_identity *who,
					  bool set_id, unsigned long start,
					  unsigned long end, int *errp)
{
	struct xksm_identity identity = *who, *ident = &identity;
	struct xksm_mm_slot *slot;
	int err;

	for (;;) {
		if (mmap_write_lock_killable(mm)) {
			*errp = -EINTR;
			return NULL;
		}
		err = -ESRCH;
		if (xksm_test_exit(mm))
			break;
		/*
		 * Nothing mapped in [start, end): nothing to register, so
		 * nothing changes, the domain included (as madvise, ENOMEM).
		 */
		err = -ENOMEM;
		if (start < end && !find_vma_intersection(mm, start, end))
			break;
		slot = xksm_enter(mm, ident);
		if (!slot)
			break;
		if (!set_id)
			ident->id = slot->ident.id;
		if (!xksm_domain_differs(&slot->ident, ident)) {
			slot->ident = *ident;
			return slot;
		}
		mmap_write_unlock(mm);
		err = xksm_rehome(mm, ident);
		if (err) {
			*errp = err;
			return NULL;
		}
	}
	mmap_write_unlock(mm);
	*errp = err;
	return NULL;
}

int xksm_register(struct mm_struct *mm, const struct xksm_identity *ident,
		  bool set_id, unsigned long start, unsigned long end)
{
	struct xksm_mm_slot *slot;
	int err;

	slot = xksm_enter_as(mm, ident, set_id, start, end, &err);
	if (!slot)
		return err;
	err = xksm_set_ranges(mm, slot, start, end, XKSM_RANGE_ON);
	mmap_write_unlock(mm);
	return err;
}

/*
 * Unmerge every page xksm merged in [start, end) of @mm and forget its
 * rmap_items there.  xksm_thread_mutex held (for the rmap_list), and
 * @mm's mmap_lock for read.
 */
static int xksm_unmerge_mm_range(struct mm_struct *mm, struct xksm_mm_slot *slot,
				 unsigned long start, unsigned long end)
{
	struct vm_area_struct *vma;
	int err = 0;

	VMA_ITERATOR(vmi, mm, start);

	mmap_assert_locked(mm);
	for_each_vma_range(vmi, vma, end) {
		/* Not the kernel's KSM pages (VM_MERGEABLE, merge-any). */
		if (!vma->anon_vma || !xksm_vma_compatible(vma))
			continue;
		err = xksm_unmerge_range(slot, vma, max(start, vma->vm_start),
					 min(end, vma->vm_end));
		if (err)
			return err;
	}
	xksm_remove_rmap_items_range(slot, start, end);
	return 0;
}

/*
 * Unmerge every page xksm merged anywhere in @mm, and forget its
 * rmap_items: when its last range is unregistered, the KSM pages left
 * outside the ranges too, before xksmd forgets the mm and nothing would
 * find them again: pages that mremap() moved out of the ranges where they
 * were merged (xksmd gives them routes when it passes,
 * xksm_adopt_ksm_page(), but may not have passed yet); and when the mm
 * moves to another merge domain (xksm_rehome()).  Only in vmas xksm may
 * merge: the kernel's KSM keeps its pages in the others.  Locks as
 * xksm_unmerge_mm_range().
 */
static int xksm_unmerge_mm(struct mm_struct *mm, struct xksm_mm_slot *slot)
{
	int err = xksm_unmerge_vmas(slot, mm);

	if (!err)
		xksm_remove_rmap_items_range(slot, 0, mm->task_size);
	return err;
}

/*
 * Lock for a change that may unmerge: xksm_thread_mutex first (xksmd must
 * not be half-way through a merge whose rmap_items we are about to free),
 * then the mmap_lock for write.
 */
static int xksm_lock_for_unmerge(struct mm_struct *mm)
{
	if (mutex_lock_killable(&xksm_thread_mutex))
		return -EINTR;
	xksm_wait_while_offlining();
	if (mmap_write_lock_killable(mm)) {
		mutex_unlock(&xksm_thread_mutex);
		return -EINTR;
	}
	return 0;
}

int xksm_unregister(struct mm_struct *mm, unsigned long start, unsigned long end,
		    bool keep_merged)
{
	struct xksm_mm_slot *slot;
	int err, hole_err;
	void *state;

	err = xksm_lock_for_unmerge(mm);
	if (err)
		return err;
	slot = xksm_get_mm_slot(mm);
	if (!slot) {
		/* Nothing was ever registered: only report holes. */
		hole_err = xksm_set_ranges(mm, NULL, start, end, NULL);
		mmap_write_unlock(mm);
		mutex_unlock(&xksm_thread_mutex);
		return hole_err;
	}
	if (keep_merged)
		state = XKSM_RANGE_KEEP;
	else
		state = slot->merge_any ? XKSM_RANGE_OFF : NULL;
	hole_err = xksm_set_ranges(mm, slot, start, end, state);

	/*
	 * From here no merge can start in the range: xksmd checks the
	 * ranges under mmap_lock.  Unmerge with the lock downgraded.
	 */
	mmap_write_downgrade(mm);
	err = 0;
	if (!keep_merged) {
		err = xksm_unmerge_mm_range(mm, slot, start, end);
		if (!err && !slot->merge_any && !xksm_slot_has_ranges(slot))
			err = xksm_unmerge_mm(mm, slot);
	}
	mmap_read_unlock(mm);
	if (err) {
		/*
		 * Some pages could not be copied back: keep tracking those
		 * still merged (as XKSM_KEEP_MERGED would), rather than lose
		 * them from view.  xksmd cannot run meanwhile: we hold its
		 * mutex.
		 */
		mmap_write_lock(mm);
		xksm_set_ranges(mm, slot, start, end, XKSM_RANGE_KEEP);
		mmap_write_unlock(mm);
	}
	mutex_unlock(&xksm_thread_mutex);
	return err ?: hole_err;
}

/*
 * Move @mm to the domain of @ident (domain.c).  Every page of it merged in
 * the old domain is unmerged first, as those were merged with pages the
 * new domain must not share; xksm_thread_mutex keeps xksmd from merging
 * more meanwhile.  If some cannot be unmerged, the old identity stays,
 * with them, and the error is returned.
 */
static int xksm_rehome(struct mm_struct *mm, const struct xksm_identity *ident)
{
	struct xksm_identity old;
	struct xksm_mm_slot *slot;
	int err;

	err = xksm_lock_for_unmerge(mm);
	if (err)
		return err;
	slot = xksm_get_mm_slot(mm);
	if (!slot || !xksm_domain_differs(&slot->ident, ident)) {
		/* Rehomed already, by a racing registration. */
		mmap_write_unlock(mm);
		mutex_unlock(&xksm_thread_mutex);
		return 0;
	}
	old = slot->ident;
	slot->ident = *ident;
	mmap_write_downgrade(mm);
	err = xksm_unmerge_mm(mm, slot);
	mmap_read_unlock(mm);
	if (err) {
		mmap_write_lock(mm);
		slot->ident = old;
		mmap_write_unlock(mm);
	}
	mutex_unlock(&xksm_thread_mutex);
	return err;
}

/* Merge-any on, as prctl(PR_SET_MEMORY_MERGE, 1), by @ident. */
int xksm_set_merge_any(struct mm_struct *mm, const struct xksm_identity *ident,
		       bool set_id)
{
	struct xksm_mm_slot *slot;
	int err;

	slot = xksm_enter_as(mm, ident, set_id, 0, 0, &err);
	if (!slot)
		return err;
	if (!slot->merge_any) {
		/* As prctl(PR_SET_MEMORY_MERGE): everything, afresh. */
		/* Empty, and as mt_init() left it: fork.c may hold its lock. */
		mtree_destroy(&slot->ranges);
		slot->merge_any = true;
		xksm_wake_xksmd();
	}
	mmap_write_unlock(mm);
	return 0;
}

/* Merge-any off, unmerging everything it merged. */
int xksm_clear_merge_any(struct mm_struct *mm)
{
	struct xksm_mm_slot *slot;
	int err;

	err = xksm_lock_for_unmerge(mm);
	if (err)
		return err;
	slot = xksm_get_mm_slot(mm);
	if (slot && slot->merge_any) {
		slot->merge_any = false;
		/* Empty, and as mt_init() left it: fork.c may hold its lock. */
		mtree_destroy(&slot->ranges);
		mmap_write_downgrade(mm);
		err = xksm_unmerge_mm_range(mm, slot, 0, mm->task_size);
		mmap_read_unlock(mm);
		if (err) {
			/* As in xksm_unregister(): keep what is still merged. */
			mmap_write_lock(mm);
			mtree_store_range(&slot->ranges, 0, mm->task_size - 1,
					  XKSM_RANGE_KEEP, GFP_KERNEL_ACCOUNT);
			mmap_write_unlock(mm);
		}
	} else {
		mmap_write_unlock(mm);
	}
	mutex_unlock(&xksm_thread_mutex);
	return err;
}

/*
 * Give a forked child @mm its parent's registration at the fork (fork.c):
 * merge-any, the ranges, states and all, and the identity @ident.  While
 * run=2 unmerges, the KSM pages it was forked with are copied back.
 */
int xksm_inherit(struct mm_struct *mm, bool merge_any,
		 const struct xksm_identity *ident,
		 const struct xksm_range_copy *ranges, unsigned int nr)
{
	struct xksm_mm_slot *slot;
	unsigned int i;
	int err = 0;

	mmap_write_lock(mm);
	if (xksm_test_exit(mm))
		goto out;
	slot = xksm_enter(mm, ident);
	if (!slot) {
		err = -ENOMEM;
		goto out;
	}
	slot->merge_any |= merge_any;
	for (i = 0; i < nr && !err; i++)
		err = mtree_store_range(&slot->ranges, ranges[i].first,
					ranges[i].last, ranges[i].state,
					GFP_KERNEL_ACCOUNT);
	/*
	 * Copy back every KSM page the child maps: it was forked from an mm
	 * that run=2 may already have passed (the fork is noticed only after
	 * dup_mmap(), xksm_unmerge_all() may have ended in between).  Without
	 * xksm_thread_mutex (run=2 waits for fork.c's work under it): the
	 * child has no rmap_items yet, and a copy is the child's own write
	 * fault.  Best effort: a page not copied (no memory) has no stable
	 * node once run=2 is done, and xksmd copies such pages back when it
	 * meets them.
	 */
	if (READ_ONCE(xksm_run) & XKSM_RUN_UNMERGE) {
		mmap_write_downgrade(mm);
		xksm_unmerge_vmas(NULL, mm);
		mmap_read_unlock(mm);
		return err;
	}
out:
	mmap_write_unlock(mm);
	return err;
}

/* Is merge-any on for @mm?  And its domain id (0 if not registered). */
bool xksm_get_merge_any(struct mm_struct *mm, u32 *id)
{
	struct xksm_mm_slot *slot;
	bool on;

	spin_lock(&xksm_mmlist_lock);
	slot = xksm_get_mm_slot_locked(mm);
	on = slot && slot->merge_any;
	*id = slot ? slot->ident.id : 0;
	spin_unlock(&xksm_mmlist_lock);
	return on;
}

/*
 * Bytes an mm gains from xksm, as the kernel's ksm_process_profit(): pages
 * merged (with a KSM page or the zero page) less the rmap_items spent.
 */
long xksm_profit(unsigned long merging_pages, unsigned long zero_pages,
		 unsigned long rmap_items)
{
	return (long)(merging_pages + zero_pages) * PAGE_SIZE -
	       (long)(rmap_items * sizeof(struct xksm_rmap_item));
}

/*
 * What xksm does for @mm (XKSM_IOC_STATS, stat_file.c).  Under
 * xksm_thread_mutex the slot stays and its counters hold still; its ranges
 * do not change while the mmap_lock is held (xksm.h).
 */
int xksm_mm_stats(struct mm_struct *mm, struct xksm_stats *stats)
{
	struct xksm_mm_slot *slot;

	memset(stats, 0, sizeof(*stats));
	if (mutex_lock_killable(&xksm_thread_mutex))
		return -EINTR;
	if (mmap_read_lock_killable(mm)) {
		mutex_unlock(&xksm_thread_mutex);
		return -EINTR;
	}
	slot = xksm_get_mm_slot(mm);
	if (slot) {
		xksm_settle_zero_pages(slot);
		stats->merging_pages = slot->merging_pages;
		stats->rmap_items = slot->rmap_items;
		stats->zero_pages = slot->zero_pages;
		stats->merge_any = slot->merge_any;
		stats->registered_bytes = xksm_registered_bytes(slot);
		stats->mergeable = stats->merge_any || stats->registered_bytes;
		stats->domain = xksm_domain(&slot->ident);
	}
	mmap_read_unlock(mm);
	mutex_unlock(&xksm_thread_mutex);
	stats->profit = xksm_profit(stats->merging_pages, stats->zero_pages,
				    stats->rmap_items);
	return 0;
}

int xksm_mm_slot_init(void)
{
	xksm_mm_slot_cache = KMEM_CACHE(xksm_mm_slot, 0);
	return xksm_mm_slot_cache ? 0 : -ENOMEM;
}

void xksm_mm_slot_exit(void)
{
	kmem_cache_destroy(xksm_mm_slot_cache);
}
