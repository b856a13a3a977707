#!/usr/bin/env python3
"""Cross-check tests/qemu-iotests/qcow2.py against independent readers.

Builds images with qemu-img / qemu-io 7.2 (version 2 and 3, a backing
file, bitmaps with dirty data, zstd, snapshots, extended L2, 1-bit
refcounts, an external data file, LUKS, 2 MiB clusters, bitmaps left in
use), and for each one compares what `qcow2.py dump-header -j` says with:

  info   `qemu-img info --output=json` of qemu-img 7.2: size, cluster
         size, compat, feature flags, refcount width, compression type,
         backing file and its format, data file, encryption, snapshot
         count, every bitmap's name, granularity and flags
  map    `qemu-img check -M --output=json` of the qemu-img under test: the
         `viscera` member's header extensions (magic, data offset and
         length), refcount table, active L1 table, snapshot table, bitmap
         directory, every bitmap table and the type and cluster of each of
         its entries
  raw    the header bytes read straight from the file here

Then edits every image's copy with set-header, set-feature-bit,
add-header-ext, add-header-ext-stdio and del-header-ext, and checks that
the dump, the raw bytes and qemu-img 7.2 (`info`, and `check`, which
must still find no error) all see the edit; that failing edits change no
byte; and, with a fixed seed, that damaged and truncated copies of every
image give exit status 0 or 1 with no traceback, in bounded time.

  QEMU_IMG       qemu-img under test, for check -M
                 (default: <repo>/build/qemu-img)
  REF_QEMU_IMG   (default: /usr/bin/qemu-img)
  REF_QEMU_IO    (default: /usr/bin/qemu-io)
  QCOW2_PY       the tool (default: <repo>/tests/qemu-iotests/qcow2.py)
  FUZZ           damaged copies per image (default 100)

usage: run-qcow2-py.py [-v] [--keep]
  -v      print passing cases too
  --keep  keep the scratch directory

Last line: "N passed, N failed"; exit status 1 on any failure.
"""

import contextlib
import importlib.util
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
QEMU_IMG = os.path.abspath(os.environ.get('QEMU_IMG') or
                           os.path.join(REPO, 'build', 'qemu-img'))
REF_QEMU_IMG = os.environ.get('REF_QEMU_IMG') or '/usr/bin/qemu-img'
REF_QEMU_IO = os.environ.get('REF_QEMU_IO') or '/usr/bin/qemu-io'
QCOW2_PY = os.path.abspath(os.environ.get('QCOW2_PY') or
                           os.path.join(REPO, 'tests', 'qemu-iotests',
                                        'qcow2.py'))
FUZZ = int(os.environ.get('FUZZ', '100'))
TIMEOUT = 60
# One qcow2.py run on a damaged file (seconds): far more than a sound run
# takes
FUZZ_TIMEOUT = 20

SECRET = ['--object', 'secret,id=sec0,data=123456']

# Header field offsets and widths, from the qcow2 specification (kept here,
# apart from the tool, so that the raw check is independent of it)
RAW_FIELDS = {
    'magic': (0, 4), 'version': (4, 4), 'backing_file_offset': (8, 8),
    'backing_file_size': (16, 4), 'cluster_bits': (20, 4), 'size': (24, 8),
    'crypt_method': (32, 4), 'l1_size': (36, 4), 'l1_table_offset': (40, 8),
    'refcount_table_offset': (48, 8), 'refcount_table_clusters': (56, 4),
    'nb_snapshots': (60, 4), 'snapshot_offset': (64, 8),
    'incompatible_features': (72, 8), 'compatible_features': (80, 8),
    'autoclear_features': (88, 8), 'refcount_order': (96, 4),
    'header_length': (100, 4),
}
V2_ONLY = ('magic', 'version', 'backing_file_offset', 'backing_file_size',
           'cluster_bits', 'size', 'crypt_method', 'l1_size',
           'l1_table_offset', 'refcount_table_offset',
           'refcount_table_clusters', 'nb_snapshots', 'snapshot_offset')

MAGIC_BACKING_FORMAT = 0xe2792aca
MAGIC_FEATURE_TABLE = 0x6803f857
MAGIC_BITMAPS = 0x23852875
MAGIC_DATA_FILE = 0x44415441
TEST_MAGIC = 0x12345678

# qcow2.py's bitmap table entry types -> check -M's
ENTRY_TYPES = {'serialized': 'serialized', 'all-zeroes': 'all-zeros',
               'all-ones': 'all-ones'}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def expect_eq(what, got, want):
    if got != want:
        raise Failure('%s: %r, expected %r' % (what, got, want))


def run(argv, cwd, stdin=None, timeout=TIMEOUT):
    return subprocess.run(argv, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def must(argv, cwd, stdin=None):
    p = run(argv, cwd, stdin)
    if p.returncode != 0:
        raise Failure('%s: exit %d: %s' % (' '.join(argv), p.returncode,
                                           p.stderr.decode(errors='replace')
                                           .strip()))
    return p.stdout


class Image:
    """One image of the corpus and how to open it."""

    def __init__(self, name, check_args=None, info_args=None):
        self.name = name
        # arguments replacing the file name for check -M / info (LUKS)
        self.check_args = check_args
        self.info_args = info_args


def build_corpus(d):
    def img(*args):
        must([REF_QEMU_IMG, 'create', '-q', '-f', 'qcow2'] + list(args), d)

    def io(name, *cmds):
        argv = [REF_QEMU_IO, '-f', 'qcow2']
        for c in cmds:
            argv += ['-c', c]
        must(argv + [name], d)

    def bitmap(name, *args):
        # options, then the image, then the bitmap's name
        must([REF_QEMU_IMG, 'bitmap'] + list(args[:-1]) + [name, args[-1]],
             d)

    images = []
    img('-o', 'compat=0.10', 'v2.qcow2', '64M')
    io('v2.qcow2', 'write -P 1 0 1M', 'write -P 2 40M 64k')
    images.append(Image('v2.qcow2'))

    img('v3.qcow2', '64M')
    io('v3.qcow2', 'write -P 1 0 1M', 'write -P 2 40M 64k')
    images.append(Image('v3.qcow2'))

    img('base.qcow2', '64M')
    img('-b', 'base.qcow2', '-F', 'qcow2', 'backing.qcow2')
    io('backing.qcow2', 'write -P 3 1M 64k')
    images.append(Image('backing.qcow2'))

    # 512-byte clusters: a table entry covers 2 MiB at granularity 512
    img('-o', 'cluster_size=512', 'bitmaps.qcow2', '7M')
    bitmap('bitmaps.qcow2', '--add', '-g', '512', 'b0')
    bitmap('bitmaps.qcow2', '--add', '-g', '64k', 'second')
    bitmap('bitmaps.qcow2', '--add', '--disable', 'off')
    io('bitmaps.qcow2', 'write 0 64k', 'write 4M 512', 'write 6M 1M')
    images.append(Image('bitmaps.qcow2'))

    # 7.2 never writes an all-ones table entry, but reads it: make the
    # second entry of b0 one, by hand
    shutil.copyfile(os.path.join(d, 'bitmaps.qcow2'),
                    os.path.join(d, 'all-ones.qcow2'))
    set_table_entry(os.path.join(d, 'all-ones.qcow2'), 0, 1, 1)
    images.append(Image('all-ones.qcow2'))

    img('-o', 'compression_type=zstd', 'zstd.qcow2', '16M')
    io('zstd.qcow2', 'write -c -P 5 0 64k')
    images.append(Image('zstd.qcow2'))

    img('snapshots.qcow2', '16M')
    io('snapshots.qcow2', 'write -P 1 0 128k')
    must([REF_QEMU_IMG, 'snapshot', '-c', 's1', 'snapshots.qcow2'], d)
    io('snapshots.qcow2', 'write -P 2 64k 128k')
    must([REF_QEMU_IMG, 'snapshot', '-c', 'second', 'snapshots.qcow2'], d)
    images.append(Image('snapshots.qcow2'))

    img('-o', 'extended_l2=on,cluster_size=128k', 'ext-l2.qcow2', '16M')
    io('ext-l2.qcow2', 'write -P 1 4k 4k')
    images.append(Image('ext-l2.qcow2'))

    img('-o', 'refcount_bits=1,lazy_refcounts=on', 'rc1.qcow2', '16M')
    io('rc1.qcow2', 'write -P 1 0 64k')
    images.append(Image('rc1.qcow2'))

    img('-o', 'data_file=df.raw,data_file_raw=on', 'datafile.qcow2', '16M')
    io('datafile.qcow2', 'write -P 1 0 64k')
    images.append(Image('datafile.qcow2'))

    opts = 'driver=qcow2,encrypt.key-secret=sec0,file.filename=luks.qcow2'
    # the key slot benchmark fails now and then; retry quietly
    for attempt in range(6):
        p = run([REF_QEMU_IMG, 'create', '-q', '-f', 'qcow2'] + SECRET +
                ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,'
                 'encrypt.iter-time=10', 'luks.qcow2', '4M'], d)
        if p.returncode == 0:
            break
    else:
        raise Failure('cannot create luks.qcow2: %s' % p.stderr.decode())
    images.append(Image('luks.qcow2', SECRET + ['--image-opts', opts]))

    img('-o', 'cluster_size=2M', 'big-clusters.qcow2', '1G')
    bitmap('big-clusters.qcow2', '--add', 'b')
    io('big-clusters.qcow2', 'write 0 4M', 'write 700M 1M')
    images.append(Image('big-clusters.qcow2'))

    img('-o', 'cluster_size=4k', 'in-use.qcow2', '64M')
    bitmap('in-use.qcow2', '--add', '-g', '4k', 'a')
    bitmap('in-use.qcow2', '--add', 'b')
    io('in-use.qcow2', 'write 0 1M')
    # a writer killed with the bitmaps open leaves them in use
    run(['sh', '-c', 'ulimit -c 0; exec "$0" -f qcow2 -c "write 0 512" '
         '-c abort in-use.qcow2', REF_QEMU_IO], d)
    images.append(Image('in-use.qcow2'))
    return images


def set_table_entry(path, bitmap, index, value):
    """Entry INDEX of the table of the BITMAP-th bitmap := VALUE, found by
    walking the header extensions and the bitmap directory here (not with
    the tool under test)"""
    with open(path, 'r+b') as f:
        def be(off, width):
            f.seek(off)
            return int.from_bytes(f.read(width), 'big')
        off = be(100, 4)
        while be(off, 4) != MAGIC_BITMAPS:
            expect(be(off, 4) != 0, 'no bitmaps extension')
            off += 8 + (be(off + 4, 4) + 7) // 8 * 8
        entry = be(off + 8 + 16, 8)
        for _ in range(bitmap):
            entry += (24 + be(entry + 20, 4) + be(entry + 18, 2) + 7) // 8 * 8
        f.seek(be(entry, 8) + index * 8)
        f.write(value.to_bytes(8, 'big'))


# --------------------------------------------------------------------------
# What the tool says

def dump(d, name, cmd='dump-header'):
    out = must([sys.executable, QCOW2_PY, name, cmd, '-j'], d).decode()
    if cmd == 'dump-header-exts':
        return json.loads(out)
    head, sep, tail = out.partition('\n}\n\n')
    expect(sep, 'dump-header -j: no blank line after the header')
    return json.loads(head + '\n}'), json.loads(tail)


def find_ext(exts, magic):
    found = [e for e in exts if e['magic'] == magic]
    expect(len(found) <= 1, 'extension %#x twice' % magic)
    return found[0] if found else None


def ext_string(exts, magic):
    e = find_ext(exts, magic)
    if e is None:
        return None
    s = e['data_str']
    expect(s.startswith("'") and s.endswith("'"),
           'extension %#x: data %r is not quoted' % (magic, s))
    return s[1:-1]


def ext_locations(hdr, exts):
    """(magic, data offset, length) of each extension: they follow each
    other from header_length, each padded to 8 bytes"""
    res = []
    off = hdr['header_length']
    for e in exts:
        res.append((e['magic'], off + 8, e['length']))
        off += 8 + (e['length'] + 7) // 8 * 8
    return res


def raw_header(path):
    with open(path, 'rb') as f:
        buf = f.read(104)
    res = {}
    for name, (off, width) in RAW_FIELDS.items():
        res[name] = int.from_bytes(buf[off:off + width], 'big')
    return res


def bits(value):
    return [b for b in range(64) if value & (1 << b)]


# --------------------------------------------------------------------------
# Comparisons

def against_info(d, image, hdr, exts):
    argv = [REF_QEMU_IMG, 'info', '--output=json']
    argv += image.info_args or [image.name]
    info = json.loads(must(argv, d))
    expect_eq('virtual-size', info['virtual-size'], hdr['size'])
    expect_eq('cluster-size', info['cluster-size'], 1 << hdr['cluster_bits'])
    expect_eq('encrypted', info.get('encrypted', False),
              hdr['crypt_method'] != 0)

    name = None
    if hdr['backing_file_offset']:
        with open(os.path.join(d, image.name), 'rb') as f:
            f.seek(hdr['backing_file_offset'])
            name = f.read(hdr['backing_file_size']).decode()
    expect_eq('backing-filename', info.get('backing-filename'), name)
    expect_eq('backing-filename-format', info.get('backing-filename-format'),
              ext_string(exts, MAGIC_BACKING_FORMAT))

    fs = info['format-specific']['data']
    expect_eq('compat', fs['compat'], '0.10' if hdr['version'] == 2
              else '1.1')
    expect_eq('refcount-bits', fs['refcount-bits'], 1 << hdr['refcount_order'])
    expect_eq('snapshots', len(info.get('snapshots', [])),
              hdr['nb_snapshots'])
    if hdr['crypt_method']:
        expect_eq('encrypt.format', fs['encrypt']['format'],
                  {1: 'aes', 2: 'luks'}[hdr['crypt_method']])
    if hdr['version'] == 2:
        expect_eq('v2 features', (hdr['incompatible_features'],
                                  hdr['compatible_features'],
                                  hdr['autoclear_features'],
                                  hdr['header_length']), (0, 0, 0, 72))
        return
    incompat = hdr['incompatible_features']
    expect_eq('corrupt', fs['corrupt'], bool(incompat & 2))
    expect_eq('extended-l2', fs['extended-l2'], bool(incompat & 16))
    expect_eq('compression-type', fs['compression-type'],
              'zstd' if incompat & 8 else 'zlib')
    expect_eq('lazy-refcounts', fs['lazy-refcounts'],
              bool(hdr['compatible_features'] & 1))
    data_file = ext_string(exts, MAGIC_DATA_FILE)
    expect_eq('data-file', fs.get('data-file'), data_file)
    expect_eq('external data file bit', bool(incompat & 4),
              data_file is not None)
    if data_file is not None:
        expect_eq('data-file-raw', fs['data-file-raw'],
                  bool(hdr['autoclear_features'] & 2))

    bm = find_ext(exts, MAGIC_BITMAPS)
    want = []
    if bm is not None:
        for e in bm['data']['bitmap_directory']:
            flags = sorted(n for bit, n in ((1, 'in-use'), (2, 'auto'))
                           if e['flags'] & bit)
            want.append((e['name'], 1 << e['granularity_bits'], flags))
    got = [(b['name'], b['granularity'], sorted(b['flags']))
           for b in fs.get('bitmaps', [])]
    expect_eq('bitmaps', got, want)


def location(loc):
    return (loc['offset'], loc['size'])


def against_map(d, image, hdr, exts):
    argv = [QEMU_IMG, 'check', '-M', '--output=json']
    argv += image.check_args or [image.name]
    p = run(argv, d)
    expect(p.stdout, 'check -M printed nothing: %s' % p.stderr.decode())
    v = json.loads(p.stdout)['viscera']
    cs = 1 << hdr['cluster_bits']

    h = v['qcow2-header']
    expect_eq('header version', h['version'], hdr['version'])
    expect_eq('header location', location(h['location']), (0, cs))
    got = [(e['magic'], e['location']['offset'], e['location']['size'])
           for e in h.get('header-extensions', [])]
    expect_eq('header extensions', got, ext_locations(hdr, exts))

    expect_eq('refcount table', location(v['refcount-table']['location']),
              (hdr['refcount_table_offset'],
               hdr['refcount_table_clusters'] * cs))
    expect_eq('active L1', location(v['active-l1']['location']),
              (hdr['l1_table_offset'], hdr['l1_size'] * 8))
    if hdr['nb_snapshots']:
        st = v['snapshot-table']
        expect_eq('snapshot table offset', st['location']['offset'],
                  hdr['snapshot_offset'])
        expect_eq('snapshots', len(st['l1-list']), hdr['nb_snapshots'])
    else:
        expect('snapshot-table' not in v, 'snapshot table without snapshots')

    bm = find_ext(exts, MAGIC_BITMAPS)
    if bm is None:
        expect('bitmaps' not in v, 'bitmaps in the map, not in the dump')
        return
    data = bm['data']
    vb = v['bitmaps']
    expect_eq('nb-bitmaps', vb['nb-bitmaps'], data['nb_bitmaps'])
    expect_eq('bitmap directory', location(vb['bitmap-dir']['location']),
              (data['bitmap_directory_offset'],
               data['bitmap_directory_size']))
    ventries = vb['bitmap-dir']['dir-entries']
    expect_eq('directory entries', len(ventries),
              len(data['bitmap_directory']))
    for e, ve in zip(data['bitmap_directory'], ventries):
        expect_eq('bitmap name', ve['bitmap-name'], e['name'])
        vt = ve['bitmap-table']
        expect_eq("table of '%s'" % e['name'], location(vt['location']),
                  (e['bitmap_table_offset'], e['bitmap_table_size'] * 8))
        got = []
        for te in vt['table-entries']:
            cluster = te.get('cluster')
            got.append((te['type'], location(cluster) if cluster else None))
        want = []
        for te in e['bitmap_table']:
            expect_eq('reserved bits', te['reserved'], 0)
            want.append((ENTRY_TYPES[te['type']],
                         (te['offset'], cs) if te['offset'] else None))
        expect_eq("entries of '%s'" % e['name'], got, want)


def against_raw(d, image, hdr, exts):
    raw = raw_header(os.path.join(d, image.name))
    names = V2_ONLY if hdr['version'] == 2 else RAW_FIELDS
    for name in names:
        expect_eq('raw ' + name, raw[name], hdr[name])
    expect_eq('dump-header-exts -j', dump(d, image.name, 'dump-header-exts'),
              exts)


# --------------------------------------------------------------------------
# Edits

def edit(d, name, *args, stdin=None):
    p = run([sys.executable, QCOW2_PY, name] + list(args), d, stdin)
    expect_eq('%s exit status (%s)' % (' '.join(args),
                                       p.stderr.decode().strip()),
              p.returncode, 0)
    expect_eq('%s output' % ' '.join(args), p.stdout, b'')


def info_json(d, name):
    return json.loads(must([REF_QEMU_IMG, 'info', '--output=json', name], d))


def ref_check_clean(d, name):
    p = run([REF_QEMU_IMG, 'check', name], d)
    expect_eq('qemu-img check exit status (%s)' % p.stdout.decode().strip(),
              p.returncode, 0)


def copy(d, src, dst):
    shutil.copyfile(os.path.join(d, src), os.path.join(d, dst))
    return dst


def rt_set_header(d, src):
    name = copy(d, src, 'rt.qcow2')
    hdr, _ = dump(d, name)
    # smaller, but not so much that a bitmap's table would be too long
    size = hdr['size'] - 512
    edit(d, name, 'set-header', 'size', str(size))
    expect_eq('dump size', dump(d, name)[0]['size'], size)
    expect_eq('raw size', raw_header(os.path.join(d, name))['size'], size)
    expect_eq('info virtual-size', info_json(d, name)['virtual-size'], size)
    if hdr['version'] == 3:
        edit(d, name, 'set-header', 'refcount_order', '5')
        expect_eq('dump refcount_order', dump(d, name)[0]['refcount_order'], 5)
        expect_eq('info refcount-bits', info_json(d, name)
                  ['format-specific']['data']['refcount-bits'], 32)
    rest = dict(hdr, size=size, refcount_order=5 if hdr['version'] == 3
                else 4)
    expect_eq('the other fields', dump(d, name)[0], rest)


def rt_feature_bits(d, src):
    name = copy(d, src, 'rt.qcow2')
    hdr, _ = dump(d, name)
    if hdr['version'] == 2:
        return          # no feature bits: rt_failures sees it refused
    steps = (('compatible', 0, 'lazy-refcounts'),
             ('incompatible', 1, 'corrupt'),
             ('autoclear', 10, None))
    for group, bit, key in steps:
        edit(d, name, 'set-feature-bit', group, str(bit))
        field = group + '_features'
        want = hdr[field] | (1 << bit)
        hdr[field] = want
        expect_eq('dump after setting %s bit %d' % (group, bit),
                  dump(d, name)[0], hdr)
        expect_eq('raw ' + field, raw_header(os.path.join(d, name))[field],
                  want)
        if key:
            expect_eq('info ' + key, info_json(d, name)
                      ['format-specific']['data'][key], True)
    edit(d, name, 'set-feature-bit', 'incompatible', '60')
    p = run([REF_QEMU_IMG, 'info', name], d)
    expect(p.returncode == 1 and b'Unknown incompatible feature: '
           b'1000000000000000' in p.stderr,
           'info with incompatible bit 60: exit %d, %r'
           % (p.returncode, p.stderr))


def ext_bytes(d, name, magic):
    """The data of extension MAGIC, read from the file at the offset
    computed from the dump (not from the tool's own view of the data)"""
    hdr, exts = dump(d, name)
    for m, off, length in ext_locations(hdr, exts):
        if m == magic:
            with open(os.path.join(d, name), 'rb') as f:
                f.seek(off)
                return f.read(length)
    return None


def rt_extensions(d, src):
    name = copy(d, src, 'rt.qcow2')
    before_info = info_json(d, name)
    hdr0, exts0 = dump(d, name)
    text = 'round trip through qcow2.py'
    edit(d, name, 'add-header-ext', hex(TEST_MAGIC), text)
    hdr, exts = dump(d, name)
    expect_eq('extensions after add', exts[:-1], exts0)
    expect_eq('added extension', exts[-1],
              {'name': '<unknown>', 'magic': TEST_MAGIC, 'length': len(text),
               'data_str': "'%s'" % text})
    expect_eq('its bytes', ext_bytes(d, name, TEST_MAGIC), text.encode())

    binary = bytes(random.Random(7).randrange(256) for _ in range(101))
    edit(d, name, 'del-header-ext', hex(TEST_MAGIC))
    edit(d, name, 'add-header-ext-stdio', str(TEST_MAGIC + 1), stdin=binary)
    hdr, exts = dump(d, name)
    expect_eq('extensions after del, add', exts[:-1], exts0)
    expect_eq('stdio extension', (exts[-1]['length'], exts[-1]['data_str']),
              (101, '<binary>'))
    expect_eq('its bytes', ext_bytes(d, name, TEST_MAGIC + 1), binary)
    expect_eq('backing_file_size', hdr['backing_file_size'],
              hdr0['backing_file_size'])

    # qemu-img 7.2 still sees the same image, and finds nothing wrong
    after = info_json(d, name)
    for key in ('actual-size', 'dirty-flag'):
        after.pop(key, None)
        before_info.pop(key, None)
    before_info['filename'] = after['filename'] = name
    expect_eq('info after the edits', after, before_info)
    ref_check_clean(d, name)
    against_map(d, Image(name), hdr, exts)

    if find_ext(exts, MAGIC_BACKING_FORMAT):
        edit(d, name, 'del-header-ext', hex(MAGIC_BACKING_FORMAT))
        info = info_json(d, name)
        expect('backing-filename-format' not in info,
               'info still shows a backing format')
        expect_eq('backing-filename', info['backing-filename'],
                  before_info['backing-filename'])
    if find_ext(exts, MAGIC_FEATURE_TABLE):
        edit(d, name, 'del-header-ext', hex(MAGIC_FEATURE_TABLE))
        hdr, exts = dump(d, name)
        expect(find_ext(exts, MAGIC_FEATURE_TABLE) is None,
               'the feature table is still there')
        against_map(d, Image(name), hdr, exts)
        ref_check_clean(d, name)


def rt_failures(d, src):
    """Edits that must fail leave every byte as it was"""
    name = copy(d, src, 'rt.qcow2')
    path = os.path.join(d, name)
    with open(path, 'rb') as f:
        before = f.read()
    hdr, _ = dump(d, name)
    bad = [(['set-header', 'nosuchfield', '1'], None),
           (['set-header', 'version', '0x100000000'], None),
           (['add-header-ext', '0', 'x'], None),
           (['add-header-ext-stdio', '0x1234'],
            bytes(1 << hdr['cluster_bits'])),
           (['del-header-ext', '0x7777'], None),
           (['set-feature-bit', 'incompatible', '64'], None)]
    if hdr['version'] == 2:
        bad.append((['set-feature-bit', 'compatible', '0'], None))
        bad.append((['set-header', 'refcount_order', '5'], None))
    for args, stdin in bad:
        p = run([sys.executable, QCOW2_PY, name] + args, d, stdin or b'')
        expect_eq('%s exit status' % ' '.join(args), p.returncode, 1)
        expect(p.stderr.startswith(b'qcow2.py: ') and
               p.stderr.count(b'\n') == 1,
               '%s: not a one-line message: %r' % (' '.join(args), p.stderr))
        with open(path, 'rb') as f:
            expect(f.read() == before, '%s changed the image' % ' '.join(args))


def fuzz(d, src, seed):
    """Damaged and truncated copies: exit 0 or 1, never a traceback"""
    rng = random.Random(seed)
    path = os.path.join(d, src)
    with open(path, 'rb') as f:
        good = f.read()
    hdr, exts = dump(d, src)
    # where the metadata the tool reads lies
    spots = [(0, 1 << hdr['cluster_bits'])]
    bm = find_ext(exts, MAGIC_BITMAPS)
    if bm:
        data = bm['data']
        spots.append((data['bitmap_directory_offset'],
                      data['bitmap_directory_size']))
        for e in data['bitmap_directory']:
            spots.append((e['bitmap_table_offset'],
                          e['bitmap_table_size'] * 8))
    target = os.path.join(d, 'fuzz.qcow2')
    tool = load_tool()
    for i in range(FUZZ):
        buf = bytearray(good)
        if i % 4 == 3:
            buf = buf[:rng.randrange(min(len(buf), 1 << 17))]
        else:
            start, length = rng.choice(spots)
            for _ in range(rng.randrange(1, 9)):
                off = start + rng.randrange(max(length, 1))
                if off >= len(buf):
                    continue
                if rng.randrange(2):
                    buf[off] = rng.randrange(256)
                else:
                    # a big value in a whole big-endian word
                    w = min(8, len(buf) - off)
                    buf[off:off + w] = bytes([0x7f] + [0xff] * (w - 1))[:w]
        with open(target, 'wb') as f:
            f.write(buf)
        for cmd in (['dump-header'], ['dump-header-exts', '-j'],
                    ['add-header-ext', '0x99', 'fuzz']):
            status, err = call_tool(tool, [target] + cmd)
            expect(status in (0, 1),
                   'case %d, %s: exit %r, %s' % (i, cmd[0], status, err))
            if status == 1:
                expect(err.startswith('qcow2.py: ') and err.count('\n') == 1,
                       'case %d, %s: not a one-line message: %r'
                       % (i, cmd[0], err))


class ToolTimeout(Exception):
    pass


def load_tool():
    """qcow2.py as a module: the damaged copies are many, and a process
    each would take minutes"""
    spec = importlib.util.spec_from_file_location('qcow2_py', QCOW2_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def call_tool(tool, args):
    """(exit status, stderr) of the tool's main() on ARGS; an exception
    that escapes it (a traceback) or a run past FUZZ_TIMEOUT seconds is
    reported as the status"""
    def alarm(signum, frame):
        raise ToolTimeout()
    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    sys.argv = ['qcow2.py'] + args
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(FUZZ_TIMEOUT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = tool.main()
    except ToolTimeout:
        status = 'no answer in %d s' % FUZZ_TIMEOUT
    except BaseException:
        status = 'traceback'
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        sys.argv = saved_argv
    return status, err.getvalue()


# --------------------------------------------------------------------------

def main(argv):
    verbose = '-v' in argv
    keep = '--keep' in argv
    passed = failed = 0
    d = tempfile.mkdtemp(prefix='run-qcow2-py.')

    def case(name, fn, *args):
        nonlocal passed, failed
        try:
            fn(*args)
        except (Failure, subprocess.TimeoutExpired, OSError,
                ValueError, KeyError, IndexError, TypeError) as e:
            failed += 1
            print('FAIL %s: %s: %s' % (name, type(e).__name__, e))
        else:
            passed += 1
            if verbose:
                print('pass %s' % name)
        sys.stdout.flush()

    try:
        images = []
        case('corpus', lambda: images.extend(build_corpus(d)))
        for image in images:
            parsed = []
            case('%s: dump-header -j' % image.name,
                 lambda: parsed.append(dump(d, image.name)))
            if not parsed:
                continue
            hdr, exts = parsed[0]
            for what, fn in (('info', against_info), ('map', against_map),
                             ('raw', against_raw)):
                case('%s: vs %s' % (image.name, what), fn, d, image, hdr,
                     exts)
            if image.name == 'luks.qcow2':
                continue        # info needs the secret: the edits are
                                # covered by the other images
            for what, fn in (('set-header', rt_set_header),
                             ('set-feature-bit', rt_feature_bits),
                             ('extensions', rt_extensions),
                             ('failing edits', rt_failures)):
                case('%s: %s round trip' % (image.name, what), fn, d,
                     image.name)
        for seed, image in enumerate(images):
            case('%s: %d damaged copies' % (image.name, FUZZ), fuzz, d,
                 image.name, seed)
    finally:
        if keep or failed:
            print('scratch files in %s' % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
