/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xksm - Kernel Samepage Merging as a loadable module: the user-space ABI.
 *
 * This is the only header a program needs to drive xksm.  Everything goes
 * through ioctls on the misc device /dev/xksm (mode 0666 through the shipped
 * udev rule: every ioctl acts on the caller's own memory, and what may touch
 * other processes checks permissions itself).
 *
 * Conventions, as Documentation/driver-api/ioctl.rst asks:
 *  - every argument is a struct of fixed-width __u64 fields, with reserved
 *    space that must be zero (EINVAL otherwise), so that later versions can
 *    give it a meaning without a new command;
 *  - a program starts with XKSM_IOC_API, as userfaultfd's UFFDIO_API, and
 *    uses only the features the module reports;
 *  - a failed call changes nothing.
 *
 * Errors common to every command:
 *  ENOTTY   unknown command (or a known command with a wrong size)
 *  EFAULT   the argument pointer is not readable/writable user memory
 *  EINVAL   a reserved field or an unknown flag is not zero
 *  EINTR    a fatal signal arrived while the call waited for a lock
 */
#ifndef _UAPI_LINUX_XKSM_H
#define _UAPI_LINUX_XKSM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XKSM_DEVICE		"/dev/xksm"

/* Version of this ABI.  Raised only for incompatible changes. */
#define XKSM_API		1

/*
 * Feature bits reported by XKSM_IOC_API: a bit is set only when the loaded
 * module implements that feature.
 *
 * XKSM_FEATURE_MERGE		XKSM_IOC_MERGEABLE / XKSM_IOC_UNMERGEABLE
 * XKSM_FEATURE_MERGE_ANY	XKSM_IOC_SET_MERGE_ANY / XKSM_IOC_GET_MERGE_ANY
 * XKSM_FEATURE_STATS		XKSM_IOC_STATS
 * XKSM_FEATURE_KEEP_MERGED	the XKSM_KEEP_MERGED flag of XKSM_IOC_UNMERGEABLE
 * XKSM_FEATURE_STAT_FD		XKSM_IOC_STAT_FD
 * XKSM_FEATURE_DOMAIN		merge domains: the XKSM_SET_DOMAIN flag, and
 *				the merge_scope knob (see "Merge domains")
 * XKSM_FEATURE_PIDFD		the XKSM_PIDFD flag: another process's memory
 */
#define XKSM_FEATURE_MERGE		(1ULL << 0)
#define XKSM_FEATURE_MERGE_ANY		(1ULL << 1)
#define XKSM_FEATURE_STATS		(1ULL << 2)
#define XKSM_FEATURE_KEEP_MERGED	(1ULL << 3)
#define XKSM_FEATURE_STAT_FD		(1ULL << 4)
#define XKSM_FEATURE_DOMAIN		(1ULL << 5)
#define XKSM_FEATURE_PIDFD		(1ULL << 6)
#define XKSM_FEATURES_KNOWN		((1ULL << 7) - 1)

/**
 * struct xksm_api - the handshake
 * @api:	in: the ABI version the caller was built for (XKSM_API);
 *		out: the module's ABI version
 * @features:	in: must be zero; out: XKSM_FEATURE_* bits the module has
 * @module_version: out: the module's release, as major << 32 | minor << 16 |
 *		patch
 * @reserved:	must be zero
 *
 * Errors:
 *  EINVAL	@api is not an ABI version the module speaks, or @features or
 *		@reserved is not zero
 */
struct xksm_api {
	__u64 api;
	__u64 features;
	__u64 module_version;
	__u64 reserved[5];
};

#define XKSM_IOC_MAGIC		0xC5

#define XKSM_IOC_API		_IOWR(XKSM_IOC_MAGIC, 0x00, struct xksm_api)

/*
 * Merge domains.  Merging identical pages of different tenants lets one
 * learn about the other's memory by timing its own writes (a write to a
 * merged page faults to copy it), and lets it share a physical page with
 * them (Dedup Est Machina, Flip Feng Shui, VUsion).  The knob
 * /sys/kernel/mm/xksm/merge_scope confines merging to a domain:
 *
 *   all	every registered page may merge with every other (the
 *		default, and the kernel's KSM's behaviour)
 *   uid	per user: the effective uid of the process
 *   memcg	per memory cgroup: the cgroup whose memory controller the
 *		process is in (cgroup v2, or v1's memory hierarchy)
 *   id		per explicit domain id, given with XKSM_SET_DOMAIN; processes
 *		that gave none are in domain 0
 *
 * A process's uid, memory cgroup and domain id are taken when its memory
 * is registered (XKSM_IOC_MERGEABLE, XKSM_IOC_SET_MERGE_ANY; for
 * XKSM_PIDFD, those of the process named), and a forked child inherits
 * its parent's; every registration takes them afresh.  When that moves an
 * mm to another domain under the current scope, every page of it merged
 * in the old one is unmerged first.  Pages of different domains never
 * share a physical page: not in either tree, and not through the zero page
 * (use_zero_pages) unless /sys/kernel/mm/xksm/zero_pages_across_domains
 * is 1.  merge_scope and zero_pages_across_domains can be changed only
 * while nothing is merged (EBUSY otherwise: write 2 to run first).
 */

/**
 * struct xksm_range - a range of the caller's address space
 * @start:	first byte; must be page aligned
 * @len:	length in bytes; rounded up to whole pages, as madvise does;
 *		zero is a no-op that succeeds
 * @flags:	XKSM_IOC_MERGEABLE takes XKSM_SET_DOMAIN and XKSM_PIDFD;
 *		XKSM_IOC_UNMERGEABLE takes XKSM_KEEP_MERGED and XKSM_PIDFD
 * @domain:	with XKSM_SET_DOMAIN: the mm's merge domain id, 0 to
 *		0xffffffff; any other than 0 needs CAP_SYS_ADMIN.  Else must
 *		be zero.
 * @pidfd:	with XKSM_PIDFD: a pidfd (pidfd_open(2), clone(CLONE_PIDFD))
 *		of the process whose memory to act on, instead of the
 *		caller's.  Else must be zero.
 * @reserved:	must be zero
 */
struct xksm_range {
	__u64 start;
	__u64 len;
	__u64 flags;
	__u64 domain;
	__u64 pidfd;
	__u64 reserved[3];
};

/*
 * XKSM_IOC_UNMERGEABLE flag: stop merging in the range, but leave the pages
 * already merged there merged; xksm keeps tracking and counting them (they
 * are never lost from view) until they are written to, unmapped, or the
 * range is unregistered again without the flag.
 */
#define XKSM_KEEP_MERGED	(1ULL << 0)

/*
 * XKSM_SET_DOMAIN: set the merge domain id of the mm (see "Merge domains")
 * from @domain; it lasts until changed, or until nothing of the mm is
 * registered any more (a later registration without the flag then starts
 * from id 0), and is inherited on fork.
 */
#define XKSM_SET_DOMAIN		(1ULL << 1)

/*
 * XKSM_PIDFD: act on the process that @pidfd refers to.  Allowed when
 * process_madvise(2) would be: the caller may read the process as
 * ptrace(PTRACE_MODE_READ_FSCREDS) checks, and has CAP_SYS_NICE (not
 * needed on a pidfd of the caller itself from 6.12 on, as there).
 * The pidfd is looked at only once the whole argument is valid (EINVAL
 * first).  Errors, besides the command's own:
 *  EBADF	@pidfd is not an open pidfd
 *  EPERM	the caller may not act on that process
 *  ESRCH	the process has exited (or is a zombie, or a kernel thread)
 */
#define XKSM_PIDFD		(1ULL << 2)

/*
 * XKSM_IOC_MERGEABLE: let xksm merge the private anonymous memory of the
 * caller's mm in [start, start + len), as madvise(MADV_MERGEABLE) does for
 * the kernel's KSM.  The registration belongs to the mm: it survives
 * closing the file, and ends when the mm exits or the range is
 * unregistered.  Parts of the range that are not mappings xksm can merge
 * (shared, PFN or I/O maps, hugetlb, DAX, or memory the kernel's own KSM
 * manages) are skipped silently.  Memory mapped into a registered range
 * later is merged too, until xksmd finds the range unmapped.
 *
 * XKSM_IOC_UNMERGEABLE: stop merging in the range.  Without
 * XKSM_KEEP_MERGED, every page xksm merged there is copied back to a
 * private page before the call returns.
 *
 * Errors (besides those of every command, and of XKSM_PIDFD):
 *  EINVAL	@start not page aligned, @len rounded up to pages or
 *		@start + @len overflows (wraps around), an unknown flag or a
 *		non-zero reserved field; @domain above 0xffffffff, or not
 *		zero without XKSM_SET_DOMAIN; @pidfd not zero without
 *		XKSM_PIDFD.  As for madvise(), a range beyond the user
 *		address space is not EINVAL but ENOMEM (nothing is mapped
 *		there), and a zero @len succeeds (once the checks above
 *		pass) whatever @start
 *  EPERM	XKSM_SET_DOMAIN with a @domain other than 0, and the caller
 *		lacks CAP_SYS_ADMIN
 *  ENOMEM	part of the range is not mapped, or lies beyond the user
 *		address space (the mapped parts are still
 *		done, as madvise does; if nothing is mapped there, nothing
 *		changes, the domain included), or memory ran out (registering, or
 *		copying a merged page back when unmerging: the pages not yet
 *		copied stay merged and tracked; the call may be repeated)
 *  EINTR	a fatal signal arrived while waiting or unmerging
 *  ESRCH	the caller has no mm (a kernel thread), or it is exiting
 */
#define XKSM_IOC_MERGEABLE	_IOW(XKSM_IOC_MAGIC, 0x01, struct xksm_range)
#define XKSM_IOC_UNMERGEABLE	_IOW(XKSM_IOC_MAGIC, 0x02, struct xksm_range)

/**
 * struct xksm_merge_any - merging the whole process
 * @enable:	1 to merge all private anonymous memory of the caller's mm,
 *		present and future (as prctl(PR_SET_MEMORY_MERGE)); 0 to stop,
 *		unmerging everything it merged.  XKSM_IOC_GET_MERGE_ANY
 *		writes the current setting here.
 * @flags:	XKSM_PIDFD (both commands), XKSM_SET_DOMAIN (only to enable)
 * @domain:	as in struct xksm_range; XKSM_IOC_GET_MERGE_ANY ignores it
 *		on input and writes the mm's domain id here
 * @pidfd:	as in struct xksm_range
 * @reserved:	must be zero
 *
 * Errors: EINVAL for @enable other than 0 or 1, or XKSM_SET_DOMAIN with
 * @enable 0;
 * those of XKSM_IOC_MERGEABLE when enabling, of XKSM_IOC_UNMERGEABLE when
 * disabling, and of XKSM_PIDFD.
 */
struct xksm_merge_any {
	__u64 enable;
	__u64 flags;
	__u64 domain;
	__u64 pidfd;
	__u64 reserved[4];
};

#define XKSM_IOC_SET_MERGE_ANY	_IOW(XKSM_IOC_MAGIC, 0x03, struct xksm_merge_any)
#define XKSM_IOC_GET_MERGE_ANY	_IOWR(XKSM_IOC_MAGIC, 0x04, struct xksm_merge_any)

/**
 * struct xksm_stats - what xksm does for the caller's mm, in pages
 * @merging_pages:	pages of this mm that share a merged page
 *			(/proc/<pid>/ksm_merging_pages)
 * @rmap_items:		rmap_items xksm holds for this mm (its metadata)
 * @zero_pages:		pages of this mm merged with the zero page
 * @profit:		bytes saved minus metadata spent (may be negative):
 *			(merging_pages + zero_pages) * page size -
 *			rmap_items * sizeof(rmap_item), as ksm_process_profit
 * @merge_any:		1 if merge-any is on
 * @mergeable:		1 if any range of this mm is registered, or merge-any
 * @registered_bytes:	bytes of address space registered with
 *			XKSM_IOC_MERGEABLE (what merge-any covers besides is
 *			not counted: see @merge_any)
 * @flags:		in: XKSM_PIDFD, or zero; returned unchanged
 * @pidfd:		in: as in struct xksm_range; returned unchanged
 * @domain:		out (ignored on input): the domain the mm merges in under the current
 *			merge_scope: 0 under "all", the uid, the memory
 *			cgroup's id (the inode number of its directory in
 *			the cgroup file system), or the domain id
 * @reserved:		zero on return; must be zero on input
 *
 * Errors: EINVAL, and those of XKSM_PIDFD.
 */
struct xksm_stats {
	__u64 merging_pages;
	__u64 rmap_items;
	__u64 zero_pages;
	__s64 profit;
	__u64 merge_any;
	__u64 mergeable;
	__u64 registered_bytes;
	__u64 flags;
	__u64 pidfd;
	__u64 domain;
	__u64 reserved[6];
};

#define XKSM_IOC_STATS		_IOWR(XKSM_IOC_MAGIC, 0x05, struct xksm_stats)

/**
 * struct xksm_stat_fd - a file of the caller's figures, as text
 * @format:	XKSM_STAT_KSM_STAT: what /proc/<pid>/ksm_stat shows for the
 *		kernel's KSM on 6.12 ("ksm_rmap_items N", "ksm_zero_pages N",
 *		"ksm_merging_pages N", "ksm_process_profit N"), then
 *		"ksm_merge_any: yes|no" and "ksm_mergeable: yes|no" as later
 *		kernels add;
 *		XKSM_STAT_MERGING_PAGES: what /proc/<pid>/ksm_merging_pages
 *		shows, the number alone
 * @flags:	XKSM_STAT_CLOEXEC: the new descriptor is close-on-exec
 * @reserved:	must be zero
 *
 * XKSM_IOC_STAT_FD returns a new read-only file descriptor.  It reports on
 * the mm of the caller at the time of the call, as /proc/self resolves when
 * opened, and is read like a /proc file: every read from offset 0 (read()
 * after lseek(0), or pread() at 0) shows the current figures.  Once that mm
 * has exited, the file reads as empty.  LD_PRELOAD's libxksm-preload.so
 * hands it to programs that open /proc/self/ksm_stat.
 *
 * Errors (besides those of every command):
 *  EINVAL	unknown @format or flag, or a non-zero reserved field
 *  EMFILE, ENFILE, ENOMEM	no descriptor or memory for the file
 *  ESRCH	the caller has no mm
 */
struct xksm_stat_fd {
	__u64 format;
	__u64 flags;
	__u64 reserved[6];
};

#define XKSM_STAT_KSM_STAT		0
#define XKSM_STAT_MERGING_PAGES		1

#define XKSM_STAT_CLOEXEC		(1ULL << 0)

#define XKSM_IOC_STAT_FD	_IOW(XKSM_IOC_MAGIC, 0x06, struct xksm_stat_fd)

#endif /* _UAPI_LINUX_XKSM_H */
