// SPDX-License-Identifier: GPL-2.0
/*
 * fork() after merging.  A process P merges N pairs (A[i], B[i]) and forks
 * C: C sees the same data at the same PFNs; C's writes (A[0..K)) do not
 * reach P, P's writes (B[K..2K)) do not reach C; when C exits P is intact.
 * P forks C2 and exits first: C2 still reads its data intact.  Once both
 * sides are gone, the counters drop back to 0.
 */
#include <sys/prctl.h>

#include "xksm_test.h"

#define N	32
#define K	8
#define SEED	0x6b0c
#define WSEED	0x6b0d

static char *a, *b;
static int *c2_result;	/* shared: C2's verdict (1 ok, 2 bad) */

/* The view after C's and P's writes, for process "who" ('P' or 'C'). */
static size_t bad_pages(int who)
{
	size_t i, bad = 0;

	for (i = 0; i < N; i++) {
		bad += !xt_page_ok(a, i, (who == 'C' && i < K) ? WSEED : SEED);
		bad += !xt_page_ok(b, i, (who == 'P' && i >= K && i < 2 * K) ? WSEED : SEED);
	}
	return bad;
}

static int child(int cmd, void *arg)
{
	size_t i;

	(void)arg;
	switch (cmd) {
	case 0:
		return 0;
	case 'v':	/* before any write: the original data */
		return xt_verify(a, N, SEED) + xt_verify(b, N, SEED) ? 1 : 0;
	case 'w':
		for (i = 0; i < K; i++)
			xt_fill_page(a, i, WSEED);
		return 0;
	case 'c':	/* own writes seen, P's writes not */
		return bad_pages('C') ? 1 : 0;
	}
	return 255;
}

/* The process P: its checks print here; its exit status is their verdict. */
static int process_p(void)
{
	struct xt_child c;
	size_t i, same, moved;
	int pipefd[2];
	pid_t c2;

	xt_map_twins(N, SEED, &a, &b);
	xt_wait_full_scans(3);	/* the scanner already runs: 3 */
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "P's %d pairs are merged", N))
		return 1;

	xt_child_start(&c, child, NULL);
	check(xt_child_cmd(&c, 'v') == 0, "the forked child C reads the same data");
	same = xt_count_same_pfn(0, a, c.pid, a, N) + xt_count_same_pfn(0, b, c.pid, b, N);
	check(same == 2 * N, "C maps the same merged PFNs as P (%zu of %d)", same, 2 * N);

	check(xt_child_cmd(&c, 'w') == 0, "C writes %d merged pages", K);
	for (moved = 0, i = 0; i < K; i++)
		moved += xt_pfn_pid(c.pid, a + i * XT_PAGE) != xt_pfn(a + i * XT_PAGE);
	check(moved == K, "C's writes gave C its own copies");
	check(xt_verify(a, N, SEED) == 0, "P does not see C's writes");
	for (i = K; i < 2 * K; i++)
		xt_fill_page(b, i, WSEED);
	check(bad_pages('P') == 0, "P reads back its own writes");
	check(xt_child_cmd(&c, 'c') == 0, "C reads back its writes and does not see P's");
	check(xt_child_stop(&c) == 0, "C exits");
	check(bad_pages('P') == 0, "after C exited P's data is intact");

	/* C2: outlives P. */
	if (pipe(pipefd))
		fatal("pipe");
	c2 = xt_fork();
	if (c2 == 0) {
		char x;

		close(pipefd[1]);
		while (read(pipefd[0], &x, 1) > 0)	/* EOF: P has exited */
			;
		*c2_result = bad_pages('P') ? 2 : 1;
		_exit(0);
	}
	close(pipefd[0]);
	return done();	/* P exits; its end of the pipe closes */
}

int main(void)
{
	int status, got_c2 = 0;
	pid_t p, w;
	double deadline;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		fatal("PR_SET_CHILD_SUBREAPER");
	c2_result = xt_map_shared(1);
	xt_start_fast();

	p = xt_fork();
	if (p == 0) {
		int ret = process_p();

		fflush(stdout);
		_exit(ret);
	}
	check(waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "process P's checks passed and P exited");
	deadline = xt_now() + XT_TIMEOUT_S;
	while (!got_c2 && xt_now() < deadline) {
		w = waitpid(-1, &status, WNOHANG);
		if (w > 0)
			got_c2 = 1;
		else if (w < 0)
			break;
		else
			xt_msleep(10);
	}
	check(got_c2 && *c2_result == 1, "C2, forked by P, reads its data intact after P exited");

	check(xt_wait_knob_eq("pages_shared", 0, XT_TIMEOUT_S) &&
	      xt_wait_knob_eq("pages_sharing", 0, XT_TIMEOUT_S),
	      "with every side gone pages_shared and pages_sharing drop to 0 (%lld, %lld)",
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(xt_wait_knob_eq("pages_unshared", 0, XT_TIMEOUT_S), "pages_unshared drops to 0");
	return done();
}
