#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The suite's first rule, checked mechanically: drivers hold no `unsafe` and
# touch no raw bindings; every `unsafe` block or impl in abstractions/ is
# preceded by a `// SAFETY:` comment.
set -u
cd "$(dirname "$0")/../.."

hits=$(grep -rnE '\bunsafe\b|bindings::' --include='*.rs' rust_nvme rust_9p rust_agx |
	grep -vE '^[^:]+:[0-9]+:\s*(//|//!|///)' | grep -v 'deny(unsafe_code)')
if [ -z "$hits" ]; then
	echo "PASS host/house-rules/no-unsafe-in-drivers"
else
	echo "FAIL host/house-rules/no-unsafe-in-drivers: $hits"
fi

# An `unsafe {`/`unsafe impl` needs a `// SAFETY:` comment in the comment
# lines right above the line it is on, as clippy's undocumented_unsafe_blocks
# wants (which CLIPPY=1 builds enforce too).
missing=$(python3 - abstractions/*.rs <<'PY'
import re, sys
for path in sys.argv[1:]:
    if path.endswith('_generated.rs'):
        continue
    lines = open(path).read().split('\n')
    for i, line in enumerate(lines):
        code = line.split('//')[0]
        if not re.search(r'\bunsafe\s*(\{|impl\b)', code):
            continue
        j, ok = i - 1, False
        while j >= 0 and lines[j].strip().startswith('//'):
            if lines[j].strip().startswith('// SAFETY:'):
                ok = True
            j -= 1
        if not ok:
            print(f'{path}:{i + 1}: {line.strip()}')
PY
)
if [ -z "$missing" ]; then
	echo "PASS host/house-rules/safety-comments"
else
	echo "FAIL host/house-rules/safety-comments: unsafe without // SAFETY: $missing"
fi
