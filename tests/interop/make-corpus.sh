#!/usr/bin/env bash
#
# make-corpus.sh OUTDIR
#
# Build a corpus of qcow2 and raw images for differential testing, using only
# the REFERENCE tools (the system's qemu-img / qemu-io 7.2).  Our own binaries
# are never used here, so a bug in them cannot leak into the corpus.
#
#   REF_QEMU_IMG   reference qemu-img (default /usr/bin/qemu-img)
#   REF_QEMU_IO    reference qemu-io  (default /usr/bin/qemu-io)
#   PYTHON         python3 used to flip header bits (default python3)
#
# Besides the images, OUTDIR/MANIFEST lists every image that the differential
# runners should look at, one per line:
#
#   <path relative to OUTDIR> <format> [tag...]
#
# Tags: "chain" (has a backing file worth following with --backing-chain),
# "abs" (also test it through an absolute path), "broken" (opening fails on
# purpose).  Files that exist only as building blocks (backing files of
# other images, data files) are listed too when they are interesting images
# in their own right.
#
# A feature the sandbox cannot provide (e.g. zstd or LUKS support missing) is
# reported on stderr and skipped; it does not fail the corpus.
#
# Everything stays small on disk (all images are sparse or a few MiB) and the
# whole script runs in a few seconds.

set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

REF_QEMU_IMG=${REF_QEMU_IMG:-/usr/bin/qemu-img}
REF_QEMU_IO=${REF_QEMU_IO:-/usr/bin/qemu-io}
PYTHON=${PYTHON:-python3}

OUT=$1
mkdir -p "$OUT"
cd "$OUT"
OUT=$(pwd)
rm -f MANIFEST
: > MANIFEST

die() {
    echo "make-corpus: $*" >&2
    exit 1
}

warn() {
    echo "make-corpus: warning: $*" >&2
}

# Run the reference qemu-img quietly; abort the corpus on failure.
img() {
    local out
    if ! out=$("$REF_QEMU_IMG" "$@" 2>&1); then
        die "qemu-img $* failed: $out"
    fi
}

# Same for qemu-io; its normal chatter (wrote ... / timing) is discarded.
io() {
    local out
    if ! out=$("$REF_QEMU_IO" "$@" 2>&1); then
        die "qemu-io $* failed: $out"
    fi
    case $out in
        *failed*|*error*|*Error*) die "qemu-io $* reported: $out" ;;
    esac
}

# Like img/io but optional: returns non-zero instead of dying.
try_img() {
    "$REF_QEMU_IMG" "$@" >/dev/null 2>&1
}

# Run qemu-io when it is expected to kill itself (sigraise 9); the subshell
# keeps bash's "Killed" job report out of our stderr.
killed_io() {
    ( "$REF_QEMU_IO" "$@" >/dev/null 2>&1 </dev/null; exit 0 ) 2>/dev/null || true
}

add() {
    # add NAME FORMAT [TAG...]
    [ -e "$1" ] || die "internal: $1 was not created"
    echo "$*" >> MANIFEST
}

# Write a recognisable pattern over a few places of an image of at least
# 4 MiB: full clusters, a partial cluster, and a zeroed range.
fill() {
    local f=$1 fmt=$2
    io -f "$fmt" \
        -c 'write -P 0x11 0 64k' \
        -c 'write -P 0x22 1M 4k' \
        -c 'write -P 0x33 3M 300k' \
        -c 'write -z 2M 64k' \
        "$f"
}

# Flip bits in a 64-bit big-endian header field (qcow2 feature words):
# setbits FILE OFFSET MASK
setbits() {
    "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import struct, sys
path, off, mask = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0)
with open(path, 'r+b') as f:
    f.seek(off)
    (v,) = struct.unpack('>Q', f.read(8))
    f.seek(off)
    f.write(struct.pack('>Q', v | mask))
EOF
}

# Rename a header extension (by magic) to an unknown magic, which makes
# readers ignore it: rename_ext FILE OLDMAGIC NEWMAGIC
rename_ext() {
    "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import struct, sys
path, old, new = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0)
with open(path, 'r+b') as f:
    hdr = f.read(4096)
    version = struct.unpack('>I', hdr[4:8])[0]
    off = 72 if version == 2 else struct.unpack('>I', hdr[100:104])[0]
    while off + 8 <= len(hdr):
        magic, length = struct.unpack('>II', hdr[off:off + 8])
        if magic == 0:
            break
        if magic == old:
            f.seek(off)
            f.write(struct.pack('>I', new))
            sys.exit(0)
        off += 8 + ((length + 7) & ~7)
sys.exit('extension %#x not found' % old)
EOF
}

# ---------------------------------------------------------------------------
# Cluster sizes
for cs in 512 4096 65536 2M; do
    img create -q -f qcow2 -o cluster_size=$cs cs-$cs.qcow2 16M
    fill cs-$cs.qcow2 qcow2
    add cs-$cs.qcow2 qcow2
done
add cs-65536.qcow2 qcow2 abs

# Refcount widths
for rb in 1 2 4 8 16 32 64; do
    img create -q -f qcow2 -o refcount_bits=$rb rb-$rb.qcow2 8M
    fill rb-$rb.qcow2 qcow2
    add rb-$rb.qcow2 qcow2
done

# Compat levels and lazy refcounts
img create -q -f qcow2 -o compat=0.10 compat-0.10.qcow2 8M
fill compat-0.10.qcow2 qcow2
add compat-0.10.qcow2 qcow2
img create -q -f qcow2 -o compat=1.1 compat-1.1.qcow2 8M
fill compat-1.1.qcow2 qcow2
add compat-1.1.qcow2 qcow2
img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 8M
fill lazy.qcow2 qcow2
add lazy.qcow2 qcow2

# Extended L2 entries (subclusters)
for cs in 64k 32k; do
    img create -q -f qcow2 -o extended_l2=on,cluster_size=$cs ext-l2-$cs.qcow2 8M
    io -f qcow2 -c 'write -P 0x44 0 2k' -c 'write -P 0x55 40k 1k' \
        -c 'write -z 128k 8k' -c 'discard 1M 64k' ext-l2-$cs.qcow2
    add ext-l2-$cs.qcow2 qcow2
done

# Compressed clusters: zlib (default) and zstd
img create -q -f raw pattern.raw 4M
io -f raw -c 'write -P 0x66 0 1M' -c 'write -P 0x77 2M 512k' pattern.raw
add pattern.raw raw
img convert -c -f raw -O qcow2 pattern.raw compressed-zlib.qcow2
add compressed-zlib.qcow2 qcow2
if try_img convert -c -f raw -O qcow2 -o compression_type=zstd \
        pattern.raw compressed-zstd.qcow2; then
    add compressed-zstd.qcow2 qcow2
else
    warn "zstd compression not available, skipped"
    rm -f compressed-zstd.qcow2
fi

# Backing chain of three, relative names, explicit backing formats
img create -q -f qcow2 chain-base.qcow2 8M
io -f qcow2 -c 'write -P 0x01 0 1M' chain-base.qcow2
img create -q -f qcow2 -b chain-base.qcow2 -F qcow2 chain-mid.qcow2
io -f qcow2 -c 'write -P 0x02 1M 1M' chain-mid.qcow2
img create -q -f qcow2 -b chain-mid.qcow2 -F qcow2 chain-top.qcow2
io -f qcow2 -c 'write -P 0x03 2M 1M' chain-top.qcow2
add chain-base.qcow2 qcow2
add chain-mid.qcow2 qcow2 chain
add chain-top.qcow2 qcow2 chain abs

# Backing file in a subdirectory, referenced relatively from the overlay
mkdir -p sub
img create -q -f qcow2 sub/subdir-base.qcow2 8M
img create -q -f qcow2 -b sub/subdir-base.qcow2 -F qcow2 subdir-top.qcow2
add subdir-top.qcow2 qcow2 chain

# Chain whose middle lives in sub/ and names its own backing relative to
# sub/ (so the "actual path" differs from the stored name)
img create -q -f qcow2 sub/reldir-base.qcow2 8M
img create -q -f qcow2 -b reldir-base.qcow2 -F qcow2 sub/reldir-mid.qcow2
img create -q -f qcow2 -b sub/reldir-mid.qcow2 -F qcow2 reldir-top.qcow2
add sub/reldir-mid.qcow2 qcow2 chain
add reldir-top.qcow2 qcow2 chain

# Backing file given by absolute path, and a raw backing file
img create -q -f qcow2 -b "$OUT/chain-base.qcow2" -F qcow2 abs-backing.qcow2
add abs-backing.qcow2 qcow2 chain
img create -q -f qcow2 -b pattern.raw -F raw raw-backing.qcow2
add raw-backing.qcow2 qcow2 chain

# Backing without a backing-format extension: qemu-img refuses to create
# this, so hide the extension by renaming its magic (0xe2792aca) to an
# unknown one; the format then has to be probed.
img create -q -f qcow2 -b chain-base.qcow2 -F qcow2 probed-backing.qcow2
rename_ext probed-backing.qcow2 0xe2792aca 0x12345678
add probed-backing.qcow2 qcow2 chain

# Backing file that does not exist (created with -u)
img create -q -f qcow2 -u -b does-not-exist.qcow2 -F qcow2 missing-backing.qcow2 8M
add missing-backing.qcow2 qcow2 chain

# Internal snapshots (dates differ per run; both tools read the same image)
img create -q -f qcow2 snapshots.qcow2 8M
io -f qcow2 -c 'write -P 0x10 0 64k' snapshots.qcow2
img snapshot -c snap1 snapshots.qcow2
io -f qcow2 -c 'write -P 0x20 0 128k' snapshots.qcow2
img snapshot -c "snap two" snapshots.qcow2
io -f qcow2 -c 'write -P 0x30 64k 64k' snapshots.qcow2
img snapshot -c a-snapshot-with-a-rather-long-name snapshots.qcow2
add snapshots.qcow2 qcow2
img create -q -f qcow2 -o compat=0.10 snapshots-v2.qcow2 8M
io -f qcow2 -c 'write -P 0x10 0 64k' snapshots-v2.qcow2
img snapshot -c v2snap snapshots-v2.qcow2
add snapshots-v2.qcow2 qcow2

# Persistent bitmaps: enabled, disabled, several granularities
img create -q -f qcow2 bitmaps.qcow2 8M
img bitmap --add bitmaps.qcow2 b0
img bitmap --add --disable bitmaps.qcow2 b-disabled
img bitmap --add -g 512 bitmaps.qcow2 b-512
img bitmap --add -g 64k bitmaps.qcow2 b-64k
img bitmap --add -g 1M bitmaps.qcow2 "b 1M"
io -f qcow2 -c 'write -P 0x5a 0 256k' bitmaps.qcow2
add bitmaps.qcow2 qcow2
# ... and bitmaps left "in-use" by a writer that died
cp bitmaps.qcow2 bitmaps-in-use.qcow2
killed_io -f qcow2 -c 'write 1M 64k' -c 'sigraise 9' bitmaps-in-use.qcow2
add bitmaps-in-use.qcow2 qcow2

# Discards and zero writes
img create -q -f qcow2 discard.qcow2 8M
io -f qcow2 -c 'write -P 0x99 0 4M' -c 'discard 1M 1M' -c 'discard 3M 4k' \
    -c 'write -z 2M 512k' -c 'write -z -u 3584k 64k' discard.qcow2
add discard.qcow2 qcow2
img create -q -f qcow2 -o compat=0.10 discard-v2.qcow2 8M
io -f qcow2 -c 'write -P 0x99 0 2M' -c 'discard 1M 512k' -c 'write -z 0 64k' \
    discard-v2.qcow2
add discard-v2.qcow2 qcow2

# Preallocation
for p in metadata falloc full; do
    img create -q -f qcow2 -o preallocation=$p prealloc-$p.qcow2 2M
    add prealloc-$p.qcow2 qcow2
done
img create -q -f raw -o preallocation=falloc prealloc-falloc.raw 1M
add prealloc-falloc.raw raw

# External data file, raw and not raw; and one whose data file is gone
img create -q -f qcow2 -o data_file=datafile-raw.data,data_file_raw=on \
    datafile-raw.qcow2 8M
io -f qcow2 -c 'write -P 0x42 0 1M' datafile-raw.qcow2
add datafile-raw.qcow2 qcow2 abs
img create -q -f qcow2 -o data_file=datafile.data,data_file_raw=off \
    datafile.qcow2 8M
io -f qcow2 -c 'write -P 0x43 64k 64k' datafile.qcow2
add datafile.qcow2 qcow2
add datafile.data raw
img create -q -f qcow2 -o data_file=datafile-gone.data datafile-gone.qcow2 8M
rm -f datafile-gone.data
add datafile-gone.qcow2 qcow2

# LUKS encryption inside qcow2 (iter-time keeps creation fast)
# The key-slot PBKDF benchmark sometimes fails spuriously here with "Unable
# to get accurate CPU usage", so retry a few times.
luks_ok=no
for attempt in 1 2 3 4 5 6; do
    if try_img create -f qcow2 --object secret,id=sec0,data=123456 \
            -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 \
            luks.qcow2 8M; then
        luks_ok=yes
        break
    fi
done
if [ $luks_ok = yes ]; then
    io --object secret,id=sec0,data=123456 \
        --image-opts -c 'write -P 0xe1 0 64k' \
        driver=qcow2,encrypt.key-secret=sec0,file.filename=luks.qcow2
    add luks.qcow2 qcow2
else
    warn "LUKS encryption not available, skipped"
    rm -f luks.qcow2
fi

# Sizes: not a multiple of the cluster size; 4 TiB sparse
img create -q -f qcow2 odd-size.qcow2 1000001
add odd-size.qcow2 qcow2
img create -q -f qcow2 -o cluster_size=4k odd-size-4k.qcow2 1000001
add odd-size-4k.qcow2 qcow2
img create -q -f raw odd-size.raw 1000001
add odd-size.raw raw
img create -q -f qcow2 big-4t.qcow2 4T
io -f qcow2 -c 'write -P 0xbb 3T 64k' big-4t.qcow2
add big-4t.qcow2 qcow2
img create -q -f raw big-4t.raw 4T
add big-4t.raw raw
img create -q -f qcow2 empty.qcow2 0
add empty.qcow2 qcow2

# Dirty image: lazy refcounts, writer killed before it could clean up
img create -q -f qcow2 -o lazy_refcounts=on dirty.qcow2 8M
killed_io -f qcow2 -c 'write -P 0xdd 0 128k' -c 'sigraise 9' dirty.qcow2
add dirty.qcow2 qcow2

# Raw images
img create -q -f raw raw.img 8M
io -f raw -c 'write -P 0xab 0 64k' -c 'write -P 0xcd 4M 1M' raw.img
add raw.img raw abs
img create -q -f raw empty.raw 0
add empty.raw raw

# Header feature bits set by hand
# corrupt bit (incompatible bit 1): info still works read-only
cp compat-1.1.qcow2 corrupt-bit.qcow2
setbits corrupt-bit.qcow2 72 0x2
add corrupt-bit.qcow2 qcow2
# unknown incompatible feature: the image cannot be opened
cp compat-1.1.qcow2 unknown-incompat.qcow2
setbits unknown-incompat.qcow2 72 0x100
add unknown-incompat.qcow2 qcow2 broken
# unknown compatible and autoclear features: ignored by a read-only open
cp compat-1.1.qcow2 unknown-compat.qcow2
setbits unknown-compat.qcow2 80 0x8000000000000000
setbits unknown-compat.qcow2 88 0x4000000000000000
add unknown-compat.qcow2 qcow2

# Not an image at all, and a truncated qcow2 header
printf 'hello, this is not a disk image\n' > text.txt
add text.txt raw
head -c 48 compat-1.1.qcow2 > truncated.qcow2
add truncated.qcow2 qcow2 broken

exit 0
