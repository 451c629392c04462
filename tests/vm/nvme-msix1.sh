#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=400 devices=nvme+msix_qsize=1
#
# A controller with a single MSI-X vector (msix_qsize=1): the admin queue and
# one I/O queue share it, and I/O from both CPUs completes through it.
. /tests/lib.sh

mark_log
must modprobe rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: I/O queues: 1 pairs of 1024 entries, 1 with interrupts \(1 MsiX vectors\), 0 polled \(2 granted for 2 CPUs and 0 polled\)'
wait_for /dev/rnvme0n1 30
fio_verify rnvme0n1 128m
must rmmod rust_nvme
expect_log 'rust_nvme [0-9a-f:.]+: controller shut down'
