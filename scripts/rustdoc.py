#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make LLVM=1 rustdoc`: HTML for `abstractions` and the three drivers.

Written to Documentation/output/rust/rustdoc/ next to the kernel crate's own
documentation (built in the kernel tree once and linked in), so that links to
`kernel::...` items work. Each crate is documented with the exact flags it was
compiled with, read from its Kbuild .cmd file.
"""
import os
import shlex
import shutil
import subprocess
import sys

SUITE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(SUITE, 'Documentation/output/rust/rustdoc')
CRATES = [  # (object, crate name, private items too)
    ('abstractions/lib.o', 'abstractions', False),
    ('rust_nvme/rust_nvme.o', 'rust_nvme', True),
    ('rust_9p/rust_9p.o', 'rust_9p', True),
    ('rust_agx/rust_agx.o', 'rust_agx', True),
]
DROP_PREFIXES = ('--emit', '--out-dir', '--remap-path-scope')


def saved_command(obj):
    d, n = os.path.split(obj)
    path = os.path.join(SUITE, d, f'.{n}.cmd')
    with open(path) as f:
        for line in f:
            if line.startswith('savedcmd_'):
                return line.split(':=', 1)[1].strip()
    sys.exit(f'rustdoc: no saved command in {path}: build the modules first')


def rustdoc_command(cmd, crate, private):
    cmd = cmd.split(' ; ', 1)[0]
    argv = shlex.split(cmd)
    env = {}
    while '=' in argv[0] and not argv[0].startswith('-'):
        k, v = argv.pop(0).split('=', 1)
        env[k] = v
    argv.pop(0)                       # rustc (or clippy-driver)
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == '--out-dir':
            skip = True
        elif a.startswith(DROP_PREFIXES):
            continue
        else:
            out.append(a)
    out += ['-Zunstable-options', '--generate-link-to-definition', '--output', OUT,
            '-Cunsafe-allow-abi-mismatch=sanitizer']
    if '--crate-name' not in out:
        out += ['--crate-name', crate]
    if private:
        out.append('--document-private-items')
    return env, ['rustdoc'] + out


def main():
    kdir = sys.argv[1]
    kdocs = os.path.join(kdir, 'Documentation/output/rust/rustdoc')
    if not os.path.exists(os.path.join(kdocs, 'kernel/index.html')):
        print('[rustdoc] documenting the kernel crate (once per kernel tree)', file=sys.stderr)
        subprocess.run(['make', '-s', '-C', kdir, 'LLVM=1', 'rustdoc'], check=True)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    # Hard links: the kernel's docs cost no space or time here.
    try:
        shutil.copytree(kdocs, OUT, copy_function=os.link)
    except OSError:
        shutil.copytree(kdocs, OUT)
    for obj, crate, private in CRATES:
        env, cmd = rustdoc_command(saved_command(obj), crate, private)
        print(f'[rustdoc] {crate}', file=sys.stderr)
        # As Kbuild does: the kernel's unstable flags on a stable compiler.
        r = subprocess.run(cmd, cwd=SUITE, env=dict(os.environ, RUSTC_BOOTSTRAP='1', **env))
        if r.returncode:
            sys.exit(f'rustdoc failed for {crate}')
    print(os.path.join(OUT, 'abstractions/index.html'))


if __name__ == '__main__':
    main()
