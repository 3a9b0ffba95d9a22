#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Negative test: when a kernel symbol xksm needs cannot be bound, the load
# is refused with a message naming it, and nothing is left behind.
# (require_symbol= is a test hook that adds one more symbol to bind.)

fail=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fail=1; }

sym=xksm_test_missing_symbol
rmmod xksm
dmesg -c > /dev/null
if insmod "$XKSM_KO" require_symbol=$sym 2>/dev/null; then
	not_ok "load with an unresolvable symbol is refused"
	rmmod xksm
else
	ok "load with an unresolvable symbol is refused"
fi
msg=$(dmesg | grep 'xksm: cannot load')
echo "# kernel said: $msg"
case "$msg" in
*"not found: $sym"*) ok "the refusal names the missing symbol" ;;
*) not_ok "the refusal names the missing symbol" ;;
esac
if [ ! -e /dev/xksm ] && [ ! -e /sys/kernel/mm/xksm ] && [ ! -e /sys/kernel/debug/xksm ]; then
	ok "nothing is left behind"
else
	not_ok "nothing is left behind"
fi
if insmod "$XKSM_KO" require_symbol=kallsyms_lookup_name; then
	ok "a symbol that exists does not stop the load"
else
	not_ok "a symbol that exists does not stop the load"
fi
exit $fail
