// SPDX-License-Identifier: GPL-2.0
/*
 * Memory going offline (memory hot-remove starts so):
 *  - merged pages in the block are migrated out by the kernel and stay
 *    merged, with their data;
 *  - stable nodes whose pages were freed before xksmd noticed (stale, with
 *    xksmd stopped) are pruned when their block goes offline: pages_shared
 *    drops at once, without a scan.
 * The guest has a DIMM on node 1 onlined movable (scripts/guest-run):
 * the test's pages are bound to node 1, whose movable zone (the DIMM) user
 * memory comes from first, and such blocks can always go offline.  Other
 * blocks (unmovable kernel memory) are not tried.
 */
#include <numaif.h>
#include <sys/mman.h>

#include "xksm_test.h"

#define N	64
#define SEED	0x0ff1

static unsigned long block_pages;

/* N pages bound to node 1, so that they come from its movable DIMM. */
static char *map_node1(void)
{
	unsigned long mask = 1UL << 1;
	char *p = xt_map(N);

	if (mbind(p, N * XT_PAGE, MPOL_BIND, &mask, sizeof(mask) * 8, 0))
		skip("mbind to node 1: %s", strerror(errno));
	return p;
}

static int set_block(unsigned long block, const char *state)
{
	char path[96];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%lu/state",
		 block);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, state, strlen(state)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Only blocks of ZONE_MOVABLE (the guest boots with movablecore=) are
 * tried: elsewhere unmovable kernel memory makes offlining fail, noisily.
 */
static int block_movable(unsigned long block)
{
	char path[96], zones[64] = "";
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/memory/memory%lu/valid_zones", block);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(zones, sizeof(zones), f))
		zones[0] = 0;
	fclose(f);
	return !strncmp(zones, "Movable", 7);
}

/* Offline the blocks holding these pfns; returns how many pfns they hold. */
static size_t offline_blocks(unsigned long *pfn, size_t n, unsigned long *done,
			     size_t *ndone)
{
	size_t i, j, held = 0;

	*ndone = 0;
	for (i = 0; i < n; i++) {
		unsigned long block = pfn[i] / block_pages;

		for (j = 0; j < *ndone; j++)
			if (done[j] == block)
				break;
		if (j == *ndone && block_movable(block) &&
		    !set_block(block, "offline"))
			done[(*ndone)++] = block;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < *ndone; j++)
			held += pfn[i] / block_pages == done[j];
	return held;
}

static void online_blocks(unsigned long *done, size_t ndone)
{
	size_t j;

	for (j = 0; j < ndone; j++)
		set_block(done[j], "online");
}

int main(void)
{
	unsigned long pfn[N], blocks[N];
	size_t i, held, nblocks, same;
	int attempt;
	long long shared;
	char *a, *b, buf[32] = "";
	FILE *f;

	f = fopen("/sys/devices/system/memory/block_size_bytes", "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		skip("no memory hotplug in this kernel");
	fclose(f);
	block_pages = strtoul(buf, NULL, 16) / XT_PAGE;

	/*
	 * Live merged pages: migrated out, still merged, intact.  Each node's
	 * movable zone has a block with reserved pages (its NODE_DATA) that
	 * cannot go offline: try fresh pages a few times.
	 */
	xt_unmerge_all();
	for (attempt = 0; attempt < 4; attempt++) {
		a = map_node1();
		b = map_node1();
		xt_fill(a, N, SEED);
		xt_fill(b, N, SEED);
		xt_register_or_die(a, N * XT_PAGE);
		xt_register_or_die(b, N * XT_PAGE);
		xt_start_fast();
		xt_knob_set("run", 1);
		xt_wait_full_scans(3);
		xt_knob_set("run", 0);
		if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d pairs are merged", N))
			return done();
		for (i = 0; i < N; i++)
			pfn[i] = xt_pfn(a + i * XT_PAGE);
		held = offline_blocks(pfn, N, blocks, &nblocks);
		if (held)
			break;
		xt_unregister(a, N * XT_PAGE, 0);
		xt_unregister(b, N * XT_PAGE, 0);
		munmap(a, N * XT_PAGE);
		munmap(b, N * XT_PAGE);
	}
	if (attempt == 4)
		skip("no block holding merged pages could be taken offline");
	for (i = 0, same = 0; i < N; i++)
		same += xt_pfn(a + i * XT_PAGE) != pfn[i];
	check(held > 0, "%zu block(s) went offline, holding %zu KSM pages", nblocks, held);
	check(same >= held && xt_count_same_pfn(0, a, 0, b, N) == N &&
	      xt_verify(a, N, SEED) + xt_verify(b, N, SEED) == 0,
	      "the %zu pages migrated out are still merged and intact", same);
	online_blocks(blocks, nblocks);

	/*
	 * Stale nodes: pages freed behind a stopped xksmd, then offlined.
	 * Each node's movable zone has a block with reserved pages (its
	 * NODE_DATA) that cannot go offline: try fresh pages a few times.
	 */
	for (attempt = 0; attempt < 4; attempt++) {
		char *c = map_node1(), *d = map_node1();

		xt_fill(c, N, SEED + attempt + 1);
		xt_fill(d, N, SEED + attempt + 1);
		xt_register_or_die(c, N * XT_PAGE);
		xt_register_or_die(d, N * XT_PAGE);
		xt_knob_set("run", 1);
		xt_wait_full_scans(3);
		xt_knob_set("run", 0);
		for (i = 0; i < N; i++)
			pfn[i] = xt_pfn(c + i * XT_PAGE);
		shared = xt_knob("pages_shared");
		munmap(c, N * XT_PAGE);
		munmap(d, N * XT_PAGE);
		if (xt_knob("pages_shared") != shared)
			break;	/* nodes went already: nothing to prune */
		held = offline_blocks(pfn, N, blocks, &nblocks);
		if (held) {
			long long now = xt_knob("pages_shared");

			check(now <= shared - (long long)held,
			      "offlining %zu block(s) pruned their %zu stale nodes at once (pages_shared %lld -> %lld)",
			      nblocks, held, shared, now);
			online_blocks(blocks, nblocks);
			break;
		}
	}
	if (attempt == 4)
		xt_note("no block holding freed merged pages could go offline: pruning not exercised");
	check(xt_count_same_pfn(0, a, 0, b, N) == N &&
	      xt_verify(a, N, SEED) + xt_verify(b, N, SEED) == 0,
	      "the first pages are still merged and intact");
	return done();
}
