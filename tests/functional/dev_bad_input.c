// SPDX-License-Identifier: GPL-2.0
/*
 * Negative tests for /dev/xksm: unknown commands get ENOTTY, argument
 * pointers that are not the caller's readable (and writable) memory get
 * EFAULT, and neither disturbs the device or the kernel.
 */
#include <sys/mman.h>

#include "xksm_test.h"

static void check_enotty(int fd, unsigned long cmd, const char *what)
{
	struct xksm_api api = { .api = XKSM_API };

	check_errno(ioctl(fd, cmd, &api), ENOTTY, what);
}

static void check_efault(int fd, void *ptr, const char *what)
{
	check_errno(ioctl(fd, XKSM_IOC_API, ptr), EFAULT, what);
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	struct xksm_api api;
	char *ro, *none, *edge;
	int fd = xksm_open();
	unsigned int nr;

	/* Unknown commands. */
	check_enotty(fd, 0, "command 0");
	check_enotty(fd, _IO(XKSM_IOC_MAGIC, 0x7f), "unknown number in xksm's range");
	check_enotty(fd, _IOWR('x', 0x00, struct xksm_api), "XKSM_IOC_API's number under another magic");
	check_enotty(fd, _IOWR(XKSM_IOC_MAGIC, 0x00, __u64), "XKSM_IOC_API with a wrong size");
	check_enotty(fd, _IOR(XKSM_IOC_MAGIC, 0x00, struct xksm_api), "XKSM_IOC_API with a wrong direction");
	check_enotty(fd, TCGETS, "a tty ioctl (TCGETS)");
	for (nr = 0x01; nr <= 0xff; nr++) {
		unsigned long cmd = _IOWR(XKSM_IOC_MAGIC, nr, struct xksm_api);
		struct xksm_api a = { .api = XKSM_API };

		/* XKSM_IOC_GET_MERGE_ANY has this very shape: a real command. */
		if (cmd == XKSM_IOC_GET_MERGE_ANY)
			continue;
		if (ioctl(fd, cmd, &a) != -1 || errno != ENOTTY)
			break;
	}
	check(nr > 0xff, "every other number under xksm's magic is ENOTTY (first not: %#x)", nr);

	/* Bad pointers. */
	check_efault(fd, NULL, "a NULL argument");
	check_efault(fd, (void *)0xffff888000000000UL, "a kernel address");
	check_efault(fd, (void *)-1UL, "address ~0");

	ro = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		fatal("mmap");
	none = ro + page;
	memset(ro, 0, page);
	((struct xksm_api *)ro)->api = XKSM_API;
	mprotect(ro, page, PROT_READ);
	mprotect(none, page, PROT_NONE);
	check_efault(fd, ro, "a read-only argument (the answer cannot be written)");
	check(((struct xksm_api *)ro)->module_version == 0, "the read-only argument is unchanged");
	check_efault(fd, none, "a PROT_NONE argument");

	/* An argument straddling the end of readable memory. */
	edge = none - sizeof(api) / 2;
	mprotect(ro, page, PROT_READ | PROT_WRITE);
	check_efault(fd, edge, "an argument that runs into a PROT_NONE page");
	munmap(ro, 2 * page);
	check_efault(fd, ro, "an unmapped argument");

	check(xksm_handshake(fd, &api) == 0, "the device still answers a good handshake");
	close(fd);
	return done();
}
