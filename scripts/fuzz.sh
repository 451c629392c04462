#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: fuzz.sh TARGET [SECONDS]
#
# Runs the cargo-fuzz target host/fuzz/fuzz_targets/TARGET.rs for SECONDS
# (default 60), and prints how many inputs it ran. Targets: decode (rust_9p's
# 9P2000.L codec, rust_9p/proto.rs), agx_cmdbuf (rust_agx's command-buffer
# parser, rust_agx/fw/cmd.rs). Installs cargo-fuzz into the cargo home if it
# is missing. Exits non-zero if the fuzzer finds a crash (the input is left
# in host/fuzz/artifacts/TARGET/).
#
# The toolchain is the stable one: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# -Z flags. No sanitizer: the codec is safe Rust, so what ASan would catch
# cannot happen; panics and overflows (overflow checks are on) are crashes.
set -eu

target=${1:?usage: fuzz.sh TARGET [SECONDS]}
secs=${2:-60}
[ -e "$(dirname "$0")/../host/fuzz/fuzz_targets/$target.rs" ] || { echo "fuzz: no target $target" >&2; exit 2; }
case $secs in '' | *[!0-9]*) echo "fuzz: SECONDS must be a number, not '$secs'" >&2; exit 2 ;; esac

# rustup's cargo first: the fuzz build wants its toolchain, not Debian's.
export PATH=$HOME/.cargo/bin:$PATH
if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz: installing cargo-fuzz"
	cargo install --locked cargo-fuzz --version 0.13.2
fi

cd "$(dirname "$0")/../host/fuzz"
mkdir -p "corpus/$target"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "fuzz: building and fuzzing $target for ${secs}s"
rc=0
RUSTC_BOOTSTRAP=1 cargo fuzz run --release --debug-assertions --sanitizer none \
	"$target" "corpus/$target" -- -max_total_time="$secs" -print_final_stats=1 \
	>"$log" 2>&1 || rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$log" >&2
	echo "fuzz: FAILED (exit $rc) after ${runs:-?} executions; crash inputs in host/fuzz/artifacts/$target/" >&2
	exit 1
fi
if [ -z "$runs" ]; then
	tail -n 40 "$log" >&2
	echo "fuzz: the fuzzer ran but printed no execution count" >&2
	exit 1
fi
echo "fuzz: $runs executions in ${secs}s, no crash (corpus: $(ls "corpus/$target" | wc -l) inputs)"
