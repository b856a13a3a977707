#!/bin/bash
# Repairs where we deliberately do better than qemu-img 7.2: for a bad
# refcount-table entry 7.2's rebuild stops on an overlap check; ours
# rebuilds.  The same for a snapshot table rewrite (below).  The result must pass 7.2's own check with no error or
# leak, and keep the guest data of the undamaged fixture.
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
"$ref" convert -O raw "$work/c/fix-base.qcow2" "$work/want.raw"

# repair NAME WANT_RAW: our -r all on the damaged image must exit 0,
# leave an image 7.2 finds clean, and guest data equal to WANT_RAW.
repair() {
    local name=$1 want=$2 rc why=""

    cp --sparse=always "$work/c/$name.qcow2" "$work/img.qcow2"
    "$ours" check -r all "$work/img.qcow2" >"$work/out" 2>&1
    rc=$?
    [ "$rc" = 0 ] || why="$why exit=$rc"
    "$ref" check "$work/img.qcow2" >"$work/refout" 2>&1 ||
        why="$why 7.2-check-fails"
    "$ref" convert -O raw "$work/img.qcow2" "$work/got.raw" 2>/dev/null &&
        cmp -s "$want" "$work/got.raw" || why="$why guest-data"
    if [ -z "$why" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name:$why"
        cat "$work/out" "$work/refout" | head -20
    fi
}

for name in reftable-reserved reftable-unaligned; do
    repair "$name" "$work/want.raw"
done

# A snapshot table over a data cluster that reaches far past the end of
# the file (so it is never counted): 7.2 refuses to rewrite it (its
# overlap check); ours rewrites it and must not free the data cluster
# under it.  The guest data is the fixture's with the 40 bytes that the
# damage itself wrote over guest offset 0.
name=snap-table-over-data
host=$(od -An -tu8 --endian=big -j64 -N8 "$work/c/$name.qcow2" | tr -d ' ')
cp "$work/want.raw" "$work/want2.raw"
dd if="$work/c/$name.qcow2" of="$work/want2.raw" bs=1 skip="$host" \
   count=40 conv=notrunc status=none
repair "$name" "$work/want2.raw"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
