#!/bin/sh
# Differential test of `qemu-img check` (read-only, no -r): the binary
# under test against the reference qemu-img, byte for byte.
#
# usage: tests/check/run.sh [-v] [-k] [-j N] [--table] [FILTER...]
#   QEMU_IMG       binary under test   (default: <repo>/build/qemu-img)
#   REF_QEMU_IMG   reference binary    (default: /usr/bin/qemu-img)
#   REF_QEMU_IO    reference qemu-io used to build the corpus
#                  (default: /usr/bin/qemu-io)
#   SANITIZED=1    also fail when our stderr contains AddressSanitizer,
#                  "runtime error:" or LeakSanitizer
#   TIMEOUT        seconds per invocation (default 30)
#   -v             print every test with its result
#   -k             keep the corpus directory (its path is printed)
#   -j N           parallel tests (default: number of CPUs)
#   --table        do not test; print the reference's `check IMG` result
#                  (exit, stderr, stdout) for every case (EXPECTED.md body)
#   FILTER         run only tests whose name contains FILTER (substring)
#
# The corpus (tests/check/make-corpus.py) is built once in a temp dir.
# For every image CASE.qcow2 listed in cases.tsv there are four tests:
#   CASE/human      qemu-img check CASE.qcow2
#   CASE/json       qemu-img check --output=json CASE.qcow2
#   CASE/quiet      qemu-img check -f qcow2 -q CASE.qcow2
#   CASE/unchanged  sha256 of the image is the same after OUR check
# Each invocation runs in its own directory (relative file name) on a
# fresh sparse copy of the image, with symlinks to side files (backing
# images, external data files). stdout, stderr and exit status must
# equal the reference's. Plus usage/* tests (no file, bad -r, bad
# --output, raw image -> exit 63, nonexistent file, ...).
# Last line: "N passed, N failed"; exit 1 on any failure.
case "$1" in -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
exec python3 "$(dirname "$0")/runner.py" "$@"
