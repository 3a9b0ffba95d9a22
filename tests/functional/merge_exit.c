// SPDX-License-Identifier: GPL-2.0
/*
 * Processes exiting while merged.  Two processes with N identical pages are
 * merged (pages_shared == pages_sharing == N).  When one exits, once the
 * scanner has passed pages_sharing drops to 0 while pages_shared stays N
 * (the survivor still maps the merged pages, intact, and still counts them
 * as merging); when the other exits too, every counter drops back to 0
 * (nothing else is registered).
 */
#include "xksm_test.h"

#define N	64
#define SEED	0x6b0a

static char *mem;
static struct xksm_stats *child_stats;

static int child(int cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	case 0:
		xt_fill(mem, N, SEED);
		return xt_register(mem, N * XT_PAGE) ? errno : 0;
	case 's':
		return xt_stats(child_stats) ? errno : 0;
	case 'v':
		return xt_verify(mem, N, SEED) ? 1 : 0;
	}
	return 255;
}

int main(void)
{
	struct xt_child c1, c2;
	int ok;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	mem = xt_map(N);	/* untouched here: each child fills its own */
	child_stats = xt_map_shared(1);
	check(xt_child_start(&c1, child, NULL) == 0, "process 1 registers %d pages", N);
	check(xt_child_start(&c2, child, NULL) == 0, "process 2 registers the same %d pages", N);
	xt_start_fast();
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(c1.pid, mem, c2.pid, mem, N) == N, "the two processes' pages are merged");
	check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
	      "pages_shared == pages_sharing == %d (got %lld, %lld)", N,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));

	check(xt_child_stop(&c2) == 0, "process 2 exits");
	ok = xt_wait_knob_eq("pages_sharing", 0, XT_TIMEOUT_S);
	check(ok, "pages_sharing drops to 0 once the scanner has passed (got %lld)",
	      xt_knob("pages_sharing"));
	xt_wait_full_scans(1);
	check(xt_knob("pages_shared") == N,
	      "pages_shared stays %d: the survivor still maps the merged pages (got %lld)", N,
	      xt_knob("pages_shared"));
	check(xt_child_cmd(&c1, 'v') == 0, "the survivor's data is intact");
	if (xt_has(XKSM_FEATURE_STATS)) {
		check(xt_child_cmd(&c1, 's') == 0, "the survivor reads its statistics");
		check(child_stats->merging_pages == N, "the survivor's merging_pages == %d (got %llu)", N,
		      (unsigned long long)child_stats->merging_pages);
	}

	check(xt_child_stop(&c1) == 0, "process 1 exits");
	ok = xt_wait_knob_eq("pages_shared", 0, XT_TIMEOUT_S);
	check(ok, "pages_shared drops to 0 (got %lld)", xt_knob("pages_shared"));
	xt_msleep(100);
	check(xt_knob("pages_sharing") == 0 && xt_knob("pages_unshared") == 0 &&
	      xt_knob("pages_volatile") == 0,
	      "pages_sharing, pages_unshared and pages_volatile are 0 (%lld, %lld, %lld)",
	      xt_knob("pages_sharing"), xt_knob("pages_unshared"), xt_knob("pages_volatile"));
	if (xt_knob_exists("general_profit"))
		check(xt_knob("general_profit") == 0, "general_profit is 0 (got %lld)",
		      xt_knob("general_profit"));
	return done();
}
