#!/usr/bin/env python3
"""Crash injection in the qcow2 write path, driven by qemu-io.

Worker of tests/crash/run-writer.sh (read its header for the method).

usage: writer-workloads.py list            (the workloads' names)
       writer-workloads.py script NAME     (a workload's qemu-io commands)
       writer-workloads.py run NAME[@N] WORKDIR
The worker prints PASS (with VERBOSE=1), FAIL, NOTE and WORKLOAD lines,
then "COUNT PASSED FAILED CRASH-POINTS".

Environment (set by run-writer.sh): OURS_IO, OURS_IMG (binaries under
test), REF_IMG, REF_IO (the reference 7.2 tools), SHIM (crash-after.so),
CRASH_POINTS (crash points per workload), CRASH_SEED, VERBOSE, KEEP
(a directory: failing cases are copied there).

A workload is an image made by the reference `qemu-img create` (and a
backing file filled by the reference qemu-io) plus a list of qemu-io
commands, generated from a fixed seed.  Guest data is modelled per
512-byte sector: its byte when the sector is uniform, else its bytes.
"""

import os
import random
import shutil
import subprocess
import sys

from crashlib import (CrashWorker, KiB, MiB, SECTOR, SetupError, log_calls,
                      run, sample_points, split_label, text)

UNIFORM = [bytes([b]) * SECTOR for b in range(256)]
CHUNK = 64 * 1024
UNIFORM_CHUNK = [bytes([b]) * CHUNK for b in range(256)]

# ---------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------


class Gen:
    """Random qemu-io commands inside a hot region of the image (so that
    commands overlap: overwrites, COW of written clusters, zeroing and
    discarding what was written)."""

    def __init__(self, rng, cluster, size, hot, ops):
        self.rng = rng
        self.cluster = cluster
        self.size = size
        self.hot = min(hot, size)
        self.ops = ops
        self.pattern = 0
        self.compressed = 0     # compressed clusters written

    def next_pattern(self):
        # 1..254, skipping the backing file's 0xa0..0xaf for clarity
        while True:
            self.pattern = self.pattern % 254 + 1
            if not 0xa0 <= self.pattern <= 0xaf:
                return self.pattern

    def clusters(self, most=4):
        r, c = self.rng, self.cluster
        n = r.randint(1, most)
        off = r.randrange(self.hot // c) * c
        return off, min(n * c, self.size - off)

    def partial(self):
        """Sector-aligned, inside one cluster, not all of it."""
        r, c = self.rng, self.cluster
        spc = c // SECTOR
        base = r.randrange(self.hot // c) * c
        if spc == 1:
            return base, c
        first = r.randrange(spc - 1)
        n = r.randint(1, min(spc - first, 128))
        if first == 0 and n == spc:
            n -= 1
        return base + first * SECTOR, n * SECTOR

    def spanning(self):
        """Across a cluster boundary, partial on both sides."""
        r, c = self.rng, self.cluster
        b = r.randrange(1, self.hot // c) * c
        head = r.randint(1, min(c // SECTOR, 64)) * SECTOR
        tail = r.randint(1, min(c // SECTOR, 64)) * SECTOR
        if b + tail > self.size:
            tail = self.size - b
        return b - head, head + tail

    def command(self):
        r = self.rng
        op = r.choice(self.ops)
        if op == 'write':
            off, n = self.clusters()
            return 'write -P %d %d %d' % (self.next_pattern(), off, n)
        if op == 'partial':
            off, n = self.partial()
            return 'write -P %d %d %d' % (self.next_pattern(), off, n)
        if op == 'span':
            off, n = self.spanning()
            return 'write -P %d %d %d' % (self.next_pattern(), off, n)
        if op == 'unaligned':
            off = r.randrange(self.hot - 8 * KiB) + 1
            return 'write -P %d %d %d' % (self.next_pattern(), off,
                                          r.randint(1, 6000))
        if op == 'fua':
            off, n = self.partial() if r.random() < .5 else self.clusters(2)
            return 'write -f -P %d %d %d' % (self.next_pattern(), off, n)
        if op == 'zero':
            off, n = self.partial() if r.random() < .5 else self.clusters()
            return 'write -z %d %d' % (off, n)
        if op == 'zero-unmap':
            off, n = self.clusters()
            return 'write -z -u %d %d' % (off, n)
        if op == 'discard':
            off, n = self.clusters() if r.random() < .8 else self.spanning()
            return 'discard %d %d' % (off, n)
        if op == 'compress':
            # One cluster past the hot region, never allocated before
            # (a compressed write cannot replace an allocated cluster)
            off = self.hot + self.compressed * self.cluster
            self.compressed += 1
            return 'write -c -P %d %d %d' % (self.next_pattern(), off,
                                             self.cluster)
        raise ValueError(op)

    def workload(self, ncmds, lead=()):
        """ncmds commands after LEAD, a flush every 2 to 4 of them."""
        cmds = list(lead)
        gap = self.rng.randint(2, 4)
        for _ in range(ncmds):
            cmds.append(self.command())
            gap -= 1
            if gap == 0:
                cmds.append('flush')
                gap = self.rng.randint(2, 4)
        return cmds


ALL_OPS = ['write', 'write', 'partial', 'partial', 'span', 'zero',
           'zero-unmap', 'discard', 'fua', 'unaligned']

# The backing file of the overlay workloads: 64 KiB clusters, patterns
# 0xa0..0xaf in runs that do not follow the overlay's clusters, some of
# it unallocated (reads as zeroes).
BACKING_CMDS = ['write -P 161 0 1M', 'write -P 162 1M 384k',
                'write -P 163 70k 3k', 'write -P 164 2M 1M',
                'write -P 165 2500k 7k', 'write -P 166 4M 96k']


# The bitmaps of the 'bitmaps*' workloads, added by the reference: two
# enabled (the writes mark them), one disabled.
BITMAP_CMDS = [
    ['--add', 'b0'],
    ['--add', '-g', '4k', 'b1'],
    ['--add', '--disable', 'b2'],
]


def workloads():
    """name -> dict(opts, size, backing, cluster, commands)."""
    defs = [
        # name, -o options, size, cluster, backing, hot region, commands
        ('grow-512-rb64', 'cluster_size=512,refcount_bits=64', 8 * MiB,
         512, False, 256 * KiB, 20),
        ('c64k', '', 16 * MiB, 64 * KiB, False, 2 * MiB, 36),
        ('c512', 'cluster_size=512', 4 * MiB, 512, False, 64 * KiB, 36),
        ('c2m', 'cluster_size=2M', 16 * MiB, 2 * MiB, False, 8 * MiB, 24),
        ('rb1', 'refcount_bits=1', 16 * MiB, 64 * KiB, False, 2 * MiB, 30),
        ('rb64', 'refcount_bits=64', 16 * MiB, 64 * KiB, False, 2 * MiB,
         30),
        ('extl2', 'extended_l2=on', 16 * MiB, 64 * KiB, False, 1 * MiB, 36),
        ('lazy', 'lazy_refcounts=on', 16 * MiB, 64 * KiB, False, 2 * MiB,
         30),
        ('v2', 'compat=0.10', 16 * MiB, 64 * KiB, False, 2 * MiB, 30),
        ('backing', '', 8 * MiB, 64 * KiB, True, 5 * MiB, 36),
        ('backing-extl2', 'extended_l2=on,cluster_size=32k', 8 * MiB,
         32 * KiB, True, 5 * MiB, 30),
        ('backing-v2', 'compat=0.10', 8 * MiB, 64 * KiB, True, 5 * MiB, 30),
        # Persistent bitmaps (see BITMAP_CMDS): marked in use at open,
        # stored at close.
        ('bitmaps', '', 16 * MiB, 64 * KiB, False, 2 * MiB, 30),
        ('bitmaps-c512', 'cluster_size=512', 4 * MiB, 512, False,
         64 * KiB, 30),
        # compressed writes (qemu-io write -c) among the others
        ('compress', '', 16 * MiB, 64 * KiB, False, 1 * MiB, 36),
        ('compress-512-rb1', 'cluster_size=512,refcount_bits=1', 4 * MiB,
         512, False, 32 * KiB, 36),
        ('compress-backing', '', 8 * MiB, 64 * KiB, True, 5 * MiB, 30),
    ]
    out = {}
    for name, opts, size, cluster, backing, hot, n in defs:
        rng = random.Random('writer:' + name)
        ops = ALL_OPS + ['compress'] * 4 if name.startswith('compress') \
            else ALL_OPS
        g = Gen(rng, cluster, size, hot, ops)
        lead = ()
        if name.startswith('grow'):
            # 512-byte clusters with 64-bit refcounts: one refcount
            # block covers 32 KiB and the one-cluster refcount table
            # 2 MiB of file, so 3 MiB of data must grow the table; the
            # truncate grows the L1 table.
            lead = []
            for i in range(6):
                lead.append('write -P %d %d 512k' % (g.next_pattern(),
                                                     i * 512 * KiB))
                lead.append(g.command())
                if i % 2:
                    lead.append('flush')
            lead += ['truncate 12M', 'write -P %d 9M 64k' % g.next_pattern(),
                     'flush']
        out[name] = dict(opts=opts, size=size, cluster=cluster,
                         backing=backing, commands=g.workload(n, lead),
                         bitmaps=name.startswith('bitmaps'))
    return out


# ---------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------

def signature(raw):
    """Per sector: its byte if uniform, else its bytes."""
    sig = []
    for c in range(0, len(raw), CHUNK):
        chunk = raw[c:c + CHUNK]
        if len(chunk) == CHUNK and chunk == UNIFORM_CHUNK[chunk[0]]:
            sig += [chunk[0]] * (CHUNK // SECTOR)   # the common case
            continue
        for i in range(0, len(chunk), SECTOR):
            s = chunk[i:i + SECTOR]
            b = s[0]
            sig.append(b if s == UNIFORM[b] else bytes(s))
    return sig


def show(v):
    if isinstance(v, int):
        return '0x%02x' % v
    return 'mixed(%s...)' % v[:8].hex()


def header_bits(path):
    """(version, dirty, corrupt)."""
    with open(path, 'rb') as f:
        h = f.read(80)
    version = int.from_bytes(h[4:8], 'big')
    if version < 3 or len(h) < 80:
        return version, 0, 0
    incompat = int.from_bytes(h[72:80], 'big')
    return version, incompat & 1, (incompat >> 1) & 1


def refcounts_past_eof(path):
    """Clusters at or past the end of the file with a nonzero refcount
    (7.2's check counts only up to the end of the file, so these leaks
    stay hidden until the file grows over them).  None if unparsable."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 72:
        return None
    be = lambda o, n: int.from_bytes(data[o:o + n], 'big')
    version, cbits = be(4, 4), be(20, 4)
    order = be(96, 4) if version >= 3 and len(data) >= 100 else 4
    if not 9 <= cbits <= 21 or order > 6:
        return None
    csize, bits = 1 << cbits, 1 << order
    per_block = csize * 8 // bits
    end = (len(data) + csize - 1) // csize
    rt, rtc = be(48, 8), be(56, 4)
    found = []
    for i in range(rtc * csize // 8):
        rb = int.from_bytes(data[rt + 8 * i:rt + 8 * i + 8], 'big')
        rb &= 0xfffffffffffffe00
        first = max(end - i * per_block, 0)     # entries past the end
        if not rb or first >= per_block:
            continue
        if rb + csize > len(data):
            return None
        blk = data[rb:rb + csize]
        # only the bytes holding those entries, and only when not all 0
        if not blk[first * bits // 8:].strip(b'\0'):
            continue
        last = len(blk.rstrip(b'\0'))     # bytes up to the last nonzero
        for j in range(first, min(per_block, last * 8 // bits + 1)):
            if bits < 8:    # sub-byte entries: the lowest bits come first
                v = (blk[j * bits // 8] >> (j * bits % 8)) & ((1 << bits) - 1)
            else:
                v = int.from_bytes(blk[j * bits // 8:(j + 1) * bits // 8],
                                   'big')
            if v:
                found.append(i * per_block + j)
    return found


class Worker(CrashWorker):
    def __init__(self, name, spec, work):
        super().__init__(work)
        self.name = name
        self.spec = spec
        self.ours_io = os.environ['OURS_IO']
        self.cmds = spec['commands']
        self.script = ''.join(c + '\n' for c in self.cmds).encode()

    # -- setup ---------------------------------------------------------

    def create(self):
        """orig.qcow2 (and base.qcow2), with the reference tools."""
        opts = self.spec['opts']
        argv = [self.ref_img, 'create', '-q', '-f', 'qcow2']
        if self.spec['backing']:
            base = self.p('base.qcow2')
            r = run([self.ref_img, 'create', '-q', '-f', 'qcow2', base,
                     str(self.spec['size'])])
            if r.returncode:
                raise SetupError('create base: ' + text(r))
            argv2 = [self.ref_io]
            for c in BACKING_CMDS:
                argv2 += ['-c', c]
            r = run(argv2 + [base])
            if r.returncode:
                raise SetupError('fill base: ' + text(r))
            argv += ['-b', 'base.qcow2', '-F', 'qcow2']
        if opts:
            argv += ['-o', opts]
        r = run(argv + ['orig.qcow2', str(self.spec['size'])], cwd=self.work)
        if r.returncode:
            raise SetupError('create: ' + text(r))
        for args in BITMAP_CMDS if self.spec['bitmaps'] else ():
            r = run([self.ref_img, 'bitmap'] + args[:-1] +
                    ['orig.qcow2', args[-1]], cwd=self.work)
            if r.returncode:
                raise SetupError('bitmap: ' + text(r))

    def guest(self, img):
        """Signature of IMG's guest data (reference convert)."""
        data = self.guest_raw(img)
        return None if data is None else signature(data)

    def reference_states(self):
        """S[k]: guest data after commands 0..k-1 (S[0]: the new image),
        each command run by the reference qemu-io on its own image."""
        ref = self.p('ref.qcow2')
        shutil.copyfile(self.p('orig.qcow2'), ref)
        states = [self.guest(ref)]
        if states[0] is None:
            raise SetupError('reference cannot read the new image')
        for c in self.cmds:
            if c == 'flush':
                states.append(states[-1])
                continue
            r = run([self.ref_io, '-c', c, ref], cwd=self.work)
            if r.returncode or 'failed' in text(r):
                raise SetupError('reference qemu-io: %s: %s' % (c, text(r)))
            s = self.guest(ref)
            if s is None:
                raise SetupError('reference cannot read after ' + c)
            states.append(s)
        return states

    def ours(self, n=None, log=None, script=None, count=None):
        env = self.shim_env(n, log, count)
        return run([self.ours_io, 'img.qcow2'], cwd=self.work, env=env,
                   input=script if script is not None else self.script)

    def boundaries(self, full_calls):
        """C[k]: calls made by commands 0..k-1 (C[0] = 0), from runs of
        each prefix ended by `sigraise 9` (no close, so no close calls);
        each prefix's calls must be those of the full run."""
        C = [0]
        for k in range(1, len(self.cmds) + 1):
            if self.cmds[k - 1] == 'flush':
                C.append(C[-1])
                continue
            self.fresh()
            log = self.p('prefix.log')
            if os.path.exists(log):
                os.unlink(log)
            script = ''.join(c + '\n' for c in self.cmds[:k])
            self.ours(log=log, script=(script + 'sigraise 9\n').encode())
            calls, _ = log_calls(log)
            if calls != full_calls[:len(calls)]:
                raise SetupError('the calls of commands 1..%d differ from '
                                 'those of the full run (not deterministic)'
                                 % k)
            C.append(len(calls))
        return C

    # -- one crash point -------------------------------------------------

    def expect(self, n):
        """(f, m, done): the state every sector must hold unless changed
        by a later started command, f; the last command started, m (its
        state index); the last state completed, done."""
        C, flushes = self.C, self.flush_states
        f = 0
        for k in flushes:
            if C[k] <= n:
                f = k
        done = max(k for k in range(len(C)) if C[k] <= n)
        # command k-1 (state k) made a call iff C[k-1] < n
        m = max([k for k in range(1, len(C)) if C[k - 1] < n] + [f])
        return f, max(m, f), done

    def check_data(self, got, n):
        """Reasons (list) why GOT is not allowed for crash point N, and
        whether the completed commands are all intact."""
        S = self.states
        f, m, done = self.expect(n)
        why = []
        lengths = {len(S[k]) for k in range(f, m + 1)}
        if len(got) not in lengths:
            why.append('virtual size %d not one of %s' % (
                len(got) * SECTOR,
                sorted(x * SECTOR for x in lengths)))
            return why, False
        bad = []
        if got != S[f][:len(got)] or len(S[f]) < len(got):
            for s in range(len(got)):
                v = got[s]
                ok = False
                for k in range(f, m + 1):
                    w = S[k][s] if s < len(S[k]) else 0
                    if v == w:
                        ok = True
                        break
                if not ok:
                    bad.append(s)
        for s in bad[:4]:
            ks = sorted({show(S[k][s] if s < len(S[k]) else 0)
                         for k in range(f, m + 1)})
            why.append('guest offset %d: %s, allowed %s' % (
                s * SECTOR, show(got[s]), '/'.join(ks)))
        if len(bad) > 4:
            why.append('... %d sectors wrong in all' % len(bad))
        # Information only: does write-through keep every completed
        # command, flushed or not?
        nxt = min(done + 1, len(S) - 1)
        strong = all(got[s] == (S[done][s] if s < len(S[done]) else 0) or
                     got[s] == (S[nxt][s] if s < len(S[nxt]) else 0)
                     for s in range(len(got)))
        return why, strong

    def crash_case(self, n):
        label = '%s@%d' % (self.name, n)
        why = self.crash(n)
        # Write-through metadata in order: the crashed image may leak
        # clusters but must not be corrupt, unless its dirty bit (lazy
        # refcounts) tells readers that its refcounts mean nothing.
        cr = run([self.ref_img, 'check', 'crashed.qcow2'], cwd=self.work)
        self.crashcheck = text(cr)
        _, dirty, _ = header_bits(self.p('crashed.qcow2'))
        kind = {0: 'clean', 3: 'leaks', 2: 'corrupt'}.get(cr.returncode,
                                                          'check failed')
        self.tally[kind] = self.tally.get(kind, 0) + 1
        if kind in ('corrupt', 'check failed') and not dirty:
            why.append('crashed-image-%s(7.2 check exit %d)'
                       % (kind.replace(' ', '-'), cr.returncode))
        rep = run([self.ours_img, 'check', '-r', 'all', 'img.qcow2'],
                  cwd=self.work)
        if rep.returncode != 0:
            why.append('check-r-all-exit=%d' % rep.returncode)
        why += self.verify()
        past = refcounts_past_eof(self.p('img.qcow2'))
        if past:
            self.past_eof += 1
            if self.verbose:
                self.say('NOTE %s: refcounts past the end of the repaired '
                         'image for clusters %s' % (label, past[:8]))
        strong = None
        got = self.guest(self.p('img.qcow2'))
        if got is None:
            why.append('guest-data-unreadable')
        else:
            w, strong = self.check_data(got, n)
            why += w
        if strong is not None:
            self.strong[strong] += 1
        if not why:
            self.npass += 1
            if self.verbose:
                self.say('PASS %s' % label)
            return
        self.nfail += 1
        self.fail_details(label, n, why, rep)

    def verify(self):
        """The reference's check: clean; header bits clear."""
        why = []
        r = run([self.ref_img, 'check', 'img.qcow2'], cwd=self.work)
        self.refcheck = text(r)
        if (r.returncode != 0 or
                not self.refcheck.startswith('No errors were found')):
            why.append('7.2-check-exit=%d' % r.returncode)
        _, dirty, corrupt = header_bits(self.p('img.qcow2'))
        if dirty:
            why.append('dirty-bit-set')
        if corrupt:
            why.append('corrupt-bit-set')
        return why

    def fail_details(self, label, n, why, rep):
        self.say('FAIL %s: %s' % (label, '; '.join(why)))
        f, m, done = self.expect(n)
        cmd = lambda k: self.cmds[k - 1] if k else '(none)'
        self.say('  last completed flush: after command %d (%s); command in '
                 'progress: %d (%s)' % (f, cmd(f), m, cmd(m)))
        # Re-run the crash with the log for the calls around it.
        log = self.show_crash_calls(n)
        self.say('  7.2 check of the crashed image:')
        for line in self.crashcheck.splitlines()[:8]:
            self.say('    ' + line)
        self.say('  ours check -r all (exit %d):' % rep.returncode)
        for line in text(rep).splitlines()[:12]:
            self.say('    ' + line)
        self.say('  7.2 check after it:')
        for line in self.refcheck.splitlines()[:8]:
            self.say('    ' + line)
        self.say('  reproduce: tests/crash/run-writer.sh -v %s (commands: '
                 'tests/crash/writer-workloads.py script %s)'
                 % (label, self.name))
        if self.keep:
            k = os.path.join(self.keep, label)
            shutil.copyfile(self.p('crashed.qcow2'), k + '.crashed.qcow2')
            shutil.copyfile(self.p('img.qcow2'), k + '.repaired.qcow2')
            shutil.copyfile(log, k + '.log')
            with open(k + '.script', 'wb') as sf:
                sf.write(self.script)

    # -- points ----------------------------------------------------------

    def points(self, w, full_calls, internal):
        budget, rng = self.points_rng('60', self.name)
        if w <= budget:
            return list(range(w))
        pick = set(range(3))
        for k in self.flush_states:     # around each flush command
            pick.update((self.C[k] - 1, self.C[k], self.C[k] + 1))
        for p in internal:              # around each internal sync
            pick.update(range(p - 2, p + 3))
        for i, c in enumerate(full_calls):  # header updates
            if ' off=0x' in c and int(c.split(' off=')[1].split()[0],
                                      16) < 0x100:
                pick.update((i, i + 1))
        pick.update(range(self.C[-1], w))   # the close
        return sample_points(pick, w, budget, rng)

    # -- main --------------------------------------------------------------

    def main(self, only=None):
        self.create()
        base_before = self.backing_digest()
        self.states = self.reference_states()
        # state index k is "after command k-1"; flush commands, and the
        # close (which flushes before anything else), are flush points
        self.flush_states = [k for k in range(1, len(self.cmds) + 1)
                             if self.cmds[k - 1] == 'flush' or
                             self.cmds[k - 1].startswith('write -f')]
        self.flush_states.append(len(self.cmds))

        # The uncrashed run.
        self.fresh()
        log, count = self.p('full.log'), self.p('full.count')
        r = self.ours(log=log, count=count)
        full_calls, syncs = log_calls(log)
        w = len(full_calls)
        why = []
        out = text(r)
        if r.returncode != 0 or 'failed' in out or 'rror' in out:
            why.append('qemu-io exit %d: %s' % (
                r.returncode, ' | '.join(
                    l for l in out.splitlines()
                    if 'fail' in l or 'rror' in l)[:300]))
        why += self.verify()
        got = self.guest(self.p('img.qcow2'))
        if got != self.states[-1]:
            if got is None:
                why.append('guest-data-unreadable')
            else:
                for s in range(min(len(got), len(self.states[-1]))):
                    if got[s] != self.states[-1][s]:
                        why.append('guest data differs from the reference '
                                   'qemu-io\'s at offset %d (%s, want %s)' %
                                   (s * SECTOR, show(got[s]),
                                    show(self.states[-1][s])))
                        break
                else:
                    why.append('virtual size differs from the reference')
        if w == 0:
            why.append('no modifying calls logged')
        if why:
            self.nfail += 1
            self.say('FAIL %s@none: %s' % (self.name, '; '.join(why)))
            for line in self.refcheck.splitlines()[:8]:
                self.say('    ' + line)
            self.say('WORKLOAD %s: uncrashed run failed, no crash points run'
                     % self.name)
            return
        self.npass += 1
        if self.verbose:
            self.say('PASS %s@none (W=%d)' % (self.name, w))

        self.C = self.boundaries(full_calls)
        closing = set(self.C[k] for k in self.flush_states)
        internal = [p for p in syncs if p not in closing]
        pts = [only] if only is not None else self.points(w, full_calls,
                                                          internal)
        self.strong = {True: 0, False: 0}
        self.tally = {}
        self.past_eof = 0
        self.run_points(self.name, pts, w)
        self.check_backing(self.name, base_before)
        self.say('WORKLOAD %s: %d commands (%d flushes), W=%d calls (%d '
                 'internal syncs), %d crash points; crashed images by 7.2 '
                 'check: %s; %d of the repaired images kept every '
                 'completed command, flushed or not; %d kept refcounts '
                 'past the end of the file (leaks 7.2 does not see)' % (
                     self.name, len(self.cmds), len(self.flush_states) - 1,
                     w, len(internal), len(pts),
                     ', '.join('%d %s' % (v, k)
                               for k, v in sorted(self.tally.items())),
                     self.strong[True], self.past_eof))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == 'list':
        for name in workloads():
            print(name)
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == 'script':
        sys.stdout.write(''.join(
            c + '\n' for c in workloads()[sys.argv[2]]['commands']))
        return 0
    if len(sys.argv) != 4 or sys.argv[1] != 'run':
        sys.stderr.write(__doc__)
        return 2
    name, only = split_label(sys.argv[2])
    w = Worker(name, workloads()[name], sys.argv[3])
    try:
        w.main(only)
    except (SetupError, subprocess.TimeoutExpired) as e:
        w.nfail += 1
        w.say('FAIL %s: setup: %s' % (name, e))
        w.say('WORKLOAD %s: not run' % name)
    print('COUNT %d %d %d' % (w.npass, w.nfail, getattr(w, 'npoints', 0)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
