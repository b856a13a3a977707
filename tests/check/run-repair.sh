#!/bin/bash
# `qemu-img check -r leaks|all` against qemu-img 7.2 on the damaged
# images of make-corpus.py (refcount fixes, COPIED flags, refcount
# rebuilds, zeroed preallocated entries, refblocks past the end).
# For each image and mode, on separate copies: stdout, stderr and exit
# status must equal 7.2's and the repaired files must be byte-identical
# (where a byte may differ on purpose, the guest data must read back the
# same through 7.2).
# Last line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$top/tests/check/make-corpus.py" "$work/c" >/dev/null 2>&1 || {
    echo "make-corpus.py failed"; echo "0 passed, 1 failed"; exit 1; }
pass=0 fail=0

cases="leak-unused leak-bump refcount-too-low copied-cleared
copied-set-shared l1-copied-cleared refblock-refcount-2 l2-shared-cluster
refbits1-snap refbits1-dup compressed-copied dirty-bit corrupt-bit
fix-base fix-snap fix-comp fix-prealloc refcount-zero-data
refcount-zero-l2 l1-overlap-reftable dirty-lazy l2-unaligned-zero
reftable-past-eof snap-extra-too-big snap-extra-too-small snap-l1-unaligned
shared-l2-leak shared-l2-reserved refbits2-shared-overflow snap-table-too-big
refbits32-wide"
# Images with persistent bitmaps: 7.2 also rewrites the bitmaps on its
# read-write open, which we do not, so there the files may differ; the
# output must not, 7.2 must find our result clean where we say it is,
# and the guest data and bitmaps (names, flags, granularity) must be the
# same as after 7.2's repair.
bitmap_cases="bitmap-leak bitmap-table-refcount-zero"
# Not here: bad refcount-table entries, where 7.2's own rebuild fails an
# overlap check and leaves the image unrepaired while ours completes
# (run-repair-better.sh checks that result with 7.2's check instead), and
# a snapshot L1 that is too large, where 7.2's repair fails the same way.

# Guest data of two images, read by 7.2, must be identical; a failed
# read is a difference too.
# What 7.2's info says of an image, but its name and size on the host.
info_of() {
    "$ref" info --output=json "$1" 2>&1 |
        grep -v -e '"actual-size"' -e '"filename"'
}

guest_data_equal() {
    "$ref" convert -O raw "$1" "$work/a.raw" 2>/dev/null &&
        "$ref" convert -O raw "$2" "$work/b.raw" 2>/dev/null &&
        cmp -s "$work/a.raw" "$work/b.raw"
    local rc=$?
    rm -f "$work/a.raw" "$work/b.raw"
    return $rc
}

# Bit 0 of incompatible_features (header byte 79).
dirty_bit() {
    echo $(( $(od -An -tu1 -j79 -N1 "$1") & 1 ))
}

run_one() {     # run_one TOOL DIR MODE OUTPUT
    (cd "$2" && "$1" check -r "$3" --output="$4" img.qcow2 >out 2>err;
     echo "exit $?" >>out)
}

for name in $cases $bitmap_cases; do
    for mode in leaks all; do
        for output in human json; do
            t="$name/-r $mode/$output"
            for side in o r; do
                rm -rf "$work/$side"; mkdir "$work/$side"
                cp --sparse=always "$work/c/$name.qcow2" "$work/$side/img.qcow2"
            done
            run_one "$ours" "$work/o" "$mode" "$output"
            run_one "$ref" "$work/r" "$mode" "$output"
            why=""
            cmp -s "$work/o/out" "$work/r/out" || why="$why stdout/exit"
            cmp -s "$work/o/err" "$work/r/err" || why="$why stderr"
            if [ "$name/$mode" = dirty-lazy/leaks ]; then
                # 7.2 clears the dirty bit on close although the refcounts
                # still need a rebuild; we keep it (cleared only after a
                # clean result).  Exactly that byte may differ.
                [ "$(dirty_bit "$work/o/img.qcow2")" = 1 ] ||
                    why="$why dirty-bit-cleared"
                cmp -s <(head -c 79 "$work/o/img.qcow2") \
                       <(head -c 79 "$work/r/img.qcow2") &&
                    cmp -s <(tail -c +81 "$work/o/img.qcow2") \
                           <(tail -c +81 "$work/r/img.qcow2") ||
                    why="$why repaired-file"
                guest_data_equal "$work/o/img.qcow2" "$work/r/img.qcow2" ||
                    why="$why guest-data"
            elif [[ " $bitmap_cases " == *" $name "* ]]; then
                # Where our repair ends clean, 7.2 must agree.
                if grep -qx 'exit 0' "$work/o/out"; then
                    "$ref" check "$work/o/img.qcow2" >/dev/null 2>&1 ||
                        why="$why 7.2-verdict"
                fi
                [ "$(info_of "$work/o/img.qcow2")" = \
                  "$(info_of "$work/r/img.qcow2")" ] || why="$why info"
                guest_data_equal "$work/o/img.qcow2" "$work/r/img.qcow2" ||
                    why="$why guest-data"
            else
                cmp -s "$work/o/img.qcow2" "$work/r/img.qcow2" ||
                    why="$why repaired-file"
            fi
            if [ -z "$why" ]; then
                pass=$((pass + 1))
            else
                fail=$((fail + 1))
                echo "FAIL $t:$why"
                diff -u <(cat "$work/r/out" "$work/r/err") \
                        <(cat "$work/o/out" "$work/o/err") | head -20
            fi
        done
    done
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
