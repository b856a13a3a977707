/*
 * qcow2 image creation.  (Being written.)
 */
#include "block/qcow2.h"

int qcow2_create(const char *filename, QDict *opts, Error **errp)
{
    error_setg(errp, "qcow2 creation is not implemented yet");
    return -ENOTSUP;
}
