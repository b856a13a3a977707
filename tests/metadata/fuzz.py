#!/usr/bin/env python3
"""Mutation cross-check of `qemu-img check -M` against qcow2_layout.py.

usage: fuzz.py [-n COUNT] [--seed N] [--keep DIR] [--strict] IMAGE...

Makes COUNT damaged copies of the given (clean) images: each copy gets
1-4 random byte changes inside the metadata the reader locates (header
and extensions, refcount table, L1 tables, snapshot table, bitmap
directory and tables), and then is cross-checked like crosscheck.py
does (`check -M --output=json`, plus: no crash by signal, no sanitizer
report).  When the binary prints no JSON the copy is skipped (counted
as "refused"): deciding whether refusing was right is the damaged-image
suites' business.  When the check stops (exit 1) its map ends where
the walk stopped: such a copy is reported as INCOMPLETE and not counted
as failed, unless --strict.  Failing and incomplete copies are kept in
--keep DIR (default: a temp dir that is printed).

  QEMU_IMG   binary under test (default: <repo>/build/qemu-img)

Last line: "N passed, N failed"; exit 1 on any failure.
"""

import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crosscheck as cc  # noqa: E402
import qcow2_layout as q  # noqa: E402


def regions(v):
    """(offset, size) of the metadata worth damaging, small ones first."""
    out = [(0, min(v["qcow2-header"]["location"]["size"], 1024))]
    out.append((v["refcount-table"]["location"]["offset"],
                min(v["refcount-table"]["location"]["size"], 256)))
    l1s = [v["active-l1"]] + v.get("snapshot-table", {}).get("l1-list", [])
    for t in l1s:
        out.append((t["location"]["offset"], min(t["location"]["size"], 256)))
    if "snapshot-table" in v:
        loc = v["snapshot-table"]["location"]
        out.append((loc["offset"], loc["size"]))
    if "bitmaps" in v:
        d = v["bitmaps"]["bitmap-dir"]
        out.append((d["location"]["offset"], d["location"]["size"]))
        for e in d["dir-entries"]:
            loc = e["bitmap-table"]["location"]
            out.append((loc["offset"], min(loc["size"], 256)))
    return [r for r in out if r[1] > 0]


def mutate(rnd, path, regs):
    with open(path, "r+b") as f:
        for _ in range(rnd.randint(1, 4)):
            off, size = rnd.choice(regs)
            pos = off + rnd.randrange(size)
            f.seek(pos)
            old = f.read(1)
            if not old:
                continue
            kind = rnd.random()
            if kind < 0.4:
                new = old[0] ^ (1 << rnd.randrange(8))
            elif kind < 0.7:
                new = rnd.randrange(256)
            elif kind < 0.85:
                new = 0
            else:
                new = 0xFF
            f.seek(pos)
            f.write(bytes([new]))


def main(argv):
    args = argv[1:]
    count, seed, keep, strict = 200, 1, None, False
    images = []
    while args:
        a = args.pop(0)
        if a == "-n":
            count = int(args.pop(0))
        elif a == "--seed":
            seed = int(args.pop(0))
        elif a == "--strict":
            strict = True
        elif a == "--keep":
            keep = args.pop(0)
        else:
            images.append(os.path.abspath(a))
    if not images:
        sys.stderr.write(__doc__)
        return 2
    rnd = random.Random(seed)
    work = tempfile.mkdtemp(prefix="metadata-fuzz.")
    keep = keep or os.path.join(work, "failed")
    os.makedirs(keep, exist_ok=True)
    srcs = [(p, regions(q.layout(p))) for p in images]
    npass = nfail = refused = incomplete = 0
    for i in range(count):
        src, regs = srcs[i % len(srcs)]
        name = "%04d-%s" % (i, os.path.basename(src))
        path = os.path.join(work, name)
        subprocess.run(["cp", "--sparse=always", src, path], check=True)
        mutate(rnd, path, regs)
        rc, out, err = cc.run([cc.QEMU_IMG, "check", "-M", "--output=json",
                               name], work)
        bad = None
        if rc is None:
            bad = "timeout"
        elif rc < 0:
            bad = "killed by signal %d" % -rc
        elif any(m in err for m in cc.SANITIZER_MARKS):
            bad = "sanitizer report"
        if bad is None and not out.strip():
            refused += 1
            npass += 1
            os.unlink(path)
            continue
        if bad is None:
            ok, note, detail = cc.check_one(name, [], work)
            if not ok and rc == 1 and not strict:
                # the check stopped (exit 1): its map ends where the
                # walk stopped; reported, not counted as a failure
                incomplete += 1
                print("INCOMPLETE %s: %s" % (name, note))
                for line in detail[:3] + err.splitlines()[-2:]:
                    print("     " + line)
                shutil.copy(path, os.path.join(keep, name))
                npass += 1
                os.unlink(path)
                continue
            if not ok:
                bad = note + "\n     " + "\n     ".join(detail[:20])
        if bad:
            nfail += 1
            shutil.copy(path, os.path.join(keep, name))
            print("FAIL %s: %s" % (name, bad))
            for line in err.splitlines()[-5:]:
                print("     stderr: " + line)
        else:
            npass += 1
        os.unlink(path)
    print("(%d refused to open, %d incomplete checks%s)"
          % (refused, incomplete, "; copies kept in " + keep
             if nfail or incomplete else ""))
    print("%d passed, %d failed" % (npass, nfail))
    if not nfail and not incomplete:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
