// SPDX-License-Identifier: GPL-2.0
/*
 * A huge, sparse registered range (1 TiB reserved, a few pages touched)
 * must cost xksmd nothing for its holes: full scans keep coming quickly,
 * and the few pages in it merge.
 */
#include <sys/mman.h>

#include "xksm_test.h"

#define SPAN	(1ULL << 40)	/* 1 TiB of address space */
#define STEP	(1ULL << 34)	/* a touched page every 16 GiB */

int main(void)
{
	size_t i, n = SPAN / STEP, merged;
	double t0, took;
	char *p;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	if (xt_backend_ksm())
		skip("xksm only: the kernel's KSM walks the same way, but the point is xksmd's");
	p = mmap(NULL, SPAN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		skip("cannot reserve 1 TiB of address space: %s", strerror(errno));
	for (i = 0; i < n; i++)
		xt_fill_page(p + i * STEP, 0, 0x5eed);	/* all the same content */

	xt_unmerge_all();
	xt_register_or_die(p, SPAN);
	xt_start_fast();
	t0 = xt_now();
	xt_wait_full_scans(5);
	took = xt_now() - t0;
	check(took < 30, "5 full scans of a 1 TiB range took %.1f s (under 30 s)", took);

	for (i = 1, merged = 0; i < n; i++)
		merged += xt_pfn(p + i * STEP) == xt_pfn(p);
	check(merged == n - 1, "its %zu touched pages all share one page (%zu do)", n,
	      merged + 1);
	check(xt_knob("pages_shared") == 1 && xt_knob("pages_sharing") == (long long)n - 1,
	      "pages_shared 1, pages_sharing %zu (%lld, %lld)", n - 1,
	      xt_knob("pages_shared"), xt_knob("pages_sharing"));
	check(xt_unregister(p, SPAN, 0) == 0, "unregistering the 1 TiB range");
	check(xt_pfn(p + STEP) != xt_pfn(p), "unmerged at once");
	munmap(p, SPAN);
	return done();
}
