#!/bin/sh
# Cross-check of `qemu-img check -M --output=json` (the metadata map)
# against an independent Python reader of the image bytes.
#
# usage: tests/metadata/run.sh [-v] [-k]
#   QEMU_IMG       binary under test   (default: <repo>/build/qemu-img)
#   REF_QEMU_IMG   reference qemu-img used to build the corpus
#                  (default: /usr/bin/qemu-img)
#   REF_QEMU_IO    reference qemu-io   (default: /usr/bin/qemu-io)
#   -v             print every image with its result
#   -k             keep the corpus directory (its path is printed)
#   FUZZ=N         also N randomly damaged copies through fuzz.py
#                  (FUZZ_SEED picks the mutations; default 1)
#
# 1. tests/metadata/test_layout.py: the reader against hand-written
#    expectations (synthetic images, the seed's two examples), damaged
#    variants, `qemu-img info` and the refcounts of clean images;
# 2. the corpus (make-corpus.sh, which also takes in the corpora of
#    tests/interop and tests/check, plus synth.py's images) through
#    crosscheck.py: `check -M`, then `check -r all -M` (whose map must
#    describe the repaired file).
# Last line: "N passed, N failed"; exit 1 on any failure.
case "$1" in -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

here=$(cd "$(dirname "$0")" && pwd)
verbose= keep=
for a in "$@"; do
    case $a in
        -v) verbose=-v ;;
        -k) keep=1 ;;
        *) echo "usage: $0 [-v] [-k]" >&2; exit 2 ;;
    esac
done
: "${QEMU_IMG:=$here/../../build/qemu-img}"
export QEMU_IMG

dir=$(mktemp -d "${TMPDIR:-/tmp}/metadata-corpus.XXXXXX")
[ -n "$keep" ] && echo "corpus: $dir"
cleanup() { [ -n "$keep" ] || rm -rf "$dir"; }
trap cleanup EXIT

bash "$here/make-corpus.sh" "$dir" || { echo "0 passed, 1 failed"; exit 1; }
python3 "$here/synth.py" "$dir/synth" || { echo "0 passed, 1 failed"; exit 1; }
for f in "$dir"/synth/*.qcow2; do
    echo "synth/$(basename "$f")" >> "$dir/LIST"
done

python3 "$here/test_layout.py" $verbose "$dir" > "$dir/unit.log" 2>&1
urc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$dir/unit.log"
uline=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/unit.log" | tail -n 1)
python3 "$here/crosscheck.py" $verbose --list "$dir/LIST" > "$dir/cross.log" 2>&1
crc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$dir/cross.log"
cline=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/cross.log" | tail -n 1)

# optional: FUZZ=N damaged copies through fuzz.py (before the repair
# pass changes the images)
fline= frc=0
if [ -n "${FUZZ:-}" ]; then
    (cd "$dir" && python3 "$here/fuzz.py" -n "$FUZZ" --seed "${FUZZ_SEED:-1}" \
        snapshots.qcow2 snap-names.qcow2 bitmaps.qcow2 bitmaps-mixed.qcow2 \
        bm-classes.qcow2 bm-classes-2.qcow2 data.qcow2 cs-512.qcow2 \
        extl2.qcow2 chain-top.qcow2 unknown-ext.qcow2 hdr-len-120.qcow2 \
        synth/seed-bitmaps.qcow2 synth/v2-snapshots-512.qcow2) \
        > "$dir/fuzz.log" 2>&1
    frc=$?
    grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$dir/fuzz.log"
    fline=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/fuzz.log" | tail -n 1)
fi

# last, as it changes the images: check -r all -M, against the
# repaired files
python3 "$here/crosscheck.py" $verbose --repair --list "$dir/LIST" \
    > "$dir/repair.log" 2>&1
rrc=$?
grep -v -E '^[0-9]+ passed, [0-9]+ failed' "$dir/repair.log"
rline=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$dir/repair.log" | tail -n 1)

total_p=0 total_f=0
tally() {   # tally NAME LINE RC
    local p f
    echo "$1: ${2:-no result}"
    if [ -z "$2" ]; then p=0 f=1; else
        p=${2%% passed*}; f=${2#*passed, }; f=${f%% failed*}
    fi
    [ "$3" = 0 ] || [ "$f" != 0 ] || f=1
    total_p=$((total_p + p)); total_f=$((total_f + f))
}
tally "reader unit tests" "$uline" $urc
tally "cross-check (check -M)" "$cline" $crc
tally "cross-check (check -r all -M)" "$rline" $rrc
[ -z "${FUZZ:-}" ] || tally "mutations (fuzz.py)" "$fline" $frc
echo "$total_p passed, $total_f failed"
[ $total_f = 0 ]
