// SPDX-License-Identifier: GPL-2.0
/*
 * page_key.c - the order of both trees: a page's key, then its bytes.
 *
 * Mainline KSM orders its trees by memcmp() of the pages themselves: every
 * step down the unstable tree looks up another process's page (its mm's
 * mmap_lock, a page-table walk, a reference) to compare a few bytes.  For
 * a scan of unique pages that is nearly all of ksmd's time.
 *
 * xksm orders them by a 64-bit key first: xxh64 of the page's content,
 * seeded with a random value at load, so that nobody can make pages
 * collide on purpose (the seed is never shown).  xksmd hashes every page it
 * scans anyway, to skip pages that change (the checksum of the last pass):
 * that hash is the key.  A tree walk compares keys, held in the rmap_items
 * and stable nodes, and looks at a page only where the keys are equal;
 * there memcmp() decides, so that pages with equal keys but different
 * bytes (a collision, or a page changed since it entered the unstable
 * tree) are still ordered.  Nothing merges on a key alone: every merge
 * compares the bytes again with the ptes write-protected (merge.c).  So a
 * search of the stable tree for a page to merge takes a node of equal key
 * as its match without comparing first (stable_tree.c): the merge's
 * memcmp() is the only one, where mainline does two.
 *
 * A key stays right for a KSM page, which cannot change.  An unstable tree
 * node's key is its page's content when it was inserted: the page may
 * have changed since, but the tree stays ordered by the keys it holds,
 * which is better than mainline's tree that goes out of order under it.
 */

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/xxhash.h>

#include "xksm.h"

/* The seed of every key; random at load, never shown. */
static u64 xksm_key_seed __read_mostly;

/* The key of an empty (zeroed) page */
u64 xksm_zero_key __read_mostly;

/* The key of @page's content now. */
u64 xksm_page_key(struct page *page)
{
	void *addr = kmap_local_page(page);
	u64 key = xxh64(addr, PAGE_SIZE, xksm_key_seed);

	kunmap_local(addr);
	return key;
}

/*
 * memcmp() of two pages' contents (the kernel's memcmp_pages() is private).
 *
 * Nearly every call compares equal pages, to the last byte: a merge
 * confirming its match.  x86 has no memcmp() of its own, and lib/string.c's
 * takes a branch on every word; this one takes a branch on every 64 bytes
 * (eight words xor'ed and or'ed together), and leaves the order of the
 * first block that differs to memcmp().  make bench PERF=4 (identical,
 * under TCG): 10% of xksmd's time in this, where memcmp() took 14% for
 * the same compares (docs/performance.md).
 */
int xksm_memcmp_pages(struct page *page1, struct page *page2)
{
	const u64 *a = kmap_local_page(page1);
	const u64 *b = kmap_local_page(page2);
	unsigned int i;
	int ret = 0;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i += 8) {
		if ((a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) |
		    (a[i + 2] ^ b[i + 2]) | (a[i + 3] ^ b[i + 3]) |
		    (a[i + 4] ^ b[i + 4]) | (a[i + 5] ^ b[i + 5]) |
		    (a[i + 6] ^ b[i + 6]) | (a[i + 7] ^ b[i + 7])) {
			ret = memcmp(a + i, b + i, 8 * sizeof(u64));
			break;
		}
	}
	kunmap_local(b);
	kunmap_local(a);
	return ret;
}

void xksm_page_key_init(void)
{
	xksm_key_seed = get_random_u64();
	xksm_zero_key = xksm_page_key(ZERO_PAGE(0));
}
