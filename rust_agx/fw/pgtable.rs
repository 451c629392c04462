// SPDX-License-Identifier: GPL-2.0

//! GPU page tables, in the spirit of Apple's UAT.
//!
//! 16 KiB pages and three levels of 2048 eight-byte entries (one 16 KiB
//! table each), so a context translates 47-bit virtual addresses. The
//! addresses in entries are bus addresses (what the GPU's DMA sees).
//!
//! An entry is valid with [`PTE_VALID`]; at levels 1 and 2 it must also
//! have [`PTE_TABLE`] and points to the next table; at level 3 it must have
//! [`PTE_TABLE`] too (as ARM's level-3 page descriptors) and maps one page
//! with the permissions [`PTE_READ`] and [`PTE_WRITE`].
//!
//! Context slot 0 is the kernel's: it maps the firmware's structures in
//! [`KERNEL_VA_START`, [`KERNEL_VA_END`]). Slots 1.. are user VMs, which
//! map only [[`USER_VA_START`], [`USER_VA_END`]).

/// Page size of the GPU MMU.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 14;
/// Entries of one table.
pub const ENTRIES: usize = 2048;
/// Bits of virtual address translated.
pub const VA_BITS: u32 = PAGE_SHIFT + 3 * 11;
/// Number of levels.
pub const LEVELS: usize = 3;

/// Entry is valid.
pub const PTE_VALID: u64 = 1 << 0;
/// Entry points to a table (levels 1, 2) or is a page (level 3).
pub const PTE_TABLE: u64 = 1 << 1;
/// The GPU may read the page.
pub const PTE_READ: u64 = 1 << 6;
/// The GPU may write the page.
pub const PTE_WRITE: u64 = 1 << 7;
/// Bits of an entry holding the output (bus) address.
pub const PTE_ADDR_MASK: u64 = ((1 << 48) - 1) & !(PAGE_SIZE - 1);

/// First user VA.
pub const USER_VA_START: u64 = 1 << 32;
/// End of the user VA range.
pub const USER_VA_END: u64 = 1 << 46;
/// First kernel VA (context slot 0 only).
pub const KERNEL_VA_START: u64 = 1 << 46;
/// End of the kernel VA range.
pub const KERNEL_VA_END: u64 = 1 << VA_BITS;

/// Context slots, including the kernel's slot 0.
pub const NUM_SLOTS: usize = 64;

/// Index in the table of `level` (1..=3) of `va`.
pub const fn index(va: u64, level: usize) -> usize {
    let shift = PAGE_SHIFT as usize + 11 * (LEVELS - level);
    ((va >> shift) & (ENTRIES as u64 - 1)) as usize
}

/// Entry that points to the table at bus address `table`.
pub const fn table_entry(table: u64) -> u64 {
    (table & PTE_ADDR_MASK) | PTE_VALID | PTE_TABLE
}

/// Level-3 entry that maps the page at bus address `page`.
pub const fn page_entry(page: u64, read: bool, write: bool) -> u64 {
    let mut pte = (page & PTE_ADDR_MASK) | PTE_VALID | PTE_TABLE;
    if read {
        pte |= PTE_READ;
    }
    if write {
        pte |= PTE_WRITE;
    }
    pte
}

/// Whether `pte` is a valid entry of a table or page.
pub const fn is_valid(pte: u64) -> bool {
    pte & (PTE_VALID | PTE_TABLE) == PTE_VALID | PTE_TABLE
}

/// Output address of an entry.
pub const fn entry_addr(pte: u64) -> u64 {
    pte & PTE_ADDR_MASK
}

/// The kind of an access, for permission checks and fault reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A read (also instruction fetch).
    Read,
    /// A write.
    Write,
}

/// Why a translation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No valid entry at some level, or the address is outside the range.
    Unmapped,
    /// The page is mapped without the permission for the access.
    Permission,
    /// A table or the page is not on the bus (a DMA error).
    Bus,
}

/// Whether a level-3 entry allows `access`.
pub const fn permits(pte: u64, access: Access) -> bool {
    match access {
        Access::Read => pte & PTE_READ != 0,
        Access::Write => pte & PTE_WRITE != 0,
    }
}

/// Whether `va` may be used by context `slot`.
pub const fn va_in_slot(va: u64, slot: usize) -> bool {
    if slot == 0 {
        va >= KERNEL_VA_START && va < KERNEL_VA_END
    } else {
        va >= USER_VA_START && va < USER_VA_END
    }
}

/// Translates `va` of context `slot`, whose root table is at bus address
/// `root`, reading entries with `read_u64` (which fails for bus addresses
/// the GPU cannot reach). Returns the level-3 entry.
pub fn walk(
    root: u64,
    slot: usize,
    va: u64,
    mut read_u64: impl FnMut(u64) -> Option<u64>,
) -> Result<u64, Fault> {
    if !va_in_slot(va, slot) {
        return Err(Fault::Unmapped);
    }
    let mut table = root;
    for level in 1..=LEVELS {
        let pte = read_u64(table + 8 * index(va, level) as u64).ok_or(Fault::Bus)?;
        if !is_valid(pte) {
            return Err(Fault::Unmapped);
        }
        if level == LEVELS {
            return Ok(pte);
        }
        table = entry_addr(pte);
    }
    Err(Fault::Unmapped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_cover_the_address() {
        let va = (5u64 << 36) | (7 << 25) | (9 << 14) | 0x123;
        assert_eq!(index(va, 1), 5);
        assert_eq!(index(va, 2), 7);
        assert_eq!(index(va, 3), 9);
        assert_eq!(index(KERNEL_VA_START, 1), 1024);
    }

    #[test]
    fn entries_encode_permissions() {
        let p = page_entry(0x1234_4000, true, false);
        assert!(is_valid(p));
        assert!(permits(p, Access::Read));
        assert!(!permits(p, Access::Write));
        assert_eq!(entry_addr(p), 0x1234_4000);
        assert!(!is_valid(PTE_VALID));
        assert_eq!(entry_addr(table_entry(0xdead_c000 | 0x3fff)), 0xdead_c000);
    }

    #[test]
    fn walk_translates_and_faults() {
        // Three tables at bus 0x10000, 0x20000, 0x30000 in a sparse memory.
        let va = USER_VA_START + 3 * PAGE_SIZE;
        let mut mem = std::collections::BTreeMap::new();
        mem.insert(0x10000 + 8 * index(va, 1) as u64, table_entry(0x20000));
        mem.insert(0x20000 + 8 * index(va, 2) as u64, table_entry(0x30000));
        mem.insert(
            0x30000 + 8 * index(va, 3) as u64,
            page_entry(0x99_c000, true, true),
        );
        let read = |a: u64| Some(*mem.get(&a).unwrap_or(&0));
        assert_eq!(entry_addr(walk(0x10000, 1, va, read).unwrap()), 0x99_c000);
        assert_eq!(walk(0x10000, 1, va + PAGE_SIZE, read), Err(Fault::Unmapped));
        assert_eq!(walk(0x10000, 0, va, read), Err(Fault::Unmapped));
        assert_eq!(walk(0x10000, 1, va, |_| None), Err(Fault::Bus));
    }
}
