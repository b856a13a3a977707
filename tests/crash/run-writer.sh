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
# the first refcount table covers, then grown with truncate; two with
# persistent bitmaps, marked in use at open and stored at close), each with a
# fixed list of qemu-io commands (write -P, partial-cluster and unaligned
# writes, writes across clusters, write -f, write -z, write -z -u,
# discard, and in the compress* workloads write -c, a flush every 2 to 4
# commands), fed on stdin.
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
. "$top/tests/crash/crashlib.sh"
ours_img=${QEMU_IMG:-$top/build/qemu-img}
ours_io=${QEMU_IO:-$top/build/qemu-io}
shim=${CRASH_SHIM:-$(dirname "$ours_img")/tests/tools/crash-after.so}
crash_parse_args "$@"

for f in "$ours_img" "$ours_io" "$shim"; do
    [ -f "$f" ] || crash_setup_fail "$f not built (ninja -C build)"
done

crash_workdir crash-writer
start=$(date +%s)

# Private copies: a rebuild during the run must not change the binaries.
cp "$ours_img" "$work/qemu-img" && cp "$ours_io" "$work/qemu-io" &&
    cp "$shim" "$work/crash-after.so" ||
    crash_setup_fail "cannot copy the binaries"

py=$top/tests/crash/writer-workloads.py
crash_select "$py"

export OURS_IMG=$work/qemu-img OURS_IO=$work/qemu-io
export SHIM=$work/crash-after.so VERBOSE=$verbose KEEP
export REF_IMG=${REF_QEMU_IMG:-/usr/bin/qemu-img}
export REF_IO=${REF_QEMU_IO:-/usr/bin/qemu-io}
# One work directory per workload; the first (the longest) starts first.
crash_run_workers "$py"
crash_report 200
