// SPDX-License-Identifier: GPL-2.0
/*
 * xksm-run - run an unmodified program on xksm.
 *
 *   xksm-run [-m] [-s] [-l LIB] [--] COMMAND [ARG...]
 *
 * Runs COMMAND with libxksm-preload.so preloaded, so that its
 * madvise(MADV_MERGEABLE), prctl(PR_SET_MEMORY_MERGE) and reads of
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
 *
 * Exit status: COMMAND's; 125 when xksm-run itself fails (xksm not loaded,
 * no library, bad usage), 126 when COMMAND cannot run, 127 when it is not
 * found - as env(1) and nice(1).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <linux/xksm.h>

#define LIB_NAME	"libxksm-preload.so"
#define KSM_SYSFS	"/sys/kernel/mm/ksm"
#define XKSM_SYSFS	"/sys/kernel/mm/xksm"

#define EXIT_FAILED	125
#define EXIT_CANNOT_RUN	126
#define EXIT_NOT_FOUND	127

static const char usage_text[] =
	"usage: xksm-run [-m] [-s] [-l LIB] [--] COMMAND [ARG...]\n"
	"Run COMMAND with its KSM requests (madvise MADV_MERGEABLE, prctl\n"
	"PR_SET_MEMORY_MERGE, /proc/self/ksm_stat) answered by xksm.\n"
	"\n"
	"  -m, --merge-any   merge all of COMMAND's anonymous memory from the start\n"
	"  -s, --ksm-sysfs   show COMMAND /sys/kernel/mm/xksm as /sys/kernel/mm/ksm\n"
	"                    (private mount namespace; needs CAP_SYS_ADMIN)\n"
	"  -l, --lib LIB     the preload library to use\n"
	"  -h, --help        this text\n";

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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "merge-any", no_argument, NULL, 'm' },
		{ "ksm-sysfs", no_argument, NULL, 's' },
		{ "lib", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *lib = NULL;
	int merge_any = 0, sysfs = 0, c;

	/* "+": options end at COMMAND, whose own options are its own. */
	while ((c = getopt_long(argc, argv, "+msl:h", opts, NULL)) != -1) {
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
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return EXIT_FAILED;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_FAILED;
	}
	if (access(XKSM_DEVICE, R_OK | W_OK))
		fail("cannot use " XKSM_DEVICE " (%s): is xksm loaded?", strerror(errno));

	preload(find_lib(lib));
	if (merge_any && setenv("XKSM_MERGE_ANY", "1", 1))
		fail("setenv: %s", strerror(errno));
	if (sysfs)
		bind_sysfs();

	execvp(argv[optind], argv + optind);
	c = errno;
	fprintf(stderr, "xksm-run: %s: %s\n", argv[optind], strerror(c));
	return c == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
