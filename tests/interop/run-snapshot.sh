#!/bin/bash
# qemu-img snapshot against the system's 7.2.  Every image is made and
# written by the reference qemu-img / qemu-io; then the same snapshot
# command runs with our qemu-img on one copy ("ours/") and with the
# reference on another ("ref/"), from inside each directory so that
# messages name the same files.  After each step:
#   - stdout, stderr and exit status are the same;
#   - the reference `qemu-img check` finds nothing wrong with our image
#     (no errors, no leaks) and says the same as on its own image;
#   - `snapshot -l` by the reference on our image prints what ours
#     prints, and what it prints on its own image (date column aside);
#   - the guest data is the same, for the active state and for every
#     snapshot (each applied by the reference on a copy);
#   - both files are byte-identical once the snapshot dates are masked.
# An argument runs only the cases whose name contains it.
# Ends with "N passed, N failed"; exit status 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours_img=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
img=${REF_QEMU_IMG:-/usr/bin/qemu-img}
io=${REF_QEMU_IO:-/usr/bin/qemu-io}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/ours" "$work/ref" "$work/tmp"
pass=0 fail=0

filter=${1:-}

# want CASE: whether CASE runs (all, or those matching the argument)
want() { [ -z "$filter" ] || [[ $1 == *$filter* ]]; }

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $case: $*"; fail=$((fail + 1)); }

# The date and time columns of a snapshot listing.
mask_dates() {
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/DATE/'
}

# masked_cmp A B: whether two qcow2 files are the same once the date
# fields of their snapshot tables are zeroed; if not, prints how many
# bytes differ and the first offset.  (perl: this runs after every step.)
masked_cmp() {
    perl -e '
        sub load {
            open(my $fh, "<:raw", $_[0]) or die "$_[0]: $!";
            local $/; my $d = <$fh>;
            my ($nb, $hi, $lo) = unpack("N N N", substr($d, 60, 12));
            my $pos = $hi * 2**32 + $lo;
            for (1 .. $nb) {
                my ($il, $nl) = unpack("n n", substr($d, $pos + 12, 4));
                my $extra = unpack("N", substr($d, $pos + 36, 4));
                substr($d, $pos + 16, 8) = "\0" x 8;
                $pos = ($pos + 40 + $extra + $il + $nl + 7) & ~7;
            }
            return $d;
        }
        my ($x, $y) = (load($ARGV[0]), load($ARGV[1]));
        exit 0 if $x eq $y;
        my ($n, $first) = (abs(length($x) - length($y)), -1);
        my $len = length($x) < length($y) ? length($x) : length($y);
        for my $i (0 .. $len - 1) {
            next if substr($x, $i, 1) eq substr($y, $i, 1);
            $n++; $first = $i if $first < 0;
        }
        print "$n bytes, first at $first\n";
        exit 1;
    ' "$1" "$2"
}

# io_both FILE CMD...: the same qemu-io writes on both images.  Where the
# files are still the same (dates aside), the reference's result is
# copied: its compressed writes do not place clusters the same way twice.
io_both() {
    local f=$1; shift
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    local same=no
    masked_cmp "ours/$f" "ref/$f" >/dev/null && same=yes
    "$io" "${args[@]}" "ref/$f" >/dev/null || return 1
    if [ $same = yes ]; then
        cp "ref/$f" "ours/$f"
    else
        "$io" "${args[@]}" "ours/$f" >/dev/null
    fi
}

# snap FILE ARGS...: one snapshot command, ours and the reference.
snap() {
    local f=$1; shift
    (cd "$work/ours" && "$ours_img" snapshot "$@" "$f" \
        >"$work/tmp/o.out" 2>"$work/tmp/o.err"; echo $? >"$work/tmp/o.rc")
    (cd "$work/ref" && "$img" snapshot "$@" "$f" \
        >"$work/tmp/r.out" 2>"$work/tmp/r.err"; echo $? >"$work/tmp/r.rc")
    compare_outputs "snapshot $*"
}

compare_outputs() {
    local t
    for t in out err rc; do
        if ! cmp -s <(mask_dates <"$work/tmp/o.$t") \
                    <(mask_dates <"$work/tmp/r.$t"); then
            bad "$1: $t differs:" \
                "$(diff "$work/tmp/o.$t" "$work/tmp/r.$t" | head -6)"
            return
        fi
    done
    ok
}

# verify FILE: our image after a step, against the reference's.
verify() {
    local f=$1 o=$work/ours/$1 r=$work/ref/$1 oc rc id ids
    oc=$("$img" check "$o" 2>&1); local orc=$?
    rc=$("$img" check "$r" 2>&1)
    if [ $orc -ne 0 ] || ! grep -q '^No errors were found' <<<"$oc"; then
        bad "check of our image: $(head -4 <<<"$oc")"
    elif [ "$oc" != "$rc" ]; then
        bad "check differs from the reference's: $oc"
    else
        ok
    fi
    if ! cmp -s <("$img" snapshot -l "$o" 2>&1) \
                <("$ours_img" snapshot -l "$o" 2>&1); then
        bad "our listing of our image differs from the reference's"
    elif ! cmp -s <("$img" snapshot -l "$o" 2>&1 | mask_dates) \
                  <("$img" snapshot -l "$r" 2>&1 | mask_dates); then
        bad "listings differ: $(diff <("$img" snapshot -l "$o" 2>&1) \
            <("$img" snapshot -l "$r" 2>&1) | head -6)"
    else
        ok
    fi
    if "$img" compare -q "$o" "$r"; then ok; else bad "active data differs"; fi
    ids=$("$img" snapshot -l "$r" | awk 'NR > 2 { print $1 }')
    # The copies stay beside the images, for their relative backing names.
    for id in $ids; do
        cp "$o" "$work/ours/snap.tmp" && cp "$r" "$work/ref/snap.tmp"
        "$img" snapshot -a "$id" "$work/ref/snap.tmp" 2>/dev/null
        local ra=$?
        "$img" snapshot -a "$id" "$work/ours/snap.tmp" 2>/dev/null
        if [ $? -ne $ra ]; then
            bad "snapshot $id: applies in one image only"
        elif [ $ra -ne 0 ]; then
            ok      # an ID 7.2 lists cut short cannot be applied
        elif "$img" compare -q "$work/ours/snap.tmp" "$work/ref/snap.tmp" &&
             "$img" check -q "$work/ours/snap.tmp"; then
            ok
        else
            bad "snapshot $id: data differs or check fails once applied"
        fi
        rm -f "$work/ours/snap.tmp" "$work/ref/snap.tmp"
    done
    if diff=$(masked_cmp "$o" "$r"); then
        ok
    else
        bad "files differ (dates masked): $diff"
    fi
}

# make FILE SIZE CREATE-OPTIONS...: a fresh image in both places.
make() {
    local f=$1 size=$2; shift 2
    rm -f "$work"/ours/* "$work"/ref/*
    (cd "$work/ref" && "$img" create -q "$@" "$f" "$size") || return 1
    cp "$work/ref/$f" "$work/ours/$f"
}

step() {   # step FILE ARGS...: a snapshot command, then the checks
    local f=$1; shift
    snap "$f" "$@"
    verify "$f"
}

cd "$work"

# ---- Sequences on images of every kind ---------------------------------
# W is the qemu-io write flag: "" or "-c" (compressed; 7.2 writes those
# only to clusters never written, so overwrites are plain writes).
sequence() {
    local f=t.qcow2 W=$1
    io_both $f "write $W -P 1 0 192k" "write $W -P 2 1M 64k"
    step $f -c s1
    io_both $f "write -P 3 64k 64k" "write $W -P 7 3M 64k"
    step $f -c s2
    step $f -c s1
    io_both $f "write -P 4 0 64k" "discard 1M 64k" "write -z 128k 64k"
    step $f -l
    step $f -a 1
    io_both $f "write -P 5 0 64k"
    step $f -a s2
    step $f -d s1
    step $f -c s3
    io_both $f "write $W -P 6 2M 64k"
    step $f -d s2
    step $f -a s1
    step $f -d 3
    step $f -d s3
    step $f -d s1
    step $f -l
}

for cfg in \
    "default::" \
    "cluster-512:cluster_size=512:" \
    "cluster-4k:cluster_size=4096:" \
    "cluster-2M:cluster_size=2M:" \
    "refcount-16-4k:cluster_size=4096,refcount_bits=16:" \
    "refcount-64:refcount_bits=64:" \
    "refcount-8:refcount_bits=8,cluster_size=4096:" \
    "compat-0.10:compat=0.10:" \
    "extended-l2:extended_l2=on:" \
    "extended-l2-32k:extended_l2=on,cluster_size=32768:" \
    "compressed:cluster_size=4096:-c" \
    "compressed-64k::-c" \
    "lazy-refcounts:lazy_refcounts=on:" \
    ; do
    IFS=: read -r case opts W <<<"$cfg"
    want "$case" || continue
    make t.qcow2 4M -f qcow2 ${opts:+-o "$opts"} || {
        bad "could not create the image"; continue; }
    sequence "$W"
done

# Backing file: the overlay's snapshots, data read through the chain.
case=backing
if want $case; then
make base.qcow2 4M -f qcow2
"$io" -c "write -P 9 0 1M" "$work/ref/base.qcow2" >/dev/null
cp "$work/ref/base.qcow2" "$work/ours/base.qcow2"
(cd "$work/ref" && "$img" create -q -f qcow2 -b base.qcow2 -F qcow2 t.qcow2)
cp "$work/ref/t.qcow2" "$work/ours/t.qcow2"
sequence ""
fi

# refcount_bits=1: no cluster can be shared, every create fails (a leak).
case=refcount-1
if want $case; then
make t.qcow2 4M -f qcow2 -o refcount_bits=1
io_both t.qcow2 "write -P 1 0 64k"
snap t.qcow2 -c s1
"$img" check "ours/t.qcow2" >"$work/tmp/o.check" 2>&1
"$img" check "ref/t.qcow2" >"$work/tmp/r.check" 2>&1
if cmp -s "$work/tmp/o.check" "$work/tmp/r.check"; then ok; else
    bad "check after the failed create differs"; fi
fi

# refcount_bits=2: the third snapshot overflows midway; our image must
# be left with leaks only (7.2 also leaves a COPIED flag wrong here).
case=refcount-2-overflow
if want $case; then
make t.qcow2 64M -f qcow2 -o refcount_bits=2,cluster_size=4096
io_both t.qcow2 "write -P 1 4M 4k"
step t.qcow2 -c A
step t.qcow2 -c B
io_both t.qcow2 "write -P 2 0 4k" "write -P 3 8k 4k"
snap t.qcow2 -c C
out=$("$img" check "$work/ours/t.qcow2" 2>&1)
if grep -q "ERROR" <<<"$out" || ! grep -q "leaked clusters" <<<"$out"; then
    bad "expected leaks only: $out"
else
    ok
fi
fi

# Zero-sized image: empty L1 tables.
case=zero-size
if want $case; then
make t.qcow2 0 -f qcow2
step t.qcow2 -c a
step t.qcow2 -c b
step t.qcow2 -a a
step t.qcow2 -d a
step t.qcow2 -d b
fi

# ---- Command line and errors --------------------------------------------
# cli SETUP ARGS...: one command on fresh copies; SETUP names a function.
setup_plain() { make t.qcow2 1M -f qcow2; }
setup_snaps() {
    setup_plain
    io_both t.qcow2 "write -P 1 0 64k"
    (cd "$work/ref" && "$img" snapshot -c one t.qcow2 &&
        "$img" snapshot -c two t.qcow2 && "$img" snapshot -c one t.qcow2 &&
        "$img" snapshot -c 1 t.qcow2 && "$img" snapshot -c '' t.qcow2 &&
        "$img" snapshot -c "with space" t.qcow2)
    cp "$work/ref/t.qcow2" "$work/ours/t.qcow2"
}
setup_raw() {
    rm -f "$work"/ours/* "$work"/ref/*
    (cd "$work/ref" && "$img" create -q -f raw t.qcow2 1M)
    cp "$work/ref/t.qcow2" "$work/ours/t.qcow2"
}
setup_long() {
    setup_plain
    (cd "$work/ref" && "$img" snapshot -c x t.qcow2)
    # An ID of 130 digits and a name of 300 bytes: 7.2 lists 127 and 255.
    python3 - "$work/ref/t.qcow2" <<'EOF'
import struct, sys
fn = sys.argv[1]
d = bytearray(open(fn, 'rb').read())
pos = struct.unpack('>Q', d[64:72])[0]
extra = struct.unpack('>I', d[pos + 36:pos + 40])[0]
ident, name = b'7' * 130, b'n' * 300
d[pos + 12:pos + 16] = struct.pack('>HH', len(ident), len(name))
start = pos + 40 + extra
d[start:start + len(ident) + len(name)] = ident + name
open(fn, 'wb').write(d)
EOF
    cp "$work/ref/t.qcow2" "$work/ours/t.qcow2"
}
setup_backing_missing() {
    setup_plain
    (cd "$work/ref" && "$img" create -q -f qcow2 -b t.qcow2 -F qcow2 \
        ov.qcow2 && rm t.qcow2)
    cp "$work/ref/ov.qcow2" "$work/ours/ov.qcow2"
    rm -f "$work/ours/t.qcow2"
}
setup_data_file() {
    rm -f "$work"/ours/* "$work"/ref/*
    for d in ours ref; do
        (cd "$work/$d" && "$img" create -q -f qcow2 -o data_file=t.data \
            t.qcow2 1M)
    done
}

cli() {
    local setup=$1; shift
    case="$setup: snapshot $*"
    want "$case" || return 0
    $setup
    (cd "$work/ours" && "$ours_img" snapshot "$@" \
        >"$work/tmp/o.out" 2>"$work/tmp/o.err"; echo $? >"$work/tmp/o.rc")
    (cd "$work/ref" && "$img" snapshot "$@" \
        >"$work/tmp/r.out" 2>"$work/tmp/r.err"; echo $? >"$work/tmp/r.rc")
    compare_outputs "output"
    if [ -f "$work/ref/t.qcow2" ] && [ "$setup" != setup_raw ] &&
       [ "$setup" != setup_data_file ]; then
        verify t.qcow2
    elif [ -f "$work/ref/t.qcow2" ]; then
        if cmp -s "$work/ours/t.qcow2" "$work/ref/t.qcow2"; then ok; else
            bad "image changed differently"; fi
    fi
}

cli setup_plain -l t.qcow2
cli setup_plain t.qcow2
cli setup_snaps -l t.qcow2
cli setup_snaps t.qcow2
cli setup_snaps -q -l t.qcow2
cli setup_snaps -U -l t.qcow2
cli setup_snaps --force-share -l t.qcow2
cli setup_snaps -l --image-opts driver=qcow2,file.filename=t.qcow2
cli setup_snaps -l 'json:{"file":{"driver":"file","filename":"t.qcow2"}}'
cli setup_snaps -a 1 t.qcow2
cli setup_snaps -a 2 t.qcow2
cli setup_snaps -a one t.qcow2
cli setup_snaps -a two t.qcow2
cli setup_snaps -a '' t.qcow2
cli setup_snaps -a nope t.qcow2
cli setup_snaps -a 7 t.qcow2
cli setup_snaps -d one t.qcow2
cli setup_snaps -d 1 t.qcow2
cli setup_snaps -d 2 t.qcow2
cli setup_snaps -d '' t.qcow2
cli setup_snaps -d "with space" t.qcow2
cli setup_snaps -d nope t.qcow2
cli setup_snaps -c one t.qcow2
cli setup_snaps -c 3 t.qcow2
cli setup_snaps -c "$(printf 'x%.0s' {1..300})" t.qcow2
cli setup_snaps -q -c quiet t.qcow2
cli setup_snaps -c io --image-opts driver=qcow2,file.filename=t.qcow2
cli setup_snaps -U -c x t.qcow2
cli setup_snaps -U -a 1 t.qcow2
cli setup_snaps -U -d one t.qcow2
cli setup_plain -U -c x nonexistent.qcow2
cli setup_plain -l nonexistent.qcow2
cli setup_plain -c x nonexistent.qcow2
cli setup_plain -l -c x t.qcow2
cli setup_plain -c x -l t.qcow2
cli setup_plain -l -l t.qcow2
cli setup_plain -c a -c b t.qcow2
cli setup_plain -a 1 -d 1 t.qcow2
cli setup_plain -c
cli setup_plain -a
cli setup_plain -d
cli setup_plain -c x
cli setup_plain
cli setup_plain t.qcow2 t.qcow2
cli setup_plain -z t.qcow2
cli setup_plain --foo t.qcow2
cli setup_plain -f qcow2 -l t.qcow2
cli setup_plain --object secret,id=s0,data=x -l t.qcow2
cli setup_plain --object foo,id=s0 -l t.qcow2
cli setup_raw -l t.qcow2
cli setup_raw -c x t.qcow2
cli setup_raw -a x t.qcow2
cli setup_raw -d x t.qcow2
cli setup_raw -c x --image-opts driver=raw,file.filename=t.qcow2
cli setup_raw -a x --image-opts driver=raw,file.filename=t.qcow2
cli setup_long -l t.qcow2
cli setup_long -c y t.qcow2
cli setup_long -a "$(printf 'n%.0s' {1..300})" t.qcow2
cli setup_long -a "$(printf 'n%.0s' {1..255})" t.qcow2
cli setup_long -d "$(printf 'n%.0s' {1..255})" t.qcow2
cli setup_long -d "$(printf 'n%.0s' {1..300})" t.qcow2
cli setup_backing_missing -l ov.qcow2
cli setup_backing_missing -c x ov.qcow2
cli setup_data_file -c x t.qcow2
cli setup_data_file -l t.qcow2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
