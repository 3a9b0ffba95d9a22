// SPDX-License-Identifier: GPL-2.0
/*
 * dev.c - /dev/xksm and its ioctls.
 *
 * The device is the whole user interface for registering memory; the ABI is
 * include/uapi/linux/xksm.h.  Each ioctl validates its whole argument before
 * it changes anything, so a failed call leaves no trace: unknown commands
 * get -ENOTTY, unreadable arguments -EFAULT, non-zero reserved fields or
 * unknown flags -EINVAL.
 *
 * The device is world-accessible (mode 0666): every ioctl acts on the
 * caller's own mm, which it can already madvise, and anything that reaches
 * another process checks permissions itself.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/xksm.h>

#include "xksm.h"

/* What this module reports in struct xksm_api::features. */
#define XKSM_FEATURES	(XKSM_FEATURE_MERGE | XKSM_FEATURE_MERGE_ANY | \
			 XKSM_FEATURE_STATS | XKSM_FEATURE_KEEP_MERGED | \
			 XKSM_FEATURE_STAT_FD)

static bool xksm_reserved_zero(const __u64 *reserved, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (reserved[i])
			return false;
	return true;
}

/*
 * XKSM_IOC_API: the handshake.  The caller names the ABI it was built for;
 * the module answers with its own version and features.
 */
static long xksm_ioctl_api(struct xksm_api __user *uarg)
{
	struct xksm_api api;

	if (copy_from_user(&api, uarg, sizeof(api)))
		return -EFAULT;
	if (api.api != XKSM_API || api.features ||
	    !xksm_reserved_zero(api.reserved, ARRAY_SIZE(api.reserved)))
		return -EINVAL;

	api.features = XKSM_FEATURES;
	api.module_version = XKSM_VERSION_CODE;
	if (copy_to_user(uarg, &api, sizeof(api)))
		return -EFAULT;
	return 0;
}

/*
 * Validate a range as madvise does: page-aligned start, length rounded up
 * to pages, inside the user address space.  Sets [*startp, *endp).
 */
static int xksm_check_range(const struct xksm_range *range, __u64 flags_ok,
			    unsigned long *startp, unsigned long *endp)
{
	unsigned long start = range->start, len;

	if (range->flags & ~flags_ok ||
	    !xksm_reserved_zero(range->reserved, ARRAY_SIZE(range->reserved)))
		return -EINVAL;
	if (range->start != start || range->len > TASK_SIZE ||
	    !PAGE_ALIGNED(start))
		return -EINVAL;
	len = PAGE_ALIGN(range->len);
	if (start > TASK_SIZE || len > TASK_SIZE - start)
		return -EINVAL;
	*startp = start;
	*endp = start + len;
	return 0;
}

/* XKSM_IOC_MERGEABLE and XKSM_IOC_UNMERGEABLE, on the caller's mm. */
static long xksm_ioctl_range(struct xksm_range __user *uarg, bool merge)
{
	struct mm_struct *mm = current->mm;
	unsigned long start, end;
	struct xksm_range range;
	int err;

	if (copy_from_user(&range, uarg, sizeof(range)))
		return -EFAULT;
	err = xksm_check_range(&range, merge ? 0 : XKSM_KEEP_MERGED,
			       &start, &end);
	if (err)
		return err;
	if (!mm)
		return -ESRCH;
	if (start == end)
		return 0;
	if (merge)
		return xksm_register(mm, start, end);
	return xksm_unregister(mm, start, end, range.flags & XKSM_KEEP_MERGED);
}

static long xksm_ioctl_set_merge_any(struct xksm_merge_any __user *uarg)
{
	struct xksm_merge_any arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.enable > 1 ||
	    !xksm_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	return xksm_set_merge_any(current->mm, arg.enable);
}

static long xksm_ioctl_get_merge_any(struct xksm_merge_any __user *uarg)
{
	struct xksm_merge_any arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!xksm_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	arg.enable = xksm_get_merge_any(current->mm);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static long xksm_ioctl_stats(struct xksm_stats __user *uarg)
{
	struct xksm_stats stats;
	int err;

	if (copy_from_user(&stats, uarg, sizeof(stats)))
		return -EFAULT;
	if (!xksm_reserved_zero(stats.reserved, ARRAY_SIZE(stats.reserved)))
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	err = xksm_mm_stats(current->mm, &stats);
	if (err)
		return err;
	if (copy_to_user(uarg, &stats, sizeof(stats)))
		return -EFAULT;
	return 0;
}

/* XKSM_IOC_STAT_FD: a file that reads as /proc/self/ksm_stat (stat_file.c) */
static long xksm_ioctl_stat_fd(struct xksm_stat_fd __user *uarg)
{
	struct xksm_stat_fd arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.format > XKSM_STAT_MERGING_PAGES || arg.flags & ~XKSM_STAT_CLOEXEC ||
	    !xksm_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	if (!current->mm)
		return -ESRCH;
	return xksm_stat_file_open(current->mm, arg.format,
				   arg.flags & XKSM_STAT_CLOEXEC);
}

static long xksm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	/*
	 * A child forked from a registered parent is registered by a work
	 * item that was queued before the child first ran: let it finish, so
	 * that the child's own requests see (and act on) what it inherited.
	 */
	if (cmd != XKSM_IOC_API)
		xksm_fork_flush();

	switch (cmd) {
	case XKSM_IOC_API:
		return xksm_ioctl_api(uarg);
	case XKSM_IOC_MERGEABLE:
		return xksm_ioctl_range(uarg, true);
	case XKSM_IOC_UNMERGEABLE:
		return xksm_ioctl_range(uarg, false);
	case XKSM_IOC_SET_MERGE_ANY:
		return xksm_ioctl_set_merge_any(uarg);
	case XKSM_IOC_GET_MERGE_ANY:
		return xksm_ioctl_get_merge_any(uarg);
	case XKSM_IOC_STATS:
		return xksm_ioctl_stats(uarg);
	case XKSM_IOC_STAT_FD:
		return xksm_ioctl_stat_fd(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations xksm_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= xksm_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice xksm_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= XKSM_NAME,
	.fops	= &xksm_fops,
	.mode	= 0666,
};

int xksm_dev_init(void)
{
	return misc_register(&xksm_miscdev);
}

void xksm_dev_exit(void)
{
	misc_deregister(&xksm_miscdev);
}
