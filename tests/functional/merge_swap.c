// SPDX-License-Identifier: GPL-2.0
/*
 * Merged pages go to swap and come back intact.  A zram device becomes swap;
 * N identical pairs of registered pages are merged; then the range is
 * paged out: MADV_PAGEOUT (which leaves pages mapped more than once alone)
 * and memory.reclaim of the test's own memory cgroup (which does reclaim
 * merged pages, through their rmap).  At least some merged pages show as
 * swapped in /proc/self/pagemap; every byte reads back exactly; after more
 * scans the pairs are merged again.  Swap, zram device and cgroup are torn
 * down at the end.
 */
#include <sys/stat.h>
#include <sys/swap.h>

#include "xksm_test.h"

#define N	128
#define SEED	0x6b0b
#define CG	XT_CG_ROOT "/xksm_merge_swap"

static void teardown(void)
{
	xt_zram_swap_off();
	xt_memcg_leave();
}

int main(void)
{
	size_t i, swapped, bad;
	char *a, *b;
	int err, tries;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	atexit(teardown);
	xt_memcg_join(CG);		/* before the memory is touched: it is charged here */
	xt_zram_swap_on();
	xt_note("%s is swap space", xt_zdev);

	xt_map_twins(N, SEED, &a, &b);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d pairs are merged", N))
		return done();

	madvise(a, N * XT_PAGE, MADV_PAGEOUT);
	madvise(b, N * XT_PAGE, MADV_PAGEOUT);
	/*
	 * Merged pages are mapped twice, so the first reclaim pass finds
	 * them referenced and activates them; a later pass deactivates them
	 * once the memcg's (lazily flushed) statistics show the inactive list
	 * low.  So try a few times, with pauses.
	 */
	for (tries = 0; tries < 20; tries++) {
		err = xt_write_file(CG "/memory.reclaim", "64M");
		for (swapped = 0, i = 0; i < N; i++)
			swapped += xt_swapped(a + i * XT_PAGE);
		if (swapped)
			break;
		xt_msleep(250);
	}
	xt_note("%d reclaim attempt(s)", tries + 1);
	xt_note("memory.reclaim: %s", err ? strerror(err) : "ok");
	check(swapped > 0, "merged pages were swapped out (%zu of %d show as swapped)", swapped, N);

	bad = xt_verify(a, N, SEED) + xt_verify(b, N, SEED);
	check(bad == 0, "every byte of both copies reads back exactly (%zu pages differ)", bad);
	for (swapped = 0, i = 0; i < N; i++)
		swapped += xt_swapped(a + i * XT_PAGE) + xt_swapped(b + i * XT_PAGE);
	check(swapped == 0, "all pages are back in memory");
	xt_note("%zu of %d pairs still share a PFN right after swap-in",
		xt_count_same_pfn(0, a, 0, b, N), N);
	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, a, 0, b, N) == N, "after two more full scans all pairs are merged");
	check(xt_verify(a, N, SEED) + xt_verify(b, N, SEED) == 0, "and read back intact");

	xt_knob_set("run", 2);
	teardown();
	check(!xt_swap_on && xt_zid < 0, "swap off and the zram device removed");
	return done();
}
