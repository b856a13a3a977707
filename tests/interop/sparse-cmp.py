#!/usr/bin/env python3
"""sparse-cmp.py A B: exit 0 when the files hold the same bytes.

Holes read as zeros and only data extents (SEEK_DATA/SEEK_HOLE) of
either file are read, so sparse terabyte images compare quickly.
"""
import os
import sys


def extents(fd, size):
    out, off = [], 0
    while off < size:
        try:
            data = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        out.append((data, hole))
        off = hole
    return out


def main():
    fa, fb = (os.open(n, os.O_RDONLY) for n in sys.argv[1:3])
    size = os.fstat(fa).st_size
    if size != os.fstat(fb).st_size:
        return 1
    for start, end in extents(fa, size) + extents(fb, size):
        while start < end:
            n = min(end - start, 1 << 20)
            if os.pread(fa, n, start) != os.pread(fb, n, start):
                return 1
            start += n
    return 0


sys.exit(main())
