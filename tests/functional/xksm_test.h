/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xksm_test.h - the little each guest test program shares.
 *
 * A test prints what it checks, one line per check ("ok - ..." or
 * "not ok - ..."), and exits 0 when every check passed, 1 when one failed,
 * and 4 (kselftest's KSFT_SKIP) with a reason when it cannot run here.
 */
#ifndef XKSM_TEST_H
#define XKSM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/xksm.h>

#define XKSM_EXIT_PASS	0
#define XKSM_EXIT_FAIL	1
#define XKSM_EXIT_SKIP	4

static int xt_failures;
static int xt_checks;

static inline void xt_report(int ok, const char *fmt, va_list ap)
{
	xt_checks++;
	if (!ok)
		xt_failures++;
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
}

/* check(cond, "what was checked", ...): one verdict line; returns cond. */
static inline int __attribute__((format(printf, 2, 3)))
check(int cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xt_report(!!cond, fmt, ap);
	va_end(ap);
	return cond;
}

/* A check that an ioctl failed with exactly the expected errno. */
#define check_errno(ret, want, what)					\
	check((ret) == -1 && errno == (want),				\
	      "%s fails with %s (got ret %d, %s)", (what), #want, (ret), \
	      (ret) == -1 ? strerror(errno) : "no error")

static inline void __attribute__((noreturn, format(printf, 1, 2)))
skip(const char *fmt, ...)
{
	va_list ap;

	printf("skip - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(XKSM_EXIT_SKIP);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s)\n", strerror(errno));
	exit(XKSM_EXIT_FAIL);
}

/* The one verdict: call at the end of main(). */
static inline int done(void)
{
	if (!xt_checks) {
		printf("not ok - the test checked nothing\n");
		return XKSM_EXIT_FAIL;
	}
	printf("# %d check(s), %d failed\n", xt_checks, xt_failures);
	return xt_failures ? XKSM_EXIT_FAIL : XKSM_EXIT_PASS;
}

static inline int xksm_open(void)
{
	int fd = open(XKSM_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fatal("open %s", XKSM_DEVICE);
	return fd;
}

/* The handshake every xksm program starts with; returns the ioctl's result. */
static inline int xksm_handshake(int fd, struct xksm_api *api)
{
	memset(api, 0, sizeof(*api));
	api->api = XKSM_API;
	return ioctl(fd, XKSM_IOC_API, api);
}

#endif /* XKSM_TEST_H */
