// SPDX-License-Identifier: GPL-2.0
/*
 * Not a test on its own (helper_* programs are not run as tests): the
 * process unload_merged.sh unloads xksm under.
 * It merges pairs of pages, closes /dev/xksm, prints "merged N", and on
 * SIGUSR1 checks that the pairs no longer share frames (xksm unmerged them
 * as it went) and that its data is intact; exit 0 if so.
 */
#include <signal.h>
#include <sys/mman.h>

#include "xksm_test.h"

#define N	32
#define SEED	0x401d

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	size_t same;
	char *a, *b;

	(void)argc;
	(void)argv;
	signal(SIGUSR1, on_usr1);
	a = xt_map(N);
	b = xt_map(N);
	xt_fill(a, N, SEED);
	xt_fill(b, N, SEED);
	xt_unmerge_all();
	xt_register_or_die(a, N * XT_PAGE);
	xt_register_or_die(b, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(3);
	same = xt_count_same_pfn(0, a, 0, b, N);
	/* Nothing of ours may hold the device, nor restore knobs later. */
	close(xt_dev());
	printf("merged %zu of %d pairs\n", same, N);
	fflush(stdout);
	if (same != N)
		_exit(2);
	while (!go)
		pause();
	same = xt_count_same_pfn(0, a, 0, b, N);
	printf("after unload: %zu pairs share a frame, %zu pages differ\n", same,
	       xt_verify(a, N, SEED) + xt_verify(b, N, SEED));
	fflush(stdout);
	_exit(same == 0 && !xt_verify(a, N, SEED) && !xt_verify(b, N, SEED) ? 0 : 1);
}
