// SPDX-License-Identifier: GPL-2.0

//! PCI interrupt vectors and handlers that driver data can own.
//!
//! `kernel::pci::IrqVectorRegistration` and `kernel::irq::Registration`
//! borrow the device for a lifetime, and registering a handler is `unsafe`
//! (it must not be forgotten). A driver whose queues live in reference
//! counted objects needs vectors and handlers it can store: [`IrqVectors`]
//! owns an allocation of vectors, [`Registration`] a handler on one of them
//! and a reference to the vectors, so that the vectors are freed only after
//! the last handler. The handler is an [`Arc`] whose reference the C side
//! holds while it is registered: a forgotten registration leaks, it does
//! not dangle.
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h),
//! [`include/linux/pci.h`](srctree/include/linux/pci.h)

use crate::{bindings, device};
use kernel::{
    device::Bound,
    error::to_result,
    ffi::c_void,
    irq::{Handler, IrqReturn},
    pci,
    prelude::*,
    sync::{aref::ARef, Arc},
};

/// Interrupt types to allocate vectors of, tried in the order MSI-X, MSI,
/// INTx.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Types(u32);

impl Types {
    /// MSI-X.
    pub const MSIX: Self = Self(bindings::PCI_IRQ_MSIX);
    /// MSI.
    pub const MSI: Self = Self(bindings::PCI_IRQ_MSI);
    /// Legacy INTx (one vector, maybe shared with other devices).
    pub const INTX: Self = Self(bindings::PCI_IRQ_INTX);
    /// All three.
    pub const ALL: Self = Self(bindings::PCI_IRQ_ALL_TYPES);

    /// Both sets.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The type of interrupt vectors the PCI core allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// MSI-X.
    MsiX,
    /// MSI.
    Msi,
    /// INTx.
    Intx,
}

fn pci_raw(pdev: &pci::Device) -> *mut bindings::pci_dev {
    let dev: &kernel::device::Device = pdev.as_ref();
    // SAFETY: A `pci::Device` wraps the `dev` field of a `struct pci_dev`.
    unsafe { kernel::container_of!(device::as_raw(dev), bindings::pci_dev, dev) }
}

/// Interrupt vectors of a PCI device.
///
/// # Invariants
///
/// `pdev` has `count` vectors allocated, freed when this drops.
pub struct IrqVectors {
    pdev: ARef<pci::Device>,
    count: u32,
    kind: Kind,
}

impl IrqVectors {
    /// Allocates `min` to `max` vectors of `types`. With `spread`, the
    /// vectors' CPU affinity is spread over the CPUs
    /// (`PCI_IRQ_AFFINITY`), for one queue per vector.
    pub fn alloc(
        pdev: &pci::Device<Bound>,
        min: u32,
        max: u32,
        types: Types,
        spread: bool,
    ) -> Result<Arc<Self>> {
        let raw = pci_raw(pdev);
        let mut affd: bindings::irq_affinity = pin_init::zeroed();
        let (flags, affd_ptr) = if spread {
            (types.0 | bindings::PCI_IRQ_AFFINITY, &raw mut affd)
        } else {
            (types.0, core::ptr::null_mut())
        };
        let alloc = bindings::pci_alloc_irq_vectors_affinity;
        // SAFETY: `raw` is a bound PCI device; `affd_ptr` is NULL or points
        // to a zeroed `struct irq_affinity` (no pre or post vectors) that
        // lives across the call.
        let ret = unsafe { alloc(raw, min, max, flags, affd_ptr) };
        to_result(ret)?;
        if ret == 0 {
            return Err(ENOSPC);
        }
        // SAFETY: `raw` is valid and has vectors now.
        let kind = match unsafe { bindings::pci_irq_type(raw) } {
            bindings::PCI_IRQ_MSIX => Kind::MsiX,
            bindings::PCI_IRQ_MSI => Kind::Msi,
            _ => Kind::Intx,
        };
        // INVARIANT: `ret` vectors were allocated above.
        Arc::new(
            Self {
                pdev: ARef::from(&**pdev),
                count: ret as u32,
                kind,
            },
            GFP_KERNEL,
        )
        .map_err(|e| {
            // SAFETY: Allocated above; nothing else will free them.
            unsafe { bindings::pci_free_irq_vectors(raw) };
            e.into()
        })
    }

    /// How many vectors were allocated.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Their type.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl Drop for IrqVectors {
    fn drop(&mut self) {
        // SAFETY: Allocated (type invariant), and no handler is left: each
        // `Registration` holds an `Arc` of `self`.
        unsafe { bindings::pci_free_irq_vectors(pci_raw(&self.pdev)) };
    }
}

/// A handler registered on one of an [`IrqVectors`]' vectors.
///
/// # Invariants
///
/// `irq` has a handler registered by `request_irq()` whose cookie is
/// `cookie`, a reference to `handler` made by `Arc::into_raw()`.
pub struct Registration<T: Handler + Send + 'static> {
    irq: u32,
    cookie: *const T,
    handler: Arc<T>,
    _vectors: Arc<IrqVectors>,
}

// SAFETY: The registration is a number and an `Arc` of a `Send + Sync`
// handler.
unsafe impl<T: Handler + Send + 'static> Send for Registration<T> {}
// SAFETY: `&Registration` gives out `&T` and `T: Sync`.
unsafe impl<T: Handler + Send + 'static> Sync for Registration<T> {}

impl<T: Handler + Send + 'static> Registration<T> {
    /// Registers `handler` for vector `index` of `vectors`, under `name`
    /// (shown in `/proc/interrupts`). An INTx line is registered shared.
    pub fn new(
        vectors: &Arc<IrqVectors>,
        index: u32,
        name: &'static CStr,
        handler: Arc<T>,
    ) -> Result<Self> {
        if index >= vectors.count {
            return Err(EINVAL);
        }
        // SAFETY: `index` is one of the device's allocated vectors.
        let irq = unsafe { bindings::pci_irq_vector(pci_raw(&vectors.pdev), index) };
        to_result(irq)?;
        let irq = irq as u32;
        let flags = if vectors.kind == Kind::Intx {
            bindings::IRQF_SHARED
        } else {
            0
        };
        let cookie = Arc::into_raw(handler.clone());
        // SAFETY: `callback::<T>` takes the cookie as a `*const T` from
        // `Arc::into_raw()`, which stays valid until `free_irq()` in `drop`;
        // `name` is static.
        let ret = unsafe {
            bindings::request_irq(
                irq,
                Some(callback::<T>),
                flags as kernel::ffi::c_ulong,
                name.as_char_ptr(),
                cookie.cast_mut().cast(),
            )
        };
        if let Err(e) = to_result(ret) {
            // SAFETY: The reference made above, not registered.
            drop(unsafe { Arc::from_raw(cookie) });
            return Err(e);
        }
        // INVARIANT: Registered above with `cookie`.
        Ok(Self {
            irq,
            cookie,
            handler,
            _vectors: vectors.clone(),
        })
    }

    /// The handler.
    pub fn handler(&self) -> &Arc<T> {
        &self.handler
    }

    /// Waits for the handler to finish running on other CPUs.
    pub fn synchronize(&self) {
        // SAFETY: A registered interrupt (type invariant).
        unsafe { bindings::synchronize_irq(self.irq) };
    }
}

impl<T: Handler + Send + 'static> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered with this cookie (type invariant); `free_irq()`
        // waits for running handlers, after which the C side holds no
        // reference.
        unsafe { bindings::free_irq(self.irq, self.cookie.cast_mut().cast()) };
        // SAFETY: The reference that the registration held.
        drop(unsafe { Arc::from_raw(self.cookie) });
    }
}

/// # Safety
///
/// Only called by the IRQ core for a handler registered by
/// [`Registration::new`], with its cookie.
unsafe extern "C" fn callback<T: Handler + Send + 'static>(
    _irq: i32,
    cookie: *mut c_void,
) -> bindings::irqreturn_t {
    // SAFETY: The cookie is a live `Arc<T>` reference while registered.
    let handler = unsafe { &*cookie.cast_const().cast::<T>() };
    match handler.handle() {
        IrqReturn::None => bindings::irqreturn::IRQ_NONE,
        IrqReturn::Handled => bindings::irqreturn::IRQ_HANDLED,
    }
}
