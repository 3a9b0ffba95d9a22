// SPDX-License-Identifier: GPL-2.0
/*
 * Tearing everything down leaves nothing merged and no stable node behind:
 *
 * A. A child that unregistered keeping its merged pages, whose parent
 *    exited, maps KSM pages that only the parent's deferred routes lead
 *    to.  Switching merge_across_nodes (with nothing else merged) breaks
 *    them and succeeds; mainline would refuse it (EBUSY) forever.
 * B. A merged page that something else still holds (a pipe, through
 *    vmsplice) is unmapped by run=2, and its node goes with it: the
 *    switch succeeds and the pipe still reads the right data.
 * C. Children forked while run=2 unmerges are not missed: afterwards
 *    neither the parent nor any child maps a merged page.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "xksm_test.h"

#define N	32		/* twin pairs in A and B */
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
	fflush(stdout);
	p = fork();
	if (p < 0)
		fatal("fork");
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

/* --- B ----------------------------------------------------------------- */

static void part_b(void)
{
	char *area = map_twins(N, SEED + 1), *buf = malloc(XT_PAGE);
	struct iovec iov = { .iov_base = area, .iov_len = XT_PAGE };
	int pfd[2], err;

	xt_knob_set("run", 1);
	check(wait_merged(0, area, N), "B: %d pairs merged", N);
	if (pipe(pfd))
		fatal("pipe");
	/* The pipe takes a reference on the merged page itself. */
	check(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)XT_PAGE,
	      "B: a merged page is spliced into a pipe");

	xt_knob_set("run", 2);
	check(merged_pairs(0, area, N) == 0, "B: run=2 unmerged every pair");
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "B: pages_shared and pages_sharing are 0");
	err = xt_knob_write("merge_across_nodes", 0);
	check(err == 0, "B: merge_across_nodes 1 -> 0 succeeds with the page still in the pipe (%s)",
	      strerror(err));
	check(read(pfd[0], buf, XT_PAGE) == (ssize_t)XT_PAGE && xt_page_ok(buf, 0, SEED + 1),
	      "B: the pipe reads the page's data");
	check(xt_verify(area, N, SEED + 1) == 0 &&
	      xt_verify(area + N * XT_PAGE, N, SEED + 1) == 0, "B: the range is intact");
	err = xt_knob_write("merge_across_nodes", 1);
	check(err == 0, "B: merge_across_nodes 0 -> 1 succeeds (%s)", strerror(err));
	close(pfd[0]);
	close(pfd[1]);
	xt_unregister(area, 2 * N * XT_PAGE, 0);
	munmap(area, 2 * N * XT_PAGE);
	free(buf);
}

/* --- C ----------------------------------------------------------------- */

#define NC		512	/* twin pairs */
#define MAX_KIDS	64

struct shared {
	volatile int stop;	/* stop forking */
	volatile int done;	/* the checks are done: kill the children */
	volatile int nkids;
	pid_t kids[MAX_KIDS];
};

static void *run2(void *arg)
{
	(void)arg;
	xt_knob_set("run", 2);
	return NULL;
}

static void part_c(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *area = xt_map(2 * NC);	/* mapped here: the same address in P */
	pthread_t t;
	size_t left = 0;
	int i, status, ready[2], kids0;
	double t0;
	unsigned char b;
	pid_t p;

	if (sh == MAP_FAILED || pipe(ready))
		fatal("setup");
	fflush(stdout);
	p = fork();
	if (p < 0)
		fatal("fork");
	if (p == 0) {
		xt_fill(area, NC, SEED + 2);
		xt_fill(area + NC * XT_PAGE, NC, SEED + 2);
		xt_register_or_die(area, 2 * NC * XT_PAGE);
		b = wait_merged(0, area, NC);
		if (!b)
			printf("# P: %zu of %d pairs merged; pages_shared %lld, full_scans %lld, run %lld unshared %lld volatile %lld scanned %lld skipped %lld\n",
			       merged_pairs(0, area, NC), NC, xt_knob("pages_shared"),
			       xt_knob("full_scans"), xt_knob("run"), xt_knob("pages_unshared"), xt_knob("pages_volatile"), xt_knob("pages_scanned"), xt_knob("pages_skipped"));
		if (write(ready[1], &b, 1) != 1)
			_exit(1);
		/* Fork children for as long as run=2 may be unmerging. */
		while (!sh->stop && sh->nkids < MAX_KIDS) {
			pid_t kid = fork();

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
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	xt_knob_set("run", 1);
	check(xt_child_read(ready[0], &b, XT_TIMEOUT_S) == 0 && b,
	      "C: P merged %d pairs", NC);
	/* Let P fork a few children before and while run=2 unmerges. */
	while (sh->nkids < 2)
		xt_msleep(1);
	kids0 = sh->nkids;
	t0 = xt_now();
	if (pthread_create(&t, NULL, run2, NULL))
		fatal("pthread_create");
	pthread_join(t, NULL);
	sh->stop = 1;
	xt_note("C: run=2 took %.1f s; P had forked %d children before it, %d by its end",
		xt_now() - t0, kids0, sh->nkids);
	xt_msleep(50);

	left = merged_pairs(p, area, NC);
	for (i = 0; i < sh->nkids; i++)
		left += merged_pairs(sh->kids[i], area, NC);
	check(left == 0, "C: after run=2 neither P nor any of its %d children maps a merged page (%zu left)",
	      sh->nkids, left);
	check(xt_knob("pages_shared") == 0 && deferred() == 0,
	      "C: pages_shared and deferred_rmap_items are 0 (%lld, %lld)",
	      xt_knob("pages_shared"), deferred());
	check(xt_knob_write("merge_across_nodes", 0) == 0 &&
	      xt_knob_write("merge_across_nodes", 1) == 0,
	      "C: merge_across_nodes switches both ways");
	sh->done = 1;
	check(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "C: P and its children exit");
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

	part_a();
	part_b();
	part_c();
	return done();
}
