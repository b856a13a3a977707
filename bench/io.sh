#!/bin/bash
# Guest I/O through qemu-io: ours against the system's qemu-io 7.2, same
# commands, same run.  Prints the best of three wall times of each and
# the ratio 7.2/ours (above 1: ours is faster).
#
#   bench/io.sh [WORK_DIR]      (default: /dev/shm, else bench/images)
#
# Workloads, each on a fresh 1 GiB qcow2 image (64 KiB clusters) made by
# the system's qemu-img, commands fed on stdin as one qemu-io process:
#   write-4k   128 MiB written sequentially in 4 KiB commands (32768)
#   read-4k    the same read back in 4 KiB commands
#   write-1m   1 GiB written sequentially in 1 MiB commands (1024)
#   read-1m    the same read back in 1 MiB commands
# Both tools run with -t writeback (as QEMU's iotests do), so the times
# measure the I/O paths, not the host's fdatasync; the default cache
# mode (writethrough) adds one fdatasync per command to both.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ours=${QEMU_IO:-$top/build/qemu-io}
ref=${REF_QEMU_IO:-/usr/bin/qemu-io}
img_tool=${REF_QEMU_IMG:-/usr/bin/qemu-img}
if [ -n "${1:-}" ]; then
    dir=$1
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
    dir=/dev/shm
else
    dir=$top/bench/images
fi
work=$(mktemp -d "$dir/bench-io.XXXXXX")
trap 'rm -rf "$work"' EXIT

commands() {
    local op=$1 step=$2 total=$3
    awk -v op="$op" -v step="$step" -v total="$total" \
        'BEGIN { for (o = 0; o < total; o += step)
                     printf "%s -q %d %d\n", op, o, step }'
}
commands write 4096 $((128 << 20)) >"$work/write-4k.cmds"
commands read 4096 $((128 << 20)) >"$work/read-4k.cmds"
commands write $((1 << 20)) $((1 << 30)) >"$work/write-1m.cmds"
commands read $((1 << 20)) $((1 << 30)) >"$work/read-1m.cmds"

# One timed run of PROG on a fresh image (writes) or the written one.
once() {
    local prog=$1 load=$2 img=$3 t0 t1
    t0=$(date +%s.%N)
    "$prog" -t writeback "$img" <"$work/$load.cmds" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

best_of_three() {
    local prog=$1 load=$2 best="" t img="$work/img.qcow2"
    for _ in 1 2 3; do
        case $load in
        write-*)
            rm -f "$img"
            "$img_tool" create -q -f qcow2 "$img" 1G ;;
        read-*)
            # Read what the same tool wrote (equal files, see
            # tests/interop/run-write.py).
            rm -f "$img"
            "$img_tool" create -q -f qcow2 "$img" 1G
            "$prog" -t writeback "$img" \
                <"$work/write-${load#read-}.cmds" >/dev/null ;;
        esac
        t=$(once "$prog" "$load" "$img")
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then
            best=$t
        fi
    done
    echo "$best"
}

printf '%-10s %10s %10s %8s\n' workload "7.2 (s)" "ours (s)" ratio
for load in write-4k read-4k write-1m read-1m; do
    r=$(best_of_three "$ref" "$load")
    o=$(best_of_three "$ours" "$load")
    printf '%-10s %10s %10s %7.2fx\n' "$load" "$r" "$o" \
        "$(awk -v r="$r" -v o="$o" 'BEGIN { print (o > 0 ? r / o : 0) }')"
done
