// SPDX-License-Identifier: GPL-2.0
/*
 * Ranges of particular kinds, as mainline KSM treats them:
 *  - mlocked private anonymous pages merge (KSM does not exclude VM_LOCKED;
 *    the merged page is mlocked in their place), and stay locked in memory;
 *  - private anonymous pages made read-only before registering merge, and
 *    merged pages made read-only afterwards stay merged and intact;
 *  - shared anonymous memory (MAP_SHARED) is skipped silently: registering
 *    it succeeds and nothing there is ever merged;
 *  - hugetlb memory (MAP_HUGETLB) is skipped silently too: registering two
 *    2 MiB huge pages of the same content returns 0, as
 *    madvise(MADV_MERGEABLE) does (mainline's ksm_madvise() ignores a vma
 *    vma_ksm_compatible() refuses; xksm_vma_compatible() refuses
 *    VM_HUGETLB and xksm_set_ranges() skips such vmas), and however long
 *    xksmd scans, the two never share a frame, keep their data, and the
 *    counters count only a pair of ordinary twins registered beside them.
 *    Skipped when the kernel cannot allocate huge pages;
 *  - PFN/IO mappings: a range covering the process's [vvar] (VM_PFNMAP |
 *    VM_IO) and [vdso] (a special mapping, VM_DONTEXPAND) together with
 *    ordinary twin pages placed right below or above them registers with 0
 *    (skipped silently, no hole); the twins merge, the vvar frames and the vdso's
 *    bytes do not change, and clock_gettime() (the vdso, reading vvar)
 *    still agrees with the system call;
 *  - PROT_NONE private anonymous pages (written first, so present) can be
 *    registered, and xksm merges them on both kernels (it looks the pages
 *    up with FOLL_FORCE, so a PROT_NONE pte does not hide them; mainline
 *    KSM merges them on 6.12 and not on 6.1, so with
 *    XKSM_TEST_BACKEND=ksm this is only reported); made readable again
 *    they read back intact.  Checked last, on its own (mainline 6.1 left a
 *    PROT_NONE page in the unstable tree stop every later unstable-tree
 *    merge of that scan).
 */
#include <sys/syscall.h>

#include "xksm_test.h"

#define N	16
#define SEED	0x6b0f

static char *filled(int flags, unsigned int seed)
{
	char *p = mmap(NULL, N * XT_PAGE, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap");
	xt_fill(p, N, seed);
	return p;
}

#define HPAGE		(2UL << 20)
#define HSUB		(HPAGE / XT_PAGE)
#define NR_HUGE		"/proc/sys/vm/nr_hugepages"

static char old_nr_huge[32];

/* nr_hugepages back to its value before the test (also at exit). */
static void restore_nr_huge(void)
{
	if (old_nr_huge[0] && xt_write_file(NR_HUGE, old_nr_huge))
		printf("# restoring %s to %s failed\n", NR_HUGE, old_nr_huge);
	old_nr_huge[0] = 0;
}

/*
 * Two 2 MiB hugetlb mappings of the same content and a pair of ordinary
 * twins, all registered, scanned: nothing of the huge pages merges.
 * Scanning stopped (run=2) and nothing else registered on entry.
 */
static void hugetlb_case(void)
{
	long long free_huge = 0, shared, sharing;
	char *h1, *h2, *c1, *c2;
	int fd, r1, r2, mret;
	ssize_t n;

	fd = open(NR_HUGE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		xt_note("skipped hugetlb: no %s (%s)", NR_HUGE, strerror(errno));
		return;
	}
	n = read(fd, old_nr_huge, sizeof(old_nr_huge) - 1);
	close(fd);
	if (n <= 0) {
		old_nr_huge[0] = 0;
		xt_note("skipped hugetlb: cannot read %s", NR_HUGE);
		return;
	}
	old_nr_huge[n] = 0;
	atexit(restore_nr_huge);
	if (xt_write_file(NR_HUGE, "4") ||
	    !xt_proc_field("/proc/meminfo", "HugePages_Free", &free_huge) || free_huge < 2) {
		xt_note("skipped hugetlb: the kernel gave %lld free huge pages", free_huge);
		restore_nr_huge();
		return;
	}
	h1 = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	h2 = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h1 == MAP_FAILED || h2 == MAP_FAILED) {
		xt_note("skipped hugetlb: mmap(MAP_HUGETLB): %s", strerror(errno));
		restore_nr_huge();
		return;
	}
	xt_fill(h1, HSUB, SEED + 6);
	xt_fill(h2, HSUB, SEED + 6);
	c1 = filled(MAP_PRIVATE, SEED + 5);
	c2 = filled(MAP_PRIVATE, SEED + 5);

	r1 = xt_register(h1, HPAGE);
	r2 = xt_register(h2, HPAGE);
	check(r1 == 0 && r2 == 0,
	      "registering hugetlb memory succeeds, skipped silently (%d, %d)", r1, r2);
	if (!xt_backend_ksm()) {
		mret = madvise(h1, HPAGE, MADV_MERGEABLE);
		check(mret == r1, "as madvise(MADV_MERGEABLE) on it does (madvise: %d)", mret);
	}
	xt_register_or_die(c1, N * XT_PAGE);
	xt_register_or_die(c2, N * XT_PAGE);
	xt_knob_set("run", 1);
	xt_wait_full_scans(4);
	check(xt_count_same_pfn(0, c1, 0, c2, N) == N, "the ordinary twins beside them merge (%zu of %d)",
	      xt_count_same_pfn(0, c1, 0, c2, N), N);
	check(xt_count_same_pfn(0, h1, 0, h2, HSUB) == 0 && xt_pfn(h1) && xt_pfn(h2),
	      "no page of the two hugetlb pages shares a frame with its twin (%zu do)",
	      xt_count_same_pfn(0, h1, 0, h2, HSUB));
	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	check(shared == N && sharing == N,
	      "pages_shared == pages_sharing == %d: the ordinary twins only (got %lld, %lld)",
	      N, shared, sharing);
	check(xt_verify(h1, HSUB, SEED + 6) == 0 && xt_verify(h2, HSUB, SEED + 6) == 0,
	      "the hugetlb pages read back intact");
	xt_knob_set("run", 2);
	munmap(h1, HPAGE);
	munmap(h2, HPAGE);
	munmap(c1, N * XT_PAGE);
	munmap(c2, N * XT_PAGE);
	restore_nr_huge();
}

/* The first [vvar] mapping and the special mappings right after it. */
static int find_vvar(unsigned long *start, unsigned long *vvar_end, unsigned long *end,
		     unsigned long *vdso, unsigned long *vdso_end)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long s, e;
	char line[512], name[256];
	int found = 0;

	if (!f)
		fatal("open /proc/self/maps");
	*vdso = *vdso_end = 0;
	while (fgets(line, sizeof(line), f)) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, name) < 2)
			continue;
		if (!found && !strcmp(name, "[vvar]")) {
			*start = s;
			*vvar_end = *end = e;
			found = 1;
		} else if (found && s == *end && (!strncmp(name, "[vvar", 5) ||
						  !strcmp(name, "[vdso]"))) {
			*end = e;
			if (!strcmp(name, "[vdso]")) {
				*vdso = s;
				*vdso_end = e;
			}
		}
	}
	fclose(f);
	return found;
}

/* clock_gettime() (the vdso) agrees with the system call. */
static int clock_sane(void)
{
	struct timespec a, b, c;

	if (clock_gettime(CLOCK_MONOTONIC, &a) ||
	    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &b) ||
	    clock_gettime(CLOCK_MONOTONIC, &c))
		return 0;
	return (a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec)) &&
	       (b.tv_sec < c.tv_sec || (b.tv_sec == c.tv_sec && b.tv_nsec <= c.tv_nsec)) &&
	       c.tv_sec - a.tv_sec < 60;
}

/* 2 * N private anonymous pages exactly at addr, or NULL if taken. */
static char *fixed_map(unsigned long addr)
{
	char *t = mmap((void *)addr, 2 * N * XT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (t == MAP_FAILED)
		return NULL;
	if (t != (char *)addr) {	/* a kernel without MAP_FIXED_NOREPLACE */
		munmap(t, 2 * N * XT_PAGE);
		return NULL;
	}
	return t;
}

/*
 * [vvar] (VM_PFNMAP | VM_IO) and [vdso] in one range with ordinary twin
 * pages mapped right below or above them.  Scanning stopped (run=2) and nothing
 * else registered on entry.
 */
static void pfnmap_case(void)
{
	unsigned long vvar, vvar_end, end, vdso, vdso_end, nv, i, rs, re;
	unsigned long pfn_before[64], pfn_after[64];
	char *t, *vdso_copy = NULL;
	size_t same;
	int r;

	if (!find_vvar(&vvar, &vvar_end, &end, &vdso, &vdso_end)) {
		xt_note("skipped VM_PFNMAP: no [vvar] in /proc/self/maps");
		return;
	}
	nv = (vvar_end - vvar) / XT_PAGE;
	if (nv > 64)
		nv = 64;
	check(clock_sane(), "clock_gettime() works before ([vvar] at %#lx-%#lx, range ends %#lx)",
	      vvar, vvar_end, end);
	xt_pfns_pid(0, (void *)vvar, nv, pfn_before);
	if (vdso) {
		vdso_copy = malloc(vdso_end - vdso);
		if (!vdso_copy)
			fatal("malloc");
		memcpy(vdso_copy, (void *)vdso, vdso_end - vdso);
	}
	/* Twins right below [vvar], or else right after the special mappings. */
	t = fixed_map(vvar - 2 * N * XT_PAGE);
	rs = t ? (unsigned long)t : vvar;
	re = end;
	if (!t) {
		t = fixed_map(end);
		if (t)
			re = end + 2 * N * XT_PAGE;
	}
	if (t) {
		xt_fill(t, N, SEED + 7);
		xt_fill(t + N * XT_PAGE, N, SEED + 7);
	} else {
		xt_note("no room beside [vvar] and [vdso]: registering them without neighbours");
	}
	r = xt_register((void *)rs, re - rs);
	check(r == 0, "registering %#lx-%#lx, over [vvar] and [vdso]%s, succeeds, "
	      "skipped silently (%d %s)", rs, re, !t ? "" : t == (char *)rs ?
	      " with pages below" : " with pages above", r, r ? strerror(errno) : "");
	xt_knob_set("run", 1);
	xt_wait_full_scans(4);
	if (t) {
		same = xt_count_same_pfn(0, t, 0, t + N * XT_PAGE, N);
		check(same == N, "the twins beside [vvar] merge (%zu of %d)", same, N);
		check(xt_verify(t, N, SEED + 7) == 0 && xt_verify(t + N * XT_PAGE, N, SEED + 7) == 0,
		      "and read back intact");
	}
	check(xt_knob("pages_shared") == (t ? N : 0) && xt_knob("pages_sharing") == (t ? N : 0),
	      "pages_shared == pages_sharing == %d: nothing of [vvar] or [vdso] counted "
	      "(got %lld, %lld)", t ? N : 0, xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(clock_sane(), "clock_gettime() still works");
	xt_pfns_pid(0, (void *)vvar, nv, pfn_after);
	for (same = 0, i = 0; i < nv; i++)
		same += pfn_before[i] == pfn_after[i];
	check(same == nv, "the [vvar] frames did not change (%zu of %lu)", same, nv);
	if (vdso_copy) {
		check(memcmp(vdso_copy, (void *)vdso, vdso_end - vdso) == 0,
		      "the [vdso] reads back unchanged");
		free(vdso_copy);
	}
	xt_knob_set("run", 2);
	if (t)
		munmap(t, 2 * N * XT_PAGE);
}

int main(void)
{
	char *m1, *m2, *r1, *r2, *w1, *w2, *n1, *n2, *s1, *s2;
	size_t i, present, same;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();

	m1 = filled(MAP_PRIVATE, SEED);
	m2 = filled(MAP_PRIVATE, SEED);
	if (mlock(m1, N * XT_PAGE) || mlock(m2, N * XT_PAGE))
		fatal("mlock");
	r1 = filled(MAP_PRIVATE, SEED + 1);
	r2 = filled(MAP_PRIVATE, SEED + 1);
	mprotect(r1, N * XT_PAGE, PROT_READ);
	mprotect(r2, N * XT_PAGE, PROT_READ);
	w1 = filled(MAP_PRIVATE, SEED + 2);
	w2 = filled(MAP_PRIVATE, SEED + 2);
	s1 = filled(MAP_SHARED, SEED + 4);
	s2 = filled(MAP_SHARED, SEED + 4);

	check(xt_register(m1, N * XT_PAGE) == 0 && xt_register(m2, N * XT_PAGE) == 0,
	      "registering mlocked memory succeeds");
	check(xt_register(r1, N * XT_PAGE) == 0 && xt_register(r2, N * XT_PAGE) == 0,
	      "registering read-only memory succeeds");
	xt_register_or_die(w1, N * XT_PAGE);
	xt_register_or_die(w2, N * XT_PAGE);
	check(xt_register(s1, N * XT_PAGE) == 0 && xt_register(s2, N * XT_PAGE) == 0,
	      "registering shared anonymous memory succeeds (it is skipped silently)");

	xt_start_fast();
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, m1, 0, m2, N) == N, "mlocked pages merge (%zu of %d)",
	      xt_count_same_pfn(0, m1, 0, m2, N), N);
	for (present = 0, i = 0; i < N; i++)
		present += !!xt_pfn(m1 + i * XT_PAGE);
	check(present == N && xt_verify(m1, N, SEED) == 0 && xt_verify(m2, N, SEED) == 0,
	      "the mlocked pages stay present and intact");
	check(xt_count_same_pfn(0, r1, 0, r2, N) == N, "pages registered read-only merge (%zu of %d)",
	      xt_count_same_pfn(0, r1, 0, r2, N), N);
	check(xt_verify(r1, N, SEED + 1) == 0 && xt_verify(r2, N, SEED + 1) == 0,
	      "and read back intact");
	check(xt_count_same_pfn(0, w1, 0, w2, N) == N, "writable pages merge (%zu of %d)",
	      xt_count_same_pfn(0, w1, 0, w2, N), N);
	check(xt_count_same_pfn(0, s1, 0, s2, N) == 0, "shared anonymous pages are never merged");

	/* Merged, then read-only: still merged, intact. */
	mprotect(w1, N * XT_PAGE, PROT_READ);
	mprotect(w2, N * XT_PAGE, PROT_READ);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, w1, 0, w2, N) == N, "merged pages made read-only stay merged");
	check(xt_verify(w1, N, SEED + 2) == 0 && xt_verify(w2, N, SEED + 2) == 0,
	      "and read back intact");
	check(xt_verify(s1, N, SEED + 4) == 0 && xt_verify(s2, N, SEED + 4) == 0,
	      "the shared pages read back intact");
	/* Writing the mlocked merged pages copies them. */
	m1[0] ^= 1;
	check(xt_pfn(m1) != xt_pfn(m2) && xt_pfn(m1), "a write to a merged mlocked page copies it");
	m1[0] ^= 1;
	check(xt_verify(m1, N, SEED) == 0 && xt_verify(m2, N, SEED) == 0, "mlocked pages read back intact");

	/* Hugetlb and PFN/IO mappings, each alone, then PROT_NONE. */
	xt_knob_set("run", 2);
	munmap(m1, N * XT_PAGE);
	munmap(m2, N * XT_PAGE);
	munmap(r1, N * XT_PAGE);
	munmap(r2, N * XT_PAGE);
	munmap(w1, N * XT_PAGE);
	munmap(w2, N * XT_PAGE);
	munmap(s1, N * XT_PAGE);
	munmap(s2, N * XT_PAGE);
	hugetlb_case();
	pfnmap_case();

	/* PROT_NONE, alone. */
	xt_knob_set("run", 2);
	n1 = filled(MAP_PRIVATE, SEED + 3);
	n2 = filled(MAP_PRIVATE, SEED + 3);
	mprotect(n1, N * XT_PAGE, PROT_NONE);
	mprotect(n2, N * XT_PAGE, PROT_NONE);
	check(xt_register(n1, N * XT_PAGE) == 0 && xt_register(n2, N * XT_PAGE) == 0,
	      "registering PROT_NONE memory succeeds");
	xt_knob_set("run", 1);
	xt_wait_full_scans(3);
	same = xt_count_same_pfn(0, n1, 0, n2, N);
	if (xt_backend_ksm())
		xt_note("%zu of %d PROT_NONE pairs merged (mainline: all on 6.12, none on 6.1)",
			same, N);
	else
		check(same == N, "PROT_NONE pages merge (%zu of %d)", same, N);
	if (!xt_backend_ksm())
		check(xt_knob("pages_shared") == N && xt_knob("pages_sharing") == N,
		      "pages_shared == pages_sharing == %d (got %lld, %lld)", N,
		      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	mprotect(n1, N * XT_PAGE, PROT_READ);
	mprotect(n2, N * XT_PAGE, PROT_READ);
	check(xt_verify(n1, N, SEED + 3) == 0 && xt_verify(n2, N, SEED + 3) == 0,
	      "the PROT_NONE pages, made readable, read back intact");
	if (!xt_backend_ksm())
		check(xt_count_same_pfn(0, n1, 0, n2, N) == N,
		      "and stay merged once readable (%zu of %d)", xt_count_same_pfn(0, n1, 0, n2, N), N);
	return done();
}
