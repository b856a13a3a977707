#!/usr/bin/env python3
"""Differential test of `qemu-img info` against the reference qemu-img.

Builds a corpus of images with make-corpus.sh (reference tools only), then
runs every command line below in BOTH tools, from the corpus directory so
that relative file names print identically, and compares stdout, stderr and
the exit code byte for byte.  Each comparison is one test case.

Environment:
  QEMU_IMG       qemu-img under test (default: <repo>/build/qemu-img)
  REF_QEMU_IMG   reference qemu-img (default: /usr/bin/qemu-img)
  REF_QEMU_IO    reference qemu-io, used only to build the corpus
                 (default: /usr/bin/qemu-io)

Usage:
  run-info.py [-v] [--keep] [--corpus DIR] [FILTER...]

  -v            also list passing cases
  --keep        keep the temporary corpus and print where it is
  --corpus DIR  use (and, if missing, create) the corpus in DIR
  FILTER        run only cases whose name contains FILTER (or matches it as
                a shell glob); several filters are OR-ed

Case names look like `json:chain-top.qcow2` or `usage:info-no-file`.

The last line printed is always `N passed, N failed`; the exit status is 1
if any case failed, 0 otherwise.

Nothing may modify the images between the two runs: both tools open them
read-only.  `disk size:` / `"actual-size"` come from st_blocks and therefore
agree without any filtering.  As a guard, the size/blocks/mtime of each
image are compared before and after its cases, and at the end the content of
every corpus file is compared against a digest taken before the first case.
"""

import difflib
import fnmatch
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MAX_DIFF_LINES = 40
TIMEOUT = 120


def resolve_prog(value, default_rel):
    if value:
        return os.path.abspath(value)
    return os.path.join(REPO, default_rel)


QEMU_IMG = resolve_prog(os.environ.get('QEMU_IMG'), 'build/qemu-img')
REF_QEMU_IMG = os.environ.get('REF_QEMU_IMG') or '/usr/bin/qemu-img'
REF_QEMU_IO = os.environ.get('REF_QEMU_IO') or '/usr/bin/qemu-io'


# --------------------------------------------------------------------------
# Output filters

VERSION_RE = re.compile(r'^(\S+ version \S+)( \(.*\))?$')


def filter_version_help(text):
    """Filter for --version / --help output.

    Two things legitimately differ between the reference and our tool:
    - the distribution's package string in parentheses at the end of the
      first line ("qemu-img version 7.2.22 (Debian 1:7.2+dfsg-...)"); we
      drop it (our tool may print its own or none at all);
    - the "Supported formats:" line, because our tool only lists the formats
      it actually supports (qcow2, raw, file, ...) while the reference lists
      every block driver QEMU was built with;
    - the copyright line right after the version line: ours names its own
      authors, not QEMU's.
    Everything else must be identical.
    """
    lines = text.split('\n')
    if lines:
        m = VERSION_RE.match(lines[0])
        if m:
            lines[0] = m.group(1) + ' (PACKAGE)'
            if len(lines) > 1 and lines[1].startswith('Copyright (c) '):
                lines[1] = 'Copyright (c) (FILTERED)'
    lines = ['Supported formats: (FILTERED)'
             if l.startswith('Supported formats:') else l for l in lines]
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# Test cases

class Case:
    def __init__(self, name, args, cwd='.', filt=None, watch=None):
        self.name = name
        self.args = args          # arguments after the program name
        self.cwd = cwd            # relative to the corpus directory
        self.filt = filt          # applied to stdout and stderr of both
        self.watch = watch        # image (relative path) that must not change


def read_manifest(corpus):
    images = []
    with open(os.path.join(corpus, 'MANIFEST')) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split()
            images.append((parts[0], parts[1], set(parts[2:])))
    return images


def build_cases(corpus):
    cases = []
    seen = set()
    images = read_manifest(corpus)

    for img, fmt, tags in images:
        if img in seen:
            # listed twice (e.g. again with the "abs" tag): only add the
            # extra absolute-path cases
            pass
        else:
            seen.add(img)
            opts = 'driver=%s,file.driver=file,file.filename=%s' % (fmt, img)
            for label, args in [
                    ('human-default', ['info', img]),
                    ('json', ['info', '--output=json', img]),
                    ('human', ['info', '--output=human', img]),
                    ('fmt', ['info', '-f', fmt, img]),
                    ('force-share', ['info', '-U', img]),
                    ('chain', ['info', '--backing-chain', img]),
                    ('chain-json',
                     ['info', '--backing-chain', '--output=json', img]),
                    ('image-opts', ['info', '--image-opts', opts]),
            ]:
                cases.append(Case('%s:%s' % (label, img), args, watch=img))
        if 'abs' in tags:
            path = os.path.join(corpus, img)
            for label, args in [
                    ('abs', ['info', path]),
                    ('abs-json', ['info', '--output=json', path]),
                    ('abs-chain', ['info', '--backing-chain', path]),
                    ('abs-chain-json',
                     ['info', '--backing-chain', '--output=json', path]),
            ]:
                cases.append(Case('%s:%s' % (label, img), args, watch=img))

    have = {img for img, _, _ in images}

    def extra(name, args, cwd='.', need=None, watch=None):
        if need and need not in have:
            return
        cases.append(Case(name, args, cwd=cwd, watch=watch or need))

    # Forcing the "wrong" format, option spellings, odd combinations
    extra('extra:raw-over-qcow2', ['info', '-f', 'raw', 'cs-65536.qcow2'],
          need='cs-65536.qcow2')
    extra('extra:raw-over-qcow2-json',
          ['info', '-f', 'raw', '--output=json', 'cs-65536.qcow2'],
          need='cs-65536.qcow2')
    extra('extra:qcow2-over-raw', ['info', '-f', 'qcow2', 'raw.img'],
          need='raw.img')
    extra('extra:qcow2-over-text', ['info', '-f', 'qcow2', 'text.txt'],
          need='text.txt')
    extra('extra:output-separate-arg',
          ['info', '--output', 'json', 'chain-top.qcow2'],
          need='chain-top.qcow2')
    extra('extra:all-options',
          ['info', '-U', '-f', 'qcow2', '--backing-chain', '--output=json',
           'chain-top.qcow2'], need='chain-top.qcow2')
    extra('extra:image-opts-chain',
          ['info', '--backing-chain', '--image-opts',
           'driver=qcow2,file.driver=file,file.filename=chain-top.qcow2'],
          need='chain-top.qcow2')
    extra('extra:image-opts-short',
          ['info', '--image-opts', 'file.filename=chain-top.qcow2'],
          need='chain-top.qcow2')
    extra('extra:image-opts-luks-secret',
          ['info', '--object', 'secret,id=sec0,data=123456', '--image-opts',
           'driver=qcow2,encrypt.key-secret=sec0,file.filename=luks.qcow2'],
          need='luks.qcow2')
    extra('extra:image-opts-plain-name',
          ['info', '--image-opts', 'chain-top.qcow2'], need='chain-top.qcow2')
    # From a subdirectory: backing paths are resolved relative to the image
    extra('subdir:chain', ['info', '--backing-chain', '../reldir-top.qcow2'],
          cwd='sub', need='reldir-top.qcow2')
    extra('subdir:chain-json',
          ['info', '--backing-chain', '--output=json', '../reldir-top.qcow2'],
          cwd='sub', need='reldir-top.qcow2')
    extra('subdir:chain-top',
          ['info', '--backing-chain', '../chain-top.qcow2'],
          cwd='sub', need='chain-top.qcow2')
    extra('subdir:mid', ['info', 'reldir-mid.qcow2'],
          cwd='sub', need='sub/reldir-mid.qcow2')
    extra('subdir:dot-slash', ['info', './reldir-mid.qcow2'],
          cwd='sub', need='sub/reldir-mid.qcow2')

    # Usage and errors
    for name, args in [
            ('usage:no-command', []),
            ('usage:unknown-command', ['foo']),
            ('usage:help-command', ['help']),
            ('usage:info-no-file', ['info']),
            ('usage:info-two-files', ['info', 'a', 'b']),
            ('usage:info-output-xml', ['info', '--output=xml', 'x']),
            ('usage:info-output-missing-arg', ['info', '--output']),
            ('usage:info-f-missing-arg', ['info', '-f']),
            ('usage:info-unknown-short', ['info', '-x', 'x']),
            ('usage:info-unknown-long', ['info', '--bogus', 'x']),
            ('usage:info-json-no-file', ['info', '--output=json']),
            ('usage:info-nonexistent', ['info', 'nonexistent']),
            ('usage:info-nonexistent-json',
             ['info', '--output=json', 'nonexistent']),
            ('usage:info-nonexistent-subdir', ['info', 'no/such/dir.qcow2']),
            ('usage:info-directory', ['info', 'sub']),
            ('usage:info-bogus-format', ['info', '-f', 'bogus', 'raw.img']),
            ('usage:info-bogus-format-nonexistent',
             ['info', '-f', 'bogus', 'nonexistent']),
    ]:
        cases.append(Case(name, args))

    # --version / --help: see filter_version_help for what is filtered
    for name, args in [
            ('version:--version', ['--version']),
            ('version:-V', ['-V']),
            ('help:--help', ['--help']),
            ('help:-h', ['-h']),
            ('help:info--help', ['info', '--help']),
            ('help:info-h', ['info', '-h']),
    ]:
        cases.append(Case(name, args, filt=filter_version_help))
    return cases


# --------------------------------------------------------------------------
# Running

def run(prog, case, corpus):
    cwd = os.path.join(corpus, case.cwd)
    try:
        p = subprocess.run([prog] + case.args, cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
    except FileNotFoundError:
        return (127, b'', ('run-info: cannot execute %s\n' % prog).encode())
    except PermissionError:
        return (126, b'', ('run-info: cannot execute %s\n' % prog).encode())
    except subprocess.TimeoutExpired:
        return (-1, b'', ('run-info: timed out after %ds\n' % TIMEOUT)
                .encode())
    return (p.returncode, p.stdout, p.stderr)


def render(result, filt):
    rc, out, err = result
    out = out.decode('utf-8', 'backslashreplace')
    err = err.decode('utf-8', 'backslashreplace')
    if filt:
        out, err = filt(out), filt(err)
    # Mark a missing final newline so that it shows up in the diff
    if out and not out.endswith('\n'):
        out += '\\ no newline at end of stdout\n'
    if err and not err.endswith('\n'):
        err += '\\ no newline at end of stderr\n'
    return ['exit code: %d\n' % rc, '--- stdout\n'] + \
        out.splitlines(True) + ['--- stderr\n'] + err.splitlines(True)


def stat_sig(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_blocks, st.st_mtime_ns)


def content_digest(path):
    """Digest of a (possibly huge, sparse) file's content.

    Only data extents are read (SEEK_DATA/SEEK_HOLE), and all-zero blocks
    are skipped, so the digest depends on the bytes alone and not on how
    the file system happens to lay out (or report) holes and extents.
    """
    block = 4096
    zero = bytes(block)
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break           # ENXIO: only a hole is left
            end = os.lseek(fd, start, os.SEEK_HOLE)
            start -= start % block
            f.seek(start)
            off = start
            while off < end:
                chunk = f.read(min(end - off, 1 << 20))
                if not chunk:
                    break
                for i in range(0, len(chunk), block):
                    piece = chunk[i:i + block]
                    if piece != zero[:len(piece)]:
                        h.update(b'@%d:' % (off + i))
                        h.update(piece)
                off += len(chunk)
            pos = max(end, off)
    return (os.stat(path).st_size, h.hexdigest())


def corpus_digests(corpus):
    result = {}
    for root, _, files in os.walk(corpus):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path):
                result[os.path.relpath(path, corpus)] = content_digest(path)
    return result


def matches(name, filters):
    if not filters:
        return True
    return any(f in name or fnmatch.fnmatchcase(name, f) for f in filters)


def main(argv):
    verbose = False
    keep = False
    corpus = None
    filters = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '-v':
            verbose = True
        elif a == '--keep':
            keep = True
        elif a == '--corpus':
            if not args:
                sys.exit('run-info: --corpus needs an argument')
            corpus = os.path.abspath(args.pop(0))
        elif a in ('-h', '--help'):
            print(__doc__)
            return 0
        elif a.startswith('-') and a != '-':
            sys.exit('run-info: unknown option %s' % a)
        else:
            filters.append(a)

    tmp = None
    if corpus is None:
        tmp = tempfile.mkdtemp(prefix='qemu-img-interop.')
        corpus = os.path.join(tmp, 'corpus')
    if not os.path.exists(os.path.join(corpus, 'MANIFEST')):
        env = dict(os.environ, REF_QEMU_IMG=REF_QEMU_IMG,
                   REF_QEMU_IO=REF_QEMU_IO)
        r = subprocess.run([os.path.join(HERE, 'make-corpus.sh'), corpus],
                           env=env)
        if r.returncode != 0:
            print('run-info: building the corpus failed')
            print('0 passed, 1 failed')
            return 1

    if not os.access(QEMU_IMG, os.X_OK):
        print('run-info: warning: %s is not executable; every case will fail'
              % QEMU_IMG)

    # Flush everything to disk first so that block counts (disk size) and
    # extents are stable while the two tools look at the files.
    os.sync()
    cases = [c for c in build_cases(corpus) if matches(c.name, filters)]
    before = corpus_digests(corpus)

    passed = failed = 0
    for case in cases:
        watch = os.path.join(corpus, case.watch) if case.watch else None
        sig = stat_sig(watch) if watch else None
        ref = run(REF_QEMU_IMG, case, corpus)
        ours = run(QEMU_IMG, case, corpus)
        a = render(ref, case.filt)
        b = render(ours, case.filt)
        problems = []
        if a != b:
            diff = list(difflib.unified_diff(
                a, b, 'reference: qemu-img ' + ' '.join(case.args),
                'ours: qemu-img ' + ' '.join(case.args)))
            if len(diff) > MAX_DIFF_LINES:
                more = len(diff) - MAX_DIFF_LINES
                diff = diff[:MAX_DIFF_LINES] + ['... (%d more lines)\n' % more]
            problems.append(''.join(diff))
        if watch and stat_sig(watch) != sig:
            problems.append('image %s changed while running this case\n'
                            % case.watch)
        if problems:
            failed += 1
            print('FAIL %s  (cwd %s: qemu-img %s)' %
                  (case.name, case.cwd, ' '.join(case.args)))
            for p in problems:
                sys.stdout.write(p)
                if not p.endswith('\n'):
                    sys.stdout.write('\n')
        else:
            passed += 1
            if verbose:
                print('pass %s' % case.name)
        sys.stdout.flush()

    # Final guard: no file of the corpus may have changed at all
    after = corpus_digests(corpus)
    if after != before:
        failed += 1
        changed = sorted(k for k in set(before) | set(after)
                         if before.get(k) != after.get(k))
        print('FAIL corpus-unchanged: %s' % ', '.join(changed))
        for k in changed:
            print('  %s: before %s, after %s' % (k, before.get(k), after.get(k)))
    else:
        passed += 1
        if verbose:
            print('pass corpus-unchanged')

    if tmp:
        if keep:
            print('run-info: corpus kept in %s' % corpus)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
