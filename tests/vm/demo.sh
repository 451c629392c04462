#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=240 devices=nvme
#
# `make LLVM=1 demo`: loads the three modules and shows each doing its job.
. /tests/lib.sh

show() { echo; echo "### $*"; }

show "Kernel $(uname -r), $(nproc) CPUs"
lspci -k 2>/dev/null | grep -i -A1 'Class 0108' || grep -l 0x010802 /sys/bus/pci/devices/*/class

show "rust_nvme: binds to the NVMe controller and reads its registers"
must modprobe rust_nvme
dmesg | grep 'rust_nvme' | tail -n 3
ls /sys/bus/pci/drivers/rust_nvme | grep -E '^[0-9a-f]{4}:' | sed 's/^/bound: /'

show "rust_9p: listens on TCP port 564"
must modprobe rust_9p
dmesg | grep 'rust_9p' | tail -n 1
echo "127.0.0.1:564 state: $(tcp_state 564) (0A = LISTEN)"
nc -w 2 127.0.0.1 564 -e true && echo "a client connects"

show "rust_agx: registers a DRM render node"
must modprobe rust_agx
dmesg | grep 'rust_agx' | tail -n 1
ls -l /dev/dri
cat /sys/kernel/debug/dri/*/name

show "Loaded modules"
lsmod | grep -E '^(Module|rust_)'

show "Unloading"
must rmmod rust_agx rust_9p rust_nvme
dmesg | grep -E 'rust_(9p|agx)' | tail -n 2
echo "all three unloaded"
exit 0
