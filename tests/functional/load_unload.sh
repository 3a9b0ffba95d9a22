#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# xksm loads and unloads cleanly, again and again: each load brings up
# /dev/xksm, /sys/kernel/mm/xksm and /sys/kernel/debug/xksm, each unload
# removes them; an open /dev/xksm pins the module.  Leaves xksm loaded.

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }
expect() { if eval "$1"; then ok "$2"; else not_ok "$2"; fi; }

present() { [ -c /dev/xksm ] && [ -d /sys/kernel/mm/xksm ] && [ -d /sys/kernel/debug/xksm ]; }
absent()  { [ ! -e /dev/xksm ] && [ ! -e /sys/kernel/mm/xksm ] && [ ! -e /sys/kernel/debug/xksm ]; }

grep -q '^xksm ' /proc/modules || insmod "$XKSM_KO"
expect present "loaded: /dev/xksm, sysfs and debugfs directories exist"

loops=${LOOPS:-25}
bad=0
i=0
while [ $i -lt "$loops" ]; do
	rmmod xksm || { bad=1; break; }
	absent || { echo "# round $i: something left after rmmod"; bad=1; break; }
	insmod "$XKSM_KO" || { bad=1; break; }
	present || { echo "# round $i: something missing after insmod"; bad=1; break; }
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
