/*
 * qcow2 guest writes.  (Being written.)
 */
#include "block/qcow2.h"

int qcow2_co_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const void *buf, Error **errp)
{
    error_setg(errp, "qcow2 writes are not implemented yet");
    return -ENOTSUP;
}

int qcow2_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, int flags, Error **errp)
{
    error_setg(errp, "qcow2 writes are not implemented yet");
    return -ENOTSUP;
}

int qcow2_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      Error **errp)
{
    return 0;
}

int qcow2_co_flush(BlockDriverState *bs, Error **errp)
{
    return 0;
}

int qcow2_co_truncate(BlockDriverState *bs, int64_t offset, Error **errp)
{
    error_setg(errp, "qcow2 resize is not implemented yet");
    return -ENOTSUP;
}
