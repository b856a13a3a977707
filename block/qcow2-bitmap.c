/*
 * qcow2 persistent dirty bitmaps: the bitmap directory.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

void qcow2_free_bitmaps(BDRVQcow2State *s)
{
    if (!s->bitmaps) {
        return;
    }
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        g_free(s->bitmaps[i].name);
    }
    g_clear_pointer(&s->bitmaps, g_free);
    s->bitmaps_loaded = false;
}

/* Directory-entry rules of the spec, with QEMU's limits. */
static bool bitmap_entry_valid(const BDRVQcow2State *s, const Qcow2Bitmap *bm,
                               uint16_t name_size)
{
    uint64_t phys_bitmap_bytes;

    if (bm->table_size == 0 || bm->table_size > BME_MAX_TABLE_SIZE ||
        bm->table_offset == 0 ||
        (bm->table_offset & (s->cluster_size - 1)) ||
        bm->granularity_bits < BME_MIN_GRANULARITY_BITS ||
        bm->granularity_bits > BME_MAX_GRANULARITY_BITS ||
        (bm->flags & BME_RESERVED_FLAGS) ||
        name_size > BME_MAX_NAME_SIZE ||
        bm->type != BT_DIRTY_TRACKING) {
        return false;
    }
    phys_bitmap_bytes = (uint64_t)bm->table_size * s->cluster_size;
    if (phys_bitmap_bytes > BME_MAX_PHYS_SIZE) {
        return false;
    }
    if (!(bm->flags & BME_FLAG_IN_USE)) {
        /* A consistent bitmap's table must cover the whole disk. */
        uint64_t bits = DIV_ROUND_UP(s->size, 1ull << bm->granularity_bits);
        uint64_t need = DIV_ROUND_UP(bits, s->cluster_size * 8);
        if (need > bm->table_size) {
            return false;
        }
    }
    return true;
}

/*
 * Decodes one entry at @e (at least QCOW2_BITMAP_DIR_ENTRY_SIZE bytes
 * before @left runs out).  Returns its padded size, or 0 when the
 * entry runs past the directory.
 */
static size_t parse_entry(Qcow2Bitmap *bm, const uint8_t *e, size_t left,
                          uint16_t *name_size, uint32_t *extra)
{
    size_t entry;

    bm->table_offset = ldq_be_p(e);
    bm->table_size = ldl_be_p(e + 8);
    bm->flags = ldl_be_p(e + 12);
    bm->type = e[16];
    bm->granularity_bits = e[17];
    *name_size = lduw_be_p(e + 18);
    *extra = ldl_be_p(e + 20);
    entry = QEMU_ALIGN_UP(QCOW2_BITMAP_DIR_ENTRY_SIZE + (uint64_t)*extra +
                          *name_size, 8);
    return entry > left ? 0 : entry;
}

/*
 * Walks the directory by its size, not by nb_bitmaps, so that both a
 * short and an overlong directory are reported, in 7.2's order: a
 * truncated entry, one entry too many, extra data, constraints, then
 * too few entries and trailing bytes.
 */
static int parse_directory(BDRVQcow2State *s, const uint8_t *dir,
                           size_t size, Error **errp)
{
    size_t pos = 0;
    uint32_t count = 0;

    s->bitmaps = g_new0(Qcow2Bitmap, s->nb_bitmaps);
    while (pos < size) {
        Qcow2Bitmap bm = { 0 };
        uint16_t name_size;
        uint32_t extra;
        size_t entry;

        if (size - pos < QCOW2_BITMAP_DIR_ENTRY_SIZE) {
            goto broken;
        }
        if (++count > s->nb_bitmaps) {
            error_setg(errp, "More bitmaps found than specified in header "
                       "extension");
            return -EINVAL;
        }
        entry = parse_entry(&bm, dir + pos, size - pos, &name_size, &extra);
        if (!entry) {
            goto broken;
        }
        if (extra != 0) {
            error_setg(errp, "Bitmap extra data is not supported");
            return -ENOTSUP;
        }
        bm.name = g_strndup((const char *)dir + pos +
                            QCOW2_BITMAP_DIR_ENTRY_SIZE, name_size);
        s->bitmaps[count - 1] = bm;
        if (!bitmap_entry_valid(s, &bm, name_size)) {
            error_setg(errp, "Bitmap '%s' doesn't satisfy the constraints",
                       bm.name);
            return -EINVAL;
        }
        pos += entry;
    }
    if (count != s->nb_bitmaps) {
        error_setg(errp, "Less bitmaps found than specified in header "
                   "extension");
        return -EINVAL;
    }
    return 0;

broken:
    error_setg(errp, "Broken bitmap directory");
    return -EINVAL;
}

/* Bitmap table entry rules of the spec, with QEMU's reserved mask. */
#define BME_TABLE_ENTRY_RESERVED_MASK 0xff000000000001feull
#define BME_TABLE_ENTRY_OFFSET_MASK   0x00fffffffffffe00ull
#define BME_TABLE_ENTRY_FLAG_ALL_ONES 1ull

static bool table_entry_valid(const BDRVQcow2State *s, uint64_t e)
{
    uint64_t off = e & BME_TABLE_ENTRY_OFFSET_MASK;

    return !(e & BME_TABLE_ENTRY_RESERVED_MASK) &&
           !(off && (e & BME_TABLE_ENTRY_FLAG_ALL_ONES)) &&
           !offset_into_cluster(s, off);
}

static Qcow2BitmapTableEntry *map_entry(const BDRVQcow2State *s, uint64_t e)
{
    Qcow2BitmapTableEntry *m = g_new0(Qcow2BitmapTableEntry, 1);
    uint64_t off = e & BME_TABLE_ENTRY_OFFSET_MASK;

    if (!table_entry_valid(s, e)) {
        m->type = QCOW2_BITMAP_TABLE_ENTRY_TYPE_INVALID;
    } else if (off) {
        m->type = QCOW2_BITMAP_TABLE_ENTRY_TYPE_SERIALIZED;
        m->has_cluster = true;
        m->cluster = qcow2_allocation_new(off, s->cluster_size);
    } else if (e & BME_TABLE_ENTRY_FLAG_ALL_ONES) {
        m->type = QCOW2_BITMAP_TABLE_ENTRY_TYPE_ALL_ONES;
    } else {
        m->type = QCOW2_BITMAP_TABLE_ENTRY_TYPE_ALL_ZEROS;
    }
    return m;
}

int qcow2_bitmap_table_load(BlockDriverState *bs, const Qcow2Bitmap *bm,
                            uint64_t **table, Qcow2BitmapTable **map,
                            Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)bm->table_size * 8;
    g_autofree uint8_t *raw = NULL;
    g_autofree uint64_t *t = NULL;
    Qcow2BitmapTableEntryList **tail = NULL;
    bool valid = true;

    if (map) {
        *map = g_new0(Qcow2BitmapTable, 1);
        (*map)->location = qcow2_allocation_new(bm->table_offset, bytes);
        tail = &(*map)->table_entries;
    }
    /* table_size <= BME_MAX_TABLE_SIZE, checked with the directory. */
    raw = g_try_malloc(bytes);
    t = g_try_new(uint64_t, bm->table_size);
    if (!raw || !t) {
        error_setg(errp, "Cannot allocate the table of bitmap '%s'",
                   bm->name);
        return -ENOMEM;
    }
    if (bdrv_file_pread(bs->file, bm->table_offset, bytes, raw, errp) < 0) {
        return -EIO;
    }
    for (uint32_t i = 0; i < bm->table_size; i++) {
        uint64_t e = ldq_be_p(raw + (size_t)i * 8);

        if (map) {
            QAPI_LIST_APPEND(tail, map_entry(s, e));
        }
        valid = valid && table_entry_valid(s, e);
        t[i] = e & BME_TABLE_ENTRY_OFFSET_MASK;
    }
    if (!valid) {
        error_setg_errno(errp, EINVAL, "Could not read bitmap_table "
                         "table from image for bitmap '%s'", bm->name);
        return -EINVAL;
    }
    *table = g_steal_pointer(&t);
    return 0;
}

/*
 * An open that may do I/O loads the tables of consistent bitmaps, as
 * 7.2 does, so a damaged one fails the open.
 */
static int load_consistent_tables(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        g_autofree uint64_t *table = NULL;
        int ret;

        if (s->bitmaps[i].flags & BME_FLAG_IN_USE) {
            continue;
        }
        ret = qcow2_bitmap_table_load(bs, &s->bitmaps[i], &table, NULL,
                                      errp);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int qcow2_read_bitmap_directory(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *dir = NULL;
    uint64_t size = s->bitmap_directory_size;
    uint64_t offset = s->bitmap_directory_offset;
    int ret;

    if (size == 0) {
        error_setg(errp, "Requested bitmap directory size is zero");
        return -EINVAL;
    }
    /*
     * size <= QCOW2_MAX_BITMAP_DIRECTORY_SIZE (checked with the
     * extension).
     */
    dir = g_malloc(size);
    ret = qcow2_pread_zero_padded(bs, offset, size, dir, errp);
    if (ret < 0) {
        return ret;
    }
    ret = parse_directory(s, dir, size, errp);
    if (ret == 0 && !(bs->open_flags & BDRV_O_NO_IO)) {
        ret = load_consistent_tables(bs, errp);
    }
    if (ret < 0) {
        qcow2_free_bitmaps(s);
        return ret;
    }
    s->bitmaps_loaded = true;
    return 0;
}

Qcow2BitmapInfoList *qcow2_get_bitmap_info_list(BlockDriverState *bs,
                                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2BitmapInfoList *head = NULL, **tail = &head;

    for (uint32_t i = 0; s->bitmaps_loaded && i < s->nb_bitmaps; i++) {
        const Qcow2Bitmap *bm = &s->bitmaps[i];
        Qcow2BitmapInfo *info = g_new0(Qcow2BitmapInfo, 1);
        Qcow2BitmapInfoFlagsList **ftail = &info->flags;

        info->name = g_strdup(bm->name);
        info->granularity = 1u << bm->granularity_bits;
        if (bm->flags & BME_FLAG_IN_USE) {
            *ftail = g_new0(Qcow2BitmapInfoFlagsList, 1);
            (*ftail)->value = QCOW2_BITMAP_INFO_FLAGS_IN_USE;
            ftail = &(*ftail)->next;
        }
        if (bm->flags & BME_FLAG_AUTO) {
            *ftail = g_new0(Qcow2BitmapInfoFlagsList, 1);
            (*ftail)->value = QCOW2_BITMAP_INFO_FLAGS_AUTO;
        }
        *tail = g_new0(Qcow2BitmapInfoList, 1);
        (*tail)->value = info;
        tail = &(*tail)->next;
    }
    return head;
}
