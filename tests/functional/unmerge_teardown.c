// SPDX-License-Identifier: GPL-2.0
/*
 * Tearing everything down leaves nothing merged and no stable node behind:
 *
 * A. A child that unregistered keeping its merged pages, whose parent
 *    exited, maps KSM pages that only the parent's deferred routes lead
 *    to.  Switching merge_across_nodes (with nothing else merged) breaks
 *    them and succeeds; mainline would refuse it (EBUSY) forever.
 * B. Switching merge_across_nodes (no run=2 before it) tears the old
 *    stable tree down completely, even a node whose page nothing maps any
 *    more but something still holds, so that the node is not stale yet:
 *    1. a pipe holds it (vmsplice: a FOLL_GET reference);
 *    2. a FOLL_PIN (io_uring registered buffers) cannot hold a KSM page:
 *       pinning copies it, and xksmd does not merge the pinned copy back;
 *    3. the swapcache holds it (paged out while the pipe held it, so that
 *       reclaim could not free it; then the pipe let go).
 *    Each time pages_shared drops to 0 with the node still listed in
 *    debugfs; after the switch debugfs lists no stable node and the slab
 *    cache has none, and the page's data is still right.
 * C. run=2 misses no mm that joins while it unmerges: a parent forks
 *    children all through it, and a child that unregistered keeping its
 *    merged pages registers again in the middle of it.  Afterwards no
 *    process maps a merged page, every counter is 0, no stable node is
 *    left.
 */
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "xksm_test.h"

#define N	32		/* twin pairs in A */
#define SEED	0x7e4d

static int deferred_known;

static long long deferred(void)
{
	return deferred_known ? xt_knob("deferred_rmap_items") : 0;
}

/* Twin pages: page i and page N + i of one registered range. */
static char *map_twins(size_t n, unsigned int seed)
{
	char *p = xt_map(2 * n);

	xt_fill(p, n, seed);
	xt_fill(p + n * XT_PAGE, n, seed);
	xt_register_or_die(p, 2 * n * XT_PAGE);
	return p;
}

/* Pairs of @pid (0: this process) whose twins share a page. */
static size_t merged_pairs(pid_t pid, char *p, size_t n)
{
	unsigned long *pfn = malloc(2 * n * sizeof(*pfn));
	size_t i, same = 0;

	if (!pfn)
		fatal("malloc");
	xt_pfns_pid(pid, p, 2 * n, pfn);
	for (i = 0; i < n; i++)
		same += pfn[i] && pfn[i] == pfn[n + i];
	free(pfn);
	return same;
}

static int wait_merged(pid_t pid, char *p, size_t n)
{
	double deadline = xt_now() + XT_TIMEOUT_S;

	while (merged_pairs(pid, p, n) != n) {
		if (xt_now() > deadline)
			return 0;
		xt_msleep(20);
	}
	return 1;
}

/* --- A ----------------------------------------------------------------- */

static int cmd_pipe[2], ans_pipe[2];

/* C: serve 'v' (verify: pairs still merged, data intact) until 'q'. */
static void child_c(char *p)
{
	unsigned char b;

	b = xt_unregister(p, 2 * N * XT_PAGE, XKSM_KEEP_MERGED) == 0;
	if (write(ans_pipe[1], &b, 1) != 1)
		_exit(1);
	while (xt_child_read(cmd_pipe[0], &b, -1) == 0 && b != 'q') {
		size_t pairs = merged_pairs(0, p, N);

		b = (pairs > 0xf ? 0xf : pairs) |
		    (xt_verify(p, N, SEED) || xt_verify(p + N * XT_PAGE, N, SEED) ?
		     0 : 0x80) |
		    (pairs == N ? 0x40 : 0);
		if (write(ans_pipe[1], &b, 1) != 1)
			_exit(1);
	}
	_exit(0);
}

static unsigned char ask_c(void)
{
	unsigned char b = 'v';

	if (write(cmd_pipe[1], &b, 1) != 1 || xt_child_read(ans_pipe[0], &b, XT_TIMEOUT_S))
		fatal("no answer from C");
	return b;
}

static void part_a(void)
{
	long long shared0 = xt_knob("pages_shared");
	unsigned char b;
	pid_t p, c = 0;
	int status, err;

	if (pipe(cmd_pipe) || pipe(ans_pipe))
		fatal("pipe");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	p = xt_fork();
	if (p == 0) {
		char *area = map_twins(N, SEED);

		if (!wait_merged(0, area, N))
			_exit(2);
		/*
		 * Stop xksmd until P is gone, so that C unregisters before
		 * xksmd ever scans it: C then has no rmap_item of its own,
		 * and only P's routes lead to its pages.
		 */
		if (xt_knob_write("run", 0))
			_exit(5);
		c = fork();
		if (c < 0)
			_exit(3);
		if (c == 0)
			child_c(area);
		/* P waits for C's unregistration, then exits. */
		if (xt_child_read(ans_pipe[0], &b, XT_TIMEOUT_S) || !b)
			_exit(4);
		_exit(0);
	}
	check(waitpid(p, &status, 0) == p && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0,
	      "A: P merged %d pairs, forked C, C unregistered keeping them, P exited (%d)",
	      N, WEXITSTATUS(status));
	b = ask_c();
	check((b & 0x40) && (b & 0x80),
	      "A: C's pairs are still merged after P exited, data intact (%#x)", b);
	xt_knob_set("run", 1);

	if (deferred_known) {
		double deadline = xt_now() + XT_TIMEOUT_S;

		while (deferred() < N && xt_now() < deadline)
			xt_msleep(20);
		check(deferred() >= N, "A: P's routes to C's pages are deferred (%lld)",
		      deferred());
	}
	check(xt_wait_knob_eq("pages_shared", shared0, XT_TIMEOUT_S),
	      "A: pages_shared is back to %lld: nothing registered maps them (%lld)",
	      shared0, xt_knob("pages_shared"));

	err = xt_knob_write("merge_across_nodes", 0);
	check(err == 0, "A: merge_across_nodes 1 -> 0 succeeds (%s)", strerror(err));
	b = ask_c();
	check((b & 0x0f) == 0 && (b & 0x80),
	      "A: C's pages were unmerged, data intact (%#x)", b);
	check(deferred() == 0, "A: no route is left deferred (%lld)", deferred());
	err = xt_knob_write("merge_across_nodes", 1);
	check(err == 0, "A: merge_across_nodes 0 -> 1 succeeds (%s)", strerror(err));

	b = 'q';
	if (write(cmd_pipe[1], &b, 1) != 1)
		fatal("write");
	while ((c = wait(&status)) > 0)
		;
	close(cmd_pipe[0]);
	close(cmd_pipe[1]);
	close(ans_pipe[0]);
	close(ans_pipe[1]);
}

/* --- debugfs (docs/debugfs.md) ------------------------------------------ */

#define DEBUGFS		"/sys/kernel/debug"
#define DIR		DEBUGFS "/xksm"

/* The whole of a debugfs file, NUL-terminated (free it). */
static char *read_debugfs(const char *name)
{
	char path[128], *buf;

	snprintf(path, sizeof(path), DIR "/%s", name);
	buf = xt_read_all(path, 65536);
	if (!buf)
		fatal("read %s", path);
	return buf;
}

/*
 * A figure of the objects file: the count of slab cache @cache, or with
 * @key the figure after it on that line ("deferred", "chains").
 */
static long long objects(const char *cache, const char *key)
{
	char *s = read_debugfs("objects"), *line, *at;
	size_t len = strlen(cache);
	long long val = -1;

	for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, cache, len) || line[len] != ' ')
			continue;
		at = line + len;
		if (key) {
			char word[64];

			snprintf(word, sizeof(word), " %s ", key);
			at = strstr(at, word);
			if (!at)
				break;
			at += strlen(word) - 1;
		}
		val = strtoll(at, NULL, 10);
		break;
	}
	free(s);
	return val;
}

/*
 * The KSM pages stable_tree lists (nodes, dups, migrating nodes); with
 * @kpfn, only those of that page frame.
 */
static int tree_nodes(unsigned long kpfn)
{
	char *s = read_debugfs("stable_tree"), *line, *save, *k;
	int n = 0;

	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		k = strstr(line, " kpfn ");
		if (k && (!kpfn || strtoul(k + 6, NULL, 10) == kpfn))
			n++;
	}
	free(s);
	return n;
}

/* --- B ----------------------------------------------------------------- */

#define NB	4		/* twin pairs in B1 */

/*
 * Nothing maps the KSM page @kpfn any more, but something holds it: its
 * page still holds the node's key, so the node is not stale (nor pruned).
 * The switch must take it down all the same.
 */
static void b_switch(const char *c, unsigned long kpfn)
{
	int err, ok;

	ok = xt_wait_knob_eq("pages_shared", 0, XT_TIMEOUT_S) &&
	     xt_knob("pages_sharing") == 0;
	check(ok, "%s: pages_shared and pages_sharing drop to 0 (%lld, %lld)", c,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	xt_wait_full_scans(2);	/* xksmd had its chance to prune it */
	check(tree_nodes(kpfn) == 1 && objects("xksm_stable_node", NULL) >= 1,
	      "%s: the held page's stable node is still there (kpfn %lu listed %d times, %lld nodes)",
	      c, kpfn, tree_nodes(kpfn), objects("xksm_stable_node", NULL));
	err = xt_knob_write("merge_across_nodes", 0);
	check(err == 0, "%s: merge_across_nodes 1 -> 0 succeeds, without run=2 (%s)",
	      c, strerror(err));
	check(objects("xksm_stable_node", NULL) == 0 && tree_nodes(0) == 0,
	      "%s: the old stable tree is gone: no stable node in the slab cache (%lld) nor listed (%d)",
	      c, objects("xksm_stable_node", NULL), tree_nodes(0));
	check(objects("xksm_rmap_item", "deferred") == 0 && deferred() == 0,
	      "%s: no route is left deferred (%lld, %lld)", c,
	      objects("xksm_rmap_item", "deferred"), deferred());
}

static void b_restore(const char *c)
{
	int err = xt_knob_write("merge_across_nodes", 1);

	check(err == 0, "%s: merge_across_nodes 0 -> 1 succeeds (%s)", c, strerror(err));
	check(objects("xksm_stable_node", NULL) == 0 && tree_nodes(0) == 0,
	      "%s: still no stable node after the page was let go (%lld)", c,
	      objects("xksm_stable_node", NULL));
}

/* Unmap a range, and forget its registration (else the hole stays registered). */
static void forget(char *area, size_t npages)
{
	munmap(area, npages * XT_PAGE);
	xt_unregister(area, npages * XT_PAGE, 0);	/* clears the hole */
}

/* 1. A pipe holds the page (vmsplice takes a plain reference, FOLL_GET). */
static void part_b1(void)
{
	char *area = map_twins(NB, SEED + 1), *buf = malloc(XT_PAGE);
	struct iovec iov = { .iov_base = area, .iov_len = XT_PAGE };
	unsigned long kpfn;
	int pfd[2];

	check(wait_merged(0, area, NB), "B1: %d pairs merged", NB);
	kpfn = xt_pfn(area);
	if (!buf || pipe(pfd))
		fatal("pipe");
	check(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)XT_PAGE,
	      "B1: pair 0's KSM page is spliced into a pipe");
	forget(area, 2 * NB);
	b_switch("B1", kpfn);
	check(read(pfd[0], buf, XT_PAGE) == (ssize_t)XT_PAGE && xt_page_ok(buf, 0, SEED + 1),
	      "B1: the pipe still reads the page's data");
	close(pfd[0]);
	close(pfd[1]);
	b_restore("B1");
	free(buf);
}

/*
 * 2. A FOLL_PIN on a KSM page: io_uring pins its registered buffers
 * (FOLL_PIN | FOLL_LONGTERM | FOLL_WRITE).  GUP never pins a KSM page: it
 * copies it first (a write fault; even a read-only pin unshares it, see
 * gup_must_unshare(): a KSM page is never exclusive), so there is no
 * pinned stable node to tear down; this checks that it stays so.
 */
static void part_b2(void)
{
	char *area = map_twins(1, SEED + 2);
	struct iovec iov = { .iov_base = area, .iov_len = XT_PAGE };
	struct io_uring_params par;
	unsigned long kpfn;
	long long scans;
	int ring;

	check(wait_merged(0, area, 1), "B2: a pair merged");
	kpfn = xt_pfn(area);
	memset(&par, 0, sizeof(par));
	ring = syscall(__NR_io_uring_setup, 1, &par);
	if (ring < 0) {
		xt_note("B2: no io_uring (%s): no FOLL_PIN to try", strerror(errno));
		goto out;
	}
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		xt_note("B2: io_uring cannot register a buffer (%s): no FOLL_PIN to try",
			strerror(errno));
		close(ring);
		goto out;
	}
	check(xt_pfn(area) != kpfn && xt_pfn(area + XT_PAGE) == kpfn &&
	      xt_page_ok(area, 0, SEED + 2),
	      "B2: pinning the first twin gave it a copy of its own (pfn %lu, KSM page %lu), data intact",
	      xt_pfn(area), kpfn);
	scans = xt_knob("full_scans");
	xt_wait_full_scans(2);
	check(merged_pairs(0, area, 1) == 0 && xt_knob("full_scans") >= scans + 2,
	      "B2: xksmd does not merge the pinned copy back (%lld full scans)",
	      xt_knob("full_scans") - scans);
	close(ring);	/* unpins */
out:
	forget(area, 2);
	check(xt_wait_knob_eq("pages_shared", 0, XT_TIMEOUT_S),
	      "B2: pages_shared drops to 0");
}

/*
 * 3. The swapcache holds the page.  MADV_PAGEOUT leaves pages mapped more
 * than once alone, so the second twin is unmapped first.  Reclaim then
 * unmaps the page into the swapcache but cannot free it while the pipe
 * holds it; once the pipe lets go, only the swapcache holds it (mainline's
 * remove_stable_node() expects just that).
 */
static void part_b3(void)
{
	char *area, *buf = malloc(XT_PAGE);
	struct iovec iov;
	unsigned long kpfn;
	int pfd[2], ok, tries;

	if (access("/sys/class/zram-control", F_OK)) {
		xt_note("B3: no zram, no swap: no swapcache case");
		return;
	}
	xt_zram_swap_on();
	area = map_twins(1, SEED + 3);
	iov.iov_base = area;
	iov.iov_len = XT_PAGE;
	check(wait_merged(0, area, 1), "B3: a pair merged");
	kpfn = xt_pfn(area);
	if (!buf || pipe(pfd))
		fatal("pipe");
	check(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)XT_PAGE,
	      "B3: the KSM page is spliced into a pipe");
	munmap(area + XT_PAGE, XT_PAGE);
	/*
	 * MADV_PAGEOUT is best effort: reclaim passes over a page it cannot
	 * lock at that moment, and xksmd locks the KSM page to take the
	 * unmapped twin's route off it.  So xksmd is stopped meanwhile, and
	 * the pageout is tried a few times (a page its rmap cannot unmap
	 * fails every time).
	 */
	xt_knob_set("run", 0);
	for (tries = 0; tries < 10 && !xt_swapped(area); tries++) {
		madvise(area, XT_PAGE, MADV_PAGEOUT);
		if (!xt_swapped(area))
			xt_msleep(100);
	}
	xt_knob_set("run", 1);
	check(xt_swapped(area),
	      "B3: the KSM page is paged out, the pipe keeping it in the swapcache (%d tries)",
	      tries);
	check(read(pfd[0], buf, XT_PAGE) == (ssize_t)XT_PAGE && xt_page_ok(buf, 0, SEED + 3),
	      "B3: the pipe lets go of it (its data was right)");
	close(pfd[0]);
	close(pfd[1]);
	b_switch("B3", kpfn);
	ok = xt_page_ok(area, 0, SEED + 3);
	check(ok, "B3: the page comes back from swap with its data (pfn %lu, was %lu)",
	      xt_pfn(area), kpfn);
	forget(area, 1);
	b_restore("B3");
	check(xt_zram_swap_off(), "B3: swap off, the zram device removed");
	free(buf);
}

/* --- C ----------------------------------------------------------------- */

#define NC		512	/* twin pairs */
#define MAX_KIDS	16	/* each copies what is still merged: slow on debug */

struct shared {
	volatile int stop;	/* stop forking */
	volatile int done;	/* the checks are done: kill the children */
	volatile int nkids;
	volatile int unmerging;	/* run=2 is being written */
	volatile int r_ready;	/* R unregistered: 1 its pairs still merged, <0 not */
	volatile int r_state;	/* R registered: 1 during run=2, 2 after, <0 -errno */
	volatile pid_t r;
	pid_t kids[MAX_KIDS];
};

/*
 * R, forked from P with its merged pages: it unregisters keeping them
 * merged, and registers again as soon as run=2 has begun.
 */
static void child_r(struct shared *sh, char *area)
{
	size_t len = 2 * NC * XT_PAGE;
	double deadline;

	if (xt_unregister(area, len, XKSM_KEEP_MERGED)) {
		sh->r_ready = -1;
		_exit(1);
	}
	sh->r_ready = merged_pairs(0, area, NC) == NC ? 1 : -2;
	deadline = xt_now() + 2 * XT_TIMEOUT_S;
	while (!sh->unmerging && !sh->done && xt_now() < deadline)
		usleep(100);
	if (xt_register(area, len))
		sh->r_state = -errno;
	else
		sh->r_state = sh->unmerging ? 1 : 2;
	while (!sh->done)
		usleep(10000);
	_exit(xt_verify(area, NC, SEED + 4) || xt_verify(area + NC * XT_PAGE, NC, SEED + 4) ?
	      3 : 0);
}

/* P: merges, forks R, then forks children until told to stop. */
static void child_p(struct shared *sh, char *area, int ready)
{
	unsigned char b;
	int i, status, ret = 0;
	pid_t r;

	xt_fill(area, NC, SEED + 4);
	xt_fill(area + NC * XT_PAGE, NC, SEED + 4);
	xt_register_or_die(area, 2 * NC * XT_PAGE);
	b = wait_merged(0, area, NC);
	r = fork();
	if (r == 0)
		child_r(sh, area);
	sh->r = r;
	if (write(ready, &b, 1) != 1)
		_exit(1);
	/* Fork two children before run=2, then all through it. */
	while (!sh->stop && sh->nkids < MAX_KIDS) {
		pid_t kid;

		if (sh->nkids >= 2 && !sh->unmerging) {
			usleep(1000);
			continue;
		}
		kid = fork();
		if (kid == 0) {
			pause();
			_exit(0);
		}
		if (kid < 0)
			break;
		sh->kids[sh->nkids] = kid;
		__sync_synchronize();
		sh->nkids++;
		usleep(1000);
	}
	while (!sh->done)
		usleep(10000);
	for (i = 0; i < sh->nkids; i++)
		kill(sh->kids[i], SIGKILL);
	if (r > 0 && (waitpid(r, &status, 0) != r || !WIFEXITED(status) ||
		      WEXITSTATUS(status)))
		ret = 6;
	while (wait(NULL) > 0)
		;
	if (xt_verify(area, NC, SEED + 4) || xt_verify(area + NC * XT_PAGE, NC, SEED + 4))
		ret = 7;
	_exit(ret);
}

static void part_c(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *area = xt_map(2 * NC);	/* mapped here: the same address in P */
	size_t left = 0;
	int i, status, ready[2], kids0, kids1, err;
	double t0, deadline;
	unsigned char b;
	pid_t p;

	if (sh == MAP_FAILED || pipe(ready))
		fatal("setup");
	p = xt_fork();
	if (p == 0)
		child_p(sh, area, ready[1]);
	xt_knob_set("run", 1);
	check(xt_child_read(ready[0], &b, XT_TIMEOUT_S) == 0 && b,
	      "C: P merged %d pairs", NC);
	deadline = xt_now() + XT_TIMEOUT_S;
	while ((!sh->r_ready || sh->nkids < 2) && xt_now() < deadline)
		xt_msleep(1);
	check(sh->r_ready == 1,
	      "C: R, forked from P, unregistered keeping its %d pairs merged (%d)",
	      NC, sh->r_ready);

	sh->unmerging = 1;
	__sync_synchronize();
	kids0 = sh->nkids;
	t0 = xt_now();
	err = xt_knob_write("run", 2);
	kids1 = sh->nkids;
	sh->unmerging = 0;
	sh->stop = 1;
	check(err == 0, "C: run=2 succeeds (%s, %.1f s)", strerror(err), xt_now() - t0);
	check(kids1 > kids0,
	      "C: P forked children while run=2 was unmerging (%d before it, %d by its end)",
	      kids0, kids1);
	deadline = xt_now() + XT_TIMEOUT_S;
	while (!sh->r_state && xt_now() < deadline)
		xt_msleep(1);
	check(sh->r_state == 1, "C: R registered again while run=2 was unmerging (%d)",
	      sh->r_state);
	xt_msleep(50);

	left = merged_pairs(p, area, NC) + merged_pairs(sh->r, area, NC);
	for (i = 0; i < sh->nkids; i++)
		left += merged_pairs(sh->kids[i], area, NC);
	check(left == 0,
	      "C: after run=2 neither P, nor R, nor any of P's %d children maps a merged page (%zu left)",
	      sh->nkids, left);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0 &&
	      deferred() == 0,
	      "C: pages_shared, pages_sharing and deferred_rmap_items are 0 (%lld, %lld, %lld)",
	      xt_knob("pages_shared"), xt_knob("pages_sharing"), deferred());
	check(objects("xksm_stable_node", NULL) == 0 && tree_nodes(0) == 0,
	      "C: no stable node is left (%lld in the slab cache, %d listed)",
	      objects("xksm_stable_node", NULL), tree_nodes(0));
	check(xt_knob_write("merge_across_nodes", 0) == 0 &&
	      xt_knob_write("merge_across_nodes", 1) == 0,
	      "C: merge_across_nodes switches both ways");
	sh->done = 1;
	check(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "C: P, R and P's children exit, P's and R's data intact (%d)",
	      WEXITSTATUS(status));
}

int main(void)
{
	char *keep;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (xt_backend_ksm())
		skip("xksm only: XKSM_KEEP_MERGED and deferred routes");
	deferred_known = xt_knob_exists("deferred_rmap_items");
	xt_unmerge_all();
	xt_knob_save("merge_across_nodes");
	xt_start_fast();
	/* full_scans only advances while something is registered. */
	keep = xt_map(1);
	xt_fill(keep, 1, 0xabcd);
	xt_register_or_die(keep, XT_PAGE);

	if (access(DIR, F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);

	part_a();
	part_b1();
	part_b2();
	part_b3();
	part_c();
	return done();
}
