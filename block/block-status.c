/*
 * Block status through backing chains.  (Being written.)
 */
#include "block/block_int.h"

int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file,
                      Error **errp)
{
    error_setg(errp, "Block status is not implemented yet");
    return -ENOTSUP;
}

int bdrv_block_status_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            int64_t *map, BlockDriverState **file,
                            int *depth, Error **errp)
{
    error_setg(errp, "Block status is not implemented yet");
    return -ENOTSUP;
}

int bdrv_is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, Error **errp)
{
    error_setg(errp, "Block status is not implemented yet");
    return -ENOTSUP;
}
