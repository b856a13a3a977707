/*
 * The emitters (qapi/emitter.h and the generated qapi-emit.c) against
 * the QObject printers they stand in for.  For every value, the JSON
 * emitter must print exactly qobject_to_json_pretty(qapi_out_T(v)), and
 * the human emitter exactly what qemu-img's generic human printer
 * prints from qapi_out_T(v).  The two sides share no ordering code: the
 * emitters' member order is computed by the generator
 * (scripts/qapi/qdict_order.py), the trees' by qobject/qdict.c.
 */
#include "block/block.h"
#include "qapi-visit.h"
#include "qapi-emit.h"

/* ---- the reference human printer, over QObject trees ---- */

/*
 * qemu-img's generic printer of format-specific information, as
 * block/qapi.c had it before the human emitter replaced it: "key:
 * value", '-' in keys printed as ' ', objects and lists nested four
 * spaces deeper on the following lines, list items labelled "[i]".
 */
static void ref_dump(GString *out, int indent, const QObject *obj);

static void ref_dump_scalar(GString *out, const QObject *obj)
{
    const QNum *qn;

    switch (qobject_type(obj)) {
    case QTYPE_QSTRING:
        g_string_append(out, qstring_get_str((const QString *)obj));
        break;
    case QTYPE_QBOOL:
        g_string_append(out, qbool_get_bool((const QBool *)obj) ? "true"
                                                                : "false");
        break;
    case QTYPE_QNUM:
        qn = (const QNum *)obj;
        if (qn->kind == QNUM_U64) {
            g_string_append_printf(out, "%" PRIu64, qn->u.u64);
        } else if (qn->kind == QNUM_I64) {
            g_string_append_printf(out, "%" PRId64, qn->u.i64);
        } else {
            g_string_append_printf(out, "%f", qn->u.dbl);
        }
        break;
    case QTYPE_QNULL:
        g_string_append(out, "null");
        break;
    default:
        g_assert_not_reached();
    }
}

static void ref_dump_member(GString *out, int indent, const char *label,
                            const QObject *value)
{
    g_string_append_printf(out, "%*s%s:", indent * 4, "", label);
    if (qobject_type(value) == QTYPE_QDICT ||
        qobject_type(value) == QTYPE_QLIST) {
        g_string_append_c(out, '\n');
        ref_dump(out, indent + 1, value);
    } else {
        g_string_append_c(out, ' ');
        ref_dump_scalar(out, value);
        g_string_append_c(out, '\n');
    }
}

static void ref_dump(GString *out, int indent, const QObject *obj)
{
    if (qobject_type(obj) == QTYPE_QDICT) {
        const QDict *dict = (const QDict *)obj;

        for (const QDictEntry *e = qdict_first(dict); e;
             e = qdict_next(dict, e)) {
            g_autofree char *label = g_strdup(qdict_entry_key(e));

            g_strdelimit(label, "-", ' ');
            ref_dump_member(out, indent, label, qdict_entry_value(e));
        }
    } else if (qobject_type(obj) == QTYPE_QLIST) {
        int i = 0;

        for (const QListEntry *e = qlist_first((const QList *)obj); e;
             e = qlist_next(e)) {
            g_autofree char *label = g_strdup_printf("[%d]", i++);

            ref_dump_member(out, indent, label, qlist_entry_obj(e));
        }
    } else {
        ref_dump_scalar(out, obj);
        g_string_append_c(out, '\n');
    }
}

/* ---- printing every way, and comparing ---- */

typedef struct EmitMode {
    const char *name;
    bool human;
    int indent;
    bool file;
} EmitMode;

static const EmitMode modes[] = {
    { "json/gstring", false, 0, false },
    { "json/file", false, 0, true },
    { "human 0/gstring", true, 0, false },
    { "human 0/file", true, 0, true },
    { "human 2/gstring", true, 2, false },
    { "human 1/file", true, 1, true },
};

/* Where one emitter's text goes. */
typedef struct Output {
    const EmitMode *mode;
    GString *str;
    FILE *file;
    char *mem;                  /* open_memstream's buffer */
    size_t len;
} Output;

static QapiEmitter *output_open(Output *o, const EmitMode *mode)
{
    *o = (Output) { .mode = mode };
    if (!mode->file) {
        o->str = g_string_new("");
        return mode->human ? qapi_human_emitter_new_gstring(o->str,
                                                            mode->indent)
                           : qapi_json_emitter_new_gstring(o->str);
    }
    o->file = open_memstream(&o->mem, &o->len);
    g_assert_nonnull(o->file);
    return mode->human ? qapi_human_emitter_new(o->file, mode->indent)
                       : qapi_json_emitter_new(o->file);
}

/* Frees @e and returns the text it printed. */
static char *output_close(Output *o, QapiEmitter *e)
{
    char *text;

    if (!o->str) {
        /*
         * The outermost value is complete, so the text must be in the
         * stream already: callers may write to it between values.
         */
        size_t before;

        g_assert_cmpint(fflush(o->file), ==, 0);
        before = o->len;
        qapi_emitter_free(e);
        g_assert_cmpint(fflush(o->file), ==, 0);
        g_assert_cmpuint(o->len, ==, before);
        g_assert_cmpint(fclose(o->file), ==, 0);
        return o->mem;
    }
    qapi_emitter_free(e);
    text = g_string_free(o->str, FALSE);
    return text;
}

/* What the QObject printers print from @tree in @mode. */
static char *reference_text(const QObject *tree, const EmitMode *mode)
{
    GString *out;

    if (!mode->human) {
        return g_string_free(qobject_to_json_pretty(tree, true), FALSE);
    }
    out = g_string_new("");
    ref_dump(out, mode->indent, tree);
    return g_string_free(out, FALSE);
}

static void check_output(Output *o, QapiEmitter *e, const QObject *tree)
{
    g_autofree char *expected = reference_text(tree, o->mode);
    g_autofree char *actual = output_close(o, e);

    if (strcmp(expected, actual)) {
        g_test_message("mode %s:\nexpected:\n%s\nactual:\n%s",
                       o->mode->name, expected, actual);
    }
    g_assert_cmpstr(actual, ==, expected);
}

/*
 * Print @value of type @T every way: the QObject tree of qapi_out_T()
 * through the reference printers, and the value through the emitters.
 */
#define CHECK_EMIT(T, value) do {                                       \
        QObject *tree_ = qapi_out_##T(value);                           \
                                                                        \
        for (size_t i_ = 0; i_ < G_N_ELEMENTS(modes); i_++) {          \
            Output o_;                                                  \
            QapiEmitter *e_ = output_open(&o_, &modes[i_]);             \
                                                                        \
            qapi_emit_##T(e_, value);                                   \
            check_output(&o_, e_, tree_);                               \
        }                                                               \
        qobject_unref_impl(tree_);                                      \
    } while (0)

static void emit_qobject(QapiEmitter *e, const QObject *obj, bool one_call);

/*
 * A member: by name, then value; or with @one_call the way generated
 * code prints it, an integer with its name in one call and any other
 * value after qapi_emitter_member_len().
 */
static void emit_member(QapiEmitter *e, const char *key,
                        const QObject *value, bool one_call)
{
    const QNum *qn = qobject_type(value) == QTYPE_QNUM
                     ? (const QNum *)value : NULL;

    if (!one_call) {
        qapi_emitter_member(e, key);
    } else if (qn && qn->kind == QNUM_I64) {
        qapi_emitter_member_int(e, key, strlen(key), qn->u.i64);
        return;
    } else if (qn && qn->kind == QNUM_U64) {
        qapi_emitter_member_uint(e, key, strlen(key), qn->u.u64);
        return;
    } else {
        qapi_emitter_member_len(e, key, strlen(key));
    }
    emit_qobject(e, value, one_call);
}

/*
 * Drive @e over any QObject tree, in QDict order: this checks the
 * backends' formatting alone, on shapes the schema does not have.
 */
static void emit_qobject(QapiEmitter *e, const QObject *obj, bool one_call)
{
    const QNum *qn;

    switch (qobject_type(obj)) {
    case QTYPE_QDICT:
        qapi_emitter_start_struct(e);
        for (const QDictEntry *d = qdict_first((const QDict *)obj); d;
             d = qdict_next((const QDict *)obj, d)) {
            emit_member(e, qdict_entry_key(d), qdict_entry_value(d),
                        one_call);
        }
        qapi_emitter_end_struct(e);
        break;
    case QTYPE_QLIST:
        qapi_emitter_start_list(e);
        for (const QListEntry *l = qlist_first((const QList *)obj); l;
             l = qlist_next(l)) {
            emit_qobject(e, qlist_entry_obj(l), one_call);
        }
        qapi_emitter_end_list(e);
        break;
    case QTYPE_QSTRING:
        qapi_emitter_str(e, qstring_get_str((const QString *)obj));
        break;
    case QTYPE_QBOOL:
        qapi_emitter_bool(e, qbool_get_bool((const QBool *)obj));
        break;
    case QTYPE_QNULL:
        qapi_emitter_null(e);
        break;
    case QTYPE_QNUM:
        qn = (const QNum *)obj;
        if (qn->kind == QNUM_I64) {
            qapi_emitter_int(e, qn->u.i64);
        } else if (qn->kind == QNUM_U64) {
            qapi_emitter_uint(e, qn->u.u64);
        } else {
            qapi_emitter_double(e, qn->u.dbl);
        }
        break;
    default:
        g_assert_not_reached();
    }
}

/*
 * Compare the emitters driven over @tree, both ways of naming members,
 * with the printers; unrefs it.
 */
static void check_tree(QObject *tree)
{
    for (int one_call = 0; one_call < 2; one_call++) {
        for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
            Output o;
            QapiEmitter *e = output_open(&o, &modes[i]);

            emit_qobject(e, tree, one_call);
            check_output(&o, e, tree);
        }
    }
    qobject_unref_impl(tree);
}

/* ---- building values ---- */

/* Strings that exercise every escaping rule of QEMU's JSON writer. */
static const char *const odd_strings[] = {
    "",
    "plain",
    "quote \" backslash \\ slash /",
    "controls \b\f\n\r\t \x01\x1f\x7f end",
    "latin-1 \xc3\xa9, euro \xe2\x82\xac, emoji \xf0\x9f\x98\x80",
    "invalid \xff, cut \xe2\x82, overlong \xc0\xaf",
    "surrogate \xed\xa0\x80, beyond \xf4\x90\x80\x80, nul \xc0\x80",
    "trailing lead byte \xe2",
};

static Qcow2Allocation *alloc(uint64_t offset, uint64_t size)
{
    Qcow2Allocation *a = g_new0(Qcow2Allocation, 1);

    a->offset = offset;
    a->size = size;
    return a;
}

/* @n clusters of @size from @offset on, every other one skipped. */
static Qcow2AllocationList *alloc_list(uint64_t offset, unsigned n,
                                       uint64_t size)
{
    Qcow2AllocationList *list = NULL;

    for (unsigned i = 0; i < n; i++) {
        Qcow2Allocation *a = qapi_append_Qcow2AllocationList(&list);

        a->offset = offset + 2 * i * size;
        a->size = size;
    }
    return list;
}

static Qcow2L1Table *make_l1(const char *name, uint64_t offset,
                             unsigned n_l2)
{
    Qcow2L1Table *l1 = g_new0(Qcow2L1Table, 1);

    l1->name = g_strdup(name);
    l1->location = alloc(offset, 8 * 16);
    l1->l2_list = alloc_list(offset + 0x10000, n_l2, 0x10000);
    return l1;
}

static Qcow2HeaderExtension *make_ext(uint32_t magic, const char *name,
                                      uint64_t offset, uint64_t size)
{
    Qcow2HeaderExtension *ext = g_new0(Qcow2HeaderExtension, 1);

    ext->magic = magic;
    ext->has_name = name != NULL;
    ext->name = g_strdup(name);
    ext->location = alloc(offset, size);
    return ext;
}

static Qcow2BitmapTableEntry *make_bitmap_entry(
    Qcow2BitmapTableEntryType type, uint64_t cluster)
{
    Qcow2BitmapTableEntry *entry = g_new0(Qcow2BitmapTableEntry, 1);

    entry->type = type;
    if (cluster) {
        entry->has_cluster = true;
        entry->cluster = alloc(cluster, 0x10000);
    }
    return entry;
}

static Qcow2BitmapDirEntry *make_bitmap(const char *name, bool all_types)
{
    Qcow2BitmapDirEntry *bm = g_new0(Qcow2BitmapDirEntry, 1);
    Qcow2BitmapTableEntryList **tail;

    bm->bitmap_name = g_strdup(name);
    bm->bitmap_table = g_new0(Qcow2BitmapTable, 1);
    bm->bitmap_table->location = alloc(0x90000, all_types ? 40 : 8);
    tail = &bm->bitmap_table->table_entries;
    if (all_types) {
        QAPI_LIST_APPEND(tail, make_bitmap_entry(
            QCOW2_BITMAP_TABLE_ENTRY_TYPE_ALL_ZEROS, 0));
        QAPI_LIST_APPEND(tail, make_bitmap_entry(
            QCOW2_BITMAP_TABLE_ENTRY_TYPE_SERIALIZED, 0xa0000));
        QAPI_LIST_APPEND(tail, make_bitmap_entry(
            QCOW2_BITMAP_TABLE_ENTRY_TYPE_ALL_ONES, 0));
        QAPI_LIST_APPEND(tail, make_bitmap_entry(
            QCOW2_BITMAP_TABLE_ENTRY_TYPE_INVALID, 0));
        QAPI_LIST_APPEND(tail, make_bitmap_entry(
            QCOW2_BITMAP_TABLE_ENTRY_TYPE_INVALID, 0xb0200));
    }
    return bm;
}

/*
 * Everything -M can report, with @n_l2 L2 tables in the active L1.
 * With @full false, every optional member is absent and every list
 * empty.
 */
static Qcow2Metadata *make_viscera(bool full, unsigned n_l2)
{
    Qcow2Metadata *m = g_new0(Qcow2Metadata, 1);
    Qcow2HeaderMetadata *hdr = g_new0(Qcow2HeaderMetadata, 1);
    Qcow2RefcountTableMetadata *rt = g_new0(Qcow2RefcountTableMetadata, 1);
    Qcow2SnapshotTableMetadata *st;
    Qcow2BitmapDirEntryList **bm_tail;
    Qcow2HeaderExtensionList **ext_tail;

    hdr->location = alloc(0, 0x10000);
    hdr->version = full ? 3 : 2;
    rt->location = alloc(0x10000, 0x10000);
    m->qcow2_header = hdr;
    m->refcount_table = rt;
    m->active_l1 = make_l1("L1 active table", 0x30000, full ? n_l2 : 0);
    if (!full) {
        return m;
    }

    hdr->has_header_extensions = true;
    ext_tail = &hdr->header_extensions;
    QAPI_LIST_APPEND(ext_tail, make_ext(0xe2792aca, "backing file format",
                                        0x78, 5));
    QAPI_LIST_APPEND(ext_tail, make_ext(0x6803f857, "feature name table",
                                        0x88, 288));
    QAPI_LIST_APPEND(ext_tail, make_ext(0x23852875, "bitmaps", 0x1b0, 24));
    QAPI_LIST_APPEND(ext_tail, make_ext(0x0537be77, "encryption header",
                                        0x1d0, 16));
    QAPI_LIST_APPEND(ext_tail, make_ext(0xffffffff, NULL, 0x1e8, 0));
    rt->has_refcount_blocks = true;
    rt->refcount_blocks = alloc_list(0x20000, 3, 0x10000);

    st = g_new0(Qcow2SnapshotTableMetadata, 1);
    st->location = alloc(0x70000, 0x68);
    QAPI_LIST_PREPEND(st->l1_list, make_l1("second \"snap\"", 0x80000, 0));
    QAPI_LIST_PREPEND(st->l1_list, make_l1("first snapshot", 0x50000, 3));
    m->has_snapshot_table = true;
    m->snapshot_table = st;

    m->has_bitmaps = true;
    m->bitmaps = g_new0(Qcow2BitmapsMetadata, 1);
    m->bitmaps->nb_bitmaps = 3;
    m->bitmaps->bitmap_dir = g_new0(Qcow2BitmapDir, 1);
    m->bitmaps->bitmap_dir->location = alloc(0xc0000, 0x78);
    bm_tail = &m->bitmaps->bitmap_dir->dir_entries;
    QAPI_LIST_APPEND(bm_tail, make_bitmap("backup-inc", true));
    QAPI_LIST_APPEND(bm_tail, make_bitmap("empty table", false));
    QAPI_LIST_APPEND(bm_tail, make_bitmap("", true));

    m->has_crypt_header = true;
    m->crypt_header = g_new0(Qcow2CryptHeaderMetadata, 1);
    m->crypt_header->location = alloc(0xd0000, 0x200000);
    return m;
}

static ImageCheck *make_check(void)
{
    ImageCheck *c = g_new0(ImageCheck, 1);

    c->filename = g_strdup("disk.qcow2");
    c->format = g_strdup("qcow2");
    return c;
}

static SnapshotInfo *make_snapshot(const char *id, const char *name,
                                   bool has_icount)
{
    SnapshotInfo *sn = g_new0(SnapshotInfo, 1);

    sn->id = g_strdup(id);
    sn->name = g_strdup(name);
    sn->vm_state_size = 1 << 20;
    sn->date_sec = 1700000000;
    sn->date_nsec = 123456789;
    sn->vm_clock_sec = 3661;
    sn->vm_clock_nsec = 5000000;
    sn->has_icount = has_icount;
    sn->icount = has_icount ? 987654321 : 0;
    return sn;
}

static Qcow2BitmapInfo *make_bitmap_info(const char *name, int nflags)
{
    Qcow2BitmapInfo *bi = g_new0(Qcow2BitmapInfo, 1);

    bi->name = g_strdup(name);
    bi->granularity = 65536;
    if (nflags > 1) {
        QAPI_LIST_PREPEND(bi->flags, QCOW2_BITMAP_INFO_FLAGS_AUTO);
    }
    if (nflags > 0) {
        QAPI_LIST_PREPEND(bi->flags, QCOW2_BITMAP_INFO_FLAGS_IN_USE);
    }
    return bi;
}

static ImageInfoSpecificQCow2Encryption *make_luks(void)
{
    ImageInfoSpecificQCow2Encryption *enc =
        g_new0(ImageInfoSpecificQCow2Encryption, 1);
    QCryptoBlockInfoLUKS *luks = &enc->u.luks;
    QCryptoBlockInfoLUKSSlotList **tail = &luks->slots;

    enc->format = BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_LUKS;
    luks->cipher_alg = QCRYPTO_CIPHER_ALG_AES_256;
    luks->cipher_mode = QCRYPTO_CIPHER_MODE_XTS;
    luks->ivgen_alg = QCRYPTO_IVGEN_ALG_ESSIV;
    luks->has_ivgen_hash_alg = true;
    luks->ivgen_hash_alg = QCRYPTO_HASH_ALG_SHA256;
    luks->hash_alg = QCRYPTO_HASH_ALG_SHA1;
    luks->payload_offset = 2 << 20;
    luks->master_key_iters = 1000;
    luks->uuid = g_strdup("6fb0f9c4-1a47-4b3e-8a6d-3c2b1a0f9e8d");
    for (int i = 0; i < 8; i++) {
        QCryptoBlockInfoLUKSSlot *slot = g_new0(QCryptoBlockInfoLUKSSlot, 1);

        slot->active = i == 0;
        slot->has_iters = slot->has_stripes = slot->active;
        slot->iters = slot->active ? 2000 : 0;
        slot->stripes = slot->active ? 4000 : 0;
        slot->key_offset = 4096 + i * 258048;
        QAPI_LIST_APPEND(tail, slot);
    }
    return enc;
}

static ImageInfoSpecific *make_specific(bool full)
{
    ImageInfoSpecific *spec = g_new0(ImageInfoSpecific, 1);
    ImageInfoSpecificQCow2 *q = g_new0(ImageInfoSpecificQCow2, 1);

    spec->type = IMAGE_INFO_SPECIFIC_KIND_QCOW2;
    spec->u.qcow2.data = q;
    q->compat = g_strdup(full ? "1.1" : "0.10");
    q->refcount_bits = 16;
    q->compression_type = full ? QCOW2_COMPRESSION_TYPE_ZSTD
                               : QCOW2_COMPRESSION_TYPE_ZLIB;
    if (!full) {
        return spec;
    }
    q->has_data_file = true;
    q->data_file = g_strdup("data.raw");
    q->has_data_file_raw = true;
    q->data_file_raw = true;
    q->has_extended_l2 = true;
    q->has_lazy_refcounts = true;
    q->lazy_refcounts = true;
    q->has_corrupt = true;
    q->has_encrypt = true;
    q->encrypt = make_luks();
    q->has_bitmaps = true;
    QAPI_LIST_PREPEND(q->bitmaps, make_bitmap_info("no flags", 0));
    QAPI_LIST_PREPEND(q->bitmaps, make_bitmap_info("frozen", 1));
    QAPI_LIST_PREPEND(q->bitmaps, make_bitmap_info("backup-inc", 2));
    return spec;
}

static ImageInfo *make_info(const char *filename, bool full)
{
    ImageInfo *info = g_new0(ImageInfo, 1);

    info->filename = g_strdup(filename);
    info->format = g_strdup("qcow2");
    info->has_dirty_flag = true;
    info->has_actual_size = true;
    info->actual_size = 200704;
    info->virtual_size = INT64_C(64) << 30;
    info->has_cluster_size = true;
    info->cluster_size = 65536;
    info->has_format_specific = true;
    info->format_specific = make_specific(full);
    if (!full) {
        return info;
    }
    info->has_encrypted = true;
    info->encrypted = true;
    info->has_backing_filename = true;
    info->backing_filename = g_strdup("base.qcow2");
    info->has_full_backing_filename = true;
    info->full_backing_filename = g_strdup("/images/base.qcow2");
    info->has_backing_filename_format = true;
    info->backing_filename_format = g_strdup("qcow2");
    info->has_snapshots = true;
    QAPI_LIST_PREPEND(info->snapshots, make_snapshot("2", "second", true));
    QAPI_LIST_PREPEND(info->snapshots,
                      make_snapshot("1", "first snapshot", false));
    return info;
}

/* ---- the tests ---- */

/* check-errors alone, each optional counter alone, then all of them. */
static void test_check_counters(void)
{
    g_autoptr(ImageCheck) c = make_check();
    struct {
        bool *has;
        int64_t *value;
    } counters[] = {
        { &c->has_image_end_offset, &c->image_end_offset },
        { &c->has_corruptions, &c->corruptions },
        { &c->has_leaks, &c->leaks },
        { &c->has_corruptions_fixed, &c->corruptions_fixed },
        { &c->has_leaks_fixed, &c->leaks_fixed },
        { &c->has_total_clusters, &c->total_clusters },
        { &c->has_allocated_clusters, &c->allocated_clusters },
        { &c->has_fragmented_clusters, &c->fragmented_clusters },
        { &c->has_compressed_clusters, &c->compressed_clusters },
    };

    CHECK_EMIT(ImageCheck, c);
    c->check_errors = 2;
    for (size_t i = 0; i < G_N_ELEMENTS(counters); i++) {
        *counters[i].has = true;
        *counters[i].value = (int64_t)(i + 1) * 1000 + 7;
        CHECK_EMIT(ImageCheck, c);
        *counters[i].has = false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(counters); i++) {
        *counters[i].has = true;
        CHECK_EMIT(ImageCheck, c);
    }
    *counters[0].value = INT64_MAX;
    *counters[1].value = INT64_MIN;
    CHECK_EMIT(ImageCheck, c);
}

static void test_check_viscera(void)
{
    g_autoptr(ImageCheck) c = make_check();

    c->has_viscera = true;
    c->viscera = make_viscera(true, 7);
    CHECK_EMIT(ImageCheck, c);
    CHECK_EMIT(Qcow2Metadata, c->viscera);

    /* the same with every counter present */
    c->has_image_end_offset = c->has_corruptions = c->has_leaks = true;
    c->has_total_clusters = c->has_allocated_clusters = true;
    c->has_fragmented_clusters = c->has_compressed_clusters = true;
    c->has_corruptions_fixed = c->has_leaks_fixed = true;
    c->leaks = 3;
    CHECK_EMIT(ImageCheck, c);

    /* nothing optional, every list empty */
    qapi_free_Qcow2Metadata(c->viscera);
    c->viscera = make_viscera(false, 0);
    CHECK_EMIT(ImageCheck, c);

    /* present but empty lists inside optional parts */
    c->viscera->qcow2_header->has_header_extensions = true;
    c->viscera->refcount_table->has_refcount_blocks = true;
    c->viscera->has_snapshot_table = true;
    c->viscera->snapshot_table = g_new0(Qcow2SnapshotTableMetadata, 1);
    c->viscera->snapshot_table->location = alloc(0x70000, 0);
    c->viscera->has_bitmaps = true;
    c->viscera->bitmaps = g_new0(Qcow2BitmapsMetadata, 1);
    c->viscera->bitmaps->bitmap_dir = g_new0(Qcow2BitmapDir, 1);
    CHECK_EMIT(ImageCheck, c);

    /* NULL members print as empty objects, NULL lists as empty lists */
    c->viscera->has_crypt_header = true;
    CHECK_EMIT(ImageCheck, c);
}

static void test_check_parts(void)
{
    g_autoptr(Qcow2Metadata) m = make_viscera(true, 2);

    CHECK_EMIT(Qcow2HeaderMetadata, m->qcow2_header);
    CHECK_EMIT(Qcow2HeaderExtensionList, m->qcow2_header->header_extensions);
    CHECK_EMIT(Qcow2RefcountTableMetadata, m->refcount_table);
    CHECK_EMIT(Qcow2L1Table, m->active_l1);
    CHECK_EMIT(Qcow2L1TableList, m->snapshot_table->l1_list);
    CHECK_EMIT(Qcow2BitmapsMetadata, m->bitmaps);
    CHECK_EMIT(Qcow2BitmapDirEntryList, m->bitmaps->bitmap_dir->dir_entries);
    CHECK_EMIT(Qcow2CryptHeaderMetadata, m->crypt_header);
    CHECK_EMIT(Qcow2AllocationList, m->refcount_table->refcount_blocks);
    CHECK_EMIT(Qcow2Allocation, m->active_l1->location);
}

static void test_image_info(void)
{
    g_autoptr(ImageInfo) info = make_info("disk.qcow2", true);
    g_autoptr(ImageInfo) plain = make_info("plain.qcow2", false);
    g_autoptr(ImageInfoList) chain = NULL;

    CHECK_EMIT(ImageInfo, info);
    CHECK_EMIT(ImageInfo, plain);
    CHECK_EMIT(ImageInfoSpecific, info->format_specific);
    CHECK_EMIT(ImageInfoSpecificQCow2, info->format_specific->u.qcow2.data);
    CHECK_EMIT(SnapshotInfoList, info->snapshots);

    /* an image with its backing image inside, and the --backing-chain list */
    info->has_backing_image = true;
    info->backing_image = make_info("base.qcow2", false);
    CHECK_EMIT(ImageInfo, info);
    QAPI_LIST_PREPEND(chain, make_info("base.qcow2", true));
    QAPI_LIST_PREPEND(chain, make_info("disk.qcow2", false));
    CHECK_EMIT(ImageInfoList, chain);

    /* the union without a branch: AES encryption has only the base */
    qapi_free_ImageInfoSpecificQCow2Encryption(
        info->format_specific->u.qcow2.data->encrypt);
    info->format_specific->u.qcow2.data->encrypt =
        g_new0(ImageInfoSpecificQCow2Encryption, 1);
    info->format_specific->u.qcow2.data->encrypt->format =
        BLOCKDEV_QCOW2_ENCRYPTION_FORMAT_AES;
    CHECK_EMIT(ImageInfo, info);
}

static void test_strings(void)
{
    g_autoptr(ImageInfo) info = make_info("disk.qcow2", true);
    g_autoptr(ImageCheck) c = make_check();
    g_autoptr(Qcow2Metadata) m = make_viscera(true, 1);

    c->has_viscera = true;
    c->viscera = make_viscera(true, 1);
    for (size_t i = 0; i < G_N_ELEMENTS(odd_strings); i++) {
        const char *s = odd_strings[i];

        g_free(info->filename);
        info->filename = g_strdup(s);
        g_free(info->snapshots->value->name);
        info->snapshots->value->name = g_strdup(s);
        g_free(info->format_specific->u.qcow2.data->bitmaps->value->name);
        info->format_specific->u.qcow2.data->bitmaps->value->name =
            g_strdup(s);
        CHECK_EMIT(ImageInfo, info);

        g_free(c->format);
        c->format = g_strdup(s);
        g_free(c->viscera->active_l1->name);
        c->viscera->active_l1->name = g_strdup(s);
        g_free(c->viscera->qcow2_header->header_extensions->value->name);
        c->viscera->qcow2_header->header_extensions->value->name =
            g_strdup(s);
        CHECK_EMIT(ImageCheck, c);
    }

    /* a NULL mandatory string prints as "" */
    g_free(c->filename);
    c->filename = NULL;
    CHECK_EMIT(ImageCheck, c);
}

static void test_enums(void)
{
    g_autoptr(Qcow2BitmapInfoFlagsList) flags = NULL;
    g_autoptr(ImageInfoSpecific) spec = make_specific(true);

    for (int i = 0; i < QCRYPTO_CIPHER_ALG__MAX; i++) {
        CHECK_EMIT(QCryptoCipherAlgorithm, (QCryptoCipherAlgorithm)i);
    }
    for (int i = 0; i < QCRYPTO_HASH_ALG__MAX; i++) {
        CHECK_EMIT(QCryptoHashAlgorithm, (QCryptoHashAlgorithm)i);
    }
    for (int i = 0; i < QCOW2_BITMAP_TABLE_ENTRY_TYPE__MAX; i++) {
        CHECK_EMIT(Qcow2BitmapTableEntryType, (Qcow2BitmapTableEntryType)i);
    }
    /* out of range: "" */
    CHECK_EMIT(Qcow2CompressionType, (Qcow2CompressionType)7);
    spec->u.qcow2.data->compression_type = (Qcow2CompressionType)-1;
    CHECK_EMIT(ImageInfoSpecific, spec);
    /* a discriminator out of range: the base members only */
    spec->type = IMAGE_INFO_SPECIFIC_KIND__MAX;
    CHECK_EMIT(ImageInfoSpecific, spec);
    spec->type = IMAGE_INFO_SPECIFIC_KIND_QCOW2;    /* to free the branch */

    CHECK_EMIT(Qcow2BitmapInfoFlagsList, flags);
    QAPI_LIST_PREPEND(flags, QCOW2_BITMAP_INFO_FLAGS_AUTO);
    QAPI_LIST_PREPEND(flags, QCOW2_BITMAP_INFO_FLAGS_IN_USE);
    CHECK_EMIT(Qcow2BitmapInfoFlagsList, flags);
}

static void test_null_values(void)
{
    CHECK_EMIT(ImageCheck, NULL);
    CHECK_EMIT(ImageInfo, NULL);
    CHECK_EMIT(ImageInfoSpecific, NULL);
    CHECK_EMIT(ImageInfoSpecificQCow2Encryption, NULL);
    CHECK_EMIT(Qcow2Metadata, NULL);
    CHECK_EMIT(ImageInfoList, NULL);
    CHECK_EMIT(Qcow2AllocationList, NULL);
}

/* The backends alone, on shapes and scalars the schema does not have. */
static void test_backends(void)
{
    QDict *dict = qdict_new();
    QDict *inner = qdict_new();
    QList *list = qlist_new();
    QList *nested = qlist_new();

    check_tree(QOBJECT(qnum_from_int(-42)));
    check_tree(QOBJECT(qnum_from_uint(UINT64_MAX)));
    check_tree(QOBJECT(qnum_from_double(0.1)));
    check_tree(QOBJECT(qbool_from_bool(false)));
    check_tree(QOBJECT(qnull()));
    check_tree(QOBJECT(qstring_from_str(odd_strings[4])));
    check_tree(QOBJECT(qdict_new()));
    check_tree(QOBJECT(qlist_new()));

    qlist_append_obj(nested, QOBJECT(qlist_new()));
    qlist_append_obj(nested, QOBJECT(qdict_new()));
    qlist_append_obj(nested, QOBJECT(qnum_from_double(-0.0)));
    qlist_append_obj(list, QOBJECT(nested));
    qlist_append_obj(list, QOBJECT(qnum_from_double(1e300)));
    qlist_append_obj(list, QOBJECT(qnum_from_double(-2.5e-7)));
    qlist_append_obj(list, QOBJECT(qnull()));
    qlist_append_obj(list, QOBJECT(qbool_from_bool(true)));
    qlist_append_obj(list, QOBJECT(qnum_from_int(INT64_MIN)));
    qdict_put_obj(inner, "a-b-c", QOBJECT(qlist_new()));
    qdict_put_int(inner, "kappa", 1);
    qdict_put_int(inner, "xi", 2);          /* same bucket as "kappa" */
    qdict_put_null(inner, "nothing");
    qdict_put_obj(dict, "list-of-things", QOBJECT(list));
    qdict_put_obj(dict, "inner", QOBJECT(inner));
    qdict_put_obj(dict, "empty-dict", QOBJECT(qdict_new()));
    for (size_t i = 0; i < G_N_ELEMENTS(odd_strings); i++) {
        g_autofree char *key = g_strdup_printf("s%zu", i);

        qdict_put_str(dict, key, odd_strings[i]);
    }
    check_tree(QOBJECT(dict));
}

/*
 * Nesting deeper than the levels whose JSON indent is copied in one
 * block (the emitter's fast path), with every kind of value at every
 * level, and member names of many lengths, up to longer than a line.
 */
static void test_deep(void)
{
    QObject *tree = QOBJECT(qnum_from_int(INT64_MIN));

    for (int level = 40; level > 0; level--) {
        QDict *dict = qdict_new();
        QList *list = qlist_new();
        g_autofree char *key = g_strnfill(level * 3, 'k');

        qdict_put_int(dict, "int-member", -level);
        qdict_put_obj(dict, "uint-member", QOBJECT(qnum_from_uint(
            UINT64_MAX - level)));
        qdict_put_obj(dict, key, tree);
        qdict_put_str(dict, "s", odd_strings[level % 5]);
        qlist_append_obj(list, QOBJECT(dict));
        qlist_append_obj(list, QOBJECT(qnum_from_uint(level)));
        qlist_append_obj(list, QOBJECT(qnum_from_int(-10 * level)));
        qlist_append_obj(list, QOBJECT(qbool_from_bool(level & 1)));
        tree = QOBJECT(list);
    }
    check_tree(tree);
}

/*
 * qapi_emitter_int_struct() for @dict, whose members are all integers,
 * called with its members in the order the QDict iterates them.
 */
static void emit_int_struct(QapiEmitter *e, const QDict *dict)
{
    QapiEmitterIntMember members[16];
    QapiEmitterInt values[16];
    size_t n = 0;

    for (const QDictEntry *d = qdict_first(dict); d;
         d = qdict_next(dict, d)) {
        const QNum *qn = (const QNum *)qdict_entry_value(d);
        size_t len = strlen(qdict_entry_key(d));

        g_assert_cmpuint(n, <, G_N_ELEMENTS(members));
        g_assert_cmpuint(len, <, QAPI_EMITTER_INT_NAME_MAX);
        members[n] = (QapiEmitterIntMember) {
            .len = len, .is_signed = qn->kind == QNUM_I64,
        };
        memcpy(members[n].name, qdict_entry_key(d), len);
        if (qn->kind == QNUM_I64) {
            values[n].i = qn->u.i64;
        } else {
            values[n].u = qn->u.u64;
        }
        n++;
    }
    qapi_emitter_int_struct(e, members, values, n);
}

/*
 * Emits a list of @value, a list or struct nested @level deeper, and
 * @value again; on odd levels the list is a struct's member.  Returns
 * the QObject tree that prints the same.
 */
static QObject *emit_nested(QapiEmitter *e, const QDict *value, int level)
{
    QList *list = qlist_new();
    QObject *tree = QOBJECT(list);

    if (level & 1) {
        QDict *outer = qdict_new();

        qdict_put_obj(outer, "level", QOBJECT(list));
        tree = QOBJECT(outer);
        qapi_emitter_start_struct(e);
        qapi_emitter_member(e, "level");
    }
    qapi_emitter_start_list(e);
    emit_int_struct(e, value);
    qlist_append_obj(list, qobject_ref_impl((QObject *)value));
    if (level > 0) {
        qlist_append_obj(list, emit_nested(e, value, level - 1));
    }
    emit_int_struct(e, value);
    qlist_append_obj(list, qobject_ref_impl((QObject *)value));
    qapi_emitter_end_list(e);
    if (level & 1) {
        qapi_emitter_end_struct(e);
    }
    return tree;
}

/*
 * The one-call integer struct: alone, empty, and as list items nested
 * past the levels of the fast indent, after '[' and after ','; names of
 * one character up to the longest that fits, signed and unsigned
 * extremes.
 */
static void test_int_struct(void)
{
    g_autoptr(QDict) dict = qdict_new();
    g_autoptr(QDict) none = qdict_new();

    qdict_put_int(dict, "a", INT64_MIN);
    qdict_put_obj(dict, "unsigned", QOBJECT(qnum_from_uint(UINT64_MAX)));
    qdict_put_int(dict, "zero", 0);
    qdict_put_int(dict, "a-name-of-thirty-one-characters", 42);
    qdict_put_obj(dict, "small", QOBJECT(qnum_from_uint(7)));

    for (int empty = 0; empty < 2; empty++) {
        const QDict *value = empty ? none : dict;

        for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
            Output o;
            QapiEmitter *e = output_open(&o, &modes[i]);

            emit_int_struct(e, value);
            check_output(&o, e, QOBJECT(value));
            for (int level = 0; level < 24; level += 1 + level / 2) {
                g_autoptr(QObject) tree = NULL;

                e = output_open(&o, &modes[i]);
                tree = emit_nested(e, value, level);
                check_output(&o, e, tree);
            }
        }
    }
}

/*
 * A value far larger than the emitter's buffer reaches the FILE while
 * it is being emitted: at any time, what the emitter holds back is
 * bounded (by its 64 KiB buffer and one scalar), not the whole text.
 */
static void test_streaming(void)
{
    g_autoptr(ImageCheck) c = make_check();
    char *mem = NULL;
    size_t len = 0, mid_len;
    FILE *f;
    QapiEmitter *e;
    g_autoptr(QObject) tree = NULL;
    g_autoptr(GString) expected = NULL;

    c->has_viscera = true;
    c->viscera = make_viscera(true, 20000);
    CHECK_EMIT(ImageCheck, c);

    f = open_memstream(&mem, &len);
    g_assert_nonnull(f);
    e = qapi_json_emitter_new(f);
    qapi_emitter_start_struct(e);
    qapi_emitter_member(e, "l2-list");
    qapi_emit_Qcow2AllocationList(e, c->viscera->active_l1->l2_list);
    g_assert_cmpint(fflush(f), ==, 0);
    mid_len = len;
    qapi_emitter_end_struct(e);
    qapi_emitter_free(e);
    g_assert_cmpint(fclose(f), ==, 0);

    tree = QOBJECT(qdict_new());
    qdict_put_obj(qobject_to_qdict(tree), "l2-list",
                  qapi_out_Qcow2AllocationList(
                      c->viscera->active_l1->l2_list));
    expected = qobject_to_json_pretty(tree, true);
    g_assert_cmpstr(mem, ==, expected->str);
    g_assert_cmpuint(expected->len, >, 1000000);
    g_assert_cmpuint(expected->len - mid_len, <, 128 * 1024);
    free(mem);
}

/*
 * qemu-img info's "Format specific information" goes through the human
 * emitter now; it must print what the QObject printer printed from the
 * "data" member of the union.
 */
static void test_info_dump(void)
{
    for (int full = 0; full < 2; full++) {
        g_autoptr(ImageInfo) info = make_info("disk.qcow2", full);
        g_autoptr(GString) out = g_string_new("");
        g_autoptr(GString) expected = g_string_new(
            "Format specific information:\n");
        g_autoptr(QObject) tree = qapi_out_ImageInfoSpecific(
            info->format_specific);
        const char *tail;

        ref_dump(expected, 1,
                 qdict_get(qobject_to_qdict(tree), "data"));
        bdrv_image_info_dump(info, out);
        tail = strstr(out->str, "Format specific information:\n");
        g_assert_nonnull(tail);
        g_assert_cmpstr(tail, ==, expected->str);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi/emit/check-counters", test_check_counters);
    g_test_add_func("/qapi/emit/check-viscera", test_check_viscera);
    g_test_add_func("/qapi/emit/check-parts", test_check_parts);
    g_test_add_func("/qapi/emit/image-info", test_image_info);
    g_test_add_func("/qapi/emit/strings", test_strings);
    g_test_add_func("/qapi/emit/enums", test_enums);
    g_test_add_func("/qapi/emit/null-values", test_null_values);
    g_test_add_func("/qapi/emit/backends", test_backends);
    g_test_add_func("/qapi/emit/deep", test_deep);
    g_test_add_func("/qapi/emit/int-struct", test_int_struct);
    g_test_add_func("/qapi/emit/streaming", test_streaming);
    g_test_add_func("/qapi/emit/info-dump", test_info_dump);
    return g_test_run();
}
