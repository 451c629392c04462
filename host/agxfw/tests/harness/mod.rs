// SPDX-License-Identifier: GPL-2.0

//! The test driver of `rust_agx/vgpu/model.rs`, shared by agxfw's
//! `tests/vgpu.rs` and agx's `tests/model.rs` (as `mod harness`): a fake
//! bus of 4 KiB pages, and a driver that builds page tables, rings, init
//! data and work queues as the kernel driver does, queues jobs, runs the
//! model and reads back memory, stamps, events and logs. It re-exports the
//! formats and the model, so that `use harness::*` is all a test needs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

pub use agxfw::fw::cmd::{Cmd, BARRIER_NONE};
pub use agxfw::fw::isa::{Insn, Op, SAXPY};
pub use agxfw::fw::pgtable::{self, KERNEL_VA_START, PAGE_SIZE, USER_VA_START};
pub use agxfw::fw::shared::*;
pub use agxfw::vgpu::model::*;

/// First user VA the tests use.
pub const U: u64 = USER_VA_START;
/// Size of the fake bus's pages.
pub const BUS_PAGE: u64 = 4096;

/// A sparse bus: 4 KiB pages, anything else is a bus error; a settable
/// clock and an interrupt counter.
pub struct Bus {
    pub pages: RefCell<HashMap<u64, Box<[u8; BUS_PAGE as usize]>>>,
    pub now: Cell<u64>,
    pub irqs: Cell<u32>,
}

impl Bus {
    /// Calls `f` on each page piece of `[addr, addr + len)`.
    fn pieces(
        &self,
        addr: u64,
        len: usize,
        mut f: impl FnMut(&mut [u8; 4096], usize, usize, usize),
    ) -> Result<(), BusError> {
        let mut pages = self.pages.borrow_mut();
        let mut off = 0;
        while off < len {
            let a = addr.checked_add(off as u64).ok_or(BusError)?;
            let in_page = (a % BUS_PAGE) as usize;
            let n = (len - off).min(BUS_PAGE as usize - in_page);
            let page = pages.get_mut(&(a - in_page as u64)).ok_or(BusError)?;
            f(page, in_page, off, n);
            off += n;
        }
        Ok(())
    }
}

impl Platform for Bus {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), BusError> {
        self.pieces(addr, buf.len(), |page, at, off, n| {
            buf[off..off + n].copy_from_slice(&page[at..at + n])
        })
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), BusError> {
        self.pieces(addr, buf.len(), |page, at, off, n| {
            page[at..at + n].copy_from_slice(&buf[off..off + n])
        })
    }

    fn now_ns(&self) -> u64 {
        self.now.get()
    }

    fn raise_irq(&self) {
        self.irqs.set(self.irqs.get() + 1);
    }
}

/// The test driver: owns the bus and the GPU, allocates bus pages, kernel
/// VAs (slot 0) and user mappings, and speaks the firmware interface.
pub struct Drv {
    pub bus: Bus,
    pub gpu: Gpu,
    pub next_bus: u64,
    pub ttb: u64,
    /// Kernel VA bump allocator: next free byte and end of what is mapped.
    pub next_kva: u64,
    pub kva_end: u64,
    pub initdata: u64,
    pub devctl: u64,
    pub events: u64,
    pub fwlog: u64,
    pub pipes: [u64; NUM_PIPES],
    pub stamps: u64,
    pub seq: u32,
}

impl Drv {
    /// A booted GPU with an event ring of 64 entries.
    pub fn new() -> Self {
        Self::with(64, INITDATA_MAGIC)
    }

    /// A GPU booted with `event_count` event ring entries and `magic` in
    /// the init data.
    pub fn with(event_count: u32, magic: u32) -> Self {
        let mut d = Drv {
            bus: Bus {
                pages: RefCell::default(),
                now: Cell::new(1_000_000_000),
                irqs: Cell::new(0),
            },
            gpu: Gpu::new(),
            next_bus: 0x8000_0000,
            ttb: 0,
            next_kva: KERNEL_VA_START,
            kva_end: KERNEL_VA_START,
            initdata: 0,
            devctl: 0,
            events: 0,
            fwlog: 0,
            pipes: [0; NUM_PIPES],
            stamps: 0,
            seq: 0,
        };
        d.ttb = d.alloc_bus();
        d.initdata = d.kalloc(INITDATA_SIZE);
        d.devctl = d.ring(16, DEVCTL_SIZE);
        d.events = d.ring(event_count, EVENT_SIZE);
        d.fwlog = d.ring(64, FWLOG_SIZE);
        for i in 0..NUM_PIPES {
            d.pipes[i] = d.ring(16, PIPE_MSG_SIZE);
        }
        d.stamps = d.kalloc(4 * NUM_STAMPS as u64);
        let mut b = [0u8; INITDATA_SIZE as usize];
        put32(&mut b, initdata::MAGIC, magic);
        put32(&mut b, initdata::VERSION, INITDATA_VERSION);
        put64(&mut b, initdata::DEVCTL_RING, d.devctl);
        put64(&mut b, initdata::EVENT_RING, d.events);
        put64(&mut b, initdata::FWLOG_RING, d.fwlog);
        for i in 0..NUM_PIPES {
            put64(&mut b, initdata::PIPE_RINGS + 8 * i as u64, d.pipes[i]);
        }
        put64(&mut b, initdata::STAMPS, d.stamps);
        put32(&mut b, initdata::NUM_STAMPS, NUM_STAMPS as u32);
        d.write_va(0, d.initdata, &b);
        d.reg(REG_TTBAT, d.ttb);
        d.reg(REG_INITDATA, d.initdata);
        d.reg(REG_CONTROL, CONTROL_BOOT);
        d
    }

    pub fn reg(&mut self, reg: u32, val: u64) {
        self.gpu.write_reg(&self.bus, reg, val);
    }

    pub fn status(&self) -> u64 {
        self.gpu.read_reg(&self.bus, REG_STATUS)
    }

    // --- Memory and page tables ---

    /// A zeroed, page-aligned 16 KiB of bus memory.
    pub fn alloc_bus(&mut self) -> u64 {
        let at = self.next_bus;
        self.next_bus += PAGE_SIZE;
        let mut pages = self.bus.pages.borrow_mut();
        for i in 0..PAGE_SIZE / BUS_PAGE {
            pages.insert(at + i * BUS_PAGE, Box::new([0; BUS_PAGE as usize]));
        }
        at
    }

    pub fn bus_u64(&self, addr: u64) -> u64 {
        let mut b = [0u8; 8];
        self.bus.read(addr, &mut b).unwrap();
        u64::from_le_bytes(b)
    }

    pub fn set_bus_u64(&self, addr: u64, v: u64) {
        self.bus.write(addr, &v.to_le_bytes()).unwrap();
    }

    /// Bus address of `slot`'s level-3 entry for `va`, making tables.
    pub fn pte_at(&mut self, slot: usize, va: u64) -> u64 {
        let ttb = self.ttb + 8 * slot as u64;
        let mut table = self.bus_u64(ttb) & !TTB_VALID;
        if table == 0 {
            table = self.alloc_bus();
            self.set_bus_u64(ttb, table | TTB_VALID);
        }
        for level in 1..pgtable::LEVELS {
            let at = table + 8 * pgtable::index(va, level) as u64;
            let e = self.bus_u64(at);
            table = if pgtable::is_valid(e) {
                pgtable::entry_addr(e)
            } else {
                let t = self.alloc_bus();
                self.set_bus_u64(at, pgtable::table_entry(t));
                t
            };
        }
        table + 8 * pgtable::index(va, pgtable::LEVELS) as u64
    }

    pub fn map(&mut self, slot: usize, va: u64, bus: u64, read: bool, write: bool) {
        let at = self.pte_at(slot, va);
        self.set_bus_u64(at, pgtable::page_entry(bus, read, write));
    }

    /// Clears the entry, without telling the GPU.
    pub fn unmap(&mut self, slot: usize, va: u64) {
        let at = self.pte_at(slot, va);
        self.set_bus_u64(at, 0);
    }

    /// Maps fresh pages over `[va, va + size)` of `slot`.
    pub fn umap(&mut self, slot: usize, va: u64, size: u64, read: bool, write: bool) {
        let mut page = va & !(PAGE_SIZE - 1);
        while page < va + size {
            let bus = self.alloc_bus();
            self.map(slot, page, bus, read, write);
            page += PAGE_SIZE;
        }
    }

    /// The bus address of `va` in `slot`, walked in software.
    pub fn va_to_bus(&self, slot: usize, va: u64) -> u64 {
        let root = self.bus_u64(self.ttb + 8 * slot as u64) & !TTB_VALID;
        let read = |a: u64| {
            let mut b = [0u8; 8];
            self.bus.read(a, &mut b).ok().map(|_| u64::from_le_bytes(b))
        };
        let pte = pgtable::walk(root, slot, va, read).unwrap_or_else(|e| panic!("{va:#x}: {e:?}"));
        pgtable::entry_addr(pte) | (va & (PAGE_SIZE - 1))
    }

    pub fn write_va(&self, slot: usize, va: u64, data: &[u8]) {
        let mut off = 0;
        while off < data.len() {
            let cur = va + off as u64;
            let n = (data.len() - off).min((PAGE_SIZE - cur % PAGE_SIZE) as usize);
            self.bus
                .write(self.va_to_bus(slot, cur), &data[off..off + n])
                .unwrap();
            off += n;
        }
    }

    pub fn read_va(&self, slot: usize, va: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        let mut off = 0;
        while off < len {
            let cur = va + off as u64;
            let n = (len - off).min((PAGE_SIZE - cur % PAGE_SIZE) as usize);
            self.bus
                .read(self.va_to_bus(slot, cur), &mut out[off..off + n])
                .unwrap();
            off += n;
        }
        out
    }

    pub fn read_u32(&self, slot: usize, va: u64) -> u32 {
        u32::from_le_bytes(self.read_va(slot, va, 4).try_into().unwrap())
    }

    pub fn write_u32(&self, slot: usize, va: u64, v: u32) {
        self.write_va(slot, va, &v.to_le_bytes());
    }

    pub fn read_u64(&self, slot: usize, va: u64) -> u64 {
        u64::from_le_bytes(self.read_va(slot, va, 8).try_into().unwrap())
    }

    /// `size` zeroed bytes of kernel memory (64-byte aligned), mapped RW in
    /// slot 0.
    pub fn kalloc(&mut self, size: u64) -> u64 {
        let va = self.next_kva.next_multiple_of(64);
        self.next_kva = va + size;
        while self.kva_end < self.next_kva {
            let bus = self.alloc_bus();
            self.map(0, self.kva_end, bus, true, true);
            self.kva_end += PAGE_SIZE;
        }
        va
    }

    // --- Rings ---

    /// A ring of `count` entries of `size` bytes; returns its descriptor.
    pub fn ring(&mut self, count: u32, size: u64) -> u64 {
        let desc = self.kalloc(RING_DESC_SIZE);
        let base = self.kalloc(u64::from(count) * size);
        let mut b = [0u8; RING_DESC_SIZE as usize];
        put64(&mut b, ring::BASE, base);
        put32(&mut b, ring::COUNT, count);
        put32(&mut b, ring::ENTRY_SIZE, size as u32);
        self.write_va(0, desc, &b);
        desc
    }

    pub fn ring_desc(&self, desc: u64) -> (RingDesc, u32, u32) {
        let d = RingDesc {
            base: self.read_u64(0, desc + ring::BASE),
            count: self.read_u32(0, desc + ring::COUNT),
            entry_size: self.read_u32(0, desc + ring::ENTRY_SIZE),
        };
        (
            d,
            self.read_u32(0, desc + ring::WPTR),
            self.read_u32(0, desc + ring::RPTR),
        )
    }

    /// Produces one message.
    pub fn push(&self, desc: u64, msg: &[u8]) {
        let (d, wptr, rptr) = self.ring_desc(desc);
        assert_ne!(d.next(wptr), rptr, "ring full");
        self.write_va(0, d.entry(wptr), msg);
        self.write_u32(0, desc + ring::WPTR, d.next(wptr));
    }

    /// Consumes every message.
    pub fn pop_all(&self, desc: u64) -> Vec<Vec<u8>> {
        let (d, wptr, mut rptr) = self.ring_desc(desc);
        let mut out = Vec::new();
        while rptr != wptr {
            out.push(self.read_va(0, d.entry(rptr), d.entry_size as usize));
            rptr = d.next(rptr);
        }
        self.write_u32(0, desc + ring::RPTR, rptr);
        out
    }

    pub fn events(&self) -> Vec<Event> {
        self.pop_all(self.events)
            .iter()
            .map(|m| Event::decode(m[..].try_into().unwrap()))
            .collect()
    }

    pub fn logs(&self) -> Vec<(u32, String)> {
        self.pop_all(self.fwlog)
            .iter()
            .map(|m| {
                let level = u32::from_le_bytes(m[0..4].try_into().unwrap());
                let len = u32::from_le_bytes(m[4..8].try_into().unwrap()) as usize;
                (level, String::from_utf8_lossy(&m[8..8 + len]).into_owned())
            })
            .collect()
    }

    pub fn devctl(&mut self, op: u32, arg0: u32, arg1: u64) -> u32 {
        self.seq += 1;
        let m = DevCtl {
            op,
            seq: self.seq,
            arg0,
            arg1,
        };
        self.push(self.devctl, &m.encode());
        self.seq
    }

    // --- Work queues and jobs ---

    /// A work queue of 16 entries; returns its info's VA.
    pub fn create_wq(&mut self, slot: u32, priority: u32, stamp_index: u32) -> u64 {
        let ring = self.kalloc(8 * 16);
        let va = self.kalloc(WQ_INFO_SIZE);
        let mut b = [0u8; WQ_INFO_SIZE as usize];
        put64(&mut b, wq::RING, ring);
        put32(&mut b, wq::COUNT, 16);
        put32(&mut b, wq::SLOT, slot);
        put32(&mut b, wq::STAMP_INDEX, stamp_index);
        put32(&mut b, wq::PRIORITY, priority);
        self.write_va(0, va, &b);
        va
    }

    pub fn wq(&self, wq: u64, field: u64) -> u32 {
        self.read_u32(0, wq + field)
    }

    /// Queues a job on `wq` and tells its pipe; returns the job's VA.
    pub fn submit(
        &mut self,
        wq: u64,
        job_id: u64,
        stamp_value: u32,
        timeout_ms: u32,
        cmds: &[(Cmd, u16)],
    ) -> u64 {
        let job = self.kalloc(JOB_CMDS + FW_CMD_SIZE * cmds.len() as u64);
        let h = JobHeader {
            num_cmds: cmds.len() as u32,
            job_id,
            stamp_value,
            timeout_ms,
        };
        self.write_va(0, job, &h.encode());
        self.write_va(0, job + JOB_HEADER_SIZE, &[0; JOB_SAVE_SIZE as usize]);
        for (i, (c, barrier)) in cmds.iter().enumerate() {
            self.write_va(
                0,
                job + JOB_CMDS + FW_CMD_SIZE * i as u64,
                &c.encode_fw(*barrier),
            );
        }
        let ring = self.read_u64(0, wq + wq::RING);
        let count = self.wq(wq, wq::COUNT);
        let wptr = self.wq(wq, wq::WPTR);
        self.write_va(0, ring + 8 * u64::from(wptr), &job.to_le_bytes());
        self.write_u32(0, wq + wq::WPTR, (wptr + 1) % count);
        let prio = self.wq(wq, wq::PRIORITY) as usize;
        let mut m = [0u8; PIPE_MSG_SIZE as usize];
        put32(&mut m, 0, PIPE_RUN_WQ);
        put64(&mut m, 8, wq);
        self.push(self.pipes[prio], &m);
        job
    }

    /// Writes `insns` at `va` of `slot` (already mapped); returns the size.
    pub fn program(&self, slot: usize, va: u64, insns: &[Insn]) -> u32 {
        let bytes: Vec<u8> = insns.iter().flat_map(|i| i.encode()).collect();
        self.write_va(slot, va, &bytes);
        bytes.len() as u32
    }

    pub fn stamp(&self, index: u32) -> u32 {
        self.read_u32(0, self.stamps + 4 * u64::from(index))
    }

    /// Calls `run` until it returns false; returns the number of calls.
    pub fn run_to_idle(&mut self) -> usize {
        for n in 1..=1_000_000 {
            if !self.gpu.run(&self.bus) {
                return n;
            }
        }
        panic!("the GPU never went idle");
    }
}

pub fn put32(b: &mut [u8], at: u64, v: u32) {
    b[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn put64(b: &mut [u8], at: u64, v: u64) {
    b[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes());
}

pub fn complete(job_id: u64, stamp_index: u32, slot: u32) -> Event {
    Event {
        kind: EVENT_COMPLETE,
        stamp_index,
        slot,
        job_id,
        ..Event::default()
    }
}

pub fn fault(kind: u32, job_id: u64, stamp_index: u32, unit: u8, access: u8, addr: u64) -> Event {
    Event {
        kind,
        stamp_index,
        slot: 1,
        unit,
        access,
        job_id,
        addr,
    }
}

pub fn compute(
    program: u64,
    program_size: u32,
    invocations: u32,
    args: [u64; 4],
    max_steps: u32,
) -> Cmd {
    Cmd::Compute {
        program,
        program_size,
        invocations,
        args,
        max_steps,
    }
}

pub fn words(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Deterministic bytes.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub const NONE: u16 = BARRIER_NONE;

/// A small xorshift generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
