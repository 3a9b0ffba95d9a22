// SPDX-License-Identifier: GPL-2.0
/*
 * Two processes, each with its own registered memory: N pages whose
 * contents they have in common (distinct from page to page) and M pages
 * only each has.  After two full scans:
 *  - each common page maps one PFN in both processes, and no two pages with
 *    different contents share a PFN;
 *  - pages_shared == N, pages_sharing == N, pages_unshared +
 *    pages_volatile == 2M (smart_scan moves skipped pages from unshared to
 *    volatile), and each process's merging_pages is N (their sum
 *    is pages_shared + pages_sharing);
 *  - every byte still reads back as written.
 */
#include "xksm_test.h"

#define N	128	/* pages with the same contents in both processes */
#define M	32	/* pages of contents only one process has */
#define SEED	0x6b01

static char *mem;			/* N + M pages, same address in both */
static struct xksm_stats *child_stats;	/* shared with the child */

static int child(int cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	case 0:		/* set-up: own pages, own registration */
		xt_fill(mem, N, SEED);
		xt_fill(mem + N * XT_PAGE, M, SEED + 2);
		return xt_register(mem, (N + M) * XT_PAGE) ? errno : 0;
	case 's':
		return xt_stats(child_stats) ? errno : 0;
	case 'v':
		return (xt_verify(mem, N, SEED) + xt_verify(mem + N * XT_PAGE, M, SEED + 2)) ? 1 : 0;
	}
	return 255;
}

int main(void)
{
	struct xksm_stats st;
	struct xt_child c;
	long long shared, sharing, unshared, volatile_;
	int ret;

	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	xt_unmerge_all();		/* a clean start: nothing merged, scanner stopped */

	mem = xt_map(N + M);
	child_stats = xt_map_shared(1);
	ret = xt_child_start(&c, child, NULL);
	if (!check(ret == 0, "the child registers its %d pages (%s)", N + M, strerror(ret)))
		return done();
	xt_fill(mem, N, SEED);
	xt_fill(mem + N * XT_PAGE, M, SEED + 1);
	check(xt_register(mem, (N + M) * XT_PAGE) == 0, "the parent registers its %d pages", N + M);

	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);		/* freeze the counters */

	check(xt_count_same_pfn(0, mem, c.pid, mem, N) == N,
	      "all %d common pages share one PFN across the two processes (%zu do)",
	      N, xt_count_same_pfn(0, mem, c.pid, mem, N));
	check(xt_count_same_pfn(0, mem + N * XT_PAGE, c.pid, mem + N * XT_PAGE, M) == 0,
	      "pages with different contents in the two processes never share a PFN");
	check(xt_count_pfn_pairs(0, mem, N + M) == 0,
	      "no two pages with different contents in the parent share a PFN");
	check(xt_count_pfn_pairs(c.pid, mem, N + M) == 0,
	      "no two pages with different contents in the child share a PFN");

	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	unshared = xt_knob("pages_unshared");
	volatile_ = xt_knob("pages_volatile");
	check(shared == N, "pages_shared == %d (got %lld)", N, shared);
	check(sharing == N, "pages_sharing == %d (got %lld)", N, sharing);
	/*
	 * The pages only one process has sit in the unstable tree (unshared),
	 * or, once smart_scan (6.7+) skips them, count as volatile.
	 */
	check(unshared + volatile_ == 2 * M,
	      "pages_unshared + pages_volatile == %d, the pages only one process has (got %lld + %lld)",
	      2 * M, unshared, volatile_);
	check(shared + sharing + unshared + volatile_ == 2 * (N + M),
	      "shared + sharing + unshared + volatile == %d, one per registered page", 2 * (N + M));

	st = xt_stats_or_die();
	check(xt_child_cmd(&c, 's') == 0, "the child reads its statistics");
	check(st.merging_pages == N, "parent merging_pages == %d (got %llu)", N,
	      (unsigned long long)st.merging_pages);
	check(child_stats->merging_pages == N, "child merging_pages == %d (got %llu)", N,
	      (unsigned long long)child_stats->merging_pages);
	check((long long)(st.merging_pages + child_stats->merging_pages) == shared + sharing,
	      "merging_pages of both processes add up to pages_shared + pages_sharing");
	if (xt_known(st.rmap_items))
		check(st.rmap_items == N + M, "parent rmap_items == %d, one per registered page (got %llu)",
		      N + M, (unsigned long long)st.rmap_items);

	check(xt_verify(mem, N, SEED) == 0 && xt_verify(mem + N * XT_PAGE, M, SEED + 1) == 0,
	      "the parent reads back every byte it wrote");
	check(xt_child_cmd(&c, 'v') == 0, "the child reads back every byte it wrote");
	check(xt_child_stop(&c) == 0, "the child exits cleanly");
	return done();
}
