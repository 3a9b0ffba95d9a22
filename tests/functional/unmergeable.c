// SPDX-License-Identifier: GPL-2.0
/*
 * XKSM_IOC_UNMERGEABLE.  Without flags it breaks every merged page of the
 * range before returning: right after the call no page there shares a PFN,
 * the data is intact and the process's merging_pages no longer counts them.
 * With XKSM_KEEP_MERGED the pages stay merged and counted, and no new merge
 * happens there; unregistering again without the flag then breaks them.
 * Bad input: an unaligned start, a range that overflows or leaves the user
 * address space, a flag the command does not take, a non-zero reserved
 * field, a domain without XKSM_SET_DOMAIN (or above 0xffffffff), a pidfd
 * without XKSM_PIDFD are EINVAL; a hole in the range is ENOMEM; a zero
 * length succeeds.  (XKSM_PIDFD itself: pidfd_ops.c.)
 *
 * In-kernel KSM (MADV_UNMERGEABLE) also breaks the pages before returning,
 * but drops their count only when ksmd next passes; it has no
 * XKSM_KEEP_MERGED, flags or reserved fields: those parts are xksm's.
 */
#include "xksm_test.h"

#define N	32
#define K	8
#define SEED	0x6b0e

static int raw(unsigned long cmd, __u64 start, __u64 len, __u64 flags, int resv)
{
	struct xksm_range r = { .start = start, .len = len, .flags = flags };

	if (resv >= 0)
		r.reserved[resv] = 1;
	return ioctl(xt_dev(), cmd, &r);
}

/* One page at start, with the given flags, domain and pidfd fields. */
static int raw_ext(unsigned long cmd, __u64 start, __u64 flags, __u64 domain, __u64 pidfd)
{
	struct xksm_range r = {
		.start = start, .len = XT_PAGE, .flags = flags, .domain = domain, .pidfd = pidfd,
	};

	return ioctl(xt_dev(), cmd, &r);
}

int main(void)
{
	const int nres = sizeof(((struct xksm_range *)0)->reserved) / sizeof(__u64);
	struct xksm_stats st;
	char *a, *b, *c, *d, *h;
	int ret, i;

	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	xt_unmerge_all();
	a = xt_map(N);
	b = xt_map(N);
	c = xt_map(N);
	d = xt_map(N);
	xt_fill(a, N, SEED);
	xt_fill(b, N, SEED);
	xt_fill(c, N, SEED + 1);
	xt_fill(d, N, SEED + 1);
	xt_register_or_die(a, N * XT_PAGE);
	xt_register_or_die(b, N * XT_PAGE);
	xt_register_or_die(c, N * XT_PAGE);
	xt_register_or_die(d, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N && xt_count_same_pfn(0, c, 0, d, N) == N,
		   "both sets of %d pairs are merged", N))
		return done();

	/* Plain unregistering breaks the merged pages at once. */
	check(xt_unregister(a, N * XT_PAGE, 0) == 0, "unregistering A succeeds");
	check(xt_count_same_pfn(0, a, 0, b, N) == 0,
	      "right after the call no page of A shares a PFN any more (%zu do)",
	      xt_count_same_pfn(0, a, 0, b, N));
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0, "A and B read back intact");
	check(xt_unregister(b, N * XT_PAGE, 0) == 0, "unregistering B succeeds");
	if (xt_backend_ksm()) {
		xt_note("in-kernel KSM updates the counts when ksmd passes: scanning first");
		xt_knob_set("run", 1);
		xt_wait_full_scans(2);
		xt_knob_set("run", 0);
	}
	st = xt_stats_or_die();
	check(st.merging_pages == 2 * N, "merging_pages == %d: only C and D are counted (got %llu)",
	      2 * N, (unsigned long long)st.merging_pages);
	check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
	      "pages_shared == pages_sharing == %d: only C and D (got %lld, %lld)", N,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(xt_unregister(a, N * XT_PAGE, 0) == 0, "unregistering A again is a no-op that succeeds");

	/* XKSM_KEEP_MERGED. */
	if (xt_has(XKSM_FEATURE_KEEP_MERGED)) {
		check(xt_unregister(c, N * XT_PAGE, XKSM_KEEP_MERGED) == 0 &&
		      xt_unregister(d, N * XT_PAGE, XKSM_KEEP_MERGED) == 0,
		      "unregistering C and D with XKSM_KEEP_MERGED succeeds");
		check(xt_count_same_pfn(0, c, 0, d, N) == N, "C and D stay merged");
		st = xt_stats_or_die();
		check(st.merging_pages == 2 * N, "and counted: merging_pages == %d (got %llu)", 2 * N,
		      (unsigned long long)st.merging_pages);
		for (i = 0; i < K; i++) {	/* new identical contents in C[i], D[i] */
			xt_fill_page(c, i, SEED + 2);
			xt_fill_page(d, i, SEED + 2);
		}
		xt_knob_set("run", 1);
		xt_wait_full_scans(3);
		xt_knob_set("run", 0);
		check(xt_count_same_pfn(0, c, 0, d, K) == 0, "no new merge happens in the kept range");
		check(xt_count_same_pfn(0, c + K * XT_PAGE, 0, d + K * XT_PAGE, N - K) == N - K,
		      "the pages not written stay merged");
		st = xt_stats_or_die();
		check(st.merging_pages == 2 * (N - K), "merging_pages == %d (got %llu)", 2 * (N - K),
		      (unsigned long long)st.merging_pages);
		check(xt_unregister(c, N * XT_PAGE, 0) == 0, "unregistering C without the flag succeeds");
		check(xt_count_same_pfn(0, c, 0, d, N) == 0, "and breaks C's merged pages at once");
		for (ret = 0, i = 0; i < N; i++) {
			ret += !xt_page_ok(c, i, i < K ? SEED + 2 : SEED + 1);
			ret += !xt_page_ok(d, i, i < K ? SEED + 2 : SEED + 1);
		}
		check(ret == 0, "C and D read back intact (%d pages differ)", ret);
	} else {
		xt_note("skipped on %s: XKSM_KEEP_MERGED", xt_backend_name());
	}

	/* Bad input. */
	check_errno(xt_register(a + 1, XT_PAGE), EINVAL, "registering an unaligned start");
	check_errno(xt_unregister(a + 1, XT_PAGE, 0), EINVAL, "unregistering an unaligned start");
	check_errno(xt_register(a, (size_t)-((uintptr_t)a) + XT_PAGE), EINVAL,
		    "registering a range that wraps around");
	check_errno(xt_unregister(a, (size_t)-((uintptr_t)a) + XT_PAGE, 0), EINVAL,
		    "unregistering a range that wraps around");
	check(xt_register(a, 0) == 0 && xt_unregister(a, 0, 0) == 0, "a zero length succeeds");
	h = xt_map(3);
	munmap(h + XT_PAGE, XT_PAGE);
	check_errno(xt_register(h, 3 * XT_PAGE), ENOMEM, "registering a range with a hole");
	check_errno(xt_unregister(h, 3 * XT_PAGE, 0), ENOMEM, "unregistering a range with a hole");
	if (!xt_backend_ksm()) {
		/*
		 * Above any user address space, 4- or 5-level paging: as
		 * madvise(), ENOMEM (nothing is mapped there), and a zero
		 * length there is a no-op.
		 */
		ret = raw(XKSM_IOC_MERGEABLE, 1ULL << 63, XT_PAGE, 0, -1);
		check_errno(ret, ENOMEM, "registering beyond the user address space");
		ret = raw(XKSM_IOC_MERGEABLE, 1ULL << 63, 0, 0, -1);
		check(ret == 0, "a zero length beyond the user address space succeeds (%s)",
		      ret ? strerror(errno) : "ok");
		/*
		 * MERGEABLE takes XKSM_SET_DOMAIN and XKSM_PIDFD, UNMERGEABLE
		 * XKSM_KEEP_MERGED and XKSM_PIDFD: every other bit is EINVAL.
		 */
		ret = raw(XKSM_IOC_UNMERGEABLE, (uintptr_t)a, XT_PAGE, XKSM_SET_DOMAIN, -1);
		check_errno(ret, EINVAL, "unregistering with XKSM_SET_DOMAIN (MERGEABLE's flag)");
		ret = raw(XKSM_IOC_MERGEABLE, (uintptr_t)a, XT_PAGE, XKSM_KEEP_MERGED, -1);
		check_errno(ret, EINVAL, "registering with XKSM_KEEP_MERGED (UNMERGEABLE's flag)");
		for (i = 0; i < 64; i++) {
			__u64 f = 1ULL << i;

			if (f != XKSM_SET_DOMAIN && f != XKSM_PIDFD &&
			    (raw(XKSM_IOC_MERGEABLE, (uintptr_t)a, XT_PAGE, f, -1) != -1 ||
			     errno != EINVAL))
				break;
			if (f != XKSM_KEEP_MERGED && f != XKSM_PIDFD &&
			    (raw(XKSM_IOC_UNMERGEABLE, (uintptr_t)a, XT_PAGE, f, -1) != -1 ||
			     errno != EINVAL))
				break;
		}
		check(i == 64, "every unknown flag is EINVAL for both commands (first not: bit %d)",
		      i < 64 ? i : 0);
		for (i = 0; i < nres; i++) {
			if (raw(XKSM_IOC_MERGEABLE, (uintptr_t)a, XT_PAGE, 0, i) != -1 || errno != EINVAL)
				break;
			if (raw(XKSM_IOC_UNMERGEABLE, (uintptr_t)a, XT_PAGE, 0, i) != -1 || errno != EINVAL)
				break;
		}
		check(i == nres, "a non-zero reserved field is EINVAL for both commands (first not: %d)",
		      i);
		/* @domain only with XKSM_SET_DOMAIN, @pidfd only with XKSM_PIDFD. */
		ret = raw_ext(XKSM_IOC_MERGEABLE, (uintptr_t)a, 0, 1, 0);
		check_errno(ret, EINVAL, "registering with a domain but without XKSM_SET_DOMAIN");
		ret = raw_ext(XKSM_IOC_UNMERGEABLE, (uintptr_t)a, 0, 1, 0);
		check_errno(ret, EINVAL, "unregistering with a domain");
		ret = raw_ext(XKSM_IOC_MERGEABLE, (uintptr_t)a, XKSM_SET_DOMAIN, 1ULL << 32, 0);
		check_errno(ret, EINVAL, "registering with XKSM_SET_DOMAIN and a domain above 0xffffffff");
		ret = raw_ext(XKSM_IOC_MERGEABLE, (uintptr_t)a, 0, 0, 1);
		check_errno(ret, EINVAL, "registering with a pidfd but without XKSM_PIDFD");
		ret = raw_ext(XKSM_IOC_UNMERGEABLE, (uintptr_t)a, 0, 0, 1);
		check_errno(ret, EINVAL, "unregistering with a pidfd but without XKSM_PIDFD");
	} else {
		xt_note("skipped on %s: flags, reserved fields, the user address space limit",
			xt_backend_name());
	}
	return done();
}
