#!/usr/bin/env python3
"""Cross-check `qemu-img check -M --output=json` against qcow2_layout.py.

usage: crosscheck.py [-v] [--repair] [--list FILE] [IMAGE...]

For every image, runs  $QEMU_IMG check -M --output=json IMAGE  and
compares the `viscera` member of its JSON with the value the
independent reader qcow2_layout.py computes from the file's bytes.
Dicts are compared as dicts (key order is another test's business),
lists in order.  A mismatch prints a diff by JSON path.

  QEMU_IMG       binary under test (default: <repo>/build/qemu-img)
  REF_QEMU_IMG   reference qemu-img (default: /usr/bin/qemu-img); only
                 asked when the binary under test prints no JSON: when
                 the reference cannot check the image either, the
                 image counts as passed ("both refuse")
  TIMEOUT        seconds per invocation (default 120)
  --list FILE    images from FILE, one per line: "IMAGE [ARG...]",
                 relative to FILE's directory, where ARGs (split like
                 a shell would) replace IMAGE on the command line; an
                 image without ARGs is checked from its own directory
  -v             print every image with its result
  --repair       run `check -r all -M` instead, and compare with the
                 image as the repair left it (the map must describe
                 the repaired image); this CHANGES the images
  (no images)    build the corpus with make-corpus.sh in a temp dir

Also fails an image when -M changed its bytes (it must open read-only)
or when stderr shows a sanitizer report.
Last line: "N passed, N failed"; exit 1 on any failure.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import qcow2_layout  # noqa: E402

QEMU_IMG = os.environ.get("QEMU_IMG", os.path.join(TOP, "build", "qemu-img"))
REF_QEMU_IMG = os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img")
TIMEOUT = int(os.environ.get("TIMEOUT", "120"))
MAX_DIFF_LINES = 40
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def short(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 160 else s[:157] + "..."


def diff(exp, got, path, out):
    """Append "path: ..." lines describing how GOT differs from EXP."""
    if isinstance(exp, dict) and isinstance(got, dict):
        for k in exp:
            if k not in got:
                out.append("%s.%s: missing (expected %s)"
                           % (path, k, short(exp[k])))
            else:
                diff(exp[k], got[k], "%s.%s" % (path, k), out)
        for k in got:
            if k not in exp:
                out.append("%s.%s: unexpected member %s"
                           % (path, k, short(got[k])))
    elif isinstance(exp, list) and isinstance(got, list):
        if len(exp) != len(got):
            out.append("%s: %d items, expected %d"
                       % (path, len(got), len(exp)))
        for i in range(min(len(exp), len(got))):
            diff(exp[i], got[i], "%s[%d]" % (path, i), out)
        for i in range(len(got), len(exp)):
            out.append("%s[%d]: missing (expected %s)"
                       % (path, i, short(exp[i])))
        for i in range(len(exp), len(got)):
            out.append("%s[%d]: unexpected %s" % (path, i, short(got[i])))
    elif type(exp) is not type(got) or exp != got:
        out.append("%s: got %s, expected %s" % (path, short(got), short(exp)))


def sha256(path):
    """Digest of the file's bytes: its size and every non-zero 64 KiB
    chunk with its offset.  Only data extents are read (holes are
    zeros), so the seed images, sparse files of 7 GB, hash fast."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        h.update(b"size %d\n" % size)
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
                end = os.lseek(fd, start, os.SEEK_HOLE)
            except OSError:             # ENXIO: no data after pos
                break
            start -= start % 65536
            f.seek(start)
            off = start
            while off < end:
                chunk = f.read(65536)
                if not chunk:
                    break
                if chunk.count(0) != len(chunk):
                    h.update(b"@%d\n" % off)
                    h.update(chunk)
                off += len(chunk)
            pos = max(end, off)
    return h.hexdigest()


def run(argv, cwd):
    try:
        p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           timeout=TIMEOUT)
        return p.returncode, p.stdout.decode(errors="replace"), \
            p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ds" % TIMEOUT


def check_one(image, args, cwd, repair=False):
    """(ok, note, detail lines) for one image."""
    if not repair:
        return _check_one(image, args, cwd, False, None)
    fd, pristine = tempfile.mkstemp(prefix="pristine.")
    os.close(fd)
    try:
        subprocess.run(["cp", "--sparse=always", os.path.join(cwd, image),
                        pristine], check=True)
        return _check_one(image, args, cwd, True, pristine)
    finally:
        os.unlink(pristine)


def _check_one(image, args, cwd, repair, pristine):
    target = args if args else [image]
    argv = [QEMU_IMG, "check", "-M", "--output=json"] + target
    if repair:
        argv[2:2] = ["-r", "all"]
    ipath = os.path.join(cwd, image)
    if not os.path.isfile(ipath):
        return False, "no such file", []
    before = sha256(ipath)
    rc, out, err = run(argv, cwd)
    after = sha256(ipath)
    detail = []
    if rc is None:
        return False, "timeout", [err]
    if any(m in err for m in SANITIZER_MARKS):
        return False, "sanitizer report", err.splitlines()[:30]
    if before != after and not repair:
        detail.append("check -M changed the image's bytes")

    try:
        expected = qcow2_layout.layout(ipath)
        perr = None
    except (qcow2_layout.NotQcow2, OSError, ValueError) as e:
        expected, perr = None, str(e)

    try:
        got = json.loads(out) if out.strip() else None
    except ValueError as e:
        return False, "bad JSON", ["%s" % e] + out.splitlines()[:10]

    if got is None and repair and pristine:
        # No JSON from a repair: fine when our repair fails the same way
        # without -M (a repair gap is not the map's business).
        subprocess.run(["cp", "--sparse=always", pristine, ipath], check=True)
        orc, oout, oerr = run([QEMU_IMG, "check", "-r", "all",
                               "--output=json"] + target, cwd)
        if rc == orc == 1 and not oout.strip() and oerr == err:
            return True, "repair fails without -M too", []
        detail.append("without -M: exit %s, stderr %s"
                      % (orc, oerr.strip()[:200]))
    elif got is None:
        # No JSON: acceptable only when the reference cannot check the
        # image either.
        rrc, _rout, rerr = run([REF_QEMU_IMG, "check"] + target, cwd)
        if rc == 1 and rrc == 1 and not detail:
            return True, "both refuse", []
        detail.append("reference: exit %s %s" % (rrc, rerr.strip()[:200]))
    if got is None:
        return False, "no JSON (exit %s)" % rc, err.splitlines()[:5] + detail
    if not isinstance(got, dict) or "viscera" not in got:
        return False, "no viscera (exit %s)" % rc, \
            detail + err.splitlines()[:5]
    if expected is None:
        return False, "reader failed: %s" % perr, detail
    diff(expected, got["viscera"], "viscera", detail)
    if detail:
        return False, "MISMATCH (exit %s)" % rc, detail
    return True, "exit %s" % rc, []


def load_list(listfile):
    base = os.path.dirname(os.path.abspath(listfile))
    items = []
    with open(listfile) as f:
        for line in f:
            words = shlex.split(line)
            if not words:
                continue
            if len(words) == 1:
                # run in the image's own directory: qemu-img resolves a
                # relative data-file name from the working directory
                full = os.path.join(base, words[0])
                items.append((words[0], os.path.basename(full), [],
                              os.path.dirname(full)))
            else:
                items.append((words[0], words[0], words[1:], base))
    return items


def main(argv):
    verbose = False
    repair = False
    items = []
    args = argv[1:]
    tmp = None
    while args:
        a = args.pop(0)
        if a == "-v":
            verbose = True
        elif a == "--repair":
            repair = True
        elif a == "--list":
            items += load_list(args.pop(0))
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            items.append((a, os.path.basename(a), [],
                          os.path.dirname(os.path.abspath(a))))
    if not items:
        tmp = tempfile.mkdtemp(prefix="metadata-corpus.")
        subprocess.run(["bash", os.path.join(HERE, "make-corpus.sh"), tmp],
                       check=True)
        items = load_list(os.path.join(tmp, "LIST"))

    npass = nfail = 0
    seen = set()
    for shown, image, extra, cwd in items:
        if repair:
            # an image repaired once is not a test case any more
            key = os.path.realpath(os.path.join(cwd, image))
            if key in seen:
                continue
            seen.add(key)
        ok, note, detail = check_one(image, extra, cwd, repair)
        if ok:
            npass += 1
            if verbose:
                print("ok   %s (%s)" % (shown, note))
        else:
            nfail += 1
            print("FAIL %s: %s" % (shown, note))
            for line in detail[:MAX_DIFF_LINES]:
                print("     " + line)
            if len(detail) > MAX_DIFF_LINES:
                print("     ... %d more" % (len(detail) - MAX_DIFF_LINES))
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
