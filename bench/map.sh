#!/bin/bash
# qemu-img map: ours against the system's qemu-img 7.2 on the same image
# in the same run.  Prints the best of three wall times of each, the
# ratio 7.2/ours, and whether the two outputs are identical.
#
#   bench/map.sh [IMAGE_DIR] [tib|small|all]
#
# Images (made once with the system's qemu-img, kept in IMAGE_DIR,
# default bench/images; shared with bench/check.sh; sparse):
#   tib     1 TiB, 64 KiB clusters, preallocation=metadata (the target:
#           ours at least 5x faster than 7.2)
#   small   4 GiB, 512-byte clusters, preallocation=metadata
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/bench/images}
which=${2:-tib}
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
mkdir -p "$dir"

make_image() {
    local f="$dir/$1.qcow2"
    [ -e "$f" ] && return 0
    case $1 in
    tib)   "$ref" create -q -f qcow2 -o preallocation=metadata "$f" 1T ;;
    small) "$ref" create -q -f qcow2 \
               -o cluster_size=512,preallocation=metadata "$f" 4G ;;
    esac
}

# Best wall time of three runs of "$@" (stdout discarded).
measure() {
    local best="" t tmp
    tmp=$(mktemp)
    for _ in 1 2 3; do
        /usr/bin/time -o "$tmp" -f '%e' "$@" >/dev/null 2>&1 || true
        t=$(tail -n 1 "$tmp")
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t
        fi
    done
    rm -f "$tmp"
    echo "$best"
}

run() {
    local name=$1 f="$dir/$1.qcow2" r o same
    make_image "$name"
    # Warm the page cache for both, so neither pays the first read.
    "$ref" map --output=json "$f" >/dev/null
    r=$(measure "$ref" map --output=json "$f")
    o=$(measure "$ours" map --output=json "$f")
    if cmp -s <("$ref" map --output=json "$f") \
              <("$ours" map --output=json "$f"); then
        same=identical
    else
        same=DIFFERENT
    fi
    awk -v n="$name" -v r="$r" -v o="$o" -v s="$same" 'BEGIN {
        printf "map %-6s 7.2 %6.2fs  ours %6.2fs  ratio %6.1fx  output %s\n",
               n, r, o, (o > 0 ? r / o : 999), s }'
}

case $which in
all) run tib; run small ;;
*) run "$which" ;;
esac
