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
 */
#ifndef _UAPI_LINUX_XKSM_H
#define _UAPI_LINUX_XKSM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define XKSM_DEVICE		"/dev/xksm"

/* Version of this ABI.  Raised only for incompatible changes. */
#define XKSM_API		1

/*
 * Feature bits reported by XKSM_IOC_API.  A bit is set only when the loaded
 * module implements that feature; none is set by this version yet.
 */
#define XKSM_FEATURES_KNOWN	0ULL

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

#endif /* _UAPI_LINUX_XKSM_H */
