#!/bin/bash
# qemu-img convert: ours against the system's 7.2.  Each case runs the
# same command line with both binaries, in two directories holding the
# same source images (made with the reference tools only), and compares
# stdout, stderr and the exit status byte for byte.  When the command
# succeeds, the two output images are compared too, with the reference
# binary: guest content (`qemu-img compare`), consistency of ours
# (`qemu-img check`), and, where 7.2 is deterministic (everywhere but
# -W), `qemu-img map --output=json` and the files themselves, which
# must be identical byte for byte.  Prints one line per failure and ends with
# "N passed, N failed".
#
#   QEMU_IMG       ours (default build/qemu-img)
#   REF_QEMU_IMG   reference (default /usr/bin/qemu-img)
#   REF_QEMU_IO    reference qemu-io (default /usr/bin/qemu-io)
#   KEEP=1         keep the work directory (its path is printed)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
io=${REF_QEMU_IO:-/usr/bin/qemu-io}
export REF_IO=$io
work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
    echo "work directory: $work"
else
    trap 'rm -rf "$work"' EXIT
fi
pass=0 fail=0
mkdir "$work/src" "$work/ref" "$work/ours"
cd "$work/src"

# --- source images (reference tools only) ------------------------------

mk() {  # mk ARGS...: qemu-img create, quietly
    "$ref" create -q "$@" || { echo "FAIL setup: create $*"; exit 1; }
}

w() {   # w FILE FMT CMD...: qemu-io commands
    local f=$1 fmt=$2; shift 2
    local args=()
    for c in "$@"; do args+=(-c "$c"); done
    "$io" -f "$fmt" "${args[@]}" "$f" >/dev/null ||
        { echo "FAIL setup: qemu-io $f $*"; exit 1; }
}

# Random but fixed data for uncompressible clusters.
python3 -c '
import random, sys
r = random.Random(42)
sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(1 << 20)))
' > rnd.bin

# A mix of data, zeros written as data, zero clusters, partial sectors.
mk -f qcow2 mix.qcow2 64M
w mix.qcow2 qcow2 'write -P 1 0 1M' 'write -P 0 4M 64k' \
    'write -P 3 5M 6k' 'write -P 0 5M 2k' 'write -z 8M 1M' \
    'write -P 4 10M 512' 'write -P 5 10243k 1k' 'write -s rnd.bin 12M 1M' \
    'write -P 6 63M 1M' 'write -P 7 20M 64k' 'write -P 0 20488k 16k'
# Small clusters, extended L2, version 2.
mk -f qcow2 -o cluster_size=4k small.qcow2 8M
w small.qcow2 qcow2 'write -P 1 0 20k' 'write -P 0 4k 4k' 'write -z 1M 64k' \
    'write -P 2 7M 3k'
mk -f qcow2 -o extended_l2=on,cluster_size=64k ext.qcow2 8M
w ext.qcow2 qcow2 'write -P 1 0 4k' 'write -P 2 70k 3k' 'write -z 1M 128k'
mk -f qcow2 -o compat=0.10 v2.qcow2 8M
w v2.qcow2 qcow2 'write -P 1 64k 64k' 'write -P 2 3M 4k'
# A backing chain: base <- mid <- top.
mk -f qcow2 base.qcow2 16M
w base.qcow2 qcow2 'write -P 1 0 2M' 'write -P 2 6M 1M' 'write -P 3 12M 4M'
mk -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2
w mid.qcow2 qcow2 'write -P 4 1M 2M' 'write -z 6M 64k' 'write -P 0 12M 1M'
mk -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2
w top.qcow2 qcow2 'write -P 5 2M 128k' 'write -z 13M 128k' \
    'write -P 6 14M 4k'
# An overlay larger than its backing file.
mk -f qcow2 short.qcow2 4M
w short.qcow2 qcow2 'write -P 1 0 4M'
mk -f qcow2 -b short.qcow2 -F qcow2 long.qcow2 16M
w long.qcow2 qcow2 'write -P 2 1M 64k' 'write -z 2M 64k' 'write -P 3 8M 64k' \
    'write -z 9M 64k'
# Internal snapshots.
mk -f qcow2 snap.qcow2 8M
w snap.qcow2 qcow2 'write -P 1 0 1M'
"$ref" snapshot -c s1 snap.qcow2
w snap.qcow2 qcow2 'write -P 2 512k 1M' 'write -z 0 64k'
"$ref" snapshot -c s2 snap.qcow2
w snap.qcow2 qcow2 'write -P 3 4M 64k'
# Snapshots of another size than the image.
mk -f qcow2 snapsize.qcow2 4M
w snapsize.qcow2 qcow2 'write -P 1 0 4M'
"$ref" snapshot -c small snapsize.qcow2
"$ref" resize -q snapsize.qcow2 8M
w snapsize.qcow2 qcow2 'write -P 2 0 8M'
"$ref" snapshot -c big snapsize.qcow2
"$ref" resize -q --shrink snapsize.qcow2 6M
# Compressed clusters (one cluster per write: deterministic in 7.2).
for ct in zlib zstd; do
    mk -f qcow2 -o compression_type=$ct comp-$ct.qcow2 4M
    w comp-$ct.qcow2 qcow2 'write -c -P 1 0 64k' 'write -c -P 2 64k 64k' \
        'write -c -s rnd.bin 128k 64k' 'write -P 3 1M 64k' \
        'write -c -P 4 3M 64k'
done
# Raw: holes, data, zeros as data, and a size that is not whole sectors.
truncate -s 16M raw.img
w raw.img raw 'write -P 1 0 1M' 'write -P 0 2M 64k' 'write -P 2 5M 4k' \
    'write -s rnd.bin 8M 256k'
head -c 1000100 rnd.bin > odd.raw
# Persistent bitmaps: a consistent one, and one marked in use.
mk -f qcow2 bm.qcow2 8M
w bm.qcow2 qcow2 'write -P 1 0 64k'
"$ref" bitmap --add bm.qcow2 b0
cp bm.qcow2 bm-broken.qcow2
python3 - bm-broken.qcow2 <<'EOF'
import struct, sys
# Sets the in-use flag of the first bitmap directory entry.
f = open(sys.argv[1], 'r+b')
d = f.read(1 << 16)
p = struct.unpack('>I', d[100:104])[0]
while True:
    t, l = struct.unpack('>II', d[p:p + 8])
    if t == 0:
        break
    if t == 0x23852875:
        doff = struct.unpack('>Q', d[p + 24:p + 32])[0]
        f.seek(doff + 12)
        fl = struct.unpack('>I', f.read(4))[0]
        f.seek(doff + 12)
        f.write(struct.pack('>I', fl | 1))
    p += 8 + ((l + 7) & ~7)
EOF
# A compressed cluster that does not decompress (for --salvage).
mk -f qcow2 bad.qcow2 1M
w bad.qcow2 qcow2 'write -c -P 1 0 64k' 'write -P 2 64k 64k'
python3 - bad.qcow2 <<'EOF'
import struct, sys
# Overwrites the start of the first cluster's compressed data.
f = open(sys.argv[1], 'r+b')
d = f.read()
l1 = struct.unpack('>Q', d[40:48])[0]
l2 = struct.unpack('>Q', d[l1:l1 + 8])[0] & 0x00fffffffffffe00
e = struct.unpack('>Q', d[l2:l2 + 8])[0]
f.seek(e & ((1 << 54) - 1))
f.write(b'\xff' * 200)
EOF
# An empty image, and one ending inside a cluster.
mk -f qcow2 empty.qcow2 1M
mk -f qcow2 tail.qcow2 1000k
w tail.qcow2 qcow2 'write -P 9 960k 40k'

for d in ref ours; do
    for f in *; do
        ln -s "../src/$f" "../$d/$f"
    done
done

# --- cases ------------------------------------------------------------

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# What an image is as the reference sees it: map (deterministic layout).
map_of() {  # map_of FMT FILE
    "$ref" map --output=json -f "$1" "$2" 2>&1
}

# fill FILE CMD: one reference qemu-io command (for prep=)
fill() {
    "$REF_IO" -c "$2" "$1" >/dev/null
}

# conv NAME OPTS -- ARGS...: runs `convert ARGS` in both directories.
# OPTS: fmt=F (output format, default raw), out=FILE (the output file;
# default the last argument), nomap (7.2's layout is not deterministic:
# no map or byte comparison),
# prep="CMD" (run in both directories first, with $Q the reference).
conv() {
    local name=$1; shift
    local fmt=raw out="" nomap="" prep="" viaraw=""
    while [ "$1" != -- ]; do
        case $1 in
        fmt=*) fmt=${1#fmt=} ;;
        out=*) out=${1#out=} ;;
        nomap) nomap=1 ;;
        prep=*) prep=${1#prep=} ;;
        viaraw) viaraw=1 ;;
        esac
        shift
    done
    shift
    # The last argument, if any (with none, ${!#} would be $0: this
    # script, which the rm below must never see).
    if [ -z "$out" ] && [ $# -gt 0 ]; then
        out=${!#}
    fi
    local d
    for d in ref ours; do
        (cd "$work/$d" && { [ -z "$out" ] || rm -f -- "$out"; } &&
         Q=$ref && eval "$prep")
    done
    (cd "$work/ref" && "$ref" convert "$@" >"$work/ref.out" 2>"$work/ref.err"
     echo $? >"$work/ref.rc")
    (cd "$work/ours" &&
     "$ours" convert "$@" >"$work/ours.out" 2>"$work/ours.err"
     echo $? >"$work/ours.rc")
    local r
    for r in out err rc; do
        if ! cmp -s "$work/ref.$r" "$work/ours.$r"; then
            bad "$name: std$r differs"
            diff "$work/ref.$r" "$work/ours.$r" | head -8
            return
        fi
    done
    if [ "$(cat "$work/ref.rc")" != 0 ] || [ ! -e "$work/ref/$out" ]; then
        ok
        return
    fi
    if [ -n "$viaraw" ]; then
        # Each read in its own directory (a data file name is relative
        # to the working directory), then the bytes compared.
        for d in ref ours; do
            (cd "$work/$d" && rm -f "../$d.raw" &&
             "$ref" convert -f "$fmt" -O raw "$out" "../$d.raw")
        done
        if ! cmp -s "$work/ref.raw" "$work/ours.raw"; then
            bad "$name: guest content differs from 7.2's"
            return
        fi
    elif ! (cd "$work" && "$ref" compare -q -f "$fmt" -F "$fmt" \
            "ref/$out" "ours/$out" 2>&1); then
        bad "$name: guest content differs from 7.2's"
        return
    fi
    if [ "$fmt" = qcow2 ] && ! (cd "$work/ours" &&
            "$ref" check -q "$out") >"$work/check.out" 2>&1; then
        bad "$name: check: $(head -3 "$work/check.out")"
        return
    fi
    if [ -z "$nomap" ] &&
       ! diff <(cd "$work/ref" && map_of "$fmt" "$out") \
              <(cd "$work/ours" && map_of "$fmt" "$out") >"$work/map.diff"
    then
        bad "$name: map differs"
        head -6 "$work/map.diff"
        return
    fi
    if [ -z "$nomap" ] && ! cmp -s "$work/ref/$out" "$work/ours/$out"
    then
        bad "$name: the image files differ"
        return
    fi
    ok
}

# Plain conversions between formats, each source.
for s in mix small ext v2 top long snap comp-zlib comp-zstd empty tail; do
    conv "$s qcow2->qcow2" fmt=qcow2 -- -O qcow2 $s.qcow2 out.qcow2
    conv "$s qcow2->raw" -- $s.qcow2 out.raw
done
conv "raw->qcow2" fmt=qcow2 -- -f raw -O qcow2 raw.img out.qcow2
conv "raw->raw" -- -f raw -O raw raw.img out.raw
conv "odd raw->qcow2" fmt=qcow2 -- -f raw -O qcow2 odd.raw out.qcow2
conv "odd raw->raw" -- -f raw odd.raw out.raw
conv "probed raw" fmt=qcow2 -- -O qcow2 raw.img out.qcow2
conv "image-opts" fmt=qcow2 -- --image-opts -O qcow2 \
    driver=qcow2,file.filename=mix.qcow2 out.qcow2
conv "-U" fmt=qcow2 -- -U -O qcow2 mix.qcow2 out.qcow2

# -S
for S in 0 512 1536 4k 8k 64k 1M 16M; do
    conv "-S $S qcow2" fmt=qcow2 -- -S $S -O qcow2 mix.qcow2 out.qcow2
    conv "-S $S small" fmt=qcow2 -- -S $S -O qcow2 small.qcow2 out.qcow2
    conv "-S $S raw" -- -S $S -f raw raw.img out.raw
done
conv "-S 0 chain" fmt=qcow2 -- -S 0 -O qcow2 top.qcow2 out.qcow2

# -o variations
for o in cluster_size=4k cluster_size=2M compat=0.10 \
         compression_type=zstd extended_l2=on refcount_bits=1 \
         lazy_refcounts=on preallocation=metadata preallocation=falloc \
         preallocation=full "cluster_size=16k,extended_l2=on" \
         "cluster_size=512" "size=1M"; do
    conv "-o $o" fmt=qcow2 -- -O qcow2 -o "$o" mix.qcow2 out.qcow2
done
conv "-o raw prealloc" -- -O raw -o preallocation=full small.qcow2 out.raw
conv "-o twice" fmt=qcow2 -- -O qcow2 -o cluster_size=4k -o compat=0.10 \
    small.qcow2 out.qcow2

# Compression
for ct in zlib zstd; do
    for s in mix small tail comp-zlib comp-zstd ext; do
        conv "-c $ct $s" fmt=qcow2 -- -c -O qcow2 -o compression_type=$ct \
            $s.qcow2 out.qcow2
    done
    conv "-c $ct raw" fmt=qcow2 -- -c -f raw -O qcow2 \
        -o compression_type=$ct raw.img out.qcow2
    conv "-c $ct 4k" fmt=qcow2 -- -c -O qcow2 \
        -o compression_type=$ct,cluster_size=4k mix.qcow2 out.qcow2
    conv "-c $ct chain" fmt=qcow2 -- -c -O qcow2 -o compression_type=$ct \
        top.qcow2 out.qcow2
done
for o in extended_l2=on cluster_size=2M cluster_size=512 refcount_bits=1 \
         refcount_bits=64 compat=0.10 lazy_refcounts=on; do
    conv "-c -o $o" fmt=qcow2 -- -c -O qcow2 -o $o mix.qcow2 out.qcow2
done
conv "-c data_file" fmt=qcow2 -- -c -O qcow2 -o data_file=out.data \
    mix.qcow2 out.qcow2
conv "data_file" fmt=qcow2 viaraw -- -O qcow2 -o data_file=out.data mix.qcow2 \
    out.qcow2
conv "data_file_raw" fmt=qcow2 viaraw -- -O qcow2 \
    -o data_file=out.data,data_file_raw=on mix.qcow2 out.qcow2
conv "-c -S 0" fmt=qcow2 -- -c -S 0 -O qcow2 small.qcow2 out.qcow2
conv "-c -W" fmt=qcow2 nomap -- -c -W -O qcow2 small.qcow2 out.qcow2
conv "-c -n fresh" fmt=qcow2 prep='$Q create -q -f qcow2 t.qcow2 8M' \
    out=t.qcow2 -- -c -n -O qcow2 small.qcow2 t.qcow2
conv "-c -n allocated" fmt=qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 8M && fill t.qcow2 "write 0 64k"' \
    out=t.qcow2 -- -c -n -O qcow2 small.qcow2 t.qcow2

# Backing files: -B, -o backing_file
conv "-B same chain" fmt=qcow2 -- -B mid.qcow2 -F qcow2 -O qcow2 \
    top.qcow2 out.qcow2
conv "-B base" fmt=qcow2 -- -B base.qcow2 -F qcow2 -O qcow2 \
    top.qcow2 out.qcow2
conv "-B short" fmt=qcow2 -- -B short.qcow2 -F qcow2 -O qcow2 \
    long.qcow2 out.qcow2
conv "-B -S 0" fmt=qcow2 -- -S 0 -B mid.qcow2 -F qcow2 -O qcow2 \
    top.qcow2 out.qcow2
conv "-B -c" fmt=qcow2 -- -c -B mid.qcow2 -F qcow2 -O qcow2 \
    top.qcow2 out.qcow2
conv "-o backing_file" fmt=qcow2 -- -O qcow2 \
    -o backing_file=mid.qcow2,backing_fmt=qcow2 top.qcow2 out.qcow2
conv "-B v2" fmt=qcow2 -- -B mid.qcow2 -F qcow2 -O qcow2 -o compat=0.10 \
    top.qcow2 out.qcow2
conv "-B nonexistent" fmt=qcow2 -- -B nonexist -F qcow2 -O qcow2 \
    top.qcow2 out.qcow2
conv "-B no -F" fmt=qcow2 -- -B mid.qcow2 -O qcow2 top.qcow2 out.qcow2
conv "-o backing_file no fmt" fmt=qcow2 -- -O qcow2 \
    -o backing_file=mid.qcow2 top.qcow2 out.qcow2
conv "-B raw" -- -B mid.qcow2 -F qcow2 -O raw top.qcow2 out.raw
conv "-B concat" fmt=qcow2 -- -B mid.qcow2 -F qcow2 -O qcow2 \
    top.qcow2 top.qcow2 out.qcow2

# Several sources
conv "concat qcow2" fmt=qcow2 -- -O qcow2 small.qcow2 mix.qcow2 tail.qcow2 \
    out.qcow2
conv "concat raw" -- -O raw odd.raw raw.img small.qcow2 out.raw
conv "concat -c" fmt=qcow2 -- -c -O qcow2 tail.qcow2 small.qcow2 out.qcow2
conv "concat -p" fmt=qcow2 -- -p -O qcow2 small.qcow2 mix.qcow2 out.qcow2

# Snapshots
conv "-l s1" fmt=qcow2 -- -l s1 -O qcow2 snap.qcow2 out.qcow2
conv "-l 2" fmt=qcow2 -- -l 2 -O qcow2 snap.qcow2 out.qcow2
conv "-l snapshot.name" fmt=qcow2 -- -l snapshot.name=s2 -O qcow2 \
    snap.qcow2 out.qcow2
conv "-l snapshot.id" fmt=qcow2 -- -l snapshot.id=1 -O qcow2 \
    snap.qcow2 out.qcow2
conv "-l id+name mismatch" fmt=qcow2 -- -l snapshot.id=1,snapshot.name=s2 \
    -O qcow2 snap.qcow2 out.qcow2
conv "-l missing" fmt=qcow2 -- -l nosuch -O qcow2 snap.qcow2 out.qcow2
conv "-l raw" fmt=qcow2 -- -l s1 -f raw -O qcow2 raw.img out.qcow2
conv "-l bad param" fmt=qcow2 -- -l snapshot.foo=1 -O qcow2 snap.qcow2 o
conv "-l smaller snapshot" fmt=qcow2 -- -l small -O qcow2 snapsize.qcow2 \
    out.qcow2
conv "-l larger snapshot" fmt=qcow2 -- -l big -O qcow2 snapsize.qcow2 \
    out.qcow2
conv "-l larger snapshot -c" fmt=qcow2 -- -c -l big -O qcow2 \
    snapsize.qcow2 out.qcow2
conv "-l smaller snapshot -S 0" fmt=qcow2 -- -S 0 -l small -O qcow2 \
    snapsize.qcow2 out.qcow2
conv "-l concat" fmt=qcow2 -- -l s1 -O qcow2 snap.qcow2 snap.qcow2 o
conv "-l opts concat" fmt=qcow2 -- -l snapshot.name=s1 -O qcow2 snap.qcow2 \
    snap.qcow2 out.qcow2

# -n, --target-is-zero, --target-image-opts
conv "-n qcow2" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M &&
          fill t.qcow2 "write -P 9 0 64M"' \
    -- -n -O qcow2 mix.qcow2 t.qcow2
conv "-n fresh" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M' -- -n -O qcow2 mix.qcow2 t.qcow2
conv "-n larger" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 100M' -- -n -O qcow2 mix.qcow2 t.qcow2
conv "-n smaller" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 1M' -- -n -O qcow2 mix.qcow2 t.qcow2
conv "-n raw" out=t.raw \
    prep='$Q create -q -f raw t.raw 64M' -- -n mix.qcow2 t.raw
conv "-n missing" -- -n -O qcow2 mix.qcow2 nothere.qcow2
conv "--target-is-zero" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M' \
    -- -n --target-is-zero -O qcow2 mix.qcow2 t.qcow2
conv "--target-is-zero backing" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M' \
    -- -n --target-is-zero -B mid.qcow2 -F qcow2 -O qcow2 top.qcow2 t.qcow2
conv "--target-image-opts" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M' \
    -- -n --target-image-opts mix.qcow2 driver=qcow2,file.filename=t.qcow2
conv "--target-image-opts -O" fmt=qcow2 out=t.qcow2 \
    prep='$Q create -q -f qcow2 t.qcow2 64M' -- -n --target-image-opts \
    -O qcow2 mix.qcow2 driver=qcow2,file.filename=t.qcow2

# Progress and quiet (stdout not a terminal: 7.2 still prints)
conv "-p" fmt=qcow2 -- -p -O qcow2 mix.qcow2 out.qcow2
conv "-p raw" -- -p -f raw raw.img out.raw
conv "-p empty" fmt=qcow2 -- -p -O qcow2 empty.qcow2 out.qcow2
conv "-p -S 0" fmt=qcow2 -- -p -S 0 -O qcow2 small.qcow2 out.qcow2
conv "-p -c" fmt=qcow2 -- -p -c -O qcow2 small.qcow2 out.qcow2
conv "-p -q" fmt=qcow2 -- -p -q -O qcow2 mix.qcow2 out.qcow2
conv "-p error" -- -p nothere out.raw
conv "-p bad -o" -- -p -O qcow2 -o foo=1 mix.qcow2 out.qcow2

conv "--salvage bad cluster" -- --salvage bad.qcow2 out.raw
conv "--salvage -q bad cluster" -- --salvage -q bad.qcow2 out.raw
conv "bad cluster" -- bad.qcow2 out.raw

# Progress on a terminal (script(1) provides one)
if command -v script >/dev/null; then
    for d in ref ours; do
        bin=$ref
        [ $d = ours ] && bin=$ours
        (cd "$work/$d" && rm -f out.qcow2 &&
         script -qc "$bin convert -p -O qcow2 mix.qcow2 out.qcow2" \
             /dev/null >"$work/$d.tty" 2>&1)
    done
    if cmp -s "$work/ref.tty" "$work/ours.tty"; then
        ok
    else
        bad "-p on a terminal: output differs"
    fi
fi

# Accepted options without effect here
conv "-t -T" fmt=qcow2 -- -t none -T writeback -O qcow2 mix.qcow2 o.qcow2
conv "-m -r" fmt=qcow2 -- -m 16 -r 1M -O qcow2 mix.qcow2 o.qcow2
# -W: 7.2 writes in whatever order its coroutines finish
conv "-W" fmt=qcow2 nomap -- -W -O qcow2 mix.qcow2 o.qcow2
conv "-m hex" fmt=qcow2 -- -m 0x8 -O qcow2 mix.qcow2 o.qcow2
conv "--salvage" fmt=qcow2 -- --salvage -O qcow2 mix.qcow2 o.qcow2
conv "--object" fmt=qcow2 -- --object secret,id=s0,data=x -O qcow2 \
    mix.qcow2 o.qcow2
conv "-C" fmt=qcow2 -- -C -O qcow2 mix.qcow2 o.qcow2
conv "-C raw" -- -C -f raw raw.img o.raw
conv "-C chain" fmt=qcow2 -- -C -O qcow2 top.qcow2 o.qcow2

# Bitmaps (the checks before any copy)
conv "--skip-broken-bitmaps alone" -- --skip-broken-bitmaps mix.qcow2 o
conv "--bitmaps raw target" -- --bitmaps mix.qcow2 o.raw
conv "--bitmaps concat" -- --bitmaps -O qcow2 mix.qcow2 mix.qcow2 o
conv "--bitmaps raw source" -- --bitmaps -f raw -O qcow2 raw.img o
conv "--bitmaps none" fmt=qcow2 -- --bitmaps -O qcow2 mix.qcow2 o.qcow2
conv "--bitmaps raw target with bitmaps" -- --bitmaps bm.qcow2 o.raw
conv "--bitmaps inconsistent" -- --bitmaps -O qcow2 bm-broken.qcow2 o.qcow2
conv "--skip-broken-bitmaps, only broken" fmt=qcow2 -- --bitmaps \
    --skip-broken-bitmaps -O qcow2 bm-broken.qcow2 o.qcow2
conv "--bitmaps with a bitmap" fmt=qcow2 -- --bitmaps -O qcow2 bm.qcow2 \
    o.qcow2
conv "--bitmaps -c with a bitmap" fmt=qcow2 -- --bitmaps -c -O qcow2 \
    bm.qcow2 o.qcow2

# Usage and option errors
conv "no args" --
conv "one arg" -- mix.qcow2
conv "missing source" -- nothere out
conv "unknown -O" -- -O foo mix.qcow2 out
conv "unknown -f" -- -f foo mix.qcow2 out
conv "-n with -o" -- -n -o cluster_size=4k -O qcow2 mix.qcow2 out
conv "-c raw" -- -c -O raw mix.qcow2 out
conv "-c -n raw" out=t.raw prep='$Q create -q -f raw t.raw 64M' \
    -- -c -n -O raw mix.qcow2 t.raw
conv "-c prealloc" -- -c -o preallocation=metadata -O qcow2 mix.qcow2 out
conv "-c encrypt" -- -c -o encryption=on -O qcow2 mix.qcow2 out
conv "-C -c" -- -C -c -O qcow2 mix.qcow2 out
conv "-C -S" -- -C -S 8k -O qcow2 mix.qcow2 out
conv "-C --salvage" -- -C --salvage -O qcow2 mix.qcow2 out
for S in foo -1 100 17M 99999999999999999999 1.5k; do
    conv "-S $S" -- -S "$S" mix.qcow2 out
done
for m in 0 17 x ' 8' '8 ' -1; do
    conv "-m '$m'" fmt=qcow2 -- -m "$m" -O qcow2 mix.qcow2 out.qcow2
done
for r in foo -1 99999999999999999999; do
    conv "-r $r" -- -r "$r" mix.qcow2 out
done
conv "-t bad" fmt=qcow2 -- -t foo -O qcow2 mix.qcow2 out.qcow2
conv "-T bad" -- -T foo -O qcow2 mix.qcow2 out.qcow2
conv "-o bad" -- -o foo=bar -O qcow2 mix.qcow2 out
conv "-o bad value" -- -o cluster_size=3k -O qcow2 mix.qcow2 out
conv "-o empty element" -- -o cluster_size=4k, -O qcow2 mix.qcow2 out
conv "-o help" -- -o help -O qcow2
conv "-o help raw" -- -o help
conv "-o ? with files" -- -O qcow2 -o '?' mix.qcow2 out
conv "-o help tgt-opts" -- -o help --target-image-opts
conv "--target-is-zero without -n" -- --target-is-zero -O qcow2 mix.qcow2 o
conv "--target-image-opts without -n" -- --target-image-opts mix.qcow2 o
conv "--image-opts with -f" -- --image-opts -f qcow2 \
    driver=qcow2,file.filename=mix.qcow2 o
conv "unknown option" -- --foo mix.qcow2 o
conv "missing argument" -- mix.qcow2 o -O
conv "bad --object" -- --object foo mix.qcow2 o

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
