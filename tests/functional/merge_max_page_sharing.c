// SPDX-License-Identifier: GPL-2.0
/*
 * max_page_sharing=2 with 6 identical registered pages: no merged page is
 * mapped by more than 2 pages, so the contents get one stable node chain
 * (stable_node_chains >= 1) with several duplicates (stable_node_dups >= 2);
 * every page still merges with one other (3 PFNs for 6 pages), and the data
 * is intact.
 */
#include "xksm_test.h"

#define N	6
#define SEED	0x6b05

int main(void)
{
	unsigned long pfn[N];
	size_t i, j, most = 0, distinct = 0;
	long long chains, dups, shared, sharing;
	int err;
	char *p;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	xt_knob_save("max_page_sharing");
	err = xt_knob_write("max_page_sharing", 2);
	if (!check(err == 0, "max_page_sharing=2 is accepted with nothing merged (%s)", strerror(err)))
		return done();
	check(xt_knob_write("max_page_sharing", 1) == EINVAL, "max_page_sharing=1 is refused with EINVAL");

	p = xt_map(N);
	xt_fill(p, 1, SEED);
	for (i = 1; i < N; i++)
		memcpy(p + i * XT_PAGE, p, XT_PAGE);
	xt_register_or_die(p, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(3);
	xt_knob_set("run", 0);

	for (i = 0; i < N; i++)
		pfn[i] = xt_pfn(p + i * XT_PAGE);
	for (i = 0; i < N; i++) {
		size_t users = 0, first = 1;

		for (j = 0; j < N; j++) {
			users += pfn[j] == pfn[i];
			if (j < i && pfn[j] == pfn[i])
				first = 0;
		}
		distinct += first;
		if (users > most)
			most = users;
	}
	check(most <= 2, "no PFN is mapped by more than max_page_sharing=2 pages (at most %zu)", most);
	check(distinct == N / 2, "the %d pages merge in pairs: %d PFNs (got %zu)", N, N / 2, distinct);
	chains = xt_knob("stable_node_chains");
	dups = xt_knob("stable_node_dups");
	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	check(chains >= 1, "stable_node_chains >= 1 (got %lld)", chains);
	check(dups >= 2, "stable_node_dups >= 2 (got %lld)", dups);
	check(shared == N / 2 && sharing == N / 2, "pages_shared == pages_sharing == %d (got %lld, %lld)",
	      N / 2, shared, sharing);
	check(xt_knob_write("max_page_sharing", 256) == EBUSY,
	      "max_page_sharing cannot change while pages are merged (EBUSY)");
	for (i = 0; i < N; i++)
		if (!xt_page_ok(p, 0, SEED) || memcmp(p, p + i * XT_PAGE, XT_PAGE))
			break;
	check(i == N, "all pages read back intact");
	/* Cleanup (atexit): run=2, then max_page_sharing back to its value. */
	return done();
}
