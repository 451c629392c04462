#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=60 expect=kmemleak
#
# Harness self-test: a module that leaks must be flagged through kmemleak.
# This test passes only if the harness reports the leak (and nothing else).
. /tests/lib.sh
must insmod /lib/modules/$(uname -r)/extra/rsuite_leak.ko
must rmmod rsuite_leak
exit 0
