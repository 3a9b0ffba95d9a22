// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzing of /dev/xksm (issue 7).  The uapi header is the contract:
 * every call gets the errno it documents, a failed call changes nothing, and
 * the kernel stays clean (the harness fails the run on any report or leak).
 *
 * Part 1, seeded (the seed is printed; XKSM_FUZZ_SEED=<n> replays it,
 * XKSM_FUZZ_ITERS=<n> sets the number of calls): random calls of every
 * kind -- unknown numbers under xksm's magic 0xC5 and under other magics,
 * xksm's numbers with a wrong size or direction, argument pointers that are
 * valid, NULL, kernel, non-canonical, unmapped, PROT_NONE, read-only (for the
 * commands that write back) or running into a PROT_NONE page, random fields
 * in every struct, and ranges for XKSM_IOC_MERGEABLE / UNMERGEABLE that are
 * unaligned, overflow, lie beyond TASK_SIZE (4- or 5-level paging, probed),
 * are kernel addresses, huge over mostly unmapped space, partly mapped, or
 * empty; flags known and unknown, domains with and without
 * XKSM_SET_DOMAIN, and pidfds with and without XKSM_PIDFD: the test's own
 * (acting as without it), one of a reaped child (ESRCH), descriptors that
 * are not pidfds and numbers not open (EBADF).  Each call's errno is
 * computed from the header's rules and compared; the ranges land in an
 * arena whose layout (anonymous, read-only, PROT_NONE, shared, holes) the
 * test knows, so it keeps its own model of what is registered and checks
 * XKSM_IOC_STATS (registered_bytes, mergeable, merge_any) and
 * XKSM_IOC_GET_MERGE_ANY against it after every call; after a call that
 * fails they must be what they were before, and an argument that was
 * writable must not have been written.  Where the header leaves a choice
 * open, either answer is taken: a read-only argument of a command that
 * writes back, with a bad field, may get EINVAL or EFAULT; a call both
 * malformed (EINVAL) and naming a bad pidfd may get either error; a
 * non-zero domain given to GET_MERGE_ANY or STATS (which write it) may be
 * ignored or refused; what registered_bytes counts under merge-any, and the
 * domain ids written back, are not compared.  Commands the VFS answers
 * itself (magics 0x00, 0x15, 'T', 'X', 'f', 0x94: FIOCLEX,
 * FIONBIO, FIFREEZE, ...) are left out: they never reach xksm.
 *
 * Part 2: 8 threads register and unregister overlapping random ranges of
 * one shared mapping (some running into the unmapped pages around it),
 * toggle merge-any, read the statistics, open stat files and rewrite pages
 * with their own contents, for a few seconds while xksmd scans flat out.
 * Then the mapping must be intact; after unregistering it without
 * XKSM_KEEP_MERGED nothing is registered or merged and xksm's pages_shared
 * and pages_sharing are back to 0; registered again it merges, and
 * unregistered again all is back to 0.
 *
 * Runtime: about 5-8 s under TCG on 6.1 / 6.12, about 30 s on the debug
 * kernel (told by /sys/kernel/debug/kmemleak: fewer calls there).
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "xksm_test.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define KERNEL_ADDR	0xffff888000000000ULL
#define NOT_TOLD	(-1)		/* no alternative errno */
#define NRES(r)		((int)(sizeof(r) / sizeof((r)[0])))

#ifndef SYS_pidfd_open
#define SYS_pidfd_open	434
#endif

/* --- the PRNG (splitmix64) --------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return rng_next(&rng_state);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static int chance(int pct)
{
	return (int)below(100) < pct;
}

/* A value for a field that is probably wrong (it may still be 0 or 1). */
static __u64 rnd_u64(void)
{
	switch (below(8)) {
	case 0:	return 1;
	case 1:	return below(16);
	case 2:	return 1ULL << below(64);
	case 3:	return ~0ULL;
	case 4:	return ~0ULL - below(4096);
	case 5:	return 1ULL << 32;
	default: return rnd();
	}
}

/* Mostly zero; now and then one or two words set. */
static void rnd_reserved(__u64 *r, int n)
{
	int k;

	memset(r, 0, n * sizeof(*r));
	if (chance(20))
		for (k = 1 + below(2); k; k--)
			r[below(n)] = rnd_u64();
}

static int zero(const __u64 *r, int n)
{
	while (n--)
		if (r[n])
			return 0;
	return 1;
}

/* --- the address space -------------------------------------------------- */

static int la57;
static uint64_t task_size;	/* TASK_SIZE: the end of user space */
static uint64_t low_end;	/* [0, low_end) is unmapped */
static uint64_t top_start;	/* [top_start, task_size) is unmapped */
static uint64_t win;		/* [win, win + WIN_SIZE): only what we map */
#define WIN_SIZE	(1ULL << 44)	/* 16 TiB */
#define ARENA_OFF	(1ULL << 30)
#define STORM_OFF	(2ULL << 30)
#define UNMAPPED_OFF	(16ULL << 20)	/* a page never mapped, for pointers */

/* The arena: pages of known kinds. */
enum { HOLE, ANON, SHARED };
#define NA	192
static char *arena;
static unsigned char kind[NA];
static unsigned char reg[NA];	/* the model: registered (XKSM_RANGE_ON) */
static int model_ma;		/* the model: merge-any */

static const struct { int first, n, kind, prot, fill; } layout[] = {
	{   0, 16, ANON,   PROT_READ | PROT_WRITE, 1 },
	{  16,  4, HOLE,   0, 0 },
	{  20, 16, ANON,   PROT_READ, 1 },		/* filled, then read-only */
	{  36,  8, SHARED, PROT_READ | PROT_WRITE, 1 },
	{  44,  1, HOLE,   0, 0 },
	{  45, 16, ANON,   PROT_NONE, 0 },
	{  61, 39, ANON,   PROT_READ | PROT_WRITE, 0 },	/* never touched */
	{ 100,  4, HOLE,   0, 0 },
	{ 104, 36, ANON,   PROT_READ | PROT_WRITE, 1 },
	{ 140,  8, SHARED, PROT_READ | PROT_WRITE, 0 },
	{ 148, 44, ANON,   PROT_READ | PROT_WRITE, 1 },
};

static void probe_address_space(void)
{
	static const uint64_t cand[] = { 1ULL << 45, 1ULL << 44, 3ULL << 44, 5ULL << 43 };
	uint64_t lo = ~0ULL, hi = 0, s, e;
	unsigned int i;
	char line[512];
	void *p;
	FILE *f;

	/* A hint above 47 bits is honoured only with 5-level paging. */
	p = mmap((void *)(1UL << 52), XT_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap");
	la57 = (uintptr_t)p >= (1UL << 47);
	munmap(p, XT_PAGE);
	task_size = la57 ? (1ULL << 56) - XT_PAGE : (1ULL << 47) - XT_PAGE;

	for (i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		win = cand[i];
		lo = ~0ULL;
		hi = 0;
		f = fopen("/proc/self/maps", "re");
		if (!f)
			fatal("open /proc/self/maps");
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%" SCNx64 "-%" SCNx64, &s, &e) != 2 || e > task_size)
				continue;
			if (s < lo)
				lo = s;
			if (e > hi)
				hi = e;
			if (s < win + WIN_SIZE && e > win)
				win = 0;
		}
		fclose(f);
		if (win)
			break;
	}
	if (!win)
		skip("no free 16 TiB window in the address space");
	low_end = lo;
	top_start = hi;
	xt_note("%d-level paging: TASK_SIZE %#" PRIx64 "; unmapped [0, %#" PRIx64
		") and [%#" PRIx64 ", TASK_SIZE); window %#" PRIx64,
		la57 ? 5 : 4, task_size, low_end, top_start, win);
}

static void map_arena(void)
{
	unsigned int i;
	int p;

	arena = (char *)(uintptr_t)(win + ARENA_OFF);
	for (i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		char *at = arena + layout[i].first * XT_PAGE;
		size_t len = layout[i].n * XT_PAGE;

		for (p = layout[i].first; p < layout[i].first + layout[i].n; p++)
			kind[p] = layout[i].kind;
		if (layout[i].kind == HOLE)
			continue;
		if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE | MAP_ANONYMOUS |
			 (layout[i].kind == SHARED ? MAP_SHARED : MAP_PRIVATE), -1, 0) != at)
			fatal("mmap the arena at %p", (void *)at);
		if (layout[i].fill)	/* the same pages in each: mergeable */
			for (p = 0; p < layout[i].n; p++)
				xt_fill_page(at, p, 0xf0 + p % 4);
		if (layout[i].prot != (PROT_READ | PROT_WRITE) && mprotect(at, len, layout[i].prot))
			fatal("mprotect");
	}
}

/* --- calls, categories, mismatches ------------------------------------- */

enum cat {
	C_UNKNOWN, C_SHAPE, C_MAGIC, C_BADPTR, C_API, C_SET_MA, C_GET_MA, C_STATS,
	C_STAT_FD, C_RANGE_EINVAL, C_RANGE_ENOMEM, C_RANGE_OK, C_PIDFD, NR_CAT
};

static const char *const cat_name[NR_CAT] = {
	[C_UNKNOWN]	 = "unknown numbers under magic 0xc5 get ENOTTY",
	[C_SHAPE]	 = "xksm's numbers with a wrong size or direction get ENOTTY",
	[C_MAGIC]	 = "commands under other magics get ENOTTY",
	[C_BADPTR]	 = "bad argument pointers (NULL, kernel, non-canonical, unmapped, "
			   "PROT_NONE, straddling, read-only for write-back) get EFAULT",
	[C_API]		 = "XKSM_IOC_API with random fields",
	[C_SET_MA]	 = "XKSM_IOC_SET_MERGE_ANY with random fields",
	[C_GET_MA]	 = "XKSM_IOC_GET_MERGE_ANY with random fields",
	[C_STATS]	 = "XKSM_IOC_STATS with random fields",
	[C_STAT_FD]	 = "XKSM_IOC_STAT_FD with random fields",
	[C_RANGE_EINVAL] = "(UN)MERGEABLE with unaligned or overflowing ranges, "
			   "bad flags, domain or pidfd fields, or reserved words get EINVAL",
	[C_RANGE_ENOMEM] = "(UN)MERGEABLE on partly or wholly unmapped ranges "
			   "(huge ones, and beyond TASK_SIZE, too) get ENOMEM",
	[C_RANGE_OK]	 = "(UN)MERGEABLE on mapped or empty ranges succeed",
	[C_PIDFD]	 = "well-formed calls with XKSM_PIDFD and a descriptor that is not a "
			   "pidfd (EBADF) or names a reaped process (ESRCH)",
};

static long cat_calls[NR_CAT], cat_bad[NR_CAT];
static long state_checked, state_bad;	/* failed calls: state unchanged */
static long arg_checked, arg_bad;	/* failed calls: argument not written */
static long model_checked, model_bad;	/* STATS / GET_MERGE_ANY vs the model */
static long output_checked, output_bad;	/* what successful calls wrote back */
static long pidfd_ok;			/* calls that succeeded with XKSM_PIDFD */

/* The first few mismatches of each kind are shown in full. */
enum { M_STATE = NR_CAT, M_ARG, M_MODEL, M_OUTPUT, M_STORM, NR_M };
static int shown[NR_M];
#define MAX_SHOWN	3

static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((format(printf, 2, 3))) mismatch(int what, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&show_lock);
	if (shown[what]++ < MAX_SHOWN) {
		printf("# MISMATCH: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		fflush(stdout);
	}
	pthread_mutex_unlock(&show_lock);
}

static const char *ename(int e)
{
	static char buf[4][32];
	static int i;

	switch (e) {
	case 0:		return "success";
	case NOT_TOLD:	return "-";
	case ENOTTY:	return "ENOTTY";
	case EFAULT:	return "EFAULT";
	case EINVAL:	return "EINVAL";
	case ENOMEM:	return "ENOMEM";
	case ESRCH:	return "ESRCH";
	case EBADF:	return "EBADF";
	case EPERM:	return "EPERM";
	case EINTR:	return "EINTR";
	}
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "errno %d (%s)", e, strerror(e));
	return buf[i];
}

static const unsigned int xksm_cmds[] = {
	XKSM_IOC_API, XKSM_IOC_MERGEABLE, XKSM_IOC_UNMERGEABLE, XKSM_IOC_SET_MERGE_ANY,
	XKSM_IOC_GET_MERGE_ANY, XKSM_IOC_STATS, XKSM_IOC_STAT_FD,
};
static const char *const xksm_cmd_names[] = {
	"API", "MERGEABLE", "UNMERGEABLE", "SET_MERGE_ANY", "GET_MERGE_ANY", "STATS", "STAT_FD",
};
#define NR_CMDS	7

static int is_xksm_cmd(unsigned int cmd)
{
	int i;

	for (i = 0; i < NR_CMDS; i++)
		if (cmd == xksm_cmds[i])
			return 1;
	return 0;
}

/*
 * Magics whose commands the VFS answers itself before the driver sees them
 * (fs/ioctl.c do_vfs_ioctl: FIOCLEX, FIONBIO, FIGETBSZ, FIFREEZE,
 * FS_IOC_GETFLAGS, FS_IOC_FSGETXATTR, FICLONE, FS_IOC_GETFSUUID, ...): not
 * xksm's to answer, so left out.
 */
static int vfs_magic(unsigned int m)
{
	return m == 0x00 || m == 0x15 || m == 'T' || m == 'X' || m == 'f' || m == 0x94;
}

/* --- argument pointers -------------------------------------------------- */

enum ptr {
	P_RW, P_RO, P_STRADDLE, P_NONE_PAGE, P_NULL, P_KERNEL, P_NONCANON, P_UNMAPPED, P_TOP,
	NR_PTR
};
static const char *const ptr_name[NR_PTR] = {
	"valid", "read-only", "straddling into PROT_NONE", "PROT_NONE", "NULL", "kernel",
	"non-canonical", "unmapped", "top of user space",
};

static char *argpages;	/* [0] read-only, [1] read-write, [2] PROT_NONE */

static enum ptr rnd_ptr(int mostly_valid)
{
	enum ptr p;

	if (mostly_valid && chance(70))
		return P_RW;
	do
		p = below(NR_PTR);
	while (p == P_TOP && top_start > task_size - XT_PAGE);
	return p;
}

/* Put the argument where kind says; returns the pointer for the ioctl. */
static void *place(enum ptr p, const void *arg, size_t size)
{
	char *at;
	size_t k;

	switch (p) {
	case P_RW:
		at = argpages + XT_PAGE + below(XT_PAGE - size + 1);
		memcpy(at, arg, size);
		return at;
	case P_RO:
		at = argpages + below(XT_PAGE - size + 1);
		if (mprotect(argpages, XT_PAGE, PROT_READ | PROT_WRITE))
			fatal("mprotect");
		memcpy(at, arg, size);
		if (mprotect(argpages, XT_PAGE, PROT_READ))
			fatal("mprotect");
		return at;
	case P_STRADDLE:
		k = 1 + below(size - 1);
		at = argpages + 2 * XT_PAGE - k;
		memcpy(at, arg, k);
		return at;
	case P_NONE_PAGE:
		return argpages + 2 * XT_PAGE + below(XT_PAGE - size + 1);
	case P_NULL:
		return NULL;
	case P_KERNEL:
		return (void *)(uintptr_t)(chance(50) ? KERNEL_ADDR : 0xffffffff81000000ULL);
	case P_NONCANON:
		return (void *)(uintptr_t)((1ULL << 60) + (below(1 << 20) << 12));
	case P_UNMAPPED:
		return (void *)(uintptr_t)(win + UNMAPPED_OFF + below(XT_PAGE - size + 1));
	case P_TOP:
		return (void *)(uintptr_t)(task_size - XT_PAGE + below(XT_PAGE - size + 1));
	default:
		return NULL;
	}
}

/* --- the state ---------------------------------------------------------- */

struct snap {
	__u64 registered_bytes, mergeable, merge_any, get_merge_any;
};

static struct snap take_snap(void)
{
	struct xksm_stats st;
	struct snap s;
	long long ma;

	if (xt_stats(&st))
		fatal("XKSM_IOC_STATS for the state");
	ma = xt_get_merge_any();
	if (ma < 0)
		fatal("XKSM_IOC_GET_MERGE_ANY for the state");
	s.registered_bytes = st.registered_bytes;
	s.mergeable = st.mergeable;
	s.merge_any = st.merge_any;
	s.get_merge_any = ma;
	return s;
}

static uint64_t model_bytes(void)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < NA; i++)
		n += reg[i];
	return n * XT_PAGE;
}

/*
 * Is the state what the model says?  registered_bytes is compared only
 * without merge-any: what it counts under merge-any the header leaves open.
 */
static int model_ok(const struct snap *s)
{
	uint64_t b = model_bytes();

	if (s->merge_any != (__u64)model_ma || s->get_merge_any != (__u64)model_ma)
		return 0;
	if (model_ma)
		return s->mergeable == 1;
	return s->registered_bytes == b && s->mergeable == (b != 0);
}

static void snap_str(char *buf, size_t n, const struct snap *s)
{
	snprintf(buf, n, "registered_bytes %llu mergeable %llu merge_any %llu/%llu",
		 (unsigned long long)s->registered_bytes, (unsigned long long)s->mergeable,
		 (unsigned long long)s->merge_any, (unsigned long long)s->get_merge_any);
}

/*
 * Back to a known state after the model lost track (a wrong answer):
 * merge-any off, the whole window unregistered.
 */
static void resync(void)
{
	xt_set_merge_any(0);
	xt_unregister((void *)(uintptr_t)win, WIN_SIZE, 0);
	memset(reg, 0, sizeof(reg));
	model_ma = 0;
}

/* --- ranges ------------------------------------------------------------- */

/*
 * What the header says of [start, start + len): EINVAL, or -1 to go on.
 * Sets *end (the end rounded up to pages).
 */
static int range_rule(__u64 start, __u64 len, __u64 *end)
{
	__u64 alen;

	if (start & (XT_PAGE - 1))
		return EINVAL;
	if (len > ~0ULL - (XT_PAGE - 1))	/* rounding up overflows */
		return EINVAL;
	alen = (len + XT_PAGE - 1) & ~(__u64)(XT_PAGE - 1);
	if (start + alen < start)		/* wraps around */
		return EINVAL;
	/* Beyond TASK_SIZE is not EINVAL: nothing is mapped there (ENOMEM). */
	*end = start + alen;
	return -1;
}

/*
 * The mapping of [s, e) in the known regions: 1 if part of it is not
 * mapped, 0 if all is, -1 when it is not in a region the test knows.
 * Sets the arena pages it covers, [*as, *ae).
 */
static int classify(__u64 s, __u64 e, long *as, long *ae)
{
	__u64 a = (uintptr_t)arena, p;
	int hole = 0;

	*as = *ae = 0;
	/* Nothing is mapped below low_end, nor from top_start on. */
	if (e <= low_end || s >= top_start)
		return 1;
	if (s < win || e > win + WIN_SIZE)
		return -1;
	if (s < a || e > a + NA * XT_PAGE)
		hole = 1;
	s = s > a ? s : a;
	e = e < a + NA * XT_PAGE ? e : a + NA * XT_PAGE;
	if (s < e) {
		*as = (s - a) / XT_PAGE;
		*ae = (e - a) / XT_PAGE;
		for (p = *as; p < (__u64)*ae; p++)
			hole |= kind[p] == HOLE;
	}
	return hole;
}

/* A random range: one of the shapes the issue lists. */
static void rnd_range(__u64 *start, __u64 *len)
{
	__u64 a = (uintptr_t)arena, k, top = (task_size - top_start) / XT_PAGE;
	int shape = below(100);

	*len = 0;
	if (shape < 15) {			/* inside one mapping of the arena */
		unsigned int i;

		do
			i = below(sizeof(layout) / sizeof(layout[0]));
		while (layout[i].kind == HOLE);
		k = below(layout[i].n);
		*start = a + (layout[i].first + k) * XT_PAGE;
		*len = (1 + below(layout[i].n - k)) * XT_PAGE - (chance(30) ? below(XT_PAGE) : 0);
	} else if (shape < 40) {		/* around and in the arena */
		*start = a + ((long)below(NA + 64) - 32) * (long)XT_PAGE;
		if (!chance(10)) {
			*len = (1 + below(NA + 32)) * XT_PAGE;
			if (chance(30))
				*len -= below(XT_PAGE);
		}
	} else if (shape < 48) {		/* huge, mostly unmapped */
		*start = chance(70) ? a + below(NA) * XT_PAGE : win + below(1 << 10) * XT_PAGE;
		*len = (1ULL << 30) + below(WIN_SIZE / 2);
	} else if (shape < 56) {		/* unaligned start */
		*start = a + below(NA) * XT_PAGE + 1 + below(XT_PAGE - 1);
		*len = chance(20) ? 0 : below(4 * XT_PAGE);
	} else if (shape < 64) {		/* the end overflows */
		*start = chance(80) ? a + below(NA) * XT_PAGE : below(1ULL << 47) << 12;
		switch (below(7)) {
		case 0:	*len = ~0ULL; break;
		case 1:	*len = ~0ULL - below(XT_PAGE); break;
		case 2:	*len = -*start; break;
		case 3:	*len = -*start + below(16) * XT_PAGE; break;
		case 4:	*len = task_size - *start + 1 + below(XT_PAGE); break;
		case 5:	*len = 1ULL << (48 + below(16)); break;
		default: *len = rnd(); break;
		}
	} else if (shape < 72) {		/* beyond user space */
		switch (below(9)) {
		case 0:	*start = task_size; break;
		case 1:	*start = task_size + XT_PAGE; break;
		case 2:	*start = 1ULL << 47; break;	/* valid only with LA57 */
		case 3:	*start = 1ULL << 56; break;
		case 4:	*start = KERNEL_ADDR; break;
		case 5:	*start = 0xffffffff81000000ULL; break;
		case 6:	*start = 1ULL << 63; break;
		case 7:	*start = ~0ULL - XT_PAGE + 1; break;
		default: *start = (task_size + XT_PAGE + (rnd() & ~0xfffULL)) & ~0xfffULL;
			if (*start < task_size)
				*start = 1ULL << 63;
			break;
		}
		*len = chance(30) ? 0 : (1 + below(16)) * XT_PAGE;
	} else if (shape < 80 && top) {		/* ending at TASK_SIZE, or just beyond */
		k = 1 + below(top < 16 ? top : 16);
		*start = task_size - k * XT_PAGE;
		*len = k * XT_PAGE;
		if (chance(30))
			*len += 1 + below(2 * XT_PAGE);
		else if (chance(30))
			*len -= below(XT_PAGE);
	} else if (shape < 86 && low_end > 16 * XT_PAGE) {	/* the bottom, never mapped */
		*start = below(8) * XT_PAGE;
		*len = chance(10) ? 0 : (1 + below(8)) * XT_PAGE;
	} else if (shape < 92 && la57) {	/* above 47 bits: user space with LA57 */
		*start = (1ULL << 47) + below(1ULL << 40) * XT_PAGE;
		*len = (1 + below(16)) * XT_PAGE;
	} else {				/* the empty part of the window */
		*start = win + below(ARENA_OFF / XT_PAGE - 64) * XT_PAGE;
		*len = (1 + below(64)) * XT_PAGE;
	}
}

/* --- one fuzz call ------------------------------------------------------ */

union arg {
	struct xksm_api api;
	struct xksm_range range;
	struct xksm_merge_any ma;
	struct xksm_stats st;
	struct xksm_stat_fd sfd;
	char raw[128];
};

static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

	if (fd >= 0)
		close(fd);
	return fd;
}

#define SKIP_CALL	(-2)

/* --- flags, domains, pidfds --------------------------------------------- */

static int self_pidfd = -1;	/* a pidfd of this process: acts as no pidfd */
static int dead_pidfd = -1;	/* a pidfd of a child exited and reaped */

static void open_pidfds(void)
{
	int sync[2];
	pid_t pid;
	char c;

	self_pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	if (self_pidfd < 0)
		fatal("pidfd_open(self)");
	if (pipe2(sync, O_CLOEXEC))
		fatal("pipe");
	pid = xt_fork();
	if (pid == 0) {
		close(sync[1]);
		_exit(read(sync[0], &c, 1) < 0);
	}
	close(sync[0]);
	dead_pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (dead_pidfd < 0)
		fatal("pidfd_open(child)");
	close(sync[1]);
	if (waitpid(pid, NULL, 0) != pid)
		fatal("waitpid");
}

/* What XKSM_PIDFD with this pidfd field gets: 0 (it is ours), ESRCH, EBADF. */
static int pidfd_rule(__u64 pidfd)
{
	if (pidfd == (__u64)self_pidfd)
		return 0;
	if (pidfd == (__u64)dead_pidfd)
		return ESRCH;
	return EBADF;		/* no other pidfd is open here */
}

/* A pidfd field to go with XKSM_PIDFD. */
static __u64 rnd_pidfd(void)
{
	switch (below(10)) {
	case 0: case 1: case 2: case 3: case 4:
		return self_pidfd;
	case 5:
		return dead_pidfd;
	case 6:
		return xt_dev();				/* not a pidfd */
	case 7:
		return (1ULL << (32 + below(32))) | self_pidfd;	/* ours, truncated */
	default:
		return rnd_u64();
	}
}

/*
 * Flags for a command that takes the bits in valid: mostly none or valid
 * ones, now and then any of the known bits, or random ones.
 */
static __u64 rnd_flags(__u64 valid)
{
	static const __u64 known[] = { XKSM_KEEP_MERGED, XKSM_SET_DOMAIN, XKSM_PIDFD };
	__u64 f = 0;
	int i;

	switch (below(10)) {
	case 0: case 1: case 2: case 3: case 4:
		return 0;
	case 5: case 6: case 7:
		for (i = 0; i < 3; i++)
			if (known[i] & valid && chance(50))
				f |= known[i];
		return f;
	case 8:
		return known[below(3)];
	default:
		return rnd_u64();
	}
}

/*
 * The domain and pidfd fields for these flags; returns EINVAL when they
 * break the header's rules for them, else 0, and sets *pf to what the
 * pidfd gets (0 without XKSM_PIDFD).
 */
static int rnd_domain_pidfd(__u64 flags, __u64 *domain, __u64 *pidfd, int *pf)
{
	int inval = 0;

	if (flags & XKSM_SET_DOMAIN)
		*domain = chance(70) ? below(8) : rnd_u64();
	else
		*domain = chance(90) ? 0 : rnd_u64();
	if (flags & XKSM_PIDFD)
		*pidfd = rnd_pidfd();
	else
		*pidfd = chance(90) ? 0 : chance(50) ? (__u64)self_pidfd : rnd_u64();
	if (flags & XKSM_SET_DOMAIN ? *domain > 0xffffffffULL : *domain != 0)
		inval = 1;
	if (!(flags & XKSM_PIDFD) && *pidfd)
		inval = 1;
	*pf = flags & XKSM_PIDFD ? pidfd_rule(*pidfd) : 0;
	return inval ? EINVAL : 0;
}

/*
 * The errno of a call: EINVAL for a malformed argument, the pidfd's error,
 * or go on (-1).  Malformed and with a bad pidfd, either may come first:
 * EINVAL then, with the pidfd's error as *alt.
 */
static int first_error(int inval, int pf, int *alt)
{
	if (inval && pf) {
		*alt = pf;
		return EINVAL;
	}
	if (inval)
		return EINVAL;
	return pf ? pf : -1;
}

static void desc_fields(char *desc, size_t dlen, __u64 flags, __u64 domain, __u64 pidfd)
{
	size_t l = strlen(desc);

	snprintf(desc + l, dlen - l, " flags %#llx domain %#llx pidfd %#llx",
		 (unsigned long long)flags, (unsigned long long)domain,
		 (unsigned long long)pidfd);
}

/*
 * The argument of one of xksm's commands (which: its index in xksm_cmds),
 * with random fields: returns the errno the header gives it (0: success),
 * or SKIP_CALL for a range the test cannot predict; where the header
 * leaves two answers open, the other in *alt.  Sets its category, and for
 * a range that may change something, the arena pages it covers.
 */
static int gen_arg(int which, union arg *a, char *desc, size_t dlen, enum cat *cat,
		   long *as, long *ae, int *apply, int *alt)
{
	const __u64 *r;
	int exp, n, i, l, inval, pf = 0;
	__u64 end = 0;

	switch (which) {
	case 0:
		a->api.api = chance(80) ? XKSM_API : rnd_u64();
		a->api.features = chance(80) ? 0 : rnd_u64();
		a->api.module_version = chance(50) ? 0 : rnd_u64();	/* out only */
		rnd_reserved(a->api.reserved, NRES(a->api.reserved));
		exp = a->api.api == XKSM_API && !a->api.features &&
		      zero(a->api.reserved, NRES(a->api.reserved)) ? 0 : EINVAL;
		*cat = C_API;
		snprintf(desc, dlen, "API api %#llx features %#llx version %#llx",
			 (unsigned long long)a->api.api, (unsigned long long)a->api.features,
			 (unsigned long long)a->api.module_version);
		r = a->api.reserved;
		n = NRES(a->api.reserved);
		break;
	case 1:
	case 2:
		rnd_range(&a->range.start, &a->range.len);
		a->range.flags = rnd_flags(which == 1 ? XKSM_SET_DOMAIN | XKSM_PIDFD :
					   XKSM_KEEP_MERGED | XKSM_PIDFD);
		inval = rnd_domain_pidfd(a->range.flags, &a->range.domain, &a->range.pidfd, &pf);
		rnd_reserved(a->range.reserved, NRES(a->range.reserved));
		if (a->range.flags & ~(which == 1 ? XKSM_SET_DOMAIN | XKSM_PIDFD :
				       XKSM_KEEP_MERGED | XKSM_PIDFD) ||
		    !zero(a->range.reserved, NRES(a->range.reserved)))
			inval = EINVAL;
		if (range_rule(a->range.start, a->range.len, &end) == EINVAL)
			inval = EINVAL;
		exp = first_error(inval, pf, alt);
		if (exp < 0 && end == a->range.start) {
			exp = 0;		/* empty: a no-op */
		} else if (exp < 0) {
			n = classify(a->range.start, end, as, ae);
			if (n < 0)
				return SKIP_CALL;
			exp = n ? ENOMEM : 0;
			*apply = 1;
		}
		*cat = exp == EINVAL ? C_RANGE_EINVAL : exp == pf && pf ? C_PIDFD :
		       exp ? C_RANGE_ENOMEM : C_RANGE_OK;
		snprintf(desc, dlen, "%s start %#llx len %#llx", xksm_cmd_names[which],
			 (unsigned long long)a->range.start, (unsigned long long)a->range.len);
		desc_fields(desc, dlen, a->range.flags, a->range.domain, a->range.pidfd);
		r = a->range.reserved;
		n = NRES(a->range.reserved);
		break;
	case 3:
		a->ma.enable = chance(40) ? 0 : chance(50) ? 1 : rnd_u64();
		a->ma.flags = rnd_flags(XKSM_SET_DOMAIN | XKSM_PIDFD);
		inval = rnd_domain_pidfd(a->ma.flags, &a->ma.domain, &a->ma.pidfd, &pf);
		rnd_reserved(a->ma.reserved, NRES(a->ma.reserved));
		if (a->ma.enable > 1 || a->ma.flags & ~(XKSM_SET_DOMAIN | XKSM_PIDFD) ||
		    (a->ma.flags & XKSM_SET_DOMAIN && !a->ma.enable) ||
		    !zero(a->ma.reserved, NRES(a->ma.reserved)))
			inval = EINVAL;
		exp = first_error(inval, pf, alt);
		exp = exp < 0 ? 0 : exp;
		*cat = exp == pf && pf ? C_PIDFD : C_SET_MA;
		snprintf(desc, dlen, "SET_MERGE_ANY enable %#llx",
			 (unsigned long long)a->ma.enable);
		desc_fields(desc, dlen, a->ma.flags, a->ma.domain, a->ma.pidfd);
		r = a->ma.reserved;
		n = NRES(a->ma.reserved);
		break;
	case 4:
		a->ma.enable = chance(50) ? 0 : rnd_u64();		/* out only */
		a->ma.flags = rnd_flags(XKSM_PIDFD);
		/*
		 * GET writes the domain: one given may be refused as for SET,
		 * or ignored as the enable field is (told below).
		 */
		rnd_domain_pidfd(a->ma.flags, &a->ma.domain, &a->ma.pidfd, &pf);
		inval = 0;
		rnd_reserved(a->ma.reserved, NRES(a->ma.reserved));
		if (a->ma.flags & ~XKSM_PIDFD || !zero(a->ma.reserved, NRES(a->ma.reserved)) ||
		    (!(a->ma.flags & XKSM_PIDFD) && a->ma.pidfd))
			inval = EINVAL;
		exp = first_error(inval, pf, alt);
		exp = exp < 0 ? 0 : exp;
		if (exp != EINVAL && a->ma.domain)
			*alt = EINVAL;
		*cat = exp == pf && pf ? C_PIDFD : C_GET_MA;
		snprintf(desc, dlen, "GET_MERGE_ANY enable %#llx",
			 (unsigned long long)a->ma.enable);
		desc_fields(desc, dlen, a->ma.flags, a->ma.domain, a->ma.pidfd);
		r = a->ma.reserved;
		n = NRES(a->ma.reserved);
		break;
	case 5:
		for (i = 0; i < 7; i++)				/* out only */
			((__u64 *)&a->st)[i] = chance(50) ? 0 : rnd_u64();
		a->st.flags = rnd_flags(XKSM_PIDFD);
		/* @domain is written: one given may be ignored or refused. */
		rnd_domain_pidfd(a->st.flags, &a->st.domain, &a->st.pidfd, &pf);
		inval = 0;
		rnd_reserved(a->st.reserved, NRES(a->st.reserved));
		if (a->st.flags & ~XKSM_PIDFD || !zero(a->st.reserved, NRES(a->st.reserved)) ||
		    (!(a->st.flags & XKSM_PIDFD) && a->st.pidfd))
			inval = EINVAL;
		exp = first_error(inval, pf, alt);
		exp = exp < 0 ? 0 : exp;
		if (exp != EINVAL && a->st.domain)
			*alt = EINVAL;
		*cat = exp == pf && pf ? C_PIDFD : C_STATS;
		snprintf(desc, dlen, "STATS");
		desc_fields(desc, dlen, a->st.flags, a->st.domain, a->st.pidfd);
		r = a->st.reserved;
		n = NRES(a->st.reserved);
		break;
	default:
		a->sfd.format = chance(80) ? below(2) : rnd_u64();
		a->sfd.flags = chance(80) ? below(2) : rnd_u64();
		rnd_reserved(a->sfd.reserved, NRES(a->sfd.reserved));
		exp = a->sfd.format <= XKSM_STAT_MERGING_PAGES &&
		      !(a->sfd.flags & ~XKSM_STAT_CLOEXEC) &&
		      zero(a->sfd.reserved, NRES(a->sfd.reserved)) ? 0 : EINVAL;
		*cat = C_STAT_FD;
		snprintf(desc, dlen, "STAT_FD format %#llx flags %#llx",
			 (unsigned long long)a->sfd.format, (unsigned long long)a->sfd.flags);
		r = a->sfd.reserved;
		n = NRES(a->sfd.reserved);
		break;
	}
	for (i = 0, l = strlen(desc); i < n; i++)
		if (r[i])
			l += snprintf(desc + l, dlen - l, " reserved[%d] %#llx", i,
				      (unsigned long long)r[i]);
	return exp;
}

/* A random command that is not xksm's: ENOTTY, whatever its argument. */
static unsigned int gen_not_xksm(int c, enum cat *cat)
{
	static const unsigned int sizes[] = { 0, 1, 8, 32, 56, 63, 64, 65, 72, 128, 136, 4096 };
	unsigned int cmd, nr, dir, size, magic;

	if (c < 10) {				/* unknown numbers under 0xc5 */
		do
			cmd = _IOC(below(4), XKSM_IOC_MAGIC, below(256), below(1 << 14));
		while (is_xksm_cmd(cmd));
		*cat = C_UNKNOWN;
	} else if (c < 20) {			/* xksm's numbers, wrong shape */
		do {
			nr = below(NR_CMDS);
			dir = chance(50) ? _IOC_DIR(xksm_cmds[nr]) : below(4);
			size = chance(70) ? sizes[below(12)] : below(1 << 14);
			cmd = _IOC(dir, XKSM_IOC_MAGIC, nr, size);
		} while (is_xksm_cmd(cmd));
		*cat = C_SHAPE;
	} else {				/* other magics */
		do
			magic = below(256);
		while (magic == XKSM_IOC_MAGIC || vfs_magic(magic));
		nr = below(NR_CMDS);
		if (chance(40))			/* the shape of one of xksm's */
			cmd = _IOC(_IOC_DIR(xksm_cmds[nr]), magic, nr, _IOC_SIZE(xksm_cmds[nr]));
		else
			cmd = _IOC(below(4), magic, below(256), below(1 << 14));
		*cat = C_MAGIC;
	}
	return cmd;
}

static void fuzz_one(int fd, struct snap *prev)
{
	int c = below(100), which = -1, exp, alt = NOT_TOLD, alt2 = NOT_TOLD, got, ret;
	int fd_before = -1;
	int range_apply = 0, stable_state, write_back;
	enum cat cat = C_UNKNOWN;
	long as = 0, ae = 0;
	unsigned int cmd, size, i;
	union arg a, orig;
	char desc[384] = "";
	enum ptr ptr;
	void *p;
	struct snap now;

	memset(&a, 0, sizeof(a));
	if (c < 25) {				/* ENOTTY, whatever the argument */
		cmd = gen_not_xksm(c, &cat);
		exp = ENOTTY;
		for (i = 0; i < sizeof(a.raw) / 8; i++)
			((__u64 *)a.raw)[i] = chance(50) ? 0 : rnd_u64();
		size = sizeof(a);
		ptr = rnd_ptr(0);
		snprintf(desc, sizeof(desc),
			 "cmd %#x (dir %u magic %#x nr %#x size %u), %s pointer", cmd,
			 _IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd),
			 ptr_name[ptr]);
	} else {				/* one of xksm's commands */
		which = below(100);
		which = which < 8 ? 0 : which < 36 ? 1 : which < 64 ? 2 : which < 72 ? 3 :
			which < 80 ? 4 : which < 90 ? 5 : 6;
		cmd = xksm_cmds[which];
		size = _IOC_SIZE(cmd);
		write_back = which == 0 || which == 4 || which == 5;
		exp = gen_arg(which, &a, desc, sizeof(desc), &cat, &as, &ae, &range_apply, &alt);
		if (exp == SKIP_CALL)
			return;
		ptr = rnd_ptr(1);
		if (ptr == P_RO && write_back) {
			/* The answer cannot be written; checking the fields may come first. */
			if (exp)
				alt2 = EFAULT;
			else
				exp = EFAULT;
			cat = exp == EFAULT ? C_BADPTR : cat;
			range_apply = 0;
		} else if (ptr != P_RW && ptr != P_RO) {
			exp = EFAULT;
			alt = NOT_TOLD;		/* the argument cannot be read */
			cat = C_BADPTR;
			range_apply = 0;
		}
		snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc), ", %s pointer",
			 ptr_name[ptr]);
	}

	p = place(ptr, &a, size < sizeof(a) ? size : sizeof(a));
	if (ptr == P_RW)
		memcpy(&orig, p, size < sizeof(a) ? size : sizeof(a));
	if (which == 6)
		fd_before = lowest_free_fd();

	ret = ioctl(fd, cmd, p);
	got = ret < 0 ? errno : 0;

	cat_calls[cat]++;
	if (got != exp && got != alt && got != alt2) {
		cat_bad[cat]++;
		mismatch(cat, "%s: expected %s%s%s%s%s, got %s", desc, ename(exp),
			 alt != NOT_TOLD ? " or " : "", alt != NOT_TOLD ? ename(alt) : "",
			 alt2 != NOT_TOLD ? " or " : "", alt2 != NOT_TOLD ? ename(alt2) : "",
			 ename(got));
	}

	if (!got && which >= 1 && which <= 5 &&
	    (which <= 2 ? a.range.flags : which <= 4 ? a.ma.flags : a.st.flags) & XKSM_PIDFD)
		pidfd_ok++;

	/* What a successful call wrote back. */
	if (!got && ptr == P_RW) {
		const char *bad = NULL;
		union arg *out = p;	/* may be unaligned: copy */
		union arg o;

		memcpy(&o, out, size < sizeof(o) ? size : sizeof(o));
		output_checked++;
		if (which == 0 && (o.api.api != XKSM_API || o.api.features & ~XKSM_FEATURES_KNOWN ||
				   !zero(o.api.reserved, NRES(o.api.reserved))))
			bad = "API answer";
		if (which == 4 && (o.ma.enable != (__u64)model_ma ||
				   !zero(o.ma.reserved, NRES(o.ma.reserved))))
			bad = "GET_MERGE_ANY answer";
		if (which == 5 && (!zero(o.st.reserved, NRES(o.st.reserved)) ||
				   o.st.merge_any != (__u64)model_ma ||
				   (!model_ma && o.st.registered_bytes != model_bytes())))
			bad = "STATS answer";
		if (bad) {
			output_bad++;
			mismatch(M_OUTPUT, "%s: %s wrong (enable/merge_any %llu, "
				 "registered_bytes %llu; model: merge_any %d, %llu bytes)",
				 desc, bad,
				 (unsigned long long)(which == 4 ? o.ma.enable : o.st.merge_any),
				 (unsigned long long)o.st.registered_bytes, model_ma,
				 (unsigned long long)model_bytes());
		}
	}
	if (which == 6 && ret >= 0) {
		int fl = fcntl(ret, F_GETFD);

		output_checked++;
		if (fl < 0 || !!(fl & FD_CLOEXEC) != !!(a.sfd.flags & XKSM_STAT_CLOEXEC)) {
			output_bad++;
			mismatch(M_OUTPUT, "%s: the new fd %d has FD_CLOEXEC %d", desc, ret, fl);
		}
		close(ret);
	}

	/* A failed call writes nothing back and opens nothing. */
	if (got && got != ENOMEM) {
		if (ptr == P_RW) {
			arg_checked++;
			if (memcmp(&orig, p, size < sizeof(a) ? size : sizeof(a))) {
				arg_bad++;
				mismatch(M_ARG, "%s: failed with %s but wrote to its argument",
					 desc, ename(got));
			}
		}
		if (which == 6) {
			arg_checked++;
			if (lowest_free_fd() != fd_before) {
				arg_bad++;
				mismatch(M_ARG, "%s: failed with %s but a descriptor appeared",
					 desc, ename(got));
			}
		}
	}

	/* The model follows what the header says the call did. */
	stable_state = got == exp || got == alt || got == alt2;
	if (stable_state && !got && which == 3 && a.ma.enable != (__u64)model_ma) {
		memset(reg, 0, sizeof(reg));	/* merge-any starts and ends afresh */
		model_ma = a.ma.enable;
	}
	if (stable_state && range_apply) {
		for (; as < ae; as++)
			if (which == 2)
				reg[as] = 0;
			else if (kind[as] == ANON)
				reg[as] = 1;
	}

	now = take_snap();
	if ((got && got != ENOMEM) || (exp && exp != ENOMEM)) {
		state_checked++;
		if (memcmp(&now, prev, sizeof(now))) {
			char b1[160], b2[160];

			state_bad++;
			snap_str(b1, sizeof(b1), prev);
			snap_str(b2, sizeof(b2), &now);
			mismatch(M_STATE, "%s: failed (%s) but the state changed: before %s, "
				 "after %s", desc, ename(got), b1, b2);
		}
	}
	if (stable_state) {
		model_checked++;
		if (!model_ok(&now)) {
			char b[160];

			model_bad++;
			snap_str(b, sizeof(b), &now);
			mismatch(M_MODEL, "%s: after it (%s), %s; the model: merge_any %d, "
				 "%llu bytes", desc, ename(got), b, model_ma,
				 (unsigned long long)model_bytes());
			stable_state = 0;
		}
	}
	if (!stable_state) {
		resync();
		now = take_snap();
	}
	*prev = now;
}

/* --- part 2: the storm -------------------------------------------------- */

#define NTHREADS	8
#define H		256		/* the storm mapping: 2 * H pages, twice one pattern */
#define STORM_SEED	0x7a11

static char *storm;
static volatile int storm_stop;
static long storm_ops[4], storm_bad;
static double storm_slowest;
static pthread_mutex_t storm_lock = PTHREAD_MUTEX_INITIALIZER;
static char storm_slowest_what[128];

/* Remember the slowest call of the storm, for the record. */
static void storm_timed(double t0, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void storm_timed(double t0, const char *fmt, ...)
{
	double t = xt_now() - t0;
	va_list ap;

	if (t <= storm_slowest)		/* racy, but only a hint */
		return;
	pthread_mutex_lock(&storm_lock);
	if (t > storm_slowest) {
		storm_slowest = t;
		va_start(ap, fmt);
		vsnprintf(storm_slowest_what, sizeof(storm_slowest_what), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&storm_lock);
}
static uint64_t storm_seed;

static void storm_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void storm_fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&storm_lock);
	storm_bad++;
	pthread_mutex_unlock(&storm_lock);
	mismatch(M_STORM, "storm: %s", buf);
}

static void *storm_thread(void *arg)
{
	long id = (long)arg, ops[4] = { 0 }, i;
	double t;
	uint64_t s = storm_seed ^ (id * 0x1234567ULL);
	int fd = xt_dev();

	for (i = 0; !storm_stop; i++) {
		long sp = (long)(rng_next(&s) % (2 * H + 4)) - 2;
		long lp = rng_next(&s) % 8 ? rng_next(&s) % (H / 2) : rng_next(&s) % (2 * H + 4);
		struct xksm_range r = {
			.start = (uintptr_t)(storm + sp * (long)XT_PAGE),
			.len = lp * XT_PAGE,
		};
		int merge = rng_next(&s) % 2, exp, got;

		if (!merge && rng_next(&s) % 4 == 0)
			r.flags = XKSM_KEEP_MERGED;
		exp = lp && (sp < 0 || sp + lp > 2 * H) ? ENOMEM : 0;
		t = xt_now();
		got = ioctl(fd, merge ? XKSM_IOC_MERGEABLE : XKSM_IOC_UNMERGEABLE, &r) ? errno : 0;
		storm_timed(t, "%s of %ld pages, flags %llu", merge ? "MERGEABLE" : "UNMERGEABLE",
			    lp, (unsigned long long)r.flags);
		ops[0]++;
		if (got != exp)
			storm_fail("thread %ld: %s pages [%ld, %ld) of the mapping, flags %llu: "
				   "expected %s, got %s", id, merge ? "MERGEABLE" : "UNMERGEABLE",
				   sp, sp + lp, (unsigned long long)r.flags, ename(exp),
				   ename(got));

		if (id == 0 && i % 50 == 25) {		/* merge-any on, then off */
			t = xt_now();
			got = xt_set_merge_any((i / 50) % 2) ? errno : 0;
			storm_timed(t, "SET_MERGE_ANY %ld", (i / 50) % 2);
			ops[1]++;
			if (got)
				storm_fail("SET_MERGE_ANY %ld: %s", (i / 50) % 2, ename(got));
		}
		if (id == 1) {				/* rewrite pages as they are */
			long pg = rng_next(&s) % (2 * H);

			xt_fill_page(storm + (pg / H) * H * XT_PAGE, pg % H, STORM_SEED);
			ops[2]++;
		}
		if (id == 2) {				/* the statistics hold together */
			struct xksm_stats st;

			ops[3]++;
			t = xt_now();
			if (xt_stats(&st))
				storm_fail("STATS: %s", ename(errno));
			else if (st.registered_bytes > 2 * H * XT_PAGE || st.mergeable !=
				 (st.merge_any || st.registered_bytes))
				storm_fail("STATS: registered_bytes %llu (at most %lu mapped and "
					   "registered), mergeable %llu, merge_any %llu",
					   (unsigned long long)st.registered_bytes, 2 * H * XT_PAGE,
					   (unsigned long long)st.mergeable,
					   (unsigned long long)st.merge_any);
			storm_timed(t, "STATS");
			if (xt_get_merge_any() < 0)
				storm_fail("GET_MERGE_ANY: %s", ename(errno));
		}
		if (id == 3 && i % 8 == 0) {		/* a stat file, read and closed */
			struct xksm_stat_fd sf = {
				.format = i % 16 ? 0 : 1, .flags = XKSM_STAT_CLOEXEC
			};
			char buf[512];
			int sfd = ioctl(fd, XKSM_IOC_STAT_FD, &sf);

			ops[3]++;
			if (sfd < 0 || pread(sfd, buf, sizeof(buf), 0) <= 0)
				storm_fail("STAT_FD and a read: %s", ename(errno));
			if (sfd >= 0)
				close(sfd);
		}
	}
	pthread_mutex_lock(&storm_lock);
	for (i = 0; i < 4; i++)
		storm_ops[i] += ops[i];
	pthread_mutex_unlock(&storm_lock);
	return NULL;
}

static size_t storm_corrupt(void)
{
	return xt_verify(storm, H, STORM_SEED) + xt_verify(storm + H * XT_PAGE, H, STORM_SEED);
}

/*
 * Unregister the storm mapping without XKSM_KEEP_MERGED: then nothing is
 * registered or merged, xksm's global counts are back to 0 (nothing else
 * is registered anywhere) and every page is intact.
 */
static void unregister_all_checked(const char *when)
{
	struct xksm_stats st;
	size_t same, bad;

	check(xt_unregister(storm, 2 * H * XT_PAGE, 0) == 0,
	      "storm, %s: unregistering the mapping without XKSM_KEEP_MERGED", when);
	st = xt_stats_or_die();
	check(st.registered_bytes == 0 && st.mergeable == 0 && st.merge_any == 0,
	      "storm, %s: then registered_bytes 0, mergeable 0, merge_any 0 (%llu, %llu, %llu)",
	      when, (unsigned long long)st.registered_bytes, (unsigned long long)st.mergeable,
	      (unsigned long long)st.merge_any);
	same = xt_count_same_pfn(0, storm, 0, storm + H * XT_PAGE, H);
	check(same == 0 && st.merging_pages == 0,
	      "storm, %s: no page merged any more (%zu pairs share a PFN, merging_pages %llu)",
	      when, same, (unsigned long long)st.merging_pages);
	check(xt_knob("pages_shared") == 0 && xt_knob("pages_sharing") == 0,
	      "storm, %s: xksm's pages_shared and pages_sharing back to 0 (%lld, %lld)",
	      when, xt_knob("pages_shared"), xt_knob("pages_sharing"));
	bad = storm_corrupt();
	check(bad == 0, "storm, %s: the mapping reads back intact (%zu of %d pages corrupted)",
	      when, bad, 2 * H);
}

static void storm_part(double seconds)
{
	pthread_t th[NTHREADS];
	double t0;
	long i;
	size_t same, bad;

	storm = (char *)(uintptr_t)(win + STORM_OFF);
	if (mmap(storm, 2 * H * XT_PAGE, PROT_READ | PROT_WRITE,
		 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != storm)
		fatal("mmap the storm mapping");
	xt_fill(storm, H, STORM_SEED);
	xt_fill(storm + H * XT_PAGE, H, STORM_SEED);
	storm_seed = rnd();

	xt_knob_set_saved("pages_to_scan", 5000);
	xt_knob_set_saved("sleep_millisecs", 0);
	xt_knob_set_saved("run", 1);
	t0 = xt_now();
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, storm_thread, (void *)i))
			fatal("pthread_create");
	xt_msleep(seconds * 1000);
	storm_stop = 1;
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	xt_note("storm: %ld range calls, %ld merge-any toggles, %ld page rewrites, "
		"%ld statistics reads by %d threads in %.1f s (slowest call %.2f s: %s); "
		"pages_sharing %lld at the end", storm_ops[0], storm_ops[1], storm_ops[2],
		storm_ops[3], NTHREADS, xt_now() - t0, storm_slowest, storm_slowest_what,
		xt_knob("pages_sharing"));
	check(storm_ops[0] > 0 && storm_bad == 0,
	      "storm: %ld concurrent register/unregister and other calls, %ld wrong answers",
	      storm_ops[0] + storm_ops[1] + storm_ops[3], storm_bad);
	bad = storm_corrupt();
	check(bad == 0, "storm: the mapping reads back intact (%zu of %d pages corrupted)",
	      bad, 2 * H);

	/* Unregistering undoes everything the storm left. */
	check(xt_set_merge_any(0) == 0, "storm: merge-any off");
	unregister_all_checked("after the storm");

	/*
	 * The mapping merges again.  (Registered afresh: pages the storm left
	 * registered without their twin have aged, and smart_scan may then
	 * look at the two of a pair on different passes for a long time.)
	 */
	check(xt_register(storm, 2 * H * XT_PAGE) == 0,
	      "storm: registering the whole mapping again");
	for (i = 0; i < 5; i++) {
		xt_wait_full_scans(i ? 1 : 2);
		same = xt_count_same_pfn(0, storm, 0, storm + H * XT_PAGE, H);
		if (same == H)
			break;
	}
	check(same == H, "storm: then its two halves merge (%zu of %d pairs, %ld full scans)",
	      same, H, i + 2);
	unregister_all_checked("once merged");
}

/* --- main --------------------------------------------------------------- */

int main(void)
{
	const char *env = getenv("XKSM_FUZZ_SEED");
	int debug = access("/sys/kernel/debug/kmemleak", F_OK) == 0;
	long iters = debug ? 2500 : 8000, i, calls = 0;
	double t0, limit = debug ? 30 : 3, took, t_start = xt_now();
	struct xksm_stats st;
	struct snap prev;
	uint64_t seed;
	int fd, c, n;

	if (xt_backend_ksm())
		skip("xksm only: the ioctls are xksm's");
	xt_require(XKSM_FEATURE_MERGE | XKSM_FEATURE_MERGE_ANY | XKSM_FEATURE_STATS |
		   XKSM_FEATURE_KEEP_MERGED | XKSM_FEATURE_STAT_FD | XKSM_FEATURE_DOMAIN |
		   XKSM_FEATURE_PIDFD, "all features");
	seed = env ? strtoull(env, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ getpid();
	rng_state = seed;
	if (getenv("XKSM_FUZZ_ITERS"))
		iters = atol(getenv("XKSM_FUZZ_ITERS"));
	xt_note("seed %#" PRIx64 " (replay with XKSM_FUZZ_SEED=%#" PRIx64 "), %ld calls%s",
		seed, seed, iters, debug ? " (debug kernel)" : "");
	fd = xt_dev();
	open_pidfds();

	probe_address_space();
	argpages = mmap(NULL, 3 * XT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	if (argpages == MAP_FAILED)
		fatal("mmap");
	if (mprotect(argpages, XT_PAGE, PROT_READ) ||
	    mprotect(argpages + 2 * XT_PAGE, XT_PAGE, PROT_NONE))
		fatal("mprotect");
	map_arena();

	/* Part 1, with xksmd scanning gently: merged pages to unmerge. */
	xt_unmerge_all();
	xt_knob_set_saved("pages_to_scan", 500);
	xt_knob_set_saved("sleep_millisecs", 10);
	xt_knob_set_saved("run", 1);
	st = xt_stats_or_die();
	if (!check(st.registered_bytes == 0 && st.merge_any == 0,
		   "nothing registered at the start (registered_bytes %llu, merge_any %llu)",
		   (unsigned long long)st.registered_bytes, (unsigned long long)st.merge_any))
		return done();
	prev = take_snap();
	t0 = xt_now();
	for (i = 0; i < iters; i++) {
		fuzz_one(fd, &prev);
		if (!(i % 256) && xt_now() - t0 > limit) {
			xt_note("stopped after %ld calls: the %.0f s budget is spent", i + 1,
				limit);
			break;
		}
	}
	took = xt_now() - t0;
	for (c = 0; c < NR_CAT; c++)
		calls += cat_calls[c];
	xt_note("%ld calls in %.1f s, %ld of them successful through the test's own pidfd",
		calls, took, pidfd_ok);
	for (c = 0; c < NR_CAT; c++)
		check(cat_calls[c] > 0 && cat_bad[c] == 0, "%s: %ld calls, %ld wrong", cat_name[c],
		      cat_calls[c], cat_bad[c]);
	check(state_checked > 0 && state_bad == 0,
	      "failed calls leave registered_bytes, mergeable and merge-any as they were "
	      "(%ld calls, %ld changed them)", state_checked, state_bad);
	check(arg_checked > 0 && arg_bad == 0,
	      "failed calls write nothing back and open no descriptor (%ld calls, %ld did)",
	      arg_checked, arg_bad);
	check(model_checked > 0 && model_bad == 0,
	      "after every call, STATS and GET_MERGE_ANY agree with the registrations made "
	      "(%ld calls, %ld differ)", model_checked, model_bad);
	check(output_checked > 0 && output_bad == 0,
	      "successful calls answer rightly (%ld calls, %ld wrong)", output_checked, output_bad);

	/* The arena is still as modelled (no call mapped or unmapped anything). */
	for (n = 0, i = 0; i < NA; i++) {
		unsigned char v;

		n += (mincore(arena + i * XT_PAGE, XT_PAGE, &v) == 0) != (kind[i] != HOLE);
	}
	check(n == 0, "the arena's layout is as the test made it (%d pages differ)", n);

	/* Everything unregistered: nothing is left. */
	check(xt_set_merge_any(0) == 0, "merge-any off");
	check_errno(xt_unregister((void *)(uintptr_t)win, WIN_SIZE, 0), ENOMEM,
		    "unregistering the whole 16 TiB window (holes)");
	st = xt_stats_or_die();
	check(st.registered_bytes == 0 && st.mergeable == 0,
	      "then registered_bytes 0 and mergeable 0 (%llu, %llu)",
	      (unsigned long long)st.registered_bytes, (unsigned long long)st.mergeable);

	/* Part 2. */
	storm_part(debug ? 4 : 2.5);
	check(xksm_handshake(fd, &(struct xksm_api){ 0 }) == 0,
	      "the device still answers a good handshake");
	xt_note("the test took %.1f s", xt_now() - t_start);
	return done();
}
