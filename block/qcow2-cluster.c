/*
 * qcow2 guest reads: L1/L2 lookup, zero and unallocated clusters,
 * extended L2 subclusters, compressed clusters, external data files
 * and backing files.
 */
#include <zlib.h>
#ifdef CONFIG_ZSTD
#include <zstd.h>
#endif
#include "qemu/bswap.h"
#include "block/qcow2.h"


/* Reads one L2 entry (and its bitmap with extended L2). */
int qcow2_read_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                        uint64_t index, uint64_t *entry, uint64_t *bitmap,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t raw[L2E_SIZE_EXTENDED];
    int ret;

    if (bs->read_only) {
        /* Nothing changes the tables: a whole one is read and kept. */
        return qcow2_map_l2_entry(bs, l2_offset, index, entry, bitmap, errp);
    }
    ret = bdrv_file_pread(bs->file, l2_offset + index * s->l2_entry_size,
                          s->l2_entry_size, raw, errp);
    if (ret < 0) {
        return ret;
    }
    *entry = ldq_be_p(raw);
    *bitmap = has_subclusters(s) ? ldq_be_p(raw + 8) : 0;
    return 0;
}

static Qcow2SubclusterType classify_std(const BDRVQcow2State *s,
                                        uint64_t entry, uint64_t bitmap,
                                        unsigned sc)
{
    uint64_t offset = entry & L2E_OFFSET_MASK;

    if (has_subclusters(s)) {
        if (bitmap & (1ull << (32 + sc))) {
            return QCOW2_SUBCLUSTER_ZERO;
        }
        return (bitmap & (1ull << sc)) ? QCOW2_SUBCLUSTER_NORMAL
                                       : QCOW2_SUBCLUSTER_UNALLOCATED;
    }
    if (entry & QCOW_OFLAG_ZERO) {
        return QCOW2_SUBCLUSTER_ZERO;
    }
    if (offset || (has_data_file(s) && (entry & QCOW_OFLAG_COPIED))) {
        return QCOW2_SUBCLUSTER_NORMAL;
    }
    return QCOW2_SUBCLUSTER_UNALLOCATED;
}

int qcow2_get_mapping(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                      Qcow2Mapping *map, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_index = offset_to_l1_index(s, offset);
    uint64_t in_cluster = offset_into_cluster(s, offset);
    unsigned sc = in_cluster >> s->subcluster_bits;
    uint64_t l2_offset, entry, bitmap;
    int ret;

    map->bytes = MIN(bytes, s->subcluster_size -
                            (in_cluster & (s->subcluster_size - 1)));
    map->type = QCOW2_SUBCLUSTER_UNALLOCATED;
    if (l1_index >= s->l1_held) {
        return 0;
    }
    l2_offset = s->l1_table[l1_index] & L1E_OFFSET_MASK;
    if (!l2_offset) {
        return 0;
    }
    if (offset_into_cluster(s, l2_offset)) {
        error_setg(errp, "L2 table offset %#" PRIx64 " unaligned (L1 index: "
                   "%#" PRIx64 ")", l2_offset, l1_index);
        return -EIO;
    }
    ret = qcow2_read_l2_entry(bs, l2_offset, offset_to_l2_index(s, offset),
                              &entry, &bitmap, errp);
    if (ret < 0) {
        return ret;
    }
    if (entry & QCOW_OFLAG_COMPRESSED) {
        map->type = QCOW2_SUBCLUSTER_COMPRESSED;
        map->l2_entry = entry;
        map->bytes = MIN(bytes, s->cluster_size - in_cluster);
        return 0;
    }
    map->type = classify_std(s, entry, bitmap, sc);
    if (map->type == QCOW2_SUBCLUSTER_NORMAL) {
        uint64_t host = entry & L2E_OFFSET_MASK;
        if (offset_into_cluster(s, host)) {
            error_setg(errp, QCOW2_UNALIGNED_CLUSTER_FMT, host, l2_offset,
                       offset_to_l2_index(s, offset));
            return -EIO;
        }
        map->host_offset = host + in_cluster;
    }
    return 0;
}

static int decompress_zlib(const uint8_t *src, size_t slen, uint8_t *dst,
                           size_t dlen)
{
    z_stream strm = { 0 };
    int ret;

    /* Raw deflate: no zlib header, 4 KiB window as QEMU writes it. */
    if (inflateInit2(&strm, -12) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)src;
    strm.avail_in = slen;
    strm.next_out = dst;
    strm.avail_out = dlen;
    ret = inflate(&strm, Z_FINISH);
    /* The descriptor rounds up to sectors: trailing bytes are padding. */
    if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && strm.avail_out == 0) {
        ret = 0;
    } else {
        ret = -EIO;
    }
    inflateEnd(&strm);
    return ret;
}

static int decompress_zstd(const uint8_t *src, size_t slen, uint8_t *dst,
                           size_t dlen)
{
#ifdef CONFIG_ZSTD
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    ZSTD_outBuffer out = { dst, dlen, 0 };
    ZSTD_inBuffer in = { src, slen, 0 };
    int ret = 0;

    if (!dctx) {
        return -ENOMEM;
    }
    /* Stream until the cluster is full: padding may follow the frame. */
    while (out.pos < out.size) {
        size_t last_in = in.pos, last_out = out.pos;
        size_t zr = ZSTD_decompressStream(dctx, &out, &in);
        if (ZSTD_isError(zr) ||
            (in.pos == last_in && out.pos == last_out)) {
            ret = -EIO;
            break;
        }
        if (zr == 0 && out.pos < out.size) {
            ret = -EIO;     /* frame ended before the cluster did */
            break;
        }
    }
    ZSTD_freeDCtx(dctx);
    return ret;
#else
    return -ENOTSUP;
#endif
}

static int qcow2_read_compressed(BlockDriverState *bs, uint64_t l2_entry,
                                 uint64_t in_cluster, uint64_t bytes,
                                 uint8_t *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t coffset = l2_entry & s->cluster_offset_mask;
    uint64_t nb_sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
    uint64_t csize = nb_sectors * QCOW2_COMPRESSED_SECTOR_SIZE -
                     (coffset & (QCOW2_COMPRESSED_SECTOR_SIZE - 1));
    g_autofree uint8_t *in = NULL;
    g_autofree uint8_t *out = NULL;
    int ret;

    /* csize < 2 * cluster_size by construction of the descriptor. */
    in = g_malloc(csize);
    out = g_malloc(s->cluster_size);
    ret = bdrv_file_pread(bs->file, coffset, csize, in, errp);
    if (ret < 0) {
        return ret;
    }
    ret = s->compression_type == QCOW2_COMPRESSION_TYPE_ZSTD_ID
          ? decompress_zstd(in, csize, out, s->cluster_size)
          : decompress_zlib(in, csize, out, s->cluster_size);
    if (ret < 0) {
        error_setg(errp, "Could not decompress cluster at host offset %#"
                   PRIx64, coffset);
        return -EIO;
    }
    memcpy(buf, out + in_cluster, bytes);
    return 0;
}

static int qcow2_read_mapped(BlockDriverState *bs, uint64_t offset,
                             const Qcow2Mapping *map, uint8_t *buf,
                             Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    switch (map->type) {
    case QCOW2_SUBCLUSTER_ZERO:
        memset(buf, 0, map->bytes);
        return 0;
    case QCOW2_SUBCLUSTER_UNALLOCATED:
        if (bs->backing) {
            return bdrv_pread(bs->backing, offset, map->bytes, buf, errp);
        }
        memset(buf, 0, map->bytes);
        return 0;
    case QCOW2_SUBCLUSTER_NORMAL:
        return bdrv_file_pread(s->data_file, map->host_offset, map->bytes,
                               buf, errp);
    case QCOW2_SUBCLUSTER_COMPRESSED:
        return qcow2_read_compressed(bs, map->l2_entry,
                                     offset_into_cluster(s, offset),
                                     map->bytes, buf, errp);
    }
    g_assert_not_reached();
}

int qcow2_co_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t *p = buf;

    if (s->broken) {
        error_setg(errp, "No medium found");
        return -ENOMEDIUM;
    }
    if (bs->encrypted) {
        error_setg(errp, "Reading encrypted images is not supported");
        return -ENOTSUP;
    }
    if (has_data_file(s) && !bs->data_file) {
        error_setg(errp, "The external data file could not be opened");
        return -EIO;
    }
    /*
     * Data clusters that follow each other in the file are read with one
     * read (a pending run: [run_host, run_host + run_len) into run_buf).
     */
    uint64_t run_host = 0, run_len = 0;
    uint8_t *run_buf = NULL;

    while (bytes > 0) {
        Qcow2Mapping map;
        int ret = qcow2_get_mapping(bs, offset, bytes, &map, errp);
        if (ret < 0) {
            return ret;
        }
        if (map.type == QCOW2_SUBCLUSTER_NORMAL && run_len &&
            map.host_offset == run_host + run_len) {
            run_len += map.bytes;
        } else {
            if (run_len) {
                ret = bdrv_file_pread(s->data_file, run_host, run_len,
                                      run_buf, errp);
                if (ret < 0) {
                    return ret;
                }
                run_len = 0;
            }
            if (map.type == QCOW2_SUBCLUSTER_NORMAL) {
                run_host = map.host_offset;
                run_len = map.bytes;
                run_buf = p;
            } else {
                ret = qcow2_read_mapped(bs, offset, &map, p, errp);
                if (ret < 0) {
                    return ret;
                }
            }
        }
        p += map.bytes;
        offset += map.bytes;
        bytes -= map.bytes;
    }
    if (run_len) {
        return bdrv_file_pread(s->data_file, run_host, run_len, run_buf,
                               errp);
    }
    return 0;
}
