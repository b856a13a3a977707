/*
 * Driver interface of the block layer.
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include "block/block.h"

typedef struct BlockDriver BlockDriver;

#define BDRV_SECTOR_SIZE 512

/* Longest file name we keep; longer names are refused at open. */
#define BDRV_NAME_MAX 4096

/* Persistent dirty bitmaps of a format driver (see bdrv_bitmap_add()). */
typedef struct BdrvBitmapOps {
    int (*add)(BlockDriverState *bs, const char *name, uint32_t granularity,
               Error **errp);
    int (*remove)(BlockDriverState *bs, const char *name, Error **errp);
    int (*clear)(BlockDriverState *bs, const char *name, Error **errp);
    int (*set_enabled)(BlockDriverState *bs, const char *name, bool enabled,
                       Error **errp);
    int (*get)(BlockDriverState *bs, const char *name, BdrvBitmapData *out,
               Error **errp);
    /* The bitmaps in the file, as `info` lists them. */
    int (*list)(BlockDriverState *bs, Qcow2BitmapInfoList **list,
                Error **errp);
    /* Whether the node has bitmaps in memory (a read-write open). */
    bool (*any)(BlockDriverState *bs);
    int (*runs)(BlockDriverState *bs, const char *name,
                uint8_t *granularity_bits, BdrvBitmapRunFn *fn,
                void *opaque, Error **errp);
    /* With @src NULL: only whether @name can be merged into. */
    int (*merge)(BlockDriverState *bs, const char *name,
                 const BdrvBitmapData *src, Error **errp);
} BdrvBitmapOps;

/* The value type of a driver runtime option (bdrv_reopen_check()). */
typedef enum BdrvRuntimeOptType {
    BDRV_OPT_BOOL,
    BDRV_OPT_SIZE,
    BDRV_OPT_NUMBER,
    BDRV_OPT_ENUM,
} BdrvRuntimeOptType;

typedef struct BdrvRuntimeOpt {
    const char *name;
    BdrvRuntimeOptType type;
    const char *const *values;  /* BDRV_OPT_ENUM: allowed, NULL-ended */
    /* BDRV_OPT_NUMBER: a larger value fails with @max_error (0: none). */
    uint64_t max;
    const char *max_error;
} BdrvRuntimeOpt;

struct BlockDriver {
    const char *format_name;
    size_t instance_size;
    bool is_protocol;
    /* Probe score for @buf (the first bytes of the file), 0 = no. */
    int (*probe)(const uint8_t *buf, size_t len, const char *filename);
    /* Format drivers: bs->file is open.  Protocols: open bs->filename. */
    int (*open)(BlockDriverState *bs, QDict *options, int flags,
                Error **errp);
    void (*close)(BlockDriverState *bs);
    int64_t (*getlength)(BlockDriverState *bs);
    /* Allocated bytes on the host, or a negative errno. */
    int64_t (*get_allocated_file_size)(BlockDriverState *bs);
    /* Raw byte access: protocols only. */
    int (*pread)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                 void *buf, Error **errp);
    int (*pwrite)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                  const void *buf, Error **errp);
    int (*flush)(BlockDriverState *bs, Error **errp);
    int (*truncate)(BlockDriverState *bs, int64_t size, Error **errp);
    /* Deallocate a range; it reads as zeros afterwards. */
    int (*pdiscard)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    Error **errp);
    /* Guest reads: format drivers. */
    int (*co_preadv)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     void *buf, Error **errp);
    /* Guest writes: format drivers (bounds already checked). */
    int (*co_pwritev)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      const void *buf, Error **errp);
    /*
     * Compressed guest writes: whole clusters at a cluster boundary (the
     * last one may end with the image), onto unallocated clusters.
     */
    int (*co_pwritev_compressed)(BlockDriverState *bs, int64_t offset,
                                 int64_t bytes, const void *buf,
                                 Error **errp);
    int (*co_pwrite_zeroes)(BlockDriverState *bs, int64_t offset,
                            int64_t bytes, int flags, Error **errp);
    int (*co_pdiscard)(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       Error **errp);
    /* Write back cached metadata; the generic layer then flushes files. */
    int (*co_flush)(BlockDriverState *bs, Error **errp);
    int (*co_truncate)(BlockDriverState *bs, int64_t offset, Error **errp);
    /* Block status of this layer only (see bdrv_block_status()). */
    int (*co_block_status)(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, int64_t *pnum, int64_t *map,
                           BlockDriverState **file, Error **errp);
    /* Internal snapshots (see bdrv_snapshot_create() and friends). */
    int (*snapshot_create)(BlockDriverState *bs, const char *name,
                           Error **errp);
    int (*snapshot_goto)(BlockDriverState *bs, const char *name,
                         Error **errp);
    /* A read-only view of a snapshot (see bdrv_snapshot_load_tmp()). */
    int (*snapshot_load_tmp)(BlockDriverState *bs, const char *id,
                             const char *name, Error **errp);
    /* Deletes the snapshot whose ID and name are both @id and @name. */
    int (*snapshot_delete)(BlockDriverState *bs, const char *id,
                           const char *name, Error **errp);
    /* Creates an image file (see bdrv_create()). */
    int (*create)(const char *filename, QDict *opts, Error **errp);
    /* Fill in the driver's part of ImageInfo (cluster size, ...). */
    int (*get_info)(BlockDriverState *bs, ImageInfo *info, Error **errp);
    /* Snapshots for `info`; NULL list when there are none. */
    int (*snapshot_list)(BlockDriverState *bs, SnapshotInfoList **list,
                         Error **errp);
    ImageInfoSpecific *(*get_specific_info)(BlockDriverState *bs,
                                            Error **errp);
    int (*check)(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                 BdrvProgressFn *progress, Error **errp);
    /* NULL: the format has no persistent bitmaps. */
    const BdrvBitmapOps *bitmap_ops;
    /* Write back what is kept in memory, reporting errors. */
    int (*inactivate)(BlockDriverState *bs, Error **errp);
    /*
     * Options 7.2's driver lets a reopen change and whose effect does
     * not reach the image file (cache sizes, discard passing, ...),
     * ended by an entry without a name.  NULL: none.
     */
    const BdrvRuntimeOpt *runtime_opts;
    /*
     * The driver's rules between runtime options of a reopen, once
     * their values parse (bdrv_reopen_check()).  NULL: none.
     */
    int (*reopen_check)(BlockDriverState *bs, QDict *options, Error **errp);
};

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;
    int open_flags;
    bool read_only;
    /* The name as the user gave it, printed by `info`. */
    char *filename;
    /* Protocol layer (format drivers) and backing image. */
    BlockDriverState *file;
    BlockDriverState *backing;
    BlockDriverState *overlay;  /* the image whose backing file this is */
    /* Extra children the size accounting includes (external data file). */
    BlockDriverState *data_file;
    /* Backing file name and format as stored in the image, if any. */
    char *backing_file;
    char *backing_format;
    /* Resolved backing file name; NULL when it cannot be determined. */
    char *full_backing_filename;
    int64_t total_bytes;        /* guest size */
    bool encrypted;
    int backing_depth;          /* position in the chain, for loop bounds */
};

/* The registered drivers, and lookup by format name. */
const BlockDriver *bdrv_find_format(const char *format_name);

extern const BlockDriver bdrv_file;
extern const BlockDriver bdrv_raw;
extern const BlockDriver bdrv_qcow2;
extern const BlockDriver bdrv_qcow;

/*
 * Open @filename with the protocol driver as a child node.  Used by
 * formats for their data file and by the generic open.
 */
BlockDriverState *bdrv_open_protocol(const char *filename, int flags,
                                     Error **errp);

/*
 * Test harnesses only (tests/fuzz, through bdrv_open_mem()): when set,
 * every protocol node (image, backing and data files) is opened by this
 * function instead of from the host file system.  The tools never set it.
 */
extern BlockDriverState *(*bdrv_protocol_override)(const char *filename,
                                                   int flags, Error **errp);

/*
 * Opens a format node (@fmt; NULL probes qcow2 or raw) on the @len bytes
 * at @buf, read-only, named "mem:0" (block/mem.c, linked into the fuzz
 * programs only).  Backing and data file names "mem:OFFSET" (decimal)
 * resolve to the bytes of the same buffer from OFFSET to its end; every
 * other name is refused, so no host file is ever opened.  @buf must
 * outlive the node.  Not thread-safe.
 */
BlockDriverState *bdrv_open_mem(const void *buf, size_t len, const char *fmt,
                                int flags, Error **errp);

/*
 * Raw byte access to a protocol node (no backing, no translation).
 * Bytes past the end of the file read as zeros; a range no file can
 * hold (negative, or ending past INT64_MAX) is an I/O error, as QEMU's
 * request checks make it (bdrv_file_check_read() alone tells which).
 */
int bdrv_file_pread(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    void *buf, Error **errp);
int bdrv_file_check_read(int64_t offset, int64_t bytes, Error **errp);

/* Raw writes and flush of a protocol node (image opened read-write). */
int bdrv_file_pwrite(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const void *buf, Error **errp);
int bdrv_file_flush(BlockDriverState *bs, Error **errp);
/* A write that is on disk when it returns: an ordering point for repairs. */
int bdrv_file_pwrite_sync(BlockDriverState *bs, int64_t offset, int64_t bytes,
                          const void *buf, Error **errp);
int bdrv_file_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       Error **errp);
int bdrv_file_truncate(BlockDriverState *bs, int64_t size, Error **errp);
/* Creates or empties a host file (file-posix.c), with QEMU's messages. */
int bdrv_file_create(const char *filename, Error **errp);
/* Allocates a range (preallocation=falloc), or writes zeros (=full). */
int bdrv_file_allocate(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       bool write_zeros, Error **errp);
/*
 * Image creation helpers (create.c): a protocol file of @size bytes with
 * @prealloc ("off", "falloc", "full"), and the growth of an open one.
 */
int bdrv_create_file_sized(const char *filename, uint64_t size,
                           const char *prealloc, Error **errp);
int bdrv_file_preallocate(BlockDriverState *bs, uint64_t old_size,
                          uint64_t size, const char *prealloc, Error **errp);

/*
 * Open the backing file named in @bs (resolved as qemu-img 7.2 does),
 * with the backing format when the image records one.
 */
int bdrv_open_backing(BlockDriverState *bs, int flags, Error **errp);

#endif
