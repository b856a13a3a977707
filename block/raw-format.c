/*
 * The raw format: guest data is the file, byte for byte.
 */
#include "block/block_int.h"

/* Anything can be raw; the lowest score so any real format wins. */
static int raw_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return 1;
}

static int raw_open(BlockDriverState *bs, QDict *options, int flags,
                    Error **errp)
{
    return 0;
}

/* Whole sectors, rounded up: a 1000-byte file is a 1024-byte disk. */
static int64_t raw_getlength(BlockDriverState *bs)
{
    int64_t len = bdrv_getlength(bs->file);

    return len < 0 ? len : (int64_t)QEMU_ALIGN_UP(len, BDRV_SECTOR_SIZE);
}

static int raw_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      void *buf, Error **errp)
{
    return bdrv_file_pread(bs->file, offset, bytes, buf, errp);
}

static int raw_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const void *buf, Error **errp)
{
    return bdrv_file_pwrite(bs->file, offset, bytes, buf, errp);
}

static int raw_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int flags, Error **errp)
{
    return bdrv_pwrite_zeroes(bs->file, offset, bytes, flags, errp);
}

static int raw_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        Error **errp)
{
    return bdrv_pdiscard(bs->file, offset, bytes, errp);
}

/* The guest range is the file's: its status is the file's (RAW). */
static int raw_co_block_status(BlockDriverState *bs, int64_t offset,
                               int64_t bytes, int64_t *pnum, int64_t *map,
                               BlockDriverState **file, Error **errp)
{
    *pnum = bytes;
    *map = offset;
    *file = bs->file;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int raw_truncate(BlockDriverState *bs, int64_t offset, Error **errp)
{
    return bdrv_file_truncate(bs->file, offset, errp);
}

void bdrv_raw_warn_probed(const BlockDriverState *bs)
{
    error_printf("WARNING: Image format was not specified for '%s' and "
                 "probing guessed raw.\n"
                 "         Automatically detecting the format is "
                 "dangerous for raw images, write operations on block "
                 "0 will be restricted.\n"
                 "         Specify the 'raw' format explicitly to "
                 "remove the restrictions.\n",
                 bdrv_get_filename(bs));
}

const BlockDriver bdrv_raw = {
    .format_name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .getlength = raw_getlength,
    .co_preadv = raw_preadv,
    .co_pwritev = raw_pwritev,
    .co_pwrite_zeroes = raw_pwrite_zeroes,
    .co_pdiscard = raw_pdiscard,
    .co_block_status = raw_co_block_status,
    .co_truncate = raw_truncate,
};
