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
		printf("# child: pages merged: %d, expected %d (after %d full scans)\n",
		       merged, expect_merge, scans);
		return 13;
	}
	return 0;
}

static int run_child(char *p, size_t registered, int expect_merge)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		fatal("fork");
	if (pid == 0)
		_exit(child_checks(p, registered, expect_merge));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
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
	return done();
}
