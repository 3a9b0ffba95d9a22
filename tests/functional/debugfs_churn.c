// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/xksm/: the format on a known state, then readers under
 * churn (docs/debugfs.md).
 *
 * Known state: this process registers N twin pages, so N KSM pages exist,
 * each shared twice.  stable_tree lists N nodes, each with sharing 2 and
 * two live rmap_items of this pid and comm at the twins' addresses, its
 * kpfn the PFN pagemap shows; mm_slots shows this mm with both ranges on;
 * objects agrees with the sysfs counters and with mm_slots, and shows no
 * spare rmap_item after a pass that met no new page; scan and
 * unstable_tree agree with sysfs.  A forked child then keeps the pages
 * mapped while this process unregisters one twin: reap_list lists a
 * deferred route for each of its addresses, still on its node, and
 * stable_tree shows them deferred; once the child has exited, xksmd reaps
 * them.
 *
 * Churn: reader processes read every file in a loop - whole, in odd-sized
 * reads, and from seeked offsets - and check every line's grammar, while
 * worker processes fork, register, merge, write, unregister and exit
 * (children outliving their parents leave deferred routes), and run=2 /
 * run=1 and merge_across_nodes toggle, with max_page_sharing=2 so that
 * chains form.  Nothing may crash (the harness fails the run on any
 * kernel report) and every read must return well-formed lines.
 *
 * Finally the first twin is unregistered, which copies each of its pages
 * (6.1 once left KSM pages behind NUMA hinting ptes merged, silently, and
 * their nodes blocked run=2's cleanup); and with everything unmerged, no
 * rmap_item or stable node is left.
 *
 * debugfs is mounted by the guest's init; the test mounts it if need be.
 */
#include <ctype.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include "xksm_test.h"

#define N		32
#define SEED		0x6b20
#define CHURN_SEED	0x6b21
#define CHURN_PAGES	24
#define CHURN_S		25
#define READERS		3
#define WORKERS		2
#define DEBUGFS		"/sys/kernel/debug"
#define DIR		DEBUGFS "/xksm"

static const char * const files[] = {
	"stable_tree", "unstable_tree", "mm_slots", "reap_list", "objects",
	"scan", "kernel_api",
};
#define NFILES	(sizeof(files) / sizeof(files[0]))

/* --- reading ----------------------------------------------------------- */

/*
 * The whole of a debugfs file, read in chunks of @chunk bytes (free it);
 * NULL with errno on failure.
 */
static char *read_file(const char *name, size_t chunk)
{
	char path[128];

	snprintf(path, sizeof(path), DIR "/%s", name);
	return xt_read_all(path, chunk);
}

static char *read_or_die(const char *name)
{
	char *s = read_file(name, 4096);

	if (!s)
		fatal("read " DIR "/%s", name);
	return s;
}

/* --- the grammar (docs/debugfs.md) ------------------------------------- */

static int all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

#define DEC	"0123456789"
#define HEX	"0123456789abcdef"

static int is_hex(const char *s)
{
	return !strcmp(s, "0") || (!strncmp(s, "0x", 2) && all_of(s + 2, HEX));
}

/*
 * Whether token @t matches the template token @p: a literal, or %u
 * (decimal), %d (signed decimal), %b (0 or 1), %x (0x-hex), %p (a hashed
 * pointer), %r (hex range "a-b"), %w (any word), %S (rmap state), %R (range
 * state); an upper-case %U %X %P also takes "-".
 */
static int token_ok(const char *t, const char *p)
{
	char c, buf[64], *dash;

	if (p[0] != '%')
		return !strcmp(t, p);
	c = p[1];
	if (isupper(c) && c != 'S' && c != 'R') {
		if (!strcmp(t, "-"))
			return 1;
		c = tolower(c);
	}
	switch (c) {
	case 'u':
		return all_of(t, DEC);
	case 'd':
		return all_of(t[0] == '-' ? t + 1 : t, DEC);
	case 'b':
		return !strcmp(t, "0") || !strcmp(t, "1");
	case 'x':
		return is_hex(t);
	case 'p':
		return all_of(t, HEX);
	case 'r':
		snprintf(buf, sizeof(buf), "%s", t);
		dash = strchr(buf, '-');
		if (!dash)
			return 0;
		*dash = 0;
		return is_hex(buf) && is_hex(dash + 1);
	case 'w':
		return *t != 0;
	case 'S':
		return !strcmp(t, "live") || !strcmp(t, "covered") ||
		       !strcmp(t, "deferred");
	case 'R':
		return !strcmp(t, "on") || !strcmp(t, "off") || !strcmp(t, "keep");
	}
	return 0;
}

/* Whether @line matches @tmpl: the same indentation, then token by token. */
static int line_matches(const char *line, const char *tmpl)
{
	char lbuf[512], tbuf[256], *ls, *ts, *l, *t;
	size_t li = strspn(line, " "), ti = strspn(tmpl, " ");

	if (li != ti || strlen(line) >= sizeof(lbuf))
		return 0;
	snprintf(lbuf, sizeof(lbuf), "%s", line + li);
	snprintf(tbuf, sizeof(tbuf), "%s", tmpl + ti);
	l = strtok_r(lbuf, " ", &ls);
	t = strtok_r(tbuf, " ", &ts);
	while (l && t) {
		if (!token_ok(l, t))
			return 0;
		l = strtok_r(NULL, " ", &ls);
		t = strtok_r(NULL, " ", &ts);
	}
	return !l && !t;
}

static const char * const stable_tree_lines[] = {
	"tree %u",
	"migrate",
	"  node %p kpfn %u nid %d sharing %d",
	"  chain %p nid %d dups %u",
	"    dup %p chain %p kpfn %u nid %d sharing %d",
	"  migrating %p kpfn %u nid %d sharing %d",
	"    rmap %S pid %U comm %w addr %x anon_vma %P",
	"      rmap %S pid %U comm %w addr %x anon_vma %P",
	NULL
};
static const char * const unstable_tree_lines[] = {
	"pages_unshared %u", "seqnr %u", "tree %u nodes %u", NULL
};
static const char * const mm_slots_lines[] = {
	"mm_slot %p pid %U comm %w exited %b merge_any %b merging_pages %u rmap_items %u zero_pages %u profit %d domain %u",
	"  range %r %R",
	NULL
};
static const char * const reap_list_lines[] = {
	"deferred addr %x anon_vma %P pid %U comm %w node %P kpfn %U", NULL
};
static const char * const objects_lines[] = {
	"xksm_rmap_item %u deferred %u spare %u",
	"xksm_stable_node %u chains %u dups %u",
	"xksm_mm_slot %u",
	NULL
};
static const char * const scan_lines[] = {
	"run %u", "mm_slot %P pid %U comm %w", "address %X", "full_scans %u",
	"pages_scanned %u", "pages_to_scan %u", "forks_lost %u", "routes_lost %u",
	NULL
};

static const char * const *grammar(const char *file)
{
	if (!strcmp(file, "stable_tree"))
		return stable_tree_lines;
	if (!strcmp(file, "unstable_tree"))
		return unstable_tree_lines;
	if (!strcmp(file, "mm_slots"))
		return mm_slots_lines;
	if (!strcmp(file, "reap_list"))
		return reap_list_lines;
	if (!strcmp(file, "objects"))
		return objects_lines;
	if (!strcmp(file, "scan"))
		return scan_lines;
	return NULL;	/* kernel_api: any non-empty line */
}

/*
 * The nesting of stable_tree: an rmap line belongs to the node, migrating
 * node or dup just above it (one entry, never split).  Entries may shift
 * between the reads of a long listing, so nothing else is nested for sure.
 */
static int stable_tree_nesting_ok(const char *line, char *ctx)
{
	const char *s = line + strspn(line, " ");
	size_t indent = s - line;

	if (strncmp(s, "rmap ", 5)) {
		*ctx = !strncmp(s, "dup ", 4) ? 'D' :
		       !strncmp(s, "node ", 5) || !strncmp(s, "migrating ", 10) ? 'N' : 0;
		return 1;
	}
	return (indent == 4 && *ctx == 'N') || (indent == 6 && *ctx == 'D');
}

/*
 * Check every line of @text, the content of @file; returns the number of
 * bad lines, the first one copied to @bad.
 */
static int check_lines(const char *file, char *text, char *bad, size_t badlen)
{
	const char * const *g = grammar(file);
	char *line, *save, ctx = 0;
	size_t len = strlen(text);
	int nbad = 0;

	if (len && text[len - 1] != '\n') {
		snprintf(bad, badlen, "%s: no newline at the end", file);
		return 1;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int ok = !g;
		int i;

		for (i = 0; g && g[i] && !ok; i++)
			ok = line_matches(line, g[i]);
		if (ok && !strcmp(file, "stable_tree"))
			ok = stable_tree_nesting_ok(line, &ctx);
		if (ok && !g)
			ok = *line != 0;
		if (!ok && !nbad++)
			snprintf(bad, badlen, "%s: \"%.200s\"", file, line);
	}
	return nbad;
}

/* --- the known state ----------------------------------------------------- */

static char my_comm[32];

/* This process's comm, as debugfs prints it (no blanks in ours). */
static void read_my_comm(void)
{
	FILE *f = fopen("/proc/self/comm", "re");

	if (!f || !fgets(my_comm, sizeof(my_comm), f))
		fatal("read /proc/self/comm");
	fclose(f);
	my_comm[strcspn(my_comm, "\n")] = 0;
}

/*
 * The number after " key " in @text (a line of key-value pairs), or -1
 * when there is none or it is "-".
 */
static long long field(const char *text, const char *key)
{
	char k[64];
	const char *p;

	if (!text)
		return -1;
	snprintf(k, sizeof(k), " %s ", key);
	p = strstr(text, k);
	if (!p)
		return -1;
	p += strlen(k);
	if (*p == '-')
		return -1;
	return strtoll(p, NULL, 0);
}

/* The word after "key " in a line, copied to @out. */
static void field_word(const char *line, const char *key, char *out, size_t len)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), " %s ", key);
	p = strstr(line, k);
	if (!p) {
		*out = 0;
		return;
	}
	p += strlen(k);
	snprintf(out, len, "%.*s", (int)strcspn(p, " \n"), p);
}

/* The value of "<key> <n>" on a line of @text starting with @key. */
static long long line_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* Each line of @text in turn, in @line (of @len bytes); 0 at the end. */
static int next_line(const char **text, char *line, size_t len)
{
	size_t n;

	if (!**text)
		return 0;
	n = strcspn(*text, "\n");
	snprintf(line, len, "%.*s", (int)n, *text);
	*text += n;
	if (**text == '\n')
		(*text)++;
	return 1;
}

/* A node of stable_tree as parsed: what the known state checks. */
struct node_rec {
	unsigned long kpfn;
	long long sharing;
	int rmaps;		/* rmap lines */
	int mine;		/* live ones of this pid and comm */
	unsigned long addr[2];
};

/*
 * Whether a node is one of the twins': sharing 2, two live rmap_items of
 * this process at a + i and b + i, kpfn the PFN of a + i.  Sets *@idx = i.
 */
static int twin_node(const struct node_rec *n, char *a, char *b, int *idx)
{
	unsigned long x, y, i;
	int k;

	if (n->sharing != 2 || n->rmaps != 2 || n->mine != 2)
		return 0;
	for (k = 0; k < 2; k++) {
		x = n->addr[k];
		y = n->addr[1 - k];
		if (x < (uintptr_t)a || x >= (uintptr_t)a + N * XT_PAGE)
			continue;
		i = (x - (uintptr_t)a) / XT_PAGE;
		if (x == (uintptr_t)a + i * XT_PAGE && y == (uintptr_t)b + i * XT_PAGE &&
		    n->kpfn == xt_pfn(a + i * XT_PAGE)) {
			*idx = i;
			return 1;
		}
	}
	return 0;
}

static void check_stable_tree(char *a, char *b)
{
	char *s = read_or_die("stable_tree");
	int nodes = 0, chains = 0, good = 0, have = 0, seen[N] = { 0 };
	char line[512], state[16], comm[32];
	struct node_rec n = { 0 };
	const char *p = s;
	int i;

	for (;;) {
		int more = next_line(&p, line, sizeof(line));
		const char *t = line + strspn(line, " ");

		if (have && (!more || strncmp(t, "rmap ", 5))) {
			if (twin_node(&n, a, b, &i) && !seen[i]++)
				good++;
			have = 0;
		}
		if (!more)
			break;
		if (!strncmp(t, "chain ", 6))
			chains++;
		if (!strncmp(t, "node ", 5) || !strncmp(t, "dup ", 4)) {
			memset(&n, 0, sizeof(n));
			n.kpfn = field(line, "kpfn");
			n.sharing = field(line, "sharing");
			nodes++;
			have = 1;
		}
		if (strncmp(t, "rmap ", 5) || !have)
			continue;
		sscanf(t, "rmap %15s", state);
		field_word(line, "comm", comm, sizeof(comm));
		if (n.rmaps < 2)
			n.addr[n.rmaps] = field(line, "addr");
		n.rmaps++;
		n.mine += !strcmp(state, "live") && field(line, "pid") == getpid() &&
			  !strcmp(comm, my_comm);
	}
	check(nodes == N && chains == 0,
	      "stable_tree lists %d nodes and no chain (got %d, %d)", N, nodes, chains);
	check(good == N,
	      "each has sharing 2, the twins' kpfn, and two live rmap_items of pid %d comm %s at a+i and b+i (%d of %d)",
	      (int)getpid(), my_comm, good, N);
	free(s);
}

/* Whether every page of [p, p + len) is inside an "on" range of @block. */
static int ranges_cover(const char *block, const char *p, size_t len)
{
	unsigned long addr;

	for (addr = (uintptr_t)p; addr < (uintptr_t)p + len; addr += XT_PAGE) {
		const char *q = block;
		char line[256], st[8];
		unsigned long s, e;
		int in = 0;

		while (next_line(&q, line, sizeof(line)))
			if (sscanf(line, "  range %lx-%lx %7s", &s, &e, st) == 3 &&
			    !strcmp(st, "on") && s <= addr && addr + XT_PAGE <= e)
				in = 1;
		if (!in)
			return 0;
	}
	return 1;
}

/* The block of mm_slots for this pid (its header and ranges), or NULL. */
static char *my_mm_slot(const char *text, int *nslots)
{
	const char *p = text, *ls, *start = NULL, *end = NULL;
	char line[512], *block;

	*nslots = 0;
	for (ls = p; next_line(&p, line, sizeof(line)); ls = p) {
		if (strncmp(line, "mm_slot ", 8))
			continue;
		(*nslots)++;
		if (start && !end)
			end = ls;
		if (!start && field(line, "pid") == getpid())
			start = ls;
	}
	if (!start)
		return NULL;
	block = strndup(start, end ? (size_t)(end - start) : strlen(start));
	if (!block)
		fatal("strndup");
	return block;
}

static void check_mm_slots(char *a, char *b)
{
	char *s = read_or_die("mm_slots"), *block;
	int nslots;

	block = my_mm_slot(s, &nslots);
	if (!check(block != NULL, "mm_slots lists this process's mm (pid %d)", (int)getpid())) {
		free(s);
		return;
	}
	check(field(block, "merge_any") == 0 && field(block, "exited") == 0 &&
	      field(block, "merging_pages") == 2 * N && field(block, "rmap_items") == 2 * N,
	      "its slot: merge_any 0, exited 0, merging_pages %d, rmap_items %d (%.200s)",
	      2 * N, 2 * N, block);
	check(ranges_cover(block, a, N * XT_PAGE) && ranges_cover(block, b, N * XT_PAGE),
	      "its ranges cover both twins, on");
	free(block);
	free(s);
}

static void check_objects(void)
{
	long long shared = xt_knob("pages_shared"), sharing = xt_knob("pages_sharing");
	long long unshared = xt_knob("pages_unshared"), volatil = xt_knob("pages_volatile");
	char *s = read_or_die("objects"), *m = read_or_die("mm_slots");
	long long items, nodes, chains, slots;
	int nslots;
	char *block;

	items = line_value(s, "xksm_rmap_item");
	nodes = line_value(s, "xksm_stable_node");
	chains = field(s, "chains");
	slots = line_value(s, "xksm_mm_slot");
	check(items == 2 * N && items == shared + sharing + unshared + volatil,
	      "objects: xksm_rmap_item %lld == %d == pages_shared + pages_sharing + pages_unshared + pages_volatile (%lld)",
	      items, 2 * N, shared + sharing + unshared + volatil);
	check(field(s, "deferred") == 0, "objects: no deferred rmap_item");
	check(nodes == shared + chains && chains == 0,
	      "objects: xksm_stable_node %lld == pages_shared %lld, no chain", nodes, shared);
	block = my_mm_slot(m, &nslots);
	check(slots >= 1 && slots == nslots,
	      "objects: xksm_mm_slot %lld == the slots mm_slots lists (%d)", slots, nslots);
	free(block);
	free(m);
	free(s);

	/*
	 * Spare rmap_items are made for new pages only: after a whole pass
	 * that met none (two full scans from here), xksmd keeps none.
	 */
	xt_wait_full_scans(2);
	s = read_or_die("objects");
	check(field(s, "spare") == 0 && line_value(s, "xksm_rmap_item") == 2 * N,
	      "objects: no spare rmap_item after a pass without new pages (spare %lld)",
	      field(s, "spare"));
	free(s);
}

static void check_scan_and_unstable(void)
{
	long long fs0 = xt_knob("full_scans"), ps0 = xt_knob("pages_scanned");
	char *s = read_or_die("scan"), *u = read_or_die("unstable_tree");
	long long fs1 = xt_knob("full_scans"), ps1 = xt_knob("pages_scanned");
	long long v, nodes;
	const char *p;
	char line[256];
	int trees = 0;

	check(line_value(s, "run") == 1, "scan: run 1");
	v = line_value(s, "full_scans");
	check(v >= fs0 && v <= fs1, "scan: full_scans %lld within sysfs's %lld..%lld", v, fs0, fs1);
	v = line_value(s, "pages_scanned");
	check(v >= ps0 && v <= ps1, "scan: pages_scanned %lld within sysfs's %lld..%lld", v, ps0, ps1);
	p = strstr(s, "mm_slot ");
	check(p && (!strncmp(p, "mm_slot - pid - comm -", 22) || field(p, "pid") == getpid()),
	      "scan: the cursor is between passes or in this process's slot");
	v = line_value(u, "seqnr");
	check(v >= fs0 && v <= fs1, "unstable_tree: seqnr %lld is full_scans", v);
	p = u;
	nodes = 0;
	while (next_line(&p, line, sizeof(line))) {
		long long nid, n;

		if (sscanf(line, "tree %lld nodes %lld", &nid, &n) == 2) {
			trees++;
			nodes += n;
		}
	}
	check(trees == 1 && nodes <= line_value(u, "pages_unshared"),
	      "unstable_tree: one tree, its nodes within pages_unshared");
	free(u);
	free(s);
}

/* Lines of a file. */
static int count_lines(const char *file)
{
	char *s = read_or_die(file);
	const char *q = s;
	char line[512];
	int n = 0;

	while (next_line(&q, line, sizeof(line)))
		n++;
	free(s);
	return n;
}

/* Deferred routes of this pid at addresses in [p, p + len), on their node. */
static int my_routes(const char *p, size_t len)
{
	char *s = read_or_die("reap_list");
	const char *q = s;
	char line[512];
	int n = 0;

	while (next_line(&q, line, sizeof(line))) {
		unsigned long addr = field(line, "addr");

		n += field(line, "pid") == getpid() && field(line, "kpfn") > 0 &&
		     addr >= (uintptr_t)p && addr < (uintptr_t)p + len;
	}
	free(s);
	return n;
}

/* Lines "rmap deferred" of this pid in stable_tree. */
static int deferred_in_tree(void)
{
	char *s = read_or_die("stable_tree");
	const char *q = s;
	char line[512];
	int n = 0;

	while (next_line(&q, line, sizeof(line)))
		n += strstr(line, "rmap deferred ") && field(line, "pid") == getpid();
	free(s);
	return n;
}

static int holder(int cmd, void *arg)
{
	(void)arg;
	return cmd ? 255 : 0;	/* holds the forked mappings until told to exit */
}

static void check_reap_list(char *b)
{
	struct xt_child c;
	double deadline;
	int n;

	n = count_lines("reap_list");
	check(n == 0, "reap_list is empty (%d lines)", n);
	xt_child_start(&c, holder, NULL);
	if (xt_unregister(b, N * XT_PAGE, 0))
		fatal("unregister the second twin");
	n = my_routes(b, N * XT_PAGE);
	check(n == N, "with a child mapping them, unregistering one twin defers %d routes on their nodes (got %d)",
	      N, n);
	n = deferred_in_tree();
	check(n == N, "stable_tree shows them deferred (%d)", n);
	if (xt_knob_exists("deferred_rmap_items"))
		check(xt_knob("deferred_rmap_items") >= N, "deferred_rmap_items counts them");
	check(xt_child_stop(&c) == 0, "the child exits");
	deadline = xt_now() + XT_TIMEOUT_S;
	while ((n = my_routes(b, N * XT_PAGE)) && xt_now() < deadline)
		xt_msleep(100);
	check(n == 0, "xksmd reaps them once the child is gone (%d left)", n);
}

/* --- churn ------------------------------------------------------------- */

struct reader_stats {
	long reads[NFILES];
	long seeks;
	long errors;
	long bad;
	char first_bad[300];
};

static volatile int *stop_flag;

static void reader(struct reader_stats *st, int r)
{
	static const size_t chunks[] = { 4096, 1, 7, 333, 65536, 100 };
	unsigned int seed = getpid();
	unsigned long iter = 0;

	while (!*stop_flag) {
		size_t f;

		for (f = 0; f < NFILES && !*stop_flag; f++) {
			size_t chunk = chunks[(iter + f + r) % 6];
			char bad[300];
			char *s;

			if (chunk == 1 && !strcmp(files[f], "stable_tree"))
				chunk = 61;	/* byte reads of a big tree: too slow */
			s = read_file(files[f], chunk);
			if (!s) {
				if (!st->errors++)
					snprintf(st->first_bad, sizeof(st->first_bad),
						 "read %s: %s", files[f], strerror(errno));
				continue;
			}
			st->reads[f]++;
			if (check_lines(files[f], s, bad, sizeof(bad)) && !st->bad++)
				snprintf(st->first_bad, sizeof(st->first_bad), "%s", bad);
			free(s);

			if (r == READERS - 1) {
				/* A seek into the middle: seq_lseek() walks there. */
				char path[128], buf[512];
				int fd;

				snprintf(path, sizeof(path), DIR "/%s", files[f]);
				fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0) {
					if (lseek(fd, rand_r(&seed) % 8192, SEEK_SET) >= 0 &&
					    read(fd, buf, sizeof(buf)) >= 0)
						st->seeks++;
					close(fd);
				}
			}
		}
		iter++;
	}
}

/* A short-lived process: registers, merges, maybe forks, writes, leaves. */
static void churn_child(unsigned int seed)
{
	char *p = xt_map(CHURN_PAGES);
	int i;

	/* Half the pages the same in every child: they merge across them. */
	xt_fill(p, CHURN_PAGES / 2, CHURN_SEED);
	xt_fill(p + CHURN_PAGES / 2 * XT_PAGE, CHURN_PAGES / 2, seed);
	if (rand_r(&seed) % 4)
		xt_register(p, CHURN_PAGES * XT_PAGE);
	else
		xt_set_merge_any(1);
	xt_msleep(100 + rand_r(&seed) % 600);
	if (rand_r(&seed) % 2) {
		/* A grandchild that outlives us: our routes get deferred. */
		if (fork() == 0) {
			xt_msleep(100 + rand_r(&seed) % 800);
			_exit(0);
		}
	}
	for (i = 0; i < 3; i++)
		xt_fill_page(p, rand_r(&seed) % CHURN_PAGES, seed + 1);
	switch (rand_r(&seed) % 4) {
	case 0:
		xt_unregister(p, CHURN_PAGES / 2 * XT_PAGE, 0);
		break;
	case 1:
		xt_unregister(p, CHURN_PAGES * XT_PAGE, XKSM_KEEP_MERGED);
		break;
	case 2:
		munmap(p + CHURN_PAGES / 2 * XT_PAGE, CHURN_PAGES / 2 * XT_PAGE);
		break;
	}
	xt_msleep(rand_r(&seed) % 300);
	_exit(0);
}

/* Keep up to three churn children going; grandchildren come back to us. */
static long worker(int w)
{
	unsigned int seed = 0x1000 * (w + 1);
	long made = 0;
	int running = 0, status;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		_exit(2);
	while (!*stop_flag) {
		while (waitpid(-1, &status, WNOHANG) > 0)
			running = running > 0 ? running - 1 : 0;
		if (running < 3) {
			pid_t pid;

			seed = seed * 1103515245 + 12345;
			pid = fork();
			if (pid == 0)
				churn_child(seed);
			if (pid > 0) {
				running++;
				made++;
			}
		}
		xt_msleep(50);
	}
	while (wait(&status) > 0)
		;
	return made;
}

/* run=2 then run=1, now and then switching merge_across_nodes between. */
static void toggle(int i, long *toggles, long *switches)
{
	if (xt_knob_write("run", 2) == 0)
		(*toggles)++;
	if (i % 3 == 2 && xt_knob_write("merge_across_nodes", !xt_knob("merge_across_nodes")) == 0)
		(*switches)++;
	xt_knob_write("run", 1);
}

static void churn(void)
{
	struct reader_stats *st = xt_map_shared(1 + READERS * sizeof(*st) / XT_PAGE);
	long *made = xt_map_shared(1), toggles = 0, switches = 0;
	pid_t readers[READERS], workers[WORKERS];
	int i, status, ok;
	double end;
	size_t f;

	stop_flag = xt_map_shared(1);
	xt_knob_save("merge_across_nodes");
	xt_knob_save("max_page_sharing");
	xt_knob_set("run", 2);
	if (xt_knob_write("max_page_sharing", 2))
		xt_note("max_page_sharing=2 refused: chains may not form");
	xt_knob_set("run", 1);

	fflush(stdout);
	for (i = 0; i < READERS; i++) {
		readers[i] = xt_fork();
		if (readers[i] == 0) {
			reader(&st[i], i);
			_exit(0);
		}
	}
	for (i = 0; i < WORKERS; i++) {
		workers[i] = xt_fork();
		if (workers[i] == 0) {
			made[i] = worker(i);
			_exit(0);
		}
	}
	end = xt_now() + CHURN_S;
	for (i = 0; xt_now() < end; i++) {
		xt_msleep(1500);
		toggle(i, &toggles, &switches);
	}
	*stop_flag = 1;

	ok = 1;
	for (i = 0; i < WORKERS; i++)
		ok &= waitpid(workers[i], &status, 0) == workers[i] && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0;
	check(ok && made[0] > 0 && made[1] > 0,
	      "%d workers ran %ld + %ld short-lived processes", WORKERS, made[0], made[1]);
	check(toggles > 0, "run=2 / run=1 toggled %ld times, merge_across_nodes switched %ld times",
	      toggles, switches);
	for (i = 0; i < READERS; i++) {
		long total = 0, each = 1;

		ok = waitpid(readers[i], &status, 0) == readers[i] && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0;
		for (f = 0; f < NFILES; f++) {
			total += st[i].reads[f];
			each &= st[i].reads[f] > 0;
		}
		check(ok && each, "reader %d read every file (%ld reads, %ld seeks)", i, total,
		      st[i].seeks);
		check(!st[i].errors && !st[i].bad,
		      "reader %d: no read failed and every line parsed (%ld errors, %ld bad: %s)",
		      i, st[i].errors, st[i].bad, st[i].first_bad);
	}
}

/* --- main -------------------------------------------------------------- */

/* The small files, as notes: what was left. */
static void note_files(void)
{
	static const char * const small[] = { "objects", "reap_list", "mm_slots" };
	size_t f;

	for (f = 0; f < sizeof(small) / sizeof(small[0]); f++) {
		char *s = read_file(small[f], 4096), *line, *save;

		xt_note("%s:", small[f]);
		for (line = s ? strtok_r(s, "\n", &save) : NULL; line;
		     line = strtok_r(NULL, "\n", &save))
			xt_note("  %s", line);
		free(s);
	}
}

/* rmap_items and stable nodes left, from objects; -1 when unreadable. */
static long long objects_left(void)
{
	char *s = read_file("objects", 4096);
	long long n;

	if (!s)
		return -1;
	n = line_value(s, "xksm_rmap_item") + line_value(s, "xksm_stable_node");
	free(s);
	return n;
}

int main(void)
{
	char *a, *b, bad[300] = "", *s;
	unsigned long pfns[N];
	double deadline;
	long long left, across;
	size_t f, same;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (access(DIR, F_OK) &&
	    mount("debugfs", DEBUGFS, "debugfs", 0, NULL) && errno != EBUSY)
		skip("cannot mount debugfs: %s", strerror(errno));
	if (access(DIR "/stable_tree", R_OK))
		fatal("no " DIR "/stable_tree");
	read_my_comm();
	xt_unmerge_all();

	/* The known state. */
	xt_map_twins(N, SEED, &a, &b);
	xt_start_fast();
	xt_wait_full_scans(2);
	if (xt_count_same_pfn(0, a, 0, b, N) != N)
		xt_wait_full_scans(2);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d twin pages are merged", N))
		return done();
	for (f = 0; f < NFILES; f++) {
		s = read_or_die(files[f]);
		check(!check_lines(files[f], s, bad, sizeof(bad)), "%s: every line parses%s%s",
		      files[f], *bad ? " - bad: " : "", *bad ? bad : "");
		*bad = 0;
		free(s);
	}
	check_stable_tree(a, b);
	check_mm_slots(a, b);
	check_objects();
	check_scan_and_unstable();
	check_reap_list(b);

	/* Churn. */
	across = xt_knob("merge_across_nodes");
	churn();

	/*
	 * The churn ended with a run=2, and maybe merge_across_nodes 0 (it
	 * switches it), under which twins on different nodes never merge;
	 * and the second twin was unregistered (check_reap_list()), so the
	 * first had only the churn's forks of this process to merge with,
	 * and only until they exited.  Back to how the twins merged, both
	 * registered, and let them merge again (two passes), or
	 * unregistering has nothing to copy back.
	 */
	xt_knob_set("run", 2);
	if (xt_knob_write("merge_across_nodes", across))
		xt_note("merge_across_nodes could not be set back to %lld", across);
	xt_register_or_die(b, N * XT_PAGE);
	xt_knob_set("run", 1);
	for (f = 0; f < 20 && xt_count_same_pfn(0, a, 0, b, N) != N; f++)
		xt_wait_full_scans(1);
	if (!check(xt_count_same_pfn(0, a, 0, b, N) == N,
		   "the twins merged again after the churn (%zu of %d)",
		   xt_count_same_pfn(0, a, 0, b, N), N)) {
		note_files();
		xt_note("merge_across_nodes %lld max_page_sharing %lld run %lld smart_scan %lld pages_to_scan %lld",
			xt_knob("merge_across_nodes"), xt_knob("max_page_sharing"), xt_knob("run"),
			xt_knob("smart_scan"), xt_knob("pages_to_scan"));
		xt_note("pfn a0 %#lx b0 %#lx nodes %d %d", xt_pfn(a), xt_pfn(b),
			xt_pfn_node(xt_pfn(a)), xt_pfn_node(xt_pfn(b)));
	}

	/*
	 * Everything unregistered and unmerged: nothing left.  Unmerging
	 * copies each page, so every PFN changes.
	 */
	for (f = 0; f < N; f++)
		pfns[f] = xt_pfn(a + f * XT_PAGE);
	check(xt_unregister(a, N * XT_PAGE, 0) == 0, "unregister the first twin");
	for (f = 0, same = 0; f < N; f++)
		same += pfns[f] == xt_pfn(a + f * XT_PAGE);
	check(same == 0, "unregistering unmerged each of its pages (%zu not copied)", same);
	deadline = xt_now() + 30;
	do {
		xt_knob_write("run", 2);
		left = objects_left();
		if (left)
			xt_msleep(500);
	} while (left && xt_now() < deadline);
	if (!check(left == 0, "with everything unmerged, no rmap_item or stable node is left (%lld)",
		   left))
		note_files();
	return done();
}
