// SPDX-License-Identifier: GPL-2.0
/*
 * The XKSM_IOC_API handshake: a program built for this ABI gets the module's
 * version and every feature bit this header knows (XKSM_FEATURES_KNOWN:
 * MERGE ... STAT_FD, DOMAIN, PIDFD), no other; anything else gets EINVAL
 * and its argument back untouched.  /dev/xksm is usable by an unprivileged
 * user.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "xksm_test.h"

static void check_einval_untouched(int fd, struct xksm_api *bad, const char *what)
{
	struct xksm_api copy = *bad;
	int ret = ioctl(fd, XKSM_IOC_API, bad);

	check_errno(ret, EINVAL, what);
	check(!memcmp(&copy, bad, sizeof(copy)), "%s leaves the argument untouched", what);
}

static int handshake_as_nobody(void)
{
	struct xksm_api api;
	pid_t pid = xt_fork();
	int status;

	if (pid == 0) {
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = open(XKSM_DEVICE, O_RDWR);
		if (fd < 0)
			_exit(3);
		_exit(xksm_handshake(fd, &api) ? 4 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	struct xksm_api api, bad;
	struct stat st;
	int fd, ret, i;

	/* The device node: a character device everyone may open. */
	if (stat(XKSM_DEVICE, &st))
		fatal("stat " XKSM_DEVICE);
	check(S_ISCHR(st.st_mode), XKSM_DEVICE " is a character device");
	check((st.st_mode & 0777) == 0666, XKSM_DEVICE " has mode 0666 (got %o)",
	      st.st_mode & 0777);

	fd = xksm_open();
	ret = xksm_handshake(fd, &api);
	check(ret == 0, "handshake with XKSM_API=%d succeeds (%s)", XKSM_API,
	      ret ? strerror(errno) : "ok");
	check(api.api == XKSM_API, "module speaks ABI %d (got %llu)", XKSM_API,
	      (unsigned long long)api.api);
	check(api.module_version != 0, "module version reported: %llu.%llu.%llu",
	      (unsigned long long)api.module_version >> 32,
	      (unsigned long long)(api.module_version >> 16) & 0xffff,
	      (unsigned long long)api.module_version & 0xffff);
	check(!(api.features & ~XKSM_FEATURES_KNOWN),
	      "only known feature bits are set (features %#llx)",
	      (unsigned long long)api.features);
	/* The module is built with this header: it has every feature it names. */
	check(api.features == XKSM_FEATURES_KNOWN,
	      "every feature of this header is reported (features %#llx, header %#llx)",
	      (unsigned long long)api.features, (unsigned long long)XKSM_FEATURES_KNOWN);
	for (i = 0; i < 5; i++)
		if (api.reserved[i])
			break;
	check(i == 5, "reserved fields come back zero");

	/* Negative cases: each EINVAL, nothing written back. */
	memset(&bad, 0, sizeof(bad));
	check_einval_untouched(fd, &bad, "api=0");
	bad.api = XKSM_API + 1;
	check_einval_untouched(fd, &bad, "api=XKSM_API+1");
	bad.api = ~0ULL;
	check_einval_untouched(fd, &bad, "api=~0");
	memset(&bad, 0, sizeof(bad));
	bad.api = XKSM_API;
	bad.features = 1;
	check_einval_untouched(fd, &bad, "non-zero features on input");
	for (i = 0; i < 5; i++) {
		char what[64];

		memset(&bad, 0, sizeof(bad));
		bad.api = XKSM_API;
		bad.reserved[i] = 1ULL << (i * 13);
		snprintf(what, sizeof(what), "non-zero reserved[%d]", i);
		check_einval_untouched(fd, &bad, what);
	}

	/* The device still answers after all that. */
	check(xksm_handshake(fd, &api) == 0, "handshake still succeeds afterwards");
	close(fd);

	check(handshake_as_nobody() == 0,
	      "an unprivileged user (uid 65534) can open " XKSM_DEVICE " and handshake");
	return done();
}
