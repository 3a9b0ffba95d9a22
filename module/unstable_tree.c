// SPDX-License-Identifier: GPL-2.0
/*
 * unstable_tree.c - the unstable tree: pages seen this pass, not yet merged.
 *
 * Its nodes are rmap_items, ordered by the key of the page at their
 * address when they were inserted (page_key.c), and by the page's bytes
 * among equal keys.  A walk down the tree compares keys held in the
 * rmap_items: it looks up another mm's page only where a key is equal,
 * which is nearly always a match.
 *
 * Those pages are not write protected and may change at any time.  The
 * keys cannot: the tree stays ordered by them, and a changed page only
 * fails to match, or matches and then fails to merge, which costs a merge,
 * never correctness (every match is confirmed by the merge itself, under
 * the page lock and with the ptes write protected).  Among equal keys the
 * order by bytes may go wrong, and a search there miss a match.  To keep
 * the tree useful:
 *
 *  - a page enters only if its checksum did not change since the last pass
 *    (merge.c), so pages being written stay out;
 *  - the tree is thrown away at the start of every pass
 *    (xksm_unstable_tree_reset()), without visiting its nodes: rmap_items
 *    left over carry the pass number in their low address bits, and are
 *    recognised as stale by it.
 *
 * merge_across_nodes=0 keeps one tree per NUMA node.
 *
 * Everything here runs under xksm_thread_mutex.
 */

#include <linux/mm.h>
#include <linux/rbtree.h>

#include "xksm.h"
#include "compat.h"

/* The unstable tree roots, as the stable ones (stable_tree.c). */
static struct rb_root xksm_unstable_trees[MAX_NUMNODES];
struct rb_root *xksm_root_unstable_tree = xksm_unstable_trees;

/* The number of nodes in the unstable tree */
unsigned long xksm_pages_unshared;

/*
 * Is @tree_rmap_item's mm in the merge domain whose salt is @salt?  Equal
 * keys and equal bytes prove it in the stable tree, whose pages cannot
 * change (domain.c); not here.  A key in this tree is the one its page had
 * when it went in: had the page changed since, to bytes equal to ours, its
 * old key xor ours would be a difference of two hashes that happens to
 * equal the difference of the salts.  Unlikely (the hash is keyed, the salts
 * unknown outside), but not impossible, so ask the slot: only on a match,
 * which nearly always merges and so costs far more than this lookup.  The
 * slot stays while xksm_thread_mutex is held; its identity changes domain
 * only under that mutex too (xksm_rehome()).
 */
static bool xksm_same_domain(struct xksm_rmap_item *tree_rmap_item, u64 salt)
{
	struct xksm_mm_slot *slot = xksm_get_mm_slot(tree_rmap_item->mm);

	return slot && xksm_domain_salt(&slot->ident) == salt;
}

/**
 * xksm_unstable_tree_search_insert - find a page like @page, or insert it
 * @rmap_item: the rmap_item of @page
 * @page: the page being scanned
 * @key: its key (page_key.c); its low half is @rmap_item->oldchecksum
 * @salt: the salt of its mm's merge domain, which @key has in (domain.c)
 * @tree_pagep: where to return the matching page, with a reference
 *
 * Returns the rmap_item of an identical page (its page in *@tree_pagep), or
 * NULL after inserting @rmap_item (or giving up on a forked page or one on
 * the wrong node).
 */
struct xksm_rmap_item *
xksm_unstable_tree_search_insert(struct xksm_rmap_item *rmap_item,
				 struct page *page, u64 key, u64 salt,
				 struct page **tree_pagep)
{
	struct rb_node **new, *parent = NULL;
	struct rb_root *root;
	int nid;

	lockdep_assert_held(&xksm_thread_mutex);
	nid = xksm_get_kpfn_nid(page_to_pfn(page));
	root = xksm_root_unstable_tree + nid;
	new = &root->rb_node;

	while (*new) {
		struct xksm_rmap_item *tree_rmap_item;
		struct page *tree_page;
		int ret;

		tree_rmap_item = rb_entry(*new, struct xksm_rmap_item, node);
		parent = *new;
		ret = xksm_key_cmp(key, xksm_rmap_item_key(tree_rmap_item));
		if (ret) {
			new = ret < 0 ? &parent->rb_left : &parent->rb_right;
			continue;
		}

		cond_resched();
		tree_page = xksm_get_mergeable_page(tree_rmap_item);
		if (!tree_page)
			return NULL;

		/* Don't substitute a ksm page for a forked page. */
		if (page == tree_page) {
			put_page(tree_page);
			return NULL;
		}

		ret = xksm_memcmp_pages(page, tree_page);

		if (ret < 0) {
			put_page(tree_page);
			new = &parent->rb_left;
			continue;
		}
		if (ret > 0) {
			put_page(tree_page);
			new = &parent->rb_right;
			continue;
		}
		if (salt && !xksm_same_domain(tree_rmap_item, salt)) {
			put_page(tree_page);
			return NULL;
		}
		if (!xksm_merge_across_nodes && page_to_nid(tree_page) != nid) {
			/*
			 * tree_page has been migrated to another NUMA node: it
			 * will be put in the right tree next pass.  Only merge
			 * with it when merging across nodes.
			 */
			put_page(tree_page);
			return NULL;
		}
		*tree_pagep = tree_page;
		return tree_rmap_item;
	}

	rmap_item->address |= XKSM_UNSTABLE_FLAG;
	rmap_item->address |= (xksm_scan.seqnr & XKSM_SEQNR_MASK);
	rmap_item->nid = nid;
	rmap_item->key_hi = key >> 32;
	rb_link_node(&rmap_item->node, parent, new);
	rb_insert_color(&rmap_item->node, root);

	xksm_pages_unshared++;
	return NULL;
}

/* A new pass: forget the unstable tree (see the comment at the top). */
/*
 * Every tree is reset, not only the xksm_nr_node_ids in use: switching
 * merge_across_nodes in the middle of a pass starts using trees that an
 * earlier period of merge_across_nodes=0 left pointing at rmap_items
 * long freed.
 */
void xksm_unstable_tree_reset(void)
{
	int nid;

	lockdep_assert_held(&xksm_thread_mutex);
	for (nid = 0; nid < nr_node_ids; nid++)
		xksm_root_unstable_tree[nid] = RB_ROOT;
}
