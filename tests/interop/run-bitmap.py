#!/usr/bin/env python3
"""Persistent bitmaps against qemu-img / qemu-io / qemu-nbd 7.2.

Each scenario is a list of steps (`qemu-img bitmap`, `qemu-io` and other
commands on the image).  Every step runs on two copies of one image,
with our binaries on one and with 7.2's on the other, and must give

  - the same stdout, stderr and exit status (qemu-io's timing line and
    the random digits of 7.2's node names aside; `F` in a step stands
    for the image),
  - byte-identical image files (7.2 places bitmap data, tables and
    directories deterministically, and so do we), snapshot dates and
    the image's own name in a backing file name aside.

After each scenario, on both final images:

  - 7.2's `qemu-img check` finds no error and `info` is the same (but
    for the disk size, which is the file system's business);
  - every bitmap's dirty ranges as our `qemu-img map --bitmap NAME`
    lists them equal the ranges 7.2 exports through qemu-nbd (read with
    7.2's `qemu-img map` and x-dirty-bitmap): ours read 7.2's bitmaps,
    7.2 reads ours.

usage: tests/interop/run-bitmap.py [-v] [FILTER]
  QEMU_IMG, QEMU_IO   binaries under test (default: <repo>/build/)
The last line is "N passed, N failed"; exit 1 on any failure.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
OURS = {
    "img": os.environ.get("QEMU_IMG", os.path.join(TOP, "build/qemu-img")),
    "io": os.environ.get("QEMU_IO", os.path.join(TOP, "build/qemu-io")),
}
REF = {"img": "/usr/bin/qemu-img", "io": "/usr/bin/qemu-io"}
REF_NBD = "/usr/bin/qemu-nbd"
# 7.2's generated node names end in two random digits.
NODE = re.compile(rb"#block[0-9]+")

WRITES = [
    'io -c "write 0 1M" F',
    'io -c "write -P 0x55 4M 64k" -c "write 9M 4k" F',
]

# name -> (create options, size, steps)
SCENARIOS = {
    "add-write-store": ("", "64M", [
        "img bitmap --add F b0",
        'io -c "write 0 1M" F',
        "img bitmap --add -g 128k F b1",
        'io -c "write 4M 64k" F',
        "img bitmap --disable F b0",
        'io -c "write 8M 64k" F',
        "img bitmap --clear F b1",
        'io -c "write 16M 4k" F',
        "img bitmap --merge b0 F b1",
        "img bitmap --add F b2 --disable",
        "img bitmap --remove F b0",
        'io -c "write 0 4k" -c "discard 1M 64k" -c "write -z 2M 64k" F',
    ]),
    "remove-all": ("", "64M", [
        "img bitmap --add F b0",
        'io -c "write 0 1M" F',
        "img bitmap --add -g 128k F b1",
        "img bitmap --remove F b0",
        "img bitmap --remove F b1",
        "img bitmap --add F b3 --remove",
        "img bitmap --add F b4",
        "img bitmap --add F b5 --clear --disable --enable",
        'io -c "truncate 128M" -c "write 100M 64k" F',
    ]),
    "clusters-512": ("-o cluster_size=512", "32M", [
        "img bitmap --add F a",
        "img bitmap --add -g 512 F fine",
        'io -c "write 0 1M" -c "write 5M 512" -c "write 31M 1M" F',
        "img bitmap --add -g 1G F coarse",
        'io -c "write 7M 3k" F',
        "img bitmap --merge fine F a",
    ]),
    "clusters-2M": ("-o cluster_size=2M", "1G", [
        "img bitmap --add F big",
        "img bitmap --add -g 512 F small",
        'io -c "write 0 1M" -c "write 500M 3M" F',
        "img bitmap --disable F small",
        'io -c "write 900M 64k" F',
    ]),
    "many-bitmaps": ("-o cluster_size=4k", "16M", [
        "img bitmap --add F m%d" % i for i in range(40)
    ] + [
        'io -c "write 1M 8k" F',
        "img bitmap --remove F m7",
        "img bitmap --remove F m39",
        'io -c "write 2M 8k" F',
    ]),
    "backing-and-snapshot": ("", "64M", [
        "other create -q -f qcow2 F.base 64M",
        'other-io -c "write 0 2M" F.base',
        "other create -q -f qcow2 -b F.base -F qcow2 F 64M",
        "img bitmap --add F b0",
        'io -c "write 1M 64k" F',
        "img snapshot -c s1 F",
        'io -c "write 3M 64k" F',
        "img snapshot -d s1 F",
        "img snapshot -c s2 F",
        'io -c "write 7M 64k" F',
        "img snapshot -a s2 F",
        "img snapshot -a nosuch F",
        "img bitmap --add F b1",
        'io -c "write 5M 64k" F',
    ]),
    "merge-other-file": ("", "64M", [
        "other create -q -f qcow2 F.src 64M",
        "other bitmap --add F.src s0",
        'other-io -c "write 2M 1M" F.src',
        "img bitmap --add F b0",
        "img bitmap --merge s0 -b F.src -F qcow2 F b0",
        "img bitmap --merge s0 -b F.src F b0",
        "img bitmap --merge nosuch -b F.src F b0",
    ]),
    "errors": ("", "64M", [
        "img bitmap F b0",
        "img bitmap --add F",
        "img bitmap --add F b0 extra",
        "img bitmap --add F b0",
        "img bitmap --add F b0",
        "img bitmap --add -g 1000 F b1",
        "img bitmap --add -g 256 F b1",
        "img bitmap --add -g 4G F b1",
        "img bitmap --add -g abc F b1",
        "img bitmap --add -g 0 F g0",
        "img bitmap --add -g 2G F g2g",
        "img bitmap -g 4k --remove F b0",
        "img bitmap --remove F nosuch",
        "img bitmap --clear F nosuch",
        "img bitmap --enable F nosuch",
        "img bitmap --disable F nosuch",
        "img bitmap --merge nosuch F b0",
        "img bitmap --merge b0 F nosuch",
        "img bitmap -F qcow2 --add F b2",
        "img bitmap -b x --add F b2",
        "img bitmap --add F ''",
        "img bitmap --disable --add F b4",
        "img bitmap --add F b5 --add",
        "img bitmap --add F y%s" % ("y" * 1022),
        "img bitmap --merge",
        "img bitmap --add -f qcow2 nosuch.qcow2 z",
        "other create -q -f qcow2 F.small 32M",
        "other bitmap --add F.small o",
        "img bitmap --merge o -b F.small F b0",
    ]),
    "inconsistent": ("", "64M", [
        "img bitmap --add F b0",
        "img bitmap --add F b1",
        'io -c "write 0 64k" F',
        # A writer killed with its bitmaps in memory: in use on disk.
        'io -c "write 1M 64k" -c abort F',
        "img info F",
        "img bitmap --clear F b0",
        "img bitmap --enable F b0",
        "img bitmap --merge b0 F b1",
        "img bitmap --add F b2",
        'io -c "write 2M 64k" F',
        "img bitmap --remove F b0",
        "img check F",
        "img bitmap --remove F b1",
    ]),
    "convert": ("", "64M", [
        "other create -q -f qcow2 F.src 64M",
        "other bitmap --add F.src s0",
        'other-io -c "write 1M 64k" -c "write 9M 1M" F.src',
        "other bitmap --add -g 128k F.src s1",
        'other-io -c "write 20M 64k" F.src',
        "other bitmap --disable F.src s1",
        "other bitmap --add -g 1M F.src s2",
        # a new image with the three, newest visited first as 7.2 does
        "img convert --bitmaps -O qcow2 F.src F",
        'io -c "write 30M 64k" F',
        # into an existing image, over a name it already has
        "img convert --bitmaps -n F.src F",
        "img bitmap --remove F s0",
        "img convert --bitmaps -n F.src F",
        "img convert --bitmaps -O raw F.src F.raw",
        "img convert --skip-broken-bitmaps -O qcow2 F.src F",
        "img convert --bitmaps -O qcow2 F.src F.src F",
        # compressed, with bitmaps
        "img convert --bitmaps -c -O qcow2 F.src F",
    ]),
    "version-2": ("-o compat=0.10", "64M", [
        "img bitmap --add F b0",
        "img bitmap --remove F b0",
    ]),
    "raw": (None, "4M", [
        "img bitmap --add -f raw F b0",
        "img bitmap --remove -f raw F b0",
        "img bitmap --merge x -b F -f raw F b0",
    ]),
}


def mask_snapshot_dates(data):
    """Snapshot creation times (seconds, nanoseconds) set to zero."""
    data = bytearray(data)
    if len(data) < 72:
        return bytes(data)
    count = int.from_bytes(data[60:64], "big")
    pos = int.from_bytes(data[64:72], "big")
    for _ in range(min(count, 1024)):
        if pos + 40 > len(data):
            break
        id_len = int.from_bytes(data[pos + 12:pos + 14], "big")
        name_len = int.from_bytes(data[pos + 14:pos + 16], "big")
        extra = int.from_bytes(data[pos + 36:pos + 40], "big")
        data[pos + 16:pos + 24] = bytes(8)
        pos += -(-(40 + extra + id_len + name_len) // 8) * 8
    return bytes(data)


def run(argv, cwd):
    p = subprocess.run(argv, cwd=cwd, capture_output=True)
    return p.stdout, p.stderr, p.returncode


def no_timing(out):
    return b"\n".join(line for line in out.split(b"\n")
                      if b" ops; " not in line)


def step_argv(step, tools, image):
    kind, rest = step.split(" ", 1)
    words = [w.replace("F", image) if w in ("F", "F.base", "F.src",
                                            "F.small", "F.raw") else w
             for w in shlex.split(rest)]
    if kind == "other":
        return [REF["img"]] + words      # set-up with 7.2 on both sides
    if kind == "other-io":
        return [REF["io"]] + words
    return [tools[kind]] + words


def nbd_ranges(image, name, cwd):
    """7.2's view of a bitmap: qemu-nbd export, map with x-dirty-bitmap."""
    sock = os.path.join(cwd, "nbd.sock")
    nbd = subprocess.Popen([REF_NBD, "-r", "-f", "qcow2", "-B", name, "-k",
                            sock, "-t", image], cwd=cwd,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        out, err, rc = run([REF["img"], "map", "--output=json",
                            "--image-opts",
                            "driver=nbd,server.type=unix,server.path=%s,"
                            "x-dirty-bitmap=qemu:dirty-bitmap:%s"
                            % (sock, name)], cwd)
    finally:
        nbd.terminate()
        nbd.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    if rc != 0:
        return None
    # The export reports dirty areas as holes ("data": false).
    return merge([(e["start"], e["length"], not e["data"])
                  for e in json.loads(out)])


def our_ranges(image, name, cwd):
    out, err, rc = run([OURS["img"], "map", "--bitmap", name,
                        "--output=json", image], cwd)
    if rc != 0:
        return None
    return merge([(e["start"], e["length"], e["dirty"])
                  for e in json.loads(out)])


def merge(ranges):
    merged = []
    for start, length, dirty in ranges:
        if merged and merged[-1][2] == dirty and \
           merged[-1][0] + merged[-1][1] == start:
            merged[-1] = (merged[-1][0], merged[-1][1] + length, dirty)
        else:
            merged.append((start, length, dirty))
    return merged


def bitmap_names(image, cwd):
    out, _, rc = run([REF["img"], "info", "--output=json", "-f", "qcow2",
                      image], cwd)
    if rc != 0:
        return []
    info = json.loads(out)
    data = info.get("format-specific", {}).get("data", {})
    return [b["name"] for b in data.get("bitmaps", [])
            if "in-use" not in b.get("flags", [])]


def main():
    verbose = "-v" in sys.argv
    filters = [a for a in sys.argv[1:] if not a.startswith("-")]
    passed = failed = 0
    work = tempfile.mkdtemp(prefix="bitmap-interop-")

    def result(name, problems):
        nonlocal passed, failed
        if problems:
            failed += 1
            print("FAIL %s\n  %s" % (name, "\n  ".join(problems)))
        else:
            passed += 1
            if verbose:
                print("ok   %s" % name)

    for scen, (opts, size, steps) in SCENARIOS.items():
        if filters and not any(f in scen for f in filters):
            continue
        cwd = os.path.join(work, scen)
        os.mkdir(cwd)
        for side in ("o", "r"):
            argv = [REF["img"], "create", "-q", "-f",
                    "raw" if opts is None else "qcow2"]
            argv += shlex.split(opts or "") + [side + ".img", size]
            subprocess.run(argv, cwd=cwd, check=True)
        for i, step in enumerate(steps):
            test = "%s/%d: %s" % (scen, i + 1, step[:60])
            o = run(step_argv(step, OURS, "o.img"), cwd)
            r = run(step_argv(step, REF, "r.img"), cwd)
            o = (no_timing(o[0]).replace(b"o.img", b"X"),
                 NODE.sub(b"#blockN", o[1].replace(b"o.img", b"X")), o[2])
            r = (no_timing(r[0]).replace(b"r.img", b"X"),
                 NODE.sub(b"#blockN", r[1].replace(b"r.img", b"X")), r[2])
            problems = []
            if o != r:
                problems.append("output differs:\n    7.2 (exit %d): %r %r"
                                "\n    ours (exit %d): %r %r" %
                                (r[2], r[0][:300], r[1][:300], o[2],
                                 o[0][:300], o[1][:300]))
            with open(os.path.join(cwd, "o.img"), "rb") as f:
                # A backing file name holds the image's own name.
                ours_bytes = mask_snapshot_dates(
                    f.read().replace(b"o.img.", b"r.img."))
            with open(os.path.join(cwd, "r.img"), "rb") as f:
                ref_bytes = mask_snapshot_dates(f.read())
            if ours_bytes != ref_bytes:
                at = next((k for k in range(min(len(ours_bytes),
                                                len(ref_bytes)))
                           if ours_bytes[k] != ref_bytes[k]),
                          min(len(ours_bytes), len(ref_bytes)))
                problems.append("image files differ from byte %d (sizes "
                                "%d, %d)" % (at, len(ours_bytes),
                                             len(ref_bytes)))
            result(test, problems)
        if opts is None:
            continue
        # The final images, read across.
        problems = []
        for side in ("o.img", "r.img"):
            out, err, rc = run([REF["img"], "check", side], cwd)
            if rc != 0:
                problems.append("7.2 check of %s: exit %d %r" % (side, rc,
                                                                  err[:200]))
        # "disk size" depends on how the file system allocated blocks.
        oi = re.sub(rb"disk size: .*", b"", run(
            [REF["img"], "info", "o.img"], cwd)[0].replace(
            b"o.img", b"r.img")).split(b"\n", 1)
        ri = re.sub(rb"disk size: .*", b"", run(
            [REF["img"], "info", "r.img"], cwd)[0]).split(b"\n", 1)
        if oi[1:] != ri[1:]:
            problems.append("7.2 info differs:\n    %r\n    %r" % (
                set(oi[1].split(b"\n")) - set(ri[1].split(b"\n")),
                set(ri[1].split(b"\n")) - set(oi[1].split(b"\n"))))
        result("%s: 7.2 checks and lists both images alike" % scen, problems)
        for side in ("o.img", "r.img"):
            for name in bitmap_names(side, cwd):
                theirs = nbd_ranges(side, name, cwd)
                mine = our_ranges(side, name, cwd)
                problems = []
                if theirs is None or mine is None or theirs != mine:
                    problems.append("ranges differ:\n    qemu-nbd 7.2: %s\n"
                                    "    ours: %s" % (theirs, mine))
                result("%s: %s bitmap %s read by both" % (scen, side, name),
                       problems)
        # 7.2's convert --bitmaps copies the bitmaps we wrote.
        names = bitmap_names("o.img", cwd)
        if names:
            problems = []
            out, err, rc = run([REF["img"], "convert", "--bitmaps",
                                "--skip-broken-bitmaps", "-O", "qcow2",
                                "o.img", "copy.img"], cwd)
            if rc != 0:
                problems.append("7.2 convert --bitmaps: exit %d %r" %
                                (rc, err[:300]))
            else:
                for name in names:
                    if our_ranges("o.img", name, cwd) != \
                       our_ranges("copy.img", name, cwd):
                        problems.append("bitmap %s differs in 7.2's copy" %
                                        name)
            os.unlink(os.path.join(cwd, "copy.img"))
            result("%s: 7.2's convert --bitmaps copies our bitmaps" % scen,
                   problems)
    shutil.rmtree(work)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
