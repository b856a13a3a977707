#!/bin/bash
# Runs every test suite, prints each suite's result and, last, the
# total as "N passed, N failed".  Exit status 1 when anything failed.
#
#   scripts/run-checks.sh BUILD_DIR SANITIZER_BUILD_DIR
set -u

build=$(realpath "$1")
build_san=$(realpath "$2")
top=$(cd "$(dirname "$0")/.." && pwd)
total_pass=0
total_fail=0
status=0

# Adds up the last "N passed, N failed" line of a suite's output.
count() {
    local name=$1 log=$2 rc=$3 line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        # A suite that did not report counts failed as a whole.
        echo "== $name: no result line (exit $rc)"
        p=0 f=1
    else
        p=${line%% passed*}
        f=${line#*passed, }
        f=${f%% failed*}
        echo "== $name: $line"
    fi
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$f" = 0 ] || status=1
}

# meson's own summary, converted to the common line.
meson_suite() {
    local name=$1 dir=$2 log=$3 ok fail
    meson test -C "$dir" --suite unit --print-errorlogs >"$log" 2>&1
    local rc=$?
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    fail=0
    for k in 'Fail' 'Unexpected Pass' 'Timeout'; do
        n=$(sed -n "s/^$k: *\([0-9]*\).*/\1/p" "$log" | tail -n 1)
        fail=$((fail + ${n:-0}))
    done
    echo "${ok:-0} passed, $fail failed" >>"$log"
    cat "$log" | grep -E '^ *[0-9]+/[0-9]+ ' || true
    count "$name" "$log" "$rc"
}

suite() {
    local name=$1; shift
    local log
    log=$(mktemp)
    "$@" >"$log" 2>&1
    local rc=$?
    grep -E '^(FAIL|not ok|---|\+\+\+|[-+@])' "$log" | head -n 80 || true
    count "$name" "$log" "$rc"
    rm -f "$log"
}

logdir=$(mktemp -d)
meson_suite "unit tests" "$build" "$logdir/unit"
meson_suite "unit tests (ASan+UBSan)" "$build_san" "$logdir/unit-san"
for fmt in qcow2 raw; do
    suite "iotests -$fmt" env QEMU_IMG_PROG="$build/qemu-img" \
        "$top/tests/qemu-iotests/check" -$fmt
    suite "iotests -$fmt against qemu-img 7.2 (--reference)" \
        "$top/tests/qemu-iotests/check" -$fmt --reference
done
suite "interop: info vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/interop/run-info.py"
suite "interop: info vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/interop/run-info.py"
suite "damaged headers" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/damaged/run.sh"
suite "damaged headers (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$top/tests/damaged/run.sh"
# Plain build only: peak memory is the point, and ASan's is its own.
suite "memory of read-only commands on huge tables (vs qemu-img 7.2)" \
    env QEMU_IMG="$build/qemu-img" QEMU_IO="$build/qemu-io" \
    "$top/tests/damaged/run-bounds.py"
suite "check vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/check/run.sh"
suite "check vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$top/tests/check/run.sh"
suite "check -r vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/check/run-repair.sh"
suite "check -r vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/check/run-repair.sh"
suite "check -r where we do better than 7.2" \
    env QEMU_IMG="$build_san/qemu-img" "$top/tests/check/run-repair-better.sh"
suite "check -p progress" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/check/run-progress.sh"
suite "check past 2^31 host clusters (beyond 7.2)" \
    env QEMU_IMG="$build_san/qemu-img" "$top/tests/check/run-huge.sh"
# Plain build only: the LD_PRELOAD crash shim does not mix with ASan.
suite "crash injection during repair" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/crash/run.sh"
suite "guest reads vs qemu-img convert" \
    env BUILD="$build_san" "$top/tests/interop/run-read.sh"
suite "metadata map cross-check (and 300 fixed-seed mutations)" \
    env QEMU_IMG="$build/qemu-img" FUZZ=300 "$top/tests/metadata/run.sh"
suite "metadata map cross-check (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/metadata/run.sh"
# Plain build only: the LD_PRELOAD crash shim does not mix with ASan.
suite "crash injection in the qcow2 write path" \
    env QEMU_IMG="$build/qemu-img" QEMU_IO="$build/qemu-io" \
    "$top/tests/crash/run-writer.sh"
suite "create vs qemu-img 7.2 (byte-identical files)" \
    env QEMU_IMG="$build/qemu-img" QUICK=1 "$top/tests/interop/run-create.sh"
suite "crash injection in qemu-img snapshot" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/crash/run-snapshot.sh"
suite "size arguments vs qemu-img/qemu-io 7.2" \
    env QEMU_IMG="$build/qemu-img" QEMU_IO="$build/qemu-io" \
    "$top/tests/interop/run-sizes.sh"
suite "map vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/interop/run-map.sh"
suite "map vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/interop/run-map.sh"
suite "convert vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/interop/run-convert.sh"
suite "convert vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/interop/run-convert.sh"
suite "snapshot vs qemu-img 7.2" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/interop/run-snapshot.sh"
suite "snapshot vs qemu-img 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/interop/run-snapshot.sh"
suite "bitmaps vs qemu-img/qemu-io/qemu-nbd 7.2 (byte-identical images)" \
    env QEMU_IMG="$build/qemu-img" QEMU_IO="$build/qemu-io" \
    "$top/tests/interop/run-bitmap.py"
suite "bitmaps vs 7.2 (ASan+UBSan)" \
    env QEMU_IMG="$build_san/qemu-img" QEMU_IO="$build_san/qemu-io" \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
    "$top/tests/interop/run-bitmap.py"
suite "qcow2.py vs qemu-img 7.2 info and check -M" \
    env QEMU_IMG="$build/qemu-img" "$top/tests/tools/run-qcow2-py.py"
suite "fuzz corpus replay" "$top/tests/fuzz/run-replay.sh" "$build"
suite "fuzz corpus replay (ASan+UBSan)" \
    env ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$top/tests/fuzz/run-replay.sh" "$build_san"
suite "guest writes vs qemu-io 7.2 (byte-identical images)" \
    env QEMU_IO="$build/qemu-io" "$top/tests/interop/run-write.py"
suite "guest writes vs qemu-io 7.2 (ASan+UBSan)" \
    env QEMU_IO="$build_san/qemu-io" ASAN_OPTIONS=detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1 "$top/tests/interop/run-write.py"
rm -rf "$logdir"

echo "$total_pass passed, $total_fail failed"
exit $status
