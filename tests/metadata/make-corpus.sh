#!/usr/bin/env bash
#
# make-corpus.sh OUTDIR
#
# Builds the corpus for the `qemu-img check -M` cross-check with the
# REFERENCE tools only (REF_QEMU_IMG, default /usr/bin/qemu-img, and
# REF_QEMU_IO, default /usr/bin/qemu-io), plus hand edits by craft.py
# for what QEMU never writes (all-ones bitmap entries, unknown header
# extensions).  Writes OUTDIR/LIST for crosscheck.py, one image per line:
#
#   IMAGE [ARG...]
#
# IMAGE is relative to OUTDIR; ARGs, when given, replace IMAGE on the
# `qemu-img check -M --output=json` command line (LUKS needs a secret).
#
# With ALSO_OTHER_CORPORA=1 (the default) the corpora of
# tests/interop/make-corpus.sh and tests/check/make-corpus.py are built
# in OUTDIR/interop and OUTDIR/check and their qcow2 images added.
# A feature the sandbox lacks (LUKS) is reported and skipped.

set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

REF_QEMU_IMG=${REF_QEMU_IMG:-/usr/bin/qemu-img}
REF_QEMU_IO=${REF_QEMU_IO:-/usr/bin/qemu-io}
ALSO_OTHER_CORPORA=${ALSO_OTHER_CORPORA:-1}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
CRAFT="python3 $here/craft.py"

mkdir -p "$1"
cd "$1"
OUT=$(pwd)
: > LIST

die() { echo "make-corpus: $*" >&2; exit 1; }
warn() { echo "make-corpus: warning: $*" >&2; }

img() {
    local out
    out=$("$REF_QEMU_IMG" "$@" 2>&1) || die "qemu-img $* failed: $out"
}
io() {
    local out
    out=$("$REF_QEMU_IO" "$@" 2>&1) || die "qemu-io $* failed: $out"
    case $out in
        *failed*|*error*|*Error*) die "qemu-io $* reported: $out" ;;
    esac
}
add() {
    [ -e "$1" ] || die "internal: $1 was not created"
    echo "$*" >> LIST
}
# Clear bits in a 64-bit big-endian header field: clearbits FILE OFF MASK
clearbits() {
    python3 - "$@" <<'EOF'
import struct, sys
path, off, mask = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0)
with open(path, 'r+b') as f:
    f.seek(off)
    (v,) = struct.unpack('>Q', f.read(8))
    f.seek(off)
    f.write(struct.pack('>Q', v & ~mask))
EOF
}

# --- plain images ----------------------------------------------------
img create -q -f qcow2 empty.qcow2 1G
add empty.qcow2
img create -q -f qcow2 empty-zero.qcow2 0
add empty-zero.qcow2

img create -q -f qcow2 data.qcow2 64M
io -f qcow2 -c 'write -P 0x11 0 192k' -c 'write -P 0x22 5M 64k' \
    -c 'write -z 8M 64k' -c 'write -P 0x33 60M 1M' data.qcow2
add data.qcow2

for cs in 512 64k 2M; do
    img create -q -f qcow2 -o cluster_size=$cs cs-$cs.qcow2 16M
    io -f qcow2 -c 'write -P 0x11 0 100k' -c 'write -P 0x22 5M 3k' \
        -c 'write -P 0x33 9M 2M' cs-$cs.qcow2
    add cs-$cs.qcow2
done
# 512-byte clusters over 600 MiB: many refcount blocks and L2 tables
img create -q -f qcow2 -o cluster_size=512 cs-512-wide.qcow2 600M
io -f qcow2 -c 'write -P 0x44 0 512' -c 'write -P 0x45 300M 4k' \
    -c 'write -P 0x46 599M 1M' cs-512-wide.qcow2
add cs-512-wide.qcow2

for rb in 1 64; do
    img create -q -f qcow2 -o refcount_bits=$rb refbits-$rb.qcow2 8M
    io -f qcow2 -c 'write -P 0x11 0 1M' refbits-$rb.qcow2
    add refbits-$rb.qcow2
done

img create -q -f qcow2 -o compat=0.10 v2.qcow2 8M
io -f qcow2 -c 'write -P 0x11 0 128k' -c 'write -P 0x22 2M 64k' v2.qcow2
add v2.qcow2

img create -q -f qcow2 -o extended_l2=on extl2.qcow2 8M
io -f qcow2 -c 'write -P 0x44 0 2k' -c 'write -P 0x55 40k 1k' \
    -c 'write -z 128k 8k' -c 'write -P 0x66 3M 64k' extl2.qcow2
add extl2.qcow2
img create -q -f qcow2 -o extended_l2=on,cluster_size=2M extl2-2M.qcow2 64M
io -f qcow2 -c 'write -P 0x44 0 100k' -c 'write -P 0x55 40M 1M' extl2-2M.qcow2
add extl2-2M.qcow2

img create -q -f qcow2 -o preallocation=metadata prealloc.qcow2 1G
add prealloc.qcow2

img create -q -f qcow2 big-4t.qcow2 4T
io -f qcow2 -c 'write -P 0xbb 0 64k' -c 'write -P 0xbb 3T 64k' big-4t.qcow2
add big-4t.qcow2

# --- compressed ------------------------------------------------------
img create -q -f raw src.raw 8M
io -f raw -c 'write -P 0x66 0 1M' -c 'write -P 0x77 3M 512k' \
    -c 'write -P 0x78 7M 1M' src.raw
img convert -c -f raw -O qcow2 src.raw compressed.qcow2
add compressed.qcow2
img convert -c -f raw -O qcow2 -o cluster_size=4k src.raw compressed-4k.qcow2
add compressed-4k.qcow2
if "$REF_QEMU_IMG" convert -c -f raw -O qcow2 -o compression_type=zstd \
        src.raw compressed-zstd.qcow2 >/dev/null 2>&1; then
    add compressed-zstd.qcow2
else
    warn "zstd not available, skipped"
fi

# --- snapshots -------------------------------------------------------
img create -q -f qcow2 snapshots.qcow2 8M
io -f qcow2 -c 'write -P 0x11 0 128k' snapshots.qcow2
img snapshot -c first snapshots.qcow2
io -f qcow2 -c 'write -P 0x22 64k 128k' snapshots.qcow2
img snapshot -c "second snap with spaces" snapshots.qcow2
io -f qcow2 -c 'write -P 0x33 3M 64k' -c 'write -z 0 64k' snapshots.qcow2
img snapshot -c third snapshots.qcow2
io -f qcow2 -c 'write -P 0x44 7M 64k' snapshots.qcow2
add snapshots.qcow2

# snapshot names of odd lengths (entries of every length mod 8)
img create -q -f qcow2 -o cluster_size=4k snap-names.qcow2 4M
io -f qcow2 -c 'write -P 0x11 0 8k' snap-names.qcow2
for n in a bb ccc dddd eeeee ffffff ggggggg hhhhhhhh 'ünïcödé name'; do
    img snapshot -c "$n" snap-names.qcow2
done
add snap-names.qcow2

img create -q -f qcow2 -o compat=0.10 snap-v2.qcow2 8M
io -f qcow2 -c 'write -P 0x11 0 64k' snap-v2.qcow2
img snapshot -c v2snap snap-v2.qcow2
io -f qcow2 -c 'write -P 0x12 0 64k' snap-v2.qcow2
img snapshot -c "v2 snap 2" snap-v2.qcow2
add snap-v2.qcow2

# all snapshots deleted again: no snapshot-table
cp snapshots.qcow2 snap-deleted.qcow2
for n in first "second snap with spaces" third; do
    img snapshot -d "$n" snap-deleted.qcow2
done
add snap-deleted.qcow2

# a snapshot of an empty image (its L1 has no L2 tables)
img create -q -f qcow2 snap-empty.qcow2 8M
img snapshot -c nothing snap-empty.qcow2
add snap-empty.qcow2

# --- bitmaps ---------------------------------------------------------
# "empty": disabled before any write, so all its entries are all-zeros
# "dirty": enabled during the writes, serialized clusters
img create -q -f qcow2 bitmaps.qcow2 8M
img bitmap --add --disable bitmaps.qcow2 empty
img bitmap --add bitmaps.qcow2 dirty
img bitmap --add -g 512 bitmaps.qcow2 "fine grained"
io -f qcow2 -c 'write -P 0x11 0 128k' -c 'write -P 0x22 6M 64k' bitmaps.qcow2
add bitmaps.qcow2

# 512-byte clusters and granularity: one table entry covers 2 MiB of
# disk; writing it all gives clusters of ones, which craft.py turns
# into all-ones entries (QEMU never writes those itself).  The disk is
# 5 MiB, so the third entry stays serialized (partly dirty).
img create -q -f qcow2 -o cluster_size=512 bitmaps-ones.qcow2 5M
img bitmap --add -g 512 bitmaps-ones.qcow2 full
img bitmap --add --disable bitmaps-ones.qcow2 empty
io -f qcow2 -c 'write -P 0x5a 0 5M' bitmaps-ones.qcow2
cp bitmaps-ones.qcow2 bitmaps-serialized.qcow2
add bitmaps-serialized.qcow2
$CRAFT all-ones bitmaps-ones.qcow2 full 0 1
add bitmaps-ones.qcow2
# mixed: all-ones, all-zeros, serialized in one table
img create -q -f qcow2 -o cluster_size=512 bitmaps-mixed.qcow2 8M
img bitmap --add -g 512 bitmaps-mixed.qcow2 mixed
io -f qcow2 -c 'write -P 0x5a 0 2M' -c 'write -P 0x5b 5M 4k' bitmaps-mixed.qcow2
$CRAFT all-ones bitmaps-mixed.qcow2 mixed 0
add bitmaps-mixed.qcow2

# a bitmap left in use by a writer that died
img create -q -f qcow2 bitmaps-inuse.qcow2 8M
img bitmap --add bitmaps-inuse.qcow2 b0
( "$REF_QEMU_IO" -f qcow2 -c 'write -P 0x11 0 64k' -c 'sigraise 9' \
    bitmaps-inuse.qcow2 >/dev/null 2>&1 </dev/null; exit 0 ) 2>/dev/null || true
add bitmaps-inuse.qcow2

# bitmaps extension present but the autoclear bit cleared (a program
# without bitmap support wrote the image; QEMU ignores the bitmaps)
cp bitmaps.qcow2 bitmaps-autoclear-off.qcow2
clearbits bitmaps-autoclear-off.qcow2 88 0x1
add bitmaps-autoclear-off.qcow2

# --- header extensions -----------------------------------------------
cp data.qcow2 unknown-ext.qcow2
$CRAFT add-ext unknown-ext.qcow2 0x12345678 0102030405
add unknown-ext.qcow2
cp bitmaps.qcow2 unknown-ext-zero.qcow2
$CRAFT add-ext unknown-ext-zero.qcow2 0xabcdef01 ''
add unknown-ext-zero.qcow2

# --- backing chain ---------------------------------------------------
img create -q -f qcow2 chain-base.qcow2 8M
io -f qcow2 -c 'write -P 0x01 0 1M' chain-base.qcow2
img create -q -f qcow2 -b chain-base.qcow2 -F qcow2 chain-mid.qcow2
io -f qcow2 -c 'write -P 0x02 1M 1M' chain-mid.qcow2
img create -q -f qcow2 -b chain-mid.qcow2 -F qcow2 chain-top.qcow2
io -f qcow2 -c 'write -P 0x03 2M 64k' chain-top.qcow2
add chain-base.qcow2
add chain-mid.qcow2
add chain-top.qcow2
img create -q -f qcow2 -o compat=0.10 -b chain-base.qcow2 -F qcow2 chain-v2.qcow2
io -f qcow2 -c 'write -P 0x04 0 64k' chain-v2.qcow2
add chain-v2.qcow2
img create -q -f qcow2 -b src.raw -F raw raw-backing.qcow2
add raw-backing.qcow2

# --- external data file ----------------------------------------------
img create -q -f qcow2 -o data_file=df-raw.data,data_file_raw=on df-raw.qcow2 8M
io -f qcow2 -c 'write -P 0x42 0 1M' -c 'write -P 0x43 6M 64k' df-raw.qcow2
add df-raw.qcow2
img create -q -f qcow2 -o data_file=df.data df.qcow2 8M
io -f qcow2 -c 'write -P 0x43 64k 64k' df.qcow2
add df.qcow2

# --- LUKS ------------------------------------------------------------
# PBKDF benchmarking sometimes fails spuriously here: retry.
luks_ok=no
for attempt in 1 2 3 4 5 6 7 8; do
    if "$REF_QEMU_IMG" create -q -f qcow2 --object secret,id=sec0,data=123456 \
            -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 \
            luks.qcow2 8M >/dev/null 2>&1; then
        luks_ok=yes
        break
    fi
done
if [ $luks_ok = yes ]; then
    io --object secret,id=sec0,data=123456 --image-opts \
        -c 'write -P 0xe1 0 64k' \
        driver=qcow2,encrypt.key-secret=sec0,file.filename=luks.qcow2
    add luks.qcow2 --object secret,id=sec0,data=123456 --image-opts \
        driver=qcow2,encrypt.key-secret=sec0,file.filename=luks.qcow2
else
    warn "LUKS not available, skipped"
    rm -f luks.qcow2
fi

# --- hand-damaged: where the rules for odd entries are tested --------
# header_length 120: extensions start 8 bytes later
cp data.qcow2 hdr-len-120.qcow2
$CRAFT header-length hdr-len-120.qcow2 120
add hdr-len-120.qcow2
# L1 entries with flags but no L2 offset (COPIED only, reserved bits
# only) still count as non-zero entries: an L2 "at" offset 0
cp big-4t.qcow2 l1-flags-only.qcow2
$CRAFT l1-entry l1-flags-only.qcow2 5 0x8000000000000000
$CRAFT l1-entry l1-flags-only.qcow2 6 0x1
$CRAFT l1-entry l1-flags-only.qcow2 7 0x4000000000000000
$CRAFT l1-entry l1-flags-only.qcow2 8 0x00fffffffffffe00
add l1-flags-only.qcow2
# refcount table: reserved-bits-only entry (left out), reserved bits on
# a real offset (left out), an entry past EOF (listed)
cp data.qcow2 reftable-odd.qcow2
$CRAFT reftable-entry reftable-odd.qcow2 1 0x100
$CRAFT reftable-entry reftable-odd.qcow2 2 0x10000001
$CRAFT reftable-entry reftable-odd.qcow2 3 0x40000000
add reftable-odd.qcow2
# snapshot names that are not clean UTF-8, or hold a NUL
cp snapshots.qcow2 snap-bad-names.qcow2
$CRAFT snap-name snap-bad-names.qcow2 0 fffe6162c3
$CRAFT snap-name snap-bad-names.qcow2 2 7468007264
add snap-bad-names.qcow2
cp snapshots.qcow2 snap-name-latin1.qcow2
$CRAFT snap-name snap-name-latin1.qcow2 0 e9e8e0e7f9
add snap-name-latin1.qcow2
# snapshot L1 tables: empty (offset 0, size 0), unaligned, too large,
# at the size limit, past EOF
cp snapshots.qcow2 snap-l1-odd.qcow2
$CRAFT snap-field snap-l1-odd.qcow2 0 l1_offset 0
$CRAFT snap-field snap-l1-odd.qcow2 0 l1_size 0
$CRAFT snap-field snap-l1-odd.qcow2 1 l1_offset 0x10200
$CRAFT snap-field snap-l1-odd.qcow2 2 l1_size 0x400001
add snap-l1-odd.qcow2
cp snapshots.qcow2 snap-l1-limit.qcow2
$CRAFT snap-field snap-l1-limit.qcow2 0 l1_size 0x400000
$CRAFT snap-field snap-l1-limit.qcow2 1 l1_offset 0x100000000
add snap-l1-limit.qcow2
# in-use bitmaps (not loaded at open, so odd table entries reach the
# check): every entry class in one table of 4 entries
img create -q -f qcow2 -o cluster_size=512 bm-classes.qcow2 8M
img bitmap --add -g 512 bm-classes.qcow2 classes
io -f qcow2 -c 'write -P 0x11 0 8M' bm-classes.qcow2
$CRAFT bitmap-flags bm-classes.qcow2 0 1
cp bm-classes.qcow2 bm-classes-2.qcow2
$CRAFT bitmap-entry bm-classes.qcow2 0 0 0x1
$CRAFT bitmap-entry bm-classes.qcow2 0 1 0x0
$CRAFT bitmap-entry bm-classes.qcow2 0 2 0x40000000
add bm-classes.qcow2
$CRAFT bitmap-entry bm-classes-2.qcow2 0 0 0x201
$CRAFT bitmap-entry bm-classes-2.qcow2 0 1 0x1000000000000400
$CRAFT bitmap-entry bm-classes-2.qcow2 0 2 0x100
$CRAFT bitmap-entry bm-classes-2.qcow2 0 3 0x8000000000000000
add bm-classes-2.qcow2
cp bitmaps.qcow2 bm-name-bytes.qcow2
$CRAFT bitmap-flags bm-name-bytes.qcow2 0 1
$CRAFT bitmap-name bm-name-bytes.qcow2 0 ff6d007479
add bm-name-bytes.qcow2

# --- the other suites' corpora ---------------------------------------
if [ "$ALSO_OTHER_CORPORA" = 1 ]; then
    mkdir -p interop check
    REF_QEMU_IMG=$REF_QEMU_IMG REF_QEMU_IO=$REF_QEMU_IO \
        bash "$top/tests/interop/make-corpus.sh" interop 2>/dev/null ||
        die "tests/interop/make-corpus.sh failed"
    while read -r path fmt tags; do
        [ "$fmt" = qcow2 ] && echo "interop/$path" >> LIST
    done < <(sort -u -k1,1 interop/MANIFEST)
    REF_QEMU_IMG=$REF_QEMU_IMG REF_QEMU_IO=$REF_QEMU_IO \
        python3 "$top/tests/check/make-corpus.py" check 2>/dev/null ||
        die "tests/check/make-corpus.py failed"
    cut -f1 check/cases.tsv | sed 's|^\(.*\)$|check/\1.qcow2|' >> LIST
fi
exit 0
