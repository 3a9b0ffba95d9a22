// SPDX-License-Identifier: GPL-2.0
/*
 * A forked child inherits its parent's registration, as it would inherit
 * VM_MERGEABLE from the kernel's KSM: pages the child writes into the
 * registered range afterwards are merged in the child too.  A thread
 * shares its mm and needs nothing; a child of an unregistered parent
 * inherits nothing.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include "xksm_test.h"

static long page_size;

/*
 * In the child: its registration (registered_bytes), then two new identical
 * pages at @p that must merge, or must not (@expect_merge); with
 * @expect_merge < 0 the pages are not tried (nothing registered anywhere:
 * xksmd does not scan).
 */
static int child_checks(char *p, size_t registered, int expect_merge)
{
	struct xksm_stats st = { 0 };
	int fd = xksm_open(), merged = 0, scans;

	/* No waiting: the child's first ioctl sees what it inherited. */
	if (ioctl(fd, XKSM_IOC_STATS, &st))
		return 10;
	if (st.registered_bytes != registered) {
		printf("# child: registered_bytes %llu, expected %zu\n",
		       (unsigned long long)st.registered_bytes, registered);
		return 11;
	}
	if (expect_merge < 0)
		return 0;
	/*
	 * Merging takes two visits of a page (one notes its checksum, the
	 * next sees it unchanged): look after each full scan, up to 8.
	 */
	memset(p, 0x5a, page_size);
	memset(p + page_size, 0x5a, page_size);
	for (scans = 0; scans < (expect_merge ? 8 : 3); scans++) {
		xt_wait_full_scans(1);
		merged = xt_pfn(p) && xt_pfn(p) == xt_pfn(p + page_size);
		if (merged)
			break;
	}
	if (merged)
		printf("# child: pages merged after %d full scan(s)\n", scans + 1);
	if (merged != expect_merge) {
		printf("# child: pages merged: %d, expected %d (after %d full scans; "
		       "pages_skipped %lld)\n", merged, expect_merge, scans,
		       xt_knob("pages_skipped"));
		return 13;
	}
	return 0;
}

static int run_child(char *p, size_t registered, int expect_merge)
{
	int status;
	pid_t pid = xt_fork();

	if (pid == 0)
		_exit(child_checks(p, registered, expect_merge));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define ROUNDS	16

/* In a descendant: 1 if it is registered with @registered bytes, else 0. */
static char registered_as(size_t registered)
{
	struct xksm_stats st = { 0 };

	return !xt_stats(&st) && st.registered_bytes == registered;
}

/*
 * Forks that outrun xksm's copying of the registration (fork.c's work,
 * queued by the fork): a registered process that forks and exits at once,
 * as a daemon's double fork does (its child must inherit, though its mm
 * is gone when the work runs), and a child that forks before anything
 * else (the grandchild must inherit, though its parent's own inheritance
 * may not have been done yet).  Each case ROUNDS times: how many
 * descendants came out registered.
 */
static void fork_races(size_t len)
{
	int orphans = 0, grandchildren = 0, i;

	for (i = 0; i < 2 * ROUNDS; i++) {
		int fds[2], status;
		char ok = 0;
		pid_t mid;

		if (pipe(fds))
			fatal("pipe");
		mid = xt_fork();
		if (mid == 0) {
			pid_t me = getpid(), kid;

			close(fds[0]);
			if (i % 2 == 0)
				ok = registered_as(len);   /* settled before forking */
			kid = fork();
			if (kid == 0) {
				if (i % 2 == 0) {
					/* The orphan: once its parent is gone. */
					while (getppid() == me)
						xt_msleep(1);
				}
				ok = registered_as(len);
				if (write(fds[1], &ok, 1) != 1)
					_exit(1);
				_exit(0);
			}
			if (i % 2 == 1 && kid > 0)
				waitpid(kid, NULL, 0);
			_exit(kid < 0);
		}
		close(fds[1]);
		if (waitpid(mid, &status, 0) != mid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			fatal("the middle process failed");
		if (read(fds[0], &ok, 1) != 1)
			ok = 0;
		close(fds[0]);
		if (i % 2 == 0)
			orphans += ok;
		else
			grandchildren += ok;
	}
	check(orphans == ROUNDS,
	      "a child whose parent exited right after forking it inherits (%d of %d)",
	      orphans, ROUNDS);
	check(grandchildren == ROUNDS,
	      "a child's child forked before anything else inherits (%d of %d)",
	      grandchildren, ROUNDS);
}

int main(void)
{
	size_t len;
	char *p, *q;
	int rc;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (xt_backend_ksm())
		skip("xksm only: the kernel's KSM inherits VM_MERGEABLE with the vmas");
	page_size = XT_PAGE;
	len = 8 * page_size;
	xt_unmerge_all();
	xt_start_fast();
	/*
	 * smart_scan skips a page that passes have seen unmerged, for up to
	 * 8 passes at a time, as mainline's does, and never forgets: a
	 * child's page seen that way before the child rewrites it might not
	 * merge within the passes the child waits (1 run in 10 or 20 did
	 * not).  This test is about what the child inherits, not that.
	 */
	xt_knob_set_saved("smart_scan", 0);

	p = xt_map(8);
	q = xt_map(8);
	memset(p, 1, len);
	memset(q, 1, len);

	/* Not registered yet: a child inherits nothing. */
	rc = run_child(q, 0, -1);
	check(rc == 0, "a child of an unregistered parent inherits nothing (%d)", rc);

	check(xt_register(p, len) == 0, "parent registers a range");
	rc = run_child(p, len, 1);
	check(rc == 0, "a child inherits the range, and merges in it (%d)", rc);
	rc = run_child(q, len, 0);
	check(rc == 0, "but not outside it (%d)", rc);
	fork_races(len);
	return done();
}
