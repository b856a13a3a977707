#!/bin/bash
# qemu-img create: ours against the system's 7.2.  Each case runs both
# tools in twin directories with the same arguments; stdout, stderr
# (directory names replaced), the exit status, the files left behind and
# their bytes (cmp) must be equal.  The matrix covers cluster sizes,
# refcount widths, compat levels, lazy refcounts, extended L2, both
# compression types, sizes from 0 to the L1 limit, backing files
# (relative, absolute, with and without -F, -u), data files, every
# preallocation mode, raw images, -o help, size syntax and the errors.
# Prints one line per failure and ends with "N passed, N failed".
#
#   QEMU_IMG       ours (default build/qemu-img)
#   REF_QEMU_IMG   reference (default /usr/bin/qemu-img)
#   KEEP=1         keep the work directory (its path is printed)
#   QUICK=1        skip the slowest (huge-image) cases
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ours=$(realpath "${QEMU_IMG:-$top/build/qemu-img}")
ref=${REF_QEMU_IMG:-/usr/bin/qemu-img}
work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
    echo "work directory: $work"
else
    trap 'rm -rf "$work"' EXIT
fi
pass=0 fail=0

# Fixtures both sides start from: backing files of each format.
setup() {
    local d=$1
    rm -rf "$d"
    mkdir -p "$d/sub"
    (cd "$d" &&
     "$ref" create -q -f qcow2 base.qcow2 3M &&
     "$ref" create -q -f raw base.raw 2M &&
     "$ref" create -q -f qcow2 sub/base.qcow2 5M &&
     echo hello > existing.img) || exit 1
}

# t ARGS...: one create command, compared in full.
t() {
    local name="$*" r o
    setup "$work/ref"
    setup "$work/ours"
    (cd "$work/ref" && "$ref" create "$@" >../ref.out 2>../ref.err)
    r=$?
    (cd "$work/ours" && "$ours" create "$@" >../ours.out 2>../ours.err)
    o=$?
    local bad=
    [ $r = $o ] || bad="exit $o, expected $r"
    cmp -s "$work/ref.out" "$work/ours.out" || bad="$bad; stdout differs"
    cmp -s "$work/ref.err" "$work/ours.err" || bad="$bad; stderr differs"
    local lr lo
    lr=$(cd "$work/ref" && find . -type f | sort)
    lo=$(cd "$work/ours" && find . -type f | sort)
    if [ "$lr" != "$lo" ]; then
        bad="$bad; files differ"
    else
        local f
        for f in $lr; do
            python3 "$top/tests/interop/sparse-cmp.py" "$work/ref/$f" \
                "$work/ours/$f" || bad="$bad; $f differs"
        done
    fi
    if [ -n "$bad" ]; then
        echo "FAIL create $name: ${bad#; }"
        if [ -n "${VERBOSE:-}" ]; then
            diff "$work/ref.out" "$work/ours.out"
            diff "$work/ref.err" "$work/ours.err"
        fi
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

# --- layouts ------------------------------------------------------------
for cs in 512 1k 2k 4k 8k 16k 32k 64k 128k 256k 512k 1M 2M; do
    for size in 0 1 512 1000 64k 1M 5M 1G 100G; do
        t -q -f qcow2 -o cluster_size=$cs img.qcow2 $size
    done
done
for rb in 1 2 4 8 16 32 64; do
    for cs in 512 4k 64k; do
        for size in 1M 600M 10G; do
            t -q -f qcow2 -o cluster_size=$cs,refcount_bits=$rb img.qcow2 $size
        done
    done
done
for compat in 0.10 v2 1.1 v3; do
    t -f qcow2 -o compat=$compat img.qcow2 64M
    t -f qcow2 -o compat=$compat,lazy_refcounts=on img.qcow2 64M
    t -f qcow2 -o compat=$compat,extended_l2=on img.qcow2 64M
    t -f qcow2 -o compat=$compat,compression_type=zstd img.qcow2 64M
    t -f qcow2 -o compat=$compat,refcount_bits=8 img.qcow2 64M
    t -f qcow2 -o compat=$compat,data_file=d.raw img.qcow2 64M
done
for ext in on off; do
    for cs in 16k 64k 2M; do
        t -f qcow2 -o extended_l2=$ext,cluster_size=$cs img.qcow2 300M
    done
done
t -f qcow2 -o compression_type=zlib img.qcow2 1M
t -f qcow2 -o lazy_refcounts=on,extended_l2=on,compression_type=zstd \
    img.qcow2 1M
# Sizes near the L1 limit (the refcount table has to grow).
if [ -z "${QUICK:-}" ]; then
    t -q -f qcow2 -o cluster_size=512 img.qcow2 128G
    t -q -f qcow2 -o cluster_size=512 img.qcow2 129G
    t -q -f qcow2 -o cluster_size=512,refcount_bits=64 img.qcow2 8G
    t -q -f qcow2 -o cluster_size=512,refcount_bits=64 img.qcow2 40G
    t -q -f qcow2 -o cluster_size=512,refcount_bits=64 img.qcow2 128G
    t -q -f qcow2 -o cluster_size=1k,refcount_bits=64 img.qcow2 1T
    t -q -f qcow2 -o cluster_size=2M img.qcow2 9223372036854775807
    t -q -f qcow2 -o cluster_size=2M img.qcow2 2E
    t -q -f qcow2 img.qcow2 4P
fi

# --- backing files and data files ---------------------------------------
t -f qcow2 -b base.qcow2 -F qcow2 img.qcow2
t -f qcow2 -b base.qcow2 -F qcow2 img.qcow2 7M
t -f qcow2 -b base.raw -F raw img.qcow2
t -f qcow2 -b base.raw img.qcow2
t -f qcow2 -b base.qcow2 img.qcow2
t -f qcow2 -b base.qcow2 -F qcow2 sub/img.qcow2
t -f qcow2 -b base.qcow2 -F qcow2 -o cluster_size=4k sub/img.qcow2
t -f qcow2 -b nonexistent -F qcow2 img.qcow2
t -f qcow2 -b nonexistent -F qcow2 sub/img.qcow2 1M
t -f qcow2 -u -b nonexistent -F qcow2 img.qcow2 1M
t -f qcow2 -u -b nonexistent img.qcow2 1M
t -f qcow2 -u -b nonexistent -F raw -o compat=0.10 img.qcow2 1M
t -f qcow2 -b base.raw -F qcow2 img.qcow2
t -f qcow2 -b base.raw -F foo img.qcow2
t -f qcow2 -b base.raw -F file img.qcow2
t -f qcow2 -b img.qcow2 -F qcow2 img.qcow2 1M
t -f qcow2 -b "" img.qcow2 1M
t -f qcow2 -F qcow2 img.qcow2 1M
t -f qcow2 -o backing_file=base.raw,backing_fmt=raw img.qcow2
t -f qcow2 -o backing_file=base.raw -F raw img.qcow2
t -f qcow2 -b base.raw -F raw -o backing_file=nonexistent img.qcow2
t -f raw -b base.raw -F raw img.raw 1M
t -f qcow2 -o data_file=d.raw img.qcow2 1M
t -f qcow2 -o data_file=d.raw,data_file_raw=on img.qcow2 5M
t -f qcow2 -o data_file=d.raw,data_file_raw=on,extended_l2=on img.qcow2 1M
t -f qcow2 -o data_file=d.raw,data_file_raw=on,cluster_size=4k img.qcow2 7M
t -f qcow2 -o data_file=d.raw -b base.qcow2 -F qcow2 img.qcow2
t -f qcow2 -o data_file=d.raw,data_file_raw=on -b base.qcow2 -F qcow2 \
    img.qcow2
t -f qcow2 -o data_file_raw=on img.qcow2 1M
t -f qcow2 -o data_file=/nonexistent/d.raw img.qcow2 1M
t -f qcow2 -o data_file=existing.img img.qcow2 1M

# --- preallocation ------------------------------------------------------
for p in off metadata falloc full; do
    for cs in 512 4k 64k 2M; do
        for size in 0 1000 5M 100M; do
            t -q -f qcow2 -o preallocation=$p,cluster_size=$cs img.qcow2 $size
        done
    done
    t -f qcow2 -o preallocation=$p,extended_l2=on img.qcow2 3M
    t -f qcow2 -o preallocation=$p,refcount_bits=1,cluster_size=512 \
        img.qcow2 3M
    t -f qcow2 -o preallocation=$p,data_file=d.raw img.qcow2 3M
    t -f qcow2 -o preallocation=$p,data_file=d.raw,data_file_raw=on \
        img.qcow2 3M
    t -f qcow2 -o preallocation=$p -b base.qcow2 -F qcow2 img.qcow2
    t -f qcow2 -o preallocation=$p,extended_l2=on -b base.qcow2 -F qcow2 \
        img.qcow2
    t -f raw -o preallocation=$p img.raw 1M
done
t -f qcow2 -o preallocation=bogus img.qcow2 1M
t -f raw -o preallocation=bogus img.raw 1M

# --- raw ----------------------------------------------------------------
t img.raw 1M
t -f raw img.raw 0
t -f raw img.raw 513
t -f raw existing.img 1k
t -f file img.raw 1M
t -f raw -o nocow=on,extent_size_hint=1M img.raw 1M
t -f raw /nonexistent/img.raw 1M
t -f raw "" 1M

# --- option syntax, help, sizes -----------------------------------------
for o in help '?' 'cluster_size=4k,help'; do
    t -f qcow2 -o "$o"
    t -f qcow2 -o "$o" img.qcow2
    t -f raw -o "$o"
    t -f raw -o "$o" img.raw
done
t -o help
t -f qcow2 -o help -o cluster_size=4k
t -f qcow2 -o cluster_size=4k -o cluster_size=8k img.qcow2 1M
t -f qcow2 -o cluster_size=4k -o lazy_refcounts=on img.qcow2 1M
for o in lazy_refcounts=true lazy_refcounts=yes lazy_refcounts=maybe \
         refcount_bits=016 refcount_bits=0x10 refcount_bits=16k \
         refcount_bits=0 refcount_bits=3 refcount_bits=128 \
         cluster_size=0x1000 cluster_size=4.5k cluster_size=1.5 \
         cluster_size=0 cluster_size=3k cluster_size=4M cluster_size \
         cluster_size=18446744073709551615 cluster_size=18446744073709551616 \
         compat=1.1 compat=v4 compression_type=lz4 size=2M foo=bar '=4' \
         encrypt.iter-time=abc encrypt.format=foo encryption=off \
         'backing_file=a b,,c' extended_l2=on,cluster_size=8k \
         compat=0.10,lazy_refcounts=on compat=0.10,extended_l2=on \
         compat=0.10,compression_type=zstd compat=0.10,refcount_bits=8 \
         compat=0.10,data_file=x backing_fmt=raw \
         backing_fmt=raw,cluster_size=3k data_file_raw=on,backing_fmt=raw \
         cluster_size=3k,data_file=x data_file=x,refcount_bits=3 \
         compat=v4,preallocation=bogus,compression_type=lz4 \
         encryption=on,encrypt.format=luks nocow=on,extent_size_hint=1M \
         ',cluster_size=4k' 'cluster_size=4k,' ''; do
    t -f qcow2 -o "$o" existing.img 1M
done
for s in 010 0x10 0x10k 0x10b 1e3 1.k .5k 1.5b 0.5k 1.0 1.0b 1.7k 1.5M \
         1.1111111111111111111111k 1.99999999999999999999k 7.9E 8191P \
         8192P 8E 9223372036854775807 9223372036854775808 1kb 1K 1m 1t 1p \
         1e 00 +1 ' 1' '1 ' abc '' 1x 1.5 0x1.8 1.5e 1.k5; do
    t -f raw img.raw "$s"
done
t -f qcow2 img.qcow2
t -f foo img 1M
t -f qcow2 img.qcow2 1M 2M
t
t -f qcow2
t -f qcow2 -b
t -f qcow2 -x img.qcow2 1M
t -q -f qcow2 img.qcow2 1M
t -f qcow2 -o encrypt.format=luks,cluster_size=3k img.qcow2 1M

echo "$pass passed, $fail failed"
[ $fail = 0 ]
