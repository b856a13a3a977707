/*
 * qcow version 1: recognised so that such files are not mistaken for
 * raw images, validated as far as qemu-img 7.2 does before its first
 * message, then refused: reading them is not implemented.
 */
#include "qemu/bswap.h"
#include "block/block_int.h"

#define QCOW1_MAGIC 0x514649fbu
#define QCOW1_VERSION 1
#define QCOW1_HEADER_SIZE 48
#define QCOW1_MIN_BITS 9
#define QCOW1_MAX_BITS 16

static int qcow1_probe(const uint8_t *buf, size_t len, const char *filename)
{
    if (len >= 8 && ldl_be_p(buf) == QCOW1_MAGIC &&
        ldl_be_p(buf + 4) == QCOW1_VERSION) {
        return 100;
    }
    return 0;
}

static int qcow1_open(BlockDriverState *bs, QDict *options, int flags,
                      Error **errp)
{
    uint8_t h[QCOW1_HEADER_SIZE];
    uint8_t cluster_bits, l2_bits;
    int ret = bdrv_file_pread(bs->file, 0, sizeof(h), h, errp);

    if (ret < 0) {
        return ret;
    }
    if (ldl_be_p(h) != QCOW1_MAGIC) {
        error_setg(errp, "Image not in qcow format");
        return -EINVAL;
    }
    if (ldl_be_p(h + 4) != QCOW1_VERSION) {
        error_setg(errp, "qcow (v%" PRIu32 ") does not support qcow version "
                   "%" PRIu32, QCOW1_VERSION, ldl_be_p(h + 4));
        return -ENOTSUP;
    }
    cluster_bits = h[32];
    l2_bits = h[33];
    if (cluster_bits < QCOW1_MIN_BITS || cluster_bits > QCOW1_MAX_BITS) {
        error_setg(errp, "Cluster size must be between 512 and 64k");
        return -EINVAL;
    }
    if (l2_bits < QCOW1_MIN_BITS - 3 || l2_bits > QCOW1_MAX_BITS - 3) {
        error_setg(errp, "L2 table size must be between 512 and 64k");
        return -EINVAL;
    }
    error_setg(errp, "qcow version 1 images are not supported by this "
               "program; only qcow2 and raw are");
    return -ENOTSUP;
}

const BlockDriver bdrv_qcow = {
    .format_name = "qcow",
    .probe = qcow1_probe,
    .open = qcow1_open,
};
