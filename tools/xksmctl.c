// SPDX-License-Identifier: GPL-2.0
/*
 * xksmctl - the admin tool of xksm.
 *
 *   xksmctl status | top | proc | merge-any | get | set | chains | watch |
 *           help
 *
 * Most of what it shows comes from two directories:
 *  - /sys/kernel/mm/xksm/ (env XKSM_SYSFS): the knobs and counters, which
 *    anyone may read and root may write (module/sysfs.c);
 *  - /sys/kernel/debug/xksm/ (env XKSM_DEBUGFS): mm_slots, stable_tree and
 *    objects, root only, in the formats of docs/debugfs.md.
 * proc and merge-any act on one other process through /dev/xksm: a pidfd
 * of it (pidfd_open(2)) with XKSM_PIDFD, which the module allows as
 * process_madvise(2) would (CAP_SYS_NICE and ptrace read access).
 *
 * `set` checks every assignment against knobs[] below, which mirrors what
 * each store function of module/sysfs.c accepts, before it writes any; a
 * write the kernel still refuses (EBUSY while pages are merged, ...) is
 * reported with its errno.
 *
 * Exit status: 0 success; 1 failure (xksm not loaded, a file unreadable, a
 * write refused); 2 usage error or invalid value (then nothing is written).
 *
 * The man page is docs/xksmctl.8: scripts/check-manpage checks that it
 * describes the same commands and options as `xksmctl --help`.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/xksm.h>

/* xksm's release: PACKAGE_VERSION in dkms.conf, passed by the Makefile. */
#ifndef XKSM_VERSION
#define XKSM_VERSION		"unknown"
#endif

#define DEFAULT_SYSFS		"/sys/kernel/mm/xksm"
#define DEFAULT_DEBUGFS		"/sys/kernel/debug/xksm"

#define EXIT_USAGE		2

/* A comm (TASK_COMM_LEN bytes at most) and room to spare. */
#define COMM_MAX		64
/* A kernel pointer as debugfs prints it: 16 hex digits. */
#define PTR_MAX			24

static const char *sysfs_dir;
static const char *debugfs_dir;
static long page_size;

/* Set by SIGINT/SIGTERM: top, watch and status end their loop. */
static volatile sig_atomic_t interrupted;

/* ------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------ */

static void verror_msg(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("xksmctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2)))
error_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_msg(fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror_msg(fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

/*
 * Read dir/name into buf, NUL-terminated, trailing newlines removed.
 * Returns 0 or -errno.
 */
static int read_file(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

/* A whole decimal number, optionally negative: the kernel's %lu or %ld. */
static bool parse_number(const char *s, long long *val)
{
	char *end;

	errno = 0;
	*val = strtoll(s, &end, 10);
	return !errno && end != s && !*end;
}

/* A sysfs counter: 0, or -errno (-ENOENT: this module has no such file). */
static int sysfs_read(const char *name, long long *val)
{
	char buf[64];
	int err;

	err = read_file(sysfs_dir, name, buf, sizeof(buf));
	if (err)
		return err;
	return parse_number(buf, val) ? 0 : -EINVAL;
}

static long long sysfs_counter(const char *name)
{
	long long val;
	int err = sysfs_read(name, &val);

	if (err)
		die("cannot read %s/%s: %s", sysfs_dir, name, strerror(-err));
	return val;
}

static bool xksm_loaded(void)
{
	struct stat st;

	return stat(sysfs_dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static void require_loaded(void)
{
	if (!xksm_loaded())
		die("xksm is not loaded: %s does not exist", sysfs_dir);
}

/*
 * Open a debugfs file of xksm, or end with an error that says what to do:
 * mounting debugfs is the admin's job, and only root may read it.
 */
static FILE *open_debugfs(const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", debugfs_dir, name);
	f = fopen(path, "re");
	if (f)
		return f;
	if (errno == EACCES || errno == EPERM)
		die("cannot read %s: %s (xksm's debugfs files are root's)",
		    path, strerror(errno));
	if (errno == ENOENT && stat(debugfs_dir, &st) != 0) {
		if (!xksm_loaded())
			die("cannot read %s: %s (xksm is not loaded)", path,
			    strerror(ENOENT));
		die("cannot read %s: %s (is debugfs mounted? mount -t debugfs none /sys/kernel/debug)",
		    path, strerror(ENOENT));
	}
	die("cannot read %s: %s", path, strerror(errno));
}

/* Split a line into blank-separated words, in place; returns how many. */
static int split_words(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	while (n < max) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			break;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	return n;
}

/* The value after key among the "key value" pairs words[from..n). */
static const char *word_value(char **words, int n, int from, const char *key)
{
	int i;

	for (i = from; i + 1 < n; i += 2)
		if (!strcmp(words[i], key))
			return words[i + 1];
	return NULL;
}

static unsigned long long word_u64(char **words, int n, int from,
				   const char *key)
{
	const char *v = word_value(words, n, from, key);

	return v ? strtoull(v, NULL, 0) : 0;
}

static long long word_s64(char **words, int n, int from, const char *key)
{
	const char *v = word_value(words, n, from, key);

	return v ? strtoll(v, NULL, 0) : 0;
}

/* A pid, or -1 for "-" (an mm without an owner). */
static long word_pid(char **words, int n, int from)
{
	const char *v = word_value(words, n, from, "pid");

	return v && isdigit((unsigned char)*v) ? strtol(v, NULL, 10) : -1;
}

/*
 * A comm as debugfs escapes it (blanks, tabs, newlines and backslashes as
 * \ooo) back to its bytes; "-" (no owner) is the empty string.  Returns
 * its length.
 */
static size_t unescape_comm(const char *s, char *out, size_t size)
{
	size_t len = 0;

	if (!s || !strcmp(s, "-")) {
		out[0] = '\0';
		return 0;
	}
	while (*s && len + 1 < size) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			out[len++] = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					    (s[3] - '0'));
			s += 4;
		} else {
			out[len++] = *s++;
		}
	}
	out[len] = '\0';
	return len;
}

/* A comm for a terminal: printable ASCII as is, other bytes as \ooo. */
static const char *printable_comm(const char *comm, size_t len)
{
	static char buf[COMM_MAX * 4 + 1];
	size_t i, o = 0;

	if (!len)
		return "-";
	for (i = 0; i < len && o + 5 < sizeof(buf); i++) {
		unsigned char c = comm[i];

		if (c > ' ' && c < 0x7f && c != '\\')
			buf[o++] = c;
		else
			o += sprintf(buf + o, "\\%03o", c);
	}
	buf[o] = '\0';
	return buf;
}

/* ------------------------------------------------------------------------
 * Numbers for people
 * ------------------------------------------------------------------------ */

/* Bytes in binary units: "512 B", "1.5 MiB", "-3.0 KiB". */
static const char *human_bytes(long long bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = fabs((double)bytes);
	int u = -1;

	if (v < 1024) {
		snprintf(buf, size, "%lld B", bytes);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%s%.1f %s", bytes < 0 ? "-" : "", v, units[u]);
	return buf;
}

static const char *human_seconds(double s, char *buf, size_t size)
{
	if (s < 1)
		snprintf(buf, size, "%.3g ms", s * 1000);
	else if (s < 10)
		snprintf(buf, size, "%.3g s", s);
	else if (s < 120)
		snprintf(buf, size, "%.1f s", s);
	else if (s < 7200)
		snprintf(buf, size, "%.1f min", s / 60);
	else
		snprintf(buf, size, "%.1f h", s / 3600);
	return buf;
}

static double now_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The wall clock as seconds since the epoch, and as ISO 8601 local time. */
static double wall_clock(char *iso, size_t size)
{
	struct timespec ts;
	char zone[8] = "";
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(iso, size, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(iso + n, size - n, ".%03ld%s", ts.tv_nsec / 1000000, zone);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep, or less when interrupted; returns false once interrupted. */
static bool sleep_seconds(double secs)
{
	struct timespec ts;

	if (secs > 0 && !interrupted) {
		ts.tv_sec = (time_t)secs;
		ts.tv_nsec = (long)((secs - ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR && !interrupted)
			;
	}
	return !interrupted;
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* SIGINT and SIGTERM end a refresh loop cleanly (exit status 0). */
static void catch_interrupts(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* ------------------------------------------------------------------------
 * JSON: compact, one value per call, commas handled here
 * ------------------------------------------------------------------------ */

#define JSON_DEPTH	16

struct json {
	int depth;
	bool comma[JSON_DEPTH];	/* a value was written at this depth */
};

/*
 * A JSON string.  Control characters and '"', '\\' are escaped; bytes that
 * are not valid UTF-8 (a comm may end inside a character, or be any bytes)
 * become U+FFFD, so that the output is always valid JSON.
 */
static void json_string(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;

	putchar('"');
	while (p < end) {
		unsigned char c = *p;
		unsigned int cp, n, i;

		if (c == '"' || c == '\\') {
			printf("\\%c", c);
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			if (c == '\n')
				fputs("\\n", stdout);
			else if (c == '\t')
				fputs("\\t", stdout);
			else
				printf("\\u%04x", c);
			p++;
			continue;
		}
		if (c < 0x80) {
			putchar(c);
			p++;
			continue;
		}
		/* A UTF-8 sequence: its length, then its code point. */
		if (c >= 0xc2 && c <= 0xdf)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 4, cp = c & 0x07;
		else
			n = 0, cp = 0;
		for (i = 1; n && i < n; i++) {
			if (p + i >= end || (p[i] & 0xc0) != 0x80)
				n = 0;
			else
				cp = cp << 6 | (p[i] & 0x3f);
		}
		/* No overlong forms, surrogates, or beyond U+10FFFF. */
		if (n && ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
			  (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
			n = 0;
		if (!n) {
			fputs("\\ufffd", stdout);
			p++;
			continue;
		}
		fwrite(p, 1, n, stdout);
		p += n;
	}
	putchar('"');
}

/* The separator and "key": before a value (key NULL inside an array). */
static void json_key(struct json *j, const char *key)
{
	if (j->comma[j->depth])
		putchar(',');
	j->comma[j->depth] = true;
	if (key) {
		json_string(key, strlen(key));
		putchar(':');
	}
}

static void json_open(struct json *j, const char *key, char bracket)
{
	json_key(j, key);
	putchar(bracket);
	j->depth++;
	j->comma[j->depth] = false;
}

/* Start a top-level object (one per line). */
static void json_begin(struct json *j)
{
	memset(j, 0, sizeof(*j));
	putchar('{');
	j->depth = 1;
}

/* Close the top-level object, and end its line. */
static void json_end(struct json *j)
{
	j->depth--;
	puts("}");
	fflush(stdout);
}

static void json_object(struct json *j, const char *key)
{
	json_open(j, key, '{');
}

static void json_array(struct json *j, const char *key)
{
	json_open(j, key, '[');
}

static void json_close(struct json *j, char bracket)
{
	j->depth--;
	putchar(bracket);
}

static void json_int(struct json *j, const char *key, long long v)
{
	json_key(j, key);
	printf("%lld", v);
}

static void json_uint(struct json *j, const char *key, unsigned long long v)
{
	json_key(j, key);
	printf("%llu", v);
}

/* A measured quantity; a negative or non-finite one is null (unknown). */
static void json_real(struct json *j, const char *key, double v)
{
	char buf[64];
	size_t n;

	json_key(j, key);
	if (!isfinite(v) || v < 0 || v > 1e18) {
		fputs("null", stdout);
		return;
	}
	/* Microseconds at most, no trailing zeros: 0.2, 1735732800.123, 0 */
	n = snprintf(buf, sizeof(buf), "%.6f", v);
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	fputs(buf, stdout);
}

static void json_str(struct json *j, const char *key, const char *s, size_t len)
{
	json_key(j, key);
	if (s)
		json_string(s, len);
	else
		fputs("null", stdout);
}

static void json_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	fputs(v ? "true" : "false", stdout);
}

static void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs("null", stdout);
}

/* ------------------------------------------------------------------------
 * Knobs: what get reads and set writes
 * ------------------------------------------------------------------------ */

enum knob_kind {
	KNOB_NUMBER,	/* a decimal integer in [min, max] */
	KNOB_WORD,	/* one of words[]; reads "[selected] other ..." */
	KNOB_COUNTER,	/* read-only */
};

struct knob {
	const char *name;
	enum knob_kind kind;
	unsigned long long min, max;
	const char *const *words;	/* KNOB_WORD: NULL-terminated */
};

static const char *const advisor_modes[] = { "none", "scan-time", NULL };
static const char *const merge_scopes[] = { "all", "uid", "memcg", "id", NULL };

/*
 * Every file of /sys/kernel/mm/xksm/, in module/sysfs.c's order; for each
 * knob the values its store function accepts:
 *  - run: kstrtouint, above 2 (XKSM_RUN_UNMERGE) refused;
 *  - pages_to_scan, sleep_millisecs, stable_node_chains_prune_millisecs:
 *    kstrtouint, any unsigned int (0 included, as mainline);
 *  - merge_across_nodes: kstrtoul, above 1 refused;
 *  - use_zero_pages, smart_scan: kstrtobool; xksmctl takes 0 and 1 only;
 *  - max_page_sharing: kstrtoint, below 2 refused;
 *  - advisor_max_cpu: kstrtoul into an unsigned int: xksmctl refuses what
 *    would be truncated;
 *  - advisor_min/max_pages_to_scan: kstrtoul, any unsigned long;
 *  - advisor_target_scan_time: kstrtoul, 0 refused;
 *  - advisor_mode, merge_scope: one of their words (sysfs_match_string);
 *  - zero_pages_across_domains: kstrtouint, above 1 refused.
 * A module without a knob (an older one) leaves it out of get's listing.
 * merge_across_nodes, max_page_sharing, merge_scope and
 * zero_pages_across_domains are refused (EBUSY) while pages are merged.
 */
#define NUMBER(n, lo, hi)	{ n, KNOB_NUMBER, lo, hi, NULL }
#define WORD(n, w)		{ n, KNOB_WORD, 0, 0, w }
#define COUNTER(n)		{ n, KNOB_COUNTER, 0, 0, NULL }

static const struct knob knobs[] = {
	NUMBER("sleep_millisecs", 0, UINT_MAX),
	NUMBER("pages_to_scan", 0, UINT_MAX),
	NUMBER("run", 0, 2),
	NUMBER("merge_across_nodes", 0, 1),
	NUMBER("max_page_sharing", 2, INT_MAX),
	NUMBER("stable_node_chains_prune_millisecs", 0, UINT_MAX),
	NUMBER("use_zero_pages", 0, 1),
	NUMBER("smart_scan", 0, 1),
	WORD("advisor_mode", advisor_modes),
	NUMBER("advisor_max_cpu", 0, UINT_MAX),
	NUMBER("advisor_min_pages_to_scan", 0, ULONG_MAX),
	NUMBER("advisor_max_pages_to_scan", 0, ULONG_MAX),
	NUMBER("advisor_target_scan_time", 1, ULONG_MAX),
	WORD("merge_scope", merge_scopes),
	NUMBER("zero_pages_across_domains", 0, 1),
	COUNTER("pages_scanned"),
	COUNTER("pages_shared"),
	COUNTER("pages_sharing"),
	COUNTER("pages_unshared"),
	COUNTER("pages_volatile"),
	COUNTER("pages_skipped"),
	COUNTER("deferred_rmap_items"),
	COUNTER("ksm_zero_pages"),
	COUNTER("full_scans"),
	COUNTER("stable_node_chains"),
	COUNTER("stable_node_dups"),
	COUNTER("general_profit"),
};

#define NR_KNOBS	(sizeof(knobs) / sizeof(knobs[0]))

static const struct knob *find_knob(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < NR_KNOBS; i++)
		if (strlen(knobs[i].name) == len && !strncmp(knobs[i].name, name, len))
			return &knobs[i];
	return NULL;
}

/* What a knob accepts, in words: "0-2", "none or scan-time". */
static const char *knob_range(const struct knob *k, char *buf, size_t size)
{
	size_t i, n = 0, len = 0;

	if (k->kind == KNOB_WORD) {
		while (k->words[n])
			n++;
		buf[0] = '\0';
		for (i = 0; i < n && len < size; i++)
			len += snprintf(buf + len, size - len, "%s%s",
					!i ? "" : i + 1 < n ? ", " : " or ",
					k->words[i]);
	} else if (k->min == 0 && k->max == 1)
		snprintf(buf, size, "0 or 1");
	else
		snprintf(buf, size, "%llu-%llu", k->min, k->max);
	return buf;
}

enum parse_result { PARSE_OK, PARSE_SYNTAX, PARSE_RANGE };

/*
 * A decimal integer as the kernel's kstrto*(..., 10, ...) reads it: an
 * optional sign, then digits, nothing else.  A minus sign is out of range
 * for every knob (none goes below 0).
 */
static enum parse_result parse_decimal(const char *s, unsigned long long *val)
{
	unsigned long long v = 0;
	bool negative = false;

	if (*s == '+' || *s == '-')
		negative = *s++ == '-';
	if (!*s)
		return PARSE_SYNTAX;
	for (; *s; s++) {
		unsigned int d = *s - '0';

		if (!isdigit((unsigned char)*s))
			return PARSE_SYNTAX;
		if (v > (ULLONG_MAX - d) / 10)
			return PARSE_RANGE;	/* beyond 64 bits */
		v = v * 10 + d;
	}
	*val = v;
	return negative ? PARSE_RANGE : PARSE_OK;
}

/* One KNOB=VALUE of set, checked: the file to write and what to write. */
struct assignment {
	const struct knob *knob;
	char value[32];
};

/* Check one KNOB=VALUE; false (with a message naming the knob) if bad. */
static bool check_assignment(const char *arg, struct assignment *a)
{
	const char *eq = strchr(arg, '='), *value;
	unsigned long long v = 0;
	char range[64];

	if (!eq || eq == arg) {
		error_msg("'%s': expected KNOB=VALUE", arg);
		return false;
	}
	value = eq + 1;
	a->knob = find_knob(arg, eq - arg);
	if (!a->knob) {
		error_msg("%.*s: no such knob (see 'xksmctl help set')",
			  (int)(eq - arg), arg);
		return false;
	}
	if (a->knob->kind == KNOB_COUNTER) {
		error_msg("%s: a read-only counter, not a knob", a->knob->name);
		return false;
	}
	knob_range(a->knob, range, sizeof(range));
	if (a->knob->kind == KNOB_WORD) {
		const char *const *w;

		for (w = a->knob->words; *w && strcmp(*w, value); w++)
			;
		if (!*w) {
			error_msg("%s: invalid value '%s': %s accepts %s",
				  a->knob->name, value, a->knob->name, range);
			return false;
		}
		snprintf(a->value, sizeof(a->value), "%s", value);
		return true;
	}
	switch (parse_decimal(value, &v)) {
	case PARSE_SYNTAX:
		error_msg("%s: '%s' is not a decimal integer: %s accepts %s",
			  a->knob->name, value, a->knob->name, range);
		return false;
	case PARSE_RANGE:
		error_msg("%s: %s is out of range: %s accepts %s",
			  a->knob->name, value, a->knob->name, range);
		return false;
	case PARSE_OK:
		break;
	}
	if (v < a->knob->min || v > a->knob->max) {
		error_msg("%s: %s is out of range: %s accepts %s",
			  a->knob->name, value, a->knob->name, range);
		return false;
	}
	snprintf(a->value, sizeof(a->value), "%llu", v);
	return true;
}

/*
 * A word knob reads "[none] scan-time", "[all] uid memcg id": the
 * bracketed word.
 */
static void selected_mode(char *buf)
{
	char *open = strchr(buf, '['), *close;

	if (!open)
		return;
	close = strchr(open, ']');
	if (close) {
		*close = '\0';
		memmove(buf, open + 1, close - open);
	}
}

/* Why the kernel refused a write, when there is more to say than errno. */
static const char *refusal_hint(const struct knob *k, int err)
{
	char mode[64];

	if (err == EACCES || err == EPERM)
		return " (root only)";
	if (err == EBUSY && (!strcmp(k->name, "merge_across_nodes") ||
			     !strcmp(k->name, "max_page_sharing") ||
			     !strcmp(k->name, "merge_scope") ||
			     !strcmp(k->name, "zero_pages_across_domains")))
		return " (pages are merged: 'xksmctl set run=2' unmerges them first)";
	if (err == ENOENT)
		return " (the loaded xksm has no such knob: an older module?)";
	if (err == EINVAL && !strcmp(k->name, "pages_to_scan") &&
	    !read_file(sysfs_dir, "advisor_mode", mode, sizeof(mode))) {
		selected_mode(mode);
		if (!strcmp(mode, "scan-time"))
			return " (advisor_mode is scan-time: the advisor sets pages_to_scan)";
	}
	return "";
}

/* Write one checked assignment: 0 or an errno. */
static int write_knob(const struct assignment *a)
{
	char path[PATH_MAX];
	size_t len = strlen(a->value);
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", sysfs_dir, a->knob->name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, a->value, len) != (ssize_t)len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

/* ------------------------------------------------------------------------
 * Scan rate and time per full scan
 * ------------------------------------------------------------------------ */

struct scan_sample {
	double t;		/* monotonic seconds */
	long long scanned;	/* pages_scanned */
	long long full;		/* full_scans */
};

static void take_sample(struct scan_sample *s)
{
	s->t = now_monotonic();
	s->scanned = sysfs_counter("pages_scanned");
	s->full = sysfs_counter("full_scans");
}

/*
 * What one window of sampling tells.  A full scan's time is measured
 * between two ends of full scans seen in the window; with fewer than two,
 * it is only known to be longer than a bound, and estimated when the
 * average full scan since load (in pages) at the measured rate agrees.
 */
struct scan_rate {
	double window;		/* seconds sampled */
	long long pages;	/* pages scanned in the window */
	long long scans;	/* full scans completed in the window */
	double rate;		/* pages per second */
	double full_scan;	/* seconds per full scan, measured; -1 if not */
	double at_least;	/* if not: a full scan takes more than this */
	double estimate;	/* and about this; -1 if no estimate */
	long long avg_pages;	/* the pages per full scan the estimate assumes */
};

static void measure_scan(double interval, struct scan_rate *r)
{
	struct scan_sample s0, s, prev, first = { 0 }, last = { 0 };
	double step = interval / 20 < 0.01 ? interval / 20 : 0.01;
	bool seen = false;

	/*
	 * Poll every 10 ms (less for short windows) to see when full_scans
	 * moves: the time between its first and last move in the window
	 * measures whole full scans, with no partial one at either end.
	 */
	take_sample(&s0);
	prev = s = s0;
	while (s.t < s0.t + interval) {
		double left = s0.t + interval - s.t;

		if (!sleep_seconds(left < step ? left : step))
			break;
		take_sample(&s);
		if (s.full != prev.full) {
			if (!seen)
				first = s;
			last = s;
			seen = true;
		}
		prev = s;
	}

	r->window = s.t - s0.t;
	r->pages = s.scanned - s0.scanned;
	r->scans = s.full - s0.full;
	r->rate = r->window > 0 ? r->pages / r->window : 0;
	r->full_scan = r->at_least = r->estimate = -1;
	r->avg_pages = 0;
	if (seen && last.full > first.full && last.t > first.t) {
		r->full_scan = (last.t - first.t) / (last.full - first.full);
		return;
	}
	if (r->scans >= 2) {
		/* All ended between two polls: shorter than a poll. */
		r->full_scan = r->window / r->scans;
		return;
	}
	/*
	 * None completed: one takes longer than the window.  One completed:
	 * the scan that ended had begun before the window, and the next has
	 * not ended by its end.
	 */
	r->at_least = r->window;
	if (r->scans == 1)
		r->at_least = first.t - s0.t > s.t - first.t ?
			      first.t - s0.t : s.t - first.t;
	if (r->rate > 0 && s.full > 0) {
		r->avg_pages = s.scanned / s.full;
		r->estimate = r->avg_pages / r->rate;
		if (r->estimate < r->at_least)
			r->estimate = -1;	/* contradicted by the window */
	}
}

/* ------------------------------------------------------------------------
 * Options, common to every command
 * ------------------------------------------------------------------------ */

enum sort_field {
	SORT_PID, SORT_COMM, SORT_MERGING, SORT_ZERO, SORT_RMAP, SORT_PROFIT,
	SORT_REGISTERED, SORT_DOMAIN,
};

static const char *const sort_names[] = {
	[SORT_PID] = "pid", [SORT_COMM] = "comm", [SORT_MERGING] = "merging",
	[SORT_ZERO] = "zero", [SORT_RMAP] = "rmap", [SORT_PROFIT] = "profit",
	[SORT_REGISTERED] = "registered", [SORT_DOMAIN] = "domain",
};

/* The options a command takes. */
#define OPT_INTERVAL	(1u << 0)	/* -i SECONDS */
#define OPT_COUNT	(1u << 1)	/* -c COUNT */
#define OPT_ROWS	(1u << 2)	/* -n N */
#define OPT_SORT	(1u << 3)	/* -s FIELD */
#define OPT_ONCE	(1u << 4)	/* --once */
#define OPT_JSON	(1u << 5)	/* --json */
#define OPT_ALL		(1u << 6)	/* -a */
#define OPT_DOMAIN	(1u << 7)	/* --domain ID */

struct options {
	double interval;	/* seconds */
	long count;		/* 0: until interrupted */
	long rows;		/* 0: all */
	enum sort_field sort;
	bool once, json, all;
	long long domain;	/* --domain: 0 to UINT_MAX; -1 if not given */
	int nargs;		/* the operands left */
	char **args;
};

struct command {
	const char *name;
	const char *synopsis;	/* after "xksmctl NAME" */
	const char *help;	/* what it does and its options, indented */
	unsigned int opts;	/* OPT_* it takes */
	int min_args, max_args;	/* operands; max -1: any number */
	int (*run)(const struct command *cmd, struct options *o);
};

static const struct command commands[];

static void print_usage_lines(FILE *f)
{
	fputs("Usage: xksmctl COMMAND [OPTION...] [ARG...]\n"
	      "       xksmctl help [COMMAND]\n"
	      "       xksmctl -h|--help\n"
	      "       xksmctl --version\n", f);
}

static void print_knob_ranges(FILE *f)
{
	char range[64];
	size_t i;

	fputs("      Knobs and the values they accept:\n", f);
	for (i = 0; i < NR_KNOBS; i++)
		if (knobs[i].kind != KNOB_COUNTER)
			fprintf(f, "        %-36s %s\n", knobs[i].name,
				knob_range(&knobs[i], range, sizeof(range)));
}

static int cmd_set(const struct command *cmd, struct options *o);

/* A command's help: its synopsis line (in the whole --help) and body. */
static void print_command_help(FILE *f, const struct command *cmd,
			       bool synopsis)
{
	if (synopsis)
		fprintf(f, "  %s%s%s\n", cmd->name, *cmd->synopsis ? " " : "",
			cmd->synopsis);
	fputs(cmd->help, f);
	if (cmd->run == cmd_set)
		print_knob_ranges(f);
}

/* The help of one command: xksmctl help CMD, xksmctl CMD -h. */
static void print_one_help(const struct command *cmd)
{
	printf("Usage: xksmctl %s%s%s\n", cmd->name, *cmd->synopsis ? " " : "",
	       cmd->synopsis);
	print_command_help(stdout, cmd, false);
	puts("      -h, --help  this help");
}

static void print_help(FILE *f)
{
	const struct command *cmd;

	print_usage_lines(f);
	fputs("\nAdminister xksm, the Kernel Samepage Merging module: its state and\n"
	      "savings, its knobs, what each process gains, and its stable tree.\n"
	      "\nCommands:\n", f);
	for (cmd = commands; cmd->name; cmd++) {
		fputc('\n', f);
		print_command_help(f, cmd, true);
	}
	fprintf(f, "\nEvery command also takes -h, --help.\n"
		"\nEnvironment: XKSM_SYSFS (default %s) and XKSM_DEBUGFS\n"
		"(default %s) replace the directories read and written.\n"
		"\nExit status: 0 success, 1 failure, 2 usage error or invalid value.\n"
		"See xksmctl(8).\n", DEFAULT_SYSFS, DEFAULT_DEBUGFS);
}

/* Usage error: the message, the usage on stderr, exit status 2. */
static void __attribute__((format(printf, 2, 3), noreturn))
usage_error(const struct command *cmd, const char *fmt, ...)
{
	const struct command *c;
	va_list ap;

	fflush(stdout);
	fputs("xksmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd) {
		fprintf(stderr, "Usage: xksmctl %s%s%s\n", cmd->name,
			*cmd->synopsis ? " " : "", cmd->synopsis);
		fprintf(stderr, "Try 'xksmctl help %s'.\n", cmd->name);
	} else {
		print_usage_lines(stderr);
		fputs("Commands:", stderr);
		for (c = commands; c->name; c++)
			fprintf(stderr, " %s", c->name);
		fputs("\nTry 'xksmctl --help'.\n", stderr);
	}
	exit(EXIT_USAGE);
}

static double parse_interval(const struct command *cmd, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0.001 || v > 86400)
		usage_error(cmd, "-i: '%s' is not a number of seconds from 0.001 to 86400", s);
	return v;
}

static long parse_positive(const struct command *cmd, const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1)
		usage_error(cmd, "%s: '%s' is not a positive integer", opt, s);
	return v;
}

static enum sort_field parse_sort(const struct command *cmd, const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(sort_names) / sizeof(sort_names[0]); i++)
		if (!strcmp(s, sort_names[i]))
			return i;
	usage_error(cmd, "-s: no field '%s' (pid, comm, merging, zero, rmap, profit, registered, domain)", s);
}

/* A merge domain id: a decimal number from 0 to 4294967295. */
static long long parse_domain(const struct command *cmd, const char *s)
{
	unsigned long long v;

	if (parse_decimal(s, &v) != PARSE_OK || v > UINT_MAX)
		usage_error(cmd, "--domain: '%s' is not a domain id from 0 to %u",
			    s, UINT_MAX);
	return (long long)v;
}

/* An option as typed: "-i", "--json". */
static const char *option_name(int c)
{
	static char opt[3] = "-";

	if (c == 'J')
		return "--json";
	if (c == 'O')
		return "--once";
	if (c == 'D')
		return "--domain";
	opt[1] = (char)c;
	return opt;
}

/* Parse a command's options (argv[0] is its name); exits on a bad one. */
static void parse_options(const struct command *cmd, int argc, char **argv,
			  struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "once", no_argument, NULL, 'O' },
		{ "domain", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { int c; unsigned int opt; } takes[] = {
		{ 'i', OPT_INTERVAL }, { 'c', OPT_COUNT }, { 'n', OPT_ROWS },
		{ 's', OPT_SORT }, { 'O', OPT_ONCE }, { 'J', OPT_JSON },
		{ 'a', OPT_ALL }, { 'D', OPT_DOMAIN },
	};
	size_t i;
	int c;

	memset(o, 0, sizeof(*o));
	o->interval = 1;
	o->sort = SORT_MERGING;
	o->domain = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hi:c:n:s:a", longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			/* A long option has no optopt: name it as typed. */
			const char *what = optopt ? option_name(optopt) :
					   argv[optind - 1];

			if (c == ':')
				usage_error(cmd, "option '%s' needs a value", what);
			usage_error(cmd, "unknown option '%s'", what);
		}
		if (c == 'h') {
			print_one_help(cmd);
			exit(EXIT_SUCCESS);
		}
		for (i = 0; i < sizeof(takes) / sizeof(takes[0]); i++)
			if (takes[i].c == c && !(cmd->opts & takes[i].opt))
				usage_error(cmd, "%s takes no option '%s'",
					    cmd->name, option_name(c));
		switch (c) {
		case 'i':
			o->interval = parse_interval(cmd, optarg);
			break;
		case 'c':
			o->count = parse_positive(cmd, "-c", optarg);
			break;
		case 'n':
			o->rows = parse_positive(cmd, "-n", optarg);
			break;
		case 's':
			o->sort = parse_sort(cmd, optarg);
			break;
		case 'O':
			o->once = true;
			break;
		case 'J':
			o->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 'D':
			o->domain = parse_domain(cmd, optarg);
			break;
		}
	}
	o->nargs = argc - optind;
	o->args = argv + optind;
	if (o->nargs < cmd->min_args && cmd->min_args > 1)
		usage_error(cmd, "%s needs %d arguments", cmd->name, cmd->min_args);
	if (o->nargs < cmd->min_args)
		usage_error(cmd, "%s needs %s", cmd->name,
			    cmd->max_args < 0 ? "at least one argument" : "an argument");
	if (cmd->max_args >= 0 && o->nargs > cmd->max_args)
		usage_error(cmd, "unexpected argument '%s'", o->args[cmd->max_args]);
}

/* ------------------------------------------------------------------------
 * status
 * ------------------------------------------------------------------------ */

static const char *run_state(long long run)
{
	switch (run) {
	case 0:
		return "stopped";
	case 1:
		return "running";
	case 2:
		return "unmerged";
	default:
		return "unknown";
	}
}

/*
 * The counters status shows, in its order, with plain words for those it
 * lists one per line (the others it shows its own way).
 */
enum status_counter {
	C_SHARED, C_SHARING, C_UNSHARED, C_VOLATILE, C_SKIPPED, C_ZERO,
	C_CHAINS, C_DUPS, C_DEFERRED,	/* listed one per line, up to here */
	C_PROFIT, C_FULL_SCANS, C_SCANNED,
	NR_STATUS_COUNTERS
};

static const struct {
	const char *file;	/* in /sys/kernel/mm/xksm, and the JSON key */
	const char *label, *words;
} status_counters[NR_STATUS_COUNTERS] = {
	[C_SHARED]	= { "pages_shared", "pages shared", "KSM pages in use: one copy each" },
	[C_SHARING]	= { "pages_sharing", "pages sharing", "more mappings of them: the pages saved" },
	[C_UNSHARED]	= { "pages_unshared", "pages unshared", "scanned, unique so far" },
	[C_VOLATILE]	= { "pages_volatile", "pages volatile", "changing too fast to merge" },
	[C_SKIPPED]	= { "pages_skipped", "pages skipped", "passed over by smart scan" },
	[C_ZERO]	= { "ksm_zero_pages", "zero pages", "merged with the zero page" },
	[C_CHAINS]	= { "stable_node_chains", "stable node chains", "contents shared past max_page_sharing" },
	[C_DUPS]	= { "stable_node_dups", "stable node dups", "KSM pages in those chains" },
	[C_DEFERRED]	= { "deferred_rmap_items", "deferred rmap items", "kept for forked children after their mm left" },
	[C_PROFIT]	= { "general_profit" },
	[C_FULL_SCANS]	= { "full_scans" },
	[C_SCANNED]	= { "pages_scanned" },
};

/*
 * The merge scope: merge_scope's selected word ("" when the module has no
 * such knob) and zero_pages_across_domains (-1 when it has not).
 */
struct scope {
	char word[64];
	long long zero_across;
};

static void read_scope(struct scope *sc)
{
	int err = read_file(sysfs_dir, "merge_scope", sc->word, sizeof(sc->word));

	if (err && err != -ENOENT)
		die("cannot read %s/merge_scope: %s", sysfs_dir, strerror(-err));
	if (err)
		sc->word[0] = '\0';
	else
		selected_mode(sc->word);
	err = sysfs_read("zero_pages_across_domains", &sc->zero_across);
	if (err && err != -ENOENT)
		die("cannot read %s/zero_pages_across_domains: %s", sysfs_dir,
		    strerror(-err));
	if (err)
		sc->zero_across = -1;
}

static const char *scope_words(const char *scope)
{
	if (!strcmp(scope, "all"))
		return "every registered page may merge with every other";
	if (!strcmp(scope, "uid"))
		return "merging within each user only";
	if (!strcmp(scope, "memcg"))
		return "merging within each memory cgroup only";
	if (!strcmp(scope, "id"))
		return "merging within each domain id only";
	return "unknown to this xksmctl";
}

static void status_text(const long long *v, const bool *have, long long run,
			const struct scope *sc, const struct scan_rate *r)
{
	char b1[32], b2[32];
	size_t i;

	printf("%-21s loaded, xksmd %s (run=%lld)\n", "xksm:", run_state(run), run);
	if (*sc->word) {
		printf("%-21s %s (%s", "merge scope:", sc->word, scope_words(sc->word));
		if (strcmp(sc->word, "all") && sc->zero_across >= 0)
			printf("; the zero page %s across domains",
			       sc->zero_across ? "shared" : "not shared");
		puts(")");
	}
	printf("%-21s %s (%lld pages sharing x %ld bytes)\n", "memory saved:",
	       human_bytes(v[C_SHARING] * page_size, b1, sizeof(b1)),
	       v[C_SHARING], page_size);
	printf("%-21s %s (%lld bytes: memory saved minus xksm's metadata)\n",
	       "general profit:", human_bytes(v[C_PROFIT], b1, sizeof(b1)),
	       v[C_PROFIT]);
	for (i = 0; i <= C_DEFERRED; i++)
		if (have[i])
			printf("%-20s %-10lld %s\n", status_counters[i].label,
			       v[i], status_counters[i].words);
	printf("%-20s %-10lld since load\n", "full scans", v[C_FULL_SCANS]);

	if (run != 1)
		printf("%-21s 0 pages/s: xksmd is not running\n", "scan rate:");
	else if (!r->pages)
		printf("%-21s 0 pages/s: nothing scanned in %s (no memory registered?)\n",
		       "scan rate:", human_seconds(r->window, b1, sizeof(b1)));
	else
		printf("%-21s %.0f pages/s (%lld pages in %s)\n", "scan rate:",
		       r->rate, r->pages, human_seconds(r->window, b1, sizeof(b1)));

	printf("%-21s ", "time per full scan:");
	if (r->full_scan >= 0) {
		printf("%s (%lld full scans in %s)\n",
		       human_seconds(r->full_scan, b1, sizeof(b1)), r->scans,
		       human_seconds(r->window, b2, sizeof(b2)));
		return;
	}
	printf("more than %s (%s full scan completed in the %s window)",
	       human_seconds(r->at_least, b1, sizeof(b1)),
	       r->scans ? "only one" : "no",
	       human_seconds(r->window, b2, sizeof(b2)));
	if (r->estimate >= 0)
		printf(";\n%-21s about %s if it is still the %lld pages a full scan averaged since load",
		       "", human_seconds(r->estimate, b1, sizeof(b1)), r->avg_pages);
	putchar('\n');
}

static void status_json(const long long *v, const bool *have, long long run,
			const struct scope *sc, double interval,
			const struct scan_rate *r)
{
	struct json j;
	size_t i;

	json_begin(&j);
	json_bool(&j, "loaded", true);
	json_int(&j, "run", run);
	json_str(&j, "state", run_state(run), strlen(run_state(run)));
	json_str(&j, "merge_scope", *sc->word ? sc->word : NULL, strlen(sc->word));
	if (sc->zero_across >= 0)
		json_int(&j, "zero_pages_across_domains", sc->zero_across);
	else
		json_null(&j, "zero_pages_across_domains");
	json_int(&j, "page_size", page_size);
	json_int(&j, "saved_bytes", v[C_SHARING] * page_size);
	for (i = 0; i < NR_STATUS_COUNTERS; i++) {
		if (have[i])
			json_int(&j, status_counters[i].file, v[i]);
		else
			json_null(&j, status_counters[i].file);
	}
	json_real(&j, "interval_seconds", interval);
	json_real(&j, "window_seconds", r->window);
	json_int(&j, "window_pages_scanned", r->pages);
	json_int(&j, "window_full_scans", r->scans);
	json_real(&j, "scan_pages_per_second", r->rate);
	json_real(&j, "full_scan_seconds", r->full_scan);
	json_real(&j, "full_scan_seconds_min", r->at_least);
	json_real(&j, "full_scan_seconds_estimate", r->estimate);
	json_end(&j);
}

static int cmd_status(const struct command *cmd, struct options *o)
{
	long long v[NR_STATUS_COUNTERS], run;
	bool have[NR_STATUS_COUNTERS];
	struct scan_rate r;
	struct scope sc;
	size_t i;

	(void)cmd;
	if (!xksm_loaded()) {
		if (o->json) {
			struct json j;

			json_begin(&j);
			json_bool(&j, "loaded", false);
			json_end(&j);
		} else {
			printf("xksm: not loaded (%s does not exist)\n", sysfs_dir);
		}
		return EXIT_FAILURE;
	}
	catch_interrupts();
	measure_scan(o->interval, &r);

	/* The counters as they are at the end of the window. */
	run = sysfs_counter("run");
	read_scope(&sc);
	for (i = 0; i < NR_STATUS_COUNTERS; i++) {
		int err = sysfs_read(status_counters[i].file, &v[i]);

		/* A module without deferred_rmap_items (say) shows null. */
		if (err && err != -ENOENT)
			die("cannot read %s/%s: %s", sysfs_dir,
			    status_counters[i].file, strerror(-err));
		have[i] = !err;
		if (err)
			v[i] = 0;
	}
	if (o->json)
		status_json(v, have, run, &sc, o->interval, &r);
	else
		status_text(v, have, run, &sc, &r);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * get, set
 * ------------------------------------------------------------------------ */

static int cmd_get(const struct command *cmd, struct options *o)
{
	const struct knob **list;
	char value[128];
	struct json j;
	int i, n = 0;
	bool bad = false;

	(void)cmd;
	list = calloc(o->nargs ? (size_t)o->nargs : NR_KNOBS, sizeof(*list));
	if (!list)
		die("out of memory");
	for (i = 0; i < o->nargs; i++) {
		list[n] = find_knob(o->args[i], strlen(o->args[i]));
		if (!list[n++]) {
			error_msg("%s: no such knob or counter (see 'xksmctl help set')",
				  o->args[i]);
			bad = true;
		}
	}
	if (bad)
		exit(EXIT_USAGE);
	if (!o->nargs)
		for (i = 0; i < (int)NR_KNOBS; i++)
			if (knobs[i].kind != KNOB_COUNTER)
				list[n++] = &knobs[i];
	require_loaded();

	if (o->json)
		json_begin(&j);
	for (i = 0; i < n; i++) {
		int err = read_file(sysfs_dir, list[i]->name, value, sizeof(value));
		long long num;

		/* Every knob: leave out those an older module lacks. */
		if (err == -ENOENT && !o->nargs && xksm_loaded())
			continue;
		if (err)
			die("cannot read %s/%s: %s", sysfs_dir, list[i]->name,
			    strerror(-err));
		if (list[i]->kind == KNOB_WORD)
			selected_mode(value);
		if (!o->json)
			printf("%s=%s\n", list[i]->name, value);
		else if (list[i]->kind == KNOB_WORD || !parse_number(value, &num))
			json_str(&j, list[i]->name, value, strlen(value));
		else
			json_int(&j, list[i]->name, num);
	}
	if (o->json)
		json_end(&j);
	free(list);
	return EXIT_SUCCESS;
}

static int cmd_set(const struct command *cmd, struct options *o)
{
	struct assignment *a;
	bool bad = false;
	int i;

	(void)cmd;
	a = calloc(o->nargs, sizeof(*a));
	if (!a)
		die("out of memory");
	/* Every assignment first: one bad one and nothing is written. */
	for (i = 0; i < o->nargs; i++)
		if (!check_assignment(o->args[i], &a[i]))
			bad = true;
	if (bad) {
		error_msg("nothing written");
		exit(EXIT_USAGE);
	}
	require_loaded();

	for (i = 0; i < o->nargs; i++) {
		int err = write_knob(&a[i]);

		if (err) {
			error_msg("cannot set %s=%s: %s%s%s", a[i].knob->name,
				  a[i].value, strerror(err),
				  refusal_hint(a[i].knob, err),
				  i ? "; the assignments before it were written" : "");
			free(a);
			return EXIT_FAILURE;
		}
	}
	free(a);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * watch
 * ------------------------------------------------------------------------ */

static int cmd_watch(const struct command *cmd, struct options *o)
{
	struct scan_sample prev, s;
	double start;
	long i;

	(void)cmd;
	require_loaded();
	catch_interrupts();
	take_sample(&prev);
	start = prev.t;
	for (i = 1; !o->count || i <= o->count; i++) {
		long long shared, sharing, unshared, volatil;
		char date[48], saved[32];
		double when, rate;

		/* On a fixed schedule: lines do not drift by the time to read. */
		if (!sleep_seconds(start + i * o->interval - now_monotonic()))
			break;
		take_sample(&s);
		shared = sysfs_counter("pages_shared");
		sharing = sysfs_counter("pages_sharing");
		unshared = sysfs_counter("pages_unshared");
		volatil = sysfs_counter("pages_volatile");
		when = wall_clock(date, sizeof(date));
		rate = s.t > prev.t ? (s.scanned - prev.scanned) / (s.t - prev.t) : 0;
		prev = s;

		if (o->json) {
			struct json j;

			json_begin(&j);
			json_real(&j, "time", when);
			json_str(&j, "date", date, strlen(date));
			json_int(&j, "pages_shared", shared);
			json_int(&j, "pages_sharing", sharing);
			json_int(&j, "pages_unshared", unshared);
			json_int(&j, "pages_volatile", volatil);
			json_int(&j, "full_scans", s.full);
			json_int(&j, "pages_scanned", s.scanned);
			json_real(&j, "scan_pages_per_second", rate);
			json_int(&j, "saved_bytes", sharing * page_size);
			json_end(&j);
			continue;
		}
		printf("%s shared %lld sharing %lld unshared %lld volatile %lld full_scans %lld scan %.0f pages/s saved %s\n",
		       date, shared, sharing, unshared, volatil, s.full, rate,
		       human_bytes(sharing * page_size, saved, sizeof(saved)));
		fflush(stdout);
	}
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * top
 * ------------------------------------------------------------------------ */

/* One registered mm, from mm_slots. */
struct proc {
	long pid;		/* -1: no owner (exited) */
	char comm[COMM_MAX];
	size_t comm_len;
	bool exited, merge_any;
	unsigned long long merging, rmap_items, zero;
	unsigned long long registered;	/* bytes in "on" ranges */
	unsigned int ranges;
	long long profit;
	long long domain;	/* -1: mm_slots shows none (an older module) */
};

struct proc_list {
	struct proc *procs;
	size_t nr, cap;
};

static void read_mm_slots(struct proc_list *pl)
{
	FILE *f = open_debugfs("mm_slots");
	struct proc *p = NULL;
	size_t cap = 0;
	char *line = NULL, *w[32];
	const char *dom;
	int n;

	pl->nr = 0;
	while (getline(&line, &cap, f) > 0) {
		n = split_words(line, w, 32);
		if (n >= 2 && !strcmp(w[0], "mm_slot")) {
			if (pl->nr == pl->cap) {
				pl->cap = pl->cap ? pl->cap * 2 : 64;
				pl->procs = realloc(pl->procs, pl->cap * sizeof(*p));
				if (!pl->procs)
					die("out of memory");
			}
			p = &pl->procs[pl->nr++];
			memset(p, 0, sizeof(*p));
			p->pid = word_pid(w, n, 2);
			p->comm_len = unescape_comm(word_value(w, n, 2, "comm"),
						    p->comm, sizeof(p->comm));
			p->exited = word_u64(w, n, 2, "exited");
			p->merge_any = word_u64(w, n, 2, "merge_any");
			p->merging = word_u64(w, n, 2, "merging_pages");
			p->rmap_items = word_u64(w, n, 2, "rmap_items");
			p->zero = word_u64(w, n, 2, "zero_pages");
			p->profit = word_s64(w, n, 2, "profit");
			dom = word_value(w, n, 2, "domain");
			p->domain = dom && isdigit((unsigned char)*dom) ?
				    (long long)strtoull(dom, NULL, 10) : -1;
		} else if (n >= 3 && !strcmp(w[0], "range") && p) {
			char *dash = strchr(w[1], '-');

			p->ranges++;
			if (dash && !strcmp(w[2], "on"))
				p->registered += strtoull(dash + 1, NULL, 16) -
						 strtoull(w[1], NULL, 16);
		}
	}
	free(line);
	if (ferror(f))
		die("cannot read %s/mm_slots: %s", debugfs_dir, strerror(errno));
	fclose(f);
}

static enum sort_field sort_by;

static int cmp_u64_desc(unsigned long long a, unsigned long long b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

static int cmp_procs(const void *pa, const void *pb)
{
	const struct proc *a = pa, *b = pb;
	int c = 0;

	switch (sort_by) {
	case SORT_PID:
		break;
	case SORT_COMM:
		c = strcmp(a->comm, b->comm);
		break;
	case SORT_MERGING:
		c = cmp_u64_desc(a->merging, b->merging);
		break;
	case SORT_ZERO:
		c = cmp_u64_desc(a->zero, b->zero);
		break;
	case SORT_RMAP:
		c = cmp_u64_desc(a->rmap_items, b->rmap_items);
		break;
	case SORT_PROFIT:
		c = a->profit < b->profit ? 1 : a->profit > b->profit ? -1 : 0;
		break;
	case SORT_REGISTERED:
		c = cmp_u64_desc(a->registered, b->registered);
		break;
	case SORT_DOMAIN:
		/* Ascending, none last. */
		if (a->domain != b->domain)
			c = a->domain < 0 ? 1 : b->domain < 0 ? -1 :
			    a->domain < b->domain ? -1 : 1;
		break;
	}
	if (c)
		return c;
	/* Then by pid, ownerless mms last. */
	if (a->pid != b->pid)
		return a->pid < 0 ? 1 : b->pid < 0 ? -1 : a->pid < b->pid ? -1 : 1;
	return 0;
}

static void top_json(const struct proc_list *pl, size_t rows)
{
	char date[48];
	struct json j;
	double when;
	size_t i;

	when = wall_clock(date, sizeof(date));
	json_begin(&j);
	json_real(&j, "time", when);
	json_str(&j, "date", date, strlen(date));
	json_int(&j, "page_size", page_size);
	json_uint(&j, "processes_total", pl->nr);
	json_array(&j, "processes");
	for (i = 0; i < rows; i++) {
		const struct proc *p = &pl->procs[i];

		json_object(&j, NULL);
		if (p->pid >= 0)
			json_int(&j, "pid", p->pid);
		else
			json_null(&j, "pid");
		json_str(&j, "comm", p->comm_len ? p->comm : NULL, p->comm_len);
		json_bool(&j, "exited", p->exited);
		json_bool(&j, "merge_any", p->merge_any);
		json_uint(&j, "merging_pages", p->merging);
		json_uint(&j, "zero_pages", p->zero);
		json_uint(&j, "rmap_items", p->rmap_items);
		json_int(&j, "profit", p->profit);
		json_uint(&j, "registered_bytes", p->registered);
		json_uint(&j, "ranges", p->ranges);
		if (p->domain >= 0)
			json_int(&j, "domain", p->domain);
		else
			json_null(&j, "domain");
		json_close(&j, '}');
	}
	json_close(&j, ']');
	json_end(&j);
}

static void top_text(const struct proc_list *pl, size_t rows)
{
	unsigned long long merging = 0;
	char date[48], b1[32], b2[32];
	long long profit = 0;
	size_t i;

	for (i = 0; i < pl->nr; i++) {
		merging += pl->procs[i].merging;
		profit += pl->procs[i].profit;
	}
	/* One line that fits 80 columns: the time is HH:MM:SS of the date. */
	wall_clock(date, sizeof(date));
	printf("xksmctl top - %.8s - %zu process%s - merging %llu pages - profit %s",
	       date + 11, pl->nr, pl->nr == 1 ? "" : "es", merging,
	       human_bytes(profit, b1, sizeof(b1)));
	putchar('\n');
	/* 80 columns, as long as the numbers fit theirs. */
	printf("%7s %-15s %8s %6s %7s %10s %10s %6s %s\n", "PID", "COMM",
	       "MERGING", "ZERO", "RMAP", "PROFIT", "REGISTERED", "DOMAIN", "ANY");
	for (i = 0; i < rows; i++) {
		const struct proc *p = &pl->procs[i];
		char pid[16], dom[24];

		snprintf(pid, sizeof(pid), p->pid >= 0 ? "%ld" : "-", p->pid);
		snprintf(dom, sizeof(dom), p->domain >= 0 ? "%lld" : "-", p->domain);
		printf("%7s %-15s %8llu %6llu %7llu %10s %10s %6s %s%s\n", pid,
		       printable_comm(p->comm, p->comm_len), p->merging, p->zero,
		       p->rmap_items, human_bytes(p->profit, b1, sizeof(b1)),
		       human_bytes(p->registered, b2, sizeof(b2)), dom,
		       p->merge_any ? "yes" : "no", p->exited ? " (exited)" : "");
	}
	if (rows < pl->nr)
		printf("(%zu more)\n", pl->nr - rows);
}

/* Rows that fit a terminal under the two header lines and the "more" line. */
static size_t terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || ws.ws_row < 5)
		return 0;
	return ws.ws_row - 4;
}

static int cmd_top(const struct command *cmd, struct options *o)
{
	struct proc_list pl = { 0 };
	bool tty = isatty(STDOUT_FILENO);
	double start;
	long i, count = o->once ? 1 : o->count;

	(void)cmd;
	require_loaded();
	catch_interrupts();
	start = now_monotonic();
	for (i = 1; !count || i <= count; i++) {
		size_t rows;

		if (i > 1 && !sleep_seconds(start + (i - 1) * o->interval - now_monotonic()))
			break;
		read_mm_slots(&pl);
		sort_by = o->sort;
		qsort(pl.procs, pl.nr, sizeof(*pl.procs), cmp_procs);

		rows = pl.nr;
		if (o->rows && (size_t)o->rows < rows)
			rows = o->rows;
		if (!o->rows && tty && count != 1 && !o->json) {
			size_t fit = terminal_rows();

			if (fit && fit < rows)
				rows = fit;
		}
		if (o->json) {
			top_json(&pl, rows);
			continue;
		}
		if (tty && count != 1)
			fputs("\033[H\033[2J", stdout);	/* home, clear */
		else if (i > 1)
			putchar('\n');
		top_text(&pl, rows);
		fflush(stdout);
	}
	free(pl.procs);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * proc, merge-any: another process, through /dev/xksm and a pidfd
 * ------------------------------------------------------------------------ */

static pid_t parse_pid(const struct command *cmd, const char *s)
{
	unsigned long long v;

	if (parse_decimal(s, &v) != PARSE_OK || v < 1 || v > INT_MAX)
		usage_error(cmd, "'%s' is not a process id", s);
	return (pid_t)v;
}

/* A pidfd of @pid, or the end: no such process. */
static int open_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		return fd;
	if (errno == ESRCH)
		die("no process %d", (int)pid);
	die("pidfd_open(%d): %s", (int)pid, strerror(errno));
}

static const struct {
	__u64 bit;
	const char *name;
} feature_names[] = {
	{ XKSM_FEATURE_MERGE_ANY, "XKSM_FEATURE_MERGE_ANY" },
	{ XKSM_FEATURE_STATS, "XKSM_FEATURE_STATS" },
	{ XKSM_FEATURE_PIDFD, "XKSM_FEATURE_PIDFD" },
	{ XKSM_FEATURE_DOMAIN, "XKSM_FEATURE_DOMAIN" },
};

/*
 * /dev/xksm after the handshake, or the end when the module lacks one of
 * the features @need (to do @what).
 */
static int open_xksm(__u64 need, const char *what)
{
	struct xksm_api api = { .api = XKSM_API };
	int fd = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC);
	size_t i;

	if (fd < 0) {
		if (errno == ENOENT && !xksm_loaded())
			die("cannot open %s: xksm is not loaded", XKSM_DEVICE);
		die("cannot open %s: %s", XKSM_DEVICE, strerror(errno));
	}
	if (ioctl(fd, XKSM_IOC_API, &api))
		die("%s: XKSM_IOC_API: %s", XKSM_DEVICE, strerror(errno));
	for (i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
		if ((need & feature_names[i].bit) && !(api.features & feature_names[i].bit))
			die("the loaded xksm cannot %s (no %s): a newer module is needed",
			    what, feature_names[i].name);
	return fd;
}

/* An ioctl with XKSM_PIDFD failed: say why, in words, and end. */
static void __attribute__((noreturn))
pidfd_failed(const char *what, pid_t pid, int err, long long domain)
{
	switch (err) {
	case EPERM:
		if (domain > 0)
			die("%s: not permitted: needs CAP_SYS_NICE and ptrace read access to %d, and CAP_SYS_ADMIN for domain %lld",
			    what, (int)pid, domain);
		die("%s: not permitted: needs CAP_SYS_NICE and ptrace read access to %d",
		    what, (int)pid);
	case ESRCH:
		die("%s: process %d has exited (or is a zombie or a kernel thread)",
		    what, (int)pid);
	case EBADF:
		die("%s: xksm refused the pidfd of process %d (EBADF: not an open pidfd)",
		    what, (int)pid);
	case ENOMEM:
		die("%s for process %d: %s (partly done; try again)", what,
		    (int)pid, strerror(err));
	default:
		die("%s for process %d: %s", what, (int)pid, strerror(err));
	}
}

/* The comm of @pid from /proc, or "" (it may have exited meanwhile). */
static size_t proc_comm(pid_t pid, char *buf, size_t size)
{
	char dir[32];

	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	if (read_file(dir, "comm", buf, size))
		buf[0] = '\0';
	return strlen(buf);
}

static int cmd_proc(const struct command *cmd, struct options *o)
{
	pid_t pid = parse_pid(cmd, o->args[0]);
	struct xksm_stats st = { .flags = XKSM_PIDFD };
	char comm[COMM_MAX], b1[32];
	struct scope sc = { "", -1 };
	size_t comm_len;
	int pidfd, dev;

	pidfd = open_pidfd(pid);
	dev = open_xksm(XKSM_FEATURE_STATS | XKSM_FEATURE_PIDFD,
			"report on another process");
	st.pidfd = pidfd;
	if (ioctl(dev, XKSM_IOC_STATS, &st))
		pidfd_failed("statistics", pid, errno, -1);
	close(dev);
	comm_len = proc_comm(pid, comm, sizeof(comm));
	close(pidfd);
	if (xksm_loaded())
		read_scope(&sc);

	if (o->json) {
		struct json j;

		json_begin(&j);
		json_int(&j, "pid", pid);
		json_str(&j, "comm", comm_len ? comm : NULL, comm_len);
		json_bool(&j, "merge_any", st.merge_any);
		json_bool(&j, "mergeable", st.mergeable);
		json_uint(&j, "merging_pages", st.merging_pages);
		json_uint(&j, "zero_pages", st.zero_pages);
		json_uint(&j, "rmap_items", st.rmap_items);
		json_int(&j, "profit", st.profit);
		json_uint(&j, "registered_bytes", st.registered_bytes);
		json_uint(&j, "domain", st.domain);
		json_str(&j, "merge_scope", *sc.word ? sc.word : NULL, strlen(sc.word));
		json_end(&j);
		return EXIT_SUCCESS;
	}
	printf("pid %d (%s)\n", (int)pid, printable_comm(comm, comm_len));
	printf("%-16s %s\n", "merge-any", st.merge_any ? "yes" : "no");
	printf("%-16s %s\n", "mergeable", st.mergeable ? "yes" : "no");
	printf("%-16s %s (%llu bytes)\n", "registered",
	       human_bytes(st.registered_bytes, b1, sizeof(b1)),
	       (unsigned long long)st.registered_bytes);
	printf("%-16s %llu\n", "merging pages", (unsigned long long)st.merging_pages);
	printf("%-16s %llu\n", "zero pages", (unsigned long long)st.zero_pages);
	printf("%-16s %llu\n", "rmap items", (unsigned long long)st.rmap_items);
	printf("%-16s %s (%lld bytes)\n", "profit",
	       human_bytes(st.profit, b1, sizeof(b1)), (long long)st.profit);
	printf("%-16s %llu", "domain", (unsigned long long)st.domain);
	if (*sc.word)
		printf(" (merge scope %s)", sc.word);
	putchar('\n');
	return EXIT_SUCCESS;
}

static int cmd_merge_any(const struct command *cmd, struct options *o)
{
	pid_t pid = parse_pid(cmd, o->args[0]);
	struct xksm_merge_any ma = { .flags = XKSM_PIDFD };
	__u64 need = XKSM_FEATURE_MERGE_ANY | XKSM_FEATURE_PIDFD;
	int pidfd, dev;

	if (!strcmp(o->args[1], "on"))
		ma.enable = 1;
	else if (strcmp(o->args[1], "off"))
		usage_error(cmd, "'%s': expected on or off", o->args[1]);
	if (o->domain >= 0) {
		if (!ma.enable)
			usage_error(cmd, "--domain goes with on, not off");
		ma.flags |= XKSM_SET_DOMAIN;
		ma.domain = o->domain;
		need |= XKSM_FEATURE_DOMAIN;
	}
	pidfd = open_pidfd(pid);
	dev = open_xksm(need, o->domain >= 0 ? "set another process's merge domain" :
			"act on another process");
	ma.pidfd = pidfd;
	if (ioctl(dev, XKSM_IOC_SET_MERGE_ANY, &ma))
		pidfd_failed(ma.enable ? "merge-any on" : "merge-any off", pid,
			     errno, o->domain);
	close(dev);
	close(pidfd);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * chains
 * ------------------------------------------------------------------------ */

/* A set of non-zero 64-bit keys (node pointers, pids): open addressing. */
struct u64_set {
	unsigned long long *keys;
	size_t cap, nr;
};

static size_t set_slot(const struct u64_set *s, unsigned long long key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & (s->cap - 1);

	while (s->keys[i] && s->keys[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Add key; true if it was not there yet. */
static bool set_add(struct u64_set *s, unsigned long long key)
{
	size_t i;

	if (2 * (s->nr + 1) > s->cap) {
		struct u64_set bigger = { .cap = s->cap ? s->cap * 2 : 1024 };

		bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
		if (!bigger.keys)
			die("out of memory");
		for (i = 0; i < s->cap; i++)
			if (s->keys[i])
				bigger.keys[set_slot(&bigger, s->keys[i])] = s->keys[i];
		bigger.nr = s->nr;
		free(s->keys);
		*s = bigger;
	}
	i = set_slot(s, key);
	if (s->keys[i])
		return false;
	s->keys[i] = key;
	s->nr++;
	return true;
}

struct rmap_entry {
	char state[12];		/* live, covered, deferred */
	long pid;		/* -1: none */
	char comm[COMM_MAX];
	size_t comm_len;
	unsigned long long addr;
	char anon_vma[PTR_MAX];	/* "" for "-" */
};

/* A stable node: plain ("node"), a chain's "dup", or "migrating". */
struct snode {
	const char *kind;
	char ptr[PTR_MAX];
	int tree;		/* -1 on the migrate list */
	unsigned long long kpfn;
	int nid;
	long sharing;
	struct rmap_entry *rmaps;
	size_t nr, cap;
};

struct chain {
	char ptr[PTR_MAX];
	int tree, nid;		/* nid -1: the chain line was not seen */
	struct snode *dups;
	size_t nr, cap;
};

struct stable_dump {
	bool keep_nodes;	/* -a: keep plain and migrating nodes too */
	struct chain *chains;
	size_t nr_chains, cap_chains;
	struct snode *nodes;
	size_t nr_nodes, cap_nodes;
	/* The summary, over the whole tree whatever is kept. */
	size_t trees, n_chains, n_dups, n_nodes, n_migrating;
	size_t rmaps, live, covered, deferred;
	struct u64_set seen;	/* entries already read (the file may repeat one) */
	struct u64_set pids;
};

static void *grow(void *array, size_t *cap, size_t nr, size_t size)
{
	if (nr < *cap)
		return array;
	*cap = *cap ? *cap * 2 : 16;
	array = realloc(array, *cap * size);
	if (!array)
		die("out of memory");
	return array;
}

static struct chain *find_chain(struct stable_dump *d, const char *ptr)
{
	size_t i;

	for (i = d->nr_chains; i-- > 0;)
		if (!strcmp(d->chains[i].ptr, ptr))
			return &d->chains[i];
	return NULL;
}

static struct chain *add_chain(struct stable_dump *d, const char *ptr, int tree,
			       int nid)
{
	struct chain *c;

	d->chains = grow(d->chains, &d->cap_chains, d->nr_chains, sizeof(*c));
	c = &d->chains[d->nr_chains++];
	memset(c, 0, sizeof(*c));
	snprintf(c->ptr, sizeof(c->ptr), "%s", ptr);
	c->tree = tree;
	c->nid = nid;
	return c;
}

static void fill_snode(struct snode *s, char **w, int n, int tree)
{
	memset(s, 0, sizeof(*s));
	s->kind = !strcmp(w[0], "dup") ? "dup" :
		  !strcmp(w[0], "node") ? "node" : "migrating";
	snprintf(s->ptr, sizeof(s->ptr), "%s", w[1]);
	s->tree = tree;
	s->kpfn = word_u64(w, n, 2, "kpfn");
	s->nid = (int)strtol(word_value(w, n, 2, "nid") ?: "-1", NULL, 10);
	s->sharing = (long)word_u64(w, n, 2, "sharing");
}

/*
 * One "node", "dup" or "migrating" line.  Returns the node its rmap lines
 * go to, or NULL when they are to be counted only (a plain node without
 * -a).  *skip is set for an entry already read: a listing read in several
 * buffers may repeat one (docs/debugfs.md, Consistency).
 */
static struct snode *add_snode(struct stable_dump *d, const char *kind,
			       char **w, int n, int tree, bool *skip)
{
	struct snode *s;
	struct chain *c;

	*skip = !set_add(&d->seen, strtoull(w[1], NULL, 16));
	if (*skip)
		return NULL;
	if (!strcmp(kind, "dup")) {
		const char *chain = word_value(w, n, 2, "chain");

		d->n_dups++;
		c = find_chain(d, chain ?: "-");
		if (!c)	/* its chain line was in a buffer that missed it */
			c = add_chain(d, chain ?: "-", tree, -1);
		c->dups = grow(c->dups, &c->cap, c->nr, sizeof(*s));
		s = &c->dups[c->nr++];
		fill_snode(s, w, n, tree);
		return s;
	}
	if (!strcmp(kind, "node"))
		d->n_nodes++;
	else
		d->n_migrating++;
	if (!d->keep_nodes)
		return NULL;
	d->nodes = grow(d->nodes, &d->cap_nodes, d->nr_nodes, sizeof(*s));
	s = &d->nodes[d->nr_nodes++];
	fill_snode(s, w, n, tree);
	return s;
}

static void add_rmap(struct stable_dump *d, struct snode *s, char **w, int n)
{
	struct rmap_entry *r;
	const char *anon_vma;
	long pid = word_pid(w, n, 2);

	d->rmaps++;
	if (!strcmp(w[1], "live"))
		d->live++;
	else if (!strcmp(w[1], "covered"))
		d->covered++;
	else if (!strcmp(w[1], "deferred"))
		d->deferred++;
	if (pid > 0)
		set_add(&d->pids, (unsigned long long)pid);
	if (!s)
		return;
	s->rmaps = grow(s->rmaps, &s->cap, s->nr, sizeof(*r));
	r = &s->rmaps[s->nr++];
	memset(r, 0, sizeof(*r));
	snprintf(r->state, sizeof(r->state), "%s", w[1]);
	r->pid = pid;
	r->comm_len = unescape_comm(word_value(w, n, 2, "comm"), r->comm,
				    sizeof(r->comm));
	r->addr = word_u64(w, n, 2, "addr");
	anon_vma = word_value(w, n, 2, "anon_vma");
	if (anon_vma && strcmp(anon_vma, "-"))
		snprintf(r->anon_vma, sizeof(r->anon_vma), "%s", anon_vma);
}

static void read_stable_tree(struct stable_dump *d)
{
	FILE *f = open_debugfs("stable_tree");
	struct snode *cur = NULL;
	bool skip = false;
	char *line = NULL, *w[32];
	size_t cap = 0;
	int n, tree = -1;

	while (getline(&line, &cap, f) > 0) {
		n = split_words(line, w, 32);
		if (!n)
			continue;
		if (!strcmp(w[0], "rmap") && n >= 2) {
			if (!skip)
				add_rmap(d, cur, w, n);
			continue;
		}
		cur = NULL;
		skip = false;
		if (!strcmp(w[0], "tree") && n >= 2) {
			tree = atoi(w[1]);
			d->trees++;
		} else if (!strcmp(w[0], "migrate")) {
			tree = -1;
		} else if (!strcmp(w[0], "chain") && n >= 2) {
			skip = !set_add(&d->seen, strtoull(w[1], NULL, 16));
			if (skip)
				continue;
			d->n_chains++;
			add_chain(d, w[1], tree,
				  (int)strtol(word_value(w, n, 2, "nid") ?: "-1", NULL, 10));
		} else if ((!strcmp(w[0], "node") || !strcmp(w[0], "dup") ||
			    !strcmp(w[0], "migrating")) && n >= 2) {
			cur = add_snode(d, w[0], w, n, tree, &skip);
		}
	}
	free(line);
	if (ferror(f))
		die("cannot read %s/stable_tree: %s", debugfs_dir, strerror(errno));
	fclose(f);
}

static void rmaps_text(const struct snode *s, int indent)
{
	size_t i;

	for (i = 0; i < s->nr; i++) {
		const struct rmap_entry *r = &s->rmaps[i];
		char pid[16];

		snprintf(pid, sizeof(pid), r->pid >= 0 ? "%ld" : "-", r->pid);
		printf("%*spid %-7s comm %-16s addr %#-16llx %s\n", indent, "",
		       pid, printable_comm(r->comm, r->comm_len), r->addr, r->state);
	}
}

static void snode_text(const struct snode *s, int indent)
{
	char tree[24] = "migrate list";

	if (s->tree >= 0)
		snprintf(tree, sizeof(tree), "tree %d", s->tree);
	printf("%*s%s %s  kpfn %llu  nid %d  sharing %ld  (%s)\n", indent, "",
	       s->kind, s->ptr, s->kpfn, s->nid, s->sharing, tree);
	rmaps_text(s, indent + 4);
}

static void chains_text(const struct stable_dump *d, bool all)
{
	size_t i, k, mappings;

	if (!d->nr_chains)
		puts("no stable node chains");
	for (i = 0; i < d->nr_chains; i++) {
		const struct chain *c = &d->chains[i];

		for (k = mappings = 0; k < c->nr; k++)
			mappings += c->dups[k].sharing;
		printf("chain %s  tree %d  %zu dup%s, %zu mappings%s\n", c->ptr,
		       c->tree, c->nr, c->nr == 1 ? "" : "s", mappings,
		       c->nid < 0 ? "  (chain line missed: read while changing)" : "");
		for (k = 0; k < c->nr; k++)
			snode_text(&c->dups[k], 2);
	}
	if (all)
		for (i = 0; i < d->nr_nodes; i++)
			snode_text(&d->nodes[i], 0);
	printf("%zu chain%s with %zu dups; %zu stable node%s not in a chain%s; %zu migrating; %zu rmap_items (%zu live, %zu covered, %zu deferred) of %zu process%s\n",
	       d->n_chains, d->n_chains == 1 ? "" : "s", d->n_dups, d->n_nodes,
	       d->n_nodes == 1 ? "" : "s", all ? "" : " (listed with -a)",
	       d->n_migrating, d->rmaps, d->live, d->covered, d->deferred,
	       d->pids.nr, d->pids.nr == 1 ? "" : "es");
}

static void snode_json(struct json *j, const struct snode *s)
{
	size_t i;

	json_object(j, NULL);
	json_str(j, "node", s->ptr, strlen(s->ptr));
	if (s->tree >= 0)
		json_int(j, "tree", s->tree);
	else
		json_null(j, "tree");
	json_uint(j, "kpfn", s->kpfn);
	json_int(j, "nid", s->nid);
	json_int(j, "sharing", s->sharing);
	json_array(j, "rmap_items");
	for (i = 0; i < s->nr; i++) {
		const struct rmap_entry *r = &s->rmaps[i];

		json_object(j, NULL);
		json_str(j, "state", r->state, strlen(r->state));
		if (r->pid >= 0)
			json_int(j, "pid", r->pid);
		else
			json_null(j, "pid");
		json_str(j, "comm", r->comm_len ? r->comm : NULL, r->comm_len);
		json_uint(j, "addr", r->addr);
		json_str(j, "anon_vma", *r->anon_vma ? r->anon_vma : NULL,
			 strlen(r->anon_vma));
		json_close(j, '}');
	}
	json_close(j, ']');
	json_close(j, '}');
}

/* Plain nodes (migrating false) or migrating ones, kept with -a only. */
static void nodes_json(struct json *j, const struct stable_dump *d, bool all,
		       bool migrating)
{
	const char *key = migrating ? "migrating" : "nodes";
	size_t i;

	if (!all) {
		json_null(j, key);
		return;
	}
	json_array(j, key);
	for (i = 0; i < d->nr_nodes; i++)
		if ((d->nodes[i].tree < 0) == migrating)
			snode_json(j, &d->nodes[i]);
	json_close(j, ']');
}

static void chains_json(const struct stable_dump *d, bool all)
{
	struct json j;
	size_t i, k;

	json_begin(&j);
	json_array(&j, "chains");
	for (i = 0; i < d->nr_chains; i++) {
		const struct chain *c = &d->chains[i];

		json_object(&j, NULL);
		json_str(&j, "chain", c->ptr, strlen(c->ptr));
		json_int(&j, "tree", c->tree);
		json_int(&j, "nid", c->nid);
		json_array(&j, "dups");
		for (k = 0; k < c->nr; k++)
			snode_json(&j, &c->dups[k]);
		json_close(&j, ']');
		json_close(&j, '}');
	}
	json_close(&j, ']');
	nodes_json(&j, d, all, false);
	nodes_json(&j, d, all, true);
	json_object(&j, "summary");
	json_uint(&j, "trees", d->trees);
	json_uint(&j, "chains", d->n_chains);
	json_uint(&j, "dups", d->n_dups);
	json_uint(&j, "nodes", d->n_nodes);
	json_uint(&j, "migrating", d->n_migrating);
	json_uint(&j, "rmap_items", d->rmaps);
	json_uint(&j, "live", d->live);
	json_uint(&j, "covered", d->covered);
	json_uint(&j, "deferred", d->deferred);
	json_uint(&j, "processes", d->pids.nr);
	json_close(&j, '}');
	json_end(&j);
}

static void free_snode(struct snode *s)
{
	free(s->rmaps);
}

static int cmd_chains(const struct command *cmd, struct options *o)
{
	struct stable_dump d = { .keep_nodes = o->all };
	size_t i, k;

	(void)cmd;
	read_stable_tree(&d);
	if (o->json)
		chains_json(&d, o->all);
	else
		chains_text(&d, o->all);

	for (i = 0; i < d.nr_chains; i++) {
		for (k = 0; k < d.chains[i].nr; k++)
			free_snode(&d.chains[i].dups[k]);
		free(d.chains[i].dups);
	}
	for (i = 0; i < d.nr_nodes; i++)
		free_snode(&d.nodes[i]);
	free(d.chains);
	free(d.nodes);
	free(d.seen.keys);
	free(d.pids.keys);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * help, and the table of commands
 * ------------------------------------------------------------------------ */

static const struct command *find_command(const char *name)
{
	const struct command *cmd;

	for (cmd = commands; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

static int cmd_help(const struct command *cmd, struct options *o)
{
	const struct command *which;

	if (!o->nargs) {
		print_help(stdout);
		return EXIT_SUCCESS;
	}
	which = find_command(o->args[0]);
	if (!which)
		usage_error(cmd, "no command '%s'", o->args[0]);
	print_one_help(which);
	return EXIT_SUCCESS;
}

static const struct command commands[] = {
	{
		"status", "[-i SECONDS] [--json]",
		"      Whether xksm is loaded and xksmd runs, the merge scope, the\n"
		"      memory saved, the general profit, the page counters, the scan\n"
		"      rate and the time of one full scan, measured over an interval.\n"
		"      -i SECONDS  measuring interval (default 1, fractions allowed)\n"
		"      --json      print one JSON object\n",
		OPT_INTERVAL | OPT_JSON, 0, 0, cmd_status,
	}, {
		"top", "[-i SECONDS] [-n N] [-s FIELD] [-c COUNT] [--once] [--json]",
		"      The registered processes: pid, comm, merging pages, zero pages,\n"
		"      rmap_items, profit, registered bytes, merge domain and\n"
		"      merge-any, refreshed until interrupted.  Reads debugfs: root\n"
		"      only.\n"
		"      -i SECONDS  refresh interval (default 1, fractions allowed)\n"
		"      -n N        show at most N processes\n"
		"      -s FIELD    sort by pid, comm, merging (default), zero, rmap,\n"
		"                  profit, registered or domain\n"
		"      -c COUNT    stop after COUNT tables\n"
		"      --once      print one table and exit\n"
		"      --json      one JSON object per table, one per line\n",
		OPT_INTERVAL | OPT_ROWS | OPT_SORT | OPT_COUNT | OPT_ONCE | OPT_JSON,
		0, 0, cmd_top,
	}, {
		"proc", "[--json] PID",
		"      What xksm does for the process PID: merge-any, whether it is\n"
		"      mergeable, registered bytes, merging pages, zero pages,\n"
		"      rmap_items, profit and its merge domain.  Asks /dev/xksm with a\n"
		"      pidfd: needs CAP_SYS_NICE and ptrace read access to PID.\n"
		"      --json      print one JSON object\n",
		OPT_JSON, 1, 1, cmd_proc,
	}, {
		"merge-any", "[--domain ID] PID on|off",
		"      Turn merge-any on for the process PID (all of its private\n"
		"      anonymous memory, present and future, may merge), or off\n"
		"      (unmerging what it merged).  Through /dev/xksm with a pidfd:\n"
		"      needs CAP_SYS_NICE and ptrace read access to PID.\n"
		"      --domain ID  with on: also set PID's merge domain id, 0 to\n"
		"                   4294967295 (other than 0 needs CAP_SYS_ADMIN)\n",
		OPT_DOMAIN, 2, 2, cmd_merge_any,
	}, {
		"get", "[--json] [KNOB...]",
		"      Print knobs as KNOB=VALUE: the named ones (counters too), or\n"
		"      every knob.\n"
		"      --json      print one JSON object\n",
		OPT_JSON, 0, -1, cmd_get,
	}, {
		"set", "KNOB=VALUE...",
		"      Check every assignment (the knob exists, the value is a decimal\n"
		"      integer in the range the module accepts, or one of the knob's\n"
		"      words), then write them in order.  If any is invalid, nothing\n"
		"      is written (exit status 2); a write the kernel refuses stops\n"
		"      there (exit status 1).\n",
		0, 1, -1, cmd_set,
	}, {
		"chains", "[-a] [--json]",
		"      The stable tree's chains, their dups and the rmap_items of each\n"
		"      (pid, comm, address, state), then a summary.  Reads debugfs:\n"
		"      root only.\n"
		"      -a          also the stable nodes that are not in a chain\n"
		"      --json      print one JSON object\n",
		OPT_ALL | OPT_JSON, 0, 0, cmd_chains,
	}, {
		"watch", "[-i SECONDS] [-c COUNT] [--json]",
		"      One line per interval: time, pages shared, sharing, unshared and\n"
		"      volatile, full scans, scan rate and memory saved, until\n"
		"      interrupted.\n"
		"      -i SECONDS  interval (default 1, fractions allowed)\n"
		"      -c COUNT    stop after COUNT lines\n"
		"      --json      one JSON object per line\n",
		OPT_INTERVAL | OPT_COUNT | OPT_JSON, 0, 0, cmd_watch,
	}, {
		"help", "[COMMAND]",
		"      This text, or that of one command.\n",
		0, 0, 1, cmd_help,
	},
	{ NULL, NULL, NULL, 0, 0, 0, NULL },
};

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct options o;
	int ret;

	sysfs_dir = getenv("XKSM_SYSFS") ?: DEFAULT_SYSFS;
	debugfs_dir = getenv("XKSM_DEBUGFS") ?: DEFAULT_DEBUGFS;
	page_size = sysconf(_SC_PAGESIZE);

	if (argc < 2)
		usage_error(NULL, "no command");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		print_help(stdout);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("xksmctl %s\n", XKSM_VERSION);
		return EXIT_SUCCESS;
	}
	if (argv[1][0] == '-')
		usage_error(NULL, "unknown option '%s'", argv[1]);
	cmd = find_command(argv[1]);
	if (!cmd)
		usage_error(NULL, "unknown command '%s'", argv[1]);

	parse_options(cmd, argc - 1, argv + 1, &o);
	ret = cmd->run(cmd, &o);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "xksmctl: write error: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	return ret;
}
