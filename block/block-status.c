/*
 * Block status: which parts of an image hold data, read as zeros, or
 * are left to the backing file.  The rules (what a layer that does not
 * allocate a range means, how a format's answer is refined by its
 * protocol's holes, where EOF is reported) are QEMU 7.2's, because
 * `qemu-img map` prints them.
 */
#include "block/block_int.h"

/*
 * The length the block layer works with: QEMU counts whole 512-byte
 * sectors, so a protocol node's length is its file size rounded up.
 */
static int64_t bs_status_length(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs);

    if (len >= 0 && bs->drv->is_protocol) {
        if (len > INT64_MAX - (BDRV_SECTOR_SIZE - 1)) {
            return -EFBIG;
        }
        len = QEMU_ALIGN_UP(len, BDRV_SECTOR_SIZE);
    }
    return len;
}

static int refine_by_file(int ret, BlockDriverState *file, int64_t map,
                          int64_t *pnum);

/*
 * One layer's status (QEMU's bdrv_co_block_status): @want_zero asks
 * for holes and zeros to be found, at some cost.
 */
static int do_block_status(BlockDriverState *bs, bool want_zero,
                           int64_t offset, int64_t bytes, int64_t *pnum,
                           int64_t *map, BlockDriverState **file,
                           Error **errp)
{
    int64_t total = bs_status_length(bs);
    int64_t local_map = 0;
    BlockDriverState *local_file = NULL;
    int ret;

    *pnum = 0;
    if (total < 0) {
        error_setg_errno(errp, (int)-total, "Could not get the image size");
        return (int)total;
    }
    if (offset < 0 || bytes < 0) {
        error_setg(errp, "Invalid block status request");
        return -EINVAL;
    }
    if (offset >= total) {
        ret = BDRV_BLOCK_EOF;
        goto early_out;
    }
    if (!bytes) {
        ret = 0;
        goto early_out;
    }
    bytes = MIN(bytes, total - offset);

    if (!bs->drv->co_block_status || (!want_zero && bs->drv->is_protocol)) {
        /* Everything is data; a protocol's data is where it says. */
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
        if (bs->drv->is_protocol) {
            ret |= BDRV_BLOCK_OFFSET_VALID;
            local_map = offset;
            local_file = bs;
        }
        goto out;
    }

    ret = bs->drv->co_block_status(bs, offset, bytes, pnum, &local_map,
                                   &local_file, errp);
    if (ret < 0) {
        *pnum = 0;
        return ret;
    }
    if (*pnum <= 0) {
        error_setg(errp, "Block status of '%s' made no progress",
                   bs->filename);
        *pnum = 0;
        return -EIO;
    }
    *pnum = MIN(*pnum, bytes);

    if (ret & BDRV_BLOCK_RAW) {
        /* The format passes the range through: ask its file. */
        g_assert(local_file && (ret & BDRV_BLOCK_OFFSET_VALID));
        ret = do_block_status(local_file, want_zero, local_map, *pnum,
                              pnum, &local_map, &local_file, errp);
        if (ret < 0) {
            return ret;
        }
        goto out;
    }

    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    } else if (!bs->backing) {
        ret |= BDRV_BLOCK_ZERO;
    } else if (want_zero) {
        /* Past the end of a shorter backing file, reads are zeros. */
        int64_t size2 = bdrv_getlength(bs->backing);

        if (size2 >= 0 && offset >= size2) {
            ret |= BDRV_BLOCK_ZERO;
        }
    }

    if (want_zero && (ret & BDRV_BLOCK_RECURSE) && local_file &&
        local_file != bs && (ret & BDRV_BLOCK_DATA) &&
        !(ret & BDRV_BLOCK_ZERO) && (ret & BDRV_BLOCK_OFFSET_VALID)) {
        ret = refine_by_file(ret, local_file, local_map, pnum);
    }
    ret &= ~BDRV_BLOCK_RECURSE;

out:
    if (offset + *pnum == total) {
        ret |= BDRV_BLOCK_EOF;
    }
early_out:
    if (file) {
        *file = local_file;
    }
    if (map) {
        *map = local_map;
    }
    return ret;
}

/*
 * A format's data range that its driver asks to refine (RECURSE, qcow2
 * with preallocated metadata): holes of the protocol file read as
 * zeros.  Errors are ignored, as 7.2 does: this only adds detail.
 */
static int refine_by_file(int ret, BlockDriverState *file, int64_t map,
                          int64_t *pnum)
{
    int64_t file_pnum;
    int ret2 = do_block_status(file, true, map, *pnum, &file_pnum, NULL,
                               NULL, NULL);

    if (ret2 < 0) {
        return ret;
    }
    if ((ret2 & BDRV_BLOCK_EOF) &&
        (!file_pnum || (ret2 & BDRV_BLOCK_ZERO))) {
        /*
         * The file ends in a hole or before the range: a format may map
         * past its file's end, and that reads as zeros.
         */
        return ret | BDRV_BLOCK_ZERO;
    }
    *pnum = file_pnum;
    return ret | (ret2 & BDRV_BLOCK_ZERO);
}

int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file,
                      Error **errp)
{
    return do_block_status(bs, true, offset, bytes, pnum, map, file, errp);
}

/*
 * The chain walk (QEMU's bdrv_co_common_block_status_above, without a
 * base of its own): layers below @bs are asked only for the range the
 * layers above left unallocated.
 */
static int status_above(BlockDriverState *bs, BlockDriverState *base,
                        bool want_zero, int64_t offset, int64_t bytes,
                        int64_t *pnum, int64_t *map,
                        BlockDriverState **file, int *depth, Error **errp)
{
    BlockDriverState *p;
    int64_t eof = 0;
    int ret;

    *depth = 0;
    if (bs == base) {
        *pnum = bytes;
        return 0;
    }
    ret = do_block_status(bs, want_zero, offset, bytes, pnum, map, file,
                          errp);
    if (ret < 0 || *pnum == 0 || (ret & BDRV_BLOCK_ALLOCATED)) {
        return ret;
    }
    if (ret & BDRV_BLOCK_EOF) {
        eof = offset + *pnum;
    }
    bytes = *pnum;
    for (p = bs->backing; p && p != base; p = p->backing) {
        ++*depth;
        ret = do_block_status(p, want_zero, offset, bytes, pnum, map, file,
                              errp);
        if (ret < 0) {
            return ret;
        }
        if (*pnum == 0) {
            /*
             * A shorter layer: the zeros past its end belong to it, as
             * if allocated there.
             */
            *pnum = bytes;
            if (file) {
                *file = p;
            }
            ret = BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED;
            break;
        }
        if (ret & BDRV_BLOCK_ALLOCATED) {
            /* This layer's EOF is not the top's. */
            ret &= ~BDRV_BLOCK_EOF;
            break;
        }
        bytes = *pnum;
    }
    if (!(ret & BDRV_BLOCK_ALLOCATED)) {
        *depth = 0;
        for (p = bs; p && p != base; p = p->backing) {
            ++*depth;
        }
    }
    if (offset + *pnum == eof) {
        ret |= BDRV_BLOCK_EOF;
    }
    return ret;
}

int bdrv_block_status_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            int64_t *map, BlockDriverState **file,
                            int *depth, Error **errp)
{
    int dummy;

    return status_above(bs, base, true, offset, bytes, pnum, map, file,
                        depth ? depth : &dummy, errp);
}

int bdrv_is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, Error **errp)
{
    int ret = do_block_status(bs, false, offset, bytes, pnum, NULL, NULL,
                              errp);

    if (ret < 0) {
        return ret;
    }
    return !!(ret & BDRV_BLOCK_ALLOCATED);
}

int bdrv_is_allocated_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            Error **errp)
{
    int depth;
    int ret = status_above(bs, base, false, offset, bytes, pnum, NULL, NULL,
                           &depth, errp);

    if (ret < 0) {
        return ret;
    }
    return !!(ret & BDRV_BLOCK_ALLOCATED);
}
