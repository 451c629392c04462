#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetches Debian's linux-source-7.3 package (a pinned version; the newest
# 7.3.x as a fallback, said clearly) without touching the system's apt
# sources, and unpacks the tarball into the cache. Prints the source dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PIN_VERSION=${KERNEL_PKG_VERSION:-7.3.4-1~bpo13+1}
SUITE=trixie-backports
APT_DIR=$CACHE_DIR/apt
SRC_BASE=$CACHE_DIR/src

apt_private() {
	local cmd=$1; shift
	"$cmd" -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root "$@"
}

# Already unpacked? The stamp names the package version it came from.
for stamp in "$SRC_BASE"/*/.suite-unpacked; do
	[ -f "$stamp" ] || continue
	dir=$(dirname "$stamp")
	if [ "$(cat "$stamp")" = "$PIN_VERSION" ] || [ -z "${KERNEL_PKG_STRICT:-}" ]; then
		echo "$dir"
		exit 0
	fi
done

mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" "$SRC_BASE"
echo "deb http://deb.debian.org/debian $SUITE main" > "$APT_DIR/sources.list"
log "reading the $SUITE package list"
apt_private apt-get update -qq
available=$(apt_private apt-cache madison linux-source-7.3 | awk -F' *[|] *' '{print $2}')
version=$PIN_VERSION
if ! grep -qxF "$PIN_VERSION" <<<"$available"; then
	version=$(sort -V <<<"$available" | tail -n1)
	[ -n "$version" ] || die "linux-source-7.3 is not in $SUITE any more; pass KDIR= to use your own CONFIG_RUST tree"
	log "WARNING: pinned linux-source-7.3=$PIN_VERSION is gone from $SUITE; falling back to the newest, $version"
fi
work=$(mktemp -d "$APT_DIR/dl.XXXXXX")
(cd "$work" && apt_private apt-get download -qq "linux-source-7.3=$version")
dpkg-deb -x "$work"/linux-source-7.3_*.deb "$work/x"
tarball=$(ls "$work"/x/usr/src/linux-source-7.3.tar.*)
log "unpacking $(basename "$tarball")"
tar -C "$work" -xf "$tarball"
kv=$(make -s -C "$work/linux-source-7.3" kernelversion)
dest=$SRC_BASE/linux-$kv
rm -rf "$dest"
mv "$work/linux-source-7.3" "$dest"
rm -rf "$work"
echo "$version" > "$dest/.suite-unpacked"
echo "$dest"
