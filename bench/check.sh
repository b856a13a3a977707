#!/bin/bash
# qemu-img check: ours against the system's qemu-img 7.2, same images,
# same run.  Prints wall time and peak RSS of each and the ratios.
#
#   bench/check.sh [IMAGE_DIR] [small|tib|tib-snap|many-l2|all]
#
# For each image: 7.2's check, ours, and ours with -M (the metadata map
# as JSON, to /dev/null); the ratios are 7.2/ours for time, ours/7.2 for
# memory, and what -M adds to our check.
#
# Images (made once with the system's tools, kept in IMAGE_DIR, default
# bench/images; creating them takes minutes):
#   small     4 GiB, 512-byte clusters, preallocation=metadata
#   tib       1 TiB, 64 KiB clusters, preallocation=metadata
#   tib-snap  the same after 10 internal snapshots
#   many-l2   128 GiB, 512-byte clusters, every L1 entry set: 4 Mi L2
#             tables (written by bench/make-many-l2.py: 7.2 would take
#             hours to preallocate it)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/bench/images}
which=${2:-small}
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
mkdir -p "$dir"

make_image() {
    local name=$1 f="$dir/$1.qcow2"
    [ -e "$f" ] && return 0
    case $name in
    small) "$ref" create -q -f qcow2 \
               -o cluster_size=512,preallocation=metadata "$f" 4G ;;
    tib)   "$ref" create -q -f qcow2 -o preallocation=metadata "$f" 1T ;;
    tib-snap)
        make_image tib
        cp --sparse=always "$dir/tib.qcow2" "$f"
        for i in $(seq 1 10); do "$ref" snapshot -c "s$i" "$f"; done ;;
    many-l2) python3 "$top/bench/make-many-l2.py" "$f" ;;
    esac
}

# Runs "${@:2}" $1 times; prints the best wall time and its peak RSS.  The time is taken around the run with bash's
# microsecond clock: GNU time's 10 ms ticks are 7% of a 0.15 s check,
# too coarse for the -M overhead.
measure() {
    local runs=$1 best="" rss="" t0 t1 t tmp
    shift
    tmp=$(mktemp)
    for _ in $(seq "$runs"); do
        t0=$EPOCHREALTIME
        /usr/bin/time -o "$tmp" -f '%M' "$@" >/dev/null 2>&1 || true
        t1=$EPOCHREALTIME
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t
            rss=$(tail -n 1 "$tmp")
        fi
    done
    rm -f "$tmp"
    echo "$best $rss"
}

run() {
    local name=$1 f="$dir/$1.qcow2" r o m
    make_image "$name"
    local runs=${BENCH_RUNS:-5} ref_runs=${BENCH_RUNS:-5}
    # 7.2 takes minutes on many-l2: once is enough for its ratio.
    [ "$name" = many-l2 ] && ref_runs=1
    r=$(measure "$ref_runs" "$ref" check "$f")
    o=$(measure "$runs" "$ours" check "$f")
    m=$(measure "$runs" "$ours" check -M --output=json "$f")
    awk -v n="$name" -v r="$r" -v o="$o" -v m="$m" 'BEGIN {
        split(r, a, " "); split(o, b, " "); split(m, c, " ");
        printf "%-9s 7.2: %7.3f s %8d KiB   ours: %7.3f s %8d KiB   " \
               "speed x%.1f  memory x%.2f   -M: %7.3f s %8d KiB (%+.1f%%)\n",
               n, a[1], a[2], b[1], b[2],
               (b[1] > 0 ? a[1] / b[1] : 0), b[2] / a[2], c[1], c[2],
               (b[1] > 0 ? (c[1] - b[1]) * 100 / b[1] : 0) }'
}

case $which in
all) for n in small tib tib-snap many-l2; do run "$n"; done ;;
*) run "$which" ;;
esac
