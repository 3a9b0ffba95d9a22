// SPDX-License-Identifier: GPL-2.0
/*
 * fork.c - a forked child inherits its parent's registration.
 *
 * With the kernel's KSM, a child inherits VM_MERGEABLE with its vmas (and
 * merge-any with its mm).  A module has no fork hook, so xksm listens to
 * the sched_process_fork tracepoint, which fires in the parent once the
 * child's mm is complete.  The probe runs in atomic context: it copies the
 * parent's registration (merge-any, the ranges, the identity) and queues
 * it with the child's mm; a work item then registers the child with it
 * under the usual locks.
 *
 * Between fork and the work, the child runs unregistered for a moment; if
 * it execs or exits first, its old mm is dead and nothing is copied.  The
 * parent may exit meanwhile (its copy is all the work needs), and the
 * child may fork (the probe copies the child's queued entry).  The probe
 * runs before the child is first woken, so a child's own ioctl, which
 * starts with xksm_fork_flush(), always sees what it inherited.  If the
 * probe cannot allocate (GFP_ATOMIC: 24 bytes a range, so a registration
 * of thousands of separate ranges may not fit), the child is not
 * registered: xksm_fork_lost counts such children.
 *
 * The identity is the parent's when the probe runs, which is after
 * dup_mmap(): if the parent moved to another merge domain in between, the
 * child maps pages of the old domain under the new one.  xksmd copies
 * such a page back when it meets it in a registered range
 * (xksm_cmp_and_merge_page()); elsewhere it stays until run=2.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/maple_tree.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>

#include "xksm.h"
#include "compat.h"

struct xksm_fork {
	struct list_head list;
	struct mm_struct *child;	/* mmgrab()bed */
	struct xksm_identity ident;	/* the parent's, at the fork */
	bool merge_any;			/* the parent's, at the fork */
	unsigned int nr;		/* of ranges */
	struct xksm_range_copy ranges[];	/* the parent's, at the fork */
};

/*
 * Forks waiting for xksm_fork_work, under xksm_fork_lock.  The work leaves
 * each on the list until the child is registered, so that a fork by the
 * child in the meantime finds what the child will have.
 */
static LIST_HEAD(xksm_forks);
static DEFINE_SPINLOCK(xksm_fork_lock);

/* Children of registered mms that could not be registered (no memory). */
atomic_long_t xksm_fork_lost = ATOMIC_LONG_INIT(0);

static struct tracepoint *xksm_fork_tp;

static void xksm_fork_work_fn(struct work_struct *work)
{
	struct xksm_fork *fork;

	for (;;) {
		spin_lock(&xksm_fork_lock);
		fork = list_first_entry_or_null(&xksm_forks, struct xksm_fork,
						list);
		spin_unlock(&xksm_fork_lock);
		if (!fork)
			break;
		/* A child that has exited, or execed, has nothing to get. */
		if (mmget_not_zero(fork->child)) {
			if (xksm_inherit(fork->child, fork->merge_any,
					 &fork->ident, fork->ranges, fork->nr))
				atomic_long_inc(&xksm_fork_lost);
			mmput(fork->child);
		}
		spin_lock(&xksm_fork_lock);
		list_del(&fork->list);
		spin_unlock(&xksm_fork_lock);
		mmdrop(fork->child);
		kfree(fork);
		cond_resched();
	}
}

static DECLARE_WORK(xksm_fork_work, xksm_fork_work_fn);

/*
 * The registration of @slot, copied: merge-any, the ranges and the
 * identity.  xksm_mmlist_lock held, which keeps the slot (xksmd frees
 * slots off the hash first); the ranges' own lock keeps them still.
 */
static struct xksm_fork *xksm_fork_copy_slot(struct xksm_mm_slot *slot)
{
	MA_STATE(mas, &slot->ranges, 0, 0);
	struct xksm_fork *fork;
	unsigned int nr = 0;
	void *entry;

	lockdep_assert_held(&xksm_mmlist_lock);
	mtree_lock(&slot->ranges);
	mas_for_each(&mas, entry, ULONG_MAX)
		nr++;
	fork = kmalloc(struct_size(fork, ranges, nr), GFP_ATOMIC | __GFP_NOWARN);
	if (fork) {
		fork->nr = 0;
		mas_set(&mas, 0);
		mas_for_each(&mas, entry, ULONG_MAX) {
			fork->ranges[fork->nr].first = mas.index;
			fork->ranges[fork->nr].last = mas.last;
			fork->ranges[fork->nr].state = entry;
			fork->nr++;
		}
		fork->merge_any = READ_ONCE(slot->merge_any);
		fork->ident = slot->ident;
	}
	mtree_unlock(&slot->ranges);
	return fork;
}

/*
 * What a child @mm not registered yet will have: a copy of its own fork's
 * entry, if it is still queued.  xksm_fork_lock held.  NULL, with *@found
 * false, if there is none.
 */
static struct xksm_fork *xksm_fork_copy_pending(struct mm_struct *mm,
						bool *found)
{
	struct xksm_fork *pending, *fork;

	lockdep_assert_held(&xksm_fork_lock);
	*found = false;
	list_for_each_entry(pending, &xksm_forks, list) {
		if (pending->child != mm)
			continue;
		*found = true;
		fork = kmalloc(struct_size(fork, ranges, pending->nr),
			       GFP_ATOMIC | __GFP_NOWARN);
		if (fork)
			memcpy(fork, pending, struct_size(fork, ranges, pending->nr));
		return fork;
	}
	return NULL;
}

/*
 * sched_process_fork: in the parent, atomic context.  The registration
 * the child inherits is the parent's at this moment, copied here: by the
 * time the work runs, the parent may have changed it, or exited (a
 * daemon's double fork).  A parent that is itself a child still queued
 * passes on what it will have.
 */
static void xksm_fork_probe(void *data, struct task_struct *parent,
			    struct task_struct *child)
{
	struct mm_struct *mm = parent->mm, *child_mm = child->mm;
	struct xksm_mm_slot *slot;
	struct xksm_fork *fork = NULL;
	bool found;

	if (!mm || !child_mm || mm == child_mm)
		return;		/* a kernel thread, or a thread (CLONE_VM) */

	spin_lock(&xksm_mmlist_lock);
	slot = xksm_get_mm_slot_locked(mm);
	if (slot)
		fork = xksm_fork_copy_slot(slot);
	spin_unlock(&xksm_mmlist_lock);

	spin_lock(&xksm_fork_lock);
	if (!slot) {
		fork = xksm_fork_copy_pending(mm, &found);
		if (!found) {
			spin_unlock(&xksm_fork_lock);
			return;		/* not registered */
		}
	}
	if (fork) {
		mmgrab(child_mm);
		fork->child = child_mm;
		list_add_tail(&fork->list, &xksm_forks);
	}
	spin_unlock(&xksm_fork_lock);
	if (!fork) {
		atomic_long_inc(&xksm_fork_lost);
		return;
	}
	schedule_work(&xksm_fork_work);
}

/* Wait until every fork queued so far has been inherited. */
void xksm_fork_flush(void)
{
	flush_work(&xksm_fork_work);
}

static void xksm_find_fork_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_fork"))
		xksm_fork_tp = tp;
}

int xksm_fork_init(void)
{
	int err;

	for_each_kernel_tracepoint(xksm_find_fork_tp, NULL);
	if (!xksm_fork_tp) {
		pr_err("no sched_process_fork tracepoint\n");
		return -ENOENT;
	}
	err = tracepoint_probe_register(xksm_fork_tp, xksm_fork_probe, NULL);
	if (err)
		pr_err("cannot attach to sched_process_fork: %d\n", err);
	return err;
}

void xksm_fork_exit(void)
{
	tracepoint_probe_unregister(xksm_fork_tp, xksm_fork_probe, NULL);
	tracepoint_synchronize_unregister();
	/* No probe runs any more: finish (or drop) what is queued. */
	flush_work(&xksm_fork_work);
	xksm_fork_work_fn(NULL);
}
