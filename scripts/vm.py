#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The suite's QEMU harness.

    vm.py test --kdir KDIR [NAME ...]   run VM tests (tests/vm/NAME.sh), a fresh VM each
    vm.py demo --kdir KDIR              boot a VM that loads and shows the three modules

Each VM boots the given kernel (under TCG, unless a probe shows KVM works
here) with an initramfs made here
(busybox-static, the kernel's and the suite's modules, the test scripts and
tools such as fio), runs one script, and powers off. A test fails if its
script fails, if it times out, or if the console log shows a kernel splat
(see SPLATS). Tests that expect a splat (`expect=` in their header) pass only
if exactly that is flagged: this is how the harness proves it can fail.

Test header, in the first lines of the script:
    # rsuite: timeout=SECONDS devices=nvme[+PROP=VAL...][,...] expect=CATEGORY[,...] mem=MiB smp=N peer=NAME trace=EVENT[,...]

With trace=, QEMU logs those of its trace events (`qemu-system-x86_64
-trace help` lists them) and the test passes only if each fired at least
once: the device's own evidence that a path was taken (e.g.
pci_nvme_map_sgl for data described by SGLs).

With peer=NAME, a second VM runs tests/vm/NAME.sh at the same time, the two
joined by a virtual network (192.0.2.1 is the peer, 192.0.2.2 the test).
"""
import argparse
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SUITE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(SUITE, 'out', 'vm')

# Category -> console-log pattern. Any match fails a test that did not expect it.
SPLATS = {
    'BUG': r'\bBUG:',
    'WARNING': r'\bWARNING:',
    'Oops': r'\bOops\b',
    'KASAN': r'\bKASAN\b',
    'UBSAN': r'\bUBSAN\b',
    # Not the boot banner "RCU lockdep checking is enabled.".
    'lockdep': r'possible circular locking|\blockdep\b(?! checking is enabled)',
    'kmemleak': r'unreferenced object 0x',
    'refcount': r'refcount_t:',
    'RCU stall': r'detected stall|RCU stall',
    'hung task': r'hung_task|blocked for more than \d+ seconds',
    'panic': r'Kernel panic',
}

# Userspace the VMs get besides busybox (with their shared libraries).
TOOLS = ['/usr/bin/fio', '/usr/sbin/nvme', '/usr/sbin/blkdiscard', '/usr/sbin/diod']
# The suite's cache of kernel trees and tools (as scripts/lib.sh has it).
CACHE = os.environ.get('RUST_SUITE_CACHE') or os.path.join(
    os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'rust-driver-suite')
# Static tools built by scripts/build-vm-tools.sh: (where on the host, where in the VM).
BUILT_TOOLS = [(os.path.join(CACHE, 'tools/bin/fsx'), '/usr/bin/fsx'),
               (os.path.join(SUITE, 'host/target/x86_64-unknown-linux-gnu/release/p9hostile'),
                '/usr/bin/p9hostile')] + \
              [(os.path.join(SUITE, f'host/target/x86_64-unknown-linux-gnu/release/{t}'), f'/usr/bin/{t}')
               for t in ('agx', 'agx-test', 'agx-bench', 'nvme-user-io')]


def log(msg):
    print(f'[vm] {msg}', file=sys.stderr, flush=True)


# --- initramfs -------------------------------------------------------------------

class Cpio:
    """A newc cpio archive, written in memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, data=b'', nlink=1):
        name = name.lstrip('/')
        hdr = '070701' + ''.join(f'{v:08x}' for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name.encode() + b'\0')
        self.buf.write(b'\0' * (-(110 + len(name) + 1) % 4))
        self.buf.write(data)
        self.buf.write(b'\0' * (-len(data) % 4))

    def dir(self, path):
        parts = path.strip('/').split('/')
        for i in range(1, len(parts) + 1):
            p = '/'.join(parts[:i])
            if p and p not in self.seen:
                self.seen.add(p)
                self._entry(p, 0o040755, nlink=2)

    def file(self, path, data, mode=0o644):
        self.dir(os.path.dirname(path))
        if path.strip('/') in self.seen:
            return
        self.seen.add(path.strip('/'))
        self._entry(path, 0o100000 | mode, data)

    def copy(self, src, dst=None, mode=None):
        st = os.stat(src)
        with open(src, 'rb') as f:
            self.file(dst or src, f.read(), mode if mode is not None else st.st_mode & 0o777)

    def symlink(self, path, target):
        self.dir(os.path.dirname(path))
        self.seen.add(path.strip('/'))
        self._entry(path, 0o120777, target.encode())

    def finish(self):
        self._entry('TRAILER!!!', 0)
        return self.buf.getvalue()


def shared_libs(binary):
    out = subprocess.run(['ldd', binary], capture_output=True, text=True).stdout
    libs = set()
    for line in out.splitlines():
        m = re.search(r'(/\S+)', line.split('=>')[-1])
        if m:
            libs.add(m.group(1))
    return libs


def kernel_release(kdir):
    with open(os.path.join(kdir, 'include/config/kernel.release')) as f:
        return f.read().strip()


def suite_modules():
    mods = []
    for d in ('', 'tests/modules'):
        base = os.path.join(SUITE, d)
        for n in sorted(os.listdir(base)):
            if n.endswith('.ko'):
                mods.append(os.path.join(base, n))
    return mods


def build_initramfs(kdir, path):
    """Builds the initramfs at `path` unless it is newer than everything in it."""
    rel = kernel_release(kdir)
    inputs = suite_modules() + [os.path.join(kdir, '.suite-built'), __file__] + \
        [h for h, _ in BUILT_TOOLS if os.path.exists(h)]
    for root in ('tests/vm',):
        for n in os.listdir(os.path.join(SUITE, root)):
            inputs.append(os.path.join(SUITE, root, n))
    if os.path.exists(path) and all(os.path.getmtime(i) <= os.path.getmtime(path) for i in inputs):
        return
    with tempfile.TemporaryDirectory() as stage:
        # The kernel's own modules (nvme, vgem, ...) with a modules.dep for modprobe.
        subprocess.run(['make', '-s', '-C', kdir, 'LLVM=1', f'INSTALL_MOD_PATH={stage}',
                        'INSTALL_MOD_STRIP=1', 'DEPMOD=/bin/true', 'modules_install'],
                       check=True, stdout=subprocess.DEVNULL)
        extra = os.path.join(stage, 'lib/modules', rel, 'extra')
        os.makedirs(extra, exist_ok=True)
        for m in suite_modules():
            shutil.copy(m, extra)
        subprocess.run(['/sbin/depmod', '-b', stage, rel], check=True)

        c = Cpio()
        for d in ('bin', 'sbin', 'dev', 'proc', 'sys', 'tmp', 'root', 'mnt', 'etc', 'lib64', 'run'):
            c.dir(d)
        c.copy('/bin/busybox', '/bin/busybox', 0o755)
        c.copy(os.path.join(SUITE, 'tests/vm/init'), '/init', 0o755)
        for root, _dirs, files in os.walk(os.path.join(stage, 'lib/modules')):
            for n in files:
                full = os.path.join(root, n)
                c.copy(full, os.path.relpath(full, stage))
        tests = os.path.join(SUITE, 'tests/vm')
        for n in sorted(os.listdir(tests)):
            c.copy(os.path.join(tests, n), f'/tests/{n}', 0o755)
        libs = set()
        for t in TOOLS:
            if os.path.exists(t):
                c.copy(t, t, 0o755)
                libs |= shared_libs(t)
            else:
                log(f'warning: {t} is missing; tests that need it will fail (scripts/install-deps.sh)')
        for host, guest in BUILT_TOOLS:
            if os.path.exists(host):
                c.copy(host, guest, 0o755)
            else:
                log(f'warning: {host} is missing; tests that need it will fail (scripts/build-vm-tools.sh)')
        for lib in sorted(libs):
            c.copy(os.path.realpath(lib), lib, 0o755)
        c.file('/etc/passwd', b'root:x:0:0:root:/root:/bin/sh\nuser1:x:1001:1001::/tmp:/bin/sh\n'
               b'user2:x:1002:1002::/tmp:/bin/sh\n')
        c.file('/etc/group', b'root:x:0:\nuser1:x:1001:\nuser2:x:1002:\n')
        data = gzip.compress(c.finish(), compresslevel=1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    os.replace(path + '.tmp', path)
    log(f'initramfs: {len(data) >> 20} MiB')


# --- running VMs -------------------------------------------------------------------

def parse_header(script):
    opts = {'timeout': '300', 'devices': '', 'expect': '', 'mem': '1024', 'smp': '2', 'peer': '',
            'trace': ''}
    with open(script) as f:
        for line in f.readlines()[:10]:
            m = re.match(r'#\s*rsuite:\s*(.*)', line)
            if m:
                for kv in m.group(1).split():
                    k, _, v = kv.partition('=')
                    if k not in opts:
                        raise SystemExit(f'{script}: unknown header option {k}')
                    opts[k] = v
    return opts


def device_args(devices, workdir):
    args = []
    for i, dev in enumerate(filter(None, devices.split(','))):
        dev, *props = dev.split('+')
        if dev == 'nvme':
            # A controller nvme<i>, by default with two namespaces of 256 MiB
            # file-backed: 512 B and 4 KiB logical blocks. `nvme+PROP=VALUE+...`
            # sets properties of the controller, e.g. max_ioqpairs=1 (fewer
            # queues than CPUs), msix_qsize=1; `hotplug=on` puts it behind a
            # PCIe root port, so that QMP's device_del can take it away;
            # `backing=null` gives it one 4 GiB namespace on QEMU's null-co
            # driver (reads and writes cost next to nothing), `backing=file`
            # one of 1 GiB in a file, both with 512 B blocks (benchmarks).
            cid = f'nvme{i}'
            ctrl = dict(id=cid, serial=f'rsuite{i + 1:04}', max_ioqpairs='4')
            ctrl.update(p.split('=', 1) for p in props)
            if ctrl.pop('hotplug', 'off') == 'on':
                args += ['-device', f'pcie-root-port,id=rp{i},chassis={i + 1},slot={i + 1}']
                ctrl['bus'] = f'rp{i}'
            backing = ctrl.pop('backing', 'default')
            args += ['-device', 'nvme,' + ','.join(f'{k}={v}' for k, v in ctrl.items())]
            if backing == 'null':
                args += ['-blockdev', f'driver=null-co,node-name={cid}null,size={4 << 30}',
                         '-device', f'nvme-ns,drive={cid}null,bus={cid},nsid=1,'
                         'logical_block_size=512,physical_block_size=512']
                continue
            namespaces = ((1, 512, 1 << 30),) if backing == 'file' else ((1, 512, 256 << 20), (2, 4096, 256 << 20))
            for nsid, bs, size in namespaces:
                img = os.path.join(workdir, f'{cid}-ns{nsid}.img')
                with open(img, 'wb') as f:
                    f.truncate(size)
                drive = f'{cid}ns{nsid}'
                args += ['-drive', f'file={img},if=none,id={drive},format=raw,cache=unsafe,discard=unmap',
                         '-device', f'nvme-ns,drive={drive},bus={cid},nsid={nsid},'
                         f'logical_block_size={bs},physical_block_size={bs}']
        else:
            raise SystemExit(f'unknown device {dev}')
    return args


def show(chunk):
    """Echoes what the demo script prints, not the kernel's console lines
    (they stay in the log, where the splat check reads them)."""
    for line in chunk.decode(errors='replace').splitlines(keepends=True):
        if not re.match(r'\[\s*\d+\.\d+\] ', line) and not line.startswith('RSUITE-'):
            sys.stdout.write(line)
    sys.stdout.flush()


def qmp(path, command):
    """Runs one QMP command (a JSON object) on the monitor socket at
    `path`; returns QEMU's reply, events skipped."""
    import json
    import socket
    with socket.socket(socket.AF_UNIX) as sk:
        sk.settimeout(10)
        sk.connect(path)
        f = sk.makefile('rw')
        f.readline()  # the greeting
        replies = []
        for cmd in ({'execute': 'qmp_capabilities'}, json.loads(command)):
            f.write(json.dumps(cmd) + '\n')
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if 'event' not in reply:
                    break
            replies.append(reply)
        return json.dumps(replies[1])


def free_port():
    import socket
    with socket.socket() as sk:
        sk.bind(('127.0.0.1', 0))
        return sk.getsockname()[1]


# How the VMs run: TCG unless a probe showed KVM boots this kernel here.
ACCEL = ['-accel', 'tcg']


def probe_accel(kdir, initramfs):
    """Picks KVM if it demonstrably boots the test kernel to its init on
    this machine, TCG otherwise (on the machines this project was built on,
    /dev/kvm exists but `-cpu host` aborts and other models hang). The
    verdict is cached per kernel release; RSUITE_ACCEL=tcg|kvm overrides."""
    global ACCEL
    choice = os.environ.get('RSUITE_ACCEL')
    stamp = os.path.join(CACHE, f'accel-{kernel_release(kdir)}')
    if not choice and os.path.exists(stamp):
        choice = open(stamp).read().strip()
    if not choice:
        choice = 'tcg'
        if os.access('/dev/kvm', os.R_OK | os.W_OK):
            cmd = ['qemu-system-x86_64', '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host',
                   '-m', '512', '-kernel', os.path.join(kdir, 'arch/x86/boot/bzImage'),
                   '-initrd', initramfs, '-no-reboot', '-display', 'none', '-serial', 'stdio',
                   '-monitor', 'none', '-append', 'console=ttyS0 panic=-1 rsuite.test=accel-probe']
            try:
                out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                     timeout=60).stdout
                if b'RSUITE-BEGIN accel-probe' in out:
                    choice = 'kvm'
            except subprocess.TimeoutExpired:
                pass
        os.makedirs(CACHE, exist_ok=True)
        with open(stamp, 'w') as f:
            f.write(choice + '\n')
        log(f'accelerator probe: {choice}')
    ACCEL = ['-accel', 'kvm', '-cpu', 'host'] if choice == 'kvm' else ['-accel', 'tcg']


def vm_command(kdir, initramfs, name, opts, workdir, net=None):
    """The QEMU command line of a VM that runs tests/vm/NAME.sh.

    `net` is (role, port, guest address) for the virtual network between the
    two VMs of a test: QEMU's socket netdev, tunnelled over 127.0.0.1."""
    # q35: its ACPI PCI routing is a table; pc's _PRT is an AML loop that
    # takes ACPICA's 30 s loop timeout to run under TCG with KASAN.
    append = (f'console=ttyS0 panic=-1 oops=panic tsc=reliable rsuite.test={name} '
              f'rsuite.timeout={opts["timeout"]}')
    cmd = ['qemu-system-x86_64', '-machine', 'q35'] + ACCEL + [
           '-smp', opts['smp'], '-m', opts['mem'],
           '-kernel', os.path.join(kdir, 'arch/x86/boot/bzImage'),
           '-initrd', initramfs, '-no-reboot', '-display', 'none',
           '-serial', 'stdio', '-monitor', 'none',
           # A test script asks the harness for QMP commands by printing
           # `RSUITE-QMP {json}` (see run_vms).
           '-qmp', f'unix:{os.path.join(workdir, name + ".qmp")},server=on,wait=off']
    cmd += device_args(opts['devices'], workdir)
    for event in filter(None, opts['trace'].split(',')):
        cmd += ['-trace', f'enable={event}']
    if opts['trace']:
        cmd += ['-D', os.path.join(workdir, name + '.trace')]
    if net:
        role, port, addr = net
        cmd += ['-netdev', f'socket,id=net0,{role}=127.0.0.1:{port}',
                '-device', 'virtio-net-pci,netdev=net0']
        append += f' rsuite.ip={addr}'
    return cmd + ['-append', append]


def run_vms(vms, interactive=False):
    """Runs VMs side by side. `vms` is a list of (name, command, timeout,
    log path); returns, for each, (script exit status or None, finished
    post-test checks, seconds, console text)."""
    start = time.monotonic()
    procs = []
    for i, (name, cmd, timeout, logpath) in enumerate(vms):
        if i:
            time.sleep(1)  # the listening side of the network goes first
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        os.set_blocking(p.stdout.fileno(), False)
        # Boot and the kmemleak scans come on top of the script's time.
        procs.append([p, open(logpath, 'wb'), time.monotonic() + int(timeout) + 120,
                      cmd[cmd.index('-qmp') + 1][len('unix:'):].split(',')[0], [b''], False])
    running = list(procs)
    while running:
        for item in list(running):
            p, logf, deadline, qmp_path, pending, dumped = item
            chunk = p.stdout.read()
            if chunk:
                logf.write(chunk)
                logf.flush()
                if interactive:
                    show(chunk)
                # QMP commands the script asks for, a line each; the reply
                # goes into the log.
                *lines, pending[0] = (pending[0] + chunk).split(b'\n')
                for line in lines:
                    m = re.search(rb'RSUITE-QMP (\{.*\})', line)
                    if m:
                        try:
                            reply = qmp(qmp_path, m.group(1).decode())
                        except (OSError, ValueError) as e:
                            reply = f'error: {e}'
                        logf.write(f'RSUITE-QMP-REPLY {reply}\n'.encode())
                        logf.flush()
            if p.poll() is not None or time.monotonic() > deadline:
                if p.poll() is None and not dumped:
                    # Out of time with the guest's own timeout not reached
                    # (or stuck): ask the guest's kernel for its blocked
                    # tasks (SysRq-W on the keyboard), then kill it.
                    item[5] = True
                    logf.write(b'RSUITE-TIMEOUT (the host killed the VM)\n')
                    try:
                        qmp(qmp_path, '{"execute": "human-monitor-command", '
                                      '"arguments": {"command-line": "sendkey alt-sysrq-w"}}')
                    except (OSError, ValueError):
                        pass
                    item[2] = time.monotonic() + 10
                    continue
                if p.poll() is None:
                    p.kill()
                    p.wait()
                rest = p.stdout.read()
                if rest:
                    logf.write(rest)
                    if interactive:
                        show(rest)
                logf.close()
                running.remove(item)
        if running:
            time.sleep(0.1)
    secs = time.monotonic() - start
    results = []
    for name, _cmd, _timeout, logpath in vms:
        text = open(logpath, errors='replace').read()
        m = re.search(rf'RSUITE-END {re.escape(name)} rc=(\d+)', text)
        results.append((int(m.group(1)) if m else None, 'RSUITE-DONE' in text, secs, text))
    return results


def splats(text):
    found = set()
    for cat, pat in SPLATS.items():
        if re.search(pat, text):
            found.add(cat)
    return found


FRAME = re.compile(r'^\[\s*[\d.]+\]\s+(\?\s+)?([\w.$]+)\+0x[0-9a-f]+/0x[0-9a-f]+')


def short_symbol(name):
    """A Rust (v0-mangled) symbol as its last path components, roughly
    demangled for the summary: `conn::Conn::run`."""
    if not name.startswith('_R'):
        return name
    idents = []
    i = 2
    while i < len(name):
        m = re.match(r'(\d+)_?', name[i:])
        if m:
            n = int(m.group(1))
            start = i + m.end()
            ident = name[start:start + n]
            # One-letter "identifiers" are mostly back-references.
            if n > 1 and len(ident) == n and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', ident):
                idents.append(ident)
                i = start + n
                continue
        i += 1
    if 'drop_in_place' in idents:
        return f'drop_in_place<{idents[-1]}>'
    return '::'.join(idents[-3:]) or name


def call_trace(lines, i):
    """The function names of the first call trace at or after line `i`
    (unreliable `?` frames left out), innermost first."""
    frames = []
    j = i
    while j < len(lines) and j < i + 40 and 'Call Trace:' not in lines[j]:
        j += 1
    for line in lines[j + 1:j + 80]:
        m = FRAME.match(line)
        if m:
            if not m.group(1):
                frames.append(short_symbol(m.group(2)))
        elif not re.search(r'<(/?TASK|IRQ|/IRQ|NMI|/NMI)>', line):
            break
    return frames


def excerpt(text, cat, limit=3):
    """What the log says about splat category `cat`: its first lines
    (`limit` of them for hung tasks) with their call traces, short enough
    for the summary, so that a CI failure says where without the log."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if re.search(SPLATS[cat], line) and 'disables this message' not in line:
            frames = call_trace(lines, i)
            head = re.sub(r'^\[\s*[\d.]+\]\s*', '', line).strip()[:160]
            out.append(head + (': ' + ' < '.join(frames[:14]) if frames else ''))
            if len(out) >= limit:
                break
    return out


def blocked_tasks(text, limit=6):
    """The tasks of the timeout dump (blocked ones from SysRq-W, then any
    in the suite's modules), each with its state and call trace."""
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if 'RSUITE-TIMEOUT' in l)
    except StopIteration:
        return []
    out = []
    for i in range(start, len(lines)):
        m = re.search(r'\btask:(\S+)\s+state:(\S)', lines[i])
        if m:
            frames = call_trace(lines, i)
            out.append(f'task {m.group(1)} ({m.group(2)}): ' + ' < '.join(frames[:14]))
            if len(out) >= limit:
                break
    return out


def count_trace(path, events):
    """How often each of the comma-separated QEMU trace `events` appears in
    the log at `path`."""
    counts = {e: 0 for e in filter(None, events.split(','))}
    if counts and os.path.exists(path):
        with open(path, errors='replace') as f:
            for line in f:
                for e in counts:
                    if re.search(rf'\b{e}\b', line):
                        counts[e] += 1
    return counts


def run_one(kdir, initramfs, tests, name):
    """Runs VM test `name`; returns (passed, the line to print)."""
    opts = parse_header(os.path.join(tests, f'{name}.sh'))
    with tempfile.TemporaryDirectory() as workdir:
        vms = []
        if opts['peer']:
            # Two VMs on one virtual network: the peer (listening) is
            # 192.0.2.1, the test's own VM 192.0.2.2 (RFC 5737 addresses,
            # which exist only inside the QEMU socket network).
            peer_opts = parse_header(os.path.join(tests, f'{opts["peer"]}.sh'))
            port = free_port()
            vms.append((opts['peer'], vm_command(kdir, initramfs, opts['peer'], peer_opts, workdir,
                                                 ('listen', port, '192.0.2.1')),
                        peer_opts['timeout'], os.path.join(OUT, f'{opts["peer"]}.log')))
            net = ('connect', port, '192.0.2.2')
        else:
            net = None
        vms.append((name, vm_command(kdir, initramfs, name, opts, workdir, net),
                    opts['timeout'], os.path.join(OUT, f'{name}.log')))
        results = run_vms(vms)
        traced = count_trace(os.path.join(workdir, name + '.trace'), opts['trace'])
    expected = set(filter(None, opts['expect'].split(',')))
    why = []
    secs = results[0][2]
    for (vm_name, _cmd, _t, logpath), (rc, done, _secs, text) in zip(vms, results):
        who = f'{vm_name}: ' if len(vms) > 1 else ''
        found = splats(text)
        rel = os.path.relpath(logpath, SUITE)
        if rc is None:
            why.append(f'{who}no result (timeout or crash) [log: {rel}]')
        elif rc != 0:
            why.append(f'{who}script exit {rc} [log: {rel}]')
        if not done and rc is not None:
            why.append(f'{who}did not finish the post-test checks [log: {rel}]')
        if found - expected:
            why.append(f'{who}kernel log: {", ".join(sorted(found - expected))} [log: {rel}]')
            for cat in sorted(found - expected):
                why.extend(f'  {who}{line}' for line in excerpt(text, cat))
        if rc is None or rc in (124, 143):
            why.extend(f'  {who}{line}' for line in blocked_tasks(text))
        if vm_name == name and expected - found:
            why.append('expected but not flagged: ' + ', '.join(sorted(expected - found)))
        for line in text.splitlines():
            if line.startswith('RSUITE-FAIL'):
                why.append(f'{who}{line}')
    for event, n in traced.items():
        if n == 0:
            why.append(f'QEMU trace event {event} never fired')
    if why:
        return False, f'FAIL vm/{name} ({secs:.0f} s): ' + '\n     '.join(why)
    note = f', flagged {", ".join(sorted(expected))} as expected' if expected else ''
    note += ''.join(f', {n} {event}' for event, n in traced.items())
    return True, f'PASS vm/{name} ({secs:.0f} s{note})'


def run_tests(kdir, names):
    """Runs VM tests, RSUITE_VM_JOBS (default 2) at a time, the longest
    (by their timeout) first, so that the long ones overlap the many short
    ones; prints a line per test as it ends."""
    import concurrent.futures
    import threading
    os.makedirs(OUT, exist_ok=True)
    initramfs = initramfs_path(kdir)
    build_initramfs(kdir, initramfs)
    probe_accel(kdir, initramfs)
    tests = os.path.join(SUITE, 'tests/vm')
    if not names:
        names = sorted(n[:-3] for n in os.listdir(tests) if n.endswith('.sh') and not n.startswith('lib')
                       and n != 'demo.sh' and not n.endswith('-peer.sh')
                       and not n.startswith('bench-') and not n.startswith('soak-'))
    names = sorted(names, key=lambda n: -int(parse_header(os.path.join(tests, f'{n}.sh'))['timeout']))
    jobs = max(1, int(os.environ.get('RSUITE_VM_JOBS', '2')))
    passed = failed = 0
    lock = threading.Lock()
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, kdir, initramfs, tests, n) for n in names]
        for fut in concurrent.futures.as_completed(futures):
            ok, line = fut.result()
            with lock:
                passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
                print(line, flush=True)
    return passed, failed

def initramfs_path(kdir):
    """The initramfs of the tree at `kdir` (one per flavor)."""
    return os.path.join(OUT, f'initramfs-{os.path.basename(os.path.normpath(kdir))}.cpio.gz')


def terse_stats(fields):
    """IOPS and p99 completion latency (us) of a fio terse v3 line (one
    group), of reads or writes, whichever moved data."""
    # Read: KiB at 6, IOPS at 8, clat percentiles at 18-37; write: 47, 49, 59-78.
    for kb, iops, pct in ((5, 7, 17), (46, 48, 58)):
        if int(fields[kb]) > 0:
            p99 = next((float(f.split('=')[1]) for f in fields[pct:pct + 20]
                        if f.startswith('99.000000%')), float('nan'))
            return float(fields[iops]), p99
    return 0.0, float('nan')


def bench(kdir, name):
    """Runs tests/vm/bench-NAME.sh, which prints a line
    `RSUITE-BENCH ROUND DRIVER DEVICE POINT TERSE` per fio run (or
    `RSUITE-VALUE ROUND DRIVER DEVICE POINT VALUE UNIT` for other measures),
    DRIVER being the baseline (first seen) or ours; prints per point both
    drivers' median IOPS (or value) and p99 latency, and the ratio
    ours/baseline of each round's IOPS (median, min-max)."""
    import statistics
    os.makedirs(OUT, exist_ok=True)
    initramfs = initramfs_path(kdir)
    build_initramfs(kdir, initramfs)
    probe_accel(kdir, initramfs)
    script = f'bench-{name}'
    opts = parse_header(os.path.join(SUITE, 'tests/vm', f'{script}.sh'))
    logpath = os.path.join(OUT, f'{script}.log')
    with tempfile.TemporaryDirectory() as workdir:
        cmd = vm_command(kdir, initramfs, script, opts, workdir)
        [(rc, _done, secs, text)] = run_vms([(script, cmd, opts['timeout'], logpath)])
    results = {}
    drivers = []
    for line in text.splitlines():
        m = re.search(r'RSUITE-BENCH (\d+) (\S+) (\S+) (\S+) (3;.*)', line)
        if not m:
            continue
        rnd, drv, dev, point, terse = m.groups()
        if drv not in drivers:
            drivers.append(drv)
        results.setdefault((dev, point), {}).setdefault(drv, {})[int(rnd)] = \
            terse_stats(terse.split(';'))
    # Points that are not fio runs: `RSUITE-VALUE ROUND DRIVER DEVICE POINT VALUE UNIT`,
    # higher being better; they have no latency.
    for line in text.splitlines():
        m = re.search(r'RSUITE-VALUE (\d+) (\S+) (\S+) (\S+) ([\d.]+) (\S+)', line)
        if m:
            rnd, drv, dev, point, value, unit = m.groups()
            if drv not in drivers:
                drivers.append(drv)
            results.setdefault((dev, f'{point} ({unit})'), {}).setdefault(drv, {})[int(rnd)] = \
                (float(value), float('nan'))
    found = splats(text)
    if rc != 0 or found or len(drivers) != 2:
        print(f'bench-{name}: FAILED (exit {rc}, kernel log: {", ".join(sorted(found)) or "clean"}, '
              f'drivers seen: {drivers}) [log: {os.path.relpath(logpath, SUITE)}]')
        return 1
    base, ours = drivers
    rounds = max(len(v) for r in results.values() for v in r.values())
    print(f'\nbench-{name}: {ours} vs {base}, {rounds} rounds, {secs:.0f} s, accel {ACCEL[1]}')
    print(f'{"device":7} {"point":24} {base + " IOPS":>13} {ours + " IOPS":>15} '
          f'{base + " p99":>12} {ours + " p99":>14} {"ratio":>6}  spread')
    worst = None
    for (dev, point), by in results.items():
        b, o = by.get(base, {}), by.get(ours, {})
        common = sorted(set(b) & set(o))
        ratios = [o[r][0] / b[r][0] for r in common if b[r][0] > 0]
        med = lambda d, k: statistics.median(v[k] for v in d.values()) if d else float('nan')
        ratio = statistics.median(ratios) if ratios else float('nan')
        worst = ratio if worst is None or ratio < worst else worst
        spread = f'{min(ratios):.2f}-{max(ratios):.2f}' if ratios else '-'
        # A value point (files/s) has no latency.
        lat = lambda x, w: f'{x:{w}.0f}us' if x == x else f'{"-":>{w + 2}}'
        print(f'{dev:7} {point:24} {med(b, 0):13.0f} {med(o, 0):15.0f} '
              f'{lat(med(b, 1), 10)} {lat(med(o, 1), 12)} {ratio:6.2f}  {spread}')
    print(f'lowest ratio: {worst:.2f}')
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=('test', 'demo', 'bench'))
    ap.add_argument('--kdir', required=True)
    ap.add_argument('--counts', help='write "passed failed" to this file')
    ap.add_argument('names', nargs='*')
    a = ap.parse_intermixed_args()
    if a.mode == 'demo':
        os.makedirs(OUT, exist_ok=True)
        initramfs = initramfs_path(a.kdir)
        build_initramfs(a.kdir, initramfs)
        probe_accel(a.kdir, initramfs)
        opts = parse_header(os.path.join(SUITE, 'tests/vm/demo.sh'))
        with tempfile.TemporaryDirectory() as workdir:
            cmd = vm_command(a.kdir, initramfs, 'demo', opts, workdir)
            [(rc, _done, secs, text)] = run_vms(
                [('demo', cmd, opts['timeout'], os.path.join(OUT, 'demo.log'))], interactive=True)
        found = splats(text)
        print(f'\ndemo: {"ok" if rc == 0 and not found else "FAILED"} in {secs:.0f} s'
              f'{"; kernel log: " + ", ".join(sorted(found)) if found else ""}')
        sys.exit(0 if rc == 0 and not found else 1)
    if a.mode == 'bench':
        sys.exit(max(bench(a.kdir, n) for n in a.names))
    passed, failed = run_tests(a.kdir, a.names)
    if a.counts:
        with open(a.counts, 'w') as f:
            f.write(f'{passed} {failed}\n')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
