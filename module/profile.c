// SPDX-License-Identifier: GPL-2.0
/*
 * profile.c - /sys/kernel/debug/xksm/profile: where xksmd's time goes.
 *
 * Writing 1 zeroes the sums and starts profiling; 0 stops it (the sums
 * stay, to be read).  Reading prints, for each phase of profile.h, the
 * number of calls, the nanoseconds spent in them (local_clock(), so on the
 * CPU xksmd ran on, including any preemption inside), and the mean:
 *
 *	profiling 1
 *	phase calls ns ns_per_call
 *	batch 310 1234567 3982
 *	...
 *
 * The sums are written only by xksmd (and run=2, unload), all under
 * xksm_thread_mutex; the write that zeroes them takes it too.  A read
 * takes it, so one read is a consistent snapshot.
 *
 * Not a tracer on purpose: ftrace's function_graph tracer patches every
 * function entry, which under QEMU's TCG (where xksm is tested) can catch
 * a vCPU in the middle of a patched instruction.
 */

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "xksm.h"
#include "profile.h"

/* Whether the phases are being timed; written under xksm_thread_mutex. */
bool xksm_profiling;

/* Per phase: calls and nanoseconds; under xksm_thread_mutex. */
struct xksm_phase_stat xksm_phase_stats[XKSM_NR_PHASES];

static const char *const xksm_phase_names[XKSM_NR_PHASES] = {
	[XKSM_PH_BATCH]		= "batch",
	[XKSM_PH_NEXT]		= "next",
	[XKSM_PH_HASH]		= "hash",
	[XKSM_PH_STABLE]	= "stable",
	[XKSM_PH_UNSTABLE]	= "unstable",
	[XKSM_PH_MERGE_KSM]	= "merge_ksm",
	[XKSM_PH_MERGE_TWO]	= "merge_two",
	[XKSM_PH_STABLE_ADD]	= "stable_add",
	[XKSM_PH_WRPROTECT]	= "wrprotect",
	[XKSM_PH_MEMCMP]	= "memcmp",
	[XKSM_PH_REPLACE]	= "replace",
	[XKSM_PH_LOOKUP]	= "lookup",
	[XKSM_PH_ALLOC]		= "alloc",
};

static int profile_show(struct seq_file *m, void *v)
{
	int i;

	mutex_lock(&xksm_thread_mutex);
	seq_printf(m, "profiling %d\n", xksm_profiling);
	seq_puts(m, "phase calls ns ns_per_call\n");
	for (i = 0; i < XKSM_NR_PHASES; i++) {
		struct xksm_phase_stat *s = &xksm_phase_stats[i];

		seq_printf(m, "%s %llu %llu %llu\n", xksm_phase_names[i],
			   s->calls, s->ns, s->calls ? div64_u64(s->ns, s->calls) : 0);
	}
	mutex_unlock(&xksm_thread_mutex);
	return 0;
}

static int profile_open(struct inode *inode, struct file *file)
{
	return single_open(file, profile_show, NULL);
}

static ssize_t profile_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	unsigned int on;
	int err;

	/* 0 or 1 only: kstrtobool() would take "10" or "yes please". */
	err = kstrtouint_from_user(ubuf, count, 10, &on);
	if (err)
		return err;
	if (on > 1)
		return -EINVAL;
	mutex_lock(&xksm_thread_mutex);
	if (on)
		memset(xksm_phase_stats, 0, sizeof(xksm_phase_stats));
	WRITE_ONCE(xksm_profiling, on);
	mutex_unlock(&xksm_thread_mutex);
	return count;
}

static const struct file_operations profile_fops = {
	.owner		= THIS_MODULE,
	.open		= profile_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.write		= profile_write,
	.release	= single_release,
};

void xksm_profile_debugfs(struct dentry *root)
{
	debugfs_create_file("profile", 0600, root, NULL, &profile_fops);
}
