#!/bin/bash
# Crash injection in the qcow2 write path (guest writes, zero writes,
# discard, flush, truncate), driven by our qemu-io.
#
# Requirement: metadata writes are ordered so that a writer killed
# between any two writes leaves an image that `check -r all` repairs
# without losing data written before the last completed flush.
#
# usage: tests/crash/run-writer.sh [-v] [-k] [-j N] [FILTER|NAME@N...]
#   QEMU_IO, QEMU_IMG  binaries under test, plain (non-sanitizer) builds
#                  (default: <repo>/build/qemu-io, <repo>/build/qemu-img;
#                  copied at start)
#   REF_QEMU_IMG, REF_QEMU_IO  the reference 7.2 tools (default:
#                  /usr/bin/qemu-img, /usr/bin/qemu-io)
#   CRASH_SHIM     the LD_PRELOAD shim (default: <dir of QEMU_IMG>/
#                  tests/tools/crash-after.so, see tests/tools/crash-after.c)
#   CRASH_POINTS   crash points per workload (default 60): all of them
#                  when the run makes no more calls, else the calls
#                  around flushes, internal syncs, header updates and the
#                  close, filled up with a random sample
#   CRASH_SEED     seed of that sample (default 1: runs are repeatable)
#   CRASH_WORKDIR  parent of the work directory (default /dev/shm)
#   -v             print every case, not only failures
#   -k             keep the work directory (its path is printed) and, per
#                  failing case, LABEL.crashed.qcow2, LABEL.repaired.qcow2,
#                  LABEL.log (the shim's log) and LABEL.script (the
#                  qemu-io commands)
#   -j N           workloads in parallel (default: number of CPUs)
#   FILTER         only workloads whose name contains FILTER; NAME@N runs
#                  the one crash point N of workload NAME (a reproducer)
#
# Workloads (tests/crash/writer-workloads.py): images made by the
# reference `qemu-img create` (64 KiB, 512-byte and 2 MiB clusters,
# refcount_bits=1/16/64, extended_l2, lazy_refcounts, compat=0.10, a
# backing file; 512-byte clusters with 64-bit refcounts filled past what
# the first refcount table covers, then grown with truncate), each with a
# fixed list of qemu-io commands (write -P, partial-cluster and unaligned
# writes, writes across clusters, write -f, write -z, write -z -u,
# discard, a flush every 2 to 4 commands), fed on stdin.
# Per workload:
#   - the reference qemu-io runs each command on its own copy: the guest
#     data after every command (per 512-byte sector, reference convert);
#   - ours runs the whole list uncrashed, the shim counting and logging:
#     W modifying calls; the reference's check must be clean and the
#     guest data that of the reference (case NAME@none);
#   - ours runs each prefix of the list ended by `sigraise 9` (no close):
#     the number of calls each command ends at (its calls must be the
#     full run's first ones), so the crash point after which each flush
#     (flush, write -f, and the close) completed is known;
#   - for each crash point N (case NAME@N), on a fresh copy: ours qemu-io
#     with CRASH_AFTER_WRITES=N must die by SIGKILL; ours `check -r all`
#     must exit 0; the reference's `check` must exit 0 ("No errors were
#     found", so no leaks either); the dirty and corrupt bits must be
#     clear; and every sector of the guest data (reference convert,
#     through the backing file) must hold its value after the last
#     completed flush, or a value it took in a command after it that had
#     started (made a call) before the crash.  The size may be that of
#     any of these states (truncate).  Tallied, not required: images
#     that kept every completed command, flushed or not.
# The backing file must be unchanged at the end.
# Output: "FAIL LABEL: reasons" lines with details (the flush, the
# command in progress, the calls before the crash, the repair's output,
# a reproducer), "WORKLOAD" summary lines, last line "N passed, N
# failed".  Exit 1 on failure; also when, without a filter, fewer than
# 200 crash points were run.
set -u

case "${1:-}" in
-h|--help) sed -n '2,65p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
ours_img=${QEMU_IMG:-$top/build/qemu-img}
ours_io=${QEMU_IO:-$top/build/qemu-io}
shim=${CRASH_SHIM:-$(dirname "$ours_img")/tests/tools/crash-after.so}
verbose=0 keep=0 jobs=$(nproc 2>/dev/null || echo 2)
filters=()
while [ $# -gt 0 ]; do
    case $1 in
    -v) verbose=1 ;;
    -k) keep=1 ;;
    -j) jobs=$2; shift ;;
    -j*) jobs=${1#-j} ;;
    *) filters+=("$1") ;;
    esac
    shift
done

for f in "$ours_img" "$ours_io" "$shim"; do
    if [ ! -f "$f" ]; then
        echo "FAIL $f not built (ninja -C build)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

if [ -n "${CRASH_WORKDIR:-}" ]; then
    work=$(mktemp -d -p "$CRASH_WORKDIR")
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
    work=$(mktemp -d -p /dev/shm crash-writer.XXXXXX)
else
    work=$(mktemp -d)
fi
if [ "$keep" = 1 ]; then
    echo "work directory: $work"
    KEEP=$work
else
    trap 'rm -rf "$work"' EXIT
    KEEP=
fi
start=$(date +%s)

# Private copies: a rebuild during the run must not change the binaries.
cp "$ours_img" "$work/qemu-img" && cp "$ours_io" "$work/qemu-io" &&
    cp "$shim" "$work/crash-after.so" || {
    echo "FAIL cannot copy the binaries"; echo "0 passed, 1 failed"; exit 1; }

py=$top/tests/crash/writer-workloads.py
names=()
for name in $(python3 "$py" list); do
    if [ ${#filters[@]} -gt 0 ]; then
        hit=
        for f in "${filters[@]}"; do
            case $f in
            "$name"@*) hit=$f ;;
            *@*) ;;
            *) [[ $name == *"$f"* ]] && hit=$name ;;
            esac
        done
        [ -n "$hit" ] || continue
        names+=("$hit")
    else
        names+=("$name")
    fi
done

export OURS_IMG=$work/qemu-img OURS_IO=$work/qemu-io
export SHIM=$work/crash-after.so VERBOSE=$verbose KEEP
export REF_IMG=${REF_QEMU_IMG:-/usr/bin/qemu-img}
export REF_IO=${REF_QEMU_IO:-/usr/bin/qemu-io}
mkdir "$work/results"
# One work directory per workload; the first (the longest) starts first.
printf '%s\n' "${names[@]}" |
    xargs -P "$jobs" -I{} sh -c \
        'mkdir "$2/w.$1" && python3 "$0" run "$1" "$2/w.$1" \
             >"$2/results/$1" 2>&1; rm -rf "$2/w.$1"' \
        "$py" {} "$work"

pass=0 fail=0 points=0
for name in "${names[@]}"; do
    res=$work/results/$name
    grep -v '^COUNT ' "$res"
    count=$(grep '^COUNT ' "$res")
    if [ -z "$count" ]; then
        echo "FAIL $name: worker did not finish"
        tail -n 5 "$res" | sed 's/^/    /'
        fail=$((fail + 1))
        continue
    fi
    set -- $count
    pass=$((pass + $2)) fail=$((fail + $3)) points=$((points + $4))
done
echo "${#names[@]} workloads, $points crash points, $(($(date +%s) - start)) s"
if [ ${#filters[@]} = 0 ] && [ "$points" -lt 200 ]; then
    echo "FAIL only $points crash points run (at least 200 required)"
    fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
