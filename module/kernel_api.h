/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel_api.h - how xksm calls the kernel functions it cannot link to.
 *
 * Each unexported function listed in kernel_syms.h is reached through a
 * static call xksm_<name>, bound once at load by kernel_api.c.  A static
 * call patches a direct call into the code, so it works on kernels built
 * with IBT, where the ENDBR of a function whose address is never taken has
 * been sealed and an indirect call to it would oops.  Never cast a resolved
 * address to a function pointer.
 *
 * Include compat.h rather than this file: the helpers there wrap these
 * calls.  (compat.h includes this file in its middle; the include below,
 * outside the guard, makes either order work.)
 */
#include "compat.h"

#ifndef _XKSM_KERNEL_API_H
#define _XKSM_KERNEL_API_H

#include <linux/static_call.h>

#define XKSM_FUNC(name)		DECLARE_STATIC_CALL(xksm_##name, name);
#define XKSM_VAR(type, name)	extern type *xksm_var_##name;
#include "kernel_syms.h"

/* Call the kernel's unexported @name through its bound static call. */
#define xksm_call(name) static_call(xksm_##name)

#endif /* _XKSM_KERNEL_API_H */
