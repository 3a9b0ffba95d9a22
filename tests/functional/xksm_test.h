/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xksm_test.h - the little each guest test program shares.
 *
 * A test prints what it checks, one line per check ("ok - ..." or
 * "not ok - ..."), and exits 0 when every check passed, 1 when one failed,
 * and 4 (kselftest's KSFT_SKIP) with a reason when it cannot run here.
 */
#ifndef XKSM_TEST_H
#define XKSM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/xksm.h>

#define XKSM_EXIT_PASS	0
#define XKSM_EXIT_FAIL	1
#define XKSM_EXIT_SKIP	4

static int xt_failures;
static int xt_checks;

static inline void xt_report(int ok, const char *fmt, va_list ap)
{
	xt_checks++;
	if (!ok)
		xt_failures++;
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

/* check(cond, "what was checked", ...): one verdict line; returns cond. */
static inline int __attribute__((format(printf, 2, 3)))
check(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xt_report(!!cond, fmt, ap);
	va_end(ap);
	return cond;
}

/* A check that an ioctl failed with exactly the expected errno. */
#define check_errno(ret, want, what)					\
	check((ret) == -1 && errno == (want),				\
	      "%s fails with %s (got ret %d, %s)", (what), #want, (ret), \
	      (ret) == -1 ? strerror(errno) : "no error")

static inline void __attribute__((noreturn, format(printf, 1, 2)))
skip(const char *fmt, ...)
{
	va_list ap;

	printf("skip - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(XKSM_EXIT_SKIP);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s)\n", strerror(errno));
	exit(XKSM_EXIT_FAIL);
}

/* The one verdict: call at the end of main(). */
static inline int done(void)
{
	if (!xt_checks) {
		printf("not ok - the test checked nothing\n");
		return XKSM_EXIT_FAIL;
	}
	printf("# %d check(s), %d failed\n", xt_checks, xt_failures);
	return xt_failures ? XKSM_EXIT_FAIL : XKSM_EXIT_PASS;
}

static inline int xksm_open(void)
{
	int fd = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fatal("open %s", XKSM_DEVICE);
	return fd;
}

/* The handshake every xksm program starts with; returns the ioctl's result. */
static inline int xksm_handshake(int fd, struct xksm_api *api)
{
	memset(api, 0, sizeof(*api));
	api->api = XKSM_API;
	return ioctl(fd, XKSM_IOC_API, api);
}


/* ------------------------------------------------------------------------
 * Merging tests: the helpers below drive xksm (or, for validating the tests
 * themselves, the kernel's own KSM) and look at the result the way a user
 * would: through /proc/self/pagemap, the sysfs counters and the statistics.
 *
 * Backend switch: with XKSM_TEST_BACKEND=ksm in the environment, every
 * helper uses the kernel's KSM instead of xksm: madvise(MADV_MERGEABLE /
 * MADV_UNMERGEABLE), /sys/kernel/mm/ksm/, prctl(PR_SET_MEMORY_MERGE) and
 * /proc/self/ksm_stat + ksm_merging_pages.  What KSM has no equivalent for
 * is reported by xt_has() as missing and the tests skip that part, saying
 * so ("# skipped on in-kernel KSM: ...").
 *
 * A test that changes a knob does it with xt_knob_set_saved() (or
 * xt_start_fast()); an atexit handler then ends with run=2 (unmerge
 * everything, synchronously) and restores every saved knob, so that the next
 * test starts clean even when this one fails half-way (fatal() and the wait
 * timeouts exit through it).  Children made with fork() must leave with
 * _exit(); the handler only runs in the process that installed it.
 * ------------------------------------------------------------------------ */
#include <inttypes.h>
#include <numaif.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif

#define XT_PAGE			4096UL
/* Default time limit of every wait: generous, guests run under TCG. */
#define XT_TIMEOUT_S		120
/* A statistic the backend cannot tell (in-kernel KSM, older kernel). */
#define XT_UNKNOWN		(~0ULL)
#define XT_UNKNOWN_S64		INT64_MIN

/* 1 when the tests drive the kernel's own KSM (XKSM_TEST_BACKEND=ksm). */
static inline int xt_backend_ksm(void)
{
	static int cached = -1;

	if (cached < 0) {
		const char *b = getenv("XKSM_TEST_BACKEND");

		cached = b && !strcmp(b, "ksm");
	}
	return cached;
}

/* "xksm" or "ksm", for messages. */
static inline const char *xt_backend_name(void)
{
	return xt_backend_ksm() ? "in-kernel KSM" : "xksm";
}

/* The directory of the knobs and counters: /sys/kernel/mm/{xksm,ksm}. */
static inline const char *xt_sysfs_dir(void)
{
	return xt_backend_ksm() ? "/sys/kernel/mm/ksm" : "/sys/kernel/mm/xksm";
}

/* A line saying that a check was left out, and why (not a verdict). */
static inline void __attribute__((format(printf, 1, 2))) xt_note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Time since an arbitrary point, in seconds. */
static inline double xt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void xt_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The whole of a file (debugfs's, whose size stat() does not tell), read
 * @chunk bytes at a time, as a NUL-terminated string (free it); NULL with
 * errno on failure.
 */
static inline char *xt_read_all(const char *path, size_t chunk)
{
	size_t len = 0, size = 65536;
	char *buf = malloc(size + 1);
	int fd, err;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (len + chunk > size) {
			char *bigger;

			size = 2 * (len + chunk);
			bigger = realloc(buf, size + 1);
			if (!bigger)
				break;
			buf = bigger;
		}
		n = read(fd, buf + len, chunk);
		if (n < 0)
			break;
		if (n == 0) {
			close(fd);
			buf[len] = 0;
			return buf;
		}
		len += n;
	}
	err = errno;
	close(fd);
	free(buf);
	errno = err;
	return NULL;
}

/* --- sysfs knobs ------------------------------------------------------- */

/*
 * xt_knob_read("pages_shared", &v): read a knob or counter of the backend's
 * sysfs directory.  Returns 0, or the errno (ENOENT: this kernel has no such
 * knob).
 */
static inline int xt_knob_read(const char *name, long long *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", xt_sysfs_dir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = 0;
	*val = strtoll(buf, NULL, 0);
	return 0;
}

/* 1 when the knob exists on this backend and kernel. */
static inline int xt_knob_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", xt_sysfs_dir(), name);
	return access(path, F_OK) == 0;
}

/* The value of a knob that must exist; a missing one fails the test. */
static inline long long xt_knob(const char *name)
{
	long long v = 0;
	int err = xt_knob_read(name, &v);

	if (err) {
		errno = err;
		fatal("read %s/%s", xt_sysfs_dir(), name);
	}
	return v;
}

/*
 * xt_knob_write("run", 1): write a knob.  Returns 0, or the errno of the
 * write (EBUSY for merge_across_nodes/max_page_sharing while pages are
 * merged, EINVAL for a bad value, ENOENT for no such knob).
 */
static inline int xt_knob_write(const char *name, long long val)
{
	char path[256], buf[32];
	int fd, len, err = 0;

	snprintf(path, sizeof(path), "%s/%s", xt_sysfs_dir(), name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	len = snprintf(buf, sizeof(buf), "%lld", val);
	if (write(fd, buf, len) != len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

/* Write a knob that must accept the value; failure ends the test. */
static inline void xt_knob_set(const char *name, long long val)
{
	int err = xt_knob_write(name, val);

	if (err) {
		errno = err;
		fatal("write %lld to %s/%s", val, xt_sysfs_dir(), name);
	}
}

#define XT_MAX_SAVED 16
static struct { const char *name; long long val; } xt_saved[XT_MAX_SAVED];
static int xt_nr_saved;
static pid_t xt_cleanup_pid;

/*
 * The atexit handler: run=2 (unmerge all, synchronously; stops scanning),
 * then every saved knob back to its value at the start of the test, run
 * last.  Only in the process that installed it (not in forked children).
 */
static inline void xt_cleanup(void)
{
	int i, err;

	if (getpid() != xt_cleanup_pid)
		return;
	xt_cleanup_pid = 0;
	err = xt_knob_write("run", 2);
	if (err)
		printf("# cleanup: run=2 failed: %s\n", strerror(err));
	for (i = xt_nr_saved - 1; i >= 0; i--) {
		if (!strcmp(xt_saved[i].name, "run"))
			continue;
		err = xt_knob_write(xt_saved[i].name, xt_saved[i].val);
		if (err)
			printf("# cleanup: restoring %s=%lld failed: %s\n",
			       xt_saved[i].name, xt_saved[i].val, strerror(err));
	}
	for (i = 0; i < xt_nr_saved; i++)
		if (!strcmp(xt_saved[i].name, "run"))
			xt_knob_write("run", xt_saved[i].val);
	fflush(stdout);
}

/* Remember a knob's current value once, for xt_cleanup() to restore. */
static inline void xt_knob_save(const char *name)
{
	int i;

	if (!xt_cleanup_pid) {
		xt_cleanup_pid = getpid();
		atexit(xt_cleanup);
	}
	for (i = 0; i < xt_nr_saved; i++)
		if (!strcmp(xt_saved[i].name, name))
			return;
	if (xt_nr_saved == XT_MAX_SAVED)
		fatal("too many saved knobs");
	xt_saved[xt_nr_saved].name = name;
	xt_saved[xt_nr_saved].val = xt_knob(name);
	xt_nr_saved++;
}

/* Set a knob for this test, to be restored at exit. */
static inline void xt_knob_set_saved(const char *name, long long val)
{
	xt_knob_save(name);
	xt_knob_set(name, val);
}

/* --- /dev/xksm and the registration ------------------------------------ */

static int xt_fd = -1;
static __u64 xt_features;

/* The open, handshaken /dev/xksm (xksm backend only). */
static inline int xt_dev(void)
{
	struct xksm_api api;

	if (xt_fd >= 0)
		return xt_fd;
	xt_fd = xksm_open();
	if (xksm_handshake(xt_fd, &api))
		fatal("XKSM_IOC_API handshake");
	xt_features = api.features;
	return xt_fd;
}

/*
 * 1 when the backend has the feature (an XKSM_FEATURE_* bit).  In-kernel
 * KSM has MERGE and STATS; MERGE_ANY when prctl(PR_GET_MEMORY_MERGE) works
 * (6.4+); never KEEP_MERGED.
 */
static inline int xt_has(__u64 feature)
{
	if (xt_backend_ksm()) {
		if (feature & XKSM_FEATURE_KEEP_MERGED)
			return 0;
		if ((feature & XKSM_FEATURE_MERGE_ANY) &&
		    prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) < 0)
			return 0;
		return 1;
	}
	xt_dev();
	return (xt_features & feature) == feature;
}

/*
 * A feature the test cannot do without.  In-kernel KSM lacking it is a
 * skip (the kernel is too old); xksm not reporting a feature the engine
 * must have is a failure.
 */
static inline void xt_require(__u64 feature, const char *what)
{
	if (xt_has(feature))
		return;
	if (xt_backend_ksm())
		skip("in-kernel KSM of this kernel has no %s", what);
	check(0, "xksm reports feature %s (features %#llx)", what,
	      (unsigned long long)xt_features);
	exit(done());
}

/*
 * Register [addr, addr + len) for merging (XKSM_IOC_MERGEABLE, or
 * madvise(MADV_MERGEABLE)).  Returns 0 or -1 with errno.
 */
static inline int xt_register(void *addr, size_t len)
{
	struct xksm_range r = { .start = (uintptr_t)addr, .len = len };

	if (xt_backend_ksm())
		return madvise(addr, len, MADV_MERGEABLE);
	return ioctl(xt_dev(), XKSM_IOC_MERGEABLE, &r);
}

/* Unregister; flags: 0 or XKSM_KEEP_MERGED.  Returns 0 or -1 with errno. */
static inline int xt_unregister(void *addr, size_t len, __u64 flags)
{
	struct xksm_range r = { .start = (uintptr_t)addr, .len = len, .flags = flags };

	if (xt_backend_ksm()) {
		if (flags) {
			errno = EINVAL;
			return -1;
		}
		return madvise(addr, len, MADV_UNMERGEABLE);
	}
	return ioctl(xt_dev(), XKSM_IOC_UNMERGEABLE, &r);
}

/* Register, or end the test. */
static inline void xt_register_or_die(void *addr, size_t len)
{
	if (xt_register(addr, len))
		fatal("register %p + %zu for merging", addr, len);
}

/* Merge-any on (1) or off (0): XKSM_IOC_SET_MERGE_ANY or the prctl. */
static inline int xt_set_merge_any(__u64 enable)
{
	struct xksm_merge_any m = { .enable = enable };

	if (xt_backend_ksm())
		return prctl(PR_SET_MEMORY_MERGE, (unsigned long)enable, 0, 0, 0);
	return ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m);
}

/* The merge-any setting (0/1), or -1 with errno. */
static inline long long xt_get_merge_any(void)
{
	struct xksm_merge_any m = { 0 };

	if (xt_backend_ksm())
		return prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	if (ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &m))
		return -1;
	return m.enable;
}

/* Read "key value" / "key: value" (yes/no allowed) from a /proc file. */
static inline int xt_proc_field(const char *path, const char *key, long long *val)
{
	char line[256];
	size_t klen = strlen(key);
	FILE *f = fopen(path, "re");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *v = line + klen;

		if (strncmp(line, key, klen) || (*v != ' ' && *v != ':' && *v != '\t'))
			continue;
		while (*v == ':' || *v == ' ' || *v == '\t')
			v++;
		*val = !strncmp(v, "yes", 3) ? 1 : !strncmp(v, "no", 2) ? 0 : strtoll(v, NULL, 0);
		found = 1;
		break;
	}
	fclose(f);
	return found;
}

/*
 * The caller's statistics (XKSM_IOC_STATS).  On in-kernel KSM they come
 * from /proc/self/ksm_merging_pages and /proc/self/ksm_stat, and what this
 * kernel does not show is XT_UNKNOWN (XT_UNKNOWN_S64 for profit).
 * Returns 0 or -1 with errno.
 */
static inline int xt_stats(struct xksm_stats *st)
{
	long long v;

	memset(st, 0, sizeof(*st));
	if (!xt_backend_ksm())
		return ioctl(xt_dev(), XKSM_IOC_STATS, st);

	st->merging_pages = st->rmap_items = st->zero_pages = XT_UNKNOWN;
	st->merge_any = st->mergeable = st->registered_bytes = XT_UNKNOWN;
	st->profit = XT_UNKNOWN_S64;
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_merging_pages", &v))
		st->merging_pages = v;
	else {
		FILE *f = fopen("/proc/self/ksm_merging_pages", "re");

		if (f) {
			if (fscanf(f, "%lld", &v) == 1)
				st->merging_pages = v;
			fclose(f);
		}
	}
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_rmap_items", &v))
		st->rmap_items = v;
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_zero_pages", &v))
		st->zero_pages = v;
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_process_profit", &v))
		st->profit = v;
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_merge_any", &v))
		st->merge_any = v;
	if (xt_proc_field("/proc/self/ksm_stat", "ksm_mergeable", &v))
		st->mergeable = v;
	return 0;
}

/* The statistics, or end the test. */
static inline struct xksm_stats xt_stats_or_die(void)
{
	struct xksm_stats st;

	if (xt_stats(&st))
		fatal("XKSM_IOC_STATS");
	return st;
}

/* 1 when a statistic is known on this backend and kernel. */
static inline int xt_known(__u64 v)
{
	return v != XT_UNKNOWN;
}

/* --- scanning ---------------------------------------------------------- */

/*
 * Start the scanner fast for a test: pages_to_scan=5000, sleep_millisecs=0,
 * run=1.  The previous values come back at exit (after run=2).
 */
static inline void xt_start_fast(void)
{
	xt_knob_set_saved("pages_to_scan", 5000);
	xt_knob_set_saved("sleep_millisecs", 0);
	xt_knob_set_saved("run", 1);
}

/*
 * Stop and unmerge everything now: run=2 (synchronous: every merged page is
 * private again when this returns).  Scanning stays stopped.
 */
static inline void xt_unmerge_all(void)
{
	xt_knob_save("run");
	xt_knob_set("run", 2);
}

/*
 * Wait until full_scans has advanced by n, at most timeout_s seconds; on a
 * timeout the test fails (and cleans up) instead of hanging.
 *
 * The KSM idiom: a page merges on the second full scan that sees it (the
 * first only records its checksum), so register the memory, then start the
 * scanner and wait for 2 full scans.  Memory registered while the scanner
 * already runs may first be reached only after the scan in progress ends:
 * wait for 3 then.  full_scans only advances while some memory is
 * registered.
 */
static inline void xt_wait_full_scans_timeout(int n, int timeout_s)
{
	long long start = xt_knob("full_scans"), now = start;
	double deadline = xt_now() + timeout_s;

	while (now < start + n) {
		if (xt_now() > deadline) {
			check(0, "full_scans advances by %d within %d s (from %lld to %lld)",
			      n, timeout_s, start, now);
			exit(done());
		}
		xt_msleep(10);
		now = xt_knob("full_scans");
	}
}

static inline void xt_wait_full_scans(int n)
{
	xt_wait_full_scans_timeout(n, XT_TIMEOUT_S);
}

/*
 * Wait until a counter equals want; returns 1, or 0 (not a failure by
 * itself: the caller checks) after timeout_s seconds.
 */
static inline int xt_wait_knob_eq(const char *name, long long want, int timeout_s)
{
	double deadline = xt_now() + timeout_s;

	while (xt_knob(name) != want) {
		if (xt_now() > deadline)
			return 0;
		xt_msleep(10);
	}
	return 1;
}

/* --- pagemap: where a page is ------------------------------------------ */

#define XT_PM_PRESENT		(1ULL << 63)
#define XT_PM_SWAPPED		(1ULL << 62)
#define XT_PM_PFN_MASK		((1ULL << 55) - 1)

/*
 * Read the pagemap entries of n pages from addr on out of fd, an open
 * pagemap of process pid (for the message); a read error ends the test.
 */
static inline void xt_pagemap_read(int fd, pid_t pid, const void *addr, size_t n,
				   uint64_t *e)
{
	size_t len = n * sizeof(*e), got = 0;
	off_t off = (uintptr_t)addr / XT_PAGE * sizeof(*e);
	ssize_t r;

	while (got < len) {
		r = pread(fd, (char *)e + got, len - got, off + got);
		if (r <= 0)
			fatal("read pagemap of pid %d at %p", (int)pid, addr);
		got += r;
	}
}

/*
 * The /proc/<pid>/pagemap entry of a virtual address (pid 0: this
 * process): bit 63 present, 62 swapped, 0-54 the PFN when present (visible
 * to root).  A read error ends the test.
 *
 * This process's pagemap stays open, but only in the process that opened
 * it: "/proc/self" is resolved at open(), so a forked child reading its
 * parent's descriptor would read the parent's pages.
 */
static inline uint64_t xt_pagemap_pid(pid_t pid, const void *addr)
{
	static pid_t self_pid;
	static int self_fd = -1;
	char path[64];
	uint64_t e;
	int fd;

	if (pid) {
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		if (self_fd >= 0 && self_pid != getpid()) {
			close(self_fd);		/* the parent's, inherited */
			self_fd = -1;
		}
		if (self_fd < 0) {
			self_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
			self_pid = getpid();
		}
		fd = self_fd;
	}
	if (fd < 0)
		fatal("open pagemap of pid %d", (int)pid);
	xt_pagemap_read(fd, pid, addr, 1, &e);
	if (pid)
		close(fd);
	return e;
}

/* The PFN of a pagemap entry, 0 when the page is not present. */
static inline unsigned long xt_pagemap_pfn(uint64_t e)
{
	return (e & XT_PM_PRESENT) ? (unsigned long)(e & XT_PM_PFN_MASK) : 0;
}

/* The PFN mapped at addr in process pid (0: self), 0 when not present. */
static inline unsigned long xt_pfn_pid(pid_t pid, const void *addr)
{
	return xt_pagemap_pfn(xt_pagemap_pid(pid, addr));
}

/* The PFN mapped at addr in this process, 0 when not present. */
static inline unsigned long xt_pfn(const void *addr)
{
	return xt_pfn_pid(0, addr);
}

#define XT_PFNS_BATCH		512	/* entries xt_pfns_pid() reads at a time */

/*
 * The PFNs of n pages of process pid (0: this process) from addr on, 0
 * where not present, read from one open of its pagemap: xt_pfn_pid() opens
 * it for every page, which over hundreds of pages took minutes on the debug
 * kernel.  Opened afresh each time (pid 0 by getpid(), not /proc/self once),
 * so that a forked child reads its own.  An error ends the test.
 */
static inline void xt_pfns_pid(pid_t pid, const void *addr, size_t n,
			       unsigned long *pfn)
{
	uint64_t e[XT_PFNS_BATCH];
	size_t i, j, k;
	char path[64];
	int fd;

	if (!pid)
		pid = getpid();
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("open %s", path);
	for (i = 0; i < n; i += k) {
		k = n - i < XT_PFNS_BATCH ? n - i : XT_PFNS_BATCH;
		xt_pagemap_read(fd, pid, (const char *)addr + i * XT_PAGE, k, e);
		for (j = 0; j < k; j++)
			pfn[i + j] = xt_pagemap_pfn(e[j]);
	}
	close(fd);
}

/* 1 when the page at addr of this process is swapped out. */
static inline int xt_swapped(const void *addr)
{
	return !!(xt_pagemap_pid(0, addr) & XT_PM_SWAPPED);
}

/* The PFN of the shared zero page, as a read fault of fresh memory maps it. */
static inline unsigned long xt_zero_pfn(void)
{
	volatile char *p = mmap(NULL, XT_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned long pfn;

	if (p == MAP_FAILED)
		fatal("mmap");
	(void)p[0];
	pfn = xt_pfn((const void *)p);
	munmap((void *)p, XT_PAGE);
	return pfn;
}

/* The NUMA node of this process's page at addr (move_pages query), or -errno. */
static inline int xt_page_node(void *addr)
{
	int status = -1;

	if (move_pages(0, 1, &addr, NULL, &status, 0))
		return -errno;
	return status;
}

/*
 * The NUMA node whose zones span a page frame, from /proc/zoneinfo
 * ("Node <n>, zone <name>" ... "spanned <n>" ... "start_pfn: <n>"), or -1:
 * for kernels without memory hotplug, which have no memory blocks.
 */
static inline int xt_pfn_node_zoneinfo(unsigned long pfn)
{
	unsigned long long spanned = 0, start;
	FILE *f = fopen("/proc/zoneinfo", "re");
	int node = -1, found = -1;
	char line[256];

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Node %d, zone", &node) == 1)
			spanned = 0;
		else if (sscanf(line, " spanned %llu", &spanned) == 1)
			;
		else if (sscanf(line, " start_pfn: %llu", &start) == 1 &&
			 pfn >= start && pfn < start + spanned)
			found = node;
	}
	fclose(f);
	return found;
}

/*
 * The NUMA node a page frame belongs to, told by the memory block that
 * holds it (/sys/devices/system/node/node<n>/memory<block>), or by the
 * zones when there are no memory blocks; -1 if unknown.
 */
static inline int xt_pfn_node(unsigned long pfn)
{
	static unsigned long long block_size;
	unsigned long long block;
	char path[96];
	int node;

	if (!pfn)
		return -1;
	if (!block_size) {
		FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "re");

		if (!f)
			return xt_pfn_node_zoneinfo(pfn);
		if (fscanf(f, "%llx", &block_size) != 1)
			block_size = 0;
		fclose(f);
		if (!block_size)
			return xt_pfn_node_zoneinfo(pfn);
	}
	block = (unsigned long long)pfn * XT_PAGE / block_size;
	for (node = 0; node < 64; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/memory%llu",
			 node, block);
		if (access(path, F_OK) == 0)
			return node;
	}
	return -1;
}

/* --- memory ------------------------------------------------------------ */

/* n private anonymous pages, untouched, or the test ends. */
static inline void *xt_map(size_t npages)
{
	void *p = mmap(NULL, npages * XT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap %zu pages", npages);
	return p;
}

/* n pages shared with forked children (control pages, results). */
static inline void *xt_map_shared(size_t npages)
{
	void *p = mmap(NULL, npages * XT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap shared");
	return p;
}

/* The 64-bit word w of page i of pattern seed (never all-zero pages). */
static inline uint64_t xt_word(unsigned int seed, size_t i, size_t w)
{
	uint64_t x = ((uint64_t)seed << 40) ^ ((uint64_t)i << 12) ^ w;

	x ^= 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31)) | 1;
}

/*
 * Fill n pages with pattern seed: page i gets content (seed, i), distinct
 * for every page and seed; the same seed gives the same pages anywhere.
 */
static inline void xt_fill(void *p, size_t npages, unsigned int seed)
{
	size_t i, w;

	for (i = 0; i < npages; i++) {
		uint64_t *q = (uint64_t *)((char *)p + i * XT_PAGE);

		for (w = 0; w < XT_PAGE / 8; w++)
			q[w] = xt_word(seed, i, w);
	}
}

/* Fill page i of p with content (seed, i) only. */
static inline void xt_fill_page(void *p, size_t i, unsigned int seed)
{
	uint64_t *q = (uint64_t *)((char *)p + i * XT_PAGE);
	size_t w;

	for (w = 0; w < XT_PAGE / 8; w++)
		q[w] = xt_word(seed, i, w);
}

/* 1 when page i of p holds content (seed, i), every byte. */
static inline int xt_page_ok(const void *p, size_t i, unsigned int seed)
{
	const uint64_t *q = (const uint64_t *)((const char *)p + i * XT_PAGE);
	size_t w;

	for (w = 0; w < XT_PAGE / 8; w++)
		if (q[w] != xt_word(seed, i, w))
			return 0;
	return 1;
}

/* How many of n pages do not hold pattern seed (0: all intact). */
static inline size_t xt_verify(const void *p, size_t npages, unsigned int seed)
{
	size_t i, bad = 0;

	for (i = 0; i < npages; i++)
		bad += !xt_page_ok(p, i, seed);
	return bad;
}

/*
 * Two mappings of npages holding the same data (page i of each is
 * xt_fill()ed from seed), both registered: the pair most tests merge.
 */
static inline void xt_map_twins(size_t npages, unsigned int seed, char **a,
				char **b)
{
	*a = xt_map(npages);
	*b = xt_map(npages);
	xt_fill(*a, npages, seed);
	xt_fill(*b, npages, seed);
	xt_register_or_die(*a, npages * XT_PAGE);
	xt_register_or_die(*b, npages * XT_PAGE);
}

/* How many of n pages of a (pid pa) and b (pid pb) share a PFN, page by page. */
static inline size_t xt_count_same_pfn(pid_t pa, const void *a, pid_t pb,
				       const void *b, size_t npages)
{
	size_t i, same = 0;

	for (i = 0; i < npages; i++) {
		unsigned long fa = xt_pfn_pid(pa, (const char *)a + i * XT_PAGE);

		same += fa && fa == xt_pfn_pid(pb, (const char *)b + i * XT_PAGE);
	}
	return same;
}

/* How many pairs of pages among n pages of p share a PFN (0 if none merged). */
static inline size_t xt_count_pfn_pairs(pid_t pid, const void *p, size_t npages)
{
	unsigned long *pfn = calloc(npages, sizeof(*pfn));
	size_t i, j, pairs = 0;

	if (!pfn)
		fatal("calloc");
	for (i = 0; i < npages; i++)
		pfn[i] = xt_pfn_pid(pid, (const char *)p + i * XT_PAGE);
	for (i = 0; i < npages; i++)
		for (j = i + 1; j < npages; j++)
			pairs += pfn[i] && pfn[i] == pfn[j];
	free(pfn);
	return pairs;
}

/* --- files, and swap on zram ------------------------------------------ */

/* Write a string to a file (sysfs, cgroupfs): 0, or the errno. */
static inline int xt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		err = errno;
	close(fd);
	return err;
}

/* --- merge_scope (xksm only) ------------------------------------------ */

#define XT_SCOPE_PATH	"/sys/kernel/mm/xksm/merge_scope"

/*
 * The current merge_scope: the bracketed word of "all [uid] memcg id", in
 * a static buffer; "" with errno set when the file cannot be read or shows
 * no such word.
 */
static inline const char *xt_scope_get(void)
{
	static char word[32];
	char buf[128] = "", *b, *e;
	int fd = open(XT_SCOPE_PATH, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	word[0] = 0;
	if (fd < 0)
		return word;
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? errno : EIO;
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		b = strchr(buf, '[');
		e = b ? strchr(b, ']') : NULL;
		if (e && e - b > 1 && e - b - 1 < (long)sizeof(word)) {
			memcpy(word, b + 1, e - b - 1);
			word[e - b - 1] = 0;
			return word;
		}
	}
	errno = err;
	return word;
}

/*
 * Write a word to merge_scope (with a newline, as echo does): 0, or the
 * errno (EBUSY while pages are merged, EINVAL for no such scope).
 */
static inline int xt_scope_set(const char *s)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s\n", s);
	return xt_write_file(XT_SCOPE_PATH, buf);
}

static char xt_zdev[64], xt_zsys[64];
static int xt_zid = -1, xt_swap_on;

#define XT_CG_ROOT	"/sys/fs/cgroup"

/* The memory cgroup xt_memcg_join() put this process in, or NULL. */
static const char *xt_memcg;

/*
 * This process in a memory cgroup of its own, @cg (a directory under
 * XT_CG_ROOT), so that memory.reclaim there reclaims its memory; the test
 * is skipped without cgroup v2 or memory.reclaim.  Join before the memory
 * is touched: it is charged where it is first faulted.  xt_memcg_leave()
 * undoes it (call it from an atexit handler too).
 */
static inline void xt_memcg_join(const char *cg)
{
	char path[128], buf[32];
	int err;

	if (access(XT_CG_ROOT "/cgroup.subtree_control", W_OK))
		skip("no cgroup v2 at " XT_CG_ROOT);
	xt_write_file(XT_CG_ROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(cg, 0755) && errno != EEXIST)
		fatal("mkdir %s", cg);
	snprintf(path, sizeof(path), "%s/memory.reclaim", cg);
	if (access(path, W_OK))
		skip("no memory.reclaim in the memory cgroup");
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	if ((err = xt_write_file(path, buf))) {
		errno = err;
		fatal("join %s", cg);
	}
	xt_memcg = cg;
}

/* Back to the root cgroup, and the one xt_memcg_join() made removed. */
static inline void xt_memcg_leave(void)
{
	char buf[32];

	if (!xt_memcg)
		return;
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	xt_write_file(XT_CG_ROOT "/cgroup.procs", buf);
	rmdir(xt_memcg);
	xt_memcg = NULL;
}

/*
 * Swap on zram: a zram device of 256 MiB made swap space (mkswap done
 * here, in C); the test is skipped without zram.  xt_zram_swap_off()
 * undoes it (call it from an atexit handler too).
 */
static inline void xt_zram_swap_on(void)
{
	char path[96], buf[32] = "";
	unsigned int *hdr;
	ssize_t n;
	int fd;

	fd = open("/sys/class/zram-control/hot_add", O_RDONLY);
	if (fd < 0)
		skip("no zram (/sys/class/zram-control): %s", strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fatal("zram hot_add");
	xt_zid = atoi(buf);
	snprintf(xt_zdev, sizeof(xt_zdev), "/dev/zram%d", xt_zid);
	snprintf(xt_zsys, sizeof(xt_zsys), "/sys/block/zram%d", xt_zid);
	snprintf(path, sizeof(path), "%s/disksize", xt_zsys);
	if ((errno = xt_write_file(path, "256M")))
		fatal("set %s", path);

	/* The swap header: version 1, last page, "SWAPSPACE2". */
	hdr = calloc(1, XT_PAGE);
	if (!hdr)
		fatal("calloc");
	hdr[1024 / 4] = 1;
	hdr[1024 / 4 + 1] = (256 << 20) / XT_PAGE - 1;
	memcpy((char *)hdr + XT_PAGE - 10, "SWAPSPACE2", 10);
	for (n = 0; n < 50 && (fd = open(xt_zdev, O_WRONLY | O_CLOEXEC)) < 0; n++)
		xt_msleep(100);	/* devtmpfs creates the node */
	if (fd < 0)
		fatal("open %s", xt_zdev);
	if (pwrite(fd, hdr, XT_PAGE, 0) != (ssize_t)XT_PAGE)
		fatal("write swap header");
	close(fd);
	free(hdr);
	if (swapon(xt_zdev, 0))
		fatal("swapon %s", xt_zdev);
	xt_swap_on = 1;
}

/* Swap off and the zram device removed; 1 when both are done. */
static inline int xt_zram_swap_off(void)
{
	char buf[96];

	if (xt_swap_on && swapoff(xt_zdev))
		printf("# swapoff %s: %s\n", xt_zdev, strerror(errno));
	else
		xt_swap_on = 0;
	if (xt_zid >= 0) {
		snprintf(buf, sizeof(buf), "%s/reset", xt_zsys);
		xt_write_file(buf, "1");
		snprintf(buf, sizeof(buf), "%d", xt_zid);
		if (!xt_write_file("/sys/class/zram-control/hot_remove", buf))
			xt_zid = -1;
	}
	return !xt_swap_on && xt_zid < 0;
}

/* --- helper processes -------------------------------------------------- */

/*
 * fork(), stdout flushed first (else the child prints again what the
 * parent had buffered); a failure ends the test.
 */
static inline pid_t xt_fork(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fatal("fork");
	return pid;
}

/*
 * A forked helper process that sets up (and registers) its own memory, then
 * serves one-byte commands until told to exit:
 *
 *	struct xt_child c;
 *	xt_child_start(&c, handler, arg);   // child: handler(0, arg) first
 *	xt_child_cmd(&c, 'w');              // child: handler('w', arg)
 *	xt_child_stop(&c);                  // child exits; its exit status
 *
 * The handler returns a byte (0..255) sent back as the command's answer.
 * The child exits when the parent's end of the pipe closes (the parent
 * exited or failed), so no helper outlives its test.
 */
struct xt_child {
	pid_t pid;
	int cmd_fd;	/* parent writes commands */
	int ans_fd;	/* parent reads answers */
};

typedef int (*xt_child_fn)(int cmd, void *arg);

static inline int xt_child_read(int fd, unsigned char *c, int timeout_s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (timeout_s >= 0 && poll(&pfd, 1, timeout_s * 1000) != 1)
		return -1;
	return read(fd, c, 1) == 1 ? 0 : -1;
}

/* Send a command (1..255) and wait for its answer; failure ends the test. */
static inline int xt_child_cmd(struct xt_child *c, int cmd)
{
	unsigned char b = cmd;

	if (write(c->cmd_fd, &b, 1) != 1)
		fatal("command %d to child %d", cmd, (int)c->pid);
	if (xt_child_read(c->ans_fd, &b, XT_TIMEOUT_S))
		fatal("answer to command %d from child %d", cmd, (int)c->pid);
	return b;
}

/*
 * Fork a helper; it runs fn(0, arg) (its set-up) and the parent waits for
 * that to finish; returns the set-up's answer.
 */
static inline int xt_child_start(struct xt_child *c, xt_child_fn fn, void *arg)
{
	int to_child[2], to_parent[2];
	unsigned char b;

	if (pipe2(to_child, O_CLOEXEC) || pipe2(to_parent, O_CLOEXEC))
		fatal("pipe");
	c->pid = xt_fork();
	if (c->pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		b = fn(0, arg);
		if (write(to_parent[1], &b, 1) != 1)
			_exit(1);
		while (xt_child_read(to_child[0], &b, -1) == 0) {
			b = fn(b, arg);
			fflush(stdout);
			if (write(to_parent[1], &b, 1) != 1)
				_exit(1);
		}
		fflush(stdout);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);
	c->cmd_fd = to_child[1];
	c->ans_fd = to_parent[0];
	if (xt_child_read(c->ans_fd, &b, XT_TIMEOUT_S))
		fatal("set-up of child %d", (int)c->pid);
	return b;
}

/* Tell the helper to exit and reap it; returns its exit status, -1 if killed. */
static inline int xt_child_stop(struct xt_child *c)
{
	int status;

	close(c->cmd_fd);
	close(c->ans_fd);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif /* XKSM_TEST_H */
