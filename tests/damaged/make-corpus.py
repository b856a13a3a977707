#!/usr/bin/env python3
"""Build the damaged-header corpus.

usage: make-corpus.py [--qemu-img PATH] OUTDIR

Fresh, valid fixtures are made with the reference qemu-img (env
REF_QEMU_IMG, default /usr/bin/qemu-img) in OUTDIR/fixtures/.  Every case
is a copy of one fixture with exactly one thing changed; cases are written
to OUTDIR/<name> and listed in OUTDIR/cases.tsv as
"name<TAB>fixture<TAB>description".
"""

import argparse
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corrupt import (Qcow2File, feature_table_payload, bitmaps_payload,  # noqa: E402
                     EXT_BACKING_FORMAT, EXT_FEATURE_TABLE, EXT_BITMAPS,
                     EXT_DATA_FILE, EXT_CRYPTO)

MiB = 1 << 20
UNKNOWN_EXT = 0x12345678

# QEMU's default feature name table, rebuilt here so cases can extend it.
DEFAULT_FEATURES = [
    (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"),
    (0, 3, "compression type"), (0, 4, "extended L2 entries"),
    (1, 0, "lazy refcounts"), (2, 0, "bitmaps"), (2, 1, "raw external data"),
]


def make_fixtures(qimg, fixdir):
    os.makedirs(fixdir, exist_ok=True)

    def run(*args):
        p = subprocess.run([qimg] + list(args), cwd=fixdir,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode("utf-8", "replace"))
            raise subprocess.CalledProcessError(p.returncode, [qimg] + list(args))

    run("create", "-q", "-f", "qcow2", "v3", "64M")
    run("create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2", "64M")
    run("create", "-q", "-f", "qcow2", "base", "64M")
    run("create", "-q", "-f", "qcow2", "-b", "base", "-F", "qcow2",
        "backing", "64M")
    run("create", "-q", "-f", "qcow2", "bitmap", "64M")
    run("bitmap", "--add", "bitmap", "bitmap0")
    run("create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "el2", "64M")
    run("create", "-q", "-f", "qcow2", "-o", "compression_type=zstd",
        "zstd", "64M")
    run("create", "-q", "-f", "qcow2", "snap", "64M")
    run("snapshot", "-c", "snap0", "snap")
    run("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "c4k", "64M")
    run("create", "-q", "-f", "qcow2", "-o", "data_file=data.raw",
        "datafile", "64M")
    # LUKS: a short PBKDF time keeps this fast; the PBKDF benchmark can
    # fail spuriously ("Unable to get accurate CPU usage"), so retry
    for attempt in range(5):
        try:
            run("create", "-q", "--object", "secret,id=sec0,data=123456",
                "-f", "qcow2", "-o",
                "encrypt.format=luks,encrypt.key-secret=sec0,"
                "encrypt.iter-time=50", "luks", "64M")
            break
        except subprocess.CalledProcessError:
            if attempt == 4:
                raise


# ---- mutation helpers (each returns a function of a Qcow2File) ----------
def setf(field, value):
    return lambda img: img.set_field(field, value)


def addf(field, delta):
    return lambda img: img.set_field(field, img.field(field) + delta)


def bit(kind, n, on=True):
    return lambda img: img.set_feature_bit(kind, n, on)


def poke(offset, raw):
    return lambda img: img.poke(offset, raw)


def truncate(n):
    return lambda img: img.truncate(n)


def ext_add(t, payload=b"", length=None, first=False):
    return lambda img: img.ext_add(t, payload, length, first)


def ext_set(t, new_type=None, length=None, index=0):
    return lambda img: img.ext_set(t, index, new_type, length)


def ext_data(t, payload, index=0):
    return lambda img: img.ext_replace_data(t, payload, index)


def ext_del(t, index=0):
    return lambda img: img.ext_del(t, index)


def ext_poke(t, off, raw, index=0):
    return lambda img: img.ext_poke(t, off, raw, index)


def bitmaps(field, value):
    return lambda img: img.bitmaps_set(field, value)


def nothing(img):
    pass


def file_end(img):
    return len(img.data)


def cases():
    C = []

    def case(name, fixture, desc, fn):
        C.append((name, fixture, desc, fn))

    # pristine fixtures (baseline: must open)
    for fx in ("v3", "v2", "backing", "bitmap", "el2", "zstd", "snap", "c4k",
               "datafile", "luks"):
        case("ok-" + fx, fx, "unmodified %s fixture" % fx, nothing)

    # magic / version
    case("magic-bad", "v3", "magic QFI\\xfa", setf("magic", 0x514649FA))
    case("magic-zero", "v3", "magic 0", setf("magic", 0))
    case("magic-qcow1", "v3", "magic ok, version 1", setf("version", 1))
    for v in (0, 4, 0xFFFFFFFF):
        case("version-%x" % v, "v3", "version %#x" % v, setf("version", v))
    case("v2-version-3", "v2", "v2 image relabelled version 3 (header_length 0)",
         setf("version", 3))

    # cluster_bits
    for cb in (0, 8, 9, 12, 21, 22, 31, 0xFFFFFFFF):
        case("cluster-bits-%d" % cb if cb < 64 else "cluster-bits-%x" % cb,
             "v3", "cluster_bits %#x" % cb, setf("cluster_bits", cb))
    case("v2-cluster-bits-8", "v2", "v2, cluster_bits 8", setf("cluster_bits", 8))
    case("v2-cluster-bits-22", "v2", "v2, cluster_bits 22",
         setf("cluster_bits", 22))
    case("el2-cluster-bits-13", "el2", "extended_l2 with cluster_bits 13",
         setf("cluster_bits", 13))
    case("el2-cluster-bits-14", "el2", "extended_l2 with cluster_bits 14",
         setf("cluster_bits", 14))
    case("el2-bit-clear", "el2", "extended_l2 image, incompat bit 4 cleared",
         bit("incompatible", 4, False))
    case("v3-el2-bit", "v3", "incompat bit 4 (extended L2) set on plain v3",
         bit("incompatible", 4))

    # size / l1_size
    for nm, v in (("0", 0), ("1", 1), ("2p62", 1 << 62), ("2p63m1", (1 << 63) - 1),
                  ("2p63", 1 << 63), ("max", (1 << 64) - 1),
                  ("32t", 32 << 40), ("64p", 1 << 56), ("2p55", 1 << 55)):
        case("size-" + nm, "v3", "size %#x" % v, setf("size", v))
    case("size-unaligned", "v3", "size 64M+1", setf("size", 64 * MiB + 1))
    case("size-1g", "v3", "size 1 GiB (needs l1_size 2, has 1)",
         setf("size", 1 << 30))
    for v in (0, 2, 0x400000, 0x400001, 0x2000000, 0x2000001, 0x7FFFFFFF,
              0x80000000, 0xFFFFFFFF):
        case("l1-size-%x" % v, "v3", "l1_size %#x" % v, setf("l1_size", v))
    case("v2-l1-size-0", "v2", "v2, l1_size 0", setf("l1_size", 0))
    case("v2-size-2p62", "v2", "v2, size 2^62", setf("size", 1 << 62))

    # l1_table_offset
    case("l1-offset-plus1", "v3", "l1_table_offset +1", addf("l1_table_offset", 1))
    case("l1-offset-plus512", "v3", "l1_table_offset +512",
         addf("l1_table_offset", 512))
    case("l1-offset-0", "v3", "l1_table_offset 0", setf("l1_table_offset", 0))
    case("l1-offset-eof", "v3", "l1_table_offset 4 GiB (past EOF)",
         setf("l1_table_offset", 1 << 32))
    case("l1-offset-huge", "v3", "l1_table_offset 2^62",
         setf("l1_table_offset", 1 << 62))
    case("l1-offset-max", "v3", "l1_table_offset 0xffffffffffff0000",
         setf("l1_table_offset", 0xFFFFFFFFFFFF0000))
    case("l1-offset-high-bit", "v3", "l1_table_offset with bit 63 set",
         setf("l1_table_offset", (1 << 63) | 0x30000))
    case("l1-offset-eof-exact", "v3", "l1_table_offset at EOF (0x30000 -> 0x40000)",
         setf("l1_table_offset", 0x40000))

    # refcount table
    case("rt-offset-plus1", "v3", "refcount_table_offset +1",
         addf("refcount_table_offset", 1))
    case("rt-offset-plus512", "v3", "refcount_table_offset +512",
         addf("refcount_table_offset", 512))
    case("rt-offset-0", "v3", "refcount_table_offset 0",
         setf("refcount_table_offset", 0))
    case("rt-offset-eof", "v3", "refcount_table_offset 4 GiB (past EOF)",
         setf("refcount_table_offset", 1 << 32))
    case("rt-offset-huge", "v3", "refcount_table_offset 2^62",
         setf("refcount_table_offset", 1 << 62))
    case("rt-offset-max", "v3", "refcount_table_offset 0xffffffffffff0000",
         setf("refcount_table_offset", 0xFFFFFFFFFFFF0000))
    for v in (0, 2, 3, 128, 129, 0x100000, 0xFFFFFFFF):
        case("rt-clusters-%x" % v, "v3", "refcount_table_clusters %#x" % v,
             setf("refcount_table_clusters", v))

    # snapshots
    case("snap-nb-1-no-table", "v3", "nb_snapshots 1, snapshots_offset 0",
         setf("nb_snapshots", 1))
    for v in (2, 65536, 65537, 0xFFFFFFFF):
        case("snap-nb-%x" % v, "snap", "snapshot image, nb_snapshots %#x" % v,
             setf("nb_snapshots", v))
    case("snap-nb-0", "snap", "snapshot image, nb_snapshots 0",
         setf("nb_snapshots", 0))
    case("snap-offset-plus8", "snap", "snapshots_offset +8",
         addf("snapshots_offset", 8))
    case("snap-offset-plus512", "snap", "snapshots_offset +512",
         addf("snapshots_offset", 512))
    case("snap-offset-0", "snap", "snapshots_offset 0", setf("snapshots_offset", 0))
    case("snap-offset-eof", "snap", "snapshots_offset 4 GiB (past EOF)",
         setf("snapshots_offset", 1 << 32))
    case("snap-offset-huge", "snap", "snapshots_offset 2^62",
         setf("snapshots_offset", 1 << 62))
    case("snap-offset-v3-unaligned", "v3",
         "no snapshots, snapshots_offset 0x10008", setf("snapshots_offset", 0x10008))
    case("snap-extra-size-huge", "snap", "snapshot 0 extra_data_size 0xffff",
         lambda img: img.poke_int(img.field("snapshots_offset") + 36, 4, 0xFFFF))
    case("snap-extra-size-0", "snap", "snapshot 0 extra_data_size 0",
         lambda img: img.poke_int(img.field("snapshots_offset") + 36, 4, 0))
    case("snap-id-len-huge", "snap", "snapshot 0 id_str_size 0xffff",
         lambda img: img.poke_int(img.field("snapshots_offset") + 12, 2, 0xFFFF))
    case("snap-l1-unaligned", "snap", "snapshot 0 l1_table_offset +1",
         lambda img: img.poke_int(
             img.field("snapshots_offset"), 8,
             img.peek_int(img.field("snapshots_offset"), 8) + 1))
    case("snap-l1-size-huge", "snap", "snapshot 0 l1_size 0x7fffffff",
         lambda img: img.poke_int(img.field("snapshots_offset") + 8, 4, 0x7FFFFFFF))

    # header_length
    for v in (0, 72, 96, 101, 103, 104, 105, 120, 1024, 65528, 65532, 65535,
              65536, 65537, 0xFFFFFFFF):
        case("hdrlen-%d" % v if v <= 65537 else "hdrlen-%x" % v,
             "v3", "header_length %#x (%d)" % (v, v),
             setf("header_length", v))
    case("v2-hdrlen-ignored", "v2", "v2, bytes 100..103 = 101 (not a field in v2)",
         setf("header_length", 101))

    # padding / compression type
    case("hdr-padding-nonzero", "v3", "header byte 111 (padding) = 0xff",
         poke(111, b"\xff"))
    case("comp-type-1-no-bit", "v3", "compression_type 1, incompat bit 3 clear",
         setf("compression_type", 1))
    case("comp-type-2-no-bit", "v3", "compression_type 2, incompat bit 3 clear",
         setf("compression_type", 2))
    case("comp-bit-type-0", "v3", "incompat bit 3 set, compression_type 0",
         bit("incompatible", 3))
    case("zstd-type-0", "zstd", "zstd image, compression_type 0 (bit 3 set)",
         setf("compression_type", 0))
    case("zstd-type-2", "zstd", "zstd image, compression_type 2",
         setf("compression_type", 2))
    case("zstd-type-255", "zstd", "zstd image, compression_type 255",
         setf("compression_type", 255))
    case("zstd-bit-clear", "zstd", "zstd image, incompat bit 3 cleared",
         bit("incompatible", 3, False))
    case("zstd-hdrlen-104", "zstd", "zstd image, header_length 104 (no type byte)",
         setf("header_length", 104))

    # crypt_method
    for v in (1, 2, 3, 0xFFFFFFFF):
        case("crypt-%x" % v, "v3", "crypt_method %#x" % v, setf("crypt_method", v))
    case("v2-crypt-1", "v2", "v2, crypt_method 1 (AES)", setf("crypt_method", 1))

    # refcount_order
    for v in (0, 3, 6, 7, 0xFFFFFFFF):
        case("rc-order-%x" % v, "v3", "refcount_order %#x" % v,
             setf("refcount_order", v))
    case("v2-rc-order-3", "v2", "v2, bytes 96..99 = 3 (not a field in v2)",
         setf("refcount_order", 3))

    # feature bits
    for kind, b in (("incompatible", 0), ("incompatible", 1), ("incompatible", 2),
                    ("incompatible", 5), ("incompatible", 6), ("incompatible", 31),
                    ("incompatible", 32), ("incompatible", 63),
                    ("compatible", 0), ("compatible", 1), ("compatible", 63),
                    ("autoclear", 0), ("autoclear", 1), ("autoclear", 2),
                    ("autoclear", 63)):
        case("%s-bit-%d" % (kind[:6], b), "v3", "%s feature bit %d set" % (kind, b),
             bit(kind, b))
    case("incomp-all", "v3", "incompatible_features all ones",
         setf("incompatible_features", (1 << 64) - 1))
    case("incomp-bits-5-6", "v3", "incompatible bits 5 and 6",
         setf("incompatible_features", 0x60))
    case("v2-dirty-bit", "v2", "v2, byte 79 = 1 (dirty bit position; not a field in v2)",
         bit("incompatible", 0))
    case("v2-incomp-bit-5", "v2", "v2, bytes 72..79 = 0x20", bit("incompatible", 5))
    case("c4k-incomp-bit-5", "c4k", "4k clusters (no feature table), incompat bit 5",
         bit("incompatible", 5))
    case("no-fnt-incomp-bit-5", "v3",
         "v3 without feature name table, incompat bit 5",
         lambda img: (img.ext_del(EXT_FEATURE_TABLE),
                      img.set_feature_bit("incompatible", 5)))
    case("fnt-named-bit-5", "v3",
         "feature table names incompat bit 5 'fancy new feature', bit 5 set",
         lambda img: (img.ext_replace_data(EXT_FEATURE_TABLE, feature_table_payload(
             DEFAULT_FEATURES + [(0, 5, "fancy new feature")])),
             img.set_feature_bit("incompatible", 5)))
    case("fnt-named-bits-5-63", "v3",
         "feature table names incompat bits 5 and 63, bits 5,6,63 set",
         lambda img: (img.ext_replace_data(EXT_FEATURE_TABLE, feature_table_payload(
             DEFAULT_FEATURES + [(0, 5, "fancy new feature"),
                                 (0, 63, "top bit feature")])),
             img.set_field("incompatible_features", (1 << 63) | 0x60)))
    case("fnt-named-order", "v3",
         "feature table lists bit 63, bit 5, bit 5 again, autoclear 6; "
         "incompat bits 5,6,63 set",
         lambda img: (img.ext_replace_data(EXT_FEATURE_TABLE, feature_table_payload(
             [(0, 63, "top bit feature"), (0, 5, "fancy"), (0, 5, "dup five"),
              (2, 6, "autoclear six")])),
             img.set_field("incompatible_features", (1 << 63) | 0x60)))
    case("fnt-named-46", "v3",
         "feature table name of 46 chars (no NUL) for incompat bit 5, bit set",
         lambda img: (img.ext_replace_data(EXT_FEATURE_TABLE, feature_table_payload(
             [(0, 5, "N" * 46)] + DEFAULT_FEATURES)),
             img.set_feature_bit("incompatible", 5)))
    case("fnt-named-compat-only", "v3",
         "feature table names bit 5 as compatible; incompat bit 5 set",
         lambda img: (img.ext_replace_data(EXT_FEATURE_TABLE, feature_table_payload(
             DEFAULT_FEATURES + [(1, 5, "compat five")])),
             img.set_feature_bit("incompatible", 5)))

    # header extensions (generic)
    case("ext-unknown", "v3", "unknown extension 0x12345678 (8 bytes)",
         ext_add(UNKNOWN_EXT, b"ABCDEFGH"))
    case("ext-unknown-empty", "v3", "unknown extension, length 0",
         ext_add(UNKNOWN_EXT, b""))
    case("ext-unknown-odd", "v3", "unknown extension, length 5",
         ext_add(UNKNOWN_EXT, b"ABCDE"))
    case("ext-unknown-dup", "v3", "two unknown extensions of the same type",
         lambda img: (img.ext_add(UNKNOWN_EXT, b"1"), img.ext_add(UNKNOWN_EXT, b"2")))
    case("ext-fnt-removed", "v3", "feature name table removed", ext_del(EXT_FEATURE_TABLE))
    case("ext-fnt-dup", "v3", "feature name table twice",
         lambda img: img.ext_add(EXT_FEATURE_TABLE,
                                 feature_table_payload(DEFAULT_FEATURES)))
    case("ext-fnt-len-100", "v3", "feature name table length 100 (not /48)",
         ext_set(EXT_FEATURE_TABLE, length=100))
    case("ext-fnt-len-0", "v3", "feature name table length 0 (rest becomes junk)",
         ext_set(EXT_FEATURE_TABLE, length=0))
    case("ext-fnt-len-cluster", "v3", "feature name table length 65536",
         ext_set(EXT_FEATURE_TABLE, length=65536))
    case("ext-fnt-len-fill", "v3",
         "feature name table length reaching exactly the cluster end",
         lambda img: img.ext_set(EXT_FEATURE_TABLE,
                                 length=65536 - img.find_ext(EXT_FEATURE_TABLE).offset - 8))
    case("ext-fnt-len-fill-plus1", "v3",
         "feature name table length one past the cluster end",
         lambda img: img.ext_set(EXT_FEATURE_TABLE,
                                 length=65536 - img.find_ext(EXT_FEATURE_TABLE).offset - 7))
    case("ext-fnt-len-max", "v3", "feature name table length 0xffffffff",
         ext_set(EXT_FEATURE_TABLE, length=0xFFFFFFFF))
    case("ext-fnt-len-huge", "v3", "feature name table length 0xfffffff0",
         ext_set(EXT_FEATURE_TABLE, length=0xFFFFFFF0))
    case("ext-fnt-bad-type", "v3", "feature table entry 0 type 7",
         ext_poke(EXT_FEATURE_TABLE, 0, b"\x07"))
    case("ext-unknown-fills", "v3",
         "no end marker: unknown extension fills the rest of cluster 0",
         lambda img: img.poke(img.find_ext(EXT_FEATURE_TABLE).offset + 384 + 8,
                              bytes.fromhex("12345678") +
                              (65536 - (img.find_ext(EXT_FEATURE_TABLE).offset
                                        + 384 + 8) - 8).to_bytes(4, "big")))
    case("ext-unknown-fills-unpadded", "v3",
         "no end marker: unknown extension (length not /8) whose padding ends at the cluster end",
         lambda img: img.poke(img.find_ext(EXT_FEATURE_TABLE).offset + 384 + 8,
                              bytes.fromhex("12345678") +
                              (65536 - (img.find_ext(EXT_FEATURE_TABLE).offset
                                        + 384 + 8) - 12).to_bytes(4, "big")))
    case("ext-junk-after-end", "v3", "junk after the end-of-extensions marker",
         lambda img: img.poke(img.find_ext(EXT_FEATURE_TABLE).offset + 384 + 16,
                              b"\xff" * 32))

    # backing file + backing format
    case("bf-fmt-15", "backing", "backing format ext of 15 chars",
         ext_data(EXT_BACKING_FORMAT, b"q" * 15))
    case("bf-fmt-16", "backing", "backing format ext of 16 chars",
         ext_data(EXT_BACKING_FORMAT, b"q" * 16))
    case("bf-fmt-long", "backing", "backing format ext of 1000 chars",
         ext_data(EXT_BACKING_FORMAT, b"q" * 1000))
    case("bf-fmt-len-16", "backing", "backing format ext length field 5 -> 16",
         ext_set(EXT_BACKING_FORMAT, length=16))
    case("bf-fmt-len-huge", "backing", "backing format ext length 0xffffffff",
         ext_set(EXT_BACKING_FORMAT, length=0xFFFFFFFF))
    case("bf-fmt-empty", "backing", "backing format ext of length 0",
         ext_data(EXT_BACKING_FORMAT, b""))
    case("bf-fmt-raw", "backing", "backing format 'raw'",
         ext_data(EXT_BACKING_FORMAT, b"raw"))
    case("bf-fmt-unknown", "backing", "backing format 'nosuchfmt'",
         ext_data(EXT_BACKING_FORMAT, b"nosuchfmt"))
    case("bf-fmt-nul", "backing", "backing format 'qc\\0ow2'",
         ext_data(EXT_BACKING_FORMAT, b"qc\0ow2"))
    case("bf-fmt-dup", "backing", "second backing format ext ('raw')",
         ext_add(EXT_BACKING_FORMAT, b"raw"))
    case("bf-fmt-removed", "backing", "backing format ext removed",
         ext_del(EXT_BACKING_FORMAT))
    case("bf-fmt-no-backing", "v3", "backing format ext without a backing file",
         ext_add(EXT_BACKING_FORMAT, b"qcow2", first=True))
    case("bf-offset-cluster", "backing", "backing_file_offset 65536 (past cluster 0)",
         setf("backing_file_offset", 65536))
    case("bf-offset-cluster-m1", "backing", "backing_file_offset 65535",
         setf("backing_file_offset", 65535))
    case("bf-offset-end-fit", "backing",
         "backing_file_offset 65532 (4-byte name ends exactly at the cluster end)",
         setf("backing_file_offset", 65532))
    case("bf-offset-straddle", "backing",
         "backing_file_offset 65534 (4-byte name crosses the cluster end)",
         setf("backing_file_offset", 65534))
    case("bf-offset-eof", "backing", "backing_file_offset 4 GiB",
         setf("backing_file_offset", 1 << 32))
    case("bf-offset-max", "backing", "backing_file_offset 0xffffffffffffffff",
         setf("backing_file_offset", (1 << 64) - 1))
    case("bf-offset-0", "backing", "backing_file_offset 0 (size stays 4)",
         setf("backing_file_offset", 0))
    case("bf-offset-header", "backing", "backing_file_offset 0 -> 4 (points into header)",
         setf("backing_file_offset", 4))
    case("bf-size-0", "backing", "backing_file_size 0", setf("backing_file_size", 0))
    case("bf-size-1023", "backing", "backing_file_size 1023",
         setf("backing_file_size", 1023))
    case("bf-size-1024", "backing", "backing_file_size 1024",
         setf("backing_file_size", 1024))
    case("bf-size-max", "backing", "backing_file_size 0xffffffff",
         setf("backing_file_size", 0xFFFFFFFF))
    case("v3-bf-size-only", "v3", "no backing offset, backing_file_size 10",
         setf("backing_file_size", 10))
    case("v2-bf-size-1024", "v2", "v2, backing_file_size 1024 (no backing offset)",
         setf("backing_file_size", 1024))

    # bitmaps extension
    for v in (0, 1, 2, 65535, 65536, 0xFFFFFFFF):
        case("bm-nb-%x" % v, "bitmap", "bitmaps ext nb_bitmaps %#x" % v,
             bitmaps("nb_bitmaps", v))
    case("bm-reserved", "bitmap", "bitmaps ext reserved field 1",
         bitmaps("reserved", 1))
    case("bm-dir-offset-plus8", "bitmap", "bitmap directory offset +8",
         lambda img: img.bitmaps_set("dir_offset", Qcow2File.peek_int(
             img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8) + 8))
    case("bm-dir-offset-0", "bitmap", "bitmap directory offset 0",
         bitmaps("dir_offset", 0))
    case("bm-dir-offset-eof", "bitmap", "bitmap directory offset 4 GiB",
         bitmaps("dir_offset", 1 << 32))
    case("bm-dir-offset-huge", "bitmap", "bitmap directory offset 2^62",
         bitmaps("dir_offset", 1 << 62))
    for v in (0, 8, 0x1000000, 0x1000001, 0x40000000, 0xFFFFFFFFFFFFFFFF):
        case("bm-dir-size-%x" % v, "bitmap", "bitmap directory size %#x" % v,
             bitmaps("dir_size", v))
    case("bm-ext-len-16", "bitmap", "bitmaps ext length 24 -> 16",
         ext_set(EXT_BITMAPS, length=16))
    case("bm-ext-len-32", "bitmap", "bitmaps ext length 24 -> 32",
         ext_set(EXT_BITMAPS, length=32))
    case("bm-autoclear-clear", "bitmap", "bitmaps autoclear bit 0 cleared",
         bit("autoclear", 0, False))
    case("bm-ext-dup", "bitmap", "bitmaps ext twice",
         lambda img: img.ext_add(EXT_BITMAPS, img.find_ext(EXT_BITMAPS).data))
    case("bm-ext-no-bit-v3", "v3", "bitmaps ext (nb 0x7fff..) on v3 without autoclear bit",
         ext_add(EXT_BITMAPS, bitmaps_payload(0xFFFFFFFF, 1 << 40, 3)))
    case("bm-ext-v3-autoclear", "v3", "autoclear bit 0 without bitmaps extension",
         bit("autoclear", 0))
    case("bm-dir-entry-flags", "bitmap", "bitmap dir entry 0 flags 0xffffffff",
         lambda img: img.poke_int(Qcow2File.peek_int(
             img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8) + 12, 4, 0xFFFFFFFF))
    case("bm-dir-entry-gran", "bitmap", "bitmap dir entry 0 granularity_bits 63",
         lambda img: img.poke_int(Qcow2File.peek_int(
             img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8) + 17, 1, 63))
    case("bm-dir-entry-type", "bitmap", "bitmap dir entry 0 type 2",
         lambda img: img.poke_int(Qcow2File.peek_int(
             img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8) + 16, 1, 2))
    case("bm-dir-entry-name-0", "bitmap", "bitmap dir entry 0 name_size 0",
         lambda img: img.poke_int(Qcow2File.peek_int(
             img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8) + 18, 2, 0))
    case("bm-dir-entry-table-unaligned", "bitmap",
         "bitmap dir entry 0 bitmap_table_offset +1",
         lambda img: (lambda d: img.poke_int(d, 8, img.peek_int(d, 8) + 1))(
             Qcow2File.peek_int(img, img.find_ext(EXT_BITMAPS).data_offset + 16, 8)))
    case("bm-v2-ext", "v2", "v2 image with a bitmaps extension",
         ext_add(EXT_BITMAPS, bitmaps_payload(1, 24, 0x50000)))

    # bitmap tables: info loads those of consistent bitmaps, as 7.2 does
    def bm_entry(img):
        return Qcow2File.peek_int(img, img.find_ext(EXT_BITMAPS).data_offset
                                  + 16, 8)

    def bm_table_poke(value):
        return lambda img: img.poke_int(img.peek_int(bm_entry(img), 8), 8,
                                        value)
    case("bm-table-entry-reserved", "bitmap",
         "bitmap table entry 0: reserved bit 60", bm_table_poke(1 << 60))
    case("bm-table-entry-unaligned", "bitmap",
         "bitmap table entry 0: data at offset 0x10200",
         bm_table_poke(0x10200))
    case("bm-table-size-plus1", "bitmap",
         "bitmap dir entry 0 bitmap_table_size + 1",
         lambda img: img.poke_int(bm_entry(img) + 8, 4,
                                  img.peek_int(bm_entry(img) + 8, 4) + 1))
    case("bm-table-in-use-size-plus1", "bitmap",
         "bitmap dir entry 0 in use, bitmap_table_size + 1",
         lambda img: (img.poke_int(bm_entry(img) + 12, 4, 1),
                      img.poke_int(bm_entry(img) + 8, 4,
                                   img.peek_int(bm_entry(img) + 8, 4) + 1)))
    case("bm-table-past-eof", "bitmap",
         "bitmap dir entry 0 bitmap_table_offset 1 TiB",
         lambda img: img.poke_int(bm_entry(img), 8, 1 << 40))

    # external data file
    case("df-bit-no-name", "v3", "incompat bit 2 (external data file) without name ext",
         bit("incompatible", 2))
    case("df-name-removed", "datafile", "data-file image, data file name ext removed",
         ext_del(EXT_DATA_FILE))
    case("df-bit-clear", "datafile", "data-file image, incompat bit 2 cleared",
         bit("incompatible", 2, False))
    case("df-name-missing", "datafile", "data file name -> 'nosuch.raw'",
         ext_data(EXT_DATA_FILE, b"nosuch.raw"))
    case("df-name-empty", "datafile", "data file name ext of length 0",
         ext_data(EXT_DATA_FILE, b""))
    case("df-raw-bit", "datafile", "data-file image, autoclear bit 1 (raw) set",
         bit("autoclear", 1))
    case("df-name-dup", "datafile", "second data file name ext ('other.raw')",
         ext_add(EXT_DATA_FILE, b"other.raw"))
    case("df-name-no-bit-v3", "v3", "data file name ext on a plain v3 image",
         ext_add(EXT_DATA_FILE, b"data.raw"))

    # crypto header extension
    case("crypto-ext-no-method", "v3", "FDE header ext present, crypt_method 0",
         ext_add(EXT_CRYPTO, (0x50000).to_bytes(8, "big") + (4096).to_bytes(8, "big")))
    case("crypto-ext-short", "v3", "FDE header ext of 8 bytes, crypt_method 0",
         ext_add(EXT_CRYPTO, (0x50000).to_bytes(8, "big")))

    # LUKS-in-qcow2
    case("luks-ext-removed", "luks", "LUKS image, crypto header ext removed",
         ext_del(EXT_CRYPTO))
    case("luks-method-0", "luks", "LUKS image, crypt_method 0 (ext still present)",
         setf("crypt_method", 0))
    case("luks-method-1", "luks", "LUKS image, crypt_method 1 (AES)",
         setf("crypt_method", 1))
    case("luks-ext-offset-unaligned", "luks", "crypto header ext offset +1",
         lambda img: img.ext_poke(EXT_CRYPTO, 0, (img.peek_int(
             img.find_ext(EXT_CRYPTO).data_offset, 8) + 1).to_bytes(8, "big")))
    case("luks-ext-offset-0", "luks", "crypto header ext offset 0",
         ext_poke(EXT_CRYPTO, 0, bytes(8)))
    case("luks-ext-offset-eof", "luks", "crypto header ext offset 4 GiB",
         ext_poke(EXT_CRYPTO, 0, (1 << 32).to_bytes(8, "big")))
    case("luks-ext-length-0", "luks", "crypto header ext length field 0",
         ext_poke(EXT_CRYPTO, 8, bytes(8)))
    case("luks-ext-length-huge", "luks", "crypto header ext length 2^62",
         ext_poke(EXT_CRYPTO, 8, (1 << 62).to_bytes(8, "big")))
    case("luks-ext-len-8", "luks", "crypto header ext declared length 16 -> 8",
         ext_set(EXT_CRYPTO, length=8))
    case("luks-ext-len-24", "luks", "crypto header ext declared length 16 -> 24",
         ext_set(EXT_CRYPTO, length=24))
    case("luks-ext-dup", "luks", "crypto header ext twice",
         lambda img: img.ext_add(EXT_CRYPTO, img.find_ext(EXT_CRYPTO).data))
    case("luks-hdr-zeroed", "luks", "first 4 KiB of the LUKS header zeroed",
         lambda img: img.poke(img.peek_int(img.find_ext(EXT_CRYPTO).data_offset, 8),
                              bytes(4096)))

    # Check ordering: these few cases deliberately change TWO things, to pin
    # down which error wins.  The name reads order-<winner>-<loser>.
    def both(first, second):
        # extension edits go first, while the extension list still parses
        return lambda img: (first(img), second(img))
    FT_LEN_MAX = ext_set(EXT_FEATURE_TABLE, length=0xFFFFFFFF)
    SNAP_EXTRA = (lambda img: img.poke_int(img.field("snapshots_offset") + 36,
                                           4, 0xFFFF))
    for name, fx, desc, fn in (
        ("version-cbits", "v3", "version 4 + cluster_bits 22",
         both(setf("version", 4), setf("cluster_bits", 22))),
        ("cbits-hdrlen", "v3", "cluster_bits 22 + header_length 101",
         both(setf("cluster_bits", 22), setf("header_length", 101))),
        ("hdrlen-bfoff", "backing", "header_length 101 + backing_file_offset 4 GiB",
         both(setf("header_length", 101), setf("backing_file_offset", 1 << 32))),
        ("bfoff-comp", "backing", "backing_file_offset 4 GiB + compression_type 2",
         both(setf("backing_file_offset", 1 << 32), setf("compression_type", 2))),
        ("comp-incomp", "v3", "compression_type 2 + incompat bit 5",
         both(setf("compression_type", 2), bit("incompatible", 5))),
        ("compbit-incomp", "v3", "incompat bit 3 (type 0) + incompat bit 5",
         both(bit("incompatible", 3), bit("incompatible", 5))),
        ("incomp-rcorder", "v3", "incompat bit 5 + refcount_order 7",
         both(bit("incompatible", 5), setf("refcount_order", 7))),
        ("incomp-extlen", "v3",
         "feature table length 0xffffffff + incompat bit 5",
         both(FT_LEN_MAX, bit("incompatible", 5))),
        ("rcorder-rt0", "v3", "refcount_order 7 + refcount_table_clusters 0",
         both(setf("refcount_order", 7), setf("refcount_table_clusters", 0))),
        ("rtlarge-rtoff", "v3",
         "refcount_table_clusters 0x81 + refcount_table_offset +1",
         both(setf("refcount_table_clusters", 0x81),
              addf("refcount_table_offset", 1))),
        ("rtoff-snnb", "snap", "refcount_table_offset +1 + nb_snapshots 65537",
         both(addf("refcount_table_offset", 1), setf("nb_snapshots", 65537))),
        ("snnb-snoff", "snap", "nb_snapshots 65537 + snapshots_offset +8",
         both(setf("nb_snapshots", 65537), addf("snapshots_offset", 8))),
        ("snoff-l1large", "snap", "snapshots_offset +8 + l1_size 0x400001",
         both(addf("snapshots_offset", 8), setf("l1_size", 0x400001))),
        ("l1large-l1off", "v3", "l1_size 0x400001 + l1_table_offset +1",
         both(setf("l1_size", 0x400001), addf("l1_table_offset", 1))),
        ("l1off-toobig", "v3", "l1_table_offset +1 + size 2^62",
         both(addf("l1_table_offset", 1), setf("size", 1 << 62))),
        ("toobig-l1small", "v3", "size 2^62 + l1_size 0",
         both(setf("size", 1 << 62), setf("l1_size", 0))),
        ("l1small-crypt", "v3", "l1_size 0 + crypt_method 3",
         both(setf("l1_size", 0), setf("crypt_method", 3))),
        ("crypt-extlen", "v3", "feature table length 0xffffffff + crypt_method 3",
         both(FT_LEN_MAX, setf("crypt_method", 3))),
        ("crypt-bmext", "bitmap", "bitmaps nb_bitmaps 0 + crypt_method 3",
         both(bitmaps("nb_bitmaps", 0), setf("crypt_method", 3))),
        ("l1small-bmext", "bitmap", "bitmaps nb_bitmaps 0 + l1_size 0",
         both(bitmaps("nb_bitmaps", 0), setf("l1_size", 0))),
        ("bffmt-bfsize", "backing",
         "backing format of 16 chars + backing_file_size 1024",
         both(ext_data(EXT_BACKING_FORMAT, b"q" * 16),
              setf("backing_file_size", 1024))),
        ("extlen-bfsize", "backing",
         "feature table length 0xffffffff + backing_file_size 1024",
         both(FT_LEN_MAX, setf("backing_file_size", 1024))),
        ("extlen-snapextra", "snap",
         "feature table length 0xffffffff + snapshot 0 extra_data_size 0xffff",
         both(FT_LEN_MAX, SNAP_EXTRA)),
        ("bmwarn-snapextra", "snap",
         "bitmaps ext added without autoclear bit 0 (a warning) + "
         "snapshot 0 extra_data_size 0xffff",
         both(ext_add(EXT_BITMAPS, bitmaps_payload(0, 24, 0x60000)), SNAP_EXTRA)),
        ("crypt-sizemax", "v3", "crypt_method 3 + size 2^64-1",
         both(setf("crypt_method", 3), setf("size", (1 << 64) - 1))),
    ):
        case("order-" + name, fx, "TWO changes: " + desc, fn)

    # whole-file truncation
    case("trunc-64k", "v3", "truncated to 65536 (header cluster only)",
         truncate(65536))
    case("trunc-128k", "v3", "truncated to 131072 (no L1 table)", truncate(131072))
    case("trunc-l1-half", "v3", "truncated 4 bytes into the L1 table",
         truncate(0x30004))
    case("trunc-bitmap-dir", "bitmap", "truncated to 0x50000 (before the bitmap directory)", truncate(0x50000))
    case("snap-trunc-table", "snap", "truncated 16 bytes into the snapshot table",
         lambda img: img.truncate(img.field("snapshots_offset") + 16))
    for n in range(0, 113):
        case("trunc-%03d" % n, "v3", "v3 fixture truncated to %d bytes" % n,
             truncate(n))
    return C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu-img",
                    default=os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img"))
    ap.add_argument("outdir")
    a = ap.parse_args()
    out = os.path.abspath(a.outdir)
    fixdir = os.path.join(out, "fixtures")
    make_fixtures(a.qemu_img, fixdir)
    # the data-file fixture refers to data.raw next to the image
    # (sparse copy: same size, all zeroes)
    with open(os.path.join(out, "data.raw"), "wb") as f:
        f.truncate(os.path.getsize(os.path.join(fixdir, "data.raw")))

    seen = set()
    with open(os.path.join(out, "cases.tsv"), "w") as tsv:
        for name, fixture, desc, fn in cases():
            if name in seen:
                raise SystemExit("duplicate case name %s" % name)
            seen.add(name)
            img = Qcow2File.load(os.path.join(fixdir, fixture))
            fn(img)
            img.save(os.path.join(out, name))
            tsv.write("%s\t%s\t%s\n" % (name, fixture, desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
