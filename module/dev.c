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
 * caller's own mm, which it can already madvise, unless it names another
 * process by a pidfd (XKSM_PIDFD), which is checked as process_madvise()
 * checks it (xksm_get_target()).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/capability.h>
#include <linux/ptrace.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>
#include <linux/xksm.h>

#include "xksm.h"
#include "compat.h"

/* What this module reports in struct xksm_api::features. */
#define XKSM_FEATURES	(XKSM_FEATURE_MERGE | XKSM_FEATURE_MERGE_ANY | \
			 XKSM_FEATURE_STATS | XKSM_FEATURE_KEEP_MERGED | \
			 XKSM_FEATURE_STAT_FD | XKSM_FEATURE_DOMAIN | \
			 XKSM_FEATURE_PIDFD)

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
 * The process an ioctl acts on: the caller, or with XKSM_PIDFD the process
 * a pidfd refers to, allowed as process_madvise() allows it: the caller
 * may read it as ptrace(PTRACE_MODE_READ_FSCREDS) checks (which also keeps
 * its address space layout from leaking), and has CAP_SYS_NICE, to
 * influence another process's performance.  Both refusals are -EPERM.
 */
struct xksm_target {
	struct task_struct *task;	/* a reference held */
	struct mm_struct *mm;		/* mmget() held */
};

static int xksm_get_target(__u64 flags, __u64 pidfd, struct xksm_target *t)
{
	unsigned int f_flags;
	int err;

	if (!(flags & XKSM_PIDFD)) {
		t->mm = get_task_mm(current);
		if (!t->mm)
			return -ESRCH;	/* a kernel thread, or exiting */
		t->task = get_task_struct(current);
		return 0;
	}
	if (pidfd > INT_MAX)
		return -EBADF;
	t->task = xksm_call(pidfd_get_task)(pidfd, &f_flags);
	if (IS_ERR(t->task))
		return PTR_ERR(t->task);
	t->mm = xksm_call(mm_access)(t->task, PTRACE_MODE_READ_FSCREDS);
	if (IS_ERR_OR_NULL(t->mm)) {
		err = IS_ERR(t->mm) ? PTR_ERR(t->mm) : -ESRCH;
		put_task_struct(t->task);
		return err == -EACCES ? -EPERM : err;
	}
	if (xksm_pidfd_needs_nice(t->mm) && !capable(CAP_SYS_NICE)) {
		mmput(t->mm);
		put_task_struct(t->task);
		return -EPERM;
	}
	return 0;
}

static void xksm_put_target(struct xksm_target *t)
{
	mmput(t->mm);
	put_task_struct(t->task);
}

/*
 * The fields every command taking XKSM_PIDFD and XKSM_SET_DOMAIN checks:
 * each field only with its flag; a domain id of 32 bits, and other than
 * the default only with CAP_SYS_ADMIN (joining someone else's domain is
 * what domains are to prevent).
 */
static int xksm_check_target_fields(__u64 flags, __u64 domain, __u64 pidfd)
{
	if (!(flags & XKSM_PIDFD) && pidfd)
		return -EINVAL;
	if (!(flags & XKSM_SET_DOMAIN) && domain)
		return -EINVAL;
	if (domain > U32_MAX)
		return -EINVAL;
	if (domain && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

/* The identity of the target's memory, for merge domains (domain.c). */
static void xksm_target_identity(struct xksm_target *t, __u64 domain,
				 struct xksm_identity *ident)
{
	xksm_identity_of(t->task, ident);
	ident->id = domain;
}

/*
 * Validate a range as madvise does: page-aligned start, length rounded up
 * to pages, no wrap around.  Sets [*startp, *endp).
 */
static int xksm_check_range(const struct xksm_range *range, __u64 flags_ok,
			    unsigned long *startp, unsigned long *endp)
{
	unsigned long start = range->start, len;
	int err;

	if (range->flags & ~flags_ok ||
	    !xksm_reserved_zero(range->reserved, ARRAY_SIZE(range->reserved)))
		return -EINVAL;
	/*
	 * The checks of do_madvise(), in its order: an unaligned start, a
	 * length that rounds up past the top, an end that wraps around are
	 * EINVAL.  A range beyond the user address space is not: nothing is
	 * mapped there, so it is ENOMEM, found while walking the vmas (and
	 * an empty one is a no-op, 0), as madvise() answers.
	 */
	if (range->start != start || range->len != (unsigned long)range->len ||
	    !PAGE_ALIGNED(start))
		return -EINVAL;
	len = PAGE_ALIGN((unsigned long)range->len);
	if ((range->len && !len) || start + len < start)
		return -EINVAL;
	err = xksm_check_target_fields(range->flags, range->domain, range->pidfd);
	if (err)
		return err;
	*startp = start;
	*endp = start + len;
	return 0;
}

/* XKSM_IOC_MERGEABLE and XKSM_IOC_UNMERGEABLE */
static long xksm_ioctl_range(struct xksm_range __user *uarg, bool merge)
{
	struct xksm_identity ident;
	struct xksm_target target;
	unsigned long start, end;
	struct xksm_range range;
	int err;

	if (copy_from_user(&range, uarg, sizeof(range)))
		return -EFAULT;
	err = xksm_check_range(&range,
			       XKSM_PIDFD | (merge ? XKSM_SET_DOMAIN :
						     XKSM_KEEP_MERGED),
			       &start, &end);
	if (err)
		return err;
	err = xksm_get_target(range.flags, range.pidfd, &target);
	if (err)
		return err;
	if (start == end) {
		err = 0;
	} else if (merge) {
		xksm_target_identity(&target, range.domain, &ident);
		err = xksm_register(target.mm, &ident,
				    range.flags & XKSM_SET_DOMAIN, start, end);
	} else {
		err = xksm_unregister(target.mm, start, end,
				      range.flags & XKSM_KEEP_MERGED);
	}
	xksm_put_target(&target);
	return err;
}

static long xksm_ioctl_set_merge_any(struct xksm_merge_any __user *uarg)
{
	struct xksm_identity ident;
	struct xksm_target target;
	struct xksm_merge_any arg;
	int err;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.enable > 1 || arg.flags & ~(XKSM_PIDFD | XKSM_SET_DOMAIN) ||
	    (!arg.enable && arg.flags & XKSM_SET_DOMAIN) ||
	    !xksm_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	err = xksm_check_target_fields(arg.flags, arg.domain, arg.pidfd);
	if (err)
		return err;
	err = xksm_get_target(arg.flags, arg.pidfd, &target);
	if (err)
		return err;
	if (arg.enable) {
		xksm_target_identity(&target, arg.domain, &ident);
		err = xksm_set_merge_any(target.mm, &ident,
					 arg.flags & XKSM_SET_DOMAIN);
	} else {
		err = xksm_clear_merge_any(target.mm);
	}
	xksm_put_target(&target);
	return err;
}

static long xksm_ioctl_get_merge_any(struct xksm_merge_any __user *uarg)
{
	struct xksm_target target;
	struct xksm_merge_any arg;
	u32 id;
	int err;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~XKSM_PIDFD ||
	    !xksm_reserved_zero(arg.reserved, ARRAY_SIZE(arg.reserved)))
		return -EINVAL;
	err = xksm_check_target_fields(arg.flags, 0, arg.pidfd);
	if (err)
		return err;
	err = xksm_get_target(arg.flags, arg.pidfd, &target);
	if (err)
		return err;
	arg.enable = xksm_get_merge_any(target.mm, &id);
	arg.domain = id;
	xksm_put_target(&target);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static long xksm_ioctl_stats(struct xksm_stats __user *uarg)
{
	struct xksm_target target;
	struct xksm_stats stats;
	__u64 flags, pidfd;
	int err;

	if (copy_from_user(&stats, uarg, sizeof(stats)))
		return -EFAULT;
	if (stats.flags & ~XKSM_PIDFD ||
	    !xksm_reserved_zero(stats.reserved, ARRAY_SIZE(stats.reserved)))
		return -EINVAL;
	flags = stats.flags;
	pidfd = stats.pidfd;
	err = xksm_check_target_fields(flags, 0, pidfd);
	if (err)
		return err;
	err = xksm_get_target(flags, pidfd, &target);
	if (err)
		return err;
	err = xksm_mm_stats(target.mm, &stats);
	xksm_put_target(&target);
	if (err)
		return err;
	stats.flags = flags;
	stats.pidfd = pidfd;
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
