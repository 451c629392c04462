# SPDX-License-Identifier: GPL-2.0
# Helpers for the VM test scripts (sourced).

set -u

fail() {
	echo "RSUITE-FAIL: $*"
	exit 1
}

# Runs a command that must succeed.
must() {
	"$@" || fail "command failed ($?): $*"
}

# Runs a command that must fail.
must_fail() {
	if "$@"; then fail "command succeeded but should not have: $*"; fi
}

# Succeeds if the kernel log, since the last mark_log, matches the pattern.
LOG_MARK=0
mark_log() { LOG_MARK=$(dmesg | wc -l); }
log_has() { dmesg | tail -n +$((LOG_MARK + 1)) | grep -qE "$1"; }
expect_log() { log_has "$1" || { dmesg | tail -n 20; fail "kernel log lacks /$1/"; }; }
# The last $2 (default 1) kernel log lines matching $1, without timestamps.
log_last() { dmesg | grep -E "$1" | tail -n "${2:-1}" | sed 's/^\[[ 0-9.]*\] //'; }

# Waits up to $2 seconds (default 10) for a path to exist.
wait_for() {
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -gt $((${2:-10} * 10)) ] && fail "timed out waiting for $1"
		sleep 0.1
	done
}

# The state of a local TCP port in /proc/net/tcp ("0A" is LISTEN), or nothing.
tcp_state() {
	port=$(printf '%04X' "$1")
	awk -v p=":$port" '$2 ~ p"$" { print $4 }' /proc/net/tcp | head -n 1
}
