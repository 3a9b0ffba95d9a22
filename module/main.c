// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - xksm module init and exit: the wiring, nothing else.
 *
 * Init binds the kernel functions first (nothing works without them), then
 * brings up the interfaces from the inside out, so that /dev/xksm, the last
 * one, is never reachable before what it calls is ready.  Exit undoes the
 * same steps in reverse.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "xksm.h"

static int __init xksm_init(void)
{
	int err;

	err = xksm_kernel_api_init();
	if (err)
		return err;

	err = xksm_mm_slot_init();
	if (err)
		return err;
	err = xksm_rmap_item_init();
	if (err)
		goto undo_mm_slot;
	err = xksm_stable_tree_init();
	if (err)
		goto undo_rmap_item;
	xksm_page_key_init();

	err = xksm_scan_init();
	if (err)
		goto undo_stable_tree;
	err = xksm_coexist_init();
	if (err)
		goto undo_scan;
	err = xksm_fork_init();
	if (err)
		goto undo_coexist;
	err = xksm_hotplug_init();
	if (err)
		goto undo_fork;
	err = xksm_sysfs_init();
	if (err)
		goto undo_hotplug;
	xksm_debugfs_init();
	err = xksm_dev_init();
	if (err)
		goto undo_debugfs;

	pr_info("version %s loaded\n", XKSM_VERSION);
	return 0;

undo_debugfs:
	xksm_debugfs_exit();
	xksm_sysfs_exit();
undo_hotplug:
	xksm_hotplug_exit();
undo_fork:
	xksm_fork_exit();
undo_coexist:
	xksm_coexist_exit();
undo_scan:
	xksm_scan_exit();
undo_stable_tree:
	xksm_stable_tree_exit();
undo_rmap_item:
	xksm_rmap_item_exit();
undo_mm_slot:
	xksm_mm_slot_exit();
	return err;
}

static void __exit xksm_exit(void)
{
	xksm_dev_exit();
	xksm_debugfs_exit();
	xksm_sysfs_exit();
	xksm_hotplug_exit();
	xksm_fork_exit();
	xksm_scan_exit();
	xksm_coexist_exit();
	xksm_stable_tree_exit();
	xksm_rmap_item_exit();
	xksm_mm_slot_exit();
	pr_info("unloaded\n");
}

module_init(xksm_init);
module_exit(xksm_exit);

MODULE_DESCRIPTION("Kernel Samepage Merging as a loadable module");
MODULE_AUTHOR("The xksm developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(XKSM_VERSION);
