// SPDX-License-Identifier: GPL-2.0
/*
 * A forked child inherits its parent's registration, as it would inherit
 * VM_MERGEABLE from the kernel's KSM: pages the child writes into the
 * registered range afterwards are merged in the child too.  A thread
 * shares its mm and needs nothing; a child of an unregistered parent
 * inherits nothing.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "xksm_test.h"

#define SYSFS "/sys/kernel/mm/xksm/"

static long page_size;

static long knob(const char *name)
{
	char path[128], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static void set_knob(const char *name, const char *val)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0)
			perror(path);
		close(fd);
	}
}

static uint64_t pfn_of(void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return 0;
	if (pread(fd, &ent, sizeof(ent),
		  (uintptr_t)addr / page_size * sizeof(ent)) != sizeof(ent))
		ent = 0;
	close(fd);
	return (ent & (1ULL << 63)) ? ent & ((1ULL << 55) - 1) : 0;
}

static int wait_full_scans(int n)
{
	long start = knob("full_scans");
	time_t deadline = time(NULL) + 120;

	while (knob("full_scans") < start + n) {
		if (time(NULL) > deadline)
			return 0;
		usleep(10000);
	}
	return 1;
}

/*
 * In the child: its registration (registered_bytes), then two new identical
 * pages at @p that must merge, or must not (@expect_merge); with
 * @expect_merge < 0 the pages are not tried (nothing registered anywhere:
 * xksmd does not scan).
 */
static int child_checks(char *p, size_t registered, int expect_merge)
{
	struct xksm_stats st = { 0 };
	int fd = xksm_open(), merged;

	/* Let the fork work run: it registers the child shortly after fork. */
	usleep(200000);
	if (ioctl(fd, XKSM_IOC_STATS, &st))
		return 10;
	if (st.registered_bytes != registered) {
		printf("# child: registered_bytes %llu, expected %zu\n",
		       (unsigned long long)st.registered_bytes, registered);
		return 11;
	}
	if (expect_merge < 0)
		return 0;
	memset(p, 0x5a, page_size);
	memset(p + page_size, 0x5a, page_size);
	if (!wait_full_scans(3))
		return 12;
	merged = pfn_of(p) && pfn_of(p) == pfn_of(p + page_size);
	if (merged != expect_merge) {
		printf("# child: pages merged: %d, expected %d\n", merged,
		       expect_merge);
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
	int fd, rc;
	struct xksm_range r;

	page_size = sysconf(_SC_PAGESIZE);
	len = 8 * page_size;
	fd = xksm_open();
	set_knob("run", "2");
	set_knob("pages_to_scan", "1000");
	set_knob("sleep_millisecs", "0");
	set_knob("run", "1");

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED)
		fatal("mmap");
	memset(p, 1, len);
	memset(q, 1, len);

	/* Not registered yet: a child inherits nothing. */
	rc = run_child(q, 0, -1);
	check(rc == 0, "a child of an unregistered parent inherits nothing (%d)", rc);

	r = (struct xksm_range){ .start = (uintptr_t)p, .len = len };
	check(ioctl(fd, XKSM_IOC_MERGEABLE, &r) == 0, "parent registers a range");
	rc = run_child(p, len, 1);
	check(rc == 0, "a child inherits the range, and merges in it (%d)", rc);
	rc = run_child(q, len, 0);
	check(rc == 0, "but not outside it (%d)", rc);

	set_knob("run", "2");
	set_knob("pages_to_scan", "100");
	set_knob("sleep_millisecs", "20");
	set_knob("run", "0");
	close(fd);
	return done();
}
