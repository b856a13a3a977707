#!/usr/bin/env python3
"""Hand edits of qcow2 images for the metadata-map corpus.

usage:
  craft.py all-ones IMAGE BITMAP-NAME INDEX...
      Turn bitmap table entries INDEX... (serialized clusters that hold
      only ones) into the all-ones entry 1 and drop the freed clusters'
      refcounts to 0, so the image stays consistent.  QEMU itself never
      writes all-ones entries.
  craft.py add-ext IMAGE MAGIC HEXDATA
      Append a header extension (e.g. an unknown magic) after the last
      one, keeping the end marker; QEMU preserves unknown extensions.
  craft.py header-length IMAGE N
      Set a v3 header_length of N (> the current one, multiple of 8),
      moving the extensions up; the new header bytes are zero.
  craft.py l1-entry IMAGE INDEX VALUE
  craft.py reftable-entry IMAGE INDEX VALUE
      Overwrite an entry of the active L1 / refcount table.
  craft.py snap-field IMAGE INDEX FIELD VALUE
      Overwrite a snapshot table entry's l1_offset or l1_size.
  craft.py snap-name IMAGE INDEX HEXBYTES
  craft.py bitmap-name IMAGE INDEX HEXBYTES
      Overwrite the name bytes of a snapshot / bitmap (same length).
  craft.py bitmap-entry IMAGE BITMAP-INDEX INDEX VALUE
      Overwrite a bitmap table entry.
  craft.py bitmap-flags IMAGE BITMAP-INDEX FLAGS
      Overwrite a bitmap directory entry's flags (1 = in use).

Works on the file bytes only, with the reader of qcow2_layout.py.
"""

import struct
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qcow2_layout as q  # noqa: E402


def rd(f, off, n):
    f.seek(off)
    return f.read(n)


def wr(f, off, data):
    f.seek(off)
    f.write(data)


def set_refcount(f, h, cluster, value):
    bits = 1 << h.refcount_order
    per_block = h.cluster_size * 8 // bits
    idx, sub = divmod(cluster, per_block)
    (rb,) = struct.unpack(">Q", rd(f, h.refcount_table_offset + idx * 8, 8))
    rb &= ~q.REFT_RESERVED_MASK
    if not rb:
        raise SystemExit("cluster %d has no refcount block" % cluster)
    if bits >= 8:
        n = bits // 8
        wr(f, rb + sub * n, value.to_bytes(n, "big"))
    else:
        byte_off = rb + sub * bits // 8
        shift = sub * bits % 8
        mask = ((1 << bits) - 1) << shift
        (b,) = rd(f, byte_off, 1)
        wr(f, byte_off, bytes([(b & ~mask) | ((value << shift) & mask)]))


def all_ones(path, bname, indexes):
    img = q.Image(path)
    h = q.read_header(img)
    exts = q.read_extensions(img, h)
    img.close()
    bm = [e for e in exts if e[0] == q.EXT_BITMAPS]
    if not bm:
        raise SystemExit("%s: no bitmaps extension" % path)
    with open(path, "r+b") as f:
        _nb, _r, dsize, doff = struct.unpack(">IIQQ", rd(f, bm[0][1], 24))
        d = rd(f, doff, dsize)
        pos = 0
        while pos + 24 <= len(d):
            toff, tsize, _fl, _ty, _gr, nsize, esize = \
                struct.unpack_from(">QIIBBHI", d, pos)
            name = d[pos + 24 + esize:pos + 24 + esize + nsize].decode()
            if name == bname:
                break
            pos = q.align_up(pos + 24 + esize + nsize, 8)
        else:
            raise SystemExit("%s: no bitmap %r" % (path, bname))
        for i in indexes:
            if i >= tsize:
                raise SystemExit("entry %d >= table size %d" % (i, tsize))
            (e,) = struct.unpack(">Q", rd(f, toff + i * 8, 8))
            off = e & q.BME_TABLE_ENTRY_OFFSET_MASK
            if not off:
                raise SystemExit("entry %d is not serialized (%#x)" % (i, e))
            if rd(f, off, h.cluster_size) != b"\xff" * h.cluster_size:
                raise SystemExit("entry %d: cluster %#x is not all ones"
                                 % (i, off))
            wr(f, toff + i * 8, struct.pack(">Q", 1))
            set_refcount(f, h, off // h.cluster_size, 0)


def add_ext(path, magic, data):
    img = q.Image(path)
    h = q.read_header(img)
    exts = q.read_extensions(img, h)
    img.close()
    if exts:
        _m, off, length = exts[-1]
        pos = off + q.align_up(length, 8)
    else:
        pos = h.header_length
    end = h.backing_file_offset or h.cluster_size
    rec = struct.pack(">II", magic, len(data)) + data
    rec += bytes(q.align_up(len(rec), 8) - len(rec))
    if pos + len(rec) + 8 > end:
        raise SystemExit("%s: no room for the extension" % path)
    with open(path, "r+b") as f:
        wr(f, pos, rec + bytes(8))


def load(path):
    img = q.Image(path)
    h = q.read_header(img)
    exts = q.read_extensions(img, h)
    img.close()
    return h, exts


def header_length(path, n):
    h, exts = load(path)
    old = h.header_length
    if h.version != 3 or n <= old or n % 8:
        raise SystemExit("bad header length %d (now %d)" % (n, old))
    with open(path, "r+b") as f:
        end = h.backing_file_offset or h.cluster_size
        area = rd(f, old, end - n)
        wr(f, old, bytes(n - old) + area)
        wr(f, 100, struct.pack(">I", n))


def snap_entries(path):
    """[(entry offset, id_len, name_len, extra_size)]"""
    h, _ = load(path)
    out = []
    with open(path, "rb") as f:
        pos = h.snapshots_offset
        for _ in range(h.nb_snapshots):
            pos = q.align_up(pos, 8)
            _l1o, _l1s, id_len, name_len, _a, _b, _c, _d, extra = \
                struct.unpack(">QIHHIIQII", rd(f, pos, 40))
            out.append((pos, id_len, name_len, extra))
            pos += 40 + extra + id_len + name_len
    return out


def bitmap_entries(path):
    """[(dir entry offset, table offset, name offset, name size)]"""
    h, exts = load(path)
    bm = [e for e in exts if e[0] == q.EXT_BITMAPS]
    out = []
    with open(path, "rb") as f:
        nb, _r, dsize, doff = struct.unpack(">IIQQ", rd(f, bm[0][1], 24))
        pos = doff
        for _ in range(nb):
            toff, _ts, _fl, _ty, _gr, nsize, esize = \
                struct.unpack(">QIIBBHI", rd(f, pos, 24))
            out.append((pos, toff, pos + 24 + esize, nsize))
            pos = q.align_up(pos + 24 + esize + nsize, 8)
    return out


def same_length(old_len, data):
    if len(data) != old_len:
        raise SystemExit("name must stay %d bytes long" % old_len)
    return data


def main(argv):
    if len(argv) >= 5 and argv[1] == "all-ones":
        all_ones(argv[2], argv[3], [int(x) for x in argv[4:]])
    elif len(argv) == 5 and argv[1] == "add-ext":
        add_ext(argv[2], int(argv[3], 0), bytes.fromhex(argv[4]))
    elif len(argv) == 4 and argv[1] == "header-length":
        header_length(argv[2], int(argv[3], 0))
    elif len(argv) == 5 and argv[1] in ("l1-entry", "reftable-entry"):
        h, _ = load(argv[2])
        base = (h.l1_table_offset if argv[1] == "l1-entry"
                else h.refcount_table_offset)
        with open(argv[2], "r+b") as f:
            wr(f, base + 8 * int(argv[3]), struct.pack(">Q", int(argv[4], 0)))
    elif len(argv) == 6 and argv[1] == "snap-field":
        pos = snap_entries(argv[2])[int(argv[3])][0]
        off, fmt = {"l1_offset": (0, ">Q"), "l1_size": (8, ">I")}[argv[4]]
        with open(argv[2], "r+b") as f:
            wr(f, pos + off, struct.pack(fmt, int(argv[5], 0)))
    elif len(argv) == 5 and argv[1] == "snap-name":
        pos, id_len, name_len, extra = snap_entries(argv[2])[int(argv[3])]
        with open(argv[2], "r+b") as f:
            wr(f, pos + 40 + extra + id_len,
               same_length(name_len, bytes.fromhex(argv[4])))
    elif len(argv) == 5 and argv[1] == "bitmap-name":
        _p, _t, noff, nsize = bitmap_entries(argv[2])[int(argv[3])]
        with open(argv[2], "r+b") as f:
            wr(f, noff, same_length(nsize, bytes.fromhex(argv[4])))
    elif len(argv) == 6 and argv[1] == "bitmap-entry":
        _p, toff, _n, _s = bitmap_entries(argv[2])[int(argv[3])]
        with open(argv[2], "r+b") as f:
            wr(f, toff + 8 * int(argv[4]), struct.pack(">Q", int(argv[5], 0)))
    elif len(argv) == 5 and argv[1] == "bitmap-flags":
        pos, _t, _n, _s = bitmap_entries(argv[2])[int(argv[3])]
        with open(argv[2], "r+b") as f:
            wr(f, pos + 12, struct.pack(">I", int(argv[4], 0)))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
