#!/usr/bin/env python3
"""Crash injection in `qemu-img snapshot -c / -a / -d`.

Worker of tests/crash/run-snapshot.sh (read its header for the method).

usage: snapshot-workloads.py list              (the workloads' names)
       snapshot-workloads.py recipe IMAGE      (how an image is made)
       snapshot-workloads.py run NAME[@N] WORKDIR
A workload is IMAGE:OP (OP: create, apply, apply-*, delete, delete-*).
The worker prints PASS (with VERBOSE=1), FAIL and WORKLOAD lines, then
"COUNT PASSED FAILED CRASH-POINTS".

Environment (set by run-snapshot.sh): OURS_IMG (binary under test),
REF_IMG, REF_IO (the reference 7.2 tools), SHIM (crash-after.so),
CRASH_POINTS, CRASH_SEED, CRASH_STRICT, VERBOSE, KEEP (a directory:
failing cases are copied there).
"""

import os
import re
import shutil
import subprocess
import sys

from crashlib import (CrashWorker, KiB, MiB, SECTOR, SetupError, log_calls,
                      run, sample_points, split_label, text)

# ---------------------------------------------------------------------
# Images: made by the reference qemu-img and qemu-io, step by step.
# A step is 'io CMD' (reference qemu-io), 'snap NAME' (reference
# `snapshot -c`), or 'fill UNIT LEFT' (below).
# ---------------------------------------------------------------------

# Guest data before and after the first snapshot: overlapping writes,
# partial clusters, zero writes and a discard, so that the snapshot and
# the active layer share some clusters and not others.
PRE = ['io write -P 1 0 1M', 'io write -P 2 1536k 512k',
       'io write -P 3 100k 3k', 'io write -z 3M 128k']
POST = ['io write -P 4 256k 512k', 'io write -P 5 3584k 64k',
        'io discard 1536k 128k', 'io write -P 6 1100k 5k']
STD = PRE + ['snap s1'] + POST

BACKING_CMDS = ['write -P 161 0 1M', 'write -P 162 1M 384k',
                'write -P 163 70k 3k', 'write -P 164 2M 1M']

# 151 characters: with its ID, 24 bytes of extra data and the 40-byte
# header an entry takes 216 bytes, so seven fill 3 of 512-byte clusters
# and an eighth needs a fourth.
LONG = ('a-snapshot-name-long-enough-that-seven-entries-fill-three-'
        'clusters-of-the-table-and-an-eighth-needs-a-fourth-one-%d-')
LONG += 'x' * (151 - len(LONG % 0))


def images():
    """name -> dict(opts, size, backing, steps, ops, grows)."""
    d = {}

    def add(name, opts, steps, size=4 * MiB, backing=False, ops=None,
            grows=None):
        d[name] = dict(opts=opts, size=size, backing=backing, steps=steps,
                       ops=ops or [('create', 'new'), ('apply', 's1'),
                                   ('delete', 's1')],
                       grows=grows)

    add('c64k', '', STD)
    add('c512', 'cluster_size=512', STD)
    add('c2m', 'cluster_size=2M', STD[:5] + ['io write -P 7 9M 3M'] +
        STD[5:] + ['io write -P 8 10M 64k'], size=16 * MiB)
    add('rb2', 'refcount_bits=2', STD)
    add('rb16-4k', 'refcount_bits=16,cluster_size=4k', STD)
    add('rb64', 'refcount_bits=64', STD)
    add('extl2', 'extended_l2=on',
        ['io write -P 1 0 100k', 'io write -P 2 130k 3k',
         'io write -z 200k 64k', 'io write -P 3 1M 300k', 'snap s1',
         'io write -P 4 10k 2k', 'io write -P 5 140k 30k',
         'io discard 1M 64k', 'io write -z 1100k 4k',
         'io write -P 6 2M 6k'])
    add('compressed', '',
        ['io write -c -P 10 0 128k', 'io write -c -P 11 256k 64k',
         'io write -P 12 1M 256k', 'io write -c -P 13 2M 1M', 'snap s1',
         'io write -P 14 64k 64k', 'io write -c -P 15 3M 64k',
         'io write -P 16 2200k 4k'])
    add('backing', '',
        ['io write -P 1 64k 64k', 'io write -P 2 1030k 4k',
         'io write -z 2M 64k', 'snap s1', 'io write -P 3 96k 8k',
         'io write -P 4 1M 128k', 'io discard 2M 64k'], backing=True)
    add('v2', 'compat=0.10', STD)
    add('two-snaps', '',
        STD + ['snap s2', 'io write -P 7 0 64k', 'io write -P 8 2M 1M'],
        ops=[('create', 'new'), ('apply', 's1'), ('apply', 's2'),
             ('delete', 's1'), ('delete', 's2')])
    # Seven snapshots with long names: the table spans three 512-byte
    # clusters; an eighth entry makes it four.
    steps = ['io write -P 1 0 256k']
    for i in range(7):
        steps += ['snap ' + LONG % i,
                  'io write -P %d %d 40k' % (i + 2, i * 100 * KiB)]
    add('table-grow', 'cluster_size=512', steps, size=1 * MiB,
        ops=[('create', 'new'), ('apply', LONG % 2), ('delete', LONG % 3)],
        grows='table')
    # 512-byte clusters, 64-bit refcounts: a one-cluster refcount table
    # covers 2 MiB of file.  The file is filled to 2 clusters short of
    # that, so the L1 copy of `create` (4 clusters) needs a new refcount
    # block and a new refcount table.
    add('grow-rt', 'cluster_size=512,refcount_bits=64',
        ['io write -P 1 0 256k', 'snap s1', 'io write -P 2 128k 1600k',
         'fill table 2'], size=8 * MiB, grows='refcount table')
    # 512-byte clusters, 16-bit refcounts: a refcount block covers 128
    # KiB of file; the file ends at most 1 cluster short of a block's
    # end, so `create` needs a new refcount block.
    add('grow-rb', 'cluster_size=512',
        ['io write -P 1 0 256k', 'snap s1', 'io write -P 2 128k 700k',
         'fill block 1'], grows='refcount block')
    return d


def workloads():
    out = []
    for name, spec in images().items():
        seen = {}
        for op, arg in spec['ops']:
            k = seen.get(op, 0)
            seen[op] = k + 1
            # the second apply/delete of an image is named after its target
            suffix = op if not k else '%s-%s' % (op, arg[:12])
            out.append('%s:%s' % (name, suffix))
    return out


def workload_spec(wname):
    name, suffix = wname.split(':')
    spec = images()[name]
    seen = {}
    for op, arg in spec['ops']:
        k = seen.get(op, 0)
        seen[op] = k + 1
        if suffix == (op if not k else '%s-%s' % (op, arg[:12])):
            return name, spec, op, arg
    raise KeyError(wname)


def recipe(name):
    """Shell commands that make image NAME (for a reproducer)."""
    spec = images()[name]
    lines = []
    opts = spec['opts']
    if spec['backing']:
        lines.append('qemu-img create -q -f qcow2 base.qcow2 %d'
                     % spec['size'])
        lines.append('qemu-io %s base.qcow2' % ' '.join(
            "-c '%s'" % c for c in BACKING_CMDS))
        opts = ','.join(x for x in ('backing_file=base.qcow2,'
                                    'backing_fmt=qcow2', opts) if x)
    lines.append('qemu-img create -q -f qcow2 %simg.qcow2 %d' % (
        '-o %s ' % opts if opts else '', spec['size']))
    for st in spec['steps']:
        kind, rest = st.split(' ', 1)
        if kind == 'io':
            lines.append("qemu-io -c '%s' img.qcow2" % rest)
        elif kind == 'snap':
            lines.append("qemu-img snapshot -c '%s' img.qcow2" % rest)
        else:
            lines.append('# %s: write clusters after the data until the '
                         'file ends at most %s clusters short of the '
                         'refcount %s coverage' % (st, rest.split()[1],
                                                   rest.split()[0]))
    return lines


# ---------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------

def header(path):
    """dict of the header fields the test looks at."""
    with open(path, 'rb') as f:
        h = f.read(104)
    be = lambda o, n: int.from_bytes(h[o:o + n], 'big')
    version = be(4, 4)
    v3 = version >= 3 and len(h) >= 104
    incompat = be(72, 8) if v3 else 0
    return dict(version=version, cluster_bits=be(20, 4),
                rt_offset=be(48, 8), rt_clusters=be(56, 4),
                refcount_order=be(96, 4) if v3 else 4,
                dirty=incompat & 1, corrupt=(incompat >> 1) & 1)


def refcount_blocks(path):
    """Number of refcount blocks the refcount table names."""
    h = header(path)
    cs = 1 << h['cluster_bits']
    with open(path, 'rb') as f:
        f.seek(h['rt_offset'])
        t = f.read(h['rt_clusters'] * cs)
    return sum(1 for i in range(0, len(t), 8) if t[i:i + 8] != bytes(8))


def table_clusters(path):
    """Clusters the snapshot table spans."""
    with open(path, 'rb') as f:
        data = f.read()
    be = lambda o, n: int.from_bytes(data[o:o + n], 'big')
    cs = 1 << be(20, 4)
    pos = start = be(64, 8)
    for _ in range(be(60, 4)):
        extra, id_len, name_len = be(pos + 36, 4), be(pos + 12, 2), \
            be(pos + 14, 2)
        pos += (40 + extra + id_len + name_len + 7) // 8 * 8
    return (pos - start + cs - 1) // cs


def unit_left(path, unit):
    """Clusters from the end of the file to the end of what the current
    refcount table (unit 'table') or the last refcount block (unit
    'block') covers."""
    h = header(path)
    cs = 1 << h['cluster_bits']
    per_block = cs * 8 // (1 << h['refcount_order'])
    size = os.path.getsize(path)
    if unit == 'table':
        cover = h['rt_clusters'] * (cs // 8) * per_block * cs
    else:
        u = per_block * cs
        cover = (size + u - 1) // u * u
    return (cover - size) // cs, cs


COPIED_RE = re.compile(r'^ERROR OFLAG_COPIED (data|L2) cluster: .*'
                       r'refcount=(\d+)$')


def classify_check(rc, out):
    """The reference's check of a crashed image: 'clean', 'leaks',
    'copied-flag' (the only errors are OFLAG_COPIED missing from entries
    whose refcount is 1, plus perhaps leaks), 'corrupt' or 'failed'."""
    if rc == 0:
        return 'clean'
    if rc == 3:
        return 'leaks'
    if rc != 2:
        return 'failed'
    errors = [l for l in out.splitlines() if l.startswith('ERROR')]
    for l in errors:
        m = COPIED_RE.match(l)
        if not m or m.group(2) != '1':
            return 'corrupt'
    return 'copied-flag' if errors else 'corrupt'


def summary(out, most=8):
    """A check's output, shortened: its ERROR lines first, the leaks
    counted, then the rest."""
    lines = out.splitlines()
    errors = [l for l in lines if l.startswith(('ERROR', 'Repairing'))]
    leaks = [l for l in lines if l.startswith('Leaked cluster')]
    rest = [l for l in lines
            if l and l not in errors and l not in leaks]
    out = errors[:most // 2]
    if len(errors) > most // 2:
        out.append('(%d more ERROR/Repairing lines)'
                   % (len(errors) - most // 2))
    if leaks:
        out.append('(%d "Leaked cluster" lines)' % len(leaks))
    return out + rest[:most]


def first_diff(a, b):
    """Offset of the first differing sector, and the bytes there."""
    n = min(len(a), len(b))
    for o in range(0, n, 64 * KiB):
        if a[o:o + 64 * KiB] != b[o:o + 64 * KiB]:
            for s in range(o, min(o + 64 * KiB, n), SECTOR):
                if a[s:s + SECTOR] != b[s:s + SECTOR]:
                    return s, a[s:s + 8].hex(), b[s:s + 8].hex()
    return n, '(size %d)' % len(a), '(size %d)' % len(b)


# ---------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------

class Worker(CrashWorker):
    def __init__(self, wname, work):
        super().__init__(work)
        self.wname = wname
        self.name, self.spec, self.op, self.arg = workload_spec(wname)
        self.strict = os.environ.get('CRASH_STRICT') == '1'

    # -- setup ---------------------------------------------------------

    def ref_io_cmd(self, cmd, img):
        r = run([self.ref_io, '-c', cmd, img], cwd=self.work)
        if r.returncode or 'failed' in text(r) or 'rror' in text(r):
            raise SetupError('reference qemu-io %s: %s' % (cmd, text(r)))

    def fill(self, unit, target):
        """Writes clusters after the guest data written so far until the
        file ends at most TARGET clusters short of the end of what the
        refcount table or block covers."""
        img = self.p('orig.qcow2')
        off = 2 * MiB if unit == 'table' else 1 * MiB
        pattern = 40
        for _ in range(200):
            left, cs = unit_left(img, unit)
            if left <= target:
                return
            n = max(1, int((left - target) * 0.9))
            if off + n * cs > self.spec['size']:
                raise SetupError('fill: no room left in the guest')
            self.ref_io_cmd('write -P %d %d %d' % (pattern, off, n * cs),
                            img)
            off += n * cs
            pattern = pattern % 200 + 40
        raise SetupError('fill: did not converge')

    def create(self):
        """orig.qcow2 (and base.qcow2), with the reference tools."""
        opts = self.spec['opts']
        argv = [self.ref_img, 'create', '-q', '-f', 'qcow2']
        if self.spec['backing']:
            r = run([self.ref_img, 'create', '-q', '-f', 'qcow2',
                     'base.qcow2', str(self.spec['size'])], cwd=self.work)
            if r.returncode:
                raise SetupError('create base: ' + text(r))
            for c in BACKING_CMDS:
                self.ref_io_cmd(c, self.p('base.qcow2'))
            argv += ['-b', 'base.qcow2', '-F', 'qcow2']
        if opts:
            argv += ['-o', opts]
        r = run(argv + ['orig.qcow2', str(self.spec['size'])], cwd=self.work)
        if r.returncode:
            raise SetupError('create: ' + text(r))
        for st in self.spec['steps']:
            kind, rest = st.split(' ', 1)
            if kind == 'io':
                self.ref_io_cmd(rest, self.p('orig.qcow2'))
            elif kind == 'snap':
                r = run([self.ref_img, 'snapshot', '-c', rest, 'orig.qcow2'],
                        cwd=self.work)
                if r.returncode:
                    raise SetupError('snapshot -c %s: %s' % (rest, text(r)))
            else:
                unit, target = rest.split()
                self.fill(unit, int(target))
        r = run([self.ref_img, 'check', 'orig.qcow2'], cwd=self.work)
        if r.returncode:
            raise SetupError('reference check of the new image: ' + text(r))

    def snapshots(self, img):
        """[(id, name, rest of the line)] per the reference's list."""
        r = run([self.ref_img, 'snapshot', '-l', img], cwd=self.work)
        if r.returncode:
            return None
        rows = []
        for line in text(r).splitlines()[2:]:
            f = line.split()
            if len(f) >= 2:
                rows.append((f[0], f[1], ' '.join(f[2:])))
        return rows

    def raw(self, img, sid=None):
        """Guest data of the active layer or of snapshot SID (reference
        convert), or None."""
        if sid is None:
            return self.guest_raw(img)
        return self.guest_raw(img, ['-l', 'snapshot.id=' + sid])

    def state(self, img):
        """(active data, snapshot rows, {id: data}), or a reason."""
        rows = self.snapshots(img)
        if rows is None:
            return 'snapshot-list-fails'
        active = self.raw(img)
        if active is None:
            return 'active-layer-unreadable'
        data = {}
        for sid, _, _ in rows:
            data[sid] = self.raw(img, sid)
            if data[sid] is None:
                return 'snapshot-%s-unreadable' % sid
        return active, rows, data

    def ours(self, n=None, log=None, count=None):
        env = self.shim_env(n, log, count)
        flag = {'create': '-c', 'apply': '-a', 'delete': '-d'}[self.op]
        return run([self.ours_img, 'snapshot', flag, self.arg, 'img.qcow2'],
                   cwd=self.work, env=env)

    # -- the expectations --------------------------------------------------

    def expectations(self):
        """Before and after states; the id the new snapshot gets (7.2's
        own create, on a copy)."""
        st = self.state(self.p('orig.qcow2'))
        if isinstance(st, str):
            raise SetupError('reference cannot read the image: ' + st)
        self.active0, self.rows0, self.data0 = st
        ids = [r[0] for r in self.rows0]
        self.target = None
        if self.op in ('apply', 'delete'):
            hit = [r for r in self.rows0 if self.arg in (r[0], r[1])]
            if not hit:
                raise SetupError('no snapshot %s' % self.arg)
            self.target = hit[0][0]
        self.new_id = None
        if self.op == 'create':
            shutil.copyfile(self.p('orig.qcow2'), self.p('ref.qcow2'))
            r = run([self.ref_img, 'snapshot', '-c', self.arg, 'ref.qcow2'],
                    cwd=self.work)
            rows = self.snapshots(self.p('ref.qcow2'))
            os.unlink(self.p('ref.qcow2'))
            new = [x for x in rows or [] if x[0] not in ids]
            if r.returncode or len(new) != 1:
                raise SetupError('reference snapshot -c: ' + text(r))
            self.new_id = new[0][0]
        # The active data the operation may leave.
        self.actives = [self.active0]
        if self.op == 'apply':
            self.actives.append(self.data0[self.target])

    def check_state(self, img, final):
        """Reasons why IMG's guest data and snapshots are not allowed;
        FINAL: the uncrashed run (the operation must be complete).  Sets
        self.outcome: 'before' or 'after' (or None)."""
        self.outcome = None
        st = self.state(img)
        if isinstance(st, str):
            return [st]
        active, rows, data = st
        why = []
        if len(active) != len(self.active0):
            why.append('virtual size %d, was %d'
                       % (len(active), len(self.active0)))
        allowed = self.actives[-1:] if final else self.actives
        if active not in allowed:
            want = self.actives[-1] if final else self.active0
            off, got, exp = first_diff(active, want)
            why.append('active layer: offset %d reads %s, want %s%s' % (
                off, got, exp, ' (or the snapshot\'s data)'
                if len(allowed) > 1 else ''))
        before = {r[0]: r for r in self.rows0}
        got_ids = [r[0] for r in rows]
        for r in rows:
            sid = r[0]
            if sid in before:
                if r != before[sid]:
                    why.append('snapshot %s listed as %r, was %r'
                               % (sid, ' '.join(r), ' '.join(before[sid])))
                want = self.data0[sid]
            elif sid == self.new_id:
                if r[1] != self.arg:
                    why.append('new snapshot %s named %r, want %r'
                               % (sid, r[1], self.arg))
                want = self.active0
            else:
                why.append('unexpected snapshot %r' % ' '.join(r))
                continue
            if data[sid] != want:
                off, got, exp = first_diff(data[sid], want)
                why.append('snapshot %s: offset %d reads %s, want %s'
                           % (sid, off, got, exp))
        for sid in before:
            if sid not in got_ids and not (self.op == 'delete' and
                                           sid == self.target):
                why.append('snapshot %s (%s) lost' % (sid, before[sid][1]))
        # The order of the remaining entries is kept.
        old_order = [s for s in (r[0] for r in self.rows0) if s in got_ids]
        if [s for s in got_ids if s in before] != old_order:
            why.append('snapshot order changed: %s' % ' '.join(got_ids))
        if self.op == 'create':
            done = self.new_id in got_ids
        elif self.op == 'delete':
            done = self.target not in got_ids
        else:
            done = active == self.actives[-1] and active != self.active0
            if self.actives[-1] == self.active0:
                done = None     # the snapshot holds the active data
        if final and done is False:
            why.append('the operation did not happen')
        self.outcome = {True: 'after', False: 'before', None: 'same'}[done]
        return why

    def verify(self, img):
        """The reference's check: clean; header bits clear."""
        why = []
        r = run([self.ref_img, 'check', img], cwd=self.work)
        self.refcheck = text(r)
        if (r.returncode != 0 or
                not self.refcheck.startswith('No errors were found')):
            why.append('7.2-check-exit=%d' % r.returncode)
        h = header(img)
        if h['dirty']:
            why.append('dirty-bit-set')
        if h['corrupt']:
            why.append('corrupt-bit-set')
        return why

    # -- one crash point ---------------------------------------------------

    def crash_case(self, n):
        label = '%s@%d' % (self.wname, n)
        why = self.crash(n)
        cr = run([self.ref_img, 'check', 'crashed.qcow2'], cwd=self.work)
        self.crashcheck = text(cr)
        kind = classify_check(cr.returncode, self.crashcheck)
        self.tally[kind] = self.tally.get(kind, 0) + 1
        if kind in ('corrupt', 'failed') or (kind == 'copied-flag' and
                                              self.strict):
            why.append('crashed-image-%s(7.2 check exit %d)'
                       % (kind, cr.returncode))
        rep = run([self.ours_img, 'check', '-r', 'all', 'img.qcow2'],
                  cwd=self.work)
        if rep.returncode != 0:
            why.append('check-r-all-exit=%d' % rep.returncode)
        why += self.verify(self.p('img.qcow2'))
        why += self.check_state(self.p('img.qcow2'), False)
        if self.outcome:
            self.outcomes[self.outcome] = \
                self.outcomes.get(self.outcome, 0) + 1
        if not why:
            self.npass += 1
            if self.verbose:
                self.say('PASS %s (crashed image: %s)' % (label, kind))
            return
        self.nfail += 1
        self.fail_details(label, n, why, rep)

    def fail_details(self, label, n, why, rep):
        self.say('FAIL %s: %s' % (label, '; '.join(why)))
        log = self.show_crash_calls(n, 160)
        self.say('  7.2 check of the crashed image:')
        for line in summary(self.crashcheck):
            self.say('    ' + line)
        self.say('  ours check -r all (exit %d):' % rep.returncode)
        for line in summary(text(rep)):
            self.say('    ' + line)
        self.say('  7.2 check after it:')
        for line in summary(self.refcheck, 6):
            self.say('    ' + line)
        self.say('  reproduce: tests/crash/run-snapshot.sh -v %s (image: '
                 'tests/crash/snapshot-workloads.py recipe %s)'
                 % (label, self.name))
        if self.keep:
            k = os.path.join(self.keep, label.replace(':', '-'))
            shutil.copyfile(self.p('orig.qcow2'), k + '.orig.qcow2')
            shutil.copyfile(self.p('crashed.qcow2'), k + '.crashed.qcow2')
            # the crash is re-run above: img.qcow2 is the crashed image
            # again; the repaired one is made anew
            run([self.ours_img, 'check', '-r', 'all', 'img.qcow2'],
                cwd=self.work)
            shutil.copyfile(self.p('img.qcow2'), k + '.repaired.qcow2')
            shutil.copyfile(log, k + '.log')

    # -- points ------------------------------------------------------------

    def points(self, w, calls, syncs):
        budget, rng = self.points_rng('30', self.wname)
        if w <= budget:
            return list(range(w))
        # the first calls: allocations (a refcount table or block that
        # must grow, the L1 copy); the last: the table and header switch
        pick = set(range(10)) | set(range(w - 5, w))
        for s in syncs:                 # around each flush
            pick.update((s - 1, s, s + 1))
        for i, c in enumerate(calls):   # header writes
            m = re.search(r' off=0x([0-9a-f]+)', c)
            if m and int(m.group(1), 16) < 0x100:
                pick.update((i - 1, i, i + 1))
        return sample_points(pick, w, budget, rng)

    # -- main --------------------------------------------------------------

    def main(self, only=None):
        self.create()
        base_before = self.backing_digest()
        self.expectations()

        # The uncrashed run.
        self.fresh()
        log, count = self.p('full.log'), self.p('full.count')
        r = self.ours(log=log, count=count)
        calls, syncs = log_calls(log)
        w = len(calls)
        why = []
        if r.returncode != 0:
            why.append('exit %d: %s' % (r.returncode, text(r).strip()[:200]))
        why += self.verify(self.p('img.qcow2'))
        why += self.check_state(self.p('img.qcow2'), True)
        if w == 0:
            why.append('no modifying calls logged')
        try:
            with open(count) as f:
                counted = int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            counted = None
        if counted != w:
            why.append('the shim counted %s calls, logged %d' % (counted, w))
        grew = ''
        if self.spec['grows']:
            h0, h1 = header(self.p('orig.qcow2')), header(self.p('img.qcow2'))
            b0 = refcount_blocks(self.p('orig.qcow2'))
            b1 = refcount_blocks(self.p('img.qcow2'))
            grew = ('; refcount table %d -> %d clusters, %d -> %d '
                    'blocks; snapshot table %d -> %d clusters' % (
                        h0['rt_clusters'], h1['rt_clusters'], b0, b1,
                        table_clusters(self.p('orig.qcow2')),
                        table_clusters(self.p('img.qcow2'))))
            if self.op == 'create':
                g = self.spec['grows']
                if (g == 'refcount table' and
                        h1['rt_clusters'] <= h0['rt_clusters']) or \
                   (g == 'refcount block' and b1 <= b0) or \
                   (g == 'table' and
                        table_clusters(self.p('img.qcow2')) <=
                        table_clusters(self.p('orig.qcow2'))):
                    why.append('the create did not grow the %s' % g)
        if why:
            self.nfail += 1
            self.say('FAIL %s@none: %s' % (self.wname, '; '.join(why)))
            for line in self.refcheck.splitlines()[:8]:
                self.say('    ' + line)
            self.say('WORKLOAD %s: uncrashed run failed, no crash points '
                     'run' % self.wname)
            return
        self.npass += 1
        if self.verbose:
            self.say('PASS %s@none (W=%d)' % (self.wname, w))

        pts = [only] if only is not None else self.points(w, calls, syncs)
        self.tally = {}
        self.outcomes = {}
        self.run_points(self.wname, pts, w)
        self.check_backing(self.wname, base_before)
        order = ('clean', 'leaks', 'copied-flag', 'corrupt', 'failed')
        self.say('WORKLOAD %s: %d snapshots, W=%d calls (%d flushes), %d '
                 'crash points; crashed images by 7.2 check: %s; after '
                 'repair: %s%s' % (
                     self.wname, len(self.rows0), w, len(syncs), len(pts),
                     ', '.join('%d %s' % (self.tally.get(k, 0), k)
                               for k in order),
                     ', '.join('%d %s' % (v, k)
                               for k, v in sorted(self.outcomes.items())),
                     grew))


def main():
    if len(sys.argv) == 2 and sys.argv[1] == 'list':
        for w in workloads():
            print(w)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == 'recipe':
        print('\n'.join(recipe(sys.argv[2])))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == 'run':
        wname, only = split_label(sys.argv[2])
        w = Worker(wname, sys.argv[3])
        try:
            w.main(only)
        except (SetupError, subprocess.TimeoutExpired, OSError) as e:
            w.nfail += 1
            w.say('FAIL %s: setup: %s' % (wname, e))
            w.npoints = 0
        print('COUNT %d %d %d' % (w.npass, w.nfail,
                                  getattr(w, 'npoints', 0)), flush=True)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())
