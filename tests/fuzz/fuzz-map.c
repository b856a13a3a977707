/*
 * Fuzz target: `qemu-img map` (block status of each layer in turn, as it
 * walks the chain) and qemu-io's `map` (allocation through the chain),
 * over the whole disk, at most FUZZ_MAX_STEPS calls each.
 */
#include "fuzz-common.h"

/* qemu-img map: from the top, the first layer with data or zeros. */
static void walk_layers(BlockDriverState *top, int64_t length)
{
    int64_t offset = 0;

    for (int steps = 0; offset < length && steps < FUZZ_MAX_STEPS; ) {
        BlockDriverState *bs = top, *file = NULL;
        int64_t pnum = 0, map = 0;
        int ret;

        for (;;) {
            Error *err = NULL;

            steps++;
            ret = bdrv_block_status(bs, offset, length - offset, &pnum, &map,
                                    &file, &err);
            error_free(err);
            if (ret < 0 || pnum <= 0) {
                return;
            }
            g_assert(pnum <= length - offset);
            if ((ret & (BDRV_BLOCK_ZERO | BDRV_BLOCK_DATA)) ||
                !(bs = bdrv_backing(bs))) {
                break;
            }
        }
        if (file && (ret & BDRV_BLOCK_OFFSET_VALID)) {
            fprintf(fuzz_sink(), "%s", bdrv_get_filename(file));
        }
        offset += pnum;
    }
}

/* Status through the chain, and qemu-io's map. */
static void walk_above(BlockDriverState *top, int64_t length)
{
    int64_t offset = 0;

    for (int steps = 0; offset < length && steps < FUZZ_MAX_STEPS; steps++) {
        BlockDriverState *file = NULL;
        int64_t pnum = 0, map = 0, pnum2 = 0;
        int depth = 0, ret;
        Error *err = NULL;

        ret = bdrv_block_status_above(top, NULL, offset, length - offset,
                                      &pnum, &map, &file, &depth, &err);
        error_free(err);
        err = NULL;
        if (ret < 0 || pnum <= 0) {
            return;
        }
        g_assert(pnum <= length - offset);
        ret = bdrv_is_allocated_above(top, NULL, offset, length - offset,
                                      &pnum2, &err);
        error_free(err);
        if (ret >= 0) {
            g_assert(pnum2 > 0 && pnum2 <= length - offset);
        }
        offset += pnum;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BlockDriverState *bs = fuzz_open(data, size, "qcow2", 0);
    int64_t length;

    if (!bs) {
        return 0;
    }
    length = bdrv_getlength(bs);
    if (length > 0) {
        walk_layers(bs, length);
        walk_above(bs, length);
    }
    bdrv_unref(bs);
    return 0;
}
