// SPDX-License-Identifier: GPL-2.0
/*
 * xksm and the kernel's own KSM at once, the kernel's ksmd at full speed:
 * each merges its own processes' pages and never the other's; a process
 * that madvises MADV_MERGEABLE (or, where the kernel has it,
 * PR_SET_MEMORY_MERGE) over memory xksm merged hands it over to the
 * kernel's KSM cleanly; data stays intact and both sets of counters add up.
 * Then the two KSMs on two processes at once: a forked child madvises its
 * own twin pages MADV_MERGEABLE while the parent registers twins of other
 * contents with xksm; each KSM merges its own process's pairs, no frame is
 * shared across the processes, and each KSM's pages_shared/pages_sharing
 * (and the child's ksm_merging_pages, the parent's merging_pages) count
 * its own process's pages only.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "xksm_test.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#define NPAGES	32		/* per region: NPAGES/2 distinct contents, twice */

static long page_size;

static long knob_at(const char *dir, const char *name)
{
	char path[160], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int set_at(const char *dir, const char *name, const char *val)
{
	char path[160];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#define XKSM "/sys/kernel/mm/xksm"
#define KSM  "/sys/kernel/mm/ksm"

static int wait_scans(const char *dir, int n)
{
	long start = knob_at(dir, "full_scans");
	time_t deadline = time(NULL) + 120;

	while (knob_at(dir, "full_scans") < start + n) {
		if (time(NULL) > deadline)
			return 0;
		usleep(10000);
	}
	return 1;
}

static uint64_t pfn_of(void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent),
		  (uintptr_t)addr / page_size * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return (ent & (1ULL << 63)) ? ent & ((1ULL << 55) - 1) : 0;
}

/* A region whose page i holds content seed + i % (NPAGES/2). */
static char *make_region(int seed)
{
	char *p = mmap(NULL, NPAGES * page_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int i;

	if (p == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < NPAGES; i++) {
		memset(p + i * page_size, 'A' + (seed + i % (NPAGES / 2)) % 26,
		       page_size);
		p[i * page_size + 1] = (char)(seed + i % (NPAGES / 2));
	}
	return p;
}

static int region_intact(char *p, int seed)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		if (p[i * page_size] != 'A' + (seed + i % (NPAGES / 2)) % 26 ||
		    p[i * page_size + 1] != (char)(seed + i % (NPAGES / 2)) ||
		    p[i * page_size + page_size - 1] !=
		    'A' + (seed + i % (NPAGES / 2)) % 26)
			return 0;
	return 1;
}

/* How many of the NPAGES/2 pairs share one PFN. */
static int merged_pairs(char *p)
{
	int i, n = 0;

	for (i = 0; i < NPAGES / 2; i++) {
		uint64_t a = pfn_of(p + i * page_size);

		n += a && a == pfn_of(p + (i + NPAGES / 2) * page_size);
	}
	return n;
}

static int xksm_register_range(int fd, void *p)
{
	struct xksm_range r = { .start = (uintptr_t)p, .len = NPAGES * page_size };

	return ioctl(fd, XKSM_IOC_MERGEABLE, &r);
}

/* The child's region, told to the parent through shared memory. */
static char **child_region;

/* A forked child's set-up: its own twins, madvised MADV_MERGEABLE. */
static int child_fn(int cmd, void *arg)
{
	(void)arg;
	if (cmd == 0) {
		*child_region = make_region(3);
		return madvise(*child_region, NPAGES * page_size, MADV_MERGEABLE) == 0;
	}
	if (cmd == 'v')
		return region_intact(*child_region, 3);
	return 0;
}

/* How many of the NPAGES/2 pairs of process pid's region at p share one PFN. */
static int merged_pairs_pid(pid_t pid, char *p, unsigned long *pfn)
{
	int i, n = 0;

	xt_pfns_pid(pid, p, NPAGES, pfn);
	for (i = 0; i < NPAGES / 2; i++)
		n += pfn[i] && pfn[i] == pfn[i + NPAGES / 2];
	return n;
}

int main(void)
{
	struct xksm_stats st;
	unsigned long cpfn[NPAGES], ppfn[NPAGES];
	int fd, i, j, ok, cpairs = 0, ppairs = 0, scans;
	char *x, *y, *z, *p, *cp;
	struct xt_child child;
	long long kmp = -1;
	char path[64];
	uint64_t px;

	page_size = sysconf(_SC_PAGESIZE);
	if (knob_at(KSM, "run") < 0)
		skip("the kernel has no KSM");
	fd = xksm_open();

	set_at(XKSM, "run", "2");
	set_at(KSM, "run", "2");
	set_at(XKSM, "pages_to_scan", "1000");
	set_at(XKSM, "sleep_millisecs", "0");
	set_at(KSM, "pages_to_scan", "5000");
	set_at(KSM, "sleep_millisecs", "0");
	check(set_at(KSM, "run", "1") == 0, "the kernel's ksmd runs at full speed");
	check(set_at(XKSM, "run", "1") == 0, "xksmd runs");

	/* x: xksm's; y: the kernel's; same contents in both. */
	x = make_region(0);
	y = make_region(0);
	check(xksm_register_range(fd, x) == 0, "x registered with xksm");
	check(madvise(y, NPAGES * page_size, MADV_MERGEABLE) == 0,
	      "y madvised MADV_MERGEABLE");
	check(wait_scans(XKSM, 3) && wait_scans(KSM, 3),
	      "three full scans of each");

	check(merged_pairs(x) == NPAGES / 2, "xksm merged every pair of x (%d/%d)",
	      merged_pairs(x), NPAGES / 2);
	check(merged_pairs(y) == NPAGES / 2, "the kernel merged every pair of y (%d/%d)",
	      merged_pairs(y), NPAGES / 2);
	for (i = 0, ok = 1; i < NPAGES; i++)
		ok &= pfn_of(x + i * page_size) != pfn_of(y + i * page_size);
	check(ok, "no page of x shares a frame with y: neither KSM took the other's");
	check(knob_at(XKSM, "pages_shared") == NPAGES / 2 &&
	      knob_at(XKSM, "pages_sharing") == NPAGES / 2,
	      "xksm counts only x (shared %ld, sharing %ld)",
	      knob_at(XKSM, "pages_shared"), knob_at(XKSM, "pages_sharing"));
	check(knob_at(KSM, "pages_shared") == NPAGES / 2 &&
	      knob_at(KSM, "pages_sharing") == NPAGES / 2,
	      "the kernel counts only y (shared %ld, sharing %ld)",
	      knob_at(KSM, "pages_shared"), knob_at(KSM, "pages_sharing"));

	/* Hand x over to the kernel's KSM while it is xksm-merged. */
	px = pfn_of(x);
	check(madvise(x, NPAGES * page_size, MADV_MERGEABLE) == 0,
	      "x (xksm-merged) madvised MADV_MERGEABLE");
	check(pfn_of(x) != px, "xksm unmerged x before the kernel took it");
	check(wait_scans(KSM, 3) && wait_scans(XKSM, 2), "more full scans of each");
	check(region_intact(x, 0) && region_intact(y, 0), "x and y are intact");
	check(merged_pairs(x) == NPAGES / 2, "x is merged again, now by the kernel");
	memset(&st, 0, sizeof(st));
	ok = ioctl(fd, XKSM_IOC_STATS, &st) == 0;
	check(ok && st.merging_pages == 0,
	      "xksm no longer counts x (merging_pages %llu)",
	      (unsigned long long)st.merging_pages);
	check(knob_at(XKSM, "pages_shared") == 0 && knob_at(XKSM, "pages_sharing") == 0,
	      "xksm's counters are back to zero");
	check(knob_at(KSM, "pages_sharing") >= NPAGES, "the kernel now shares x and y (%ld)",
	      knob_at(KSM, "pages_sharing"));

	/*
	 * x is still registered with xksm: unregistering it leaves the
	 * kernel's pages (its ksmd stopped meanwhile, or it would merge
	 * copies back at once).
	 */
	check(set_at(KSM, "run", "0") == 0, "the kernel's ksmd stops (run=0)");
	px = pfn_of(x);
	{
		struct xksm_range r = { .start = (uintptr_t)x, .len = NPAGES * page_size };

		check(ioctl(fd, XKSM_IOC_UNMERGEABLE, &r) == 0, "x unregistered from xksm");
	}
	check(pfn_of(x) == px && merged_pairs(x) == NPAGES / 2,
	      "the kernel's merged pages in x stay merged (%d/%d pairs)", merged_pairs(x),
	      NPAGES / 2);
	check(set_at(KSM, "run", "1") == 0, "the kernel's ksmd runs again");

	/* The whole process, with prctl, where the kernel has it. */
	z = make_region(7);
	check(xksm_register_range(fd, z) == 0, "z registered with xksm");
	check(wait_scans(XKSM, 3), "three full scans of xksm");
	check(merged_pairs(z) == NPAGES / 2, "xksm merged z");
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0) {
		check(wait_scans(KSM, 3) && wait_scans(XKSM, 2), "more full scans");
		check(region_intact(z, 7), "z is intact after PR_SET_MEMORY_MERGE");
		check(merged_pairs(z) == NPAGES / 2, "z is merged by the kernel now");
		check(knob_at(XKSM, "pages_shared") == 0, "xksm holds nothing of z");
		prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0);
	} else {
		printf("# PR_SET_MEMORY_MERGE: %s (not on this kernel)\n", strerror(errno));
	}

	/* Writes everywhere still copy correctly. */
	for (i = 0; i < NPAGES; i++) {
		x[i * page_size + 2] = 'x';
		y[i * page_size + 2] = 'y';
		z[i * page_size + 2] = 'z';
	}
	for (i = 0, ok = 1; i < NPAGES; i++)
		ok &= x[i * page_size + 2] == 'x' && y[i * page_size + 2] == 'y' &&
		      z[i * page_size + 2] == 'z';
	check(ok, "writes after all that land where they should");

	madvise(x, NPAGES * page_size, MADV_UNMERGEABLE);
	madvise(y, NPAGES * page_size, MADV_UNMERGEABLE);
	check(set_at(KSM, "run", "2") == 0 && set_at(XKSM, "run", "2") == 0,
	      "both unmerge everything (run=2)");
	check(knob_at(KSM, "pages_shared") == 0 && knob_at(XKSM, "pages_shared") == 0,
	      "both counters are back to zero");

	/*
	 * Two processes: the child's twins with the kernel's KSM, the
	 * parent's (other contents) with xksm, both scanning at once.
	 */
	munmap(x, NPAGES * page_size);
	munmap(y, NPAGES * page_size);
	munmap(z, NPAGES * page_size);
	check(set_at(KSM, "run", "1") == 0 && set_at(XKSM, "run", "1") == 0,
	      "both KSMs run again");
	child_region = xt_map_shared(1);
	check(xt_child_start(&child, child_fn, NULL) == 1,
	      "a child madvised its own twins MADV_MERGEABLE");
	cp = *child_region;
	p = make_region(20);
	check(xksm_register_range(fd, p) == 0, "the parent registered its twins with xksm");
	for (scans = 0; scans < 12; scans++) {
		if (!wait_scans(KSM, 1) || !wait_scans(XKSM, 1))
			break;
		cpairs = merged_pairs_pid(child.pid, cp, cpfn);
		ppairs = merged_pairs_pid(0, p, ppfn);
		if (cpairs == NPAGES / 2 && ppairs == NPAGES / 2)
			break;
	}
	/* A scan more of each: nothing must change, or cross over, then. */
	check(wait_scans(KSM, 2) && wait_scans(XKSM, 2), "full scans of each go on");
	cpairs = merged_pairs_pid(child.pid, cp, cpfn);
	ppairs = merged_pairs_pid(0, p, ppfn);
	check(cpairs == NPAGES / 2, "the kernel merged every pair of the child (%d/%d)",
	      cpairs, NPAGES / 2);
	check(ppairs == NPAGES / 2, "xksm merged every pair of the parent (%d/%d)",
	      ppairs, NPAGES / 2);
	for (i = 0, ok = 1; i < NPAGES; i++)
		for (j = 0; j < NPAGES; j++)
			ok &= !cpfn[i] || cpfn[i] != ppfn[j];
	check(ok, "no frame is shared between the child and the parent");
	check(knob_at(KSM, "pages_shared") == NPAGES / 2 &&
	      knob_at(KSM, "pages_sharing") == NPAGES / 2,
	      "the kernel's counters count the child's pages only (shared %ld, sharing %ld)",
	      knob_at(KSM, "pages_shared"), knob_at(KSM, "pages_sharing"));
	check(knob_at(XKSM, "pages_shared") == NPAGES / 2 &&
	      knob_at(XKSM, "pages_sharing") == NPAGES / 2,
	      "xksm's counters count the parent's pages only (shared %ld, sharing %ld)",
	      knob_at(XKSM, "pages_shared"), knob_at(XKSM, "pages_sharing"));
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)child.pid);
	if (!xt_proc_field(path, "ksm_merging_pages", &kmp)) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)child.pid);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%lld", &kmp) != 1)
				kmp = -1;
			fclose(f);
		}
	}
	check(kmp == NPAGES, "the child's ksm_merging_pages is %d (%lld)", NPAGES, kmp);
	memset(&st, 0, sizeof(st));
	ok = ioctl(fd, XKSM_IOC_STATS, &st) == 0;
	check(ok && st.merging_pages == NPAGES, "the parent's xksm merging_pages is %d (%llu)",
	      NPAGES, (unsigned long long)st.merging_pages);
	check(xt_child_cmd(&child, 'v') == 1 && region_intact(p, 20),
	      "both processes' data is intact");
	check(xt_child_stop(&child) == 0, "the child exits");
	munmap(p, NPAGES * page_size);
	check(set_at(KSM, "run", "2") == 0 && set_at(XKSM, "run", "2") == 0,
	      "both unmerge everything again (run=2)");
	check(knob_at(KSM, "pages_shared") == 0 && knob_at(XKSM, "pages_shared") == 0 &&
	      knob_at(KSM, "pages_sharing") == 0 && knob_at(XKSM, "pages_sharing") == 0,
	      "both counters are back to zero");
	set_at(KSM, "pages_to_scan", "100");
	set_at(KSM, "sleep_millisecs", "20");
	set_at(KSM, "run", "0");
	set_at(XKSM, "pages_to_scan", "100");
	set_at(XKSM, "sleep_millisecs", "20");
	set_at(XKSM, "run", "0");
	close(fd);
	return done();
}
