// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/mm/xksm/, xksm's knobs and counters.
 *
 * The same files as mainline 6.12's /sys/kernel/mm/ksm/, with the same
 * names, semantics, defaults and accepted ranges, so that tools written for
 * KSM work when pointed here (see Documentation/admin-guide/mm/ksm.rst);
 * and xksm's own: deferred_rmap_items, merge_scope and
 * zero_pages_across_domains.
 * The counters are read without locks, as mainline's: each is one word.
 *
 * mm_kobj, the parent directory, is not exported on every kernel:
 * kernel_api.c binds it.
 */

#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/oom.h>
#include <linux/sysfs.h>

#include "xksm.h"
#include "compat.h"

/* The kobject of /sys/kernel/mm/xksm; NULL when not created. */
static struct kobject *xksm_kobj;

#define XKSM_ATTR_RO(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RO(_name)
#define XKSM_ATTR(_name) \
	static struct kobj_attribute _name##_attr = __ATTR_RW(_name)

static ssize_t sleep_millisecs_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_thread_sleep_millisecs);
}

static ssize_t sleep_millisecs_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int msecs;
	int err;

	err = kstrtouint(buf, 10, &msecs);
	if (err)
		return -EINVAL;

	xksm_thread_sleep_millisecs = msecs;
	xksm_sleep_changed();
	return count;
}
XKSM_ATTR(sleep_millisecs);

static ssize_t pages_to_scan_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_thread_pages_to_scan);
}

static ssize_t pages_to_scan_store(struct kobject *kobj,
				   struct kobj_attribute *attr,
				   const char *buf, size_t count)
{
	unsigned int nr_pages;
	int err;

	/* The advisor sets pages_to_scan itself. */
	if (xksm_advisor != XKSM_ADVISOR_NONE)
		return -EINVAL;

	err = kstrtouint(buf, 10, &nr_pages);
	if (err)
		return -EINVAL;

	xksm_thread_pages_to_scan = nr_pages;
	return count;
}
XKSM_ATTR(pages_to_scan);

static ssize_t run_show(struct kobject *kobj, struct kobj_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_run & ~XKSM_RUN_OFFLINE);
}

/*
 * 1 sets xksmd running, 0 stops it; 2 stops it and unmerges everything,
 * synchronously (leaving the registrations for when it runs again).
 */
static ssize_t run_store(struct kobject *kobj, struct kobj_attribute *attr,
			 const char *buf, size_t count)
{
	unsigned int flags;
	int err;

	err = kstrtouint(buf, 10, &flags);
	if (err)
		return -EINVAL;
	if (flags > XKSM_RUN_UNMERGE)
		return -EINVAL;

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	if (xksm_run != flags) {
		xksm_run = flags;
		if (flags & XKSM_RUN_UNMERGE) {
			set_current_oom_origin();
			err = xksm_unmerge_all();
			clear_current_oom_origin();
			if (err) {
				xksm_run = XKSM_RUN_STOP;
				count = err;
			}
		}
	}
	mutex_unlock(&xksm_thread_mutex);

	if (flags & XKSM_RUN_MERGE)
		xksm_wake_xksmd();
	return count;
}
XKSM_ATTR(run);

static ssize_t merge_across_nodes_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_merge_across_nodes);
}

static ssize_t merge_across_nodes_store(struct kobject *kobj,
					struct kobj_attribute *attr,
					const char *buf, size_t count)
{
	unsigned long knob;
	int err;

	err = kstrtoul(buf, 10, &knob);
	if (err)
		return err;
	if (knob > 1)
		return -EINVAL;

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	err = xksm_set_merge_across_nodes(knob);
	mutex_unlock(&xksm_thread_mutex);
	return err ? err : count;
}
XKSM_ATTR(merge_across_nodes);

static ssize_t use_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_use_zero_pages);
}

static ssize_t use_zero_pages_store(struct kobject *kobj,
				    struct kobj_attribute *attr,
				    const char *buf, size_t count)
{
	bool value;
	int err;

	err = kstrtobool(buf, &value);
	if (err)
		return -EINVAL;

	xksm_use_zero_pages = value;
	return count;
}
XKSM_ATTR(use_zero_pages);

static ssize_t max_page_sharing_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_max_page_sharing);
}

static ssize_t max_page_sharing_store(struct kobject *kobj,
				      struct kobj_attribute *attr,
				      const char *buf, size_t count)
{
	int knob;
	int err;

	err = kstrtoint(buf, 10, &knob);
	if (err)
		return err;
	/*
	 * When a KSM page is created it is shared by 2 mappings.  This
	 * being a signed comparison, it implicitly verifies it's not
	 * negative.
	 */
	if (knob < 2)
		return -EINVAL;

	if (READ_ONCE(xksm_max_page_sharing) == knob)
		return count;

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	if (xksm_max_page_sharing != knob) {
		if (xksm_pages_shared || xksm_remove_all_stable_nodes())
			err = -EBUSY;
		else
			xksm_max_page_sharing = knob;
	}
	mutex_unlock(&xksm_thread_mutex);
	return err ? err : count;
}
XKSM_ATTR(max_page_sharing);

static ssize_t pages_scanned_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_pages_scanned);
}
XKSM_ATTR_RO(pages_scanned);

static ssize_t pages_shared_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_pages_shared);
}
XKSM_ATTR_RO(pages_shared);

static ssize_t pages_sharing_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_pages_sharing);
}
XKSM_ATTR_RO(pages_sharing);

static ssize_t pages_unshared_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_pages_unshared);
}
XKSM_ATTR_RO(pages_unshared);

static ssize_t pages_volatile_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	long pages_volatile;

	pages_volatile = xksm_rmap_items - xksm_rmap_items_deferred -
			 xksm_pages_shared - xksm_pages_sharing -
			 xksm_pages_unshared;
	/*
	 * It was not worth any locking to calculate that statistic, but it
	 * might therefore sometimes be negative: conceal that.
	 */
	if (pages_volatile < 0)
		pages_volatile = 0;
	return sysfs_emit(buf, "%ld\n", pages_volatile);
}
XKSM_ATTR_RO(pages_volatile);

/*
 * xksm's own: rmap_items kept on the reap list as the only route to
 * mappings of KSM pages in mms xksm does not scan (rmap_item.c).
 */
static ssize_t deferred_rmap_items_show(struct kobject *kobj,
					struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(xksm_rmap_items_deferred));
}
XKSM_ATTR_RO(deferred_rmap_items);

static ssize_t pages_skipped_show(struct kobject *kobj,
				  struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_pages_skipped);
}
XKSM_ATTR_RO(pages_skipped);

static ssize_t ksm_zero_pages_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&xksm_zero_pages));
}
XKSM_ATTR_RO(ksm_zero_pages);

static ssize_t general_profit_show(struct kobject *kobj,
				   struct kobj_attribute *attr, char *buf)
{
	long general_profit;

	general_profit = (xksm_pages_sharing + atomic_long_read(&xksm_zero_pages)) *
			 PAGE_SIZE - xksm_rmap_items * sizeof(struct xksm_rmap_item);
	return sysfs_emit(buf, "%ld\n", general_profit);
}
XKSM_ATTR_RO(general_profit);

static ssize_t stable_node_dups_show(struct kobject *kobj,
				     struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_stable_node_dups);
}
XKSM_ATTR_RO(stable_node_dups);

static ssize_t stable_node_chains_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_stable_node_chains);
}
XKSM_ATTR_RO(stable_node_chains);

static ssize_t stable_node_chains_prune_millisecs_show(struct kobject *kobj,
							struct kobj_attribute *attr,
							char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_stable_node_chains_prune_millisecs);
}

static ssize_t stable_node_chains_prune_millisecs_store(struct kobject *kobj,
							 struct kobj_attribute *attr,
							 const char *buf, size_t count)
{
	unsigned int msecs;
	int err;

	err = kstrtouint(buf, 10, &msecs);
	if (err)
		return -EINVAL;

	xksm_stable_node_chains_prune_millisecs = msecs;
	return count;
}
XKSM_ATTR(stable_node_chains_prune_millisecs);

static ssize_t full_scans_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_scan.seqnr);
}
XKSM_ATTR_RO(full_scans);

static ssize_t smart_scan_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_smart_scan);
}

static ssize_t smart_scan_store(struct kobject *kobj,
				struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	bool value;
	int err;

	err = kstrtobool(buf, &value);
	if (err)
		return -EINVAL;

	xksm_smart_scan = value;
	return count;
}
XKSM_ATTR(smart_scan);

static ssize_t advisor_mode_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	const char *output;

	if (xksm_advisor == XKSM_ADVISOR_NONE)
		output = "[none] scan-time";
	else
		output = "none [scan-time]";
	return sysfs_emit(buf, "%s\n", output);
}

static ssize_t advisor_mode_store(struct kobject *kobj,
				  struct kobj_attribute *attr, const char *buf,
				  size_t count)
{
	enum xksm_advisor_type curr_advisor = xksm_advisor;

	if (sysfs_streq("scan-time", buf))
		xksm_advisor = XKSM_ADVISOR_SCAN_TIME;
	else if (sysfs_streq("none", buf))
		xksm_advisor = XKSM_ADVISOR_NONE;
	else
		return -EINVAL;

	/* Set advisor default values */
	if (curr_advisor != xksm_advisor) {
		mutex_lock(&xksm_thread_mutex);
		xksm_set_advisor_defaults();
		mutex_unlock(&xksm_thread_mutex);
	}
	return count;
}
XKSM_ATTR(advisor_mode);

/*
 * merge_scope: which pages may merge with which (domain.c).  Shown as
 * advisor_mode is, the current one in brackets: "[all] uid memcg id".
 */
static ssize_t merge_scope_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	unsigned int scope = READ_ONCE(xksm_merge_scope), i;
	int len = 0;

	for (i = 0; i < XKSM_NR_SCOPES; i++)
		len += sysfs_emit_at(buf, len, i == scope ? "%s[%s]" : "%s%s",
				     i ? " " : "", xksm_scope_names[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

static ssize_t merge_scope_store(struct kobject *kobj,
				 struct kobj_attribute *attr, const char *buf,
				 size_t count)
{
	int scope, err;

	scope = sysfs_match_string(xksm_scope_names, buf);
	if (scope < 0)
		return -EINVAL;

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	err = xksm_set_domains(scope, xksm_zero_pages_across_domains);
	mutex_unlock(&xksm_thread_mutex);
	return err ? err : count;
}
XKSM_ATTR(merge_scope);

/* zero_pages_across_domains: may domains share the zero page? (domain.c) */
static ssize_t zero_pages_across_domains_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_zero_pages_across_domains);
}

static ssize_t zero_pages_across_domains_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned int value;
	int err;

	err = kstrtouint(buf, 10, &value);
	if (err || value > 1)
		return -EINVAL;

	mutex_lock(&xksm_thread_mutex);
	xksm_wait_while_offlining();
	err = xksm_set_domains(xksm_merge_scope, value);
	mutex_unlock(&xksm_thread_mutex);
	return err ? err : count;
}
XKSM_ATTR(zero_pages_across_domains);

static ssize_t advisor_max_cpu_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", xksm_advisor_max_cpu);
}

static ssize_t advisor_max_cpu_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	unsigned int value;
	int err;

	/* An unsigned int: refuse what it cannot hold (mainline truncates). */
	err = kstrtouint(buf, 10, &value);
	if (err)
		return -EINVAL;

	xksm_advisor_max_cpu = value;
	return count;
}
XKSM_ATTR(advisor_max_cpu);

static ssize_t advisor_min_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_advisor_min_pages_to_scan);
}

static ssize_t advisor_min_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned long value;
	int err;

	err = kstrtoul(buf, 10, &value);
	if (err)
		return -EINVAL;

	xksm_advisor_min_pages_to_scan = value;
	return count;
}
XKSM_ATTR(advisor_min_pages_to_scan);

static ssize_t advisor_max_pages_to_scan_show(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_advisor_max_pages_to_scan);
}

static ssize_t advisor_max_pages_to_scan_store(struct kobject *kobj,
					       struct kobj_attribute *attr,
					       const char *buf, size_t count)
{
	unsigned long value;
	int err;

	err = kstrtoul(buf, 10, &value);
	if (err)
		return -EINVAL;

	xksm_advisor_max_pages_to_scan = value;
	return count;
}
XKSM_ATTR(advisor_max_pages_to_scan);

static ssize_t advisor_target_scan_time_show(struct kobject *kobj,
					     struct kobj_attribute *attr,
					     char *buf)
{
	return sysfs_emit(buf, "%lu\n", xksm_advisor_target_scan_time);
}

static ssize_t advisor_target_scan_time_store(struct kobject *kobj,
					      struct kobj_attribute *attr,
					      const char *buf, size_t count)
{
	unsigned long value;
	int err;

	err = kstrtoul(buf, 10, &value);
	if (err)
		return -EINVAL;
	if (value < 1)
		return -EINVAL;

	xksm_advisor_target_scan_time = value;
	return count;
}
XKSM_ATTR(advisor_target_scan_time);

static struct attribute *xksm_attrs[] = {
	&sleep_millisecs_attr.attr,
	&pages_to_scan_attr.attr,
	&run_attr.attr,
	&pages_scanned_attr.attr,
	&pages_shared_attr.attr,
	&pages_sharing_attr.attr,
	&pages_unshared_attr.attr,
	&pages_volatile_attr.attr,
	&pages_skipped_attr.attr,
	&deferred_rmap_items_attr.attr,
	&ksm_zero_pages_attr.attr,
	&full_scans_attr.attr,
	&merge_across_nodes_attr.attr,
	&max_page_sharing_attr.attr,
	&stable_node_chains_attr.attr,
	&stable_node_dups_attr.attr,
	&stable_node_chains_prune_millisecs_attr.attr,
	&use_zero_pages_attr.attr,
	&general_profit_attr.attr,
	&smart_scan_attr.attr,
	&advisor_mode_attr.attr,
	&advisor_max_cpu_attr.attr,
	&advisor_min_pages_to_scan_attr.attr,
	&advisor_max_pages_to_scan_attr.attr,
	&advisor_target_scan_time_attr.attr,
	&merge_scope_attr.attr,
	&zero_pages_across_domains_attr.attr,
	NULL,
};

static const struct attribute_group xksm_attr_group = {
	.attrs = xksm_attrs,
};

int xksm_sysfs_init(void)
{
	int err;

	xksm_kobj = kobject_create_and_add(XKSM_NAME, *xksm_var_mm_kobj);
	if (!xksm_kobj)
		return -ENOMEM;
	err = sysfs_create_group(xksm_kobj, &xksm_attr_group);
	if (err) {
		kobject_put(xksm_kobj);
		xksm_kobj = NULL;
	}
	return err;
}

void xksm_sysfs_exit(void)
{
	kobject_put(xksm_kobj);
	xksm_kobj = NULL;
}
