// SPDX-License-Identifier: GPL-2.0
/*
 * Processes killed while run=2 unmerges them.
 *
 * The kernel's exit_mmap() zaps an mm's page tables with the mmap_lock held
 * only for read, and frees them later without looking at what they still
 * map.  Unmerging a page is a fault (as mainline's break_ksm()), also under
 * the mmap_lock for read.  If the mm's last user goes while xksm unmerges
 * in it, and the zap clears a pte between xksm's look at it and the fault,
 * the fault finds no pte and maps a new page (6.1's write fault), which no
 * one unmaps again: the page stays mapped with its anon_vma freed (a later
 * rmap walk, by compaction say, reads freed memory), and the mm is freed
 * with "BUG: Bad rss-counter state ... MM_ANONPAGES val:1".  Mainline's
 * ksm_exit() orders ksmd before exit_mmap(); a module has no such hook.
 *
 * The window is short: from xksm's look at the pte to the fault's, with no
 * preemption point between them in a voluntary kernel (Debian's default).
 * So the test switches the kernel to full preemption if it can
 * (PREEMPT_DYNAMIC), and keeps both CPUs busy with spinning processes
 * while run=2 runs, so that it loses its CPU now and then, the window
 * included.  K processes map N identical pages each and are merged; then
 * run=2 unmerges them, one after the other, while they are killed one by
 * one, each at about the time run=2 should be in it.  Each round, run=2
 * must succeed and leave nothing merged; at the end, with the exited mms
 * forgotten (their mm_structs freed), the kernel log must hold no report
 * of a bad rss counter or a bad page.
 *
 * The race is a matter of chance: without the fix (xksm_mmap_read_lock_
 * pinned()), 6.1 reported 25 bad rss counters in the 83 rounds of 30 s,
 * the first in round 9.
 * 6.12 unshares by a fault that maps the zero page on a zapped pte, which
 * leaks nothing: there, the test checks that nothing else goes wrong.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "xksm_test.h"

#define K		32	/* processes per round */
#define N		128	/* pages each */
#define SECONDS		30	/* of rounds; XT_RACE_SECONDS overrides */
#define MIN_ROUNDS	4
#define NSPIN		2	/* spinning processes: one per CPU */
#define SEED		0x6b41

static char *mem;

/* A process: fill and register N pages, say so, and wait to be killed. */
static pid_t spawn(int ready_fd)
{
	pid_t pid;
	char b = 0;

	pid = xt_fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	xt_fill(mem, N, SEED);
	if (xt_register(mem, N * XT_PAGE))
		b = 1;
	if (write(ready_fd, &b, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/*
 * A process that spins, one per CPU, to take the CPU from run=2 now and
 * then; stopped (SIGSTOP) while xksmd merges.
 */
static pid_t spinner(void)
{
	pid_t pid;

	pid = xt_fork();
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			;
	}
	return pid;
}

/*
 * run=2 from a process of its own, which the spinning processes take the
 * CPU from at its cond_resched()s: returns its pid; it exits with the
 * write's errno.
 */
static pid_t unmerge_async(void)
{
	pid_t pid;

	pid = xt_fork();
	if (!pid)
		_exit(xt_knob_write("run", 2));
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) :
	       (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
}

/* Start K processes and wait until xksmd has merged them all. */
static void start_round(pid_t *pids)
{
	int ready[2], i, ok;
	char b;

	if (pipe2(ready, O_CLOEXEC))
		fatal("pipe");
	for (i = 0; i < K; i++) {
		pids[i] = spawn(ready[1]);
		if (read(ready[0], &b, 1) != 1 || b)
			fatal("process %d did not register", i);
	}
	close(ready[0]);
	close(ready[1]);
	xt_knob_set("run", 1);
	ok = xt_wait_knob_eq("pages_sharing", (long long)(K - 1) * N, XT_TIMEOUT_S);
	if (!ok || xt_knob("pages_shared") != N) {
		check(0, "%d processes' pages merge (pages_shared %lld, pages_sharing %lld)",
		      K, xt_knob("pages_shared"), xt_knob("pages_sharing"));
		exit(done());
	}
	xt_knob_set("run", 0);
}

/* Set the spinners going, or stop them. */
static pid_t spinners[NSPIN];

static void spin(int on)
{
	int i;

	for (i = 0; i < NSPIN; i++)
		kill(spinners[i], on ? SIGCONT : SIGSTOP);
}

static pid_t parent;

static void spinners_kill(void)
{
	int i;

	if (getpid() != parent)
		return;
	for (i = 0; i < NSPIN; i++) {
		kill(spinners[i], SIGKILL);
		waitpid(spinners[i], NULL, 0);
	}
}

/*
 * The window holds no preemption point of a voluntary kernel (Debian's
 * default); a fully preemptible one can take the CPU away in the middle of
 * it.  The kernels have PREEMPT_DYNAMIC: switch to full preemption for the
 * test, through debugfs, and back at exit.
 */
#define PREEMPT_FILE	"/sys/kernel/debug/sched/preempt"

static char preempt_was[32];

static void preempt_restore(void)
{
	if (preempt_was[0] && xt_write_file(PREEMPT_FILE, preempt_was))
		printf("# could not restore %s to %s\n", PREEMPT_FILE, preempt_was);
}

static void preempt_full(void)
{
	char *modes = xt_read_all(PREEMPT_FILE, 256), *open, *close;

	if (!modes) {
		xt_note("no %s: the kernel's own preemption mode", PREEMPT_FILE);
		return;
	}
	open = strchr(modes, '(');
	close = open ? strchr(open, ')') : NULL;
	if (close && close - open - 1 < (long)sizeof(preempt_was)) {
		memcpy(preempt_was, open + 1, close - open - 1);
		atexit(preempt_restore);
		if (xt_write_file(PREEMPT_FILE, "full"))
			preempt_was[0] = 0;
	}
	xt_note("preemption: %s -> %s", preempt_was[0] ? preempt_was : modes,
		preempt_was[0] ? "full" : "unchanged");
	free(modes);
}

/* The kernel log's records from @fd on: the first bad one, or NULL. */
static const char *kmsg_bad(int fd, char *buf, size_t len)
{
	static const char *const bad[] = {
		"Bad rss-counter", "Bad page", "BUG:",
	};
	ssize_t n;
	size_t i;

	for (;;) {
		n = read(fd, buf, len - 1);
		if (n < 0 && errno == EPIPE)	/* records overwritten: go on */
			continue;
		if (n <= 0)
			return NULL;
		buf[n] = 0;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (strstr(buf, bad[i]))
				return buf;
	}
}

int main(void)
{
	const char *env = getenv("XT_RACE_SECONDS");
	double seconds = env ? atof(env) : SECONDS, start;
	pid_t pids[K], unmerger;
	int i, r, err, failed = 0, kmsg, bad_round = -1;
	long long shared, sharing;
	double t0, unmerge_s, delay;
	char rec[1024];
	const char *hit;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	xt_start_fast();
	xt_knob_set("run", 2);
	preempt_full();
	srand48(getpid());
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0)
		fatal("open /dev/kmsg");
	lseek(kmsg, 0, SEEK_END);
	mem = xt_map(N);	/* each process fills its own copy */
	parent = getpid();
	for (i = 0; i < NSPIN; i++)
		spinners[i] = spinner();
	atexit(spinners_kill);
	spin(0);

	/* Round 0: how long run=2 takes to unmerge K processes. */
	start_round(pids);
	spin(1);
	t0 = xt_now();
	check(reap(unmerge_async()) == 0, "run=2 unmerges %d processes", K);
	unmerge_s = xt_now() - t0;
	spin(0);
	xt_note("run=2 took %.3f s for %d pages", unmerge_s, K * N);
	for (i = 0; i < K; i++) {
		kill(pids[i], SIGKILL);
		reap(pids[i]);
	}

	/*
	 * The race: run=2 unmerges the processes one after the other, in the
	 * order they registered; each round kills each while run=2 should be
	 * in it, by the time measured above.  One kill gives one chance.
	 */
	start = xt_now();
	for (r = 1; r <= MIN_ROUNDS || xt_now() - start < seconds; r++) {
		start_round(pids);
		spin(1);
		t0 = xt_now();
		unmerger = unmerge_async();
		for (i = 0; i < K; i++) {
			delay = unmerge_s * (i + 0.25 + 0.5 * drand48()) / K;
			delay -= xt_now() - t0;
			if (delay > 0)
				usleep(delay * 1e6);
			kill(pids[i], SIGKILL);
		}
		err = reap(unmerger);
		spin(0);
		for (i = 0; i < K; i++)
			reap(pids[i]);
		shared = xt_knob("pages_shared");
		sharing = xt_knob("pages_sharing");
		if (err || shared || sharing) {
			if (!failed++)
				xt_note("round %d: run=2 exit %d, pages_shared %lld, pages_sharing %lld",
					r, err, shared, sharing);
			xt_knob_write("run", 2);	/* for the next round */
		}
		hit = kmsg_bad(kmsg, rec, sizeof(rec));
		if (hit && bad_round < 0) {
			bad_round = r;
			xt_note("round %d: %s", r, hit);
		}
	}
	check(!failed, "run=2 succeeded and left nothing merged in %d of %d rounds",
	      r - 1 - failed, r - 1);

	/* run=2 again forgets the exited mms: their mm_structs are freed. */
	check(xt_knob_write("run", 2) == 0, "run=2 forgets the exited processes");
	xt_msleep(200);
	hit = kmsg_bad(kmsg, rec, sizeof(rec));
	if (hit && bad_round < 0) {
		bad_round = r;
		xt_note("at the end: %s", hit);
	}
	check(bad_round < 0,
	      "the kernel reports no bad rss counter or page (first in round %d)",
	      bad_round);
	close(kmsg);
	return done();
}
