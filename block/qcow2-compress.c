/*
 * qcow2 compressed cluster writes (qemu-img convert -c, qemu-io write -c).
 *
 * Each guest cluster is compressed on its own (deflate or zstd, as the
 * header's compression type says).  Compressed clusters are packed one
 * after the other into host clusters, byte by byte, and may run from
 * one host cluster into the next when that one is allocated right after
 * it; every host cluster a compressed cluster touches holds one
 * reference for it.  A cluster that does not shrink is written as a
 * normal cluster.  Only unallocated clusters can be written compressed.
 *
 * Crash safety as in qcow2-write.c: the references are taken before the
 * data is written, and the data before the L2 entry points to it.
 */
#include <zlib.h>
#ifdef CONFIG_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif
#include "qemu/bswap.h"
#include "block/qcow2.h"

/*
 * Raw deflate with a 4 KiB window, the stream QEMU reads back.  Returns
 * the compressed length, or -ENOSPC when it would not be shorter than
 * @dlen.
 */
static ssize_t compress_zlib(uint8_t *dst, size_t dlen, const uint8_t *src,
                             size_t slen)
{
    z_stream strm = { 0 };
    ssize_t ret;

    if (deflateInit2(&strm, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return -EIO;
    }
    strm.next_in = (Bytef *)src;
    strm.avail_in = slen;
    strm.next_out = dst;
    strm.avail_out = dlen;
    ret = deflate(&strm, Z_FINISH);
    if (ret == Z_STREAM_END) {
        ret = dlen - strm.avail_out;
    } else {
        ret = ret == Z_OK || ret == Z_BUF_ERROR ? -ENOSPC : -EIO;
    }
    deflateEnd(&strm);
    return ret;
}

static ssize_t compress_zstd(uint8_t *dst, size_t dlen, const uint8_t *src,
                             size_t slen)
{
#ifdef CONFIG_ZSTD
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    ZSTD_outBuffer out = { dst, dlen, 0 };
    ZSTD_inBuffer in = { src, slen, 0 };
    ssize_t ret = -ENOSPC;

    if (!cctx) {
        return -ENOMEM;
    }
    /* One frame, ended at once: it records the content size. */
    for (;;) {
        size_t zr = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end);

        if (ZSTD_isError(zr)) {
            ret = ZSTD_getErrorCode(zr) == ZSTD_error_dstSize_tooSmall
                  ? -ENOSPC : -EIO;
            break;
        }
        if (zr == 0) {
            ret = out.pos;
            break;
        }
        if (out.pos == out.size) {
            break;      /* more output pending, and no room: -ENOSPC */
        }
    }
    ZSTD_freeCCtx(cctx);
    return ret;
#else
    return -ENOTSUP;
#endif
}

/*
 * @size bytes in the image file for compressed data: right after the
 * previous compressed cluster when it fits (or when the next host
 * cluster allocated is the one that follows), else at the start of a
 * new host cluster.  Every host cluster of the range gets a reference.
 */
static int64_t alloc_bytes(BlockDriverState *bs, uint64_t size, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t max = s->refcount_bits == 64 ? UINT64_MAX
                                          : (1ull << s->refcount_bits) - 1;
    uint64_t offset = s->free_byte_offset;
    uint64_t free_in_cluster, first_new;
    int64_t new_cluster;
    int ret;

    g_assert(size > 0 && size <= s->cluster_size);
    if (offset) {
        uint64_t rc;

        ret = qcow2_get_refcount(bs, offset >> s->cluster_bits, &rc, errp);
        if (ret < 0) {
            return ret;
        }
        /* Full, or freed since (a snapshot operation): start afresh. */
        if (rc == max || rc == 0) {
            offset = 0;
        }
    }
    free_in_cluster = offset ? s->cluster_size - offset_into_cluster(s, offset)
                             : 0;
    first_new = UINT64_MAX;     /* host cluster allocated here, if any */
    if (free_in_cluster < size) {
        new_cluster = qcow2_alloc_clusters(bs, s->cluster_size, errp);
        if (new_cluster < 0) {
            return new_cluster;
        }
        first_new = new_cluster >> s->cluster_bits;
        if (!offset ||
            QEMU_ALIGN_UP(offset, s->cluster_size) != (uint64_t)new_cluster) {
            offset = new_cluster;   /* the old tail stays unused */
        }
    }
    /*
     * The new cluster already holds its reference; the others the range
     * touches (the one we continue in) get theirs now.
     */
    for (uint64_t k = offset >> s->cluster_bits;
         k <= (offset + size - 1) >> s->cluster_bits; k++) {
        if (k == first_new) {
            continue;
        }
        ret = qcow2_update_refcount(bs, k << s->cluster_bits, s->cluster_size,
                                    1, errp);
        if (ret < 0) {
            return ret;
        }
    }
    s->free_byte_offset = offset + size;
    if (!offset_into_cluster(s, s->free_byte_offset)) {
        s->free_byte_offset = 0;
    }
    return offset;
}

/* Most threads that compress the clusters of one request. */
#define COMPRESS_MAX_THREADS 8

/* The clusters of one request, compressed (in parallel). */
typedef struct CompressJob {
    const BDRVQcow2State *s;
    const uint8_t *buf;         /* the request's data */
    uint64_t bytes;             /* its length */
    uint64_t nb_clusters;
    uint8_t **out;              /* per cluster: compressed data */
    ssize_t *len;               /* its length, -ENOSPC, or -errno */
    unsigned nb_threads;
} CompressJob;

typedef struct CompressWorker {
    CompressJob *job;
    unsigned first;             /* clusters first, first + nb_threads, ... */
} CompressWorker;

/* Compresses cluster @i of @job (a short last one padded with zeros). */
static void compress_one(CompressJob *job, uint64_t i)
{
    const BDRVQcow2State *s = job->s;
    uint64_t cs = s->cluster_size;
    uint64_t n = MIN(cs, job->bytes - i * cs);
    g_autofree uint8_t *padded = NULL;
    const uint8_t *src = job->buf + i * cs;

    if (n < cs) {
        padded = g_malloc0(cs);
        memcpy(padded, src, n);
        src = padded;
    }
    job->out[i] = g_malloc(cs);
    /* It must come out shorter than a cluster to be worth it. */
    job->len[i] = s->compression_type == QCOW2_COMPRESSION_TYPE_ZSTD_ID
                  ? compress_zstd(job->out[i], cs - 1, src, cs)
                  : compress_zlib(job->out[i], cs - 1, src, cs);
}

static gpointer compress_worker(gpointer opaque)
{
    CompressWorker *w = opaque;

    for (uint64_t i = w->first; i < w->job->nb_clusters;
         i += w->job->nb_threads) {
        compress_one(w->job, i);
    }
    return NULL;
}

/*
 * Compresses every cluster of @job, on up to one thread per processor:
 * the placement that follows is sequential, in guest order, so the file
 * is the same whatever the threads' timing.
 */
static void compress_all(CompressJob *job)
{
    GThread *threads[COMPRESS_MAX_THREADS];
    CompressWorker workers[COMPRESS_MAX_THREADS];
    unsigned started = 1;

    job->nb_threads = MIN(MIN((uint64_t)g_get_num_processors(),
                              COMPRESS_MAX_THREADS), job->nb_clusters);
    job->nb_threads = MAX(job->nb_threads, 1);
    for (unsigned t = 0; t < job->nb_threads; t++) {
        workers[t] = (CompressWorker) { .job = job, .first = t };
    }
    /* Thread 0 is this one; a thread that cannot start is done here. */
    for (unsigned t = 1; t < job->nb_threads; t++) {
        threads[t] = g_thread_try_new("qcow2-compress", compress_worker,
                                      &workers[t], NULL);
        if (!threads[t]) {
            break;
        }
        started++;
    }
    compress_worker(&workers[0]);
    for (unsigned t = 1; t < started; t++) {
        g_thread_join(threads[t]);
    }
    for (unsigned t = started; t < job->nb_threads; t++) {
        compress_worker(&workers[t]);
    }
}

/*
 * One whole guest cluster at @offset (@bytes short only at the end),
 * already compressed into @out (@len bytes, or -ENOSPC when it would
 * not shrink).
 */
static int write_compressed_cluster(BlockDriverState *bs, uint64_t offset,
                                    uint64_t bytes, const uint8_t *buf,
                                    const uint8_t *out, ssize_t len,
                                    Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_offset, entry, bitmap, nb_sectors, new_entry;
    int64_t host;
    int ret;

    if (len == -ENOSPC) {
        return qcow2_co_pwritev(bs, offset, bytes, buf, errp);
    }
    if (len < 0) {
        error_setg(errp, "Could not compress the cluster at offset %#" PRIx64,
                   offset);
        return -EIO;
    }

    ret = qcow2_load_l2_entry(bs, offset, &l2_offset, &entry, &bitmap,
                              errp);
    if (ret < 0) {
        return ret;
    }
    /* Compression cannot overwrite anything allocated. */
    if ((entry & QCOW_OFLAG_COMPRESSED) || (entry & L2E_OFFSET_MASK)) {
        error_setg(errp, "Cannot write a compressed cluster over an "
                   "allocated one (guest offset %#" PRIx64 ")", offset);
        return -EIO;
    }
    host = alloc_bytes(bs, len, errp);
    if (host < 0) {
        return host;
    }
    ret = bdrv_file_pwrite(bs->file, host, len, out, errp);
    if (ret < 0) {
        return ret;
    }
    nb_sectors = (host + len - 1) / QCOW2_COMPRESSED_SECTOR_SIZE -
                 host / QCOW2_COMPRESSED_SECTOR_SIZE;
    new_entry = QCOW_OFLAG_COMPRESSED | host |
                (nb_sectors << s->csize_shift);
    return qcow2_write_l2_entry(bs, l2_offset, offset_to_l2_index(s, offset),
                                new_entry, 0, errp);
}

int qcow2_co_pwritev_compressed(BlockDriverState *bs, int64_t offset,
                                int64_t bytes, const void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const uint8_t *p = buf;
    CompressJob job;
    int ret;

    if (bytes == 0) {
        /*
         * The end of a series: compressed data ends anywhere, so the file
         * is padded to a whole sector, as 7.2 pads it.
         */
        int64_t len = bdrv_getlength(bs->file);

        if (len < 0) {
            error_setg_errno(errp, -len, "Could not get the file length");
            return len;
        }
        if (len % BDRV_SECTOR_SIZE == 0) {
            return 0;
        }
        return bdrv_file_truncate(bs->file,
                                  QEMU_ALIGN_UP(len, BDRV_SECTOR_SIZE), errp);
    }
    if (has_data_file(s)) {
        error_setg(errp, "Compression is not supported with an external "
                   "data file");
        return -ENOTSUP;
    }
    if (offset_into_cluster(s, offset) ||
        (offset_into_cluster(s, bytes) && offset + bytes != bs->total_bytes)) {
        error_setg(errp, "Compressed writes must cover whole clusters");
        return -EINVAL;
    }
    ret = qcow2_prepare_write(bs, errp);
    if (ret < 0) {
        return ret;
    }
    job = (CompressJob) {
        .s = s,
        .buf = buf,
        .bytes = bytes,
        .nb_clusters = size_to_clusters(s, bytes),
    };
    job.out = g_new0(uint8_t *, job.nb_clusters);
    job.len = g_new0(ssize_t, job.nb_clusters);
    compress_all(&job);
    for (uint64_t i = 0; i < job.nb_clusters && ret == 0; i++) {
        uint64_t n = MIN((uint64_t)bytes, s->cluster_size);

        ret = write_compressed_cluster(bs, offset, n, p, job.out[i],
                                       job.len[i], errp);
        offset += n;
        p += n;
        bytes -= n;
    }
    for (uint64_t i = 0; i < job.nb_clusters; i++) {
        g_free(job.out[i]);
    }
    g_free(job.out);
    g_free(job.len);
    return ret;
}
