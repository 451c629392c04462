#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=400 devices=nvme
#
# poll_queues: with a controller offering 4 queue pairs and 2 CPUs,
# poll_queues=1 gives 2 interrupt-driven queues and 1 polled one; the disks
# allow polled I/O, and fio verify with io_uring hipri (polled completions)
# passes.
. /tests/lib.sh

mark_log
must modprobe rust_nvme poll_queues=1
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 3 pairs of 1024 entries, 2 with interrupts \(2 MsiX vectors\), 1 polled \(3 granted for 2 CPUs and 1 polled\)'
wait_for /dev/rnvme0n2 30
[ "$(cat /sys/block/rnvme0n2/queue/io_poll)" = 1 ] || fail "rnvme0n2: io_poll is off"
# The polled hardware queue is the third one.
[ "$(ls /sys/block/rnvme0n2/mq | wc -l)" = 3 ] || fail "rnvme0n2: $(ls /sys/block/rnvme0n2/mq | wc -l) hardware queues"
fio_verify rnvme0n2 128m --hipri
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
