#!/bin/bash
# Runs each libFuzzer program (built with `make fuzz`) for SECONDS
# seconds, one after the other, at the lowest priority.  Inputs: the
# seeds, the target's saved corpus and the crash reproducers; new inputs
# that add coverage are merged into tests/fuzz/corpus/TARGET; crashes,
# hangs and leaks land in tests/fuzz/crashes/TARGET-*.  The seconds each
# target ran are added up in tests/fuzz/fuzz-seconds.
#
#   tests/fuzz/run-fuzz.sh BUILD_DIR SECONDS [TARGET...]
set -u

build=$(realpath "$1")
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-open info check check-map map read bitmaps}
status=0

for t in $targets; do
    prog=$build/tests/fuzz/fuzz-$t
    scratch=$build/fuzz-corpus/$t
    mkdir -p "$scratch" "$here/corpus/$t" "$here/crashes"
    echo "== fuzz-$t for $seconds s"
    start=$(date +%s)
    # -close_fd_mask=2: the check's findings on stderr would drown the
    # log; libFuzzer and the sanitizers report on a copy of stderr.
    nice -n 19 "$prog" -max_total_time="$seconds" -timeout=20 \
        -rss_limit_mb=1536 -malloc_limit_mb=64 -close_fd_mask=3 \
        -dict="$here/qcow2.dict" -print_final_stats=1 \
        -artifact_prefix="$here/crashes/$t-" \
        "$scratch" "$here/corpus/seed" "$here/corpus/$t" \
        2>&1 | grep -E '^(==|SUMMARY|ERROR|stat::|Done|artifact_prefix)|runtime error' | tail -n 30
    rc=${PIPESTATUS[0]}
    end=$(date +%s)
    [ "$rc" = 0 ] || status=1
    # Save what adds coverage, among inputs of at most 4 KiB so the
    # corpus stays small (the full one stays in BUILD_DIR/fuzz-corpus).
    small=$(mktemp -d)
    find "$scratch" -type f -size -4097c -exec cp {} "$small" \;
    nice -n 19 "$prog" -merge=1 -close_fd_mask=3 "$here/corpus/$t" \
        "$small" >/dev/null 2>&1
    rm -rf "$small"
    python3 - "$here/fuzz-seconds" "$t" $((end - start)) <<'PY'
import sys
path, target, secs = sys.argv[1], sys.argv[2], int(sys.argv[3])
totals = {}
try:
    for line in open(path):
        if line.strip() and not line.startswith('#'):
            k, v = line.split()
            totals[k] = int(v)
except FileNotFoundError:
    pass
totals[target] = totals.get(target, 0) + secs
with open(path, 'w') as f:
    f.write('# seconds each fuzz target has run in total (run-fuzz.sh)\n')
    for k in sorted(totals):
        f.write('%s %d\n' % (k, totals[k]))
PY
    echo "== fuzz-$t: exit $rc after $((end - start)) s"
done
exit $status
