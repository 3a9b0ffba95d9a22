# SPDX-License-Identifier: GPL-2.0
#
# Shared by the scripts under scripts/: where things are, and how to build
# the module and the tests for one target kernel.  Source it; do not run it.

XKSM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XKSM_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/xksm
XKSM_BUILD=${XKSM_BUILD:-$XKSM_TOP/build}
# The shared folder CI places beside the checkout (prebuilt debug kernel).
XKSM_SHARED=${XKSM_SHARED:-$XKSM_TOP/../shared}

. "$XKSM_TOP/scripts/kernels.conf"

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# xksm_debug_root: where the debug kernel's packages are unpacked, unpacking
# them on first use from ../shared/kernels/ or from what
# scripts/build-debug-kernel left in the cache.
xksm_debug_root()
{
	local root=$XKSM_CACHE/kernels/$XKSM_KREL_debug deb stamp
	stamp=$root/.unpacked
	if [ ! -f "$stamp" ]; then
		local debs=()
		for deb in "$XKSM_SHARED"/kernels/linux-{image,headers}-"$XKSM_KREL_debug"_*.deb \
			   "$XKSM_CACHE"/debug-kernel/linux-{image,headers}-"$XKSM_KREL_debug"_*.deb; do
			[ -f "$deb" ] && debs+=("$deb")
		done
		[ ${#debs[@]} -ge 2 ] ||
			die "no debug kernel packages: run scripts/build-debug-kernel (about 45 minutes)"
		rm -rf "$root"
		mkdir -p "$root"
		for deb in "${debs[@]:0:2}"; do
			dpkg-deb -x "$deb" "$root" || die "cannot unpack $deb"
		done
		touch "$stamp"
	fi
	printf '%s\n' "$root"
}

# xksm_target NAME: set T_NAME, T_KREL (release), T_KDIR (build tree),
# T_VMLINUZ, T_MODROOT (where the kernel's own modules are) and T_DEBUG for a
# target: "6.1", "6.12", "debug", or a release string of one of them.
xksm_target()
{
	local t root
	T_DEBUG=0
	for t in $XKSM_TARGETS debug; do
		if [ "$1" = "$t" ] || [ "$1" = "$(xksm_target_var "$t" KREL)" ]; then
			T_NAME=$t
			T_KREL=$(xksm_target_var "$t" KREL)
			if [ "$t" = debug ]; then
				root=$(xksm_debug_root) || exit 1
				T_DEBUG=1
				T_KDIR=$root/usr/src/linux-headers-$T_KREL
				T_VMLINUZ=$root/boot/vmlinuz-$T_KREL
				T_MODROOT=$root
			else
				T_KDIR=/lib/modules/$T_KREL/build
				T_VMLINUZ=/boot/vmlinuz-$T_KREL
				T_MODROOT=
			fi
			[ -d "$T_KDIR" ] || die "no headers for $T_KREL at $T_KDIR: run 'make deps'"
			[ -f "$T_VMLINUZ" ] || die "no kernel image $T_VMLINUZ: run 'make deps'"
			return 0
		fi
	done
	die "unknown kernel '$1' (known: $XKSM_TARGETS debug)"
}

# xksm_build_module: build xksm.ko for the current target in its own copy of
# the sources under build/<target>/ (Kbuild builds in the source tree, and
# the targets must not share objects).  Prints the path of the module.
xksm_build_module()
{
	local dir=$XKSM_BUILD/$T_NAME/module
	mkdir -p "$dir"
	# Mirror the sources, keeping timestamps so that rebuilds are
	# incremental; drop files that no longer exist.
	(cd "$XKSM_TOP" && find Kbuild dkms.conf module include -type f) | sort > "$dir/.want"
	(cd "$dir" && find module include -type f -name '*.[ch]' 2>/dev/null) | sort |
		comm -13 "$dir/.want" - | (cd "$dir" && xargs -r rm -f)
	(cd "$XKSM_TOP" && cp -a --parents $(cat "$dir/.want") "$dir/")
	# Clean with W=1 is a rule, not a hope: any warning fails the build.
	make -s -C "$T_KDIR" M="$dir" W=1 modules > "$dir/build.log" 2>&1
	local rc=$?
	cat "$dir/build.log" >&2
	[ "$rc" -eq 0 ] || die "module build failed for $T_KREL"
	! grep -qi 'warning' "$dir/build.log" ||
		die "module build for $T_KREL has warnings (W=1): see above"
	printf '%s\n' "$dir/xksm.ko"
}

# xksm_build_tests: build the guest test programs (static, so that the guest
# needs no libraries).  Prints the directory that holds them.
xksm_build_tests()
{
	make -s -C "$XKSM_TOP" tests BUILD="$XKSM_BUILD" >&2 || die "test build failed"
	printf '%s\n' "$XKSM_BUILD/tests"
}

# xksm_build_selftests: the kernel's KSM selftests, built from Debian's
# linux-source-6.12 (scripts/build-selftests).  Prints their directory.
xksm_build_selftests()
{
	"$XKSM_TOP/scripts/build-selftests" || die "building the kernel's selftests failed"
}

# xksm_copy_libs ROOT PROGRAM...: copy the shared libraries the dynamically
# linked PROGRAMs need (and the dynamic loader) from the host into the
# guest's root ROOT, at the same paths.  Static programs need nothing.
xksm_copy_libs()
{
	local root=$1 lib
	shift
	# ldd's lines for libraries start with a tab; "name => /path (addr)".
	for lib in $(ldd "$@" 2>/dev/null |
		     awk '/^\t/ { for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' |
		     sort -u); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# xksm_ensure_deps: on a fresh machine, install the dependencies first (as
# root), so that make demo and make check are the only commands needed.
xksm_ensure_deps()
{
	"$XKSM_TOP/scripts/install-deps" --check > /dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "dependencies are missing: run 'sudo make deps' first"
	note "installing dependencies first (scripts/install-deps)"
	"$XKSM_TOP/scripts/install-deps" >&2 || die "installing dependencies failed"
}
