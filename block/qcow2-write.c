/*
 * qcow2 guest writes: cluster allocation with copy-on-write, zero
 * writes, discard, resize, and the dirty bit of lazy refcounts.
 *
 * Metadata is write-through and ordered for crash safety (see
 * qcow2-alloc.c): new data and new tables are written before the entry
 * that points to them, and an old cluster is released only after the
 * entry stopped pointing to it.  A writer killed between any two writes
 * leaves at worst a leak.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

/* Header field rewritten by a resize (spec: "Header"). */
#define QCOW2_SIZE_OFFSET 24

static bool l2_entry_is_zero_flagged(const BDRVQcow2State *s, uint64_t e)
{
    return !has_subclusters(s) && (e & QCOW_OFLAG_ZERO);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
                           uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/*
 * 7.2's name for the metadata that a data write of [offset, offset +
 * len) would overwrite (in 7.2's order), or NULL.  Only reachable on
 * damaged images: an L2 entry, or a refcount of 0, that points into
 * metadata.  @l2_offset is the L2 table of the request.
 */
static const char *metadata_overlap(BlockDriverState *bs, uint64_t offset,
                                    uint64_t len, uint64_t l2_offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cs = s->cluster_size;

    if (has_data_file(s)) {
        return NULL;    /* guest data is in another file */
    }
    if (ranges_overlap(offset, len, 0, cs)) {
        return "qcow2_header";
    }
    if (ranges_overlap(offset, len, s->l1_table_offset,
                       (uint64_t)s->l1_size * L1E_SIZE)) {
        return "active L1 table";
    }
    if (ranges_overlap(offset, len, l2_offset, cs)) {
        return "active L2 table";
    }
    if (ranges_overlap(offset, len, s->refcount_table_offset,
                       (uint64_t)s->refcount_table_clusters * cs)) {
        return "refcount table";
    }
    for (uint64_t k = offset >> s->cluster_bits;
         k <= (offset + len - 1) >> s->cluster_bits; k++) {
        if (qcow2_is_refblock(s, k)) {
            return "refcount block";
        }
    }
    if (s->nb_snapshots &&
        ranges_overlap(offset, len, s->snapshots_offset, s->snapshots_size)) {
        return "snapshot table";
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (ranges_overlap(offset, len, s->snapshots[i].l1_table_offset,
                           (uint64_t)s->snapshots[i].l1_size * L1E_SIZE)) {
            return "inactive L1 table";
        }
    }
    return NULL;
}

/* A guest data write at a host offset, unless it would hit metadata. */
static int write_data(BlockDriverState *bs, uint64_t host, uint64_t len,
                      const void *buf, uint64_t l2_offset, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const char *what = metadata_overlap(bs, host, len, l2_offset);

    if (what) {
        qcow2_signal_corruption(bs, errp, "Preventing invalid write on "
                                "metadata (overlaps with %s)", what);
        return -EIO;
    }
    return bdrv_file_pwrite(s->data_file, host, len, buf, errp);
}

/* The refusals every modifying request shares; marks lazy images dirty. */
int qcow2_prepare_write(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->broken) {
        error_setg(errp, "No medium found");
        return -ENOMEDIUM;
    }

    if (bs->encrypted) {
        error_setg(errp, "Writing encrypted images is not supported");
        return -ENOTSUP;
    }
    if (has_data_file(s) && !bs->data_file) {
        error_setg(errp, "The external data file could not be opened");
        return -EIO;
    }
    if (!s->refcount_table || !s->bitmaps_rw) {
        error_setg(errp, "Block node is read-only");
        return -EACCES;
    }
    if ((s->compatible_features & QCOW2_COMPAT_LAZY_REFCOUNTS) &&
        !(s->incompatible_features & QCOW2_INCOMPAT_DIRTY)) {
        /*
         * Our refcounts are exact at every step, but an image with lazy
         * refcounts promises readers nothing until the bit is cleared.
         */
        int ret;

        s->incompatible_features |= QCOW2_INCOMPAT_DIRTY;
        ret = qcow2_write_incompat_features(bs, errp);
        if (ret < 0 || (ret = bdrv_file_flush(bs->file, errp)) < 0) {
            s->incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
            return ret;
        }
        s->set_dirty = true;
    }
    return 0;
}

int qcow2_write_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                         uint64_t index, uint64_t entry, uint64_t bitmap,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t raw[L2E_SIZE_EXTENDED];

    stq_be_p(raw, entry);
    stq_be_p(raw + 8, bitmap);
    return bdrv_file_pwrite(bs->file, l2_offset + index * s->l2_entry_size,
                            s->l2_entry_size, raw, errp);
}

/*
 * The L2 table for guest @offset, ready to be written in place: created
 * when missing, copied when a snapshot shares it.  *@l2_offset is 0 when
 * @create is false and there is no table.
 */
static int get_l2_table(BlockDriverState *bs, uint64_t offset, bool create,
                        uint64_t *l2_offset, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t i = offset_to_l1_index(s, offset);
    g_autofree uint8_t *table = NULL;
    uint64_t old, old_offset, rc;
    int64_t new_offset;
    int ret;

    *l2_offset = 0;
    if (i >= s->l1_size) {
        if (!create) {
            return 0;
        }
        ret = qcow2_grow_l1_table(bs, i + 1, errp);
        if (ret < 0) {
            return ret;
        }
    }
    old = s->l1_table[i];
    old_offset = old & L1E_OFFSET_MASK;
    if (old_offset && offset_into_cluster(s, old_offset)) {
        error_setg(errp, "L2 table offset %#" PRIx64 " unaligned (L1 index: "
                   "%#" PRIx64 ")", old_offset, i);
        return -EIO;
    }
    if (old_offset && (old & QCOW_OFLAG_COPIED)) {
        *l2_offset = old_offset;
        return 0;
    }
    if (!create) {
        *l2_offset = old_offset;
        return 0;
    }
    if (old_offset) {
        ret = qcow2_get_refcount(bs, old_offset >> s->cluster_bits, &rc,
                                 errp);
        if (ret < 0) {
            return ret;
        }
        if (rc == 1) {
            /* Not shared after all: only the flag was missing. */
            s->l1_table[i] = old_offset | QCOW_OFLAG_COPIED;
            ret = qcow2_write_l1_entry(bs, i, errp);
            if (ret < 0) {
                s->l1_table[i] = old;
                return ret;
            }
            *l2_offset = old_offset;
            return 0;
        }
    }
    table = g_malloc0(s->cluster_size);
    if (old_offset) {
        ret = bdrv_file_pread(bs->file, old_offset, s->cluster_size, table,
                              errp);
        if (ret < 0) {
            return ret;
        }
    }
    new_offset = qcow2_alloc_clusters(bs, s->cluster_size, errp);
    if (new_offset < 0) {
        return new_offset;
    }
    ret = bdrv_file_pwrite(bs->file, new_offset, s->cluster_size, table,
                           errp);
    if (ret < 0) {
        return ret;
    }
    s->l1_table[i] = new_offset | QCOW_OFLAG_COPIED;
    ret = qcow2_write_l1_entry(bs, i, errp);
    if (ret < 0) {
        s->l1_table[i] = old;
        return ret;
    }
    *l2_offset = new_offset;
    /* The copy holds the references now; the snapshot keeps the old one. */
    return old_offset ? qcow2_free_clusters(bs, old_offset, s->cluster_size,
                                            errp)
                      : 0;
}

/* The writable L2 table for guest @offset and its entry there. */
int qcow2_load_l2_entry(BlockDriverState *bs, uint64_t offset,
                        uint64_t *l2_offset, uint64_t *entry,
                        uint64_t *bitmap, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = get_l2_table(bs, offset, true, l2_offset, errp);

    if (ret < 0) {
        return ret;
    }
    return qcow2_read_l2_entry(bs, *l2_offset, offset_to_l2_index(s, offset),
                               entry, bitmap, errp);
}

/*
 * Whether [offset, offset + bytes) of @bs reads as zeros without looking
 * at data: zero clusters, unallocated space with no backing file or past
 * its end.  Data clusters count as data even when they hold zeros, as
 * 7.2's quick test does.
 */
static int reads_as_zero(BlockDriverState *bs, int64_t offset, int64_t bytes,
                         Error **errp)
{
    int64_t len = bdrv_getlength(bs);

    if (len < 0) {
        return len;
    }
    if (offset >= len) {
        return bytes ? 0 : 1;   /* wholly past the end: not known */
    }
    /* A range that only runs past the end is judged by its part inside. */
    bytes = MIN(bytes, len - offset);
    if (strcmp(bs->drv->format_name, "qcow2")) {
        return bytes ? 0 : 1;   /* other formats: data */
    }
    while (bytes > 0) {
        Qcow2Mapping map;
        int ret = qcow2_get_mapping(bs, offset, bytes, &map, errp);

        if (ret < 0) {
            return ret;
        }
        switch (map.type) {
        case QCOW2_SUBCLUSTER_ZERO:
            break;
        case QCOW2_SUBCLUSTER_UNALLOCATED:
            if (bs->backing) {
                int64_t blen = bdrv_getlength(bs->backing);
                if (blen < 0) {
                    return blen;
                }
                if (offset < blen) {
                    ret = reads_as_zero(bs->backing, offset,
                                        MIN((int64_t)map.bytes,
                                            blen - offset), errp);
                    if (ret <= 0) {
                        return ret;
                    }
                }
            }
            break;
        default:
            return 0;
        }
        offset += map.bytes;
        bytes -= map.bytes;
    }
    return 1;
}

/* Subclusters (bit mask) that [start, end) of a cluster overlaps. */
static uint32_t subcluster_mask(const BDRVQcow2State *s, uint64_t start,
                                uint64_t end)
{
    uint32_t first = start >> s->subcluster_bits;
    uint32_t last = (end - 1) >> s->subcluster_bits;
    uint64_t bits = (2ull << last) - (1ull << first);

    return bits;
}

/*
 * Writes @bytes of @buf at @offset, all inside one guest cluster.
 */
static int write_in_cluster(BlockDriverState *bs, uint64_t offset,
                            uint64_t bytes, const uint8_t *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t cluster_start = offset - offset_into_cluster(s, offset);
    uint64_t in = offset - cluster_start;
    uint64_t index = offset_to_l2_index(s, offset);
    uint64_t l2_offset, entry, bitmap, host, new_entry, new_bitmap;
    uint32_t touched = 0, had;
    g_autofree uint8_t *cbuf = NULL;
    const uint8_t *wbuf;
    uint64_t wstart, wlen;
    bool in_place;
    int64_t alloc;
    int ret;

    ret = qcow2_load_l2_entry(bs, offset, &l2_offset, &entry, &bitmap, errp);
    if (ret < 0) {
        return ret;
    }
    host = entry & L2E_OFFSET_MASK;
    if (host && offset_into_cluster(s, host) &&
        !(entry & QCOW_OFLAG_COMPRESSED)) {
        error_setg(errp, QCOW2_UNALIGNED_CLUSTER_FMT, host, l2_offset,
                   (uint64_t)index);
        return -EIO;
    }
    in_place = !(entry & QCOW_OFLAG_COMPRESSED) &&
               (entry & QCOW_OFLAG_COPIED) && (host || has_data_file(s));
    if (has_subclusters(s)) {
        touched = subcluster_mask(s, in, in + bytes);
    }

    if (in_place && !has_subclusters(s) &&
        !l2_entry_is_zero_flagged(s, entry)) {
        /* Ours alone and plain data: overwrite. */
        return write_data(bs, host + in, bytes, buf, l2_offset, errp);
    }

    /*
     * Everything else needs the old content around the write: the
     * subclusters it fills (extended L2: those it touches, and those a
     * shared or compressed cluster had data for), or the whole cluster.
     */
    had = 0;
    if (has_subclusters(s) && !in_place) {
        if (entry & QCOW_OFLAG_COMPRESSED) {
            had = UINT32_MAX;
        } else if (host || has_data_file(s)) {
            had = bitmap & UINT32_MAX;
        }
    }
    if (has_subclusters(s)) {
        uint32_t span = touched | had;

        if (in_place && !(touched & ~(uint32_t)bitmap)) {
            /* Every touched subcluster has data already: overwrite. */
            return write_data(bs, host + in, bytes, buf, l2_offset, errp);
        }
        wstart = (uint64_t)__builtin_ctz(span) << s->subcluster_bits;
        wlen = ((uint64_t)(32 - __builtin_clz(span)) << s->subcluster_bits) -
               wstart;
    } else {
        wstart = 0;
        wlen = s->cluster_size;
    }
    if (in == wstart && bytes == wlen) {
        wbuf = buf;
    } else {
        cbuf = g_malloc(wlen);
        ret = qcow2_co_preadv(bs, cluster_start + wstart, wlen, cbuf, errp);
        if (ret < 0) {
            return ret;
        }
        memcpy(cbuf + in - wstart, buf, bytes);
        wbuf = cbuf;
    }

    if (in_place) {
        ret = write_data(bs, host + wstart, wlen, wbuf, l2_offset, errp);
        if (ret < 0) {
            return ret;
        }
        new_entry = entry & ~QCOW_OFLAG_ZERO;
        new_bitmap = has_subclusters(s)
                     ? (bitmap | touched) & ~((uint64_t)touched << 32)
                     : 0;
        if (new_entry == entry && new_bitmap == bitmap) {
            return 0;
        }
        return qcow2_write_l2_entry(bs, l2_offset, index, new_entry,
                                    new_bitmap, errp);
    }

    /* A new cluster: with an external data file, at the guest offset. */
    if (has_data_file(s)) {
        alloc = cluster_start;
    } else {
        alloc = qcow2_alloc_clusters(bs, s->cluster_size, errp);
        if (alloc < 0) {
            return alloc;
        }
    }
    ret = write_data(bs, alloc + wstart, wlen, wbuf, l2_offset, errp);
    if (ret < 0) {
        return ret;
    }
    new_entry = alloc | QCOW_OFLAG_COPIED;
    new_bitmap = 0;
    if (has_subclusters(s)) {
        /*
         * Subclusters the old cluster had data for were copied; the
         * others keep their state (zero, or the backing file's).
         */
        uint32_t zero = (entry & QCOW_OFLAG_COMPRESSED) ? 0 : bitmap >> 32;

        new_bitmap = (uint64_t)(had | touched) |
                     ((uint64_t)(zero & ~(had | touched)) << 32);
    }
    ret = qcow2_write_l2_entry(bs, l2_offset, index, new_entry, new_bitmap,
                               errp);
    if (ret < 0) {
        return ret;
    }
    /* The old cluster (shared or compressed) loses this reference. */
    if ((entry & QCOW_OFLAG_COMPRESSED) || (host && !has_data_file(s))) {
        return qcow2_free_l2_entry_clusters(bs, entry, errp);
    }
    return 0;
}

/* Plain data we own: written in place, nothing else to do. */
static bool plain_in_place(const BDRVQcow2State *s, uint64_t e)
{
    return (e & QCOW_OFLAG_COPIED) && !(e & QCOW_OFLAG_COMPRESSED) &&
           !(e & QCOW_OFLAG_ZERO) &&
           ((e & L2E_OFFSET_MASK) || has_data_file(s));
}

/* Zero-allocated and ours: the write fills the rest with zeros in place. */
static bool zero_in_place(const BDRVQcow2State *s, uint64_t e)
{
    return (e & QCOW_OFLAG_COPIED) && (e & QCOW_OFLAG_ZERO) &&
           !(e & QCOW_OFLAG_COMPRESSED);
}

/*
 * Writes the part of [offset, offset + bytes) that lies in one L2 table
 * and is of one kind: clusters we own that follow each other on the
 * host (one write), or clusters that all need a new cluster (allocated
 * as one run, written with their copy-on-write edges in one write, their
 * entries updated in one write).  *@done gets the bytes written.
 * Standard L2 entries only; extended L2 goes cluster by cluster.
 */
static int write_l2_run(BlockDriverState *bs, uint64_t offset,
                        uint64_t bytes, const uint8_t *buf, uint64_t *done,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in = offset_into_cluster(s, offset);
    uint64_t cluster_start = offset - in;
    uint64_t first = offset_to_l2_index(s, offset);
    uint64_t nb = MIN(s->l2_size - first, size_to_clusters(s, in + bytes));
    g_autofree uint8_t *raw = NULL;
    g_autofree uint8_t *cbuf = NULL;
    uint64_t l2_offset, k, len, host0;
    const uint8_t *wbuf = buf;
    int64_t alloc;
    int ret;

    ret = get_l2_table(bs, offset, true, &l2_offset, errp);
    if (ret < 0) {
        return ret;
    }
    raw = g_malloc(nb * L2E_SIZE_NORMAL);
    ret = bdrv_file_pread(bs->file, l2_offset + first * L2E_SIZE_NORMAL,
                          nb * L2E_SIZE_NORMAL, raw, errp);
    if (ret < 0) {
        return ret;
    }
#define ENTRY(i) ldq_be_p(raw + (i) * L2E_SIZE_NORMAL)
    for (uint64_t i = 0; i < nb; i++) {
        uint64_t host = ENTRY(i) & L2E_OFFSET_MASK;
        if (!(ENTRY(i) & QCOW_OFLAG_COMPRESSED) &&
            offset_into_cluster(s, host)) {
            error_setg(errp, QCOW2_UNALIGNED_CLUSTER_FMT, host, l2_offset,
                       (uint64_t)(first + i));
            return -EIO;
        }
    }
    if (zero_in_place(s, ENTRY(0))) {
        *done = MIN(bytes, s->cluster_size - in);
        return write_in_cluster(bs, offset, *done, buf, errp);
    }
    if (plain_in_place(s, ENTRY(0))) {
        host0 = ENTRY(0) & L2E_OFFSET_MASK;
        for (k = 1; k < nb && plain_in_place(s, ENTRY(k)) &&
                    (ENTRY(k) & L2E_OFFSET_MASK) == host0 +
                    k * s->cluster_size; k++) {
            /* contiguous on the host: one write */
        }
        *done = MIN(bytes, k * s->cluster_size - in);
        return write_data(bs, host0 + in, *done, buf, l2_offset, errp);
    }
    for (k = 1; k < nb && !plain_in_place(s, ENTRY(k)) &&
                !zero_in_place(s, ENTRY(k)); k++) {
        /* every one of these needs a new cluster */
    }
    len = MIN(bytes, k * s->cluster_size - in);

    /* Copy-on-write of the edges, read before any entry changes. */
    if (in || (in + len) % s->cluster_size) {
        uint64_t end = in + len, last = (k - 1) * s->cluster_size;

        cbuf = g_malloc(k * s->cluster_size);
        if (in) {
            ret = qcow2_co_preadv(bs, cluster_start, s->cluster_size, cbuf,
                                  errp);
        }
        if (ret == 0 && end % s->cluster_size && (!in || k > 1)) {
            ret = qcow2_co_preadv(bs, cluster_start + last, s->cluster_size,
                                  cbuf + last, errp);
        }
        if (ret < 0) {
            return ret;
        }
        memcpy(cbuf + in, buf, len);
        wbuf = cbuf;
    }
    if (has_data_file(s)) {
        alloc = cluster_start;  /* external data sits at guest offsets */
    } else {
        alloc = qcow2_alloc_clusters(bs, k * s->cluster_size, errp);
        if (alloc < 0) {
            return alloc;
        }
    }
    ret = write_data(bs, alloc + (cbuf ? 0 : in),
                     cbuf ? k * s->cluster_size : len, wbuf, l2_offset, errp);
    if (ret < 0) {
        return ret;
    }
    {
        g_autofree uint8_t *entries = g_malloc(k * L2E_SIZE_NORMAL);

        for (uint64_t i = 0; i < k; i++) {
            stq_be_p(entries + i * L2E_SIZE_NORMAL,
                     (alloc + i * s->cluster_size) | QCOW_OFLAG_COPIED);
        }
        ret = bdrv_file_pwrite(bs->file, l2_offset + first * L2E_SIZE_NORMAL,
                               k * L2E_SIZE_NORMAL, entries, errp);
        if (ret < 0) {
            return ret;
        }
    }
    /* The old clusters (shared or compressed) lose these references. */
    for (uint64_t i = 0; i < k; i++) {
        uint64_t e = ENTRY(i);
        if ((e & QCOW_OFLAG_COMPRESSED) ||
            ((e & L2E_OFFSET_MASK) && !has_data_file(s))) {
            ret = qcow2_free_l2_entry_clusters(bs, e, errp);
            if (ret < 0) {
                return ret;
            }
        }
    }
#undef ENTRY
    *done = len;
    return 0;
}

int qcow2_co_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     const void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const uint8_t *p = buf;
    int ret = qcow2_prepare_write(bs, errp);

    if (ret < 0) {
        return ret;
    }
    qcow2_dirty_bitmaps_mark(bs, offset, bytes);
    while (bytes > 0) {
        uint64_t n = 0;

        if (has_subclusters(s)) {
            n = MIN((uint64_t)bytes,
                    s->cluster_size - offset_into_cluster(s, offset));
            ret = write_in_cluster(bs, offset, n, p, errp);
        } else {
            ret = write_l2_run(bs, offset, bytes, p, &n, errp);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        p += n;
        bytes -= n;
    }
    return 0;
}

/*
 * Makes whole subclusters [offset, offset + bytes) (aligned, inside one
 * cluster) read as zeros: the zero flag, or the zero bits of extended L2.
 * With @unmap, a cluster zeroed as a whole is released.
 */
static int zeroize_in_cluster(BlockDriverState *bs, uint64_t offset,
                              uint64_t bytes, bool unmap, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in = offset_into_cluster(s, offset);
    uint64_t index = offset_to_l2_index(s, offset);
    uint64_t l2_offset, entry, bitmap, new_entry, new_bitmap;
    bool whole = in == 0 && bytes == s->cluster_size;
    bool release;
    int ret;

    ret = qcow2_load_l2_entry(bs, offset, &l2_offset, &entry, &bitmap, errp);
    if (ret < 0) {
        return ret;
    }
    /* A compressed cluster cannot stay allocated as zeros. */
    release = whole && (unmap || (entry & QCOW_OFLAG_COMPRESSED));
    if (entry & QCOW_OFLAG_COMPRESSED) {
        if (!whole) {
            /* Only reachable with extended L2: keep the data, copied. */
            g_autofree uint8_t *zeros = g_malloc0(bytes);
            return write_in_cluster(bs, offset, bytes, zeros, errp);
        }
    }
    if (has_subclusters(s)) {
        uint32_t mask = subcluster_mask(s, in, in + bytes);

        new_entry = release ? 0 : entry;
        new_bitmap = release ? QCOW_L2_BITMAP_ALL_ZEROES
                             : ((bitmap & ~(uint64_t)mask) |
                                ((uint64_t)mask << 32));
    } else if (s->version < 3) {
        /* No zero flag, and no backing file: unallocated reads as zeros. */
        release = true;
        new_entry = 0;
        new_bitmap = 0;
    } else {
        new_entry = (release ? 0 : entry) | QCOW_OFLAG_ZERO;
        new_bitmap = 0;
    }
    if (new_entry == entry && new_bitmap == bitmap) {
        return 0;
    }
    ret = qcow2_write_l2_entry(bs, l2_offset, index, new_entry, new_bitmap,
                               errp);
    if (ret < 0) {
        return ret;
    }
    if (release) {
        ret = qcow2_discard_l2_entry_clusters(bs, entry, errp);
    }
    return ret;
}

/*
 * One piece of a zero write that does not cover whole subclusters: it
 * can still become a zero subcluster when the rest of the subcluster
 * already reads as zeros and nothing is allocated there (7.2's rule);
 * otherwise zeros are written as data.
 */
static int zero_partial(BlockDriverState *bs, uint64_t offset, uint64_t bytes,
                        bool unmap, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t head = offset & (s->subcluster_size - 1);
    uint64_t sc_start = offset - head;
    uint64_t end = offset + bytes;
    uint64_t tail = QEMU_ALIGN_UP(end, s->subcluster_size) - end;
    g_autofree uint8_t *zeros = NULL;
    Qcow2Mapping map;
    int ret;

    if (end == (uint64_t)bs->total_bytes) {
        tail = 0;
    }
    ret = reads_as_zero(bs, sc_start, head, errp);
    if (ret > 0) {
        ret = reads_as_zero(bs, end, tail, errp);
    }
    if (ret < 0) {
        return ret;
    }
    if (ret > 0) {
        ret = qcow2_get_mapping(bs, sc_start, s->subcluster_size, &map, errp);
        if (ret < 0) {
            return ret;
        }
        if (map.type == QCOW2_SUBCLUSTER_ZERO ||
            map.type == QCOW2_SUBCLUSTER_UNALLOCATED) {
            return zeroize_in_cluster(bs, sc_start, s->subcluster_size, unmap,
                                      errp);
        }
    }
    zeros = g_malloc0(bytes);
    return write_in_cluster(bs, offset, bytes, zeros, errp);
}

int qcow2_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset,
                           int64_t bytes, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    bool unmap = flags & BDRV_REQ_MAY_UNMAP;
    int ret;

    if (s->version < 3 && bs->backing) {
        /* No zero flag: the generic layer writes zeros instead. */
        error_setg(errp, "Zero clusters need a version 3 image");
        return -ENOTSUP;
    }
    ret = qcow2_prepare_write(bs, errp);
    if (ret < 0) {
        return ret;
    }
    qcow2_dirty_bitmaps_mark(bs, offset, bytes);
    if (has_data_file(s) &&
        (s->autoclear_features & QCOW2_AUTOCLEAR_DATA_FILE_RAW)) {
        /* The raw data file must read as the guest does. */
        ret = bdrv_pwrite_zeroes(s->data_file, offset, bytes, flags, errp);
        if (ret < 0) {
            return ret;
        }
    }
    while (bytes > 0) {
        uint64_t in_sc = offset & (s->subcluster_size - 1);
        uint64_t n = 0;

        if (in_sc) {
            n = MIN((uint64_t)bytes, s->subcluster_size - in_sc);
            ret = zero_partial(bs, offset, n, unmap, errp);
        } else if ((uint64_t)bytes < s->subcluster_size &&
                   offset + bytes != bs->total_bytes) {
            n = bytes;
            ret = zero_partial(bs, offset, n, unmap, errp);
        } else {
            /* Whole subclusters, up to the end of this cluster. */
            uint64_t room = s->cluster_size - offset_into_cluster(s, offset);
            n = MIN((uint64_t)bytes, room);
            if (n < room && offset + bytes != bs->total_bytes) {
                n = QEMU_ALIGN_DOWN(n, s->subcluster_size);
            }
            ret = zeroize_in_cluster(bs, offset,
                                     QEMU_ALIGN_UP(n, s->subcluster_size),
                                     unmap, errp);
        }
        if (ret < 0) {
            return ret;
        }
        offset += n;
        bytes -= n;
    }
    return 0;
}

/*
 * Guest discard of whole clusters (partial ones are ignored, except the
 * partial last cluster of an image that ends inside it).  With a backing
 * file, or where data was, the cluster becomes a zero cluster so the
 * backing file does not show through.
 */
int qcow2_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t end = offset + bytes;
    uint64_t start = QEMU_ALIGN_UP(offset, s->cluster_size);
    int ret = qcow2_prepare_write(bs, errp);

    if (ret < 0) {
        return ret;
    }
    qcow2_dirty_bitmaps_mark(bs, offset, bytes);
    if (s->version < 3 && bs->backing) {
        /* Deallocating would show the backing file: leave it be. */
        return 0;
    }
    if (end != (uint64_t)bs->total_bytes) {
        end = QEMU_ALIGN_DOWN(end, s->cluster_size);
    }
    for (uint64_t o = start; o < end; o += s->cluster_size) {
        uint64_t index = offset_to_l2_index(s, o);
        uint64_t l2_offset, entry, bitmap, new_entry, new_bitmap;
        bool allocated;

        ret = get_l2_table(bs, o, false, &l2_offset, errp);
        if (ret < 0) {
            return ret;
        }
        if (!l2_offset && !bs->backing) {
            continue;           /* reads as zeros already */
        }
        ret = qcow2_load_l2_entry(bs, o, &l2_offset, &entry, &bitmap, errp);
        if (ret < 0) {
            return ret;
        }
        allocated = (entry & QCOW_OFLAG_COMPRESSED) ||
                    (entry & L2E_OFFSET_MASK) ||
                    (has_data_file(s) && (entry & QCOW_OFLAG_COPIED));
        if (!bs->backing && !allocated) {
            continue;   /* without a backing file it reads as zeros */
        }
        if (has_subclusters(s)) {
            new_entry = 0;
            new_bitmap = QCOW_L2_BITMAP_ALL_ZEROES;
        } else {
            new_entry = s->version >= 3 ? QCOW_OFLAG_ZERO : 0;
            new_bitmap = 0;
        }
        if (new_entry == entry && new_bitmap == bitmap) {
            continue;
        }
        ret = qcow2_write_l2_entry(bs, l2_offset, index, new_entry,
                                   new_bitmap, errp);
        if (ret < 0) {
            return ret;
        }
        if (allocated) {
            ret = qcow2_discard_l2_entry_clusters(bs, entry, errp);
            if (ret < 0) {
                return ret;
            }
        }
    }
    return 0;
}

int qcow2_co_flush(BlockDriverState *bs, Error **errp)
{
    return 0;   /* write-through: the generic layer flushes the files */
}

int qcow2_co_truncate(BlockDriverState *bs, int64_t offset, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_needed;
    uint8_t buf[8];
    int ret;

    if (offset < 0 || offset % BDRV_SECTOR_SIZE) {
        error_setg(errp, "The new size must be a multiple of %d",
                   BDRV_SECTOR_SIZE);
        return -EINVAL;
    }
    if (offset < bs->total_bytes) {
        error_setg(errp, "qcow2 doesn't support shrinking images yet");
        return -ENOTSUP;
    }
    ret = qcow2_prepare_write(bs, errp);
    if (ret < 0) {
        return ret;
    }
    l1_needed = DIV_ROUND_UP((uint64_t)offset,
                             s->cluster_size << s->l2_bits);
    ret = qcow2_grow_l1_table(bs, l1_needed, errp);
    if (ret < 0) {
        return ret;
    }
    stq_be_p(buf, offset);
    ret = bdrv_file_pwrite_sync(bs->file, QCOW2_SIZE_OFFSET, sizeof(buf),
                                buf, errp);
    if (ret < 0) {
        return ret;
    }
    s->size = offset;
    bs->total_bytes = offset;
    qcow2_dirty_bitmaps_resize(bs);
    return 0;
}

int qcow2_write_close(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_dirty_bitmaps_store(bs, errp);

    if (ret == 0 && s->set_dirty) {
        ret = bdrv_file_flush(bs->file, errp);
        if (ret == 0 && bs->data_file && bs->data_file != bs->file) {
            ret = bdrv_file_flush(bs->data_file, errp);
        }
        if (ret == 0) {
            s->incompatible_features &= ~QCOW2_INCOMPAT_DIRTY;
            ret = qcow2_write_incompat_features(bs, errp);
        }
        if (ret == 0) {
            ret = bdrv_file_flush(bs->file, errp);
            s->set_dirty = false;
        }
    }
    qcow2_refcount_close(bs);
    return ret;
}
