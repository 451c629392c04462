#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=120
#
# rust_9p listens on the port of its `port` parameter, refuses a bad one with
# a clear message, fails cleanly on a port in use, and frees the port on
# unload so that it can be loaded again.
. /tests/lib.sh

mark_log
must_fail modprobe rust_9p export=/tmp port=0
expect_log 'rust_9p: port=0 is not a port to listen on'

mark_log
must modprobe rust_9p export=/tmp port=5640
expect_log 'rust_9p: exporting "/tmp" on 127\.0\.0\.1:5640'
[ "$(tcp_state 5640)" = 0A ] || fail "port 5640 is not in LISTEN state"
nc -w 2 127.0.0.1 5640 -e true || fail "cannot connect to port 5640"
must rmmod rust_9p
[ -z "$(tcp_state 5640)" ] || fail "port 5640 still open after rmmod: $(tcp_state 5640)"
must_fail nc -w 2 127.0.0.1 5640 -e true

# A port someone else has.
nc -l -p 5641 -e true &
ncpid=$!
i=0; while [ "$(tcp_state 5641)" != 0A ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mark_log
must_fail modprobe rust_9p export=/tmp port=5641
expect_log 'rust_9p: cannot listen on 127\.0\.0\.1:5641: EADDRINUSE'
kill $ncpid

# Reload on the same port as before.
must modprobe rust_9p export=/tmp port=5640
[ "$(tcp_state 5640)" = 0A ] || fail "port 5640 not listening after reload"
must rmmod rust_9p
exit 0
