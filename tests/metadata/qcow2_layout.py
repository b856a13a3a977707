#!/usr/bin/env python3
"""Independent reader of a qcow2 file's metadata layout.

usage: qcow2_layout.py [--indent N] IMAGE...

Computes, from the bytes of the file alone, the value that
`qemu-img check -M --output=json IMAGE` should print as `viscera`
(the Qcow2Metadata type of qapi/block-core.json), as plain dicts and
lists, and prints it as JSON.  Written from the qcow2 specification
and shared/design/metadata-dump.md; it shares no code with the C
implementation, so that the two can check each other.

Rules (see metadata-dump.md and the schema's doc comments):

  qcow2-header     offset 0, one cluster; header extensions in file
                   order, location = their data (after the 8-byte
                   type+length prefix), size = the length field
  refcount-table   refcount_table_offset, clusters * cluster_size;
                   one cluster per non-zero table entry without
                   reserved bits (0-8)
  active-l1        l1_table_offset, l1_size * 8; one cluster per
                   non-zero L1 entry, offset = entry & L1 offset mask
  snapshot-table   only when nb_snapshots > 0; size = bytes up to the
                   end of the last entry (each entry starts 8-aligned);
                   L1 tables named by snapshot name; unaligned or too
                   large ones get an empty l2-list
  bitmaps          only when the bitmaps extension is present and
                   autoclear bit 0 says it is up to date
  crypt-header     from the crypto header extension

Damaged files never raise: what cannot be located is left out.  Reads
past the end of the file return zeros (as QEMU's file driver does).
"""

import json
import os
import struct
import sys

QCOW_MAGIC = 0x514649FB

L1E_OFFSET_MASK = 0x00FFFFFFFFFFFE00
REFT_RESERVED_MASK = 0x1FF
BME_TABLE_ENTRY_RESERVED_MASK = 0xFF000000000001FE
BME_TABLE_ENTRY_OFFSET_MASK = 0x00FFFFFFFFFFFE00
BME_TABLE_ENTRY_FLAG_ALL_ONES = 1

MAX_L1_BYTES = 32 * 1024 * 1024          # QEMU's cap on an L1 table
MAX_SNAPSHOT_L1_ENTRIES = MAX_L1_BYTES // 8
MAX_SNAPSHOTS = 65536                    # QEMU's cap on nb_snapshots
# Damaged files only: once the snapshots' L1 tables add up to this many
# entries, further ones are not read (empty l2-list).
MAX_SNAPSHOT_L1_ENTRIES_TOTAL = 1 << 24
MAX_BITMAP_TABLE_ENTRIES = 0x8000000     # QEMU's cap on a bitmap table
MAX_READ = 256 * 1024 * 1024             # cap on any single read (longer
                                         # tables are cut; only damaged
                                         # files have them)
# A bitmap table reaching this many entries past the end of the file
# is not listed at all (its entries would all read as all-zeros; a
# damaged size field must not make us build a list of 10^8 entries).
MAX_BITMAP_ENTRIES_PAST_EOF = 1 << 20

EXT_END = 0x00000000
EXT_NAMES = {
    0xE2792ACA: "backing-format",
    0x6803F857: "feature-name-table",
    0x23852875: "bitmaps",
    0x0537BE77: "crypto-header",
    0x44415441: "data-file",
}
EXT_BITMAPS = 0x23852875
AUTOCLEAR_BITMAPS = 1
EXT_CRYPTO = 0x0537BE77


class NotQcow2(Exception):
    pass


class Image:
    """Random access to the file; reads past EOF are padded with zeros."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.size = os.fstat(self.f.fileno()).st_size

    def close(self):
        self.f.close()

    def read(self, offset, length):
        if length <= 0 or offset < 0:
            return b""
        length = min(length, MAX_READ)
        data = b""
        if offset < self.size:
            self.f.seek(offset)
            data = self.f.read(min(length, self.size - offset))
        return data + bytes(length - len(data))

    def u64s(self, offset, count):
        """The first entries of a table of COUNT u64s at OFFSET: only
        those that lie (at least partly) inside the file; the rest would
        read as zeros."""
        if offset < 0 or count <= 0:
            return []
        n = min(count, max(0, (self.size - offset + 7) // 8), MAX_READ // 8)
        raw = self.read(offset, n * 8)
        return list(struct.unpack(">%dQ" % n, raw)) if n else []


def alloc(offset, size):
    return {"offset": offset, "size": size}


def align_up(x, a):
    return (x + a - 1) // a * a


class Header:
    pass


def read_header(img):
    raw = img.read(0, 112)
    magic, version = struct.unpack_from(">II", raw, 0)
    if magic != QCOW_MAGIC or version not in (2, 3):
        raise NotQcow2("not a qcow2 v2/v3 header")
    if img.size < (72 if version == 2 else 104):
        raise NotQcow2("file shorter than the header")
    h = Header()
    h.version = version
    (h.backing_file_offset, h.backing_file_size, h.cluster_bits, h.size,
     h.crypt_method, h.l1_size, h.l1_table_offset, h.refcount_table_offset,
     h.refcount_table_clusters, h.nb_snapshots, h.snapshots_offset) = \
        struct.unpack_from(">QIIQIIQQIIQ", raw, 8)
    if version == 3:
        (h.incompatible_features, h.compatible_features,
         h.autoclear_features, h.refcount_order,
         h.header_length) = struct.unpack_from(">QQQII", raw, 72)
    else:
        h.incompatible_features = h.compatible_features = 0
        h.autoclear_features = 0
        h.refcount_order = 4
        h.header_length = 72
    if not 9 <= h.cluster_bits <= 30:
        raise NotQcow2("cluster_bits %d out of range" % h.cluster_bits)
    h.cluster_size = 1 << h.cluster_bits
    return h


def read_extensions(img, h):
    """[(magic, data offset, length)] in file order."""
    exts = []
    end = h.cluster_size
    if 0 < h.backing_file_offset < end:
        end = h.backing_file_offset
    # The spec wants header_length to be a multiple of 8; QEMU does not
    # check that and reads the extensions from header_length as it is.
    off = h.header_length
    if h.version == 3 and off < 104:
        return exts
    while off + 8 <= end:
        magic, length = struct.unpack(">II", img.read(off, 8))
        if magic == EXT_END:
            break
        if off + 8 + length > end:
            break               # runs past the header area: damaged
        exts.append((magic, off + 8, length))
        off += 8 + align_up(length, 8)
    return exts


def l2_list(img, h, l1_offset, l1_size):
    out = []
    for e in img.u64s(l1_offset, l1_size):
        if e:
            out.append(alloc(e & L1E_OFFSET_MASK, h.cluster_size))
    return out


def refcount_part(img, h):
    size = h.refcount_table_clusters * h.cluster_size
    part = {"location": alloc(h.refcount_table_offset, size)}
    blocks = []
    for e in img.u64s(h.refcount_table_offset, size // 8):
        if e and not e & REFT_RESERVED_MASK:
            blocks.append(alloc(e, h.cluster_size))
    if blocks:
        part["refcount-blocks"] = blocks
    return part


def decode_name(raw):
    """A name as a C program sees it: up to the first NUL byte (QEMU
    itself shows a name with a NUL that way), invalid UTF-8 replaced."""
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def snapshot_part(img, h):
    tables = []
    pos = h.snapshots_offset
    end = pos
    budget = MAX_SNAPSHOT_L1_ENTRIES_TOTAL
    for _ in range(min(h.nb_snapshots, MAX_SNAPSHOTS)):
        pos = align_up(pos, 8)
        fixed = img.read(pos, 40)
        (l1_offset, l1_size, id_len, name_len, _date_sec, _date_nsec,
         _vm_clock, _vm_state, extra_size) = struct.unpack(">QIHHIIQII", fixed)
        name_off = pos + 40 + extra_size + id_len
        name = decode_name(img.read(name_off, name_len))
        end = name_off + name_len
        pos = end
        loc = alloc(l1_offset, l1_size * 8)
        if (l1_offset % h.cluster_size or l1_size > MAX_SNAPSHOT_L1_ENTRIES
                or l1_size > budget):
            l2s = []
        else:
            budget -= l1_size
            l2s = l2_list(img, h, l1_offset, l1_size)
        tables.append({"name": name, "location": loc, "l2-list": l2s})
    return {"location": alloc(h.snapshots_offset, end - h.snapshots_offset),
            "l1-list": tables}


def bitmap_entry(e, cluster_size):
    if e == 0:
        return {"type": "all-zeros"}
    if e == BME_TABLE_ENTRY_FLAG_ALL_ONES:
        return {"type": "all-ones"}
    off = e & BME_TABLE_ENTRY_OFFSET_MASK
    if (e & BME_TABLE_ENTRY_RESERVED_MASK or e & BME_TABLE_ENTRY_FLAG_ALL_ONES
            or off == 0 or off % cluster_size):
        return {"type": "invalid"}
    return {"type": "serialized", "cluster": alloc(off, cluster_size)}


def bitmaps_part(img, h, ext_off, ext_len):
    raw = img.read(ext_off, 24)
    nb_bitmaps, _reserved, dir_size, dir_offset = struct.unpack(">IIQQ", raw)
    entries = []
    # only the part inside the file: past it, entries read as zeros,
    # which would end the walk anyway (name_size 0 is no entry)
    directory = img.read(dir_offset, max(0, min(dir_size,
                                                img.size - dir_offset)))
    pos = 0
    while len(entries) < nb_bitmaps and pos + 24 <= len(directory):
        (table_offset, table_size, _flags, _type, _gran, name_size,
         extra_size) = struct.unpack_from(">QIIBBHI", directory, pos)
        name_off = pos + 24 + extra_size
        name = decode_name(directory[name_off:name_off + name_size])
        table = img.u64s(table_offset, table_size)
        past_eof = table_size - len(table)
        if (table_size > MAX_BITMAP_TABLE_ENTRIES
                or past_eof >= MAX_BITMAP_ENTRIES_PAST_EOF):
            tentries = []
        else:
            tentries = [bitmap_entry(e, h.cluster_size) for e in table]
            tentries += [{"type": "all-zeros"} for _ in range(past_eof)]
        entries.append({
            "bitmap-name": name,
            "bitmap-table": {
                "location": alloc(table_offset, table_size * 8),
                "table-entries": tentries,
            },
        })
        pos = align_up(name_off + name_size, 8)
    return {
        "nb-bitmaps": nb_bitmaps,
        "bitmap-dir": {
            "location": alloc(dir_offset, dir_size),
            "dir-entries": entries,
        },
    }


def layout(path):
    """The expected `viscera` of the qcow2 file PATH (NotQcow2 if none)."""
    img = Image(path)
    try:
        return _layout(img)
    finally:
        img.close()


def _layout(img):
    h = read_header(img)
    exts = read_extensions(img, h)

    header = {"location": alloc(0, h.cluster_size), "version": h.version}
    if exts:
        lst = []
        for magic, off, length in exts:
            d = {"magic": magic}
            if magic in EXT_NAMES:
                d["name"] = EXT_NAMES[magic]
            d["location"] = alloc(off, length)
            lst.append(d)
        header["header-extensions"] = lst

    v = {"qcow2-header": header, "refcount-table": refcount_part(img, h)}

    l2s = l2_list(img, h, h.l1_table_offset, h.l1_size)
    v["active-l1"] = {"name": "L1 active table",
                      "location": alloc(h.l1_table_offset, h.l1_size * 8),
                      "l2-list": l2s}

    if h.nb_snapshots > 0:
        v["snapshot-table"] = snapshot_part(img, h)

    # The bitmaps extension counts only with autoclear bit 0 set: when it
    # is clear, a program without bitmap support has written the image
    # and the bitmaps are stale; QEMU ignores them, and the check counts
    # their clusters as leaks, so the map (what the check walked) has no
    # bitmaps member.  v2 has no autoclear bits, hence never bitmaps.
    for magic, off, length in exts:
        if (magic == EXT_BITMAPS and "bitmaps" not in v and length >= 24
                and h.autoclear_features & AUTOCLEAR_BITMAPS):
            v["bitmaps"] = bitmaps_part(img, h, off, length)

    for magic, off, length in exts:
        if magic == EXT_CRYPTO and "crypt-header" not in v and length >= 16:
            c_off, c_len = struct.unpack(">QQ", img.read(off, 16))
            v["crypt-header"] = {"location": alloc(c_off, c_len)}
    return v


def main(argv):
    indent = 4
    args = argv[1:]
    if args[:1] == ["--indent"]:
        indent = int(args[1])
        args = args[2:]
    if not args:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    rc = 0
    for p in args:
        try:
            print(json.dumps(layout(p), indent=indent))
        except (NotQcow2, OSError) as e:
            sys.stderr.write("%s: %s\n" % (p, e))
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
