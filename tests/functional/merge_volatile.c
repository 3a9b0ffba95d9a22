// SPDX-License-Identifier: GPL-2.0
/*
 * Pages that change all the time are not merged.  A thread rewrites two
 * registered ranges A and B with the same, ever-changing contents; while it
 * runs, several full scans pass and A[i] and B[i] never share a PFN,
 * pages_shared and pages_sharing stay 0 and pages_volatile counts the pages.
 * Once the thread stops, the same pages do merge (the control: they were
 * mergeable all along, only volatile).
 */
#include <pthread.h>

#include "xksm_test.h"

#define N	64
#define SEED	0x6b03

static char *a, *b;
static volatile int stop;
static volatile unsigned long rounds;

static void *writer(void *arg)
{
	uint64_t n = 0;
	size_t i;

	(void)arg;
	while (!stop) {
		n++;
		for (i = 0; i < N; i++) {
			*(volatile uint64_t *)(a + i * XT_PAGE) = n;
			*(volatile uint64_t *)(b + i * XT_PAGE) = n;
		}
		rounds++;
	}
	return NULL;
}

int main(void)
{
	long long shared = 0, sharing = 0, vol, max_merged = 0;
	size_t same = 0, max_same = 0;
	pthread_t t;
	int scan;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	xt_map_twins(N, SEED, &a, &b);
	if (pthread_create(&t, NULL, writer, NULL))
		fatal("pthread_create");
	while (!rounds)
		xt_msleep(1);

	/*
	 * The scanner at its default pace (a batch every 20 ms), so that the
	 * writer, always runnable, rewrites each page between two visits.
	 */
	xt_knob_set_saved("pages_to_scan", 5000);
	xt_knob_set_saved("sleep_millisecs", 20);
	xt_knob_set_saved("run", 1);
	for (scan = 0; scan < 4; scan++) {
		xt_wait_full_scans(1);
		shared = xt_knob("pages_shared");
		sharing = xt_knob("pages_sharing");
		same = xt_count_same_pfn(0, a, 0, b, N);
		if (shared + sharing > max_merged)
			max_merged = shared + sharing;
		if (same > max_same)
			max_same = same;
	}
	vol = xt_knob("pages_volatile");
	check(max_same == 0, "over 4 full scans no rewritten page shares a PFN (at most %zu did)", max_same);
	check(max_merged == 0, "pages_shared and pages_sharing stay 0 (at most %lld)", max_merged);
	check(vol >= N, "pages_volatile counts the rewritten pages (%lld, expected at least %d of %d)",
	      vol, N, 2 * N);
	stop = 1;
	pthread_join(t, NULL);
	xt_note("the writer made %lu rounds", rounds);

	/*
	 * Control: now stable, the same pages merge.  smart_scan (6.7+) skips
	 * pages that did not merge for a while, up to 8 scans in a row: allow
	 * 30 full scans, at full speed.
	 */
	xt_knob_set("sleep_millisecs", 0);
	for (scan = 0; scan < 30; scan++) {
		xt_wait_full_scans(1);
		same = xt_count_same_pfn(0, a, 0, b, N);
		if (same == N)
			break;
	}
	check(same == N, "once the writes stop, all %d pairs merge (%zu did, after %d more full scans)",
	      N, same, scan + 1);
	check(*(uint64_t *)a == *(uint64_t *)b && *(uint64_t *)a == (uint64_t)rounds,
	      "the last values written read back");
	return done();
}
