// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs.c - /sys/kernel/debug/xksm/, a window into xksm's state.
 *
 * Files (root only; their formats are documented in docs/debugfs.md):
 *   kernel_api	every unexported kernel symbol xksm bound at load, and
 *		what its static call points at now
 *   stable_tree	every stable node (chains with their dups, and the
 *		migrate list): its page frame, tree, sharing count and
 *		rmap_items, live, covered or deferred
 *   unstable_tree	the unstable tree's figures
 *   mm_slots	every registered mm, its counters and registered ranges
 *   reap_list	every deferred rmap_item, and whether its node is there
 *   objects	live objects of each of xksm's slab caches
 *   scan		xksmd's cursor and progress, and what was lost to
 *		failed allocations
 *   profile	where xksmd's time goes, phase by phase (profile.c)
 *
 * Everything is read under xksm_thread_mutex, which protects the trees,
 * the stable nodes and rmap_items, the reap list, the cursor, and keeps
 * every mm_slot alive; and after xksm_wait_while_offlining(), as memory
 * going offline prunes the stable tree without the mutex (hotplug.c).
 *
 * The long listings (stable_tree, mm_slots, reap_list) stream through
 * seq_file: each read() takes the mutex in ->start() and drops it in
 * ->stop(), as /proc/slabinfo does with slab_mutex, so a huge tree needs
 * no huge buffer and holds xksmd off for one buffer's worth at a time.
 * The position is the index of an entry: ->start() walks again from the
 * beginning to find it, O(n) per read(), which a debug file can afford.
 * A listing that spans several reads may repeat or miss an entry that
 * changed between them; one entry is always consistent.
 *
 * Unload: main.c removes this directory before it frees anything.
 * debugfs_remove() waits for the readers inside a file operation (debugfs
 * proxies the operations of files made by debugfs_create_file()), and an
 * open file holds a reference on the module (fops->owner), so no read can
 * meet freed state.  As Documentation/filesystems/debugfs.rst asks,
 * nothing here checks for errors at creation (xksm works without debugfs)
 * and the directory is removed as a whole.
 */

#include <linux/debugfs.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "xksm.h"
#include "profile.h"

/* Characters of a comm escaped (as octal), so that it stays one word. */
#define XKSM_COMM_ESCAPE	" \t\n\\"

static struct dentry *xksm_debugfs_root;

/*
 * Take xksm_thread_mutex, and wait until no memory is going offline:
 * hotplug.c prunes the stable tree without the mutex.
 */
static void lock_state(void)
{
	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
}

static void unlock_state(void)
{
	mutex_unlock(&xksm_thread_mutex);
}

/* A kernel pointer, hashed as %p does, or "-" for none. */
static void show_ptr(struct seq_file *m, const void *ptr)
{
	if (ptr)
		seq_printf(m, "%p", ptr);
	else
		seq_putc(m, '-');
}

/*
 * " pid <pid> comm <comm>" of the task that owns @mm, or " pid - comm -"
 * when it has none: an exited mm, still held by its slot or by a deferred
 * rmap_item.  mm->owner exists with CONFIG_MEMCG (set on Debian's
 * kernels); it is cleared when the last user exits, and a task is freed
 * only after an RCU grace period.
 */
static void show_mm_owner(struct seq_file *m, struct mm_struct *mm)
{
#ifdef CONFIG_MEMCG
	char comm[TASK_COMM_LEN];
	struct task_struct *owner;
	pid_t pid = 0;

	rcu_read_lock();
	owner = rcu_dereference(mm->owner);
	if (owner) {
		pid = task_tgid_nr(owner);
		get_task_comm(comm, owner);
	}
	rcu_read_unlock();
	if (pid) {
		seq_printf(m, " pid %d comm ", pid);
		seq_escape(m, comm, XKSM_COMM_ESCAPE);
		return;
	}
#endif
	seq_puts(m, " pid - comm -");
}

/*
 * The slot after @slot on the scan list (&xksm_mm_head: the end).  Under
 * xksm_thread_mutex no slot leaves the list (only xksmd, run=2 and unload
 * free slots, all holding it), but new ones join it under xksm_mmlist_lock
 * alone: the list is walked under that lock.
 */
static struct xksm_mm_slot *next_mm_slot(struct xksm_mm_slot *slot)
{
	lockdep_assert_held(&xksm_thread_mutex);
	spin_lock(&xksm_mmlist_lock);
	slot = list_next_entry(slot, mm_node);
	spin_unlock(&xksm_mmlist_lock);
	return slot;
}

/* --- kernel_api ------------------------------------------------------- */

static int kernel_api_show(struct seq_file *m, void *v)
{
	xksm_kernel_api_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kernel_api);

/* --- stable_tree ------------------------------------------------------ */

/*
 * The entries of stable_tree, in order: for each tree, its header and its
 * nodes in tree order (a chain followed by its dups); then the migrate
 * list's header and its nodes.
 */
enum stable_entry {
	STABLE_TREE,		/* "tree <nid>" */
	STABLE_NODE,		/* a node of the tree, not a chain */
	STABLE_CHAIN,		/* a chain of the tree */
	STABLE_DUP,		/* a dup of that chain */
	STABLE_MIGRATE,		/* "migrate" */
	STABLE_MIGRATING,	/* a node on xksm_migrate_nodes */
};

/**
 * struct stable_iter - the stable_tree file's place
 * @what: the kind of entry
 * @nid: the tree, when STABLE_TREE, _NODE, _CHAIN or _DUP
 * @sub: which of its subtrees (by the keys' top bits) @node is in
 * @node: the node, chain or migrating node
 * @dup: the dup of the chain @node, when STABLE_DUP
 */
struct stable_iter {
	enum stable_entry what;
	int nid;
	int sub;
	struct xksm_stable_node *node;
	struct xksm_stable_node *dup;
};

/* Go to tree @nid's header, or past the last tree to the migrate list. */
static bool stable_iter_tree(struct stable_iter *it, int nid)
{
	it->nid = nid;
	it->what = nid < xksm_nr_node_ids ? STABLE_TREE : STABLE_MIGRATE;
	return true;
}

static bool stable_iter_top(struct stable_iter *it, struct rb_node *rb);

/*
 * Go to the first node of the tree's subtree @sub or of a later one, or to
 * the next tree when none: the subtrees follow each other in key order.
 */
static bool stable_iter_subtree(struct stable_iter *it, int sub)
{
	struct rb_node *rb;

	for (; sub < XKSM_STABLE_SPLIT; sub++) {
		rb = xksm_stable_subtree_first(it->nid, sub);
		if (rb) {
			it->sub = sub;
			return stable_iter_top(it, rb);
		}
	}
	return stable_iter_tree(it, it->nid + 1);
}

/* Go to the subtree's node at @rb, or on to the next subtree when none. */
static bool stable_iter_top(struct stable_iter *it, struct rb_node *rb)
{
	if (!rb)
		return stable_iter_subtree(it, it->sub + 1);
	it->node = rb_entry(rb, struct xksm_stable_node, node);
	it->what = is_stable_node_chain(it->node) ? STABLE_CHAIN : STABLE_NODE;
	return true;
}

/* Go to the chain's dup at @pos, or past the chain when none. */
static bool stable_iter_dup(struct stable_iter *it, struct hlist_node *pos)
{
	if (!pos)
		return stable_iter_top(it, rb_next(&it->node->node));
	it->dup = hlist_entry(pos, struct xksm_stable_node, hlist_dup);
	it->what = STABLE_DUP;
	return true;
}

/* Go to the migrating node at @pos; false at the end of the list. */
static bool stable_iter_migrating(struct stable_iter *it, struct list_head *pos)
{
	if (pos == &xksm_migrate_nodes)
		return false;
	it->node = list_entry(pos, struct xksm_stable_node, list);
	it->what = STABLE_MIGRATING;
	return true;
}

/* Step to the next entry; false past the last one. */
static bool stable_iter_next(struct stable_iter *it)
{
	lockdep_assert_held(&xksm_thread_mutex);
	switch (it->what) {
	case STABLE_TREE:
		return stable_iter_subtree(it, 0);
	case STABLE_NODE:
		return stable_iter_top(it, rb_next(&it->node->node));
	case STABLE_CHAIN:
		return stable_iter_dup(it, it->node->hlist.first);
	case STABLE_DUP:
		return stable_iter_dup(it, it->dup->hlist_dup.next);
	case STABLE_MIGRATE:
		return stable_iter_migrating(it, xksm_migrate_nodes.next);
	case STABLE_MIGRATING:
		return stable_iter_migrating(it, it->node->list.next);
	}
	return false;
}

static const char *rmap_item_state(struct xksm_rmap_item *rmap_item)
{
	if (rmap_item->address & XKSM_DEFERRED_FLAG)
		return "deferred";
	if (rmap_item->address & XKSM_COVERED_FLAG)
		return "covered";
	return "live";
}

/* One line for an rmap_item listed from a stable node. */
static void show_stable_rmap_item(struct seq_file *m,
				  struct xksm_rmap_item *rmap_item, int indent)
{
	seq_printf(m, "%*srmap %s", indent, "", rmap_item_state(rmap_item));
	show_mm_owner(m, rmap_item->mm);
	seq_printf(m, " addr %#lx anon_vma ", rmap_item->address & PAGE_MASK);
	show_ptr(m, rmap_item->anon_vma);
	seq_putc(m, '\n');
}

/*
 * A stable node (not a chain) and its rmap_items: the hlist the kernel's
 * rmap walk searches (live and deferred ones), then the covered list.  A
 * dup names its chain: every entry stands alone, as a listing that spans
 * several reads may shift between them.  kpfn is written by the kernel's
 * folio_migrate_ksm() under the page lock alone.
 */
static void show_stable_node(struct seq_file *m, struct xksm_stable_node *node,
			     struct xksm_stable_node *chain, const char *what,
			     int indent)
{
	struct xksm_rmap_item *rmap_item;

	seq_printf(m, "%*s%s %p", indent, "", what, node);
	if (chain)
		seq_printf(m, " chain %p", chain);
	seq_printf(m, " kpfn %lu nid %d sharing %d\n", READ_ONCE(node->kpfn),
		   node->nid, node->rmap_hlist_len);
	hlist_for_each_entry(rmap_item, &node->hlist, hlist)
		show_stable_rmap_item(m, rmap_item, indent + 2);
	hlist_for_each_entry(rmap_item, &node->covered, hlist)
		show_stable_rmap_item(m, rmap_item, indent + 2);
}

/* A chain, its own nid being NUMA_NO_NODE: that of its tree instead. */
static void show_stable_chain(struct seq_file *m, struct xksm_stable_node *chain,
			      int nid)
{
	struct xksm_stable_node *dup;
	int dups = 0;

	hlist_for_each_entry(dup, &chain->hlist, hlist_dup)
		dups++;
	seq_printf(m, "  chain %p nid %d dups %d\n", chain, nid, dups);
}

static void *stable_tree_start(struct seq_file *m, loff_t *pos)
{
	struct stable_iter *it = m->private;
	loff_t i;

	lock_state();
	stable_iter_tree(it, 0);
	for (i = 0; i < *pos; i++) {
		if (!stable_iter_next(it))
			return NULL;
		cond_resched();
	}
	return it;
}

static void *stable_tree_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return stable_iter_next(v) ? v : NULL;
}

static void stable_tree_stop(struct seq_file *m, void *v)
{
	unlock_state();
}

static int stable_tree_show(struct seq_file *m, void *v)
{
	struct stable_iter *it = v;

	lockdep_assert_held(&xksm_thread_mutex);
	switch (it->what) {
	case STABLE_TREE:
		seq_printf(m, "tree %d\n", it->nid);
		break;
	case STABLE_NODE:
		show_stable_node(m, it->node, NULL, "node", 2);
		break;
	case STABLE_CHAIN:
		show_stable_chain(m, it->node, it->nid);
		break;
	case STABLE_DUP:
		show_stable_node(m, it->dup, it->node, "dup", 4);
		break;
	case STABLE_MIGRATE:
		seq_puts(m, "migrate\n");
		break;
	case STABLE_MIGRATING:
		show_stable_node(m, it->node, NULL, "migrating", 2);
		break;
	}
	return 0;
}

static const struct seq_operations stable_tree_sops = {
	.start	= stable_tree_start,
	.next	= stable_tree_next,
	.stop	= stable_tree_stop,
	.show	= stable_tree_show,
};

static int stable_tree_open(struct inode *inode, struct file *file)
{
	return seq_open_private(file, &stable_tree_sops,
				sizeof(struct stable_iter));
}

static const struct file_operations stable_tree_fops = {
	.owner		= THIS_MODULE,
	.open		= stable_tree_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= seq_release_private,
};

/* --- unstable_tree ---------------------------------------------------- */

/*
 * Count the nodes of the unstable trees, by nid, among @slot's rmap_items.
 *
 * The trees themselves are not walked: between passes a tree still holds
 * the last pass's rmap_items, some of them freed since (they are forgotten
 * at the next pass's start, never erased: unstable_tree.c), and the tree of
 * a NUMA node unused for a while (merge_across_nodes) is reset only when
 * next used.  The rmap_items in a tree are those tagged with this pass's
 * seqnr, as xksm_remove_rmap_item_from_tree() tells.
 */
static void count_unstable_nodes(struct xksm_mm_slot *slot,
				 unsigned long *nodes)
{
	struct xksm_rmap_item *rmap_item;
	unsigned long age;

	lockdep_assert_held(&xksm_thread_mutex);
	for (rmap_item = slot->rmap_list; rmap_item;
	     rmap_item = rmap_item->rmap_list) {
		if (!(rmap_item->address & XKSM_UNSTABLE_FLAG))
			continue;
		age = (xksm_scan.seqnr - rmap_item->address) & XKSM_SEQNR_MASK;
		if (!age && rmap_item->nid < nr_node_ids)
			nodes[rmap_item->nid]++;
	}
}

/*
 * pages_unshared also counts the rmap_items of the last pass's tree until
 * xksmd passes them again: it is at least the sum of the nodes.
 */
static int unstable_tree_show(struct seq_file *m, void *v)
{
	struct xksm_mm_slot *slot;
	unsigned long *nodes;
	int nid;

	nodes = kcalloc(nr_node_ids, sizeof(*nodes), GFP_KERNEL);
	if (!nodes)
		return -ENOMEM;
	lock_state();
	for (slot = next_mm_slot(&xksm_mm_head); slot != &xksm_mm_head;
	     slot = next_mm_slot(slot)) {
		count_unstable_nodes(slot, nodes);
		cond_resched();
	}
	seq_printf(m, "pages_unshared %lu\n", xksm_pages_unshared);
	seq_printf(m, "seqnr %lu\n", xksm_scan.seqnr);
	for (nid = 0; nid < nr_node_ids; nid++)
		if (nid < xksm_nr_node_ids || nodes[nid])
			seq_printf(m, "tree %d nodes %lu\n", nid, nodes[nid]);
	unlock_state();
	kfree(nodes);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(unstable_tree);

/* --- mm_slots --------------------------------------------------------- */

static void *mm_slots_start(struct seq_file *m, loff_t *pos)
{
	struct xksm_mm_slot *slot, *found = NULL;
	loff_t i = *pos;

	lock_state();
	spin_lock(&xksm_mmlist_lock);	/* see next_mm_slot() */
	list_for_each_entry(slot, &xksm_mm_head.mm_node, mm_node) {
		if (!i--) {
			found = slot;
			break;
		}
	}
	spin_unlock(&xksm_mmlist_lock);
	return found;
}

static void *mm_slots_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct xksm_mm_slot *slot = next_mm_slot(v);

	++*pos;
	return slot == &xksm_mm_head ? NULL : slot;
}

static void mm_slots_stop(struct seq_file *m, void *v)
{
	unlock_state();
}

static const char *range_state_name(void *state)
{
	if (state == XKSM_RANGE_ON)
		return "on";
	if (state == XKSM_RANGE_OFF)
		return "off";
	if (state == XKSM_RANGE_KEEP)
		return "keep";
	return "?";
}

/*
 * A slot's registered ranges.  They change under the mm's mmap_lock held
 * for write (mm_slot.c), and the tree is not in RCU mode (a writer frees
 * its nodes at once), so they are read under the mmap_lock:
 * xksm_thread_mutex nests outside it, and the slot's mmgrab() keeps the
 * lock there even after the mm has exited.
 */
static int show_mm_slot_ranges(struct seq_file *m, struct xksm_mm_slot *slot)
{
	MA_STATE(mas, &slot->ranges, 0, 0);
	void *state;

	if (mmap_read_lock_killable(slot->mm))
		return -EINTR;
	rcu_read_lock();	/* for the maple tree's lockdep checks */
	mas_for_each(&mas, state, ULONG_MAX)
		seq_printf(m, "  range %#lx-%#lx %s\n", mas.index, mas.last + 1,
			   range_state_name(state));
	rcu_read_unlock();
	mmap_read_unlock(slot->mm);
	return 0;
}

static int mm_slots_show(struct seq_file *m, void *v)
{
	struct xksm_mm_slot *slot = v;

	lockdep_assert_held(&xksm_thread_mutex);
	seq_printf(m, "mm_slot %p", slot);
	show_mm_owner(m, slot->mm);
	seq_printf(m, " exited %d merge_any %d merging_pages %lu rmap_items %lu zero_pages %lu profit %ld domain %llu\n",
		   xksm_test_exit(slot->mm), READ_ONCE(slot->merge_any),
		   slot->merging_pages, slot->rmap_items, slot->zero_pages,
		   xksm_profit(slot->merging_pages, slot->zero_pages,
			       slot->rmap_items),
		   xksm_domain(&slot->ident));
	return show_mm_slot_ranges(m, slot);
}

static const struct seq_operations mm_slots_sops = {
	.start	= mm_slots_start,
	.next	= mm_slots_next,
	.stop	= mm_slots_stop,
	.show	= mm_slots_show,
};
DEFINE_SEQ_ATTRIBUTE(mm_slots);

/* --- reap_list -------------------------------------------------------- */

static void *reap_list_start(struct seq_file *m, loff_t *pos)
{
	struct xksm_rmap_item *route;
	loff_t i;

	lock_state();
	route = xksm_reap_list_first();
	for (i = *pos; route && i; i--)
		route = route->rmap_list;
	return route;
}

static void *reap_list_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct xksm_rmap_item *route = v;

	++*pos;
	return route->rmap_list;
}

static void reap_list_stop(struct seq_file *m, void *v)
{
	unlock_state();
}

/*
 * A deferred rmap_item holds its anon_vma reference and its node only
 * while XKSM_STABLE_FLAG is set: a removed node leaves it with neither,
 * for xksmd to free.  It holds an mmgrab() on its mm.
 */
static int reap_list_show(struct seq_file *m, void *v)
{
	struct xksm_rmap_item *route = v;
	bool on_node = route->address & XKSM_STABLE_FLAG;

	lockdep_assert_held(&xksm_thread_mutex);
	seq_printf(m, "deferred addr %#lx anon_vma ", route->address & PAGE_MASK);
	show_ptr(m, on_node ? route->anon_vma : NULL);
	show_mm_owner(m, route->mm);
	seq_puts(m, " node ");
	show_ptr(m, on_node ? route->head : NULL);
	if (on_node)
		seq_printf(m, " kpfn %lu\n", READ_ONCE(route->head->kpfn));
	else
		seq_puts(m, " kpfn -\n");
	return 0;
}

static const struct seq_operations reap_list_sops = {
	.start	= reap_list_start,
	.next	= reap_list_next,
	.stop	= reap_list_stop,
	.show	= reap_list_show,
};
DEFINE_SEQ_ATTRIBUTE(reap_list);

/* --- objects ---------------------------------------------------------- */

/* Live objects of each slab cache, by the cache's name; a snapshot. */
static int objects_show(struct seq_file *m, void *v)
{
	lock_state();
	seq_printf(m, "xksm_rmap_item %lu deferred %lu spare %u\n",
		   xksm_rmap_items, xksm_rmap_items_deferred,
		   xksm_nr_spare_rmap_items);
	seq_printf(m, "xksm_stable_node %lu chains %lu dups %lu\n",
		   xksm_stable_nodes, xksm_stable_node_chains,
		   xksm_stable_node_dups);
	seq_printf(m, "xksm_mm_slot %ld\n", atomic_long_read(&xksm_mm_slots));
	unlock_state();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(objects);

/* --- scan ------------------------------------------------------------- */

/*
 * The cursor's slot is written under xksm_mmlist_lock too (a slot that
 * joins while run=2 unmerges may become it); under xksm_thread_mutex it
 * cannot be freed.
 */
static int scan_show(struct seq_file *m, void *v)
{
	struct xksm_mm_slot *slot;

	lock_state();
	spin_lock(&xksm_mmlist_lock);
	slot = xksm_scan.mm_slot;
	spin_unlock(&xksm_mmlist_lock);

	seq_printf(m, "run %lu\n", xksm_run);
	if (slot == &xksm_mm_head) {
		seq_puts(m, "mm_slot - pid - comm -\naddress -\n");
	} else {
		seq_printf(m, "mm_slot %p", slot);
		show_mm_owner(m, slot->mm);
		seq_printf(m, "\naddress %#lx\n", xksm_scan.address);
	}
	seq_printf(m, "full_scans %lu\n", xksm_scan.seqnr);
	seq_printf(m, "pages_scanned %lu\n", xksm_pages_scanned);
	seq_printf(m, "pages_to_scan %u\n", xksm_thread_pages_to_scan);
	seq_printf(m, "forks_lost %ld\n", atomic_long_read(&xksm_fork_lost));
	seq_printf(m, "routes_lost %lu\n", xksm_routes_lost);
	unlock_state();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(scan);

void xksm_debugfs_init(void)
{
	struct dentry *root = debugfs_create_dir(XKSM_NAME, NULL);

	xksm_debugfs_root = root;
	debugfs_create_file("kernel_api", 0400, root, NULL, &kernel_api_fops);
	debugfs_create_file("stable_tree", 0400, root, NULL, &stable_tree_fops);
	debugfs_create_file("unstable_tree", 0400, root, NULL,
			    &unstable_tree_fops);
	debugfs_create_file("mm_slots", 0400, root, NULL, &mm_slots_fops);
	debugfs_create_file("reap_list", 0400, root, NULL, &reap_list_fops);
	debugfs_create_file("objects", 0400, root, NULL, &objects_fops);
	debugfs_create_file("scan", 0400, root, NULL, &scan_fops);
	xksm_profile_debugfs(root);
}

/*
 * Called first at unload: debugfs_remove() returns once no reader is
 * inside a file operation, before anything they read is freed.
 */
void xksm_debugfs_exit(void)
{
	debugfs_remove(xksm_debugfs_root);
	xksm_debugfs_root = NULL;
}
