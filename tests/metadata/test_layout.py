#!/usr/bin/env python3
"""Unit tests of qcow2_layout.py, without the binary under test.

usage: test_layout.py [-v] [CORPUS-DIR]

1. synthetic images (synth.py) against hand-written expectations,
   including the two seed examples; the reference `qemu-img check` must
   find them clean (so the synthetic layouts are real, valid images);
2. hand-damaged variants: the reader's rules for reserved bits,
   unaligned or oversized tables, unknown and overrunning extensions,
   every bitmap-table entry class; truncations and random byte flips
   must never raise anything but NotQcow2;
3. real images (CORPUS-DIR/LIST from make-corpus.sh, else a small set
   built here with the reference tools): the reader's view against
   `qemu-img info --output=json` (cluster size, version, snapshot and
   bitmap names in order, crypto), and the strongest check of all: on
   images the reference check finds clean, the clusters of all located
   metadata plus the data clusters the L2 tables point at must be
   exactly the clusters with a non-zero refcount, i.e. nothing missed,
   nothing invented.

Last line: "N passed, N failed"; exit 1 on any failure.
"""

import json
import os
import random
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import qcow2_layout as q  # noqa: E402
import synth  # noqa: E402

REF_QEMU_IMG = os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img")
REF_QEMU_IO = os.environ.get("REF_QEMU_IO", "/usr/bin/qemu-io")

results = [0, 0]
verbose = False


def report(name, ok, why=""):
    results[0 if ok else 1] += 1
    if not ok:
        print("FAIL %s: %s" % (name, why))
    elif verbose:
        print("ok   %s" % name)


def same(name, got, exp):
    if got == exp:
        report(name, True)
    else:
        report(name, False, "\n  got      %s\n  expected %s"
               % (json.dumps(got, sort_keys=True)[:2000],
                  json.dumps(exp, sort_keys=True)[:2000]))


def poke(path, off, fmt, *vals):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(struct.pack(fmt, *vals))


def peek(path, off, fmt):
    with open(path, "rb") as f:
        f.seek(off)
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))


def ref_check_clean(path, cwd=None, extra=()):
    p = subprocess.run([REF_QEMU_IMG, "check", "--output=json"] + list(extra)
                       + [path], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        return False
    r = json.loads(p.stdout)
    return not r.get("corruptions") and not r.get("leaks")


# ---------------------------------------------------------------------
# 1. synthetic images

def test_synthetic(tmp):
    for name, fn in synth.IMAGES.items():
        img, exp = fn()
        path = os.path.join(tmp, name)
        img.write(path)
        same("synth/%s" % name, q.layout(path), exp)
        if name not in synth.NOT_CLEAN:
            report("synth/%s is clean for the reference" % name,
                   ref_check_clean(path))


# ---------------------------------------------------------------------
# 2. damaged variants

def test_bitmap_entry_classes():
    cs = 65536
    cases = [
        (0, {"type": "all-zeros"}),
        (1, {"type": "all-ones"}),
        (0x50000, {"type": "serialized", "cluster": {"offset": 0x50000,
                                                     "size": cs}}),
        (0x50001, {"type": "invalid"}),      # all-ones flag with offset
        (0x50200, {"type": "invalid"}),      # unaligned
        (0x50002, {"type": "invalid"}),      # reserved bit 1
        (0x100, {"type": "invalid"}),        # reserved bit 8, no offset
        (0x101, {"type": "invalid"}),
        (1 << 56 | 0x50000, {"type": "invalid"}),   # reserved bit 56
        (1 << 63, {"type": "invalid"}),
        (0x00fffffffff0000, {"type": "serialized", "cluster": {
            "offset": 0x00fffffffff0000, "size": cs}}),
    ]
    for e, exp in cases:
        same("bitmap entry %#x" % e, q.bitmap_entry(e, cs), exp)
    same("bitmap entry 0x200 with 512-byte clusters",
         q.bitmap_entry(0x200, 512),
         {"type": "serialized", "cluster": {"offset": 0x200, "size": 512}})


def test_damaged_synthetic(tmp):
    img, exp = synth.seed_bitmaps()
    base = os.path.join(tmp, "dmg-base.qcow2")
    img.write(base)

    def variant(name, fn, change):
        path = os.path.join(tmp, "dmg-%s.qcow2" % name)
        shutil.copy(base, path)
        fn(path)
        e = json.loads(json.dumps(exp))
        change(e)
        same("damaged/%s" % name, q.layout(path), e)

    tbl2 = 983040

    def entry(v):
        return lambda p: poke(p, tbl2, ">Q", v)

    def etype(t, cluster=None):
        def change(e):
            ent = {"type": t}
            if cluster is not None:
                ent["cluster"] = cluster
            e["bitmaps"]["bitmap-dir"]["dir-entries"][1]["bitmap-table"][
                "table-entries"] = [ent]
        return change
    variant("bm-all-ones", entry(1), etype("all-ones"))
    variant("bm-reserved", entry(655360 | 2), etype("invalid"))
    variant("bm-unaligned", entry(655360 + 512), etype("invalid"))
    variant("bm-ones-and-offset", entry(655360 | 1), etype("invalid"))
    variant("bm-high-reserved", entry(655360 | 1 << 60), etype("invalid"))
    variant("bm-past-eof", entry(1 << 40),
            etype("serialized", {"offset": 1 << 40, "size": 65536}))

    # the table grows to 3 entries: exactly 3 entries are read
    def three(p):
        poke(p, 1048576 + 32 + 8, ">I", 3)
        poke(p, tbl2 + 8, ">QQ", 1, 0x70000)

    def three_exp(e):
        t = e["bitmaps"]["bitmap-dir"]["dir-entries"][1]["bitmap-table"]
        t["location"]["size"] = 24
        t["table-entries"] += [{"type": "all-ones"},
                               {"type": "serialized",
                                "cluster": {"offset": 0x70000,
                                            "size": 65536}}]
    variant("bm-table-size-3", three, three_exp)

    # unknown extension before the bitmaps one; then one whose length
    # runs past the cluster (it and what follows are left out)
    def unknown_first(p):
        data = peek(p, 112, ">32s")[0]           # bitmaps ext record
        poke(p, 112, ">II", 0x11223344, 3)
        poke(p, 120, ">8s", b"abc")
        poke(p, 128, ">32s", data)
        poke(p, 160, ">Q", 0)

    def unknown_first_exp(e):
        e["qcow2-header"]["header-extensions"] = [
            {"magic": 0x11223344, "location": {"offset": 120, "size": 3}},
            {"magic": 0x23852875, "name": "bitmaps",
             "location": {"offset": 136, "size": 24}}]
    variant("ext-unknown-first", unknown_first, unknown_first_exp)

    def overrun(p):
        poke(p, 112, ">II", 0x11223344, 70000)

    def overrun_exp(e):
        del e["qcow2-header"]["header-extensions"]
        del e["bitmaps"]
    variant("ext-overrun", overrun, overrun_exp)

    def all_named(p):
        recs = b""
        for m in (0xE2792ACA, 0x6803F857, 0x44415441, 0x0537BE77):
            d = b"x" * 16 if m != 0x0537BE77 else struct.pack(">QQ", 3 << 16,
                                                              4096)
            recs += struct.pack(">II", m, len(d)) + d
        data = peek(p, 112, ">32s")[0]
        poke(p, 112, ">%ds" % len(recs), recs)
        poke(p, 112 + len(recs), ">32sQ", data, 0)

    def all_named_exp(e):
        lst = []
        off = 120
        for m, n in ((0xE2792ACA, "backing-format"),
                     (0x6803F857, "feature-name-table"),
                     (0x44415441, "data-file"),
                     (0x0537BE77, "crypto-header"),
                     (0x23852875, "bitmaps")):
            size = 24 if m == 0x23852875 else 16
            lst.append({"magic": m, "name": n,
                        "location": {"offset": off, "size": size}})
            off += 24
        e["qcow2-header"]["header-extensions"] = lst
        e["crypt-header"] = {"location": {"offset": 3 << 16, "size": 4096}}
    variant("ext-all-named", all_named, all_named_exp)

    # refcount table: an entry with reserved bits is left out; a second
    # plain one is listed; none at all removes the member
    def rt(p):
        poke(p, 65536 + 8, ">QQ", 0x90000 | 0x100, 0xa0000)

    def rt_exp(e):
        e["refcount-table"]["refcount-blocks"].append(
            {"offset": 0xa0000, "size": 65536})
    variant("reftable-entries", rt, rt_exp)
    variant("reftable-empty", lambda p: poke(p, 65536, ">Q", 0),
            lambda e: e["refcount-table"].pop("refcount-blocks"))
    variant("reftable-only-reserved", lambda p: poke(p, 65536, ">Q", 0x131072 | 1),
            lambda e: e["refcount-table"].pop("refcount-blocks"))

    # L1: reserved and COPIED bits are masked off the L2 offset
    def l1(p):
        poke(p, 196608, ">Q", 1 << 62 | 1 << 63 | 262144 | 0x1ff)
    variant("l1-reserved-bits", l1, lambda e: None)

    # autoclear bit 0 clear: the extension is stale, no bitmaps member
    variant("bitmaps-autoclear-off", lambda p: poke(p, 88, ">Q", 0),
            lambda e: e.pop("bitmaps"))

    # no bitmaps extension at all
    def no_ext(p):
        poke(p, 112, ">Q", 0)
    variant("no-extensions", no_ext,
            lambda e: (e.pop("bitmaps"),
                       e["qcow2-header"].pop("header-extensions")))

    # snapshots: unaligned L1 and oversized L1 get empty l2-lists
    img, sexp = synth.v2_snapshots_512()
    sbase = os.path.join(tmp, "dmg-snap.qcow2")
    img.write(sbase)
    st = img.snapshots[1]

    def svariant(name, fn, change):
        path = os.path.join(tmp, "dmg-%s.qcow2" % name)
        shutil.copy(sbase, path)
        fn(path)
        e = json.loads(json.dumps(sexp))
        change(e)
        same("damaged/%s" % name, q.layout(path), e)

    def unaligned(p):
        (off,) = peek(p, st, ">Q")
        poke(p, st, ">Q", off + 8)

    def unaligned_exp(e):
        s0 = e["snapshot-table"]["l1-list"][0]
        s0["location"]["offset"] += 8
        s0["l2-list"] = []
    svariant("snap-l1-unaligned", unaligned, unaligned_exp)

    def big(p, n):
        poke(p, st + 8, ">I", n)

    def big_exp(n, empty):
        def f(e):
            s0 = e["snapshot-table"]["l1-list"][0]
            s0["location"]["size"] = n * 8
            if empty:
                s0["l2-list"] = []
        return f
    lim = 32 * 1024 * 1024 // 8
    # at the limit the table is read (through whatever follows it in
    # the file): its first entry is still the snapshot's L2
    path = os.path.join(tmp, "dmg-snap-l1-at-limit.qcow2")
    shutil.copy(sbase, path)
    big(path, lim)
    t0 = q.layout(path)["snapshot-table"]["l1-list"][0]
    same("damaged/snap-l1-at-limit", (t0["location"], t0["l2-list"][:1]),
         ({"offset": t0["location"]["offset"], "size": lim * 8},
          sexp["snapshot-table"]["l1-list"][0]["l2-list"]))
    svariant("snap-l1-over-limit", lambda p: big(p, lim + 1),
             big_exp(lim + 1, True))
    svariant("snap-none", lambda p: poke(p, 60, ">I", 0),
             lambda e: e.pop("snapshot-table"))
    svariant("snap-one", lambda p: poke(p, 60, ">I", 1),
             lambda e: (e["snapshot-table"]["l1-list"].__delitem__(
                 slice(1, None)),
                 e["snapshot-table"]["location"].__setitem__("size", 42)))


def test_robustness(tmp, sources):
    """Truncations and random flips: only NotQcow2 may come out."""
    rnd = random.Random(1234)
    n_ok = 0
    bad = []
    for src in sources:
        data = open(src, "rb").read(4 << 20)
        path = os.path.join(tmp, "fuzz.qcow2")
        cuts = sorted({0, 1, 47, 71, 72, 103, 104, 111, 112, 200, 512,
                       4096, 65536, 65537, 131072, 200000, len(data) // 2,
                       len(data) - 1})
        trials = [("cut %d" % c, data[:c]) for c in cuts if c <= len(data)]
        for k in range(60):
            b = bytearray(data)
            region = 512 if k < 30 else min(len(b), 1 << 20)
            for _ in range(rnd.randint(1, 6)):
                i = rnd.randrange(region)
                b[i] = rnd.randrange(256)
            trials.append(("flip #%d" % k, bytes(b)))
        for what, blob in trials:
            with open(path, "wb") as f:
                f.write(blob)
            try:
                q.layout(path)
            except q.NotQcow2:
                pass
            except Exception as e:      # noqa: BLE001 - any other is a bug
                bad.append("%s %s: %r" % (os.path.basename(src), what, e))
                continue
            n_ok += 1
    report("robustness (%d damaged files)" % (n_ok + len(bad)), not bad,
           "; ".join(bad[:5]))


# ---------------------------------------------------------------------
# 3. real images

def refcount_map(path, h):
    """{cluster: refcount} read straight from the refcount structures."""
    img = q.Image(path)
    bits = 1 << h.refcount_order
    per_block = h.cluster_size * 8 // bits
    refs = {}
    rt = img.u64s(h.refcount_table_offset,
                  h.refcount_table_clusters * h.cluster_size // 8)
    for i, rb in enumerate(rt):
        if not rb:
            continue
        blk = img.read(rb, h.cluster_size)
        val = int.from_bytes(blk, "big") if bits >= 8 else None
        for j in range(per_block):
            if bits >= 8:
                n = bits // 8
                v = int.from_bytes(blk[j * n:(j + 1) * n], "big")
            else:
                byte = blk[j * bits // 8]
                v = (byte >> (j * bits % 8)) & ((1 << bits) - 1)
            if v:
                refs[i * per_block + j] = v
        del val
    img.close()
    return refs


def clusters_of(a, cs):
    if a["size"] == 0:
        return set()
    return set(range(a["offset"] // cs, (a["offset"] + a["size"] - 1) // cs + 1))


def metadata_clusters(v, cs):
    allocs = [v["qcow2-header"]["location"], v["refcount-table"]["location"]]
    allocs += v["refcount-table"].get("refcount-blocks", [])
    l1s = [v["active-l1"]] + v.get("snapshot-table", {}).get("l1-list", [])
    for t in l1s:
        allocs.append(t["location"])
        allocs += t["l2-list"]
    if "snapshot-table" in v:
        allocs.append(v["snapshot-table"]["location"])
    if "bitmaps" in v:
        d = v["bitmaps"]["bitmap-dir"]
        allocs.append(d["location"])
        for ent in d["dir-entries"]:
            allocs.append(ent["bitmap-table"]["location"])
            for te in ent["bitmap-table"]["table-entries"]:
                if "cluster" in te:
                    allocs.append(te["cluster"])
    if "crypt-header" in v:
        allocs.append(v["crypt-header"]["location"])
    out = set()
    for a in allocs:
        out |= clusters_of(a, cs)
    return out


def data_clusters(path, h, v):
    """Host clusters the L2 tables of all L1 tables point at."""
    if h.incompatible_features & 4:          # external data file
        return set()
    img = q.Image(path)
    cs = h.cluster_size
    ext = bool(h.incompatible_features & 16)
    esize = 16 if ext else 8
    out = set()
    x = 62 - (h.cluster_bits - 8)
    l1s = [v["active-l1"]] + v.get("snapshot-table", {}).get("l1-list", [])
    for t in l1s:
        for l2 in t["l2-list"]:
            raw = img.read(l2["offset"], cs)
            for i in range(0, cs, esize):
                (e,) = struct.unpack_from(">Q", raw, i)
                if e & (1 << 62):
                    off = e & ((1 << x) - 1)
                    nsect = (e >> x) & ((1 << (h.cluster_bits - 8)) - 1)
                    end = (off & ~511) + (nsect + 1) * 512
                    out |= set(range(off // cs, (end - 1) // cs + 1))
                else:
                    off = e & 0x00FFFFFFFFFFFE00
                    if off:
                        out.add(off // cs)
    img.close()
    return out


def info(path, cwd, extra):
    argv = [REF_QEMU_IMG, "info", "--output=json", "-U"]
    if extra:
        argv += [a for a in extra if a not in ("--image-opts",)]
        argv = [REF_QEMU_IMG, "info", "--output=json", "-U"] + list(extra)
    else:
        argv.append(path)
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if p.returncode:
        return None
    return json.loads(p.stdout)


def test_real(listfile):
    base = os.path.dirname(os.path.abspath(listfile))
    seen = set()
    for line in open(listfile):
        w = shlex.split(line)
        if not w or w[0] in seen:
            continue
        seen.add(w[0])
        name, extra = w[0], w[1:]
        path = os.path.join(base, name)
        inf = info(name, base, extra)
        if inf is None or inf.get("format") != "qcow2":
            continue                            # the reference can't open it
        try:
            v = q.layout(path)
        except Exception as e:                  # noqa: BLE001
            report("real/%s" % name, False, "reader raised %r" % e)
            continue
        img = q.Image(path)
        h = q.read_header(img)
        img.close()
        fs = inf.get("format-specific", {}).get("data", {})
        problems = []
        if inf.get("cluster-size") != v["qcow2-header"]["location"]["size"]:
            problems.append("cluster size %s" % inf.get("cluster-size"))
        want_v = 2 if fs.get("compat") == "0.10" else 3
        if v["qcow2-header"]["version"] != want_v:
            problems.append("version")
        snaps = [s["name"] for s in inf.get("snapshots", [])]
        got_snaps = [t["name"] for t in
                     v.get("snapshot-table", {}).get("l1-list", [])]
        if snaps != got_snaps:
            problems.append("snapshots %r vs info %r" % (got_snaps, snaps))
        bms = [b["name"] for b in fs.get("bitmaps", [])]
        got_bms = [e["bitmap-name"] for e in v.get("bitmaps", {}).get(
            "bitmap-dir", {}).get("dir-entries", [])]
        # info lists the bitmaps only when QEMU loaded them (autoclear
        # bit set); the reader lists whatever the extension points at
        if h.autoclear_features & 1 and bms != got_bms:
            problems.append("bitmaps %r vs info %r" % (got_bms, bms))
        if ("encrypt" in fs) != ("crypt-header" in v):
            problems.append("crypt-header presence")
        report("real/%s vs info" % name, not problems, "; ".join(problems))

        # completeness: needs a clean image by the reference's check
        if not ref_check_clean(name, base, extra):
            continue
        cs = h.cluster_size
        refs = refcount_map(path, h)
        meta = metadata_clusters(v, cs)
        data = data_clusters(path, h, v)
        # the reference ignores refcounts of clusters past the end of
        # the file (no leak reported), so do we
        used = {c for c in refs if c * cs < os.path.getsize(path)}
        missing = sorted(used - meta - data)
        invented = sorted(meta - used)
        why = []
        if missing:
            why.append("refcounted but not located: clusters %s"
                       % missing[:10])
        if invented:
            why.append("located but refcount 0: clusters %s" % invented[:10])
        report("real/%s completeness" % name, not why, "; ".join(why))


def build_small_corpus(d):
    subprocess.run(["bash", os.path.join(HERE, "make-corpus.sh"), d],
                   check=True, env=dict(os.environ, ALSO_OTHER_CORPORA="0"))
    return os.path.join(d, "LIST")


def main(argv):
    global verbose
    args = argv[1:]
    if args[:1] == ["-v"]:
        verbose = True
        args = args[1:]
    tmp = tempfile.mkdtemp(prefix="metadata-unit.")
    try:
        test_synthetic(tmp)
        test_bitmap_entry_classes()
        test_damaged_synthetic(tmp)
        if args:
            listfile = os.path.join(args[0], "LIST")
        else:
            listfile = build_small_corpus(os.path.join(tmp, "corpus"))
        lbase = os.path.dirname(listfile)
        srcs = [os.path.join(lbase, n) for n in
                ("snapshots.qcow2", "bitmaps-mixed.qcow2", "luks.qcow2",
                 "compressed-4k.qcow2", "df-raw.qcow2")]
        srcs += [os.path.join(tmp, "dmg-base.qcow2")]
        test_robustness(tmp, [s for s in srcs if os.path.exists(s)])
        test_real(listfile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % tuple(results))
    return 1 if results[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
