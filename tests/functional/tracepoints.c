// SPDX-License-Identifier: GPL-2.0
/*
 * The xksm:* tracepoints (docs/tracepoints.md): each event exists with the
 * fields documented, and fires, with the right values, when xksm does what
 * it reports.
 *
 * tracefs is mounted at /sys/kernel/tracing if need be (the test is
 * skipped only when the kernel has no tracefs); events/xksm/ must exist,
 * with a format file naming the fields of each event.  With every xksm
 * event enabled, and the buffer cleared before each step, this process:
 *
 *  1. registers three mappings a, b, c of the same N pages and starts
 *     xksmd: its xksm_enter (in this task) is seen; the xksm_start_scan and
 *     xksm_stop_scan events carry seq F0..F1-1 as full_scans went from F0
 *     to F1, the first pass scanning 3N pages; for every page of a, b and
 *     c, an xksm_merge_one_page at its address with the PFN pagemap shows
 *     for it once merged and err 0, and an xksm_merge_with_ksm_page with
 *     that kpfn, err 0; some of those merge a page into an existing KSM
 *     page (kpfn != pfn);
 *  2. unregisters c: one xksm_unmerge at each of its addresses (err 0, in
 *     this task), and an xksm_remove_rmap_item at each with the KSM page's
 *     PFN; no rmap_item is deferred, as nothing else maps c's pages;
 *  3. forks a child that keeps a and b mapped, and unregisters b: each of
 *     b's rmap_items is deferred (xksm_defer_rmap_item at its address, with
 *     its PFN); once the child exits, xksmd reaps them (xksm_reap_rmap_item
 *     of the same rmap_items, the last leaving deferred 0), and frees the
 *     child's slot (xksm_exit of the mm of the child's xksm_enter);
 *  4. unregisters a (an xksm_unmerge at each address), and xksmd frees
 *     this process's slot (xksm_exit of the mm of step 1's xksm_enter); the
 *     stable nodes of the KSM pages, freed with their last mapping, are
 *     removed by then or by run=2 (xksm_remove_ksm_page with their kpfn).
 *
 * Then the tools users read them with, each where the guest has it:
 * "trace-cmd record -e xksm" (/usr/bin/trace-cmd), read back with
 * "trace-cmd report"; and perf
 * (/usr/bin/perf, Debian's linux-perf): "perf list 'xksm:*'" must list
 * every event as a tracepoint, and "perf stat -a" counts
 * xksm_merge_one_page and xksm_stop_scan.  Each tool's command is this
 * program, which says "go" once the tool records and exits when told: in
 * that exact window 8 twin mappings are made and merge, so the tool must
 * show at least one xksm_merge_one_page per page that became merged (same
 * PFN as its twin, from pagemap), and a number of xksm_stop_scan between
 * the passes that surely ended inside the window and those that
 * full_scans saw around the tool's whole run.
 *
 * The events are toggled with options/record-cmd off and xksmd stopped
 * (see setup_tracefs()).  At the end the events are disabled, the buffer
 * cleared and record-cmd restored.  xksm only.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <ctype.h>
#include <poll.h>

#include "xksm_test.h"

#define N		16
#define SEED		0x6b30
#define TC_SEED		0x6b31
#define TRACEFS		"/sys/kernel/tracing"
#define EVENTS		TRACEFS "/events/xksm"
#define TRACE_CMD	"/usr/bin/trace-cmd"
#define TC_DATA		"/tmp/xksm-trace.dat"
#define PERF		"/usr/bin/perf"
#define PERF_OUT	"/tmp/xksm-perf.csv"
#define WINDOW_ARG	"--window"	/* this program, as the tools' command */
#define PERF_SEED	0x6b40
#define WAIT_S		30	/* for xksmd to reap and free slots */

static const struct {
	const char *name;
	const char *fields[7];
} events[] = {
	{ "xksm_start_scan", { "seq", "rmap_items", "deferred", "mm_slots" } },
	{ "xksm_stop_scan", { "seq", "pages", "rmap_items", "shared", "sharing", "unshared" } },
	{ "xksm_advisor", { "scan_time", "pages_to_scan", "cpu_percent" } },
	{ "xksm_enter", { "mm" } },
	{ "xksm_exit", { "mm" } },
	{ "xksm_merge_one_page", { "pfn", "rmap_item", "mm", "addr", "err" } },
	{ "xksm_merge_with_ksm_page", { "kpfn", "pfn", "rmap_item", "mm", "addr", "err" } },
	{ "xksm_unmerge", { "mm", "addr", "zero", "err" } },
	{ "xksm_remove_ksm_page", { "kpfn", "stable_node" } },
	{ "xksm_remove_rmap_item", { "pfn", "rmap_item", "mm", "addr" } },
	{ "xksm_defer_rmap_item", { "pfn", "rmap_item", "mm", "addr", "deferred" } },
	{ "xksm_reap_rmap_item", { "rmap_item", "mm", "addr", "deferred" } },
};
#define NEVENTS		(sizeof(events) / sizeof(events[0]))

/* --- tracefs ------------------------------------------------------------ */

static int mounted, enabled;
static char record_cmd = '1';	/* options/record-cmd as found */

static int tfs_write(const char *name, const char *s)
{
	char path[128];

	snprintf(path, sizeof(path), TRACEFS "/%s", name);
	return xt_write_file(path, s);
}

/* Empty the ring buffer: open "trace" for writing, truncating. */
static void clear_trace(void)
{
	int fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0)
		fatal("clear " TRACEFS "/trace");
	close(fd);
}

/* Disable the events and clear the buffer (also at exit, on failure). */
static void trace_off(void)
{
	if (enabled) {
		tfs_write("events/xksm/enable", "0");
		clear_trace();
		tfs_write("trace_options", "pause-on-trace");
		tfs_write("options/record-cmd", record_cmd == '0' ? "0" : "1");
		enabled = 0;
	}
}

static void trace_unmount(void)
{
	trace_off();
	if (mounted && !umount(TRACEFS))
		mounted = 0;
}

/* --- the events in the buffer ------------------------------------------ */

#define MAX_FIELDS	8

struct ev {
	char name[32];
	int pid;			/* of the task it fired in */
	int nf;
	char key[MAX_FIELDS][16];
	char val[MAX_FIELDS][24];
};

static struct ev *evs;
static size_t nevs;

/*
 * Parse one line of "trace":
 *   <comm>-<pid> [cpu] flags timestamp: xksm_<event>: key value key value ...
 * Returns 0 for a line that is no xksm event.
 */
static int parse_line(char *line, struct ev *e)
{
	char *p = strstr(line, ": xksm_"), *name, *end, *tok, *save;
	char *task_end;

	if (line[0] == '#' || !p)
		return 0;
	*p = 0;
	task_end = strstr(line, " [");
	if (!task_end)
		return 0;
	*task_end = 0;
	tok = strrchr(line, '-');
	e->pid = tok ? atoi(tok + 1) : -1;

	name = p + 2;
	end = strchr(name, ':');
	if (!end || (size_t)(end - name) >= sizeof(e->name))
		return 0;
	*end = 0;
	strcpy(e->name, name);
	e->nf = 0;
	for (tok = strtok_r(end + 1, " \t", &save); tok && e->nf < MAX_FIELDS;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *val = strtok_r(NULL, " \t", &save);

		if (!val)
			break;
		snprintf(e->key[e->nf], sizeof(e->key[0]), "%s", tok);
		snprintf(e->val[e->nf], sizeof(e->val[0]), "%s", val);
		e->nf++;
	}
	return 1;
}

/* Read the buffer (it stays as it is) into evs[]; returns how many. */
static size_t read_trace(void)
{
	char *buf = xt_read_all(TRACEFS "/trace", 4096), *line, *save;
	size_t cap = 0;

	if (!buf)
		fatal("read " TRACEFS "/trace");
	free(evs);
	evs = NULL;
	nevs = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (nevs == cap) {
			cap = cap ? 2 * cap : 1024;
			evs = realloc(evs, cap * sizeof(*evs));
			if (!evs)
				fatal("realloc");
		}
		nevs += parse_line(line, &evs[nevs]);
	}
	free(buf);
	return nevs;
}

static const char *ev_str(const struct ev *e, const char *key)
{
	int i;

	for (i = 0; i < e->nf; i++)
		if (!strcmp(e->key[i], key))
			return e->val[i];
	return "";
}

/* A number field: decimal, or hexadecimal with 0x (never a pointer). */
static unsigned long ev_ul(const struct ev *e, const char *key)
{
	return strtoul(ev_str(e, key), NULL, 0);
}

static long ev_l(const struct ev *e, const char *key)
{
	return strtol(ev_str(e, key), NULL, 0);
}

static int is(const struct ev *e, const char *name)
{
	return !strcmp(e->name, name);
}

static size_t count_events(const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < nevs; i++)
		n += is(&evs[i], name);
	return n;
}

/* The first event @name at address @addr from index @from, or NULL. */
static const struct ev *find_at(const char *name, const void *addr, size_t from)
{
	size_t i;

	for (i = from; i < nevs; i++)
		if (is(&evs[i], name) && ev_ul(&evs[i], "addr") == (uintptr_t)addr)
			return &evs[i];
	return NULL;
}

/* Print the buffer's xksm events (on a failure), at most @max. */
static void dump_events(const char *why, size_t max)
{
	size_t i;
	int f;

	xt_note("%s: %zu xksm event(s) in the buffer%s", why, nevs,
		nevs > max ? ", the first ones:" : ":");
	for (i = 0; i < nevs && i < max; i++) {
		char line[400];
		int len = snprintf(line, sizeof(line), "  pid %d %s:", evs[i].pid, evs[i].name);

		for (f = 0; f < evs[i].nf && len < (int)sizeof(line); f++)
			len += snprintf(line + len, sizeof(line) - len, " %s %s",
					evs[i].key[f], evs[i].val[f]);
		xt_note("%s", line);
	}
}

/* Poll the buffer until @done() holds, at most @timeout_s; returns it. */
static int wait_events(int (*done)(void), int timeout_s)
{
	double deadline = xt_now() + timeout_s;

	for (;;) {
		read_trace();
		if (done())
			return 1;
		if (xt_now() > deadline)
			return 0;
		xt_msleep(200);
	}
}

/* --- set-up ------------------------------------------------------------- */

static void setup_tracefs(void)
{
	struct stat st;
	size_t i, f;
	char path[160];

	if (stat(TRACEFS "/events", &st)) {
		if (stat(TRACEFS, &st))
			skip("this kernel has no tracefs (no %s)", TRACEFS);
		if (mount("tracefs", TRACEFS, "tracefs", 0, NULL)) {
			if (errno == ENODEV)
				skip("this kernel has no tracefs (mount: %s)", strerror(errno));
			fatal("mount tracefs at " TRACEFS);
		}
		mounted = 1;
	}
	atexit(trace_unmount);
	if (!check(stat(EVENTS, &st) == 0 && S_ISDIR(st.st_mode),
		   "%s exists: xksm registered its trace events", EVENTS))
		exit(done());

	for (i = 0; i < NEVENTS; i++) {
		char *fmt, *missing = NULL;

		snprintf(path, sizeof(path), EVENTS "/%s/format", events[i].name);
		fmt = xt_read_all(path, 4096);
		if (!check(fmt != NULL, "%s exists", path))
			continue;
		for (f = 0; f < 7 && events[i].fields[f]; f++) {
			char pat[40];

			snprintf(pat, sizeof(pat), " %s;", events[i].fields[f]);
			if (!strstr(fmt, pat))
				missing = (char *)events[i].fields[f];
		}
		check(!missing, "the format of %s has its fields (missing: %s)", events[i].name,
		      missing ? missing : "none");
		free(fmt);
	}

	/* Reading "trace" must not stop the recording of what xksmd does. */
	tfs_write("trace_options", "nopause-on-trace");
	/*
	 * Enable only xksm's own tracepoints, and only while nothing runs
	 * xksm's code (xksmd is stopped here, and in window_run() while the
	 * tools start and stop).  With record-cmd on, enabling the first event
	 * of any kind also hooks sched_switch and sched_wakeup to record
	 * comms: the kernel then patches its hottest call sites through int3
	 * (text_poke_bp()), and under QEMU's TCG a vCPU can still run the int3
	 * after the patching is over, its interrupt handler translated from
	 * the half-patched code: "Oops: int3" in ttwu_do_activate(), in CI
	 * on 6.12 and on the debug kernel.  A loop toggling
	 * events/xksm/enable while both vCPUs take timer wakeups hit it
	 * within 12 s of boot; with record-cmd off it ran 3168 toggles in 4
	 * minutes.  This test reads the events' pids, never their comms.
	 */
	{
		char *rc = xt_read_all(TRACEFS "/options/record-cmd", 4096);

		if (rc)
			record_cmd = rc[0];
		free(rc);
		if (tfs_write("options/record-cmd", "0"))
			fatal("write " TRACEFS "/options/record-cmd");
	}
	if (tfs_write("tracing_on", "1"))
		fatal("write " TRACEFS "/tracing_on");
	if (tfs_write("events/xksm/enable", "1"))
		fatal("enable " EVENTS);
	enabled = 1;
	clear_trace();
}

/* --- the steps ----------------------------------------------------------- */

static char *a, *b, *c;
static unsigned long kpfn[N];		/* the KSM page of page i */
static char self_mm[24];		/* this process's mm, as printed */
static char child_mm[24];

static int holder(int cmd, void *arg)
{
	(void)arg;
	return cmd ? 255 : 0;	/* keeps the forked mappings until told to exit */
}

static size_t pairs_same(const char *x, const char *y)
{
	return xt_count_same_pfn(0, x, 0, y, N);
}

static void step_merge(void)
{
	unsigned long f0, f1, expect, pages_f0 = 0, rmap_items_f0 = 0;
	size_t i, k, starts = 0, stops = 0, bad_order = 0, enters = 0, into_ksm = 0;
	size_t one_ok = 0, with_ok = 0;
	char *const maps[3] = { a, b, c };
	int tries, seen_f0 = 0;

	xt_fill(a, N, SEED);
	xt_fill(b, N, SEED);
	xt_fill(c, N, SEED);
	xt_register_or_die(a, N * XT_PAGE);
	xt_register_or_die(b, N * XT_PAGE);
	xt_register_or_die(c, N * XT_PAGE);

	f0 = xt_knob("full_scans");
	xt_knob_set("run", 1);
	for (tries = 0; tries < 10; tries++) {
		xt_wait_full_scans(tries ? 1 : 2);
		if (pairs_same(a, b) == N && pairs_same(a, c) == N)
			break;
	}
	xt_knob_set("run", 0);		/* freeze full_scans and the buffer */
	f1 = xt_knob("full_scans");
	read_trace();
	if (!check(pairs_same(a, b) == N && pairs_same(a, c) == N,
		   "step 1: the %d pages of a, b and c merge (a~b %zu, a~c %zu)", N,
		   pairs_same(a, b), pairs_same(a, c)))
		exit(done());
	for (i = 0; i < N; i++)
		kpfn[i] = xt_pfn(a + i * XT_PAGE);

	/* Scans: stops F0..F1-1 in order, each after the start of its seq. */
	expect = f0;
	for (i = 0; i < nevs; i++) {
		const struct ev *e = &evs[i];

		if (is(e, "xksm_start_scan")) {
			starts++;
			if (ev_ul(e, "seq") != expect)
				bad_order++;
		} else if (is(e, "xksm_stop_scan")) {
			stops++;
			if (ev_ul(e, "seq") != expect)
				bad_order++;
			if (ev_ul(e, "seq") == f0) {
				seen_f0 = 1;
				pages_f0 = ev_ul(e, "pages");
				rmap_items_f0 = ev_ul(e, "rmap_items");
			}
			expect++;
		} else if (is(e, "xksm_enter") && e->pid == getpid()) {
			enters++;
			snprintf(self_mm, sizeof(self_mm), "%s", ev_str(e, "mm"));
		}
	}
	check(stops == f1 - f0 && bad_order == 0 && starts >= stops && starts <= stops + 1,
	      "step 1: full_scans went %lu -> %lu: xksm_stop_scan seq %lu..%lu, each after "
	      "xksm_start_scan of its seq (%zu starts, %zu stops, %zu out of order)",
	      f0, f1, f0, f1 - 1, starts, stops, bad_order);
	check(seen_f0 && pages_f0 == 3 * N && rmap_items_f0 == 3 * N,
	      "step 1: the first pass scanned the %d registered pages (pages %lu, rmap_items %lu)",
	      3 * N, pages_f0, rmap_items_f0);
	check(enters == 1, "step 1: one xksm_enter in this task (pid %d) as it registers (%zu)",
	      (int)getpid(), enters);

	for (k = 0; k < 3; k++) {
		for (i = 0; i < N; i++) {
			char *addr = maps[k] + i * XT_PAGE;
			const struct ev *e;
			int one = 0, with = 0;

			for (e = find_at("xksm_merge_one_page", addr, 0); e && !one;
			     e = find_at("xksm_merge_one_page", addr, e - evs + 1))
				one = ev_ul(e, "pfn") == kpfn[i] && ev_l(e, "err") == 0;
			for (e = find_at("xksm_merge_with_ksm_page", addr, 0); e && !with;
			     e = find_at("xksm_merge_with_ksm_page", addr, e - evs + 1)) {
				with = ev_ul(e, "kpfn") == kpfn[i] && ev_l(e, "err") == 0;
				into_ksm += with && ev_ul(e, "pfn") != kpfn[i];
			}
			one_ok += one;
			with_ok += with;
		}
	}
	check(one_ok == 3 * N,
	      "step 1: each of the %d merged pages has an xksm_merge_one_page at its address "
	      "with the PFN pagemap shows, err 0 (%zu do)", 3 * N, one_ok);
	check(with_ok == 3 * N,
	      "step 1: each of the %d has an xksm_merge_with_ksm_page with that kpfn, err 0 "
	      "(%zu do)", 3 * N, with_ok);
	check(into_ksm >= 2 * N,
	      "step 1: %d or more of them merged a page into an existing KSM page "
	      "(kpfn != pfn: %zu)", 2 * N, into_ksm);
	if (xt_failures)
		dump_events("step 1", 60);
}

static void step_unmerge(void)
{
	size_t i, unmerged = 0, removed = 0, copied = 0;
	int failures = xt_failures;

	clear_trace();
	if (xt_unregister(c, N * XT_PAGE, 0))
		fatal("unregister c");
	read_trace();
	for (i = 0; i < N; i++) {
		char *addr = c + i * XT_PAGE;
		const struct ev *e = find_at("xksm_unmerge", addr, 0), *r;

		unmerged += e && ev_l(e, "err") == 0 && ev_l(e, "zero") == 0 &&
			    e->pid == getpid() && !strcmp(ev_str(e, "mm"), self_mm) &&
			    !find_at("xksm_unmerge", addr, e - evs + 1);
		r = find_at("xksm_remove_rmap_item", addr, 0);
		removed += r && ev_ul(r, "pfn") == kpfn[i] && !strcmp(ev_str(r, "mm"), self_mm);
		copied += xt_pfn(addr) != kpfn[i];
	}
	check(copied == N, "step 2: unregistering c copied each of its pages (%zu)", copied);
	check(unmerged == N,
	      "step 2: one xksm_unmerge per address of c, in this task, this mm, err 0 (%zu of %d)",
	      unmerged, N);
	check(removed == N,
	      "step 2: an xksm_remove_rmap_item per address of c, with its KSM page's PFN "
	      "(%zu of %d)", removed, N);
	check(count_events("xksm_defer_rmap_item") == 0,
	      "step 2: no rmap_item deferred: nothing else maps c's pages (%zu)",
	      count_events("xksm_defer_rmap_item"));
	if (xt_failures > failures)
		dump_events("step 2", 60);
}

static char defer_item[N][24];		/* the deferred rmap_items of b */

static int b_reaped(void)
{
	size_t i;

	for (i = 0; i < N; i++) {
		const struct ev *e = find_at("xksm_reap_rmap_item", b + i * XT_PAGE, 0);

		if (!e || strcmp(ev_str(e, "rmap_item"), defer_item[i]))
			return 0;
	}
	return 1;
}

static int child_gone(void)
{
	size_t i;

	for (i = 0; i < nevs; i++)
		if (is(&evs[i], "xksm_exit") && child_mm[0] &&
		    !strcmp(ev_str(&evs[i], "mm"), child_mm))
			return 1;
	return 0;
}

static int reaped_and_gone(void)
{
	return b_reaped() && child_gone();
}

static void step_defer(void)
{
	size_t i, deferred = 0, unmerged = 0, last_left = 1;
	int failures = xt_failures, ok;
	struct xt_child ch;

	clear_trace();
	if (xt_child_start(&ch, holder, NULL))
		fatal("start the child");
	if (xt_unregister(b, N * XT_PAGE, 0))
		fatal("unregister b");
	read_trace();
	for (i = 0; i < N; i++) {
		char *addr = b + i * XT_PAGE;
		const struct ev *e = find_at("xksm_defer_rmap_item", addr, 0);

		if (e && ev_ul(e, "pfn") == kpfn[i] && !strcmp(ev_str(e, "mm"), self_mm)) {
			deferred++;
			snprintf(defer_item[i], sizeof(defer_item[i]), "%s", ev_str(e, "rmap_item"));
		}
		e = find_at("xksm_unmerge", addr, 0);
		unmerged += e && ev_l(e, "err") == 0;
	}
	check(unmerged == N, "step 3: unregistering b: an xksm_unmerge per address (%zu of %d)",
	      unmerged, N);
	check(deferred == N,
	      "step 3: with a child mapping the pages, an xksm_defer_rmap_item per address of b, "
	      "with its KSM page's PFN (%zu of %d)", deferred, N);
	if (xt_knob_exists("deferred_rmap_items"))
		check(xt_knob("deferred_rmap_items") >= N, "step 3: deferred_rmap_items counts them (%lld)",
		      xt_knob("deferred_rmap_items"));

	/* The child's slot: made by fork inheritance, not in this task. */
	for (i = 0; i < nevs; i++)
		if (is(&evs[i], "xksm_enter") && strcmp(ev_str(&evs[i], "mm"), self_mm))
			snprintf(child_mm, sizeof(child_mm), "%s", ev_str(&evs[i], "mm"));
	if (!child_mm[0]) {
		/* The inheritance may still be on its way: it runs in a work. */
		xt_msleep(500);
		read_trace();
		for (i = 0; i < nevs; i++)
			if (is(&evs[i], "xksm_enter") && strcmp(ev_str(&evs[i], "mm"), self_mm))
				snprintf(child_mm, sizeof(child_mm), "%s", ev_str(&evs[i], "mm"));
	}
	check(child_mm[0], "step 3: the forked child inherits the registration: an xksm_enter "
	      "of another mm (%s)", child_mm[0] ? child_mm : "none");

	xt_knob_set("run", 1);
	check(xt_child_stop(&ch) == 0, "step 3: the child exits");
	ok = wait_events(reaped_and_gone, WAIT_S);
	check(b_reaped(), "step 3: once the child is gone, xksmd reaps each deferred rmap_item "
	      "of b: an xksm_reap_rmap_item of the same rmap_item at its address");
	for (i = 0; i < nevs; i++)
		if (is(&evs[i], "xksm_reap_rmap_item"))
			last_left = ev_ul(&evs[i], "deferred");
	check(ok && last_left == 0, "step 3: the last xksm_reap_rmap_item leaves deferred 0 (%zu)",
	      last_left);
	check(child_gone(), "step 3: xksmd frees the child's slot: xksm_exit of its mm %s",
	      child_mm);
	if (xt_failures > failures)
		dump_events("step 3", 80);
}

static int self_gone(void)
{
	size_t i;

	for (i = 0; i < nevs; i++)
		if (is(&evs[i], "xksm_exit") && !strcmp(ev_str(&evs[i], "mm"), self_mm))
			return 1;
	return 0;
}

static void step_remove(void)
{
	size_t i, j, removed = 0, unmerged = 0;
	int failures = xt_failures;

	clear_trace();
	if (xt_unregister(a, N * XT_PAGE, 0))
		fatal("unregister a");
	read_trace();
	for (i = 0; i < N; i++) {
		const struct ev *e = find_at("xksm_unmerge", a + i * XT_PAGE, 0);

		unmerged += e && ev_l(e, "err") == 0;
	}
	check(unmerged == N, "step 4: unregistering a: an xksm_unmerge per address (%zu of %d)",
	      unmerged, N);
	check(wait_events(self_gone, WAIT_S),
	      "step 4: with nothing registered, xksmd frees this process's slot: xksm_exit of "
	      "its mm %s", self_mm);

	xt_knob_set("run", 2);
	read_trace();
	for (i = 0; i < N; i++) {
		for (j = 0; j < nevs; j++)
			if (is(&evs[j], "xksm_remove_ksm_page") &&
			    ev_ul(&evs[j], "kpfn") == kpfn[i])
				break;
		removed += j < nevs;
	}
	check(removed == N,
	      "step 4: the stable nodes of the %d KSM pages go: xksm_remove_ksm_page with their "
	      "kpfn (%zu)", N, removed);
	if (xt_failures > failures)
		dump_events("step 4", 60);
}

/* --- trace-cmd and perf ---------------------------------------------------- */

/*
 * Both tools run a command while they record or count: they enable their
 * events before they start it, and stop only after it exits.  That command
 * is this program with WINDOW_ARG: it says "go" on fd 3 and exits at EOF on
 * its stdin.  So the window is exact: whatever xksm does between "go" and
 * closing that stdin is in the record or the count, however slow the guest.
 */
static int window_cmd(void)
{
	char c;

	if (write(3, "go\n", 3) != 3)
		return 1;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

struct window {
	pid_t pid;
	int end;		/* closing it ends the command */
	long long f0;		/* full_scans before the tool started */
	long long fgo;		/* ... once it records */
	long long fend;		/* ... before the command is told to exit */
	long long f1;		/* ... after the tool exited */
	size_t merged;		/* pages that became merged inside */
};

static char self_exe[256];

/*
 * Run the tool @argv (its command: self_exe WINDOW_ARG, last), and once it
 * records, map PAIRS twin mappings of 2 pages from @seed and wait until
 * they are merged and two more passes ended.  Returns 0 if the tool never
 * said "go".
 */
#define PAIRS		8
static int window_run(struct window *w, char *const argv[], unsigned int seed)
{
	char *x[PAIRS], *y[PAIRS], buf[3];
	int go[2], end[2], ok;
	struct pollfd pfd;
	double deadline;
	size_t k;

	if (pipe2(go, O_CLOEXEC) || pipe2(end, O_CLOEXEC))
		fatal("pipe2");
	/* xksmd stays stopped while the tool enables the events: setup_tracefs(). */
	xt_knob_set("run", 0);
	w->f0 = xt_knob("full_scans");
	w->pid = xt_fork();
	if (w->pid == 0) {
		if (dup2(end[0], 0) < 0 ||
		    (go[1] == 3 ? fcntl(3, F_SETFD, 0) : dup2(go[1], 3)) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(go[1]);
	close(end[0]);
	w->end = end[1];

	pfd.fd = go[0];
	pfd.events = POLLIN;
	ok = poll(&pfd, 1, 120 * 1000) == 1 && read(go[0], buf, 3) == 3 && !memcmp(buf, "go\n", 3);
	close(go[0]);
	if (!ok)
		return 0;

	w->fgo = xt_knob("full_scans");
	{
		char *rc = xt_read_all(TRACEFS "/options/record-cmd", 4096);

		check(rc && rc[0] == '0', "%s leaves options/record-cmd off while it records (%c)",
		      argv[0], rc ? rc[0] : '?');
		free(rc);
	}
	xt_knob_set("run", 1);
	for (k = 0; k < PAIRS; k++)
		xt_map_twins(2, seed + k, &x[k], &y[k]);
	for (deadline = xt_now() + 120;; xt_msleep(200)) {
		for (w->merged = 0, k = 0; k < PAIRS; k++)
			w->merged += 2 * xt_count_same_pfn(0, x[k], 0, y[k], 2);
		if (w->merged == 4 * PAIRS || xt_now() > deadline)
			break;
	}
	/* Two passes more: the end of one falls wholly inside the window. */
	for (deadline = xt_now() + 120; xt_knob("full_scans") < w->fgo + 2 && xt_now() < deadline;)
		xt_msleep(100);
	w->fend = xt_knob("full_scans");
	return 1;
}

/* End the command, and so the tool's record or count; its exit status. */
static int window_end(struct window *w)
{
	int status;

	xt_knob_set("run", 0);		/* ... and while it disables them */
	close(w->end);
	if (waitpid(w->pid, &status, 0) != w->pid)
		fatal("wait for %s", "the tool");
	w->f1 = xt_knob("full_scans");
	return status;
}

/*
 * The events of a window, from a tool: at least one xksm_merge_one_page for
 * each page that became merged inside it, and xksm_stop_scan for each pass
 * that surely ended inside (fgo+1..fend-1), but no more than full_scans saw
 * around the tool's whole run.
 */
static void window_check(const char *tool, const struct window *w, long long merges,
			 long long stops)
{
	check(w->merged == 4 * PAIRS,
	      "%s: the %d pages of %d twin mappings merge in the window (%zu)", tool,
	      4 * PAIRS, PAIRS, w->merged);
	check(merges > 0 && merges >= (long long)w->merged,
	      "%s: %lld xksm_merge_one_page, at least one for each of the %zu pages that "
	      "became merged in the window", tool, merges, w->merged);
	check(stops > 0 && stops >= w->fend - w->fgo - 1 && stops <= w->f1 - w->f0,
	      "%s: %lld xksm_stop_scan, between the %lld passes that ended inside the window "
	      "and the %lld that full_scans saw around the tool's whole run", tool, stops,
	      w->fend - w->fgo - 1, w->f1 - w->f0);
}

static void trace_cmd(void)
{
	char *const argv[] = { TRACE_CMD, "record", "-e", "xksm", "-o", TC_DATA,
			       self_exe, WINDOW_ARG, NULL };
	long long scans = 0, merges = 0, lines = 0;
	struct window w;
	char line[512];
	int ok, status;
	FILE *f;

	if (access(TRACE_CMD, X_OK)) {
		xt_note("no %s in this guest: the trace-cmd record/report check is skipped",
			TRACE_CMD);
		return;
	}
	unlink(TC_DATA);
	ok = window_run(&w, argv, TC_SEED);
	status = window_end(&w);
	if (!check(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "trace-cmd record -e xksm -o %s %s %s runs its command and succeeds "
		   "(%s, status %#x)", TC_DATA, self_exe, WINDOW_ARG,
		   ok ? "it ran" : "it did not run", status))
		return;

	f = popen(TRACE_CMD " report -i " TC_DATA " 2>/dev/null", "r");
	if (!f)
		fatal("popen trace-cmd report");
	while (fgets(line, sizeof(line), f)) {
		lines++;
		scans += !!strstr(line, "xksm_stop_scan:");
		merges += !!strstr(line, "xksm_merge_one_page:");
	}
	status = pclose(f);
	check(status == 0 && lines > 0, "trace-cmd report -i %s succeeds: %lld lines (status %#x)",
	      TC_DATA, lines, status);
	window_check("trace-cmd report", &w, merges, scans);
	unlink(TC_DATA);
}

/* "perf list 'xksm:*'" lists each event as a tracepoint. */
static void perf_list(void)
{
	int seen[NEVENTS] = { 0 };
	size_t i, listed = 0, lines = 0;
	char line[512];
	FILE *f;
	int status;

	f = popen(PERF " list 'xksm:*' 2>&1", "r");
	if (!f)
		fatal("popen perf list");
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *end = p + strcspn(p, " \t\n");

		lines++;
		if (strncmp(p, "xksm:", 5) || !strstr(end, "Tracepoint event"))
			continue;
		*end = 0;
		for (i = 0; i < NEVENTS; i++)
			if (!strcmp(p + 5, events[i].name))
				seen[i] = 1;
	}
	status = pclose(f);
	for (i = 0; i < NEVENTS; i++) {
		listed += seen[i];
		if (!seen[i])
			xt_note("perf list does not show xksm:%s", events[i].name);
	}
	check(status == 0 && listed == NEVENTS,
	      "perf list 'xksm:*' shows the %zu xksm events as [Tracepoint event] (%zu of "
	      "them, %zu lines, status %#x)", NEVENTS, listed, lines, status);
}

static void perf_stat(void)
{
	char *const argv[] = { PERF, "stat", "-e", "xksm:xksm_merge_one_page",
			       "-e", "xksm:xksm_stop_scan", "-a", "-x,", "-o", PERF_OUT,
			       "--", self_exe, WINDOW_ARG, NULL };
	long long merges = -1, stops = -1;
	struct window w;
	size_t lines = 0;
	char line[512];
	int ok, status;
	FILE *f;

	unlink(PERF_OUT);
	ok = window_run(&w, argv, PERF_SEED);
	status = window_end(&w);
	if (!check(ok && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		   "perf stat -e xksm:xksm_merge_one_page -e xksm:xksm_stop_scan -a -x, -o %s "
		   "-- %s %s runs its command and succeeds (%s, status %#x)", PERF_OUT, self_exe,
		   WINDOW_ARG, ok ? "it ran" : "it did not run", status))
		return;

	/* CSV: count,unit,event,run time,percentage,... */
	f = fopen(PERF_OUT, "r");
	if (!f)
		fatal("open " PERF_OUT);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *count, *event;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		lines++;
		xt_note("perf stat: %.*s", (int)strcspn(line, "\n"), line);
		count = strsep(&p, ",");
		strsep(&p, ",");			/* the unit: empty */
		event = strsep(&p, ",");
		if (!event || !isdigit((unsigned char)count[0]))
			continue;
		if (!strcmp(event, "xksm:xksm_merge_one_page"))
			merges = atoll(count);
		else if (!strcmp(event, "xksm:xksm_stop_scan"))
			stops = atoll(count);
	}
	fclose(f);
	unlink(PERF_OUT);
	check(merges >= 0 && stops >= 0, "perf stat counts both events (%zu csv lines)", lines);
	window_check("perf stat", &w, merges, stops);
}

static void perf_check(void)
{
	if (access(PERF, X_OK)) {
		xt_note("no %s in this guest: the perf checks are skipped", PERF);
		return;
	}
	perf_list();
	perf_stat();
}

int main(int argc, char **argv)
{
	ssize_t len;

	if (argc == 2 && !strcmp(argv[1], WINDOW_ARG))
		return window_cmd();
	if (xt_backend_ksm())
		skip("xksm only: the kernel's KSM has its own ksm:* events");
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();		/* a clean start: nothing merged, scanner stopped */
	xt_knob_set_saved("pages_to_scan", 5000);
	/* Not 0: a pass a millisecond would flood the buffer with scan events. */
	xt_knob_set_saved("sleep_millisecs", 20);
	len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (len <= 0)
		fatal("readlink /proc/self/exe");
	self_exe[len] = 0;
	setup_tracefs();

	a = xt_map(N);
	b = xt_map(N);
	c = xt_map(N);
	step_merge();
	step_unmerge();
	step_defer();
	step_remove();
	trace_cmd();
	perf_check();

	xt_knob_set("run", 2);
	trace_off();
	{
		char *on = xt_read_all(EVENTS "/enable", 4096);

		xt_msleep(100);
		read_trace();
		check(on && on[0] == '0' && nevs == 0,
		      "at the end the xksm events are disabled (enable: %c) and the buffer is "
		      "empty (%zu events)", on ? on[0] : '?', nevs);
		free(on);
		on = xt_read_all(TRACEFS "/options/record-cmd", 4096);
		check(on && on[0] == record_cmd, "options/record-cmd is back as it was (%c, was %c)",
		      on ? on[0] : '?', record_cmd);
		free(on);
	}
	trace_unmount();
	return done();
}
