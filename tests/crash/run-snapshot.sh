#!/bin/bash
# Crash injection in `qemu-img snapshot -c / -a / -d` (internal snapshot
# create, apply and delete).
#
# Requirement: writes are ordered so that a crash at any point leaves an
# image that the check can repair without losing guest data.
#
# usage: tests/crash/run-snapshot.sh [-v] [-k] [-j N] [FILTER|NAME@N...]
#   QEMU_IMG       binary under test, a plain (non-sanitizer) build
#                  (default: <repo>/build/qemu-img; copied at start)
#   REF_QEMU_IMG, REF_QEMU_IO  the reference 7.2 tools (default:
#                  /usr/bin/qemu-img, /usr/bin/qemu-io)
#   CRASH_SHIM     the LD_PRELOAD shim (default: <dir of QEMU_IMG>/
#                  tests/tools/crash-after.so, see tests/tools/crash-after.c)
#   CRASH_POINTS   crash points per workload (default 30): all of them
#                  when the run makes no more calls, else the first 10
#                  and the last 5 calls, the calls around flushes and
#                  header writes, filled up with a random sample
#   CRASH_SEED     seed of that sample (default 1: runs are repeatable)
#   CRASH_STRICT=1 a crashed image whose only errors are OFLAG_COPIED
#                  missing where the refcount is 1 fails too (see below)
#   CRASH_WORKDIR  parent of the work directory (default /dev/shm)
#   -v             print every case, not only failures
#   -k             keep the work directory (its path is printed) and, per
#                  failing case, LABEL.orig.qcow2, LABEL.crashed.qcow2,
#                  LABEL.repaired.qcow2 and LABEL.log (the shim's log)
#   -j N           workloads in parallel (default: number of CPUs)
#   FILTER         only workloads whose name (IMAGE:OP) contains FILTER;
#                  NAME@N runs the one crash point N of workload NAME
#
# Images (tests/crash/snapshot-workloads.py; `... recipe IMAGE` prints
# one as commands): made by the reference qemu-img and qemu-io: 64 KiB,
# 4 KiB, 512-byte and 2 MiB clusters; refcount_bits=2/16/64 (7.2 takes
# no snapshot with 1); extended_l2; compressed clusters (write -c);
# a backing file; compat=0.10; two snapshots; seven snapshots with long
# names (the table spans 3 clusters, 4 after a create); 512-byte
# clusters filled up to the end of the refcount table's coverage (create
# grows the table) and of a refcount block's (create adds a block).
# Each holds a snapshot s1 whose data differs from the active layer's in
# some clusters and shares others.  Workloads IMAGE:OP: create a
# snapshot, apply one, delete one (two-snaps: each of the two).
# Per workload:
#   - before: the active layer's and every snapshot's guest data
#     (reference `convert`, `-l snapshot.id=ID`) and the reference's
#     `snapshot -l` rows; for create, the ID 7.2 gives the new snapshot
#     (7.2's own create on a copy);
#   - ours runs the operation uncrashed, the shim counting: W modifying
#     calls; it must exit 0, the reference's check be clean, and the
#     state be the operation's result (case NAME@none);
#   - for each crash point N (case NAME@N), on a fresh copy: ours
#     `snapshot` with CRASH_AFTER_WRITES=N must die by SIGKILL; the
#     reference's check of the crashed image must find no corruption:
#     leaks are allowed, and so are OFLAG_COPIED errors with refcount=1
#     (a flag missing where the cluster is no longer shared: harmless, a
#     writer only copies where it could have written in place; no order
#     of writes avoids them, as the flag and the refcount are in
#     different clusters, and 7.2 leaves them too); COPIED where the
#     refcount is not 1, refcounts below the references, or a failing
#     check fail the case; then ours `check -r all` must exit 0, the
#     reference's check must be clean with the dirty and corrupt bits
#     clear, and: the active layer holds its data from before (apply:
#     or the snapshot's), the virtual size is unchanged, every snapshot
#     listed existed before with the same row (ID, name, VM size, date,
#     clock, icount) and the same data, in the same order, or is the
#     one being created (7.2's ID, the name given, the active data from
#     before); only the one being deleted may be missing.
# The backing file must be unchanged at the end.
# Output: "FAIL LABEL: reasons" lines with details (the calls before the
# crash, the checks, a reproducer), "WORKLOAD" summary lines (W, crash
# points, the tally of the crashed images, how many ended before or
# after the operation), last line "N passed, N failed".  Exit 1 on
# failure; also when, without a filter, fewer than 300 crash points ran.
set -u

case "${1:-}" in
-h|--help) sed -n '2,69p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/crash/crashlib.sh"
ours_img=${QEMU_IMG:-$top/build/qemu-img}
shim=${CRASH_SHIM:-$(dirname "$ours_img")/tests/tools/crash-after.so}
crash_parse_args "$@"

for f in "$ours_img" "$shim"; do
    [ -f "$f" ] || crash_setup_fail "$f not built (ninja -C build)"
done

crash_workdir crash-snapshot
start=$(date +%s)

# Private copies: a rebuild during the run must not change the binaries.
cp "$ours_img" "$work/qemu-img" && cp "$shim" "$work/crash-after.so" ||
    crash_setup_fail "cannot copy the binaries"

py=$top/tests/crash/snapshot-workloads.py
crash_select "$py"

export OURS_IMG=$work/qemu-img SHIM=$work/crash-after.so
export VERBOSE=$verbose KEEP
export REF_IMG=${REF_QEMU_IMG:-/usr/bin/qemu-img}
export REF_IO=${REF_QEMU_IO:-/usr/bin/qemu-io}
crash_run_workers "$py"
crash_report 300
