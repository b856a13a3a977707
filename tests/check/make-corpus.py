#!/usr/bin/env python3
"""Build the `qemu-img check` differential corpus.

usage: make-corpus.py OUTDIR

Every image is produced with the reference tools (REF_QEMU_IMG, default
/usr/bin/qemu-img, and REF_QEMU_IO, default /usr/bin/qemu-io), then the
damaged ones get exactly one change with tests/damaged/corrupt.py.
Writes OUTDIR/NAME.qcow2 (plus side files: backing images, data files)
and OUTDIR/cases.tsv with lines "NAME<TAB>description".
All tool invocations run with cwd=OUTDIR and relative file names, so
backing / data-file references are relative.
"""

import os
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "damaged"))
from corrupt import Qcow2File  # noqa: E402

QIMG = os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img")
QIO = os.environ.get("REF_QEMU_IO", "/usr/bin/qemu-io")

OUT = None
CASES = []          # (name, description)


def warn(msg):
    sys.stderr.write("make-corpus: warning: %s\n" % msg)


def run(argv, ok=(0,), check=True):
    p = subprocess.run(argv, cwd=OUT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if check and p.returncode not in ok:
        raise RuntimeError("%s failed (%d): %s" % (
            " ".join(argv), p.returncode, p.stderr.decode(errors="replace")))
    return p


def qimg(*args, **kw):
    return run([QIMG] + list(args), **kw)


def qio(img, *cmds, fmt="qcow2", ok=(0,), extra=()):
    argv = [QIO] + list(extra) + ["-f", fmt]
    for c in cmds:
        argv += ["-c", c]
    argv.append(img)
    return run(argv, ok=ok)


def create(name, size="4M", opts=None, extra=()):
    argv = ["create", "-q", "-f", "qcow2"] + list(extra)
    if opts:
        argv += ["-o", opts]
    argv += [name, size]
    qimg(*argv)


def add(name, desc):
    CASES.append((name, desc))


def path(name):
    return os.path.join(OUT, name)


# ---------------------------------------------------------------------
# A small reader for the qcow2 metadata we need to locate damage.
# ---------------------------------------------------------------------

class Meta:
    def __init__(self, fname):
        self.fname = fname
        self.img = Qcow2File.load(path(fname))
        im = self.img
        self.cs = im.cluster_size
        order = im.field("refcount_order") if im.version >= 3 else 4
        self.rbits = 1 << order
        self.l1_off = im.field("l1_table_offset")
        self.l1_size = im.field("l1_size")
        self.rt_off = im.field("refcount_table_offset")
        self.incompat = im.field("incompatible_features") if im.version >= 3 else 0
        self.l2_esize = 16 if self.incompat & (1 << 4) else 8
        self.l2_entries = self.cs // self.l2_esize

    def save(self, name):
        self.img.save(path(name))

    def l1(self, i):
        return self.img.peek_int(self.l1_off + 8 * i, 8)

    def set_l1(self, i, v):
        self.img.poke_int(self.l1_off + 8 * i, 8, v)

    def l2_table(self, i=0):
        return self.l1(i) & 0x00fffffffffffe00

    def l2_addr(self, l1i, l2i):
        return self.l2_table(l1i) + l2i * self.l2_esize

    def l2(self, l1i, l2i):
        return self.img.peek_int(self.l2_addr(l1i, l2i), 8)

    def set_l2(self, l1i, l2i, v):
        self.img.poke_int(self.l2_addr(l1i, l2i), 8, v)

    def data_entries(self, l1i=0):
        """[(l2 index, entry)] of allocated normal entries."""
        out = []
        for j in range(self.l2_entries):
            e = self.l2(l1i, j)
            if e & 0x00fffffffffffe00 and not e & (1 << 62):
                out.append((j, e))
        return out

    def rt(self, i):
        return self.img.peek_int(self.rt_off + 8 * i, 8)

    def set_rt(self, i, v):
        self.img.poke_int(self.rt_off + 8 * i, 8, v)

    def _rc_loc(self, cluster):
        assert self.rbits >= 8
        per = self.cs * 8 // self.rbits
        rb = self.rt(cluster // per) & ~0x1ff
        assert rb
        return rb + (cluster % per) * (self.rbits // 8)

    def refcount(self, cluster):
        return self.img.peek_int(self._rc_loc(cluster), self.rbits // 8)

    def set_refcount(self, cluster, v):
        self.img.poke_int(self._rc_loc(cluster), self.rbits // 8, v)

    def snap_entry(self, index=0):
        """File offset of snapshot table entry INDEX."""
        off = self.img.field("snapshots_offset")
        for _ in range(index):
            _, _, id_len, name_len = struct.unpack(">QIHH", self.img.peek(off, 16))
            extra = self.img.peek_int(off + 36, 4)
            off += 40 + extra + id_len + name_len
            off = (off + 7) & ~7
        return off

    def bitmap_dir(self):
        ext = self.img.find_ext("bitmaps")
        nb, _, dsize, doff = struct.unpack(">IIQQ", ext.data[:24])
        return doff


def cl(off, cs=65536):
    return off // cs


# ---------------------------------------------------------------------
# Valid images
# ---------------------------------------------------------------------

def valid_images():
    create("v3-64k.qcow2", "4M")
    qio("v3-64k.qcow2", "write -P 0x11 0 192k", "write -P 0x22 1M 64k",
        "write -P 0x33 3M 32k", "write -z 2M 64k")
    add("v3-64k", "v3, 64k clusters, some data and a zero cluster")

    create("v2.qcow2", "4M", "compat=0.10")
    qio("v2.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")
    add("v2", "compat=0.10 with data")

    for cs, tag in ((512, "512"), (4096, "4k"), (2 << 20, "2M")):
        n = "cs-%s.qcow2" % tag
        create(n, "8M", "cluster_size=%d" % cs)
        qio(n, "write -P 0x11 0 100k", "write -P 0x22 5M 3k",
            "write -P 0x33 7M 1M")
        add("cs-%s" % tag, "cluster_size=%d with data" % cs)

    for rb in (1, 2, 8, 32, 64):
        n = "refbits-%d.qcow2" % rb
        create(n, "4M", "refcount_bits=%d" % rb)
        qio(n, "write -P 0x11 0 128k", "write -P 0x22 2M 64k")
        add("refbits-%d" % rb, "refcount_bits=%d with data" % rb)

    create("lazy.qcow2", "4M", "lazy_refcounts=on")
    qio("lazy.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")
    add("lazy", "lazy_refcounts=on, cleanly closed")

    create("extl2.qcow2", "4M", "extended_l2=on")
    qio("extl2.qcow2", "write -P 0x11 0 4k", "write -P 0x22 68k 8k",
        "write -P 0x33 1M 64k", "write -z 2M 4k", "write -P 0x44 3M 32k")
    add("extl2", "extended_l2=on with partial subcluster writes")

    run(["dd", "if=/dev/urandom", "of=src.raw", "bs=64k", "count=8",
         "status=none"])
    qimg("resize", "-q", "-f", "raw", "src.raw", "4M")
    run(["sh", "-c", "yes hello | head -c 300000 | dd of=src.raw bs=1 seek=1048576 conv=notrunc status=none"])
    for ct in ("zlib", "zstd"):
        n = "compressed-%s.qcow2" % ct
        p = qimg("convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
                 "compression_type=%s" % ct, "src.raw", n, check=False)
        if p.returncode:
            warn("cannot create %s: %s" % (n, p.stderr.decode().strip()))
            continue
        add("compressed-%s" % ct, "convert -c, compression_type=%s" % ct)

    create("snapshots.qcow2", "4M")
    qio("snapshots.qcow2", "write -P 0x11 0 128k")
    qimg("snapshot", "-c", "first", "snapshots.qcow2")
    qio("snapshots.qcow2", "write -P 0x22 64k 128k")
    qimg("snapshot", "-c", "second snap with spaces", "snapshots.qcow2")
    qio("snapshots.qcow2", "write -P 0x33 1M 64k", "write -z 0 64k")
    qimg("snapshot", "-c", "third", "snapshots.qcow2")
    qio("snapshots.qcow2", "write -P 0x44 3M 64k")
    add("snapshots", "three internal snapshots (one name with spaces), "
        "writes between")

    create("bitmaps.qcow2", "4M")
    qimg("bitmap", "--add", "bitmaps.qcow2", "enabled")
    qimg("bitmap", "--add", "--disable", "bitmaps.qcow2", "disabled")
    qimg("bitmap", "--add", "-g", "4096", "bitmaps.qcow2", "fine")
    qio("bitmaps.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")
    add("bitmaps", "persistent bitmaps (enabled, disabled, 4k granularity) "
        "with data written while enabled")

    create("datafile.qcow2", "4M", "data_file=datafile.data")
    qio("datafile.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")
    add("datafile", "external data file, not raw")
    create("datafile-raw.qcow2", "4M",
           "data_file=datafile-raw.data,data_file_raw=on")
    qio("datafile-raw.qcow2", "write -P 0x11 0 128k")
    add("datafile-raw", "external data file, data_file_raw=on")

    create("prealloc-meta.qcow2", "4M", "preallocation=metadata")
    add("prealloc-meta", "preallocation=metadata")
    create("prealloc-falloc.qcow2", "4M", "preallocation=falloc")
    add("prealloc-falloc", "preallocation=falloc")

    create("empty.qcow2", "1G")
    add("empty", "freshly created, no data")

    create("backing-base.qcow2", "4M")
    qio("backing-base.qcow2", "write -P 0x11 0 1M")
    create("backing-top.qcow2", "4M",
           extra=("-b", "backing-base.qcow2", "-F", "qcow2"))
    qio("backing-top.qcow2", "write -P 0x22 64k 64k")
    add("backing-top", "top of a backing chain with one written cluster")

    for attempt in range(6):
        p = qimg("create", "-q", "-f", "qcow2", "--object",
                 "secret,id=sec0,data=123456", "-o",
                 "encrypt.format=luks,encrypt.key-secret=sec0,"
                 "encrypt.iter-time=10", "luks.qcow2", "4M", check=False)
        if p.returncode == 0:
            break
        time.sleep(0.2)
    if p.returncode == 0:
        add("luks", "LUKS-encrypted qcow2 (no secret given to check)")
    else:
        warn("cannot create LUKS image: %s" % p.stderr.decode().strip())

    create("dirty-lazy.qcow2", "4M", "lazy_refcounts=on")
    qio("dirty-lazy.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k",
        "sigraise 9", ok=(-9, 137))
    add("dirty-lazy", "lazy_refcounts=on killed after writes "
        "(dirty bit set, refcounts stale)")

    create("bitmaps-inuse.qcow2", "4M")
    qimg("bitmap", "--add", "bitmaps-inuse.qcow2", "b0")
    qio("bitmaps-inuse.qcow2", "write -P 0x11 0 64k", "abort",
        ok=(-6, 134))
    add("bitmaps-inuse", "bitmap left in-use by qemu-io abort")


# ---------------------------------------------------------------------
# Damaged images (each one change of a valid fixture)
# ---------------------------------------------------------------------

def damaged_images():
    # fixture: v3, 64k clusters, 16-bit refcounts
    create("fix-base.qcow2", "4M")
    qio("fix-base.qcow2", "write -P 0x11 0 192k", "write -P 0x22 1M 64k")
    create("fix-snap.qcow2", "4M")
    qio("fix-snap.qcow2", "write -P 0x11 0 192k")
    qimg("snapshot", "-c", "snap1", "fix-snap.qcow2")
    qio("fix-snap.qcow2", "write -P 0x22 64k 64k")  # cluster 1 now COW'd
    create("fix-bitmap.qcow2", "4M")
    qimg("bitmap", "--add", "fix-bitmap.qcow2", "bm0")
    qio("fix-bitmap.qcow2", "write -P 0x11 0 1M")
    qimg("bitmap", "--disable", "fix-bitmap.qcow2", "bm0")
    create("fix-prealloc.qcow2", "4M", "preallocation=metadata")
    qio("fix-prealloc.qcow2", "write -z 0 1M")
    qimg("convert", "-c", "-f", "raw", "-O", "qcow2", "src.raw",
         "fix-comp.qcow2")
    qimg("convert", "-c", "-f", "raw", "-O", "qcow2", "-o",
         "extended_l2=on", "src.raw", "fix-comp-extl2.qcow2")

    def dmg(fixture, name, desc, fn):
        m = Meta(fixture)
        fn(m)
        m.save(name + ".qcow2")
        add(name, desc)

    fsize = os.path.getsize(path("fix-base.qcow2"))
    end_cl = fsize // 65536

    # ---- refcounts
    dmg("fix-base.qcow2", "leak-unused",
        "file grown by one cluster whose refcount is 1",
        lambda m: (m.img.truncate(fsize + 65536),
                   m.set_refcount(end_cl, 1)))
    dmg("fix-base.qcow2", "leak-beyond-eof",
        "refcount 1 for a cluster beyond the end of the file "
        "(inside refblock 0)",
        lambda m: m.set_refcount(end_cl + 5, 1))

    def leak_bump(m):
        j, e = m.data_entries()[0]
        m.set_refcount(cl(e & 0xfffffffffe00), 2)
    dmg("fix-base.qcow2", "leak-bump",
        "refcount of an active data cluster 1->2", leak_bump)

    def rc_low(m):
        j, e = m.data_entries()[0]   # cluster 0: shared with snapshot
        c = cl(e & 0xfffffffffe00)
        assert m.refcount(c) == 2, m.refcount(c)
        m.set_refcount(c, 1)
    dmg("fix-snap.qcow2", "refcount-too-low",
        "snapshotted data cluster refcount 2->1", rc_low)

    def rc_zero_data(m):
        j, e = m.data_entries()[1]
        m.set_refcount(cl(e & 0xfffffffffe00), 0)
    dmg("fix-base.qcow2", "refcount-zero-data",
        "refcount 0 for a used data cluster", rc_zero_data)
    dmg("fix-base.qcow2", "refcount-zero-l2",
        "refcount 0 for the L2 table",
        lambda m: m.set_refcount(cl(m.l2_table(0)), 0))

    # ---- L1 / L2 entries
    dmg("fix-base.qcow2", "l1-overlap-reftable",
        "L1 entry 0 points at the refcount table cluster",
        lambda m: m.set_l1(0, (1 << 63) | m.rt_off))

    def shared(m):
        ents = m.data_entries()
        m.set_l2(0, ents[1][0], ents[0][1])
    dmg("fix-base.qcow2", "l2-shared-cluster",
        "two L2 entries point at the same data cluster", shared)
    dmg("fix-base.qcow2", "l1-unaligned",
        "L1 entry 0: L2 table offset +512",
        lambda m: m.set_l1(0, m.l1(0) + 512))

    def l2_unaligned(m):
        j, e = m.data_entries()[1]
        m.set_l2(0, j, e + 512)
    dmg("fix-base.qcow2", "l2-unaligned-data",
        "L2 data entry offset +512", l2_unaligned)

    def l2_unaligned_zero(m):
        j, e = m.data_entries()[0]
        assert e & 1, hex(e)
        m.set_l2(0, j, e + 512)
    dmg("fix-prealloc.qcow2", "l2-unaligned-zero",
        "preallocated zero-flag L2 entry offset +512", l2_unaligned_zero)

    dmg("fix-base.qcow2", "l1-reserved",
        "L1 entry 0 with reserved bit 62 set",
        lambda m: m.set_l1(0, m.l1(0) | (1 << 62)))

    def l2_reserved(m):
        j, e = m.data_entries()[0]
        m.set_l2(0, j, e | (1 << 56))
    dmg("fix-base.qcow2", "l2-reserved",
        "L2 data entry with reserved bit 56 set", l2_reserved)

    def copied_clear(m):
        j, e = m.data_entries()[2]
        m.set_l2(0, j, e & ~(1 << 63))
    dmg("fix-base.qcow2", "copied-cleared",
        "COPIED flag cleared on an active refcount-1 data cluster",
        copied_clear)

    def copied_set(m):
        j, e = m.data_entries()[0]
        assert not e & (1 << 63)
        m.set_l2(0, j, e | (1 << 63))
    dmg("fix-snap.qcow2", "copied-set-shared",
        "COPIED flag set on a data cluster shared with a snapshot",
        copied_set)

    def l1_copied_clear(m):
        m.set_l1(0, m.l1(0) & ~(1 << 63))
    dmg("fix-base.qcow2", "l1-copied-cleared",
        "COPIED flag cleared on the active L1 entry of an unshared L2",
        l1_copied_clear)

    def comp_copied(m):
        for j in range(m.l2_entries):
            e = m.l2(0, j)
            if e & (1 << 62):
                m.set_l2(0, j, e | (1 << 63))
                return
        raise RuntimeError("no compressed entry")
    dmg("fix-comp.qcow2", "compressed-copied",
        "compressed L2 entry with COPIED set", comp_copied)

    # ---- refcount table
    dmg("fix-base.qcow2", "reftable-past-eof",
        "refcount table entry 1 points far past EOF",
        lambda m: m.set_rt(1, 0x10000000))
    dmg("fix-base.qcow2", "reftable-reserved",
        "refcount table entry 0 with reserved bit 8 set",
        lambda m: m.set_rt(0, m.rt(0) | 0x100))
    dmg("fix-base.qcow2", "reftable-unaligned",
        "refcount table entry 0 offset +512",
        lambda m: m.set_rt(0, m.rt(0) + 512))

    def refblock_rc2(m):
        m.set_refcount(cl(m.rt(0)), 2)
    dmg("fix-base.qcow2", "refblock-refcount-2",
        "refcount of refcount block 0 is 2", refblock_rc2)

    # ---- refcount overflow (refcount_bits=1 + snapshot)
    create("refbits1-snap.qcow2", "4M", "refcount_bits=1")
    qio("refbits1-snap.qcow2", "write -P 0x11 0 128k")
    p = qimg("snapshot", "-c", "s1", "refbits1-snap.qcow2", check=False)
    add("refbits1-snap", "refcount_bits=1 with data, after an attempted "
        "snapshot (exit %d: %s)" % (p.returncode,
                                    p.stderr.decode().strip()[:80]))
    create("refbits1-dup.qcow2", "4M", "refcount_bits=1")
    qio("refbits1-dup.qcow2", "write -P 0x11 0 128k")

    def rb1_dup(m):
        e0 = m.l2(0, 0)
        m.set_l2(0, 1, e0)
    m = Meta("refbits1-dup.qcow2")
    rb1_dup(m)
    m.save("refbits1-dup.qcow2")
    add("refbits1-dup", "refcount_bits=1, two L2 entries share a cluster "
        "(refcount overflow)")

    # A snapshot table written over a data cluster, with so much extra
    # data that it reaches far past the end of the file: it is never
    # counted, so -r all must not free "its" clusters (they are data).
    def snap_table_over_data(m):
        j, e = m.data_entries()[0]
        host = e & 0xfffffffffe00
        hdr = struct.pack(">QIHHIIQIIQ", 0, 0, 1, 1, 0, 0, 0, 0, 0x200000, 0)
        m.img.poke(host, hdr[:40])
        m.img.set_field("nb_snapshots", 1)
        m.img.set_field("snapshots_offset", host)
    dmg("fix-base.qcow2", "snap-table-over-data",
        "one snapshot entry written over a data cluster, extra_data_size "
        "2 MiB (the table reaches past the end of the file)",
        snap_table_over_data)

    # A snapshot table past QEMU's 64 MiB cap: 520 entries with 64 KiB
    # names (a sparse 68 MiB file); -r all discards the overhang.
    def snap_table_too_big(m):
        base = -(-len(m.img.data) // 65536) * 65536
        entry = (struct.pack(">QIHHIIQIIQQQ", 0, 0, 0xffff, 0xffff, 0, 0, 0,
                             0, 24, 0, 0, 0) + b"i" * 0xffff + b"n" * 0xffff)
        step = (len(entry) + 7) & ~7
        for k in range(520):
            m.img.poke(base + k * step, entry)
        m.img.set_field("nb_snapshots", 520)
        m.img.set_field("snapshots_offset", base)
    dmg("fix-base.qcow2", "snap-table-too-big",
        "520 snapshot entries with 64 KiB id and name: a table past "
        "QEMU's 64 MiB cap", snap_table_too_big)

    def l2_unaligned_copied(m):
        j, e = m.data_entries()[0]
        l2 = m.l2_table(0)
        m.img.poke_int(l2 + 0x200, 8, e & ~(1 << 63))
        m.set_l1(0, m.l1(0) + 0x200)
    dmg("fix-base.qcow2", "l2-unaligned-copied",
        "L1 entry +0x200 (an unaligned L2 table) whose first entry is a "
        "data cluster without COPIED", l2_unaligned_copied)

    dmg("fix-base.qcow2", "reftable-entry-2-63",
        "refcount table entry 0 = 2^63 (a block no read can reach)",
        lambda m: m.set_rt(0, 1 << 63))

    def comp_bitmap(m):
        j = next(k for k in range(m.l2_entries) if m.l2(0, k) & (1 << 62))
        m.img.poke_int(m.l2_addr(0, j + 3) + 8, 8, 1)
    dmg("fix-comp-extl2.qcow2", "compressed-subcluster-bitmap",
        "extended L2: a compressed cluster's entry with a non-zero "
        "subcluster bitmap", comp_bitmap)

    # ---- counts past 65535: 32-bit refcounts, one cluster referenced
    # 73728 times (every entry of an L2 table, the table 9 times in L1)
    create("refbits32-wide.qcow2", "5G", "refcount_bits=32")
    qio("refbits32-wide.qcow2", "write -P 0x11 0 64k")

    def wide(m):
        j, e = m.data_entries()[0]
        for k in range(m.l2_entries):
            m.set_l2(0, k, e)
        for i in range(1, 9):
            m.set_l1(i, m.l1(0))
    m = Meta("refbits32-wide.qcow2")
    wide(m)
    m.save("refbits32-wide.qcow2")
    add("refbits32-wide", "refcount_bits=32, one cluster referenced 73728 "
        "times (counts past 16 bits)")

    # ---- L2 tables shared by several L1 tables (read once by our check)
    create("fix-shared.qcow2", "4M")
    qio("fix-shared.qcow2", "write -P 0x11 0 192k")
    for n in ("s1", "s2", "s3"):
        qimg("snapshot", "-c", n, "fix-shared.qcow2")

    def shared_reserved(m):
        j, e = m.data_entries()[0]
        m.set_l2(0, j, e | 4)
    dmg("fix-shared.qcow2", "shared-l2-reserved",
        "reserved bit in an L2 table shared by the active L1 and three "
        "snapshots (reported for each)", shared_reserved)
    send = -(-os.path.getsize(path("fix-shared.qcow2")) // 65536)
    dmg("fix-shared.qcow2", "shared-l2-leak",
        "L2 table shared by four L1 tables, and a leaked cluster",
        lambda m: (m.img.truncate((send + 1) * 65536),
                   m.set_refcount(send, 1)))
    create("refbits2-shared.qcow2", "4M", "refcount_bits=2")
    qio("refbits2-shared.qcow2", "write -P 0x11 0 128k")
    qimg("snapshot", "-c", "s1", "refbits2-shared.qcow2")
    qimg("snapshot", "-c", "s2", "refbits2-shared.qcow2")

    def rb2_dup(m):
        ents = m.data_entries()
        m.set_l2(0, ents[1][0], ents[0][1])
    dmg("refbits2-shared.qcow2", "refbits2-shared-overflow",
        "refcount_bits=2, an L2 table shared by three L1 tables with two "
        "entries on one cluster (overflow while walking the snapshots)",
        rb2_dup)

    # ---- snapshot table
    dmg("fix-snap.qcow2", "snap-extra-too-big",
        "snapshot entry extra_data_size=2000 (>1024)",
        lambda m: m.img.poke_int(m.snap_entry(0) + 36, 4, 2000))
    dmg("fix-snap.qcow2", "snap-l1-unaligned",
        "snapshot entry l1_table_offset +512",
        lambda m: m.img.poke_int(m.snap_entry(0), 8,
                                 m.img.peek_int(m.snap_entry(0), 8) + 512))
    dmg("fix-snap.qcow2", "snap-l1-too-large",
        "snapshot entry l1_size=0x4000000",
        lambda m: m.img.poke_int(m.snap_entry(0) + 8, 4, 0x4000000))
    dmg("fix-snap.qcow2", "snap-extra-too-small",
        "v3 snapshot entry extra_data_size=8 (<16)",
        lambda m: m.img.poke_int(m.snap_entry(0) + 36, 4, 8))

    # ---- bitmaps
    dmg("fix-bitmap.qcow2", "bitmap-dir-bad-type",
        "bitmap directory entry type=2",
        lambda m: m.img.poke_int(m.bitmap_dir() + 16, 1, 2))
    dmg("fix-bitmap.qcow2", "bitmap-dir-bad-granularity",
        "bitmap directory entry granularity_bits=40",
        lambda m: m.img.poke_int(m.bitmap_dir() + 17, 1, 40))

    def bm_table_reserved(m):
        tab = m.img.peek_int(m.bitmap_dir(), 8)
        m.img.poke_int(tab, 8, m.img.peek_int(tab, 8) | 2)
    dmg("fix-bitmap.qcow2", "bitmap-table-reserved",
        "bitmap table entry 0 with reserved bit 1 set", bm_table_reserved)

    def bm_table_unaligned(m):
        tab = m.img.peek_int(m.bitmap_dir(), 8)
        e = m.img.peek_int(tab, 8)
        assert e > 1, hex(e)
        m.img.poke_int(tab, 8, e + 512)
    dmg("fix-bitmap.qcow2", "bitmap-table-unaligned",
        "bitmap table entry 0 offset +512", bm_table_unaligned)

    # repairs on images with bitmaps (7.2 rewrites those on a RW open)
    bend = -(-os.path.getsize(path("fix-bitmap.qcow2")) // 65536)
    dmg("fix-bitmap.qcow2", "bitmap-leak",
        "image with a bitmap, grown by one cluster whose refcount is 1",
        lambda m: (m.img.truncate((bend + 1) * 65536),
                   m.set_refcount(bend, 1)))

    def bm_table_rc_zero(m):
        tab = m.img.peek_int(m.bitmap_dir(), 8)
        m.set_refcount(cl(tab), 0)
    dmg("fix-bitmap.qcow2", "bitmap-table-refcount-zero",
        "refcount 0 for the cluster of a bitmap table (rebuild)",
        bm_table_rc_zero)

    # in-use bitmaps are not loaded at open, so their table reaches check
    def inuse_tab(fn):
        def f(m):
            tab = m.img.peek_int(m.bitmap_dir(), 8)
            fn(m, tab)
        return f
    dmg("bitmaps-inuse.qcow2", "bitmap-inuse-table-reserved",
        "in-use bitmap: table entry 0 with reserved bit 1 set",
        inuse_tab(lambda m, t: m.img.poke_int(t, 8, m.img.peek_int(t, 8) | 2)))
    dmg("bitmaps-inuse.qcow2", "bitmap-inuse-table-unaligned",
        "in-use bitmap: table entry 0 = 0x50200 (unaligned)",
        inuse_tab(lambda m, t: m.img.poke_int(t, 8, 0x50200)))
    dmg("bitmaps-inuse.qcow2", "bitmap-inuse-table-past-eof",
        "in-use bitmap: table entry 0 points far past EOF",
        inuse_tab(lambda m, t: m.img.poke_int(t, 8, 0x40000000)))
    dmg("bitmaps-inuse.qcow2", "bitmap-inuse-dir-bad-table-offset",
        "in-use bitmap: directory entry table offset 0 ",
        lambda m: m.img.poke_int(m.bitmap_dir(), 8, 0))

    # ---- regions past EOF
    dmg("fix-base.qcow2", "l2-past-eof",
        "L1 entry 0 points at an L2 table far beyond EOF",
        lambda m: m.set_l1(0, (1 << 63) | 0x40000000))

    def data_past_eof(m):
        j, e = m.data_entries()[0]
        m.set_l2(0, j, (1 << 63) | 0x40000000)
    dmg("fix-base.qcow2", "data-past-eof",
        "L2 data entry points far beyond EOF", data_past_eof)
    dmg("fix-base.qcow2", "truncated",
        "image truncated by one data cluster",
        lambda m: m.img.truncate(fsize - 65536))

    # ---- header bits
    dmg("fix-base.qcow2", "dirty-bit",
        "dirty bit set on a clean image",
        lambda m: m.img.set_feature_bit("incompatible", 0))
    dmg("fix-base.qcow2", "corrupt-bit",
        "corrupt bit set on a clean image",
        lambda m: m.img.set_feature_bit("incompatible", 1))

    for f in ("fix-base", "fix-snap", "fix-bitmap", "fix-prealloc",
              "fix-comp"):
        add(f, "fixture for damaged cases (valid)")


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit("usage: make-corpus.py OUTDIR")
    OUT = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    valid_images()
    damaged_images()
    with open(path("cases.tsv"), "w") as f:
        for name, desc in CASES:
            f.write("%s\t%s\n" % (name, desc))


if __name__ == "__main__":
    main()
