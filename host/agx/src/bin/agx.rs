// SPDX-License-Identifier: GPL-2.0

//! agx: a small client of rust_agx, for `make demo` and by hand.
//!
//! ```text
//! agx info            driver version and parameters, GPU time
//! agx saxpy [N]       integer SAXPY over N u32s on the GPU, every element
//!                     checked on the CPU (default 65536)
//! agx checksum [N]    a bytecode loop summing N u32s into a u64, checked
//!                     on the CPU (default 65536)
//! ```
//!
//! Exit status 0 on success, 1 on a wrong result or a failed job, 2 on a
//! usage error. `$AGX_DEVICE` names the render node (default: the
//! `/dev/dri/renderD*` whose driver is "rust_agx").

#![forbid(unsafe_code)]

use std::process::exit;

use agx::{err_name, workloads, Device};

const USAGE: &str = "usage: agx info | agx saxpy [N] | agx checksum [N]";

fn usage(msg: &str) -> ! {
    eprintln!("agx: {msg}\n{USAGE}");
    exit(2)
}

fn open() -> Device {
    Device::open().unwrap_or_else(|e| {
        eprintln!("agx: cannot open the rust_agx render node: {e}");
        exit(1)
    })
}

fn count(arg: Option<&String>) -> u32 {
    match arg {
        None => 65536,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => usage(&format!("bad element count {s:?}")),
        },
    }
}

fn info() -> i32 {
    let dev = open();
    match dev.version() {
        Ok(v) => println!(
            "{}: {} {}.{}.{} ({})",
            dev.path().display(),
            v.name,
            v.major,
            v.minor,
            v.patchlevel,
            v.desc
        ),
        Err(e) => println!(
            "{}: DRM_IOCTL_VERSION failed: {}",
            dev.path().display(),
            err_name(&e)
        ),
    }
    let p = dev.params();
    println!("uabi_version                 {}", p.uabi_version);
    println!("gpu_generation               {}", p.gpu_generation);
    println!("num_vms_max                  {}", p.num_vms_max);
    println!("num_priorities               {}", p.num_priorities);
    println!("vm_start                     {:#x}", p.vm_start);
    println!("vm_end                       {:#x}", p.vm_end);
    println!("page_size                    {:#x}", p.page_size);
    println!("timer_frequency_hz           {}", p.timer_frequency_hz);
    println!(
        "max_commands_per_submission  {}",
        p.max_commands_per_submission
    );
    println!("max_cmdbuf_size              {}", p.max_cmdbuf_size);
    println!("max_syncs                    {}", p.max_syncs);
    println!("max_invocations              {}", p.max_invocations);
    match dev.get_time() {
        Ok(t) => println!("gpu_timestamp                {t}"),
        Err(e) => {
            println!("GET_TIME failed: {}", err_name(&e));
            return 1;
        }
    }
    0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        usage("no command given")
    };
    if args.len() > 2 {
        usage("too many arguments");
    }
    let code = match cmd.as_str() {
        "info" if args.len() == 1 => info(),
        "saxpy" => {
            let n = count(args.get(1));
            match workloads::saxpy(&open(), n, 1) {
                Ok(t) => {
                    println!("saxpy {n} elements: ok");
                    eprintln!("agx: saxpy took {:.1} ms on the GPU", t.as_secs_f64() * 1e3);
                    0
                }
                Err(e) => {
                    println!("saxpy {n} elements: {e}");
                    1
                }
            }
        }
        "checksum" => {
            let n = count(args.get(1));
            match workloads::checksum(&open(), n, 2) {
                Ok((sum, t)) => {
                    println!("checksum {n} words: ok (sum {sum:#x})");
                    eprintln!(
                        "agx: checksum took {:.1} ms on the GPU",
                        t.as_secs_f64() * 1e3
                    );
                    0
                }
                Err(e) => {
                    println!("checksum {n} words: {e}");
                    1
                }
            }
        }
        _ => usage(&format!("unknown command {cmd:?}")),
    };
    exit(code)
}
