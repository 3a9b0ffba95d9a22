/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xksm - Kernel Samepage Merging as a loadable module.
 *
 * DOC: overview
 *
 * xksm finds identical private anonymous pages in memory that processes
 * registered through /dev/xksm, and maps them all to one write-protected
 * copy, as mainline KSM (mm/ksm.c) does for MADV_MERGEABLE memory.  It is a
 * module: it builds against a distro kernel's headers and needs no patch.
 *
 * The algorithm is mainline's, made cheaper in two places (see
 * docs/performance.md): both trees are ordered by a keyed hash of the page
 * first (page_key.c), so that a search looks at another page only where
 * the hashes are equal; and xksmd finds the pages of an mm a chunk at a
 * time, under one mmap_lock.  xksmd (scan.c) walks the registered memory
 * of every registered mm, a few pages at a time.  For each page it first
 * searches the stable tree (stable_tree.c) of pages already merged; on a
 * match the page is merged with that KSM page (merge.c).  Otherwise, if the
 * page's checksum has not changed since the last pass (a volatile page is
 * not worth comparing), it searches the unstable tree (unstable_tree.c) of
 * pages seen in this pass: on a match both pages are merged into a new KSM
 * page, which moves to the stable tree; else the page joins the unstable
 * tree.  The unstable tree is thrown away and rebuilt every full pass, as
 * its pages may change under it; the stable tree's pages are write
 * protected, so it stays ordered.
 *
 * Every scanned page has an rmap_item (rmap_item.c), kept in a list per mm
 * sorted by address; a merged page's rmap_items hang off its stable node,
 * and that is how the kernel finds the ptes of a KSM page.  The core mm
 * reaches a KSM page's private data only through a few out-of-line
 * functions (rmap_walk_ksm, folio_migrate_ksm, ...), which read the stable
 * node that page->mapping points to.  xksm lays its stable nodes and
 * rmap_items out exactly as the kernel's own (asserted in stable_tree.c), so
 * merged pages stay real KSM pages for swap, migration, compaction and CoW.
 *
 * Files, one concern each:
 *   main.c		module init/exit wiring
 *   kernel_api.c	binds the unexported kernel functions xksm calls
 *   compat.h		every kernel-version difference, and nothing else
 *   dev.c		/dev/xksm and its ioctls (include/uapi/linux/xksm.h)
 *   stat_file.c	files that read as /proc/<pid>/ksm_stat of one mm
 *   mm_slot.c		registered mms and their registered ranges
 *   domain.c		merge domains: whose pages may merge with whose
 *   scan.c		xksmd: the scanner thread and its cursor
 *   rmap_item.c	rmap_items: allocation, the per-mm lists, removal
 *   stable_tree.c	stable nodes, chains and dups, the stable tree
 *   unstable_tree.c	the unstable tree
 *   page_key.c		the trees' order: a page's keyed hash, then its bytes
 *   merge.c		write-protecting, replacing and unmerging pages
 *   walk.c		page-table walks that skip holes fast
 *   ksm_coexist.c	keeping the kernel's own KSM off xksm's pages
 *   fork.c		a forked child inherits its parent's registration
 *   hotplug.c		memory going offline
 *   sysfs.c		/sys/kernel/mm/xksm/: mainline KSM's knobs and counters
 *   debugfs.c		/sys/kernel/debug/xksm/
 *   profile.c		debugfs profile: where xksmd's time goes
 *   trace.c, trace.h	the xksm:* tracepoints (docs/tracepoints.md)
 *
 * Lock order (outermost first), in the manner of mm/rmap.c:
 *
 *   xksm_thread_mutex			(scan.c: xksmd's work, run, knobs)
 *     mm->mmap_lock			(of one mm at a time)
 *       folio lock			(trylock when merging)
 *         anon_vma->rwsem		(the kernel's rmap walks)
 *           pte lock
 *   xksm_mmlist_lock			(mm_slot.c: a spinlock, innermost;
 *					 taken under any of the above)
 *
 * xksm_thread_mutex protects the stable and unstable trees, every
 * rmap_item and stable node, the per-mm rmap lists, and the counters
 * below.  xksmd holds it while it scans; run=2, the knobs that rebuild the
 * trees, and module unload take it to stop xksmd.  The ioctls never take
 * it: they serialize with xksmd through each mm's mmap_lock (registration
 * changes hold it for write; xksmd merges only under it for read, after
 * checking that the address is still registered).
 */
#ifndef _XKSM_H
#define _XKSM_H

#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/maple_tree.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct seq_file;

#define XKSM_NAME	"xksm"

/* XKSM_VERSION comes from dkms.conf through Kbuild: one place to bump. */
#if !defined(XKSM_VERSION) || !defined(XKSM_VERSION_CODE)
#error "XKSM_VERSION and XKSM_VERSION_CODE are set by Kbuild from dkms.conf"
#endif

/**
 * struct xksm_stable_node - node of the stable rbtree, one per KSM page
 * @node: rb node of this KSM page in the stable tree
 * @key: its page's key (page_key.c), by which the tree is ordered first;
 *	set in every state (a dup's is its chain's, and it is kept on the
 *	migrate list): xksm_cmp_and_merge_page() checks a new mapping's
 *	merge domain by it
 * @head: (overlaying parent) &xksm_migrate_nodes: temporarily on that list;
 *	XKSM_STABLE_NODE_DUP_HEAD: a dup hanging off a chain
 * @hlist_dup: linked into the chain's @hlist, when a dup
 * @list: linked into xksm_migrate_nodes, pending placement in the right tree
 * @covered: rmap_items of mappings that a search listed on @hlist already
 *	finds (rmap_item.c): they are not searched again
 * @hlist: the rmap_items mapping this KSM page (a chain: its dups)
 * @kpfn: page frame number of this KSM page (maybe temporarily on a wrong nid)
 * @chain_prune_time: a chain's time of its last pruning of stale dups
 * @rmap_hlist_len: number of rmap_items in @hlist, XKSM_STABLE_NODE_CHAIN
 *	for a chain
 * @nid: NUMA node id of the stable tree in which linked (may not match kpfn)
 *
 * From @hlist on, the layout is the kernel's struct ksm_stable_node: the
 * kernel's rmap_walk_ksm() and folio_migrate_ksm() read @hlist and write
 * @kpfn of the node that page->mapping points to, and the size is the
 * same, 64 bytes.  The first 40 bytes the kernel never reads: there xksm
 * keeps what each state of a node needs - in the tree @node and @key, as
 * a dup @head and @hlist_dup, on the migrate list @head and @list (a node
 * is never a dup and on that list at once: mainline keeps the two apart,
 * xksm overlays them) - and, in every state, @covered.
 *
 * @hlist lists the rmap_items the kernel searches: live ones, and deferred
 * ones (XKSM_DEFERRED_FLAG) kept for mappings only they lead to.
 * @rmap_hlist_len counts the live rmap_items, on @hlist and @covered: the
 * mappings sharing the page, which max_page_sharing limits.
 */
struct xksm_stable_node {
	union {
		struct {		/* when node of stable tree */
			struct rb_node node;
			u64 key;
		};
		struct {		/* when a dup, or listed for migration */
			struct list_head *head;
			union {
				struct hlist_node hlist_dup;
				struct list_head list;
			};
		};
	};
	struct hlist_head covered;
	struct hlist_head hlist;
	union {
		unsigned long kpfn;
		unsigned long chain_prune_time;
	};
	/*
	 * XKSM_STABLE_NODE_CHAIN can be any negative number, but better not
	 * -1, to detect underflows reliably.
	 */
#define XKSM_STABLE_NODE_CHAIN	-1024
	int rmap_hlist_len;
	int nid;
};

/* A chain's @hlist lists its dups, not rmap_items (stable_tree.c). */
static inline bool is_stable_node_chain(struct xksm_stable_node *chain)
{
	return chain->rmap_hlist_len == XKSM_STABLE_NODE_CHAIN;
}

/**
 * struct xksm_rmap_item - reverse mapping item for one virtual address
 * @rmap_list: next rmap_item in the mm_slot's rmap_list (sorted by
 *	address); when deferred, the next on the reap list
 * @anon_vma: anon_vma in which to find this mapping, when stable and not
 *	covered (a reference is held): the anon_vma of the page before it
 *	was merged, whose tree holds every vma that may map it
 * @nid: NUMA node id of the unstable tree in which linked
 * @key_hi: the high half of the page's key (page_key.c) when inserted in
 *	the unstable tree; @oldchecksum is the low half
 * @mm: the mm this rmap_item maps into (the slot holds mmgrab() on it;
 *	a deferred rmap_item holds its own)
 * @address: the virtual address (low bits: the flags below)
 * @oldchecksum: the low half of the page's key when last scanned, when
 *	not stable: its checksum
 * @age: number of scans that found this page unmerged (smart_scan)
 * @remaining_skips: scans to skip before the next look (smart_scan)
 * @node: rb node of this rmap_item in the unstable tree
 * @head: the stable node (a dup, never a chain) listing this rmap_item
 * @hlist: link in @head's hlist, or in its covered list when covered
 *
 * The layout is the kernel's struct ksm_rmap_item: rmap_walk_ksm() reads
 * @anon_vma, @mm, @address and @hlist.
 */
struct xksm_rmap_item {
	struct xksm_rmap_item *rmap_list;
	union {
		struct anon_vma *anon_vma;	/* when stable */
		struct {			/* when not stable */
			int nid;		/* in the unstable tree */
			u32 key_hi;		/* key: xksm_rmap_item_key() */
		};
	};
	struct mm_struct *mm;
	unsigned long address;		/* + low bits used for flags below */
	u32 oldchecksum;		/* when unstable */
	u8 age;
	u8 remaining_skips;
	union {
		struct rb_node node;	/* when node of unstable tree */
		struct {		/* when listed from stable tree */
			struct xksm_stable_node *head;
			struct hlist_node hlist;
		};
	};
};

/*
 * The key an rmap_item's page had when last hashed (page_key.c): the tree
 * key while in the unstable tree, a hint for the next search after.  Not
 * while stable (anon_vma has the room then); 0 if never hashed, and
 * possibly stale bits after being stable: a hint only, which a merge's
 * memcmp() checks.
 */
static inline u64 xksm_rmap_item_key(const struct xksm_rmap_item *rmap_item)
{
	return (u64)rmap_item->key_hi << 32 | rmap_item->oldchecksum;
}

static inline void xksm_rmap_item_set_key(struct xksm_rmap_item *rmap_item, u64 key)
{
	rmap_item->oldchecksum = key;
	rmap_item->key_hi = key >> 32;
}

#define XKSM_SEQNR_MASK		0x07f	/* low bits of unstable tree seqnr */
#define XKSM_DEFERRED_FLAG	0x080	/* on the reap list (rmap_item.c) */
#define XKSM_UNSTABLE_FLAG	0x100	/* is a node of the unstable tree */
#define XKSM_STABLE_FLAG	0x200	/* is listed from the stable tree */
#define XKSM_ZERO_FLAG		0x400	/* its pte maps the zero page */
#define XKSM_COVERED_FLAG	0x800	/* stable, on the node's covered list */

/**
 * struct xksm_identity - whose memory an mm is, for merge domains
 * @memcg: id of the memory cgroup of the process that registered it
 * @uid: its effective uid, in the initial user namespace
 * @id: the domain id given with XKSM_SET_DOMAIN, else 0
 *
 * Taken at registration (domain.c); the current merge_scope picks one.
 */
struct xksm_identity {
	u64 memcg;
	u32 uid;
	u32 id;
};

/**
 * struct xksm_mm_slot - an mm registered with xksm
 * @hash: link in xksm_mm_slots_hash, under xksm_mmlist_lock
 * @mm_node: link in the scan list (xksm_mm_head), under xksm_mmlist_lock
 * @mm: the mm; the slot holds mmgrab() on it until the slot is freed
 * @rmap_list: head of this mm's rmap_items, sorted by address; under
 *	xksm_thread_mutex
 * @ranges: the registered address ranges, as [first, last] entries of
 *	value XKSM_RANGE_ON; changed with the mm's mmap_lock held for write,
 *	read under it (the tree has its own lock too)
 * @merge_any: all private anonymous memory of the mm is registered; as
 *	@ranges
 * @ident: whose memory this is (domain.c); as @ranges, and changed to
 *	another domain only under xksm_thread_mutex too (xksm_rehome())
 * @merging_pages: pages of this mm that share a KSM page
 * @rmap_items: rmap_items of this mm
 * @zero_pages: pages of this mm merged with the zero page
 *
 * A slot lives from its first registration until xksmd finds its mm gone
 * (mm_users == 0) or nothing registered any more; only xksmd (or run=2 and
 * unload, holding xksm_thread_mutex) frees it, after taking it off the
 * hash under xksm_mmlist_lock, and, for a live mm, holding its mmap_lock
 * for read.  So a slot found is safe to use while holding xksm_mmlist_lock,
 * or xksm_thread_mutex, or the mm's mmap_lock for write (as the ioctls that
 * change registrations do).  The counters are written under
 * xksm_thread_mutex and read locklessly.
 */
struct xksm_mm_slot {
	struct hlist_node hash;
	struct list_head mm_node;
	struct mm_struct *mm;
	struct xksm_rmap_item *rmap_list;
	struct maple_tree ranges;
	bool merge_any;
	struct xksm_identity ident;
	unsigned long merging_pages;
	unsigned long rmap_items;
	unsigned long zero_pages;
};

/* The states of registered ranges (mm_slot.c) */
#define XKSM_RANGE_ON	xa_mk_value(1)	/* registered */
#define XKSM_RANGE_OFF	xa_mk_value(2)	/* excluded from merge-any */
#define XKSM_RANGE_KEEP	xa_mk_value(3)	/* unregistered, merged pages kept */

/**
 * struct xksm_scan - xksmd's cursor; the one instance is xksm_scan
 * @mm_slot: the slot being scanned (&xksm_mm_head between passes)
 * @address: the next address in it to scan
 * @rmap_list: link to the next rmap_item to scan in its rmap_list
 * @seqnr: count of completed full scans (low bits tag unstable rmap_items)
 *
 * Under xksm_thread_mutex; @mm_slot is also read under xksm_mmlist_lock.
 */
struct xksm_scan {
	struct xksm_mm_slot *mm_slot;
	unsigned long address;
	struct xksm_rmap_item **rmap_list;
	unsigned long seqnr;
};

/* xksm_run values, as mainline's */
#define XKSM_RUN_STOP		0
#define XKSM_RUN_MERGE		1
#define XKSM_RUN_UNMERGE	2
#define XKSM_RUN_OFFLINE	4	/* memory is going offline (hotplug.c) */

/* --- scan.c: xksmd, its lock, cursor and knobs ------------------------- */
extern struct mutex xksm_thread_mutex;
extern struct xksm_scan xksm_scan;
extern bool xksm_scan_unmerging;
extern unsigned long xksm_run;
extern unsigned int xksm_thread_pages_to_scan;
extern unsigned int xksm_thread_sleep_millisecs;
extern bool xksm_smart_scan;
extern unsigned long xksm_pages_scanned;
extern unsigned long xksm_pages_skipped;
enum xksm_advisor_type { XKSM_ADVISOR_NONE, XKSM_ADVISOR_SCAN_TIME };
extern enum xksm_advisor_type xksm_advisor;
extern unsigned long xksm_advisor_max_pages_to_scan;
extern unsigned long xksm_advisor_min_pages_to_scan;
extern unsigned int xksm_advisor_max_cpu;
extern unsigned long xksm_advisor_target_scan_time;
void xksm_set_advisor_defaults(void);
int xksm_scan_init(void);
void xksm_scan_exit(void);
void xksm_wake_xksmd(void);
void xksm_sleep_changed(void);
int xksm_unmerge_all(void);
int xksm_clear_stable_tree(void);
int xksm_set_merge_across_nodes(bool across);

/* --- mm_slot.c --------------------------------------------------------- */
extern spinlock_t xksm_mmlist_lock;
extern atomic_long_t xksm_mm_slots;
extern struct xksm_mm_slot xksm_mm_head;
int xksm_mm_slot_init(void);
void xksm_mm_slot_exit(void);
struct xksm_mm_slot *xksm_get_mm_slot(struct mm_struct *mm);
struct xksm_mm_slot *xksm_get_mm_slot_locked(struct mm_struct *mm);
void xksm_free_mm_slot(struct xksm_mm_slot *slot);
bool xksm_test_exit(struct mm_struct *mm);
bool xksm_mmap_read_lock_pinned(struct mm_struct *mm);
void xksm_mmap_read_unlock_pinned(struct mm_struct *mm);
bool xksm_vma_compatible(struct vm_area_struct *vma);
bool xksm_addr_registered(struct xksm_mm_slot *slot, struct vm_area_struct *vma,
			  unsigned long addr);
bool xksm_addr_kept(struct xksm_mm_slot *slot, unsigned long addr);
struct vm_area_struct *xksm_find_mergeable_vma(struct mm_struct *mm,
					       unsigned long addr);
bool xksm_slot_has_ranges(struct xksm_mm_slot *slot);
int xksm_register(struct mm_struct *mm, const struct xksm_identity *ident,
		  bool set_id, unsigned long start, unsigned long end);
int xksm_unregister(struct mm_struct *mm, unsigned long start, unsigned long end,
		    bool keep_merged);
int xksm_set_merge_any(struct mm_struct *mm, const struct xksm_identity *ident,
		       bool set_id);
int xksm_clear_merge_any(struct mm_struct *mm);
bool xksm_get_merge_any(struct mm_struct *mm, u32 *id);
unsigned long xksm_registered_bytes(struct xksm_mm_slot *slot);
struct xksm_stats;
int xksm_mm_stats(struct mm_struct *mm, struct xksm_stats *stats);
long xksm_profit(unsigned long merging_pages, unsigned long zero_pages,
		 unsigned long rmap_items);

/* --- stat_file.c ------------------------------------------------------- */
int xksm_stat_file_open(struct mm_struct *mm, unsigned int format, bool cloexec);

/* A registered range copied out of a slot's tree (fork.c). */
struct xksm_range_copy {
	unsigned long first, last;
	void *state;
};

int xksm_inherit(struct mm_struct *mm, bool merge_any,
		 const struct xksm_identity *ident,
		 const struct xksm_range_copy *ranges, unsigned int nr);

/* --- domain.c ---------------------------------------------------------- */
enum {
	XKSM_SCOPE_ALL,
	XKSM_SCOPE_UID,
	XKSM_SCOPE_MEMCG,
	XKSM_SCOPE_ID,
	XKSM_NR_SCOPES
};

extern unsigned int xksm_merge_scope;
extern bool xksm_zero_pages_across_domains;
extern const char *const xksm_scope_names[XKSM_NR_SCOPES];
void xksm_identity_of(struct task_struct *task, struct xksm_identity *ident);
u64 xksm_domain(const struct xksm_identity *ident);
u64 xksm_domain_salt(const struct xksm_identity *ident);
bool xksm_domain_differs(const struct xksm_identity *old,
			 const struct xksm_identity *ident);
bool xksm_zero_page_allowed(void);
int xksm_set_domains(unsigned int scope, bool zero_across);

/* --- rmap_item.c ------------------------------------------------------- */
extern unsigned long xksm_rmap_items;
extern unsigned long xksm_rmap_items_deferred;
extern unsigned long xksm_routes_lost;
extern bool xksm_dedup_routes;
/*
 * xksmd takes the pages of a batch a few at a time: up to XKSM_SCAN_CHUNK
 * found by one walk under one mmap_lock (scan.c), then merged one by one
 * with no lock held (the merge takes what it needs, and checks again that
 * the address is still registered).  Mainline takes the mmap_lock and
 * walks the page tables from the top again for every page.  rmap_item.c
 * keeps a chunk's worth of spare rmap_items for the new pages among them.
 */
#define XKSM_SCAN_CHUNK		32
#define XKSM_SPARE_RMAP_ITEMS	XKSM_SCAN_CHUNK
extern unsigned int xksm_nr_spare_rmap_items;
void xksm_refill_spare_rmap_items(void);
void xksm_drain_spare_rmap_items(void);
void xksm_spare_rmap_items_pass_end(void);
int xksm_rmap_item_init(void);
void xksm_rmap_item_exit(void);
struct xksm_rmap_item *xksm_find_rmap_item(struct xksm_mm_slot *slot,
					   struct xksm_rmap_item **rmap_list,
					   unsigned long addr);
struct xksm_rmap_item *xksm_get_next_rmap_item(struct xksm_mm_slot *slot,
					       struct xksm_rmap_item **rmap_list,
					       unsigned long addr);
void xksm_remove_rmap_item_from_tree(struct xksm_rmap_item *rmap_item);
void xksm_remove_trailing_rmap_items(struct xksm_rmap_item **rmap_list);
void xksm_settle_zero_pages(struct xksm_mm_slot *slot);
void xksm_remove_rmap_items_range(struct xksm_mm_slot *slot, unsigned long start,
				  unsigned long end);
bool xksm_rmap_item_covered_by(struct xksm_stable_node *stable_node,
			       struct vm_area_struct *vma, unsigned long addr);
void xksm_reap_deferred(void);
int xksm_break_deferred(void);
bool xksm_reap_pending(void);
struct xksm_rmap_item *xksm_reap_list_first(void);
void xksm_reap_all(void);

/* --- stable_tree.c ----------------------------------------------------- */
extern unsigned long xksm_pages_shared;
extern unsigned long xksm_pages_sharing;
extern unsigned long xksm_stable_node_chains;
extern unsigned long xksm_stable_node_dups;
extern unsigned long xksm_stable_nodes;
extern unsigned int xksm_stable_node_chains_prune_millisecs;
extern int xksm_max_page_sharing;
extern unsigned int xksm_merge_across_nodes;
extern int xksm_nr_node_ids;
/* Each stable tree is this many rb-trees, by the keys' top bits */
#define XKSM_STABLE_SPLIT_BITS	8
#define XKSM_STABLE_SPLIT	BIT(XKSM_STABLE_SPLIT_BITS)
struct rb_node *xksm_stable_subtree_first(int nid, int i);
extern struct list_head xksm_migrate_nodes;
int xksm_stable_tree_init(void);
void xksm_stable_tree_exit(void);
struct xksm_stable_node *xksm_folio_stable_node(struct folio *folio);
struct folio *xksm_get_ksm_folio(struct xksm_stable_node *stable_node,
				 int flags);
#define XKSM_GET_FOLIO_NOLOCK	0
#define XKSM_GET_FOLIO_LOCK	1
#define XKSM_GET_FOLIO_TRYLOCK	2
struct page *xksm_stable_tree_search(struct page *page, u64 key);
struct xksm_stable_node *xksm_stable_tree_insert(struct folio *kfolio, u64 key);
void xksm_stable_tree_prune(void);
void xksm_stable_node_unaccount(struct xksm_stable_node *stable_node,
				struct xksm_rmap_item *rmap_item);
void xksm_stable_tree_append(struct xksm_rmap_item *rmap_item,
			     struct xksm_stable_node *stable_node,
			     bool max_page_sharing_bypass);
bool xksm_is_page_sharing_candidate(struct xksm_stable_node *stable_node);
int xksm_remove_all_stable_nodes(void);
void xksm_orphan_all_stable_nodes(void);
int xksm_get_kpfn_nid(unsigned long kpfn);
void xksm_stable_node_to_migrate_list(struct xksm_stable_node *stable_node);
void xksm_stable_tree_prune_range(unsigned long start_pfn, unsigned long end_pfn);

/* --- unstable_tree.c --------------------------------------------------- */
extern unsigned long xksm_pages_unshared;
extern struct rb_root *xksm_root_unstable_tree;
struct xksm_rmap_item *
xksm_unstable_tree_search_insert(struct xksm_rmap_item *rmap_item,
				 struct page *page, u64 key, u64 salt,
				 struct page **tree_pagep);
void xksm_unstable_tree_reset(void);

/* --- page_key.c -------------------------------------------------------- */
extern u64 xksm_zero_key;
void xksm_page_key_init(void);
u64 xksm_page_key(struct page *page);
int xksm_memcmp_pages(struct page *page1, struct page *page2);

/* The order of two keys, as memcmp()'s result: the trees' first order. */
static inline int xksm_key_cmp(u64 a, u64 b)
{
	return a < b ? -1 : a > b;
}

/* --- merge.c ----------------------------------------------------------- */
extern bool xksm_use_zero_pages;
extern atomic_long_t xksm_zero_pages;
struct page *xksm_get_mergeable_page(struct xksm_rmap_item *rmap_item);
void xksm_cmp_and_merge_page(struct page *page, struct xksm_rmap_item *rmap_item,
			     u64 salt);
void xksm_adopt_ksm_page(struct page *page, struct xksm_rmap_item *rmap_item);
void xksm_break_cow(struct xksm_rmap_item *rmap_item);
int xksm_break_ksm(struct vm_area_struct *vma, unsigned long addr, bool zero_too);
int xksm_unmerge_range(struct xksm_mm_slot *slot, struct vm_area_struct *vma,
		       unsigned long start, unsigned long end);
int xksm_unmerge_vmas(struct xksm_mm_slot *slot, struct mm_struct *mm);

/* --- walk.c ----------------------------------------------------------- */
struct xksm_walk_result {
	struct page *page;	/* the page found (scan), or NULL */
	struct folio *folio;	/* its folio, with a reference (scan) */
	unsigned long addr;	/* where */
	bool zero;		/* a pte mapping the zero page */
	bool skipped;		/* a page xksm_scan_skip() passed over */
};

/*
 * What xksm_walk_pages() asks, under the page table lock, of each page it
 * finds: whether to pass over it without taking a reference (a page that
 * smart_scan skips this pass).  xksm_scan_skip() (scan.c) answers, looking
 * up the rmap_items ahead of the cursor from @peek on, in address order;
 * it must not sleep, nor change anything.  A direct call, not through a
 * pointer: it is asked of every pte.
 */
struct xksm_walk_skip {
	struct xksm_rmap_item *peek;	/* the next rmap_item to look at */
};

bool xksm_scan_skip(struct xksm_walk_skip *ws, unsigned long addr,
		    struct folio *folio);

unsigned int xksm_walk_pages(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, struct xksm_walk_result *res,
			     unsigned int room, unsigned int max,
			     struct xksm_walk_skip *ws, bool ksm_only,
			     unsigned long *next);
void xksm_walk_put(struct xksm_walk_result *res, unsigned int nr);
bool xksm_walk_next(struct vm_area_struct *vma, unsigned long start,
		    unsigned long end, struct xksm_walk_result *res);
bool xksm_pte_ksm_unmapped(struct vm_area_struct *vma, unsigned long addr);
pmd_t *xksm_find_pte_pmd(struct mm_struct *mm, unsigned long addr);
bool xksm_read_pte(struct mm_struct *mm, unsigned long addr, pte_t *ptep);
bool xksm_maps_zero_page(struct mm_struct *mm, unsigned long addr);

/* --- fork.c ----------------------------------------------------------- */
extern atomic_long_t xksm_fork_lost;
int xksm_fork_init(void);
void xksm_fork_exit(void);
void xksm_fork_flush(void);

/* --- hotplug.c -------------------------------------------------------- */
int xksm_hotplug_init(void);
void xksm_hotplug_exit(void);
void xksm_wait_while_offlining(void);

/* --- ksm_coexist.c ---------------------------------------------------- */
int xksm_coexist_init(void);
void xksm_coexist_exit(void);

/* --- kernel_api.c ------------------------------------------------------ */
int xksm_kernel_api_init(void);
void xksm_kernel_api_show(struct seq_file *m);

/* --- dev.c ------------------------------------------------------------- */
int xksm_dev_init(void);
void xksm_dev_exit(void);

/* --- sysfs.c ----------------------------------------------------------- */
int xksm_sysfs_init(void);
void xksm_sysfs_exit(void);

/* --- debugfs.c --------------------------------------------------------- */
void xksm_debugfs_init(void);
void xksm_debugfs_exit(void);

#endif /* _XKSM_H */
