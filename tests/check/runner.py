#!/usr/bin/env python3
"""Differential `qemu-img check` test runner (see run.sh for usage)."""

import concurrent.futures
import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

QEMU_IMG = os.environ.get("QEMU_IMG", os.path.join(REPO, "build", "qemu-img"))
REF = os.environ.get("REF_QEMU_IMG", "/usr/bin/qemu-img")
SANITIZED = os.environ.get("SANITIZED", "") not in ("", "0")
TIMEOUT = float(os.environ.get("TIMEOUT", "30"))
SAN_PATTERNS = (b"AddressSanitizer", b"runtime error:", b"LeakSanitizer")

MODES = (
    ("human", []),
    ("json", ["--output=json"]),
    ("quiet", ["-f", "qcow2", "-q"]),
    ("quiet-json", ["-q", "--output=json"]),
)

# name -> (argv after "check", image file to copy into the cwd or None)
USAGE = [
    ("usage/no-file", [], None),
    ("usage/bad-repair", ["-r", "foo", "x"], None),
    ("usage/bad-output", ["--output=xml", "x"], None),
    ("usage/raw-probe", ["raw.img"], "raw.img"),
    ("usage/raw-fmt", ["-f", "raw", "raw.img"], "raw.img"),
    ("usage/raw-json", ["--output=json", "raw.img"], "raw.img"),
    ("usage/nonexistent", ["nonexistent.qcow2"], None),
    ("usage/nonexistent-json", ["--output=json", "nonexistent.qcow2"], None),
    ("usage/two-files", ["fix-base.qcow2", "fix-base.qcow2"],
     "fix-base.qcow2"),
    ("usage/bad-format", ["-f", "nosuchfmt", "fix-base.qcow2"],
     "fix-base.qcow2"),
]


def usage_exit():
    sys.stderr.write("usage: run.sh [-v] [-k] [-j N] [--table] [FILTER...]\n")
    sys.exit(2)


class Env:
    def __init__(self, corpus):
        self.corpus = corpus
        self.pristine = os.path.join(corpus, ".pristine")
        self.jobs = os.path.join(corpus, ".jobs")
        os.makedirs(self.jobs, exist_ok=True)
        self.cases = []
        with open(os.path.join(corpus, "cases.tsv")) as f:
            for line in f:
                if line.strip():
                    name, desc = line.rstrip("\n").split("\t", 1)
                    self.cases.append((name, desc))
        case_files = {n + ".qcow2" for n, _ in self.cases}
        self.side = [f for f in os.listdir(corpus)
                     if f not in case_files and f not in ("cases.tsv",)
                     and not f.startswith(".")]
        # keep pristine copies of every image (cases and side files)
        os.makedirs(self.pristine, exist_ok=True)
        for f in sorted(case_files) + ["raw.img"]:
            shutil.copyfile(os.path.join(corpus, f),
                            os.path.join(self.pristine, f))
        self.counter = 0

    def jobdir(self, image):
        """Fresh directory holding a sparse copy of IMAGE (if any) and
        symlinks to the side files (backing images, data files)."""
        self.counter += 1
        d = tempfile.mkdtemp(dir=self.jobs)
        for f in self.side:
            if f != image:
                os.symlink(os.path.join(self.corpus, f), os.path.join(d, f))
        if image:
            subprocess.run(["cp", "--sparse=always",
                            os.path.join(self.pristine, image),
                            os.path.join(d, image)], check=True)
        return d


def invoke(binary, argv, cwd):
    try:
        p = subprocess.run([binary, "check"] + argv, cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", e.stdout or b"", e.stderr or b""


def render(res):
    rc, out, err = res
    text = "exit: %s\n--- stdout\n%s--- stderr\n%s" % (
        rc, out.decode(errors="replace"), err.decode(errors="replace"))
    return text


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_pair(env, argv, image):
    """Returns (ref result, our result)."""
    d1 = env.jobdir(image)
    d2 = env.jobdir(image)
    ref = invoke(REF, argv, d1)
    ours = invoke(QEMU_IMG, argv, d2)
    shutil.rmtree(d1, ignore_errors=True)
    shutil.rmtree(d2, ignore_errors=True)
    return ref, ours


def diff_test(env, argv, image):
    ref, ours = run_pair(env, argv, image)
    problems = []
    if ref != ours:
        d = list(difflib.unified_diff(
            render(ref).splitlines(), render(ours).splitlines(),
            "reference", "ours", lineterm="", n=2))
        if len(d) > 30:
            d = d[:30] + ["... (%d more diff lines)" % (len(d) - 30)]
        problems.append("\n".join(d))
    if SANITIZED and any(p in ours[2] for p in SAN_PATTERNS):
        problems.append("sanitizer report in stderr:\n" +
                        "\n".join(ours[2].decode(errors="replace")
                                  .splitlines()[:30]))
    return problems


def unchanged_test(env, image):
    d = env.jobdir(image)
    f = os.path.join(d, image)
    before = sha(f)
    rc, out, err = invoke(QEMU_IMG, [image], d)
    after = sha(f)
    shutil.rmtree(d, ignore_errors=True)
    problems = []
    if before != after:
        problems.append("image modified by check without -r "
                        "(sha256 %s -> %s, exit %s)" % (before, after, rc))
    if SANITIZED and any(p in err for p in SAN_PATTERNS):
        problems.append("sanitizer report in stderr")
    return problems


def build_tests(env):
    tests = []
    for name, _ in env.cases:
        img = name + ".qcow2"
        for mode, opts in MODES:
            tests.append(("%s/%s" % (name, mode),
                          lambda o=opts, i=img: diff_test(env, o + [i], i)))
        tests.append(("%s/unchanged" % name,
                      lambda i=img: unchanged_test(env, i)))
    for name, argv, img in USAGE:
        tests.append((name, lambda a=argv, i=img: diff_test(env, a, i)))
    return tests


def table(env, filters):
    out = []
    for name, desc in env.cases:
        if filters and not any(f in name for f in filters):
            continue
        img = name + ".qcow2"
        d = env.jobdir(img)
        rc, so, se = invoke(REF, [img], d)
        shutil.rmtree(d, ignore_errors=True)
        out.append("### %s\n\n%s\n\nexit %s\n" % (name, desc, rc))
        for label, data in (("stderr", se), ("stdout", so)):
            if data:
                out.append("%s:\n```\n%s```\n" % (
                    label, data.decode(errors="replace")))
            else:
                out.append("%s: (empty)\n" % label)
    sys.stdout.write("\n".join(out))


def main(argv):
    verbose = keep = do_table = False
    jobs = os.cpu_count() or 2
    filters = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-v":
            verbose = True
        elif a == "-k":
            keep = True
        elif a == "--table":
            do_table = True
        elif a == "-j":
            i += 1
            if i >= len(argv):
                usage_exit()
            jobs = int(argv[i])
        elif a.startswith("-j") and a[2:].isdigit():
            jobs = int(a[2:])
        elif a.startswith("-") and a != "-":
            usage_exit()
        else:
            filters.append(a)
        i += 1

    corpus = tempfile.mkdtemp(prefix="check-corpus.")
    try:
        p = subprocess.run([sys.executable,
                            os.path.join(HERE, "make-corpus.py"), corpus],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sys.stderr.write(p.stderr.decode(errors="replace"))
        if p.returncode:
            print("corpus build failed")
            print("0 passed, 1 failed")
            return 1
        subprocess.run([REF, "create", "-q", "-f", "raw",
                        os.path.join(corpus, "raw.img"), "1M"], check=True)
        env = Env(corpus)
        if do_table:
            table(env, filters)
            return 0
        tests = [t for t in build_tests(env)
                 if not filters or any(f in t[0] for f in filters)]
        with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as ex:
            results = list(ex.map(lambda t: (t[0], t[1]()), tests))
        passed = failed = 0
        for name, problems in results:
            if problems:
                failed += 1
                print("FAIL %s" % name)
                for pr in problems:
                    print(pr)
            else:
                passed += 1
                if verbose:
                    print("ok   %s" % name)
        if keep:
            print("corpus kept in %s" % corpus)
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    finally:
        if not keep:
            shutil.rmtree(corpus, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
