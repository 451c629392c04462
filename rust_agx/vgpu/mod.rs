// SPDX-License-Identifier: GPL-2.0

//! The virtual GPU: the device side, in files of its own.
//!
//! [`model`] is the GPU and its firmware, plain `no_std` code that sees
//! only a bus, a timer and an interrupt line ([`model::Platform`]). This file
//! is its "silicon": registers behind a lock, the bus, a worker thread that
//! runs the firmware when the doorbell rings, and the interrupt line. Nothing
//! here knows the driver; the driver knows the device only through
//! [`Vgpu::read_reg`], [`Vgpu::write_reg`] and its [`Irq`] handler.

#[allow(unreachable_pub)]
pub(crate) mod model;

use crate::fw::shared::REG_DOORBELL;
use abstractions::{bus::Bus, workqueue::OwnedQueue};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{Instant, Monotonic},
    workqueue::{new_work, Work, WorkItem},
};

/// The interrupt line of the device, handled by the driver.
pub(crate) trait Irq: Send + Sync {
    /// The device raised its interrupt. Called from the device's worker; it
    /// must not block for long (queue work).
    fn raise(&self);
}

/// What the firmware model can reach.
struct Platform<'a> {
    bus: &'a Bus,
    start: Instant<Monotonic>,
    irq: &'a dyn Irq,
}

impl model::Platform for Platform<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), model::BusError> {
        self.bus.read(addr, buf).map_err(|_| model::BusError)
    }

    fn write(&self, addr: u64, buf: &[u8]) -> Result<(), model::BusError> {
        self.bus.write(addr, buf).map_err(|_| model::BusError)
    }

    fn now_ns(&self) -> u64 {
        // Offset by one so that 0 never means "now" (the save area uses 0
        // for "not started").
        self.start.elapsed().as_nanos() as u64 + 1
    }

    fn raise_irq(&self) {
        self.irq.raise();
    }
}

/// The virtual GPU device.
#[pin_data]
pub(crate) struct Vgpu {
    #[pin]
    gpu: Mutex<model::Gpu>,
    bus: Arc<Bus>,
    irq: Arc<dyn Irq>,
    start: Instant<Monotonic>,
    queue: Arc<OwnedQueue>,
    #[pin]
    work: Work<Vgpu>,
}

kernel::impl_has_work! {
    impl HasWork<Self> for Vgpu { self.work }
}

impl Vgpu {
    /// Creates the device on `bus`, raising `irq`, running its firmware on
    /// `queue`.
    pub(crate) fn new(
        bus: Arc<Bus>,
        irq: Arc<dyn Irq>,
        queue: Arc<OwnedQueue>,
    ) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                gpu <- new_mutex!(model::Gpu::new()),
                bus,
                irq,
                start: Instant::now(),
                queue,
                work <- new_work!("Vgpu::work"),
            }),
            GFP_KERNEL,
        )
    }

    fn platform(&self) -> Platform<'_> {
        Platform {
            bus: &self.bus,
            start: self.start,
            irq: &*self.irq,
        }
    }

    /// Reads a register.
    pub(crate) fn read_reg(&self, reg: u32) -> u64 {
        self.gpu.lock().read_reg(&self.platform(), reg)
    }

    /// Writes a register; the doorbell wakes the firmware.
    pub(crate) fn write_reg(self: &Arc<Self>, reg: u32, val: u64) {
        self.gpu.lock().write_reg(&self.platform(), reg, val);
        if reg == REG_DOORBELL {
            // Already queued means it will look at the rings anyway.
            let _ = self.queue.enqueue(self.clone());
        }
    }
}

impl WorkItem for Vgpu {
    type Pointer = Arc<Vgpu>;

    fn run(this: Arc<Vgpu>) {
        // One bounded step at a time, requeued while work remains, so that
        // register accesses and other work get their turn.
        let more = this.gpu.lock().run(&this.platform());
        if more {
            let q = this.queue.clone();
            let _ = q.enqueue(this);
        }
    }
}
