/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel_syms.h - every unexported kernel symbol xksm binds at load.
 *
 * No include guard: as the kernel's kvm-x86-ops.h, this list is included
 * with XKSM_FUNC(name) and XKSM_VAR(type, name) defined to whatever the
 * includer needs (a declaration, a definition, a table entry), and undefines
 * them at the end.
 *
 * XKSM_FUNC(name): a function, called through the static call xksm_<name>,
 *	typed by the kernel's own declaration of <name>.
 * XKSM_VAR(type, name): a variable, reached through type *xksm_var_<name>.
 *
 * kallsyms_lookup_name must stay first: it is bound from a kprobe, and
 * binds all the others.
 */

XKSM_FUNC(kallsyms_lookup_name)

/* The scanner: walking page tables, finding the page at an address. */
XKSM_FUNC(walk_page_range_vma)
XKSM_FUNC(vm_normal_page)
XKSM_FUNC(vm_normal_page_pmd)
XKSM_FUNC(lru_add_drain_all)
#ifdef XKSM_HAVE_FOLIO_WALK
XKSM_FUNC(folio_walk_start)
XKSM_FUNC(vma_pgtable_walk_end)		/* folio_walk_end() */
XKSM_FUNC(__pte_offset_map_lock)	/* pte_offset_map_lock() */
#else
XKSM_FUNC(follow_page)
#endif

/* Merging: write_protect_page(), replace_page(), split_huge_page(). */
XKSM_FUNC(page_address_in_vma)
XKSM_FUNC(page_vma_mapped_walk)
XKSM_FUNC(ptep_clear_flush)
XKSM_FUNC(mm_find_pmd)
XKSM_FUNC(folio_free_swap)
XKSM_FUNC(mm_trace_rss_stat)		/* dec_mm_counter() */
XKSM_FUNC(__mmu_notifier_invalidate_range_start)
XKSM_FUNC(__mmu_notifier_invalidate_range_end)
#ifdef XKSM_HAVE_FOLIO_WALK
XKSM_FUNC(folio_add_anon_rmap_ptes)
XKSM_FUNC(folio_remove_rmap_ptes)
XKSM_FUNC(split_huge_page_to_list_to_order)
#else
XKSM_FUNC(__mmu_notifier_change_pte)	/* set_pte_at_notify() */
XKSM_FUNC(page_add_anon_rmap)
XKSM_FUNC(page_remove_rmap)
XKSM_FUNC(split_huge_page_to_list)
#endif

/* The kernel's KSM entry point that ksm_coexist.c hooks (6.12). */
#ifdef XKSM_HAVE_KSM_MERGE_ANY
XKSM_FUNC(ksm_enable_merge_any)
#endif

/* xksmd's CPU time, for the scan time advisor. */
XKSM_FUNC(task_sched_runtime)

/* anon_vma: references, and the trees reaping searches. */
XKSM_FUNC(__put_anon_vma)		/* put_anon_vma() */
XKSM_FUNC(folio_get_anon_vma)
XKSM_FUNC(anon_vma_interval_tree_iter_first)
XKSM_FUNC(anon_vma_interval_tree_iter_next)

/* Another process's memory through a pidfd, as process_madvise() (dev.c). */
XKSM_FUNC(pidfd_get_task)
XKSM_FUNC(mm_access)

/* The swapcache, for unmerging a KSM page that waits there (walk.c). */
XKSM_VAR(struct address_space *, swapper_spaces)
/* The parent of /sys/kernel/mm/xksm (not exported on 6.12). */
XKSM_VAR(struct kobject *, mm_kobj)

#undef XKSM_FUNC
#undef XKSM_VAR
