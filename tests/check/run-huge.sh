#!/bin/bash
# Beyond 7.2: images whose file holds more than 2^31 host clusters,
# which 7.2's check refuses ("Check failed: File too large").  The
# images come from make-huge.py (512-byte clusters, 1-bit refcounts, a
# data cluster past cluster 2^31, sparse 1 TiB files).  Ours must check
# them, find and repair a leak past cluster 2^31, and leave the guest
# data readable by 7.2.  Last line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
ref_io=${REF_QEMU_IO:-/usr/bin/qemu-io}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

expect() {      # expect NAME EXPECTED-FILE ACTUAL-FILE
    if cmp -s "$2" "$3"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1"
        diff -u "$2" "$3" | head -n 20
    fi
}

cd "$work"
read -r far size < <(python3 "$top/tests/check/make-huge.py" clean.qcow2)
read -r _ leak_size < <(python3 "$top/tests/check/make-huge.py" leak.qcow2 \
                        leak)

# 7.2 refuses, which is why this is a test of our own.
"$ref" check clean.qcow2 >out 2>&1
echo "exit $?" >>out
printf 'qemu-img: Check failed: File too large\nexit 1\n' >exp
expect "7.2 refuses more than 2^31 clusters" exp out

"$ours" check clean.qcow2 >out 2>&1
echo "exit $?" >>out
cat >exp <<END
No errors were found on the image.
2/2048 = 0.10% allocated, 50.00% fragmented, 0.00% compressed clusters
Image end offset: $size
exit 0
END
expect "clean image past 2^31 clusters" exp out

"$ours" check --output=json clean.qcow2 >out 2>&1
grep -q "\"image-end-offset\": $size," out && echo ok >out || echo bad >>out
echo ok >exp
expect "clean image, JSON" exp out

leaked=$((far + 5))
"$ours" check leak.qcow2 >out 2>err
echo "exit $?" >>out
cat >exp <<END

1 leaked clusters were found on the image.
This means waste of disk space, but no harm to data.
2/2048 = 0.10% allocated, 50.00% fragmented, 0.00% compressed clusters
Image end offset: $leak_size
exit 3
END
expect "leak past cluster 2^31: stdout" exp out
echo "Leaked cluster $leaked refcount=1 reference=0" >exp
expect "leak past cluster 2^31: stderr" exp err

"$ours" check -r leaks leak.qcow2 >out 2>err
echo "exit $?" >>out
cat >exp <<END
The following inconsistencies were found and repaired:

    1 leaked clusters
    0 corruptions

Double checking the fixed image now...
No errors were found on the image.
2/2048 = 0.10% allocated, 50.00% fragmented, 0.00% compressed clusters
Image end offset: $size
exit 0
END
expect "leak past cluster 2^31 repaired: stdout" exp out
printf 'Leaked cluster %s refcount=1 reference=0\n' "$leaked" >exp
printf 'Repairing cluster %s refcount=1 reference=0\n' "$leaked" >>exp
expect "leak past cluster 2^31 repaired: stderr" exp err

# The guest data, read by 7.2: guest cluster 1 lives past cluster 2^31.
for img in clean leak; do
    "$ref_io" -r -c 'read -P 0x5a 0 512' -c 'read -P 0xa5 512 512' \
        "$img.qcow2" >out 2>&1
    grep -c '^read 512/512 bytes' out >cnt
    echo 2 >exp
    expect "guest data of $img readable by 7.2" exp cnt
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
