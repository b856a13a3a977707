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

/*
 * Open @filename (or a "json:{...}" name) with @options (may be NULL;
 * the function takes ownership).  @fmt forces a format driver; NULL
 * probes it.
 */
BlockDriverState *bdrv_open(const char *filename, const char *fmt,
                            QDict *options, int flags, Error **errp);
void bdrv_unref(BlockDriverState *bs);

const char *bdrv_get_format_name(const BlockDriverState *bs);
const char *bdrv_get_filename(const BlockDriverState *bs);
BlockDriverState *bdrv_backing(const BlockDriverState *bs);

/* Guest-visible size in bytes, or a negative errno. */
int64_t bdrv_getlength(BlockDriverState *bs);

/*
 * Guest read: fills @buf with @bytes of guest data at @offset, reading
 * through backing files; regions beyond the end of a backing file read
 * as zeros.  Returns 0 or a negative errno with @errp set.
 */
int bdrv_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
               void *buf, Error **errp);

/* Everything `qemu-img info` prints about one image. */
ImageInfo *bdrv_query_image_info(BlockDriverState *bs, Error **errp);

/* Human form of an ImageInfo, exactly as qemu-img 7.2 prints it. */
void bdrv_image_info_dump(const ImageInfo *info, GString *out);

/* The snapshot table as `info` and `snapshot -l` print it. */
void bdrv_snapshot_dump_header(GString *out);
void bdrv_snapshot_dump(GString *out, const SnapshotInfo *sn);

#endif
