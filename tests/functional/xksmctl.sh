#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xksmctl, the admin tool (tools/xksmctl.c), against the loaded module:
# with a process holding 32 merged pairs of pages and xksmd stopped (run=0
# keeps merged pages merged, so every counter holds still), what each
# command prints must equal what sysfs and debugfs say; set must refuse bad
# assignments before writing anything (exit 2) and report what the kernel
# refuses (exit 1); and, on files made up here (XKSM_SYSFS, XKSM_DEBUGFS),
# the parsers and the JSON escaping.  Then what acts on another process
# through a pidfd (xksmctl proc and merge-any, xksm-run --pid: their
# figures against debugfs, their errors), and the merge domains' knobs
# (merge_scope, zero_pages_across_domains) and DOMAIN column.  Then chains
# on a live stable tree: with max_page_sharing=2, a process with 8 pages of
# one content makes xksmd build a stable node chain, and chains --json must
# show as many chains and dups as sysfs, one of them holding all 8 mappings
# (pages_shared + pages_sharing).  Restores every knob it changes.

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }
expect() { if eval "$1"; then ok "$2"; else not_ok "$2"; fi; }

X=/tools/xksmctl
R=/tools/xksm-run
S=/sys/kernel/mm/xksm
D=/sys/kernel/debug/xksm
T=/tmp/xksmctl
PAGE=4096

[ -x $X ] || { echo "skip - no $X"; exit 4; }
[ -d $S ] || { echo "not ok - xksm is loaded ($S)"; exit 1; }
mkdir -p $T

# The number after "key": in a one-line JSON object (the last such key).
jnum() { sed -n "s/.*\"$2\":\(-*[0-9][0-9.]*\).*/\1/p" "$1"; }
# A counter of one mm_slots line: mm_field <pid> <key>.
# wait_line FILE PATTERN PID WHAT: wait up to 120 s for a helper (PID) to
# print a line matching PATTERN in FILE; if it dies or never does, WHAT
# failed and the test ends.
wait_line() {
	local i=0
	while ! grep -q "$2" "$1"; do
		sleep 0.2
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$3" 2>/dev/null; then
			cat "$1"
			not_ok "$4"
			exit 1
		fi
	done
}
mm_field() { grep "^mm_slot [^ ]* pid $1 " $D/mm_slots | sed -n "s/.* $2 \([0-9]*\).*/\1/p"; }

# The knobs this test (and the holder's xt_start_fast) changes.
saved_run=$(cat $S/run)
saved_pts=$(cat $S/pages_to_scan)
saved_sleep=$(cat $S/sleep_millisecs)
saved_scope=$(sed 's/.*\[\(.*\)\].*/\1/' $S/merge_scope 2>/dev/null)
saved_zpad=$(cat $S/zero_pages_across_domains 2>/dev/null)
saved_mps=$(cat $S/max_page_sharing)
holder=
sleeper=
zparent=
samer=
cleanup() {
	echo 2 > $S/run
	[ -n "$holder" ] && kill -KILL $holder 2>/dev/null && wait $holder 2>/dev/null
	[ -n "$sleeper" ] && kill -KILL $sleeper 2>/dev/null && wait $sleeper 2>/dev/null
	[ -n "$zparent" ] && kill -KILL $zparent 2>/dev/null && wait $zparent 2>/dev/null
	[ -n "$samer" ] && kill -KILL $samer 2>/dev/null && wait $samer 2>/dev/null
	# max_page_sharing too: only once nothing is merged (run=2 above).
	echo "$saved_mps" > $S/max_page_sharing
	# merge_scope and zero_pages_across_domains: only once nothing is merged.
	[ -n "$saved_scope" ] && echo "$saved_scope" > $S/merge_scope
	[ -n "$saved_zpad" ] && echo "$saved_zpad" > $S/zero_pages_across_domains
	echo "$saved_pts" > $S/pages_to_scan
	echo "$saved_sleep" > $S/sleep_millisecs
	echo "$saved_run" > $S/run
	rm -rf $T
}
trap cleanup EXIT

# --- help and usage ---------------------------------------------------------
$X --help > $T/help; rc=$?
expect "[ $rc = 0 ] && grep -q '^  status' $T/help && grep -q '^  chains' $T/help" \
	"--help exits 0 and lists the commands"
$X help top > $T/out; rc=$?
expect "[ $rc = 0 ] && grep -q -- '--once' $T/out" "help top exits 0 and shows top's options"
$X --version > $T/out; rc=$?
expect "[ $rc = 0 ] && grep -q '^xksmctl ' $T/out" "--version exits 0"
$X nosuch > $T/out 2> $T/err; rc=$?
expect "[ $rc = 2 ] && [ ! -s $T/out ] && grep -q '^Usage:' $T/err" \
	"negative: an unknown command exits 2 with the usage on stderr"
$X status --nosuch > /dev/null 2> $T/err; rc=$?
expect "[ $rc = 2 ] && grep -q 'Usage: xksmctl status' $T/err" \
	"negative: an unknown option exits 2 with the usage on stderr"

# --- a process with merged pages, xksmd stopped ---------------------------------
/tests/helper_merge_holder > $T/holder.out 2>&1 &
holder=$!
wait_line $T/holder.out '^merged' $holder "the holder process merged its pages"
ok "a process has merged pages: $(grep '^merged' $T/holder.out)"

$X set run=0; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/run) = 0 ]" "set run=0 stops xksmd (sysfs run is $(cat $S/run))"

# --- status -----------------------------------------------------------------
counters="pages_shared pages_sharing pages_unshared pages_volatile pages_skipped
	ksm_zero_pages stable_node_chains stable_node_dups deferred_rmap_items
	general_profit full_scans pages_scanned"
for c in $counters; do eval "before_$c=\$(cat $S/$c)"; done
$X status -i 0.2 --json > $T/status.json; rc=$?
cat $T/status.json
expect "[ $rc = 0 ]" "status --json exits 0"
bad=
for c in $counters; do
	after=$(cat $S/$c)
	eval "before=\$before_$c"
	got=$(jnum $T/status.json $c)
	[ "$got" = "$before" ] && [ "$got" = "$after" ] || bad="$bad $c=$got (sysfs $before/$after)"
done
expect "[ -z '$bad' ]" "status --json: every counter equals sysfs before and after${bad:+:$bad}"
sharing=$(cat $S/pages_sharing)
expect "[ $sharing -ge 32 ]" "pages_sharing is at least the holder's 32 ($sharing)"
expect "[ \"\$(jnum $T/status.json saved_bytes)\" = $((sharing * PAGE)) ]" \
	"status --json: saved_bytes is pages_sharing x page size ($((sharing * PAGE)))"
expect "grep -q '\"loaded\":true,\"run\":0,\"state\":\"stopped\"' $T/status.json" \
	"status --json: loaded, run 0, stopped"
expect "grep -q '\"scan_pages_per_second\":0,' $T/status.json && grep -q '\"full_scan_seconds\":null' $T/status.json" \
	"status --json: stopped xksmd scans 0 pages/s, no full scan measured"

$X status -i 0.2 > $T/status.txt; rc=$?
cat $T/status.txt
expect "[ $rc = 0 ] && grep -q 'xksmd stopped (run=0)' $T/status.txt && grep -q '^pages sharing  *$sharing ' $T/status.txt" \
	"status says in words that xksmd is stopped and shows pages sharing"
expect "grep -q '^time per full scan: *more than .*no full scan completed' $T/status.txt" \
	"status says that no full scan completed in the window"

# --- top ----------------------------------------------------------------------
$X top --once --json > $T/top.json; rc=$?
cat $T/top.json
entry=$(grep -o "{\"pid\":$holder,[^}]*}" $T/top.json)
echo "$entry" > $T/entry
expect "[ $rc = 0 ] && [ -n '$entry' ]" "top --once --json lists the holder (pid $holder)"
for f in merging_pages rmap_items zero_pages; do
	want=$(mm_field $holder $f)
	got=$(jnum $T/entry $f)
	expect "[ -n '$want' ] && [ '$got' = '$want' ]" \
		"top: the holder's $f ($got) is that of debugfs mm_slots ($want)"
done
expect "[ \"\$(jnum $T/entry merging_pages)\" = 64 ]" "top: the holder has 64 merging pages"
# sizeof(struct xksm_rmap_item) is mainline's 64 bytes on x86-64 (scripts/lint
# checks the layout against the kernel's BTF).
m=$(jnum $T/entry merging_pages); z=$(jnum $T/entry zero_pages); r=$(jnum $T/entry rmap_items)
want=$(( (m + z) * PAGE - r * 64 ))
expect "[ \"\$(jnum $T/entry profit)\" = $want ] && [ \"\$(mm_field $holder profit)\" = $want ]" \
	"top: the holder's profit is debugfs's, (merging + zero) x page size - rmap_items x 64 = $want"

$X top --once > $T/top.txt; rc=$?
cat $T/top.txt
expect "[ $rc = 0 ] && grep -q '^ *$holder helper_merge_ho  *64 ' $T/top.txt" \
	"top --once shows the holder's pid, comm and merging pages"
$X top -i 0.2 -c 2 -n 1 > $T/top2.txt; rc=$?
expect "[ $rc = 0 ] && [ \$(grep -c '^xksmctl top' $T/top2.txt) = 2 ]" "top -c 2 prints two tables"
want=$(mm_field $holder domain)
expect "[ -n '$want' ] && grep -q '\"domain\":$want}' $T/entry && grep -q '^ *PID COMM .* DOMAIN ANY\$' $T/top.txt" \
	"top: the holder's domain ($want under merge_scope $saved_scope) is mm_slots', and the table has a DOMAIN column"

# --- get and set ----------------------------------------------------------------
pts=$(cat $S/pages_to_scan)
for a in pages_to_scan=abc run=3 nosuch=1 "pages_to_scan=777 run=3" pages_sharing=5 max_page_sharing=1; do
	$X set $a > /dev/null 2> $T/err; rc=$?
	last=${a##* }
	knob=${last%%=*}
	expect "[ $rc = 2 ] && grep -q '$knob' $T/err && [ \$(cat $S/pages_to_scan) = $pts ] && [ \$(cat $S/run) = 0 ]" \
		"negative: set $a exits 2 naming $knob ($(head -n 1 $T/err)), nothing written"
done
$X set pages_to_scan=1234; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/pages_to_scan) = 1234 ]" "set pages_to_scan=1234 writes sysfs"
expect "[ \"\$($X get pages_to_scan)\" = pages_to_scan=1234 ]" "get pages_to_scan prints pages_to_scan=1234"
expect "[ \"\$($X get --json pages_to_scan run)\" = '{\"pages_to_scan\":1234,\"run\":0}' ]" \
	"get --json pages_to_scan run prints {\"pages_to_scan\":1234,\"run\":0}"
$X get > $T/get.txt; rc=$?
expect "[ $rc = 0 ] && grep -q '^advisor_mode=none$' $T/get.txt && grep -q '^merge_scope=$saved_scope\$' $T/get.txt && [ \$(wc -l < $T/get.txt) = 15 ]" \
	"get prints the 15 knobs, advisor_mode and merge_scope as their selected words"
man=$(cat $S/merge_across_nodes)
$X set merge_across_nodes=$((1 - man)) 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 1 ] && grep -q 'busy' $T/err && [ \$(cat $S/merge_across_nodes) = $man ]" \
	"negative: set merge_across_nodes while pages are merged exits 1 with EBUSY's text"
scope=$(cat $S/merge_scope)
$X set merge_scope=uid 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 1 ] && grep -q 'busy.*run=2' $T/err && [ \"\$(cat $S/merge_scope)\" = '$scope' ]" \
	"negative: set merge_scope while pages are merged exits 1 with EBUSY's text"
for a in merge_scope=bogus merge_scope= "merge_scope=id zero_pages_across_domains=2"; do
	$X set $a > /dev/null 2> $T/err; rc=$?
	last=${a##* }
	knob=${last%%=*}
	expect "[ $rc = 2 ] && grep -q '$knob' $T/err && [ \"\$(cat $S/merge_scope)\" = '$scope' ]" \
		"negative: set $a exits 2 naming $knob ($(head -n 1 $T/err)), nothing written"
done
$X set merge_scope bogus > /dev/null 2>&1; rc=$?
expect "[ $rc = 2 ]" "negative: set merge_scope bogus (no =) exits 2"
$X get nosuch > /dev/null 2>&1; rc=$?
expect "[ $rc = 2 ]" "negative: get of an unknown knob exits 2"

# --- chains -------------------------------------------------------------------
$X chains -a > $T/chains.txt; rc=$?
head -n 8 $T/chains.txt
tail -n 1 $T/chains.txt
expect "[ $rc = 0 ] && grep -q 'pid $holder  *comm helper_merge_ho ' $T/chains.txt" \
	"chains -a shows the holder's rmap_items (pid $holder)"
$X chains > $T/out; rc=$?
expect "[ $rc = 0 ] && tail -n 1 $T/out | grep -q ' with .* dups; .* rmap_items'" "chains prints a summary line"
$X chains -a --json > $T/chains.json; rc=$?
expect "[ $rc = 0 ] && grep -q '\"pid\":$holder,\"comm\":\"helper_merge_ho\"' $T/chains.json" \
	"chains -a --json lists the holder's rmap_items"
tail -c 200 $T/chains.json
nodes=$(sed -n 's/.*"summary":{.*"nodes":\([0-9]*\).*/\1/p' $T/chains.json)
dups=$(sed -n 's/.*"summary":{.*"dups":\([0-9]*\).*/\1/p' $T/chains.json)
nchains=$(sed -n 's/.*"summary":{.*"chains":\([0-9]*\).*/\1/p' $T/chains.json)
expect "[ $((nodes + dups)) = \$(cat $S/pages_shared) ] && [ '$dups' = \$(cat $S/stable_node_dups) ] && [ '$nchains' = \$(cat $S/stable_node_chains) ]" \
	"chains summary: nodes + dups = pages_shared, chains and dups as sysfs ($nodes + $dups, $nchains)"

# --- watch --------------------------------------------------------------------
$X watch -i 0.2 -c 3 > $T/watch.txt; rc=$?
cat $T/watch.txt
expect "[ $rc = 0 ] && [ \$(wc -l < $T/watch.txt) = 3 ] && [ \$(grep -c ' sharing $sharing ' $T/watch.txt) = 3 ]" \
	"watch -i 0.2 -c 3 prints 3 lines, with pages_sharing $sharing"
$X watch -i 0.2 -c 2 --json > $T/watch.json; rc=$?
cat $T/watch.json
expect "[ $rc = 0 ] && [ \$(grep -c '^{\"time\":.*\"pages_sharing\":$sharing,.*}\$' $T/watch.json) = 2 ]" \
	"watch --json prints one object per line"

# --- a running xksmd: a measured scan rate --------------------------------------
$X set run=1
$X status -i 1 --json > $T/status.json; rc=$?
cat $T/status.json
full=$(jnum $T/status.json full_scan_seconds)
expect "[ $rc = 0 ] && [ -n '$full' ] && ! grep -q '\"scan_pages_per_second\":0,' $T/status.json" \
	"status measures the scan rate and the time per full scan of a running xksmd ($full s)"
$X set run=0

# --- proc, merge-any, xksm-run --pid: another process through a pidfd ---------
# The holder registered 2 x 32 pages with XKSM_IOC_MERGEABLE: no merge-any.
$X proc --json $holder > $T/proc.json; rc=$?
cat $T/proc.json
expect "[ $rc = 0 ] && grep -q '^{\"pid\":$holder,\"comm\":\"helper_merge_ho\",\"merge_any\":false,\"mergeable\":true,' $T/proc.json" \
	"proc --json: the holder's pid and comm, merge-any off, mergeable"
for f in merging_pages zero_pages rmap_items profit domain; do
	want=$(mm_field $holder $f)
	got=$(jnum $T/proc.json $f)
	expect "[ -n '$want' ] && [ '$got' = '$want' ]" \
		"proc --json: the holder's $f ($got) is that of debugfs mm_slots ($want)"
done
expect "[ \"\$(jnum $T/proc.json registered_bytes)\" = $((64 * PAGE)) ] && grep -q '\"merge_scope\":\"$saved_scope\"}' $T/proc.json" \
	"proc --json: registered_bytes is the holder's 64 pages, and the merge scope is sysfs's"

# Merge-any on for the holder, by another process: its figures stay (run=0).
$R --pid $holder 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 0 ] && [ ! -s $T/err ]" "xksm-run --pid of the holder exits 0, silently"
expect "grep -q '^mm_slot [^ ]* pid $holder .* merge_any 1 ' $D/mm_slots" \
	"debugfs mm_slots: merge_any 1 for the holder after xksm-run --pid"
$X proc $holder > $T/proc.txt; rc=$?
$X proc --json $holder > $T/proc.json
cat $T/proc.txt $T/proc.json
expect "[ $rc = 0 ] && grep -q '^pid $holder (helper_merge_ho)\$' $T/proc.txt && grep -q '^merge-any  *yes\$' $T/proc.txt && grep -q '^merging pages  *64\$' $T/proc.txt" \
	"proc: the holder, now with merge-any, has merge-any yes and its 64 merging pages"
# Merge-any replaces the ranges (as prctl does): registered_bytes counts
# XKSM_IOC_MERGEABLE's ranges only, none now.
for f in merging_pages zero_pages rmap_items profit domain registered_bytes; do
	eval "$f=\$(jnum $T/proc.json $f)"
done
expect "grep -q '\"merge_any\":true,' $T/proc.json && [ '$merging_pages' = 64 ] && [ '$registered_bytes' = 0 ] && [ '$rmap_items' = \"\$(mm_field $holder rmap_items)\" ]" \
	"proc --json: merge-any true, 64 merging pages, no registered ranges, rmap_items as mm_slots"
expect "grep -q '^registered  *.* ($registered_bytes bytes)\$' $T/proc.txt && grep -q '^zero pages  *$zero_pages\$' $T/proc.txt && grep -q '^rmap items  *$rmap_items\$' $T/proc.txt && grep -q '^profit  *.* ($profit bytes)\$' $T/proc.txt && grep -q '^domain  *$domain (merge scope $saved_scope)\$' $T/proc.txt" \
	"proc: registered bytes, zero pages, rmap items, profit, domain and merge scope in words, as --json"

# A process of its own, on and off: xksm-run --pid, then xksmctl merge-any.
sleep 1000 &
sleeper=$!
$R --pid $sleeper; rc=$?
$X proc --json $sleeper > $T/proc.json
cat $T/proc.json
expect "[ $rc = 0 ] && grep -q '\"merge_any\":true,\"mergeable\":true,' $T/proc.json && grep -q '^mm_slot [^ ]* pid $sleeper .* merge_any 1 ' $D/mm_slots" \
	"xksm-run --pid turns merge-any on (proc --json and mm_slots say so)"
$R --pid $sleeper --off; rc=$?
$X proc --json $sleeper > $T/proc.json
cat $T/proc.json
expect "[ $rc = 0 ] && grep -q '\"merge_any\":false,' $T/proc.json && ! grep -q '^mm_slot [^ ]* pid $sleeper .* merge_any 1 ' $D/mm_slots" \
	"xksm-run --pid --off turns merge-any off (proc --json and mm_slots say so)"
$X merge-any $sleeper on; rc=$?
expect "[ $rc = 0 ] && $X proc --json $sleeper | grep -q '\"merge_any\":true,'" "xksmctl merge-any PID on turns it on"
$X merge-any $sleeper off; rc=$?
expect "[ $rc = 0 ] && $X proc --json $sleeper | grep -q '\"merge_any\":false,'" "xksmctl merge-any PID off turns it off"

# Errors: no such process, not permitted, bad usage.
nopid=4194304	# PID_MAX_LIMIT: never a process id
$R --pid $nopid > $T/out 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 125 ] && grep -q '^xksm-run: no process $nopid\$' $T/err" \
	"negative: xksm-run --pid of no process exits 125 saying so"
$X proc $nopid > $T/out 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 1 ] && [ ! -s $T/out ] && grep -q 'no process $nopid' $T/err" \
	"negative: proc of no process exits 1 saying so"
$X merge-any $nopid on 2> $T/err; rc=$?
expect "[ $rc = 1 ] && grep -q 'no process $nopid' $T/err" "negative: merge-any of no process exits 1 saying so"
as_nobody="/tests/helper_as_user 65534"
$as_nobody $R --pid $holder 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 125 ] && grep -q 'not permitted: needs CAP_SYS_NICE and ptrace read access to $holder' $T/err" \
	"negative: xksm-run --pid of root's process as nobody exits 125: not permitted (EPERM)"
$as_nobody $X proc $holder > /dev/null 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 1 ] && grep -q 'not permitted: needs CAP_SYS_NICE' $T/err" \
	"negative: proc of root's process as nobody exits 1: not permitted (EPERM)"
# A zombie: a child of a process that never waits for it (sleep).
sh -c "sleep 0 & echo \$! > $T/zombie; exec sleep 1000" &
zparent=$!
i=0
while [ $i -lt 50 ] && ! grep -q '^[0-9]* ([^)]*) Z' /proc/$(cat $T/zombie 2>/dev/null)/stat 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
zombie=$(cat $T/zombie)
$R --pid $zombie 2> $T/err; rc=$?
cat $T/err
expect "grep -q '^[0-9]* ([^)]*) Z' /proc/$zombie/stat && [ $rc = 125 ] && grep -q 'process $zombie has exited' $T/err" \
	"negative: xksm-run --pid of a zombie exits 125: it has exited (ESRCH)"
$X proc $zombie 2> $T/err; rc=$?
expect "[ $rc = 1 ] && grep -q 'process $zombie has exited' $T/err" "negative: proc of a zombie exits 1: it has exited (ESRCH)"
kill -KILL $zparent 2>/dev/null && wait $zparent 2>/dev/null
zparent=
for a in "--pid 0" "--pid x" "--pid $sleeper --off --domain 1" "--off" "--off true" "--domain x true" "--pid $sleeper true"; do
	$R $a > /dev/null 2> $T/err; rc=$?
	expect "[ $rc = 125 ] && grep -q '^xksm-run: ' $T/err" "negative: xksm-run $a exits 125 ($(head -n 1 $T/err))"
done
for a in "$sleeper maybe" "$sleeper" "x on" "--domain 1 $sleeper off" "--domain 4294967296 $sleeper on"; do
	$X merge-any $a > /dev/null 2> $T/err; rc=$?
	expect "[ $rc = 2 ] && grep -q 'Usage: xksmctl merge-any' $T/err" "negative: merge-any $a exits 2 ($(head -n 1 $T/err))"
done
$X proc 0 > /dev/null 2>&1; rc=$?
expect "[ $rc = 2 ]" "negative: proc 0 exits 2"

# --- merge domains: merge_scope, zero_pages_across_domains, --domain ------------
$X set run=2; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/pages_sharing) = 0 ]" "set run=2 unmerges everything"
$X set merge_scope=id; rc=$?
expect "[ $rc = 0 ] && [ \"\$(cat $S/merge_scope)\" = 'all uid memcg [id]' ]" \
	"set merge_scope=id writes sysfs ($(cat $S/merge_scope))"
expect "[ \"\$($X get merge_scope)\" = merge_scope=id ] && [ \"\$($X get --json merge_scope)\" = '{\"merge_scope\":\"id\"}' ]" \
	"get merge_scope prints merge_scope=id, and --json {\"merge_scope\":\"id\"}"
$X status -i 0.1 > $T/status.txt; rc=$?
$X status -i 0.1 --json > $T/status.json
head -n 2 $T/status.txt
expect "[ $rc = 0 ] && grep -q '^merge scope: *id (merging within each domain id only; the zero page' $T/status.txt && grep -q '\"merge_scope\":\"id\",\"zero_pages_across_domains\":$saved_zpad,' $T/status.json" \
	"status shows the merge scope (text and --json)"
zpad=$((1 - saved_zpad))
$X set zero_pages_across_domains=$zpad; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/zero_pages_across_domains) = $zpad ] && [ \"\$($X get zero_pages_across_domains)\" = zero_pages_across_domains=$zpad ]" \
	"set/get zero_pages_across_domains=$zpad round trip"
$X set zero_pages_across_domains=$saved_zpad
$R --pid $sleeper --domain 7; rc=$?
$X proc --json $sleeper > $T/proc.json
cat $T/proc.json
expect "[ $rc = 0 ] && grep -q '\"merge_any\":true,.*\"domain\":7,\"merge_scope\":\"id\"}' $T/proc.json && [ \"\$(mm_field $sleeper domain)\" = 7 ]" \
	"xksm-run --pid --domain 7: merge-any on in domain 7 (proc --json, mm_slots)"
$X merge-any --domain 9 $sleeper on; rc=$?
$X top --once > $T/top.txt
$X top --once --json > $T/top.json
grep "^ *$sleeper " $T/top.txt
expect "[ $rc = 0 ] && grep -q '^ *$sleeper [^ ]* .* 9 yes\$' $T/top.txt && grep -q '{\"pid\":$sleeper,[^}]*\"domain\":9}' $T/top.json" \
	"merge-any --domain 9: top shows DOMAIN 9 for the process (text and --json)"
$as_nobody $R --pid $sleeper --domain 3 2> $T/err; rc=$?
expect "[ $rc = 125 ] && grep -q 'not permitted' $T/err" "negative: --domain as nobody is not permitted ($(cat $T/err))"
$X merge-any $sleeper off
$X set merge_scope=all; rc=$?
expect "[ $rc = 0 ] && [ \"\$($X get merge_scope)\" = merge_scope=all ]" "set merge_scope=all restores the default"
[ -n "$saved_scope" ] && $X set merge_scope=$saved_scope
$X set run=0

# --- chains of a live stable tree ---------------------------------------------
# Only the process made for it has merged pages: the holder goes, run=2
# unmerges the rest.  max_page_sharing changes only when nothing is merged.
kill -KILL $holder 2>/dev/null && wait $holder 2>/dev/null
holder=
$X set run=2
$X set max_page_sharing=2; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/max_page_sharing) = 2 ]" \
	"set max_page_sharing=2 after run=2 (was $saved_mps)"
/tests/helper_same_pages 8 > $T/same.out 2>&1 &
samer=$!
wait_line $T/same.out '^ready 8' $samer "a process registered 8 pages of one content"
$X set pages_to_scan=5000 sleep_millisecs=0 run=1
# Wait for all 8 mappings merged (4 dups of 2) with a chain, then stop
# xksmd: run=0 keeps them merged and the counters still.
i=0
while [ $(cat $S/stable_node_chains) -lt 1 ] ||
      [ $(($(cat $S/pages_shared) + $(cat $S/pages_sharing))) -lt 8 ]; do
	sleep 0.2
	i=$((i + 1))
	[ $i -gt 600 ] && break
done
$X set run=0
s_chains=$(cat $S/stable_node_chains)
s_dups=$(cat $S/stable_node_dups)
s_maps=$(($(cat $S/pages_shared) + $(cat $S/pages_sharing)))
echo "sysfs: stable_node_chains $s_chains stable_node_dups $s_dups pages_shared + pages_sharing $s_maps"
expect "[ $s_chains -ge 1 ] && [ $s_maps = 8 ]" \
	"8 pages of one content under max_page_sharing=2 make a chain ($s_chains chains, $s_dups dups, $s_maps mappings)"
$X chains --json > $T/live.json; rc=$?
cat $T/live.json
# The dups' sharing of each chain, added up: one line per chain.
awk -F'"chain":"' '{ for (i = 2; i <= NF; i++) { s = 0; n = split($i, a, "\"sharing\":");
	for (k = 2; k <= n; k++) s += a[k] + 0; print s } }' $T/live.json > $T/live.sums
nchains=$(grep -o '"chain":"' $T/live.json | wc -l)
dups=$(sed -n 's/.*"summary":{.*"dups":\([0-9]*\).*/\1/p' $T/live.json)
expect "[ $rc = 0 ] && [ $nchains = $s_chains ] && [ '$dups' = $s_dups ]" \
	"chains --json: as many chains ($nchains) and dups ($dups) as sysfs stable_node_chains and stable_node_dups"
expect "grep -qx '$s_maps' $T/live.sums" \
	"chains --json: a chain's dups' sharing adds up to pages_shared + pages_sharing, $s_maps (per chain: $(echo $(cat $T/live.sums)))"
kill -KILL $samer 2>/dev/null && wait $samer 2>/dev/null
samer=
$X set run=2
$X set max_page_sharing=$saved_mps; rc=$?
expect "[ $rc = 0 ] && [ \$(cat $S/max_page_sharing) = $saved_mps ]" "max_page_sharing back to $saved_mps"
$X set run=0

# --- made-up files: parsers, escaping, errors --------------------------------
F=$T/fake
mkdir -p $F/sys $F/dbg
cat > $F/dbg/stable_tree <<'EOF'
tree 0
  chain ff4913e7ffa62008 nid 0 dups 2
    dup ff4913e7ffb02698 chain ff4913e7ffa62008 kpfn 138551 nid 0 sharing 2
      rmap live pid 494 comm a\040"b\134 addr 0x7fcdb69cd000 anon_vma ff4913e742797488
      rmap deferred pid - comm - addr 0x7fcdb69cd000 anon_vma ff4913e742806cc8
    dup ff4913e7ffb96350 chain ff4913e7ffa62008 kpfn 138412 nid 0 sharing 2
      rmap live pid 493 comm x addr 0x7fcdb69cd000 anon_vma ff4913e742694788
    dup ff4913e7ffb96350 chain ff4913e7ffa62008 kpfn 138412 nid 0 sharing 2
      rmap live pid 493 comm x addr 0x7fcdb69cd000 anon_vma ff4913e742694788
  node ff4913e7427689e0 kpfn 1056933 nid 0 sharing 3
    rmap covered pid 166 comm y addr 0x7fcdb6a15000 anon_vma -
migrate
EOF
XKSM_SYSFS=$F/sys XKSM_DEBUGFS=$F/dbg $X chains --json > $T/fake.json; rc=$?
cat $T/fake.json
expect "[ $rc = 0 ] && grep -q '\"pid\":494,\"comm\":\"a \\\\\"b\\\\\\\\\",\"addr\":140521508753408' $T/fake.json" \
	"chains --json unescapes debugfs's octal escapes and escapes JSON's (comm a \"b\\)"
expect "grep -q '\"pid\":null,\"comm\":null' $T/fake.json && grep -q '\"nodes\":null' $T/fake.json" \
	"chains --json: null for no owner, null nodes without -a"
expect "grep -q '\"summary\":{\"trees\":1,\"chains\":1,\"dups\":2,\"nodes\":1,\"migrating\":0,\"rmap_items\":4,\"live\":2,\"covered\":1,\"deferred\":1,\"processes\":3}' $T/fake.json" \
	"chains --json: the summary counts a repeated dup once"
XKSM_SYSFS=$F/nosuch $X status > $T/out; rc=$?
expect "[ $rc = 1 ] && grep -q 'not loaded' $T/out" "negative: status without xksm exits 1 saying it is not loaded"
XKSM_DEBUGFS=$F/nosuch $X top --once > /dev/null 2> $T/err; rc=$?
cat $T/err
expect "[ $rc = 1 ] && grep -q '$F/nosuch/mm_slots' $T/err" \
	"negative: top without debugfs exits 1 naming the missing file"
# An older module's mm_slots, without " domain N": DOMAIN "-", null.
cat > $F/dbg/mm_slots <<'EOF'
mm_slot ff4913e742797488 pid 77 comm old exited 0 merge_any 1 merging_pages 3 rmap_items 4 zero_pages 0 profit 12032
mm_slot ff4913e742797489 pid 78 comm new exited 0 merge_any 0 merging_pages 0 rmap_items 0 zero_pages 0 profit 0 domain 1000
  range 0x7f0000000000-0x7f0000002000 on
EOF
XKSM_SYSFS=$F/sys XKSM_DEBUGFS=$F/dbg $X top --once -s pid > $T/out; rc=$?
XKSM_SYSFS=$F/sys XKSM_DEBUGFS=$F/dbg $X top --once -s pid --json > $T/fake.json
cat $T/out $T/fake.json
expect "[ $rc = 0 ] && grep -q '^ *77 old .* - yes\$' $T/out && grep -q '^ *78 new .* 1000 no\$' $T/out" \
	"top: DOMAIN from mm_slots' domain word, - without it"
expect "grep -q '\"pid\":77,[^}]*\"domain\":null}' $T/fake.json && grep -q '\"pid\":78,[^}]*\"ranges\":1,\"domain\":1000}' $T/fake.json" \
	"top --json: domain null without the word, its number with it"

exit $fail
