#!/bin/bash
# Crash injection during `qemu-img check -r all`.
#
# Requirement: writes are ordered so that a crash at any point leaves an
# image that a second `check -r all` repairs; the dirty and corrupt bits
# are cleared only after a clean result.
#
# usage: tests/crash/run.sh [-v] [-k] [-j N] [FILTER...]
#   QEMU_IMG       binary under test, a plain (non-sanitizer) build
#                  (default: <repo>/build/qemu-img; copied at start)
#   REF_QEMU_IMG   reference qemu-img (default: /usr/bin/qemu-img)
#   CRASH_SHIM     the LD_PRELOAD shim (default: <dir of QEMU_IMG>/
#                  tests/tools/crash-after.so, see tests/tools/crash-after.c)
#   CRASH_FULL     every crash point below this is tested (default 200);
#                  beyond it a sample of CRASH_SAMPLES (default 100) plus
#                  the last 20
#   CRASH_NESTED_MAX  nested crashes (below) for images with W up to
#                  this (default 12; 0: none)
#   CRASH_WORKDIR  parent of the work directory (default /dev/shm, a
#                  tmpfs, when writable, else $TMPDIR)
#   -v             print every case, not only failures
#   -k             keep the work directory (its path is printed) and, per
#                  failing case, LABEL.crashed.qcow2, LABEL.repaired.qcow2
#                  and LABEL.log (every modifying call, CRASH_LOG format)
#   -j N           images in parallel (default: number of CPUs)
#   FILTER         only images whose name contains FILTER
#
# The model of a crash is the death of the process: every call made
# before it reached the file (page cache), none after it.  Power loss,
# which can also drop unflushed writes, is not modelled.
#
# Images: tests/crash/make-images.py (built with the reference tools).
# For each image, one uncrashed run of ours (`check -r all`, the shim
# only counting) gives W, the number of modifying file calls (pwrite,
# ftruncate, fallocate, ...), the exit status and the guest data.  Then
# for every crash point N in 0..W-1, on a fresh copy (case NAME@N):
#   1. ours `check -r all` with CRASH_AFTER_WRITES=N must be killed
#      (SIGKILL instead of its (N+1)-th modifying call);
#   2. the crashed image is checked by the reference (the state is
#      tallied: clean, leaks, corrupt, check failed; and whether its guest
#      data already reads as after the repair); if the crashed run
#      cleared a dirty or corrupt bit the image had, that check must be
#      clean (exit 0);
#   3. ours `check -r all` again, uncrashed: same exit status as the
#      uncrashed run;
#   4. the reference's `check` exits 0 and prints "No errors were found
#      on the image.", `info --output=json` says "corrupt": false (v3),
#      the dirty bit is clear (v3), and the guest data of the active
#      layer and of every internal snapshot (reference `convert -O raw`)
#      equals the data after the uncrashed repair.
# Nested (case NAME@N/M): for images with W <= CRASH_NESTED_MAX, the
# repair in step 3 is crashed too, at each of its calls M, on a copy of
# the crashed image, and steps 2-4 follow with a third run.
# The uncrashed run itself is one case (NAME@none: step 4 without the
# comparison).  A case is one (image, crash point).
# Output: one "FAIL LABEL: reasons" line per failing case plus details
# (the call the crash replaced, the calls before it, the reference's
# check of the crashed and of the repaired image); "IMAGE" summary
# lines per image; last line "N passed, N failed".  Exit 1 on failure.
set -u

if [ "${1:-}" = --image ]; then
    worker=1
    shift
else
    worker=0
fi

case "${1:-}" in -h|--help) sed -n '2,58p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

# ---------------------------------------------------------------------
# Worker: all crash points of one image.  Prints PASS/FAIL/IMAGE lines.
# ---------------------------------------------------------------------

# Sets $bits to the incompatible-feature bits of a v3 image, "DIRTY
# CORRUPT" (e.g. "1 0"), or to "" for a v2 image.
header_bits() {
    local b
    b=($(od -An -tu1 -N80 "$1"))
    bits=""
    if [ "${#b[@]}" = 80 ] && [ "${b[7]}" -ge 3 ]; then
        bits="$((b[79] & 1)) $(((b[79] >> 1) & 1))"
    fi
}

# The last line of file $1 in $last ("" if none), without a fork.
last_line() {
    local l
    last=""
    [ -f "$1" ] || return 0
    mapfile -t l <"$1"
    [ "${#l[@]}" = 0 ] || last=${l[-1]}
}

# Guest data of IMG: the active layer, then each snapshot, as raw files
# PREFIX.0.raw, PREFIX.1.raw, ... (reference `convert -O raw`).
guest_raw() {
    local img=$1 prefix=$2 s i=1
    rm -f "$prefix".*.raw
    "$ref" convert -O raw "$img" "$prefix.0.raw" 2>/dev/null || return 1
    for s in $snaps; do
        "$ref" convert -l "snapshot.name=$s" -O raw "$img" \
            "$prefix.$i.raw" 2>/dev/null || return 1
        i=$((i + 1))
    done
}

# Step 4 on IMG; appends to $why.  Leaves the reference's check output
# in refcheck.out.  With a second argument, the guest data must equal
# want.*.raw.
verify() {
    local img=$1 rc i l
    "$ref" check "$img" >refcheck.out 2>&1
    rc=$?
    mapfile -t l <refcheck.out
    if [ "$rc" != 0 ] || [ "${l[0]:-}" != 'No errors were found on the image.' ]; then
        why="$why 7.2-check-exit=$rc"
    fi
    header_bits "$img"
    [ "${bits%% *}" != 1 ] || why="$why dirty-bit-set"
    if ! "$ref" info --output=json "$img" >info.json 2>&1; then
        why="$why 7.2-info-fails"
    else
        mapfile -t l <info.json
        case "${l[*]}" in
        *'"corrupt": false'*) ;;
        *'"corrupt": true'*) why="$why corrupt-bit-set" ;;
        *) [ -z "$bits" ] || why="$why no-corrupt-in-info" ;;  # v2: none
        esac
    fi
    if [ $# -gt 1 ]; then
        if ! guest_raw "$img" got; then
            why="$why guest-data-unreadable"
        else
            for ((i = 0; i <= nsnaps; i++)); do
                cmp -s "want.$i.raw" "got.$i.raw" ||
                    why="$why guest-data-differs(layer $i)"
            done
        fi
        rm -f got.*.raw
    fi
}

crash_points() {
    local w=$1 full=${CRASH_FULL:-200} samples=${CRASH_SAMPLES:-100} n step
    if [ "$w" -le $((full + 20)) ]; then
        [ "$w" -gt 0 ] && seq 0 $((w - 1))
        return 0
    fi
    seq 0 $((full - 1))
    step=$(( (w - 20 - full + samples - 1) / samples ))
    [ "$step" -ge 1 ] || step=1
    for ((n = full; n < w - 20; n += step)); do echo "$n"; done
    seq $((w - 20)) $((w - 1))
}

indent() { sed 's/^/    /' | head -n "${1:-12}"; }

# Tally of the reference's check of crashed images, per level.
declare -A tally
tally_add() { tally[$1,$2]=$((${tally[$1,$2]:-0} + 1)); }
tally_line() {
    local l=$1
    echo "${tally[$l,0]:-0} clean, ${tally[$l,3]:-0} leaks," \
         "${tally[$l,2]:-0} corrupt, ${tally[$l,1]:-0} check failed," \
         "${tally[$l,x]:-0} other"
}

# run_case LABEL LEVEL FROM N: one case.  On a copy of FROM, ours
# `check -r all` killed instead of its (N+1)-th modifying call; the
# crashed image is kept as crashed.qcow2; then an uncrashed `check -r all`
# (the shim counting: its number of calls in $w2) and verify.
run_case() {
    local label=$1 level=$2 from=$3 n=$4 crc src_rc rrc before now
    why=""
    rm -f log count2
    header_bits "$from"
    before=$bits
    cp --sparse=always "$from" img.qcow2
    # (a subshell, so that bash's "Killed" notice goes to /dev/null)
    (timeout 60 env CRASH_AFTER_WRITES="$n" CRASH_LOG="$PWD/log" \
        LD_PRELOAD="$shim" "$ours" check -r all img.qcow2 >crash.out 2>&1
     echo $? >crash.rc) 2>/dev/null
    last_line crash.rc
    crc=$last
    [ "$crc" = 137 ] || why="$why not-killed(exit $crc)"
    cp --sparse=always img.qcow2 crashed.qcow2

    "$ref" check img.qcow2 >crashed.out 2>&1
    src_rc=$?
    case $src_rc in
    0|1|2|3) tally_add "$level" "$src_rc" ;;
    *) tally_add "$level" x ;;
    esac
    # Record (no pass/fail): can the reference read the crashed image's
    # guest data, and is it already what the repair leaves?
    if [ "$level" = 1 ]; then
        if ! guest_raw img.qcow2 got; then
            tally_add data unreadable
        else
            local i same=1
            for ((i = 0; i <= nsnaps; i++)); do
                cmp -s "want.$i.raw" "got.$i.raw" || same=0
            done
            tally_add data "$same"
        fi
        rm -f got.*.raw
    fi
    # The bits may only be cleared once the image is clean.
    if [ -n "$before" ] && [ "$src_rc" != 0 ]; then
        header_bits img.qcow2
        now=$bits
        if [ "${before%% *}" = 1 ] && [ "${now%% *}" = 0 ]; then
            why="$why dirty-bit-cleared-early(7.2 check exit $src_rc)"
        fi
        if [ "${before##* }" = 1 ] && [ "${now##* }" = 0 ]; then
            why="$why corrupt-bit-cleared-early(7.2 check exit $src_rc)"
        fi
    fi

    timeout 60 env CRASH_COUNT_FILE="$PWD/count2" LD_PRELOAD="$shim" \
        "$ours" check -r all img.qcow2 >repair.out 2>&1
    rrc=$?
    last_line count2
    w2=$last
    [ "$rrc" = "$brc" ] || why="$why next-repair-exit=$rrc(uncrashed $brc)"
    verify img.qcow2 want

    if [ -z "$why" ]; then
        echo "PASS-COUNT"
        if [ "$verbose" = 1 ]; then
            echo "PASS $label (crashed image: 7.2 check exit $src_rc)"
        fi
        return 0
    fi
    echo "FAIL $label:$why"
    echo "  call not made: $(grep -m1 'CRASH before' log 2>/dev/null)"
    echo "  last calls made:"
    grep -v 'CRASH before' log 2>/dev/null | tail -n 3 | indent
    echo "  7.2 check of the crashed image (exit $src_rc):"
    indent <crashed.out
    echo "  next check -r all (exit $rrc):"
    indent <repair.out
    echo "  7.2 check after it:"
    indent <refcheck.out
    if [ "${keep:-0}" = 1 ]; then
        local k=$work/${label//\//_}
        cp --sparse=always crashed.qcow2 "$k.crashed.qcow2"
        cp --sparse=always img.qcow2 "$k.repaired.qcow2"
        cp log "$k.log" 2>/dev/null
    fi
    return 1
}

one_image() {
    local name=$1 src=$imgdir/$1.qcow2 d w n n2 points=0 npoints=0
    local nested_max=${CRASH_NESTED_MAX:-12}
    d=$(mktemp -d -p "$work" "$name.XXXX")
    cd "$d" || exit 1
    snaps=$("$ref" snapshot -l "$src" | awk 'NR > 2 { print $2 }')
    nsnaps=$(echo $snaps | wc -w)

    # The uncrashed repair: W, exit status, guest data.
    cp --sparse=always "$src" img.qcow2
    timeout 60 env CRASH_COUNT_FILE="$d/count" LD_PRELOAD="$shim" \
        "$ours" check -r all img.qcow2 >repair.out 2>&1
    brc=$?
    last_line count
    w=$last
    why=""
    if [ -z "$w" ]; then
        why=" shim-did-not-report(exit $brc)"
    elif [ "$w" = 0 ]; then
        why=" no-modifying-calls(exit $brc)"
    else
        verify img.qcow2
    fi
    if [ -n "$why" ]; then
        echo "FAIL $name@none:$why"
        indent <repair.out
        indent <refcheck.out
        echo "IMAGE $name: uncrashed repair failed, no crash points run"
        return
    fi
    [ "$verbose" = 1 ] && echo "PASS $name@none (W=$w, exit $brc)"
    echo "PASS-COUNT"
    if ! guest_raw img.qcow2 want; then
        echo "FAIL $name@none: guest data unreadable after the uncrashed repair"
        echo "IMAGE $name: uncrashed repair failed, no crash points run"
        return
    fi

    for n in $(crash_points "$w"); do
        points=$((points + 1))
        run_case "$name@$n" 1 "$src" "$n"
        # Nested: crash the repair of the crashed image too, at each of
        # its calls, and repair a third time.
        if [ "$nested_max" -gt 0 ] && [ "$w" -le "$nested_max" ] &&
           [ -n "$w2" ] && [ "$w2" -gt 0 ]; then
            mv crashed.qcow2 first.qcow2
            for n2 in $(crash_points "$w2"); do
                npoints=$((npoints + 1))
                run_case "$name@$n/$n2" 2 first.qcow2 "$n2"
            done
        fi
    done
    echo "IMAGE $name: W=$w, $points crash points, $((nsnaps + 1)) guest" \
         "layers compared; crashed image by 7.2 check: $(tally_line 1);" \
         "its guest data (7.2 convert): ${tally[data,1]:-0} as repaired," \
         "${tally[data,0]:-0} different, ${tally[data,unreadable]:-0} unreadable"
    if [ "$npoints" -gt 0 ]; then
        echo "IMAGE $name: $npoints nested crash points (crash in the" \
             "repair of a crashed image); crashed again: $(tally_line 2)"
    fi
    cd / && rm -rf "$d"
}

if [ "$worker" = 1 ]; then
    one_image "$1"
    exit 0
fi

# ---------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/crash/crashlib.sh"
ours=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
shim=${CRASH_SHIM:-$(dirname "$ours")/tests/tools/crash-after.so}
crash_parse_args "$@"

[ -f "$shim" ] ||
    crash_setup_fail "crash shim $shim not built (ninja -C build)"
shim=$(realpath "$shim")

crash_workdir crash
imgdir=$work/images
start=$(date +%s)

# Private copies: a rebuild during the run must not change the binary
# between the crashed and the repairing run.
cp "$ours" "$work/qemu-img" && cp "$shim" "$work/crash-after.so" ||
    crash_setup_fail "cannot copy $ours / $shim"
ours=$work/qemu-img shim=$work/crash-after.so

if ! python3 "$top/tests/crash/make-images.py" "$imgdir" >"$work/make.log" 2>&1; then
    echo "FAIL make-images.py failed"
    indent 20 <"$work/make.log"
    echo "0 passed, 1 failed"
    exit 1
fi

names=()
while IFS=$'\t' read -r name _; do
    if [ ${#filters[@]} -gt 0 ]; then
        hit=0
        for f in "${filters[@]}"; do
            [[ $name == *"$f"* ]] && hit=1
        done
        [ "$hit" = 1 ] || continue
    fi
    names+=("$name")
done <"$imgdir/images.tsv"

export ours ref shim work imgdir verbose keep
mkdir "$work/results"
printf '%s\n' "${names[@]}" |
    xargs -P "$jobs" -I{} sh -c '"$0" --image "$1" >"$2/results/$1" 2>&1' \
        "$(realpath "$0")" {} "$work"

pass=0 fail=0
for name in "${names[@]}"; do
    res=$work/results/$name
    grep -v '^PASS-COUNT$' "$res"
    p=$(grep -c '^PASS-COUNT$' "$res")
    f=$(grep -c '^FAIL ' "$res")
    if ! grep -q "^IMAGE $name:" "$res"; then
        echo "FAIL $name: worker did not finish"
        f=$((f + 1))
    fi
    pass=$((pass + p))
    fail=$((fail + f))
done
echo "${#names[@]} images, $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
