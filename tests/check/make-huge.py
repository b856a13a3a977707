#!/usr/bin/env python3
"""Writes a qcow2 image whose file holds more than 2^31 host clusters
(qemu-img 7.2's check refuses those with "File too large"): 512-byte
clusters and 1-bit refcounts, so that an 8 MiB refcount table can cover
them.  Guest cluster 0 is stored right after the metadata, guest
cluster 1 at host cluster FAR (past 2^31); both hold a known pattern.
The file is sparse (about 5 MiB on disk, 1 TiB long).

    make-huge.py FILE [leak]

"leak" also gives host cluster FAR + 5, the file's last, a refcount
of 1 with nothing referring to it.  Prints FAR and the file size.
"""
import struct
import sys

CB = 9
CS = 1 << CB
REFS = CS * 8               # 1-bit refcounts per refcount block
FAR = (1 << 31) + 1000
SIZE = 1 << 20              # guest: 1 MiB
PATTERN = (0x5a, 0xa5)


def main():
    path, leak = sys.argv[1], len(sys.argv) > 2 and sys.argv[2] == "leak"
    rt_entries = FAR // REFS + 1
    rt_clusters = -(-rt_entries * 8 // CS)
    rt_off = CS
    l1_off = rt_off + rt_clusters * CS
    l2_off = l1_off + CS
    low_blocks = -(-(l2_off // CS + 8) // REFS)
    rb_off = l2_off + CS                     # low blocks, then the far one
    far_rb_off = rb_off + low_blocks * CS
    data_off = far_rb_off + CS
    used_low = data_off // CS + 1
    assert used_low <= low_blocks * REFS

    rt = bytearray(rt_clusters * CS)
    for i in range(low_blocks):
        struct.pack_into(">Q", rt, i * 8, rb_off + i * CS)
    struct.pack_into(">Q", rt, (FAR // REFS) * 8, far_rb_off)
    low = bytearray(low_blocks * CS)
    for k in range(used_low):
        low[k // 8] |= 1 << (k % 8)
    far = bytearray(CS)
    for k in (FAR, FAR + 5) if leak else (FAR,):
        j = k % REFS
        far[j // 8] |= 1 << (j % 8)
    l1 = bytearray(CS)
    struct.pack_into(">Q", l1, 0, (1 << 63) | l2_off)
    l2 = bytearray(CS)
    struct.pack_into(">Q", l2, 0, (1 << 63) | data_off)
    struct.pack_into(">Q", l2, 8, (1 << 63) | (FAR * CS))
    hdr = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0, CB,
                      SIZE, 0, SIZE // (CS // 8 * CS), l1_off, rt_off,
                      rt_clusters, 0, 0, 0, 0, 0, 0, 104)
    with open(path, "wb") as f:
        for off, buf in ((0, hdr), (rt_off, rt), (l1_off, l1),
                         (l2_off, l2), (rb_off, low), (far_rb_off, far),
                         (data_off, bytes([PATTERN[0]]) * CS),
                         (FAR * CS, bytes([PATTERN[1]]) * CS)):
            f.seek(off)
            f.write(buf)
        f.truncate((FAR + (6 if leak else 1)) * CS)
    print(FAR, (FAR + (6 if leak else 1)) * CS)


if __name__ == "__main__":
    main()
