#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make LLVM=1 check`: the host tests, then the VM tests on the debug kernel.
# Prints a line per test and, last, "N passed, N failed"; exits non-zero on
# any failure. Provisions and builds whatever is missing first.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SUITE_ROOT"

passed=0
failed=0
t0=$(date +%s)

# --- Host tests (cargo, the caller's toolchain) -------------------------------------
# rustup's cargo, where a non-login environment lacks it in PATH.
command -v cargo >/dev/null || export PATH=$HOME/.cargo/bin:$PATH
log "host tests (cargo test in host/)"
host_out=$(mktemp)
(cd host && cargo test --no-fail-fast 2>&1) > "$host_out"
host_rc=$?
while IFS= read -r line; do
	case $line in
	"test "*" ... ok")      passed=$((passed + 1)); echo "PASS host/${line#test }" | sed 's/ \.\.\. ok$//' ;;
	"test "*" ... FAILED")  failed=$((failed + 1)); echo "FAIL host/${line#test }" | sed 's/ \.\.\. FAILED$//' ;;
	esac
done < "$host_out"
if [ $host_rc -ne 0 ] && ! grep -q ' \.\.\. FAILED$' "$host_out"; then
	# It did not get as far as running tests: a build error.
	cat "$host_out"
	echo "FAIL host/build (cargo test exited $host_rc)"
	failed=$((failed + 1))
fi
rm -f "$host_out"

# Script tests (tests/host/*.sh print PASS/FAIL lines themselves).
for t in tests/host/*.sh; do
	while IFS= read -r line; do
		echo "$line"
		case $line in
		PASS*) passed=$((passed + 1)) ;;
		FAIL*) failed=$((failed + 1)) ;;
		esac
	done < <(bash "$t" 2>&1)
done

# The static tools the VMs run (fsx, the hostile 9P client).
if scripts/build-vm-tools.sh; then
	echo "PASS build/vm-tools"
	passed=$((passed + 1))
else
	echo "FAIL build/vm-tools (scripts/build-vm-tools.sh)"
	failed=$((failed + 1))
fi

# --- The debug kernel and the modules ---------------------------------------------
export PATH=$KERNEL_PATH
if [ -n "${KDIR:-}" ]; then
	kdir=$KDIR
elif ! kdir=$(scripts/provision-kernel.sh debug); then
	echo "FAIL build/kernel (provisioning the debug kernel failed)"
	failed=$((failed + 1))
	kdir=
fi
if [ -n "$kdir" ]; then
	log "kernel tree: $kdir"
	if scripts/check-kdir.sh "$kdir" 1 && make -s -C "$kdir" M="$SUITE_ROOT" LLVM=1 SUITE_TEST_MODULES=1 modules; then
		echo "PASS build/modules"
		passed=$((passed + 1))
		counts=$(mktemp)
		scripts/vm.py test --kdir "$kdir" --counts "$counts"
		if read -r p f < "$counts"; then
			passed=$((passed + p))
			failed=$((failed + f))
		else
			echo "FAIL vm/harness (the VM harness did not run)"
			failed=$((failed + 1))
		fi
		rm -f "$counts"
	else
		echo "FAIL build/modules"
		failed=$((failed + 1))
	fi
fi

log "check took $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
