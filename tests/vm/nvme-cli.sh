#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=300 devices=nvme
#
# nvme-cli through rust_nvme's character device /dev/rnvme0 (the admin
# passthrough ioctls): id-ctrl and id-ns agree byte for byte with what the
# C driver's /dev/nvme0 gives on the same device, smart-log works. I/O
# passthrough (nvme io-passthru -n): Write and Read commands agree with the
# block devices, a read past the end gets the device's status. The block
# devices take the same ioctls, and NVME_IOCTL_ID and SUBMIT_IO. Commands
# that would take the driver's queues, oversized transfers, bad namespaces
# and unprivileged callers are refused with an error.
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

# I/O passthrough. Write 4 KiB (8 blocks: NLB 7) at LBA 2048 of namespace
# 1, read it through the disk; write 8 KiB through the disk at LBA 4096 of
# namespace 2 (4 KiB blocks), read it back with the Read command (NLB 1).
must dd if=/dev/urandom of=/tmp/w bs=4096 count=1 2>/dev/null
must nvme io-passthru /dev/rnvme0 -n 1 --opcode=0x01 --data-len=4096 -w -i /tmp/w --cdw10=2048 --cdw12=7
dd if=/dev/rnvme0n1 bs=512 skip=2048 count=8 iflag=direct 2>/dev/null | cmp -s - /tmp/w ||
	fail "data written by io-passthru differs on rnvme0n1"
must dd if=/dev/urandom of=/tmp/w2 bs=8192 count=1 2>/dev/null
must dd if=/tmp/w2 of=/dev/rnvme0n2 bs=4096 seek=4096 oflag=direct conv=notrunc 2>/dev/null
nvme io-passthru /dev/rnvme0 -n 2 --opcode=0x02 --data-len=8192 -r -b --cdw10=4096 --cdw12=1 > /tmp/r2 ||
	fail "io-passthru read on namespace 2 failed"
cmp -s /tmp/r2 /tmp/w2 || fail "data read by io-passthru differs from what rnvme0n2 wrote"
# Past the end (namespace 2 has 65536 blocks): the device's status, not data.
must_fail nvme io-passthru /dev/rnvme0 -n 2 --opcode=0x02 --data-len=4096 -r -b --cdw10=65536 --cdw12=0
# No such namespace; beyond the transfer limit.
must_fail nvme io-passthru /dev/rnvme0 -n 9 --opcode=0x02 --data-len=512 -r --cdw12=0
must_fail nvme io-passthru /dev/rnvme0 -n 1 --opcode=0x02 --data-len=1048576 -r --cdw12=2047
# A Flush with no data.
must nvme io-passthru /dev/rnvme0 -n 1 --opcode=0x00
echo "io-passthru: write, read, flush ok; bad namespace, size and LBA refused"

# The namespaces' block devices take the same ioctls, as the C driver's
# do: nvme-cli finds the NSID itself (NVME_IOCTL_ID) when no -n is given.
for ns in 1 2; do
	nvme id-ns /dev/rnvme0n$ns -o binary > /tmp/rb-ns$ns || fail "nvme id-ns on /dev/rnvme0n$ns failed"
	cmp -s /tmp/rb-ns$ns /tmp/r-ns$ns || fail "id-ns through rnvme0n$ns differs from /dev/rnvme0 -n $ns"
done
nvme id-ctrl /dev/rnvme0n2 -o binary > /tmp/rb-ctrl || fail "nvme id-ctrl on /dev/rnvme0n2 failed"
cmp -s /tmp/rb-ctrl /tmp/r-ctrl || fail "id-ctrl through rnvme0n2 differs"
# I/O commands go to the device's namespace (nvme-cli sends the NSID it is
# given, as with the C driver): the 8 KiB written above.
nvme io-passthru /dev/rnvme0n2 -n 2 --opcode=0x02 --data-len=8192 -r -b --cdw10=4096 --cdw12=1 > /tmp/rb2 ||
	fail "io-passthru read on /dev/rnvme0n2 failed"
cmp -s /tmp/rb2 /tmp/w2 || fail "io-passthru through rnvme0n2 read other data"
# nvme read and write (I/O commands from nvme-cli).
must nvme write /dev/rnvme0n1 -s 8192 -c 7 -z 4096 -d /tmp/w
dd if=/dev/rnvme0n1 bs=512 skip=8192 count=8 iflag=direct 2>/dev/null | cmp -s - /tmp/w ||
	fail "nvme write to rnvme0n1 differs on the disk"
nvme read /dev/rnvme0n2 -s 4096 -c 1 -z 8192 -d /tmp/rb3 || fail "nvme read on rnvme0n2 failed"
cmp -s /tmp/rb3 /tmp/w2 || fail "nvme read on rnvme0n2 read other data"
# NVME_IOCTL_SUBMIT_IO, which nvme-cli does not use: write, read back,
# compare (equal, then not), and a read past the end gets the status.
must dd if=/dev/urandom of=/tmp/w3 bs=4096 count=2 2>/dev/null
nvme-user-io /dev/rnvme0n2 write 100 2 4096 < /tmp/w3 || fail "SUBMIT_IO write failed"
nvme-user-io /dev/rnvme0n2 read 100 2 4096 > /tmp/r5 || fail "SUBMIT_IO read failed"
cmp -s /tmp/r5 /tmp/w3 || fail "SUBMIT_IO read other data than SUBMIT_IO wrote"
dd if=/dev/rnvme0n2 bs=4096 skip=100 count=2 iflag=direct 2>/dev/null | cmp -s - /tmp/w3 ||
	fail "SUBMIT_IO write differs on the disk"
nvme-user-io /dev/rnvme0n2 compare 100 2 4096 < /tmp/w3 || fail "SUBMIT_IO compare of equal data failed"
nvme-user-io /dev/rnvme0n2 compare 100 2 4096 < /tmp/w2
[ $? = 2 ] || fail "SUBMIT_IO compare of other data did not end with an NVMe status"
nvme-user-io /dev/rnvme0n2 read 65535 2 4096 > /dev/null
[ $? = 2 ] || fail "SUBMIT_IO read past the end did not end with an NVMe status"
# An unprivileged caller is refused.
chmod 666 /dev/rnvme0n1
su user1 -s /bin/sh -c 'nvme-user-io /dev/rnvme0n1 read 0 1 512' > /dev/null &&
	fail "SUBMIT_IO worked for an unprivileged user"
echo "block devices: id-ns, id-ctrl, io-passthru, read, write and SUBMIT_IO ok"

# Refused: deleting an I/O submission queue (the driver's own), a transfer
# beyond the bounce buffer, metadata; a user without CAP_SYS_ADMIN.
mark_log
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x00 --cdw10=1
expect_log 'rust_nvme [0-9a-f:.]+: passthrough admin command 0x0 refused'
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x06 --cdw10=1 --data-len=1048576 -r
must_fail nvme admin-passthru /dev/rnvme0 --opcode=0x06 --cdw10=1 --data-len=4096 --metadata-len=64 -r
chmod 666 /dev/rnvme0
su user1 -s /bin/sh -c 'nvme id-ctrl /dev/rnvme0' && fail "id-ctrl worked for an unprivileged user"
su user1 -s /bin/sh -c 'nvme io-passthru /dev/rnvme0 -n 1 --opcode=0x02 --data-len=512 -r' &&
	fail "io-passthru worked for an unprivileged user"
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
