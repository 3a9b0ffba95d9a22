// SPDX-License-Identifier: GPL-2.0
/*
 * kernel_api.c - bind the unexported kernel functions xksm calls.
 *
 * KSM is core mm code: nearly everything it does goes through functions the
 * kernel does not export to modules (page_vma_mapped_walk, the anon rmap
 * calls, mm_find_pmd, ...).  They are all global symbols in kallsyms, so at
 * load xksm:
 *
 *  1. finds kallsyms_lookup_name (itself unexported) as the address a kprobe
 *     resolves for it;
 *  2. looks up every name in kernel_syms.h;
 *  3. patches each static call to its function with __static_call_update(),
 *     which is exported.
 *
 * If any symbol is missing the load fails with one message naming all of
 * them, before anything else is set up.  Nothing is unbound at unload: the
 * static calls live in the module and go away with it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <asm/ibt.h>

#include "xksm.h"
#include "compat.h"

#define XKSM_FUNC(name)		DEFINE_STATIC_CALL_NULL(xksm_##name, name);
#define XKSM_VAR(type, name)	type *xksm_var_##name;
#include "kernel_syms.h"

/*
 * Test hook: one more symbol that must resolve for the load to succeed.
 * The functional tests load xksm with a name that does not exist and check
 * that the load is refused with a message naming it.
 */
static char *require_symbol;
module_param(require_symbol, charp, 0400);
MODULE_PARM_DESC(require_symbol,
		 "refuse to load unless this kernel symbol resolves too (testing)");

struct xksm_ksym {
	const char *name;
	struct static_call_key *key;	/* NULL for a variable */
	void *tramp;
	void **var;			/* where a variable's address goes */
	unsigned long addr;		/* resolved address, 0 until bound */
};

/*
 * Written once by xksm_kernel_api_init() before anything else in xksm runs,
 * read-only afterwards.
 */
static struct xksm_ksym xksm_ksyms[] = {
#define XKSM_FUNC(fn) {							\
	.name = #fn,							\
	.key = &STATIC_CALL_KEY(xksm_##fn),				\
	.tramp = STATIC_CALL_TRAMP_ADDR(xksm_##fn),			\
},
#define XKSM_VAR(type, vname) {						\
	.name = #vname,							\
	.var = (void **)&xksm_var_##vname,				\
},
#include "kernel_syms.h"
};

/*
 * The address of kallsyms_lookup_name, as a kprobe resolves it.  On a kernel
 * built with IBT the kprobe sits after the function's ENDBR (or the poison
 * that sealed it), 4 bytes in: step back over it.
 */
static unsigned long xksm_find_kallsyms_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long addr;
	u32 insn;
	int err;

	err = register_kprobe(&kp);
	if (err) {
		pr_err("cannot find kallsyms_lookup_name through a kprobe: %d\n",
		       err);
		return 0;
	}
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	if (!copy_from_kernel_nofault(&insn, (void *)(addr - 4), sizeof(insn)) &&
	    is_endbr(insn))
		addr -= 4;
	return addr;
}

static void xksm_bind(struct xksm_ksym *sym, unsigned long addr)
{
	sym->addr = addr;
	if (sym->key)
		__static_call_update(sym->key, sym->tramp, (void *)addr);
	else
		*sym->var = (void *)addr;
}

/* Names that did not resolve, for the one message that refuses the load. */
static char xksm_missing[512];
static int xksm_nr_missing;

static unsigned long xksm_resolve(const char *name)
{
	unsigned long addr = xksm_call(kallsyms_lookup_name)(name);
	size_t len = strlen(xksm_missing);

	if (!addr) {
		xksm_nr_missing++;
		scnprintf(xksm_missing + len, sizeof(xksm_missing) - len, " %s",
			  name);
	}
	return addr;
}

int xksm_kernel_api_init(void)
{
	unsigned long addr;
	int i;

	addr = xksm_find_kallsyms_lookup_name();
	if (!addr)
		return -ENOENT;
	xksm_bind(&xksm_ksyms[0], addr);

	for (i = 1; i < ARRAY_SIZE(xksm_ksyms); i++) {
		addr = xksm_resolve(xksm_ksyms[i].name);
		if (addr)
			xksm_bind(&xksm_ksyms[i], addr);
	}
	if (require_symbol)
		xksm_resolve(require_symbol);

	if (xksm_nr_missing) {
		pr_err("cannot load: %d kernel symbol(s) not found:%s\n",
		       xksm_nr_missing, xksm_missing);
		return -ENOENT;
	}
	return 0;
}

/*
 * debugfs kernel_api: each symbol and what its static call (or pointer)
 * really points at now, by the kernel's own symbolisation, so a reader can
 * check every binding.
 */
void xksm_kernel_api_show(struct seq_file *m)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(xksm_ksyms); i++) {
		struct xksm_ksym *sym = &xksm_ksyms[i];
		void *now = sym->key ? READ_ONCE(sym->key->func) : *sym->var;

		seq_printf(m, "%-8s %-40s %pS\n", sym->key ? "function" : "variable",
			   sym->name, now);
	}
}
