#!/bin/bash
# Regenerates the seed corpus of the fuzz targets, tests/fuzz/corpus/seed/:
# small qcow2 images, one per feature, made by our tools (build/qemu-img,
# build/qemu-io).  What our tools cannot write yet is made by the system's
# 7.2 tools, marked "(7.2)" below: compressed clusters, LUKS, bitmaps.
#
# Trailing zero bytes are cut off (the mem protocol reads zeros past the
# end, as a host file does), so most seeds are a few KiB.  Images whose
# backing or data file is "mem:OFFSET" carry that file at OFFSET in the
# same input (see block/mem.c).
#
#   tests/fuzz/make-corpus.sh [BUILD_DIR]
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$top/build}")
img=$build/qemu-img
io=$build/qemu-io
sys_img=/usr/bin/qemu-img
sys_io=/usr/bin/qemu-io
out=$top/tests/fuzz/corpus/seed
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$out"
mkdir -p "$out"
cd "$tmp"

# Copies $1 to the corpus as $2, without its trailing zero bytes.
save() {
    python3 - "$1" "$out/$2" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read().rstrip(b'\0')
open(sys.argv[2], 'wb').write(data)
EOF
}

create() {
    "$img" create -q -f qcow2 "$@"
}

qio() {
    "$io" -f qcow2 "$@" >/dev/null
}

# Replaces the name "mem:0000000" in image $1 by "mem:OFFSET", OFFSET
# being the length of $1 rounded up to 512 bytes, and appends file $2
# there; the result is saved as $3.
bundle() {
    python3 - "$1" "$2" "$out/$3" <<'EOF'
import sys
top = bytearray(open(sys.argv[1], 'rb').read())
tail = open(sys.argv[2], 'rb').read().rstrip(b'\0')
offset = (len(top) + 511) // 512 * 512
old = b'mem:0000000'
new = b'mem:%07d' % offset
assert top.count(old) == 1 and len(new) == len(old)
top = top.replace(old, new)
top += b'\0' * (offset - len(top))
open(sys.argv[3], 'wb').write(bytes(top) + tail)
EOF
}

# Versions, cluster sizes, refcount widths.
create -o compat=0.10,cluster_size=512 v2-512.qcow2 1M
qio -c 'write -P 0x11 0 1k' -c 'write -P 0x22 4k 512' v2-512.qcow2
save v2-512.qcow2 v2-512

create -o cluster_size=512 v3-512.qcow2 1M
qio -c 'write -P 0x33 0 2k' -c 'write -z 2k 1k' -c 'write -P 0x44 100k 3k' \
    v3-512.qcow2
save v3-512.qcow2 v3-512-data-zero

create -o cluster_size=65536 v3-64k.qcow2 4M
qio -c 'write -P 0x55 0 4k' -c 'write -z 1M 64k' v3-64k.qcow2
save v3-64k.qcow2 v3-64k

create -o cluster_size=4096,refcount_bits=1 rc1.qcow2 256k
qio -c 'write -P 1 0 8k' rc1.qcow2
save rc1.qcow2 refcount-bits-1

create -o cluster_size=4096,refcount_bits=64 rc64.qcow2 256k
qio -c 'write -P 1 0 8k' rc64.qcow2
save rc64.qcow2 refcount-bits-64

create -o cluster_size=4096,lazy_refcounts=on lazy.qcow2 256k
qio -c 'write -P 7 0 12k' lazy.qcow2
save lazy.qcow2 lazy-refcounts

create -o cluster_size=4096,compression_type=zstd zstd.qcow2 256k
save zstd.qcow2 zstd-empty

# Extended L2 (subclusters), with allocated, zero and unallocated ones.
create -o cluster_size=16384,extended_l2=on extl2.qcow2 1M
qio -c 'write -P 9 0 512' -c 'write -z 1k 512' -c 'write -P 8 20k 2k' \
    extl2.qcow2
save extl2.qcow2 extended-l2

# Internal snapshots.
create -o cluster_size=512 snap.qcow2 64k
qio -c 'write -P 1 0 1k' snap.qcow2
"$img" snapshot -c first snap.qcow2
qio -c 'write -P 2 512 1k' snap.qcow2
"$img" snapshot -c second snap.qcow2
save snap.qcow2 snapshots

# Compressed clusters (7.2: our qemu-io cannot write them yet).
create -o cluster_size=4096 comp.qcow2 256k
"$sys_io" -f qcow2 -c 'write -c -P 0x5a 0 8k' -c 'write -P 1 16k 4k' \
    comp.qcow2 >/dev/null
save comp.qcow2 compressed-zlib
create -o cluster_size=4096,compression_type=zstd compz.qcow2 256k
"$sys_io" -f qcow2 -c 'write -c -P 0x5a 0 8k' compz.qcow2 >/dev/null
save compz.qcow2 compressed-zstd

# Bitmaps (7.2: qemu-img bitmap).
create -o cluster_size=4096 bm.qcow2 1M
qio -c 'write -P 3 0 64k' bm.qcow2
"$sys_img" bitmap --add -g 4096 bm.qcow2 b0
"$sys_img" bitmap --add -g 65536 --disable bm.qcow2 frozen
save bm.qcow2 bitmaps

# LUKS (7.2: our create has no encryption).
"$sys_img" create -q -f qcow2 --object secret,id=sec0,data=fuzz \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 \
    -o cluster_size=4096 luks.qcow2 256k
save luks.qcow2 luks

# Backing file in the same input: "mem:OFFSET".
create -o cluster_size=512 base.qcow2 64k
qio -c 'write -P 0xb 0 4k' -c 'write -c -P 0xc 8k 4k' base.qcow2 2>/dev/null ||
    qio -c 'write -P 0xb 0 4k' base.qcow2
cp base.qcow2 mem:0000000
create -o cluster_size=512 -b mem:0000000 -F qcow2 top.qcow2
qio -c 'write -P 0xd 1k 1k' -c 'write -z 3k 512' top.qcow2
bundle top.qcow2 base.qcow2 backing-mem
# A backing file name only (nothing to open: info and check still work).
create -o cluster_size=512 -u -b /nonexistent/base.img -F raw named.qcow2 64k
save named.qcow2 backing-name-only
# A raw backing file in the input.
head -c 8192 /dev/urandom >mem:0000000
create -o cluster_size=512 -b mem:0000000 -F raw topraw.qcow2
qio -c 'write -P 0xe 0 512' topraw.qcow2
bundle topraw.qcow2 mem:0000000 backing-raw-mem
rm -f mem:0000000

# External data file in the same input, raw and not.
create -o cluster_size=512,data_file=mem:0000000 df.qcow2 64k
qio -c 'write -P 0xf 0 2k' -c 'write -P 0xf 10k 1k' df.qcow2
bundle df.qcow2 mem:0000000 data-file-mem
rm -f mem:0000000
create -o cluster_size=512,data_file=mem:0000000,data_file_raw=on dfr.qcow2 64k
qio -c 'write -P 0x10 0 2k' dfr.qcow2
bundle dfr.qcow2 mem:0000000 data-file-raw-mem
rm -f mem:0000000

# Feature name table plus an unknown incompatible feature bit (bit 20).
create -o cluster_size=512 feat.qcow2 64k
python3 - feat.qcow2 <<'EOF'
import sys
f = open(sys.argv[1], 'r+b')
f.seek(72)
v = int.from_bytes(f.read(8), 'big') | (1 << 20)
f.seek(72)
f.write(v.to_bytes(8, 'big'))
EOF
save feat.qcow2 feature-unknown-bit

# Raw input (probed as raw by the open target).
printf 'not an image' >raw.img
save raw.img raw

ls -l "$out" | awk 'NR > 1 { n++; s += $5 } END { print n " seeds, " s " bytes" }'
