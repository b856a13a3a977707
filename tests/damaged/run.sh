#!/bin/sh
# Differential test of `qemu-img info` on damaged qcow2 headers:
# the binary under test against the reference qemu-img, byte for byte.
#
# usage: tests/damaged/run.sh [-v] [-k] [-j N] [--table] [FILTER...]
#   QEMU_IMG       binary under test   (default: <repo>/build/qemu-img)
#   REF_QEMU_IMG   reference binary    (default: /usr/bin/qemu-img)
#   SANITIZED=1    also fail on sanitizer reports in our stderr
#   TIMEOUT        seconds per invocation (default 30)
#   -v             print every test with its result
#   -k             keep the corpus directory (its path is printed)
#   -j N           parallel invocations (default: number of CPUs)
#   --table        do not test; print the reference's behaviour for every
#                  case as a Markdown table (the body of EXPECTED.md)
#   FILTER         run only tests whose name CASE/MODE contains FILTER
#
# Each case is run in three modes, each one test:
#   CASE/fmt    qemu-img info -f qcow2 CASE
#   CASE/probe  qemu-img info CASE
#   CASE/json   qemu-img info -f qcow2 --output=json CASE
# (cwd = corpus directory, relative file name). stdout, stderr and exit
# status must equal the reference's; ours must exit 0 or 1 (no signal, no
# timeout); when the reference exits 1, ours' stderr must contain
# "qemu-img: Could not open '" (normally at its very start; warnings
# printed while opening may precede it). Where the reference itself
# crashes (a QEMU bug), ours must exit 1 with such a message and an empty
# stdout; when checking the reference against itself those are skipped.
# The last line of output is "N passed, N failed"; exit 1 on any failure.
case "$1" in -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
exec python3 "$(dirname "$0")/runner.py" "$@"
