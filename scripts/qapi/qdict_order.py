"""The order in which QEMU's QDict iterates keys, at generation time.

QEMU prints a JSON object in the iteration order of the QDict holding
it: buckets in ascending order of hash(key) % 512, and inside a bucket
the key inserted last first.  qobject/qdict.c reproduces that at run
time; the emitters (gen_emit.py) print straight from C values without
a QDict, so they need the same order when they are generated.  This is
the only copy of the hash in Python: anything else that needs the
order must import it from here.  tests/unit/test-qapi-emit.c checks
the generated order against qobject/qdict.c.
"""

# QDICT_BUCKET_MAX in include/qobject/qdict.h (QEMU's QDICT_BUCKET_MAX).
BUCKETS = 512

_MASK = 0xffffffff


def qdict_hash(key):
    """QEMU's QDict hash of @key (tdb's, from gdbm): unsigned 32-bit
    arithmetic, as qdict_hash() in qobject/qdict.c computes it."""
    data = key.encode('utf-8')
    value = (0x238F13AF * len(data)) & _MASK
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & _MASK
    return (1103515243 * value + 12345) & _MASK


def qdict_order(keys):
    """The distinct @keys, given in insertion order, in the order a
    QDict iterates them.  A key left out of the QDict (an absent
    optional member) does not move the others: each key's position
    depends only on its bucket and on the keys inserted after it in
    the same bucket."""
    indexed = list(enumerate(keys))
    indexed.sort(key=lambda item: (qdict_hash(item[1]) % BUCKETS,
                                   -item[0]))
    return [key for _, key in indexed]
