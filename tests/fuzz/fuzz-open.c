/*
 * Fuzz target: opening an image (header, header extensions, feature
 * table, snapshot table, bitmap directory, LUKS header, backing chain),
 * with the open flags of each command.
 */
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int flags[] = {
        BDRV_O_NO_BACKING | BDRV_O_NO_IO,   /* info */
        BDRV_O_CHECK,                       /* check */
        0,                                  /* map, convert: with backing */
        BDRV_O_HAS_KEY,                     /* a key was named */
    };

    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        bdrv_unref(fuzz_open(data, size, i ? "qcow2" : NULL, flags[i]));
    }
    return 0;
}
