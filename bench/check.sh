#!/bin/bash
# qemu-img check: ours against the system's qemu-img 7.2, same images,
# same run.  Prints wall time and peak RSS of each and the ratios.
#
#   bench/check.sh [IMAGE_DIR] [small|tib|tib-snap|all]
#
# Images (made once with the system's tools, kept in IMAGE_DIR, default
# bench/images; creating them takes minutes):
#   small     4 GiB, 512-byte clusters, preallocation=metadata
#   tib       1 TiB, 64 KiB clusters, preallocation=metadata
#   tib-snap  the same after 10 internal snapshots
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
    esac
}

# Runs "$@" three times; prints the best wall time and its peak RSS.
measure() {
    local best="" rss="" out tmp
    tmp=$(mktemp)
    for _ in 1 2 3; do
        /usr/bin/time -o "$tmp" -f '%e %M' "$@" >/dev/null 2>&1 || true
        out=$(tail -n 1 "$tmp")
        if [ -z "$best" ] || awk "BEGIN{exit !(${out% *} < $best)}"; then
            best=${out% *}
            rss=${out#* }
        fi
    done
    rm -f "$tmp"
    echo "$best $rss"
}

run() {
    local name=$1 f="$dir/$1.qcow2" r o
    make_image "$name"
    r=$(measure "$ref" check "$f")
    o=$(measure "$ours" check "$f")
    awk -v n="$name" -v r="$r" -v o="$o" 'BEGIN {
        split(r, a, " "); split(o, b, " ");
        printf "%-9s 7.2: %7.2f s %8d KiB   ours: %7.2f s %8d KiB   " \
               "speed x%.1f  memory x%.2f\n", n, a[1], a[2], b[1], b[2],
               (b[1] > 0 ? a[1] / b[1] : 0), b[2] / a[2] }'
}

case $which in
all) for n in small tib tib-snap; do run "$n"; done ;;
*) run "$which" ;;
esac
