// SPDX-License-Identifier: GPL-2.0
/*
 * merge_across_nodes=0: identical pages merge only with pages on their own
 * NUMA node.  Two copies of N pages on node 0 and two on node 1 (mbind
 * MPOL_BIND): the copies on one node share PFNs, on node 0 and on node 1
 * respectively (move_pages status query), and no PFN is shared across
 * nodes; pages_shared == pages_sharing == 2N.  The knob cannot change while
 * pages are merged (EBUSY); after run=2 it can, and with
 * merge_across_nodes=1 all four copies merge into one page per content.
 */
#include <numa.h>

#include "xksm_test.h"

#define N	32
#define SEED	0x6b08

static char *on_node(int node)
{
	unsigned long mask = 1UL << node;
	char *p = xt_map(N);

	if (mbind(p, N * XT_PAGE, MPOL_BIND, &mask, sizeof(mask) * 8, 0))
		fatal("mbind to node %d", node);
	xt_fill(p, N, SEED);
	return p;
}

/* How many of the N pages of p are on node. */
static size_t pages_on(char *p, int node)
{
	size_t i, n = 0;

	for (i = 0; i < N; i++)
		n += xt_page_node(p + i * XT_PAGE) == node;
	return n;
}

int main(void)
{
	char *a0, *a0b, *b1, *b1b;
	int err;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	xt_unmerge_all();
	xt_knob_save("merge_across_nodes");
	err = xt_knob_write("merge_across_nodes", 0);
	if (!check(err == 0, "merge_across_nodes=0 is accepted with nothing merged (%s)", strerror(err)))
		return done();

	a0 = on_node(0);
	a0b = on_node(0);
	b1 = on_node(1);
	b1b = on_node(1);
	check(pages_on(a0, 0) == N && pages_on(a0b, 0) == N && pages_on(b1, 1) == N &&
	      pages_on(b1b, 1) == N, "the copies are on the nodes they were bound to");
	xt_register_or_die(a0, N * XT_PAGE);
	xt_register_or_die(a0b, N * XT_PAGE);
	xt_register_or_die(b1, N * XT_PAGE);
	xt_register_or_die(b1b, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);

	check(xt_count_same_pfn(0, a0, 0, a0b, N) == N, "the two copies on node 0 merge (%zu of %d)",
	      xt_count_same_pfn(0, a0, 0, a0b, N), N);
	check(xt_count_same_pfn(0, b1, 0, b1b, N) == N, "the two copies on node 1 merge (%zu of %d)",
	      xt_count_same_pfn(0, b1, 0, b1b, N), N);
	check(xt_count_same_pfn(0, a0, 0, b1, N) == 0 && xt_count_same_pfn(0, a0b, 0, b1b, N) == 0,
	      "no page on node 0 shares a PFN with a page on node 1");
	check(pages_on(a0, 0) == N && pages_on(b1, 1) == N,
	      "the merged pages of node 0 are on node 0, those of node 1 on node 1");
	check(xt_knob("pages_shared") == 2 * N && xt_knob("pages_sharing") == 2 * N,
	      "pages_shared == pages_sharing == %d (got %lld, %lld)", 2 * N,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(xt_knob_write("merge_across_nodes", 1) == EBUSY,
	      "merge_across_nodes cannot change while pages are merged (EBUSY)");
	check(xt_verify(a0, N, SEED) + xt_verify(a0b, N, SEED) + xt_verify(b1, N, SEED) +
	      xt_verify(b1b, N, SEED) == 0, "all copies read back intact");

	/* Back to merging across nodes. */
	xt_knob_set("run", 2);
	err = xt_knob_write("merge_across_nodes", 1);
	check(err == 0, "after run=2, merge_across_nodes=1 is accepted (%s)", strerror(err));
	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, a0, 0, b1, N) == N && xt_count_same_pfn(0, a0, 0, a0b, N) == N &&
	      xt_count_same_pfn(0, a0, 0, b1b, N) == N,
	      "with merge_across_nodes=1 all four copies share one page per content");
	check(xt_knob("pages_shared") == N, "pages_shared == %d (got %lld)", N, xt_knob("pages_shared"));
	return done();
}
