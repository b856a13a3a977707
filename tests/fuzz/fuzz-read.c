/*
 * Fuzz target: guest reads through the chain (normal, zero, compressed
 * and unallocated clusters, subclusters, data files, backing files):
 * the start of the disk, then the start of each extent block status
 * finds, at most FUZZ_MAX_READ bytes in all.
 */
#include "fuzz-common.h"

static int64_t read_at(BlockDriverState *bs, uint8_t *buf, int64_t offset,
                       int64_t bytes)
{
    Error *err = NULL;

    if (bdrv_pread(bs, offset, bytes, buf, &err) == 0) {
        fprintf(fuzz_sink(), "read %" PRId64 "+%" PRId64 ": %02x\n",
                offset, bytes, buf[0]);
    } else {
        fprintf(fuzz_sink(), "read %" PRId64 "+%" PRId64 ": %s\n",
                offset, bytes, error_get_pretty(err));
    }
    error_free(err);
    return bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    BlockDriverState *bs = fuzz_open(data, size, "qcow2", 0);
    g_autofree uint8_t *buf = NULL;
    int64_t length, offset = 0, total = 0;

    if (!bs) {
        return 0;
    }
    length = bdrv_getlength(bs);
    buf = g_malloc(FUZZ_READ_CHUNK);
    if (length > 0) {
        /* Unaligned on purpose: partial clusters and sectors. */
        total += read_at(bs, buf, 0, MIN(length, FUZZ_READ_CHUNK));
        total += read_at(bs, buf, length / 2 + 1,
                         MIN(length - length / 2 - 1, 4097));
    }
    for (int steps = 0; offset < length && steps < FUZZ_MAX_STEPS &&
         total < FUZZ_MAX_READ; steps++) {
        int64_t pnum = 0, map = 0;
        Error *err = NULL;
        int ret = bdrv_block_status_above(bs, NULL, offset, length - offset,
                                          &pnum, &map, NULL, NULL, &err);

        error_free(err);
        if (ret < 0 || pnum <= 0) {
            break;
        }
        if (ret & BDRV_BLOCK_ALLOCATED) {
            total += read_at(bs, buf, offset, MIN(pnum, FUZZ_READ_CHUNK));
        }
        offset += pnum;
    }
    bdrv_unref(bs);
    return 0;
}
