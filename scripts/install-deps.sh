#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs what building and testing the suite needs on a Debian 12 machine:
# the kernel-Rust toolchain (rustc-web, LLVM 22), bindgen-cli from crates.io,
# kernel build dependencies, QEMU and the in-VM test tools. Idempotent: a
# second run installs nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PKGS=(
	rustc-web rust-web-src rustfmt-web rust-web-clippy
	clang-22 lld-22 llvm-22 libclang-22-dev
	make flex bison bc libelf-dev libssl-dev cpio kmod dwarves xz-utils
	python3 rsync
	qemu-system-x86 busybox-static fio diod nvme-cli
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	as_root apt-get update -qq
	install() {
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}" > "$CACHE_DIR/apt-install.log" 2>&1
	}
	mkdir -p "$CACHE_DIR"
	# A postinst that fails once (seen in containers) leaves packages
	# unconfigured: configure what is pending and try once more.
	if ! install; then
		log "apt-get install failed; configuring pending packages and retrying"
		as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a >> "$CACHE_DIR/apt-install.log" 2>&1 || true
		install || { tail -n 20 "$CACHE_DIR/apt-install.log" >&2; die "could not install: ${missing[*]}"; }
	fi
fi

# Debian 12's own bindgen (0.60) is older than 7.3's minimum (0.71.1).
BINDGEN_MIN=0.71.1
if ! bindgen_ok; then
	log "installing bindgen-cli from crates.io (takes about 3 minutes)"
	LIBCLANG_PATH=$LLVM_DIR/lib cargo install --locked --quiet --root "$TOOLS_DIR" bindgen-cli
fi
bindgen_ok || die "bindgen >= $BINDGEN_MIN not usable at $TOOLS_DIR/bin/bindgen"
log "dependencies present: $(/usr/bin/rustc --version), clang $($LLVM_DIR/bin/clang -dumpversion), $($TOOLS_DIR/bin/bindgen --version)"
