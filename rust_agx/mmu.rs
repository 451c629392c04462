// SPDX-License-Identifier: GPL-2.0

//! GPU page tables and VMs.
//!
//! Each VM has its own three-level tables in the [`pgtable`] format and, for
//! its lifetime, a context slot whose TTB entry points at its root. Mappings
//! of GEM objects put the object's pages on the bus and write level-3
//! entries; unmapping clears them, invalidates the slot's TLB in the firmware
//! and only then takes the pages off the bus, so the GPU never reaches a
//! page that has left the VM through a stale translation.

use crate::{
    fw::pgtable::{self, PAGE_SIZE},
    gpu::Gpu,
};
use abstractions::{
    bus::{Bus, BusMapping},
    gem,
};
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{aref::ARef, Arc, Mutex},
};

/// CPU pages per GPU page.
const CPU_PAGES: usize = (PAGE_SIZE as usize) >> kernel::page::PAGE_SHIFT;

/// Page tables of one context.
pub(crate) struct PageTables {
    bus: Arc<Bus>,
    root: BusMapping,
    /// Level-2 and level-3 tables, by `level << 56 | va >> shift`.
    tables: RBTree<u64, BusMapping>,
}

impl PageTables {
    /// Empty tables.
    pub(crate) fn new(bus: &Arc<Bus>) -> Result<Self> {
        Ok(Self {
            bus: bus.clone(),
            root: bus.alloc(CPU_PAGES)?,
            tables: RBTree::new(),
        })
    }

    /// Bus address of the root table, for the TTB entry.
    pub(crate) fn root(&self) -> u64 {
        self.root.addr()
    }

    fn key(va: u64, level: usize) -> u64 {
        // The VA bits above the table's own coverage name it.
        let shift = pgtable::PAGE_SHIFT as usize + 11 * (pgtable::LEVELS - level + 1);
        ((level as u64) << 56) | (va >> shift)
    }

    /// The table of `level` (2 or 3) that covers `va`, allocated if needed.
    fn table(&mut self, va: u64, level: usize) -> Result<&BusMapping> {
        let key = Self::key(va, level);
        if self.tables.get(&key).is_none() {
            let t = self.bus.alloc(CPU_PAGES)?;
            let addr = t.addr();
            // Link it from its parent before anyone could look.
            let parent = if level == 2 {
                &self.root
            } else {
                self.tables.get(&Self::key(va, 2)).ok_or(EINVAL)?
            };
            parent.write_u64(
                8 * pgtable::index(va, level - 1) as u64,
                pgtable::table_entry(addr),
            )?;
            self.tables.try_create_and_insert(key, t, GFP_KERNEL)?;
        }
        self.tables.get(&key).ok_or(EINVAL)
    }

    /// Maps the GPU page at `va` to bus address `pa`.
    pub(crate) fn map_page(&mut self, va: u64, pa: u64, read: bool, write: bool) -> Result {
        self.table(va, 2)?;
        let l3 = self.table(va, 3)?;
        l3.write_u64(
            8 * pgtable::index(va, 3) as u64,
            pgtable::page_entry(pa, read, write),
        )
    }

    /// Unmaps the GPU page at `va` (nothing if it was not mapped).
    pub(crate) fn unmap_page(&mut self, va: u64) -> Result {
        if let Some(l3) = self.tables.get(&Self::key(va, 3)) {
            l3.write_u64(8 * pgtable::index(va, 3) as u64, 0)?;
        }
        Ok(())
    }
}

/// One mapping of a GEM object range in a VM.
struct Mapping {
    start: u64,
    end: u64,
    // Dropped after the TLB invalidation, see `Vm::unmap`.
    _pages: BusMapping,
    _obj: ARef<gem::Object>,
}

/// The last fault of a VM or queue, for `GET_FAULT`.
#[derive(Clone, Copy, Default)]
pub(crate) struct FaultState {
    pub(crate) state: u32,
    pub(crate) unit: u32,
    pub(crate) address: u64,
    pub(crate) access: u32,
    pub(crate) count: u32,
}

struct VmInner {
    pt: PageTables,
    mappings: KVec<Mapping>,
    fault: FaultState,
}

/// A VM's context slot; dropping it takes the VM out of the TTB and the
/// firmware's TLB.
struct Slot {
    gpu: Arc<Gpu>,
    slot: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gpu.free_slot(self.slot);
    }
}

/// A GPU VM: an address space in a context slot.
#[pin_data]
pub(crate) struct Vm {
    gpu: Arc<Gpu>,
    // Dropped before `inner`: out of the slot before the tables and pages go.
    ctx: Slot,
    #[pin]
    inner: Mutex<VmInner>,
}

impl Vm {
    /// Creates a VM in a free context slot (`EBUSY` if there is none).
    pub(crate) fn new(gpu: &Arc<Gpu>) -> Result<Arc<Self>> {
        let pt = PageTables::new(gpu.bus())?;
        let ctx = Slot {
            gpu: gpu.clone(),
            slot: gpu.alloc_slot(pt.root())?,
        };
        let inner = VmInner {
            pt,
            mappings: KVec::new(),
            fault: FaultState::default(),
        };
        Arc::pin_init(
            pin_init!(Self {
                gpu: gpu.clone(),
                ctx,
                inner <- new_mutex!(inner),
            }),
            GFP_KERNEL,
        )
    }

    /// The VM's context slot.
    pub(crate) fn slot(&self) -> u32 {
        self.ctx.slot
    }

    /// Maps `range` bytes of `obj` from `offset` at `addr`. All arguments
    /// are page aligned and checked against the VM range by the caller;
    /// here the object range and overlaps are checked.
    pub(crate) fn map(
        &self,
        obj: ARef<gem::Object>,
        offset: u64,
        range: u64,
        addr: u64,
        read: bool,
        write: bool,
    ) -> Result {
        let end = addr.checked_add(range).ok_or(EINVAL)?;
        if offset
            .checked_add(range)
            .is_none_or(|e| e > obj.size() as u64)
        {
            return Err(EINVAL);
        }
        let mut inner = self.inner.lock();
        if inner.mappings.iter().any(|m| m.start < end && addr < m.end) {
            return Err(EINVAL);
        }
        let cpu_shift = kernel::page::PAGE_SHIFT;
        let pages = self.gpu.bus().map_gem(
            &obj,
            (offset >> cpu_shift) as usize,
            (range >> cpu_shift) as usize,
        )?;
        let mut va = addr;
        while va < end {
            if let Err(e) = inner
                .pt
                .map_page(va, pages.addr() + (va - addr), read, write)
            {
                // Undo what was written; nothing ran on it yet but the TLB
                // may have been filled by a stray access: invalidate.
                let mut u = addr;
                while u < va {
                    let _ = inner.pt.unmap_page(u);
                    u += PAGE_SIZE;
                }
                drop(inner);
                self.gpu.tlb_invalidate(self.slot());
                return Err(e);
            }
            va += PAGE_SIZE;
        }
        inner.mappings.push(
            Mapping {
                start: addr,
                end,
                _pages: pages,
                _obj: obj,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Unmaps every mapping inside `[addr, addr + range)`; `EINVAL` if a
    /// mapping straddles its edges.
    pub(crate) fn unmap(&self, addr: u64, range: u64) -> Result {
        let end = addr.checked_add(range).ok_or(EINVAL)?;
        let mut removed = KVec::new();
        {
            let mut inner = self.inner.lock();
            if inner
                .mappings
                .iter()
                .any(|m| m.start < end && addr < m.end && (m.start < addr || m.end > end))
            {
                return Err(EINVAL);
            }
            let mut i = 0;
            while i < inner.mappings.len() {
                if inner.mappings[i].start >= addr && inner.mappings[i].end <= end {
                    let m = inner.mappings.remove(i)?;
                    let mut va = m.start;
                    while va < m.end {
                        inner.pt.unmap_page(va)?;
                        va += PAGE_SIZE;
                    }
                    removed.push(m, GFP_KERNEL)?;
                } else {
                    i += 1;
                }
            }
        }
        if !removed.is_empty() {
            self.gpu.tlb_invalidate(self.slot());
        }
        // Now the pages may leave the bus.
        drop(removed);
        Ok(())
    }

    /// Records a fault of a job in this VM.
    pub(crate) fn record_fault(&self, f: FaultState) {
        let mut inner = self.inner.lock();
        let count = inner.fault.count.saturating_add(1);
        inner.fault = FaultState { count, ..f };
    }

    /// The VM's last fault.
    pub(crate) fn fault(&self) -> FaultState {
        self.inner.lock().fault
    }
}
