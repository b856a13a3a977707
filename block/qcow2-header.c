/*
 * qcow2 header and header-extension decoding.  Pure functions over the
 * bytes of the first cluster: no I/O, so they are unit-tested and
 * fuzzed from byte arrays.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

void qcow2_free_header(BDRVQcow2State *s)
{
    g_clear_pointer(&s->image_backing_format, g_free);
    g_clear_pointer(&s->features, g_free);
    s->nb_features = 0;
    g_clear_pointer(&s->image_data_file, g_free);
    for (size_t i = 0; i < s->nb_unknown_exts; i++) {
        g_free(s->unknown_exts[i].data);
    }
    g_clear_pointer(&s->unknown_exts, g_free);
    s->nb_unknown_exts = 0;
    g_clear_pointer(&s->ext_locations, g_free);
    s->nb_ext_locations = 0;
}

static void parse_v3_fields(BDRVQcow2State *s, const uint8_t *buf)
{
    s->incompatible_features = ldq_be_p(buf + 72);
    s->compatible_features = ldq_be_p(buf + 80);
    s->autoclear_features = ldq_be_p(buf + 88);
    s->refcount_order = ldl_be_p(buf + 96);
    s->header_length = ldl_be_p(buf + 100);
}

/*
 * @buf holds the first min(cluster, file) bytes of the image, zero-
 * padded to at least QCOW2_HEADER_READ_SIZE (reads past EOF give
 * zeros, as QEMU's do).  Checks run in QEMU 7.2's order so that a
 * damaged header gets the same first message.
 */
int qcow2_parse_header(BDRVQcow2State *s, const uint8_t *buf, size_t len,
                       int64_t file_size, Error **errp)
{
    g_assert(len >= QCOW2_HEADER_READ_SIZE);

    if (ldl_be_p(buf) != QCOW_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return -EINVAL;
    }
    s->version = ldl_be_p(buf + 4);
    if (s->version < 2 || s->version > 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32, s->version);
        return -ENOTSUP;
    }
    s->backing_file_offset = ldq_be_p(buf + 8);
    s->backing_file_size = ldl_be_p(buf + 16);
    s->cluster_bits = ldl_be_p(buf + 20);
    s->size = ldq_be_p(buf + 24);
    s->crypt_method = ldl_be_p(buf + 32);
    s->l1_size = ldl_be_p(buf + 36);
    s->l1_table_offset = ldq_be_p(buf + 40);
    s->refcount_table_offset = ldq_be_p(buf + 48);
    s->refcount_table_clusters = ldl_be_p(buf + 56);
    s->nb_snapshots = ldl_be_p(buf + 60);
    s->snapshots_offset = ldq_be_p(buf + 64);
    s->file_size = file_size;

    if (s->cluster_bits < MIN_CLUSTER_BITS ||
        s->cluster_bits > MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32,
                   s->cluster_bits);
        return -EINVAL;
    }
    s->cluster_size = 1ull << s->cluster_bits;

    if (s->version == 2) {
        /* Version 2 has no such fields: their implied values. */
        s->incompatible_features = 0;
        s->compatible_features = 0;
        s->autoclear_features = 0;
        s->refcount_order = 4;
        s->header_length = QCOW2_V2_HEADER_SIZE;
    } else {
        parse_v3_fields(s, buf);
        if (s->header_length < QCOW2_V3_MIN_HEADER_SIZE) {
            error_setg(errp, "qcow2 header too short");
            return -EINVAL;
        }
    }
    if (s->header_length > s->cluster_size) {
        error_setg(errp, "qcow2 header exceeds cluster size");
        return -EINVAL;
    }
    s->compression_type = QCOW2_COMPRESSION_TYPE_ZLIB_ID;
    if (s->header_length > QCOW2_COMPRESSION_TYPE_OFFSET) {
        s->compression_type = buf[QCOW2_COMPRESSION_TYPE_OFFSET];
    }
    if (s->backing_file_offset > s->cluster_size) {
        error_setg(errp, "Invalid backing file offset");
        return -EINVAL;
    }
    return 0;
}

static int parse_feature_table(BDRVQcow2State *s, const uint8_t *data,
                               uint32_t len)
{
    size_t n = len / QCOW2_FEAT_ENTRY_SIZE;

    g_free(s->features);
    s->features = g_new0(Qcow2Feature, n ? n : 1);
    s->nb_features = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = data + i * QCOW2_FEAT_ENTRY_SIZE;
        s->features[i].type = e[0];
        s->features[i].bit = e[1];
        memcpy(s->features[i].name, e + 2, QCOW2_FEAT_NAME_SIZE);
        s->features[i].name[QCOW2_FEAT_NAME_SIZE] = '\0';
    }
    return 0;
}

static int parse_crypto_ext(BDRVQcow2State *s, const uint8_t *data,
                            uint32_t len, Error **errp)
{
    if (s->crypt_method != QCOW_CRYPT_LUKS) {
        error_setg(errp, "CRYPTO header extension only expected with LUKS "
                   "encryption method");
        return -EINVAL;
    }
    if (len != QCOW2_CRYPTO_EXT_SIZE) {
        error_setg(errp, "CRYPTO header extension size %" PRIu32 ", but "
                   "expected size %d", len, QCOW2_CRYPTO_EXT_SIZE);
        return -EINVAL;
    }
    s->crypto_header_offset = ldq_be_p(data);
    s->crypto_header_length = ldq_be_p(data + 8);
    if (s->crypto_header_offset & (s->cluster_size - 1)) {
        error_setg(errp, "Encryption header offset '%" PRIu64 "' is not a "
                   "multiple of cluster size '%" PRIu64 "'",
                   s->crypto_header_offset, s->cluster_size);
        return -EINVAL;
    }
    return 0;
}

/*
 * 7.2 follows the warning with this line, without a newline; kept
 * byte for byte because scripts compare stderr.
 */
static void qcow2_report_stale_bitmaps(void)
{
    error_printf("Some clusters may be leaked, run 'qemu-img check -r' on "
                 "the image file to fix.");
}

static int parse_bitmaps_ext(BDRVQcow2State *s, const uint8_t *data,
                             uint32_t len, Error **errp)
{
    if (len != QCOW2_BITMAPS_EXT_SIZE) {
        error_setg(errp, "bitmaps_ext: Invalid extension length");
        return -EINVAL;
    }
    if (s->version < 3) {
        warn_report("This qcow2 v2 image contains bitmaps, but they may "
                    "have been modified by a program without persistent "
                    "bitmap support; so now they must all be considered "
                    "inconsistent");
        qcow2_report_stale_bitmaps();
        return 0;
    }
    if (!(s->autoclear_features & QCOW2_AUTOCLEAR_BITMAPS)) {
        /* Written by a program that does not know bitmaps: stale. */
        warn_report("a program lacking bitmap support modified this file, "
                    "so all bitmaps are now considered inconsistent");
        qcow2_report_stale_bitmaps();
        return 0;
    }
    if (ldl_be_p(data + 4) != 0) {
        error_setg(errp, "bitmaps_ext: Reserved field is not zero");
        return -EINVAL;
    }
    s->nb_bitmaps = ldl_be_p(data);
    s->bitmap_directory_size = ldq_be_p(data + 8);
    s->bitmap_directory_offset = ldq_be_p(data + 16);
    if (s->nb_bitmaps > QCOW2_MAX_BITMAPS) {
        error_setg(errp, "bitmaps_ext: Image has %" PRIu32 " bitmaps, "
                   "exceeding the QEMU supported maximum of %d",
                   s->nb_bitmaps, QCOW2_MAX_BITMAPS);
        return -EINVAL;
    }
    if (s->nb_bitmaps == 0) {
        error_setg(errp, "found bitmaps extension with zero bitmaps");
        return -EINVAL;
    }
    if (s->bitmap_directory_offset & (s->cluster_size - 1)) {
        error_setg(errp, "bitmaps_ext: invalid bitmap directory offset");
        return -EINVAL;
    }
    if (s->bitmap_directory_size > QCOW2_MAX_BITMAP_DIRECTORY_SIZE) {
        error_setg(errp, "bitmaps_ext: bitmap directory size (%" PRIu64
                   ") exceeds the maximum supported size (%d)",
                   s->bitmap_directory_size,
                   QCOW2_MAX_BITMAP_DIRECTORY_SIZE);
        return -EINVAL;
    }
    s->has_bitmaps_ext = true;
    return 0;
}

static void keep_unknown_ext(BDRVQcow2State *s, uint32_t magic,
                             const uint8_t *data, uint32_t len)
{
    Qcow2UnknownExt *e;

    s->unknown_exts = g_renew(Qcow2UnknownExt, s->unknown_exts,
                              s->nb_unknown_exts + 1);
    e = &s->unknown_exts[s->nb_unknown_exts++];
    e->magic = magic;
    e->len = len;
    e->data = g_memdup2(data, len);
}

static int parse_one_ext(BDRVQcow2State *s, uint32_t magic,
                         const uint8_t *data, uint32_t len, Error **errp)
{
    switch (magic) {
    case QCOW2_EXT_MAGIC_BACKING_FORMAT:
        if (len >= 16) {
            error_setg(errp, "ERROR: ext_backing_format: len=%" PRIu32
                       " too large (>=16)", len);
            return -EINVAL;
        }
        g_free(s->image_backing_format);
        s->image_backing_format = g_strndup((const char *)data, len);
        return 0;
    case QCOW2_EXT_MAGIC_FEATURE_TABLE:
        return parse_feature_table(s, data, len);
    case QCOW2_EXT_MAGIC_CRYPTO_HEADER:
        return parse_crypto_ext(s, data, len, errp);
    case QCOW2_EXT_MAGIC_BITMAPS:
        return parse_bitmaps_ext(s, data, len, errp);
    case QCOW2_EXT_MAGIC_DATA_FILE:
        g_free(s->image_data_file);
        s->image_data_file = g_strndup((const char *)data, len);
        return 0;
    default:
        keep_unknown_ext(s, magic, data, len);
        return 0;
    }
}

/*
 * Extensions run from @start (the header length) to @end (the backing
 * file name or the end of the first cluster); @buf holds bytes
 * [0, len).  Each is {be32 type, be32 length, data padded to 8}.
 */
int qcow2_parse_extensions(BDRVQcow2State *s, const uint8_t *buf,
                           size_t len, uint64_t start, uint64_t end,
                           Error **errp)
{
    uint64_t offset = start;

    g_assert(end <= len);
    while (offset < end) {
        uint32_t magic, ext_len;
        int ret;

        if (end - offset < QCOW2_EXT_HEADER_SIZE) {
            /* Not even the type and length fit before @end. */
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }
        magic = ldl_be_p(buf + offset);
        ext_len = ldl_be_p(buf + offset + 4);
        offset += QCOW2_EXT_HEADER_SIZE;
        if (ext_len > end - offset) {
            error_setg(errp, "Header extension too large");
            return -EINVAL;
        }
        if (magic == QCOW2_EXT_MAGIC_END) {
            return 0;
        }
        /* Bounded: every extension takes at least 8 bytes of @buf. */
        s->ext_locations = g_renew(Qcow2ExtLocation, s->ext_locations,
                                   s->nb_ext_locations + 1);
        s->ext_locations[s->nb_ext_locations++] = (Qcow2ExtLocation) {
            .magic = magic, .len = ext_len, .offset = offset,
        };
        ret = parse_one_ext(s, magic, buf + offset, ext_len, errp);
        if (ret < 0) {
            return ret;
        }
        offset += QEMU_ALIGN_UP((uint64_t)ext_len, 8);
    }
    return 0;
}

char *qcow2_unknown_features_str(const BDRVQcow2State *s, uint64_t mask)
{
    GString *str = g_string_new(NULL);

    for (size_t i = 0; i < s->nb_features; i++) {
        const Qcow2Feature *f = &s->features[i];
        if (f->type == QCOW2_FEAT_TYPE_INCOMPATIBLE && f->bit < 64 &&
            (mask & (1ull << f->bit))) {
            g_string_append_printf(str, "%s%s", str->len ? ", " : "",
                                   f->name);
            mask &= ~(1ull << f->bit);
        }
    }
    /* Bits without a name are reported together, as one mask. */
    if (mask) {
        g_string_append_printf(str, "%sUnknown incompatible feature: %"
                               PRIx64, str->len ? ", " : "", mask);
    }
    return g_string_free(str, FALSE);
}

/*
 * A tolerant pass that only looks for the feature name table, so that
 * unknown incompatible features can be named even when another
 * extension is damaged (7.2 names them in that case too).
 */
void qcow2_scan_feature_table(BDRVQcow2State *s, const uint8_t *buf,
                              uint64_t start, uint64_t end)
{
    uint64_t offset = start;

    while (offset < end && end - offset >= QCOW2_EXT_HEADER_SIZE) {
        uint32_t magic = ldl_be_p(buf + offset);
        uint32_t len = ldl_be_p(buf + offset + 4);

        offset += QCOW2_EXT_HEADER_SIZE;
        if (magic == QCOW2_EXT_MAGIC_END || len > end - offset) {
            return;
        }
        if (magic == QCOW2_EXT_MAGIC_FEATURE_TABLE) {
            /* a later table replaces an earlier one, as in 7.2 */
            parse_feature_table(s, buf + offset, len);
        }
        offset += QEMU_ALIGN_UP((uint64_t)len, 8);
    }
}
