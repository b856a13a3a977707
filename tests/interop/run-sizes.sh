#!/bin/bash
# Size arguments: ours against the system's 7.2.  Both tools parse every
# size with one parser (util/cutils.c qemu_strtosz), as 7.2 does; each
# string is given as a qemu-io number (read -s), a qemu-img create size,
# a qemu-img map --start-offset and a create -o size= option.  stdout,
# stderr, the exit status and the size of the file left behind must be
# equal.  Prints one line per failure and ends with "N passed, N failed".
#
#   QEMU_IMG, QEMU_IO          ours (default build/qemu-img, build/qemu-io)
#   REF_QEMU_IMG, REF_QEMU_IO  reference (default /usr/bin/...)
#   VERBOSE=1                  show both outputs of a failure
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours_img=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
ours_io=$(realpath "${QEMU_IO:-$top/build/qemu-io}")
ref_img=${REF_QEMU_IMG:-/usr/bin/qemu-img}
ref_io=${REF_QEMU_IO:-/usr/bin/qemu-io}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
"$ref_img" create -q -f raw r.img 1M || exit 1
pass=0 fail=0

# run TOOL ARGS...: everything a run shows, the size of new.img last.
run() {
    rm -f new.img
    "$@" 2>&1
    echo "exit $?"
    [ -e new.img ] && stat -c %s new.img
}

# t KIND STRING
t() {
    local kind=$1 s=$2 r o
    local -a args
    case $kind in
    io)  args=(-f raw -c "read -q -s $s 0 0" r.img) ;;
    img) args=(create -f raw new.img "$s") ;;
    map) args=(map -f raw "--start-offset=$s" r.img) ;;
    opt) args=(create -f raw -o "size=$s" new.img) ;;
    esac
    if [ "$kind" = io ]; then
        r=$(run "$ref_io" "${args[@]}")
        o=$(run "$ours_io" "${args[@]}")
    else
        r=$(run "$ref_img" "${args[@]}")
        o=$(run "$ours_img" "${args[@]}")
    fi
    if [ "$r" = "$o" ]; then
        pass=$((pass + 1))
    else
        echo "FAIL $kind [$s]"
        if [ -n "${VERBOSE:-}" ]; then
            diff <(echo "$r") <(echo "$o")
        fi
        fail=$((fail + 1))
    fi
}

# Spaces inside a qemu-io command line split words, so qemu-io gets no
# strings with spaces.
common=(0 1 512 10M 1k 1K 1kb 1k2 4T 5p 8E 7.99E 16E 1E 1b 1B 00 010
        9223372036854775807 9223372036854775808 18446744073709551615
        18446744073709551616 99999999999999999999999
        99999999999999999999999x 18446744073709551616k
        0x10 0X10 0x10b 0x1b 0x1 0x 0xk 00x10 0xfffffffffffffff
        0x8000000000000000 0xfffffffffffffffff 0x1.5k 0x1p3 0x1kz
        0x10k 0x10K 0xffffffffffffffffk
        1.5k 1.k .5k 1..5k 0.5k 0.0001k 1.5 1.5b 1.0 1.0b 1.23456789M
        1.9999999999999999999k 4294967296T 1e3 1e 1.5e 1.k5 1,5k
        +5 +0x10 -1 +-1 -0 abc inf nan 1x '' $'\t0x10' $'\v5')
for s in "${common[@]}"; do
    t io "$s"
    t img "$s"
    t map "$s"
done
for s in ' 1' '1 ' ' -1' ' ' '1 k'; do
    t img "$s"
    t map "$s"
done
# -o size=: hex numbers with a suffix are left out (7.2 warns a second
# time after the "Formatting" line, when its driver parses the options
# again; we warn once), and so is 2^64 - 1 (7.2 takes it for "no size").
for s in "${common[@]}"; do
    case $s in
    0x*[kKmMgGtTpPeE]* | 18446744073709551615) continue ;;
    esac
    t opt "$s"
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
