// SPDX-License-Identifier: GPL-2.0
/*
 * xksmd and the scanner's knobs behave as ksmd and mainline's (6.12):
 *  - xksmd runs at nice 5, as ksmd does;
 *  - with run=1 and nothing registered, xksmd sleeps: over 2 s its CPU time
 *    (utime + stime) and its voluntary context switches do not grow, even
 *    with sleep_millisecs=1; the control: both grow while a registered
 *    range is scanned;
 *  - smart_scan: pages that never merge (all different) are skipped on
 *    later passes, so pages_skipped grows; with smart_scan=0 it stops
 *    growing and every page is scanned again on every pass;
 *  - advisor_mode=scan-time takes pages_to_scan over: it starts at
 *    advisor_min_pages_to_scan, writes to it are refused, and after full
 *    scans the advisor has changed it, within its limits; back to "none",
 *    pages_to_scan is 100 again, can be written, and stays as written.
 * stable_node_chains_prune_millisecs is not tested here: xksm drops stale
 * dups once a pass whatever its value, so its effect is not visible from
 * user space.
 */
#include <dirent.h>

#include "xksm_test.h"

#define N	512
#define SEED	0x6b21
#define DEBUGFS	"/sys/kernel/debug/xksm"

/* The scanner thread's name: "xksmd", or "ksmd" on the kernel's KSM. */
static const char *thread_name(void)
{
	return xt_backend_ksm() ? "ksmd" : "xksmd";
}

/* The pid of the scanner thread (comm in /proc/<pid>/comm), or 0. */
static pid_t find_thread(void)
{
	char path[300], comm[32];
	struct dirent *de;
	pid_t pid = 0;
	DIR *d;
	FILE *f;

	d = opendir("/proc");
	if (!d)
		fatal("opendir /proc");
	while (!pid && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = 0;
			if (!strcmp(comm, thread_name()))
				pid = atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return pid;
}

/*
 * Fields of /proc/<pid>/stat: 14 utime + 15 stime (clock ticks) in *ticks,
 * 19 nice in *nice.
 */
static void thread_stat(pid_t pid, long long *ticks, long long *nice)
{
	char path[64], buf[1024], *p;
	long long v[20];
	int field;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		fatal("read %s", path);
	fclose(f);
	/* The comm, field 2, is in parentheses; field 3 follows the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		fatal("no comm in %s", path);
	p += 2;
	for (field = 3; field <= 19; field++) {
		while (*p == ' ')
			p++;
		v[field] = field == 3 ? 0 : strtoll(p, &p, 10);
		if (field == 3)
			p = strchr(p, ' ');	/* the state, a letter */
		if (!p)
			fatal("short %s", path);
	}
	*ticks = v[14] + v[15];
	*nice = v[19];
}

/* voluntary_ctxt_switches of /proc/<pid>/status. */
static long long thread_switches(pid_t pid)
{
	char path[64];
	long long v = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!xt_proc_field(path, "voluntary_ctxt_switches", &v))
		fatal("no voluntary_ctxt_switches in %s", path);
	return v;
}

/* Bytes in a debugfs file (0: empty), or -1 when it cannot be read. */
static long debugfs_size(const char *name)
{
	char path[128], buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DEBUGFS "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 ? -1 : total;
}

/* Write a word ("scan-time", "none") to a knob; 0 or the errno. */
static int knob_write_str(const char *name, const char *val)
{
	char path[256];
	int fd, err = 0;
	ssize_t len = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", xt_sysfs_dir(), name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, val, len) != len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

/* 1 when advisor_mode shows mode selected ("[none] scan-time"). */
static int advisor_is(const char *mode)
{
	char path[256], buf[64], want[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/advisor_mode", xt_sysfs_dir());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("open %s", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		fatal("read %s", path);
	buf[n] = 0;
	snprintf(want, sizeof(want), "[%s]", mode);
	return strstr(buf, want) != NULL;
}

/*
 * At exit, before the saved knobs come back (atexit runs this first): the
 * advisor off, so that pages_to_scan can be written again.
 */
static void advisor_off(void)
{
	knob_write_str("advisor_mode", "none");
}

/* CPU ticks and voluntary switches of the thread over 2 s. */
static void measure(pid_t pid, long long *ticks, long long *switches)
{
	long long t0, t1, s0, s1, nice;

	thread_stat(pid, &t0, &nice);
	s0 = thread_switches(pid);
	xt_msleep(2000);
	thread_stat(pid, &t1, &nice);
	s1 = thread_switches(pid);
	*ticks = t1 - t0;
	*switches = s1 - s0;
}

int main(void)
{
	long long ticks, nice, sw, skipped0, skipped, scanned, pts, min, max;
	double deadline;
	pid_t pid;
	int i, err;
	char *p;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (xt_backend_ksm() || !xt_knob_exists("smart_scan") ||
	    !xt_knob_exists("advisor_mode"))
		skip("needs xksm's smart_scan and advisor_mode");

	/* --- nice --- */
	pid = find_thread();
	if (!check(pid > 0, "the %s thread is found by its comm", thread_name()))
		return done();
	thread_stat(pid, &ticks, &nice);
	check(nice == 5, "%s (pid %d) runs at nice 5, as ksmd (nice %lld)",
	      thread_name(), (int)pid, nice);

	/* --- asleep with nothing registered --- */
	xt_knob_set_saved("pages_to_scan", 5000);
	xt_knob_set_saved("sleep_millisecs", 1);
	xt_knob_set_saved("run", 1);
	/* Slots of exited tests go when xksmd next looks at them. */
	deadline = xt_now() + XT_TIMEOUT_S;
	while (debugfs_size("mm_slots") != 0 || debugfs_size("reap_list") != 0) {
		if (xt_now() > deadline)
			break;
		xt_msleep(50);
	}
	if (!check(debugfs_size("mm_slots") == 0 && debugfs_size("reap_list") == 0,
		   "nothing is registered and nothing waits to be reaped (%s/mm_slots, reap_list empty)",
		   DEBUGFS))
		return done();
	xt_msleep(500);		/* its last round ends */
	measure(pid, &ticks, &sw);
	check(ticks <= 1, "run=1, sleep_millisecs=1, nothing registered: %s's utime+stime grows by at most 1 tick over 2 s (%lld)",
	      thread_name(), ticks);
	check(sw <= 1, "and it does not wake up: at most 1 voluntary context switch over 2 s (%lld)", sw);

	/* The control: a registered range of all different pages, scanned. */
	p = xt_map(N);
	xt_fill(p, N, SEED);
	skipped0 = xt_knob("pages_skipped");
	xt_register_or_die(p, N * XT_PAGE);
	xt_knob_save("smart_scan");
	xt_knob_set("smart_scan", 1);
	xt_wait_full_scans(1);
	measure(pid, &ticks, &sw);
	check(ticks > 1, "with %d pages registered, its utime+stime grows over 2 s (%lld ticks)", N, ticks);
	check(sw > 1, "and it sleeps sleep_millisecs between batches (%lld voluntary context switches)", sw);

	/* --- smart_scan --- */
	/*
	 * A page seen unmerged on 4 passes is skipped on the 5th, and again
	 * on the 7th and 8th (scan.c: age 3 skips 1 pass, ages 4-5 skip 2):
	 * after 7 more passes each page was skipped at least once.
	 */
	xt_wait_full_scans(7);
	skipped = xt_knob("pages_skipped") - skipped0;
	check(skipped >= N, "smart_scan=1: after 8 or more full scans pages_skipped grew by %lld (at least one per page: %d)",
	      skipped, N);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "the pages are all different: none merged");

	xt_knob_set("smart_scan", 0);
	xt_wait_full_scans(1);	/* a batch under way may still skip */
	skipped = xt_knob("pages_skipped");
	scanned = xt_knob("pages_scanned");
	xt_wait_full_scans(3);
	check(xt_knob("pages_skipped") == skipped, "smart_scan=0: pages_skipped stays at %lld over 3 full scans (%lld)",
	      skipped, xt_knob("pages_skipped"));
	scanned = xt_knob("pages_scanned") - scanned;
	check(scanned >= 2 * N, "and every page is scanned on every pass: pages_scanned grew by %lld (at least %d)",
	      scanned, 2 * N);

	/* --- advisor --- */
	min = xt_knob("advisor_min_pages_to_scan");
	max = xt_knob("advisor_max_pages_to_scan");
	atexit(advisor_off);	/* runs before the saved knobs come back */
	/* Stopped, so that no pass ends (and the advisor runs) meanwhile. */
	xt_knob_set("run", 0);
	err = knob_write_str("advisor_mode", "scan-time");
	if (!check(err == 0 && advisor_is("scan-time"), "advisor_mode=scan-time is accepted and shown selected (%s)",
		   strerror(err)))
		return done();
	pts = xt_knob("pages_to_scan");
	check(pts == min, "the advisor starts pages_to_scan at advisor_min_pages_to_scan (%lld, expected %lld)",
	      pts, min);
	err = xt_knob_write("pages_to_scan", 1234);
	check(err == EINVAL, "writing pages_to_scan is refused with EINVAL while the advisor runs (%s)",
	      strerror(err));
	xt_knob_set("run", 1);
	xt_wait_full_scans(1);
	for (i = 1; i < 10 && xt_knob("pages_to_scan") == pts; i++)
		xt_wait_full_scans(1);
	pts = xt_knob("pages_to_scan");
	check(pts != min, "within %d full scans the advisor changed pages_to_scan (%lld, started at %lld)",
	      i, pts, min);
	/*
	 * Mainline's advisor caps pages_to_scan at advisor_max_pages_to_scan,
	 * and at least at 10% of its CPU budget (1 page per batch per 1%, a
	 * floor of 10); advisor_min_pages_to_scan is only its starting value.
	 */
	check(pts >= 10 && pts <= max, "pages_to_scan lies within the advisor's limits (%lld, in [10, %lld])",
	      pts, max);

	err = knob_write_str("advisor_mode", "none");
	check(err == 0 && advisor_is("none"), "advisor_mode=none is accepted and shown selected (%s)",
	      strerror(err));
	check(xt_knob("pages_to_scan") == 100, "advisor off: pages_to_scan is back at the default 100 (%lld)",
	      xt_knob("pages_to_scan"));
	err = xt_knob_write("pages_to_scan", 4321);
	check(err == 0, "pages_to_scan can be written again (%s)", strerror(err));
	xt_wait_full_scans(2);
	check(xt_knob("pages_to_scan") == 4321, "and stays as written over 2 full scans (%lld)",
	      xt_knob("pages_to_scan"));

	check(xt_verify(p, N, SEED) == 0, "the data is intact");
	return done();
}
