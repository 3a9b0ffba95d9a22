// SPDX-License-Identifier: GPL-2.0
/*
 * libxksm-preload.so - run unmodified programs on xksm.
 *
 *   LD_PRELOAD=/usr/lib/xksm/libxksm-preload.so program ...   (or xksm-run)
 *
 * Programs ask the kernel's KSM for merging with madvise(MADV_MERGEABLE) or
 * prctl(PR_SET_MEMORY_MERGE), and read their figures from
 * /proc/self/ksm_stat.  Preloaded, this library answers those calls with
 * xksm's ioctls on /dev/xksm and passes every other call through
 * unchanged:
 *
 *   madvise(MADV_MERGEABLE)	 XKSM_IOC_MERGEABLE
 *   madvise(MADV_UNMERGEABLE)	 XKSM_IOC_UNMERGEABLE
 *   prctl(PR_SET_MEMORY_MERGE)	 XKSM_IOC_SET_MERGE_ANY
 *   prctl(PR_GET_MEMORY_MERGE)	 XKSM_IOC_GET_MERGE_ANY
 *   syscall(SYS_madvise / SYS_prctl, ...) as above
 *   open("/proc/self/ksm_stat") and ".../ksm_merging_pages" (also through
 *   /proc/<own pid>/, openat() with an absolute path, and fopen())
 *				 a file from XKSM_IOC_STAT_FD, which reads
 *				 like the /proc file
 *
 * xksm's errors reach the program as madvise's and prctl's would: the same
 * errno values mean the same things (include/uapi/linux/xksm.h).
 *
 * Registration belongs to the mm, so it survives fork as it does for the
 * kernel's KSM (xksm copies it to the child).  Merge-any also survives exec,
 * as in Linux 6.7 and later: the library keeps XKSM_MERGE_ANY=1 in the
 * environment while it is on, and enables it again in the new program.  A
 * program that execs with an environment of its own making, without
 * LD_PRELOAD or that variable, leaves xksm behind, as it leaves the library.
 *
 * XKSM_DOMAIN=ID in the environment (xksm-run --domain) puts the program's
 * memory in merge domain ID: every registration carries it
 * (XKSM_SET_DOMAIN), and, as the variable stays in the environment, so do
 * those of the programs it runs.  An ID other than 0 needs CAP_SYS_ADMIN;
 * without it registrations fail with EPERM, as madvise's would.  A value
 * that is not a number from 0 to 4294967295 is ignored.
 *
 * When /dev/xksm cannot be opened (xksm not loaded, no permission), or the
 * module does not know a request, the call goes to the kernel unchanged.
 * The device is opened for each request and closed again, so a preloaded
 * process never keeps xksm from being unloaded, and no file descriptor of
 * the program's is ever taken for ours (daemons close all of them).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/xksm.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#define PR_GET_MEMORY_MERGE	68
#endif

#define EXPORT	__attribute__((visibility("default")))
#define ENV_MERGE_ANY	"XKSM_MERGE_ANY"
#define ENV_DOMAIN	"XKSM_DOMAIN"

/* The merge domain from ENV_DOMAIN, or -1 for none (see the top). */
static long long domain = -1;

static void read_domain(void)
{
	const char *v = getenv(ENV_DOMAIN);
	unsigned long long d;
	char *end;

	if (!v || !*v)
		return;
	errno = 0;
	d = strtoull(v, &end, 10);
	if (!errno && !*end && *v != '-' && d <= 0xffffffffULL)
		domain = (long long)d;
}

/* XKSM_SET_DOMAIN for a registration, if a domain was given. */
static void with_domain(__u64 *flags, __u64 *field)
{
	if (domain >= 0) {
		*flags |= XKSM_SET_DOMAIN;
		*field = (__u64)domain;
	}
}

/* --- the real functions -------------------------------------------------- */

/*
 * The next definition of @name (libc's), looked up on first use: another
 * library's constructor may call us before ours runs.  Racing lookups find
 * the same address, so a plain store is enough.
 */
#define REAL(name)							\
	({								\
		static __typeof__(name) *real_##name;			\
		if (!real_##name)					\
			real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name); \
		real_##name;						\
	})

static int real_open_flags(const char *path, int flags, mode_t mode)
{
	return REAL(open)(path, flags, mode);
}

/* --- /dev/xksm ----------------------------------------------------------- */

/* XKSM_FEATURE_* of the module, once asked; -1 when there is no xksm. */
static long long features = -2;

/*
 * A fresh descriptor of /dev/xksm, or -1 when xksm cannot serve @need (a
 * feature bit): the caller then passes the request to the kernel.  errno
 * is left as it was.
 */
static int xksm_open(__u64 need)
{
	struct xksm_api api = { .api = XKSM_API };
	int saved = errno, fd;

	fd = real_open_flags(XKSM_DEVICE, O_RDWR | O_CLOEXEC, 0);
	if (fd >= 0 && features == -2)
		features = ioctl(fd, XKSM_IOC_API, &api) ? -1 : (long long)api.features;
	if (fd >= 0 && (features < 0 || !(features & need))) {
		close(fd);
		fd = -1;
	}
	errno = saved;
	return fd;
}

/*
 * Whether xksm has @need; asks the module only until it has answered once
 * (xksm_open() keeps the answer).
 */
static int xksm_has(__u64 need)
{
	if (features == -2) {
		int fd = xksm_open(need);

		if (fd >= 0)
			close(fd);
	}
	return features >= 0 && (features & need);
}

/*
 * One ioctl on a fresh descriptor.  Returns its result (errno set on -1);
 * *@done is false when xksm was not there to take it.
 */
static int xksm_call(__u64 need, unsigned long cmd, void *arg, int *done)
{
	int fd = xksm_open(need), ret, err;

	*done = fd >= 0;
	if (fd < 0)
		return -1;
	ret = ioctl(fd, cmd, arg);
	err = errno;
	close(fd);
	if (ret < 0 && err == ENOTTY) {
		*done = 0;	/* a module without this command */
		return -1;
	}
	errno = err;
	return ret;
}

/* --- madvise -------------------------------------------------------------- */

/* MADV_(UN)MERGEABLE through xksm; *@done false when it is not there. */
static int xksm_madvise(void *addr, size_t len, int advice, int *done)
{
	struct xksm_range range = {
		.start = (unsigned long)addr,
		.len = len,
	};

	*done = 0;
	if (advice == MADV_MERGEABLE) {
		with_domain(&range.flags, &range.domain);
		return xksm_call(XKSM_FEATURE_MERGE, XKSM_IOC_MERGEABLE, &range, done);
	}
	if (advice == MADV_UNMERGEABLE)
		return xksm_call(XKSM_FEATURE_MERGE, XKSM_IOC_UNMERGEABLE, &range, done);
	return -1;
}

EXPORT int madvise(void *addr, size_t len, int advice)
{
	int done, ret = xksm_madvise(addr, len, advice, &done);

	return done ? ret : REAL(madvise)(addr, len, advice);
}

/* --- prctl ---------------------------------------------------------------- */

/*
 * PR_SET/GET_MEMORY_MERGE through xksm, with the kernel's argument checks
 * (kernel/sys.c); *@done false when it is not one of those or xksm is not
 * there.
 */
static int xksm_prctl(int option, unsigned long arg2, unsigned long arg3,
		      unsigned long arg4, unsigned long arg5, int *done)
{
	struct xksm_merge_any ma = { 0 };
	int ret;

	*done = 0;
	if (option != PR_SET_MEMORY_MERGE && option != PR_GET_MEMORY_MERGE)
		return -1;
	if (!xksm_has(XKSM_FEATURE_MERGE_ANY))
		return -1;	/* no xksm: the kernel checks and answers */
	if (arg3 || arg4 || arg5 || (option == PR_GET_MEMORY_MERGE && arg2)) {
		*done = 1;
		errno = EINVAL;
		return -1;
	}
	if (option == PR_GET_MEMORY_MERGE) {
		ret = xksm_call(XKSM_FEATURE_MERGE_ANY, XKSM_IOC_GET_MERGE_ANY, &ma, done);
		return ret ? ret : (int)ma.enable;
	}
	ma.enable = !!arg2;
	if (ma.enable)
		with_domain(&ma.flags, &ma.domain);
	ret = xksm_call(XKSM_FEATURE_MERGE_ANY, XKSM_IOC_SET_MERGE_ANY, &ma, done);
	/* What carries merge-any across exec (see the top of this file). */
	if (*done && !ret) {
		if (ma.enable)
			setenv(ENV_MERGE_ANY, "1", 1);
		else
			unsetenv(ENV_MERGE_ANY);
	}
	return ret;
}

/*
 * glibc declares prctl() variadic; the kernel always takes five arguments,
 * and glibc itself passes on whatever is in the registers.
 */
EXPORT int prctl(int option, ...)
{
	unsigned long a2, a3, a4, a5;
	va_list ap;
	int done, ret;

	va_start(ap, option);
	a2 = va_arg(ap, unsigned long);
	a3 = va_arg(ap, unsigned long);
	a4 = va_arg(ap, unsigned long);
	a5 = va_arg(ap, unsigned long);
	va_end(ap);

	ret = xksm_prctl(option, a2, a3, a4, a5, &done);
	return done ? ret : REAL(prctl)(option, a2, a3, a4, a5);
}

/* --- syscall(2) ------------------------------------------------------------- */

EXPORT long syscall(long number, ...)
{
	unsigned long a[6];
	va_list ap;
	int i, done = 0;
	long ret = -1;

	va_start(ap, number);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, unsigned long);
	va_end(ap);

	if (number == SYS_madvise)
		ret = xksm_madvise((void *)a[0], a[1], (int)a[2], &done);
	else if (number == SYS_prctl)
		ret = xksm_prctl((int)a[0], a[1], a[2], a[3], a[4], &done);
	if (done)
		return ret;
	return REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* --- /proc/self/ksm_stat ---------------------------------------------------- */

/*
 * Which XKSM_STAT_* file @path names, if it is one of this process's KSM
 * files in /proc; -1 if not.
 */
static int stat_format(const char *path)
{
	char own[32];
	const char *rest;

	if (!path || strncmp(path, "/proc/", 6))
		return -1;
	rest = path + 6;
	snprintf(own, sizeof(own), "%d/", (int)getpid());
	if (!strncmp(rest, "self/", 5))
		rest += 5;
	else if (!strncmp(rest, own, strlen(own)))
		rest += strlen(own);
	else
		return -1;
	if (!strcmp(rest, "ksm_stat"))
		return XKSM_STAT_KSM_STAT;
	if (!strcmp(rest, "ksm_merging_pages"))
		return XKSM_STAT_MERGING_PAGES;
	return -1;
}

/*
 * The descriptor an open of @path for @flags gets from xksm, or -1 with
 * *@done false when the kernel should open it.  Only a plain read-only
 * open is answered: anything else is refused by /proc as it would be.
 */
static int xksm_open_stat(const char *path, int flags, int *done)
{
	struct xksm_stat_fd arg = { 0 };
	int format = stat_format(path);

	*done = 0;
	if (format < 0 || (flags & O_ACCMODE) != O_RDONLY ||
	    flags & (O_CREAT | O_DIRECTORY | O_PATH | O_TRUNC))
		return -1;
	arg.format = format;
	arg.flags = flags & O_CLOEXEC ? XKSM_STAT_CLOEXEC : 0;
	return xksm_call(XKSM_FEATURE_STAT_FD, XKSM_IOC_STAT_FD, &arg, done);
}

/*
 * The mode argument of open(), present only with O_CREAT or O_TMPFILE (as
 * glibc's __OPEN_NEEDS_MODE).
 */
#define OPEN_MODE(flags, last)						\
	({								\
		mode_t mode = 0;					\
		if ((flags) & O_CREAT ||				\
		    ((flags) & O_TMPFILE) == O_TMPFILE) {		\
			va_list ap;					\
			va_start(ap, last);				\
			mode = va_arg(ap, mode_t);			\
			va_end(ap);					\
		}							\
		mode;							\
	})

#define OPEN_WRAPPER(name)						\
EXPORT int name(const char *path, int flags, ...)			\
{									\
	mode_t mode = OPEN_MODE(flags, flags);				\
	int done, fd = xksm_open_stat(path, flags, &done);		\
									\
	return done ? fd : REAL(name)(path, flags, mode);		\
}

#define OPENAT_WRAPPER(name)						\
EXPORT int name(int dirfd, const char *path, int flags, ...)		\
{									\
	mode_t mode = OPEN_MODE(flags, flags);				\
	int done, fd = xksm_open_stat(path, flags, &done);		\
									\
	return done ? fd : REAL(name)(dirfd, path, flags, mode);	\
}

/* What _FORTIFY_SOURCE builds call instead of open(). */
#define OPEN2_WRAPPER(name)						\
EXPORT int name(const char *path, int flags)				\
{									\
	int done, fd = xksm_open_stat(path, flags, &done);		\
									\
	return done ? fd : REAL(name)(path, flags);			\
}

#define OPENAT2_WRAPPER(name)						\
EXPORT int name(int dirfd, const char *path, int flags)		\
{									\
	int done, fd = xksm_open_stat(path, flags, &done);		\
									\
	return done ? fd : REAL(name)(dirfd, path, flags);		\
}

/* glibc's own prototypes of these, to be redefined here. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)
OPEN2_WRAPPER(__open_2)
OPEN2_WRAPPER(__open64_2)
OPENAT2_WRAPPER(__openat_2)
OPENAT2_WRAPPER(__openat64_2)

/* fopen(): a read-only stream on xksm's file ("r", "re", "rb", ...). */
static FILE *xksm_fopen_stat(const char *path, const char *mode, int *done)
{
	int fd;
	FILE *f;

	*done = 0;
	if (!mode || mode[0] != 'r' || strchr(mode, '+'))
		return NULL;
	fd = xksm_open_stat(path, O_RDONLY | (strchr(mode, 'e') ? O_CLOEXEC : 0), done);
	if (!*done || fd < 0)
		return NULL;
	f = fdopen(fd, "r");
	if (!f) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return f;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	int done;
	FILE *f = xksm_fopen_stat(path, mode, &done);

	return done ? f : REAL(fopen)(path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	int done;
	FILE *f = xksm_fopen_stat(path, mode, &done);

	return done ? f : REAL(fopen64)(path, mode);
}

/* --- exec ------------------------------------------------------------------ */

/*
 * The domain to register in, if any; and merge-any was on before exec: on
 * again for the new program.
 */
__attribute__((constructor))
static void xksm_preload_init(void)
{
	const char *v = getenv(ENV_MERGE_ANY);
	struct xksm_merge_any ma = { .enable = 1 };
	int done;

	read_domain();
	with_domain(&ma.flags, &ma.domain);
	if (v && !strcmp(v, "1"))
		xksm_call(XKSM_FEATURE_MERGE_ANY, XKSM_IOC_SET_MERGE_ANY, &ma, &done);
}
