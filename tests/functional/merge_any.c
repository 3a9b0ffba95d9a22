// SPDX-License-Identifier: GPL-2.0
/*
 * Merge-any (XKSM_IOC_SET_MERGE_ANY, as prctl(PR_SET_MEMORY_MERGE)): with it
 * on, a mapping that existed before and one made after merge without any
 * per-range registration (shared mappings still do not); GET returns 1 and
 * the statistics say merge_any; turning it off unmerges everything at once
 * and GET returns 0.  enable=2, non-zero reserved fields, unknown flags,
 * XKSM_SET_DOMAIN with enable=0, a domain without XKSM_SET_DOMAIN or above
 * 0xffffffff, a pidfd without XKSM_PIDFD are EINVAL (xksm only: the prctl
 * takes any non-zero value as "on").  (XKSM_PIDFD itself: pidfd_ops.c;
 * XKSM_SET_DOMAIN: merge_domains.c.)
 */
#include "xksm_test.h"

#define N	32
#define SEED	0x6b11

int main(void)
{
	struct xksm_merge_any m;
	const int nres = sizeof(m.reserved) / sizeof(m.reserved[0]);
	struct xksm_stats st;
	char *a, *b, *c, *s;
	int i;

	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_MERGE_ANY, "MERGE_ANY");
	xt_unmerge_all();
	check(xt_get_merge_any() == 0, "merge-any is off at first");

	a = xt_map(N);			/* exists before merge-any */
	xt_fill(a, N, SEED);
	check(xt_set_merge_any(1) == 0, "turning merge-any on succeeds");
	check(xt_get_merge_any() == 1, "GET returns 1");
	b = xt_map(N);			/* made after */
	xt_fill(b, N, SEED);
	s = xt_map_shared(N);
	xt_fill(s, N, SEED);
	if (xt_has(XKSM_FEATURE_STATS)) {
		st = xt_stats_or_die();
		if (xt_known(st.merge_any))
			check(st.merge_any == 1 && st.mergeable == 1, "the statistics say merge_any and mergeable");
	}

	xt_start_fast();
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, a, 0, b, N) == N,
	      "the existing and the new mapping merge without registration (%zu of %d)",
	      xt_count_same_pfn(0, a, 0, b, N), N);
	check(xt_count_same_pfn(0, a, 0, s, N) == 0, "the shared mapping is not merged");

	check(xt_set_merge_any(0) == 0, "turning merge-any off succeeds");
	check(xt_count_same_pfn(0, a, 0, b, N) == 0, "and unmerges every page at once (%zu still merged)",
	      xt_count_same_pfn(0, a, 0, b, N));
	check(xt_get_merge_any() == 0, "GET returns 0");
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0 && xt_verify(s, N, SEED) == 0,
	      "all data reads back intact");
	/* Keep the scanner going (it idles with nothing registered). */
	c = xt_map(1);
	xt_fill(c, 1, SEED + 1);
	xt_register_or_die(c, XT_PAGE);
	xt_wait_full_scans(3);
	check(xt_count_same_pfn(0, a, 0, b, N) == 0, "nothing merges again afterwards");

	if (!xt_backend_ksm()) {
		memset(&m, 0, sizeof(m));
		m.enable = 2;
		check_errno(ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m), EINVAL, "enable=2");
		for (i = 0; i < nres; i++) {
			memset(&m, 0, sizeof(m));
			m.reserved[i] = 1;
			if (ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m) != -1 || errno != EINVAL)
				break;
			memset(&m, 0, sizeof(m));
			m.reserved[i] = 1;
			if (ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &m) != -1 || errno != EINVAL)
				break;
		}
		check(i == nres, "a non-zero reserved field is EINVAL for SET and GET (first not: %d)",
		      i < nres ? i : 0);
		/* SET takes XKSM_PIDFD and XKSM_SET_DOMAIN (to enable), GET XKSM_PIDFD. */
		for (i = 0; i < 64; i++) {
			__u64 f = 1ULL << i;

			memset(&m, 0, sizeof(m));
			m.enable = 1;
			m.flags = f;
			if (f != XKSM_PIDFD && f != XKSM_SET_DOMAIN &&
			    (ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m) != -1 || errno != EINVAL))
				break;
			memset(&m, 0, sizeof(m));
			m.flags = f;
			if (f != XKSM_PIDFD &&
			    (ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &m) != -1 || errno != EINVAL))
				break;
		}
		check(i == 64, "an unknown flag is EINVAL for SET and GET (first not: bit %d)",
		      i < 64 ? i : 0);
		memset(&m, 0, sizeof(m));
		m.flags = XKSM_SET_DOMAIN;
		check_errno(ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m), EINVAL,
			    "SET_MERGE_ANY with XKSM_SET_DOMAIN and enable=0");
		memset(&m, 0, sizeof(m));
		m.enable = 1;
		m.domain = 1;
		check_errno(ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m), EINVAL,
			    "SET_MERGE_ANY with a domain but without XKSM_SET_DOMAIN");
		memset(&m, 0, sizeof(m));
		m.enable = 1;
		m.flags = XKSM_SET_DOMAIN;
		m.domain = 1ULL << 32;
		check_errno(ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m), EINVAL,
			    "SET_MERGE_ANY with XKSM_SET_DOMAIN and a domain above 0xffffffff");
		memset(&m, 0, sizeof(m));
		m.enable = 1;
		m.pidfd = 1;
		check_errno(ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m), EINVAL,
			    "SET_MERGE_ANY with a pidfd but without XKSM_PIDFD");
		memset(&m, 0, sizeof(m));
		m.pidfd = 1;
		check_errno(ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &m), EINVAL,
			    "GET_MERGE_ANY with a pidfd but without XKSM_PIDFD");
		check(xt_get_merge_any() == 0, "merge-any is still off after the refused calls");
	} else {
		xt_note("skipped on %s: enable=2, flags and reserved fields", xt_backend_name());
	}
	return done();
}
