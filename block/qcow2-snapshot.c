/*
 * qcow2 internal snapshots: reading the snapshot table.
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

void qcow2_free_snapshots(BDRVQcow2State *s)
{
    if (!s->snapshots) {
        return;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        g_free(s->snapshots[i].id_str);
        g_free(s->snapshots[i].name);
    }
    g_clear_pointer(&s->snapshots, g_free);
}

/*
 * Reads @len bytes of the snapshot table at @pos bytes into it; bytes
 * past the end of the file read as zeros (as in 7.2).  The table may not
 * run past QEMU's 64 MiB cap, which also bounds what we allocate.
 */
static int read_table_bytes(BlockDriverState *bs, uint64_t pos, size_t len,
                            void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    if (pos + len > QCOW_MAX_SNAPSHOTS_SIZE) {
        error_setg(errp, "Snapshot table is too big");
        return -EFBIG;
    }
    return qcow2_pread_zero_padded(bs, s->snapshots_offset + pos, len, buf,
                                   errp);
}

static int read_snapshot(BlockDriverState *bs, uint64_t *pos, uint64_t *end,
                         uint32_t i, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Snapshot *sn = &s->snapshots[i];
    uint8_t h[QCOW2_SNAPSHOT_HEADER_SIZE];
    g_autofree uint8_t *var = NULL;
    uint16_t id_len, name_len;
    size_t var_len;
    int ret;

    ret = read_table_bytes(bs, *pos, sizeof(h), h, errp);
    if (ret < 0) {
        return ret;
    }
    sn->l1_table_offset = ldq_be_p(h);
    sn->l1_size = ldl_be_p(h + 8);
    id_len = lduw_be_p(h + 12);
    name_len = lduw_be_p(h + 14);
    sn->date_sec = ldl_be_p(h + 16);
    sn->date_nsec = ldl_be_p(h + 20);
    sn->vm_clock_nsec = ldq_be_p(h + 24);
    sn->vm_state_size = ldl_be_p(h + 32);
    sn->extra_data_size = ldl_be_p(h + 36);
    sn->icount = -1;
    sn->disk_size = s->size;
    if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA) {
        error_setg(errp, "Too much extra metadata in snapshot table "
                   "entry %" PRIu32, i);
        error_append_hint(errp, "You can force-remove this extra metadata "
                          "with qemu-img check -r all\n");
        return -EFBIG;
    }
    /* Extra data (<= 1 KiB), id and name (< 64 KiB each). */
    var_len = (size_t)sn->extra_data_size + id_len + name_len;
    var = g_malloc(var_len ? var_len : 1);
    ret = read_table_bytes(bs, *pos + sizeof(h), var_len, var, errp);
    if (ret < 0) {
        return ret;
    }
    if (sn->extra_data_size >= 8) {
        sn->vm_state_size = ldq_be_p(var);
    }
    if (sn->extra_data_size >= 16) {
        sn->disk_size = ldq_be_p(var + 8);
    }
    if (sn->extra_data_size >= 24) {
        sn->icount = (int64_t)ldq_be_p(var + 16);
    }
    sn->id_str = g_strndup((const char *)var + sn->extra_data_size, id_len);
    sn->name = g_strndup((const char *)var + sn->extra_data_size + id_len,
                         name_len);
    *end = *pos + sizeof(h) + var_len;
    /* Each entry starts 8-byte aligned; the last one is not padded. */
    *pos = QEMU_ALIGN_UP(*end, 8);
    return 0;
}

int qcow2_read_snapshots(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t pos = 0, end = 0;

    if (!s->nb_snapshots) {
        return 0;
    }
    /* nb_snapshots <= QCOW_MAX_SNAPSHOTS: checked with the table. */
    s->snapshots = g_new0(Qcow2Snapshot, s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        int ret = read_snapshot(bs, &pos, &end, i, errp);
        if (ret < 0) {
            qcow2_free_snapshots(s);
            return ret;
        }
    }
    s->snapshots_size = end;
    return 0;
}

int qcow2_snapshot_list(BlockDriverState *bs, SnapshotInfoList **list,
                        Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    SnapshotInfoList **tail = list;

    *list = NULL;
    for (uint32_t i = 0; s->snapshots && i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        SnapshotInfo *info = g_new0(SnapshotInfo, 1);

        info->id = g_strdup(sn->id_str);
        info->name = g_strdup(sn->name);
        info->vm_state_size = (int64_t)sn->vm_state_size;
        info->date_sec = sn->date_sec;
        info->date_nsec = sn->date_nsec;
        info->vm_clock_sec = (int64_t)(sn->vm_clock_nsec / 1000000000);
        info->vm_clock_nsec = (int64_t)(sn->vm_clock_nsec % 1000000000);
        if (sn->icount != -1) {
            info->has_icount = true;
            info->icount = sn->icount;
        }
        *tail = g_new0(SnapshotInfoList, 1);
        (*tail)->value = info;
        tail = &(*tail)->next;
    }
    return 0;
}
