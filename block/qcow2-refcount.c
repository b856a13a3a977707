/*
 * qcow2 refcounts and the consistency check: one walk over every
 * metadata structure builds the reference counts the image should have
 * (the "IMRT"), which are then compared with the refcounts on disk.
 *
 * Findings are printed on stderr with qemu-img 7.2's words, through
 * check_report() only.  Repair fixes refcounts that are too high
 * (leaks) or too low but not zero, and COPIED flags; refcounts must
 * already be right when a COPIED flag is set, so those fixes come last.
 * Rebuilding the whole refcount structure is not implemented yet.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

typedef struct Qcow2CheckState {
    BlockDriverState *bs;
    BDRVQcow2State *s;
    BdrvCheckResult *res;
    uint64_t nb_clusters;       /* host clusters in the file */
    uint16_t *imrt;             /* saturating reference counts */
    uint64_t imrt_capacity;     /* entries allocated, whole refblocks */
    uint64_t refcount_max;
    uint64_t *reftable;         /* host byte order */
    uint64_t reftable_entries;
    uint8_t *refblock;          /* one cached refcount block */
    uint64_t refblock_offset;
    uint8_t *l2;                /* one L2 table */
    bool corruption_signalled;  /* 7.2 reports the first one only */
    int fix;                    /* BDRV_FIX_* for the current pass */
    /*
     * The last comparison found every on-disk refcount equal to the
     * counted one, so later passes may read the counts from memory.
     */
    bool on_disk_matches;
    BdrvProgressFn *progress;   /* -p: counting is the first half */
    double last_progress;
} Qcow2CheckState;

enum {
    CHECK_FRAG_INFO = 1,        /* count allocation and fragmentation */
};

/* Reports progress in steps of at least 1%, and 100% always. */
static void check_progress(Qcow2CheckState *c, double percent)
{
    if (c->progress &&
        (percent - c->last_progress >= 1.0 || percent >= 100.0)) {
        c->progress(percent);
        c->last_progress = percent;
    }
}

static void G_GNUC_PRINTF(1, 2) check_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Adds one reference to every cluster of [offset, offset + size). */
static void inc_refcounts(Qcow2CheckState *c, uint64_t offset, uint64_t size)
{
    BDRVQcow2State *s = c->s;
    uint64_t file_len = (uint64_t)s->file_size;
    uint64_t first, last;

    if (size == 0) {
        return;
    }
    /* Regions starting a cluster or more past the end are not counted. */
    if (offset > INT64_MAX - size ||
        (offset + size > file_len &&
         offset + size - file_len >= s->cluster_size)) {
        check_report("ERROR: counting reference for region exceeding the "
                     "end of the file by one cluster or more: offset 0x%"
                     PRIx64 " size 0x%" PRIx64 "\n", offset, size);
        c->res->corruptions++;
        return;
    }
    first = offset >> s->cluster_bits;
    last = (offset + size - 1) >> s->cluster_bits;
    for (uint64_t k = first; k <= last && k < c->nb_clusters; k++) {
        if (c->imrt[k] == UINT16_MAX || c->imrt[k] >= c->refcount_max) {
            check_report("ERROR: overflow cluster offset=0x%" PRIx64 "\n",
                         k << s->cluster_bits);
            check_report("Use qemu-img amend to increase the refcount entry "
                         "width or qemu-img convert to create a clean copy if "
                         "the image cannot be opened for writing\n");
            c->res->corruptions++;
            continue;
        }
        c->imrt[k]++;
    }
}

/*
 * Reports the first unusable refblock as 7.2 does: an image opened
 * read-write (-r) is also marked corrupt on disk; the mark is cleared
 * again only by a repair that leaves no error.
 */
static void signal_corruption(Qcow2CheckState *c, uint64_t offset,
                              uint64_t rt_index)
{
    BDRVQcow2State *s = c->s;
    bool rw = !c->bs->read_only;

    c->corruption_signalled = true;
    check_report("qcow2: %s: Refblock offset %#" PRIx64 " unaligned "
                 "(reftable index: %#" PRIx64 "); further %scorruption "
                 "events will be suppressed\n",
                 rw ? "Marking image as corrupt" : "Image is corrupt",
                 offset, rt_index, rw ? "" : "non-fatal ");
    if (rw && s->version >= 3) {
        s->incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
        if (qcow2_write_incompat_features(c->bs, NULL) < 0) {
            c->res->check_errors++;
        }
    }
}

/* Refcount entry @index of a refcount block, any width. */
static uint64_t refblock_entry(const BDRVQcow2State *s, const uint8_t *blk,
                               uint64_t index)
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

/* Entries of one refcount block. */
static uint64_t refblock_entries(const BDRVQcow2State *s)
{
    return s->cluster_size * 8 / s->refcount_bits;
}

static int get_refcount(Qcow2CheckState *c, uint64_t cluster,
                        uint64_t *refcount, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t per_block = refblock_entries(s);
    uint64_t rt_index = cluster / per_block;
    uint64_t offset;
    int ret;

    *refcount = 0;
    if (rt_index >= c->reftable_entries) {
        return 0;
    }
    offset = c->reftable[rt_index] & REFT_OFFSET_MASK;
    if (!offset) {
        return 0;
    }
    if (offset != c->refblock_offset) {
        if (offset_into_cluster(s, offset)) {
            if (!c->corruption_signalled) {
                signal_corruption(c, offset, rt_index);
            }
            return -EIO;
        }
        ret = bdrv_file_pread(c->bs->file, offset, s->cluster_size,
                              c->refblock, errp);
        if (ret < 0) {
            return ret;
        }
        c->refblock_offset = offset;
    }
    *refcount = refblock_entry(s, c->refblock, cluster % per_block);
    return 0;
}

/* Writes @value into the on-disk refcount of @cluster (block exists). */
static int set_refcount(Qcow2CheckState *c, uint64_t cluster, uint64_t value,
                        Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t per_block = refblock_entries(s);
    uint64_t index = cluster % per_block;
    uint64_t current, pos;
    uint32_t bits = s->refcount_bits;
    uint8_t *p;
    size_t len;
    int ret;

    /* Loads the right block into the cache. */
    ret = get_refcount(c, cluster, &current, errp);
    if (ret < 0) {
        return ret;
    }
    g_assert(c->refblock_offset ==
             (c->reftable[cluster / per_block] & REFT_OFFSET_MASK));
    switch (bits) {
    case 8:
        pos = index;
        c->refblock[pos] = value;
        break;
    case 16:
        pos = index * 2;
        stw_be_p(c->refblock + pos, value);
        break;
    case 32:
        pos = index * 4;
        stl_be_p(c->refblock + pos, value);
        break;
    case 64:
        pos = index * 8;
        stq_be_p(c->refblock + pos, value);
        break;
    default:
        pos = index * bits / 8;
        c->refblock[pos] &= ~(((1u << bits) - 1) << (index * bits % 8));
        c->refblock[pos] |= value << (index * bits % 8);
        break;
    }
    p = c->refblock + pos;
    len = bits >= 8 ? bits / 8 : 1;
    return bdrv_file_pwrite(c->bs->file, c->refblock_offset + pos, len, p,
                            errp);
}


/* Grows the counted clusters to @nb; new clusters are free. */
static int imrt_grow(Qcow2CheckState *c, uint64_t nb)
{
    uint64_t per = refblock_entries(c->s);
    uint64_t cap = QEMU_ALIGN_UP(nb, per);

    if (cap > c->imrt_capacity) {
        uint16_t *n = g_try_renew(uint16_t, c->imrt, cap);
        if (!n) {
            return -ENOMEM;
        }
        memset(n + c->imrt_capacity, 0,
               (cap - c->imrt_capacity) * sizeof(*n));
        c->imrt = n;
        c->imrt_capacity = cap;
    }
    c->nb_clusters = MAX(c->nb_clusters, nb);
    return 0;
}

/*
 * First fit of @count free clusters in the counted references, from
 * *@first_free on (updated to the first free cluster seen); the image
 * grows when no gap is large enough.  The clusters get refcount 1.
 */
static int64_t alloc_clusters_imrt(Qcow2CheckState *c, uint64_t count,
                                   uint64_t *first_free)
{
    uint64_t cluster = *first_free, run = 0;
    bool first_gap = true;

    for (; cluster < c->nb_clusters && run < count; cluster++) {
        if (!c->imrt[cluster]) {
            run++;
            if (first_gap) {
                *first_free = cluster;
                first_gap = false;
            }
        } else {
            run = 0;
        }
    }
    if (run < count && imrt_grow(c, cluster + count - run) < 0) {
        return -ENOMEM;
    }
    cluster -= run;
    for (uint64_t i = 0; i < count; i++) {
        c->imrt[cluster + i] = 1;
    }
    return (int64_t)(cluster << c->s->cluster_bits);
}

/* Refcount block @index in on-disk form, from the counted references. */
static void encode_refblock(Qcow2CheckState *c, uint64_t index, uint8_t *blk)
{
    BDRVQcow2State *s = c->s;
    uint64_t per = refblock_entries(s);
    uint32_t bits = s->refcount_bits;

    memset(blk, 0, s->cluster_size);
    for (uint64_t i = 0; i < per; i++) {
        uint64_t v = c->imrt[index * per + i];
        switch (bits) {
        case 8:
            blk[i] = v;
            break;
        case 16:
            stw_be_p(blk + i * 2, v);
            break;
        case 32:
            stl_be_p(blk + i * 4, v);
            break;
        case 64:
            stq_be_p(blk + i * 8, v);
            break;
        default:
            blk[i * bits / 8] |= v << (i * bits % 8);
        }
    }
}

/*
 * Writes a refblock for every refblock range of [start, end) that has
 * counted references, allocating the ones the new reftable lacks.
 * Returns 1 when the reftable had to grow, 0, or a negative errno.
 */
static int rebuild_write_refblocks(Qcow2CheckState *c, uint64_t start,
                                   uint64_t end, uint64_t **reftable,
                                   uint64_t *entries, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t per = refblock_entries(s);
    uint64_t first_free = 0;
    g_autofree uint8_t *blk = g_malloc(s->cluster_size);
    int grown = 0;

    for (uint64_t cluster = start; cluster < end && cluster < c->nb_clusters;
         cluster++) {
        uint64_t index = cluster / per, block_start = index * per;
        int64_t offset;
        int ret;

        if (!c->imrt[cluster]) {
            continue;
        }
        if (index < *entries && (*reftable)[index]) {
            offset = (int64_t)(*reftable)[index];
        } else {
            /* Never inside a refblock range that is already written. */
            first_free = MAX(first_free, block_start);
            offset = alloc_clusters_imrt(c, 1, &first_free);
            if (offset < 0) {
                error_setg(errp, "Cannot allocate a refcount block");
                return (int)offset;
            }
            if (index >= *entries) {
                uint64_t n = QEMU_ALIGN_UP((index + 1) * REFTABLE_ENTRY_SIZE,
                                           s->cluster_size) /
                             REFTABLE_ENTRY_SIZE;
                *reftable = g_renew(uint64_t, *reftable, n);
                memset(*reftable + *entries, 0,
                       (n - *entries) * sizeof(uint64_t));
                *entries = n;
                grown = 1;
            }
            (*reftable)[index] = offset;
        }
        encode_refblock(c, index, blk);
        ret = bdrv_file_pwrite(c->bs->file, offset, s->cluster_size, blk,
                               errp);
        if (ret < 0) {
            return ret;
        }
        cluster = block_start + per - 1;
    }
    return grown;
}

/*
 * Replaces the refcount structure by one built from the counted
 * references.  The new refblocks and reftable go into free clusters;
 * the header is switched over last, so a crash before that leaves the
 * old structure in place, and after it only leaks the old one.
 */
static int rebuild_refcount_structure(Qcow2CheckState *c, Error **errp)
{
    BDRVQcow2State *s = c->s;
    g_autofree uint64_t *reftable = NULL;
    g_autofree uint8_t *raw = NULL;
    uint64_t entries = 0, clusters = 0;
    int64_t offset = -1;
    uint8_t hdr[12];
    int grown, ret;

    grown = rebuild_write_refblocks(c, 0, c->nb_clusters, &reftable,
                                    &entries, errp);
    if (grown < 0) {
        return grown;
    }
    /* Placing the reftable changes counts: rewrite those refblocks. */
    do {
        uint64_t first_free = 0;

        clusters = DIV_ROUND_UP(entries * REFTABLE_ENTRY_SIZE,
                                s->cluster_size);
        offset = alloc_clusters_imrt(c, clusters, &first_free);
        if (offset < 0) {
            error_setg(errp, "Cannot allocate the refcount table");
            return (int)offset;
        }
        grown = rebuild_write_refblocks(c, (uint64_t)offset >> s->cluster_bits,
                                        ((uint64_t)offset >> s->cluster_bits) +
                                        clusters, &reftable, &entries, errp);
        if (grown < 0) {
            return grown;
        }
    } while (grown);

    raw = g_malloc0(clusters * s->cluster_size);
    for (uint64_t i = 0; i < entries; i++) {
        stq_be_p(raw + i * REFTABLE_ENTRY_SIZE, reftable[i]);
    }
    ret = bdrv_file_pwrite(c->bs->file, offset, entries * REFTABLE_ENTRY_SIZE,
                           raw, errp);
    if (ret < 0 || (ret = bdrv_file_flush(c->bs->file, errp)) < 0) {
        return ret;
    }
    stq_be_p(hdr, offset);
    stl_be_p(hdr + 8, clusters);
    ret = bdrv_file_pwrite(c->bs->file, QCOW2_REFTABLE_OFFSET_OFFSET,
                           sizeof(hdr), hdr, errp);
    if (ret < 0 || (ret = bdrv_file_flush(c->bs->file, errp)) < 0) {
        return ret;
    }
    s->refcount_table_offset = offset;
    s->refcount_table_clusters = clusters;
    g_free(c->reftable);
    c->reftable = g_steal_pointer(&reftable);
    c->reftable_entries = entries;
    c->refblock_offset = 0;     /* the cache may hold an old block */
    s->file_size = bdrv_getlength(c->bs->file);
    return 0;
}

typedef enum Qcow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,
    QCOW2_CLUSTER_ZERO_ALLOC,
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

static Qcow2ClusterType cluster_type(const BDRVQcow2State *s, uint64_t e)
{
    if (e & QCOW_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if ((e & QCOW_OFLAG_ZERO) && !has_subclusters(s)) {
        return (e & L2E_OFFSET_MASK) ? QCOW2_CLUSTER_ZERO_ALLOC
                                     : QCOW2_CLUSTER_ZERO_PLAIN;
    }
    if (!(e & L2E_OFFSET_MASK)) {
        return (has_data_file(s) && (e & QCOW_OFLAG_COPIED))
               ? QCOW2_CLUSTER_NORMAL : QCOW2_CLUSTER_UNALLOCATED;
    }
    return QCOW2_CLUSTER_NORMAL;
}

static void check_compressed(Qcow2CheckState *c, uint64_t e, uint64_t bitmap,
                             int flags)
{
    BDRVQcow2State *s = c->s;
    uint64_t coffset = e & s->cluster_offset_mask;
    uint64_t nb_csectors = ((e >> s->csize_shift) & s->csize_mask) + 1;

    if (e & QCOW_OFLAG_COPIED) {
        check_report("ERROR: coffset=0x%" PRIx64 ": copied flag must never "
                     "be set for compressed clusters\n", coffset);
        e &= ~QCOW_OFLAG_COPIED;
        c->res->corruptions++;
    }
    if (has_data_file(s)) {
        check_report("ERROR compressed cluster %" PRIu64 " with data file, "
                     "entry=0x%" PRIx64 "\n", coffset >> s->cluster_bits, e);
        c->res->corruptions++;
        return;
    }
    if (bitmap) {
        check_report("ERROR compressed cluster %" PRIu64 " with non-zero "
                     "subcluster allocation bitmap, entry=0x%" PRIx64 "\n",
                     coffset >> s->cluster_bits, e);
        c->res->corruptions++;
        return;
    }
    inc_refcounts(c, coffset & ~(uint64_t)(QCOW2_COMPRESSED_SECTOR_SIZE - 1),
                  nb_csectors * QCOW2_COMPRESSED_SECTOR_SIZE);
    if (flags & CHECK_FRAG_INFO) {
        c->res->bfi.allocated_clusters++;
        c->res->bfi.compressed_clusters++;
        /* Compressed clusters always count as fragmented. */
        c->res->bfi.fragmented_clusters++;
    }
}

/*
 * An unaligned entry that holds no data can be made a plain zero
 * entry without losing anything (what 7.2's -r all does).
 */
static int fix_l2_entry_by_zero(Qcow2CheckState *c, uint64_t pos)
{
    uint8_t buf[L2E_SIZE_EXTENDED] = { 0 };
    BDRVQcow2State *s = c->s;

    if (has_subclusters(s)) {
        stq_be_p(buf + 8, QCOW_L2_BITMAP_ALL_ZEROES);
    } else {
        stq_be_p(buf, QCOW_OFLAG_ZERO);
    }
    return bdrv_file_pwrite(c->bs->file, pos, s->l2_entry_size, buf, NULL);
}

static void check_allocated(Qcow2CheckState *c, uint64_t e, uint64_t bitmap,
                            Qcow2ClusterType type, int flags,
                            uint64_t *next_contiguous, uint64_t pos)
{
    BDRVQcow2State *s = c->s;
    uint64_t offset = e & L2E_OFFSET_MASK;

    if (has_subclusters(s) && ((bitmap >> 32) & bitmap)) {
        check_report("ERROR offset=%" PRIx64 ": Allocated cluster has "
                     "corrupted subcluster allocation bitmap\n", offset);
        c->res->corruptions++;
    }
    if (offset_into_cluster(s, offset)) {
        bool no_data = type == QCOW2_CLUSTER_ZERO_ALLOC ||
                       (has_subclusters(s) && !(bitmap & 0xffffffffu));
        if (no_data && (c->fix & BDRV_FIX_ERRORS)) {
            check_report("Repairing offset=%" PRIx64 ": Preallocated cluster "
                         "is not properly aligned; L2 entry corrupted.\n",
                         offset);
            if (fix_l2_entry_by_zero(c, pos) == 0) {
                c->res->corruptions_fixed++;
                return;     /* the entry no longer refers to a cluster */
            }
            c->res->check_errors++;
            return;
        } else if (no_data) {
            check_report("ERROR offset=%" PRIx64 ": Preallocated cluster is "
                         "not properly aligned; L2 entry corrupted.\n",
                         offset);
        } else {
            check_report("ERROR offset=%" PRIx64 ": Data cluster is not "
                         "properly aligned; L2 entry corrupted.\n", offset);
        }
        c->res->corruptions++;
    }
    if (flags & CHECK_FRAG_INFO) {
        c->res->bfi.allocated_clusters++;
        if (*next_contiguous && offset != *next_contiguous) {
            c->res->bfi.fragmented_clusters++;
        }
        *next_contiguous = offset + s->cluster_size;
    }
    if (!has_data_file(s)) {
        inc_refcounts(c, offset, s->cluster_size);
    }
}

static int check_refcounts_l2(Qcow2CheckState *c, uint64_t l2_offset,
                              int flags, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t next_contiguous = 0;
    int ret;

    ret = bdrv_file_pread(c->bs->file, l2_offset,
                          s->l2_size * s->l2_entry_size, c->l2, errp);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < s->l2_size; i++) {
        const uint8_t *p = c->l2 + i * s->l2_entry_size;
        uint64_t e = ldq_be_p(p);
        uint64_t bitmap = has_subclusters(s) ? ldq_be_p(p + 8) : 0;
        Qcow2ClusterType type = cluster_type(s, e);

        if (type != QCOW2_CLUSTER_COMPRESSED &&
            (e & L2E_STD_RESERVED_MASK)) {
            check_report("ERROR found l2 entry with reserved bits set: %"
                         PRIx64 "\n", e);
            c->res->corruptions++;
        }
        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED:
            check_compressed(c, e, bitmap, flags);
            break;
        case QCOW2_CLUSTER_ZERO_ALLOC:
        case QCOW2_CLUSTER_NORMAL:
            check_allocated(c, e, bitmap, type, flags, &next_contiguous,
                            l2_offset + i * s->l2_entry_size);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
            break;
        case QCOW2_CLUSTER_UNALLOCATED:
            if (has_subclusters(s) && (bitmap & 0xffffffffu)) {
                check_report("ERROR: Unallocated cluster has non-zero "
                             "subcluster allocation map\n");
                c->res->corruptions++;
            }
            break;
        }
    }
    return 0;
}

static int check_refcounts_l1(Qcow2CheckState *c, uint64_t l1_offset,
                              uint32_t l1_size, int flags, Error **errp)
{
    BDRVQcow2State *s = c->s;
    g_autofree uint8_t *raw = NULL;
    uint64_t bytes = (uint64_t)l1_size * L1E_SIZE;
    int ret;

    inc_refcounts(c, l1_offset, bytes);
    if (!l1_size) {
        return 0;
    }
    /* l1_size <= QCOW_MAX_L1_SIZE / 8: checked by the callers. */
    raw = g_malloc(bytes);
    ret = bdrv_file_pread(c->bs->file, l1_offset, bytes, raw, errp);
    if (ret < 0) {
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = ldq_be_p(raw + (size_t)i * L1E_SIZE);
        uint64_t l2_offset = e & L1E_OFFSET_MASK;

        if (flags & CHECK_FRAG_INFO) {
            check_progress(c, 50.0 * i / l1_size);
        }
        if (!e) {
            continue;
        }
        if (e & L1E_RESERVED_MASK) {
            check_report("ERROR found L1 entry with reserved bits set: %"
                         PRIx64 "\n", e);
            c->res->corruptions++;
        }
        inc_refcounts(c, l2_offset, s->cluster_size);
        if (offset_into_cluster(s, l2_offset)) {
            /* Reported, and the table is still walked where it points. */
            check_report("ERROR l2_offset=%" PRIx64 ": Table is not cluster "
                         "aligned; L1 entry corrupted\n", l2_offset);
            c->res->corruptions++;
        }
        ret = check_refcounts_l2(c, l2_offset, flags, errp);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int check_snapshots(Qcow2CheckState *c, Error **errp)
{
    BDRVQcow2State *s = c->s;

    if (has_data_file(s) && s->nb_snapshots) {
        check_report("ERROR %" PRIu32 " snapshots in image with data file\n",
                     s->nb_snapshots);
        c->res->corruptions++;
    }
    for (uint32_t i = 0; s->snapshots && i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        int ret;

        if (offset_into_cluster(s, sn->l1_table_offset)) {
            check_report("ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 "
                         "table is not cluster aligned; snapshot table entry "
                         "corrupted\n", sn->id_str, sn->name,
                         sn->l1_table_offset);
            c->res->corruptions++;
            continue;
        }
        if (sn->l1_size > QCOW_MAX_L1_SIZE / L1E_SIZE) {
            check_report("ERROR snapshot %s (%s) l1_size=%#" PRIx32 ": L1 "
                         "table is too large; snapshot table entry "
                         "corrupted\n", sn->id_str, sn->name, sn->l1_size);
            c->res->corruptions++;
            continue;
        }
        ret = check_refcounts_l1(c, sn->l1_table_offset, sn->l1_size, 0,
                                 errp);
        if (ret < 0) {
            return ret;
        }
    }
    inc_refcounts(c, s->snapshots_offset, s->snapshots_size);
    return 0;
}

/*
 * A bitmap table that does not load aborts the whole check, as in 7.2
 * ("Check failed: Invalid argument").
 */
static int check_bitmaps(Qcow2CheckState *c, Error **errp)
{
    BDRVQcow2State *s = c->s;

    if (!s->has_bitmaps_ext) {
        return 0;
    }
    inc_refcounts(c, s->bitmap_directory_offset, s->bitmap_directory_size);
    for (uint32_t i = 0; s->bitmaps_loaded && i < s->nb_bitmaps; i++) {
        const Qcow2Bitmap *bm = &s->bitmaps[i];
        g_autofree uint64_t *table = NULL;
        int ret;

        inc_refcounts(c, bm->table_offset, (uint64_t)bm->table_size * 8);
        ret = qcow2_bitmap_table_load(c->bs, bm, &table, NULL);
        if (ret < 0) {
            c->res->corruptions++;
            return ret;
        }
        for (uint32_t j = 0; j < bm->table_size; j++) {
            if (table[j]) {
                inc_refcounts(c, table[j], s->cluster_size);
            }
        }
    }
    return 0;
}

/* Bad refcount-table entries can only be fixed by a rebuild. */
static void check_refblocks(Qcow2CheckState *c, bool *rebuild)
{
    BDRVQcow2State *s = c->s;

    for (uint64_t i = 0; i < c->reftable_entries; i++) {
        uint64_t offset = c->reftable[i] & REFT_OFFSET_MASK;
        uint64_t cluster = offset >> s->cluster_bits;

        if (c->reftable[i] & REFT_RESERVED_MASK) {
            check_report("ERROR refcount table entry %" PRIu64 " has "
                         "reserved bits set\n", i);
            c->res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (!offset) {
            continue;
        }
        if (offset_into_cluster(s, offset)) {
            check_report("ERROR refcount block %" PRIu64 " is not cluster "
                         "aligned; refcount table entry corrupted\n", i);
            c->res->corruptions++;
            *rebuild = true;
            continue;
        }
        if (cluster >= c->nb_clusters) {
            if (!(c->fix & BDRV_FIX_ERRORS)) {
                check_report("ERROR refcount block %" PRIu64 " is outside "
                             "image\n", i);
                c->res->corruptions++;
                continue;
            }
            /* Grow the file so that the block exists (it reads as zeros). */
            check_report("Repairing refcount block %" PRIu64 " is outside "
                         "image\n", i);
            if (bdrv_file_truncate(c->bs->file, offset + s->cluster_size,
                                   NULL) < 0 ||
                imrt_grow(c, cluster + 1) < 0) {
                check_report("ERROR could not resize image\n");
                c->res->corruptions++;
                *rebuild = true;
                continue;
            }
            s->file_size = offset + s->cluster_size;
            c->res->corruptions_fixed++;
        }
        inc_refcounts(c, offset, s->cluster_size);
        if (c->imrt[cluster] != 1) {
            check_report("ERROR refcount block %" PRIu64 " refcount=%u\n", i,
                         c->imrt[cluster]);
            c->res->corruptions++;
            *rebuild = true;
        }
    }
}

/*
 * Compares the counted references with the refcounts on disk.  With
 * @fix, refcounts that are too high (leaks) or too low (but not zero)
 * are rewritten; a zero refcount for a used cluster needs the whole
 * structure rebuilt (*@rebuild).
 */
static void compare_refcounts(Qcow2CheckState *c, int fix, bool *rebuild,
                              uint64_t *highest)
{
    bool all_match = true;

    *highest = 0;
    for (uint64_t i = 0; i < c->nb_clusters; i++) {
        uint64_t on_disk, expected = c->imrt[i];
        bool repair;
        int ret;

        if ((i & 0xffff) == 0) {
            check_progress(c, 50.0 + 50.0 * i / c->nb_clusters);
        }
        if (expected == UINT16_MAX) {
            all_match = false;      /* saturated: not the true count */
        }
        ret = get_refcount(c, i, &on_disk, NULL);
        if (ret < 0) {
            all_match = false;
            check_report("Can't get refcount for cluster %" PRIu64 ": %s\n",
                         i, g_strerror(-ret));
            c->res->check_errors++;
            continue;
        }
        if (on_disk || expected) {
            *highest = i;
        }
        if (on_disk == expected) {
            continue;
        }
        if (on_disk == 0) {
            *rebuild = true;
            repair = false;
        } else if (on_disk > expected) {
            repair = fix & BDRV_FIX_LEAKS;
        } else {
            repair = fix & BDRV_FIX_ERRORS;
        }
        check_report("%s cluster %" PRIu64 " refcount=%" PRIu64
                     " reference=%" PRIu64 "\n",
                     repair ? "Repairing" :
                     on_disk < expected ? "ERROR" : "Leaked",
                     i, on_disk, expected);
        if (repair) {
            Error *err = NULL;
            if (set_refcount(c, i, expected, &err) < 0) {
                check_report("ERROR could not fix refcount of cluster %"
                             PRIu64 ": %s\n", i, error_get_pretty(err));
                error_free(err);
                c->res->check_errors++;
                continue;
            }
            if (on_disk > expected) {
                /* A cluster nothing uses any more is given back. */
                if (expected == 0 &&
                    bdrv_file_pdiscard(c->bs->file,
                                       (int64_t)(i << c->s->cluster_bits),
                                       c->s->cluster_size, NULL) < 0) {
                    c->res->check_errors++;
                }
                c->res->leaks_fixed++;
            } else {
                c->res->corruptions_fixed++;
            }
            continue;
        }
        all_match = false;
        if (on_disk < expected) {
            c->res->corruptions++;
        } else {
            c->res->leaks++;
        }
    }
    c->on_disk_matches = all_match;
}

/* Reports a COPIED mismatch, rewriting the entry when @repair. */
static void copied_mismatch(Qcow2CheckState *c, bool repair, uint64_t pos,
                            uint64_t fixed, const char *what)
{
    uint8_t buf[8];

    check_report("%s OFLAG_COPIED %s", repair ? "Repairing" : "ERROR", what);
    if (!repair) {
        c->res->corruptions++;
        return;
    }
    stq_be_p(buf, fixed);
    if (bdrv_file_pwrite(c->bs->file, pos, sizeof(buf), buf, NULL) < 0) {
        check_report("ERROR: Could not write the fixed entry\n");
        c->res->check_errors++;
        return;
    }
    c->res->corruptions_fixed++;
}

static int check_oflag_copied(Qcow2CheckState *c, int fix, Error **errp)
{
    BDRVQcow2State *s = c->s;
    /* With -r leaks, only an otherwise clean image gets its flags fixed. */
    bool repair = (fix & BDRV_FIX_ERRORS) ||
                  ((fix & BDRV_FIX_LEAKS) && !c->res->check_errors &&
                   !c->res->corruptions && !c->res->leaks);

    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1_table[i];
        uint64_t l2_offset = l1e & L1E_OFFSET_MASK;
        uint64_t refcount;
        int ret;

        if (!l2_offset) {
            continue;
        }
        ret = get_refcount(c, l2_offset >> s->cluster_bits, &refcount, errp);
        if (ret < 0) {
            return 0;       /* reported by compare_refcounts */
        }
        if ((refcount == 1) != ((l1e & QCOW_OFLAG_COPIED) != 0)) {
            g_autofree char *what = g_strdup_printf(
                "L2 cluster: l1_index=%" PRIu32 " l1_entry=%" PRIx64
                " refcount=%" PRIu64 "\n", i, l1e, refcount);
            uint64_t fixed = refcount == 1 ? l1e | QCOW_OFLAG_COPIED
                                           : l1e & ~QCOW_OFLAG_COPIED;
            copied_mismatch(c, repair, s->l1_table_offset +
                            (uint64_t)i * L1E_SIZE, fixed, what);
            if (repair) {
                s->l1_table[i] = fixed;
            }
        }
        if (offset_into_cluster(s, l2_offset)) {
            continue;
        }
        ret = bdrv_file_pread(c->bs->file, l2_offset,
                              s->l2_size * s->l2_entry_size, c->l2, errp);
        if (ret < 0) {
            check_report("ERROR: I/O error in check_oflag_copied\n");
            c->res->check_errors++;
            return ret;
        }
        for (uint64_t j = 0; j < s->l2_size; j++) {
            uint64_t e = ldq_be_p(c->l2 + j * s->l2_entry_size);
            Qcow2ClusterType type = cluster_type(s, e);
            uint64_t data;

            if (type != QCOW2_CLUSTER_NORMAL &&
                type != QCOW2_CLUSTER_ZERO_ALLOC) {
                continue;
            }
            data = e & L2E_OFFSET_MASK;
            if (has_data_file(s)) {
                refcount = 1;
            } else if (c->on_disk_matches &&
                       (data >> s->cluster_bits) < c->nb_clusters) {
                refcount = c->imrt[data >> s->cluster_bits];
            } else if (get_refcount(c, data >> s->cluster_bits, &refcount,
                                    NULL) < 0) {
                continue;
            }
            if ((refcount == 1) != ((e & QCOW_OFLAG_COPIED) != 0)) {
                g_autofree char *what = g_strdup_printf(
                    "data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64
                    "\n", e, refcount);
                copied_mismatch(c, repair, l2_offset + j * s->l2_entry_size,
                                refcount == 1 ? e | QCOW_OFLAG_COPIED
                                              : e & ~QCOW_OFLAG_COPIED,
                                what);
            }
        }
    }
    return 0;
}

static int load_reftable(Qcow2CheckState *c, Error **errp)
{
    BDRVQcow2State *s = c->s;
    g_autofree uint8_t *raw = NULL;
    uint64_t bytes = (uint64_t)s->refcount_table_clusters * s->cluster_size;
    int ret;

    /* At most QCOW_MAX_REFTABLE_SIZE (8 MiB): checked at open. */
    c->reftable_entries = bytes / REFTABLE_ENTRY_SIZE;
    c->reftable = g_new0(uint64_t, c->reftable_entries ? c->reftable_entries
                                                       : 1);
    if (!bytes) {
        return 0;
    }
    raw = g_malloc(bytes);
    ret = bdrv_file_pread(c->bs->file, s->refcount_table_offset, bytes, raw,
                          errp);
    if (ret < 0) {
        return ret;
    }
    for (uint64_t i = 0; i < c->reftable_entries; i++) {
        c->reftable[i] = ldq_be_p(raw + i * REFTABLE_ENTRY_SIZE);
    }
    return 0;
}

/* Counts every reference to a host cluster, from scratch. */
static int calculate_refcounts(Qcow2CheckState *c, int fix, bool *rebuild,
                               Error **errp)
{
    BDRVQcow2State *s = c->s;
    int ret;

    c->fix = fix;
    memset(c->imrt, 0, c->imrt_capacity * sizeof(*c->imrt));
    c->res->bfi.total_clusters = size_to_clusters(s, s->size);
    inc_refcounts(c, 0, s->cluster_size);
    ret = check_refcounts_l1(c, s->l1_table_offset, s->l1_size,
                             CHECK_FRAG_INFO, errp);
    if (ret < 0) {
        return ret;
    }
    if ((ret = check_snapshots(c, errp)) < 0) {
        return ret;
    }
    inc_refcounts(c, s->refcount_table_offset,
                  (uint64_t)s->refcount_table_clusters * s->cluster_size);
    if (s->crypto_header_length) {
        inc_refcounts(c, s->crypto_header_offset, s->crypto_header_length);
    }
    if ((ret = check_bitmaps(c, errp)) < 0) {
        return ret;
    }
    check_refblocks(c, rebuild);
    return 0;
}

/*
 * -r all on an image whose refcount structure cannot be patched: build
 * a new one, count again, and free the old structure (as leaks fixed
 * silently: they are the repair's own, not the image's).
 */
static int rebuild_and_recount(Qcow2CheckState *c, int fix, uint64_t *highest,
                               Error **errp)
{
    BdrvCheckResult before = *c->res;
    bool rebuild = false;
    int ret;

    check_report("Rebuilding refcount structure\n");
    ret = rebuild_refcount_structure(c, errp);
    if (ret < 0) {
        return ret;
    }
    *c->res = (BdrvCheckResult) { 0 };
    ret = calculate_refcounts(c, 0, &rebuild, errp);
    if (ret < 0) {
        return ret;
    }
    if (fix & BDRV_FIX_LEAKS) {
        BdrvCheckResult counted = *c->res;

        *c->res = (BdrvCheckResult) { 0 };
        compare_refcounts(c, BDRV_FIX_LEAKS, &rebuild, highest);
        if (rebuild) {
            check_report("ERROR rebuilt refcount structure is still broken\n");
        }
        counted.leaks += c->res->leaks;
        counted.corruptions += c->res->corruptions;
        counted.check_errors += c->res->check_errors;
        *c->res = counted;
    } else {
        compare_refcounts(c, 0, &rebuild, highest);
    }
    c->res->corruptions_fixed = before.corruptions_fixed +
        MAX(before.corruptions - c->res->corruptions, 0);
    c->res->leaks_fixed = before.leaks_fixed +
        MAX(before.leaks - c->res->leaks, 0);
    return 0;
}

static int qcow2_check_walk(Qcow2CheckState *c, int fix, Error **errp)
{
    BDRVQcow2State *s = c->s;
    BdrvCheckResult pre_compare;
    bool rebuild = false;
    uint64_t highest;
    int ret;

    ret = calculate_refcounts(c, fix, &rebuild, errp);
    if (ret < 0) {
        return ret;
    }
    pre_compare = *c->res;
    compare_refcounts(c, 0, &rebuild, &highest);
    if (rebuild && (fix & BDRV_FIX_ERRORS)) {
        ret = rebuild_and_recount(c, fix, &highest, errp);
        if (ret < 0) {
            return ret;
        }
    } else if (fix && rebuild) {
        check_report("ERROR need to rebuild refcount structures\n");
        c->res->check_errors++;
        return -EIO;
    } else if (fix && (c->res->leaks || c->res->corruptions)) {
        *c->res = pre_compare;
        compare_refcounts(c, fix, &rebuild, &highest);
    }
    if ((ret = check_oflag_copied(c, fix, errp)) < 0) {
        return ret;
    }
    c->res->image_end_offset = (int64_t)((highest + 1) << s->cluster_bits);
    return 0;
}

/*
 * After a successful repair: flush what was fixed, then clear the dirty
 * and corrupt bits, so that a crash in between leaves them set.
 */
static int qcow2_mark_clean(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bits = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT;
    int ret = bdrv_file_flush(bs->file, errp);

    if (ret < 0 || s->version < 3 || !(s->incompatible_features & bits)) {
        return ret;
    }
    s->incompatible_features &= ~bits;
    ret = qcow2_write_incompat_features(bs, errp);
    return ret < 0 ? ret : bdrv_file_flush(bs->file, errp);
}

/*
 * A check-mode open leaves the snapshot table to the check, which reads
 * it first and reports what is wrong with it, as 7.2 does.
 */
static int check_read_snapshot_table(BlockDriverState *bs,
                                     BdrvCheckResult *res)
{
    BDRVQcow2State *s = bs->opaque;
    Error *local_err = NULL;
    int ret;

    if (s->nb_snapshots && !s->snapshots) {
        ret = qcow2_read_snapshots(bs, &local_err);
        if (ret < 0) {
            error_prepend(&local_err, "ERROR failed to read the snapshot "
                          "table: ");
            error_report_err(local_err);
            res->check_errors++;
            return ret;
        }
    }
    for (uint32_t i = 0; s->version >= 3 && i < s->nb_snapshots; i++) {
        if (s->snapshots[i].extra_data_size < QCOW2_SNAPSHOT_EXTRA_V3_MIN) {
            check_report("ERROR snapshot table entry %" PRIu32 " is "
                         "incomplete\n", i);
            res->corruptions++;
        }
    }
    return 0;
}

int qcow2_check(BlockDriverState *bs, BdrvCheckResult *res, int fix,
                BdrvProgressFn *progress, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2CheckState c = {
        .bs = bs,
        .s = s,
        .res = res,
        .progress = progress,
        .last_progress = -100.0,
        .refcount_max = s->refcount_bits == 64 ? UINT64_MAX
                        : (1ull << s->refcount_bits) - 1,
    };
    int ret;

    ret = check_read_snapshot_table(bs, res);
    if (ret < 0) {
        return ret;
    }
    c.nb_clusters = size_to_clusters(s, (uint64_t)s->file_size);
    /* One 2-byte counter per host cluster, as QEMU uses. */
    c.imrt_capacity = QEMU_ALIGN_UP(MAX(c.nb_clusters, 1),
                                    refblock_entries(s));
    c.imrt = g_try_new0(uint16_t, c.imrt_capacity);
    c.refblock = g_malloc(s->cluster_size);
    c.l2 = g_malloc(s->l2_size * s->l2_entry_size);
    if (!c.imrt) {
        error_setg(errp, "Cannot allocate the reference count table for %"
                   PRIu64 " clusters", c.nb_clusters);
        ret = -ENOMEM;
    } else if ((ret = load_reftable(&c, errp)) == 0) {
        ret = qcow2_check_walk(&c, fix, errp);
    }
    if (ret == 0) {
        check_progress(&c, 100.0);
    }
    if (ret == 0 && fix && !res->check_errors && !res->corruptions) {
        ret = qcow2_mark_clean(bs, errp);
    }
    g_free(c.imrt);
    g_free(c.refblock);
    g_free(c.l2);
    g_free(c.reftable);
    return ret;
}
