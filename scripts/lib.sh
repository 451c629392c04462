# SPDX-License-Identifier: GPL-2.0
# Shared settings for the suite's scripts. Sourced, never run.

SUITE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Built kernel trees and tools live outside the repository so that every
# clone, CI run and later session on this machine reuses them.
CACHE_DIR=${RUST_SUITE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-driver-suite}
TOOLS_DIR=$CACHE_DIR/tools
LLVM_DIR=/usr/lib/llvm-22
# The kernel needs rustc/rustdoc with rust-src; Debian's live in /usr/bin,
# rustup's (first in PATH on these machines) have none.
KERNEL_PATH=$LLVM_DIR/bin:/usr/bin:$TOOLS_DIR/bin:$PATH:$HOME/.cargo/bin

log() { printf '[suite] %s\n' "$*" >&2; }
die() { printf '[suite] error: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

bindgen_ok() {
	local v
	[ -x "$TOOLS_DIR/bin/bindgen" ] || return 1
	v=$("$TOOLS_DIR/bin/bindgen" --version 2>/dev/null | awk '{print $2}')
	version_ge "$v" "${BINDGEN_MIN:-0.71.1}"
}
