// SPDX-License-Identifier: GPL-2.0
/*
 * ksm_coexist.c - keeping the kernel's own KSM off xksm's pages.
 *
 * The kernel's KSM and xksm may run at once, on different processes or on
 * the same one.  xksm never merges in memory the kernel's KSM manages
 * (VM_MERGEABLE vmas, merge-any mms: xksm_vma_compatible()).  The danger
 * is the other way round: a process madvises MADV_MERGEABLE (or, on 6.12,
 * prctl(PR_SET_MEMORY_MERGE)) over memory where xksm has already merged.
 * The kernel's ksmd would then find xksm's KSM pages, take them for forked
 * KSM pages of its own, and hang its rmap_items on xksm's stable nodes:
 * both KSMs would then free and rebalance each other's structures.
 *
 * So xksm hooks the two entry points, ksm_madvise() and
 * ksm_enable_merge_any(), with ftrace (as livepatch does), and before the
 * kernel marks memory mergeable, unmerges xksm's pages there.  Both run
 * with the mm's mmap_lock held for write, which is also what xksmd needs
 * (for read) to merge, and the kernel's ksmd to scan: so no merge by either
 * can slip between the unmerge and the kernel's taking over.  If the
 * unmerge fails (out of memory), the madvise fails with it, and the kernel
 * never sees the range.
 *
 * The registration stays: should the process later give the range back
 * (MADV_UNMERGEABLE), xksm merges there again.
 *
 * The same hook breaks xksm's pages where the kernel breaks its own with
 * ksm_madvise(MADV_UNMERGEABLE): in a range mremap() is about to move
 * (move_vma() calls it for every vma), and where a process asks for it;
 * see xksm_ksm_madvise().
 *
 * Unloading must not free the replacements' code while a task runs in it
 * (it may sleep there, faulting pages in): the thunk counts the calls it
 * redirects in xksm_hooks_inflight, and the exit waits for them to finish,
 * then for RCU Tasks, so that no task is left in the last instructions
 * after the count dropped.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/ksm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/rcupdate_wait.h>

#include "xksm.h"
#include "compat.h"

/* Calls redirected to a replacement and not yet returned. */
static atomic_t xksm_hooks_inflight = ATOMIC_INIT(0);

/*
 * Unmerge xksm's pages in [start, end) of @vma, whose mm's mmap_lock is
 * held for write: xksm_unmerge_range() without a slot, so KSM pages only.
 * The zero pages xksm mapped need no unmerging: the kernel's KSM ignores
 * clean zero-page ptes.  A fatal signal ends the walk with -EINTR, which
 * fails the madvise (or mremap) of a task that is dying anyway.
 *
 * Not only in registered mms: a child forked from one maps its KSM pages
 * before it is registered (fork.c), and forever if its registration was
 * lost.  Only while xksm has KSM pages at all (a snapshot is enough: a
 * page of this mm merged later needs this mmap_lock, held here).
 */
static int xksm_yield_range(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end)
{
	mmap_assert_write_locked(vma->vm_mm);
	if (!vma->anon_vma || !READ_ONCE(xksm_stable_nodes))
		return 0;
	return xksm_unmerge_range(NULL, vma, start, end);
}

/*
 * Break xksm's KSM pages in a range mremap() moves (or madvise()
 * MADV_UNMERGEABLE asks to unmerge), as the kernel does for its own:
 * switched off only to test what xksmd does with KSM pages that moved.
 */
bool xksm_mremap_unmerge = true;
module_param_named(mremap_unmerge, xksm_mremap_unmerge, bool, 0644);
MODULE_PARM_DESC(mremap_unmerge,
		 "unmerge xksm's pages in ranges mremap() moves (default Y)");

/*
 * In place of ksm_madvise(): yield the range before the kernel takes it;
 * and break xksm's pages where the kernel breaks its own.
 *
 * move_vma() calls ksm_madvise(MADV_UNMERGEABLE) on the range it is about
 * to move, of any vma: the kernel's KSM unmerges its pages there first,
 * because its rmap finds a KSM page's mappings by address (the rmap_items'),
 * and a moved pte would be lost to it.  xksm's pages have the same rmap: a
 * moved one could not be migrated or reclaimed until xksmd gave it a route
 * (xksm_adopt_ksm_page()), and a migration entry moved while the page is
 * being migrated would never be found again (the next fault on it hits the
 * BUG in pfn_swap_entry_to_page()).  So unmerge them too, waiting for
 * those being migrated (xksm_walk_next()); the mmap_lock, held for write,
 * keeps xksmd from merging them again before the move.
 */
static int xksm_ksm_madvise(struct vm_area_struct *vma, unsigned long start,
			    unsigned long end, int advice, unsigned long *vm_flags)
{
	int err = 0;

	if (advice == MADV_MERGEABLE && xksm_vma_compatible(vma))
		err = xksm_yield_range(vma, start, end);
	else if (advice == MADV_UNMERGEABLE && READ_ONCE(xksm_mremap_unmerge) &&
		 xksm_vma_compatible(vma))
		err = xksm_yield_range(vma, start, end);
	if (!err)
		err = ksm_madvise(vma, start, end, advice, vm_flags);
	atomic_dec(&xksm_hooks_inflight);
	return err;
}

#ifdef XKSM_HAVE_KSM_MERGE_ANY
/* In place of ksm_enable_merge_any(): yield the whole mm first. */
static int xksm_ksm_enable_merge_any(struct mm_struct *mm)
{
	int err = 0;

	mmap_assert_write_locked(mm);
	if (!xksm_kernel_merge_any(mm) && READ_ONCE(xksm_stable_nodes))
		err = xksm_unmerge_vmas(NULL, mm);
	if (!err)
		err = xksm_call(ksm_enable_merge_any)(mm);
	atomic_dec(&xksm_hooks_inflight);
	return err;
}
#endif

struct xksm_hook {
	char name[32];			/* the kernel function hooked */
	void *replacement;		/* called in its place */
	struct ftrace_ops ops;
	bool registered;
};

static struct xksm_hook xksm_hooks[] = {
	{ .name = "ksm_madvise", .replacement = xksm_ksm_madvise },
#ifdef XKSM_HAVE_KSM_MERGE_ANY
	{ .name = "ksm_enable_merge_any", .replacement = xksm_ksm_enable_merge_any },
#endif
};

/*
 * The ftrace callback at the entry of a hooked function: send the call to
 * the replacement, unless it comes from xksm itself (the replacement
 * calling the original).
 */
static void notrace xksm_hook_thunk(unsigned long ip, unsigned long parent_ip,
				    struct ftrace_ops *ops,
				    struct ftrace_regs *fregs)
{
	struct xksm_hook *hook = container_of(ops, struct xksm_hook, ops);

	if (!within_module(parent_ip, THIS_MODULE)) {
		atomic_inc(&xksm_hooks_inflight);
		xksm_ftrace_set_ip(fregs, (unsigned long)hook->replacement);
	}
}

void xksm_coexist_exit(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(xksm_hooks); i++) {
		struct xksm_hook *hook = &xksm_hooks[i];

		if (!hook->registered)
			continue;
		unregister_ftrace_function(&hook->ops);
		ftrace_free_filter(&hook->ops);
		hook->registered = false;
	}
	/* No thunk runs any more: wait for the calls it redirected. */
	while (atomic_read(&xksm_hooks_inflight))
		msleep(20);
	synchronize_rcu_tasks();
}

int xksm_coexist_init(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(xksm_hooks); i++) {
		struct xksm_hook *hook = &xksm_hooks[i];

		hook->ops.func = xksm_hook_thunk;
		hook->ops.flags = FTRACE_OPS_FL_SAVE_REGS |
				  FTRACE_OPS_FL_IPMODIFY |
				  FTRACE_OPS_FL_RECURSION;
		err = ftrace_set_filter(&hook->ops, (unsigned char *)hook->name,
					strlen(hook->name), 0);
		if (!err)
			err = register_ftrace_function(&hook->ops);
		if (err) {
			pr_err("cannot hook %s (needed to keep the kernel's KSM off xksm's pages): %d\n",
			       hook->name, err);
			ftrace_free_filter(&hook->ops);
			xksm_coexist_exit();
			return err;
		}
		hook->registered = true;
	}
	return 0;
}
