// SPDX-License-Identifier: GPL-2.0
/*
 * Merging must not leak pages: every page it replaces is freed at once, and
 * every KSM page is freed once its last mapping goes.  A leaked reference
 * would leave the page allocated for ever, with nothing on the console to
 * show it, so this test reads the pages' state (root only):
 * /proc/kpagecount (their mapcount) and /proc/kpageflags (a freed page
 * loses its LRU and anon flags; a page whose reference leaked keeps them):
 *  - the pages replaced by merging (each pair's second copy) are unmapped
 *    and freed as soon as they are merged;
 *  - after the process exits and xksmd has passed, so are the KSM pages.
 * A page may be reused by someone else in the meantime: mapped again, it
 * counts as freed.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "xksm_test.h"

#define N	64
#define SEED	0x1eaf

/* The u64 for @pfn in /proc/kpagecount or /proc/kpageflags (~0 on error). */
static uint64_t kpage_read(const char *file, unsigned long pfn)
{
	uint64_t v = ~0ULL;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return v;
	if (pread(fd, &v, sizeof(v), pfn * sizeof(v)) != sizeof(v))
		v = ~0ULL;
	close(fd);
	return v;
}

static uint64_t kpagecount(unsigned long pfn)
{
	return kpage_read("/proc/kpagecount", pfn);
}

#define KPF_LRU		5
#define KPF_ANON	12

static uint64_t kpageflags(unsigned long pfn)
{
	return kpage_read("/proc/kpageflags", pfn);
}

/*
 * Not leaked: freed (no mapping, no longer an anonymous LRU page), or
 * already mapped again by someone else.  A leaked page has no mapping but
 * keeps its flags.  A page just replaced may still wait a moment in a
 * per-CPU batch, so that is asked again after a pause.
 */
static int page_freed_now(unsigned long pfn)
{
	return kpagecount(pfn) > 0 ||
	       !(kpageflags(pfn) & (1ULL << KPF_LRU | 1ULL << KPF_ANON));
}

static int page_freed(unsigned long pfn)
{
	int tries;

	for (tries = 0; tries < 10 && !page_freed_now(pfn); tries++)
		xt_msleep(100);
	return page_freed_now(pfn);
}

static char *a, *b;
static unsigned long pfn_a[N], pfn_b[N];

static int child(int cmd, void *arg)
{
	size_t i;

	(void)arg;
	if (cmd == 0) {		/* set-up: two identical copies, registered */
		xt_fill(a, N, SEED);
		xt_fill(b, N, SEED);
		xt_register_or_die(a, N * XT_PAGE);
		xt_register_or_die(b, N * XT_PAGE);
		return 0;
	}
	for (i = 0; i < N; i++)
		if (xt_verify(a, N, SEED) || xt_verify(b, N, SEED))
			return 1;
	return 0;
}

int main(void)
{
	struct xt_child c;
	size_t i, freed, merged;
	char *keep;

	if (xt_backend_ksm())
		printf("# backend: the kernel's KSM\n");
	if (access("/proc/kpagecount", R_OK))
		skip("no /proc/kpagecount");

	xt_unmerge_all();
	/*
	 * Mapped here, untouched, so that the parent knows the addresses;
	 * the child fills them: the pages are the child's alone.
	 */
	a = xt_map(N);
	b = xt_map(N);
	xt_child_start(&c, child, NULL);
	/* Not yet merged: the child's two copies are distinct pages. */
	for (i = 0; i < N; i++) {
		pfn_a[i] = xt_pfn_pid(c.pid, a + i * XT_PAGE);
		pfn_b[i] = xt_pfn_pid(c.pid, b + i * XT_PAGE);
	}
	xt_start_fast();
	xt_wait_full_scans(3);

	for (i = 0, merged = 0; i < N; i++)
		merged += xt_pfn_pid(c.pid, a + i * XT_PAGE) ==
			  xt_pfn_pid(c.pid, b + i * XT_PAGE);
	check(merged == N && pfn_a[0] && pfn_a[0] != pfn_b[0],
	      "all %d pairs are merged (%zu)", N, merged);

	/*
	 * Of each pair, one of the two original pages became the KSM page;
	 * the other was replaced and must now be free (count 0).
	 */
	for (i = 0, freed = 0; i < N; i++) {
		unsigned long ksm = xt_pfn_pid(c.pid, a + i * XT_PAGE);
		unsigned long gone = ksm == pfn_a[i] ? pfn_b[i] : pfn_a[i];

		freed += page_freed(gone);
	}
	check(freed >= N - 2, "the replaced pages are freed, within a second (%zu of %d)",
	      freed, N);
	check(xt_child_cmd(&c, 'v') == 0, "the child reads its data back intact");

	/* The KSM pages: each mapped twice, so count 2. */
	for (i = 0, freed = 0; i < N; i++) {
		uint64_t n = kpagecount(xt_pfn_pid(c.pid, a + i * XT_PAGE));

		if (n != 2 && i < 4)
			printf("# KSM page %zu: count %llu\n", i, (unsigned long long)n);
		freed += n == 2;
	}
	check(freed == N, "each KSM page is held by its two mappings only (%zu of %d)",
	      freed, N);
	for (i = 0; i < N; i++)
		pfn_a[i] = xt_pfn_pid(c.pid, a + i * XT_PAGE);

	/* xksmd only scans while something is registered: keep a page. */
	keep = xt_map(1);
	xt_fill(keep, 1, SEED);
	xt_register_or_die(keep, XT_PAGE);
	check(xt_child_stop(&c) == 0, "the child exits");
	xt_wait_full_scans(2);
	for (i = 0, freed = 0; i < N; i++)
		freed += page_freed(pfn_a[i]);
	check(freed >= N - 2, "after exit the KSM pages are freed (%zu of %d)",
	      freed, N);
	return done();
}
