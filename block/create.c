/*
 * Generic image creation.  (Being written.)
 */
#include "block/block_int.h"

int bdrv_create(const char *fmt, const char *filename, QDict *opts,
                Error **errp)
{
    error_setg(errp, "Image creation is not implemented yet");
    return -ENOTSUP;
}
