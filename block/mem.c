/*
 * The "mem" protocol: a read-only image file held in a caller's buffer,
 * for the fuzz targets (tests/fuzz).  It is linked into the fuzz and
 * replay programs only, and is neither in the driver registry nor
 * reachable from a file name given to the tools: bdrv_open_mem() installs
 * it as the block layer's protocol override for the whole process.
 *
 * Names: "mem:OFFSET" (decimal, at most the buffer's length) is the part
 * of the current buffer from OFFSET to its end.  The image itself is
 * "mem:0"; a backing file or an external data file named "mem:OFFSET"
 * lets one input hold a whole backing chain.
 */
#include "block/block_int.h"

typedef struct BDRVMemState {
    const uint8_t *buf;
    uint64_t len;
} BDRVMemState;

/* The buffer names resolve against (set by bdrv_open_mem()). */
static const uint8_t *mem_buf;
static size_t mem_len;

/*
 * The block layer refuses a backing loop only when the chain is 256
 * images deep, each open of a hostile image costing up to tens of MiB:
 * a loop inside one input would drown every target in that.  So one
 * bdrv_open_mem() opens no part of its buffer more than twice (an
 * image may be its own data file); the block layer's own answer to
 * loops is docs/security.md's business, not the fuzzers'.
 */
#define MEM_MAX_OPENS_PER_NAME 2
static GHashTable *mem_opens;   /* offset -> times opened */

static int mem_parse_name(const char *name, uint64_t *offset)
{
    const char *p;
    uint64_t v = 0;

    if (!g_str_has_prefix(name, "mem:") || !name[4]) {
        return -1;
    }
    for (p = name + 4; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > mem_len) {
        return -1;
    }
    *offset = v;
    return 0;
}

static int mem_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    BDRVMemState *s = bs->opaque;
    uint64_t offset;

    if (mem_parse_name(bs->filename, &offset) < 0) {
        error_setg(errp, "Could not open '%s': No such file or directory",
                   bs->filename);
        return -ENOENT;
    }
    if (flags & BDRV_O_RDWR) {
        error_setg(errp, "Could not open '%s': Read-only file system",
                   bs->filename);
        return -EROFS;
    }
    if (mem_opens) {
        gpointer key = GSIZE_TO_POINTER((gsize)offset);
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(mem_opens, key));

        if (n >= MEM_MAX_OPENS_PER_NAME) {
            error_setg(errp, "Could not open '%s': opened %d times already "
                       "(a backing loop?)", bs->filename, n);
            return -ELOOP;
        }
        g_hash_table_insert(mem_opens, key, GUINT_TO_POINTER(n + 1));
    }
    s->buf = mem_buf + offset;
    s->len = mem_len - offset;
    return 0;
}

static int64_t mem_getlength(BlockDriverState *bs)
{
    BDRVMemState *s = bs->opaque;

    return (int64_t)s->len;
}

/* Bytes past the end read as zeros, as a host file's do. */
static int mem_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     void *buf, Error **errp)
{
    BDRVMemState *s = bs->opaque;
    uint64_t avail;

    /* The range is valid: bdrv_file_pread() checked it. */
    avail = (uint64_t)offset >= s->len ? 0
            : MIN((uint64_t)bytes, s->len - (uint64_t)offset);
    if (avail) {
        memcpy(buf, s->buf + offset, avail);
    }
    memset((uint8_t *)buf + avail, 0, (uint64_t)bytes - avail);
    return 0;
}

/* All data up to the end, a hole after it. */
static int mem_co_block_status(BlockDriverState *bs, int64_t offset,
                               int64_t bytes, int64_t *pnum, int64_t *map,
                               BlockDriverState **file, Error **errp)
{
    BDRVMemState *s = bs->opaque;
    int ret;

    if ((uint64_t)offset >= s->len) {
        *pnum = bytes;
        ret = BDRV_BLOCK_ZERO;
    } else {
        *pnum = (int64_t)MIN((uint64_t)bytes, s->len - (uint64_t)offset);
        ret = BDRV_BLOCK_DATA;
    }
    *map = offset;
    *file = bs;
    return ret | BDRV_BLOCK_OFFSET_VALID;
}

static const BlockDriver bdrv_mem = {
    .format_name = "file",      /* what `info` and `map` print */
    .instance_size = sizeof(BDRVMemState),
    .is_protocol = true,
    .open = mem_open,
    .getlength = mem_getlength,
    .get_allocated_file_size = mem_getlength,
    .pread = mem_pread,
    .co_block_status = mem_co_block_status,
};

static BlockDriverState *mem_open_protocol(const char *filename, int flags,
                                           Error **errp)
{
    BlockDriverState *bs = g_new0(BlockDriverState, 1);

    bs->drv = &bdrv_mem;
    bs->opaque = g_malloc0(sizeof(BDRVMemState));
    bs->filename = g_strdup(filename);
    bs->open_flags = flags;
    bs->read_only = true;
    if (mem_open(bs, NULL, flags, errp) < 0) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

BlockDriverState *bdrv_open_mem(const void *buf, size_t len, const char *fmt,
                                int flags, Error **errp)
{
    static const uint8_t empty;
    BlockDriverState *bs;

    mem_buf = buf ? buf : &empty;   /* no arithmetic on NULL */
    mem_len = buf ? len : 0;
    bdrv_protocol_override = mem_open_protocol;
    mem_opens = g_hash_table_new(NULL, NULL);
    bs = bdrv_open("mem:0", fmt, NULL, flags, errp);
    g_clear_pointer(&mem_opens, g_hash_table_destroy);
    return bs;
}
