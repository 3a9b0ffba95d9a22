// SPDX-License-Identifier: GPL-2.0
/*
 * stable_tree.c - the stable tree: one node per KSM page, ordered by the
 * page's content.
 *
 * A KSM page is write-protected in every pte that maps it, so its content
 * cannot change and the tree stays ordered.  The order is by the page's
 * key first, held in the node (page_key.c), and by its bytes among equal
 * keys: a search looks at a page only where the keys are equal.  The tree
 * is XKSM_STABLE_SPLIT rb-trees, one for each value of the keys' top bits
 * (xksm_stable_root()), which a search picks before going down.  Its
 * stable node lists the rmap_items that map it (@hlist), and page->mapping
 * points back to the node (with PAGE_MAPPING_KSM set): that is how the
 * kernel's rmap walk, migration and reclaim find the ptes of the page.
 *
 * Stable node chains (mainline's, for max_page_sharing): once a KSM page is
 * shared max_page_sharing times, another identical page becomes a second
 * KSM page of the same content.  The tree then holds a chain node whose
 * @hlist lists "dups", one per KSM page; each dup lists its rmap_items.
 * Chains bound the length of rmap walks.
 *
 * merge_across_nodes=0 keeps one tree per NUMA node.  A KSM page migrated to
 * another node is moved to xksm_migrate_nodes, and re-placed in the right
 * tree when next met.
 *
 * The stable node does not hold a reference on its page: reclaim would
 * have to wait for xksmd.  Instead xksm_get_ksm_folio() checks, through a
 * "keyhole", that the page still points back to the node; a node whose
 * page went away is stale and removed there.  Mainline meets its stale
 * nodes on the way down its searches; xksm's searches look at pages only
 * where keys are equal, so it also prunes them once a pass
 * (xksm_stable_tree_prune()).
 *
 * Merge domains (domain.c) need nothing here: a page's key is its hash
 * xor a salt that is a bijection of its domain, and a stable page cannot
 * change, so equal keys and equal bytes mean the same domain, and a search
 * never meets another domain's page as equal.  The domain of a KSM page is
 * the one it was merged in.
 *
 * Everything here runs under xksm_thread_mutex (the kernel's rmap walk and
 * migration read and write nodes under the page lock only: nodes are
 * changed with the page locked where that matters).
 */

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/slab.h>

#include "xksm.h"
#include "compat.h"
#include "trace.h"

/*
 * The kernel's rmap walk reads these fields of xksm's stable nodes and
 * rmap_items as if they were its own struct ksm_stable_node and struct
 * ksm_rmap_item (mm/ksm.c, private): the layouts must be the same.  On 6.12
 * the build also checks them against the kernel's BTF (scripts/lint).
 */
static_assert(offsetof(struct xksm_stable_node, hlist) == 40);
static_assert(offsetof(struct xksm_stable_node, kpfn) == 48);
static_assert(sizeof(struct xksm_stable_node) == 64);
/* xksm's own use of the first 40 bytes (see struct xksm_stable_node). */
static_assert(offsetof(struct xksm_stable_node, key) == 24);
static_assert(offsetof(struct xksm_stable_node, hlist_dup) == 8);
static_assert(offsetof(struct xksm_stable_node, list) == 8);
static_assert(offsetof(struct xksm_stable_node, covered) == 32);
static_assert(offsetof(struct xksm_rmap_item, anon_vma) == 8);
static_assert(offsetof(struct xksm_rmap_item, mm) == 16);
static_assert(offsetof(struct xksm_rmap_item, address) == 24);
static_assert(offsetof(struct xksm_rmap_item, head) == 40);
static_assert(offsetof(struct xksm_rmap_item, hlist) == 48);
static_assert(sizeof(struct xksm_rmap_item) == 64);

static struct kmem_cache *xksm_stable_node_cache;

/*
 * The stable trees: [0] only, or one per node (the first xksm_nr_node_ids)
 * with merge_across_nodes=0.  Each tree is split by the top
 * XKSM_STABLE_SPLIT_BITS bits of the key into XKSM_STABLE_SPLIT rb-trees,
 * one after another in key order: tree nid's subtree i is
 * xksm_stable_roots[nid * XKSM_STABLE_SPLIT + i] (xksm_stable_root()).
 * Keys are uniform (a keyed hash), so each subtree holds its share of the
 * nodes, and a search starts XKSM_STABLE_SPLIT_BITS levels down: eight
 * fewer nodes to reach (under TCG each another guest TLB fill: the search
 * went from 10% of xksmd's converging to 5.8%), for 2 KiB of roots a NUMA
 * node (the 8 KiB array of one root for each of MAX_NUMNODES it replaced
 * cost more).  Allocated for nr_node_ids trees at load; under
 * xksm_thread_mutex, as the nodes.
 */
static struct rb_root *xksm_stable_roots;

/* Tree @nid's first subtree; the others follow it. */
static struct rb_root *xksm_stable_subtrees(int nid)
{
	return xksm_stable_roots + nid * XKSM_STABLE_SPLIT;
}

/* The subtree of tree @nid that holds (or would hold) @key. */
static struct rb_root *xksm_stable_root(int nid, u64 key)
{
	return xksm_stable_subtrees(nid) + (key >> (64 - XKSM_STABLE_SPLIT_BITS));
}

/*
 * Past the subtrees in use: walks over every node go from xksm_stable_roots
 * to here, tree by tree, each in key order.
 */
static struct rb_root *xksm_stable_roots_end(void)
{
	return xksm_stable_subtrees(xksm_nr_node_ids);
}

/* The first node of tree @nid's subtree @i, for debugfs. */
struct rb_node *xksm_stable_subtree_first(int nid, int i)
{
	return rb_first(xksm_stable_subtrees(nid) + i);
}

/* Stable nodes whose page moved to another NUMA node, to be re-placed. */
LIST_HEAD(xksm_migrate_nodes);
/*
 * The @head of a dup: an address inside xksm_migrate_nodes, so that it
 * differs from &xksm_migrate_nodes and from any rb_node parent pointer.
 */
#define XKSM_STABLE_NODE_DUP_HEAD ((struct list_head *)&xksm_migrate_nodes.prev)

/* The number of KSM pages (stable nodes with rmap_items) */
unsigned long xksm_pages_shared;

/* The number of page slots additionally sharing those KSM pages */
unsigned long xksm_pages_sharing;

/* The number of stable_node chains */
unsigned long xksm_stable_node_chains;

/* The number of stable_node dups linked to the stable_node chains */
unsigned long xksm_stable_node_dups;

/* The number of stable nodes allocated, chains included (debugfs objects) */
unsigned long xksm_stable_nodes;

/* Delay in pruning stale stable_node_dups in the stable_node_chains */
unsigned int xksm_stable_node_chains_prune_millisecs = 2000;

/* Maximum number of page slots sharing a stable node */
int xksm_max_page_sharing = 256;

/* Zeroed when merging across nodes is not allowed */
unsigned int xksm_merge_across_nodes = 1;

/* Number of trees in use: 1, or nr_node_ids with merge_across_nodes=0 */
int xksm_nr_node_ids = 1;

static bool is_stable_node_dup(struct xksm_stable_node *dup)
{
	return dup->head == XKSM_STABLE_NODE_DUP_HEAD;
}

/*
 * Which tree a page of this pfn belongs in: 0 when merging across nodes,
 * else the page's node.
 */
int xksm_get_kpfn_nid(unsigned long kpfn)
{
	return xksm_merge_across_nodes ? 0 : pfn_to_nid(kpfn);
}

struct xksm_stable_node *xksm_folio_stable_node(struct folio *folio)
{
	unsigned long mapping = (unsigned long)READ_ONCE(folio->mapping);

	/* folio_raw_mapping(), which is private to mm/ */
	return folio_test_ksm(folio) ?
		(void *)(mapping & ~PAGE_MAPPING_FLAGS) : NULL;
}

/* Point the page at its stable node; the page is locked. */
static void xksm_folio_set_stable_node(struct folio *folio,
				       struct xksm_stable_node *stable_node)
{
	VM_WARN_ON_FOLIO(!folio_test_locked(folio), folio);
	folio->mapping = (void *)((unsigned long)stable_node | PAGE_MAPPING_KSM);
}

static struct xksm_stable_node *alloc_stable_node(void)
{
	/*
	 * The allocation can take too long with GFP_KERNEL when memory is
	 * under pressure, which may lead to hung task warnings: __GFP_HIGH
	 * grants access to memory reserves, as mainline does.
	 */
	struct xksm_stable_node *stable_node;

	stable_node = kmem_cache_alloc(xksm_stable_node_cache,
				       GFP_KERNEL | __GFP_HIGH);
	if (stable_node) {
		INIT_HLIST_HEAD(&stable_node->covered);
		xksm_stable_nodes++;
	}
	return stable_node;
}

static void free_stable_node(struct xksm_stable_node *stable_node)
{
	WARN_ON_ONCE(stable_node->rmap_hlist_len &&
		     !is_stable_node_chain(stable_node));
	xksm_stable_nodes--;
	kmem_cache_free(xksm_stable_node_cache, stable_node);
}

static void stable_node_chain_add_dup(struct xksm_stable_node *dup,
				      struct xksm_stable_node *chain)
{
	dup->head = XKSM_STABLE_NODE_DUP_HEAD;
	hlist_add_head(&dup->hlist_dup, &chain->hlist);
	xksm_stable_node_dups++;
}

static void __stable_node_dup_del(struct xksm_stable_node *dup)
{
	hlist_del(&dup->hlist_dup);
	xksm_stable_node_dups--;
}

static void stable_node_dup_del(struct xksm_stable_node *dup)
{
	if (is_stable_node_dup(dup))
		__stable_node_dup_del(dup);
	else
		rb_erase(&dup->node, xksm_stable_root(dup->nid, dup->key));
}

/*
 * A node whose page was migrated to another NUMA node (merge_across_nodes
 * = 0) leaves its tree for xksm_migrate_nodes, to be re-placed when next
 * met.
 */
void xksm_stable_node_to_migrate_list(struct xksm_stable_node *stable_node)
{
	stable_node_dup_del(stable_node);
	stable_node->head = &xksm_migrate_nodes;
	list_add(&stable_node->list, stable_node->head);
}

static struct xksm_stable_node *
alloc_stable_node_chain(struct xksm_stable_node *dup, struct rb_root *root)
{
	struct xksm_stable_node *chain = alloc_stable_node();

	if (likely(chain)) {
		INIT_HLIST_HEAD(&chain->hlist);
		chain->chain_prune_time = jiffies;
		chain->rmap_hlist_len = XKSM_STABLE_NODE_CHAIN;
		chain->nid = NUMA_NO_NODE;
		xksm_stable_node_chains++;

		/*
		 * Put the chain in the tree in place of the old stable node,
		 * and make that node its first dup.  All the dups of a chain
		 * point to write-protected pages of the same content.
		 */
		chain->key = dup->key;
		rb_replace_node(&dup->node, &chain->node, root);
		stable_node_chain_add_dup(dup, chain);
	}
	return chain;
}

static void free_stable_node_chain(struct xksm_stable_node *chain,
				   struct rb_root *root)
{
	rb_erase(&chain->node, root);
	free_stable_node(chain);
	xksm_stable_node_chains--;
}

/*
 * One live mapping of @stable_node's page fewer: @rmap_item's, about to
 * leave the node or be deferred.
 */
void xksm_stable_node_unaccount(struct xksm_stable_node *stable_node,
				struct xksm_rmap_item *rmap_item)
{
	struct xksm_mm_slot *slot;

	trace_xksm_remove_rmap_item(stable_node->kpfn, rmap_item, rmap_item->mm,
				    rmap_item->address & PAGE_MASK);
	WARN_ON_ONCE(stable_node->rmap_hlist_len <= 0);
	if (--stable_node->rmap_hlist_len)
		xksm_pages_sharing--;
	else
		xksm_pages_shared--;
	slot = xksm_get_mm_slot(rmap_item->mm);
	if (slot)
		slot->merging_pages--;
}

/*
 * Remove a stable node (never a chain) whose page is gone or being given
 * up: its live rmap_items go back to state none, dropping their anon_vma
 * references; its deferred ones lose their node, and xksmd frees them.
 */
static void remove_node_from_stable_tree(struct xksm_stable_node *stable_node)
{
	struct xksm_rmap_item *rmap_item;

	if (WARN_ON_ONCE(stable_node->rmap_hlist_len < 0))
		return;

	hlist_for_each_entry(rmap_item, &stable_node->hlist, hlist) {
		xksm_put_anon_vma(rmap_item->anon_vma);
		if (rmap_item->address & XKSM_DEFERRED_FLAG) {
			rmap_item->address &= ~XKSM_STABLE_FLAG;
			rmap_item->head = NULL;
		} else {
			xksm_stable_node_unaccount(stable_node, rmap_item);
			rmap_item->address &= PAGE_MASK;
			rmap_item->head = NULL;
		}
		cond_resched();
	}
	/*
	 * No @head left pointing at the freed node: its memory may become
	 * another node, which xksm_cmp_and_merge_page() would then take
	 * for the one this rmap_item is on.
	 */
	hlist_for_each_entry(rmap_item, &stable_node->covered, hlist) {
		xksm_stable_node_unaccount(stable_node, rmap_item);
		rmap_item->address &= PAGE_MASK;
		rmap_item->head = NULL;
		cond_resched();
	}

	trace_xksm_remove_ksm_page(stable_node->kpfn, stable_node);
	if (stable_node->head == &xksm_migrate_nodes)
		list_del(&stable_node->list);
	else
		stable_node_dup_del(stable_node);
	free_stable_node(stable_node);
}

/**
 * xksm_get_ksm_folio - the KSM page of a stable node, if it still is one
 * @stable_node: a stable node (not a chain)
 * @flags: XKSM_GET_FOLIO_NOLOCK, _LOCK or _TRYLOCK
 *
 * The node holds no reference on its page: instead the page "holds the
 * key", page->mapping pointing back to the node.  Freeing an anonymous
 * page resets page->mapping, so if the key still fits, the page is still
 * ours; a reference is taken and the key checked again.  A node whose key
 * no longer fits is stale and removed (unless the page is under migration
 * and kpfn is about to change).
 *
 * Returns the folio with a reference (locked as asked), NULL if the node
 * was stale (and is now freed), or ERR_PTR(-EBUSY) if a trylock failed.
 */
struct folio *xksm_get_ksm_folio(struct xksm_stable_node *stable_node, int flags)
{
	struct folio *folio;
	void *expected_mapping;
	unsigned long kpfn;

	expected_mapping = (void *)((unsigned long)stable_node |
				    PAGE_MAPPING_KSM);
again:
	kpfn = READ_ONCE(stable_node->kpfn); /* Address dependency. */
	folio = pfn_folio(kpfn);
	if (READ_ONCE(folio->mapping) != expected_mapping)
		goto stale;

	/*
	 * We cannot do anything with the page while its refcount is 0.
	 * Usually 0 means free, or tail of a higher-order page: in which case
	 * this node is no longer referenced, and should be freed; however,
	 * it might mean that the page is under page_ref_freeze().  The
	 * __remove_mapping() case is easy, again the node is now stale; but
	 * if the page is swapcache in folio_migrate_mapping(), it might still
	 * be our page, in which case it's essential to keep the node.
	 */
	while (!folio_try_get(folio)) {
		/*
		 * The swapcache flag is cleared (under spin_lock_irq) in the
		 * ref_freeze section of __remove_mapping(); but anon
		 * folio->mapping is reset to NULL later, in
		 * free_pages_prepare().
		 */
		if (!folio_test_swapcache(folio))
			goto stale;
		cpu_relax();
	}

	if (READ_ONCE(folio->mapping) != expected_mapping) {
		folio_put(folio);
		goto stale;
	}

	if (flags == XKSM_GET_FOLIO_TRYLOCK) {
		if (!folio_trylock(folio)) {
			folio_put(folio);
			return ERR_PTR(-EBUSY);
		}
	} else if (flags == XKSM_GET_FOLIO_LOCK) {
		folio_lock(folio);
	}

	if (flags != XKSM_GET_FOLIO_NOLOCK) {
		if (READ_ONCE(folio->mapping) != expected_mapping) {
			folio_unlock(folio);
			folio_put(folio);
			goto stale;
		}
	}
	return folio;

stale:
	/*
	 * The page looked stale, but it might be under migration: the
	 * smp_rmb() pairs with the smp_wmb() in the kernel's
	 * folio_migrate_ksm() before its new kpfn becomes visible.
	 */
	smp_rmb();
	if (READ_ONCE(stable_node->kpfn) != kpfn)
		goto again;
	remove_node_from_stable_tree(stable_node);
	return NULL;
}

static bool __is_page_sharing_candidate(struct xksm_stable_node *stable_node,
					int offset)
{
	/*
	 * At least one mapping must still exist, else the page is about to
	 * be freed and not worth merging with.
	 */
	return stable_node->rmap_hlist_len &&
		stable_node->rmap_hlist_len + offset < xksm_max_page_sharing;
}

bool xksm_is_page_sharing_candidate(struct xksm_stable_node *stable_node)
{
	return __is_page_sharing_candidate(stable_node, 0);
}

/*
 * The best dup of a chain to merge with: the fullest one that can still
 * take a mapping.  Stale dups are pruned on the way (all of them every
 * stable_node_chains_prune_millisecs), and a chain left with one dup that
 * is below the limit collapses back to a plain node.
 */
static struct folio *stable_node_dup(struct xksm_stable_node **_stable_node_dup,
				     struct xksm_stable_node **_stable_node,
				     struct rb_root *root,
				     bool prune_stale_stable_nodes)
{
	struct xksm_stable_node *dup, *found = NULL, *stable_node = *_stable_node;
	struct hlist_node *hlist_safe;
	struct folio *folio, *tree_folio = NULL;
	int found_rmap_hlist_len = 0;

	if (!prune_stale_stable_nodes ||
	    time_before(jiffies, stable_node->chain_prune_time +
			msecs_to_jiffies(xksm_stable_node_chains_prune_millisecs)))
		prune_stale_stable_nodes = false;
	else
		stable_node->chain_prune_time = jiffies;

	hlist_for_each_entry_safe(dup, hlist_safe, &stable_node->hlist, hlist_dup) {
		cond_resched();
		/*
		 * xksm_get_ksm_folio() can drop stale dups from the chain
		 * (hence the _safe walk), dup itself included.
		 */
		folio = xksm_get_ksm_folio(dup, XKSM_GET_FOLIO_NOLOCK);
		if (!folio)
			continue;
		/* Pick the best candidate if possible. */
		if (!found || (xksm_is_page_sharing_candidate(dup) &&
		    (!xksm_is_page_sharing_candidate(found) ||
		     dup->rmap_hlist_len > found_rmap_hlist_len))) {
			if (found)
				folio_put(tree_folio);
			found = dup;
			found_rmap_hlist_len = found->rmap_hlist_len;
			tree_folio = folio;
			if (!prune_stale_stable_nodes &&
			    xksm_is_page_sharing_candidate(found))
				break;
			continue;
		}
		folio_put(folio);
	}

	if (found) {
		if (hlist_is_singular_node(&found->hlist_dup, &stable_node->hlist)) {
			/*
			 * Just one dup left, below the limit: the chain is no
			 * longer needed.  The caller depends on *_stable_node
			 * being the dup when the chain collapsed.
			 */
			found->key = stable_node->key;
			rb_replace_node(&stable_node->node, &found->node, root);
			free_stable_node(stable_node);
			xksm_stable_node_chains--;
			xksm_stable_node_dups--;
			*_stable_node = found;
		} else if (stable_node->hlist.first != &found->hlist_dup &&
			   __is_page_sharing_candidate(found, 1)) {
			/*
			 * If the found dup can take one more merge after the
			 * one underway, move it to the head of the chain so
			 * that the next search finds it first.
			 */
			hlist_del(&found->hlist_dup);
			hlist_add_head(&found->hlist_dup, &stable_node->hlist);
		}
	} else {
		/* Its hlist must be empty if none was found. */
		free_stable_node_chain(stable_node, root);
	}

	*_stable_node_dup = found;
	return tree_folio;
}

/*
 * The KSM page of a tree node: of the node itself, or of the best dup of a
 * chain (see stable_node_dup()).  Like xksm_get_ksm_folio(), it can free the
 * node (returning NULL), and collapse a chain into *_stable_node.
 */
static struct folio *__stable_node_chain(struct xksm_stable_node **_stable_node_dup,
					 struct xksm_stable_node **_stable_node,
					 struct rb_root *root,
					 bool prune_stale_stable_nodes)
{
	struct xksm_stable_node *stable_node = *_stable_node;

	if (!is_stable_node_chain(stable_node)) {
		*_stable_node_dup = stable_node;
		return xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_NOLOCK);
	}
	return stable_node_dup(_stable_node_dup, _stable_node, root,
			       prune_stale_stable_nodes);
}

/**
 * xksm_stable_tree_search - find a KSM page with the content of @page
 * @page: the page being scanned
 * @key: its key (page_key.c); unused if @page is a KSM page in the tree
 *
 * Returns the KSM page (with a reference) to merge @page with: @page itself
 * if it is already a KSM page (forked, or migrated and now re-placed), or
 * NULL if none matches or the matches are full, or ERR_PTR(-EBUSY) if the
 * match is locked (try again later).
 */
struct page *xksm_stable_tree_search(struct page *page, u64 key)
{
	struct xksm_stable_node *stable_node, *stable_node_dup;
	struct xksm_stable_node *page_node;
	struct rb_node **new, *parent;
	struct rb_root *root;
	struct folio *folio;
	int nid;

	folio = page_folio(page);
	page_node = xksm_folio_stable_node(folio);
	if (page_node && page_node->head != &xksm_migrate_nodes) {
		/* ksm page forked */
		folio_get(folio);
		return &folio->page;
	}

	nid = xksm_get_kpfn_nid(folio_pfn(folio));
	root = xksm_stable_root(nid, key);
again:
	new = &root->rb_node;
	parent = NULL;

	while (*new) {
		struct folio *tree_folio;
		int ret;

		stable_node = rb_entry(*new, struct xksm_stable_node, node);
		ret = xksm_key_cmp(key, stable_node->key);
		if (!ret) {
			cond_resched();
			tree_folio = __stable_node_chain(&stable_node_dup,
							 &stable_node, root, true);
			if (!tree_folio) {
				/*
				 * A stale node was removed, which may have
				 * rebalanced the tree under us: start again
				 * rather than insert in a wrong place.
				 */
				goto again;
			}
			/*
			 * Equal keys are equal bytes but for a chance of
			 * 2^-64 (the seed is secret).  A KSM page to place
			 * needs its bytes compared, to go in order; a page
			 * to merge does not: the merge compares them anyway,
			 * with the pte write-protected (merge.c), and on a
			 * collision the page just does not merge.  That
			 * saves one full memcmp() of two of every merge.
			 */
			ret = page_node ? xksm_memcmp_pages(page, &tree_folio->page) : 0;
			folio_put(tree_folio);
		}

		/* After __stable_node_chain(): a chain may have collapsed. */
		parent = *new;
		if (ret < 0) {
			new = &parent->rb_left;
		} else if (ret > 0) {
			new = &parent->rb_right;
		} else {
			if (page_node) {
				/*
				 * Our migrated KSM page mapped at most once
				 * can merge with this one; else it joins the
				 * chain as another dup.
				 */
				if (xksm_mapcount(&folio->page) > 1)
					goto chain_append;
			}

			if (!xksm_is_page_sharing_candidate(stable_node_dup)) {
				/*
				 * A match, but every dup is full: wait for the
				 * page to find a partner in the unstable tree
				 * and become a new dup.
				 */
				return NULL;
			}

			/*
			 * Lock and unlock the stable node's page (which might
			 * already have been migrated) so that page migration
			 * is sure to notice its raised count.
			 */
			tree_folio = xksm_get_ksm_folio(stable_node_dup,
							XKSM_GET_FOLIO_TRYLOCK);
			if (PTR_ERR(tree_folio) == -EBUSY)
				return ERR_PTR(-EBUSY);
			if (unlikely(!tree_folio))
				goto again;	/* the tree may have changed */
			folio_unlock(tree_folio);

			if (xksm_get_kpfn_nid(stable_node_dup->kpfn) !=
			    stable_node_dup->nid) {
				folio_put(tree_folio);
				goto replace;
			}
			return &tree_folio->page;
		}
	}

	if (!page_node)
		return NULL;

	list_del(&page_node->list);
	page_node->nid = nid;
	page_node->key = key;
	rb_link_node(&page_node->node, parent, new);
	rb_insert_color(&page_node->node, root);
out:
	if (xksm_is_page_sharing_candidate(page_node)) {
		folio_get(folio);
		return &folio->page;
	}
	return NULL;

replace:
	/*
	 * The match's page has moved to another node.  If stable_node was a
	 * chain and collapsed, stable_node == stable_node_dup: there is no
	 * chain.  Otherwise stable_node is the chain and stable_node_dup the
	 * dup to replace.
	 */
	if (stable_node_dup == stable_node) {
		/* there is no chain */
		if (page_node) {
			list_del(&page_node->list);
			page_node->nid = nid;
			page_node->key = key;
			rb_replace_node(&stable_node_dup->node, &page_node->node,
					root);
			if (xksm_is_page_sharing_candidate(page_node))
				folio_get(folio);
			else
				folio = NULL;
		} else {
			rb_erase(&stable_node_dup->node, root);
			folio = NULL;
		}
	} else {
		__stable_node_dup_del(stable_node_dup);
		if (page_node) {
			list_del(&page_node->list);
			page_node->nid = nid;
			page_node->key = key;
			stable_node_chain_add_dup(page_node, stable_node);
			if (xksm_is_page_sharing_candidate(page_node))
				folio_get(folio);
			else
				folio = NULL;
		} else {
			folio = NULL;
		}
	}
	stable_node_dup->head = &xksm_migrate_nodes;
	list_add(&stable_node_dup->list, stable_node_dup->head);
	return folio ? &folio->page : NULL;

chain_append:
	/* If the chain collapsed (or never was), make one. */
	if (stable_node_dup == stable_node) {
		stable_node = alloc_stable_node_chain(stable_node_dup, root);
		if (!stable_node)
			return NULL;
	}
	/* Add our migrated KSM page to the chain of its content. */
	list_del(&page_node->list);
	page_node->nid = nid;
	page_node->key = key;
	stable_node_chain_add_dup(page_node, stable_node);
	goto out;
}

/**
 * xksm_stable_tree_insert - a stable node for a new KSM page
 * @kfolio: the new KSM page, locked
 * @key: its key (page_key.c)
 *
 * Returns the new node (a dup if the content is already in the tree), or
 * NULL when out of memory.
 */
struct xksm_stable_node *xksm_stable_tree_insert(struct folio *kfolio, u64 key)
{
	struct xksm_stable_node *stable_node, *stable_node_dup;
	struct rb_node **new, *parent;
	bool need_chain = false;
	struct rb_root *root;
	unsigned long kpfn;
	int nid;

	kpfn = folio_pfn(kfolio);
	nid = xksm_get_kpfn_nid(kpfn);
	root = xksm_stable_root(nid, key);
again:
	parent = NULL;
	new = &root->rb_node;

	while (*new) {
		struct folio *tree_folio;
		int ret;

		stable_node = rb_entry(*new, struct xksm_stable_node, node);
		ret = xksm_key_cmp(key, stable_node->key);
		if (!ret) {
			/* Equal keys: the bytes decide. */
			cond_resched();
			tree_folio = __stable_node_chain(&stable_node_dup,
							 &stable_node, root, false);
			if (!tree_folio)
				goto again;	/* a stale node went: start again */
			ret = xksm_memcmp_pages(&kfolio->page, &tree_folio->page);
			folio_put(tree_folio);
		}

		parent = *new;
		if (ret < 0) {
			new = &parent->rb_left;
		} else if (ret > 0) {
			new = &parent->rb_right;
		} else {
			need_chain = true;
			break;
		}
	}

	stable_node_dup = alloc_stable_node();
	if (!stable_node_dup)
		return NULL;

	INIT_HLIST_HEAD(&stable_node_dup->hlist);
	stable_node_dup->kpfn = kpfn;
	stable_node_dup->rmap_hlist_len = 0;
	stable_node_dup->nid = nid;
	/* Equal keys led to a chain: a dup's key is its chain's too. */
	stable_node_dup->key = key;
	if (!need_chain) {
		rb_link_node(&stable_node_dup->node, parent, new);
		rb_insert_color(&stable_node_dup->node, root);
	} else {
		if (!is_stable_node_chain(stable_node)) {
			struct xksm_stable_node *orig = stable_node;

			/* chain is missing so create it */
			stable_node = alloc_stable_node_chain(orig, root);
			if (!stable_node) {
				free_stable_node(stable_node_dup);
				return NULL;
			}
		}
		stable_node_chain_add_dup(stable_node_dup, stable_node);
	}

	xksm_folio_set_stable_node(kfolio, stable_node_dup);
	return stable_node_dup;
}

/**
 * xksm_stable_tree_append - one more mapping of a KSM page
 * @rmap_item: the rmap_item of the mapping, holding its anon_vma reference
 *	unless XKSM_COVERED_FLAG
 * @stable_node: the page's stable node (a dup, never a chain)
 * @max_page_sharing_bypass: a forked KSM page may exceed max_page_sharing
 *
 * The page is locked, so the kernel's rmap walk does not see the list
 * change under it.
 */
void xksm_stable_tree_append(struct xksm_rmap_item *rmap_item,
			     struct xksm_stable_node *stable_node,
			     bool max_page_sharing_bypass)
{
	struct xksm_mm_slot *slot;

	/*
	 * The rmap walk would not find this mapping if the node were a chain
	 * (negative length); a negative length here means memory corruption.
	 */
	if (WARN_ON_ONCE(stable_node->rmap_hlist_len < 0))
		return;

	if (stable_node->rmap_hlist_len++)
		xksm_pages_sharing++;
	else
		xksm_pages_shared++;
	if (!max_page_sharing_bypass)
		/* possibly non fatal but unexpected overflow, only warn */
		WARN_ON_ONCE(stable_node->rmap_hlist_len > xksm_max_page_sharing);

	rmap_item->head = stable_node;
	rmap_item->address |= XKSM_STABLE_FLAG;
	/* A covered mapping is found by another's search (rmap_item.c). */
	if (rmap_item->address & XKSM_COVERED_FLAG)
		hlist_add_head(&rmap_item->hlist, &stable_node->covered);
	else
		hlist_add_head(&rmap_item->hlist, &stable_node->hlist);

	slot = xksm_get_mm_slot(rmap_item->mm);
	if (slot)
		slot->merging_pages++;
}

/*
 * A node nothing lists any more (no live rmap_item, no deferred route) may
 * be stale: its page freed.  Check it, which removes it if so.
 */
static void prune_stale_node(struct xksm_stable_node *stable_node)
{
	struct folio *folio;

	if (!hlist_empty(&stable_node->hlist) ||
	    !hlist_empty(&stable_node->covered))
		return;
	folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_NOLOCK);
	if (folio)
		folio_put(folio);
}

/**
 * xksm_stable_tree_prune - remove the stale nodes, once a pass
 *
 * A search meets a node's page only where the keys are equal, so a stale
 * node would otherwise stay until a page of the same content came by.
 * Only nodes that no rmap_item lists are checked: a page mapped where
 * xksmd scans keeps its rmap_items until xksmd finds it unmapped, and the
 * last of them to leave makes its node a candidate here.  A chain left
 * without dups goes too.
 */
void xksm_stable_tree_prune(void)
{
	struct rb_root *root;

	lockdep_assert_held(&xksm_thread_mutex);
	for (root = xksm_stable_roots; root < xksm_stable_roots_end(); root++) {
		struct rb_node *rb = rb_first(root), *next;

		/*
		 * Pruning erases the node at hand, or a dup of it, and no
		 * other: the successor taken before stays in the tree, in
		 * order.
		 */
		for (; rb; rb = next) {
			struct xksm_stable_node *stable_node, *dup;
			struct hlist_node *hlist_safe;

			next = rb_next(rb);
			stable_node = rb_entry(rb, struct xksm_stable_node, node);
			if (!is_stable_node_chain(stable_node)) {
				prune_stale_node(stable_node);
			} else {
				hlist_for_each_entry_safe(dup, hlist_safe,
							  &stable_node->hlist,
							  hlist_dup)
					prune_stale_node(dup);
				if (hlist_empty(&stable_node->hlist))
					free_stable_node_chain(stable_node, root);
			}
			cond_resched();
		}
	}
}

/*
 * Take a node (not a chain) out of the tree for good, its page no longer
 * mapped: run=2, switching the trees, unload.  Returns -EBUSY if the page
 * is still mapped (an exiting mm between its last user and exit_mmap()).
 */
static int remove_stable_node(struct xksm_stable_node *stable_node)
{
	struct folio *folio;
	int err;

	folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_LOCK);
	if (!folio)
		return 0;	/* it was stale, and is removed */

	err = -EBUSY;
	if (!folio_mapped(folio)) {
		/*
		 * The page may sit in an LRU cache on its way to being freed,
		 * or in the swapcache: clear its key and drop the node.
		 */
		xksm_folio_set_stable_node(folio, NULL);
		remove_node_from_stable_tree(stable_node);
		err = 0;
	}

	folio_unlock(folio);
	folio_put(folio);
	return err;
}

static int remove_stable_node_chain(struct xksm_stable_node *stable_node,
				    struct rb_root *root)
{
	struct xksm_stable_node *dup;
	struct hlist_node *hlist_safe;

	if (!is_stable_node_chain(stable_node))
		return remove_stable_node(stable_node);

	hlist_for_each_entry_safe(dup, hlist_safe, &stable_node->hlist, hlist_dup)
		if (remove_stable_node(dup))
			return -EBUSY;
	WARN_ON_ONCE(!hlist_empty(&stable_node->hlist));
	free_stable_node_chain(stable_node, root);
	return 0;
}

/*
 * Empty the stable trees and the migrate list; -EBUSY if some node's page
 * is still mapped (those nodes stay).
 */
int xksm_remove_all_stable_nodes(void)
{
	struct xksm_stable_node *stable_node, *next;
	struct rb_root *root;
	int err = 0;

	lockdep_assert_held(&xksm_thread_mutex);
	for (root = xksm_stable_roots; root < xksm_stable_roots_end(); root++) {
		while (root->rb_node) {
			stable_node = rb_entry(root->rb_node,
					       struct xksm_stable_node, node);
			if (remove_stable_node_chain(stable_node, root)) {
				err = -EBUSY;
				break;	/* proceed to the next subtree */
			}
			cond_resched();
		}
	}
	list_for_each_entry_safe(stable_node, next, &xksm_migrate_nodes, list) {
		if (remove_stable_node(stable_node))
			err = -EBUSY;
		cond_resched();
	}
	return err;
}

/*
 * Module unload: the nodes whose pages are still mapped (they could not be
 * unmerged) must not outlive the module.  Their pages become KSM pages with
 * no stable node, as the kernel knows them while a node is being set up:
 * CoW still copies them, an rmap walk finds nothing (migration and reclaim
 * of them fail cleanly), and they are freed normally.
 */
static void orphan_stable_node(struct xksm_stable_node *stable_node)
{
	struct folio *folio;

	folio = xksm_get_ksm_folio(stable_node, XKSM_GET_FOLIO_LOCK);
	if (!folio)
		return;		/* stale, and removed */
	xksm_folio_set_stable_node(folio, NULL);
	remove_node_from_stable_tree(stable_node);
	folio_unlock(folio);
	folio_put(folio);
}

void xksm_orphan_all_stable_nodes(void)
{
	struct xksm_stable_node *stable_node, *dup, *next;
	struct hlist_node *hlist_safe;
	struct rb_root *root;

	lockdep_assert_held(&xksm_thread_mutex);
	for (root = xksm_stable_roots; root < xksm_stable_roots_end(); root++) {
		while (root->rb_node) {
			stable_node = rb_entry(root->rb_node,
					       struct xksm_stable_node, node);
			if (!is_stable_node_chain(stable_node)) {
				orphan_stable_node(stable_node);
				continue;
			}
			hlist_for_each_entry_safe(dup, hlist_safe,
						  &stable_node->hlist, hlist_dup)
				orphan_stable_node(dup);
			free_stable_node_chain(stable_node, root);
		}
	}
	list_for_each_entry_safe(stable_node, next, &xksm_migrate_nodes, list)
		orphan_stable_node(stable_node);
}

/*
 * Memory going offline (hotplug.c): remove the nodes whose page frame is in
 * [start_pfn, end_pfn).  Their pages are gone (migration moved the live
 * ones and updated kpfn), so they are not looked at: that is why nodes keep
 * a pfn rather than a page pointer.
 */
static bool stable_node_dup_remove_range(struct xksm_stable_node *stable_node,
					 unsigned long start_pfn,
					 unsigned long end_pfn)
{
	if (stable_node->kpfn >= start_pfn && stable_node->kpfn < end_pfn) {
		remove_node_from_stable_tree(stable_node);
		return true;
	}
	return false;
}

static bool stable_node_chain_remove_range(struct xksm_stable_node *stable_node,
					   unsigned long start_pfn,
					   unsigned long end_pfn,
					   struct rb_root *root)
{
	struct xksm_stable_node *dup;
	struct hlist_node *hlist_safe;

	if (!is_stable_node_chain(stable_node))
		return stable_node_dup_remove_range(stable_node, start_pfn,
						    end_pfn);

	hlist_for_each_entry_safe(dup, hlist_safe, &stable_node->hlist, hlist_dup)
		stable_node_dup_remove_range(dup, start_pfn, end_pfn);
	if (hlist_empty(&stable_node->hlist)) {
		free_stable_node_chain(stable_node, root);
		return true;	/* notify caller that tree was rebalanced */
	}
	return false;
}

void xksm_stable_tree_prune_range(unsigned long start_pfn, unsigned long end_pfn)
{
	struct xksm_stable_node *stable_node, *next;
	struct rb_node *node;
	struct rb_root *root;

	for (root = xksm_stable_roots; root < xksm_stable_roots_end(); root++) {
		node = rb_first(root);
		while (node) {
			stable_node = rb_entry(node, struct xksm_stable_node, node);
			if (stable_node_chain_remove_range(stable_node, start_pfn,
							   end_pfn, root))
				node = rb_first(root);	/* rebalanced */
			else
				node = rb_next(node);
			cond_resched();
		}
	}
	list_for_each_entry_safe(stable_node, next, &xksm_migrate_nodes, list) {
		if (stable_node->kpfn >= start_pfn && stable_node->kpfn < end_pfn)
			remove_node_from_stable_tree(stable_node);
		cond_resched();
	}
}

int xksm_stable_tree_init(void)
{
	/* Zeroed: every root RB_ROOT, every tree empty. */
	xksm_stable_roots = kvcalloc(nr_node_ids * XKSM_STABLE_SPLIT,
				     sizeof(*xksm_stable_roots), GFP_KERNEL);
	if (!xksm_stable_roots)
		return -ENOMEM;
	xksm_stable_node_cache = KMEM_CACHE(xksm_stable_node, 0);
	if (!xksm_stable_node_cache) {
		kvfree(xksm_stable_roots);
		return -ENOMEM;
	}
	return 0;
}

void xksm_stable_tree_exit(void)
{
	kmem_cache_destroy(xksm_stable_node_cache);
	kvfree(xksm_stable_roots);
}
