// SPDX-License-Identifier: GPL-2.0
/*
 * xksm-demo - show xksm at work, in plain words.
 *
 *   xksm-demo [WORKERS [MIB]]
 *
 * Starts WORKERS processes (default 4), each holding MIB MiB (default 16)
 * of memory: mostly the same data in every process (as many copies of one
 * program or VM image would have), plus a few pages of its own.  Each
 * registers its memory with /dev/xksm.  xksm-demo then lets xksmd run and
 * reports, every second, how much memory xksm has saved, until it stops
 * growing; then one worker writes to its copy, to show that merged pages
 * stay private to their owners, and everything is unmerged again.
 *
 * Needs root for the sysfs knobs (it sets xksmd to scan fast and restores
 * the knobs at the end).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/xksm.h>

#define SYSFS "/sys/kernel/mm/xksm/"

static long page_size;

static long knob(const char *name)
{
	char path[128], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static void set_knob(const char *name, const char *val)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), SYSFS "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "xksm-demo: cannot set %s: %s\n", name,
			strerror(errno));
	if (fd >= 0)
		close(fd);
}

static long meminfo_kib(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key) + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Worker: the shared data, a few pages of its own, registered; then wait. */
static void worker(int id, size_t bytes, int cmd_fd, int ack_fd)
{
	struct xksm_range r;
	unsigned char *p;
	size_t i, pages = bytes / page_size;
	int fd = open(XKSM_DEVICE, O_RDWR);
	char c;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || p == MAP_FAILED)
		_exit(1);
	for (i = 0; i < pages; i++) {
		uint64_t *w = (uint64_t *)(p + i * page_size);
		size_t j;

		for (j = 0; j < (size_t)page_size / 8; j++)
			w[j] = (i * 0x9e3779b97f4a7c15ULL) ^ (j * 0xbf58476d1ce4e5b9ULL);
		if (i % 64 == 63)	/* one page in 64 is this worker's own */
			w[0] ^= (uint64_t)(id + 1) << 56;
	}
	r = (struct xksm_range){ .start = (uintptr_t)p, .len = bytes };
	if (ioctl(fd, XKSM_IOC_MERGEABLE, &r))
		_exit(2);
	if (write(ack_fd, "r", 1) != 1)
		_exit(3);

	while (read(cmd_fd, &c, 1) == 1) {
		if (c == 'w') {		/* write: copy-on-write */
			memset(p, 0xee, page_size);
			c = p[0] == (unsigned char)0xee &&
			    p[page_size] != (unsigned char)0xee ? 'k' : 'x';
		} else if (c == 'u') {	/* unregister: unmerge at once */
			c = ioctl(fd, XKSM_IOC_UNMERGEABLE, &r) ? 'x' : 'k';
		} else {
			break;
		}
		if (write(ack_fd, &c, 1) != 1)
			break;
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	int workers = argc > 1 ? atoi(argv[1]) : 4;
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 0) : 16;
	size_t bytes = mib << 20;
	int cmd[64][2], ack[2], i, stable = 0;
	long anon_before, last = -1, scans0;
	time_t t0;
	char c;

	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (workers < 2 || workers > 64 || !mib) {
		fprintf(stderr, "usage: xksm-demo [WORKERS(2-64) [MIB]]\n");
		return 2;
	}
	if (knob("run") < 0) {
		fprintf(stderr, "xksm-demo: xksm is not loaded (no %s)\n", SYSFS);
		return 1;
	}
	set_knob("run", "2");
	printf("%d processes, each with %zu MiB: the same data in all, one page in 64 its own.\n",
	       workers, mib);
	if (pipe(ack))
		return 1;
	for (i = 0; i < workers; i++) {
		if (pipe(cmd[i]))
			return 1;
		if (fork() == 0) {
			int j;

			/* Only our own command pipe: EOF on it ends us. */
			for (j = 0; j < i; j++)
				close(cmd[j][1]);
			close(cmd[i][1]);
			close(ack[0]);
			worker(i, bytes, cmd[i][0], ack[1]);
		}
		close(cmd[i][0]);
	}
	for (i = 0; i < workers; i++)
		if (read(ack[0], &c, 1) != 1 || c != 'r') {
			fprintf(stderr, "xksm-demo: a worker failed to register\n");
			return 1;
		}
	anon_before = meminfo_kib("AnonPages:");
	printf("They hold %zu MiB between them; each registered it with /dev/xksm.\n",
	       workers * mib);

	set_knob("pages_to_scan", "2000");
	set_knob("sleep_millisecs", "0");
	set_knob("run", "1");
	scans0 = knob("full_scans");
	t0 = time(NULL);
	printf("xksmd is running. Memory saved so far:\n");
	while (stable < 3 && time(NULL) - t0 < 300) {
		long sharing, shared;

		sleep(1);
		sharing = knob("pages_sharing");
		shared = knob("pages_shared");
		printf("  %3lds: %6.1f MiB saved (%ld pages now shared by %ld more), %ld full scans\n",
		       (long)(time(NULL) - t0), sharing * page_size / 1048576.0,
		       shared, sharing, knob("full_scans") - scans0);
		stable = sharing == last && knob("full_scans") - scans0 >= 2 &&
			 sharing > 0 ?
			 stable + 1 : 0;
		last = sharing;
	}
	printf("Settled: %ld pages hold what %ld pages held before: %.1f MiB saved, "
	       "profit after xksm's own metadata %.1f MiB.\n",
	       knob("pages_shared"), knob("pages_shared") + knob("pages_sharing"),
	       knob("pages_sharing") * page_size / 1048576.0,
	       knob("general_profit") / 1048576.0);
	printf("The kernel's count of anonymous memory (AnonPages) went from %ld to %ld MiB.\n",
	       anon_before / 1024, meminfo_kib("AnonPages:") / 1024);

	if (write(cmd[0][1], "w", 1) == 1 && read(ack[0], &c, 1) == 1)
		printf("Worker 1 writes to a merged page: %s\n",
		       c == 'k' ? "it gets its own copy; the others keep the original."
				: "SOMETHING IS WRONG");
	if (write(cmd[1][1], "u", 1) == 1 && read(ack[0], &c, 1) == 1)
		printf("Worker 2 unregisters its memory: %s; pages_sharing now %ld.\n",
		       c == 'k' ? "its pages are its own again at once" : "FAILED",
		       knob("pages_sharing"));

	for (i = 0; i < workers; i++)
		close(cmd[i][1]);
	while (wait(NULL) > 0)
		;
	set_knob("run", "2");
	printf("The workers exited; run=2 unmerged the rest: pages_shared %ld, pages_sharing %ld.\n",
	       knob("pages_shared"), knob("pages_sharing"));

	set_knob("pages_to_scan", "100");
	set_knob("sleep_millisecs", "20");
	set_knob("run", "0");
	return 0;
}
