#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: provision-kernel.sh debug|perf [--lookup]
#
# Prints the path of a built CONFIG_RUST kernel tree of the given flavor,
# building it first if the cache has none (with --lookup: failing instead). The cache key is the kernel
# version, the config fragments and the toolchain versions, so a warm cache
# makes this a no-op, and any change that matters makes a new tree.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavor=${1:-debug}
lookup=${2:-}
case $flavor in debug|perf) ;; *) die "unknown kernel flavor '$flavor' (debug or perf)";; esac
frag_dir=$SUITE_ROOT/scripts/kconfig

cache_key() {
	{
		cat "$frag_dir/base.config" "$frag_dir/$flavor.config"
		cat "$1/.suite-unpacked"
		/usr/bin/rustc --version 2>/dev/null || true
		"$LLVM_DIR/bin/clang" --version 2>/dev/null | head -n1 || true
		"$TOOLS_DIR/bin/bindgen" --version 2>/dev/null || true
	} | sha256sum | cut -c1-12
}

# Fast path: a warm cache answers without touching the network or apt.
for stamp in "$CACHE_DIR"/src/*/.suite-unpacked; do
	[ -f "$stamp" ] || break
	src=$(dirname "$stamp")
	out=$CACHE_DIR/build/$(basename "$src")-$flavor-$(cache_key "$src")
	if [ -f "$out/.suite-built" ]; then
		echo "$out"
		exit 0
	fi
done
[ "$lookup" = --lookup ] && exit 1

"$SUITE_ROOT/scripts/install-deps.sh"
src=$("$SUITE_ROOT/scripts/fetch-kernel.sh")
out=$CACHE_DIR/build/$(basename "$src")-$flavor-$(cache_key "$src")
if [ -f "$out/.suite-built" ]; then
	echo "$out"
	exit 0
fi

export PATH=$KERNEL_PATH
kmake() { make -s -C "$src" O="$out" LLVM=1 "$@"; }

mkdir -p "$out"
log "building the $flavor kernel in $out (a cold build takes about 10 minutes)"
start=$(date +%s)
if ! kmake rustavailable >/dev/null 2>&1; then
	kmake rustavailable || true
	die "the Rust toolchain is not usable for this kernel (see above)"
fi
if [ ! -f "$out/.config" ]; then
	kmake allnoconfig >/dev/null
	KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "$frag_dir/base.config" "$frag_dir/$flavor.config" >/dev/null
	kmake olddefconfig >/dev/null
	# Every option the fragments ask for must have stuck: a misspelt option or
	# an unmet dependency would otherwise be silently dropped.
	bad=$(grep -hE '^(# )?CONFIG_' "$frag_dir/base.config" "$frag_dir/$flavor.config" |
		python3 "$SUITE_ROOT/scripts/check-kconfig.py" "$out/.config")
	if [ -n "$bad" ]; then
		rm -f "$out/.config"
		die "config options did not take effect:
$bad"
	fi
fi
jobs=$(( $(nproc) + 1 ))
kmake -j"$jobs" all
# Not built by `all`: what `make rustdoc` links against.
echo "$(date +%s) $start" > "$out/.suite-built"
log "built the $flavor kernel in $(( $(date +%s) - start )) s"
# Keep this tree and the newest other one of the flavor (about 3 GB each).
{ ls -1dt "$CACHE_DIR"/build/*-"$flavor"-* 2>/dev/null | grep -vxF "$out" || true; } | tail -n +2 |
	while read -r old; do log "removing the stale tree $old"; rm -rf "$old"; done
echo "$out"
