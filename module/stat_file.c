// SPDX-License-Identifier: GPL-2.0
/*
 * stat_file.c - files that read as /proc/<pid>/ksm_stat, for one mm.
 *
 * The kernel's KSM reports per process in /proc/<pid>/ksm_stat and
 * /proc/<pid>/ksm_merging_pages; a module cannot add files there.  Instead
 * XKSM_IOC_STAT_FD hands the caller an anonymous file that reads the same
 * text for its mm, so that libxksm-preload.so can give it to programs that
 * open "/proc/self/ksm_stat" and they read it as they would the real one:
 * with read(), pread() at 0, lseek() and read again, or stdio.
 *
 * The file pins the mm_struct (mmgrab), not its address space: as a /proc
 * file of a dead process, it reads as empty once the mm has exited.  Each
 * read from offset 0 is a new seq_file show, so the figures are current.
 * The file also holds a reference on this module (file_operations.owner),
 * so xksm cannot be unloaded under it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/xksm.h>

#include "xksm.h"

struct xksm_stat_file {
	struct mm_struct *mm;		/* mmgrab()bed */
	unsigned int format;		/* XKSM_STAT_* */
};

static int xksm_stat_show(struct seq_file *m, void *v)
{
	struct xksm_stat_file *sf = m->private;
	struct xksm_stats st;
	int err;

	/* As /proc/<pid>/ksm_stat: nothing once the mm is gone. */
	if (!mmget_not_zero(sf->mm))
		return 0;
	err = xksm_mm_stats(sf->mm, &st);
	mmput(sf->mm);
	if (err)
		return err;

	if (sf->format == XKSM_STAT_MERGING_PAGES) {
		seq_printf(m, "%llu\n", st.merging_pages);
		return 0;
	}
	seq_printf(m, "ksm_rmap_items %llu\n", st.rmap_items);
	seq_printf(m, "ksm_zero_pages %llu\n", st.zero_pages);
	seq_printf(m, "ksm_merging_pages %llu\n", st.merging_pages);
	seq_printf(m, "ksm_process_profit %lld\n", st.profit);
	seq_printf(m, "ksm_merge_any: %s\n", st.merge_any ? "yes" : "no");
	seq_printf(m, "ksm_mergeable: %s\n", st.mergeable ? "yes" : "no");
	return 0;
}

static int xksm_stat_release(struct inode *inode, struct file *file)
{
	struct seq_file *m = file->private_data;
	struct xksm_stat_file *sf;

	/* single_open() may have failed: then there is no seq_file. */
	if (!m)
		return 0;
	sf = m->private;
	mmdrop(sf->mm);
	kfree(sf);
	return single_release(inode, file);
}

static const struct file_operations xksm_stat_fops = {
	.owner		= THIS_MODULE,
	.read_iter	= seq_read_iter,
	.llseek		= seq_lseek,
	.release	= xksm_stat_release,
};

/*
 * A new descriptor for a file of @mm's figures in @format.  Returns the
 * descriptor or a negative errno; on failure nothing is left behind.
 */
int xksm_stat_file_open(struct mm_struct *mm, unsigned int format, bool cloexec)
{
	struct xksm_stat_file *sf;
	struct file *file;
	int fd, err;

	sf = kmalloc(sizeof(*sf), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return -ENOMEM;
	sf->format = format;

	fd = get_unused_fd_flags(O_RDONLY | (cloexec ? O_CLOEXEC : 0));
	if (fd < 0) {
		kfree(sf);
		return fd;
	}
	file = anon_inode_getfile("[xksm_stat]", &xksm_stat_fops, NULL, O_RDONLY);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto put_fd;
	}
	err = single_open(file, xksm_stat_show, sf);
	if (err) {
		fput(file);		/* release sees no seq_file */
		goto put_fd;
	}
	/* Read like a /proc file: from any offset, and with pread(). */
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD;
	mmgrab(mm);
	sf->mm = mm;
	fd_install(fd, file);
	return fd;

put_fd:
	put_unused_fd(fd);
	kfree(sf);
	return err;
}
