/*
 * qcow2 block status: how each guest range is stored, answered in runs
 * as QEMU 7.2 answers them (its qemu-img map output depends on where
 * the runs end).  L2 entries are read a table (or, for images open
 * read-write, a window) at a time and kept for the next call, so a map
 * of a whole image reads each L2 table once.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

/* Entries read at a time when the image is open read-write. */
#define MAP_RW_WINDOW 512

/* Subclusters per cluster without extended L2. */
#define MAP_NO_SUBCLUSTERS 1

typedef struct Qcow2MapCache {
    uint64_t l2_offset;     /* table the entries belong to */
    uint64_t first;         /* index of the first entry held */
    uint64_t count;         /* entries held; 0: none */
    uint8_t *buf;           /* count * l2_entry_size bytes, big-endian */
} Qcow2MapCache;

/* 7.2's subcluster types: the *_ALLOC ones have a host cluster. */
typedef enum MapType {
    MAP_UNALLOCATED_PLAIN,
    MAP_UNALLOCATED_ALLOC,
    MAP_ZERO_PLAIN,
    MAP_ZERO_ALLOC,
    MAP_NORMAL,
    MAP_COMPRESSED,
    MAP_INVALID,
} MapType;

void qcow2_map_cache_drop(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->map_cache) {
        g_free(s->map_cache->buf);
        g_clear_pointer(&s->map_cache, g_free);
    }
}

/*
 * 7.2's qcow2_signal_corruption for a read path: one line on stderr
 * (a compatibility line, so printed here), the first time only when
 * read-only.  Read-write opens also get the corrupt bit, as in 7.2.
 */
void qcow2_signal_corruption(BlockDriverState *bs, Error **errp,
                             const char *fmt, ...)
{
    BDRVQcow2State *s = bs->opaque;
    bool fatal = !bs->read_only;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s", msg);
    if (s->corruption_signalled &&
        (!fatal || (s->incompatible_features & QCOW2_INCOMPAT_CORRUPT))) {
        return;
    }
    s->corruption_signalled = true;
    if (fatal) {
        s->broken = true;       /* 7.2 ejects the medium */
        fprintf(stderr, "qcow2: Marking image as corrupt: %s; further "
                "corruption events will be suppressed\n", msg);
        if (s->version >= 3) {
            s->incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
            /* Best effort: the caller's error is the one reported. */
            qcow2_write_incompat_features(bs, NULL);
        }
    } else {
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal "
                "corruption events will be suppressed\n", msg);
    }
}

/*
 * Makes entry @index of the L2 table at @l2_offset available.  Tables
 * partly or wholly past the end of the file read as zeros there, as in
 * 7.2.
 */
static int map_load(BlockDriverState *bs, uint64_t l2_offset, uint64_t index,
                    Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2MapCache *c = s->map_cache;
    uint64_t first = 0, count = s->l2_size;
    int ret;

    if (c && c->l2_offset == l2_offset && index >= c->first &&
        index - c->first < c->count) {
        return 0;
    }
    if (!c) {
        c = s->map_cache = g_new0(Qcow2MapCache, 1);
        /* At most one cluster (2 MiB): the size of one L2 table. */
        c->buf = g_malloc(s->cluster_size);
    }
    if (!bs->read_only) {
        first = index;
        count = MIN(MAP_RW_WINDOW, s->l2_size - index);
    }
    c->count = 0;
    ret = qcow2_pread_zero_padded(bs, l2_offset + first * s->l2_entry_size,
                                  count * s->l2_entry_size, c->buf, errp);
    if (ret < 0) {
        return ret;
    }
    c->l2_offset = l2_offset;
    c->first = first;
    c->count = count;
    return 0;
}

/* Entry @index, which map_load() made available. */
static inline void map_entry(const BDRVQcow2State *s, uint64_t index,
                             uint64_t *entry, uint64_t *bitmap)
{
    const Qcow2MapCache *c = s->map_cache;
    const uint8_t *p = c->buf + (index - c->first) * s->l2_entry_size;

    *entry = ldq_be_p(p);
    *bitmap = has_subclusters(s) ? ldq_be_p(p + 8) : 0;
}

int qcow2_map_l2_entry(BlockDriverState *bs, uint64_t l2_offset,
                       uint64_t index, uint64_t *entry, uint64_t *bitmap,
                       Error **errp)
{
    int ret = map_load(bs, l2_offset, index, errp);

    if (ret < 0) {
        return ret;
    }
    map_entry(bs->opaque, index, entry, bitmap);
    return 0;
}

static MapType map_subcluster_type(const BDRVQcow2State *s, uint64_t entry,
                                   uint64_t bitmap, unsigned sc)
{
    uint64_t host = entry & L2E_OFFSET_MASK;
    bool unallocated;

    if (entry & QCOW_OFLAG_COMPRESSED) {
        return MAP_COMPRESSED;
    }
    if (!has_subclusters(s) && (entry & QCOW_OFLAG_ZERO)) {
        return host ? MAP_ZERO_ALLOC : MAP_ZERO_PLAIN;
    }
    /* Offset 0 is valid in a data file: COPIED tells it apart there. */
    unallocated = !host && !(has_data_file(s) &&
                             (entry & QCOW_OFLAG_COPIED));
    if (!has_subclusters(s)) {
        return unallocated ? MAP_UNALLOCATED_PLAIN : MAP_NORMAL;
    }
    if (unallocated) {
        if ((uint32_t)bitmap) {
            return MAP_INVALID;
        }
        return (bitmap >> (32 + sc)) & 1 ? MAP_ZERO_PLAIN
                                         : MAP_UNALLOCATED_PLAIN;
    }
    if ((bitmap >> 32) & bitmap) {
        return MAP_INVALID;
    }
    if ((bitmap >> (32 + sc)) & 1) {
        return MAP_ZERO_ALLOC;
    }
    return (bitmap >> sc) & 1 ? MAP_NORMAL : MAP_UNALLOCATED_ALLOC;
}

/* Bits [0, n) of a 32-bit subcluster bitmap. */
static inline uint32_t sc_range(unsigned n)
{
    return n >= 32 ? UINT32_MAX : (1u << n) - 1;
}

static inline unsigned ctz32_or_32(uint32_t v)
{
    return v ? (unsigned)__builtin_ctz(v) : 32;
}

/*
 * Type of subcluster @sc_from and how many subclusters from it on have
 * that type in this cluster; -EINVAL for an invalid entry.
 */
static int map_range_type(const BDRVQcow2State *s, uint64_t entry,
                          uint64_t bitmap, unsigned sc_from, MapType *type)
{
    unsigned per_cluster = has_subclusters(s)
                           ? QCOW_EXTL2_SUBCLUSTERS_PER_CLUSTER
                           : MAP_NO_SUBCLUSTERS;

    *type = map_subcluster_type(s, entry, bitmap, sc_from);
    if (*type == MAP_INVALID) {
        return -EINVAL;
    }
    if (!has_subclusters(s) || *type == MAP_COMPRESSED) {
        return per_cluster - sc_from;
    }
    switch (*type) {
    case MAP_NORMAL:
        return ctz32_or_32(~((uint32_t)bitmap | sc_range(sc_from))) -
               sc_from;
    case MAP_ZERO_PLAIN:
    case MAP_ZERO_ALLOC:
        return ctz32_or_32(~((uint32_t)(bitmap >> 32) | sc_range(sc_from))) -
               sc_from;
    case MAP_UNALLOCATED_PLAIN:
    case MAP_UNALLOCATED_ALLOC:
        return ctz32_or_32((uint32_t)((bitmap >> 32) | bitmap) &
                           ~sc_range(sc_from)) - sc_from;
    case MAP_COMPRESSED:
    case MAP_INVALID:
        break;
    }
    g_assert_not_reached();
}

static inline bool map_type_has_host(MapType t)
{
    return t == MAP_NORMAL || t == MAP_ZERO_ALLOC ||
           t == MAP_UNALLOCATED_ALLOC;
}

/*
 * Subclusters of the same type from (@l2_index, @sc_index) on, over at
 * most @nb_clusters clusters, host clusters contiguous where there are
 * any (7.2's count_contiguous_subclusters).  An invalid entry is a
 * corruption.
 */
static int64_t map_count_run(BlockDriverState *bs, uint64_t l2_offset,
                             uint64_t nb_clusters, unsigned sc_index,
                             uint64_t l2_index, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    unsigned per_cluster = has_subclusters(s)
                           ? QCOW_EXTL2_SUBCLUSTERS_PER_CLUSTER
                           : MAP_NO_SUBCLUSTERS;
    MapType expected = MAP_NORMAL, type;
    uint64_t expected_offset = 0;
    bool check_offset = false;
    int64_t count = 0;

    for (uint64_t i = 0; i < nb_clusters; i++) {
        unsigned first_sc = i ? 0 : sc_index;
        uint64_t entry, bitmap;
        int n, ret;

        ret = map_load(bs, l2_offset, l2_index + i, errp);
        if (ret < 0) {
            return ret;
        }
        map_entry(s, l2_index + i, &entry, &bitmap);
        n = map_range_type(s, entry, bitmap, first_sc, &type);
        if (n < 0) {
            /* 7.2's words, double space included. */
            qcow2_signal_corruption(bs, errp, "Invalid cluster entry found "
                                    " (L2 offset: %#" PRIx64 ", L2 index: %#"
                                    PRIx64 ")", l2_offset, l2_index + i);
            return -EIO;
        }
        if (i == 0) {
            if (type == MAP_COMPRESSED) {
                return n;   /* one compressed cluster at a time */
            }
            expected = type;
            expected_offset = entry & L2E_OFFSET_MASK;
            check_offset = map_type_has_host(type);
        } else if (type != expected) {
            break;
        } else if (check_offset) {
            expected_offset += s->cluster_size;
            if (expected_offset != (entry & L2E_OFFSET_MASK)) {
                break;
            }
        }
        count += n;
        if (first_sc + n < per_cluster) {
            break;  /* the type changes inside this cluster */
        }
    }
    return count;
}

/*
 * Checks the entry where the run starts as 7.2 does before counting;
 * *@host gets the host offset of @offset for types that have one.
 */
static int map_check_first(BlockDriverState *bs, uint64_t offset,
                           uint64_t l2_offset, uint64_t l2_index,
                           MapType type, uint64_t entry, uint64_t *host,
                           Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in_cluster = offset_into_cluster(s, offset);
    uint64_t host_cluster = entry & L2E_OFFSET_MASK;

    if (s->version < 3 && (type == MAP_ZERO_PLAIN || type == MAP_ZERO_ALLOC)) {
        qcow2_signal_corruption(bs, errp, "Zero cluster entry found in "
                                "pre-v3 image (L2 offset: %#" PRIx64
                                ", L2 index: %#" PRIx64 ")", l2_offset,
                                l2_index);
        return -EIO;
    }
    if (type == MAP_COMPRESSED && has_data_file(s)) {
        qcow2_signal_corruption(bs, errp, "Compressed cluster entry found in "
                                "image with external data file (L2 offset: "
                                "%#" PRIx64 ", L2 index: %#" PRIx64 ")",
                                l2_offset, l2_index);
        return -EIO;
    }
    if (!map_type_has_host(type)) {
        return 0;
    }
    *host = host_cluster + in_cluster;
    if (offset_into_cluster(s, host_cluster)) {
        qcow2_signal_corruption(bs, errp, QCOW2_UNALIGNED_CLUSTER_FMT,
                                host_cluster, l2_offset, l2_index);
        return -EIO;
    }
    if (has_data_file(s) && *host != offset) {
        /* 7.2's words, unbalanced parenthesis included. */
        qcow2_signal_corruption(bs, errp, "External data file host cluster "
                                "offset %#" PRIx64 " does not match guest "
                                "cluster offset: %#" PRIx64 ", L2 index: %#"
                                PRIx64 ")", host_cluster,
                                offset - in_cluster, l2_index);
        return -EIO;
    }
    return 0;
}

/*
 * 7.2's qcow2_get_host_offset: the type at @offset and in *@bytes how
 * far it goes, never past the end of the L2 table.
 */
static int map_get_host_offset(BlockDriverState *bs, uint64_t offset,
                               uint64_t *bytes, uint64_t *host,
                               MapType *type, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in_cluster = offset_into_cluster(s, offset);
    uint64_t l1_index = offset_to_l1_index(s, offset);
    uint64_t l2_index = offset_to_l2_index(s, offset);
    unsigned sc_index = in_cluster >> s->subcluster_bits;
    uint64_t needed = *bytes + in_cluster;
    uint64_t available = (s->l2_size - l2_index) << s->cluster_bits;
    uint64_t l2_offset, entry, bitmap;
    int64_t sc;
    int ret;

    needed = MIN(needed, available);
    *host = 0;
    *type = MAP_UNALLOCATED_PLAIN;
    if (l1_index >= s->l1_held ||
        !(l2_offset = s->l1_table[l1_index] & L1E_OFFSET_MASK)) {
        goto out;
    }
    if (offset_into_cluster(s, l2_offset)) {
        qcow2_signal_corruption(bs, errp, "L2 table offset %#" PRIx64
                                " unaligned (L1 index: %#" PRIx64 ")",
                                l2_offset, l1_index);
        return -EIO;
    }
    ret = map_load(bs, l2_offset, l2_index, errp);
    if (ret < 0) {
        return ret;
    }
    map_entry(s, l2_index, &entry, &bitmap);
    *type = map_subcluster_type(s, entry, bitmap, sc_index);
    if (*type != MAP_INVALID) {
        ret = map_check_first(bs, offset, l2_offset, l2_index, *type, entry,
                              host, errp);
        if (ret < 0) {
            return ret;
        }
        if (*type == MAP_COMPRESSED) {
            *host = entry;
        }
    }
    sc = map_count_run(bs, l2_offset, DIV_ROUND_UP(needed, s->cluster_size),
                       sc_index, l2_index, errp);
    if (sc < 0) {
        return sc;
    }
    available = (uint64_t)(sc + sc_index) << s->subcluster_bits;
out:
    *bytes = MIN(available, needed) - in_cluster;
    return 0;
}

/*
 * Counts clusters with a non-zero refcount, stopping at @threshold
 * (7.2's qcow2_get_refcount over the file, for its preallocation guess).
 */
static int map_count_referenced(BlockDriverState *bs, uint64_t end_cluster,
                                uint64_t threshold, uint64_t *count,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_block = qcow2_refblock_entries(s);
    uint64_t rt_size = (uint64_t)s->refcount_table_clusters <<
                       (s->cluster_bits - 3);
    g_autofree uint8_t *block = g_malloc(s->cluster_size);
    uint64_t loaded = UINT64_MAX;
    bool empty = true;

    *count = 0;
    for (uint64_t i = 0; i < end_cluster && *count < threshold; i++) {
        uint64_t rt_index = i / per_block;
        uint8_t raw[REFTABLE_ENTRY_SIZE];
        uint64_t rb_offset;
        int ret;

        if (rt_index >= rt_size) {
            break;
        }
        if (rt_index != loaded) {
            ret = qcow2_pread_zero_padded(bs, s->refcount_table_offset +
                                          rt_index * REFTABLE_ENTRY_SIZE,
                                          sizeof(raw), raw, errp);
            if (ret < 0) {
                return ret;
            }
            rb_offset = ldq_be_p(raw) & REFT_OFFSET_MASK;
            empty = !rb_offset;
            if (rb_offset && offset_into_cluster(s, rb_offset)) {
                qcow2_signal_corruption(bs, errp, "Refblock offset %#" PRIx64
                               " unaligned (reftable index: %#" PRIx64 ")",
                               rb_offset, rt_index);
                return -EIO;
            }
            if (rb_offset) {
                ret = qcow2_pread_zero_padded(bs, rb_offset, s->cluster_size,
                                              block, errp);
                if (ret < 0) {
                    return ret;
                }
                /* All zero (or past EOF): nothing to count in it. */
                empty = block[0] == 0 &&
                        !memcmp(block, block + 1, s->cluster_size - 1);
            }
            loaded = rt_index;
        }
        if (empty) {
            /* A whole refcount block's worth of unreferenced clusters. */
            i = (rt_index + 1) * per_block - 1;
            continue;
        }
        *count += !!qcow2_refblock_get(s, block, i % per_block);
    }
    return 0;
}

/*
 * 7.2's qcow2_detect_metadata_preallocation: when far more clusters
 * are referenced than the file has allocated, the data clusters are
 * mostly holes, and block status asks the file where they are.
 */
static bool map_detect_prealloc(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t file_length = bdrv_getlength(bs->file);
    int64_t allocated;
    uint64_t real_clusters, threshold, count;
    Error *local_err = NULL;

    if (file_length < 0 || !bs->file->drv->get_allocated_file_size) {
        return false;
    }
    allocated = bs->file->drv->get_allocated_file_size(bs->file);
    if (allocated < 0) {
        return false;
    }
    real_clusters = allocated / s->cluster_size;
    threshold = MAX(real_clusters * 10 / 9, real_clusters + 2);
    if (map_count_referenced(bs, size_to_clusters(s, file_length),
                             threshold, &count, &local_err) < 0) {
        /* 7.2 goes on without the guess (its message is printed). */
        error_free(local_err);
        return false;
    }
    return count >= threshold;
}

int qcow2_co_block_status(BlockDriverState *bs, int64_t offset,
                          int64_t bytes, int64_t *pnum, int64_t *map,
                          BlockDriverState **file, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = MIN(INT_MAX, bytes), host;
    MapType type;
    int status = 0;
    int ret;

    if (has_data_file(s) && !s->data_file) {
        error_setg(errp, "The external data file could not be opened");
        return -EIO;
    }
    if (!s->metadata_prealloc_checked) {
        s->metadata_prealloc = map_detect_prealloc(bs);
        s->metadata_prealloc_checked = true;
    }
    ret = map_get_host_offset(bs, offset, &n, &host, &type, errp);
    if (!bs->read_only) {
        /* Writes may follow: keep nothing (see qcow2_map_cache_drop). */
        qcow2_map_cache_drop(bs);
    }
    if (ret < 0) {
        return ret;
    }
    *pnum = n;
    if (map_type_has_host(type) && !bs->encrypted) {
        *map = host;
        *file = s->data_file;
        status |= BDRV_BLOCK_OFFSET_VALID;
    }
    if (type == MAP_ZERO_PLAIN || type == MAP_ZERO_ALLOC) {
        status |= BDRV_BLOCK_ZERO;
    } else if (type != MAP_UNALLOCATED_PLAIN &&
               type != MAP_UNALLOCATED_ALLOC) {
        status |= BDRV_BLOCK_DATA;
    }
    if (s->metadata_prealloc && (status & BDRV_BLOCK_DATA) &&
        (status & BDRV_BLOCK_OFFSET_VALID)) {
        status |= BDRV_BLOCK_RECURSE;
    }
    if (type == MAP_COMPRESSED) {
        status |= BDRV_BLOCK_COMPRESSED;
    }
    return status;
}
