/* SPDX-License-Identifier: GPL-2.0 */
/*
 * profile.h - where xksmd's time goes, phase by phase (profile.c).
 *
 * Each phase of a scan step is bracketed:
 *
 *	u64 t = xksm_prof_begin();
 *	...
 *	xksm_prof_end(XKSM_PH_HASH, t);
 *
 * With profiling off (the default) that is one load and one branch per
 * bracket; on, two local_clock() reads.  Phases nest (wrprotect, memcmp and
 * replace are inside merge_ksm and merge_two, alloc inside next), so the sums of the outer
 * phases are the ones that add up to xksmd's time.
 */
#ifndef _XKSM_PROFILE_H
#define _XKSM_PROFILE_H

#include <linux/compiler.h>
#include <linux/sched/clock.h>
#include <linux/types.h>

enum xksm_phase {
	XKSM_PH_BATCH,		/* one xksm_do_scan() batch, all of it */
	XKSM_PH_NEXT,		/* finding the next pages (a chunk a call) */
	XKSM_PH_HASH,		/* hashing the page */
	XKSM_PH_STABLE,		/* searching the stable tree */
	XKSM_PH_UNSTABLE,	/* searching (inserting into) the unstable tree */
	XKSM_PH_MERGE_KSM,	/* merging into a KSM page */
	XKSM_PH_MERGE_TWO,	/* merging two pages into a new KSM page */
	XKSM_PH_STABLE_ADD,	/* adding rmap_items (and nodes) to the stable tree */
	XKSM_PH_WRPROTECT,	/* inner: write-protecting a pte */
	XKSM_PH_MEMCMP,		/* inner: comparing two whole pages */
	XKSM_PH_REPLACE,	/* inner: pointing a pte at the KSM page */
	XKSM_PH_LOOKUP,		/* inner: a tree page's lookup by its mm */
	XKSM_PH_ALLOC,		/* inner: allocating a page's first rmap_item */
	XKSM_NR_PHASES
};

struct xksm_phase_stat {
	u64 ns;
	u64 calls;
};

extern bool xksm_profiling;
extern struct xksm_phase_stat xksm_phase_stats[XKSM_NR_PHASES];

/* The start of a phase: 0 when not profiling. */
static inline u64 xksm_prof_begin(void)
{
	return READ_ONCE(xksm_profiling) ? local_clock() ?: 1 : 0;
}

/* The end of @phase begun at @t0, counted as @calls.  xksm_thread_mutex held. */
static inline void xksm_prof_end_n(enum xksm_phase phase, u64 t0, u64 calls)
{
	if (t0) {
		xksm_phase_stats[phase].ns += local_clock() - t0;
		xksm_phase_stats[phase].calls += calls;
	}
}

/* The end of @phase begun at @t0.  xksm_thread_mutex held. */
static inline void xksm_prof_end(enum xksm_phase phase, u64 t0)
{
	xksm_prof_end_n(phase, t0, 1);
}

struct dentry;
void xksm_profile_debugfs(struct dentry *root);

#endif /* _XKSM_PROFILE_H */
