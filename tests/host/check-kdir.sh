#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/check-kdir.sh must refuse an unsuitable KDIR or toolchain with a
# message that says what is wrong. Prints PASS/FAIL lines like `make check`.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
check=$here/scripts/check-kdir.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# expect NAME EXPECTED-MESSAGE-REGEX KDIR [LLVM]
expect() {
	local name=$1 want=$2
	shift 2
	local out
	if out=$(PATH=$tmp/bin:$PATH "$check" "$@" 2>&1); then
		echo "FAIL host/check-kdir/$name (accepted)"
		failed=$((failed + 1))
	elif ! grep -qE "$want" <<<"$out"; then
		echo "FAIL host/check-kdir/$name (message: $out)"
		failed=$((failed + 1))
	else
		echo "PASS host/check-kdir/$name"
	fi
}

# A fake tree and a fake toolchain, as the checks see them.
tree() {
	rm -rf "$tmp/k" && mkdir -p "$tmp/k/include/config" "$tmp/k/rust/bindings"
	printf '%s\n' "$@" > "$tmp/k/include/config/auto.conf"
	touch "$tmp/k/rust/libkernel.rmeta" "$tmp/k/rust/bindings/.bindings_generated.rs.cmd"
}
mkdir -p "$tmp/bin"
printf '#!/bin/sh\necho "rustc 1.96.0 (test)"\n' > "$tmp/bin/rustc"
printf '#!/bin/sh\necho "bindgen 0.73.2"\n' > "$tmp/bin/bindgen"
chmod +x "$tmp/bin/rustc" "$tmp/bin/bindgen"

expect missing-dir 'no kernel tree' "$tmp/nowhere" 1
mkdir -p "$tmp/empty"
expect not-built 'not a configured and built kernel tree' "$tmp/empty" 1
tree CONFIG_CC_IS_CLANG=y
expect no-rust 'without CONFIG_RUST=y' "$tmp/k" 1
tree CONFIG_RUST=y && rm "$tmp/k/rust/libkernel.rmeta"
expect kernel-crate-unbuilt 'kernel crate is not built' "$tmp/k" 1
tree CONFIG_RUST=y CONFIG_CC_IS_CLANG=y 'CONFIG_RUSTC_VERSION_TEXT=rustc 1.96.0 (test)'
expect llvm-missing "build the suite with 'make LLVM=1'" "$tmp/k" ""
tree CONFIG_RUST=y 'CONFIG_RUSTC_VERSION_TEXT=rustc 1.85.0 (other)'
expect other-rustc "built with 'rustc 1.85.0 \(other\)' but the rustc in PATH is 'rustc 1.96.0 \(test\)'" "$tmp/k" 1
tree CONFIG_RUST=y 'CONFIG_RUSTC_VERSION_TEXT=rustc 1.96.0 (test)' 'CONFIG_BINDGEN_VERSION_TEXT=bindgen 0.71.1'
expect other-bindgen "built with 'bindgen 0.71.1'" "$tmp/k" 1

# And a fitting tree is accepted.
tree CONFIG_RUST=y CONFIG_CC_IS_CLANG=y 'CONFIG_RUSTC_VERSION_TEXT=rustc 1.96.0 (test)' 'CONFIG_BINDGEN_VERSION_TEXT=bindgen 0.73.2'
if PATH=$tmp/bin:$PATH "$check" "$tmp/k" 1; then
	echo "PASS host/check-kdir/accepts-fitting-tree"
else
	echo "FAIL host/check-kdir/accepts-fitting-tree"
	failed=$((failed + 1))
fi
exit $((failed > 0))
