#!/bin/bash
# check -p (our extension): progress lines on a terminal, reaching
# 100%, and nothing extra when stderr is not a terminal or with -q.
# Last line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours=${QEMU_IMG:-$top/build/qemu-img}
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

"$ref" create -q -f qcow2 -o cluster_size=4k,preallocation=metadata \
    "$work/img.qcow2" 256M
if ! command -v script >/dev/null; then
    echo "FAIL script(1) missing (util-linux)"; echo "0 passed, 1 failed"
    exit 1
fi
script -qc "$ours check -p $work/img.qcow2" /dev/null </dev/null \
    >"$work/tty" 2>&1
grep -q '(100.00/100%)' "$work/tty" && ok || ko "terminal: no 100% line"
grep -q 'No errors were found on the image.' "$work/tty" && ok ||
    ko "terminal: no summary"
"$ours" check -p "$work/img.qcow2" >"$work/out" 2>"$work/err"
[ ! -s "$work/err" ] && ok || ko "not a terminal: progress printed"
"$ref" check "$work/img.qcow2" >"$work/refout" 2>&1
cmp -s "$work/out" "$work/refout" && ok || ko "not a terminal: output differs"
script -qc "$ours check -p -q $work/img.qcow2" /dev/null </dev/null \
    >"$work/quiet" 2>&1
[ ! -s "$work/quiet" ] && ok || ko "-q: progress printed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
