#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=400
#
# Closing files, destroying queues and VMs and unbinding ranges while jobs
# run; two processes sharing a buffer through PRIME; rmmod refused while a
# file is open; bad module parameters refused.
. /tests/lib.sh

must_fail modprobe rust_agx job_timeout_ms=5
must_fail modprobe rust_agx job_timeout_ms=100000
must modprobe rust_agx
wait_for /dev/dri/renderD128
must agx-test teardown
must agx-test prime
sleep 100 < /dev/dri/renderD128 &
holder=$!
sleep 1
must_fail rmmod rust_agx
kill $holder
wait $holder 2>/dev/null
must rmmod rust_agx
exit 0
