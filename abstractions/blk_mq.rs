// SPDX-License-Identifier: GPL-2.0

//! blk-mq for drivers of real hardware: tag sets with per-hardware-queue and
//! per-request driver data, requests the driver owns until it ends them,
//! scatter-gather DMA mapping of their data, timeouts, polling and queue
//! maps, and disks with the limits a controller reports.
//!
//! `kernel::block::mq` serves `rnull`: no `timeout`, `map_queues`,
//! `init_request` or per-request data, no DMA, no disk parent or limits
//! beyond the block sizes. This module is the same design grown to what a
//! PCI driver needs.
//!
//! # Ownership of requests
//!
//! blk-mq hands a request to [`Operations::queue_rq`] as a [`Request`]: an
//! owned token, neither `Clone` nor `Copy`. Whoever holds it may end it
//! ([`Request::end`]), requeue it, or give it back refused; each consumes
//! it, so no request is ended twice. A driver that sends a request to its
//! device keeps the token (for example in a table indexed by command id) and
//! takes it out when the device completes the command: a completion for a
//! command id with no token behind it is then visibly bogus. Dropping a
//! token ends the request with an I/O error.
//!
//! The timeout handler gets no token, since the driver holds it: it gets
//! the request's tag and hardware queue ([`TimedOut`]) and looks the
//! request up in its own table.
//!
//! C header: [`include/linux/blk-mq.h`](srctree/include/linux/blk-mq.h)

use crate::{bindings, device, miscdev::UserArg};
use core::{
    marker::PhantomData,
    mem::{align_of, size_of, ManuallyDrop},
    pin::Pin,
    ptr::NonNull,
};
use kernel::{
    device::{Bound, Device},
    error::{from_err_ptr, from_result, to_result},
    ffi::{c_int, c_uint, c_void},
    prelude::*,
    static_lock_class,
    sync::{aref::ARef, Arc},
    time::Delta,
    types::{ForeignOwnable, Opaque, ScopeGuard},
};

type Borrowed<'a, T> = <T as ForeignOwnable>::Borrowed<'a>;

/// A block layer status (`blk_status_t`), as a request ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(bindings::blk_status_t);

impl Status {
    /// Success.
    pub const OK: Self = Self(0);
    /// Operation not supported.
    pub const NOTSUPP: Self = Self(bindings::BLK_STS_NOTSUPP);
    /// Timed out.
    pub const TIMEOUT: Self = Self(bindings::BLK_STS_TIMEOUT);
    /// Out of space.
    pub const NOSPC: Self = Self(bindings::BLK_STS_NOSPC);
    /// A transport error (path may be retried elsewhere).
    pub const TRANSPORT: Self = Self(bindings::BLK_STS_TRANSPORT);
    /// A critical target error (the target refused the request).
    pub const TARGET: Self = Self(bindings::BLK_STS_TARGET);
    /// A reservation conflict.
    pub const RESV_CONFLICT: Self = Self(bindings::BLK_STS_RESV_CONFLICT);
    /// A media error.
    pub const MEDIUM: Self = Self(bindings::BLK_STS_MEDIUM);
    /// A protection information error.
    pub const PROTECTION: Self = Self(bindings::BLK_STS_PROTECTION);
    /// Out of a resource; blk-mq retries later.
    pub const RESOURCE: Self = Self(bindings::BLK_STS_RESOURCE);
    /// A generic I/O error.
    pub const IOERR: Self = Self(bindings::BLK_STS_IOERR);
    /// Out of a device resource that frees up when a request completes.
    pub const DEV_RESOURCE: Self = Self(bindings::BLK_STS_DEV_RESOURCE);
    /// A zoned device ran out of open zones.
    pub const ZONE_OPEN_RESOURCE: Self = Self(bindings::BLK_STS_ZONE_OPEN_RESOURCE);
    /// A zoned device ran out of active zones.
    pub const ZONE_ACTIVE_RESOURCE: Self = Self(bindings::BLK_STS_ZONE_ACTIVE_RESOURCE);
    /// The device is offline.
    pub const OFFLINE: Self = Self(bindings::BLK_STS_OFFLINE);

    /// The status for a kernel error code (`errno_to_blk_status()`).
    pub fn from_error(e: Error) -> Self {
        // SAFETY: A pure mapping function.
        Self(unsafe { bindings::errno_to_blk_status(e.to_errno()) })
    }

    /// Whether this is success.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

/// What a request asks for (`enum req_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read sectors.
    Read,
    /// Write sectors.
    Write,
    /// Flush the volatile write cache.
    Flush,
    /// Discard sectors.
    Discard,
    /// Write zeroes to sectors.
    WriteZeroes,
    /// Driver private, data to the host.
    DrvIn,
    /// Driver private, data to the device.
    DrvOut,
    /// Anything else (secure erase, zone management, ...), by number.
    Other(u32),
}

/// A hardware queue type (`enum hctx_type`): the queue maps a tag set has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HctxType {
    /// Queues for all I/O not sent elsewhere.
    Default = bindings::hctx_type_HCTX_TYPE_DEFAULT as isize,
    /// Queues for reads only.
    Read = bindings::hctx_type_HCTX_TYPE_READ as isize,
    /// Queues polled for completions (`REQ_POLLED`, io_uring's `hipri`).
    Poll = bindings::hctx_type_HCTX_TYPE_POLL as isize,
}

/// What [`Operations::timeout`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutAction {
    /// The request is (or will be) ended by the driver: forget the timer.
    Done,
    /// Give the request another timeout period.
    ResetTimer,
}

/// A request refused by [`Operations::queue_rq`]: blk-mq takes it back and
/// ends it with, or retries it after, the status.
///
/// Made only by [`Request::refuse`], which consumes the request.
pub struct Refused(Status);

/// The callbacks of a blk-mq driver.
#[vtable]
pub trait Operations: Sized + 'static {
    /// Data of the whole tag set, handed to the other set-level callbacks.
    type TagSetData: ForeignOwnable + Send + Sync;
    /// Data of each hardware queue, made by [`Operations::init_hctx`].
    type HwData: ForeignOwnable + Send + Sync;
    /// Data of each disk's request queue.
    type QueueData: ForeignOwnable + Send + Sync;
    /// Data in each request (its "PDU"), made once per request by
    /// [`Operations::init_request`] and kept across uses of the request.
    type RequestData: Send;

    /// Makes the data of hardware queue `index`.
    fn init_hctx(set: Borrowed<'_, Self::TagSetData>, index: u32) -> Result<Self::HwData>;

    /// Makes the data of a request of hardware queue `index`.
    fn init_request(set: Borrowed<'_, Self::TagSetData>, index: u32) -> Result<Self::RequestData>;

    /// Starts `rq`. `last` is false when more requests follow at once, so
    /// that the driver may defer telling the device to
    /// [`Operations::commit_rqs`].
    fn queue_rq(
        hw: Borrowed<'_, Self::HwData>,
        queue: Borrowed<'_, Self::QueueData>,
        rq: Request<Self>,
        last: bool,
    ) -> Result<(), Refused>;

    /// Tells the device about requests started with `last == false`.
    fn commit_rqs(hw: Borrowed<'_, Self::HwData>);

    /// A request of hardware queue `hw` of the set with data `set` has not
    /// completed in time. Runs in process context (blk-mq's timeout work),
    /// so it may sleep, for example to reset the device.
    fn timeout(
        _set: Borrowed<'_, Self::TagSetData>,
        _hw: Borrowed<'_, Self::HwData>,
        _rq: TimedOut,
    ) -> TimeoutAction {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Reaps completions of a polled hardware queue; returns how many.
    fn poll(_hw: Borrowed<'_, Self::HwData>) -> u32 {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Sets up the queue maps of a set with more than one, or maps by
    /// interrupt affinity.
    fn map_queues(_set: Borrowed<'_, Self::TagSetData>, _maps: &mut QueueMaps<'_>) {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Handles ioctl `cmd` with argument `arg` on a disk whose queue has
    /// data `queue` (the block layer handles its own ioctls first); the
    /// return value is the ioctl's, an error its negative errno.
    ///
    /// An open block device may call this after its disk was deleted (the
    /// device removed): the queue data lives until the disk is freed, and
    /// the driver fails what needs the device.
    fn ioctl(_queue: Borrowed<'_, Self::QueueData>, _cmd: u32, _arg: UserArg) -> Result<i32> {
        Err(ENOTTY)
    }
}

/// What a tag set is made with.
#[derive(Clone, Copy, Debug)]
pub struct TagSetConfig {
    /// Hardware queues, over all maps.
    pub nr_hw_queues: u32,
    /// Tags (requests in flight) per hardware queue.
    pub queue_depth: u32,
    /// Queue maps (1 to 3, see [`HctxType`]).
    pub nr_maps: u32,
    /// How long a request may take before [`Operations::timeout`].
    pub timeout: Delta,
    /// Scatter-gather entries per request for [`Request::map_data`]; the
    /// disks' `max_segments` must not exceed it. 0 if requests carry no
    /// data the driver maps.
    pub max_segments: u16,
}

/// The per-request area blk-mq allocates behind each `struct request`:
/// the driver's data, the mapping state, then `sg_cap` scatterlist entries.
struct Pdu<T: Operations> {
    data: T::RequestData,
    /// Entries given to `dma_map_sg_attrs()`, 0 when not mapped.
    sg_nents: u32,
    /// Entries `dma_map_sg_attrs()` returned.
    dma_nents: u32,
    /// The direction the data is mapped in.
    dir: bindings::dma_data_direction,
    sg_cap: u32,
}

impl<T: Operations> Pdu<T> {
    const SG_OFFSET: usize =
        size_of::<Self>().next_multiple_of(align_of::<bindings::scatterlist>());

    /// The scatterlist behind the PDU at `pdu`.
    ///
    /// # Safety
    ///
    /// `pdu` is the PDU of a request of a tag set made by [`TagSet::new`].
    unsafe fn sg(pdu: *mut Self) -> *mut bindings::scatterlist {
        // SAFETY: `cmd_size` covers `SG_OFFSET` and the entries after it.
        unsafe { pdu.cast::<u8>().add(Self::SG_OFFSET).cast() }
    }
}

/// A blk-mq tag set (`struct blk_mq_tag_set`) for driver `T`.
///
/// # Invariants
///
/// `inner` is an allocated tag set with `T`'s callbacks, `cmd_size` covering
/// a `Pdu<T>` and `max_segments` scatterlist entries, and `driver_data`
/// from `T::TagSetData::into_foreign()`; `dma_dev` is the device the
/// requests' data is mapped for.
#[pin_data(PinnedDrop)]
#[repr(C)]
pub struct TagSet<T: Operations> {
    #[pin]
    inner: Opaque<bindings::blk_mq_tag_set>,
    dma_dev: ARef<Device>,
    _p: PhantomData<T>,
}

// SAFETY: The C tag set is meant to be shared by CPUs; the data in it is
// `Send + Sync` by the bounds of `Operations`.
unsafe impl<T: Operations> Send for TagSet<T> {}
// SAFETY: As above; `&TagSet` methods call thread-safe C functions.
unsafe impl<T: Operations> Sync for TagSet<T> {}

impl<T: Operations> TagSet<T> {
    /// Allocates a tag set whose requests map their data for `dma_dev`.
    pub fn new(
        dma_dev: &Device<Bound>,
        config: TagSetConfig,
        data: T::TagSetData,
    ) -> impl PinInit<Self, Error> {
        let dma_dev: ARef<Device> = dma_dev.into();
        let cmd_size = Pdu::<T>::SG_OFFSET
            + usize::from(config.max_segments) * size_of::<bindings::scatterlist>();
        let timeout = kernel::time::msecs_to_jiffies(
            u32::try_from(config.timeout.as_millis()).unwrap_or(u32::MAX),
        );
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::blk_mq_tag_set| {
                // More than one map needs the driver's `map_queues`
                // (blk-mq BUG()s otherwise).
                if !(1..=3).contains(&config.nr_maps)
                    || (config.nr_maps > 1 && !T::HAS_MAP_QUEUES)
                    || config.nr_hw_queues == 0
                    || config.queue_depth == 0
                {
                    return Err(EINVAL);
                }
                let cmd_size = u32::try_from(cmd_size)?;
                let driver_data = data.into_foreign();
                // SAFETY: `slot` is valid for writes; an all-zero tag set is
                // what the C code starts from.
                unsafe {
                    slot.write(bindings::blk_mq_tag_set {
                        ops: OperationsVTable::<T>::build(),
                        nr_hw_queues: config.nr_hw_queues,
                        queue_depth: config.queue_depth,
                        nr_maps: config.nr_maps,
                        cmd_size,
                        numa_node: bindings::NUMA_NO_NODE,
                        timeout: timeout as c_uint,
                        driver_data,
                        ..pin_init::zeroed()
                    })
                };
                // SAFETY: `slot` is an initialised tag set, pinned.
                let ret = to_result(unsafe { bindings::blk_mq_alloc_tag_set(slot) });
                if ret.is_err() {
                    // SAFETY: Made by `into_foreign()` above; not freed.
                    drop(unsafe { T::TagSetData::from_foreign(driver_data) });
                }
                ret
            }),
            dma_dev,
            _p: PhantomData,
        })
    }

    fn raw(&self) -> *mut bindings::blk_mq_tag_set {
        self.inner.get()
    }

    /// The set's data.
    pub fn data(&self) -> Borrowed<'_, T::TagSetData> {
        // SAFETY: `driver_data` came from `into_foreign()` (type invariant)
        // and is released only when `self` drops.
        unsafe { T::TagSetData::borrow((*self.raw()).driver_data) }
    }

    /// Stops blk-mq calling [`Operations::queue_rq`] for every queue of
    /// the set, waiting for calls in progress (`blk_mq_quiesce_tagset()`).
    pub fn quiesce(&self) {
        // SAFETY: An allocated tag set (type invariant).
        unsafe { bindings::blk_mq_quiesce_tagset(self.raw()) };
    }

    /// Undoes [`TagSet::quiesce`].
    pub fn unquiesce(&self) {
        // SAFETY: An allocated tag set (type invariant).
        unsafe { bindings::blk_mq_unquiesce_tagset(self.raw()) };
    }
}

#[pinned_drop]
impl<T: Operations> PinnedDrop for TagSet<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: Allocated (type invariant); no disk is left, as each holds
        // an `Arc` of the set.
        let data = unsafe {
            let data = (*self.raw()).driver_data;
            bindings::blk_mq_free_tag_set(self.raw());
            data
        };
        // SAFETY: From `into_foreign()` (type invariant); the set that used
        // it is gone.
        drop(unsafe { T::TagSetData::from_foreign(data) });
    }
}

/// The queue maps of a tag set, in [`Operations::map_queues`].
pub struct QueueMaps<'a> {
    set: *mut bindings::blk_mq_tag_set,
    _p: PhantomData<&'a mut bindings::blk_mq_tag_set>,
}

impl QueueMaps<'_> {
    /// Gives map `kind` `nr_queues` hardware queues from `offset` on, and
    /// maps CPUs to them: by the interrupt affinity of `dev`'s vectors from
    /// `irq_offset` on if `affinity` is given (`blk_mq_map_hw_queues()`,
    /// which falls back to spreading), else spread evenly
    /// (`blk_mq_map_queues()`). A map with no queues is left empty.
    pub fn map(
        &mut self,
        kind: HctxType,
        nr_queues: u32,
        offset: u32,
        affinity: Option<(&Device, u32)>,
    ) {
        let index = kind as usize;
        // SAFETY: `set` is the tag set blk-mq is mapping, which it gives us
        // exclusively for the duration of the callback.
        let set = unsafe { &mut *self.set };
        if index >= set.nr_maps as usize {
            return;
        }
        let map = &mut set.map[index];
        map.nr_queues = nr_queues;
        map.queue_offset = offset;
        if nr_queues == 0 {
            return;
        }
        match affinity {
            // SAFETY: `map` is a map of the set being mapped; `dev` is valid.
            Some((dev, irq_offset)) => unsafe {
                bindings::blk_mq_map_hw_queues(map, device::as_raw(dev), irq_offset)
            },
            // SAFETY: As above.
            None => unsafe { bindings::blk_mq_map_queues(map) },
        }
    }
}

/// A request the driver owns: started, not yet ended.
///
/// # Invariants
///
/// `ptr` is a started request of a tag set of `T`, owned by the driver:
/// blk-mq does not end, requeue or free it until this token is consumed.
/// Its PDU is an initialised `Pdu<T>`.
pub struct Request<T: Operations> {
    ptr: NonNull<bindings::request>,
    _p: PhantomData<T>,
}

// SAFETY: Ownership of a request may move between CPUs: it is ended from
// whichever CPU the completion arrives on. The data in it is `Send`.
unsafe impl<T: Operations> Send for Request<T> {}
// SAFETY: `&Request` only reads fields that do not change while it is owned.
unsafe impl<T: Operations> Sync for Request<T> {}

impl<T: Operations> Request<T> {
    fn raw(&self) -> *mut bindings::request {
        self.ptr.as_ptr()
    }

    fn pdu(&self) -> *mut Pdu<T> {
        // SAFETY: A request of our tag set (type invariant).
        unsafe { bindings::blk_mq_rq_to_pdu(self.raw()).cast() }
    }

    /// The request's tag: unique among the requests in flight on its
    /// hardware queue, below the set's queue depth.
    pub fn tag(&self) -> u32 {
        // SAFETY: Valid request (type invariant); the tag is fixed while
        // the driver owns it.
        unsafe { (*self.raw()).tag as u32 }
    }

    /// The index of the request's hardware queue.
    pub fn hctx_index(&self) -> u32 {
        // SAFETY: A started request has its hardware queue.
        unsafe { (*(*self.raw()).mq_hctx).queue_num }
    }

    fn flags(&self) -> bindings::blk_opf_t {
        // SAFETY: Valid request; the flags are fixed while owned.
        unsafe { (*self.raw()).cmd_flags }
    }

    /// What the request asks for.
    pub fn op(&self) -> Op {
        match self.flags() & bindings::REQ_OP_MASK {
            bindings::req_op_REQ_OP_READ => Op::Read,
            bindings::req_op_REQ_OP_WRITE => Op::Write,
            bindings::req_op_REQ_OP_FLUSH => Op::Flush,
            bindings::req_op_REQ_OP_DISCARD => Op::Discard,
            bindings::req_op_REQ_OP_WRITE_ZEROES => Op::WriteZeroes,
            bindings::req_op_REQ_OP_DRV_IN => Op::DrvIn,
            bindings::req_op_REQ_OP_DRV_OUT => Op::DrvOut,
            other => Op::Other(other),
        }
    }

    /// Whether the data must be on stable media when the request completes
    /// (`REQ_FUA`).
    pub fn is_fua(&self) -> bool {
        self.flags() & bindings::REQ_FUA != 0
    }

    /// Whether a write-zeroes request must not deallocate (`REQ_NOUNMAP`).
    pub fn is_nounmap(&self) -> bool {
        self.flags() & bindings::REQ_NOUNMAP != 0
    }

    /// The first sector (512 bytes) of the request (`blk_rq_pos()`).
    pub fn sector(&self) -> u64 {
        // SAFETY: Valid request, fixed while owned.
        unsafe { (*self.raw()).__sector }
    }

    /// The length in bytes (`blk_rq_bytes()`).
    pub fn bytes(&self) -> u32 {
        // SAFETY: Valid request, fixed while owned.
        unsafe { (*self.raw()).__data_len }
    }

    /// The ranges (first sector, bytes) of each bio of the request: one
    /// per range of a discard that merged several.
    pub fn ranges(&self) -> Ranges<'_> {
        Ranges {
            // SAFETY: Valid request; its bio chain is fixed while owned.
            bio: unsafe { (*self.raw()).bio },
            _p: PhantomData,
        }
    }

    /// The driver's data in the request.
    pub fn data(&self) -> &T::RequestData {
        // SAFETY: Initialised in `init_request` (type invariant).
        unsafe { &(*self.pdu()).data }
    }

    /// The driver's data in the request, to change.
    pub fn data_mut(&mut self) -> &mut T::RequestData {
        // SAFETY: As for `data()`; the token is the only way to the data.
        unsafe { &mut (*self.pdu()).data }
    }

    /// The tag set's DMA device.
    fn dma_dev(&self) -> *mut bindings::device {
        // SAFETY: The request's queue belongs to a tag set made by
        // `TagSet::new`, which outlives its requests.
        let set = unsafe { (*(*self.raw()).q).tag_set };
        // SAFETY: `inner` is the first field of the `repr(C)` `TagSet<T>`.
        let set = unsafe { &*set.cast::<TagSet<T>>() };
        device::as_raw(&set.dma_dev)
    }

    /// Maps the request's data for DMA by the tag set's device and returns
    /// the number of DMA segments; [`Request::segments`] lists them. The
    /// mapping lasts until the request is ended or requeued.
    pub fn map_data(&mut self) -> Result<u32> {
        let pdu = self.pdu();
        // SAFETY: Valid PDU (type invariant).
        let p = unsafe { &mut *pdu };
        if p.sg_nents != 0 {
            return Err(EBUSY);
        }
        let dir = match self.op() {
            Op::Write | Op::DrvOut => bindings::dma_data_direction::DMA_TO_DEVICE,
            Op::Read | Op::DrvIn => bindings::dma_data_direction::DMA_FROM_DEVICE,
            _ => return Err(EINVAL),
        };
        // SAFETY: Valid request (type invariant).
        if u32::from(unsafe { (*self.raw()).nr_phys_segments }) > p.sg_cap {
            return Err(EINVAL);
        }
        // SAFETY: `sg` holds `sg_cap` initialised entries, at least the
        // request's physical segments (checked above), which is what
        // `__blk_rq_map_sg()` fills.
        let nents = unsafe {
            let sg = Pdu::sg(pdu);
            bindings::sg_init_table(sg, p.sg_cap);
            let mut last: *mut bindings::scatterlist = core::ptr::null_mut();
            bindings::__blk_rq_map_sg(self.raw(), sg, &mut last)
        };
        if nents <= 0 {
            return Err(EIO);
        }
        let dev = self.dma_dev();
        // SAFETY: `nents` entries were filled above, for the device the
        // set was made for.
        let mapped = unsafe { bindings::dma_map_sg_attrs(dev, Pdu::sg(pdu), nents, dir, 0) };
        if mapped == 0 {
            return Err(ENOMEM);
        }
        p.sg_nents = nents as u32;
        p.dma_nents = mapped as u32;
        p.dir = dir;
        Ok(mapped as u32)
    }

    /// The DMA segments (bus address, length) of the data that
    /// [`Request::map_data`] mapped; none before.
    pub fn segments(&self) -> Segments<'_> {
        let pdu = self.pdu();
        Segments {
            // SAFETY: Valid PDU.
            sg: unsafe { Pdu::sg(pdu) },
            // SAFETY: Valid PDU.
            len: unsafe { (*pdu).dma_nents },
            next: 0,
            _p: PhantomData,
        }
    }

    fn unmap(&mut self) {
        let pdu = self.pdu();
        // SAFETY: Valid PDU.
        let p = unsafe { &mut *pdu };
        if p.sg_nents == 0 {
            return;
        }
        let dev = self.dma_dev();
        // SAFETY: The entries were mapped for `dev` in direction `dir` by
        // `map_data()`, and are unmapped once (counts reset below).
        unsafe { bindings::dma_unmap_sg_attrs(dev, Pdu::sg(pdu), p.sg_nents as c_int, p.dir, 0) };
        p.sg_nents = 0;
        p.dma_nents = 0;
    }

    fn into_raw(mut self) -> *mut bindings::request {
        self.unmap();
        let this = ManuallyDrop::new(self);
        this.raw()
    }

    /// Whether fault injection (`fail_io_timeout`, enabled per disk in
    /// `io-timeout-fail`) wants this completion dropped, as if the device
    /// had never sent it, to exercise the timeout handler. A driver asks
    /// when its device completes the request and, if so, keeps it in
    /// flight (`blk_should_fake_timeout()`).
    pub fn should_fake_timeout(&self) -> bool {
        // SAFETY: A request we own, so its queue is alive.
        unsafe { bindings::rust_suite_blk_should_fake_timeout(self.raw()) }
    }

    /// Ends the request with `status` (`blk_mq_end_request()`).
    pub fn end(self, status: Status) {
        let rq = self.into_raw();
        // SAFETY: We owned the request (type invariant) and give it back.
        unsafe { bindings::blk_mq_end_request(rq, status.0) };
    }

    /// Gives the request back to blk-mq to be started again later
    /// (`blk_mq_requeue_request()`), kicking the requeue list if `kick`.
    pub fn requeue(self, kick: bool) {
        let rq = self.into_raw();
        // SAFETY: We owned the started request and give it back.
        unsafe { bindings::blk_mq_requeue_request(rq, kick) };
    }

    /// Refuses the request from [`Operations::queue_rq`] with `status`
    /// ([`Status::RESOURCE`] or [`Status::DEV_RESOURCE`] to have it tried
    /// again later).
    pub fn refuse(self, status: Status) -> Refused {
        let _ = self.into_raw();
        Refused(status)
    }
}

impl<T: Operations> Drop for Request<T> {
    fn drop(&mut self) {
        self.unmap();
        // SAFETY: We owned the request and end it here, once.
        unsafe { bindings::blk_mq_end_request(self.raw(), Status::IOERR.0) };
    }
}

/// The DMA segments of a mapped request, see [`Request::segments`].
pub struct Segments<'a> {
    sg: *mut bindings::scatterlist,
    len: u32,
    next: u32,
    _p: PhantomData<&'a ()>,
}

impl Iterator for Segments<'_> {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        if self.next == self.len {
            return None;
        }
        // SAFETY: The table is flat (not chained) and its first `len`
        // entries are mapped; `next < len`.
        let item = unsafe {
            let sg = self.sg.add(self.next as usize);
            (bindings::sg_dma_address(sg), bindings::sg_dma_len(sg))
        };
        self.next += 1;
        Some(item)
    }
}

/// The ranges of a request's bios, see [`Request::ranges`].
pub struct Ranges<'a> {
    bio: *mut bindings::bio,
    _p: PhantomData<&'a ()>,
}

impl Iterator for Ranges<'_> {
    type Item = (u64, u32);

    fn next(&mut self) -> Option<(u64, u32)> {
        if self.bio.is_null() {
            return None;
        }
        // SAFETY: A bio of a request the caller owns; the chain is fixed.
        unsafe {
            let it = (*self.bio).bi_iter;
            self.bio = (*self.bio).bi_next;
            Some((it.bi_sector, it.bi_size))
        }
    }
}

/// A request that timed out, as [`Operations::timeout`] sees it: which one,
/// not the request itself, which the driver owns.
#[derive(Clone, Copy, Debug)]
pub struct TimedOut {
    /// The request's tag.
    pub tag: u32,
    /// Its hardware queue.
    pub hctx_index: u32,
}

/// A disk (`struct gendisk`) whose requests go to a tag set of `T`.
///
/// The queue data lives as long as the C disk, not this handle: dropping
/// the handle deletes the disk, but a block device still open keeps it,
/// and may still call [`Operations::ioctl`], until it is closed. The block
/// device operations' `free_disk` then drops the data.
///
/// # Invariants
///
/// `disk` was allocated on `set` and added; its queue's `queuedata` came
/// from `T::QueueData::into_foreign()`, and its `private_data` is a
/// `DiskRef` of `T` holding the same pointer, from `KBox::into_raw()`.
pub struct GenDisk<T: Operations> {
    disk: NonNull<bindings::gendisk>,
    set: Arc<TagSet<T>>,
}

// SAFETY: The C disk is usable from any thread; `QueueData` is `Send`.
unsafe impl<T: Operations> Send for GenDisk<T> {}
// SAFETY: `&GenDisk` methods call thread-safe C functions.
unsafe impl<T: Operations> Sync for GenDisk<T> {}

/// The properties of a new disk.
#[derive(Clone, Copy, Debug)]
pub struct DiskParams {
    /// Capacity in 512-byte sectors.
    pub capacity_sectors: u64,
    /// Logical block size: 512 to `PAGE_SIZE`, a power of two.
    pub logical_block_size: u32,
    /// Physical block size (at least the logical one).
    pub physical_block_size: u32,
    /// Largest request, in sectors.
    pub max_hw_sectors: u32,
    /// Most data segments in a request (at most the tag set's
    /// `max_segments`).
    pub max_segments: u16,
    /// Segments may not cross or leave gaps at boundaries of this mask + 1.
    pub virt_boundary_mask: u64,
    /// Data buffers must be aligned to this mask + 1.
    pub dma_alignment: u32,
    /// Largest discard in sectors, 0 if discard is not supported.
    pub max_discard_sectors: u32,
    /// Ranges in a discard request.
    pub max_discard_segments: u16,
    /// Largest write-zeroes in sectors, 0 if not supported.
    pub max_write_zeroes_sectors: u32,
    /// The device has a volatile write cache (flushes are sent).
    pub write_cache: bool,
    /// The device supports forced unit access.
    pub fua: bool,
}

impl<T: Operations> GenDisk<T> {
    /// Makes a disk on `set`, named `name`, a child of `parent` in sysfs,
    /// and adds it (partitions are scanned).
    pub fn new(
        set: Arc<TagSet<T>>,
        parent: &Device<Bound>,
        name: core::fmt::Arguments<'_>,
        params: &DiskParams,
        queue_data: T::QueueData,
    ) -> Result<Self> {
        let logical = params.logical_block_size;
        if !(512..=bindings::PAGE_SIZE as u32).contains(&logical) || !logical.is_power_of_two() {
            return Err(EINVAL);
        }
        let mut lim: bindings::queue_limits = pin_init::zeroed();
        lim.logical_block_size = logical;
        lim.physical_block_size = params.physical_block_size.max(logical);
        lim.max_hw_sectors = params.max_hw_sectors;
        lim.max_segments = params.max_segments;
        lim.virt_boundary_mask = params.virt_boundary_mask as kernel::ffi::c_ulong;
        lim.dma_alignment = params.dma_alignment;
        lim.max_hw_discard_sectors = params.max_discard_sectors;
        lim.max_discard_segments = params.max_discard_segments.max(1);
        lim.discard_granularity = if params.max_discard_sectors != 0 {
            logical
        } else {
            0
        };
        lim.max_write_zeroes_sectors = params.max_write_zeroes_sectors;
        if params.write_cache {
            lim.features |= bindings::BLK_FEAT_WRITE_CACHE;
            if params.fua {
                lim.features |= bindings::BLK_FEAT_FUA;
            }
        }

        let data = queue_data.into_foreign();
        let disk_ref = KBox::new(
            DiskRef {
                data,
                vtbl: &DiskVtbl::<T>::VTBL,
            },
            GFP_KERNEL,
        );
        let disk_ref = match disk_ref {
            Ok(r) => KBox::into_raw(r),
            Err(e) => {
                // SAFETY: From `into_foreign()` above, used by nothing.
                drop(unsafe { T::QueueData::from_foreign(data) });
                return Err(e.into());
            }
        };
        let free = move || {
            // SAFETY: From `KBox::into_raw()` above; no disk that was added
            // refers to it, so no `free_disk` takes it back.
            drop(unsafe { KBox::from_raw(disk_ref) });
            // SAFETY: From `into_foreign()` above, used by nothing now.
            drop(unsafe { T::QueueData::from_foreign(data) });
        };
        // SAFETY: The set is allocated (its invariant); `lim` is valid for
        // the call; the lock class is static.
        let disk = from_err_ptr(unsafe {
            bindings::__blk_mq_alloc_disk(set.raw(), &mut lim, data, static_lock_class!().as_ptr())
        });
        let disk = match disk {
            Ok(d) => d,
            Err(e) => {
                free();
                return Err(e);
            }
        };
        let guard = ScopeGuard::new(move || {
            // SAFETY: Allocated above, not added: `put_disk()` frees it
            // without calling `free_disk`.
            unsafe { bindings::put_disk(disk) };
            free();
        });

        // SAFETY: Not added yet: we have the disk to ourselves.
        unsafe { (*disk).private_data = disk_ref.cast() };
        // SAFETY: Not added yet: we have the disk to ourselves.
        crate::format_name(unsafe { &mut (*disk).disk_name }, name)?;

        // SAFETY: The disk is valid; the fops are static, and their owner
        // (this module) is pinned while the disk is open.
        unsafe {
            (*disk).fops = &bindings::rust_suite_blk_fops;
            bindings::set_capacity(disk, params.capacity_sectors);
        }
        // SAFETY: A valid, unadded disk; `parent` is a bound device that
        // outlives the disk, which its driver deletes before unbinding.
        to_result(unsafe {
            bindings::device_add_disk(device::as_raw(parent), disk, core::ptr::null_mut())
        })?;
        guard.dismiss();
        // INVARIANT: Allocated on `set` and added, with `data` as queuedata
        // and, in `private_data`, a `DiskRef` of `T` holding it.
        Ok(Self {
            // SAFETY: `from_err_ptr` returned a non-error pointer.
            disk: unsafe { NonNull::new_unchecked(disk) },
            set,
        })
    }

    /// Marks the disk dead: its device is gone, I/O to it fails at once
    /// (`blk_mark_disk_dead()`).
    pub fn mark_dead(&self) {
        // SAFETY: A valid, added disk (type invariant).
        unsafe { bindings::blk_mark_disk_dead(self.disk.as_ptr()) };
    }

    /// Runs the requeue list of the disk's queue now.
    pub fn kick_requeue_list(&self) {
        // SAFETY: A valid disk with a queue.
        unsafe { bindings::blk_mq_kick_requeue_list((*self.disk.as_ptr()).queue) };
    }

    /// The tag set of the disk.
    pub fn tag_set(&self) -> &Arc<TagSet<T>> {
        &self.set
    }

    /// A handle for driver-private requests on the disk's queue (see
    /// [`PrivateQueue`]).
    pub fn private_queue(&self) -> Result<PrivateQueue<T>> {
        // SAFETY: A valid, added disk with a queue (type invariant).
        let q = unsafe { (*self.disk.as_ptr()).queue };
        // SAFETY: The queue is alive while the disk is.
        if !unsafe { bindings::blk_get_queue(q) } {
            return Err(ENODEV);
        }
        // INVARIANT: A queue of a disk of `T`, referenced just above.
        Ok(PrivateQueue {
            // SAFETY: A disk's queue is never NULL.
            q: unsafe { NonNull::new_unchecked(q) },
            _p: PhantomData,
        })
    }
}

/// A counted reference to a disk's request queue, through which a driver
/// runs its own requests (`REQ_OP_DRV_IN`/`REQ_OP_DRV_OUT`, such as
/// passthrough commands) and waits for them.
///
/// It may outlive the [`GenDisk`]: the queue's memory stays, but once the
/// disk is deleted the queue is dying and [`PrivateQueue::execute`] fails
/// with `ENODEV` before it touches the tag set. A request already running
/// holds the queue's usage counter, which deleting the disk waits for.
///
/// # Invariants
///
/// `q` is the request queue of a [`GenDisk<T>`] and we hold a reference to
/// it (`blk_get_queue()`).
pub struct PrivateQueue<T: Operations> {
    q: NonNull<bindings::request_queue>,
    _p: PhantomData<T>,
}

// SAFETY: The reference may be dropped, and requests run, from any thread.
unsafe impl<T: Operations> Send for PrivateQueue<T> {}
// SAFETY: `execute` may run on several threads at once: each allocates its
// own request.
unsafe impl<T: Operations> Sync for PrivateQueue<T> {}

impl<T: Operations> PrivateQueue<T> {
    /// Runs one driver-private request and waits for it to end
    /// (`blk_execute_rq()`).
    ///
    /// The request is `REQ_OP_DRV_OUT` if `to_device`, else
    /// `REQ_OP_DRV_IN`; `buf` (empty for none) is its data, mapped with
    /// `blk_rq_map_kern()` (bounced if need be), so that
    /// [`Operations::queue_rq`] sees it as any request's data. `prepare`
    /// sets the request's driver data before it is queued, `finish` reads
    /// it, with the status the request ended with, once it has ended. A
    /// `timeout` replaces the tag set's for this request.
    pub fn execute<R>(
        &self,
        to_device: bool,
        buf: &mut [u8],
        timeout: Option<Delta>,
        prepare: impl FnOnce(&mut T::RequestData),
        finish: impl FnOnce(&mut T::RequestData, Status) -> R,
    ) -> Result<R> {
        let op = if to_device {
            bindings::req_op_REQ_OP_DRV_OUT
        } else {
            bindings::req_op_REQ_OP_DRV_IN
        };
        let len = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: We hold a reference to the queue (type invariant); a
        // dying queue makes this fail rather than wait.
        let rq = from_err_ptr(unsafe { bindings::blk_mq_alloc_request(self.q.as_ptr(), op, 0) })?;
        let _free = ScopeGuard::new(move || {
            // SAFETY: Allocated above, not queued or already ended, freed
            // once.
            unsafe { bindings::blk_mq_free_request(rq) }
        });
        if len != 0 {
            // SAFETY: `rq` is a fresh request; `buf` is valid for `len`
            // bytes until the request is freed (it outlives `_free`).
            to_result(unsafe {
                bindings::blk_rq_map_kern(rq, buf.as_mut_ptr().cast(), len, bindings::GFP_KERNEL)
            })?;
        }
        // SAFETY: A request of a tag set of `T` (type invariant): its PDU
        // is an initialised `Pdu<T>`, and not in use until queued.
        let pdu = unsafe { &mut *bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu<T>>() };
        prepare(&mut pdu.data);
        if let Some(t) = timeout {
            let ms = t.as_millis().clamp(1, u32::MAX.into()) as u32;
            // SAFETY: Not queued yet: the request is ours to set up.
            unsafe { (*rq).timeout = kernel::time::msecs_to_jiffies(ms) as c_uint };
        }
        // SAFETY: A prepared request; this waits until it has ended.
        let status = Status(unsafe { bindings::blk_execute_rq(rq, false) });
        // SAFETY: Ended: the driver no longer has it, the PDU is ours again.
        let pdu = unsafe { &mut *bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu<T>>() };
        Ok(finish(&mut pdu.data, status))
    }
}

impl<T: Operations> Drop for PrivateQueue<T> {
    fn drop(&mut self) {
        // SAFETY: Our reference (type invariant), put once.
        unsafe { bindings::blk_put_queue(self.q.as_ptr()) };
    }
}

impl<T: Operations> Drop for GenDisk<T> {
    fn drop(&mut self) {
        let disk = self.disk.as_ptr();
        // SAFETY: Added and valid (type invariant). `del_gendisk()` waits
        // for the requests in flight: the driver must end what it holds
        // first (see the module documentation). The queue data goes with
        // the last reference to the disk (`rust_suite_blk_free_disk`).
        unsafe {
            bindings::del_gendisk(disk);
            bindings::put_disk(disk);
        }
    }
}

/// Type-erased calls on a disk's queue data, monomorphised for each `T`,
/// since the C block device operations are not generic.
struct DiskVtbl<T>(PhantomData<T>);

/// The calls of [`DiskVtbl`], as the C callbacks find them.
struct DiskCalls {
    ioctl: unsafe fn(*mut c_void, u32, UserArg) -> Result<i32>,
    free: unsafe fn(*mut c_void),
}

impl<T: Operations> DiskVtbl<T> {
    const VTBL: DiskCalls = DiskCalls {
        ioctl: Self::ioctl,
        free: Self::free,
    };

    /// # Safety
    ///
    /// `data` is the queue data of a disk of `T` not freed yet.
    unsafe fn ioctl(data: *mut c_void, cmd: u32, arg: UserArg) -> Result<i32> {
        // SAFETY: By the function's requirements, `data` came from
        // `T::QueueData::into_foreign()` and has not been taken back.
        T::ioctl(unsafe { T::QueueData::borrow(data) }, cmd, arg)
    }

    /// # Safety
    ///
    /// `data` is the queue data of a disk of `T` that nothing uses any
    /// more.
    unsafe fn free(data: *mut c_void) {
        // SAFETY: By the function's requirements.
        drop(unsafe { T::QueueData::from_foreign(data) });
    }
}

/// What the `private_data` of a disk made by [`GenDisk::new`] points to.
struct DiskRef {
    data: *mut c_void,
    vtbl: &'static DiskCalls,
}

/// The `ioctl` block device operation of the disks made by [`GenDisk::new`].
///
/// # Safety
///
/// Called by the block layer for an open block device of such a disk.
#[no_mangle]
unsafe extern "C" fn rust_suite_blk_ioctl(
    bdev: *mut bindings::block_device,
    _mode: bindings::blk_mode_t,
    cmd: c_uint,
    arg: kernel::ffi::c_ulong,
) -> c_int {
    // SAFETY: An open block device keeps its disk, whose `private_data`
    // is a `DiskRef` (`GenDisk` invariant) freed only by `free_disk`, which
    // waits for the last reference to the disk.
    let r = unsafe { &*(*(*bdev).bd_disk).private_data.cast::<DiskRef>() };
    // SAFETY: `r.data` is the disk's queue data, alive as `r` is.
    match unsafe { (r.vtbl.ioctl)(r.data, cmd, UserArg(arg)) } {
        Ok(v) => v,
        Err(e) => e.to_errno(),
    }
}

/// The `free_disk` block device operation of the disks made by
/// [`GenDisk::new`]: drops the queue data with the last reference to the
/// disk.
///
/// # Safety
///
/// Called by the block layer once for such a disk that was added, when
/// nothing refers to it any more.
#[no_mangle]
unsafe extern "C" fn rust_suite_blk_free_disk(disk: *mut bindings::gendisk) {
    // SAFETY: From `KBox::into_raw()` (`GenDisk` invariant); the disk is
    // going, and this is the last use of its `private_data`.
    let r = unsafe { KBox::from_raw((*disk).private_data.cast::<DiskRef>()) };
    // SAFETY: The queue data, with its queue and disk gone, is unused.
    unsafe { (r.vtbl.free)(r.data) };
}

/// The `struct blk_mq_ops` of driver `T`.
struct OperationsVTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OperationsVTable<T> {
    /// # Safety
    ///
    /// Called by blk-mq with a hardware context of a set of `T` whose
    /// `init_hctx` succeeded, a queue of a [`GenDisk<T>`], and a request
    /// blk-mq hands over to the driver.
    unsafe extern "C" fn queue_rq_callback(
        hctx: *mut bindings::blk_mq_hw_ctx,
        bd: *const bindings::blk_mq_queue_data,
    ) -> bindings::blk_status_t {
        // SAFETY: See the function's safety section.
        let (rq, hw, queue, last) = unsafe {
            let rq = (*bd).rq;
            bindings::blk_mq_start_request(rq);
            (
                rq,
                T::HwData::borrow((*hctx).driver_data),
                T::QueueData::borrow((*(*hctx).queue).queuedata),
                (*bd).last,
            )
        };
        // INVARIANT: Started above and owned by the driver until it gives
        // it back; its PDU was initialised by `init_request_callback`.
        let rq = Request {
            // SAFETY: blk-mq passes a valid request.
            ptr: unsafe { NonNull::new_unchecked(rq) },
            _p: PhantomData,
        };
        match T::queue_rq(hw, queue, rq, last) {
            Ok(()) => 0,
            Err(Refused(status)) => status.0,
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq with an initialised hardware context of a set of `T`.
    unsafe extern "C" fn commit_rqs_callback(hctx: *mut bindings::blk_mq_hw_ctx) {
        // SAFETY: `driver_data` is from `init_hctx_callback`.
        T::commit_rqs(unsafe { T::HwData::borrow((*hctx).driver_data) });
    }

    /// # Safety
    ///
    /// Called by blk-mq with a request of a set of `T` that is in flight.
    unsafe extern "C" fn timeout_callback(
        rq: *mut bindings::request,
    ) -> bindings::blk_eh_timer_return {
        // SAFETY: blk-mq holds a reference on the request during the call;
        // its hardware context, queue and tag are fixed, and the queue's tag
        // set is one made by `TagSet::new` for `T`.
        let (set, hw, rq) = unsafe {
            let hctx = (*rq).mq_hctx;
            (
                T::TagSetData::borrow((*(*(*rq).q).tag_set).driver_data),
                T::HwData::borrow((*hctx).driver_data),
                TimedOut {
                    tag: (*rq).tag as u32,
                    hctx_index: (*hctx).queue_num,
                },
            )
        };
        match T::timeout(set, hw, rq) {
            TimeoutAction::Done => bindings::blk_eh_timer_return_BLK_EH_DONE,
            TimeoutAction::ResetTimer => bindings::blk_eh_timer_return_BLK_EH_RESET_TIMER,
        }
    }

    /// # Safety
    ///
    /// Called by blk-mq with an initialised hardware context of a set of `T`.
    unsafe extern "C" fn poll_callback(
        hctx: *mut bindings::blk_mq_hw_ctx,
        _iob: *mut bindings::io_comp_batch,
    ) -> c_int {
        // SAFETY: `driver_data` is from `init_hctx_callback`.
        let n = T::poll(unsafe { T::HwData::borrow((*hctx).driver_data) });
        n.min(c_int::MAX as u32) as c_int
    }

    /// # Safety
    ///
    /// Called by blk-mq with a tag set made by [`TagSet::new`] for `T`.
    unsafe extern "C" fn map_queues_callback(set: *mut bindings::blk_mq_tag_set) {
        // SAFETY: `driver_data` is from `TagSet::new`.
        let data = unsafe { T::TagSetData::borrow((*set).driver_data) };
        let mut maps = QueueMaps {
            set,
            _p: PhantomData,
        };
        T::map_queues(data, &mut maps);
    }

    /// # Safety
    ///
    /// Called by blk-mq once per hardware context of a set of `T` before it
    /// is used, paired with `exit_hctx_callback`.
    unsafe extern "C" fn init_hctx_callback(
        hctx: *mut bindings::blk_mq_hw_ctx,
        set_data: *mut c_void,
        index: c_uint,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `set_data` is the set's `driver_data`.
            let data = T::init_hctx(unsafe { T::TagSetData::borrow(set_data) }, index)?;
            // SAFETY: The context is ours to set up.
            unsafe { (*hctx).driver_data = data.into_foreign() };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by blk-mq once for a context `init_hctx_callback` set up.
    unsafe extern "C" fn exit_hctx_callback(hctx: *mut bindings::blk_mq_hw_ctx, _index: c_uint) {
        // SAFETY: From `into_foreign()` in `init_hctx_callback`, released
        // once here.
        drop(unsafe { T::HwData::from_foreign((*hctx).driver_data) });
    }

    /// # Safety
    ///
    /// Called by blk-mq for each request of a set made by [`TagSet::new`]
    /// for `T`, with `cmd_size` bytes of PDU, paired with
    /// `exit_request_callback`.
    unsafe extern "C" fn init_request_callback(
        set: *mut bindings::blk_mq_tag_set,
        rq: *mut bindings::request,
        index: c_uint,
        _numa_node: c_int,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `driver_data` is from `TagSet::new`.
            let set_data = unsafe { T::TagSetData::borrow((*set).driver_data) };
            let data = T::init_request(set_data, index)?;
            // SAFETY: The PDU is `cmd_size` bytes, ours to initialise.
            unsafe {
                let cap = ((*set).cmd_size as usize - Pdu::<T>::SG_OFFSET)
                    / size_of::<bindings::scatterlist>();
                let pdu = bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu<T>>();
                pdu.write(Pdu {
                    data,
                    sg_nents: 0,
                    dma_nents: 0,
                    dir: bindings::dma_data_direction::DMA_NONE,
                    sg_cap: cap as u32,
                });
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by blk-mq once for a request `init_request_callback`
    /// initialised, when nothing uses it.
    unsafe extern "C" fn exit_request_callback(
        _set: *mut bindings::blk_mq_tag_set,
        rq: *mut bindings::request,
        _index: c_uint,
    ) {
        // SAFETY: An initialised PDU, dropped once.
        unsafe { core::ptr::drop_in_place(bindings::blk_mq_rq_to_pdu(rq).cast::<Pdu<T>>()) };
    }

    const VTABLE: bindings::blk_mq_ops = bindings::blk_mq_ops {
        queue_rq: Some(Self::queue_rq_callback),
        commit_rqs: Some(Self::commit_rqs_callback),
        timeout: if T::HAS_TIMEOUT {
            Some(Self::timeout_callback)
        } else {
            None
        },
        poll: if T::HAS_POLL {
            Some(Self::poll_callback)
        } else {
            None
        },
        map_queues: if T::HAS_MAP_QUEUES {
            Some(Self::map_queues_callback)
        } else {
            None
        },
        init_hctx: Some(Self::init_hctx_callback),
        exit_hctx: Some(Self::exit_hctx_callback),
        init_request: Some(Self::init_request_callback),
        exit_request: Some(Self::exit_request_callback),
        // SAFETY: The other callbacks are optional; NULL is valid.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const fn build() -> &'static bindings::blk_mq_ops {
        &Self::VTABLE
    }
}
