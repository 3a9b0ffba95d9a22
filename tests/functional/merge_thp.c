// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages.  Two 2 MiB-aligned MADV_HUGEPAGE ranges, each
 * backed by one THP, hold the same 512 distinct 4 KiB subpages.  Once
 * registered and scanned, the huge pages are split and every subpage is
 * merged with its twin (one PFN per pair, pages_shared == pages_sharing ==
 * 512), and all data reads back intact.  Skips when the kernel gives no THP
 * (THP disabled, or no free 2 MiB block).
 */
#include "xksm_test.h"

#define HPAGE	(2UL << 20)
#define SUB	(HPAGE / XT_PAGE)
#define SEED	0x6b10

/* 1 when the 2 MiB at p are one huge page: contiguous PFNs, aligned. */
static int is_thp(char *p)
{
	unsigned long first = xt_pfn(p);
	size_t i;

	if (!first || first % SUB)
		return 0;
	for (i = 1; i < SUB; i++)
		if (xt_pfn(p + i * XT_PAGE) != first + i)
			return 0;
	return 1;
}

/* The process's memory in transparent huge pages, kB. */
static long long anon_huge_kb(void)
{
	long long kb = -1;

	if (!xt_proc_field("/proc/self/smaps_rollup", "AnonHugePages", &kb))
		fatal("no AnonHugePages in /proc/self/smaps_rollup");
	return kb;
}

static char *thp_range(void)
{
	char *raw = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		fatal("mmap");
	p = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(p, HPAGE, MADV_HUGEPAGE))
		skip("MADV_HUGEPAGE: %s", strerror(errno));
	p[0] = 1;	/* the fault allocates the huge page */
	return p;
}

int main(void)
{
	char enabled[128] = "";
	char *a, *b;
	size_t same = 0;
	int fd, scans;
	ssize_t n;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
	if (fd < 0)
		skip("no transparent huge pages in this kernel");
	n = read(fd, enabled, sizeof(enabled) - 1);
	close(fd);
	if (n > 0)
		enabled[n] = 0;
	if (strstr(enabled, "[never]"))
		skip("transparent huge pages are disabled: %s", enabled);
	xt_unmerge_all();

	a = thp_range();
	b = thp_range();
	if (!is_thp(a) || !is_thp(b))
		skip("the kernel did not back the ranges with huge pages (THP %s)", enabled);
	xt_fill(a, SUB, SEED);
	xt_fill(b, SUB, SEED);
	check(is_thp(a) && is_thp(b) && anon_huge_kb() >= 4096,
	      "both 2 MiB ranges are huge pages before merging (AnonHugePages: %lld kB)", anon_huge_kb());
	xt_register_or_die(a, HPAGE);
	xt_register_or_die(b, HPAGE);
	xt_start_fast();
	xt_wait_full_scans(2);
	for (scans = 2; scans < 12; scans++) {	/* splitting may take a scan more */
		same = xt_count_same_pfn(0, a, 0, b, SUB);
		if (same == SUB)
			break;
		xt_wait_full_scans(1);
	}
	check(same == SUB, "all %lu subpages merge with their twins (%zu after %d full scans)",
	      SUB, same, scans);
	check(anon_huge_kb() == 0, "the huge pages were split (AnonHugePages: %lld kB)", anon_huge_kb());
	xt_knob_set("run", 0);
	check(xt_knob("pages_shared") == (long long)SUB && xt_knob("pages_sharing") == (long long)SUB,
	      "pages_shared == pages_sharing == %lu (got %lld, %lld)", SUB,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(xt_verify(a, SUB, SEED) == 0 && xt_verify(b, SUB, SEED) == 0, "all data reads back intact");
	a[5 * XT_PAGE] ^= 1;
	check(xt_pfn(a + 5 * XT_PAGE) != xt_pfn(b + 5 * XT_PAGE) && xt_verify(b, SUB, SEED) == 0,
	      "a write to a merged subpage copies it, leaving its twin intact");
	return done();
}
