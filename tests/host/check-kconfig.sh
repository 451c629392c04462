#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/check-kconfig.py must report every requested option that did not
# stick, and nothing else: provisioning relies on it to catch a misspelt
# option or an unmet dependency in scripts/kconfig/.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/.config" <<'CFG'
CONFIG_A=y
CONFIG_B=m
# CONFIG_C is not set
CONFIG_D="text"
CONFIG_E=16
CFG
out=$(printf '%s\n' CONFIG_A=y CONFIG_B=m '# CONFIG_C is not set' CONFIG_D='"text"' CONFIG_E=16 CONFIG_F=n |
	python3 "$here/scripts/check-kconfig.py" "$tmp/.config")
if [ -z "$out" ]; then echo "PASS host/check-kconfig/honoured"; else echo "FAIL host/check-kconfig/honoured ($out)"; fi
out=$(printf '%s\n' CONFIG_A=m CONFIG_C=y CONFIG_E=32 CONFIG_TYPO=y CONFIG_B=n CONFIG_B=m |
	python3 "$here/scripts/check-kconfig.py" "$tmp/.config" | sort | tr '\n' ';')
want='CONFIG_A: asked m, got y;CONFIG_C: asked y, got n;CONFIG_E: asked 32, got 16;CONFIG_TYPO: asked y, got n;'
if [ "$out" = "$want" ]; then echo "PASS host/check-kconfig/reports"; else echo "FAIL host/check-kconfig/reports ($out)"; fi
