/*
 * Generic internal snapshot operations.  (Being written.)
 */
#include "block/block_int.h"

int bdrv_snapshot_create(BlockDriverState *bs, const char *name,
                         Error **errp)
{
    error_setg(errp, "Not implemented yet");
    return -ENOTSUP;
}

int bdrv_snapshot_goto(BlockDriverState *bs, const char *name, Error **errp)
{
    error_setg(errp, "Not implemented yet");
    return -ENOTSUP;
}

int bdrv_snapshot_delete(BlockDriverState *bs, const char *name,
                         Error **errp)
{
    error_setg(errp, "Not implemented yet");
    return -ENOTSUP;
}
