// SPDX-License-Identifier: GPL-2.0
/*
 * fork.c - a forked child inherits its parent's registration.
 *
 * With the kernel's KSM, a child inherits VM_MERGEABLE with its vmas (and
 * merge-any with its mm).  A module has no fork hook, so xksm listens to
 * the sched_process_fork tracepoint, which fires in the parent once the
 * child's mm is complete.  The probe runs in atomic context: it only grabs
 * both mms and queues the pair; a work item then copies the parent's
 * registered ranges (and merge-any) to the child under the usual locks.
 *
 * Between fork and the work, the child runs unregistered for a moment; if
 * it execs or exits first, its old mm is dead and nothing is copied.  The
 * probe runs before the child is first woken, so a child's own ioctl, which
 * starts with xksm_fork_flush(), always sees what it inherited.  If
 * the probe cannot allocate (GFP_ATOMIC), the child is not registered:
 * xksm_fork_lost counts such children.
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
	struct mm_struct *parent;	/* mmgrab()bed */
	struct mm_struct *child;	/* mmgrab()bed */
	struct xksm_identity ident;	/* the parent's, at the fork */
};

/* Forks waiting for xksm_fork_work, under xksm_fork_lock. */
static LIST_HEAD(xksm_forks);
static DEFINE_SPINLOCK(xksm_fork_lock);

/* Children of registered mms that could not be registered (no memory). */
atomic_long_t xksm_fork_lost = ATOMIC_LONG_INIT(0);

static struct tracepoint *xksm_fork_tp;

/*
 * Copy @parent's registration to @child.  The ranges are copied out under
 * the parent's mmap_lock, then in under the child's: never both at once.
 */
static void xksm_fork_inherit(struct mm_struct *parent, struct mm_struct *child,
			      const struct xksm_identity *ident)
{
	struct xksm_range_copy *ranges = NULL;
	struct xksm_mm_slot *slot;
	bool rehomed = false;
	unsigned int nr = 0, max = 0;
	bool merge_any = false;
	void *entry;

	if (!mmget_not_zero(parent))
		return;
	/*
	 * For write: xksmd frees a slot with nothing registered holding the
	 * mmap_lock for read, so a reader could see it go.
	 */
	mmap_write_lock(parent);
	slot = xksm_get_mm_slot(parent);
	if (slot) {
		MA_STATE(mas, &slot->ranges, 0, 0);

		merge_any = slot->merge_any;
		/*
		 * The child's memory merges where its parent's did at the
		 * fork; if the parent has moved to another domain since, the
		 * child keeps the old one, and the pages merged there.
		 */
		rehomed = xksm_domain_differs(ident, &slot->ident);
		rcu_read_lock();
		mas_for_each(&mas, entry, ULONG_MAX)
			max++;
		rcu_read_unlock();
		ranges = kvmalloc_array(max ?: 1, sizeof(*ranges), GFP_KERNEL);
		if (ranges) {
			mas_set(&mas, 0);
			rcu_read_lock();
			mas_for_each(&mas, entry, ULONG_MAX) {
				if (nr == max)
					break;
				ranges[nr].first = mas.index;
				ranges[nr].last = mas.last;
				ranges[nr].state = entry;
				nr++;
			}
			rcu_read_unlock();
		}
	}
	mmap_write_unlock(parent);
	mmput(parent);

	if (!slot)
		return;
	if (!ranges) {
		atomic_long_inc(&xksm_fork_lost);
		return;
	}
	if (mmget_not_zero(child)) {
		if (xksm_inherit(child, merge_any, ident, ranges, nr, rehomed))
			atomic_long_inc(&xksm_fork_lost);
		mmput(child);
	}
	kvfree(ranges);
}

static void xksm_fork_work_fn(struct work_struct *work)
{
	struct xksm_fork *fork;

	for (;;) {
		spin_lock(&xksm_fork_lock);
		fork = list_first_entry_or_null(&xksm_forks, struct xksm_fork,
						list);
		if (fork)
			list_del(&fork->list);
		spin_unlock(&xksm_fork_lock);
		if (!fork)
			break;
		xksm_fork_inherit(fork->parent, fork->child, &fork->ident);
		mmdrop(fork->parent);
		mmdrop(fork->child);
		kfree(fork);
		cond_resched();
	}
}

static DECLARE_WORK(xksm_fork_work, xksm_fork_work_fn);

/* sched_process_fork: in the parent, atomic context. */
static void xksm_fork_probe(void *data, struct task_struct *parent,
			    struct task_struct *child)
{
	struct mm_struct *mm = parent->mm, *child_mm = child->mm;
	struct xksm_identity ident;
	struct xksm_mm_slot *slot;
	struct xksm_fork *fork;

	if (!mm || !child_mm || mm == child_mm)
		return;		/* a kernel thread, or a thread (CLONE_VM) */

	spin_lock(&xksm_mmlist_lock);
	slot = xksm_get_mm_slot_locked(mm);
	if (slot)
		ident = slot->ident;
	spin_unlock(&xksm_mmlist_lock);
	if (!slot)
		return;

	fork = kmalloc(sizeof(*fork), GFP_ATOMIC | __GFP_NOWARN);
	if (!fork) {
		atomic_long_inc(&xksm_fork_lost);
		return;
	}
	mmgrab(mm);
	mmgrab(child_mm);
	fork->parent = mm;
	fork->child = child_mm;
	fork->ident = ident;
	spin_lock(&xksm_fork_lock);
	list_add_tail(&fork->list, &xksm_forks);
	spin_unlock(&xksm_fork_lock);
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
