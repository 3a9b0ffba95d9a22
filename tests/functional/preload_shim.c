// SPDX-License-Identifier: GPL-2.0
/*
 * libxksm-preload.so under xksm-run: a program that knows only the kernel's
 * KSM API gets xksm.
 *
 * Built dynamically (it must be, to be preloaded), this program re-executes
 * itself under /tools/xksm-run and then uses nothing but madvise(), prctl(),
 * syscall() and /proc/self/ksm_stat, as an unmodified program would:
 *
 *  - madvise(MADV_MERGEABLE) on twin pages merges them (one PFN), through
 *    xksm: XKSM_IOC_STATS counts them, and the vma never gets the kernel's
 *    VM_MERGEABLE ("mg" in smaps);
 *  - /proc/self/ksm_stat and /proc/self/ksm_merging_pages, opened with
 *    open(), openat(), fopen() and through /proc/<pid>/, read xksm's figures,
 *    and pread() at 0 reads them afresh;
 *  - madvise's errors: EINVAL for an unaligned start or an overflowing
 *    range, ENOMEM for a hole (the mapped part is still done); MADV_UNMERGEABLE
 *    on memory never registered succeeds; a 1 GiB reservation registers and
 *    unregisters at once (QEMU's use);
 *  - the same errno as the kernel's own madvise() (glibc's, called past the
 *    shim in a forked child) for a zero length at a high address (0), a range
 *    that runs past the end of user space (ENOMEM, the mapped part done), a
 *    range wholly above it (ENOMEM) and a hole (ENOMEM);
 *  - MADV_UNMERGEABLE copies every page back (new PFNs, data intact);
 *  - other advice (MADV_DONTNEED) and other prctl options (PR_SET_NAME) go
 *    to the kernel unchanged; syscall(SYS_madvise) is redirected too;
 *  - prctl(PR_SET/GET_MEMORY_MERGE) with the kernel's argument checks;
 *    merge-any survives fork and exec; a registered range survives fork;
 *  - xksm-run -m: the program it runs has merge-any on from the start
 *    (PR_GET_MEMORY_MERGE, XKSM_IOC_GET_MERGE_ANY, "ksm_merge_any: yes" in
 *    /proc/self/ksm_stat), and its twin pages merge without any madvise();
 *  - xksm-run --domain ID: under merge_scope "id" the program's madvise and
 *    prctl registrations put its memory in domain ID (XKSM_IOC_STATS); an
 *    unprivileged program run so gets EPERM from madvise.
 */
#include <dlfcn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "xksm_test.h"

#define N		16
#define SEED		0x5e1f
#define XKSM_RUN	"/tools/xksm-run"
#define SELF		"/tests/preload_shim"

/* The figure after @key in a ksm_stat text, or -1. */
static long long stat_field(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Read a whole (small) file through @fd from offset 0, with pread(). */
static int pread_all(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* Whether the vma at @addr has the kernel's VM_MERGEABLE ("mg"). */
static int vma_has_mg(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, mg = 0;

	if (!f)
		fatal("open smaps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, ' ') - line < 40)
			in = (uintptr_t)addr >= s && (uintptr_t)addr < e;
		else if (in && !strncmp(line, "VmFlags:", 8))
			mg = strstr(line, " mg") != NULL;
	}
	fclose(f);
	return mg;
}

static void check_stat_files(long long merging)
{
	char buf[512], path[64];
	int fd, fd2, fd3;
	FILE *f;

	fd = open("/proc/self/ksm_stat", O_RDONLY);
	if (!check(fd >= 0, "open(/proc/self/ksm_stat) succeeds"))
		return;
	check(!pread_all(fd, buf, sizeof(buf)) &&
	      stat_field(buf, "ksm_merging_pages ") == merging &&
	      stat_field(buf, "ksm_rmap_items ") >= merging &&
	      strstr(buf, "ksm_zero_pages ") && strstr(buf, "ksm_process_profit ") &&
	      strstr(buf, "ksm_mergeable: yes"),
	      "/proc/self/ksm_stat reads xksm's figures: ksm_merging_pages %lld (%s)",
	      merging, buf);
	fd2 = openat(AT_FDCWD, "/proc/self/ksm_merging_pages", O_RDONLY | O_CLOEXEC);
	check(fd2 >= 0 && !pread_all(fd2, buf, sizeof(buf)) && atoll(buf) == merging,
	      "openat(/proc/self/ksm_merging_pages) reads %lld (%s)", merging, buf);
	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)getpid());
	fd3 = open(path, O_RDONLY);
	check(fd3 >= 0 && !pread_all(fd3, buf, sizeof(buf)) && atoll(buf) == merging,
	      "%s reads the same", path);
	f = fopen("/proc/self/ksm_stat", "r");
	check(f && fgets(buf, sizeof(buf), f) && !strncmp(buf, "ksm_rmap_items ", 15),
	      "fopen(/proc/self/ksm_stat) reads it too");
	if (f)
		fclose(f);
	if (fd3 >= 0)
		close(fd3);
	if (fd2 >= 0)
		close(fd2);
	close(fd);
}

/* Unmerged again: the files must say so on a fresh pread() at 0. */
static void check_stat_refresh(int fd, int fd2)
{
	char buf[512];

	check(!pread_all(fd, buf, sizeof(buf)) && stat_field(buf, "ksm_merging_pages ") == 0,
	      "a new pread() at 0 shows ksm_merging_pages 0 after unmerging (%s)", buf);
	check(!pread_all(fd2, buf, sizeof(buf)) && atoll(buf) == 0,
	      "ksm_merging_pages reads 0");
}

/*
 * The errno (0 on success) of the kernel's own madvise(): glibc's, looked up
 * in libc itself past the shim, called in a forked child so that what the
 * kernel's KSM marks stays there.  -1 if it cannot be found.
 */
static int real_madvise_errno(void *addr, size_t len, int advice)
{
	int (*real)(void *, size_t, int);
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	int status;
	pid_t pid;

	real = libc ? (int (*)(void *, size_t, int))dlsym(libc, "madvise") : NULL;
	if (!real || real == madvise)
		return -1;
	pid = xt_fork();
	if (pid == 0)
		_exit(real(addr, len, advice) ? errno : 0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* madvise() through the shim gets what the kernel's gets: @want. */
static void check_like_kernel(void *addr, size_t len, int advice, int want, const char *what)
{
	int real = real_madvise_errno(addr, len, advice);
	int shim = madvise(addr, len, advice) ? errno : 0;

	check(shim == real && real == want,
	      "%s at %p len %#zx: %s through the shim, %s from the kernel, as madvise (%s)",
	      advice == MADV_MERGEABLE ? "MADV_MERGEABLE" : "MADV_UNMERGEABLE", addr, len,
	      shim ? strerrorname_np(shim) : "0", real < 0 ? "?" : real ? strerrorname_np(real) : "0",
	      what);
}

/*
 * Where user space ends: 1 << 47 less a page, or 1 << 56 with 5-level
 * paging (a hint above 47 bits is honoured only then).
 */
static uintptr_t task_size(void)
{
	void *p = mmap((void *)(1UL << 50), XT_PAGE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int la57 = p != MAP_FAILED && (uintptr_t)p >= (1UL << 47);

	if (p != MAP_FAILED)
		munmap(p, XT_PAGE);
	return la57 ? (1UL << 56) - XT_PAGE : (1UL << 47) - XT_PAGE;
}

/* The edges of the address space, compared with the kernel's madvise(). */
static void check_errors_like_kernel(void)
{
	uintptr_t top = task_size();
	char *p = xt_map(3), *q;
	int adv, i;

	if (munmap(p + XT_PAGE, XT_PAGE))
		fatal("munmap");
	for (i = 0; i < 2; i++) {
		adv = i ? MADV_UNMERGEABLE : MADV_MERGEABLE;
		check_like_kernel((void *)(1UL << 63), 0, adv, 0, "zero length, far above user space");
		check_like_kernel((void *)top, 0, adv, 0, "zero length at the end of user space");
		check_like_kernel((void *)top, 2 * XT_PAGE, adv, ENOMEM,
				  "from the end of user space on");
		check_like_kernel((void *)(1UL << 63), XT_PAGE, adv, ENOMEM,
				  "far above user space");
		check_like_kernel(p, 3 * XT_PAGE, adv, ENOMEM, "over a hole");
	}
	check(xt_stats_or_die().registered_bytes == 0, "nothing stays registered");
	munmap(p, 3 * XT_PAGE);

	/* Mapped up to the end of user space: the part below is done. */
	q = mmap((void *)(top - 2 * XT_PAGE), 2 * XT_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (q != (void *)(top - 2 * XT_PAGE)) {
		xt_note("cannot map the last two pages of user space (%s): skipped",
			q == MAP_FAILED ? strerror(errno) : "elsewhere");
		if (q != MAP_FAILED)
			munmap(q, 2 * XT_PAGE);
		return;
	}
	check_like_kernel(q, 4 * XT_PAGE, MADV_MERGEABLE, ENOMEM,
			  "the last two pages of user space and two beyond");
	check(xt_stats_or_die().registered_bytes == 2 * XT_PAGE,
	      "the two mapped pages are registered (%llu bytes)",
	      (unsigned long long)xt_stats_or_die().registered_bytes);
	check_like_kernel(q, 4 * XT_PAGE, MADV_UNMERGEABLE, ENOMEM, "and unregistering them");
	check(xt_stats_or_die().registered_bytes == 0, "they are unregistered");
	munmap(q, 2 * XT_PAGE);
}

static void check_errors(void)
{
	char *p = xt_map(4), *hole;
	long r;

	errno = 0;
	check_errno(madvise(p + 1, XT_PAGE, MADV_MERGEABLE), EINVAL,
		    "MADV_MERGEABLE at an unaligned start");
	check_errno(madvise(p, (size_t)-XT_PAGE, MADV_MERGEABLE), EINVAL,
		    "MADV_MERGEABLE over a range that overflows");
	check(madvise(p, 0, MADV_MERGEABLE) == 0, "MADV_MERGEABLE of length 0 succeeds");
	check(madvise(p, 4 * XT_PAGE, MADV_UNMERGEABLE) == 0,
	      "MADV_UNMERGEABLE on memory never registered succeeds");
	/* A hole in the middle: ENOMEM, and the mapped parts are done. */
	hole = p + XT_PAGE;
	if (munmap(hole, XT_PAGE))
		fatal("munmap");
	check_errno(madvise(p, 4 * XT_PAGE, MADV_MERGEABLE), ENOMEM,
		    "MADV_MERGEABLE over a hole");
	check(xt_stats_or_die().registered_bytes == 3 * XT_PAGE,
	      "the mapped parts around the hole are registered (%llu bytes)",
	      (unsigned long long)xt_stats_or_die().registered_bytes);
	check_errno(madvise(p, 4 * XT_PAGE, MADV_UNMERGEABLE), ENOMEM,
		    "MADV_UNMERGEABLE over a hole");
	check(xt_stats_or_die().registered_bytes == 0, "and they are unregistered");
	/* syscall(SYS_madvise) takes the same route. */
	r = syscall(SYS_madvise, p, XT_PAGE, MADV_MERGEABLE);
	check(r == 0 && xt_stats_or_die().registered_bytes == XT_PAGE,
	      "syscall(SYS_madvise, MADV_MERGEABLE) registers with xksm");
	check(syscall(SYS_madvise, p, XT_PAGE, MADV_UNMERGEABLE) == 0 &&
	      xt_stats_or_die().registered_bytes == 0,
	      "syscall(SYS_madvise, MADV_UNMERGEABLE) unregisters");
	munmap(p, 4 * XT_PAGE);
}

/* QEMU reserves its guest RAM and marks all of it mergeable at once. */
static void check_large_region(void)
{
	size_t len = 1UL << 30;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	double t0;

	if (p == MAP_FAILED)
		fatal("mmap 1 GiB");
	t0 = xt_now();
	check(madvise(p, len, MADV_MERGEABLE) == 0 &&
	      xt_stats_or_die().registered_bytes == len,
	      "MADV_MERGEABLE on 1 GiB never touched registers it");
	check(madvise(p, len, MADV_UNMERGEABLE) == 0 &&
	      xt_stats_or_die().registered_bytes == 0,
	      "MADV_UNMERGEABLE on it unregisters it (both in %.2f s)", xt_now() - t0);
	munmap(p, len);
}

static void check_passthrough(void)
{
	char *p = xt_map(1), name[32];

	xt_fill(p, 1, SEED);
	check(madvise(p, XT_PAGE, MADV_DONTNEED) == 0 && p[0] == 0 && p[XT_PAGE - 1] == 0,
	      "MADV_DONTNEED still reaches the kernel (the page reads zero)");
	check(prctl(PR_SET_NAME, "shim-name", 0, 0, 0) == 0 &&
	      prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && !strcmp(name, "shim-name"),
	      "PR_SET_NAME / PR_GET_NAME go to the kernel (%s)", name);
	munmap(p, XT_PAGE);
}

/* The child of fork, then of exec: both must have merge-any on. */
static int exec_child(void)
{
	int ret = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);

	printf("exec child: PR_GET_MEMORY_MERGE %d, xksm merge-any %lld\n", ret,
	       xt_get_merge_any());
	return ret == 1 && xt_get_merge_any() == 1 ? 0 : 1;
}

static void check_merge_any(void)
{
	int status;
	pid_t pid;

	check_errno(prctl(PR_SET_MEMORY_MERGE, 1, 1, 0, 0), EINVAL,
		    "PR_SET_MEMORY_MERGE with arg3 set");
	check_errno(prctl(PR_GET_MEMORY_MERGE, 1, 0, 0, 0), EINVAL,
		    "PR_GET_MEMORY_MERGE with arg2 set");
	check(prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 0, "merge-any is off at first");
	check(prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0, "PR_SET_MEMORY_MERGE 1 succeeds");
	check(prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1 && xt_get_merge_any() == 1,
	      "PR_GET_MEMORY_MERGE says 1, and so does xksm");

	pid = fork();
	if (pid == 0)
		_exit(prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 1 &&
		      xt_get_merge_any() == 1 ? 0 : 1);
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "a forked child has merge-any on");

	pid = fork();
	if (pid == 0) {
		execl(SELF, SELF, "exec-child", (char *)NULL);
		_exit(127);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "a forked child that execs keeps merge-any on");

	check(syscall(SYS_prctl, PR_SET_MEMORY_MERGE, 0, 0, 0, 0) == 0 &&
	      prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0) == 0 && xt_get_merge_any() == 0,
	      "syscall(SYS_prctl, PR_SET_MEMORY_MERGE, 0) turns it off");
	pid = fork();
	if (pid == 0) {
		execl(SELF, SELF, "exec-child", (char *)NULL);
		_exit(127);
	}
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 1, "once off, an exec'd child has it off too");
}

static void check_merge(void)
{
	unsigned long before[N];
	char *a, *b;
	int fd, fd2, status;
	size_t i, same;
	long long merging;
	pid_t pid;

	xt_map_twins(N, SEED, &a, &b);
	check(madvise(a, N * XT_PAGE, MADV_MERGEABLE) == 0 &&
	      madvise(b, N * XT_PAGE, MADV_MERGEABLE) == 0,
	      "madvise(MADV_MERGEABLE) on both twins succeeds");
	check(xt_stats_or_die().registered_bytes == 2 * N * XT_PAGE,
	      "xksm has both twins registered");
	check(!vma_has_mg(a) && !vma_has_mg(b), "the kernel's KSM was not asked (no \"mg\" in smaps)");

	/* A forked child inherits the registration. */
	pid = fork();
	if (pid == 0)
		_exit(xt_stats_or_die().registered_bytes == 2 * N * XT_PAGE ? 0 : 1);
	check(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "a forked child inherits the registration");

	xt_start_fast();
	xt_wait_full_scans(2);
	if (xt_count_same_pfn(0, a, 0, b, N) != N)
		xt_wait_full_scans(2);
	check(xt_count_same_pfn(0, a, 0, b, N) == N, "the %d twin pages share one PFN each", N);
	merging = xt_stats_or_die().merging_pages;
	check(merging == 2 * N, "xksm counts %d merging pages (%lld)", 2 * N, merging);
	check_stat_files(merging);

	fd = open("/proc/self/ksm_stat", O_RDONLY);
	fd2 = open("/proc/self/ksm_merging_pages", O_RDONLY);
	for (i = 0; i < N; i++)
		before[i] = xt_pfn(a + i * XT_PAGE);
	check(madvise(a, N * XT_PAGE, MADV_UNMERGEABLE) == 0 &&
	      madvise(b, N * XT_PAGE, MADV_UNMERGEABLE) == 0,
	      "madvise(MADV_UNMERGEABLE) on both succeeds");
	for (i = 0, same = 0; i < N; i++)
		same += before[i] == xt_pfn(a + i * XT_PAGE);
	check(same == 0 && xt_count_same_pfn(0, a, 0, b, N) == 0,
	      "every page was copied back (%zu kept their PFN)", same);
	check(xt_verify(a, N, SEED) == 0 && xt_verify(b, N, SEED) == 0, "with its data intact");
	if (fd >= 0 && fd2 >= 0)
		check_stat_refresh(fd, fd2);
	close(fd);
	close(fd2);
	munmap(a, N * XT_PAGE);
	munmap(b, N * XT_PAGE);
}

/*
 * Under xksm-run -m: merge-any is on before main() runs, and twin pages
 * merge with no madvise().  Exit 0 if so.
 */
static int merge_any_child(void)
{
	char buf[1024] = "", *a, *b;
	int fd, ret = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	long long ma = xt_get_merge_any();
	size_t same;

	fd = open("/proc/self/ksm_stat", O_RDONLY);
	if (fd < 0 || pread_all(fd, buf, sizeof(buf)))
		buf[0] = 0;
	if (fd >= 0)
		close(fd);
	printf("merge-any child: PR_GET_MEMORY_MERGE %d, xksm merge-any %lld, ksm_stat: %s\n",
	       ret, ma, buf);
	if (ret != 1 || ma != 1 || !strstr(buf, "ksm_merge_any: yes"))
		return 1;
	a = xt_map(N);
	b = xt_map(N);
	xt_fill(a, N, SEED);
	xt_fill(b, N, SEED);
	xt_wait_full_scans(2);
	same = xt_count_same_pfn(0, a, 0, b, N);
	if (same != N) {
		xt_wait_full_scans(2);
		same = xt_count_same_pfn(0, a, 0, b, N);
	}
	printf("merge-any child: %zu of %d twin pages share a PFN\n", same, N);
	return same == N ? 0 : 2;
}

static void check_run_merge_any(void)
{
	int status;
	pid_t pid;

	xt_start_fast();
	pid = xt_fork();
	if (pid == 0) {
		/* Not inherited: only -m may turn it on. */
		unsetenv("XKSM_MERGE_ANY");
		execl(XKSM_RUN, XKSM_RUN, "-m", SELF, "merge-any-child", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		fatal("waitpid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "xksm-run -m: merge-any is on in the program from the start, and its twin "
	      "pages merge without madvise() (exit %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	check(xt_get_merge_any() == 0, "merge-any stays off in the caller");
}

/*
 * Under xksm-run --domain: register through madvise(), then through
 * prctl(), as an unmodified program would; exit 0 if XKSM_IOC_STATS puts
 * the memory in domain @want both times, 1 if not, 2 if madvise() failed
 * with EPERM (and nothing was registered).
 */
static int domain_child(long long want)
{
	char *p = xt_map(N);
	struct xksm_stats st;

	xt_fill(p, N, SEED);
	if (madvise(p, N * XT_PAGE, MADV_MERGEABLE)) {
		int eperm = errno == EPERM;

		st = xt_stats_or_die();
		printf("domain child: madvise: %s, mergeable %llu\n",
		       strerror(errno), (unsigned long long)st.mergeable);
		return eperm && !st.mergeable ? 2 : 1;
	}
	st = xt_stats_or_die();
	printf("domain child: after madvise, domain %llu\n",
	       (unsigned long long)st.domain);
	if ((long long)st.domain != want)
		return 1;
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		return 1;
	st = xt_stats_or_die();
	printf("domain child: after PR_SET_MEMORY_MERGE, domain %llu merge_any %llu\n",
	       (unsigned long long)st.domain, (unsigned long long)st.merge_any);
	return (long long)st.domain == want && st.merge_any ? 0 : 1;
}

/* merge_scope back to "all" (nothing may stay merged across the switch). */
static void scope_all(void)
{
	xt_unmerge_all();
	xt_scope_set("all");
}

/* Run SELF domain-child under xksm-run -d @id (as @uid unless -1). */
static int run_domain_child(const char *id, const char *uid)
{
	int status;
	pid_t pid;

	pid = xt_fork();
	if (pid == 0) {
		if (uid)
			execl("/tests/helper_as_user", "helper_as_user", uid, XKSM_RUN,
			      "-d", id, SELF, "domain-child", id, (char *)NULL);
		else
			execl(XKSM_RUN, XKSM_RUN, "-d", id, SELF, "domain-child", id,
			      (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void check_domain(void)
{
	int rc;

	if (!xt_has(XKSM_FEATURE_DOMAIN)) {
		check(0, "xksm reports XKSM_FEATURE_DOMAIN");
		return;
	}
	xt_unmerge_all();
	if (xt_scope_set("id")) {
		check(0, "merge_scope=id after run=2");
		return;
	}
	atexit(scope_all);
	rc = run_domain_child("5", NULL);
	check(rc == 0, "xksm-run -d 5: madvise and prctl register in domain 5 (exit %d)", rc);
	rc = run_domain_child("0", NULL);
	check(rc == 0, "xksm-run -d 0: in domain 0 (exit %d)", rc);
	rc = run_domain_child("5", "65534");
	check(rc == 2, "xksm-run -d 5 as uid 65534: madvise fails with EPERM, nothing registered (exit %d)", rc);
	scope_all();
	check(xt_knob("pages_shared") == 0, "merge_scope back to all, nothing merged");
}

int main(int argc, char **argv)
{
	const char *pre = getenv("LD_PRELOAD");

	if (argc > 1 && !strcmp(argv[1], "exec-child"))
		return exec_child();
	if (argc > 1 && !strcmp(argv[1], "merge-any-child"))
		return merge_any_child();
	if (argc > 2 && !strcmp(argv[1], "domain-child"))
		return domain_child(atoll(argv[2]));
	xt_require(XKSM_FEATURE_STAT_FD, "STAT_FD");
	if (!pre || !strstr(pre, "libxksm-preload.so")) {
		/* Run again under xksm-run, as a user would. */
		fflush(stdout);
		execl(XKSM_RUN, XKSM_RUN, SELF, (char *)NULL);
		fatal("exec " XKSM_RUN);
	}
	xt_note("LD_PRELOAD=%s", pre);
	xt_unmerge_all();

	check_errors();
	check_errors_like_kernel();
	check_large_region();
	check_passthrough();
	check_merge();
	check_merge_any();
	check_run_merge_any();
	check_domain();
	return done();
}
