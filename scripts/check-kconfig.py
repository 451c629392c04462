#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads requested Kconfig lines on stdin; prints each one the .config given as
argv[1] does not honour. Later requests override earlier ones, as in
merge_config.sh."""
import re
import sys

def parse(lines):
    want = {}
    for line in lines:
        line = line.strip()
        m = re.match(r'^# (CONFIG_\w+) is not set$', line)
        if m:
            want[m.group(1)] = 'n'
            continue
        m = re.match(r'^(CONFIG_\w+)=(.*)$', line)
        if m:
            want[m.group(1)] = m.group(2)
    return want

requested = parse(sys.stdin)
actual = parse(open(sys.argv[1]))
for name, value in requested.items():
    have = actual.get(name, 'n')
    if value != have:
        print(f'{name}: asked {value}, got {have}')
