/*
 * qcow2 runtime refcounts: finding free clusters, counting references,
 * growing the refcount structures and the active L1 table.
 *
 * Everything is write-through: when a function returns, the file holds
 * the change.  The order of the writes is what makes a crash (a killed
 * writer) harmless: a refcount is raised before anything points to its
 * cluster and lowered only after nothing does, so the worst a crash can
 * leave is a leak that `qemu-img check -r leaks` reclaims.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

/* Header fields rewritten when tables move (spec: "Header"). */
#define QCOW2_L1_SIZE_OFFSET            36  /* l1_size, then l1_table_offset */
#define QCOW2_REFTABLE_FIELDS_OFFSET    48  /* offset, then clusters */

/* Refcount blocks kept in memory (write-through), direct-mapped. */
#define REFBLOCK_CACHE_SLOTS 16

typedef struct Qcow2RefblockCache {
    uint64_t offset[REFBLOCK_CACHE_SLOTS];      /* 0: slot empty */
    uint8_t *data[REFBLOCK_CACHE_SLOTS];
} Qcow2RefblockCache;

/* Host offsets an L2 entry can hold: 56 bits. */
#define QCOW2_MAX_HOST_OFFSET (1ull << 56)

/* Remembers a refcount block's cluster, for the overlap checks. */
static void note_refblock(BDRVQcow2State *s, uint64_t offset)
{
    if (offset) {
        g_hash_table_add(s->refblock_clusters,
                         GSIZE_TO_POINTER(offset >> s->cluster_bits));
    }
}

bool qcow2_is_refblock(const BDRVQcow2State *s, uint64_t cluster)
{
    return s->refblock_clusters &&
           g_hash_table_contains(s->refblock_clusters,
                                 GSIZE_TO_POINTER(cluster));
}

int qcow2_refcount_open(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t entries = (uint64_t)s->refcount_table_clusters *
                       s->cluster_size / REFTABLE_ENTRY_SIZE;
    g_autofree uint8_t *raw = NULL;
    int ret;

    /* qcow2_check_tables() capped the table at QCOW_MAX_REFTABLE_SIZE. */
    raw = g_malloc(entries * REFTABLE_ENTRY_SIZE);
    ret = qcow2_pread_zero_padded(bs, s->refcount_table_offset,
                                  entries * REFTABLE_ENTRY_SIZE, raw, errp);
    if (ret < 0) {
        return ret;
    }
    s->refcount_table = g_new(uint64_t, entries ? entries : 1);
    for (uint64_t i = 0; i < entries; i++) {
        s->refcount_table[i] = ldq_be_p(raw + i * REFTABLE_ENTRY_SIZE);
    }
    s->refcount_table_size = entries;
    s->free_cluster_index = 0;
    s->refblock_cache = g_new0(Qcow2RefblockCache, 1);
    s->refblock_clusters = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (uint64_t i = 0; i < entries; i++) {
        note_refblock(s, s->refcount_table[i] & REFT_OFFSET_MASK);
    }
    return 0;
}

void qcow2_refcount_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->refblock_cache) {
        for (int i = 0; i < REFBLOCK_CACHE_SLOTS; i++) {
            g_free(s->refblock_cache->data[i]);
        }
        g_clear_pointer(&s->refblock_cache, g_free);
    }
    g_clear_pointer(&s->refcount_table, g_free);
    g_clear_pointer(&s->refblock_clusters, g_hash_table_destroy);
    s->refcount_table_size = 0;
}

static void signal_corrupt(BlockDriverState *bs, const char *what,
                           uint64_t offset, Error **errp)
{
    error_setg(errp, "qcow2: Image is corrupt: %s at offset %#" PRIx64
               " is invalid", what, offset);
}

/* The refcount block at reftable index @rt, loaded; NULL if it has none. */
static int load_refblock(BlockDriverState *bs, uint64_t rt, uint8_t **blk,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2RefblockCache *c = s->refblock_cache;
    unsigned slot = rt % REFBLOCK_CACHE_SLOTS;
    uint64_t offset;
    int ret;

    *blk = NULL;
    if (rt >= s->refcount_table_size) {
        return 0;
    }
    offset = s->refcount_table[rt] & REFT_OFFSET_MASK;
    if (!offset) {
        return 0;
    }
    if (offset_into_cluster(s, offset) ||
        offset >= QCOW2_MAX_HOST_OFFSET) {
        signal_corrupt(bs, "refcount block", offset, errp);
        return -EIO;
    }
    if (c->offset[slot] != offset) {
        if (!c->data[slot]) {
            c->data[slot] = g_malloc(s->cluster_size);
        }
        c->offset[slot] = 0;
        /* Not zero-padded by s->file_size: the file grows as we write. */
        ret = bdrv_file_pread(bs->file, offset, s->cluster_size,
                              c->data[slot], errp);
        if (ret < 0) {
            return ret;
        }
        c->offset[slot] = offset;
    }
    *blk = c->data[slot];
    return 0;
}

int qcow2_get_refcount(BlockDriverState *bs, uint64_t cluster,
                       uint64_t *refcount, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    uint8_t *blk;
    int ret = load_refblock(bs, cluster / per, &blk, errp);

    *refcount = ret < 0 || !blk ? 0 : qcow2_refblock_get(s, blk,
                                                         cluster % per);
    return ret;
}

/* Writes the bytes of entries [first, last] of a loaded block. */
static int write_refblock_entries(BlockDriverState *bs, uint64_t rt,
                                  uint8_t *blk, uint64_t first, uint64_t last,
                                  Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bits = s->refcount_bits;
    uint64_t start = first * bits / 8;
    uint64_t end = QEMU_ALIGN_UP((last + 1) * bits, 8) / 8;

    return bdrv_file_pwrite(bs->file,
                            (s->refcount_table[rt] & REFT_OFFSET_MASK) + start,
                            end - start, blk + start, errp);
}

static int write_reftable_entry(BlockDriverState *bs, uint64_t rt,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t buf[REFTABLE_ENTRY_SIZE];

    stq_be_p(buf, s->refcount_table[rt]);
    return bdrv_file_pwrite(bs->file, s->refcount_table_offset +
                            rt * REFTABLE_ENTRY_SIZE, sizeof(buf), buf, errp);
}

/*
 * How many refcount blocks 7.2 gives an image of @clusters clusters once
 * the blocks and a table for them are counted too.  @generous (a table
 * that grows as the image does) adds room for half the table again, as
 * 7.2 does before it sizes the table with qcow2_reftable_grown_size().
 */
uint64_t qcow2_refblocks_needed(uint64_t clusters, uint64_t rb_entries,
                                uint64_t reftable_per_cluster, bool generous)
{
    uint64_t table = 0, blocks = 0, n = 0, last;

    /* A fixed point: the counts only grow. */
    do {
        last = n;
        blocks = DIV_ROUND_UP(clusters + table + blocks, rb_entries);
        table = DIV_ROUND_UP(blocks, reftable_per_cluster);
        n = clusters + blocks + table;
        if (n == last && generous) {
            clusters += DIV_ROUND_UP(table, 2);
            n = 0;
            generous = false;
        }
    } while (n != last);
    return blocks;
}

/* Entries of a table that grows to hold @blocks: half as many again. */
uint64_t qcow2_reftable_grown_size(uint64_t blocks)
{
    return blocks + DIV_ROUND_UP(blocks, 2);
}

/*
 * Moves the refcount table so that it has entries from @first_rt (past
 * its end) on.  The new refcount blocks and the table go at @place_at
 * (past what the old table covers, so it and all after it are free) and
 * count themselves; the blocks also cover everything from @first_rt on
 * that lies before them.  With @extra_offset, entry @extra_rt of the new
 * table points to a block already written there.  The header switches
 * to the new table in one write, and only then is the old table freed.
 */
static int grow_reftable(BlockDriverState *bs, uint64_t first_rt,
                         uint64_t place_at, uint64_t extra_rt,
                         uint64_t extra_offset, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    uint64_t entries_per_cluster = s->cluster_size / REFTABLE_ENTRY_SIZE;
    uint64_t old_size = s->refcount_table_size;
    uint64_t old_offset = s->refcount_table_offset;
    uint64_t old_clusters = s->refcount_table_clusters;
    uint64_t total, nb_blocks, table_clusters, new_size;
    g_autofree uint8_t *blk = NULL;
    g_autofree uint8_t *table = NULL;
    g_autofree uint64_t *new_table = NULL;
    uint8_t hdr[12];
    uint64_t end, table_cluster;
    int ret;

    g_assert(first_rt >= old_size && place_at >= first_rt * per);
    /*
     * 7.2's sizes: blocks for an image that ends where the area starts,
     * with room for the area and then some, and a table half as large
     * again as they need.
     */
    total = qcow2_refblocks_needed(place_at, per, entries_per_cluster, true);
    new_size = MAX(old_size, qcow2_reftable_grown_size(total));
    table_clusters = DIV_ROUND_UP(new_size, entries_per_cluster);
    nb_blocks = total > first_rt ? total - first_rt : 1;
    /*
     * Whatever the sizes, the blocks count every cluster of the area and
     * the table has an entry for each block.
     */
    for (;;) {
        end = place_at + nb_blocks + table_clusters;
        if ((end - 1) / per >= first_rt + nb_blocks) {
            nb_blocks++;
        } else if (first_rt + nb_blocks >
                   table_clusters * entries_per_cluster) {
            table_clusters++;
        } else {
            break;
        }
    }
    if (table_clusters * s->cluster_size > QCOW_MAX_REFTABLE_SIZE ||
        (end << s->cluster_bits) >= QCOW2_MAX_HOST_OFFSET) {
        error_setg(errp, "Cannot grow the refcount table: the image file "
                   "would be too large");
        return -EFBIG;
    }
    new_size = table_clusters * entries_per_cluster;
    new_table = g_new0(uint64_t, new_size);
    memcpy(new_table, s->refcount_table, old_size * sizeof(uint64_t));
    if (extra_offset) {
        g_assert(extra_rt < first_rt);
        new_table[extra_rt] = extra_offset;
    }

    /* The new blocks, each counting the new clusters it covers. */
    blk = g_malloc(s->cluster_size);
    for (uint64_t i = 0; i < nb_blocks; i++) {
        uint64_t rt = first_rt + i;
        uint64_t lo = MAX(place_at, rt * per);
        uint64_t hi = MIN(end, (rt + 1) * per);

        memset(blk, 0, s->cluster_size);
        for (uint64_t k = lo; k < hi; k++) {
            qcow2_refblock_set(s, blk, k % per, 1);
        }
        new_table[rt] = (place_at + i) << s->cluster_bits;
        note_refblock(s, new_table[rt]);
        ret = bdrv_file_pwrite(bs->file, new_table[rt], s->cluster_size,
                               blk, errp);
        if (ret < 0) {
            return ret;
        }
    }
    table_cluster = place_at + nb_blocks;
    table = g_malloc0(table_clusters * s->cluster_size);
    for (uint64_t i = 0; i < new_size; i++) {
        stq_be_p(table + i * REFTABLE_ENTRY_SIZE, new_table[i]);
    }
    ret = bdrv_file_pwrite_sync(bs->file, table_cluster << s->cluster_bits,
                                table_clusters * s->cluster_size, table,
                                errp);
    if (ret < 0) {
        return ret;
    }
    stq_be_p(hdr, table_cluster << s->cluster_bits);
    stl_be_p(hdr + 8, table_clusters);
    ret = bdrv_file_pwrite_sync(bs->file, QCOW2_REFTABLE_FIELDS_OFFSET,
                                sizeof(hdr), hdr, errp);
    if (ret < 0) {
        return ret;
    }
    g_free(s->refcount_table);
    s->refcount_table = g_steal_pointer(&new_table);
    s->refcount_table_size = new_size;
    s->refcount_table_offset = table_cluster << s->cluster_bits;
    s->refcount_table_clusters = table_clusters;
    return qcow2_free_clusters(bs, old_offset, old_clusters << s->cluster_bits,
                               errp);
}

/* First run of @n clusters with refcount 0, searched from the hint. */
static int64_t find_free_run(BlockDriverState *bs, uint64_t n,
                             Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    uint64_t limit = QCOW2_MAX_HOST_OFFSET >> s->cluster_bits;
    uint64_t k = s->free_cluster_index, run = 0;

    while (k < limit) {
        uint8_t *blk;
        int ret = load_refblock(bs, k / per, &blk, errp);

        if (ret < 0) {
            return ret;
        }
        if (!blk) {
            /* No block: everything it would count is free. */
            uint64_t next = (k / per + 1) * per;
            if (run + (next - k) >= n) {
                return k - run;
            }
            run += next - k;
            k = next;
            continue;
        }
        for (uint64_t i = k % per; i < per && k < limit; i++, k++) {
            if (qcow2_refblock_get(s, blk, i)) {
                run = 0;
            } else if (++run == n) {
                return k + 1 - n;
            }
        }
    }
    error_setg(errp, "No space left in the image for %" PRIu64 " clusters",
               n);
    return -ENOSPC;
}

/*
 * Adds @addend to the refcounts of clusters [first, last] (blocks exist).
 * With @punch, clusters that become free are discarded in the file too.
 */
static int change_refcounts(BlockDriverState *bs, uint64_t first,
                            uint64_t last, int64_t addend, bool punch,
                            Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    uint64_t max = s->refcount_bits == 64 ? UINT64_MAX
                                          : (1ull << s->refcount_bits) - 1;
    uint8_t *blk;
    int ret;

    /* First pass: refuse before changing anything. */
    for (uint64_t k = first; k <= last; k++) {
        uint64_t rc;

        ret = qcow2_get_refcount(bs, k, &rc, errp);
        if (ret < 0) {
            return ret;
        }
        if ((addend < 0 && rc < (uint64_t)-addend) ||
            (addend > 0 && (max - rc < (uint64_t)addend))) {
            error_setg(errp, "qcow2: refcount of cluster %#" PRIx64
                       " would %s", k << s->cluster_bits,
                       addend < 0 ? "drop below 0" : "overflow");
            return -EINVAL;
        }
        if (addend > 0 && (k / per >= s->refcount_table_size ||
                           !s->refcount_table[k / per])) {
            error_setg(errp, "qcow2: cluster %#" PRIx64 " has no refcount "
                       "block", k << s->cluster_bits);
            return -EIO;
        }
    }
    for (uint64_t k = first; k <= last;) {
        uint64_t rt = k / per, stop = MIN(last, (rt + 1) * per - 1);

        ret = load_refblock(bs, rt, &blk, errp);
        if (ret < 0) {
            return ret;
        }
        if (!blk) {             /* only when every count there was 0 */
            g_assert(addend == 0);
            k = stop + 1;
            continue;
        }
        for (uint64_t i = k; i <= stop; i++) {
            uint64_t rc = qcow2_refblock_get(s, blk, i % per);
            qcow2_refblock_set(s, blk, i % per, rc + addend);
            if (rc + addend == 0 && i < s->free_cluster_index) {
                s->free_cluster_index = i;
            }
        }
        ret = write_refblock_entries(bs, rt, blk, k % per, stop % per, errp);
        if (ret < 0) {
            return ret;
        }
        for (uint64_t i = k; punch && i <= stop; i++) {
            uint64_t run = 0;

            while (i + run <= stop &&
                   !qcow2_refblock_get(s, blk, (i + run) % per)) {
                run++;
            }
            if (run) {
                /* Only advice: a failure leaves zeros or old data behind */
                bdrv_file_pdiscard(bs->file, i << s->cluster_bits,
                                   run << s->cluster_bits, NULL);
                i += run - 1;
            }
        }
        k = stop + 1;
    }
    return 0;
}

/* First cluster at or after @from with refcount 0. */
static int64_t find_free_from(BlockDriverState *bs, uint64_t from,
                              Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t saved = s->free_cluster_index;
    int64_t k;

    s->free_cluster_index = from;
    k = find_free_run(bs, 1, errp);
    s->free_cluster_index = saved;
    return k;
}

/*
 * Gives reftable index @rt a refcount block, at the first free cluster
 * from @from on (after the run that needs it, where 7.2 puts it too).
 * A block inside its own range counts itself; one outside is counted by
 * the block of its range, created first if need be.  Returns 1 when the
 * refcount table moved (its old clusters are free now), else 0.
 */
static int create_refblock(BlockDriverState *bs, uint64_t rt, uint64_t from,
                           Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    g_autofree uint8_t *blk = g_malloc0(s->cluster_size);
    bool grown = false;

    for (;;) {
        int64_t p = find_free_from(bs, from, errp);
        uint64_t prt;
        int ret;

        if (p < 0) {
            return p;
        }
        prt = p / per;
        if (prt >= s->refcount_table_size && prt == rt) {
            /*
             * Past the table, as 7.2 does it: the block goes at @p and
             * counts itself, and a new table with the blocks that count
             * it starts the next block's range.
             */
            qcow2_refblock_set(s, blk, p % per, 1);
            note_refblock(s, (uint64_t)p << s->cluster_bits);
            ret = bdrv_file_pwrite(bs->file, (uint64_t)p << s->cluster_bits,
                                   s->cluster_size, blk, errp);
            if (ret < 0) {
                return ret;
            }
            ret = grow_reftable(bs, rt + 1, (rt + 1) * per, rt,
                                (uint64_t)p << s->cluster_bits, errp);
            return ret < 0 ? ret : 1;
        }
        if (prt >= s->refcount_table_size) {
            /* Past the table: a new one, its blocks from @rt if past too */
            bool covers = rt >= s->refcount_table_size;
            ret = grow_reftable(bs, covers ? rt : prt, p, 0, 0, errp);
            if (ret < 0 || covers) {
                return ret < 0 ? ret : 1;
            }
            grown = true;
            continue;
        }
        if (prt != rt && !s->refcount_table[prt]) {
            /*
             * That range needs a block first.  As in 7.2, @p stays for
             * @rt's block and the new one takes the next free cluster
             * (counting itself if it lies in its own range); the search
             * below then finds @p again.
             */
            ret = create_refblock(bs, prt, p + 1, errp);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        if (prt == rt) {
            qcow2_refblock_set(s, blk, p % per, 1);
        }
        note_refblock(s, (uint64_t)p << s->cluster_bits);
        ret = bdrv_file_pwrite(bs->file, (uint64_t)p << s->cluster_bits,
                               s->cluster_size, blk, errp);
        if (ret < 0) {
            return ret;
        }
        if (prt != rt) {
            ret = change_refcounts(bs, p, p, 1, false, errp);
            if (ret < 0) {
                return ret;
            }
        }
        s->refcount_table[rt] = (uint64_t)p << s->cluster_bits;
        ret = write_reftable_entry(bs, rt, errp);
        if (ret < 0) {
            s->refcount_table[rt] = 0;
            return ret;
        }
        return grown ? 1 : 0;
    }
}

int64_t qcow2_alloc_clusters(BlockDriverState *bs, uint64_t size,
                             Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per = qcow2_refblock_entries(s);
    uint64_t n = size_to_clusters(s, size);
    int64_t start, len;
    uint64_t end;
    int ret;

    g_assert(s->refcount_table);
    if (!n) {
        return 0;
    }
retry:
    start = find_free_run(bs, n, errp);
    if (start < 0) {
        return start;
    }
    /* Past the run even when the search skipped free clusters: as 7.2. */
    s->free_cluster_index = start + n;
    /* Ranges of the run without a block get one, after the run. */
    for (uint64_t rt = start / per; rt <= (start + n - 1) / per; rt++) {
        if (rt < s->refcount_table_size && s->refcount_table[rt]) {
            continue;
        }
        ret = create_refblock(bs, rt, start + n, errp);
        if (ret < 0) {
            return ret;
        }
        if (ret > 0) {
            /* The old table's clusters are free now: search again. */
            goto retry;
        }
    }
    /*
     * A run past the end of the file: extend the file into its last
     * cluster first.  Otherwise a crash before the run is written leaves
     * refcounts past the end, where no check counts them (a leak nothing
     * finds).  One byte is enough for the check to count the cluster,
     * and every write into the run reaches past it (so the file ends
     * where 7.2's does, also after a snapshot table of a few bytes).
     */
    end = ((uint64_t)(start + n - 1) << s->cluster_bits) + 1;
    len = bdrv_getlength(bs->file);
    if (len < 0) {
        error_setg_errno(errp, -len, "Could not get the file length");
        return len;
    }
    if ((uint64_t)len < end) {
        ret = bdrv_file_truncate(bs->file, end, errp);
        if (ret < 0) {
            return ret;
        }
    }
    ret = change_refcounts(bs, start, start + n - 1, 1, false, errp);
    if (ret < 0) {
        return ret;
    }
    return start << s->cluster_bits;
}

static int update_refcount(BlockDriverState *bs, uint64_t offset,
                           uint64_t length, int64_t addend, bool punch,
                           Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (!length || !addend) {
        return 0;
    }
    if (!qcow2_range_valid(offset, length, 0) ||
        offset + length > QCOW2_MAX_HOST_OFFSET) {
        error_setg(errp, "qcow2: invalid range %#" PRIx64 "+%#" PRIx64
                   " for a refcount update", offset, length);
        return -EINVAL;
    }
    return change_refcounts(bs, offset >> s->cluster_bits,
                            (offset + length - 1) >> s->cluster_bits, addend,
                            punch, errp);
}

int qcow2_update_refcount(BlockDriverState *bs, uint64_t offset,
                          uint64_t length, int64_t addend, Error **errp)
{
    return update_refcount(bs, offset, length, addend, false, errp);
}

int qcow2_free_clusters(BlockDriverState *bs, uint64_t offset,
                        uint64_t length, Error **errp)
{
    return update_refcount(bs, offset, length, -1, false, errp);
}

int qcow2_discard_clusters(BlockDriverState *bs, uint64_t offset,
                           uint64_t length, Error **errp)
{
    return update_refcount(bs, offset, length, -1, true, errp);
}

static int free_l2_entry(BlockDriverState *bs, uint64_t l2_entry, bool punch,
                         Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (l2_entry & QCOW_OFLAG_COMPRESSED) {
        uint64_t coffset = l2_entry & s->cluster_offset_mask;
        uint64_t sectors = ((l2_entry >> s->csize_shift) & s->csize_mask) + 1;
        uint64_t start = QEMU_ALIGN_DOWN(coffset,
                                         QCOW2_COMPRESSED_SECTOR_SIZE);

        return update_refcount(bs, start,
                               sectors * QCOW2_COMPRESSED_SECTOR_SIZE, -1,
                               punch, errp);
    }
    if (has_data_file(s)) {
        /* External data is not refcounted, but it can be discarded. */
        if (punch && ((l2_entry & L2E_OFFSET_MASK) ||
                      (l2_entry & QCOW_OFLAG_COPIED))) {
            bdrv_file_pdiscard(s->data_file, l2_entry & L2E_OFFSET_MASK,
                               s->cluster_size, NULL);
        }
        return 0;
    }
    if (!(l2_entry & L2E_OFFSET_MASK)) {
        return 0;
    }
    return update_refcount(bs, l2_entry & L2E_OFFSET_MASK, s->cluster_size,
                           -1, punch, errp);
}

int qcow2_free_l2_entry_clusters(BlockDriverState *bs, uint64_t l2_entry,
                                 Error **errp)
{
    return free_l2_entry(bs, l2_entry, false, errp);
}

int qcow2_discard_l2_entry_clusters(BlockDriverState *bs, uint64_t l2_entry,
                                    Error **errp)
{
    return free_l2_entry(bs, l2_entry, true, errp);
}

int qcow2_write_l1_entry(BlockDriverState *bs, uint64_t index, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t buf[L1E_SIZE];

    /* Read-write opens hold the whole table. */
    g_assert(index < s->l1_held && s->l1_held == s->l1_size);
    stq_be_p(buf, s->l1_table[index]);
    return bdrv_file_pwrite(bs->file, s->l1_table_offset + index * L1E_SIZE,
                            sizeof(buf), buf, errp);
}

int qcow2_grow_l1_table(BlockDriverState *bs, uint64_t min_size,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t new_size = MAX(s->l1_size, 1), bytes;
    uint64_t old_offset = s->l1_table_offset;
    uint64_t old_bytes = (uint64_t)s->l1_size * L1E_SIZE;
    g_autofree uint8_t *raw = NULL;
    uint64_t *table;
    uint8_t hdr[12];
    int64_t offset;
    int ret;

    if (min_size <= s->l1_size) {
        return 0;
    }
    while (new_size < min_size) {
        new_size = new_size + (new_size + 1) / 2;
    }
    new_size = MIN(new_size, QCOW_MAX_L1_SIZE / L1E_SIZE);
    if (new_size < min_size) {
        error_setg(errp, "L1 table is too large");
        return -EFBIG;
    }
    bytes = QEMU_ALIGN_UP(new_size * L1E_SIZE, s->cluster_size);
    new_size = bytes / L1E_SIZE > QCOW_MAX_L1_SIZE / L1E_SIZE
               ? new_size : bytes / L1E_SIZE;
    raw = g_malloc0(bytes);
    for (uint32_t i = 0; i < s->l1_size; i++) {
        stq_be_p(raw + (size_t)i * L1E_SIZE, s->l1_table[i]);
    }
    offset = qcow2_alloc_clusters(bs, bytes, errp);
    if (offset < 0) {
        return offset;
    }
    ret = bdrv_file_pwrite_sync(bs->file, offset, bytes, raw, errp);
    if (ret < 0) {
        return ret;
    }
    stl_be_p(hdr, new_size);
    stq_be_p(hdr + 4, offset);
    ret = bdrv_file_pwrite_sync(bs->file, QCOW2_L1_SIZE_OFFSET, sizeof(hdr),
                                hdr, errp);
    if (ret < 0) {
        return ret;
    }
    table = g_new0(uint64_t, new_size);
    memcpy(table, s->l1_table, (size_t)s->l1_size * sizeof(uint64_t));
    g_free(s->l1_table);
    s->l1_table = table;
    s->l1_size = new_size;
    s->l1_held = new_size;
    s->l1_table_offset = offset;
    return old_bytes ? qcow2_free_clusters(bs, old_offset, old_bytes, errp)
                     : 0;
}
