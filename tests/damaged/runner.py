#!/usr/bin/env python3
"""Differential runner for the damaged-header corpus (driven by run.sh).

See run.sh for usage.  Builds the corpus in a temporary directory, runs
`qemu-img info` (three modes) and `qemu-img check` over every case with both the binary under
test and the reference, and compares stdout, stderr and exit status byte
for byte.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import shutil
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

MODES = [
    ("fmt", ["-f", "qcow2"]),
    ("probe", []),
    ("json", ["-f", "qcow2", "--output=json"]),
    # check reads what info does not (the snapshot table, for one)
    ("check", ["check", "-f", "qcow2"]),
]
OPEN_PREFIX = b"qemu-img: Could not open '"
SANITIZER_MARKS = (b"AddressSanitizer", b"runtime error:", b"LeakSanitizer")


class Result:
    def __init__(self, rc, out, err, timed_out=False):
        self.rc, self.out, self.err, self.timed_out = rc, out, err, timed_out

    @property
    def signal(self):
        return -self.rc if self.rc < 0 else None

    def status(self):
        if self.timed_out:
            return "timeout"
        if self.rc < 0:
            try:
                return signal.Signals(-self.rc).name
            except ValueError:
                return "signal %d" % -self.rc
        return str(self.rc)

    def transcript(self):
        return ("== exit %s\n== stdout\n" % self.status()).encode() + self.out + \
            b"== stderr\n" + self.err


def run(tool, case, args, cwd, timeout):
    try:
        cmd = args if args[:1] == ["check"] else ["info"] + args
        p = subprocess.run([tool] + cmd + [case], cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as e:
        return Result(-9, e.stdout or b"", e.stderr or b"", timed_out=True)


def diff_lines(ref, ours, limit=30):
    import difflib
    a = ref.transcript().decode("utf-8", "replace").splitlines(True)
    b = ours.transcript().decode("utf-8", "replace").splitlines(True)
    lines = list(difflib.unified_diff(a, b, "reference", "ours", n=2))
    out = "".join(l if l.endswith("\n") else l + "\n\\ no newline\n"
                  for l in lines[:limit])
    if len(lines) > limit:
        out += "... (%d more diff lines)\n" % (len(lines) - limit)
    return out


NO_OPEN_ERROR = "stderr lacks \"qemu-img: Could not open '\""


def has_open_error(err):
    # Normally stderr starts with it, but warnings printed while opening may
    # come first (and QEMU ends some of those without a newline).
    return err.startswith(OPEN_PREFIX) or OPEN_PREFIX in err


def judge(ref, ours, sanitized, check=False):
    """Return the list of reasons ours fails (empty = pass).

    For `check`, a failure need not be an open failure and exit codes 2
    (corruptions) and 3 (leaks) are verdicts too.
    """
    why = []
    ok_rcs = (0, 1, 2, 3) if check else (0, 1)
    ref_crashed = ref.rc < 0
    if ref_crashed:
        # The reference itself crashes here: nothing to compare against.
        # Ours must refuse the image cleanly.
        if ours.rc != 1:
            why.append("reference crashes (%s); ours must exit 1, got %s"
                       % (ref.status(), ours.status()))
        if ours.out:
            why.append("reference crashes; ours must print nothing on stdout")
        if not check and not has_open_error(ours.err):
            why.append(NO_OPEN_ERROR)
    else:
        for name, a, b in (("exit status", ref.rc, ours.rc),
                           ("stdout", ref.out, ours.out),
                           ("stderr", ref.err, ours.err)):
            if a != b:
                why.append(name + " differs")
        if ref.rc == 1 and not check and not has_open_error(ours.err):
            why.append(NO_OPEN_ERROR)
    if ours.timed_out:
        why.append("timed out")
    elif ours.rc < 0:
        why.append("killed by %s" % ours.status())
    elif ours.rc >= 128:
        why.append("exit status %d (a signal death?)" % ours.rc)
    elif ours.rc not in ok_rcs:
        why.append("exit status %d (want one of %s)" % (ours.rc, ok_rcs))
    if sanitized and any(m in ours.err for m in SANITIZER_MARKS):
        why.append("sanitizer report on stderr")
    return why


def md_cell(b):
    s = b.decode("utf-8", "replace").rstrip("\n")
    if not s:
        return ""
    s = s.replace("|", "\\|").replace("\n", "`<br>`")
    s = "`%s`" % s
    if not b.endswith(b"\n"):
        s += " *(no final newline)*"
    return s


FLAG_LINES = ("corrupt: true", "cleanly shut down: no", "encrypted: yes",
              "lazy refcounts: true", "extended l2: true")


def print_table(cases, results):
    print("| # | Case | Fixture | Change | Exit | `info -f qcow2` stderr "
          "| `info` (probing) | `--output=json` |")
    print("|---|---|---|---|---|---|---|---|")
    n = 0
    for name, fixture, desc in cases:
        f = results.get((name, "fmt"))
        if f is None:
            continue
        n += 1
        if f.rc < 0:
            msg = "**reference crashes (%s)**" % f.status()
        elif f.err:
            msg = md_cell(f.err)
        else:
            msg = "opens" if f.rc == 0 else ""
        if f.rc == 0:
            text = f.out.decode("utf-8", "replace")
            flags = [l.strip() for l in text.splitlines() if l.strip() in FLAG_LINES]
            if flags:
                msg += " (" + ", ".join(flags) + ")"
            if f.err:
                msg = "opens; warns " + msg
        p = results.get((name, "probe"))
        if p is None:
            probe = ""
        elif p.rc == 0:
            fmt = [l.split(": ", 1)[1] for l in
                   p.out.decode("utf-8", "replace").splitlines()
                   if l.startswith("file format: ")]
            probe = "opens as %s" % (fmt[0] if fmt else "?")
            if p.err:
                probe += "; warns " + md_cell(p.err)
        elif p.rc == f.rc and p.err == f.err:
            probe = "same"
        else:
            probe = "exit %s %s" % (p.status(), md_cell(p.err))
        j = results.get((name, "json"))
        if j is None:
            js = ""
        elif j.rc == f.rc and j.err == f.err:
            js = "same"
        else:
            js = "exit %s %s" % (j.status(), md_cell(j.err))
        print("| %d | `%s` | %s | %s | %s | %s | %s | %s |" % (
            n, name, fixture, desc.replace("|", "\\|"), f.status(), msg,
            probe, js))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="run.sh", description=__doc__)
    ap.add_argument("-v", action="store_true", help="list every test")
    ap.add_argument("-k", "--keep", action="store_true",
                    help="keep the corpus directory")
    ap.add_argument("--table", action="store_true",
                    help="print the reference's behaviour as Markdown")
    ap.add_argument("-j", type=int, default=os.cpu_count() or 2,
                    help="parallel invocations (default: CPUs)")
    ap.add_argument("filters", nargs="*",
                    help="run only tests whose CASE/MODE contains one of these")
    a = ap.parse_args(argv)

    ours = os.environ.get("QEMU_IMG") or os.path.join(REPO, "build", "qemu-img")
    ref = os.environ.get("REF_QEMU_IMG") or "/usr/bin/qemu-img"
    sanitized = os.environ.get("SANITIZED") == "1"
    timeout = float(os.environ.get("TIMEOUT", "30"))

    def bail(msg):
        print("run.sh: " + msg, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    if not os.access(ref, os.X_OK):
        return bail("reference %s not executable" % ref)
    ours = os.path.abspath(ours)
    if not a.table and not os.access(ours, os.X_OK):
        return bail("binary under test %s not found (set QEMU_IMG)" % ours)

    work = tempfile.mkdtemp(prefix="qcow2-damaged.")
    try:
        corpus = os.path.join(work, "corpus")
        mk = subprocess.run([sys.executable, os.path.join(HERE, "make-corpus.py"),
                             "--qemu-img", ref, corpus],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if mk.returncode != 0:
            sys.stderr.write(mk.stdout.decode("utf-8", "replace"))
            return bail("building the corpus failed")
        cases = []
        with open(os.path.join(corpus, "cases.tsv")) as f:
            for line in f:
                cases.append(tuple(line.rstrip("\n").split("\t")))

        tests = [(c[0], m, args) for c in cases for m, args in MODES
                 if not a.filters or any(flt in "%s/%s" % (c[0], m)
                                          for flt in a.filters)]
        tools = [ref] if a.table else [ref, ours]
        jobs = [(t, tool) for t in tests for tool in tools]
        with ThreadPoolExecutor(max_workers=max(1, a.j)) as ex:
            outs = list(ex.map(lambda j: run(j[1], j[0][0], j[0][2], corpus,
                                             timeout), jobs))
        got = {(t[0], t[1], tool): r for (t, tool), r in zip(jobs, outs)}

        if a.table:
            print_table(cases, {(t[0], t[1]): got[(t[0], t[1], ref)]
                                for t in tests})
            return 0

        desc = {c[0]: "%s: %s" % (c[1], c[2]) for c in cases}
        self_test = os.path.realpath(ours) == os.path.realpath(ref)
        passed = failed = 0
        for name, mode, _ in tests:
            r, o = got[(name, mode, ref)], got[(name, mode, ours)]
            if self_test and r.rc < 0:
                # checking the reference against itself: a reference crash
                # is a known QEMU bug, not a harness problem
                print("SKIP %s/%s (reference crashes: %s)" % (name, mode, r.status()))
                continue
            why = judge(r, o, sanitized, mode == "check")
            tname = "%s/%s" % (name, mode)
            if why:
                failed += 1
                print("FAIL %s (%s): %s" % (tname, desc[name], "; ".join(why)))
                if r.rc < 0:
                    # nothing to diff against: show what ours printed
                    text = o.transcript().decode("utf-8", "replace")
                    sys.stdout.write("".join(text.splitlines(True)[:30]))
                    if not text.endswith("\n"):
                        sys.stdout.write("\n")
                else:
                    sys.stdout.write(diff_lines(r, o))
            else:
                passed += 1
                if a.v:
                    note = " (reference crashes: %s)" % r.status() if r.rc < 0 else ""
                    print("PASS %s%s" % (tname, note))
        sys.stdout.flush()
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    finally:
        if a.keep:
            print("corpus kept in %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
