// SPDX-License-Identifier: GPL-2.0
/*
 * sysfs.c - /sys/kernel/mm/xksm/, xksm's knobs and counters.
 *
 * The directory sits beside the kernel's own /sys/kernel/mm/ksm/ and will
 * carry the same knobs and counters under the same names, so that tools
 * written for KSM work when pointed at it.  mm_kobj, its parent, is not
 * exported on every kernel: kernel_api.c binds it.
 */

#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "xksm.h"
#include "kernel_api.h"

/* The kobject of /sys/kernel/mm/xksm; NULL when not created. */
static struct kobject *xksm_kobj;

int xksm_sysfs_init(void)
{
	xksm_kobj = kobject_create_and_add(XKSM_NAME, *xksm_var_mm_kobj);
	if (!xksm_kobj)
		return -ENOMEM;
	return 0;
}

void xksm_sysfs_exit(void)
{
	kobject_put(xksm_kobj);
	xksm_kobj = NULL;
}
