#!/bin/bash
# qemu-img map: ours against the system's 7.2, byte for byte (stdout,
# stderr, exit status), run from the image directory.  Images: the
# shared corpus (make-corpus.sh) plus map-specific ones built here with
# the reference tools only.  Every image is mapped in both formats,
# whole and with -s/-l windows (odd values included), through -f and
# --image-opts, and through an absolute path; then the option errors.
# Prints one line per failure and ends with "N passed, N failed".
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
export REF_QEMU_IMG=$ref REF_QEMU_IO=$io
work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
    echo "work directory: $work"
else
    trap 'rm -rf "$work"' EXIT
fi
pass=0 fail=0

if ! "$top/tests/interop/make-corpus.sh" "$work" >"$work/corpus.log" 2>&1
then
    echo "FAIL corpus: $(tail -3 "$work/corpus.log")"
    echo "0 passed, 1 failed"
    exit 1
fi
cd "$work"

# --- map-specific images (reference tools only) -----------------------

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

poke() {   # poke FILE OFFSET VALUE64: big-endian 64-bit store
    python3 - "$@" <<'EOF'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2], 0))
    f.write(struct.pack('>Q', int(sys.argv[3], 0)))
EOF
}

l2_of() {  # l2_of FILE: offset of the first L2 table
    python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read(1 << 20)
l1 = struct.unpack('>Q', d[40:48])[0]
with open(sys.argv[1], 'rb') as f:
    f.seek(l1)
    print(struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00)
EOF
}

M=map-manifest
: > $M
add() { echo "$1 $2" >> $M; }

mk -f qcow2 m-zero.qcow2 8M
w m-zero.qcow2 qcow2 'write -P 1 0 256k' 'write -z 64k 64k' \
    'write -z -u 128k 64k' 'write -z 1M 128k' 'write -P 2 2M 4k' \
    'write -z 2M 4k' 'discard 3M 64k' 'write -P 3 4M 192k' \
    'discard 4M 64k' 'write -z 4200k 1k'
add m-zero.qcow2 qcow2

mk -f qcow2 -o compat=0.10 m-v2.qcow2 4M
w m-v2.qcow2 qcow2 'write -P 1 0 128k' 'write -z 64k 64k' \
    'write -P 2 1M 4k' 'discard 0 64k'
add m-v2.qcow2 qcow2

for cs in 512 2M; do
    mk -f qcow2 -o cluster_size=$cs m-cs$cs.qcow2 16M
    w m-cs$cs.qcow2 qcow2 'write -P 1 0 3k' 'write -P 2 5000 10000' \
        'write -z 1M 1536' 'write -P 3 4M 2M' 'write -z -u 5M 512'
    add m-cs$cs.qcow2 qcow2
done

# Several L2 tables: 512-byte clusters map 32 KiB per table.
mk -f qcow2 -o cluster_size=512 m-l2s.qcow2 1M
w m-l2s.qcow2 qcow2 'write -P 1 30k 4k' 'write -P 2 100k 64k' \
    'write -P 3 500k 20k'
add m-l2s.qcow2 qcow2

for cs in 64k 32k; do
    mk -f qcow2 -o extended_l2=on,cluster_size=$cs m-ext$cs.qcow2 4M
    w m-ext$cs.qcow2 qcow2 'write -P 1 0 2k' 'write -P 2 5k 3k' \
        'write -z 16k 4k' 'write -P 3 64k 64k' 'write -z 70k 2k' \
        'write -P 4 1M 1k' 'discard 64k 64k' 'write -P 5 2M 100k' \
        'write -z -u 2M 32k' 'write -P 6 3M 1k' 'write -P 6 3073k 1k'
    add m-ext$cs.qcow2 qcow2
done
mk -f qcow2 -o extended_l2=on m-ext-base.qcow2 4M
w m-ext-base.qcow2 qcow2 'write -P 9 0 4M'
mk -f qcow2 -o extended_l2=on -b m-ext-base.qcow2 -F qcow2 m-ext-top.qcow2
w m-ext-top.qcow2 qcow2 'write -P 1 2k 2k' 'write -z 64k 2k' \
    'write -P 2 1M 100k'
add m-ext-top.qcow2 qcow2

# Backing chains: three levels, the lower ones shorter.
mk -f qcow2 m-base.qcow2 2M
w m-base.qcow2 qcow2 'write -P 1 0 1M' 'write -z 1536k 64k'
mk -f qcow2 -b m-base.qcow2 -F qcow2 m-mid.qcow2 5M
w m-mid.qcow2 qcow2 'write -P 2 512k 1M' 'write -z 3M 64k' \
    'write -P 3 4M 64k'
mk -f qcow2 -b m-mid.qcow2 -F qcow2 m-top.qcow2 9M
w m-top.qcow2 qcow2 'write -P 4 64k 64k' 'write -z -u 256k 64k' \
    'discard 4M 64k' 'write -P 5 8M 64k'
add m-mid.qcow2 qcow2
add m-top.qcow2 qcow2
mk -f raw m-rawbase.raw 1000000
w m-rawbase.raw raw 'write -P 7 0 300k'
mk -f qcow2 -b m-rawbase.raw -F raw m-over-raw.qcow2 3M
w m-over-raw.qcow2 qcow2 'write -P 8 64k 64k'
add m-over-raw.qcow2 qcow2
# A backing file of unaligned size (zeros past its sector-rounded end).
mk -f qcow2 -b odd-size.raw -F raw m-over-odd.qcow2 2M
add m-over-odd.qcow2 qcow2

# Compressed clusters, alone and over a backing file.
mk -f qcow2 m-cplain.qcow2 4M
w m-cplain.qcow2 qcow2 'write -P 1 0 1M' 'write -z 1M 64k' \
    'write -P 2 3M 64k'
"$ref" convert -c -O qcow2 m-cplain.qcow2 m-comp.qcow2
add m-comp.qcow2 qcow2
mk -f qcow2 -b m-comp.qcow2 -F qcow2 m-over-comp.qcow2
w m-over-comp.qcow2 qcow2 'write -P 3 128k 64k'
add m-over-comp.qcow2 qcow2

# External data files, raw and not.
mk -f qcow2 -o data_file=m-df.data m-df.qcow2 4M
w m-df.qcow2 qcow2 'write -P 1 0 128k' 'write -z 1M 64k' \
    'write -P 2 2M 4k' 'discard 0 64k'
add m-df.qcow2 qcow2
mk -f qcow2 -o data_file=m-dfr.data,data_file_raw=on m-dfr.qcow2 4M
w m-dfr.qcow2 qcow2 'write -P 1 64k 128k' 'write -z 1M 64k' \
    'write -P 2 3M 4k'
add m-dfr.qcow2 qcow2

# Raw files with holes, of unaligned sizes.
for sz in 1000000 4194303 513; do
    mk -f raw m-sparse-$sz.raw $sz
    w m-sparse-$sz.raw raw 'write -P 1 0 512'
    [ $sz -gt 600000 ] && w m-sparse-$sz.raw raw 'write -P 2 300k 100k' \
        "write -P 3 $((sz - 10)) 10"
    add m-sparse-$sz.raw raw
done
printf 'abc' > m-tiny.raw
add m-tiny.raw raw

# qcow2 sizes that are not a multiple of the cluster size.
mk -f qcow2 m-odd.qcow2 1000001
w m-odd.qcow2 qcow2 'write -P 1 900k 76k'
add m-odd.qcow2 qcow2

# Preallocated metadata with a few real writes (holes in data).
mk -f qcow2 -o preallocation=metadata m-pmeta.qcow2 64M
w m-pmeta.qcow2 qcow2 'write -P 1 1M 64k' 'write -z 2M 64k' \
    'write -P 2 60M 4M'
add m-pmeta.qcow2 qcow2

# Corrupt entries: 7.2's messages and exit status.
corrupt() {  # corrupt NAME L2-INDEX VALUE [OPTS]
    local f=m-bad-$1.qcow2
    mk -f qcow2 ${4:+-o $4} $f 4M
    w $f qcow2 'write -P 1 0 256k'
    poke $f $(( $(l2_of $f) + $2 * ${5:-8} )) $3
    add $f qcow2
}
corrupt unaligned 1 0x8000000000090200
corrupt past-eof 2 0x8000000100000000
corrupt huge 0 0x80fffffffffff000
corrupt zero-v2 1 0x1 compat=0.10
corrupt reserved 1 0x8000000000050002
corrupt noncontig 3 0x8000000000050000
corrupt comp-df 1 0x4000000000050000 data_file=m-bad-comp-df.data
corrupt df-offset 1 0x8000000000000000 data_file=m-bad-df-offset.data
corrupt ext-invalid 1 0x8000000000060000 extended_l2=on 16
poke m-bad-ext-invalid.qcow2 $(( $(l2_of m-bad-ext-invalid.qcow2) + 24 )) \
    0x0000000100000001
corrupt ext-unalloc 2 0 extended_l2=on 16
poke m-bad-ext-unalloc.qcow2 $(( $(l2_of m-bad-ext-unalloc.qcow2) + 40 )) \
    0x0000000000000003
mk -f qcow2 m-bad-l1.qcow2 4M
w m-bad-l1.qcow2 qcow2 'write -P 1 0 64k'
poke m-bad-l1.qcow2 $(python3 -c "
import struct; print(struct.unpack('>Q', open('m-bad-l1.qcow2','rb').read()[40:48])[0])") \
    0x8000000000030200
add m-bad-l1.qcow2 qcow2

# Fixed-seed mutations of L1, L2, refcount table and refcount block
# entries (flipped bits, random words, compressed flags, stray offsets).
python3 - <<'EOF' || { echo "FAIL setup: mutations"; exit 1; }
import random, struct
random.seed(20261121)
srcs = ['m-zero.qcow2', 'm-ext64k.qcow2', 'm-cs512.qcow2', 'm-v2.qcow2',
        'm-comp.qcow2', 'm-pmeta.qcow2']
def be64(d, off):
    return struct.unpack('>Q', d[off:off + 8])[0]
with open('map-mutations', 'w') as listing:
    for i in range(60):
        src = srcs[i % len(srcs)]
        d = bytearray(open(src, 'rb').read())
        l1 = be64(d, 40)
        rt = be64(d, 48)
        bases = {'l1': l1, 'l2': be64(d, l1) & 0x00fffffffffffe00,
                 'rt': rt, 'rb': be64(d, rt) & ~0x1ff}
        for _ in range(random.randint(1, 4)):
            where = random.choice(['l2', 'l2', 'l2', 'l1', 'rt', 'rb'])
            off = bases[where] + 8 * random.randint(0, 63)
            v = be64(d, off)
            kind = random.randint(0, 5)
            if kind == 0:
                v ^= 1 << random.randint(0, 63)
            elif kind == 1:
                v = random.getrandbits(64)
            elif kind == 2:
                v = (v & ~0xffffff) | (random.getrandbits(24) & ~0x1ff)
            elif kind == 3:
                v |= 1 << 62
            elif kind == 4:
                v = (1 << 63) | (random.getrandbits(20) << 16)
            else:
                v ^= random.getrandbits(32) << 32
            d[off:off + 8] = struct.pack('>Q', v)
        name = 'm-mut-%02d.qcow2' % i
        open(name, 'wb').write(d)
        listing.write(name + '\n')
EOF

# --- the comparison ---------------------------------------------------

run_both() {  # run_both LABEL ARGS...
    local label=$1; shift
    "$ref" map "$@" >ref.out 2>ref.err; local rrc=$?
    "$ours" map "$@" >our.out 2>our.err; local orc=$?
    if [ $rrc -ne $orc ]; then
        echo "FAIL $label: exit $orc, 7.2 exits $rrc"
        fail=$((fail + 1))
    elif ! cmp -s ref.out our.out; then
        echo "FAIL $label: stdout differs: $(diff ref.out our.out | head -3 | tr '\n' ' ')"
        fail=$((fail + 1))
    elif ! cmp -s ref.err our.err; then
        echo "FAIL $label: stderr differs: $(diff ref.err our.err | head -3 | tr '\n' ' ')"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

windows=("" "-s 4096 -l 100000" "-s 1 -l 65535" "--start-offset=65537"
         "--max-length=3M" "-s 1000000" "-l 0" "-s 511 -l 513")

# LUKS images need a key to be opened for I/O.
skip_image() {
    case $1 in luks.qcow2|big-4t.*) return 0 ;; esac
    return 1
}

while read -r path fmt tags; do
    skip_image "$path" && continue
    for win in "${windows[@]}"; do
        for out in human json; do
            # shellcheck disable=SC2086
            run_both "$path $out $win" --output=$out $win "$path"
        done
    done
    run_both "$path -f" -f "$fmt" "$path"
    run_both "$path -U json" -U --output=json "$path"
    run_both "$path image-opts" --output=json --image-opts \
        "driver=$fmt,file.filename=$path"
    case " $tags " in *" abs "*)
        run_both "$path abs" --output=json "$work/$path"
        run_both "$path abs human" "$work/$path" ;;
    esac
done < <(cat MANIFEST $M)

while read -r path; do
    run_both "$path human" "$path"
    run_both "$path json" --output=json "$path"
done < map-mutations

# Large sparse images: one window each, not the whole 4 TiB.
for f in big-4t.qcow2 big-4t.raw; do
    run_both "$f window" --output=json -s 3T -l 1G "$f"
    run_both "$f window human" -s 2T -l 2T "$f"
done

# Encrypted: data without host offsets (the human format refuses).
if [ -f luks.qcow2 ]; then
    for out in human json; do
        run_both "luks.qcow2 $out" --output=$out \
            --object secret,id=sec0,data=123456 --image-opts \
            driver=qcow2,file.filename=luks.qcow2,encrypt.key-secret=sec0
    done
    run_both "luks.qcow2 without key" luks.qcow2
fi

# Option handling.
while read -r args; do
    # shellcheck disable=SC2086
    run_both "options: $args" $args
done <<'EOF'

-s
-l
--output
-s -1 m-zero.qcow2
-s 1x m-zero.qcow2
-l abc m-zero.qcow2
-l -5 m-zero.qcow2
-s 8E m-zero.qcow2
-l 100000000000000000000 m-zero.qcow2
-s 9223372036854775807 m-zero.qcow2
-s 9223372036854775807 -l 10 m-zero.qcow2
--output=json -s 9223372036854775807 -l 10 m-zero.qcow2
-s 0x10 m-zero.qcow2
-s 1.5k m-zero.qcow2
-l 1b m-zero.qcow2
-s 100M m-zero.qcow2
--output=json -s 100M m-zero.qcow2
--output=xml m-zero.qcow2
--output=xml
--output json m-zero.qcow2
m-zero.qcow2 extra
-x m-zero.qcow2
--foo m-zero.qcow2
-f qcow3 m-zero.qcow2
-f raw m-zero.qcow2
--output=json -f raw m-zero.qcow2
-f file m-zero.qcow2
--output=json -f file m-sparse-1000000.raw
does-not-exist.qcow2
--image-opts -f qcow2 m-zero.qcow2
--object foo,id=x m-zero.qcow2
--format=qcow2 --force-share m-zero.qcow2
--output=json json:{"driver":"qcow2","file":{"driver":"file","filename":"m-top.qcow2"}}
json:{"driver":"qcow2","file":{"driver":"file","filename":"m-top.qcow2"}}
EOF

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
