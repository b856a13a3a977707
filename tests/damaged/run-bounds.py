#!/usr/bin/env python3
"""Memory of read-only commands on small images with huge tables.

Each case is an image of at most a few hundred KiB whose header or
directory declares a table (L1, refcount table, snapshot table, a
snapshot's L1, bitmap directory, a bitmap table) at or near its limit,
lying past the end of the file.  Such tables read as zeros, so nothing
obliges a reader to hold them: docs/security.md bounds the memory of a
read-only command by the file size, and this test holds us to it.

For every case and read-only command (info, check, check -M, map,
qemu-io -r read) it requires
  - the same stdout, stderr and exit status as the reference qemu-img /
    qemu-io 7.2 (except check -M, which 7.2 does not have),
  - a peak RSS of ours within the bound of docs/security.md: BASE_MIB,
    plus PER_BYTE times the file size, plus PER_SNAPSHOT times the
    snapshot count of the header (the process's own start-up memory is
    part of BASE_MIB).

usage: tests/damaged/run-bounds.py [-v] [-k]
  QEMU_IMG, QEMU_IO          binaries under test (default: <repo>/build/)
  REF_QEMU_IMG, REF_QEMU_IO  reference (default: /usr/bin/)
The last line is "N passed, N failed"; exit 1 on any failure.
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from corrupt import Qcow2File, bitmaps_payload  # noqa: E402

QEMU_IMG = os.environ.get("QEMU_IMG", os.path.join(TOP, "build/qemu-img"))
QEMU_IO = os.environ.get("QEMU_IO", os.path.join(TOP, "build/qemu-io"))
REF_IMG = os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img")
REF_IO = os.environ.get("REF_QEMU_IO", "/usr/bin/qemu-io")

# docs/security.md, "Memory of read-only commands".
BASE_MIB = 16
PER_BYTE = 64
PER_SNAPSHOT = 1024
BITMAPS_EXT = 0x23852875

COMMANDS = [
    ("info", [REF_IMG, "info", "-f", "qcow2"], [QEMU_IMG, "info", "-f",
                                                 "qcow2"]),
    ("info-json", [REF_IMG, "info", "-f", "qcow2", "--output=json"],
     [QEMU_IMG, "info", "-f", "qcow2", "--output=json"]),
    ("check", [REF_IMG, "check", "-f", "qcow2"],
     [QEMU_IMG, "check", "-f", "qcow2"]),
    ("check-json", [REF_IMG, "check", "-f", "qcow2", "--output=json"],
     [QEMU_IMG, "check", "-f", "qcow2", "--output=json"]),
    ("check-M", None, [QEMU_IMG, "check", "-f", "qcow2", "-M"]),
    ("check-M-json", None,
     [QEMU_IMG, "check", "-f", "qcow2", "-M", "--output=json"]),
    ("map", [REF_IMG, "map", "-f", "qcow2", "--output=json"],
     [QEMU_IMG, "map", "-f", "qcow2", "--output=json"]),
    ("read", [REF_IO, "-r", "-f", "qcow2", "-c", "read 0 64k"],
     [QEMU_IO, "-r", "-f", "qcow2", "-c", "read 0 64k"]),
]


def run(argv, cwd):
    """Runs argv; returns (stdout, stderr, status, peak RSS in bytes).

    GNU time measures: a child forked by this Python process would count
    the interpreter's own memory in its peak.
    """
    rss = os.path.join(cwd, "rss")
    p = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", rss,
                        *argv], cwd=cwd, capture_output=True)
    with open(rss) as f:
        peak = int(f.read().split()[-1]) * 1024
    return p.stdout, p.stderr, p.returncode, peak


def no_timing(out):
    """qemu-io's timing line differs from run to run."""
    return b"\n".join(line for line in out.split(b"\n")
                      if b" ops; " not in line)


def create(path, *opts):
    subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", *opts, path,
                    "64M"], check=True)


def case_l1(path):
    """The active L1 table: 4 Mi entries (32 MiB) past the end."""
    create(path)
    img = Qcow2File.load(path)
    img.set_field("l1_size", 4 << 20)
    img.set_field("l1_table_offset", 1 << 40)
    img.save(path)


def case_l1_straddling(path):
    """The active L1 table starts inside the file, runs 32 MiB past it."""
    create(path)
    subprocess.run([QEMU_IO, "-c", "write 0 64k", path], check=True,
                   stdout=subprocess.DEVNULL)
    img = Qcow2File.load(path)
    img.set_field("l1_size", 4 << 20)
    img.save(path)


def case_reftable(path):
    """The refcount table: 8 MiB, past the end."""
    create(path, "-o", "cluster_size=4k")
    img = Qcow2File.load(path)
    img.set_field("refcount_table_clusters", (8 << 20) // 4096)
    img.set_field("refcount_table_offset", 1 << 40)
    img.save(path)


def case_snapshots(path):
    """65536 snapshots (version 2, so empty entries are valid), past it."""
    create(path, "-o", "compat=0.10")
    img = Qcow2File.load(path)
    img.set_field("nb_snapshots", 65536)
    img.set_field("snapshots_offset", 1 << 40)
    img.save(path)


def case_snapshot_l1(path):
    """A snapshot whose L1 table has 4 Mi entries past the end."""
    create(path)
    subprocess.run([QEMU_IMG, "snapshot", "-c", "s1", path], check=True)
    img = Qcow2File.load(path)
    off = img.field("snapshots_offset")
    img.poke_int(off, 8, 1 << 40)           # l1_table_offset
    img.poke_int(off + 8, 4, 4 << 20)       # l1_size
    img.save(path)


def bitmap_image(path, cluster_size):
    create(path, "-o", "cluster_size=%d" % cluster_size)
    subprocess.run([REF_IMG, "bitmap", "--add", path, "b0"], check=True)


def case_bitmap_dir(path):
    """The bitmap directory: 65535 bitmaps, 64 MiB, past the end."""
    bitmap_image(path, 65536)
    img = Qcow2File.load(path)
    img.ext_replace_data(BITMAPS_EXT,
                         bitmaps_payload(65535, 64 << 20, 1 << 40))
    img.save(path)


def case_bitmap_table(path):
    """A bitmap table of 2^20 entries (8 MiB), past the end."""
    bitmap_image(path, 512)
    img = Qcow2File.load(path)
    ext = img.find_ext(BITMAPS_EXT)
    dir_offset = struct.unpack(">Q", ext.data[16:24])[0]
    img.poke_int(dir_offset, 8, 1 << 40)    # bitmap_table_offset
    img.poke_int(dir_offset + 8, 4, 1 << 20)  # bitmap_table_size
    img.save(path)


def append_cluster_aligned(img, data):
    """Appends @data at the next cluster boundary; returns its offset."""
    cs = img.cluster_size
    off = -(-len(img.data) // cs) * cs
    img.poke(off, data)
    return off


def case_bitmaps_in_use(path):
    """300 in-use bitmaps (not loaded at open), each with a table of
    2^20 entries past the end of the file: a map of them all would hold
    300 Mi entries for a file of a few KiB."""
    bitmap_image(path, 512)
    img = Qcow2File.load(path)
    entries = b""
    for i in range(300):
        name = b"b%d" % i
        entry = struct.pack(">QIIBBHI", 1 << 40, 1 << 20, 1, 1, 16,
                            len(name), 0) + name
        entries += entry + b"\0" * (-len(entry) % 8)
    off = append_cluster_aligned(img, entries)
    img.ext_replace_data(BITMAPS_EXT,
                         bitmaps_payload(300, len(entries), off))
    img.save(path)


def case_snapshots_sharing_l1(path):
    """50 snapshots that all use one L1 table whose 2048 entries all
    point to one L2 table: 102400 L2 references in a file of 40 KiB."""
    create(path, "-o", "cluster_size=512")
    subprocess.run([QEMU_IO, "-c", "write 0 512", path], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([QEMU_IMG, "snapshot", "-c", "s0", path], check=True)
    img = Qcow2File.load(path)
    sn = img.field("snapshots_offset")
    l1_offset = img.peek_int(sn, 8)
    l1_size = img.peek_int(sn + 8, 4)
    first = img.peek_int(l1_offset, 8)
    img.poke(l1_offset, struct.pack(">Q", first) * l1_size)
    # One entry: fixed part, extra data, id, name, padded to 8 bytes.
    extra_size = img.peek_int(sn + 36, 4)
    fixed = img.peek(sn, 40 + extra_size)
    table = b""
    for i in range(50):
        ident, name = b"%d" % (i + 1), b"s%d" % i
        entry = (fixed[:12] + struct.pack(">HH", len(ident), len(name)) +
                 fixed[16:] + ident + name)
        table += entry + b"\0" * (-len(entry) % 8)
    off = append_cluster_aligned(img, table)
    img.set_field("nb_snapshots", 50)
    img.set_field("snapshots_offset", off)
    img.save(path)


# Images whose map would not fit the bound: check -M prints the check
# without a map, says why, and exits 1.  The others are mapped.
case_bitmaps_in_use.no_map = True
case_snapshots_sharing_l1.no_map = True
# Images that 7.2 does not open (every command above shows it).
case_bitmap_dir.no_open = True
case_bitmap_table.no_open = True

CASES = [case_l1, case_l1_straddling, case_reftable, case_snapshots,
         case_snapshot_l1, case_bitmap_dir, case_bitmap_table,
         case_bitmaps_in_use, case_snapshots_sharing_l1]


def main():
    verbose = "-v" in sys.argv
    keep = "-k" in sys.argv
    work = tempfile.mkdtemp(prefix="bounds-")
    passed = failed = 0
    for make in CASES:
        name = make.__name__[len("case_"):]
        cwd = os.path.join(work, name)
        os.mkdir(cwd)
        make(os.path.join(cwd, "t.qcow2"))
        size = os.path.getsize(os.path.join(cwd, "t.qcow2"))
        limit = (BASE_MIB * 2**20 + PER_BYTE * size + PER_SNAPSHOT *
                 Qcow2File.load(os.path.join(cwd, "t.qcow2"))
                 .field("nb_snapshots"))
        for cmd, ref, ours in COMMANDS:
            test = "%s/%s" % (name, cmd)
            problems = []
            o_out, o_err, o_rc, o_rss = run(ours + ["t.qcow2"], cwd)
            if ref:
                r_out, r_err, r_rc, _ = run(ref + ["t.qcow2"], cwd)
                if cmd == "read":
                    r_out, o_out = no_timing(r_out), no_timing(o_out)
                if (r_out, r_err, r_rc) != (o_out, o_err, o_rc):
                    problems.append("output differs from 7.2's:\n"
                                    "--- 7.2 (exit %d)\n%s%s"
                                    "+++ ours (exit %d)\n%s%s" %
                                    (r_rc, r_out.decode(errors="replace"),
                                     r_err.decode(errors="replace"), o_rc,
                                     o_out.decode(errors="replace"),
                                     o_err.decode(errors="replace")))
            elif getattr(make, "no_map", False):
                if o_rc != 1 or b"qemu-img: No metadata map: " not in o_err:
                    problems.append("exit %d, expected 1 and 'No metadata "
                                    "map'" % o_rc)
            elif getattr(make, "no_open", False):
                if o_rc != 1 or b"Could not open 't.qcow2'" not in o_err:
                    problems.append("exit %d, expected 1 and 'Could not "
                                    "open'" % o_rc)
            elif o_rc < 0 or o_rc > 3 or (b"Metadata:" not in o_out and
                                          b'"viscera"' not in o_out):
                problems.append("exit %d, or no map" % o_rc)
            if o_rss > limit:
                problems.append("peak RSS %.1f MiB over the bound %.1f MiB "
                                "(file %d bytes)" % (o_rss / 2**20,
                                                     limit / 2**20, size))
            if problems:
                failed += 1
                print("FAIL %s\n%s" % (test, "\n".join(problems)))
            else:
                passed += 1
                if verbose:
                    print("ok   %s (%.1f MiB)" % (test, o_rss / 2**20))
    if keep:
        print("kept %s" % work)
    else:
        shutil.rmtree(work)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
