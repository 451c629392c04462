#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=60 expect=WARNING
#
# Harness self-test: a module that WARNs must be flagged. This test passes
# only if the harness reports the WARNING (and nothing else).
. /tests/lib.sh
must insmod /lib/modules/$(uname -r)/extra/rsuite_warn.ko
must rmmod rsuite_warn
exit 0
