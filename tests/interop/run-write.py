#!/usr/bin/env python3
"""Differential test of guest writes: our qemu-io against the reference.

For every case, an image is created with the reference qemu-img (and, for
cases with a backing file, the backing file is filled by the reference
qemu-io); two copies are then written by the same qemu-io commands, one
with the reference qemu-io and one with ours.  A case passes when

  - both print the same (the timing lines filtered as the iotests do) and
    exit with the same status, and
  - the two image files are byte-identical.  Our allocator places
    clusters, refcount blocks, L2 tables and grown refcount tables where
    7.2 does, so this holds for every case.  A case marked `layout`
    (none is now) would instead need the reference check to find our
    image clean, the guest contents to compare equal (`qemu-img
    compare`) and both maps to agree once host offsets are removed.

Cases may also use a raw image (`'fmt': 'raw'` in their extras, opened
with -f raw) or a time limit (`'timeout'`: both programs must still be
running when it ends, with the same output so far).  The -C statistics
line keeps its byte and request counts; its timings are reduced to
SHORT or LONG (an hour or more: 7.2's aio_write -z reports the time
since boot).

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
CSV_TIMING = re.compile(rb'^([0-9]+),([0-9]+),([0-9]+):[0-9:.]+,[0-9.]+,'
                        rb'[0-9.]+$', re.M)
# 7.2's generated node names carry a counter and random digits.
NODE_NAME = re.compile(rb"'#block[0-9]+'")

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


# readv, writev and the aio commands.  7.2 prints an aio request's result
# when it completes, which may be after later commands; an aio_flush
# after each one fixes the order (ours completes them at once).
VECTORED = ['writev -P 1 0 512 1k 2k', 'readv -P 1 0 512 1k 2k',
            'readv -v 0 16 16', 'writev -P 2 100 3 5', 'readv -v 96 8 8',
            'writev -C -P 3 64k 64k', 'readv -C -P 3 64k 32k 32k',
            'writev -q -f 128k 1k', 'readv -q -P 0xcd 128k 1k',
            'readv 0 0', 'writev 0 0', 'readv 0 512 0 512',
            'readv -P 1 0 4k', 'readv -q -P 9 0 16', 'readv -v -P 9 0 17',
            'aio_write -P 4 1M 4k 4k', 'aio_flush',
            'aio_read -P 4 1M 8k', 'aio_flush',
            'aio_read -v 1M 8 8', 'aio_flush',
            'aio_read -C -P 4 1M 2k 2k', 'aio_flush',
            'aio_read -q -P 4 1M 512', 'aio_flush',
            'aio_read -P 5 1M 512', 'aio_flush',
            'aio_read -q -v -P 5 1M 16', 'aio_flush',
            'aio_write -C 2M 512', 'aio_flush',
            'aio_write -q -f -P 6 3M 512', 'aio_flush',
            'aio_write -z 1M 4k', 'aio_flush',
            'aio_write -z -u 4M 64k', 'aio_flush',
            'aio_write -z -C 5M 512', 'aio_flush',
            'aio_write -z -P 7 6M 512', 'aio_flush',
            'aio_write 0 0', 'aio_flush', 'aio_read 0 0', 'aio_flush',
            'aio_write -z 7M 0', 'aio_flush',
            'aio_read -P 0 1M 4k', 'aio_flush', 'map']
# Usage, number, length and range errors.
VECTORED_ERRORS = [
    'readv', 'readv 0', 'writev 0', 'aio_read 0', 'aio_write 0',
    'readv -x 0 512', 'writev -z 0 512', 'writev -s f 0 512',
    'readv -b 0 512', 'readv -s 0 0 512', 'writev -c 0 512',
    'writev -p 0 512', 'aio_write -n 0 512', 'aio_read -p 0 1',
    'readv -1 1', 'readv 0 -1', 'readv abc 512', 'readv 0 abc',
    'readv 0 1.5', 'readv 0 0x', 'readv 9E 512', 'writev 0 abc',
    'readv -P 300 0 512', 'writev -P abc 0 512', 'aio_read -P 0x100 0 1',
    'aio_write -P -1 0 1',
    'readv 0 2G', 'readv 0 2147483137', 'writev 0 2G',
    'readv 0 1G 1G', 'readv 0 1G 1G 1G abc', 'readv 0 abc 2G',
    'readv 0 2147483136 1', 'aio_read 0 2G', 'aio_write 0 1G 1G 1G',
    'readv 64M 512', 'readv 64M 0', 'readv 65M 0', 'readv 63M 2M',
    'writev 64M 1', 'writev 0x7fffffffffffffff 512',
    'aio_read 64M 1', 'aio_flush', 'aio_write 64M 1', 'aio_flush',
    'aio_write -z 63M 2M', 'aio_flush', 'aio_write -z 0 3G', 'aio_flush',
    'aio_read -i 0 512', 'aio_write -i 0 512', 'aio_read -i -x 0 512',
    'aio_read -i 0 abc', 'aio_write -z -i 0 512', 'aio_read -P 300 -i 0 1',
    'aio_write -u 0 512', 'aio_write -u -P 300 0 512',
    'aio_write -u 0 512 512', 'aio_write -z 0 512 512',
    'aio_write -z 0 abc 512', 'aio_write -z 0 abc', 'aio_write -z abc 1',
    'aio_flush 1', 'writev -P 1 0 1', 'readv -q -P 1 0 1']
# Vectored requests on a read-only image.
VECTORED_RO = ['writev 0 512', 'aio_write 0 512', 'aio_write -z 0 512',
               'readv -P 0 0 512', 'aio_read -P 0 0 512', 'aio_flush']
# reopen: modes, cache, options and their errors.
REOPEN = ['write -P 1 0 64k', 'reopen -r', 'write 0 512', 'writev 0 512',
          'aio_write 0 512', 'write -z 0 512', 'discard 0 64k',
          'truncate 2M', 'read -P 1 0 64k', 'reopen', 'write 0 1',
          'reopen -c none', 'write 0 1', 'reopen -w', 'write -P 2 64k 64k',
          'reopen -c writethrough', 'write -P 3 128k 4k', 'reopen -w',
          'reopen -r', 'reopen -o read-only=off', 'write -P 4 1M 4k',
          'read -P 2 64k 64k', 'read -P 4 1M 4k']
REOPEN_ERRORS = [
    'reopen -r -w', 'reopen -w -r', 'reopen -r -r', 'reopen -x',
    'reopen 1', 'reopen -r 1', 'reopen -c foo', 'reopen -c',
    'reopen -o foo=bar', 'reopen -o foo', 'reopen -o read-only',
    'reopen -o read-only=on', 'reopen -o read-only=foo,foo=1',
    'reopen -r -o read-only=off', 'reopen -w -o read-only=foo',
    'reopen -o read-only=off,foo=1', 'reopen -o driver=raw',
    'reopen -o driver=qcow2,foo=1', 'reopen -o foo=1,driver=raw',
    'reopen -o file.locking=off', 'reopen -o node-name=n',
    'reopen -o force-share=on', 'reopen -o filename=img.qcow2',
    'reopen -o file.filename=other', 'reopen -o file.driver=file',
    'reopen -o file.driver=null-co', 'reopen -o foo.bar=1',
    'reopen -o lazy-refcounts=on', 'reopen -o lazy-refcounts=off',
    'reopen -o lazy-refcounts=foo', 'reopen -o foo=1,lazy-refcounts=x',
    'reopen -o pass-discard-request=on', 'reopen -o overlap-check=none',
    'reopen -o overlap-check=foo', 'reopen -o l2-cache-size=1M',
    'reopen -o l2-cache-size=abc', 'reopen -o l2-cache-size=-1',
    'reopen -o cache-clean-interval=5',
    'reopen -o cache-clean-interval=abc',
    'reopen -o cache-clean-interval=-1',
    'reopen -o cache-clean-interval=4294967296',
    'reopen -o cache-clean-interval=18446744073709551616',
    'reopen -o cache-size=1k,l2-cache-size=2M',
    'reopen -o cache-size=1M,refcount-cache-size=2M',
    'reopen -o cache-size=1M,l2-cache-size=1M',
    'reopen -o cache-size=1M,l2-cache-size=512k,refcount-cache-size=1',
    'reopen -o l2-cache-size=2M,refcount-cache-size=3M',
    'reopen -o foo=1,cache-size=1k,l2-cache-size=2M',
    'reopen -o cache-size=1k,l2-cache-size=2M,lazy-refcounts=x',
    'reopen -o cache-size=1k,l2-cache-size=2M,l2-cache-entry-size=1000',
    'reopen -o cache-size=1k,l2-cache-size=2M,cache-clean-interval=-1',
    'reopen -o l2-cache-entry-size=1000,overlap-check=foo',
    'reopen -o overlap-check=foo,cache-clean-interval=-1',
    'reopen -o overlap-check=foo,discard=foo',
    'reopen -o l2-cache-entry-size=256', 'reopen -o l2-cache-entry-size=4k',
    'reopen -o l2-cache-entry-size=64k', 'reopen -o l2-cache-entry-size=128k',
    'reopen -o auto-read-only=on',
    'reopen -o auto-read-only=x', 'reopen -o discard=unmap',
    'reopen -o discard=foo', 'reopen -o cache.direct=on',
    'reopen -o cache.no-flush=x', 'reopen -o read-only=off',
    'reopen -o read-only=yes', 'write -P 5 0 4k', 'read -P 5 0 4k']
REOPEN_RAW = ['write -P 1 0 4k', 'reopen -r', 'write 0 512',
              'reopen -o foo=1', 'reopen -o lazy-refcounts=on',
              'reopen -o driver=raw', 'reopen -o driver=qcow2',
              'reopen -w', 'writev -P 2 4k 512 512', 'read -P 2 4k 1k']
BREAKPOINTS = ['break a b', 'remove_break a', 'resume a', 'break a',
               'break a b c', 'remove_break', 'resume a b', 'wait_break',
               'wait_break a b', 'write -P 1 0 512']
HELP_COMMANDS = ['abort', 'aio_flush', 'aio_read', 'aio_write', 'alloc',
                 'break', 'close', 'discard', 'flush', 'help', 'info',
                 'length', 'map', 'open', 'quit', 'read', 'readv',
                 'remove_break', 'reopen', 'resume', 'sigraise', 'sleep',
                 'truncate', 'wait_break', 'write', 'writev']
RAW = {'fmt': 'raw'}
BITMAP_PREP = [['bitmap', 'b0'], ['bitmap', 'b1', '--disable']]
VECTORED_CASES = [
    ('vectored', '', '64M', False, VECTORED, False),
    ('vectored-backing', '', '64M', True, VECTORED, False),
    ('vectored-raw', '', '64M', False, VECTORED, False, [], RAW),
    ('vectored-errors', '', '64M', False, VECTORED_ERRORS, False),
    ('vectored-errors-raw', '', '64M', False, VECTORED_ERRORS, False, [],
     RAW),
    ('vectored-read-only', '', '64M', False, VECTORED_RO, False, [],
     {'args': ['-r']}),
    ('reopen', '', '64M', False, REOPEN, False),
    ('reopen-errors', '', '64M', False, REOPEN_ERRORS, False),
    ('reopen-cache-4k', 'cluster_size=4k', '64M', False,
     ['reopen -o l2-cache-entry-size=4k', 'reopen -o l2-cache-entry-size=8k',
      'reopen -o l2-cache-entry-size=512', 'write -P 1 0 4k'], False),
    ('reopen-raw', '', '64M', False, REOPEN_RAW, False, [], RAW),
    ('reopen-start-ro', '', '64M', False,
     ['write 0 1', 'reopen -w', 'write -P 1 0 4k', 'reopen -r',
      'write 0 1', 'reopen -o read-only=on', 'reopen -o read-only=off',
      'read -P 1 0 4k'], False, [], {'args': ['-r']}),
    # 7.2 gives up the write permission for a reopen -r even when the
    # reopen then fails; only then may -o read-only=on succeed.
    ('reopen-permission', '', '64M', False,
     ['reopen -o read-only=on', 'reopen -r -o read-only=off',
      'reopen -o read-only=yes', 'write 0 1', 'reopen -w', 'write 0 1',
      'reopen -o read-only=on', 'reopen -r -o foo=1', 'write 0 1',
      'reopen -o read-only=on', 'write 0 1', 'reopen -r -c foo',
      'reopen -o read-only=off', 'reopen -o read-only=on'], False),
    ('reopen-force-share', '', '64M', False,
     ['reopen -w', 'write -P 1 0 4k'], False, [],
     {'args': ['-r', '-U']}),
    # Bitmaps: stored (in-use flags cleared) by reopen -r, marked in use
    # again by reopen -w; abort keeps the file as the last reopen left it.
    ('reopen-bitmaps', '', '64M', False,
     ['write -P 1 0 64k', 'reopen -r', 'reopen -w', 'write -P 2 1M 64k'],
     False, BITMAP_PREP),
    ('reopen-bitmaps-ro-abort', '', '64M', False,
     ['write -P 1 0 64k', 'reopen -r', 'abort'], False, BITMAP_PREP),
    ('reopen-bitmaps-rw-abort', '', '64M', False,
     ['reopen -r', 'reopen -w', 'abort'], False, BITMAP_PREP),
    ('reopen-lazy-abort', 'lazy_refcounts=on', '64M', False,
     ['write -P 1 0 64k', 'reopen -r', 'abort'], False),
    ('breakpoints', '', '64M', False, BREAKPOINTS, False),
    ('breakpoints-raw', '', '64M', False, BREAKPOINTS, False, [], RAW),
    ('wait-break', '', '64M', False, ['write -P 1 0 512', 'wait_break a'],
     False, [], {'timeout': 2}),
    ('help', '', '64M', False,
     ['help'] + ['help ' + c for c in HELP_COMMANDS], False),
]


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
     ['write -P 1 0 20M', 'write -P 2 30M 3M', 'read -P 1 0 20M'], False),
    # Five growths: 7.2 sizes each new table and its blocks from the
    # image's end (2 refcount blocks in the third area, 5 in the sixth).
    ('reftable-grows-5x-512', 'cluster_size=512', '160M', False,
     ['write -P 1 0 140M', 'read -P 1 0 140M'], False),
    # 64 clusters per refcount block: a block placed in the next range,
    # which has none yet, gets it from the cluster after it (as 7.2).
    ('reftable-grows-rc64-512', 'cluster_size=512,refcount_bits=64', '64G',
     False, ['write -P %d %dM 4M' % (i + 1, 4 * i) for i in range(12)],
     False),
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
] + VECTORED_CASES + [
    ('data-file', 'data_file=DATA', '64M', False, BASIC, False),
    ('data-file-raw', 'data_file=DATA,data_file_raw=on', '64M', False,
     BASIC, False),
]


def csv_timing(m):
    return b'%s,%s,%s' % (m.group(1), m.group(2),
                          b'SHORT' if m.group(3) == b'0' else b'LONG')


def filter_output(out):
    out = TIMING.sub(b'TIMING', out)
    out = CSV_TIMING.sub(csv_timing, out)
    return NODE_NAME.sub(b"'#blockN'", out)


def run(argv, cwd, timeout=None):
    """Exit status and filtered output; with @timeout, 'timeout' and the
    output so far when the program was still running."""
    if timeout is None:
        p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        return p.returncode, filter_output(p.stdout)
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, filter_output(out)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return 'timeout', filter_output(out)


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
        elif step[0] == 'bitmap':
            argv = [REF_QEMU_IMG, 'bitmap', '--add'] + step[2:] + [
                'img.qcow2', step[1]]
        else:
            argv = [REF_QEMU_IO]
            for c in step:
                argv += ['-c', c]
            argv.append('img.qcow2')
        subprocess.run(argv, cwd=sd, check=True, stdout=subprocess.DEVNULL)


def one_case(work, case):
    name, opts, size, backing, cmds, layout = case[:6]
    prep = case[6] if len(case) > 6 else []
    extras = case[7] if len(case) > 7 else {}
    fmt = extras.get('fmt', 'qcow2')
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
    argv = [REF_QEMU_IMG, 'create', '-q', '-f', fmt]
    if backing:
        argv += ['-b', 'base.qcow2', '-F', 'qcow2']
    if opts:
        argv += ['-o', opts.replace('DATA', 'img.data')]
    subprocess.run(argv + ['img.qcow2', size], cwd=sd, check=True)
    prepare(sd, prep)
    shutil.copytree(sd, os.path.join(d, 'ours'))
    results = {}
    for side, prog in (('ref', REF_QEMU_IO), ('ours', QEMU_IO)):
        argv = [prog] + extras.get('args', [])
        if fmt != 'qcow2':
            argv += ['-f', fmt]
        for c in cmds:
            argv += ['-c', c]
        results[side] = run(argv + ['img.qcow2'], os.path.join(d, side),
                            extras.get('timeout'))
    if 'timeout' in extras and results['ref'][0] != 'timeout':
        problems.append('7.2 did not run until the time limit')
    if results['ref'] != results['ours']:
        problems.append('qemu-io output or status differs:\n--- 7.2 (%s)\n'
                        '%s--- ours (%s)\n%s' % (
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
        rc, out = run([REF_QEMU_IMG, 'compare', '-f', fmt, '-F', fmt,
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
