// SPDX-License-Identifier: GPL-2.0
/*
 * Merged pages moved by mremap().  The kernel's KSM finds a KSM page's
 * mappings by address (its rmap_items'), so move_vma() unmerges KSM pages
 * before it moves them; xksm's have the same rmap, and xksm unmerges them
 * there too (its hook on ksm_madvise(), which move_vma() calls for any
 * vma).  Twins A and B merge, B is moved elsewhere (MREMAP_FIXED):
 *
 * 0. B's moved pages are private copies (smaps: no KSM), read as before,
 *    and migrate.
 *
 * With that unmerging off (mremap_unmerge=N), the pages move merged, and
 * xksmd must find them where they went:
 * 1. a scanned mm: after two passes, move_pages() of the merged pages
 *    moves every one (the kernel's rmap walk finds the moved mappings: a
 *    route each); after run=2 no page of B' shares a frame with its twin;
 * 2. unregistered with XKSM_KEEP_MERGED before the move (xksmd only tracks
 *    its merged pages then): the same, then unloading xksm leaves no page
 *    of B' sharing a frame with A;
 * 3. everything unregistered right after the move, before xksmd could
 *    see it: unregistering breaks the moved pages too (smaps), and after
 *    the unload they migrate.
 */
#include <numa.h>
#include <sys/mman.h>

#include "xksm_test.h"

#define N	16
#define SEED	0x6b21

/*
 * The "KSM:" kB of the vma at @p in /proc/self/smaps (6.12 has it; -1 where
 * the kernel does not show it).  Not /proc/kpageflags' KPF_KSM: 6.12 sets
 * it for every anonymous page.
 */
static long smaps_ksm_kb(const void *p)
{
	char line[256];
	unsigned long start, end;
	long kb = -1, v;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)p >= start && (uintptr_t)p < end;
		else if (in && sscanf(line, "KSM: %ld kB", &v) == 1)
			kb = v;
	}
	fclose(f);
	return kb;
}

/* Move @p (n pages) to a fresh place; returns the new address. */
static char *move_away(char *p, size_t n)
{
	char *to = mmap(NULL, n * XT_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (to == MAP_FAILED)
		fatal("mmap");
	to = mremap(p, n * XT_PAGE, n * XT_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (to == MAP_FAILED)
		fatal("mremap");
	return to;
}

/* move_pages() of @n pages of @p to the other node: how many moved. */
static size_t migrate(char *p, size_t n)
{
	void *pages[N];
	int nodes[N], status[N];
	size_t i, moved = 0;

	for (i = 0; i < n; i++) {
		pages[i] = p + i * XT_PAGE;
		nodes[i] = xt_page_node(pages[i]) == 0 ? 1 : 0;
		status[i] = -1;
	}
	move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE_ALL);
	for (i = 0; i < n; i++)
		moved += status[i] == nodes[i];
	if (moved < n)
		printf("# move_pages: page 0 to node %d: status %d\n", nodes[0], status[0]);
	return moved;
}

static int merge_twins(char **a, char **b)
{
	xt_knob_set("run", 2);
	xt_map_twins(N, SEED, a, b);
	xt_start_fast();
	xt_wait_full_scans(2);
	return xt_count_same_pfn(0, *a, 0, *b, N) == N;
}

#define PARAM	"/sys/module/xksm/parameters/mremap_unmerge"

/* The default back, however the test ends. */
static void param_default(void)
{
	xt_write_file(PARAM, "Y");
}

int main(void)
{
	const char *ko = getenv("XKSM_KO");
	char *a, *b, *moved, cmd[256];
	size_t n;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	xt_unmerge_all();

	/* 0. As the kernel's KSM: mremap() unmerges. */
	if (!check(merge_twins(&a, &b), "the %d twin pairs merge", N))
		return done();
	moved = move_away(b, N);
	n = xt_count_same_pfn(0, a, 0, moved, N);
	check(n == 0, "the moved pages are private copies (%zu still share a frame)", n);
	check(xt_verify(moved, N, SEED) == 0 && xt_verify(a, N, SEED) == 0,
	      "the moved pages read as before, their twins too");
	if (smaps_ksm_kb(moved) >= 0)
		check(smaps_ksm_kb(moved) == 0, "smaps: the moved range holds no KSM page (%ld kB)",
		      smaps_ksm_kb(moved));
	xt_knob_set("run", 0);
	n = migrate(moved, N);
	check(n == N, "move_pages() moves every moved page (%zu)", n);
	munmap(a, N * XT_PAGE);
	munmap(moved, N * XT_PAGE);

	if (xt_write_file(PARAM, "N"))
		skip("no " PARAM);
	atexit(param_default);

	/* 1. A scanned mm. */
	if (!check(merge_twins(&a, &b), "the %d twin pairs merge again", N))
		return done();
	moved = move_away(b, N);
	check(xt_verify(moved, N, SEED) == 0, "mremap_unmerge=N: the moved pages read as before");
	check(xt_count_same_pfn(0, a, 0, moved, N) == N,
	      "each moved page is still the merged page");
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);	/* xksmd's references would fail migration */
	n = migrate(a, N);
	check(n == N, "move_pages() moves every page the twins shared (%zu)", n);
	n = migrate(moved, N);
	check(n == N, "move_pages() moves every moved page (%zu)", n);
	check(xt_verify(a, N, SEED) == 0 && xt_verify(moved, N, SEED) == 0,
	      "the contents are intact after migration");
	xt_knob_set("run", 2);
	n = xt_count_same_pfn(0, a, 0, moved, N);
	check(n == 0, "after run=2 no moved page shares a frame with its twin (%zu do)", n);
	munmap(a, N * XT_PAGE);
	munmap(moved, N * XT_PAGE);

	/* 2. Unregistered, keeping the merged pages, then moved. */
	if (!ko)
		skip("XKSM_KO (the module's path) is not set");
	if (!check(merge_twins(&a, &b), "the %d twin pairs merge a third time", N))
		return done();
	check(xt_unregister(a, N * XT_PAGE, XKSM_KEEP_MERGED) == 0 &&
	      xt_unregister(b, N * XT_PAGE, XKSM_KEEP_MERGED) == 0,
	      "both unregistered with XKSM_KEEP_MERGED");
	moved = move_away(b, N);
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	n = migrate(moved, N);
	check(n == N, "move_pages() moves every moved page, unregistered (%zu)", n);
	close(xt_fd);
	xt_fd = -1;
	check(system("rmmod xksm") == 0, "rmmod xksm with the moved pages mapped");
	n = xt_count_same_pfn(0, a, 0, moved, N);
	check(n == 0, "after the unload no moved page shares a frame with its twin (%zu do)", n);
	check(xt_verify(a, N, SEED) == 0 && xt_verify(moved, N, SEED) == 0,
	      "the contents are intact");
	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	check(system(cmd) == 0, "xksm loads again");
	munmap(a, N * XT_PAGE);
	munmap(moved, N * XT_PAGE);
	xt_write_file(PARAM, "N");	/* a new load has the default */

	/*
	 * 3. Moved, and everything unregistered before xksmd passes (it is
	 * stopped): unregistering must break the moved pages too, or they
	 * would stay KSM pages of a node that goes with the module.  After
	 * the unload, migrating them walks their rmap: a dangling node would
	 * show (KASAN on the debug kernel, poisoned memory elsewhere).
	 */
	if (!check(merge_twins(&a, &b), "the %d twin pairs merge a fourth time", N))
		return done();
	xt_knob_set("run", 0);
	moved = move_away(b, N);
	check(xt_unregister(a, N * XT_PAGE, 0) == 0, "the twins that stayed are unregistered");
	xt_unregister(b, N * XT_PAGE, 0);	/* gone: ENOMEM, documented */
	n = xt_count_same_pfn(0, a, 0, moved, N);
	check(n == 0, "no moved page shares a frame with its twin any more (%zu do)", n);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "pages_shared and pages_sharing are 0 (%lld, %lld)",
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	if (smaps_ksm_kb(moved) >= 0)
		check(smaps_ksm_kb(moved) == 0,
		      "no moved page is a KSM page any more (smaps: KSM: %ld kB)",
		      smaps_ksm_kb(moved));
	else
		xt_note("no KSM: line in /proc/self/smaps on this kernel");
	/* xksmd forgets an mm with nothing registered when it passes. */
	xt_knob_set("run", 1);
	xt_msleep(1000);
	close(xt_fd);
	xt_fd = -1;
	check(system("rmmod xksm") == 0, "rmmod xksm");
	n = migrate(moved, N);
	check(n == N, "move_pages() moves every moved page after the unload (%zu)", n);
	check(xt_verify(a, N, SEED) == 0 && xt_verify(moved, N, SEED) == 0,
	      "the contents are intact");
	check(system(cmd) == 0, "xksm loads again");
	return done();
}
