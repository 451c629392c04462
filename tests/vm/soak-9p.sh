#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rsuite: timeout=6000
#
# `make LLVM=1 soak-9p` (not in `make check`, which runs the same scripts
# shorter): fsx with 100000 operations on the export (9p-fsx), then 100000
# fuzzed messages from the hostile client (9p-hostile), in one VM. About
# 40 minutes alone under TCG; too long for the check's time budget on a
# 2-core machine.
. /tests/lib.sh

FSX_OPS=100000 sh /tests/9p-fsx.sh || fail "9p-fsx with 100000 operations failed"
FUZZ_MESSAGES=100000 sh /tests/9p-hostile.sh || fail "9p-hostile with 100000 messages failed"
exit 0
