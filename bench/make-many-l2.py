#!/usr/bin/env python3
"""Writes the largest image qcow2 allows with 512-byte clusters (128 GiB:
the L1 table may not exceed 32 MiB) with every L1 entry pointing to an
L2 table: 4 Mi L2 tables, the "millions of L2 tables" case of
`qemu-img check -M`.  qemu-img 7.2 takes hours to preallocate such an
image; this takes seconds.  The L2 tables are all-zero (unallocated
entries) and left as holes, so the file uses about 50 MiB of disk.

    bench/make-many-l2.py FILE
"""
import struct
import sys

CLUSTER_BITS = 9
CS = 1 << CLUSTER_BITS
L2_ENTRIES = CS // 8
SIZE = 128 << 30
L1_ENTRIES = SIZE // (L2_ENTRIES * CS)
L1_CLUSTERS = L1_ENTRIES * 8 // CS
REFS_PER_BLOCK = CS // 2            # 16-bit refcounts


def layout():
    """Cluster counts of the refcount blocks and table, to a fixpoint."""
    blocks = table = 1
    while True:
        total = 1 + table + L1_CLUSTERS + blocks + L1_ENTRIES
        nb = -(-total // REFS_PER_BLOCK)
        nt = -(-nb * 8 // CS)
        if (nb, nt) == (blocks, table):
            return total, blocks, table
        blocks, table = nb, nt


def main():
    total, blocks, table = layout()
    rt_off = CS
    l1_off = rt_off + table * CS
    rb_off = l1_off + L1_CLUSTERS * CS
    l2_off = rb_off + blocks * CS
    with open(sys.argv[1], "wb") as f:
        hdr = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0,
                          CLUSTER_BITS, SIZE, 0, L1_ENTRIES, l1_off,
                          rt_off, table, 0, 0, 0, 0, 0, 4, 104)
        f.write(hdr.ljust(CS, b"\0"))
        f.write(b"".join(struct.pack(">Q", rb_off + i * CS)
                         for i in range(blocks)).ljust(table * CS, b"\0"))
        copied = 1 << 63
        f.write(b"".join(struct.pack(">Q", copied | (l2_off + i * CS))
                         for i in range(L1_ENTRIES)))
        rc = struct.pack(">H", 1) * total
        f.write(rc.ljust(blocks * CS, b"\0"))
        f.truncate(l2_off + L1_ENTRIES * CS)


if __name__ == "__main__":
    main()
