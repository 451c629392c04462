#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Usage: fuzz-9p.sh [SECONDS]
#
# Fuzzes rust_9p's 9P2000.L codec (rust_9p/proto.rs, built by host/p9) with
# the cargo-fuzz target host/fuzz/fuzz_targets/decode.rs for SECONDS
# (default 60), and prints how many inputs it ran. Installs cargo-fuzz into
# the cargo home if it is missing. Exits non-zero if the fuzzer finds a crash
# (the input is left in host/fuzz/artifacts/decode/).
#
# The toolchain is the stable one: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# -Z flags. No sanitizer: the codec is safe Rust, so what ASan would catch
# cannot happen; panics and overflows (overflow checks are on) are crashes.
set -eu

secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "fuzz-9p: SECONDS must be a number, not '$secs'" >&2; exit 2 ;; esac

# rustup's cargo first: the fuzz build wants its toolchain, not Debian's.
export PATH=$HOME/.cargo/bin:$PATH
if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz-9p: installing cargo-fuzz"
	cargo install --locked cargo-fuzz --version 0.13.2
fi

cd "$(dirname "$0")/../host/fuzz"
mkdir -p corpus/decode
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "fuzz-9p: building and fuzzing the 9P decoders for ${secs}s"
rc=0
RUSTC_BOOTSTRAP=1 cargo fuzz run --release --debug-assertions --sanitizer none \
	decode corpus/decode -- -max_total_time="$secs" -print_final_stats=1 \
	>"$log" 2>&1 || rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$log" >&2
	echo "fuzz-9p: FAILED (exit $rc) after ${runs:-?} executions; crash inputs in host/fuzz/artifacts/decode/" >&2
	exit 1
fi
if [ -z "$runs" ]; then
	tail -n 40 "$log" >&2
	echo "fuzz-9p: the fuzzer ran but printed no execution count" >&2
	exit 1
fi
echo "fuzz-9p: $runs executions in ${secs}s, no crash (corpus: $(ls corpus/decode | wc -l) inputs)"
