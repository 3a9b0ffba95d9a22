// SPDX-License-Identifier: GPL-2.0
/*
 * Copy-on-write of merged pages.  Two processes with N identical registered
 * pages are merged; then the child writes one byte in K pages and the
 * parent one byte in K others.  Each write copies: the writer's PFN
 * changes, the other process keeps the merged PFN and its old contents,
 * both read back exactly their own data, and the pages nobody wrote stay
 * merged.  After the scanner passes again the counters follow: the written
 * pages' merged copies are now used once (pages_sharing drops by 2K,
 * pages_shared stays N).
 */
#include "xksm_test.h"

#define N	64
#define K	8
#define SEED	0x6b02
#define OFF	1234	/* the byte written in a page */

static char *mem;
static unsigned long *before;	/* PFNs after merging, shared with the child */

/* Page i as written: the pattern, with byte OFF flipped if written. */
static int page_is(const char *p, size_t i, int written)
{
	const char *pg = p + i * XT_PAGE;
	uint64_t w = xt_word(SEED, i, OFF / 8);
	unsigned char want = ((const unsigned char *)&w)[OFF % 8] ^ (written ? 0x5a : 0);
	size_t j;

	if ((unsigned char)pg[OFF] != want)
		return 0;
	for (j = 0; j < XT_PAGE / 8; j++) {
		uint64_t v;

		if (j == OFF / 8)
			continue;
		memcpy(&v, pg + j * 8, 8);
		if (v != xt_word(SEED, i, j))
			return 0;
	}
	return 1;
}

static void write_byte(char *p, size_t i)
{
	p[i * XT_PAGE + OFF] ^= 0x5a;
}

static int child(int cmd, void *arg)
{
	size_t i, bad = 0;

	(void)arg;
	switch (cmd) {
	case 0:
		xt_fill(mem, N, SEED);
		return xt_register(mem, N * XT_PAGE) ? errno : 0;
	case 'w':	/* write pages [0, K) */
		for (i = 0; i < K; i++)
			write_byte(mem, i);
		return 0;
	case 'v':	/* own data: [0, K) written, the rest not */
		for (i = 0; i < N; i++)
			bad += !page_is(mem, i, i < K);
		return bad ? 1 : 0;
	}
	return 255;
}

int main(void)
{
	struct xt_child c;
	size_t i, moved, kept, bad;
	long long shared, sharing;
	int ret;

	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();
	mem = xt_map(N);
	before = xt_map_shared(1);
	ret = xt_child_start(&c, child, NULL);
	if (!check(ret == 0, "the child registers its pages (%s)", strerror(ret)))
		return done();
	xt_fill(mem, N, SEED);
	xt_register_or_die(mem, N * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(2);

	if (!check(xt_count_same_pfn(0, mem, c.pid, mem, N) == N,
		   "all %d pages are merged across the two processes", N))
		return done();
	for (i = 0; i < N; i++)
		before[i] = xt_pfn(mem + i * XT_PAGE);

	/* The child writes [0, K). */
	check(xt_child_cmd(&c, 'w') == 0, "the child writes one byte in %d merged pages", K);
	for (moved = kept = 0, i = 0; i < K; i++) {
		unsigned long cp = xt_pfn_pid(c.pid, mem + i * XT_PAGE);

		moved += cp && cp != before[i];
		kept += xt_pfn(mem + i * XT_PAGE) == before[i];
	}
	check(moved == K, "each page the child wrote has a new PFN in the child (%zu of %d)", moved, K);
	check(kept == K, "the parent keeps the merged PFN of those pages (%zu of %d)", kept, K);
	for (bad = 0, i = 0; i < N; i++)
		bad += !page_is(mem, i, 0);
	check(bad == 0, "the parent still reads its old data everywhere (%zu pages differ)", bad);
	check(xt_child_cmd(&c, 'v') == 0, "the child reads back its write and the old data elsewhere");

	/* The parent writes [K, 2K). */
	for (i = K; i < 2 * K; i++)
		write_byte(mem, i);
	for (moved = kept = 0, i = K; i < 2 * K; i++) {
		unsigned long pp = xt_pfn(mem + i * XT_PAGE);

		moved += pp && pp != before[i];
		kept += xt_pfn_pid(c.pid, mem + i * XT_PAGE) == before[i];
	}
	check(moved == K, "each page the parent wrote has a new PFN in the parent (%zu of %d)", moved, K);
	check(kept == K, "the child keeps the merged PFN of those pages (%zu of %d)", kept, K);
	for (bad = 0, i = 0; i < N; i++)
		bad += !page_is(mem, i, i >= K && i < 2 * K);
	check(bad == 0, "the parent reads back its writes and the old data elsewhere (%zu differ)", bad);
	check(xt_child_cmd(&c, 'v') == 0, "the child's data is untouched by the parent's writes");
	check(xt_count_same_pfn(0, mem + 2 * K * XT_PAGE, c.pid, mem + 2 * K * XT_PAGE, N - 2 * K) ==
	      N - 2 * K, "the %d pages nobody wrote are still merged", N - 2 * K);

	/* The counters, once the scanner has seen the writes. */
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	shared = xt_knob("pages_shared");
	sharing = xt_knob("pages_sharing");
	check(shared == N, "pages_shared == %d: written pages' merged copies are still used once (got %lld)",
	      N, shared);
	check(sharing == N - 2 * K, "pages_sharing == %d (got %lld)", N - 2 * K, sharing);
	check(xt_child_stop(&c) == 0, "the child exits cleanly");
	return done();
}
