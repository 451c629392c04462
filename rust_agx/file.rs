// SPDX-License-Identifier: GPL-2.0

//! Open files of the render node and their ioctls.
//!
//! Every argument is checked before anything changes: padding and flags
//! must be zero, sizes and addresses aligned, in range and free of overflow,
//! ids and handles must exist (`ENOENT` if not).

use crate::{
    fw::{
        cmd::{self, Parser},
        pgtable::{PAGE_SIZE, USER_VA_END, USER_VA_START},
        shared::NUM_PIPES,
        uapi::{self, nr},
    },
    gpu::Gpu,
    mmu::Vm,
    queue::{fault_info, Job, Queue},
    AgxDriver,
};
use abstractions::{
    drm::{self, Device},
    gem,
    syncobj::{self, SyncobjSignal},
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{Arc, Mutex},
    uaccess::{UserPtr, UserSlice},
};

/// VMs one file may have.
const MAX_VMS: usize = 64;
/// Queues one file may have.
const MAX_QUEUES: usize = 64;
/// Operations of one VM_BIND.
const MAX_BINDS: u32 = 1024;
/// Syncs of one SUBMIT.
const MAX_SYNCS: u32 = 64;
/// Largest GEM object.
const MAX_GEM_SIZE: u64 = 1 << 30;

type File = drm::File<AgxDriver>;

/// Data of an open file.
#[pin_data]
pub(crate) struct AgxFile {
    gpu: Arc<Gpu>,
    #[pin]
    vms: Mutex<RBTree<u32, Arc<Vm>>>,
    #[pin]
    queues: Mutex<Queues>,
    next_id: AtomicU32,
}

/// A file's queues; they are registered with the GPU, so closing the file
/// takes them down explicitly.
struct Queues(RBTree<u32, Arc<Queue>>);

impl Drop for Queues {
    fn drop(&mut self) {
        for (_, q) in self.0.iter() {
            q.destroy();
        }
    }
}

fn check(cond: bool) -> Result {
    if cond {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

fn decode<T>(data: &[u8], f: fn(&[u8]) -> Option<T>) -> Result<T> {
    f(data).ok_or(EINVAL)
}

/// Reads `len` bytes from user address `ptr`.
fn read_user(ptr: u64, len: usize) -> Result<KVec<u8>> {
    let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(ptr as usize), len)
        .reader()
        .read_slice(&mut buf)?;
    Ok(buf)
}

impl AgxFile {
    /// Data of a new file.
    pub(crate) fn new(gpu: Arc<Gpu>) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                gpu,
                vms <- new_mutex!(RBTree::new()),
                queues <- new_mutex!(Queues(RBTree::new())),
                next_id: AtomicU32::new(1),
            }),
            GFP_KERNEL,
        )
    }

    fn new_id(&self) -> u32 {
        // Ids are per file, never 0, and not reused while the file is open
        // (2^32 creations would wrap; a taken id is then skipped below).
        self.next_id.fetch_add(1, Ordering::Relaxed).max(1)
    }

    fn vm(&self, id: u32) -> Result<Arc<Vm>> {
        self.vms.lock().get(&id).cloned().ok_or(ENOENT)
    }

    fn queue(&self, id: u32) -> Result<Arc<Queue>> {
        self.queues.lock().0.get(&id).cloned().ok_or(ENOENT)
    }

    /// Runs ioctl `nr`.
    pub(crate) fn ioctl(
        dev: &Device<AgxDriver>,
        file: &File,
        nr: u32,
        data: &mut [u8],
    ) -> Result<u32> {
        let this = file.data();
        // A crashed firmware takes no new work (as the Asahi driver's
        // device returns ENODEV); what exists can still be torn down.
        if this.gpu.is_dead() && matches!(nr, nr::VM_CREATE | nr::QUEUE_CREATE | nr::SUBMIT) {
            return Err(ENODEV);
        }
        match nr {
            nr::GET_PARAMS => this.get_params(data),
            nr::GET_TIME => this.get_time(data),
            nr::VM_CREATE => this.vm_create(data),
            nr::VM_DESTROY => this.vm_destroy(data),
            nr::VM_BIND => this.vm_bind(file, data),
            nr::GEM_CREATE => Self::gem_create(dev, file, data),
            nr::GEM_MMAP_OFFSET => Self::gem_mmap_offset(file, data),
            nr::QUEUE_CREATE => this.queue_create(data),
            nr::QUEUE_DESTROY => this.queue_destroy(data),
            nr::SUBMIT => this.submit(file, data),
            nr::GET_FAULT => this.get_fault(data),
            _ => Err(EINVAL),
        }
        .map(|()| 0)
    }

    fn get_params(&self, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::GetParams::decode)?;
        check(a.pad == 0 && a.param_group == 0)?;
        let p = uapi::ParamsGlobal {
            uabi_version: uapi::UABI_VERSION,
            gpu_generation: 1,
            num_vms_max: crate::fw::pgtable::NUM_SLOTS as u32 - 1,
            num_priorities: NUM_PIPES as u32,
            vm_start: USER_VA_START,
            vm_end: USER_VA_END,
            page_size: PAGE_SIZE,
            timer_frequency_hz: 1_000_000_000,
            max_commands_per_submission: cmd::MAX_CMDS as u32,
            max_cmdbuf_size: cmd::MAX_CMDBUF_SIZE as u32,
            max_syncs: MAX_SYNCS,
            max_invocations: cmd::MAX_INVOCATIONS,
        };
        let mut buf = [0u8; uapi::ParamsGlobal::SIZE];
        p.encode(&mut buf);
        let n = (a.size.min(buf.len() as u64)) as usize;
        UserSlice::new(UserPtr::from_addr(a.pointer as usize), n)
            .writer()
            .write_slice(&buf[..n])?;
        a.size = buf.len() as u64;
        a.encode(data);
        Ok(())
    }

    fn get_time(&self, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::GetTime::decode)?;
        check(a.flags == 0)?;
        a.gpu_timestamp = self.gpu.timer();
        a.encode(data);
        Ok(())
    }

    fn vm_create(&self, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::VmCreate::decode)?;
        check(a.flags == 0)?;
        if self.vms.lock().iter().count() >= MAX_VMS {
            return Err(ENOSPC);
        }
        let vm = Vm::new(&self.gpu)?;
        let mut vms = self.vms.lock();
        let mut id = self.new_id();
        while vms.get(&id).is_some() {
            id = self.new_id();
        }
        vms.try_create_and_insert(id, vm, GFP_KERNEL)?;
        a.vm_id = id;
        a.encode(data);
        Ok(())
    }

    fn vm_destroy(&self, data: &mut [u8]) -> Result {
        let a = decode(data, uapi::VmDestroy::decode)?;
        check(a.pad == 0)?;
        self.vms.lock().remove(&a.vm_id).map(drop).ok_or(ENOENT)
    }

    fn vm_bind(&self, file: &File, data: &mut [u8]) -> Result {
        let a = decode(data, uapi::VmBind::decode)?;
        check(a.pad == 0 && a.num_binds <= MAX_BINDS)?;
        check(a.stride as usize >= uapi::VmBindOp::SIZE && a.stride <= 4096 && a.stride % 8 == 0)?;
        let vm = self.vm(a.vm_id)?;
        let stride = a.stride as usize;
        let buf = read_user(a.userptr, stride * a.num_binds as usize)?;
        for chunk in buf.chunks_exact(stride) {
            let op = decode(chunk, uapi::VmBindOp::decode)?;
            // Bytes of a newer, longer struct must be zero.
            check(chunk[uapi::VmBindOp::SIZE..].iter().all(|&b| b == 0))?;
            check(op.flags & !(uapi::BIND_UNBIND | uapi::BIND_READ | uapi::BIND_WRITE) == 0)?;
            let aligned = |v: u64| v % PAGE_SIZE == 0;
            check(aligned(op.offset) && aligned(op.range) && aligned(op.addr) && op.range != 0)?;
            let end = op.addr.checked_add(op.range).ok_or(EINVAL)?;
            check(op.addr >= USER_VA_START && end <= USER_VA_END)?;
            if op.flags & uapi::BIND_UNBIND != 0 {
                check(op.flags == uapi::BIND_UNBIND && op.handle == 0 && op.offset == 0)?;
                vm.unmap(op.addr, op.range)?;
            } else {
                let read = op.flags & uapi::BIND_READ != 0;
                let write = op.flags & uapi::BIND_WRITE != 0;
                check(read || write)?;
                let obj = gem::Object::lookup(file, op.handle)?;
                vm.map(obj, op.offset, op.range, op.addr, read, write)?;
            }
        }
        Ok(())
    }

    fn gem_create(dev: &Device<AgxDriver>, file: &File, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::GemCreate::decode)?;
        check(a.flags == 0 && a.size != 0 && a.size <= MAX_GEM_SIZE)?;
        let size = a.size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let obj = gem::Object::new_shmem(dev, size as usize)?;
        a.handle = obj.create_handle(file)?;
        a.encode(data);
        Ok(())
    }

    fn gem_mmap_offset(file: &File, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::GemMmapOffset::decode)?;
        check(a.flags == 0)?;
        a.offset = gem::Object::lookup(file, a.handle)?.mmap_offset()?;
        a.encode(data);
        Ok(())
    }

    fn queue_create(&self, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::QueueCreate::decode)?;
        check(a.flags == 0 && (a.priority as usize) < NUM_PIPES)?;
        let vm = self.vm(a.vm_id)?;
        if self.queues.lock().0.iter().count() >= MAX_QUEUES {
            return Err(ENOSPC);
        }
        let q = Queue::new(&self.gpu, vm, a.priority)?;
        let mut queues = self.queues.lock();
        let mut id = self.new_id();
        while queues.0.get(&id).is_some() {
            id = self.new_id();
        }
        if let Err(e) = queues.0.try_create_and_insert(id, q.clone(), GFP_KERNEL) {
            drop(queues);
            q.destroy();
            return Err(e);
        }
        a.queue_id = id;
        a.encode(data);
        Ok(())
    }

    fn queue_destroy(&self, data: &mut [u8]) -> Result {
        let a = decode(data, uapi::QueueDestroy::decode)?;
        check(a.pad == 0)?;
        let q = self.queues.lock().0.remove(&a.queue_id).ok_or(ENOENT)?;
        q.destroy();
        Ok(())
    }

    fn submit(&self, file: &File, data: &mut [u8]) -> Result {
        let a = decode(data, uapi::Submit::decode)?;
        check(a.flags == 0 && a.pad == 0)?;
        let nsyncs = a
            .in_sync_count
            .checked_add(a.out_sync_count)
            .ok_or(EINVAL)?;
        check(nsyncs <= MAX_SYNCS)?;
        check(a.cmdbuf_size != 0 && a.cmdbuf_size as usize <= cmd::MAX_CMDBUF_SIZE)?;
        let queue = self.queue(a.queue_id)?;

        let cmdbuf = read_user(a.cmdbuf, a.cmdbuf_size as usize)?;
        let n = cmd::count(&cmdbuf).map_err(|_| EINVAL)?;
        let mut cmds = KVec::with_capacity(n, GFP_KERNEL)?;
        for c in Parser::new(&cmdbuf) {
            let (c, barrier) = c.map_err(|_| EINVAL)?;
            cmds.push(c.encode_fw(barrier), GFP_KERNEL)?;
        }

        let syncs = read_user(a.syncs, nsyncs as usize * uapi::Sync::SIZE)?;
        let mut deps = KVec::new();
        let mut outs = KVec::new();
        for (i, chunk) in syncs.chunks_exact(uapi::Sync::SIZE).enumerate() {
            let s = decode(chunk, uapi::Sync::decode)?;
            let point = match s.sync_type {
                uapi::SYNC_SYNCOBJ => {
                    check(s.timeline_value == 0)?;
                    None
                }
                uapi::SYNC_TIMELINE_SYNCOBJ => Some(s.timeline_value),
                _ => return Err(EINVAL),
            };
            if (i as u32) < a.in_sync_count {
                deps.push(
                    syncobj::find_fence(file, s.handle, point.unwrap_or(0))?,
                    GFP_KERNEL,
                )?;
            } else {
                check(point != Some(0))?;
                outs.push(SyncobjSignal::prepare(file, s.handle, point)?, GFP_KERNEL)?;
            }
        }

        // Nothing can fail after the out-syncs get the fence but the queue
        // refusing the job, whose fence then signals ECANCELED.
        let fence = queue.new_fence()?;
        let shared = fence.fence();
        for o in outs {
            o.commit(&shared);
        }
        queue.submit(Job::new(self.gpu.next_job_id(), deps, cmds, fence))
    }

    fn get_fault(&self, data: &mut [u8]) -> Result {
        let mut a = decode(data, uapi::GetFault::decode)?;
        let f = match a.object {
            uapi::FAULT_OBJECT_QUEUE => self.queue(a.id)?.fault_state(),
            uapi::FAULT_OBJECT_VM => self.vm(a.id)?.fault(),
            _ => return Err(EINVAL),
        };
        fault_info(&f, &mut a);
        a.encode(data);
        Ok(())
    }
}
