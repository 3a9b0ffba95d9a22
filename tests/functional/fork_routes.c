// SPDX-License-Identifier: GPL-2.0
/*
 * A forked child's KSM pages stay movable and swappable after the parent's
 * rmap_items go.
 *
 * The kernel's rmap walk finds the ptes of a KSM page only through the
 * rmap_items on its stable node (each searches its anon_vma's tree, which
 * holds forked children too).  Here a process P merges N pairs of pages
 * (page i and page N+i alike), then forks C; C at once unregisters the
 * range with XKSM_KEEP_MERGED, so it keeps the merged pages but xksm never
 * scans it and C has no rmap_item of its own: C's ptes are reachable only
 * through P's rmap_items.  Then P goes, in one of three ways, each with a
 * fresh P and C: (1) P exits, (2) P unregisters the range (without the
 * flag: its own pages are unmerged), (3) P munmaps it.  Mainline KSM (and
 * xksm before deferred reaping) frees P's rmap_items then, and C's pages
 * can no longer be migrated or swapped out.  So, for C's pages, right away
 * ("at once") and again after 15 full scans (and at least 3 s after P
 * went, so that xksmd's reaper, which runs at most once a second, has run):
 *
 *  - move_pages(MPOL_MF_MOVE_ALL) on C moves all 2N pages to the other
 *    node: every status is the target node, the PFNs in C's pagemap are on
 *    it, the pairs still share one PFN each, and C reads its data intact
 *    (the move is tried up to 5 times: a page xksmd holds a reference on
 *    fails transiently, a page without a route fails every time);
 *  - memory.reclaim (swap on zram) swaps them out: C's pagemap shows them
 *    swapped, and C reads them back intact.
 *
 * A page swapped in comes back as an ordinary page (its twin gets a copy),
 * so the two swap checks use different halves of the pairs: P fills the
 * first half while in memory cgroup A and the second in cgroup B (the
 * pages stay charged there), and each check reclaims one cgroup.  The
 * migration after the scans expects only the pairs never swapped out to
 * share a PFN.  Where the module has /sys/kernel/mm/xksm/deferred_rmap_items
 * (rmap_items kept on the reap list), it must be above 0 after the scans,
 * while C still maps the pages.  And after the scans C still has no
 * rmap_item of its own (XKSM_IOC_STATS in C; C also unregisters T's range,
 * which it inherits through P, so that it has nothing registered): xksmd
 * walks C's kept range for KSM pages and would give one a route of C's
 * own if none led there, so this shows the routes the checks use are P's
 * deferred ones.  Then C
 * exits: deferred_rmap_items drops to 0 and pages_shared/pages_sharing
 * return to their values before.
 *
 * A first, control round lets P stay: the same at-once checks pass through
 * P's rmap_items, which shows the checks themselves work here.  The test
 * process T keeps a small range of distinct pages registered throughout,
 * so that full_scans advances.  xksm only: the kernel's KSM has no
 * XKSM_KEEP_MERGED.
 */
#include <numa.h>
#include <sys/stat.h>
#include <sys/swap.h>

#include "xksm_test.h"

#define N		64		/* pairs: P maps 2N pages */
#define HALF		(N / 2)		/* pairs per swap half */
#define LEN		(2 * N * XT_PAGE)
#define SEED		0x6b10
#define KEEP_SEED	0x6b11		/* T's range: distinct pages, never merged */
#define KEEP_PAGES	16
#define SCANS		15		/* "after many full scans" */
#define REAP_S		3		/* and for at least this long (seconds) */
#define SWAP_TRIES	16
#define MOVE_TRIES	20
#define STATUS_UNSET	(-99999)
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_A		CG_ROOT "/xksm_fork_routes_a"
#define CG_B		CG_ROOT "/xksm_fork_routes_b"
#define DEFERRED	"deferred_rmap_items"

enum how { STAYS, EXITS, UNREGISTERS, MUNMAPS };

static const char *const how_name[] = {
	[STAYS] = "control: P stays",
	[EXITS] = "P exits",
	[UNREGISTERS] = "P unregisters",
	[MUNMAPS] = "P munmaps",
};

/* What C reports to T, in memory shared with the children. */
struct shared {
	pid_t c_pid;
	int c_unregister_err;
	int c_unregister_keep_err;
	int c_stats_err;
	unsigned long long c_rmap_items;
	unsigned long long c_merging_pages;
	int pageout_half;
};

static struct shared *sh;
static char *mem;		/* P's range (T's own stays untouched) */
static char *keep;		/* T's registered range, inherited by P and C */
static int c_cmd[2], c_ans[2];	/* T -> C and C -> T, made before P */
static const char *scenario;	/* how_name[] of the round running */

static int cg_made;

/* --- the two memory cgroups (swap on zram: xt_zram_swap_on()) ------- */

static void teardown(void)
{
	xt_zram_swap_off();
	if (cg_made) {
		rmdir(CG_A);
		rmdir(CG_B);
		cg_made = 0;
	}
}

/* Memory cgroups A and B, for P to charge each half of its pages to. */
static void make_cgroups(void)
{
	if (access(CG_ROOT "/cgroup.subtree_control", W_OK))
		skip("no cgroup v2 at " CG_ROOT);
	xt_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	if ((mkdir(CG_A, 0755) && errno != EEXIST) || (mkdir(CG_B, 0755) && errno != EEXIST))
		fatal("mkdir " CG_A " / " CG_B);
	cg_made = 1;
	if (access(CG_A "/memory.reclaim", W_OK))
		skip("no memory.reclaim in the memory cgroup");
}

/* Move the calling process into cgroup dir. */
static int join_cgroup(const char *dir)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	return xt_write_file(path, buf);
}

/* --- the data ------------------------------------------------------------ */

/* Pair i: page i and page N + i, both content (SEED, i). */
static void fill_pair(size_t i)
{
	xt_fill_page(mem, i, SEED);
	xt_fill_page(mem + N * XT_PAGE, i, SEED);
}

static size_t bad_pages(void)
{
	return xt_verify(mem, N, SEED) + xt_verify(mem + N * XT_PAGE, N, SEED);
}

/* How many of pairs [from, to) in process pid share one PFN. */
static size_t pairs_merged(pid_t pid, size_t from, size_t to)
{
	return xt_count_same_pfn(pid, mem + from * XT_PAGE, pid,
				 mem + (N + from) * XT_PAGE, to - from);
}

/* The address of page k of the pages of swap half h (pairs of that half). */
static char *half_page(int h, size_t k)
{
	size_t pair = h * HALF + k % HALF;

	return mem + (k < HALF ? pair : N + pair) * XT_PAGE;
}

/* --- C: forked by P; serves T through c_cmd/c_ans ------------------------ */

static int c_fn(int cmd)
{
	struct xksm_stats st;
	size_t k;

	switch (cmd) {
	case 'v':
		return bad_pages() ? 1 : 0;
	case 'o':	/* as merge_swap: no effect on pages mapped twice */
		for (k = 0; k < HALF; k++) {
			madvise(half_page(sh->pageout_half, k), XT_PAGE, MADV_PAGEOUT);
			madvise(half_page(sh->pageout_half, HALF + k), XT_PAGE, MADV_PAGEOUT);
		}
		return 0;
	case 's':
		sh->c_stats_err = xt_stats(&st) ? errno : 0;
		sh->c_rmap_items = st.rmap_items;
		sh->c_merging_pages = st.merging_pages;
		return 0;
	}
	return 255;
}

static void __attribute__((noreturn)) c_main(void)
{
	unsigned char b;

	close(c_cmd[1]);
	close(c_ans[0]);
	/* First thing: keep the merged pages, but never be scanned. */
	sh->c_unregister_err = xt_unregister(mem, LEN, XKSM_KEEP_MERGED) ? errno : 0;
	/* T's range too, inherited: then any rmap_item of C's is an adopted route. */
	sh->c_unregister_keep_err = xt_unregister(keep, KEEP_PAGES * XT_PAGE, 0) ? errno : 0;
	b = c_fn('s');
	if (write(c_ans[1], &b, 1) != 1)
		_exit(1);
	while (read(c_cmd[0], &b, 1) == 1) {
		b = c_fn(b);
		fflush(stdout);
		if (write(c_ans[1], &b, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

/* --- P: started by T with xt_child_start() -------------------------------- */

static int p_fn(int cmd, void *arg)
{
	size_t i;
	pid_t pid;

	(void)arg;
	switch (cmd) {
	case 0:		/* fill the halves in cgroups A and B, register */
		close(c_cmd[1]);
		close(c_ans[0]);
		if (join_cgroup(CG_A))
			return 1;
		for (i = 0; i < HALF; i++)
			fill_pair(i);
		if (join_cgroup(CG_B))
			return 2;
		for (i = HALF; i < N; i++)
			fill_pair(i);
		if (join_cgroup(CG_ROOT))
			return 3;
		return xt_register(mem, LEN) ? 4 : 0;
	case 'f':
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			c_main();
		sh->c_pid = pid;
		close(c_cmd[0]);
		close(c_ans[1]);
		return pid > 0 ? 0 : 1;
	case 'v':
		return bad_pages() ? 1 : 0;
	case 'u':
		return xt_unregister(mem, LEN, 0) ? errno : 0;
	case 'm':
		return munmap(mem, LEN) ? errno : 0;
	}
	return 255;
}

/* --- T: the checks on C's pages ------------------------------------------- */

/*
 * Move all 2N pages of C to the node other than the one each is on:
 * pages 0..N-1 first (one mapping of each merged page), then N..2N-1 (the
 * twins, on the target node by then if their page moved: moving both
 * mappings of a page in one call reports the second as EBUSY).  A page
 * that xksmd holds a reference on at that moment fails with EAGAIN even
 * after the kernel's retries, so the whole move is tried up to MOVE_TRIES
 * times, 100 ms apart (xksmd at full speed walks C's kept KSM pages,
 * taking references, on every pass: five tries were not always enough on
 * the debug kernel); a page whose ptes the rmap walk cannot find fails
 * every time.
 */
static void migrate_check(struct xt_child *c, const char *when, size_t from_pair)
{
	void *pages[2 * N];
	int cur[2 * N], target[2 * N], status[2 * N];
	size_t i, moved = 0, on_target = 0, same;
	long r0, r1 = 0, r2 = 0;
	int tries;

	for (i = 0; i < 2 * N; i++) {
		pages[i] = mem + i * XT_PAGE;
		cur[i] = -1;
	}
	r0 = move_pages(c->pid, 2 * N, pages, NULL, cur, 0);
	for (i = 0; i < 2 * N; i++)
		target[i] = cur[i] == 0 ? 1 : 0;
	for (tries = 1; tries <= MOVE_TRIES; tries++) {
		for (i = 0; i < 2 * N; i++)
			status[i] = STATUS_UNSET;
		r1 = move_pages(c->pid, N, pages, target, status, MPOL_MF_MOVE_ALL);
		r2 = move_pages(c->pid, N, pages + N, target + N, status + N, MPOL_MF_MOVE_ALL);
		for (moved = 0, i = 0; i < 2 * N; i++)
			moved += status[i] == target[i];
		if (r1 == 0 && r2 == 0 && moved == 2 * N)
			break;
		xt_msleep(100);
	}
	for (i = 0; i < 2 * N; i++)
		on_target += xt_pfn_node(xt_pfn_pid(c->pid, pages[i])) == target[i];
	check(r0 == 0 && r1 == 0 && r2 == 0 && moved == 2 * N,
	      "%s, %s: move_pages(MPOL_MF_MOVE_ALL) of all %d of C's pages to the other node: "
	      "every status is the target node (%zu of %d; ret %ld, %ld; status[0] %d, node was %d; "
	      "%d attempt(s))", scenario, when, 2 * N, moved, 2 * N, r1, r2, status[0], cur[0],
	      tries > MOVE_TRIES ? MOVE_TRIES : tries);
	check(on_target == 2 * N, "%s, %s: C's PFNs (pagemap) are on the target node (%zu of %d)",
	      scenario, when, on_target, 2 * N);
	same = pairs_merged(c->pid, from_pair, N);
	check(same == N - from_pair, "%s, %s: C's pairs %zu..%d still share one PFN each (%zu of %zu)",
	      scenario, when, from_pair, N - 1, same, N - from_pair);
	if (from_pair)
		xt_note("%s, %s: %zu of the %zu pairs swapped in before share a PFN", scenario, when,
			pairs_merged(c->pid, 0, from_pair), from_pair);
	check(xt_child_cmd(c, 'v') == 0, "%s, %s: C reads its data intact after the move", scenario, when);
}

/* How many of the 2 * HALF pages of swap half h in C show as swapped. */
static size_t swapped_in_c(pid_t pid, int h)
{
	size_t k, n = 0;

	for (k = 0; k < 2 * HALF; k++)
		n += !!(xt_pagemap_pid(pid, half_page(h, k)) & XT_PM_SWAPPED);
	return n;
}

/* Swap out C's pages of half h (charged to cg), then read them back in C. */
static void swap_check(struct xt_child *c, const char *when, int h, const char *cg)
{
	char path[128];
	size_t swapped = 0, left, k;
	int tries, err = 0;

	sh->pageout_half = h;
	xt_child_cmd(c, 'o');
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	for (tries = 0; tries < SWAP_TRIES; tries++) {
		err = xt_write_file(path, "64M");
		swapped = swapped_in_c(c->pid, h);
		if (swapped == 2 * HALF)
			break;
		xt_msleep(250);
	}
	check(swapped == 2 * HALF,
	      "%s, %s: C's merged pages (pairs %d..%d) go to swap: %zu of %d show as swapped "
	      "(%d memory.reclaim attempt(s), last: %s)",
	      scenario, when, h * HALF, h * HALF + HALF - 1, swapped, 2 * HALF,
	      tries + (tries < SWAP_TRIES), err ? strerror(err) : "ok");
	check(xt_child_cmd(c, 'v') == 0, "%s, %s: C reads them back intact", scenario, when);
	for (left = 0, k = 0; k < 2 * HALF; k++)
		left += !(xt_pagemap_pid(c->pid, half_page(h, k)) & XT_PM_PRESENT);
	check(left == 0, "%s, %s: and they are all present again (%zu not)", scenario, when, left);
}

/* Wait until C has exited: its end of the answer pipe closes. */
static int wait_c_gone(struct xt_child *c)
{
	struct pollfd pfd = { .fd = c->ans_fd, .events = POLLIN };
	unsigned char b;

	close(c->cmd_fd);
	if (poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1)
		return 0;
	return read(c->ans_fd, &b, 1) == 0;
}

static void run(enum how how)
{
	long long shared0 = xt_knob("pages_shared"), sharing0 = xt_knob("pages_sharing");
	struct xt_child p, c;
	size_t merged = 0, same;
	int tries, status, err, ok, p_alive = 1;
	unsigned char b;
	char when[32];
	double p_gone;

	scenario = how_name[how];
	xt_note("----- %s -----", scenario);
	if (pipe2(c_cmd, O_CLOEXEC) || pipe2(c_ans, O_CLOEXEC))
		fatal("pipe");
	err = xt_child_start(&p, p_fn, NULL);
	close(c_cmd[0]);
	close(c_ans[1]);
	if (!check(err == 0, "%s: P fills %d pairs (half in cgroup A, half in B) and registers them (%d)",
		   scenario, N, err))
		exit(done());

	for (tries = 0; tries < 10; tries++) {
		xt_wait_full_scans(1);
		merged = pairs_merged(p.pid, 0, N);
		if (merged == N)
			break;
	}
	check(merged == N, "%s: P's %d pairs are merged (%zu)", scenario, N, merged);
	check(xt_knob("pages_shared") == shared0 + N && xt_knob("pages_sharing") == sharing0 + N,
	      "%s: pages_shared and pages_sharing grew by %d (%lld, %lld; were %lld, %lld)", scenario,
	      N, xt_knob("pages_shared"), xt_knob("pages_sharing"), shared0, sharing0);

	/* xksmd stopped: C must not be scanned before it unregisters. */
	xt_knob_set("run", 0);
	check(xt_child_cmd(&p, 'f') == 0, "%s: P forks C", scenario);
	c.pid = sh->c_pid;
	c.cmd_fd = c_cmd[1];
	c.ans_fd = c_ans[0];
	if (xt_child_read(c.ans_fd, &b, XT_TIMEOUT_S))
		fatal("set-up of C");
	xt_knob_set("run", 1);
	check(sh->c_unregister_err == 0,
	      "%s: C unregisters the range with XKSM_KEEP_MERGED at once (%s)", scenario,
	      strerror(sh->c_unregister_err));
	check(sh->c_unregister_keep_err == 0,
	      "%s: and unregisters T's range, which it inherited (%s)", scenario,
	      strerror(sh->c_unregister_keep_err));
	check(sh->c_stats_err == 0 && sh->c_rmap_items == 0,
	      "%s: C has no rmap_item of its own (%llu; merging_pages %llu)", scenario,
	      sh->c_rmap_items, sh->c_merging_pages);
	same = xt_count_same_pfn(p.pid, mem, c.pid, mem, 2 * N);
	check(same == 2 * N, "%s: C maps P's merged PFNs (%zu of %d)", scenario, same, 2 * N);
	check(pairs_merged(c.pid, 0, N) == N, "%s: C's pairs share one PFN each", scenario);
	check(xt_child_cmd(&c, 'v') == 0, "%s: C reads the data intact", scenario);

	switch (how) {
	case STAYS:
		break;
	case EXITS:
		check(xt_child_stop(&p) == 0, "%s: P exits", scenario);
		p_alive = 0;
		break;
	case UNREGISTERS:
		err = xt_child_cmd(&p, 'u');
		check(err == 0, "%s: P unregisters the range, unmerging it (%s)", scenario,
		      strerror(err));
		same = xt_count_same_pfn(p.pid, mem, c.pid, mem, 2 * N);
		check(same == 0, "%s: P's pages are its own again (%zu still C's)", scenario, same);
		check(xt_child_cmd(&p, 'v') == 0, "%s: P reads its data intact", scenario);
		break;
	case MUNMAPS:
		err = xt_child_cmd(&p, 'm');
		check(err == 0, "%s: P munmaps the range (%s)", scenario, strerror(err));
		break;
	}

	p_gone = xt_now();
	migrate_check(&c, "at once", 0);
	swap_check(&c, "at once", 0, CG_A);
	if (xt_knob_exists(DEFERRED))
		xt_note("%s, at once: %s = %lld", scenario, DEFERRED, xt_knob(DEFERRED));

	if (how != STAYS) {
		/* Enough passes for the reaper (once a second at most) to run. */
		xt_wait_full_scans(SCANS);
		while (xt_now() - p_gone < REAP_S)
			xt_wait_full_scans(1);
		snprintf(when, sizeof(when), "after %d+ full scans", SCANS);
		if (xt_knob_exists(DEFERRED))
			check(xt_knob(DEFERRED) > 0,
			      "%s, %s: %s > 0 while C maps the pages (%lld)", scenario, when,
			      DEFERRED, xt_knob(DEFERRED));
		/* The routes are P's deferred ones, not rmap_items xksmd made for C. */
		xt_child_cmd(&c, 's');
		check(sh->c_stats_err == 0 && sh->c_rmap_items == 0,
		      "%s, %s: C still has no rmap_item of its own (%llu; stats %s)", scenario,
		      when, sh->c_rmap_items, strerror(sh->c_stats_err));
		/* Pairs 0..HALF-1 went through swap: C's twins got copies. */
		migrate_check(&c, when, HALF);
		swap_check(&c, when, 1, CG_B);
	}

	check(wait_c_gone(&c), "%s: C exits", scenario);
	close(c.ans_fd);
	if (how == STAYS) {
		check(xt_child_stop(&p) == 0, "%s: P exits", scenario);
		p_alive = 0;
	}
	if (xt_knob_exists(DEFERRED)) {
		ok = xt_wait_knob_eq(DEFERRED, 0, XT_TIMEOUT_S);
		check(ok, "%s: %s drops to 0 (%lld)", scenario, DEFERRED, xt_knob(DEFERRED));
	} else {
		xt_note("%s: no %s here: not checked", scenario, DEFERRED);
	}
	ok = xt_wait_knob_eq("pages_shared", shared0, XT_TIMEOUT_S) &&
	     xt_wait_knob_eq("pages_sharing", sharing0, XT_TIMEOUT_S);
	check(ok, "%s: pages_shared and pages_sharing return to %lld, %lld (%lld, %lld)", scenario,
	      shared0, sharing0, xt_knob("pages_shared"), xt_knob("pages_sharing"));
	if (p_alive)
		check(xt_child_stop(&p) == 0, "%s: P exits", scenario);
	/* C: P's child, handed to this subreaper when P went. */
	if (waitpid(c.pid, &status, 0) != c.pid)
		fatal("wait for C (pid %d)", (int)c.pid);
}

int main(void)
{
	if (xt_backend_ksm())
		skip("xksm only: the kernel's KSM has no XKSM_KEEP_MERGED");
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_require(XKSM_FEATURE_KEEP_MERGED, "KEEP_MERGED");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	xt_unmerge_all();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		fatal("PR_SET_CHILD_SUBREAPER");
	atexit(teardown);
	make_cgroups();
	xt_zram_swap_on();
	xt_note("%s is swap space; memory cgroups A and B made", xt_zdev);
	if (!xt_knob_exists(DEFERRED))
		xt_note("no %s in %s: its checks are left out", DEFERRED, xt_sysfs_dir());

	sh = xt_map_shared(1);
	mem = xt_map(2 * N);	/* untouched here: each P fills its own */
	keep = xt_map(KEEP_PAGES);
	xt_fill(keep, KEEP_PAGES, KEEP_SEED);
	xt_register_or_die(keep, KEEP_PAGES * XT_PAGE);
	xt_start_fast();

	run(STAYS);
	run(EXITS);
	run(UNREGISTERS);
	run(MUNMAPS);

	check(xt_verify(keep, KEEP_PAGES, KEEP_SEED) == 0, "T's own registered range is intact");
	xt_knob_set("run", 2);
	teardown();
	check(!xt_swap_on && xt_zid < 0, "swap off and the zram device removed");
	return done();
}
