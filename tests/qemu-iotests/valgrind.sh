#!/bin/bash
# Runs the iotests with our qemu-img and qemu-io under valgrind (memcheck)
# and reports every process that had an error: an invalid access, a use
# of uninitialised memory, or a definite or indirect leak.
#
#   tests/qemu-iotests/valgrind.sh [BUILD_DIR] [FORMAT...]
#       (default: build, qcow2 raw; IOTESTS="NAME..." runs only those)
#
# Each tool runs as itself under valgrind (the wrappers exec it); the logs
# go to a temporary directory, one per process.  The iotests compare their
# output as usual, except for lines that print the program's path (getopt
# errors show valgrind's argv[0]), so the tests' own pass/fail is shown but
# does not count: the result is the valgrind logs.  Takes about 15 minutes.
# The last line is `N passed, N failed` (processes without, with errors).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "${1:-$top/build}")
shift || true
formats=${*:-qcow2 raw}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tool in qemu-img qemu-io; do
    cat >"$work/$tool" <<WRAP
#!/bin/bash
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \\
    --log-file="$work/log.$tool.%p" "$build/$tool" "\$@"
WRAP
    chmod +x "$work/$tool"
done
for fmt in $formats; do
    (cd "$top/tests/qemu-iotests" &&
     QEMU_IMG_PROG="$work/qemu-img" QEMU_IO_PROG="$work/qemu-io" \
         ./check -"$fmt" ${IOTESTS:-} | tail -n 1 | sed "s/^/iotests -$fmt (not counted): /")
done
total=$(find "$work" -name 'log.*' | wc -l)
bad=$(find "$work" -name 'log.*' -size +0 | wc -l)
for f in $(find "$work" -name 'log.*' -size +0 | head -n 5); do
    echo "FAIL ${f##*/}:"
    head -n 30 "$f"
done
echo "$((total - bad)) passed, $bad failed"
[ "$bad" = 0 ]
