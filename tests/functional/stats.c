// SPDX-License-Identifier: GPL-2.0
/*
 * XKSM_IOC_STATS of a process: nothing before it registers; with 2N pages
 * merged in pairs and U pages of their own: merging_pages == 2N, rmap_items
 * == 2N + U, zero_pages == 0, mergeable == 1, registered_bytes == the bytes
 * registered, and profit == (merging_pages + zero_pages) * page size -
 * rmap_items * (one rmap_item's size), with the same item size in the
 * system-wide general_profit; after unregistering the merged ranges (and a
 * pass of the scanner), merging_pages is 0.  A non-zero reserved field, a
 * flag other than XKSM_PIDFD, a pidfd without XKSM_PIDFD are EINVAL; the
 * domain is 0 (merge_scope all, the default).  (XKSM_PIDFD itself:
 * pidfd_ops.c.)
 */
#include "xksm_test.h"

#define N	64
#define U	16
#define SEED	0x6b07

int main(void)
{
	struct xksm_stats st, bad;
	long long item = 0;
	char *p, *q;

	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	xt_unmerge_all();

	st = xt_stats_or_die();
	check(st.merging_pages == 0, "before registering: merging_pages == 0");
	if (xt_known(st.rmap_items))
		check(st.rmap_items == 0, "before registering: rmap_items == 0");
	if (xt_known(st.mergeable))
		check(st.mergeable == 0, "before registering: mergeable == 0");
	if (xt_known(st.registered_bytes))
		check(st.registered_bytes == 0, "before registering: registered_bytes == 0");

	p = xt_map(N + U);
	q = xt_map(N);
	xt_fill(p, N, SEED);
	xt_fill(p + N * XT_PAGE, U, SEED + 1);
	xt_fill(q, N, SEED);
	xt_register_or_die(p, (N + U) * XT_PAGE);
	xt_register_or_die(q, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	check(xt_count_same_pfn(0, p, 0, q, N) == N, "the %d pairs are merged", N);

	st = xt_stats_or_die();
	check(st.merging_pages == 2 * N, "merging_pages == %d (got %llu)", 2 * N,
	      (unsigned long long)st.merging_pages);
	if (xt_known(st.rmap_items))
		check(st.rmap_items == 2 * N + U, "rmap_items == %d, one per registered page (got %llu)",
		      2 * N + U, (unsigned long long)st.rmap_items);
	else
		xt_note("skipped on %s: rmap_items", xt_backend_name());
	if (xt_known(st.zero_pages))
		check(st.zero_pages == 0, "zero_pages == 0");
	if (xt_known(st.mergeable))
		check(st.mergeable == 1, "mergeable == 1");
	if (xt_known(st.merge_any))
		check(st.merge_any == 0, "merge_any == 0");
	if (xt_known(st.registered_bytes))
		check(st.registered_bytes == (2 * N + U) * XT_PAGE, "registered_bytes == %lu (got %llu)",
		      (2 * N + U) * XT_PAGE, (unsigned long long)st.registered_bytes);
	else
		xt_note("skipped on %s: registered_bytes", xt_backend_name());

	if (st.profit != XT_UNKNOWN_S64 && xt_known(st.rmap_items) && xt_known(st.zero_pages)) {
		long long gross = (long long)(st.merging_pages + st.zero_pages) * XT_PAGE;
		long long cost = gross - st.profit;

		item = st.rmap_items ? cost / (long long)st.rmap_items : 0;
		check(st.rmap_items && cost == item * (long long)st.rmap_items && item >= 16 && item <= 512,
		      "profit %lld == (merging_pages + zero_pages) * %lu - rmap_items * %lld (the size of an rmap_item)",
		      (long long)st.profit, XT_PAGE, item);
	} else {
		xt_note("skipped on %s: profit", xt_backend_name());
	}
	if (item && xt_knob_exists("general_profit")) {
		long long rmap = xt_knob("pages_shared") + xt_knob("pages_sharing") +
				 xt_knob("pages_unshared") + xt_knob("pages_volatile");
		long long zero = xt_knob_exists("ksm_zero_pages") ? xt_knob("ksm_zero_pages") : 0;
		long long want = (xt_knob("pages_sharing") + zero) * (long long)XT_PAGE - rmap * item;

		check(xt_knob("general_profit") == want,
		      "general_profit == (pages_sharing + ksm_zero_pages) * %lu - all rmap_items * %lld = %lld (got %lld)",
		      XT_PAGE, item, want, xt_knob("general_profit"));
	}

	if (!xt_backend_ksm()) {
		const int nres = sizeof(bad.reserved) / sizeof(bad.reserved[0]);
		int i;

		for (i = 0; i < nres; i++) {
			memset(&bad, 0, sizeof(bad));
			bad.reserved[i] = 1;
			if (ioctl(xt_dev(), XKSM_IOC_STATS, &bad) != -1 || errno != EINVAL)
				break;
		}
		check(i == nres, "XKSM_IOC_STATS with a non-zero reserved[%d] fails with EINVAL",
		      i < nres ? i : 0);
		/* @flags takes XKSM_PIDFD alone; @pidfd only with it. */
		for (i = 0; i < 64; i++) {
			if ((1ULL << i) == XKSM_PIDFD)
				continue;
			memset(&bad, 0, sizeof(bad));
			bad.flags = 1ULL << i;
			if (ioctl(xt_dev(), XKSM_IOC_STATS, &bad) != -1 || errno != EINVAL)
				break;
		}
		check(i == 64, "XKSM_IOC_STATS with a flag other than XKSM_PIDFD fails with EINVAL "
		      "(first not: bit %d)", i < 64 ? i : 0);
		memset(&bad, 0, sizeof(bad));
		bad.pidfd = 1;
		check_errno(ioctl(xt_dev(), XKSM_IOC_STATS, &bad), EINVAL,
			    "XKSM_IOC_STATS with a pidfd but without XKSM_PIDFD");
		if (xt_has(XKSM_FEATURE_DOMAIN)) {
			st = xt_stats_or_die();
			check(st.domain == 0, "domain == 0 under merge_scope all (got %llu)",
			      (unsigned long long)st.domain);
		}
	} else {
		xt_note("skipped on %s: flags and reserved fields", xt_backend_name());
	}

	check(xt_unregister(p, N * XT_PAGE, 0) == 0 && xt_unregister(q, N * XT_PAGE, 0) == 0,
	      "unregistering the merged ranges succeeds");
	/*
	 * In-kernel KSM drops the rmap_items of unregistered pages, and so
	 * their count, only when ksmd next passes (unmergeable.c checks that
	 * xksm does it at once): let the scanner pass first.
	 */
	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	st = xt_stats_or_die();
	check(st.merging_pages == 0, "then merging_pages == 0 (got %llu)", (unsigned long long)st.merging_pages);
	if (xt_known(st.registered_bytes))
		check(st.registered_bytes == U * XT_PAGE, "and registered_bytes == %lu (got %llu)",
		      U * XT_PAGE, (unsigned long long)st.registered_bytes);
	return done();
}
