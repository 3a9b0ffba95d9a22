// SPDX-License-Identifier: GPL-2.0
/*
 * xksm-run - run an unmodified program on xksm, or turn merge-any on or off
 * for a running process.
 *
 *   xksm-run [-m] [-s] [-l LIB] [-d ID] [--] COMMAND [ARG...]
 *   xksm-run -p PID [-u | -d ID]
 *
 * The first form runs COMMAND with libxksm-preload.so preloaded, so that
 * its madvise(MADV_MERGEABLE), prctl(PR_SET_MEMORY_MERGE) and reads of
 * /proc/self/ksm_stat go to xksm instead of the kernel's KSM (see
 * tools/preload/xksm-preload.c).  It applies to COMMAND and to everything
 * COMMAND runs, as long as the environment is passed on.
 *
 *   -m, --merge-any	merge all of COMMAND's private anonymous memory from
 *			the start, as if it had called prctl(PR_SET_MEMORY_MERGE)
 *   -s, --ksm-sysfs	in a private mount namespace, bind-mount
 *			/sys/kernel/mm/xksm over /sys/kernel/mm/ksm, so that
 *			COMMAND's reads and writes of KSM's knobs and counters
 *			reach xksm (needs CAP_SYS_ADMIN)
 *   -l, --lib LIB	the library to preload (default: $XKSM_PRELOAD_LIB,
 *			else ../lib/xksm/libxksm-preload.so next to this
 *			program, else /usr/lib/xksm/libxksm-preload.so)
 *   -d, --domain ID	register COMMAND's memory in merge domain ID (0 to
 *			4294967295; other than 0 needs CAP_SYS_ADMIN), which
 *			confines its merging when merge_scope is "id": the
 *			library passes XKSM_DOMAIN=ID from the environment
 *			with every registration
 *
 * The second form acts on the process PID that runs already, through
 * pidfd_open(2) and XKSM_IOC_SET_MERGE_ANY with XKSM_PIDFD: merge-any on
 * (all of its private anonymous memory, present and future), or off.  It
 * is allowed when process_madvise(2) would be: CAP_SYS_NICE and ptrace
 * read access to PID.
 *
 *   -p, --pid PID	the process
 *   -u, --off		turn merge-any off instead, unmerging what it merged
 *   -d, --domain ID	also set the process's merge domain id (0 to
 *			4294967295; other than 0 needs CAP_SYS_ADMIN), which
 *			confines its merging when merge_scope is "id"
 *
 * Exit status: COMMAND's; 125 when xksm-run itself fails (xksm not loaded,
 * no library, bad usage; with --pid, any failure: no such process, not
 * permitted, a module without XKSM_FEATURE_PIDFD), 126 when COMMAND cannot
 * run, 127 when it is not found - as env(1) and nice(1).  With --pid, 0 on
 * success.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/xksm.h>

#define LIB_NAME	"libxksm-preload.so"
#define KSM_SYSFS	"/sys/kernel/mm/ksm"
#define XKSM_SYSFS	"/sys/kernel/mm/xksm"

#define EXIT_FAILED	125
#define EXIT_CANNOT_RUN	126
#define EXIT_NOT_FOUND	127

static const char usage_text[] =
	"usage: xksm-run [-m] [-s] [-l LIB] [-d ID] [--] COMMAND [ARG...]\n"
	"       xksm-run -p PID [-u | -d ID]\n"
	"Run COMMAND with its KSM requests (madvise MADV_MERGEABLE, prctl\n"
	"PR_SET_MEMORY_MERGE, /proc/self/ksm_stat) answered by xksm; or turn\n"
	"merge-any on (or off) for the running process PID.\n"
	"\n"
	"  -m, --merge-any   merge all of COMMAND's anonymous memory from the start\n"
	"  -s, --ksm-sysfs   show COMMAND /sys/kernel/mm/xksm as /sys/kernel/mm/ksm\n"
	"                    (private mount namespace; needs CAP_SYS_ADMIN)\n"
	"  -l, --lib LIB     the preload library to use\n"
	"  -p, --pid PID     merge all anonymous memory of the running process PID\n"
	"                    (needs CAP_SYS_NICE and ptrace read access to PID)\n"
	"  -u, --off         with --pid: stop that, unmerging what merge-any merged\n"
	"  -d, --domain ID   COMMAND's (or with --pid, PID's) merge domain id (0 to\n"
	"                    4294967295; other than 0 needs CAP_SYS_ADMIN)\n"
	"  -h, --help        this text\n"
	"\n"
	"Exit status: COMMAND's; 125 when xksm-run fails (with --pid: any failure),\n"
	"126 when COMMAND cannot run, 127 when it is not found; 0 for --pid done.\n";

static void __attribute__((noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	fputs("xksm-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILED);
}

/* The library: --lib, $XKSM_PRELOAD_LIB, next to us, or installed. */
static const char *find_lib(const char *given)
{
	static char path[PATH_MAX + sizeof("/../lib/xksm/" LIB_NAME)];
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (given)
		return given;
	given = getenv("XKSM_PRELOAD_LIB");
	if (given && *given)
		return given;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(path, sizeof(path), "%s/../lib/xksm/" LIB_NAME, exe);
			if (!access(path, R_OK))
				return path;
			snprintf(path, sizeof(path), "%s/" LIB_NAME, exe);
			if (!access(path, R_OK))
				return path;
		}
	}
	return "/usr/lib/xksm/" LIB_NAME;
}

/* LD_PRELOAD with @lib first, keeping what was there. */
static void preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *val;

	if (access(lib, R_OK))
		fail("cannot read %s: %s", lib, strerror(errno));
	if (old && *old) {
		if (asprintf(&val, "%s:%s", lib, old) < 0)
			fail("out of memory");
	} else {
		val = strdup(lib);
		if (!val)
			fail("out of memory");
	}
	if (setenv("LD_PRELOAD", val, 1))
		fail("setenv: %s", strerror(errno));
	free(val);
}

/* /sys/kernel/mm/xksm over /sys/kernel/mm/ksm, for us and our children. */
static void bind_sysfs(void)
{
	if (unshare(CLONE_NEWNS))
		fail("unshare(CLONE_NEWNS): %s", strerror(errno));
	/* Nothing mounted here may leak back to the parent namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fail("making / private: %s", strerror(errno));
	if (mount(XKSM_SYSFS, KSM_SYSFS, NULL, MS_BIND, NULL))
		fail("bind-mounting %s over %s: %s", XKSM_SYSFS, KSM_SYSFS,
		     strerror(errno));
}

/* Bad usage: the message and where to read more, exit status 125. */
static void __attribute__((noreturn)) usage_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("xksm-run: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xksm-run --help'.\n", stderr);
	exit(EXIT_FAILED);
}

/* A whole decimal number in [min, max], or a usage error naming @opt. */
static unsigned long long parse_number(const char *opt, const char *s,
				       unsigned long long min,
				       unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *s == '+' || v < min || v > max)
		usage_fail("%s: '%s' is not a number from %llu to %llu", opt, s,
			   min, max);
	return v;
}

/*
 * Merge-any on (with the domain id @domain unless it is -1) or off for the
 * running process @pid: pidfd_open(2), then XKSM_IOC_SET_MERGE_ANY with
 * XKSM_PIDFD.  Returns 0; fails with exit status 125.
 */
static int merge_any_pid(pid_t pid, int enable, long long domain)
{
	struct xksm_api api = { .api = XKSM_API };
	struct xksm_merge_any ma = { .enable = enable };
	int dev, pidfd, err;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH)
			fail("no process %d", (int)pid);
		fail("pidfd_open(%d): %s", (int)pid, strerror(errno));
	}
	dev = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		fail("cannot open " XKSM_DEVICE " (%s): is xksm loaded?",
		     strerror(errno));
	if (ioctl(dev, XKSM_IOC_API, &api))
		fail("XKSM_IOC_API: %s", strerror(errno));
	if (!(api.features & XKSM_FEATURE_MERGE_ANY) ||
	    !(api.features & XKSM_FEATURE_PIDFD))
		fail("the loaded xksm cannot act on another process (no XKSM_FEATURE_PIDFD): a newer module is needed");
	if (domain >= 0 && !(api.features & XKSM_FEATURE_DOMAIN))
		fail("the loaded xksm has no merge domains (no XKSM_FEATURE_DOMAIN): a newer module is needed");

	ma.flags = XKSM_PIDFD;
	ma.pidfd = pidfd;
	if (domain >= 0) {
		ma.flags |= XKSM_SET_DOMAIN;
		ma.domain = domain;
	}
	if (!ioctl(dev, XKSM_IOC_SET_MERGE_ANY, &ma)) {
		close(pidfd);
		close(dev);
		return 0;
	}
	err = errno;
	switch (err) {
	case EPERM:
		if (domain > 0)
			fail("not permitted: needs CAP_SYS_NICE and ptrace read access to %d, and CAP_SYS_ADMIN for domain %lld",
			     (int)pid, domain);
		fail("not permitted: needs CAP_SYS_NICE and ptrace read access to %d",
		     (int)pid);
	case ESRCH:
		fail("process %d has exited (or is a zombie or a kernel thread)",
		     (int)pid);
	case EBADF:
		fail("xksm refused the pidfd of process %d (EBADF: not an open pidfd)",
		     (int)pid);
	case ENOMEM:
		fail("merge-any %s for process %d: %s (partly done; try again)",
		     enable ? "on" : "off", (int)pid, strerror(err));
	default:
		fail("merge-any %s for process %d: %s", enable ? "on" : "off",
		     (int)pid, strerror(err));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "merge-any", no_argument, NULL, 'm' },
		{ "ksm-sysfs", no_argument, NULL, 's' },
		{ "lib", required_argument, NULL, 'l' },
		{ "pid", required_argument, NULL, 'p' },
		{ "off", no_argument, NULL, 'u' },
		{ "domain", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *lib = NULL;
	int merge_any = 0, sysfs = 0, off = 0, c;
	long long domain = -1;
	pid_t pid = 0;

	/* "+": options end at COMMAND, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+msl:p:ud:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			merge_any = 1;
			break;
		case 's':
			sysfs = 1;
			break;
		case 'l':
			lib = optarg;
			break;
		case 'p':
			pid = (pid_t)parse_number("--pid", optarg, 1, INT_MAX);
			break;
		case 'u':
			off = 1;
			break;
		case 'd':
			domain = (long long)parse_number("--domain", optarg, 0, UINT_MAX);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_FAILED;
		}
	}
	if (pid) {
		if (optind < argc)
			usage_fail("--pid acts on a running process: no COMMAND ('%s')",
				   argv[optind]);
		if (sysfs || lib)
			usage_fail("--ksm-sysfs and --lib are for COMMAND, not --pid");
		if (off && domain >= 0)
			usage_fail("--domain sets a domain with merge-any on: not with --off");
		return merge_any_pid(pid, !off, domain);
	}
	if (off)
		usage_fail("--off goes with --pid only");
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_FAILED;
	}
	if (access(XKSM_DEVICE, R_OK | W_OK))
		fail("cannot use " XKSM_DEVICE " (%s): is xksm loaded?", strerror(errno));

	preload(find_lib(lib));
	if (merge_any && setenv("XKSM_MERGE_ANY", "1", 1))
		fail("setenv: %s", strerror(errno));
	if (domain >= 0) {
		char id[24];

		snprintf(id, sizeof(id), "%lld", domain);
		if (setenv("XKSM_DOMAIN", id, 1))
			fail("setenv: %s", strerror(errno));
	}
	if (sysfs)
		bind_sysfs();

	execvp(argv[optind], argv + optind);
	c = errno;
	fprintf(stderr, "xksm-run: %s: %s\n", argv[optind], strerror(c));
	return c == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
