#!/usr/bin/env python3
"""Tests of the schema compiler, scripts/qapi-gen.py, printing TAP.

Every bad-*.json here must make the compiler fail with exit status 1,
print exactly the message in the matching bad-*.err, and write
nothing.  qapi-schema-test.json must compile, and its generated
reference and introspection data must match the golden files
qapi-schema-test.md and qapi-schema-test.introspect.json.

The compiler runs in this directory on relative file names, so the
expected messages do not depend on where the tree is.

    test-qapi-schema.py [--qapi-gen PATH] [--update]

--update rewrites the .err and golden files from the compiler's
output instead of comparing (review the diff before keeping it).
"""

import argparse
import ast
import difflib
import filecmp
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_GEN = os.path.join(HERE, '..', '..', 'scripts', 'qapi-gen.py')
GOOD = 'qapi-schema-test.json'
GOLDEN_DOCS = 'qapi-schema-test.md'
GOLDEN_INTROSPECT = 'qapi-schema-test.introspect.json'
OUTPUTS = ['qapi-types.h', 'qapi-types.c', 'qapi-visit.h', 'qapi-visit.c',
           'qapi-emit.h', 'qapi-emit.c',
           'qapi-introspect.h', 'qapi-introspect.c', 'qapi-introspect.json']


class Tap:
    def __init__(self):
        self.results = []

    def check(self, name, ok, diag=''):
        self.results.append((name, ok, diag))

    def report(self):
        print('1..%d' % len(self.results))
        for i, (name, ok, diag) in enumerate(self.results, 1):
            print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
            if not ok and diag:
                for line in diag.rstrip('\n').split('\n'):
                    print('# ' + line)
        return all(ok for _, ok, _ in self.results)


def run_gen(gen, args):
    proc = subprocess.run([sys.executable, gen] + args, cwd=HERE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    return proc.returncode, proc.stdout, proc.stderr


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def write(path, text):
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text)


def diff(expected, actual, name):
    return ''.join(difflib.unified_diff(
        expected.splitlines(True), actual.splitlines(True),
        'expected/' + name, 'actual/' + name))


def test_bad(tap, gen, update):
    schemas = sorted(os.path.basename(p)
                     for p in glob.glob(os.path.join(HERE, 'bad-*.json')))
    errs = sorted(os.path.basename(p)
                  for p in glob.glob(os.path.join(HERE, 'bad-*.err')))
    orphans = sorted(set(e[:-4] for e in errs)
                     - set(s[:-5] for s in schemas))
    tap.check('every bad-*.err has its bad-*.json', not orphans,
              'orphans: ' + ', '.join(orphans))
    for schema in schemas:
        name = schema[:-5]
        err_file = os.path.join(HERE, name + '.err')
        with tempfile.TemporaryDirectory() as out:
            rc, stdout, stderr = run_gen(gen, ['-o', out, '-p', 'test-',
                                               schema])
            written = os.listdir(out)
        if update:
            write(err_file, stderr)
        expected = read(err_file) if os.path.exists(err_file) else ''
        problems = []
        if rc != 1:
            problems.append('exit status %d, expected 1' % rc)
        if stdout:
            problems.append('unexpected output on stdout:\n' + stdout)
        if written:
            problems.append('files written despite the error: '
                            + ', '.join(sorted(written)))
        if not os.path.exists(err_file):
            problems.append('%s.err is missing' % name)
        elif stderr != expected:
            problems.append(diff(expected, stderr, name + '.err'))
        tap.check(name, not problems, '\n'.join(problems))


def c_string_value(code):
    """The text of the string literal lines '    "..."' in @code."""
    text = ''
    for m in re.finditer(r'^    ("(?:[^"\\]|\\.)*");?$', code, re.M):
        text += ast.literal_eval(m.group(1))
    return text


def test_good(tap, gen, update):
    with tempfile.TemporaryDirectory() as tmp:
        out1 = os.path.join(tmp, 'out1')
        out2 = os.path.join(tmp, 'out2')
        docs1 = os.path.join(tmp, 'docs1.md')
        docs2 = os.path.join(tmp, 'docs2.md')
        dep = os.path.join(tmp, 'deps.d')
        rc, stdout, stderr = run_gen(gen, ['-o', out1, '-p', 'test-',
                                           '--docs', docs1, '--depfile', dep,
                                           GOOD])
        tap.check('%s compiles' % GOOD, rc == 0 and not stdout and not stderr,
                  'exit status %d\n%s%s' % (rc, stdout, stderr))
        if rc != 0:
            return
        names = sorted(os.listdir(out1))
        expected_names = sorted('test-' + n for n in OUTPUTS)
        tap.check('prefixed output files', names == expected_names,
                  'got %s' % names)

        docs = read(docs1)
        intro = read(os.path.join(out1, 'test-qapi-introspect.json'))
        if update:
            write(os.path.join(HERE, GOLDEN_DOCS), docs)
            write(os.path.join(HERE, GOLDEN_INTROSPECT), intro)
        for golden, actual in ((GOLDEN_DOCS, docs),
                               (GOLDEN_INTROSPECT, intro)):
            expected = read(os.path.join(HERE, golden))
            tap.check('%s matches the output' % golden, actual == expected,
                      diff(expected, actual, golden))

        code = read(os.path.join(out1, 'test-qapi-introspect.c'))
        tap.check('introspection C string equals the JSON file',
                  c_string_value(code) == intro,
                  diff(intro, c_string_value(code), 'introspect'))

        deps = read(dep)
        want = [GOOD, os.path.join('include', 'sub-module.json'),
                os.path.join('include', 'sub-sub-module.json')]
        target = os.path.join(out1, 'test-qapi-types.h')
        tap.check('depfile names the first output and every schema file',
                  deps == '%s: %s\n' % (target, ' '.join(want)),
                  'got: ' + deps)

        rc, _, _ = run_gen(gen, ['-o', out2, '-p', 'test-',
                                 '--docs', docs2, GOOD])
        same = rc == 0 and read(docs2) == docs and not any(
            not filecmp.cmp(os.path.join(out1, n), os.path.join(out2, n),
                            shallow=False) for n in names)
        tap.check('output is deterministic', same)

        out3 = os.path.join(tmp, 'out3')
        rc, _, stderr = run_gen(gen, ['-o', out3, GOOD])
        names = sorted(os.listdir(out3)) if rc == 0 else []
        tap.check('default prefix: unprefixed file names',
                  names == sorted(OUTPUTS), stderr + 'got %s' % names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--qapi-gen', default=DEFAULT_GEN)
    parser.add_argument('--update', action='store_true')
    args = parser.parse_args()
    gen = os.path.abspath(args.qapi_gen)
    tap = Tap()
    test_bad(tap, gen, args.update)
    test_good(tap, gen, args.update)
    return 0 if tap.report() else 1


if __name__ == '__main__':
    sys.exit(main())
