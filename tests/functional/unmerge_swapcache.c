// SPDX-License-Identifier: GPL-2.0
/*
 * Unmerging reaches merged pages that wait in the swapcache.
 *
 * A merged page that reclaim has unmapped but could not free yet stays in
 * the swapcache, still a KSM page, and every pte that mapped it holds its
 * swap entry.  A swap-in maps that very page again while it has a stable
 * node: the kernel's ksm_might_need_to_copy() copies it only while the
 * kernel's own KSM unmerges, which knows nothing of xksm.  So unmerging
 * must not pass over such a swap entry, or the page comes back merged
 * where nothing tracks it: in a range just unregistered, where no merged
 * page may stay, and after run=2, where its stable node then cannot be
 * removed and merge_scope and merge_across_nodes stay refused until the
 * process happens to unmap it.
 *
 * The test's a and a helper's b, N pages each, are merged page for page; a
 * pipe holds a reference to the merged pages (vmsplice() takes one without
 * pinning, which would unshare them), so that memory.reclaim unmaps them
 * into swap entries but cannot free them.  The helper unregisters b (a
 * keeps the stable nodes) and reads it back: every page must read as
 * written, in a frame of its own, not the merged one.  Then run=2: a too
 * reads back in frames of its own, nothing counts as merged, and
 * merge_scope and merge_across_nodes can be switched and back.  Swap on
 * zram, the memory cgroup and the pipe go at the end.
 */
#include <fcntl.h>
#include <sys/uio.h>

#include "xksm_test.h"

#define N	32
#define SEED	0x5c4e
#define CG	XT_CG_ROOT "/xksm_unmerge_swapcache"

static int pipefd[2] = { -1, -1 };
static struct xt_child c = { .pid = -1 };
static char *b;		/* the helper's (mapped before the fork, faulted after) */

/* The helper: b filled and registered; 'u' unregisters it, 'r' reads it. */
static int helper(int cmd, void *arg)
{
	(void)arg;
	switch (cmd) {
	case 0:
		xt_fill(b, N, SEED);
		xt_register_or_die(b, N * XT_PAGE);
		return 0;
	case 'u':
		return xt_unregister(b, N * XT_PAGE, 0) ? errno : 0;
	case 'r':
		return xt_verify(b, N, SEED) > 0;
	}
	return 255;
}

static void teardown(void)
{
	if (c.pid > 0) {
		xt_child_stop(&c);
		c.pid = -1;
	}
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		pipefd[0] = pipefd[1] = -1;
	}
	xt_zram_swap_off();
	xt_memcg_leave();
}

/* Pages of @p (N) in process @pid (0: this one) that show as swapped. */
static size_t count_swapped(pid_t pid, const char *p)
{
	size_t i, n = 0;

	for (i = 0; i < N; i++)
		n += !!(xt_pagemap_pid(pid, p + i * XT_PAGE) & XT_PM_SWAPPED);
	return n;
}

/*
 * Put the merged pages of a and b in the swapcache: a pipe takes a
 * reference to each (vmsplice() gets the pages without pinning them, so
 * they stay merged), then memory.reclaim unmaps them; the reference keeps
 * them from being freed.  Returns how many of a's pages are swap entries.
 */
static size_t unmap_into_swapcache(char *a)
{
	size_t i, swapped = 0;
	int tries;

	if (pipe2(pipefd, O_CLOEXEC))
		fatal("pipe2");
	if (fcntl(pipefd[1], F_SETPIPE_SZ, 2 * N * XT_PAGE) < 0)
		fatal("F_SETPIPE_SZ");
	for (i = 0; i < N; i++) {
		struct iovec iov = { a + i * XT_PAGE, XT_PAGE };

		if (vmsplice(pipefd[1], &iov, 1, 0) != XT_PAGE)
			fatal("vmsplice page %zu", i);
	}
	/* Mapped twice: referenced at first, so try a few times (merge_swap). */
	for (tries = 0; tries < 20 && swapped < N; tries++) {
		xt_write_file(CG "/memory.reclaim", "64M");
		swapped = count_swapped(0, a);
		if (swapped < N)
			xt_msleep(250);
	}
	xt_note("%d reclaim attempt(s)", tries);
	return swapped;
}

/* The merged pages, by PFN, before reclaim unmapped them. */
static unsigned long merged_pfn[N];

/*
 * How many of the N pages at @p in process @pid are still the merged page
 * they were (which the swapcache holds), and how many share a frame with
 * @other's in @opid.
 */
static void count_merged(pid_t pid, const char *p, pid_t opid, const char *other,
			 size_t *merged, size_t *shared)
{
	unsigned long pfn[N], opfn[N];
	size_t i;

	xt_pfns_pid(pid, p, N, pfn);
	xt_pfns_pid(opid, other, N, opfn);
	*merged = *shared = 0;
	for (i = 0; i < N; i++) {
		*merged += pfn[i] == merged_pfn[i];
		*shared += pfn[i] && pfn[i] == opfn[i];
	}
}

int main(void)
{
	size_t swapped, merged, shared;
	long long across;
	char *a;
	int err;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	atexit(teardown);
	xt_memcg_join(CG);		/* before the memory is touched: it is charged here */
	xt_zram_swap_on();

	a = xt_map(N);
	b = xt_map(N);
	xt_fill(a, N, SEED);
	xt_register_or_die(a, N * XT_PAGE);
	xt_child_start(&c, helper, NULL);	/* in the cgroup too */
	xt_start_fast();
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	if (!check(xt_count_same_pfn(0, a, c.pid, b, N) == N, "the %d pairs are merged", N))
		return done();

	xt_pfns_pid(0, a, N, merged_pfn);
	swapped = unmap_into_swapcache(a);
	if (!check(swapped == N && count_swapped(c.pid, b) == N,
		   "the merged pages were unmapped into the swapcache (a %zu, b %zu of %d)",
		   swapped, count_swapped(c.pid, b), N))
		return done();

	/* b unregistered: a's rmap_items keep the stable nodes. */
	err = xt_child_cmd(&c, 'u');
	if (err)
		fatal("unregister b: %s", strerror(err));
	check(xt_knob("pages_shared") == N,
	      "a keeps the %d stable nodes after b is unregistered (pages_shared %lld)",
	      N, xt_knob("pages_shared"));
	check(!xt_child_cmd(&c, 'r'), "b, unregistered, reads back as written");
	count_merged(c.pid, b, 0, a, &merged, &shared);
	check(merged == 0, "b, unregistered while its pages were in the swapcache: "
	      "every page swapped in is a copy of its own (%zu still the merged page)",
	      merged);

	/*
	 * run=2, with a's swap entries the last mappings: a too comes back
	 * copied, and no node is left behind (one is, if b maps a merged
	 * page): the knobs that need an empty tree can change.
	 */
	xt_knob_set("run", 2);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "run=2: nothing counts as merged");
	check(xt_verify(a, N, SEED) == 0, "a reads back as written after run=2");
	count_merged(0, a, c.pid, b, &merged, &shared);
	check(merged == 0 && shared == 0, "a, after run=2 while its pages were in the "
	      "swapcache: every page swapped in is a copy of its own (%zu still the "
	      "merged page, %zu frames shared with b)", merged, shared);
	err = xt_scope_set("uid");
	if (!err)
		err = xt_scope_set("all");
	check(!err, "merge_scope switches to uid and back after run=2 (%s)",
	      err ? strerror(err) : "done");
	across = xt_knob("merge_across_nodes");
	err = xt_knob_write("merge_across_nodes", !across);
	if (!err)
		err = xt_knob_write("merge_across_nodes", across);
	check(!err, "merge_across_nodes switches and back after run=2 (%s)",
	      err ? strerror(err) : "done");

	check(xt_child_stop(&c) == 0, "the helper exits cleanly");
	c.pid = -1;
	teardown();
	check(!xt_swap_on && xt_zid < 0, "swap off and the zram device removed");
	return done();
}
