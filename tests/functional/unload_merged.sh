#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unloading xksm while a process's pages are merged: rmmod succeeds once no
# one holds /dev/xksm open, every merged page is unmerged first (the pages
# no longer share a frame), the process's data is intact, and nothing is
# left pointing at the module (the harness's final checks and the slab
# debugging would catch that).  Reloads xksm at the end.

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

# A process that merges, closes /dev/xksm, and waits for a signal to check
# its data: engine's own helper, in "hold" mode.
/tests/helper_merge_holder > /tmp/holder.out 2>&1 &
holder=$!
i=0
while ! grep -q '^merged' /tmp/holder.out; do
	sleep 1
	i=$((i + 1))
	if [ $i -gt 120 ] || ! kill -0 $holder 2>/dev/null; then
		cat /tmp/holder.out
		not_ok "the holder process merged its pages"
		kill $holder 2>/dev/null
		exit 1
	fi
done
ok "a process has merged pages: $(grep '^merged' /tmp/holder.out)"

if rmmod xksm; then
	ok "rmmod with pages merged"
else
	not_ok "rmmod with pages merged"
fi
[ ! -e /sys/kernel/mm/xksm ] && ok "xksm is gone" || not_ok "xksm is gone"

kill -USR1 $holder
wait $holder
rc=$?
cat /tmp/holder.out | sed 's/^/# holder: /'
[ $rc = 0 ] && ok "the process's pages were unmerged and its data is intact" ||
	not_ok "the process's pages were unmerged and its data is intact (exit $rc)"

insmod "$XKSM_KO" && ok "reload" || not_ok "reload"
exit $fail
