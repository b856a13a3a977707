/* Fuzz target: `qemu-img check` without -r (nothing is written). */
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BlockDriverState *bs = fuzz_open(data, size, "qcow2", BDRV_O_CHECK);
    BdrvCheckResult res;
    Error *err = NULL;

    if (!bs) {
        return 0;
    }
    bdrv_check(bs, &res, 0, NULL, &err);
    error_free(err);
    qapi_free_Qcow2Metadata(res.metadata);
    bdrv_unref(bs);
    return 0;
}
