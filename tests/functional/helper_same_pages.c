// SPDX-License-Identifier: GPL-2.0
/*
 * Not a test on its own (helper_* programs are not run as tests): a
 * process for xksmctl.sh's live chains.  It maps N pages (the argument, 8
 * if none) all of one content, registers them with XKSM_IOC_MERGEABLE,
 * prints "ready N" and sleeps until killed.  It changes no knob: the
 * caller starts and stops xksmd.
 */
#include "xksm_test.h"

#define SEED	0x5a3e

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 8, i;
	char *p;

	if (!n)
		fatal("usage: helper_same_pages [N]");
	p = xt_map(n);
	for (i = 0; i < n; i++)
		xt_fill(p + i * XT_PAGE, 1, SEED);
	xt_register_or_die(p, n * XT_PAGE);
	/* Nothing of ours may hold the device. */
	close(xt_dev());
	printf("ready %zu\n", n);
	fflush(stdout);
	for (;;)
		pause();
}
