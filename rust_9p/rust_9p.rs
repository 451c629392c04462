// SPDX-License-Identifier: GPL-2.0

//! 9P2000.L file server over TCP.
//!
//! Listens on the TCP port given by the `port` parameter, on 127.0.0.1. The
//! protocol side (accepting connections, serving an export) is not there yet.

#![deny(unsafe_code)]

use abstractions::net::{Ipv4Addr, TcpListener};
use kernel::prelude::*;

module! {
    type: Rust9p,
    name: "rust_9p",
    authors: ["Rust driver suite developers"],
    description: "In-kernel 9P2000.L file server over TCP",
    license: "GPL v2",
    params: {
        port: u16 {
            default: 564,
            description: "TCP port to listen on (1-65535)",
        },
    },
}

/// Connections that may wait for accept().
const BACKLOG: u32 = 64;

struct Rust9p {
    listener: TcpListener,
}

impl kernel::Module for Rust9p {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let port = module_parameters::port.value();
        if port == 0 {
            pr_err!("port=0 is not a port to listen on; give 1-65535\n");
            return Err(EINVAL);
        }
        let listener =
            TcpListener::listen(Ipv4Addr::LOCALHOST, port, BACKLOG).inspect_err(|e| {
                pr_err!(
                    "cannot listen on {}:{}: {:?}\n",
                    Ipv4Addr::LOCALHOST,
                    port,
                    e
                );
            })?;
        pr_info!("listening on {}:{}\n", listener.addr(), listener.port());
        Ok(Self { listener })
    }
}

impl Drop for Rust9p {
    fn drop(&mut self) {
        pr_info!("stopped listening on port {}\n", self.listener.port());
    }
}
