#!/usr/bin/env python3
"""Differential test of guest writes: our qemu-io against the reference.

For every case, an image is created with the reference qemu-img (and, for
cases with a backing file, the backing file is filled by the reference
qemu-io); two copies are then written by the same qemu-io commands, one
with the reference qemu-io and one with ours.  A case passes when

  - both print the same (the timing lines filtered as the iotests do) and
    exit with the same status, and
  - the two image files are byte-identical.  Our allocator places
    clusters, refcount blocks and L2 tables where 7.2 does, so this holds
    except where a case is marked `layout`: there (the refcount table has
    to grow, and 7.2 places the new table elsewhere) the reference check
    must find our image clean, the guest contents must compare equal
    (`qemu-img compare`) and both maps must agree once host offsets are
    removed.

Environment: QEMU_IO (default <repo>/build/qemu-io), REF_QEMU_IMG,
REF_QEMU_IO (default /usr/bin/qemu-img, /usr/bin/qemu-io).

Usage: run-write.py [-v] [--keep] [FILTER...]
The last line printed is `N passed, N failed`; exit status 1 on failure.
Check the runner itself with QEMU_IO=/usr/bin/qemu-io: every case passes.
"""

import fnmatch
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
QEMU_IO = os.path.abspath(os.environ.get('QEMU_IO') or
                          os.path.join(REPO, 'build/qemu-io'))
REF_QEMU_IMG = os.environ.get('REF_QEMU_IMG') or '/usr/bin/qemu-img'
REF_QEMU_IO = os.environ.get('REF_QEMU_IO') or '/usr/bin/qemu-io'
TIMING = re.compile(rb'^[0-9.]+ (bytes|[KMGTPE]iB), [0-9]+ ops; .*$', re.M)

# Workloads: qemu-io commands, run as one process with -c each.
BASIC = ['write -P 1 0 1M', 'write -P 2 512 1k', 'write -z 64k 64k',
         'write -z -u 128k 64k', 'discard 192k 128k',
         'write -P 3 10M 100k', 'read -P 3 10M 100k', 'read -P 2 512 1k']
PARTIAL = ['write -P 9 1k 2k', 'write -P 8 63k 3k', 'write -z 70k 1k',
           'write -z 128k 3k', 'write -z -u 200k 100k', 'discard 0 1M',
           'write -P 7 300k 1', 'read -P 7 300k 1']
OVERWRITE = ['write -P 1 0 256k', 'write -P 2 4k 8k', 'write -P 3 60k 8k',
             'write -z 100k 4k', 'write -P 4 100k 2k', 'write -z 0 64k',
             'write -P 5 1k 1k', 'read -P 5 1k 1k', 'read -P 0 0 1k']
SEQUENTIAL = ['write -P %d %dk 4k' % (i % 250 + 1, i * 4) for i in range(300)]
TAIL = ['write -P 6 0 512', 'write -z 1536 512', 'write -P 6 2048 512',
        'discard 2048 512', 'read -P 0 2048 512', 'write -z 512 1k',
        'read -P 0 512 1k']
TAIL_BACKING = ['write -P 5 0 2560']

# Backing file contents (reference qemu-io).
BACKING = ['write -P 5 0 256k', 'write -P 6 1M 64k', 'write -z 64k 64k']

# Set-up done with the reference tools before the two copies are made:
# qemu-io commands, or ['snapshot', NAME] for `qemu-img snapshot -c`.
COMPRESSED_PREP = [['write -c -P 1 0 64k', 'write -c -P 2 64k 64k',
                    'write -c -P 3 192k 64k']]
SNAPSHOT_PREP = [['write -P 1 0 256k', 'write -P 2 1M 64k'],
                 ['snapshot', 's1']]
SHARED = ['write -P 4 4k 4k', 'write -P 5 60k 8k', 'write -z 128k 64k',
          'write -z -u 192k 64k', 'discard 1M 64k', 'write -P 6 2M 4k',
          'read -P 4 4k 4k', 'read -P 1 8k 52k']



def compress_workload(cs):
    """Compressed writes, one cluster each (7.2 places the clusters of a
    longer request in the order its threads finish): packing, runs into
    the next host cluster (and a normal cluster allocated in between),
    refused requests, a freed compressed cluster, an uncompressible one
    written as it is."""
    return ['write -c -P 1 0 %d' % cs, 'write -c -P 2 %d %d' % (cs, cs),
            'write -c -P 3 %d %d' % (2 * cs, cs),
            'write -c 512 %d' % cs, 'write -c -P 4 0 %d' % cs,
            'write -c -z %d %d' % (4 * cs, cs),
            'write -P 5 %d %d' % (5 * cs, cs),
            'write -c -s random.bin %d %d' % (6 * cs, cs),
            'discard %d %d' % (cs, cs), 'write -c -P 6 %d %d' % (cs, cs),
            'write -c -P 7 %d %d' % (7 * cs, cs),
            'write -c -s half.bin %d %d' % (8 * cs, cs),
            'write -c -s half.bin %d %d' % (9 * cs, cs),
            'write -P 8 %d %d' % (10 * cs, cs),
            'write -c -s half.bin %d %d' % (11 * cs, cs),
            'write -c -s half.bin %d %d' % (12 * cs, cs),
            'read -P 6 %d %d' % (cs, cs), 'read -P 1 0 %d' % cs,
            'read -P 3 %d %d' % (2 * cs, cs)]


CASES = [
    # name, create options, size, backing workload (True: BACKING),
    # workload, layout may differ
    ('basic', '', '64M', False, BASIC, False),
    ('basic-512', 'cluster_size=512', '64M', False, BASIC, False),
    ('basic-2M', 'cluster_size=2M', '64M', False, BASIC, False),
    ('basic-v2', 'compat=0.10', '64M', False, BASIC, False),
    ('basic-rc1', 'refcount_bits=1', '64M', False, BASIC, False),
    ('basic-rc64', 'refcount_bits=64', '64M', False, BASIC, False),
    ('basic-lazy', 'lazy_refcounts=on', '64M', False, BASIC, False),
    ('partial', '', '64M', False, PARTIAL, False),
    ('partial-backing', '', '64M', True, PARTIAL, False),
    ('partial-backing-v2', 'compat=0.10', '64M', True, PARTIAL, False),
    ('partial-backing-512', 'cluster_size=512', '64M', True, PARTIAL, False),
    ('partial-extl2', 'extended_l2=on', '64M', False, PARTIAL, False),
    ('partial-extl2-backing', 'extended_l2=on', '64M', True, PARTIAL, False),
    ('overwrite', '', '64M', False, OVERWRITE, False),
    ('overwrite-backing', '', '64M', True, OVERWRITE, False),
    ('overwrite-extl2-backing', 'extended_l2=on,cluster_size=128k', '64M',
     True, OVERWRITE, False),
    ('sequential-4k', '', '64M', False, SEQUENTIAL, False),
    ('sequential-512', 'cluster_size=512', '64M', False, SEQUENTIAL, False),
    ('sequential-rc1-512', 'cluster_size=512,refcount_bits=1', '16M', False,
     ['write -P 1 0 10M'], False),
    ('tail', '', '2560', False, TAIL, False),
    ('tail-backing', '', '2560', TAIL_BACKING, TAIL, False),
    ('tail-extl2', 'extended_l2=on', '2560', False, TAIL, False),
    ('reftable-grows-512', 'cluster_size=512', '64M', False,
     ['write -P 1 0 20M', 'write -P 2 30M 3M', 'read -P 1 0 20M'], True),
    ('compressed', '', '64M', False, OVERWRITE, False, COMPRESSED_PREP),
    ('compressed-extl2', 'extended_l2=on', '64M', False, OVERWRITE, False,
     COMPRESSED_PREP),
    ('compressed-zstd', 'compression_type=zstd', '64M', False, OVERWRITE,
     False, COMPRESSED_PREP),
    ('write-c', '', '64M', False, compress_workload(65536), False),
    ('write-c-zstd', 'compression_type=zstd', '64M', False,
     compress_workload(65536), False),
    ('write-c-4k', 'cluster_size=4k', '64M', False,
     compress_workload(4096), False),
    ('write-c-512', 'cluster_size=512', '64M', False,
     compress_workload(512), False),
    ('write-c-rc1-4k', 'cluster_size=4k,refcount_bits=1', '64M', False,
     compress_workload(4096), False),
    ('write-c-extl2', 'extended_l2=on', '64M', False,
     compress_workload(65536), False),
    ('write-c-v2', 'compat=0.10', '64M', False, compress_workload(65536),
     False),
    ('write-c-backing', '', '64M', True, compress_workload(65536), False),
    ('write-c-tail', '', '2560', False,
     ['write -c -P 1 0 2560', 'read -P 1 0 2560'], False),
    ('snapshot-shared', '', '64M', False, SHARED, False, SNAPSHOT_PREP),
    ('snapshot-shared-512', 'cluster_size=512', '64M', False, SHARED, False,
     SNAPSHOT_PREP),
    ('snapshot-shared-extl2', 'extended_l2=on', '64M', False, SHARED, False,
     SNAPSHOT_PREP),
    ('snapshot-shared-rc2', 'refcount_bits=2', '64M', False, SHARED, False,
     SNAPSHOT_PREP),
    # Damaged: a data write that would hit metadata marks the image
    # corrupt and fails; every later request fails ("No medium found").
] + [
    ('overlap-' + what, '', '16M', False,
     ['write -P 2 0 4k', 'write -P 3 1M 4k', 'read 0 512'], False,
     [['write -P 1 0 64k'], ['point-l2-at', what]])
    for what in ('header', 'l1', 'l2', 'reftable', 'refblock')
] + [
    ('data-file', 'data_file=DATA', '64M', False, BASIC, False),
    ('data-file-raw', 'data_file=DATA,data_file_raw=on', '64M', False,
     BASIC, False),
]


def run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    return p.returncode, TIMING.sub(b'TIMING', p.stdout)


def strip_offsets(text):
    return re.sub(rb'"offset": [0-9]+', b'"offset": X', text)


def point_l2_at(path, what):
    """Damages an image: its first L2 entry points at metadata."""
    with open(path, 'r+b') as f:
        d = f.read(1 << 20)
        l1 = struct.unpack('>Q', d[40:48])[0]
        f.seek(l1)
        l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
        rt = struct.unpack('>Q', d[48:56])[0]
        f.seek(rt)
        rb = struct.unpack('>Q', f.read(8))[0]
        target = {'header': 0, 'l1': l1, 'l2': l2, 'reftable': rt,
                  'refblock': rb}[what]
        f.seek(l2)
        f.write(struct.pack('>Q', target | (1 << 63)))


def prepare(sd, prep):
    for step in prep:
        if step[0] == 'point-l2-at':
            point_l2_at(os.path.join(sd, 'img.qcow2'), step[1])
            continue
        if step[0] == 'snapshot':
            argv = [REF_QEMU_IMG, 'snapshot', '-c', step[1], 'img.qcow2']
        else:
            argv = [REF_QEMU_IO]
            for c in step:
                argv += ['-c', c]
            argv.append('img.qcow2')
        subprocess.run(argv, cwd=sd, check=True, stdout=subprocess.DEVNULL)


def one_case(work, case):
    name, opts, size, backing, cmds, layout = case[:6]
    prep = case[6] if len(case) > 6 else []
    d = os.path.join(work, name)
    os.makedirs(d)
    problems = []
    # Built once, then copied: the set-up (snapshot dates) must not differ.
    sd = os.path.join(d, 'ref')
    os.makedirs(sd)
    # Data that does not compress, the same every run (write -s).
    rnd = random.Random(7)
    with open(os.path.join(sd, 'random.bin'), 'wb') as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(65536)))
    # Data that compresses to about two thirds: two such clusters do not
    # fit in one host cluster (the packing runs on into the next one).
    with open(os.path.join(sd, 'half.bin'), 'wb') as f:
        for _ in range(256):
            f.write(bytes(rnd.getrandbits(8) for _ in range(160)))
            f.write(bytes(96))
    if backing:
        subprocess.run([REF_QEMU_IMG, 'create', '-q', '-f', 'qcow2',
                        'base.qcow2', size], cwd=sd, check=True)
        argv = [REF_QEMU_IO]
        for c in BACKING if backing is True else backing:
            argv += ['-c', c]
        subprocess.run(argv + ['base.qcow2'], cwd=sd, check=True,
                       stdout=subprocess.DEVNULL)
    argv = [REF_QEMU_IMG, 'create', '-q', '-f', 'qcow2']
    if backing:
        argv += ['-b', 'base.qcow2', '-F', 'qcow2']
    if opts:
        argv += ['-o', opts.replace('DATA', 'img.data')]
    subprocess.run(argv + ['img.qcow2', size], cwd=sd, check=True)
    prepare(sd, prep)
    shutil.copytree(sd, os.path.join(d, 'ours'))
    results = {}
    for side, prog in (('ref', REF_QEMU_IO), ('ours', QEMU_IO)):
        argv = [prog]
        for c in cmds:
            argv += ['-c', c]
        results[side] = run(argv + ['img.qcow2'], os.path.join(d, side))
    if results['ref'] != results['ours']:
        problems.append('qemu-io output or status differs:\n--- 7.2 (%d)\n'
                        '%s--- ours (%d)\n%s' % (
                            results['ref'][0],
                            results['ref'][1].decode(errors='replace'),
                            results['ours'][0],
                            results['ours'][1].decode(errors='replace')))
    ref_img = os.path.join(d, 'ref', 'img.qcow2')
    our_img = os.path.join(d, 'ours', 'img.qcow2')
    same = open(ref_img, 'rb').read() == open(our_img, 'rb').read()
    for extra in ('img.data',):
        a = os.path.join(d, 'ref', extra)
        b = os.path.join(d, 'ours', extra)
        if os.path.exists(a) and open(a, 'rb').read() != open(b, 'rb').read():
            problems.append('%s differs' % extra)
    if not same and not layout:
        problems.append('image files differ')
    if not same or layout:
        rc, out = run([REF_QEMU_IMG, 'check', our_img], d)
        if rc != 0:
            problems.append('reference check of our image:\n' +
                            out.decode(errors='replace'))
        rc, out = run([REF_QEMU_IMG, 'compare', '-f', 'qcow2', '-F', 'qcow2',
                       ref_img, our_img], d)
        if rc != 0:
            problems.append('guest contents differ: ' +
                            out.decode(errors='replace'))
        maps = [strip_offsets(run([REF_QEMU_IMG, 'map', '--output=json',
                                   img], d)[1])
                for img in (ref_img, our_img)]
        if maps[0] != maps[1]:
            problems.append('maps differ beyond host offsets')
    return problems


def main():
    args = sys.argv[1:]
    verbose = '-v' in args
    keep = '--keep' in args
    filters = [a for a in args if a not in ('-v', '--keep')]
    work = tempfile.mkdtemp(prefix='run-write.')
    passed = failed = 0
    for case in CASES:
        if filters and not any(f in case[0] or fnmatch.fnmatch(case[0], f)
                               for f in filters):
            continue
        try:
            problems = one_case(work, case)
        except (subprocess.SubprocessError, OSError) as e:
            problems = ['could not run: %s' % e]
        if problems:
            failed += 1
            print('FAIL %s' % case[0])
            for p in problems:
                print('  ' + p.rstrip().replace('\n', '\n  ')[:3000])
        else:
            passed += 1
            if verbose:
                print('pass %s' % case[0])
    if keep:
        print('work directory: %s' % work)
    else:
        shutil.rmtree(work)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
