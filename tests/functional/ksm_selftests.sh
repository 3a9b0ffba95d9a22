#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's own KSM selftests, unmodified, on xksm.
#
# /selftests/ksm_tests and ksm_functional_tests are built from Debian's
# linux-source-6.12 by scripts/build-selftests.  Each case runs twice in
# this guest: first on the kernel's KSM, then under "xksm-run -s", which
# preloads libxksm-preload.so and bind-mounts /sys/kernel/mm/xksm over
# /sys/kernel/mm/ksm in a private mount namespace, with the kernel's KSM
# stopped.  Every case that passes on the kernel's KSM must pass on xksm,
# and xksm must fail none.  The table it prints is docs/selftests.md's.
#
# ksm_tests cases are those of the selftests' run_vmtests.sh, plus the
# modes it leaves out (-D, -C) and prctl merging (-t 1).  On the debug
# kernel the timed cases use 16 MiB instead of 100.

ST=/selftests
RUN=/tools/xksm-run
KSM=/sys/kernel/mm/ksm
# The guest's devtmpfs has no /dev/stderr: each case's output goes here.
ERR=/proc/self/fd/2
rc=0

for f in "$ST/ksm_tests" "$ST/ksm_functional_tests" "$RUN"; do
	[ -x "$f" ] || { echo "FAIL: no $f"; exit 1; }
done
[ -w "$KSM/run" ] || { echo "SKIP: the kernel has no KSM to compare with"; exit 4; }

size=100
limit=240
cd "$ST" || exit 1	# ksm_functional_tests execs ./ksm_functional_tests
# The debug kernel runs ksm_tests on xksm only, and not
# ksm_functional_tests: its range_maps_duplicates() compares every pair of
# 512 pages through /proc/self/pagemap, 130,000 preads a case, which take
# minutes each under KASAN and kmemleak (docs/selftests.md).  The
# comparison with the kernel's KSM is made on the target kernels.
sides="ksm xksm" functional=yes
case $(uname -r) in *debug*) size=16 limit=420 sides=xksm functional=no ;; esac

# verdict EXIT_STATUS: the kselftest meaning of an exit status.
verdict()
{
	case $1 in
	0) echo PASS ;;
	4) echo SKIP ;;
	*) echo "FAIL($1)" ;;
	esac
}

# Which side runs: "ksm" (the kernel's) or "xksm" (under xksm-run); each
# run within $limit seconds, so that a hang still shows its output.
side()
{
	if [ "$1" = ksm ]; then
		echo 0 > /sys/kernel/mm/xksm/run
		shift
		timeout -s KILL $limit "$@"
	else
		echo 0 > "$KSM/run"
		shift
		timeout -s KILL $limit "$RUN" -s "$@"
	fi
}

# Cases the kernel under test cannot pass, on its own KSM or on xksm,
# which both use the kernel's own fault handling (docs/selftests.md):
#  - 6.1: test_unmerge_uffd_wp.  6.1 has no unshare fault for KSM pages;
#    unmerging is a write fault, which a uffd-wp protected pte sends to
#    userfaultfd, and without FAULT_FLAG_ALLOW_RETRY that is SIGBUS.
known_failure()
{
	case "$(uname -r) $1" in
	"6.1."*"functional test_unmerge_uffd_wp") return 0 ;;
	esac
	return 1
}

# A table row; FAIL when xksm fails (unless the kernel's KSM fails too and
# the kernel is known not to allow it), or does worse than the kernel's KSM.
row()
{
	name=$1 stock=$2 ours=$3
	ok=ok
	case $ours in
	PASS*) ;;
	SKIP|none-upstream) case $stock in PASS*) ok=WORSE ;; esac ;;
	*)	case $stock in
		FAIL*) known_failure "$name" && ok=known ;;
		esac
		[ $ok = ok ] && ok=FAIL ;;
	esac
	printf 'selftest | %-34s | %-8s | %-8s | %s\n' "$name" "$stock" "$ours" "$ok"
	case $ok in ok|known) ;; *) rc=1 ;; esac
}

echo "selftest | case                               | ksm      | xksm     |"

# ksm_tests: one process per case, its exit status the verdict.
# attempts SIDE TRIES ARGS...: run a ksm_tests case until it passes, at
# most TRIES times; prints "VERDICT" or "PASS/N" when it took N attempts.
#
# Some upstream cases race with the scanner on the kernel's KSM too: -U
# waits for one full scan after writing, but the scan in progress may
# already have passed its pages; -N registers its second page while a scan
# is in progress, which does not visit it, and then waits for only two.
# Only those (racy(), with the evidence in docs/selftests.md) are retried
# on xksm's side, so that such a race cannot fail the run, and the count
# is printed; every other case runs once on each side, and the kernel's
# side runs each case once, for the table.
attempts()
{
	s=$1 tries=$2
	shift 2
	n=1
	while :; do
		echo "===== $s: ksm_tests $* (attempt $n)"
		side $s ./ksm_tests -d "$@"
		v=$(verdict $?)
		if [ "$v" = PASS ] || [ "$v" = SKIP ] || [ $n -ge $tries ]; then
			break
		fi
		n=$((n + 1))
	done
	if [ $n -gt 1 ]; then echo "$v/$n"; else echo "$v"; fi
}

# racy ARGS: whether the ksm_tests case ARGS is one that fails on the
# kernel's KSM too, from the upstream test's race (docs/selftests.md): -N
# -m 1, and -U (with madvise or, -t 1, prctl: the same check after the
# same merge).
racy()
{
	case "$*" in
	"-N -m 1"|"-U"|"-U -t 1") return 0 ;;
	esac
	return 1
}

for args in "-M -p 10" "-M -p 10 -t 1" "-U" "-U -t 1" \
	    "-Z -p 10 -z 0" "-Z -p 10 -z 1" "-N -m 1" "-N -m 0" \
	    "-P -s $size" "-P -s $size -t 1" "-H -s $size" "-D -s $size" "-C"; do
	stock=not-run
	[ "$sides" = xksm ] || stock=$(attempts ksm 1 $args | tee $ERR | tail -n 1)
	tries=1
	racy $args && tries=8
	ours=$(attempts xksm $tries $args | tee $ERR | tail -n 1)
	row "ksm_tests $args" "$stock" "$ours"
done

# ksm_functional_tests: TAP, one line per case ("ok 3 desc", "not ok 4
# desc", "ok 5 # SKIP desc").
: > /tmp/functional.ksm
: > /tmp/functional.xksm
[ $functional = yes ] || sides=
for s in $sides; do
	echo "===== $s: ksm_functional_tests"
	side $s ./ksm_functional_tests > "/tmp/functional.$s" 2>&1
	st=$?
	if [ $st = 137 ]; then
		echo "FAIL: ksm_functional_tests on $s killed after $limit s"
		rc=1
	fi
	echo "exit status $st" >> "/tmp/functional.$s"
	cat "/tmp/functional.$s"
done
# The cases as "NAME<TAB>VERDICT<TAB>description", NAME from the "# [RUN]
# test_name" line before each result (which a result without a newline
# may carry at its end).  Numbers are not compared: a side where a case
# reports nothing numbers the later ones differently.
tap()
{
	awk '{
		line = $0
		if (line ~ /^(not )?ok [0-9]+ /) {
			v = line ~ /^not / ? "FAIL" : "PASS"
			desc = line
			sub(/^(not )?ok [0-9]+ /, "", desc)
			sub(/# \[RUN\] .*/, "", desc)
			sub(/Bail out!.*/, "", desc)
			if (desc ~ /^# SKIP/) {
				v = "SKIP"
				sub(/^# SKIP ?/, "", desc)
			}
			printf "%s\t%s\t%s\n", name, v, desc
		}
		if ((i = index(line, "# [RUN] ")) > 0) {
			name = substr(line, i + 8)
			sub(/ .*/, "", name)
		}
	}' "$1"
}
# test_prctl_fork_exec's child execs ./ksm_functional_tests with an argv
# that lacks its NULL terminator (upstream, 6.12).  The exec fails, and the
# child goes on with the remaining cases, printing its own TAP lines and
# "Planned tests != run tests" before the parent's: the last line of a
# case is the parent's verdict.  The child exits with the failures counted
# so far, and then the parent reports nothing for test_prctl_fork_exec.
last()
{
	awk -F '\t' '!($1 in v) { order[++n] = $1 } { v[$1] = $0 }
		END { for (i = 1; i <= n; i++) print v[order[i]] }'
}
for s in ksm xksm; do
	tap /tmp/functional.$s | last > /tmp/tap.$s
	grep -q "Planned tests != run tests" /tmp/functional.$s &&
		echo "note: on $s, test_prctl_fork_exec's child did not exec (upstream argv bug) and ran on"
done
[ $functional = no ] || [ -s /tmp/tap.xksm ] ||
	{ echo "FAIL: ksm_functional_tests reported no case on xksm"; rc=1; }
for name in $(cut -f 1 /tmp/tap.ksm /tmp/tap.xksm | awk '!seen[$0]++'); do
	stock=$(awk -F '\t' -v n="$name" '$1 == n { print $2 }' /tmp/tap.ksm)
	ours=$(awk -F '\t' -v n="$name" '$1 == n { print $2 }' /tmp/tap.xksm)
	if [ -z "$ours" ] && [ "$name" = test_prctl_fork_exec ] &&
	   grep -q "Planned tests != run tests" /tmp/functional.xksm; then
		ours=none-upstream
	fi
	[ "$sides" = xksm ] && stock=not-run
	row "functional $name" "${stock:-none}" "${ours:-none}"
done

# Both KSMs stopped and empty again.
echo 2 > "$KSM/run"
echo 0 > "$KSM/run"
echo 2 > /sys/kernel/mm/xksm/run
echo 1 > /sys/kernel/mm/xksm/run
exit $rc
