/*
 * qcow2: on-disk constants, in-memory state and the helpers shared by
 * the driver's files.  Section names refer to the qcow2 specification
 * (docs/interop/qcow2.rst in QEMU).
 */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include "block/block_int.h"
#include "qemu/bswap.h"

/* Header (spec: "Header") */
#define QCOW_MAGIC 0x514649fbu              /* "QFI\xfb" */
#define QCOW2_V2_HEADER_SIZE 72
#define QCOW2_V3_MIN_HEADER_SIZE 104
#define QCOW2_COMPRESSION_TYPE_OFFSET 104   /* optional header byte */
#define QCOW2_HEADER_READ_SIZE 112          /* all fields we know */
#define QCOW2_INCOMPAT_OFFSET 72            /* incompatible_features */
/* refcount_table_offset, then refcount_table_clusters */
#define QCOW2_REFTABLE_OFFSET_OFFSET 48

/* Cluster sizes QEMU accepts: 512 B .. 2 MiB. */
#define MIN_CLUSTER_BITS 9
#define MAX_CLUSTER_BITS 21
/* Extended L2 needs subclusters of at least 512 bytes. */
#define QCOW_EXTL2_SUBCLUSTERS_PER_CLUSTER 32
#define QCOW_EXTL2_MIN_CLUSTER_BITS 14

/* refcount_order bounds (spec: "refcount_order") */
#define QCOW2_MAX_REFCOUNT_ORDER 6

/* Table size limits, QEMU's (they bound our allocations). */
#define QCOW_MAX_L1_SIZE (32 * 1024 * 1024)             /* bytes */
#define QCOW_MAX_REFTABLE_SIZE (8 * 1024 * 1024)        /* bytes */
#define QCOW_MAX_SNAPSHOTS 65536
#define QCOW_MAX_SNAPSHOTS_SIZE (64 * 1024 * 1024)      /* bytes */
#define QCOW_MAX_SNAPSHOT_EXTRA_DATA 1024
#define QCOW_MAX_BACKING_FILE_SIZE 1023
#define QCOW2_MAX_BITMAPS 65535
#define QCOW2_MAX_BITMAP_DIRECTORY_SIZE (1024 * QCOW2_MAX_BITMAPS)

/* Incompatible features (spec: "incompatible_features") */
#define QCOW2_INCOMPAT_DIRTY_BITNR          0
#define QCOW2_INCOMPAT_CORRUPT_BITNR        1
#define QCOW2_INCOMPAT_DATA_FILE_BITNR      2
#define QCOW2_INCOMPAT_COMPRESSION_BITNR    3
#define QCOW2_INCOMPAT_EXTL2_BITNR          4
#define QCOW2_INCOMPAT_DIRTY        (1ull << QCOW2_INCOMPAT_DIRTY_BITNR)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << QCOW2_INCOMPAT_CORRUPT_BITNR)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << QCOW2_INCOMPAT_DATA_FILE_BITNR)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << QCOW2_INCOMPAT_COMPRESSION_BITNR)
#define QCOW2_INCOMPAT_EXTL2        (1ull << QCOW2_INCOMPAT_EXTL2_BITNR)
#define QCOW2_INCOMPAT_MASK (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | \
                             QCOW2_INCOMPAT_DATA_FILE | \
                             QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)

/* Compatible features (spec: "compatible_features") */
#define QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR   0
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR)

/* Autoclear features (spec: "autoclear_features") */
#define QCOW2_AUTOCLEAR_BITMAPS_BITNR       0
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR 1
#define QCOW2_AUTOCLEAR_BITMAPS (1ull << QCOW2_AUTOCLEAR_BITMAPS_BITNR)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW \
    (1ull << QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR)

/* Feature name table entry types (spec: "Feature name table") */
#define QCOW2_FEAT_TYPE_INCOMPATIBLE 0
#define QCOW2_FEAT_TYPE_COMPATIBLE   1
#define QCOW2_FEAT_TYPE_AUTOCLEAR    2
#define QCOW2_FEAT_NAME_SIZE 46
#define QCOW2_FEAT_ENTRY_SIZE 48

/* crypt_method (spec: "crypt_method") */
#define QCOW_CRYPT_NONE 0
#define QCOW_CRYPT_AES  1
#define QCOW_CRYPT_LUKS 2

/* compression_type (spec: "compression_type") */
#define QCOW2_COMPRESSION_TYPE_ZLIB_ID 0
#define QCOW2_COMPRESSION_TYPE_ZSTD_ID 1

/* Header extension types (spec: "Header extensions") */
#define QCOW2_EXT_MAGIC_END             0x00000000u
#define QCOW2_EXT_MAGIC_BACKING_FORMAT  0xe2792acau
#define QCOW2_EXT_MAGIC_FEATURE_TABLE   0x6803f857u
#define QCOW2_EXT_MAGIC_CRYPTO_HEADER   0x0537be77u
#define QCOW2_EXT_MAGIC_BITMAPS         0x23852875u
#define QCOW2_EXT_MAGIC_DATA_FILE       0x44415441u
#define QCOW2_EXT_HEADER_SIZE 8

/* Table entries (spec: "Cluster mapping", "Refcount table") */
#define QCOW_OFLAG_COPIED       (1ull << 63)
#define QCOW_OFLAG_COMPRESSED   (1ull << 62)
#define QCOW_OFLAG_ZERO         (1ull << 0)
#define L1E_OFFSET_MASK         0x00fffffffffffe00ull
#define L1E_RESERVED_MASK       0x7f000000000001ffull
#define L2E_OFFSET_MASK         0x00fffffffffffe00ull
#define L2E_STD_RESERVED_MASK   0x3f000000000001feull
#define REFT_OFFSET_MASK        0xfffffffffffffe00ull
#define REFT_RESERVED_MASK      0x1ffull
/* Extended L2: every subcluster reads as zero (spec: "Extended L2") */
#define QCOW_L2_BITMAP_ALL_ZEROES 0xffffffff00000000ull
#define L1E_SIZE 8
#define L2E_SIZE_NORMAL 8
#define L2E_SIZE_EXTENDED 16
#define REFTABLE_ENTRY_SIZE 8
/* Compressed cluster descriptors count 512-byte sectors. */
#define QCOW2_COMPRESSED_SECTOR_SIZE 512

/* Snapshot table entry (spec: "Snapshot table") */
#define QCOW2_SNAPSHOT_HEADER_SIZE 40
#define QCOW2_SNAPSHOT_EXTRA_V3_MIN 16  /* vm_state_size_large + disk_size */
#define QCOW2_SNAPSHOT_EXTRA_KNOWN 24   /* ... + icount */
/* nb_snapshots and snapshots_offset, next to each other in the header */
#define QCOW2_HEADER_NB_SNAPSHOTS_OFFSET 60

/* Bitmaps extension and directory entries (spec: "Bitmaps extension") */
#define QCOW2_BITMAPS_EXT_SIZE 24
#define QCOW2_BITMAP_DIR_ENTRY_SIZE 24
#define BME_FLAG_IN_USE         (1u << 0)
#define BME_FLAG_AUTO           (1u << 1)
#define BME_RESERVED_FLAGS      0xfffffffcu
#define BME_MAX_NAME_SIZE 1023
#define BME_MIN_GRANULARITY_BITS 9
#define BME_MAX_GRANULARITY_BITS 31
#define BME_MAX_TABLE_SIZE 0x8000000
#define BME_MAX_PHYS_SIZE 0x20000000
/* Bitmap table entry rules of the spec, with QEMU's reserved mask. */
#define BME_TABLE_ENTRY_RESERVED_MASK 0xff000000000001feull
#define BME_TABLE_ENTRY_OFFSET_MASK   0x00fffffffffffe00ull
#define BME_TABLE_ENTRY_FLAG_ALL_ONES 1ull
#define BT_DIRTY_TRACKING 1

/* Full disk encryption header pointer extension */
#define QCOW2_CRYPTO_EXT_SIZE 16

typedef struct Qcow2Feature {
    uint8_t type;
    uint8_t bit;
    char name[QCOW2_FEAT_NAME_SIZE + 1];
} Qcow2Feature;

/* A header extension we do not interpret: kept as it was read. */
typedef struct Qcow2UnknownExt {
    uint32_t magic;
    uint32_t len;
    uint8_t *data;
} Qcow2UnknownExt;

/* Where one header extension's data lies in the first cluster. */
typedef struct Qcow2ExtLocation {
    uint32_t magic;
    uint32_t len;
    uint64_t offset;            /* of the data, after type and length */
} Qcow2ExtLocation;

typedef struct Qcow2Snapshot {
    uint64_t l1_table_offset;
    uint32_t l1_size;
    char *id_str;
    char *name;
    uint64_t disk_size;
    uint64_t vm_state_size;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    int64_t icount;             /* -1: not recorded */
    uint32_t extra_data_size;
    uint8_t *unknown_extra;     /* extra data past the known fields */
    uint32_t unknown_extra_size;
} Qcow2Snapshot;

typedef struct Qcow2Bitmap {
    uint64_t table_offset;
    uint32_t table_size;
    uint32_t flags;
    uint8_t type;
    uint8_t granularity_bits;
    char *name;
} Qcow2Bitmap;

/* A range of the image file. */
typedef struct Qcow2Range {
    uint64_t offset;
    uint64_t bytes;
    bool discard;               /* in the file too, once free */
} Qcow2Range;

/* A persistent bitmap in use by a read-write open (qcow2-bitmap-store.c). */
typedef struct Qcow2DirtyBitmap {
    char *name;
    uint8_t granularity_bits;
    bool enabled;               /* "auto": guest writes dirty it */
    bool inconsistent;          /* in use on disk at open: kept as it is */
    bool created;               /* since the image was opened */
    uint64_t nb_bits;
    uint8_t *bits;              /* serialized order; NULL if inconsistent */
    /* On disk: its table, and the data clusters that table points to. */
    uint64_t table_offset;
    uint32_t table_size;
    uint32_t disk_flags;        /* its flags in the file now */
    uint64_t *old_data;
    uint32_t nb_old_data;
} Qcow2DirtyBitmap;

typedef struct BDRVQcow2State {
    /* Header fields, as read. */
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;

    /* Derived geometry. */
    uint64_t cluster_size;
    uint32_t l2_bits;           /* log2 of entries per L2 table */
    uint64_t l2_size;           /* entries per L2 table */
    uint32_t l2_entry_size;     /* 8, or 16 with extended L2 */
    uint32_t subcluster_bits;
    uint64_t subcluster_size;
    uint32_t csize_shift;       /* compressed descriptor layout */
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;
    uint32_t refcount_bits;
    int64_t file_size;

    /* Header extensions. */
    char *image_backing_format;
    Qcow2Feature *features;
    size_t nb_features;
    char *image_data_file;
    uint64_t crypto_header_offset;
    uint64_t crypto_header_length;
    bool has_bitmaps_ext;
    uint32_t nb_bitmaps;
    uint64_t bitmap_directory_size;
    uint64_t bitmap_directory_offset;
    Qcow2UnknownExt *unknown_exts;
    size_t nb_unknown_exts;
    Qcow2ExtLocation *ext_locations;    /* every extension, file order */
    size_t nb_ext_locations;

    /* Tables. */
    uint64_t *l1_table;         /* host byte order */
    /*
     * Entries of l1_table held: all l1_size of them when the image is
     * open read-write; read-only, only those inside the file (the others
     * read as zeros, and holding them would let a tiny file take 32 MiB).
     */
    uint32_t l1_held;
    Qcow2Snapshot *snapshots;
    uint64_t snapshots_size;    /* bytes of the snapshot table */
    Qcow2Bitmap *bitmaps;       /* nb_bitmaps entries, when loaded */
    uint32_t bitmaps_parsed;    /* entries of bitmaps[] filled in */
    bool bitmaps_loaded;
    /* Read-write opens: the bitmaps in memory, stored at close. */
    Qcow2DirtyBitmap *dirty_bitmaps;
    uint32_t nb_dirty_bitmaps;
    bool bitmaps_rw;            /* loaded and marked in use; not stored */
    GArray *freed_on_store;     /* Qcow2Range: old clusters to free */

    /* Runtime refcounts, read-write opens only (qcow2-alloc.c). */
    uint64_t *refcount_table;           /* host byte order */
    uint64_t refcount_table_size;       /* entries */
    uint64_t free_cluster_index;        /* allocation searches start here */
    /* Next free byte of the cluster compressed data is packed into (0: none) */
    uint64_t free_byte_offset;
    struct Qcow2RefblockCache *refblock_cache;
    bool set_dirty;             /* we set the dirty bit; clear at close */
    bool broken;                /* marked corrupt: requests fail */
    GHashTable *refblock_clusters;  /* refcount blocks (overlap checks) */

    BlockDriverState *data_file;        /* bs->file unless external */
    /* What `info` shows about encryption, decoded at open. */
    ImageInfoSpecificQCow2Encryption *crypto_info;

    /* Block status (qcow2-map.c): L2 entries read ahead, see there. */
    struct Qcow2MapCache *map_cache;
    bool metadata_prealloc_checked;     /* 7.2 decides it once per open */
    bool metadata_prealloc;
    bool corruption_signalled;          /* 7.2 reports the first only */
} BDRVQcow2State;

/* Cluster arithmetic */
/*
 * 7.2's words for a data cluster entry that is not cluster aligned, with
 * the host offset, the L2 table's offset and the entry's index.
 */
#define QCOW2_UNALIGNED_CLUSTER_FMT \
    "Cluster allocation offset %#" PRIx64 " unaligned (L2 offset: %#" \
    PRIx64 ", L2 index: %#" PRIx64 ")"

static inline uint64_t offset_into_cluster(const BDRVQcow2State *s,
                                           uint64_t offset)
{
    return offset & (s->cluster_size - 1);
}

static inline uint64_t size_to_clusters(const BDRVQcow2State *s,
                                        uint64_t size)
{
    return (size + (s->cluster_size - 1)) >> s->cluster_bits;
}

static inline uint64_t offset_to_l1_index(const BDRVQcow2State *s,
                                          uint64_t offset)
{
    return offset >> (s->l2_bits + s->cluster_bits);
}

static inline uint64_t offset_to_l2_index(const BDRVQcow2State *s,
                                          uint64_t offset)
{
    return (offset >> s->cluster_bits) & (s->l2_size - 1);
}

/* Entries of one refcount block. */
uint64_t qcow2_refblocks_needed(uint64_t clusters, uint64_t rb_entries,
                                uint64_t reftable_per_cluster, bool generous);
uint64_t qcow2_reftable_grown_size(uint64_t blocks);

static inline uint64_t qcow2_refblock_entries(const BDRVQcow2State *s)
{
    return s->cluster_size * 8 / s->refcount_bits;
}

/* Refcount entry @index of a refcount block, any width. */
static inline uint64_t qcow2_refblock_get(const BDRVQcow2State *s,
                                          const uint8_t *blk, uint64_t index)
{
    uint32_t bits = s->refcount_bits;

    switch (bits) {
    case 8:
        return blk[index];
    case 16:
        return lduw_be_p(blk + index * 2);
    case 32:
        return ldl_be_p(blk + index * 4);
    case 64:
        return ldq_be_p(blk + index * 8);
    default:
        /* Sub-byte widths count from the least significant bit. */
        return (blk[index * bits / 8] >> (index * bits % 8)) &
               ((1u << bits) - 1);
    }
}

/*
 * Stores @value as refcount entry @index; returns the offset of the first
 * changed byte in the block (the entry spans max(1, bits / 8) bytes).
 */
static inline uint64_t qcow2_refblock_set(const BDRVQcow2State *s,
                                          uint8_t *blk, uint64_t index,
                                          uint64_t value)
{
    uint32_t bits = s->refcount_bits;
    uint64_t pos;

    switch (bits) {
    case 8:
        pos = index;
        blk[pos] = value;
        break;
    case 16:
        pos = index * 2;
        stw_be_p(blk + pos, value);
        break;
    case 32:
        pos = index * 4;
        stl_be_p(blk + pos, value);
        break;
    case 64:
        pos = index * 8;
        stq_be_p(blk + pos, value);
        break;
    default:
        pos = index * bits / 8;
        blk[pos] &= ~(((1u << bits) - 1) << (index * bits % 8));
        blk[pos] |= value << (index * bits % 8);
        break;
    }
    return pos;
}

static inline bool has_data_file(const BDRVQcow2State *s)
{
    return s->incompatible_features & QCOW2_INCOMPAT_DATA_FILE;
}

static inline bool has_subclusters(const BDRVQcow2State *s)
{
    return s->incompatible_features & QCOW2_INCOMPAT_EXTL2;
}

/*
 * Checks that [offset, offset + len) is a sane host range: aligned to
 * @align (when non-zero) and not overflowing.  Whether it lies inside
 * the file is the caller's business (QEMU tolerates some tables past
 * EOF and refuses others).
 */
bool qcow2_range_valid(uint64_t offset, uint64_t len, uint64_t align);

/*
 * Validates a table of @entries entries of @entry_len bytes at
 * @offset: at most @max_size bytes, cluster-aligned, inside the file.
 * Sets @errp to "<name> ..." in QEMU's words.
 */
int qcow2_validate_table(BlockDriverState *bs, uint64_t offset,
                         uint64_t entries, size_t entry_len,
                         int64_t max_size, const char *table_name,
                         Error **errp);

/*
 * Reads [offset, offset + len) of the image file; whatever lies past
 * its end reads as zeros, as 7.2 reads tables there (also for offsets
 * no file can reach).
 */
int qcow2_pread_zero_padded(BlockDriverState *bs, uint64_t offset,
                            uint64_t len, void *buf, Error **errp);
/*
 * How many of the @entries entries of @entry_len bytes at @offset start
 * before the end of the image file.  The others read as zeros, so a
 * reader need not hold them: this keeps the memory of read-only
 * commands bounded by the file size (docs/security.md).
 */
uint64_t qcow2_entries_in_file(BDRVQcow2State *s, uint64_t offset,
                               uint64_t entries, size_t entry_len);
/*
 * Reads the first @held_bytes of the @bytes at @offset into @buf, and
 * fails as a read of all @bytes would when no file can hold the range.
 */
int qcow2_pread_held(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                     uint64_t held_bytes, void *buf, Error **errp);
/* Writes s->incompatible_features to the header (version 3). */
int qcow2_write_incompat_features(BlockDriverState *bs, Error **errp);

/* Header parsing: pure decoder over the first cluster (qcow2-header.c). */
int qcow2_parse_header(BDRVQcow2State *s, const uint8_t *buf, size_t len,
                       int64_t file_size, Error **errp);
int qcow2_parse_extensions(BDRVQcow2State *s, const uint8_t *buf,
                           size_t len, uint64_t start, uint64_t end,
                           Error **errp);
void qcow2_scan_feature_table(BDRVQcow2State *s, const uint8_t *buf,
                              uint64_t start, uint64_t end);
void qcow2_free_header(BDRVQcow2State *s);
/* "Unsupported IMGFMT feature(s): ..." for unknown incompatible bits. */
char *qcow2_unknown_features_str(const BDRVQcow2State *s, uint64_t mask);

/* Snapshots (qcow2-snapshot.c) */
int qcow2_read_snapshots(BlockDriverState *bs, Error **errp);
/*
 * For check: with @repair, too much extra data is dropped (counted in
 * *@dropped) and entries past QEMU's caps are discarded (*@discarded).
 */
int qcow2_read_snapshots_repair(BlockDriverState *bs, bool repair,
                                int *dropped, uint32_t *discarded,
                                Error **errp);
uint8_t *qcow2_snapshot_table_serialize(const BDRVQcow2State *s,
                                        uint64_t *len);
void qcow2_free_snapshots(BDRVQcow2State *s);
int qcow2_snapshot_list(BlockDriverState *bs, SnapshotInfoList **list,
                        Error **errp);

/* Creating, applying and deleting internal snapshots (qcow2-snapshot.c) */
int qcow2_snapshot_create(BlockDriverState *bs, const char *name,
                          Error **errp);
/*
 * Makes a read-only image show snapshot @id and/or @name (qemu-img
 * convert -l): "Can't find snapshot" with -ENOENT when none matches.
 */
int qcow2_snapshot_load_tmp(BlockDriverState *bs, const char *id,
                            const char *name, Error **errp);
int qcow2_snapshot_goto(BlockDriverState *bs, const char *name,
                        Error **errp);
int qcow2_snapshot_delete(BlockDriverState *bs, const char *id,
                          const char *name, Error **errp);

/*
 * Runtime refcounts (qcow2-alloc.c), for an image open read-write.  Every
 * change is in the file when the call returns (write-through), and a
 * refcount block is written before anything that points to the clusters
 * it counts, so a crash leaves leaks, never a cluster in use with
 * refcount 0.  There is no cache of L2 tables: callers read and write
 * them in the file; s->l1_table is the active L1 (kept equal to the file).
 */
int qcow2_refcount_open(BlockDriverState *bs, Error **errp);
void qcow2_refcount_close(BlockDriverState *bs);
/* Whether cluster @cluster holds a refcount block (read-write opens). */
bool qcow2_is_refblock(const BDRVQcow2State *s, uint64_t cluster);
/* Refcount of the cluster with index @cluster (0 past the table). */
int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster,
                       uint64_t *refcount, Error **errp);
/* Allocates contiguous clusters for @size bytes, refcount 1 each. */
int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size,
                             Error **errp);
/*
 * Adds @addend to the refcount of every cluster touched by [offset,
 * offset + length); -EINVAL (nothing changed) if one would leave the
 * refcount range.  Clusters that reach 0 become free.
 */
int qcow2_update_refcount(BlockDriverState *bs, uint64_t offset,
                          uint64_t length, int64_t addend, Error **errp);
/* The same as update with -1 (the usual "free"). */
int qcow2_free_clusters(BlockDriverState *bs, uint64_t offset,
                        uint64_t length, Error **errp);
/*
 * The same, and clusters that become free are discarded in the file
 * (7.2 does so for guest discards and zero writes with unmap, and for
 * snapshot deletion).
 */
int qcow2_discard_clusters(BlockDriverState *bs, uint64_t offset,
                           uint64_t length, Error **errp);
/* Drops the references an L2 entry holds (data or compressed). */
int qcow2_free_l2_entry_clusters(BlockDriverState *bs, uint64_t l2_entry,
                                 Error **errp);
int qcow2_discard_l2_entry_clusters(BlockDriverState *bs, uint64_t l2_entry,
                                    Error **errp);
/* Grows the active L1 to at least @min_size entries (moves it). */
int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size,
                        Error **errp);
/* Writes active L1 entry @index from s->l1_table to the file. */
int qcow2_write_l1_entry(BlockDriverState *bs, uint64_t index, Error **errp);

/* Bitmaps (qcow2-bitmap.c) */
int qcow2_read_bitmap_directory(BlockDriverState *bs, Error **errp);
void qcow2_free_bitmaps(BDRVQcow2State *s);
/*
 * Bitmaps in use (qcow2-bitmap-store.c).  A read-write open loads every
 * consistent bitmap and marks it in use on disk; guest writes mark
 * enabled ones; store writes them back (at close, or before it when
 * errors must be reported) and clears the in-use flags.
 */
int qcow2_dirty_bitmaps_open(BlockDriverState *bs, Error **errp);
void qcow2_dirty_bitmaps_mark(BlockDriverState *bs, uint64_t offset,
                              uint64_t bytes);
int qcow2_dirty_bitmaps_store(BlockDriverState *bs, Error **errp);
/* After the disk grew: the bitmaps cover it, new parts clean. */
void qcow2_dirty_bitmaps_resize(BlockDriverState *bs);
void qcow2_dirty_bitmaps_free(BDRVQcow2State *s);
/* The data of the on-disk bitmap @bm (and its data clusters). */
int qcow2_bitmap_read_bits(BlockDriverState *bs, const Qcow2Bitmap *bm,
                           uint8_t **bitsp, uint64_t **data_clusters,
                           uint32_t *nb_data, Error **errp);
extern const BdrvBitmapOps qcow2_bitmap_ops;
/*
 * Rewrites the header extensions with a bitmaps extension for
 * @nb_bitmaps bitmaps (none, and the autoclear bit cleared, for 0), in
 * one write of the first cluster (qcow2.c).
 */
int qcow2_write_bitmaps_ext(BlockDriverState *bs, uint32_t nb_bitmaps,
                            uint64_t dir_size, uint64_t dir_offset,
                            Error **errp);

/* Entries of a table that covers the whole disk at @bm's granularity. */
uint64_t qcow2_bitmap_table_needed(const BDRVQcow2State *s,
                                   const Qcow2Bitmap *bm);
/*
 * Reads and validates a bitmap's table; @table gets each entry's cluster
 * offset and all-ones flag (the other bits cleared) for its first *@held
 * entries, those inside the file (the others are all-zeroes).  With
 * @map (the check's -M), *@map describes the table and every entry,
 * invalid ones too, even when the load then fails.
 */
int qcow2_bitmap_table_load(BlockDriverState *bs, const Qcow2Bitmap *bm,
                            uint64_t **table, uint32_t *held,
                            Qcow2BitmapTable **map, Error **errp);
Qcow2BitmapInfoList *qcow2_get_bitmap_info_list(BlockDriverState *bs,
                                                Error **errp);

/*
 * The -M metadata map's skeleton, from the header (qcow2-metadata.c);
 * the check's walk adds the lists of tables it visits.
 */
Qcow2Allocation *qcow2_allocation_new(uint64_t offset, uint64_t size);
void qcow2_allocation_append(Qcow2AllocationList **list, uint64_t offset,
                             uint64_t size);
Qcow2L1Table *qcow2_metadata_l1_new(const char *name, uint64_t offset,
                                    uint32_t l1_size);
Qcow2Metadata *qcow2_metadata_new(const BDRVQcow2State *s);

/* Consistency check (qcow2-refcount.c) */
int qcow2_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                BdrvProgressFn *progress, Error **errp);

typedef enum Qcow2SubclusterType {
    QCOW2_SUBCLUSTER_UNALLOCATED,   /* read from the backing file */
    QCOW2_SUBCLUSTER_ZERO,          /* reads as zeros */
    QCOW2_SUBCLUSTER_NORMAL,        /* data at host_offset */
    QCOW2_SUBCLUSTER_COMPRESSED,    /* the whole cluster is compressed */
} Qcow2SubclusterType;

typedef struct Qcow2Mapping {
    Qcow2SubclusterType type;
    uint64_t host_offset;   /* NORMAL: of the guest offset asked for */
    uint64_t l2_entry;      /* COMPRESSED: the descriptor */
    uint64_t bytes;         /* how far the same mapping extends */
} Qcow2Mapping;

/*
 * How guest offset @offset is stored, for at most @bytes bytes: map->bytes
 * says how far the same kind of mapping goes (at most to the end of the
 * subcluster, or of the cluster when compressed).
 */
int qcow2_get_mapping(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                      Qcow2Mapping *map, Error **errp);

/* L2 entry @index of the table at @l2_offset (bitmap 0 without ext. L2). */
int qcow2_read_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                        uint64_t index, uint64_t *entry, uint64_t *bitmap,
                        Error **errp);

/* Guest reads (qcow2-cluster.c) */
int qcow2_co_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    void *buf, Error **errp);

/* Guest writes, zeroes, discard, flush, resize (qcow2-write.c) */
/* The refusals every modifying request shares; marks lazy images dirty. */
int qcow2_prepare_write(BlockDriverState *bs, Error **errp);
/* The writable L2 table for guest @offset (created or copied) and its entry. */
int qcow2_load_l2_entry(BlockDriverState *bs, uint64_t offset,
                        uint64_t *l2_offset, uint64_t *entry,
                        uint64_t *bitmap, Error **errp);
int qcow2_write_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                         uint64_t index, uint64_t entry, uint64_t bitmap,
                         Error **errp);
int qcow2_co_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const void *buf, Error **errp);
int qcow2_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, int flags, Error **errp);
int qcow2_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      Error **errp);
int qcow2_co_flush(BlockDriverState *bs, Error **errp);
int qcow2_co_truncate(BlockDriverState *bs, int64_t offset, Error **errp);
/* Clears the dirty bit we set and frees the write state (at close). */
int qcow2_write_close(BlockDriverState *bs, Error **errp);

/* Compressed cluster writes (qcow2-compress.c) */
int qcow2_co_pwritev_compressed(BlockDriverState *bs, int64_t offset,
                                int64_t bytes, const void *buf, Error **errp);

/*
 * Block status for map and qemu-io (qcow2-map.c), QEMU 7.2's answers:
 * one run of subclusters of the same type (and, for data, contiguous
 * host offsets) inside one L2 table.  Corrupt entries fail with -EIO
 * after 7.2's "qcow2: Image is corrupt: ..." line on stderr.
 */
int qcow2_co_block_status(BlockDriverState *bs, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockDriverState **file, Error **errp);
/*
 * Forgets the L2 entries block status keeps between calls.  Whoever
 * changes an L2 table or the active L1 of an image open read-write must
 * call it (an image open read-only keeps them until close; read-write
 * opens keep nothing past one call anyway, so this is belt and braces).
 * Also frees the cache at close.
 */
void qcow2_map_cache_drop(BlockDriverState *bs);
/* Entry @index of the L2 table at @l2_offset, through that cache. */
int qcow2_map_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                       uint64_t index, uint64_t *entry, uint64_t *bitmap,
                       Error **errp);

/*
 * 7.2's corruption report ("qcow2: Marking image as corrupt: ..." on a
 * read-write open, which also sets the corrupt bit and fails every later
 * request with "No medium found"; "qcow2: Image is corrupt: ..." once on
 * a read-only one), with @errp set to the message (qcow2-map.c).
 */
void G_GNUC_PRINTF(3, 4) qcow2_signal_corruption(BlockDriverState *bs,
                                                 Error **errp,
                                                 const char *fmt, ...);

/* Image creation (qcow2-create.c) */
int qcow2_create(const char *filename, QDict *opts, Error **errp);

/* Encryption header info for `info` (crypto-luks.c) */
ImageInfoSpecificQCow2Encryption *qcow2_crypto_info(BlockDriverState *bs,
                                                    Error **errp);

#endif
