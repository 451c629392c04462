#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=300 devices=nvme
#
# nvme-cli through rust_nvme's character device /dev/rnvme0 (the admin
# passthrough ioctls): id-ctrl and id-ns agree byte for byte with what the
# C driver's /dev/nvme0 gives on the same device, smart-log works. Commands
# that would take the driver's queues, oversized transfers and unprivileged
# callers are refused with an error.
. /tests/lib.sh

must modprobe rust_nvme
wait_for /dev/rnvme0 30
nvme id-ctrl /dev/rnvme0 -o binary > /tmp/r-ctrl || fail "nvme id-ctrl on /dev/rnvme0 failed"
nvme id-ctrl /dev/rnvme0 | grep -E '^(mn|sn|fr|mdts|nn) ' || fail "nvme id-ctrl printed no fields"
for ns in 1 2; do
	nvme id-ns /dev/rnvme0 -n $ns -o binary > /tmp/r-ns$ns || fail "nvme id-ns -n $ns on /dev/rnvme0 failed"
done
nvme smart-log /dev/rnvme0 > /tmp/r-smart || fail "nvme smart-log on /dev/rnvme0 failed"
grep -q '^critical_warning' /tmp/r-smart || { cat /tmp/r-smart; fail "smart-log lacks critical_warning"; }
echo "rust_nvme: id-ctrl $(wc -c < /tmp/r-ctrl) bytes, id-ns $(wc -c < /tmp/r-ns1) + $(wc -c < /tmp/r-ns2) bytes, smart-log ok"

# Refused: deleting an I/O submission queue (the driver's own), a transfer
# beyond the bounce buffer, metadata; a user without CAP_SYS_ADMIN.
mark_log
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x00 --cdw10=1
expect_log 'rust_nvme [0-9a-f:.]+: passthrough admin command 0x0 refused'
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x06 --cdw10=1 --data-len=1048576 -r
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x06 --cdw10=1 --data-len=4096 --metadata-len=64 -r
chmod 666 /dev/rnvme0
su user1 -s /bin/sh -c 'nvme id-ctrl /dev/rnvme0' && fail "id-ctrl worked for an unprivileged user"
# I/O still works after all this.
dd if=/dev/rnvme0n1 of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null || fail "read after passthrough failed"

must rmmod rust_nvme
[ -e /dev/rnvme0 ] && fail "/dev/rnvme0 still there after rmmod"
must modprobe nvme
wait_for /dev/nvme0 30
wait_for /dev/nvme0n2 30
nvme id-ctrl /dev/nvme0 -o binary > /tmp/c-ctrl || fail "nvme id-ctrl on /dev/nvme0 failed"
cmp /tmp/r-ctrl /tmp/c-ctrl || fail "id-ctrl differs between rust_nvme and nvme"
for ns in 1 2; do
	nvme id-ns /dev/nvme0 -n $ns -o binary > /tmp/c-ns$ns || fail "nvme id-ns -n $ns on /dev/nvme0 failed"
	cmp /tmp/r-ns$ns /tmp/c-ns$ns || fail "id-ns $ns differs between rust_nvme and nvme"
done
echo "id-ctrl and id-ns agree with the C driver"
must rmmod nvme
