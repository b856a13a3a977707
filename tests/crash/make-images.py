#!/usr/bin/env python3
"""Damaged images for the crash-injection test of `check -r all`.

usage: make-images.py OUTDIR

Writes OUTDIR/NAME.qcow2 for every image and OUTDIR/images.tsv with lines
"NAME<TAB>description".  Each image needs a repair by `check -r all`.
The valid fixtures are built with the reference tools (REF_QEMU_IMG,
REF_QEMU_IO), the damage is applied with the helpers of
tests/check/make-corpus.py (which uses tests/damaged/corrupt.py).
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "make_corpus", os.path.join(HERE, "..", "check", "make-corpus.py"))
mc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc)

IMAGES = []

OFF_MASK = 0x00fffffffffffe00
COPIED = 1 << 63


def dmg(fixture, name, desc, fn):
    m = mc.Meta(fixture)
    fn(m)
    m.save(name + ".qcow2")
    IMAGES.append((name, desc))


def cl(m, off):
    return off // m.cs


def grow_leak(m, nclusters=1):
    """Grow the file by NCLUSTERS clusters, each with refcount 1."""
    size = os.path.getsize(mc.path(m.fname))
    size = (size + m.cs - 1) // m.cs * m.cs
    m.img.truncate(size + nclusters * m.cs)
    for i in range(nclusters):
        m.set_refcount(size // m.cs + i, 1)


def data_cluster(m, k, l1i=0):
    j, e = m.data_entries(l1i)[k]
    return j, e, cl(m, e & OFF_MASK)


def refcount_zero_data(m, k=1):
    m.set_refcount(data_cluster(m, k)[2], 0)


def fixtures():
    mc.create("fix-base.qcow2", "4M")
    mc.qio("fix-base.qcow2", "write -P 0x11 0 192k", "write -P 0x22 1M 64k")
    mc.create("fix-snap.qcow2", "4M")
    mc.qio("fix-snap.qcow2", "write -P 0x11 0 192k")
    mc.qimg("snapshot", "-c", "snap1", "fix-snap.qcow2")
    mc.qio("fix-snap.qcow2", "write -P 0x22 64k 64k")
    mc.create("fix-prealloc.qcow2", "4M", "preallocation=metadata")
    mc.qio("fix-prealloc.qcow2", "write -z 0 1M")

    mc.create("fix-v2.qcow2", "4M", "compat=0.10")
    mc.qio("fix-v2.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")

    mc.create("fix-cs512.qcow2", "8M", "cluster_size=512")
    mc.qio("fix-cs512.qcow2", "write -P 0x11 0 100k", "write -P 0x22 5M 3k",
           "write -P 0x33 7M 1M")
    mc.create("fix-cs2M.qcow2", "8M", "cluster_size=2M")
    mc.qio("fix-cs2M.qcow2", "write -P 0x11 0 100k", "write -P 0x22 5M 3k",
           "write -P 0x33 7M 1M")

    mc.create("fix-extl2.qcow2", "4M", "extended_l2=on")
    mc.qio("fix-extl2.qcow2", "write -P 0x11 0 4k", "write -P 0x22 68k 8k",
           "write -P 0x33 1M 64k", "write -z 2M 4k", "write -P 0x44 3M 32k")
    mc.create("fix-extl2-prealloc.qcow2", "4M",
              "extended_l2=on,preallocation=metadata")
    mc.qio("fix-extl2-prealloc.qcow2", "write -P 0x55 0 8k")

    mc.create("fix-snaps.qcow2", "4M")
    mc.qio("fix-snaps.qcow2", "write -P 0x11 0 128k")
    mc.qimg("snapshot", "-c", "first", "fix-snaps.qcow2")
    mc.qio("fix-snaps.qcow2", "write -P 0x22 64k 128k")
    mc.qimg("snapshot", "-c", "second", "fix-snaps.qcow2")
    mc.qio("fix-snaps.qcow2", "write -P 0x33 1M 64k", "write -z 0 64k")
    mc.qimg("snapshot", "-c", "third", "fix-snaps.qcow2")
    mc.qio("fix-snaps.qcow2", "write -P 0x44 3M 64k")

    mc.create("fix-rb64.qcow2", "4M", "refcount_bits=64")
    mc.qio("fix-rb64.qcow2", "write -P 0x11 0 128k", "write -P 0x22 2M 64k")


def killed_lazy(name, size, writes):
    mc.create(name + ".qcow2", size, "lazy_refcounts=on")
    mc.qio(name + ".qcow2", *(list(writes) + ["sigraise 9"]), ok=(-9, 137))


def images():
    fixtures()

    # ---- refcounts, 64k clusters, v3
    dmg("fix-base.qcow2", "leak-unused",
        "file grown by one cluster whose refcount is 1", grow_leak)
    dmg("fix-base.qcow2", "leaks-many",
        "file grown by 12 clusters with refcount 1",
        lambda m: grow_leak(m, 12))

    def leak_bump(m):
        m.set_refcount(data_cluster(m, 0)[2], 2)
    dmg("fix-base.qcow2", "leak-bump",
        "refcount of an active data cluster 1->2", leak_bump)

    def rc_low(m):
        c = data_cluster(m, 0)[2]
        assert m.refcount(c) == 2
        m.set_refcount(c, 1)
    dmg("fix-snap.qcow2", "refcount-too-low",
        "snapshotted data cluster refcount 2->1", rc_low)
    dmg("fix-base.qcow2", "refcount-zero-data",
        "refcount 0 for a used data cluster (rebuild)", refcount_zero_data)
    dmg("fix-base.qcow2", "refcount-zero-l2",
        "refcount 0 for the L2 table (rebuild)",
        lambda m: m.set_refcount(cl(m, m.l2_table(0)), 0))

    def rc_zero_and_leak(m):
        refcount_zero_data(m)
        grow_leak(m, 3)
    dmg("fix-base.qcow2", "refcount-zero-and-leaks",
        "refcount 0 for a data cluster and 3 leaked clusters (rebuild)",
        rc_zero_and_leak)
    dmg("fix-base.qcow2", "refblock-refcount-2",
        "refcount of refcount block 0 is 2",
        lambda m: m.set_refcount(cl(m, m.rt(0)), 2))

    # ---- COPIED flags
    def copied_clear(m):
        j, e, _ = data_cluster(m, 2)
        m.set_l2(0, j, e & ~COPIED)
    dmg("fix-base.qcow2", "copied-cleared",
        "COPIED cleared on an active refcount-1 data cluster", copied_clear)

    def copied_set(m):
        j, e, _ = data_cluster(m, 0)
        assert not e & COPIED
        m.set_l2(0, j, e | COPIED)
    dmg("fix-snap.qcow2", "copied-set-shared",
        "COPIED set on a data cluster shared with a snapshot", copied_set)
    dmg("fix-base.qcow2", "l1-copied-cleared",
        "COPIED cleared on the active L1 entry",
        lambda m: m.set_l1(0, m.l1(0) & ~COPIED))

    def shared(m):
        ents = m.data_entries()
        m.set_l2(0, ents[1][0], ents[0][1])
    dmg("fix-base.qcow2", "l2-shared-cluster",
        "two L2 entries point at the same data cluster", shared)

    # ---- snapshot table (rewritten elsewhere, header moved, old freed)
    def extra_too_small(m):
        # the last entry keeps 8 bytes of extra data; id and name move up
        off = m.snap_entry(2)
        id_len = m.img.peek_int(off + 12, 2)
        name_len = m.img.peek_int(off + 14, 2)
        extra = m.img.peek_int(off + 36, 4)
        names = m.img.peek(off + 40 + extra, id_len + name_len)
        m.img.poke_int(off + 36, 4, 8)
        m.img.poke(off + 48, names)
    dmg("fix-snaps.qcow2", "snap-extra-too-small",
        "v3 snapshot entry extra_data_size=8 (<16)", extra_too_small)
    dmg("fix-snaps.qcow2", "snap-extra-too-big",
        "snapshot entry extra_data_size=2000 (>1024)",
        lambda m: m.img.poke_int(m.snap_entry(1) + 36, 4, 2000))

    # ---- L2 entries
    def l2_unaligned_zero(m):
        j, e = m.data_entries()[0]
        assert e & 1
        m.set_l2(0, j, e + 512)
    dmg("fix-prealloc.qcow2", "l2-unaligned-zero",
        "preallocated zero-flag L2 entry offset +512", l2_unaligned_zero)

    def many_unaligned_zero(m):
        for j, e in m.data_entries()[:6]:
            assert e & 1
            m.set_l2(0, j, e + 512)
    dmg("fix-prealloc.qcow2", "l2-unaligned-zero-6",
        "six preallocated zero-flag L2 entries offset +512",
        many_unaligned_zero)

    # ---- refcount table
    dmg("fix-base.qcow2", "reftable-past-eof",
        "refcount table entry 1 points far past EOF (refblock past EOF)",
        lambda m: m.set_rt(1, 0x10000000))
    dmg("fix-base.qcow2", "reftable-reserved",
        "refcount table entry 0 with reserved bit 8 set (rebuild)",
        lambda m: m.set_rt(0, m.rt(0) | 0x100))
    dmg("fix-base.qcow2", "reftable-unaligned",
        "refcount table entry 0 offset +512 (rebuild)",
        lambda m: m.set_rt(0, m.rt(0) + 512))

    # ---- header bits
    def dirty_and_leak(m):
        m.img.set_feature_bit("incompatible", 0)
        grow_leak(m, 2)
    dmg("fix-base.qcow2", "dirty-bit-leaks",
        "dirty bit set, 2 leaked clusters", dirty_and_leak)

    def corrupt_and_rc_zero(m):
        m.img.set_feature_bit("incompatible", 1)
        refcount_zero_data(m)
    dmg("fix-base.qcow2", "corrupt-bit-rebuild",
        "corrupt bit set, refcount 0 for a data cluster (rebuild)",
        corrupt_and_rc_zero)

    def corrupt_and_copied(m):
        m.img.set_feature_bit("incompatible", 1)
        copied_clear(m)
    dmg("fix-base.qcow2", "corrupt-bit-copied",
        "corrupt bit set, COPIED cleared on a data cluster",
        corrupt_and_copied)

    killed_lazy("dirty-lazy", "4M",
                ["write -P 0x11 0 128k", "write -P 0x22 2M 64k"])
    IMAGES.append(("dirty-lazy", "lazy_refcounts=on killed after writes "
                   "(dirty bit, stale refcounts)"))
    killed_lazy("dirty-lazy-big", "64M",
                ["write -P 0x%02x %dM 192k" % (i + 1, 2 * i)
                 for i in range(24)])
    IMAGES.append(("dirty-lazy-big", "lazy_refcounts=on, 64M, 24 writes "
                   "across several L2 tables, killed"))

    # ---- v2
    dmg("fix-v2.qcow2", "v2-leak", "compat=0.10, one leaked cluster",
        grow_leak)
    dmg("fix-v2.qcow2", "v2-refcount-zero",
        "compat=0.10, refcount 0 for a data cluster (rebuild)",
        refcount_zero_data)

    # ---- cluster sizes
    # W > 320: exercises run.sh's sampling of crash points
    dmg("fix-cs512.qcow2", "cs512-leaks",
        "cluster_size=512, 170 leaked clusters", lambda m: grow_leak(m, 170))
    dmg("fix-cs512.qcow2", "cs512-refcount-zero",
        "cluster_size=512, refcount 0 for a data cluster (rebuild)",
        refcount_zero_data)

    def cs512_copied(m):
        for k in (3, 30, 60):
            j, e, _ = data_cluster(m, k)
            m.set_l2(0, j, e & ~COPIED)
    dmg("fix-cs512.qcow2", "cs512-copied-cleared",
        "cluster_size=512, COPIED cleared on three data clusters",
        cs512_copied)
    dmg("fix-cs2M.qcow2", "cs2M-leak",
        "cluster_size=2M, one leaked cluster", grow_leak)
    dmg("fix-cs2M.qcow2", "cs2M-refcount-zero",
        "cluster_size=2M, refcount 0 for a data cluster (rebuild)",
        refcount_zero_data)

    # ---- refcount width
    dmg("fix-rb64.qcow2", "rb64-refcount-zero",
        "refcount_bits=64, refcount 0 for a data cluster (rebuild)",
        refcount_zero_data)

    # ---- snapshots
    def snaps_rc_zero(m):
        c = data_cluster(m, 0)[2]
        m.set_refcount(c, 0)
    dmg("fix-snaps.qcow2", "snapshots-refcount-zero",
        "three snapshots, refcount 0 for an active data cluster (rebuild)",
        snaps_rc_zero)

    def snaps_low(m):
        for k in range(len(m.data_entries())):
            c = data_cluster(m, k)[2]
            r = m.refcount(c)
            if r > 1:
                m.set_refcount(c, r - 1)
                return
        raise RuntimeError("no shared cluster")
    dmg("fix-snaps.qcow2", "snapshots-too-low",
        "three snapshots, a shared cluster's refcount one too low",
        snaps_low)

    # ---- extended L2
    dmg("fix-extl2.qcow2", "extl2-refcount-zero",
        "extended_l2=on, refcount 0 for a data cluster (rebuild)",
        refcount_zero_data)

    def extl2_leak_copied(m):
        j, e, _ = data_cluster(m, 1)
        m.set_l2(0, j, e & ~COPIED)
        grow_leak(m, 2)
    dmg("fix-extl2.qcow2", "extl2-copied-leaks",
        "extended_l2=on, COPIED cleared, 2 leaked clusters",
        extl2_leak_copied)

    def extl2_unaligned_prealloc(m):
        # entries with an offset but no allocated subcluster
        for j in range(m.l2_entries):
            e = m.l2(0, j)
            bm = m.img.peek_int(m.l2_addr(0, j) + 8, 8)
            if e & OFF_MASK and not bm & 0xffffffff:
                m.set_l2(0, j, e + 512)
                return
        raise RuntimeError("no preallocated extended L2 entry")
    dmg("fix-extl2-prealloc.qcow2", "extl2-unaligned-prealloc",
        "extended_l2=on, preallocated entry without data offset +512",
        extl2_unaligned_prealloc)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-images.py OUTDIR")
    mc.OUT = os.path.abspath(sys.argv[1])
    os.makedirs(mc.OUT, exist_ok=True)
    images()
    with open(mc.path("images.tsv"), "w") as f:
        for name, desc in IMAGES:
            f.write("%s\t%s\n" % (name, desc))


if __name__ == "__main__":
    main()
