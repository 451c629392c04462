// SPDX-License-Identifier: GPL-2.0

//! Userspace for rust_agx: a small, safe library over the UAPI of
//! `include/uapi/drm/rust_agx_drm.h` and the generic DRM ioctls it needs
//! (GEM, PRIME, syncobjs, sync files), plus vgem, the C baseline of
//! `agx-bench`.
//!
//! - [`Device`]: an open rust_agx render node; every driver ioctl, typed
//!   (`vm_create`, `submit`, ...) and raw (`raw_*`, every field and pointer
//!   under the caller's control, for the ioctl tests and the fuzzer).
//! - [`Bo`], [`Vm`], [`Queue`], [`Syncobj`]: owned objects, released on drop.
//! - [`Context`]: a VM, a queue and a VA allocator; [`Buffer`]s are BOs
//!   mapped in the VM and on the CPU; [`Context::run`] submits a
//!   [`CmdBuf`] and returns its fence's status.
//! - [`Vgem`]: the vgem driver's card node.
//! - [`fork`]: a child process for the multi-process tests.
//!
//! Every `unsafe` of the crate is in this file. The kernel only touches our
//! memory through an ioctl's argument (whose size the request number
//! encodes, and which is always a Rust value of exactly that size) and
//! through the user pointers inside it, which this file only ever fills
//! from a borrowed buffer big enough for what the ioctl does with it
//! ([`UserPtr`]) or with an address the kernel must refuse ([`BadAddr`]).
//! Mapped BOs are read and written through raw pointers, never through
//! references, because the GPU writes them behind the compiler's back.

#![deny(clippy::undocumented_unsafe_blocks, unsafe_op_in_unsafe_fn)]

pub mod cmdbuf;
pub mod programs;
pub mod rng;
pub mod workloads;

pub use agxfw::fw;
pub use cmdbuf::CmdBuf;

use std::ffi::CStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fw::uapi;

/// Errors are the kernel's errno, as `std::io::Error` (see [`errno`]).
pub type Result<T> = io::Result<T>;

// The structs below spell `size_t` and pointers as u64.
const _: () = assert!(size_of::<usize>() == 8, "64-bit targets only");

/// Page size of the GPU's MMU (`DRM_RAGX_PAGE_SIZE`).
pub const PAGE_SIZE: u64 = 0x4000;

/// Rounds `v` up to a multiple of [`PAGE_SIZE`] (`None` on overflow).
pub fn page_round_up(v: u64) -> Option<u64> {
    Some(v.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

// --- ioctl numbers -------------------------------------------------------------

/// The `_IOC` encoding of ioctl numbers (include/uapi/asm-generic/ioctl.h).
pub mod ioc {
    /// `_IOC_NONE`.
    pub const NONE: u32 = 0;
    /// `_IOC_WRITE`: userspace writes the argument (the kernel reads it).
    pub const WRITE: u32 = 1;
    /// `_IOC_READ`: the kernel writes the argument back.
    pub const READ: u32 = 2;
    /// `DRM_IOCTL_BASE`.
    pub const DRM: u8 = b'd';
    /// `DRM_COMMAND_BASE`: first driver-private ioctl number.
    pub const DRM_COMMAND_BASE: u8 = 0x40;
    /// `SYNC_IOC_MAGIC`.
    pub const SYNC: u8 = b'>';

    /// `_IOC(dir, type, nr, size)`.
    pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u64 {
        assert!(size < 1 << 14);
        ((dir as u64) << 30) | ((size as u64) << 16) | ((ty as u64) << 8) | nr as u64
    }

    /// The argument size an ioctl number encodes.
    pub const fn size(code: u64) -> usize {
        ((code >> 16) & 0x3fff) as usize
    }
}

/// An ioctl request whose argument is a `T`: the number encodes
/// `size_of::<T>()`, so the kernel's copies stay inside the `T`.
pub struct Req<T> {
    code: u64,
    _arg: PhantomData<fn(T)>,
}

impl<T> Clone for Req<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Req<T> {}

impl<T> Req<T> {
    const fn iowr(ty: u8, nr: u8) -> Self {
        Self {
            code: ioc::ioc(ioc::READ | ioc::WRITE, ty, nr, size_of::<T>()),
            _arg: PhantomData,
        }
    }

    const fn iow(ty: u8, nr: u8) -> Self {
        Self {
            code: ioc::ioc(ioc::WRITE, ty, nr, size_of::<T>()),
            _arg: PhantomData,
        }
    }

    /// The ioctl number.
    pub const fn code(self) -> u64 {
        self.code
    }
}

/// The ioctl requests, with their argument types.
pub mod req {
    use super::abi::*;
    use super::ioc::{DRM, DRM_COMMAND_BASE as CB, SYNC};
    use super::uapi::nr;
    use super::Req;

    /// `DRM_IOCTL_VERSION`.
    pub const VERSION: Req<Version> = Req::iowr(DRM, 0x00);
    /// `DRM_IOCTL_GEM_CLOSE`.
    pub const GEM_CLOSE: Req<GemClose> = Req::iow(DRM, 0x09);
    /// `DRM_IOCTL_PRIME_HANDLE_TO_FD`. Crate-private: it returns a file
    /// descriptor, which [`super::Device::raw_prime_handle_to_fd`] owns.
    pub(crate) const PRIME_HANDLE_TO_FD: Req<PrimeHandle> = Req::iowr(DRM, 0x2d);
    /// `DRM_IOCTL_PRIME_FD_TO_HANDLE`.
    pub const PRIME_FD_TO_HANDLE: Req<PrimeHandle> = Req::iowr(DRM, 0x2e);
    /// `DRM_IOCTL_MODE_CREATE_DUMB`.
    pub const MODE_CREATE_DUMB: Req<ModeCreateDumb> = Req::iowr(DRM, 0xb2);
    /// `DRM_IOCTL_MODE_MAP_DUMB`.
    pub const MODE_MAP_DUMB: Req<ModeMapDumb> = Req::iowr(DRM, 0xb3);
    /// `DRM_IOCTL_SYNCOBJ_CREATE`.
    pub const SYNCOBJ_CREATE: Req<SyncobjCreate> = Req::iowr(DRM, 0xbf);
    /// `DRM_IOCTL_SYNCOBJ_DESTROY`.
    pub const SYNCOBJ_DESTROY: Req<SyncobjDestroy> = Req::iowr(DRM, 0xc0);
    /// `DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD`. Crate-private: it returns a file
    /// descriptor, which [`super::Device::raw_syncobj_handle_to_fd`] owns.
    pub(crate) const SYNCOBJ_HANDLE_TO_FD: Req<SyncobjHandle> = Req::iowr(DRM, 0xc1);
    /// `DRM_IOCTL_SYNCOBJ_WAIT`.
    pub const SYNCOBJ_WAIT: Req<SyncobjWait> = Req::iowr(DRM, 0xc3);
    /// `DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT`.
    pub const SYNCOBJ_TIMELINE_WAIT: Req<SyncobjTimelineWait> = Req::iowr(DRM, 0xca);
    /// `DRM_IOCTL_SYNCOBJ_QUERY`.
    pub const SYNCOBJ_QUERY: Req<SyncobjTimelineArray> = Req::iowr(DRM, 0xcb);
    /// `DRM_IOCTL_SYNCOBJ_TRANSFER`.
    pub const SYNCOBJ_TRANSFER: Req<SyncobjTransfer> = Req::iowr(DRM, 0xcc);

    /// `DRM_IOCTL_RAGX_GET_PARAMS`.
    pub const RAGX_GET_PARAMS: Req<GetParams> = Req::iowr(DRM, CB + nr::GET_PARAMS as u8);
    /// `DRM_IOCTL_RAGX_GET_TIME`.
    pub const RAGX_GET_TIME: Req<GetTime> = Req::iowr(DRM, CB + nr::GET_TIME as u8);
    /// `DRM_IOCTL_RAGX_VM_CREATE`.
    pub const RAGX_VM_CREATE: Req<VmCreate> = Req::iowr(DRM, CB + nr::VM_CREATE as u8);
    /// `DRM_IOCTL_RAGX_VM_DESTROY`.
    pub const RAGX_VM_DESTROY: Req<VmDestroy> = Req::iow(DRM, CB + nr::VM_DESTROY as u8);
    /// `DRM_IOCTL_RAGX_VM_BIND`.
    pub const RAGX_VM_BIND: Req<VmBind> = Req::iow(DRM, CB + nr::VM_BIND as u8);
    /// `DRM_IOCTL_RAGX_GEM_CREATE`.
    pub const RAGX_GEM_CREATE: Req<GemCreate> = Req::iowr(DRM, CB + nr::GEM_CREATE as u8);
    /// `DRM_IOCTL_RAGX_GEM_MMAP_OFFSET`.
    pub const RAGX_GEM_MMAP_OFFSET: Req<GemMmapOffset> =
        Req::iowr(DRM, CB + nr::GEM_MMAP_OFFSET as u8);
    /// `DRM_IOCTL_RAGX_QUEUE_CREATE`.
    pub const RAGX_QUEUE_CREATE: Req<QueueCreate> = Req::iowr(DRM, CB + nr::QUEUE_CREATE as u8);
    /// `DRM_IOCTL_RAGX_QUEUE_DESTROY`.
    pub const RAGX_QUEUE_DESTROY: Req<QueueDestroy> = Req::iow(DRM, CB + nr::QUEUE_DESTROY as u8);
    /// `DRM_IOCTL_RAGX_SUBMIT`.
    pub const RAGX_SUBMIT: Req<Submit> = Req::iow(DRM, CB + nr::SUBMIT as u8);
    /// `DRM_IOCTL_RAGX_GET_FAULT`.
    pub const RAGX_GET_FAULT: Req<GetFault> = Req::iowr(DRM, CB + nr::GET_FAULT as u8);

    /// `DRM_IOCTL_VGEM_FENCE_ATTACH`.
    pub const VGEM_FENCE_ATTACH: Req<VgemFenceAttach> = Req::iowr(DRM, CB + 0x1);
    /// `DRM_IOCTL_VGEM_FENCE_SIGNAL`.
    pub const VGEM_FENCE_SIGNAL: Req<VgemFenceSignal> = Req::iow(DRM, CB + 0x2);

    /// `SYNC_IOC_FILE_INFO`.
    pub const SYNC_FILE_INFO: Req<SyncFileInfo> = Req::iowr(SYNC, 4);
}

// --- ioctl argument structs ---------------------------------------------------------

/// The ioctl arguments as `#[repr(C)]` structs, field for field as in
/// rust_agx_drm.h, drm.h, drm_mode.h, vgem_drm.h and linux/sync_file.h
/// (x86-64: pointers and `size_t` are u64). The unit tests check them
/// against the SIZE constants and byte offsets of `fw::uapi`.
pub mod abi {
    macro_rules! abi_struct {
        ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident: $t:ty),* $(,)? }) => {
            $(#[$m])*
            #[repr(C)]
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
            pub struct $name {
                $($(#[$fm])* pub $f: $t,)*
            }
        };
    }

    abi_struct!(
        /// `struct drm_ragx_params_global`.
        ParamsGlobal {
        /// Incremented on incompatible change.
        uabi_version: u32,
        /// Model of the virtual GPU.
        gpu_generation: u32,
        /// VMs that may exist at once.
        num_vms_max: u32,
        /// Queue priorities.
        num_priorities: u32,
        /// First usable GPU VA.
        vm_start: u64,
        /// End (exclusive) of usable GPU VAs.
        vm_end: u64,
        /// MMU page size.
        page_size: u64,
        /// GET_TIME frequency.
        timer_frequency_hz: u64,
        /// Commands per submission.
        max_commands_per_submission: u32,
        /// Bytes per command buffer.
        max_cmdbuf_size: u32,
        /// In plus out syncs per submission.
        max_syncs: u32,
        /// Invocations per compute command.
        max_invocations: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_get_params`.
        GetParams {
        /// Parameter group (0).
        param_group: u32,
        /// MBZ.
        pad: u32,
        /// User pointer the parameters are written to.
        pointer: u64,
        /// In: bytes at `pointer`; out: size of the group.
        size: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_get_time`.
        GetTime {
        /// MBZ.
        flags: u64,
        /// Out: GPU timer.
        gpu_timestamp: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_vm_create`.
        VmCreate {
        /// MBZ.
        flags: u32,
        /// Out: VM id.
        vm_id: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_vm_destroy`.
        VmDestroy {
        /// VM id.
        vm_id: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_vm_bind_op`.
        VmBindOp {
        /// `BIND_*`.
        flags: u32,
        /// GEM handle; 0 for an unmap.
        handle: u32,
        /// Offset in the object; 0 for an unmap.
        offset: u64,
        /// Bytes.
        range: u64,
        /// GPU VA.
        addr: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_vm_bind`.
        VmBind {
        /// VM id.
        vm_id: u32,
        /// Number of ops at `userptr`.
        num_binds: u32,
        /// Bytes per op.
        stride: u32,
        /// MBZ.
        pad: u32,
        /// User pointer to the ops.
        userptr: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_gem_create`.
        GemCreate {
        /// Bytes.
        size: u64,
        /// MBZ.
        flags: u32,
        /// Out: handle.
        handle: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_gem_mmap_offset`.
        GemMmapOffset {
        /// GEM handle.
        handle: u32,
        /// MBZ.
        flags: u32,
        /// Out: fake offset to mmap.
        offset: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_queue_create`.
        QueueCreate {
        /// MBZ.
        flags: u32,
        /// VM of the queue's jobs.
        vm_id: u32,
        /// Priority.
        priority: u32,
        /// Out: queue id.
        queue_id: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_queue_destroy`.
        QueueDestroy {
        /// Queue id.
        queue_id: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_sync`.
        Sync {
        /// `SYNC_*`.
        sync_type: u32,
        /// Syncobj handle.
        handle: u32,
        /// Timeline point; MBZ for a binary syncobj.
        timeline_value: u64,
    });

    abi_struct!(
        /// `struct drm_ragx_submit`.
        Submit {
        /// User pointer to in- then out-syncs.
        syncs: u64,
        /// User pointer to the command buffer.
        cmdbuf: u64,
        /// MBZ.
        flags: u32,
        /// Queue id.
        queue_id: u32,
        /// In-syncs.
        in_sync_count: u32,
        /// Out-syncs.
        out_sync_count: u32,
        /// Bytes at `cmdbuf`.
        cmdbuf_size: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_ragx_get_fault`.
        GetFault {
        /// `FAULT_OBJECT_*`.
        object: u32,
        /// Queue or VM id.
        id: u32,
        /// Out: `FAULT_*` of the last fault.
        state: u32,
        /// Out: `UNIT_*` that faulted.
        unit: u32,
        /// Out: faulting GPU VA.
        address: u64,
        /// Out: `ACCESS_*`.
        access: u32,
        /// Out: faults so far.
        count: u32,
    });

    /// `DRM_RAGX_UNIT_BLIT`.
    pub const UNIT_BLIT: u32 = 0;
    /// `DRM_RAGX_UNIT_COMPUTE`.
    pub const UNIT_COMPUTE: u32 = 1;
    /// `DRM_RAGX_ACCESS_READ`.
    pub const ACCESS_READ: u32 = 1 << 0;
    /// `DRM_RAGX_ACCESS_WRITE`.
    pub const ACCESS_WRITE: u32 = 1 << 1;

    abi_struct!(
        /// `struct drm_version`.
        Version {
        /// Major.
        version_major: i32,
        /// Minor.
        version_minor: i32,
        /// Patch level.
        version_patchlevel: i32,
        /// The C struct's implicit padding, made explicit.
        pad: u32,
        /// In: bytes at `name`; out: length of the name.
        name_len: u64,
        /// User pointer.
        name: u64,
        /// In/out like `name_len`.
        date_len: u64,
        /// User pointer.
        date: u64,
        /// In/out like `name_len`.
        desc_len: u64,
        /// User pointer.
        desc: u64,
    });

    abi_struct!(
        /// `struct drm_gem_close`.
        GemClose {
        /// Handle.
        handle: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_prime_handle`.
        PrimeHandle {
        /// GEM handle.
        handle: u32,
        /// `DRM_CLOEXEC | DRM_RDWR` (export only).
        flags: u32,
        /// dma-buf file descriptor.
        fd: i32,
    });

    /// `DRM_CLOEXEC`.
    pub const DRM_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
    /// `DRM_RDWR`.
    pub const DRM_RDWR: u32 = libc::O_RDWR as u32;

    abi_struct!(
        /// `struct drm_syncobj_create`.
        SyncobjCreate {
        /// Out: handle.
        handle: u32,
        /// `SYNCOBJ_CREATE_SIGNALED`.
        flags: u32,
    });

    /// `DRM_SYNCOBJ_CREATE_SIGNALED`.
    pub const SYNCOBJ_CREATE_SIGNALED: u32 = 1 << 0;

    abi_struct!(
        /// `struct drm_syncobj_destroy`.
        SyncobjDestroy {
        /// Handle.
        handle: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_syncobj_handle`.
        SyncobjHandle {
        /// Syncobj handle.
        handle: u32,
        /// `SYNCOBJ_HANDLE_TO_FD_*`.
        flags: u32,
        /// Out: file descriptor.
        fd: i32,
        /// MBZ.
        pad: u32,
        /// Timeline point, with `SYNCOBJ_HANDLE_TO_FD_TIMELINE`.
        point: u64,
    });

    /// `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE`.
    pub const SYNCOBJ_HANDLE_TO_FD_EXPORT_SYNC_FILE: u32 = 1 << 0;
    /// `DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_TIMELINE`.
    pub const SYNCOBJ_HANDLE_TO_FD_TIMELINE: u32 = 1 << 1;

    abi_struct!(
        /// `struct drm_syncobj_transfer`.
        SyncobjTransfer {
        /// Source syncobj.
        src_handle: u32,
        /// Destination syncobj.
        dst_handle: u32,
        /// Source point (0: binary).
        src_point: u64,
        /// Destination point (0: binary).
        dst_point: u64,
        /// `SYNCOBJ_WAIT_*`.
        flags: u32,
        /// MBZ.
        pad: u32,
    });

    abi_struct!(
        /// `struct drm_syncobj_wait`.
        SyncobjWait {
        /// User pointer to u32 handles.
        handles: u64,
        /// Absolute CLOCK_MONOTONIC deadline.
        timeout_nsec: i64,
        /// Handles.
        count_handles: u32,
        /// `SYNCOBJ_WAIT_*`.
        flags: u32,
        /// Out: first signalled (without WAIT_ALL).
        first_signaled: u32,
        /// MBZ.
        pad: u32,
        /// Deadline hint.
        deadline_nsec: u64,
    });

    /// `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL`.
    pub const SYNCOBJ_WAIT_ALL: u32 = 1 << 0;
    /// `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT`.
    pub const SYNCOBJ_WAIT_FOR_SUBMIT: u32 = 1 << 1;
    /// `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE`.
    pub const SYNCOBJ_WAIT_AVAILABLE: u32 = 1 << 2;
    /// `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE`.
    pub const SYNCOBJ_WAIT_DEADLINE: u32 = 1 << 3;

    abi_struct!(
        /// `struct drm_syncobj_timeline_wait`.
        SyncobjTimelineWait {
        /// User pointer to u32 handles.
        handles: u64,
        /// User pointer to u64 points.
        points: u64,
        /// Absolute CLOCK_MONOTONIC deadline.
        timeout_nsec: i64,
        /// Handles.
        count_handles: u32,
        /// `SYNCOBJ_WAIT_*`.
        flags: u32,
        /// Out: first signalled.
        first_signaled: u32,
        /// MBZ.
        pad: u32,
        /// Deadline hint.
        deadline_nsec: u64,
    });

    abi_struct!(
        /// `struct drm_syncobj_timeline_array` (SYNCOBJ_QUERY).
        SyncobjTimelineArray {
        /// User pointer to u32 handles.
        handles: u64,
        /// User pointer to u64 points (written by QUERY).
        points: u64,
        /// Handles.
        count_handles: u32,
        /// `SYNCOBJ_QUERY_LAST_SUBMITTED`.
        flags: u32,
    });

    /// `DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED`.
    pub const SYNCOBJ_QUERY_LAST_SUBMITTED: u32 = 1 << 0;

    abi_struct!(
        /// `struct drm_mode_create_dumb`.
        ModeCreateDumb {
        /// Rows.
        height: u32,
        /// Pixels per row.
        width: u32,
        /// Bits per pixel.
        bpp: u32,
        /// MBZ.
        flags: u32,
        /// Out: handle.
        handle: u32,
        /// Out: bytes per row.
        pitch: u32,
        /// Out: bytes.
        size: u64,
    });

    abi_struct!(
        /// `struct drm_mode_map_dumb`.
        ModeMapDumb {
        /// Handle.
        handle: u32,
        /// MBZ.
        pad: u32,
        /// Out: fake offset to mmap.
        offset: u64,
    });

    abi_struct!(
        /// `struct drm_vgem_fence_attach`.
        VgemFenceAttach {
        /// GEM handle.
        handle: u32,
        /// `VGEM_FENCE_WRITE`.
        flags: u32,
        /// Out: fence id.
        out_fence: u32,
        /// MBZ.
        pad: u32,
    });

    /// `VGEM_FENCE_WRITE`.
    pub const VGEM_FENCE_WRITE: u32 = 1;

    abi_struct!(
        /// `struct drm_vgem_fence_signal`.
        VgemFenceSignal {
        /// Fence id.
        fence: u32,
        /// MBZ.
        flags: u32,
    });

    abi_struct!(
        /// `struct sync_file_info`.
        SyncFileInfo {
        /// Name of the fence.
        name: [u8; 32],
        /// 0 active, 1 signalled, < 0 the error.
        status: i32,
        /// Flags.
        flags: u32,
        /// Fences in the file (in 0: do not fill `sync_fence_info`).
        num_fences: u32,
        /// MBZ.
        pad: u32,
        /// User pointer to struct sync_fence_info (unused: num_fences 0).
        sync_fence_info: u64,
    });

    /// Types whose every bit pattern is valid and which have no padding,
    /// so the kernel may fill them and we may pass them as bytes.
    ///
    /// # Safety
    ///
    /// Only for plain integers and `#[repr(C)]` structs of them without
    /// padding.
    pub unsafe trait Pod: Copy {}

    // SAFETY: integers: any bits are valid, no padding.
    unsafe impl Pod for u8 {}
    // SAFETY: as above.
    unsafe impl Pod for u32 {}
    // SAFETY: as above.
    unsafe impl Pod for u64 {}
    // SAFETY: u32, u32, u64, u64, u64: no padding (tests check the size).
    unsafe impl Pod for VmBindOp {}
    // SAFETY: u32, u32, u64: no padding (tests check the size).
    unsafe impl Pod for Sync {}

    /// Ioctl arguments without user pointers: the kernel touches nothing
    /// but the struct itself, so [`super::Device::raw`] can pass any value.
    ///
    /// # Safety
    ///
    /// Only for argument structs without user pointer fields, of ioctls
    /// that return no file descriptor.
    pub unsafe trait PlainArg {}

    macro_rules! plain {
        ($($t:ident),*) => {
            // SAFETY: none of these argument structs holds a user pointer
            // (see the C headers); PRIME_HANDLE_TO_FD and SYNCOBJ_HANDLE_TO_FD,
            // which return descriptors, are not public `Req`s.
            $(unsafe impl PlainArg for $t {})*
        };
    }
    plain!(
        GetTime,
        VmCreate,
        VmDestroy,
        GemCreate,
        GemMmapOffset,
        QueueCreate,
        QueueDestroy,
        GetFault,
        GemClose,
        PrimeHandle,
        SyncobjCreate,
        SyncobjDestroy,
        SyncobjTransfer,
        ModeCreateDumb,
        ModeMapDumb,
        VgemFenceAttach,
        VgemFenceSignal
    );
}

// --- errors -------------------------------------------------------------------

/// The errno of an error from this crate (0 if it has none).
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The symbolic name of an errno ("EINVAL"), or "E<n>".
pub fn errno_name(e: i32) -> String {
    let s = match e {
        0 => "0",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EDEADLK => "EDEADLK",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::ETIME => "ETIME",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECANCELED => "ECANCELED",
        _ => return format!("E{e}"),
    };
    s.to_string()
}

/// An error's errno name, or its message if it has no errno.
pub fn err_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_name(n),
        None => e.to_string(),
    }
}

/// A fence status (sync_file: 0 pending, 1 signalled, < 0 error) as text.
pub fn status_name(status: i32) -> String {
    match status {
        1 => "signalled".to_string(),
        0 => "pending".to_string(),
        s => format!("error -{}", errno_name(-s)),
    }
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

// --- raw ioctl ----------------------------------------------------------------------

/// Issues `req` on `fd`, retrying on EINTR.
///
/// # Safety
///
/// Every user pointer inside `arg` must be valid for the reads and writes the
/// ioctl makes through it, or be an address the kernel refuses.
unsafe fn ioctl<T>(fd: BorrowedFd<'_>, req: Req<T>, arg: &mut T) -> Result<()> {
    loop {
        // SAFETY: `arg` is an exclusive, live `T`, and `req` encodes exactly
        // `size_of::<T>()`, so the kernel's copies of the argument stay in
        // it; the caller vouches for the user pointers inside it.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), req.code as libc::Ioctl, arg as *mut T) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Issues an ioctl whose argument holds no user pointer.
fn ioctl_plain<T: abi::PlainArg>(fd: BorrowedFd<'_>, req: Req<T>, arg: &mut T) -> Result<()> {
    // SAFETY: `T: PlainArg` has no user pointer for the kernel to follow.
    unsafe { ioctl(fd, req, arg) }
}

/// Takes ownership of a descriptor an ioctl just returned.
fn take_fd(fd: i32) -> Result<OwnedFd> {
    if fd < 0 {
        return Err(other(format!("ioctl returned fd {fd}")));
    }
    // SAFETY: the ioctl succeeded, so the kernel just installed `fd` in our
    // table for us; nothing else in the process knows or owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Addresses the kernel must refuse with EFAULT: nothing is, or can be,
/// mapped there in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadAddr {
    /// 0.
    Null,
    /// Inside page 0 (below `vm.mmap_min_addr`; this process maps
    /// nothing at fixed addresses).
    LowPage,
    /// A kernel address.
    Kernel,
    /// Non-canonical.
    NonCanonical,
    /// The last bytes of the address space: `u64::MAX - 7`.
    Top,
}

impl BadAddr {
    /// Every kind.
    pub const ALL: [BadAddr; 5] = [
        BadAddr::Null,
        BadAddr::LowPage,
        BadAddr::Kernel,
        BadAddr::NonCanonical,
        BadAddr::Top,
    ];

    /// The address.
    pub fn addr(self) -> u64 {
        match self {
            BadAddr::Null => 0,
            BadAddr::LowPage => 0x10,
            BadAddr::Kernel => 0xffff_ffff_8100_0000,
            BadAddr::NonCanonical => 0x8000_0000_0000_0000,
            BadAddr::Top => u64::MAX - 7,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PtrKind {
    In,
    Out,
    Bad,
}

/// A user pointer for a raw ioctl: a borrowed buffer the kernel may read
/// ([`UserPtr::input`]) or read and write ([`UserPtr::output`]), or an
/// address it must refuse ([`UserPtr::bad`]).
///
/// The kernel may *read* past an input buffer (when a count says so): that
/// changes nothing in our memory and fails with EFAULT at unmapped pages.
/// Writes are checked: a raw ioctl that would write more than an output
/// buffer holds, or write through an input buffer, panics before the call.
#[derive(Debug)]
pub struct UserPtr<'a> {
    addr: u64,
    len: usize,
    kind: PtrKind,
    _buf: PhantomData<&'a mut [u8]>,
}

impl<'a> UserPtr<'a> {
    /// A buffer the kernel may read.
    pub fn input<T: abi::Pod>(s: &'a [T]) -> Self {
        Self {
            addr: s.as_ptr() as u64,
            len: std::mem::size_of_val(s),
            kind: PtrKind::In,
            _buf: PhantomData,
        }
    }

    /// A buffer the kernel may read and write.
    pub fn output<T: abi::Pod>(s: &'a mut [T]) -> Self {
        Self {
            addr: s.as_mut_ptr() as u64,
            len: std::mem::size_of_val(s),
            kind: PtrKind::Out,
            _buf: PhantomData,
        }
    }

    /// An address the kernel must refuse.
    pub fn bad(b: BadAddr) -> Self {
        Self {
            addr: b.addr(),
            len: 0,
            kind: PtrKind::Bad,
            _buf: PhantomData,
        }
    }

    /// The address.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Bytes of the buffer (0 for a bad address).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address, for an ioctl that writes up to `bytes` through it.
    fn for_write(&self, bytes: u64) -> u64 {
        match self.kind {
            PtrKind::Bad => {}
            PtrKind::Out => assert!(
                bytes <= self.len as u64,
                "the ioctl may write {bytes} bytes to a {}-byte buffer",
                self.len
            ),
            PtrKind::In => panic!("the ioctl writes through this pointer: pass UserPtr::output"),
        }
        self.addr
    }
}

// --- CPU mappings ---------------------------------------------------------------------

/// A shared CPU mapping of a BO (unmapped on drop).
///
/// The GPU may write the memory at any time, so it is only ever accessed
/// through raw pointers, by copies in and out; out-of-range accesses panic,
/// as a slice's would.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset`, shared, readable and writable.
    pub fn new(fd: BorrowedFd<'_>, offset: u64, len: usize) -> Result<Mapping> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a new mapping at an address the kernel picks (no
        // MAP_FIXED) cannot overlap any memory Rust knows about; failure is
        // checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                off,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| other("mmap returned NULL"))?;
        Ok(Mapping { ptr, len })
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is mapped (never: mappings are not empty).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, off: usize, len: usize, align: usize) {
        assert!(
            off.checked_add(len).is_some_and(|end| end <= self.len) && off.is_multiple_of(align),
            "access of {len} bytes at {off:#x} outside a {:#x}-byte mapping (or misaligned)",
            self.len
        );
    }

    /// Copies `dst.len()` bytes from offset `off` into `dst`.
    pub fn read(&self, off: usize, dst: &mut [u8]) {
        self.check(off, dst.len(), 1);
        // SAFETY: [off, off + len) is inside the mapping (checked), which
        // stays mapped while `self` lives; `dst` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(off), dst.as_mut_ptr(), dst.len())
        }
    }

    /// Copies `src` to offset `off`.
    pub fn write(&self, off: usize, src: &[u8]) {
        self.check(off, src.len(), 1);
        // SAFETY: as in `read`; no Rust reference to the mapping exists, so
        // writing through the raw pointer aliases nothing.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.as_ptr().add(off), src.len())
        }
    }

    /// The 32-bit word at index `idx` (byte offset `4 * idx`).
    pub fn read_u32(&self, idx: usize) -> u32 {
        self.check(idx * 4, 4, 4);
        // SAFETY: in bounds and 4-aligned (checked; the mapping is
        // page-aligned); volatile because the GPU writes it.
        unsafe { self.ptr.as_ptr().add(idx * 4).cast::<u32>().read_volatile() }
    }

    /// Writes the 32-bit word at index `idx`.
    pub fn write_u32(&self, idx: usize, v: u32) {
        self.check(idx * 4, 4, 4);
        // SAFETY: as in `read_u32`.
        unsafe {
            self.ptr
                .as_ptr()
                .add(idx * 4)
                .cast::<u32>()
                .write_volatile(v)
        }
    }

    /// The 64-bit word at byte offset `off` (8-aligned).
    pub fn read_u64(&self, off: usize) -> u64 {
        self.check(off, 8, 8);
        // SAFETY: as in `read_u32`, 8-aligned (checked).
        unsafe { self.ptr.as_ptr().add(off).cast::<u64>().read_volatile() }
    }

    /// Writes the 64-bit word at byte offset `off` (8-aligned).
    pub fn write_u64(&self, off: usize, v: u64) {
        self.check(off, 8, 8);
        // SAFETY: as in `read_u64`.
        unsafe { self.ptr.as_ptr().add(off).cast::<u64>().write_volatile(v) }
    }

    /// Copies out the whole mapping.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0; self.len];
        self.read(0, &mut v);
        v
    }

    /// Copies out `n` 32-bit words from word index `first`.
    pub fn u32s(&self, first: usize, n: usize) -> Vec<u32> {
        let mut b = vec![0u8; n * 4];
        self.read(first * 4, &mut b);
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Writes 32-bit words from word index `first`.
    pub fn write_u32s(&self, first: usize, words: &[u32]) {
        let b: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write(first * 4, &b);
    }

    /// Sets every byte to `v`.
    pub fn fill_bytes(&self, v: u8) {
        self.write(0, &vec![v; self.len]);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own [ptr, ptr + len), created by mmap in `new`, and no
        // reference into it was ever handed out.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// --- DRM files ---------------------------------------------------------------------

/// `DRM_IOCTL_VERSION`'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: i32,
    /// Minor.
    pub minor: i32,
    /// Patch level.
    pub patchlevel: i32,
    /// Driver name.
    pub name: String,
    /// Date (empty on recent kernels).
    pub date: String,
    /// Description.
    pub desc: String,
}

/// An open DRM file, with the generic ioctls.
#[derive(Debug)]
struct Drm {
    fd: OwnedFd,
    path: PathBuf,
}

impl Drm {
    fn open(path: &Path) -> Result<Drm> {
        let f: File = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        Ok(Drm {
            fd: f.into(),
            path: path.to_path_buf(),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn version(&self) -> Result<Version> {
        let mut name = [0u8; 64];
        let mut date = [0u8; 64];
        let mut desc = [0u8; 128];
        let mut v = abi::Version {
            name_len: name.len() as u64,
            name: name.as_mut_ptr() as u64,
            date_len: date.len() as u64,
            date: date.as_mut_ptr() as u64,
            desc_len: desc.len() as u64,
            desc: desc.as_mut_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: name, date and desc point to live buffers of exactly the
        // lengths given, and the kernel writes at most that much to each.
        unsafe { ioctl(self.fd(), req::VERSION, &mut v) }?;
        let text = |b: &[u8], len: u64| {
            let n = (len as usize).min(b.len());
            String::from_utf8_lossy(&b[..n])
                .trim_end_matches('\0')
                .to_string()
        };
        Ok(Version {
            major: v.version_major,
            minor: v.version_minor,
            patchlevel: v.version_patchlevel,
            name: text(&name, v.name_len),
            date: text(&date, v.date_len),
            desc: text(&desc, v.desc_len),
        })
    }

    /// Opens the first `/dev/dri/<prefix>*` whose driver is `name`.
    fn find(prefix: &str, name: &str) -> Result<Drm> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir("/dev/dri")?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect();
        // renderD128 before renderD129, card0 before card1.
        paths.sort_by_key(|p| {
            let s = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let n: u32 = s[prefix.len()..].parse().unwrap_or(u32::MAX);
            n
        });
        for p in paths {
            if let Ok(d) = Drm::open(&p) {
                if d.version().is_ok_and(|v| v.name == name) {
                    return Ok(d);
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no /dev/dri/{prefix}* of driver {name:?}"),
        ))
    }

    fn gem_close(&self, handle: u32) -> Result<()> {
        ioctl_plain(
            self.fd(),
            req::GEM_CLOSE,
            &mut abi::GemClose { handle, pad: 0 },
        )
    }
}

/// Absolute CLOCK_MONOTONIC time in nanoseconds, the clock of syncobj
/// timeouts.
pub fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
}

/// The absolute deadline `timeout` from now, for syncobj waits.
pub fn deadline_after(timeout: Duration) -> i64 {
    monotonic_ns().saturating_add(i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX))
}

/// The status of a sync_file: 0 pending, 1 signalled, < 0 its error.
pub fn sync_file_status(fd: BorrowedFd<'_>) -> Result<i32> {
    let mut info = abi::SyncFileInfo::default();
    // SAFETY: `sync_fence_info` is 0 and `num_fences` 0, so the kernel only
    // writes the struct (it fills num_fences instead of the array).
    unsafe { ioctl(fd, req::SYNC_FILE_INFO, &mut info) }?;
    Ok(info.status)
}

// --- the rust_agx device --------------------------------------------------------------

#[derive(Debug)]
struct DeviceInner {
    drm: Drm,
    params: abi::ParamsGlobal,
}

/// An open rust_agx render node. Cheap to clone (shared); the file closes
/// when the last clone and the last object made from it ([`Bo`], [`Vm`],
/// [`Queue`], [`Syncobj`], ...) are gone.
#[derive(Clone, Debug)]
pub struct Device {
    inner: Rc<DeviceInner>,
}

/// A syncobj a job waits on or signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPoint {
    /// A binary syncobj.
    Binary(u32),
    /// A point on a timeline syncobj.
    Timeline(u32, u64),
}

impl SyncPoint {
    /// As `struct drm_ragx_sync`.
    pub fn to_abi(self) -> abi::Sync {
        match self {
            SyncPoint::Binary(handle) => abi::Sync {
                sync_type: uapi::SYNC_SYNCOBJ,
                handle,
                timeline_value: 0,
            },
            SyncPoint::Timeline(handle, point) => abi::Sync {
                sync_type: uapi::SYNC_TIMELINE_SYNCOBJ,
                handle,
                timeline_value: point,
            },
        }
    }
}

impl Device {
    /// Opens the rust_agx render node: `$AGX_DEVICE` if set, else the first
    /// `/dev/dri/renderD*` whose driver (DRM_IOCTL_VERSION) is "rust_agx".
    pub fn open() -> Result<Device> {
        match std::env::var_os("AGX_DEVICE") {
            Some(p) => Device::open_path(Path::new(&p)),
            None => Device::from_drm(Drm::find("renderD", "rust_agx")?),
        }
    }

    /// Opens `path`, which must be a rust_agx node.
    pub fn open_path(path: &Path) -> Result<Device> {
        let drm = Drm::open(path)?;
        let v = drm.version()?;
        if v.name != "rust_agx" {
            return Err(other(format!(
                "{} is driven by {:?}, not rust_agx",
                path.display(),
                v.name
            )));
        }
        Device::from_drm(drm)
    }

    fn from_drm(drm: Drm) -> Result<Device> {
        let mut params = abi::ParamsGlobal::default();
        let mut a = abi::GetParams {
            param_group: 0,
            pad: 0,
            pointer: &mut params as *mut abi::ParamsGlobal as u64,
            size: size_of::<abi::ParamsGlobal>() as u64,
        };
        // SAFETY: `pointer` is our `params`, writable for `size` bytes, the
        // most GET_PARAMS writes.
        unsafe { ioctl(drm.fd(), req::RAGX_GET_PARAMS, &mut a) }?;
        if params.uabi_version != uapi::UABI_VERSION {
            return Err(other(format!(
                "rust_agx UABI version {}, this program speaks {}",
                params.uabi_version,
                uapi::UABI_VERSION
            )));
        }
        Ok(Device {
            inner: Rc::new(DeviceInner { drm, params }),
        })
    }

    /// A device on `/dev/null`, with `params`: every ioctl fails with
    /// ENOTTY and every mmap with ENODEV. For running code that issues
    /// ioctls (the fuzzer's generators) in host tests without a GPU.
    pub fn null(params: abi::ParamsGlobal) -> Result<Device> {
        let drm = Drm::open(Path::new("/dev/null"))?;
        Ok(Device {
            inner: Rc::new(DeviceInner { drm, params }),
        })
    }

    /// Path of the node.
    pub fn path(&self) -> &Path {
        &self.inner.drm.path
    }

    /// The file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.drm.fd()
    }

    /// DRM_IOCTL_VERSION.
    pub fn version(&self) -> Result<Version> {
        self.inner.drm.version()
    }

    /// The global parameters, read at open.
    pub fn params(&self) -> &abi::ParamsGlobal {
        &self.inner.params
    }

    /// Whether two `Device`s are the same open file.
    pub fn same_file(&self, other: &Device) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Any ioctl whose argument holds no user pointer, on this file.
    pub fn raw<T: abi::PlainArg>(&self, req: Req<T>, arg: &mut T) -> Result<()> {
        ioctl_plain(self.fd(), req, arg)
    }

    // --- driver ioctls, raw -----------------------------------------------------

    /// GET_PARAMS with every field given; `pointer` comes from `out`, which
    /// must hold `arg.size` bytes (the most the kernel writes).
    pub fn raw_get_params(&self, arg: &mut abi::GetParams, out: UserPtr<'_>) -> Result<()> {
        arg.pointer = out.for_write(arg.size);
        // SAFETY: `pointer` is writable for `size` bytes or refused (checked
        // by `for_write`); GET_PARAMS writes at most `size` bytes there.
        unsafe { ioctl(self.fd(), req::RAGX_GET_PARAMS, arg) }
    }

    /// VM_BIND with every field given; `userptr` comes from `ops` (read only).
    pub fn raw_vm_bind(&self, arg: &mut abi::VmBind, ops: UserPtr<'_>) -> Result<()> {
        arg.userptr = ops.addr();
        // SAFETY: VM_BIND only reads through `userptr`, which is a live
        // buffer of ours or an address the kernel refuses.
        unsafe { ioctl(self.fd(), req::RAGX_VM_BIND, arg) }
    }

    /// SUBMIT with every field given; the pointers come from `syncs` and
    /// `cmdbuf` (read only).
    pub fn raw_submit(
        &self,
        arg: &mut abi::Submit,
        syncs: UserPtr<'_>,
        cmdbuf: UserPtr<'_>,
    ) -> Result<()> {
        arg.syncs = syncs.addr();
        arg.cmdbuf = cmdbuf.addr();
        // SAFETY: SUBMIT only reads through `syncs` and `cmdbuf`, which are
        // live buffers of ours or addresses the kernel refuses.
        unsafe { ioctl(self.fd(), req::RAGX_SUBMIT, arg) }
    }

    // --- driver ioctls, typed --------------------------------------------------------

    /// Reads parameter group `group` into `out` (min(len, group size)
    /// bytes); returns the group's size.
    pub fn get_params(&self, group: u32, out: &mut [u8]) -> Result<u64> {
        let mut a = abi::GetParams {
            param_group: group,
            pad: 0,
            pointer: 0,
            size: out.len() as u64,
        };
        self.raw_get_params(&mut a, UserPtr::output(out))?;
        Ok(a.size)
    }

    /// GET_TIME: the GPU timer, at `timer_frequency_hz`.
    pub fn get_time(&self) -> Result<u64> {
        let mut a = abi::GetTime::default();
        self.raw(req::RAGX_GET_TIME, &mut a)?;
        Ok(a.gpu_timestamp)
    }

    /// VM_CREATE.
    pub fn vm_create(&self) -> Result<u32> {
        let mut a = abi::VmCreate::default();
        self.raw(req::RAGX_VM_CREATE, &mut a)?;
        Ok(a.vm_id)
    }

    /// VM_DESTROY.
    pub fn vm_destroy(&self, vm_id: u32) -> Result<()> {
        self.raw(req::RAGX_VM_DESTROY, &mut abi::VmDestroy { vm_id, pad: 0 })
    }

    /// VM_BIND of `ops`, in order.
    pub fn vm_bind(&self, vm_id: u32, ops: &[abi::VmBindOp]) -> Result<()> {
        let mut a = abi::VmBind {
            vm_id,
            num_binds: u32::try_from(ops.len())
                .map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?,
            stride: size_of::<abi::VmBindOp>() as u32,
            pad: 0,
            userptr: 0,
        };
        self.raw_vm_bind(&mut a, UserPtr::input(ops))
    }

    /// Maps `range` bytes of GEM object `handle` from `offset` at `addr`;
    /// `flags` is `BIND_READ` and/or `BIND_WRITE`.
    pub fn vm_map(
        &self,
        vm_id: u32,
        handle: u32,
        offset: u64,
        range: u64,
        addr: u64,
        flags: u32,
    ) -> Result<()> {
        self.vm_bind(
            vm_id,
            &[abi::VmBindOp {
                flags,
                handle,
                offset,
                range,
                addr,
            }],
        )
    }

    /// Unmaps the mappings inside [addr, addr + range).
    pub fn vm_unmap(&self, vm_id: u32, addr: u64, range: u64) -> Result<()> {
        self.vm_bind(
            vm_id,
            &[abi::VmBindOp {
                flags: uapi::BIND_UNBIND,
                handle: 0,
                offset: 0,
                range,
                addr,
            }],
        )
    }

    /// GEM_CREATE of `size` bytes (rounded up to a page by the driver).
    pub fn gem_create(&self, size: u64) -> Result<u32> {
        let mut a = abi::GemCreate {
            size,
            flags: 0,
            handle: 0,
        };
        self.raw(req::RAGX_GEM_CREATE, &mut a)?;
        Ok(a.handle)
    }

    /// GEM_MMAP_OFFSET.
    pub fn gem_mmap_offset(&self, handle: u32) -> Result<u64> {
        let mut a = abi::GemMmapOffset {
            handle,
            flags: 0,
            offset: 0,
        };
        self.raw(req::RAGX_GEM_MMAP_OFFSET, &mut a)?;
        Ok(a.offset)
    }

    /// Maps `len` bytes of this file at `offset` (from GEM_MMAP_OFFSET).
    pub fn mmap(&self, offset: u64, len: usize) -> Result<Mapping> {
        Mapping::new(self.fd(), offset, len)
    }

    /// DRM_IOCTL_GEM_CLOSE.
    pub fn gem_close(&self, handle: u32) -> Result<()> {
        self.inner.drm.gem_close(handle)
    }

    /// QUEUE_CREATE.
    pub fn queue_create(&self, vm_id: u32, priority: u32) -> Result<u32> {
        let mut a = abi::QueueCreate {
            flags: 0,
            vm_id,
            priority,
            queue_id: 0,
        };
        self.raw(req::RAGX_QUEUE_CREATE, &mut a)?;
        Ok(a.queue_id)
    }

    /// QUEUE_DESTROY.
    pub fn queue_destroy(&self, queue_id: u32) -> Result<()> {
        self.raw(
            req::RAGX_QUEUE_DESTROY,
            &mut abi::QueueDestroy { queue_id, pad: 0 },
        )
    }

    /// SUBMIT: queues the commands of `cmdbuf` on `queue_id`, to run once
    /// `in_syncs` have signalled; `out_syncs` get the job's fence.
    pub fn submit(
        &self,
        queue_id: u32,
        cmdbuf: &[u8],
        in_syncs: &[SyncPoint],
        out_syncs: &[SyncPoint],
    ) -> Result<()> {
        let syncs: Vec<abi::Sync> = in_syncs
            .iter()
            .chain(out_syncs)
            .map(|s| s.to_abi())
            .collect();
        let too_big = || io::Error::from_raw_os_error(libc::E2BIG);
        let mut a = abi::Submit {
            queue_id,
            in_sync_count: u32::try_from(in_syncs.len()).map_err(|_| too_big())?,
            out_sync_count: u32::try_from(out_syncs.len()).map_err(|_| too_big())?,
            cmdbuf_size: u32::try_from(cmdbuf.len()).map_err(|_| too_big())?,
            ..Default::default()
        };
        self.raw_submit(&mut a, UserPtr::input(&syncs), UserPtr::input(cmdbuf))
    }

    /// GET_FAULT of a queue (`FAULT_OBJECT_QUEUE`) or a VM.
    pub fn get_fault(&self, object: u32, id: u32) -> Result<abi::GetFault> {
        let mut a = abi::GetFault {
            object,
            id,
            ..Default::default()
        };
        self.raw(req::RAGX_GET_FAULT, &mut a)?;
        Ok(a)
    }

    // --- syncobjs -------------------------------------------------------------------

    /// SYNCOBJ_CREATE (signalled already if `signaled`).
    pub fn syncobj_create(&self, signaled: bool) -> Result<u32> {
        let flags = if signaled {
            abi::SYNCOBJ_CREATE_SIGNALED
        } else {
            0
        };
        let mut a = abi::SyncobjCreate { handle: 0, flags };
        self.raw(req::SYNCOBJ_CREATE, &mut a)?;
        Ok(a.handle)
    }

    /// SYNCOBJ_DESTROY.
    pub fn syncobj_destroy(&self, handle: u32) -> Result<()> {
        self.raw(
            req::SYNCOBJ_DESTROY,
            &mut abi::SyncobjDestroy { handle, pad: 0 },
        )
    }

    /// SYNCOBJ_WAIT with every field given; `handles` is read only.
    pub fn raw_syncobj_wait(&self, arg: &mut abi::SyncobjWait, handles: UserPtr<'_>) -> Result<()> {
        arg.handles = handles.addr();
        // SAFETY: SYNCOBJ_WAIT only reads through `handles`, a live buffer of
        // ours or an address the kernel refuses.
        unsafe { ioctl(self.fd(), req::SYNCOBJ_WAIT, arg) }
    }

    /// SYNCOBJ_TIMELINE_WAIT with every field given; both arrays read only.
    pub fn raw_syncobj_timeline_wait(
        &self,
        arg: &mut abi::SyncobjTimelineWait,
        handles: UserPtr<'_>,
        points: UserPtr<'_>,
    ) -> Result<()> {
        arg.handles = handles.addr();
        arg.points = points.addr();
        // SAFETY: TIMELINE_WAIT only reads through `handles` and `points`,
        // live buffers of ours or addresses the kernel refuses.
        unsafe { ioctl(self.fd(), req::SYNCOBJ_TIMELINE_WAIT, arg) }
    }

    /// SYNCOBJ_QUERY with every field given; `points` must hold
    /// `count_handles` u64s (the kernel writes one per handle).
    pub fn raw_syncobj_query(
        &self,
        arg: &mut abi::SyncobjTimelineArray,
        handles: UserPtr<'_>,
        points: UserPtr<'_>,
    ) -> Result<()> {
        arg.handles = handles.addr();
        arg.points = points.for_write(u64::from(arg.count_handles) * 8);
        // SAFETY: QUERY reads `handles` and writes count_handles u64s to
        // `points`, which holds that many or is refused (`for_write`).
        unsafe { ioctl(self.fd(), req::SYNCOBJ_QUERY, arg) }
    }

    /// SYNCOBJ_HANDLE_TO_FD with every field given; the new descriptor is
    /// returned owned.
    pub fn raw_syncobj_handle_to_fd(&self, arg: &mut abi::SyncobjHandle) -> Result<OwnedFd> {
        // SAFETY: the struct holds no user pointer; the descriptor the
        // kernel returns in it is taken over right below.
        unsafe { ioctl(self.fd(), req::SYNCOBJ_HANDLE_TO_FD, arg) }?;
        take_fd(arg.fd)
    }

    /// Waits until every syncobj of `handles` has a signalled fence (or
    /// any, without `all`); ETIME after `timeout`. Returns the index of
    /// the first signalled.
    pub fn syncobj_wait(&self, handles: &[u32], all: bool, timeout: Duration) -> Result<u32> {
        let mut a = abi::SyncobjWait {
            timeout_nsec: deadline_after(timeout),
            count_handles: handles.len() as u32,
            flags: if all { abi::SYNCOBJ_WAIT_ALL } else { 0 },
            ..Default::default()
        };
        self.raw_syncobj_wait(&mut a, UserPtr::input(handles))?;
        Ok(a.first_signaled)
    }

    /// Waits for timeline points (every one, or any without `all`; `flags`
    /// adds `SYNCOBJ_WAIT_*`); ETIME after `timeout`.
    pub fn syncobj_timeline_wait(
        &self,
        handles: &[u32],
        points: &[u64],
        all: bool,
        flags: u32,
        timeout: Duration,
    ) -> Result<u32> {
        assert_eq!(handles.len(), points.len());
        let mut a = abi::SyncobjTimelineWait {
            timeout_nsec: deadline_after(timeout),
            count_handles: handles.len() as u32,
            flags: flags | if all { abi::SYNCOBJ_WAIT_ALL } else { 0 },
            ..Default::default()
        };
        self.raw_syncobj_timeline_wait(&mut a, UserPtr::input(handles), UserPtr::input(points))?;
        Ok(a.first_signaled)
    }

    /// SYNCOBJ_QUERY: the last signalled point of each syncobj.
    pub fn syncobj_query(&self, handles: &[u32]) -> Result<Vec<u64>> {
        let mut points = vec![0u64; handles.len()];
        let mut a = abi::SyncobjTimelineArray {
            count_handles: handles.len() as u32,
            ..Default::default()
        };
        self.raw_syncobj_query(
            &mut a,
            UserPtr::input(handles),
            UserPtr::output(&mut points),
        )?;
        Ok(points)
    }

    /// SYNCOBJ_TRANSFER of `src`'s point to `dst`'s point (0: binary).
    pub fn syncobj_transfer(
        &self,
        src: u32,
        src_point: u64,
        dst: u32,
        dst_point: u64,
    ) -> Result<()> {
        let mut a = abi::SyncobjTransfer {
            src_handle: src,
            dst_handle: dst,
            src_point,
            dst_point,
            ..Default::default()
        };
        self.raw(req::SYNCOBJ_TRANSFER, &mut a)
    }

    /// Exports the syncobj's current fence (or that of timeline `point`)
    /// as a sync_file.
    pub fn syncobj_export_sync_file(&self, handle: u32, point: Option<u64>) -> Result<OwnedFd> {
        let mut a = abi::SyncobjHandle {
            handle,
            flags: abi::SYNCOBJ_HANDLE_TO_FD_EXPORT_SYNC_FILE
                | if point.is_some() {
                    abi::SYNCOBJ_HANDLE_TO_FD_TIMELINE
                } else {
                    0
                },
            fd: -1,
            pad: 0,
            point: point.unwrap_or(0),
        };
        self.raw_syncobj_handle_to_fd(&mut a)
    }

    /// The status of a binary syncobj's fence, through a sync_file: 0
    /// pending, 1 signalled, < 0 the job's error (-EFAULT, ...).
    pub fn fence_status(&self, handle: u32) -> Result<i32> {
        let f = self.syncobj_export_sync_file(handle, None)?;
        sync_file_status(f.as_fd())
    }

    // --- PRIME --------------------------------------------------------------------------

    /// PRIME_HANDLE_TO_FD with every field given; the dma-buf is returned
    /// owned.
    pub fn raw_prime_handle_to_fd(&self, arg: &mut abi::PrimeHandle) -> Result<OwnedFd> {
        // SAFETY: the struct holds no user pointer; the descriptor the
        // kernel returns in it is taken over right below.
        unsafe { ioctl(self.fd(), req::PRIME_HANDLE_TO_FD, arg) }?;
        take_fd(arg.fd)
    }

    /// Exports GEM object `handle` as a dma-buf (close-on-exec, read-write).
    pub fn prime_export(&self, handle: u32) -> Result<OwnedFd> {
        let mut a = abi::PrimeHandle {
            handle,
            flags: abi::DRM_CLOEXEC | abi::DRM_RDWR,
            fd: -1,
        };
        self.raw_prime_handle_to_fd(&mut a)
    }

    /// Imports a dma-buf; returns its GEM handle in this file.
    pub fn prime_import(&self, fd: BorrowedFd<'_>) -> Result<u32> {
        self.prime_import_raw(fd.as_raw_fd())
    }

    /// PRIME_FD_TO_HANDLE of any descriptor number.
    pub fn prime_import_raw(&self, fd: i32) -> Result<u32> {
        let mut a = abi::PrimeHandle {
            handle: 0,
            flags: 0,
            fd,
        };
        self.raw(req::PRIME_FD_TO_HANDLE, &mut a)?;
        Ok(a.handle)
    }
}

// --- owned objects -----------------------------------------------------------------

/// A syncobj, destroyed on drop.
#[derive(Debug)]
pub struct Syncobj {
    dev: Device,
    handle: u32,
    owned: bool,
}

impl Syncobj {
    /// A new syncobj without a fence.
    pub fn new(dev: &Device) -> Result<Syncobj> {
        Ok(Syncobj {
            dev: dev.clone(),
            handle: dev.syncobj_create(false)?,
            owned: true,
        })
    }

    /// A new syncobj with a signalled fence.
    pub fn new_signaled(dev: &Device) -> Result<Syncobj> {
        Ok(Syncobj {
            dev: dev.clone(),
            handle: dev.syncobj_create(true)?,
            owned: true,
        })
    }

    /// The handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// As a binary sync.
    pub fn binary(&self) -> SyncPoint {
        SyncPoint::Binary(self.handle)
    }

    /// As timeline point `point`.
    pub fn point(&self, point: u64) -> SyncPoint {
        SyncPoint::Timeline(self.handle, point)
    }

    /// Waits for the (binary) fence; ETIME after `timeout`.
    pub fn wait(&self, timeout: Duration) -> Result<()> {
        self.dev
            .syncobj_wait(&[self.handle], true, timeout)
            .map(|_| ())
    }

    /// Waits for timeline point `point`; ETIME after `timeout`.
    pub fn wait_point(&self, point: u64, timeout: Duration) -> Result<()> {
        self.dev
            .syncobj_timeline_wait(&[self.handle], &[point], true, 0, timeout)
            .map(|_| ())
    }

    /// The fence's status (see [`Device::fence_status`]).
    pub fn status(&self) -> Result<i32> {
        self.dev.fence_status(self.handle)
    }

    /// The last signalled timeline point.
    pub fn query(&self) -> Result<u64> {
        Ok(self.dev.syncobj_query(&[self.handle])?[0])
    }

    /// Gives up ownership: the syncobj lives until the file closes.
    pub fn into_handle(mut self) -> u32 {
        self.owned = false;
        self.handle
    }
}

impl Drop for Syncobj {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.dev.syncobj_destroy(self.handle);
        }
    }
}

/// A GEM object, usually mapped on the CPU; unmapped and closed on drop.
/// Derefs to its [`Mapping`] (panics if it is not mapped).
#[derive(Debug)]
pub struct Bo {
    map: Option<Mapping>,
    dev: Device,
    handle: u32,
    size: u64,
    owned: bool,
}

impl Bo {
    /// A new BO of `size` bytes (rounded up to a page), mapped on the CPU.
    pub fn new(dev: &Device, size: u64) -> Result<Bo> {
        let mut bo = Bo::new_unmapped(dev, size)?;
        bo.mmap()?;
        Ok(bo)
    }

    /// A new BO, not mapped on the CPU.
    pub fn new_unmapped(dev: &Device, size: u64) -> Result<Bo> {
        let handle = dev.gem_create(size)?;
        let size = page_round_up(size).unwrap_or(size);
        Ok(Bo {
            map: None,
            dev: dev.clone(),
            handle,
            size,
            owned: true,
        })
    }

    /// Takes ownership of `handle` (say, from [`Device::prime_import`]),
    /// an object of `size` bytes.
    pub fn from_handle(dev: &Device, handle: u32, size: u64) -> Bo {
        Bo {
            map: None,
            dev: dev.clone(),
            handle,
            size,
            owned: true,
        }
    }

    /// Maps the whole BO on the CPU (GEM_MMAP_OFFSET, then mmap), if not yet.
    pub fn mmap(&mut self) -> Result<()> {
        if self.map.is_none() {
            let off = self.dev.gem_mmap_offset(self.handle)?;
            let len = usize::try_from(self.size)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            self.map = Some(self.dev.mmap(off, len)?);
        }
        Ok(())
    }

    /// The GEM handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// Whether the BO is mapped on the CPU.
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// Gives up ownership: the handle is not closed on drop.
    pub fn into_handle(mut self) -> u32 {
        self.owned = false;
        self.handle
    }
}

impl Deref for Bo {
    type Target = Mapping;

    fn deref(&self) -> &Mapping {
        self.map
            .as_ref()
            .expect("BO not mapped on the CPU (Bo::mmap)")
    }
}

impl Drop for Bo {
    fn drop(&mut self) {
        self.map = None;
        if self.owned {
            let _ = self.dev.gem_close(self.handle);
        }
    }
}

/// A VM, destroyed on drop (its queues keep it alive until they go).
#[derive(Debug)]
pub struct Vm {
    dev: Device,
    id: u32,
    owned: bool,
}

impl Vm {
    /// VM_CREATE.
    pub fn new(dev: &Device) -> Result<Vm> {
        Ok(Vm {
            dev: dev.clone(),
            id: dev.vm_create()?,
            owned: true,
        })
    }

    /// The VM id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Maps `range` bytes of `bo` from `offset` at `addr` with `flags`.
    pub fn map(&self, bo: &Bo, offset: u64, range: u64, addr: u64, flags: u32) -> Result<()> {
        self.dev
            .vm_map(self.id, bo.handle(), offset, range, addr, flags)
    }

    /// Unmaps [addr, addr + range).
    pub fn unmap(&self, addr: u64, range: u64) -> Result<()> {
        self.dev.vm_unmap(self.id, addr, range)
    }

    /// Gives up ownership: the VM lives until the file closes.
    pub fn into_id(mut self) -> u32 {
        self.owned = false;
        self.id
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.dev.vm_destroy(self.id);
        }
    }
}

/// A queue, destroyed on drop.
#[derive(Debug)]
pub struct Queue {
    dev: Device,
    id: u32,
    owned: bool,
}

impl Queue {
    /// QUEUE_CREATE on VM `vm_id`.
    pub fn new(dev: &Device, vm_id: u32, priority: u32) -> Result<Queue> {
        Ok(Queue {
            dev: dev.clone(),
            id: dev.queue_create(vm_id, priority)?,
            owned: true,
        })
    }

    /// The queue id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Submits `cb`.
    pub fn submit(
        &self,
        cb: &CmdBuf,
        in_syncs: &[SyncPoint],
        out_syncs: &[SyncPoint],
    ) -> Result<()> {
        self.dev.submit(self.id, cb.bytes(), in_syncs, out_syncs)
    }

    /// Submits `cb`, waits up to `timeout` for it (ETIME after) and
    /// returns its fence's status: 1 success, < 0 the job's error.
    pub fn run(&self, cb: &CmdBuf, timeout: Duration) -> Result<i32> {
        let s = Syncobj::new(&self.dev)?;
        self.submit(cb, &[], &[s.binary()])?;
        s.wait(timeout)?;
        s.status()
    }

    /// Gives up ownership: the queue lives until the file closes.
    pub fn into_id(mut self) -> u32 {
        self.owned = false;
        self.id
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if self.owned {
            let _ = self.dev.queue_destroy(self.id);
        }
    }
}

/// A BO mapped in a [`Context`]'s VM at `va`; derefs to the [`Bo`].
#[derive(Debug)]
pub struct Buffer {
    /// The BO.
    pub bo: Bo,
    /// Its GPU VA.
    pub va: u64,
}

impl Deref for Buffer {
    type Target = Bo;

    fn deref(&self) -> &Bo {
        &self.bo
    }
}

/// A compute program in GPU memory.
#[derive(Debug)]
pub struct Program {
    /// The BO holding it (mapped READ).
    pub buf: Buffer,
    /// Bytes of code.
    pub size: u32,
}

impl Program {
    /// GPU VA of the first instruction.
    pub fn va(&self) -> u64 {
        self.buf.va
    }
}

/// A VM with a queue and a bump allocator of its VA range, which leaves an
/// unmapped page after every buffer (so that overruns fault).
#[derive(Debug)]
pub struct Context {
    // Field order is drop order: the queue before its VM.
    queue: Queue,
    vm: Vm,
    dev: Device,
    next_va: u64,
}

impl Context {
    /// A new VM and a queue of priority 0 on it.
    pub fn new(dev: &Device) -> Result<Context> {
        Context::with_priority(dev, 0)
    }

    /// A new VM and a queue of `priority` on it.
    pub fn with_priority(dev: &Device, priority: u32) -> Result<Context> {
        let vm = Vm::new(dev)?;
        let queue = Queue::new(dev, vm.id(), priority)?;
        Ok(Context {
            queue,
            vm,
            dev: dev.clone(),
            next_va: dev.params().vm_start,
        })
    }

    /// The device.
    pub fn dev(&self) -> &Device {
        &self.dev
    }

    /// The VM.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// The queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Another queue on the VM.
    pub fn new_queue(&self, priority: u32) -> Result<Queue> {
        Queue::new(&self.dev, self.vm.id(), priority)
    }

    /// Reserves `size` bytes (page-rounded) of VA without mapping anything.
    pub fn reserve_va(&mut self, size: u64) -> u64 {
        let va = self.next_va;
        self.next_va += page_round_up(size.max(1)).expect("VA size overflow") + PAGE_SIZE;
        va
    }

    /// A new zeroed BO of `size` bytes, mapped on the CPU and, readable and
    /// writable, in the VM.
    pub fn alloc(&mut self, size: u64) -> Result<Buffer> {
        self.alloc_with(size, uapi::BIND_READ | uapi::BIND_WRITE)
    }

    /// As [`Context::alloc`], mapped in the VM with `flags`.
    pub fn alloc_with(&mut self, size: u64, flags: u32) -> Result<Buffer> {
        let bo = Bo::new(&self.dev, size)?;
        self.map(bo, flags)
    }

    /// Maps a whole BO (of this device, possibly imported) in the VM.
    pub fn map(&mut self, bo: Bo, flags: u32) -> Result<Buffer> {
        let va = self.reserve_va(bo.size());
        self.vm.map(&bo, 0, bo.size(), va, flags)?;
        Ok(Buffer { bo, va })
    }

    /// Uploads a program (mapped READ in the VM).
    pub fn program(&mut self, insns: &[fw::isa::Insn]) -> Result<Program> {
        self.program_bytes(&programs::encode(insns))
    }

    /// Uploads raw program bytes (for illegal programs).
    pub fn program_bytes(&mut self, code: &[u8]) -> Result<Program> {
        let buf = self.alloc_with(code.len().max(8) as u64, uapi::BIND_READ)?;
        buf.write(0, code);
        Ok(Program {
            buf,
            size: code.len() as u32,
        })
    }

    /// Submits `cb` on the context's queue.
    pub fn submit(
        &self,
        cb: &CmdBuf,
        in_syncs: &[SyncPoint],
        out_syncs: &[SyncPoint],
    ) -> Result<()> {
        self.queue.submit(cb, in_syncs, out_syncs)
    }

    /// Runs `cb` on the context's queue (see [`Queue::run`]).
    pub fn run(&self, cb: &CmdBuf, timeout: Duration) -> Result<i32> {
        self.queue.run(cb, timeout)
    }

    /// Gives up ownership of the VM and the queue, which live until the
    /// file closes: `(vm, queue)`.
    pub fn into_ids(self) -> (u32, u32) {
        let Context { queue, vm, .. } = self;
        (vm.into_id(), queue.into_id())
    }
}

// --- vgem ---------------------------------------------------------------------------

/// The vgem driver's card node (dumb buffers need the primary node).
#[derive(Debug)]
pub struct Vgem {
    drm: Drm,
}

impl Vgem {
    /// Opens the first `/dev/dri/card*` whose driver is "vgem".
    pub fn open() -> Result<Vgem> {
        Ok(Vgem {
            drm: Drm::find("card", "vgem")?,
        })
    }

    /// Path of the node.
    pub fn path(&self) -> &Path {
        &self.drm.path
    }

    /// DRM_IOCTL_VERSION.
    pub fn version(&self) -> Result<Version> {
        self.drm.version()
    }

    /// MODE_CREATE_DUMB: returns handle, pitch and size.
    pub fn create_dumb(&self, width: u32, height: u32, bpp: u32) -> Result<abi::ModeCreateDumb> {
        let mut a = abi::ModeCreateDumb {
            width,
            height,
            bpp,
            ..Default::default()
        };
        ioctl_plain(self.drm.fd(), req::MODE_CREATE_DUMB, &mut a)?;
        Ok(a)
    }

    /// MODE_MAP_DUMB: the fake offset to mmap.
    pub fn map_dumb(&self, handle: u32) -> Result<u64> {
        let mut a = abi::ModeMapDumb {
            handle,
            ..Default::default()
        };
        ioctl_plain(self.drm.fd(), req::MODE_MAP_DUMB, &mut a)?;
        Ok(a.offset)
    }

    /// Maps `len` bytes at `offset`.
    pub fn mmap(&self, offset: u64, len: usize) -> Result<Mapping> {
        Mapping::new(self.drm.fd(), offset, len)
    }

    /// GEM_CLOSE.
    pub fn gem_close(&self, handle: u32) -> Result<()> {
        self.drm.gem_close(handle)
    }

    /// VGEM_FENCE_ATTACH: a new unsignalled fence on the BO; its id.
    pub fn fence_attach(&self, handle: u32, write: bool) -> Result<u32> {
        let flags = if write { abi::VGEM_FENCE_WRITE } else { 0 };
        let mut a = abi::VgemFenceAttach {
            handle,
            flags,
            ..Default::default()
        };
        ioctl_plain(self.drm.fd(), req::VGEM_FENCE_ATTACH, &mut a)?;
        Ok(a.out_fence)
    }

    /// VGEM_FENCE_SIGNAL.
    pub fn fence_signal(&self, fence: u32) -> Result<()> {
        ioctl_plain(
            self.drm.fd(),
            req::VGEM_FENCE_SIGNAL,
            &mut abi::VgemFenceSignal { fence, flags: 0 },
        )
    }
}

// --- child processes ---------------------------------------------------------------

/// A forked child process; killed and reaped on drop if still running.
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
    status: Option<i32>,
}

/// Forks a child that runs `f` and exits with its result (101 if it
/// panics). The child inherits copies of the parent's descriptors and
/// memory: it must not use the parent's [`Device`] objects (dropping them
/// would close handles of the shared DRM file), only objects it makes
/// itself. It ends with `_exit`, so the parent's objects are never
/// dropped in it. Refused unless the process is single-threaded.
pub fn fork(f: impl FnOnce() -> i32) -> Result<Child> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(other(format!("fork: the process has {threads} threads")));
    }
    // Unflushed output would be printed twice, by both processes.
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: the process has a single thread (checked above), so the child
    // gets consistent copies of every lock and of the allocator; it never
    // returns into the parent's frames (it leaves with `_exit`).
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            let _ = io::stdout().flush();
            let _ = io::stderr().flush();
            // SAFETY: `_exit` ends the child at once, without atexit handlers
            // or destructors (which belong to the parent).
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Child { pid, status: None }),
    }
}

impl Child {
    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The exit code (128 + signal if killed), if it has exited.
    pub fn try_wait(&mut self) -> Result<Option<i32>> {
        if self.status.is_some() {
            return Ok(self.status);
        }
        let mut st: libc::c_int = 0;
        // SAFETY: `st` is a valid int for the call to fill; `pid` is our
        // child, not reaped yet.
        let r = unsafe { libc::waitpid(self.pid, &mut st, libc::WNOHANG) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if r == 0 {
            return Ok(None);
        }
        let code = if libc::WIFEXITED(st) {
            libc::WEXITSTATUS(st)
        } else if libc::WIFSIGNALED(st) {
            128 + libc::WTERMSIG(st)
        } else {
            return Ok(None);
        };
        self.status = Some(code);
        Ok(self.status)
    }

    /// Waits up to `timeout` for the exit code.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<i32>> {
        let t0 = Instant::now();
        loop {
            if let Some(c) = self.try_wait()? {
                return Ok(Some(c));
            }
            if t0.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends SIGKILL (if it has not exited).
    pub fn kill(&mut self) {
        if self.status.is_none() {
            // SAFETY: signals our own, unreaped child (its pid cannot have
            // been reused before we reap it).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            self.kill();
            // A child stuck in the kernel may not die at once: give up after
            // a while rather than hang the parent.
            let _ = self.wait_timeout(Duration::from_secs(5));
        }
    }
}

/// A CStr's text (for error messages from the kernel's side).
pub fn cstr_text(b: &[u8]) -> String {
    CStr::from_bytes_until_nul(b)
        .map(|c| c.to_string_lossy().to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(b).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn ioctl_numbers_match_the_c_headers() {
        // Values printed by a C program including the kernel's headers and
        // include/uapi/drm/rust_agx_drm.h (x86-64).
        let want: [(u64, u64); 30] = [
            (req::VERSION.code(), 0xc0406400),
            (req::GEM_CLOSE.code(), 0x40086409),
            (req::PRIME_HANDLE_TO_FD.code(), 0xc00c642d),
            (req::PRIME_FD_TO_HANDLE.code(), 0xc00c642e),
            (req::SYNCOBJ_CREATE.code(), 0xc00864bf),
            (req::SYNCOBJ_DESTROY.code(), 0xc00864c0),
            (req::SYNCOBJ_HANDLE_TO_FD.code(), 0xc01864c1),
            (req::SYNCOBJ_WAIT.code(), 0xc02864c3),
            (req::SYNCOBJ_TIMELINE_WAIT.code(), 0xc03064ca),
            (req::SYNCOBJ_QUERY.code(), 0xc01864cb),
            (req::SYNCOBJ_TRANSFER.code(), 0xc02064cc),
            (req::MODE_CREATE_DUMB.code(), 0xc02064b2),
            (req::MODE_MAP_DUMB.code(), 0xc01064b3),
            (req::SYNC_FILE_INFO.code(), 0xc0383e04),
            (req::VGEM_FENCE_ATTACH.code(), 0xc0106441),
            (req::VGEM_FENCE_SIGNAL.code(), 0x40086442),
            (req::RAGX_GET_PARAMS.code(), 0xc0186440),
            (req::RAGX_GET_TIME.code(), 0xc0106441),
            (req::RAGX_VM_CREATE.code(), 0xc0086442),
            (req::RAGX_VM_DESTROY.code(), 0x40086443),
            (req::RAGX_VM_BIND.code(), 0x40186444),
            (req::RAGX_GEM_CREATE.code(), 0xc0106445),
            (req::RAGX_GEM_MMAP_OFFSET.code(), 0xc0106446),
            (req::RAGX_QUEUE_CREATE.code(), 0xc0106447),
            (req::RAGX_QUEUE_DESTROY.code(), 0x40086448),
            (req::RAGX_SUBMIT.code(), 0x40286449),
            (req::RAGX_GET_FAULT.code(), 0xc020644a),
            // _IOC by hand: dir << 30 | size << 16 | type << 8 | nr.
            (ioc::ioc(ioc::READ | ioc::WRITE, b'd', 0x45, 16), 0xc0106445),
            (ioc::ioc(ioc::WRITE, b'd', 0x49, 40), 0x40286449),
            (ioc::ioc(ioc::NONE, b'd', 0x00, 0), 0x6400),
        ];
        for (i, (got, want)) in want.iter().enumerate() {
            assert_eq!(got, want, "entry {i}: {got:#x} != {want:#x}");
        }
        assert_eq!(ioc::size(req::RAGX_SUBMIT.code()), 40);
    }

    #[test]
    fn driver_struct_sizes_match_fw_uapi() {
        assert_eq!(size_of::<abi::ParamsGlobal>(), uapi::ParamsGlobal::SIZE);
        assert_eq!(size_of::<abi::GetParams>(), uapi::GetParams::SIZE);
        assert_eq!(size_of::<abi::GetTime>(), uapi::GetTime::SIZE);
        assert_eq!(size_of::<abi::VmCreate>(), uapi::VmCreate::SIZE);
        assert_eq!(size_of::<abi::VmDestroy>(), uapi::VmDestroy::SIZE);
        assert_eq!(size_of::<abi::VmBindOp>(), uapi::VmBindOp::SIZE);
        assert_eq!(size_of::<abi::VmBind>(), uapi::VmBind::SIZE);
        assert_eq!(size_of::<abi::GemCreate>(), uapi::GemCreate::SIZE);
        assert_eq!(size_of::<abi::GemMmapOffset>(), uapi::GemMmapOffset::SIZE);
        assert_eq!(size_of::<abi::QueueCreate>(), uapi::QueueCreate::SIZE);
        assert_eq!(size_of::<abi::QueueDestroy>(), uapi::QueueDestroy::SIZE);
        assert_eq!(size_of::<abi::Sync>(), uapi::Sync::SIZE);
        assert_eq!(size_of::<abi::Submit>(), uapi::Submit::SIZE);
        assert_eq!(size_of::<abi::GetFault>(), uapi::GetFault::SIZE);
    }

    /// For each field: set it to 1 in the fw::uapi struct, encode, and find
    /// where the byte lands; it must be where `offset_of!` puts our field.
    macro_rules! same_offsets {
        ($ours:ident, $theirs:ident, [$($f:ident),*]) => {
            $(
                let mut t = uapi::$theirs::default();
                t.$f = 1;
                let mut b = [0u8; uapi::$theirs::SIZE];
                t.encode(&mut b);
                let at = b.iter().position(|&x| x == 1).unwrap();
                assert_eq!(at, offset_of!(abi::$ours, $f), "{}.{}", stringify!($ours), stringify!($f));
            )*
        };
    }

    #[test]
    fn driver_struct_offsets_match_fw_uapi() {
        same_offsets!(
            ParamsGlobal,
            ParamsGlobal,
            [
                uabi_version,
                gpu_generation,
                num_vms_max,
                num_priorities,
                vm_start,
                vm_end,
                page_size,
                timer_frequency_hz,
                max_commands_per_submission,
                max_cmdbuf_size,
                max_syncs,
                max_invocations
            ]
        );
        same_offsets!(GetParams, GetParams, [param_group, pad, pointer, size]);
        same_offsets!(GetTime, GetTime, [flags, gpu_timestamp]);
        same_offsets!(VmCreate, VmCreate, [flags, vm_id]);
        same_offsets!(VmDestroy, VmDestroy, [vm_id, pad]);
        same_offsets!(VmBindOp, VmBindOp, [flags, handle, offset, range, addr]);
        same_offsets!(VmBind, VmBind, [vm_id, num_binds, stride, pad, userptr]);
        same_offsets!(GemCreate, GemCreate, [size, flags, handle]);
        same_offsets!(GemMmapOffset, GemMmapOffset, [handle, flags, offset]);
        same_offsets!(QueueCreate, QueueCreate, [flags, vm_id, priority, queue_id]);
        same_offsets!(QueueDestroy, QueueDestroy, [queue_id, pad]);
        same_offsets!(Sync, Sync, [sync_type, handle, timeline_value]);
        same_offsets!(
            Submit,
            Submit,
            [
                syncs,
                cmdbuf,
                flags,
                queue_id,
                in_sync_count,
                out_sync_count,
                cmdbuf_size,
                pad
            ]
        );
        same_offsets!(
            GetFault,
            GetFault,
            [object, id, state, unit, address, access, count]
        );
    }

    #[test]
    fn generic_struct_sizes_match_the_c_headers() {
        // sizeof() printed by the same C program.
        assert_eq!(size_of::<abi::Version>(), 64);
        assert_eq!(offset_of!(abi::Version, name_len), 16);
        assert_eq!(size_of::<abi::GemClose>(), 8);
        assert_eq!(size_of::<abi::PrimeHandle>(), 12);
        assert_eq!(size_of::<abi::SyncobjCreate>(), 8);
        assert_eq!(size_of::<abi::SyncobjDestroy>(), 8);
        assert_eq!(size_of::<abi::SyncobjHandle>(), 24);
        assert_eq!(size_of::<abi::SyncobjTransfer>(), 32);
        assert_eq!(size_of::<abi::SyncobjWait>(), 40);
        assert_eq!(offset_of!(abi::SyncobjWait, flags), 20);
        assert_eq!(offset_of!(abi::SyncobjWait, first_signaled), 24);
        assert_eq!(size_of::<abi::SyncobjTimelineWait>(), 48);
        assert_eq!(size_of::<abi::SyncobjTimelineArray>(), 24);
        assert_eq!(size_of::<abi::ModeCreateDumb>(), 32);
        assert_eq!(size_of::<abi::ModeMapDumb>(), 16);
        assert_eq!(size_of::<abi::VgemFenceAttach>(), 16);
        assert_eq!(size_of::<abi::VgemFenceSignal>(), 8);
        assert_eq!(size_of::<abi::SyncFileInfo>(), 56);
        assert_eq!(offset_of!(abi::SyncFileInfo, status), 32);
        assert_eq!(abi::DRM_CLOEXEC, 0o2000000);
        assert_eq!(abi::DRM_RDWR, 2);
    }

    #[test]
    fn sync_points_encode_as_drm_ragx_sync() {
        let s = SyncPoint::Timeline(7, 9).to_abi();
        assert_eq!(
            (s.sync_type, s.handle, s.timeline_value),
            (uapi::SYNC_TIMELINE_SYNCOBJ, 7, 9)
        );
        let s = SyncPoint::Binary(3).to_abi();
        assert_eq!(
            (s.sync_type, s.handle, s.timeline_value),
            (uapi::SYNC_SYNCOBJ, 3, 0)
        );
    }

    #[test]
    fn user_ptrs_check_writes() {
        let mut b = [0u8; 16];
        assert_eq!(UserPtr::output(&mut b).for_write(16), b.as_ptr() as u64);
        assert_eq!(
            UserPtr::bad(BadAddr::Kernel).for_write(u64::MAX),
            BadAddr::Kernel.addr()
        );
        let r = std::panic::catch_unwind(|| {
            let mut b = [0u8; 16];
            UserPtr::output(&mut b).for_write(17);
        });
        assert!(r.is_err());
        let r = std::panic::catch_unwind(|| UserPtr::input(&[0u32; 4]).for_write(4));
        assert!(r.is_err());
    }

    #[test]
    fn page_rounding() {
        assert_eq!(page_round_up(1), Some(PAGE_SIZE));
        assert_eq!(page_round_up(PAGE_SIZE), Some(PAGE_SIZE));
        assert_eq!(page_round_up(u64::MAX - 5), None);
        assert_eq!(PAGE_SIZE, fw::pgtable::PAGE_SIZE);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::EFAULT), "EFAULT");
        assert_eq!(status_name(-libc::ETIMEDOUT), "error -ETIMEDOUT");
        assert_eq!(status_name(1), "signalled");
        assert_eq!(errno_name(4095), "E4095");
    }

    #[test]
    fn mapping_of_a_memfd_round_trips() {
        // A shared mapping like a BO's, on a memfd: the accessors work.
        let name = c"agx-test";
        // SAFETY: a valid C string; the result is checked.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        let fd = take_fd(fd).unwrap();
        File::from(fd.try_clone().unwrap()).set_len(8192).unwrap();
        let m = Mapping::new(fd.as_fd(), 0, 8192).unwrap();
        m.write_u32(3, 0xdead_beef);
        assert_eq!(m.read_u32(3), 0xdead_beef);
        m.write_u64(16, 7);
        assert_eq!(m.u32s(3, 3), vec![0xdead_beef, 7, 0]);
        let mut b = [0u8; 4];
        m.read(12, &mut b);
        assert_eq!(b, 0xdead_beefu32.to_le_bytes());
        assert!(std::panic::catch_unwind(|| m.read_u32(2048)).is_err());
    }
}
