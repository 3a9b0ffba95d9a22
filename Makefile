# SPDX-License-Identifier: GPL-2.0
#
# Developer targets.  The list of objects is Kbuild's; this file only drives
# builds and tests.
#
#   make                      build xksm.ko for the running kernel
#   make KVER=6.12            ... for a target kernel (scripts/kernels.conf),
#   make KVER=<release>       ... for any installed kernel's headers,
#   make KDIR=<build tree>    ... or for a kernel build tree
#   make deps                 install what the build and tests need (root)
#   make check                every test on every target kernel, in QEMU
#   make check T=<test> KVER=6.12   one test on one kernel
#   make check KERNEL=debug   the suite on the KASAN/lockdep debug kernel
#   make stress               the stress test for minutes on every kernel
#   make stress STRESS_SECONDS=600 KVER=6.1   ... longer, on one kernel
#   make demo                 boot a guest and show xksm at work
#   make bench                xksm against the kernel's KSM (build/bench/)
#   make bench SMOKE=1        the same, tiny: about a minute
#   make bench PROFILE=1      also where xksmd's time goes (build/bench-profile/)
#   make bench PROFILE_SECONDS=4   the same, only the first 4 s of each run
#   make bench PERF=4         perf samples of both scanners' first 4 s
#   make bench PERF=4 PERF_SYMS="memcmp"   and who calls memcmp
#   make bench ONLY="mix"     just those workloads
#   make dkms-install         build and install through DKMS (KVER= or running)
#   make dkms-remove          remove it from DKMS
#   make dkms-check           dkms add/build/install/remove for both kernels
#   make debug-kernel         build the debug kernel from Debian's source
#   make install              install the tools (PREFIX=/usr/local, DESTDIR=)

SHELL := /bin/bash
TOP := $(CURDIR)

KVER ?= $(shell uname -r)
# A target's short name (6.1, 6.12) stands for its Debian release.
KREL := $(or $(shell . scripts/kernels.conf; xksm_target_var '$(KVER)' KREL 2>/dev/null),$(KVER))
KDIR ?= /lib/modules/$(KREL)/build

all: module

module:
	$(MAKE) -C $(KDIR) M=$(TOP) modules

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null || true
	rm -rf build

deps:
	scripts/install-deps

# The guest test programs: static binaries, so that the guest needs no
# libraries.  Each tests/functional/<name>.c or <name>.sh is one test.
TEST_SRCS := $(wildcard tests/functional/*.c)
TEST_SHS  := $(wildcard tests/functional/*.sh)
BUILD ?= build
TEST_BINS := $(patsubst tests/functional/%.c,$(BUILD)/tests/%,$(TEST_SRCS)) \
	     $(patsubst tests/functional/%.sh,$(BUILD)/tests/%,$(TEST_SHS))
TEST_CFLAGS := -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	       -Iinclude/uapi -Itests/functional
TEST_LINK := -static
# Tests that run under the LD_PRELOAD shim must be linked dynamically; the
# guest gets glibc for them (scripts/guest-run).
DYNAMIC_TESTS := preload_shim
$(patsubst %,$(BUILD)/tests/%,$(DYNAMIC_TESTS)): TEST_LINK :=

tests: $(TEST_BINS) tools

# The user-space tools (tools/*.c), static too: they also run in the guest.
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

# The LD_PRELOAD shim is the one shared object: it goes into dynamically
# linked programs (xksm-run loads it into any command).
PRELOAD_LIB := $(BUILD)/tools/libxksm-preload.so

tools: $(TOOL_BINS) $(PRELOAD_LIB)

# The release, written once in dkms.conf, for --version.
XKSM_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\{0,1\}\([0-9.]*\).*/\1/p' dkms.conf)

$(BUILD)/tools/%: tools/%.c include/uapi/linux/xksm.h dkms.conf
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -Werror -static -D_GNU_SOURCE -Iinclude/uapi \
		-DXKSM_VERSION='"$(XKSM_VERSION)"' -o $@ $<

$(PRELOAD_LIB): tools/preload/xksm-preload.c include/uapi/linux/xksm.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -U_FORTIFY_SOURCE -fPIC \
		-shared -fvisibility=hidden -Iinclude/uapi -o $@ $<

$(BUILD)/tests/%: tests/functional/%.c tests/functional/xksm_test.h include/uapi/linux/xksm.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(TEST_LINK) -o $@ $< -lnuma -lpthread

$(BUILD)/tests/%: tests/functional/%.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

# The user-space tools: xksm-run finds the shim in ../lib/xksm/ beside it.
PREFIX ?= /usr/local
install: tools
	install -D -m 755 $(BUILD)/tools/xksmctl $(DESTDIR)$(PREFIX)/bin/xksmctl
	install -D -m 755 $(BUILD)/tools/xksm-run $(DESTDIR)$(PREFIX)/bin/xksm-run
	install -D -m 644 $(PRELOAD_LIB) $(DESTDIR)$(PREFIX)/lib/xksm/libxksm-preload.so
	install -D -m 644 docs/xksmctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/xksmctl.8

# KVER= picks one kernel, KERNEL=debug the debug kernel, T= one test.
check:
	@scripts/check

# The stress test that make check runs for 20 s, for as long as asked.
STRESS_SECONDS ?= 300
stress:
	@XKSM_GUEST_ENV="XKSM_STRESS_SECONDS=$(STRESS_SECONDS) TEST_TIMEOUT=$$(($(STRESS_SECONDS) * 3 + 300))" \
	XKSM_GUEST_TIMEOUT=$$(($(STRESS_SECONDS) * 3 + 1200)) T=stress scripts/check

demo:
	@scripts/demo

bench:
	@scripts/bench $(if $(SMOKE),--smoke) $(if $(PROFILE),--profile) $(if $(PROFILE_SECONDS),--profile-seconds $(PROFILE_SECONDS)) $(if $(PERF),--perf $(PERF)) $(if $(PERF_SYMS),--perf-syms "$(PERF_SYMS)") $(if $(ONLY),--only "$(ONLY)") $(if $(filter command line,$(origin KVER)),$(KVER))

dkms-check:
	scripts/dkms check

dkms-install:
	scripts/dkms install $(if $(filter command line,$(origin KVER)),$(KREL))

dkms-remove:
	scripts/dkms remove

debug-kernel:
	scripts/build-debug-kernel

.PHONY: all module clean deps tests tools install check stress demo bench dkms-check dkms-install dkms-remove debug-kernel
