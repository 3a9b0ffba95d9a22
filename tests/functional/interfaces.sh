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

# debugfs is root's: an unprivileged reader is refused.
if setpriv --reuid=65534 --regid=65534 --clear-groups cat "$api" > /dev/null 2>&1; then
	not_ok "an unprivileged user cannot read $api"
else
	ok "an unprivileged user cannot read $api"
fi
exit $fail
