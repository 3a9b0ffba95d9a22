// SPDX-License-Identifier: GPL-2.0
/*
 * hotplug.c - memory going offline.
 *
 * The kernel's KSM prunes only its own stable tree when memory goes
 * offline.  Page migration moves the KSM pages still in use out of the
 * block (and updates their stable nodes' kpfn), but a stable node whose
 * page was freed before xksmd noticed (a stale node, found only through
 * its "keyhole") would keep pointing at a page frame that is no longer
 * there; if the memory is then removed, so are its struct pages.  So, as
 * mainline does for its own tree:
 *
 *  - MEM_GOING_OFFLINE sets XKSM_RUN_OFFLINE: xksmd, run=2, the knobs that
 *    rebuild the trees and unregistering wait (wait_while_offlining()) -
 *    they must not touch the stable tree while its pages are migrated;
 *  - MEM_OFFLINE removes every stable node whose kpfn is in the block;
 *  - then (or on MEM_CANCEL_OFFLINE) the flag is cleared and the waiters
 *    woken.
 */

#include <linux/memory.h>
#include <linux/wait_bit.h>

#include "xksm.h"
#include "compat.h"

static int xksm_memory_callback(struct notifier_block *self,
				unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;

	switch (action) {
	case MEM_GOING_OFFLINE:
		mutex_lock(&xksm_thread_mutex);
		xksm_run |= XKSM_RUN_OFFLINE;
		mutex_unlock(&xksm_thread_mutex);
		break;

	case MEM_OFFLINE:
		/*
		 * No one else touches the stable tree now (XKSM_RUN_OFFLINE);
		 * the kernel's rmap walks need no pruned node: their pages
		 * are gone.
		 */
		xksm_stable_tree_prune_range(mn->start_pfn,
					     mn->start_pfn + mn->nr_pages);
		fallthrough;
	case MEM_CANCEL_OFFLINE:
		mutex_lock(&xksm_thread_mutex);
		xksm_run &= ~XKSM_RUN_OFFLINE;
		mutex_unlock(&xksm_thread_mutex);
		smp_mb();	/* wake_up_bit advises this */
		wake_up_bit(&xksm_run, ilog2(XKSM_RUN_OFFLINE));
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block xksm_memory_nb = {
	.notifier_call = xksm_memory_callback,
};

/*
 * Wait, with xksm_thread_mutex held, until no memory is going offline;
 * drops and retakes the mutex while waiting.
 */
void xksm_wait_while_offlining(void)
{
	lockdep_assert_held(&xksm_thread_mutex);
	while (xksm_run & XKSM_RUN_OFFLINE) {
		mutex_unlock(&xksm_thread_mutex);
		wait_on_bit(&xksm_run, ilog2(XKSM_RUN_OFFLINE),
			    TASK_UNINTERRUPTIBLE);
		mutex_lock(&xksm_thread_mutex);
	}
}

int xksm_hotplug_init(void)
{
	return register_memory_notifier(&xksm_memory_nb);
}

void xksm_hotplug_exit(void)
{
	unregister_memory_notifier(&xksm_memory_nb);
}
