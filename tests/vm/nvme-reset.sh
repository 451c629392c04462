#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=900 devices=nvme
#
# Recovery. Controller resets asked for through sysfs (reset_controller) and
# nvme-cli (NVME_IOCTL_RESET) while fio verify runs: every request in flight
# is requeued and sent again, fio's verify passes. Then fail_io_timeout
# drops completions, so requests time out: the driver aborts them, resets
# the controller when they time out again, and fio's verify still passes.
. /tests/lib.sh

must modprobe rust_nvme
wait_for /dev/rnvme0n1 30
ctrl=/sys/class/misc/rnvme0
wait_for $ctrl/reset_controller 10

# Idle reset, then I/O works.
mark_log
echo 1 > $ctrl/reset_controller || fail "reset_controller write failed"
expect_log 'rust_nvme [0-9a-f:.]+: controller reset: 0 requests requeued'
must nvme reset /dev/rnvme0
must dd if=/dev/rnvme0n1 of=/dev/null bs=1M count=4 iflag=direct

# Resets during fio verify on both namespaces.
mark_log
fio_verify rnvme0n1 128m &
p1=$!
fio_verify rnvme0n2 128m &
p2=$!
for i in 1 2 3 4; do
	sleep 4
	echo 1 > $ctrl/reset_controller || fail "reset $i failed"
done
wait $p1 || fail "fio verify on rnvme0n1 failed across resets"
wait $p2 || fail "fio verify on rnvme0n2 failed across resets"
n=$(dmesg | tail -n +$((LOG_MARK + 1)) | grep -c 'controller reset: ')
req=$(dmesg | tail -n +$((LOG_MARK + 1)) | sed -n 's/.*controller reset: \([0-9]*\) requests requeued.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
echo "resets during fio: $n, requests requeued: $req"
[ "$n" -ge 4 ] || fail "$n resets logged, want 4"
log_has 'requests requeued, [1-9][0-9]* failed' && fail "a request failed across a reset"

# Timeouts: one completion in ten dropped, ten times; requests time out
# after 2 s instead of 30.
fi=/sys/kernel/debug/fail_io_timeout
[ -d $fi ] || fail "no $fi (CONFIG_FAIL_IO_TIMEOUT)"
echo 10 > $fi/probability
echo 10 > $fi/times
echo 0 > $fi/verbose
echo 1 > /sys/block/rnvme0n1/io-timeout-fail
echo 2000 > /sys/block/rnvme0n1/queue/io_timeout
mark_log
fio_verify rnvme0n1 64m
[ "$(cat $fi/times)" = 0 ] || fail "only $((10 - $(cat $fi/times))) of 10 timeouts injected"
expect_log 'rust_nvme [0-9a-f:.]+: I/O tag [0-9]+ \(queue [0-9]+, command id 0x[0-9a-f]+\) timed out: aborting it'
expect_log 'rust_nvme [0-9a-f:.]+: resetting controller \(I/O tag [0-9]+ \(queue [0-9]+\) timed out again after its abort\)'
# The request whose completion was dropped is still in flight at the reset.
expect_log 'rust_nvme [0-9a-f:.]+: controller reset: [1-9][0-9]* requests requeued, 0 failed'
log_has 'requests requeued, [1-9][0-9]* failed' && fail "a request failed across a reset"
echo "timeouts: $(dmesg | tail -n +$((LOG_MARK + 1)) | grep -c 'aborting it') aborted, $(dmesg | tail -n +$((LOG_MARK + 1)) | grep -c 'controller reset: ') resets"
echo 0 > /sys/block/rnvme0n1/io-timeout-fail
must rmmod rust_nvme
