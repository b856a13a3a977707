#!/bin/bash
# Guest reads: every image below is written by the system's qemu-img /
# qemu-io, then read whole through our block layer (tests/tools/
# read-guest) and compared byte for byte with the system's
# `qemu-img convert -O raw`.  Ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${BUILD:-$top/build}")
reader=$build/tests/tools/read-guest
img=${REF_QEMU_IMG:-/usr/bin/qemu-img}
io=${REF_QEMU_IO:-/usr/bin/qemu-io}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0

check() {
    local name=$1 file=$2
    if ! "$img" convert -O raw "$file" "$name.ref" 2>"$name.referr"; then
        echo "FAIL $name: reference convert failed: $(cat "$name.referr")"
        fail=$((fail + 1)); return
    fi
    if ! "$reader" "$file" "$name.ours" 2>"$name.err"; then
        echo "FAIL $name: read-guest failed: $(cat "$name.err")"
        fail=$((fail + 1)); return
    fi
    if [ -s "$name.err" ]; then
        echo "FAIL $name: unexpected stderr: $(head -5 "$name.err")"
        fail=$((fail + 1)); return
    fi
    if cmp -s "$name.ref" "$name.ours"; then
        pass=$((pass + 1))
    else
        echo "FAIL $name: guest data differs: $(cmp "$name.ref" "$name.ours" | head -1)"
        fail=$((fail + 1))
    fi
    rm -f "$name.ref" "$name.ours"
}

w() {   # w FILE CMD...: qemu-io commands on FILE
    local f=$1; shift
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    "$io" -f qcow2 "${args[@]}" "$f" >/dev/null
}

pattern() {
    w "$1" 'write -P 0xa1 0 65536' 'write -P 0xb2 100000 3000' \
        'write -z 200000 70000' 'write -P 0xc3 1000000 300000' \
        'discard 1100000 65536'
}

for cs in 512 4096 65536 2M; do
    "$img" create -q -f qcow2 -o cluster_size=$cs c$cs.qcow2 2000000
    pattern c$cs.qcow2
    check "cluster-$cs" c$cs.qcow2
done

"$img" create -q -f qcow2 -o compat=0.10 v2.qcow2 2000000
pattern v2.qcow2
check "compat-0.10" v2.qcow2

for cs in 32k 64k 2M; do
    "$img" create -q -f qcow2 -o extended_l2=on,cluster_size=$cs \
        el2-$cs.qcow2 3M
    pattern el2-$cs.qcow2
    w el2-$cs.qcow2 'write -P 0xd4 2100000 1024' 'write -z 2101024 2048'
    check "extended-l2-$cs" el2-$cs.qcow2
done

"$img" create -q -f raw src.raw 3M
"$io" -f raw -c 'write -P 0x5a 0 1M' -c 'write -P 0x00 1M 512k' \
    -c 'write -P 0x77 2M 100k' src.raw >/dev/null
for ct in zlib zstd; do
    "$img" convert -c -O qcow2 -o compression_type=$ct src.raw comp-$ct.qcow2
    check "compressed-$ct" comp-$ct.qcow2
    "$img" convert -c -O qcow2 -o compression_type=$ct,cluster_size=4k \
        src.raw comp4k-$ct.qcow2
    check "compressed-4k-$ct" comp4k-$ct.qcow2
done

# A backing chain of three with different cluster sizes and lengths.
"$img" create -q -f qcow2 -o cluster_size=4k base.qcow2 1M
w base.qcow2 'write -P 0x01 0 1M'
"$img" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 2M
w mid.qcow2 'write -P 0x02 512k 4k' 'write -z 600k 64k'
mkdir -p sub
"$img" create -q -f qcow2 -b ../mid.qcow2 -F qcow2 sub/top.qcow2 3M
w sub/top.qcow2 'write -P 0x03 1000k 8k' 'write -P 0x04 2500k 1k'
check "backing-chain" sub/top.qcow2

for raw in on off; do
    "$img" create -q -f qcow2 -o data_file=data-$raw.raw,data_file_raw=$raw \
        ext-$raw.qcow2 1M
    w ext-$raw.qcow2 'write -P 0x66 4096 8192' 'write -z 100000 65536'
    check "data-file-raw-$raw" ext-$raw.qcow2
done

"$img" create -q -f qcow2 odd.qcow2 1000001
w odd.qcow2 'write -P 0x42 999000 1001'
check "unaligned-size" odd.qcow2

"$img" create -q -f qcow2 -o preallocation=metadata prealloc.qcow2 1M
w prealloc.qcow2 'write -P 0x13 0 4096'
check "prealloc-metadata" prealloc.qcow2

"$img" create -q -f raw plain.raw 100000
"$io" -f raw -c 'write -P 0x21 0 100000' plain.raw >/dev/null
check "raw" plain.raw

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
