#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Usage: fuzz-9p.sh [SECONDS]: fuzzes rust_9p's codec (see fuzz.sh).
exec "$(dirname "$0")/fuzz.sh" decode "$@"
