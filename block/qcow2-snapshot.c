/*
 * qcow2 internal snapshots: reading the snapshot table, and writing it
 * anew (what check -r all does with a damaged one).
 */
#include "qemu/bswap.h"
#include "block/qcow2.h"

static void free_snapshot(Qcow2Snapshot *sn)
{
    g_free(sn->id_str);
    g_free(sn->name);
    g_free(sn->unknown_extra);
}

void qcow2_free_snapshots(BDRVQcow2State *s)
{
    if (!s->snapshots) {
        return;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        free_snapshot(&s->snapshots[i]);
    }
    g_clear_pointer(&s->snapshots, g_free);
}

/*
 * Reads @len bytes at @pos bytes into the snapshot table; bytes past
 * the end of the file read as zeros (as in 7.2).  Every read is small:
 * extra data is read up to QEMU's 1 KiB limit only, the rest skipped.
 */
static int read_table_bytes(BlockDriverState *bs, uint64_t pos, size_t len,
                            void *buf, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    return qcow2_pread_zero_padded(bs, s->snapshots_offset + pos, len, buf,
                                   errp);
}

/*
 * Reads entry @i at *@pos (bytes into the table), which moves to where
 * the next entry starts; *@end is where this one ends on disk, and
 * *@table_len the table's length as QEMU counts it (with extra data
 * that is dropped not counted).  @repair (check -r all) drops extra
 * data past QEMU's limit instead of failing, counting it in *@dropped.
 * -EFBIG with "Snapshot table is too big" when the table passes QEMU's
 * caps: 64 MiB long, or an entry ending more than 2 GiB in.
 */
static int read_snapshot(BlockDriverState *bs, uint64_t *pos, uint64_t *end,
                         uint64_t *table_len, uint32_t i, bool repair,
                         int *dropped, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Snapshot *sn = &s->snapshots[i];
    uint8_t h[QCOW2_SNAPSHOT_HEADER_SIZE];
    uint8_t extra[QCOW_MAX_SNAPSHOT_EXTRA_DATA];
    g_autofree uint8_t *names = NULL;
    uint64_t on_disk_extra;
    uint16_t id_len, name_len;
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
    on_disk_extra = sn->extra_data_size;
    if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA && repair) {
        fprintf(stderr, "Discarding too much extra metadata in snapshot "
                "table entry %" PRIu32 " (%" PRIu32 " > %d)\n", i,
                sn->extra_data_size, QCOW_MAX_SNAPSHOT_EXTRA_DATA);
        (*dropped)++;
        sn->extra_data_size = QCOW_MAX_SNAPSHOT_EXTRA_DATA;
    } else if (sn->extra_data_size > QCOW_MAX_SNAPSHOT_EXTRA_DATA) {
        error_setg(errp, "Too much extra metadata in snapshot table "
                   "entry %" PRIu32, i);
        error_append_hint(errp, "You can force-remove this extra metadata "
                          "with qemu-img check -r all\n");
        return -EFBIG;
    }
    ret = read_table_bytes(bs, *pos + sizeof(h), sn->extra_data_size, extra,
                           errp);
    if (ret < 0) {
        return ret;
    }
    /* id and name follow all of the extra data, dropped part included. */
    names = g_malloc((size_t)id_len + name_len + 1);
    ret = read_table_bytes(bs, *pos + sizeof(h) + on_disk_extra,
                           (size_t)id_len + name_len, names, errp);
    if (ret < 0) {
        return ret;
    }
    if (sn->extra_data_size >= 8) {
        sn->vm_state_size = ldq_be_p(extra);
    }
    if (sn->extra_data_size >= 16) {
        sn->disk_size = ldq_be_p(extra + 8);
    }
    if (sn->extra_data_size >= 24) {
        sn->icount = (int64_t)ldq_be_p(extra + 16);
    }
    /* Extra data this program does not know is kept, to be written back. */
    if (sn->extra_data_size > QCOW2_SNAPSHOT_EXTRA_KNOWN) {
        sn->unknown_extra_size = sn->extra_data_size -
                                 QCOW2_SNAPSHOT_EXTRA_KNOWN;
        sn->unknown_extra = g_memdup2(extra + QCOW2_SNAPSHOT_EXTRA_KNOWN,
                                      sn->unknown_extra_size);
    }
    sn->id_str = g_strndup((const char *)names, id_len);
    sn->name = g_strndup((const char *)names + id_len, name_len);
    *end = *pos + sizeof(h) + on_disk_extra + id_len + name_len;
    *table_len = QEMU_ALIGN_UP(*table_len, 8) + sizeof(h) +
                 sn->extra_data_size + id_len + name_len;
    /* Each entry starts 8-byte aligned; the last one is not padded. */
    *pos = QEMU_ALIGN_UP(*end, 8);
    if (*table_len > QCOW_MAX_SNAPSHOTS_SIZE || *end > INT_MAX) {
        error_setg(errp, "Snapshot table is too big");
        error_append_hint(errp, "You can force-remove all %" PRIu32
                          " overhanging snapshots with qemu-img check -r "
                          "all\n", s->nb_snapshots - i);
        return -EFBIG;
    }
    return 0;
}

int qcow2_read_snapshots(BlockDriverState *bs, Error **errp)
{
    return qcow2_read_snapshots_repair(bs, false, NULL, NULL, errp);
}

int qcow2_read_snapshots_repair(BlockDriverState *bs, bool repair,
                                int *dropped, uint32_t *discarded,
                                Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t pos = 0, end = 0, table_len = 0;

    if (!s->nb_snapshots) {
        return 0;
    }
    /* nb_snapshots <= QCOW_MAX_SNAPSHOTS: checked with the table. */
    s->snapshots = g_new0(Qcow2Snapshot, s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        Error *local_err = NULL;
        uint64_t end_before = end;
        int ret = read_snapshot(bs, &pos, &end, &table_len, i, repair,
                                dropped, &local_err);

        /* In repair mode EFBIG can only mean a table past the caps. */
        if (ret == -EFBIG && repair) {
            /* check -r all: the entries past QEMU's cap are dropped. */
            error_free(local_err);
            free_snapshot(&s->snapshots[i]);
            *discarded = s->nb_snapshots - i;
            end = end_before;   /* the table ends with the entry before */
            fprintf(stderr, "Discarding %" PRIu32 " overhanging snapshots "
                    "(snapshot table is too big)\n", *discarded);
            s->nb_snapshots = i;
            break;
        }
        if (ret < 0) {
            error_propagate(errp, local_err);
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

/*
 * The snapshot table as it is written: every entry with the extra data
 * this program knows in full (so an incomplete v3 entry is completed),
 * then the extra data it does not know, then id and name; entries start
 * 8-byte aligned.  Returns the table, its length in *@len.
 */
uint8_t *qcow2_snapshot_table_serialize(const BDRVQcow2State *s,
                                        uint64_t *len)
{
    g_autoptr(GByteArray) t = g_byte_array_new();

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const Qcow2Snapshot *sn = &s->snapshots[i];
        uint32_t extra = QCOW2_SNAPSHOT_EXTRA_KNOWN + sn->unknown_extra_size;
        size_t id_len = strlen(sn->id_str), name_len = strlen(sn->name);
        uint8_t h[QCOW2_SNAPSHOT_HEADER_SIZE + QCOW2_SNAPSHOT_EXTRA_KNOWN];
        static const uint8_t pad[8];

        g_byte_array_append(t, pad, QEMU_ALIGN_UP(t->len, 8) - t->len);
        stq_be_p(h, sn->l1_table_offset);
        stl_be_p(h + 8, sn->l1_size);
        stw_be_p(h + 12, id_len);
        stw_be_p(h + 14, name_len);
        stl_be_p(h + 16, sn->date_sec);
        stl_be_p(h + 20, sn->date_nsec);
        stq_be_p(h + 24, sn->vm_clock_nsec);
        /* The 32-bit field only when the size fits it. */
        stl_be_p(h + 32, sn->vm_state_size <= UINT32_MAX
                         ? (uint32_t)sn->vm_state_size : 0);
        stl_be_p(h + 36, extra);
        stq_be_p(h + 40, sn->vm_state_size);
        stq_be_p(h + 48, sn->disk_size);
        stq_be_p(h + 56, (uint64_t)sn->icount);
        g_byte_array_append(t, h, sizeof(h));
        if (sn->unknown_extra_size) {
            g_byte_array_append(t, sn->unknown_extra, sn->unknown_extra_size);
        }
        g_byte_array_append(t, (const uint8_t *)sn->id_str, id_len);
        g_byte_array_append(t, (const uint8_t *)sn->name, name_len);
    }
    *len = t->len;
    return g_byte_array_free(g_steal_pointer(&t), FALSE);
}

int qcow2_snapshot_create(BlockDriverState *bs, const char *name,
                          Error **errp)
{
    error_setg(errp, "Creating snapshots is not implemented yet");
    return -ENOTSUP;
}

int qcow2_snapshot_goto(BlockDriverState *bs, const char *name,
                        Error **errp)
{
    error_setg(errp, "Applying snapshots is not implemented yet");
    return -ENOTSUP;
}

int qcow2_snapshot_delete(BlockDriverState *bs, const char *name,
                          Error **errp)
{
    error_setg(errp, "Deleting snapshots is not implemented yet");
    return -ENOTSUP;
}
