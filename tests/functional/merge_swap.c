// SPDX-License-Identifier: GPL-2.0
/*
 * Merged pages go to swap and come back intact.  A zram device becomes swap;
 * N identical pairs of registered pages are merged; then the range is
 * paged out: MADV_PAGEOUT (which leaves pages mapped more than once alone)
 * and memory.reclaim of the test's own memory cgroup (which does reclaim
 * merged pages, through their rmap).  At least some merged pages show as
 * swapped in /proc/self/pagemap; every byte reads back exactly; after more
 * scans the pairs are merged again.  Swap, zram device and cgroup are torn
 * down at the end.
 */
#include <sys/stat.h>
#include <sys/swap.h>

#include "xksm_test.h"

#define N	128
#define SEED	0x6b0b
#define CG	"/sys/fs/cgroup/xksm_merge_swap"

static char zdev[64], zsys[64];
static int zid = -1, swap_on, in_cg;

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = errno;
	close(fd);
	return err;
}

static void teardown(void)
{
	char buf[96];

	if (swap_on && swapoff(zdev))
		printf("# teardown: swapoff %s: %s\n", zdev, strerror(errno));
	swap_on = 0;
	if (zid >= 0) {
		snprintf(buf, sizeof(buf), "%s/reset", zsys);
		write_file(buf, "1");
		snprintf(buf, sizeof(buf), "%d", zid);
		write_file("/sys/class/zram-control/hot_remove", buf);
		zid = -1;
	}
	if (in_cg) {
		snprintf(buf, sizeof(buf), "%d", (int)getpid());
		write_file("/sys/fs/cgroup/cgroup.procs", buf);
		rmdir(CG);
		in_cg = 0;
	}
}

/* A zram device of 256 MiB made swap space (mkswap done here, in C). */
static void zram_swap(void)
{
	char path[96], buf[32] = "";
	unsigned int *hdr;
	ssize_t n;
	int fd;

	fd = open("/sys/class/zram-control/hot_add", O_RDONLY);
	if (fd < 0)
		skip("no zram (/sys/class/zram-control): %s", strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fatal("zram hot_add");
	zid = atoi(buf);
	snprintf(zdev, sizeof(zdev), "/dev/zram%d", zid);
	snprintf(zsys, sizeof(zsys), "/sys/block/zram%d", zid);
	snprintf(path, sizeof(path), "%s/disksize", zsys);
	if ((errno = write_file(path, "256M")))
		fatal("set %s", path);

	/* The swap header: version 1, last page, "SWAPSPACE2". */
	hdr = calloc(1, XT_PAGE);
	hdr[1024 / 4] = 1;
	hdr[1024 / 4 + 1] = (256 << 20) / XT_PAGE - 1;
	memcpy((char *)hdr + XT_PAGE - 10, "SWAPSPACE2", 10);
	for (n = 0; n < 50 && (fd = open(zdev, O_WRONLY | O_CLOEXEC)) < 0; n++)
		xt_msleep(100);	/* devtmpfs creates the node */
	if (fd < 0)
		fatal("open %s", zdev);
	if (pwrite(fd, hdr, XT_PAGE, 0) != (ssize_t)XT_PAGE)
		fatal("write swap header");
	close(fd);
	free(hdr);
	if (swapon(zdev, 0))
		fatal("swapon %s", zdev);
	swap_on = 1;
}

/* This process in a memory cgroup of its own, so that its memory can be reclaimed. */
static void own_cgroup(void)
{
	char buf[32];
	int err;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK))
		skip("no cgroup v2 at /sys/fs/cgroup");
	write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) && errno != EEXIST)
		fatal("mkdir " CG);
	if (access(CG "/memory.reclaim", W_OK))
		skip("no memory.reclaim in the memory cgroup");
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if ((err = write_file(CG "/cgroup.procs", buf))) {
		errno = err;
		fatal("join " CG);
	}
	in_cg = 1;
}

int main(void)
{
	size_t i, swapped, bad;
	char *a, *b;
	int err, tries;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	atexit(teardown);
	own_cgroup();		/* before the memory is touched: it is charged here */
	zram_swap();
	check(1, "%s is swap space", zdev);

	xt_map_twins(N, SEED, &a, &b);
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d pairs are merged", N))
		return done();

	madvise(a, N * XT_PAGE, MADV_PAGEOUT);
	madvise(b, N * XT_PAGE, MADV_PAGEOUT);
	/*
	 * Merged pages are mapped twice, so the first reclaim pass finds
	 * them referenced and activates them; a later pass deactivates them
	 * once the memcg's (lazily flushed) statistics show the inactive list
	 * low.  So try a few times, with pauses.
	 */
	for (tries = 0; tries < 20; tries++) {
		err = write_file(CG "/memory.reclaim", "64M");
		for (swapped = 0, i = 0; i < N; i++)
			swapped += xt_swapped(a + i * XT_PAGE);
		if (swapped)
			break;
		xt_msleep(250);
	}
	xt_note("%d reclaim attempt(s)", tries + 1);
	xt_note("memory.reclaim: %s", err ? strerror(err) : "ok");
	check(swapped > 0, "merged pages were swapped out (%zu of %d show as swapped)", swapped, N);

	bad = xt_verify(a, N, SEED) + xt_verify(b, N, SEED);
	check(bad == 0, "every byte of both copies reads back exactly (%zu pages differ)", bad);
	for (swapped = 0, i = 0; i < N; i++)
		swapped += xt_swapped(a + i * XT_PAGE) + xt_swapped(b + i * XT_PAGE);
	check(swapped == 0, "all pages are back in memory");
	xt_note("%zu of %d pairs still share a PFN right after swap-in",
		xt_count_same_pfn(0, a, 0, b, N), N);
	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, a, 0, b, N) == N, "after two more full scans all pairs are merged");
	check(xt_verify(a, N, SEED) + xt_verify(b, N, SEED) == 0, "and read back intact");

	xt_knob_set("run", 2);
	teardown();
	check(!swap_on && zid < 0, "swap off and the zram device removed");
	return done();
}
