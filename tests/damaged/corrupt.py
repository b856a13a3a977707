#!/usr/bin/env python3
"""Precise, single-purpose damage for qcow2 images (test tool).

Library use:
    img = Qcow2File.load(path)
    img.set_field("cluster_bits", 22)
    img.save(path)

Command line (each invocation applies exactly one mutation, in place):
    corrupt.py show FILE
    corrupt.py set FILE FIELD VALUE           header field by name
    corrupt.py poke FILE OFFSET HEXBYTES      raw bytes at a file offset
    corrupt.py poke-int FILE OFFSET WIDTH VALUE   big-endian integer (WIDTH 1/2/4/8)
    corrupt.py truncate FILE LENGTH
    corrupt.py bit FILE {incompatible|compatible|autoclear} BIT {set|clear}
    corrupt.py ext-add FILE TYPE [--hex H | --string S] [--length N] [--first]
    corrupt.py ext-set FILE TYPE [--index I] [--new-type T] [--length N]
    corrupt.py ext-data FILE TYPE [--index I] (--hex H | --string S)
    corrupt.py ext-poke FILE TYPE OFFSET HEXBYTES [--index I]
    corrupt.py ext-del FILE TYPE [--index I]
    corrupt.py bitmaps-set FILE FIELD VALUE   nb_bitmaps|reserved|dir_size|dir_offset

Numbers accept any Python integer literal (0x..., 0o..., decimal).
Extension TYPE accepts a number or one of the names in EXT_NAMES.
All structures are big-endian and packed explicitly with the struct module.
"""

import argparse
import struct
import sys

MAGIC = 0x514649FB

# name -> (byte offset, struct format)
HEADER_FIELDS = {
    "magic": (0, ">I"),
    "version": (4, ">I"),
    "backing_file_offset": (8, ">Q"),
    "backing_file_size": (16, ">I"),
    "cluster_bits": (20, ">I"),
    "size": (24, ">Q"),
    "crypt_method": (32, ">I"),
    "l1_size": (36, ">I"),
    "l1_table_offset": (40, ">Q"),
    "refcount_table_offset": (48, ">Q"),
    "refcount_table_clusters": (56, ">I"),
    "nb_snapshots": (60, ">I"),
    "snapshots_offset": (64, ">Q"),
    "incompatible_features": (72, ">Q"),
    "compatible_features": (80, ">Q"),
    "autoclear_features": (88, ">Q"),
    "refcount_order": (96, ">I"),
    "header_length": (100, ">I"),
    "compression_type": (104, ">B"),
}

FEATURE_FIELDS = {
    "incompatible": "incompatible_features",
    "compatible": "compatible_features",
    "autoclear": "autoclear_features",
}

EXT_END = 0x00000000
EXT_BACKING_FORMAT = 0xE2792ACA
EXT_FEATURE_TABLE = 0x6803F857
EXT_BITMAPS = 0x23852875
EXT_CRYPTO = 0x0537BE77
EXT_DATA_FILE = 0x44415441

EXT_NAMES = {
    "end": EXT_END,
    "backing-format": EXT_BACKING_FORMAT,
    "feature-table": EXT_FEATURE_TABLE,
    "bitmaps": EXT_BITMAPS,
    "crypto": EXT_CRYPTO,
    "data-file": EXT_DATA_FILE,
}

# bitmaps extension payload: name -> (offset in payload, format)
BITMAPS_FIELDS = {
    "nb_bitmaps": (0, ">I"),
    "reserved": (4, ">I"),
    "dir_size": (8, ">Q"),
    "dir_offset": (16, ">Q"),
}


class CorruptError(Exception):
    pass


def parse_int(text):
    return int(str(text), 0)


def parse_ext_type(text):
    if isinstance(text, int):
        return text
    key = str(text).lower()
    if key in EXT_NAMES:
        return EXT_NAMES[key]
    return parse_int(text)


def ext_type_name(t):
    for k, v in EXT_NAMES.items():
        if v == t:
            return k
    return "unknown"


def pad8(n):
    return (n + 7) & ~7


def feature_table_payload(entries):
    """entries: iterable of (kind, bit, name); kind 0/1/2 or
    'incompatible'/'compatible'/'autoclear'. Each entry is 48 bytes."""
    kinds = {"incompatible": 0, "compatible": 1, "autoclear": 2}
    out = bytearray()
    for kind, bit, name in entries:
        k = kinds.get(kind, kind)
        raw = name.encode() if isinstance(name, str) else bytes(name)
        if len(raw) > 46:
            raise CorruptError("feature name longer than 46 bytes")
        out += struct.pack(">BB", k, bit) + raw.ljust(46, b"\0")
    return bytes(out)


def bitmaps_payload(nb_bitmaps, dir_size, dir_offset, reserved=0):
    return struct.pack(">IIQQ", nb_bitmaps, reserved, dir_size, dir_offset)


class Extension:
    """One header extension as found in the file."""

    def __init__(self, offset, ext_type, length, data):
        self.offset = offset      # file offset of the 8-byte ext header
        self.type = ext_type
        self.length = length      # declared length (may lie)
        self.data = data          # bytes actually available (clipped)

    @property
    def data_offset(self):
        return self.offset + 8

    def __repr__(self):
        return "Extension(offset=%#x, type=%#010x (%s), length=%d)" % (
            self.offset, self.type, ext_type_name(self.type), self.length)


class Qcow2File:
    def __init__(self, data):
        self.data = bytearray(data)

    # ---- I/O ---------------------------------------------------------
    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            return cls(f.read())

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.data)

    # ---- raw access --------------------------------------------------
    def _ensure(self, end):
        if end > len(self.data):
            self.data.extend(b"\0" * (end - len(self.data)))

    def poke(self, offset, raw):
        raw = bytes(raw)
        self._ensure(offset + len(raw))
        self.data[offset:offset + len(raw)] = raw

    def peek(self, offset, length):
        return bytes(self.data[offset:offset + length])

    def poke_int(self, offset, width, value):
        fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}.get(width)
        if fmt is None:
            raise CorruptError("width must be 1, 2, 4 or 8")
        self.poke(offset, struct.pack(fmt, value & ((1 << (8 * width)) - 1)))

    def peek_int(self, offset, width):
        fmt = {1: ">B", 2: ">H", 4: ">I", 8: ">Q"}[width]
        raw = self.peek(offset, width)
        if len(raw) < width:
            return None
        return struct.unpack(fmt, raw)[0]

    def truncate(self, length):
        if length <= len(self.data):
            del self.data[length:]
        else:
            self._ensure(length)

    # ---- header ------------------------------------------------------
    def field(self, name):
        try:
            off, fmt = HEADER_FIELDS[name]
        except KeyError:
            raise CorruptError("unknown header field %r" % name)
        size = struct.calcsize(fmt)
        raw = self.peek(off, size)
        if len(raw) < size:
            return None
        return struct.unpack(fmt, raw)[0]

    def set_field(self, name, value):
        try:
            off, fmt = HEADER_FIELDS[name]
        except KeyError:
            raise CorruptError("unknown header field %r" % name)
        width = struct.calcsize(fmt)
        self.poke_int(off, width, value)

    def set_feature_bit(self, kind, bit, on=True):
        name = FEATURE_FIELDS.get(kind, kind)
        if name not in FEATURE_FIELDS.values():
            raise CorruptError("feature kind must be one of %s"
                               % ", ".join(FEATURE_FIELDS))
        if not 0 <= bit <= 63:
            raise CorruptError("bit must be 0..63")
        value = self.field(name) or 0
        value = value | (1 << bit) if on else value & ~(1 << bit)
        self.set_field(name, value)

    @property
    def version(self):
        return self.field("version")

    @property
    def cluster_size(self):
        bits = self.field("cluster_bits")
        if bits is None or not 9 <= bits <= 30:
            return 65536
        return 1 << bits

    def ext_area_start(self):
        if self.version == 2:
            return 72
        return self.field("header_length")

    def ext_area_end(self):
        # extensions live in the first cluster; the backing file name
        # follows them
        return self.cluster_size

    # ---- extensions --------------------------------------------------
    def extensions(self):
        """Parse the extension list (tolerant; stops at end marker,
        at the end of cluster 0, or at the end of the file)."""
        exts = []
        off = self.ext_area_start()
        end = min(self.ext_area_end(), len(self.data))
        while off + 8 <= end:
            t, length = struct.unpack(">II", self.peek(off, 8))
            if t == EXT_END:
                break
            data = self.peek(off + 8, min(length, max(0, end - off - 8)))
            exts.append(Extension(off, t, length, data))
            nxt = off + 8 + pad8(length)
            if nxt <= off:
                break
            off = nxt
        return exts

    def find_ext(self, ext_type, index=0):
        ext_type = parse_ext_type(ext_type)
        matches = [e for e in self.extensions() if e.type == ext_type]
        if index >= len(matches):
            raise CorruptError("extension %#010x #%d not found"
                               % (ext_type, index))
        return matches[index]

    def backing_name(self):
        off = self.field("backing_file_offset")
        size = self.field("backing_file_size")
        if not off:
            return None
        return self.peek(off, size)

    def rewrite_extensions(self, exts, allow_overflow=False):
        """Rewrite the extension area from a list of
        (type, payload bytes[, declared length]) and an end marker, then
        move the backing file name (if any) right after it, updating
        backing_file_offset. Everything else in cluster 0 after the
        header is zeroed."""
        start = self.ext_area_start()
        area = bytearray()
        for e in exts:
            t, payload = e[0], bytes(e[1])
            declared = e[2] if len(e) > 2 and e[2] is not None else len(payload)
            area += struct.pack(">II", t, declared)
            area += payload + b"\0" * (pad8(len(payload)) - len(payload))
        area += b"\0" * 8
        name = self.backing_name()
        end = self.ext_area_end()
        limit = start + len(area) + (len(name) if name else 0)
        if limit > end and not allow_overflow:
            raise CorruptError("extensions do not fit in cluster 0")
        # clear old area up to the end of cluster 0 (or the file)
        clear_end = min(end, len(self.data))
        if clear_end > start:
            self.data[start:clear_end] = b"\0" * (clear_end - start)
        self.poke(start, area)
        if name:
            new_off = start + len(area)
            self.poke(new_off, name)
            self.set_field("backing_file_offset", new_off)

    def _ext_tuples(self):
        return [(e.type, e.data[:e.length], e.length) for e in self.extensions()]

    def ext_add(self, ext_type, payload=b"", length=None, first=False):
        ext_type = parse_ext_type(ext_type)
        exts = self._ext_tuples()
        new = (ext_type, bytes(payload), length)
        if first:
            exts.insert(0, new)
        else:
            exts.append(new)
        self.rewrite_extensions(exts)

    def ext_replace_data(self, ext_type, payload, index=0):
        """Replace one extension's payload (length follows the payload)."""
        target = self.find_ext(ext_type, index)
        exts = []
        for e in self.extensions():
            if e.offset == target.offset:
                exts.append((e.type, bytes(payload), None))
            else:
                exts.append((e.type, e.data[:e.length], e.length))
        self.rewrite_extensions(exts)

    def ext_del(self, ext_type, index=0):
        target = self.find_ext(ext_type, index)
        exts = [(e.type, e.data[:e.length], e.length)
                for e in self.extensions() if e.offset != target.offset]
        self.rewrite_extensions(exts)

    def ext_set(self, ext_type, index=0, new_type=None, length=None):
        """Change an extension's 8-byte header in place (nothing moves)."""
        e = self.find_ext(ext_type, index)
        if new_type is not None:
            self.poke_int(e.offset, 4, parse_ext_type(new_type))
        if length is not None:
            self.poke_int(e.offset + 4, 4, length)

    def ext_poke(self, ext_type, offset, raw, index=0):
        e = self.find_ext(ext_type, index)
        self.poke(e.data_offset + offset, raw)

    def bitmaps_set(self, field, value):
        try:
            off, fmt = BITMAPS_FIELDS[field]
        except KeyError:
            raise CorruptError("unknown bitmaps field %r" % field)
        e = self.find_ext(EXT_BITMAPS)
        self.poke_int(e.data_offset + off, struct.calcsize(fmt), value)

    # ---- description ---------------------------------------------------
    def describe(self):
        lines = []
        for name, (off, fmt) in HEADER_FIELDS.items():
            v = self.field(name)
            lines.append("%-24s @%-3d = %s" % (
                name, off, "<eof>" if v is None else "%#x" % v))
        try:
            for e in self.extensions():
                lines.append(repr(e))
        except (struct.error, TypeError):
            lines.append("(extensions unparsable)")
        name = self.backing_name() if self.field("backing_file_offset") else None
        if name is not None:
            lines.append("backing file name: %r" % name)
        return "\n".join(lines)


# ---- convenience wrappers (load, mutate, save) -------------------------
def mutate(path, fn, out=None):
    img = Qcow2File.load(path)
    fn(img)
    img.save(out or path)
    return img


def _payload(args):
    if getattr(args, "hex", None) is not None:
        return bytes.fromhex(args.hex)
    if getattr(args, "string", None) is not None:
        return args.string.encode()
    return b""


def main(argv=None):
    p = argparse.ArgumentParser(description="Damage a qcow2 image in place.")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("show"); s.add_argument("file")
    s = sub.add_parser("set"); s.add_argument("file"); s.add_argument("field")
    s.add_argument("value")
    s = sub.add_parser("poke"); s.add_argument("file"); s.add_argument("offset")
    s.add_argument("hexbytes")
    s = sub.add_parser("poke-int"); s.add_argument("file")
    s.add_argument("offset"); s.add_argument("width"); s.add_argument("value")
    s = sub.add_parser("truncate"); s.add_argument("file"); s.add_argument("length")
    s = sub.add_parser("bit"); s.add_argument("file")
    s.add_argument("kind", choices=list(FEATURE_FIELDS))
    s.add_argument("bit"); s.add_argument("action", choices=["set", "clear"])
    s = sub.add_parser("ext-add"); s.add_argument("file"); s.add_argument("type")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--hex"); g.add_argument("--string")
    s.add_argument("--length"); s.add_argument("--first", action="store_true")
    s = sub.add_parser("ext-set"); s.add_argument("file"); s.add_argument("type")
    s.add_argument("--index", default="0"); s.add_argument("--new-type")
    s.add_argument("--length")
    s = sub.add_parser("ext-data"); s.add_argument("file"); s.add_argument("type")
    s.add_argument("--index", default="0")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--hex"); g.add_argument("--string")
    s = sub.add_parser("ext-poke"); s.add_argument("file"); s.add_argument("type")
    s.add_argument("offset"); s.add_argument("hexbytes")
    s.add_argument("--index", default="0")
    s = sub.add_parser("ext-del"); s.add_argument("file"); s.add_argument("type")
    s.add_argument("--index", default="0")
    s = sub.add_parser("bitmaps-set"); s.add_argument("file")
    s.add_argument("field", choices=list(BITMAPS_FIELDS)); s.add_argument("value")

    a = p.parse_args(argv)
    try:
        img = Qcow2File.load(a.file)
        if a.cmd == "show":
            print(img.describe())
            return 0
        if a.cmd == "set":
            img.set_field(a.field, parse_int(a.value))
        elif a.cmd == "poke":
            img.poke(parse_int(a.offset), bytes.fromhex(a.hexbytes))
        elif a.cmd == "poke-int":
            img.poke_int(parse_int(a.offset), parse_int(a.width),
                         parse_int(a.value))
        elif a.cmd == "truncate":
            img.truncate(parse_int(a.length))
        elif a.cmd == "bit":
            img.set_feature_bit(a.kind, parse_int(a.bit), a.action == "set")
        elif a.cmd == "ext-add":
            img.ext_add(a.type, _payload(a),
                        None if a.length is None else parse_int(a.length),
                        first=a.first)
        elif a.cmd == "ext-set":
            img.ext_set(a.type, parse_int(a.index), a.new_type,
                        None if a.length is None else parse_int(a.length))
        elif a.cmd == "ext-data":
            img.ext_replace_data(a.type, _payload(a), parse_int(a.index))
        elif a.cmd == "ext-poke":
            img.ext_poke(a.type, parse_int(a.offset),
                         bytes.fromhex(a.hexbytes), parse_int(a.index))
        elif a.cmd == "ext-del":
            img.ext_del(a.type, parse_int(a.index))
        elif a.cmd == "bitmaps-set":
            img.bitmaps_set(a.field, parse_int(a.value))
        img.save(a.file)
    except (CorruptError, ValueError, OSError) as e:
        print("corrupt.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
