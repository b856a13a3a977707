/*
 * The public block-layer API used by the tools.
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qobject-all.h"
#include "qapi-types.h"

typedef struct BlockDriverState BlockDriverState;

/* Open flags. */
#define BDRV_O_RDWR         0x0002  /* open read-write */
#define BDRV_O_NO_BACKING   0x0100  /* do not open the backing file */
#define BDRV_O_NO_IO        0x0200  /* metadata only: info, no guest I/O */
#define BDRV_O_CHECK        0x0400  /* opened by qemu-img check */
#define BDRV_O_FORCE_SHARE  0x0800  /* -U: do not take image locks */
#define BDRV_O_HAS_KEY      0x1000  /* an encryption key was named */

/*
 * Open @filename (or a "json:{...}" name) with @options (may be NULL;
 * the function takes ownership).  @fmt forces a format driver; NULL
 * probes it.
 */
BlockDriverState *bdrv_open(const char *filename, const char *fmt,
                            QDict *options, int flags, Error **errp);
void bdrv_unref(BlockDriverState *bs);
/*
 * Checks the -o options of a reopen of @bs (qemu-io `reopen`) as 7.2
 * does, in the options' order: values of the options the driver lets
 * a reopen change, and "Cannot change the option" for the others
 * unless they keep the current value (driver, file.filename).
 * The effect of "read-only" is the caller's.  Accepted options have no effect on
 * the image file, so the caller need not pass them on.
 */
int bdrv_reopen_check(BlockDriverState *bs, QDict *options, Error **errp);

/* An option's boolean: on/yes/true/y or off/no/false/n, else false. */
bool bdrv_parse_bool(const char *s, bool *val);

const char *bdrv_get_format_name(const BlockDriverState *bs);
const char *bdrv_get_filename(const BlockDriverState *bs);
BlockDriverState *bdrv_backing(const BlockDriverState *bs);
/*
 * 7.2's warning (on stderr) when a read-write open probed the raw
 * format for @bs; the tools print it where 7.2's raw driver does.
 */
void bdrv_raw_warn_probed(const BlockDriverState *bs);

/* Guest-visible size in bytes, or a negative errno. */
int64_t bdrv_getlength(BlockDriverState *bs);

/*
 * Guest read: fills @buf with @bytes of guest data at @offset, reading
 * through backing files; regions beyond the end of a backing file read
 * as zeros.  Returns 0 or a negative errno with @errp set.
 */
int bdrv_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
               void *buf, Error **errp);

/* Flags of guest write requests. */
#define BDRV_REQ_MAY_UNMAP      0x4     /* zeroes may deallocate */
#define BDRV_REQ_NO_FALLBACK    0x100   /* zeroes: fail rather than write */

/*
 * Guest writes: @bytes of @buf at @offset.  The image must be open
 * read-write; requests past the end of the image fail with -EIO
 * ("Request out of bounds" style messages are the caller's business).
 * Returns 0 or a negative errno with @errp set.
 */
int bdrv_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                const void *buf, Error **errp);
/*
 * A compressed write (qemu-io write -c, qemu-img convert -c): whole
 * clusters from a cluster boundary (the last may end with the image),
 * onto clusters nothing is allocated for yet.  -ENOTSUP for a format
 * without compression.  An empty write ends a series of them (the image
 * file is padded to whole sectors, as 7.2 leaves it after convert -c).
 */
int bdrv_pwrite_compressed(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, const void *buf, Error **errp);
/* Whether @bs's format can hold persistent dirty bitmaps. */
bool bdrv_supports_persistent_bitmaps(BlockDriverState *bs);
/*
 * The persistent bitmaps of @bs (not of its backing files), as `info`
 * shows them (NULL: none); -ENOTSUP for a format without bitmaps.
 */
int bdrv_list_bitmaps(BlockDriverState *bs, Qcow2BitmapInfoList **list,
                      Error **errp);
/* Whether format @fmt can write compressed clusters. */
bool bdrv_format_can_compress(const char *fmt);
/* Cluster size of @bs for its format (0: none, as raw). */
int64_t bdrv_get_cluster_size(BlockDriverState *bs);
/* Makes [offset, offset + bytes) read as zeros (qemu-io write -z). */
int bdrv_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       int flags, Error **errp);
/* Guest discard: the range may read as zeros or as the backing file. */
int bdrv_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  Error **errp);
/* Writes every cached structure and flushes the host file(s). */
int bdrv_flush(BlockDriverState *bs, Error **errp);
/* Guest-visible resize (grows only for qcow2 for now). */
int bdrv_truncate(BlockDriverState *bs, int64_t offset, Error **errp);

/* Block status, as QEMU's BDRV_BLOCK_* bits. */
#define BDRV_BLOCK_DATA         0x01    /* reads from this layer's data */
#define BDRV_BLOCK_ZERO         0x02    /* reads as zeros */
#define BDRV_BLOCK_OFFSET_VALID 0x04    /* *map is the host offset */
#define BDRV_BLOCK_RAW          0x08    /* ask bs->file (internal) */
#define BDRV_BLOCK_ALLOCATED    0x10    /* this layer decides the content */
#define BDRV_BLOCK_EOF          0x20    /* the range reaches the end */
#define BDRV_BLOCK_RECURSE      0x40    /* internal */
#define BDRV_BLOCK_COMPRESSED   0x80    /* compressed cluster */

/*
 * Status of [offset, offset + bytes) in @bs alone: returns the
 * BDRV_BLOCK_* bits of the first part, whose length goes to *@pnum
 * (> 0 unless @bytes is 0, or @offset is at or past the end: then just
 * BDRV_BLOCK_EOF); *@map and *@file (may be NULL) get the host offset
 * and node holding the data when OFFSET_VALID is set.  The answers are
 * QEMU 7.2's (qemu-img map prints them): see block/block-status.c.
 */
int bdrv_block_status(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, int64_t *map, BlockDriverState **file,
                      Error **errp);
/*
 * The same through the chain from @bs down to (excluding) @base (NULL:
 * the whole chain); *@depth (may be NULL) gets the layer that answered
 * (0 = @bs), or the chain length when no layer allocates the range.
 */
int bdrv_block_status_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            int64_t *map, BlockDriverState **file,
                            int *depth, Error **errp);
/* 1 if @bs itself allocates the first *@pnum bytes, 0 if not, or -errno. */
int bdrv_is_allocated(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      int64_t *pnum, Error **errp);
/*
 * 1 if some layer from @bs down to (excluding) @base (NULL: the whole
 * chain) allocates the first *@pnum bytes, 0 if none does, or -errno
 * (qemu-io's `map`).  Zeros past the end of a shorter layer count as
 * allocated by it, as in QEMU 7.2.
 */
int bdrv_is_allocated_above(BlockDriverState *bs, BlockDriverState *base,
                            int64_t offset, int64_t bytes, int64_t *pnum,
                            Error **errp);

/*
 * Image creation (qemu-img create), as 7.2's bdrv_img_create: checks the
 * -o @options of @fmt (and of the file protocol), takes the size from
 * the backing file when @img_size is -1 (unless @no_backing, -u), prints
 * the "Formatting ..." line unless @quiet, then calls bdrv_create().
 */
int bdrv_img_create(const char *filename, const char *fmt,
                    const char *base_filename, const char *base_fmt,
                    const char *options, int64_t img_size, bool no_backing,
                    bool quiet, Error **errp);
/*
 * qemu-img convert's first step: the -o @options of @fmt (and of the
 * file protocol) checked, "size" set to @size, and the backing file and
 * format (-B, -F; may be NULL) added.  Returns the values for
 * bdrv_create(), or NULL with @errp set.
 */
QDict *bdrv_create_opts_parse(const char *fmt, const char *options,
                              int64_t size, const char *base_filename,
                              const char *base_fmt, Error **errp);
/* -o help: the options of @fmt (with the protocol's when @filename). */
int bdrv_create_print_help(const char *fmt, const char *filename,
                           Error **errp);
/*
 * The driver step: @opts holds checked, normalised option strings
 * ("size" always); the file is created (an existing one emptied).
 */
int bdrv_create(const char *fmt, const char *filename, QDict *opts,
                Error **errp);

/*
 * Internal snapshots (qemu-img snapshot -c / -a / -d): @name is matched
 * against IDs and names as qemu-img 7.2 does.  The image must be open
 * read-write.
 */
int bdrv_snapshot_create(BlockDriverState *bs, const char *name,
                         Error **errp);
int bdrv_snapshot_goto(BlockDriverState *bs, const char *name, Error **errp);
int bdrv_snapshot_delete(BlockDriverState *bs, const char *name,
                         Error **errp);
/*
 * qemu-img convert -l: the image (opened read-only) shows the snapshot
 * with ID @id and/or name @name from now on.  _by_id_or_name tries
 * @id_or_name as an ID first, then as a name.
 */
int bdrv_snapshot_load_tmp(BlockDriverState *bs, const char *id,
                           const char *name, Error **errp);
int bdrv_snapshot_load_tmp_by_id_or_name(BlockDriverState *bs,
                                         const char *id_or_name,
                                         Error **errp);
/* The snapshots as 7.2 lists them (NULL: none); -ENOTSUP for raw. */
int bdrv_snapshot_list(BlockDriverState *bs, SnapshotInfoList **list,
                       Error **errp);

/* What a consistency check found (and, later, fixed). */
typedef struct BlockFragInfo {
    uint64_t allocated_clusters;
    uint64_t total_clusters;
    uint64_t fragmented_clusters;
    uint64_t compressed_clusters;
} BlockFragInfo;

typedef struct BdrvCheckResult {
    int64_t corruptions;
    int64_t leaks;
    int64_t check_errors;
    int64_t corruptions_fixed;
    int64_t leaks_fixed;
    int64_t image_end_offset;
    BlockFragInfo bfi;
    /* With BDRV_CHECK_MAP: where the metadata lives; the caller frees it. */
    Qcow2Metadata *metadata;
    /*
     * With BDRV_CHECK_MAP, when no map was made because it would hold
     * more than this many table entries (docs/security.md); else 0.
     */
    uint64_t metadata_too_large;
} BdrvCheckResult;

/* A persistent dirty bitmap's contents (see bdrv_bitmap_get()). */
typedef struct BdrvBitmapData {
    uint64_t size;              /* of the disk it covers */
    uint8_t granularity_bits;
    bool enabled;
    uint64_t nb_bits;
    uint8_t *bits;              /* bit i: bytes [i << g, (i + 1) << g) */
} BdrvBitmapData;

/*
 * Persistent dirty bitmaps of a format node (block/dirty-bitmap.c).
 * Changes are written back by bdrv_inactivate() or at close; errors
 * use qemu-img 7.2's words.
 */
/* Whether @bs, open read-write, has persistent bitmaps in use. */
bool bdrv_has_bitmaps(BlockDriverState *bs);
/* A name for @bs in messages, shaped as 7.2's generated node names. */
char *bdrv_node_name(BlockDriverState *bs);
int bdrv_bitmap_add(BlockDriverState *bs, const char *name,
                    uint32_t granularity, Error **errp);
int bdrv_bitmap_remove(BlockDriverState *bs, const char *name,
                       Error **errp);
int bdrv_bitmap_clear(BlockDriverState *bs, const char *name, Error **errp);
int bdrv_bitmap_set_enabled(BlockDriverState *bs, const char *name,
                            bool enabled, Error **errp);
/* Merges @src_name of @src (which may be @bs) into @name of @bs. */
int bdrv_bitmap_merge(BlockDriverState *bs, const char *name,
                      BlockDriverState *src, const char *src_name,
                      Error **errp);
/* A run of @nb_bits bits from @first_bit, all set (@dirty) or all clear. */
typedef int BdrvBitmapRunFn(void *opaque, uint64_t first_bit,
                            uint64_t nb_bits, bool dirty);
/*
 * Calls @fn for the runs of the bitmap, in order, together covering
 * every bit; *@granularity_bits says what a bit covers.  Reads the file
 * a cluster at a time: memory does not grow with the bitmap.  With @fn
 * NULL, only looks the bitmap up.
 */
int bdrv_bitmap_runs(BlockDriverState *bs, const char *name,
                     uint8_t *granularity_bits, BdrvBitmapRunFn *fn,
                     void *opaque, Error **errp);
/* A copy of the bitmap's contents; free data->bits with g_free(). */
int bdrv_bitmap_get(BlockDriverState *bs, const char *name,
                    BdrvBitmapData *data, Error **errp);
/*
 * Writes back what the node keeps in memory (bitmaps) so that errors
 * can be reported; the node takes no more writes afterwards.
 */
int bdrv_inactivate(BlockDriverState *bs, Error **errp);

/* Progress of a long operation, 0.0 to 100.0. */
typedef void BdrvProgressFn(double percent);

typedef enum BdrvCheckMode {
    BDRV_FIX_LEAKS = 1,
    BDRV_FIX_ERRORS = 2,
    /* Not a repair: the walk also fills res->metadata (qemu-img check -M). */
    BDRV_CHECK_MAP = 4,
} BdrvCheckMode;

/*
 * Checks the image's metadata.  Findings are printed on stderr as
 * qemu-img 7.2 prints them and counted in @res.  Returns -ENOTSUP for
 * formats without a check, another negative errno when the check could
 * not complete.
 */
int bdrv_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
               BdrvProgressFn *progress, Error **errp);

/* Everything `qemu-img info` prints about one image. */
ImageInfo *bdrv_query_image_info(BlockDriverState *bs, Error **errp);

/* Human form of an ImageInfo, exactly as qemu-img 7.2 prints it. */
void bdrv_image_info_dump(const ImageInfo *info, GString *out);

/* The snapshot table as `info` and `snapshot -l` print it. */
void bdrv_snapshot_dump_header(GString *out);
void bdrv_snapshot_dump(GString *out, const SnapshotInfo *sn);

#endif
