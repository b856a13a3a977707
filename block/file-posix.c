/*
 * The "file" protocol: a host file accessed with pread.  Read-only
 * opens use O_RDONLY, so a read-only command cannot change a byte.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/block_int.h"

typedef struct BDRVRawState {
    int fd;
} BDRVRawState;

static int file_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVRawState *s = bs->opaque;
    int open_flags = (flags & BDRV_O_RDWR) ? O_RDWR : O_RDONLY;
    struct stat st;

    s->fd = open(bs->filename, open_flags | O_CLOEXEC);
    if (s->fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not open '%s'", bs->filename);
        return -err;
    }
    if (fstat(s->fd, &st) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not open '%s'", bs->filename);
        close(s->fd);
        s->fd = -1;
        return -err;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) &&
        !S_ISCHR(st.st_mode)) {
        error_setg(errp, "'file' driver requires '%s' to be a regular file",
                   bs->filename);
        close(s->fd);
        s->fd = -1;
        return -EINVAL;
    }
    return 0;
}

static void file_close(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

static int64_t file_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(s->fd, 0, SEEK_END);
        return end < 0 ? -errno : end;
    }
    return st.st_size;
}

static int64_t file_get_allocated_file_size(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    struct stat st;

    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

/* Bytes past the end of the file read as zeros, as QEMU's do. */
static int file_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      void *buf, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    uint8_t *p = buf;

    /* The range is valid: bdrv_file_pread() checked it. */
    while (bytes > 0) {
        ssize_t n = pread(s->fd, p, MIN(bytes, (int64_t)(1 << 30)), offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int err = errno;
            error_setg_errno(errp, err, "Could not read '%s'", bs->filename);
            return -err;
        }
        if (n == 0) {
            memset(p, 0, bytes);
            break;
        }
        p += n;
        offset += n;
        bytes -= n;
    }
    return 0;
}

static int file_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       const void *buf, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    const uint8_t *p = buf;

    if (offset < 0 || bytes < 0 || offset > INT64_MAX - bytes) {
        error_setg(errp, "Invalid write of %" PRId64 " bytes at %" PRId64,
                   bytes, offset);
        return -EINVAL;
    }
    while (bytes > 0) {
        ssize_t n = pwrite(s->fd, p, MIN(bytes, (int64_t)(1 << 30)), offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int err = errno;
            error_setg_errno(errp, err, "Could not write '%s'", bs->filename);
            return -err;
        }
        p += n;
        offset += n;
        bytes -= n;
    }
    return 0;
}

/* A hole where the file system can punch one, zeros elsewhere. */
static int file_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                         Error **errp)
{
    BDRVRawState *s = bs->opaque;
    g_autofree uint8_t *zeros = NULL;

    if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  offset, bytes) == 0) {
        return 0;
    }
    zeros = g_malloc0(MIN(bytes, 1 << 20));
    while (bytes > 0) {
        int64_t n = MIN(bytes, 1 << 20);
        int ret = file_pwrite(bs, offset, n, zeros, errp);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

/* Zeroes without writing them where the file system can (no fallback). */
static int file_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                              int64_t bytes, int flags, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    int64_t len = file_getlength(bs);

    if ((flags & BDRV_REQ_MAY_UNMAP) && len >= 0 && offset + bytes <= len &&
        fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  offset, bytes) == 0) {
        return 0;
    }
    if (fallocate(s->fd, FALLOC_FL_ZERO_RANGE, offset, bytes) == 0) {
        return 0;
    }
    error_setg(errp, "Zero writes are not supported by the file system");
    return -ENOTSUP;
}

static int file_truncate(BlockDriverState *bs, int64_t size, Error **errp)
{
    BDRVRawState *s = bs->opaque;

    if (ftruncate(s->fd, size) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not resize '%s'", bs->filename);
        return -err;
    }
    return 0;
}

static int file_flush(BlockDriverState *bs, Error **errp)
{
    BDRVRawState *s = bs->opaque;

    if (fdatasync(s->fd) < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not flush '%s'", bs->filename);
        return -err;
    }
    return 0;
}

/*
 * Where [start, ...) stops being data or hole (QEMU's find_allocation):
 * 0 with *data and *hole set, or a negative errno (-ENXIO: a trailing
 * hole; -EBUSY: the file changed under us).
 */
static int file_find_allocation(BDRVRawState *s, off_t start, off_t *data,
                                off_t *hole)
{
    off_t offs = lseek(s->fd, start, SEEK_DATA);

    if (offs < 0) {
        return -errno;
    }
    if (offs < start) {
        return -EIO;    /* not a valid lseek() answer */
    }
    if (offs > start) {
        *hole = start;
        *data = offs;
        return 0;
    }
    offs = lseek(s->fd, start, SEEK_HOLE);
    if (offs < 0) {
        return -errno;
    }
    if (offs < start) {
        return -EIO;
    }
    if (offs > start) {
        *data = start;
        *hole = offs;
        return 0;
    }
    return -EBUSY;
}

/* Holes read as zeros; without SEEK_DATA everything is data. */
static int file_co_block_status(BlockDriverState *bs, int64_t offset,
                                int64_t bytes, int64_t *pnum, int64_t *map,
                                BlockDriverState **file, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    off_t data = 0, hole = 0;
    int ret = file_find_allocation(s, offset, &data, &hole);

    if (ret == -ENXIO) {
        *pnum = bytes;
        ret = BDRV_BLOCK_ZERO;
    } else if (ret < 0) {
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA;
    } else if (data == offset) {
        *pnum = MIN(bytes, hole - offset);
        ret = BDRV_BLOCK_DATA;
    } else {
        *pnum = MIN(bytes, data - offset);
        ret = BDRV_BLOCK_ZERO;
    }
    *map = offset;
    *file = bs;
    return ret | BDRV_BLOCK_OFFSET_VALID;
}

/*
 * Creates (or truncates to empty) the host file @filename, mode 0644,
 * as image creation starts with an empty protocol file.
 */
int bdrv_file_create(const char *filename, Error **errp)
{
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        int err = errno;
        error_setg_errno(errp, err, "Could not create '%s'", filename);
        return -err;
    }
    close(fd);
    return 0;
}

/*
 * Allocates [offset, offset + bytes) of a protocol node for preallocated
 * images: fallocate, or (@write_zeros, preallocation=full) zeros written.
 */
int bdrv_file_allocate(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       bool write_zeros, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    g_autofree uint8_t *zeros = NULL;
    int ret;

    if (!write_zeros) {
        ret = posix_fallocate(s->fd, offset, bytes);
        if (ret) {
            error_setg_errno(errp, ret, "Could not preallocate data for "
                             "the new area");
            return -ret;
        }
        return 0;
    }
    zeros = g_malloc0(MIN(bytes, 1 << 20));
    while (bytes > 0) {
        int64_t n = MIN(bytes, 1 << 20);
        ret = file_pwrite(bs, offset, n, zeros, errp);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

const BlockDriver bdrv_file = {
    .format_name = "file",
    .instance_size = sizeof(BDRVRawState),
    .is_protocol = true,
    .open = file_open,
    .close = file_close,
    .getlength = file_getlength,
    .get_allocated_file_size = file_get_allocated_file_size,
    .pread = file_pread,
    .pwrite = file_pwrite,
    .flush = file_flush,
    .pdiscard = file_pdiscard,
    .co_pwrite_zeroes = file_pwrite_zeroes,
    .co_block_status = file_co_block_status,
    .truncate = file_truncate,
};
