// SPDX-License-Identifier: GPL-2.0
/*
 * use_zero_pages=1: registered pages that hold only zeroes are mapped to the
 * shared zero page (the PFN a read fault of fresh anonymous memory maps),
 * are counted by ksm_zero_pages and the process's zero_pages, not by
 * pages_shared/pages_sharing; writing to them still works (a private copy
 * with the data written) and takes them out of ksm_zero_pages.
 */
#include "xksm_test.h"

#define N	64
#define K	16	/* pages written after merging */

int main(void)
{
	unsigned long zero_pfn = xt_zero_pfn();
	struct xksm_stats st;
	size_t i, at_zero, bad;
	char *z;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	check(zero_pfn != 0, "a read fault of fresh anonymous memory maps the zero page (PFN %#lx)",
	      zero_pfn);
	xt_unmerge_all();
	xt_knob_set_saved("use_zero_pages", 1);

	z = xt_map(N);
	for (i = 0; i < N; i++) {	/* real pages, then zeroed */
		z[i * XT_PAGE] = 1;
		z[i * XT_PAGE] = 0;
	}
	for (at_zero = 0, i = 0; i < N; i++)
		at_zero += xt_pfn(z + i * XT_PAGE) == zero_pfn;
	check(at_zero == 0, "before merging the zeroed pages are private pages");
	xt_register_or_die(z, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);

	for (at_zero = 0, i = 0; i < N; i++)
		at_zero += xt_pfn(z + i * XT_PAGE) == zero_pfn;
	check(at_zero == N, "all %d zero-filled pages map the zero page (%zu do)", N, at_zero);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "pages merged with the zero page are not in pages_shared/pages_sharing");
	if (xt_knob_exists("ksm_zero_pages"))
		check(xt_knob("ksm_zero_pages") == N, "ksm_zero_pages == %d (got %lld)", N,
		      xt_knob("ksm_zero_pages"));
	else
		xt_note("skipped on %s: this kernel has no ksm_zero_pages counter", xt_backend_name());
	if (xt_has(XKSM_FEATURE_STATS)) {
		st = xt_stats_or_die();
		if (xt_known(st.zero_pages))
			check(st.zero_pages == N, "the process's zero_pages == %d (got %llu)", N,
			      (unsigned long long)st.zero_pages);
		else
			xt_note("skipped on %s: no per-process zero-page count", xt_backend_name());
	}
	for (bad = 0, i = 0; i < N * XT_PAGE; i++)
		bad += z[i] != 0;
	check(bad == 0, "the pages read as zeroes");

	/* Writing allocates a private page again. */
	for (i = 0; i < K; i++)
		xt_fill_page(z, i, 0x6b04);
	for (at_zero = 0, bad = 0, i = 0; i < K; i++) {
		at_zero += xt_pfn(z + i * XT_PAGE) == zero_pfn;
		bad += !xt_page_ok(z, i, 0x6b04);
	}
	check(at_zero == 0, "each written page has left the zero page");
	check(bad == 0, "each written page reads back its data");
	for (at_zero = 0, i = K; i < N; i++)
		at_zero += xt_pfn(z + i * XT_PAGE) == zero_pfn;
	check(at_zero == N - K, "the %d pages not written still map the zero page", N - K);
	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	if (xt_knob_exists("ksm_zero_pages"))
		check(xt_knob("ksm_zero_pages") == N - K, "ksm_zero_pages drops to %d (got %lld)",
		      N - K, xt_knob("ksm_zero_pages"));
	for (bad = 0, i = 0; i < K; i++)
		bad += !xt_page_ok(z, i, 0x6b04);
	check(bad == 0, "the written pages still read back their data after more scans");
	return done();
}
