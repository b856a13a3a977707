/*
 * qcow2 header and extension decoding, field by field, from byte
 * arrays (no file involved).
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

#define CLUSTER 65536

/* A valid version 3 header with every field distinct. */
static uint8_t *make_v3(void)
{
    uint8_t *b = g_malloc0(CLUSTER);

    stl_be_p(b, QCOW_MAGIC);
    stl_be_p(b + 4, 3);
    stq_be_p(b + 8, 0);                 /* backing_file_offset */
    stl_be_p(b + 16, 0);                /* backing_file_size */
    stl_be_p(b + 20, 16);               /* cluster_bits */
    stq_be_p(b + 24, 10 << 20);         /* size */
    stl_be_p(b + 32, 0);                /* crypt_method */
    stl_be_p(b + 36, 1);                /* l1_size */
    stq_be_p(b + 40, 0x30000);          /* l1_table_offset */
    stq_be_p(b + 48, 0x10000);          /* refcount_table_offset */
    stl_be_p(b + 56, 1);                /* refcount_table_clusters */
    stl_be_p(b + 60, 2);                /* nb_snapshots */
    stq_be_p(b + 64, 0x50000);          /* snapshots_offset */
    stq_be_p(b + 72, QCOW2_INCOMPAT_EXTL2);
    stq_be_p(b + 80, QCOW2_COMPAT_LAZY_REFCOUNTS);
    stq_be_p(b + 88, QCOW2_AUTOCLEAR_BITMAPS);
    stl_be_p(b + 96, 5);                /* refcount_order */
    stl_be_p(b + 100, 112);             /* header_length */
    b[104] = 0;                         /* compression_type */
    return b;
}

static int parse(BDRVQcow2State *s, const uint8_t *b, char **msg)
{
    Error *err = NULL;
    int ret;

    memset(s, 0, sizeof(*s));
    ret = qcow2_parse_header(s, b, CLUSTER, 1 << 20, &err);
    if (msg) {
        *msg = err ? g_strdup(error_get_pretty(err)) : NULL;
    }
    error_free(err);
    return ret;
}

static void test_fields_v3(void)
{
    g_autofree uint8_t *b = make_v3();
    BDRVQcow2State s;

    g_assert_cmpint(parse(&s, b, NULL), ==, 0);
    g_assert_cmpuint(s.version, ==, 3);
    g_assert_cmpuint(s.backing_file_offset, ==, 0);
    g_assert_cmpuint(s.cluster_bits, ==, 16);
    g_assert_cmpuint(s.cluster_size, ==, CLUSTER);
    g_assert_cmpuint(s.size, ==, 10 << 20);
    g_assert_cmpuint(s.crypt_method, ==, 0);
    g_assert_cmpuint(s.l1_size, ==, 1);
    g_assert_cmpuint(s.l1_table_offset, ==, 0x30000);
    g_assert_cmpuint(s.refcount_table_offset, ==, 0x10000);
    g_assert_cmpuint(s.refcount_table_clusters, ==, 1);
    g_assert_cmpuint(s.nb_snapshots, ==, 2);
    g_assert_cmpuint(s.snapshots_offset, ==, 0x50000);
    g_assert_cmpuint(s.incompatible_features, ==, QCOW2_INCOMPAT_EXTL2);
    g_assert_cmpuint(s.compatible_features, ==, QCOW2_COMPAT_LAZY_REFCOUNTS);
    g_assert_cmpuint(s.autoclear_features, ==, QCOW2_AUTOCLEAR_BITMAPS);
    g_assert_cmpuint(s.refcount_order, ==, 5);
    g_assert_cmpuint(s.header_length, ==, 112);
    g_assert_cmpuint(s.compression_type, ==, 0);
}

static void test_fields_v2_defaults(void)
{
    g_autofree uint8_t *b = make_v3();
    BDRVQcow2State s;

    stl_be_p(b + 4, 2);
    /* Bytes 72.. are not fields in version 2: they must be ignored. */
    g_assert_cmpint(parse(&s, b, NULL), ==, 0);
    g_assert_cmpuint(s.incompatible_features, ==, 0);
    g_assert_cmpuint(s.compatible_features, ==, 0);
    g_assert_cmpuint(s.autoclear_features, ==, 0);
    g_assert_cmpuint(s.refcount_order, ==, 4);
    g_assert_cmpuint(s.header_length, ==, 72);
}

static void expect_error(void (*mutate)(uint8_t *b), const char *msg)
{
    g_autofree uint8_t *b = make_v3();
    g_autofree char *got = NULL;
    BDRVQcow2State s;

    mutate(b);
    g_assert_cmpint(parse(&s, b, &got), <, 0);
    g_assert_cmpstr(got, ==, msg);
}

static void bad_magic(uint8_t *b) { b[0] ^= 1; }
static void version1(uint8_t *b) { stl_be_p(b + 4, 1); }
static void version4(uint8_t *b) { stl_be_p(b + 4, 4); }
static void cluster8(uint8_t *b) { stl_be_p(b + 20, 8); }
static void cluster22(uint8_t *b) { stl_be_p(b + 20, 22); }
static void short_hdr(uint8_t *b) { stl_be_p(b + 100, 100); }
static void long_hdr(uint8_t *b) { stl_be_p(b + 100, CLUSTER + 8); }
static void backing_off(uint8_t *b) { stq_be_p(b + 8, CLUSTER + 1); }

static void test_errors(void)
{
    expect_error(bad_magic, "Image is not in qcow2 format");
    expect_error(version1, "Unsupported qcow2 version 1");
    expect_error(version4, "Unsupported qcow2 version 4");
    expect_error(cluster8, "Unsupported cluster size: 2^8");
    expect_error(cluster22, "Unsupported cluster size: 2^22");
    expect_error(short_hdr, "qcow2 header too short");
    expect_error(long_hdr, "qcow2 header exceeds cluster size");
    expect_error(backing_off, "Invalid backing file offset");
}

static size_t put_ext(uint8_t *b, size_t off, uint32_t magic,
                      const void *data, uint32_t len)
{
    stl_be_p(b + off, magic);
    stl_be_p(b + off + 4, len);
    memcpy(b + off + 8, data, len);
    return off + 8 + QEMU_ALIGN_UP(len, 8);
}

static void test_extensions(void)
{
    g_autofree uint8_t *b = make_v3();
    uint8_t feat[QCOW2_FEAT_ENTRY_SIZE] = { 0, 63 };
    uint8_t bitmaps[QCOW2_BITMAPS_EXT_SIZE] = { 0 };
    uint8_t unknown[3] = { 1, 2, 3 };
    BDRVQcow2State s;
    Error *err = NULL;
    g_autofree char *names = NULL;
    size_t off = 112;

    memcpy(feat + 2, "future bit", 10);
    stl_be_p(bitmaps, 2);
    stq_be_p(bitmaps + 8, 64);
    stq_be_p(bitmaps + 16, 0x70000);
    off = put_ext(b, off, QCOW2_EXT_MAGIC_BACKING_FORMAT, "qcow2", 5);
    off = put_ext(b, off, QCOW2_EXT_MAGIC_FEATURE_TABLE, feat, sizeof(feat));
    off = put_ext(b, off, QCOW2_EXT_MAGIC_BITMAPS, bitmaps, sizeof(bitmaps));
    off = put_ext(b, off, QCOW2_EXT_MAGIC_DATA_FILE, "data.raw", 8);
    off = put_ext(b, off, 0x12345678, unknown, sizeof(unknown));
    stl_be_p(b + off, QCOW2_EXT_MAGIC_END);

    g_assert_cmpint(parse(&s, b, NULL), ==, 0);
    g_assert_cmpint(qcow2_parse_extensions(&s, b, CLUSTER, 112, CLUSTER,
                                           &err), ==, 0);
    g_assert_null(err);
    g_assert_cmpstr(s.image_backing_format, ==, "qcow2");
    g_assert_cmpstr(s.image_data_file, ==, "data.raw");
    g_assert_cmpuint(s.nb_features, ==, 1);
    g_assert_true(s.has_bitmaps_ext);
    g_assert_cmpuint(s.nb_bitmaps, ==, 2);
    g_assert_cmpuint(s.bitmap_directory_size, ==, 64);
    g_assert_cmpuint(s.bitmap_directory_offset, ==, 0x70000);
    g_assert_cmpuint(s.nb_unknown_exts, ==, 1);
    g_assert_cmpuint(s.unknown_exts[0].magic, ==, 0x12345678);
    g_assert_cmpuint(s.unknown_exts[0].len, ==, 3);
    g_assert_cmpmem(s.unknown_exts[0].data, 3, unknown, 3);

    names = qcow2_unknown_features_str(&s, (1ull << 63) | (1ull << 5));
    g_assert_cmpstr(names, ==,
                    "future bit, Unknown incompatible feature: 20");
    qcow2_free_header(&s);
}

static void test_extension_overflow(void)
{
    g_autofree uint8_t *b = make_v3();
    BDRVQcow2State s;
    Error *err = NULL;

    stl_be_p(b + 112, QCOW2_EXT_MAGIC_BACKING_FORMAT);
    stl_be_p(b + 116, 0xfffffff0u);     /* runs past the cluster */
    g_assert_cmpint(parse(&s, b, NULL), ==, 0);
    g_assert_cmpint(qcow2_parse_extensions(&s, b, CLUSTER, 112, CLUSTER,
                                           &err), <, 0);
    g_assert_cmpstr(error_get_pretty(err), ==, "Header extension too large");
    error_free(err);
    qcow2_free_header(&s);
}

static void test_range_valid(void)
{
    g_assert_true(qcow2_range_valid(0, 0, 512));
    g_assert_true(qcow2_range_valid(65536, 65536, 65536));
    g_assert_false(qcow2_range_valid(512, 8, 65536));
    g_assert_false(qcow2_range_valid(1ull << 63, 0, 0));
    g_assert_false(qcow2_range_valid(INT64_MAX - 7, 16, 0));
    g_assert_true(qcow2_range_valid(INT64_MAX - 16, 16, 0));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qcow2/header/v3-fields", test_fields_v3);
    g_test_add_func("/qcow2/header/v2-defaults", test_fields_v2_defaults);
    g_test_add_func("/qcow2/header/errors", test_errors);
    g_test_add_func("/qcow2/header/extensions", test_extensions);
    g_test_add_func("/qcow2/header/extension-overflow",
                    test_extension_overflow);
    g_test_add_func("/qcow2/range-valid", test_range_valid);
    return g_test_run();
}
