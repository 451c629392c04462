// SPDX-License-Identifier: GPL-2.0

//! The ioctl structures of `include/uapi/drm/rust_agx_drm.h`.
//!
//! The DRM core copies each ioctl's argument into a kernel buffer of the
//! size the ioctl number encodes; these types decode it from and encode it
//! into that buffer, little-endian, field by field at the header's offsets.

/// Defines a UAPI struct with its byte layout.
macro_rules! uapi_struct {
    ($(#[$m:meta])* $name:ident, $size:expr, { $($(#[$fm:meta])* $f:ident: $t:ident @ $off:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            /// Size of the C struct.
            pub const SIZE: usize = $size;

            /// Decodes from the ioctl buffer (`None` if it is too short).
            pub fn decode(b: &[u8]) -> Option<Self> {
                if b.len() < Self::SIZE {
                    return None;
                }
                Some(Self { $($f: uapi_struct!(@get $t, b, $off),)* })
            }

            /// Encodes into the ioctl buffer (which must be big enough).
            pub fn encode(&self, b: &mut [u8]) {
                $(uapi_struct!(@put $t, b, $off, self.$f);)*
            }
        }
    };
    (@get u32, $b:ident, $off:expr) => {
        u32::from_le_bytes([$b[$off], $b[$off + 1], $b[$off + 2], $b[$off + 3]])
    };
    (@get u64, $b:ident, $off:expr) => {
        u64::from(uapi_struct!(@get u32, $b, $off))
            | (u64::from(uapi_struct!(@get u32, $b, $off + 4)) << 32)
    };
    (@put u32, $b:ident, $off:expr, $v:expr) => {
        $b[$off..$off + 4].copy_from_slice(&$v.to_le_bytes())
    };
    (@put u64, $b:ident, $off:expr, $v:expr) => {
        $b[$off..$off + 8].copy_from_slice(&$v.to_le_bytes())
    };
}

/// `uabi_version` of this header.
pub const UABI_VERSION: u32 = 1;

/// ioctl numbers, relative to `DRM_COMMAND_BASE`.
pub mod nr {
    /// `DRM_RAGX_GET_PARAMS`.
    pub const GET_PARAMS: u32 = 0x00;
    /// `DRM_RAGX_GET_TIME`.
    pub const GET_TIME: u32 = 0x01;
    /// `DRM_RAGX_VM_CREATE`.
    pub const VM_CREATE: u32 = 0x02;
    /// `DRM_RAGX_VM_DESTROY`.
    pub const VM_DESTROY: u32 = 0x03;
    /// `DRM_RAGX_VM_BIND`.
    pub const VM_BIND: u32 = 0x04;
    /// `DRM_RAGX_GEM_CREATE`.
    pub const GEM_CREATE: u32 = 0x05;
    /// `DRM_RAGX_GEM_MMAP_OFFSET`.
    pub const GEM_MMAP_OFFSET: u32 = 0x06;
    /// `DRM_RAGX_QUEUE_CREATE`.
    pub const QUEUE_CREATE: u32 = 0x07;
    /// `DRM_RAGX_QUEUE_DESTROY`.
    pub const QUEUE_DESTROY: u32 = 0x08;
    /// `DRM_RAGX_SUBMIT`.
    pub const SUBMIT: u32 = 0x09;
    /// `DRM_RAGX_GET_FAULT`.
    pub const GET_FAULT: u32 = 0x0a;
}

uapi_struct!(
    /// `struct drm_ragx_params_global`.
    ParamsGlobal, 64, {
    /// Incremented on incompatible change.
    uabi_version: u32 @ 0,
    /// Model of the virtual GPU.
    gpu_generation: u32 @ 4,
    /// VMs that may exist at once.
    num_vms_max: u32 @ 8,
    /// Queue priorities.
    num_priorities: u32 @ 12,
    /// First usable VA.
    vm_start: u64 @ 16,
    /// End of usable VAs.
    vm_end: u64 @ 24,
    /// MMU page size.
    page_size: u64 @ 32,
    /// GET_TIME frequency.
    timer_frequency_hz: u64 @ 40,
    /// Commands per submission.
    max_commands_per_submission: u32 @ 48,
    /// Bytes per command buffer.
    max_cmdbuf_size: u32 @ 52,
    /// Syncs per submission.
    max_syncs: u32 @ 56,
    /// Invocations per compute command.
    max_invocations: u32 @ 60,
});

uapi_struct!(
    /// `struct drm_ragx_get_params`.
    GetParams, 24, {
    /// Parameter group.
    param_group: u32 @ 0,
    /// MBZ.
    pad: u32 @ 4,
    /// User pointer.
    pointer: u64 @ 8,
    /// Size in and out.
    size: u64 @ 16,
});

uapi_struct!(
    /// `struct drm_ragx_get_time`.
    GetTime, 16, {
    /// MBZ.
    flags: u64 @ 0,
    /// Out: timestamp.
    gpu_timestamp: u64 @ 8,
});

uapi_struct!(
    /// `struct drm_ragx_vm_create`.
    VmCreate, 8, {
    /// MBZ.
    flags: u32 @ 0,
    /// Out: VM id.
    vm_id: u32 @ 4,
});

uapi_struct!(
    /// `struct drm_ragx_vm_destroy`.
    VmDestroy, 8, {
    /// VM id.
    vm_id: u32 @ 0,
    /// MBZ.
    pad: u32 @ 4,
});

/// `DRM_RAGX_BIND_UNBIND`.
pub const BIND_UNBIND: u32 = 1 << 0;
/// `DRM_RAGX_BIND_READ`.
pub const BIND_READ: u32 = 1 << 1;
/// `DRM_RAGX_BIND_WRITE`.
pub const BIND_WRITE: u32 = 1 << 2;

uapi_struct!(
    /// `struct drm_ragx_vm_bind_op`.
    VmBindOp, 32, {
    /// `BIND_*`.
    flags: u32 @ 0,
    /// GEM handle.
    handle: u32 @ 4,
    /// Offset in the object.
    offset: u64 @ 8,
    /// Bytes.
    range: u64 @ 16,
    /// GPU VA.
    addr: u64 @ 24,
});

uapi_struct!(
    /// `struct drm_ragx_vm_bind`.
    VmBind, 24, {
    /// VM id.
    vm_id: u32 @ 0,
    /// Number of ops.
    num_binds: u32 @ 4,
    /// Bytes per op.
    stride: u32 @ 8,
    /// MBZ.
    pad: u32 @ 12,
    /// User pointer to the ops.
    userptr: u64 @ 16,
});

uapi_struct!(
    /// `struct drm_ragx_gem_create`.
    GemCreate, 16, {
    /// Bytes.
    size: u64 @ 0,
    /// MBZ.
    flags: u32 @ 8,
    /// Out: handle.
    handle: u32 @ 12,
});

uapi_struct!(
    /// `struct drm_ragx_gem_mmap_offset`.
    GemMmapOffset, 16, {
    /// Handle.
    handle: u32 @ 0,
    /// MBZ.
    flags: u32 @ 4,
    /// Out: fake offset.
    offset: u64 @ 8,
});

uapi_struct!(
    /// `struct drm_ragx_queue_create`.
    QueueCreate, 16, {
    /// MBZ.
    flags: u32 @ 0,
    /// VM id.
    vm_id: u32 @ 4,
    /// Priority.
    priority: u32 @ 8,
    /// Out: queue id.
    queue_id: u32 @ 12,
});

uapi_struct!(
    /// `struct drm_ragx_queue_destroy`.
    QueueDestroy, 8, {
    /// Queue id.
    queue_id: u32 @ 0,
    /// MBZ.
    pad: u32 @ 4,
});

/// `DRM_RAGX_SYNC_SYNCOBJ`.
pub const SYNC_SYNCOBJ: u32 = 0;
/// `DRM_RAGX_SYNC_TIMELINE_SYNCOBJ`.
pub const SYNC_TIMELINE_SYNCOBJ: u32 = 1;

uapi_struct!(
    /// `struct drm_ragx_sync`.
    Sync, 16, {
    /// `SYNC_*`.
    sync_type: u32 @ 0,
    /// Syncobj handle.
    handle: u32 @ 4,
    /// Timeline point.
    timeline_value: u64 @ 8,
});

uapi_struct!(
    /// `struct drm_ragx_submit`.
    Submit, 40, {
    /// User pointer to the syncs.
    syncs: u64 @ 0,
    /// User pointer to the command buffer.
    cmdbuf: u64 @ 8,
    /// MBZ.
    flags: u32 @ 16,
    /// Queue id.
    queue_id: u32 @ 20,
    /// In-syncs.
    in_sync_count: u32 @ 24,
    /// Out-syncs.
    out_sync_count: u32 @ 28,
    /// Command buffer bytes.
    cmdbuf_size: u32 @ 32,
    /// MBZ.
    pad: u32 @ 36,
});

/// `DRM_RAGX_FAULT_OBJECT_QUEUE`.
pub const FAULT_OBJECT_QUEUE: u32 = 0;
/// `DRM_RAGX_FAULT_OBJECT_VM`.
pub const FAULT_OBJECT_VM: u32 = 1;
/// `DRM_RAGX_FAULT_NONE`.
pub const FAULT_NONE: u32 = 0;
/// `DRM_RAGX_FAULT_PAGE`.
pub const FAULT_PAGE: u32 = 1;
/// `DRM_RAGX_FAULT_TIMEOUT`.
pub const FAULT_TIMEOUT: u32 = 2;
/// `DRM_RAGX_FAULT_ILLEGAL`.
pub const FAULT_ILLEGAL: u32 = 3;

uapi_struct!(
    /// `struct drm_ragx_get_fault`.
    GetFault, 32, {
    /// `FAULT_OBJECT_*`.
    object: u32 @ 0,
    /// Queue or VM id.
    id: u32 @ 4,
    /// Out: `FAULT_*`.
    state: u32 @ 8,
    /// Out: unit.
    unit: u32 @ 12,
    /// Out: address.
    address: u64 @ 16,
    /// Out: access bits.
    access: u32 @ 24,
    /// Out: count.
    count: u32 @ 28,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_header_offsets() {
        let s = Submit {
            syncs: 1,
            cmdbuf: 2,
            flags: 3,
            queue_id: 4,
            in_sync_count: 5,
            out_sync_count: 6,
            cmdbuf_size: 7,
            pad: 8,
        };
        let mut b = [0u8; Submit::SIZE];
        s.encode(&mut b);
        assert_eq!(b[20], 4);
        assert_eq!(b[36], 8);
        assert_eq!(Submit::decode(&b), Some(s));
        assert_eq!(Submit::decode(&b[..39]), None);
    }
}
