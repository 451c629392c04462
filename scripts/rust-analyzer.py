#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Adds the suite's crates to the rust-project.json the kernel generated.

The kernel's generate_rust_analyzer.py finds an external module's crate roots
by their object name in Kbuild; the suite's Kbuild computes those names, and
the abstractions crate is no module at all. So they are added here, with the
dependencies, cfgs and environment Kbuild compiles them with.
"""
import json
import os
import sys

SUITE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVERS = ['rust_nvme', 'rust_9p', 'rust_agx']
TEST_MODULES = ['tests/modules/rsuite_warn.rs', 'tests/modules/rsuite_leak.rs']
# What Kbuild's rust_common_cmd gives every module crate (--extern ...).
EXTERNS = ['core', 'compiler_builtins', 'macros', 'pin_init', 'kernel', 'zerocopy',
           'zerocopy_derive']


def main():
    path = sys.argv[1]
    with open(path) as f:
        project = json.load(f)
    crates = project['crates']
    # Drop whatever the kernel's script picked up from this tree itself.
    crates[:] = [c for c in crates if not os.path.realpath(c['root_module']).startswith(SUITE + '/')]
    index = {c['display_name']: i for i, c in enumerate(crates)}
    kernel = crates[index['kernel']]

    def add(name, root, extra_deps=()):
        deps = [{'crate': index[d], 'name': d} for d in EXTERNS if d in index]
        deps += [{'crate': index[d], 'name': d} for d in extra_deps]
        crates.append({
            'display_name': name,
            'root_module': os.path.join(SUITE, root),
            'is_workspace_member': True,
            'deps': deps,
            'cfg': kernel['cfg'] + ['MODULE'],
            'edition': kernel.get('edition', '2021'),
            'env': dict(kernel.get('env', {}), RUST_MODFILE=root),
        })
        index[name] = len(crates) - 1

    add('abstractions', 'abstractions/lib.rs')
    for d in DRIVERS:
        add(d, f'{d}/{d}.rs', ['abstractions'])
    for t in TEST_MODULES:
        add(os.path.basename(t)[:-3], t)
    with open(path, 'w') as f:
        json.dump(project, f, indent=4, sort_keys=False)
    print(f'{path}: {len(crates)} crates, the suite\'s {len(DRIVERS) + len(TEST_MODULES) + 1} among them')


if __name__ == '__main__':
    main()
