// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading and loading xksm again and again while processes use it:
 * workers keep registering twin ranges (identical pages), writing and
 * checking them, re-registering whenever /dev/xksm is back; xksmd merges at
 * full speed; meanwhile the test waits until pages are merged, then runs
 * `rmmod xksm` under that load (retrying while a worker holds the device
 * open, as it may for an instant), checks the module is gone and nothing is
 * shared any more, and loads it again.
 *
 * Readers meanwhile loop over every file in /sys/kernel/debug/xksm/:
 * opendir, then open, read to the end and close each file, again and
 * again, through every unload and load.  While xksm is going or gone they
 * get ENOENT, ENXIO, ENODEV or EIO, count it and go on; an open file pins
 * the module, so the test's rmmod retries while one is open.
 *
 * Fails on a refused or failed unload, on a round in which nothing merged
 * before the unload, on a page that still shares a frame with its twin
 * after the unload, and on any page that does not read back as written.
 * And for the readers: on any other error, or one of those while xksm was
 * loaded all along; unless they read non-empty data, kept reading through
 * an rmmod that succeeded in at least one round (their count of opens grew
 * while it ran), and every one of them read data again after the last
 * load.  Nothing may crash or warn either (the harness fails the run on
 * any kernel report).
 */
#include <dirent.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "xksm_test.h"

#define WORKERS	3
#define READERS	2
#define PAGES	64
#define ROUNDS	5
#define RMMOD_TRIES	500
#define DEBUGFS	"/sys/kernel/debug"
#define DBG_DIR	DEBUGFS "/xksm"

struct shared {
	volatile int stop;
	volatile int unloaded;		/* round number, while xksm is out */
	long registered;		/* successful registrations */
	long bad_pages;			/* pages not as written */
	long still_shared;		/* twins sharing a frame with xksm out */
	/* The debugfs readers. */
	volatile int out;		/* from the first rmmod try to the load */
	volatile int gen;		/* loads of xksm so far, 1 at the start */
	long opens;			/* opendir() and open() tries */
	long nonempty;			/* files read with data */
	long gone;			/* ENOENT/ENXIO/ENODEV/EIO */
	long gone_loaded;		/* of those, while xksm was there throughout */
	long bad;			/* any other error */
	int bad_errno;			/* the last of those */
	char bad_what[64];		/* and what failed */
	int seen_gen[READERS];		/* gen of each reader's last data */
};

static struct shared *sh;

/* Open, handshake, register both halves, close: 0 or -1 (xksm is out). */
static int try_register(char *p)
{
	struct xksm_range r = { .start = (uintptr_t)p, .len = 2 * PAGES * XT_PAGE };
	int fd = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC), err;
	struct xksm_api api;

	if (fd < 0)
		return -1;
	err = xksm_handshake(fd, &api) || ioctl(fd, XKSM_IOC_MERGEABLE, &r);
	close(fd);
	return err ? -1 : 0;
}

/*
 * A worker: twins A (first half) and B (second), page i of both with
 * content seed + gen[i].  Rewrites a few pairs, checks all, registers
 * again; while the test says xksm is out, checks that no pair shares a
 * frame (the unload unmerged everything).
 */
static void worker(int id)
{
	char *p = xt_map(2 * PAGES);
	unsigned int gen[PAGES] = { 0 };
	unsigned int seed = 0x7100 + id * 0x100;
	uint64_t x = id + 1;
	int i, round;

	for (i = 0; i < PAGES; i++) {
		xt_fill_page(p, i, seed);
		xt_fill_page(p + PAGES * XT_PAGE, i, seed);
	}
	while (!sh->stop) {
		if (!try_register(p))
			__sync_fetch_and_add(&sh->registered, 1);
		for (i = 0; i < 4; i++) {
			int k;

			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			k = (x >> 33) % PAGES;
			gen[k]++;
			xt_fill_page(p, k, seed + gen[k]);
			xt_fill_page(p + PAGES * XT_PAGE, k, seed + gen[k]);
		}
		for (i = 0; i < PAGES; i++) {
			if (!xt_page_ok(p, i, seed + gen[i]))
				__sync_fetch_and_add(&sh->bad_pages, 1);
			if (!xt_page_ok(p + PAGES * XT_PAGE, i, seed + gen[i]))
				__sync_fetch_and_add(&sh->bad_pages, 1);
		}
		round = sh->unloaded;
		if (round && xt_count_same_pfn(0, p, 0, p + PAGES * XT_PAGE, PAGES) &&
		    sh->unloaded == round)
			__sync_fetch_and_add(&sh->still_shared, 1);
		xt_msleep(50);
	}
	_exit(0);
}

/* The errors of a debugfs file of a module going or gone. */
static int gone_errno(int err)
{
	return err == ENOENT || err == ENXIO || err == ENODEV || err == EIO;
}

/*
 * A failed opendir/open/read: counted as xksm going or gone if the errno
 * says so (and as unexpected if xksm was loaded all along: out was 0 and
 * gen the same before and after), else as a bad error.
 */
static void reader_error(const char *what, const char *name, int err, int out0, int gen0)
{
	if (gone_errno(err)) {
		__sync_fetch_and_add(&sh->gone, 1);
		if (!out0 && !sh->out && gen0 == sh->gen)
			__sync_fetch_and_add(&sh->gone_loaded, 1);
		return;
	}
	__sync_fetch_and_add(&sh->bad, 1);
	sh->bad_errno = err;
	snprintf(sh->bad_what, sizeof(sh->bad_what), "%s %s", what, name);
}

/*
 * A reader: every file of DBG_DIR, opened, read to the end, closed; over
 * and over until told to stop, whatever happens to xksm.  Big reads, and
 * a pause between files: an open file pins xksm (rmmod must get in), and
 * each read() of a listing walks it from the start under xksmd's mutex
 * (odd-sized reads are debugfs_churn's part).
 */
static void reader(int id)
{
	static char buf[65536];
	struct dirent *de;
	int out0, gen0, fd;
	ssize_t n, total;
	DIR *dir;

	while (!sh->stop) {
		out0 = sh->out;
		gen0 = sh->gen;
		__sync_fetch_and_add(&sh->opens, 1);
		dir = opendir(DBG_DIR);
		if (!dir) {
			reader_error("opendir", DBG_DIR, errno, out0, gen0);
			xt_msleep(5);
			continue;
		}
		while (!sh->stop && (de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			out0 = sh->out;
			gen0 = sh->gen;
			__sync_fetch_and_add(&sh->opens, 1);
			fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				reader_error("open", de->d_name, errno, out0, gen0);
				continue;
			}
			total = 0;
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				total += n;
			if (n < 0)
				reader_error("read", de->d_name, errno, out0, gen0);
			close(fd);
			if (total > 0) {
				__sync_fetch_and_add(&sh->nonempty, 1);
				sh->seen_gen[id] = gen0;
			}
			xt_msleep(5);
		}
		closedir(dir);
	}
	_exit(0);
}

static int module_loaded(void)
{
	return access("/sys/module/xksm", F_OK) == 0;
}

static void start_scanning(void)
{
	xt_knob_set("sleep_millisecs", 0);
	xt_knob_set("pages_to_scan", 1000);
	xt_knob_set("run", 1);
}

int main(void)
{
	const char *ko = getenv("XKSM_KO");
	int merged_rounds = 0, unloads = 0, tries, round, i, status, ok = 1;
	int read_through = 0, readers_ok = 1, all_seen = 0;
	pid_t pids[WORKERS], rpids[READERS];
	long opens0, rmmod_tries = 0;
	double deadline;
	char cmd[256];

	if (!ko)
		skip("XKSM_KO (the module's path) is not set");
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	close(xt_fd);		/* the test itself must not pin the module */
	xt_fd = -1;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap");
	if (access(DBG_DIR, F_OK) &&
	    mount("debugfs", DEBUGFS, "debugfs", 0, NULL) && errno != EBUSY)
		skip("cannot mount debugfs: %s", strerror(errno));
	if (!check(access(DBG_DIR, F_OK) == 0, "xksm has a debugfs directory " DBG_DIR))
		return done();
	sh->gen = 1;
	start_scanning();
	for (i = 0; i < READERS; i++) {
		rpids[i] = xt_fork();
		if (!rpids[i])
			reader(i);
	}
	for (i = 0; i < WORKERS; i++) {
		pids[i] = xt_fork();
		if (!pids[i])
			worker(i);
	}

	for (round = 1; round <= ROUNDS && ok; round++) {
		/* Under load: something merged. */
		for (i = 0; i < 300 && xt_knob("pages_sharing") <= 0; i++)
			xt_msleep(100);
		merged_rounds += xt_knob("pages_sharing") > 0;

		sh->out = 1;
		for (tries = 0; tries < RMMOD_TRIES; tries++) {
			opens0 = sh->opens;
			rmmod_tries++;
			if (!system("rmmod xksm 2>/dev/null")) {
				/* The readers went on opening while it ran. */
				read_through += sh->opens > opens0;
				break;
			}
			xt_msleep(20);	/* a worker or reader held xksm open */
		}
		if (module_loaded()) {
			ok = 0;
			break;
		}
		unloads++;
		sh->unloaded = round;
		xt_msleep(500);		/* the workers check their twins */
		sh->unloaded = 0;

		snprintf(cmd, sizeof(cmd), "insmod %s", ko);
		if (system(cmd) || !module_loaded()) {
			ok = 0;
			break;
		}
		sh->gen++;
		sh->out = 0;
		start_scanning();
	}
	check(ok && unloads == ROUNDS, "%d of %d rounds unloaded and loaded xksm under load",
	      unloads, ROUNDS);
	check(merged_rounds == unloads, "pages were merged before each unload (%d of %d rounds)",
	      merged_rounds, unloads);

	xt_note("%ld rmmod tries for %d unloads", rmmod_tries, unloads);

	/* Every reader reads data again from the xksm loaded last. */
	deadline = xt_now() + XT_TIMEOUT_S;
	while (!all_seen && xt_now() < deadline) {
		for (all_seen = 1, i = 0; i < READERS; i++)
			all_seen &= sh->seen_gen[i] == sh->gen;
		if (!all_seen)
			xt_msleep(50);
	}

	sh->stop = 1;
	for (i = 0; i < WORKERS; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ok = 0;
	for (i = 0; i < READERS; i++)
		if (waitpid(rpids[i], &status, 0) != rpids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			readers_ok = 0;
	check(ok, "every worker ran to the end");
	check(readers_ok, "every debugfs reader ran to the end");
	check(sh->nonempty > 0, "the readers read non-empty data from " DBG_DIR " (%ld files, "
	      "%ld opens)", sh->nonempty, sh->opens);
	check(read_through > 0,
	      "the readers kept opening files while a successful rmmod ran (%d of %d rounds)",
	      read_through, unloads);
	check(sh->gone > 0, "the readers met xksm going or gone (%ld ENOENT/ENXIO/ENODEV/EIO)",
	      sh->gone);
	check(sh->gone_loaded == 0,
	      "none of those errors while xksm was loaded throughout (%ld)", sh->gone_loaded);
	check(sh->bad == 0, "the readers met no other error (%ld; last: %s: %s)", sh->bad,
	      sh->bad ? sh->bad_what : "-", sh->bad ? strerror(sh->bad_errno) : "-");
	check(all_seen, "every reader read data again after the last load (generation %d)",
	      sh->gen);
	check(sh->registered > ROUNDS, "the workers registered again after each load (%ld times)",
	      sh->registered);
	check(sh->still_shared == 0, "no page shared a frame with its twin while xksm was out (%ld)",
	      sh->still_shared);
	check(sh->bad_pages == 0, "every page read back as written (%ld did not)",
	      sh->bad_pages);
	/* Leave a freshly loaded xksm, with its defaults, to the next test. */
	for (tries = 0; tries < 50 && module_loaded(); tries++)
		if (system("rmmod xksm 2>/dev/null"))
			xt_msleep(100);
	snprintf(cmd, sizeof(cmd), "insmod %s", ko);
	check(!module_loaded() && !system(cmd) && module_loaded(),
	      "the last unload and a fresh load at the end");
	return done();
}
