// SPDX-License-Identifier: GPL-2.0
/*
 * Ranges of particular kinds, as mainline KSM treats them:
 *  - mlocked private anonymous pages merge (KSM does not exclude VM_LOCKED;
 *    the merged page is mlocked in their place), and stay locked in memory;
 *  - private anonymous pages made read-only before registering merge, and
 *    merged pages made read-only afterwards stay merged and intact;
 *  - PROT_NONE private anonymous pages (written first, so present) can be
 *    registered and read back intact once made readable again.  Whether
 *    they merge differs between mainline versions (6.12 merges them; on
 *    6.1 none merged here, and a PROT_NONE page left in the unstable tree
 *    stopped every later unstable-tree merge of that scan), so this is only
 *    reported, and checked last, on its own;
 *  - shared anonymous memory (MAP_SHARED) is skipped silently: registering
 *    it succeeds and nothing there is ever merged.
 */
#include "xksm_test.h"

#define N	16
#define SEED	0x6b0f

static char *filled(int flags, unsigned int seed)
{
	char *p = mmap(NULL, N * XT_PAGE, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fatal("mmap");
	xt_fill(p, N, seed);
	return p;
}

int main(void)
{
	char *m1, *m2, *r1, *r2, *w1, *w2, *n1, *n2, *s1, *s2;
	size_t i, present;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();

	m1 = filled(MAP_PRIVATE, SEED);
	m2 = filled(MAP_PRIVATE, SEED);
	if (mlock(m1, N * XT_PAGE) || mlock(m2, N * XT_PAGE))
		fatal("mlock");
	r1 = filled(MAP_PRIVATE, SEED + 1);
	r2 = filled(MAP_PRIVATE, SEED + 1);
	mprotect(r1, N * XT_PAGE, PROT_READ);
	mprotect(r2, N * XT_PAGE, PROT_READ);
	w1 = filled(MAP_PRIVATE, SEED + 2);
	w2 = filled(MAP_PRIVATE, SEED + 2);
	s1 = filled(MAP_SHARED, SEED + 4);
	s2 = filled(MAP_SHARED, SEED + 4);

	check(xt_register(m1, N * XT_PAGE) == 0 && xt_register(m2, N * XT_PAGE) == 0,
	      "registering mlocked memory succeeds");
	check(xt_register(r1, N * XT_PAGE) == 0 && xt_register(r2, N * XT_PAGE) == 0,
	      "registering read-only memory succeeds");
	xt_register_or_die(w1, N * XT_PAGE);
	xt_register_or_die(w2, N * XT_PAGE);
	check(xt_register(s1, N * XT_PAGE) == 0 && xt_register(s2, N * XT_PAGE) == 0,
	      "registering shared anonymous memory succeeds (it is skipped silently)");

	xt_start_fast();
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, m1, 0, m2, N) == N, "mlocked pages merge (%zu of %d)",
	      xt_count_same_pfn(0, m1, 0, m2, N), N);
	for (present = 0, i = 0; i < N; i++)
		present += !!xt_pfn(m1 + i * XT_PAGE);
	check(present == N && xt_verify(m1, N, SEED) == 0 && xt_verify(m2, N, SEED) == 0,
	      "the mlocked pages stay present and intact");
	check(xt_count_same_pfn(0, r1, 0, r2, N) == N, "pages registered read-only merge (%zu of %d)",
	      xt_count_same_pfn(0, r1, 0, r2, N), N);
	check(xt_verify(r1, N, SEED + 1) == 0 && xt_verify(r2, N, SEED + 1) == 0,
	      "and read back intact");
	check(xt_count_same_pfn(0, w1, 0, w2, N) == N, "writable pages merge (%zu of %d)",
	      xt_count_same_pfn(0, w1, 0, w2, N), N);
	check(xt_count_same_pfn(0, s1, 0, s2, N) == 0, "shared anonymous pages are never merged");

	/* Merged, then read-only: still merged, intact. */
	mprotect(w1, N * XT_PAGE, PROT_READ);
	mprotect(w2, N * XT_PAGE, PROT_READ);
	xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, w1, 0, w2, N) == N, "merged pages made read-only stay merged");
	check(xt_verify(w1, N, SEED + 2) == 0 && xt_verify(w2, N, SEED + 2) == 0,
	      "and read back intact");
	check(xt_verify(s1, N, SEED + 4) == 0 && xt_verify(s2, N, SEED + 4) == 0,
	      "the shared pages read back intact");
	/* Writing the mlocked merged pages copies them. */
	m1[0] ^= 1;
	check(xt_pfn(m1) != xt_pfn(m2) && xt_pfn(m1), "a write to a merged mlocked page copies it");
	m1[0] ^= 1;
	check(xt_verify(m1, N, SEED) == 0 && xt_verify(m2, N, SEED) == 0, "mlocked pages read back intact");

	/* PROT_NONE, alone. */
	xt_knob_set("run", 2);
	n1 = filled(MAP_PRIVATE, SEED + 3);
	n2 = filled(MAP_PRIVATE, SEED + 3);
	mprotect(n1, N * XT_PAGE, PROT_NONE);
	mprotect(n2, N * XT_PAGE, PROT_NONE);
	check(xt_register(n1, N * XT_PAGE) == 0 && xt_register(n2, N * XT_PAGE) == 0,
	      "registering PROT_NONE memory succeeds");
	xt_knob_set("run", 1);
	xt_wait_full_scans(3);
	xt_note("%zu of %d PROT_NONE pairs merged (mainline: all on 6.12, none on 6.1)",
		xt_count_same_pfn(0, n1, 0, n2, N), N);
	mprotect(n1, N * XT_PAGE, PROT_READ);
	mprotect(n2, N * XT_PAGE, PROT_READ);
	check(xt_verify(n1, N, SEED + 3) == 0 && xt_verify(n2, N, SEED + 3) == 0,
	      "the PROT_NONE pages, made readable, read back intact");
	return done();
}
