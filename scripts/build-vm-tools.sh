#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Userspace tools the VM tests run that are not Debian packages, built
# static so that the initramfs needs no libraries for them:
#   fsx        crates.io fsx (the file system exerciser), into the cache
#   p9hostile  the suite's hostile 9P client (host/p9hostile)
#   agx, agx-test, agx-bench  rust_agx's client, tests and benchmark (host/agx)
#   nvme-user-io  NVME_IOCTL_SUBMIT_IO from the shell (host/nvme-user-io)
# Run with the host's cargo (rustup's) in PATH. Idempotent.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FSX_VERSION=0.3.2
TARGET=x86_64-unknown-linux-gnu
export RUSTFLAGS='-C target-feature=+crt-static'

if ! [ -x "$TOOLS_DIR/bin/fsx" ] || ! "$TOOLS_DIR/bin/fsx" --version 2>/dev/null | grep -q "$FSX_VERSION"; then
	log "installing fsx $FSX_VERSION from crates.io (takes about 90 s)"
	# --target keeps crt-static away from the proc macros it builds.
	cargo install --quiet --locked --root "$TOOLS_DIR" --target "$TARGET" \
		--version "$FSX_VERSION" fsx
fi
(cd "$SUITE_ROOT/host" && cargo build --quiet --release --target "$TARGET" -p p9hostile -p agx -p nvme-user-io)
