#!/bin/bash
# Builds the demo image for `make run`: a qcow2 image with a backing
# file, data in both, two internal snapshots (one named with spaces)
# and two bitmaps, one of them with serialized data.
#
# Our own qemu-img and qemu-io build it (QEMU_IMG, QEMU_IO: default the
# build directory's); the last write is recorded by the enabled bitmap.
set -eu
dir=$1
top=$(cd "$(dirname "$0")/.." && pwd)
img=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
io=$(realpath "${QEMU_IO:-$top/build/qemu-io}")
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
"$img" create -q -f qcow2 base.qcow2 64M
"$io" -f qcow2 -c 'write -P 0x11 0 4M' base.qcow2 >/dev/null
"$img" create -q -f qcow2 -b base.qcow2 -F qcow2 demo.qcow2 64M
"$io" -f qcow2 -c 'write -P 0x22 1M 2M' demo.qcow2 >/dev/null
"$img" snapshot -c "first snapshot" demo.qcow2
"$io" -f qcow2 -c 'write -z 8M 1M' demo.qcow2 >/dev/null
"$img" snapshot -c second demo.qcow2
"$img" bitmap --add demo.qcow2 backup-inc
"$img" bitmap --add -g 512k --disable demo.qcow2 frozen
"$io" -f qcow2 -c 'write -P 0x33 16M 1M' demo.qcow2 >/dev/null
