/*
 * The skeleton of the qcow2 metadata map (`qemu-img check -M`): what
 * the header alone says about where metadata lives.  The check's walk
 * (qcow2-refcount.c, qcow2-bitmap.c) adds the lists of tables it
 * visits, so the image is walked once for both.
 */
#include "block/qcow2.h"

Qcow2Allocation *qcow2_allocation_new(uint64_t offset, uint64_t size)
{
    Qcow2Allocation *a = g_new(Qcow2Allocation, 1);

    a->offset = offset;
    a->size = size;
    return a;
}

void qcow2_allocation_append(Qcow2AllocationList **list, uint64_t offset,
                             uint64_t size)
{
    Qcow2Allocation *a = qapi_append_Qcow2AllocationList(list);

    a->offset = offset;
    a->size = size;
}

Qcow2L1Table *qcow2_metadata_l1_new(const char *name, uint64_t offset,
                                    uint32_t l1_size)
{
    Qcow2L1Table *l1 = g_new0(Qcow2L1Table, 1);

    l1->name = g_strdup(name);
    l1->location = qcow2_allocation_new(offset, (uint64_t)l1_size * L1E_SIZE);
    return l1;
}

/* Names for the extension types this program knows, as JSON-ish words. */
static const char *ext_name(uint32_t magic)
{
    switch (magic) {
    case QCOW2_EXT_MAGIC_BACKING_FORMAT:
        return "backing-format";
    case QCOW2_EXT_MAGIC_FEATURE_TABLE:
        return "feature-name-table";
    case QCOW2_EXT_MAGIC_BITMAPS:
        return "bitmaps";
    case QCOW2_EXT_MAGIC_CRYPTO_HEADER:
        return "crypto-header";
    case QCOW2_EXT_MAGIC_DATA_FILE:
        return "data-file";
    default:
        return NULL;
    }
}

static Qcow2HeaderMetadata *header_new(const BDRVQcow2State *s)
{
    Qcow2HeaderMetadata *h = g_new0(Qcow2HeaderMetadata, 1);
    Qcow2HeaderExtensionList **tail = &h->header_extensions;

    h->location = qcow2_allocation_new(0, s->cluster_size);
    h->version = s->version;
    for (size_t i = 0; i < s->nb_ext_locations; i++) {
        const Qcow2ExtLocation *l = &s->ext_locations[i];
        Qcow2HeaderExtension *ext = g_new0(Qcow2HeaderExtension, 1);
        const char *name = ext_name(l->magic);

        ext->magic = l->magic;
        ext->has_name = name != NULL;
        ext->name = g_strdup(name);
        ext->location = qcow2_allocation_new(l->offset, l->len);
        QAPI_LIST_APPEND(tail, ext);
    }
    h->has_header_extensions = h->header_extensions != NULL;
    return h;
}

Qcow2Metadata *qcow2_metadata_new(const BDRVQcow2State *s)
{
    Qcow2Metadata *m = g_new0(Qcow2Metadata, 1);

    m->qcow2_header = header_new(s);
    m->refcount_table = g_new0(Qcow2RefcountTableMetadata, 1);
    m->refcount_table->location = qcow2_allocation_new(
        s->refcount_table_offset,
        (uint64_t)s->refcount_table_clusters * s->cluster_size);
    m->active_l1 = qcow2_metadata_l1_new("L1 active table",
                                         s->l1_table_offset, s->l1_size);
    if (s->nb_snapshots) {
        m->has_snapshot_table = true;
        m->snapshot_table = g_new0(Qcow2SnapshotTableMetadata, 1);
        m->snapshot_table->location = qcow2_allocation_new(
            s->snapshots_offset, s->snapshots_size);
    }
    if (s->has_bitmaps_ext) {
        m->has_bitmaps = true;
        m->bitmaps = g_new0(Qcow2BitmapsMetadata, 1);
        m->bitmaps->nb_bitmaps = s->nb_bitmaps;
        m->bitmaps->bitmap_dir = g_new0(Qcow2BitmapDir, 1);
        m->bitmaps->bitmap_dir->location = qcow2_allocation_new(
            s->bitmap_directory_offset, s->bitmap_directory_size);
    }
    if (s->crypt_method == QCOW_CRYPT_LUKS) {
        m->has_crypt_header = true;
        m->crypt_header = g_new0(Qcow2CryptHeaderMetadata, 1);
        m->crypt_header->location = qcow2_allocation_new(
            s->crypto_header_offset, s->crypto_header_length);
    }
    return m;
}
