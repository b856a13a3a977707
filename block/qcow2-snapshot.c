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
 * Decodes entry @i at @buf + *@pos; @len bounds the table.  Every
 * length is checked against what is left before it is used.
 */
static int parse_snapshot(BDRVQcow2State *s, const uint8_t *buf, size_t len,
                          size_t *pos, uint32_t i, Error **errp)
{
    Qcow2Snapshot *sn = &s->snapshots[i];
    const uint8_t *h = buf + *pos;
    uint16_t id_len, name_len;
    size_t need;

    if (len - *pos < QCOW2_SNAPSHOT_HEADER_SIZE) {
        goto truncated;
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
    if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA) {
        error_setg(errp, "Too much extra metadata in snapshot table "
                   "entry %" PRIu32, i);
        error_append_hint(errp, "You can force-remove this extra metadata "
                          "with qemu-img check -r all\n");
        return -EFBIG;
    }
    need = QCOW2_SNAPSHOT_HEADER_SIZE + (size_t)sn->extra_data_size +
           id_len + name_len;
    if (len - *pos < need) {
        goto truncated;
    }
    h += QCOW2_SNAPSHOT_HEADER_SIZE;
    if (sn->extra_data_size >= 8) {
        sn->vm_state_size = ldq_be_p(h);
    }
    if (sn->extra_data_size >= 16) {
        sn->disk_size = ldq_be_p(h + 8);
    } else {
        sn->disk_size = s->size;
    }
    if (sn->extra_data_size >= 24) {
        sn->icount = (int64_t)ldq_be_p(h + 16);
    }
    h += sn->extra_data_size;
    sn->id_str = g_strndup((const char *)h, id_len);
    sn->name = g_strndup((const char *)h + id_len, name_len);
    *pos += QEMU_ALIGN_UP(need, 8);
    return 0;

truncated:
    error_setg(errp, "Snapshot table entry %" PRIu32 " extends beyond the "
               "end of the snapshot table", i);
    return -EINVAL;
}

int qcow2_read_snapshots(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree uint8_t *buf = NULL;
    size_t len, pos = 0;
    int ret;

    if (!s->nb_snapshots) {
        return 0;
    }
    /*
     * Entries have variable size; the table may not exceed QEMU's
     * 64 MiB cap, nor run past the end of the file.
     */
    len = MIN((uint64_t)QCOW_MAX_SNAPSHOTS_SIZE,
              (uint64_t)s->file_size - s->snapshots_offset);
    buf = g_malloc(len);
    ret = bdrv_file_pread(bs->file, s->snapshots_offset, len, buf, errp);
    if (ret < 0) {
        return ret;
    }
    s->snapshots = g_new0(Qcow2Snapshot, s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        ret = parse_snapshot(s, buf, len, &pos, i, errp);
        if (ret < 0) {
            if (len == QCOW_MAX_SNAPSHOTS_SIZE) {
                error_free(*errp);
                *errp = NULL;
                error_setg(errp, "Snapshot table is too big");
            }
            qcow2_free_snapshots(s);
            return ret;
        }
    }
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
