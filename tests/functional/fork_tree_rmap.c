// SPDX-License-Identifier: GPL-2.0
/*
 * The cost of the kernel's rmap walk over a KSM page shared by a tree of
 * forks, and its correctness.
 *
 * A process P merges NPAIRS pairs of pages (page i and page NPAIRS + i
 * alike), then forks 64 children that only wait on a pipe.  They inherit
 * P's registration, so xksm scans them too and each of their mappings gets
 * an rmap_item on the same stable nodes: every KSM page is mapped 130
 * times, by 65 processes.  Migrating a KSM page walks its rmap (twice:
 * unmapping, then restoring the ptes), which searches the anon_vma tree of
 * every rmap_item on the stable node.  The test moves one child's pages to
 * the other NUMA node and back with move_pages(MPOL_MF_MOVE_ALL), a few
 * times, and asserts only correctness: every status is the target node,
 * the child's PFNs (pagemap) are on it, and the child still shares every
 * page with P and with two other children; P's data stays intact.  The
 * time is printed, never asserted (guests run under TCG emulation).  On
 * the debug kernel (KASAN, lockdep), where the times say nothing, each
 * shape makes ROUNDS_DEBUG round trips instead of ROUNDS: every check
 * still runs after each move.
 *
 * The same shape is then timed with xksm's dedup_routes module parameter
 * off (where the module has it: one anon_vma search per rmap_item, covered
 * or not), and with the kernel's own KSM (MADV_MERGEABLE, ksmd), and the
 * ratio xksm/ksm is printed ("# rmap-walk ratio ...").  After each shape
 * the children are killed: deferred_rmap_items (where the module has it)
 * drops to 0 and P's pairs alone stay merged; then P exits and
 * pages_shared/pages_sharing are back to their values before.  The
 * kernel's KSM knobs, and dedup_routes, are restored at exit.
 */
#include <numa.h>
#include <signal.h>

#include "xksm_test.h"

#define NPAIRS		32
#define NPG		(2 * NPAIRS)	/* pages P maps */
#define NCHILD		64
#define ROUNDS		10		/* round trips timed per shape */
#define ROUNDS_DEBUG	4		/* ... on the debug kernel */
#define SEED		0x6b12
#define STATUS_UNSET	(-99999)
#define XKSM_DIR	"/sys/kernel/mm/xksm"
#define KSM_DIR		"/sys/kernel/mm/ksm"
#define DEDUP		"/sys/module/xksm/parameters/dedup_routes"
#define DEFERRED	"deferred_rmap_items"

struct shared {
	pid_t kids[NCHILD];
};

static struct shared *sh;
static char *mem;		/* P's pages (T's own mapping stays untouched) */
static int use_ksm;		/* P registers with the kernel's KSM */
static int hold[2];		/* the children wait for EOF on hold[0] */
static int rounds = ROUNDS;	/* ROUNDS_DEBUG on the debug kernel */

/* --- knobs of either KSM ------------------------------------------------ */

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = 0;
	return 0;
}

static long long knob_at(const char *dir, const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((errno = read_file(path, buf, sizeof(buf))))
		fatal("read %s", path);
	return strtoll(buf, NULL, 0);
}

static void knob_set_at(const char *dir, const char *name, long long val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(buf, sizeof(buf), "%lld", val);
	if ((errno = xt_write_file(path, buf)))
		fatal("write %s to %s", buf, path);
}

static int wait_knob_at(const char *dir, const char *name, long long want, int timeout_s)
{
	double deadline = xt_now() + timeout_s;

	while (knob_at(dir, name) != want) {
		if (xt_now() > deadline)
			return 0;
		xt_msleep(20);
	}
	return 1;
}

static void wait_scans_at(const char *dir, int n)
{
	long long start = knob_at(dir, "full_scans");
	double deadline = xt_now() + XT_TIMEOUT_S;

	while (knob_at(dir, "full_scans") < start + n) {
		if (xt_now() > deadline) {
			check(0, "%s/full_scans advances by %d within %d s", dir, n, XT_TIMEOUT_S);
			exit(done());
		}
		xt_msleep(10);
	}
}

/* The kernel's KSM knobs this test changes, and dedup_routes, restored at exit. */
static long long ksm_saved[3];
static int ksm_touched;
static char dedup_saved[8];

static void restore(void)
{
	static const char *const names[] = { "pages_to_scan", "sleep_millisecs", "run" };
	char path[128], buf[32];
	int i;

	if (dedup_saved[0]) {
		xt_write_file(DEDUP, dedup_saved);
		dedup_saved[0] = 0;
	}
	if (!ksm_touched)
		return;
	ksm_touched = 0;
	xt_write_file(KSM_DIR "/run", "2");
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), KSM_DIR "/%s", names[i]);
		snprintf(buf, sizeof(buf), "%lld", ksm_saved[i]);
		if (xt_write_file(path, buf))
			printf("# restoring %s=%s failed\n", path, buf);
	}
}

static void ksm_start_fast(void)
{
	if (!ksm_touched) {
		ksm_saved[0] = knob_at(KSM_DIR, "pages_to_scan");
		ksm_saved[1] = knob_at(KSM_DIR, "sleep_millisecs");
		ksm_saved[2] = knob_at(KSM_DIR, "run");
		ksm_touched = 1;
	}
	knob_set_at(KSM_DIR, "pages_to_scan", 5000);
	knob_set_at(KSM_DIR, "sleep_millisecs", 0);
	knob_set_at(KSM_DIR, "run", 1);
}

/*
 * The NUMA node of a page frame, as xt_pfn_node() tells it, but looked up
 * in tables made once: a move looks up 64 frames.  With memory blocks, each
 * block's node (sysfs) is remembered; without them (kernels without memory
 * hotplug, such as the debug kernel) the zones' spans come from one read of
 * /proc/zoneinfo, where xt_pfn_node() reads it for every frame (10 ms each
 * there).  Nothing is hot-plugged while the test runs.
 */
static int pfn_node(unsigned long pfn)
{
	static struct { unsigned long long block; int node; } seen[64];
	static struct { unsigned long long start, end; int node; } zone[64];
	static unsigned long long block_size;
	static int nseen, nzones, ready;
	unsigned long long block, spanned = 0, start;
	char line[256];
	int i, node = -1;

	if (!ready) {
		FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "re");

		ready = 1;
		if (f) {
			if (fscanf(f, "%llx", &block_size) != 1)
				block_size = 0;
			fclose(f);
		}
		f = block_size ? NULL : fopen("/proc/zoneinfo", "re");
		while (f && nzones < 64 && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Node %d, zone", &node) == 1) {
				spanned = 0;
			} else if (sscanf(line, " spanned %llu", &spanned) == 1) {
				;
			} else if (sscanf(line, " start_pfn: %llu", &start) == 1) {
				zone[nzones].start = start;
				zone[nzones].end = start + spanned;
				zone[nzones++].node = node;
			}
		}
		if (f)
			fclose(f);
	}
	if (!pfn)
		return -1;
	if (!block_size) {
		for (i = 0; i < nzones; i++)
			if (pfn >= zone[i].start && pfn < zone[i].end)
				return zone[i].node;
		return -1;
	}
	block = (unsigned long long)pfn * XT_PAGE / block_size;
	for (i = 0; i < nseen; i++)
		if (seen[i].block == block)
			return seen[i].node;
	node = xt_pfn_node(pfn);
	if (node >= 0 && nseen < 64) {
		seen[nseen].block = block;
		seen[nseen++].node = node;
	}
	return node;
}

/* How many of n pages of a (pid pa) and b (pid pb) share a PFN, page by page. */
static size_t same_pfns(pid_t pa, const void *a, pid_t pb, const void *b, size_t n)
{
	unsigned long fa[NPG], fb[NPG];
	size_t i, same = 0;

	xt_pfns_pid(pa, a, n, fa);
	xt_pfns_pid(pb, b, n, fb);
	for (i = 0; i < n; i++)
		same += fa[i] && fa[i] == fb[i];
	return same;
}

/* --- P and its children ---------------------------------------------------- */

static int p_fn(int cmd, void *arg)
{
	int i, n;
	pid_t pid;

	(void)arg;
	switch (cmd) {
	case 0:
		xt_fill(mem, NPAIRS, SEED);
		xt_fill(mem + NPAIRS * XT_PAGE, NPAIRS, SEED);
		if (use_ksm)
			return madvise(mem, NPG * XT_PAGE, MADV_MERGEABLE) ? errno : 0;
		return xt_register(mem, NPG * XT_PAGE) ? errno : 0;
	case 'f':	/* the children: they wait, inheriting the registration */
		if (pipe2(hold, O_CLOEXEC))
			return 1;
		fflush(stdout);
		for (i = 0; i < NCHILD; i++) {
			pid = fork();
			if (pid < 0)
				return 2;
			if (pid == 0) {
				char x;

				close(hold[1]);
				while (read(hold[0], &x, 1) > 0)
					;
				_exit(0);
			}
			sh->kids[i] = pid;
		}
		close(hold[0]);
		return 0;
	case 'v':
		return xt_verify(mem, NPAIRS, SEED) + xt_verify(mem + NPAIRS * XT_PAGE, NPAIRS, SEED) ?
		       1 : 0;
	case 'k':	/* kill the children and reap them */
		for (i = 0; i < NCHILD; i++)
			kill(sh->kids[i], SIGKILL);
		for (n = 0, i = 0; i < NCHILD; i++)
			n += waitpid(sh->kids[i], NULL, 0) == sh->kids[i];
		close(hold[1]);
		return NCHILD - n;
	}
	return 255;
}

/* --- T: one shape, timed ----------------------------------------------------- */

struct tally {
	size_t moved, on_target, shared, twins, total;
	long bad_ret;
};

/*
 * Move all NPG pages of child 0 to the node other than the one each is
 * on; returns the seconds the two move_pages() calls took.  Pages
 * 0..NPAIRS-1 go first (one mapping of each merged page), then their twins,
 * on the target node by then: moving both mappings of a page in one call
 * reports the second as EBUSY.
 */
static double move_child(pid_t ppid, struct tally *t)
{
	pid_t kid = sh->kids[0];
	void *pages[NPG];
	int cur[NPG], target[NPG], status[NPG];
	pid_t other[3] = { ppid, sh->kids[1], sh->kids[NCHILD - 1] };
	unsigned long pfn[NPG], opfn[NPG];
	long r0, r1, r2;
	double t0, dt;
	size_t i, k;

	for (i = 0; i < NPG; i++) {
		pages[i] = mem + i * XT_PAGE;
		cur[i] = -1;
	}
	r0 = move_pages(kid, NPG, pages, NULL, cur, 0);
	for (i = 0; i < NPG; i++) {
		target[i] = cur[i] == 0 ? 1 : 0;
		status[i] = STATUS_UNSET;
	}
	t0 = xt_now();
	r1 = move_pages(kid, NPAIRS, pages, target, status, MPOL_MF_MOVE_ALL);
	r2 = move_pages(kid, NPAIRS, pages + NPAIRS, target + NPAIRS, status + NPAIRS,
			MPOL_MF_MOVE_ALL);
	dt = xt_now() - t0;

	if (r0 || r1 || r2)
		t->bad_ret = r0 ? r0 : r1 ? r1 : r2;
	xt_pfns_pid(kid, mem, NPG, pfn);
	for (i = 0; i < NPG; i++) {
		t->moved += status[i] == target[i];
		t->on_target += pfn_node(pfn[i]) == target[i];
	}
	for (k = 0; k < 3; k++) {
		xt_pfns_pid(other[k], mem, NPG, opfn);
		for (i = 0; i < NPG; i++)
			t->shared += pfn[i] && pfn[i] == opfn[i];
	}
	for (i = 0; i < NPAIRS; i++)
		t->twins += pfn[i] && pfn[i] == pfn[NPAIRS + i];
	t->total++;
	return dt;
}

/*
 * The shape on one backend (KSM_DIR: the kernel's KSM); returns the best
 * round trip, in milliseconds.
 */
static double shape(const char *name, const char *dir)
{
	long long shared0 = knob_at(dir, "pages_shared"), sharing0 = knob_at(dir, "pages_sharing");
	long long want = sharing0 + NPAIRS + (long long)NCHILD * NPG;
	int xksm = strcmp(dir, KSM_DIR) != 0, deferred = xksm && xt_knob_exists(DEFERRED);
	struct tally t = { 0 };
	double best = 1e9, sum = 0, dt;
	struct xt_child p;
	size_t merged = 0;
	int i, err, ok;

	xt_note("----- %s -----", name);
	use_ksm = !xksm;
	err = xt_child_start(&p, p_fn, NULL);
	if (!check(err == 0, "%s: P fills %d pairs and registers them (%s)", name, NPAIRS,
		   strerror(err)))
		exit(done());
	for (i = 0; i < 10 && merged != NPAIRS; i++) {
		wait_scans_at(dir, 1);
		merged = same_pfns(p.pid, mem, p.pid, mem + NPAIRS * XT_PAGE, NPAIRS);
	}
	check(merged == NPAIRS, "%s: P's %d pairs are merged (%zu)", name, NPAIRS, merged);
	check(xt_child_cmd(&p, 'f') == 0, "%s: P forks %d children", name, NCHILD);

	/* Every child scanned: each of its mappings shares a KSM page. */
	wait_knob_at(dir, "pages_sharing", want, XT_TIMEOUT_S);
	wait_scans_at(dir, 2);
	check(knob_at(dir, "pages_sharing") == want && knob_at(dir, "pages_shared") == shared0 + NPAIRS,
	      "%s: every child is scanned: pages_sharing == %lld, pages_shared == %lld (%lld, %lld)",
	      name, want, shared0 + NPAIRS, knob_at(dir, "pages_sharing"),
	      knob_at(dir, "pages_shared"));
	check(same_pfns(p.pid, mem, sh->kids[NCHILD / 2], mem, NPG) == NPG,
	      "%s: a child maps P's merged pages", name);

	/*
	 * The scanner stopped while timing: it would compete for the CPUs,
	 * and the references it takes on the pages it looks at make
	 * migration fail (EAGAIN) now and then.
	 */
	knob_set_at(dir, "run", 0);
	for (i = 0; i < rounds; i++) {
		dt = move_child(p.pid, &t);	/* there */
		dt += move_child(p.pid, &t);	/* and back */
		sum += dt;
		if (dt < best)
			best = dt;
	}
	check(!t.bad_ret && t.moved == t.total * NPG,
	      "%s: %d times to the other node and back, move_pages(MPOL_MF_MOVE_ALL) moves all %d "
	      "of child 0's pages: every status is the target node (%zu of %zu; bad ret %ld)",
	      name, rounds, NPG, t.moved, t.total * NPG, t.bad_ret);
	check(t.on_target == t.total * NPG,
	      "%s: after each move child 0's PFNs (pagemap) are on the target node (%zu of %zu)",
	      name, t.on_target, t.total * NPG);
	check(t.shared == 3 * t.total * NPG && t.twins == t.total * NPAIRS,
	      "%s: after each move child 0 still shares every page with P and children 1 and %d, "
	      "and its twins one PFN (%zu of %zu, %zu of %zu)", name, NCHILD - 1, t.shared,
	      3 * t.total * NPG, t.twins, t.total * NPAIRS);
	check(xt_child_cmd(&p, 'v') == 0, "%s: P's data is intact", name);
	xt_note("%s: child 0's %d pages (%d KSM pages, each mapped %d times by %d processes) "
		"to the other node and back: best %.1f ms, mean %.1f ms of %d round trips",
		name, NPG, NPAIRS, 2 * (NCHILD + 1), NCHILD + 1, best * 1e3,
		sum * 1e3 / rounds, rounds);

	/* xksmd / ksmd again: they notice the exits and drop the rmap_items. */
	knob_set_at(dir, "run", 1);
	check(xt_child_cmd(&p, 'k') == 0, "%s: the %d children are killed and reaped", name,
	      NCHILD);
	if (deferred) {
		ok = wait_knob_at(dir, DEFERRED, 0, XT_TIMEOUT_S);
		check(ok, "%s: %s drops to 0 (%lld)", name, DEFERRED, knob_at(dir, DEFERRED));
	}
	ok = wait_knob_at(dir, "pages_sharing", sharing0 + NPAIRS, XT_TIMEOUT_S) &&
	     wait_knob_at(dir, "pages_shared", shared0 + NPAIRS, XT_TIMEOUT_S);
	check(ok, "%s: P's pairs alone stay merged: pages_shared %lld, pages_sharing %lld (%lld, %lld)",
	      name, shared0 + NPAIRS, sharing0 + NPAIRS, knob_at(dir, "pages_shared"),
	      knob_at(dir, "pages_sharing"));
	check(xt_child_stop(&p) == 0, "%s: P exits", name);
	if (deferred) {
		ok = wait_knob_at(dir, DEFERRED, 0, XT_TIMEOUT_S);
		check(ok, "%s: %s is 0 (%lld)", name, DEFERRED, knob_at(dir, DEFERRED));
	}
	ok = wait_knob_at(dir, "pages_shared", shared0, XT_TIMEOUT_S) &&
	     wait_knob_at(dir, "pages_sharing", sharing0, XT_TIMEOUT_S);
	check(ok, "%s: pages_shared and pages_sharing return to %lld, %lld (%lld, %lld)", name,
	      shared0, sharing0, knob_at(dir, "pages_shared"), knob_at(dir, "pages_sharing"));
	return best * 1e3;
}

int main(void)
{
	double x, xn = 0, k = 0;
	char buf[8];

	if (xt_backend_ksm())
		skip("compares xksm with in-kernel KSM: needs xksm");
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (numa_available() < 0 || numa_max_node() < 1)
		skip("needs 2 NUMA nodes");
	xt_unmerge_all();
	atexit(restore);
	sh = xt_map_shared((sizeof(*sh) + XT_PAGE - 1) / XT_PAGE);
	mem = xt_map(NPG);	/* untouched here: each P fills its own */
	xt_start_fast();
	/* The debug kernel (fuzz_sysfs.c tells it the same way). */
	if (access("/sys/kernel/debug/kmemleak", F_OK) == 0) {
		rounds = ROUNDS_DEBUG;
		xt_note("debug kernel: %d round trips per shape, not %d; the times mean nothing here",
			rounds, ROUNDS);
	}
	if (!xt_knob_exists(DEFERRED))
		xt_note("no %s in %s: its checks are left out", DEFERRED, XKSM_DIR);

	x = shape("xksm", XKSM_DIR);

	if (read_file(DEDUP, buf, sizeof(buf)) == 0) {
		buf[strcspn(buf, "\n")] = 0;
		snprintf(dedup_saved, sizeof(dedup_saved), "%s", buf);
		check(xt_write_file(DEDUP, "N") == 0, "dedup_routes=N is accepted (was %s)", buf);
		xn = shape("xksm, dedup_routes=N", XKSM_DIR);
		check(xt_write_file(DEDUP, dedup_saved) == 0, "dedup_routes=%s again", dedup_saved);
		dedup_saved[0] = 0;
	} else {
		xt_note("no %s: the shape without it is left out", DEDUP);
	}
	xt_knob_set("run", 2);	/* xksm idle from here */

	if (access(KSM_DIR "/run", F_OK) == 0) {
		ksm_start_fast();
		k = shape("in-kernel KSM", KSM_DIR);
		knob_set_at(KSM_DIR, "run", 2);
	} else {
		xt_note("the kernel has no KSM: no comparison");
	}

	if (k)
		xt_note("rmap-walk ratio xksm/ksm %.2f (xksm %.1f ms, ksm %.1f ms)", x / k, x, k);
	if (k && xn)
		xt_note("rmap-walk ratio xksm(dedup_routes=N)/ksm %.2f (%.1f ms, ksm %.1f ms)",
			xn / k, xn, k);
	if (xn)
		xt_note("rmap-walk ratio xksm/xksm(dedup_routes=N) %.2f", x / xn);
	return done();
}
