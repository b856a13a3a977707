/*
 * qcow2 refcounts and the consistency check: one walk over every
 * metadata structure builds the reference counts the image should have
 * (the "IMRT"), which are then compared with the refcounts on disk.
 *
 * Findings are printed on stderr with qemu-img 7.2's words, through
 * check_report() only.  Repair fixes refcounts that are too high
 * (leaks) or too low but not zero, and COPIED flags; refcounts must
 * already be right when a COPIED flag is set, so those fixes come last.
 * What cannot be patched is fixed by rebuilding the whole refcount
 * structure.  With -M the same walk records where each table lives.
 */
#include <sys/mman.h>
#include "qemu/bswap.h"
#include "block/qcow2.h"

/*
 * The per-cluster arrays of a check are large, zeroed and touched
 * everywhere: anonymous mappings with transparent huge pages fault in
 * far faster than malloc's 4 KiB pages (a whole 1 TiB image has 32 MiB
 * of counters).  NULL when the memory is not there.
 */
static void *large_zalloc(size_t bytes)
{
    void *p = mmap(NULL, MAX(bytes, 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (p == MAP_FAILED) {
        return NULL;
    }
    madvise(p, MAX(bytes, 1), MADV_HUGEPAGE);   /* a hint only */
    return p;
}

/* Grows a large_zalloc() array; the new part is zeroed. */
static void *large_grow(void *p, size_t old_bytes, size_t new_bytes)
{
    void *n = mremap(p, MAX(old_bytes, 1), new_bytes, MREMAP_MAYMOVE);

    return n == MAP_FAILED ? NULL : n;
}

static void large_free(void *p, size_t bytes)
{
    if (p) {
        munmap(p, MAX(bytes, 1));
    }
}

/* Consecutive host clusters [first, first + len). */
typedef struct Qcow2ClusterRun {
    uint64_t first;
    uint64_t len;
} Qcow2ClusterRun;

/* An L2 table walked without findings, and the walks still owed to it. */
typedef struct SharedL2 {
    uint64_t owed;
    Qcow2ClusterRun run;        /* len 0: its clusters are not one run */
} SharedL2;

typedef struct Qcow2CheckState {
    BlockDriverState *bs;
    BDRVQcow2State *s;
    BdrvCheckResult *res;
    uint64_t nb_clusters;       /* host clusters in the file */
    uint16_t *imrt;             /* reference counts (see imrt_get()) */
    GHashTable *wide;           /* cluster -> count, counts >= 65535 */
    uint64_t imrt_capacity;     /* entries allocated, whole refblocks */
    bool imrt_used;             /* counted into since allocated */
    uint64_t refcount_max;
    /* -M: table entries in the map, and how many it may hold. */
    uint64_t map_entries;
    uint64_t map_budget;
    bool map_dropped;
    uint64_t *reftable;         /* host byte order */
    uint64_t reftable_entries;  /* held: those inside the file */
    uint8_t *refblock;          /* one cached refcount block */
    uint64_t refblock_offset;
    uint8_t *l2;                /* one L2 table */
    uint8_t *l2_batch;          /* L2 tables read together */
    uint64_t l2_batch_bytes;    /* its size */
    uint64_t l2_batch_offset;   /* what it holds, if l2_batch_len */
    uint64_t l2_batch_len;
    bool corruption_signalled;  /* 7.2 reports the first one only */
    int fix;                    /* BDRV_FIX_* for the current pass */
    /*
     * The last comparison found every on-disk refcount equal to the
     * counted one, so later passes may read the counts from memory.
     */
    bool on_disk_matches;
    BdrvProgressFn *progress;   /* -p: counting is the first half */
    double last_progress;
    /*
     * Without repair, the active walk notes which clusters its L2
     * entries mark COPIED and which not (one bit each), so that the
     * COPIED pass reads the L2 tables again only when a flag is wrong.
     */
    uint64_t *copied;
    uint64_t *not_copied;
    bool copied_needs_pass;     /* an entry the bits cannot describe */
    uint64_t copied_clusters;   /* clusters the bits cover */
    /*
     * L2 tables shared by several L1 tables (snapshots) are read and
     * checked once: a table whose walk reported nothing maps its offset
     * here to the walks still owed to it, done at once with their
     * multiplicity (apply_shared_l2()).  NULL when not in use.
     */
    GHashTable *shared_l2;
    bool recount;               /* shared_l2 would change the output */
    bool snapshot_table_counted;
    bool want_map;              /* -M: the walk also fills @map */
    Qcow2Metadata *map;
} Qcow2CheckState;

enum {
    CHECK_FRAG_INFO = 1,        /* count allocation and fragmentation */
    CHECK_NOTE_COPIED = 2,      /* fill c->copied and c->not_copied */
};

/* Size of c->copied and c->not_copied: fixed at allocation. */
static size_t copied_bytes(const Qcow2CheckState *c)
{
    return DIV_ROUND_UP(c->copied_clusters, 64) * sizeof(uint64_t);
}

/* Reports progress in steps of at least 1%, and 100% always. */
static void check_progress(Qcow2CheckState *c, double percent)
{
    if (c->progress &&
        (percent - c->last_progress >= 1.0 || percent >= 100.0)) {
        c->progress(percent);
        c->last_progress = percent;
    }
}

/*
 * While a count that may have to be redone is running, findings are
 * held back here (see calculate_refcounts()); a CLI checks one image at
 * a time, so one buffer for the process is enough.
 */
static GString *report_buffer;
static bool reports_dropped;    /* too many to hold: redo without */
static uint64_t nb_reports;
#define REPORT_BUFFER_MAX (16 * 1024 * 1024)

/*
 * -M: the map holds at most QCOW2_MAP_SLACK plus one table entry per 4
 * bytes of the file, twice what a consistent image can need (see
 * map_reserve()): room for damaged images, whose tables may overlap
 * once, and memory bounded by the file size for hostile ones
 * (docs/security.md).
 */
#define QCOW2_MAP_SLACK (64 * 1024)

static void G_GNUC_PRINTF(1, 2) check_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (!report_buffer) {
        vfprintf(stderr, fmt, ap);
    } else if (report_buffer->len < REPORT_BUFFER_MAX) {
        g_string_append_vprintf(report_buffer, fmt, ap);
    } else {
        reports_dropped = true;
    }
    va_end(ap);
    nb_reports++;
}

static void reports_hold(void)
{
    report_buffer = g_string_new(NULL);
    reports_dropped = false;
}

/* Prints what was held back (unless @drop) and reports directly again. */
static void reports_release(bool drop)
{
    if (report_buffer && !drop) {
        fputs(report_buffer->str, stderr);
    }
    if (report_buffer) {
        g_string_free(report_buffer, TRUE);
        report_buffer = NULL;
    }
}

static int imrt_grow(Qcow2CheckState *c, uint64_t nb);

/*
 * The count of cluster @k.  Counters are 2 bytes, as in 7.2's common
 * case; counts from 65535 up (possible with 32- and 64-bit refcounts)
 * are kept exactly in c->wide, the counter holding 65535 as a mark.
 */
static uint64_t imrt_get(const Qcow2CheckState *c, uint64_t k)
{
    gpointer v;

    if (c->imrt[k] != UINT16_MAX || !c->wide ||
        !g_hash_table_lookup_extended(c->wide, GSIZE_TO_POINTER(k), NULL,
                                      &v)) {
        return c->imrt[k];
    }
    return GPOINTER_TO_SIZE(v);
}

/* Counts only grow while counting, so a wide count stays wide. */
static void imrt_set(Qcow2CheckState *c, uint64_t k, uint64_t count)
{
    if (count < UINT16_MAX) {
        c->imrt[k] = count;
        return;
    }
    if (!c->wide) {
        c->wide = g_hash_table_new(NULL, NULL);
    }
    c->imrt[k] = UINT16_MAX;
    g_hash_table_insert(c->wide, GSIZE_TO_POINTER(k),
                        GSIZE_TO_POINTER(count));
}

/*
 * Adds one reference to every cluster of [offset, offset + size).
 * Returns false when the region could not be counted at all.
 */
static bool inc_refcounts(Qcow2CheckState *c, uint64_t offset, uint64_t size)
{
    BDRVQcow2State *s = c->s;
    /* 7.2 measures files in whole 512-byte sectors. */
    uint64_t file_len = QEMU_ALIGN_UP((uint64_t)s->file_size, 512);
    uint64_t first, last;

    if (size == 0) {
        return true;
    }
    /* Regions starting a cluster or more past the end are not counted. */
    if (offset > INT64_MAX - size ||
        (offset + size > file_len &&
         offset + size - file_len >= s->cluster_size)) {
        check_report("ERROR: counting reference for region exceeding the "
                     "end of the file by one cluster or more: offset 0x%"
                     PRIx64 " size 0x%" PRIx64 "\n", offset, size);
        c->res->corruptions++;
        return false;
    }
    first = offset >> s->cluster_bits;
    last = (offset + size - 1) >> s->cluster_bits;
    /*
     * Less than a cluster past the end: counted, and compared later, as
     * 7.2 grows its counts for it.
     */
    if (last >= c->nb_clusters && imrt_grow(c, last + 1) < 0) {
        check_report("ERROR: could not enlarge the reference count "
                     "array\n");
        c->res->check_errors++;
        return false;
    }
    for (uint64_t k = first; k <= last; k++) {
        uint64_t count = imrt_get(c, k);

        if (count >= c->refcount_max) {
            check_report("ERROR: overflow cluster offset=0x%" PRIx64 "\n",
                         k << s->cluster_bits);
            check_report("Use qemu-img amend to increase the refcount entry "
                         "width or qemu-img convert to create a clean copy if "
                         "the image cannot be opened for writing\n");
            c->res->corruptions++;
            continue;
        }
        imrt_set(c, k, count + 1);
    }
    return true;
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

static int get_refcount(Qcow2CheckState *c, uint64_t cluster,
                        uint64_t *refcount, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t per_block = qcow2_refblock_entries(s);
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
    *refcount = qcow2_refblock_get(s, c->refblock, cluster % per_block);
    return 0;
}

/* Writes @value into the on-disk refcount of @cluster (block exists). */
static int set_refcount(Qcow2CheckState *c, uint64_t cluster, uint64_t value,
                        Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t per_block = qcow2_refblock_entries(s);
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
    pos = qcow2_refblock_set(s, c->refblock, index, value);
    p = c->refblock + pos;
    len = bits >= 8 ? bits / 8 : 1;
    return bdrv_file_pwrite(c->bs->file, c->refblock_offset + pos, len, p,
                            errp);
}


/* Grows the counted clusters to @nb; new clusters are free. */
static int imrt_grow(Qcow2CheckState *c, uint64_t nb)
{
    uint64_t per = qcow2_refblock_entries(c->s);
    uint64_t cap = QEMU_ALIGN_UP(nb, per);

    if (cap > c->imrt_capacity) {
        uint16_t *n = large_grow(c->imrt, c->imrt_capacity * sizeof(*n),
                                 cap * sizeof(*n));
        if (!n) {
            return -ENOMEM;
        }
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
    uint64_t per = qcow2_refblock_entries(s);
    uint32_t bits = s->refcount_bits;

    memset(blk, 0, s->cluster_size);
    for (uint64_t i = 0; i < per; i++) {
        uint64_t v = imrt_get(c, index * per + i);
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
    uint64_t per = qcow2_refblock_entries(s);
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
    ret = bdrv_file_pwrite_sync(c->bs->file, offset,
                                entries * REFTABLE_ENTRY_SIZE, raw, errp);
    if (ret < 0) {
        return ret;
    }
    stq_be_p(hdr, offset);
    stl_be_p(hdr + 8, clusters);
    ret = bdrv_file_pwrite_sync(c->bs->file, QCOW2_REFTABLE_OFFSET_OFFSET,
                                sizeof(hdr), hdr, errp);
    if (ret < 0) {
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

/*
 * Bytes of a compressed cluster's data from its offset to the end of
 * its last sector: the range 7.2 counts (and names when past EOF).
 */
static uint64_t compressed_size(const BDRVQcow2State *s, uint64_t e)
{
    uint64_t coffset = e & s->cluster_offset_mask;
    uint64_t nb_csectors = ((e >> s->csize_shift) & s->csize_mask) + 1;

    return nb_csectors * QCOW2_COMPRESSED_SECTOR_SIZE -
           (coffset & (QCOW2_COMPRESSED_SECTOR_SIZE - 1));
}

/* @index: the entry's index in its L2 table, which 7.2's messages name. */
static void check_compressed(Qcow2CheckState *c, uint64_t e, uint64_t bitmap,
                             uint64_t index, int flags)
{
    BDRVQcow2State *s = c->s;
    uint64_t coffset = e & s->cluster_offset_mask;

    if (e & QCOW_OFLAG_COPIED) {
        check_report("ERROR: coffset=0x%" PRIx64 ": copied flag must never "
                     "be set for compressed clusters\n", coffset);
        e &= ~QCOW_OFLAG_COPIED;
        c->res->corruptions++;
    }
    if (has_data_file(s)) {
        check_report("ERROR compressed cluster %" PRIu64 " with data file, "
                     "entry=0x%" PRIx64 "\n", index, e);
        c->res->corruptions++;
        return;
    }
    if (bitmap) {
        check_report("ERROR compressed cluster %" PRIu64 " with non-zero "
                     "subcluster allocation bitmap, entry=0x%" PRIx64 "\n",
                     index, e);
        c->res->corruptions++;
        return;
    }
    inc_refcounts(c, coffset, compressed_size(s, e));
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

/* Cluster @k is referenced by an active L2 entry, COPIED or not. */
static inline void note_cluster(Qcow2CheckState *c, uint64_t k, bool copied)
{
    uint64_t *bits = copied ? c->copied : c->not_copied;

    if (k >= c->copied_clusters) {
        c->copied_needs_pass = true;
        return;
    }
    bits[k / 64] |= 1ull << (k % 64);
}

/* CHECK_NOTE_COPIED: what the COPIED pass would compare, for later. */
static void note_copied(Qcow2CheckState *c, uint64_t e)
{
    Qcow2ClusterType type = cluster_type(c->s, e);
    uint64_t k = (e & L2E_OFFSET_MASK) >> c->s->cluster_bits;

    if (type != QCOW2_CLUSTER_NORMAL && type != QCOW2_CLUSTER_ZERO_ALLOC) {
        return;
    }
    note_cluster(c, k, e & QCOW_OFLAG_COPIED);
}

/*
 * The host cluster of an L2 entry that is the common case: an aligned
 * data cluster inside the file (COPIED or not), in an image without
 * subclusters or data file; 0 for any other entry, which takes the
 * general path.
 */
static inline uint64_t plain_data_cluster(const Qcow2CheckState *c,
                                          uint64_t e)
{
    const BDRVQcow2State *s = c->s;
    uint64_t k = (e & L2E_OFFSET_MASK) >> s->cluster_bits;

    if (has_subclusters(s) || has_data_file(s) ||
        (e & (~(L2E_OFFSET_MASK | QCOW_OFLAG_COPIED) |
              (s->cluster_size - 1))) ||
        k >= c->nb_clusters) {
        return 0;
    }
    return k;
}

/* @times more references to cluster @k; false if that overflows. */
static inline bool add_times(Qcow2CheckState *c, uint64_t k, uint64_t times)
{
    if (c->imrt[k] + times > MIN(c->refcount_max, UINT16_MAX)) {
        return false;
    }
    c->imrt[k] += times;
    return true;
}

/*
 * The L2 table at @l2_offset, entry @i of the L1 table @l1 (of @l1_size
 * entries, big-endian).  Without repair, runs of L2 tables that follow
 * each other in the file (as allocation and preallocation lay them out)
 * are read with one large read; a repair may rewrite a table, so it
 * reads them one by one.
 */
static const uint8_t *read_l2_table(Qcow2CheckState *c, const uint8_t *l1,
                                    uint32_t l1_size, uint32_t i,
                                    uint64_t l2_offset, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t table = s->l2_size * s->l2_entry_size;
    uint64_t run = 1, max_run = c->l2_batch_bytes / s->cluster_size;

    if (c->l2_batch_len && l2_offset >= c->l2_batch_offset &&
        l2_offset - c->l2_batch_offset + table <= c->l2_batch_len &&
        !offset_into_cluster(s, l2_offset - c->l2_batch_offset)) {
        return c->l2_batch + (l2_offset - c->l2_batch_offset);
    }
    c->l2_batch_len = 0;
    if (!c->fix && !offset_into_cluster(s, l2_offset)) {
        while (run < max_run && i + run < l1_size &&
               (ldq_be_p(l1 + (size_t)(i + run) * L1E_SIZE) &
                L1E_OFFSET_MASK) == l2_offset + run * s->cluster_size) {
            run++;
        }
    }
    if (run > 1 &&
        bdrv_file_pread(c->bs->file, l2_offset,
                        (run - 1) * s->cluster_size + table, c->l2_batch,
                        NULL) == 0) {
        c->l2_batch_offset = l2_offset;
        c->l2_batch_len = (run - 1) * s->cluster_size + table;
        return c->l2_batch;
    }
    if (bdrv_file_pread(c->bs->file, l2_offset, table, c->l2, errp) < 0) {
        return NULL;
    }
    return c->l2;
}

/*
 * With @run, *@run says whether every entry is a plain data cluster and
 * the clusters follow each other (run->len entries from run->first),
 * as preallocation and sequential writes lay them out; else len is 0.
 */
static int check_refcounts_l2(Qcow2CheckState *c, uint64_t l2_offset,
                              const uint8_t *l2, int flags,
                              Qcow2ClusterRun *run, Error **errp)
{
    BDRVQcow2State *s = c->s;
    bool run_ok = run != NULL;
    uint64_t run_first = 0;
    uint64_t next_contiguous = 0;

    for (uint64_t i = 0; i < s->l2_size; i++) {
        const uint8_t *p = l2 + i * s->l2_entry_size;
        uint64_t e = ldq_be_p(p);
        uint64_t bitmap, k = plain_data_cluster(c, e);
        Qcow2ClusterType type;

        /*
         * Most entries of most images, when the count cannot overflow:
         * same effect as the general path below, without its calls.
         */
        if (k && add_times(c, k, 1)) {
            if (i == 0) {
                run_first = k;
            } else if (k != run_first + i) {
                run_ok = false;
            }
            if (flags & CHECK_NOTE_COPIED) {
                note_cluster(c, k, e & QCOW_OFLAG_COPIED);
            }
            if (flags & CHECK_FRAG_INFO) {
                c->res->bfi.allocated_clusters++;
                if (next_contiguous && (e & L2E_OFFSET_MASK) !=
                    next_contiguous) {
                    c->res->bfi.fragmented_clusters++;
                }
                next_contiguous = (e & L2E_OFFSET_MASK) + s->cluster_size;
            }
            continue;
        }
        run_ok = false;
        if (flags & CHECK_NOTE_COPIED) {
            note_copied(c, e);
        }
        bitmap = has_subclusters(s) ? ldq_be_p(p + 8) : 0;
        type = cluster_type(s, e);

        if (type != QCOW2_CLUSTER_COMPRESSED &&
            (e & L2E_STD_RESERVED_MASK)) {
            check_report("ERROR found l2 entry with reserved bits set: %"
                         PRIx64 "\n", e);
            c->res->corruptions++;
        }
        switch (type) {
        case QCOW2_CLUSTER_COMPRESSED:
            check_compressed(c, e, bitmap, i, flags);
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
    if (run) {
        run->first = run_first;
        run->len = run_ok ? s->l2_size : 0;
    }
    return 0;
}

/* With @map (-M), every L2 table walked is added to its l2-list. */
/*
 * Offsets differ in their high bits (g_direct_hash keeps only the low
 * 32, so a hostile L1 table could make every lookup a long scan).
 */
static guint l2_offset_hash(gconstpointer key)
{
    return (guint)((GPOINTER_TO_SIZE(key) * 0x9e3779b97f4a7c15ull) >> 32);
}

/*
 * Another reference to an L2 table already walked without findings:
 * owe it one more walk instead of reading it again.
 */
static bool defer_shared_l2(Qcow2CheckState *c, uint64_t l2_offset)
{
    SharedL2 *sh = g_hash_table_lookup(c->shared_l2,
                                       GSIZE_TO_POINTER(l2_offset));

    if (!sh) {
        return false;
    }
    sh->owed++;
    return true;
}

/* count_l2_times() for a table that is one run of clusters. */
static bool count_run_times(Qcow2CheckState *c, const Qcow2ClusterRun *run,
                            uint64_t times)
{
    uint64_t end = MIN(run->first + run->len, c->nb_clusters);

    for (uint64_t k = run->first; k < end; k++) {
        if (!add_times(c, k, times)) {
            return false;
        }
    }
    return true;
}

/*
 * The references of a walk-without-findings of one L2 table, @times
 * times over.  Such a walk found every entry valid and inside the file,
 * so only the counts change; false when one of them would overflow,
 * which the walks one by one would have reported.
 */
static bool count_l2_times(Qcow2CheckState *c, const uint8_t *l2,
                           uint64_t times)
{
    BDRVQcow2State *s = c->s;

    for (uint64_t i = 0; i < s->l2_size; i++) {
        uint64_t e = ldq_be_p(l2 + i * s->l2_entry_size);
        uint64_t first = plain_data_cluster(c, e), last;

        if (first) {
            if (!add_times(c, first, times)) {
                return false;
            }
            continue;
        }
        switch (cluster_type(s, e)) {
        case QCOW2_CLUSTER_COMPRESSED: {
            uint64_t coffset = e & s->cluster_offset_mask;

            first = coffset >> s->cluster_bits;
            last = (coffset + compressed_size(s, e) - 1) >> s->cluster_bits;
            break;
        }
        case QCOW2_CLUSTER_NORMAL:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            if (has_data_file(s)) {
                continue;
            }
            first = last = (e & L2E_OFFSET_MASK) >> s->cluster_bits;
            break;
        default:
            continue;
        }
        for (uint64_t k = first; k <= last && k < c->nb_clusters; k++) {
            if (!add_times(c, k, times)) {
                return false;
            }
        }
    }
    return true;
}

/*
 * Settles the walks owed to shared L2 tables.  Sets c->recount when
 * that cannot be done without changing what is reported.
 */
static int apply_shared_l2(Qcow2CheckState *c, Error **errp)
{
    GHashTableIter iter;
    gpointer key, value;

    if (reports_dropped) {
        c->recount = true;
        return 0;
    }
    g_hash_table_iter_init(&iter, c->shared_l2);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        SharedL2 *sh = value;
        int ret;

        if (!sh->owed) {
            continue;
        }
        if (sh->run.len) {
            /* No need to read it again. */
            if (!count_run_times(c, &sh->run, sh->owed)) {
                c->recount = true;
                return 0;
            }
            sh->owed = 0;
            continue;
        }
        ret = bdrv_file_pread(c->bs->file, GPOINTER_TO_SIZE(key),
                              c->s->l2_size * c->s->l2_entry_size, c->l2,
                              errp);
        if (ret < 0) {
            return ret;
        }
        if (!count_l2_times(c, c->l2, sh->owed)) {
            c->recount = true;
            return 0;
        }
        sh->owed = 0;
    }
    /* From here on, the walk is the plain one. */
    reports_release(false);
    return 0;
}

/*
 * -M: room in the map for @n more table entries.  A consistent image's
 * tables do not overlap and lie inside the file, so its map holds at
 * most one entry per 8 bytes of the file; a hostile one may repeat or
 * invent tables without end, and is then not mapped at all.
 */
static bool map_reserve(Qcow2CheckState *c, uint64_t n)
{
    if (!c->map || c->map_dropped) {
        return false;
    }
    if (n > c->map_budget - c->map_entries) {
        c->map_dropped = true;
        return false;
    }
    c->map_entries += n;
    return true;
}

static int check_refcounts_l1(Qcow2CheckState *c, uint64_t l1_offset,
                              uint32_t l1_size, int flags, Qcow2L1Table *map,
                              Error **errp)
{
    BDRVQcow2State *s = c->s;
    g_autofree uint8_t *raw = NULL;
    uint64_t bytes = (uint64_t)l1_size * L1E_SIZE;
    uint32_t held;
    Qcow2AllocationList **l2_list = NULL;
    Qcow2ClusterRun run;
    const uint8_t *l2;
    uint64_t reports;
    int ret;

    inc_refcounts(c, l1_offset, bytes);
    if (!l1_size) {
        return 0;
    }
    /*
     * Entries past the end of the file read as zeros: only those inside
     * it are read and walked.  A range no file can hold stays the read
     * error it is for 7.2.
     */
    held = qcow2_entries_in_file(s, l1_offset, l1_size, L1E_SIZE);
    bytes = (uint64_t)held * L1E_SIZE;
    if (map) {
        l2_list = &map->l2_list;
    }
    /* l1_size <= QCOW_MAX_L1_SIZE / 8: checked by the callers. */
    raw = g_malloc(MAX(bytes, 1));
    ret = qcow2_pread_held(c->bs, l1_offset, (uint64_t)l1_size * L1E_SIZE,
                           bytes, raw, NULL);
    if (ret < 0) {
        /* 7.2's words; the check then fails with the errno alone. */
        check_report("ERROR: I/O error in check_refcounts_l1\n");
        c->res->check_errors++;
        return -EIO;
    }
    for (uint32_t i = 0; i < held; i++) {
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
        if (l2_list && !map_reserve(c, 1)) {
            l2_list = NULL;
        }
        if (l2_list) {
            qcow2_allocation_append(l2_list, l2_offset, s->cluster_size);
        }
        if (offset_into_cluster(s, l2_offset)) {
            /* Reported, and the table is still walked where it points. */
            check_report("ERROR l2_offset=%" PRIx64 ": Table is not cluster "
                         "aligned; L1 entry corrupted\n", l2_offset);
            c->res->corruptions++;
        }
        /* Snapshots' walks only: the active one also counts allocation. */
        if (c->shared_l2 && !(flags & CHECK_FRAG_INFO) &&
            defer_shared_l2(c, l2_offset)) {
            continue;
        }
        reports = nb_reports;
        l2 = read_l2_table(c, raw, held, i, l2_offset, NULL);
        if (!l2) {
            check_report("ERROR: I/O error in check_refcounts_l2\n");
            c->res->check_errors++;
            return -EIO;
        }
        /*
         * The COPIED pass skips a table at offset 0 and reads an
         * unaligned one where it points: the notes cannot follow that.
         */
        if ((flags & CHECK_NOTE_COPIED) &&
            (!l2_offset || offset_into_cluster(s, l2_offset))) {
            c->copied_needs_pass = true;
        }
        ret = check_refcounts_l2(c, l2_offset, l2,
                                 l2_offset && !offset_into_cluster(s, l2_offset)
                                 ? flags : flags & ~CHECK_NOTE_COPIED,
                                 c->shared_l2 ? &run : NULL, errp);
        if (ret < 0) {
            return ret;
        }
        if (c->shared_l2 && nb_reports == reports) {
            SharedL2 *sh = g_new0(SharedL2, 1);

            sh->run = run;
            g_hash_table_insert(c->shared_l2, GSIZE_TO_POINTER(l2_offset), sh);
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
    Qcow2L1TableList **l1_tail = c->map && c->map->has_snapshot_table
                                 ? &c->map->snapshot_table->l1_list : NULL;

    for (uint32_t i = 0; s->snapshots && i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        Qcow2L1Table *map = NULL;
        int ret;

        if (l1_tail) {
            /* Listed even when not walked: its location is still known. */
            map = qcow2_metadata_l1_new(sn->name, sn->l1_table_offset,
                                        sn->l1_size);
            QAPI_LIST_APPEND(l1_tail, map);
        }
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
                                 map, errp);
        if (ret < 0) {
            return ret;
        }
    }
    if (c->shared_l2) {
        /* Before anything else is counted, as the walks one by one were. */
        int ret = apply_shared_l2(c, errp);
        if (ret < 0 || c->recount) {
            return ret;
        }
    }
    /* Only a table that was counted may be freed when it is rewritten. */
    c->snapshot_table_counted = inc_refcounts(c, s->snapshots_offset,
                                              s->snapshots_size);
    return 0;
}

/* -M: the entries of a bitmap table that break the spec. */
static int64_t count_invalid(const Qcow2BitmapDirEntry *entry)
{
    int64_t n = 0;

    if (!entry || !entry->bitmap_table) {
        return 0;
    }
    for (const Qcow2BitmapTableEntryList *l =
         entry->bitmap_table->table_entries; l; l = l->next) {
        n += l->value->type == QCOW2_BITMAP_TABLE_ENTRY_TYPE_INVALID;
    }
    return n;
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
    Qcow2BitmapDirEntryList **tail = c->map
        ? &c->map->bitmaps->bitmap_dir->dir_entries : NULL;

    inc_refcounts(c, s->bitmap_directory_offset, s->bitmap_directory_size);
    for (uint32_t i = 0; s->bitmaps_loaded && i < s->nb_bitmaps; i++) {
        const Qcow2Bitmap *bm = &s->bitmaps[i];
        g_autofree uint64_t *table = NULL;
        Qcow2BitmapDirEntry *entry = NULL;
        uint32_t held = 0;
        int ret;

        if (tail) {
            entry = g_new0(Qcow2BitmapDirEntry, 1);
            entry->bitmap_name = g_strdup(bm->name);
            QAPI_LIST_APPEND(tail, entry);
        }
        inc_refcounts(c, bm->table_offset, (uint64_t)bm->table_size * 8);
        ret = qcow2_bitmap_table_load(c->bs, bm, &table, &held,
                                      entry && map_reserve(c, bm->table_size)
                                      ? &entry->bitmap_table : NULL,
                                      NULL);
        if (ret < 0) {
            /*
             * 7.2 stops at the first bad entry; with -M the map shows
             * them all, and the counts printed with it say as many.
             */
            c->res->corruptions += MAX(count_invalid(entry), 1);
            return ret;
        }
        for (uint32_t j = 0; j < held; j++) {
            uint64_t data = table[j] & BME_TABLE_ENTRY_OFFSET_MASK;

            if (data) {
                inc_refcounts(c, data, s->cluster_size);
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
        if (imrt_get(c, cluster) != 1) {
            check_report("ERROR refcount block %" PRIu64 " refcount=%" PRIu64
                         "\n", i, imrt_get(c, cluster));
            c->res->corruptions++;
            *rebuild = true;
        }
    }
}

/*
 * One cluster whose on-disk refcount may differ from the counted one:
 * reports it and, with @fix, repairs what can be patched.  Returns
 * false when the two still differ afterwards.
 */
static bool compare_one(Qcow2CheckState *c, uint64_t i, int fix,
                        bool *rebuild, uint64_t *highest)
{
    uint64_t on_disk, expected = imrt_get(c, i);
    bool repair, match = true;      /* counts are exact (wide ones too) */
    int ret;

    ret = get_refcount(c, i, &on_disk, NULL);
    if (ret < 0) {
        check_report("Can't get refcount for cluster %" PRIu64 ": %s\n",
                     i, g_strerror(-ret));
        c->res->check_errors++;
        return false;
    }
    if (on_disk || expected) {
        *highest = i;
    }
    if (on_disk == expected) {
        return match;
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
            return match;
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
        return match;
    }
    if (on_disk < expected) {
        c->res->corruptions++;
    } else {
        c->res->leaks++;
    }
    return false;
}

/*
 * The common case for the common width: a 16-bit refcount block that
 * agrees with the counts of its clusters [first, first + n).  Returns
 * false at the first difference (or a saturated count), leaving the
 * block to compare_one(); else moves *@highest to the last cluster in
 * use.  Kept branch-free inside so that the compiler vectorises it.
 */
static bool refblock16_matches(const uint8_t *blk, const uint16_t *imrt,
                               uint64_t n, uint64_t first, uint64_t *highest)
{
    unsigned diff = 0, saturated = 0;

    for (uint64_t k = 0; k < n; k++) {
        uint16_t on_disk;

        memcpy(&on_disk, blk + 2 * k, 2);
        diff |= (uint16_t)(GUINT16_FROM_BE(on_disk) ^ imrt[k]);
        saturated |= imrt[k] == UINT16_MAX;
    }
    if (diff || saturated) {
        return false;
    }
    for (uint64_t k = n; k > 0; k--) {
        if (imrt[k - 1]) {
            *highest = first + k - 1;
            break;
        }
    }
    return true;
}

/* Whether @n counts are all zero (vectorised, like the loop above). */
static bool counts_all_zero(const uint16_t *imrt, uint64_t n)
{
    unsigned any = 0;

    for (uint64_t k = 0; k < n; k++) {
        any |= imrt[k];
    }
    return !any;
}

/*
 * Compares the counted references with the refcounts on disk, one
 * refcount block at a time.  With @fix, refcounts that are too high
 * (leaks) or too low (but not zero) are rewritten; a zero refcount for
 * a used cluster needs the whole structure rebuilt (*@rebuild).
 */
static void compare_refcounts(Qcow2CheckState *c, int fix, bool *rebuild,
                              uint64_t *highest)
{
    BDRVQcow2State *s = c->s;
    uint64_t per_block = qcow2_refblock_entries(s);
    bool all_match = true;

    *highest = 0;
    for (uint64_t first = 0; first < c->nb_clusters; first += per_block) {
        uint64_t n = MIN(per_block, c->nb_clusters - first);
        uint64_t rt_index = first / per_block;
        uint64_t on_disk;

        check_progress(c, 50.0 + 50.0 * first / c->nb_clusters);
        if ((rt_index >= c->reftable_entries ||
             !(c->reftable[rt_index] & REFT_OFFSET_MASK)) &&
            counts_all_zero(c->imrt + first, n)) {
            continue;   /* no refcount block, nothing counted: agreed */
        }
        /* Loads the block into the cache (or fails, for compare_one). */
        if (s->refcount_bits == 16 && rt_index < c->reftable_entries &&
            (c->reftable[rt_index] & REFT_OFFSET_MASK) &&
            get_refcount(c, first, &on_disk, NULL) == 0 &&
            refblock16_matches(c->refblock, c->imrt + first, n, first,
                               highest)) {
            continue;
        }
        for (uint64_t i = first; i < first + n; i++) {
            all_match &= compare_one(c, i, fix, rebuild, highest);
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

/*
 * Whether a data cluster's COPIED flag may be wrong, from the bits the
 * active walk noted: the L2 tables are read again only then.
 */
static bool copied_flags_suspect(Qcow2CheckState *c)
{
    uint64_t words = DIV_ROUND_UP(c->copied_clusters, 64);

    if (!c->copied || c->copied_needs_pass) {
        return true;
    }
    for (uint64_t w = 0; w < words; w++) {
        uint64_t any = c->copied[w] | c->not_copied[w];

        if (any && c->on_disk_matches) {
            /* A word at a time: which of its clusters have refcount 1. */
            uint64_t base = w * 64, one = 0;
            unsigned n = MIN(64, c->copied_clusters - base);

            for (unsigned j = 0; j < n; j++) {
                one |= (uint64_t)(c->imrt[base + j] == 1) << j;
            }
            if ((c->copied[w] & ~one) || (c->not_copied[w] & one)) {
                return true;
            }
            continue;
        }
        while (any) {
            uint64_t bit = any & -any;
            uint64_t k = w * 64 + __builtin_ctzll(any), refcount;

            any ^= bit;
            if (c->on_disk_matches) {
                refcount = imrt_get(c, k);
            } else if (get_refcount(c, k, &refcount, NULL) < 0) {
                return true;
            }
            if (((c->copied[w] & bit) && refcount != 1) ||
                ((c->not_copied[w] & bit) && refcount == 1)) {
                return true;
            }
        }
    }
    return false;
}

static int check_oflag_copied(Qcow2CheckState *c, int fix, Error **errp)
{
    BDRVQcow2State *s = c->s;
    /* With -r leaks, only an otherwise clean image gets its flags fixed. */
    bool repair = (fix & BDRV_FIX_ERRORS) ||
                  ((fix & BDRV_FIX_LEAKS) && !c->res->check_errors &&
                   !c->res->corruptions && !c->res->leaks);
    bool data_clusters = fix || copied_flags_suspect(c);

    /* Entries not held are past the end of the file: zeros. */
    for (uint32_t i = 0; i < s->l1_held; i++) {
        uint64_t l1e = s->l1_table[i];
        uint64_t l2_offset = l1e & L1E_OFFSET_MASK;
        uint64_t refcount;
        int ret;

        if (!l2_offset) {
            continue;
        }
        ret = get_refcount(c, l2_offset >> s->cluster_bits, &refcount, NULL);
        if (ret < 0) {
            continue;       /* reported by compare_refcounts */
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
        /* 7.2 reads a table where it points, aligned or not. */
        if (!data_clusters) {
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
                refcount = imrt_get(c, data >> s->cluster_bits);
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

    /*
     * Entries past the end of the file read as zeros, which every user
     * of the table treats as it treats an index past its end: only the
     * entries inside the file are held.
     */
    c->reftable_entries = qcow2_entries_in_file(s, s->refcount_table_offset,
                                                bytes / REFTABLE_ENTRY_SIZE,
                                                REFTABLE_ENTRY_SIZE);
    c->reftable = g_new0(uint64_t, c->reftable_entries ? c->reftable_entries
                                                       : 1);
    bytes = c->reftable_entries * REFTABLE_ENTRY_SIZE;
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

/* -M: the refcount blocks, from the table already in memory. */
static void map_refcount_blocks(Qcow2CheckState *c)
{
    Qcow2RefcountTableMetadata *rt = c->map->refcount_table;

    for (uint64_t i = 0; i < c->reftable_entries; i++) {
        uint64_t offset = c->reftable[i] & REFT_OFFSET_MASK;

        if (offset && !(c->reftable[i] & REFT_RESERVED_MASK)) {
            qcow2_allocation_append(&rt->refcount_blocks, offset,
                                    c->s->cluster_size);
        }
    }
    rt->has_refcount_blocks = rt->refcount_blocks != NULL;
}

static int count_references(Qcow2CheckState *c, int fix, bool *rebuild,
                            Error **errp);

/*
 * Counts every reference to a host cluster, from scratch.  Without
 * repair, an L2 table shared by snapshots is read once (shared_l2);
 * should that change what is reported (a count overflowing), the
 * findings held back so far are dropped and the count is done anew
 * table by table, so the output is always that of the plain walk.
 */
static int calculate_refcounts(Qcow2CheckState *c, int fix, bool *rebuild,
                               Error **errp)
{
    BdrvCheckResult before = *c->res;
    bool rebuild_before = *rebuild;
    int ret;

    if (fix || !c->s->nb_snapshots) {
        return count_references(c, fix, rebuild, errp);
    }
    c->shared_l2 = g_hash_table_new_full(l2_offset_hash, NULL, NULL, g_free);
    c->recount = false;
    reports_hold();
    ret = count_references(c, fix, rebuild, errp);
    g_clear_pointer(&c->shared_l2, g_hash_table_destroy);
    /* Findings held back but dropped must be found again, in order. */
    c->recount = c->recount || (ret < 0 && reports_dropped);
    reports_release(c->recount);
    if (c->recount) {
        if (ret < 0 && errp && *errp) {
            /* It will be set again, where the plain walk meets it. */
            error_free(*errp);
            *errp = NULL;
        }
        *c->res = before;
        *rebuild = rebuild_before;
        c->recount = false;
        ret = count_references(c, fix, rebuild, errp);
    }
    return ret;
}

static int count_references(Qcow2CheckState *c, int fix, bool *rebuild,
                            Error **errp)
{
    BDRVQcow2State *s = c->s;
    int ret;

    c->fix = fix;
    if (c->want_map) {
        /* A recount after a rebuild maps the image anew. */
        qapi_free_Qcow2Metadata(c->map);
        c->map = qcow2_metadata_new(s);
        c->map_entries = 0;
        c->map_dropped = false;
        map_refcount_blocks(c);
    }
    if (c->imrt_used) {
        /* Fresh from g_try_new0 otherwise: touching it costs time. */
        /* Fresh zero pages rather than writing every counter. */
        if (madvise(c->imrt, c->imrt_capacity * sizeof(*c->imrt),
                    MADV_DONTNEED) < 0) {
            memset(c->imrt, 0, c->imrt_capacity * sizeof(*c->imrt));
        }
        g_clear_pointer(&c->wide, g_hash_table_destroy);
        /* No longer reliable. */
        large_free(c->copied, copied_bytes(c));
        large_free(c->not_copied, copied_bytes(c));
        c->copied = c->not_copied = NULL;
    }
    c->imrt_used = true;
    c->res->bfi.total_clusters = size_to_clusters(s, s->size);
    inc_refcounts(c, 0, s->cluster_size);
    ret = check_refcounts_l1(c, s->l1_table_offset, s->l1_size,
                             CHECK_FRAG_INFO |
                             (c->copied ? CHECK_NOTE_COPIED : 0),
                             c->map ? c->map->active_l1 : NULL, errp);
    if (ret < 0) {
        return ret;
    }
    if ((ret = check_snapshots(c, errp)) < 0 || c->recount) {
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
                                     BdrvCheckResult *res, int fix)
{
    BDRVQcow2State *s = bs->opaque;
    Error *local_err = NULL;
    int ret, dropped = 0;
    uint32_t overhang = 0;

    /* The check-mode open left the table's size unchecked: here it is. */
    if (s->nb_snapshots > QCOW_MAX_SNAPSHOTS && (fix & BDRV_FIX_ERRORS)) {
        overhang = s->nb_snapshots - QCOW_MAX_SNAPSHOTS;
        fprintf(stderr, "Discarding %" PRIu32 " overhanging snapshots\n",
                overhang);
        s->nb_snapshots = QCOW_MAX_SNAPSHOTS;
    }
    ret = qcow2_validate_table(bs, s->snapshots_offset, s->nb_snapshots,
                               QCOW2_SNAPSHOT_HEADER_SIZE,
                               (int64_t)QCOW_MAX_SNAPSHOTS *
                               QCOW2_SNAPSHOT_HEADER_SIZE,
                               "snapshot table", &local_err);
    if (ret < 0) {
        res->check_errors++;
        error_prepend(&local_err, "ERROR ");
        error_report_err(local_err);
        if (s->nb_snapshots > QCOW_MAX_SNAPSHOTS) {
            error_printf("You can force-remove all %" PRIu32 " overhanging "
                         "snapshots with qemu-img check -r all\n",
                         s->nb_snapshots - QCOW_MAX_SNAPSHOTS);
        }
        return ret;
    }
    if (s->nb_snapshots && !s->snapshots) {
        uint32_t discarded = 0;

        ret = qcow2_read_snapshots_repair(bs, fix & BDRV_FIX_ERRORS,
                                          &dropped, &discarded, &local_err);
        res->corruptions += dropped;
        overhang += discarded;
        if (ret < 0) {
            error_prepend(&local_err, "ERROR failed to read the snapshot "
                          "table: ");
            error_report_err(local_err);
            res->check_errors++;
            return ret;
        }
    }
    if (overhang) {
        /* Only the count in the header changes: the entries stay. */
        uint8_t nb[4];

        stl_be_p(nb, s->nb_snapshots);
        ret = bdrv_file_pwrite_sync(bs->file,
                                    QCOW2_HEADER_NB_SNAPSHOTS_OFFSET,
                                    sizeof(nb), nb, &local_err);
        if (ret < 0) {
            res->check_errors++;
            error_prepend(&local_err, "ERROR failed to update the "
                          "snapshot count in the image header: ");
            error_report_err(local_err);
            return ret;
        }
        res->corruptions_fixed += overhang;
    }
    for (uint32_t i = 0; s->version >= 3 && i < s->nb_snapshots; i++) {
        if (s->snapshots[i].extra_data_size < QCOW2_SNAPSHOT_EXTRA_V3_MIN) {
            check_report("%s snapshot table entry %" PRIu32 " is "
                         "incomplete\n",
                         fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", i);
            res->corruptions++;
        }
    }
    return 0;
}

/*
 * First fit of @count clusters whose on-disk refcount is 0, outside
 * [@avoid, @avoid + @avoid_len) (a damaged table's refcounts may say
 * free where it still lies).  Only clusters that a refcount block
 * already covers are taken: a check does not grow the refcount
 * structure for this.
 */
static int64_t find_free_clusters_on_disk(Qcow2CheckState *c,
                                          uint64_t count, uint64_t avoid,
                                          uint64_t avoid_len, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t limit = c->reftable_entries * qcow2_refblock_entries(s), run = 0;

    for (uint64_t k = 1; k < limit && run < count; k++) {
        uint64_t per = qcow2_refblock_entries(s);
        uint64_t rt = c->reftable[k / per], refcount;
        uint64_t pos = k << s->cluster_bits;
        bool in_avoid = avoid_len && pos + s->cluster_size > avoid &&
                        pos < avoid + avoid_len;

        if (!(rt & REFT_OFFSET_MASK) || (rt & REFT_RESERVED_MASK)) {
            /* No usable block: none of its clusters can be taken. */
            run = 0;
            k = (k / per + 1) * per - 1;
            continue;
        }
        if (in_avoid || get_refcount(c, k, &refcount, NULL) < 0 ||
            refcount) {
            run = 0;
            continue;
        }
        if (++run == count) {
            return (int64_t)((k + 1 - count) << s->cluster_bits);
        }
    }
    error_setg(errp, "No free clusters for the snapshot table");
    return -ENOSPC;
}

/* Takes a reference to [offset, offset + size) away; a cluster at 0 is
 * given back to the file. */
static int free_clusters_on_disk(Qcow2CheckState *c, uint64_t offset,
                                 uint64_t size, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last = size ? (offset + size - 1) >> s->cluster_bits : 0;

    /* All or nothing, as 7.2: a refcount already 0 means it is not ours. */
    for (uint64_t k = first; size && k <= last; k++) {
        uint64_t refcount;
        int ret = get_refcount(c, k, &refcount, errp);

        if (ret < 0) {
            return ret;
        }
        if (!refcount) {
            check_report("qcow2_free_clusters failed: %s\n",
                         g_strerror(EINVAL));
            return 0;
        }
    }
    for (uint64_t k = first; size && k <= last; k++) {
        uint64_t refcount;
        int ret = get_refcount(c, k, &refcount, errp);

        if (ret < 0) {
            return ret;
        }
        if ((ret = set_refcount(c, k, refcount - 1, errp)) < 0) {
            return ret;
        }
        if (refcount == 1) {
            bdrv_file_pdiscard(c->bs->file, (int64_t)(k << s->cluster_bits),
                               s->cluster_size, NULL);
        }
    }
    return 0;
}

/*
 * check -r all on a damaged snapshot table: the table is written anew
 * to free clusters, which then get their refcounts, the header is
 * pointed at it, then the old one is freed, with a flush between the
 * steps, so that a crash leaves either table in use and at worst
 * leaked clusters.  (7.2 takes the refcounts before writing: a crash
 * in between leaves a leak past the end of the file, which the next
 * check cannot see, and the next repair takes other clusters.)
 */
static int rewrite_snapshot_table(Qcow2CheckState *c, Error **errp)
{
    BDRVQcow2State *s = c->s;
    uint64_t len, old_offset = s->snapshots_offset;
    uint64_t old_size = s->snapshots_size;
    g_autofree uint8_t *table = qcow2_snapshot_table_serialize(s, &len);
    uint8_t hdr[12];
    int64_t offset = 0;
    int ret;

    if (len > QCOW_MAX_SNAPSHOTS_SIZE) {
        /* Completed entries are longer: this one would not open. */
        error_setg_errno(errp, EFBIG, "The snapshot table is too big");
        return -EFBIG;
    }
    if (len) {
        uint64_t n = size_to_clusters(s, len);

        offset = find_free_clusters_on_disk(c, n, old_offset, old_size,
                                            errp);
        if (offset < 0) {
            return (int)offset;
        }
        ret = bdrv_file_pwrite_sync(c->bs->file, offset, len, table, errp);
        if (ret < 0) {
            return ret;
        }
        for (uint64_t k = 0; k < n; k++) {
            ret = set_refcount(c, (offset >> s->cluster_bits) + k, 1, errp);
            if (ret < 0) {
                return ret;
            }
        }
        if ((ret = bdrv_file_flush(c->bs->file, errp)) < 0) {
            return ret;
        }
    }
    stl_be_p(hdr, s->nb_snapshots);
    stq_be_p(hdr + 4, offset);
    ret = bdrv_file_pwrite_sync(c->bs->file, QCOW2_HEADER_NB_SNAPSHOTS_OFFSET,
                                sizeof(hdr), hdr, errp);
    if (ret < 0) {
        return ret;
    }
    s->snapshots_offset = offset;
    s->snapshots_size = len;
    s->file_size = MAX(s->file_size, offset + (int64_t)len);
    /* The double check reads the table that was written, not this. */
    qcow2_free_snapshots(s);
    if (!c->snapshot_table_counted) {
        return 0;   /* its clusters' refcounts are others' */
    }
    return free_clusters_on_disk(c, old_offset, old_size, errp);
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
        .want_map = fix & BDRV_CHECK_MAP,
        .map_budget = QCOW2_MAP_SLACK + (uint64_t)s->file_size / 4,
    };
    int ret;

    BdrvCheckResult snap_res = { 0 };

    fix &= BDRV_FIX_LEAKS | BDRV_FIX_ERRORS;
    /* Counted apart, as only its own findings are fixed by a rewrite. */
    ret = check_read_snapshot_table(bs, &snap_res, fix);
    if (ret < 0) {
        res->check_errors += snap_res.check_errors;
        return ret;
    }
    c.nb_clusters = size_to_clusters(s, (uint64_t)s->file_size);
    /* One 2-byte counter per host cluster, as QEMU uses. */
    c.imrt_capacity = QEMU_ALIGN_UP(MAX(c.nb_clusters, 1),
                                    qcow2_refblock_entries(s));
    c.imrt = large_zalloc(c.imrt_capacity * sizeof(*c.imrt));
    c.refblock = g_malloc(s->cluster_size);
    c.l2 = g_malloc(s->l2_size * s->l2_entry_size);
    /* 1 MiB of tables per read, or one table of the largest kind. */
    c.l2_batch_bytes = MAX(1024 * 1024, s->cluster_size);
    c.l2_batch = g_malloc(c.l2_batch_bytes);
    if (!fix && !has_data_file(s)) {
        c.copied_clusters = c.nb_clusters;
        c.copied = large_zalloc(copied_bytes(&c));
        c.not_copied = large_zalloc(copied_bytes(&c));
        if (!c.copied || !c.not_copied) {
            /* Only a shortcut: the COPIED pass works without it. */
            large_free(c.copied, copied_bytes(&c));
            large_free(c.not_copied, copied_bytes(&c));
            c.copied = c.not_copied = NULL;
        }
    }
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
    if (ret == 0 && snap_res.corruptions && (fix & BDRV_FIX_ERRORS)) {
        Error *local_err = NULL;

        ret = rewrite_snapshot_table(&c, &local_err);
        if (ret < 0) {
            /* 7.2 gives the errno only. */
            check_report("ERROR failed to update snapshot table: %s\n",
                         g_strerror(-ret));
            error_free(local_err);
            snap_res.check_errors++;
        } else {
            snap_res.corruptions_fixed += snap_res.corruptions;
            snap_res.corruptions = 0;
        }
    }
    res->corruptions += snap_res.corruptions;
    res->corruptions_fixed += snap_res.corruptions_fixed;
    res->check_errors += snap_res.check_errors;
    if (ret == 0 && fix && !res->check_errors && !res->corruptions) {
        ret = qcow2_mark_clean(bs, errp);
    }
    /* Also after a failure: the map shows what could be located. */
    if (c.map_dropped) {
        qapi_free_Qcow2Metadata(g_steal_pointer(&c.map));
        res->metadata_too_large = c.map_budget;
    }
    res->metadata = c.map;
    large_free(c.imrt, c.imrt_capacity * sizeof(*c.imrt));
    g_clear_pointer(&c.wide, g_hash_table_destroy);
    large_free(c.copied, copied_bytes(&c));
    large_free(c.not_copied, copied_bytes(&c));
    g_free(c.refblock);
    g_free(c.l2);
    g_free(c.l2_batch);
    g_free(c.reftable);
    return ret;
}
