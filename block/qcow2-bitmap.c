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
    for (uint32_t i = 0; i < s->bitmaps_parsed; i++) {
        g_free(s->bitmaps[i].name);
    }
    g_clear_pointer(&s->bitmaps, g_free);
    s->bitmaps_parsed = 0;
    s->bitmaps_loaded = false;
}

uint64_t qcow2_bitmap_table_needed(const BDRVQcow2State *s,
                                   const Qcow2Bitmap *bm)
{
    uint64_t bits = DIV_ROUND_UP(s->size, 1ull << bm->granularity_bits);

    return DIV_ROUND_UP(bits, s->cluster_size * 8);
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
    /* A consistent bitmap's table must cover the whole disk. */
    return (bm->flags & BME_FLAG_IN_USE) ||
           qcow2_bitmap_table_needed(s, bm) <= bm->table_size;
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
                           size_t held, size_t size, Error **errp)
{
    size_t pos = 0;
    uint32_t count = 0;
    /*
     * Every entry takes at least an entry header, and one that starts
     * past @held is all zeros, which no valid entry is: so at most this
     * many entries can be stored before the walk stops.
     */
    size_t room = MIN(s->nb_bitmaps, held / QCOW2_BITMAP_DIR_ENTRY_SIZE + 2);

    s->bitmaps = g_new0(Qcow2Bitmap, MAX(room, 1));
    while (pos < size) {
        Qcow2Bitmap bm = { 0 };
        uint8_t hdr[QCOW2_BITMAP_DIR_ENTRY_SIZE] = { 0 };
        size_t name_pos = pos + QCOW2_BITMAP_DIR_ENTRY_SIZE;
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
        /* Past @held, the directory reads as zeros. */
        if (pos < held) {
            memcpy(hdr, dir + pos, MIN(sizeof(hdr), held - pos));
        }
        entry = parse_entry(&bm, hdr, size - pos, &name_size, &extra);
        if (!entry) {
            goto broken;
        }
        if (extra != 0) {
            error_setg(errp, "Bitmap extra data is not supported");
            return -ENOTSUP;
        }
        /* A name that reads as zeros from some byte on ends there. */
        bm.name = name_pos < held
                  ? g_strndup((const char *)dir + name_pos,
                              MIN(name_size, held - name_pos))
                  : g_strdup("");
        g_assert(count <= room);
        s->bitmaps[count - 1] = bm;
        s->bitmaps_parsed = count;
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
                            uint64_t **table, uint32_t *held,
                            Qcow2BitmapTable **map, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)bm->table_size * 8;
    uint32_t n = qcow2_entries_in_file(s, bm->table_offset, bm->table_size,
                                       8);
    g_autofree uint8_t *raw = NULL;
    g_autofree uint64_t *t = NULL;
    Qcow2BitmapTableEntryList **tail = NULL;
    bool valid = true;

    if (map) {
        *map = g_new0(Qcow2BitmapTable, 1);
        (*map)->location = qcow2_allocation_new(bm->table_offset, bytes);
        tail = &(*map)->table_entries;
    }
    /*
     * table_size <= BME_MAX_TABLE_SIZE, checked with the directory; only
     * the entries inside the file are held, the others read as zeros.
     */
    raw = g_try_malloc((size_t)n * 8 + 1);
    t = g_try_new(uint64_t, n + 1);
    if (!raw || !t) {
        error_setg(errp, "Cannot allocate the table of bitmap '%s'",
                   bm->name);
        return -ENOMEM;
    }
    if (qcow2_pread_held(bs, bm->table_offset, bytes, (uint64_t)n * 8, raw,
                         errp) < 0) {
        return -EIO;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t e = ldq_be_p(raw + (size_t)i * 8);

        if (map) {
            QAPI_LIST_APPEND(tail, map_entry(s, e));
        }
        valid = valid && table_entry_valid(s, e);
        t[i] = e & (BME_TABLE_ENTRY_OFFSET_MASK |
                    BME_TABLE_ENTRY_FLAG_ALL_ONES);
    }
    for (uint32_t i = n; map && i < bm->table_size; i++) {
        QAPI_LIST_APPEND(tail, map_entry(s, 0));
    }
    *held = n;
    if (!valid) {
        error_setg_errno(errp, EINVAL, "Could not read bitmap_table "
                         "table from image for bitmap '%s'", bm->name);
        return -EINVAL;
    }
    *table = g_steal_pointer(&t);
    return 0;
}

/*
 * Every open (info's too) loads the tables of consistent bitmaps, as
 * 7.2 does, so a damaged one fails the open.  7.2 then loads the data,
 * which needs a table of exactly the size the disk needs.
 */
static int load_consistent_tables(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const Qcow2Bitmap *bm = &s->bitmaps[i];
        g_autofree uint64_t *table = NULL;
        uint32_t held;
        int ret;

        if (bm->flags & BME_FLAG_IN_USE) {
            continue;
        }
        ret = qcow2_bitmap_table_load(bs, bm, &table, &held, NULL, errp);
        if (ret < 0) {
            return ret;
        }
        if (bm->table_size != qcow2_bitmap_table_needed(s, bm)) {
            error_setg_errno(errp, EINVAL, "Could not read bitmap '%s' from "
                             "image", bm->name);
            return -EINVAL;
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
    uint64_t held;
    int ret;

    if (size == 0) {
        error_setg(errp, "Requested bitmap directory size is zero");
        return -EINVAL;
    }
    /*
     * size <= QCOW2_MAX_BITMAP_DIRECTORY_SIZE (checked with the
     * extension); only the part inside the file is held.
     */
    held = qcow2_entries_in_file(s, offset, size, 1);
    dir = g_malloc(held + 1);
    ret = qcow2_pread_zero_padded(bs, offset, held, dir, errp);
    if (ret < 0) {
        return ret;
    }
    ret = parse_directory(s, dir, held, size, errp);
    if (ret == 0) {
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
