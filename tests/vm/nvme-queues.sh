#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=400 devices=nvme+max_ioqpairs=1
#
# A controller that grants fewer I/O queues than there are CPUs (one, for two
# CPUs): rust_nvme carries on with what it is granted, I/O from both CPUs
# goes through the one queue, and it tears it down. io_queue_depth sets the
# queue depth and poll_queues the polled queues (none here: the one queue
# keeps interrupts); values out of range are refused at load with a message.
. /tests/lib.sh

for bad in 0 1 4096 100000; do
	mark_log
	must_fail modprobe rust_nvme io_queue_depth=$bad
	expect_log "rust_nvme: io_queue_depth=$bad is out of range: give 2-4095"
	lsmod | grep -q '^rust_nvme ' && fail "loaded with io_queue_depth=$bad"
done

for bad in 65 1000; do
	mark_log
	must_fail modprobe rust_nvme poll_queues=$bad
	expect_log "rust_nvme: poll_queues=$bad is out of range: give 0-64"
done

mark_log
must modprobe rust_nvme poll_queues=1
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 1024 entries, 1 with interrupts \(1 MsiX vectors\), 0 polled \(1 granted for 2 CPUs and 1 polled\)'
wait_for /dev/rnvme0n1 30
[ "$(cat /sys/block/rnvme0n1/mq/0/cpu_list)" = "0, 1" ] || fail "hardware queue 0 serves CPUs '$(cat /sys/block/rnvme0n1/mq/0/cpu_list)'"
fio_verify rnvme0n1 128m
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'

mark_log
must modprobe rust_nvme io_queue_depth=64
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 64 entries, 1 with interrupts'
[ "$(cat /sys/block/rnvme0n1/queue/nr_requests)" = 63 ] || fail "nr_requests $(cat /sys/block/rnvme0n1/queue/nr_requests), want 63"
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
log_has 'rust_nvme .*(failed|timed out|not created)' && fail "an admin command failed"
exit 0
