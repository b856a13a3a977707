#!/bin/bash
# qemu-img convert: ours against the system's qemu-img 7.2 on the same
# source in the same run.  Prints each one's best wall time of
# BENCH_RUNS runs (default 3), the ratio 7.2/ours, and whether the two
# outputs hold the same guest data (`qemu-img compare` of 7.2).
#
#   bench/convert.sh [IMAGE_DIR]
#
# Source (made once with the system's tools, kept in IMAGE_DIR, default
# bench/images): 2 GiB qcow2, its first half random data, its second
# half never written (zeros).  Cases: qcow2->qcow2, qcow2->raw, and
# qcow2->qcow2 compressed (-c, zlib).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/bench/images}
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
io=${REF_QEMU_IO:-/usr/bin/qemu-io}
mkdir -p "$dir"
src=$dir/convert-src.qcow2
out=$(mktemp -d "$dir/convert-out.XXXXXX")
trap 'rm -rf "$out"' EXIT

if [ ! -e "$src" ]; then
    head -c 1G /dev/urandom > "$out/random.bin"
    "$ref" create -q -f qcow2 "$src.tmp" 2G
    "$io" -c "write -s $out/random.bin 0 1G" "$src.tmp" >/dev/null
    rm -f "$out/random.bin"
    mv "$src.tmp" "$src"
fi

# Best wall time of $BENCH_RUNS runs of "$@" (default 3; output
# discarded, the output file removed before each run).
measure() {
    local tmp t best="" target=${!#}
    tmp=$(mktemp)
    for _ in $(seq "${BENCH_RUNS:-3}"); do
        rm -f "$target"
        /usr/bin/time -o "$tmp" -f '%e' "$@" >/dev/null 2>&1 || true
        t=$(tail -n 1 "$tmp")
        if [ -z "$best" ] || awk "BEGIN { exit !($t < $best) }"; then
            best=$t
        fi
    done
    rm -f "$tmp"
    echo "$best"
}

run() {
    local name=$1 fmt=$2; shift 2
    local r o same
    rm -f "$out/ref.img" "$out/ours.img"
    # Warm the page cache for both, so neither pays the first read.
    cat "$src" >/dev/null
    r=$(measure "$ref" convert "$@" "$src" "$out/ref.img")
    o=$(measure "$ours" convert "$@" "$src" "$out/ours.img")
    if "$ref" compare -q -f "$fmt" -F "$fmt" "$out/ref.img" "$out/ours.img"
    then
        same=identical
    else
        same=DIFFERENT
    fi
    awk -v n="$name" -v r="$r" -v o="$o" -v s="$same" 'BEGIN {
        printf "convert %-14s 7.2 %7.2fs  ours %7.2fs  ratio %5.2fx  " \
               "data %s\n", n, r, o, (o > 0 ? r / o : 999), s }'
    rm -f "$out/ref.img" "$out/ours.img"
}

run qcow2-qcow2 qcow2 -O qcow2
run qcow2-raw raw -O raw
run compressed qcow2 -c -O qcow2
