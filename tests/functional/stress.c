// SPDX-License-Identifier: GPL-2.0
/*
 * Stress: processes doing to their memory what processes do, while xksmd
 * merges it at full speed, and every process checks its memory against
 * what it wrote, all the time.
 *
 * Workers hold a few registered regions of pages whose content is given by
 * a tag (0: zeros; else a pattern from a small set, so that pages of all
 * processes merge with each other).  Each worker does, at random: writes,
 * full checks, fork (the child goes on as a worker), fork+exec (a fresh
 * worker), munmap+mmap, mremap (grow, shrink, move), mprotect, madvise
 * (DONTNEED, PAGEOUT, COLD, HUGEPAGE, NOHUGEPAGE), mlock/munlock,
 * move_pages to the other node, unregistering (with and without
 * XKSM_KEEP_MERGED) and registering again, merge-any on and off, and
 * registering again in another merge domain (XKSM_SET_DOMAIN, ids 0 to 3:
 * under merge_scope=id that unmerges the whole mm first).  They run in a
 * memory cgroup whose memory.high pushes them into swap on zram.  The test
 * itself meanwhile switches run=2 and back, switches merge_scope (id, all,
 * uid, memcg) and merge_across_nodes while run=2 holds, compacts memory and
 * reads every debugfs file.
 *
 * It fails on any page that does not read back as written (zero lost or
 * corrupted writes), on any operation kind that never ran, if nothing
 * merged, if a domain id set does not read back, if merge_scope never
 * switched or refused to right after run=2, if no mm moved to another
 * domain under merge_scope=id, and if, once every worker is gone (and the
 * scope is back to all), xksm still counts anything:
 * pages_shared, pages_sharing, pages_unshared, pages_volatile, chains,
 * dups, zero pages, rmap_items, stable nodes, mm slots.  The harness then
 * unloads xksm under slab debugging (a leaked object fails the run).
 *
 * XKSM_STRESS_SECONDS sets the duration (default 20; `make stress` runs
 * minutes), XKSM_STRESS_SEED the seed.
 */
#include <dirent.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <numaif.h>

#include "xksm_test.h"

#define NWORKERS	4	/* workers the test keeps alive */
#define MAX_PROCS	12	/* workers at most, forks included */
#define NREGIONS	4
#define REGION_MAX	96	/* pages, but region 0: */
#define REGION_BIG	1024	/* room for a THP wherever it lands */
#define NTAGS		24	/* distinct non-zero contents */
#define CGROUP		"/sys/fs/cgroup/xksm-stress"

enum op {
	OP_WRITE, OP_CHECK, OP_FORK, OP_EXEC, OP_REMAP, OP_MREMAP_SIZE,
	OP_MREMAP_MOVE, OP_MPROTECT, OP_DONTNEED, OP_PAGEOUT, OP_COLD,
	OP_HUGEPAGE, OP_MLOCK, OP_MOVE_PAGES, OP_UNREGISTER, OP_MERGE_ANY,
	OP_DOMAIN, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"write", "check", "fork", "exec", "munmap+mmap", "mremap size",
	"mremap move", "mprotect", "DONTNEED", "PAGEOUT", "COLD",
	"HUGEPAGE", "mlock", "move_pages", "unregister", "merge-any",
	"domain",
};

/* merge_scope's words, in the module's order (domain.c). */
enum scope { SCOPE_ALL, SCOPE_UID, SCOPE_MEMCG, SCOPE_ID, NR_SCOPES };

static const char *const scope_names[NR_SCOPES] = { "all", "uid", "memcg", "id" };

/* What every process reports, in a shared memfd (it survives exec). */
struct shared {
	volatile int stop;
	int procs;			/* workers alive (atomic) */
	long ops[NR_OPS];		/* operations done (atomic) */
	long pages_checked;
	long bad_pages;
	long ioctl_errors;		/* register/unregister that failed */
	char first_bad[256];
	/*
	 * merge_scope as the test last set it, and a sequence number that is
	 * odd while the test is switching it: a worker knows the scope its
	 * ioctl ran under when the number was even and the same before and
	 * after.
	 */
	volatile int scope_seq;
	volatile int scope;
	long domain_moves;		/* to another id under scope id */
	long domain_bad;		/* an id set that did not read back */
	char first_domain_bad[256];
};

static struct shared *sh;
static int sh_fd;

struct region {
	char *addr;
	size_t pages;
	uint8_t *tag;			/* expected content of each page */
	int readonly, locked, registered;
};

static struct region reg[NREGIONS];
static uint64_t rng;
static double life_end;			/* a forked or exec'd worker's end */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t rnd_below(size_t n)
{
	return n ? rnd() % n : 0;
}

static uint64_t word(unsigned int tag, size_t w)
{
	uint64_t x = tag * 0x9e3779b97f4a7c15ULL + w;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void write_page(struct region *r, size_t i, unsigned int tag)
{
	uint64_t *p = (uint64_t *)(r->addr + i * XT_PAGE);
	size_t w;

	for (w = 0; w < XT_PAGE / 8; w++)
		p[w] = tag ? word(tag, w) : 0;
	r->tag[i] = tag;
}

static void check_region(struct region *r, const char *after)
{
	size_t i, w, bad = 0;

	for (i = 0; i < r->pages; i++) {
		const uint64_t *p = (const uint64_t *)(r->addr + i * XT_PAGE);
		unsigned int tag = r->tag[i];

		for (w = 0; w < XT_PAGE / 8; w++)
			if (p[w] != (tag ? word(tag, w) : 0))
				break;
		if (w == XT_PAGE / 8)
			continue;
		if (!bad++ && __sync_bool_compare_and_swap(&sh->first_bad[0], 0, '!'))
			snprintf(sh->first_bad, sizeof(sh->first_bad),
				 "pid %d, page %zu of %zu at %p, after %s: word %zu is %#llx, tag %u wants %#llx",
				 getpid(), i, r->pages, (void *)(r->addr + i * XT_PAGE),
				 after, w, (unsigned long long)p[w], tag,
				 (unsigned long long)(tag ? word(tag, w) : 0));
	}
	__sync_fetch_and_add(&sh->pages_checked, r->pages);
	__sync_fetch_and_add(&sh->bad_pages, bad);
}

static void do_register(struct region *r, int on)
{
	int err;

	if (on)
		err = xt_register(r->addr, r->pages * XT_PAGE);
	else
		err = xt_unregister(r->addr, r->pages * XT_PAGE,
				    rnd() & 1 ? XKSM_KEEP_MERGED : 0);
	/* ENOMEM: part of it is not mapped, documented; anything else is not. */
	if (err && errno != ENOMEM && errno != EINTR)
		__sync_fetch_and_add(&sh->ioctl_errors, 1);
	else
		r->registered = on;
}

/* A fresh region of @pages pages, filled, registered. */
static size_t region_max(struct region *r)
{
	return r == &reg[0] ? REGION_BIG : REGION_MAX;
}

static void region_new(struct region *r, size_t pages)
{
	size_t i;

	r->addr = mmap(NULL, pages * XT_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->addr == MAP_FAILED)
		fatal("mmap");
	r->pages = pages;
	if (!r->tag)
		r->tag = malloc(region_max(r));
	r->readonly = r->locked = 0;
	/* Half of the time, THPs from the first touch on. */
	if (rnd() & 1)
		madvise(r->addr, pages * XT_PAGE, MADV_HUGEPAGE);
	for (i = 0; i < pages; i++)
		write_page(r, i, rnd_below(4) ? 1 + rnd_below(NTAGS) : 0);
	do_register(r, 1);
}

static void region_free(struct region *r)
{
	munmap(r->addr, r->pages * XT_PAGE);
	r->addr = NULL;
	r->pages = 0;
}

static void worker_setup(void)
{
	int i;

	for (i = 0; i < NREGIONS; i++)
		region_new(&reg[i], 8 + rnd_below(region_max(&reg[i]) - 8));
}

static void run_worker(void);

/* fork: the child goes on as a worker of its own, for a while. */
static void op_fork(int exec_it)
{
	pid_t pid;

	if (__sync_fetch_and_add(&sh->procs, 1) >= MAX_PROCS) {
		__sync_fetch_and_sub(&sh->procs, 1);
		return;
	}
	pid = fork();
	if (pid < 0) {
		__sync_fetch_and_sub(&sh->procs, 1);
		return;
	}
	if (pid > 0)
		return;
	rng = rng * 31 + getpid();
	xt_cleanup_pid = -1;	/* not the test's process */
	life_end = xt_now() + 1 + rnd_below(4);
	if (exec_it) {
		char fd[16], seed[32], *argv[] = { "stress", "--worker", fd, seed, NULL };
		int i;

		for (i = 0; i < NREGIONS; i++)
			check_region(&reg[i], "fork, before exec");
		snprintf(fd, sizeof(fd), "%d", sh_fd);
		snprintf(seed, sizeof(seed), "%llu", (unsigned long long)rnd());
		execv("/proc/self/exe", argv);
		__sync_fetch_and_add(&sh->ioctl_errors, 1);
		__sync_fetch_and_sub(&sh->procs, 1);
		_exit(1);
	}
	run_worker();
}

static void op_mremap_size(struct region *r)
{
	size_t pages = 1 + rnd_below(region_max(r) - 1), i;
	char *p;

	p = mremap(r->addr, r->pages * XT_PAGE, pages * XT_PAGE, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return;
	r->addr = p;
	for (i = r->pages; i < pages; i++)
		r->tag[i] = 0;		/* grown: new anonymous pages */
	r->pages = pages;
	if (r->readonly)
		return;
	for (i = 0; i < pages; i += 1 + rnd_below(8))
		write_page(r, i, 1 + rnd_below(NTAGS));
	if (rnd() & 1)
		do_register(r, 1);	/* the new part too */
}

/* Move the region to a new place, as realloc() of big blocks does. */
static void op_mremap_move(struct region *r)
{
	char *to = mmap(NULL, r->pages * XT_PAGE, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;

	if (to == MAP_FAILED)
		return;
	p = mremap(r->addr, r->pages * XT_PAGE, r->pages * XT_PAGE,
		   MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (p == MAP_FAILED) {
		munmap(to, r->pages * XT_PAGE);
		return;
	}
	r->addr = p;
}

static void op_move_pages(struct region *r)
{
	void *pages[16];
	int nodes[16], status[16];
	size_t n = 1 + rnd_below(16), i;
	int node = rnd() & 1;

	for (i = 0; i < n; i++) {
		pages[i] = r->addr + rnd_below(r->pages) * XT_PAGE;
		nodes[i] = node;
	}
	syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
}

/* The mm's domain id (XKSM_IOC_GET_MERGE_ANY), or -1 with errno. */
static long long get_domain(void)
{
	struct xksm_merge_any ma = { 0 };

	if (ioctl(xt_dev(), XKSM_IOC_GET_MERGE_ANY, &ma))
		return -1;
	return ma.domain;
}

/*
 * Register the region, or a part of it, again in merge domain 0 to 3
 * (XKSM_SET_DOMAIN); now and then through merge-any instead.  Under
 * merge_scope=id a move to another id unmerges every page the mm has
 * merged first (xksm_rehome()), under the others it only sets the id.
 * The id must read back, and the region what was written.
 */
static void op_domain(struct region *r)
{
	unsigned int id = rnd_below(4);
	long long old = get_domain(), now;
	size_t start = 0, n = r->pages;
	int seq, scope, err;

	if (old < 0) {
		__sync_fetch_and_add(&sh->ioctl_errors, 1);
		return;
	}
	seq = sh->scope_seq;
	__sync_synchronize();
	scope = sh->scope;
	if (!rnd_below(5)) {
		struct xksm_merge_any ma = {
			.enable = 1, .flags = XKSM_SET_DOMAIN, .domain = id,
		};

		err = ioctl(xt_dev(), XKSM_IOC_SET_MERGE_ANY, &ma);
	} else {
		struct xksm_range rg = { .flags = XKSM_SET_DOMAIN, .domain = id };

		if (rnd() & 1) {
			start = rnd_below(r->pages);
			n = 1 + rnd_below(r->pages - start);
		}
		rg.start = (uintptr_t)(r->addr + start * XT_PAGE);
		rg.len = n * XT_PAGE;
		err = ioctl(xt_dev(), XKSM_IOC_MERGEABLE, &rg);
		if (!err && n == r->pages)
			r->registered = 1;
	}
	/* As do_register(): ENOMEM and EINTR are documented, nothing else. */
	if (err) {
		if (errno != ENOMEM && errno != EINTR)
			__sync_fetch_and_add(&sh->ioctl_errors, 1);
		check_region(r, "a failed domain change");
		return;
	}
	__sync_synchronize();
	if (!(seq & 1) && sh->scope_seq == seq && scope == SCOPE_ID && old != id)
		__sync_fetch_and_add(&sh->domain_moves, 1);
	now = get_domain();
	if (now != id) {
		if (!__sync_fetch_and_add(&sh->domain_bad, 1))
			snprintf(sh->first_domain_bad, sizeof(sh->first_domain_bad),
				 "pid %d: domain %u set (was %lld), reads %lld%s%s",
				 getpid(), id, old, now, now < 0 ? ": " : "",
				 now < 0 ? strerror(errno) : "");
	}
	check_region(r, "a domain change");
}

static void do_op(enum op op, struct region *r)
{
	size_t i, n, start;

	switch (op) {
	case OP_WRITE:
		if (r->readonly)
			return;
		n = 1 + rnd_below(8);
		for (i = 0; i < n; i++)
			write_page(r, rnd_below(r->pages), rnd_below(4) ? 1 + rnd_below(NTAGS) : 0);
		break;
	case OP_CHECK:
		check_region(r, "check");
		break;
	case OP_FORK:
	case OP_EXEC:
		op_fork(op == OP_EXEC);
		break;
	case OP_REMAP:
		if (r->locked)
			return;
		region_free(r);
		region_new(r, 1 + rnd_below(region_max(r)));
		break;
	case OP_MREMAP_SIZE:
		if (r->locked)
			return;
		op_mremap_size(r);
		break;
	case OP_MREMAP_MOVE:
		op_mremap_move(r);
		break;
	case OP_MPROTECT:
		if (!mprotect(r->addr, r->pages * XT_PAGE,
			      r->readonly ? PROT_READ | PROT_WRITE : PROT_READ))
			r->readonly = !r->readonly;
		break;
	case OP_DONTNEED:
		start = rnd_below(r->pages);
		n = 1 + rnd_below(r->pages - start);
		if (!madvise(r->addr + start * XT_PAGE, n * XT_PAGE, MADV_DONTNEED))
			for (i = start; i < start + n; i++)
				r->tag[i] = 0;
		break;
	case OP_PAGEOUT:
	case OP_COLD:
		start = rnd_below(r->pages);
		n = 1 + rnd_below(r->pages - start);
		madvise(r->addr + start * XT_PAGE, n * XT_PAGE,
			op == OP_PAGEOUT ? MADV_PAGEOUT : MADV_COLD);
		break;
	case OP_HUGEPAGE:
		madvise(r->addr, r->pages * XT_PAGE,
			rnd() & 1 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		break;
	case OP_MLOCK:
		if (r->locked ? !munlock(r->addr, r->pages * XT_PAGE) :
				!mlock(r->addr, r->pages * XT_PAGE))
			r->locked = !r->locked;
		break;
	case OP_MOVE_PAGES:
		op_move_pages(r);
		break;
	case OP_UNREGISTER:
		do_register(r, !r->registered);
		break;
	case OP_MERGE_ANY:
		if (xt_set_merge_any(rnd() & 1) && errno != EINTR && errno != ENOMEM)
			__sync_fetch_and_add(&sh->ioctl_errors, 1);
		break;
	case OP_DOMAIN:
		op_domain(r);
		break;
	default:
		return;
	}
	__sync_fetch_and_add(&sh->ops[op], 1);
}

/* Relative weights: mostly writes and checks. */
static enum op pick_op(void)
{
	static const unsigned char weight[NR_OPS] = {
		[OP_WRITE] = 40, [OP_CHECK] = 20, [OP_FORK] = 2, [OP_EXEC] = 1,
		[OP_REMAP] = 3, [OP_MREMAP_SIZE] = 3, [OP_MREMAP_MOVE] = 3,
		[OP_MPROTECT] = 4, [OP_DONTNEED] = 3, [OP_PAGEOUT] = 3,
		[OP_COLD] = 2, [OP_HUGEPAGE] = 2, [OP_MLOCK] = 3,
		[OP_MOVE_PAGES] = 4, [OP_UNREGISTER] = 3, [OP_MERGE_ANY] = 1,
		[OP_DOMAIN] = 3,
	};
	unsigned int sum = 0, x, i;

	for (i = 0; i < NR_OPS; i++)
		sum += weight[i];
	x = rnd_below(sum);
	for (i = 0; i < NR_OPS; i++) {
		if (x < weight[i])
			return i;
		x -= weight[i];
	}
	return OP_WRITE;
}

/* A worker's life: until told to stop (or its own life ends). */
static void run_worker(void)
{
	int i, status;

	while (!sh->stop && (!life_end || xt_now() < life_end)) {
		enum op op = pick_op();

		do_op(op, &reg[rnd_below(NREGIONS)]);
		if (op == OP_CHECK || op == OP_WRITE)
			sched_yield();
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
	}
	for (i = 0; i < NREGIONS; i++)
		check_region(&reg[i], "the end");
	while (wait(&status) > 0)
		;
	__sync_fetch_and_sub(&sh->procs, 1);
	_exit(0);
}

static void start_worker(void)
{
	pid_t pid;

	__sync_fetch_and_add(&sh->procs, 1);
	pid = xt_fork();
	if (pid)
		return;
	xt_cleanup_pid = -1;
	rng = rng * 31 + getpid();
	if (access(CGROUP, F_OK) == 0)
		xt_write_file(CGROUP "/cgroup.procs", "0");
	worker_setup();
	run_worker();
}

/* --- the test's own disturbances ---------------------------------------- */

static void read_tree(const char *dir)
{
	char path[512], buf[4096];
	struct dirent *d;
	DIR *dp = opendir(dir);
	int fd;

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.' || !strcmp(d->d_name, "profile"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	closedir(dp);
}

static long disturb[4];
static long across_busy, scope_switches, scope_failed, scope_transient;
static char scope_failure[320];	/* what the last long refusal looked like */

/* Write merge_scope, telling the workers: 0 or the errno. */
static int scope_set(enum scope to)
{
	int err;

	sh->scope_seq++;		/* odd: switching */
	__sync_synchronize();
	err = xt_scope_set(scope_names[to]);
	if (!err)
		sh->scope = to;
	__sync_synchronize();
	sh->scope_seq++;
	return err;
}

static long long debugfs_objects(const char *name);
static long long keyed_number(const char *path, const char *key);

/* What xksm counts as merged, for a refused switch. */
static void print_merged(const char *why)
{
	static const char *const knobs[] = {
		"run", "pages_shared", "pages_sharing", "pages_unshared",
		"pages_volatile", "stable_node_chains", "stable_node_dups",
		"ksm_zero_pages", "use_zero_pages", "merge_across_nodes",
	};
	long long v;
	unsigned int i;

	printf("# %s: scope reads %s;", why, xt_scope_get());
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (!xt_knob_read(knobs[i], &v))
			printf(" %s=%lld", knobs[i], v);
	printf("; debugfs stable nodes %lld, rmap_items %lld, mm slots %lld, forks lost %lld, routes lost %lld\n",
	       debugfs_objects("xksm_stable_node"), debugfs_objects("xksm_rmap_item"),
	       debugfs_objects("xksm_mm_slot"),
	       keyed_number("/sys/kernel/debug/xksm/scan", "forks_lost"),
	       keyed_number("/sys/kernel/debug/xksm/scan", "routes_lost"));
	fflush(stdout);
}

/*
 * Who maps the pages of the stable nodes still there, when a switch is
 * refused: every process's pagemap against debugfs' stable_tree, with the
 * process's state and parent and its mm_slot (debugfs' mm_slots).
 */
static char first_mapper[160];	/* of the last print_mappers() */

static void print_mappers(void)
{
	static unsigned long long kpfn[64];
	static char slots[1 << 16];
	char path[64], line[512], comm[64], state;
	int nk = 0, found = 0, fd, pid, ppid, i;
	ssize_t len = 0, r;
	struct dirent *d;
	DIR *proc;
	FILE *f;

	f = fopen("/sys/kernel/debug/xksm/stable_tree", "r");
	for (i = 0; f && fgets(line, sizeof(line), f); i++) {
		char *k = strstr(line, " kpfn ");

		if (i < 16)
			printf("# stable_tree: %s", line);
		if (k && nk < 64 && sscanf(k, " kpfn %llu", &kpfn[nk]) == 1)
			nk++;
	}
	if (f)
		fclose(f);
	fd = open("/sys/kernel/debug/xksm/mm_slots", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && len < (ssize_t)sizeof(slots) - 1 &&
	       (r = read(fd, slots + len, sizeof(slots) - 1 - len)) > 0)
		len += r;
	slots[len] = 0;
	if (fd >= 0)
		close(fd);
	proc = opendir("/proc");
	while (proc && found < 12 && (d = readdir(proc))) {
		unsigned long start, end, a;
		FILE *maps;
		int pm;

		pid = atoi(d->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		maps = fopen(path, "r");
		snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
		pm = open(path, O_RDONLY | O_CLOEXEC);
		while (maps && pm >= 0 && found < 12 && fgets(line, sizeof(line), maps)) {
			if (sscanf(line, "%lx-%lx", &start, &end) != 2 || end > 1UL << 47)
				continue;
			for (a = start; a < end && found < 12; a += XT_PAGE) {
				uint64_t e;
				char *sl;

				if (pread(pm, &e, 8, a / XT_PAGE * 8) != 8)
					break;
				if (!(e & XT_PM_PRESENT))
					continue;
				for (i = 0; i < nk && kpfn[i] != (e & XT_PM_PFN_MASK); i++)
					;
				if (i == nk)
					continue;
				found++;
				snprintf(path, sizeof(path), "/proc/%d/stat", pid);
				comm[0] = state = '?';
				comm[1] = 0;
				ppid = -1;
				f = fopen(path, "r");
				if (f) {
					if (fscanf(f, "%*d (%63[^)]) %c %d", comm, &state, &ppid) < 1)
						comm[0] = '?';
					fclose(f);
				}
				snprintf(path, sizeof(path), "pid %d comm", pid);
				sl = strstr(slots, path);
				printf("# kpfn %llu mapped by pid %d (%s, state %c, ppid %d) at %#lx; %.*s\n",
				       kpfn[i], pid, comm, state, ppid, a,
				       sl ? (int)strcspn(sl, "\n") : 10, sl ? sl : "no mm_slot");
				if (found == 1)
					snprintf(first_mapper, sizeof(first_mapper),
						 "kpfn %llu mapped by pid %d (%s, state %c), %s",
						 kpfn[i], pid, comm, state,
						 sl ? "registered" : "no mm_slot");
			}
		}
		if (maps)
			fclose(maps);
		if (pm >= 0)
			close(pm);
	}
	if (proc)
		closedir(proc);
	if (!found)
		snprintf(first_mapper, sizeof(first_mapper),
			 "%d stable node page(s), no mapping found", nk);
	printf("# %d stable node page(s), %d mapping(s) of them found\n", nk, found);
	fflush(stdout);
}

/*
 * Right after run=2, with nothing merged: merge_scope to the next of a
 * cycle that visits every scope and every other time "id", where the
 * workers' domain changes move their mms.  Disturbance 0 switches away
 * from "id", 1 back to it, so it holds through 2 and 3 too (the long
 * debugfs reads of slow kernels).  It must not be refused for long:
 * run=2 has unmerged everything and stays until run=1.  Only a fork in
 * flight may still hold merged pages (xksm learns of a fork after its
 * page tables are copied, and copies the child's pages back at once), or
 * an exit in flight (its pages stay mapped until its exit_mmap() has
 * zapped them; mainline's KSM has the same window between ksm_exit() and
 * exit_mmap()).  That refusal must be gone within three seconds (the
 * fork's work item waits for a worker; in a guest this busy, under TCG,
 * that once took 1.8 s).
 */
static void switch_scope(void)
{
	static const enum scope cycle[] = {
		SCOPE_UID, SCOPE_ID, SCOPE_MEMCG, SCOPE_ID, SCOPE_ALL, SCOPE_ID,
	};
	static unsigned int next;
	enum scope to = cycle[next++ % (sizeof(cycle) / sizeof(cycle[0]))];
	char why[96];
	int err = scope_set(to), i;

	if (!err) {
		scope_switches++;
		return;
	}
	snprintf(why, sizeof(why), "merge_scope=%s right after run=2 failed: %s",
		 scope_names[to], strerror(err));
	print_merged(why);
	print_mappers();
	/* Does it last?  (Still run=2.) */
	for (i = 0; i < 50 && err; i++) {
		xt_msleep(100);
		err = scope_set(to);
	}
	snprintf(why, sizeof(why), "merge_scope=%s %s after %d00 ms more of run=2",
		 scope_names[to], err ? strerror(err) : "done", i);
	print_merged(why);
	if (err)
		print_mappers();
	if (err || i > 30) {
		scope_failed++;		/* still refused after three seconds */
		/* For the verdict line, which is all CI shows of a failure. */
		snprintf(scope_failure, sizeof(scope_failure),
			 ": merge_scope=%s %s after %d00 ms, pages_shared %lld; last look: %s",
			 scope_names[to], err ? "still refused" : "done", i,
			 xt_knob("pages_shared"), first_mapper);
	} else {
		scope_transient++;
	}
	if (!err)
		scope_switches++;
}

/* How many disturbances have been made, of every kind. */
static long disturbances(void)
{
	return disturb[0] + disturb[1] + across_busy + disturb[2] + disturb[3];
}

/* One of the test's disturbances, in turn, each timed. */
static void disturb_once(void)
{
	static unsigned int turn;
	double t0 = xt_now();
	int across, kind = turn++ % 4;

	switch (kind) {
	case 0:		/* unmerge everything, switch scope, merge again */
		xt_knob_set("run", 2);
		switch_scope();
		xt_knob_set("run", 1);
		disturb[0]++;
		break;
	case 1:		/* merge_across_nodes and scope: nothing merged */
		across = !xt_knob("merge_across_nodes");
		xt_knob_set("run", 2);
		if (!xt_knob_write("merge_across_nodes", across))
			disturb[1]++;
		else
			across_busy++;
		switch_scope();
		xt_knob_set("run", 1);
		break;
	case 2:
			xt_write_file("/proc/sys/vm/compact_memory", "1");
			disturb[2]++;
		break;
	default:
		read_tree("/sys/kernel/debug/xksm");
		read_tree("/sys/kernel/mm/xksm");
		disturb[3]++;
		break;
	}
	if (xt_now() - t0 > 2)
		printf("# disturbance %d took %.1f s\n", kind, xt_now() - t0);
}

static void make_cgroup(void)
{
	if (xt_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory"))
		return;
	mkdir(CGROUP, 0755);
	/* Over memory.high, the workers reclaim themselves: swap on zram. */
	xt_write_file(CGROUP "/memory.high", "24M");
}

static void remove_cgroup(void)
{
	rmdir(CGROUP);
}

/*
 * The number after @name at the start of a line of @path ("name N ..."),
 * as /proc/vmstat, /proc/slabinfo (active_objs) and debugfs' objects
 * write them; -1 if there is none.
 */
static long long keyed_number(const char *path, const char *name)
{
	char line[512], key[64];
	long long v = -1, n;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &n) == 2 && !strcmp(key, name))
			v = n;
	fclose(f);
	return v;
}

static long long debugfs_objects(const char *name)
{
	return keyed_number("/sys/kernel/debug/xksm/objects", name);
}

/*
 * Whether the kernel has KASAN: its quarantine keeps freed objects counted
 * in /proc/slabinfo for a while (kmem_cache_destroy() at rmmod drains it,
 * and the harness fails the run on any object left then).
 */
static int kernel_has_kasan(void)
{
	char line[256];
	int found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " kasan_quarantine_reduce") != NULL;
	fclose(f);
	return found;
}

/* A counter of /proc/vmstat (0 if there is none). */
static long long vmstat(const char *name)
{
	long long v = keyed_number("/proc/vmstat", name);

	return v < 0 ? 0 : v;
}

/* active_objs of a slab cache in /proc/slabinfo, -1 if not there. */
static long long slab_objects(const char *name)
{
	return keyed_number("/proc/slabinfo", name);
}

static pid_t main_pid;

/*
 * At exit, before xt_cleanup() (registered after it, so run first): the
 * workers told to stop, run=2, and merge_scope back to all.
 */
static void cleanup(void)
{
	int n, err;

	if (getpid() != main_pid)
		return;
	sh->stop = 1;
	for (n = 0; n < 100 && __sync_fetch_and_add(&sh->procs, 0) > 0; n++)
		xt_msleep(100);
	if (!strcmp(xt_scope_get(), "all"))
		return;
	xt_knob_write("run", 2);
	err = scope_set(SCOPE_ALL);
	if (err)
		printf("# cleanup: merge_scope=all failed: %s\n", strerror(err));
	fflush(stdout);
}

static int worker_main(int fd, uint64_t seed)
{
	sh_fd = fd;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (sh == MAP_FAILED)
		return 1;
	rng = seed | 1;
	life_end = xt_now() + 1 + rnd_below(4);
	worker_setup();
	run_worker();
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("XKSM_STRESS_SECONDS");
	static const char *const zero_knobs[] = {
		"pages_shared", "pages_sharing", "pages_unshared",
		"pages_volatile", "stable_node_chains", "stable_node_dups",
		"ksm_zero_pages",
	};
	static const char *const caches[] = {
		"xksm_rmap_item", "xksm_stable_node", "xksm_mm_slot",
	};
	static const char *const events[] = {
		"pswpout", "pswpin", "pgmigrate_success", "thp_fault_alloc",
		"thp_split_page", "compact_stall",
	};
	long long max_sharing = 0, max_chains = 0, v, ev[6];
	double seconds = env ? atof(env) : 20, end, next_disturb;
	unsigned int i, missing = 0;
	int status, n, kasan;
	uint64_t seed;

	if (argc == 4 && !strcmp(argv[1], "--worker"))
		return worker_main(atoi(argv[2]), strtoull(argv[3], NULL, 0));

	env = getenv("XKSM_STRESS_SEED");
	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
	rng = seed | 1;
	xt_note("seed %llu (XKSM_STRESS_SEED), %.0f s (XKSM_STRESS_SECONDS)",
		(unsigned long long)seed, seconds);
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_require(XKSM_FEATURE_DOMAIN, "DOMAIN");
	xt_unmerge_all();

	sh_fd = memfd_create("xksm-stress", 0);
	if (sh_fd < 0 || ftruncate(sh_fd, sizeof(*sh)))
		fatal("memfd");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sh_fd, 0);
	if (sh == MAP_FAILED)
		fatal("mmap shared");
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	xt_zram_swap_on();
	make_cgroup();
	xt_knob_set_saved("sleep_millisecs", 0);
	xt_knob_set_saved("pages_to_scan", 1000);
	xt_knob_set_saved("max_page_sharing", 4);	/* chains, too */
	xt_knob_save("merge_across_nodes");
	main_pid = getpid();
	atexit(cleanup);
	if (!check(!strcmp(xt_scope_get(), "all"), "merge_scope is all at the start (%s)",
		   xt_scope_get()))
		exit(done());
	sh->scope = SCOPE_ALL;
	xt_knob_set_saved("run", 1);

	for (i = 0; i < 6; i++)
		ev[i] = vmstat(events[i]);
	end = xt_now() + seconds;
	next_disturb = xt_now() + 1;
	/*
	 * Past the end, go on until every kind of disturbance has happened
	 * once (on the debug kernel one of them can take several seconds),
	 * and then without disturbances until pages merged and chains
	 * formed, for at most 90 s: on a slow kernel a full scan may take
	 * longer than the time between two run=2.
	 */
	while (xt_now() < end || (xt_now() < end + 90 &&
	       (disturbances() < 4 || !max_sharing || !max_chains))) {
		while (__sync_fetch_and_add(&sh->procs, 0) < NWORKERS)
			start_worker();
		if ((xt_now() < end || disturbances() < 4) && xt_now() >= next_disturb) {
			disturb_once();
			next_disturb = xt_now() + 0.5 + rnd_below(1000) / 1000.0;
		}
		v = xt_knob("pages_sharing");
		if (v > max_sharing)
			max_sharing = v;
		v = xt_knob("stable_node_chains");
		if (v > max_chains)
			max_chains = v;
		while (waitpid(-1, &status, WNOHANG) > 0)
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				sh->ioctl_errors += 1000;	/* a worker died */
		xt_msleep(100);
	}

	/* Every worker finishes with a full check of its memory. */
	sh->stop = 1;
	for (n = 0; n < 600 && __sync_fetch_and_add(&sh->procs, 0) > 0; n++)
		xt_msleep(100);
	check(sh->procs == 0, "every worker stopped (%d left)", sh->procs);
	while ((n = waitpid(-1, &status, 0)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			sh->ioctl_errors += 1000;

	for (i = 0; i < NR_OPS; i++) {
		printf("# %-12s %ld\n", op_names[i], sh->ops[i]);
		missing += !sh->ops[i];
	}
	printf("# run=2 %ld, merge_across_nodes switched %ld (EBUSY %ld), compactions %ld, reads %ld\n",
	       disturb[0], disturb[1], across_busy, disturb[2], disturb[3]);
	printf("# merge_scope switched %ld (refused %ld); moves to another id under scope id %ld\n",
	       scope_switches, scope_failed, sh->domain_moves);
	for (i = 0; i < 6; i++) {
		ev[i] = vmstat(events[i]) - ev[i];
		printf("# %-18s %lld\n", events[i], ev[i]);
	}
	check(ev[0] > 0 && ev[1] > 0, "pages went to swap on zram (%lld) and came back (%lld)",
	      ev[0], ev[1]);
	check(ev[2] > 0, "pages migrated (%lld)", ev[2]);
	check(ev[3] > 0, "THPs were faulted in (%lld)", ev[3]);
	check(missing == 0, "every kind of operation ran (%u never did)", missing);
	check(sh->bad_pages == 0, "no page lost or corrupted: %ld bad of %ld pages checked%s%s",
	      sh->bad_pages, sh->pages_checked, sh->bad_pages ? ": first " : "",
	      sh->bad_pages ? sh->first_bad : "");
	check(sh->ioctl_errors == 0, "no worker died, no registration failed unexpectedly (%ld)",
	      sh->ioctl_errors);
	check(max_sharing > 0 && max_chains > 0,
	      "pages merged while the workers ran (pages_sharing up to %lld, chains up to %lld)",
	      max_sharing, max_chains);
	check(disturb[0] && disturb[1] && disturb[2] && disturb[3],
	      "run=2 (%ld), merge_across_nodes (%ld), compaction (%ld) and debugfs reads (%ld) happened",
	      disturb[0], disturb[1], disturb[2], disturb[3]);
	check(scope_switches > 0 && scope_failed == 0,
	      "merge_scope switched right after run=2 (%ld times), never refused for over 3 s (%ld; %ld times briefly, a fork or exit in flight)%s",
	      scope_switches, scope_failed, scope_transient, scope_failure);
	check(sh->domain_moves > 0, "mms moved to another domain under merge_scope=id (%ld)",
	      sh->domain_moves);
	check(sh->domain_bad == 0, "every domain id set read back (%ld did not%s%s)",
	      sh->domain_bad, sh->domain_bad ? ": first " : "",
	      sh->domain_bad ? sh->first_domain_bad : "");

	/*
	 * Nothing left: every mm has exited, and run=2 unmerges and drops
	 * whatever the scanner had not reaped yet.
	 */
	xt_knob_set("run", 2);
	n = scope_set(SCOPE_ALL);
	if (!check(n == 0 && !strcmp(xt_scope_get(), "all"),
		   "merge_scope back to all after run=2 (%s, reads %s)",
		   n ? strerror(n) : "done", xt_scope_get()))
		print_merged("merge_scope=all at the end refused");
	for (n = 0; n < 100 && debugfs_objects("xksm_mm_slot") > 0; n++)
		xt_msleep(100);
	for (i = 0; i < sizeof(zero_knobs) / sizeof(zero_knobs[0]); i++) {
		v = xt_knob(zero_knobs[i]);
		check(v == 0, "%s back to 0 (%lld)", zero_knobs[i], v);
	}
	kasan = kernel_has_kasan();
	for (i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		v = debugfs_objects(caches[i]);
		check(v == 0, "xksm counts no %s left (%lld)", caches[i], v);
		v = slab_objects(caches[i]);
		if (v > 0 && kasan)
			printf("# %s: %lld objects in the slab cache, KASAN's quarantine holds freed ones\n",
			       caches[i], v);
		else
			check(v == 0, "the %s slab cache is empty (%lld objects)", caches[i], v);
	}
	xt_knob_set("run", 1);
	remove_cgroup();
	xt_zram_swap_off();
	return done();
}
