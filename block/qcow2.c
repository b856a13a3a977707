/*
 * qcow2: open, validation of the header and its tables, and the
 * information `qemu-img info` prints.  Mapping, snapshots, bitmaps and
 * encryption headers live in their own files.
 */
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "block/qcow2.h"

static int qcow2_probe(const uint8_t *buf, size_t len, const char *filename)
{
    if (len >= 8 && ldl_be_p(buf) == QCOW_MAGIC && ldl_be_p(buf + 4) >= 2) {
        return 100;
    }
    return 0;
}

bool qcow2_range_valid(uint64_t offset, uint64_t len, uint64_t align)
{
    if (align && (offset % align)) {
        return false;
    }
    return offset <= INT64_MAX && len <= (uint64_t)INT64_MAX - offset;
}

int qcow2_validate_table(BlockDriverState *bs, uint64_t offset,
                         uint64_t entries, size_t entry_len,
                         int64_t max_size, const char *table_name,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (entries > (uint64_t)max_size / entry_len) {
        error_setg(errp, "%s too large", table_name);
        return -EFBIG;
    }
    /*
     * Only alignment and overflow: like 7.2 we accept tables past the
     * end of the file (they read as zeros), and the check reports them.
     */
    if (!qcow2_range_valid(offset, entries * entry_len, s->cluster_size)) {
        error_setg(errp, "%s offset invalid", table_name);
        return -EINVAL;
    }
    return 0;
}

int qcow2_pread_zero_padded(BlockDriverState *bs, uint64_t offset,
                            uint64_t len, void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    memset(buf, 0, len);
    if (offset + len > (uint64_t)s->file_size && s->refcount_table) {
        /* The file grows as it is written; the length read at open is old. */
        int64_t now = bdrv_getlength(bs->file);
        if (now > s->file_size) {
            s->file_size = now;
        }
    }
    if (offset >= (uint64_t)s->file_size) {
        return 0;
    }
    return bdrv_file_pread(bs->file, offset,
                           MIN(len, (uint64_t)s->file_size - offset), buf,
                           errp);
}

uint64_t qcow2_entries_in_file(BDRVQcow2State *s, uint64_t offset,
                               uint64_t entries, size_t entry_len)
{
    uint64_t end = s->file_size > 0 ? (uint64_t)s->file_size : 0;

    if (offset >= end) {
        return 0;
    }
    return MIN(entries, DIV_ROUND_UP(end - offset, entry_len));
}

int qcow2_pread_held(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                     uint64_t held_bytes, void *buf, Error **errp)
{
    /* The conversions are those of a bdrv_file_pread() of all @bytes. */
    int ret = bdrv_file_check_read((int64_t)offset, (int64_t)bytes, errp);

    if (ret < 0 || !held_bytes) {
        return ret;
    }
    return bdrv_file_pread(bs->file, offset, held_bytes, buf, errp);
}

/* Extensions 7.2 writes before the bitmaps extension. */
static bool ext_goes_first(uint32_t magic)
{
    return magic == QCOW2_EXT_MAGIC_BACKING_FORMAT ||
           magic == QCOW2_EXT_MAGIC_CRYPTO_HEADER ||
           magic == QCOW2_EXT_MAGIC_DATA_FILE ||
           magic == QCOW2_EXT_MAGIC_FEATURE_TABLE;
}

static size_t put_bitmaps_ext(uint8_t *buf, size_t off, uint32_t nb,
                              uint64_t dir_size, uint64_t dir_offset)
{
    stl_be_p(buf + off, QCOW2_EXT_MAGIC_BITMAPS);
    stl_be_p(buf + off + 4, 24);
    stl_be_p(buf + off + 8, nb);
    stl_be_p(buf + off + 12, 0);
    stq_be_p(buf + off + 16, dir_size);
    stq_be_p(buf + off + 24, dir_offset);
    return off + QCOW2_EXT_HEADER_SIZE + 24;
}

int qcow2_write_bitmaps_ext(BlockDriverState *bs, uint32_t nb_bitmaps,
                            uint64_t dir_size, uint64_t dir_offset,
                            Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *old = g_malloc0(s->cluster_size);
    g_autofree uint8_t *buf = g_malloc0(s->cluster_size);
    g_autofree Qcow2ExtLocation *locs =
        g_new0(Qcow2ExtLocation, s->nb_ext_locations + 1);
    size_t nb_locs = 0, off = s->header_length, old_end = off;
    bool placed = nb_bitmaps == 0;
    uint64_t backing_offset = 0;
    int ret;

    ret = bdrv_file_pread(bs->file, 0, s->cluster_size, old, errp);
    if (ret < 0) {
        return ret;
    }
    memcpy(buf, old, s->header_length);
    /* The extensions as they are, the old bitmaps one dropped. */
    for (size_t i = 0; i < s->nb_ext_locations; i++) {
        const Qcow2ExtLocation *l = &s->ext_locations[i];
        size_t len = QCOW2_EXT_HEADER_SIZE + QEMU_ALIGN_UP(l->len, 8);

        old_end = MAX(old_end, l->offset + QEMU_ALIGN_UP(l->len, 8) +
                               QCOW2_EXT_HEADER_SIZE);
        if (l->magic == QCOW2_EXT_MAGIC_BITMAPS) {
            continue;
        }
        if (!placed && !ext_goes_first(l->magic)) {
            locs[nb_locs++] = (Qcow2ExtLocation) {
                QCOW2_EXT_MAGIC_BITMAPS, 24, off + QCOW2_EXT_HEADER_SIZE };
            off = put_bitmaps_ext(buf, off, nb_bitmaps, dir_size, dir_offset);
            placed = true;
        }
        if (off + len > s->cluster_size) {
            goto no_room;
        }
        memcpy(buf + off, old + l->offset - QCOW2_EXT_HEADER_SIZE, len);
        locs[nb_locs++] = (Qcow2ExtLocation) {
            l->magic, l->len, off + QCOW2_EXT_HEADER_SIZE };
        off += len;
    }
    if (!placed) {
        if (off + QCOW2_EXT_HEADER_SIZE + 24 > s->cluster_size) {
            goto no_room;
        }
        locs[nb_locs++] = (Qcow2ExtLocation) {
            QCOW2_EXT_MAGIC_BITMAPS, 24, off + QCOW2_EXT_HEADER_SIZE };
        off = put_bitmaps_ext(buf, off, nb_bitmaps, dir_size, dir_offset);
    }
    off += QCOW2_EXT_HEADER_SIZE;       /* the end marker, zeros */
    if (s->backing_file_offset) {
        /* The name follows the extensions, as 7.2 writes it. */
        if (off + s->backing_file_size > s->cluster_size) {
            goto no_room;
        }
        memcpy(buf + off, old + s->backing_file_offset,
               s->backing_file_size);
        old_end = MAX(old_end, s->backing_file_offset + s->backing_file_size);
        backing_offset = off;
        off += s->backing_file_size;
        stq_be_p(buf + 8, backing_offset);
    }
    s->autoclear_features = nb_bitmaps
        ? s->autoclear_features | QCOW2_AUTOCLEAR_BITMAPS
        : s->autoclear_features & ~QCOW2_AUTOCLEAR_BITMAPS;
    stq_be_p(buf + 88, s->autoclear_features);
    ret = bdrv_file_pwrite(bs->file, 0, MAX(off, old_end), buf, errp);
    if (ret < 0) {
        return ret;
    }
    g_free(s->ext_locations);
    s->ext_locations = g_steal_pointer(&locs);
    s->nb_ext_locations = nb_locs;
    s->backing_file_offset = backing_offset;
    s->has_bitmaps_ext = nb_bitmaps != 0;
    s->nb_bitmaps = nb_bitmaps;
    s->bitmap_directory_size = dir_size;
    s->bitmap_directory_offset = dir_offset;
    return bdrv_file_flush(bs->file, errp);

no_room:
    error_setg(errp, "Cannot update the image header: its extensions do "
               "not fit in the first cluster");
    return -ENOSPC;
}

int qcow2_write_incompat_features(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t buf[8];

    stq_be_p(buf, s->incompatible_features);
    return bdrv_file_pwrite(bs->file, QCOW2_INCOMPAT_OFFSET, sizeof(buf), buf,
                            errp);
}

/* Reads [offset, offset + len) of the image file into a new buffer. */
static uint8_t *qcow2_read_bytes(BlockDriverState *bs, uint64_t offset,
                                 uint64_t len, Error **errp)
{
    g_autofree uint8_t *buf = g_try_malloc(len ? len : 1);

    if (!buf) {
        error_setg(errp, "Could not allocate %" PRIu64 " bytes", len);
        return NULL;
    }
    if (bdrv_file_pread(bs->file, offset, len, buf, errp) < 0) {
        return NULL;
    }
    return g_steal_pointer(&buf);
}

static int qcow2_check_features(BlockDriverState *bs, int flags,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t unknown = s->incompatible_features & ~QCOW2_INCOMPAT_MASK;

    if (unknown) {
        g_autofree char *names = qcow2_unknown_features_str(s, unknown);
        error_setg(errp, "Unsupported qcow2 feature(s): %s", names);
        return -ENOTSUP;
    }
    if ((s->incompatible_features & QCOW2_INCOMPAT_CORRUPT) &&
        (flags & BDRV_O_RDWR) && !(flags & BDRV_O_CHECK)) {
        error_setg(errp, "qcow2: Image is corrupt; cannot be opened "
                   "read/write");
        return -EACCES;
    }
    if (s->refcount_order > QCOW2_MAX_REFCOUNT_ORDER) {
        error_setg(errp, "Reference count entry width too large; may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    s->refcount_bits = 1u << s->refcount_order;
    return 0;
}

static int qcow2_check_compression_type(BDRVQcow2State *s, Error **errp)
{
    bool bit = s->incompatible_features & QCOW2_INCOMPAT_COMPRESSION;

    switch (s->compression_type) {
    case QCOW2_COMPRESSION_TYPE_ZLIB_ID:
        break;
    case QCOW2_COMPRESSION_TYPE_ZSTD_ID:
        break;
    default:
        error_setg(errp, "qcow2: unknown compression type: %u",
                   s->compression_type);
        return -ENOTSUP;
    }
    if (s->compression_type == QCOW2_COMPRESSION_TYPE_ZLIB_ID && bit) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must not be set");
        return -EINVAL;
    }
    if (s->compression_type != QCOW2_COMPRESSION_TYPE_ZLIB_ID && !bit) {
        error_setg(errp, "qcow2: Compression type incompatible feature bit "
                   "must be set");
        return -EINVAL;
    }
    return 0;
}

static int qcow2_compute_geometry(BDRVQcow2State *s, Error **errp)
{
    s->l2_entry_size = has_subclusters(s) ? L2E_SIZE_EXTENDED
                                          : L2E_SIZE_NORMAL;
    if (has_subclusters(s) && s->cluster_bits < QCOW_EXTL2_MIN_CLUSTER_BITS) {
        error_setg(errp, "Unsupported subcluster size: %llu",
                   (1ull << s->cluster_bits) /
                   QCOW_EXTL2_SUBCLUSTERS_PER_CLUSTER);
        return -EINVAL;
    }
    s->l2_bits = s->cluster_bits - (has_subclusters(s) ? 4 : 3);
    s->l2_size = 1ull << s->l2_bits;
    s->subcluster_bits = s->cluster_bits -
                         (has_subclusters(s) ? 5 : 0);
    s->subcluster_size = 1ull << s->subcluster_bits;
    /* Compressed descriptor: offset bits, then the sector count. */
    s->csize_shift = 62 - (s->cluster_bits - 8);
    s->csize_mask = (1ull << (s->cluster_bits - 8)) - 1;
    s->cluster_offset_mask = (1ull << s->csize_shift) - 1;
    return 0;
}

static int qcow2_check_tables(BlockDriverState *bs, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_min, l2_span;
    int ret;

    if (s->refcount_table_clusters >
        QCOW_MAX_REFTABLE_SIZE / s->cluster_size) {
        error_setg(errp, "Reference count table too large");
        return -EINVAL;
    }
    if (s->refcount_table_clusters == 0 && !(flags & BDRV_O_CHECK)) {
        error_setg(errp, "Image does not contain a reference count table");
        return -EINVAL;
    }
    ret = qcow2_validate_table(bs, s->refcount_table_offset,
                               s->refcount_table_clusters,
                               s->cluster_size, QCOW_MAX_REFTABLE_SIZE,
                               "Reference count table", errp);
    if (ret < 0) {
        return ret;
    }
    if (!(flags & BDRV_O_CHECK)) {
        ret = qcow2_validate_table(bs, s->snapshots_offset, s->nb_snapshots,
                                   QCOW2_SNAPSHOT_HEADER_SIZE,
                                   (int64_t)QCOW_MAX_SNAPSHOTS *
                                   QCOW2_SNAPSHOT_HEADER_SIZE,
                                   "Snapshot table", errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2_validate_table(bs, s->l1_table_offset, s->l1_size, L1E_SIZE,
                               QCOW_MAX_L1_SIZE, "Active L1 table", errp);
    if (ret < 0) {
        return ret;
    }
    /*
     * The L1 table must map the whole virtual disk.  The rounding wraps
     * in 64 bits for sizes near 2^64, as 7.2's does; such sizes are
     * refused after the open ("Could not refresh total sector count").
     */
    l2_span = s->cluster_bits + s->l2_bits;
    l1_min = (s->size + (1ull << l2_span) - 1) >> l2_span;
    if (l1_min > INT32_MAX) {
        error_setg(errp, "Image is too big");
        return -EFBIG;
    }
    if (s->l1_size < l1_min) {
        error_setg(errp, "L1 table is too small");
        return -EINVAL;
    }
    return 0;
}

static int qcow2_load_l1(BlockDriverState *bs, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *raw = NULL;

    s->l1_held = (flags & BDRV_O_RDWR)
                 ? s->l1_size
                 : qcow2_entries_in_file(s, s->l1_table_offset, s->l1_size,
                                         L1E_SIZE);
    s->l1_table = g_new0(uint64_t, s->l1_held ? s->l1_held : 1);
    if (!s->l1_held) {
        return 0;
    }
    raw = qcow2_read_bytes(bs, s->l1_table_offset,
                           (uint64_t)s->l1_held * L1E_SIZE, errp);
    if (!raw) {
        error_prepend(errp, "Could not read L1 table: ");
        return -EIO;
    }
    for (uint32_t i = 0; i < s->l1_held; i++) {
        s->l1_table[i] = ldq_be_p(raw + (size_t)i * L1E_SIZE);
    }
    return 0;
}

static int qcow2_read_backing_name(BlockDriverState *bs, const uint8_t *buf,
                                   Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->backing_file_offset) {
        return 0;
    }
    if (s->backing_file_size > QCOW_MAX_BACKING_FILE_SIZE ||
        s->backing_file_size > s->cluster_size - s->backing_file_offset) {
        error_setg(errp, "Backing file name too long");
        return -EINVAL;
    }
    bs->backing_file = g_strndup((const char *)buf + s->backing_file_offset,
                                 s->backing_file_size);
    if (!bs->backing_file[0]) {
        /* An empty name means no backing file, as in 7.2. */
        g_clear_pointer(&bs->backing_file, g_free);
        return 0;
    }
    if (s->image_backing_format && s->image_backing_format[0]) {
        bs->backing_format = g_strdup(s->image_backing_format);
    }
    bs->full_backing_filename = path_combine(bs->filename, bs->backing_file);
    return 0;
}

static int qcow2_open_data_file(BlockDriverState *bs, int flags,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (!has_data_file(s)) {
        if ((s->autoclear_features & QCOW2_AUTOCLEAR_DATA_FILE_RAW) &&
            !(flags & BDRV_O_NO_IO)) {
            /* 7.2 refuses it for an open that may do I/O... */
            error_setg(errp, "data-file-raw requires a data file");
            return -EINVAL;
        }
        if (s->autoclear_features & QCOW2_AUTOCLEAR_DATA_FILE_RAW) {
            /* ... and for info drops the meaningless bit. */
            s->autoclear_features &= ~QCOW2_AUTOCLEAR_DATA_FILE_RAW;
        }
        s->data_file = bs->file;
        return 0;
    }
    if (flags & BDRV_O_NO_IO) {
        /*
         * Metadata only (`info`): the name is all that is shown, and 7.2
         * opens such images even when the data file or its name is
         * missing.  Guest reads refuse without bs->data_file.
         */
        return 0;
    }
    if (!s->image_data_file) {
        error_setg(errp, "'data-file' is required for this image");
        return -EINVAL;
    }
    /*
     * Unlike a backing file name, 7.2 takes a relative data file name
     * relative to the working directory, not to the image: so do we,
     * or the same command would open a different file.
     */
    bs->data_file = bdrv_open_protocol(s->image_data_file, flags, errp);
    if (!bs->data_file) {
        return -EINVAL;
    }
    s->data_file = bs->data_file;
    return 0;
}

static int qcow2_read_first_cluster(BlockDriverState *bs, uint8_t **bufp,
                                    Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t head[QCOW2_HEADER_READ_SIZE];
    int64_t file_size = bdrv_getlength(bs->file);
    int ret;

    if (file_size < 0) {
        error_setg_errno(errp, (int)-file_size,
                         "Could not determine image size");
        return (int)file_size;
    }
    ret = bdrv_file_pread(bs->file, 0, sizeof(head), head, errp);
    if (ret < 0) {
        error_prepend(errp, "Could not read qcow2 header: ");
        return ret;
    }
    ret = qcow2_parse_header(s, head, sizeof(head), file_size, errp);
    if (ret < 0) {
        return ret;
    }
    /* cluster_size is at most 2 MiB here: a bounded allocation. */
    *bufp = g_malloc0(MAX(s->cluster_size, QCOW2_HEADER_READ_SIZE));
    return bdrv_file_pread(bs->file, 0, s->cluster_size, *bufp, errp);
}

/*
 * A read-write open: an image left dirty (lazy refcounts, writer killed)
 * is repaired first, printing the findings as 7.2 does; then the
 * refcounts are loaded for the write path.
 */
static int qcow2_open_rw(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (s->version >= 3 && (s->incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        BdrvCheckResult res = { 0 };

        ret = qcow2_check(bs, &res, BDRV_FIX_ERRORS | BDRV_FIX_LEAKS, NULL,
                          errp);
        qapi_free_Qcow2Metadata(res.metadata);
        if (ret < 0) {
            error_prepend(errp, "Could not repair dirty image: ");
            return ret;
        }
    }
    ret = qcow2_refcount_open(bs, errp);
    return ret < 0 ? ret : qcow2_dirty_bitmaps_open(bs, errp);
}

/* Checks in qemu-img 7.2's order, so a damaged image gets its message. */
static int qcow2_open(BlockDriverState *bs, QDict *options, int flags,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *buf = NULL;
    uint64_t ext_end;
    int ret;

    ret = qcow2_read_first_cluster(bs, &buf, errp);
    if (ret < 0) {
        return ret;
    }
    ext_end = s->backing_file_offset ? s->backing_file_offset
                                     : s->cluster_size;
    if ((ret = qcow2_check_compression_type(s, errp)) < 0) {
        return ret;
    }
    if (s->incompatible_features & ~QCOW2_INCOMPAT_MASK) {
        qcow2_scan_feature_table(s, buf, s->header_length, ext_end);
    }
    if ((ret = qcow2_check_features(bs, flags, errp)) < 0 ||
        (ret = qcow2_compute_geometry(s, errp)) < 0 ||
        (ret = qcow2_check_tables(bs, flags, errp)) < 0) {
        return ret;
    }
    if (s->crypt_method > QCOW_CRYPT_LUKS) {
        error_setg(errp, "Unsupported encryption method %d",
                   (int32_t)s->crypt_method);
        return -EINVAL;
    }
    qcow2_free_header(s);   /* the tolerant pass may have kept names */
    if (s->header_length < ext_end) {
        ret = qcow2_parse_extensions(s, buf, s->cluster_size,
                                     s->header_length, ext_end, errp);
        if (ret < 0) {
            return ret;
        }
    }
    bs->encrypted = s->crypt_method != QCOW_CRYPT_NONE;
    if (s->crypt_method == QCOW_CRYPT_LUKS && !s->crypto_header_offset &&
        !s->crypto_header_length) {
        /* Before the key, as 7.2 (which crashes here for info). */
        error_setg(errp, "Missing CRYPTO header for crypt method %" PRIu32,
                   s->crypt_method);
        return -EINVAL;
    }
    if (bs->encrypted && !(flags & (BDRV_O_NO_IO | BDRV_O_HAS_KEY))) {
        /* 7.2 unlocks the key for any open that may do I/O. */
        error_setg(errp, "Parameter 'encrypt.key-secret' is required for "
                   "cipher");
        return -EINVAL;
    }
    if (bs->encrypted) {
        /* Decoded now so that a bad LUKS header fails the open. */
        s->crypto_info = qcow2_crypto_info(bs, errp);
        if (!s->crypto_info) {
            return -EINVAL;
        }
    }
    if ((ret = qcow2_load_l1(bs, flags, errp)) < 0 ||
        (ret = qcow2_open_data_file(bs, flags, errp)) < 0 ||
        (ret = qcow2_read_backing_name(bs, buf, errp)) < 0) {
        return ret;
    }
    if (!(flags & BDRV_O_CHECK) &&
        (ret = qcow2_read_snapshots(bs, errp)) < 0) {
        return ret;
    }
    if (s->has_bitmaps_ext &&
        (ret = qcow2_read_bitmap_directory(bs, errp)) < 0) {
        return ret;
    }
    if (s->size > INT64_MAX) {
        error_setg_errno(errp, EFBIG, "Could not refresh total sector count");
        return -EFBIG;
    }
    /* The block layer counts whole 512-byte sectors, as QEMU's does. */
    bs->total_bytes = (int64_t)QEMU_ALIGN_DOWN(s->size, BDRV_SECTOR_SIZE);
    if ((flags & BDRV_O_RDWR) && !(flags & BDRV_O_CHECK)) {
        return qcow2_open_rw(bs, errp);
    }
    return 0;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->refcount_table) {
        /* Nothing to report to at close; the data is already written. */
        qcow2_write_close(bs, NULL);
    }

    qcow2_free_header(s);
    qcow2_free_snapshots(s);
    qcow2_free_bitmaps(s);
    qcow2_dirty_bitmaps_free(s);
    qcow2_map_cache_drop(bs);
    g_clear_pointer(&s->l1_table, g_free);
    qapi_free_ImageInfoSpecificQCow2Encryption(s->crypto_info);
    s->crypto_info = NULL;
}

static int64_t qcow2_getlength(BlockDriverState *bs)
{
    return bs->total_bytes;
}

static int qcow2_get_info(BlockDriverState *bs, ImageInfo *info,
                          Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    info->has_cluster_size = true;
    info->cluster_size = (int64_t)s->cluster_size;
    info->has_dirty_flag = true;
    info->dirty_flag = s->incompatible_features & QCOW2_INCOMPAT_DIRTY;
    return 0;
}

static ImageInfoSpecific *qcow2_get_specific_info(BlockDriverState *bs,
                                                  Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autoptr(ImageInfoSpecific) spec = g_new0(ImageInfoSpecific, 1);
    ImageInfoSpecificQCow2 *q = g_new0(ImageInfoSpecificQCow2, 1);

    spec->type = IMAGE_INFO_SPECIFIC_KIND_QCOW2;
    spec->u.qcow2.data = q;
    q->refcount_bits = s->refcount_bits;
    q->compression_type = s->compression_type == QCOW2_COMPRESSION_TYPE_ZSTD_ID
                          ? QCOW2_COMPRESSION_TYPE_ZSTD
                          : QCOW2_COMPRESSION_TYPE_ZLIB;
    if (s->crypto_info) {
        /* Decoded at open; handed over (info is asked for once). */
        q->has_encrypt = true;
        q->encrypt = g_steal_pointer(&s->crypto_info);
    }
    if (s->version == 2) {
        q->compat = g_strdup("0.10");
        return g_steal_pointer(&spec);
    }
    q->compat = g_strdup("1.1");
    q->has_lazy_refcounts = true;
    q->lazy_refcounts = s->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS;
    q->has_corrupt = true;
    q->corrupt = s->incompatible_features & QCOW2_INCOMPAT_CORRUPT;
    q->has_extended_l2 = true;
    q->extended_l2 = has_subclusters(s);
    /* 7.2 shows the name and the raw bit independently of each other. */
    if (s->image_data_file) {
        q->has_data_file = true;
        q->data_file = g_strdup(s->image_data_file);
    }
    if (has_data_file(s)) {
        q->has_data_file_raw = true;
        q->data_file_raw = s->autoclear_features &
                           QCOW2_AUTOCLEAR_DATA_FILE_RAW;
    }
    if (s->has_bitmaps_ext) {
        q->has_bitmaps = true;
        q->bitmaps = qcow2_get_bitmap_info_list(bs, errp);
    }
    return g_steal_pointer(&spec);
}

/*
 * What 7.2's qcow2 lets a reopen change.  Lazy refcounts change only
 * what the file holds while it is open (the dirty bit); the rest tunes
 * caches and discards.
 */
static const BdrvRuntimeOpt qcow2_runtime_opts[] = {
    { "lazy-refcounts", BDRV_OPT_BOOL },
    { "pass-discard-request", BDRV_OPT_BOOL },
    { "pass-discard-snapshot", BDRV_OPT_BOOL },
    { "pass-discard-other", BDRV_OPT_BOOL },
    { "cache-size", BDRV_OPT_SIZE },
    { "l2-cache-size", BDRV_OPT_SIZE },
    { "l2-cache-entry-size", BDRV_OPT_SIZE },
    { "refcount-cache-size", BDRV_OPT_SIZE },
    /* The limits are checked in this order (7.2's). */
    { "cache-clean-interval", BDRV_OPT_NUMBER, .max = UINT_MAX,
      .max_error = "Cache clean interval too big" },
    { "overlap-check", BDRV_OPT_ENUM,
      (const char *const[]) { "none", "constant", "cached", "all", NULL } },
    { NULL }
};

/* A size option of a reopen (its syntax is checked); -1 when absent. */
static int64_t reopen_size(QDict *options, const char *name)
{
    const char *v = qdict_get_try_str(options, name);
    uint64_t size;

    if (!v || qemu_strtosz(v, &size) < 0) {
        return -1;
    }
    return (int64_t)MIN(size, (uint64_t)INT64_MAX);
}

/* 7.2's rules between the cache sizes of a reopen. */
static int qcow2_reopen_check(BlockDriverState *bs, QDict *options,
                              Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t total = reopen_size(options, "cache-size");
    int64_t l2 = reopen_size(options, "l2-cache-size");
    int64_t refcount = reopen_size(options, "refcount-cache-size");
    int64_t entry = reopen_size(options, "l2-cache-entry-size");

    if (total >= 0) {
        if (l2 >= 0 && refcount >= 0) {
            error_setg(errp, "cache-size, l2-cache-size and "
                       "refcount-cache-size may not be set at the same "
                       "time");
            return -EINVAL;
        }
        if (l2 > total) {
            error_setg(errp, "l2-cache-size may not exceed cache-size");
            return -EINVAL;
        }
        if (refcount > total) {
            error_setg(errp, "refcount-cache-size may not exceed "
                       "cache-size");
            return -EINVAL;
        }
    }
    if (entry >= 0 && (entry < 512 || entry > (int64_t)s->cluster_size ||
                       (entry & (entry - 1)))) {
        error_setg(errp, "L2 cache entry size must be a power of two "
                   "between 512 and the cluster size (%" PRIu64 ")",
                   s->cluster_size);
        return -EINVAL;
    }
    return 0;
}

const BlockDriver bdrv_qcow2 = {
    .format_name = "qcow2",
    .instance_size = sizeof(BDRVQcow2State),
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .getlength = qcow2_getlength,
    .co_preadv = qcow2_co_preadv,
    .co_pwritev = qcow2_co_pwritev,
    .co_pwritev_compressed = qcow2_co_pwritev_compressed,
    .co_pwrite_zeroes = qcow2_co_pwrite_zeroes,
    .co_pdiscard = qcow2_co_pdiscard,
    .co_flush = qcow2_co_flush,
    .co_truncate = qcow2_co_truncate,
    .co_block_status = qcow2_co_block_status,
    .create = qcow2_create,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_goto = qcow2_snapshot_goto,
    .snapshot_load_tmp = qcow2_snapshot_load_tmp,
    .snapshot_delete = qcow2_snapshot_delete,
    .get_info = qcow2_get_info,
    .snapshot_list = qcow2_snapshot_list,
    .get_specific_info = qcow2_get_specific_info,
    .check = qcow2_check,
    .bitmap_ops = &qcow2_bitmap_ops,
    .inactivate = qcow2_write_close,
    .runtime_opts = qcow2_runtime_opts,
    .reopen_check = qcow2_reopen_check,
};
