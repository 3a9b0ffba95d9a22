/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace.h - xksm's tracepoints, the xksm:* events.
 *
 * In the manner of mainline's ksm:* events (include/trace/events/ksm.h,
 * 6.7), plus what is xksm's own: deferred rmap_items and their reaping
 * (rmap_item.c), and unmerging.  docs/tracepoints.md describes each event,
 * when it fires, and how to record them.
 *
 * Every event records plain values only: page frame numbers, addresses,
 * counters, and pointers that merely identify an object (printed with %p,
 * hashed unless the kernel runs with no_hash_pointers); TP_printk never
 * dereferences anything.  Disabled, an event costs a patched-out jump:
 * call sites pass values that are cheap to compute, or test
 * trace_<event>_enabled() first.
 *
 * trace.c instantiates the events (CREATE_TRACE_POINTS); the files that
 * fire them include this header.  It is found through Kbuild's
 * -I$(src)/module, as TRACE_INCLUDE_PATH below says.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM xksm

#if !defined(_XKSM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _XKSM_TRACE_H

#include <linux/tracepoint.h>

/**
 * xksm_start_scan - xksmd starts a full scan
 * @seq: sequence number of the scan: the full scans completed before it
 *	(full_scans in sysfs)
 * @rmap_items: rmap_items in existence
 * @deferred: of those, deferred ones on the reap list
 * @mm_slots: registered mms
 */
TRACE_EVENT(xksm_start_scan,

	TP_PROTO(unsigned long seq, unsigned long rmap_items,
		 unsigned long deferred, long mm_slots),

	TP_ARGS(seq, rmap_items, deferred, mm_slots),

	TP_STRUCT__entry(__field(unsigned long,	seq)
			 __field(unsigned long,	rmap_items)
			 __field(unsigned long,	deferred)
			 __field(long,		mm_slots)
	),

	TP_fast_assign(__entry->seq		= seq;
		       __entry->rmap_items	= rmap_items;
		       __entry->deferred	= deferred;
		       __entry->mm_slots	= mm_slots;
	),

	TP_printk("seq %lu rmap_items %lu deferred %lu mm_slots %ld",
		  __entry->seq, __entry->rmap_items, __entry->deferred,
		  __entry->mm_slots)
);

/**
 * xksm_stop_scan - xksmd completes a full scan
 * @seq: sequence number of the scan, as at its start (full_scans becomes
 *	@seq + 1)
 * @pages: pages scanned in this pass (not counting those smart_scan skipped)
 * @rmap_items: rmap_items in existence
 * @shared: pages_shared, KSM pages in use
 * @sharing: pages_sharing, further mappings of them
 * @unshared: pages_unshared, pages in the unstable tree
 */
TRACE_EVENT(xksm_stop_scan,

	TP_PROTO(unsigned long seq, unsigned long pages, unsigned long rmap_items,
		 unsigned long shared, unsigned long sharing,
		 unsigned long unshared),

	TP_ARGS(seq, pages, rmap_items, shared, sharing, unshared),

	TP_STRUCT__entry(__field(unsigned long,	seq)
			 __field(unsigned long,	pages)
			 __field(unsigned long,	rmap_items)
			 __field(unsigned long,	shared)
			 __field(unsigned long,	sharing)
			 __field(unsigned long,	unshared)
	),

	TP_fast_assign(__entry->seq		= seq;
		       __entry->pages		= pages;
		       __entry->rmap_items	= rmap_items;
		       __entry->shared		= shared;
		       __entry->sharing	= sharing;
		       __entry->unshared	= unshared;
	),

	TP_printk("seq %lu pages %lu rmap_items %lu shared %lu sharing %lu unshared %lu",
		  __entry->seq, __entry->pages, __entry->rmap_items,
		  __entry->shared, __entry->sharing, __entry->unshared)
);

/**
 * xksm_advisor - the scan-time advisor has set pages_to_scan
 * @scan_time: duration of the full scan just completed, in seconds
 * @pages_to_scan: the new pages_to_scan
 * @cpu_percent: xksmd's CPU use during that scan
 */
TRACE_EVENT(xksm_advisor,

	TP_PROTO(unsigned long scan_time, unsigned long pages_to_scan,
		 unsigned int cpu_percent),

	TP_ARGS(scan_time, pages_to_scan, cpu_percent),

	TP_STRUCT__entry(__field(unsigned long,	scan_time)
			 __field(unsigned long,	pages_to_scan)
			 __field(unsigned int,	cpu_percent)
	),

	TP_fast_assign(__entry->scan_time	= scan_time;
		       __entry->pages_to_scan	= pages_to_scan;
		       __entry->cpu_percent	= cpu_percent;
	),

	TP_printk("scan_time %lu pages_to_scan %lu cpu_percent %u",
		  __entry->scan_time, __entry->pages_to_scan,
		  __entry->cpu_percent)
);

DECLARE_EVENT_CLASS(xksm_enter_exit_template,

	TP_PROTO(void *mm),

	TP_ARGS(mm),

	TP_STRUCT__entry(__field(void *,		mm)
	),

	TP_fast_assign(__entry->mm	= mm;
	),

	TP_printk("mm %p", __entry->mm)
);

/**
 * xksm_enter - an mm is registered: xksm made a slot for it
 * @mm: the mm
 */
DEFINE_EVENT(xksm_enter_exit_template, xksm_enter,

	TP_PROTO(void *mm),

	TP_ARGS(mm)
);

/**
 * xksm_exit - an mm's slot is freed: the mm exited, or has nothing
 *	registered any more, and none of its rmap_items is left
 * @mm: the mm
 */
DEFINE_EVENT(xksm_enter_exit_template, xksm_exit,

	TP_PROTO(void *mm),

	TP_ARGS(mm)
);

/**
 * xksm_merge_one_page - a page was (or failed to be) merged into a KSM page
 * @pfn: page frame of the KSM page: the page itself when it becomes a new
 *	KSM page, or the zero page
 * @rmap_item: the rmap_item of the mapping
 * @mm: its mm
 * @addr: its address
 * @err: 0 if merged, else -EFAULT
 */
TRACE_EVENT(xksm_merge_one_page,

	TP_PROTO(unsigned long pfn, void *rmap_item, void *mm,
		 unsigned long addr, int err),

	TP_ARGS(pfn, rmap_item, mm, addr, err),

	TP_STRUCT__entry(__field(unsigned long,	pfn)
			 __field(void *,		rmap_item)
			 __field(void *,		mm)
			 __field(unsigned long,	addr)
			 __field(int,		err)
	),

	TP_fast_assign(__entry->pfn		= pfn;
		       __entry->rmap_item	= rmap_item;
		       __entry->mm		= mm;
		       __entry->addr		= addr;
		       __entry->err		= err;
	),

	TP_printk("pfn %lu rmap_item %p mm %p addr %#lx err %d",
		  __entry->pfn, __entry->rmap_item, __entry->mm,
		  __entry->addr, __entry->err)
);

/**
 * xksm_merge_with_ksm_page - end of an attempt to merge a page with a KSM page
 * @kpfn: page frame of the KSM page; equal to @pfn when the page is to
 *	become a new KSM page (the first of two identical pages)
 * @pfn: page frame of the page that was mapped
 * @rmap_item: the rmap_item of the mapping
 * @mm: its mm
 * @addr: its address
 * @err: 0 if merged, else -EFAULT
 */
TRACE_EVENT(xksm_merge_with_ksm_page,

	TP_PROTO(unsigned long kpfn, unsigned long pfn, void *rmap_item,
		 void *mm, unsigned long addr, int err),

	TP_ARGS(kpfn, pfn, rmap_item, mm, addr, err),

	TP_STRUCT__entry(__field(unsigned long,	kpfn)
			 __field(unsigned long,	pfn)
			 __field(void *,		rmap_item)
			 __field(void *,		mm)
			 __field(unsigned long,	addr)
			 __field(int,		err)
	),

	TP_fast_assign(__entry->kpfn		= kpfn;
		       __entry->pfn		= pfn;
		       __entry->rmap_item	= rmap_item;
		       __entry->mm		= mm;
		       __entry->addr		= addr;
		       __entry->err		= err;
	),

	TP_printk("kpfn %lu pfn %lu rmap_item %p mm %p addr %#lx err %d",
		  __entry->kpfn, __entry->pfn, __entry->rmap_item,
		  __entry->mm, __entry->addr, __entry->err)
);

/**
 * xksm_unmerge - a KSM page (or a zero page xksm merged) at one address was
 *	copied back into a private page, or failed to be
 * @mm: the mm
 * @addr: the address
 * @zero: it was the zero page
 * @err: 0, or -ENOMEM
 */
TRACE_EVENT(xksm_unmerge,

	TP_PROTO(void *mm, unsigned long addr, bool zero, int err),

	TP_ARGS(mm, addr, zero, err),

	TP_STRUCT__entry(__field(void *,		mm)
			 __field(unsigned long,	addr)
			 __field(bool,		zero)
			 __field(int,		err)
	),

	TP_fast_assign(__entry->mm	= mm;
		       __entry->addr	= addr;
		       __entry->zero	= zero;
		       __entry->err	= err;
	),

	TP_printk("mm %p addr %#lx zero %d err %d",
		  __entry->mm, __entry->addr, __entry->zero, __entry->err)
);

/**
 * xksm_remove_ksm_page - a stable node is removed: its page is gone, or
 *	given up (run=2, merge_across_nodes, memory offline, unload)
 * @kpfn: page frame of the KSM page
 * @stable_node: the node
 */
TRACE_EVENT(xksm_remove_ksm_page,

	TP_PROTO(unsigned long kpfn, void *stable_node),

	TP_ARGS(kpfn, stable_node),

	TP_STRUCT__entry(__field(unsigned long,	kpfn)
			 __field(void *,		stable_node)
	),

	TP_fast_assign(__entry->kpfn		= kpfn;
		       __entry->stable_node	= stable_node;
	),

	TP_printk("kpfn %lu stable_node %p", __entry->kpfn, __entry->stable_node)
);

/**
 * xksm_remove_rmap_item - an rmap_item stops being a mapping of a KSM page:
 *	it leaves its stable node, or stays on it only as a deferred route
 * @pfn: page frame of the KSM page
 * @rmap_item: the rmap_item
 * @mm: its mm
 * @addr: its address
 */
TRACE_EVENT(xksm_remove_rmap_item,

	TP_PROTO(unsigned long pfn, void *rmap_item, void *mm,
		 unsigned long addr),

	TP_ARGS(pfn, rmap_item, mm, addr),

	TP_STRUCT__entry(__field(unsigned long,	pfn)
			 __field(void *,		rmap_item)
			 __field(void *,		mm)
			 __field(unsigned long,	addr)
	),

	TP_fast_assign(__entry->pfn		= pfn;
		       __entry->rmap_item	= rmap_item;
		       __entry->mm		= mm;
		       __entry->addr		= addr;
	),

	TP_printk("pfn %lu rmap_item %p mm %p addr %#lx",
		  __entry->pfn, __entry->rmap_item, __entry->mm,
		  __entry->addr)
);

/**
 * xksm_defer_rmap_item - a leaving rmap_item (or a copy of it) stays on its
 *	KSM page's node as the route to other mms' ptes, and goes on the reap
 *	list (rmap_item.c)
 * @pfn: page frame of the KSM page
 * @rmap_item: the deferred rmap_item
 * @mm: its mm
 * @addr: its address
 * @deferred: deferred rmap_items now, this one included
 */
TRACE_EVENT(xksm_defer_rmap_item,

	TP_PROTO(unsigned long pfn, void *rmap_item, void *mm,
		 unsigned long addr, unsigned long deferred),

	TP_ARGS(pfn, rmap_item, mm, addr, deferred),

	TP_STRUCT__entry(__field(unsigned long,	pfn)
			 __field(void *,		rmap_item)
			 __field(void *,		mm)
			 __field(unsigned long,	addr)
			 __field(unsigned long,	deferred)
	),

	TP_fast_assign(__entry->pfn		= pfn;
		       __entry->rmap_item	= rmap_item;
		       __entry->mm		= mm;
		       __entry->addr		= addr;
		       __entry->deferred	= deferred;
	),

	TP_printk("pfn %lu rmap_item %p mm %p addr %#lx deferred %lu",
		  __entry->pfn, __entry->rmap_item, __entry->mm,
		  __entry->addr, __entry->deferred)
);

/**
 * xksm_reap_rmap_item - a deferred rmap_item is freed: no pte needs its
 *	route any more, or its node is gone
 * @rmap_item: the rmap_item
 * @mm: its mm
 * @addr: its address
 * @deferred: deferred rmap_items left
 */
TRACE_EVENT(xksm_reap_rmap_item,

	TP_PROTO(void *rmap_item, void *mm, unsigned long addr,
		 unsigned long deferred),

	TP_ARGS(rmap_item, mm, addr, deferred),

	TP_STRUCT__entry(__field(void *,		rmap_item)
			 __field(void *,		mm)
			 __field(unsigned long,	addr)
			 __field(unsigned long,	deferred)
	),

	TP_fast_assign(__entry->rmap_item	= rmap_item;
		       __entry->mm		= mm;
		       __entry->addr		= addr;
		       __entry->deferred	= deferred;
	),

	TP_printk("rmap_item %p mm %p addr %#lx deferred %lu",
		  __entry->rmap_item, __entry->mm, __entry->addr,
		  __entry->deferred)
);

#endif /* _XKSM_TRACE_H */

/* Outside the guard: define_trace.h reads this file again. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
