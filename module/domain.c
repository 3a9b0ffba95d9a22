// SPDX-License-Identifier: GPL-2.0
/*
 * domain.c - merge domains: whose pages may merge with whose.
 *
 * Merging pages of different tenants leaks between them: a write to a
 * merged page takes a copy-on-write fault, so a tenant can time its own
 * writes to learn whether some other tenant holds the same content (Dedup
 * Est Machina), and shares physical pages with it (Flip Feng Shui,
 * VUsion).  The merge_scope knob confines merging to a domain:
 *
 *   all	one domain, as the kernel's KSM (the default)
 *   uid	the effective uid of the process that registered the memory
 *   memcg	its memory cgroup
 *   id		an id given with XKSM_SET_DOMAIN (0 if none)
 *
 * An mm's identity - uid, memory cgroup, id - is taken when it registers
 * (mm_slot.c), from the process whose memory it is, and a forked child
 * inherits its parent's.  Registering again takes it afresh; if that moves
 * the mm to another domain under the current scope, its merged pages are
 * unmerged first (xksm_rehome()).  So at any time every page an mm maps
 * from xksm was merged in the mm's domain.
 *
 * How the trees keep domains apart, without a field in their nodes (a
 * stable node has no room left: the kernel fixes its layout): the key by
 * which both trees are ordered (page_key.c) becomes
 *
 *	key = xxh64(page) ^ salt(domain)
 *
 * where salt() is a bijection of 64-bit numbers.  Two pages whose keys are
 * equal and whose bytes are equal have equal xxh64, so their salts are
 * equal, so their domains are: a search, which merges only on equal keys
 * and equal bytes, cannot cross a domain, whatever collisions xxh64 has.
 * That holds where a key is the page's now: in the stable tree, whose
 * pages are write protected.  The unstable tree's pages may have changed
 * since their keys were taken, so a match there also asks the other mm's
 * slot for its domain (xksm_same_domain()).
 * Pages of one domain order as before; "all" is domain 0, salt 0, and
 * changes nothing.  The unstable tree keeps the key's low half as the
 * page's checksum, so a page whose domain changes looks volatile once.
 *
 * The domain mixes the scope in (xksm_domain_tag()): the unstable tree
 * may still hold rmap_items keyed under the scope before a change, and a
 * uid must not meet an equal domain id there.
 *
 * The zero page is shared by everyone: under a scope other than "all",
 * use_zero_pages merges with it only if zero_pages_across_domains allows.
 *
 * xksm_merge_scope and xksm_zero_pages_across_domains change under
 * xksm_thread_mutex, and only while nothing is merged (xksm_set_domains());
 * xksmd reads them under it.  Readers of the scope outside it (the stats
 * ioctl, debugfs) may see it change under them, which only names a domain.
 */

#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/uidgid.h>

#include "xksm.h"

unsigned int xksm_merge_scope = XKSM_SCOPE_ALL;
bool xksm_zero_pages_across_domains;

const char *const xksm_scope_names[XKSM_NR_SCOPES] = {
	[XKSM_SCOPE_ALL]	= "all",
	[XKSM_SCOPE_UID]	= "uid",
	[XKSM_SCOPE_MEMCG]	= "memcg",
	[XKSM_SCOPE_ID]		= "id",
};

/*
 * The identity of @task's memory: its effective uid (in the initial user
 * namespace, so that a uid is one user wherever it registers from) and its
 * memory cgroup (the cgroup's id, which is its directory's inode number);
 * @ident->id is left to the caller.
 */
void xksm_identity_of(struct task_struct *task, struct xksm_identity *ident)
{
	rcu_read_lock();
	ident->uid = from_kuid_munged(&init_user_ns, __task_cred(task)->euid);
#ifdef CONFIG_MEMCG
	ident->memcg = cgroup_id(task_css(task, memory_cgrp_id)->cgroup);
#else
	ident->memcg = 0;
#endif
	rcu_read_unlock();
}

/* The domain of @ident under the current scope, as user space sees it. */
u64 xksm_domain(const struct xksm_identity *ident)
{
	switch (READ_ONCE(xksm_merge_scope)) {
	case XKSM_SCOPE_UID:
		return ident->uid;
	case XKSM_SCOPE_MEMCG:
		return ident->memcg;
	case XKSM_SCOPE_ID:
		return ident->id;
	default:
		return 0;
	}
}

/*
 * The domain with the scope in its top bits: distinct for every scope and
 * domain (a memory cgroup's id would need 2^28 generations of 2^32
 * cgroups to reach them).
 */
static u64 xksm_domain_tag(const struct xksm_identity *ident)
{
	return xksm_domain(ident) ^ (u64)READ_ONCE(xksm_merge_scope) << 60;
}

/*
 * The salt of @ident's domain for the trees' keys (see the top): a
 * multiplication by an odd constant is a bijection modulo 2^64, and spreads
 * small domains over the whole key.  0 under "all".
 */
u64 xksm_domain_salt(const struct xksm_identity *ident)
{
	return xksm_domain_tag(ident) * 0x9e3779b97f4a7c15ULL;
}

/* Would @ident merge in another domain than @old, under the current scope? */
bool xksm_domain_differs(const struct xksm_identity *old,
			 const struct xksm_identity *ident)
{
	return xksm_domain(old) != xksm_domain(ident);
}

/* May empty pages be merged with the zero page, which every domain shares? */
bool xksm_zero_page_allowed(void)
{
	return xksm_use_zero_pages &&
	       (xksm_merge_scope == XKSM_SCOPE_ALL ||
		xksm_zero_pages_across_domains);
}

/*
 * Set merge_scope and zero_pages_across_domains.  As merge_across_nodes,
 * only while nothing is merged, not even with the zero page (-EBUSY: write
 * 2 to run first), so that no page stays shared across the new domains;
 * the old stable tree goes completely (xksm_clear_stable_tree()).
 * xksm_thread_mutex held.
 */
int xksm_set_domains(unsigned int scope, bool zero_across)
{
	int err;

	lockdep_assert_held(&xksm_thread_mutex);
	if (scope == xksm_merge_scope &&
	    zero_across == xksm_zero_pages_across_domains)
		return 0;
	if (atomic_long_read(&xksm_zero_pages))
		return -EBUSY;
	err = xksm_clear_stable_tree();
	if (err)
		return err;
	WRITE_ONCE(xksm_merge_scope, scope);
	xksm_zero_pages_across_domains = zero_across;
	return 0;
}
