/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * UAPI of rust_agx, a DRM render driver for an Apple-GPU-style virtual GPU.
 *
 * Shaped like asahi_drm.h and under its rules:
 *  - every struct is 64-bit aligned and has explicit padding;
 *  - padding and reserved fields must be zero, and the driver checks it
 *    (EINVAL otherwise), so that they can be given a meaning later;
 *  - arrays are passed as a pointer, a count and, where they may grow, a
 *    stride, so that structs can be extended;
 *  - synchronisation is explicit only: jobs wait on syncobjs and signal
 *    syncobjs (binary or timeline). There are no implicit fences on BOs.
 *
 * The driver is named "rust_agx", never "asahi": Mesa would bind its real
 * Apple GPU driver to that name.
 */
#ifndef _RUST_AGX_DRM_H_
#define _RUST_AGX_DRM_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_RAGX_GET_PARAMS		0x00
#define DRM_RAGX_GET_TIME		0x01
#define DRM_RAGX_VM_CREATE		0x02
#define DRM_RAGX_VM_DESTROY		0x03
#define DRM_RAGX_VM_BIND		0x04
#define DRM_RAGX_GEM_CREATE		0x05
#define DRM_RAGX_GEM_MMAP_OFFSET	0x06
#define DRM_RAGX_QUEUE_CREATE		0x07
#define DRM_RAGX_QUEUE_DESTROY		0x08
#define DRM_RAGX_SUBMIT			0x09
#define DRM_RAGX_GET_FAULT		0x0a

/* Page size of the GPU's MMU; every VM_BIND address and size is aligned to it. */
#define DRM_RAGX_PAGE_SIZE		0x4000

/**
 * struct drm_ragx_params_global - the device's parameters (param_group 0)
 */
struct drm_ragx_params_global {
	/** @uabi_version: incremented on incompatible change (1). */
	__u32 uabi_version;
	/** @gpu_generation: model of the virtual GPU. */
	__u32 gpu_generation;
	/** @num_vms_max: VMs (context slots) that may exist at once. */
	__u32 num_vms_max;
	/** @num_priorities: queue priorities, 0 (low) .. num_priorities - 1. */
	__u32 num_priorities;
	/** @vm_start: first usable GPU virtual address of a VM. */
	__u64 vm_start;
	/** @vm_end: end (exclusive) of a VM's usable virtual addresses. */
	__u64 vm_end;
	/** @page_size: DRM_RAGX_PAGE_SIZE. */
	__u64 page_size;
	/** @timer_frequency_hz: frequency of GET_TIME's counter. */
	__u64 timer_frequency_hz;
	/** @max_commands_per_submission: commands in one SUBMIT. */
	__u32 max_commands_per_submission;
	/** @max_cmdbuf_size: bytes of one SUBMIT's command buffer. */
	__u32 max_cmdbuf_size;
	/** @max_syncs: in plus out syncs of one SUBMIT. */
	__u32 max_syncs;
	/** @max_invocations: invocations of one compute command. */
	__u32 max_invocations;
};

/**
 * struct drm_ragx_get_params - DRM_IOCTL_RAGX_GET_PARAMS
 *
 * Copies min(@size, sizeof(params)) bytes of the parameter group to
 * @pointer, and sets @size to the size of the whole group.
 */
struct drm_ragx_get_params {
	/** @param_group: 0, struct drm_ragx_params_global. */
	__u32 param_group;
	/** @pad: MBZ. */
	__u32 pad;
	/** @pointer: user pointer to write the parameters to. */
	__u64 pointer;
	/** @size: in: bytes at @pointer; out: size of the group. */
	__u64 size;
};

/** struct drm_ragx_get_time - DRM_IOCTL_RAGX_GET_TIME */
struct drm_ragx_get_time {
	/** @flags: MBZ. */
	__u64 flags;
	/** @gpu_timestamp: out: the GPU's timer, at timer_frequency_hz. */
	__u64 gpu_timestamp;
};

/** struct drm_ragx_vm_create - DRM_IOCTL_RAGX_VM_CREATE */
struct drm_ragx_vm_create {
	/** @flags: MBZ. */
	__u32 flags;
	/** @vm_id: out: the new VM, valid in this file. */
	__u32 vm_id;
};

/** struct drm_ragx_vm_destroy - DRM_IOCTL_RAGX_VM_DESTROY */
struct drm_ragx_vm_destroy {
	/**
	 * @vm_id: VM to destroy. Queues created on it keep it (and its
	 * mappings) alive until they are destroyed.
	 */
	__u32 vm_id;
	/** @pad: MBZ. */
	__u32 pad;
};

/* Flags of struct drm_ragx_vm_bind_op. */
/** Unmap [addr, addr + range) instead of mapping. */
#define DRM_RAGX_BIND_UNBIND		(1 << 0)
/** The GPU may read the mapping. */
#define DRM_RAGX_BIND_READ		(1 << 1)
/** The GPU may write the mapping. */
#define DRM_RAGX_BIND_WRITE		(1 << 2)

/** struct drm_ragx_vm_bind_op - one map or unmap of VM_BIND */
struct drm_ragx_vm_bind_op {
	/** @flags: DRM_RAGX_BIND_*. A map needs READ, WRITE or both. */
	__u32 flags;
	/** @handle: GEM object to map; 0 for an unmap. */
	__u32 handle;
	/** @offset: offset in the object, page aligned; 0 for an unmap. */
	__u64 offset;
	/** @range: bytes, page aligned, non-zero. */
	__u64 range;
	/** @addr: GPU virtual address, page aligned, in [vm_start, vm_end). */
	__u64 addr;
};

/**
 * struct drm_ragx_vm_bind - DRM_IOCTL_RAGX_VM_BIND
 *
 * Applies the operations in order. A map must not overlap an existing
 * mapping; an unmap removes whole mappings inside the range. On error, the
 * operations before the failing one stay applied.
 */
struct drm_ragx_vm_bind {
	/** @vm_id: the VM. */
	__u32 vm_id;
	/** @num_binds: number of struct drm_ragx_vm_bind_op at @userptr. */
	__u32 num_binds;
	/** @stride: sizeof(struct drm_ragx_vm_bind_op) or larger. */
	__u32 stride;
	/** @pad: MBZ. */
	__u32 pad;
	/** @userptr: user pointer to the operations. */
	__u64 userptr;
};

/** struct drm_ragx_gem_create - DRM_IOCTL_RAGX_GEM_CREATE */
struct drm_ragx_gem_create {
	/** @size: bytes, rounded up to DRM_RAGX_PAGE_SIZE; non-zero. */
	__u64 size;
	/** @flags: MBZ. */
	__u32 flags;
	/** @handle: out: GEM handle. */
	__u32 handle;
};

/** struct drm_ragx_gem_mmap_offset - DRM_IOCTL_RAGX_GEM_MMAP_OFFSET */
struct drm_ragx_gem_mmap_offset {
	/** @handle: GEM handle. */
	__u32 handle;
	/** @flags: MBZ. */
	__u32 flags;
	/** @offset: out: the fake offset to mmap() the render node at. */
	__u64 offset;
};

/** struct drm_ragx_queue_create - DRM_IOCTL_RAGX_QUEUE_CREATE */
struct drm_ragx_queue_create {
	/** @flags: MBZ. */
	__u32 flags;
	/** @vm_id: the VM the queue's jobs run in. */
	__u32 vm_id;
	/** @priority: 0 (low) .. num_priorities - 1. */
	__u32 priority;
	/** @queue_id: out: the new queue, valid in this file. */
	__u32 queue_id;
};

/** struct drm_ragx_queue_destroy - DRM_IOCTL_RAGX_QUEUE_DESTROY */
struct drm_ragx_queue_destroy {
	/**
	 * @queue_id: queue to destroy. Its jobs that have not finished are
	 * cancelled: their fences signal with ECANCELED.
	 */
	__u32 queue_id;
	/** @pad: MBZ. */
	__u32 pad;
};

#define DRM_RAGX_SYNC_SYNCOBJ		0
#define DRM_RAGX_SYNC_TIMELINE_SYNCOBJ	1

/** struct drm_ragx_sync - a syncobj a job waits on or signals */
struct drm_ragx_sync {
	/** @sync_type: DRM_RAGX_SYNC_*. */
	__u32 sync_type;
	/** @handle: syncobj handle. */
	__u32 handle;
	/** @timeline_value: point, for a timeline syncobj; else MBZ. */
	__u64 timeline_value;
};

/* Command types of the command buffer. */
/** struct drm_ragx_cmd_fill */
#define DRM_RAGX_CMD_FILL		1
/** struct drm_ragx_cmd_copy */
#define DRM_RAGX_CMD_COPY		2
/** struct drm_ragx_cmd_compute */
#define DRM_RAGX_CMD_COMPUTE		3

/** No barrier: the command may start before earlier commands end. */
#define DRM_RAGX_BARRIER_NONE		0xffff

/**
 * struct drm_ragx_cmd_header - header of each command in a command buffer
 *
 * A command buffer is a sequence of headers, each followed by @size bytes
 * of payload. FILL and COPY run on the blit unit, COMPUTE on the compute
 * unit; each unit runs its commands in order, and the two units run
 * concurrently.
 */
struct drm_ragx_cmd_header {
	/** @cmd_type: DRM_RAGX_CMD_*. */
	__u16 cmd_type;
	/** @size: bytes of payload after the header; a multiple of 8. */
	__u16 size;
	/**
	 * @barrier: index in this submission of a command of the other unit
	 * that must complete before this one starts, or
	 * DRM_RAGX_BARRIER_NONE. Must be smaller than this command's index.
	 */
	__u16 barrier;
	/** @pad: MBZ. */
	__u16 pad;
};

/** struct drm_ragx_cmd_fill - fill @size bytes at @addr with @value */
struct drm_ragx_cmd_fill {
	/** @addr: GPU VA, 4-byte aligned. */
	__u64 addr;
	/** @size: bytes, a multiple of 4. */
	__u64 size;
	/** @value: 32-bit pattern. */
	__u32 value;
	/** @pad: MBZ. */
	__u32 pad;
};

/** struct drm_ragx_cmd_copy - copy @size bytes from @src to @dst */
struct drm_ragx_cmd_copy {
	/** @src: GPU VA. */
	__u64 src;
	/** @dst: GPU VA; the ranges must not overlap. */
	__u64 dst;
	/** @size: bytes. */
	__u64 size;
};

/**
 * struct drm_ragx_cmd_compute - run a program once per invocation
 *
 * The program is bytecode in GPU memory (see Documentation/rust_agx.rst).
 * Each invocation starts with r0 = its index, r1..r4 = @args, the other
 * registers zero, and may execute at most @max_steps instructions.
 */
struct drm_ragx_cmd_compute {
	/** @program: GPU VA of the program, 8-byte aligned. */
	__u64 program;
	/** @program_size: bytes, a multiple of 8, at most 64 KiB. */
	__u32 program_size;
	/** @invocations: 1 .. max_invocations. */
	__u32 invocations;
	/** @args: initial r1..r4. */
	__u64 args[4];
	/** @max_steps: instructions per invocation, the loop bound; non-zero. */
	__u32 max_steps;
	/** @pad: MBZ. */
	__u32 pad;
};

/**
 * struct drm_ragx_submit - DRM_IOCTL_RAGX_SUBMIT
 *
 * Queues one job: the commands of @cmdbuf, run once every in-sync has
 * signalled. The out-syncs get the job's fence, which signals when the job
 * ends, with an error if it faulted (EFAULT), ran an illegal instruction
 * (EIO), timed out (ETIMEDOUT) or was
 * cancelled (ECANCELED).
 */
struct drm_ragx_submit {
	/** @syncs: user pointer to in_sync_count + out_sync_count struct drm_ragx_sync, in-syncs first. */
	__u64 syncs;
	/** @cmdbuf: user pointer to the command buffer. */
	__u64 cmdbuf;
	/** @flags: MBZ. */
	__u32 flags;
	/** @queue_id: the queue. */
	__u32 queue_id;
	/** @in_sync_count: syncobjs to wait on. */
	__u32 in_sync_count;
	/** @out_sync_count: syncobjs to signal. */
	__u32 out_sync_count;
	/** @cmdbuf_size: bytes at @cmdbuf. */
	__u32 cmdbuf_size;
	/** @pad: MBZ. */
	__u32 pad;
};

#define DRM_RAGX_FAULT_OBJECT_QUEUE	0
#define DRM_RAGX_FAULT_OBJECT_VM	1

/* Values of struct drm_ragx_get_fault.state. */
#define DRM_RAGX_FAULT_NONE		0
#define DRM_RAGX_FAULT_PAGE		1
#define DRM_RAGX_FAULT_TIMEOUT		2
/* An illegal instruction or unaligned access; address is where. */
#define DRM_RAGX_FAULT_ILLEGAL		3

/* Values of struct drm_ragx_get_fault.unit. */
#define DRM_RAGX_UNIT_BLIT		0
#define DRM_RAGX_UNIT_COMPUTE		1

/* Bits of struct drm_ragx_get_fault.access. */
#define DRM_RAGX_ACCESS_READ		(1 << 0)
#define DRM_RAGX_ACCESS_WRITE		(1 << 1)

/**
 * struct drm_ragx_get_fault - DRM_IOCTL_RAGX_GET_FAULT
 *
 * Reports the last fault of a queue or a VM, and how many there were.
 */
struct drm_ragx_get_fault {
	/** @object: DRM_RAGX_FAULT_OBJECT_*. */
	__u32 object;
	/** @id: queue or VM id. */
	__u32 id;
	/** @state: out: DRM_RAGX_FAULT_* of the last fault. */
	__u32 state;
	/** @unit: out: DRM_RAGX_UNIT_* that faulted. */
	__u32 unit;
	/** @address: out: faulting GPU VA (page faults). */
	__u64 address;
	/** @access: out: DRM_RAGX_ACCESS_* of the faulting access. */
	__u32 access;
	/** @count: out: faults so far. */
	__u32 count;
};

#define DRM_IOCTL_RAGX_GET_PARAMS	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_GET_PARAMS, struct drm_ragx_get_params)
#define DRM_IOCTL_RAGX_GET_TIME		DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_GET_TIME, struct drm_ragx_get_time)
#define DRM_IOCTL_RAGX_VM_CREATE	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_VM_CREATE, struct drm_ragx_vm_create)
#define DRM_IOCTL_RAGX_VM_DESTROY	DRM_IOW(DRM_COMMAND_BASE + DRM_RAGX_VM_DESTROY, struct drm_ragx_vm_destroy)
#define DRM_IOCTL_RAGX_VM_BIND		DRM_IOW(DRM_COMMAND_BASE + DRM_RAGX_VM_BIND, struct drm_ragx_vm_bind)
#define DRM_IOCTL_RAGX_GEM_CREATE	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_GEM_CREATE, struct drm_ragx_gem_create)
#define DRM_IOCTL_RAGX_GEM_MMAP_OFFSET	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_GEM_MMAP_OFFSET, struct drm_ragx_gem_mmap_offset)
#define DRM_IOCTL_RAGX_QUEUE_CREATE	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_QUEUE_CREATE, struct drm_ragx_queue_create)
#define DRM_IOCTL_RAGX_QUEUE_DESTROY	DRM_IOW(DRM_COMMAND_BASE + DRM_RAGX_QUEUE_DESTROY, struct drm_ragx_queue_destroy)
#define DRM_IOCTL_RAGX_SUBMIT		DRM_IOW(DRM_COMMAND_BASE + DRM_RAGX_SUBMIT, struct drm_ragx_submit)
#define DRM_IOCTL_RAGX_GET_FAULT	DRM_IOWR(DRM_COMMAND_BASE + DRM_RAGX_GET_FAULT, struct drm_ragx_get_fault)

#if defined(__cplusplus)
}
#endif

#endif /* _RUST_AGX_DRM_H_ */
