/*
 * qcow2 image creation.  The options are checked in 7.2's order and
 * with its messages; the layout is 7.2's byte for byte.  7.2 writes a
 * three-cluster skeleton (header, refcount table, refcount block), then
 * grows the image through its cluster allocator; the layout is the
 * allocator's, so it is replayed here in memory (first-fit search,
 * refcount blocks allocated on demand and the search restarted after
 * each, refcount table growth into a self-describing area) and the
 * resulting clusters are written through the protocol layer.
 */
#include "block/qcow2.h"

#define QCOW2_V3_HEADER_LENGTH 112      /* with compression_type, padded */
/* 7.2 leaves the feature table out of images with small clusters. */
#define QCOW2_FEATURE_TABLE_MIN_CLUSTER 8192
/* QEMU's bound on a single request (INT_MAX, 512-aligned) */
#define QCOW2_REQUEST_MAX 0x7ffffe00ll
#define ROUND_UP(n, m) QEMU_ALIGN_UP(n, m)

typedef enum Qcow2Prealloc {
    Q2_PREALLOC_OFF,
    Q2_PREALLOC_METADATA,
    Q2_PREALLOC_FALLOC,
    Q2_PREALLOC_FULL,
} Qcow2Prealloc;

typedef struct Qcow2CreateParams {
    int version;
    uint64_t size;
    uint64_t cluster_size;
    int cluster_bits;
    int refcount_order;
    bool lazy_refcounts;
    bool extended_l2;
    bool zstd;
    Qcow2Prealloc prealloc;
    const char *prealloc_str;
    const char *backing_file;
    const char *backing_fmt;
    const char *data_file;
    bool data_file_raw;
    bool encrypt;
} Qcow2CreateParams;

/* The in-memory replay of the image being built. */
typedef struct Qcow2Sim {
    uint64_t cs;
    int cluster_bits;
    int refcount_order;
    uint64_t rb_entries;        /* refcounts per refcount block */
    int rb_bits;
    uint64_t refcount_max;
    uint64_t *reftable;
    uint64_t reftable_size;     /* entries */
    uint64_t reftable_offset;
    GHashTable *refblocks;      /* offset -> uint64_t[rb_entries] */
    GHashTable *clusters;       /* cluster offset -> cluster bytes */
    uint64_t free_cluster_index;
    uint64_t file_end;
    uint64_t *l1;
    uint64_t l1_size;
    uint64_t l1_offset;
    uint32_t l2_entry_size;
    uint64_t l2_entries;
    int l2_bits;
} Qcow2Sim;

/* Contents written at @offset (metadata only; the rest reads zero). */
static void sim_write(Qcow2Sim *s, uint64_t offset, const void *buf,
                      uint64_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        uint64_t co = offset & ~(s->cs - 1);
        uint64_t in = offset - co, n = MIN(len, s->cs - in);
        uint8_t *c = g_hash_table_lookup(s->clusters, &co);
        if (!c) {
            uint64_t *key = g_new(uint64_t, 1);
            *key = co;
            c = g_malloc0(s->cs);
            g_hash_table_insert(s->clusters, key, c);
        }
        if (p) {
            memcpy(c + in, p, n);
            p += n;
        } else {
            memset(c + in, 0, n);
        }
        s->file_end = MAX(s->file_end, offset + n);
        offset += n;
        len -= n;
    }
}

static uint64_t *sim_block(Qcow2Sim *s, uint64_t offset)
{
    return g_hash_table_lookup(s->refblocks, &offset);
}

static uint64_t *sim_new_block(Qcow2Sim *s, uint64_t offset)
{
    uint64_t *key = g_new(uint64_t, 1);
    uint64_t *blk = g_new0(uint64_t, s->rb_entries);

    *key = offset;
    g_hash_table_insert(s->refblocks, key, blk);
    sim_write(s, offset, NULL, s->cs);
    return blk;
}

/* A refcount table entry, in memory and in the table's cluster. */
static void sim_set_reftable(Qcow2Sim *s, uint64_t index, uint64_t offset)
{
    uint8_t e[REFTABLE_ENTRY_SIZE];

    s->reftable[index] = offset;
    stq_be_p(e, offset);
    sim_write(s, s->reftable_offset + index * REFTABLE_ENTRY_SIZE, e,
              sizeof(e));
}

static uint64_t sim_get_refcount(Qcow2Sim *s, uint64_t index)
{
    uint64_t ti = index >> s->rb_bits;
    uint64_t *blk;

    if (ti >= s->reftable_size || !s->reftable[ti]) {
        return 0;
    }
    blk = sim_block(s, s->reftable[ti]);
    return blk[index & (s->rb_entries - 1)];
}

static uint64_t sim_alloc_noref(Qcow2Sim *s, uint64_t size)
{
    uint64_t n = DIV_ROUND_UP(size, s->cs);

retry:
    for (uint64_t i = 0; i < n; i++) {
        if (sim_get_refcount(s, s->free_cluster_index++)) {
            goto retry;
        }
    }
    return (s->free_cluster_index - n) << s->cluster_bits;
}

static int sim_update_refcount(Qcow2Sim *s, uint64_t offset,
                               uint64_t length, bool decrease);

/*
 * A new refcount table and the refcount blocks it lacks, placed at
 * @start (blocks first, then the table), describing themselves; the old
 * table is freed.  Returns the end of the area.
 */
static int64_t sim_refcount_area(Qcow2Sim *s, uint64_t start,
                                 uint64_t additional, bool exact,
                                 uint64_t new_index, uint64_t new_offset,
                                 Error **errp)
{
    uint64_t total = qcow2_refblocks_needed((start >> s->cluster_bits) +
                                            additional, s->rb_entries,
                                            s->cs / REFTABLE_ENTRY_SIZE,
                                            !exact);
    uint64_t per_cluster = s->cs / REFTABLE_ENTRY_SIZE;
    uint64_t table_size = exact ? total : qcow2_reftable_grown_size(total);
    uint64_t area_index = (start >> s->cluster_bits) >> s->rb_bits;
    uint64_t extra = 0, table_offset, end, block_offset = start;
    uint64_t old_offset = s->reftable_offset, old_size = s->reftable_size;
    g_autofree uint8_t *be = NULL;
    uint64_t *table;

    table_size = ROUND_UP(table_size, per_cluster);
    if (table_size * REFTABLE_ENTRY_SIZE > QCOW_MAX_REFTABLE_SIZE) {
        error_setg(errp, "Could not resize image: Refcount table too big");
        return -EFBIG;
    }
    table = g_new0(uint64_t, table_size);
    memcpy(table, s->reftable,
           MIN(old_size, table_size) * REFTABLE_ENTRY_SIZE);
    if (new_offset) {
        table[new_index] = new_offset;
    }
    for (uint64_t i = area_index; i < total; i++) {
        extra += !table[i];
    }
    table_offset = start + extra * s->cs;
    end = table_offset + table_size * REFTABLE_ENTRY_SIZE;
    for (uint64_t i = area_index; i < total; i++) {
        uint64_t first = i * s->rb_entries * s->cs, j, j_end;
        uint64_t *blk;
        if (table[i]) {
            blk = sim_block(s, table[i]);
        } else {
            blk = sim_new_block(s, block_offset);
            table[i] = block_offset;
            block_offset += s->cs;
        }
        if (first < end) {
            j = first < start ? (start - first) >> s->cluster_bits : 0;
            j_end = MIN((end - first) >> s->cluster_bits, s->rb_entries);
            for (; j < j_end; j++) {
                blk[j] = 1;
            }
        }
    }
    be = g_malloc(table_size * REFTABLE_ENTRY_SIZE);
    for (uint64_t i = 0; i < table_size; i++) {
        stq_be_p(be + i * REFTABLE_ENTRY_SIZE, table[i]);
    }
    sim_write(s, table_offset, be, table_size * REFTABLE_ENTRY_SIZE);
    g_free(s->reftable);
    s->reftable = table;
    s->reftable_size = table_size;
    s->reftable_offset = table_offset;
    sim_update_refcount(s, old_offset, old_size * REFTABLE_ENTRY_SIZE, true);
    return end;
}

/* The refcount block for cluster @index; -EAGAIN after allocating one. */
static int sim_refcount_block(Qcow2Sim *s, uint64_t index, uint64_t **blk)
{
    uint64_t ti = index >> s->rb_bits, new_block, used;
    int ret;

    if (ti < s->reftable_size && s->reftable[ti]) {
        *blk = sim_block(s, s->reftable[ti]);
        return 0;
    }
    bool self_describing;

    new_block = sim_alloc_noref(s, s->cs);
    self_describing = ((new_block >> s->cluster_bits) >> s->rb_bits) == ti;
    if (self_describing) {
        *blk = sim_new_block(s, new_block);
        (*blk)[(new_block >> s->cluster_bits) & (s->rb_entries - 1)] = 1;
    } else {
        ret = sim_update_refcount(s, new_block, s->cs, false);
        if (ret < 0) {
            return ret;
        }
        *blk = sim_new_block(s, new_block);
    }
    if (ti < s->reftable_size) {
        sim_set_reftable(s, ti, new_block);
        /*
         * 7.2 goes on with a block that describes itself; after one
         * placed elsewhere the caller searches again (what 7.2 writes).
         */
        return self_describing ? 0 : -EAGAIN;
    }
    used = DIV_ROUND_UP(MAX(index + 1, (new_block >> s->cluster_bits) + 1),
                        s->rb_entries);
    ret = sim_refcount_area(s, used * s->rb_entries * s->cs, 0, false, ti,
                            new_block, NULL);
    return ret < 0 ? ret : -EAGAIN;
}

static int sim_update_refcount(Qcow2Sim *s, uint64_t offset,
                               uint64_t length, bool decrease)
{
    uint64_t start, last, co, old_ti = UINT64_MAX;
    uint64_t *blk = NULL;
    int ret = 0;

    if (!length) {
        return 0;
    }
    start = offset & ~(s->cs - 1);
    last = (offset + length - 1) & ~(s->cs - 1);
    for (co = start; co <= last; co += s->cs) {
        uint64_t index = co >> s->cluster_bits;
        uint64_t *rc;
        if ((index >> s->rb_bits) != old_ti) {
            ret = sim_refcount_block(s, index, &blk);
            if (ret < 0) {
                break;
            }
            old_ti = index >> s->rb_bits;
        }
        rc = &blk[index & (s->rb_entries - 1)];
        *rc = decrease ? *rc - 1 : *rc + 1;
        if (*rc == 0 && index < s->free_cluster_index) {
            s->free_cluster_index = index;
        }
    }
    if (ret < 0) {
        /* Undo the part done, as the allocator will search again. */
        sim_update_refcount(s, offset, co - offset, !decrease);
    }
    return ret;
}

static int64_t sim_alloc(Qcow2Sim *s, uint64_t size)
{
    uint64_t offset;
    int ret;

    do {
        offset = sim_alloc_noref(s, size);
        ret = sim_update_refcount(s, offset, size, false);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)offset;
}

/* Allocates @n clusters exactly at @offset (they are known free). */
static int sim_alloc_at(Qcow2Sim *s, uint64_t offset, uint64_t n)
{
    int ret;

    do {
        ret = sim_update_refcount(s, offset, n * s->cs, false);
    } while (ret == -EAGAIN);
    return ret;
}

static void sim_init(Qcow2Sim *s, const Qcow2CreateParams *p)
{
    memset(s, 0, sizeof(*s));
    s->cs = p->cluster_size;
    s->cluster_bits = p->cluster_bits;
    s->refcount_order = p->refcount_order;
    s->rb_bits = p->cluster_bits + 3 - p->refcount_order;
    s->rb_entries = 1ull << s->rb_bits;
    s->refblocks = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                         g_free, g_free);
    s->clusters = g_hash_table_new_full(g_int64_hash, g_int64_equal,
                                        g_free, g_free);
    s->l2_entry_size = p->extended_l2 ? L2E_SIZE_EXTENDED : L2E_SIZE_NORMAL;
    s->l2_entries = s->cs / s->l2_entry_size;
    s->l2_bits = __builtin_ctzll(s->l2_entries);
    /* The skeleton: header, a one-cluster table, one empty block. */
    sim_write(s, 0, NULL, s->cs);
    s->reftable_offset = s->cs;
    s->reftable_size = s->cs / REFTABLE_ENTRY_SIZE;
    s->reftable = g_new0(uint64_t, s->reftable_size);
    sim_write(s, s->cs, NULL, s->cs);
    sim_set_reftable(s, 0, 2 * s->cs);
    sim_new_block(s, 2 * s->cs);
}

static void sim_free(Qcow2Sim *s)
{
    g_hash_table_destroy(s->refblocks);
    g_hash_table_destroy(s->clusters);
    g_free(s->reftable);
    g_free(s->l1);
}

/* Sets the L2 entries of @n clusters from @guest to host @host. */
static int sim_link_l2(Qcow2Sim *s, uint64_t guest, uint64_t host,
                       uint64_t n)
{
    uint64_t l1_index = guest >> (s->cluster_bits + s->l2_bits);
    uint64_t l2_index = (guest >> s->cluster_bits) & (s->l2_entries - 1);

    if (!s->l1[l1_index]) {
        int64_t l2 = sim_alloc(s, s->cs);
        if (l2 < 0) {
            return l2;
        }
        s->l1[l1_index] = l2 | QCOW_OFLAG_COPIED;
        sim_write(s, l2, NULL, s->cs);
    }
    for (uint64_t i = 0; i < n; i++) {
        uint8_t e[8];
        stq_be_p(e, (host + i * s->cs) | QCOW_OFLAG_COPIED);
        sim_write(s, (s->l1[l1_index] & L1E_OFFSET_MASK) +
                  (l2_index + i) * s->l2_entry_size, e, sizeof(e));
    }
    return 0;
}

/* preallocation=metadata (and an external data file): L2 then data. */
static int sim_prealloc_metadata(Qcow2Sim *s, const Qcow2CreateParams *p,
                                 uint64_t *data_end)
{
    uint64_t offset = 0, bytes = p->size;

    while (bytes) {
        uint64_t cur = MIN(bytes, QEMU_ALIGN_DOWN((uint64_t)INT_MAX, s->cs));
        uint64_t l2_index = (offset >> s->cluster_bits) &
                            (s->l2_entries - 1);
        uint64_t n = MIN(DIV_ROUND_UP(cur, s->cs), s->l2_entries - l2_index);
        int64_t host;
        int ret;

        n = MIN(n, (uint64_t)QCOW2_REQUEST_MAX >> s->cluster_bits);
        if (p->data_file) {
            host = offset;
            /* The L2 table is allocated first in both cases. */
            ret = sim_link_l2(s, offset, host, n);
        } else {
            uint64_t l1_index = offset >> (s->cluster_bits + s->l2_bits);
            if (!s->l1[l1_index]) {
                ret = sim_link_l2(s, offset, 0, 0);
                if (ret < 0) {
                    return ret;
                }
            }
            host = sim_alloc(s, n * s->cs);
            if (host < 0) {
                return host;
            }
            ret = sim_link_l2(s, offset, host, n);
        }
        if (ret < 0) {
            return ret;
        }
        cur = MIN(cur, n * s->cs);
        /* The file then ends with the last data cluster, whole. */
        *data_end = host + n * s->cs;
        bytes -= cur;
        offset += cur;
    }
    return 0;
}

/* preallocation=falloc/full: a refcount area, the data, then L2s. */
static int sim_prealloc_falloc(Qcow2Sim *s, const Qcow2CreateParams *p,
                               uint64_t *data_start, uint64_t *data_end)
{
    uint64_t data = DIV_ROUND_UP(p->size, s->cs);
    uint64_t l2s = DIV_ROUND_UP(data, s->l2_entries);
    uint64_t old = 0, guest = 0, host;
    int64_t start;
    int ret;

    for (uint64_t i = DIV_ROUND_UP(s->file_end, s->cs); i-- > 0;) {
        if (sim_get_refcount(s, i)) {
            old = (i + 1) * s->cs;
            break;
        }
    }
    start = sim_refcount_area(s, old, data + l2s, true, 0, 0, NULL);
    if (start < 0) {
        return start;
    }
    ret = sim_alloc_at(s, start, data);
    if (ret < 0) {
        return ret;
    }
    *data_start = start;
    *data_end = start + data * s->cs;
    for (host = start; data;) {
        uint64_t l2_index = (guest >> s->cluster_bits) & (s->l2_entries - 1);
        uint64_t n = MIN(data, s->l2_entries - l2_index);
        ret = sim_link_l2(s, guest, host, n);
        if (ret < 0) {
            return ret;
        }
        guest += n * s->cs;
        host += n * s->cs;
        data -= n;
    }
    return 0;
}

/* Header extension: type, length, data padded to 8 bytes. */
static size_t put_ext(uint8_t *buf, size_t off, uint32_t magic,
                      const void *data, uint32_t len)
{
    stl_be_p(buf + off, magic);
    stl_be_p(buf + off + 4, len);
    if (len) {
        memcpy(buf + off + 8, data, len);
    }
    return off + 8 + ROUND_UP(len, 8);
}

static const Qcow2Feature create_features[] = {
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_DIRTY_BITNR,
      "dirty bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_CORRUPT_BITNR,
      "corrupt bit" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_DATA_FILE_BITNR,
      "external data file" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_COMPRESSION_BITNR,
      "compression type" },
    { QCOW2_FEAT_TYPE_INCOMPATIBLE, QCOW2_INCOMPAT_EXTL2_BITNR,
      "extended L2 entries" },
    { QCOW2_FEAT_TYPE_COMPATIBLE, QCOW2_COMPAT_LAZY_REFCOUNTS_BITNR,
      "lazy refcounts" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, QCOW2_AUTOCLEAR_BITMAPS_BITNR,
      "bitmaps" },
    { QCOW2_FEAT_TYPE_AUTOCLEAR, QCOW2_AUTOCLEAR_DATA_FILE_RAW_BITNR,
      "raw external data" },
};

static int build_header(Qcow2Sim *s, const Qcow2CreateParams *p,
                        uint8_t *buf, Error **errp)
{
    uint64_t incompat = 0, compat = 0, autoclear = 0;
    size_t off = p->version >= 3 ? QCOW2_V3_HEADER_LENGTH
                                 : QCOW2_V2_HEADER_SIZE;

    memset(buf, 0, s->cs);
    stl_be_p(buf, QCOW_MAGIC);
    stl_be_p(buf + 4, p->version);
    stl_be_p(buf + 20, s->cluster_bits);
    stq_be_p(buf + 24, p->size);
    stl_be_p(buf + 36, s->l1_size);
    stq_be_p(buf + 40, s->l1_offset);
    stq_be_p(buf + 48, s->reftable_offset);
    stl_be_p(buf + 56, s->reftable_size * REFTABLE_ENTRY_SIZE / s->cs);
    if (p->version >= 3) {
        incompat |= p->data_file ? QCOW2_INCOMPAT_DATA_FILE : 0;
        incompat |= p->zstd ? QCOW2_INCOMPAT_COMPRESSION : 0;
        incompat |= p->extended_l2 ? QCOW2_INCOMPAT_EXTL2 : 0;
        compat |= p->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0;
        autoclear |= p->data_file_raw ? QCOW2_AUTOCLEAR_DATA_FILE_RAW : 0;
        stq_be_p(buf + 72, incompat);
        stq_be_p(buf + 80, compat);
        stq_be_p(buf + 88, autoclear);
        stl_be_p(buf + 96, s->refcount_order);
        stl_be_p(buf + 100, QCOW2_V3_HEADER_LENGTH);
        buf[QCOW2_COMPRESSION_TYPE_OFFSET] =
            p->zstd ? QCOW2_COMPRESSION_TYPE_ZSTD_ID
                    : QCOW2_COMPRESSION_TYPE_ZLIB_ID;
    }
    if (p->backing_file && p->backing_fmt) {
        off = put_ext(buf, off, QCOW2_EXT_MAGIC_BACKING_FORMAT,
                      p->backing_fmt, strlen(p->backing_fmt));
    }
    if (p->data_file) {
        off = put_ext(buf, off, QCOW2_EXT_MAGIC_DATA_FILE, p->data_file,
                      strlen(p->data_file));
    }
    if (p->version >= 3 && s->cs >= QCOW2_FEATURE_TABLE_MIN_CLUSTER) {
        uint8_t table[G_N_ELEMENTS(create_features) * QCOW2_FEAT_ENTRY_SIZE];
        memset(table, 0, sizeof(table));
        for (size_t i = 0; i < G_N_ELEMENTS(create_features); i++) {
            uint8_t *e = table + i * QCOW2_FEAT_ENTRY_SIZE;
            e[0] = create_features[i].type;
            e[1] = create_features[i].bit;
            strncpy((char *)e + 2, create_features[i].name,
                    QCOW2_FEAT_NAME_SIZE);
        }
        off = put_ext(buf, off, QCOW2_EXT_MAGIC_FEATURE_TABLE, table,
                      sizeof(table));
    }
    off = put_ext(buf, off, QCOW2_EXT_MAGIC_END, NULL, 0);
    if (p->backing_file) {
        size_t len = strlen(p->backing_file);
        if (len > s->cs - off || len > QCOW_MAX_BACKING_FILE_SIZE) {
            error_setg(errp, "Could not assign backing file '%s' with "
                       "format '%s': No space left on device",
                       p->backing_file, p->backing_fmt ? p->backing_fmt
                                                       : "");
            return -ENOSPC;
        }
        memcpy(buf + off, p->backing_file, len);
        stq_be_p(buf + 8, off);
        stl_be_p(buf + 16, len);
    }
    return 0;
}

static int parse_enum(const char *value, const char *param,
                      const char *const *names, int *out, Error **errp)
{
    for (int i = 0; names[i]; i++) {
        if (!strcmp(value, names[i])) {
            *out = i;
            return 0;
        }
    }
    error_setg(errp, "Parameter '%s' does not accept value '%s'", param,
               value);
    return -EINVAL;
}

static bool opt_bool(QDict *opts, const char *name)
{
    const char *v = qdict_get_try_str(opts, name);

    bool b;

    return v && bdrv_parse_bool(v, &b) && b;
}

static uint64_t opt_uint(QDict *opts, const char *name, uint64_t def)
{
    const char *v = qdict_get_try_str(opts, name);

    return v ? (uint64_t)g_ascii_strtoll(v, NULL, 10) : def;
}

/* The option strings into parameters: QAPI-level parsing in 7.2. */
static int parse_params(QDict *opts, Qcow2CreateParams *p, Error **errp)
{
    static const char *const compat_names[] = {
        "0.10", "v2", "1.1", "v3", NULL
    };
    static const char *const prealloc_names[] = {
        "off", "metadata", "falloc", "full", NULL
    };
    static const char *const compression_names[] = { "zlib", "zstd", NULL };
    static const char *const encrypt_names[] = { "aes", "luks", NULL };
    const char *v;
    int e;

    memset(p, 0, sizeof(*p));
    p->version = 3;
    v = qdict_get_try_str(opts, "compat");
    if (v) {
        if (parse_enum(v, "version", compat_names, &e, errp) < 0) {
            return -EINVAL;
        }
        p->version = e < 2 ? 2 : 3;
    }
    p->prealloc_str = qdict_get_try_str(opts, "preallocation");
    if (p->prealloc_str) {
        if (parse_enum(p->prealloc_str, "preallocation", prealloc_names, &e,
                       errp) < 0) {
            return -EINVAL;
        }
        p->prealloc = e;
    }
    v = qdict_get_try_str(opts, "compression_type");
    if (v) {
        if (parse_enum(v, "compression-type", compression_names, &e,
                       errp) < 0) {
            return -EINVAL;
        }
        p->zstd = e == 1;
    }
    v = qdict_get_try_str(opts, "encrypt.format");
    if (v) {
        if (parse_enum(v, "format", encrypt_names, &e, errp) < 0) {
            return -EINVAL;
        }
        p->encrypt = true;
    }
    p->encrypt |= opt_bool(opts, "encryption");
    /* Whole sectors, as 7.2 rounds every new image's size. */
    p->size = QEMU_ALIGN_UP(opt_uint(opts, "size", 0), BDRV_SECTOR_SIZE);
    p->cluster_size = opt_uint(opts, "cluster_size", 65536);
    p->lazy_refcounts = opt_bool(opts, "lazy_refcounts");
    p->extended_l2 = opt_bool(opts, "extended_l2");
    p->backing_file = qdict_get_try_str(opts, "backing_file");
    p->backing_fmt = qdict_get_try_str(opts, "backing_fmt");
    p->data_file = qdict_get_try_str(opts, "data_file");
    p->data_file_raw = opt_bool(opts, "data_file_raw");
    return 0;
}

static const char *const v3_hint = "compatibility level 1.1 and above "
                                   "(use version=v3 or greater)";

/* The checks of 7.2's qcow2 creation, in its order. */
static int check_params(QDict *opts, Qcow2CreateParams *p, Error **errp)
{
    uint64_t cs = p->cluster_size;
    uint64_t refcount_bits = opt_uint(opts, "refcount_bits", 16);
    uint64_t max_l1_entries;

    if (p->extended_l2) {
        if (p->version < 3) {
            error_setg(errp, "Extended L2 entries are only supported with %s",
                       v3_hint);
            return -EINVAL;
        }
        if (cs < (1u << QCOW_EXTL2_MIN_CLUSTER_BITS) && cs >= 512 &&
            !(cs & (cs - 1))) {
            error_setg(errp, "Extended L2 entries are only supported with "
                       "cluster sizes of at least %u bytes",
                       1u << QCOW_EXTL2_MIN_CLUSTER_BITS);
            return -EINVAL;
        }
    }
    if (cs < (1u << MIN_CLUSTER_BITS) || cs > (1u << MAX_CLUSTER_BITS) ||
        (cs & (cs - 1))) {
        error_setg(errp, "Cluster size must be a power of two between "
                   "%d and %dk", 1 << MIN_CLUSTER_BITS,
                   1 << (MAX_CLUSTER_BITS - 10));
        return -EINVAL;
    }
    p->cluster_bits = __builtin_ctzll(cs);
    if (p->lazy_refcounts && p->version < 3) {
        error_setg(errp, "Lazy refcounts only supported with %s", v3_hint);
        return -EINVAL;
    }
    if (refcount_bits > 64 || !refcount_bits ||
        (refcount_bits & (refcount_bits - 1))) {
        error_setg(errp, "Refcount width must be a power of two and may not "
                   "exceed 64 bits");
        return -EINVAL;
    }
    if (p->version < 3 && refcount_bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require "
                   "compatibility level 1.1 or above (use version=v3 or "
                   "greater)");
        return -EINVAL;
    }
    p->refcount_order = __builtin_ctzll(refcount_bits);
    if (p->backing_fmt && !p->backing_file) {
        error_setg(errp, "Backing format cannot be used without backing "
                   "file");
        return -EINVAL;
    }
    if (p->data_file_raw && !p->data_file) {
        error_setg(errp, "data-file-raw requires data-file");
        return -EINVAL;
    }
    if (p->data_file_raw && p->backing_file) {
        error_setg(errp, "Backing file and data-file-raw cannot be used at "
                   "the same time");
        return -EINVAL;
    }
    if (p->data_file && p->version < 3) {
        error_setg(errp, "External data files are only supported with %s",
                   v3_hint);
        return -EINVAL;
    }
    if (p->backing_file && p->prealloc != Q2_PREALLOC_OFF &&
        !p->extended_l2) {
        error_setg(errp, "Backing file and preallocation can only be used "
                   "at the same time if extended_l2 is on");
        return -EINVAL;
    }
    if (p->zstd && p->version < 3) {
        error_setg(errp, "Non-zlib compression type is only supported with "
                   "%s", v3_hint);
        return -EINVAL;
    }
    if (p->encrypt) {
        /* Ours: there is no crypto library to write a LUKS header with. */
        error_setg(errp, "Encrypted qcow2 images cannot be created: this "
                   "build has no encryption support");
        return -ENOTSUP;
    }
    if (p->size > INT64_MAX - (BDRV_SECTOR_SIZE - 1)) {
        error_setg(errp, "Could not resize image: Image size cannot be "
                   "negative");
        return -EINVAL;
    }
    max_l1_entries = QCOW_MAX_L1_SIZE / L1E_SIZE;
    if (DIV_ROUND_UP(p->size, cs) >
        max_l1_entries * (cs / (p->extended_l2 ? L2E_SIZE_EXTENDED
                                               : L2E_SIZE_NORMAL))) {
        error_setg(errp, "The image size is too large for file format "
                   "'qcow2' (try using a larger cluster size)");
        return -EFBIG;
    }
    /* A raw data file gets its size through metadata preallocation. */
    if (p->data_file_raw && p->prealloc == Q2_PREALLOC_OFF) {
        p->prealloc = Q2_PREALLOC_METADATA;
    }
    return 0;
}

/* Replays 7.2's creation in memory, then writes the result. */
static int qcow2_build(BlockDriverState *file, const Qcow2CreateParams *p,
                       Error **errp)
{
    Qcow2Sim s;
    uint64_t data_start = 0, data_end = 0, file_len;
    g_autofree uint8_t *header = NULL;
    GHashTableIter it;
    gpointer key, val;
    int ret = 0;

    sim_init(&s, p);
    if (sim_alloc(&s, 3 * s.cs) != 0) {
        error_setg(errp, "First clusters of an empty image are in use");
        ret = -EIO;
        goto out;
    }
    s.l1_size = DIV_ROUND_UP(p->size, s.cs * s.l2_entries);
    s.l1 = g_new0(uint64_t, MAX(s.l1_size, 1));
    if (s.l1_size) {
        int64_t off = sim_alloc(&s, s.l1_size * L1E_SIZE);
        if (off < 0) {
            ret = off;
            error_setg(errp, "Could not resize image: Refcount table too big");
            goto out;
        }
        s.l1_offset = off;
        sim_write(&s, off, NULL, s.l1_size * L1E_SIZE);
    }
    if (p->prealloc == Q2_PREALLOC_METADATA || p->data_file) {
        if (p->prealloc != Q2_PREALLOC_OFF) {
            ret = sim_prealloc_metadata(&s, p, &data_end);
        }
    } else if (p->prealloc != Q2_PREALLOC_OFF) {
        ret = sim_prealloc_falloc(&s, p, &data_start, &data_end);
    }
    if (ret < 0) {
        error_setg(errp, "Could not resize image: Refcount table too big");
        goto out;
    }
    for (uint64_t i = 0; i < s.l1_size; i++) {
        uint8_t e[8];
        stq_be_p(e, s.l1[i]);
        if (s.l1[i]) {
            sim_write(&s, s.l1_offset + i * L1E_SIZE, e, sizeof(e));
        }
    }
    /* Final refcount blocks (each written whole) and the table. */
    g_hash_table_iter_init(&it, s.refblocks);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        g_autofree uint8_t *blk = g_malloc0(s.cs);
        const uint64_t *rc = val;
        int bits = 1 << s.refcount_order;
        for (uint64_t i = 0; i < s.rb_entries; i++) {
            if (bits >= 8) {
                for (int b = 0; b < bits / 8; b++) {
                    blk[i * (bits / 8) + b] = rc[i] >> (bits - 8 - 8 * b);
                }
            } else {
                /* narrow refcounts: the lowest bits hold the first */
                blk[i * bits / 8] |= rc[i] << (i * bits % 8);
            }
        }
        sim_write(&s, *(uint64_t *)key, blk, s.cs);
    }
    header = g_malloc(s.cs);
    ret = build_header(&s, p, header, errp);
    if (ret < 0) {
        goto out;
    }
    sim_write(&s, 0, header, s.cs);

    file_len = MAX(s.file_end, p->data_file ? 0 : data_end);
    ret = bdrv_file_truncate(file, file_len, errp);
    g_hash_table_iter_init(&it, s.clusters);
    while (ret >= 0 && g_hash_table_iter_next(&it, &key, &val)) {
        uint64_t off = *(uint64_t *)key;
        ret = bdrv_file_pwrite(file, off, MIN(s.cs, file_len - off), val,
                               errp);
    }
    if (ret >= 0 && data_end > data_start && !p->data_file &&
        (p->prealloc == Q2_PREALLOC_FALLOC ||
         p->prealloc == Q2_PREALLOC_FULL)) {
        ret = bdrv_file_allocate(file, data_start, data_end - data_start,
                                 p->prealloc == Q2_PREALLOC_FULL, errp);
    }
    if (ret >= 0) {
        ret = bdrv_file_flush(file, errp);
    }
out:
    sim_free(&s);
    return ret;
}

int qcow2_create(const char *filename, QDict *opts, Error **errp)
{
    Qcow2CreateParams p;
    BlockDriverState *file;
    bool data_created = false;
    int ret;

    if (qdict_haskey(opts, "encryption") &&
        qdict_haskey(opts, "encrypt.format")) {
        error_setg(errp, "'encrypt.format' and its alias 'encryption' can't "
                   "be used at the same time");
        return -EINVAL;
    }
    ret = bdrv_file_create(filename, errp);
    if (ret < 0) {
        return ret;
    }
    memset(&p, 0, sizeof(p));
    p.data_file = qdict_get_try_str(opts, "data_file");
    if (p.data_file) {
        const char *pa = qdict_get_try_str(opts, "preallocation");
        ret = bdrv_create_file_sized(p.data_file,
                                     opt_uint(opts, "size", 0),
                                     pa && strcmp(pa, "metadata") ? pa
                                                                  : "off",
                                     errp);
        if (ret < 0) {
            goto fail;
        }
        data_created = true;
    }
    ret = parse_params(opts, &p, errp);
    if (ret < 0) {
        goto fail;
    }
    ret = check_params(opts, &p, errp);
    if (ret < 0) {
        goto fail;
    }
    file = bdrv_open_protocol(filename, BDRV_O_RDWR, errp);
    if (!file) {
        ret = -EIO;
        goto fail;
    }
    ret = qcow2_build(file, &p, errp);
    bdrv_unref(file);
    if (ret < 0) {
        goto fail;
    }
    return 0;

fail:
    /* As 7.2: a failed creation leaves neither file behind. */
    if (data_created) {
        unlink(p.data_file);
    }
    unlink(filename);
    return ret;
}
