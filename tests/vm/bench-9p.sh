#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=3000 mem=4096
#
# The benchmark of `make LLVM=1 bench-9p` (not a test): the same export on
# tmpfs served by diod (userspace, 16 threads), then by rust_9p, in each of
# ROUNDS rounds, mounted by the v9fs client with the same options
# (msize 512K, cache=none, access=user): sequential read and write of
# 1 GiB, 4K random reads with 4 jobs, and create+stat+unlink of FILES
# (10000) files. Prints RSUITE-BENCH (fio terse) and RSUITE-VALUE lines for
# scripts/vm.py to tabulate.
. /tests/lib.sh

ROUNDS=${ROUNDS:-3}
FILES=${FILES:-10000}
OPTS=trans=tcp,version=9p2000.L,msize=524288,cache=none,access=user,uname=root,aname=/export

# diod names its peers (getnameinfo): from /etc/hosts, not a DNS that
# is not there.
echo '127.0.0.1 localhost' > /etc/hosts
echo 'hosts: files' > /etc/nsswitch.conf
mkdir -p /export /mnt/9p
must mount -t tmpfs -o mode=0755,size=3g tmpfs /export
must dd if=/dev/urandom of=/export/big bs=1M count=1024 2>/dev/null

start() {
	case $1 in
	diod)
		diod -f -n -c /dev/null -L /tmp/diod.log -t 16 -e /export -l 127.0.0.1:5650 &
		echo $! > /tmp/diod.pid
		port=5650
		i=0
		while [ "$(tcp_state 5650)" != 0A ]; do
			i=$((i + 1))
			[ $i -gt 200 ] && fail "diod does not listen on 5650: $(cat /tmp/diod.log)"
			sleep 0.1
		done ;;
	rust_9p)
		must modprobe rust_9p export=/export port=5640
		port=5640 ;;
	esac
	mount -t 9p -o "$OPTS,port=$port" 127.0.0.1 /mnt/9p ||
		fail "cannot mount $1: $(cat /tmp/diod.log 2>/dev/null)"
}

stop() {
	must umount /mnt/9p
	case $1 in
	diod) kill "$(cat /tmp/diod.pid)"; wait "$(cat /tmp/diod.pid)" 2>/dev/null ;;
	rust_9p) must rmmod rust_9p ;;
	esac
}

fio_point() {
	r=$1 s=$2 point=$3; shift 3
	line=$(fio --name=p --output-format=terse --terse-version=3 --ioengine=psync "$@" | tail -n 1)
	echo "RSUITE-BENCH $r $s tmpfs $point $line"
}

# Centiseconds since boot (busybox date has no %N).
now_cs() { read -r up _ < /proc/uptime; echo "${up%.*}${up#*.}"; }

meta_point() {
	r=$1 s=$2
	mkdir /mnt/9p/meta
	t0=$(now_cs)
	(cd /mnt/9p/meta && seq "$FILES" | sed 's/^/f/' | xargs touch && \
		seq "$FILES" | sed 's/^/f/' | xargs stat -c %s > /dev/null && \
		seq "$FILES" | sed 's/^/f/' | xargs rm) || fail "metadata run failed"
	t1=$(now_cs)
	rmdir /mnt/9p/meta
	echo "RSUITE-VALUE $r $s tmpfs create+stat+unlink-$FILES $((FILES * 100 / (t1 - t0 + 1))) files/s"
}

r=1
while [ $r -le "$ROUNDS" ]; do
	for s in diod rust_9p; do
		start $s
		fio_point $r $s seq-read-1g --rw=read --bs=512k --size=1g --filename=/mnt/9p/big
		fio_point $r $s seq-write-1g --rw=write --bs=512k --size=1g --filename=/mnt/9p/w
		rm -f /mnt/9p/w
		fio_point $r $s rand4k-read-4j --rw=randread --bs=4k --size=1g --filename=/mnt/9p/big \
			--numjobs=4 --runtime=5 --time_based --group_reporting
		meta_point $r $s
		stop $s
	done
	r=$((r + 1))
done
exit 0
