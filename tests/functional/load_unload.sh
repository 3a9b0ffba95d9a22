#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xksm loads and unloads cleanly, again and again: each load brings up
# /dev/xksm, /sys/kernel/mm/xksm and /sys/kernel/debug/xksm, each unload
# removes them; an open /dev/xksm pins the module.  A freshly loaded xksm
# has every knob of /sys/kernel/mm/xksm at mainline KSM's default (6.12's
# mm/ksm.c; 6.1 has the same values for the knobs it has), and every
# writable file there is a knob whose default is checked.  Leaves xksm
# loaded.

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }
expect() { if eval "$1"; then ok "$2"; else not_ok "$2"; fi; }

present() { [ -c /dev/xksm ] && [ -d /sys/kernel/mm/xksm ] && [ -d /sys/kernel/debug/xksm ]; }
absent()  { [ ! -e /dev/xksm ] && [ ! -e /sys/kernel/mm/xksm ] && [ ! -e /sys/kernel/debug/xksm ]; }

grep -q '^xksm ' /proc/modules || insmod "$XKSM_KO"
expect present "loaded: /dev/xksm, sysfs and debugfs directories exist"

# knob default: mainline's, from mm/ksm.c (6.12: DEFAULT_PAGES_TO_SCAN,
# ksm_thread_sleep_millisecs, ...); merge_scope and
# zero_pages_across_domains are xksm's own, their defaults those under
# which xksm merges as mainline does (no domains).
DEFAULTS='
pages_to_scan 100
sleep_millisecs 20
run 0
max_page_sharing 256
stable_node_chains_prune_millisecs 2000
merge_across_nodes 1
use_zero_pages 0
smart_scan 1
advisor_mode [none] scan-time
advisor_max_cpu 70
advisor_target_scan_time 200
advisor_min_pages_to_scan 500
advisor_max_pages_to_scan 30000
merge_scope [all] uid memcg id
zero_pages_across_domains 0
'

# Every knob at its default; prints each one that is not.
defaults_ok() {
	d=/sys/kernel/mm/xksm
	r=0
	echo "$DEFAULTS" | {
		while read -r name want; do
			[ -n "$name" ] || continue
			got=$(cat "$d/$name" 2>&1)
			if [ "$got" != "$want" ]; then
				echo "# knob $name is '$got', mainline's default is '$want'"
				r=1
			fi
		done
		exit $r
	} || r=1
	for f in "$d"/*; do
		name=${f##*/}
		case $(ls -ld "$f") in ??w*) ;; *) continue ;; esac
		echo "$DEFAULTS" | grep -q "^$name " && continue
		echo "# knob $name has no default checked here"
		r=1
	done
	return $r
}

loops=${LOOPS:-25}
bad=0
i=0
while [ $i -lt "$loops" ]; do
	rmmod xksm || { bad=1; break; }
	absent || { echo "# round $i: something left after rmmod"; bad=1; break; }
	insmod "$XKSM_KO" || { bad=1; break; }
	present || { echo "# round $i: something missing after insmod"; bad=1; break; }
	# The first fresh load (xksm may have been loaded before this test,
	# its knobs changed since).
	if [ $i = 0 ]; then
		expect defaults_ok "freshly loaded, every knob is at mainline KSM's default"
	fi
	i=$((i + 1))
done
expect "[ $bad = 0 ]" "$loops unload/load rounds, each clean ($i done)"

# An open file descriptor holds a reference on the module.
sleep 30 < /dev/xksm &
holder=$!
sleep 1
expect "! rmmod xksm 2>/dev/null" "rmmod is refused while /dev/xksm is open"
expect present "the refused rmmod left everything in place"
kill $holder
wait $holder 2>/dev/null
expect "rmmod xksm" "rmmod succeeds once the file is closed"
expect absent "and removes everything"
expect "insmod $XKSM_KO" "reload"

exit $fail
