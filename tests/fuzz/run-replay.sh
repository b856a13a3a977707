#!/bin/bash
# Replays the fuzz corpus through every fuzz target's replay program:
# the seeds (corpus/seed), the target's own corpus (corpus/TARGET) and
# every crash reproducer (crashes/).  One line per failing program, then
# "N passed, N failed" (one test per target); exit 1 on failure.  Run
# with the ASan+UBSan build to catch what the reproducers reproduce.
#
#   tests/fuzz/run-replay.sh BUILD_DIR
set -u

build=$(realpath "${1:-build}")
here=$(cd "$(dirname "$0")" && pwd)
targets="open info check check-map map read bitmaps"
pass=0
fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

for t in $targets; do
    prog=$build/tests/fuzz/replay-$t
    dirs=("$here/corpus/seed" "$here/crashes")
    [ -d "$here/corpus/$t" ] && dirs+=("$here/corpus/$t")
    if [ ! -x "$prog" ]; then
        echo "FAIL $t: $prog not built"
        fail=$((fail + 1))
        continue
    fi
    # A hang counts as a failure too (the whole corpus takes seconds).
    timeout 600 "$prog" "${dirs[@]}" >"$log" 2>&1
    rc=$?
    if [ $rc = 0 ] && tail -n 1 "$log" | grep -q '^[0-9]* inputs replayed$'; then
        pass=$((pass + 1))
    else
        echo "FAIL $t (exit $rc): $(grep '^replay ' "$log" | tail -n 1)"
        grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -n 5
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
