// SPDX-License-Identifier: GPL-2.0
/*
 * The knobs of /sys/kernel/mm/xksm under bad input and concurrent writers
 * (issue 7).
 *
 * 1. Every writable file of the directory (enumerated: a writable file this
 *    test knows no range for fails) gets the same table of inputs: empty,
 *    "\n", "abc", "-1", "1x", blanks, hex, 2^31, 2^32, 2^63, 2^64 - 1 and
 *    2^64, each end of the knob's range and one past it, 5000-byte strings,
 *    the words of the boolean and advisor_mode knobs, and for a knob of
 *    words (advisor_mode, merge_scope) each of its words as is, with
 *    newlines, blanks, brackets, in capitals, cut short or lengthened.
 *    What the kernel's kstrto*() or sysfs_streq() make of an input, and
 *    the range of the knob's value (mainline KSM's; advisor_max_cpu is an
 *    unsigned int; zero_pages_across_domains 0 or 1, anything else EINVAL),
 *    say whether it must be accepted: then the write returns its length and
 *    the knob reads back exactly that value (a knob of words: all its
 *    words, the one written in brackets; the original is written back at
 *    once); else the write fails with EINVAL or ERANGE (E2BIG for what
 *    kernfs finds too long) and the knob reads what it read before.  The
 *    boolean knobs accept what kstrtobool() does ("1x", "none": noted, as
 *    for mainline).  Read-only files refuse to open for writing, uid 65534
 *    cannot open the knobs for writing, pages_to_scan is refused while the
 *    advisor runs.  The same table runs on the kernel's /sys/kernel/mm/ksm
 *    and every difference is printed ("# differs from ..."), not failed
 *    (a knob only one of them has is left out).
 * 2. Two identical registered ranges (and zero-filled pages) are merged:
 *    then changing a knob that needs nothing merged (max_page_sharing,
 *    merge_across_nodes, merge_scope, zero_pages_across_domains) fails with
 *    EBUSY, the value unchanged, and writing its current value is accepted.
 *    They are scanned while one thread per knob writes random valid and
 *    invalid values to run (0/1/2), pages_to_scan, sleep_millisecs,
 *    max_page_sharing, merge_across_nodes, use_zero_pages, merge_scope and
 *    zero_pages_across_domains, checking what each write returns (EBUSY
 *    only for a change of a knob that needs nothing merged) and what the
 *    knob reads next (the thread is the only writer of valid values to its
 *    knob), two threads write only invalid values to every knob, and one
 *    rewrites pages with their own content (CoW breaks).  Afterwards
 *    every knob reads a valid value, the knobs only written with invalid
 *    values are unchanged, the data is intact, run=1 merges the ranges
 *    again and run=2 unmerges everything.
 * 3. run cycled 0/1/2 hundreds of times, sleep_millisecs 0, merged pages
 *    present: each write returns within seconds and reads back, the
 *    counters agree (after run=0: pages_sharing >= pages_shared, both within
 *    what is registered, their sum this process's merging_pages; after
 *    run=2: all 0 and no PFN shared), the data is intact, and run=1 merges
 *    again.
 *
 * About 7-10 s under TCG beside other guests; on the debug kernel
 * (kmemleak present) a shorter table, no comparison and 50 cycles, 20-40 s.
 * XKSM_FUZZ_SEED=<n> repeats a run's random choices.
 */
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>

#include "xksm_test.h"

#define XKSM_DIR	"/sys/kernel/mm/xksm"
#define KSM_DIR		"/sys/kernel/mm/ksm"

#define KERNFS_MAX	4096	/* kernfs hands a store at most a page */
#define LONG_LEN	5000
#define VAL_LEN		64
#define WATCHDOG_S	20	/* a knob write taking this long is a hang */
#define SLOW_WRITE_S	10	/* "within seconds" */

#define N		32	/* pages of each twin range */
#define Z		8	/* zero-filled pages after the twins in A */
#define SEED		0x7f22

/* --- the knobs: types and ranges (module/sysfs.c, mainline's ksm.c) ----- */

enum ktype { KT_UINT, KT_ULONG, KT_INT, KT_BOOL, KT_ENUM };

struct spec {
	const char *name;
	enum ktype type;
	unsigned long long min, max;	/* KT_INT: both within INT_MIN..INT_MAX */
	int raw_err;	/* the store returns kstrto*()'s errno (ERANGE) as is */
	int busy;	/* a change needs nothing merged (EBUSY otherwise) */
	/*
	 * KT_ENUM: its words, NULL-terminated.  A write is one of them, as
	 * sysfs_streq() compares (sysfs_match_string()); it reads all of
	 * them, separated by blanks, the current one in brackets.
	 */
	const char *const *words;
};

static const char *const advisor_words[] = { "none", "scan-time", NULL };
static const char *const scope_words[] = { "all", "uid", "memcg", "id", NULL };

static const struct spec specs[] = {
	{ "run", KT_UINT, 0, 2, 0, 0, NULL },
	{ "pages_to_scan", KT_UINT, 0, UINT_MAX, 0, 0, NULL },
	{ "sleep_millisecs", KT_UINT, 0, UINT_MAX, 0, 0, NULL },
	{ "merge_across_nodes", KT_ULONG, 0, 1, 1, 1, NULL },
	{ "max_page_sharing", KT_INT, 2, INT_MAX, 1, 1, NULL },
	{ "use_zero_pages", KT_BOOL, 0, 1, 0, 0, NULL },
	{ "stable_node_chains_prune_millisecs", KT_UINT, 0, UINT_MAX, 0, 0, NULL },
	{ "smart_scan", KT_BOOL, 0, 1, 0, 0, NULL },
	{ "advisor_mode", KT_ENUM, 0, 0, 0, 0, advisor_words },
	/* a percentage, held in an unsigned int (stored from kstrtoul()) */
	{ "advisor_max_cpu", KT_UINT, 0, UINT_MAX, 0, 0, NULL },
	{ "advisor_min_pages_to_scan", KT_ULONG, 0, ULLONG_MAX, 0, 0, NULL },
	{ "advisor_max_pages_to_scan", KT_ULONG, 0, ULLONG_MAX, 0, 0, NULL },
	{ "advisor_target_scan_time", KT_ULONG, 1, ULLONG_MAX, 0, 0, NULL },
	/* xksm's own (module/sysfs.c, domain.c) */
	{ "merge_scope", KT_ENUM, 0, 0, 0, 1, scope_words },
	/* kstrtouint(): every parse error EINVAL, as a value over 1 */
	{ "zero_pages_across_domains", KT_UINT, 0, 1, 0, 1, NULL },
};
#define NSPEC		((int)(sizeof(specs) / sizeof(specs[0])))
#define SPEC(name)	(&specs[spec_index(name)])

static int spec_index(const char *name)
{
	int i;

	for (i = 0; i < NSPEC; i++)
		if (!strcmp(specs[i].name, name))
			return i;
	return -1;
}

/* --- what the kernel makes of an input --------------------------------- */

enum { ACC, REJ, NOP, PART };	/* accepted, refused, empty write, short write */

struct outcome {
	int kind;
	int err;		/* REJ: the errno */
	char val[VAL_LEN];	/* ACC: what the knob reads afterwards */
};

/* lib/kstrtox.c's kstrtoull(s, 10) (plus: a leading '+' allowed). */
static int m_ull(const char *s, int plus, unsigned long long *res)
{
	unsigned long long v = 0;
	int n = 0, ovf = 0;

	if (plus && *s == '+')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		unsigned int d = *s - '0';

		if (v > (ULLONG_MAX - d) / 10)
			ovf = 1;
		v = v * 10 + d;
	}
	if (ovf)
		return -ERANGE;
	if (!n)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = v;
	return 0;
}

/* kstrtoll(s, 10). */
static int m_ll(const char *s, long long *res)
{
	unsigned long long t;
	int rv;

	if (s[0] == '-') {
		rv = m_ull(s + 1, 0, &t);
		if (rv)
			return rv;
		if ((long long)(0 - t) > 0)
			return -ERANGE;
		*res = (long long)(0 - t);
	} else {
		rv = m_ull(s, 1, &t);
		if (rv)
			return rv;
		if ((long long)t < 0)
			return -ERANGE;
		*res = (long long)t;
	}
	return 0;
}

/* kstrtobool(): the first character decides ('o' the second). */
static int m_bool(const char *s, int *res)
{
	switch (s[0]) {
	case 'y': case 'Y': case '1':
		*res = 1;
		return 0;
	case 'n': case 'N': case '0':
		*res = 0;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') {
			*res = 1;
			return 0;
		}
		if (s[1] == 'f' || s[1] == 'F') {
			*res = 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* sysfs_streq(): equal but for one trailing newline on either side. */
static int m_streq(const char *s1, const char *s2)
{
	while (*s1 && *s1 == *s2) {
		s1++;
		s2++;
	}
	if (*s1 == *s2)
		return 1;
	if (!*s1 && *s2 == '\n' && !s2[1])
		return 1;
	if (*s1 == '\n' && !s1[1] && !*s2)
		return 1;
	return 0;
}

/* The number of words of a KT_ENUM knob. */
static int enum_count(const struct spec *k)
{
	int n = 0;

	while (k->words[n])
		n++;
	return n;
}

/* What KT_ENUM knob k reads with word w current: "none [scan-time]". */
static void enum_reading(const struct spec *k, int w, char *buf, size_t size)
{
	size_t len = 0;
	int i;

	buf[0] = 0;
	for (i = 0; k->words[i] && len < size; i++)
		len += snprintf(buf + len, size - len, i == w ? "%s[%s]" : "%s%s",
				i ? " " : "", k->words[i]);
}

/* The current word of KT_ENUM knob k that reads val; NULL if none. */
static const char *enum_word(const struct spec *k, const char *val)
{
	char buf[VAL_LEN];
	int i;

	for (i = 0; k->words[i]; i++) {
		enum_reading(k, i, buf, sizeof(buf));
		if (!strcmp(buf, val))
			return k->words[i];
	}
	return NULL;
}

/* What to write to knob k to make it read val (a reading of it). */
static const char *value_to_write(const struct spec *k, const char *val)
{
	const char *w;

	if (k->type != KT_ENUM)
		return val;
	w = enum_word(k, val);
	if (!w)
		fatal("%s reads \"%s\", none of its words in brackets", k->name, val);
	return w;
}

/*
 * The outcome of writing in[0..len) to knob k: kernfs passes at most a
 * page, NUL-terminated; the store parses it as module/sysfs.c does.
 */
static struct outcome model(const struct spec *k, const char *in, size_t len)
{
	static __thread char s[KERNFS_MAX + 1];
	struct outcome o = { ACC, 0, "" };
	unsigned long long u = 0;
	long long l = 0;
	int b = 0, err = 0;

	if (!len) {
		o.kind = NOP;
		return o;
	}
	if (len > KERNFS_MAX)
		len = KERNFS_MAX;
	memcpy(s, in, len);
	s[len] = 0;
	switch (k->type) {
	case KT_UINT:
	case KT_ULONG:
		err = m_ull(s, 1, &u);
		if (!err && k->type == KT_UINT && u > UINT_MAX)
			err = -ERANGE;
		if (err)
			goto parse_err;
		if (u < k->min || u > k->max)
			goto range;
		snprintf(o.val, sizeof(o.val), "%llu", u);
		return o;
	case KT_INT:
		err = m_ll(s, &l);
		if (!err && (l < INT_MIN || l > INT_MAX))
			err = -ERANGE;
		if (err)
			goto parse_err;
		if (l < (long long)k->min || l > (long long)k->max)
			goto range;
		snprintf(o.val, sizeof(o.val), "%lld", l);
		return o;
	case KT_BOOL:
		if (m_bool(s, &b))
			goto range;
		snprintf(o.val, sizeof(o.val), "%d", b);
		return o;
	case KT_ENUM:
		/* sysfs_match_string(): the first word sysfs_streq() matches */
		for (b = 0; k->words[b]; b++)
			if (m_streq(k->words[b], s))
				break;
		if (!k->words[b])
			goto range;
		enum_reading(k, b, o.val, sizeof(o.val));
		return o;
	}
parse_err:
	o.kind = REJ;
	o.err = k->raw_err ? -err : EINVAL;
	return o;
range:
	o.kind = REJ;
	o.err = EINVAL;
	return o;
}

/* A value a knob may read: what writing it back would be accepted as. */
static int valid_reading(const struct spec *k, const char *val)
{
	struct outcome o;

	if (k->type == KT_ENUM)
		return enum_word(k, val) != NULL;
	o = model(k, val, strlen(val));
	return o.kind == ACC && !strcmp(o.val, val);
}

/* --- the inputs ---------------------------------------------------------- */

struct input {
	const char *s;
	size_t len;
};

#define MAXIN 128
#define ENUM_MAXIN 48	/* the inputs made of a KT_ENUM knob's words */

static char long_x[LONG_LEN + 1], long_9[LONG_LEN + 1];

static const char *const generic[] = {
	/* the short table (debug kernel) stops after these */
	"\n", "abc", "-1", "1x", "  ", "18446744073709551616", "18446744073709551615",
	"4294967296", "2147483648", "-2147483649", "1", "on", "none", "scan-time",
#define NGENERIC_SHORT 14
	" 1", "1 ", "\t1", "0x10", "1.5", "1e3", "1\n\n", "+", "-", "-0", "+1",
	"01", "1,2", "18446744073709551617", "9223372036854775808",
	"-9223372036854775809", "4294967295", "2147483647", "-2147483648",
	"99999999999999999999999",
	"0", "2", "3", "0\n", "1\n", "y", "n", "off", "o", "2y",
	"none\n", "scan-time\n", "NONE", " none", "none ",
	"[none]", "scan", "scan-timex", "scan-time\n\n", "none scan-time",
};
#define NGENERIC (sizeof(generic) / sizeof(generic[0]))

_Static_assert(1 + NGENERIC + 2 + 8 <= MAXIN, "MAXIN too small for the inputs");
_Static_assert(1 + NGENERIC + 2 + ENUM_MAXIN <= MAXIN, "MAXIN too small for the inputs");

/* On the debug kernel: the first NGENERIC_SHORT generic inputs only. */
static int short_table;

/* For display: the input with \n and \t shown, long runs shortened. */
static const char *show(const char *s, size_t len)
{
	static __thread char out[96];
	size_t i, o = 0;

	if (len > 64) {
		snprintf(out, sizeof(out), "'%c' x %zu", s[0], len);
		return out;
	}
	out[o++] = '"';
	for (i = 0; i < len && o < sizeof(out) - 4; i++) {
		if (s[i] == '\n' || s[i] == '\t') {
			out[o++] = '\\';
			out[o++] = s[i] == '\n' ? 'n' : 't';
		} else {
			out[o++] = s[i];
		}
	}
	out[o++] = '"';
	out[o] = 0;
	return out;
}

static char boundary_buf[NSPEC][8][32];
static char enum_buf[NSPEC][ENUM_MAXIN][VAL_LEN];

/* Add in[n] = s unless an input already is s: the new n. */
static int add_input(struct input *in, int n, const char *s)
{
	size_t len = strlen(s);
	int i;

	for (i = 0; i < n; i++)
		if (in[i].len == len && !memcmp(in[i].s, s, len))
			return n;
	in[n] = (struct input){ s, len };
	return n + 1;
}

/*
 * The inputs made of the words of KT_ENUM knob ki, after the n of in[]:
 * each word as is, then (but the short table) with one and two newlines,
 * blanks either side, in brackets, in capitals, one character short and
 * one too many; all words in a line; what the knob reads.
 */
static int enum_inputs(int ki, struct input *in, int n)
{
	const struct spec *k = &specs[ki];
	char (*b)[VAL_LEN] = enum_buf[ki];
	int nb = 0, w, v, nw = enum_count(k);
	size_t len = 0, c;

	if (nw * 9 + 2 > ENUM_MAXIN)
		fatal("%s: too many words for ENUM_MAXIN", k->name);
	for (w = 0; w < nw; w++) {
		const char *word = k->words[w];

		n = add_input(in, n, word);
		if (short_table && w)
			continue;
		for (v = 0; v < 8; v++) {
			char *s = b[nb++];

			switch (v) {
			case 0: snprintf(s, VAL_LEN, "%s\n", word); break;
			case 1: snprintf(s, VAL_LEN, "%s\n\n", word); break;
			case 2: snprintf(s, VAL_LEN, " %s", word); break;
			case 3: snprintf(s, VAL_LEN, "%s ", word); break;
			case 4: snprintf(s, VAL_LEN, "[%s]", word); break;
			case 5:
				snprintf(s, VAL_LEN, "%s", word);
				for (c = 0; s[c]; c++)
					s[c] = s[c] >= 'a' && s[c] <= 'z' ? s[c] - 'a' + 'A' : s[c];
				break;
			case 6: snprintf(s, VAL_LEN, "%.*s", (int)strlen(word) - 1, word); break;
			case 7: snprintf(s, VAL_LEN, "%sx", word); break;
			}
			if (s[0])
				n = add_input(in, n, s);
		}
	}
	if (short_table)
		return n;
	for (w = 0; w < nw; w++)
		len += snprintf(b[nb] + len, VAL_LEN - len, "%s%s", w ? " " : "", k->words[w]);
	n = add_input(in, n, b[nb++]);
	enum_reading(k, 0, b[nb], VAL_LEN);
	n = add_input(in, n, b[nb++]);
	return n;
}

/* Every input for knob k: the generic table, then its own boundaries. */
static int inputs_for(int ki, struct input *in)
{
	const struct spec *k = &specs[ki];
	char (*b)[32] = boundary_buf[ki];
	int n = 0, nb = 0, i;
	size_t g;

	in[n++] = (struct input){ "", 0 };
	for (g = 0; g < (short_table ? NGENERIC_SHORT : NGENERIC); g++)
		in[n++] = (struct input){ generic[g], strlen(generic[g]) };
	in[n++] = (struct input){ long_x, LONG_LEN };
	in[n++] = (struct input){ long_9, LONG_LEN };
	if (k->type == KT_UINT || k->type == KT_ULONG || k->type == KT_INT) {
		/* min, max, min - 1, max + 1, "max\n", "+min" */
		snprintf(b[nb++], 32, "%llu", k->min);
		snprintf(b[nb++], 32, "%llu", k->max);
		if (k->min)
			snprintf(b[nb++], 32, "%llu", k->min - 1);
		else
			snprintf(b[nb++], 32, "-1");
		if (k->max == ULLONG_MAX)
			snprintf(b[nb++], 32, "18446744073709551616");
		else
			snprintf(b[nb++], 32, "%llu", k->max + 1);
		snprintf(b[nb++], 32, "%llu\n", k->max);
		snprintf(b[nb++], 32, "+%llu", k->min);
	}
	for (i = 0; i < nb; i++)
		in[n++] = (struct input){ b[i], strlen(b[i]) };
	if (k->type == KT_ENUM)
		n = enum_inputs(ki, in, n);
	return n;
}

/* --- sysfs access -------------------------------------------------------- */

struct wres {
	int kind;	/* ACC, REJ, NOP, PART */
	int err;	/* REJ: errno of open or write */
	int at_open;	/* REJ: open failed */
	double secs;
};

static struct wres raw_write(const char *dir, const char *name, const char *s, size_t len)
{
	struct wres r = { REJ, 0, 0, 0 };
	double t = xt_now();
	char path[256];
	ssize_t rc;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r.err = errno;
		r.at_open = 1;
		return r;
	}
	rc = write(fd, s, len);
	if (rc < 0)
		r.err = errno;
	else if ((size_t)rc == len)
		r.kind = len ? ACC : NOP;
	else
		r.kind = rc ? PART : NOP;
	close(fd);
	r.secs = xt_now() - t;
	return r;
}

/* Read a file, the trailing newline dropped: 0 or the errno. */
static int read_str(const char *dir, const char *name, char *buf, size_t size)
{
	char path[256];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static void read_or_die(const char *dir, const char *name, char *buf, size_t size)
{
	int err = read_str(dir, name, buf, size);

	if (err) {
		errno = err;
		fatal("read %s/%s", dir, name);
	}
}

static int write_str(const char *dir, const char *name, const char *s)
{
	struct wres r = raw_write(dir, name, s, strlen(s));

	return r.kind == ACC ? 0 : r.kind == REJ ? r.err : EIO;
}

static int errno_ok(int err, size_t len)
{
	return err == EINVAL || err == ERANGE || (len > KERNFS_MAX && err == E2BIG);
}

static const char *kind_name(int kind)
{
	return kind == ACC ? "accepted" : kind == REJ ? "refused" :
	       kind == NOP ? "no-op (0 bytes)" : "a short write";
}

/* "accepted", "refused: <errno>", ...: what a write did. */
static const char *what_happened(struct wres r)
{
	static __thread char buf[96];

	if (r.kind != REJ)
		return kind_name(r.kind);
	snprintf(buf, sizeof(buf), "refused%s: %s", r.at_open ? " at open" : "",
		 strerror(r.err));
	return buf;
}

/* --- the two directories, their knobs, and putting them back ------------ */

struct dirstate {
	const char *dir;
	int present;
	int has[NSPEC];			/* the knob exists */
	char orig[NSPEC][VAL_LEN];	/* its value when the test took over */
	int restore;			/* restore at exit (the reference dir) */
	/* what each input did, for the comparison of the two */
	struct { int kind, err; char after[VAL_LEN]; } got[NSPEC][MAXIN];
	int ro_err[64];
	char ro_name[64][64];
	int nro;
};

static struct dirstate subj, ref;	/* xksm (the backend's), the other KSM */

/*
 * Every knob of d back to its value when the test took over: of the
 * subject's (whose numbers the harness puts back) only the knobs of words,
 * of the reference directory all.  The knobs of words first (leaving the
 * advisor resets pages_to_scan); with run=2 first when one that needs
 * nothing merged (merge_scope) must change, and run put back last.
 */
static void restore_dir(struct dirstate *d)
{
	int i, pass, err, ri = spec_index("run"), unmerged = 0;
	char cur[VAL_LEN];

	if (d->restore && d->has[ri]) {
		write_str(d->dir, "run", "2");
		unmerged = 1;
	}
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < NSPEC; i++) {
			const char *w;

			if (!d->has[i] || i == ri || (specs[i].type == KT_ENUM) != !pass ||
			    (!d->restore && specs[i].type != KT_ENUM))
				continue;
			if (!read_str(d->dir, specs[i].name, cur, sizeof(cur)) &&
			    !strcmp(cur, d->orig[i]))
				continue;
			if (specs[i].busy && !unmerged && d->has[ri]) {
				err = write_str(d->dir, "run", "2");
				if (err)
					printf("# cleanup: %s/run=2: %s\n", d->dir, strerror(err));
				unmerged = 1;
			}
			w = specs[i].type == KT_ENUM ? enum_word(&specs[i], d->orig[i]) : d->orig[i];
			err = w ? write_str(d->dir, specs[i].name, w) : EINVAL;
			if (err)
				printf("# cleanup: restoring %s/%s=%s: %s\n", d->dir,
				       specs[i].name, w ? w : d->orig[i], strerror(err));
		}
	}
	if (unmerged)
		write_str(d->dir, "run", d->orig[ri]);
}

static pid_t main_pid;

static void cleanup(void)
{
	if (getpid() != main_pid)
		return;
	if (ref.present)
		restore_dir(&ref);
	restore_dir(&subj);
	fflush(stdout);
}

static void take_over(struct dirstate *d, const char *dir, int restore)
{
	int i;

	d->dir = dir;
	d->present = access(dir, F_OK) == 0;
	d->restore = restore;
	if (!d->present)
		return;
	for (i = 0; i < NSPEC; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", dir, specs[i].name);
		d->has[i] = access(path, F_OK) == 0;
		if (d->has[i])
			read_or_die(dir, specs[i].name, d->orig[i], VAL_LEN);
	}
}

/* --- part 1: the table --------------------------------------------------- */

/*
 * Every input of the table to knob k of directory d.  Checks (strict) only
 * when d is the test's subject; the reference directory is only recorded.
 */
static void table_knob(struct dirstate *d, int ki, int strict)
{
	const struct spec *k = &specs[ki];
	struct input in[MAXIN];
	char before[VAL_LEN], after[VAL_LEN], lenient[512] = "";
	int n, i, bad = 0, nacc = 0, nrej = 0, nnop = 0;

	n = inputs_for(ki, in);
	read_or_die(d->dir, k->name, before, sizeof(before));
	for (i = 0; i < n; i++) {
		struct outcome o = model(k, in[i].s, in[i].len);
		struct wres r;
		int ok;

		r = raw_write(d->dir, k->name, in[i].s, in[i].len);
		read_or_die(d->dir, k->name, after, sizeof(after));
		d->got[ki][i].kind = r.kind;
		d->got[ki][i].err = r.err;
		snprintf(d->got[ki][i].after, VAL_LEN, "%s", after);

		if (o.kind == ACC) {
			ok = r.kind == ACC && !strcmp(after, o.val);
			nacc += ok;
			if (strict && !ok)
				check(0, "%s/%s <- %s: accepted, reads %s (got: %s, reads %s)",
				      d->dir, k->name, show(in[i].s, in[i].len), o.val,
				      what_happened(r), after);
			/* accepted, yet not what a number or word looks like */
			if (strict && ok && k->type == KT_BOOL &&
			    strcmp(in[i].s, "0") && strcmp(in[i].s, "1") &&
			    strcmp(in[i].s, "0\n") && strcmp(in[i].s, "1\n") &&
			    strcmp(in[i].s, "y") && strcmp(in[i].s, "n") &&
			    strcmp(in[i].s, "on") && strcmp(in[i].s, "off") &&
			    strlen(lenient) + 32 < sizeof(lenient)) {
				strcat(lenient, " ");
				strcat(lenient, show(in[i].s, in[i].len));
			}
		} else if (o.kind == REJ) {
			ok = r.kind == REJ && !r.at_open && errno_ok(r.err, in[i].len) &&
			     !strcmp(after, before);
			nrej += ok;
			if (strict && !ok)
				check(0, "%s/%s <- %s: refused with %s, value unchanged (got: %s, %s -> %s)",
				      d->dir, k->name, show(in[i].s, in[i].len), strerror(o.err),
				      what_happened(r), before, after);
			else if (strict && r.err != o.err)
				xt_note("%s/%s <- %s: %s, where mainline's parsing gives %s",
					d->dir, k->name, show(in[i].s, in[i].len),
					strerror(r.err), strerror(o.err));
		} else {
			ok = (r.kind == NOP || (r.kind == REJ && r.err == EINVAL)) &&
			     !strcmp(after, before);
			nnop += ok;
			if (strict && !ok)
				check(0, "%s/%s <- an empty write: no-op or EINVAL, value unchanged (got: %s, %s -> %s)",
				      d->dir, k->name, what_happened(r), before, after);
		}
		bad += !ok;
		if (!strict && (o.kind != r.kind || (o.kind == REJ && o.err != r.err) ||
				(o.kind == ACC && strcmp(after, o.val))))
			xt_note("%s/%s <- %s: %s, reads %s, where this test expects %s %s",
				d->dir, k->name, show(in[i].s, in[i].len), what_happened(r),
				after, kind_name(o.kind), o.kind == REJ ? strerror(o.err) : o.val);

		/* the original back, after anything that changed it */
		if (strcmp(after, d->orig[ki])) {
			const char *w = value_to_write(k, d->orig[ki]);

			if (write_str(d->dir, k->name, w))
				fatal("restore %s/%s=%s", d->dir, k->name, w);
			snprintf(after, sizeof(after), "%s", d->orig[ki]);
		}
		memcpy(before, after, sizeof(before));
		/* leaving the advisor resets pages_to_scan */
		if (!strcmp(k->name, "advisor_mode") && r.kind == ACC) {
			int p = spec_index("pages_to_scan");

			if (write_str(d->dir, "pages_to_scan", d->orig[p]))
				fatal("restore %s/pages_to_scan=%s", d->dir, d->orig[p]);
		}
	}
	if (strict)
		check(!bad, "%s/%s: %d inputs refused (EINVAL/ERANGE) leaving the value unchanged, %d accepted reading back exactly, %d empty writes ignored",
		      d->dir, k->name, nrej, nacc, nnop);
	if (strict && lenient[0])
		xt_note("%s/%s accepts, as kstrtobool() does for mainline:%s",
			d->dir, k->name, lenient);
}

static void table(struct dirstate *d, int strict)
{
	char path[600], name[256];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int i, unknown = 0, ro_bad = 0;

	/* nothing merged, so that every valid value is accepted */
	if (d->has[spec_index("run")] && write_str(d->dir, "run", "2"))
		fatal("%s/run=2", d->dir);

	for (i = 0; i < NSPEC; i++) {
		if (!d->has[i]) {
			if (strict && !xt_backend_ksm())
				check(0, "%s/%s exists", d->dir, specs[i].name);
			else
				xt_note("%s has no %s", d->dir, specs[i].name);
			continue;
		}
		table_knob(d, i, strict);
	}

	/* every writable file is one the table covers; read-only ones refuse */
	dir = opendir(d->dir);
	if (!dir)
		fatal("opendir %s", d->dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(name, sizeof(name), "%s", de->d_name);
		if (st.st_mode & 0222) {
			if (spec_index(name) >= 0)
				continue;
			unknown++;
			if (strict)
				check(0, "%s/%s is writable: a knob this test knows no range for",
				      d->dir, name);
			else
				xt_note("%s/%s is writable, not in this test's table", d->dir, name);
		} else if (d->nro < 64) {
			struct wres r = raw_write(d->dir, name, "0", 1);
			int ok = r.kind == REJ && (r.err == EACCES || r.err == EPERM);

			snprintf(d->ro_name[d->nro], 64, "%.63s", name);
			d->ro_err[d->nro++] = r.kind == REJ ? r.err : -1;
			if (!ok) {
				ro_bad++;
				if (strict)
					check(0, "read-only %s/%s refuses writing \"0\" with EACCES/EPERM (got %s)",
					      d->dir, name, what_happened(r));
			}
		}
	}
	closedir(dir);
	if (strict) {
		check(!unknown, "%s: every writable file is a knob with a known range", d->dir);
		check(!ro_bad && d->nro > 0, "%s: its %d read-only files refuse writing (EACCES at open)",
		      d->dir, d->nro);
	}

	/* the advisor owns pages_to_scan: writing it is EINVAL meanwhile */
	if (d->has[spec_index("advisor_mode")]) {
		int p = spec_index("pages_to_scan");
		char before[VAL_LEN], after[VAL_LEN];
		struct wres r;

		if (write_str(d->dir, "advisor_mode", "scan-time"))
			fatal("%s/advisor_mode=scan-time", d->dir);
		read_or_die(d->dir, "pages_to_scan", before, sizeof(before));
		r = raw_write(d->dir, "pages_to_scan", "1234", 4);
		read_or_die(d->dir, "pages_to_scan", after, sizeof(after));
		if (write_str(d->dir, "advisor_mode", "none") ||
		    write_str(d->dir, "pages_to_scan", d->orig[p]))
			fatal("%s: advisor_mode=none, pages_to_scan=%s", d->dir, d->orig[p]);
		if (strict)
			check(r.kind == REJ && r.err == EINVAL && !strcmp(before, after),
			      "%s: with advisor_mode=scan-time, pages_to_scan=1234 is refused with EINVAL, value unchanged (got %s, %s -> %s)",
			      d->dir, what_happened(r), before, after);
		else if (!(r.kind == REJ && r.err == EINVAL))
			xt_note("%s: pages_to_scan under the advisor: %s", d->dir, what_happened(r));
	}

	/*
	 * The advisor starts from advisor_min_pages_to_scan, an unsigned long,
	 * in pages_to_scan, an unsigned int: what does 2^32 become?  (Noted.)
	 */
	if (d->has[spec_index("advisor_mode")]) {
		int p = spec_index("pages_to_scan"), m = spec_index("advisor_min_pages_to_scan");
		char pts[VAL_LEN];

		if (!write_str(d->dir, "advisor_min_pages_to_scan", "4294967296") &&
		    !write_str(d->dir, "advisor_mode", "scan-time")) {
			read_or_die(d->dir, "pages_to_scan", pts, sizeof(pts));
			xt_note("%s: advisor_min_pages_to_scan=4294967296, then advisor_mode=scan-time: pages_to_scan reads %s",
				d->dir, pts);
		}
		if (write_str(d->dir, "advisor_mode", "none") ||
		    write_str(d->dir, "advisor_min_pages_to_scan", d->orig[m]) ||
		    write_str(d->dir, "pages_to_scan", d->orig[p]))
			fatal("%s: restoring the advisor's knobs", d->dir);
	}

	/* and every knob is back to what it was */
	if (strict) {
		int changed = 0;

		for (i = 0; i < NSPEC; i++) {
			char cur[VAL_LEN];

			if (!d->has[i])
				continue;
			read_or_die(d->dir, specs[i].name, cur, sizeof(cur));
			if (strcmp(cur, d->orig[i])) {
				changed++;
				check(0, "%s/%s is back to %s (reads %s)", d->dir,
				      specs[i].name, d->orig[i], cur);
			}
		}
		check(!changed, "%s: every knob reads its original value after the table", d->dir);
	}
}

/* The table's results on both directories, side by side: differences. */
static void compare(void)
{
	int ki, i, j, diffs = 0;

	for (ki = 0; ki < NSPEC; ki++) {
		struct input in[MAXIN];
		int n;

		if (!subj.has[ki] || !ref.has[ki])
			continue;
		n = inputs_for(ki, in);
		for (i = 0; i < n; i++) {
			typeof(subj.got[0][0]) *a = &subj.got[ki][i], *b = &ref.got[ki][i];

			if (a->kind == b->kind && (a->kind != REJ || a->err == b->err) &&
			    (a->kind != ACC || !strcmp(a->after, b->after)))
				continue;
			diffs++;
			xt_note("differs from %s: %s <- %s: %s %s%s%s, there %s%s%s",
				ref.dir, specs[ki].name, show(in[i].s, in[i].len),
				subj.dir, kind_name(a->kind),
				a->kind == REJ ? " " : "", a->kind == REJ ? strerror(a->err) : a->after,
				kind_name(b->kind), b->kind == REJ ? " " : " reading ",
				b->kind == REJ ? strerror(b->err) : b->after);
		}
	}
	for (i = 0; i < subj.nro; i++) {
		for (j = 0; j < ref.nro; j++)
			if (!strcmp(subj.ro_name[i], ref.ro_name[j]))
				break;
		if (j == ref.nro)
			xt_note("%s/%s has no counterpart in %s", subj.dir, subj.ro_name[i], ref.dir);
		else if (subj.ro_err[i] != ref.ro_err[j])
			diffs++, xt_note("differs from %s: writing read-only %s: %s, there %s",
					 ref.dir, subj.ro_name[i], strerror(subj.ro_err[i]),
					 strerror(ref.ro_err[j]));
	}
	xt_note("%d difference(s) between %s and %s on the same inputs", diffs, subj.dir, ref.dir);
}

/* An unprivileged user cannot open a knob for writing (0644, root's). */
static void unprivileged(struct dirstate *d)
{
	int i, status, n = 0;
	pid_t pid;

	pid = xt_fork();
	if (!pid) {
		int bad = 0;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(100);
		for (i = 0; i < NSPEC; i++) {
			char buf[VAL_LEN];
			struct wres r;

			if (!d->has[i])
				continue;
			r = raw_write(d->dir, specs[i].name, "1", 1);
			if (!(r.kind == REJ && r.at_open && (r.err == EACCES || r.err == EPERM))) {
				printf("# uid 65534 writing \"1\" to %s/%s: %s\n", d->dir,
				       specs[i].name, what_happened(r));
				bad++;
			}
			if (read_str(d->dir, specs[i].name, buf, sizeof(buf))) {
				printf("# uid 65534 cannot read %s/%s\n", d->dir, specs[i].name);
				bad++;
			}
		}
		fflush(stdout);
		_exit(bad > 99 ? 99 : bad);
	}
	if (waitpid(pid, &status, 0) != pid)
		fatal("waitpid");
	for (i = 0; i < NSPEC; i++)
		n += d->has[i];
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "uid 65534 can read the %d knobs of %s but not open them for writing (EACCES) (exit %d)",
	      n, d->dir, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* --- the registered memory ------------------------------------------------ */

static char *A, *B;	/* A: N twin pages, then Z zero pages; B: N twin pages */
static unsigned long zero_pfn;

static int data_bad(void)
{
	static const char zeros[XT_PAGE];
	size_t i, bad = xt_verify(A, N, SEED) + xt_verify(B, N, SEED);

	for (i = 0; i < Z; i++)
		bad += memcmp(A + (N + i) * XT_PAGE, zeros, XT_PAGE) != 0;
	return (int)bad;
}

/* Pairs of pages in the zero-filled part sharing a PFN other than the zero page's. */
static size_t zero_part_pairs(void)
{
	unsigned long pfn[Z];
	size_t i, j, pairs = 0;

	for (i = 0; i < Z; i++)
		pfn[i] = xt_pfn(A + (N + i) * XT_PAGE);
	for (i = 0; i < Z; i++)
		for (j = i + 1; j < Z; j++)
			pairs += pfn[i] && pfn[i] != zero_pfn && pfn[i] == pfn[j];
	return pairs;
}

static double merge_secs;	/* how long the last wait_merged() took */

static int wait_merged(double timeout_s)
{
	double t0 = xt_now(), deadline = t0 + timeout_s;
	int ok = 0;

	do {
		if (xt_count_same_pfn(0, A, 0, B, N) == N) {
			ok = 1;
			break;
		}
		xt_msleep(10);
	} while (xt_now() < deadline);
	merge_secs = xt_now() - t0;
	return ok;
}

/* After run=2: nothing counted, nothing shared, the data intact. */
static void check_unmerged(const char *when)
{
	long long shared = xt_knob("pages_shared"), sharing = xt_knob("pages_sharing");
	size_t same = xt_count_same_pfn(0, A, 0, B, N), zp = zero_part_pairs();
	int bad = data_bad();

	check(shared == 0 && sharing == 0,
	      "%s: pages_shared == pages_sharing == 0 (got %lld, %lld)", when, shared, sharing);
	check(same == 0 && zp == 0, "%s: no page shares a PFN (%zu twins, %zu zero-filled pairs do)",
	      when, same, zp);
	check(bad == 0, "%s: the data is intact (%d bad pages)", when, bad);
}

/* --- part 2: concurrent writers ------------------------------------------- */

enum { W_OWNER, W_CHAOS, W_TOUCH };

struct worker {
	pthread_t tid;
	int kind;
	int ki;				/* W_OWNER: its knob */
	uint64_t rng;
	long ops, acc, busy, rej, nop;
	int nbad;
	char bad[3][320];
	/* for the watchdog: when the write in progress began, and what */
	_Atomic double since;
	const char *_Atomic what;
	_Atomic int finished;
};

static _Atomic int stop;
static struct input all_in[NSPEC][MAXIN];
static int all_n[NSPEC];
static int valid_idx[NSPEC][MAXIN], nvalid[NSPEC];
static int invalid_idx[NSPEC][MAXIN], ninvalid[NSPEC];

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void __attribute__((format(printf, 2, 3))) wbad(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->nbad < 3) {
		va_start(ap, fmt);
		vsnprintf(w->bad[w->nbad], sizeof(w->bad[0]), fmt, ap);
		va_end(ap);
	}
	w->nbad++;
}

static struct wres wwrite(struct worker *w, const char *name, const char *s, size_t len)
{
	struct wres r;

	w->what = name;
	w->since = xt_now();
	r = raw_write(subj.dir, name, s, len);
	w->since = 0;
	w->ops++;
	return r;
}

/* "Sane" values the owners pick half of the time, so that scanning goes on. */
static const char *sane(int ki, uint64_t *rng)
{
	static const char *const pts[] = { "100", "1000", "5000", "20000" };
	static const char *const slp[] = { "0", "0", "1", "5" };
	static const char *const mps[] = { "2", "3", "16", "256" };
	static const char *const run[] = { "1", "1", "0", "2" };
	const char *name = specs[ki].name;
	unsigned int r = rnd(rng) % 4;

	if (!strcmp(name, "pages_to_scan"))
		return pts[r];
	if (!strcmp(name, "sleep_millisecs"))
		return slp[r];
	if (!strcmp(name, "max_page_sharing"))
		return mps[r];
	if (!strcmp(name, "run"))
		return run[r];
	if (specs[ki].type == KT_ENUM)
		return specs[ki].words[r % enum_count(&specs[ki])];
	return r & 1 ? "1" : "0";
}

static void *owner_fn(void *arg)
{
	struct worker *w = arg;
	const struct spec *k = &specs[w->ki];
	char prev[VAL_LEN], after[VAL_LEN];
	int is_run = !strcmp(k->name, "run");

	read_or_die(subj.dir, k->name, prev, sizeof(prev));
	while (!stop) {
		const char *s;
		size_t len;
		struct outcome o;
		struct wres r;
		unsigned int p = rnd(&w->rng) % 100;

		if (p < 30) {
			s = sane(w->ki, &w->rng);
			len = strlen(s);
		} else if (p < 60) {
			struct input *in = &all_in[w->ki][valid_idx[w->ki][rnd(&w->rng) % nvalid[w->ki]]];

			s = in->s;
			len = in->len;
		} else {
			struct input *in = &all_in[w->ki][invalid_idx[w->ki][rnd(&w->rng) % ninvalid[w->ki]]];

			s = in->s;
			len = in->len;
		}
		o = model(k, s, len);
		r = wwrite(w, k->name, s, len);
		if (read_str(subj.dir, k->name, after, sizeof(after))) {
			wbad(w, "%s cannot be read: %s", k->name, strerror(errno));
			break;
		}
		if (r.secs > SLOW_WRITE_S)
			wbad(w, "%s <- %s took %.1f s", k->name, show(s, len), r.secs);
		if (o.kind == ACC) {
			if (r.kind == ACC) {
				w->acc++;
				if (strcmp(after, o.val))
					wbad(w, "%s <- %s accepted but reads %s, not %s", k->name,
					     show(s, len), after, o.val);
				snprintf(prev, sizeof(prev), "%s", after);
			} else if (r.kind == REJ && r.err == EBUSY && k->busy && strcmp(prev, o.val)) {
				w->busy++;
				if (strcmp(after, prev))
					wbad(w, "%s <- %s: EBUSY, yet %s changed to %s", k->name,
					     show(s, len), prev, after);
			} else {
				wbad(w, "valid %s <- %s: %s (reads %s, was %s)", k->name,
				     show(s, len), what_happened(r), after, prev);
				snprintf(prev, sizeof(prev), "%s", after);
			}
		} else if (o.kind == REJ) {
			w->rej++;
			if (r.kind != REJ || !errno_ok(r.err, len))
				wbad(w, "invalid %s <- %s: %s, not refused with EINVAL/ERANGE", k->name,
				     show(s, len), what_happened(r));
			if (strcmp(after, prev)) {
				wbad(w, "invalid %s <- %s changed %s to %s", k->name,
				     show(s, len), prev, after);
				snprintf(prev, sizeof(prev), "%s", after);
			}
		} else {
			w->nop++;
		}
		/* let pages merge between run writes */
		if (is_run)
			xt_msleep(rnd(&w->rng) % 10);
		else if (rnd(&w->rng) % 4 == 0)
			xt_msleep(1);
	}
	w->finished = 1;
	return NULL;
}

static void *chaos_fn(void *arg)
{
	struct worker *w = arg;

	while (!stop) {
		int ki = rnd(&w->rng) % NSPEC;
		struct input *in;
		struct wres r;
		char buf[VAL_LEN];

		if (!subj.has[ki] || !ninvalid[ki])
			continue;
		in = &all_in[ki][invalid_idx[ki][rnd(&w->rng) % ninvalid[ki]]];
		r = wwrite(w, specs[ki].name, in->s, in->len);
		if (r.kind == NOP && !in->len) {
			w->nop++;
		} else if (r.kind != REJ || !errno_ok(r.err, in->len)) {
			wbad(w, "invalid %s <- %s: %s, not refused with EINVAL/ERANGE", specs[ki].name,
			     show(in->s, in->len), what_happened(r));
		} else {
			w->rej++;
		}
		if (r.secs > SLOW_WRITE_S)
			wbad(w, "%s <- %s took %.1f s", specs[ki].name, show(in->s, in->len), r.secs);
		/* and a read of some knob or counter */
		ki = rnd(&w->rng) % NSPEC;
		if (subj.has[ki] && read_str(subj.dir, specs[ki].name, buf, sizeof(buf)))
			wbad(w, "reading %s: %s", specs[ki].name, strerror(errno));
		if (read_str(subj.dir, "pages_sharing", buf, sizeof(buf)) ||
		    buf[0] < '0' || buf[0] > '9')
			wbad(w, "pages_sharing reads \"%s\"", buf);
	}
	w->finished = 1;
	return NULL;
}

/* Rewrites pages with their own content: CoW breaks of merged pages. */
static void *touch_fn(void *arg)
{
	struct worker *w = arg;

	while (!stop) {
		size_t i = rnd(&w->rng) % (2 * N + Z);

		if (i < N)
			xt_fill_page(A, i, SEED);
		else if (i < 2 * N)
			xt_fill_page(B, i - N, SEED);
		else
			memset(A + (N + i - 2 * N) * XT_PAGE, 0, XT_PAGE);
		w->ops++;
		xt_msleep(1);
	}
	w->finished = 1;
	return NULL;
}

static void watchdog(struct worker *w, int n)
{
	double now = xt_now();
	int i;

	for (i = 0; i < n; i++) {
		double since = w[i].since;

		if (since && now - since > WATCHDOG_S) {
			printf("not ok - a write to %s/%s has not returned after %d s (xksm hangs)\n",
			       subj.dir, w[i].what, WATCHDOG_S);
			fflush(stdout);
			_exit(XKSM_EXIT_FAIL);
		}
	}
}

#define NOWNERS 8
#define NCHAOS 2

/*
 * A value other than cur (a reading) for knob k, which needs nothing
 * merged to change: the next word, or min + 1 if cur is min, else min.
 */
static const char *other_value(const struct spec *k, const char *cur, char *buf, size_t size)
{
	if (k->type == KT_ENUM) {
		const char *w = value_to_write(k, cur);
		int i = 0;

		while (k->words[i] != w)
			i++;
		return k->words[(i + 1) % enum_count(k)];
	}
	if (k->type == KT_INT)
		snprintf(buf, size, "%lld", atoll(cur) == (long long)k->min ?
			 (long long)k->min + 1 : (long long)k->min);
	else
		snprintf(buf, size, "%llu", strtoull(cur, NULL, 10) == k->min ?
			 k->min + 1 : k->min);
	return buf;
}

static void concurrent(double seconds, uint64_t seed)
{
	static const char *const owned[NOWNERS] = {
		"run", "pages_to_scan", "sleep_millisecs", "max_page_sharing",
		"merge_across_nodes", "use_zero_pages", "merge_scope",
		"zero_pages_across_domains",
	};
	struct worker w[NOWNERS + NCHAOS + 1];
	char before[NSPEC][VAL_LEN], cur[VAL_LEN];
	int nw = 0, i, ki, bad, unowned_changed = 0, invalid_readings = 0;
	long ops = 0, acc = 0, busy = 0, rej = 0;
	double t0 = xt_now(), deadline;
	struct wres r;
	char buf[VAL_LEN];
	int ok;

	/* merged first: the EBUSY of the knobs that need nothing merged */
	xt_start_fast();
	ok = wait_merged(60);
	check(ok, "the %d twin pages merge before the writers start (%.1f s)", N, merge_secs);
	for (ki = 0; ki < NSPEC; ki++) {
		const struct spec *k = &specs[ki];
		const char *other, *same;

		if (!subj.has[ki] || !k->busy)
			continue;
		read_or_die(subj.dir, k->name, before[ki], VAL_LEN);
		other = other_value(k, before[ki], buf, sizeof(buf));
		r = raw_write(subj.dir, k->name, other, strlen(other));
		read_or_die(subj.dir, k->name, cur, sizeof(cur));
		check(r.kind == REJ && r.err == EBUSY && !strcmp(cur, before[ki]),
		      "with pages merged, %s=%s fails with EBUSY, value unchanged (got %s, reads %s)",
		      k->name, other, what_happened(r), cur);
		same = value_to_write(k, before[ki]);
		r = raw_write(subj.dir, k->name, same, strlen(same));
		read_or_die(subj.dir, k->name, cur, sizeof(cur));
		check(r.kind == ACC && !strcmp(cur, before[ki]),
		      "with pages merged, %s=%s (its value) is accepted (got %s, reads %s)",
		      k->name, same, what_happened(r), cur);
	}

	for (ki = 0; ki < NSPEC; ki++)
		if (subj.has[ki])
			read_or_die(subj.dir, specs[ki].name, before[ki], VAL_LEN);

	memset(w, 0, sizeof(w));
	stop = 0;
	for (i = 0; i < NOWNERS; i++) {
		ki = spec_index(owned[i]);
		if (!subj.has[ki])
			continue;
		w[nw].kind = W_OWNER;
		w[nw].ki = ki;
		nw++;
	}
	for (i = 0; i < NCHAOS; i++)
		w[nw++].kind = W_CHAOS;
	w[nw++].kind = W_TOUCH;
	for (i = 0; i < nw; i++) {
		w[i].rng = seed * 0x9e3779b97f4a7c15ULL + i * 7919 + 1;
		if (pthread_create(&w[i].tid, NULL,
				   w[i].kind == W_OWNER ? owner_fn :
				   w[i].kind == W_CHAOS ? chaos_fn : touch_fn, &w[i]))
			fatal("pthread_create");
	}
	deadline = xt_now() + seconds;
	while (xt_now() < deadline) {
		xt_msleep(50);
		watchdog(w, nw);
	}
	stop = 1;
	for (;;) {
		int done = 1;

		for (i = 0; i < nw; i++)
			done &= w[i].finished;
		if (done)
			break;
		xt_msleep(20);
		watchdog(w, nw);
	}
	for (i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);

	bad = 0;
	for (i = 0; i < nw; i++) {
		int j;

		for (j = 0; j < w[i].nbad && j < 3; j++)
			check(0, "concurrent writers: %s", w[i].bad[j]);
		if (w[i].nbad > 3)
			xt_note("and %d more from the same thread", w[i].nbad - 3);
		bad += w[i].nbad;
		if (w[i].kind != W_TOUCH) {
			ops += w[i].ops;
			acc += w[i].acc;
			busy += w[i].busy;
			rej += w[i].rej;
		}
		if (w[i].kind == W_OWNER)
			xt_note("%s: %ld writes, %ld accepted, %ld EBUSY, %ld refused", specs[w[i].ki].name,
				w[i].ops, w[i].acc, w[i].busy, w[i].rej);
	}
	xt_note("%.1f s: %ld knob writes (%ld accepted, %ld EBUSY, %ld refused), %ld pages rewritten, full_scans now %lld",
		seconds, ops, acc, busy, rej, w[nw - 1].ops, xt_knob("full_scans"));
	check(!bad, "%d threads wrote %ld values for %.1f s: each refused with EINVAL/ERANGE (or EBUSY) leaving its knob unchanged, or accepted reading back exactly",
	      nw, ops, seconds);
	for (i = 0, bad = 0; i < nw; i++)
		bad += w[i].kind == W_OWNER && !w[i].ops;
	check(!bad && ops >= 2 * nw, "the writers made progress (%ld writes, %d owners made none)",
	      ops, bad);

	for (ki = 0; ki < NSPEC; ki++) {
		int owned_k = 0;

		if (!subj.has[ki])
			continue;
		read_or_die(subj.dir, specs[ki].name, cur, sizeof(cur));
		if (!valid_reading(&specs[ki], cur)) {
			invalid_readings++;
			check(0, "after the writers %s reads a valid value (reads \"%s\")",
			      specs[ki].name, cur);
		}
		for (i = 0; i < NOWNERS; i++)
			owned_k |= !strcmp(owned[i], specs[ki].name);
		if (!owned_k && strcmp(cur, before[ki])) {
			unowned_changed++;
			check(0, "%s, written only with invalid values, still reads %s (reads %s)",
			      specs[ki].name, before[ki], cur);
		}
	}
	check(!invalid_readings, "after the writers every knob reads a value it accepts");
	check(!unowned_changed, "knobs written only with invalid values are unchanged");
	bad = data_bad();
	check(bad == 0, "after the writers the registered data is intact (%d bad pages)", bad);

	/* the originals of the knobs that change the trees, then merge again */
	xt_knob_set("run", 2);
	for (i = 1; i < NOWNERS; i++) {
		ki = spec_index(owned[i]);
		if (subj.has[ki] &&
		    write_str(subj.dir, owned[i], value_to_write(&specs[ki], subj.orig[ki])))
			fatal("restore %s=%s", owned[i], subj.orig[ki]);
	}
	xt_knob_set("pages_to_scan", 5000);
	xt_knob_set("sleep_millisecs", 0);
	xt_knob_set("run", 1);
	ok = wait_merged(60);
	check(ok, "then run=1 merges the %d twin pages again (%zu merged, %.1f s)", N,
	      xt_count_same_pfn(0, A, 0, B, N), merge_secs);
	xt_knob_set("run", 2);
	check_unmerged("then after run=2");
	xt_note("part 2 took %.1f s", xt_now() - t0);
}

/* --- part 3: run cycled ------------------------------------------------------ */

static void cycle_run(int cycles, uint64_t seed)
{
	static const char *const vals[] = { "0", "1", "2", "1" };
	uint64_t rng = seed * 31 + 7;
	double t0 = xt_now(), t1, t2, maxlat = 0, lat[3] = { 0 };
	int i, ok, bad = 0, merged_hits = 0, n2 = 0, n0 = 0;
	struct xksm_stats st;
	long long run;

	xt_knob_set("pages_to_scan", 5000);
	xt_knob_set("sleep_millisecs", 0);
	xt_knob_set("run", 1);
	ok = wait_merged(60);
	check(ok, "run cycling starts with the %d twin pages merged (%.1f s)", N, merge_secs);
	t1 = xt_now();

	for (i = 0; i < cycles; i++) {
		const char *v = vals[rnd(&rng) % 4];
		long long shared_before, sh, sg;
		struct wres r;

		shared_before = xt_knob("pages_shared");
		r = raw_write(subj.dir, "run", v, 1);
		maxlat = r.secs > maxlat ? r.secs : maxlat;
		lat[*v - '0'] += r.secs;
		if (r.kind != ACC) {
			bad++;
			check(0, "cycle %d: run=%s accepted (got %s)", i, v, what_happened(r));
			continue;
		}
		run = xt_knob("run");
		if (run != atoi(v)) {
			bad++;
			check(0, "cycle %d: run reads back %s (reads %lld)", i, v, run);
		}
		if (r.secs > SLOW_WRITE_S) {
			bad++;
			check(0, "cycle %d: run=%s returns within %d s (took %.1f s)", i, v,
			      SLOW_WRITE_S, r.secs);
		}
		merged_hits += shared_before > 0 && *v != '1';
		if (*v == '2') {
			size_t same = xt_count_same_pfn(0, A, 0, B, N);

			n2++;
			sh = xt_knob("pages_shared");
			sg = xt_knob("pages_sharing");
			if (xt_stats(&st))
				fatal("XKSM_IOC_STATS");
			if (sh || sg || same || st.merging_pages) {
				bad++;
				check(0, "cycle %d: right after run=2: pages_shared %lld, pages_sharing %lld, %zu pages sharing a PFN, merging_pages %llu (all 0)",
				      i, sh, sg, same, (unsigned long long)st.merging_pages);
			}
		} else if (*v == '0') {
			/* xksmd stopped (run_store waited for its batch): stable counters */
			n0++;
			sh = xt_knob("pages_shared");
			sg = xt_knob("pages_sharing");
			if (xt_stats(&st))
				fatal("XKSM_IOC_STATS");
			if (sg < sh || sh > N + Z || sg > N + Z ||
			    st.merging_pages != (unsigned long long)(sh + sg)) {
				bad++;
				check(0, "cycle %d: after run=0: pages_sharing %lld >= pages_shared %lld, both <= %d, merging_pages %llu == their sum",
				      i, sg, sh, N + Z, (unsigned long long)st.merging_pages);
			}
		}
		if (rnd(&rng) % 2)
			xt_msleep(rnd(&rng) % 4);
	}
	t2 = xt_now();
	xt_note("%d run writes (%d run=2, %d run=0; %d of these with pages merged), longest %.3f s; in all run=0 %.2f s, run=1 %.2f s, run=2 %.2f s",
		cycles, n2, n0, merged_hits, maxlat, lat[0], lat[1], lat[2]);
	check(!bad, "run cycled %d times: each write returns within %d s (longest %.2f s), reads back, counters agree",
	      cycles, SLOW_WRITE_S, maxlat);
	check(merged_hits > 0, "run=0/run=2 met merged pages (%d times)", merged_hits);
	bad = data_bad();
	check(bad == 0, "after cycling the data is intact (%d bad pages)", bad);
	xt_knob_set("run", 1);
	ok = wait_merged(60);
	check(ok, "after cycling run=1 merges the %d twin pages (%.1f s)", N, merge_secs);
	xt_knob_set("run", 2);
	check_unmerged("after cycling, run=2");
	xt_note("part 3 took %.1f s (merging first %.1f s, cycling %.1f s, the end %.1f s)",
		xt_now() - t0, t1 - t0, t2 - t1, xt_now() - t2);
}

int main(void)
{
	int debug = access("/sys/kernel/debug/kmemleak", F_OK) == 0;
	double seconds = debug ? 1.5 : 2, t0 = xt_now();
	int cycles = debug ? 50 : 200, ki, i;
	const char *env = getenv("XKSM_FUZZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!seed)
		seed = 1;
	xt_note("seed %llu (XKSM_FUZZ_SEED)%s", (unsigned long long)seed,
		debug ? ", debug kernel: shorter loops" : "");
	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_STATS, "MERGE and STATS");
	short_table = debug;
	memset(long_x, 'x', LONG_LEN);
	memset(long_9, '9', LONG_LEN);

	/* the harness puts xksm's (the backend's) knobs back at exit */
	xt_unmerge_all();
	for (ki = 0; ki < NSPEC; ki++)
		if (specs[ki].type != KT_ENUM && xt_knob_exists(specs[ki].name))
			xt_knob_save(specs[ki].name);
	take_over(&subj, xt_sysfs_dir(), 0);
	take_over(&ref, xt_backend_ksm() ? XKSM_DIR : KSM_DIR, 1);
	main_pid = getpid();
	atexit(cleanup);	/* runs before the harness's: the knobs of words first */

	/* part 1 */
	table(&subj, 1);
	unprivileged(&subj);
	if (ref.present && debug) {
		xt_note("debug kernel: the comparison with %s is left to the other kernels", ref.dir);
	} else if (ref.present) {
		table(&ref, 0);
		restore_dir(&ref);
		compare();
	} else {
		xt_note("no %s to compare with", ref.dir);
	}
	xt_note("part 1 took %.1f s", xt_now() - t0);

	/* the inputs the writers pick from, as the model sorts them */
	for (ki = 0; ki < NSPEC; ki++) {
		all_n[ki] = inputs_for(ki, all_in[ki]);
		for (i = 0; i < all_n[ki]; i++) {
			struct outcome o = model(&specs[ki], all_in[ki][i].s, all_in[ki][i].len);

			if (o.kind == ACC)
				valid_idx[ki][nvalid[ki]++] = i;
			else if (o.kind == REJ)
				invalid_idx[ki][ninvalid[ki]++] = i;
		}
	}

	zero_pfn = xt_zero_pfn();
	A = xt_map(N + Z);
	B = xt_map(N);
	xt_fill(A, N, SEED);
	memset(A + N * XT_PAGE, 0, Z * XT_PAGE);
	xt_fill(B, N, SEED);
	xt_register_or_die(A, (N + Z) * XT_PAGE);
	xt_register_or_die(B, N * XT_PAGE);

	concurrent(seconds, seed);
	cycle_run(cycles, seed);
	xt_note("%.1f s in all", xt_now() - t0);
	return done();
}
