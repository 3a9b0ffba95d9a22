// SPDX-License-Identifier: GPL-2.0
/*
 * Transparent huge pages.  Two 2 MiB-aligned MADV_HUGEPAGE ranges, each
 * backed by one THP, hold the same 512 distinct 4 KiB subpages.  Once
 * registered and scanned, the huge pages are split and every subpage is
 * merged with its twin (one PFN per pair, pages_shared == pages_sharing ==
 * 512), and all data reads back intact.  A third registered THP, scanned
 * in the same passes, whose subpages have no twin anywhere, is not split:
 * xksm splits a THP only when one of its subpages matches another page
 * (try_to_merge_one_page(), or two matching subpages of one THP), so after
 * three more full scans it is still one huge page (aligned, contiguous
 * PFNs; a compound head and every frame a THP in /proc/kpageflags) and
 * intact.  Skips
 * when the kernel gives no THP (THP disabled, or no free 2 MiB block).
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

/* AnonHugePages of the mapping that holds p, in /proc/self/smaps, kB. */
static long long range_huge_kb(char *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long s, e;
	long long kb = -1;
	char line[512];
	int in = 0;

	if (!f)
		fatal("open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= s && (uintptr_t)p < e;
		else if (in && sscanf(line, "AnonHugePages: %lld kB", &kb) == 1)
			break;
	}
	fclose(f);
	if (kb < 0)
		fatal("no AnonHugePages for %p in /proc/self/smaps", p);
	return kb;
}

#define KPF_HEAD	(1ULL << 15)	/* KPF_COMPOUND_HEAD */
#define KPF_THP_BIT	(1ULL << 22)	/* KPF_THP */

/*
 * 1 when the 2 MiB at p are one unsplit THP: contiguous, aligned PFNs, the
 * first a compound head, every one flagged THP in /proc/kpageflags (a split
 * clears both).  Not smaps' AnonHugePages: 6.1 leaves out a huge pmd that
 * NUMA balancing made PROT_NONE (follow_trans_huge_pmd() without
 * FOLL_FORCE), and the guest balances.  A page under migration (not
 * present for a moment) is waited for, 10 s at most.
 */
static int unsplit_thp(char *p, uint64_t *head_flags)
{
	unsigned long pfn[SUB];
	uint64_t f[SUB];
	int fd, tries, ok = 0;
	size_t i;

	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("open /proc/kpageflags");
	for (tries = 0; tries < 100 && !ok; tries++) {
		if (tries)
			xt_msleep(100);
		xt_pfns_pid(0, p, SUB, pfn);
		*head_flags = 0;
		if (!pfn[0] || pfn[0] % SUB)
			continue;
		for (i = 1; i < SUB && pfn[i] == pfn[0] + i; i++)
			;
		if (i < SUB)
			continue;
		if (pread(fd, f, sizeof(f), pfn[0] * sizeof(f[0])) != sizeof(f))
			fatal("read /proc/kpageflags");
		*head_flags = f[0];
		ok = (f[0] & KPF_HEAD) != 0;
		for (i = 0; i < SUB; i++)
			ok &= (f[i] & KPF_THP_BIT) != 0;
	}
	close(fd);
	return ok;
}

static long long vmstat(const char *name)
{
	long long v = -1;

	xt_proc_field("/proc/vmstat", name, &v);
	return v;
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
	long long split0 = 0, pmd0 = 0, mig0 = 0;
	uint64_t kpf = 0;
	int ok;
	char *a, *b, *c;
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
	c = thp_range();
	if (!is_thp(c)) {
		xt_note("the third range is no huge page: the unique THP is not checked");
		c = NULL;
	}
	xt_fill(a, SUB, SEED);
	xt_fill(b, SUB, SEED);
	check(is_thp(a) && is_thp(b) && anon_huge_kb() >= 4096,
	      "both 2 MiB ranges are huge pages before merging (AnonHugePages: %lld kB)", anon_huge_kb());
	xt_register_or_die(a, HPAGE);
	xt_register_or_die(b, HPAGE);
	if (c) {
		xt_fill(c, SUB, SEED + 1);	/* no twin anywhere */
		check(unsplit_thp(c, &kpf),
		      "a third range, of unique content, is one huge page too (kpageflags %#llx)",
		      (unsigned long long)kpf);
		split0 = vmstat("thp_split_page");
		pmd0 = vmstat("thp_split_pmd");
		mig0 = vmstat("thp_migration_success");
		xt_register_or_die(c, HPAGE);
	}
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
	check(range_huge_kb(a) == 0 && range_huge_kb(b) == 0,
	      "the huge pages were split (AnonHugePages: %lld kB, %lld kB)",
	      range_huge_kb(a), range_huge_kb(b));
	if (c) {
		xt_wait_full_scans(3);
		ok = unsplit_thp(c, &kpf);
		check(ok, "the THP of unique content is not split after %d full scans "
		      "(kpageflags %#llx; AnonHugePages of its mapping %lld kB; meanwhile "
		      "thp_split_page +%lld, thp_split_pmd +%lld, thp_migration_success +%lld)",
		      scans + 3, (unsigned long long)kpf, range_huge_kb(c),
		      vmstat("thp_split_page") - split0, vmstat("thp_split_pmd") - pmd0,
		      vmstat("thp_migration_success") - mig0);
		check(xt_count_same_pfn(0, c, 0, a, SUB) == 0 && xt_verify(c, SUB, SEED + 1) == 0,
		      "and merged nowhere, its data intact");
	}
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
