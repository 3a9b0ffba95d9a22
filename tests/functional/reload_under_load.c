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
 * Fails on a refused or failed unload, on a round in which nothing merged
 * before the unload, on a page that still shares a frame with its twin
 * after the unload, and on any page that does not read back as written.
 */
#include <sys/wait.h>

#include "xksm_test.h"

#define WORKERS	3
#define PAGES	64
#define ROUNDS	5

struct shared {
	volatile int stop;
	volatile int unloaded;		/* round number, while xksm is out */
	long registered;		/* successful registrations */
	long bad_pages;			/* pages not as written */
	long still_shared;		/* twins sharing a frame with xksm out */
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
	pid_t pids[WORKERS];
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
	start_scanning();
	for (i = 0; i < WORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			fatal("fork");
		if (!pids[i])
			worker(i);
	}

	for (round = 1; round <= ROUNDS && ok; round++) {
		/* Under load: something merged. */
		for (i = 0; i < 300 && xt_knob("pages_sharing") <= 0; i++)
			xt_msleep(100);
		merged_rounds += xt_knob("pages_sharing") > 0;

		for (tries = 0; tries < 200; tries++) {
			if (!system("rmmod xksm 2>/dev/null"))
				break;
			xt_msleep(20);	/* a worker held /dev/xksm open */
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
		start_scanning();
	}
	check(ok && unloads == ROUNDS, "%d of %d rounds unloaded and loaded xksm under load",
	      unloads, ROUNDS);
	check(merged_rounds == unloads, "pages were merged before each unload (%d of %d rounds)",
	      merged_rounds, unloads);

	sh->stop = 1;
	for (i = 0; i < WORKERS; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			ok = 0;
	check(ok, "every worker ran to the end");
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
