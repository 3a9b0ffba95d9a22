// SPDX-License-Identifier: GPL-2.0
/*
 * XKSM_PIDFD: every command acting on another process, named by a pidfd,
 * allowed as process_madvise(2) is.
 *
 * Allowed: root opens pidfds of two children A and B that filled the same
 * pages but registered nothing, and registers their ranges with
 * XKSM_IOC_MERGEABLE + XKSM_PIDFD: its own mm stays unregistered, and after
 * full scans A's and B's pages share PFNs.  XKSM_IOC_STATS through A's
 * pidfd equals what A reads itself.  XKSM_IOC_UNMERGEABLE through the pidfd
 * breaks A's pages at once, and A finds its data intact.  Merge-any set
 * through the pidfds reads back as 1 through them (and in the children
 * themselves, not in the caller), merges A and B, and turned off through A's
 * pidfd unmerges A at once.
 *
 * Refused (EPERM, and the target unchanged): a caller of uid 1000 on a
 * root process; a caller of uid 1000 without CAP_SYS_NICE on another
 * process of its own uid.  On its own pidfd the same caller is allowed
 * from 6.12 on, refused before (the kernel version decides what to expect).
 * A caller of uid 1000 with CAP_SYS_NICE alone is allowed on the uid-1000
 * process (so the refusal above was the capability's) and refused on the
 * root one (the ptrace check's).
 *
 * Exited and bad descriptors: the pidfd of a child that exited and was
 * reaped, or of a zombie, is ESRCH; a regular file, -1, an fd number never
 * opened, and a pidfd number with bits above 32 are EBADF; a pidfd without
 * XKSM_PIDFD is EINVAL and acts on nobody.
 *
 * Identity: under merge_scope "uid", a uid-1000 process registered by root
 * through its pidfd reports domain 1000 (its own uid, not root's 0), merges
 * with another uid-1000 process registered so, and not with root's pages of
 * the same contents.
 *
 * The test re-executes itself through /tests/helper_as_user as uid 1000 in
 * two roles: "target" (a process with N filled pages that waits) and
 * "user" (the unprivileged caller; its checks print here, and its exit
 * status is one more check).
 */
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "xksm_test.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

#define N		32
#define SEED		0x6b2f
#define USER_UID	1000
#define CMD_FD		10	/* a target role's commands */
#define ANS_FD		11	/* and its answers */

static char self_path[PATH_MAX], helper_path[PATH_MAX + 32];

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* --- the ioctls, with any flags and pidfd field ------------------------- */

static int range_ioc(unsigned long cmd, __u64 flags, __u64 pidfd, const void *addr, size_t len)
{
	struct xksm_range r = {
		.start = (uintptr_t)addr, .len = len, .flags = flags, .pidfd = pidfd,
	};

	return ioctl(xt_dev(), cmd, &r);
}

static int set_ma_ioc(__u64 flags, __u64 pidfd, __u64 enable)
{
	struct xksm_merge_any m = { .enable = enable, .flags = flags, .pidfd = pidfd };

	return ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &m);
}

/* GET_MERGE_ANY: the setting, or -1 with errno. */
static long long get_ma_ioc(__u64 flags, __u64 pidfd)
{
	struct xksm_merge_any m = { .flags = flags, .pidfd = pidfd };

	if (ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &m))
		return -1;
	return m.enable;
}

static int stats_ioc(__u64 flags, __u64 pidfd, struct xksm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->flags = flags;
	st->pidfd = pidfd;
	return ioctl(xt_dev(), XKSM_IOC_STATS, st);
}

/* Through a pidfd (XKSM_PIDFD). */
static int pf_register(int pidfd, const void *addr, size_t len)
{
	return range_ioc(XKSM_IOC_MERGEABLE, XKSM_PIDFD, pidfd, addr, len);
}

static int pf_unregister(int pidfd, const void *addr, size_t len)
{
	return range_ioc(XKSM_IOC_UNMERGEABLE, XKSM_PIDFD, pidfd, addr, len);
}

static int pf_stats(int pidfd, struct xksm_stats *st)
{
	return stats_ioc(XKSM_PIDFD, pidfd, st);
}

/* The statistics through a pidfd, or the test ends. */
static struct xksm_stats pf_stats_or_die(int pidfd, const char *whose)
{
	struct xksm_stats st;

	if (pf_stats(pidfd, &st))
		fatal("XKSM_IOC_STATS through the pidfd of %s", whose);
	return st;
}

/* The caller's own statistics, without a pidfd. */
static struct xksm_stats own_stats(void)
{
	struct xksm_stats st;

	if (stats_ioc(0, 0, &st))
		fatal("XKSM_IOC_STATS of the caller");
	return st;
}

static const char *const cmd_names[] = {
	"MERGEABLE", "UNMERGEABLE", "SET_MERGE_ANY", "GET_MERGE_ANY", "STATS",
};

/*
 * Each of the five commands with the given flags and pidfd field, on
 * [addr, addr + N pages) for the ranges and enable=1 for SET_MERGE_ANY:
 * each must fail with errno want.
 */
static void all_fail(__u64 flags, __u64 pidfd, const void *addr, int want, const char *what)
{
	struct xksm_stats st;
	int i, ret = 0;
	char desc[192];

	for (i = 0; i < 5; i++) {
		switch (i) {
		case 0:
			ret = range_ioc(XKSM_IOC_MERGEABLE, flags, pidfd, addr, N * XT_PAGE);
			break;
		case 1:
			ret = range_ioc(XKSM_IOC_UNMERGEABLE, flags, pidfd, addr, N * XT_PAGE);
			break;
		case 2:
			ret = set_ma_ioc(flags, pidfd, 1);
			break;
		case 3:
			ret = get_ma_ioc(flags, pidfd) < 0 ? -1 : 0;
			break;
		case 4:
			ret = stats_ioc(flags, pidfd, &st);
			break;
		}
		snprintf(desc, sizeof(desc), "%s: XKSM_IOC_%s", what, cmd_names[i]);
		check(ret == -1 && errno == want, "%s fails with %s (got ret %d, %s)", desc,
		      strerrorname_np(want), ret, ret == -1 ? strerror(errno) : "no error");
	}
}

/* Nothing registered, no merge-any: the state a refused call must leave. */
static void check_untouched(const struct xksm_stats *st, const char *whose)
{
	check(st->registered_bytes == 0 && st->mergeable == 0 && st->merge_any == 0 &&
	      st->merging_pages == 0,
	      "%s: nothing registered (registered_bytes %llu, mergeable %llu, merge_any %llu, "
	      "merging_pages %llu)", whose, (unsigned long long)st->registered_bytes,
	      (unsigned long long)st->mergeable, (unsigned long long)st->merge_any,
	      (unsigned long long)st->merging_pages);
}

/* From 6.12 on, a pidfd of the caller itself needs no CAP_SYS_NICE. */
static int self_needs_no_cap(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &maj, &min) != 2)
		fatal("uname");
	return maj > 6 || (maj == 6 && min >= 12);
}

/* --- forked root children: A, B, T -------------------------------------- */

static char *buf;			/* N pages, untouched by the parent */
static struct xksm_stats *child_st;	/* shared: a child's own statistics */

static int child(int cmd, void *arg)
{
	unsigned int seed = (uintptr_t)arg;
	size_t bad;

	switch (cmd) {
	case 0:		/* set-up: fill, register nothing */
		xt_fill(buf, N, seed);
		return 0;
	case 'v':
		bad = xt_verify(buf, N, seed);
		return bad > 254 ? 254 : bad;
	case 's':
		return xt_stats(child_st) ? 255 : 0;
	case 'g': {
		long long v = xt_get_merge_any();

		return v < 0 ? 255 : v;
	}
	}
	return 255;
}

/* --- roles run as uid 1000 ---------------------------------------------- */

/* A process with N pages of seed: sends their address, then serves 'v'. */
static int target_main(unsigned int seed)
{
	char *p = xt_map(N);
	unsigned char c;

	xt_fill(p, N, seed);
	if (write(ANS_FD, &p, sizeof(p)) != sizeof(p))
		return 1;
	while (read(CMD_FD, &c, 1) == 1) {
		size_t bad = xt_verify(p, N, seed);

		c = bad > 254 ? 254 : bad;
		if (write(ANS_FD, &c, 1) != 1)
			return 1;
	}
	return 0;
}

/*
 * The unprivileged caller: everything on the target's pidfd is EPERM; with
 * self, the same on its own pidfd: allowed from 6.12 on, EPERM before.
 */
static int user_main(pid_t target, char *addr, int self)
{
	struct xksm_stats st;
	char *mine;
	int pidfd, ret;

	check(getuid() == USER_UID && geteuid() == USER_UID,
	      "uid %d: the unprivileged caller runs as uid %d (uid %d, euid %d)", USER_UID,
	      USER_UID, (int)getuid(), (int)geteuid());
	pidfd = pidfd_open(target);
	if (pidfd < 0)
		fatal("uid %d: pidfd_open(%d)", USER_UID, (int)target);
	all_fail(XKSM_PIDFD, pidfd, addr, EPERM, "uid 1000 on the target's pidfd");
	close(pidfd);
	if (!self)
		return done();

	mine = xt_map(N);
	xt_fill(mine, N, SEED + 7);
	pidfd = pidfd_open(getpid());
	if (pidfd < 0)
		fatal("uid %d: pidfd_open(self)", USER_UID);
	if (!self_needs_no_cap()) {
		xt_note("before 6.12: the caller's own pidfd needs CAP_SYS_NICE too");
		all_fail(XKSM_PIDFD, pidfd, mine, EPERM, "uid 1000 on its own pidfd (before 6.12)");
		st = own_stats();
		check_untouched(&st, "uid 1000, after the refused calls on its own pidfd");
		return done();
	}

	xt_note("6.12 on: the caller's own pidfd needs no CAP_SYS_NICE");
	ret = pf_register(pidfd, mine, N * XT_PAGE);
	check(ret == 0, "uid 1000: MERGEABLE on its own pidfd succeeds (%s)",
	      ret ? strerror(errno) : "ok");
	st = own_stats();
	check(st.registered_bytes == N * XT_PAGE && st.mergeable == 1,
	      "uid 1000: its own statistics then show %lu bytes registered (%llu, mergeable %llu)",
	      N * XT_PAGE, (unsigned long long)st.registered_bytes,
	      (unsigned long long)st.mergeable);
	ret = pf_stats(pidfd, &st);
	check(ret == 0 && st.registered_bytes == N * XT_PAGE,
	      "uid 1000: STATS on its own pidfd succeeds and agrees (%s, %llu bytes)",
	      ret ? strerror(errno) : "ok", (unsigned long long)st.registered_bytes);
	ret = pf_unregister(pidfd, mine, N * XT_PAGE);
	check(ret == 0, "uid 1000: UNMERGEABLE on its own pidfd succeeds (%s)",
	      ret ? strerror(errno) : "ok");
	st = own_stats();
	check(st.registered_bytes == 0 && st.mergeable == 0,
	      "uid 1000: then nothing is registered (%llu bytes, mergeable %llu)",
	      (unsigned long long)st.registered_bytes, (unsigned long long)st.mergeable);
	ret = set_ma_ioc(XKSM_PIDFD, pidfd, 1);
	check(ret == 0 && get_ma_ioc(XKSM_PIDFD, pidfd) == 1 && xt_get_merge_any() == 1,
	      "uid 1000: SET_MERGE_ANY 1 on its own pidfd succeeds and GET reads 1 (%s)",
	      ret ? strerror(errno) : "ok");
	ret = set_ma_ioc(XKSM_PIDFD, pidfd, 0);
	check(ret == 0 && get_ma_ioc(XKSM_PIDFD, pidfd) == 0 && xt_get_merge_any() == 0,
	      "uid 1000: SET_MERGE_ANY 0 on its own pidfd succeeds and GET reads 0 (%s)",
	      ret ? strerror(errno) : "ok");
	check(xt_verify(mine, N, SEED + 7) == 0, "uid 1000: its pages read back intact");
	return done();
}

/* --- starting the roles -------------------------------------------------- */

struct target {
	pid_t pid;
	int cmd_fd, ans_fd, pidfd;
	char *addr;
};

/* Run this program as uid 1000 in a role; fds: the child's CMD_FD/ANS_FD. */
static pid_t spawn_as_user(char *const args[], int cmd_fd, int ans_fd)
{
	char *argv[12] = { "helper_as_user", "1000", self_path };
	char uid[16];
	pid_t pid;
	int i;

	snprintf(uid, sizeof(uid), "%d", USER_UID);
	argv[1] = uid;
	for (i = 0; args[i] && i < 8; i++)
		argv[3 + i] = args[i];
	pid = xt_fork();
	if (pid == 0) {
		if (cmd_fd >= 0 && (dup2(cmd_fd, CMD_FD) < 0 || dup2(ans_fd, ANS_FD) < 0))
			_exit(126);
		execv(helper_path, argv);
		_exit(127);
	}
	return pid;
}

static void target_start(struct target *t, unsigned int seed)
{
	char s[16], *args[] = { "target", s, NULL };
	int to[2], from[2];
	struct pollfd pfd;

	snprintf(s, sizeof(s), "%u", seed);
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		fatal("pipe");
	t->pid = spawn_as_user(args, to[0], from[1]);
	close(to[0]);
	close(from[1]);
	t->cmd_fd = to[1];
	t->ans_fd = from[0];
	pfd = (struct pollfd){ .fd = t->ans_fd, .events = POLLIN };
	if (poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1 ||
	    read(t->ans_fd, &t->addr, sizeof(t->addr)) != sizeof(t->addr))
		fatal("the uid-%d target process %d did not start", USER_UID, (int)t->pid);
	t->pidfd = pidfd_open(t->pid);
	if (t->pidfd < 0)
		fatal("pidfd_open(%d)", (int)t->pid);
}

/* How many of the target's pages are not as it wrote them (-1: no answer). */
static int target_verify(struct target *t)
{
	unsigned char c = 'v';
	struct pollfd pfd = { .fd = t->ans_fd, .events = POLLIN };

	if (write(t->cmd_fd, &c, 1) != 1 || poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1 ||
	    read(t->ans_fd, &c, 1) != 1)
		return -1;
	return c;
}

static void target_stop(struct target *t)
{
	close(t->cmd_fd);
	close(t->ans_fd);
	close(t->pidfd);
	waitpid(t->pid, NULL, 0);
}

/* Run the unprivileged caller to its end; its exit status. */
static int run_user(pid_t target, const void *addr, int self)
{
	char p[16], a[32], s[4], *args[] = { "user", p, a, s, NULL };
	int status;
	pid_t pid;

	snprintf(p, sizeof(p), "%d", (int)target);
	snprintf(a, sizeof(a), "%#lx", (unsigned long)(uintptr_t)addr);
	snprintf(s, sizeof(s), "%d", self);
	pid = spawn_as_user(args, -1, -1);
	if (waitpid(pid, &status, 0) != pid)
		fatal("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* --- merge_scope --------------------------------------------------------- */

static char scope_saved[32];
static pid_t scope_pid;

/* At exit, after xt_cleanup(): nothing merged, the scope as it was. */
static void scope_restore(void)
{
	long long run;
	int err;

	if (getpid() != scope_pid || !scope_saved[0])
		return;
	if (xt_knob_read("run", &run))
		run = 0;
	xt_knob_write("run", 2);
	err = xt_scope_set(scope_saved);
	if (err)
		printf("# cleanup: restoring merge_scope %s failed: %s\n", scope_saved,
		       strerror(err));
	xt_knob_write("run", run);
	scope_saved[0] = 0;
}

/* Wait until n pages of a (pid pa) and b (pid pb) share PFNs, up to 8 scans. */
static size_t wait_merged(pid_t pa, const void *a, pid_t pb, const void *b, int first)
{
	size_t same = 0;
	int i;

	for (i = 0; i < 8; i++) {
		xt_wait_full_scans(i ? 1 : first);
		same = xt_count_same_pfn(pa, a, pb, b, N);
		if (same == N)
			break;
	}
	return same;
}

/* --- the parts ----------------------------------------------------------- */

static void part_bad_fds(struct xt_child *a, int pa)
{
	struct xksm_stats st;
	struct pollfd pfd;
	char path[64], line[256], state = 0;
	int fd, i, sync[2];
	pid_t pid;

	/* The pidfd field without XKSM_PIDFD: EINVAL, and no one is touched. */
	all_fail(0, pa, buf, EINVAL, "a pidfd without XKSM_PIDFD");
	st = pf_stats_or_die(pa, "A");
	check_untouched(&st, "A after the calls with a pidfd but no XKSM_PIDFD");
	st = own_stats();
	check_untouched(&st, "the caller after the calls with a pidfd but no XKSM_PIDFD");
	check(xt_child_cmd(a, 'g') == 0, "A's own GET_MERGE_ANY still reads 0");

	/* Not pidfds. */
	fd = open(self_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("open %s", self_path);
	all_fail(XKSM_PIDFD, fd, buf, EBADF, "a regular file's fd");
	close(fd);
	all_fail(XKSM_PIDFD, (__u64)-1, buf, EBADF, "pidfd -1");
	all_fail(XKSM_PIDFD, 1000, buf, EBADF, "an fd number not open (1000)");
	all_fail(XKSM_PIDFD, (1ULL << 32) | (unsigned int)pa, buf, EBADF,
		 "A's pidfd number plus 1 << 32");
	all_fail(XKSM_PIDFD, 1ULL << 40, buf, EBADF, "pidfd 1 << 40");
	st = pf_stats_or_die(pa, "A");
	check_untouched(&st, "A after the calls with bad pidfds");

	/* A child that exited and was reaped; then one that is a zombie. */
	for (i = 0; i < 2; i++) {
		if (pipe2(sync, O_CLOEXEC))
			fatal("pipe");
		pid = xt_fork();
		if (pid == 0) {
			char c;

			close(sync[1]);
			xt_fill(buf, N, SEED);
			if (read(sync[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(sync[0]);
		fd = pidfd_open(pid);
		if (fd < 0)
			fatal("pidfd_open(%d)", (int)pid);
		close(sync[1]);		/* the child exits */
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1)
			fatal("the pidfd of the exiting child %d never became readable", (int)pid);
		if (i == 0) {
			if (waitpid(pid, NULL, 0) != pid)
				fatal("waitpid");
			all_fail(XKSM_PIDFD, fd, buf, ESRCH, "the pidfd of a child exited and reaped");
		} else {
			double deadline = xt_now() + XT_TIMEOUT_S;

			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
			for (state = 0; state != 'Z';) {
				FILE *f = fopen(path, "re");
				char *s = NULL;

				if (f) {
					if (fgets(line, sizeof(line), f))
						s = strrchr(line, ')');
					fclose(f);
				}
				state = s && s[1] == ' ' ? s[2] : 0;
				if (state == 'Z')
					break;
				if (xt_now() > deadline)
					fatal("child %d is not a zombie (state %c)", (int)pid, state);
				xt_msleep(10);
			}
			all_fail(XKSM_PIDFD, fd, buf, ESRCH,
				 "the pidfd of a zombie (exited, not waited for)");
			if (waitpid(pid, NULL, 0) != pid)
				fatal("waitpid");
		}
		close(fd);
	}
}

static void part_allowed(struct xt_child *a, struct xt_child *b, int pa, int pb)
{
	struct xksm_stats st, mine;
	size_t same;
	int ret;

	st = pf_stats_or_die(pa, "A");
	check_untouched(&st, "A before any registration (STATS through its pidfd)");

	ret = pf_register(pa, buf, N * XT_PAGE);
	check(ret == 0, "MERGEABLE through A's pidfd succeeds (%s)", ret ? strerror(errno) : "ok");
	ret = pf_register(pb, buf, N * XT_PAGE);
	check(ret == 0, "MERGEABLE through B's pidfd succeeds (%s)", ret ? strerror(errno) : "ok");
	mine = own_stats();
	check(mine.registered_bytes == 0 && mine.mergeable == 0,
	      "the caller's own mm stays unregistered (registered_bytes %llu, mergeable %llu)",
	      (unsigned long long)mine.registered_bytes, (unsigned long long)mine.mergeable);

	xt_start_fast();
	same = wait_merged(a->pid, buf, b->pid, buf, 2);
	xt_knob_set("run", 0);		/* freeze the counts */
	check(same == N, "after full scans, A's and B's %d pages share PFNs (%zu do)", N, same);

	if (xt_child_cmd(a, 's'))
		fatal("A's own XKSM_IOC_STATS");
	st = pf_stats_or_die(pa, "A");
	check(st.merging_pages == N && st.registered_bytes == N * XT_PAGE && st.mergeable == 1,
	      "STATS through A's pidfd: merging_pages %d, registered_bytes %lu, mergeable 1 "
	      "(got %llu, %llu, %llu)", N, N * XT_PAGE, (unsigned long long)st.merging_pages,
	      (unsigned long long)st.registered_bytes, (unsigned long long)st.mergeable);
	check(st.merging_pages == child_st->merging_pages &&
	      st.registered_bytes == child_st->registered_bytes &&
	      st.mergeable == child_st->mergeable && st.merge_any == child_st->merge_any &&
	      st.rmap_items == child_st->rmap_items && st.zero_pages == child_st->zero_pages &&
	      st.profit == child_st->profit && st.domain == child_st->domain,
	      "STATS through A's pidfd equals what A reads itself (merging_pages %llu/%llu, "
	      "registered_bytes %llu/%llu, mergeable %llu/%llu, rmap_items %llu/%llu, "
	      "profit %lld/%lld, domain %llu/%llu)",
	      (unsigned long long)st.merging_pages, (unsigned long long)child_st->merging_pages,
	      (unsigned long long)st.registered_bytes,
	      (unsigned long long)child_st->registered_bytes, (unsigned long long)st.mergeable,
	      (unsigned long long)child_st->mergeable, (unsigned long long)st.rmap_items,
	      (unsigned long long)child_st->rmap_items, (long long)st.profit,
	      (long long)child_st->profit, (unsigned long long)st.domain,
	      (unsigned long long)child_st->domain);
	mine = own_stats();
	check(mine.merging_pages == 0 && mine.registered_bytes == 0,
	      "the caller's own STATS shows none of it (merging_pages %llu)",
	      (unsigned long long)mine.merging_pages);

	/* UNMERGEABLE through the pidfd. */
	ret = pf_unregister(pa, buf, N * XT_PAGE);
	check(ret == 0, "UNMERGEABLE through A's pidfd succeeds (%s)", ret ? strerror(errno) : "ok");
	same = xt_count_same_pfn(a->pid, buf, b->pid, buf, N);
	check(same == 0, "right after it no page of A shares a PFN with B (%zu do)", same);
	check(xt_child_cmd(a, 'v') == 0 && xt_child_cmd(b, 'v') == 0,
	      "A and B find their pages intact");
	st = pf_stats_or_die(pa, "A");
	check(st.merging_pages == 0 && st.registered_bytes == 0 && st.mergeable == 0,
	      "STATS through A's pidfd: merging_pages 0, registered_bytes 0, mergeable 0 "
	      "(%llu, %llu, %llu)", (unsigned long long)st.merging_pages,
	      (unsigned long long)st.registered_bytes, (unsigned long long)st.mergeable);
	ret = pf_unregister(pb, buf, N * XT_PAGE);
	check(ret == 0, "UNMERGEABLE through B's pidfd succeeds (%s)", ret ? strerror(errno) : "ok");

	/* Merge-any through the pidfds. */
	if (!xt_has(XKSM_FEATURE_MERGE_ANY)) {
		xt_note("no MERGE_ANY feature: merge-any through a pidfd left out");
		return;
	}
	check(get_ma_ioc(XKSM_PIDFD, pa) == 0, "GET_MERGE_ANY through A's pidfd reads 0 at first");
	ret = set_ma_ioc(XKSM_PIDFD, pa, 1);
	check(ret == 0, "SET_MERGE_ANY 1 through A's pidfd succeeds (%s)",
	      ret ? strerror(errno) : "ok");
	ret = set_ma_ioc(XKSM_PIDFD, pb, 1);
	check(ret == 0, "SET_MERGE_ANY 1 through B's pidfd succeeds (%s)",
	      ret ? strerror(errno) : "ok");
	check(get_ma_ioc(XKSM_PIDFD, pa) == 1 && get_ma_ioc(XKSM_PIDFD, pb) == 1,
	      "then GET_MERGE_ANY through their pidfds reads 1");
	check(xt_child_cmd(a, 'g') == 1 && xt_child_cmd(b, 'g') == 1,
	      "and A and B read 1 themselves");
	check(xt_get_merge_any() == 0, "the caller's own merge-any stays 0");
	st = pf_stats_or_die(pa, "A");
	check(st.merge_any == 1 && st.mergeable == 1,
	      "STATS through A's pidfd: merge_any 1, mergeable 1 (%llu, %llu)",
	      (unsigned long long)st.merge_any, (unsigned long long)st.mergeable);

	xt_knob_set("run", 1);
	same = wait_merged(a->pid, buf, b->pid, buf, 3);
	check(same == N, "with merge-any, A's and B's pages merge again (%zu of %d)", same, N);

	ret = set_ma_ioc(XKSM_PIDFD, pa, 0);
	check(ret == 0, "SET_MERGE_ANY 0 through A's pidfd succeeds (%s)",
	      ret ? strerror(errno) : "ok");
	same = xt_count_same_pfn(a->pid, buf, b->pid, buf, N);
	check(same == 0, "and unmerges A's pages at once (%zu still shared)", same);
	check(get_ma_ioc(XKSM_PIDFD, pa) == 0 && xt_child_cmd(a, 'g') == 0,
	      "GET_MERGE_ANY reads 0 for A, through its pidfd and in A");
	check(xt_child_cmd(a, 'v') == 0 && xt_child_cmd(b, 'v') == 0,
	      "A and B find their pages intact");
	check(set_ma_ioc(XKSM_PIDFD, pb, 0) == 0 && get_ma_ioc(XKSM_PIDFD, pb) == 0,
	      "merge-any off through B's pidfd");
	xt_knob_set("run", 0);
}

/* Drop to uid 1000 keeping CAP_SYS_NICE alone (effective and permitted). */
static int drop_to_user_with_nice(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(USER_UID, USER_UID, USER_UID) || setresuid(USER_UID, USER_UID, USER_UID))
		return -1;
	d[0].effective = d[0].permitted = 1U << CAP_SYS_NICE;
	if (syscall(SYS_capset, &h, d))
		return -1;
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) || d[0].effective != 1U << CAP_SYS_NICE)
		return -1;
	return 0;
}

/*
 * A caller of uid 1000 with CAP_SYS_NICE (a forked child that keeps that
 * capability alone): allowed on a uid-1000 process it may read, refused
 * (EPERM: the ptrace check) on a root process.  Its exit status: 0 when
 * its checks passed.
 */
static int run_user_with_nice(struct xt_child *t, struct target *u)
{
	struct xksm_stats st;
	int status, ret;
	pid_t pid;

	pid = xt_fork();
	if (pid) {
		if (waitpid(pid, &status, 0) != pid)
			fatal("waitpid");
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	xt_checks = xt_failures = 0;
	ret = drop_to_user_with_nice();
	if (!check(ret == 0, "uid %d with CAP_SYS_NICE only: the ids and the capability are set (%s)",
		   USER_UID, ret ? strerror(errno) : "ok"))
		goto out;
	ret = pf_register(u->pidfd, u->addr, N * XT_PAGE);
	check(ret == 0, "uid %d with CAP_SYS_NICE: MERGEABLE through the pidfd of a uid-%d "
	      "process succeeds (%s)", USER_UID, USER_UID, ret ? strerror(errno) : "ok");
	ret = pf_stats(u->pidfd, &st);
	check(ret == 0 && st.registered_bytes == N * XT_PAGE && st.mergeable == 1,
	      "uid %d with CAP_SYS_NICE: STATS through it shows the %lu bytes registered "
	      "(%s, %llu)", USER_UID, N * XT_PAGE, ret ? strerror(errno) : "ok",
	      (unsigned long long)st.registered_bytes);
	ret = pf_unregister(u->pidfd, u->addr, N * XT_PAGE);
	check(ret == 0, "uid %d with CAP_SYS_NICE: UNMERGEABLE through it succeeds (%s)",
	      USER_UID, ret ? strerror(errno) : "ok");
	check(get_ma_ioc(XKSM_PIDFD, u->pidfd) == 0,
	      "uid %d with CAP_SYS_NICE: GET_MERGE_ANY through it reads 0", USER_UID);
	ret = set_ma_ioc(XKSM_PIDFD, u->pidfd, 1);
	check(ret == 0 && get_ma_ioc(XKSM_PIDFD, u->pidfd) == 1,
	      "uid %d with CAP_SYS_NICE: SET_MERGE_ANY 1 through it turns merge-any on (%s)",
	      USER_UID, ret ? strerror(errno) : "ok");
	ret = set_ma_ioc(XKSM_PIDFD, u->pidfd, 0);
	check(ret == 0 && get_ma_ioc(XKSM_PIDFD, u->pidfd) == 0,
	      "uid %d with CAP_SYS_NICE: SET_MERGE_ANY 0 through it turns it off again (%s)",
	      USER_UID, ret ? strerror(errno) : "ok");
	all_fail(XKSM_PIDFD, pidfd_open(t->pid), buf, EPERM,
		 "uid 1000 with CAP_SYS_NICE on a root process (no ptrace read access)");
out:
	fflush(stdout);
	_exit(done());
}

static void part_refused(struct xt_child *t, int pt, struct target *u)
{
	struct xksm_stats st;
	int rc;

	xt_note("uid %d on a root process (pid %d)", USER_UID, (int)t->pid);
	rc = run_user(t->pid, buf, 0);
	check(rc == 0, "the uid-%d caller's checks on a root process pass (exit %d)", USER_UID, rc);
	st = pf_stats_or_die(pt, "the root target");
	check_untouched(&st, "the root target after the refused calls");
	check(xt_child_cmd(t, 'g') == 0 && xt_child_cmd(t, 'v') == 0,
	      "the root target reads merge-any 0 itself, and its pages are intact");

	xt_note("uid %d without CAP_SYS_NICE on another uid-%d process (pid %d), then on itself",
		USER_UID, USER_UID, (int)u->pid);
	rc = run_user(u->pid, u->addr, 1);
	check(rc == 0, "the uid-%d caller's checks on a uid-%d process and on itself pass (exit %d)",
	      USER_UID, USER_UID, rc);
	st = pf_stats_or_die(u->pidfd, "the uid-1000 target");
	check_untouched(&st, "the uid-1000 target after the refused calls");
	check(target_verify(u) == 0, "the uid-1000 target's pages are intact");

	xt_note("uid %d with CAP_SYS_NICE: on the uid-%d process, then on the root one",
		USER_UID, USER_UID);
	rc = run_user_with_nice(t, u);
	check(rc == 0, "the checks of the uid-%d caller with CAP_SYS_NICE pass (exit %d)",
	      USER_UID, rc);
	st = pf_stats_or_die(u->pidfd, "the uid-1000 target");
	check_untouched(&st, "the uid-1000 target, registered and unregistered by it");
	st = pf_stats_or_die(pt, "the root target");
	check_untouched(&st, "the root target after its refused calls");
	check(target_verify(u) == 0 && xt_child_cmd(t, 'v') == 0,
	      "both targets' pages are intact");
}

static void part_identity(struct target *u, struct target *u2)
{
	struct xksm_stats st;
	const char *now;
	size_t same;
	char *mine;
	int err;

	if (!xt_has(XKSM_FEATURE_DOMAIN)) {
		check(0, "xksm reports XKSM_FEATURE_DOMAIN (features %#llx)",
		      (unsigned long long)xt_features);
		return;
	}
	xt_unmerge_all();		/* merge_scope changes only with nothing merged */
	err = xt_scope_set("uid");
	if (!check(err == 0, "merge_scope set to uid (%s)", err ? strerror(err) : "ok"))
		return;
	now = xt_scope_get();
	check(!strcmp(now, "uid"), "merge_scope reads uid (%s)", now);

	mine = xt_map(N);
	xt_fill(mine, N, SEED + 3);
	check(pf_register(u->pidfd, u->addr, N * XT_PAGE) == 0 &&
	      pf_register(u2->pidfd, u2->addr, N * XT_PAGE) == 0,
	      "root registers two uid-1000 processes through their pidfds");
	xt_register_or_die(mine, N * XT_PAGE);

	st = pf_stats_or_die(u->pidfd, "a uid-1000 target");
	check(st.domain == USER_UID, "STATS through the pidfd: the target's domain is its uid %d, "
	      "not the caller's 0 (got %llu)", USER_UID, (unsigned long long)st.domain);
	st = pf_stats_or_die(u2->pidfd, "a uid-1000 target");
	check(st.domain == USER_UID, "and the other's too (got %llu)", (unsigned long long)st.domain);
	st = own_stats();
	check(st.domain == 0, "root's own mm is in domain 0 (got %llu)",
	      (unsigned long long)st.domain);

	xt_knob_set("run", 1);
	same = wait_merged(u->pid, u->addr, u2->pid, u2->addr, 2);
	check(same == N, "the two uid-1000 processes merge with each other (%zu of %d)", same, N);
	same = xt_count_same_pfn(0, mine, u->pid, u->addr, N);
	check(same == 0, "root's pages of the same contents merge with neither (%zu shared)", same);
	check(target_verify(u) == 0 && target_verify(u2) == 0 && xt_verify(mine, N, SEED + 3) == 0,
	      "all their pages read back intact");

	xt_unmerge_all();
	err = xt_scope_set(scope_saved);
	check(err == 0, "merge_scope back to %s (%s)", scope_saved, err ? strerror(err) : "ok");
	if (!err)
		scope_saved[0] = 0;
}

int main(int argc, char **argv)
{
	struct xt_child a, b, t;
	double t0 = xt_now();
	struct target u, u2;
	ssize_t n;
	int pa, pb, pt;

	if (argc == 3 && !strcmp(argv[1], "target"))
		return target_main(strtoul(argv[2], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "user"))
		return user_main(atoi(argv[2]), (char *)(uintptr_t)strtoull(argv[3], NULL, 0),
				 atoi(argv[4]));

	if (xt_backend_ksm())
		skip("xksm only: XKSM_PIDFD has no in-kernel KSM equivalent");
	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	xt_require(XKSM_FEATURE_PIDFD, "PIDFD");
	if (getuid() != 0)
		skip("needs root");
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		fatal("readlink /proc/self/exe");
	self_path[n] = 0;
	snprintf(helper_path, sizeof(helper_path), "%s", self_path);
	*strrchr(helper_path, '/') = 0;
	strcat(helper_path, "/helper_as_user");
	if (access(helper_path, X_OK))
		fatal("no %s", helper_path);

	/* Before xt_cleanup's handler: this one then runs after it. */
	scope_pid = getpid();
	atexit(scope_restore);
	if (xt_has(XKSM_FEATURE_DOMAIN)) {
		snprintf(scope_saved, sizeof(scope_saved), "%s", xt_scope_get());
		if (!scope_saved[0])
			fatal("read " XT_SCOPE_PATH);
	}
	xt_unmerge_all();

	buf = xt_map(N);
	child_st = xt_map_shared(1);
	xt_child_start(&a, child, (void *)(uintptr_t)SEED);
	xt_child_start(&b, child, (void *)(uintptr_t)SEED);
	xt_child_start(&t, child, (void *)(uintptr_t)(SEED + 1));
	pa = pidfd_open(a.pid);
	pb = pidfd_open(b.pid);
	pt = pidfd_open(t.pid);
	if (pa < 0 || pb < 0 || pt < 0)
		fatal("pidfd_open");

	part_bad_fds(&a, pa);
	part_allowed(&a, &b, pa, pb);
	xt_unmerge_all();

	target_start(&u, SEED + 3);
	target_start(&u2, SEED + 3);
	part_refused(&t, pt, &u);
	part_identity(&u, &u2);

	close(pa);
	close(pb);
	close(pt);
	/* Last started first: each child holds the command pipes of those before. */
	check(xt_child_stop(&t) == 0 && xt_child_stop(&b) == 0 && xt_child_stop(&a) == 0,
	      "the root children exit cleanly");
	target_stop(&u);
	target_stop(&u2);
	xt_unmerge_all();
	xt_note("the test took %.1f s", xt_now() - t0);
	return done();
}
