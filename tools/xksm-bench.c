// SPDX-License-Identifier: GPL-2.0
/*
 * xksm-bench - one workload on one KSM, measured; the guest half of
 * make bench (scripts/bench runs it for each workload on the kernel's KSM
 * and on xksm, in one guest, under the same knobs).
 *
 *   xksm-bench -b ksm|xksm -w WORKLOAD [-P PROCS] [-m MIB] [-t SECONDS]
 *              [-n PAGES_TO_SCAN] [-s SLEEP_MS] [-i SAMPLE_MS]
 *
 * Workloads (PROCS processes of MIB MiB each, registered with madvise()
 * for the kernel's KSM and with XKSM_IOC_MERGEABLE for xksm):
 *   unique	random pages: nothing to merge; the steady-state cost
 *   identical	the same content in every process
 *   mix	40% identical across processes, 30% unique, 20% zero,
 *		10% volatile (rewritten every 50 ms)
 *   program	copies of real files (libc, busybox, the selftests, ...) in
 *		every process, one page in eight "relocated" per process
 *   forktree	one process's pairs of identical pages, merged, shared by
 *		64 forked children; then one child's pages migrate to the
 *		other node: the cost of the kernel's rmap walks
 *
 * Output: JSON, one object per line: "sample" lines every SAMPLE_MS
 * (pages_sharing, pages_scanned, full_scans, the scanner's CPU seconds
 * from /proc/<pid>/stat), then one "result" line:
 *   achievable	pages_sharing when everything identical is merged
 *		(computed from the pages' contents, max_page_sharing counted)
 *   t95, cpu95	seconds and scanner CPU seconds until 95% of it (-1: never)
 *   sharing	pages_sharing at the end
 *   pages_per_cpu_s	pages scanned per scanner CPU second, after the
 *		first two full scans (the steady state)
 *   metadata_bytes, metadata_per_page	rmap_items, stable nodes and mm
 *		slots in bytes, and per page mapped in registered memory
 *   migrate_ms_per_page	(forktree) moving one child's merged pages
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/xksm.h>

#define PAGE		4096UL
#define MPOL_MF_MOVE_ALL	(1 << 2)	/* <numaif.h>, without libnuma */
#define FORK_CHILDREN	64
#define POLL_MS		10	/* how often to look for 95% sharing */

/* Sizes of the kernel's KSM objects on 64-bit (mm/ksm.c), and xksm's. */
#define KSM_RMAP_ITEM_SIZE	64
#define KSM_STABLE_NODE_SIZE	64
#define KSM_MM_SLOT_SIZE	48

static struct {
	const char *backend;	/* "ksm" or "xksm" */
	const char *workload;
	int procs;
	size_t mib;
	double seconds;
	long pages_to_scan;
	long sleep_ms;
	long sample_ms;
} opt = {
	.procs = 8, .mib = 16, .seconds = 30, .pages_to_scan = 1000,
	.sleep_ms = 20, .sample_ms = 200,
};

static char sysfs[64];

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "xksm-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long knob_in(const char *dir, const char *name)
{
	char path[160], buf[64] = "";
	long long v = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		v = strtoll(buf, NULL, 10);
	if (fd >= 0)
		close(fd);
	return v;
}

static long long knob(const char *name)
{
	return knob_in(sysfs, name);
}

static void set_knob_in(const char *dir, const char *name, long long v)
{
	char path[160], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = snprintf(buf, sizeof(buf), "%lld", v);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, buf, n) != n) {
		fprintf(stderr, "xksm-bench: %s=%lld: %s\n", path, v, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* --- the scanner's CPU time ------------------------------------------ */

static pid_t scanner_pid(const char *comm)
{
	char path[64], buf[32];
	pid_t pid;

	for (pid = 2; pid < 4096; pid++) {
		int fd, n;

		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, comm))
				return pid;
		}
	}
	return -1;
}

/* utime + stime of @pid in seconds, from /proc/<pid>/stat. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	int fd, n, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');		/* comm may hold blanks */
	for (field = 2; p && field < 14; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* --- the workloads' pages ------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void fill_page(void *page, uint64_t seed)
{
	uint64_t *w = page;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = mix64(seed + i);
}

/* Files whose contents make the "program" workload. */
static const char * const program_files[] = {
	"/lib/x86_64-linux-gnu/libc.so.6", "/bin/busybox",
	"/selftests/ksm_tests", "/selftests/ksm_functional_tests",
	"/usr/bin/trace-cmd", "/lib/x86_64-linux-gnu/libtraceevent.so.1",
	"/lib/x86_64-linux-gnu/libtracefs.so.1", "/lib/modules/xksm.ko",
	"/tools/xksmctl",
};

/* Copy the files into @p (of @pages pages), repeated to fill it. */
static void fill_program(char *p, size_t pages, int id)
{
	size_t off = 0, len = pages * PAGE, i, f = 0, tries = 0;

	while (off < len && tries < 64) {
		int fd = open(program_files[f++ % (sizeof(program_files) /
						  sizeof(program_files[0]))], O_RDONLY);
		ssize_t n;

		tries++;
		if (fd < 0)
			continue;
		while (off < len && (n = read(fd, p + off, len - off)) > 0)
			off += n;
		close(fd);
		off = (off + PAGE - 1) & ~(PAGE - 1);
	}
	/* Relocations: one page in eight differs per process. */
	for (i = 3; i < pages; i += 8)
		*(uint64_t *)(p + i * PAGE + 64) = 0x5a5a000000000000ULL + id;
}

/*
 * The workload's memory of process @id: @pages pages.  *@volatile_from is
 * the first page that is rewritten all the time (pages when none).
 */
static void fill(char *p, size_t pages, int id, size_t *volatile_from)
{
	size_t i;

	*volatile_from = pages;
	if (!strcmp(opt.workload, "unique")) {
		for (i = 0; i < pages; i++)
			fill_page(p + i * PAGE, ((uint64_t)id << 40) + (i << 10) + 1);
	} else if (!strcmp(opt.workload, "identical") ||
		   !strcmp(opt.workload, "forktree")) {
		for (i = 0; i < pages; i++)
			fill_page(p + i * PAGE, (i % (strcmp(opt.workload, "forktree") ?
						       pages : pages / 2)) << 10);
	} else if (!strcmp(opt.workload, "mix")) {
		size_t ident = pages * 4 / 10, uniq = pages * 3 / 10;
		size_t zero = pages * 2 / 10;

		for (i = 0; i < pages; i++) {
			if (i < ident)
				fill_page(p + i * PAGE, i << 10);
			else if (i < ident + uniq)
				fill_page(p + i * PAGE, ((uint64_t)(id + 1) << 40) + (i << 10));
			else if (i < ident + uniq + zero)
				memset(p + i * PAGE, 0, PAGE);
			else
				fill_page(p + i * PAGE, ((uint64_t)(id + 1) << 48) + i);
		}
		*volatile_from = ident + uniq + zero;
	} else if (!strcmp(opt.workload, "program")) {
		fill_program(p, pages, id);
	} else {
		fprintf(stderr, "xksm-bench: unknown workload %s\n", opt.workload);
		exit(2);
	}
}

/* A 64-bit digest of a page's content, for counting identical pages. */
static uint64_t page_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t h = 0x6a09e667f3bcc908ULL;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		h = mix64(h ^ w[i]) + i;
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * pages_sharing once every group of identical pages is merged: a group of
 * g pages takes ceil(g / max_page_sharing) KSM pages (chains), and the
 * rest share them.
 */
static long long achievable(uint64_t *hashes, size_t n, long long max_sharing)
{
	long long sharing = 0;
	size_t i, j;

	qsort(hashes, n, sizeof(*hashes), cmp_u64);
	for (i = 0; i < n; i = j) {
		long long g;

		for (j = i; j < n && hashes[j] == hashes[i]; j++)
			;
		g = j - i;
		if (g >= 2)
			sharing += g - (g + max_sharing - 1) / max_sharing;
	}
	return sharing;
}

/* --- registering ----------------------------------------------------------- */

static int xksm_fd = -1;

static void register_range(void *p, size_t len)
{
	if (!strcmp(opt.backend, "ksm")) {
		if (madvise(p, len, MADV_MERGEABLE))
			die("madvise(MADV_MERGEABLE)");
	} else {
		struct xksm_range r = { .start = (uintptr_t)p, .len = len };

		if (xksm_fd < 0)
			xksm_fd = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC);
		if (xksm_fd < 0 || ioctl(xksm_fd, XKSM_IOC_MERGEABLE, &r))
			die("XKSM_IOC_MERGEABLE");
	}
}

/* --- metadata ----------------------------------------------------------------- */

/* A line "name N" of debugfs objects: N. */
static long long xksm_objects(const char *name)
{
	char buf[512], *p;
	int fd = open("/sys/kernel/debug/xksm/objects", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, name);
	return p ? strtoll(p + strlen(name) + 1, NULL, 10) : -1;
}

static long long slab_object_size(const char *cache, long long fallback)
{
	char dir[96];
	long long v;

	snprintf(dir, sizeof(dir), "/sys/kernel/slab/%s", cache);
	v = knob_in(dir, "object_size");
	return v > 0 ? v : fallback;
}

/*
 * Bytes of the scanner's metadata: rmap_items, stable nodes, mm slots.
 * xksm counts them in debugfs objects.  The kernel's KSM shows its
 * rmap_items only through pages_volatile, which it computes as rmap_items
 * less the pages shared, sharing and unshared (6.1 and 6.12 alike); its
 * stable nodes are pages_shared + chains.
 */
static long long metadata_bytes(void)
{
	long long rmap, nodes, slots;

	if (!strcmp(opt.backend, "xksm")) {
		/* The spares xksmd allocates ahead are metadata too. */
		rmap = xksm_objects("xksm_rmap_item") + xksm_objects("spare");
		nodes = xksm_objects("xksm_stable_node");
		slots = xksm_objects("xksm_mm_slot");
		return rmap * slab_object_size("xksm_rmap_item", 64) +
		       nodes * slab_object_size("xksm_stable_node", 64) +
		       slots * slab_object_size("xksm_mm_slot", 64);
	}
	rmap = knob("pages_shared") + knob("pages_sharing") +
	       knob("pages_unshared") + knob("pages_volatile");
	nodes = knob("pages_shared") + knob("stable_node_chains");
	slots = opt.procs;
	return rmap * KSM_RMAP_ITEM_SIZE + nodes * KSM_STABLE_NODE_SIZE +
	       slots * KSM_MM_SLOT_SIZE;
}

/* --- the run ------------------------------------------------------------- */

/* Shared by the bench and its processes (MAP_SHARED). */
struct shared {
	volatile int stop;		/* everyone: leave */
	volatile int ready;		/* processes filled and registered */
	volatile int fork_now;		/* forktree: process 0, fork */
	volatile int forked;		/* forktree: children running */
	volatile uintptr_t addr;	/* forktree: process 0's memory */
	volatile pid_t kids[FORK_CHILDREN];
	uint64_t hashes[];		/* of every page of every process */
};

/* forktree: children that keep process 0's mapping until told to go. */
static void fork_children(struct shared *sh)
{
	int k;

	for (k = 0; k < FORK_CHILDREN; k++) {
		pid_t pid = fork();

		if (pid == 0) {
			while (!sh->stop)
				usleep(50000);
			_exit(0);
		}
		if (pid < 0)
			die("fork");
		sh->kids[k] = pid;
		__sync_fetch_and_add(&sh->forked, 1);
	}
}

/*
 * A process of the workload: fill, report the pages' hashes, register;
 * then rewrite the volatile pages every 50 ms until told to stop.
 */
static void worker(struct shared *sh, int id, size_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t round = 0;
	size_t i, vol;

	if (p == MAP_FAILED)
		die("mmap");
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	fill(p, pages, id, &vol);
	for (i = 0; i < pages; i++)
		sh->hashes[id * pages + i] = i < vol ? page_hash(p + i * PAGE) :
			mix64(((uint64_t)id << 32) + i + 0x1234);	/* unique */
	register_range(p, pages * PAGE);
	sh->addr = (uintptr_t)p;
	__sync_fetch_and_add(&sh->ready, 1);
	while (!sh->stop) {
		for (i = vol; i < pages; i++)
			*(uint64_t *)(p + i * PAGE) = ++round;
		if (sh->fork_now && !sh->forked)
			fork_children(sh);
		usleep(50000);
	}
	while (wait(NULL) > 0)
		;
	_exit(0);
}

/*
 * Pages scanned so far.  The kernel's KSM counts them on 6.12
 * (pages_scanned); on 6.1 only its full scans, each of which visits
 * every page of the workload once (6.1's ksmd has no smart scan to skip
 * any, and xksm's is off there: main()), so a full scan is @total pages,
 * and the steady state is measured between full scans (main()).  Both
 * KSMs are measured the same way on one kernel.
 */
static bool have_pages_scanned;

static long long scanned(size_t total)
{
	return have_pages_scanned ? knob("pages_scanned") :
				    knob("full_scans") * (long long)total;
}

static void sample(double t0, pid_t scanner, double cpu0, long long scanned0,
		   size_t total)
{
	printf("{\"type\":\"sample\",\"backend\":\"%s\",\"workload\":\"%s\","
	       "\"t\":%.3f,\"sharing\":%lld,\"shared\":%lld,\"unshared\":%lld,"
	       "\"scanned\":%lld,\"full_scans\":%lld,\"cpu\":%.3f}\n",
	       opt.backend, opt.workload, now() - t0, knob("pages_sharing"),
	       knob("pages_shared"), knob("pages_unshared"),
	       scanned(total) - scanned0, knob("full_scans"),
	       cpu_seconds(scanner) - cpu0);
}

static long move_pages(pid_t pid, unsigned long n, void **pages,
		       const int *nodes, int *status, int flags)
{
	return syscall(SYS_move_pages, pid, n, pages, nodes, status, flags);
}

/* Move the merged pages of process @pid to the other node; ms per page. */
static double migrate_ms_per_page(pid_t pid, char *p, size_t pages)
{
	void **addrs = calloc(pages, sizeof(*addrs));
	int *nodes = calloc(pages, sizeof(*nodes)), *status = calloc(pages, sizeof(int));
	double t;
	size_t i;

	if (!addrs || !nodes || !status)
		die("calloc");
	for (i = 0; i < pages; i++) {
		addrs[i] = p + i * PAGE;
		nodes[i] = 1;
	}
	/* Where they are now: move them to the node they are not on. */
	if (move_pages(pid, pages, addrs, NULL, status, 0))
		die("move_pages (query)");
	for (i = 0; i < pages; i++)
		nodes[i] = status[i] == 1 ? 0 : 1;
	t = now();
	if (move_pages(pid, pages, addrs, nodes, status, MPOL_MF_MOVE_ALL) < 0)
		die("move_pages");
	t = now() - t;
	free(addrs);
	free(nodes);
	free(status);
	return t * 1000 / pages;
}

static void usage(void)
{
	fprintf(stderr, "usage: xksm-bench -b ksm|xksm -w unique|identical|mix|program|forktree\n"
		"       [-P PROCS] [-m MIB] [-t SECONDS] [-n PAGES_TO_SCAN] [-s SLEEP_MS] [-i SAMPLE_MS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c, i, forktree, procs;
	size_t pages, total, mapped;
	struct shared *sh;
	pid_t *pids, scanner;
	double t0, cpu0, t95 = -1, cpu95 = -1, warm_t = -1, warm_cpu = 0, next_sample;
	double last_cpu = 0;
	long long scanned0, warm_scanned = 0, last_scanned = 0, goal, fs0, fs;
	long long fs_seen, max_sharing;
	long long metadata;
	double ms_per_page = -1, rate = -1;

	while ((c = getopt(argc, argv, "b:w:P:m:t:n:s:i:")) != -1) {
		switch (c) {
		case 'b': opt.backend = optarg; break;
		case 'w': opt.workload = optarg; break;
		case 'P': opt.procs = atoi(optarg); break;
		case 'm': opt.mib = strtoul(optarg, NULL, 0); break;
		case 't': opt.seconds = atof(optarg); break;
		case 'n': opt.pages_to_scan = atol(optarg); break;
		case 's': opt.sleep_ms = atol(optarg); break;
		case 'i': opt.sample_ms = atol(optarg); break;
		default: usage();
		}
	}
	if (!opt.backend || !opt.workload || opt.procs < 1 || !opt.mib ||
	    (strcmp(opt.backend, "ksm") && strcmp(opt.backend, "xksm")))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	forktree = !strcmp(opt.workload, "forktree");
	procs = forktree ? 1 : opt.procs;
	snprintf(sysfs, sizeof(sysfs), "/sys/kernel/mm/%s", opt.backend);

	/* The other KSM stopped and empty; this one empty, with our knobs. */
	set_knob_in(!strcmp(opt.backend, "ksm") ? "/sys/kernel/mm/xksm" :
		    "/sys/kernel/mm/ksm", "run", 2);
	set_knob_in(!strcmp(opt.backend, "ksm") ? "/sys/kernel/mm/xksm" :
		    "/sys/kernel/mm/ksm", "run", 0);
	set_knob_in(sysfs, "run", 2);
	set_knob_in(sysfs, "pages_to_scan", opt.pages_to_scan);
	set_knob_in(sysfs, "sleep_millisecs", opt.sleep_ms);
	set_knob_in(sysfs, "merge_across_nodes", 1);
	set_knob_in(sysfs, "use_zero_pages", 0);
	/*
	 * smart_scan as the kernel's KSM has it: on (its default) where both
	 * have the knob (6.12); on 6.1 ksmd has none, and xksm's is off.
	 */
	have_pages_scanned = knob_in("/sys/kernel/mm/ksm", "pages_scanned") >= 0;
	if (knob_in("/sys/kernel/mm/ksm", "smart_scan") >= 0)
		set_knob_in(sysfs, "smart_scan", 1);
	else if (!strcmp(opt.backend, "xksm"))
		set_knob_in(sysfs, "smart_scan", 0);
	max_sharing = knob("max_page_sharing");
	scanner = scanner_pid(!strcmp(opt.backend, "ksm") ? "ksmd" : "xksmd");
	if (scanner < 0)
		die("no scanner thread");

	pages = (opt.mib << 20) / PAGE;
	total = procs * pages;
	sh = mmap(NULL, sizeof(*sh) + total * sizeof(uint64_t),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	pids = calloc(procs, sizeof(*pids));
	for (i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork");
		if (pids[i] == 0)
			worker(sh, i, pages);
	}
	while (sh->ready < procs)
		usleep(10000);
	goal = achievable(sh->hashes, total, max_sharing);

	scanned0 = scanned(total);
	fs0 = fs_seen = knob("full_scans");
	cpu0 = cpu_seconds(scanner);
	t0 = now();
	set_knob_in(sysfs, "run", 1);
	while (now() - t0 < opt.seconds) {
		/*
		 * Until 95% is reached, look every POLL_MS: a sample every
		 * SAMPLE_MS would overshoot by up to that long, a tenth of
		 * the time to converge.
		 */
		next_sample = now() + opt.sample_ms / 1000.0;
		for (;;) {
			double left = next_sample - now();

			if (t95 < 0 && goal > 0 &&
			    knob("pages_sharing") >= goal * 95 / 100) {
				t95 = now() - t0;
				cpu95 = cpu_seconds(scanner) - cpu0;
			}
			/*
			 * Counting full scans, the steady state is measured
			 * from the end of one to the end of another: note
			 * each end (within POLL_MS when counting them).
			 */
			fs = knob("full_scans");
			if (fs != fs_seen) {
				fs_seen = fs;
				last_cpu = cpu_seconds(scanner);
				last_scanned = scanned(total);
			}
			if (left <= 0)
				break;
			if (((t95 < 0 && goal > 0) || !have_pages_scanned) &&
			    left > POLL_MS / 1000.0)
				left = POLL_MS / 1000.0;
			usleep(left * 1e6);
		}
		sample(t0, scanner, cpu0, scanned0, total);
		/* The steady state starts after two full scans. */
		if (warm_t < 0 && fs_seen >= fs0 + 2) {
			warm_t = now();
			warm_cpu = have_pages_scanned ? cpu_seconds(scanner) : last_cpu;
			warm_scanned = have_pages_scanned ? scanned(total) :
							    last_scanned;
		}
	}
	if (have_pages_scanned) {
		last_cpu = cpu_seconds(scanner);
		last_scanned = scanned(total);
	}
	if (warm_t > 0 && last_cpu > warm_cpu)
		rate = (last_scanned - warm_scanned) / (last_cpu - warm_cpu);

	mapped = total;
	if (forktree) {
		mapped = total * (1 + FORK_CHILDREN);
		/*
		 * 64 children of the merged process share its mappings; after
		 * two more full scans (the kernel's KSM scans them, xksm
		 * registers them at fork), move one child's pages to the other
		 * node: each migration walks every mapping of its KSM page.
		 */
		sh->fork_now = 1;
		while (sh->forked < FORK_CHILDREN)
			usleep(10000);
		fs0 = knob("full_scans");
		while (knob("full_scans") < fs0 + 2 && now() - t0 < 4 * opt.seconds)
			usleep(50000);
		ms_per_page = migrate_ms_per_page(sh->kids[0], (char *)sh->addr, pages);
	}

	metadata = metadata_bytes();
	printf("{\"type\":\"result\",\"backend\":\"%s\",\"workload\":\"%s\","
	       "\"procs\":%d,\"pages\":%zu,\"achievable\":%lld,\"t95\":%.3f,"
	       "\"cpu95\":%.3f,\"sharing\":%lld,\"pages_per_cpu_s\":%.0f,"
	       "\"metadata_bytes\":%lld,\"metadata_per_page\":%.2f,"
	       "\"cpu\":%.3f,\"seconds\":%.3f,\"migrate_ms_per_page\":%.4f}\n",
	       opt.backend, opt.workload, procs, total, goal, t95, cpu95,
	       knob("pages_sharing"), rate, metadata,
	       (double)metadata / mapped, cpu_seconds(scanner) - cpu0,
	       now() - t0, ms_per_page);

	sh->stop = 1;
	for (i = 0; i < procs; i++)
		waitpid(pids[i], NULL, 0);
	set_knob_in(sysfs, "run", 2);
	set_knob_in(sysfs, "run", 0);
	return 0;
}
