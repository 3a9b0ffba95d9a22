// SPDX-License-Identifier: GPL-2.0
/*
 * The anon_vma a stable rmap_item records is the page's, taken before the
 * merge, not the vma's: pages a process shares with the parent it was
 * forked from stay movable and swappable from the parent's side.
 *
 * The test process P0 is not registered.  It fills N pairs of pages (page
 * i and page N + i alike) and forks P; P registers the range (P only: a
 * child of an unregistered parent inherits nothing) and xksm merges P's
 * pairs.  P's pages are still P0's too, not yet copied on write, so one
 * page of each pair becomes a KSM page mapped by both P0 and P.  That
 * page's anon_vma is P0's (the root), whose tree holds P0's vma and P's;
 * P's vma has an anon_vma of its own, a child, whose tree holds P's vma
 * only.  The kernel finds the ptes of a KSM page only by searching the
 * anon_vma of each rmap_item on its stable node: with P's anon_vma (as
 * mainline KSM records it) P0's ptes are never found, and migration and
 * reclaim of those pages fail.  So:
 *
 *  - P's pairs share one PFN each, every such PFN is mapped by P0 at one
 *    of the pair's two addresses, and /proc/kpageflags calls it KSM;
 *  - move_pages(MPOL_MF_MOVE_ALL) from P0 of all 2N of its pages to the
 *    other node succeeds: every status is the target node, every PFN in
 *    P0's pagemap is new and on the target node; P's pairs still share
 *    one PFN each, the one P0 maps, on the target node too; P0 and P read
 *    their data intact (xksmd is stopped meanwhile, so that no reference
 *    it holds makes a page fail for a moment; the move is tried up to 5
 *    times, a page without a route fails every time);
 *  - with swap on zram, MADV_PAGEOUT of P0's range (which pages out only
 *    the pages P0 maps alone) and memory.reclaim of P0's memory cgroup
 *    (which reaches the merged pages through their rmap) swap out all 2N
 *    of P0's pages, the merged ones included; P0 and P read them back
 *    intact.
 *
 * Run with XKSM_TEST_BACKEND=ksm, the same steps on the kernel's own KSM
 * fail: the merged pages neither move nor go to swap.
 */
#include <numa.h>
#include <sys/stat.h>

#include "xksm_test.h"

#define N		32		/* pairs: 2N pages */
#define LEN		(2 * N * XT_PAGE)
#define SEED		0x6b50
#define MOVE_TRIES	5
#define SWAP_TRIES	16
#define STATUS_UNSET	(-99999)
#define KPF_KSM		21
#define CG		XT_CG_ROOT "/xksm_page_anon_vma"

static char *mem;		/* P0's range, P's after the fork */

static void teardown(void)
{
	xt_zram_swap_off();
	xt_memcg_leave();
}

/* How many of the 2N pages do not hold their pair's content (SEED, i). */
static size_t bad_pages(void)
{
	return xt_verify(mem, N, SEED) + xt_verify(mem + N * XT_PAGE, N, SEED);
}

/* P: forked by P0, registers the range it inherited, serves P0. */
static int p_fn(int cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	case 0:
		return xt_register(mem, LEN) ? errno : 0;
	case 'v':
		return bad_pages() ? 1 : 0;
	}
	return 255;
}

/* The /proc/kpageflags word of a page frame, 0 if it cannot be read. */
static uint64_t kpageflags(unsigned long pfn)
{
	static int fd = -1;
	uint64_t flags = 0;

	if (fd < 0)
		fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &flags, sizeof(flags), pfn * sizeof(flags)) != sizeof(flags))
		return 0;
	return flags;
}

/*
 * P's pairs: how many share one PFN each (in P), and of those, how many
 * P0 maps at page i or at page N + i, the one it maps recorded in ksm[i].
 */
static void look(pid_t p, size_t *p_pairs, size_t *in_p0, unsigned long *p_pfn,
		 unsigned long *t_pfn, size_t *ksm)
{
	size_t i;

	xt_pfns_pid(p, mem, 2 * N, p_pfn);
	xt_pfns_pid(0, mem, 2 * N, t_pfn);
	*p_pairs = *in_p0 = 0;
	for (i = 0; i < N; i++) {
		ksm[i] = 2 * N;		/* none */
		if (!p_pfn[i] || p_pfn[i] != p_pfn[N + i])
			continue;
		(*p_pairs)++;
		if (t_pfn[i] == p_pfn[i])
			ksm[i] = i;
		else if (t_pfn[N + i] == p_pfn[i])
			ksm[i] = N + i;
		*in_p0 += ksm[i] < 2 * N;
	}
}

int main(void)
{
	unsigned long p_pfn[2 * N], t_pfn[2 * N], old_pfn[2 * N];
	int cur[2 * N], target[2 * N], status[2 * N];
	size_t i, p_pairs = 0, in_p0 = 0, ksm_flag, moved, changed, on_target;
	size_t p_on_target, swapped, ksm_swapped, left, ksm[N];
	long long shared0, sharing0;
	void *pages[2 * N];
	struct xt_child p;
	int tries, err;
	long ret = 0;
	char path[128];

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	if (geteuid())
		skip("move_pages(MPOL_MF_MOVE_ALL) and /proc/kpageflags need root");
	xt_unmerge_all();
	atexit(teardown);
	xt_memcg_join(CG);	/* P0's memory, so that it can be reclaimed */
	shared0 = xt_knob("pages_shared");
	sharing0 = xt_knob("pages_sharing");

	/* P0 (this process) faults the pages in: their anon_vma is P0's. */
	mem = xt_map(2 * N);
	xt_fill(mem, N, SEED);
	xt_fill(mem + N * XT_PAGE, N, SEED);
	err = xt_child_start(&p, p_fn, NULL);
	if (!check(err == 0, "P, forked by unregistered P0, registers the %d pages (%s)", 2 * N,
		   strerror(err)))
		return done();
	xt_start_fast();
	for (tries = 0; tries < 10; tries++) {
		xt_wait_full_scans(1);
		look(p.pid, &p_pairs, &in_p0, p_pfn, t_pfn, ksm);
		if (p_pairs == N && in_p0 == N)
			break;
	}
	xt_knob_set("run", 0);	/* no reference of xksmd's in the way */

	check(p_pairs == N, "P's %d pairs are merged: each shares one PFN (%zu)", N, p_pairs);
	check(in_p0 == N, "P0 maps the PFN of each of P's pairs at one of its two addresses (%zu of %d)",
	      in_p0, N);
	for (ksm_flag = 0, i = 0; i < N; i++)
		ksm_flag += ksm[i] < 2 * N && (kpageflags(t_pfn[ksm[i]]) >> KPF_KSM & 1);
	check(ksm_flag == N, "and /proc/kpageflags calls those pages KSM (%zu of %d)", ksm_flag, N);
	check(xt_knob("pages_shared") == shared0 + N && xt_knob("pages_sharing") == sharing0 + N,
	      "pages_shared and pages_sharing grew by %d (%lld, %lld; were %lld, %lld)", N,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"), shared0, sharing0);
	if (p_pairs != N || in_p0 != N) {
		xt_child_stop(&p);
		return done();
	}

	/* Move every page of P0's to the node other than the one it is on. */
	for (i = 0; i < 2 * N; i++) {
		pages[i] = mem + i * XT_PAGE;
		cur[i] = -1;
		old_pfn[i] = t_pfn[i];
	}
	if (move_pages(0, 2 * N, pages, NULL, cur, 0))
		fatal("move_pages: where P0's pages are");
	for (i = 0; i < 2 * N; i++)
		target[i] = cur[i] == 0 ? 1 : 0;
	for (tries = 1; tries <= MOVE_TRIES; tries++) {
		for (i = 0; i < 2 * N; i++)
			status[i] = STATUS_UNSET;
		ret = move_pages(0, 2 * N, pages, target, status, MPOL_MF_MOVE_ALL);
		for (moved = 0, i = 0; i < 2 * N; i++)
			moved += status[i] == target[i];
		if (ret == 0 && moved == 2 * N)
			break;
		xt_msleep(100);
	}
	xt_pfns_pid(0, mem, 2 * N, t_pfn);
	for (changed = 0, on_target = 0, i = 0; i < 2 * N; i++) {
		changed += t_pfn[i] && t_pfn[i] != old_pfn[i];
		on_target += xt_pfn_node(t_pfn[i]) == target[i];
	}
	check(ret == 0 && moved == 2 * N,
	      "move_pages(MPOL_MF_MOVE_ALL) from P0 of all %d of its pages to the other node: "
	      "every status is the target node (%zu of %d; ret %ld; %d attempt(s))",
	      2 * N, moved, 2 * N, ret, tries > MOVE_TRIES ? MOVE_TRIES : tries);
	for (i = 0; i < N; i++)
		if (ksm[i] < 2 * N && status[ksm[i]] != target[ksm[i]]) {
			xt_note("merged page of pair %zu (P0's page %zu): status %d, target %d",
				i, ksm[i], status[ksm[i]], target[ksm[i]]);
			break;
		}
	check(changed == 2 * N, "every page of P0's has a new PFN (%zu of %d)", changed, 2 * N);
	check(on_target == 2 * N, "P0's PFNs are on the target node (%zu of %d)", on_target,
	      2 * N);

	xt_pfns_pid(p.pid, mem, 2 * N, p_pfn);
	for (p_pairs = 0, in_p0 = 0, p_on_target = 0, i = 0; i < N; i++) {
		if (!p_pfn[i] || p_pfn[i] != p_pfn[N + i])
			continue;
		p_pairs++;
		if (ksm[i] < 2 * N && p_pfn[i] == t_pfn[ksm[i]]) {
			in_p0++;
			p_on_target += xt_pfn_node(p_pfn[i]) == target[ksm[i]];
		}
	}
	check(p_pairs == N && in_p0 == N,
	      "P's pairs still share one PFN each, the one P0 maps (%zu, %zu of %d)", p_pairs,
	      in_p0, N);
	check(p_on_target == N, "P's merged pages are on the target node too (%zu of %d)",
	      p_on_target, N);
	check(bad_pages() == 0, "P0 reads its data intact after the move");
	check(xt_child_cmd(&p, 'v') == 0, "P reads its data intact after the move");
	check(xt_knob("pages_shared") == shared0 + N && xt_knob("pages_sharing") == sharing0 + N,
	      "pages_shared and pages_sharing unchanged by the move (%lld, %lld)",
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));

	/* Swap: P0's own pages by MADV_PAGEOUT, the merged ones by reclaim. */
	xt_zram_swap_on();
	madvise(mem, LEN, MADV_PAGEOUT);
	snprintf(path, sizeof(path), "%s/memory.reclaim", CG);
	swapped = ksm_swapped = 0;
	for (tries = 0; tries < SWAP_TRIES; tries++) {
		err = xt_write_file(path, "64M");
		for (swapped = 0, i = 0; i < 2 * N; i++)
			swapped += xt_swapped(mem + i * XT_PAGE);
		for (ksm_swapped = 0, i = 0; i < N; i++)
			ksm_swapped += ksm[i] < 2 * N && xt_swapped(mem + ksm[i] * XT_PAGE);
		if (swapped == 2 * N)
			break;
		xt_msleep(250);
	}
	check(swapped == 2 * N && ksm_swapped == N,
	      "MADV_PAGEOUT and memory.reclaim swap out all %d of P0's pages (%zu), the %d merged "
	      "ones too (%zu) (%d memory.reclaim attempt(s), last: %s)", 2 * N, swapped, N,
	      ksm_swapped, tries + (tries < SWAP_TRIES), err ? strerror(err) : "ok");
	check(bad_pages() == 0, "P0 reads them back intact");
	check(xt_child_cmd(&p, 'v') == 0, "P reads its pages back intact");
	xt_pfns_pid(0, mem, 2 * N, t_pfn);
	for (left = 0, i = 0; i < 2 * N; i++)
		left += !t_pfn[i];
	check(left == 0, "P0's pages are all present again (%zu not)", left);

	check(xt_child_stop(&p) == 0, "P exits");
	munmap(mem, LEN);
	xt_knob_set("run", 2);
	teardown();
	check(!xt_swap_on && xt_zid < 0, "swap off and the zram device removed");
	return done();
}
