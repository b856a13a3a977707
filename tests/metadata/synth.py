#!/usr/bin/env python3
"""Synthetic qcow2 images with a layout chosen byte by byte.

usage: synth.py OUTDIR      writes the images of IMAGES into OUTDIR

Each image comes with the `viscera` value it must produce, written by
hand (not computed by qcow2_layout.py), so the images test both the
reader and `qemu-img check -M`.  The two "seed" images reproduce the
metadata layouts of the two examples in the original proposal's cover
letter (shared/seeds/002_8aa214776e21a2b3.txt): the same offsets and
sizes, so the expected values are the seed's `viscera`, plus what our
schema adds (header extensions, refcount blocks).  Refcounts are
written consistently, so the reference `qemu-img check` finds no
errors in them (test_layout.py checks that).
"""

import os
import struct
import sys

QCOW_MAGIC = 0x514649FB
COPIED = 1 << 63


class Image:
    def __init__(self, cluster_bits, size, version=3, header_length=112):
        self.cluster_bits = cluster_bits
        self.cs = 1 << cluster_bits
        self.size = size
        self.version = version
        self.header_length = header_length if version == 3 else 72
        self.l1 = (0, 0)                 # offset, entries
        self.reftable = (0, 0)           # offset, clusters
        self.snapshots = (0, 0)          # count, offset
        self.autoclear = 0
        self.incompat = 0
        self.exts = []                   # (magic, data)
        self.blobs = {}                  # offset -> bytes
        self.refs = {}                   # cluster -> refcount
        self.backing = None

    def put(self, offset, data):
        self.blobs[offset] = data

    def ref(self, offset, length=None, count=1):
        """Count a reference to the clusters of [offset, offset+length)."""
        length = length or self.cs
        for c in range(offset // self.cs, (offset + length - 1) // self.cs + 1):
            self.refs[c] = self.refs.get(c, 0) + count

    def table(self, offset, entries):
        self.put(offset, struct.pack(">%dQ" % len(entries), *entries))

    def refcounts(self, table_offset, block_offset):
        """One 16-bit refcount block covering everything."""
        self.reftable = (table_offset, 1)
        self.ref(0)
        self.ref(table_offset)
        self.ref(block_offset)
        per_block = self.cs // 2
        assert max(self.refs) < per_block
        self.table(table_offset, [block_offset])
        blk = bytearray(self.cs)
        for c, n in self.refs.items():
            struct.pack_into(">H", blk, c * 2, n)
        self.put(block_offset, bytes(blk))

    def header(self):
        h = struct.pack(">IIQIIQIIQQIIQ", QCOW_MAGIC, self.version, 0, 0,
                        self.cluster_bits, self.size, 0, self.l1[1],
                        self.l1[0], self.reftable[0], self.reftable[1],
                        self.snapshots[0], self.snapshots[1])
        if self.version == 3:
            h += struct.pack(">QQQII", self.incompat, 0, self.autoclear, 4,
                             self.header_length)
            h += bytes(self.header_length - len(h))
        for magic, data in self.exts:
            h += struct.pack(">II", magic, len(data)) + data
            h += bytes(-len(h) % 8)
        h += bytes(8)
        assert len(h) <= self.cs
        return h

    def write(self, path):
        with open(path, "wb") as f:
            end = self.cs
            f.write(self.header())
            for off, data in sorted(self.blobs.items()):
                f.seek(off)
                f.write(data)
                end = max(end, off + len(data))
            f.truncate(max(end, max(self.refs) * self.cs + self.cs))


def alloc(offset, size):
    return {"offset": offset, "size": size}


def snapshot_entry(l1_offset, l1_size, sid, name, disk_size):
    sid, name = sid.encode(), name.encode()
    extra = struct.pack(">QQ", 0, disk_size)         # vm state, disk size
    e = struct.pack(">QIHHIIQII", l1_offset, l1_size, len(sid), len(name),
                    0, 0, 0, 0, len(extra))
    return e + extra + sid + name


def seed_snapshots():
    """The cover letter's "Snapshots dump example" (1 MiB clusters)."""
    M = 1 << 20
    img = Image(20, 153600 * M)
    img.l1 = (4194304, 2)
    active_l2 = [619708416, 1156579328]
    snap_l2 = [3957325824, 7025459200]
    img.table(img.l1[0], [o | COPIED for o in active_l2])
    img.ref(img.l1[0])
    for o in active_l2:
        img.put(o, bytes(8))
        img.ref(o)
    names = ["{3036f6c5-3a1f-44cb-af1f-653cc87fba04}",
             "{0aa1a7d6-16ee-4b44-a515-b5ecc571c959}"]
    snap_l1 = [14680064, 638582784]
    for off in snap_l1:
        img.table(off, snap_l2)
        img.ref(off)
    for o in snap_l2:
        img.put(o, bytes(8))
        img.ref(o, count=2)
    e1 = snapshot_entry(snap_l1[0], 2, "1", names[0], img.size)
    e2 = snapshot_entry(snap_l1[1], 2, "2", names[1], img.size)
    assert len(e1) == len(e2) == 95
    table = e1 + bytes(1) + e2
    img.snapshots = (2, 648019968)
    img.put(648019968, table)
    img.ref(648019968, len(table))
    img.refcounts(3845128192, 1048576)
    expected = {
        "refcount-table": {
            "location": alloc(3845128192, 1048576),
            "refcount-blocks": [alloc(1048576, 1048576)],
        },
        "active-l1": {
            "name": "L1 active table",
            "location": alloc(4194304, 16),
            "l2-list": [alloc(619708416, 1048576),
                        alloc(1156579328, 1048576)],
        },
        "qcow2-header": {"location": alloc(0, 1048576), "version": 3},
        "snapshot-table": {
            "location": alloc(648019968, 191),
            "l1-list": [
                {"name": names[0], "location": alloc(14680064, 16),
                 "l2-list": [alloc(3957325824, 1048576),
                             alloc(7025459200, 1048576)]},
                {"name": names[1], "location": alloc(638582784, 16),
                 "l2-list": [alloc(3957325824, 1048576),
                             alloc(7025459200, 1048576)]},
            ],
        },
    }
    return img, expected


def bitmap_dir_entry(table_offset, table_size, gran_bits, name, flags=0):
    name = name.encode()
    e = struct.pack(">QIIBBHI", table_offset, table_size, flags, 1,
                    gran_bits, len(name), 0) + name
    return e + bytes(-len(e) % 8)


def seed_bitmaps():
    """The cover letter's "Bitmaps dump example" (64 KiB clusters)."""
    K = 65536
    img = Image(16, 16 * K)
    img.autoclear = 1
    img.l1 = (196608, 1)
    img.table(196608, [262144 | COPIED])
    img.ref(196608)
    img.put(262144, bytes(8))
    img.ref(262144)
    img.table(589824, [0])                       # bitmap-1: all zeros
    img.ref(589824)
    img.table(983040, [655360])                  # bitmap-2: serialized
    img.ref(983040)
    img.put(655360, b"\x01")                     # first 64k dirty
    img.ref(655360)
    d = bitmap_dir_entry(589824, 1, 16, "bitmap-1") + \
        bitmap_dir_entry(983040, 1, 16, "bitmap-2")
    assert len(d) == 64
    img.put(1048576, d)
    img.ref(1048576)
    img.exts.append((0x23852875, struct.pack(">IIQQ", 2, 0, 64, 1048576)))
    img.refcounts(65536, 131072)
    expected = {
        "refcount-table": {
            "location": alloc(65536, 65536),
            "refcount-blocks": [alloc(131072, 65536)],
        },
        "active-l1": {
            "name": "L1 active table",
            "location": alloc(196608, 8),
            "l2-list": [alloc(262144, 65536)],
        },
        "bitmaps": {
            "bitmap-dir": {
                "location": alloc(1048576, 64),
                "dir-entries": [
                    {"bitmap-table": {
                        "location": alloc(589824, 8),
                        "table-entries": [{"type": "all-zeros"}]},
                     "bitmap-name": "bitmap-1"},
                    {"bitmap-table": {
                        "location": alloc(983040, 8),
                        "table-entries": [
                            {"cluster": alloc(655360, 65536),
                             "type": "serialized"}]},
                     "bitmap-name": "bitmap-2"},
                ],
            },
            "nb-bitmaps": 2,
        },
        "qcow2-header": {
            "location": alloc(0, 65536),
            "version": 3,
            "header-extensions": [
                {"magic": 0x23852875, "name": "bitmaps",
                 "location": alloc(120, 24)},
            ],
        },
    }
    return img, expected


def v2_snapshots_512():
    """v2, 512-byte clusters, an L1 of several clusters, snapshot entries
    with no extra data and odd lengths (v2 allows extra_data_size 0)."""
    cs = 512
    img = Image(9, 64 * 1024 * 1024, version=2)
    l2_cover = cs // 8 * cs                      # 32 KiB per L2 table
    n_l1 = img.size // l2_cover                  # 2048 entries, 32 clusters
    img.l1 = (2 * cs, n_l1)
    l1 = [0] * n_l1
    l2s = []
    next_free = 2 * cs + n_l1 * 8
    for i in (0, 1, 700, n_l1 - 1):
        l1[i] = next_free | COPIED
        l2s.append(next_free)
        img.put(next_free, bytes(cs))
        img.ref(next_free)
        next_free += cs
    img.table(img.l1[0], l1)
    img.ref(img.l1[0], n_l1 * 8)
    snaps = []
    table = b""
    for k, name in enumerate(["s", "seven c", "x" * 20]):
        off = next_free
        next_free += cs
        img.table(off, [l2s[k] if k < 2 else 0])
        img.ref(off)
        sid = str(k + 1).encode()
        e = struct.pack(">QIHHIIQII", off, 1, len(sid), len(name), 0, 0, 0,
                        0, 0) + sid + name.encode()
        table += bytes(-len(table) % 8) + e
        snaps.append({"name": name, "location": alloc(off, 8),
                      "l2-list": [alloc(l2s[k], cs)] if k < 2 else []})
        if k < 2:
            img.ref(l2s[k])
            l1[k] &= ~COPIED                    # shared with a snapshot
    img.table(img.l1[0], l1)
    st = next_free
    img.put(st, table)
    img.ref(st, len(table))
    next_free += (len(table) + cs - 1) // cs * cs
    img.snapshots = (3, st)
    img.refcounts(next_free, next_free + cs)
    expected = {
        "qcow2-header": {"location": alloc(0, cs), "version": 2},
        "refcount-table": {"location": alloc(next_free, cs),
                           "refcount-blocks": [alloc(next_free + cs, cs)]},
        "active-l1": {"name": "L1 active table",
                      "location": alloc(2 * cs, n_l1 * 8),
                      "l2-list": [alloc(o, cs) for o in l2s]},
        "snapshot-table": {"location": alloc(st, len(table)),
                           "l1-list": snaps},
    }
    # entry lengths 40+1+1, 40+1+7, 40+1+20: 42 -> 48, 48, 61
    assert len(table) == 48 + 48 + 61
    return img, expected


def v2_bitmaps_ext():
    """The seed's bitmaps layout in a v2 image.  v2 has no autoclear
    bits, so the bitmaps extension can never be marked up to date: QEMU
    ignores the bitmaps (their clusters are leaks) and the map has no
    bitmaps member; the extension itself is still listed."""
    img, exp = seed_bitmaps()
    img.version = 2
    img.header_length = 72
    img.autoclear = 0
    del exp["bitmaps"]
    exp["qcow2-header"]["version"] = 2
    exp["qcow2-header"]["header-extensions"][0]["location"]["offset"] = 80
    return img, exp


IMAGES = {
    "seed-snapshots.qcow2": seed_snapshots,
    "seed-bitmaps.qcow2": seed_bitmaps,
    "v2-snapshots-512.qcow2": v2_snapshots_512,
    "v2-bitmaps-ext.qcow2": v2_bitmaps_ext,
}
# images the reference check does not find clean (on purpose)
NOT_CLEAN = {"v2-bitmaps-ext.qcow2"}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    for name, fn in IMAGES.items():
        img, _ = fn()
        img.write(os.path.join(argv[1], name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
