// SPDX-License-Identifier: GPL-2.0
/*
 * Migrating merged pages: move_pages() of N merged pages to the other NUMA
 * node succeeds (status == target node); the pages that shared a PFN still
 * share one (the new one, on the target node: the kernel moves the merged
 * page and updates its stable node), the contents are intact, the counters
 * unchanged, and after more scans the pages are still merged; a write after
 * the move still copies.
 */
#include <numa.h>

#include "xksm_test.h"

#define N	32
#define SEED	0x6b09

int main(void)
{
	void *pages[N];
	int nodes[N], status[N];
	unsigned long old_pfn[N];
	size_t i, moved, on_target, changed;
	long ret;
	char *a, *b;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	xt_unmerge_all();
	xt_map_twins(N, SEED, &a, &b);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d pairs are merged", N))
		return done();

	for (i = 0; i < N; i++) {
		pages[i] = a + i * XT_PAGE;
		nodes[i] = xt_page_node(pages[i]) == 0 ? 1 : 0;
		old_pfn[i] = xt_pfn(pages[i]);
		status[i] = -1;
	}
	/* Each merged page is mapped twice: MPOL_MF_MOVE_ALL (root) moves it. */
	ret = move_pages(0, N, pages, nodes, status, MPOL_MF_MOVE_ALL);
	check(ret == 0, "move_pages of the merged pages to the other node succeeds (ret %ld, %s)",
	      ret, ret < 0 ? strerror(errno) : "ok");
	for (moved = 0, on_target = 0, changed = 0, i = 0; i < N; i++) {
		moved += status[i] == nodes[i];
		on_target += xt_page_node(b + i * XT_PAGE) == nodes[i];
		changed += xt_pfn(pages[i]) != old_pfn[i];
	}
	check(moved == N, "every status is the target node (%zu of %d)", moved, N);
	check(changed == N, "every moved page has a new PFN (%zu of %d)", changed, N);
	check(on_target == N, "the other mapping of each page is on the target node too (%zu of %d)",
	      on_target, N);
	check(xt_count_same_pfn(0, a, 0, b, N) == N, "the pairs still share one PFN after the move");
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0, "the contents are intact");
	check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
	      "pages_shared == pages_sharing == %d still", N);

	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	check(xt_count_same_pfn(0, a, 0, b, N) == N, "after two more full scans they are still merged");
	check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
	      "and counted: pages_shared == pages_sharing == %d (got %lld, %lld)", N,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));

	a[0] ^= 1;
	check(xt_pfn(a) != xt_pfn(b), "a write to a moved merged page copies it");
	a[0] ^= 1;
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0, "and both read back their data");
	return done();
}
