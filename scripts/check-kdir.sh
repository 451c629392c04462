#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: check-kdir.sh KDIR LLVM
#
# Says clearly why a kernel tree cannot build the suite, instead of letting
# the build fail with a wall of compiler errors.
set -euo pipefail

kdir=$1
llvm=${2:-}
fail() { printf 'rust-driver-suite: %s\n' "$*" >&2; exit 1; }

[ -n "$kdir" ] && [ -d "$kdir" ] || fail "no kernel tree at '$kdir' (KDIR=)"
conf=$kdir/include/config/auto.conf
[ -f "$conf" ] || fail "$kdir is not a configured and built kernel tree (no include/config/auto.conf)"
grep -qx 'CONFIG_RUST=y' "$conf" || fail "$kdir was built without CONFIG_RUST=y; the suite is Rust"
[ -f "$kdir/rust/libkernel.rmeta" ] || fail "$kdir has CONFIG_RUST=y but the kernel crate is not built: run 'make LLVM=1' there first"
[ -f "$kdir/rust/bindings/.bindings_generated.rs.cmd" ] || fail "$kdir lacks rust/bindings/.bindings_generated.rs.cmd, from which the suite's bindgen flags are read"
if grep -qx 'CONFIG_CC_IS_CLANG=y' "$conf" && [ -z "$llvm" ]; then
	fail "$kdir was built with LLVM; build the suite with 'make LLVM=1' too"
fi

# auto.conf has these unquoted (kernels before 6.x quoted them).
conf_text() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$conf"; }
want=$(conf_text CONFIG_RUSTC_VERSION_TEXT)
have=$(rustc --version 2>/dev/null || echo "no rustc in PATH")
if [ "$want" != "$have" ]; then
	fail "$kdir was built with '$want' but the rustc in PATH is '$have' ($(command -v rustc || true)); modules must be built with the same compiler (put its directory first in PATH)"
fi
want=$(conf_text CONFIG_BINDGEN_VERSION_TEXT)
if [ -n "$want" ]; then
	have=$(bindgen --version 2>/dev/null || echo "no bindgen in PATH")
	[ "$want" = "$have" ] || fail "$kdir was built with '$want' but the bindgen in PATH is '$have'"
fi
exit 0
