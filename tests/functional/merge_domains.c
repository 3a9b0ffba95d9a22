// SPDX-License-Identifier: GPL-2.0
/*
 * Merge domains (merge_scope, XKSM_SET_DOMAIN, zero_pages_across_domains).
 *
 * Worker processes (this program re-executed with the role "worker", as
 * root or through helper_as_user as uid 1000/1001) each fill their own
 * memory with the same contents and register it; the test reads where
 * their pages are through /proc/<pid>/pagemap:
 *
 *  1. scope all (the default): the pages of a uid-1000 and a uid-1001
 *     process share PFNs;
 *  2. merge_scope cannot change while pages are merged (EBUSY, unchanged),
 *     takes only its four words (EINVAL); after run=2 and scope uid, the
 *     pages of processes of one uid share PFNs, and no PFN is shared by
 *     processes of different uids; XKSM_IOC_STATS and debugfs mm_slots
 *     show the uid as the domain;
 *  3. scope memcg: the same with two memory cgroups (v2), the domain being
 *     the cgroup directory's inode number;
 *  4. scope id: XKSM_SET_DOMAIN 1 and 2 as root merge within, never
 *     across; without CAP_SYS_ADMIN a nonzero id is EPERM and registers
 *     nothing; an id above 0xffffffff, or an id without the flag, is
 *     EINVAL; re-registering with another id unmerges the process's pages
 *     at once (data intact) and it then merges in its new domain; a
 *     registration over a hole with another id fails (ENOMEM) and
 *     changes nothing;
 *     Forked children stay in their domain and keep their pages: xksmd,
 *     meeting them, copies none back (trace event xksm_unmerge), also
 *     when the pages are dups of chains (max_page_sharing 2);
 *  5. use_zero_pages=1 under scope uid: with zero_pages_across_domains=0
 *     empty pages never map the zero page and never share across uids
 *     (they merge within their uid); with 1 they map the zero page, and
 *     then neither knob can change while ksm_zero_pages != 0 (EBUSY);
 *  6. run=2, scope back to all, nothing merged.
 * Every process reads back every byte it wrote, at every step.
 */
#include "xksm_test.h"

#include <libgen.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define N		128	/* pages of each worker (scopes) */
#define NZ		64	/* zero-filled pages of each worker */
#define SEED		0x6d01
#define UID_A		1000
#define UID_B		1001

#define MM_SLOTS	"/sys/kernel/debug/xksm/mm_slots"
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_A		CG_ROOT "/xksm-domains-a"
#define CG_B		CG_ROOT "/xksm-domains-b"
#define TRACEFS		"/sys/kernel/tracing"
#define UNMERGE_EVENT	TRACEFS "/events/xksm/xksm_unmerge/enable"

/* --- the worker ----------------------------------------------------------- */

struct wcmd {
	__u32 op;
	__u32 pad;
	__u64 npages;
	__u64 seed;	/* 'F', 'V': pattern, 0 for zero-filled pages */
	__u64 flags;	/* 'R': struct xksm_range's */
	__u64 domain;
};

struct wans {
	__s64 err;	/* 0 or the errno */
	__u64 addr;
	__u64 val;
	struct xksm_stats st;
};

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * "worker CMDFD ANSFD": answers a hello (its euid), then one command at a
 * time until the command pipe closes:
 *  F  map npages and fill them with pattern seed (0: zeroes, in pages
 *     that were written first: private pages); answers the address
 *  R  XKSM_IOC_MERGEABLE of them with flags and domain; answers the errno
 *  S  XKSM_IOC_STATS
 *  H  XKSM_IOC_MERGEABLE with flags and domain of a page where nothing is
 *     mapped; answers the errno
 *  K  fork a child that keeps the memory and waits to be killed; answers
 *     its pid
 *  V  how many pages do not hold what F wrote
 */
static int worker_main(int argc, char **argv)
{
	volatile char *mem = NULL;
	__u64 npages = 0, seed = 0;
	struct wcmd c;
	struct wans a;
	int cfd, afd;
	size_t i, j;

	if (argc < 4)
		return 2;
	cfd = atoi(argv[2]);
	afd = atoi(argv[3]);
	memset(&a, 0, sizeof(a));
	a.val = geteuid();
	if (write_full(afd, &a, sizeof(a)))
		return 1;
	while (read_full(cfd, &c, sizeof(c)) == 0) {
		memset(&a, 0, sizeof(a));
		switch (c.op) {
		case 'F':
			npages = c.npages;
			seed = c.seed;
			mem = xt_map(npages);
			if (seed) {
				xt_fill((void *)mem, npages, seed);
			} else {
				for (i = 0; i < npages; i++) {
					mem[i * XT_PAGE] = 1;
					mem[i * XT_PAGE] = 0;
				}
			}
			a.addr = (uintptr_t)mem;
			break;
		case 'R': {
			struct xksm_range r = {
				.start = (uintptr_t)mem,
				.len = npages * XT_PAGE,
				.flags = c.flags,
				.domain = c.domain,
			};

			if (ioctl(xt_dev(), XKSM_IOC_MERGEABLE, &r))
				a.err = errno;
			break;
		}
		case 'S':
			if (xt_stats(&a.st))
				a.err = errno;
			break;
		case 'H': {
			/* XKSM_IOC_MERGEABLE of a page where nothing is mapped. */
			void *hole = xt_map(1);
			struct xksm_range r = {
				.len = XT_PAGE, .flags = c.flags, .domain = c.domain,
			};

			munmap(hole, XT_PAGE);
			r.start = (uintptr_t)hole;
			if (ioctl(xt_dev(), XKSM_IOC_MERGEABLE, &r))
				a.err = errno;
			break;
		}
		case 'K': {
			/* A child that keeps its copy of everything, idle. */
			pid_t kid = fork();

			if (kid == 0) {
				close(cfd);
				close(afd);
				for (;;)
					pause();
			}
			if (kid < 0)
				a.err = errno;
			a.val = kid;
			break;
		}
		case 'V':
			if (seed) {
				a.val = xt_verify((void *)mem, npages, seed);
			} else {
				for (i = 0; i < npages; i++)
					for (j = 0; j < XT_PAGE; j++)
						if (mem[i * XT_PAGE + j]) {
							a.val++;
							break;
						}
			}
			break;
		default:
			a.err = EINVAL;
		}
		if (write_full(afd, &a, sizeof(a)))
			return 1;
	}
	return 0;
}

/* --- the parent's side of the workers ---------------------------------- */

struct worker {
	const char *name;
	pid_t pid;
	int cmd_fd, ans_fd;
	char *addr;
	size_t npages;
	unsigned int seed;
};

#define MAX_WORKERS 8
static struct worker *live[MAX_WORKERS];
static char self_exe[PATH_MAX], helper[PATH_MAX + 32];
static pid_t main_pid, fork_kids[MAX_WORKERS];

/* Start a worker, as root (uid < 0) or as uid; failing to is fatal. */
static void spawn(struct worker *w, const char *name, int uid)
{
	int to_w[2], to_p[2], i;
	char cfd[16], afd[16], uidstr[16];
	struct pollfd pfd;
	struct wans a;

	memset(w, 0, sizeof(*w));
	w->name = name;
	if (pipe2(to_w, O_CLOEXEC) || pipe2(to_p, O_CLOEXEC))
		fatal("pipe");
	w->pid = xt_fork();
	if (w->pid == 0) {
		/* The worker's ends survive exec; the parent's do not. */
		fcntl(to_w[0], F_SETFD, 0);
		fcntl(to_p[1], F_SETFD, 0);
		snprintf(cfd, sizeof(cfd), "%d", to_w[0]);
		snprintf(afd, sizeof(afd), "%d", to_p[1]);
		snprintf(uidstr, sizeof(uidstr), "%d", uid);
		if (uid < 0)
			execl(self_exe, self_exe, "worker", cfd, afd, (char *)NULL);
		else
			execl(helper, helper, uidstr, self_exe, "worker", cfd, afd,
			      (char *)NULL);
		_exit(127);
	}
	close(to_w[0]);
	close(to_p[1]);
	w->cmd_fd = to_w[1];
	w->ans_fd = to_p[0];
	for (i = 0; i < MAX_WORKERS && live[i]; i++)
		;
	if (i == MAX_WORKERS)
		fatal("too many workers");
	live[i] = w;

	pfd.fd = w->ans_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1 || read_full(w->ans_fd, &a, sizeof(a)))
		fatal("worker %s (pid %d) does not start", name, (int)w->pid);
	if (!check(a.val == (__u64)(uid < 0 ? 0 : uid), "worker %s runs with euid %d (got %llu)",
		   name, uid < 0 ? 0 : uid, (unsigned long long)a.val))
		exit(done());
}

static struct wans call(struct worker *w, int op, __u64 npages, __u64 seed,
			__u64 flags, __u64 domain)
{
	struct wcmd c = { .op = op, .npages = npages, .seed = seed,
			  .flags = flags, .domain = domain };
	struct pollfd pfd = { .fd = w->ans_fd, .events = POLLIN };
	struct wans a;

	if (write_full(w->cmd_fd, &c, sizeof(c)))
		fatal("command '%c' to worker %s", op, w->name);
	if (poll(&pfd, 1, XT_TIMEOUT_S * 1000) != 1 || read_full(w->ans_fd, &a, sizeof(a)))
		fatal("answer to '%c' from worker %s", op, w->name);
	return a;
}

/* Map and fill the worker's pages. */
static void fill(struct worker *w, size_t npages, unsigned int seed)
{
	struct wans a = call(w, 'F', npages, seed, 0, 0);

	w->addr = (char *)(uintptr_t)a.addr;
	w->npages = npages;
	w->seed = seed;
}

/* XKSM_IOC_MERGEABLE in the worker: 0 or its errno. */
static int reg(struct worker *w, __u64 flags, __u64 domain)
{
	return call(w, 'R', 0, 0, flags, domain).err;
}

static struct xksm_stats wstats(struct worker *w)
{
	struct wans a = call(w, 'S', 0, 0, 0, 0);

	if (a.err) {
		errno = a.err;
		fatal("XKSM_IOC_STATS in worker %s", w->name);
	}
	return a.st;
}

/* Pages of the worker that do not hold what it wrote. */
static unsigned long long wverify(struct worker *w)
{
	return call(w, 'V', 0, 0, 0, 0).val;
}

/* Stop a worker; its exit status, -1 if it was killed. */
static int stop(struct worker *w)
{
	int i, status;

	close(w->cmd_fd);
	close(w->ans_fd);
	for (i = 0; i < MAX_WORKERS; i++)
		if (live[i] == w)
			live[i] = NULL;
	if (waitpid(w->pid, &status, 0) != w->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Pages at the same index of two workers that share a PFN. */
static size_t same(struct worker *a, struct worker *b)
{
	return xt_count_same_pfn(a->pid, a->addr, b->pid, b->addr,
				 a->npages < b->npages ? a->npages : b->npages);
}

static size_t at_pfn(struct worker *w, unsigned long pfn)
{
	size_t i, n = 0;

	for (i = 0; i < w->npages; i++)
		n += xt_pfn_pid(w->pid, w->addr + i * XT_PAGE) == pfn;
	return n;
}

/*
 * A number debugfs shows for the mm_slot of pid ("mm_slot ... pid P ...
 * NAME N ..."): N, -1 when pid has no mm_slot, -2 when the line has no
 * such field or debugfs cannot be read.
 */
static long long dbg_field(pid_t pid, const char *name)
{
	char line[1024], key[32], field[48];
	long long d = -1;
	FILE *f = fopen(MM_SLOTS, "re");

	if (!f)
		return -2;
	snprintf(key, sizeof(key), " pid %d ", (int)pid);
	snprintf(field, sizeof(field), " %s ", name);
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "mm_slot ", 8) || !strstr(line, key))
			continue;
		p = strstr(line, field);
		d = p ? strtoll(p + strlen(field), NULL, 0) : -2;
		break;
	}
	fclose(f);
	return d;
}

/* The domain debugfs shows for the mm_slot of pid (as dbg_field()). */
static long long dbg_domain(pid_t pid)
{
	return dbg_field(pid, "domain");
}

/* --- the knobs ------------------------------------------------------------ */

static void scope_set_or_die(const char *s)
{
	int err = xt_scope_set(s);

	if (!check(err == 0 && !strcmp(xt_scope_get(), s), "merge_scope set to %s (%s, reads %s)",
		   s, strerror(err), xt_scope_get()))
		exit(done());
}

/* Scan: run=1, n more full scans, then run=0 to freeze what is merged. */
static void scan(int n)
{
	xt_knob_set("run", 1);
	xt_wait_full_scans(n);
	xt_knob_set("run", 0);
}

static void rmdir_retry(const char *dir)
{
	int i;

	for (i = 0; i < 50 && rmdir(dir) && errno == EBUSY; i++)
		xt_msleep(100);
}

/*
 * At exit, before xt_cleanup() (registered after it: runs first): the
 * workers killed, run=2, the scope back to all, the cgroups removed.
 */
/*
 * Record xksm's copies back (the xksm_unmerge trace event) from now on:
 * 0, or -1 when tracefs is not there.
 */
static int unmerge_trace_start(void)
{
	int fd;

	if (access(UNMERGE_EVENT, F_OK) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return -1;
	if (xt_write_file(UNMERGE_EVENT, "1") ||
	    xt_write_file(TRACEFS "/tracing_on", "1"))
		return -1;
	fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Stop recording; how many copies back were recorded (-1: unknown). */
static long unmerge_trace_count(void)
{
	char line[512];
	long n = 0;
	FILE *f;
	int fd;

	if (access(UNMERGE_EVENT, F_OK) || xt_write_file(UNMERGE_EVENT, "0"))
		return -1;
	f = fopen(TRACEFS "/trace", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, "xksm_unmerge:");
	fclose(f);
	fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return n;
}

static void cleanup(void)
{
	int i, err;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < MAX_WORKERS; i++)
		if (live[i]) {
			kill(live[i]->pid, SIGKILL);
			waitpid(live[i]->pid, NULL, 0);
			live[i] = NULL;
		}
	for (i = 0; i < MAX_WORKERS; i++)
		if (fork_kids[i] > 0)
			kill(fork_kids[i], SIGKILL);	/* a worker's, orphaned */
	unmerge_trace_count();
	xt_knob_write("run", 2);
	err = xt_scope_set("all");
	if (err)
		printf("# cleanup: merge_scope=all failed: %s\n", strerror(err));
	if (access(CG_A, F_OK) == 0)
		rmdir_retry(CG_A);
	if (access(CG_B, F_OK) == 0)
		rmdir_retry(CG_B);
	fflush(stdout);
}

/* --- the checks shared by the scopes ------------------------------------- */

/*
 * a1, a2 in one domain, b1, b2 in another, all with the same N pages:
 * within a domain every page merged, across domains none.
 */
static void check_split(const char *scope, struct worker *a1, struct worker *a2,
			struct worker *b1, struct worker *b2)
{
	struct worker *as[2] = { a1, a2 }, *bs[2] = { b1, b2 };
	long long shared, sharing;
	size_t n;
	int i, j;

	n = same(a1, a2);
	check(n == a1->npages, "scope %s: %s and %s (one domain) share all %zu pages (%zu do)",
	      scope, a1->name, a2->name, a1->npages, n);
	n = same(b1, b2);
	check(n == b1->npages, "scope %s: %s and %s (one domain) share all %zu pages (%zu do)",
	      scope, b1->name, b2->name, b1->npages, n);
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			n = same(as[i], bs[j]);
			check(n == 0, "scope %s: %s and %s (different domains) share no PFN (%zu do)",
			      scope, as[i]->name, bs[j]->name, n);
		}
	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	check(shared == (long long)(a1->npages + b1->npages) &&
	      sharing == (long long)(a1->npages + b1->npages),
	      "scope %s: pages_shared == pages_sharing == %zu, one merged page per content and domain (got %lld, %lld)",
	      scope, a1->npages + b1->npages, shared, sharing);
}

static void check_intact(struct worker **ws, int n)
{
	unsigned long long bad;
	int i;

	for (i = 0; i < n; i++) {
		bad = wverify(ws[i]);
		check(bad == 0, "%s reads back every byte it wrote (%llu bad pages)",
		      ws[i]->name, bad);
	}
}

static void check_stop(struct worker **ws, int n)
{
	int i, st;

	for (i = 0; i < n; i++) {
		st = stop(ws[i]);
		check(st == 0, "%s exits cleanly (status %d)", ws[i]->name, st);
	}
}

static void check_domain(struct worker *w, const char *scope, unsigned long long want)
{
	struct xksm_stats st = wstats(w);
	long long d = dbg_domain(w->pid);

	check(st.domain == want, "scope %s: XKSM_IOC_STATS of %s shows domain %llu (got %llu)",
	      scope, w->name, want, (unsigned long long)st.domain);
	check(d == (long long)want, "scope %s: debugfs mm_slots shows domain %llu for %s (got %lld)",
	      scope, want, w->name, d);
}

/* --- 1, 2: scope all, then uid -------------------------------------------- */

static void test_uid(void)
{
	struct worker a1, a2, b1, b2, *ws[4] = { &a1, &a2, &b1, &b2 };
	long long shared, sharing;
	int i, err;
	size_t n;

	spawn(&a1, "uid1000-a", UID_A);
	spawn(&a2, "uid1000-b", UID_A);
	spawn(&b1, "uid1001-a", UID_B);
	spawn(&b2, "uid1001-b", UID_B);
	for (i = 0; i < 4; i++) {
		fill(ws[i], N, SEED);
		err = reg(ws[i], 0, 0);
		check(err == 0, "%s registers its %d pages (%s)", ws[i]->name, N, strerror(err));
	}
	check_domain(&a1, "all", 0);

	xt_start_fast();
	xt_wait_full_scans(3);
	xt_knob_set("run", 0);

	/* 1. Everything merges with everything. */
	n = same(&a1, &b1);
	check(n == N, "scope all: uid 1000's and uid 1001's pages share PFNs (%zu of %d)", n, N);
	n = same(&a2, &b2) + same(&a1, &a2) + same(&b1, &b2);
	check(n == 3 * N, "scope all: every page of the four processes merged (%zu of %d)",
	      n, 3 * N);
	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	check(shared == N && sharing == 3 * N,
	      "scope all: pages_shared == %d, pages_sharing == %d (got %lld, %lld)",
	      N, 3 * N, shared, sharing);

	/* 2. The scope stays while anything is merged. */
	err = xt_scope_set("uid");
	check(err == EBUSY, "merge_scope=uid while pages are merged fails with EBUSY (%s)",
	      strerror(err));
	check(!strcmp(xt_scope_get(), "all"), "merge_scope still reads all (%s)", xt_scope_get());
	err = xt_knob_write("zero_pages_across_domains", 1);
	check(err == EBUSY,
	      "zero_pages_across_domains=1 while pages are merged fails with EBUSY (%s)",
	      strerror(err));
	check(xt_knob("zero_pages_across_domains") == 0,
	      "zero_pages_across_domains still reads 0");
	err = xt_scope_set("bogus");
	check(err == EINVAL, "merge_scope=bogus fails with EINVAL (%s)", strerror(err));
	check_intact(ws, 4);

	xt_knob_set("run", 2);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "run=2 unmerged everything");
	err = xt_scope_set("bogus");
	check(err == EINVAL, "merge_scope=bogus fails with EINVAL with nothing merged (%s)",
	      strerror(err));
	check(!strcmp(xt_scope_get(), "all"), "merge_scope still reads all (%s)", xt_scope_get());
	scope_set_or_die("uid");

	/* The uid taken when they registered, under scope all. */
	check_domain(&a1, "uid", UID_A);
	check_domain(&b1, "uid", UID_B);

	scan(3);
	check_split("uid", &a1, &a2, &b1, &b2);
	check_intact(ws, 4);
	check_stop(ws, 4);
}

/* --- 3: scope memcg -------------------------------------------------------- */

static void test_memcg(void)
{
	struct worker a1, a2, b1, b2, *ws[4] = { &a1, &a2, &b1, &b2 };
	struct stat sa, sb;
	char pid[16];
	int i, err;

	xt_knob_set("run", 2);
	scope_set_or_die("memcg");

	err = xt_write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	check(err == 0, "the memory controller is enabled for the child cgroups (%s)",
	      strerror(err));
	if (mkdir(CG_A, 0755) && errno != EEXIST)
		fatal("mkdir %s", CG_A);
	if (mkdir(CG_B, 0755) && errno != EEXIST)
		fatal("mkdir %s", CG_B);
	if (stat(CG_A, &sa) || stat(CG_B, &sb))
		fatal("stat the cgroups");

	spawn(&a1, "memcg-a-1", -1);
	spawn(&a2, "memcg-a-2", -1);
	spawn(&b1, "memcg-b-1", -1);
	spawn(&b2, "memcg-b-2", -1);
	for (i = 0; i < 4; i++) {
		const char *cg = i < 2 ? CG_A "/cgroup.procs" : CG_B "/cgroup.procs";

		snprintf(pid, sizeof(pid), "%d", (int)ws[i]->pid);
		err = xt_write_file(cg, pid);
		check(err == 0, "%s moves into %s (%s)", ws[i]->name, cg, strerror(err));
		fill(ws[i], N, SEED);
		err = reg(ws[i], 0, 0);
		check(err == 0, "%s registers its %d pages (%s)", ws[i]->name, N, strerror(err));
	}
	check_domain(&a1, "memcg", sa.st_ino);
	check_domain(&b2, "memcg", sb.st_ino);

	scan(3);
	check_split("memcg", &a1, &a2, &b1, &b2);
	check_intact(ws, 4);
	check_stop(ws, 4);
	xt_knob_set("run", 2);
	rmdir_retry(CG_A);
	rmdir_retry(CG_B);
	check(access(CG_A, F_OK) && access(CG_B, F_OK), "the cgroups are removed");
}

/* --- 4: scope id -------------------------------------------------------- */

/*
 * Children forked in a domain are in it, and keep the pages they were
 * forked with once xksmd has met them: xksmd copies back a KSM page that a
 * mapping new to it meets in another domain (merge.c), and must not
 * mistake its own domain's for one - whether the page is a lone node or
 * one of a chain's dups (stable_tree.c).
 */
static void fork_keeps_pages(struct worker **ws, int n, unsigned int domain)
{
	int tracing = unmerge_trace_start() == 0, i;
	long long merging;
	long copies;
	size_t same_n;

	for (i = 0; i < n; i++) {
		struct wans a = call(ws[i], 'K', 0, 0, 0, 0);

		fork_kids[i] = a.val;
		if (!check(a.err == 0 && fork_kids[i] > 0, "%s forks a child (%s)",
			   ws[i]->name, strerror(a.err)))
			fatal("fork in a worker");
	}
	scan(3);
	copies = unmerge_trace_count();
	for (i = 0; i < n; i++) {
		pid_t kid = fork_kids[i];

		check(dbg_domain(kid) == domain, "the child of %s is in domain %u (%lld)",
		      ws[i]->name, domain, dbg_domain(kid));
		merging = dbg_field(kid, "merging_pages");
		check(merging == N, "xksmd met its %d merged pages: merging_pages %lld",
		      N, merging);
		same_n = xt_count_same_pfn(kid, ws[i]->addr, ws[i]->pid, ws[i]->addr, N);
		check(same_n == N, "it still shares all %d pages with %s (%zu do)", N,
		      ws[i]->name, same_n);
	}
	if (tracing)
		check(copies == 0, "and none was copied back meanwhile (%ld xksm_unmerge events)",
		      copies);
	else
		xt_note("no tracefs: copies back not counted");
	for (i = 0; i < n; i++) {
		kill(fork_kids[i], SIGKILL);
		fork_kids[i] = 0;
	}
}

static void test_id(void)
{
	struct worker d1, mv, d2a, d2b, u, *ws[5] = { &d1, &mv, &d2a, &d2b, &u };
	struct xksm_stats st;
	int i, err;
	size_t n;

	xt_knob_set("run", 2);
	scope_set_or_die("id");

	spawn(&d1, "id1", -1);
	spawn(&mv, "id1-then-2", -1);
	spawn(&d2a, "id2-a", -1);
	spawn(&d2b, "id2-b", -1);
	spawn(&u, "uid1000", UID_A);
	for (i = 0; i < 5; i++)
		fill(ws[i], N, SEED);
	for (i = 0; i < 4; i++) {
		err = reg(ws[i], XKSM_SET_DOMAIN, i < 2 ? 1 : 2);
		check(err == 0, "%s registers with XKSM_SET_DOMAIN %d as root (%s)",
		      ws[i]->name, i < 2 ? 1 : 2, strerror(err));
	}

	/* Unprivileged: only domain 0. */
	err = reg(&u, XKSM_SET_DOMAIN, 5);
	check(err == EPERM, "uid 1000: XKSM_SET_DOMAIN 5 fails with EPERM (%s)", strerror(err));
	st = wstats(&u);
	check(!st.mergeable && !st.registered_bytes && !st.rmap_items && !st.domain,
	      "uid 1000: the refused call registered nothing (mergeable %llu, registered_bytes %llu, rmap_items %llu, domain %llu)",
	      (unsigned long long)st.mergeable, (unsigned long long)st.registered_bytes,
	      (unsigned long long)st.rmap_items, (unsigned long long)st.domain);
	check(dbg_domain(u.pid) == -1, "uid 1000: debugfs shows no mm_slot for it");
	err = reg(&u, XKSM_SET_DOMAIN, 0);
	check(err == 0, "uid 1000: XKSM_SET_DOMAIN 0 is allowed (%s)", strerror(err));
	err = reg(&u, XKSM_SET_DOMAIN, 2);
	check(err == EPERM, "uid 1000, registered: XKSM_SET_DOMAIN 2 fails with EPERM (%s)",
	      strerror(err));
	st = wstats(&u);
	check(st.domain == 0 && st.registered_bytes == N * XT_PAGE,
	      "uid 1000: still domain 0 with %lu bytes registered (domain %llu, %llu bytes)",
	      N * XT_PAGE, (unsigned long long)st.domain,
	      (unsigned long long)st.registered_bytes);

	/* Bad ids, as root. */
	err = reg(&d1, XKSM_SET_DOMAIN, 0x100000000ULL);
	check(err == EINVAL, "XKSM_SET_DOMAIN 0x100000000 fails with EINVAL (%s)", strerror(err));
	err = reg(&d1, 0, 3);
	check(err == EINVAL, "domain 3 without XKSM_SET_DOMAIN fails with EINVAL (%s)",
	      strerror(err));
	check_domain(&d1, "id", 1);
	check_domain(&mv, "id", 1);
	check_domain(&d2a, "id", 2);
	check_domain(&u, "id", 0);

	scan(3);
	check_split("id", &d1, &mv, &d2a, &d2b);
	for (i = 0; i < 4; i++) {
		n = same(&u, ws[i]);
		check(n == 0, "scope id: %s (domain 0) shares no PFN with %s (%zu do)",
		      u.name, ws[i]->name, n);
	}
	fork_keeps_pages(ws, 1, 1);

	/* A registration that registers nothing changes nothing. */
	err = call(&d1, 'H', 0, 0, XKSM_SET_DOMAIN, 7).err;
	check(err == ENOMEM, "%s: XKSM_SET_DOMAIN 7 over a hole fails with ENOMEM (%s)",
	      d1.name, strerror(err));
	check(dbg_domain(d1.pid) == 1 && wstats(&d1).domain == 1,
	      "and leaves %s in domain 1 (debugfs %lld)", d1.name, dbg_domain(d1.pid));
	n = same(&d1, &mv);
	check(n == N, "and its pages merged (%zu of %d)", n, N);

	/* Moving to domain 2 unmerges at once, scanner stopped. */
	err = reg(&mv, XKSM_SET_DOMAIN, 2);
	check(err == 0, "%s re-registers with XKSM_SET_DOMAIN 2 (%s)", mv.name, strerror(err));
	n = same(&mv, &d1);
	check(n == 0, "%s no longer shares a PFN with its domain-1 partner (%zu do)", mv.name, n);
	n = same(&mv, &d2a);
	check(n == 0, "%s shares nothing with domain 2 before a scan (%zu do)", mv.name, n);
	st = wstats(&mv);
	check(st.domain == 2 && st.merging_pages == 0,
	      "%s: domain 2, merging_pages 0 (domain %llu, merging_pages %llu)", mv.name,
	      (unsigned long long)st.domain, (unsigned long long)st.merging_pages);
	check(dbg_domain(mv.pid) == 2, "debugfs shows domain 2 for %s (%lld)", mv.name,
	      dbg_domain(mv.pid));
	check_intact(ws, 5);

	scan(3);
	n = same(&mv, &d2a);
	check(n == N, "%s now shares all %d pages with domain 2 (%zu do)", mv.name, N, n);
	n = same(&mv, &d1);
	check(n == 0, "%s shares no PFN with domain 1 (%zu do)", mv.name, n);
	n = same(&d2a, &d2b);
	check(n == N, "domain 2 still merged (%zu of %d)", n, N);
	n = same(&d1, &d2a) + same(&u, &mv) + same(&u, &d1);
	check(n == 0, "no PFN shared across domains 0, 1, 2 (%zu are)", n);
	check_intact(ws, 5);
	check_stop(ws, 5);
}

/*
 * 4b. Scope id with max_page_sharing 2: four processes of domain 1 with
 * the same pages make chains of two dups each (the second dup is made by
 * a merge of two pages whose content is already in the tree); their
 * forked children keep every page.
 */
static void test_id_chains(void)
{
	struct worker c[4], *ws[4] = { &c[0], &c[1], &c[2], &c[3] };
	static const char *const names[4] = { "chain-a", "chain-b", "chain-c", "chain-d" };
	long long chains;
	int i, err;

	xt_knob_set("run", 2);
	xt_knob_set_saved("max_page_sharing", 2);
	scope_set_or_die("id");
	for (i = 0; i < 4; i++) {
		spawn(ws[i], names[i], -1);
		fill(ws[i], N, SEED);
		err = reg(ws[i], XKSM_SET_DOMAIN, 1);
		check(err == 0, "%s registers in domain 1 (%s)", names[i], strerror(err));
	}
	scan(4);
	chains = xt_knob("stable_node_chains");
	check(chains == N, "max_page_sharing 2: a chain for each of the %d contents (%lld)",
	      N, chains);
	check(xt_knob("pages_shared") == 2 * N && xt_knob("pages_sharing") == 2 * N,
	      "of two dups each (pages_shared %lld, pages_sharing %lld)",
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	fork_keeps_pages(ws, 4, 1);
	check_intact(ws, 4);
	check_stop(ws, 4);
}

/* --- 5: zero pages ------------------------------------------------------ */

static void test_zero(void)
{
	struct worker a1, a2, b1, b2, *ws[4] = { &a1, &a2, &b1, &b2 };
	unsigned long zpfn = xt_zero_pfn();
	struct xksm_stats st;
	long long v, shared;
	int i, err;
	size_t n;

	check(zpfn != 0, "the zero page's PFN is known (%#lx)", zpfn);
	xt_knob_set("run", 2);
	scope_set_or_die("uid");
	xt_knob_set_saved("use_zero_pages", 1);
	if (xt_knob("max_page_sharing") < 2 * NZ)
		xt_knob_set_saved("max_page_sharing", 256);
	check(xt_knob("zero_pages_across_domains") == 0, "zero_pages_across_domains reads 0");

	spawn(&a1, "zero-uid1000-a", UID_A);
	spawn(&a2, "zero-uid1000-b", UID_A);
	spawn(&b1, "zero-uid1001-a", UID_B);
	spawn(&b2, "zero-uid1001-b", UID_B);
	for (i = 0; i < 4; i++) {
		fill(ws[i], NZ, 0);
		err = reg(ws[i], 0, 0);
		check(err == 0, "%s registers its %d zero-filled pages (%s)", ws[i]->name, NZ,
		      strerror(err));
	}
	for (n = 0, i = 0; i < 4; i++)
		n += at_pfn(ws[i], zpfn);
	check(n == 0, "before merging no zero-filled page maps the zero page (%zu do)", n);

	scan(3);
	for (n = 0, i = 0; i < 4; i++)
		n += at_pfn(ws[i], zpfn);
	check(n == 0, "zero_pages_across_domains=0: no page maps the zero page (%zu do)", n);
	n = same(&a1, &a2);
	check(n == NZ, "zero_pages_across_domains=0: uid 1000's empty pages merge with each other (%zu of %d)",
	      n, NZ);
	n = same(&b1, &b2);
	check(n == NZ, "zero_pages_across_domains=0: uid 1001's empty pages merge with each other (%zu of %d)",
	      n, NZ);
	n = same(&a1, &b1) + same(&a1, &b2) + same(&a2, &b1) + same(&a2, &b2);
	check(n == 0, "zero_pages_across_domains=0: no empty page shared across uids (%zu are)", n);
	v = xt_knob("ksm_zero_pages");
	shared = xt_knob("pages_shared");
	check(v == 0 && shared == 2,
	      "ksm_zero_pages == 0, pages_shared == 2: one merged empty page per uid (got %lld, %lld)",
	      v, shared);
	st = wstats(&a1);
	check(st.zero_pages == 0 && st.merging_pages == NZ,
	      "%s: zero_pages 0, merging_pages %d (got %llu, %llu)", a1.name, NZ,
	      (unsigned long long)st.zero_pages, (unsigned long long)st.merging_pages);
	err = xt_knob_write("zero_pages_across_domains", 1);
	check(err == EBUSY, "zero_pages_across_domains=1 while merged fails with EBUSY (%s)",
	      strerror(err));
	check_intact(ws, 4);

	xt_knob_set("run", 2);
	err = xt_knob_write("zero_pages_across_domains", 1);
	check(err == 0, "after run=2 zero_pages_across_domains=1 is accepted (%s)", strerror(err));
	check(xt_knob("zero_pages_across_domains") == 1, "zero_pages_across_domains reads 1");

	scan(3);
	for (n = 0, i = 0; i < 4; i++)
		n += at_pfn(ws[i], zpfn);
	check(n == 4 * NZ, "zero_pages_across_domains=1: every empty page of both uids maps the zero page (%zu of %d)",
	      n, 4 * NZ);
	v = xt_knob("ksm_zero_pages");
	shared = xt_knob("pages_shared");
	check(v == 4 * NZ && shared == 0, "ksm_zero_pages == %d, pages_shared == 0 (got %lld, %lld)",
	      4 * NZ, v, shared);
	st = wstats(&b1);
	check(st.zero_pages == NZ, "%s: zero_pages %d (got %llu)", b1.name, NZ,
	      (unsigned long long)st.zero_pages);

	/* Only ksm_zero_pages is non-zero now: both knobs are still locked. */
	err = xt_knob_write("zero_pages_across_domains", 0);
	check(err == EBUSY, "zero_pages_across_domains=0 while ksm_zero_pages != 0 fails with EBUSY (%s)",
	      strerror(err));
	check(xt_knob("zero_pages_across_domains") == 1, "zero_pages_across_domains still reads 1");
	err = xt_scope_set("all");
	check(err == EBUSY, "merge_scope=all while ksm_zero_pages != 0 fails with EBUSY (%s)",
	      strerror(err));
	check(!strcmp(xt_scope_get(), "uid"), "merge_scope still reads uid (%s)", xt_scope_get());
	check_intact(ws, 4);

	xt_knob_set("run", 2);
	v = xt_knob("ksm_zero_pages");
	check(v == 0, "run=2 takes every page off the zero page (ksm_zero_pages %lld)", v);
	for (n = 0, i = 0; i < 4; i++)
		n += at_pfn(ws[i], zpfn);
	check(n == 0, "after run=2 no page maps the zero page (%zu do)", n);
	err = xt_knob_write("zero_pages_across_domains", 0);
	check(err == 0, "zero_pages_across_domains=0 accepted again (%s)", strerror(err));
	check_intact(ws, 4);
	check_stop(ws, 4);
}

int main(int argc, char **argv)
{
	ssize_t len;
	int err;

	if (argc > 1 && !strcmp(argv[1], "worker"))
		return worker_main(argc, argv);

	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	xt_require(XKSM_FEATURE_DOMAIN, "DOMAIN");
	if (!check(access(XT_SCOPE_PATH, F_OK) == 0, "%s exists", XT_SCOPE_PATH) ||
	    !check(xt_knob_exists("zero_pages_across_domains"), "zero_pages_across_domains exists"))
		return done();
	if (geteuid() != 0)
		skip("needs root");

	len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0)
		fatal("readlink /proc/self/exe");
	self_exe[len] = 0;
	snprintf(helper, sizeof(helper), "%s/helper_as_user", dirname(strdupa(self_exe)));
	if (!check(access(helper, X_OK) == 0, "%s is at hand", helper))
		return done();

	xt_unmerge_all();	/* nothing merged, the scanner stopped */
	xt_knob_save("zero_pages_across_domains");
	xt_knob_save("use_zero_pages");
	main_pid = getpid();
	atexit(cleanup);	/* after xt_cleanup's: runs before it */

	check(!strcmp(xt_scope_get(), "all"), "merge_scope is all by default (%s)", xt_scope_get());
	if (strcmp(xt_scope_get(), "all"))
		scope_set_or_die("all");

	test_uid();
	test_memcg();
	test_id();
	test_id_chains();
	test_zero();

	/* 6. Back to scope all, nothing merged. */
	xt_knob_set("run", 2);
	err = xt_scope_set("all");
	check(err == 0 && !strcmp(xt_scope_get(), "all"), "merge_scope back to all (%s, reads %s)",
	      strerror(err), xt_scope_get());
	check(xt_knob("pages_shared") == 0 && xt_knob("ksm_zero_pages") == 0,
	      "nothing merged at the end (pages_shared %lld, ksm_zero_pages %lld)",
	      xt_knob("pages_shared"), xt_knob("ksm_zero_pages"));
	return done();
}
