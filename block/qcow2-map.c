/*
 * qcow2 block status.  (Being written.)
 */
#include "block/qcow2.h"

int qcow2_co_block_status(BlockDriverState *bs, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockDriverState **file, Error **errp)
{
    error_setg(errp, "qcow2 block status is not implemented yet");
    return -ENOTSUP;
}
