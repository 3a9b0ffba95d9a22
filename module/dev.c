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
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/xksm.h>

#include "xksm.h"

/* What this module reports in struct xksm_api::features. */
#define XKSM_FEATURES		0ULL

/*
 * XKSM_IOC_API: the handshake.  The caller names the ABI it was built for;
 * the module answers with its own version and features.
 */
static long xksm_ioctl_api(struct xksm_api __user *uarg)
{
	struct xksm_api api;
	int i;

	if (copy_from_user(&api, uarg, sizeof(api)))
		return -EFAULT;
	if (api.api != XKSM_API || api.features)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(api.reserved); i++)
		if (api.reserved[i])
			return -EINVAL;

	api.features = XKSM_FEATURES;
	api.module_version = XKSM_VERSION_CODE;
	if (copy_to_user(uarg, &api, sizeof(api)))
		return -EFAULT;
	return 0;
}

static long xksm_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case XKSM_IOC_API:
		return xksm_ioctl_api(uarg);
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
