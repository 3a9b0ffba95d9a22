// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/xksm/profile (docs/debugfs.md): where xksmd's time
 * goes.
 *  - anything but 0 or 1 is refused with EINVAL, and changes nothing;
 *  - writing 1 zeroes the sums; while on, merging 32 pairs of twins and
 *    leaving 32 unique pages counts what xksmd did: every page hashed,
 *    32 merges of two pages, each write-protecting the first page and
 *    then merging the second into it in one step (its comparison timed
 *    inside), an rmap_item allocated for every page while looking for
 *    pages, and phases that fit inside the batches that hold them;
 *  - writing 0 stops it: the sums stay as they were, however long xksmd
 *    goes on.
 */
#include "xksm_test.h"

#define PAIRS	32	/* pages twice over: 32 merges of two */
#define UNIQUE	32	/* pages only once */
#define SEED	0x9f01

#define PROFILE	"/sys/kernel/debug/xksm/profile"

enum { BATCH, NEXT, HASH, STABLE, UNSTABLE, MERGE_KSM, MERGE_TWO, STABLE_ADD,
       WRPROTECT, MEMCMP, REPLACE, LOOKUP, ALLOC, NR_PHASES };

static const char * const names[NR_PHASES] = {
	"batch", "next", "hash", "stable", "unstable", "merge_ksm", "merge_two",
	"stable_add", "wrprotect", "memcmp", "replace", "lookup", "alloc",
};

struct profile {
	int on;
	unsigned long long calls[NR_PHASES], ns[NR_PHASES];
	int phases;		/* lines that parsed */
	int bad;		/* lines that did not */
};

static struct profile read_profile(void)
{
	struct profile p = { .on = -1 };
	char line[256];
	FILE *f = fopen(PROFILE, "r");

	if (!f)
		fatal("open %s: %s", PROFILE, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long calls, ns, per;
		char name[32];
		int i;

		if (sscanf(line, "profiling %d", &p.on) == 1 ||
		    !strcmp(line, "phase calls ns ns_per_call\n"))
			continue;
		if (sscanf(line, "%31s %llu %llu %llu", name, &calls, &ns, &per) != 4) {
			p.bad++;
			continue;
		}
		for (i = 0; i < NR_PHASES && strcmp(name, names[i]); i++)
			;
		if (i == NR_PHASES || per != (calls ? ns / calls : 0)) {
			p.bad++;
			continue;
		}
		p.calls[i] = calls;
		p.ns[i] = ns;
		p.phases++;
	}
	fclose(f);
	return p;
}

/* Write @s to the profile file: 0 or the errno. */
static int write_profile(const char *s)
{
	int fd = open(PROFILE, O_WRONLY);
	int err = 0;

	if (fd < 0)
		fatal("open %s for writing: %s", PROFILE, strerror(errno));
	if (write(fd, s, strlen(s)) < 0)
		err = errno;
	close(fd);
	return err;
}

static int all_zero(const struct profile *p)
{
	int i;

	for (i = 0; i < NR_PHASES; i++)
		if (p->calls[i] || p->ns[i])
			return 0;
	return 1;
}

int main(void)
{
	struct profile p, q;
	unsigned long long inner = 0;
	char *mem;
	int i, err;

	if (xt_backend_ksm())
		skip("the kernel's KSM has no profile");
	xt_require(XKSM_FEATURE_MERGE, "MERGE");
	xt_unmerge_all();		/* nothing merged, xksmd stopped */

	p = read_profile();
	check(p.phases == NR_PHASES && !p.bad,
	      "profile: %d phases, each line parses (%d did not)", p.phases, p.bad);

	err = write_profile("maybe\n");
	check(err == EINVAL, "writing \"maybe\" fails with EINVAL (%s)", strerror(err));
	q = read_profile();
	check(q.on == p.on, "and changes nothing (profiling %d)", q.on);
	err = write_profile("10\n");
	check(err == EINVAL, "writing \"10\" fails with EINVAL (%s)", strerror(err));
	err = write_profile("yes\n");
	check(err == EINVAL, "writing \"yes\" fails with EINVAL (%s)", strerror(err));
	q = read_profile();
	check(q.on == p.on, "and they change nothing (profiling %d)", q.on);

	check(write_profile("1\n") == 0, "writing 1 starts profiling");
	p = read_profile();
	check(p.on == 1 && all_zero(&p), "profiling 1, every sum zeroed");

	/* PAIRS twins, then UNIQUE pages of their own. */
	mem = xt_map(2 * PAIRS + UNIQUE);
	xt_fill(mem, PAIRS, SEED);
	xt_fill(mem + PAIRS * XT_PAGE, PAIRS, SEED);
	xt_fill(mem + 2 * PAIRS * XT_PAGE, UNIQUE, SEED + 1);
	xt_register_or_die(mem, (2 * PAIRS + UNIQUE) * XT_PAGE);
	xt_start_fast();
	xt_wait_full_scans(3);
	check(write_profile("0\n") == 0, "writing 0 stops it");
	xt_knob_set("run", 0);

	check(xt_count_same_pfn(0, mem, 0, mem + PAIRS * XT_PAGE, PAIRS) == PAIRS,
	      "the %d twins merged", PAIRS);

	p = read_profile();
	check(p.on == 0, "profiling 0");
	check(p.calls[BATCH] > 0 && p.ns[BATCH] > 0, "batches timed (%llu, %llu ns)",
	      p.calls[BATCH], p.ns[BATCH]);
	check(p.calls[NEXT] >= p.calls[BATCH], "every batch looked for pages (next %llu)",
	      p.calls[NEXT]);
	check(p.calls[HASH] >= 2 * PAIRS + UNIQUE,
	      "every page was hashed at least once (hash %llu >= %d)",
	      p.calls[HASH], 2 * PAIRS + UNIQUE);
	check(p.calls[MERGE_TWO] >= PAIRS, "%d merges of two pages (merge_two %llu)",
	      PAIRS, p.calls[MERGE_TWO]);
	check(p.calls[WRPROTECT] >= PAIRS,
	      "the first page of each was write-protected (wrprotect %llu >= %d)",
	      p.calls[WRPROTECT], PAIRS);
	check(p.calls[MEMCMP] >= PAIRS && p.calls[REPLACE] >= PAIRS &&
	      p.ns[MEMCMP] <= p.ns[REPLACE],
	      "the other was write-protected, compared and replaced in one step "
	      "(memcmp %llu, replace %llu; memcmp inside it: %llu <= %llu ns)",
	      p.calls[MEMCMP], p.calls[REPLACE], p.ns[MEMCMP], p.ns[REPLACE]);
	check(p.calls[STABLE_ADD] >= PAIRS, "and went into the stable tree (stable_add %llu)",
	      p.calls[STABLE_ADD]);
	check(p.calls[ALLOC] >= 2 * PAIRS + UNIQUE && p.ns[ALLOC] <= p.ns[NEXT],
	      "every page got an rmap_item, while looking for pages (alloc %llu >= %d, %llu <= %llu ns)",
	      p.calls[ALLOC], 2 * PAIRS + UNIQUE, p.ns[ALLOC], p.ns[NEXT]);
	for (i = NEXT; i <= STABLE_ADD; i++)
		inner += p.ns[i];
	check(inner > 0 && inner <= p.ns[BATCH],
	      "the phases fit inside the batches (%llu <= %llu ns)", inner, p.ns[BATCH]);

	xt_knob_set("run", 1);
	xt_wait_full_scans(2);
	xt_knob_set("run", 0);
	q = read_profile();
	check(!memcmp(p.calls, q.calls, sizeof(p.calls)) && !memcmp(p.ns, q.ns, sizeof(p.ns)),
	      "two more full scans with profiling off change no sum");

	err = write_profile("1\n");
	q = read_profile();
	check(!err && all_zero(&q), "writing 1 again zeroes them");
	check(write_profile("0\n") == 0, "and 0 leaves it off");
	return done();
}
