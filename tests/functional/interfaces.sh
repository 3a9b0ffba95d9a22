#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The interfaces a loaded xksm shows: /sys/kernel/mm/xksm/ and
# /sys/kernel/debug/xksm/, whose kernel_api file proves that every kernel
# symbol is bound to exactly the function (or variable) of that name.

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

[ -d /sys/kernel/mm/xksm ] && ok "/sys/kernel/mm/xksm exists" || not_ok "/sys/kernel/mm/xksm exists"
[ -d /sys/kernel/debug/xksm ] && ok "/sys/kernel/debug/xksm exists" || not_ok "/sys/kernel/debug/xksm exists"

api=/sys/kernel/debug/xksm/kernel_api
cat "$api"
n=$(wc -l < "$api")
[ "$n" -ge 20 ] && ok "kernel_api lists $n symbols" || not_ok "kernel_api lists $n symbols (expected 20 or more)"

# Every line: kind, name, and the kernel's own symbolisation of the bound
# address, which must be <name>+0x0/<size>: the start of that very symbol.
bad=$(awk '{ if (index($3, $2 "+0x0/") != 1) print }' "$api")
if [ -z "$bad" ]; then
	ok "every static call and pointer points at the start of its own symbol"
else
	not_ok "bindings off their symbol: $bad"
fi
grep -q '^function *kallsyms_lookup_name ' "$api" &&
	ok "kallsyms_lookup_name is bound through a static call" ||
	not_ok "kallsyms_lookup_name is bound through a static call"

# debugfs is root's: an unprivileged reader is refused; /dev/xksm is
# everyone's.  First make sure the ids really change.
as_nobody="/tests/helper_as_user 65534"
if [ "$($as_nobody id -u 2>&1)" = 65534 ]; then
	ok "helper_as_user runs commands as uid 65534"
else
	not_ok "helper_as_user runs commands as uid 65534 (got '$($as_nobody id -u 2>&1)')"
fi
err=$($as_nobody cat "$api" 2>&1 > /dev/null)
case $? in
1)	case $err in
	*"Permission denied"*) ok "an unprivileged user cannot read $api ($err)" ;;
	*) not_ok "an unprivileged user cannot read $api: refused, but not EACCES ($err)" ;;
	esac ;;
*)	not_ok "an unprivileged user cannot read $api (cat: $?, $err)" ;;
esac
if $as_nobody sh -c 'exec 3<> /dev/xksm' 2> /dev/null; then
	ok "an unprivileged user can open /dev/xksm for reading and writing"
else
	not_ok "an unprivileged user can open /dev/xksm for reading and writing"
fi
exit $fail
