/*
 * qcow2 persistent dirty bitmaps in use: loaded into memory when the
 * image is opened read-write, updated by guest writes while enabled,
 * changed by `qemu-img bitmap`, and stored back when the image is
 * closed.  The on-disk reader (directory, tables) is qcow2-bitmap.c.
 *
 * On disk, a bitmap whose data is in memory is marked in use: if the
 * process dies, the next open sees it as inconsistent, as QEMU does.
 * Storing writes the new data clusters, tables and directory first,
 * then switches the header extension in one write, then frees the old
 * clusters, so a crash at any point leaves at worst leaked clusters.
 */
#include "qemu/osdep.h"
#include "block/qcow2.h"

static bool buffer_is_zero(const uint8_t *buf, size_t len)
{
    return !len || (buf[0] == 0 && !memcmp(buf, buf + 1, len - 1));
}

/* Bytes of serialized data for @nb_bits bits, as stored in clusters. */
static uint64_t bits_bytes(uint64_t nb_bits)
{
    return DIV_ROUND_UP(nb_bits, 8);
}

static uint64_t nb_bits_for(const BDRVQcow2State *s, uint8_t gran_bits)
{
    return DIV_ROUND_UP(s->size, 1ull << gran_bits);
}

void qcow2_dirty_bitmaps_free(BDRVQcow2State *s)
{
    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        g_free(s->dirty_bitmaps[i].name);
        g_free(s->dirty_bitmaps[i].bits);
        g_free(s->dirty_bitmaps[i].old_data);
    }
    g_clear_pointer(&s->dirty_bitmaps, g_free);
    s->nb_dirty_bitmaps = 0;
    g_clear_pointer(&s->freed_on_store, g_array_unref);
}

static int write_directory(BlockDriverState *bs, bool on_disk,
                           Error **errp);
static int free_pending(BlockDriverState *bs, Error **errp);

static Qcow2DirtyBitmap *find_bitmap(BDRVQcow2State *s, const char *name,
                                     Error **errp)
{
    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        if (!strcmp(s->dirty_bitmaps[i].name, name)) {
            return &s->dirty_bitmaps[i];
        }
    }
    error_setg(errp, "Dirty bitmap '%s' not found", name);
    return NULL;
}

/*
 * Clusters to give back once the new directory is in the header; data
 * clusters are also discarded in the file, tables and directories not
 * (as 7.2 does).
 */
static void free_later(BDRVQcow2State *s, uint64_t offset, uint64_t bytes,
                       bool discard)
{
    Qcow2Range r = { offset, bytes, discard };

    if (!offset || !bytes) {
        return;
    }
    if (!s->freed_on_store) {
        s->freed_on_store = g_array_new(FALSE, FALSE, sizeof(Qcow2Range));
    }
    g_array_append_val(s->freed_on_store, r);
}

/* The old table and data clusters of @bm go when it is next stored. */
static void free_old_clusters(BDRVQcow2State *s, Qcow2DirtyBitmap *bm)
{
    for (uint32_t i = 0; i < bm->nb_old_data; i++) {
        free_later(s, bm->old_data[i], s->cluster_size, true);
    }
    free_later(s, bm->table_offset,
               QEMU_ALIGN_UP((uint64_t)bm->table_size * 8, s->cluster_size),
               false);
    g_clear_pointer(&bm->old_data, g_free);
    bm->nb_old_data = 0;
    bm->table_offset = 0;
    bm->table_size = 0;
}

/*
 * What one entry of an on-disk bitmap table says about the @nb_bits bits
 * from bit @first on: @cluster holds them serialized (read from
 * @data_offset), or it is NULL and they are all @all_ones.
 */
typedef int BitmapEntryFn(void *opaque, uint64_t first, uint64_t nb_bits,
                          uint64_t data_offset, const uint8_t *cluster,
                          bool all_ones);

/*
 * Calls @fn for each entry of @bm's table in order, one cluster in
 * memory at a time.  @table holds the @held entries that lie inside the
 * file (qcow2_bitmap_table_load()); the others read as zeros.
 */
static int walk_bitmap_table(BlockDriverState *bs, const Qcow2Bitmap *bm,
                             const uint64_t *table, uint32_t held,
                             BitmapEntryFn *fn, void *opaque, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_bits = nb_bits_for(s, bm->granularity_bits);
    uint64_t per_cluster = (uint64_t)s->cluster_size * 8;
    g_autofree uint8_t *cluster = g_malloc(s->cluster_size);
    int ret;

    /* bitmap_entry_valid() made the table cover the disk. */
    for (uint64_t i = 0; i * per_cluster < nb_bits; i++) {
        uint64_t first = i * per_cluster;
        uint64_t n = MIN(per_cluster, nb_bits - first);
        uint64_t e = i < held ? table[i] : 0;
        uint64_t data = e & BME_TABLE_ENTRY_OFFSET_MASK;

        if (data) {
            ret = bdrv_file_pread(bs->file, data, s->cluster_size, cluster,
                                  errp);
            if (ret == 0) {
                ret = fn(opaque, first, n, data, cluster, false);
            }
        } else {
            ret = fn(opaque, first, n, 0, NULL,
                     e & BME_TABLE_ENTRY_FLAG_ALL_ONES);
        }
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

typedef struct ReadBits {
    uint8_t *bits;
    GArray *data;       /* the serialized clusters' offsets */
} ReadBits;

static int read_bits_entry(void *opaque, uint64_t first, uint64_t nb_bits,
                           uint64_t data_offset, const uint8_t *cluster,
                           bool all_ones)
{
    ReadBits *r = opaque;
    /* @first is a multiple of a cluster's bits: a whole byte. */
    uint8_t *dst = r->bits + first / 8;

    if (cluster) {
        memcpy(dst, cluster, bits_bytes(nb_bits));
        g_array_append_val(r->data, data_offset);
    } else if (all_ones) {
        memset(dst, 0xff, bits_bytes(nb_bits));
    }
    return 0;
}

/*
 * Reads the data of the on-disk bitmap @bm into a new buffer of
 * bits_bytes() bytes: bit i covers guest bytes [i << granularity_bits,
 * (i + 1) << granularity_bits).  With @data_clusters, also returns the
 * serialized clusters (to free them when the bitmap is rewritten).
 */
int qcow2_bitmap_read_bits(BlockDriverState *bs, const Qcow2Bitmap *bm,
                           uint8_t **bitsp, uint64_t **data_clusters,
                           uint32_t *nb_data, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t nb_bits = nb_bits_for(s, bm->granularity_bits);
    uint64_t len = bits_bytes(nb_bits);
    g_autofree uint64_t *table = NULL;
    g_autofree uint8_t *bits = NULL;
    g_autoptr(GArray) data = g_array_new(FALSE, FALSE, sizeof(uint64_t));
    ReadBits r = { .data = data };
    uint32_t held;
    int ret;

    ret = qcow2_bitmap_table_load(bs, bm, &table, &held, NULL, errp);
    if (ret < 0) {
        return ret;
    }
    bits = r.bits = g_try_malloc0(MAX(len, 1));
    if (!bits) {
        error_setg(errp, "Cannot allocate the data of bitmap '%s'",
                   bm->name);
        return -ENOMEM;
    }
    ret = walk_bitmap_table(bs, bm, table, held, read_bits_entry, &r, errp);
    if (ret < 0) {
        return ret;
    }
    if (nb_bits % 8) {
        bits[len - 1] &= (1u << (nb_bits % 8)) - 1;
    }
    *bitsp = g_steal_pointer(&bits);
    if (data_clusters) {
        *nb_data = data->len;
        *data_clusters = (uint64_t *)g_array_free(g_steal_pointer(&data),
                                                  FALSE);
    }
    return 0;
}

/* Sets or clears the in-use flag of every consistent bitmap on disk. */
static int write_dir_flags(BlockDriverState *bs, bool in_use, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *dir = g_malloc(s->bitmap_directory_size);
    uint64_t pos = 0;
    int ret;

    ret = bdrv_file_pread(bs->file, s->bitmap_directory_offset,
                          s->bitmap_directory_size, dir, errp);
    if (ret < 0) {
        return ret;
    }
    /* The directory parsed at open: every entry is whole and valid. */
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        uint32_t flags = ldl_be_p(dir + pos + 12);
        uint16_t name_size = lduw_be_p(dir + pos + 18);

        if (!s->dirty_bitmaps[i].inconsistent) {
            flags = in_use ? flags | BME_FLAG_IN_USE
                           : flags & ~BME_FLAG_IN_USE;
            stl_be_p(dir + pos + 12, flags);
        }
        pos += QEMU_ALIGN_UP(QCOW2_BITMAP_DIR_ENTRY_SIZE + name_size, 8);
    }
    ret = bdrv_file_pwrite(bs->file, s->bitmap_directory_offset,
                           s->bitmap_directory_size, dir, errp);
    return ret < 0 ? ret : bdrv_file_flush(bs->file, errp);
}

int qcow2_dirty_bitmaps_open(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    s->bitmaps_rw = true;
    if (!s->bitmaps_loaded || !s->nb_bitmaps) {
        return 0;
    }
    s->dirty_bitmaps = g_new0(Qcow2DirtyBitmap, s->nb_bitmaps);
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const Qcow2Bitmap *disk = &s->bitmaps[i];
        Qcow2DirtyBitmap *bm = &s->dirty_bitmaps[i];

        bm->name = g_strdup(disk->name);
        bm->granularity_bits = disk->granularity_bits;
        bm->enabled = disk->flags & BME_FLAG_AUTO;
        bm->inconsistent = disk->flags & BME_FLAG_IN_USE;
        bm->disk_flags = disk->flags | BME_FLAG_IN_USE;
        bm->table_offset = disk->table_offset;
        bm->table_size = disk->table_size;
        bm->nb_bits = nb_bits_for(s, bm->granularity_bits);
        s->nb_dirty_bitmaps++;
        if (bm->inconsistent) {
            continue;
        }
        ret = qcow2_bitmap_read_bits(bs, disk, &bm->bits, &bm->old_data,
                                     &bm->nb_old_data, errp);
        if (ret < 0) {
            return ret;
        }
    }
    /* In use from now until stored: a crash leaves them inconsistent. */
    return write_dir_flags(bs, true, errp);
}

void qcow2_dirty_bitmaps_mark(BlockDriverState *bs, uint64_t offset,
                              uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;

    if (!bytes) {
        return;
    }
    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        Qcow2DirtyBitmap *bm = &s->dirty_bitmaps[i];
        uint64_t first = offset >> bm->granularity_bits;
        uint64_t last = (offset + bytes - 1) >> bm->granularity_bits;

        if (!bm->enabled || bm->inconsistent) {
            continue;
        }
        last = MIN(last, bm->nb_bits - 1);
        for (uint64_t k = first; k <= last; k++) {
            bm->bits[k / 8] |= 1u << (k % 8);
        }
    }
}

void qcow2_dirty_bitmaps_resize(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        Qcow2DirtyBitmap *bm = &s->dirty_bitmaps[i];
        uint64_t old_len = bits_bytes(bm->nb_bits);
        uint64_t nb_bits = nb_bits_for(s, bm->granularity_bits);
        uint64_t len = bits_bytes(nb_bits);

        if (bm->inconsistent || nb_bits <= bm->nb_bits) {
            continue;
        }
        /* Growing only (qcow2 does not shrink): new bits are clean. */
        bm->bits = g_realloc(bm->bits, MAX(len, 1));
        memset(bm->bits + old_len, 0, len - old_len);
        bm->nb_bits = nb_bits;
    }
}

static bool names_valid(BDRVQcow2State *s, const char *name, Error **errp)
{
    if (!*name) {
        error_setg(errp, "Bitmap name cannot be empty");
        return false;
    }
    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        if (!strcmp(s->dirty_bitmaps[i].name, name)) {
            error_setg(errp, "Bitmap already exists: %s", name);
            return false;
        }
    }
    return true;
}

static int qcow2_bitmap_add(BlockDriverState *bs, const char *name,
                            uint32_t granularity, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DirtyBitmap *bm;
    uint8_t gran_bits;

    if (!s->bitmaps_rw) {
        error_setg(errp, "Block node is read-only");
        return -EACCES;
    }
    if (!names_valid(s, name, errp)) {
        return -EINVAL;
    }
    if (granularity < 512 || (granularity & (granularity - 1)) ||
        granularity > (1u << BME_MAX_GRANULARITY_BITS)) {
        error_setg(errp, "Granularity must be power of 2 and at least 512");
        return -EINVAL;
    }
    gran_bits = __builtin_ctz(granularity);
    if (strlen(name) > BME_MAX_NAME_SIZE) {
        g_autofree char *node = bdrv_node_name(bs);

        error_setg(errp, "Can't make bitmap '%s' persistent in '%s': Name "
                   "length exceeds maximum (%u characters)", name, node,
                   BME_MAX_NAME_SIZE);
        return -EINVAL;
    }
    if (s->version < 3) {
        g_autofree char *node = bdrv_node_name(bs);

        error_setg(errp, "Can't make bitmap '%s' persistent in '%s': "
                   "Cannot store dirty bitmaps in qcow2 v2 files", name,
                   node);
        return -ENOTSUP;
    }
    if (s->nb_dirty_bitmaps >= QCOW2_MAX_BITMAPS) {
        g_autofree char *node = bdrv_node_name(bs);

        error_setg(errp, "Can't make bitmap '%s' persistent in '%s': Too "
                   "many persistent bitmaps", name, node);
        return -EINVAL;
    }
    s->dirty_bitmaps = g_renew(Qcow2DirtyBitmap, s->dirty_bitmaps,
                               s->nb_dirty_bitmaps + 1);
    bm = &s->dirty_bitmaps[s->nb_dirty_bitmaps++];
    *bm = (Qcow2DirtyBitmap) {
        .name = g_strdup(name),
        .granularity_bits = gran_bits,
        .enabled = true,
        .created = true,
        .nb_bits = nb_bits_for(s, gran_bits),
    };
    bm->bits = g_malloc0(MAX(bits_bytes(bm->nb_bits), 1));
    return 0;
}

static int qcow2_bitmap_remove(BlockDriverState *bs, const char *name,
                               Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DirtyBitmap *bm = find_bitmap(s, name, errp);
    bool on_disk;
    uint32_t i;

    if (!bm) {
        return -ENOENT;
    }
    i = bm - s->dirty_bitmaps;
    on_disk = bm->table_offset != 0;
    if (bm->inconsistent && bm->table_offset) {
        /* Its table was not read at open: read it to free its data. */
        g_autofree uint8_t *bits = NULL;
        Qcow2Bitmap disk = {
            .table_offset = bm->table_offset, .table_size = bm->table_size,
            .granularity_bits = bm->granularity_bits, .name = bm->name,
            .type = 1, .flags = BME_FLAG_IN_USE,
        };
        qcow2_bitmap_read_bits(bs, &disk, &bits, &bm->old_data,
                               &bm->nb_old_data, NULL);
    }
    g_autoptr(GArray) pending = g_steal_pointer(&s->freed_on_store);

    free_old_clusters(s, bm);
    g_free(bm->name);
    g_free(bm->bits);
    memmove(bm, bm + 1, (s->nb_dirty_bitmaps - i - 1) * sizeof(*bm));
    s->nb_dirty_bitmaps--;
    if (!on_disk) {
        s->freed_on_store = g_steal_pointer(&pending);
        return 0;
    }
    /*
     * Gone from the file at once, as 7.2 does: a directory without it,
     * then its old directory, data and table are freed.
     */
    {
        uint64_t old_dir = s->bitmap_directory_offset;
        uint64_t old_dir_size = s->bitmap_directory_size;
        GArray *mine = g_steal_pointer(&s->freed_on_store);
        int ret = write_directory(bs, true, errp);

        if (ret == 0 && old_dir) {
            ret = qcow2_free_clusters(bs, old_dir,
                                      QEMU_ALIGN_UP(old_dir_size,
                                                    s->cluster_size), errp);
        }
        s->freed_on_store = mine;
        if (ret == 0) {
            ret = free_pending(bs, errp);
        }
        s->freed_on_store = g_steal_pointer(&pending);
        return ret;
    }
}

static Qcow2DirtyBitmap *usable_bitmap(BDRVQcow2State *s, const char *name,
                                       Error **errp)
{
    Qcow2DirtyBitmap *bm = find_bitmap(s, name, errp);

    if (bm && bm->inconsistent) {
        error_setg(errp, "Bitmap '%s' is inconsistent and cannot be used",
                   name);
        error_append_hint(errp, "Try block-dirty-bitmap-remove to delete "
                          "this bitmap from disk\n");
        return NULL;
    }
    return bm;
}

static int qcow2_bitmap_clear(BlockDriverState *bs, const char *name,
                              Error **errp)
{
    Qcow2DirtyBitmap *bm = usable_bitmap(bs->opaque, name, errp);

    if (!bm) {
        return -EINVAL;
    }
    memset(bm->bits, 0, MAX(bits_bytes(bm->nb_bits), 1));
    return 0;
}

static int qcow2_bitmap_set_enabled(BlockDriverState *bs, const char *name,
                                    bool enabled, Error **errp)
{
    Qcow2DirtyBitmap *bm = usable_bitmap(bs->opaque, name, errp);

    if (!bm) {
        return -EINVAL;
    }
    bm->enabled = enabled;
    return 0;
}

/* A read-only open's bitmap @name, from the directory, if consistent. */
static int usable_disk_bitmap(BDRVQcow2State *s, const char *name,
                              const Qcow2Bitmap **disk, Error **errp)
{
    for (uint32_t i = 0; s->bitmaps_loaded && i < s->nb_bitmaps; i++) {
        if (!strcmp(s->bitmaps[i].name, name)) {
            if (s->bitmaps[i].flags & BME_FLAG_IN_USE) {
                error_setg(errp, "Bitmap '%s' is inconsistent and cannot be "
                           "used", name);
                return -EINVAL;
            }
            *disk = &s->bitmaps[i];
            return 0;
        }
    }
    error_setg(errp, "Dirty bitmap '%s' not found", name);
    return -ENOENT;
}

static int qcow2_bitmap_get(BlockDriverState *bs, const char *name,
                            BdrvBitmapData *out, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    const Qcow2Bitmap *disk;
    int ret;

    memset(out, 0, sizeof(*out));
    out->size = s->size;
    if (s->bitmaps_rw) {
        Qcow2DirtyBitmap *bm = usable_bitmap(s, name, errp);

        if (!bm) {
            return -EINVAL;
        }
        out->granularity_bits = bm->granularity_bits;
        out->enabled = bm->enabled;
        out->nb_bits = bm->nb_bits;
        out->bits = g_memdup2(bm->bits, MAX(bits_bytes(bm->nb_bits), 1));
        return 0;
    }
    ret = usable_disk_bitmap(s, name, &disk, errp);
    if (ret < 0) {
        return ret;
    }
    out->granularity_bits = disk->granularity_bits;
    out->enabled = disk->flags & BME_FLAG_AUTO;
    out->nb_bits = nb_bits_for(s, disk->granularity_bits);
    return qcow2_bitmap_read_bits(bs, disk, &out->bits, NULL, NULL, errp);
}

static int qcow2_bitmap_list(BlockDriverState *bs, Qcow2BitmapInfoList **list,
                             Error **errp)
{
    *list = qcow2_get_bitmap_info_list(bs, errp);
    return 0;
}

static bool qcow2_bitmap_any(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    return s->nb_dirty_bitmaps != 0;
}

/* The runs of @nb_bits bits of @buf, numbered from @first. */
static int scan_bits(const uint8_t *buf, uint64_t first, uint64_t nb_bits,
                     BdrvBitmapRunFn *fn, void *opaque)
{
    uint64_t k = 0;

    while (k < nb_bits) {
        bool dirty = buf[k / 8] & (1u << (k % 8));
        uint8_t same = dirty ? 0xff : 0;
        uint64_t end = k + 1;
        int ret;

        while (end < nb_bits) {
            if (end % 8 == 0 && end + 8 <= nb_bits && buf[end / 8] == same) {
                end += 8;       /* a whole byte alike */
            } else if (!!(buf[end / 8] & (1u << (end % 8))) == dirty) {
                end++;
            } else {
                break;
            }
        }
        ret = fn(opaque, first + k, end - k, dirty);
        if (ret < 0) {
            return ret;
        }
        k = end;
    }
    return 0;
}

typedef struct BitmapRuns {
    BdrvBitmapRunFn *fn;
    void *opaque;
} BitmapRuns;

static int runs_entry(void *opaque, uint64_t first, uint64_t nb_bits,
                      uint64_t data_offset, const uint8_t *cluster,
                      bool all_ones)
{
    BitmapRuns *r = opaque;

    if (cluster) {
        return scan_bits(cluster, first, nb_bits, r->fn, r->opaque);
    }
    return r->fn(r->opaque, first, nb_bits, all_ones);
}

static int qcow2_bitmap_runs(BlockDriverState *bs, const char *name,
                             uint8_t *granularity_bits, BdrvBitmapRunFn *fn,
                             void *opaque, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2Bitmap *disk = NULL;
    BitmapRuns r = { .fn = fn, .opaque = opaque };
    g_autofree uint64_t *table = NULL;
    uint32_t held;
    int ret;

    if (s->bitmaps_rw) {
        Qcow2DirtyBitmap *bm = usable_bitmap(s, name, errp);

        if (!bm) {
            return -EINVAL;
        }
        *granularity_bits = bm->granularity_bits;
        return fn ? scan_bits(bm->bits, 0, bm->nb_bits, fn, opaque) : 0;
    }
    ret = usable_disk_bitmap(s, name, &disk, errp);
    if (ret < 0) {
        return ret;
    }
    *granularity_bits = disk->granularity_bits;
    if (!fn) {
        return 0;       /* only looked up */
    }
    ret = qcow2_bitmap_table_load(bs, disk, &table, &held, NULL, errp);
    if (ret < 0) {
        return ret;
    }
    /* One table entry at a time: a cluster of bits, or all alike. */
    return walk_bitmap_table(bs, disk, table, held, runs_entry, &r, errp);
}

static int qcow2_bitmap_merge(BlockDriverState *bs, const char *name,
                              const BdrvBitmapData *src, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2DirtyBitmap *bm = usable_bitmap(s, name, errp);

    if (!bm || !src) {
        return bm ? 0 : -EINVAL;
    }
    if (src->size != s->size) {
        error_setg(errp, "Bitmaps are of different sizes (destination size "
                   "is %" PRIu64 ", source size is %" PRIu64 ") and can't "
                   "be merged", s->size, src->size);
        return -EINVAL;
    }
    /* Each dirty source bit dirties the range it covers. */
    for (uint64_t k = 0; k < src->nb_bits; k++) {
        if (src->bits[k / 8] & (1u << (k % 8))) {
            uint64_t start = k << src->granularity_bits;
            uint64_t len = MIN(1ull << src->granularity_bits,
                               s->size - start);
            uint64_t first = start >> bm->granularity_bits;
            uint64_t last = (start + len - 1) >> bm->granularity_bits;

            for (uint64_t j = first; j <= last && j < bm->nb_bits; j++) {
                bm->bits[j / 8] |= 1u << (j % 8);
            }
        }
    }
    return 0;
}

/* Data clusters and table of @bm; sets bm->table_offset/size. */
static int store_bitmap(BlockDriverState *bs, Qcow2DirtyBitmap *bm,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t len = bits_bytes(bm->nb_bits);
    uint32_t table_size = DIV_ROUND_UP(len, s->cluster_size);
    uint64_t table_bytes = QEMU_ALIGN_UP((uint64_t)table_size * 8,
                                         s->cluster_size);
    g_autofree uint8_t *table = g_malloc0(table_bytes);
    g_autofree uint8_t *cluster = g_malloc(s->cluster_size);
    int64_t offset;
    int ret;

    for (uint32_t i = 0; i < table_size; i++) {
        uint64_t start = (uint64_t)i * s->cluster_size;
        uint64_t n = MIN(s->cluster_size, len - start);

        if (buffer_is_zero(bm->bits + start, n)) {
            continue;
        }
        memset(cluster, 0, s->cluster_size);
        memcpy(cluster, bm->bits + start, n);
        offset = qcow2_alloc_clusters(bs, s->cluster_size, errp);
        if (offset < 0) {
            return offset;
        }
        ret = bdrv_file_pwrite(bs->file, offset, s->cluster_size, cluster,
                               errp);
        if (ret < 0) {
            return ret;
        }
        stq_be_p(table + (size_t)i * 8, offset);
    }
    offset = qcow2_alloc_clusters(bs, table_bytes, errp);
    if (offset < 0) {
        return offset;
    }
    /* Only the table's own bytes, as 7.2 writes them. */
    ret = bdrv_file_pwrite(bs->file, offset, (uint64_t)table_size * 8, table,
                           errp);
    if (ret < 0) {
        return ret;
    }
    bm->table_offset = offset;
    bm->table_size = table_size;
    return 0;
}

/*
 * The directory, in the order of s->dirty_bitmaps: with @on_disk, of
 * the bitmaps the file has now, with their flags there; else of all,
 * as they are stored.
 */
static uint8_t *build_directory(BDRVQcow2State *s, bool on_disk,
                                uint64_t *size)
{
    GByteArray *dir = g_byte_array_new();

    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        const Qcow2DirtyBitmap *bm = &s->dirty_bitmaps[i];
        size_t name_len = strlen(bm->name);
        size_t entry = QEMU_ALIGN_UP(QCOW2_BITMAP_DIR_ENTRY_SIZE + name_len,
                                     8);
        uint8_t *e;

        if (on_disk && !bm->table_offset) {
            continue;
        }
        g_byte_array_set_size(dir, dir->len + entry);
        e = dir->data + dir->len - entry;
        memset(e, 0, entry);
        stq_be_p(e, bm->table_offset);
        stl_be_p(e + 8, bm->table_size);
        stl_be_p(e + 12, on_disk ? bm->disk_flags
                                 : (bm->inconsistent ? BME_FLAG_IN_USE : 0) |
                                   (bm->enabled ? BME_FLAG_AUTO : 0));
        e[16] = 1;      /* dirty tracking bitmap */
        e[17] = bm->granularity_bits;
        stw_be_p(e + 18, name_len);
        memcpy(e + QCOW2_BITMAP_DIR_ENTRY_SIZE, bm->name, name_len);
    }
    *size = dir->len;
    return g_byte_array_free(dir, FALSE);
}

/*
 * A new directory (see build_directory()) and the header extension
 * pointing to it: data and tables are flushed before the switch.
 */
static int write_directory(BlockDriverState *bs, bool on_disk, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t dir_size;
    g_autofree uint8_t *dir = build_directory(s, on_disk, &dir_size);
    uint32_t count = 0;
    int64_t dir_offset = 0;
    int ret;

    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        count += !on_disk || s->dirty_bitmaps[i].table_offset;
    }
    if (dir_size) {
        dir_offset = qcow2_alloc_clusters(bs, dir_size, errp);
        if (dir_offset < 0) {
            return dir_offset;
        }
        ret = bdrv_file_pwrite(bs->file, dir_offset, dir_size, dir, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = bdrv_file_flush(bs->file, errp);
    if (ret < 0) {
        return ret;
    }
    /* The switch: one write of the first cluster. */
    return qcow2_write_bitmaps_ext(bs, count, dir_size, dir_offset, errp);
}

static int free_pending(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    for (guint i = 0; s->freed_on_store && i < s->freed_on_store->len; i++) {
        Qcow2Range *r = &g_array_index(s->freed_on_store, Qcow2Range, i);

        ret = r->discard
              ? qcow2_discard_clusters(bs, r->offset, r->bytes, errp)
              : qcow2_free_clusters(bs, r->offset, r->bytes, errp);
        if (ret < 0) {
            return ret;
        }
    }
    g_clear_pointer(&s->freed_on_store, g_array_unref);
    return 0;
}

/*
 * The order 7.2 stores bitmaps in: those of the file as they are there,
 * then those created since it was opened, the newest first (7.2 keeps
 * its bitmaps newest first, and appends the ones the file lacks).
 */
static void put_created_last(BDRVQcow2State *s)
{
    g_autofree Qcow2DirtyBitmap *order =
        g_new(Qcow2DirtyBitmap, MAX(s->nb_dirty_bitmaps, 1));
    uint32_t n = 0;

    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        if (!s->dirty_bitmaps[i].created) {
            order[n++] = s->dirty_bitmaps[i];
        }
    }
    for (uint32_t i = s->nb_dirty_bitmaps; i-- > 0;) {
        if (s->dirty_bitmaps[i].created) {
            order[n++] = s->dirty_bitmaps[i];
        }
    }
    memcpy(s->dirty_bitmaps, order, n * sizeof(*order));
}

int qcow2_dirty_bitmaps_store(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t old_dir = s->bitmap_directory_offset;
    uint64_t old_dir_size = s->bitmap_directory_size;
    int ret;

    bool any = false;

    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        any |= !s->dirty_bitmaps[i].inconsistent;
    }
    /*
     * Only bitmaps with data in memory are stored; with none (inconsistent
     * ones stay as they are, removals are already written), 7.2 leaves
     * the file alone.
     */
    if (!s->bitmaps_rw || !any) {
        s->bitmaps_rw = false;
        return free_pending(bs, errp);
    }
    put_created_last(s);
    for (uint32_t i = 0; i < s->nb_dirty_bitmaps; i++) {
        Qcow2DirtyBitmap *bm = &s->dirty_bitmaps[i];

        if (bm->inconsistent) {
            continue;       /* stays as it is on disk */
        }
        free_old_clusters(s, bm);
        ret = store_bitmap(bs, bm, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = write_directory(bs, false, errp);
    if (ret < 0) {
        return ret;
    }
    if (old_dir && old_dir_size) {
        free_later(s, old_dir, QEMU_ALIGN_UP(old_dir_size, s->cluster_size),
                   false);
    }
    ret = free_pending(bs, errp);
    if (ret < 0) {
        return ret;
    }
    s->bitmaps_rw = false;
    return bdrv_file_flush(bs->file, errp);
}

const BdrvBitmapOps qcow2_bitmap_ops = {
    .add = qcow2_bitmap_add,
    .remove = qcow2_bitmap_remove,
    .clear = qcow2_bitmap_clear,
    .set_enabled = qcow2_bitmap_set_enabled,
    .get = qcow2_bitmap_get,
    .list = qcow2_bitmap_list,
    .any = qcow2_bitmap_any,
    .runs = qcow2_bitmap_runs,
    .merge = qcow2_bitmap_merge,
};
