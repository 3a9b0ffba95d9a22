// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs.c - /sys/kernel/debug/xksm/, a window into xksm's state.
 *
 * Files (root only, formats documented in docs/debugfs.md):
 *   kernel_api	every unexported kernel symbol xksm bound at load, and
 *		what its static call points at now
 *   stable_tree	every stable node (chains with their dups), its page
 *		frame, node, sharing count and rmap_items
 *
 * As Documentation/filesystems/debugfs.rst asks, nothing here checks for
 * errors at creation (xksm works without debugfs) and the directory is
 * removed as a whole.
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "xksm.h"

static struct dentry *xksm_debugfs_root;

static int kernel_api_show(struct seq_file *m, void *v)
{
	xksm_kernel_api_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(kernel_api);

static int stable_tree_show(struct seq_file *m, void *v)
{
	xksm_stable_tree_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stable_tree);

void xksm_debugfs_init(void)
{
	xksm_debugfs_root = debugfs_create_dir(XKSM_NAME, NULL);
	debugfs_create_file("kernel_api", 0400, xksm_debugfs_root, NULL,
			    &kernel_api_fops);
	debugfs_create_file("stable_tree", 0400, xksm_debugfs_root, NULL,
			    &stable_tree_fops);
}

void xksm_debugfs_exit(void)
{
	debugfs_remove(xksm_debugfs_root);
	xksm_debugfs_root = NULL;
}
