// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (issue 7): failslab and fail_page_alloc aimed at xksm's
 * allocations and work.  xksm must skip what it cannot do and do it later:
 * never crash, never corrupt or lose data, never leak (the harness's
 * kmemleak scan and slub_debug at rmmod catch leaks), and recover in full
 * once memory is there again.  Only the debug kernel has fault injection
 * (Debian's kernels lack it): elsewhere the test is skipped.
 *
 * Aim: task-filter=Y, and make-it-fail=1 only on xksmd and, around each
 * ioctl, on the worker that calls it; never on the processes' own page
 * faults or forks.  Probability 20%, interval 1, verbose 0 (quiet), space
 * 0, ignore-gfp-wait=N (sleeping allocations fail too), for
 * fail_page_alloc also ignore-gfp-highmem=N (user pages) and min-order 0.
 * "times" starts at a large number and counts down with each failure
 * injected: that is the evidence that failures were injected.
 *
 *  0. A worker W holds NPAIR pairs of identical pages (two mappings a and
 *     b, 2 MiB), registered; it forks a child C that keeps its copy (and
 *     inherits the registration).  xksmd merges everything, at full speed.
 *  1. Phase A: only xksmd fails.  W and C rewrite pairs of pages (CoW of
 *     merged pages; three contents per pair, so pages also merge across
 *     the two processes), unregister (with or without XKSM_KEEP_MERGED)
 *     and register back stretches of a or b, and check their memory.
 *     Failures must be injected (into xksmd: nobody else is marked), and
 *     no ioctl may fail.
 *  2. Phase B: the same, with each ioctl of W and C marked too: they
 *     return 0 or ENOMEM only (include/uapi/linux/xksm.h), and some must
 *     return ENOMEM (registering, or copying merged pages back).
 *  3. Injection off (and smart_scan, see below).  W and C register
 *     everything again; every pair in each process merges within
 *     RECOVER_S s; every page holds what its process last wrote;
 *     unregistering everything (without KEEP_MERGED) succeeds and leaves
 *     every page of both mapped once (/proc/kpagecount: 6.12's KPF_KSM is
 *     set on every anonymous page, so kpageflags cannot tell) and in no
 *     stable node (debugfs stable_tree); pages_shared and pages_sharing
 *     return to 0.  Once both exit, xksm's objects (debugfs "objects")
 *     return to where they were before the test.  If pairs do not merge,
 *     the test says what xksm's debugfs and trace events show of them.
 *  4. xksm's fork probe (fork.c) allocates with GFP_ATOMIC in the forking
 *     task: with /proc/thread-self/fail-nth, the allocations of a fork of
 *     this (registered) process are failed one at a time, from the last,
 *     until one fork's child comes out unregistered (the documented
 *     outcome of the probe failing); that child can register itself.
 *     Before, it maps xksm's KSM page (two twins of this process, merged)
 *     without being registered: madvise(MADV_MERGEABLE) must copy it back
 *     before the kernel's KSM takes the range.
 *  5. kmemleak is still enabled (its metadata allocations fail too; it
 *     must not have given up), so the harness's leak scan means something.
 *
 * Every setting is restored at exit, injection first.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "xksm_test.h"

#define NPAIR		256	/* pages of each of a and b, in W and in C */
#define SEED		0xf17a
#define NSEEDS		3	/* contents of pair i: (SEED + 0..2, i) */
#define PROBABILITY	"20"
#define TIMES		1000000	/* counts down with every failure injected */
#define PHASE_A_S	6
#define PHASE_B_S	14
#define MERGE_S		90	/* first merge, no injection */
#define RECOVER_S	30
#define SETTLE_S	30
#define FORK_SWEEPS	4

#define FAILSLAB	"/sys/kernel/debug/failslab"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc"
#define XKSM_DEBUGFS	"/sys/kernel/debug/xksm"
#define KMEMLEAK	"/sys/kernel/debug/kmemleak"

/* --- fault injection settings, restored at exit ------------------------ */

#define MAX_FI_SAVED	24
static struct { char path[128]; char val[32]; } fi_saved[MAX_FI_SAVED];
static int fi_nr_saved;
static pid_t fi_owner;
static pid_t xksmd_pid;

static int read_str(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static long long fi_read(const char *dir, const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (read_str(path, buf, sizeof(buf)))
		fatal("read %s", path);
	return strtoll(buf, NULL, 0);
}

/* Write a fault injection attribute, its first value saved for exit. */
static void fi_set(const char *dir, const char *name, const char *val)
{
	char path[128];
	int i, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (i = 0; i < fi_nr_saved; i++)
		if (!strcmp(fi_saved[i].path, path))
			break;
	if (i == fi_nr_saved) {
		if (i == MAX_FI_SAVED)
			fatal("too many saved attributes");
		if (read_str(path, fi_saved[i].val, sizeof(fi_saved[i].val)))
			fatal("read %s", path);
		snprintf(fi_saved[i].path, sizeof(fi_saved[i].path), "%s", path);
		fi_nr_saved++;
	}
	err = xt_write_file(path, val);
	if (err) {
		errno = err;
		fatal("write %s to %s", val, path);
	}
}

static int set_make_it_fail(pid_t pid, int on)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/make-it-fail", (int)pid);
	return xt_write_file(path, on ? "1" : "0");
}

/* Injection off at once (probability 0, xksmd unmarked): exit, signals. */
static void fi_off(void)
{
	xt_write_file(FAILSLAB "/probability", "0");
	xt_write_file(FAILPAGE "/probability", "0");
	if (xksmd_pid > 0)
		set_make_it_fail(xksmd_pid, 0);
}

/* At exit, before xt_cleanup's run=2: everything back as it was. */
static void fi_restore(void)
{
	int i;

	if (getpid() != fi_owner)
		return;
	fi_off();
	for (i = fi_nr_saved - 1; i >= 0; i--)
		if (!strstr(fi_saved[i].path, "/probability"))
			xt_write_file(fi_saved[i].path, fi_saved[i].val);
	for (i = 0; i < fi_nr_saved; i++)
		if (strstr(fi_saved[i].path, "/probability"))
			xt_write_file(fi_saved[i].path, fi_saved[i].val);
	fi_nr_saved = 0;
}

static void on_signal(int sig)
{
	if (getpid() == fi_owner)
		fi_off();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Both capabilities aimed and quiet, at @probability ("0": off). */
static void fi_aim(const char *probability, const char *ignore_wait)
{
	static const char *const dirs[] = { FAILSLAB, FAILPAGE };
	char times[32];
	unsigned int i;

	snprintf(times, sizeof(times), "%d", TIMES);
	for (i = 0; i < 2; i++) {
		fi_set(dirs[i], "probability", "0");
		fi_set(dirs[i], "verbose", "0");
		fi_set(dirs[i], "interval", "1");
		fi_set(dirs[i], "space", "0");
		fi_set(dirs[i], "times", times);
		fi_set(dirs[i], "task-filter", "Y");
		fi_set(dirs[i], "ignore-gfp-wait", ignore_wait);
	}
	fi_set(FAILSLAB, "cache-filter", "N");
	fi_set(FAILPAGE, "ignore-gfp-highmem", "N");
	fi_set(FAILPAGE, "min-order", "0");
	for (i = 0; i < 2; i++)
		fi_set(dirs[i], "probability", probability);
}

/* Failures injected since fi_aim(): what "times" counted down. */
static long long fi_injected(const char *dir)
{
	return TIMES - fi_read(dir, "times");
}

/* The pid of the kthread "xksmd", or 0. */
static pid_t find_xksmd(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	if (!d)
		fatal("opendir /proc");
	while (!found && (e = readdir(d))) {
		char path[300], comm[32];

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		if (!read_str(path, comm, sizeof(comm)) && !strcmp(comm, "xksmd"))
			found = atoi(e->d_name);
	}
	closedir(d);
	return found;
}

/* --- the two workers, W and C ------------------------------------------ */

enum { PH_SETUP, PH_A, PH_B, PH_STOP };

struct wstat {
	pid_t pid;
	long iters, writes, verified;
	long ioctls[2];		/* by phase A, B: unregister + register */
	long nomem[2];		/* of which ENOMEM */
	long keep;		/* unregistered with KEEP_MERGED */
	long retries_left;	/* registrations still ENOMEM after retries */
	long bad;		/* other results */
	int bad_errno;
	long corrupt;		/* pages not holding what was last written */
	int child_status;	/* W: C's exit status */
};

struct ctl {
	volatile int phase;
	struct wstat w[2];	/* W, C */
};

static struct ctl *ctl;
static char *a, *b;			/* NPAIR pages each, same address in W and C */
static unsigned char exp_a[NPAIR], exp_b[NPAIR];	/* seed offset last written */
static int mif_fd = -1;			/* this worker's make-it-fail */

static void mark(int on)
{
	if (pwrite(mif_fd, on ? "1" : "0", 1, 0) != 1)
		_exit(100);
}

static void open_mark(void)
{
	mif_fd = open("/proc/thread-self/make-it-fail", O_WRONLY | O_CLOEXEC);
	if (mif_fd < 0)
		_exit(101);
}

static int ioctl_result(struct wstat *s, int ph, int ret, int err)
{
	s->ioctls[ph]++;
	if (ret == 0)
		return 0;
	if (err == ENOMEM) {
		s->nomem[ph]++;
		return ENOMEM;
	}
	s->bad++;
	s->bad_errno = err;
	return err;
}

/* One step of churn; @ph 0 (phase A) or 1 (phase B: ioctls marked). */
static void churn_once(struct wstat *s, unsigned int *rng, int ph)
{
	unsigned int r = rand_r(rng);
	size_t i, j, k;
	char *m;
	int ret, err, tries;
	__u64 flags;

	switch (r % 4) {
	case 0:
	case 1:			/* rewrite pairs: CoW of merged pages */
		i = rand_r(rng) % NPAIR;
		k = 1 + rand_r(rng) % 8;
		for (j = i; j < i + k && j < NPAIR; j++) {
			unsigned char seed = rand_r(rng) % NSEEDS;

			xt_fill_page(a, j, SEED + seed);
			exp_a[j] = seed;
			xt_fill_page(b, j, SEED + seed);
			exp_b[j] = seed;
			s->writes++;
		}
		break;
	case 2:			/* unregister a stretch, register it back */
		m = (r & 16) ? a : b;
		i = rand_r(rng) % NPAIR;
		k = 1 + rand_r(rng) % 32;
		if (i + k > NPAIR)
			k = NPAIR - i;
		flags = rand_r(rng) % 4 ? 0 : XKSM_KEEP_MERGED;
		s->keep += !!flags;
		if (ph)
			mark(1);
		ret = xt_unregister(m + i * XT_PAGE, k * XT_PAGE, flags);
		err = errno;
		if (ph)
			mark(0);
		ioctl_result(s, ph, ret, err);
		for (tries = 0; tries < 5; tries++) {
			if (ph)
				mark(1);
			ret = xt_register(m + i * XT_PAGE, k * XT_PAGE);
			err = errno;
			if (ph)
				mark(0);
			if (ioctl_result(s, ph, ret, err) != ENOMEM)
				break;
		}
		s->retries_left += ret != 0;
		break;
	default:		/* check a stretch */
		i = rand_r(rng) % NPAIR;
		for (j = i; j < i + 32 && j < NPAIR; j++) {
			s->corrupt += !xt_page_ok(a, j, SEED + exp_a[j]);
			s->corrupt += !xt_page_ok(b, j, SEED + exp_b[j]);
			s->verified += 2;
		}
		break;
	}
	s->iters++;
}

static size_t verify_all(void)
{
	size_t i, bad = 0;

	for (i = 0; i < NPAIR; i++) {
		bad += !xt_page_ok(a, i, SEED + exp_a[i]);
		bad += !xt_page_ok(b, i, SEED + exp_b[i]);
	}
	return bad;
}

static int worker_cmd(int cmd, struct wstat *s)
{
	unsigned int rng = (unsigned int)getpid() * 2654435761u;
	size_t bad;
	int ret;

	switch (cmd) {
	case 'l':		/* churn until told to stop */
		while (ctl->phase < PH_STOP) {
			int ph = ctl->phase;

			if (ph == PH_SETUP) {
				xt_msleep(10);
				continue;
			}
			churn_once(s, &rng, ph == PH_B);
			xt_msleep(1);
		}
		return 0;
	case 'r':		/* register everything */
		if (xt_register(a, NPAIR * XT_PAGE) || xt_register(b, NPAIR * XT_PAGE))
			return errno ? errno : 255;
		return 0;
	case 'u':		/* unregister everything, unmerging */
		if (xt_unregister(a, NPAIR * XT_PAGE, 0) ||
		    xt_unregister(b, NPAIR * XT_PAGE, 0))
			return errno ? errno : 255;
		return 0;
	case 'v':		/* every page as last written */
		bad = verify_all();
		s->corrupt += bad;
		return bad > 254 ? 254 : bad;
	}
	ret = 255;
	return ret;
}

/* Serve commands from @cmd_fd, answers on @ans_fd, until EOF. */
static void __attribute__((noreturn)) worker_serve(int cmd_fd, int ans_fd, struct wstat *s,
						  pid_t child)
{
	unsigned char c;
	int status;

	while (xt_child_read(cmd_fd, &c, -1) == 0) {
		c = worker_cmd(c, s);
		fflush(stdout);
		if (write(ans_fd, &c, 1) != 1)
			break;
	}
	if (child > 0 && waitpid(child, &status, 0) == child)
		s->child_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	_exit(0);
}

struct wpipes {
	int cmd[2];		/* main writes [1], the worker reads [0] */
	int ans[2];		/* the worker writes [1], main reads [0] */
};

static void wpipes_make(struct wpipes *p)
{
	if (pipe2(p->cmd, O_CLOEXEC) || pipe2(p->ans, O_CLOEXEC))
		fatal("pipe");
}

/*
 * W: fill and register a and b, fork C (which keeps its copy and its own
 * expectations), then serve.  C serves on its own pipes.
 */
static void __attribute__((noreturn)) worker_w(struct wpipes *pw, struct wpipes *pc)
{
	pid_t c;

	close(pw->cmd[1]);
	close(pw->ans[0]);
	ctl->w[0].pid = getpid();
	xt_fill(a, NPAIR, SEED);
	xt_fill(b, NPAIR, SEED);
	if (xt_register(a, NPAIR * XT_PAGE) || xt_register(b, NPAIR * XT_PAGE))
		_exit(102);
	c = fork();
	if (c < 0)
		_exit(103);
	if (c == 0) {
		close(pw->cmd[0]);
		close(pw->ans[1]);
		close(pc->cmd[1]);
		close(pc->ans[0]);
		ctl->w[1].pid = getpid();
		open_mark();
		worker_serve(pc->cmd[0], pc->ans[1], &ctl->w[1], 0);
	}
	close(pc->cmd[0]);
	close(pc->ans[1]);
	close(pc->cmd[1]);
	close(pc->ans[0]);
	open_mark();
	worker_serve(pw->cmd[0], pw->ans[1], &ctl->w[0], c);
}

/* main's end of a worker: send a command, or read an answer. */
struct wend {
	int cmd_fd, ans_fd;
	const char *name;
};

static void send_cmd(struct wend *w, int cmd)
{
	unsigned char c = cmd;

	if (write(w->cmd_fd, &c, 1) != 1)
		fatal("command %c to %s", cmd, w->name);
}

static int read_ans(struct wend *w, int timeout_s)
{
	unsigned char c;

	if (xt_child_read(w->ans_fd, &c, timeout_s))
		return -1;
	return c;
}

static int cmd(struct wend *w, int c)
{
	send_cmd(w, c);
	return read_ans(w, XT_TIMEOUT_S);
}

/* --- what main looks at ------------------------------------------------ */

static int kpc_fd = -1;

/* How many pairs (a + i, b + i) of process pid share a PFN. */
static size_t same_pfn(pid_t pid)
{
	unsigned long pa[NPAIR], pb[NPAIR];
	size_t i, n = 0;

	xt_pfns_pid(pid, a, NPAIR, pa);
	xt_pfns_pid(pid, b, NPAIR, pb);
	for (i = 0; i < NPAIR; i++)
		n += pa[i] && pa[i] == pb[i];
	return n;
}

/* /proc/kpagecount of a page frame: its mappings. */
static uint64_t pfn_count(unsigned long pfn)
{
	uint64_t n;

	if (pread(kpc_fd, &n, sizeof(n), pfn * sizeof(n)) != sizeof(n))
		fatal("read /proc/kpagecount");
	return n;
}

/* The PFNs of a and b in W and C: pfn[0..3][i] W a, W b, C a, C b. */
static void read_all_pfns(pid_t w, pid_t c, unsigned long pfn[4][NPAIR])
{
	xt_pfns_pid(w, a, NPAIR, pfn[0]);
	xt_pfns_pid(w, b, NPAIR, pfn[1]);
	xt_pfns_pid(c, a, NPAIR, pfn[2]);
	xt_pfns_pid(c, b, NPAIR, pfn[3]);
}

/*
 * Pages of W and C not mapped exactly once: merged, shared since the fork,
 * or missing.
 */
static size_t count_shared_pages(pid_t w, pid_t c)
{
	static unsigned long pfn[4][NPAIR];
	size_t i, n = 0;
	int p;

	read_all_pfns(w, c, pfn);
	for (p = 0; p < 4; p++)
		for (i = 0; i < NPAIR; i++)
			n += !pfn[p][i] || pfn_count(pfn[p][i]) != 1;
	return n;
}

/* Pages of W and C whose PFN is a stable node's kpfn in debugfs. */
static long count_in_stable_tree(pid_t w, pid_t c)
{
	static unsigned long pfn[4][NPAIR];
	char *tree = xt_read_all(XKSM_DEBUGFS "/stable_tree", 4096), key[48];
	size_t i;
	long n = 0;
	int p;

	if (!tree)
		return -1;
	read_all_pfns(w, c, pfn);
	for (p = 0; p < 4; p++)
		for (i = 0; i < NPAIR; i++) {
			snprintf(key, sizeof(key), " kpfn %lu ", pfn[p][i]);
			n += !!strstr(tree, key);
		}
	free(tree);
	return n;
}

/* --- when a pair does not merge: what is going on -------------------------- */

#define TRACING		"/sys/kernel/debug/tracing"

static unsigned long pfn_before[4][NPAIR];
static char *tree_before;

/* Empty the trace buffer: "trace" opened for writing, truncated. */
static void clear_trace(void)
{
	int fd = open(TRACING "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
}

/* Is page i of mapping p (0..3: W a, W b, C a, C b) in a pair left unmerged? */
static int stuck(unsigned long pfn[4][NPAIR], int p, size_t i)
{
	int q = p & ~1;

	return pfn[q][i] != pfn[q + 1][i];
}

/*
 * With xksmd running and nobody writing: do the pages of the pairs left
 * unmerged keep moving (merged, then copied back, pass after pass)?  And
 * what do xksm's merge events say about the first such pair, for a second?
 */
static void diagnose_running(pid_t w, pid_t c)
{
	static unsigned long t0[4][NPAIR], t1[4][NPAIR];
	char *trace, *line, *save, key[2][40];
	size_t i, first = NPAIR, pages = 0, moved = 0, shown = 0;
	int p, first_p = 0;

	read_all_pfns(w, c, t0);
	xt_msleep(2000);
	read_all_pfns(w, c, t1);
	for (p = 0; p < 4; p++)
		for (i = 0; i < NPAIR; i++) {
			if (!stuck(t0, p, i))
				continue;
			pages++;
			moved += t0[p][i] != t1[p][i];
			if (i < first) {
				first = i;
				first_p = p;
			}
		}
	xt_note("of the %zu pages of pairs left unmerged, %zu moved to a new page frame in 2 s "
		"with nobody writing: xksmd merged and copied them back", pages, moved);
	if (first == NPAIR)
		return;
	snprintf(key[0], sizeof(key[0]), "addr %p ", a + first * XT_PAGE);
	snprintf(key[1], sizeof(key[1]), "addr %p ", b + first * XT_PAGE);
	xt_note("xksm's events for %s pair %zu (addresses %p, %p) over 1 s:",
		first_p < 2 ? "W" : "C", first, a + first * XT_PAGE, b + first * XT_PAGE);
	clear_trace();
	if (xt_write_file(TRACING "/events/xksm/xksm_merge_one_page/enable", "1") ||
	    xt_write_file(TRACING "/events/xksm/xksm_merge_with_ksm_page/enable", "1") ||
	    xt_write_file(TRACING "/events/xksm/xksm_unmerge/enable", "1")) {
		xt_note("cannot enable xksm's trace events under %s", TRACING);
	} else {
		xt_msleep(1000);
	}
	xt_write_file(TRACING "/events/xksm/enable", "0");
	trace = xt_read_all(TRACING "/trace", 4096);
	for (line = trace ? strtok_r(trace, "\n", &save) : NULL; line && shown < 24;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, key[0]) || strstr(line, key[1])) {
			printf("#   %s\n", line);
			shown++;
		}
	free(trace);
	clear_trace();
}

/* Before unregistering, with xksmd stopped: where every page is. */
static void diagnose_before(pid_t w, pid_t c)
{
	xt_knob_set("run", 0);
	read_all_pfns(w, c, pfn_before);
	tree_before = xt_read_all(XKSM_DEBUGFS "/stable_tree", 4096);
}

/*
 * After unregistering: the pages of pairs left unmerged that the unmerge
 * copied were KSM pages; those whose page frame no stable node had are
 * KSM pages outside the stable tree, which nothing can merge any more.
 */
static void diagnose_after(pid_t w, pid_t c)
{
	static unsigned long after[4][NPAIR];
	size_t i, pages = 0, copied = 0, orphans = 0;
	char key[48];
	int p;

	read_all_pfns(w, c, after);
	for (p = 0; p < 4; p++)
		for (i = 0; i < NPAIR; i++) {
			if (!stuck(pfn_before, p, i))
				continue;
			pages++;
			if (pfn_before[p][i] == after[p][i])
				continue;
			copied++;
			snprintf(key, sizeof(key), " kpfn %lu ", pfn_before[p][i]);
			if (tree_before && strstr(tree_before, key))
				continue;
			orphans++;
			if (orphans <= 6)
				xt_note("%s %c page %zu: pfn %lu, a KSM page of no stable node",
					p < 2 ? "W" : "C", p & 1 ? 'b' : 'a', i, pfn_before[p][i]);
		}
	xt_note("of the %zu pages of pairs left unmerged, unregistering copied %zu (KSM pages); "
		"%zu of them were in no stable node", pages, copied, orphans);
	free(tree_before);
	tree_before = NULL;
	xt_knob_set("run", 1);
}

/* xksm's counters when pairs did not merge. */
static void dump_state(pid_t w, pid_t c)
{
	static const char *const knobs[] = { "pages_shared", "pages_sharing", "pages_unshared",
		"pages_volatile", "full_scans", "deferred_rmap_items", "stable_node_chains" };
	char *f, *line, *save;
	unsigned int k;

	for (k = 0; k < sizeof(knobs) / sizeof(knobs[0]); k++)
		xt_note("%s %lld", knobs[k], xt_knob(knobs[k]));
	xt_note("W pid %d: %zu pairs merged; C pid %d: %zu", (int)w, same_pfn(w), (int)c,
		same_pfn(c));
	f = xt_read_all(XKSM_DEBUGFS "/objects", 4096);
	for (line = f ? strtok_r(f, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		xt_note("%s", line);
	free(f);
	fflush(stdout);
}

struct objects {
	long rmap_items, stable_nodes, mm_slots;
};

static int read_objects(struct objects *o)
{
	char buf[512], *p;
	int fd = open(XKSM_DEBUGFS "/objects", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	o->rmap_items = o->stable_nodes = o->mm_slots = -1;
	if ((p = strstr(buf, "xksm_rmap_item ")))
		o->rmap_items = strtol(p + 15, NULL, 10);
	if ((p = strstr(buf, "xksm_stable_node ")))
		o->stable_nodes = strtol(p + 17, NULL, 10);
	if ((p = strstr(buf, "xksm_mm_slot ")))
		o->mm_slots = strtol(p + 13, NULL, 10);
	return o->rmap_items < 0 || o->stable_nodes < 0 || o->mm_slots < 0 ? -1 : 0;
}

/* Pairs merged in W and C together. */
static size_t pairs_merged(pid_t w, pid_t c)
{
	return same_pfn(w) + same_pfn(c);
}

/* --- the fork probe, failed on purpose (fail-nth) ------------------------ */

static char *keep;	/* main's registered page */
static char *twins;	/* main's two pages merged into one KSM page */
static unsigned long twins_kpfn;	/* that page */

/*
 * In a child: 0 inherited the registration, 1 not but registers itself.
 * Unregistered, it still maps xksm's KSM page (the twins): madvise
 * MADV_MERGEABLE must first copy it back (ksm_coexist.c), or the kernel's
 * ksmd would take it for its own: 5 if not (6, 7: the twins were not
 * mapped as merged, the madvise failed).
 */
static void __attribute__((noreturn)) fork_child(void)
{
	struct xksm_stats st;

	if (xt_stats(&st))
		_exit(3);
	if (st.mergeable)
		_exit(0);
	if (xt_pfn(twins) != twins_kpfn)
		_exit(6);
	if (madvise(twins, 2 * XT_PAGE, MADV_MERGEABLE))
		_exit(7);
	if (xt_pfn(twins) == twins_kpfn)
		_exit(5);
	if (madvise(twins, 2 * XT_PAGE, MADV_UNMERGEABLE))
		_exit(7);
	if (st.registered_bytes || xt_register(keep, XT_PAGE))
		_exit(2);
	if (xt_stats(&st) || st.registered_bytes != XT_PAGE)
		_exit(4);
	_exit(1);
}

/*
 * Fork with the n-th fault-injection point of this task failed.  Returns
 * the child's status (as fork_child()), -1 if fork itself failed; *left is
 * what fail-nth reads after: 0 once the failure was injected.
 */
static int fork_nth(int nth_fd, unsigned int n, unsigned int *left)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n), status;
	ssize_t r;
	pid_t pid;

	fflush(stdout);
	if (pwrite(nth_fd, buf, len, 0) != len)
		fatal("write fail-nth");
	pid = fork();
	if (pid == 0)
		fork_child();
	r = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (pwrite(nth_fd, "0", 1, 0) != 1 || r <= 0)
		fatal("fail-nth");
	buf[r] = 0;
	*left = strtoul(buf, NULL, 10);
	if (pid < 0)
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -2;
	return WEXITSTATUS(status);
}

static void fork_probe_section(void)
{
	unsigned int big = 100000, left, points, n, sweep;
	int nth_fd, st, found = 0, failed = 0, fewer = 0, kept = 0;

	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0) {
		check(0, "open /proc/thread-self/fail-nth (%s)", strerror(errno));
		return;
	}
	/*
	 * Only non-sleeping slab allocations (the probe's GFP_ATOMIC kmalloc
	 * is one): no page allocation counts (min-order beyond the largest).
	 */
	/* Two registered twins, merged, for the children to map. */
	twins = xt_map(2);
	xt_fill(twins, 1, SEED + 101);
	xt_fill(twins + XT_PAGE, 1, SEED + 101);
	xt_register_or_die(twins, 2 * XT_PAGE);
	for (n = 0; n < 300 && (!xt_pfn(twins) || xt_pfn(twins) != xt_pfn(twins + XT_PAGE)); n++)
		xt_msleep(100);
	twins_kpfn = xt_pfn(twins);
	if (!check(twins_kpfn && twins_kpfn == xt_pfn(twins + XT_PAGE),
		   "the twins merged before the forks (PFN %#lx, %#lx)", twins_kpfn,
		   xt_pfn(twins + XT_PAGE)))
		return;

	fi_aim("0", "Y");
	fi_set(FAILPAGE, "min-order", "11");
	st = fork_nth(nth_fd, big, &left);
	points = big - left;
	check(st == 0, "a fork with nothing failed registers its child (status %d)", st);
	xt_note("a fork of this process passes %u fault-injection points", points);
	/*
	 * From the last point down: the probe comes late in fork.  The count
	 * varies a little from fork to fork (a slab refilled, a stack saved),
	 * so sweep a few times.
	 */
	for (sweep = 0; sweep < FORK_SWEEPS && !found; sweep++)
		for (n = points + 2; n >= 1 && !found; n--) {
			st = fork_nth(nth_fd, n, &left);
			if (st == -1)
				failed++;	/* an allocation of fork itself */
			else if (left != 0)
				fewer++;	/* fewer points this time */
			else if (st == 1)
				found = n;
			else if (st == 0)
				kept++;		/* something else failed, tolerated */
			else if (st == 5)
				check(0, "the unregistered child of a fork with point %u: "
				      "madvise(MADV_MERGEABLE) left it mapping xksm's KSM page", n);
			else
				check(0, "the child of a fork with point %u failed exits %d", n, st);
		}
	xt_note("forks: %d failed, %d passed fewer points, %d had another point fail", failed,
		fewer, kept);
	check(found, "failing a fork's allocations one by one, xksm's fork probe fails once "
	      "(point %u): the child starts unregistered, as documented, and registers itself",
	      found);
	close(nth_fd);
}

/* --- main ---------------------------------------------------------------- */

int main(void)
{
	struct wpipes pw, pc;
	struct wend ww = { .name = "W" }, wc = { .name = "C" };
	struct objects base, now;
	long long inj_slab_a, inj_page_a, inj_slab_b, inj_page_b;
	long long shared, sharing;
	pid_t wpid, cpid;
	int ret, status, i, have_objects;
	double t0, t;
	size_t merged, ksm;
	long long scans;
	long stable;
	long nomem_a, nomem_b, ioctls_b;

	if (access(FAILSLAB, F_OK) || access(FAILPAGE, F_OK))
		skip("no fault injection in this kernel (%s, %s)", FAILSLAB, FAILPAGE);
	if (xt_backend_ksm())
		skip("xksm only");
	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS | XKSM_FEATURE_KEEP_MERGED,
		   "MERGE, STATS and KEEP_MERGED");
	kpc_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
	if (kpc_fd < 0)
		skip("no /proc/kpagecount");
	xksmd_pid = find_xksmd();
	if (!check(xksmd_pid > 0, "xksmd runs (pid %d)", (int)xksmd_pid))
		return done();

	xt_unmerge_all();		/* clean start; installs xt_cleanup */
	fi_owner = getpid();
	atexit(fi_restore);		/* runs before xt_cleanup */
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	have_objects = read_objects(&base) == 0;

	/* xksmd only scans while something is registered: keep a page. */
	keep = xt_map(1);
	xt_fill(keep, 1, SEED + 100);
	xt_register_or_die(keep, XT_PAGE);

	ctl = xt_map_shared(1);
	a = xt_map(NPAIR);
	b = xt_map(NPAIR);
	xt_dev();			/* opened before the workers fork */
	wpipes_make(&pw);
	wpipes_make(&pc);
	wpid = xt_fork();
	if (wpid == 0)
		worker_w(&pw, &pc);
	close(pw.cmd[0]);
	close(pw.ans[1]);
	close(pc.cmd[0]);
	close(pc.ans[1]);
	ww.cmd_fd = pw.cmd[1];
	ww.ans_fd = pw.ans[0];
	wc.cmd_fd = pc.cmd[1];
	wc.ans_fd = pc.ans[0];

	/* Up when C answers (W forks it after registering). */
	ret = cmd(&wc, 'v');
	if (!check(ret == 0, "W registers %d twin pages and forks C, which keeps its copy (%d)",
		   2 * NPAIR, ret))
		return done();
	cpid = ctl->w[1].pid;

	/* 0. Everything merges, without injection. */
	xt_start_fast();
	t0 = xt_now();
	while ((merged = pairs_merged(wpid, cpid)) < 2 * NPAIR && xt_now() < t0 + MERGE_S)
		xt_msleep(200);
	check(merged == 2 * NPAIR, "before injection, every pair merges in W and C (%zu of %d, %.1f s)",
	      merged, 2 * NPAIR, xt_now() - t0);

	/* 1. Phase A: only xksmd fails. */
	fi_aim(PROBABILITY, "N");
	if (set_make_it_fail(xksmd_pid, 1))
		fatal("make-it-fail on xksmd");
	send_cmd(&ww, 'l');
	send_cmd(&wc, 'l');
	ctl->phase = PH_A;
	xt_msleep(PHASE_A_S * 1000);
	inj_slab_a = fi_injected(FAILSLAB);
	inj_page_a = fi_injected(FAILPAGE);

	/* 2. Phase B: and the ioctls of W and C. */
	ctl->phase = PH_B;
	xt_msleep(PHASE_B_S * 1000);
	ctl->phase = PH_STOP;
	ret = read_ans(&ww, XT_TIMEOUT_S);
	i = read_ans(&wc, XT_TIMEOUT_S);
	fi_off();
	inj_slab_b = fi_injected(FAILSLAB) - inj_slab_a;
	inj_page_b = fi_injected(FAILPAGE) - inj_page_a;
	check(ret == 0 && i == 0, "W and C churn through both phases (%d, %d)", ret, i);

	for (i = 0; i < 2; i++) {
		struct wstat *s = &ctl->w[i];

		xt_note("%s: %ld steps, %ld pages written, %ld checked; ioctls A %ld (ENOMEM %ld), "
			"B %ld (ENOMEM %ld), %ld with KEEP_MERGED, %ld ranges left unregistered",
			i ? "C" : "W", s->iters, s->writes, s->verified, s->ioctls[0], s->nomem[0],
			s->ioctls[1], s->nomem[1], s->keep, s->retries_left);
	}
	xt_note("failures injected: phase A (xksmd only) failslab %lld, fail_page_alloc %lld; "
		"phase B (xksmd and the ioctls) failslab %lld, fail_page_alloc %lld",
		inj_slab_a, inj_page_a, inj_slab_b, inj_page_b);
	nomem_a = ctl->w[0].nomem[0] + ctl->w[1].nomem[0];
	nomem_b = ctl->w[0].nomem[1] + ctl->w[1].nomem[1];
	ioctls_b = ctl->w[0].ioctls[1] + ctl->w[1].ioctls[1];
	check(inj_slab_a + inj_page_a > 0,
	      "phase A: failures were injected into xksmd's work (%lld slab, %lld page)",
	      inj_slab_a, inj_page_a);
	check(fi_read(FAILSLAB, "times") > 0 && fi_read(FAILPAGE, "times") > 0,
	      "injection never ran out of its %d failures", TIMES);
	check(nomem_a == 0, "phase A: no ioctl of the unmarked workers fails (%ld ENOMEM)", nomem_a);
	check(nomem_b > 0 && nomem_b < ioctls_b,
	      "phase B: ioctls fail with ENOMEM under injection, and others succeed (%ld of %ld)",
	      nomem_b, ioctls_b);
	check(ctl->w[0].bad + ctl->w[1].bad == 0,
	      "no ioctl returns anything but 0 or ENOMEM (%ld, %ld; last errno %s)",
	      ctl->w[0].bad, ctl->w[1].bad,
	      strerror(ctl->w[0].bad_errno ? ctl->w[0].bad_errno : ctl->w[1].bad_errno));
	check(ctl->w[0].corrupt + ctl->w[1].corrupt == 0,
	      "under injection, every page checked holds what its process wrote (%ld, %ld bad)",
	      ctl->w[0].corrupt, ctl->w[1].corrupt);

	/*
	 * 3. Recovery, with injection off, and smart_scan off: with it, the
	 * churn alone (no injection at all) leaves pairs unmerged for good.
	 * A page that failed to merge on several passes is looked at only
	 * every 2nd..9th pass (xksm_skip_age(), as mainline's skip_age()),
	 * and the two pages of a pair whose skip schedules are out of phase
	 * are never in the same pass's unstable tree together.
	 */
	xt_knob_set_saved("smart_scan", 0);
	ret = cmd(&ww, 'r');
	i = cmd(&wc, 'r');
	check(ret == 0 && i == 0, "with injection off, W and C register everything again (%s, %s)",
	      strerror(ret), strerror(i));
	t0 = xt_now();
	scans = xt_knob("full_scans");
	while ((merged = pairs_merged(wpid, cpid)) < 2 * NPAIR && xt_now() < t0 + RECOVER_S)
		xt_msleep(200);
	if (!check(merged == 2 * NPAIR,
		   "xksm recovers: every pair merges again in W and C (%zu of %d, %.1f s, %lld full scans)",
		   merged, 2 * NPAIR, xt_now() - t0, xt_knob("full_scans") - scans)) {
		dump_state(wpid, cpid);
		diagnose_running(wpid, cpid);
	}
	ret = cmd(&ww, 'v');
	i = cmd(&wc, 'v');
	check(ret == 0 && i == 0, "every page of W and C holds what its process last wrote (%d, %d bad)",
	      ret, i);

	if (merged < 2 * NPAIR)
		diagnose_before(wpid, cpid);
	ret = cmd(&ww, 'u');
	i = cmd(&wc, 'u');
	check(ret == 0 && i == 0, "W and C unregister everything, unmerging (%s, %s)",
	      strerror(ret), strerror(i));
	if (merged < 2 * NPAIR)
		diagnose_after(wpid, cpid);
	ksm = count_shared_pages(wpid, cpid);
	check(ksm == 0, "every page of W and C is its own again: mapped once (%zu are not)", ksm);
	stable = count_in_stable_tree(wpid, cpid);
	check(stable == 0, "no page of W or C is a stable node's page (%ld are)", stable);
	t0 = xt_now();
	do {
		shared = xt_knob("pages_shared");
		sharing = xt_knob("pages_sharing");
		if (!shared && !sharing)
			break;
		xt_msleep(100);
	} while (xt_now() < t0 + SETTLE_S);
	check(shared == 0 && sharing == 0, "pages_shared and pages_sharing return to 0 (%lld, %lld)",
	      shared, sharing);
	ret = cmd(&ww, 'v');
	i = cmd(&wc, 'v');
	check(ret == 0 && i == 0, "unmerged, every page still holds its data (%d, %d bad)", ret, i);

	close(wc.cmd_fd);
	close(wc.ans_fd);
	close(ww.cmd_fd);
	close(ww.ans_fd);
	ret = waitpid(wpid, &status, 0) == wpid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	check(ret == 0 && ctl->w[0].child_status == 0, "W and C exit cleanly (%d, %d)", ret,
	      ctl->w[0].child_status);

	if (have_objects) {
		t0 = xt_now();
		do {
			t = xt_now();
			if (read_objects(&now))
				break;
			if (now.rmap_items <= base.rmap_items + 1 &&
			    now.stable_nodes <= base.stable_nodes &&
			    now.mm_slots <= base.mm_slots + 1)
				break;
			xt_msleep(200);
		} while (t < t0 + SETTLE_S);
		check(now.rmap_items <= base.rmap_items + 1 && now.stable_nodes <= base.stable_nodes &&
		      now.mm_slots <= base.mm_slots + 1,
		      "xksm's objects return to where they were, but for this process's page: "
		      "rmap_items %ld (was %ld), stable nodes %ld (was %ld), mm_slots %ld (was %ld)",
		      now.rmap_items, base.rmap_items, now.stable_nodes, base.stable_nodes,
		      now.mm_slots, base.mm_slots);
	} else {
		xt_note("no %s/objects: xksm's object counts not checked", XKSM_DEBUGFS);
	}

	/* 4. The fork probe. */
	fork_probe_section();

	/* 5. kmemleak gave up if it could not allocate its metadata. */
	fi_restore();
	if (access(KMEMLEAK, W_OK) == 0) {
		ret = xt_write_file(KMEMLEAK, "stack=on");	/* its default: no change */
		check(ret == 0, "kmemleak is still enabled after the injection (%s)",
		      ret ? strerror(ret) : "yes");
	} else {
		xt_note("no kmemleak in this kernel");
	}
	return done();
}
