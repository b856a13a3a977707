"""What the crash-injection workers share (snapshot-workloads.py,
writer-workloads.py): running the tools, reading the shim's log, the
worker's environment and the choice of crash points."""

import hashlib
import os
import random
import shutil
import subprocess

KiB = 1024
MiB = 1024 * KiB
SECTOR = 512


class SetupError(Exception):
    pass


def run(argv, **kw):
    kw.setdefault('stdout', subprocess.PIPE)
    kw.setdefault('stderr', subprocess.STDOUT)
    kw.setdefault('timeout', 120)
    return subprocess.run(argv, **kw)


def text(p):
    return p.stdout.decode('utf-8', 'replace') if p.stdout else ''


def log_calls(path):
    """The shim's log: the call lines, and for each flush line the
    number of calls made before it."""
    calls, flushes = [], []
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip('\n')
                if line.startswith('#'):
                    calls.append(line)
                elif line.startswith('-- '):
                    flushes.append(len(calls))
    except FileNotFoundError:
        pass
    return calls, flushes


def split_label(label):
    """NAME@N -> (NAME, N); NAME -> (NAME, None)."""
    if '@' in label:
        name, n = label.split('@', 1)
        return name, int(n)
    return label, None


def sample_points(pick, w, budget, rng):
    """PICK (calls worth a crash) within 0..W-1, at most two thirds of
    BUDGET of them, filled up to BUDGET with other calls at random."""
    pick = sorted(x for x in pick if 0 <= x < w)
    if len(pick) > budget * 2 // 3:
        pick = sorted(rng.sample(pick, budget * 2 // 3))
    rest = sorted(set(range(w)) - set(pick))
    pick += rng.sample(rest, min(budget - len(pick), len(rest)))
    return sorted(pick)


class CrashWorker:
    """One workload's work directory, tools and counts (set from the
    environment the driver exports)."""

    def __init__(self, work):
        self.work = work
        self.ours_img = os.environ['OURS_IMG']
        self.ref_img = os.environ.get('REF_IMG', '/usr/bin/qemu-img')
        self.ref_io = os.environ.get('REF_IO', '/usr/bin/qemu-io')
        self.shim = os.environ['SHIM']
        self.verbose = os.environ.get('VERBOSE') == '1'
        self.keep = os.environ.get('KEEP') or None
        self.npass = 0
        self.nfail = 0

    def p(self, *names):
        return os.path.join(self.work, *names)

    def say(self, s):
        print(s, flush=True)

    def fresh(self):
        shutil.copyfile(self.p('orig.qcow2'), self.p('img.qcow2'))

    def shim_env(self, n=None, log=None, count=None):
        """The environment of a run of ours under the shim: crash after
        N calls, log them to LOG, count them in COUNT."""
        env = dict(os.environ, LD_PRELOAD=self.shim)
        for k in ('CRASH_AFTER_WRITES', 'CRASH_LOG', 'CRASH_COUNT_FILE',
                  'CRASH_SUFFIX'):
            env.pop(k, None)
        if n is not None:
            env['CRASH_AFTER_WRITES'] = str(n)
        if log:
            env['CRASH_LOG'] = log
        if count:
            env['CRASH_COUNT_FILE'] = count
        return env

    def guest_raw(self, img, argv=()):
        """IMG's guest data (reference convert, with ARGV), or None."""
        out = self.p('guest.raw')
        r = run([self.ref_img, 'convert'] + list(argv) +
                ['-O', 'raw', img, out], cwd=self.work)
        if r.returncode:
            return None
        with open(out, 'rb') as f:
            data = f.read()
        os.unlink(out)
        return data

    def crash(self, n):
        """Ours crashed after N calls on a fresh copy, which must die by
        SIGKILL; crashed.qcow2 is the crashed image.  The reasons to fail
        so far."""
        self.fresh()
        why = []
        r = self.ours(n=n)
        if r.returncode != -9:
            why.append('not-killed(exit %d)' % r.returncode)
        shutil.copyfile(self.p('img.qcow2'), self.p('crashed.qcow2'))
        return why

    def show_crash_calls(self, n, width=None):
        """Crashes after N calls again, logged; prints the last calls.
        The log's path (img.qcow2 is the crashed image again)."""
        self.fresh()
        log = self.p('fail.log')
        if os.path.exists(log):
            os.unlink(log)
        self.ours(n=n, log=log)
        with open(log) as lf:
            lines = lf.read().splitlines()
        self.say('  calls before the crash and the call not made:')
        for line in lines[-5:]:
            self.say('    ' + line[:width])
        return log

    def points_rng(self, default, name):
        """The budget of crash points and the generator of the sample."""
        budget = int(os.environ.get('CRASH_POINTS', default))
        rng = random.Random('%s:%s' % (os.environ.get('CRASH_SEED', '1'),
                                        name))
        return budget, rng

    def backing_digest(self):
        """The backing file's digest, or None without one."""
        if not self.spec['backing']:
            return None
        with open(self.p('base.qcow2'), 'rb') as f:
            return hashlib.sha256(f.read()).digest()

    def run_points(self, name, pts, w):
        """crash_case(N) for each point; one past the run fails."""
        self.npoints = len(pts)
        for n in pts:
            if n >= w:
                self.nfail += 1
                self.say('FAIL %s@%d: beyond the %d calls of the run'
                         % (name, n, w))
                continue
            self.crash_case(n)

    def check_backing(self, name, before):
        if before is not None and self.backing_digest() != before:
            self.nfail += 1
            self.say('FAIL %s: the backing file was modified' % name)
