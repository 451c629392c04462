# SPDX-License-Identifier: GPL-2.0
#
# The 9P tests' file-operation suite: every message the v9fs client sends,
# checked from the client (the mount) and from the server side (the export
# directory itself, when it is on this machine).

# Two users for the permission checks.
add_users() {
	grep -q '^alice:' /etc/passwd 2>/dev/null && return
	echo 'root:x:0:0::/root:/bin/sh' >> /etc/passwd
	echo 'alice:x:1000:1000::/tmp:/bin/sh' >> /etc/passwd
	echo 'bob:x:1001:1001::/tmp:/bin/sh' >> /etc/passwd
	printf 'root:x:0:\nalice:x:1000:\nbob:x:1001:\n' >> /etc/group
}

as() { u=$1; shift; su -s /bin/sh "$u" -c "$*"; }

# fsops MNT [EXPORT]: MNT is the 9P mount, EXPORT the exported directory
# as the server sees it (empty when the server is another machine).
fsops() {
	m=$1 e=$2
	d=$m/fsops.$$
	must mkdir "$d"
	[ -d "$d" ] || fail "mkdir $d did not make a directory"

	# write, read back (Twrite/Tread at offsets, several messages each)
	must dd if=/dev/urandom of=/tmp/data bs=64k count=40 2>/dev/null
	must cp /tmp/data "$d/data"
	[ "$(md5sum < "$d/data")" = "$(md5sum < /tmp/data)" ] || fail "data read back differs"
	if [ -n "$e" ]; then
		cmp /tmp/data "$e/fsops.$$/data" || fail "data on the export differs"
	fi
	[ "$(stat -c %s "$d/data")" = 2621440 ] || fail "size $(stat -c %s "$d/data")"
	# write at an offset inside the file, then append
	printf 'XYZ' | dd of="$d/data" bs=1 seek=100000 conv=notrunc 2>/dev/null
	[ "$(dd if="$d/data" bs=1 skip=100000 count=3 2>/dev/null)" = XYZ ] || fail "write at offset"
	echo tail >> "$d/data"
	[ "$(tail -c 5 "$d/data")" = tail ] || fail "append"
	# fsync
	must dd if=/dev/zero of="$d/synced" bs=4k count=4 conv=fsync 2>/dev/null

	# truncate (Tsetattr size), chmod, chown, times
	must truncate -s 1000 "$d/data"
	[ "$(stat -c %s "$d/data")" = 1000 ] || fail "truncate"
	must chmod 0640 "$d/data"
	[ "$(stat -c %a "$d/data")" = 640 ] || fail "chmod: $(stat -c %a "$d/data")"
	must chown 1000:1001 "$d/data"
	[ "$(stat -c %u:%g "$d/data")" = 1000:1001 ] || fail "chown: $(stat -c %u:%g "$d/data")"
	must touch -d '2001-02-03 04:05:06' "$d/data"
	[ "$(stat -c %Y "$d/data")" = "$(date -d '2001-02-03 04:05:06' +%s)" ] || fail "mtime"

	# readdir across several Rreaddir messages
	must mkdir "$d/many"
	i=0; while [ $i -lt 300 ]; do : > "$d/many/file-with-a-long-name-$i"; i=$((i + 1)); done
	[ "$(ls "$d/many" | wc -l)" = 300 ] || fail "readdir listed $(ls "$d/many" | wc -l) of 300"
	[ "$(ls -a "$d/many" | grep -c '^\.\.\?$')" = 2 ] || fail "readdir lacks . and .."

	# symlink, readlink, hard link
	must ln -s ../some/where "$d/sym"
	[ "$(readlink "$d/sym")" = ../some/where ] || fail "readlink"
	[ -L "$d/sym" ] || fail "symlink is not a symlink"
	must ln "$d/synced" "$d/hard"
	[ "$(stat -c %h "$d/synced")" = 2 ] || fail "link count $(stat -c %h "$d/synced")"

	# rename within a directory and across directories (Trenameat)
	must mv "$d/hard" "$d/hard2"
	must mv "$d/hard2" "$d/many/hard3"
	[ -f "$d/many/hard3" ] && [ ! -e "$d/hard2" ] || fail "rename"

	# mknod: a FIFO and a device node are created, never opened on the server
	must mkfifo "$d/fifo"
	[ -p "$d/fifo" ] || fail "mkfifo"
	must mknod "$d/null" c 1 3
	[ "$(stat -c %t:%T "$d/null")" = 1:3 ] || fail "mknod device numbers $(stat -c %t:%T "$d/null")"
	if [ -n "$e" ]; then
		[ -c "$e/fsops.$$/null" ] || fail "device node not on the export"
	fi

	# statfs
	must stat -f "$m" > /dev/null

	# unlink, rmdir, and rmdir of a non-empty directory fails
	must rm "$d/many/hard3" "$d/sym" "$d/fifo" "$d/null"
	must_fail rmdir "$d/many"
	must rm -r "$d/many"
	[ ! -e "$d/many" ] || fail "rm -r left $d/many"

	# errors come back with the right errno
	must_fail cat "$d/nonexistent"
	cat "$d/nonexistent" 2>&1 | grep -q 'No such file' || fail "ENOENT expected"
	must_fail mkdir "$d"

	# permissions, as two users
	add_users
	must mkdir "$d/alice"
	must chown 1000:1000 "$d/alice"
	must chmod 0700 "$d/alice"
	must as alice "echo secret > $d/alice/f"
	[ "$(stat -c %u "$d/alice/f")" = 1000 ] || fail "file of alice owned by $(stat -c %u "$d/alice/f")"
	must_fail as bob "cat $d/alice/f"
	must_fail as bob "touch $d/alice/g"
	must as alice "chmod 0755 $d/alice"
	must as alice "chmod 0600 $d/alice/f"
	must_fail as bob "cat $d/alice/f"
	must as alice "cat $d/alice/f"
	must_fail as bob "rm -f $d/alice/f"
	must_fail as bob "chmod 0777 $d/alice/f"

	must rm -r "$d"
}
