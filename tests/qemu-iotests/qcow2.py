#!/usr/bin/env python3
"""Inspect and damage the header of a qcow2 image (a tool for the tests).

usage: qcow2.py FILE COMMAND [ARG...] [-j]

  dump-header                 header fields, a blank line, the extensions
  dump-header-exts            the header extensions only (with the bitmap
                              directory and every bitmap table)
  set-header NAME VALUE       write one header field (VALUE as in Python's
                              int(VALUE, 0): 12, 0x10, 0o7, 0b1)
  set-feature-bit GROUP BIT   set bit BIT (0-63) of the incompatible,
                              compatible or autoclear feature bits
  add-header-ext MAGIC DATA   append a header extension holding DATA
  add-header-ext-stdio MAGIC  the same, with the data read from stdin
  del-header-ext MAGIC        remove every header extension of type MAGIC

  -j (anywhere)               dump commands print JSON instead

The output formats are those of QEMU 7.2's tests/qemu-iotests/qcow2.py, so
that test outputs written for it read the same; they are described in
tests/qemu-iotests/README.md.  Written for this project from that
description, not from QEMU's script.

The image is untrusted input: every offset and count read from it is checked
against the file and against the limits of the format before it is used,
and a file that cannot be parsed gives a one-line message on stderr and exit
status 1.  All a command reads is parsed before anything is printed or
written, so a failing command prints no partial dump and changes nothing.
The edits of a field read the header fields only, and the edits of
extensions do not read the bitmap directory: a damaged extension area or
directory can still be edited.

Python 3 standard library only.
"""

import json
import os
import stat
import string
import struct
import sys

PROG = 'qcow2.py'

QCOW2_MAGIC = 0x514649fb

# Header fields in file order: (name, struct code, printed in hex).  The
# first group is the version 2 header (72 bytes), the second the fields
# version 3 adds (up to byte 104).  compression_type (byte 104 of a version
# 3 header that is long enough) is not one of them: QEMU 7.2's script does
# not show it either, and the tests' outputs depend on that.
V2_FIELDS = (
    ('magic', 'I', True),
    ('version', 'I', False),
    ('backing_file_offset', 'Q', True),
    ('backing_file_size', 'I', True),
    ('cluster_bits', 'I', False),
    ('size', 'Q', False),
    ('crypt_method', 'I', False),
    ('l1_size', 'I', False),
    ('l1_table_offset', 'Q', True),
    ('refcount_table_offset', 'Q', True),
    ('refcount_table_clusters', 'I', False),
    ('nb_snapshots', 'I', False),
    ('snapshot_offset', 'Q', True),
)
V3_FIELDS = (
    ('incompatible_features', 'Q', False),
    ('compatible_features', 'Q', False),
    ('autoclear_features', 'Q', False),
    ('refcount_order', 'I', False),
    ('header_length', 'I', False),
)
HEADER_FIELDS = V2_FIELDS + V3_FIELDS
FEATURE_FIELDS = ('incompatible_features', 'compatible_features',
                  'autoclear_features')
V2_HEADER_LENGTH = struct.calcsize('>' + ''.join(f[1] for f in V2_FIELDS))
V3_HEADER_LENGTH = struct.calcsize('>' + ''.join(f[1] for f in HEADER_FIELDS))

# What a version 2 image implies for the fields it does not have
V2_DEFAULTS = {
    'incompatible_features': 0,
    'compatible_features': 0,
    'autoclear_features': 0,
    'refcount_order': 4,
    'header_length': V2_HEADER_LENGTH,
}

# Cluster sizes QEMU accepts (512 bytes to 2 MiB)
MIN_CLUSTER_BITS = 9
MAX_CLUSTER_BITS = 21

# Header extensions: an 8-byte header (magic, length), then the data,
# padded to a multiple of 8 bytes.  Magic 0 ends the list.
EXT_HEADER_SIZE = 8
EXT_ALIGN = 8
EXT_END = 0
EXT_MAGIC_BITMAPS = 0x23852875
EXT_NAMES = {
    0xe2792aca: 'Backing format',
    0x6803f857: 'Feature table',
    0x0537be77: 'Crypto header',
    EXT_MAGIC_BITMAPS: 'Bitmaps',
    0x44415441: 'Data file',
}
EXT_UNKNOWN_NAME = '<unknown>'

# QEMU's limit on the backing file name
MAX_BACKING_FILE_SIZE = 1023

# The bitmaps extension's data (24 bytes)
BITMAPS_EXT_FIELDS = (
    ('nb_bitmaps', 'I', False),
    ('reserved32', 'I', False),
    ('bitmap_directory_size', 'Q', True),
    ('bitmap_directory_offset', 'Q', True),
)
BITMAPS_EXT_SIZE = 24
# One bitmap directory entry: these 24 bytes, then extra data, then the
# name, padded to a multiple of 8 bytes
BITMAP_DIR_ENTRY_FIELDS = (
    ('bitmap_table_offset', 'Q', True),
    ('bitmap_table_size', 'I', False),
    ('flags', 'I', False),
    ('type', 'B', False),
    ('granularity_bits', 'B', False),
    ('name_size', 'H', False),
    ('extra_data_size', 'I', False),
)
BITMAP_DIR_ENTRY_SIZE = 24
BITMAP_FLAG_NAMES = {0x1: 'in-use', 0x2: 'auto'}
# QEMU's limits (qcow2 spec, "Bitmaps extension"): bitmaps per image,
# directory bytes, entries per bitmap table
MAX_BITMAPS = 65535
MAX_BITMAP_DIRECTORY_SIZE = 64 * 1024 * 1024
MAX_BITMAP_TABLE_SIZE = 0x8000000
# Bitmap table entries
BME_ENTRY_SIZE = 8
BME_OFFSET_MASK = 0x00fffffffffffe00
BME_RESERVED_MASK = 0xff000000000001fe
BME_FLAG_ALL_ONES = 1

FEATURE_GROUPS = ('incompatible', 'compatible', 'autoclear')
MAX_MAGIC = 0xffffffff


class Qcow2Error(Exception):
    """A failure the user is told about in one line (exit status 1)."""


def align_up(n, alignment):
    return (n + alignment - 1) // alignment * alignment


def unpack_fields(fields, buf, offset=0):
    """The values of FIELDS packed big-endian in BUF at OFFSET, as a dict
    in field order."""
    fmt = '>' + ''.join(f[1] for f in fields)
    values = struct.unpack_from(fmt, buf, offset)
    return dict(zip((f[0] for f in fields), values))


class Image:
    """The image file: reads that never go past its end."""

    def __init__(self, path, writable):
        self.path = path
        # O_NONBLOCK: opening a FIFO must not wait for a writer
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_NONBLOCK
        try:
            fd = os.open(path, flags)
        except OSError as e:
            raise Qcow2Error("cannot open '%s': %s" % (path, e.strerror))
        mode = os.fstat(fd).st_mode
        # Anything else (a FIFO, a terminal) could block a read forever
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            os.close(fd)
            raise Qcow2Error("'%s' is not a regular file or a block device"
                             % path)
        os.set_blocking(fd, True)
        self.file = os.fdopen(fd, 'r+b' if writable else 'rb')
        self.size = self.file.seek(0, os.SEEK_END)

    def close(self):
        self.file.close()

    def read(self, offset, length, what):
        """LENGTH bytes at OFFSET, all of them, or a Qcow2Error naming
        WHAT was being read."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise Qcow2Error('%s (%d bytes at offset %#x) goes past the end '
                             'of the file (%d bytes)'
                             % (what, length, offset, self.size))
        self.file.seek(offset)
        data = self.file.read(length)
        if len(data) != length:
            raise Qcow2Error('%s: short read at offset %#x' % (what, offset))
        return data

    def write(self, offset, data):
        self.file.seek(offset)
        self.file.write(data)

    def flush(self):
        self.file.flush()
        os.fsync(self.file.fileno())


# --------------------------------------------------------------------------
# Parsing

class Extension:
    """One header extension: its magic, its length and its data (without
    the padding), and where the extension (its 8-byte header) starts."""

    def __init__(self, magic, data, offset=None):
        self.magic = magic
        self.length = len(data)
        self.data = data
        self.offset = offset
        self.bitmaps = None     # filled in for the bitmaps extension

    def name(self):
        return EXT_NAMES.get(self.magic, EXT_UNKNOWN_NAME)

    def data_str(self):
        """The data quoted when it is printable ASCII, else <binary>."""
        if all(chr(b) in string.printable for b in self.data):
            return "'%s'" % self.data.decode('ascii')
        return '<binary>'


class Header:
    """The header of a qcow2 image and its extensions."""

    def __init__(self, image, with_extensions=True):
        """Without WITH_EXTENSIONS, only the fields are read: an edit of a
        field must work whatever state the extension area is in."""
        self.image = image
        self.fields = self._read_fields()
        self.extensions = []
        self.backing_file = None
        if with_extensions:
            self.cluster_size = self._cluster_size()
            self.extensions_end = self._extensions_end()
            self.extensions = self._read_extensions()
            self.backing_file = self._read_backing_file()

    def is_v2(self):
        return self.fields['version'] == 2

    def _read_fields(self):
        img = self.image
        if img.size < V2_HEADER_LENGTH:
            raise Qcow2Error('file is too short for a qcow2 header '
                             '(%d bytes, at least %d needed)'
                             % (img.size, V2_HEADER_LENGTH))
        fields = unpack_fields(V2_FIELDS,
                               img.read(0, V2_HEADER_LENGTH, 'header'))
        if fields['magic'] != QCOW2_MAGIC:
            raise Qcow2Error('not a qcow2 image (magic %#x, expected %#x)'
                             % (fields['magic'], QCOW2_MAGIC))
        if fields['version'] < 2:
            raise Qcow2Error('version %d is not qcow2 (2 or 3)'
                             % fields['version'])
        if fields['version'] == 2:
            fields.update(V2_DEFAULTS)
        else:
            # Later versions are shown with the version 3 layout: the
            # fields are what a reader of this tool wants to see, and
            # QEMU is the one that refuses them
            if img.size < V3_HEADER_LENGTH:
                raise Qcow2Error('file is too short for a version %d header '
                                 '(%d bytes, at least %d needed)'
                                 % (fields['version'], img.size,
                                    V3_HEADER_LENGTH))
            fields = unpack_fields(HEADER_FIELDS,
                                   img.read(0, V3_HEADER_LENGTH, 'header'))
        return fields

    def _cluster_size(self):
        """The extension area ends in the first cluster: its size must be
        one QEMU accepts (a field edit does not need it, so that a bad
        cluster_bits can be set back)"""
        bits = self.fields['cluster_bits']
        if not MIN_CLUSTER_BITS <= bits <= MAX_CLUSTER_BITS:
            raise Qcow2Error('cluster_bits %d is out of range [%d, %d]'
                             % (bits, MIN_CLUSTER_BITS, MAX_CLUSTER_BITS))
        return 1 << bits

    def _extensions_end(self):
        """Extensions lie between the header and the end of the first
        cluster, or the backing file name if that comes first."""
        end = self.cluster_size
        bfo = self.fields['backing_file_offset']
        if bfo:
            end = min(end, bfo)
        return end

    def _read_extensions(self):
        exts = []
        offset = self.fields['header_length']
        end = self.extensions_end
        # Every extension takes at least 8 bytes, so this ends after at
        # most cluster_size / 8 rounds
        while offset < end:
            if end - offset < EXT_HEADER_SIZE:
                raise Qcow2Error('header extension at offset %#x: its header '
                                 'does not fit before the end of the '
                                 'extension area (%#x)' % (offset, end))
            magic, length = struct.unpack(
                '>II', self.image.read(offset, EXT_HEADER_SIZE,
                                       'header extension at offset %#x'
                                       % offset))
            if magic == EXT_END:
                break
            data_offset = offset + EXT_HEADER_SIZE
            if length > end - data_offset:
                raise Qcow2Error('header extension %#x at offset %#x: its '
                                 'length %d goes past the end of the '
                                 'extension area (%#x)'
                                 % (magic, offset, length, end))
            data = self.image.read(data_offset, length,
                                   'data of header extension %#x' % magic)
            exts.append(Extension(magic, data, offset))
            offset = data_offset + align_up(length, EXT_ALIGN)
        return exts

    def _read_backing_file(self):
        """The backing file name's bytes, None without one, or the
        Qcow2Error that says why it cannot be read: only rewriting the
        extension area (which moves the name) needs it."""
        offset = self.fields['backing_file_offset']
        size = self.fields['backing_file_size']
        if not offset:
            return None
        if size > MAX_BACKING_FILE_SIZE:
            return Qcow2Error('backing_file_size %d is larger than %d'
                              % (size, MAX_BACKING_FILE_SIZE))
        if offset + size > self.cluster_size:
            return Qcow2Error('the backing file name (%d bytes at %#x) is '
                              'not inside the first cluster' % (size, offset))
        try:
            return self.image.read(offset, size, 'backing file name')
        except Qcow2Error as e:
            return e

    def parse_bitmaps(self):
        for ext in self.extensions:
            if ext.magic == EXT_MAGIC_BITMAPS:
                ext.bitmaps = Bitmaps(self.image, ext, self.cluster_size)


class Bitmaps:
    """The bitmaps extension: its fields, its directory and the table of
    every bitmap."""

    def __init__(self, image, ext, cluster_size):
        if ext.length < BITMAPS_EXT_SIZE:
            raise Qcow2Error('bitmaps extension: %d bytes of data, %d needed'
                             % (ext.length, BITMAPS_EXT_SIZE))
        self.image = image
        self.cluster_size = cluster_size
        self.fields = unpack_fields(BITMAPS_EXT_FIELDS, ext.data)
        self.directory = self._read_directory()

    def _read_directory(self):
        nb = self.fields['nb_bitmaps']
        if nb > MAX_BITMAPS:
            raise Qcow2Error('nb_bitmaps %d is larger than %d'
                             % (nb, MAX_BITMAPS))
        # Entries are read one after the other from the directory offset,
        # as many as nb_bitmaps says (bitmap_directory_size is shown, not
        # used: a damaged size must not hide the entries)
        offset = self.fields['bitmap_directory_offset']
        entries = []
        # Tables of a sound image do not overlap, so together they are
        # smaller than the file: that bounds the work on a hostile one
        self.table_bytes_left = self.image.size
        for i in range(nb):
            entry, offset = self._read_entry(i, offset)
            entries.append(entry)
        return entries

    def _read_entry(self, index, offset):
        what = 'bitmap directory entry %d' % index
        entry = unpack_fields(BITMAP_DIR_ENTRY_FIELDS,
                              self.image.read(offset, BITMAP_DIR_ENTRY_SIZE,
                                              what))
        # extra data (skipped), then the name
        name_offset = offset + BITMAP_DIR_ENTRY_SIZE + entry['extra_data_size']
        raw_name = self.image.read(name_offset, entry['name_size'],
                                   'name of ' + what)
        name = raw_name.decode('utf-8', errors='backslashreplace')
        table = self._read_table(name, entry['bitmap_table_offset'],
                                 entry['bitmap_table_size'])
        next_offset = offset + align_up(BITMAP_DIR_ENTRY_SIZE +
                                        entry['extra_data_size'] +
                                        entry['name_size'], EXT_ALIGN)
        return (name, entry, table), next_offset

    def _read_table(self, name, offset, size):
        """Exactly SIZE entries, kept as the raw bytes; table_entries()
        decodes them."""
        if size > MAX_BITMAP_TABLE_SIZE:
            raise Qcow2Error("bitmap '%s': bitmap_table_size %d is larger "
                             "than %d" % (name, size, MAX_BITMAP_TABLE_SIZE))
        nbytes = size * BME_ENTRY_SIZE
        if nbytes > self.table_bytes_left:
            raise Qcow2Error("bitmap '%s': the bitmap tables add up to more "
                             "than the file's %d bytes" % (name,
                                                           self.image.size))
        self.table_bytes_left -= nbytes
        return self.image.read(offset, nbytes, "bitmap table of '%s'" % name)


def table_entries(raw):
    """(type, offset, reserved bits) of every entry of a raw bitmap table"""
    return (bitmap_table_entry(e) for (e,) in struct.iter_unpack('>Q', raw))


def bitmap_table_entry(entry):
    offset = entry & BME_OFFSET_MASK
    all_ones = entry & BME_FLAG_ALL_ONES
    if offset:
        # all-ones with a cluster is a contradiction
        kind = 'invalid' if all_ones else 'serialized'
    else:
        kind = 'all-ones' if all_ones else 'all-zeroes'
    return kind, offset, entry & BME_RESERVED_MASK


# --------------------------------------------------------------------------
# Printing

def field_line(name, value):
    return '%-25s %s' % (name, value)


def feature_list(value):
    return str([bit for bit in range(64) if value & (1 << bit)])


def bitmap_flags(value):
    names = [BITMAP_FLAG_NAMES.get(1 << bit, 'bit-%d' % bit)
             for bit in range(32) if value & (1 << bit)]
    return '%#x (%s)' % (value, names)


def field_lines(fields, values, special=None):
    lines = []
    for name, _, hexa in fields:
        value = values[name]
        if special and name in special:
            text = special[name](value)
        elif hexa:
            text = '%#x' % value
        else:
            text = str(value)
        lines.append(field_line(name, text))
    return lines


def header_human(header):
    special = dict((f, feature_list) for f in FEATURE_FIELDS)
    return field_lines(HEADER_FIELDS, header.fields, special)


def bitmap_table_human(table, cluster_size):
    # The columns of the dump the issue asks for (seed 001): each entry
    # covers a cluster of bitmap data, whatever its type.
    lines = ['%-14s %-15s %-24s %s' % ('Bitmap table', 'type', 'offset',
                                       'size')]
    for i, (kind, offset, _) in enumerate(table_entries(table)):
        lines.append('%-14s %-15s %-24s %s' % (i, kind, offset,
                                               cluster_size))
    return lines


def bitmaps_human(bitmaps):
    lines = field_lines(BITMAPS_EXT_FIELDS, bitmaps.fields)
    for name, entry, table in bitmaps.directory:
        lines.append('')
        lines.append(field_line('Bitmap name', name))
        lines += field_lines(BITMAP_DIR_ENTRY_FIELDS, entry,
                             {'flags': bitmap_flags})
        lines += bitmap_table_human(table, bitmaps.cluster_size)
    return lines


def extensions_human(header):
    lines = []
    for ext in header.extensions:
        lines.append('Header extension:')
        lines.append(field_line('magic', '%#x (%s)' % (ext.magic,
                                                       ext.name())))
        lines.append(field_line('length', ext.length))
        if ext.bitmaps is not None:
            lines += bitmaps_human(ext.bitmaps)
        else:
            lines.append(field_line('data', ext.data_str()))
        lines.append('')
    return lines


def header_json(header):
    return dict((f[0], header.fields[f[0]]) for f in HEADER_FIELDS)


def bitmaps_json(bitmaps):
    res = dict(bitmaps.fields)
    res['bitmap_directory'] = [
        dict([('name', name)] + list(entry.items()) +
             [('bitmap_table', [{'type': kind, 'offset': offset,
                                 'reserved': reserved}
                                for kind, offset, reserved in
                                table_entries(table)])])
        for name, entry, table in bitmaps.directory
    ]
    return res


def extensions_json(header):
    res = []
    for ext in header.extensions:
        item = {'name': ext.name(), 'magic': ext.magic, 'length': ext.length}
        if ext.bitmaps is not None:
            item['data'] = bitmaps_json(ext.bitmaps)
        else:
            item['data_str'] = ext.data_str()
        res.append(item)
    return res


def json_lines(value):
    return [json.dumps(value, indent=4)]


# --------------------------------------------------------------------------
# Writing

def pack_header_field(name, value):
    for fname, code, _ in HEADER_FIELDS:
        if fname == name:
            try:
                return struct.pack('>' + code, value)
            except struct.error:
                raise Qcow2Error('%s does not fit in %d bytes: %d'
                                 % (name, struct.calcsize(code), value))
    raise Qcow2Error("'%s' is not a known header field" % name)


def field_offset(name):
    offset = 0
    for fname, code, _ in HEADER_FIELDS:
        if fname == name:
            return offset
        offset += struct.calcsize('>' + code)
    raise Qcow2Error("'%s' is not a known header field" % name)


def write_header_field(header, name, value):
    """Overwrite one header field in place, and nothing else."""
    data = pack_header_field(name, value)
    offset = field_offset(name)
    if header.is_v2() and offset >= V2_HEADER_LENGTH:
        raise Qcow2Error("'%s' is not a field of a version 2 header" % name)
    header.image.write(offset, data)
    header.image.flush()


def rewrite_extensions(header, extensions):
    """Write EXTENSIONS from header_length on, then the end marker, then
    the backing file name (moved behind them, with backing_file_offset
    updated), and zero what the old area used beyond that.  All of it must
    fit in the first cluster; nothing is written when it does not."""
    start = header.fields['header_length']
    if start < (V2_HEADER_LENGTH if header.is_v2() else V3_HEADER_LENGTH):
        raise Qcow2Error('header_length %d is shorter than the header '
                         'fields; the extensions cannot be rewritten' % start)
    area = bytearray()
    for ext in extensions:
        area += struct.pack('>II', ext.magic, ext.length)
        area += ext.data + bytes(align_up(ext.length, EXT_ALIGN) - ext.length)
    area += struct.pack('>II', EXT_END, 0)

    backing = header.backing_file
    if isinstance(backing, Qcow2Error):
        raise Qcow2Error('cannot move the backing file name: %s' % backing)
    new_bfo = None
    if backing is not None:
        new_bfo = start + len(area)
        area += backing
    if start + len(area) > header.cluster_size:
        raise Qcow2Error('the header extensions (%d bytes from offset %d) '
                         'do not fit in the first cluster (%d bytes)'
                         % (len(area), start, header.cluster_size))

    old_end = old_area_end(header)
    if old_end > start + len(area):
        area += bytes(old_end - start - len(area))
    header.image.write(start, bytes(area))
    if new_bfo is not None:
        header.image.write(field_offset('backing_file_offset'),
                           pack_header_field('backing_file_offset', new_bfo))
    header.image.flush()


def old_area_end(header):
    """Where the present extension area (and the backing file name behind
    it) ends, bounded by the first cluster and the end of the file."""
    if header.extensions:
        last = header.extensions[-1]
        end = last.offset + EXT_HEADER_SIZE + align_up(last.length, EXT_ALIGN)
    else:
        end = header.fields['header_length']
    end += EXT_HEADER_SIZE      # the end marker
    if isinstance(header.backing_file, bytes):
        end = max(end, header.fields['backing_file_offset'] +
                  header.fields['backing_file_size'])
    return min(end, header.cluster_size, header.image.size)


# --------------------------------------------------------------------------
# Commands

def parse_int(text, what):
    try:
        return int(text, 0)
    except ValueError:
        raise Qcow2Error("'%s' is not a valid %s" % (text, what))


def parse_magic(text):
    magic = parse_int(text, 'magic number')
    if not 0 < magic <= MAX_MAGIC:
        raise Qcow2Error("'%s' is not a valid magic number (1 to %#x; 0 "
                         "ends the list)" % (text, MAX_MAGIC))
    return magic


def cmd_dump_header(image, is_json):
    header = Header(image)
    header.parse_bitmaps()
    if is_json:
        return json_lines(header_json(header)) + [''] + \
            json_lines(extensions_json(header))
    return header_human(header) + [''] + extensions_human(header)


def cmd_dump_header_exts(image, is_json):
    header = Header(image)
    header.parse_bitmaps()
    if is_json:
        return json_lines(extensions_json(header))
    return extensions_human(header)


def cmd_set_header(image, is_json, name, value):
    value = parse_int(value, 'number')
    field_offset(name)          # a known field, before the image is read
    header = Header(image, with_extensions=False)
    write_header_field(header, name, value)
    return []


def cmd_set_feature_bit(image, is_json, group, bit):
    try:
        bitno = int(bit, 0)
    except ValueError:
        bitno = -1
    if not 0 <= bitno < 64:
        raise Qcow2Error("'%s' is not a valid bit number in range [0, 64)"
                         % bit)
    if group not in FEATURE_GROUPS:
        raise Qcow2Error("'%s' is not a valid group, try 'incompatible', "
                         "'compatible', or 'autoclear'" % group)
    header = Header(image, with_extensions=False)
    if header.is_v2():
        raise Qcow2Error('a version 2 header has no feature bits')
    name = group + '_features'
    write_header_field(header, name, header.fields[name] | (1 << bitno))
    return []


def add_extension(image, magic, data):
    header = Header(image)
    rewrite_extensions(header, header.extensions + [Extension(magic, data)])
    return []


def cmd_add_header_ext(image, is_json, magic, data):
    return add_extension(image, parse_magic(magic), os.fsencode(data))


def cmd_add_header_ext_stdio(image, is_json, magic):
    magic = parse_magic(magic)
    return add_extension(image, magic, sys.stdin.buffer.read())


def cmd_del_header_ext(image, is_json, magic):
    magic = parse_magic(magic)
    header = Header(image)
    kept = [ext for ext in header.extensions if ext.magic != magic]
    if len(kept) == len(header.extensions):
        raise Qcow2Error('No such header extension')
    rewrite_extensions(header, kept)
    return []


# name, handler, arguments, writes, description
COMMANDS = (
    ('dump-header', cmd_dump_header, (), False,
     'Dump image header and header extensions'),
    ('dump-header-exts', cmd_dump_header_exts, (), False,
     'Dump image header extensions'),
    ('set-header', cmd_set_header, ('NAME', 'VALUE'), True,
     'Set a field in the header'),
    ('add-header-ext', cmd_add_header_ext, ('MAGIC', 'DATA'), True,
     'Add a header extension'),
    ('add-header-ext-stdio', cmd_add_header_ext_stdio, ('MAGIC',), True,
     'Add a header extension, data from stdin'),
    ('del-header-ext', cmd_del_header_ext, ('MAGIC',), True,
     'Delete a header extension'),
    ('set-feature-bit', cmd_set_feature_bit, ('GROUP', 'BIT'), True,
     'Set a feature bit'),
)


def usage(out):
    out.write('Usage: %s FILE COMMAND [ARG...] [-j]\n\nCommands:\n' % PROG)
    for name, _, args, _, desc in COMMANDS:
        out.write('    %-36s %s\n' % (' '.join((name,) + args), desc))
    out.write('\nOptions:\n    %-36s %s\n' % ('-j', 'Dump in JSON format'))


def run(argv):
    is_json = '-j' in argv
    argv = [a for a in argv if a != '-j']
    if len(argv) == 1 and argv[0] in ('-h', '--help'):
        usage(sys.stdout)
        return 0
    if len(argv) < 2:
        usage(sys.stderr)
        return 1
    path, cmd, args = argv[0], argv[1], argv[2:]
    for name, handler, params, writes, _ in COMMANDS:
        if name == cmd:
            break
    else:
        raise Qcow2Error("Unknown command '%s' (try %s --help)" % (cmd, PROG))
    if len(args) != len(params):
        raise Qcow2Error('%s takes %s, not %d argument%s'
                         % (cmd, ' '.join(params) or 'no arguments',
                            len(args), '' if len(args) == 1 else 's'))
    image = Image(path, writes)
    try:
        lines = handler(image, is_json, *args)
    finally:
        image.close()
    if lines:
        sys.stdout.write('\n'.join(lines) + '\n')
    return 0


def main():
    try:
        status = run(sys.argv[1:])
        sys.stdout.flush()
        return status
    except Qcow2Error as e:
        sys.stderr.write('%s: %s\n' % (PROG, e))
        return 1
    except OSError as e:
        # an I/O error on the image, or a closed stdout (| head)
        if isinstance(e, BrokenPipeError):
            # keep the interpreter from complaining again at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        else:
            sys.stderr.write('%s: %s\n' % (PROG, e))
        return 1
    except KeyboardInterrupt:
        return 1


if __name__ == '__main__':
    sys.exit(main())
