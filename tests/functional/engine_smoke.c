// SPDX-License-Identifier: GPL-2.0
/*
 * The merging engine end to end, in one process: two registered regions of
 * identical pages end on shared PFNs, the counters add up, a write copies,
 * UNMERGEABLE breaks the rest at once, run=2 empties everything.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "xksm_test.h"

#define NPAGES	64
#define SYSFS	"/sys/kernel/mm/xksm/"

static long page_size;

static long knob(const char *name)
{
	char path[128], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static int set_knob(const char *name, const char *val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
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

/* Wait until full_scans has advanced by @n; false on timeout. */
static int wait_full_scans(int n)
{
	long start = knob("full_scans");
	time_t deadline = time(NULL) + 120;

	while (knob("full_scans") < start + n) {
		if (time(NULL) > deadline)
			return 0;
		usleep(10000);
	}
	return 1;
}

static int range_ioctl(int fd, unsigned long cmd, void *addr, size_t len,
		       __u64 flags)
{
	struct xksm_range r = {
		.start = (uintptr_t)addr, .len = len, .flags = flags,
	};

	return ioctl(fd, cmd, &r);
}

int main(void)
{
	size_t len;
	char *a, *b;
	int fd, i, same, ok;
	struct xksm_stats st;

	page_size = sysconf(_SC_PAGESIZE);
	len = NPAGES * page_size;
	fd = xksm_open();

	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		fatal("mmap");
	for (i = 0; i < NPAGES; i++) {
		memset(a + i * page_size, 'a' + i % 26, page_size);
		a[i * page_size] = (char)i;	/* every page distinct */
		memcpy(b + i * page_size, a + i * page_size, page_size);
	}

	check(set_knob("run", "2") == 0, "run=2 to start clean");
	check(range_ioctl(fd, XKSM_IOC_MERGEABLE, a, len, 0) == 0, "register a");
	check(range_ioctl(fd, XKSM_IOC_MERGEABLE, b, len, 0) == 0, "register b");
	set_knob("pages_to_scan", "1000");
	set_knob("sleep_millisecs", "0");
	check(set_knob("run", "1") == 0, "run=1");
	check(wait_full_scans(3), "three full scans within 120 s");

	for (i = 0, same = 0; i < NPAGES; i++)
		same += pfn_of(a + i * page_size) &&
			pfn_of(a + i * page_size) == pfn_of(b + i * page_size);
	check(same == NPAGES, "all %d page pairs share one PFN (%d do)", NPAGES, same);
	ok = 1;
	for (i = 1; i < NPAGES; i++)
		ok &= pfn_of(a + i * page_size) != pfn_of(a);
	check(ok, "different pages never share a PFN");
	check(knob("pages_shared") == NPAGES, "pages_shared == %d (%ld)", NPAGES,
	      knob("pages_shared"));
	check(knob("pages_sharing") == NPAGES, "pages_sharing == %d (%ld)", NPAGES,
	      knob("pages_sharing"));
	memset(&st, 0, sizeof(st));
	i = ioctl(fd, XKSM_IOC_STATS, &st);
	check(i == 0 && st.merging_pages == 2 * NPAGES,
	      "stats: merging_pages == %d (%llu)", 2 * NPAGES,
	      (unsigned long long)st.merging_pages);

	/* CoW */
	b[0] = 'X';
	check(pfn_of(b) != pfn_of(a), "a write in b copies the page");
	check(a[0] == 0 && b[0] == 'X' && a[1] == 'a' && b[1] == 'a',
	      "both keep their data");

	/* UNMERGEABLE breaks at once */
	check(range_ioctl(fd, XKSM_IOC_UNMERGEABLE, b, len, 0) == 0, "unregister b");
	for (i = 1, same = 0; i < NPAGES; i++)
		same += pfn_of(a + i * page_size) == pfn_of(b + i * page_size);
	check(same == 0, "no pair shares a PFN right after UNMERGEABLE (%d do)", same);
	for (i = 0, ok = 1; i < NPAGES; i++)
		ok &= a[i * page_size] == (char)i && (i == 0 || b[i * page_size] == (char)i) &&
		      a[i * page_size + 1] == 'a' + i % 26;
	check(ok, "data intact after unmerging");

	check(set_knob("run", "2") == 0, "run=2");
	check(knob("pages_shared") == 0 && knob("pages_sharing") == 0 &&
	      knob("pages_unshared") == 0, "run=2 leaves no shared, sharing or unshared pages");
	set_knob("pages_to_scan", "100");
	set_knob("sleep_millisecs", "20");
	set_knob("run", "0");
	close(fd);
	return done();
}
