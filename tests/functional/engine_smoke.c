// SPDX-License-Identifier: GPL-2.0
/*
 * The merging engine end to end, in one process: two registered regions of
 * identical pages end on shared PFNs, the counters add up, a write copies,
 * UNMERGEABLE breaks the rest at once, run=2 empties everything.
 */
#include <sys/mman.h>

#include "xksm_test.h"

#define N	64
#define SEED	0x5e0

int main(void)
{
	struct xksm_stats st;
	size_t i, distinct;
	char *a, *b;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	a = xt_map(N);
	b = xt_map(N);
	xt_fill(a, N, SEED);		/* every page distinct ... */
	xt_fill(b, N, SEED);		/* ... and b a copy of a */

	xt_unmerge_all();
	check(xt_register(a, N * XT_PAGE) == 0, "register a");
	check(xt_register(b, N * XT_PAGE) == 0, "register b");
	xt_start_fast();
	xt_wait_full_scans(3);

	check(xt_count_same_pfn(0, a, 0, b, N) == N,
	      "all %d page pairs share one PFN (%zu do)", N,
	      xt_count_same_pfn(0, a, 0, b, N));
	distinct = xt_count_pfn_pairs(0, a, N);
	check(distinct == 0, "different pages never share a PFN (%zu pairs do)", distinct);
	check(xt_knob("pages_shared") == N, "pages_shared == %d (%lld)", N,
	      xt_knob("pages_shared"));
	check(xt_knob("pages_sharing") == N, "pages_sharing == %d (%lld)", N,
	      xt_knob("pages_sharing"));
	st = xt_stats_or_die();
	check(!xt_known(st.merging_pages) || st.merging_pages == 2 * N,
	      "stats: merging_pages == %d (%llu)", 2 * N,
	      (unsigned long long)st.merging_pages);

	/* CoW */
	b[0] ^= 0x55;
	check(xt_pfn(b) != xt_pfn(a), "a write in b copies the page");
	b[0] ^= 0x55;
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0,
	      "both keep their data");

	/* UNMERGEABLE breaks at once (xksm; the kernel's KSM too) */
	check(xt_unregister(b, N * XT_PAGE, 0) == 0, "unregister b");
	for (i = 1, distinct = 0; i < N; i++)
		distinct += xt_pfn(a + i * XT_PAGE) != xt_pfn(b + i * XT_PAGE);
	check(distinct == N - 1, "no pair shares a PFN right after UNMERGEABLE (%zu of %d apart)",
	      distinct, N - 1);
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0,
	      "data intact after unmerging");

	xt_knob_set("run", 2);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0 &&
	      xt_knob("pages_unshared") == 0,
	      "run=2 leaves no shared, sharing or unshared pages");
	return done();
}
