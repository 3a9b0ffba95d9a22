// SPDX-License-Identifier: GPL-2.0
/*
 * The run knob.  run=2 unmerges everything before the write returns: right
 * after it no two pages share a PFN, pages_shared, pages_sharing and
 * pages_unshared are 0 and the data is intact.  run=1 merges again; run=0
 * stops scanning (full_scans stops advancing) and leaves merged pages
 * merged.  Values other than 0, 1, 2 are refused.
 */
#include "xksm_test.h"

#define N	64
#define U	16
#define SEED	0x6b06

int main(void)
{
	long long a, b;
	char *p, *q;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	p = xt_map(N + U);
	q = xt_map(N);
	xt_fill(p, N, SEED);
	xt_fill(p + N * XT_PAGE, U, SEED + 1);
	xt_fill(q, N, SEED);
	xt_register_or_die(p, (N + U) * XT_PAGE);
	xt_register_or_die(q, N * XT_PAGE);
	check(xt_knob_write("run", 3) == EINVAL, "run=3 is refused with EINVAL");

	xt_start_fast();
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, p, 0, q, N) == N, "run=1 merges the %d identical pairs", N);

	xt_knob_set("run", 2);
	check(xt_count_same_pfn(0, p, 0, q, N) == 0,
	      "right after run=2 returns no page shares a PFN (%zu do)", xt_count_same_pfn(0, p, 0, q, N));
	check(xt_knob("pages_shared") == 0, "pages_shared == 0 (got %lld)", xt_knob("pages_shared"));
	check(xt_knob("pages_sharing") == 0, "pages_sharing == 0 (got %lld)", xt_knob("pages_sharing"));
	check(xt_knob("pages_unshared") == 0, "pages_unshared == 0 (got %lld)", xt_knob("pages_unshared"));
	check(xt_knob("run") == 2, "run reads back 2");
	check(xt_verify(p, N, SEED) == 0 && xt_verify(q, N, SEED) == 0 &&
	      xt_verify(p + N * XT_PAGE, U, SEED + 1) == 0, "all data intact after run=2");

	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, p, 0, q, N) == N, "run=1 again merges the pairs again");

	xt_knob_set("run", 0);
	xt_msleep(200);
	a = xt_knob("full_scans");
	xt_msleep(2000);
	b = xt_knob("full_scans");
	check(a == b, "with run=0 full_scans stays put for 2 s (%lld -> %lld)", a, b);
	check(xt_count_same_pfn(0, p, 0, q, N) == N, "run=0 leaves merged pages merged");
	check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
	      "and counted (pages_shared == pages_sharing == %d)", N);
	xt_knob_set("run", 1);
	xt_wait_full_scans(1);
	check(xt_knob("full_scans") > b, "run=1 resumes scanning");
	return done();
}
